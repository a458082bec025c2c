#!/usr/bin/env bash
# A program of two .cpp files that both include fastapi.hpp links and runs: every function
# and variable the header defines is inline or a template (no multiple definitions, no ODR
# trouble). Sources: tests/consumers/two_tu/.
set -euo pipefail
cd "$(dirname "$0")/../.."
src=tests/consumers/two_tu out=build/checks/two_tu
mkdir -p "$out/single"
cmp -s fastapi.hpp "$out/single/fastapi.hpp" || cp fastapi.hpp "$out/single/fastapi.hpp"
launcher=""; command -v ccache >/dev/null && launcher=ccache
flags=(-std=c++20 -O2 -I"$out/single" -I"$src" -Wall -Wextra -Werror)

echo "compiling main.cpp and routes.cpp separately${launcher:+ (via ccache)}"
pids=()
for tu in main routes; do
  timeout 300 $launcher g++ "${flags[@]}" -c "$src/$tu.cpp" -o "$out/$tu.o" >"$out/$tu.log" 2>&1 &
  pids+=($!)
done
ok=1
for i in 0 1; do wait "${pids[$i]}" || { ok=0; cat "$out/$([ $i = 0 ] && echo main || echo routes).log"; }; done
[ $ok = 1 ] || { echo "FAIL: a translation unit did not compile" >&2; exit 1; }

echo "linking both into one program"
if ! timeout 120 g++ "$out/main.o" "$out/routes.o" -pthread -o "$out/two_tu" >"$out/link.log" 2>&1; then
  head -n 40 "$out/link.log"
  echo "FAIL: linking two translation units failed (a non-inline definition in fastapi.hpp?)" >&2
  exit 1
fi
echo "running it"
timeout 20 "$out/two_tu" || { echo "FAIL: the two-TU program exited $?" >&2; exit 1; }
