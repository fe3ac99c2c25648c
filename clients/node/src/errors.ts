/**
 * The one family of errors the client throws; a grpc-js error never reaches the caller.
 *
 * Every error keeps the gRPC status name in `.code` ("UNAVAILABLE", ...). Errors the client
 * detects itself use the status the sidecar would have given (a malformed request is
 * "INVALID_ARGUMENT"). The same classes and messages as the Python client's.
 */

// The sidecar formats INVALID_ARGUMENT details as "<dotted.field>: <message>".
const FIELD_DETAILS = /^(?<field>[A-Za-z_][\w.[\]]*): (?<message>[\s\S]*)$/;

/** Base class of every error the Quanze client throws. */
export class QuanzeClientError extends Error {
  readonly code: string;

  constructor(message: string, code: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** The request is malformed (a caller bug); `field` is the dotted path to fix, or "". */
export class InvalidRequestError extends QuanzeClientError {
  readonly field: string;
  readonly detail: string;

  constructor(field: string, detail: string) {
    super(field ? `${field}: ${detail}` : detail, "INVALID_ARGUMENT");
    this.field = field;
    this.detail = detail;
  }

  /** Parses the sidecar's "<field>: <message>" details; unparseable text keeps field "". */
  static fromDetails(details: string): InvalidRequestError {
    const match = FIELD_DETAILS.exec(details);
    return match?.groups
      ? new InvalidRequestError(match.groups.field, match.groups.message)
      : new InvalidRequestError("", details);
  }
}

/** The sidecar cannot be reached, or has not loaded its policies yet; retrying may help. */
export class UnavailableError extends QuanzeClientError {}

/** The sidecar did not answer within the deadline. */
export class DeadlineExceededError extends QuanzeClientError {}

/** The call failed with another status (INTERNAL, RESOURCE_EXHAUSTED, CANCELLED, ...). */
export class SidecarError extends QuanzeClientError {}

/** The client was used after `close()` (a caller bug). */
export class ClientClosedError extends QuanzeClientError {
  constructor(target: string) {
    super(`the Quanze client for ${target} is closed`, "CANCELLED");
  }
}

/** The client error for a failed call with status `code` (a gRPC status name). */
export function errorForStatus(code: string, details: string, target: string): QuanzeClientError {
  if (code === "INVALID_ARGUMENT") {
    return InvalidRequestError.fromDetails(details);
  }
  const message = `${code} from the Quanze sidecar at ${target}: ${details}`;
  if (code === "UNAVAILABLE") {
    return new UnavailableError(message, code);
  }
  if (code === "DEADLINE_EXCEEDED") {
    return new DeadlineExceededError(message, code);
  }
  return new SidecarError(message, code);
}

/** Failures of the sidecar, not of the caller: `checkOrDeny` turns these into a deny. */
export function isSidecarFailure(error: unknown): error is QuanzeClientError {
  return (
    error instanceof UnavailableError ||
    error instanceof DeadlineExceededError ||
    error instanceof SidecarError
  );
}
