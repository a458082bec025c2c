// json: values in. Reading follows pydantic v2's lax rules for the Python objects FastAPI
// validates (the JSON "5" for an int is 5, 5.0 is 5, 5.5 is int_from_float, ...) and records
// every problem, not only the first; and FastAPI's 422 body. The parts that do not depend on
// the type (scalar conversions, error rendering) are plain inline functions, compiled once
// per translation unit.
// Relies on json_write, http_exception, reflect, model and validation.
#pragma once
#include "http_exception.hpp"
#include "json_write.hpp"
#include "model.hpp"
#include "reflect.hpp"
#include "validation.hpp"

#include <charconv>     // from_chars
#include <cmath>        // isfinite
#include <cstdint>      // int64_t
#include <cstring>      // memcpy
#include <limits>       // numeric_limits
#include <stdexcept>    // overflow_error
#include <string>       // string
#include <string_view>  // string_view
#include <vector>       // vector, erase_if

namespace fastapi {

namespace detail {

// --- reading: scalar conversions, as pydantic's lax mode does them ---

FASTAPI_DECL void type_error(ValidationErrors& errors, const Loc& loc, const char* type, const char* msg,
                       const picojson::value& input);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void type_error(ValidationErrors& errors, const Loc& loc, const char* type, const char* msg,
                       const picojson::value& input) {
    add_error(errors, loc, type, msg, input);
}
#endif

inline constexpr const char* int_parsing_msg = "Input should be a valid integer, unable to parse string as an integer";
inline constexpr const char* float_parsing_msg = "Input should be a valid number, unable to parse string as a number";
inline constexpr const char* bool_parsing_msg = "Input should be a valid boolean, unable to interpret input";

FASTAPI_DECL std::string_view trim_ascii(std::string_view s) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string_view trim_ascii(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}
#endif

// pydantic's str -> int: optional sign, digits, optionally ".000", or 1_000 (single underscores).
FASTAPI_DECL bool parse_int_text(std::string_view s, std::int64_t& out, bool& too_big);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool parse_int_text(std::string_view s, std::int64_t& out, bool& too_big) {
    s = trim_ascii(s);
    too_big = false;
    if (auto dot = s.find('.'); dot != std::string_view::npos) {
        for (char c : s.substr(dot + 1))
            if (c != '0') return false;
        s = s.substr(0, dot);
    }
    std::string cleaned;
    if (s.find('_') != std::string_view::npos) {
        if (s.front() == '_' || s.back() == '_' || s.find("__") != std::string_view::npos) return false;
        for (char c : s)
            if (c != '_') cleaned += c;
        s = cleaned;
    }
    if (!s.empty() && s.front() == '+') s.remove_prefix(1);
    if (s.empty() || s.front() == '+') return false;
    auto r = std::from_chars(s.data(), s.data() + s.size(), out);
    if (r.ec == std::errc::result_out_of_range && r.ptr == s.data() + s.size()) {
        too_big = true;
        return true;
    }
    return r.ec == std::errc() && r.ptr == s.data() + s.size();
}
#endif

// The power of ten of the leading digit of an unsigned decimal ("1e400": 400, "0.01e-400":
// -402); 0 for a number without a nonzero digit.
FASTAPI_DECL long decimal_magnitude(std::string_view s) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL long decimal_magnitude(std::string_view s) noexcept {
    auto e = s.find_first_of("eE");
    long exp = 0;
    if (e != std::string_view::npos) {
        std::string_view x = s.substr(e + 1);
        bool minus = !x.empty() && x[0] == '-';
        if (!x.empty() && (x[0] == '-' || x[0] == '+')) x.remove_prefix(1);
        for (char c : x) exp = exp < 100000000 ? exp * 10 + (c - '0') : exp;  // saturates
        if (minus) exp = -exp;
        s = s.substr(0, e);
    }
    auto dot = s.find('.');
    std::string_view whole = s.substr(0, dot), frac = dot == std::string_view::npos ? std::string_view{} : s.substr(dot + 1);
    auto first = whole.find_first_not_of('0');
    if (first != std::string_view::npos) return exp + static_cast<long>(whole.size() - first) - 1;
    auto f = frac.find_first_not_of('0');
    if (f != std::string_view::npos) return exp - static_cast<long>(f) - 1;
    return 0;
}
#endif

FASTAPI_DECL bool parse_float_text(std::string_view s, double& out);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool parse_float_text(std::string_view s, double& out) {
    s = trim_ascii(s);
    std::string cleaned;
    if (s.find('_') != std::string_view::npos) {
        if (s.front() == '_' || s.back() == '_' || s.find("__") != std::string_view::npos) return false;
        for (char c : s)
            if (c != '_') cleaned += c;
        s = cleaned;
    }
    bool neg = false;
    std::string_view body = s;
    if (!body.empty() && (body.front() == '+' || body.front() == '-')) {
        neg = body.front() == '-';
        body.remove_prefix(1);
    }
    if (iequals(body, "inf") || iequals(body, "infinity")) {
        out = neg ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
        return true;
    }
    if (iequals(body, "nan")) {
        out = std::numeric_limits<double>::quiet_NaN();
        return true;
    }
    if (body.empty() || body.front() == '+' || body.front() == '-') return false;
    auto r = std::from_chars(body.data(), body.data() + body.size(), out);
    if (r.ptr != body.data() + body.size() || (r.ec != std::errc() && r.ec != std::errc::result_out_of_range)) return false;
    // Beyond a double, from_chars leaves out as it was; Python's float() gives inf ("1e400")
    // or 0.0 ("1e-400"), and pydantic takes it (a constraint such as le=1000 then fails).
    if (r.ec == std::errc::result_out_of_range)
        out = decimal_magnitude(body) >= 0 ? std::numeric_limits<double>::infinity() : 0.0;
    if (neg) out = -out;
    return true;
}
#endif

// "-12", "3.5", "1e3": a number from_chars reads as pydantic would, with no trimming, no
// underscores, no "+", no "inf" or "nan" (those go the long way).
FASTAPI_DECL bool plain_number_text(std::string_view s) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool plain_number_text(std::string_view s) noexcept {
    std::size_t i = !s.empty() && s[0] == '-' ? 1 : 0;
    if (i >= s.size() || s[i] < '0' || s[i] > '9') return false;
    for (; i < s.size(); ++i) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '-')) return false;
    }
    return true;
}
#endif

// 0/1, f/t, n/y, no/yes, off/on, false/true, any case.
FASTAPI_DECL bool parse_bool_text(std::string_view s, bool& out);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool parse_bool_text(std::string_view s, bool& out) {
    static constexpr std::string_view no[] = {"0", "f", "n", "no", "off", "false"};
    static constexpr std::string_view yes[] = {"1", "t", "y", "on", "yes", "true"};
    for (auto w : no)
        if (iequals(s, w)) return (out = false), true;
    for (auto w : yes)
        if (iequals(s, w)) return (out = true), true;
    return false;
}
#endif

// Integer literals of uint64's upper half ([2^63, 2^64)) that picojson can hold only as
// doubles, rounded: their exact values, kept aside while a body is parsed (and keyed by the
// double's address in the tree) so that a uint64 field reads what the client wrote, not a
// neighbour 2048 away. Consulted only within an exact_integers_scope for that same tree.
struct ExactIntegers {
    struct Entry {
        const picojson::value* at;
        double rounded;
        std::uint64_t exact;
    };
    const picojson::value* root = nullptr;
    bool active = false;
    std::vector<Entry> entries;
    static ExactIntegers& current() {
        static thread_local ExactIntegers table;
        return table;
    }
    // The exact value behind v, when v is one of the current tree's rounded literals.
    static bool find(const picojson::value& v, std::uint64_t& out) {
        const ExactIntegers& t = current();
        if (!t.active) return false;
        for (const Entry& e : t.entries)
            if (e.at == &v && e.rounded == v.get<double>()) return (out = e.exact), true;
        return false;
    }
};
// Makes the exact values of the tree at root (when it was the last one parsed) visible.
class exact_integers_scope {
public:
    explicit exact_integers_scope(const picojson::value& root) noexcept
        : table_(ExactIntegers::current()), was_(table_.active) {
        table_.active = table_.root == &root && !table_.entries.empty();
    }
    ~exact_integers_scope() { table_.active = was_; }
    exact_integers_scope(const exact_integers_scope&) = delete;
    exact_integers_scope& operator=(const exact_integers_scope&) = delete;

private:
    ExactIntegers& table_;
    bool was_;
};

// Adds the range error of an integer type narrower than the value.
FASTAPI_DECL bool check_int_range(std::int64_t v, std::int64_t lo, std::int64_t hi, const picojson::value& input,
                            ValidationErrors& errors, const Loc& loc);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool check_int_range(std::int64_t v, std::int64_t lo, std::int64_t hi, const picojson::value& input,
                            ValidationErrors& errors, const Loc& loc) {
    if (v > hi) return add_bound_error(errors, loc, input, "less_than_equal", "less than or equal to", "le", NumberBound{true, hi, double(hi)}), false;
    if (v < lo) return add_bound_error(errors, loc, input, "greater_than_equal", "greater than or equal to", "ge", NumberBound{true, lo, double(lo)}), false;
    return true;
}
#endif

// The range error of a value beyond int64 (a Python int pydantic would take whole): above the
// type's highest value or below its lowest, reported as for a narrower type (le / ge). For
// uint64 (`u64`), the highest is 18446744073709551615, which picojson holds only as a double.
FASTAPI_DECL bool int_beyond_range(bool above, std::int64_t lo, std::int64_t hi, bool u64, const picojson::value& input,
                             ValidationErrors& errors, const Loc& loc);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool int_beyond_range(bool above, std::int64_t lo, std::int64_t hi, bool u64, const picojson::value& input,
                             ValidationErrors& errors, const Loc& loc) {
    if (above && u64) {
        add_error(errors, loc, "less_than_equal", "Input should be less than or equal to 18446744073709551615", input,
                  ctx_object({{"le", picojson::value(18446744073709551615.0)}}));
        return false;
    }
    if (above) add_bound_error(errors, loc, input, "less_than_equal", "less than or equal to", "le", NumberBound{true, hi, double(hi)});
    else add_bound_error(errors, loc, input, "greater_than_equal", "greater than or equal to", "ge", NumberBound{true, lo, double(lo)});
    return false;
}
#endif

// A JSON (Python) value to an integer in [lo, hi]; with `big` (uint64), values above INT64_MAX
// come through it. Every false return has added an error: a value beyond int64 is a range
// error, never a silent 0 (issue 9).
FASTAPI_DECL bool read_integer(const picojson::value& v, std::int64_t& out, std::int64_t lo, std::int64_t hi,
                         ValidationErrors& errors, const Loc& loc, std::uint64_t* big = nullptr);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool read_integer(const picojson::value& v, std::int64_t& out, std::int64_t lo, std::int64_t hi,
                         ValidationErrors& errors, const Loc& loc, std::uint64_t* big) {
    constexpr double two63 = 9223372036854775808.0, two64 = 18446744073709551616.0;
    if (v.is<std::int64_t>()) {
        out = v.get<std::int64_t>();
    } else if (v.is<bool>()) {
        out = v.get<bool>() ? 1 : 0;
    } else if (v.is<double>()) {
        double d = v.get<double>();
        if (!std::isfinite(d)) return type_error(errors, loc, "finite_number", "Input should be a finite number", v), false;
        if (std::fmod(d, 1.0) != 0.0)
            return type_error(errors, loc, "int_from_float",
                              "Input should be a valid integer, got a number with a fractional part", v), false;
        if (big && d >= two63 && d <= two64) {
            // An integer literal the client wrote exactly (picojson rounded it), else the double.
            if (ExactIntegers::find(v, *big)) return true;
            if (d < two64) return (*big = static_cast<std::uint64_t>(d)), true;
        }
        if (d >= two63) return int_beyond_range(true, lo, hi, big != nullptr, v, errors, loc);
        // picojson reads every integer literal of int64's range as an int64, so a double at
        // -2^63 is a literal below it, rounded (or INT64_MIN spelled as a float: refused too).
        if (d <= -two63) return int_beyond_range(false, lo, hi, big != nullptr, v, errors, loc);
        out = static_cast<std::int64_t>(d);
    } else if (v.is<std::string>()) {
        bool too_big = false;
        const std::string& s = v.get<std::string>();
        if (!parse_int_text(s, out, too_big)) return type_error(errors, loc, "int_parsing", int_parsing_msg, v), false;
        if (too_big) {
            // Beyond int64: uint64's upper half, or a range error on the side of its sign.
            std::string_view t = trim_ascii(s);
            bool negative = t.starts_with('-');
            if (big && !negative) {
                std::string digits;
                for (char c : t.substr(t.starts_with('+') ? 1 : 0))
                    if (c == '.') break;
                    else if (c != '_') digits += c;
                std::uint64_t u = 0;
                auto r = std::from_chars(digits.data(), digits.data() + digits.size(), u);
                if (r.ec == std::errc() && r.ptr == digits.data() + digits.size()) return (*big = u), true;
            }
            return int_beyond_range(!negative, lo, hi, big != nullptr, v, errors, loc);
        }
    } else {
        return type_error(errors, loc, "int_type", "Input should be a valid integer", v), false;
    }
    return check_int_range(out, lo, hi, v, errors, loc);
}
#endif

FASTAPI_DECL bool read_number(const picojson::value& v, double& out, ValidationErrors& errors, const Loc& loc);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool read_number(const picojson::value& v, double& out, ValidationErrors& errors, const Loc& loc) {
    // get<double>() on an int64 would turn the value itself into a double: ask for int64 first.
    if (v.is<std::int64_t>()) out = static_cast<double>(v.get<std::int64_t>());
    else if (v.is<double>()) out = v.get<double>();
    else if (v.is<bool>()) out = v.get<bool>() ? 1.0 : 0.0;
    else if (v.is<std::string>()) {
        if (!parse_float_text(v.get<std::string>(), out)) return type_error(errors, loc, "float_parsing", float_parsing_msg, v), false;
    } else return type_error(errors, loc, "float_type", "Input should be a valid number", v), false;
    return true;
}
#endif

FASTAPI_DECL bool read_bool(const picojson::value& v, bool& out, ValidationErrors& errors, const Loc& loc);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool read_bool(const picojson::value& v, bool& out, ValidationErrors& errors, const Loc& loc) {
    if (v.is<bool>()) return (out = v.get<bool>()), true;
    if (v.is<std::string>()) {
        if (parse_bool_text(v.get<std::string>(), out)) return true;
        return type_error(errors, loc, "bool_parsing", bool_parsing_msg, v), false;
    }
    double d = v.is<std::int64_t>() ? static_cast<double>(v.get<std::int64_t>()) : v.is<double>() ? v.get<double>() : 0.5;
    if (std::isfinite(d) && std::fmod(d, 1.0) == 0.0) {
        if (d == 0 || d == 1) return (out = d == 1), true;
        return type_error(errors, loc, "bool_parsing", bool_parsing_msg, v), false;
    }
    return type_error(errors, loc, "bool_type", "Input should be a valid boolean", v), false;
}
#endif

FASTAPI_DECL bool read_string(const picojson::value& v, std::string& out, ValidationErrors& errors, const Loc& loc);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool read_string(const picojson::value& v, std::string& out, ValidationErrors& errors, const Loc& loc) {
    if (!v.is<std::string>()) return type_error(errors, loc, "string_type", "Input should be a valid string", v), false;
    out = v.get<std::string>();
    return true;
}
#endif

// "'a', 'b' or 'c'" from the names of an enumeration.
FASTAPI_DECL std::string expected_list(const std::string_view* names, std::size_t n);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string expected_list(const std::string_view* names, std::size_t n) {
    std::string s;
    for (std::size_t i = 0; i < n; ++i) {
        if (i > 0) s += (i + 1 == n) ? " or " : ", ";
        s += '\'';
        s += names[i];
        s += '\'';
    }
    return s;
}
#endif
FASTAPI_DECL void enum_error(const std::string_view* names, std::size_t n, const picojson::value& input,
                       ValidationErrors& errors, const Loc& loc);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void enum_error(const std::string_view* names, std::size_t n, const picojson::value& input,
                       ValidationErrors& errors, const Loc& loc) {
    std::string expected = expected_list(names, n);
    add_error(errors, loc, "enum", "Input should be " + expected, input,
              ctx_object({{"expected", picojson::value(expected)}}));
}
#endif

template <class E>
inline constexpr auto enum_names_v = [] {
    constexpr std::size_t n = std::size(enum_values<E>::values);
    std::array<std::string_view, n> a{};
    for (std::size_t i = 0; i < n; ++i) a[i] = enum_values<E>::values[i].name;
    return a;
}();

template <class E>
bool read_enum_text(std::string_view s, E& out) {
    for (const auto& e : enum_values<E>::values)
        if (e.name == s) return (out = e.value), true;
    return false;
}

// The values of integer type I that an int64 holds: all of them, but for uint64's upper half.
template <class I>
inline constexpr std::int64_t int_lowest_v = static_cast<std::int64_t>(std::numeric_limits<I>::min());
template <class I>
inline constexpr std::int64_t int_highest_v = static_cast<std::int64_t>(
    std::min<std::uint64_t>(static_cast<std::uint64_t>(std::numeric_limits<I>::max()), INT64_MAX));

template <class I>
bool read_integral(const picojson::value& v, I& out, ValidationErrors& errors, Loc& loc) {
    std::int64_t x = 0;
    if constexpr (std::is_unsigned_v<I> && sizeof(I) == 8) {
        std::uint64_t big = 0;
        bool got_big = false;
        std::uint64_t* bp = &big;
        if (!read_integer(v, x, 0, INT64_MAX, errors, loc, bp)) return false;
        got_big = big != 0;
        out = got_big ? big : static_cast<std::uint64_t>(x);
        return true;
    } else {
        if (!read_integer(v, x, int_lowest_v<I>, int_highest_v<I>, errors, loc)) return false;
        out = static_cast<I>(x);
        return true;
    }
}

// Unknown keys of a model with ForbidExtra.
FASTAPI_DECL bool check_extra(const picojson::object& obj, const std::string_view* names, std::size_t n,
                        ValidationErrors& errors, Loc& loc);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool check_extra(const picojson::object& obj, const std::string_view* names, std::size_t n,
                        ValidationErrors& errors, Loc& loc) {
    bool ok = true;
    for (auto& [k, val] : obj) {
        bool known = false;
        for (std::size_t i = 0; i < n && !known; ++i) known = names[i] == k;
        if (known) continue;
        loc.emplace_back(k);
        add_error(errors, loc, "extra_forbidden", "Extra inputs are not permitted", val);
        loc.pop_back();
        ok = false;
    }
    return ok;
}
#endif

}  // namespace detail

template <class T>
bool from_json(const picojson::value& v, T& out, ValidationErrors& errors, Loc& loc);

namespace detail {

// A Secret's value never appears in an error: the inputs of errors from `from` on are masked.
FASTAPI_DECL void mask_inputs(ValidationErrors& errors, std::size_t from);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void mask_inputs(ValidationErrors& errors, std::size_t from) {
    for (std::size_t i = from; i < errors.size(); ++i) errors[i].input = picojson::value(std::string(Secret<>::masked));
}
#endif

// One field of a model: absent (missing, or its default), or read from the object.
template <class F>
bool read_model_field(const picojson::value& whole, const picojson::object& obj, std::string_view key, F& field,
                      ValidationErrors& errors, Loc& loc) {
    using Spec = spec_of_t<F>;
    auto it = obj.find(std::string(key));
    if (it == obj.end()) {
        if constexpr (Spec::required) {
            loc.emplace_back(std::string(key));
            errors.push_back(missing_error(loc, whole));
            loc.pop_back();
            return false;
        } else {
            Spec::set_default(field_value(field));
            return true;
        }
    }
    loc.emplace_back(std::string(key));
    bool ok = from_json(it->second, field, errors, loc);
    loc.pop_back();
    return ok;
}

template <class T>
bool read_model(const picojson::value& v, T& out, ValidationErrors& errors, Loc& loc) {
    if (!v.is<picojson::object>()) {
        errors.push_back(model_attributes_type_error(loc, v));
        return false;
    }
    const auto& obj = v.get<picojson::object>();
    const auto& names = wire_names_v<T>;
    bool ok = true;
    visit_fields(out, [&](auto&... f) {
        std::size_t i = 0;
        ((ok = read_model_field(v, obj, names[i++], f, errors, loc) && ok), ...);
    });
    if constexpr (model_config_t<T>::forbid_extra) ok = check_extra(obj, names.data(), names.size(), errors, loc) && ok;
    return ok;
}

}  // namespace detail

// Reads v into out, adding an error at loc (and below) for every problem; true when out is
// complete and valid. Absent optional fields keep the value out has: pass a fresh object.
template <class T>
bool from_json(const picojson::value& v, T& out, ValidationErrors& errors, Loc& loc) {
    if constexpr (detail::is_field_v<T>) {
        using Spec = detail::spec_of_t<T>;
        return from_json(v, out.value, errors, loc) && detail::check_field_constraints<Spec>(out.value, errors, loc, v);
    } else if constexpr (std::is_same_v<T, picojson::value>) {
        out = v;
        return true;
    } else if constexpr (std::is_same_v<T, bool>) {
        return detail::read_bool(v, out, errors, loc);
    } else if constexpr (std::is_integral_v<T> && !std::is_same_v<T, char>) {
        return detail::read_integral(v, out, errors, loc);
    } else if constexpr (std::is_floating_point_v<T>) {
        double d = 0;
        if (!detail::read_number(v, d, errors, loc)) return false;
        out = static_cast<T>(d);
        return true;
    } else if constexpr (std::is_same_v<T, std::string>) {
        return detail::read_string(v, out, errors, loc);
    } else if constexpr (detail::is_secret_v<T>) {
        const std::size_t before = errors.size();
        if (from_json(v, out.get_secret_value(), errors, loc)) return true;
        detail::mask_inputs(errors, before);
        return false;
    } else if constexpr (detail::is_optional_v<T>) {
        if (v.is<picojson::null>()) {
            out.reset();
            return true;
        }
        typename T::value_type inner{};
        if (!from_json(v, inner, errors, loc)) return false;
        out = std::move(inner);
        return true;
    } else if constexpr (detail::is_vector_v<T>) {
        if (!v.is<picojson::array>()) {
            detail::type_error(errors, loc, "list_type", "Input should be a valid list", v);
            return false;
        }
        const auto& a = v.get<picojson::array>();
        out.clear();
        out.reserve(a.size());
        bool ok = true;
        for (std::size_t i = 0; i < a.size(); ++i) {
            loc.emplace_back(static_cast<std::int64_t>(i));
            typename T::value_type e{};
            if (from_json(a[i], e, errors, loc)) out.push_back(std::move(e));
            else ok = false;
            loc.pop_back();
        }
        return ok;
    } else if constexpr (detail::is_map_v<T>) {
        if (!v.is<picojson::object>()) {
            detail::type_error(errors, loc, "dict_type", "Input should be a valid dictionary", v);
            return false;
        }
        out.clear();
        bool ok = true;
        for (const auto& [k, e] : v.get<picojson::object>()) {
            loc.emplace_back(k);
            typename T::mapped_type m{};
            if (from_json(e, m, errors, loc)) out.emplace(k, std::move(m));
            else ok = false;
            loc.pop_back();
        }
        return ok;
    } else if constexpr (detail::named_enum<T>) {
        if (v.is<std::string>() && detail::read_enum_text(v.get<std::string>(), out)) return true;
        const auto& names = detail::enum_names_v<T>;
        detail::enum_error(names.data(), names.size(), v, errors, loc);
        return false;
    } else if constexpr (detail::is_model_v<T>) {
        return detail::read_model(v, out, errors, loc);
    } else {
        static_assert(detail::dependent_false<T>, FASTAPI_UNSUPPORTED_TYPE_MESSAGE);
        return false;
    }
}

// Reads a path, query, header, cookie or form value (always a string) into out, the way
// FastAPI converts them: "42" for ints, "1.5" for floats, true/false/1/0/yes/no/on/off/t/f/y/n
// for bools, an enum by its name.
template <class T>
bool from_string(std::string_view s, T& out, ValidationErrors& errors, Loc& loc) {
    if constexpr (detail::is_field_v<T>) {
        using Spec = detail::spec_of_t<T>;
        return from_string(s, out.value, errors, loc) &&
               detail::check_field_constraints<Spec>(out.value, errors, loc, [s] { return picojson::value(std::string(s)); });
    } else if constexpr (std::is_same_v<T, std::string>) {
        out.assign(s.data(), s.size());
        return true;
    } else if constexpr (detail::is_secret_v<T>) {
        const std::size_t before = errors.size();
        if (from_string(s, out.get_secret_value(), errors, loc)) return true;
        detail::mask_inputs(errors, before);
        return false;
    } else if constexpr (std::is_same_v<T, picojson::value>) {
        out = picojson::value(std::string(s));
        return true;
    } else if constexpr (detail::is_optional_v<T>) {
        typename T::value_type inner{};
        if (!from_string(s, inner, errors, loc)) return false;
        out = std::move(inner);
        return true;
    } else if constexpr (std::is_same_v<T, bool>) {
        if (detail::parse_bool_text(s, out)) return true;
        detail::type_error(errors, loc, "bool_parsing", detail::bool_parsing_msg, picojson::value(std::string(s)));
        return false;
    } else if constexpr ((std::is_integral_v<T> && !std::is_same_v<T, char>) || std::is_floating_point_v<T>) {
        // Plain digits (the usual "42" or "-1.5") need none of pydantic's lax rules.
        if (detail::plain_number_text(s)) {
            if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
                std::int64_t v = 0;
                auto r = std::from_chars(s.data(), s.data() + s.size(), v);
                if (r.ec == std::errc() && r.ptr == s.data() + s.size() && v >= detail::int_lowest_v<T> &&
                    v <= detail::int_highest_v<T>)
                    return (out = static_cast<T>(v)), true;
            } else if constexpr (std::is_floating_point_v<T>) {
                double d = 0;
                auto r = std::from_chars(s.data(), s.data() + s.size(), d);
                if (r.ec == std::errc() && r.ptr == s.data() + s.size()) return (out = static_cast<T>(d)), true;
            }
        }
        return from_json(picojson::value(std::string(s)), out, errors, loc);
    } else if constexpr (detail::named_enum<T>) {
        if (detail::read_enum_text(s, out)) return true;
        const auto& names = detail::enum_names_v<T>;
        detail::enum_error(names.data(), names.size(), picojson::value(std::string(s)), errors, loc);
        return false;
    } else {
        static_assert(detail::dependent_false<T>,
                      "fastapi: this parameter type cannot be read from a path, query, header or cookie string; use "
                      "bool, an integer, double, std::string, an enum with fastapi::enum_values, or std::optional / "
                      "std::vector of those");
        return false;
    }
}

namespace detail {

// --- parsing a body: Python's json module's verdict on malformed text ---

// Length of the well-formed UTF-8 sequence at p (at most `avail` bytes), 0 when it is not one:
// no overlong forms, no surrogates, nothing above U+10FFFF.
FASTAPI_DECL std::size_t utf8_sequence_length(const char* at, std::size_t avail) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::size_t utf8_sequence_length(const char* at, std::size_t avail) noexcept {
    const auto* p = reinterpret_cast<const unsigned char*>(at);
    unsigned char c = p[0];
    if (c < 0x80) return 1;
    std::size_t len;
    std::uint32_t cp;
    if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
    else return 0;
    if (len > avail) return 0;
    for (std::size_t k = 1; k < len; ++k) {
        if ((p[k] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (p[k] & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}
#endif

FASTAPI_DECL bool is_valid_utf8(std::string_view s) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool is_valid_utf8(std::string_view s) noexcept {
    for (std::size_t i = 0; i < s.size();) {
        if (static_cast<unsigned char>(s[i]) < 0x80) {
            ++i;
            continue;
        }
        std::size_t n = utf8_sequence_length(s.data() + i, s.size() - i);
        if (n == 0) return false;
        i += n;
    }
    return true;
}
#endif

// Appends code point cp (at most U+10FFFF, not a surrogate) as UTF-8.
FASTAPI_DECL void append_utf8(std::string& out, std::uint32_t cp);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}
#endif

// Whether arrays and objects nest deeper than FASTAPI_MAX_JSON_DEPTH in s, `open` levels being
// open before it (brackets inside strings do not count). picojson counts only arrays, and the
// checker below recurses once per level. With first_value_only, the scan stops where the
// value s starts with ends (the rest of a document is not that value's business).
FASTAPI_DECL bool json_nests_too_deep(std::string_view s, int open = 0, bool first_value_only = false) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool json_nests_too_deep(std::string_view s, int open, bool first_value_only) noexcept {
    int depth = open;
    bool in_string = false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (in_string) {
            if (c == '\\') ++i;
            else if (c == '"') in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > FASTAPI_MAX_JSON_DEPTH) return true;
        } else if (c == ']' || c == '}') {
            if (--depth <= open && first_value_only) return false;
        } else if (c == ',' && depth == open && first_value_only) {
            return false;
        }
    }
    return false;
}
#endif

// A scanner following CPython's json decoder (3.12) just far enough to name the first error
// as it does ("Expecting value", "Expecting ',' delimiter", ...) and where (byte offset).
class python_json_checker {
public:
    explicit python_json_checker(std::string_view s) : s_(s) {}
    // True when the text is valid JSON; else msg and pos describe the error.
    bool check() {
        std::size_t i = skip_ws(0);
        if (!value(i)) return false;
        i = skip_ws(i);
        if (i != s_.size()) return fail("Extra data", i);
        return true;
    }
    std::string msg;
    std::size_t pos = 0;

private:
    bool fail(const char* m, std::size_t p) {
        msg = m;
        pos = p;
        return false;
    }
    std::size_t skip_ws(std::size_t i) const {
        while (i < s_.size() && (s_[i] == ' ' || s_[i] == '\t' || s_[i] == '\n' || s_[i] == '\r')) ++i;
        return i;
    }
    bool at(std::size_t i, char c) const { return i < s_.size() && s_[i] == c; }
    bool digit(std::size_t i) const { return i < s_.size() && s_[i] >= '0' && s_[i] <= '9'; }
    bool value(std::size_t& i) {
        if (i >= s_.size()) return fail("Expecting value", i);
        char c = s_[i];
        if (c == '"') return string(i);
        if (c == '{') return object(i);
        if (c == '[') return array(i);
        for (std::string_view lit : {"null", "true", "false", "NaN", "Infinity", "-Infinity"})
            if (s_.substr(i, lit.size()) == lit) return (i += lit.size()), true;
        // -?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?
        std::size_t j = i;
        if (at(j, '-')) ++j;
        if (at(j, '0')) ++j;
        else if (digit(j)) while (digit(j)) ++j;
        else return fail("Expecting value", i);
        if (at(j, '.') && digit(j + 1)) {
            j += 1;
            while (digit(j)) ++j;
        }
        if ((at(j, 'e') || at(j, 'E'))) {
            std::size_t k = j + 1;
            if (at(k, '+') || at(k, '-')) ++k;
            if (digit(k)) {
                while (digit(k)) ++k;
                j = k;
            }
        }
        i = j;
        return true;
    }
    bool string(std::size_t& i) {
        std::size_t begin = i++;
        while (true) {
            if (i >= s_.size()) return fail("Unterminated string starting at", begin);
            unsigned char c = static_cast<unsigned char>(s_[i]);
            if (c == '"') return ++i, true;
            if (c < 0x20) return fail("Invalid control character at", i);
            if (c != '\\') { ++i; continue; }
            if (i + 1 >= s_.size()) return fail("Unterminated string starting at", begin);
            char e = s_[i + 1];
            if (e == 'u') {
                if (i + 6 >= s_.size()) return fail("Invalid \\uXXXX escape", i + 1);
                for (std::size_t k = i + 2; k < i + 6; ++k)
                    if (!std::isxdigit(static_cast<unsigned char>(s_[k]))) return fail("Invalid \\uXXXX escape", i + 1);
                i += 6;
            } else if (std::string_view("\"\\/bfnrt").find(e) != std::string_view::npos) {
                i += 2;
            } else {
                return fail("Invalid \\escape", i);
            }
        }
    }
    bool object(std::size_t& i) {
        i = skip_ws(i + 1);
        if (at(i, '}')) return ++i, true;
        while (true) {
            if (!at(i, '"')) return fail("Expecting property name enclosed in double quotes", i);
            if (!string(i)) return false;
            i = skip_ws(i);
            if (!at(i, ':')) return fail("Expecting ':' delimiter", i);
            i = skip_ws(i + 1);
            if (!value(i)) return false;
            i = skip_ws(i);
            if (at(i, '}')) return ++i, true;
            if (!at(i, ',')) return fail("Expecting ',' delimiter", i);
            i = skip_ws(i + 1);
        }
    }
    bool array(std::size_t& i) {
        i = skip_ws(i + 1);
        if (at(i, ']')) return ++i, true;
        while (true) {
            if (!value(i)) return false;
            i = skip_ws(i);
            if (at(i, ']')) return ++i, true;
            if (!at(i, ',')) return fail("Expecting ',' delimiter", i);
            i = skip_ws(i + 1);
        }
    }
    std::string_view s_;
};

// picojson's default_parse_context, which also notes the exact value of each integer literal
// beyond int64 that a uint64 holds (see ExactIntegers).
class exact_parse_context {
public:
    using input_t = picojson::input<const char*>;
    exact_parse_context(picojson::value* out, std::size_t depths, const input_t* in, const char* text)
        : out_(out), depths_(depths), in_(in), text_(text) {}
    bool set_null() { return (*out_ = picojson::value()), true; }
    bool set_bool(bool b) { return (*out_ = picojson::value(b)), true; }
    bool set_int64(std::int64_t i) { return (*out_ = picojson::value(i)), true; }
    bool set_number(double f) {
        *out_ = picojson::value(f);
        if (f >= 9223372036854775808.0 && f <= 18446744073709551616.0) {
            // The literal ends where the input is; it is an integer when it has no '.' or 'e'.
            const char* end = in_->cur();
            const char* begin = end;
            bool integral = true;
            while (begin != text_ && std::string_view("0123456789+-.eE").find(begin[-1]) != std::string_view::npos) {
                --begin;
                if (*begin == '.' || *begin == 'e' || *begin == 'E') integral = false;
            }
            std::uint64_t exact = 0;
            auto r = std::from_chars(begin, end, exact);
            if (integral && r.ec == std::errc() && r.ptr == end)
                ExactIntegers::current().entries.push_back({out_, f, exact});
        }
        return true;
    }
    template <class Iter>
    bool parse_string(picojson::input<Iter>& in) {
        *out_ = picojson::value(picojson::string_type, false);
        return picojson::_parse_string(out_->get<std::string>(), in);
    }
    bool parse_array_start() {
        if (depths_ == 0) return false;
        --depths_;
        *out_ = picojson::value(picojson::array_type, false);
        return true;
    }
    template <class Iter>
    bool parse_array_item(picojson::input<Iter>& in, std::size_t) {
        picojson::array& a = out_->get<picojson::array>();
        const picojson::value* old = a.data();
        std::size_t n = a.size();
        a.push_back(picojson::value());
        auto& entries = ExactIntegers::current().entries;
        if (a.data() != old && !entries.empty())  // the elements moved: so did their entries
            for (auto& e : entries)
                if (e.at >= old && e.at < old + n) e.at = a.data() + (e.at - old);
        exact_parse_context ctx(&a.back(), depths_, in_, text_);
        return picojson::_parse(ctx, in);
    }
    bool parse_array_stop(std::size_t) { return ++depths_, true; }
    bool parse_object_start() {
        if (depths_ == 0) return false;
        *out_ = picojson::value(picojson::object_type, false);
        return true;
    }
    template <class Iter>
    bool parse_object_item(picojson::input<Iter>& in, const std::string& key) {
        picojson::value* slot = &out_->get<picojson::object>()[key];
        auto& entries = ExactIntegers::current().entries;
        if (!entries.empty())  // a repeated key: the earlier value is gone
            std::erase_if(entries, [slot](const ExactIntegers::Entry& e) { return e.at == slot; });
        exact_parse_context ctx(slot, depths_, in_, text_);
        return picojson::_parse(ctx, in);
    }
    bool parse_object_stop() { return ++depths_, true; }

private:
    picojson::value* out_;
    std::size_t depths_;
    const input_t* in_;
    const char* text_;
};

// Parses a request body as FastAPI does. Malformed JSON adds json_invalid at
// loc + [position] (Python's character position) with Python's message, and returns false.
// Bytes that are not UTF-8, nesting deeper than FASTAPI_MAX_JSON_DEPTH or a number beyond
// a double make FastAPI answer 400 "There was an error parsing the body": thrown as that
// HTTPException.
FASTAPI_DECL bool parse_json_body(std::string_view text, picojson::value& out, ValidationErrors& errors,
                            const Loc& loc = Loc{LocPart(std::string("body"))});
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool parse_json_body(std::string_view text, picojson::value& out, ValidationErrors& errors,
                            const Loc& loc) {
    if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
    if (!is_valid_utf8(text) || json_nests_too_deep(text)) throw HTTPException(400, "There was an error parsing the body");
    std::string err;
    ExactIntegers& exact = ExactIntegers::current();
    exact.entries.clear();
    exact.root = &out;
    // picojson's own limit (100 levels) would misreport deeper, valid JSON as malformed.
    exact_parse_context::input_t in(text.data(), text.data() + text.size());
    exact_parse_context context(&out, FASTAPI_MAX_JSON_DEPTH + 1, &in, text.data());
    const char* end = nullptr;
    try {
        if (!picojson::_parse(context, in)) err = "syntax error";
        end = in.cur();
    } catch (const std::overflow_error&) {
        // A number beyond a double (1e999): picojson has no infinity to hold it.
        throw HTTPException(400, "There was an error parsing the body");
    }
    if (err.empty()) {
        // picojson stops after one value; Python wants only whitespace after it.
        std::size_t rest = static_cast<std::size_t>(end - text.data());
        while (rest < text.size() && (text[rest] == ' ' || text[rest] == '\t' || text[rest] == '\n' || text[rest] == '\r')) ++rest;
        if (rest == text.size()) return true;
    }
    python_json_checker checker(text);
    std::string msg = "Expecting value";
    std::size_t pos = 0;
    if (!checker.check()) {
        msg = checker.msg;
        pos = checker.pos;
    }
    Loc where = loc;
    where.emplace_back(static_cast<std::int64_t>(utf8_length(text.substr(0, pos))));
    add_error(errors, where, "json_invalid", "JSON decode error", picojson::value(picojson::object{}),
              ctx_object({{"error", picojson::value(msg)}}));
    out = picojson::value();
    return false;
}
#endif

}  // namespace detail

namespace detail {

// ctx keys in pydantic's order where it is not alphabetical.
FASTAPI_DECL int ctx_key_rank(std::string_view k) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL int ctx_key_rank(std::string_view k) noexcept {
    if (k == "field_type") return 0;
    if (k == "min_length" || k == "max_length") return 1;
    if (k == "actual_length") return 2;
    return 3;
}
#endif

// FastAPI's 422 body: {"detail":[{"type":...,"loc":[...],"msg":...,"input":...,"ctx":{...}}]}.
FASTAPI_DECL std::string render_validation_errors(const ValidationErrors& errors);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string render_validation_errors(const ValidationErrors& errors) {
    std::string out = "{\"detail\":[";
    bool first = true;
    for (const auto& e : errors) {
        if (!first) out += ',';
        first = false;
        out += "{\"type\":";
        append_json_string(out, e.type);
        out += ",\"loc\":[";
        for (std::size_t i = 0; i < e.loc.size(); ++i) {
            if (i) out += ',';
            if (auto* s = std::get_if<std::string>(&e.loc[i])) append_json_string(out, *s);
            else append_integer(out, std::get<std::int64_t>(e.loc[i]));
        }
        out += "],\"msg\":";
        append_json_string(out, e.msg);
        out += ",\"input\":";
        append_json_value(out, e.input);
        if (e.ctx && e.ctx->is<picojson::object>()) {
            out += ",\"ctx\":{";
            const auto& o = e.ctx->get<picojson::object>();
            bool first_key = true;
            for (int rank = 0; rank <= 3; ++rank)
                for (auto& [k, v] : o) {
                    if (ctx_key_rank(k) != rank) continue;
                    if (!first_key) out += ',';
                    first_key = false;
                    append_json_string(out, k);
                    out += ':';
                    append_json_value(out, v);
                }
            out += '}';
        }
        out += '}';
    }
    if (errors.dropped() != 0) {
        if (!first) out += ',';
        out += R"({"type":"too_many_errors","loc":[],"msg":"Too many errors: )";
        out += std::to_string(errors.dropped());
        out += R"( more were not reported","input":null,"ctx":{"max_errors":)";
        out += std::to_string(FASTAPI_MAX_VALIDATION_ERRORS);
        out += R"(,"not_reported":)";
        out += std::to_string(errors.dropped());
        out += "}}";
    }
    out += "]}";
    return out;
}
#endif

}  // namespace detail

// The rest of the library calls these as detail::write_json, ...
namespace detail {
using fastapi::from_json;
using fastapi::from_string;
using fastapi::to_json_value;
using fastapi::write_json;
}  // namespace detail

#undef FASTAPI_UNSUPPORTED_TYPE_MESSAGE

}  // namespace fastapi
