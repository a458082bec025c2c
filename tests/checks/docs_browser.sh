#!/usr/bin/env bash
# /docs and /redoc in a real browser: Debian's chromium, driven by playwright-core
# (tests/node/browser.mjs), against examples/items.cpp (or examples/hello.cpp until it exists)
# serving the docs offline from build/docs-assets (tools/docs-assets, FASTAPI_DOCS_ASSETS).
# Every operation of /openapi.json must be rendered; one GET is tried out and its response
# shown; no console errors. Then examples/security.cpp: "Authorize" with the password flow
# and a protected route executed with the token. Screenshots go to build/screenshots/.
# Skips (exit 0) only when chromium is missing and this is not root (which cannot install it).
#   tests/checks/docs_browser.sh [examples/X.cpp]
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/node/lib.sh

CHROMIUM=/usr/bin/chromium
ASSETS=build/docs-assets
SHOTS=build/screenshots
if [ $# -gt 0 ]; then src=$1
elif [ -f examples/items.cpp ]; then src=examples/items.cpp
else src=examples/hello.cpp; fi

if [ ! -x "$CHROMIUM" ]; then
  [ "$(id -u)" -eq 0 ] && tools/deps docs
  if [ ! -x "$CHROMIUM" ]; then
    # Only root can install it; for anyone else this check is skipped, never for CI.
    [ "$(id -u)" -eq 0 ] && { echo "FAIL: tools/deps docs did not install $CHROMIUM" >&2; exit 1; }
    echo "SKIP: $CHROMIUM is not installed (run tools/deps docs as root)"; exit 0
  fi
fi
ensure_node || { echo "FAIL: node and npm are needed (tools/deps docs, as root)" >&2; exit 1; }
ensure_node_modules || { echo "FAIL: npm ci in $NODE_DIR failed" >&2; exit 1; }
if [ ! -f "$ASSETS/swagger-ui-bundle.js" ] || [ ! -f "$ASSETS/redoc.standalone.js" ] ||
   [ ! -f "$ASSETS/swagger-ui.css" ] || [ ! -f "$ASSETS/favicon.png" ]; then
  tools/docs-assets "$ASSETS" || { echo "FAIL: tools/docs-assets $ASSETS failed" >&2; exit 1; }
fi

trap stop_all_examples EXIT
tools/amalgamate >/dev/null || exit 1

# browse SRC [VAR=value...]: builds and serves SRC with the offline assets, runs browser.mjs.
browse() {
  local src=$1 bin port rc; shift
  bin=$(build_example "$src") || return 1
  port=$(free_port)
  start_example "$bin" "$port" FASTAPI_DOCS_ASSETS="$PWD/$ASSETS" ||
    { echo "FAIL: $bin did not start on 127.0.0.1:$port:"; tail -n 20 "$bin.$port.log"; return 1; }
  echo "$src serving on 127.0.0.1:$port (pid $STARTED_PID) with FASTAPI_DOCS_ASSETS=$PWD/$ASSETS"
  local status; status=$(fetch "http://127.0.0.1:$port/openapi.json" /dev/null)
  if [ "$status" != 200 ]; then
    echo "FAIL: $src answered $status to /openapi.json; the docs pages need it" >&2
    stop_example "$STARTED_PID"; return 1
  fi
  env "$@" timeout 300 node "$NODE_DIR/browser.mjs" "http://127.0.0.1:$port" "$SHOTS"
  rc=$?
  stop_example "$STARTED_PID"
  return $rc
}

rc=0
browse "$src" || rc=1
# Swagger UI's Authorize button with the password flow, then a protected route.
if [ $# -eq 0 ]; then
  browse examples/security.cpp LOGIN=johndoe:secret SHOT_PREFIX=security- || rc=1
fi
[ $rc -eq 0 ] && echo "screenshots: $(ls "$SHOTS"/*.png | tr '\n' ' ')"
exit $rc
