/**
 * Node client of the Quanze authorization sidecar: the decision contract over gRPC.
 *
 *   const quanze = new Client("unix:/run/quanze/quanze.sock", { timeoutMs: 500 });
 *   const answer = await quanze.checkOrDeny(request); // a deny, never an error, when it is down
 *   if (!answer.decision) refuse(answer.reasons);
 *   quanze.close();
 */

export {
  SIDECAR_UNAVAILABLE,
  type Accountable,
  type ActionDecision,
  type Answer,
  type BatchItem,
  type ItemError,
  type Obligation,
  type Reason,
  denyAnswer,
  sidecarUnavailable,
} from "./answers";
export {
  type BatchOptions,
  type CallOptions,
  Client,
  type ClientOptions,
  DEFAULT_TIMEOUT_MS,
  type PemSource,
} from "./client";
export type { Semantic } from "./convert";
export {
  ClientClosedError,
  DeadlineExceededError,
  InvalidRequestError,
  QuanzeClientError,
  SidecarError,
  UnavailableError,
} from "./errors";
export type {
  Action,
  CheckRequest,
  JSONObject,
  JSONValue,
  PartialRequest,
  Resource,
  Subject,
} from "./requests";
export type { DecisionLogStatus, Status } from "./status";
