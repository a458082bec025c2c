// stream: the byte stream a connection speaks HTTP over, and what a response hands over
// after an Upgrade. One non-template type for every transport (a socket of any family the
// server listens on: TCP over IPv4 or IPv6, a Unix domain socket, an inherited descriptor; or
// an in-memory pipe, for TestClient), so the connection code is compiled once, not once per
// transport. Relies on config (Asio) only.
#pragma once
#include "../core/config.hpp"

#include <cstring>      // memcpy
#include <functional>   // function (on_upgrade)
#include <memory>       // shared_ptr, unique_ptr
#include <optional>     // optional
#include <string>       // string
#include <utility>      // move

#include <netinet/in.h>  // IPPROTO_TCP
#include <sys/socket.h>  // AF_INET, AF_INET6

namespace fastapi {

namespace detail {

// The far side of an in-memory Stream: bytes for the stream to read (`input`, then its end
// when `input_closed`) and what it wrote (`output`). A read with nothing to read waits until
// feed() or close_input(). Runs on one thread (the executor the Stream was made with).
struct MemoryPipe {
    struct PendingRead {
        asio::mutable_buffer buffer;
        virtual ~PendingRead() = default;
        virtual void complete(const asio::error_code& ec, std::size_t n) = 0;
    };
    template <class H>
    struct Pending final : PendingRead {
        H handler;
        asio::any_io_executor fallback;
        Pending(H h, asio::any_io_executor ex) : handler(std::move(h)), fallback(std::move(ex)) {}
        void complete(const asio::error_code& ec, std::size_t n) override {
            auto ex = asio::get_associated_executor(handler, fallback);
            asio::post(ex, [h = std::move(handler), ec, n]() mutable { std::move(h)(ec, n); });
        }
    };

    asio::any_io_executor executor;
    std::string input;
    std::size_t input_pos = 0;
    bool input_closed = false, output_closed = false, closed = false;
    // A TestClient session (a WebSocket, a stream read chunk by chunk): the test goes on
    // feeding bytes after an upgrade, instead of the input ending there.
    bool interactive = false;
    std::string output;
    std::unique_ptr<PendingRead> pending;

    explicit MemoryPipe(asio::any_io_executor ex) : executor(std::move(ex)) {}

    void feed(std::string_view bytes) {
        input.append(bytes);
        serve_read();
    }
    void close_input() {
        input_closed = true;
        serve_read();
    }
    // Completes the waiting read if there is something to give it.
    void serve_read() {
        if (!pending) return;
        auto p = std::move(pending);
        if (closed) return p->complete(asio::error::operation_aborted, 0);
        const std::size_t left = input.size() - input_pos;
        if (left != 0) {
            const std::size_t n = std::min(left, p->buffer.size());
            std::memcpy(p->buffer.data(), input.data() + input_pos, n);
            input_pos += n;
            if (input_pos == input.size()) input.clear(), input_pos = 0;
            return p->complete({}, n);
        }
        if (input_closed) return p->complete(asio::error::eof, 0);
        pending = std::move(p);  // nothing yet: it waits
    }
    void cancel_read() {
        if (auto p = std::move(pending)) p->complete(asio::error::operation_aborted, 0);
    }
};

}  // namespace detail

// A connection's bytes: a socket (TCP, Unix domain, or one the server was given) or an
// in-memory pipe (TestClient). An AsyncReadStream and AsyncWriteStream, so asio::async_read,
// asio::async_write and co_await with asio::use_awaitable work on it as on a socket.
class Stream {
public:
    using executor_type = asio::any_io_executor;
    using socket_type = asio::generic::stream_protocol::socket;

    explicit Stream(socket_type socket) : socket_(std::move(socket)) {}
    explicit Stream(std::shared_ptr<detail::MemoryPipe> pipe) : pipe_(std::move(pipe)) {}
    Stream(Stream&&) noexcept = default;
    Stream& operator=(Stream&&) noexcept = default;

    executor_type get_executor() noexcept { return socket_ ? socket_->get_executor() : pipe_->executor; }

    // The socket, or null for an in-memory stream (TestClient).
    socket_type* socket() noexcept { return socket_ ? &*socket_ : nullptr; }
    // A TCP connection (IPv4 or IPv6), as opposed to a Unix domain socket or a pipe.
    bool is_tcp() const noexcept {
        if (!socket_ || !socket_->is_open()) return false;
        asio::error_code ec;
        const auto family = socket_->local_endpoint(ec).protocol().family();
        return !ec && (family == AF_INET || family == AF_INET6);
    }
    bool is_open() const noexcept { return socket_ ? socket_->is_open() : pipe_ && !pipe_->closed; }

    template <class MutableBuffers, class Token>
    auto async_read_some(const MutableBuffers& buffers, Token&& token) {
        return asio::async_initiate<Token, void(asio::error_code, std::size_t)>(
            [this](auto handler, const MutableBuffers& b) {
                if (socket_) return socket_->async_read_some(b, std::move(handler));
                asio::mutable_buffer first;
                for (auto it = asio::buffer_sequence_begin(b); it != asio::buffer_sequence_end(b); ++it)
                    if (asio::mutable_buffer m(*it); m.size() != 0) {
                        first = m;
                        break;
                    }
                using H = decltype(handler);
                auto p = std::make_unique<detail::MemoryPipe::Pending<H>>(std::move(handler), pipe_->executor);
                if (first.size() == 0) return p->complete({}, 0);
                p->buffer = first;
                pipe_->cancel_read();  // one read at a time, as on a socket
                pipe_->pending = std::move(p);
                pipe_->serve_read();
            },
            token, buffers);
    }

    template <class ConstBuffers, class Token>
    auto async_write_some(const ConstBuffers& buffers, Token&& token) {
        return asio::async_initiate<Token, void(asio::error_code, std::size_t)>(
            [this](auto handler, const ConstBuffers& b) {
                if (socket_) return socket_->async_write_some(b, std::move(handler));
                std::size_t n = 0;
                asio::error_code ec;
                if (pipe_->closed || pipe_->output_closed) ec = asio::error::broken_pipe;
                else
                    for (auto it = asio::buffer_sequence_begin(b); it != asio::buffer_sequence_end(b); ++it) {
                        asio::const_buffer c(*it);
                        pipe_->output.append(static_cast<const char*>(c.data()), c.size());
                        n += c.size();
                    }
                detail::MemoryPipe::Pending<decltype(handler)>(std::move(handler), pipe_->executor).complete(ec, n);
            },
            token, buffers);
    }

    // No more bytes from us (the peer reads the end of the stream).
    void shutdown_send() noexcept {
        asio::error_code ec;
        if (socket_) socket_->shutdown(asio::socket_base::shutdown_send, ec);
        else if (pipe_) pipe_->output_closed = true;
    }
    // In-memory only: no more bytes will come (the TestClient sent all it had); a read waiting
    // for more ends with eof. Nothing on a socket.
    void end_input() noexcept {
        if (!pipe_ || pipe_->interactive) return;
        pipe_->input_closed = true;
        pipe_->serve_read();
    }
    // Ends pending operations with operation_aborted.
    void cancel() noexcept {
        asio::error_code ec;
        if (socket_) socket_->cancel(ec);
        else if (pipe_) pipe_->cancel_read();
    }
    void close() noexcept;

private:
    std::optional<socket_type> socket_;
    std::shared_ptr<detail::MemoryPipe> pipe_;
};

#if FASTAPI_DEFINITIONS
FASTAPI_DECL auto Stream::close() noexcept -> void {
    asio::error_code ec;
    if (socket_) {
        socket_->shutdown(asio::socket_base::shutdown_both, ec);
        socket_->close(ec);
    } else if (pipe_) {
        pipe_->closed = pipe_->output_closed = true;
        pipe_->cancel_read();
    }
}
#endif

// What a response's on_upgrade receives once the response (a 101 Switching Protocols) is
// written: the connection's stream, which no longer speaks HTTP, and the bytes the client sent
// after the request that HTTP did not consume (the first frames of the new protocol, if the
// client did not wait for the 101).
//
// `lease` is the server's hold on the connection: while it lives the connection counts against
// Limits::max_connections and a graceful stop waits for it; the new protocol's code sets what a
// stop asks of it (both called on the stream's executor). Null for a hand-off nothing tracks.
namespace detail {
struct UpgradeLease : std::enable_shared_from_this<UpgradeLease> {
    virtual ~UpgradeLease() = default;
    std::function<void()> going_away;  // a graceful stop began: close politely (WebSocket: 1001)
    std::function<void()> abort;       // the grace period is over: close now, cancel what runs
};
}  // namespace detail

struct Upgraded {
    Stream stream;
    std::string unread;
    std::shared_ptr<detail::UpgradeLease> lease{};
    asio::any_io_executor executor() noexcept { return stream.get_executor(); }
};

}  // namespace fastapi
