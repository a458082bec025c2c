#!/usr/bin/env bash
# The OpenAPI documents the examples serve, checked by tools we did not write:
#   - the JSON Schema of the OpenAPI 3.1 specification (@seriousme/openapi-schema-validator),
#   - Redocly's linter with its recommended rules (tests/node/redocly.yaml): errors fail,
#     warnings are printed,
#   - and compared, structurally, with tests/golden/openapi/<example>.json.
# Each example is built with the one line a user types, started on 127.0.0.1 and a free port,
# asked for /openapi.json, and stopped by its pid.
#   tests/checks/openapi_validate.sh [--update] [examples/X.cpp...]   (UPDATE_GOLDEN=1 = --update)
#   tests/checks/openapi_validate.sh --file DOC.json                  only validate and lint DOC.json
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/node/lib.sh

update=${UPDATE_GOLDEN:-0}; file=""; srcs=()
while [ $# -gt 0 ]; do
  case "$1" in
    --update) update=1 ;;
    --file) file=${2:?--file needs a path}; shift ;;
    *) srcs+=("$1") ;;
  esac
  shift
done
GOLDEN_DIR=tests/golden/openapi
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_COLOR=1

ensure_node || { echo "FAIL: node and npm are needed (tools/deps docs, as root)" >&2; exit 1; }
ensure_node_modules || { echo "FAIL: npm ci in $NODE_DIR failed" >&2; exit 1; }

# check_document NAME FILE: schema, lint, golden. Returns 1 on any failure.
check_document() {
  local name=$1 doc=$2 ok=0 golden=$GOLDEN_DIR/$1.json
  echo "== $name"
  node "$NODE_DIR/openapi.mjs" validate "$doc" || ok=1
  # The linter's banners (its Node.js support notice) are noise here.
  local lint abs
  node "$NODE_DIR/openapi.mjs" strip-3.2 "$doc" "$doc.lint.json" || ok=1  # FastAPI's itemSchema is 3.2's
  abs=$(realpath "$doc.lint.json")
  lint=$(cd "$NODE_DIR" && node_modules/.bin/redocly lint --config redocly.yaml --format stylish "$abs" 2>&1)
  local rc=$?
  grep -vE '[╔╚║]|^\s*$' <<<"$lint" | sed 's/^/  redocly: /'
  [ $rc -eq 0 ] || { echo "FAIL: $name: redocly lint found errors"; ok=1; }
  if [ -z "$file" ]; then
    if [ "$update" = 1 ]; then
      node "$NODE_DIR/openapi.mjs" write "$doc" "$golden" || ok=1
    elif [ -f "$golden" ]; then
      node "$NODE_DIR/openapi.mjs" compare "$doc" "$golden" || ok=1
    else
      echo "FAIL: $name: no golden file $golden (write it with: tests/checks/openapi_validate.sh --update)"; ok=1
    fi
  fi
  return $ok
}

if [ -n "$file" ]; then
  check_document "$(basename "$file" .json)" "$file"
  exit $?
fi

trap stop_all_examples EXIT
tools/amalgamate >/dev/null || exit 1
if [ ${#srcs[@]} -eq 0 ]; then shopt -s nullglob; srcs=(examples/*.cpp examples/*/main.cpp); fi
mkdir -p "$BUILD_DIR/openapi"
# Build two at a time; each build leaves its binary (or its log) in $BUILD_DIR.
running=0
for src in "${srcs[@]}"; do
  if [ $running -ge 2 ]; then wait -n; running=$((running - 1)); fi
  build_example "$src" >/dev/null &
  running=$((running + 1))
done
wait
served=0; failed=0
for src in "${srcs[@]}"; do
  name=$(example_name "$src")
  bin=$BUILD_DIR/$name
  [ -x "$bin" ] || { failed=$((failed + 1)); continue; }  # build_example said why
  port=$(free_port)
  if ! start_example "$bin" "$port"; then
    echo "FAIL: $name: not a server on \$PORT (exited or never answered); log: $bin.$port.log"
    failed=$((failed + 1)); continue
  fi
  doc=$BUILD_DIR/openapi/$name.json
  status=$(fetch "http://127.0.0.1:$port/openapi.json" "$doc")
  stop_example "$STARTED_PID"
  if [ "$status" != 200 ]; then
    echo "FAIL: $name: /openapi.json answered $status"
    failed=$((failed + 1)); continue
  fi
  served=$((served + 1))
  check_document "$name" "$doc" || failed=$((failed + 1))
done

echo "$served document(s) checked, $failed failure(s)"
[ $failed -eq 0 ]
