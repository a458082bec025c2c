// WebSockets: GET / answers "ok"; /ws/echo echoes every message with its opcode (text or
// binary), selects the subprotocol "chat" when the client offers it, and answers a close
// frame with the same code; messages over 16 MiB are refused with 1009 (the default limit).
// Served on $HOST:$PORT (default 0.0.0.0:8000).
//   g++ -std=c++20 -O2 -I. examples/websockets.cpp -pthread && ./a.out
#include "fastapi.hpp"

#include <algorithm>  // find

int main() {
    fastapi::App app;
    app.get("/", [] { return fastapi::PlainTextResponse("ok"); });
    app.websocket("/ws/echo", [](fastapi::WebSocket& ws) -> asio::awaitable<void> {
        const auto& offered = ws.subprotocols();
        const bool chat = std::find(offered.begin(), offered.end(), "chat") != offered.end();
        co_await ws.accept(chat ? "chat" : "");
        try {
            for (;;) {  // ends with WebSocketDisconnect: the peer's close (echoed) or an error
                fastapi::WebSocket::Message m = co_await ws.receive();
                if (m.text) co_await ws.send_text(m.data);
                else co_await ws.send_bytes(m.data);
            }
        } catch (const fastapi::WebSocketDisconnect&) {
        }
    });
    app.run();
}
