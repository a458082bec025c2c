// The 422 bodies: every pydantic error type a request body, path, query, header or cookie
// value can produce, compared as the exact text FastAPI sends.
#include <doctest/doctest.h>
#include "fastapi.hpp"
#include "support.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace validation_test {
using namespace fastapi;

using test::Item;

struct Line {
    std::string sku;
    Field<int, Ge<1>, Le<100>> quantity;
};
struct Order {
    Field<std::vector<Line>, MinItems<1>, MaxItems<3>> items;
    Field<std::string, Pattern<"^[A-Z]{3}$">> currency;
    Field<int, MultipleOf<5>, Default<5>> bundle;  // C++ cannot see "= 5": say Default<5>
    Field<double, Lt<"1.5">> discount;
    Field<bool, Default<false>> gift;
    std::map<std::string, int> meta;
    using fastapi_config = ModelConfig<ForbidExtra>;
};

enum class Choice { a, b, c };
struct Pick {
    Choice choice;
    std::int8_t small;
};
}  // namespace validation_test

template <>
struct fastapi::enum_values<validation_test::Choice> {
    static constexpr fastapi::enum_value<validation_test::Choice> values[] = {
        {validation_test::Choice::a, "a"}, {validation_test::Choice::b, "b"}, {validation_test::Choice::c, "c"}};
};

namespace validation_test {

namespace {
// The 422 body FastAPI answers for this request body.
template <class T>
std::string body_errors(std::string_view text) {
    T out{};
    fastapi::ValidationErrors errors;
    bool ok = fastapi::read_json_body(text, out, errors);
    CHECK(ok == errors.empty());
    return fastapi::detail::render_validation_errors(errors);
}
template <class T>
std::string query_errors(std::string_view text) {
    T out{};
    fastapi::ValidationErrors errors;
    fastapi::Loc loc{std::string("query"), std::string("q")};
    bool ok = fastapi::from_string(text, out, errors, loc);
    CHECK(ok == errors.empty());
    CHECK(loc.size() == 2);
    return fastapi::detail::render_validation_errors(errors);
}
}  // namespace

TEST_CASE("missing: every required field at once, the input being the object") {
    CHECK(body_errors<Item>("{}") ==
          R"({"detail":[{"type":"missing","loc":["body","name"],"msg":"Field required","input":{}},)"
          R"({"type":"missing","loc":["body","price"],"msg":"Field required","input":{}}]})");
}

TEST_CASE("string_too_short, greater_than, list_type collected together") {
    CHECK(body_errors<Item>(R"({"name":"","price":0,"tags":"a"})") ==
          R"({"detail":[{"type":"string_too_short","loc":["body","name"],"msg":"String should have at least 1 character","input":"","ctx":{"min_length":1}},)"
          R"({"type":"greater_than","loc":["body","price"],"msg":"Input should be greater than 0","input":0,"ctx":{"gt":0}},)"
          R"({"type":"list_type","loc":["body","tags"],"msg":"Input should be a valid list","input":"a"}]})");
}

TEST_CASE("string_too_long, string_type, float_parsing, float_type") {
    std::string long_name(51, 'x');
    CHECK(body_errors<Item>(R"({"name":")" + long_name + R"(","price":"cheap","tax":[],"description":5})") ==
          R"({"detail":[{"type":"string_too_long","loc":["body","name"],"msg":"String should have at most 50 characters","input":")" +
              long_name + R"(","ctx":{"max_length":50}},)"
          R"({"type":"string_type","loc":["body","description"],"msg":"Input should be a valid string","input":5},)"
          R"({"type":"float_parsing","loc":["body","price"],"msg":"Input should be a valid number, unable to parse string as a number","input":"cheap"},)"
          R"({"type":"float_type","loc":["body","tax"],"msg":"Input should be a valid number","input":[]}]})");
}

TEST_CASE("string lengths count characters, not bytes") {
    CHECK(body_errors<Item>("{\"name\":\"\xC3\xA9\",\"price\":1}") == R"({"detail":[]})");
}

TEST_CASE("nested locations, ge/le, too_short, pattern, multiple_of, lt, extra_forbidden") {
    CHECK(body_errors<Order>(
              R"({"items":[{"sku":"a","quantity":0},{"sku":"b","quantity":101},{"quantity":"x"}],)"
              R"("currency":"eur","bundle":7,"discount":1.5,"coupon":"FREE"})") ==
          R"({"detail":[{"type":"greater_than_equal","loc":["body","items",0,"quantity"],"msg":"Input should be greater than or equal to 1","input":0,"ctx":{"ge":1}},)"
          R"({"type":"less_than_equal","loc":["body","items",1,"quantity"],"msg":"Input should be less than or equal to 100","input":101,"ctx":{"le":100}},)"
          R"({"type":"missing","loc":["body","items",2,"sku"],"msg":"Field required","input":{"quantity":"x"}},)"
          R"({"type":"int_parsing","loc":["body","items",2,"quantity"],"msg":"Input should be a valid integer, unable to parse string as an integer","input":"x"},)"
          R"({"type":"string_pattern_mismatch","loc":["body","currency"],"msg":"String should match pattern '^[A-Z]{3}$'","input":"eur","ctx":{"pattern":"^[A-Z]{3}$"}},)"
          R"({"type":"multiple_of","loc":["body","bundle"],"msg":"Input should be a multiple of 5","input":7,"ctx":{"multiple_of":5}},)"
          R"({"type":"less_than","loc":["body","discount"],"msg":"Input should be less than 1.5","input":1.5,"ctx":{"lt":1.5}},)"
          R"({"type":"extra_forbidden","loc":["body","coupon"],"msg":"Extra inputs are not permitted","input":"FREE"}]})");
}

TEST_CASE("lists: too_short and too_long") {
    CHECK(body_errors<Order>(R"({"items":[],"currency":"EUR","discount":0})") ==
          R"({"detail":[{"type":"too_short","loc":["body","items"],"msg":"List should have at least 1 item after validation, not 0","input":[],"ctx":{"field_type":"List","min_length":1,"actual_length":0}}]})");
    CHECK(body_errors<Order>(
              R"({"items":[{"sku":"a","quantity":1},{"sku":"a","quantity":1},{"sku":"a","quantity":1},{"sku":"a","quantity":1}],"currency":"EUR","discount":0})") ==
          R"({"detail":[{"type":"too_long","loc":["body","items"],"msg":"List should have at most 3 items after validation, not 4",)"
          R"("input":[{"quantity":1,"sku":"a"},{"quantity":1,"sku":"a"},{"quantity":1,"sku":"a"},{"quantity":1,"sku":"a"}],"ctx":{"field_type":"List","max_length":3,"actual_length":4}}]})");
}

TEST_CASE("int_type, int_from_float, bool_parsing, bool_type, dict_type") {
    CHECK(body_errors<Order>(R"({"items":[{"sku":"a","quantity":1.5},{"sku":"a","quantity":null}],"currency":"EUR","discount":0,"gift":"maybe","meta":[]})") ==
          R"({"detail":[{"type":"int_from_float","loc":["body","items",0,"quantity"],"msg":"Input should be a valid integer, got a number with a fractional part","input":1.5},)"
          R"({"type":"int_type","loc":["body","items",1,"quantity"],"msg":"Input should be a valid integer","input":null},)"
          R"({"type":"bool_parsing","loc":["body","gift"],"msg":"Input should be a valid boolean, unable to interpret input","input":"maybe"},)"
          R"({"type":"dict_type","loc":["body","meta"],"msg":"Input should be a valid dictionary","input":[]}]})");
    CHECK(body_errors<Order>(R"({"items":[{"sku":"a","quantity":1}],"currency":"EUR","discount":0,"gift":{},"meta":{"k":"v"}})") ==
          R"({"detail":[{"type":"bool_type","loc":["body","gift"],"msg":"Input should be a valid boolean","input":{}},)"
          R"({"type":"int_parsing","loc":["body","meta","k"],"msg":"Input should be a valid integer, unable to parse string as an integer","input":"v"}]})");
}

TEST_CASE("enum, and an integer narrower than the value") {
    CHECK(body_errors<Pick>(R"({"choice":"d","small":300})") ==
          R"({"detail":[{"type":"enum","loc":["body","choice"],"msg":"Input should be 'a', 'b' or 'c'","input":"d","ctx":{"expected":"'a', 'b' or 'c'"}},)"
          R"({"type":"less_than_equal","loc":["body","small"],"msg":"Input should be less than or equal to 127","input":300,"ctx":{"le":127}}]})");
}

TEST_CASE("model_attributes_type: a body that is not an object") {
    CHECK(body_errors<Item>(R"(["name"])") ==
          R"({"detail":[{"type":"model_attributes_type","loc":["body"],"msg":"Input should be a valid dictionary or object to extract fields from","input":["name"]}]})");
    CHECK(body_errors<Order>(R"({"items":[5],"currency":"EUR","discount":0})") ==
          R"({"detail":[{"type":"model_attributes_type","loc":["body","items",0],"msg":"Input should be a valid dictionary or object to extract fields from","input":5}]})");
}

TEST_CASE("json_invalid: Python's message and character position") {
    CHECK(body_errors<Item>(R"({"name": "Foo", "price": })") ==
          R"({"detail":[{"type":"json_invalid","loc":["body",25],"msg":"JSON decode error","input":{},"ctx":{"error":"Expecting value"}}]})");
    CHECK(body_errors<Item>(R"({"name" "Foo"})") ==
          R"({"detail":[{"type":"json_invalid","loc":["body",8],"msg":"JSON decode error","input":{},"ctx":{"error":"Expecting ':' delimiter"}}]})");
    CHECK(body_errors<Item>(R"({"a":1 "b":2})") ==
          R"({"detail":[{"type":"json_invalid","loc":["body",7],"msg":"JSON decode error","input":{},"ctx":{"error":"Expecting ',' delimiter"}}]})");
    CHECK(body_errors<Item>(R"({'a':1})") ==
          R"({"detail":[{"type":"json_invalid","loc":["body",1],"msg":"JSON decode error","input":{},"ctx":{"error":"Expecting property name enclosed in double quotes"}}]})");
    CHECK(body_errors<Item>(R"({"a":1} x)") ==
          R"({"detail":[{"type":"json_invalid","loc":["body",8],"msg":"JSON decode error","input":{},"ctx":{"error":"Extra data"}}]})");
    CHECK(body_errors<Item>("{\"\xC3\xA9\":\"abc") ==
          R"({"detail":[{"type":"json_invalid","loc":["body",5],"msg":"JSON decode error","input":{},"ctx":{"error":"Unterminated string starting at"}}]})");
    CHECK(body_errors<Item>("[\"a\tb\"]") ==
          R"({"detail":[{"type":"json_invalid","loc":["body",3],"msg":"JSON decode error","input":{},"ctx":{"error":"Invalid control character at"}}]})");
}

TEST_CASE("a body that is not UTF-8 is FastAPI's 400, not a 422") {
    Item item{};
    fastapi::ValidationErrors errors;
    CHECK_THROWS_AS(fastapi::read_json_body("{\"name\":\"\xFF\"}", item, errors), fastapi::HTTPException);
}

TEST_CASE("from_string errors carry the string as input") {
    CHECK(query_errors<int>("abc") ==
          R"({"detail":[{"type":"int_parsing","loc":["query","q"],"msg":"Input should be a valid integer, unable to parse string as an integer","input":"abc"}]})");
    CHECK(query_errors<int>("1.5") ==
          R"({"detail":[{"type":"int_parsing","loc":["query","q"],"msg":"Input should be a valid integer, unable to parse string as an integer","input":"1.5"}]})");
    CHECK(query_errors<double>("x") ==
          R"({"detail":[{"type":"float_parsing","loc":["query","q"],"msg":"Input should be a valid number, unable to parse string as a number","input":"x"}]})");
    CHECK(query_errors<bool>("maybe") ==
          R"({"detail":[{"type":"bool_parsing","loc":["query","q"],"msg":"Input should be a valid boolean, unable to interpret input","input":"maybe"}]})");
    CHECK(query_errors<Choice>("z") ==
          R"({"detail":[{"type":"enum","loc":["query","q"],"msg":"Input should be 'a', 'b' or 'c'","input":"z","ctx":{"expected":"'a', 'b' or 'c'"}}]})");
    CHECK(query_errors<fastapi::Field<int, fastapi::Gt<0>>>("-1") ==
          R"({"detail":[{"type":"greater_than","loc":["query","q"],"msg":"Input should be greater than 0","input":"-1","ctx":{"gt":0}}]})");
    CHECK(query_errors<fastapi::Field<std::string, fastapi::MaxLength<3>>>("abcd") ==
          R"({"detail":[{"type":"string_too_long","loc":["query","q"],"msg":"String should have at most 3 characters","input":"abcd","ctx":{"max_length":3}}]})");
}

TEST_CASE("check_constraints: the markers alone, as parameters use them") {
    fastapi::ValidationErrors errors;
    fastapi::Loc loc{std::string("path"), std::string("item_id")};
    CHECK(fastapi::check_constraints<fastapi::Ge<1>>(std::int64_t{5}, errors, loc));
    CHECK(!fastapi::check_constraints<fastapi::Ge<1>, fastapi::Le<3>>(std::int64_t{5}, errors, loc));
    CHECK(!fastapi::check_constraints<fastapi::Gt<"0.5">>(0.5, errors, loc));
    CHECK(fastapi::detail::render_validation_errors(errors) ==
          R"({"detail":[{"type":"less_than_equal","loc":["path","item_id"],"msg":"Input should be less than or equal to 3","input":5,"ctx":{"le":3}},)"
          R"({"type":"greater_than","loc":["path","item_id"],"msg":"Input should be greater than 0.5","input":0.5,"ctx":{"gt":0.5}}]})");
}

TEST_CASE("the missing error of a parameter has a null input; RequestValidationError carries the errors") {
    fastapi::ValidationErrors errors;
    errors.push_back(fastapi::detail::missing_error(fastapi::Loc{std::string("query"), std::string("q")}));
    fastapi::RequestValidationError e(std::move(errors));
    CHECK(fastapi::detail::render_validation_errors(e.errors()) ==
          R"({"detail":[{"type":"missing","loc":["query","q"],"msg":"Field required","input":null}]})");
}

TEST_CASE("a body of null is a missing body, as FastAPI validates None: required is missing, optional its default") {
    App app;
    app.post("/items/", [](Item item) { return item.name.value; });
    app.post("/maybe/", [](Body<"item", std::optional<Item>> item) { return *item ? (*item)->name.value : std::string("none"); });
    app.post("/pair/", [](Body<"a", Item> a, Body<"n", int, Default<3>> n) { return a->name.value + std::to_string(*n); });
    TestClient client(app);
    Headers json;
    json.set("content-type", "application/json");
    auto r = client.post("/items/", "null", json);
    CHECK(r.status_code == 422);
    CHECK(r.text == R"({"detail":[{"type":"missing","loc":["body"],"msg":"Field required","input":null}]})");
    CHECK(client.post("/maybe/", " null ", json).text == R"("none")");
    // An embedded key of null: the same rule, key by key.
    CHECK(client.post("/pair/", R"({"a":null,"n":null})", json).text ==
          R"({"detail":[{"type":"missing","loc":["body","a"],"msg":"Field required","input":null}]})");
    CHECK(client.post("/pair/", R"({"a":{"name":"x","price":1},"n":null})", json).text == R"("x3")");
}

TEST_CASE("MultipleOf<-1> and MultipleOf<1> take every int64, INT64_MIN too (INT64_MIN % -1 overflows)") {
    App app;
    app.get("/neg", [](Query<"v", std::int64_t, MultipleOf<-1>> v) { return *v; });
    app.get("/pos", [](Query<"v", std::int64_t, MultipleOf<1>> v) { return *v; });
    app.get("/three", [](Query<"v", std::int64_t, MultipleOf<-7>> v) { return *v; });
    TestClient client(app);
    CHECK(client.get("/neg?v=-9223372036854775808").text == "-9223372036854775808");
    CHECK(client.get("/pos?v=-9223372036854775808").text == "-9223372036854775808");
    CHECK(client.get("/three?v=-9223372036854775807").text == "-9223372036854775807");
    CHECK(client.get("/three?v=-9223372036854775808").status_code == 422);
}

struct Positives {
    std::vector<Field<std::int64_t, Gt<0>>> xs;
};

TEST_CASE("at most FASTAPI_MAX_VALIDATION_ERRORS errors are kept and listed; the rest are one too_many_errors entry") {
    // The issue's request: a 400 KB body of -1s answered an 11 MB 422.
    std::string body = R"({"xs":[)";
    const std::size_t n = 200000;
    for (std::size_t i = 0; i < n; ++i) body += i ? ",-1" : "-1";
    body += "]}";
    App app;
    app.post("/xs", [](Positives p) { return p.xs.size(); });
    TestClient client(app);
    Headers json;
    json.set("content-type", "application/json");
    auto r = client.post("/xs", body, json);
    CHECK(r.status_code == 422);
    CHECK(r.text.size() < 20000);
    auto detail = r.json().get("detail").get<picojson::array>();
    REQUIRE(detail.size() == FASTAPI_MAX_VALIDATION_ERRORS + 1);
    CHECK(detail[0].get("type").get<std::string>() == "greater_than");
    CHECK(detail[99].get("loc").serialize() == R"(["body","xs",99])");
    const std::string rest = std::to_string(n - FASTAPI_MAX_VALIDATION_ERRORS);
    CHECK(detail.back().serialize() ==
          R"({"ctx":{"max_errors":100,"not_reported":)" + rest + R"(},"input":null,"loc":[],"msg":"Too many errors: )" +
              rest + R"( more were not reported","type":"too_many_errors"})");
    // Collecting is bounded too: past the limit an error is counted, not kept.
    Positives p;
    ValidationErrors errors;
    CHECK_FALSE(read_json_body(body, p, errors));
    CHECK(errors.size() == FASTAPI_MAX_VALIDATION_ERRORS);
    CHECK(errors.dropped() == n - FASTAPI_MAX_VALIDATION_ERRORS);
    CHECK(errors.total() == n);
}

int dependency_calls = 0;
int counted_dependency(Query<"limit", int> limit) { return ++dependency_calls, *limit; }

TEST_CASE("a dependency whose parameter failed is not called, even when its error was past the limit") {
    App app;
    app.post("/xs", [](Positives p, Depends<counted_dependency> d) { return p.xs.size() + static_cast<std::size_t>(*d); });
    TestClient client(app);
    Headers json;
    json.set("content-type", "application/json");
    std::string body = R"({"xs":[)";
    for (int i = 0; i < 150; ++i) body += i ? ",0" : "0";
    body += "]}";
    auto r = client.post("/xs?limit=oops", body, json);
    CHECK(r.status_code == 422);
    CHECK(dependency_calls == 0);
}

}  // namespace validation_test
