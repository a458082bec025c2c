// Lifespan: startup hooks before the first request (server start, TestClient construction),
// shutdown hooks after a graceful stop (or when the last TestClient goes).
#include "support.hpp"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

using namespace fastapi;

TEST_CASE("a TestClient runs the startup hooks when made and the shutdown hooks when it goes") {
    App app;
    std::vector<std::string> log;
    app.on_startup([&] { log.push_back("startup"); });
    app.on_shutdown([&] { log.push_back("shutdown"); });
    app.get("/", [&] { log.push_back("request"); return 1; });
    {
        TestClient client(app);
        CHECK(log == std::vector<std::string>{"startup"});
        client.get("/");
        TestClient second(app);  // already started: nothing runs again
    }
    CHECK(log == std::vector<std::string>{"startup", "request", "shutdown"});
}

TEST_CASE("startup hooks can fill the application state the handlers read") {
    struct Models {
        std::vector<std::string> loaded;
    };
    App app;
    app.on_startup([&] { app.state<Models>().loaded.push_back("answer_to_everything"); });
    app.on_shutdown([&] { app.state<Models>().loaded.clear(); });
    app.get("/predict", [](State<Models> models) { return models->loaded; });
    {
        TestClient client(app);
        CHECK(client.get("/predict").text == R"(["answer_to_everything"])");
    }
    CHECK(app.state<Models>().loaded.empty());
}

TEST_CASE("a failing startup hook throws and nothing is served") {
    App app;
    app.on_startup([] { throw std::runtime_error("no database"); });
    CHECK_THROWS_AS(TestClient{app}, std::runtime_error);
}

TEST_CASE("a server runs startup before accepting and shutdown after its graceful stop") {
    App app;
    std::vector<std::string> log;
    app.on_startup([&] { log.push_back("startup"); });
    app.on_shutdown([&] { log.push_back("shutdown"); });
    app.get("/", [] { return 1; });
    {
        test::LiveServer server(app);
        CHECK(log == std::vector<std::string>{"startup"});
        test::RawClient c(server.port());
        c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        CHECK(test::status_of(c.read_response()) == 200);
        server.stop();
        CHECK(log == std::vector<std::string>{"startup", "shutdown"});
    }
}

namespace lifespan_test {
asio::awaitable<void> sleep_ms(int ms) {
    asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(ms));
    co_await t.async_wait(asio::use_awaitable);
}
struct Counter {
    int value = 0;
};
}  // namespace lifespan_test

TEST_CASE("lifespan hooks may be coroutines: run to completion before serving and after the stop") {
    using lifespan_test::sleep_ms;
    App app;
    std::vector<std::string> log;
    app.on_startup([&]() -> asio::awaitable<void> {
        co_await sleep_ms(2);
        log.push_back("connected");
    });
    app.on_shutdown([&]() -> asio::awaitable<void> {
        co_await sleep_ms(2);
        log.push_back("closed");
    });
    app.get("/", [&] { return log; });
    {
        TestClient client(app);
        CHECK(client.get("/").text == R"(["connected"])");
    }
    CHECK(log == std::vector<std::string>{"connected", "closed"});
    log.clear();
    {
        test::LiveServer server(app);
        CHECK(log == std::vector<std::string>{"connected"});
        test::RawClient c(server.port());
        c.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
        CHECK(test::body_of(c.read_response()) == R"(["connected"])");
        server.stop();
        CHECK(log == std::vector<std::string>{"connected", "closed"});
    }
}

TEST_CASE("a failing coroutine startup hook throws and nothing is served") {
    App app;
    app.on_startup([]() -> asio::awaitable<void> {
        co_await lifespan_test::sleep_ms(1);
        throw std::runtime_error("no database");
    });
    CHECK_THROWS_WITH_AS(TestClient{app}, "no database", std::runtime_error);
}

TEST_CASE("FastAPI's lifespan=: one coroutine, its body the startup, the cleanup it returns the shutdown") {
    App app;
    std::vector<std::string> log;
    app.on_shutdown([&] { log.push_back("other shutdown"); });
    app.lifespan([&]() -> asio::awaitable<Cleanup> {
        co_await lifespan_test::sleep_ms(1);
        log.push_back("startup");
        co_return Cleanup([&]() -> asio::awaitable<void> {
            co_await lifespan_test::sleep_ms(1);
            log.push_back("shutdown");
        });
    });
    {
        TestClient client(app);
        CHECK(log == std::vector<std::string>{"startup"});
    }
    CHECK(log == std::vector<std::string>{"startup", "shutdown", "other shutdown"});
}

TEST_CASE("LoopState: one value per loop thread, made on first use, by the factory when given") {
    App app;
    std::atomic<int> made{0};
    app.set_loop_state<lifespan_test::Counter>([&] {
        ++made;
        return lifespan_test::Counter{100};
    });
    app.get("/n", [](LoopState<lifespan_test::Counter> c) { return ++c->value; });
    app.get("/tid", [](LoopState<std::thread::id> id) {
        if (*id == std::thread::id{}) *id = std::this_thread::get_id();
        return *id == std::this_thread::get_id();
    });
    {
        TestClient client(app);  // the caller's thread is its loop
        CHECK(client.get("/n").text == "101");
        CHECK(client.get("/n").text == "102");
        CHECK(made == 1);
        CHECK(client.get("/tid").text == "true");
    }
    App other;  // another app has its own values on the same thread
    other.get("/n", [](LoopState<lifespan_test::Counter> c) { return ++c->value; });
    CHECK(TestClient(other).get("/n").text == "1");

    test::LiveServer server(app, {.threads = 2});
    for (int i = 0; i < 4; ++i) {  // new connections go round-robin to the two loops
        test::RawClient c(server.port());
        c.send("GET /tid HTTP/1.1\r\nHost: t\r\n\r\nGET /n HTTP/1.1\r\nHost: t\r\n\r\n");
        CHECK(test::body_of(c.read_response()) == "true");
        CHECK(std::stoi(test::body_of(c.read_response())) > 100);
    }
    CHECK(made == 3);  // the test thread's, and one per loop thread
}
