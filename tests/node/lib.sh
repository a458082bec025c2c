# Shell helpers for the checks that build and run the examples (tests/checks/examples_build.sh,
# openapi_validate.sh, docs_browser.sh, realtime_browser.sh). Sourced from the repo root.
# Loopback only; every server started here is stopped by its pid; every wait is bounded.

NODE_DIR=tests/node
BUILD_DIR=build/checks
# The folder holding fastapi.hpp alone for the one-line build (as tests/checks/examples_build.sh).
FASTAPI_INCLUDE_DIR=${FASTAPI_INCLUDE_DIR:-build/checks/examples/single}
STARTED_PIDS=()

# node and npm, from Debian (tools/deps docs) when missing. Returns 1 if they cannot be had.
ensure_node() {
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    tools/deps docs || return 1
  fi
  command -v node >/dev/null && command -v npm >/dev/null
}

# tests/node/node_modules exactly as package-lock.json says (npm ci), when missing or stale.
ensure_node_modules() {
  local stamp=$NODE_DIR/node_modules/.package-lock.json
  if [ ! -f "$stamp" ] || [ "$NODE_DIR/package-lock.json" -nt "$stamp" ]; then
    echo "npm ci in $NODE_DIR"
    (cd "$NODE_DIR" && timeout 600 npm ci --no-audit --no-fund --loglevel=error) || return 1
  fi
}

# A TCP port nobody listens on at the moment, on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# example_name SRC: examples/NAME.cpp and examples/NAME/main.cpp are both NAME.
example_name() {
  local name; name=$(basename "$1" .cpp)
  [ "$name" = main ] && name=$(basename "$(dirname "$1")")
  echo "$name"
}

# compile_example CXX SRC BIN: the one-line build a user types,
#   CXX -std=c++20 -O2 -I<folder holding fastapi.hpp alone> SRC -pthread -Wall -Wextra -Werror -o BIN
# run as two steps, compile then link, so that ccache (in front when there is one) keeps the
# object: every check builds examples through here, so each example compiles once per
# compiler. Output goes to stdout/stderr; returns the build's status.
compile_example() {
  local cxx=$1 src=$2 bin=$3 launcher=""
  command -v ccache >/dev/null && launcher=ccache
  mkdir -p "$FASTAPI_INCLUDE_DIR" "$(dirname "$bin")"
  cmp -s fastapi.hpp "$FASTAPI_INCLUDE_DIR/fastapi.hpp" || cp fastapi.hpp "$FASTAPI_INCLUDE_DIR/fastapi.hpp"
  rm -f "$bin"  # never run a binary left over from an earlier build
  timeout 600 $launcher "$cxx" -std=c++20 -O2 -I"$FASTAPI_INCLUDE_DIR" -Wall -Wextra -Werror -c "$src" -o "$bin.o" &&
    timeout 60 "$cxx" "$bin.o" -pthread -o "$bin"
}

# build_example SRC: compile_example with g++ into $BUILD_DIR. Prints the binary's path.
build_example() {
  local src=$1 bin
  bin=$BUILD_DIR/$(example_name "$src")
  if ! compile_example g++ "$src" "$bin" >"$bin.build.log" 2>&1; then
    echo "FAIL: $src does not build with g++ (log: $bin.build.log):" >&2
    head -n 30 "$bin.build.log" >&2
    return 1
  fi
  echo "$bin"
}

# start_example BIN PORT [VAR=value...] [-- ARG...]: starts it on 127.0.0.1:PORT (with the
# command-line arguments after --) and waits (up to 10 s) until it answers. Sets STARTED_PID.
# Returns 1 when it exits or never answers (it is then stopped).
start_example() {
  local bin=$1 port=$2; shift 2
  local vars=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do vars+=("$1"); shift; done
  [ $# -gt 0 ] && shift  # the --
  env "${vars[@]}" HOST=127.0.0.1 PORT="$port" "$bin" "$@" >"$bin.$port.log" 2>&1 &
  STARTED_PID=$!
  STARTED_PIDS+=("$STARTED_PID")
  local i
  for i in $(seq 1 100); do
    if ! kill -0 "$STARTED_PID" 2>/dev/null; then return 1; fi
    if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/"; then return 0; fi
    sleep 0.1
  done
  stop_example "$STARTED_PID"
  return 1
}

# stop_example PID: SIGTERM (graceful), SIGKILL after 5 s.
stop_example() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# On exit: stop whatever is still running, by pid.
stop_all_examples() {
  local pid
  for pid in "${STARTED_PIDS[@]}"; do stop_example "$pid"; done
}

# fetch URL FILE: the body into FILE; prints the status code ("000" when nothing answered).
fetch() {
  curl -s --max-time 10 -o "$2" -w '%{http_code}' "$1" || true
}
