// Coroutine middleware in Starlette's shape (request, call_next): awaiting before and after,
// answering without the handler, editing the response, ordering with before/after halves,
// exceptions, 404s, and the same through a real server.
#include "support.hpp"

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace fastapi;
using namespace std::chrono_literals;

namespace async_middleware_test {

asio::awaitable<void> sleep_ms(int ms) {
    asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(ms));
    co_await t.async_wait(asio::use_awaitable);
}

struct Log {
    std::mutex mutex;
    std::vector<std::string> lines;
    void add(std::string s) {
        std::lock_guard lock(mutex);
        lines.push_back(std::move(s));
    }
    std::vector<std::string> take() {
        std::lock_guard lock(mutex);
        return std::exchange(lines, {});
    }
};

Middleware halves(Log& log, std::string name) {
    return {.before = [&log, name](Request&, Response&) {
                log.add(name + " before");
                return true;
            },
            .after = [&log, name](const Request&, Response& res) {
                log.add(name + " after");
                res.headers.add("x-trace", name);
            }};
}

// A cache in front of the handler: answers from memory without calling it.
struct Cache {
    std::mutex mutex;
    std::map<std::string, std::string> bodies;
};

void install_cache(App& app, Cache& cache) {
    app.middleware([&cache](Request& req, CallNext call_next) -> asio::awaitable<Response> {
        co_await sleep_ms(1);  // the lookup, as a Redis GET would be
        {
            std::lock_guard lock(cache.mutex);
            if (auto it = cache.bodies.find(req.path); it != cache.bodies.end()) {
                Response hit;
                hit.body = it->second;
                hit.headers.set("content-type", "application/json");
                hit.headers.set("x-cache", "hit");
                co_return hit;
            }
        }
        Response res = co_await call_next(req);
        co_await sleep_ms(1);  // the store
        if (res.status == 200) {
            std::lock_guard lock(cache.mutex);
            cache.bodies[req.path] = res.body;
        }
        res.headers.set("x-cache", "miss");
        co_return res;
    });
}


TEST_CASE("a coroutine middleware answers from its cache without calling the handler") {
    App app;
    std::atomic<int> calls{0};
    app.get("/items/{id}", [&](Path<"id", int64_t> id) {
        ++calls;
        return *id * 2;
    });
    Cache cache;
    install_cache(app, cache);
    TestClient client(app);
    auto r = client.get("/items/21");
    CHECK(r.text == "42");
    CHECK(r.header("x-cache") == "miss");
    r = client.get("/items/21");
    CHECK(r.text == "42");
    CHECK(r.header("x-cache") == "hit");
    CHECK(calls == 1);
    CHECK(client.get("/nowhere").header("x-cache") == "miss");  // a 404 passes through it too
    CHECK(client.get("/nowhere").status_code == 404);
}

TEST_CASE("a coroutine middleware edits the response after call_next, around every kind of handler") {
    App app;
    app.get("/plain", [] { return 1; });
    app.get("/co", []() -> asio::awaitable<int> {
        co_await sleep_ms(1);
        co_return 2;
    });
    app.get("/blocking", [] { return 3; }, {.blocking = true});
    app.get("/fail", []() -> int { throw HTTPException(418, "teapot"); });
    app.middleware([](Request& req, CallNext call_next) -> asio::awaitable<Response> {
        co_await sleep_ms(1);
        Response res = co_await call_next(req);
        res.headers.set("x-status-seen", std::to_string(res.status));
        co_return res;
    });
    TestClient client(app);
    CHECK(client.get("/plain").text == "1");
    CHECK(client.get("/plain").header("x-status-seen") == "200");
    CHECK(client.get("/co").text == "2");
    CHECK(client.get("/blocking").text == "3");
    auto fail = client.get("/fail");
    CHECK(fail.status_code == 418);
    CHECK(fail.header("x-status-seen") == "418");  // errors are responses by the time it sees them
    CHECK(client.get("/nowhere").header("x-status-seen") == "404");
}

TEST_CASE("coroutine middleware and before/after halves keep Starlette's order") {
    App app;
    Log log;
    app.get("/", [&] {
        log.add("handler");
        return 1;
    });
    app.add_middleware(halves(log, "inner"));
    app.middleware([&log](Request& req, CallNext call_next) -> asio::awaitable<Response> {
        log.add("coro before");
        co_await sleep_ms(1);
        Response res = co_await call_next(req);
        log.add("coro after");
        res.headers.add("x-trace", "coro");
        co_return res;
    });
    app.add_middleware(halves(log, "outer"));
    TestClient client(app);
    auto r = client.get("/");
    CHECK(log.take() == std::vector<std::string>{"outer before", "coro before", "inner before", "handler",
                                                 "inner after", "coro after", "outer after"});
    CHECK(r.headers.get_all("x-trace") == std::vector<std::string_view>{"inner", "coro", "outer"});
}

TEST_CASE("an early answer inside a coroutine middleware is seen by it; one outside it skips it") {
    App app;
    Log log;
    app.get("/", [&] {
        log.add("handler");
        return 1;
    });
    app.add_middleware({.before = [](Request& req, Response& res) {
        if (!req.headers.contains("x-inner-block")) return true;
        res.status = 403;
        res.body = "inner";
        return false;
    }});
    app.middleware([&log](Request& req, CallNext call_next) -> asio::awaitable<Response> {
        Response res = co_await call_next(req);
        log.add("coro saw " + std::to_string(res.status));
        co_return res;
    });
    app.add_middleware({.before = [](Request& req, Response& res) {
        if (!req.headers.contains("x-outer-block")) return true;
        res.status = 401;
        res.body = "outer";
        return false;
    }});
    TestClient client(app);
    auto r = client.get("/", test::hdrs({{"x-inner-block", "1"}}));
    CHECK(r.status_code == 403);
    CHECK(log.take() == std::vector<std::string>{"coro saw 403"});
    r = client.get("/", test::hdrs({{"x-outer-block", "1"}}));
    CHECK(r.status_code == 401);
    CHECK(r.text == "outer");
    CHECK(log.take().empty());
}

TEST_CASE("an exception in a coroutine middleware is a 500, or the app's exception handler's answer") {
    struct Quota : std::runtime_error {
        using std::runtime_error::runtime_error;
    };
    App app;
    app.get("/", [] { return 1; });
    app.add_middleware({.after = [](const Request&, Response& res) { res.headers.set("x-outer", "seen"); }});
    app.middleware([](Request& req, CallNext call_next) -> asio::awaitable<Response> {
        co_await sleep_ms(1);
        if (req.headers.contains("x-before")) throw std::runtime_error("before");
        Response res = co_await call_next(req);
        if (req.headers.contains("x-http")) throw HTTPException(429, "slow down");
        if (req.headers.contains("x-quota")) throw Quota("quota");
        co_return res;
    });
    app.add_middleware({.after = [](const Request&, Response& res) { res.headers.set("x-outermost", "seen"); }});
    app.exception_handler<Quota>([](Request&, const Quota&) {
        Response r;
        r.status = 402;
        r.body = "pay";
        return r;
    });
    TestClient client(app);
    auto r = client.get("/", test::hdrs({{"x-before", "1"}}));
    CHECK(r.status_code == 500);
    CHECK(r.text == R"({"detail":"Internal Server Error"})");
    CHECK(r.header("x-outermost") == "seen");
    CHECK(!r.header("x-outer"));  // inside the failing middleware: never reached
    r = client.get("/", test::hdrs({{"x-http", "1"}}));
    CHECK(r.status_code == 429);
    CHECK(r.text == R"({"detail":"slow down"})");
    CHECK(client.get("/", test::hdrs({{"x-quota", "1"}})).status_code == 402);
    CHECK(client.get("/").text == "1");
}

TEST_CASE("coroutine middleware through a real server: a cache hit, a miss, a 404, keep-alive") {
    App app;
    std::atomic<int> calls{0};
    app.get("/items/{id}", [&](Path<"id", int64_t> id) {
        ++calls;
        return *id + 1;
    });
    app.post("/echo", [](test::Item item) { return *item.name; });
    Cache cache;
    install_cache(app, cache);
    test::LiveServer server(app);
    test::RawClient c(server.port());
    for (int i = 0; i < 3; ++i) {
        c.send("GET /items/1 HTTP/1.1\r\nHost: t\r\n\r\n");
        auto resp = c.read_response();
        CHECK(test::status_of(resp) == 200);
        CHECK(test::body_of(resp) == "2");
        CHECK(resp.find(i == 0 ? "x-cache: miss" : "x-cache: hit") != std::string::npos);
    }
    CHECK(calls == 1);
    c.send("GET /none HTTP/1.1\r\nHost: t\r\n\r\n");
    CHECK(test::status_of(c.read_response()) == 404);
    const std::string body = R"({"name":"n","price":1})";
    c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body);
    auto resp = c.read_response();
    CHECK(test::status_of(resp) == 200);
    CHECK(test::body_of(resp) == R"("n")");
}

// A connection runs its coroutine requests in one coroutine, parked between them: requests that
// await nothing finish at once, those that wait finish later, in order, pipelined or not; a
// client that leaves cancels what its request awaits; a new connection and a stop still work.
TEST_CASE("coroutine requests on a connection: awaiting nothing, awaiting a timer, pipelined, a client that leaves") {
    App app;
    std::atomic<int> seen{0};
    std::atomic<bool> slow_started{false}, slow_cancelled{false};
    app.get("/n/{id}", [](Path<"id", int64_t> id) { return *id; });
    app.get("/slow", [&]() -> asio::awaitable<int> {
        slow_started = true;
        asio::steady_timer t(co_await asio::this_coro::executor, 10s);
        asio::error_code ec;
        co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (ec == asio::error::operation_aborted) slow_cancelled = true;
        co_return 0;
    });
    app.middleware([&](Request& req, CallNext call_next) -> asio::awaitable<Response> {
        const int n = ++seen;
        if (req.headers.contains("x-wait")) co_await sleep_ms(5);
        Response res = co_await call_next(req);
        res.headers.set("x-seen", std::to_string(n));
        co_return res;
    });
    test::LiveServer server(app, {.threads = 1});
    {
        test::RawClient c(server.port());
        const char* waits[] = {"", "x-wait: 1\r\n", "", "", "x-wait: 1\r\n", "x-wait: 1\r\n", ""};
        int id = 0;
        for (const char* w : waits) {
            c.send("GET /n/" + std::to_string(++id) + " HTTP/1.1\r\nHost: t\r\n" + w + "\r\n");
            auto resp = c.read_response();
            CHECK(test::status_of(resp) == 200);
            CHECK(test::body_of(resp) == std::to_string(id));
            CHECK(resp.find("x-seen: " + std::to_string(id)) != std::string::npos);
        }
        // Pipelined, waiting and not: answered in order.
        std::string batch;
        for (int i = 0; i < 6; ++i)
            batch += "GET /n/" + std::to_string(100 + i) + " HTTP/1.1\r\nHost: t\r\n" + (i % 2 ? "x-wait: 1\r\n" : "") + "\r\n";
        c.send(batch);
        for (int i = 0; i < 6; ++i) {
            auto resp = c.read_response();
            CHECK(test::status_of(resp) == 200);
            CHECK(test::body_of(resp) == std::to_string(100 + i));
        }
    }
    {
        // The client leaves while its request awaits: the timer is cancelled.
        auto c = std::make_unique<test::RawClient>(server.port());
        c->send("GET /n/1 HTTP/1.1\r\nHost: t\r\n\r\n");
        CHECK(test::status_of(c->read_response()) == 200);
        c->send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
        for (int i = 0; i < 300 && !slow_started; ++i) std::this_thread::sleep_for(10ms);
        CHECK(slow_started);
        c.reset();
        for (int i = 0; i < 300 && !slow_cancelled; ++i) std::this_thread::sleep_for(10ms);
        CHECK(slow_cancelled);
    }
    test::RawClient idle(server.port());  // parked between requests when the server stops
    idle.send("GET /n/7 HTTP/1.1\r\nHost: t\r\n\r\n");
    auto resp = idle.read_response();
    CHECK(test::body_of(resp) == "7");
    const auto start = std::chrono::steady_clock::now();
    server.stop();
    CHECK(std::chrono::steady_clock::now() - start < 5s);
    CHECK(idle.closed_by_peer());
}

}  // namespace async_middleware_test
