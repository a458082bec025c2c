#!/usr/bin/env bash
# Every example builds with the one line a user types, next to nothing but fastapi.hpp
# (tools/test runs this before the unit tests, which start the g++ binaries it leaves):
#   g++ -std=c++20 -O2 -I<folder holding fastapi.hpp> app.cpp -pthread
# with -Wall -Wextra -Werror added (no warnings), and the same with Debian's clang++ (14).
#   tests/checks/examples_build.sh [file.cpp...]     (default: examples/*.cpp, examples/*/main.cpp)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=build/checks/examples
mkdir -p "$out/single"
# A folder holding fastapi.hpp alone: the parts under include/ must not be needed.
cmp -s fastapi.hpp "$out/single/fastapi.hpp" || cp fastapi.hpp "$out/single/fastapi.hpp"

# examples/NAME/main.cpp: an example split over several files, built as NAME.
if [ $# -gt 0 ]; then srcs=("$@"); else shopt -s nullglob; srcs=(examples/*.cpp examples/*/main.cpp); fi
[ ${#srcs[@]} -gt 0 ] || { echo "FAIL: no examples/*.cpp to build" >&2; exit 1; }
command -v clang++ >/dev/null || { echo "FAIL: clang++ not found (tools/deps fuzz installs clang)" >&2; exit 1; }
launcher=""; command -v ccache >/dev/null && launcher=ccache

# One job per (compiler, example), two at a time; each writes its own log.
jobs=()
for src in "${srcs[@]}"; do
  for cxx in g++ clang++; do jobs+=("$cxx" "$src"); done
done
echo "building ${#srcs[@]} example(s) with g++ and clang++${launcher:+ (via ccache)}"
export out launcher
status=0
printf '%s\0' "${jobs[@]}" | xargs -0 -n2 -P2 bash -c '
  cxx=$1 src=$2 name=$(basename "$2" .cpp)
  [ "$name" = main ] && name=$(basename "$(dirname "$2")")
  # The g++ binaries are the ones the unit tests start (tools/test points them here).
  bin=$out/$name; [ "$cxx" = g++ ] || bin=$out/$name-clang
  log=$bin.log
  cmd=($cxx -std=c++20 -O2 -I"$out/single" "$src" -pthread -Wall -Wextra -Werror -o "$bin")
  # The same command as two steps, compile then link, so that ccache keeps the object.
  if timeout 300 $launcher $cxx -std=c++20 -O2 -I"$out/single" -Wall -Wextra -Werror -c "$src" -o "$bin.o" >"$log" 2>&1 &&
     timeout 60 $cxx "$bin.o" -pthread -o "$bin" >>"$log" 2>&1; then
    echo "  ok    ${cmd[*]}"
  else
    echo "  FAIL  ${cmd[*]}"; head -n 40 "$log" | sed "s/^/        /"; exit 1
  fi' _ || status=$?

[ $status -eq 0 ] || { echo "FAIL: an example did not build warning-free (logs in $out)" >&2; exit 1; }
echo "all examples build warning-free with g++ and clang++"
