// body_source: bodies that are not one string. A response body produced chunk by chunk by a
// coroutine (StreamWriter, which the server backs with its connection's output and its
// back-pressure), and a request body read chunk by chunk as it arrives (RequestStream, fed
// by the connection, or by the whole body when it is already in memory). The machinery is
// type-erased here once (a virtual sink and source), so nothing of it is a template
// instantiated per handler. Relies on config (Asio).
#pragma once
#include "../core/config.hpp"

#include <algorithm>    // min
#include <cstdint>      // uint64_t
#include <functional>   // function
#include <memory>       // shared_ptr
#include <optional>     // optional
#include <stdexcept>    // length_error
#include <string>       // string
#include <string_view>  // string_view
#include <utility>      // exchange

namespace fastapi {

class StreamWriter;

namespace detail {
// Where a StreamWriter's bytes go: the server's connection (framed, with back-pressure), the
// TestClient's buffer, a compressor in front of either (GZipMiddleware).
class StreamSink {
public:
    virtual ~StreamSink() = default;
    // Returns once the bytes are taken (the connection: once its output has room again).
    // Throws asio::system_error(operation_aborted) when the client is gone.
    virtual asio::awaitable<void> write(std::string_view bytes) = 0;
    // `f` is called (once, on the connection's loop) when the server begins a graceful stop, or
    // at once if it has: how an endless stream (Server-Sent Events) ends cleanly instead of
    // holding the stop for its whole grace period. A sink that wraps another passes it on.
    virtual void on_server_stop(std::function<void()> f) { (void)f; }
};

// A streamed response body: the producer and, when it is known beforehand, its length.
struct BodyProducer {
    std::function<asio::awaitable<void>(StreamWriter&)> produce;
    std::optional<std::uint64_t> length;  // Content-Length; otherwise chunked (HTTP/1.1) or until close
};

// Where a RequestStream's chunks come from.
class BodyReader {
public:
    virtual ~BodyReader() = default;
    // The next chunk (valid until the next call), empty at the end of the body.
    virtual asio::awaitable<std::string_view> read() = 0;
    virtual bool done() const noexcept = 0;
};

// A body that is in memory already (it arrived with its head, or the TestClient sent it).
// A template only so that its coroutine is compiled where a handler takes a RequestStream&
// (FASTAPI_LAZY in core/config.hpp).
template <int = 0>
class BasicWholeBodyReader final : public BodyReader {
public:
    explicit BasicWholeBodyReader(std::string_view body) noexcept : body_(body) {}
    asio::awaitable<std::string_view> read() override {
        co_return std::exchange(body_, std::string_view{});
    }
    bool done() const noexcept override { return body_.empty(); }

private:
    std::string_view body_;
};
using WholeBodyReader = BasicWholeBodyReader<>;

// Decodes a request body as it arrives, consuming what it decodes: a Content-Length count or
// the chunked coding (RFC 9112 §7.1; trailer fields are read and dropped). The decoded size
// is checked against `limit` as it grows: 413 the moment it passes it.
class BodyDecoder {
public:
    void start_length(std::uint64_t n, std::uint64_t limit) noexcept {
        *this = {};
        left_ = n;
        limit_ = limit;
        state_ = n == 0 ? State::done : State::length;
    }
    void start_chunked(std::uint64_t limit, std::size_t max_line) noexcept {
        *this = {};
        limit_ = limit;
        max_line_ = max_line;
        state_ = State::size;
    }
    bool done() const noexcept { return state_ == State::done; }
    bool failed() const noexcept { return state_ == State::failed; }
    int error_status() const noexcept { return status_; }
    const char* error_reason() const noexcept { return reason_; }

    // Appends the body bytes in `in` to `out` (at most `most` of them); returns how many bytes
    // of `in` it consumed. Stops at the end of the body (what follows is the next request).
    std::size_t decode(std::string_view in, std::string& out, std::size_t most) {
        std::size_t i = 0;
        while (i < in.size() && state_ != State::done && state_ != State::failed) {
            switch (state_) {
                case State::length: {
                    const std::size_t take = static_cast<std::size_t>(
                        std::min<std::uint64_t>({left_, in.size() - i, most - std::min(most, out.size())}));
                    if (take == 0) return i;
                    out.append(in.data() + i, take);
                    i += take;
                    left_ -= take;
                    if (left_ == 0) state_ = State::done;
                    break;
                }
                case State::size:
                case State::trailers: {
                    const char c = in[i++];
                    if (c != '\n') {
                        if (++line_ > max_line_) return fail(400, "Chunk size line too long"), i;
                        line_text_ += c;
                        break;
                    }
                    if (line_text_.empty() || line_text_.back() != '\r') return fail(400, "Bare LF in chunked body"), i;
                    line_text_.pop_back();
                    if (state_ == State::trailers) {
                        if (line_text_.empty()) state_ = State::done;
                        trailer_bytes_ += line_;
                        if (trailer_bytes_ > max_line_ * 16) return fail(431, "Trailer section too large"), i;
                    } else if (!size_line()) {
                        return i;
                    }
                    line_text_.clear();
                    line_ = 0;
                    break;
                }
                case State::data: {
                    const std::size_t take = static_cast<std::size_t>(
                        std::min<std::uint64_t>({left_, in.size() - i, most - std::min(most, out.size())}));
                    if (take == 0) return i;
                    out.append(in.data() + i, take);
                    i += take;
                    left_ -= take;
                    if (left_ == 0) state_ = State::data_cr;
                    break;
                }
                case State::data_cr:
                    if (in[i++] != '\r') return fail(400, "Chunk data not followed by CRLF"), i;
                    state_ = State::data_lf;
                    break;
                case State::data_lf:
                    if (in[i++] != '\n') return fail(400, "Chunk data not followed by CRLF"), i;
                    state_ = State::size;
                    break;
                default: return i;
            }
        }
        return i;
    }

private:
    enum class State : unsigned char { idle, length, size, data, data_cr, data_lf, trailers, done, failed };
    void fail(int status, const char* reason) noexcept {
        state_ = State::failed;
        status_ = status;
        reason_ = reason;
    }
    bool size_line() {
        std::uint64_t size = 0;
        std::size_t digits = 0;
        for (char c : line_text_) {
            int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
            if (v < 0) break;
            if (++digits > 15) return fail(400, "Chunk size too large"), false;
            size = size * 16 + static_cast<std::uint64_t>(v);
        }
        if (digits == 0) return fail(400, "Invalid chunk size"), false;
        for (std::size_t k = digits; k < line_text_.size(); ++k) {  // chunk extensions: ignored, but no controls
            const auto u = static_cast<unsigned char>(line_text_[k]);
            if ((u < 0x20 && u != '\t') || u == 0x7f) return fail(400, "Invalid chunk extension"), false;
        }
        if (digits < line_text_.size() && line_text_[digits] != ';' && line_text_[digits] != ' ' && line_text_[digits] != '\t')
            return fail(400, "Invalid chunk size"), false;
        if (size > limit_ - decoded_) return fail(413, "Request body too large"), false;
        decoded_ += size;
        if (size == 0) {
            state_ = State::trailers;
        } else {
            left_ = size;
            state_ = State::data;
        }
        return true;
    }

    State state_ = State::idle;
    std::uint64_t left_ = 0, decoded_ = 0, limit_ = 0;
    std::size_t line_ = 0, max_line_ = 4096, trailer_bytes_ = 0;
    std::string line_text_;
    int status_ = 0;
    const char* reason_ = "";
};
}  // namespace detail

// What a StreamingResponse's producer writes to: `co_await out.write(chunk)` returns once the
// chunk is taken. Back-pressure: while the client is slower than the producer (the socket's
// buffer and the connection's output are full) the write waits, so a producer never runs
// ahead of its client by more than that. When the client has gone (or the server stops past
// its grace period) the write throws asio::system_error (operation_aborted): let it end the
// producer.
class StreamWriter {
public:
    explicit StreamWriter(detail::StreamSink& sink) noexcept : sink_(&sink) {}
    StreamWriter(const StreamWriter&) = delete;
    StreamWriter& operator=(const StreamWriter&) = delete;

    // `bytes` must stay valid until the write returns (co_await it at once).
    asio::awaitable<void> write(std::string_view bytes) {
        written_ += bytes.size();
        return sink_->write(bytes);
    }
    std::uint64_t bytes_written() const noexcept { return written_; }
    // `f` runs when the server begins a graceful stop (once; at once if it has begun): a producer
    // that would run for ever (an event stream) ends there. Others run on, up to the grace period.
    void on_server_stop(std::function<void()> f) { sink_->on_server_stop(std::move(f)); }

private:
    detail::StreamSink* sink_;
    std::uint64_t written_ = 0;
};

// A request body read as it arrives, by a coroutine handler that takes a RequestStream&
// parameter (Starlette's `async for chunk in request.stream()`):
//   app.post("/upload", [](fastapi::RequestStream& body) -> asio::awaitable<std::string> {
//       std::size_t n = 0;
//       for (auto chunk = co_await body.read(); !chunk.empty(); chunk = co_await body.read()) n += chunk.size();
//       co_return std::to_string(n);
//   });
// The body is never held whole: the server hands over what each read of the socket brought.
// Limits::max_body_bytes applies as it arrives (HTTPException 413 from read() the moment the
// body passes it; a Content-Length over it is refused before the handler runs). A handler that
// returns before the end of the body answers, and the connection closes after the answer.
class RequestStream {
public:
    explicit RequestStream(detail::BodyReader& reader) noexcept : reader_(&reader) {}
    // The next chunk, valid until the next read; empty once the whole body has been read.
    asio::awaitable<std::string_view> read() { return reader_->read(); }
    bool done() const noexcept { return reader_->done(); }

private:
    detail::BodyReader* reader_;
};

}  // namespace fastapi
