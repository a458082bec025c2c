#!/usr/bin/env bash
# EventSource and WebSocket in a real browser: Debian's chromium, driven by playwright-core
# (tests/node/realtime.mjs, the page's scripts in tests/node/realtime_page.js), against
# examples/sse.cpp (the page's origin: EventSource is same-origin) and examples/websockets.cpp's
# /ws/echo, the latter also built with FASTAPI_WITH_ZLIB so that chromium's permessage-deflate
# offer is accepted once and declined once. Servers on loopback, stopped by pid.
# Skips (exit 0) only when chromium is missing and this is not root (which cannot install it).
#   tests/checks/realtime_browser.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/node/lib.sh

CHROMIUM=/usr/bin/chromium
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
if [ ! -f /usr/include/zlib.h ]; then
  tools/deps build || { echo "FAIL: tools/deps build (zlib1g-dev) failed" >&2; exit 1; }
fi

trap stop_all_examples EXIT
tools/amalgamate >/dev/null || exit 1

sse=$(build_example examples/sse.cpp) || exit 1
ws=$(build_example examples/websockets.cpp) || exit 1
# The same example with permessage-deflate: the one-line build plus -DFASTAPI_WITH_ZLIB -lz.
ws_zlib=$BUILD_DIR/websockets-zlib
rm -f "$ws_zlib"
launcher=""; command -v ccache >/dev/null && launcher=ccache
if ! { timeout 600 $launcher g++ -std=c++20 -O2 -DFASTAPI_WITH_ZLIB -I"$FASTAPI_INCLUDE_DIR" -Wall -Wextra -Werror \
         -c examples/websockets.cpp -o "$ws_zlib.o" &&
       timeout 60 g++ "$ws_zlib.o" -pthread -lz -o "$ws_zlib"; } >"$ws_zlib.build.log" 2>&1; then
  echo "FAIL: examples/websockets.cpp does not build with FASTAPI_WITH_ZLIB (log: $ws_zlib.build.log):" >&2
  head -n 30 "$ws_zlib.build.log" >&2
  exit 1
fi

# serve BIN: starts it on a free loopback port; prints the port. Fails when it does not answer.
serve() {
  local port; port=$(free_port)
  start_example "$1" "$port" ||
    { echo "FAIL: $1 did not start on 127.0.0.1:$port:" >&2; tail -n 20 "$1.$port.log" >&2; return 1; }
  SERVED_PORT=$port
}
serve "$sse" || exit 1; sse_port=$SERVED_PORT
serve "$ws" || exit 1; ws_port=$SERVED_PORT
serve "$ws_zlib" || exit 1; ws_zlib_port=$SERVED_PORT
echo "sse on 127.0.0.1:$sse_port, websockets on 127.0.0.1:$ws_port, websockets (zlib) on 127.0.0.1:$ws_zlib_port"

timeout 300 node "$NODE_DIR/realtime.mjs" "http://127.0.0.1:$sse_port" "ws://127.0.0.1:$ws_port" \
  "ws://127.0.0.1:$ws_zlib_port"
exit $?
