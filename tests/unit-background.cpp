// Background tasks: work a handler (or a dependency) adds to run once its response has
// been sent, in order, off the connection's path.
#include "support.hpp"

#include <atomic>
#include <future>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

using namespace fastapi;
using namespace std::chrono_literals;

namespace {
struct Log {
    std::mutex mutex;
    std::vector<std::string> lines;
    void add(std::string s) {
        std::lock_guard lock(mutex);
        lines.push_back(std::move(s));
    }
    std::vector<std::string> get() {
        std::lock_guard lock(mutex);
        return lines;
    }
};

struct Message {
    std::string message;
};

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = 3000ms) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(5ms);
    }
    return true;
}
}  // namespace

TEST_CASE("add_task(f, args...) runs f with the arguments after the response, before TestClient returns") {
    static Log log;
    log.lines.clear();
    App app;
    app.post("/send-notification/{email}", [](Path<"email", std::string> email, BackgroundTasks& tasks) {
        tasks.add_task([](const std::string& to, std::string text) { log.add("to " + to + ": " + text); }, *email,
                       std::string("some notification"));
        log.add("handler");
        return Message{"Notification sent in the background"};
    });
    TestClient client(app);
    auto r = client.post("/send-notification/a@example.com");
    CHECK(r.status_code == 200);
    CHECK(r.text == R"({"message":"Notification sent in the background"})");
    CHECK(log.get() == std::vector<std::string>{"handler", "to a@example.com: some notification"});
}

namespace {
Log dependency_log;
std::string query_with_task(Query<"q", std::optional<std::string>> q, BackgroundTasks& tasks) {
    if (q->has_value()) tasks.add_task([](std::string v) { dependency_log.add("dependency: " + v); }, **q);
    return q->value_or("none");
}
}  // namespace

TEST_CASE("tasks run in the order they were added; a dependency's and the handler's share one list") {
    Log& log = dependency_log;
    log.lines.clear();
    App app;
    app.post("/items", [](Depends<query_with_task> q, BackgroundTasks& tasks) {
        tasks.add_task([] { log.add("first"); });
        tasks.add_task([] { log.add("second"); });
        return *q;
    });
    TestClient client(app);
    CHECK(client.post("/items?q=x").text == "\"x\"");
    CHECK(log.get() == std::vector<std::string>{"dependency: x", "first", "second"});
}

TEST_CASE("a task that throws is logged; the tasks after it still run and the response is unchanged") {
    static Log log;
    log.lines.clear();
    App app;
    app.get("/", [](BackgroundTasks& tasks) {
        tasks.add_task([] { throw std::runtime_error("task failed"); });
        tasks.add_task([] { log.add("after the failure"); });
        return 1;
    });
    TestClient client(app);
    auto r = client.get("/");
    CHECK(r.status_code == 200);
    CHECK(r.text == "1");
    CHECK(log.get() == std::vector<std::string>{"after the failure"});
}

TEST_CASE("a handler that fails runs none of its tasks, as FastAPI") {
    static Log log;
    log.lines.clear();
    App app;
    app.get("/fail", [](BackgroundTasks& tasks) -> int {
        tasks.add_task([] { log.add("never"); });
        throw HTTPException(404, "Item not found");
    });
    TestClient client(app);
    CHECK(client.get("/fail").status_code == 404);
    CHECK(log.get().empty());
}

TEST_CASE("coroutine and blocking handlers add tasks too") {
    static Log log;
    log.lines.clear();
    App app;
    app.get("/async", [](BackgroundTasks& tasks) -> asio::awaitable<int> {
        tasks.add_task([] { log.add("async"); });
        co_return 1;
    });
    app.get("/blocking", [](BackgroundTasks& tasks) {
        tasks.add_task([] { log.add("blocking"); });
        return 2;
    }, {.blocking = true});
    TestClient client(app);
    CHECK(client.get("/async").text == "1");
    CHECK(client.get("/blocking").text == "2");
    CHECK(log.get() == std::vector<std::string>{"async", "blocking"});
}

namespace {
Log session_log;
Scoped<std::string> session() {
    session_log.add("open");
    return {"db", [] { session_log.add("close"); }};
}
}  // namespace

TEST_CASE("a dependency's cleanup runs after the request's tasks, so they may still use its value") {
    Log& log = session_log;
    log.lines.clear();
    App app;
    app.get("/", [](Depends<session> db, BackgroundTasks& tasks) {
        tasks.add_task([](std::string name) { log.add("task with " + name); }, *db);
        return 0;
    });
    TestClient client(app);
    client.get("/");
    CHECK(log.get() == std::vector<std::string>{"open", "task with db", "close"});
}

TEST_CASE("server: the response arrives before a slow task finishes, and other requests are not held up") {
    static std::promise<void> gate;
    static std::atomic<bool> done{false};
    gate = std::promise<void>();
    done = false;
    App app;
    app.post("/slow", [](BackgroundTasks& tasks) {
        tasks.add_task([f = gate.get_future().share()] {
            f.wait_for(5s);
            done = true;
        });
        return Message{"accepted"};
    });
    app.get("/ping", [] { return std::string("pong"); });
    test::LiveServer server(app);
    test::RawClient client(server.port());
    client.send("POST /slow HTTP/1.1\r\nHost: x\r\n\r\n");
    auto r = client.read_response();
    CHECK(test::status_of(r) == 200);
    CHECK(test::body_of(r) == R"({"message":"accepted"})");
    CHECK_FALSE(done.load());
    // The same connection and another one are served while the task waits.
    client.send("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(test::body_of(client.read_response()) == "\"pong\"");
    test::RawClient other(server.port());
    other.send("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(test::body_of(other.read_response()) == "\"pong\"");
    CHECK_FALSE(done.load());
    gate.set_value();
    CHECK(eventually([] { return done.load(); }));
}

TEST_CASE("server: one request's tasks run in order; a throwing task does not bring the server down") {
    static Log log;
    log.lines.clear();
    App app;
    app.get("/", [](BackgroundTasks& tasks) {
        for (int i = 0; i < 5; ++i)
            tasks.add_task([](int n) {
                if (n == 2) throw std::runtime_error("two");
                std::this_thread::sleep_for(2ms);
                log.add(std::to_string(n));
            }, i);
        return 0;
    });
    test::LiveServer server(app);
    test::RawClient client(server.port());
    client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(test::status_of(client.read_response()) == 200);
    CHECK(eventually([] { return log.get().size() == 4; }));
    CHECK(log.get() == std::vector<std::string>{"0", "1", "3", "4"});
    client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(test::status_of(client.read_response()) == 200);
}

TEST_CASE("server: a graceful stop waits for pending tasks") {
    static std::atomic<bool> done{false};
    done = false;
    App app;
    app.get("/", [](BackgroundTasks& tasks) {
        tasks.add_task([] {
            std::this_thread::sleep_for(300ms);
            done = true;
        });
        return 0;
    });
    test::LiveServer server(app);
    {
        test::RawClient client(server.port());
        client.send("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        CHECK(test::status_of(client.read_response()) == 200);
        CHECK(client.closed_by_peer());
    }
    CHECK_FALSE(done.load());
    server.stop();
    CHECK(done.load());
}
