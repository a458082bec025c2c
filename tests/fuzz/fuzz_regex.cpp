// libFuzzer target for the pattern matcher (regex.hpp) against std::regex (ECMAScript,
// regex_search). The first byte chooses what the rest is:
//   - even: choices for a small grammar of patterns both syntaxes read alike (literals,
//     escaped punctuation, ., classes with ranges and negation, \d \w \s \D \W \S \b \B,
//     ^ $, groups, (?:...), named groups, alternation, * + ? {n} {n,} {n,m} and their lazy
//     forms, (?i)), then a short ASCII input; the two engines must give the same answer, and
//     ours must accept every pattern the grammar writes; both of our engines (the Pike VM and
//     the lazy DFA) are compared;
//   - odd: the bytes are a pattern as they are, which the parser must refuse or compile
//     without a sanitizer report, and then match a few inputs with both engines alike.
// Built and run by tests/checks/fuzz.sh.
#include "fastapi.hpp"

#include <cstdint>  // uint8_t
#include <cstdio>   // fprintf
#include <cstdlib>  // abort, getenv
#include <regex>    // the oracle
#include <string>
#include <string_view>

namespace fuzz_regex {
using fastapi::detail::regex::engine;
using fastapi::detail::regex::error;
using fastapi::detail::regex::runtime_regex;

struct bytes {
    const std::uint8_t* p;
    std::size_t n;
    int quantifiers = 5;  // std::regex backtracks: a few quantifiers keep it out of exponential time
    unsigned next() { return n ? (--n, *p++) : 0; }
    bool empty() const { return n == 0; }
};

// The input alphabet: ASCII only (std::regex works on bytes), no '\r' (ECMAScript's '.'
// refuses it, Rust's takes it).
constexpr std::string_view alphabet = "abcAB01_- \n\t.x";

constexpr const char* sets[] = {"\\d", "\\w", "\\s", "\\D", "\\W", "\\S"};

void literal(bytes& b, std::string& out) {
    static constexpr std::string_view plain = "abcAB01_ x";
    static constexpr std::string_view escaped = ".*+?()[]{}|^$\\/";
    const unsigned c = b.next();
    if (c % 4 == 0) out += '\\', out += escaped[(c / 4) % escaped.size()];
    else out += plain[c % plain.size()];
}

void klass(bytes& b, std::string& out) {
    out += '[';
    if (b.next() % 3 == 0) out += '^';
    const unsigned items = 1 + b.next() % 3;
    for (unsigned k = 0; k < items; ++k) {
        const unsigned c = b.next();
        switch (c % 5) {
            case 0: out += sets[(c / 5) % 6]; break;
            case 1: out += "a-c"; break;
            case 2: out += "0-9"; break;
            case 3: out += "A-Z"; break;
            default: out += "abc_ .x"[(c / 5) % 7]; break;
        }
    }
    out += ']';
}

bool alternation(bytes& b, std::string& out, int depth);

// Appends an item; true when it can match the empty string. A group that can is only ever
// made optional (?), not repeated: libstdc++ takes exponential time on repeated empty loops.
bool item(bytes& b, std::string& out, int depth) {
    const unsigned c = b.next();
    bool quantifiable = true, nullable = false;
    switch (c % 12) {
        case 0: case 1: case 2: literal(b, out); break;
        case 3: out += '.'; break;
        case 4: klass(b, out); break;
        case 5: out += sets[(c / 12) % 6]; break;
        case 6: out += (c / 12) % 2 ? "\\b" : "\\B"; quantifiable = false, nullable = true; break;
        case 7: out += (c / 12) % 2 ? "^" : "$"; quantifiable = false, nullable = true; break;
        case 8: case 9: case 10:
            if (depth >= 3) { literal(b, out); break; }
            out += (c % 12) == 8 ? "(" : (c % 12) == 9 ? "(?:" : (c / 12) % 2 ? "(?<g>" : "(?P<g>";
            nullable = alternation(b, out, depth + 1);
            out += ')';
            break;
        default: literal(b, out); literal(b, out); break;
    }
    if (!quantifiable || b.quantifiers == 0) return nullable;
    --b.quantifiers;
    const unsigned q = b.next();
    if (nullable && q % 10 != 2) return true;
    switch (q % 10) {
        case 0: out += '*'; nullable = true; break;
        case 1: out += '+'; break;
        case 2: out += '?'; nullable = true; break;
        case 3: out += '{' + std::to_string(q / 10 % 4) + '}'; nullable = nullable || q / 10 % 4 == 0; break;
        case 4: out += '{' + std::to_string(q / 10 % 3) + ",}"; nullable = nullable || q / 10 % 3 == 0; break;
        case 5:
            out += '{' + std::to_string(q / 10 % 3) + ',' + std::to_string(q / 10 % 3 + q / 40 % 3) + '}';
            nullable = nullable || q / 10 % 3 == 0;
            break;
        default: return nullable;  // none
    }
    if (b.next() % 4 == 0) out += '?';  // lazy
    return nullable;
}

bool alternation(bytes& b, std::string& out, int depth) {
    const unsigned branches = 1 + b.next() % 3 / 2;
    bool nullable = false;
    for (unsigned k = 0; k < branches; ++k) {
        if (k) out += '|';
        const unsigned items = b.next() % 4;
        bool all = true;
        for (unsigned i = 0; i < items && !b.empty() && out.size() < 48; ++i) all = item(b, out, depth) && all;
        nullable = nullable || all;
    }
    return nullable;
}

[[noreturn]] void broken(const char* what, const std::string& pattern, const std::string& input, bool a, bool b) {
    std::fprintf(stderr, "fuzz_regex: invariant broken: %s\npattern: %s\ninput: \"%s\"\nanswers: %d and %d\n",
                 what, pattern.c_str(), input.c_str(), a, b);
    std::abort();
}

void differential(bytes b) {
    const bool icase = b.next() % 4 == 0;
    std::string pattern;
    alternation(b, pattern, 0);
    std::string input;
    for (unsigned k = 0; k < 10 && !b.empty(); ++k) input += alphabet[b.next() % alphabet.size()];

    if (std::getenv("FUZZ_REGEX_PRINT"))  // to read what a saved input stands for
        std::fprintf(stderr, "pattern: %s%s\ninput: \"%s\"\n", icase ? "(?i)" : "", pattern.c_str(), input.c_str());
    runtime_regex ours(icase ? "(?i)" + pattern : pattern);
    if (ours.err() != error::none) broken("a pattern of the common grammar refused", pattern, input, false, false);
    // std::regex has no named groups: they are plain groups to it.
    std::string plain = pattern;
    for (std::string_view named : {"(?<g>", "(?P<g>"})
        for (std::size_t at; (at = plain.find(named)) != std::string::npos;) plain.replace(at, named.size(), "(");
    bool theirs = false;
    try {
        auto flags = std::regex::ECMAScript | (icase ? std::regex::icase : std::regex::ECMAScript);
        theirs = std::regex_search(input, std::regex(plain, flags));
    } catch (const std::regex_error&) {
        return;  // std::regex refuses it (e.g. a quantified empty group): nothing to compare
    }
    const bool pike = ours.search(input, engine::pike);
    if (pike != theirs) broken("the Pike VM and std::regex disagree", pattern, input, pike, theirs);
    const bool dfa = ours.search(input, engine::dfa);
    if (dfa != theirs) broken("the lazy DFA and std::regex disagree", pattern, input, dfa, theirs);
}

void raw(bytes b) {
    const std::string pattern(reinterpret_cast<const char*>(b.p), b.n);
    runtime_regex r(pattern);
    if (r.err() != error::none) return;
    for (std::string_view in : {"", "a", "abc ABC 012 _-.\n", "\xc3\xa9t\xc3\xa9", "\xff\xfe", "x y\nz"}) {
        const bool pike = r.search(in, engine::pike), dfa = r.search(in, engine::dfa);
        if (pike != dfa) broken("the Pike VM and the lazy DFA disagree", pattern, std::string(in), pike, dfa);
    }
}
}  // namespace fuzz_regex

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0 || size > 512) return 0;
    fuzz_regex::bytes b{data + 1, size - 1};
    if (data[0] % 2 == 0) fuzz_regex::differential(b);
    else fuzz_regex::raw(b);
    return 0;
}
