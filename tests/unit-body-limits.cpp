// What a client can make the server hold before anything decides the request is wanted:
// the server routes a request from its head, so a request no route takes is answered without
// its body (no memory, no disk, no 100 Continue); a body is buffered up to its Content-Length
// and no further, within a budget for all connections; the body has a deadline, not a
// timeout restarted by each byte; uploads stream to disk only for a route that reads a form,
// within a budget for all uploads in flight. Over real sockets, with raw partial requests.
#include "support.hpp"

#include <filesystem>
#include <random>

using namespace fastapi;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace body_limits {

// A fresh, empty folder for the temporary files of one test, removed with the object.
struct TempDir {
    fs::path path;
    TempDir() {
        std::random_device rd;
        path = fs::temp_directory_path() / ("fastapi-body-limits-test-" + std::to_string(rd()));
        fs::create_directories(path);
    }
    ~TempDir() { fs::remove_all(path); }
    std::size_t count() const {
        return static_cast<std::size_t>(std::distance(fs::directory_iterator(path), fs::directory_iterator{}));
    }
};

std::string post_head(std::string_view path, std::size_t length, std::string_view extra = {}) {
    return "POST " + std::string(path) + " HTTP/1.1\r\nHost: t\r\n" + std::string(extra) +
           "Content-Length: " + std::to_string(length) + "\r\n\r\n";
}

std::string multipart_head(std::string_view path, std::size_t length) {
    return post_head(path, length, "Content-Type: multipart/form-data; boundary=B\r\n");
}

// The start of a multipart body with one file part (the rest is the file's bytes).
const std::string file_part = "--B\r\nContent-Disposition: form-data; name=file; filename=a.bin\r\n\r\n";

void add_routes(App& app) {
    app.post("/items/", [](test::Item item) { return item; });
    app.get("/only-get", [] { return "got"; });
    app.post("/upload/", [](File<"file", UploadFile> file) { return file->size; });
    app.post("/json/", [](Body<"v", int> v) { return *v; });
}

// A route-level check that reads a header (FastAPI's dependencies=[Depends(verify_token)]).
std::atomic<int> token_checks{0};
void verify_token(Header<"x-token", std::string> token) {
    ++token_checks;
    if (*token != "secret") throw HTTPException(401, "Invalid X-Token header");
}
constexpr OAuth2PasswordBearer<"token"> oauth2_scheme{};

void add_secured_routes(App& app) {
    app.post("/secured/", [](test::Item item) { return item; }, {.dependencies = {Depends<verify_token>{}}});
    app.post("/secured-upload/", [](Depends<oauth2_scheme> token, File<"file", UploadFile> file) {
        return *token + ":" + std::to_string(file->size);
    });
}

}  // namespace body_limits

TEST_CASE("a request no route takes is answered 404 or 405 without its body being sent") {
    App app;
    body_limits::add_routes(app);
    app.add_middleware({.after = [](const Request&, Response& res) { res.headers.set("x-seen", "1"); }});
    test::LiveServer server(app);
    {
        test::RawClient c(server.port());
        c.send(body_limits::post_head("/nowhere", 900000));  // the 900,000 bytes never come
        auto r = c.read_response();
        CHECK(test::status_of(r) == 404);
        CHECK(test::body_of(r) == R"({"detail":"Not Found"})");
        CHECK(r.find("x-seen: 1\r\n") != std::string::npos);  // middleware sees the early answer
        CHECK(r.find("connection: close\r\n") != std::string::npos);  // the body is not read
        CHECK(c.closed_by_peer());
    }
    {
        test::RawClient c(server.port());
        c.send(body_limits::post_head("/only-get", 900000));
        auto r = c.read_response();
        CHECK(test::status_of(r) == 405);
        CHECK(r.find("allow: GET, HEAD\r\n") != std::string::npos);
    }
    {
        test::RawClient c(server.port());
        c.send(body_limits::post_head("/items", 900000));  // only /items/ exists: the slash redirect
        CHECK(test::status_of(c.read_response()) == 307);
    }
}

TEST_CASE("a route that takes nothing from the body answers without reading it") {
    App app;
    body_limits::add_routes(app);
    app.post("/ping", [] { return "pong"; });
    app.post("/whoami", [](Header<"x-user", std::string> user) { return *user; });
    app.post("/async-ping", []() -> asio::awaitable<std::string> { co_return "pong"; });
    app.post("/blocking-ping", [] { return "pong"; }, {.blocking = true});
    test::LiveServer server(app);
    for (const char* path : {"/ping", "/async-ping", "/blocking-ping"}) {
        CAPTURE(path);
        test::RawClient c(server.port());
        c.send(body_limits::post_head(path, 900000));  // the 900,000 bytes never come
        auto r = c.read_response();
        CHECK(test::status_of(r) == 200);
        CHECK(test::body_of(r) == R"("pong")");
        CHECK(r.find("connection: close\r\n") != std::string::npos);  // too large to drop: closed after
        CHECK(c.closed_by_peer());
    }
    {
        test::RawClient c(server.port());
        c.send(body_limits::post_head("/whoami", 900000, "X-User: ann\r\n"));
        auto r = c.read_response();
        CHECK(test::status_of(r) == 200);
        CHECK(test::body_of(r) == R"("ann")");
    }
    {  // a small body is read and dropped, and the connection goes on
        test::RawClient c(server.port());
        c.send(body_limits::post_head("/ping", 10) + "0123456789");
        auto r = c.read_response();
        CHECK(test::body_of(r) == R"("pong")");
        CHECK(r.find("connection: close") == std::string::npos);
        c.send("GET /only-get HTTP/1.1\r\nHost: t\r\n\r\n");
        CHECK(test::body_of(c.read_response()) == R"("got")");
    }
    {  // a route that reads the body still gets it
        test::RawClient c(server.port());
        c.send(body_limits::post_head("/items/", 30, "Content-Type: application/json\r\n") +
               R"({"name":"Hammer","price":12.5})");
        CHECK(test::status_of(c.read_response()) == 200);
    }
}

TEST_CASE("a small body after an early answer is read and dropped, and the connection goes on") {
    App app;
    body_limits::add_routes(app);
    test::LiveServer server(app);
    test::RawClient c(server.port());
    c.send(body_limits::post_head("/nowhere", 10));
    auto r = c.read_response();
    CHECK(test::status_of(r) == 404);
    CHECK(r.find("connection: close") == std::string::npos);
    c.send("0123456789GET /only-get HTTP/1.1\r\nHost: t\r\n\r\n");
    auto next = c.read_response();
    CHECK(test::status_of(next) == 200);
    CHECK(test::body_of(next) == R"("got")");
}

TEST_CASE("a connection still dropping an answered request's body is closed at its deadline without a second answer") {
    App app;
    body_limits::add_routes(app);
    ServerOptions so;
    so.header_timeout = 500ms;
    so.body_timeout = 500ms;
    test::LiveServer server(app, so);
    test::RawClient c(server.port(), 3000ms);
    c.send(body_limits::post_head("/nowhere", 10));
    auto r = c.read_response();
    CHECK(test::status_of(r) == 404);
    c.send("01234");  // half of the body the answer did not need, then nothing
    CHECK(c.closed_by_peer());  // at the deadline
    CHECK(c.buffer().find("HTTP/1.1 408") == std::string::npos);  // one request, one answer
}

TEST_CASE("100 Continue is sent only for a request a route takes") {
    App app;
    body_limits::add_routes(app);
    test::LiveServer server(app);
    {
        test::RawClient c(server.port());
        c.send(body_limits::post_head("/nowhere", 20, "Expect: 100-continue\r\n"));
        auto r = c.read_response();
        CHECK(test::status_of(r) == 404);  // the final answer first, no interim 100
        CHECK(c.closed_by_peer());         // the client will not send the body it held back
    }
    {
        test::RawClient c(server.port());
        const std::string body = R"({"name":"x","price":1})";
        c.send(body_limits::post_head("/items/", body.size(), "Content-Type: application/json\r\nExpect: 100-continue\r\n"));
        CHECK(test::status_of(c.read_response()) == 100);
        c.send(body);
        CHECK(test::status_of(c.read_response()) == 200);
    }
}

TEST_CASE("an upload is streamed to disk only for a route that reads a form") {
    body_limits::TempDir dir;
    AppOptions options;
    options.forms.temp_dir = dir.path.string();
    App app(options);
    body_limits::add_routes(app);
    ServerOptions so;
    so.limits.max_body_bytes = 1024;  // multipart bodies larger go to disk
    test::LiveServer server(app, so);
    const std::string partial = body_limits::file_part + std::string(4000, 'x');
    {
        test::RawClient c(server.port());
        c.send(body_limits::multipart_head("/nowhere", 100000) + partial);
        CHECK(test::status_of(c.read_response()) == 404);
        CHECK(dir.count() == 0);
    }
    {
        test::RawClient c(server.port());  // a route with a JSON body: too large for memory, and no form
        c.send(body_limits::multipart_head("/json/", 100000) + partial);
        CHECK(test::status_of(c.read_response()) == 413);
        CHECK(dir.count() == 0);
    }
    {
        test::RawClient c(server.port());  // the route that takes a file: spooled as before
        c.send(body_limits::multipart_head("/upload/", 100000) + partial);
        CHECK(test::eventually_true([&] { return dir.count() == 1; }));
    }
    CHECK(test::eventually_true([&] { return dir.count() == 0; }));  // removed with the connection
}

TEST_CASE("limits.max_spool_bytes bounds the disk of all uploads in flight: 413 for one too large, 503 while full") {
    body_limits::TempDir dir;
    AppOptions options;
    options.forms.temp_dir = dir.path.string();
    App app(options);
    body_limits::add_routes(app);
    ServerOptions so;
    so.limits.max_body_bytes = 1024;
    so.limits.max_spool_bytes = 10000;
    test::LiveServer server(app, so);
    {
        test::RawClient c(server.port());
        c.send(body_limits::multipart_head("/upload/", 10001));
        CHECK(test::status_of(c.read_response()) == 413);
    }
    const std::string content(6000, 'y');
    const std::string body = body_limits::file_part + content + "\r\n--B--\r\n";
    test::RawClient first(server.port());
    first.send(body_limits::multipart_head("/upload/", body.size()) + body.substr(0, 1000));
    REQUIRE(test::eventually_true([&] { return dir.count() == 1; }));
    {
        test::RawClient second(server.port());  // 6 KB more would pass 10,000 bytes in flight
        second.send(body_limits::multipart_head("/upload/", body.size()));
        auto r = second.read_response();
        CHECK(test::status_of(r) == 503);
        CHECK(test::body_of(r) == R"({"detail":"Server busy: too many uploads in progress"})");
    }
    first.send(body.substr(1000));
    auto done = first.read_response();
    CHECK(test::status_of(done) == 200);
    CHECK(test::body_of(done) == "6000");
    // The first upload's share is given back once it is answered.
    test::RawClient third(server.port());
    third.send(body_limits::multipart_head("/upload/", body.size()) + body);
    CHECK(test::body_of(third.read_response()) == "6000");
}

TEST_CASE("the body timeout is a deadline for the whole body: a trickle of bytes does not extend it") {
    App app;
    body_limits::add_routes(app);
    ServerOptions so;
    so.body_timeout = 1000ms;
    test::LiveServer server(app, so);
    test::RawClient c(server.port(), 200ms);
    const auto start = std::chrono::steady_clock::now();
    c.send(body_limits::post_head("/items/", 100, "Content-Type: application/json\r\n"));
    bool closed = false;
    for (int i = 0; i < 15 && !closed; ++i) {  // one byte every 300 ms: 4.5 s if nothing stops it
        c.send(" ");
        closed = c.closed_by_peer();           // waits up to 200 ms
        if (!closed) std::this_thread::sleep_for(100ms);
    }
    const auto elapsed = std::chrono::steady_clock::now() - start;
    CHECK(closed);
    CHECK(elapsed >= 900ms);
    CHECK(elapsed < 2500ms);  // the deadline, plus one tick of the sweep and some slack
}

TEST_CASE("a body is buffered up to its Content-Length, within limits.max_buffered_body_bytes for all connections") {
    App app;
    body_limits::add_routes(app);
    ServerOptions so;
    // Three bodies of 33,000 bytes fit in 100 KiB when each buffer grows to its body's end
    // (about 31 KiB beyond the first 2 KiB), not when buffers double to 64 KiB.
    so.limits.max_buffered_body_bytes = 100 * 1024;
    test::LiveServer server(app, so);
    std::string body = R"({"name":"x","price":1,"description":")" + std::string(33000 - 39, 'd') + "\"}";
    REQUIRE(body.size() == 33000);
    std::vector<std::unique_ptr<test::RawClient>> clients;
    for (int i = 0; i < 3; ++i) {
        clients.push_back(std::make_unique<test::RawClient>(server.port()));
        clients.back()->send(body_limits::post_head("/items/", body.size(), "Content-Type: application/json\r\n") +
                             body.substr(0, body.size() - 1));
    }
    std::this_thread::sleep_for(200ms);  // every buffer holds all but the last byte
    {
        test::RawClient over(server.port());  // a fourth does not fit: 503 and close
        over.send(body_limits::post_head("/items/", body.size(), "Content-Type: application/json\r\n") +
                  body.substr(0, 20000));
        auto r = over.read_response();
        CHECK(test::status_of(r) == 503);
        CHECK(test::body_of(r) == R"({"detail":"Server busy: too many request bodies in memory"})");
    }
    for (auto& c : clients) {
        c->send(body.substr(body.size() - 1));
        CHECK(test::status_of(c->read_response()) == 200);
    }
    // Answered bodies are given back: a new one fits again.
    test::RawClient again(server.port());
    again.send(body_limits::post_head("/items/", body.size(), "Content-Type: application/json\r\n") + body);
    CHECK(test::status_of(again.read_response()) == 200);
}

TEST_CASE("a buffer grown for a body stays counted while pipelined requests keep it, until the connection is idle") {
    App app;
    body_limits::add_routes(app);
    ServerOptions so;
    so.limits.max_buffered_body_bytes = 100 * 1024;
    test::LiveServer server(app, so);
    // A chunked body has no length to grow the buffer to: it doubles, to 64 KiB for this one,
    // and the next request's first bytes, sent with it, land in the same buffer.
    std::string body = R"({"name":"x","price":1,"description":")" + std::string(60000 - 39, 'd') + "\"}";
    REQUIRE(body.size() == 60000);
    const std::string post = "POST /items/ HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                             "Transfer-Encoding: chunked\r\n\r\nEA60\r\n" + body + "\r\n0\r\n\r\n";
    test::RawClient first(server.port());
    first.send(post + "GET /only-get HTTP/1.1\r\n");  // answered, then the next request's first line
    CHECK(test::status_of(first.read_response()) == 200);
    std::this_thread::sleep_for(100ms);
    {
        test::RawClient second(server.port());  // another 62 KiB would pass 100 KiB held by bodies
        second.send(post);
        auto r = second.read_response();
        CHECK(test::status_of(r) == 503);
        CHECK(r.find("too many request bodies in memory") != std::string::npos);
    }
    first.send("Host: t\r\n\r\n");
    CHECK(test::body_of(first.read_response()) == R"("got")");
    std::this_thread::sleep_for(100ms);  // idle now: its buffer is given back
    test::RawClient third(server.port());
    third.send(post);
    CHECK(test::status_of(third.read_response()) == 200);
}

TEST_CASE("TestClient: a multipart body too large for memory is spooled only for a route that reads a form") {
    body_limits::TempDir dir;
    AppOptions options;
    options.forms.temp_dir = dir.path.string();
    App app(options);
    body_limits::add_routes(app);
    Limits limits;
    limits.max_body_bytes = 1024;
    TestClient client(app, limits);
    const std::vector<TestUpload> files = {{"file", "a.bin", std::string(5000, 'z')}};
    CHECK(client.post_multipart("/upload/", {}, files).text == "5000");
    CHECK(client.post_multipart("/json/", {}, files).status_code == 413);
    CHECK(client.post_multipart("/nowhere", {}, files).status_code == 404);
    CHECK(dir.count() == 0);
}

TEST_CASE("a dependency that reads only the head and refuses the request answers before the body is read") {
    body_limits::TempDir dir;
    AppOptions options;
    options.forms.temp_dir = dir.path.string();
    App app(options);
    body_limits::add_secured_routes(app);
    app.add_middleware(CORSMiddleware({.allow_origins = {"https://example.com"}}));  // reads only the head
    ServerOptions so;
    so.limits.max_body_bytes = 1024;
    test::LiveServer server(app, so);
    body_limits::token_checks = 0;
    {
        test::RawClient c(server.port());
        c.send(body_limits::post_head("/secured/", 1000, "X-Token: wrong\r\nOrigin: https://example.com\r\n"));
        auto r = c.read_response();
        CHECK(test::status_of(r) == 401);
        CHECK(test::body_of(r) == R"({"detail":"Invalid X-Token header"})");
        CHECK(r.find("access-control-allow-origin: https://example.com\r\n") != std::string::npos);
        CHECK(body_limits::token_checks == 1);
    }
    {
        // An upload without credentials: 401, no 100 Continue, nothing written to disk.
        test::RawClient c(server.port());
        c.send("POST /secured-upload/ HTTP/1.1\r\nHost: t\r\nContent-Type: multipart/form-data; boundary=B\r\n"
               "Expect: 100-continue\r\nContent-Length: 100000\r\n\r\n");
        auto r = c.read_response();
        CHECK(test::status_of(r) == 401);
        CHECK(r.find("www-authenticate: Bearer\r\n") != std::string::npos);
        CHECK(dir.count() == 0);
    }
    {
        // With credentials the body is read and the dependency still runs once.
        body_limits::token_checks = 0;
        test::RawClient c(server.port());
        const std::string body = R"({"name":"x","price":1})";
        c.send(body_limits::post_head("/secured/", body.size(), "X-Token: secret\r\nContent-Type: application/json\r\n"));
        std::this_thread::sleep_for(50ms);  // the head first, on its own
        c.send(body);
        auto r = c.read_response();
        CHECK(test::status_of(r) == 200);
        CHECK(test::body_of(r) == R"({"name":"x","description":null,"price":1.0,"tax":null,"tags":[]})");
        CHECK(body_limits::token_checks == 1);
    }
    {
        test::RawClient c(server.port());
        const std::string body = body_limits::file_part + std::string(3000, 'f') + "\r\n--B--\r\n";
        c.send("POST /secured-upload/ HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer tok\r\n"
               "Content-Type: multipart/form-data; boundary=B\r\nExpect: 100-continue\r\nContent-Length: " +
               std::to_string(body.size()) + "\r\n\r\n");
        CHECK(test::status_of(c.read_response()) == 100);
        c.send(body);
        CHECK(test::body_of(c.read_response()) == R"("tok:3000")");
    }
}

TEST_CASE("validation errors of a dependency wait for the body: FastAPI reports them with the body's") {
    App app;
    body_limits::add_secured_routes(app);
    test::LiveServer server(app);
    test::RawClient c(server.port(), 300ms);
    const std::string body = R"({"name":"x"})";  // no price
    c.send(body_limits::post_head("/secured/", body.size(), "Content-Type: application/json\r\n"));  // no X-Token
    CHECK(c.read_response().empty());  // nothing answered before the body
    c.send(body);
    auto r = c.read_response();
    CHECK(test::status_of(r) == 422);
    const std::string detail = test::body_of(r);
    CHECK(detail.find(R"("loc":["header","x-token"])") != std::string::npos);
    CHECK(detail.find(R"("loc":["body","price"])") != std::string::npos);
}

TEST_CASE("a middleware that may read the body keeps dependencies until the body is in") {
    App app;
    body_limits::add_secured_routes(app);
    static std::atomic<std::size_t> seen_body{0};
    app.add_middleware({.before = [](Request& req, Response&) {
        seen_body = req.body.size();
        return true;
    }});
    test::LiveServer server(app);
    test::RawClient c(server.port(), 300ms);
    const std::string body = R"({"name":"x","price":1})";
    c.send(body_limits::post_head("/secured/", body.size(), "X-Token: wrong\r\nContent-Type: application/json\r\n"));
    CHECK(c.read_response().empty());
    c.send(body);
    CHECK(test::status_of(c.read_response()) == 401);
    CHECK(seen_body == body.size());  // the middleware saw the body, as before
}
