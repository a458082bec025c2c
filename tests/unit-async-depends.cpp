// Coroutine dependencies: asio::awaitable<T> dependencies with the per-request cache,
// coroutine cleanups after the response, overrides both ways, sub-dependencies in both
// directions, errors, route dependencies, blocking handlers, and the same OpenAPI document
// as the plain versions. Through TestClient and a real server.
#include "support.hpp"

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace fastapi;
using namespace std::chrono_literals;

namespace async_depends_test {

std::mutex events_mutex;
std::vector<std::string> events;
void note(std::string e) {
    std::lock_guard lock(events_mutex);
    events.push_back(std::move(e));
}
std::vector<std::string> seen() {
    std::lock_guard lock(events_mutex);
    return events;
}
void clear() {
    std::lock_guard lock(events_mutex);
    events.clear();
}

asio::awaitable<void> sleep_ms(int ms) {
    asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(ms));
    co_await t.async_wait(asio::use_awaitable);
}

std::atomic<int> calls{0};

// A coroutine dependency that reads a query parameter and awaits a timer.
asio::awaitable<std::string> async_name(Query<"name", std::string, Default<"anon">> name) {
    ++calls;
    co_await sleep_ms(1);
    co_return "async:" + *name;
}
std::string plain_name(Query<"name", std::string, Default<"anon">> name) {
    ++calls;
    return "async:" + *name;
}

// Sub-dependencies: a coroutine on a plain one, a plain one on a coroutine.
int64_t plain_limit(Query<"limit", int64_t, Le<100>, Default<10>> limit) { return *limit; }
asio::awaitable<std::string> async_page(Depends<async_name> name, Depends<plain_limit> limit) {
    co_await sleep_ms(1);
    co_return *name + "/" + std::to_string(*limit);
}
std::string plain_on_async(Depends<async_page> page) { return "plain(" + *page + ")"; }

// A coroutine dependency with a coroutine cleanup that itself awaits.
asio::awaitable<Scoped<std::string>> async_session() {
    note("open");
    co_await sleep_ms(1);
    co_return Scoped<std::string>{"session", []() -> asio::awaitable<void> {
                                      co_await sleep_ms(1);
                                      note("close");
                                  }};
}
// And one with a plain cleanup.
asio::awaitable<Scoped<int>> async_counter() {
    co_await sleep_ms(1);
    co_return Scoped<int>{7, [] { note("plain close"); }};
}

asio::awaitable<std::string> async_token(Header<"x_token", std::string> token) {
    co_await sleep_ms(1);
    if (*token != "secret") throw HTTPException(403, "Bad token");
    co_return *token;
}
asio::awaitable<void> async_check(Header<"x_token", std::string> token) {
    co_await sleep_ms(1);
    if (*token != "secret") throw HTTPException(400, "X-Token header invalid");
    note("checked");
}

std::atomic<int> nocache_calls{0};
asio::awaitable<int> async_nocache() {
    co_await sleep_ms(1);
    co_return ++nocache_calls;
}

// The thread a coroutine dependency ran on.
asio::awaitable<std::thread::id> loop_thread() {
    co_await sleep_ms(1);
    co_return std::this_thread::get_id();
}

struct Echo {
    std::string name;
    int64_t count = 0;
};


TEST_CASE("a coroutine dependency is awaited and its value given to a plain handler, once per request") {
    App app;
    app.get("/a", [](Depends<async_name> a, Depends<async_page> page) { return *a + "|" + *page; });
    TestClient client(app);
    calls = 0;
    auto r = client.get("/a?name=x&limit=3");
    CHECK(r.status_code == 200);
    CHECK(r.text == R"("async:x|async:x/3")");
    CHECK(calls == 1);  // cached: async_page's Depends<async_name> is the handler's
    r = client.get("/a");
    CHECK(r.text == R"("async:anon|async:anon/10")");
    CHECK(calls == 2);
}

TEST_CASE("a coroutine handler takes coroutine dependencies too") {
    App app;
    app.get("/c", [](Depends<async_page> page) -> asio::awaitable<std::string> {
        co_await sleep_ms(1);
        co_return *page;
    });
    TestClient client(app);
    CHECK(client.get("/c?name=q").text == R"("async:q/10")");
}

TEST_CASE("a plain dependency on a coroutine one makes the route a coroutine") {
    App app;
    app.get("/p", [](Depends<plain_on_async> p) { return *p; });
    TestClient client(app);
    CHECK(client.get("/p?name=z&limit=5").text == R"x("plain(async:z/5)")x");
}

TEST_CASE("NoCache coroutine dependencies run for each parameter") {
    App app;
    app.get("/n", [](Depends<async_nocache, NoCache> a, Depends<async_nocache, NoCache> b, Depends<async_nocache> c) {
        return std::vector<int>{*a, *b, *c};
    });
    TestClient client(app);
    nocache_calls = 0;
    auto r = client.get("/n");
    CHECK(r.text == "[1,2,3]");
}

TEST_CASE("a coroutine cleanup runs after the response, also a plain one from a coroutine dependency") {
    App app;
    app.get("/s", [](Depends<async_session> s, Depends<async_counter> n) {
        note("handler");
        return *s + std::to_string(*n);
    });
    clear();
    {
        TestClient client(app);
        auto r = client.get("/s");
        CHECK(r.text == R"("session7")");
        CHECK(seen() == std::vector<std::string>{"open", "handler", "plain close", "close"});
    }
    clear();
    test::LiveServer server(app);
    test::RawClient c(server.port());
    c.send("GET /s HTTP/1.1\r\nHost: t\r\n\r\n");
    auto resp = c.read_response();
    CHECK(test::status_of(resp) == 200);
    CHECK(test::body_of(resp) == R"("session7")");
    CHECK(test::eventually_true([] { return seen().size() == 4; }));
    CHECK(seen() == std::vector<std::string>{"open", "handler", "plain close", "close"});
}

TEST_CASE("an HTTPException from a coroutine dependency is its answer; its parameters' errors join the 422") {
    App app;
    app.get("/t", [](Depends<async_token> t, Query<"n", int64_t> n) { return *t + std::to_string(*n); });
    TestClient client(app);
    auto r = client.get("/t?n=1", test::hdrs({{"x-token", "wrong"}}));
    CHECK(r.status_code == 403);
    CHECK(r.text == R"({"detail":"Bad token"})");
    CHECK(client.get("/t?n=2", test::hdrs({{"x-token", "secret"}})).text == R"("secret2")");
    r = client.get("/t?n=x");
    CHECK(r.status_code == 422);
    auto detail = r.json().get("detail").get<picojson::array>();
    REQUIRE(detail.size() == 2);
    CHECK(detail[0].get("loc").serialize() == R"(["header","x-token"])");
    CHECK(detail[1].get("loc").serialize() == R"(["query","n"])");
}

TEST_CASE("route dependencies may be coroutines, also before a body on a real server (the head step stops before them)") {
    App app;
    RouteOptions o;
    o.dependencies = {Depends<async_check>{}};
    app.post("/items/", [](test::Item item) { return *item.name; }, o);
    clear();
    TestClient client(app);
    const std::string body = R"({"name":"n","price":1})";
    auto hs = test::hdrs({{"x-token", "secret"}, {"content-type", "application/json"}});
    CHECK(client.post("/items/", body, hs).text == R"("n")");
    CHECK(client.post("/items/", body, test::hdrs({{"x-token", "no"}})).status_code == 400);

    test::LiveServer server(app);
    test::RawClient c(server.port());
    c.send("POST /items/ HTTP/1.1\r\nHost: t\r\nX-Token: secret\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body);
    auto resp = c.read_response();
    CHECK(test::status_of(resp) == 200);
    CHECK(test::body_of(resp) == R"("n")");
    c.send("POST /items/ HTTP/1.1\r\nHost: t\r\nX-Token: no\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n\r\n" + body);
    resp = c.read_response();
    CHECK(test::status_of(resp) == 400);
    CHECK(test::body_of(resp) == R"({"detail":"X-Token header invalid"})");
}

TEST_CASE("app dependencies may be coroutines") {
    App app({.dependencies = {Depends<async_check>{}}});
    app.get("/x", [] { return 1; });
    TestClient client(app);
    CHECK(client.get("/x", test::hdrs({{"x-token", "secret"}})).text == "1");
    CHECK(client.get("/x", test::hdrs({{"x-token", "bad"}})).status_code == 400);
}

TEST_CASE("a coroutine override for a plain dependency, and a plain override for a coroutine one") {
    App app;
    app.get("/plain", [](Depends<plain_name> n) { return *n; });
    app.get("/async", [](Depends<async_name> n) { return *n; });
    TestClient client(app);
    CHECK(client.get("/plain?name=a").text == R"("async:a")");

    app.override_dependency<plain_name>([](Query<"who", std::string> who) -> asio::awaitable<std::string> {
        co_await sleep_ms(1);
        co_return "overridden:" + *who;
    });
    CHECK(client.get("/plain?who=b").text == R"("overridden:b")");
    CHECK(client.get("/plain").status_code == 422);  // the override's own parameters count

    app.override_dependency<async_name>([] { return std::string("plain override"); });
    CHECK(client.get("/async").text == R"("plain override")");
    app.clear_dependency_overrides();
    CHECK(client.get("/async?name=c").text == R"("async:c")");
    CHECK(client.get("/plain?name=d").text == R"("async:d")");
}

TEST_CASE("a blocking handler with a coroutine dependency runs off the loop after it") {
    App app;
    RouteOptions o;
    o.blocking = true;
    app.get("/b", [](Depends<loop_thread> dep_thread) { return *dep_thread != std::this_thread::get_id(); }, o);
    TestClient client(app);
    CHECK(client.get("/b").text == "true");
    test::LiveServer server(app);
    test::RawClient c(server.port());
    c.send("GET /b HTTP/1.1\r\nHost: t\r\n\r\n");
    CHECK(test::body_of(c.read_response()) == "true");
}

TEST_CASE("the OpenAPI document of coroutine dependencies is the plain version's") {
    App plain, coro;
    plain.get("/items/", [](Depends<plain_name> n, Depends<plain_limit> l) { return Echo{*n, *l}; });
    coro.get("/items/", [](Depends<async_name> n, Depends<async_page> p) { return Echo{*n, static_cast<int64_t>(p->size())}; });
    // async_page adds plain_limit's `limit`, as plain_limit does on the plain side.
    CHECK(plain.openapi().serialize() == coro.openapi().serialize());
}

}  // namespace async_depends_test
