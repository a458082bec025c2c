#!/usr/bin/env bash
# Every tests/compile-fail/*.cpp must fail to compile, with the sentence named on its first
# line (// expect: ...) in the compiler's output: a user's mistake gets a readable message.
# Runs with g++ and clang++ (when installed) against the amalgamated fastapi.hpp.
set -uo pipefail
cd "$(dirname "$0")/../.."
compilers=(g++)
command -v clang++ >/dev/null && compilers+=(clang++)
fail=0; count=0
for src in tests/compile-fail/*.cpp; do
  expect=$(sed -n '1s|^// expect: *||p' "$src")
  if [ -z "$expect" ]; then echo "FAIL $src: no '// expect:' line at the top"; fail=1; continue; fi
  for cxx in "${compilers[@]}"; do
    count=$((count + 1))
    if out=$($cxx -std=c++20 -fsyntax-only -I. "$src" 2>&1); then
      echo "FAIL $src ($cxx): compiled, but must not"; fail=1
    elif ! grep -qF -- "$expect" <<<"$out"; then
      echo "FAIL $src ($cxx): error output lacks: $expect"; head -n 20 <<<"$out"; fail=1
    else
      echo "ok   $src ($cxx)"
    fi
  done
done
echo "$count compile-fail checks"
exit $fail
