// Models to JSON and back: what FastAPI writes for the equivalent pydantic model, and what
// pydantic accepts when reading.
#include <doctest/doctest.h>
#include "fastapi.hpp"
#include "support.hpp"

#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace model_json_test {
using namespace fastapi;

using test::Item;  // FastAPI's tutorial model

enum class Size { small, large };

struct Image {
    std::string url;
    std::string name;
};

struct Offer {
    Field<std::string, Alias<"offer-name">, Description<"shown to users">> name;
    Field<int, Default<10>, Ge<0>> limit;
    Field<std::string, Default<"eur">> currency;
    Size size = Size::small;
    std::map<std::string, double> prices;
    std::vector<Image> images;
    std::optional<Image> cover;
    picojson::value extra;
    Field<std::vector<int>, Required> ids;
    using fastapi_config = ModelConfig<ForbidExtra, Title<"An offer">>;
};

struct Numbers {
    std::int8_t i8;
    std::uint8_t u8;
    std::int32_t i32;
    std::int64_t i64;
    std::uint64_t u64;
    float f;
    double d;
    bool b;
};
}  // namespace model_json_test

template <>
struct fastapi::enum_values<model_json_test::Size> {
    static constexpr fastapi::enum_value<model_json_test::Size> values[] = {{model_json_test::Size::small, "small"},
                                                                           {model_json_test::Size::large, "large"}};
};

namespace model_json_test {

namespace {
template <class T>
T read_ok(std::string_view text) {
    T out{};
    fastapi::ValidationErrors errors;
    bool ok = fastapi::read_json_body(text, out, errors);
    INFO(fastapi::detail::render_validation_errors(errors));
    CHECK(ok);
    CHECK(errors.empty());
    return out;
}
}  // namespace

TEST_CASE("writer: a model is an object in declaration order, compact") {
    Item item{"Foo", std::nullopt, 35.4, 3.2, {"a", "b"}};
    CHECK(fastapi::to_json_string(item) ==
          R"({"name":"Foo","description":null,"price":35.4,"tax":3.2,"tags":["a","b"]})");
}

TEST_CASE("writer: floats as Python prints them") {
    auto j = [](double v) { return fastapi::to_json_string(v); };
    CHECK(j(12.5) == "12.5");
    CHECK(j(1.0) == "1.0");
    CHECK(j(0.1) == "0.1");
    CHECK(j(-0.0) == "-0.0");
    CHECK(j(100000.0) == "100000.0");
    CHECK(j(1e16) == "1e+16");
    CHECK(j(1.5e16) == "1.5e+16");
    CHECK(j(1e15) == "1000000000000000.0");
    CHECK(j(0.0001) == "0.0001");
    CHECK(j(0.00001) == "1e-05");
    CHECK(j(1.7976931348623157e308) == "1.7976931348623157e+308");
    CHECK(j(std::nan("")) == "null");
    CHECK(j(std::numeric_limits<double>::infinity()) == "null");
    CHECK(fastapi::to_json_string(0.1f) == "0.1");
    CHECK(j(0.3) == "0.3");
    CHECK(j(-35.4) == "-35.4");
    CHECK(j(999999999.9999) == "999999999.9999");
    CHECK(j(0.1 + 0.2) == "0.30000000000000004");
}

TEST_CASE("writer: the short-decimal shortcut prints what the general repr prints") {
    auto general = [](double v) {
        std::string s;
        fastapi::detail::append_double_repr(s, v);
        return s;
    };
    auto shortcut = [](double v) {
        std::string s;
        return fastapi::detail::append_short_decimal(s, v) ? s : std::string("not taken");
    };
    CHECK(shortcut(12.5) == "12.5");
    CHECK(shortcut(0.0) == "not taken");  // zero keeps its sign the general way
    CHECK(shortcut(1e9) == "not taken");
    CHECK(shortcut(0.1 + 0.2) == "not taken");
    // Every decimal of up to 4 places in a spread of magnitudes, and their neighbours.
    std::uint64_t state = 0x9E3779B97F4A7C15ULL;
    auto next = [&] { return state = state * 6364136223846793005ULL + 1442695040888963407ULL; };
    int taken = 0, mismatches = 0;
    for (int i = 0; i < 200000; ++i) {
        std::uint64_t r = next();
        double v = static_cast<double>(r >> 34) / std::pow(10.0, static_cast<int>(r % 9));  // up to 8 places
        if (r & 0x100) v = -v;
        if (i % 3 == 0) v = std::nextafter(v, 2 * v);
        std::string fast = shortcut(v);
        if (fast == "not taken") continue;
        ++taken;
        if (fast != general(v)) {
            if (++mismatches <= 5) CHECK(fast == general(v));
        }
    }
    CHECK(mismatches == 0);
    CHECK(taken > 50000);
}

TEST_CASE("writer: strings escaped as json.dumps(ensure_ascii=False)") {
    CHECK(fastapi::to_json_string(std::string("a\"b\\c")) == R"("a\"b\\c")");
    CHECK(fastapi::to_json_string(std::string("\n\r\t\b\f")) == R"("\n\r\t\b\f")");
    CHECK(fastapi::to_json_string(std::string("\x01\x1f\x7f", 3)) == "\"\\u0001\\u001f\x7f\"");
    CHECK(fastapi::to_json_string(std::string("caf\xC3\xA9 \xE2\x82\xAC")) == "\"caf\xC3\xA9 \xE2\x82\xAC\"");
    CHECK(fastapi::to_json_string(std::string("a/b")) == R"("a/b")");
}

TEST_CASE("writer: integers of every width, bools, containers, enums, raw JSON") {
    Numbers n{-128, 255, -2147483647 - 1, std::numeric_limits<std::int64_t>::min(),
              std::numeric_limits<std::uint64_t>::max(), 0.5f, 2.0, true};
    CHECK(fastapi::to_json_string(n) ==
          R"({"i8":-128,"u8":255,"i32":-2147483648,"i64":-9223372036854775808,"u64":18446744073709551615,"f":0.5,"d":2.0,"b":true})");
    Offer o{};
    o.name = "x";
    o.prices = {{"b", 2.0}, {"a", 1.5}};
    o.images = {{"http://x/1.png", "one"}};
    o.extra = picojson::value(picojson::array{picojson::value(1.0), picojson::value("s")});
    CHECK(fastapi::to_json_string(o) ==
          R"({"offer-name":"x","limit":0,"currency":"","size":"small","prices":{"a":1.5,"b":2.0},)"
          R"("images":[{"url":"http://x/1.png","name":"one"}],"cover":null,"extra":[1.0,"s"],"ids":[]})");
    std::string out = "[";
    fastapi::write_json(out, std::optional<int>(3));
    CHECK(out == "[3");
}

TEST_CASE("writer: to_json_value builds the same value") {
    Item item{"Foo", "d", 1, std::nullopt, {}};
    picojson::value v = fastapi::to_json_value(item);
    CHECK(v.get("name").get<std::string>() == "Foo");
    CHECK(v.get("tax").is<picojson::null>());
    CHECK(fastapi::to_json_string(v) == R"({"description":"d","name":"Foo","price":1.0,"tags":[],"tax":null})");
}

TEST_CASE("Field<> behaves like its value and keeps the struct an aggregate") {
    static_assert(std::is_aggregate_v<Item>);
    Item item{.name = "Foo", .description = {}, .price = 2.5, .tax = {}, .tags = {}};
    CHECK(item.name == "Foo");
    CHECK(item.name->size() == 3);
    CHECK(*item.price * 2 == 5.0);
    CHECK(item.price > 0);
    CHECK(item.price < 3.0);
    const std::string& s = item.name;
    CHECK(s == "Foo");
    item.name = "Bar";
    item.price = 4;
    CHECK(item.name.value == "Bar");
    CHECK(item.price == 4.0);
    CHECK(Item{"a", {}, 1, {}, {}}.name == Item{"a", {}, 2, {}, {}}.name);
}

TEST_CASE("reader: the tutorial's Item, with optional fields and the list absent") {
    Item item = read_ok<Item>(R"({"name":"Foo","price":35.4})");
    CHECK(item.name == "Foo");
    CHECK(!item.description);
    CHECK(item.price == 35.4);
    CHECK(!item.tax);
    CHECK(item.tags.empty());
    item = read_ok<Item>(R"({"name":"Foo","description":null,"price":"3","tax":1,"tags":["x"],"unknown":1})");
    CHECK(item.price == 3.0);
    CHECK(*item.tax == 1.0);
    CHECK(item.tags == std::vector<std::string>{"x"});
}

TEST_CASE("reader: integers as pydantic's lax mode reads them") {
    Numbers n = read_ok<Numbers>(
        R"({"i8":"-5","u8":5.0,"i32":" 42 ","i64":9223372036854775807,"u64":"18446744073709551615","f":1,"d":"1e3","b":"yes"})");
    CHECK(n.i8 == -5);
    CHECK(n.u8 == 5);
    CHECK(n.i32 == 42);
    CHECK(n.i64 == std::numeric_limits<std::int64_t>::max());
    CHECK(n.u64 == std::numeric_limits<std::uint64_t>::max());
    CHECK(n.f == 1.0f);
    CHECK(n.d == 1000.0);
    CHECK(n.b);
    n = read_ok<Numbers>(R"({"i8":true,"u8":"1_0","i32":"7.00","i64":-1,"u64":9223372036854775808,"f":0.25,"d":-2,"b":0})");
    CHECK(n.u64 == 9223372036854775808ULL);
    CHECK(n.i8 == 1);
    CHECK(n.u8 == 10);
    CHECK(n.i32 == 7);
    CHECK(!n.b);
}

TEST_CASE("reader: markers, defaults, aliases, nested models, maps, enums, raw JSON") {
    Offer o = read_ok<Offer>(
        R"({"offer-name":"x","size":"large","prices":{"a":1},"images":[{"url":"u","name":"n"}],)"
        R"("cover":{"url":"c","name":"m"},"extra":{"k":[1,2]},"ids":[3]})");
    CHECK(o.name == "x");
    CHECK(o.limit == 10);
    CHECK(o.currency == "eur");
    CHECK(o.size == Size::large);
    CHECK(o.prices.at("a") == 1.0);
    CHECK(o.images.at(0).url == "u");
    CHECK(o.cover->name == "m");
    CHECK(fastapi::to_json_string(o.extra) == R"({"k":[1,2]})");
    CHECK(o.ids == std::vector<int>{3});
}

TEST_CASE("reader: absent fields that are not required keep the struct's default") {
    struct WithDefaults {
        int required;
        std::optional<int> page = 1;
        Field<std::string, Default<"asc">> order = "unused";
    };
    WithDefaults w = read_ok<WithDefaults>(R"({"required":0})");
    CHECK(w.page == 1);
    CHECK(w.order == "asc");
}

TEST_CASE("from_string: path, query, header and cookie values") {
    fastapi::ValidationErrors errors;
    fastapi::Loc loc{std::string("query"), std::string("q")};
    int i = 0;
    CHECK(fastapi::from_string("42", i, errors, loc));
    CHECK(i == 42);
    double dbl = 0;
    CHECK(fastapi::from_string("2.5", dbl, errors, loc));
    CHECK(dbl == 2.5);
    for (auto t : {"1", "true", "True", "on", "yes", "t", "Y"}) {
        bool b = false;
        CHECK(fastapi::from_string(t, b, errors, loc));
        CHECK(b);
    }
    for (auto f : {"0", "false", "OFF", "no", "f", "n"}) {
        bool b = true;
        CHECK(fastapi::from_string(f, b, errors, loc));
        CHECK(!b);
    }
    Size s = Size::small;
    CHECK(fastapi::from_string("large", s, errors, loc));
    CHECK(s == Size::large);
    std::optional<std::int64_t> big;
    CHECK(fastapi::from_string("-9223372036854775808", big, errors, loc));
    CHECK(*big == std::numeric_limits<std::int64_t>::min());
    std::string str;
    CHECK(fastapi::from_string("a b", str, errors, loc));
    CHECK(str == "a b");
    CHECK(errors.empty());
}

TEST_CASE("describe: the runtime description the OpenAPI generator reads") {
    const fastapi::TypeInfo& t = fastapi::describe<Item>();
    REQUIRE(t.kind == fastapi::TypeKind::model);
    const fastapi::ModelInfo& m = t.model();
    CHECK(m.name == "Item");
    CHECK(m.cpp_name == "test::Item");  // the full name tells same-named models apart
    REQUIRE(m.fields.size() == 5);
    CHECK(m.fields[0].wire_name == "name");
    CHECK(m.fields[0].required);
    CHECK(m.fields[0].type().kind == fastapi::TypeKind::string);
    CHECK(*m.fields[0].constraints.min_length == 1);
    CHECK(*m.fields[0].constraints.max_length == 50);
    CHECK(!m.fields[1].required);
    CHECK(m.fields[1].type().kind == fastapi::TypeKind::optional);
    CHECK(m.fields[1].type().item().kind == fastapi::TypeKind::string);
    CHECK(fastapi::to_json_string(m.fields[1].default_value()) == "null");
    CHECK(m.fields[2].constraints.gt->integer == 0);
    CHECK(m.fields[4].type().kind == fastapi::TypeKind::array);
    CHECK(!m.fields[4].required);
    CHECK(fastapi::to_json_string(m.fields[4].default_value()) == "[]");

    const fastapi::ModelInfo& o = fastapi::describe<Offer>().model();
    CHECK(o.forbid_extra);
    CHECK(o.title == "An offer");
    CHECK(o.fields[0].name == "name");
    CHECK(o.fields[0].wire_name == "offer-name");
    CHECK(o.fields[0].description == "shown to users");
    CHECK(fastapi::to_json_string(o.fields[1].default_value()) == "10");
    CHECK(o.fields[3].type().kind == fastapi::TypeKind::enumeration);
    CHECK(o.fields[3].type().enumeration().values.size() == 2);
    CHECK(o.fields[4].type().kind == fastapi::TypeKind::map);
    CHECK(o.fields[5].type().item().model().name == "Image");
    CHECK(o.fields[7].type().kind == fastapi::TypeKind::any);
    CHECK(o.fields[8].required);

    const fastapi::TypeInfo& u8 = fastapi::describe<std::uint8_t>();
    CHECK(u8.kind == fastapi::TypeKind::integer);
    CHECK(u8.bits == 8);
    CHECK(!u8.is_signed);
}

TEST_CASE("markers: decimal bounds and examples") {
    struct Priced {
        Field<double, Gt<"0.5">, Le<"99.99">, Examples<"1.5", 2>> price;
    };
    const auto& f = fastapi::describe<Priced>().model().fields[0];
    CHECK(f.constraints.gt->number == 0.5);
    CHECK(!f.constraints.gt->is_integer);
    CHECK(f.constraints.le->number == 99.99);
    REQUIRE(f.examples.size() == 2);
    CHECK(fastapi::to_json_string(f.examples[1]) == "2");
    Priced p = read_ok<Priced>(R"({"price":0.75})");
    CHECK(p.price == 0.75);
}

}  // namespace model_json_test
