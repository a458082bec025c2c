// HTTPException as FastAPI's users write it: headers in the same expression, and a detail
// that is any value the app could return (FastAPI takes a dict), sent in its fields' order.
#include "support.hpp"

#include <map>

using namespace fastapi;

namespace http_exception_test {

struct Problem {  // fields not in alphabetical order: they are sent as declared
    std::string message;
    std::string code;
    std::vector<int64_t> ids;
    std::optional<std::string> hint;
};

enum class Reason { gone, moved };

}  // namespace http_exception_test

template <>
struct fastapi::enum_values<http_exception_test::Reason> {
    static constexpr fastapi::enum_value<http_exception_test::Reason> values[] = {
        {http_exception_test::Reason::gone, "gone"}, {http_exception_test::Reason::moved, "moved"}};
};

TEST_CASE("HTTPException with headers written in the same expression") {
    App app;
    app.get("/items/{id}", [](Path<"id", std::string> id) -> std::string {
        if (*id != "foo") throw HTTPException(404, "Item not found", {{"X-Error", "item-not-found"}, {"X-Id", *id}});
        return *id;
    });
    TestClient client(app);
    auto r = client.get("/items/bar");
    CHECK(r.status_code == 404);
    CHECK(r.text == R"({"detail":"Item not found"})");
    CHECK(r.header("x-error") == "item-not-found");
    CHECK(r.header("x-id") == "bar");
    CHECK(client.get("/items/foo").text == "\"foo\"");

    Headers h{{"X-One", "1"}, {"X-Two", "2"}};
    CHECK(h.size() == 2);
    CHECK(h.get("x-two") == "2");
    CHECK_THROWS_AS((Headers{{"X-Bad", "a\r\nSet-Cookie: evil=1"}}), std::invalid_argument);  // checked as add() is
}

TEST_CASE("HTTPException's detail may be a model, a vector, a map, an enum or a picojson::value") {
    using http_exception_test::Problem;
    using http_exception_test::Reason;
    App app;
    app.get("/model", []() -> int {
        throw HTTPException(409, Problem{"Name taken", "taken", {1, 2}, std::nullopt}, {{"X-Error", "conflict"}});
    });
    app.get("/vector", []() -> int { throw HTTPException(400, std::vector<std::string>{"a", "b"}); });
    app.get("/map", []() -> int { throw HTTPException(400, std::map<std::string, int64_t>{{"limit", 10}}); });
    app.get("/enum", []() -> int { throw HTTPException(410, Reason::gone); });
    app.get("/number", []() -> int { throw HTTPException(400, 42); });
    app.get("/none", []() -> int { throw HTTPException(404, std::optional<Problem>{}); });  // as detail=None
    app.get("/json", []() -> int {
        picojson::object o;
        o["code"] = picojson::value(int64_t(7));
        throw HTTPException(400, picojson::value(o));
    });
    TestClient client(app);
    auto r = client.get("/model");
    CHECK(r.status_code == 409);
    CHECK(r.text == R"({"detail":{"message":"Name taken","code":"taken","ids":[1,2],"hint":null}})");
    CHECK(r.header("x-error") == "conflict");
    CHECK(r.header("content-type") == "application/json");
    CHECK(client.get("/vector").text == R"({"detail":["a","b"]})");
    CHECK(client.get("/map").text == R"({"detail":{"limit":10}})");
    auto gone = client.get("/enum");
    CHECK(gone.status_code == 410);
    CHECK(gone.text == R"({"detail":"gone"})");
    CHECK(client.get("/number").text == R"({"detail":42})");
    CHECK(client.get("/none").text == R"({"detail":"Not Found"})");
    CHECK(client.get("/json").text == R"({"detail":{"code":7}})");
}

TEST_CASE("an exception handler reads a structured detail as JSON") {
    using http_exception_test::Problem;
    App app;
    app.exception_handler<HTTPException>([](Request&, const HTTPException& e) {
        return PlainTextResponse(e.detail().get("code").get<std::string>() + " " + e.detail_json(), e.status_code());
    });
    app.get("/model", []() -> int { throw HTTPException(409, Problem{"Name taken", "taken", {}, "try another"}); });
    TestClient client(app);
    auto r = client.get("/model");
    CHECK(r.status_code == 409);
    CHECK(r.text == R"(taken {"message":"Name taken","code":"taken","ids":[],"hint":"try another"})");
}
