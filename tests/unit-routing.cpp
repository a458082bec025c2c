// Routing: path templates, 404, 405 with Allow, HEAD for GET routes, the slash redirect,
// and FastAPI's first-match-wins order.
#include <doctest/doctest.h>

#include "fastapi.hpp"
#include "support.hpp"

using fastapi::App;
using fastapi::PlainTextResponse;
using fastapi::Request;
using fastapi::TestClient;

TEST_CASE("an unknown path answers 404 with FastAPI's body") {
    App app;
    app.get("/", [] { return PlainTextResponse("root"); });
    TestClient client(app);
    auto r = client.get("/nowhere");
    CHECK(r.status_code == 404);
    CHECK(r.text == R"({"detail":"Not Found"})");
    CHECK(r.header("content-type") == "application/json");
}

TEST_CASE("a known path with another method answers 405 and lists every method in Allow") {
    App app;
    app.get("/items", [] { return PlainTextResponse("list"); });
    app.post("/items", [] { return PlainTextResponse("create"); });
    app.delete_("/items", [] { return PlainTextResponse("delete"); });
    TestClient client(app);
    auto r = client.put("/items");
    CHECK(r.status_code == 405);
    CHECK(r.text == R"({"detail":"Method Not Allowed"})");
    CHECK(r.header("allow") == "GET, HEAD, POST, DELETE");
}

TEST_CASE("Allow gathers methods from every route with that path, parameterised ones too") {
    App app;
    app.get("/users/{id}", [] { return PlainTextResponse("get"); });
    app.patch("/users/{name}", [] { return PlainTextResponse("patch"); });
    TestClient client(app);
    auto r = client.post("/users/7");
    CHECK(r.status_code == 405);
    CHECK(r.header("allow") == "GET, HEAD, PATCH");
}

TEST_CASE("HEAD on a GET route answers the GET's status and headers without a body") {
    App app;
    app.get("/hello", [] { return PlainTextResponse("Hello, World!"); });
    TestClient client(app);
    auto r = client.head("/hello");
    CHECK(r.status_code == 200);
    CHECK(r.text.empty());
    CHECK(r.header("content-length") == "13");
    CHECK(r.header("content-type") == "text/plain; charset=utf-8");
}

TEST_CASE("an explicit HEAD route wins over the GET fallback") {
    App app;
    app.get("/x", [] { return PlainTextResponse("get"); });
    app.head("/x", [] {
        fastapi::Response r;
        r.headers.set("x-head", "yes");
        return r;
    });
    TestClient client(app);
    CHECK(client.head("/x").header("x-head") == "yes");
}

TEST_CASE("path parameters are matched and decoded") {
    App app;
    app.get("/items/{item_id}", [](const Request& r) { return PlainTextResponse(r.path_params.at("item_id")); });
    app.get("/files/{file_path:path}", [](const Request& r) { return PlainTextResponse(r.path_params.at("file_path")); });
    app.get("/a/{x}-{y}/c", [](const Request& r) {
        return PlainTextResponse(r.path_params.at("x") + "|" + r.path_params.at("y"));
    });
    TestClient client(app);
    CHECK(client.get("/items/42").text == "42");
    CHECK(client.get("/items/hello%20world").text == "hello world");
    CHECK(client.get("/files/home/johndoe/myfile.txt").text == "home/johndoe/myfile.txt");
    CHECK(client.get("/a/one-two/c").text == "one|two");
    CHECK(client.get("/items/").status_code == 404);  // {item_id} needs a value
    CHECK(client.get("/items/1/2").status_code == 404);
}

TEST_CASE("routes are tried in the order they were added, as in FastAPI") {
    App app;
    app.get("/users/me", [] { return PlainTextResponse("current user"); });
    app.get("/users/{user_id}", [](const Request& r) { return PlainTextResponse("user " + r.path_params.at("user_id")); });
    app.get("/late/{x}", [] { return PlainTextResponse("param"); });
    app.get("/late/fixed", [] { return PlainTextResponse("literal"); });
    TestClient client(app);
    CHECK(client.get("/users/me").text == "current user");
    CHECK(client.get("/users/5").text == "user 5");
    CHECK(client.get("/late/fixed").text == "param");  // the parameterised route came first
}

TEST_CASE("a missing or extra trailing slash redirects with 307 when only the other path exists") {
    App app;
    app.get("/items/", [] { return PlainTextResponse("items"); });
    app.get("/users", [] { return PlainTextResponse("users"); });
    TestClient client(app);
    auto r = client.get("/items?limit=3");
    CHECK(r.status_code == 307);
    CHECK(r.header("location") == "http://testserver/items/?limit=3");
    auto u = client.get("/users/");
    CHECK(u.status_code == 307);
    CHECK(u.header("location") == "http://testserver/users");
    CHECK(client.get("/other/").status_code == 404);
}

TEST_CASE("the slash redirect keeps the request's scheme") {
    App app;
    app.get("/items/", [] { return PlainTextResponse("items"); });
    // What a proxy-headers middleware does for a request that came over TLS to the proxy.
    app.add_middleware({.before = [](Request& req, fastapi::Response&) {
        if (req.header("x-forwarded-proto") == "https") req.scheme = "https";
        return true;
    }});
    TestClient client(app);
    CHECK(client.get("/items").header("location") == "http://testserver/items/");
    fastapi::Headers forwarded;
    fastapi::detail::append_header(forwarded, "x-forwarded-proto", "https");
    auto r = client.get("/items", forwarded);
    CHECK(r.status_code == 307);
    CHECK(r.header("location") == "https://testserver/items/");
}

TEST_CASE("the slash redirect of //evil.com without a Host header is a path on this host, not a network-path reference") {
    App app;
    app.get("/{rest:path}/", [] { return PlainTextResponse("any"); });
    test::LiveServer server(app);
    test::RawClient c(server.port());
    c.send("GET //evil.com HTTP/1.0\r\n\r\n");  // HTTP/1.0: no Host, so no absolute URL
    std::string r = c.read_response();
    CHECK(test::status_of(r) == 307);
    CHECK(r.find("\r\nlocation: /evil.com/\r\n") != std::string::npos);
    CHECK(r.find("location: //") == std::string::npos);
}

TEST_CASE("one handler can serve several methods") {
    App app;
    app.api_route("/echo", {"GET", "POST"}, [](const Request& r) { return PlainTextResponse(r.method); });
    TestClient client(app);
    CHECK(client.get("/echo").text == "GET");
    CHECK(client.post("/echo", "x").text == "POST");
}

TEST_CASE("malformed route paths are refused when the route is added") {
    App app;
    auto handler = [] { return PlainTextResponse(""); };
    CHECK_THROWS_AS(app.get("no-slash", handler), std::invalid_argument);
    CHECK_THROWS_AS(app.get("/{unclosed", handler), std::invalid_argument);
    CHECK_THROWS_AS(app.get("/{}", handler), std::invalid_argument);
    CHECK_THROWS_AS(app.get("/{a}/{a}", handler), std::invalid_argument);
    CHECK_THROWS_AS(app.get("/{a:float}", handler), std::invalid_argument);
    CHECK_THROWS_AS(app.api_route("/", {"BAD METHOD"}, handler), std::invalid_argument);
}
