// The direct JSON reader: a body read straight into the model when nothing needs converting or
// reporting, the reference reader (picojson + from_json) otherwise. It must never change an
// answer: what it reads equals what the reference reader reads, and whatever it gives up on
// is still answered as FastAPI does (tests/fuzz/fuzz_json.cpp checks this on arbitrary input).
#include <doctest/doctest.h>

#include "fastapi.hpp"
#include "support.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace json_reader_test {
using namespace fastapi;

using test::Item;

struct Part {
    std::int8_t size;
    std::optional<std::uint16_t> port;
};

struct Assembly {
    std::vector<Part> parts;
    std::map<std::string, int> counts;
    picojson::value extra;
    Field<int, Default<3>> retries;
    Field<std::string, Alias<"display-name">, Default<"none">> display_name;
};

struct Closed {
    std::string a;
    using fastapi_config = ModelConfig<ForbidExtra>;
};

// The value the reference reader gives, as JSON (the direct reader is not asked).
template <class T>
std::string reference(std::string_view text) {
    T out{};
    ValidationErrors errors;
    Loc loc{LocPart(std::string("body"))};
    picojson::value tree;
    if (detail::parse_json_body(text, tree, errors, loc)) from_json(tree, out, errors, loc);
    REQUIRE(errors.empty());
    return to_json_string(out);
}

// What the direct reader reads, as JSON; "gave up" when it leaves the body to the reference.
template <class T>
std::string direct(std::string_view text) {
    T out{};
    if (!detail::read_json_direct(text, out)) return "gave up";
    CHECK(to_json_string(out) == reference<T>(text));
    return to_json_string(out);
}

}  // namespace json_reader_test

using namespace json_reader_test;

TEST_CASE("json reader: the tutorial's Item, read directly and as the reference reads it") {
    CHECK(direct<Item>(R"({"name":"Hammer","price":12.5})") ==
          R"({"name":"Hammer","description":null,"price":12.5,"tax":null,"tags":[]})");
    CHECK(direct<Item>(" {\n\t\"tags\" : [ \"a\" , \"b\" ] , \"price\" : 3 , \"name\" : \"x\" , \"tax\" : null } ") ==
          R"({"name":"x","description":null,"price":3.0,"tax":null,"tags":["a","b"]})");
    CHECK(direct<Item>(R"({"name":"x","price":1E2,"description":"d","tax":-0.5e-1})") ==
          R"({"name":"x","description":"d","price":100.0,"tax":-0.05,"tags":[]})");
}

TEST_CASE("json reader: escapes, \\u and surrogate pairs decode as in the reference") {
    CHECK(direct<Item>(R"({"name":"a\"b\\c\/d\b\f\n\r\t","price":1})") ==
          R"({"name":"a\"b\\c/d\b\f\n\r\t","description":null,"price":1.0,"tax":null,"tags":[]})");
    CHECK(direct<Item>(R"({"name":"caf\u00e9 \ud83d\ude00 \u00E9","price":1})") ==
          "{\"name\":\"caf\xC3\xA9 \xF0\x9F\x98\x80 \xC3\xA9\",\"description\":null,\"price\":1.0,\"tax\":null,\"tags\":[]}");
    CHECK(direct<Item>("{\"name\":\"caf\xC3\xA9\",\"price\":1}") ==
          "{\"name\":\"caf\xC3\xA9\",\"description\":null,\"price\":1.0,\"tax\":null,\"tags\":[]}");
}

TEST_CASE("json reader: nested models, maps, free-form values, aliases and defaults") {
    CHECK(direct<Assembly>(R"({"parts":[{"size":-128,"port":65535},{"size":127,"port":null}],)"
                           R"("counts":{"b":2,"a":1},"extra":{"z":[1,2.5,"s",null,true]},"display-name":"D"})") ==
          R"({"parts":[{"size":-128,"port":65535},{"size":127,"port":null}],"counts":{"a":1,"b":2},)"
          R"("extra":{"z":[1,2.5,"s",null,true]},"retries":3,"display-name":"D"})");
    CHECK(direct<Assembly>(R"({"extra":null})") ==
          R"({"parts":[],"counts":{},"extra":null,"retries":3,"display-name":"none"})");
    CHECK(direct<Assembly>(R"({"parts":[]})") == "gave up");  // extra is required: missing
}

TEST_CASE("json reader: keys the model does not declare are skipped, whatever they hold") {
    CHECK(direct<Item>(R"({"x":{"deep":[[{"y":"\u00e9"}],-1.5e3,true,false,null]},"name":"n","price":2,"z":""})") ==
          R"({"name":"n","description":null,"price":2.0,"tax":null,"tags":[]})");
}

TEST_CASE("json reader: gives up wherever pydantic converts or reports, and the answer stays FastAPI's") {
    for (const char* text : {
             R"({"name":"x","price":"5"})",            // a string for a number: lax mode converts it
             R"({"name":"x","price":1,"tags":"a"})",   // list_type
             R"({"name":"","price":1})",               // string_too_short
             R"({"name":"x","price":0})",              // greater_than
             R"({"price":1})",                         // missing
             R"({"name":"x","price":1,"name":"y"})",   // a repeated key: the last one wins
             R"({"name":"x","price":1} x)",            // extra data
             R"({"name":"x","price":1,})",             // a trailing comma
             R"({"name":"x","price":01})",             // a leading zero
             R"({"name":"\ud83d","price":1})",         // a lone surrogate
             R"({"name":"x","price":1e999})",          // beyond a double
             R"({"name":"x","price":1,"junk":1e999})", // beyond a double, even where nothing reads it
             R"({"name":"x","price":1,"junk":[-1e400]})",

             "\xEF\xBB\xBF{\"name\":\"x\",\"price\":1}",  // a byte order mark
             "{\"name\":\"\xFF\",\"price\":1}",           // not UTF-8
             "{\"name\":\"a\tb\",\"price\":1}",           // a raw control character
             R"([])",                                  // not an object
         }) {
        CAPTURE(text);
        Item out{};
        CHECK(!detail::read_json_direct(text, out));
    }
    Part part{};
    CHECK(!detail::read_json_direct(R"({"size":128})", part));   // out of the int8 range
    CHECK(!detail::read_json_direct(R"({"size":1.0})", part));   // an integral float: int_from_float's ground
    CHECK(!detail::read_json_direct(R"({"size":true})", part));  // a bool for an int
    Closed closed{};
    CHECK(!detail::read_json_direct(R"({"a":"x","b":1})", closed));  // extra_forbidden
    CHECK(detail::read_json_direct(R"({"a":"x"})", closed));
    std::string deep = std::string(FASTAPI_MAX_JSON_DEPTH + 1, '[') + std::string(FASTAPI_MAX_JSON_DEPTH + 1, ']');
    picojson::value any;
    CHECK(!detail::read_json_direct(deep, any));
    CHECK(!detail::read_json_direct("{\"a\":\"x\",\"b\":" + deep + "}", closed));
    // Objects count too, inside a free-form field (picojson's own limit counts only arrays).
    auto objects = [](int levels) {
        std::string text;
        for (int i = 0; i < levels; ++i) text += "{\"k\":";
        return text + "1" + std::string(static_cast<std::size_t>(levels), '}');
    };
    Assembly assembly{};  // its own object is the first level
    CHECK(!detail::read_json_direct("{\"extra\":" + objects(FASTAPI_MAX_JSON_DEPTH) + "}", assembly));
    CHECK(detail::read_json_direct("{\"extra\":" + objects(FASTAPI_MAX_JSON_DEPTH - 1) + "}", assembly));
}

TEST_CASE("json reader: over HTTP, the same answers whichever reader took the body") {
    App app;
    app.post("/items/", [](Item item) { return item; }, {.status_code = 201});
    app.post("/ids", [](Body<"ids", std::vector<double>, MaxItems<2>> ids) { return ids->size(); });
    TestClient client(app);
    auto created = client.post("/items/", R"({"name":"Hammer","price":12.5})");
    CHECK(created.status_code == 201);
    CHECK(created.text == R"({"name":"Hammer","description":null,"price":12.5,"tax":null,"tags":[]})");
    auto lax = client.post("/items/", R"({"name":"Hammer","price":"12.5"})");
    CHECK(lax.status_code == 201);
    CHECK(lax.text == created.text);
    auto repeated = client.post("/items/", R"({"name":"x","price":1,"name":"Nails"})");
    CHECK(repeated.text == R"({"name":"Nails","description":null,"price":1.0,"tax":null,"tags":[]})");
    CHECK(client.post("/items/", R"({"name":"x","price":1e999})").status_code == 400);
    // The parameter's own markers apply to a body read directly too, and an error reports the
    // client's input as sent ([1,2,3], not the doubles it became).
    CHECK(client.post("/ids", "[1,2]").text == "2");
    auto too_long = client.post("/ids", "[1,2,3]");
    CHECK(too_long.status_code == 422);
    CHECK(too_long.text ==
          R"({"detail":[{"type":"too_long","loc":["body"],"msg":"List should have at most 2 items after validation, not 3",)"
          R"("input":[1,2,3],"ctx":{"field_type":"List","max_length":2,"actual_length":3}}]})");
}
