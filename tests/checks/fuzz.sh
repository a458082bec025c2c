#!/usr/bin/env bash
# Fuzzes the HTTP request parser, the multipart/form-data parser and the direct JSON reader
# (against the reference reader) for a bounded time each
# with libFuzzer, AddressSanitizer (leaks included) and UBSan: tests/fuzz/fuzz_parser.cpp on a
# copy of tests/fuzz/corpus/parser/, tests/fuzz/fuzz_multipart.cpp on tests/fuzz/corpus/multipart/,
# tests/fuzz/fuzz_json.cpp on tests/fuzz/corpus/json/.
# Fails when the fuzzer finds a crash, leak, timeout or broken invariant (the input is left in
# build/fuzz/). Without clang++ and its fuzzer runtime it says so and passes.
#   FUZZ_SECONDS=300 tests/checks/fuzz.sh     fuzz the HTTP parser longer
#   MULTIPART_FUZZ_SECONDS=120 ...             and the multipart parser (default 20)
#   JSON_FUZZ_SECONDS=120 ...                  and the JSON readers (default 20)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
out=build/fuzz
seconds=${FUZZ_SECONDS:-30}
multipart_seconds=${MULTIPART_FUZZ_SECONDS:-20}
json_seconds=${JSON_FUZZ_SECONDS:-20}

# Installs clang and libclang-rt-14-dev when run as root; otherwise only reports what is missing.
tools/deps fuzz >/dev/null 2>&1 || true
if ! command -v clang++ >/dev/null; then
  echo "skipped: clang++ not found (tools/deps fuzz installs clang and libclang-rt-14-dev as root)"
  exit 0
fi
mkdir -p "$out"
probe='extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }'
if ! echo "$probe" | clang++ -fsanitize=fuzzer -x c++ - -o "$out/probe" >"$out/probe.log" 2>&1; then
  echo "skipped: clang++ has no libFuzzer runtime (Debian: libclang-rt-14-dev)"
  exit 0
fi
if ! tools/amalgamate --check >/dev/null 2>&1; then
  echo "note: fastapi.hpp is not what the parts make; run tools/amalgamate (tools/test does)"
fi

echo "building $out/fuzz_parser"
launcher=""; command -v ccache >/dev/null && launcher=ccache
timeout 600 $launcher clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined \
  -fno-sanitize-recover=undefined -I"$ROOT" tests/fuzz/fuzz_parser.cpp -o "$out/fuzz_parser"

# A copy: what the fuzzer adds to its corpus stays out of the repository.
rm -rf "$out/corpus-parser"
cp -r tests/fuzz/corpus/parser "$out/corpus-parser"
rm -f "$out"/crash-* "$out"/leak-* "$out"/timeout-* "$out"/oom-*

echo "fuzzing for ${seconds}s"
status=0
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  timeout $((seconds + 120)) "$out/fuzz_parser" -max_total_time="$seconds" -max_len=4096 -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -dict=tests/fuzz/parser.dict \
    -artifact_prefix="$out/" "$out/corpus-parser" >"$out/fuzz.log" 2>&1 || status=$?
grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|Done )' "$out/fuzz.log" || true
if [ $status -ne 0 ]; then
  grep -E -A30 'ERROR|invariant broken|runtime error|Test unit written' "$out/fuzz.log" | head -n 80
  echo "FAIL: the fuzzer found a problem (exit $status); log: $out/fuzz.log" >&2
  exit 1
fi

echo "building $out/fuzz_multipart"
timeout 600 $launcher clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined \
  -fno-sanitize-recover=undefined -I"$ROOT" tests/fuzz/fuzz_multipart.cpp -o "$out/fuzz_multipart"
rm -rf "$out/corpus-multipart" "$out/tmp-multipart"
cp -r tests/fuzz/corpus/multipart "$out/corpus-multipart"
mkdir -p "$out/tmp-multipart"
echo "fuzzing the multipart parser for ${multipart_seconds}s"
# Its temporary files go to a folder of their own: none may be left behind.
TMPDIR="$ROOT/$out/tmp-multipart" ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  timeout $((multipart_seconds + 120)) "$out/fuzz_multipart" -max_total_time="$multipart_seconds" -max_len=4096 \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -dict=tests/fuzz/multipart.dict \
    -artifact_prefix="$out/" "$out/corpus-multipart" >"$out/fuzz-multipart.log" 2>&1 || status=$?
grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|Done )' "$out/fuzz-multipart.log" || true
if [ $status -ne 0 ]; then
  grep -E -A30 'ERROR|invariant broken|runtime error|Test unit written' "$out/fuzz-multipart.log" | head -n 80
  echo "FAIL: the fuzzer found a problem in the multipart parser (exit $status); log: $out/fuzz-multipart.log" >&2
  exit 1
fi
if [ -n "$(ls -A "$out/tmp-multipart")" ]; then
  echo "FAIL: the multipart fuzzer left temporary files in $out/tmp-multipart" >&2
  exit 1
fi
echo "building $out/fuzz_json"
timeout 600 $launcher clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined \
  -fno-sanitize-recover=undefined -I"$ROOT" tests/fuzz/fuzz_json.cpp -o "$out/fuzz_json"
rm -rf "$out/corpus-json"
cp -r tests/fuzz/corpus/json "$out/corpus-json"
echo "fuzzing the JSON readers for ${json_seconds}s"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  timeout $((json_seconds + 120)) "$out/fuzz_json" -max_total_time="$json_seconds" -max_len=4096 \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -dict=tests/fuzz/json.dict \
    -artifact_prefix="$out/" "$out/corpus-json" >"$out/fuzz-json.log" 2>&1 || status=$?
grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|Done )' "$out/fuzz-json.log" || true
if [ $status -ne 0 ]; then
  grep -E -A30 'ERROR|invariant broken|runtime error|Test unit written' "$out/fuzz-json.log" | head -n 80
  echo "FAIL: the fuzzer found a problem in the JSON readers (exit $status); log: $out/fuzz-json.log" >&2
  exit 1
fi
echo "no findings"
