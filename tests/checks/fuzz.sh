#!/usr/bin/env bash
# Fuzzes the HTTP request parser, the multipart/form-data parser, the direct JSON reader
# (against the reference reader), the pattern matcher (against std::regex) and the WebSocket
# frame parser for a bounded time each
# with libFuzzer, AddressSanitizer (leaks included) and UBSan: tests/fuzz/fuzz_parser.cpp on a
# copy of tests/fuzz/corpus/parser/, tests/fuzz/fuzz_multipart.cpp on tests/fuzz/corpus/multipart/,
# tests/fuzz/fuzz_json.cpp on tests/fuzz/corpus/json/, tests/fuzz/fuzz_regex.cpp on
# tests/fuzz/corpus/regex/, tests/fuzz/fuzz_websocket.cpp on tests/fuzz/corpus/websocket/,
# tests/fuzz/fuzz_websocket_deflate.cpp (with zlib) on tests/fuzz/corpus/websocket_deflate/.
# Fails when the fuzzer finds a crash, leak, timeout or broken invariant (the input is left in
# build/fuzz/). Without clang++ and its fuzzer runtime it says so and passes.
#   FUZZ_SECONDS=300 tests/checks/fuzz.sh     fuzz the HTTP parser longer
#   MULTIPART_FUZZ_SECONDS=120 ...             and the multipart parser (default 20)
#   JSON_FUZZ_SECONDS=120 ...                  and the JSON readers (default 20)
#   REGEX_FUZZ_SECONDS=120 ...                 and the pattern matcher (default 20)
#   WEBSOCKET_FUZZ_SECONDS=120 ...             and the WebSocket frame parser and inflater (default 20 each)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
out=build/fuzz
seconds=${FUZZ_SECONDS:-30}
multipart_seconds=${MULTIPART_FUZZ_SECONDS:-20}
json_seconds=${JSON_FUZZ_SECONDS:-20}
regex_seconds=${REGEX_FUZZ_SECONDS:-20}
websocket_seconds=${WEBSOCKET_FUZZ_SECONDS:-20}

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

launcher=""; command -v ccache >/dev/null && launcher=ccache
rm -f "$out"/crash-* "$out"/leak-* "$out"/timeout-* "$out"/oom-*

# fuzz NAME SECONDS WHAT: builds tests/fuzz/fuzz_NAME.cpp and runs it on a copy of
# tests/fuzz/corpus/NAME (what the fuzzer adds stays out of the repository) with
# tests/fuzz/NAME.dict; exits on a finding, the input left in build/fuzz/.
fuzz() {
  local name=$1 secs=$2 what=$3 status=0
  echo "building $out/fuzz_$name"
  timeout 600 $launcher clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=undefined -I"$ROOT" ${FUZZ_EXTRA_FLAGS:-} "tests/fuzz/fuzz_$name.cpp" -o "$out/fuzz_$name" ${FUZZ_EXTRA_LIBS:-}
  rm -rf "$out/corpus-$name"
  cp -r "tests/fuzz/corpus/$name" "$out/corpus-$name"
  echo "fuzzing $what for ${secs}s"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    timeout $((secs + 120)) "$out/fuzz_$name" -max_total_time="$secs" -max_len=4096 -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 -dict="tests/fuzz/$name.dict" \
      -artifact_prefix="$out/" "$out/corpus-$name" >"$out/fuzz-$name.log" 2>&1 || status=$?
  grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|Done )' "$out/fuzz-$name.log" || true
  if [ $status -ne 0 ]; then
    grep -E -A30 'ERROR|invariant broken|runtime error|Test unit written' "$out/fuzz-$name.log" | head -n 80
    echo "FAIL: the fuzzer found a problem in $what (exit $status); log: $out/fuzz-$name.log" >&2
    exit 1
  fi
}

fuzz parser "$seconds" "the HTTP request parser"

# The multipart parser's temporary files go to a folder of their own: none may be left behind.
rm -rf "$out/tmp-multipart"
mkdir -p "$out/tmp-multipart"
TMPDIR="$ROOT/$out/tmp-multipart" fuzz multipart "$multipart_seconds" "the multipart parser"
if [ -n "$(ls -A "$out/tmp-multipart")" ]; then
  echo "FAIL: the multipart fuzzer left temporary files in $out/tmp-multipart" >&2
  exit 1
fi

fuzz json "$json_seconds" "the JSON readers"
fuzz regex "$regex_seconds" "the pattern matcher"
fuzz websocket "$websocket_seconds" "the WebSocket frame parser"
FUZZ_EXTRA_FLAGS=-DFASTAPI_WITH_ZLIB FUZZ_EXTRA_LIBS=-lz \
  fuzz websocket_deflate "$websocket_seconds" "permessage-deflate's offers and inflater"
echo "no findings"
