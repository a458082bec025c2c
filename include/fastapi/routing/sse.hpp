// sse: Server-Sent Events (FastAPI's fastapi.sse), and JSON Lines: a response of
// `text/event-stream` (or `application/jsonl`, one JSON document a line) fed by a
// coroutine that sends typed items, each JSON-encoded into an event's `data:`, or whole
// ServerSentEvent values (event, id, retry, comment, raw data). A `: ping` comment keeps an
// idle stream alive. The events go out through the core's streamed bodies: back-pressure,
// cancellation when the client leaves, cleanups after the last byte.
//
//   app.get("/events", [] {
//       return fastapi::EventSourceResponse<Item>([](fastapi::EventStream<Item>& out) -> asio::awaitable<void> {
//           co_await out.send(Item{"Portal Gun", 999.99});
//           co_await out.send({.data = Item{"Plumbus", 32.99}, .id = "2"});
//       });
//   });
#pragma once
#include "../http/body_source.hpp"
#include "../http/http_types.hpp"
#include "../model/json.hpp"

#include <chrono>       // steady_clock, milliseconds
#include <cstdint>      // int64_t
#include <deque>        // deque
#include <exception>    // exception_ptr
#include <functional>   // function
#include <memory>       // shared_ptr
#include <optional>     // optional
#include <stdexcept>    // invalid_argument
#include <string>       // string
#include <string_view>  // string_view
#include <utility>      // move

namespace fastapi {

// One event (FastAPI's ServerSentEvent). `data` is sent JSON-encoded (a string in quotes),
// `raw_data` as it is; set at most one. `event` and `id` must be one line, and `id` must not
// contain NUL (the browser would ignore it): a send that breaks these throws
// std::invalid_argument and sends nothing. `retry` is the reconnection time in milliseconds
// (not negative); `comment` lines start with ':' and clients ignore them.
template <class T = picojson::value>
struct ServerSentEvent {
    std::optional<T> data{};
    std::optional<std::string> raw_data{};
    std::optional<std::string> event{};
    std::optional<std::string> id{};
    std::optional<std::int64_t> retry{};
    std::optional<std::string> comment{};
};

// How an event stream behaves: the keep-alive comment after this long without an event
// (FastAPI's 15 s), its status.
struct EventSourceOptions {
    std::chrono::milliseconds ping_interval{15000};
    int status_code = 200;
};

namespace detail {

// `text` as lines of `prefix`: split at CR, LF and CRLF only (the event-stream format's line
// ends; Python's splitlines, which FastAPI uses, also splits at form feeds and U+2028).
FASTAPI_DECL void append_sse_lines(std::string& out, std::string_view prefix, std::string_view text);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void append_sse_lines(std::string& out, std::string_view prefix, std::string_view text) {
    std::size_t start = 0;
    for (;;) {
        std::size_t end = text.find_first_of("\r\n", start);
        out.append(prefix).append(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start)) += '\n';
        if (end == std::string_view::npos) return;
        start = end + (text[end] == '\r' && end + 1 < text.size() && text[end + 1] == '\n' ? 2 : 1);
        if (start == text.size()) return;  // a trailing line end ends the last line
    }
}
#endif

FASTAPI_DECL void check_sse_line(const std::optional<std::string>& value, const char* field);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void check_sse_line(const std::optional<std::string>& value, const char* field) {
    if (value && value->find_first_of("\r\n") != std::string::npos)
        throw std::invalid_argument(std::string("fastapi: an SSE '") + field + "' must be a single line");
}
#endif

// The event's bytes: comment, event, data, id, retry lines, then the blank line that ends it.
FASTAPI_DECL std::string format_sse_event(const std::string* data, const std::optional<std::string>& event,
                                    const std::optional<std::string>& id, std::optional<std::int64_t> retry,
                                    const std::optional<std::string>& comment);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string format_sse_event(const std::string* data, const std::optional<std::string>& event,
                                    const std::optional<std::string>& id, std::optional<std::int64_t> retry,
                                    const std::optional<std::string>& comment) {
    check_sse_line(event, "event");
    check_sse_line(id, "id");
    if (id && id->find('\0') != std::string::npos)
        throw std::invalid_argument("fastapi: an SSE 'id' must not contain NUL characters");
    if (retry && *retry < 0) throw std::invalid_argument("fastapi: an SSE 'retry' must not be negative");
    std::string out;
    if (comment) append_sse_lines(out, ": ", *comment);
    if (event) out.append("event: ").append(*event) += '\n';
    if (data) append_sse_lines(out, "data: ", *data);
    if (id) out.append("id: ").append(*id) += '\n';
    if (retry) out.append("retry: ").append(std::to_string(*retry)) += '\n';
    out += '\n';
    return out;
}
#endif

// What the user's producer and the writing loop share. The producer runs as a coroutine of its
// own and queues formatted events (one at a time: it waits while one is queued, so it never
// runs ahead of the client by more than that); the loop, the response body's producer, writes
// them and a ping when none came for the ping interval. All on the connection's loop thread.
class EventQueue {
public:
    explicit EventQueue(const asio::any_io_executor& ex) : wake_(ex), room_(ex) {}

    // The producer's side.
    FASTAPI_CORO_DECL asio::awaitable<void> push(std::string bytes);
    void producer_done(std::exception_ptr error) noexcept {
        done_ = true;
        if (!ended_) error_ = std::move(error);  // cancelled by end(): no failure
        wake_.cancel();
    }

    // The writing loop (the body producer the connection runs).
    FASTAPI_CORO_DECL asio::awaitable<void> drain(StreamWriter& out, std::chrono::milliseconds ping);

    // The loop ended (the stream is complete, the client left, the server stops): a producer
    // still running is cancelled, and a send it still makes throws.
    void close() noexcept {
        closed_ = true;
        room_.cancel();
        cancel_.emit(asio::cancellation_type::terminal);
    }
    asio::cancellation_slot producer_slot() noexcept { return cancel_.slot(); }
    // The server stops: the stream ends after what is queued (its last chunk sent, so the client
    // sees a complete response and reconnects elsewhere), and the producer is cancelled.
    void end() noexcept {
        done_ = true;
        error_ = nullptr;
        ended_ = true;
        wake_.cancel();
        close();
    }

private:
    asio::steady_timer wake_, room_;
    asio::cancellation_signal cancel_;
    std::optional<std::string> pending_;
    bool done_ = false, closed_ = false, ended_ = false;
    std::exception_ptr error_;
};

#if FASTAPI_DEFINITIONS
FASTAPI_CORO_DEF asio::awaitable<void> EventQueue::push(std::string bytes) {
    while (pending_ && !closed_) {
        room_.expires_at(asio::steady_timer::time_point::max());
        asio::error_code ec;
        co_await room_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    if (closed_) throw asio::system_error(asio::error::operation_aborted);
    pending_ = std::move(bytes);
    wake_.cancel();
}

FASTAPI_CORO_DEF asio::awaitable<void> EventQueue::drain(StreamWriter& out, std::chrono::milliseconds ping) {
    auto last = std::chrono::steady_clock::now();
    for (;;) {
        if (pending_) {
            std::string bytes = std::move(*pending_);
            pending_.reset();
            room_.cancel();
            co_await out.write(bytes);
            last = std::chrono::steady_clock::now();
            continue;
        }
        if (done_) break;
        const bool pings = ping.count() > 0;  // JSON Lines have none
        if (pings && std::chrono::steady_clock::now() >= last + ping) {
            co_await out.write(": ping\n\n");
            last = std::chrono::steady_clock::now();
            continue;
        }
        wake_.expires_at(pings ? last + ping : asio::steady_timer::time_point::max());
        asio::error_code ec;
        co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        // Woken by the producer (the timer cancelled), or cancelled ourselves: the client
        // left, or the server stops.
        asio::cancellation_state state = co_await asio::this_coro::cancellation_state;
        if (state.cancelled() != asio::cancellation_type::none) throw asio::system_error(asio::error::operation_aborted);
    }
    if (error_) std::rethrow_exception(error_);
}
#endif

// Closes the queue when the writing loop ends, however it ends. (At namespace scope: a class
// local to a coroutine crashes GCC 12 when the header is precompiled.)
struct EventQueueCloser {
    EventQueue& queue;
    ~EventQueueCloser() { queue.close(); }
};

// The response body of an EventSourceResponse (or a JSONLinesResponse, without pings: `ping`
// zero): starts the user's producer beside the loop that writes what it sends.
FASTAPI_CORO_DECL asio::awaitable<void> run_event_stream(StreamWriter& out, std::chrono::milliseconds ping,
                                                   std::function<asio::awaitable<void>(std::shared_ptr<EventQueue>)> producer);
#if FASTAPI_DEFINITIONS
FASTAPI_CORO_DEF asio::awaitable<void> run_event_stream(StreamWriter& out, std::chrono::milliseconds ping,
                                                  std::function<asio::awaitable<void>(std::shared_ptr<EventQueue>)> producer) {
    // (No co_await inside a larger expression: GCC 12 mishandles the temporaries there.)
    const asio::any_io_executor ex = co_await asio::this_coro::executor;
    const std::shared_ptr<EventQueue> queue = std::make_shared<EventQueue>(ex);
    const EventQueueCloser closer{*queue};
    out.on_server_stop([weak = std::weak_ptr<EventQueue>(queue)] {
        if (auto q = weak.lock()) q->end();
    });
    asio::awaitable<void> produce = producer(queue);
    asio::co_spawn(ex, std::move(produce),
                   asio::bind_cancellation_slot(queue->producer_slot(),
                                                [queue](std::exception_ptr e) { queue->producer_done(std::move(e)); }));
    co_await queue->drain(out, ping);
}
#endif

}  // namespace detail

// What an EventSourceResponse's producer sends to. `co_await out.send(item)` returns once the
// event is queued for the client (back-pressure: while the client is slower, it waits); it
// throws asio::system_error (operation_aborted) once the client has gone: let it end the
// producer.
template <class T = picojson::value>
class EventStream {
public:
    explicit EventStream(std::shared_ptr<detail::EventQueue> queue) noexcept : queue_(std::move(queue)) {}
    EventStream(const EventStream&) = delete;
    EventStream& operator=(const EventStream&) = delete;

    // An event whose data is the item, as JSON.
    asio::awaitable<void> send(const T& item) {
        std::string data;
        write_json(data, item);
        return queue_->push(detail::format_sse_event(&data, std::nullopt, std::nullopt, std::nullopt, std::nullopt));
    }
    asio::awaitable<void> send(const ServerSentEvent<T>& e) {
        if (e.data && e.raw_data)
            throw std::invalid_argument("fastapi: a ServerSentEvent has either data (sent as JSON) or raw_data (sent as it is), not both");
        std::string data;
        if (e.data) write_json(data, *e.data);
        const std::string* text = e.data ? &data : e.raw_data ? &*e.raw_data : nullptr;
        return queue_->push(detail::format_sse_event(text, e.event, e.id, e.retry, e.comment));
    }
    // A comment line alone (clients ignore it).
    asio::awaitable<void> comment(std::string_view text) {
        return queue_->push(detail::format_sse_event(nullptr, std::nullopt, std::nullopt, std::nullopt, std::string(text)));
    }

private:
    std::shared_ptr<detail::EventQueue> queue_;
};

// A stream of Server-Sent Events (FastAPI's EventSourceResponse): `text/event-stream`, not
// cached (Cache-Control: no-cache) nor buffered by nginx (X-Accel-Buffering: no), for any
// method. Its items of type T are documented as the events' data (picojson::value: any JSON).
// The producer runs once the headers are written; it is cancelled when the client leaves or
// the server stops (its pending send, or whatever else it awaits, ends with
// operation_aborted). A producer that throws ends the stream (logged, the connection closed).
template <class T = picojson::value>
struct EventSourceResponse : Response {
    using event_item = T;
    using Producer = std::function<asio::awaitable<void>(EventStream<T>&)>;

    explicit EventSourceResponse(Producer producer, EventSourceOptions options = {})
        : Response({}, options.status_code, "text/event-stream; charset=utf-8") {
        if (!producer) throw std::invalid_argument("fastapi: EventSourceResponse needs a producer");
        headers.set("cache-control", "no-cache");
        headers.set("x-accel-buffering", "no");
        auto shared = std::make_shared<Producer>(std::move(producer));
        auto ping = options.ping_interval;
        stream = std::make_shared<detail::BodyProducer>(detail::BodyProducer{
            [shared, ping](StreamWriter& out) {
                return detail::run_event_stream(out, ping, [shared](std::shared_ptr<detail::EventQueue> q) {
                    return run_producer(shared, std::move(q));
                });
            },
            std::nullopt});
    }

private:
    static asio::awaitable<void> run_producer(std::shared_ptr<Producer> producer, std::shared_ptr<detail::EventQueue> queue) {
        EventStream<T> out(std::move(queue));
        co_await (*producer)(out);
    }
};

// What a JSONLinesResponse's producer sends to: each item one line of JSON. Back-pressure and
// cancellation as EventStream's.
template <class T = picojson::value>
class JSONLinesStream {
public:
    explicit JSONLinesStream(std::shared_ptr<detail::EventQueue> queue) noexcept : queue_(std::move(queue)) {}
    JSONLinesStream(const JSONLinesStream&) = delete;
    JSONLinesStream& operator=(const JSONLinesStream&) = delete;

    asio::awaitable<void> send(const T& item) {
        std::string line;
        write_json(line, item);  // escapes every line end: one line, always
        line += '\n';
        return queue_->push(std::move(line));
    }

private:
    std::shared_ptr<detail::EventQueue> queue_;
};

// A stream of JSON Lines (FastAPI 0.134's streamed `AsyncIterable[Item]`): `application/jsonl`,
// one JSON document of type T per line, not buffered by nginx (X-Accel-Buffering: no),
// documented with the item's schema. Streams, waits for a slower client and is cancelled as
// an EventSourceResponse is.
//   return fastapi::JSONLinesResponse<Item>([](fastapi::JSONLinesStream<Item>& out) -> asio::awaitable<void> {
//       for (const Item& item : items) co_await out.send(item);
//   });
template <class T = picojson::value>
struct JSONLinesResponse : Response {
    using jsonl_item = T;
    using Producer = std::function<asio::awaitable<void>(JSONLinesStream<T>&)>;

    explicit JSONLinesResponse(Producer producer, int status_code = 200)
        : Response({}, status_code, "application/jsonl") {
        if (!producer) throw std::invalid_argument("fastapi: JSONLinesResponse needs a producer");
        headers.set("x-accel-buffering", "no");
        auto shared = std::make_shared<Producer>(std::move(producer));
        stream = std::make_shared<detail::BodyProducer>(detail::BodyProducer{
            [shared](StreamWriter& out) {
                return detail::run_event_stream(out, std::chrono::milliseconds(0), [shared](std::shared_ptr<detail::EventQueue> q) {
                    return run_producer(shared, std::move(q));
                });
            },
            std::nullopt});
    }

private:
    static asio::awaitable<void> run_producer(std::shared_ptr<Producer> producer, std::shared_ptr<detail::EventQueue> queue) {
        JSONLinesStream<T> out(std::move(queue));
        co_await (*producer)(out);
    }
};

}  // namespace fastapi
