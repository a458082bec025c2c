// json_write: values out, as FastAPI sends the equivalent pydantic model (json.dumps with
// separators=(",", ":") and ensure_ascii=False; floats as Python prints them, 1.0 and 12.5;
// NaN and infinities as null): write_json for the wire, to_json_value for a picojson tree.
// The type-independent pieces (escaping, number formatting) are plain inline functions.
// Relies on reflect and model.
#pragma once
#include "model.hpp"
#include "reflect.hpp"

#include <array>        // array (byte classes)
#include <charconv>     // to_chars
#include <cmath>        // isfinite
#include <cstdint>      // int64_t
#include <cstring>      // memcpy
#include <limits>       // numeric_limits
#include <string>       // string
#include <string_view>  // string_view
#include <vector>       // vector

namespace fastapi {

namespace detail {

// --- writing: the type-independent pieces ---

// What each byte needs in a JSON string: 0 nothing, 1 an escape, 2 a UTF-8 check.
inline constexpr auto json_string_byte_class = [] {
    std::array<unsigned char, 256> t{};
    for (int c = 0; c < 0x20; ++c) t[static_cast<std::size_t>(c)] = 1;
    t['"'] = t['\\'] = 1;
    for (int c = 0x80; c < 0x100; ++c) t[static_cast<std::size_t>(c)] = 2;
    return t;
}();

// Whether the 8 bytes at p need nothing in a JSON string (class 0 above), tested at once:
// no byte with its high bit set, below 0x20, '"' or '\\' (the classic "has zero / has less"
// word tests, exact for whether any byte matches).
// json_plain_bits(v) is 0 exactly when the 8 bytes in v need nothing (constexpr: inline in
// both modes, for the loops that test words they already hold).
constexpr std::uint64_t json_plain_bits(std::uint64_t v) noexcept {
    constexpr std::uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    auto has_zero = [](std::uint64_t x) { return (x - ones) & ~x & high; };
    return (v & high) | ((v - ones * 0x20) & ~v & high) | has_zero(v ^ (ones * '"')) | has_zero(v ^ (ones * '\\'));
}
FASTAPI_DECL bool json_plain_8(const unsigned char* p) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool json_plain_8(const unsigned char* p) noexcept {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    return json_plain_bits(v) == 0;
}
#endif

// A JSON string, always valid UTF-8 whatever s holds: each ill-formed sequence (its maximal
// subpart) is written as U+FFFD, as Python's decode(errors="replace") would have read it.
FASTAPI_DECL void append_json_string(std::string& out, std::string_view s);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void append_json_string(std::string& out, std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    {  // the usual case, nothing to escape or check: one write
        std::size_t i = 0;
        while (i + 8 <= s.size() && json_plain_8(p + i)) i += 8;
        while (i < s.size() && json_string_byte_class[p[i]] == 0) ++i;
        if (i == s.size()) {
            std::size_t at = out.size();
            out.resize(at + s.size() + 2);
            char* w = out.data() + at;
            *w = '"';
            if (!s.empty()) std::memcpy(w + 1, s.data(), s.size());
            w[s.size() + 1] = '"';
            return;
        }
    }
    out += '"';
    std::size_t run = 0;  // start of the pending unescaped run
    for (std::size_t i = 0; i < s.size(); ++i) {
        const unsigned char c = p[i];
        const unsigned char kind = json_string_byte_class[c];
        if (kind == 0) continue;
        if (kind == 2) {
            bool valid = false;
            std::size_t n = utf8_scan(p + i, s.size() - i, valid);
            if (!valid) {
                out.append(s.data() + run, i - run);
                out += replacement_character;
                run = i + n;
            }
            i += n - 1;
            continue;
        }
        out.append(s.data() + run, i - run);
        run = i + 1;
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            default:
                out += "\\u00";
                out += hex[c >> 4];
                out += hex[c & 15];
        }
    }
    out.append(s.data() + run, s.size() - run);
    out += '"';
}
#endif

// Python's repr of a float from the shortest round-trip digits: fixed notation for
// 1e-4 <= |v| < 1e16 (with ".0" when integral), else d.ddde+XX.
FASTAPI_DECL void append_python_float_digits(std::string& out, std::string_view sci);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void append_python_float_digits(std::string& out, std::string_view sci) {
    if (!sci.empty() && sci[0] == '-') {
        out += '-';
        sci.remove_prefix(1);
    }
    auto e = sci.find('e');
    std::string_view mant = sci.substr(0, e);
    int exp = 0;
    std::from_chars(sci.data() + e + 1 + (sci[e + 1] == '+' ? 1 : 0), sci.data() + sci.size(), exp);
    char digits[32];
    std::size_t nd = 0;
    for (char c : mant)
        if (c != '.' && nd < sizeof digits) digits[nd++] = c;
    if (exp >= -4 && exp < 16) {
        int point = exp + 1;
        if (point <= 0) {
            out += "0.";
            out.append(static_cast<std::size_t>(-point), '0');
            out.append(digits, nd);
        } else if (static_cast<std::size_t>(point) >= nd) {
            out.append(digits, nd);
            out.append(static_cast<std::size_t>(point) - nd, '0');
            out += ".0";
        } else {
            out.append(digits, static_cast<std::size_t>(point));
            out += '.';
            out.append(digits + point, nd - static_cast<std::size_t>(point));
        }
    } else {
        out += digits[0];
        if (nd > 1) {
            out += '.';
            out.append(digits + 1, nd - 1);
        }
        out += exp < 0 ? "e-" : "e+";
        int a = exp < 0 ? -exp : exp;
        if (a < 10) out += '0';
        out += std::to_string(a);
    }
}
#endif

// Python's repr for a double with at most 4 decimals and |v| < 1e9 (prices, ratios, ...),
// without the general shortest-digits search: the fewest decimals k for which v * 10^k,
// rounded, divides back to exactly v. With |v| < 1e9 a double's spacing is below 10^-4, so
// that decimal is the only one of k places that reads back as v: the shortest round trip,
// which is what repr prints. False when v is outside that range (or zero, for its sign).
FASTAPI_DECL bool append_short_decimal(std::string& out, double v);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool append_short_decimal(std::string& out, double v) {
    double a = std::fabs(v);
    if (!(a >= 1e-4 && a < 1e9)) return false;
    static constexpr double scale[] = {1, 10, 100, 1000, 10000};
    for (int k = 0; k <= 4; ++k) {
        double m = std::nearbyint(a * scale[k]);
        if (m / scale[k] != a) continue;
        auto digits = static_cast<std::uint64_t>(m);
        auto unit = static_cast<std::uint64_t>(scale[k]);
        char buf[32];
        char* end = buf + sizeof buf;
        char* p = end;
        std::uint64_t frac = digits % unit, whole = digits / unit;
        if (k == 0) {
            *--p = '0';
        } else {
            for (int i = 0; i < k; ++i, frac /= 10) *--p = static_cast<char>('0' + frac % 10);
        }
        *--p = '.';
        do *--p = static_cast<char>('0' + whole % 10); while ((whole /= 10) != 0);
        if (v < 0) *--p = '-';
        out.append(p, static_cast<std::size_t>(end - p));
        return true;
    }
    return false;
}
#endif

// Python's repr of a finite double, the general way.
FASTAPI_DECL void append_double_repr(std::string& out, double v);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void append_double_repr(std::string& out, double v) {
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
    append_python_float_digits(out, std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)));
}
#endif

FASTAPI_DECL void append_double(std::string& out, double v);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void append_double(std::string& out, double v) {
    if (!std::isfinite(v)) out.append("null", 4);
    else if (!append_short_decimal(out, v)) append_double_repr(out, v);
}
#endif
// A float keeps its own shortest digits (0.1f is written 0.1).
FASTAPI_DECL void append_float(std::string& out, float v);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void append_float(std::string& out, float v) {
    if (!std::isfinite(v)) {
        out += "null";
        return;
    }
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
    append_python_float_digits(out, std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)));
}
#endif

template <class I>
void append_integer(std::string& out, I v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

FASTAPI_DECL void append_json_value(std::string& out, const picojson::value& v);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void append_json_value(std::string& out, const picojson::value& v) {
    if (v.is<picojson::null>()) {
        out += "null";
    } else if (v.is<bool>()) {
        out += v.get<bool>() ? "true" : "false";
    } else if (v.is<std::int64_t>()) {
        append_integer(out, v.get<std::int64_t>());
    } else if (v.is<double>()) {
        append_double(out, v.get<double>());
    } else if (v.is<std::string>()) {
        append_json_string(out, v.get<std::string>());
    } else if (v.is<picojson::array>()) {
        out += '[';
        bool first = true;
        for (auto& e : v.get<picojson::array>()) {
            if (!first) out += ',';
            first = false;
            append_json_value(out, e);
        }
        out += ']';
    } else {
        out += '{';
        bool first = true;
        for (auto& [k, e] : v.get<picojson::object>()) {
            if (!first) out += ',';
            first = false;
            append_json_string(out, k);
            out += ':';
            append_json_value(out, e);
        }
        out += '}';
    }
}
#endif

// The keys of model T as write_json puts them: {"first": and ,"next": one after another.
template <class T>
inline constexpr auto key_prefixes_v = [] {
    constexpr std::size_t total = [] {
        std::size_t n = 0;
        for (auto name : wire_names_v<T>) n += name.size() + 4;
        return n;
    }();
    std::array<char, total> text{};
    std::size_t at = 0;
    for (std::size_t i = 0; i < wire_names_v<T>.size(); ++i) {
        text[at++] = i == 0 ? '{' : ',';
        text[at++] = '"';
        for (char c : wire_names_v<T>[i]) text[at++] = c;
        text[at++] = '"';
        text[at++] = ':';
    }
    return text;
}();

// An ad-hoc JSON value (fastapi::json, json_value.hpp, says so with `ad_hoc_json`): it writes
// itself (write) and converts itself to picojson (to_picojson).
template <class U>
concept ad_hoc_json_value = requires { typename U::ad_hoc_json; };

}  // namespace detail

// Appends the compact JSON for value to out.
template <class T>
void write_json(std::string& out, const T& value) {
    using U = std::remove_cvref_t<T>;
    if constexpr (detail::is_field_v<U>) {
        write_json(out, value.value);
    } else if constexpr (std::is_same_v<U, bool>) {
        if (value) out.append("true", 4);
        else out.append("false", 5);
    } else if constexpr (std::is_integral_v<U> && !std::is_same_v<U, char>) {
        detail::append_integer(out, value);
    } else if constexpr (std::is_same_v<U, float>) {
        detail::append_float(out, value);
    } else if constexpr (std::is_floating_point_v<U>) {
        detail::append_double(out, static_cast<double>(value));
    } else if constexpr (std::is_same_v<U, std::string> || std::is_same_v<U, std::string_view>) {
        detail::append_json_string(out, value);
    } else if constexpr (detail::is_secret_v<U>) {  // pydantic's model_dump_json of a SecretStr
        detail::append_json_string(out, Secret<>::masked);
    } else if constexpr (std::is_convertible_v<const U&, const char*>) {
        detail::append_json_string(out, static_cast<const char*>(value));
    } else if constexpr (std::is_same_v<U, picojson::value>) {
        detail::append_json_value(out, value);
    } else if constexpr (detail::ad_hoc_json_value<U>) {
        value.write(out);
    } else if constexpr (std::is_same_v<U, std::nullopt_t>) {
        out.append("null", 4);
    } else if constexpr (detail::is_optional_v<U>) {
        if (value) write_json(out, *value);
        else out.append("null", 4);
    } else if constexpr (detail::is_vector_v<U>) {
        out += '[';
        bool first = true;
        for (const auto& e : value) {
            if (!first) out += ',';
            first = false;
            write_json(out, e);
        }
        out += ']';
    } else if constexpr (detail::is_map_v<U>) {
        out += '{';
        bool first = true;
        for (const auto& [k, e] : value) {
            if (!first) out += ',';
            first = false;
            detail::append_json_string(out, k);
            out += ':';
            write_json(out, e);
        }
        out += '}';
    } else if constexpr (detail::named_enum<U>) {
        std::string_view name = detail::enum_to_name(value);
        if (name.empty()) out += "null";
        else detail::append_json_string(out, name);
    } else if constexpr (detail::is_model_v<U>) {
        if constexpr (detail::field_count_v<U> == 0) {
            out.append("{}", 2);
        } else {
            // {"name": then ,"description": ...: each key with its punctuation, made once.
            const char* key = detail::key_prefixes_v<U>.data();
            const auto& names = detail::wire_names_v<U>;
            detail::visit_fields(value, [&](const auto&... f) {
                std::size_t i = 0;
                ((out.append(key, names[i].size() + 4), key += names[i++].size() + 4, write_json(out, f)), ...);
            });
            out += '}';
        }
    } else {
        static_assert(detail::dependent_false<T>, FASTAPI_UNSUPPORTED_TYPE_MESSAGE);
    }
}

template <class T>
std::string to_json_string(const T& value) {
    std::string out;
    write_json(out, value);
    return out;
}

template <class T>
picojson::value to_json_value(const T& value) {
    using U = std::remove_cvref_t<T>;
    if constexpr (detail::is_field_v<U>) {
        return to_json_value(value.value);
    } else if constexpr (std::is_same_v<U, picojson::value>) {
        return value;
    } else if constexpr (detail::ad_hoc_json_value<U>) {
        return value.to_picojson();
    } else if constexpr (std::is_same_v<U, std::nullopt_t>) {
        return picojson::value();
    } else if constexpr (std::is_same_v<U, bool>) {
        return picojson::value(value);
    } else if constexpr (std::is_integral_v<U> && !std::is_same_v<U, char>) {
        if constexpr (std::is_unsigned_v<U> && sizeof(U) == 8)
            if (value > static_cast<std::uint64_t>(INT64_MAX)) return picojson::value(static_cast<double>(value));
        return picojson::value(static_cast<std::int64_t>(value));
    } else if constexpr (std::is_floating_point_v<U>) {
        // picojson refuses non-finite numbers; they are null on the wire anyway.
        if (!std::isfinite(value)) return picojson::value();
        return picojson::value(static_cast<double>(value));
    } else if constexpr (std::is_same_v<U, std::string>) {
        return picojson::value(value);
    } else if constexpr (detail::is_secret_v<U>) {
        return picojson::value(std::string(Secret<>::masked));
    } else if constexpr (detail::is_optional_v<U>) {
        return value ? to_json_value(*value) : picojson::value();
    } else if constexpr (detail::is_vector_v<U>) {
        picojson::array a;
        a.reserve(value.size());
        for (const auto& e : value) a.push_back(to_json_value(e));
        return picojson::value(std::move(a));
    } else if constexpr (detail::is_map_v<U>) {
        picojson::object o;
        for (const auto& [k, e] : value) o.emplace(k, to_json_value(e));
        return picojson::value(std::move(o));
    } else if constexpr (detail::named_enum<U>) {
        std::string_view name = detail::enum_to_name(value);
        return name.empty() ? picojson::value() : picojson::value(std::string(name));
    } else if constexpr (detail::is_model_v<U>) {
        picojson::object o;
        const auto& names = detail::wire_names_v<U>;
        detail::visit_fields(value, [&](const auto&... f) {
            std::size_t i = 0;
            ((o.emplace(std::string(names[i++]), to_json_value(f))), ...);
        });
        return picojson::value(std::move(o));
    } else {
        static_assert(detail::dependent_false<T>, FASTAPI_UNSUPPORTED_TYPE_MESSAGE);
    }
}

}  // namespace fastapi
