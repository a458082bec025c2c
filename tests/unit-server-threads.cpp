// The server on several threads at once: concurrent clients on an owned server with four
// loops, and on an embedded io_context run by three threads (connections on strands), with
// plain, coroutine and blocking handlers and background tasks. Under ThreadSanitizer
// (tools/test --sanitize) these are the tests that find data races in the server.
#include "support.hpp"

#include <atomic>

using namespace fastapi;
using namespace std::chrono_literals;
using test::body_of;
using test::RawClient;
using test::status_of;

namespace threads_test {

// Every kind of handler, each counting its calls.
struct Counters {
    std::atomic<int> plain{0}, coroutine{0}, blocking{0}, background{0};
};

void install(App& app, Counters& n) {
    app.get("/plain/{i}", [&n](Path<"i", int> i) {
        ++n.plain;
        return PlainTextResponse("plain " + std::to_string(i.value));
    });
    app.get("/co/{i}", [&n](Path<"i", int> i) -> asio::awaitable<PlainTextResponse> {
        asio::steady_timer t(co_await asio::this_coro::executor, 1ms);
        co_await t.async_wait(asio::use_awaitable);
        ++n.coroutine;
        co_return PlainTextResponse("co " + std::to_string(i.value));
    });
    app.get("/block/{i}", [&n](Path<"i", int> i) {
        ++n.blocking;
        return PlainTextResponse("block " + std::to_string(i.value));
    }, {.blocking = true});
    app.post("/task", [&n](BackgroundTasks& tasks, const Request& r) {
        tasks.add_task([&n] { ++n.background; });
        return PlainTextResponse(std::to_string(r.body.size()));
    });
}

// `clients` threads, each on its own keep-alive connection, `rounds` times through every
// kind of route; returns how many answers were right.
int drive(unsigned short port, int clients, int rounds) {
    std::atomic<int> right{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < clients; ++t)
        threads.emplace_back([&, t] {
            RawClient c(port, 5000ms);
            for (int i = 0; i < rounds; ++i) {
                const std::string n = std::to_string(t * 1000 + i);
                c.send("GET /plain/" + n + " HTTP/1.1\r\nHost: t\r\n\r\n");
                if (body_of(c.read_response()) == "plain " + n) ++right;
                c.send("GET /co/" + n + " HTTP/1.1\r\nHost: t\r\n\r\n");
                if (body_of(c.read_response()) == "co " + n) ++right;
                c.send("GET /block/" + n + " HTTP/1.1\r\nHost: t\r\n\r\n");
                if (body_of(c.read_response()) == "block " + n) ++right;
                c.send("POST /task HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(n.size()) + "\r\n\r\n" + n);
                if (body_of(c.read_response()) == std::to_string(n.size())) ++right;
            }
            // A new connection per round trip as well: accepting races with serving.
            for (int i = 0; i < 5; ++i) {
                RawClient once(port, 5000ms);
                once.send("GET /plain/1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
                if (body_of(once.read_response()) == "plain 1") ++right;
            }
        });
    for (auto& th : threads) th.join();
    return right;
}

}  // namespace threads_test

using namespace threads_test;

TEST_CASE("an owned server with four loops answers eight concurrent clients correctly") {
    App app;
    Counters n;
    install(app, n);
    ServerOptions options;
    options.threads = 4;
    options.blocking_threads = 3;
    test::LiveServer server(app, options);
    constexpr int clients = 8, rounds = 25;
    CHECK(drive(server.port(), clients, rounds) == clients * (rounds * 4 + 5));
    server.stop();  // waits for the background tasks
    CHECK(n.plain == clients * (rounds + 5));
    CHECK(n.coroutine == clients * rounds);
    CHECK(n.blocking == clients * rounds);
    CHECK(n.background == clients * rounds);
}

TEST_CASE("an embedded server on an io_context run by three threads answers concurrent clients correctly") {
    asio::io_context io;
    App app;
    Counters n;
    install(app, n);
    ServerOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.keep_alive_timeout = 2s;
    Server server(io, app, options);
    server.start();
    std::vector<std::thread> loops;
    for (int i = 0; i < 3; ++i) loops.emplace_back([&] { io.run(); });
    constexpr int clients = 6, rounds = 20;
    // For more than a second, so the sweep (every 250 ms) ticks the coarse clock while
    // connections on other threads read it.
    int passes = 0;
    const auto start = std::chrono::steady_clock::now();
    while (passes < 10 && (passes == 0 || std::chrono::steady_clock::now() - start < 1200ms)) {
        CHECK(drive(server.port(), clients, rounds) == clients * (rounds * 4 + 5));
        ++passes;
    }
    server.stop();
    for (auto& t : loops) t.join();  // run() returns once the server's work is done
    CHECK(n.background == passes * clients * rounds);
    CHECK(n.coroutine == passes * clients * rounds);
}

TEST_CASE("a loop's coarse clock may be ticked on one thread while connections read it on others") {
    // The embedded mode runs one loop's connections on several threads while its sweep ticks
    // the clock: under ThreadSanitizer a plain time_point here is a reported data race.
    asio::io_context io;
    detail::Worker w(io);
    std::atomic<bool> done{false};
    std::thread ticker([&] {
        for (int i = 0; i < 20000 && !done; ++i) w.tick();
    });
    auto last = w.now();
    bool monotonic = true;
    for (int i = 0; i < 20000; ++i) {
        auto t = w.now();
        if (t < last) monotonic = false;
        last = t;
    }
    done = true;
    ticker.join();
    CHECK(monotonic);
    CHECK(w.now() <= std::chrono::steady_clock::now());
}
