/** `npm pack` makes a package that installs into a fresh project and answers from there. */

import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, test } from "node:test";

import { guided } from "./cases";
import { type Sidecar, startSidecar, tempDir } from "./sidecar";

const PACKAGE_DIR = path.resolve(__dirname, "..", "..");
const NPM_FLAGS = ["--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"];

let project: string;
let tarball: string;
let sidecar: Sidecar;

before(async () => {
  const packed = tempDir("pack");
  const output = execFileSync("npm", ["pack", "--json", "--pack-destination", packed], {
    cwd: PACKAGE_DIR,
    encoding: "utf8",
  });
  const [manifest] = JSON.parse(output) as { filename: string; files: { path: string }[] }[];
  tarball = path.join(packed, manifest.filename);
  project = tempDir("app");
  fs.writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "app", private: true }));
  execFileSync("npm", ["install", ...NPM_FLAGS, tarball], { cwd: project, encoding: "utf8" });
  sidecar = await startSidecar("127.0.0.1:0");
});

after(async () => sidecar?.stop());

test("the tarball holds the built code, its types and the proto, and no tests or sources", () => {
  const listing = execFileSync("tar", ["-tzf", tarball], { encoding: "utf8" }).split("\n");
  for (const file of [
    "package/dist/src/index.js",
    "package/dist/src/index.d.ts",
    "package/proto/quanze/v1/decision_service.proto",
    "package/package.json",
  ]) {
    assert.ok(listing.includes(file), `${file} missing from ${listing.join(", ")}`);
  }
  assert.deepEqual(
    listing.filter((file) => /\/(test|src)\/.*\.ts$|\.test\.|node_modules/.test(file) && !file.endsWith(".d.ts")),
    [],
  );
});

for (const [kind, file, source] of [
  ["require", "check.cjs", `const { Client } = require("@quanze/client");`],
  ["import", "check.mjs", `import { Client } from "@quanze/client";`],
] as const) {
  test(`the installed package answers through ${kind}`, () => {
    const script = `${source}
const client = new Client(process.argv[2], { timeoutMs: 10000 });
client.check(JSON.parse(process.argv[3])).then(
  (answer) => { console.log(JSON.stringify(answer)); client.close(); },
  (error) => { console.error(error); process.exit(1); },
);`;
    fs.writeFileSync(path.join(project, file), script);

    const output = execFileSync("node", [file, sidecar.address, JSON.stringify(guided)], {
      cwd: project,
      encoding: "utf8",
    });

    const answer = JSON.parse(output) as { decision: boolean; reasons: { code: string }[] };
    assert.equal(answer.decision, true);
    assert.equal(answer.reasons[0].code, "assistant_duty");
  });
}
