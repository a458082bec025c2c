// fastapi::Broadcast over real sockets: a message published to a channel reaches every member
// whatever loop it runs on and no one outside it; a member that never reads is closed with
// 1008 (its own queue) while the others get everything; members leave when their Membership
// goes; a BroadcastTransport carries messages between two Broadcasts (two processes' worth) and
// is told of the first join and the last leave. Message iteration (receive_message, iter_text,
// iter_json) ends with nullopt at the close.
#include "support.hpp"

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <vector>

namespace websocket_broadcast_test {

using namespace std::chrono_literals;
using fastapi::App;
using fastapi::Broadcast;
using fastapi::WebSocket;
using test::ws::close_code;
using test::ws::close_payload;
using test::ws::frame;
using test::ws::read_frame;

// /ws/{channel}: every text message is published to the channel; "who" answers the members.
void add_rooms(App& app, Broadcast& rooms, std::atomic<int>& ended, fastapi::WebSocketOptions o = {}) {
    app.websocket(
        "/ws/{channel}",
        [&rooms, &ended](WebSocket& ws, fastapi::Path<"channel", std::string> channel) -> asio::awaitable<void> {
            co_await ws.accept();
            auto member = rooms.join(*channel, ws);
            while (auto text = co_await ws.iter_text()) {
                if (*text == "who") co_await ws.send_text(std::to_string(rooms.members(*channel)));
                else rooms.publish_text(*channel, *text);
            }
            ++ended;
        },
        o);
}

// Connects to the channel and waits until the server has it as a member (its own first
// message comes back).
void join(test::RawClient& c, const std::string& channel, const std::string& hello) {
    REQUIRE(test::ws::open(c, "/ws/" + channel));
    c.send(frame(1, hello));
    auto f = read_frame(c);
    REQUIRE(f.payload == hello);
}

TEST_CASE("Broadcast: a message reaches every member of its channel, on every loop, and no one else") {
    App app;
    Broadcast rooms;
    std::atomic<int> ended{0};
    add_rooms(app, rooms, ended);
    fastapi::ServerOptions so;
    so.threads = 3;
    test::LiveServer s(app, so);
    std::vector<std::unique_ptr<test::RawClient>> a;
    for (int i = 0; i < 4; ++i) {  // connections spread over the three loops
        a.push_back(std::make_unique<test::RawClient>(s.port()));
        join(*a.back(), "a", "hello " + std::to_string(i));
        for (int j = 0; j < i; ++j) CHECK(read_frame(*a[j]).payload == "hello " + std::to_string(i));
    }
    test::RawClient b(s.port());
    join(b, "b", "hello b");
    a[0]->send(frame(1, "to a"));
    for (auto& c : a) CHECK(read_frame(*c).payload == "to a");
    b.send(frame(1, "who"));
    auto f = read_frame(b);
    CHECK(f.payload == "1");  // "to a" never came here: the next frame is the answer
    a[2]->send(frame(1, "who"));
    CHECK(read_frame(*a[2]).payload == "4");
    // One leaves: the others stay, and the count follows.
    a[3]->send(frame(8, close_payload(1000)));
    CHECK(close_code(read_frame(*a[3])) == 1000);
    REQUIRE(test::eventually_true([&] { return rooms.members("a") == 3; }));
    a[1]->send(frame(1, "after"));
    for (int i = 0; i < 3; ++i) CHECK(read_frame(*a[i]).payload == "after");
    CHECK(rooms.members("nobody") == 0);
}

TEST_CASE("Broadcast: a member that never reads is closed with 1008; the others get every message") {
    App app;
    Broadcast rooms;
    std::atomic<int> ended{0};
    fastapi::WebSocketOptions o;
    o.max_queued_bytes = 512 * 1024;
    o.ping_interval = 0ms;
    add_rooms(app, rooms, ended, o);
    test::LiveServer s(app);
    test::RawClient reader(s.port()), deaf(s.port());
    join(reader, "r", "reader");
    join(deaf, "r", "deaf");
    CHECK(read_frame(reader).payload == "deaf");
    // The deaf one reads nothing from here on; the test publishes from its own thread.
    const std::string chunk(32 * 1024, 'm');
    int received = 0;
    for (int i = 0; i < 400; ++i) {  // 12.8 MB: far past the deaf one's kernel buffers and queue
        rooms.publish_bytes("r", chunk);
        auto f = read_frame(reader);
        if (f.op == 2 && f.payload == chunk) ++received;
    }
    CHECK(received == 400);
    REQUIRE(test::eventually_true([&] { return ended.load() == 1; }, 5000ms));  // the deaf one's handler
    CHECK(rooms.members("r") == 1);
}

// Carries messages between Broadcasts as a pub/sub server would between processes: publish
// reaches every Broadcast subscribed to the channel (this one included).
struct Hub {
    std::mutex mutex;
    std::vector<std::pair<std::string, Broadcast*>> subscriptions;
    std::vector<std::string> log;  // "subscribe a", "unsubscribe a"
};
struct HubTransport final : fastapi::BroadcastTransport {
    Hub& hub;
    Broadcast* self = nullptr;
    explicit HubTransport(Hub& h) : hub(h) {}
    void publish(const std::string& channel, const WebSocket::Message& m) override {
        std::vector<Broadcast*> to;
        {
            std::lock_guard lock(hub.mutex);
            for (auto& s : hub.subscriptions)
                if (s.first == channel) to.push_back(s.second);
        }
        for (auto* b : to) b->deliver(channel, m);
    }
    void subscribe(const std::string& channel) override {
        std::lock_guard lock(hub.mutex);
        hub.subscriptions.emplace_back(channel, self);
        hub.log.push_back("subscribe " + channel);
    }
    void unsubscribe(const std::string& channel) override {
        std::lock_guard lock(hub.mutex);
        std::erase_if(hub.subscriptions, [&](auto& s) { return s.first == channel && s.second == self; });
        hub.log.push_back("unsubscribe " + channel);
    }
};

TEST_CASE("Broadcast with a transport: two servers' members of one channel hear each other") {
    Hub hub;
    auto t1 = std::make_shared<HubTransport>(hub), t2 = std::make_shared<HubTransport>(hub);
    Broadcast rooms1(t1), rooms2(t2);
    t1->self = &rooms1, t2->self = &rooms2;
    App app1, app2;
    std::atomic<int> ended{0};
    add_rooms(app1, rooms1, ended);
    add_rooms(app2, rooms2, ended);
    test::LiveServer s1(app1), s2(app2);
    {
        test::RawClient c1(s1.port()), c2(s2.port()), c1b(s1.port());
        join(c1, "x", "one");
        join(c2, "x", "two");
        join(c1b, "x", "three");
        CHECK(read_frame(c1).payload == "two");
        CHECK(read_frame(c1).payload == "three");
        CHECK(read_frame(c2).payload == "three");
        c2.send(frame(1, "across"));
        CHECK(read_frame(c1).payload == "across");
        CHECK(read_frame(c1b).payload == "across");
        CHECK(read_frame(c2).payload == "across");
        for (auto* c : {&c1, &c2, &c1b}) {
            c->send(frame(8, close_payload(1000)));
            CHECK(close_code(read_frame(*c)) == 1000);
        }
        REQUIRE(test::eventually_true([&] { return ended.load() == 3; }));
    }
    std::lock_guard lock(hub.mutex);
    // One subscription per process, however many members it has there.
    CHECK(std::count(hub.log.begin(), hub.log.end(), "subscribe x") == 2);
    CHECK(std::count(hub.log.begin(), hub.log.end(), "unsubscribe x") == 2);
    CHECK(hub.subscriptions.empty());
}

TEST_CASE("Message iteration: receive_message and iter_json end with nullopt at the close, with close_code()") {
    struct Item {
        fastapi::Field<int, fastapi::Ge<0>> n;
    };
    App app;
    std::atomic<int> code{0};
    app.websocket("/it", [&code](WebSocket& ws) -> asio::awaitable<void> {
        co_await ws.accept();
        int sum = 0;
        for (int i = 0; i < 3; ++i)
            if (auto m = co_await ws.receive_message()) sum += static_cast<int>(m->data.size());
        co_await ws.send_text(std::to_string(sum));
        for (;;) {
            std::string answer;
            try {
                auto item = co_await ws.iter_json<Item>();
                if (!item) break;
                answer = std::to_string(*item->n);
            } catch (const fastapi::WebSocketRequestValidationError& e) {
                answer = e.json();
            }
            co_await ws.send_text(answer);
        }
        code = ws.close_code();
    });
    test::LiveServer s(app);
    test::RawClient c(s.port());
    REQUIRE(test::ws::open(c, "/it"));
    c.send(frame(1, "ab") + frame(2, "cde") + frame(1, "f"));
    CHECK(read_frame(c).payload == "6");
    c.send(frame(1, "{\"n\": 7}"));
    CHECK(read_frame(c).payload == "7");
    c.send(frame(1, "{\"n\": -1}"));
    auto f = read_frame(c);
    CHECK(f.payload.find("\"greater_than_equal\"") != std::string::npos);
    CHECK(f.payload.starts_with("{\"detail\":["));
    c.send(frame(8, close_payload(4100)));
    CHECK(close_code(read_frame(c)) == 4100);
    REQUIRE(test::eventually_true([&] { return code.load() != 0; }));
    CHECK(code == 4100);
}

}  // namespace websocket_broadcast_test
