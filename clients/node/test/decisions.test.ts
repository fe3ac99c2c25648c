/** Decisions from a real sidecar, over TCP and over a Unix socket. */

import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";

import { type Answer, Client, InvalidRequestError } from "../src";
import { assistant, clerk, criminalCase, guidance, guided, unguided } from "./cases";
import { REPO, type Sidecar, startSidecar, tempDir } from "./sidecar";

const codes = (answer: Answer): string[] => answer.reasons.map((reason) => reason.code);

for (const transport of ["tcp", "unix"] as const) {
  describe(`over ${transport}`, () => {
    let sidecar: Sidecar;
    let client: Client;

    before(async () => {
      const address =
        transport === "tcp" ? "127.0.0.1:0" : `unix:${path.join(tempDir("sock"), "quanze.sock")}`;
      sidecar = await startSidecar(address);
      client = new Client(sidecar.address, { timeoutMs: 10_000 });
    });

    after(async () => {
      client?.close();
      await sidecar?.stop();
    });

    test("the guided assistant may interrogate, citing 十七 item 1", async () => {
      const answer = await client.check(guided);

      assert.equal(answer.decision, true);
      assert.deepEqual(
        answer.reasons.map((r) => [r.code, r.article, r.item]),
        [["assistant_duty", "十七", 1]],
      );
      assert.deepEqual(answer.obligations.map((o) => o.code), ["record_supervising_procurator"]);
      assert.deepEqual(
        answer.accountable.map((a) => [a.subject_id, a.responsibility]),
        [["asst-A1", "judicial"]],
      );
      assert.match(answer.decision_id, /^[0-9a-f-]{36}$/);
      assert.match(answer.policy_revision, /^[0-9a-f]{40}$/);
      assert.equal(answer.escalate_to, "");
    });

    test("the unguided assistant is denied with reasons in Chinese and English", async () => {
      const answer = await client.check(unguided);

      assert.equal(answer.decision, false); // a boolean, never undefined
      assert.deepEqual(codes(answer), ["assistant_requires_guidance"]);
      const [reason] = answer.reasons;
      assert.equal(reason.article, "十七");
      assert.match(reason.message_zh, /检察官助理.*指导/);
      assert.match(reason.message_en, /assistant.*guidance/i);
      assert.deepEqual(answer.obligations, []);
      assert.deepEqual(answer.accountable, []);
    });

    test("every decision has its own id", async () => {
      const [first, second] = await Promise.all([client.check(guided), client.check(guided)]);
      assert.notEqual(first.decision_id, second.decision_id);
    });

    test("an unknown action is refused naming action.name, with the server's suggestion", async () => {
      const request = { ...guided, action: { name: "case.interogate_suspect" } };

      const error = await rejection(client.check(request));

      assert.equal(error.field, "action.name");
      assert.equal(error.code, "INVALID_ARGUMENT");
      assert.match(error.message, /^action\.name: unknown action/);
      assert.match(error.detail, /case\.interrogate_suspect/);
    });

    test("a wrongly typed attribute is refused naming its field", async () => {
      const subject = { id: "asst-A1", properties: { role: "procurator_assistant", senior_stage: "no" } };

      const error = await rejection(client.check({ ...guided, subject }));

      assert.equal(error.field, "subject.properties.senior_stage");
    });

    test("a missing subject.id is refused before sending, naming the field", async () => {
      const subject = { properties: { role: "procurator_assistant" } } as unknown as typeof assistant;

      const error = await rejection(client.check({ ...guided, subject }));

      assert.equal(error.field, "subject.id");
      assert.equal(error.message, "subject.id: is required");
    });

    test("checkOrDeny still rejects an invalid request: a bug, not an outage", async () => {
      const request = { ...guided, action: { name: "case.teleport_suspect" } };
      const error = await rejection(client.checkOrDeny(request));
      assert.equal(error.field, "action.name");
    });

    test("checkOrDeny passes the sidecar's answer through", async () => {
      assert.equal((await client.checkOrDeny(guided)).decision, true);
      assert.deepEqual(codes(await client.checkOrDeny(unguided)), ["assistant_requires_guidance"]);
    });

    test("batch items inherit the defaults and answer in order", async () => {
      const results = await client.checkBatch(
        [
          { action: { name: "case.interrogate_suspect" } },
          { action: { name: "case.interrogate_suspect" }, context: {} }, // its own, empty context
          { subject: clerk, action: { name: "record.take" } },
        ],
        { defaults: { subject: assistant, resource: criminalCase, context: guidance } },
      );

      assert.deepEqual(
        results.map((r) => [r.answer.decision, codes(r.answer)[0], r.error]),
        [
          [true, "assistant_duty", undefined],
          [false, "assistant_requires_guidance", undefined],
          [true, codes(await client.check({ ...guided, subject: clerk, action: { name: "record.take" } }))[0], undefined],
        ],
      );
    });

    test("deny_on_first_deny stops after the first deny", async () => {
      const items = [
        { action: { name: "case.interrogate_suspect" }, context: guidance },
        { action: { name: "case.interrogate_suspect" } }, // no guidance: deny
        { action: { name: "evidence.collect" }, context: guidance },
      ];
      const defaults = { subject: assistant, resource: criminalCase };

      const every = await client.checkBatch(items, { defaults });
      const stopped = await client.checkBatch(items, { defaults, semantic: "deny_on_first_deny" });

      assert.deepEqual(every.map((r) => r.answer.decision), [true, false, true]);
      assert.deepEqual(stopped.map((r) => r.answer.decision), [true, false]);
      assert.deepEqual(codes(stopped[1].answer), ["assistant_requires_guidance"]);
    });

    test("permit_on_first_permit stops after the first permit", async () => {
      const results = await client.checkBatch(
        [
          { action: { name: "record.take" } }, // a clerk's duty: deny
          { action: { name: "evidence.collect" } }, // 十七 item 3: allow
          { action: { name: "case.interrogate_suspect" } },
        ],
        {
          defaults: { subject: assistant, resource: criminalCase, context: guidance },
          semantic: "permit_on_first_permit",
        },
      );

      assert.deepEqual(results.map((r) => r.answer.decision), [false, true]);
    });

    test("an invalid batch item gets its own error while the others are answered", async () => {
      const results = await client.checkBatch(
        [
          { action: { name: "case.interrogate_suspect" } },
          { action: { name: "case.teleport_suspect" } },
          { action: { name: "evidence.collect" } },
        ],
        { defaults: { subject: assistant, resource: criminalCase, context: guidance } },
      );

      assert.deepEqual(results.map((r) => r.answer.decision), [true, false, true]);
      assert.equal(results[1].error?.field, "evaluations[1].action.name");
      assert.match(results[1].error?.message ?? "", /unknown action/);
      assert.deepEqual(codes(results[1].answer), ["invalid_request"]);
    });

    test("a batch without items answers the defaults", async () => {
      const results = await client.checkBatch([], { defaults: guided });
      assert.deepEqual(results.map((r) => r.answer.decision), [true]);
    });

    test("an unknown semantic is an invalid request naming options.evaluations_semantic", async () => {
      const semantic = "all_at_once" as "execute_all";
      const error = await rejection(client.checkBatch([guided], { semantic }));
      assert.equal(error.field, "options.evaluations_semantic");
    });

    test("allowedActions lists the whole catalog, sorted, and agrees with check", async () => {
      const catalog = JSON.parse(
        fs.readFileSync(path.join(REPO, "policies/quanze/catalog/data.json"), "utf8"),
      ) as { actions: Record<string, unknown> };

      const decisions = await client.allowedActions(assistant, criminalCase, guidance);

      assert.deepEqual(decisions.map((d) => d.action), Object.keys(catalog.actions).sort());
      const allowed = new Set(decisions.filter((d) => d.answer.decision).map((d) => d.action));
      assert.ok(allowed.has("case.interrogate_suspect") && allowed.has("evidence.collect"));
      assert.ok(!allowed.has("record.take"));
      assert.ok(decisions.every((d) => d.answer.reasons.length > 0));
      for (const name of ["case.interrogate_suspect", "record.take", "case.assign"]) {
        const single = await client.check({ ...guided, action: { name } });
        const listed = decisions.find((d) => d.action === name)!.answer;
        assert.deepEqual({ ...listed, decision_id: "" }, { ...single, decision_id: "" }, name);
      }
    });

    test("allowedActions without subject.id names the field", async () => {
      const subject = { properties: {} } as unknown as typeof clerk;
      const error = await rejection(client.allowedActions(subject, criminalCase));
      assert.equal(error.field, "subject.id");
    });

    test("status reports the serving revision", async () => {
      const [status, answer] = await Promise.all([client.status(), client.check(guided)]);
      assert.equal(status.serving, true);
      assert.equal(status.active_revision, answer.policy_revision);
      assert.equal(typeof status.calls_shed, "number");
    });
  });
}

async function rejection(promise: Promise<unknown>): Promise<InvalidRequestError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof InvalidRequestError, `expected an InvalidRequestError, got ${String(error)}`);
    return error;
  }
  assert.fail("expected an InvalidRequestError, but the call succeeded");
}
