// Copies the repository's proto (the one source of truth) into the package, so `npm pack`
// ships it and the client loads exactly the service the sidecar serves.
"use strict";
const fs = require("node:fs");
const path = require("node:path");

const source = path.resolve(__dirname, "../../../proto/quanze/v1/decision_service.proto");
const target = path.resolve(__dirname, "../proto/quanze/v1/decision_service.proto");
if (!fs.existsSync(source)) {
  console.error(`copy-proto: ${source} is missing; build the client inside the Quanze repository`);
  process.exit(1);
}
fs.mkdirSync(path.dirname(target), { recursive: true });
fs.copyFileSync(source, target);
