/** TLS and mTLS against a real sidecar that requires client certificates. */

import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import { after, before, test } from "node:test";

import { Client, UnavailableError } from "../src";
import { guided } from "./cases";
import { type Pki, type Sidecar, makePki, startSidecar, tempDir } from "./sidecar";

let pki: Pki;
let sidecar: Sidecar;
let target: string;

before(async () => {
  pki = makePki(tempDir("pki"));
  sidecar = await startSidecar("127.0.0.1:0", [
    `server.tls.cert=${pki.serverCert}`,
    `server.tls.key=${pki.serverKey}`,
    `server.tls.client_ca=${pki.ca}`,
    "server.tls.require_client_cert=true",
  ]);
  // The certificate names localhost, which the client checks against the target.
  target = `localhost:${sidecar.address.split(":").pop()}`;
});

after(async () => sidecar?.stop());

for (const form of ["file paths", "buffers"] as const) {
  test(`mTLS with the PEM as ${form}`, async () => {
    const read = (file: string): string | Buffer => (form === "buffers" ? fs.readFileSync(file) : file);
    const client = new Client(target, {
      timeoutMs: 10_000,
      rootCertificates: read(pki.ca),
      certificateChain: read(pki.clientCert),
      privateKey: read(pki.clientKey),
    });
    try {
      assert.equal((await client.check(guided)).decision, true);
    } finally {
      client.close();
    }
  });
}

test("without a client certificate the handshake fails and checkOrDeny denies", async () => {
  const client = new Client(target, { timeoutMs: 10_000, rootCertificates: pki.ca, onSidecarFailure: () => {} });
  try {
    await assert.rejects(client.check(guided), UnavailableError);
    const answer = await client.checkOrDeny(guided);
    assert.equal(answer.decision, false);
    assert.equal(answer.reasons[0].code, "sidecar_unavailable");
  } finally {
    client.close();
  }
});

test("plaintext to a TLS sidecar fails closed", async () => {
  const client = new Client(target, { timeoutMs: 10_000, onSidecarFailure: () => {} });
  try {
    await assert.rejects(client.check(guided), UnavailableError);
    assert.equal((await client.checkOrDeny(guided)).decision, false);
  } finally {
    client.close();
  }
});
