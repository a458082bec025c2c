#!/usr/bin/env bash
# Every example builds with the one line a user types, next to nothing but fastapi.hpp
# (tools/test runs this before the unit tests, which start the g++ binaries it leaves):
#   g++ -std=c++20 -O2 -I<folder holding fastapi.hpp> app.cpp -pthread
# with -Wall -Wextra -Werror added (no warnings), and the same with Debian's clang++ (14).
#   tests/checks/examples_build.sh [file.cpp...]     (default: examples/*.cpp, examples/*/main.cpp)
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/node/lib.sh
out=$(dirname "$FASTAPI_INCLUDE_DIR")  # build/checks/examples; fastapi.hpp alone in single/

if [ $# -gt 0 ]; then srcs=("$@"); else shopt -s nullglob; srcs=(examples/*.cpp examples/*/main.cpp); fi
[ ${#srcs[@]} -gt 0 ] || { echo "FAIL: no examples/*.cpp to build" >&2; exit 1; }
command -v clang++ >/dev/null || { echo "FAIL: clang++ not found (tools/deps fuzz installs clang)" >&2; exit 1; }

# One job per (compiler, example), two at a time; each writes its own log.
jobs=()
for src in "${srcs[@]}"; do
  for cxx in g++ clang++; do jobs+=("$cxx" "$src"); done
done
echo "building ${#srcs[@]} example(s) with g++ and clang++"
export out FASTAPI_INCLUDE_DIR
export -f compile_example example_name
mkdir -p "$FASTAPI_INCLUDE_DIR"; cp fastapi.hpp "$FASTAPI_INCLUDE_DIR/fastapi.hpp"  # once, before the parallel jobs
status=0
printf '%s\0' "${jobs[@]}" | xargs -0 -n2 -P2 bash -c '
  cxx=$1 src=$2 name=$(example_name "$2")
  # The g++ binaries are the ones the unit tests start (tools/test points them here).
  bin=$out/$name; [ "$cxx" = g++ ] || bin=$out/$name-clang
  cmd="$cxx -std=c++20 -O2 -I$FASTAPI_INCLUDE_DIR $src -pthread -Wall -Wextra -Werror -o $bin"
  if compile_example "$cxx" "$src" "$bin" >"$bin.log" 2>&1; then
    echo "  ok    $cmd"
  else
    echo "  FAIL  $cmd"; head -n 40 "$bin.log" | sed "s/^/        /"; exit 1
  fi' _ || status=$?

[ $status -eq 0 ] || { echo "FAIL: an example did not build warning-free (logs in $out)" >&2; exit 1; }
echo "all examples build warning-free with g++ and clang++"
