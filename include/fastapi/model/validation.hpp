// validation: what goes wrong with a request's data and how FastAPI reports it. Errors are
// collected, never thrown one by one: each has pydantic v2's type, the location (["body",
// "items", 0, "price"]), the message, the offending input and a context, and all of them
// together make the 422 body {"detail": [...]}. Also the checks of constraints (Gt, MinLength,
// Pattern, ...) shared by model fields and handler parameters.
// Relies on meta, reflect and model.
#pragma once
#include "../core/meta.hpp"
#include "json_write.hpp"  // to_json_value (the input an error reports)
#include "model.hpp"

#include <charconv>     // to_chars
#include <cmath>        // fmod, isfinite
#include <cstdint>      // int64_t
#include <exception>    // exception
#include <stdexcept>    // runtime_error
#include <optional>     // optional
#include <string>       // string
#include <string_view>  // string_view
#include <variant>      // variant
#include <vector>       // vector

namespace fastapi {

// One step of a location: a key or an index.
using LocPart = std::variant<std::string, std::int64_t>;
// Where an error is: ["body", "items", 0, "quantity"]. Pushed and popped while descending.
using Loc = std::vector<LocPart>;

struct ValidationError {
    std::string type;                    // pydantic's error type: "missing", "int_parsing", ...
    Loc loc;
    std::string msg;
    picojson::value input;               // the value that was refused
    std::optional<picojson::value> ctx;  // an object, for errors that have one
};
// The errors of one request, at most FASTAPI_MAX_VALIDATION_ERRORS of them kept: past that,
// an error is only counted (dropped()), so a body of 100,000 bad values costs neither an 11 MB
// answer nor the memory to build it. The 422 body ends with one "too_many_errors" entry
// saying how many were left out (a deliberate difference from FastAPI, which lists all).
class ValidationErrors : public std::vector<ValidationError> {
    static_assert(FASTAPI_MAX_VALIDATION_ERRORS >= 1, "fastapi: FASTAPI_MAX_VALIDATION_ERRORS must be at least 1");

public:
    using std::vector<ValidationError>::vector;
    ValidationErrors() = default;
    ValidationErrors(std::vector<ValidationError> errors) : std::vector<ValidationError>(std::move(errors)) {}
    void push_back(ValidationError e) {
        if (size() < FASTAPI_MAX_VALIDATION_ERRORS) std::vector<ValidationError>::push_back(std::move(e));
        else ++dropped_;
    }
    // Errors added beyond the limit, counted and not kept.
    std::size_t dropped() const noexcept { return dropped_; }
    // Every error added, kept or not.
    std::size_t total() const noexcept { return size() + dropped_; }
    void clear() noexcept {
        std::vector<ValidationError>::clear();
        dropped_ = 0;
    }

private:
    std::size_t dropped_ = 0;
};

// Thrown when a request's parameters do not validate; answered with 422 and the errors.
class RequestValidationError : public std::exception {
public:
    explicit RequestValidationError(ValidationErrors errors) : errors_(std::move(errors)) {}
    const ValidationErrors& errors() const noexcept { return errors_; }
    const char* what() const noexcept override { return "fastapi: request validation failed"; }

private:
    ValidationErrors errors_;
};

// A handler's value that its route's response model cannot read (FastAPI's
// ResponseValidationError): a bug in the server, answered 500 and logged with the errors.
class ResponseValidationError : public std::runtime_error {
public:
    ResponseValidationError(ValidationErrors errors, const std::string& rendered)
        : std::runtime_error("fastapi: the response does not match the route's response model: " + rendered),
          errors_(std::move(errors)) {}
    const ValidationErrors& errors() const noexcept { return errors_; }

private:
    ValidationErrors errors_;
};

namespace detail {

FASTAPI_DECL picojson::value ctx_object(std::initializer_list<std::pair<const char*, picojson::value>> items);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL picojson::value ctx_object(std::initializer_list<std::pair<const char*, picojson::value>> items) {
    picojson::object o;
    for (auto& [k, v] : items) o.emplace(k, v);
    return picojson::value(std::move(o));
}
#endif

FASTAPI_DECL void add_error(ValidationErrors& errors, const Loc& loc, std::string type, std::string msg,
                      picojson::value input, std::optional<picojson::value> ctx = std::nullopt);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void add_error(ValidationErrors& errors, const Loc& loc, std::string type, std::string msg,
                      picojson::value input, std::optional<picojson::value> ctx) {
    errors.push_back(ValidationError{std::move(type), loc, std::move(msg), std::move(input), std::move(ctx)});
}
#endif

// --- errors without parameters ---

FASTAPI_DECL ValidationError missing_error(const Loc& loc, picojson::value input = {});
#if FASTAPI_DEFINITIONS
FASTAPI_DECL ValidationError missing_error(const Loc& loc, picojson::value input) {
    return ValidationError{"missing", loc, "Field required", std::move(input), std::nullopt};
}
#endif
FASTAPI_DECL ValidationError model_attributes_type_error(const Loc& loc, const picojson::value& input);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL ValidationError model_attributes_type_error(const Loc& loc, const picojson::value& input) {
    return ValidationError{"model_attributes_type", loc,
                           "Input should be a valid dictionary or object to extract fields from", input, std::nullopt};
}
#endif

// Numbers in messages as pydantic-core writes them (Rust's Display: 0.5, 1, 1e-7 as 0.0000001).
FASTAPI_DECL void append_message_number(std::string& out, const NumberBound& b);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void append_message_number(std::string& out, const NumberBound& b) {
    if (b.is_integer) {
        out += std::to_string(b.integer);
        return;
    }
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, b.number, std::chars_format::scientific);
    std::string_view sci(buf, static_cast<std::size_t>(r.ptr - buf));
    bool neg = !sci.empty() && sci[0] == '-';
    if (neg) sci.remove_prefix(1);
    auto e = sci.find('e');
    std::string digits;
    for (char c : sci.substr(0, e))
        if (c != '.') digits += c;
    int exp = std::stoi(std::string(sci.substr(e + 1)));
    if (neg) out += '-';
    int point = exp + 1;  // digits before the decimal point
    if (point <= 0) {
        out += "0.";
        out.append(static_cast<std::size_t>(-point), '0');
        out += digits;
    } else if (static_cast<std::size_t>(point) >= digits.size()) {
        out += digits;
        out.append(static_cast<std::size_t>(point) - digits.size(), '0');
    } else {
        out += digits.substr(0, static_cast<std::size_t>(point));
        out += '.';
        out += digits.substr(static_cast<std::size_t>(point));
    }
}
#endif

FASTAPI_DECL picojson::value bound_json(const NumberBound& b);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL picojson::value bound_json(const NumberBound& b) {
    return b.is_integer ? picojson::value(static_cast<std::int64_t>(b.integer)) : picojson::value(b.number);
}
#endif

// greater_than, less_than_equal, ...: "Input should be greater than 0", ctx {"gt": 0}.
FASTAPI_DECL void add_bound_error(ValidationErrors& errors, const Loc& loc, const picojson::value& input, const char* type,
                            const char* words, const char* key, const NumberBound& b);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void add_bound_error(ValidationErrors& errors, const Loc& loc, const picojson::value& input, const char* type,
                            const char* words, const char* key, const NumberBound& b) {
    std::string msg = "Input should be ";
    msg += words;
    msg += ' ';
    append_message_number(msg, b);
    add_error(errors, loc, type, std::move(msg), input, ctx_object({{key, bound_json(b)}}));
}
#endif

FASTAPI_DECL std::size_t utf8_length(std::string_view s) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::size_t utf8_length(std::string_view s) noexcept {
    std::size_t n = 0;
    for (unsigned char c : s)
        if ((c & 0xC0) != 0x80) ++n;
    return n;
}
#endif

// --- the checks, in pydantic-core's order; one error per value at most ---

FASTAPI_DECL bool check_number(double v, const picojson::value& input, const Constraints& c, ValidationErrors& errors,
                         const Loc& loc);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool check_number(double v, const picojson::value& input, const Constraints& c, ValidationErrors& errors,
                         const Loc& loc) {
    if (c.multiple_of) {
        double m = c.multiple_of->number;
        double rem = std::fmod(v, m);
        double threshold = std::fabs(v) / 1e9;
        if (std::fabs(rem) > threshold && std::fabs(rem - m) > threshold) {
            add_bound_error(errors, loc, input, "multiple_of", "a multiple of", "multiple_of", *c.multiple_of);
            return false;
        }
    }
    if (c.le && !(v <= c.le->number)) return add_bound_error(errors, loc, input, "less_than_equal", "less than or equal to", "le", *c.le), false;
    if (c.lt && !(v < c.lt->number)) return add_bound_error(errors, loc, input, "less_than", "less than", "lt", *c.lt), false;
    if (c.ge && !(v >= c.ge->number)) return add_bound_error(errors, loc, input, "greater_than_equal", "greater than or equal to", "ge", *c.ge), false;
    if (c.gt && !(v > c.gt->number)) return add_bound_error(errors, loc, input, "greater_than", "greater than", "gt", *c.gt), false;
    return true;
}
#endif

// Integers compare exactly with integer bounds.
FASTAPI_DECL bool check_integer(std::int64_t v, const picojson::value& input, const Constraints& c, ValidationErrors& errors,
                          const Loc& loc);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool check_integer(std::int64_t v, const picojson::value& input, const Constraints& c, ValidationErrors& errors,
                          const Loc& loc) {
    auto cmp = [v](const NumberBound& b) -> int {  // sign of v - b
        if (b.is_integer) return v < b.integer ? -1 : v > b.integer ? 1 : 0;
        double d = static_cast<double>(v);
        return d < b.number ? -1 : d > b.number ? 1 : 0;
    };
    if (c.multiple_of) {
        bool ok = c.multiple_of->is_integer
                      // Every integer is a multiple of ±1; INT64_MIN % -1 would overflow.
                      ? (c.multiple_of->integer == 0 || c.multiple_of->integer == 1 || c.multiple_of->integer == -1 ||
                         v % c.multiple_of->integer == 0)
                      : std::fabs(std::fmod(static_cast<double>(v), c.multiple_of->number)) == 0.0;
        if (!ok) {
            add_bound_error(errors, loc, input, "multiple_of", "a multiple of", "multiple_of", *c.multiple_of);
            return false;
        }
    }
    if (c.le && cmp(*c.le) > 0) return add_bound_error(errors, loc, input, "less_than_equal", "less than or equal to", "le", *c.le), false;
    if (c.lt && cmp(*c.lt) >= 0) return add_bound_error(errors, loc, input, "less_than", "less than", "lt", *c.lt), false;
    if (c.ge && cmp(*c.ge) < 0) return add_bound_error(errors, loc, input, "greater_than_equal", "greater than or equal to", "ge", *c.ge), false;
    if (c.gt && cmp(*c.gt) <= 0) return add_bound_error(errors, loc, input, "greater_than", "greater than", "gt", *c.gt), false;
    return true;
}
#endif

FASTAPI_DECL std::string plural(std::size_t n, const char* word);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string plural(std::size_t n, const char* word) {
    std::string s = std::to_string(n) + ' ' + word;
    if (n != 1) s += 's';
    return s;
}
#endif

FASTAPI_DECL bool check_string(std::string_view v, const picojson::value& input, const Constraints& c,
                         ValidationErrors& errors, const Loc& loc);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool check_string(std::string_view v, const picojson::value& input, const Constraints& c,
                         ValidationErrors& errors, const Loc& loc) {
    std::size_t len = (c.min_length || c.max_length) ? utf8_length(v) : 0;
    if (c.min_length && len < *c.min_length) {
        add_error(errors, loc, "string_too_short", "String should have at least " + plural(*c.min_length, "character"),
                  input, ctx_object({{"min_length", picojson::value(static_cast<std::int64_t>(*c.min_length))}}));
        return false;
    }
    if (c.max_length && len > *c.max_length) {
        add_error(errors, loc, "string_too_long", "String should have at most " + plural(*c.max_length, "character"),
                  input, ctx_object({{"max_length", picojson::value(static_cast<std::int64_t>(*c.max_length))}}));
        return false;
    }
    if (c.pattern_matches) {
        if (!c.pattern_matches(v)) {
            add_error(errors, loc, "string_pattern_mismatch", "String should match pattern '" + std::string(c.pattern) + "'",
                      input, ctx_object({{"pattern", picojson::value(std::string(c.pattern))}}));
            return false;
        }
    }
    return true;
}
#endif

// too_short / too_long for lists ("List") and maps ("Dictionary").
FASTAPI_DECL bool check_size(std::size_t n, const picojson::value& input, const char* field_type, const Constraints& c,
                       ValidationErrors& errors, const Loc& loc);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool check_size(std::size_t n, const picojson::value& input, const char* field_type, const Constraints& c,
                       ValidationErrors& errors, const Loc& loc) {
    std::optional<std::size_t> lo = c.min_items ? c.min_items : c.min_length;
    std::optional<std::size_t> hi = c.max_items ? c.max_items : c.max_length;
    auto ctx = [&](const char* key, std::size_t limit) {
        return ctx_object({{"field_type", picojson::value(std::string(field_type))},
                           {key, picojson::value(static_cast<std::int64_t>(limit))},
                           {"actual_length", picojson::value(static_cast<std::int64_t>(n))}});
    };
    if (lo && n < *lo) {
        add_error(errors, loc, "too_short",
                  std::string(field_type) + " should have at least " + plural(*lo, "item") + " after validation, not " +
                      std::to_string(n),
                  input, ctx("min_length", *lo));
        return false;
    }
    if (hi && n > *hi) {
        add_error(errors, loc, "too_long",
                  std::string(field_type) + " should have at most " + plural(*hi, "item") + " after validation, not " +
                      std::to_string(n),
                  input, ctx("max_length", *hi));
        return false;
    }
    return true;
}
#endif

// Checks `value` against constraints c; true when it passes (or there is nothing to check).
// `input` is what the client sent (reported in the error); by default, the value as JSON.
template <class T>
bool check_value(const T& value, const Constraints& c, ValidationErrors& errors, const Loc& loc,
                 const picojson::value* input = nullptr) {
    // The input is only for the error message: without one, it is made from the value, and
    // only when there is an error (a first pass with a placeholder says whether there is).
    auto checked = [&](auto&& check) {
        if (input) return check(*input, errors);
        static const picojson::value placeholder;
        ValidationErrors unused;
        return check(placeholder, unused) || check(to_json_value(value), errors);
    };
    using In = const picojson::value&;
    if constexpr (is_field_v<T>) {
        return check_value(value.value, c, errors, loc, input);
    } else if constexpr (is_optional_v<T>) {
        return !value || check_value(*value, c, errors, loc, input);
    } else if constexpr (std::is_same_v<T, bool>) {
        return true;
    } else if constexpr (std::is_integral_v<T>) {
        if constexpr (std::is_unsigned_v<T> && sizeof(T) == 8) {
            if (value > static_cast<std::uint64_t>(INT64_MAX))
                return checked([&](In in, ValidationErrors& e) { return check_number(static_cast<double>(value), in, c, e, loc); });
        }
        return checked([&](In in, ValidationErrors& e) { return check_integer(static_cast<std::int64_t>(value), in, c, e, loc); });
    } else if constexpr (std::is_floating_point_v<T>) {
        return checked([&](In in, ValidationErrors& e) { return check_number(static_cast<double>(value), in, c, e, loc); });
    } else if constexpr (std::is_same_v<T, std::string>) {
        return checked([&](In in, ValidationErrors& e) { return check_string(value, in, c, e, loc); });
    } else if constexpr (is_vector_v<T> || is_map_v<T>) {
        if (!c.min_items && !c.max_items && !c.min_length && !c.max_length) return true;
        const char* kind = is_vector_v<T> ? "List" : "Dictionary";
        return checked([&](In in, ValidationErrors& e) { return check_size(value.size(), in, kind, c, e, loc); });
    } else {
        return true;
    }
}

// The constraints a field_spec (see model.hpp) declares, checked on a value read for it.
// Pass the client's input (the JSON value, or the string of a query parameter) so that an
// error reports it as FastAPI does.
template <class Spec, class T>
bool check_field_constraints(const T& value, ValidationErrors& errors, Loc& loc) {
    if constexpr (Spec::constraints.empty()) return true;
    else return check_value(value, Spec::constraints, errors, loc);
}
template <class Spec, class T>
bool check_field_constraints(const T& value, ValidationErrors& errors, Loc& loc, const picojson::value& input) {
    if constexpr (Spec::constraints.empty()) return true;
    else return check_value(value, Spec::constraints, errors, loc, &input);
}
// Whether value meets the constraints, with nowhere to report a failure.
template <class Spec, class T>
bool meets_constraints(const T& value) {
    if constexpr (Spec::constraints.empty()) {
        return true;
    } else {
        static const picojson::value placeholder;
        ValidationErrors unused;
        Loc nowhere;
        return check_value(value, Spec::constraints, unused, nowhere, &placeholder);
    }
}
// check_field_constraints, the input made by make_input() only when there is an error to
// report (a query string's text, say, which would otherwise be copied for every request).
template <class Spec, class T, class MakeInput>
    requires std::is_invocable_r_v<picojson::value, MakeInput&>
bool check_field_constraints(const T& value, ValidationErrors& errors, Loc& loc, MakeInput&& make_input) {
    if (meets_constraints<Spec>(value)) return true;
    picojson::value input = make_input();
    return check_value(value, Spec::constraints, errors, loc, &input);
}

}  // namespace detail

// Checks value against constraint markers (Gt<0>, MaxLength<50>, ...), adding at most one
// error at loc; true when it passes.
template <class... Markers, class T>
bool check_constraints(const T& value, ValidationErrors& errors, Loc& loc) {
    static constexpr detail::Constraints c = detail::make_constraints<Markers...>();
    if constexpr (c.empty()) return true;
    else return detail::check_value(value, c, errors, loc);
}

}  // namespace fastapi
