// libFuzzer target for the direct JSON reader (json_reader.hpp) against the reference reader
// (picojson + from_json, json.hpp). The input is read as a body for several models that
// between them use every field type. Besides crashes and sanitizer reports, it stops on a
// broken invariant: the direct reader accepting a body that the reference reader refuses, or
// reading a value other than the reference reader's. It also checks that from_string's
// shortcut for plain numbers agrees with the long way.
// Both readers once shared a bug (an int64 beyond its range read as 0), so it also checks
// properties that trust neither: a value read and written by write_json reads back as the
// same value; an integer is accepted exactly when its (independently computed) value is in
// its type's range, and then is that value; a failed conversion always carries an error;
// write_json's output is valid UTF-8 whatever the string holds. Built and run by
// tests/checks/fuzz.sh.
#include "fastapi.hpp"

#include <cstdint>  // uint8_t
#include <cstdio>   // fprintf
#include <cstdlib>  // abort
#include <limits>   // numeric_limits
#include <map>
#include <optional>
#include <string>
#include <vector>

// A named namespace: clang cannot reflect the fields of a type without linkage.
namespace fuzz_json {
using namespace fastapi;

enum class Colour { red, green };

struct Inner {
    std::int8_t small;
    std::optional<std::uint16_t> port;
    std::vector<bool> flags;
};

struct Everything {
    Field<std::string, MinLength<1>, MaxLength<8>> name;
    std::optional<std::string> note;
    Field<double, Gt<0>> price;
    std::optional<float> ratio;
    std::vector<std::string> tags;
    Field<std::int64_t, Ge<-5>, Le<1000000>, Default<7>> count;
    std::uint64_t big;
    bool flag;
    Colour colour;
    std::map<std::string, int> meta;
    std::vector<Inner> inner;
    std::optional<Inner> maybe;
    picojson::value extra;
    Field<std::string, Alias<"wire-name">, Pattern<"^[a-z]*$">, Default<"x">> aliased;
};

// Default member initialisers, and a class describing its own (private) fields.
struct Defaults {
    std::optional<int> page = 1;
    Field<std::vector<Field<int, Ge<0>>>, MaxItems<4>> scores;
    std::optional<picojson::value> any;
    std::optional<std::map<std::string, std::vector<std::string>>> groups;
};
class Point {
    double x_ = 0;
    Field<std::string, MaxLength<3>> label_;

public:
    static constexpr auto fastapi_fields() {
        return std::tuple{fastapi::member("x", &Point::x_), fastapi::member("label", &Point::label_)};
    }
};

struct Strict {
    std::string a;
    Field<std::vector<int>, MinItems<1>, MaxItems<3>> b;
    using fastapi_config = ModelConfig<ForbidExtra>;
};

template <class I>
struct OneInt {
    I v;
};

[[noreturn]] void broken(const char* what, std::string_view input) {
    std::fprintf(stderr, "fuzz_json: invariant broken: %s\ninput: %.*s\n", what, static_cast<int>(input.size()),
                 input.data());
    std::abort();
}

// Written by write_json and read back, a value is the same value. Only a non-finite float
// (written as null, as FastAPI's encoder does) may fail to come back, as a float_type error.
template <class T>
void round_trips(const T& value, std::string_view input) {
    std::string written = to_json_string(value);
    if (!detail::is_valid_utf8(written)) broken("write_json wrote invalid UTF-8", input);
    T again{};
    ValidationErrors errors;
    if (read_json_body(written, again, errors)) {
        if (to_json_string(again) != written) broken("a value written and read back is another value", input);
        return;
    }
    if (errors.total() == 0) broken("reading back failed without an error", input);
    for (const auto& e : errors)
        if (e.type != "float_type" || !e.input.template is<picojson::null>())
            broken("a value written by write_json does not read back", input);
}

template <class T>
void agree(std::string_view text) {
    {
        // As a handler gets it (the direct reader, else the reference one): a failure says why; a
        // success round-trips.
        T reference{};
        ValidationErrors errors;
        bool ok = false;
        try {
            ok = read_json_body(text, reference, errors);
        } catch (const HTTPException&) {
            return;  // a 400: not UTF-8, too deep, a number beyond a double
        }
        if (!ok && errors.total() == 0) broken("a body was refused without an error", text);
        if (ok && errors.total() != 0) broken("a body was accepted with errors", text);
        if (ok) round_trips(reference, text);
    }
    T direct{};
    if (!detail::read_json_direct(text, direct)) return;
    T reference{};
    ValidationErrors errors;
    Loc loc{LocPart(std::string("body"))};
    picojson::value tree;
    try {
        if (detail::parse_json_body(text, tree, errors, loc)) {
            detail::exact_integers_scope exact(tree);
            from_json(tree, reference, errors, loc);
        }
    } catch (const HTTPException&) {
        broken("the direct reader took a body the reference reader answers 400", text);
    }
    if (!errors.empty()) broken("the direct reader took a body the reference reader refuses", text);
    if (to_json_string(direct) != to_json_string(reference)) broken("the two readers read different values", text);
}

template <class T>
void same_from_string(std::string_view text) {
    T fast{}, reference{};
    ValidationErrors fast_errors, reference_errors;
    Loc loc{LocPart(std::string("query"))};
    bool fast_ok = from_string(text, fast, fast_errors, loc);
    bool reference_ok = from_json(picojson::value(std::string(text)), reference, reference_errors, loc);
    if ((!fast_ok && fast_errors.total() == 0) || (!reference_ok && reference_errors.total() == 0))
        broken("a conversion failed without an error", text);
    if (fast_ok != reference_ok) broken("from_string and from_json disagree on a number", text);
    if (fast_ok && to_json_string(fast) != to_json_string(reference)) broken("from_string read another number", text);
}

// The integer `text` spells (optional '-', decimal digits only), computed without the
// library; false when it is not one or is beyond 38 digits.
bool exact_integer(std::string_view text, __int128& out) {
    bool neg = !text.empty() && text[0] == '-';
    std::string_view digits = text.substr(neg ? 1 : 0);
    if (digits.empty() || digits.size() > 38) return false;
    __int128 v = 0;
    for (char c : digits) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + (c - '0');
    }
    out = neg ? -v : v;
    return true;
}

// An integer is accepted from a string, and from a JSON body by either reader, exactly when
// it is within I's range, and then it is that integer; refused, it carries an error.
template <class I>
void integer_in_range(std::string_view text) {
    __int128 exact = 0;
    if (!exact_integer(text, exact)) return;
    const bool fits = exact >= std::numeric_limits<I>::min() && exact <= std::numeric_limits<I>::max();
    auto check = [&](bool ok, I got, const ValidationErrors& errors, const char* where) {
        if (ok != fits) {
            std::fprintf(stderr, "fuzz_json: %s\n", where);
            broken(fits ? "an integer within its type was refused" : "an integer beyond its type was accepted", text);
        }
        if (ok && static_cast<__int128>(got) != exact) broken("an integer was read as another", text);
        if (!ok && errors.total() == 0) broken("an integer was refused without an error", text);
    };
    {
        I v{};
        ValidationErrors errors;
        Loc loc{LocPart(std::string("query"))};
        bool ok = from_string(text, v, errors, loc);
        check(ok, v, errors, "from_string");
    }
    for (const std::string& body : {"{\"v\":" + std::string(text) + "}", "{\"v\":\"" + std::string(text) + "\"}"}) {
        OneInt<I> m{};
        ValidationErrors errors;
        bool ok = read_json_body(body, m, errors);
        check(ok, m.v, errors, "read_json_body");
        OneInt<I> r{};
        ValidationErrors ref_errors;
        Loc loc{LocPart(std::string("body"))};
        picojson::value tree;
        ok = detail::parse_json_body(body, tree, ref_errors, loc);
        if (ok) {
            detail::exact_integers_scope exact_scope(tree);
            ok = from_json(tree, r, ref_errors, loc);
        }
        check(ok, r.v, ref_errors, "reference reader");
    }
}

template <class... I>
void integers_in_range(std::string_view text) {
    (integer_in_range<I>(text), ...);
}

// Integers near the limits of every width, spelled from the input's first bytes: a power of
// two (7, 8, 15, 16, 31, 32, 63, 64 or any up to 2^100), an offset, a sign.
std::string integer_near_a_limit(const std::uint8_t* data, std::size_t size) {
    if (size < 3) return {};
    static constexpr int powers[] = {7, 8, 15, 16, 31, 32, 63, 64};
    int power = data[0] < 200 ? powers[data[0] % 8] : data[0] % 101;
    int offset = static_cast<int>(data[1] % 9) - 4;
    bool negative = data[2] & 1;
    __int128 v = (static_cast<__int128>(1) << power) + offset;
    if (negative) v = -v;
    std::string s;
    bool neg = v < 0;
    unsigned __int128 u = neg ? static_cast<unsigned __int128>(-(v + 1)) + 1 : static_cast<unsigned __int128>(v);
    do s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(u % 10))); while ((u /= 10) != 0);
    return neg ? "-" + s : s;
}

// write_json's strings are valid UTF-8 whatever bytes they hold: what Python's
// decode(errors="replace") makes of them, which is the bytes themselves when they are UTF-8.
void strings_written_as_utf8(std::string_view bytes) {
    std::string written = to_json_string(std::string(bytes));
    if (!detail::is_valid_utf8(written)) broken("write_json wrote invalid UTF-8", bytes);
    picojson::value back;
    std::string err;
    picojson::parse(back, written.begin(), written.end(), &err);
    if (!err.empty() || !back.is<std::string>()) broken("write_json wrote a string picojson cannot read", bytes);
    std::string expected(bytes);
    detail::replace_invalid_utf8(expected);
    if (back.get<std::string>() != expected) broken("write_json changed a string beyond replacing bad UTF-8", bytes);
    if (detail::is_valid_utf8(bytes) && expected != bytes) broken("valid UTF-8 was replaced", bytes);
}

}  // namespace fuzz_json

template <>
struct fastapi::enum_values<fuzz_json::Colour> {
    static constexpr fastapi::enum_value<fuzz_json::Colour> values[] = {{fuzz_json::Colour::red, "red"},
                                                                        {fuzz_json::Colour::green, "green"}};
};

using namespace fuzz_json;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    agree<Everything>(text);
    agree<Strict>(text);
    agree<std::vector<Inner>>(text);
    agree<Defaults>(text);
    agree<std::vector<Point>>(text);
    agree<std::map<std::string, double>>(text);
    agree<picojson::value>(text);
    if (size < 64) {
        same_from_string<std::int64_t>(text);
        same_from_string<std::int8_t>(text);
        same_from_string<std::uint64_t>(text);
        same_from_string<double>(text);
        same_from_string<float>(text);
        integers_in_range<std::int8_t, std::int16_t, std::int32_t, std::int64_t, std::uint8_t, std::uint16_t,
                          std::uint32_t, std::uint64_t>(text);
    }
    std::string near = integer_near_a_limit(data, size);
    if (!near.empty())
        integers_in_range<std::int8_t, std::int16_t, std::int32_t, std::int64_t, std::uint8_t, std::uint16_t,
                          std::uint32_t, std::uint64_t>(near);
    strings_written_as_utf8(text);
    return 0;
}
