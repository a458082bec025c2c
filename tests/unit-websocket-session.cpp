// fastapi::WebSocket over a real socket: a route answers the handshake with the 101 of
// http/websocket.hpp and its on_upgrade runs a session; a raw client sends masked frames and
// reads the server's. Echo of text and binary, automatic pong, the close handshake (the
// peer's code echoed, the TCP connection closed), protocol errors closed with their code,
// receive_json<T> with FastAPI's errors, close(code, reason) from the server.
// (app.websocket(), which binds typed parameters, is not here yet.)
#include "support.hpp"

#include <atomic>
#include <string>
#include <vector>

namespace websocket_session_test {

using fastapi::App;
using fastapi::Request;
using fastapi::Response;
using fastapi::Upgraded;
using fastapi::WebSocket;
using fastapi::WebSocketDisconnect;

using test::ws::close_payload;
using test::ws::frame;
using test::ws::read_frame;
using test::ws::ServerFrame;
using test::ws::take_frame;

struct Seen {
    std::atomic<int> disconnect_code{0};
    std::atomic<bool> ended{false};
};
Seen seen;

struct Chat {
    fastapi::Field<std::string, fastapi::MinLength<1>> user;
    fastapi::Field<std::string, fastapi::MinLength<1>, fastapi::MaxLength<500>> text;
};

asio::awaitable<void> echo_session(std::shared_ptr<WebSocket> ws) {
    try {
        for (int i = 0; i < 100000; ++i) {
            WebSocket::Message m = co_await ws->receive();
            if (m.data == "close-please") {
                co_await ws->close(4001, "asked to");
                break;
            }
            if (m.data == "json") {
                std::string answer;
                try {
                    Chat c = co_await ws->receive_json<Chat>();
                    fastapi::detail::write_json(answer, c);
                } catch (const fastapi::WebSocketRequestValidationError& e) {
                    answer = fastapi::detail::render_validation_errors(e.errors());
                }
                co_await ws->send_text(answer);
                continue;
            }
            if (m.text) co_await ws->send_text(m.data);
            else co_await ws->send_bytes(m.data);
        }
    } catch (const WebSocketDisconnect& d) {
        seen.disconnect_code = d.code;
    }
    seen.ended = true;
}

void add_echo_route(App& app, std::size_t max_message = 16u << 20) {
    app.get("/ws", [max_message](const Request& req) {
        if (int status = fastapi::detail::check_websocket_handshake(req)) return fastapi::detail::websocket_handshake_refusal(status);
        Response res = fastapi::detail::websocket_accept_response(req, {});
        res.on_upgrade = [max_message](Upgraded up) {
            auto ex = up.executor();
            fastapi::WebSocketOptions o;
            o.max_message_bytes = max_message;
            asio::co_spawn(ex, echo_session(std::make_shared<WebSocket>(std::move(up), o)), asio::detached);
        };
        return res;
    });
}

// README's example, as written there.
void add_readme_route(App& app) {
    app.websocket("/ws/{room}", [](fastapi::WebSocket& ws, fastapi::Path<"room", std::string> room,
                                   fastapi::Query<"token", std::string> token) -> asio::awaitable<void> {
        if (*token != "secret") {
            ws.send_denial_response(fastapi::PlainTextResponse("no", 403));  // instead of the 101
            co_return;
        }
        co_await ws.accept();  // or accept("chat") for a subprotocol the client offered (ws.subprotocols())
        try {
            for (;;) co_await ws.send_text(*room + ": " + co_await ws.receive_text());
        } catch (const fastapi::WebSocketDisconnect& d) {  // d.code: the peer's close code
        }
    });
}

const char* handshake =
    "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

// Connects and completes the handshake; `first` is sent in the same write as the request.
void open(test::RawClient& c, std::string_view first = {}) {
    c.send(std::string(handshake) + std::string(first));
    const std::string head = c.read_until([](const std::string& b) { return b.find("\r\n\r\n") != std::string::npos; });
    REQUIRE(head.starts_with("HTTP/1.1 101 "));
    CHECK(head.find("\r\nsec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n") != std::string::npos);
    c.buffer().erase(0, head.find("\r\n\r\n") + 4);
}


TEST_CASE("WebSocket session: echo of text and binary, pong, the peer's close echoed and the connection closed") {
    App app;
    add_echo_route(app);
    test::LiveServer s(app);
    seen.ended = false;
    test::RawClient c(s.port());
    open(c, frame(1, "early"));  // sent before the 101 arrived: read from the bytes past the head
    auto f = read_frame(c);
    CHECK(f.op == 1);
    CHECK(f.payload == "early");
    c.send(frame(2, std::string("\0\x01\xff", 3)));
    f = read_frame(c);
    CHECK(f.op == 2);
    CHECK(f.payload == std::string("\0\x01\xff", 3));
    c.send(frame(1, "frag", false) + frame(9, "are you there") + frame(0, "mented"));
    f = read_frame(c);
    CHECK(f.op == 10);
    CHECK(f.payload == "are you there");
    f = read_frame(c);
    CHECK(f.op == 1);
    CHECK(f.payload == "fragmented");
    const std::string big(200000, 'b');
    c.send(frame(2, big));
    f = read_frame(c);
    CHECK(f.payload == big);
    c.send(frame(8, close_payload(4321, "done")));
    f = read_frame(c);
    CHECK(f.op == 8);
    CHECK(f.payload == close_payload(4321));
    CHECK(c.closed_by_peer());
    REQUIRE(test::eventually_true([] { return seen.ended.load(); }));
    CHECK(seen.disconnect_code == 4321);
}

TEST_CASE("WebSocket session: protocol errors close with 1002, 1007, 1009 and the connection closed") {
    App app;
    add_echo_route(app, 1000);
    test::LiveServer s(app);
    struct Case {
        std::string bytes;
        unsigned code;
    };
    std::string unmasked = "\x81\x02hi";
    std::vector<Case> cases = {{unmasked, 1002}, {frame(1, "\xed\xa0\x80"), 1007}, {frame(2, std::string(1001, 'x')), 1009},
                               {frame(8, close_payload(1005)), 1002}, {frame(0, "x"), 1002}};
    for (auto& k : cases) {
        CAPTURE(k.code);
        seen.ended = false;
        {
            test::RawClient c(s.port());
            open(c);
            c.send(k.bytes);
            auto f = read_frame(c);
            CHECK(f.op == 8);
            REQUIRE(f.payload.size() >= 2);
            CHECK(((static_cast<unsigned char>(f.payload[0]) << 8) | static_cast<unsigned char>(f.payload[1])) == k.code);
            CHECK(c.closed_by_peer());  // its FIN after the close frame; it reads on until ours
            CHECK(!seen.ended);         // (it is still reading)
        }
        REQUIRE(test::eventually_true([] { return seen.ended.load(); }));
        CHECK(seen.disconnect_code == static_cast<int>(k.code));
    }
}

TEST_CASE("WebSocket session: receive_json<T> validates as a body, server close(code, reason), a client that drops") {
    App app;
    add_echo_route(app);
    test::LiveServer s(app);
    {
        test::RawClient c(s.port());
        open(c);
        c.send(frame(1, "json") + frame(1, R"({"user":"ann","text":"hi"})"));
        auto f = read_frame(c);
        CHECK(f.payload == R"({"user":"ann","text":"hi"})");
        c.send(frame(1, "json") + frame(1, R"({"user":"ann","text":""})"));
        f = read_frame(c);
        CHECK(f.payload.find(R"("type":"string_too_short","loc":["text"])") != std::string::npos);
        c.send(frame(1, "json") + frame(1, "{not json"));
        f = read_frame(c);
        CHECK(f.payload.find("json_invalid") != std::string::npos);
        seen.ended = false;
        c.send(frame(1, "close-please"));
        f = read_frame(c);
        CHECK(f.op == 8);
        CHECK(f.payload == close_payload(4001, "asked to"));
        c.send(frame(8, close_payload(4001)));
        CHECK(c.closed_by_peer());
        REQUIRE(test::eventually_true([] { return seen.ended.load(); }));
    }
    {
        seen.ended = false;
        seen.disconnect_code = 0;
        {
            test::RawClient c(s.port());
            open(c);
            c.send(frame(1, "hello"));
            CHECK(read_frame(c).payload == "hello");
        }  // closed without a close frame
        REQUIRE(test::eventually_true([] { return seen.ended.load(); }));
        CHECK(seen.disconnect_code == 1006);
    }
    // A handshake with version 8: 426 with the version this server speaks; an ordinary request: 400.
    test::RawClient c(s.port());
    std::string v8 = handshake;
    v8.replace(v8.find("Version: 13"), 11, "Version: 8");
    c.send(v8);
    std::string r = c.read_response();
    CHECK(test::status_of(r) == 426);
    CHECK(r.find("\r\nsec-websocket-version: 13\r\n") != std::string::npos);
    c.send("GET /ws HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(test::status_of(c.read_response()) == 400);
}

TEST_CASE("app.websocket: README's example echoes text, denies without the token, closes with 1003 on binary") {
    App app;
    add_readme_route(app);
    test::LiveServer s(app);
    {
        test::RawClient c(s.port());
        c.send(std::string(handshake).replace(4, 3, "/ws/lobby?token=nope"));
        std::string r = c.read_response();
        CHECK(test::status_of(r) == 403);
        CHECK(test::body_of(r) == "no");
    }
    test::RawClient c(s.port());
    c.send(std::string(handshake).replace(4, 3, "/ws/lobby?token=secret"));
    const std::string head = c.read_until([](const std::string& b) { return b.find("\r\n\r\n") != std::string::npos; });
    REQUIRE(head.starts_with("HTTP/1.1 101 "));
    c.buffer().erase(0, head.find("\r\n\r\n") + 4);
    c.send(frame(1, "caf\xc3\xa9"));
    auto f = read_frame(c);
    CHECK(f.op == 1);
    CHECK(f.payload == "lobby: caf\xc3\xa9");
    c.send(frame(2, "bin"));
    f = read_frame(c);
    CHECK(f.op == 8);
    CHECK(f.payload.substr(0, 2) == close_payload(1003));
    c.send(frame(8, close_payload(1003)));  // the close handshake completed: then the server closes
    CHECK(c.closed_by_peer());
}

struct Routed {
    std::atomic<int> cleanups{0};
    std::atomic<bool> handler_done{false};
    std::atomic<bool> cleaned_before_end{false};
};
Routed routed;
fastapi::Scoped<int> tracked_dependency() {
    return {7, [] {
                if (!routed.handler_done) routed.cleaned_before_end = true;
                ++routed.cleanups;
            }};
}

std::string routed_handshake(std::string_view target, std::string_view extra = {}) {
    return "GET " + std::string(target) + " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" + std::string(extra) + "\r\n";
}
TEST_CASE("app.websocket: typed parameters, subprotocol, deny before accept, 1008 on invalid parameters, cleanups after the handler") {
    App app;
    app.websocket("/ws/{room}", [](WebSocket& ws, fastapi::Path<"room", std::string> room, fastapi::Query<"n", int> n,
                                   fastapi::Depends<tracked_dependency> dep) -> asio::awaitable<void> {
        if (*room == "closed") {
            ws.send_denial_response(fastapi::PlainTextResponse("no such room", 404));
            co_return;
        }
        if (*room == "forbidden") throw fastapi::WebSocketException(1008, "go away");
        std::string chosen;
        for (auto& p : ws.subprotocols())
            if (p == "chat") chosen = p;
        co_await ws.accept(chosen);
        std::string text = co_await ws.receive_text();
        co_await ws.send_text(*room + " " + std::to_string(*n + *dep) + " " + text);
        routed.handler_done = true;
        throw fastapi::WebSocketException(4002, "done here");
    });
    test::LiveServer s(app);
    {
        routed.handler_done = false;
        routed.cleanups = 0;
        test::RawClient c(s.port());
        c.send(routed_handshake("/ws/lobby?n=3", "Sec-WebSocket-Protocol: superchat, chat\r\n"));
        const std::string head = c.read_until([](const std::string& b) { return b.find("\r\n\r\n") != std::string::npos; });
        REQUIRE(head.starts_with("HTTP/1.1 101 "));
        CHECK(head.find("\r\nsec-websocket-protocol: chat\r\n") != std::string::npos);
        c.buffer().erase(0, head.find("\r\n\r\n") + 4);
        c.send(frame(1, "hi"));
        auto f = read_frame(c);
        CHECK(f.payload == "lobby 10 hi");
        f = read_frame(c);
        CHECK(f.op == 8);
        CHECK(f.payload == close_payload(4002, "done here"));
        c.send(frame(8, close_payload(4002)));
        CHECK(c.closed_by_peer());
        REQUIRE(test::eventually_true([] { return routed.cleanups.load() == 1; }));
        CHECK(!routed.cleaned_before_end);
    }
    {
        test::RawClient c(s.port());
        c.send(routed_handshake("/ws/closed?n=1"));
        std::string r = c.read_response();
        CHECK(test::status_of(r) == 404);
        CHECK(test::body_of(r) == "no such room");
        c.send(routed_handshake("/ws/forbidden?n=1"));
        CHECK(test::status_of(c.read_response()) == 403);
    }
    {
        test::RawClient c(s.port());
        c.send(routed_handshake("/ws/lobby?n=many"));
        const std::string head = c.read_until([](const std::string& b) { return b.find("\r\n\r\n") != std::string::npos; });
        REQUIRE(head.starts_with("HTTP/1.1 101 "));
        c.buffer().erase(0, head.find("\r\n\r\n") + 4);
        auto f = read_frame(c);
        CHECK(f.op == 8);
        REQUIRE(f.payload.size() >= 2);
        CHECK(f.payload.substr(0, 2) == close_payload(1008));
        CHECK(f.payload.substr(2).starts_with("query.n: "));
        CHECK(f.payload.size() <= 125);
    }
    {
        test::RawClient c(s.port());
        c.send("GET /ws/lobby?n=1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 7\r\n\r\n");
        CHECK(test::status_of(c.read_response()) == 426);
    }
}

TEST_CASE("APIRouter.websocket: a WebSocket route under the router's prefix") {
    fastapi::APIRouter router(fastapi::RouterOptions{.prefix = "/api"});
    router.websocket("/echo/{id}", [](WebSocket& ws, fastapi::Path<"id", int> id) -> asio::awaitable<void> {
        co_await ws.accept();
        co_await ws.send_text(std::to_string(*id * 2));
        co_await ws.close();
    });
    App app;
    app.include_router(router);
    test::LiveServer s(app);
    test::RawClient c(s.port());
    c.send(std::string(handshake).replace(4, 3, "/api/echo/21"));
    const std::string head = c.read_until([](const std::string& b) { return b.find("\r\n\r\n") != std::string::npos; });
    REQUIRE(head.starts_with("HTTP/1.1 101 "));
    c.buffer().erase(0, head.find("\r\n\r\n") + 4);
    auto f = read_frame(c);
    CHECK(f.payload == "42");
    f = read_frame(c);
    CHECK(f.op == 8);
    CHECK(f.payload == close_payload(1000));
    c.send(frame(8, close_payload(1000)));
    CHECK(c.closed_by_peer());
}

}  // namespace websocket_session_test
