// json_reader: a request body read straight into the handler's type, with no picojson tree in
// between (the tree's allocations and std::map were most of the cost of a small POST).
// It takes only the road on which nothing needs converting or reporting: a JSON string for a
// std::string, an integer literal in range for an int, null for an empty optional, each key
// once, every constraint met. On anything else it gives up, and the caller reads the body the
// reference way (parse_json_body + from_json), which reports every problem as FastAPI does.
// So this reader never decides what is an error; when it succeeds, the reference reader gives
// the same value (tests/fuzz/fuzz_json.cpp checks exactly that on arbitrary input).
// The cursor is plain inline code, compiled once; only the per-type dispatch is a template.
// Relies on json (the reference reader, UTF-8 checks), validation (constraints) and model
// (field specs, wire names).
#pragma once
#include "json.hpp"
#include "model.hpp"
#include "validation.hpp"

#include <charconv>     // from_chars
#include <cstdint>      // int64_t, uint64_t
#include <limits>       // numeric_limits
#include <stdexcept>    // overflow_error
#include <string>       // string
#include <string_view>  // string_view

namespace fastapi {
namespace detail {

// Reads JSON text token by token. Every read_* skips whitespace first and returns false, for
// the caller to give up, on anything it does not take.
class JsonCursor {
public:
    explicit JsonCursor(std::string_view text) noexcept : p_(text.data()), end_(text.data() + text.size()) {}

    // Only whitespace is left.
    bool at_end() noexcept {
        skip_ws();
        return p_ == end_;
    }
    // Consumes `null` when it comes next.
    bool read_null() noexcept { return literal("null"); }
    bool read_bool(bool& out) noexcept {
        if (literal("true")) return (out = true), true;
        if (literal("false")) return (out = false), true;
        return false;
    }
    // An integer literal that fits; fractions and exponents are left to the reference reader.
    bool read_integer(std::int64_t& out) noexcept {
        const char* begin = nullptr;
        bool integral = false;
        if (!scan_number(begin, integral) || !integral) return false;
        auto r = std::from_chars(begin, p_, out);
        return r.ec == std::errc() && r.ptr == p_;
    }
    // A non-negative integer literal that a uint64 holds.
    bool read_uint64(std::uint64_t& out) noexcept {
        const char* begin = nullptr;
        bool integral = false;
        if (!scan_number(begin, integral) || !integral) return false;
        auto r = std::from_chars(begin, p_, out);
        return r.ec == std::errc() && r.ptr == p_;
    }
    // Any number; an integer literal goes through int64 first, as picojson reads it.
    bool read_number(double& out) noexcept {
        const char* begin = nullptr;
        bool integral = false;
        if (!scan_number(begin, integral)) return false;
        if (integral) {
            std::int64_t i = 0;
            auto r = std::from_chars(begin, p_, i);
            if (r.ec != std::errc() || r.ptr != p_) return false;
            out = static_cast<double>(i);
            return true;
        }
        auto r = std::from_chars(begin, p_, out);
        return r.ec == std::errc() && r.ptr == p_;
    }
    // A string, its escapes decoded (out == nullptr: checked and skipped).
    bool read_string(std::string* out) {
        skip_ws();
        if (p_ == end_ || *p_ != '"') return false;
        ++p_;
        if (out) out->clear();
        const char* run = p_;  // start of the bytes not yet copied
        while (p_ != end_) {
            auto c = static_cast<unsigned char>(*p_);
            if (c == '"') {
                if (out) out->append(run, static_cast<std::size_t>(p_ - run));
                ++p_;
                return true;
            }
            if (c < 0x20) return false;
            if (c < 0x80 && c != '\\') {
                ++p_;
                continue;
            }
            if (c >= 0x80) {
                std::size_t n = utf8_sequence_length(p_, static_cast<std::size_t>(end_ - p_));
                if (n == 0) return false;
                p_ += n;
                continue;
            }
            if (out) out->append(run, static_cast<std::size_t>(p_ - run));
            if (!read_escape(out)) return false;
            run = p_;
        }
        return false;
    }
    // Free-form JSON: picojson on this one value, as the reference reader would read it. Its
    // depth is bounded first: picojson's own limit does not count objects.
    bool read_any(picojson::value& out) {
        skip_ws();
        const char* begin = p_;
        if (json_nests_too_deep(std::string_view(p_, static_cast<std::size_t>(end_ - p_)), depth_, true)) return false;
        std::string err;
        picojson::default_parse_context context(&out, static_cast<std::size_t>(FASTAPI_MAX_JSON_DEPTH - depth_));
        const char* end = nullptr;
        try {
            end = picojson::_parse(context, p_, end_, &err);
        } catch (const std::overflow_error&) {
            return false;  // 1e999: the reference reader's 400
        }
        if (!err.empty() || !is_valid_utf8(std::string_view(begin, static_cast<std::size_t>(end - begin)))) return false;
        p_ = end;
        return true;
    }
    // Any value, read and dropped (a key the model does not declare).
    bool skip_value() {
        skip_ws();
        if (p_ == end_) return false;
        switch (*p_) {
            case '"': return read_string(nullptr);
            case 't':
            case 'f': {
                bool ignored = false;
                return read_bool(ignored);
            }
            case 'n': return read_null();
            case '{': {
                if (!begin_object()) return false;
                std::string scratch;
                std::string_view key;
                for (bool first = true;; first = false) {
                    int r = next_key(first, key, scratch);
                    if (r <= 0) return r == 0;
                    if (!skip_value()) return false;
                }
            }
            case '[': {
                if (!begin_array()) return false;
                for (bool first = true;; first = false) {
                    int r = next_element(first);
                    if (r <= 0) return r == 0;
                    if (!skip_value()) return false;
                }
            }
            default: {
                double ignored = 0;  // read, not only scanned: 1e999 is the reference reader's 400
                return read_number(ignored);
            }
        }
    }

    bool begin_object() noexcept { return open('{'); }
    // 1: a key was read (and its ':'), 0: the object ended, -1: give up.
    int next_key(bool first, std::string_view& key, std::string& scratch) {
        if (int r = next_member(first, '}'); r <= 0) return r;
        if (p_ == end_ || *p_ != '"') return -1;
        const char* begin = p_ + 1;
        const char* q = begin;
        while (q != end_ && *q != '"' && *q != '\\' && static_cast<unsigned char>(*q) >= 0x20 &&
               static_cast<unsigned char>(*q) < 0x80)
            ++q;
        if (q != end_ && *q == '"') {
            key = std::string_view(begin, static_cast<std::size_t>(q - begin));
            p_ = q + 1;
        } else {
            if (!read_string(&scratch)) return -1;
            key = scratch;
        }
        skip_ws();
        if (p_ == end_ || *p_ != ':') return -1;
        ++p_;
        return 1;
    }
    bool begin_array() noexcept { return open('['); }
    // 1: an element follows, 0: the array ended, -1: give up.
    int next_element(bool first) noexcept { return next_member(first, ']'); }

private:
    void skip_ws() noexcept {
        while (p_ != end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
    }
    bool literal(std::string_view word) noexcept {
        skip_ws();
        if (static_cast<std::size_t>(end_ - p_) < word.size() || std::string_view(p_, word.size()) != word) return false;
        p_ += word.size();
        return true;
    }
    bool open(char bracket) noexcept {
        skip_ws();
        if (p_ == end_ || *p_ != bracket || depth_ >= FASTAPI_MAX_JSON_DEPTH) return false;
        ++p_;
        ++depth_;
        return true;
    }
    // After '{' or '[' (first) or a member: the closing bracket, or a ',' and the next member.
    int next_member(bool first, char close) noexcept {
        skip_ws();
        if (p_ == end_) return -1;
        if (*p_ == close) {
            ++p_;
            --depth_;
            return 0;
        }
        if (!first) {
            if (*p_ != ',') return -1;
            ++p_;
            skip_ws();
        }
        return 1;
    }
    static bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
    // A number as JSON spells it: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?
    bool scan_number(const char*& begin, bool& integral) noexcept {
        skip_ws();
        const char* q = p_;
        if (q != end_ && *q == '-') ++q;
        if (q == end_) return false;
        if (*q == '0') ++q;
        else if (is_digit(*q)) while (q != end_ && is_digit(*q)) ++q;
        else return false;
        integral = true;
        if (q != end_ && *q == '.') {
            ++q;
            if (q == end_ || !is_digit(*q)) return false;
            while (q != end_ && is_digit(*q)) ++q;
            integral = false;
        }
        if (q != end_ && (*q == 'e' || *q == 'E')) {
            ++q;
            if (q != end_ && (*q == '+' || *q == '-')) ++q;
            if (q == end_ || !is_digit(*q)) return false;
            while (q != end_ && is_digit(*q)) ++q;
            integral = false;
        }
        begin = p_;
        p_ = q;
        return true;
    }
    int hex4() noexcept {
        if (end_ - p_ < 4) return -1;
        int v = 0;
        for (int i = 0; i < 4; ++i) {
            char c = *p_++;
            int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
            if (d < 0) return -1;
            v = v * 16 + d;
        }
        return v;
    }
    // At a backslash: appends what the escape stands for. Lone surrogates are left to the
    // reference reader.
    bool read_escape(std::string* out) {
        if (end_ - p_ < 2) return false;
        char e = p_[1];
        p_ += 2;
        char plain = 0;
        switch (e) {
            case '"': plain = '"'; break;
            case '\\': plain = '\\'; break;
            case '/': plain = '/'; break;
            case 'b': plain = '\b'; break;
            case 'f': plain = '\f'; break;
            case 'n': plain = '\n'; break;
            case 'r': plain = '\r'; break;
            case 't': plain = '\t'; break;
            case 'u': break;
            default: return false;
        }
        if (e != 'u') {
            if (out) *out += plain;
            return true;
        }
        int cp = hex4();
        if (cp < 0 || (cp >= 0xDC00 && cp <= 0xDFFF)) return false;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
            p_ += 2;
            int low = hex4();
            if (low < 0xDC00 || low > 0xDFFF) return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        }
        if (out) append_utf8(*out, static_cast<std::uint32_t>(cp));
        return true;
    }

    const char* p_;
    const char* end_;
    int depth_ = 0;
};

// Index of `key` among a model's wire names; n when it is not one.
FASTAPI_DECL std::size_t find_wire_name(const std::string_view* names, std::size_t n, std::string_view key) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::size_t find_wire_name(const std::string_view* names, std::size_t n, std::string_view key) noexcept {
    for (std::size_t i = 0; i < n; ++i)
        if (names[i] == key) return i;
    return n;
}
#endif

template <class T>
inline constexpr bool wire_names_unique_v = [] {
    const auto& names = wire_names_v<T>;
    for (std::size_t i = 0; i < names.size(); ++i)
        for (std::size_t j = i + 1; j < names.size(); ++j)
            if (names[i] == names[j]) return false;
    return true;
}();

template <class T>
bool read_direct(JsonCursor& in, T& out);

// A field the body did not name: fine unless required; then its default, as from_json does.
template <class F>
bool absent_field(F& field) {
    using Spec = spec_of_t<F>;
    if constexpr (Spec::required) {
        return false;
    } else {
        Spec::set_default(field_value(field));
        return true;
    }
}

template <class T>
bool read_direct_model(JsonCursor& in, T& out) {
    constexpr std::size_t n = field_count_v<T>;
    if constexpr (n > 64 || !wire_names_unique_v<T>) {
        return false;  // beyond one word of "seen" bits, or ambiguous: the reference reader
    } else {
        const auto& names = wire_names_v<T>;
        if (!in.begin_object()) return false;
        std::uint64_t seen = 0;
        std::string scratch;
        std::string_view key;
        for (bool first = true;; first = false) {
            int r = in.next_key(first, key, scratch);
            if (r == 0) break;
            if (r < 0) return false;
            std::size_t k = find_wire_name(names.data(), n, key);
            if (k == n) {
                if constexpr (model_config_t<T>::forbid_extra) return false;
                if (!in.skip_value()) return false;
                continue;
            }
            // A repeated key: picojson keeps the last, Python too; not worth copying here.
            if (seen & (std::uint64_t{1} << k)) return false;
            seen |= std::uint64_t{1} << k;
            bool ok = visit_fields(out, [&](auto&... f) {
                std::size_t i = 0;
                bool read = false;
                ((i++ == k ? (void)(read = read_direct(in, f)) : (void)0), ...);
                return read;
            });
            if (!ok) return false;
        }
        return visit_fields(out, [&](auto&... f) {
            std::size_t i = 0;
            return (((seen >> i++) & 1 ? true : absent_field(f)) && ...);
        });
    }
}

// Reads one value of type T; false means "let the reference reader do it".
template <class T>
bool read_direct(JsonCursor& in, T& out) {
    if constexpr (is_field_v<T>) {
        // A failing constraint is the reference reader's to describe.
        return read_direct(in, out.value) && meets_constraints<spec_of_t<T>>(out.value);
    } else if constexpr (std::is_same_v<T, picojson::value>) {
        return in.read_any(out);
    } else if constexpr (std::is_same_v<T, bool>) {
        return in.read_bool(out);
    } else if constexpr (std::is_unsigned_v<T> && sizeof(T) == 8) {
        std::uint64_t v = 0;
        if (!in.read_uint64(v)) return false;
        out = static_cast<T>(v);
        return true;
    } else if constexpr (std::is_integral_v<T> && !std::is_same_v<T, char>) {
        std::int64_t v = 0;
        if (!in.read_integer(v)) return false;
        if (v < int_lowest_v<T> || v > int_highest_v<T>) return false;
        out = static_cast<T>(v);
        return true;
    } else if constexpr (std::is_floating_point_v<T>) {
        double d = 0;
        if (!in.read_number(d)) return false;
        out = static_cast<T>(d);
        return true;
    } else if constexpr (std::is_same_v<T, std::string>) {
        return in.read_string(&out);
    } else if constexpr (is_optional_v<T>) {
        if (in.read_null()) {
            out.reset();
            return true;
        }
        return read_direct(in, out.emplace());
    } else if constexpr (is_vector_v<T>) {
        if (!in.begin_array()) return false;
        out.clear();
        for (bool first = true;; first = false) {
            int r = in.next_element(first);
            if (r <= 0) return r == 0;
            typename T::value_type e{};
            if (!read_direct(in, e)) return false;
            out.push_back(std::move(e));
        }
    } else if constexpr (is_map_v<T>) {
        if (!in.begin_object()) return false;
        out.clear();
        std::string scratch;
        std::string_view key;
        for (bool first = true;; first = false) {
            int r = in.next_key(first, key, scratch);
            if (r <= 0) return r == 0;
            typename T::mapped_type m{};
            if (!read_direct(in, m)) return false;
            if (!out.emplace(std::string(key), std::move(m)).second) return false;  // a repeated key
        }
    } else if constexpr (is_secret_v<T>) {
        return read_direct(in, out.get_secret_value());
    } else if constexpr (named_enum<T>) {
        std::string name;
        return in.read_string(&name) && read_enum_text(name, out);
    } else if constexpr (is_model_v<T>) {
        return read_direct_model(in, out);
    } else {
        return false;  // from_json says what is wrong with the type
    }
}

// Reads a whole JSON text into out, true when that worked without anything to report. On
// false, out is in no particular state: reset it and use the reference reader.
template <class T>
bool read_json_direct(std::string_view text, T& out) {
    JsonCursor in(text);
    return read_direct(in, out) && in.at_end();
}

}  // namespace detail

// Parses `text` and reads it into out (a fresh object); malformed JSON is one json_invalid
// error at base + [position], as FastAPI reports it.
template <class T>
bool read_json_body(std::string_view text, T& out, ValidationErrors& errors, Loc base = Loc{LocPart(std::string("body"))}) {
    if (detail::read_json_direct(text, out)) return true;
    out = T{};
    picojson::value v;
    if (!detail::parse_json_body(text, v, errors, base)) return false;
    detail::exact_integers_scope exact(v);
    return from_json(v, out, errors, base);
}

}  // namespace fastapi
