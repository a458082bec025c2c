// test_session: what a TestClient test holds open while it talks to the app: a WebSocket
// (Starlette's WebSocketTestSession: send_text, receive_json, close...) and a streamed
// response read chunk by chunk. Both run the server's own connection over an in-memory pipe
// on a loop of their own, driven from the test's thread: each call feeds the pipe and runs
// the loop until what it waits for has come (at most `timeout`, then it throws). The same
// lifecycle as every TestClient request (run_in_memory), kept open. Relies on server.
#pragma once
#include "../http/websocket.hpp"
#include "../model/json.hpp"
#include "server.hpp"

#include <chrono>       // milliseconds, steady_clock
#include <memory>       // unique_ptr, shared_ptr
#include <optional>     // optional
#include <stdexcept>    // runtime_error
#include <string>       // string
#include <string_view>  // string_view

namespace fastapi {

namespace detail {

// One connection over an in-memory pipe, on its own loop, kept open until this goes.
// Internal: TestClient's sessions hold it by pointer.
class InMemorySession;
#if FASTAPI_INTERNALS
class InMemorySession {
public:
    FASTAPI_DECL InMemorySession(const std::shared_ptr<ServerState>& state, std::string_view request, std::chrono::milliseconds timeout);
    ~InMemorySession() { finish(); }
    InMemorySession(const InMemorySession&) = delete;
    InMemorySession& operator=(const InMemorySession&) = delete;

    // Runs the loop until `done()` holds (true), or the timeout passes (false). An exception a
    // completion handler lets out is the test's.
    template <class Pred>
    bool run_until(Pred done) {
        const auto deadline = std::chrono::steady_clock::now() + timeout_;
        for (int i = 0; i < 10000000 && !done(); ++i) {
            if (std::chrono::steady_clock::now() >= deadline) return false;
            io_->restart();
            io_->run_one_for(std::chrono::milliseconds(10));
        }
        return true;
    }
    // What the server wrote and the test has not taken yet.
    std::string& output() noexcept { return pipe_->output; }
    bool output_closed() const noexcept { return pipe_->output_closed || pipe_->closed; }
    void feed(std::string_view bytes) {
        pipe_->feed(bytes);
        io_->restart();
        io_->poll();
    }
    // No more input; the loop runs until it is out of work (bounded), then the rest is dropped.
    FASTAPI_DECL void finish();

private:
    std::unique_ptr<asio::io_context> io_;
    std::unique_ptr<Worker> worker_;
    std::shared_ptr<MemoryPipe> pipe_;
    std::weak_ptr<Connection> connection_;
    std::chrono::milliseconds timeout_;
};

// The session's connection is the implementation unit's (server.hpp's Connection).
#if FASTAPI_DEFINITIONS
FASTAPI_DECL InMemorySession::InMemorySession(const std::shared_ptr<ServerState>& state, std::string_view request,
                                              std::chrono::milliseconds timeout)
    : io_(std::make_unique<asio::io_context>(1)), worker_(std::make_unique<Worker>(*io_)), timeout_(timeout) {
    pipe_ = std::make_shared<MemoryPipe>(io_->get_executor());
    pipe_->interactive = true;
    pipe_->input.assign(request);
    connection_ = state->app.connection_opener(Stream(pipe_), state, *worker_, false);
}

FASTAPI_DECL void InMemorySession::finish() {
    if (!io_) return;
    pipe_->interactive = false;
    pipe_->close_input();
    if (auto c = connection_.lock()) c->end_of_input();
    const auto deadline = std::chrono::steady_clock::now() + timeout_;
    io_->restart();
    while (!io_->stopped() && std::chrono::steady_clock::now() < deadline) {
        if (io_->run_one_for(std::chrono::milliseconds(10)) == 0 && io_->stopped()) break;
    }
    if (auto c = connection_.lock()) c->close();
    io_->restart();
    io_->poll();
    pipe_->pending.reset();
    worker_->sweeper.reset();
    worker_->strand.reset();
    if (!connection_.expired()) (void)worker_.release();  // kept: something still holds the connection
    io_.reset();
}
#endif
#endif  // FASTAPI_INTERNALS

// The first whole frame a server wrote in `b` (unmasked), removed from it.
struct TestFrame {
    bool fin = true;
    unsigned op = 0;
    std::string payload;
};
FASTAPI_DECL std::optional<TestFrame> take_server_frame(std::string& b);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::optional<TestFrame> take_server_frame(std::string& b) {
    if (b.size() < 2) return std::nullopt;
    const auto* p = reinterpret_cast<const unsigned char*>(b.data());
    const std::size_t at = ws_header_size(p[1]);  // a server's frames are not masked
    if (b.size() < at) return std::nullopt;
    const std::uint64_t len = ws_payload_length(p);
    if (b.size() - at < len) return std::nullopt;
    TestFrame f{(p[0] & 0x80) != 0, static_cast<unsigned>(p[0] & 0x0F), b.substr(at, len)};
    b.erase(0, at + len);
    return f;
}
#endif
// A client's frame: masked, as RFC 6455 requires of a client.
FASTAPI_DECL std::string client_frame(WsOpcode op, std::string_view payload);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string client_frame(WsOpcode op, std::string_view payload) {
    const unsigned char mask[4] = {0x37, 0xfa, 0x21, 0x3d};
    std::string out;
    out += static_cast<char>(0x80 | static_cast<unsigned>(op));
    const std::uint64_t n = payload.size();
    if (n < 126) out += static_cast<char>(0x80 | n);
    else if (n <= 0xFFFF) out += static_cast<char>(0x80 | 126), out += char(n >> 8), out += char(n & 0xFF);
    else {
        out += static_cast<char>(0x80 | 127);
        for (int i = 7; i >= 0; --i) out += char((n >> (8 * i)) & 0xFF);
    }
    out.append(reinterpret_cast<const char*>(mask), 4);
    for (std::size_t i = 0; i < n; ++i) out += static_cast<char>(payload[i] ^ mask[i & 3]);
    return out;
}
#endif

}  // namespace detail

// A WebSocket handshake the app answered with an HTTP response instead of the 101 (a denial,
// a handler that closed or returned before accept: 403, an HTTPException): Starlette's
// WebSocketDenialResponse.
class WebSocketDenialResponse : public std::runtime_error {
public:
    WebSocketDenialResponse(int status, Headers h, std::string body)
        : std::runtime_error("fastapi: the WebSocket handshake was answered " + std::to_string(status)),
          status_code(status), headers(std::move(h)), text(std::move(body)) {}
    int status_code;
    Headers headers;
    std::string text;
};

// TestClient::websocket_connect's session (Starlette's WebSocketTestSession). receive_*
// raise WebSocketDisconnect (with the server's close code and reason) once the server has
// closed; a receive that waits longer than the client's timeout throws std::runtime_error.
// Going out of scope closes with 1000 if the test did not close.
class WebSocketTestSession {
public:
    WebSocketTestSession(const std::shared_ptr<detail::ServerState>& state, std::string_view request,
                         std::chrono::milliseconds timeout);
    ~WebSocketTestSession();
    WebSocketTestSession(const WebSocketTestSession&) = delete;
    WebSocketTestSession& operator=(const WebSocketTestSession&) = delete;

    // The 101's headers, and the subprotocol the app accepted with (empty for none).
    const Headers& headers() const noexcept { return headers_; }
    const std::string& accepted_subprotocol() const noexcept { return subprotocol_; }

    void send_text(std::string_view text);
    void send_bytes(std::string_view bytes);
    template <class T>
    void send_json(const T& value) {
        std::string json;
        detail::write_json(json, value);
        send(detail::WsOpcode::text, json);
    }
    // A ping frame; its pong is taken by the next receive (pong_count() counts them).
    void send_ping(std::string_view payload = {});
    std::size_t pong_count() const noexcept { return pongs_; }

    // The next message, text or binary.
    WebSocket::Message receive();
    std::string receive_text();
    std::string receive_bytes();
    picojson::value receive_json();

    // Closes with `code` and `reason`, and waits (bounded) for the server's close frame and the
    // end of the session.
    void close(int code = 1000, std::string_view reason = {});
    // The server's close code once it closed (or answered our close); 0 before.
    int close_code() const noexcept { return close_code_; }
    const std::string& close_reason() const noexcept { return close_reason_; }

private:
    void send(detail::WsOpcode op, std::string_view payload);
    detail::TestFrame next_frame();
    static WebSocketDenialResponse denial(std::string_view raw);

    std::unique_ptr<detail::InMemorySession> session_;
    std::string head_;
    Headers headers_;
    std::string subprotocol_;
    bool closed_ = false;
    int close_code_ = 0;
    std::string close_reason_;
    std::size_t pongs_ = 0;
};

// TestClient::stream's response (httpx's client.stream): the status and headers once they
// have come, then the body as the server sends it, chunk by chunk (a chunked body's chunks
// decoded; otherwise what each write brought).
class TestStreamResponse {
public:
    TestStreamResponse(const std::shared_ptr<detail::ServerState>& state, std::string_view request,
                       std::chrono::milliseconds timeout);
    ~TestStreamResponse();
    TestStreamResponse(const TestStreamResponse&) = delete;
    TestStreamResponse& operator=(const TestStreamResponse&) = delete;

    int status_code = 0;
    Headers headers;

    // The next chunk of the body, or nullopt at its end. Throws std::runtime_error when none
    // comes within the client's timeout.
    std::optional<std::string> next_chunk();
    // The rest of the body.
    std::string read();
    // Stops reading: the connection closes, as a client that goes away (the producer is
    // cancelled).
    void close();

private:
    std::unique_ptr<detail::InMemorySession> session_;
    bool chunked_ = false, done_ = false;
    std::optional<std::uint64_t> left_;
};


#if FASTAPI_DEFINITIONS
FASTAPI_DECL WebSocketTestSession::WebSocketTestSession(const std::shared_ptr<detail::ServerState>& state, std::string_view request,
                     std::chrono::milliseconds timeout)
    : session_(std::make_unique<detail::InMemorySession>(state, request, timeout)) {
    auto& out = session_->output();
    session_->run_until([&] { return out.find("\r\n\r\n") != std::string::npos || session_->output_closed(); });
    const auto end = out.find("\r\n\r\n");
    if (end == std::string::npos) throw std::runtime_error("TestClient: no answer to the WebSocket handshake");
    head_ = out.substr(0, end + 4);
    if (!head_.starts_with("HTTP/1.1 101 ")) {  // a denial: the whole HTTP response, then the end
        session_->finish();
        throw denial(out);
    }
    out.erase(0, end + 4);
    for (std::size_t at = head_.find("\r\n"); at != std::string::npos && at + 2 < end;) {
        const std::size_t eol = head_.find("\r\n", at + 2);
        const std::string_view line = std::string_view(head_).substr(at + 2, eol - at - 2);
        const std::size_t colon = line.find(':');
        if (colon != std::string_view::npos) detail::append_header(headers_, line.substr(0, colon), detail::trim_ows(line.substr(colon + 1)));
        at = eol;
    }
    if (auto p = headers_.get("sec-websocket-protocol")) subprotocol_ = std::string(*p);
}

FASTAPI_DECL WebSocketTestSession::~WebSocketTestSession() {
    try {
        if (!closed_) close(1000);
    } catch (...) {
    }
}

FASTAPI_DECL void WebSocketTestSession::send_text(std::string_view text) { send(detail::WsOpcode::text, text); }

FASTAPI_DECL void WebSocketTestSession::send_bytes(std::string_view bytes) { send(detail::WsOpcode::binary, bytes); }

FASTAPI_DECL void WebSocketTestSession::send_ping(std::string_view payload) { send(detail::WsOpcode::ping, payload); }

FASTAPI_DECL WebSocket::Message WebSocketTestSession::receive() {
    std::string data;
    bool text = false, started = false;
    for (;;) {
        detail::TestFrame f = next_frame();
        using Op = detail::WsOpcode;
        switch (static_cast<Op>(f.op)) {
            case Op::ping: send(Op::pong, f.payload); continue;
            case Op::pong: ++pongs_; continue;
            case Op::close: {
                int code = 1005;
                std::string reason;
                if (f.payload.size() >= 2)
                    code = (static_cast<unsigned char>(f.payload[0]) << 8) | static_cast<unsigned char>(f.payload[1]),
                    reason = f.payload.substr(2);
                if (!closed_) {  // answered with its code, as a client does
                    closed_ = true;
                    std::string frame_payload = f.payload.substr(0, 2);
                    session_->feed(detail::client_frame(Op::close, frame_payload));
                }
                close_code_ = code, close_reason_ = reason;
                session_->finish();
                throw WebSocketDisconnect(code, reason);
            }
            default: break;
        }
        if (!started) text = f.op == 1, started = true;
        data += f.payload;
        if (f.fin) return {text, std::move(data)};
    }
}

FASTAPI_DECL std::string WebSocketTestSession::receive_text() {
    auto m = receive();
    if (!m.text) throw std::runtime_error("TestClient: expected a text message, got bytes");
    return std::move(m.data);
}

FASTAPI_DECL std::string WebSocketTestSession::receive_bytes() {
    auto m = receive();
    if (m.text) throw std::runtime_error("TestClient: expected a binary message, got text");
    return std::move(m.data);
}

FASTAPI_DECL picojson::value WebSocketTestSession::receive_json() {
    auto m = receive();
    picojson::value v;
    const std::string err = picojson::parse(v, m.data);
    if (!err.empty()) throw std::runtime_error("TestClient: a message is not JSON: " + err);
    return v;
}

FASTAPI_DECL void WebSocketTestSession::close(int code, std::string_view reason) {
    if (closed_) return;
    closed_ = true;
    std::string payload;
    payload += static_cast<char>(code >> 8);
    payload += static_cast<char>(code & 0xFF);
    payload.append(reason);
    session_->feed(detail::client_frame(detail::WsOpcode::close, payload));
    for (int i = 0; i < 1000; ++i) {
        auto f = detail::take_server_frame(session_->output());
        if (!f) {
            if (session_->output_closed() || !session_->run_until([&] {
                    std::string copy = session_->output();
                    return session_->output_closed() || detail::take_server_frame(copy).has_value();
                }))
                break;
            continue;
        }
        if (f->op == 8) {
            if (f->payload.size() >= 2)
                close_code_ = (static_cast<unsigned char>(f->payload[0]) << 8) | static_cast<unsigned char>(f->payload[1]);
            break;
        }
    }
    session_->finish();
}

FASTAPI_DECL void WebSocketTestSession::send(detail::WsOpcode op, std::string_view payload) {
    if (closed_) throw WebSocketDisconnect(close_code_ ? close_code_ : 1000, close_reason_);
    session_->feed(detail::client_frame(op, payload));
}

FASTAPI_DECL detail::TestFrame WebSocketTestSession::next_frame() {
    std::optional<detail::TestFrame> f;
    session_->run_until([&] {
        f = detail::take_server_frame(session_->output());
        return f.has_value() || session_->output_closed();
    });
    if (!f) f = detail::take_server_frame(session_->output());
    if (f) return std::move(*f);
    if (session_->output_closed()) {
        closed_ = true;
        close_code_ = 1006;
        throw WebSocketDisconnect(1006);
    }
    throw std::runtime_error("TestClient: no WebSocket message within the timeout");
}

FASTAPI_DECL WebSocketDenialResponse WebSocketTestSession::denial(std::string_view raw) {
    const auto end = raw.find("\r\n\r\n");
    Headers h;
    for (std::size_t at = raw.find("\r\n"); at != std::string_view::npos && at < end;) {
        const std::size_t eol = raw.find("\r\n", at + 2);
        const std::string_view line = raw.substr(at + 2, eol - at - 2);
        const std::size_t colon = line.find(':');
        if (colon != std::string_view::npos) detail::append_header(h, line.substr(0, colon), detail::trim_ows(line.substr(colon + 1)));
        at = eol;
    }
    std::string body(raw.substr(end + 4));
    if (auto n = h.get("content-length")) body = body.substr(0, std::min<std::size_t>(body.size(), std::stoul(std::string(*n))));
    return WebSocketDenialResponse(std::stoi(std::string(raw.substr(9, 3))), std::move(h), std::move(body));
}

FASTAPI_DECL TestStreamResponse::TestStreamResponse(const std::shared_ptr<detail::ServerState>& state, std::string_view request,
                   std::chrono::milliseconds timeout)
    : session_(std::make_unique<detail::InMemorySession>(state, request, timeout)) {
    auto& out = session_->output();
    session_->run_until([&] { return out.find("\r\n\r\n") != std::string::npos || session_->output_closed(); });
    const auto end = out.find("\r\n\r\n");
    if (end == std::string::npos || out.size() < 12) throw std::runtime_error("TestClient: no response");
    const std::string_view head = std::string_view(out).substr(0, end);
    status_code = std::stoi(std::string(head.substr(9, 3)));
    for (std::size_t at = head.find("\r\n"); at != std::string_view::npos && at < end;) {
        const std::size_t eol = std::min(head.find("\r\n", at + 2), head.size());
        const std::string_view line = head.substr(at + 2, eol - at - 2);
        const std::size_t colon = line.find(':');
        if (colon != std::string_view::npos) detail::append_header(headers, line.substr(0, colon), detail::trim_ows(line.substr(colon + 1)));
        at = eol < head.size() ? eol : std::string_view::npos;
    }
    if (auto te = headers.get("transfer-encoding")) chunked_ = detail::iequals(*te, "chunked");
    if (auto n = headers.get("content-length")) left_ = std::stoull(std::string(*n));
    out.erase(0, end + 4);
    if (detail::status_has_no_body(status_code)) done_ = true;
}

FASTAPI_DECL std::optional<std::string> TestStreamResponse::next_chunk() {
    if (done_) return std::nullopt;
    auto& out = session_->output();
    if (chunked_) {
        std::optional<std::string> chunk;
        bool ended = false;
        auto parse = [&] {
            const auto eol = out.find("\r\n");
            if (eol == std::string::npos) return false;
            std::size_t size = 0;
            std::from_chars(out.data(), out.data() + eol, size, 16);
            if (size == 0) {
                if (out.find("\r\n\r\n") == std::string::npos) return false;
                ended = true;
                return true;
            }
            if (out.size() < eol + 2 + size + 2) return false;
            chunk = out.substr(eol + 2, size);
            out.erase(0, eol + 2 + size + 2);
            return true;
        };
        if (!session_->run_until([&] { return parse() || session_->output_closed(); }) && !chunk && !ended)
            throw std::runtime_error("TestClient: no chunk within the timeout");
        if (chunk) return chunk;
        done_ = true;
        session_->finish();
        if (!ended) throw std::runtime_error("TestClient: a chunked body ended early");
        return std::nullopt;
    }
    if (left_ && *left_ == 0) {
        done_ = true;
        session_->finish();
        return std::nullopt;
    }
    if (!session_->run_until([&] { return !out.empty() || session_->output_closed(); }))
        throw std::runtime_error("TestClient: no body bytes within the timeout");
    if (out.empty()) {
        done_ = true;
        session_->finish();
        return std::nullopt;
    }
    std::string chunk = std::move(out);
    out.clear();
    if (left_) {
        if (chunk.size() > *left_) chunk.resize(*left_);
        *left_ -= chunk.size();
    }
    return chunk;
}

FASTAPI_DECL std::string TestStreamResponse::read() {
    std::string all;
    for (int i = 0; i < 100000000; ++i) {
        auto c = next_chunk();
        if (!c) break;
        all += *c;
    }
    return all;
}

FASTAPI_DECL void TestStreamResponse::close() {
    done_ = true;
    session_->finish();
}

FASTAPI_DECL TestStreamResponse::~TestStreamResponse() = default;
#endif

}  // namespace fastapi
