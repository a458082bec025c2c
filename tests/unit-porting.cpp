// What a FastAPI user porting an app needs to know, as the README states it: an enum path
// parameter, a string Default<>, one dependency object per request that its users share and
// change, plain handlers running at the same time on several loops, and background tasks of
// different requests in no particular order.
#include "support.hpp"

#include <atomic>
#include <future>
#include <map>
#include <mutex>

using namespace fastapi;
using namespace std::chrono_literals;

namespace porting_test {

enum class ModelName { alexnet, resnet, lenet };

struct Cart {
    std::vector<std::string> items;
};
Cart new_cart() { return {}; }
// Two dependencies that change the request's one Cart.
std::size_t add_apple(Depends<new_cart> cart) {
    cart->items.push_back("apple");
    return cart->items.size();
}
std::size_t add_pear(Depends<new_cart> cart) {
    cart->items.push_back("pear");
    return cart->items.size();
}

// The README's shared counter: State<T> holding its own lock.
struct Counter {
    std::mutex mutex;
    std::map<std::string, int> hits;
};

}  // namespace porting_test

template <>
struct fastapi::enum_values<porting_test::ModelName> {
    static constexpr fastapi::enum_value<porting_test::ModelName> values[] = {
        {porting_test::ModelName::alexnet, "alexnet"},
        {porting_test::ModelName::resnet, "resnet"},
        {porting_test::ModelName::lenet, "lenet"}};
};

TEST_CASE("an enum path parameter: enum_values<E> names the values; another value is FastAPI's enum error") {
    using porting_test::ModelName;
    App app;
    app.get("/models/{model_name}", [](Path<"model_name", ModelName> model_name) {
        return *model_name == ModelName::alexnet ? "Deep Learning FTW!" : "Have some residuals";
    });
    TestClient client(app);
    CHECK(client.get("/models/alexnet").json().get<std::string>() == "Deep Learning FTW!");
    CHECK(client.get("/models/lenet").json().get<std::string>() == "Have some residuals");
    auto r = client.get("/models/foo");
    CHECK(r.status_code == 422);
    CHECK(r.text == R"({"detail":[{"type":"enum","loc":["path","model_name"],"msg":"Input should be 'alexnet', 'resnet' or 'lenet'","input":"foo","ctx":{"expected":"'alexnet', 'resnet' or 'lenet'"}}]})");
}

TEST_CASE("Default<\"asc\"> is a string default; an enum's Default<> is its name") {
    using porting_test::ModelName;
    App app;
    app.get("/sorted", [](Query<"order", std::string, Default<"asc">> order,
                          Query<"model", ModelName, Default<"resnet">> model) {
        return *order + (*model == ModelName::resnet ? " resnet" : " other");
    });
    TestClient client(app);
    CHECK(client.get("/sorted").json().get<std::string>() == "asc resnet");
    CHECK(client.get("/sorted?order=desc&model=lenet").json().get<std::string>() == "desc other");
}

TEST_CASE("Depends<f> is one object per request: its dependencies and the handler share it and may change it") {
    using porting_test::Cart;
    using porting_test::new_cart;
    App app;
    app.get("/cart", [](Depends<porting_test::add_apple> a, Depends<porting_test::add_pear> p, Depends<new_cart> cart) {
        std::string out = std::to_string(*a) + std::to_string(*p) + ":";
        for (auto& i : cart->items) out += i + ",";
        cart->items.push_back("seen by the handler");
        return out;
    });
    TestClient client(app);
    CHECK(client.get("/cart").json().get<std::string>() == "12:apple,pear,");
    CHECK(client.get("/cart").json().get<std::string>() == "12:apple,pear,");  // a new request, a new Cart
}

TEST_CASE("server: plain handlers of different connections run at the same time, one per loop thread") {
    static std::atomic<int> inside{0};
    inside = 0;
    App app;
    // Each waits (at most 3 s) until both are inside: only possible if they run concurrently.
    app.get("/ping", [] { return 0; });
    app.get("/meet", [] {
        ++inside;
        auto deadline = std::chrono::steady_clock::now() + 3s;
        while (inside.load() < 2 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
        return inside.load();
    });
    ServerOptions options;
    options.threads = 2;
    test::LiveServer server(app, options);
    // Accepted by the two loops in turn; both are served before either blocks its loop (the
    // first loop also accepts connections, so a handler blocking it delays new ones).
    test::RawClient a(server.port());
    a.send("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n");
    REQUIRE(test::status_of(a.read_response()) == 200);
    test::RawClient b(server.port());
    b.send("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n");
    REQUIRE(test::status_of(b.read_response()) == 200);
    a.send("GET /meet HTTP/1.1\r\nHost: x\r\n\r\n");
    b.send("GET /meet HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(test::body_of(a.read_response()) == "2");
    CHECK(test::body_of(b.read_response()) == "2");
}

TEST_CASE("server: state shared by handlers on several loops, under its own lock, counts every request") {
    App app;
    app.get("/hit/{name}", [](Path<"name", std::string> name, State<porting_test::Counter> c) {
        std::lock_guard lock(c->mutex);
        return ++c->hits[*name];
    });
    ServerOptions options;
    options.threads = 2;
    test::LiveServer server(app, options);
    {
        test::RawClient a(server.port()), b(server.port());
        for (int i = 0; i < 20; ++i) {
            a.send("GET /hit/x HTTP/1.1\r\nHost: x\r\n\r\n");
            b.send("GET /hit/x HTTP/1.1\r\nHost: x\r\n\r\n");
            CHECK(test::status_of(a.read_response()) == 200);
            CHECK(test::status_of(b.read_response()) == 200);
        }
    }
    test::RawClient c(server.port());
    c.send("GET /hit/x HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(test::body_of(c.read_response()) == "41");
}

TEST_CASE("server: background tasks of different requests are not ordered: a later request's task may finish first") {
    static std::promise<void> second_done;
    static std::atomic<bool> first_saw_second{false};
    second_done = std::promise<void>();
    first_saw_second = false;
    App app;
    app.get("/first", [](BackgroundTasks& tasks) {
        tasks.add_task([f = second_done.get_future().share()] {
            first_saw_second = f.wait_for(3s) == std::future_status::ready;
        });
        return 1;
    });
    app.get("/second", [](BackgroundTasks& tasks) {
        tasks.add_task([] { second_done.set_value(); });
        return 2;
    });
    test::LiveServer server(app);
    test::RawClient c(server.port());
    c.send("GET /first HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(test::status_of(c.read_response()) == 200);
    c.send("GET /second HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(test::status_of(c.read_response()) == 200);
    CHECK(test::eventually_true([] { return first_saw_second.load(); }));
}
