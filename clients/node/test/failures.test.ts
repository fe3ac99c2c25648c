/** Fail closed: every transport failure is a rejection from `check` and a deny from `checkOrDeny`. */

import * as assert from "node:assert/strict";
import * as net from "node:net";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";

import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

import {
  type Answer,
  Client,
  ClientClosedError,
  DeadlineExceededError,
  type QuanzeClientError,
  SIDECAR_UNAVAILABLE,
  SidecarError,
  UnavailableError,
  sidecarUnavailable,
} from "../src";
import { guided } from "./cases";
import { startSidecar, tempDir } from "./sidecar";

const UNAVAILABLE_DENY: Answer = {
  decision_id: "",
  decision: false,
  reasons: [
    {
      code: "sidecar_unavailable",
      article: "",
      item: 0,
      message_zh: "授权服务不可用，按拒绝处理",
      message_en: "The authorization sidecar could not be reached, so the request is denied",
    },
  ],
  obligations: [],
  escalate_to: "",
  accountable: [],
  policy_revision: "",
};

/** A client that records what checkOrDeny reports instead of printing it. */
function recordingClient(target: string, timeoutMs = 10_000): [Client, QuanzeClientError[]] {
  const reported: QuanzeClientError[] = [];
  return [new Client(target, { timeoutMs, onSidecarFailure: (e) => reported.push(e) }), reported];
}

test("the deny is the Python client's sidecar_unavailable deny, word for word", () => {
  assert.equal(SIDECAR_UNAVAILABLE, "sidecar_unavailable");
  assert.deepEqual(sidecarUnavailable(), UNAVAILABLE_DENY);
});

test("a sidecar that stopped: check rejects UNAVAILABLE, checkOrDeny denies", async () => {
  const sidecar = await startSidecar("127.0.0.1:0");
  const [client, reported] = recordingClient(sidecar.address);
  try {
    assert.equal((await client.check(guided)).decision, true);

    await sidecar.stop();

    await assert.rejects(client.check(guided), (error: unknown) => {
      assert.ok(error instanceof UnavailableError);
      assert.equal(error.code, "UNAVAILABLE");
      assert.ok(error.message.startsWith(`UNAVAILABLE from the Quanze sidecar at ${sidecar.address}: `));
      return true;
    });
    assert.deepEqual(await client.checkOrDeny(guided), UNAVAILABLE_DENY);
    assert.equal(reported.length, 1);
    assert.ok(reported[0] instanceof UnavailableError);
  } finally {
    client.close();
    await sidecar.stop();
  }
});

test("a Unix socket nobody listens on: checkOrDeny denies", async () => {
  const [client, reported] = recordingClient(`unix:${path.join(tempDir("gone"), "none.sock")}`);
  try {
    await assert.rejects(client.check(guided), UnavailableError);
    assert.deepEqual(await client.checkOrDeny(guided), UNAVAILABLE_DENY);
    assert.equal(reported.length, 1);
  } finally {
    client.close();
  }
});

test("a peer that never answers: the call's own deadline ends it, checkOrDeny denies", { timeout: 60_000 }, async () => {
  // Accepts TCP connections and stays silent, as a hung sidecar would.
  const held: net.Socket[] = [];
  const silent = net.createServer((socket) => held.push(socket));
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  const { port } = silent.address() as net.AddressInfo;
  // The client's own deadline is far longer than the test's timeout: only the call's can pass.
  const [client, reported] = recordingClient(`127.0.0.1:${port}`, 3_600_000);
  try {
    await assert.rejects(client.check(guided, { timeoutMs: 300 }), DeadlineExceededError);
    assert.deepEqual(await client.checkOrDeny(guided, { timeoutMs: 300 }), UNAVAILABLE_DENY);
    assert.ok(reported[0] instanceof DeadlineExceededError);
  } finally {
    client.close();
    for (const socket of held) socket.destroy();
    silent.close();
  }
});

describe("a sidecar that fails with a status", () => {
  // A stub DecisionService, only to produce statuses a healthy sidecar cannot be made to give
  // on demand: Check fails with the status named by subject.id.
  let server: grpc.Server;
  let target: string;

  before(async () => {
    const definition = protoLoader.loadSync(
      path.join(__dirname, "..", "..", "proto", "quanze", "v1", "decision_service.proto"),
      { keepCase: true },
    );
    const loaded = grpc.loadPackageDefinition(definition) as unknown as {
      quanze: { v1: { DecisionService: grpc.ServiceClientConstructor } };
    };
    server = new grpc.Server();
    server.addService(loaded.quanze.v1.DecisionService.service, {
      Check: (call: grpc.ServerUnaryCall<{ subject: { id: string } }, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        const code = grpc.status[call.request.subject.id as keyof typeof grpc.status] as grpc.status;
        callback({ code, details: `stub ${call.request.subject.id}` });
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    target = `127.0.0.1:${port}`;
  });

  after(() => server?.forceShutdown());

  const cases: [string, typeof UnavailableError][] = [
    ["UNAVAILABLE", UnavailableError],
    ["DEADLINE_EXCEEDED", DeadlineExceededError],
    ["CANCELLED", SidecarError],
    ["INTERNAL", SidecarError],
    ["RESOURCE_EXHAUSTED", SidecarError],
    ["PERMISSION_DENIED", SidecarError],
    ["UNKNOWN", SidecarError],
  ];
  for (const [status, kind] of cases) {
    test(`${status}: check rejects with ${kind.name}, checkOrDeny denies`, async () => {
      const [client, reported] = recordingClient(target);
      const request = { ...guided, subject: { id: status } };
      try {
        await assert.rejects(client.check(request), (error: unknown) => {
          assert.ok(error instanceof kind, String(error));
          assert.equal((error as QuanzeClientError).code, status);
          assert.match((error as Error).message, new RegExp(`^${status} from the Quanze sidecar at ${target}: stub ${status}$`));
          return true;
        });
        assert.deepEqual(await client.checkOrDeny(request), UNAVAILABLE_DENY);
        assert.equal(reported[0]?.code, status);
      } finally {
        client.close();
      }
    });
  }
});

test("a closed client refuses calls: a caller bug, not a deny", async () => {
  const [client] = recordingClient("127.0.0.1:1");
  client.close();
  client.close(); // safe twice

  await assert.rejects(client.check(guided), ClientClosedError);
  await assert.rejects(client.checkOrDeny(guided), ClientClosedError);
});

test("bad options are refused when the client is made, naming the option", () => {
  assert.throws(() => new Client(""), /target must be 'host:port' or 'unix:\/path'/);
  assert.throws(() => new Client("127.0.0.1:1", { timeoutMs: 0 }), /timeoutMs must be a positive number/);
  assert.throws(
    () => new Client("127.0.0.1:1", { certificateChain: Buffer.from("x") }),
    /certificateChain and privateKey go together/,
  );
  assert.throws(
    () => new Client("127.0.0.1:1", { rootCertificates: "/nonexistent/ca.pem" }),
    /rootCertificates: cannot read "\/nonexistent\/ca.pem": ENOENT/,
  );
});
