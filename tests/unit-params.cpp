// Parameters: where each handler argument comes from, how it is converted and validated,
// and FastAPI's 422 body when it is not right. Every problem is reported, not only the first.
#include <doctest/doctest.h>

#include "fastapi.hpp"
#include "support.hpp"

#include <cmath>

using namespace fastapi;

namespace {
using Product = test::Item;  // another file of the unity build has its own Item

Headers json_type() {
    Headers h;
    h.set("content-type", "application/json");
    return h;
}
}  // namespace

TEST_CASE("path parameters are converted to their type; a bad one is a 422 naming it") {
    App app;
    app.get("/items/{item_id}", [](Path<"item_id", int64_t, Ge<1>> item_id) { return *item_id * 2; });
    TestClient client(app);
    CHECK(client.get("/items/21").text == "42");
    auto r = client.get("/items/abc");
    CHECK(r.status_code == 422);
    CHECK(r.text == R"({"detail":[{"type":"int_parsing","loc":["path","item_id"],"msg":"Input should be a valid integer, unable to parse string as an integer","input":"abc"}]})");
    CHECK(client.get("/items/0").text ==
          R"({"detail":[{"type":"greater_than_equal","loc":["path","item_id"],"msg":"Input should be greater than or equal to 1","input":"0","ctx":{"ge":1}}]})");
}

TEST_CASE("query parameters: required, optional, defaults, constraints") {
    App app;
    app.get("/search", [](Query<"needy", std::string> needy, Query<"q", std::optional<std::string>, MaxLength<5>> q,
                          Query<"limit", int, Ge<1>, Le<100>, Default<10>> limit) {
        return needy.value + "|" + q->value_or("none") + "|" + std::to_string(*limit);
    });
    TestClient client(app);
    CHECK(client.get("/search?needy=x").json().get<std::string>() == "x|none|10");
    CHECK(client.get("/search?needy=x&q=abc&limit=7").json().get<std::string>() == "x|abc|7");
    CHECK(client.get("/search?needy=a%20b&q=").json().get<std::string>() == "a b||10");  // blank values are kept

    auto missing = client.get("/search");
    CHECK(missing.status_code == 422);
    CHECK(missing.text == R"({"detail":[{"type":"missing","loc":["query","needy"],"msg":"Field required","input":null}]})");

    auto many = client.get("/search?q=toolong&limit=500");
    CHECK(many.text ==
          R"({"detail":[{"type":"missing","loc":["query","needy"],"msg":"Field required","input":null},)"
          R"({"type":"string_too_long","loc":["query","q"],"msg":"String should have at most 5 characters","input":"toolong","ctx":{"max_length":5}},)"
          R"({"type":"less_than_equal","loc":["query","limit"],"msg":"Input should be less than or equal to 100","input":"500","ctx":{"le":100}}]})");
}

TEST_CASE("boolean query parameters accept what FastAPI accepts") {
    App app;
    app.get("/flag", [](Query<"short", bool, Default<false>> short_) { return *short_; });
    TestClient client(app);
    for (const char* yes : {"1", "true", "True", "on", "yes", "YES"}) CHECK(client.get(std::string("/flag?short=") + yes).text == "true");
    for (const char* no : {"0", "false", "off", "no"}) CHECK(client.get(std::string("/flag?short=") + no).text == "false");
    CHECK(client.get("/flag").text == "false");
    CHECK(client.get("/flag?short=maybe").text ==
          R"({"detail":[{"type":"bool_parsing","loc":["query","short"],"msg":"Input should be a valid boolean, unable to interpret input","input":"maybe"}]})");
}

TEST_CASE("a repeated query key fills a vector; absent, the vector is empty") {
    App app;
    app.get("/tags", [](Query<"tag", std::vector<std::string>> tag) { return *tag; });
    app.get("/ids", [](Query<"id", std::vector<int>> id) { return *id; });
    TestClient client(app);
    CHECK(client.get("/tags?tag=a&tag=b&tag=c").text == R"(["a","b","c"])");
    CHECK(client.get("/tags").text == "[]");
    CHECK(client.get("/ids?id=1&id=x").text ==
          R"({"detail":[{"type":"int_parsing","loc":["query","id",1],"msg":"Input should be a valid integer, unable to parse string as an integer","input":"x"}]})");
}

TEST_CASE("headers match case-insensitively, '_' in the name standing for '-'") {
    App app;
    app.get("/ua", [](Header<"user_agent", std::optional<std::string>> ua, Header<"x_token", std::vector<std::string>> tokens) {
        return ua->value_or("none") + ":" + std::to_string(tokens->size());
    });
    app.get("/need", [](Header<"x_key", std::string> key) { return *key; });
    TestClient client(app);
    Headers h;
    h.set("User-Agent", "curl/8");
    h.add("X-Token", "a");
    h.add("x-token", "b");
    CHECK(client.get("/ua", h).json().get<std::string>() == "curl/8:2");
    CHECK(client.get("/ua").json().get<std::string>() == "none:0");
    CHECK(client.get("/need").text == R"({"detail":[{"type":"missing","loc":["header","x-key"],"msg":"Field required","input":null}]})");
}

TEST_CASE("cookies are read from the Cookie header") {
    App app;
    app.get("/c", [](Cookie<"ads_id", std::optional<std::string>> ads, Cookie<"n", int, Default<0>> n) {
        return ads->value_or("none") + ":" + std::to_string(*n);
    });
    TestClient client(app);
    Headers h;
    h.set("Cookie", "ads_id=abc; n=5; other=\"q\"");
    CHECK(client.get("/c", h).json().get<std::string>() == "abc:5");
    CHECK(client.get("/c").json().get<std::string>() == "none:0");
}

TEST_CASE("a repeated header or cookie: the first counts, as in FastAPI; a list parameter gets them all") {
    App app;
    app.get("/token", [](Header<"x_token", std::string> token) { return *token; });
    app.get("/maybe", [](Header<"x_token", std::optional<std::string>> token) { return token->value_or("none"); });
    app.get("/number", [](Header<"x_n", int, Le<10>> n) { return *n; });
    app.get("/all", [](Header<"x_token", std::vector<std::string>> tokens) { return *tokens; });
    app.get("/session", [](Cookie<"session", std::string> session) { return *session; });
    app.get("/sessions", [](Cookie<"session", std::vector<std::string>> sessions) { return *sessions; });
    TestClient client(app);
    auto two = test::hdrs({{"X-Token", "nope"}, {"x-token", "fake-super-secret-token"}});
    CHECK(client.get("/token", two).text == R"("nope")");
    CHECK(client.get("/maybe", two).text == R"("nope")");
    CHECK(client.get("/all", two).text == R"(["nope","fake-super-secret-token"])");
    // The first is validated, whatever follows it.
    CHECK(client.get("/number", test::hdrs({{"x-n", "3"}, {"x-n", "99"}})).text == "3");
    CHECK(client.get("/number", test::hdrs({{"x-n", "99"}, {"x-n", "3"}})).status_code == 422);
    // A cookie named twice, in one Cookie header or in two.
    CHECK(client.get("/session", test::hdrs({{"cookie", "session=a; session=b"}})).text == R"("a")");
    CHECK(client.get("/session", test::hdrs({{"cookie", "other=1"}, {"cookie", "session=c; session=d"}})).text == R"("c")");
    CHECK(client.get("/sessions", test::hdrs({{"cookie", "session=a; session=b"}})).text == R"(["a","b"])");
}

TEST_CASE("a model parameter is the JSON body, validated with every error reported") {
    App app;
    app.post("/items/", [](Product item) { return item; }, {.status_code = 201});
    TestClient client(app);
    auto ok = client.post("/items/", R"({"name":"Foo","price":35.4,"tags":["a"]})", json_type());
    CHECK(ok.status_code == 201);
    CHECK(ok.text == R"({"name":"Foo","description":null,"price":35.4,"tax":null,"tags":["a"]})");

    auto bad = client.post("/items/", R"({"name":"","price":-1,"tags":"x"})", json_type());
    CHECK(bad.status_code == 422);
    CHECK(bad.text ==
          R"({"detail":[{"type":"string_too_short","loc":["body","name"],"msg":"String should have at least 1 character","input":"","ctx":{"min_length":1}},)"
          R"({"type":"greater_than","loc":["body","price"],"msg":"Input should be greater than 0","input":-1,"ctx":{"gt":0}},)"
          R"({"type":"list_type","loc":["body","tags"],"msg":"Input should be a valid list","input":"x"}]})");
}

TEST_CASE("the body: accepted without a Content-Type, refused when missing, malformed or not JSON") {
    App app;
    app.post("/items/", [](Product item) { return item.name.value; });
    TestClient client(app);
    CHECK(client.post("/items/", R"({"name":"Foo","price":1})").text == R"("Foo")");
    CHECK(client.post("/items/").text == R"({"detail":[{"type":"missing","loc":["body"],"msg":"Field required","input":null}]})");
    auto invalid = client.post("/items/", R"({"name": )", json_type());
    CHECK(invalid.status_code == 422);
    CHECK(invalid.text.find(R"("type":"json_invalid","loc":["body",9],"msg":"JSON decode error")") != std::string::npos);
    Headers text;
    text.set("content-type", "text/plain");
    CHECK(client.post("/items/", "hello", text).text ==
          R"({"detail":[{"type":"model_attributes_type","loc":["body"],"msg":"Input should be a valid dictionary or object to extract fields from","input":"hello"}]})");
}

TEST_CASE("a body that is not UTF-8 or nests too deep is FastAPI's 400, not a crash") {
    App app;
    app.post("/items/", [](Product item) { return item.name.value; });
    app.post("/raw", [](Body<"data", picojson::value> data) { return data->is<picojson::array>(); });  // the whole body
    TestClient client(app);
    constexpr auto parse_error = R"({"detail":"There was an error parsing the body"})";
    auto not_utf8 = client.post("/items/", "{\"name\":\"\xFF\",\"price\":1}", json_type());
    CHECK(not_utf8.status_code == 400);
    CHECK(not_utf8.text == parse_error);
    // Regression: a megabyte of '[' overflowed the stack of picojson's recursive parser, and
    // nested objects (which picojson's own limit does not count) that of the direct reader.
    std::string deep_objects;
    for (int i = 0; i < 200000; ++i) deep_objects += "{\"\":";
    deep_objects += "1" + std::string(200000, '}');
    for (const char* path : {"/items/", "/raw"}) {
        for (const std::string& deep : {std::string(500000, '['), deep_objects}) {
            auto r = client.post(path, deep, json_type());
            CHECK(r.status_code == 400);
            CHECK(r.text == parse_error);
        }
    }
    std::string nested = std::string(FASTAPI_MAX_JSON_DEPTH - 1, '[') + std::string(FASTAPI_MAX_JSON_DEPTH - 1, ']');
    CHECK(client.post("/raw", nested, json_type()).text == "true");
    CHECK(client.post("/raw", "\"" + std::string(2000, '[') + "\"", json_type()).text == "false");  // a string
}

TEST_CASE("a JSON media type is application/json or application/*+json, in any case, with parameters") {
    App app;
    app.post("/items/", [](Product item) { return item.name.value; });
    TestClient client(app);
    auto status_with = [&](const char* type) {
        return client.post("/items/", R"({"name":"Foo","price":1})", test::hdrs({{"content-type", type}})).status_code;
    };
    CHECK(status_with("application/json") == 200);
    CHECK(status_with("Application/JSON; charset=utf-8") == 200);
    CHECK(status_with("application/json ;charset=utf-8") == 200);
    CHECK(status_with("application/vnd.api+json") == 200);
    CHECK(status_with("application/jsonx") == 422);
    CHECK(status_with("application/x-json-seq") == 422);
    CHECK(status_with("text/json") == 422);
    CHECK(status_with("application/") == 422);
}

TEST_CASE("several body parameters are keys of one JSON object, as FastAPI embeds them") {
    App app;
    app.put("/items/{item_id}", [](Path<"item_id", int> item_id, Body<"item", Product> item, Body<"importance", int, Gt<0>> importance) {
        return std::to_string(*item_id) + ":" + item->name.value + ":" + std::to_string(*importance);
    });
    app.post("/embed", [](Body<"item", Product, Embed> item) { return item->name.value; });
    TestClient client(app);
    CHECK(client.put("/items/5", R"({"item":{"name":"Foo","price":2},"importance":3})", json_type()).json().get<std::string>() == "5:Foo:3");
    CHECK(client.put("/items/5", R"({"item":{"name":"Foo","price":2},"importance":0})", json_type()).text ==
          R"({"detail":[{"type":"greater_than","loc":["body","importance"],"msg":"Input should be greater than 0","input":0,"ctx":{"gt":0}}]})");
    CHECK(client.put("/items/x", R"({"importance":1})", json_type()).text ==
          R"({"detail":[{"type":"int_parsing","loc":["path","item_id"],"msg":"Input should be a valid integer, unable to parse string as an integer","input":"x"},)"
          R"({"type":"missing","loc":["body","item"],"msg":"Field required","input":null}]})");
    CHECK(client.post("/embed", R"({"item":{"name":"E","price":1}})", json_type()).text == R"("E")");
}

TEST_CASE("a list of models is a body too, with indices in the error location") {
    App app;
    app.post("/batch", [](std::vector<Product> items) { return items.size(); });
    TestClient client(app);
    CHECK(client.post("/batch", R"([{"name":"a","price":1},{"name":"b","price":2}])", json_type()).text == "2");
    CHECK(client.post("/batch", R"([{"name":"a","price":1},{"name":"b"}])", json_type()).text ==
          R"({"detail":[{"type":"missing","loc":["body",1,"price"],"msg":"Field required","input":{"name":"b"}}]})");
}

TEST_CASE("the validation-error handler can be replaced, as in FastAPI") {
    App app;
    app.exception_handler<RequestValidationError>([](Request&, const RequestValidationError& e) {
        return PlainTextResponse(std::to_string(e.errors().size()) + " problems", 400);
    });
    app.get("/n/{n}", [](Path<"n", int> n) { return *n; });
    TestClient client(app);
    auto r = client.get("/n/x");
    CHECK(r.status_code == 400);
    CHECK(r.text == "1 problems");
}

TEST_CASE("a number beyond a double in a path, query, header or cookie is infinity (or 0.0), as Python's float() reads it") {
    App app;
    app.get("/le/{v}", [](Path<"v", double, Le<1000>> v) { return *v; });
    app.get("/gt", [](Query<"v", double, Gt<0>> v) { return std::isinf(*v) ? std::string("inf") : std::to_string(*v); });
    app.get("/h", [](Header<"x_v", double> v) { return *v == 0.0 && !std::signbit(*v) ? "zero" : "other"; });
    app.get("/c", [](Cookie<"v", double> v) { return std::isinf(*v) && *v < 0 ? "-inf" : "other"; });
    TestClient client(app);
    CHECK(client.get("/le/1e400").text ==
          R"({"detail":[{"type":"less_than_equal","loc":["path","v"],"msg":"Input should be less than or equal to 1000","input":"1e400","ctx":{"le":1000}}]})");
    CHECK(client.get("/gt?v=1e400").text == R"("inf")");
    CHECK(client.get("/gt?v=123456789e999").text == R"("inf")");
    CHECK(client.get("/gt?v=0.0000001e-400").status_code == 422);  // 0.0, not greater than 0
    Headers h;
    h.set("x-v", "1e-400");
    CHECK(client.get("/h", h).text == R"("zero")");
    Headers c;
    c.set("cookie", "v=-1e400");
    CHECK(client.get("/c", c).text == R"("-inf")");
}
