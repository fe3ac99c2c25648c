package io.quanze.client;

import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.File;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.logging.Level;
import java.util.logging.Logger;
import javax.net.ssl.SSLException;
import quanze.v1.DecisionServiceGrpc;
import quanze.v1.DecisionServiceGrpc.DecisionServiceBlockingStub;

/**
 * Asks a Quanze sidecar for decisions over gRPC; thread-safe, one per application.
 *
 * <p>Every call has a deadline: the client's {@code timeout} (1 s unless the builder sets
 * another) or the one a call passes. Failures throw {@link QuanzeException} subclasses; {@link
 * #checkOrDeny} turns sidecar failures into the {@code sidecar_unavailable} deny instead.
 *
 * <pre>{@code
 * try (QuanzeClient client = QuanzeClient.builder("127.0.0.1:8600").build()) {
 *   Answer answer = client.checkOrDeny(request);
 *   if (answer.allowed()) { ... }
 * }
 * }</pre>
 */
public final class QuanzeClient implements AutoCloseable {
  /** The deadline of a call that does not pass its own. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(1);

  private static final Logger LOG = Logger.getLogger("io.quanze.client");

  private final String target;
  private final Duration timeout;
  private final ManagedChannel channel;
  private final DecisionServiceBlockingStub stub;

  private QuanzeClient(String target, Duration timeout, ManagedChannel channel) {
    this.target = target;
    this.timeout = timeout;
    this.channel = channel;
    this.stub = DecisionServiceGrpc.newBlockingStub(channel);
  }

  /** A builder for a client of the sidecar at {@code target} ("host:port"). */
  public static Builder builder(String target) {
    return new Builder(target);
  }

  /** The sidecar's answer to one request. */
  public Answer check(Request request) {
    return check(request, timeout);
  }

  public Answer check(Request request, Duration timeout) {
    var message = Convert.check(request);
    return Convert.answer(call(timeout, s -> s.check(message)));
  }

  /**
   * Like {@link #check}, but a sidecar that cannot answer (unreachable, too slow, failing) yields
   * the {@code sidecar_unavailable} deny. A malformed request still throws {@link
   * QuanzeException.InvalidRequest}: that is a bug to fix, not an outage.
   */
  public Answer checkOrDeny(Request request) {
    return checkOrDeny(request, timeout);
  }

  public Answer checkOrDeny(Request request, Duration timeout) {
    try {
      return check(request, timeout);
    } catch (QuanzeException.InvalidRequest e) {
      throw e;
    } catch (QuanzeException e) {
      // Logged, since the caller sees only a deny.
      LOG.log(Level.WARNING, "quanze sidecar failed ({0}), answering deny: {1}",
          new Object[] {e.code(), e.getMessage()});
      return Answer.sidecarUnavailable();
    }
  }

  /**
   * Answers in item order; each item inherits the parts of {@code defaults} (may be null) it does
   * not set. With {@link Semantic#DENY_ON_FIRST_DENY} / {@link Semantic#PERMIT_ON_FIRST_PERMIT}
   * the list stops at the item that triggered it. An invalid item gets its own {@code error}
   * while the others are answered.
   */
  public List<BatchItem> checkBatch(List<Request> items, Request defaults, Semantic semantic) {
    return checkBatch(items, defaults, semantic, timeout);
  }

  public List<BatchItem> checkBatch(List<Request> items, Request defaults) {
    return checkBatch(items, defaults, Semantic.EXECUTE_ALL, timeout);
  }

  public List<BatchItem> checkBatch(
      List<Request> items, Request defaults, Semantic semantic, Duration timeout) {
    var message = Convert.batch(items, defaults, semantic);
    return Convert.batchItems(call(timeout, s -> s.checkBatch(message)));
  }

  /** Every action of the catalog, in catalog order, with the answer Check would give. */
  public List<ActionDecision> allowedActions(
      Subject subject, Resource resource, Map<String, ?> context) {
    return allowedActions(subject, resource, context, timeout);
  }

  public List<ActionDecision> allowedActions(
      Subject subject, Resource resource, Map<String, ?> context, Duration timeout) {
    var message = Convert.list(subject, resource, context);
    return Convert.actionDecisions(call(timeout, s -> s.listAllowedActions(message)));
  }

  /** Closes the connection; calls in flight are cancelled. Safe twice. */
  @Override
  public void close() {
    channel.shutdownNow();
    try {
      channel.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private <T> T call(Duration timeout, Function<DecisionServiceBlockingStub, T> rpc) {
    long nanos = checkTimeout(timeout).toNanos();
    try {
      return rpc.apply(stub.withDeadlineAfter(nanos, TimeUnit.NANOSECONDS));
    } catch (StatusRuntimeException e) {
      throw QuanzeException.fromStatus(e.getStatus(), target, e);
    }
  }

  private static Duration checkTimeout(Duration timeout) {
    if (timeout == null || timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("timeout must be a positive duration, got " + timeout);
    }
    return timeout;
  }

  /** Settings of a client: deadline and TLS. */
  public static final class Builder {
    private final String target;
    private Duration timeout = DEFAULT_TIMEOUT;
    private File rootCertificates;
    private File certificateChain;
    private File privateKey;
    private boolean tls;

    private Builder(String target) {
      if (target == null || target.isBlank()) {
        throw new IllegalArgumentException("target must be 'host:port', got " + target);
      }
      if (target.startsWith("unix:")) {
        // Netty reaches Unix sockets only through its native epoll library, which Debian's
        // libnetty-java does not ship (netty-transport-native-epoll.jar has no .so in it).
        throw new IllegalArgumentException(
            "target " + target + ": the Java client speaks TCP only (host:port); "
                + "Unix sockets need netty's native epoll library, which is not available");
      }
      this.target = target;
    }

    /** The deadline of every call that does not pass its own (default 1 s). */
    public Builder timeout(Duration timeout) {
      this.timeout = checkTimeout(timeout);
      return this;
    }

    /**
     * TLS, trusting {@code rootCertificates} (PEM file of the CA that signed the sidecar's
     * certificate), or the system's CAs when null.
     */
    public Builder tls(File rootCertificates) {
      this.tls = true;
      this.rootCertificates = rootCertificates;
      return this;
    }

    /** mTLS: the client's certificate chain and its private key (PEM files; PKCS#8 key). */
    public Builder clientCertificate(File certificateChain, File privateKey) {
      if (certificateChain == null || privateKey == null) {
        throw new IllegalArgumentException("certificateChain and privateKey go together (mTLS needs both)");
      }
      this.tls = true;
      this.certificateChain = certificateChain;
      this.privateKey = privateKey;
      return this;
    }

    public QuanzeClient build() {
      NettyChannelBuilder channel = NettyChannelBuilder.forTarget(target);
      if (tls) {
        channel.sslContext(sslContext()).useTransportSecurity();
      } else {
        channel.usePlaintext();
      }
      return new QuanzeClient(target, timeout, channel.build());
    }

    private io.netty.handler.ssl.SslContext sslContext() {
      try {
        SslContextBuilder ssl = GrpcSslContexts.forClient();
        if (rootCertificates != null) ssl.trustManager(readable(rootCertificates, "rootCertificates"));
        if (certificateChain != null) {
          ssl.keyManager(
              readable(certificateChain, "certificateChain"), readable(privateKey, "privateKey"));
        }
        return ssl.build();
      } catch (SSLException | IllegalArgumentException e) {
        throw new IllegalArgumentException("TLS settings for " + target + ": " + e.getMessage(), e);
      }
    }

    private static File readable(File file, String name) {
      if (!file.canRead()) {
        throw new IllegalArgumentException(name + ": cannot read " + file);
      }
      return file;
    }
  }
}
