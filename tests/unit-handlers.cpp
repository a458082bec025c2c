// Handlers: plain functions, lambdas, coroutines, and blocking handlers on the pool.
#include <doctest/doctest.h>

#include "fastapi.hpp"

#include <atomic>
#include <thread>

using namespace fastapi;

namespace {
PlainTextResponse free_function() { return PlainTextResponse("free"); }
struct Functor {
    std::string greeting;
    PlainTextResponse operator()(const Request& r) const { return PlainTextResponse(greeting + " " + r.method); }
};
}  // namespace

TEST_CASE("handlers can be free functions, lambdas with captures, and function objects") {
    App app;
    int calls = 0;
    app.get("/free", free_function);
    app.get("/lambda", [&calls] { return PlainTextResponse("call " + std::to_string(++calls)); });
    app.get("/functor", Functor{"hello"});
    TestClient client(app);
    CHECK(client.get("/free").text == "free");
    CHECK(client.get("/lambda").text == "call 1");
    CHECK(client.get("/lambda").text == "call 2");
    CHECK(client.get("/functor").text == "hello GET");
}

TEST_CASE("a coroutine handler can await and its result is the response") {
    App app;
    app.get("/slow", []() -> asio::awaitable<PlainTextResponse> {
        asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::milliseconds(10));
        co_await timer.async_wait(asio::use_awaitable);
        co_return PlainTextResponse("waited");
    });
    app.get("/throws", []() -> asio::awaitable<PlainTextResponse> {
        co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
        throw HTTPException(403, "Not yours");
    });
    app.get("/void", []() -> asio::awaitable<void> { co_return; });
    TestClient client(app);
    CHECK(client.get("/slow").text == "waited");
    auto r = client.get("/throws");
    CHECK(r.status_code == 403);
    CHECK(r.text == R"({"detail":"Not yours"})");
    CHECK(client.get("/void").text == "null");
}

TEST_CASE("a blocking handler is declared per route; coroutines cannot be blocking") {
    App app;
    app.get("/blocking", [] { return PlainTextResponse("done"); }, {.blocking = true});
    CHECK_THROWS_AS(app.get("/bad", []() -> asio::awaitable<void> { co_return; }, {.blocking = true}),
                    std::invalid_argument);
    TestClient client(app);
    CHECK(client.get("/blocking").text == "done");
}
