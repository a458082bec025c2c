#!/usr/bin/env bash
# Every example builds with the one line a user types, next to nothing but fastapi.hpp
# (tools/test runs this before the unit tests, which start the g++ binaries it leaves):
#   g++ -std=c++20 -O2 -I<folder holding fastapi.hpp> app.cpp -pthread
# with -Wall -Wextra -Werror added (no warnings), and is checked by Debian's clang++ (14) with
# the same flags and -fsyntax-only: Clang gives its -Wall -Wextra diagnostics from the front
# end, every template the example uses instantiated, so its code generation (and a binary
# nothing starts) would only add minutes. Clang generates the header's code in the sanitizer
# builds of the unit tests (tools/test --sanitize) and in tests/checks/fuzz.sh.
#   tests/checks/examples_build.sh [file.cpp...]     (default: examples/*.cpp, examples/*/main.cpp)
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/node/lib.sh
out=$(dirname "$FASTAPI_INCLUDE_DIR")  # build/checks/examples; fastapi.hpp alone in single/

if [ $# -gt 0 ]; then srcs=("$@"); else shopt -s nullglob; srcs=(examples/*.cpp examples/*/main.cpp); fi
[ ${#srcs[@]} -gt 0 ] || { echo "FAIL: no examples/*.cpp to build" >&2; exit 1; }
command -v clang++ >/dev/null || { echo "FAIL: clang++ not found (tools/deps fuzz installs clang)" >&2; exit 1; }

# One job per (compiler, example), two at a time (EXAMPLES_JOBS=1: one, on a shared machine);
# each writes its own log.
jobs=()
for src in "${srcs[@]}"; do
  for cxx in g++ clang++; do jobs+=("$cxx" "$src"); done
done
echo "building ${#srcs[@]} example(s) with g++, checking them with clang++ -fsyntax-only"
export out FASTAPI_INCLUDE_DIR
export -f compile_example example_name
mkdir -p "$FASTAPI_INCLUDE_DIR"; cp fastapi.hpp "$FASTAPI_INCLUDE_DIR/fastapi.hpp"  # once, before the parallel jobs
status=0
printf '%s\0' "${jobs[@]}" | xargs -0 -n2 -P"${EXAMPLES_JOBS:-2}" bash -c '
  cxx=$1 src=$2 name=$(example_name "$2")
  # The g++ binaries are the ones the unit tests start (tools/test points them here).
  if [ "$cxx" = g++ ]; then
    bin=$out/$name
    cmd="$cxx -std=c++20 -O2 -I$FASTAPI_INCLUDE_DIR $src -pthread -Wall -Wextra -Werror -o $bin"
    build() { compile_example "$cxx" "$src" "$bin"; }
  else
    bin=$out/$name-clang
    cmd="$cxx -std=c++20 -O2 -I$FASTAPI_INCLUDE_DIR $src -Wall -Wextra -Werror -fsyntax-only"
    build() { timeout 600 "$cxx" -std=c++20 -O2 -I"$FASTAPI_INCLUDE_DIR" -Wall -Wextra -Werror -fsyntax-only "$src"; }
  fi
  if build >"$bin.log" 2>&1; then
    echo "  ok    $cmd"
  else
    echo "  FAIL  $cmd"; head -n 40 "$bin.log" | sed "s/^/        /"; exit 1
  fi' _ || status=$?

[ $status -eq 0 ] || { echo "FAIL: an example did not build warning-free (logs in $out)" >&2; exit 1; }
echo "all examples build warning-free with g++, and compile warning-free with clang++ (-fsyntax-only)"
