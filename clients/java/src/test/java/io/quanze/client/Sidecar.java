package io.quanze.client;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A real {@code quanze serve} on 127.0.0.1 port 0, run from the system property {@code
 * quanze.bin} (tests/clients/test_java.py sets it to the repository's .venv/bin/quanze).
 */
final class Sidecar implements AutoCloseable {
  private static final Pattern LISTENING = Pattern.compile("\"address\": \"([^\"]+)\", \"pid\"");
  private final Process process;
  private final Path log;
  final String address;

  private Sidecar(Process process, Path log, String address) {
    this.process = process;
    this.log = log;
    this.address = address;
  }

  /** Starts a sidecar with these extra {@code --set KEY=VALUE} settings, once it serves. */
  static Sidecar start(String... settings) throws IOException, InterruptedException {
    String bin = System.getProperty("quanze.bin", "");
    if (bin.isEmpty() || !Files.isExecutable(Path.of(bin))) {
      throw new AssertionError("set -Dquanze.bin to an executable quanze (got '" + bin + "')");
    }
    Path dir = Files.createTempDirectory("quanze-java-test");
    Path log = dir.resolve("serve.log");
    // Absolute: the sidecar runs in a temp dir of its own.
    String quanze = Path.of(bin).toAbsolutePath().toString();
    List<String> command = new ArrayList<>(List.of(quanze, "serve",
        "--set", "server.address=127.0.0.1:0",
        "--set", "server.workers=1",
        "--set", "server.shutdown_delay_seconds=0"));
    for (String setting : settings) {
      command.add("--set");
      command.add(setting);
    }
    ProcessBuilder builder = new ProcessBuilder(command).directory(dir.toFile());
    builder.environment().keySet().removeIf(name -> name.startsWith("QUANZE_"));
    builder.redirectErrorStream(true).redirectOutput(log.toFile());
    Process process = builder.start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (System.nanoTime() < deadline) {
      String text = Files.readString(log, StandardCharsets.UTF_8);
      Matcher listening = LISTENING.matcher(text);
      if (text.contains("\"policy_revision_active\"") && listening.find()) {
        return new Sidecar(process, log, listening.group(1));
      }
      if (!process.isAlive()) break;
      Thread.sleep(100);
    }
    process.destroyForcibly();
    throw new AssertionError("quanze serve did not start serving:\n" + Files.readString(log));
  }

  /** Stops the sidecar and waits until it has exited. */
  @Override
  public void close() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(30, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor();
    }
  }

  String log() throws IOException {
    return Files.readString(log);
  }
}
