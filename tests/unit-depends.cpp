// Dependency injection: Depends<f> parameters, sub-dependencies, one 422 for everything,
// the per-request cache, cleanups after the response, route and app dependencies,
// overrides for tests, and application state.
#include "support.hpp"

#include <atomic>
#include <thread>

#include <string>
#include <vector>

using namespace fastapi;
using test::hdrs;

namespace {


struct CommonParams {
    std::optional<std::string> q;
    int64_t skip;
    int64_t limit;
};

CommonParams common_parameters(Query<"q", std::optional<std::string>> q, Query<"skip", int64_t, Default<0>> skip,
                               Query<"limit", int64_t, Le<100>, Default<100>> limit) {
    return {*q, *skip, *limit};
}

int calls = 0;
int64_t counted() { return ++calls; }

std::string query_extractor(Query<"q", std::optional<std::string>> q) { return q->value_or(""); }
std::string query_or_cookie(Depends<query_extractor> q, Cookie<"last_query", std::optional<std::string>> last) {
    return q->empty() ? last->value_or("") : *q;
}

std::vector<std::string> events;

Scoped<std::string> get_db() {
    events.push_back("open db");
    return {"db-session", [] { events.push_back("close db"); }};
}
Scoped<std::string> get_user(Depends<get_db> db) {
    events.push_back("open user with " + *db);
    return {"user", [] { events.push_back("close user"); }};
}

void verify_token(Header<"x_token", std::string> token) {
    if (*token != "fake-super-secret-token") throw HTTPException(400, "X-Token header invalid");
}
std::string verify_key(Header<"x_key", std::string> key) {
    if (*key != "fake-super-secret-key") throw HTTPException(400, "X-Key header invalid");
    return *key;
}

// A parameterised, class-based dependency (FastAPI's FixedContentQueryChecker).
struct FixedContentQueryChecker {
    fixed_string<4> fixed_content;
    bool operator()(Query<"q", std::string, Default<"">> q) const { return q->find(fixed_content.view()) != std::string::npos; }
};
constexpr FixedContentQueryChecker checker{"bar"};

struct Config {
    std::string name = "default";
};
struct Counter {
    int value = 0;
};
std::string app_name(State<Config> config) { return config->name; }

}  // namespace

TEST_CASE("a dependency's parameters are read from the request and its result is what the handler gets") {
    App app;
    app.get("/items/", [](Depends<common_parameters> commons) {
        return picojson::value(picojson::object{{"q", commons->q ? picojson::value(*commons->q) : picojson::value()},
                                                {"skip", picojson::value(commons->skip)},
                                                {"limit", picojson::value(commons->limit)}});
    });
    TestClient client(app);
    CHECK(client.get("/items/?q=foo&skip=5&limit=30").text == R"({"limit":30,"q":"foo","skip":5})");
    CHECK(client.get("/items/").text == R"({"limit":100,"q":null,"skip":0})");
}

TEST_CASE("the dependency's and the handler's validation errors come back together in one 422") {
    App app;
    app.get("/items/{item_id}", [](Depends<common_parameters>, Path<"item_id", int64_t>) { return 1; });
    TestClient client(app);
    auto r = client.get("/items/x?limit=500");
    CHECK(r.status_code == 422);
    auto detail = r.json().get("detail").get<picojson::array>();
    REQUIRE(detail.size() == 2);
    CHECK(detail[0].get("loc").serialize() == R"(["query","limit"])");
    CHECK(detail[0].get("type").get<std::string>() == "less_than_equal");
    CHECK(detail[1].get("loc").serialize() == R"(["path","item_id"])");
}

TEST_CASE("sub-dependencies are resolved to any depth") {
    App app;
    app.get("/items/", [](Depends<query_or_cookie> query) { return *query; });
    TestClient client(app);
    CHECK(client.get("/items/?q=hello").text == R"("hello")");
    CHECK(client.get("/items/", hdrs({{"cookie", "last_query=from-cookie"}})).text == R"("from-cookie")");
}

TEST_CASE("a dependency used in several places runs once per request, unless NoCache") {
    App app;
    app.get("/shared", [](Depends<counted> a, Depends<counted> b) { return *a * 10 + *b; });
    app.get("/fresh", [](Depends<counted> a, Depends<counted, NoCache> b) { return *a * 10 + *b; });
    TestClient client(app);
    calls = 0;
    CHECK(client.get("/shared").text == "11");
    CHECK(client.get("/shared").text == "22");  // a new request runs it again
    calls = 0;
    CHECK(client.get("/fresh").text == "12");
}

TEST_CASE("Scoped dependencies are cleaned up after the response, in reverse order") {
    App app;
    app.get("/me", [](Depends<get_user> user) {
        events.push_back("handler");
        return *user;
    });
    app.get("/boom", [](Depends<get_user>) -> int {
        events.push_back("handler");
        throw HTTPException(409, "Conflict");
    });
    TestClient client(app);
    events.clear();
    CHECK(client.get("/me").text == R"("user")");
    CHECK(events == std::vector<std::string>{"open db", "open user with db-session", "handler", "close user", "close db"});
    events.clear();
    CHECK(client.get("/boom").status_code == 409);  // cleanups run when the handler throws too
    CHECK(events == std::vector<std::string>{"open db", "open user with db-session", "handler", "close user", "close db"});
}

TEST_CASE("a dependency that throws HTTPException answers with it, and earlier dependencies are still cleaned up") {
    App app;
    app.get("/items/", [](Depends<get_db>, Depends<verify_token>) { return 1; });
    TestClient client(app);
    events.clear();
    auto r = client.get("/items/", hdrs({{"x-token", "wrong"}}));
    CHECK(r.status_code == 400);
    CHECK(r.text == R"({"detail":"X-Token header invalid"})");
    CHECK(events == std::vector<std::string>{"open db", "close db"});
}

TEST_CASE("route dependencies run before the handler; their values are not used but their errors count") {
    App app;
    app.get("/items/", [] { return "items"; },
            {.dependencies = {Depends<verify_token>{}, Depends<verify_key>{}}});
    TestClient client(app);
    auto missing = client.get("/items/");
    CHECK(missing.status_code == 422);
    auto detail = missing.json().get("detail").get<picojson::array>();
    REQUIRE(detail.size() == 2);
    CHECK(detail[0].get("loc").serialize() == R"(["header","x-token"])");
    CHECK(detail[1].get("loc").serialize() == R"(["header","x-key"])");
    CHECK(client.get("/items/", hdrs({{"x-token", "bad"}, {"x-key", "bad"}})).text == R"({"detail":"X-Token header invalid"})");
    auto ok = client.get("/items/", hdrs({{"x-token", "fake-super-secret-token"}, {"x-key", "fake-super-secret-key"}}));
    CHECK(ok.status_code == 200);
    CHECK(ok.text == R"("items")");
}

TEST_CASE("app dependencies apply to every API route, not to the docs pages") {
    App app({.dependencies = {Depends<verify_token>{}}});
    app.get("/items/", [] { return "items"; });
    TestClient client(app);
    CHECK(client.get("/items/").status_code == 422);
    CHECK(client.get("/items/", hdrs({{"x-token", "fake-super-secret-token"}})).status_code == 200);
    CHECK(client.get("/docs").status_code == 200);

    App later;
    later.add_dependency(Depends<verify_token>{});
    later.get("/x", [] { return 1; });
    CHECK(TestClient(later).get("/x").status_code == 422);
}

TEST_CASE("a route dependency shares the cache with the handler's parameter") {
    App app;
    app.get("/n", [](Depends<counted> n) { return *n; }, {.dependencies = {Depends<counted>{}}});
    calls = 0;
    CHECK(TestClient(app).get("/n").text == "1");
}

TEST_CASE("a constexpr callable object is a parameterised dependency") {
    App app;
    app.get("/query-checker/", [](Depends<checker> fixed_content_included) { return *fixed_content_included; });
    TestClient client(app);
    CHECK(client.get("/query-checker/?q=foobar").text == "true");
    CHECK(client.get("/query-checker/?q=foo").text == "false");
}

int64_t body_a(Body<"a", int64_t> a) { return *a; }

struct Greeting {
    std::string operator()(Query<"name", std::string, Default<"world">> name) const { return "hello " + *name; }
};

TEST_CASE("DependsOn<C> default-constructs a callable type for each use") {
    App app;
    app.get("/greet", [](DependsOn<Greeting> g) { return *g; });
    TestClient client(app);
    CHECK(client.get("/greet?name=ann").text == R"("hello ann")");
}

TEST_CASE("overrides replace a dependency everywhere, with parameters of their own") {
    App app;
    app.get("/items/", [](Depends<common_parameters> commons) { return commons->limit; });
    app.get("/user", [](Depends<get_user> user) { return *user; });
    app.get("/checked", [] { return 1; }, {.dependencies = {Depends<verify_token>{}}});
    app.override_dependency<common_parameters>(
        [](Query<"other", int64_t, Default<7>> other) { return CommonParams{std::nullopt, 0, *other}; });
    app.override_dependency<get_db>([] { return std::string("fake-db"); });
    app.override_dependency<verify_token>([] {});
    TestClient client(app);
    CHECK(client.get("/items/?limit=3").text == "7");
    CHECK(client.get("/items/?other=9").text == "9");
    events.clear();
    CHECK(client.get("/user").text == R"("user")");
    CHECK(events.front() == "open user with fake-db");
    CHECK(client.get("/checked").status_code == 200);
    app.clear_dependency_overrides();
    CHECK(client.get("/items/?limit=3").text == "3");
    CHECK(client.get("/checked").status_code == 422);
}

TEST_CASE("application state is shared by handlers and dependencies without globals") {
    App app;
    app.set_state<Config>(Config{"bigger app"});
    app.get("/name", [](Depends<app_name> name) { return *name; });
    app.get("/hits", [](State<Counter> counter) { return ++counter->value; });
    TestClient client(app);
    CHECK(client.get("/name").text == R"("bigger app")");
    CHECK(client.get("/hits").text == "1");
    CHECK(client.get("/hits").text == "2");
    CHECK(app.state<Counter>().value == 2);
}

TEST_CASE("dependencies work for coroutine and blocking handlers") {
    App app;
    app.get("/co", [](Depends<get_db> db) -> asio::awaitable<std::string> { co_return *db; });
    app.get("/blocking", [](Depends<get_db> db) { return *db; }, {.blocking = true});
    TestClient client(app);
    events.clear();
    CHECK(client.get("/co").text == R"("db-session")");
    CHECK(client.get("/blocking").text == R"("db-session")");
    CHECK(events == std::vector<std::string>{"open db", "close db", "open db", "close db"});
}

TEST_CASE("a dependency's body parameters count for the embedding rule") {
    App app;
    app.post("/", [](Depends<body_a> a, Body<"b", int64_t> b) { return *a + *b; });
    TestClient client(app);
    CHECK(client.post_json("/", picojson::value(picojson::object{{"a", picojson::value(int64_t{1})},
                                                                  {"b", picojson::value(int64_t{2})}}))
              .text == "3");
}

namespace {
std::atomic<bool> slow_cleanup_done{false};
Scoped<int> slow_to_close() {
    return {1, [] {
                std::this_thread::sleep_for(std::chrono::milliseconds(1000));
                slow_cleanup_done = true;
            }};
}
}  // namespace

TEST_CASE("over a socket, a dependency's cleanup runs after the response has been written") {
    App app;
    app.get("/", [](Depends<slow_to_close> v) { return *v; });
    test::LiveServer server(app);
    test::RawClient client(server.port());
    auto start = std::chrono::steady_clock::now();
    client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    auto response = client.read_response();
    auto elapsed = std::chrono::steady_clock::now() - start;
    CHECK(test::body_of(response) == "1");
    CHECK(elapsed < std::chrono::milliseconds(900));  // not held back by the cleanup
    CHECK_FALSE(slow_cleanup_done.load());
    for (int i = 0; i < 300 && !slow_cleanup_done; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(slow_cleanup_done.load());
}

TEST_CASE("the OpenAPI document lists the parameters that dependencies read, once each, in FastAPI's order") {
    App app;
    app.get("/items/", [](Depends<common_parameters>, Depends<common_parameters>, Query<"extra", int64_t>) { return 1; },
            {.dependencies = {Depends<verify_token>{}}});
    auto& params = app.openapi().get("paths").get("/items/").get("get").get("parameters").get<picojson::array>();
    std::vector<std::string> names;
    for (auto& p : params) names.push_back(p.get("in").get<std::string>() + ":" + p.get("name").get<std::string>());
    // Path, query, header, cookie; within each, route dependencies first, then as declared.
    CHECK(names == std::vector<std::string>{"query:q", "query:skip", "query:limit", "query:extra", "header:x-token"});
}

TEST_CASE("a parameter declared twice is listed once in the document, required if either declaration is") {
    App app;
    app.get("/", [](Query<"q", std::optional<std::string>>, Depends<common_parameters>, Query<"limit", int64_t>) { return 1; });
    auto& params = app.openapi().get("paths").get("/").get("get").get("parameters").get<picojson::array>();
    std::vector<std::string> names;
    for (auto& p : params)
        names.push_back(p.get("name").get<std::string>() + (p.get("required").get<bool>() ? "!" : "?"));
    CHECK(names == std::vector<std::string>{"q?", "skip?", "limit!"});
}
