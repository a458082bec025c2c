// WebSockets: GET / answers "ok"; /ws/echo echoes every message with its opcode (text or
// binary), selects the subprotocol "chat" when the client offers it, and answers a close
// frame with the same code; messages over 16 MiB are refused with 1009 (the default limit).
// /ws/rooms/{room} is a chat: each JSON message {"user": str, "text": str (1-500 chars)} is
// broadcast to everyone in the room; an invalid one is answered, to its sender only, with
// FastAPI's error list. With REDIS_URL set, the rooms are shared through Redis pub/sub by every
// process using that Redis (several workers, several machines).
// Served on $HOST:$PORT (default 0.0.0.0:8000).
//   g++ -std=c++20 -O2 -I. examples/websockets.cpp -pthread && ./a.out
#include "fastapi.hpp"

#include <algorithm>  // find
#include <cstdlib>    // getenv
#include <memory>     // shared_ptr
#include <string>     // string

struct ChatMessage {
    std::string user;
    fastapi::Field<std::string, fastapi::MinLength<1>, fastapi::MaxLength<500>> text;
};

int main() {
    fastapi::App app;
    // The chat rooms: within this process (across its event loops), or through Redis.
    std::shared_ptr<fastapi::BroadcastTransport> redis;
    if (const char* url = std::getenv("REDIS_URL")) redis = std::make_shared<fastapi::RedisBroadcast>(url);
    fastapi::Broadcast rooms(redis);
    app.get("/", [] { return fastapi::PlainTextResponse("ok"); });
    app.websocket("/ws/echo", [](fastapi::WebSocket& ws) -> asio::awaitable<void> {
        const auto& offered = ws.subprotocols();
        const bool chat = std::find(offered.begin(), offered.end(), "chat") != offered.end();
        co_await ws.accept(chat ? "chat" : "");
        // Until the connection closes (the peer's close echoed, or an error's code sent).
        while (auto m = co_await ws.receive_message()) {
            if (m->text) co_await ws.send_text(m->data);
            else co_await ws.send_bytes(m->data);
        }
    });
    app.websocket("/ws/rooms/{room}", [&rooms](fastapi::WebSocket& ws,
                                              fastapi::Path<"room", std::string> room) -> asio::awaitable<void> {
        co_await ws.accept();
        auto member = rooms.join(*room, ws);  // leaves when the handler returns
        for (;;) {
            std::string errors;  // (C++ cannot co_await inside a catch block)
            try {
                std::optional<ChatMessage> message = co_await ws.iter_json<ChatMessage>();
                if (!message) break;  // the client left
                rooms.publish_json(*room, *message);
                continue;
            } catch (const fastapi::WebSocketRequestValidationError& e) {
                errors = e.json();
            }
            co_await ws.send_text(errors);  // to the sender only
        }
    });
    app.run();
}
