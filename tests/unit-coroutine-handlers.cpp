// Coroutine handlers read their parameters after they have suspended: every parameter kind,
// taken by value, by const& and by &&, is still alive when the handler resumes after a
// timer. (The arguments used to be temporaries destroyed before the body first ran, so a
// `const Item&` read freed memory; AddressSanitizer shows it, tools/test --sanitize.)
// The values are longer than a std::string's inline buffer, so a dangling read touches
// freed heap memory.
#include "support.hpp"

using namespace fastapi;
using namespace std::chrono_literals;

namespace coroutine_handlers_test {

// Suspends the handler for a few milliseconds: its caller's temporaries are long gone.
asio::awaitable<void> a_few_ms_later() {
    asio::steady_timer timer(co_await asio::this_coro::executor, 3ms);
    co_await timer.async_wait(asio::use_awaitable);
}

// URL-safe, so it goes into paths, queries, headers and cookies as it is.
const std::string long_value = "a-value-longer-than-the-inline-buffer-of-a-string";

struct Note {
    std::string title;
    std::vector<std::string> tags;
};

std::string make_greeting() { return "a greeting made by a dependency, on the heap"; }

using Id = Path<"id", std::string>;
using Q = Query<"q", std::string>;
using Token = Header<"x_token", std::string>;
using Session = Cookie<"session", std::string>;
using Title = Form<"title", std::string>;
using Upload = File<"upload", UploadFile>;
using Greeting = Depends<make_greeting>;

App& app() {
    static App app;
    static bool once = [] {
        // path
        app.get("/path/value/{id}", [](Id id) -> asio::awaitable<std::string> { co_await a_few_ms_later(); co_return *id; });
        app.get("/path/cref/{id}", [](const Id& id) -> asio::awaitable<std::string> { co_await a_few_ms_later(); co_return *id; });
        app.get("/path/rref/{id}", [](Id&& id) -> asio::awaitable<std::string> { co_await a_few_ms_later(); co_return *id; });
        // query
        app.get("/query/cref", [](const Q& q) -> asio::awaitable<std::string> { co_await a_few_ms_later(); co_return *q; });
        app.get("/query/rref", [](Q&& q) -> asio::awaitable<std::string> { co_await a_few_ms_later(); co_return *q; });
        // header
        app.get("/header/cref", [](const Token& t) -> asio::awaitable<std::string> { co_await a_few_ms_later(); co_return *t; });
        app.get("/header/rref", [](Token&& t) -> asio::awaitable<std::string> { co_await a_few_ms_later(); co_return *t; });
        // cookie
        app.get("/cookie/cref", [](const Session& s) -> asio::awaitable<std::string> { co_await a_few_ms_later(); co_return *s; });
        app.get("/cookie/rref", [](Session&& s) -> asio::awaitable<std::string> { co_await a_few_ms_later(); co_return *s; });
        // body model, and a named body part
        app.post("/model/value", [](Note n) -> asio::awaitable<std::string> { co_await a_few_ms_later(); co_return n.title + "|" + n.tags.at(0); });
        app.post("/model/cref", [](const Note& n) -> asio::awaitable<std::string> { co_await a_few_ms_later(); co_return n.title + "|" + n.tags.at(0); });
        app.post("/model/rref", [](Note&& n) -> asio::awaitable<std::string> { co_await a_few_ms_later(); co_return n.title + "|" + n.tags.at(0); });
        app.post("/models/cref", [](const std::vector<Note>& ns) -> asio::awaitable<std::string> { co_await a_few_ms_later(); co_return ns.at(0).title; });
        app.post("/body/cref", [](const Body<"note", Note, Embed>& n) -> asio::awaitable<std::string> { co_await a_few_ms_later(); co_return n->title; });
        // form field, file
        app.post("/form/cref", [](const Title& t) -> asio::awaitable<std::string> { co_await a_few_ms_later(); co_return *t; });
        app.post("/form/rref", [](Title&& t) -> asio::awaitable<std::string> { co_await a_few_ms_later(); co_return *t; });
        app.post("/file/cref", [](const Upload& f) -> asio::awaitable<std::string> { co_await a_few_ms_later(); co_return f->filename + "|" + f->read(); });
        app.post("/file/rref", [](Upload&& f) -> asio::awaitable<std::string> { co_await a_few_ms_later(); co_return f->filename + "|" + f->read(); });
        // dependency
        app.get("/depends/value", [](Greeting g) -> asio::awaitable<std::string> { co_await a_few_ms_later(); co_return *g; });
        app.get("/depends/cref", [](const Greeting& g) -> asio::awaitable<std::string> { co_await a_few_ms_later(); co_return *g; });
        app.get("/depends/rref", [](Greeting&& g) -> asio::awaitable<std::string> { co_await a_few_ms_later(); co_return *g; });
        // the request, the response, background tasks (references into the request's exchange)
        app.post("/request/ref", [](Request& r) -> asio::awaitable<std::string> { co_await a_few_ms_later(); co_return r.body; });
        app.post("/request/cref", [](const Request& r) -> asio::awaitable<std::string> { co_await a_few_ms_later(); co_return r.body; });
        app.get("/response/ref", [](Response& res) -> asio::awaitable<std::string> {
            co_await a_few_ms_later();
            res.headers.set("x-set-after-the-timer", long_value);
            co_return "ok";
        });
        app.get("/background/ref", [](BackgroundTasks& tasks) -> asio::awaitable<std::string> {
            co_await a_few_ms_later();
            tasks.add_task([] {});
            co_return "ok";
        });
        // all of them at once
        app.post("/all/{id}", [](const Id& id, Q&& q, const Token& t, Session&& s, const Title& title, Upload&& f,
                                 const Greeting& g, Request& r, Response& res, BackgroundTasks& tasks)
                                  -> asio::awaitable<std::string> {
            co_await a_few_ms_later();
            res.headers.set("x-all", "yes");
            tasks.add_task([] {});
            co_return *id + "," + *q + "," + *t + "," + *s + "," + *title + "," + f->read() + "," + *g + "," +
                std::string(r.method);
        });
        return true;
    }();
    (void)once;
    return app;
}

Headers headers(std::string_view name, std::string_view value) {
    Headers h;
    h.set(name, value);
    return h;
}

std::string note_json() { return R"({"title":")" + long_value + R"(","tags":[")" + long_value + R"("]})"; }



TEST_CASE("coroutine handler: Path taken by value, const& and && is alive after a suspension") {
    TestClient client(app());
    for (const char* how : {"value", "cref", "rref"}) {
        auto r = client.get(std::string("/path/") + how + "/" + long_value);
        CHECK(r.status_code == 200);
        CHECK(r.json().get<std::string>() == long_value);
    }
}

TEST_CASE("coroutine handler: Query, Header and Cookie taken by const& and && are alive after a suspension") {
    TestClient client(app());
    for (const char* how : {"cref", "rref"}) {
        CAPTURE(how);
        CHECK(client.get(std::string("/query/") + how + "?q=" + long_value).json().get<std::string>() == long_value);
        CHECK(client.get(std::string("/header/") + how, headers("X-Token", long_value)).json().get<std::string>() == long_value);
        CHECK(client.get(std::string("/cookie/") + how, headers("Cookie", "session=" + long_value)).json().get<std::string>() == long_value);
    }
}

TEST_CASE("coroutine handler: a body model taken by value, const& and && is alive after a suspension") {
    TestClient client(app());
    for (const char* how : {"value", "cref", "rref"}) {
        CAPTURE(how);
        auto r = client.post(std::string("/model/") + how, note_json());
        CHECK(r.status_code == 200);
        CHECK(r.json().get<std::string>() == long_value + "|" + long_value);
    }
    CHECK(client.post("/models/cref", "[" + note_json() + "]").json().get<std::string>() == long_value);
    CHECK(client.post("/body/cref", R"({"note":)" + note_json() + "}").json().get<std::string>() == long_value);
}

TEST_CASE("coroutine handler: Form and File taken by const& and && are alive after a suspension") {
    TestClient client(app());
    for (const char* how : {"cref", "rref"}) {
        CAPTURE(how);
        CHECK(client.post_form(std::string("/form/") + how, {{"title", long_value}}).json().get<std::string>() == long_value);
        auto r = client.post_multipart(std::string("/file/") + how, {}, {{"upload", long_value + ".txt", long_value}});
        CHECK(r.status_code == 200);
        CHECK(r.json().get<std::string>() == long_value + ".txt|" + long_value);
    }
}

TEST_CASE("coroutine handler: Depends taken by value, const& and && is alive after a suspension") {
    TestClient client(app());
    for (const char* how : {"value", "cref", "rref"})
        CHECK(client.get(std::string("/depends/") + how).json().get<std::string>() == make_greeting());
}

TEST_CASE("coroutine handler: Request&, const Request&, Response& and BackgroundTasks& are usable after a suspension") {
    TestClient client(app());
    CHECK(client.post("/request/ref", long_value, headers("content-type", "text/plain")).json().get<std::string>() == long_value);
    CHECK(client.post("/request/cref", long_value, headers("content-type", "text/plain")).json().get<std::string>() == long_value);
    auto r = client.get("/response/ref");
    CHECK(r.header("x-set-after-the-timer") == long_value);
    CHECK(client.get("/background/ref").status_code == 200);
}

TEST_CASE("coroutine handler: every kind at once, through a real server on loopback") {
    test::LiveServer server(app());
    test::RawClient c(server.port());
    const std::string body = TestClient::multipart_body({{"title", long_value}}, {{"upload", "u.txt", long_value}});
    c.send("POST /all/" + long_value + "?q=" + long_value +
           " HTTP/1.1\r\nHost: t\r\nX-Token: " + long_value + "\r\nCookie: session=" + long_value +
           "\r\nContent-Type: multipart/form-data; boundary=" + std::string(TestClient::test_boundary) +
           "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
    auto r = c.read_response();
    CHECK(test::status_of(r) == 200);
    CHECK(r.find("x-all: yes\r\n") != std::string::npos);
    std::string v = long_value;
    CHECK(test::body_of(r) == "\"" + v + "," + v + "," + v + "," + v + "," + v + "," + v + "," +
                                  make_greeting() + ",POST\"");
}

}  // namespace coroutine_handlers_test
