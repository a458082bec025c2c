// Response caching on a real redis-server (test::RedisServer): the lock across processes
// (two servers, each its own app and RedisCache: one computation for a stampede; a dead
// holder's lock expires), stale_while_revalidate and stale_if_error on Redis, a lookup in one
// round trip, and the outage logged once (examples/cache, its stderr read, Redis killed and
// started again).
#include "support.hpp"

#include <algorithm>
#include <atomic>
#include <thread>

namespace cache_redis_lock_test {

using namespace std::chrono_literals;
using namespace fastapi;

std::atomic<int> computed{0};

asio::awaitable<json> slow_answer(std::int64_t n) {
    ++computed;
    asio::steady_timer t(co_await asio::this_coro::executor);
    t.expires_after(400ms);
    co_await t.async_wait(asio::use_awaitable);
    co_return json{{"n", n}};
}

void setup(App& app, const test::RedisServer& redis) {
    app.set_cache(RedisCache{{.url = redis.url()}});
    app.get("/locked/{n}", [](Path<"n", std::int64_t> n) -> asio::awaitable<json> { return slow_answer(*n); },
            {.cache = {.expire = 60s, .namespace_ = "lk", .lock = true}});
    app.get("/unlocked/{n}", [](Path<"n", std::int64_t> n) -> asio::awaitable<json> { return slow_answer(*n); },
            {.cache = {.expire = 60s, .namespace_ = "nl"}});
}

// Three concurrent requests to each server; the X-FastAPI-Cache values seen.
std::vector<std::string> stampede(unsigned short a, unsigned short b, const std::string& target) {
    std::vector<std::unique_ptr<test::RawClient>> clients;
    for (int i = 0; i < 6; ++i) {
        clients.push_back(std::make_unique<test::RawClient>(i % 2 ? b : a, 5000ms));
        clients.back()->send("GET " + target + " HTTP/1.1\r\nHost: t\r\n\r\n");
    }
    std::vector<std::string> how;
    for (auto& c : clients) {
        std::string r = c->read_response();
        CHECK(test::status_of(r) == 200);
        how.push_back(test::header_of(r, "x-fastapi-cache"));
    }
    return how;
}

TEST_CASE("cache on Redis: .lock = true, a stampede on two servers (two apps, two RedisCaches) runs the handler once") {
    test::RedisServer redis;
    App one, two;
    setup(one, redis);
    setup(two, redis);
    test::LiveServer a(one, {.threads = 1}), b(two, {.threads = 1});
    computed = 0;
    auto how = stampede(a.port(), b.port(), "/locked/1");
    CHECK(computed == 1);
    CHECK(std::count(how.begin(), how.end(), "MISS") == 1);
    CHECK(std::count(how.begin(), how.end(), "HIT") == 5);
    // Without the lock each process's single flight is its own: one computation per server.
    computed = 0;
    stampede(a.port(), b.port(), "/unlocked/1");
    CHECK(computed == 2);
    // The lock is released once the entry is stored.
    RedisOptions o = redis.options();
    o.own_thread = true;
    Redis check(o);
    CHECK(check.blocking().command<std::int64_t>("EXISTS", "fastapi-cache:l:0:lk|GET /locked/1") == 0);
}

TEST_CASE("cache on Redis: a lock whose holder died expires, then a waiting miss computes") {
    test::RedisServer redis;
    App app;
    setup(app, redis);
    test::LiveServer server(app, {.threads = 1});
    RedisOptions o = redis.options();
    o.own_thread = true;
    Redis r(o);
    // A holder that took the lock and died: nobody will store the entry or release the lock.
    CHECK(r.blocking().set("fastapi-cache:l:0:lk|GET /locked/2", "dead-holder", {.px = 600ms, .nx = true}));
    computed = 0;
    auto start = std::chrono::steady_clock::now();
    std::string got = test::get_from(server.port(), "/locked/2");
    auto took = std::chrono::steady_clock::now() - start;
    CHECK(test::status_of(got) == 200);
    CHECK(test::header_of(got, "x-fastapi-cache") == "MISS");
    CHECK(test::body_of(got) == R"({"n":2})");
    CHECK(computed == 1);
    CHECK(took >= 500ms);  // it waited for the lock's expiry (600 ms, polled), not computed at once
    CHECK(took < 4s);
}

std::atomic<int> version{0};
std::atomic<bool> failing{false};

TEST_CASE("cache on Redis: stale_while_revalidate and stale_if_error") {
    test::RedisServer redis;
    App app;
    app.set_cache(RedisCache{{.url = redis.url()}});
    app.get("/swr", [] { return json{{"v", ++version}}; }, {.cache = {.expire = 1s, .stale_while_revalidate = 30s}});
    app.get("/sie", []() -> json {
        if (failing) throw HTTPException(503, "down");
        return json{{"v", ++version}};
    }, {.cache = {.expire = 1s, .stale_if_error = 30s}});
    test::LiveServer server(app, {.threads = 1});
    version = 0;
    failing = false;
    CHECK(test::header_of(test::get_from(server.port(), "/swr"), "x-fastapi-cache") == "MISS");
    CHECK(test::header_of(test::get_from(server.port(), "/sie"), "x-fastapi-cache") == "MISS");
    std::this_thread::sleep_for(1100ms);
    std::string stale = test::get_from(server.port(), "/swr");
    CHECK(test::header_of(stale, "x-fastapi-cache") == "STALE");
    CHECK(test::body_of(stale) == R"({"v":1})");
    CHECK(test::header_of(stale, "cache-control") == "max-age=0, stale-while-revalidate=30");
    CHECK(test::header_of(stale, "age") == "1");
    bool renewed = test::eventually_true([&] {
        std::string r = test::get_from(server.port(), "/swr");
        return test::header_of(r, "x-fastapi-cache") == "HIT" && test::body_of(r) == R"({"v":3})";
    });
    CHECK(renewed);  // recomputed once in the background (v 2 went to /sie)
    failing = true;
    std::string saved = test::get_from(server.port(), "/sie");
    CHECK(test::status_of(saved) == 200);
    CHECK(test::header_of(saved, "x-fastapi-cache") == "STALE");
    CHECK(test::body_of(saved) == R"({"v":2})");
    CHECK(test::header_of(saved, "cache-control") == "max-age=0, stale-if-error=30");
    failing = false;
}

TEST_CASE("cache on Redis: a lookup (namespace and tag versions, then the entry) is one command, one round trip") {
    test::RedisServer redis;
    App app;
    app.set_cache(RedisCache{{.url = redis.url()}});
    app.get("/tagged", [] { return json{{"ok", true}}; }, {.cache = {.expire = 60s, .namespace_ = "t", .tags = {"a", "b"}}});
    test::LiveServer server(app, {.threads = 1});
    RedisOptions o = redis.options();
    o.own_thread = true;
    Redis r(o);
    CHECK(test::header_of(test::get_from(server.port(), "/tagged"), "x-fastapi-cache") == "MISS");
    r.blocking().command("CONFIG", "RESETSTAT");
    CHECK(test::header_of(test::get_from(server.port(), "/tagged"), "x-fastapi-cache") == "HIT");
    std::string stats = r.blocking().command<std::string>("INFO", "commandstats");
    INFO(stats);
    // One EVALSHA from the app (the script loaded on the miss), reading three versions and the entry
    // inside it; the INFO itself is the only other command.
    CHECK(stats.find("cmdstat_evalsha:calls=1,") != std::string::npos);
    CHECK(stats.find("cmdstat_get:calls=4,") != std::string::npos);
    CHECK(stats.find("cmdstat_eval:") == std::string::npos);
}

std::size_t count_of(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
    return n;
}

TEST_CASE("examples/cache on Redis: an outage is logged once however many requests it spans, its end once") {
    test::RedisServer redis;
    unsigned short port = test::free_port();
    test::Process p(test::example_path("cache"),
                    {{}, {"REDIS_URL=" + redis.url(), "HOST=127.0.0.1", "PORT=" + std::to_string(port)}});
    REQUIRE(test::wait_for_port(port));
    CHECK(test::header_of(test::get_from(port, "/compute/5"), "x-fastapi-cache") == "MISS");
    CHECK(test::header_of(test::get_from(port, "/compute/5"), "x-fastapi-cache") == "HIT");
    redis.kill();
    for (int i = 0; i < 8; ++i) CHECK(test::status_of(test::get_from(port, "/compute/" + std::to_string(i))) == 200);
    CHECK(p.log_has("cache backend unavailable"));
    redis.start();
    bool back = test::eventually_true([&] {
        test::get_from(port, "/compute/9");
        return test::header_of(test::get_from(port, "/compute/9"), "x-fastapi-cache") == "HIT";
    }, 10000ms);
    CHECK(back);
    CHECK(p.log_has("cache backend available again"));
    for (int i = 0; i < 3; ++i) test::get_from(port, "/compute/9");
    std::string log = p.log();
    INFO(log);
    CHECK(count_of(log, "cache backend unavailable") == 1);
    CHECK(count_of(log, "cache backend available again") == 1);
}

}  // namespace cache_redis_lock_test
