// Every example program, run as a user would run it: built by the project's CMake, started
// with HOST and PORT, asked over a real socket, and stopped with SIGTERM (exit status 0).
#include "support.hpp"

#include <filesystem>

using namespace std::chrono_literals;
using test::body_of;
using test::Child;
using test::RawClient;
using test::status_of;

namespace {
std::string example(const char* name) {
    std::string path = FASTAPI_EXAMPLES_DIR;
    path += '/';
    path += name;
    return path;
}

struct RunningExample {
    unsigned short port = test::free_port();
    Child child;
    explicit RunningExample(const char* name)
        : child(example(name), {{"HOST", "127.0.0.1"}, {"PORT", std::to_string(port)}}) {
        REQUIRE(test::wait_for_port(port));
    }
    std::string ask(const std::string& request) {
        RawClient c(port);
        c.send(request);
        return c.read_response();
    }
};
}  // namespace

TEST_CASE("examples/hello serves its three routes and stops cleanly on SIGTERM") {
    RunningExample app("hello");
    auto root = app.ask("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(status_of(root) == 200);
    CHECK(body_of(root) == R"({"message":"Hello World"})");
    CHECK(root.find("content-type: application/json") != std::string::npos);
    auto text = app.ask("GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(body_of(text) == "Hello, World!");
    CHECK(text.find("content-type: text/plain; charset=utf-8") != std::string::npos);
    CHECK(body_of(app.ask("GET /json HTTP/1.1\r\nHost: x\r\n\r\n")) == R"({"message":"Hello, World!"})");
    CHECK(app.child.terminate() == 0);
}

TEST_CASE("examples/echo answers GET, HEAD and POST on /echo with the body and its length") {
    RunningExample app("echo");
    auto post = app.ask("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
    CHECK(status_of(post) == 200);
    CHECK(body_of(post) == "hello");
    CHECK(post.find("x-body-length: 5") != std::string::npos);
    auto get = app.ask("GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(status_of(get) == 200);
    CHECK(get.find("x-body-length: 0") != std::string::npos);
    RawClient head(app.port);
    head.send("HEAD /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc");
    auto h = head.read_until([](const std::string& b) { return b.find("\r\n\r\n") != std::string::npos; });
    CHECK(status_of(h) == 200);
    CHECK(h.find("x-body-length: 3") != std::string::npos);
    CHECK(body_of(h).empty());
    CHECK(body_of(app.ask("GET / HTTP/1.1\r\nHost: x\r\n\r\n")) == "ok");
    CHECK(app.child.terminate() == 0);
}

TEST_CASE("examples/embed serves its API from the program's own loop, next to its timer") {
    RunningExample app("embed");
    std::this_thread::sleep_for(350ms);
    auto r = app.ask("GET /status HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(status_of(r) == 200);
    auto status = picojson::value();
    REQUIRE(picojson::parse(status, body_of(r)).empty());
    CHECK(status.get("ticks").get<int64_t>() >= 2);  // the timer kept ticking
    CHECK(status.get("state").get<std::string>() == "running");
    CHECK(app.child.terminate() == 0);
}

TEST_CASE("a server exits 0 on SIGTERM even with a request in flight, after answering it") {
    RunningExample app("hello");
    RawClient idle(app.port);
    idle.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(status_of(idle.read_response()) == 200);
    CHECK(app.child.terminate() == 0);
    CHECK(idle.closed_by_peer());
}
