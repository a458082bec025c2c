// Responses: what a handler's result becomes on the wire, errors included.
#include <doctest/doctest.h>

#include "fastapi.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>

using namespace fastapi;

TEST_CASE("response types set their media type and status") {
    App app;
    app.get("/text", [] { return PlainTextResponse("Hello, World!"); });
    app.get("/html", [] { return HTMLResponse("<h1>Hi</h1>", 201); });
    app.get("/bytes", [] { return Response(std::string("\x00\x01\x02", 3), 200, "application/octet-stream"); });
    app.get("/json", [] { return JSONResponse(picojson::value(std::string("é \"quoted\"")), 202); });
    app.get("/redirect", [] { return RedirectResponse("/text"); });
    app.get("/moved", [] { return RedirectResponse("https://example.com/", 301); });
    TestClient client(app);

    auto text = client.get("/text");
    CHECK(text.status_code == 200);
    CHECK(text.header("content-type") == "text/plain; charset=utf-8");
    CHECK(text.text == "Hello, World!");

    auto html = client.get("/html");
    CHECK(html.status_code == 201);
    CHECK(html.header("content-type") == "text/html; charset=utf-8");

    auto bytes = client.get("/bytes");
    CHECK(bytes.text == std::string("\x00\x01\x02", 3));
    CHECK(bytes.header("content-length") == "3");

    auto json = client.get("/json");
    CHECK(json.status_code == 202);
    CHECK(json.header("content-type") == "application/json");
    CHECK(json.json().get<std::string>() == "é \"quoted\"");

    auto redirect = client.get("/redirect");
    CHECK(redirect.status_code == 307);
    CHECK(redirect.header("location") == "/text");
    CHECK(client.get("/moved").status_code == 301);
}

TEST_CASE("every response carries Content-Length and Date") {
    App app;
    app.get("/", [] { return PlainTextResponse("abc"); });
    TestClient client(app);
    auto r = client.get("/");
    CHECK(r.header("content-length") == "3");
    REQUIRE(r.header("date"));
    CHECK(r.header("date")->ends_with(" GMT"));
}

TEST_CASE("a structured result is written as JSON with the route's status code") {
    App app;
    app.post("/things", [] { return picojson::value(picojson::object{{"created", picojson::value(true)}}); },
             {.status_code = 201});
    TestClient client(app);
    auto r = client.post("/things");
    CHECK(r.status_code == 201);
    CHECK(r.header("content-type") == "application/json");
    CHECK(r.text == R"({"created":true})");
}

namespace {
struct UserIn {
    std::string username;
    std::string password;
    std::optional<std::string> email;
};
struct UserOut {
    std::string username;
    std::optional<std::string> email;
};
struct Profile {
    std::string username;
    std::string bio;  // required, and UserIn has none
};
}  // namespace

TEST_CASE("a route's response_model filters the returned value: what it does not declare is not sent") {
    App app;
    app.post("/user/", [](UserIn user) { return user; },
             {.status_code = 201, .response_model = response_model<UserOut>});
    app.get("/users/", [] { return std::vector<UserIn>{{"a", "pw1", {}}, {"b", "pw2", "b@example.com"}}; },
            {.response_model = response_model<std::vector<UserOut>>});
    app.get("/raw", [] { return JSONResponse(picojson::value(picojson::object{{"password", picojson::value("x")}})); },
            {.response_model = response_model<UserOut>});
    TestClient client(app);

    auto created = client.post("/user/", R"({"username":"alice","password":"secret","email":"a@example.com"})");
    CHECK(created.status_code == 201);
    CHECK(created.text == R"({"username":"alice","email":"a@example.com"})");
    CHECK(client.get("/users/").text == R"([{"username":"a","email":null},{"username":"b","email":"b@example.com"}])");
    // A Response object is sent as it is, as FastAPI does.
    CHECK(client.get("/raw").text == R"({"password":"x"})");
    // The document describes the response model, not the return type.
    CHECK(app.openapi().get("paths").get("/user/").get("post").get("responses").get("201").get("content")
              .get("application/json").get("schema").get("$ref").to_str() == "#/components/schemas/UserOut");
}

TEST_CASE("a returned value its response_model cannot read is a 500, never sent") {
    App app;
    app.get("/profile", [] { return UserIn{"alice", "secret", {}}; }, {.response_model = response_model<Profile>});
    TestClient client(app);
    auto r = client.get("/profile");
    CHECK(r.status_code == 500);
    CHECK(r.text == R"({"detail":"Internal Server Error"})");
    CHECK(r.text.find("secret") == std::string::npos);
}

TEST_CASE("a handler returning nothing answers null, and 204 has no body at all") {
    App app;
    app.get("/nothing", [] {});
    app.delete_("/gone", [] {}, {.status_code = 204});
    TestClient client(app);
    auto r = client.get("/nothing");
    CHECK(r.status_code == 200);
    CHECK(r.text == "null");
    auto gone = client.delete_("/gone");
    CHECK(gone.status_code == 204);
    CHECK(gone.text.empty());
    CHECK_FALSE(gone.header("content-length"));
}

TEST_CASE("HTTPException renders as {\"detail\": ...} with its status and headers") {
    App app;
    app.get("/items/{id}", [](const Request&) -> PlainTextResponse {
        throw HTTPException(404, "Item not found", [] {
            Headers h;
            h.set("X-Error", "There goes my error");
            return h;
        }());
    });
    app.get("/structured", []() -> PlainTextResponse {
        throw HTTPException(400, picojson::value(picojson::object{{"code", picojson::value(int64_t(7))}}));
    });
    app.get("/plain", []() -> PlainTextResponse { throw HTTPException(418); });
    TestClient client(app);
    auto r = client.get("/items/foo");
    CHECK(r.status_code == 404);
    CHECK(r.text == R"({"detail":"Item not found"})");
    CHECK(r.header("x-error") == "There goes my error");
    CHECK(client.get("/structured").text == R"({"detail":{"code":7}})");
    auto teapot = client.get("/plain");
    CHECK(teapot.status_code == 418);
    CHECK(teapot.text == R"({"detail":"I'm a teapot"})");
}

TEST_CASE("a handler that throws gets a 500 JSON response, and the app keeps serving") {
    App app;
    app.get("/boom", []() -> PlainTextResponse { throw std::runtime_error("database on fire"); });
    app.get("/int", []() -> PlainTextResponse { throw 42; });
    app.get("/ok", [] { return PlainTextResponse("fine"); });
    TestClient client(app);
    auto r = client.get("/boom");
    CHECK(r.status_code == 500);
    CHECK(r.text == R"({"detail":"Internal Server Error"})");
    CHECK(r.text.find("fire") == std::string::npos);  // internals never leak to the client
    CHECK(client.get("/int").status_code == 500);
    CHECK(client.get("/ok").text == "fine");
}

TEST_CASE("exception handlers registered by type replace the default rendering") {
    struct UnicornException : std::runtime_error {
        explicit UnicornException(std::string n) : std::runtime_error("unicorn"), name(std::move(n)) {}
        std::string name;
    };
    App app;
    app.exception_handler<UnicornException>([](Request&, const UnicornException& e) {
        return JSONResponse(picojson::value("Oops! " + e.name + " did something. There goes a rainbow..."), 418);
    });
    app.exception_handler<HTTPException>([](Request&, const HTTPException& e) {
        return PlainTextResponse(e.detail().to_str(), e.status_code());
    });
    app.get("/unicorns/{name}", [](const Request& r) -> PlainTextResponse { throw UnicornException(r.path_params.at("name")); });
    app.get("/http", []() -> PlainTextResponse { throw HTTPException(409, "Conflict here"); });
    TestClient client(app);
    auto r = client.get("/unicorns/yolo");
    CHECK(r.status_code == 418);
    CHECK(r.text == R"("Oops! yolo did something. There goes a rainbow...")");
    auto h = client.get("/http");
    CHECK(h.status_code == 409);
    CHECK(h.text == "Conflict here");
    CHECK(h.header("content-type") == "text/plain; charset=utf-8");
}

TEST_CASE("a header value with CR, LF or NUL is refused, so responses cannot be split") {
    Response r;
    CHECK_THROWS_AS(r.headers.set("x-a", "ok\r\nSet-Cookie: evil=1"), std::invalid_argument);
    CHECK_THROWS_AS(r.headers.set("x-a", "line\nbreak"), std::invalid_argument);
    CHECK_THROWS_AS(r.headers.set("x-a", std::string("nul\0byte", 8)), std::invalid_argument);
    CHECK_THROWS_AS(r.headers.set("bad name", "v"), std::invalid_argument);
    CHECK_THROWS_AS(RedirectResponse("/x\r\nInjected: 1"), std::invalid_argument);

    // Inside a handler the refusal is an ordinary exception: a 500, never a split response.
    App app;
    app.get("/split", [](const Request& req) {
        Response res("x", 200, "text/plain");
        res.headers.set("x-echo", req.query_string == "a" ? "fine" : "bad\r\nX-Injected: yes");
        return res;
    });
    TestClient client(app);
    auto bad = client.get("/split?b");
    CHECK(bad.status_code == 500);
    CHECK_FALSE(bad.header("x-injected"));
    CHECK(client.get("/split?a").header("x-echo") == "fine");
}

TEST_CASE("the Response& parameter sets headers and status around a returned value") {
    App app;
    app.get("/with-header", [](Response& response) {
        response.headers.set("x-cat-dog", "alone in the world");
        return picojson::value(std::string("ok"));
    });
    app.get("/with-status", [](Response& response) {
        response.status = 203;
        return picojson::value(std::string("ok"));
    });
    TestClient client(app);
    auto r = client.get("/with-header");
    CHECK(r.header("x-cat-dog") == "alone in the world");
    CHECK(r.text == "\"ok\"");
    CHECK(client.get("/with-status").status_code == 203);
}

TEST_CASE("FileResponse sends a file with a guessed media type, and 404 when it is missing") {
    auto dir = std::filesystem::temp_directory_path() / ("fastapi-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    auto file = (dir / "report.csv").string();
    std::string content(200000, 'x');
    std::ofstream(file, std::ios::binary) << content;

    App app;
    app.get("/report", [&] { return FileResponse(file); });
    app.get("/download", [&] { return FileResponse(file, "", "my report.csv"); });
    app.get("/missing", [&] { return FileResponse((dir / "nope.txt").string()); });
    TestClient client(app);
    auto r = client.get("/report");
    CHECK(r.status_code == 200);
    CHECK(r.header("content-type") == "text/csv; charset=utf-8");
    CHECK(r.header("content-length") == "200000");
    CHECK(r.text == content);
    CHECK(client.get("/download").header("content-disposition") == "attachment; filename=\"my report.csv\"");
    CHECK(client.get("/missing").status_code == 404);
    auto head = client.head("/report");
    CHECK(head.header("content-length") == "200000");
    CHECK(head.text.empty());
    std::filesystem::remove_all(dir);
}

TEST_CASE("a status code outside 100-599: refused when the route is declared, a logged 500 when set at run time") {
    App app;
    CHECK_THROWS_WITH_AS(app.get("/x", [] { return 1; }, {.status_code = 1000}),
                         "fastapi: RouteOptions::status_code 1000 is not an HTTP status code; use one from 100 to 599",
                         std::invalid_argument);
    APIRouter router;
    CHECK_THROWS_AS(router.get("/x", [] { return 1; }, {.status_code = 99}), std::invalid_argument);
    app.get("/response", [] {
        Response r("hi", 1000, "text/plain");
        r.set_header("x-leak", "no");
        return r;
    });
    app.get("/field", [](Response& res) {
        res.status = 0;
        return "x";
    });
    app.get("/exception", []() -> int { throw HTTPException(-5, "odd"); });
    app.get("/fine", [] { return Response("ok", 599, "text/plain"); });
    TestClient client(app);
    for (auto path : {"/response", "/field", "/exception"}) {
        CAPTURE(path);
        auto r = client.get(path);
        CHECK(r.status_code == 500);
        CHECK(r.text == R"({"detail":"Internal Server Error"})");
        CHECK(r.header("x-leak") == std::nullopt);
    }
    CHECK(client.get("/fine").status_code == 599);
}
