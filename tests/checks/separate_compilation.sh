#!/usr/bin/env bash
# The compiled-once mode (README "Compiled once"): the implementation unit (src/fastapi.cpp)
# compiled once, and every example compiled with -DFASTAPI_SEPARATE_COMPILATION and linked
# against that one object, warning-free; hello then serves. A unit built with another value
# of a configuration macro (FASTAPI_MAX_JSON_DEPTH) must fail to link, naming abi_check.
# -O0 keeps the check quick: the examples' -O2 builds are examples_build's.
#   tests/checks/separate_compilation.sh [file.cpp...]   (default: examples/*.cpp, examples/*/main.cpp)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=build/checks/separate; mkdir -p "$out/single"
cmp -s fastapi.hpp "$out/single/fastapi.hpp" || cp fastapi.hpp "$out/single/fastapi.hpp"
if [ $# -gt 0 ]; then srcs=("$@"); else shopt -s nullglob; srcs=(examples/*.cpp examples/*/main.cpp); fi
flags=(-std=c++20 -O0 -I"$out/single" -Wall -Wextra -Werror)
launcher=""; command -v ccache >/dev/null && launcher=ccache

echo "compiling the implementation unit once"
timeout 600 $launcher g++ "${flags[@]}" -c src/fastapi.cpp -o "$out/fastapi.o" >"$out/fastapi.log" 2>&1 ||
  { head -n 40 "$out/fastapi.log"; echo "FAIL: src/fastapi.cpp did not compile" >&2; exit 1; }

echo "building ${#srcs[@]} example(s) in the compiled-once mode"
export out launcher; export FLAGS="${flags[*]}"
status=0
printf '%s\0' "${srcs[@]}" | xargs -0 -n1 -P2 bash -c '
  src=$1 name=$(basename "$(dirname "$1")")-$(basename "$1" .cpp)
  cmd="g++ $FLAGS -DFASTAPI_SEPARATE_COMPILATION -c $src && g++ $name.o fastapi.o -pthread"
  if timeout 600 $launcher g++ $FLAGS -DFASTAPI_SEPARATE_COMPILATION -c "$src" -o "$out/$name.o" >"$out/$name.log" 2>&1 &&
     timeout 120 g++ "$out/$name.o" "$out/fastapi.o" -pthread -o "$out/$name" >>"$out/$name.log" 2>&1; then
    echo "  ok    $cmd"
  else
    echo "  FAIL  $cmd"; head -n 40 "$out/$name.log" | sed "s/^/        /"; exit 1
  fi' _ || status=$?
[ $status -eq 0 ] || { echo "FAIL: an example did not build in the compiled-once mode (logs in $out)" >&2; exit 1; }

if [ -x "$out/examples-hello" ]; then
  echo "running hello"
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  HOST=127.0.0.1 PORT=$port "$out/examples-hello" >"$out/hello.run.log" 2>&1 &
  pid=$!
  body=""
  for _ in $(seq 100); do
    body=$(python3 -c "import urllib.request,sys; print(urllib.request.urlopen('http://127.0.0.1:$port/', timeout=2).read().decode())" 2>/dev/null) && break
    sleep 0.1
  done
  kill -TERM $pid; wait $pid || true
  [ "$body" = '{"message":"Hello World"}' ] || { cat "$out/hello.run.log"; echo "FAIL: hello (compiled-once) answered '$body'" >&2; exit 1; }
fi

echo "a unit with another FASTAPI_MAX_JSON_DEPTH must not link"
printf '#include "fastapi.hpp"\nint main() { return fastapi::detail::json_nests_too_deep("[]", 1, false); }\n' >"$out/mismatch.cpp"
timeout 600 g++ "${flags[@]}" -DFASTAPI_SEPARATE_COMPILATION -DFASTAPI_MAX_JSON_DEPTH=7 -c "$out/mismatch.cpp" -o "$out/mismatch.o"
if g++ "$out/mismatch.o" "$out/fastapi.o" -pthread -o "$out/mismatch" >"$out/mismatch.log" 2>&1; then
  echo "FAIL: a unit built with FASTAPI_MAX_JSON_DEPTH=7 linked with an implementation built with the default" >&2; exit 1
fi
grep -q "abi_check" "$out/mismatch.log" || { cat "$out/mismatch.log"; echo "FAIL: the link error does not name abi_check" >&2; exit 1; }
# A user's unit parses only what a program names (README "Compiled once"): the machinery's
# internal classes are defined for the implementation unit (and header-only), not for it. Each
# name must be defined in the header-only view (so this check can fail) and not in the other.
echo "a user's unit of the compiled-once mode does not see the internal classes"
printf '#include "fastapi.hpp"\nint main() {}\n' >"$out/empty.cpp"
g++ -std=c++20 -I"$out/single" -E -P "$out/empty.cpp" -o "$out/empty-header-only.ii"
g++ -std=c++20 -I"$out/single" -DFASTAPI_SEPARATE_COMPILATION -E -P "$out/empty.cpp" -o "$out/empty-user-unit.ii"
for name in ServerState Worker Supervisor LogSink AccessLog ProxyTrust InMemorySession RedisConnection \
            RedisLoopService RespParser BasicRedisJobBackend BasicMemoryJobBackend MultipartParser DotenvReader; do
  pattern="^(class|struct) $name( final)? *(:|\{|$)"
  grep -Eq "$pattern" "$out/empty-header-only.ii" || { echo "FAIL: $name is not defined header-only (renamed? update this list)" >&2; exit 1; }
  if grep -Eq "$pattern" "$out/empty-user-unit.ii"; then
    echo "FAIL: a compiled-once user's unit defines $name (keep it under #if FASTAPI_INTERNALS)" >&2; exit 1
  fi
done
echo "all examples build and link in the compiled-once mode; a configuration mismatch is a link error"
