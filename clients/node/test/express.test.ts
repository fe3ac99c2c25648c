/** The Express example (examples/express.ts) in front of a real sidecar, over real HTTP. */

import * as assert from "node:assert/strict";
import type { AddressInfo, Server } from "node:net";
import { after, before, test } from "node:test";

import { application } from "../examples/express";
import { Client } from "../src";
import { type Sidecar, startSidecar } from "./sidecar";

let sidecar: Sidecar;
let quanze: Client;
let server: Server;
let base: string;

before(async () => {
  sidecar = await startSidecar("127.0.0.1:0");
  quanze = new Client(sidecar.address, { timeoutMs: 10_000 });
  server = await new Promise<Server>((resolve) => {
    const listening: Server = application(quanze).listen(0, "127.0.0.1", () => resolve(listening));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  await new Promise((resolve) => server?.close(resolve));
  quanze?.close();
  await sidecar?.stop();
});

const interrogate = (headers: Record<string, string>): Promise<globalThis.Response> =>
  fetch(`${base}/cases/C-1001/interrogations`, { method: "POST", headers });

test("an allowed action runs, with its obligations in Chinese", async () => {
  const response = await interrogate({ "X-User": "asst-A1", "X-Supervising-Procurator": "p-A1" });

  assert.equal(response.status, 201);
  const body = (await response.json()) as { obligations: string[] };
  assert.equal(body.obligations.length, 1);
  assert.match(body.obligations[0], /[\u4e00-\u9fff]/);
});

test("a denied action is refused 403 with the reasons in Chinese", async () => {
  const response = await interrogate({ "X-User": "asst-A1" });

  assert.equal(response.status, 403);
  const body = (await response.json()) as { reasons: string[]; decision_id: string };
  assert.match(body.reasons[0], /检察官助理.*指导/);
  assert.ok(body.decision_id);
});

test("with the sidecar unreachable the route is refused, not run", async () => {
  const down = new Client("unix:/nonexistent/quanze.sock", { timeoutMs: 10_000, onSidecarFailure: () => {} });
  const app = application(down);
  const local = await new Promise<Server>((resolve) => {
    const listening: Server = app.listen(0, "127.0.0.1", () => resolve(listening));
  });
  try {
    const port = (local.address() as AddressInfo).port;
    const response = await fetch(`http://127.0.0.1:${port}/cases/C-1001/interrogations`, {
      method: "POST",
      headers: { "X-User": "asst-A1", "X-Supervising-Procurator": "p-A1" },
    });
    assert.equal(response.status, 403);
    assert.deepEqual(((await response.json()) as { reasons: string[] }).reasons, ["授权服务不可用，按拒绝处理"]);
  } finally {
    await new Promise((resolve) => local.close(resolve));
    down.close();
  }
});
