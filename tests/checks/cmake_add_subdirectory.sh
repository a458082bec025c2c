#!/usr/bin/env bash
# A CMake project that does add_subdirectory(<this repo>) and links fastapi::fastapi (and, in
# the compiled-once mode, fastapi::compiled) builds
# with Ninja and runs; the repo's own tests and examples stay out of the user's build.
# Consumer: tests/consumers/add_subdirectory/.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD bin=$PWD/build/checks/add_subdirectory
rm -rf "$bin"; mkdir -p "${bin%/*}"
launcher=(); command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)

echo "configuring tests/consumers/add_subdirectory (add_subdirectory of $root)"
timeout 120 cmake -S tests/consumers/add_subdirectory -B "$bin" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DFASTAPI_REPO="$root" "${launcher[@]}" >"$bin.configure.log" 2>&1 ||
  { cat "$bin.configure.log"; echo "FAIL: configure failed" >&2; exit 1; }
if ninja -C "$bin" -t targets all | grep -qE '^(unit_tests|example_[^:]*):'; then
  echo "FAIL: add_subdirectory pulled the repo's tests or examples into the user's build" >&2; exit 1
fi
echo "building app"
timeout 300 cmake --build "$bin" >"$bin.build.log" 2>&1 ||
  { tail -n 40 "$bin.build.log"; echo "FAIL: build failed" >&2; exit 1; }
echo "running app"
timeout 20 "$bin/app" || { echo "FAIL: app exited with status $?" >&2; exit 1; }
echo "running app_compiled (fastapi::compiled)"
timeout 20 "$bin/app_compiled" || { echo "FAIL: app_compiled exited with status $?" >&2; exit 1; }
