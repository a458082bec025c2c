#!/usr/bin/env bash
# `cmake --install` of this repo into a fresh prefix installs fastapi.hpp and a CMake package;
# a project doing find_package(fastapi REQUIRED) and linking fastapi::fastapi finds it there,
# builds with Ninja and runs. Consumer: tests/consumers/find_package/.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$PWD/build/checks/find_package
repo=$out/repo prefix=$out/prefix bin=$out/consumer
rm -rf "$out"; mkdir -p "$out"
launcher=(); command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)

echo "installing the repo into $prefix"
{ timeout 120 cmake -S . -B "$repo" -G Ninja -DFASTAPI_BUILD_TESTS=OFF -DFASTAPI_BUILD_EXAMPLES=OFF &&
  timeout 120 cmake --install "$repo" --prefix "$prefix"; } >"$out/install.log" 2>&1 ||
  { cat "$out/install.log"; echo "FAIL: cmake --install failed" >&2; exit 1; }
for f in include/fastapi.hpp share/cmake/fastapi/fastapiConfig.cmake share/cmake/fastapi/fastapiTargets.cmake; do
  [ -f "$prefix/$f" ] || { echo "FAIL: the install has no $f" >&2; exit 1; }
done
cmp -s fastapi.hpp "$prefix/include/fastapi.hpp" || { echo "FAIL: installed fastapi.hpp differs" >&2; exit 1; }

echo "configuring tests/consumers/find_package against it"
timeout 120 cmake -S tests/consumers/find_package -B "$bin" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF "${launcher[@]}" >"$out/configure.log" 2>&1 ||
  { cat "$out/configure.log"; echo "FAIL: configure (find_package) failed" >&2; exit 1; }
grep -q "found in $prefix/" "$out/configure.log" ||
  { grep fastapi "$out/configure.log"; echo "FAIL: fastapi was not found in $prefix" >&2; exit 1; }
# The user's build must see the installed header, not this checkout.
if grep -qE -- "(-I|-isystem )$PWD( |$)" "$bin/build.ninja"; then
  echo "FAIL: the consumer compiles against the source tree, not the install" >&2; exit 1
fi
echo "building app"
timeout 300 cmake --build "$bin" >"$out/build.log" 2>&1 ||
  { tail -n 40 "$out/build.log"; echo "FAIL: build failed" >&2; exit 1; }
echo "running app"
timeout 20 "$bin/app" || { echo "FAIL: app exited with status $?" >&2; exit 1; }
