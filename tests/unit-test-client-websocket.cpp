// TestClient in process: websocket_connect with Starlette's WebSocketTestSession API (send_*,
// receive_*, close, the server's close code, a denial as WebSocketDenialResponse, 1008 on
// invalid parameters) and stream(): a streamed response and an event stream read chunk by
// chunk, with the producer cancelled when the test stops reading.
#include "support.hpp"

#include <atomic>
#include <string>

namespace test_client_websocket_test {

using fastapi::App;
using fastapi::TestClient;
using fastapi::WebSocket;
using fastapi::WebSocketDisconnect;

struct Note {
    fastapi::Field<std::string, fastapi::MinLength<1>> text;
};

void add_routes(App& app, std::atomic<int>& seen_code) {
    app.websocket("/ws/echo", [&seen_code](WebSocket& ws) -> asio::awaitable<void> {
        const auto& offered = ws.subprotocols();
        // (A named string: GCC 12 miscompiles a std::string temporary made by ?: in a co_await.)
        const std::string chosen = offered.empty() ? std::string() : offered.front();
        co_await ws.accept(chosen);
        try {
            for (;;) {
                auto m = co_await ws.receive();
                if (m.data == "bye") {
                    co_await ws.close(4002, "you said bye");
                    co_return;
                }
                if (m.text) co_await ws.send_text(m.data);
                else co_await ws.send_bytes(m.data);
            }
        } catch (const WebSocketDisconnect& d) {
            seen_code = d.code;
        }
    });
    app.websocket("/ws/notes", [](WebSocket& ws, fastapi::Query<"n", int> n) -> asio::awaitable<void> {
        co_await ws.accept();
        for (int i = 0; i < *n; ++i) {
            std::string answer;
            try {
                Note note = co_await ws.receive_json<Note>();
                picojson::object o;
                o["echo"] = picojson::value(*note.text);
                answer = picojson::value(o).serialize();
            } catch (const fastapi::WebSocketRequestValidationError& e) {
                answer = e.json();
            }
            co_await ws.send_text(answer);
        }
    });
    app.websocket("/ws/private", [](WebSocket& ws, fastapi::Header<"x-token", std::string> token) -> asio::awaitable<void> {
        if (*token != "secret") {
            ws.send_denial_response(fastapi::PlainTextResponse("go away", 401));
            co_return;
        }
        co_await ws.accept();
        co_await ws.send_text("welcome");
    });
}

TEST_CASE("TestClient.websocket_connect: send and receive text, bytes and JSON; close codes both ways") {
    App app;
    std::atomic<int> seen_code{0};
    add_routes(app, seen_code);
    TestClient client(app);
    {
        auto ws = client.websocket_connect("/ws/echo", {"chat", "superchat"});
        CHECK(ws.accepted_subprotocol() == "chat");
        ws.send_text("héllo");
        CHECK(ws.receive_text() == "héllo");
        ws.send_bytes(std::string("\0\x01\xff", 3));
        CHECK(ws.receive_bytes() == std::string("\0\x01\xff", 3));
        ws.send_json(picojson::value(42.0));
        CHECK(ws.receive_json().get<double>() == 42.0);
        ws.send_ping("are you there");
        ws.send_text("after the ping");
        CHECK(ws.receive_text() == "after the ping");
        CHECK(ws.pong_count() == 1);
        ws.close(4100, "done");
        CHECK(ws.close_code() == 4100);  // the server echoed our code
    }
    CHECK(seen_code == 4100);
    {
        auto ws = client.websocket_connect("/ws/echo");
        CHECK(ws.accepted_subprotocol().empty());
        ws.send_text("bye");
        try {
            (void)ws.receive_text();
            FAIL("the server's close was not raised");
        } catch (const WebSocketDisconnect& d) {
            CHECK(d.code == 4002);
            CHECK(d.reason == "you said bye");
        }
        CHECK(ws.close_code() == 4002);
    }
    {
        auto ws = client.websocket_connect("/ws/echo");
        ws.send_text("one");
        CHECK(ws.receive_text() == "one");
    }  // out of scope: closed with 1000
    CHECK(seen_code == 1000);
}

TEST_CASE("TestClient.websocket_connect: receive_json<T> errors as FastAPI's list; 1008 on invalid parameters; a denial") {
    App app;
    std::atomic<int> seen_code{0};
    add_routes(app, seen_code);
    TestClient client(app);
    {
        auto ws = client.websocket_connect("/ws/notes?n=2");
        ws.send_text("{\"text\": \"hi\"}");
        CHECK(ws.receive_json().get("echo").get<std::string>() == "hi");
        ws.send_text("{\"text\": \"\"}");
        auto err = ws.receive_json();
        CHECK(err.get("detail").get(0).get("type").get<std::string>() == "string_too_short");
        try {  // the handler returned after two: closed with 1000
            (void)ws.receive_text();
            FAIL("no close");
        } catch (const WebSocketDisconnect& d) {
            CHECK(d.code == 1000);
        }
    }
    {
        auto ws = client.websocket_connect("/ws/notes?n=many");
        try {
            (void)ws.receive_text();
            FAIL("no close");
        } catch (const WebSocketDisconnect& d) {
            CHECK(d.code == 1008);
            CHECK(d.reason.find("query.n") != std::string::npos);
        }
    }
    try {
        auto ws = client.websocket_connect("/ws/private", {}, test::hdrs({{"x-token", "wrong"}}));
        FAIL("a denied handshake gave a session");
    } catch (const fastapi::WebSocketDenialResponse& d) {
        CHECK(d.status_code == 401);
        CHECK(d.text == "go away");
    }
    auto ws = client.websocket_connect("/ws/private", {}, test::hdrs({{"x-token", "secret"}}));
    CHECK(ws.receive_text() == "welcome");
    try {
        auto none = client.websocket_connect("/nowhere");
        FAIL("a 404 gave a session");
    } catch (const fastapi::WebSocketDenialResponse& d) {
        CHECK(d.status_code == 404);
    }
}

TEST_CASE("TestClient.stream: a streamed body and an event stream read chunk by chunk; the producer cancelled on close") {
    App app;
    std::atomic<bool> cancelled{false};
    app.get("/count", [] {
        return fastapi::StreamingResponse([](fastapi::StreamWriter& out) -> asio::awaitable<void> {
            for (int i = 1; i <= 3; ++i) {
                asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(20));
                co_await t.async_wait(asio::use_awaitable);
                co_await out.write("part " + std::to_string(i) + "\n");
            }
        }, "text/plain");
    });
    app.get("/events", [&cancelled] {
        return fastapi::EventSourceResponse<int>([&cancelled](fastapi::EventStream<int>& out) -> asio::awaitable<void> {
            try {
                for (int i = 1; i <= 1000000; ++i) {
                    co_await out.send(i);
                    asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(5));
                    co_await t.async_wait(asio::use_awaitable);
                }
            } catch (const asio::system_error&) {
                cancelled = true;
                throw;
            }
        });
    });
    app.get("/plain", [] { return fastapi::PlainTextResponse("whole"); });
    TestClient client(app);
    {
        auto r = client.stream("GET", "/count");
        CHECK(r.status_code == 200);
        CHECK(r.headers.get("content-type").value_or("") == "text/plain");
        CHECK(r.next_chunk() == std::optional<std::string>("part 1\n"));
        CHECK(r.next_chunk() == std::optional<std::string>("part 2\n"));
        CHECK(r.next_chunk() == std::optional<std::string>("part 3\n"));
        CHECK(!r.next_chunk().has_value());
    }
    {
        auto r = client.stream("GET", "/events");
        CHECK(r.status_code == 200);
        CHECK(r.headers.get("content-type").value_or("").starts_with("text/event-stream"));
        CHECK(r.next_chunk() == std::optional<std::string>("data: 1\n\n"));
        CHECK(r.next_chunk() == std::optional<std::string>("data: 2\n\n"));
        r.close();  // the endless stream: the test stops reading
    }
    CHECK(cancelled);
    auto plain = client.stream("GET", "/plain");  // an ordinary response: its body, then the end
    CHECK(plain.status_code == 200);
    CHECK(plain.read() == "whole");
}

}  // namespace test_client_websocket_test
