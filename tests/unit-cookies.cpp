// Cookies: reading them as typed parameters, setting and deleting them on a response, as
// Starlette writes Set-Cookie.
#include <doctest/doctest.h>

#include "fastapi.hpp"

#include <chrono>
#include <stdexcept>

using namespace fastapi;
using namespace std::chrono_literals;

TEST_CASE("set_cookie writes Starlette's Set-Cookie: Path=/ and SameSite=lax by default") {
    Response r;
    r.set_cookie("session", "abc123");
    CHECK(r.headers.get("set-cookie") == "session=abc123; Path=/; SameSite=lax");
}

TEST_CASE("set_cookie writes every attribute, in Starlette's order") {
    Response r;
    r.set_cookie("id", "42", {.max_age = 3600,
                              .expires = std::chrono::sys_days{std::chrono::year{2015} / 10 / 21} + 7h + 28min,
                              .path = "/app",
                              .domain = "example.com",
                              .secure = true,
                              .httponly = true,
                              .samesite = "strict"});
    CHECK(r.headers.get("set-cookie") ==
          "id=42; Domain=example.com; expires=Wed, 21 Oct 2015 07:28:00 GMT; HttpOnly; Max-Age=3600; Path=/app; "
          "SameSite=strict; Secure");
}

TEST_CASE("set_cookie: an empty samesite or path leaves the attribute out; partitioned adds Partitioned") {
    Response r;
    r.set_cookie("a", "1", {.path = "", .samesite = "", .partitioned = true});
    CHECK(r.headers.get("set-cookie") == "a=1; Partitioned");
}

TEST_CASE("each set_cookie adds its own Set-Cookie field") {
    Response r;
    r.set_cookie("a", "1");
    r.set_cookie("b", "2");
    auto all = r.headers.get_all("set-cookie");
    REQUIRE(all.size() == 2);
    CHECK(all[0].starts_with("a=1;"));
    CHECK(all[1].starts_with("b=2;"));
}

TEST_CASE("delete_cookie sends an empty value with Max-Age=0 and an Expires in the past") {
    Response r;
    r.delete_cookie("session");
    CHECK(r.headers.get("set-cookie") ==
          "session=\"\"; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; SameSite=lax");
    Response scoped;
    scoped.delete_cookie("session", "/app", "example.com");
    CHECK(scoped.headers.get("set-cookie") ==
          "session=\"\"; Domain=example.com; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/app; SameSite=lax");
}

TEST_CASE("names must be tokens and values cookie-octets (or quoted): anything else is refused") {
    Response r;
    CHECK_THROWS_AS(r.set_cookie("bad name", "x"), std::invalid_argument);
    CHECK_THROWS_AS(r.set_cookie("bad;name", "x"), std::invalid_argument);
    CHECK_THROWS_AS(r.set_cookie("", "x"), std::invalid_argument);
    CHECK_THROWS_AS(r.set_cookie("a", "x\r\nSet-Cookie: evil=1"), std::invalid_argument);
    CHECK_THROWS_AS(r.set_cookie("a", "x; Domain=evil.com"), std::invalid_argument);
    CHECK_THROWS_AS(r.set_cookie("a", "x,y"), std::invalid_argument);
    CHECK_THROWS_AS(r.set_cookie("a", "two words"), std::invalid_argument);
    CHECK_THROWS_AS(r.set_cookie("a", "back\\slash"), std::invalid_argument);
    CHECK_THROWS_AS(r.set_cookie("a", "x", {.path = "/; Domain=evil.com"}), std::invalid_argument);
    CHECK_THROWS_AS(r.set_cookie("a", "x", {.domain = "a.com\r\n"}), std::invalid_argument);
    CHECK_THROWS_AS(r.set_cookie("a", "x", {.samesite = "sometimes"}), std::invalid_argument);
    CHECK_THROWS_AS(r.set_cookie("a", "\"quoted space\""), std::invalid_argument);
    CHECK(r.headers.empty());  // nothing half-written
    r.set_cookie("a", "\"quoted\"");
    r.set_cookie("b", "base64+/=~!#$%&'()*-.:<>?@[]^_`{|}");
    CHECK(r.headers.get_all("set-cookie").size() == 2);
}

TEST_CASE("a handler sets cookies on the injected Response& and still returns a value") {
    App app;
    app.post("/login", [](Response& response) {
        response.set_cookie("session", "s3cr3t", {.httponly = true});
        return std::string("welcome");
    });
    TestClient client(app);
    auto r = client.post("/login");
    CHECK(r.status_code == 200);
    CHECK(r.text == "\"welcome\"");
    CHECK(r.header("set-cookie") == "session=s3cr3t; HttpOnly; Path=/; SameSite=lax");
}

TEST_CASE("a returned Response carries its cookies, and keeps those set on Response& too") {
    App app;
    app.get("/logout", [](Response& response) {
        response.set_cookie("seen", "1");
        JSONResponse out(picojson::value("bye"));
        out.delete_cookie("session");
        return out;
    });
    TestClient client(app);
    auto r = client.get("/logout");
    auto cookies = r.headers.get_all("set-cookie");
    REQUIRE(cookies.size() == 2);
    CHECK(cookies[0].starts_with("session=\"\"; expires=Thu, 01 Jan 1970"));
    CHECK(cookies[1] == "seen=1; Path=/; SameSite=lax");
}

TEST_CASE("a cookie set by one response is read back by a Cookie<> parameter") {
    App app;
    app.get("/set", [](Response& response) { response.set_cookie("ads_id", "xyz"); });
    app.get("/read", [](Cookie<"ads_id", std::optional<std::string>> ads_id) { return *ads_id; });
    TestClient client(app);
    auto set = client.get("/set");
    std::string header(*set.header("set-cookie"));
    std::string pair = header.substr(0, header.find(';'));
    CHECK(pair == "ads_id=xyz");
    CHECK(client.get("/read", [&] { Headers h; h.set("cookie", pair); return h; }()).text == "\"xyz\"");
    CHECK(client.get("/read").text == "null");
}

TEST_CASE("a handler setting a cookie the header cannot carry answers 500, as any exception") {
    App app;
    app.get("/bad", [](Response& response) { response.set_cookie("a", "line\nbreak"); });
    TestClient client(app);
    auto r = client.get("/bad");
    CHECK(r.status_code == 500);
    CHECK(!r.header("set-cookie"));
}
