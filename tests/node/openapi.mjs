// Checks one OpenAPI document served by an example (tests/checks/openapi_validate.sh):
//   node openapi.mjs validate DOC.json           JSON Schema of the OpenAPI 3.1 specification
//   node openapi.mjs compare DOC.json GOLDEN.json structural comparison with the golden file
//   node openapi.mjs write DOC.json GOLDEN.json  writes the golden file (keys sorted, indented)
// Exit status 0 when the check passes, 1 otherwise; the reasons are printed.
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { Validator } from "@seriousme/openapi-schema-validator";

function load(file) {
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    console.error(`${file}: not JSON: ${e.message}`);
    process.exit(1);
  }
}

// The golden form: object keys sorted at every level, two-space indentation, final newline.
function canonical(value) {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === "object")
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical(value[k])]));
  return value;
}
const pretty = (value) => JSON.stringify(canonical(value), null, 2) + "\n";

// Every place where the two differ, as JSON Pointer-like paths (at most `limit`).
function differences(want, got, path = "", out = [], limit = 40) {
  if (out.length >= limit || isDeepStrictEqual(want, got)) return out;
  const kind = (v) => (Array.isArray(v) ? "array" : v === null ? "null" : typeof v);
  if (kind(want) !== kind(got) || (kind(want) !== "object" && kind(want) !== "array")) {
    out.push(`${path || "/"}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
    return out;
  }
  const keys = new Set([...Object.keys(want), ...Object.keys(got)]);
  for (const k of keys) {
    const p = `${path}/${String(k).replaceAll("~", "~0").replaceAll("/", "~1")}`;
    if (!(k in got)) out.push(`${p}: missing (expected ${JSON.stringify(want[k])})`);
    else if (!(k in want)) out.push(`${p}: unexpected ${JSON.stringify(got[k])}`);
    else differences(want[k], got[k], p, out, limit);
    if (out.length >= limit) break;
  }
  return out;
}

const [command, docFile, goldenFile] = process.argv.slice(2);
if (!docFile || (command !== "validate" && !goldenFile)) {
  console.error("usage: node openapi.mjs validate DOC.json | compare DOC.json GOLDEN.json | write DOC.json GOLDEN.json");
  process.exit(2);
}
const doc = load(docFile);

if (command === "validate") {
  if (typeof doc.openapi !== "string" || !doc.openapi.startsWith("3.1.")) {
    console.error(`${docFile}: "openapi" is ${JSON.stringify(doc.openapi)}, not 3.1.x`);
    process.exit(1);
  }
  const validator = new Validator();
  const result = await validator.validate(doc);
  if (!result.valid) {
    console.error(`${docFile}: does not match the OpenAPI ${validator.version} JSON Schema:`);
    console.error(JSON.stringify(result.errors, null, 2));
    process.exit(1);
  }
  console.log(`${docFile}: valid OpenAPI ${validator.version} (JSON Schema of the specification)`);
} else if (command === "compare") {
  const diffs = differences(load(goldenFile), doc);
  if (diffs.length) {
    console.error(`${docFile} differs from ${goldenFile}:`);
    for (const d of diffs) console.error(`  ${d}`);
    console.error("If the change is intended, rewrite the golden files: tests/checks/openapi_validate.sh --update");
    process.exit(1);
  }
  console.log(`${docFile}: same as ${goldenFile}`);
} else if (command === "write") {
  mkdirSync(dirname(goldenFile), { recursive: true });
  writeFileSync(goldenFile, pretty(doc));
  console.log(`wrote ${goldenFile}`);
} else {
  console.error(`unknown command ${command}`);
  process.exit(2);
}
