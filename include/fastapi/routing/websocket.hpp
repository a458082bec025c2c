// websocket (routing): fastapi::WebSocket, the session a handler talks to once the handshake's
// 101 is written: Starlette's receive_*/send_*/close over the connection's Stream, with the
// frame parser and writer of http/websocket.hpp. Pings are answered with pongs as they are
// read; a peer's close is answered with the same code and the connection closed; a protocol
// error closes with its code (1002, 1007, 1009) and raises WebSocketDisconnect.
//
// The I/O is non-template (compiled once; templates in the header-only mode, see FASTAPI_CORO_DECL);
// only receive_json<T>/send_json<T> are templates of their own,
// and they only read or write JSON around the non-template calls.
// app.websocket(path, handler) (RouteMethods, route.hpp) makes its endpoint here: the handshake
// is an ordinary GET routed and bound like any request; the handler runs from then on (it may
// deny with an HTTP response before accept()); accept() makes the endpoint's response the 101,
// whose on_upgrade hands the stream to the handler's WebSocket. The request's dependency
// values and cleanups move to the session: cleaned up when the handler returns.
// Relies on http (Stream, Upgraded, frames), model (validation errors, JSON in and out),
// handler (binding).
#pragma once
#include "../http/websocket.hpp"
#include "../http/websocket_deflate.hpp"
#include "../model/json.hpp"
#include "../model/json_reader.hpp"
#include "../model/validation.hpp"
#include "exchange.hpp"
#include "handler.hpp"

#include <array>        // array (a frame's header and payload, written together)
#include <atomic>       // atomic (bytes posted from other threads)
#include <chrono>       // seconds (close timeout)
#include <cstdint>      // uint16_t
#include <cstdio>       // fprintf (a handler's exception after accept)
#include <deque>        // deque (messages received, not yet taken)
#include <exception>    // exception, exception_ptr
#include <optional>     // optional (the stream, before accept)
#include <tuple>        // tuple, apply (bound parameters)
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
    // The errors as a 422's body has them ({"detail": [...]}): what to answer the sender with.
    std::string json() const { return detail::render_validation_errors(errors_); }
    const char* what() const noexcept override { return "fastapi: WebSocket message validation failed"; }

private:
    ValidationErrors errors_;
};

struct WebSocketOptions {
    // A message (its fragments joined) longer than this is refused with 1009 (uvicorn's
    // ws_max_size default).
    std::size_t max_message_bytes = 16u * 1024u * 1024u;
    // Outgoing frames waiting for a slow reader beyond this close the connection with 1008,
    // so a client that never reads cannot grow the server's memory without bound. (A handler's
    // own send_* waits while the client is slower; what is queued without waiting, post() and
    // a Broadcast, is what this bounds.)
    std::size_t max_queued_bytes = 16u * 1024u * 1024u;
    // How long close() waits for the peer's close frame before closing the TCP connection.
    std::chrono::milliseconds close_timeout{5000};
    // Keep-alive (uvicorn's ws_ping_interval and ws_ping_timeout): a ping after this long, and
    // the connection closed with 1011 when its pong has not come this long after; 0: no pings.
    std::chrono::milliseconds ping_interval{FASTAPI_WS_PING_INTERVAL * 1000};
    std::chrono::milliseconds ping_timeout{FASTAPI_WS_PING_TIMEOUT * 1000};
    // Messages received and not yet taken by receive(): the connection reads no more past this
    // many (or a whole max_message_bytes of them) until the handler takes one.
    std::size_t max_incoming_messages = 16;
    // permessage-deflate (RFC 7692) when the client offers it and the program is built with
    // zlib (FASTAPI_WITH_ZLIB); otherwise no extension is agreed.
    bool permessage_deflate = true;
};

class WebSocket;
namespace detail {
template <class F, class Args> struct websocket_call;
FASTAPI_DECL void websocket_answer_unaccepted(Exchange& ex, WebSocket& ws, std::exception_ptr error);
}

class WebSocket : public std::enable_shared_from_this<WebSocket> {
public:
    enum class State { connecting, connected, disconnected };
    struct Message {
        bool text = false;
        std::string data;
    };

    // A session on a connection already upgraded (a 101's on_upgrade made by hand); made with
    // std::make_shared (its reader and pinger hold it), started by start().
    explicit WebSocket(Upgraded up, WebSocketOptions options = {})
        : stream_(std::move(up.stream)), in_(std::move(up.unread)), options_(options), parser_(options.max_message_bytes),
          lease_(std::move(up.lease)), executor_(stream_->get_executor()), wake_(executor_), inbox_wake_(executor_),
          reader_wake_(executor_), flushed_wake_(executor_), ping_timer_(executor_) {
        arm_timers();
    }
    // A session for a handshake not answered yet (app.websocket): connecting until accept().
    WebSocket(const Request& handshake, WebSocketOptions options, asio::any_io_executor executor)
        : options_(options), parser_(options.max_message_bytes), state_(State::connecting), headers_(handshake.headers),
          subprotocols_(detail::websocket_offered_subprotocols(handshake)), executor_(executor), wake_(executor),
          inbox_wake_(executor), reader_wake_(executor), flushed_wake_(executor), ping_timer_(executor) {
        arm_timers();
    }
    WebSocket(const WebSocket&) = delete;
    WebSocket& operator=(const WebSocket&) = delete;

    State state() const noexcept { return state_; }
    // The close code once disconnected (the peer's, or the one the server closed with).
    int close_code() const noexcept { return close_code_; }
    // The handshake's headers, and the subprotocols it offers (Sec-WebSocket-Protocol, in order).
    const Headers& headers() const noexcept { return headers_; }
    const std::vector<std::string>& subprotocols() const noexcept { return subprotocols_; }
    // The executor the session runs on (its connection's loop): what another thread posts to.
    asio::any_io_executor get_executor() noexcept { return executor_; }

    // Completes the handshake: the 101, with `subprotocol` (one the client offered, or none)
    // and `headers`. Returns once the connection is the WebSocket's; WebSocketDisconnect(1006)
    // if it closed first.
    // (Taken by view and reference, copied before the first suspension: the caller's temporaries
    // live until its co_await ends, and GCC 12 copies a coroutine's by-value string parameter
    // made from a temporary bitwise, leaving it pointing into the caller's frame.)
    FASTAPI_CORO_DECL asio::awaitable<void> accept(std::string_view subprotocol = {}, const Headers& headers = {});
    // Before accept(): answer the handshake with this HTTP response instead of the 101
    // (Starlette's send_denial_response); the handler returns after it.
    void send_denial_response(Response response) {
        if (state_ != State::connecting || accept_requested_) throw std::logic_error("fastapi: a WebSocket's denial response comes before accept()");
        denial_ = std::move(response);
    }

    // A session made by hand: starts reading (and pinging). app.websocket's sessions start
    // when the 101 is written; receive() starts one that was not.
    FASTAPI_CORO_DECL void start();

    // The next message, text or binary; WebSocketDisconnect once the connection is closed (the
    // messages that came before the close are received first).
    FASTAPI_CORO_DECL asio::awaitable<Message> receive();
    FASTAPI_CORO_DECL asio::awaitable<std::string> receive_text();
    FASTAPI_CORO_DECL asio::awaitable<std::string> receive_bytes();
    // The next message (text or binary) read into T with a body's validation; a message that
    // fails raises WebSocketRequestValidationError (the connection stays open).
    template <class T>
    asio::awaitable<T> receive_json() {
        Message m = co_await receive();
        co_return parse_json<T>(m.data);
    }

    // Iteration over incoming messages (Starlette's iter_text, iter_bytes, iter_json): the next
    // one, or nullopt once the connection has closed (close_code() says how), instead of
    // WebSocketDisconnect:
    //   while (auto text = co_await ws.iter_text()) co_await ws.send_text(*text);
    FASTAPI_CORO_DECL asio::awaitable<std::optional<Message>> receive_message();
    FASTAPI_CORO_DECL asio::awaitable<std::optional<std::string>> iter_text();
    FASTAPI_CORO_DECL asio::awaitable<std::optional<std::string>> iter_bytes();
    // A message that fails validation still raises WebSocketRequestValidationError.
    template <class T>
    asio::awaitable<std::optional<T>> iter_json() {
        std::optional<Message> m = co_await receive_message();
        if (!m) co_return std::nullopt;
        co_return parse_json<T>(m->data);
    }

    FASTAPI_LAZY asio::awaitable<void> send_text(std::string_view text) { return send(detail::WsOpcode::text, text); }
    FASTAPI_LAZY asio::awaitable<void> send_bytes(std::string_view bytes) { return send(detail::WsOpcode::binary, bytes); }
    template <class T>
    asio::awaitable<void> send_json(const T& value) {
        std::string json;
        write_json(json, value);
        return send(detail::WsOpcode::text, json);
    }

    // Queues a message without waiting for it to be written, from any thread (a broadcast):
    // posted to the session's loop. Past max_queued_bytes the connection closes with 1008; once
    // closed it is dropped.
    void post(Message m) {
        // What is posted and not yet queued counts too (atomically: from any thread), so a
        // loop busy elsewhere cannot be handed an unbounded backlog either.
        const std::size_t n = m.data.size();
        if (posted_bytes_.fetch_add(n) + n > options_.max_queued_bytes) {
            posted_bytes_ -= n;
            asio::post(get_executor(), [self = shared_from_this()] {
                self->fail(1008, "too much data queued for a client that does not read");
            });
            return;
        }
        asio::post(get_executor(), [self = shared_from_this(), m = std::move(m)]() mutable {
            self->posted_bytes_ -= m.data.size();
            if (self->state_ != State::connected || self->close_sent_) return;
            // Queued now (in order with the handler's sends); a writer started if none runs.
            self->queue_frame(self->data_frame(m.text ? detail::WsOpcode::text : detail::WsOpcode::binary, m.data));
        });
    }

    // Closes with `code` and `reason` (cut to 123 bytes of whole UTF-8): the close frame, the
    // peer's close frame awaited (at most options.close_timeout), then the TCP connection.
    FASTAPI_CORO_DECL asio::awaitable<void> close(int code = 1000, std::string_view reason = {});

private:
    // The first message received (the inbox holds one); the reader may read on.
    Message take_received() {
        Message m = std::move(inbox_.front());
        inbox_.pop_front();
        inbox_bytes_ -= m.data.size();
        if (reader_waiting_) reader_wake_.cancel();  // (a timer's cancel takes the reactor's lock)
        return m;
    }

    template <class T>
    static T parse_json(std::string_view data) {
        T out{};
        ValidationErrors errors;
        if (!read_json_body(data, out, errors, Loc{})) throw WebSocketRequestValidationError(std::move(errors));
        return out;
    }

    // A receiver waiting for a message or the end: its completion handler kept here and called
    // by the reader as soon as a message is queued, on the reader's own stack (as Asio's
    // channels resume a waiting receiver): no timer scheduled and cancelled, no trip through
    // the loop's queue, no lock. A second receiver waiting at the same time waits on inbox_wake_.
    using receiver_handler = asio::async_result<asio::use_awaitable_t<>, void(asio::error_code)>::handler_type;
    struct ReceiverWait {
        WebSocket* ws;
        void operator()(receiver_handler handler) const { ws->park_receiver(std::move(handler)); }
    };
    void park_receiver(receiver_handler handler) {
        // Cancelled (a stop's abort, a parallel group): completed with operation_aborted from
        // the loop's queue (the slot's handler cannot resume it: completing clears the slot).
        auto slot = handler.get_cancellation_slot();
        if (slot.is_connected()) slot.assign([this](asio::cancellation_type) { wake_receiver(asio::error::operation_aborted, false); });
        receiver_.emplace(std::move(handler));
    }
    // Resumes the waiting receiver: at once on this stack when `now` (the reader, which holds
    // the session: a message), else posted (the end of the connection: whoever drops it may be
    // deep in a send).
    void wake_receiver(asio::error_code ec = {}, bool now = true) {
        if (timer_receivers_) inbox_wake_.cancel();
        if (!receiver_) return;
        receiver_handler handler = std::move(*receiver_);
        receiver_.reset();
        auto ex = handler.get_executor();
        if (now && ex == executor_) return handler(ec);
        asio::post(ex, [handler = std::move(handler), ec]() mutable { handler(ec); });
    }
    // Until a message, the end, or (for a second receiver) either of those for another.
    FASTAPI_CORO_DECL asio::awaitable<void> wait_message();

    // Waits until `t` is cancelled (it never expires: set so once, as re-arming it would wake
    // every other waiter).
    FASTAPI_CORO_DECL static asio::awaitable<void> wait_on(asio::steady_timer& t);
    void arm_timers() {
        for (auto* t : {&wake_, &inbox_wake_, &reader_wake_, &flushed_wake_}) t->expires_at(asio::steady_timer::time_point::max());
    }
    // Until the queue is written (bounded: close_timeout, then the connection is dropped).
    FASTAPI_CORO_DECL asio::awaitable<void> flushed();

    FASTAPI_CORO_DECL asio::awaitable<void> send(detail::WsOpcode op, std::string_view payload);

    // Nothing queued nor being written (an echo, a handler's own sends): the frame goes to the
    // socket at once, its header and the payload in one gather write, with no copy and no trip
    // through the event loop for a write to complete. True when it was tried: `sent` is npos
    // when the socket took all of it, else the bytes it took (the rest is the caller's to
    // queue); a failed write drops the connection (1006). False when it cannot be tried (a
    // write under way or queued bytes, an in-memory stream, a compressed frame): queue it.
    bool send_now(detail::WsOpcode op, std::string_view payload, std::size_t& sent) {
        if (writing_ || !queued_.empty() || !stream_ || !stream_->socket()) return false;
#ifdef FASTAPI_WITH_ZLIB
        if (deflate_) return false;
#endif
        auto& socket = *stream_->socket();
        asio::error_code ec;
        if (!non_blocking_) {
            socket.non_blocking(true, ec);  // a full socket says so instead of blocking the loop
            if (ec) return false;
            non_blocking_ = true;
        }
        unsigned char head[10];
        const std::size_t head_len = detail::ws_frame_header(head, op, payload.size());
        const std::array<asio::const_buffer, 2> frame{asio::buffer(head, head_len), asio::buffer(payload.data(), payload.size())};
        const std::size_t n = socket.write_some(frame, ec);
        if (ec == asio::error::would_block || ec == asio::error::try_again) ec = {};
        if (ec) {
            drop(1006);
            sent = std::string_view::npos;
            return true;
        }
        sent = n == head_len + payload.size() ? std::string_view::npos : n;
        return true;
    }

    // A text or binary message's frame: compressed (RSV1) when permessage-deflate was agreed.
    // Built and queued at once, in the order sent: the compressor's context is the stream's.
    std::string data_frame(detail::WsOpcode op, std::string_view payload) {
        std::string frame;
#ifdef FASTAPI_WITH_ZLIB
        if (deflate_) {
            const std::string packed = deflate_->deflate_message(payload);
            frame.reserve(packed.size() + 10);
            detail::append_ws_frame(frame, op, packed, true, true);
            return frame;
        }
#endif
        frame.reserve(payload.size() + 10);
        detail::append_ws_frame(frame, op, payload);
        return frame;
    }

    // Queues one frame and starts the writer unless it runs (it writes the queue until empty).
    // Past max_queued_bytes while a write is under way, closes with 1008. True when this call
    // started the writer.
    bool queue_frame(std::string frame) {
        if (state_ == State::disconnected) return false;
        if (queued_.size() + frame.size() > options_.max_queued_bytes && writing_) {
            fail(1008, "too much data queued for a client that does not read");
            return false;
        }
        if (close_sent_ && drop_after_write_ && !frame.empty()) return false;  // failing: only the close frame goes
        queued_ += frame;
        if (writing_) return false;
        write_queued();
        return true;
    }
    // The writer: the queue swapped out and written whole, again while more was queued; then
    // flushed() and write_frame()'s waiters woken. (Callbacks, not a coroutine: post() and
    // fail() start it from code that is not one.)
    void write_queued() {
        if (queued_.empty() || !stream_ || !stream_->is_open()) {
            writing_ = false;
            flushed_wake_.cancel();
            if (drop_after_write_) drop(close_code_);
            return;
        }
        writing_ = true;
        writing_buffer_.clear();
        writing_buffer_.swap(queued_);
        asio::async_write(*stream_, asio::buffer(writing_buffer_), [self = shared_from_this()](const asio::error_code& ec, std::size_t) {
            if (ec) {
                self->queued_.clear();
                if (self->state_ != State::disconnected) self->drop(1006);
            }
            self->write_queued();
        });
    }
    // queue_frame(), and when it started the writer, until the queue is written: a handler's
    // sends wait for a slow reader.
    FASTAPI_CORO_DECL asio::awaitable<void> write_frame(std::string frame);
    FASTAPI_CORO_DECL static asio::awaitable<void> close_kept(std::shared_ptr<WebSocket> self, int code, std::string reason);

    // Closes without the close handshake: a close frame with `code` replaces what was queued
    // (at a frame's end), and the connection is dropped once it is written, or after a second
    // (a client that stopped reading never takes it): the ping timeout, the queue bound.
    // Receivers see `code`.
    void fail(int code, std::string_view reason) {
        if (state_ != State::connected || drop_after_write_) return;
        close_sent_ = true;
        close_code_ = code;
        drop_after_write_ = true;
        queued_.clear();
        detail::append_ws_close(queued_, static_cast<std::uint16_t>(code), reason);
        if (!writing_) write_queued();
        auto timer = std::make_shared<asio::steady_timer>(get_executor(), std::chrono::seconds(1));
        timer->async_wait([self = shared_from_this(), timer, code](const asio::error_code&) { self->drop(code); });
    }

    // The one reader of the connection: frames parsed as they come; data messages queued for
    // receive() (reading pauses while the queue holds max_incoming_messages, or a message's
    // worth of bytes, so a handler that does not read is not flooded: TCP's flow control holds
    // the client); pings answered; the close handshake.
    FASTAPI_CORO_DECL static asio::awaitable<void> read_loop(std::shared_ptr<WebSocket> self);
    FASTAPI_CORO_DECL asio::awaitable<void> read_frames();

    // A frame the parser refused: our close frame with its code, then what the peer still sends
    // dropped until it closes (closing with unread bytes would reset the connection, and the
    // peer might never see our close frame and its code), at most close_timeout.
    FASTAPI_CORO_DECL asio::awaitable<void> protocol_error(std::uint16_t code, std::string reason);

    // Keep-alive (uvicorn's ws_ping_interval, ws_ping_timeout): a ping every ping_interval;
    // its pong not back within ping_timeout closes with 1011 ("keepalive ping timeout", as
    // the websockets library uvicorn runs does): the peer, or the path to it, is gone.
    FASTAPI_CORO_DECL static asio::awaitable<void> ping_loop(std::shared_ptr<WebSocket> self);
    FASTAPI_CORO_DECL asio::awaitable<void> ping_frames();

    // Closes on a message of the wrong kind (receive_text got bytes): 1003, then raises.
    FASTAPI_CORO_DECL asio::awaitable<void> refuse(std::uint16_t code, std::string_view why);

    void drop(int code) noexcept {
        if (state_ == State::disconnected) return;
        state_ = State::disconnected;
        close_code_ = code;
        if (stream_) stream_->shutdown_send(), stream_->close();
        inbox_wake_.cancel();
        reader_wake_.cancel();
        ping_timer_.cancel();
        flushed_wake_.cancel();
        lease_.reset();  // the server counts it no more
        wake_receiver({}, false);
    }

    // The endpoint's side (app.websocket): waits until the handler accepts or ends; then the
    // 101's on_upgrade delivers the stream, or says it never will.
    template <class, class> friend struct detail::websocket_call;
    friend void detail::websocket_answer_unaccepted(detail::Exchange&, WebSocket&, std::exception_ptr);
    std::exception_ptr denial_error_;
    FASTAPI_CORO_DECL asio::awaitable<void> wait_accept_or_end();
    void handler_ended() {
        handler_ended_ = true;
        wake_.cancel();
    }
    FASTAPI_CORO_DECL void deliver(Upgraded up);
    void delivery_failed() {
        if (stream_) return;
        delivery_failed_ = true;
        wake_.cancel();
    }

    void compact() {
        if (in_at_ > 65536 && in_at_ * 2 > in_.size()) in_.erase(0, in_at_), in_at_ = 0;
    }

    std::optional<Stream> stream_;
    std::string in_;
    static constexpr std::size_t read_buffer_size = 16384;
    std::unique_ptr<char[]> read_buffer_;  // made on the first read
    std::size_t in_at_ = 0;
    WebSocketOptions options_;
    detail::WsFrameParser parser_;
    std::shared_ptr<detail::UpgradeLease> lease_;
#ifdef FASTAPI_WITH_ZLIB
    std::unique_ptr<detail::WsDeflate> deflate_;
#endif
    State state_ = State::connected;
    int close_code_ = 1000;
    std::string close_reason_;
    std::string queued_;
    std::string writing_buffer_;  // what the writer writes now (swapped with queued_)
    bool writing_ = false, started_ = false, close_sent_ = false, drop_after_write_ = false;
    bool non_blocking_ = false;  // the socket set so, for send_now
    bool reader_waiting_ = false;  // the reader waits for room in the inbox
    std::atomic<std::size_t> posted_bytes_{0};
    std::deque<Message> inbox_;
    std::size_t inbox_bytes_ = 0;
    std::optional<receiver_handler> receiver_;  // the receiver waiting for a message
    int timer_receivers_ = 0;                   // others waiting on inbox_wake_
    std::string awaited_pong_;
    Headers headers_;
    std::vector<std::string> subprotocols_;
    bool accept_requested_ = false, handler_ended_ = false, delivery_failed_ = false;
    std::string accept_subprotocol_;
    Headers accept_headers_;
    std::optional<Response> denial_;
    asio::any_io_executor executor_;
    asio::steady_timer wake_;         // the endpoint and the handler wait on it for each other
    asio::steady_timer inbox_wake_;   // close() and a second receiver wait on it for the end (or a message)
    asio::steady_timer reader_wake_;  // the reader waits on it for room in the inbox
    asio::steady_timer flushed_wake_;  // flushed() and write_frame() wait on it for the writer to finish
    asio::steady_timer ping_timer_;
    asio::cancellation_signal handler_cancel_;  // bound to app.websocket's handler: the stop's abort
};

// The session's coroutines and what starts them: compiled once in the compiled-once mode, and
// templates (compiled where used) in the header-only one.
#if FASTAPI_DEFINITIONS
FASTAPI_CORO_DEF asio::awaitable<void> WebSocket::accept(std::string_view subprotocol, const Headers& headers) {
    if (state_ != State::connecting || accept_requested_) throw std::logic_error("fastapi: WebSocket.accept() called twice");
    accept_requested_ = true;
    accept_subprotocol_.assign(subprotocol);
    accept_headers_ = headers;
    wake_.cancel();  // the endpoint waits for this
    while (!stream_ && !delivery_failed_) co_await wait_on(wake_);
    if (!stream_) {
        state_ = State::disconnected;
        close_code_ = 1006;
        throw WebSocketDisconnect(1006);
    }
}

FASTAPI_CORO_DEF void WebSocket::start() {
    if (started_ || !stream_) return;
    started_ = true;
    auto self = shared_from_this();
    if (lease_) {
        std::weak_ptr<WebSocket> weak = self;
        lease_->going_away = [weak] {
            if (auto ws = weak.lock(); ws && ws->state_ == State::connected)
                asio::co_spawn(ws->get_executor(), close_kept(ws, 1001, "server shutting down"), asio::detached);
        };
        lease_->abort = [weak] {
            if (auto ws = weak.lock()) {
                ws->drop(1006);
                ws->handler_cancel_.emit(asio::cancellation_type::terminal);
            }
        };
    }
    asio::co_spawn(get_executor(), read_loop(self), asio::detached);
    if (options_.ping_interval.count() > 0) asio::co_spawn(get_executor(), ping_loop(self), asio::detached);
}

FASTAPI_CORO_DEF asio::awaitable<void> WebSocket::wait_message() {
    if (!receiver_) {
        co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(asio::error_code)>(ReceiverWait{this}, asio::use_awaitable);
        co_return;
    }
    ++timer_receivers_;
    asio::error_code ec;
    co_await inbox_wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    --timer_receivers_;
}

FASTAPI_CORO_DEF asio::awaitable<WebSocket::Message> WebSocket::receive() {
    for (;;) {
        start();  // (may run the reader at once: before the checks, so no wake-up is missed)
        if (!inbox_.empty()) co_return take_received();
        if (state_ != State::connected) throw WebSocketDisconnect(state_ == State::connecting ? 1006 : close_code_, close_reason_);
        // (Awaited here, not through wait_message, when alone: a coroutine frame less a message.)
        if (!receiver_) co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(asio::error_code)>(ReceiverWait{this}, asio::use_awaitable);
        else co_await wait_message();
    }
}
FASTAPI_CORO_DEF asio::awaitable<std::string> WebSocket::receive_text() {
    Message m = co_await receive();
    if (!m.text) co_await refuse(1003, "expected a text message");
    co_return std::move(m.data);
}
FASTAPI_CORO_DEF asio::awaitable<std::string> WebSocket::receive_bytes() {
    Message m = co_await receive();
    if (m.text) co_await refuse(1003, "expected a binary message");
    co_return std::move(m.data);
}
FASTAPI_CORO_DEF asio::awaitable<std::optional<WebSocket::Message>> WebSocket::receive_message() {
    // receive()'s loop, with nullopt where it throws (written twice: awaiting receive() here
    // would cost every message a coroutine frame more, and the frames past Asio's cache of
    // two are malloc'ed).
    for (;;) {
        start();
        if (!inbox_.empty()) co_return take_received();
        if (state_ != State::connected) co_return std::nullopt;
        if (!receiver_) co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(asio::error_code)>(ReceiverWait{this}, asio::use_awaitable);
        else co_await wait_message();
    }
}
FASTAPI_CORO_DEF asio::awaitable<std::optional<std::string>> WebSocket::iter_text() {
    std::optional<std::string> out;
    try {
        out = co_await receive_text();
    } catch (const WebSocketDisconnect&) {
    }
    co_return out;
}
FASTAPI_CORO_DEF asio::awaitable<std::optional<std::string>> WebSocket::iter_bytes() {
    std::optional<std::string> out;
    try {
        out = co_await receive_bytes();
    } catch (const WebSocketDisconnect&) {
    }
    co_return out;
}

FASTAPI_CORO_DEF asio::awaitable<void> WebSocket::close(int code, std::string_view reason) {
    if (state_ != State::connected) co_return;
    start();  // the peer's close frame is read by the reader
    if (!close_sent_) {
        close_sent_ = true;
        reader_wake_.cancel();  // a reader waiting for room reads on (what comes is dropped)
        std::string frame;
        detail::append_ws_close(frame, static_cast<std::uint16_t>(code), reason);
        close_code_ = code;
        co_await write_frame(std::move(frame));
        if (state_ == State::disconnected) co_return;
        asio::steady_timer timer(get_executor(), options_.close_timeout);
        timer.async_wait([this, code](const asio::error_code& ec) {
            if (!ec) drop(code);
        });
        while (state_ == State::connected) co_await wait_on(inbox_wake_);
        timer.cancel();
    }
    while (state_ == State::connected) co_await wait_on(inbox_wake_);  // a close under way elsewhere
}

FASTAPI_CORO_DEF asio::awaitable<void> WebSocket::wait_on(asio::steady_timer& t) {
    asio::error_code ec;
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

FASTAPI_CORO_DEF asio::awaitable<void> WebSocket::flushed() {
    if (!writing_) co_return;
    asio::steady_timer timer(get_executor(), options_.close_timeout);
    timer.async_wait([this](const asio::error_code& ec) {
        if (!ec) drop(close_code_);
    });
    while (writing_ && state_ == State::connected) co_await wait_on(flushed_wake_);
    timer.cancel();
}

FASTAPI_CORO_DEF asio::awaitable<void> WebSocket::send(detail::WsOpcode op, std::string_view payload) {
    if (state_ == State::connecting) throw std::logic_error("fastapi: a WebSocket sends after accept()");
    if (state_ == State::disconnected || close_sent_) throw WebSocketDisconnect(close_code_, close_reason_);
    start();
    if (std::size_t sent = 0; send_now(op, payload, sent)) {
        if (state_ == State::disconnected) throw WebSocketDisconnect(close_code_, close_reason_);
        if (sent == std::string_view::npos) co_return;  // all of it
        // What the socket did not take, queued.
        unsigned char head[10];
        const std::size_t head_len = detail::ws_frame_header(head, op, payload.size());
        std::string rest;
        if (sent < head_len) rest.append(reinterpret_cast<const char*>(head) + sent, head_len - sent);
        else payload.remove_prefix(sent - head_len);
        rest.append(payload);
        co_await write_frame(std::move(rest));
    } else {
        co_await write_frame(data_frame(op, payload));
    }
    if (state_ == State::disconnected) throw WebSocketDisconnect(close_code_, close_reason_);
}

FASTAPI_CORO_DEF asio::awaitable<void> WebSocket::write_frame(std::string frame) {
    if (!queue_frame(std::move(frame))) co_return;
    while (writing_ && state_ != State::disconnected) co_await wait_on(flushed_wake_);
}

FASTAPI_CORO_DEF asio::awaitable<void> WebSocket::close_kept(std::shared_ptr<WebSocket> self, int code, std::string reason) {
    co_await self->close(code, reason);
}

FASTAPI_CORO_DEF asio::awaitable<void> WebSocket::read_loop(std::shared_ptr<WebSocket> self) { co_await self->read_frames(); }

FASTAPI_CORO_DEF asio::awaitable<void> WebSocket::read_frames() {
    using Kind = detail::WsEvent::Kind;
    while (state_ == State::connected) {
        std::size_t used = 0;
        detail::WsEvent e = parser_.parse(in_.data() + in_at_, in_.size() - in_at_, used);
        in_at_ += used;
        if (e.kind == Kind::text || e.kind == Kind::binary) {
            if (close_sent_) {  // after our close frame: dropped (RFC 6455 §5.5.1)
                (void)parser_.take_message();
                continue;
            }
            Message m{e.kind == Kind::text, parser_.take_message()};
            if (e.compressed) {
                int code = 1002;  // (RSV1 is refused by the parser unless the extension was agreed)
                std::string inflated;
#ifdef FASTAPI_WITH_ZLIB
                if (deflate_) code = deflate_->inflate_message(m.data, inflated, options_.max_message_bytes);
#endif
                if (code == 0 && m.text && !detail::is_valid_utf8_text(inflated)) code = 1007;
                if (code != 0) {
                    co_await protocol_error(static_cast<std::uint16_t>(code), code == 1009 ? "message too big"
                                                                              : code == 1007 ? "invalid compressed or UTF-8 data"
                                                                                             : "compressed message without the extension");
                    break;
                }
                m.data = std::move(inflated);
            }
            inbox_bytes_ += m.data.size();
            inbox_.push_back(std::move(m));
            compact();
            wake_receiver();  // the receiver runs now, on this stack, until it waits again
            while (state_ == State::connected && !close_sent_ &&
                   (inbox_.size() >= options_.max_incoming_messages || inbox_bytes_ >= options_.max_message_bytes)) {
                reader_waiting_ = true;
                co_await wait_on(reader_wake_);
                reader_waiting_ = false;
            }
            continue;
        }
        if (e.kind == Kind::ping) {
            if (close_sent_) continue;
            std::string frame;
            detail::append_ws_frame(frame, detail::WsOpcode::pong, e.data);
            co_await write_frame(std::move(frame));  // queued at once: before what the handler answers next
            continue;
        }
        if (e.kind == Kind::pong) {
            if (!awaited_pong_.empty() && e.data == awaited_pong_) awaited_pong_.clear();
            continue;
        }
        if (e.kind == Kind::close) {
            const int code = e.code;
            std::string reason(e.data);
            if (close_sent_) {  // the answer to ours: done
                drop(close_code_);
                break;
            }
            // Answered with the peer's code (none for none), then the connection closed.
            close_sent_ = true;
            close_code_ = code;
            close_reason_ = std::move(reason);
            std::string frame;
            detail::append_ws_close(frame, static_cast<std::uint16_t>(code), {});
            co_await write_frame(std::move(frame));
            co_await flushed();  // another coroutine's write may hold our frame still
            drop(code);
            break;
        }
        if (e.kind == Kind::error) {
            const int code = e.code;
            co_await protocol_error(static_cast<std::uint16_t>(code), std::string(e.data));
            break;
        }
        compact();
        if (in_.size() - in_at_ == 0) in_.clear(), in_at_ = 0;
        // Read into a buffer of its own and append what came: growing in_ by the read's
        // size first would zero 16 KiB for every 70-byte message (63 % of an echo's cost).
        if (!read_buffer_) read_buffer_ = std::make_unique<char[]>(read_buffer_size);
        asio::error_code ec;
        const std::size_t n = co_await stream_->async_read_some(asio::buffer(read_buffer_.get(), read_buffer_size),
                                                               asio::redirect_error(asio::use_awaitable, ec));
        in_.append(read_buffer_.get(), n);
        if (ec) drop(close_sent_ ? close_code_ : 1006);
    }
    inbox_wake_.cancel();
    wake_receiver({}, false);
}

FASTAPI_CORO_DEF asio::awaitable<void> WebSocket::protocol_error(std::uint16_t code, std::string reason) {
    if (!close_sent_) {
        close_sent_ = true;
        close_code_ = code;
        std::string frame;
        detail::append_ws_close(frame, code, reason);
        co_await write_frame(std::move(frame));
        co_await flushed();
    }
    if (state_ != State::connected) co_return;
    close_code_ = code;
    stream_->shutdown_send();  // our FIN right after the close frame: the peer closes too
    asio::steady_timer timer(get_executor(), options_.close_timeout);
    timer.async_wait([this](const asio::error_code& ec) {
        if (!ec && stream_) stream_->cancel();
    });
    char buf[4096];
    for (int i = 0; i < 1000000 && state_ == State::connected; ++i) {  // until EOF, or the timeout
        asio::error_code ec;
        co_await stream_->async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
        if (ec) break;
    }
    timer.cancel();
    drop(code);
}

FASTAPI_CORO_DEF asio::awaitable<void> WebSocket::ping_loop(std::shared_ptr<WebSocket> self) { co_await self->ping_frames(); }

FASTAPI_CORO_DEF asio::awaitable<void> WebSocket::ping_frames() {
    std::uint64_t count = 0;
    while (state_ == State::connected) {
        asio::error_code ec;
        ping_timer_.expires_after(options_.ping_interval);
        co_await ping_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (state_ != State::connected || close_sent_) break;
        awaited_pong_ = "fastapi-" + std::to_string(++count);
        std::string frame;
        detail::append_ws_frame(frame, detail::WsOpcode::ping, awaited_pong_);
        queue_frame(std::move(frame));  // written without waiting
        if (options_.ping_timeout.count() <= 0) continue;
        ping_timer_.expires_after(options_.ping_timeout);
        co_await ping_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (state_ != State::connected) break;
        if (!awaited_pong_.empty()) {
            fail(1011, "keepalive ping timeout");
            break;
        }
    }
}

FASTAPI_CORO_DEF asio::awaitable<void> WebSocket::refuse(std::uint16_t code, std::string_view why) {
    co_await close(code, why);
    close_code_ = code;
    throw WebSocketDisconnect(code, std::string(why));
}

FASTAPI_CORO_DEF asio::awaitable<void> WebSocket::wait_accept_or_end() {
    while (!accept_requested_ && !handler_ended_) co_await wait_on(wake_);
}

FASTAPI_CORO_DEF void WebSocket::deliver(Upgraded up) {
    stream_.emplace(std::move(up.stream));
    in_ = std::move(up.unread);
    lease_ = std::move(up.lease);
    state_ = State::connected;
    start();
    wake_.cancel();
}
#endif

namespace detail {

// The reason a close frame gives for parameters that failed validation: the first error as
// "loc.path: message", cut to 123 bytes of whole UTF-8 (FastAPI sends its error list there,
// which RFC 6455 does not allow: a reason is at most 123 bytes of text).
FASTAPI_DECL std::string websocket_validation_reason(const ValidationErrors& errors);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string websocket_validation_reason(const ValidationErrors& errors) {
    if (errors.empty()) return "invalid parameters";
    const ValidationError& e = errors.front();
    std::string out;
    for (std::size_t i = 0; i < e.loc.size(); ++i) {
        if (i) out += '.';
        if (auto* part = std::get_if<std::string>(&e.loc[i])) out += *part;
        else out += std::to_string(std::get<std::int64_t>(e.loc[i]));
    }
    out += ": ";
    out += e.msg;
    return std::string(close_reason_prefix(out));
}
#endif

// What happens once a handler has ended, whether it accepted or not: non-template.
//   not accepted: its exception (HTTPException: the app's handlers answer it) is rethrown,
//   a denial response is sent, a WebSocketException or a plain return is a 403 (as uvicorn).
//   accepted: a WebSocketException closes with its code, another exception with 1011 (logged),
//   a return with 1000; a WebSocketDisconnect needs nothing more.
FASTAPI_CORO_DECL asio::awaitable<void> websocket_end(std::shared_ptr<WebSocket> ws, std::exception_ptr error);
#if FASTAPI_DEFINITIONS
FASTAPI_CORO_DEF asio::awaitable<void> websocket_end(std::shared_ptr<WebSocket> ws, std::exception_ptr error) {
    int code = 1000;
    std::string reason;
    if (error) {
        try {
            std::rethrow_exception(error);
        } catch (const WebSocketDisconnect&) {
            co_return;
        } catch (const WebSocketException& e) {
            code = e.code, reason = e.reason;
        } catch (const asio::system_error& e) {
            // Cancelled by the end of a graceful stop's grace period (the connection is gone):
            // nothing to say. Otherwise an error as any other.
            if (ws->state() == WebSocket::State::disconnected && e.code() == asio::error::operation_aborted) co_return;
            std::fprintf(stderr, "fastapi: a WebSocket handler threw: %s\n", e.what());
            code = 1011;
        } catch (const std::exception& e) {
            std::fprintf(stderr, "fastapi: a WebSocket handler threw: %s\n", e.what());
            code = 1011;
        } catch (...) {
            std::fprintf(stderr, "fastapi: a WebSocket handler threw\n");
            code = 1011;
        }
    }
    co_await ws->close(code, reason);
}
#endif

// close() with the session kept alive until it has finished.
FASTAPI_CORO_DECL asio::awaitable<void> websocket_close(std::shared_ptr<WebSocket> ws, int code, std::string reason);
#if FASTAPI_DEFINITIONS
FASTAPI_CORO_DEF asio::awaitable<void> websocket_close(std::shared_ptr<WebSocket> ws, int code, std::string reason) {
    co_await ws->close(code, reason);
}
#endif

template <class Q> struct websocket_binder : Binder<Q> {};
template <> struct websocket_binder<WebSocket&> {
    using holder = WebSocket*;
    static WebSocket& get(holder h) { return *h; }
};
template <class Q>
using websocket_arg_t = decltype(websocket_binder<Q>::get(std::declval<typename websocket_binder<Q>::holder&>()));

template <class F, class... P>
struct websocket_call<F, std::tuple<P...>> {
    using held_t = std::tuple<typename websocket_binder<P>::holder...>;
    static_assert((std::is_same_v<P, WebSocket&> + ... + 0) == 1,
                  "fastapi: a WebSocket handler takes one fastapi::WebSocket& (and typed parameters).");
    static_assert((!std::is_same_v<std::remove_cvref_t<P>, Request> && ...),
                  "fastapi: a WebSocket handler does not take the Request (it is gone once the connection is "
                  "upgraded): read ws.headers(), or take Header<>/Cookie<>/Query<> parameters.");

    template <class Q>
    static typename websocket_binder<Q>::holder bind_one(Exchange& ex, ValidationErrors& errors, WebSocket* ws) {
        if constexpr (std::is_same_v<Q, WebSocket&>) return ws;
        else return Binder<Q>::bind(ex, errors);
    }

    static asio::awaitable<void> session(F& f, std::shared_ptr<WebSocket> ws, held_t held,
                                         std::shared_ptr<std::vector<DependencyScope::Entry>> deps) {
        std::exception_ptr error;
        try {
            std::tuple<websocket_arg_t<P>...> args = std::apply(
                [](auto&... h) { return std::tuple<websocket_arg_t<P>...>(websocket_binder<P>::get(h)...); }, held);
            co_await std::apply([&f](auto&... a) { return f(static_cast<P&&>(a)...); }, args);
        } catch (...) {
            error = std::current_exception();
        }
        if (ws->state() != WebSocket::State::connecting) co_await websocket_end(ws, error);
        else ws->denial_error_ = error;
        ws->handler_ended();
        DependencyScope::close(*deps);  // the dependencies' cleanups, once the handler is done
    }

    static asio::awaitable<void> run(F& f, Exchange& ex, const WebSocketOptions& options) {
        if (int status = check_websocket_handshake(ex.request)) {
            ex.response = websocket_handshake_refusal(status);
            co_return;
        }
        auto executor = co_await asio::this_coro::executor;
        auto ws = std::make_shared<WebSocket>(ex.request, options, executor);
        std::optional<held_t> held;
        ValidationErrors errors;
        ex.body_params = 0;
        if (ex.app) ex.app->run_route_dependencies(ex, errors);
        if (errors.empty()) {
            held.emplace(held_t{bind_one<P>(ex, errors, ws.get())...});  // braces: in order
        }
        if (!errors.empty()) {  // accepted, then closed with 1008 and the first error
            ex.response = websocket_accept_response(ex.request, {});
            ex.response.on_upgrade = [ws, reason = websocket_validation_reason(errors)](Upgraded up) {
                auto exec = up.executor();
                ws->deliver(std::move(up));
                asio::co_spawn(exec, websocket_close(ws, 1008, reason), asio::detached);
            };
            co_return;
        }
        auto deps = std::make_shared<std::vector<DependencyScope::Entry>>(std::move(ex.deps.entries));
        ex.deps.entries.clear();
        ex.deps.pending = 0;
        // Cancelled when a graceful stop's grace period is over (the lease's abort).
        asio::co_spawn(executor, session(f, ws, std::move(*held), deps),
                       asio::bind_cancellation_slot(ws->handler_cancel_.slot(), asio::detached));
        co_await ws->wait_accept_or_end();
        if (!ws->accept_requested_) {
            websocket_answer_unaccepted(ex, *ws, ws->denial_error_);
            co_return;
        }
        ex.response = websocket_accept_response(ex.request, ws->accept_subprotocol_);
        for (auto& field : ws->accept_headers_) ex.response.headers.add(field.first, field.second);
#ifdef FASTAPI_WITH_ZLIB
        if (options.permessage_deflate)
            if (auto agreed = ws_deflate_negotiate(ex.request.headers)) {
                ex.response.headers.add("sec-websocket-extensions", agreed->response());
                ws->deflate_ = std::make_unique<WsDeflate>(*agreed);
                ws->parser_.allow_compressed(true);
            }
#endif
        // Called once the 101 is written; destroyed uncalled when the connection closes first.
        struct Delivery {
            std::shared_ptr<WebSocket> ws;
            ~Delivery() {
                if (ws) ws->delivery_failed();
            }
        };
        auto delivery = std::make_shared<Delivery>();
        delivery->ws = ws;
        ex.response.on_upgrade = [delivery](Upgraded up) { delivery->ws->deliver(std::move(up)); };
    }
};

FASTAPI_DECL void websocket_answer_unaccepted(Exchange& ex, WebSocket& ws, std::exception_ptr error);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void websocket_answer_unaccepted(Exchange& ex, WebSocket& ws, std::exception_ptr error) {
    if (error) {
        try {
            std::rethrow_exception(error);
        } catch (const WebSocketException&) {
            error = nullptr;  // a 403, as uvicorn answers a close before accept
        }
    }
    if (error) std::rethrow_exception(error);  // HTTPException and the rest: the app answers
    if (ws.denial_) ex.response = std::move(*ws.denial_);
    else ex.response = Response("Forbidden", 403, "text/plain; charset=utf-8");
}
#endif

template <class F>
Endpoint make_websocket_endpoint(F f, WebSocketOptions options) {
    using traits = callable_traits<F>;
    using R = typename traits::result;
    using args = typename traits::args;
    static_assert(std::is_same_v<R, asio::awaitable<void>>,
                  "fastapi: a WebSocket handler is a coroutine returning asio::awaitable<void>.");
    Endpoint e;
    e.describe = [](OperationInfo&) {};  // not in the OpenAPI document, as FastAPI
    e.reads_body = false;
    e.call_async = [f = std::move(f), options](Exchange& ex) mutable {
        return websocket_call<F, args>::run(f, ex, options);
    };
    return e;
}

}  // namespace detail

}  // namespace fastapi
