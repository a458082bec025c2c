#!/usr/bin/env bash
# No pattern, no engine: a program that declares no Pattern<> carries neither std::regex nor
# fastapi.hpp's matcher (regex.hpp), not even through OAuth2PasswordRequestForm (its
# grant_type is checked by comparison); a program with a Pattern<> carries the matcher and
# still no std::regex. Checked on the symbols of the linked programs (nm -C), at -O0: nothing
# is inlined away there, so what a program contains shows.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=build/checks/pattern_engine
mkdir -p "$out"
launcher=""; command -v ccache >/dev/null && launcher=ccache
cat >"$out/with_pattern.cpp" <<'CPP'
#include "fastapi.hpp"
struct Sku { fastapi::Field<std::string, fastapi::Pattern<"^[A-Z]{3}-\\d+$">> code; };
int main() {
    fastapi::App app;
    app.post("/sku", [](Sku s) { return s.code.value; });
    fastapi::TestClient client(app);
    return client.post("/sku", R"({"code":"ABC-12"})").status_code == 200 &&
                   client.post("/sku", R"({"code":"abc"})").status_code == 422 ? 0 : 1;
}
CPP
std_regex='std::(__cxx11::)?basic_regex|std::__detail::_(NFA|Executor|Compiler)|std::regex_'
ours='fastapi::detail::regex::'
fail=0
for opt in -O0; do
  for src in examples/hello.cpp examples/security.cpp "$out/with_pattern.cpp"; do
    bin="$out/$(basename "$src" .cpp)$opt"
    timeout 600 $launcher g++ -std=c++20 $opt -I. "$src" -pthread -o "$bin"
    syms=$(nm -C "$bin")
    n_std=$(grep -cE "$std_regex" <<<"$syms" || true)
    n_ours=$(grep -cF "$ours" <<<"$syms" || true)
    case $src in
      *with_pattern*) want_ours=yes; "$bin" || { echo "FAIL: $bin answered wrongly"; fail=1; } ;;
      *) want_ours=no ;;
    esac
    if [ "$n_std" -ne 0 ]; then
      echo "FAIL: $src ($opt) contains std::regex ($n_std symbols)"; grep -E "$std_regex" <<<"$syms" | head -n 5; fail=1
    elif [ $want_ours = no ] && [ "$n_ours" -ne 0 ]; then
      echo "FAIL: $src ($opt) declares no Pattern<> but contains the matcher ($n_ours symbols)"; grep -F "$ours" <<<"$syms" | head -n 5; fail=1
    elif [ $want_ours = yes ] && [ "$n_ours" -eq 0 ]; then
      echo "FAIL: $src ($opt) declares a Pattern<> but no matcher symbol was found (is the check still looking?)"; fail=1
    else
      echo "ok   $src ($opt): std::regex symbols $n_std, matcher symbols $n_ours"
    fi
  done
done
exit $fail
