/**
 * The one place where the contract's JSON and the protobuf messages meet.
 *
 * grpc-js (through @grpc/proto-loader) takes and gives plain objects with the proto's
 * snake_case names; only `google.protobuf.Struct` (properties, context) needs translating.
 * A part left out of a batch item is left unset in the message, so the sidecar applies the
 * batch default.
 */

import type { Accountable, ActionDecision, Answer, BatchItem, Reason } from "./answers";
import { InvalidRequestError } from "./errors";
import {
  type Action,
  type JSONObject,
  type JSONValue,
  type PartialRequest,
  type Resource,
  type Subject,
  checkRequest,
  jsonObject,
  partialRequest,
  resource as checkResource,
  subject as checkSubject,
} from "./requests";

/** The evaluation semantics of a batch (AuthZEN evaluations). */
export type Semantic = "execute_all" | "deny_on_first_deny" | "permit_on_first_permit";

const SEMANTICS: readonly string[] = ["execute_all", "deny_on_first_deny", "permit_on_first_permit"];

type Message = Record<string, unknown>;

// ---------------------------------------------------------------------- requests

export function checkMessage(request: unknown): Message {
  const checked = checkRequest(request);
  return {
    subject: subjectMessage(checked.subject),
    action: actionMessage(checked.action),
    resource: resourceMessage(checked.resource),
    context: struct(checked.context ?? {}),
  };
}

export function batchMessage(items: unknown, defaults: unknown, semantic: unknown): Message {
  if (typeof semantic !== "string" || !SEMANTICS.includes(semantic)) {
    throw new InvalidRequestError("options.evaluations_semantic", `must be one of ${SEMANTICS.join(", ")}, got ${JSON.stringify(semantic)}`);
  }
  if (!Array.isArray(items)) {
    throw new InvalidRequestError("evaluations", "must be an array of requests");
  }
  return {
    ...partialMessage(defaults === undefined ? {} : partialRequest(defaults)),
    evaluations: items.map((item, index) =>
      partialMessage(partialRequest(item, `evaluations[${index}]`)),
    ),
    options: { evaluations_semantic: semantic },
  };
}

export function listMessage(subject: unknown, resource: unknown, context: unknown): Message {
  return {
    subject: subjectMessage(checkSubject(subject)),
    resource: resourceMessage(checkResource(resource)),
    context: struct(context === undefined || context === null ? {} : jsonObject(context, "context")),
  };
}

function partialMessage(part: PartialRequest): Message {
  const message: Message = {};
  if (part.subject) message.subject = subjectMessage(part.subject);
  if (part.action) message.action = actionMessage(part.action);
  if (part.resource) message.resource = resourceMessage(part.resource);
  // Set even when empty, so the item says "my context" rather than "use the default".
  if (part.context) message.context = struct(part.context);
  return message;
}

function subjectMessage(subject: Subject): Message {
  return { type: subject.type, id: subject.id, properties: struct(subject.properties ?? {}) };
}

function actionMessage(action: Action): Message {
  return { name: action.name, properties: struct(action.properties ?? {}) };
}

function resourceMessage(resource: Resource): Message {
  return { type: resource.type, id: resource.id ?? "", properties: struct(resource.properties ?? {}) };
}

/** A checked JSON object as a google.protobuf.Struct (every number a double, as in JSON). */
function struct(values: JSONObject): Message {
  const fields: Record<string, Message> = {};
  for (const [key, value] of Object.entries(values)) fields[key] = structValue(value);
  return { fields };
}

// protobufjs defines the well-known types itself, in camelCase, whatever `keepCase` says.
function structValue(value: JSONValue): Message {
  if (value === null) return { nullValue: "NULL_VALUE" };
  if (typeof value === "number") return { numberValue: value };
  if (typeof value === "string") return { stringValue: value };
  if (typeof value === "boolean") return { boolValue: value };
  if (Array.isArray(value)) return { listValue: { values: value.map(structValue) } };
  return { structValue: struct(value) };
}

// ---------------------------------------------------------------------- answers

/** The Answer in a CheckResponse; only an explicit true allows. */
export function answer(message: Message | null | undefined): Answer {
  const m = message ?? {};
  return {
    decision_id: str(m.decision_id),
    decision: m.decision === true,
    reasons: list(m.reasons).map(citation),
    obligations: list(m.obligations).map(citation),
    escalate_to: str(m.escalate_to),
    accountable: list(m.accountable).map(accountable),
    policy_revision: str(m.policy_revision),
  };
}

export function batchItems(message: Message): BatchItem[] {
  return list(message.evaluations).map((item) => {
    const result: BatchItem = { answer: answer(item.answer as Message | null) };
    const error = item.error as Message | null | undefined;
    if (error) result.error = { field: str(error.field), message: str(error.message) };
    return result;
  });
}

export function actionDecisions(message: Message): ActionDecision[] {
  return list(message.actions).map((entry) => ({
    action: str(entry.action),
    answer: answer(entry.answer as Message | null),
  }));
}

function citation(m: Message): Reason {
  return {
    code: str(m.code),
    article: str(m.article),
    item: typeof m.item === "number" ? m.item : 0,
    message_zh: str(m.message_zh),
    message_en: str(m.message_en),
  };
}

function accountable(m: Message): Accountable {
  return {
    subject_id: str(m.subject_id),
    capacity: str(m.capacity),
    responsibility: str(m.responsibility),
    article: str(m.article),
  };
}

function str(value: unknown): string {
  return typeof value === "string" ? value : "";
}

function list(value: unknown): Message[] {
  return Array.isArray(value) ? (value as Message[]) : [];
}
