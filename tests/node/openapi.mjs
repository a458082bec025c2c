// Checks one OpenAPI document served by an example (tests/checks/openapi_validate.sh):
//   node openapi.mjs validate DOC.json           JSON Schema of the OpenAPI 3.1 specification
//   node openapi.mjs strip-3.2 DOC.json OUT.json  DOC without OpenAPI 3.2's itemSchema (for the linter)
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

// FastAPI describes an event stream and JSON Lines with OpenAPI 3.2's `itemSchema` (the schema
// of each event, of each line) in its 3.1 document, and so does fastapi.hpp; a 3.1 validator
// rejects the field. It is checked here (an object schema on text/event-stream, a schema on
// application/jsonl), then removed, so the rest of the document is held to 3.1.
function without32(doc) {
  const copy = structuredClone(doc);
  const problems = [];
  for (const [path, item] of Object.entries(copy.paths || {}))
    for (const [method, op] of Object.entries(item || {}))
      for (const [status, response] of Object.entries((op && op.responses) || {}))
        for (const [media, content] of Object.entries((response && response.content) || {})) {
          if (!content || !("itemSchema" in content)) continue;
          const where = `${path} ${method} ${status} ${media}`;
          const s = content.itemSchema;
          if (media === "text/event-stream") {
            if (!s || typeof s !== "object" || s.type !== "object" || typeof s.properties !== "object")
              problems.push(`${where}: itemSchema is not an object schema`);
          } else if (media === "application/jsonl") {
            if (!s || typeof s !== "object" || Array.isArray(s)) problems.push(`${where}: itemSchema is not a schema`);
          } else {
            problems.push(`${where}: itemSchema outside text/event-stream and application/jsonl`);
          }
          delete content.itemSchema;
        }
  return { copy, problems };
}

const [command, docFile, goldenFile] = process.argv.slice(2);
if (!docFile || (command !== "validate" && !goldenFile)) {
  console.error("usage: node openapi.mjs validate DOC.json | compare DOC.json GOLDEN.json | write DOC.json GOLDEN.json | strip-3.2 DOC.json OUT.json");
  process.exit(2);
}
const doc = load(docFile);

if (command === "validate") {
  if (typeof doc.openapi !== "string" || !doc.openapi.startsWith("3.1.")) {
    console.error(`${docFile}: "openapi" is ${JSON.stringify(doc.openapi)}, not 3.1.x`);
    process.exit(1);
  }
  const { copy, problems } = without32(doc);
  if (problems.length) {
    console.error(`${docFile}: ${problems.join("; ")}`);
    process.exit(1);
  }
  const validator = new Validator();
  const result = await validator.validate(copy);
  if (!result.valid) {
    console.error(`${docFile}: does not match the OpenAPI ${validator.version} JSON Schema:`);
    console.error(JSON.stringify(result.errors, null, 2));
    process.exit(1);
  }
  console.log(`${docFile}: valid OpenAPI ${validator.version} (JSON Schema of the specification)`);
} else if (command === "strip-3.2") {
  writeFileSync(goldenFile, JSON.stringify(without32(doc).copy));
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
