#!/usr/bin/env bash
# tools/dev, the edit loop, as a user drives it: it builds and serves a copy of
# examples/hello.cpp, serves the new answer after the source is saved, keeps the old server
# serving and prints the compiler's error when the source is broken, and leaves no process
# behind when stopped.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
tmp=$(mktemp -d /tmp/fastapi-dev-check.XXXXXX)
dev=""
cleanup() {
  [ -n "$dev" ] && kill -TERM "$dev" 2>/dev/null && wait "$dev" 2>/dev/null
  rm -rf "$tmp" "$ROOT/build/dev/app-$(printf '%s' "$tmp/app.cpp" | cksum | cut -d' ' -f1)"  # tools/dev's folder for it
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; echo "--- tools/dev's output:" >&2; tail -n 30 "$tmp/dev.log" >&2; exit 1; }

cp examples/hello.cpp "$tmp/app.cpp"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# get: the body of GET / (empty when nothing answers within 2 s).
get() {
  python3 - "$port" <<'EOF' 2>/dev/null || true
import sys, urllib.request
print(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/", timeout=2).read().decode())
EOF
}
# wait_for WHAT SECONDS CMD...: until CMD succeeds, polling twice a second.
wait_for() {
  local what=$1 limit=$2; shift 2
  for _ in $(seq $((limit * 2))); do
    "$@" && return 0
    kill -0 "$dev" 2>/dev/null || fail "tools/dev exited while waiting for $what"
    sleep 0.5
  done
  fail "no $what within $limit s"
}
answers() { [[ "$(get)" == *"$1"* ]]; }
logged() { grep -qE -- "$1" "$tmp/dev.log"; }

echo "starting tools/dev on a copy of examples/hello.cpp, port $port"
HOST=127.0.0.1 PORT=$port DEV_POLL=0.2 tools/dev "$tmp/app.cpp" >"$tmp/dev.log" 2>&1 &
dev=$!
wait_for "first answer" 300 answers '"Hello World"'
first=$(sed -n 's/.*(pid \([0-9]*\);.*/\1/p' "$tmp/dev.log" | tail -n 1)
[ -n "$first" ] || fail "tools/dev did not say which pid serves"

echo "saving an edit"
sed -i 's/"Hello World"/"Hello Dev"/' "$tmp/app.cpp"
wait_for "answer from the edited source" 300 answers '"Hello Dev"'
kill -0 "$first" 2>/dev/null && fail "the first server (pid $first) still runs after the restart"
second=$(sed -n 's/.*(pid \([0-9]*\);.*/\1/p' "$tmp/dev.log" | tail -n 1)

echo "saving a broken source"
echo 'int broken = ;  // a syntax error' >>"$tmp/app.cpp"
wait_for "report of the failed build" 300 logged 'build failed'
logged 'app\.cpp:[0-9]+:[0-9]+: error: ' || fail "the compiler's first error was not printed"
logged 'still serving the previous build' || fail "tools/dev did not say the old server still serves"
answers '"Hello Dev"' || fail "the previous server stopped answering after a failed build"
kill -0 "$second" 2>/dev/null || fail "the previous server (pid $second) is gone after a failed build"

echo "stopping tools/dev (pid $dev)"
kill -TERM "$dev"
for _ in $(seq 40); do kill -0 "$dev" 2>/dev/null || break; sleep 0.25; done
kill -0 "$dev" 2>/dev/null && fail "tools/dev still runs 10 s after SIGTERM"
wait "$dev" 2>/dev/null || true
dev=""
kill -0 "$second" 2>/dev/null && fail "the server (pid $second) outlived tools/dev"
# Nothing started from this copy is left: no server, no compiler.
left=$(pgrep -f "$tmp/app" || true)
[ -z "$left" ] || fail "processes left: $(ps -o pid,args -p "${left//$'\n'/,}")"
[ -z "$(get)" ] || fail "something still answers on port $port"
echo "ok: built, served, rebuilt on save, kept serving through a failed build, stopped cleanly"
