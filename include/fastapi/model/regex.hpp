// regex: the matcher behind Pattern<"...">. pydantic checks a pattern with Rust's regex crate
// (re.search semantics: a match anywhere unless the pattern anchors itself), whose time is
// linear in the input; this is a matcher with the same guarantee, of our own:
//   - parse(): the pattern (Rust regex syntax, the subset documented in README.md) to a small
//     tree, constexpr, so that Pattern<"..."> is checked and compiled at compile time and an
//     unsupported construct is a static_assert with a sentence;
//   - emit(): the tree to a Thompson NFA program (counted repetition expanded, bounded);
//   - search(): a Pike VM over that program for short strings: every thread advances one code
//     point at a time in lock step, at most one thread per instruction, so the time is
//     O(input x program) and the memory O(program); for long strings a lazy DFA built from the
//     same program (bounded cache), one table look-up per character once its states are known.
//     Neither recurses per input character or backtracks.
// A program that declares no Pattern<> compiles none of it: the parser, the matchers and
// runtime_regex are templates (of a parameter nothing names), so that neither they nor what
// they use (std::vector, std::unique_ptr of their types) are instantiated, as the bodies of
// non-template inline functions are in every translation unit even when never called.
// Relies on meta.
#pragma once
#include "../core/meta.hpp"

#include <array>        // array
#include <cstdint>      // uint32_t
#include <memory>       // unique_ptr
#include <string_view>  // string_view
#include <utility>      // swap
#include <vector>       // vector (runtime_regex)

namespace fastapi::detail::regex {

// Why a pattern is refused; each has a sentence in compiled<> below.
enum class error : unsigned char {
    none,
    backreference,      // \1, \k<name>, (?P=name)
    lookaround,         // (?=  (?!  (?<=  (?<!
    possessive,         // a*+  a++  a?+
    unsupported_group,  // (?>...), (?#...), (?|...), ...
    unsupported_flag,   // (?x), (?R): only i, m, s (and U, which a yes/no match ignores)
    unsupported_escape, // \p{...}, \P, \Z, \G, \<, ... and escapes Rust's syntax does not have
    bad_hex,            // \x, \u, \U without a valid code point
    unclosed_group,     // (  without )
    unopened_group,     // )  without (
    unclosed_class,     // [  without ]
    class_operation,    // [a&&b], [a--b], [a~~b], nested [[...]] (Rust's class set operations)
    bad_class_range,    // [z-a], [\d-z]
    nothing_to_repeat,  // *a, (|+), ...
    bad_repetition,     // a{x}, a{2,1}, a{, a**
    repetition_too_large,  // a{1001}
    too_deep,           // groups nested more than max_depth
    too_large,          // the program would have more than max_program instructions
    bad_utf8,           // the pattern itself is not valid UTF-8
};

inline constexpr std::uint32_t max_repetition = 1000;  // n and m of {n}, {n,}, {n,m}
inline constexpr std::uint32_t max_program = 10000;    // instructions after expansion
inline constexpr int max_depth = 64;                   // nested groups
inline constexpr std::uint32_t npos = 0xffffffffu;

// A set of code points is a sorted list of disjoint ranges.
struct Range {
    char32_t lo = 0, hi = 0;
};

enum class anchor : unsigned char { text_start, text_end, line_start, line_end, word_boundary, not_word_boundary };

enum class op : unsigned char { cp, cls, split, jmp, assertion, match };
// cp: the code point a; cls: a code point in ranges [a, b); split: go on at a and at b;
// jmp: go on at a; assertion: anchor a holds here; match: the pattern matched.
struct Inst {
    op o = op::match;
    std::uint32_t a = 0, b = 0;
};

// The pattern's tree. Children of concat and alt are a list through `next`.
enum class kind : unsigned char { empty, cp, cls, assertion, concat, alt, repeat };
struct Node {
    kind k = kind::empty;
    std::uint32_t a = 0, b = 0;       // as in Inst (cp, cls, assertion)
    std::uint32_t min = 0, max = 0;   // repeat; max == npos: unbounded
    std::uint32_t child = npos;       // first child (concat, alt, repeat)
    std::uint32_t next = npos;        // next sibling
    std::uint32_t size = 0;           // instructions it emits (saturates above max_program)
};

struct parse_result {
    error err = error::none;
    std::size_t where = 0;            // byte offset of the error in the pattern
    std::uint32_t root = npos;
    std::uint32_t nodes = 0, ranges = 0;
    std::uint32_t program_size = 0;   // with the final match instruction
};

// Capacities that parse() never exceeds for a pattern of n bytes (it checks them anyway).
constexpr std::size_t node_capacity(std::size_t n) { return 2 * n + 4; }
constexpr std::size_t range_capacity(std::size_t n) { return 8 * n + 32; }

constexpr std::uint32_t sat_add(std::uint32_t x, std::uint32_t y) {
    return x + y > max_program ? max_program + 1 : x + y;
}
constexpr std::uint32_t sat_mul(std::uint32_t x, std::uint32_t y) {
    return y != 0 && x > (max_program + 1) / y ? max_program + 1 : sat_add(0, x * y);
}

// One code point of UTF-8 at s[i]: its value and length; len 0 when the bytes are not valid
// UTF-8 (overlong forms, surrogates and values above U+10FFFF included).
struct decoded {
    char32_t cp = 0;
    std::size_t len = 0;
};
constexpr decoded decode_utf8(std::string_view s, std::size_t i) {
    const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
    const unsigned char c = b(0);
    if (c < 0x80) return {c, 1};
    std::size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
    if (len == 0 || c > 0xf4 || i + len > s.size()) return {};
    char32_t cp = c & (0x7f >> len);
    for (std::size_t k = 1; k < len; ++k) {
        if ((b(k) & 0xc0) != 0x80) return {};
        cp = (cp << 6) | (b(k) & 0x3f);
    }
    constexpr char32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < least[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return {};
    return {cp, len};
}

// \d and \w are ASCII (Rust's are Unicode); \s is Unicode's White_Space, as Rust's.
inline constexpr Range digit_set[] = {{'0', '9'}};
inline constexpr Range word_set[] = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
inline constexpr Range space_set[] = {{0x09, 0x0d}, {0x20, 0x20},     {0x85, 0x85},     {0xa0, 0xa0},
                                      {0x1680, 0x1680}, {0x2000, 0x200a}, {0x2028, 0x2029}, {0x202f, 0x202f},
                                      {0x205f, 0x205f}, {0x3000, 0x3000}};
constexpr bool is_word(char32_t c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || c == '_' || (c >= 'a' && c <= 'z');
}
constexpr int hex_value(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

// Recursive descent over the pattern (recursion follows the nesting of groups, at most
// max_depth deep; the input is never looked at here). A template, as everything below that
// runs, only so that a program without a Pattern<> never instantiates what it uses.
template <class = void>
class parser {
public:
    constexpr parser(std::string_view s, Node* nodes, std::size_t node_cap, Range* ranges, std::size_t range_cap)
        : s_(s), nodes_(nodes), node_cap_(node_cap), ranges_(ranges), range_cap_(range_cap) {}

    constexpr parse_result run() {
        parse_result r;
        std::uint32_t root = parse_alt();
        if (err_ == error::none && i_ < s_.size()) fail(error::unopened_group);  // a ')' too many
        if (err_ == error::none && nodes_[root].size + 1 > max_program) fail(error::too_large);
        r.err = err_;
        r.where = where_;
        if (err_ == error::none) {
            r.root = root;
            r.nodes = n_nodes_;
            r.ranges = n_ranges_;
            r.program_size = nodes_[root].size + 1;
        }
        return r;
    }

private:
    static constexpr std::uint32_t skip = npos - 1;  // a flag group (?i): no node

    std::string_view s_;
    std::size_t i_ = 0;
    Node* nodes_;
    std::size_t node_cap_, n_nodes_ = 0;
    Range* ranges_;
    std::size_t range_cap_, n_ranges_ = 0;
    bool icase_ = false, multiline_ = false, dotall_ = false;
    int depth_ = 0;
    error err_ = error::none;
    std::size_t where_ = 0;

    constexpr std::uint32_t fail(error e) {
        if (err_ == error::none) {
            err_ = e;
            where_ = i_;
        }
        return npos;
    }
    constexpr bool at(char c) const { return i_ < s_.size() && s_[i_] == c; }
    constexpr bool at(std::string_view t) const { return s_.substr(i_, t.size()) == t; }
    constexpr bool ok() const { return err_ == error::none; }

    constexpr std::uint32_t add(Node n) {
        if (n_nodes_ == node_cap_) return fail(error::too_large);
        nodes_[n_nodes_] = n;
        return static_cast<std::uint32_t>(n_nodes_++);
    }
    constexpr bool add_range(char32_t lo, char32_t hi) {
        if (n_ranges_ == range_cap_) return fail(error::too_large), false;
        ranges_[n_ranges_++] = {lo, hi};
        return true;
    }
    template <std::size_t N>
    constexpr void add_set(const Range (&set)[N], bool negated) {
        if (!negated) {
            for (const Range& r : set) add_range(r.lo, r.hi);
            return;
        }
        char32_t from = 0;
        for (const Range& r : set) {
            if (r.lo > from) add_range(from, r.lo - 1);
            from = r.hi + 1;
        }
        if (from <= 0x10ffff) add_range(from, 0x10ffff);
    }

    // The ranges from `start` on: case-folded (ASCII letters) under (?i), sorted, merged, and
    // complemented when negated.
    constexpr std::uint32_t finish_class(std::size_t start, bool negated) {
        if (icase_) {
            const std::size_t end = n_ranges_;
            for (std::size_t k = start; k < end; ++k) {
                const Range r = ranges_[k];
                auto fold = [&](char32_t from, char32_t to) {  // r's part in from..from+25, moved to to
                    const char32_t lo = r.lo > from ? r.lo : from, hi = r.hi < from + 25 ? r.hi : from + 25;
                    if (lo <= hi) add_range(lo - from + to, hi - from + to);
                };
                fold('a', 'A');
                fold('A', 'a');
            }
        }
        if (!ok()) return npos;
        for (std::size_t k = start + 1; k < n_ranges_; ++k)  // insertion sort: classes are short
            for (std::size_t j = k; j > start && ranges_[j].lo < ranges_[j - 1].lo; --j) {
                const Range t = ranges_[j];
                ranges_[j] = ranges_[j - 1];
                ranges_[j - 1] = t;
            }
        std::size_t out = start;
        for (std::size_t k = start; k < n_ranges_; ++k) {
            if (out > start && ranges_[k].lo <= ranges_[out - 1].hi + 1) {
                if (ranges_[k].hi > ranges_[out - 1].hi) ranges_[out - 1].hi = ranges_[k].hi;
            } else {
                ranges_[out++] = ranges_[k];
            }
        }
        n_ranges_ = out;
        if (negated) {  // the complement, written after the set, then moved down over it
            const std::size_t end = n_ranges_;
            char32_t from = 0;
            for (std::size_t k = start; k < end; ++k) {
                if (ranges_[k].lo > from) add_range(from, ranges_[k].lo - 1);
                from = ranges_[k].hi + 1;
            }
            if (from <= 0x10ffff) add_range(from, 0x10ffff);
            if (!ok()) return npos;
            for (std::size_t k = end; k < n_ranges_; ++k) ranges_[start + k - end] = ranges_[k];
            n_ranges_ = start + (n_ranges_ - end);
        }
        return add({.k = kind::cls, .a = static_cast<std::uint32_t>(start), .b = static_cast<std::uint32_t>(n_ranges_), .size = 1});
    }

    constexpr std::uint32_t literal(char32_t c) {
        if (icase_ && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) {
            const std::size_t start = n_ranges_;
            add_range(c, c);
            return finish_class(start, false);
        }
        return add({.k = kind::cp, .a = static_cast<std::uint32_t>(c), .size = 1});
    }

    // alternation: concat ('|' concat)*
    constexpr std::uint32_t parse_alt() {
        std::uint32_t first = parse_concat();
        if (!ok() || !at('|')) return first;
        std::uint32_t last = first, count = 1, size = nodes_[first].size;
        while (ok() && at('|')) {
            ++i_;
            std::uint32_t next = parse_concat();
            if (!ok()) return npos;
            nodes_[last].next = next;
            last = next;
            ++count;
            size = sat_add(size, nodes_[next].size);
        }
        if (!ok()) return npos;
        return add({.k = kind::alt, .child = first, .size = sat_add(size, sat_mul(2, count - 1))});
    }

    constexpr std::uint32_t parse_concat() {
        std::uint32_t first = npos, last = npos, count = 0, size = 0;
        while (ok() && i_ < s_.size() && !at('|') && !at(')')) {
            std::uint32_t item = parse_repeat();
            if (!ok()) return npos;
            if (item == skip) continue;
            if (first == npos) first = item;
            else nodes_[last].next = item;
            last = item;
            ++count;
            size = sat_add(size, nodes_[item].size);
        }
        if (!ok()) return npos;
        if (count == 0) return add({.k = kind::empty});
        if (count == 1) return first;
        return add({.k = kind::concat, .child = first, .size = size});
    }

    constexpr bool is_quantifier() const { return at('*') || at('+') || at('?') || at('{'); }

    constexpr bool parse_number(std::uint32_t& out) {
        if (!(i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9')) return false;
        std::uint32_t v = 0;
        while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
            v = v > 100000 ? 100000 : v * 10 + static_cast<std::uint32_t>(s_[i_] - '0');
            ++i_;
        }
        out = v;
        return true;
    }

    // atom quantifier?, where quantifier is * + ? {n} {n,} {n,m}, each optionally lazy (?).
    constexpr std::uint32_t parse_repeat() {
        std::uint32_t atom = parse_atom();
        if (!ok() || !is_quantifier()) return atom;
        if (atom == skip) return fail(error::nothing_to_repeat);
        std::uint32_t min = 0, max = npos;
        if (at('*')) ++i_;
        else if (at('+')) ++i_, min = 1;
        else if (at('?')) ++i_, max = 1;
        else {  // {n}, {n,}, {n,m}
            ++i_;
            if (!parse_number(min)) return fail(error::bad_repetition);
            max = min;
            if (at(',')) {
                ++i_;
                max = npos;
                if (!at('}') && !parse_number(max)) return fail(error::bad_repetition);
            }
            if (!at('}')) return fail(error::bad_repetition);
            ++i_;
            if (min > max_repetition || (max != npos && max > max_repetition)) return fail(error::repetition_too_large);
            if (max < min) return fail(error::bad_repetition);
        }
        if (at('?')) ++i_;  // lazy: the same yes/no answer
        else if (at('+')) return fail(error::possessive);
        if (is_quantifier()) return fail(error::bad_repetition);  // a quantifier of a quantifier
        const std::uint32_t s = nodes_[atom].size;
        std::uint32_t size = max == npos ? (min == 0 ? sat_add(s, 2) : sat_add(sat_mul(min, s), 1))
                                         : sat_add(sat_mul(min, s), sat_mul(max - min, sat_add(s, 1)));
        return add({.k = kind::repeat, .min = min, .max = max, .child = atom, .size = size});
    }

    constexpr std::uint32_t parse_atom() {
        const char c = s_[i_];
        switch (c) {
            case '(': return parse_group();
            case '[': return parse_class();
            case '*': case '+': case '?': case '{': return fail(error::nothing_to_repeat);
            case '.': {
                ++i_;
                const std::size_t start = n_ranges_;
                if (dotall_) add_range(0, 0x10ffff);
                else add_range(0, '\n' - 1), add_range('\n' + 1, 0x10ffff);
                return finish_class(start, false);
            }
            case '^': ++i_; return add({.k = kind::assertion, .a = static_cast<std::uint32_t>(multiline_ ? anchor::line_start : anchor::text_start), .size = 1});
            case '$': ++i_; return add({.k = kind::assertion, .a = static_cast<std::uint32_t>(multiline_ ? anchor::line_end : anchor::text_end), .size = 1});
            case '\\': {
                ++i_;
                if (i_ == s_.size()) return fail(error::unsupported_escape);
                const char e = s_[i_];
                auto assertion = [&](anchor a) { ++i_; return add({.k = kind::assertion, .a = static_cast<std::uint32_t>(a), .size = 1}); };
                if (e == 'A') return assertion(anchor::text_start);
                if (e == 'z') return assertion(anchor::text_end);
                if (e == 'b') return assertion(anchor::word_boundary);
                if (e == 'B') return assertion(anchor::not_word_boundary);
                const std::size_t start = n_ranges_;
                char32_t cp = 0;
                if (!parse_escape(cp)) return npos;
                if (n_ranges_ != start) return finish_class(start, false);  // \d, \w, \s, ...
                return literal(cp);
            }
            default: {
                decoded d = decode_utf8(s_, i_);
                if (d.len == 0) return fail(error::bad_utf8);
                i_ += d.len;
                return literal(d.cp);
            }
        }
    }

    // After a backslash (s_[i_] is the escaped character): a code point in `cp`, or a class
    // (\d \w \s \D \W \S) appended to the ranges. False on an error.
    constexpr bool parse_escape(char32_t& cp) {
        const char e = s_[i_++];
        switch (e) {
            case 'd': return add_set(digit_set, false), ok();
            case 'D': return add_set(digit_set, true), ok();
            case 'w': return add_set(word_set, false), ok();
            case 'W': return add_set(word_set, true), ok();
            case 's': return add_set(space_set, false), ok();
            case 'S': return add_set(space_set, true), ok();
            case 'n': cp = '\n'; return true;
            case 't': cp = '\t'; return true;
            case 'r': cp = '\r'; return true;
            case 'f': cp = '\f'; return true;
            case 'v': cp = '\v'; return true;
            case 'a': cp = '\a'; return true;
            case 'x': case 'u': case 'U': {
                // \xHH, \uHHHH, \UHHHHHHHH, or any of them with {H...} (1 to 8 digits)
                std::size_t digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
                const bool braced = at('{');
                if (braced) ++i_, digits = 8;
                std::uint32_t v = 0;
                std::size_t n = 0;
                while (n < digits && i_ < s_.size() && hex_value(s_[i_]) >= 0) {
                    v = v * 16 + static_cast<std::uint32_t>(hex_value(s_[i_++]));
                    ++n;
                }
                if (braced) {
                    if (n == 0 || !at('}')) return fail(error::bad_hex), false;
                    ++i_;
                } else if (n != digits) {
                    return fail(error::bad_hex), false;
                }
                if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return fail(error::bad_hex), false;
                cp = v;
                return true;
            }
            case 'k': return fail(error::backreference), false;
            default: break;
        }
        if (e >= '0' && e <= '9') {
            --i_;
            return fail(e == '0' ? error::unsupported_escape : error::backreference), false;
        }
        // Any ASCII punctuation may be escaped, as in Rust; \< and \> are Rust's word
        // boundaries, not supported here.
        const auto u = static_cast<unsigned char>(e);
        if (u > 0x20 && u < 0x7f && !(e >= 'a' && e <= 'z') && !(e >= 'A' && e <= 'Z') && e != '<' && e != '>') {
            cp = u;
            return true;
        }
        --i_;
        return fail(error::unsupported_escape), false;
    }

    constexpr std::uint32_t parse_group() {
        ++i_;  // (
        const bool saved_icase = icase_, saved_multiline = multiline_, saved_dotall = dotall_;
        if (at('?')) {
            ++i_;
            if (at("P<") || (at('<') && !at("<=") && !at("<!"))) {  // a named group
                i_ += at('P') ? 2 : 1;
                const std::size_t start = i_;
                while (i_ < s_.size() && (is_word(static_cast<unsigned char>(s_[i_])) || at('.') || at('[') || at(']'))) ++i_;
                if (i_ == start || !at('>') || (s_[start] >= '0' && s_[start] <= '9'))
                    return fail(error::unsupported_group);
                ++i_;
            } else if (at("P=")) {
                return fail(error::backreference);
            } else if (at('=') || at('!') || at("<=") || at("<!")) {
                return fail(error::lookaround);
            } else if (at(':')) {
                ++i_;
            } else {  // flags: (?flags) or (?flags:...)
                bool negate = false, any = false;
                while (i_ < s_.size() && !at(':') && !at(')')) {
                    const char f = s_[i_];
                    if (f == '-' && !negate) negate = true;
                    else if (f == 'i') icase_ = !negate;
                    else if (f == 'm') multiline_ = !negate;
                    else if (f == 's') dotall_ = !negate;
                    else if (f == 'U') {}  // swaps greedy and lazy: the same yes/no answer
                    else if (f == 'x' || f == 'R') return fail(error::unsupported_flag);
                    else return fail(error::unsupported_group);
                    any = any || f != '-';
                    ++i_;
                }
                if (!any || i_ == s_.size()) return fail(any ? error::unclosed_group : error::unsupported_group);
                if (at(')')) {  // (?i): for the rest of the enclosing group
                    ++i_;
                    return skip;
                }
                ++i_;  // ':'
            }
        }
        if (++depth_ > max_depth) return fail(error::too_deep);
        std::uint32_t inner = parse_alt();
        --depth_;
        if (!ok()) return npos;
        if (!at(')')) return fail(error::unclosed_group);
        ++i_;
        icase_ = saved_icase, multiline_ = saved_multiline, dotall_ = saved_dotall;
        return inner;
    }

    // One element of a class: a code point (true, in cp) or a set appended to the ranges.
    constexpr bool class_item(char32_t& cp, bool& is_set) {
        is_set = false;
        if (at('\\')) {
            ++i_;
            if (i_ == s_.size()) return fail(error::unclosed_class), false;
            const std::size_t before = n_ranges_;
            if (!parse_escape(cp)) return false;
            is_set = n_ranges_ != before;
            return true;
        }
        if (at("[:")) {  // [:alpha:], [:^alpha:]: ASCII classes, as in Rust
            struct named { std::string_view name; Range r[4]; std::size_t n; };
            constexpr named table[] = {
                {"alnum", {{'0', '9'}, {'A', 'Z'}, {'a', 'z'}}, 3}, {"alpha", {{'A', 'Z'}, {'a', 'z'}}, 2},
                {"ascii", {{0, 0x7f}}, 1},  {"blank", {{'\t', '\t'}, {' ', ' '}}, 2},
                {"cntrl", {{0, 0x1f}, {0x7f, 0x7f}}, 2},  {"digit", {{'0', '9'}}, 1},
                {"graph", {{'!', '~'}}, 1},  {"lower", {{'a', 'z'}}, 1},
                {"print", {{' ', '~'}}, 1},  {"punct", {{'!', '/'}, {':', '@'}, {'[', '`'}, {'{', '~'}}, 4},
                {"space", {{'\t', '\r'}, {' ', ' '}}, 2},  {"upper", {{'A', 'Z'}}, 1},
                {"word", {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}}, 4},
                {"xdigit", {{'0', '9'}, {'A', 'F'}, {'a', 'f'}}, 3},
            };
            const std::size_t close = s_.find(":]", i_ + 2);
            if (close == std::string_view::npos) return fail(error::class_operation), false;
            std::string_view name = s_.substr(i_ + 2, close - i_ - 2);
            const bool negated = !name.empty() && name[0] == '^';
            if (negated) name.remove_prefix(1);
            for (const named& n : table) {
                if (n.name != name) continue;
                i_ = close + 2;
                char32_t from = 0;
                for (std::size_t k = 0; k < n.n; ++k) {
                    if (!negated) add_range(n.r[k].lo, n.r[k].hi);
                    else if (n.r[k].lo > from) add_range(from, n.r[k].lo - 1);
                    from = n.r[k].hi + 1;
                }
                if (negated) add_range(from, 0x10ffff);
                is_set = true;
                return ok();
            }
            return fail(error::class_operation), false;
        }
        if (at('[') || at("&&") || at("--") || at("~~")) return fail(error::class_operation), false;
        decoded d = decode_utf8(s_, i_);
        if (d.len == 0) return fail(error::bad_utf8), false;
        i_ += d.len;
        cp = d.cp;
        return true;
    }

    constexpr std::uint32_t parse_class() {
        ++i_;  // [
        const bool negated = at('^');
        if (negated) ++i_;
        const std::size_t start = n_ranges_;
        bool first = true;
        for (;;) {
            if (i_ >= s_.size()) return fail(error::unclosed_class);
            if (at(']') && !first) break;
            first = false;
            char32_t lo = 0;
            bool lo_set = false;
            if (!class_item(lo, lo_set)) return npos;
            if (at("--")) return fail(error::class_operation);
            if (at('-') && i_ + 1 < s_.size() && s_[i_ + 1] != ']') {
                ++i_;
                char32_t hi = 0;
                bool hi_set = false;
                if (lo_set || !class_item(hi, hi_set)) return fail(error::bad_class_range);
                if (hi_set || hi < lo) return fail(error::bad_class_range);
                add_range(lo, hi);
            } else if (!lo_set) {
                add_range(lo, lo);
            }
            if (!ok()) return npos;
        }
        ++i_;  // ]
        return finish_class(start, negated);
    }
};

template <class = void>
constexpr parse_result parse(std::string_view pattern, Node* nodes, std::size_t node_cap, Range* ranges,
                             std::size_t range_cap) {
    return parser<>(pattern, nodes, node_cap, ranges, range_cap).run();
}

// The program of node id from pc on; returns the pc after it. Every jump target is known
// before its code is written: a node emits exactly nodes[id].size instructions.
template <class = void>
constexpr std::uint32_t emit(const Node* nodes, std::uint32_t id, Inst* out, std::uint32_t pc) {
    const Node& n = nodes[id];
    switch (n.k) {
        case kind::empty: return pc;
        case kind::cp: out[pc] = {op::cp, n.a, 0}; return pc + 1;
        case kind::cls: out[pc] = {op::cls, n.a, n.b}; return pc + 1;
        case kind::assertion: out[pc] = {op::assertion, n.a, 0}; return pc + 1;
        case kind::concat:
            for (std::uint32_t c = n.child; c != npos; c = nodes[c].next) pc = emit(nodes, c, out, pc);
            return pc;
        case kind::alt: {
            const std::uint32_t end = pc + n.size;
            for (std::uint32_t c = n.child; c != npos; c = nodes[c].next) {
                if (nodes[c].next == npos) return emit(nodes, c, out, pc);
                const std::uint32_t split = pc++;
                pc = emit(nodes, c, out, pc);
                out[pc] = {op::jmp, end, 0};
                ++pc;
                out[split] = {op::split, split + 1, pc};
            }
            return pc;
        }
        case kind::repeat: {
            const std::uint32_t end = pc + n.size;
            const std::uint32_t s = nodes[n.child].size;
            if (n.max == npos && n.min == 0) {  // L: split L+1, end; x; jmp L
                out[pc] = {op::split, pc + 1, end};
                emit(nodes, n.child, out, pc + 1);
                out[end - 1] = {op::jmp, pc, 0};
                return end;
            }
            for (std::uint32_t k = 0; k < n.min; ++k) pc = emit(nodes, n.child, out, pc);
            if (n.max == npos) {  // x{n,} = x{n-1} x+: split back to the last copy
                out[pc] = {op::split, pc - s, pc + 1};
                return pc + 1;
            }
            for (std::uint32_t k = n.min; k < n.max; ++k) {  // (split next, end; x) per optional copy
                out[pc] = {op::split, pc + 1, end};
                pc = emit(nodes, n.child, out, pc + 1);
            }
            return pc;
        }
    }
    return pc;
}

// The Pike VM. Threads are instruction indexes; the list of the next position is built with
// a mark per instruction (the position it was last added at), so no instruction runs twice
// at one position and an empty loop cannot spin.
struct program {
    const Inst* code;
    std::uint32_t size;
    const Range* ranges;
};

template <class = void>
bool in_class(const Range* r, std::uint32_t lo, std::uint32_t end, char32_t c) noexcept {
    std::uint32_t hi = end;
    while (lo < hi) {  // binary search for the first range with r.hi >= c
        const std::uint32_t mid = lo + (hi - lo) / 2;
        if (r[mid].hi < c) lo = mid + 1;
        else hi = mid;
    }
    return lo < end && r[lo].lo <= c;
}

template <class = void>
bool pike_search(const program& p, std::string_view text) {
    constexpr char32_t none = 0xffffffffu;  // before the start, after the end
    const std::uint32_t n = p.size;
    // One buffer: mark[n], two thread lists[n], the stack of a closure[2n + 1].
    constexpr std::uint32_t small = 64;
    std::uint32_t local[small * 5 + 1];
    std::unique_ptr<std::uint32_t[]> heap;
    std::uint32_t* buf = local;
    if (n > small) {
        heap.reset(new std::uint32_t[std::size_t(n) * 5 + 1]);
        buf = heap.get();
    }
    std::uint32_t* mark = buf;
    std::uint32_t* clist = buf + n;
    std::uint32_t* nlist = buf + 2 * n;
    std::uint32_t* stack = buf + 3 * n;
    for (std::uint32_t k = 0; k < n; ++k) mark[k] = 0;
    std::uint32_t gen = 1, cn = 0, nn = 0;

    // Code point at byte i (an invalid byte counts as one U+FFFD), or none at the end.
    auto at = [&](std::size_t i) -> decoded {
        if (i >= text.size()) return {none, 0};
        decoded d = decode_utf8(text, i);
        return d.len ? d : decoded{0xfffd, 1};
    };
    std::size_t pos = 0;
    char32_t prev = none;
    decoded next = at(0);
    auto holds = [&](anchor a) {
        switch (a) {
            case anchor::text_start: return pos == 0;
            case anchor::text_end: return pos == text.size();
            case anchor::line_start: return pos == 0 || prev == '\n';
            case anchor::line_end: return pos == text.size() || next.cp == '\n';
            case anchor::word_boundary: return (prev != none && is_word(prev)) != (next.cp != none && is_word(next.cp));
            case anchor::not_word_boundary: return (prev != none && is_word(prev)) == (next.cp != none && is_word(next.cp));
        }
        return false;
    };
    // Adds pc and what it reaches without consuming input to the list; true on a match.
    auto add = [&](std::uint32_t pc, std::uint32_t* list, std::uint32_t& count) {
        std::uint32_t sp = 0;
        stack[sp++] = pc;
        while (sp) {
            pc = stack[--sp];
            if (mark[pc] == gen) continue;
            mark[pc] = gen;
            const Inst& in = p.code[pc];
            switch (in.o) {
                case op::match: return true;
                case op::jmp: stack[sp++] = in.a; break;
                case op::split: stack[sp++] = in.b; stack[sp++] = in.a; break;
                case op::assertion: if (holds(static_cast<anchor>(in.a))) stack[sp++] = pc + 1; break;
                case op::cp: case op::cls: list[count++] = pc; break;
            }
        }
        return false;
    };
    const bool anchored = p.code[0].o == op::assertion && static_cast<anchor>(p.code[0].a) == anchor::text_start;
    if (add(0, clist, cn)) return true;
    while (pos < text.size()) {
        const char32_t c = next.cp;
        pos += next.len;
        prev = c;
        next = at(pos);
        if (++gen == 0) {  // wrapped (4 G positions): start the marks again
            for (std::uint32_t k = 0; k < n; ++k) mark[k] = 0;
            gen = 1;
        }
        nn = 0;
        for (std::uint32_t k = 0; k < cn; ++k) {
            const Inst& in = p.code[clist[k]];
            const bool takes = in.o == op::cp ? in.a == c : in_class(p.ranges, in.a, in.b, c);
            if (takes && add(clist[k] + 1, nlist, nn)) return true;
        }
        if (!anchored && add(0, nlist, nn)) return true;
        std::swap(clist, nlist);
        cn = nn;
        if (anchored && cn == 0) return false;
    }
    return false;
}

// The lazy DFA, for long strings: a pattern with many threads alive at once (a long counted
// repetition searched for anywhere) then costs a table look-up per character instead of a step
// per thread. A state is the set of instructions the Pike VM would resume from, with what the
// previous character was (for ^ $ \b \B); a transition is computed the first time it is taken,
// for one class of code points the program cannot tell apart. The cache holds at most
// dfa_max_states states and dfa_max_transitions transitions: when full it is emptied and
// refilled, so the worst case is the Pike VM's time, never more memory.
inline constexpr std::uint32_t dfa_max_states = 4096;
inline constexpr std::size_t dfa_max_transitions = std::size_t(1) << 20;  // 4 MiB

template <class = void>
bool dfa_search(const program& p, std::string_view text) {
    const std::uint32_t n = p.size;
    constexpr std::uint32_t unknown = 0xffffffffu, matched = 0xfffffffeu, unmatched = 0xfffffffdu;
    // The classes: every range and code point the program tests, the word characters (\b), '\n'.
    std::vector<std::uint32_t> bounds{0, '\n', '\n' + 1, '0', '9' + 1, 'A', 'Z' + 1, '_', '_' + 1, 'a', 'z' + 1};
    for (std::uint32_t pc = 0; pc < n; ++pc) {
        const Inst& in = p.code[pc];
        if (in.o == op::cp) bounds.push_back(in.a), bounds.push_back(in.a + 1);
        if (in.o == op::cls)
            for (std::uint32_t r = in.a; r < in.b; ++r) bounds.push_back(p.ranges[r].lo), bounds.push_back(p.ranges[r].hi + 1);
    }
    for (std::size_t gap = bounds.size() / 2; gap > 0; gap /= 2)  // Shell sort, then unique
        for (std::size_t k = gap; k < bounds.size(); ++k)
            for (std::size_t j = k; j >= gap && bounds[j - gap] > bounds[j]; j -= gap) std::swap(bounds[j], bounds[j - gap]);
    std::size_t unique = 1;
    for (std::size_t k = 1; k < bounds.size(); ++k)
        if (bounds[k] != bounds[unique - 1]) bounds[unique++] = bounds[k];
    bounds.resize(unique);
    const std::uint32_t classes = static_cast<std::uint32_t>(bounds.size());
    const std::uint32_t stride = classes + 1;  // and the end of the text
    std::uint32_t ascii[128];  // the class of each ASCII character, looked up directly
    for (std::uint32_t c = 0, k = 0; c < 128; ++c) {
        while (k + 1 < classes && bounds[k + 1] <= c) ++k;
        ascii[c] = k;
    }
    auto class_of = [&](char32_t c) {  // the last bound <= c
        if (c < 128) return ascii[c];
        std::uint32_t lo = 0, hi = classes;
        while (hi - lo > 1) {
            const std::uint32_t mid = lo + (hi - lo) / 2;
            if (bounds[mid] <= c) lo = mid;
            else hi = mid;
        }
        return lo;
    };

    // States: [flags, pc...] in one pool; flags: 1 at the start, 2 after a word character,
    // 4 after '\n'. An open-addressing table finds a state by its contents.
    std::vector<std::uint32_t> pool, first{0}, trans, slots(2 * dfa_max_states, 0);
    const std::uint32_t max_states =
        static_cast<std::uint32_t>(dfa_max_transitions / stride < dfa_max_states ? dfa_max_transitions / stride : dfa_max_states);
    std::uint32_t states = 0, clears = 0;
    auto hash = [](const std::uint32_t* k, std::size_t len) {
        std::uint32_t h = 2166136261u;
        for (std::size_t i = 0; i < len; ++i) h = (h ^ k[i]) * 16777619u;
        return h;
    };
    auto find_or_add = [&](const std::vector<std::uint32_t>& key) {
        const std::uint32_t mask = static_cast<std::uint32_t>(slots.size() - 1);
        for (int attempt = 0; attempt < 2; ++attempt) {
            std::uint32_t h = hash(key.data(), key.size()) & mask;
            for (; slots[h] != 0; h = (h + 1) & mask) {
                const std::uint32_t id = slots[h] - 1;
                const std::uint32_t len = first[id + 1] - first[id];
                bool same = len == key.size();
                for (std::uint32_t i = 0; same && i < len; ++i) same = pool[first[id] + i] == key[i];
                if (same) return id;
            }
            if (states < (max_states > 1 ? max_states : 1)) {
                pool.insert(pool.end(), key.begin(), key.end());
                first.push_back(static_cast<std::uint32_t>(pool.size()));
                trans.resize(std::size_t(states + 1) * stride, unknown);
                slots[h] = states + 1;
                return states++;
            }
            pool.clear(), first.assign(1, 0), trans.clear(), states = 0, ++clears;  // full: start again
            for (auto& slot : slots) slot = 0;
        }
        return 0u;  // not reached: an empty table has room
    };

    std::vector<std::uint32_t> mark(n, 0), stack(2 * std::size_t(n) + 1), consumers(n), key;
    std::uint32_t gen = 0;
    const bool anchored = p.code[0].o == op::assertion && static_cast<anchor>(p.code[0].a) == anchor::text_start;
    // The transition of state s on class k: a state, matched, or (at the end) unmatched.
    auto compute = [&](std::uint32_t s, std::uint32_t k) -> std::uint32_t {
        const std::uint32_t flags = pool[first[s]];
        const bool at_end = k == classes;
        const char32_t c = at_end ? 0 : bounds[k];
        const bool next_word = !at_end && is_word(c), next_nl = !at_end && c == '\n';
        auto holds = [&](anchor a) {
            switch (a) {
                case anchor::text_start: return (flags & 1) != 0;
                case anchor::text_end: return at_end;
                case anchor::line_start: return (flags & 5) != 0;
                case anchor::line_end: return at_end || next_nl;
                case anchor::word_boundary: return ((flags & 2) != 0) != next_word;
                case anchor::not_word_boundary: return ((flags & 2) != 0) == next_word;
            }
            return false;
        };
        ++gen;
        std::uint32_t count = 0;
        for (std::uint32_t i = first[s] + 1; i < first[s + 1]; ++i) {
            std::uint32_t sp = 0;
            stack[sp++] = pool[i];
            while (sp) {
                const std::uint32_t pc = stack[--sp];
                if (mark[pc] == gen) continue;
                mark[pc] = gen;
                const Inst& in = p.code[pc];
                switch (in.o) {
                    case op::match: return matched;
                    case op::jmp: stack[sp++] = in.a; break;
                    case op::split: stack[sp++] = in.b; stack[sp++] = in.a; break;
                    case op::assertion: if (holds(static_cast<anchor>(in.a))) stack[sp++] = pc + 1; break;
                    case op::cp: case op::cls: consumers[count++] = pc; break;
                }
            }
        }
        if (at_end) return unmatched;
        ++gen;  // the instructions to resume from, in order (the key is canonical)
        for (std::uint32_t i = 0; i < count; ++i) {
            const Inst& in = p.code[consumers[i]];
            if (in.o == op::cp ? in.a == c : in_class(p.ranges, in.a, in.b, c)) mark[consumers[i] + 1] = gen;
        }
        if (!anchored) mark[0] = gen;
        key.assign(1, (next_word ? 2u : 0u) | (next_nl ? 4u : 0u));
        for (std::uint32_t pc = 0; pc < n; ++pc)
            if (mark[pc] == gen) key.push_back(pc);
        return find_or_add(key);
    };

    key.assign({1u, 0u});
    std::uint32_t s = find_or_add(key);
    std::size_t pos = 0;
    for (;;) {
        std::uint32_t k = classes, len = 0;
        if (pos < text.size() && static_cast<unsigned char>(text[pos]) < 0x80) {
            k = ascii[static_cast<unsigned char>(text[pos])];
            len = 1;
        } else if (pos < text.size()) {
            decoded d = decode_utf8(text, pos);
            if (d.len == 0) d = {0xfffd, 1};
            k = class_of(d.cp);
            len = static_cast<std::uint32_t>(d.len);
        }
        std::uint32_t t = trans[std::size_t(s) * stride + k];
        if (t == unknown) {
            const std::uint32_t before = clears;
            t = compute(s, k);
            if (clears == before) trans[std::size_t(s) * stride + k] = t;  // s survived
        }
        if (t == matched) return true;
        if (t == unmatched) return false;
        s = t;
        if (first[s + 1] == first[s] + 1) return false;  // no thread left
        pos += len;
    }
}

enum class engine : unsigned char { automatic, pike, dfa };
// Short strings (most) take the Pike VM, which needs no tables; long ones the lazy DFA.
inline constexpr std::size_t dfa_from_bytes = 256;

template <class = void>
bool search(const program& p, std::string_view text, engine e = engine::automatic) {
    if (e == engine::dfa || (e == engine::automatic && text.size() > dfa_from_bytes)) return dfa_search(p, text);
    return pike_search(p, text);
}

// A pattern compiled at compile time: the program and its ranges are constant data.
template <fixed_string S>
struct compiled {
    struct parsed_t {
        std::array<Node, node_capacity(S.size())> nodes{};
        std::array<Range, range_capacity(S.size())> ranges{};
        parse_result r{};
    };
    static constexpr parsed_t parsed = [] {
        parsed_t p{};
        p.r = parse(S.view(), p.nodes.data(), p.nodes.size(), p.ranges.data(), p.ranges.size());
        return p;
    }();
    static constexpr error err = parsed.r.err;
    static_assert(err != error::backreference,
                  "fastapi: Pattern<> uses a backreference (\\1, \\k<name>, (?P=name)), which fastapi.hpp's linear-time "
                  "matcher does not support (pydantic's Rust regex syntax has none either)");
    static_assert(err != error::lookaround,
                  "fastapi: Pattern<> uses a lookahead or lookbehind ((?=, (?!, (?<=, (?<!), which fastapi.hpp's "
                  "linear-time matcher does not support (pydantic's Rust regex syntax has none either)");
    static_assert(err != error::possessive,
                  "fastapi: Pattern<> uses a possessive quantifier (*+, ++, ?+), which Rust's regex syntax (pydantic's) "
                  "does not have; write the quantifier without the +");
    static_assert(err != error::unsupported_group,
                  "fastapi: Pattern<> uses a group syntax fastapi.hpp does not support: groups are (...), (?:...), "
                  "(?P<name>...), (?<name>...) and flags (?i) (?m) (?s) (?i:...)");
    static_assert(err != error::unsupported_flag,
                  "fastapi: Pattern<> uses a flag fastapi.hpp does not support: only (?i), (?m), (?s) and (?U)");
    static_assert(err != error::unsupported_escape,
                  "fastapi: Pattern<> uses an escape fastapi.hpp does not support: \\d \\w \\s \\D \\W \\S \\b \\B \\A "
                  "\\z \\n \\t \\r \\f \\v \\a \\xHH \\x{H...} \\uHHHH \\UHHHHHHHH and escaped punctuation; no \\p{...} "
                  "Unicode classes");
    static_assert(err != error::bad_hex,
                  "fastapi: Pattern<> has a malformed \\x, \\u or \\U escape (\\xHH, \\x{H...}, \\uHHHH, \\UHHHHHHHH, at "
                  "most U+10FFFF, no surrogates)");
    static_assert(err != error::unclosed_group, "fastapi: Pattern<> has a '(' without its ')'");
    static_assert(err != error::unopened_group, "fastapi: Pattern<> has a ')' without its '(' (write \\) for the character)");
    static_assert(err != error::unclosed_class, "fastapi: Pattern<> has a '[' without its ']' (write \\[ for the character)");
    static_assert(err != error::class_operation,
                  "fastapi: Pattern<> uses a nested class or a class set operation ([[...]], &&, --, ~~) or an unknown "
                  "[:name:]; fastapi.hpp does not support them (escape [ & - ~ inside a class to mean the character)");
    static_assert(err != error::bad_class_range,
                  "fastapi: Pattern<> has a class range whose end comes before its start, or whose end is a class "
                  "like \\d ([z-a], [\\d-z])");
    static_assert(err != error::nothing_to_repeat,
                  "fastapi: Pattern<> has a quantifier (* + ? {n}) with nothing before it to repeat (write \\* \\+ \\? \\{ "
                  "for the character)");
    static_assert(err != error::bad_repetition,
                  "fastapi: Pattern<> has a malformed repetition: {n}, {n,} or {n,m} with n <= m, and one quantifier per "
                  "item (write \\{ for the character)");
    static_assert(err != error::repetition_too_large,
                  "fastapi: Pattern<> repeats something more than 1000 times ({n,m} above 1000); fastapi.hpp bounds "
                  "counted repetition so that a pattern cannot take unbounded memory");
    static_assert(err != error::too_deep, "fastapi: Pattern<> nests groups more than 64 deep");
    static_assert(err != error::too_large,
                  "fastapi: Pattern<> expands to more than 10000 instructions (counted repetitions are copied out); "
                  "make the counts smaller, or check the length with MaxLength<> instead");
    static_assert(err != error::bad_utf8, "fastapi: Pattern<> is not valid UTF-8");

    static constexpr std::uint32_t size = err == error::none ? parsed.r.program_size : 1;
    static constexpr std::array<Inst, size> code = [] {
        std::array<Inst, size> out{};
        if (err == error::none) out[emit(parsed.nodes.data(), parsed.r.root, out.data(), 0)] = {op::match, 0, 0};
        return out;
    }();
    static constexpr std::array<Range, parsed.r.ranges> ranges = [] {
        std::array<Range, parsed.r.ranges> out{};
        for (std::size_t k = 0; k < out.size(); ++k) out[k] = parsed.ranges[k];
        return out;
    }();
};

// Whether text contains a match of S (re.search).
template <fixed_string S>
bool search(std::string_view text) {
    using c = compiled<S>;
    return search(program{c::code.data(), c::size, c::ranges.data()}, text);
}

// A pattern compiled at run time (tests and the fuzz target; Pattern<> needs none).
template <class = void>
class basic_runtime_regex {
public:
    explicit basic_runtime_regex(std::string_view pattern) {
        std::vector<Node> nodes(node_capacity(pattern.size()));
        ranges_.resize(range_capacity(pattern.size()));
        parse_result r = parse(pattern, nodes.data(), nodes.size(), ranges_.data(), ranges_.size());
        err_ = r.err;
        where_ = r.where;
        if (err_ != error::none) return;
        ranges_.resize(r.ranges);
        code_.resize(r.program_size);
        code_[emit(nodes.data(), r.root, code_.data(), 0)] = {op::match, 0, 0};
    }
    error err() const noexcept { return err_; }
    std::size_t where() const noexcept { return where_; }
    std::size_t program_size() const noexcept { return code_.size(); }
    bool search(std::string_view text, engine e = engine::automatic) const {
        return err_ == error::none &&
               regex::search(program{code_.data(), static_cast<std::uint32_t>(code_.size()), ranges_.data()}, text, e);
    }

private:
    std::vector<Inst> code_;
    std::vector<Range> ranges_;
    error err_ = error::none;
    std::size_t where_ = 0;
};
using runtime_regex = basic_runtime_regex<>;

}  // namespace fastapi::detail::regex
