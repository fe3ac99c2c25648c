/**
 * The client: a promise per call to the sidecar's DecisionService over one gRPC channel.
 */

import * as fs from "node:fs";
import * as path from "node:path";

import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

import { type ActionDecision, type Answer, type BatchItem, sidecarUnavailable } from "./answers";
import * as convert from "./convert";
import {
  ClientClosedError,
  type QuanzeClientError,
  errorForStatus,
  isSidecarFailure,
} from "./errors";
import type { CheckRequest, JSONObject, PartialRequest, Resource, Subject } from "./requests";
import type { Status } from "./status";

/** The deadline of a call when neither the client nor the call names one: as the Python client. */
export const DEFAULT_TIMEOUT_MS = 1000;

// Shipped in the package by `npm run build` (scripts/copy-proto.js): dist/src -> proto/.
const PROTO = path.join(__dirname, "..", "..", "proto", "quanze", "v1", "decision_service.proto");

/** PEM content as a Buffer, or the path of a PEM file as a string (read once, by the constructor). */
export type PemSource = Buffer | string;

export interface ClientOptions {
  /** The deadline of each call in milliseconds (1000 unless given); a call may pass its own. */
  timeoutMs?: number;
  /** The CA that signed the sidecar's certificate (TLS); without it the system's CAs verify. */
  rootCertificates?: PemSource;
  /** mTLS: the client's certificate chain; goes with `privateKey`. */
  certificateChain?: PemSource;
  /** mTLS: the client certificate's private key; goes with `certificateChain`. */
  privateKey?: PemSource;
  /** grpc-js channel options, e.g. {"grpc.ssl_target_name_override": "quanze-sidecar"}. */
  channelOptions?: grpc.ChannelOptions;
  /**
   * Told of every sidecar failure `checkOrDeny` turns into a deny, since its caller sees only
   * the deny; by default one line on stderr (console.warn).
   */
  onSidecarFailure?: (error: QuanzeClientError) => void;
}

export interface CallOptions {
  /** This call's deadline in milliseconds, instead of the client's `timeoutMs`. */
  timeoutMs?: number;
}

export interface BatchOptions extends CallOptions {
  /** The parts every item inherits unless it sets them (AuthZEN evaluation defaults). */
  defaults?: PartialRequest;
  /** "execute_all" (default), "deny_on_first_deny" or "permit_on_first_permit". */
  semantic?: convert.Semantic;
}

type Unary = (
  message: object,
  options: grpc.CallOptions,
  callback: (error: grpc.ServiceError | null, response?: Record<string, unknown>) => void,
) => grpc.ClientUnaryCall;

/**
 * Asks a Quanze sidecar for decisions over gRPC. `target` is "host:port" or "unix:/path".
 *
 * Every call has a deadline. Failures reject with a `QuanzeClientError` subclass;
 * `checkOrDeny` resolves to the `sidecar_unavailable` deny instead. Call `close()` when done.
 */
export class Client {
  readonly target: string;
  readonly timeoutMs: number;
  private readonly grpcClient: grpc.Client;
  private readonly onSidecarFailure: (error: QuanzeClientError) => void;
  private closed = false;

  constructor(target: string, options: ClientOptions = {}) {
    if (typeof target !== "string" || target.trim() === "") {
      throw new TypeError(`target must be 'host:port' or 'unix:/path', got ${JSON.stringify(target)}`);
    }
    this.target = target;
    this.timeoutMs = checkTimeout(options.timeoutMs ?? DEFAULT_TIMEOUT_MS, "timeoutMs");
    this.onSidecarFailure =
      options.onSidecarFailure ??
      ((error) => console.warn(`quanze sidecar failed (${error.code}), answering deny: ${error.message}`));
    const Service = decisionService();
    this.grpcClient = new Service(target, credentials(options), options.channelOptions ?? {});
  }

  /** The sidecar's answer to one request. */
  async check(request: CheckRequest, options: CallOptions = {}): Promise<Answer> {
    const response = await this.call("Check", convert.checkMessage(request), options);
    return convert.answer(response);
  }

  /**
   * Like `check`, but a sidecar that cannot answer (unreachable, deadline passed, cancelled,
   * overloaded, internal error, ...) yields the `sidecar_unavailable` deny. A malformed request
   * still rejects with `InvalidRequestError`: that is a bug to fix, not an outage.
   */
  async checkOrDeny(request: CheckRequest, options: CallOptions = {}): Promise<Answer> {
    try {
      return await this.check(request, options);
    } catch (error) {
      if (!isSidecarFailure(error)) throw error;
      this.onSidecarFailure(error);
      return sidecarUnavailable();
    }
  }

  /**
   * Answers in item order; each item inherits the parts of `defaults` it does not set. With
   * "deny_on_first_deny" / "permit_on_first_permit" the list stops at the item that triggered
   * it. An invalid item gets its own `error` while the others are answered. No items asks for
   * `defaults` alone (AuthZEN).
   */
  async checkBatch(items: PartialRequest[], options: BatchOptions = {}): Promise<BatchItem[]> {
    const message = convert.batchMessage(items, options.defaults, options.semantic ?? "execute_all");
    return convert.batchItems(await this.call("CheckBatch", message, options));
  }

  /** Every action of the catalog, in catalog order, with the answer Check would give. */
  async allowedActions(
    subject: Subject,
    resource: Resource,
    context?: JSONObject,
    options: CallOptions = {},
  ): Promise<ActionDecision[]> {
    const message = convert.listMessage(subject, resource, context);
    return convert.actionDecisions(await this.call("ListAllowedActions", message, options));
  }

  /** The answering worker's status: policy revision, decision-log and overload counters. */
  async status(options: CallOptions = {}): Promise<Status> {
    return (await this.call("GetStatus", {}, options)) as unknown as Status;
  }

  /** Closes the channel; calls in flight are cancelled, later calls reject. Safe twice. */
  close(): void {
    if (!this.closed) {
      this.closed = true;
      this.grpcClient.close();
    }
  }

  private call(rpc: string, message: object, options: CallOptions): Promise<Record<string, unknown>> {
    if (this.closed) return Promise.reject(new ClientClosedError(this.target));
    const timeoutMs =
      options.timeoutMs === undefined ? this.timeoutMs : checkTimeout(options.timeoutMs, "timeoutMs");
    const method = (this.grpcClient as unknown as Record<string, Unary>)[rpc].bind(this.grpcClient);
    return new Promise((resolve, reject) => {
      method(message, { deadline: Date.now() + timeoutMs }, (error, response) => {
        if (error) {
          const name = grpc.status[error.code] ?? "UNKNOWN";
          reject(errorForStatus(name, error.details ?? error.message, this.target));
        } else {
          resolve(response ?? {});
        }
      });
    });
  }
}

let service: grpc.ServiceClientConstructor | undefined;

function decisionService(): grpc.ServiceClientConstructor {
  if (service === undefined) {
    const definition = protoLoader.loadSync(PROTO, {
      keepCase: true, // the contract's snake_case names, as on the wire
      longs: Number, // uint64 counters of GetStatus; far below 2**53
      enums: String,
      defaults: true, // every field present in answers, as the contract lists them
    });
    const loaded = grpc.loadPackageDefinition(definition) as unknown as {
      quanze: { v1: { DecisionService: grpc.ServiceClientConstructor } };
    };
    service = loaded.quanze.v1.DecisionService;
  }
  return service;
}

function credentials(options: ClientOptions): grpc.ChannelCredentials {
  const { rootCertificates, certificateChain, privateKey } = options;
  if ((certificateChain === undefined) !== (privateKey === undefined)) {
    throw new TypeError("certificateChain and privateKey go together (mTLS needs both)");
  }
  if (rootCertificates === undefined && certificateChain === undefined) {
    return grpc.credentials.createInsecure();
  }
  return grpc.credentials.createSsl(
    pem(rootCertificates, "rootCertificates"),
    pem(privateKey, "privateKey"),
    pem(certificateChain, "certificateChain"),
  );
}

function pem(source: PemSource | undefined, name: string): Buffer | null {
  if (source === undefined) return null;
  if (Buffer.isBuffer(source)) return source;
  if (typeof source !== "string") {
    throw new TypeError(`${name} must be PEM content as a Buffer or a file path, got ${typeof source}`);
  }
  try {
    return fs.readFileSync(source);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new TypeError(`${name}: cannot read ${JSON.stringify(source)}: ${reason}`);
  }
}

function checkTimeout(value: unknown, name: string): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new TypeError(`${name} must be a positive number of milliseconds, got ${String(value)}`);
  }
  return value;
}
