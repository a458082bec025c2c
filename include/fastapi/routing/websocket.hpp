// websocket (routing): fastapi::WebSocket, the session a handler talks to once the handshake's
// 101 is written: Starlette's receive_*/send_*/close over the connection's Stream, with the
// frame parser and writer of http/websocket.hpp. Pings are answered with pongs as they are
// read; a peer's close is answered with the same code and the connection closed; a protocol
// error closes with its code (1002, 1007, 1009) and raises WebSocketDisconnect.
//
// The I/O is non-template (compiled once); only receive_json<T>/send_json<T> are templates,
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
#include "../model/json.hpp"
#include "../model/json_reader.hpp"
#include "../model/validation.hpp"
#include "exchange.hpp"
#include "handler.hpp"

#include <chrono>       // seconds (close timeout)
#include <cstdint>      // uint16_t
#include <cstdio>       // fprintf (a handler's exception after accept)
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

class WebSocket;
namespace detail {
template <class F, class Args> struct websocket_call;
inline void websocket_answer_unaccepted(Exchange& ex, WebSocket& ws, std::exception_ptr error);
}

class WebSocket {
public:
    enum class State { connecting, connected, disconnected };
    struct Message {
        bool text = false;
        std::string data;
    };

    // A session on a connection already upgraded (a 101's on_upgrade made by hand).
    explicit WebSocket(Upgraded up, WebSocketOptions options = {})
        : stream_(std::move(up.stream)), in_(std::move(up.unread)), options_(options), parser_(options.max_message_bytes),
          wake_(stream_->get_executor()) {}
    // A session for a handshake not answered yet (app.websocket): connecting until accept().
    WebSocket(const Request& handshake, WebSocketOptions options, asio::any_io_executor executor)
        : options_(options), parser_(options.max_message_bytes), state_(State::connecting), headers_(handshake.headers),
          subprotocols_(detail::websocket_offered_subprotocols(handshake)), wake_(executor) {}
    WebSocket(const WebSocket&) = delete;
    WebSocket& operator=(const WebSocket&) = delete;

    State state() const noexcept { return state_; }
    // The handshake's headers, and the subprotocols it offers (Sec-WebSocket-Protocol, in order).
    const Headers& headers() const noexcept { return headers_; }
    const std::vector<std::string>& subprotocols() const noexcept { return subprotocols_; }

    // Completes the handshake: the 101, with `subprotocol` (one the client offered, or none)
    // and `headers`. Returns once the connection is the WebSocket's; WebSocketDisconnect(1006)
    // if it closed first.
    asio::awaitable<void> accept(std::string subprotocol = {}, Headers headers = {}) {
        if (state_ != State::connecting || accept_requested_) throw std::logic_error("fastapi: WebSocket.accept() called twice");
        accept_requested_ = true;
        accept_subprotocol_ = std::move(subprotocol);
        accept_headers_ = std::move(headers);
        wake_.cancel();  // the endpoint waits for this
        while (!stream_ && !delivery_failed_) {
            asio::error_code ec;
            wake_.expires_at(asio::steady_timer::time_point::max());
            co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
        if (!stream_) {
            state_ = State::disconnected;
            close_code_ = 1006;
            throw WebSocketDisconnect(1006);
        }
        state_ = State::connected;
    }
    // Before accept(): answer the handshake with this HTTP response instead of the 101
    // (Starlette's send_denial_response); the handler returns after it.
    void send_denial_response(Response response) {
        if (state_ != State::connecting || accept_requested_) throw std::logic_error("fastapi: a WebSocket's denial response comes before accept()");
        denial_ = std::move(response);
    }

    // The next message, text or binary; WebSocketDisconnect once the connection is closed.
    asio::awaitable<Message> receive() {
        for (;;) {
            if (state_ != State::connected) throw WebSocketDisconnect(state_ == State::connecting ? 1006 : close_code_, close_reason_);
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
                    co_await finish(e.code, e.data, true);
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
            const std::size_t n = co_await stream_->async_read_some(asio::buffer(in_.data() + at, 16384),
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
        if (state_ != State::connected) co_return;
        co_await finish(static_cast<std::uint16_t>(code), reason, true);
        close_code_ = code;
    }

private:
    asio::awaitable<void> send(detail::WsOpcode op, std::string_view payload) {
        if (state_ == State::connecting) throw std::logic_error("fastapi: a WebSocket sends after accept()");
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
        while (!queued_.empty() && stream_->is_open()) {
            std::string out;
            out.swap(queued_);
            asio::error_code ec;
            co_await asio::async_write(*stream_, asio::buffer(out), asio::redirect_error(asio::use_awaitable, ec));
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
            asio::steady_timer timer(stream_->get_executor(), options_.close_timeout);
            timer.async_wait([this](const asio::error_code& ec) {
                if (!ec) stream_->cancel();
            });
            // After a protocol error the parser reads no more: what comes is dropped until the
            // peer closes (closing with unread bytes would reset the connection, and the peer
            // might never see our close frame and its code).
            // Our FIN right after the close frame tells the peer to close its side too.
            const bool discard = parser_.finished();
            if (discard) stream_->shutdown_send();
            char buf[4096];
            for (int i = 0; i < 1000000; ++i) {  // until the peer's close, or EOF, or the timeout
                if (!discard) {
                    std::size_t used = 0;
                    auto e = parser_.parse(in_.data() + in_at_, in_.size() - in_at_, used);
                    in_at_ += used;
                    if (parser_.finished()) break;
                    if (e.kind != detail::WsEvent::Kind::need_more) continue;  // a message after ours: dropped
                }
                in_.clear(), in_at_ = 0;
                asio::error_code ec;
                const std::size_t n = co_await stream_->async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
                if (ec) break;
                if (!discard) in_.assign(buf, n);
            }
            timer.cancel();
        }
        drop(code);
    }

    // Closes on a message of the wrong kind (receive_text got bytes): 1003, then raises.
    asio::awaitable<void> refuse(std::uint16_t code, std::string_view why) {
        co_await finish(code, why, true);
        close_code_ = code;
        throw WebSocketDisconnect(code, std::string(why));
    }

    void drop(int code) noexcept {
        if (state_ == State::disconnected) return;
        state_ = State::disconnected;
        close_code_ = code;
        if (stream_) stream_->shutdown_send(), stream_->close();
    }

    // The endpoint's side (app.websocket): waits until the handler accepts or ends; then the
    // 101's on_upgrade delivers the stream, or says it never will.
    template <class, class> friend struct detail::websocket_call;
    friend void detail::websocket_answer_unaccepted(detail::Exchange&, WebSocket&, std::exception_ptr);
    std::exception_ptr denial_error_;
    asio::awaitable<void> wait_accept_or_end() {
        while (!accept_requested_ && !handler_ended_) {
            asio::error_code ec;
            wake_.expires_at(asio::steady_timer::time_point::max());
            co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
    }
    void handler_ended() {
        handler_ended_ = true;
        wake_.cancel();
    }
    void deliver(Upgraded up) {
        stream_.emplace(std::move(up.stream));
        in_ = std::move(up.unread);
        state_ = State::connected;
        wake_.cancel();
    }
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
    std::size_t in_at_ = 0;
    WebSocketOptions options_;
    detail::WsFrameParser parser_;
    State state_ = State::connected;
    int close_code_ = 1000;
    std::string close_reason_;
    std::string queued_;
    bool writing_ = false;
    Headers headers_;
    std::vector<std::string> subprotocols_;
    bool accept_requested_ = false, handler_ended_ = false, delivery_failed_ = false;
    std::string accept_subprotocol_;
    Headers accept_headers_;
    std::optional<Response> denial_;
    asio::steady_timer wake_;  // the endpoint and the handler wait on it for each other
};

namespace detail {

// The reason a close frame gives for parameters that failed validation: the first error as
// "loc.path: message", cut to 123 bytes of whole UTF-8 (FastAPI sends its error list there,
// which RFC 6455 does not allow: a reason is at most 123 bytes of text).
inline std::string websocket_validation_reason(const ValidationErrors& errors) {
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

// What happens once a handler has ended, whether it accepted or not: non-template.
//   not accepted: its exception (HTTPException: the app's handlers answer it) is rethrown,
//   a denial response is sent, a WebSocketException or a plain return is a 403 (as uvicorn).
//   accepted: a WebSocketException closes with its code, another exception with 1011 (logged),
//   a return with 1000; a WebSocketDisconnect needs nothing more.
inline asio::awaitable<void> websocket_end(std::shared_ptr<WebSocket> ws, std::exception_ptr error) {
    int code = 1000;
    std::string reason;
    if (error) {
        try {
            std::rethrow_exception(error);
        } catch (const WebSocketDisconnect&) {
            co_return;
        } catch (const WebSocketException& e) {
            code = e.code, reason = e.reason;
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

// close() with the session kept alive until it has finished.
inline asio::awaitable<void> websocket_close(std::shared_ptr<WebSocket> ws, int code, std::string reason) {
    co_await ws->close(code, reason);
}

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
        asio::co_spawn(executor, session(f, ws, std::move(*held), deps), asio::detached);
        co_await ws->wait_accept_or_end();
        if (!ws->accept_requested_) {
            websocket_answer_unaccepted(ex, *ws, ws->denial_error_);
            co_return;
        }
        ex.response = websocket_accept_response(ex.request, ws->accept_subprotocol_);
        for (auto& field : ws->accept_headers_) ex.response.headers.add(field.first, field.second);
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

inline void websocket_answer_unaccepted(Exchange& ex, WebSocket& ws, std::exception_ptr error) {
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
