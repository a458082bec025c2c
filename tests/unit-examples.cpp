// Every example program, run as a user would run it: built by the project's CMake, started
// with HOST and PORT, asked over a real socket, and stopped with SIGTERM (exit status 0).
#include "support.hpp"

#include <filesystem>

using namespace std::chrono_literals;
using test::body_of;
using test::Child;
using test::RunningExample;
using test::RawClient;
using test::status_of;

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

TEST_CASE("examples/items answers like FastAPI's items tutorial") {
    RunningExample app("items");
    auto get = [&](const std::string& target) { return app.ask("GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n"); };
    auto send = [&](const std::string& method, const std::string& target, const std::string& json) {
        return app.ask(method + " " + target + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                       std::to_string(json.size()) + "\r\n\r\n" + json);
    };
    const std::string hammer = R"({"name":"Hammer","description":null,"price":12.5,"tax":null,"tags":["tools"]})";
    const std::string nails = R"({"name":"Nails","description":null,"price":0.25,"tax":null,"tags":[]})";

    CHECK(body_of(get("/items/1")) == R"({"item_id":1,"q":null,"item":)" + hammer + "}");
    CHECK(body_of(get("/items/2?q=x")) == R"({"item_id":2,"q":"x","item":)" + nails + "}");
    auto missing = get("/items/9");
    CHECK(status_of(missing) == 404);
    CHECK(body_of(missing) == R"({"detail":"Item not found"})");
    auto zero = get("/items/0?q=" + std::string(21, 'q'));
    CHECK(status_of(zero) == 422);
    CHECK(body_of(zero) ==
          R"({"detail":[{"type":"greater_than_equal","loc":["path","item_id"],"msg":"Input should be greater than or equal to 1","input":"0","ctx":{"ge":1}},)"
          R"({"type":"string_too_long","loc":["query","q"],"msg":"String should have at most 20 characters","input":")" +
              std::string(21, 'q') + R"(","ctx":{"max_length":20}}]})");

    CHECK(body_of(get("/items/")) == "{\"items\":[" + hammer + "," + nails + "],\"total\":2}");
    CHECK(body_of(get("/items/?skip=1&limit=1")) == "{\"items\":[" + nails + "],\"total\":2}");
    CHECK(body_of(get("/items/?tag=tools")) == "{\"items\":[" + hammer + "],\"total\":1}");
    CHECK(status_of(get("/items/?limit=0")) == 422);

    auto created = send("POST", "/items/", R"({"name":"Saw","price":20})");
    CHECK(status_of(created) == 201);
    CHECK(body_of(created) == R"({"name":"Saw","description":null,"price":20.0,"tax":null,"tags":[]})");
    CHECK(status_of(get("/items/3")) == 200);
    auto invalid = send("POST", "/items/", R"({"name":"","price":0})");
    CHECK(status_of(invalid) == 422);

    auto updated = send("PUT", "/items/5", R"({"item":{"name":"Foo","price":1.5},"importance":2})");
    CHECK(body_of(updated) == R"({"item_id":5,"item":{"name":"Foo","description":null,"price":1.5,"tax":null,"tags":[]},"importance":2})");

    CHECK(body_of(get("/users/3/items/foo?needy=yes")) ==
          R"({"item_id":"foo","owner_id":3,"needy":"yes","description":"This is an amazing item that has a long description"})");
    CHECK(body_of(get("/users/3/items/foo?needy=yes&short=true")) == R"({"item_id":"foo","owner_id":3,"needy":"yes"})");
    CHECK(body_of(get("/users/3/items/foo")) ==
          R"({"detail":[{"type":"missing","loc":["query","needy"],"msg":"Field required","input":null}]})");
    CHECK(app.child.terminate() == 0);
}
