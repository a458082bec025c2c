// libFuzzer target for the direct JSON reader (json_reader.hpp) against the reference reader
// (picojson + from_json, json.hpp). The input is read as a body for several models that
// between them use every field type. Besides crashes and sanitizer reports, it stops on a
// broken invariant: the direct reader accepting a body that the reference reader refuses, or
// reading a value other than the reference reader's. It also checks that from_string's
// shortcut for plain numbers agrees with the long way. Built and run by tests/checks/fuzz.sh.
#include "fastapi.hpp"

#include <cstdint>  // uint8_t
#include <cstdio>   // fprintf
#include <cstdlib>  // abort
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

[[noreturn]] void broken(const char* what, std::string_view input) {
    std::fprintf(stderr, "fuzz_json: invariant broken: %s\ninput: %.*s\n", what, static_cast<int>(input.size()),
                 input.data());
    std::abort();
}

template <class T>
void agree(std::string_view text) {
    T direct{};
    if (!detail::read_json_direct(text, direct)) return;
    T reference{};
    ValidationErrors errors;
    Loc loc{LocPart(std::string("body"))};
    picojson::value tree;
    try {
        if (detail::parse_json_body(text, tree, errors, loc)) from_json(tree, reference, errors, loc);
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
    if (fast_ok != reference_ok) broken("from_string and from_json disagree on a number", text);
    if (fast_ok && to_json_string(fast) != to_json_string(reference)) broken("from_string read another number", text);
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
    }
    return 0;
}
