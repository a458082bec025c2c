// websocket (routing): fastapi::WebSocket, the session a handler talks to once the handshake's
// 101 is written: Starlette's receive_*/send_*/close over the connection's Stream, with the
// frame parser and writer of http/websocket.hpp. Pings are answered with pongs as they are
// read; a peer's close is answered with the same code and the connection closed; a protocol
// error closes with its code (1002, 1007, 1009) and raises WebSocketDisconnect.
//
// The I/O is non-template (compiled once); only receive_json<T>/send_json<T> are templates,
// and they only read or write JSON around the non-template calls.
// Relies on http (Stream, Upgraded, frames), model (validation errors, JSON in and out).
#pragma once
#include "../http/websocket.hpp"
#include "../model/json.hpp"
#include "../model/json_reader.hpp"
#include "../model/validation.hpp"

#include <chrono>       // seconds (close timeout)
#include <cstdint>      // uint16_t
#include <exception>    // exception
#include <memory>       // shared_ptr
#include <string>       // string
#include <string_view>  // string_view
#include <utility>      // move

namespace fastapi {

// Raised by receive_* once the connection is closed: the peer's close code (1005 when its
// close frame had none), 1006 when the connection dropped without a close frame, or the code
// the server closed with on a protocol error (1002, 1007, 1009) or an overfull queue (1008).
class WebSocketDisconnect : public std::exception {
public:
    explicit WebSocketDisconnect(int code = 1000, std::string reason = {}) : code(code), reason(std::move(reason)) {}
    const char* what() const noexcept override { return "fastapi: WebSocket disconnected"; }
    int code;
    std::string reason;
};

// Thrown by a handler to close the connection with `code` and `reason` (Starlette's
// WebSocketException).
class WebSocketException : public std::exception {
public:
    explicit WebSocketException(int code, std::string reason = {}) : code(code), reason(std::move(reason)) {}
    const char* what() const noexcept override { return "fastapi: WebSocketException"; }
    int code;
    std::string reason;
};

// receive_json<T>() of a message T cannot read (FastAPI's WebSocketRequestValidationError):
// FastAPI's error list, as a 422 would carry it.
class WebSocketRequestValidationError : public std::exception {
public:
    explicit WebSocketRequestValidationError(ValidationErrors errors) : errors_(std::move(errors)) {}
    const ValidationErrors& errors() const noexcept { return errors_; }
    const char* what() const noexcept override { return "fastapi: WebSocket message validation failed"; }

private:
    ValidationErrors errors_;
};

struct WebSocketOptions {
    // A message (its fragments joined) longer than this is refused with 1009 (uvicorn's
    // ws_max_size default).
    std::size_t max_message_bytes = 16u * 1024u * 1024u;
    // Outgoing frames waiting for a slow reader beyond this close the connection with 1008,
    // so a client that never reads cannot grow the server's memory without bound.
    std::size_t max_queued_bytes = 16u * 1024u * 1024u;
    // How long close() waits for the peer's close frame before closing the TCP connection.
    std::chrono::milliseconds close_timeout{5000};
};

class WebSocket {
public:
    enum class State { connected, disconnected };
    struct Message {
        bool text = false;
        std::string data;
    };

    explicit WebSocket(Upgraded up, WebSocketOptions options = {})
        : stream_(std::move(up.stream)), in_(std::move(up.unread)), options_(options), parser_(options.max_message_bytes) {}
    WebSocket(const WebSocket&) = delete;
    WebSocket& operator=(const WebSocket&) = delete;

    State state() const noexcept { return state_; }

    // The next message, text or binary; WebSocketDisconnect once the connection is closed.
    asio::awaitable<Message> receive() {
        for (;;) {
            if (state_ == State::disconnected) throw WebSocketDisconnect(close_code_, close_reason_);
            std::size_t used = 0;
            detail::WsEvent e = parser_.parse(in_.data() + in_at_, in_.size() - in_at_, used);
            in_at_ += used;
            using Kind = detail::WsEvent::Kind;
            switch (e.kind) {
                case Kind::text:
                case Kind::binary: {
                    Message m{e.kind == Kind::text, parser_.take_message()};
                    compact();
                    co_return m;
                }
                case Kind::ping: {
                    std::string frame;
                    detail::append_ws_frame(frame, detail::WsOpcode::pong, e.data);
                    co_await write_frame(std::move(frame));
                    continue;
                }
                case Kind::pong: continue;
                case Kind::close: {
                    // Answer with the peer's code (none for none), then close the connection.
                    const int code = e.code;
                    std::string reason(e.data);
                    co_await finish(static_cast<std::uint16_t>(code), {});
                    close_code_ = code, close_reason_ = std::move(reason);
                    throw WebSocketDisconnect(close_code_, close_reason_);
                }
                case Kind::error: {
                    const int code = e.code;
                    co_await finish(e.code, e.data);
                    close_code_ = code;
                    throw WebSocketDisconnect(close_code_);
                }
                case Kind::need_more: break;
            }
            compact();
            if (in_.size() - in_at_ == 0) in_.clear(), in_at_ = 0;
            const std::size_t at = in_.size();
            in_.resize(at + 16384);
            asio::error_code ec;
            const std::size_t n = co_await stream_.async_read_some(asio::buffer(in_.data() + at, 16384),
                                                                   asio::redirect_error(asio::use_awaitable, ec));
            in_.resize(at + n);
            if (ec) {
                drop(1006);
                throw WebSocketDisconnect(1006);
            }
        }
    }
    asio::awaitable<std::string> receive_text() {
        Message m = co_await receive();
        if (!m.text) co_await refuse(1003, "expected a text message");
        co_return std::move(m.data);
    }
    asio::awaitable<std::string> receive_bytes() {
        Message m = co_await receive();
        if (m.text) co_await refuse(1003, "expected a binary message");
        co_return std::move(m.data);
    }
    // The next message (text or binary) read into T with a body's validation; a message that
    // fails raises WebSocketRequestValidationError (the connection stays open).
    template <class T>
    asio::awaitable<T> receive_json() {
        Message m = co_await receive();
        T out{};
        ValidationErrors errors;
        if (!read_json_body(m.data, out, errors, Loc{})) throw WebSocketRequestValidationError(std::move(errors));
        co_return out;
    }

    asio::awaitable<void> send_text(std::string_view text) { return send(detail::WsOpcode::text, text); }
    asio::awaitable<void> send_bytes(std::string_view bytes) { return send(detail::WsOpcode::binary, bytes); }
    template <class T>
    asio::awaitable<void> send_json(const T& value) {
        std::string json;
        write_json(json, value);
        return send(detail::WsOpcode::text, json);
    }

    // Closes with `code` and `reason` (cut to 123 bytes of whole UTF-8): the close frame, the
    // peer's close frame awaited (at most options.close_timeout), then the TCP connection.
    asio::awaitable<void> close(int code = 1000, std::string_view reason = {}) {
        if (state_ == State::disconnected) co_return;
        co_await finish(static_cast<std::uint16_t>(code), reason, true);
        close_code_ = code;
    }

private:
    asio::awaitable<void> send(detail::WsOpcode op, std::string_view payload) {
        if (state_ == State::disconnected) throw WebSocketDisconnect(close_code_, close_reason_);
        std::string frame;
        frame.reserve(payload.size() + 10);
        detail::append_ws_frame(frame, op, payload);
        co_await write_frame(std::move(frame));
        if (state_ == State::disconnected) throw WebSocketDisconnect(close_code_, close_reason_);
    }

    // Queues one frame and writes the queue unless a write is already under way (another
    // coroutine's send: that one writes it). Past max_queued_bytes, closes with 1008.
    asio::awaitable<void> write_frame(std::string frame) {
        if (state_ == State::disconnected) co_return;
        if (queued_.size() + frame.size() > options_.max_queued_bytes && writing_) {
            queued_.clear();
            drop(1008);
            co_return;
        }
        queued_ += frame;
        if (writing_) co_return;
        writing_ = true;
        while (!queued_.empty() && stream_.is_open()) {
            std::string out;
            out.swap(queued_);
            asio::error_code ec;
            co_await asio::async_write(stream_, asio::buffer(out), asio::redirect_error(asio::use_awaitable, ec));
            if (ec) {
                queued_.clear();
                if (state_ != State::disconnected) drop(1006);
                break;
            }
        }
        writing_ = false;
    }

    // The close handshake from our side: our close frame, then (when we began it) the peer's
    // awaited for a bounded time, then the TCP connection closed.
    asio::awaitable<void> finish(std::uint16_t code, std::string_view reason, bool await_peer = false) {
        std::string frame;
        detail::append_ws_close(frame, code, reason);
        co_await write_frame(std::move(frame));
        if (await_peer && state_ != State::disconnected) {
            asio::steady_timer timer(stream_.get_executor(), options_.close_timeout);
            timer.async_wait([this](const asio::error_code& ec) {
                if (!ec) stream_.cancel();
            });
            char buf[4096];
            for (int i = 0; i < 100000; ++i) {  // frames until the peer's close, or EOF, or the timeout
                std::size_t used = 0;
                auto e = parser_.parse(in_.data() + in_at_, in_.size() - in_at_, used);
                in_at_ += used;
                if (parser_.finished()) break;
                if (e.kind != detail::WsEvent::Kind::need_more) continue;  // a message after ours: dropped
                in_.clear(), in_at_ = 0;
                asio::error_code ec;
                const std::size_t n = co_await stream_.async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
                if (ec) break;
                in_.assign(buf, n);
            }
            timer.cancel();
        }
        drop(code);
    }

    // Closes on a message of the wrong kind (receive_text got bytes): 1003, then raises.
    asio::awaitable<void> refuse(std::uint16_t code, std::string_view why) {
        co_await finish(code, why);
        close_code_ = code;
        throw WebSocketDisconnect(code, std::string(why));
    }

    void drop(int code) noexcept {
        if (state_ == State::disconnected) return;
        state_ = State::disconnected;
        close_code_ = code;
        stream_.shutdown_send();
        stream_.close();
    }

    void compact() {
        if (in_at_ > 65536 && in_at_ * 2 > in_.size()) in_.erase(0, in_at_), in_at_ = 0;
    }

    Stream stream_;
    std::string in_;
    std::size_t in_at_ = 0;
    WebSocketOptions options_;
    detail::WsFrameParser parser_;
    State state_ = State::connected;
    int close_code_ = 1000;
    std::string close_reason_;
    std::string queued_;
    bool writing_ = false;
};

}  // namespace fastapi
