/**
 * Requests as the decision contract spells them, checked before they are sent.
 *
 * TypeScript checks the shape for typed callers; these checks catch what JavaScript callers
 * (and `any`) let through, and name the field with the same dotted paths the sidecar uses.
 * Unknown keys are refused rather than dropped, so a typo never silently weakens a rule.
 */

import { InvalidRequestError } from "./errors";

export type JSONValue = null | boolean | number | string | JSONValue[] | JSONObject;
export interface JSONObject {
  [key: string]: JSONValue;
}

/** The person who acts; `properties` holds the subject attributes of inventory §4.2. */
export interface Subject {
  /** "user" when left out. */
  type?: string;
  id: string;
  properties?: JSONObject;
}

/** What the subject wants to do; `name` is an action id of the catalog. */
export interface Action {
  name: string;
  properties?: JSONObject;
}

/** What the action is taken on; `type` is a resource kind of inventory §4.1. */
export interface Resource {
  type: string;
  id?: string;
  properties?: JSONObject;
}

/** One question: may `subject` take `action` on `resource`, given `context`? */
export interface CheckRequest {
  subject: Subject;
  action: Action;
  resource: Resource;
  context?: JSONObject;
}

/** Batch defaults, or a batch item: a part left out takes the batch default. */
export type PartialRequest = Partial<CheckRequest>;

const REQUEST_FIELDS = ["subject", "action", "resource", "context"];

/** `value` as a complete request; throws `InvalidRequestError` naming the field. */
export function checkRequest(value: unknown, path = ""): CheckRequest {
  const fields = known(value, path, REQUEST_FIELDS);
  return {
    subject: subject(required(fields, "subject", path), join(path, "subject")),
    action: action(required(fields, "action", path), join(path, "action")),
    resource: resource(required(fields, "resource", path), join(path, "resource")),
    context: optionalObject(fields, "context", path) ?? {},
  };
}

/** The parts of a request that are present; throws `InvalidRequestError` naming the field. */
export function partialRequest(value: unknown, path = ""): PartialRequest {
  const fields = known(value, path, REQUEST_FIELDS);
  const part: PartialRequest = {};
  if (fields.subject !== undefined) part.subject = subject(fields.subject, join(path, "subject"));
  if (fields.action !== undefined) part.action = action(fields.action, join(path, "action"));
  if (fields.resource !== undefined) {
    part.resource = resource(fields.resource, join(path, "resource"));
  }
  const context = optionalObject(fields, "context", path);
  if (context !== undefined) part.context = context;
  return part;
}

export function subject(value: unknown, path = "subject"): Subject {
  const fields = known(value, path, ["type", "id", "properties"]);
  return {
    type: text(fields, "type", path) || "user",
    id: text(fields, "id", path, true),
    properties: optionalObject(fields, "properties", path) ?? {},
  };
}

export function action(value: unknown, path = "action"): Action {
  const fields = known(value, path, ["name", "properties"]);
  return {
    name: text(fields, "name", path, true),
    properties: optionalObject(fields, "properties", path) ?? {},
  };
}

export function resource(value: unknown, path = "resource"): Resource {
  const fields = known(value, path, ["type", "id", "properties"]);
  return {
    type: text(fields, "type", path, true),
    id: text(fields, "id", path),
    properties: optionalObject(fields, "properties", path) ?? {},
  };
}

/** `value` as a JSON object (a copy); `undefined` keys are left out, as JSON.stringify does. */
export function jsonObject(value: unknown, path: string): JSONObject {
  if (!isPlainObject(value)) {
    throw new InvalidRequestError(path, `must be a JSON object, got ${describe(value)}`);
  }
  const copy: JSONObject = {};
  for (const [key, item] of Object.entries(value)) {
    if (item !== undefined) copy[key] = jsonValue(item, `${path}.${key}`);
  }
  return copy;
}

function jsonValue(value: unknown, path: string): JSONValue {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) {
      throw new InvalidRequestError(path, `must be a finite number, got ${value}`);
    }
    return value;
  }
  if (Array.isArray(value)) return value.map((item, index) => jsonValue(item, `${path}[${index}]`));
  if (isPlainObject(value)) return jsonObject(value, path);
  throw new InvalidRequestError(path, `must be a JSON value, got ${describe(value)}`);
}

/** How a value reads in an error message, in JSON terms where it has one. */
export function describe(value: unknown): string {
  if (typeof value === "string") return `the string ${JSON.stringify(value)}`;
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  if (typeof value === "boolean") return "a boolean";
  if (typeof value === "number") return "a number";
  if (Array.isArray(value)) return "an array";
  if (isPlainObject(value)) return "an object";
  if (typeof value === "object") return `a ${value.constructor?.name ?? "object"}`;
  return `a ${typeof value}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

function known(value: unknown, path: string, names: string[]): Record<string, unknown> {
  if (!isPlainObject(value)) {
    throw new InvalidRequestError(path || "request", `must be a JSON object, got ${describe(value)}`);
  }
  const unknownKeys = Object.keys(value)
    .filter((key) => !names.includes(key) && value[key] !== undefined)
    .sort();
  if (unknownKeys.length > 0) {
    throw new InvalidRequestError(
      join(path, unknownKeys[0]),
      `is not a known field; expected one of: ${names.join(", ")}`,
    );
  }
  return value;
}

function required(fields: Record<string, unknown>, name: string, path: string): unknown {
  const value = fields[name];
  if (value === undefined || value === null) {
    throw new InvalidRequestError(join(path, name), "is required");
  }
  return value;
}

function text(fields: Record<string, unknown>, name: string, path: string, isRequired = false): string {
  const value = isRequired ? required(fields, name, path) : fields[name];
  if (value === undefined || value === null) return "";
  if (typeof value !== "string") {
    throw new InvalidRequestError(join(path, name), `must be a string, got ${describe(value)}`);
  }
  return value;
}

function optionalObject(
  fields: Record<string, unknown>,
  name: string,
  path: string,
): JSONObject | undefined {
  const value = fields[name];
  return value === undefined || value === null ? undefined : jsonObject(value, join(path, name));
}

function join(path: string, name: string): string {
  return path ? `${path}.${name}` : name;
}
