// fastapi::json: ad-hoc answers built from initializer lists, as a FastAPI handler returns a
// dict. Keys keep their insertion order on the wire; every value kind the model machinery
// writes goes in; a handler returning it is documented as FastAPI documents a dict.
#include <doctest/doctest.h>

#include "fastapi.hpp"

#include <cstdio>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace json_values_test {

using fastapi::json;

struct Item {
    std::string name;
    std::optional<double> tax;
    std::vector<std::string> tags;
};

enum class Color { red, green };

picojson::value parse(const std::string& text) {
    picojson::value v;
    std::string err = picojson::parse(v, text);
    REQUIRE_MESSAGE(err.empty(), err);
    return v;
}

}  // namespace json_values_test

template <>
struct fastapi::enum_values<json_values_test::Color> {
    static constexpr fastapi::enum_value<json_values_test::Color> values[] = {{json_values_test::Color::red, "red"},
                                                                             {json_values_test::Color::green, "green"}};
};

namespace json_values_test {

TEST_CASE("json: keys are written in the order they were given, not sorted") {
    json j{{"zeta", 1}, {"alpha", 2}, {"mid", 3}};
    CHECK(j.dump() == R"({"zeta":1,"alpha":2,"mid":3})");
    CHECK(j.is_object());
    CHECK(j.size() == 3);
    CHECK(j.contains("alpha"));
    CHECK_FALSE(j.contains("beta"));
}

TEST_CASE("json: a key added with data[\"k\"] = ... goes last; an existing key keeps its place") {
    json data{{"item_id", "foo"}, {"owner_id", 3}};
    bool short_ = false;
    if (!short_) data["description"] = "long";
    data["item_id"] = "bar";  // replaced where it is, as in a Python dict
    CHECK(data.dump() == R"({"item_id":"bar","owner_id":3,"description":"long"})");
    CHECK(data.contains("description"));
    CHECK_FALSE(data.contains("nope"));
    CHECK(data.size() == 3);
    CHECK(data["owner_id"].dump() == "3");

    json built;  // null until a key is set: then an object
    CHECK(built.dump() == "null");
    built["a"] = 1;
    built["b"]["c"] = true;  // a missing member is null, so it becomes an object too
    CHECK(built.dump() == R"({"a":1,"b":{"c":true}})");
    json number = 5;
    CHECK_THROWS_AS(number["k"], std::invalid_argument);
}

TEST_CASE("json: a value put in whole (a model, an escaped key, a nested object) takes keys afterwards") {
    Item item{"Hammer", 1.5, {}};
    json j = item;
    CHECK(j.is_object());
    CHECK(j.size() == 3);
    j["tax"] = nullptr;  // replaced in place
    j["extra"] = json{{"n", 1}};
    j["extra"]["m"] = 2;
    CHECK(j.dump() == R"({"name":"Hammer","tax":null,"tags":[],"extra":{"n":1,"m":2}})");
    json escaped{{"a\"b", 1}, {"c,d", "x}"}};
    escaped["e"] = 2;
    CHECK(escaped.contains("a\"b"));
    CHECK(escaped.dump() == R"({"a\"b":1,"c,d":"x}","e":2})");
    json nested{{"outer", {{"inner", {1, {2, 3}}}}}};
    nested["outer"]["inner2"] = "v";
    CHECK(nested.dump() == R"({"outer":{"inner":[1,[2,3]],"inner2":"v"}})");
    json array{1, 2, 3};
    CHECK(array.size() == 3);
    array.push_back("four");
    CHECK(array.dump() == R"([1,2,3,"four"])");
}

TEST_CASE("json: a two-item list inside a pair is an array: {\"a\", {\"b\", 1}}") {
    CHECK(json{{"a", {"b", 1}}}.dump() == R"({"a":["b",1]})");
    CHECK(json{{"a", {"b", 1}}, 5}.dump() == R"([["a",["b",1]],5])");
}

TEST_CASE("json: a repeated key in the list keeps its first place and its last value") {
    json j{{"a", 1}, {"b", 2}, {"a", 3}};
    CHECK(j.dump() == R"({"a":3,"b":2})");
}

TEST_CASE("json: nested objects and arrays") {
    json j{{"user", {{"name", "Ann"}, {"roles", {"admin", "dev"}}}}, {"points", {1, 2, 3}}, {"empty", json::object()},
           {"none", json::array()}};
    CHECK(j.dump() == R"({"user":{"name":"Ann","roles":["admin","dev"]},"points":[1,2,3],"empty":{},"none":[]})");
    // A list that is not all {"key", value} pairs is an array; json::array says so explicitly.
    CHECK(json{1, "a", nullptr, false}.dump() == R"([1,"a",null,false])");
    CHECK(json::array({{"a", "b"}}).dump() == R"([["a","b"]])");
    CHECK(json{{"a", "b"}}.dump() == R"({"a":"b"})");
    json list;
    list.push_back(1);
    list.push_back(json{{"k", "v"}});
    CHECK(list.dump() == R"([1,{"k":"v"}])");
    CHECK(list.is_array());
}

TEST_CASE("json: every value kind the model machinery writes, written as write_json writes it") {
    Item item{"Hammer", std::nullopt, {"tools"}};
    std::optional<std::string> q;
    std::optional<int> n = 4;
    std::map<std::string, int> counts{{"b", 2}, {"a", 1}};
    picojson::value pv = parse(R"({"y":1,"x":[true]})");
    fastapi::Field<double> price{12.5};
    json j{{"str", std::string("s")},  {"view", std::string_view("v")}, {"int", 7},
           {"i64", std::int64_t{-9}},  {"u64", ~std::uint64_t{0}},       {"double", 0.25},
           {"float", 0.1f},            {"whole", 1.0},                   {"bool", true},
           {"null", nullptr},          {"nullopt", std::nullopt},        {"q", q},
           {"n", n},                   {"model", item},                  {"models", std::vector<Item>{item}},
           {"map", counts},            {"enum", Color::green},          {"picojson", pv},
           {"field", price},           {"nan", std::nan("")},            {"json", json{{"k", 1}}}};
    CHECK(j.dump() ==
          R"({"str":"s","view":"v","int":7,"i64":-9,"u64":18446744073709551615,"double":0.25,"float":0.1,)"
          R"("whole":1.0,"bool":true,"null":null,"nullopt":null,"q":null,"n":4,)"
          R"("model":{"name":"Hammer","tax":null,"tags":["tools"]},"models":[{"name":"Hammer","tax":null,"tags":["tools"]}],)"
          R"("map":{"a":1,"b":2},"enum":"green","picojson":{"x":[true],"y":1},"field":12.5,"nan":null,"json":{"k":1}})");
    // Strings are escaped as FastAPI escapes them (UTF-8 kept, controls escaped).
    CHECK(json{{"t", "é \"q\"\n"}}.dump() == "{\"t\":\"é \\\"q\\\"\\n\"}");
    // A json inside a model or a container is written in place.
    CHECK(fastapi::to_json_string(std::vector<json>{json{{"b", 1}, {"a", 2}}}) == R"([{"b":1,"a":2}])");
    // As a picojson tree (sorted, as picojson keeps objects) for code that reads it back.
    CHECK(j.to_picojson().get("model").get("name").get<std::string>() == "Hammer");
    CHECK(fastapi::to_json_value(json{{"b", 1}, {"a", 2}}).serialize() == R"({"a":2,"b":1})");
}

TEST_CASE("json: a handler returning it answers with it, in order, and is documented as a dict (schema {})") {
    fastapi::App app;
    app.get("/users/{user_id}/items/{item_id}",
            [](fastapi::Path<"user_id", int> user_id, fastapi::Path<"item_id", std::string> item_id,
               fastapi::Query<"short", bool, fastapi::Default<false>> short_) {
                json item{{"item_id", *item_id}, {"owner_id", *user_id}};
                if (!*short_) item["description"] = "This is an amazing item";
                return item;
            });
    app.get("/coroutine", []() -> asio::awaitable<json> { co_return json{{"z", 1}, {"a", 2}}; });
    fastapi::TestClient client(app);
    auto r = client.get("/users/3/items/foo");
    CHECK(r.status_code == 200);
    CHECK(r.headers.get("content-type").value_or("") == "application/json");
    CHECK(r.text == R"({"item_id":"foo","owner_id":3,"description":"This is an amazing item"})");
    CHECK(client.get("/users/3/items/foo?short=true").text == R"({"item_id":"foo","owner_id":3})");
    CHECK(client.get("/coroutine").text == R"({"z":1,"a":2})");

    picojson::value doc = parse(client.get("/openapi.json").text);
    for (const char* path : {"/users/{user_id}/items/{item_id}", "/coroutine"}) {
        CAPTURE(path);
        const auto& ok = doc.get("paths").get(path).get("get").get("responses").get("200");
        CHECK(ok.get("content").get("application/json").get("schema").serialize() == "{}");
    }
    bool json_schema = doc.contains("components") && doc.get("components").contains("schemas") &&
                       doc.get("components").get("schemas").contains("json");
    CHECK_FALSE(json_schema);
}

// The README's example, as it is written there.
fastapi::json read_user_item(fastapi::Path<"user_id", int64_t> user_id, fastapi::Path<"item_id", std::string> item_id,
                             fastapi::Query<"short", bool, fastapi::Default<false>> short_) {
    fastapi::json item{{"item_id", *item_id}, {"owner_id", *user_id}, {"tags", {"new", "sale"}}};
    if (!*short_) item["description"] = "This is an amazing item that has a long description";
    return item;
}
fastapi::json hello() { return {{"message", "Hello World"}}; }

TEST_CASE("json: the README's read_user_item and a braced return with the type declared") {
    fastapi::App app;
    app.get<read_user_item>("/users/{user_id}/items/{item_id}");
    app.get<hello>("/");
    fastapi::TestClient client(app);
    CHECK(client.get("/users/3/items/foo").text ==
          R"({"item_id":"foo","owner_id":3,"tags":["new","sale"],"description":"This is an amazing item that has a long description"})");
    CHECK(client.get("/").text == R"({"message":"Hello World"})");
    picojson::value doc = app.openapi();
    CHECK(doc.get("paths").get("/").get("get").get("operationId").get<std::string>() == "hello__get");
}

TEST_CASE("json: HTTPException's detail takes it, keys in order (FastAPI's dict detail)") {
    fastapi::App app;
    app.get("/fail", []() -> int {
        throw fastapi::HTTPException(418, json{{"code", "teapot"}, {"retry", false}, {"after", {1, 2}}});
    });
    fastapi::TestClient client(app);
    auto r = client.get("/fail");
    CHECK(r.status_code == 418);
    CHECK(r.text == R"({"detail":{"code":"teapot","retry":false,"after":[1,2]}})");
    fastapi::HTTPException e(404, json{{"b", 1}, {"a", 2}});
    CHECK(e.detail_json() == R"({"b":1,"a":2})");
    CHECK(e.detail().get("a").get<std::int64_t>() == 2);
}

TEST_CASE("json: copies own their members; a json moved from one of its own members; answers reuse one buffer") {
    json j{{"a", 1}};
    j["b"] = json{{"c", 2}};
    json k = j;  // a copy of a split object: members of its own
    k["x"] = "y";
    CHECK(j.dump() == R"({"a":1,"b":{"c":2}})");
    CHECK(k.dump() == R"({"a":1,"b":{"c":2},"x":"y"})");
    const json& same = k;
    k = same;  // self-assignment keeps it (through a reference: Clang warns on the plain spelling)
    CHECK(k.dump() == R"({"a":1,"b":{"c":2},"x":"y"})");
    j = std::move(j["b"]);  // the member moved out before the members it was in go
    CHECK(j.dump() == R"({"c":2})");
    // Answers one after the other on a thread: each json takes the buffer the last answer's
    // body gave up, and its text is whole.
    std::string body;
    for (int i = 0; i < 5; ++i) {
        body.clear();
        fastapi::detail::append_json(body, json{{"i", i}, {"text", std::string(100 + i * 50, 'x')}});
        CHECK(body == R"({"i":)" + std::to_string(i) + R"(,"text":")" + std::string(100 + i * 50, 'x') + "\"}");
    }
}

TEST_CASE("json: objects longer than the constructor's stack buffer, keys and strings to escape, long ones, every scalar") {
    // Written through a 256-byte staging buffer: what crosses its end, and what bypasses it
    // (escaping, long strings and keys, models, nested values), keeps its place.
    const std::string long_key(100, 'k'), long_value(300, 'v'), near(127, 'n');
    json j{{"a", 1},
           {"quote\"key", "tab\there"},
           {long_key, long_value},
           {"near", near},
           {"min", INT64_MIN},
           {"max", INT64_MAX},
           {"t", true},
           {"f", false},
           {"nil", nullptr},
           {"d", 0.5},
           {"model", Item{"x", std::nullopt, {"t"}}},
           {"nested", {{"b", {1, 2}}}},
           {"utf8", "caf\xc3\xa9"},
           {"bad", "\xff"}};
    std::string want = R"({"a":1,"quote\"key":"tab\there",")" + long_key + R"(":")" + long_value + R"(","near":")" + near +
                       R"(","min":-9223372036854775808,"max":9223372036854775807,"t":true,"f":false,"nil":null,"d":0.5,)" +
                       R"("model":{"name":"x","tax":null,"tags":["t"]},"nested":{"b":[1,2]},"utf8":"caf)" + "\xc3\xa9" +
                       R"(","bad":")" + "\xef\xbf\xbd" + "\"}";
    CHECK(j.dump() == want);
    // Forty short members: the buffer fills and is handed over several times.
    json many{{"k00", "0123456789"}, {"k01", "0123456789"}, {"k02", "0123456789"}, {"k03", "0123456789"},
              {"k04", "0123456789"}, {"k05", "0123456789"}, {"k06", "0123456789"}, {"k07", "0123456789"},
              {"k08", "0123456789"}, {"k09", "0123456789"}, {"k10", "0123456789"}, {"k11", "0123456789"},
              {"k12", "0123456789"}, {"k13", "0123456789"}, {"k14", "0123456789"}, {"k15", "0123456789"},
              {"k16", "0123456789"}, {"k17", "0123456789"}, {"k18", "0123456789"}, {"k19", "0123456789"},
              {"k20", 20}, {"k21", 21}, {"k22", 22}, {"k23", 23}, {"k24", 24}, {"k25", 25}, {"k26", 26},
              {"k27", 27}, {"k28", 28}, {"k29", 29}, {"k30", true}, {"k31", nullptr}, {"k32", "x"},
              {"k33", "x"}, {"k34", "x"}, {"k35", "x"}, {"k36", "x"}, {"k37", "x"}, {"k38", "x"}, {"k39", "x"}};
    std::string expected = "{";
    for (int i = 0; i < 40; ++i) {
        char key[8];
        std::snprintf(key, sizeof key, "k%02d", i);
        expected += std::string(i ? "," : "") + "\"" + key + "\":";
        if (i < 20) expected += "\"0123456789\"";
        else if (i < 30) expected += std::to_string(i);
        else if (i == 30) expected += "true";
        else if (i == 31) expected += "null";
        else expected += "\"x\"";
    }
    expected += "}";
    CHECK(many.dump() == expected);
    CHECK(many.size() == 40);
}

TEST_CASE("json: keys and strings of every length up to 40, with a byte to escape at every place, as append_json_string writes them") {
    // The constructor tests short strings 16 (or 8) bytes at a time, the last bytes overlapping
    // and a string under 16 bytes with what follows it masked off: each byte is seen, none twice
    // wrongly. Bytes at the edges of what needs escaping, and ones that need nothing.
    const char special[] = {'"', '\\', '\n', '\x1f', '\x00', '\x80', '\xff'};
    const char plain[] = {' ', '!', '#', '[', ']', '\x7f', 'a'};
    auto written = [](const std::string& s) {
        std::string out;
        fastapi::detail::append_json_string(out, s);
        return out;
    };
    for (std::size_t n = 0; n <= 40; ++n) {
        std::string base(n, 'x');
        std::vector<std::string> cases{base};
        for (std::size_t at = 0; at < n; ++at) {
            for (char c : special) cases.push_back(std::string(base).replace(at, 1, 1, c));
            for (char c : plain) cases.push_back(std::string(base).replace(at, 1, 1, c));
        }
        for (const std::string& s : cases) {
            CAPTURE(n);
            CAPTURE(s);
            CHECK(json{{s, s}}.dump() == "{" + written(s) + ":" + written(s) + "}");
            CHECK(json{{"k", 1}, {s, s}, {"z", s}}.dump() ==
                  R"({"k":1,)" + written(s) + ":" + written(s) + R"(,"z":)" + written(s) + "}");
        }
    }
}

std::string at_exit_text;
struct BuildsJsonAtExit {
    ~BuildsJsonAtExit() { at_exit_text = json{{"late", "made at thread exit, after the thread's spare buffer went"}}.dump(); }
};

TEST_CASE("json: one made by a thread_local's destructor after the thread's spare buffer is gone") {
    std::thread([] {
        static thread_local BuildsJsonAtExit late;  // made first, destroyed last
        (void)&late;
        std::string body;
        body.reserve(1000);  // given up to the thread's spare by the answer below
        fastapi::detail::append_json(body, json{{"a", "a value long enough not to fit a small string"}});
        CHECK(body == R"({"a":"a value long enough not to fit a small string"})");
    }).join();
    CHECK(at_exit_text == R"({"late":"made at thread exit, after the thread's spare buffer went"})");
}

}  // namespace json_values_test
