/**
 * Real sidecars for the tests: `quanze serve` from the repository's .venv (or $QUANZE_BIN),
 * on a free port or a Unix socket in a temp dir, and certificates from the repository's
 * test CA (tests/integration/certs.py), so the Node tests need nothing the Python ones lack.
 */

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as readline from "node:readline";

/** The repository root (this file runs as clients/node/dist/test/sidecar.js). */
export const REPO = path.resolve(__dirname, "..", "..", "..", "..");
const VENV_BIN = path.join(REPO, ".venv", "bin");
const QUANZE = process.env.QUANZE_BIN ?? path.join(VENV_BIN, "quanze");
// Generous: a loaded 2-core machine may take many seconds to start Python and load policies.
const START_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 30_000;

export interface Sidecar {
  /** The address it listens on, as a client's target ("127.0.0.1:PORT" or "unix:/path"). */
  address: string;
  /** Stops it (SIGTERM, then SIGKILL after 30 s) and waits until it has exited. */
  stop(): Promise<void>;
}

/** A temp dir of this test process's own, removed when it exits. */
export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `quanze-node-${prefix}-`));
  process.on("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Starts `quanze serve --address ADDRESS` with one worker and the bundled policies and resolves
 * once a policy revision serves. `settings` are more `--set key=value` pairs.
 */
export function startSidecar(address: string, settings: string[] = []): Promise<Sidecar> {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith("QUANZE_")),
  );
  const args = ["serve", "--address", address, "--workers", "1"];
  for (const setting of ["server.shutdown_delay_seconds=0", ...settings]) args.push("--set", setting);
  const child = spawn(QUANZE, args, { cwd: tempDir("cwd"), env, stdio: ["ignore", "ignore", "pipe"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const lines: string[] = [];
  return new Promise((resolve, reject) => {
    let listening = "";
    const fail = (why: string): void => {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new Error(`quanze serve ${args.join(" ")}: ${why}; its stderr:\n${lines.join("\n")}`));
    };
    const timer = setTimeout(() => fail(`not serving after ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
    child.once("error", (error) => fail(`cannot run ${QUANZE} (${error.message}); run ./scripts/bootstrap`));
    const early = (code: number | null, signal: string | null): void =>
      fail(`exited early (${code ?? signal})`);
    child.once("exit", early);
    // Read stderr to the end, so a chatty sidecar never blocks on a full pipe.
    readline.createInterface({ input: child.stderr! }).on("line", (line) => {
      lines.push(line);
      const record = parse(line);
      if (record?.event === "listening") listening = String(record.address);
      if (record?.event === "policy_revision_active" && listening) {
        clearTimeout(timer);
        child.off("exit", early);
        resolve({ address: listening, stop: () => stop(child, exited) });
      }
    });
  });
}

async function stop(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

function parse(line: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

export interface Pki {
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

/** A throwaway CA, a server certificate for localhost/127.0.0.1 and a client one, as PEM files. */
export function makePki(dir: string): Pki {
  const script = `
import json, sys
from pathlib import Path
from tests.integration.certs import CertificateAuthority
ca = CertificateAuthority(Path(sys.argv[1]))
server = ca.server()
client = ca.client("app", common_name="app")
print(json.dumps({"ca": str(ca.cert), "serverCert": str(server.cert), "serverKey": str(server.key),
                  "clientCert": str(client.cert), "clientKey": str(client.key)}))
`;
  const run = spawnSync(path.join(VENV_BIN, "python"), ["-c", script, dir], {
    cwd: REPO,
    encoding: "utf8",
    timeout: 60_000,
  });
  if (run.status !== 0) {
    throw new Error(`cannot make test certificates: ${run.error?.message ?? ""}${run.stderr}`);
  }
  return JSON.parse(run.stdout) as Pki;
}
