// Response caching with the memory backend, through the TestClient (the one request
// lifecycle): HIT/MISS, the key, the whole response, ETag and If-None-Match, Cache-Control
// both ways, methods, errors, namespaces and tags, routers, get_or_set, the LRU bound.
#include "support.hpp"

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

namespace cache_test {

using namespace std::chrono_literals;
using namespace fastapi;

std::atomic<int> calls{0};
int next_object() { return ++calls + 1000; }  // a dependency whose value changes every call

void setup(App& app) {
    app.set_cache(MemoryCache{});
    app.get("/sq/{n}", [](Path<"n", std::int64_t> n, Query<"q", std::optional<std::string>>, Depends<next_object> dep) {
        ++calls;
        return json{{"n", *n}, {"sq", *n * *n}, {"dep", *dep > 0}};
    }, {.cache = {.expire = 60s, .namespace_ = "sq"}});
    app.get("/lang", [](Header<"x-lang", std::string> lang) {
        ++calls;
        return json{{"lang", *lang}};
    }, {.cache = {.expire = 60s, .namespace_ = "lang"}});
    app.get("/made", [] {
        ++calls;
        Response r("made", 201, "text/plain");
        r.set_header("x-extra", "kept");
        return r;
    }, {.cache = {.expire = 60s, .namespace_ = "made", .tags = {"t"}}});
    app.get("/missing", []() -> json {
        ++calls;
        throw HTTPException(404, "no");
    }, {.cache = {.expire = 60s}});
    app.post("/post", [] { return json{{"c", ++calls}}; }, {.cache = {.expire = 60s}});
    app.post("/post-cached", [] { return json{{"c", ++calls}}; }, {.cache = {.expire = 60s, .methods = {"POST"}}});
}

TEST_CASE("cache: a MISS then a HIT with the same body and ETag, max-age and Age; the handler runs once") {
    App app;
    setup(app);
    TestClient client(app);
    calls = 0;
    auto a = client.get("/sq/7");
    CHECK(a.status_code == 200);
    CHECK(a.header("x-fastapi-cache") == "MISS");
    CHECK(a.header("cache-control") == "max-age=60");
    auto etag = std::string(a.header("etag").value_or(""));
    CHECK(etag.size() == 34);
    CHECK(etag.front() == '"');
    CHECK(etag.back() == '"');
    int after_first = calls;
    auto b = client.get("/sq/7");
    CHECK(b.header("x-fastapi-cache") == "HIT");
    CHECK(b.text == a.text);
    CHECK(b.header("etag") == etag);
    CHECK(b.header("age") == "0");
    CHECK(b.header("cache-control") == "max-age=60");
    CHECK(calls == after_first);  // neither the handler nor its dependency ran
    // The ETag is a function of the body only: the same in every process (fastapi-cache #400).
    CHECK(etag == detail::cache_etag(a.text));
}

TEST_CASE("cache: the key is the query in a canonical order, never a dependency's value") {
    App app;
    setup(app);
    TestClient client(app);
    CHECK(client.get("/sq/3?q=x&z=1").header("x-fastapi-cache") == "MISS");
    CHECK(client.get("/sq/3?z=1&q=x").header("x-fastapi-cache") == "HIT");
    CHECK(client.get("/sq/3?q=y&z=1").header("x-fastapi-cache") == "MISS");
    CHECK(client.get("/sq/4?q=x&z=1").header("x-fastapi-cache") == "MISS");
}

TEST_CASE("cache: a declared header is in the key and in Vary") {
    App app;
    setup(app);
    TestClient client(app);
    auto en = client.get("/lang", {{"X-Lang", "en"}});
    CHECK(en.header("x-fastapi-cache") == "MISS");
    CHECK(en.header("vary") == "x-lang");
    CHECK(client.get("/lang", {{"X-Lang", "fr"}}).header("x-fastapi-cache") == "MISS");
    auto hit = client.get("/lang", {{"X-Lang", "en"}});
    CHECK(hit.header("x-fastapi-cache") == "HIT");
    CHECK(hit.text == R"({"lang":"en"})");
    CHECK(hit.header("vary") == "x-lang");
}

TEST_CASE("cache: the whole response is stored: status, headers and body (fastapi-cache #140)") {
    App app;
    setup(app);
    TestClient client(app);
    client.get("/made");
    auto hit = client.get("/made");
    CHECK(hit.header("x-fastapi-cache") == "HIT");
    CHECK(hit.status_code == 201);
    CHECK(hit.header("x-extra") == "kept");
    CHECK(hit.header("content-type").value_or("").starts_with("text/plain"));
    CHECK(hit.text == "made");
}

TEST_CASE("cache: If-None-Match (a list, weak comparison, *) answers 304 with ETag and Cache-Control, on a miss and on a hit") {
    App app;
    setup(app);
    TestClient client(app);
    std::string etag = detail::cache_etag(R"({"n":5,"sq":25,"dep":true})");
    auto miss = client.get("/sq/5", {{"If-None-Match", "\"other\", W/" + etag}});
    CHECK(miss.status_code == 304);
    CHECK(miss.text.empty());
    CHECK(miss.header("etag") == etag);
    CHECK(miss.header("cache-control") == "max-age=60");
    CHECK(miss.header("x-fastapi-cache") == "MISS");
    auto hit = client.get("/sq/5", {{"If-None-Match", "*"}});
    CHECK(hit.status_code == 304);
    CHECK(hit.header("etag") == etag);
    CHECK(hit.header("cache-control").has_value());
    CHECK(hit.header("x-fastapi-cache") == "HIT");
    auto other = client.get("/sq/5", {{"If-None-Match", "\"nope\""}});
    CHECK(other.status_code == 200);
    CHECK(other.text == R"({"n":5,"sq":25,"dep":true})");
}

TEST_CASE("cache: a request's Cache-Control: no-store bypasses, no-cache recomputes and stores (fastapi-cache #424)") {
    App app;
    setup(app);
    TestClient client(app);
    calls = 0;
    client.get("/made");
    auto bypass = client.get("/made", {{"Cache-Control", "max-age=0, no-store"}});
    CHECK(!bypass.header("x-fastapi-cache"));
    CHECK(calls == 2);
    auto fresh = client.get("/made", {{"Cache-Control", "No-Cache"}});
    CHECK(fresh.header("x-fastapi-cache") == "MISS");
    CHECK(calls == 3);
    CHECK(client.get("/made").header("x-fastapi-cache") == "HIT");
    CHECK(calls == 3);
}

TEST_CASE("cache: GET and HEAD by default, other methods when configured; errors are never stored") {
    App app;
    setup(app);
    TestClient client(app);
    client.get("/made");
    CHECK(client.head("/made").header("x-fastapi-cache") == "HIT");
    CHECK(!client.post("/post").header("x-fastapi-cache"));
    CHECK(client.post("/post-cached").header("x-fastapi-cache") == "MISS");
    auto again = client.post("/post-cached");
    CHECK(again.header("x-fastapi-cache") == "HIT");
    calls = 0;
    CHECK(client.get("/missing").status_code == 404);
    CHECK(client.get("/missing").status_code == 404);
    CHECK(calls == 2);
}

TEST_CASE("cache: a namespace and a tag are invalidated at once; get_or_set keeps a value") {
    App app;
    setup(app);
    Cache cache = app.cache();
    REQUIRE(cache);
    TestClient client(app);
    client.get("/sq/2");
    client.get("/made");
    CHECK(client.get("/sq/2").header("x-fastapi-cache") == "HIT");
    asio::io_context io;
    auto run = [&](asio::awaitable<void> a) {
        asio::co_spawn(io, std::move(a), asio::detached);
        io.restart();
        io.run();
    };
    run(cache.clear("sq"));
    CHECK(client.get("/sq/2").header("x-fastapi-cache") == "MISS");
    CHECK(client.get("/made").header("x-fastapi-cache") == "HIT");  // another namespace
    run(cache.invalidate_tag("t"));
    CHECK(client.get("/made").header("x-fastapi-cache") == "MISS");

    int produced = 0;
    std::string got1, got2;
    run([&]() -> asio::awaitable<void> {
        got1 = co_await cache.get_or_set("v", 60s, [&] { return std::to_string(++produced); });
        got2 = co_await cache.get_or_set("v", 60s, [&] { return std::to_string(++produced); });
        co_await cache.invalidate("v");
        co_await cache.get_or_set("v", 60s, [&] { return std::to_string(++produced); });
    }());
    CHECK(got1 == "1");
    CHECK(got2 == "1");
    CHECK(produced == 2);
}

TEST_CASE("cache: a router's cache applies to its routes; the app without a backend caches nothing") {
    App app;
    app.set_cache(MemoryCache{});
    APIRouter router({.prefix = "/r", .cache = {.expire = 10s, .namespace_ = "r"}});
    router.get("/a", [] { return "a"; });
    app.include_router(router);
    TestClient client(app);
    CHECK(client.get("/r/a").header("cache-control") == "max-age=10");
    CHECK(client.get("/r/a").header("x-fastapi-cache") == "HIT");

    App bare;
    bare.get("/a", [] { return "a"; }, {.cache = {.expire = 10s}});
    TestClient c2(bare);
    CHECK(!c2.get("/a").header("x-fastapi-cache"));
}

TEST_CASE("cache: the memory backend stays within its bytes, least recently used out") {
    MemoryCache m({.max_bytes = 4096});
    auto entry = [](std::size_t n) {
        auto e = std::make_shared<detail::CachedResponse>();
        e->body.assign(n, 'x');
        return e;
    };
    for (int i = 0; i < 20; ++i) {
        m.set_entry("k" + std::to_string(i), entry(500), 60s);
        if (i == 3) CHECK(m.get_entry("k0"));  // k0 used: kept longer than k1
        CHECK(m.bytes() <= 4096);
    }
    CHECK(!m.get_entry("k1"));
    CHECK(m.get_entry("k19"));
    m.set_entry("huge", entry(10000), 60s);  // larger than the bound: not stored
    CHECK(!m.get_entry("huge"));
    CHECK(m.bytes() <= 4096);
}

TEST_CASE("cache: stored entries survive their wire form; damaged ones read as misses") {
    detail::CachedResponse e;
    e.status = 203;
    e.headers = {{"content-type", "text/plain"}, {"x-a", "1:2 3"}};
    e.body = std::string("a\0b\n9:", 6);
    e.etag = "\"x\"";
    e.stored_ms = 5;
    e.expires_ms = 60005;
    std::string wire = detail::cache_serialize(e);
    auto back = detail::cache_deserialize(wire);
    REQUIRE(back);
    CHECK(back->status == 203);
    CHECK(back->headers == e.headers);
    CHECK(back->body == e.body);
    CHECK(back->etag == e.etag);
    CHECK(back->expires_ms == 60005);
    for (std::size_t cut = 0; cut < wire.size(); ++cut) CHECK(!detail::cache_deserialize(wire.substr(0, cut)));
    CHECK(!detail::cache_deserialize("1 200 0 0 99999999999999999999\n"));
    CHECK(!detail::cache_deserialize(wire + "x"));
}


std::atomic<int> arrived{0}, computed{0};

TEST_CASE("cache: concurrent misses of one key compute once (single flight), the others answered from it") {
    App app;
    app.set_cache(MemoryCache{});
    // Counted before the cache is looked up; on one loop, lookup and joining the flight follow
    // at once, so when the handler sees all five arrived, the four others are waiting.
    app.add_middleware({.before = [](Request&, Response&) { ++arrived; return true; }, .head_only = true});
    app.get("/slow", []() -> asio::awaitable<json> {
        ++computed;
        asio::steady_timer t(co_await asio::this_coro::executor);
        for (int i = 0; i < 2500 && arrived < 5; ++i) {
            t.expires_after(2ms);
            co_await t.async_wait(asio::use_awaitable);
        }
        co_return json{{"arrived", arrived.load()}};
    }, {.cache = {.expire = 60s}});
    arrived = 0;
    computed = 0;
    test::LiveServer server(app, {.threads = 1});
    std::vector<std::unique_ptr<test::RawClient>> clients;
    for (int i = 0; i < 5; ++i) {
        clients.push_back(std::make_unique<test::RawClient>(server.port()));
        clients.back()->send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
    }
    int hits = 0, misses = 0;
    for (auto& c : clients) {
        std::string r = c->read_response();
        CHECK(test::status_of(r) == 200);
        CHECK(test::body_of(r) == R"({"arrived":5})");
        std::string how = test::header_of(r, "x-fastapi-cache");
        hits += how == "HIT";
        misses += how == "MISS";
    }
    CHECK(computed == 1);
    CHECK(misses == 1);
    CHECK(hits == 4);
}


std::atomic<int> stale_calls{0};
std::atomic<int> failing{0};  // 0: answers; 1: throws; 2: answers 503

TEST_CASE("cache: stale_while_revalidate answers STALE at once (max-age=0, Age, RFC 5861 directives) and one request recomputes in the background") {
    App app;
    app.set_cache(MemoryCache{});
    app.get("/swr", [] { return json{{"v", ++stale_calls}}; },
            {.cache = {.expire = 1s, .stale_while_revalidate = 30s}});
    stale_calls = 0;
    TestClient client(app);
    auto first = client.get("/swr");
    CHECK(first.header("x-fastapi-cache") == "MISS");
    CHECK(first.header("cache-control") == "max-age=1, stale-while-revalidate=30");
    CHECK(client.get("/swr").header("x-fastapi-cache") == "HIT");
    std::this_thread::sleep_for(1100ms);
    auto stale = client.get("/swr");
    CHECK(stale.status_code == 200);
    CHECK(stale.header("x-fastapi-cache") == "STALE");
    CHECK(stale.text == R"({"v":1})");
    CHECK(stale.header("cache-control") == "max-age=0, stale-while-revalidate=30");
    CHECK(stale.header("age") == "1");
    CHECK(stale.header("etag") == first.header("etag"));
    // The recomputation ran after the stale answer (the TestClient's loop runs until idle).
    CHECK(test::eventually_true([&] { return stale_calls == 2; }));
    auto fresh = client.get("/swr");
    CHECK(fresh.header("x-fastapi-cache") == "HIT");
    CHECK(fresh.text == R"({"v":2})");
    CHECK(stale_calls == 2);
}

TEST_CASE("cache: stale_if_error answers the stale entry when the handler throws or answers 5xx, within its window") {
    App app;
    app.set_cache(MemoryCache{});
    app.get("/sie", []() -> Response {
        if (failing == 1) throw std::runtime_error("database down");
        if (failing == 2) return Response(R"({"detail":"busy"})", 503, "application/json");
        return Response(json{{"v", ++stale_calls}}.dump(), 200, "application/json");
    }, {.cache = {.expire = 1s, .stale_if_error = 60s}});
    app.get("/nosie", []() -> Response {
        if (failing == 1) throw std::runtime_error("database down");
        return Response("ok", 200, "text/plain");
    }, {.cache = {.expire = 1s}});
    stale_calls = 0;
    failing = 0;
    TestClient client(app);
    auto first = client.get("/sie");
    CHECK(first.header("cache-control") == "max-age=1, stale-if-error=60");
    client.get("/nosie");
    std::this_thread::sleep_for(1100ms);
    failing = 1;
    auto thrown = client.get("/sie");
    CHECK(thrown.status_code == 200);
    CHECK(thrown.header("x-fastapi-cache") == "STALE");
    CHECK(thrown.text == R"({"v":1})");
    CHECK(thrown.header("cache-control") == "max-age=0, stale-if-error=60");
    CHECK(client.get("/nosie").status_code == 500);  // no stale_if_error: the error as it is
    failing = 2;
    auto busy = client.get("/sie");
    CHECK(busy.status_code == 200);
    CHECK(busy.header("x-fastapi-cache") == "STALE");
    failing = 0;
    auto back = client.get("/sie");
    CHECK(back.header("x-fastapi-cache") == "MISS");
    CHECK(back.text == R"({"v":2})");
}

std::atomic<int> slow_plain{0};
std::mutex seen_mutex;
std::set<std::thread::id> seen_threads;

TEST_CASE("cache: a plain handler on the memory backend computes once for concurrent misses on different loops") {
    App app;
    app.set_cache(MemoryCache{});
    // The key builder runs on the loop of each request: which loops the requests reached.
    app.get("/plain-slow", [] {
        ++slow_plain;
        std::this_thread::sleep_for(400ms);  // blocks its loop: the other loop's misses must wait, not compute
        return json{{"computed", slow_plain.load()}};
    }, {.cache = {.expire = 60s, .key_builder = [](const Request& r) {
        std::lock_guard lock(seen_mutex);
        seen_threads.insert(std::this_thread::get_id());
        return r.path;
    }}});
    slow_plain = 0;
    seen_threads.clear();
    test::LiveServer server(app, {.threads = 2});
    std::vector<std::unique_ptr<test::RawClient>> clients;
    for (int i = 0; i < 6; ++i) {  // connections go to the loops in turn
        clients.push_back(std::make_unique<test::RawClient>(server.port()));
        clients.back()->send("GET /plain-slow HTTP/1.1\r\nHost: t\r\n\r\n");
    }
    int hits = 0, misses = 0;
    for (auto& c : clients) {
        std::string r = c->read_response();
        CHECK(test::status_of(r) == 200);
        CHECK(test::body_of(r) == R"({"computed":1})");
        std::string how = test::header_of(r, "x-fastapi-cache");
        hits += how == "HIT";
        misses += how == "MISS";
    }
    CHECK(slow_plain == 1);
    CHECK(misses == 1);
    CHECK(hits == 5);
    std::lock_guard lock(seen_mutex);
    CHECK(seen_threads.size() == 2);
}


TEST_CASE("cache: the OpenAPI document lists Cache-Control and ETag as a cached route's response headers") {
    App app;
    setup(app);
    app.get("/plain", [] { return "p"; });
    const picojson::value& doc = app.openapi();
    const auto& ok = doc.get("paths").get("/made").get("get").get("responses").get("200");
    REQUIRE(ok.contains("headers"));
    CHECK(ok.get("headers").contains("Cache-Control"));
    CHECK(ok.get("headers").contains("ETag"));
    CHECK(ok.get("headers").get("ETag").get("schema").get("type").get<std::string>() == "string");
    CHECK(!doc.get("paths").get("/plain").get("get").get("responses").get("200").contains("headers"));
}

// Regression: a hit said max-age=<seconds left> beside Age, so a proxy (RFC 9111 4.2: left =
// max-age - Age) counted the age twice and dropped the entry early.
TEST_CASE("cache: a hit's max-age is the whole lifetime and Age how old it is, so max-age minus Age is what is left") {
    App app;
    setup(app);
    TestClient client(app);
    client.get("/sq/11");
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    auto hit = client.get("/sq/11");
    CHECK(hit.header("x-fastapi-cache") == "HIT");
    CHECK(hit.header("cache-control") == "max-age=60");
    CHECK(hit.header("age") == "1");
}

}  // namespace cache_test

