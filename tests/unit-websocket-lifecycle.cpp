// A WebSocket's life in the server, over real sockets: the server's keep-alive pings and the
// pong timeout (1011), upgraded connections counted in Limits::max_connections, a graceful
// stop closing WebSockets with 1001 (and, past the grace period, dropping them and cancelling
// their handlers), event streams ended by a graceful stop, and the bound on data queued for a
// client that never reads (1008).
#include "support.hpp"

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

namespace websocket_lifecycle_test {

using namespace std::chrono_literals;
using fastapi::App;
using fastapi::WebSocket;
using fastapi::WebSocketDisconnect;
using test::ws::close_code;
using test::ws::close_payload;
using test::ws::frame;
using test::ws::read_frame;

struct Seen {
    std::atomic<int> code{0};
    std::atomic<bool> ended{false};
    std::atomic<int> sent{0};
};

// Echoes until the connection closes; records the close code.
void add_echo(App& app, Seen& seen, fastapi::WebSocketOptions options = {}) {
    app.websocket(
        "/ws",
        [&seen](WebSocket& ws) -> asio::awaitable<void> {
            co_await ws.accept();
            try {
                for (int i = 0; i < 100000; ++i) co_await ws.send_text(co_await ws.receive_text());
            } catch (const WebSocketDisconnect& d) {
                seen.code = d.code;
            }
            seen.ended = true;
        },
        options);
}

TEST_CASE("WebSocket keep-alive: the server pings; a pong keeps the connection, no pong closes it with 1011") {
    App app;
    Seen seen;
    fastapi::WebSocketOptions o;
    o.ping_interval = 100ms;
    o.ping_timeout = 300ms;
    add_echo(app, seen, o);
    test::LiveServer s(app);
    test::RawClient c(s.port());
    REQUIRE(test::ws::open(c, "/ws"));
    auto ping = read_frame(c);
    REQUIRE(ping.op == 9);
    CHECK(!ping.payload.empty());
    c.send(frame(10, ping.payload));  // answered: the connection lives on, and pings again
    auto next = read_frame(c);
    REQUIRE(next.op == 9);
    CHECK(next.payload != ping.payload);
    c.send(frame(10, next.payload));
    c.send(frame(1, "still here"));
    auto echo = read_frame(c);
    for (int i = 0; i < 10 && echo.op == 9; ++i) {
        c.send(frame(10, echo.payload));
        echo = read_frame(c);
    }
    CHECK(echo.op == 1);
    CHECK(echo.payload == "still here");
    // A pong with another payload is not the answer: the next ping goes unanswered.
    auto unanswered = read_frame(c);
    REQUIRE(unanswered.op == 9);
    c.send(frame(10, "not it"));
    auto closing = read_frame(c);
    CHECK(close_code(closing) == 1011);
    CHECK(closing.payload.substr(2) == "keepalive ping timeout");
    CHECK(c.closed_by_peer());
    REQUIRE(test::eventually_true([&] { return seen.ended.load(); }));
    CHECK(seen.code == 1011);
}

TEST_CASE("WebSocket keep-alive: ping_interval 0 sends no pings") {
    App app;
    Seen seen;
    fastapi::WebSocketOptions o;
    o.ping_interval = 0ms;
    add_echo(app, seen, o);
    test::LiveServer s(app);
    test::RawClient c(s.port(), 400ms);
    REQUIRE(test::ws::open(c, "/ws"));
    CHECK(read_frame(c).op == 998);  // nothing within the client's 400 ms
    c.send(frame(1, "hi"));
    CHECK(read_frame(c).payload == "hi");
}

TEST_CASE("Upgraded connections count against Limits::max_connections until they close") {
    App app;
    Seen seen;
    add_echo(app, seen);
    app.get("/", [] { return fastapi::PlainTextResponse("ok"); });
    fastapi::ServerOptions so;
    so.limits.max_connections = 1;
    test::LiveServer s(app, so);
    {
        test::RawClient c(s.port());
        REQUIRE(test::ws::open(c, "/ws"));
        c.send(frame(1, "x"));
        CHECK(read_frame(c).payload == "x");
        test::RawClient other(s.port());
        other.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        CHECK(test::status_of(other.read_response()) == 503);  // the WebSocket holds the one connection
        c.send(frame(8, close_payload(1000)));
        CHECK(close_code(read_frame(c)) == 1000);
        CHECK(c.closed_by_peer());
    }
    REQUIRE(test::eventually_true([&] { return seen.ended.load(); }));
    bool served = test::eventually_true([&] {
        test::RawClient again(s.port());
        again.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        return test::status_of(again.read_response()) == 200;
    });
    CHECK(served);
}

TEST_CASE("A graceful stop closes WebSockets with 1001 and returns once they have closed") {
    App app;
    Seen seen;
    add_echo(app, seen);
    fastapi::ServerOptions so;
    so.graceful_shutdown_timeout = 10s;
    test::LiveServer s(app, so);
    test::RawClient c(s.port());
    REQUIRE(test::ws::open(c, "/ws"));
    c.send(frame(1, "before"));
    CHECK(read_frame(c).payload == "before");
    const auto t0 = std::chrono::steady_clock::now();
    std::thread stopper([&] { s.stop(); });
    auto f = read_frame(c);
    CHECK(close_code(f) == 1001);
    CHECK(f.payload.substr(2) == "server shutting down");
    c.send(frame(8, close_payload(1001)));  // the client completes the close handshake
    CHECK(c.closed_by_peer());
    stopper.join();
    CHECK(std::chrono::steady_clock::now() - t0 < 5s);  // well within the 10 s grace period
    CHECK(seen.ended);
    CHECK(seen.code == 1001);
}

TEST_CASE("Past the grace period a WebSocket is dropped and its handler cancelled") {
    App app;
    std::atomic<bool> cancelled{false}, ended{false};
    app.websocket("/ws", [&](WebSocket& ws) -> asio::awaitable<void> {
        co_await ws.accept();
        asio::steady_timer t(co_await asio::this_coro::executor, 1h);  // deaf to the 1001: never receives
        asio::error_code ec;
        co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        cancelled = ec == asio::error::operation_aborted;
        ended = true;
    });
    fastapi::ServerOptions so;
    so.graceful_shutdown_timeout = 300ms;
    test::LiveServer s(app, so);
    test::RawClient c(s.port());
    REQUIRE(test::ws::open(c, "/ws"));
    const auto t0 = std::chrono::steady_clock::now();
    std::thread stopper([&] { s.stop(); });
    CHECK(close_code(read_frame(c)) == 1001);  // asked, not answered by this client
    CHECK(c.closed_by_peer());
    stopper.join();
    CHECK(std::chrono::steady_clock::now() - t0 < 2s);
    CHECK(ended);
    CHECK(cancelled);
}

TEST_CASE("A graceful stop ends an event stream at once, with its last chunk; a StreamingResponse runs on") {
    App app;
    app.get("/events", [] {
        return fastapi::EventSourceResponse<int>([](fastapi::EventStream<int>& out) -> asio::awaitable<void> {
            co_await out.send(1);
            asio::steady_timer t(co_await asio::this_coro::executor, 1h);  // an endless stream, idle
            co_await t.async_wait(asio::use_awaitable);
        });
    });
    fastapi::ServerOptions so;
    so.graceful_shutdown_timeout = 10s;
    test::LiveServer s(app, so);
    test::RawClient c(s.port());
    c.send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
    c.read_until([](const std::string& b) { return b.find("data: 1\n\n") != std::string::npos; });
    REQUIRE(c.buffer().find("data: 1\n\n") != std::string::npos);
    const auto t0 = std::chrono::steady_clock::now();
    std::thread stopper([&] { s.stop(); });
    CHECK(c.closed_by_peer());
    stopper.join();
    CHECK(std::chrono::steady_clock::now() - t0 < 3s);
    const std::string& got = c.buffer();
    CHECK(got.size() >= 5);
    CHECK(got.substr(got.size() - 5) == "0\r\n\r\n");  // a complete chunked response
}

// Posts messages (queued without waiting, as a broadcast does), yielding between them so the
// queue drains as fast as the client reads.
void add_poster(App& app, Seen& seen, std::size_t message_bytes, int count, std::size_t max_queued) {
    fastapi::WebSocketOptions o;
    o.max_queued_bytes = max_queued;
    o.ping_interval = 0ms;
    app.websocket(
        "/ws",
        [&seen, message_bytes, count](WebSocket& ws) -> asio::awaitable<void> {
            co_await ws.accept();
            const std::string chunk(message_bytes, 'x');
            for (int i = 0; i < count && ws.state() == WebSocket::State::connected; ++i) {
                ws.post({false, chunk});
                ++seen.sent;
                co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
            }
            seen.code = ws.state() == WebSocket::State::connected ? 0 : ws.close_code();
            seen.ended = true;
            try {
                for (int i = 0; i < 100; ++i) (void)co_await ws.receive();
            } catch (const WebSocketDisconnect&) {
            }
        },
        o);
}

TEST_CASE("A client that never reads: past max_queued_bytes the server closes with 1008") {
    App app;
    Seen seen;
    add_poster(app, seen, 64 * 1024, 20000, 256 * 1024);  // 1.25 GB at most: far past what the kernel buffers
    test::LiveServer s(app);
    test::RawClient c(s.port());
    REQUIRE(test::ws::open(c, "/ws"));  // and then reads nothing
    REQUIRE(test::eventually_true([&] { return seen.ended.load(); }, 10000ms));
    CHECK(seen.code == 1008);
    CHECK(seen.sent < 20000);
}

TEST_CASE("A client that reads gets every posted message: the bound is on the backlog, not the total") {
    App app;
    Seen seen;
    add_poster(app, seen, 16 * 1024, 300, 1024 * 1024);  // 4.8 MB in all through a 1 MiB bound
    test::LiveServer s(app);
    test::RawClient c(s.port());
    REQUIRE(test::ws::open(c, "/ws"));
    int received = 0;
    for (int i = 0; i < 300; ++i) {
        auto f = read_frame(c);
        if (f.op != 2 || f.payload.size() != 16 * 1024) break;
        ++received;
    }
    CHECK(received == 300);
    REQUIRE(test::eventually_true([&] { return seen.ended.load(); }));
    CHECK(seen.code == 0);
}

}  // namespace websocket_lifecycle_test
