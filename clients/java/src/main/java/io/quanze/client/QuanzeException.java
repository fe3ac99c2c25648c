package io.quanze.client;

import io.grpc.Status;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The one family of errors the client throws; a gRPC exception never reaches the caller.
 * {@link #code()} is the gRPC status code name ("UNAVAILABLE", ...).
 */
public class QuanzeException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  // The sidecar formats INVALID_ARGUMENT details as "<dotted.field>: <message>".
  private static final Pattern FIELD_DETAILS =
      Pattern.compile("([A-Za-z_][\\w.\\[\\]]*): (.*)", Pattern.DOTALL);

  private final String code;

  QuanzeException(String message, String code, Throwable cause) {
    super(message, cause);
    this.code = code;
  }

  public String code() {
    return code;
  }

  /** The request is malformed (a caller bug); {@link #field()} is the dotted path to fix, or "". */
  public static final class InvalidRequest extends QuanzeException {
    private static final long serialVersionUID = 1L;
    private final String field;

    InvalidRequest(String field, String message, Throwable cause) {
      super(field.isEmpty() ? message : field + ": " + message, "INVALID_ARGUMENT", cause);
      this.field = field;
    }

    public String field() {
      return field;
    }
  }

  /** The sidecar cannot be reached, or has not loaded its policies yet; retrying may help. */
  public static final class Unavailable extends QuanzeException {
    private static final long serialVersionUID = 1L;

    Unavailable(String message, Throwable cause) {
      super(message, "UNAVAILABLE", cause);
    }
  }

  /** The sidecar did not answer within the deadline. */
  public static final class DeadlineExceeded extends QuanzeException {
    private static final long serialVersionUID = 1L;

    DeadlineExceeded(String message, Throwable cause) {
      super(message, "DEADLINE_EXCEEDED", cause);
    }
  }

  /** The call failed with another status (INTERNAL, RESOURCE_EXHAUSTED, CANCELLED, ...). */
  public static final class SidecarFailure extends QuanzeException {
    private static final long serialVersionUID = 1L;

    SidecarFailure(String message, String code, Throwable cause) {
      super(message, code, cause);
    }
  }

  /** The client error for a failed call. */
  static QuanzeException fromStatus(Status status, String target, Throwable cause) {
    String code = status.getCode().name();
    String details = status.getDescription() == null ? "" : status.getDescription();
    if (status.getCode() == Status.Code.INVALID_ARGUMENT) {
      Matcher match = FIELD_DETAILS.matcher(details);
      return match.matches()
          ? new InvalidRequest(match.group(1), match.group(2), cause)
          : new InvalidRequest("", details, cause);
    }
    String message = code + " from the Quanze sidecar at " + target + ": " + details;
    return switch (status.getCode()) {
      case UNAVAILABLE -> new Unavailable(message, cause);
      case DEADLINE_EXCEEDED -> new DeadlineExceeded(message, cause);
      default -> new SidecarFailure(message, code, cause);
    };
  }
}
