// connection: one Redis connection on one executor, multiplexed (Boost.Redis's design).
// Commands submitted by any number of coroutines wait in a queue; one writer sends all that
// are waiting in one write (automatic pipelining), one reader matches replies to them in order.
// It connects on first use (with a timeout covering the handshake: HELLO 3, or RESP2's AUTH,
// and SELECT), checks an idle connection with PING, and after a drop fails every command in
// flight at once with RedisConnectionError, then reconnects with capped exponential backoff;
// while it is down, commands fail at once instead of waiting. In pub/sub mode it also keeps the
// channels and patterns subscribed (made again after each reconnection) and the messages that
// arrive. Everything here runs on the connection's executor; client.hpp hands work to it.
#pragma once
#include "url.hpp"

#include <atomic>     // atomic
#include <algorithm>  // max, min
#include <chrono>     // steady_clock
#include <cstring>    // memmove
#include <deque>      // deque
#include <exception>  // exception_ptr
#include <memory>     // shared_ptr, enable_shared_from_this
#include <mutex>      // mutex (RedisLoopService)
#include <optional>   // optional
#include <set>        // set
#include <string>     // string
#include <thread>     // this_thread::get_id
#include <vector>     // vector

namespace fastapi::detail {

// (Internal: the public handles, client.hpp, hold these through pointers.)
struct RedisRequest;
class RedisConnection;
#if FASTAPI_INTERNALS
// Who waits for a request: told once, on the connection's executor.
struct RedisWaiter {
    virtual ~RedisWaiter() = default;
    virtual void complete(std::exception_ptr error, std::vector<RedisValue> replies) = 0;
};

struct RedisRequest {
    std::string payload;                  // the commands, as RESP
    std::size_t replies = 1;              // replies they give
    std::vector<RedisValue> results;
    std::shared_ptr<RedisWaiter> waiter;  // none: an internal command (PING, re-subscription)
    bool abandoned = false;               // the caller gave up (cancelled): its replies are dropped
    bool done = false;
};

class RedisConnection : public std::enable_shared_from_this<RedisConnection> {
public:
    enum class Mode { shared, dedicated, pubsub };

    RedisConnection(asio::any_io_executor ex, RedisOptions options, Mode mode)
        : ex_(std::move(ex)), options_(std::move(options)), mode_(mode) {
        backoff_timer_.emplace(ex_);
    }

    const asio::any_io_executor& executor() const noexcept { return ex_; }
    const RedisOptions& options() const noexcept { return options_; }
    Mode mode() const noexcept { return mode_; }
    // Whether the caller runs on the connection's own thread (where waiting for it deadlocks).
    // Whether the executor's context was shut down (RedisLoopService): nothing may be posted then.
    bool context_gone() const noexcept { return context_gone_.load(); }
    // The context is being destroyed (its pending handlers with it): what is bound to it goes
    // now, without completing anything (there is nowhere left to complete on).
    void release_context() {
        context_gone_.store(true);
        ++generation_;
        state_ = State::closed;
        session_.reset();
        backoff_timer_.reset();
        queued_.clear();
        inflight_.clear();
        message_waiter_.reset();
        messages_.clear();
    }
    bool on_own_thread() const noexcept {
        if (auto* io = ex_.target<asio::io_context::executor_type>()) return io->running_in_this_thread();
        return owner_thread_.load() == std::this_thread::get_id();
    }

    // Queues a request; connects first when it never has. While the connection is down (between
    // attempts) the request fails at once: the caller decides, instead of waiting for a server
    // that may be gone for minutes.
    FASTAPI_CORO_DECL void submit(std::shared_ptr<RedisRequest> r);
    // Pub/sub: the next message (its RESP elements), or none once closed.
    FASTAPI_CORO_DECL void wait_message(std::shared_ptr<RedisRequest> r);
    // Pub/sub: what is kept subscribed across reconnections.
    void keep(bool pattern, bool add, const std::vector<std::string>& names) {
        auto& set = pattern ? patterns_ : channels_;
        for (auto& n : names) add ? (void)set.insert(n) : (void)set.erase(n);
    }
    std::size_t dropped_messages() const noexcept { return dropped_; }
    bool connected() const noexcept { return state_ == State::ready; }
    // Writes made (each carrying every command waiting then): what pipelining saves shows here.
    std::uint64_t writes() const noexcept { return writes_; }

    // Ends the connection (what is in flight fails) but stays usable: the next command
    // connects again. For a loop that stops (routing/state.hpp's loop closers).
    void suspend() {
        if (state_ == State::closed || state_ == State::idle) return;
        ++generation_;
        state_ = State::idle;
        backoff_timer_->cancel();
        if (session_) drop(session_, "the event loop is stopping");
        session_.reset();
        fail_all("the event loop is stopping");
    }

    void close() {
        if (state_ == State::closed) return;
        ++generation_;
        state_ = State::closed;
        backoff_timer_->cancel();
        if (session_) drop(session_, "the Redis client was closed");
        fail_all("the Redis client was closed");
        if (message_waiter_) {
            auto w = std::move(message_waiter_);
            if (!w->abandoned) w->waiter->complete(nullptr, {});
        }
    }

private:
    enum class State { idle, connecting, ready, backoff, closed };
    using socket_type = asio::generic::stream_protocol::socket;

    // One connected socket and what serves it; a new one for each (re)connection, so the
    // coroutines of an old one never touch the next.
    struct Session {
        explicit Session(const asio::any_io_executor& ex) : socket(ex), wake(ex), health(ex), deadline(ex) {}
        socket_type socket;
        asio::steady_timer wake, health, deadline;
        std::vector<char> in;  // bytes read, not parsed yet: [start, size)
        std::size_t start = 0, size = 0;
        bool alive = true, timed_out = false, writer_waiting = false;
        std::string reason;  // why it ended
        std::shared_ptr<RedisRequest> ping;
        std::chrono::steady_clock::time_point last_read = std::chrono::steady_clock::now();
    };

    static void fail(RedisRequest& r, const std::string& why) {
        if (r.done) return;
        r.done = true;
        if (r.waiter && !r.abandoned) r.waiter->complete(std::make_exception_ptr(RedisConnectionError(why)), {});
    }
    void fail_all(const std::string& why) {
        auto inflight = std::move(inflight_);
        auto queued = std::move(queued_);
        inflight_.clear();
        queued_.clear();
        for (auto& r : inflight) fail(*r, why);
        for (auto& r : queued) fail(*r, why);
    }
    void wake_writer() {
        if (session_ && session_->writer_waiting) session_->wake.cancel();
    }
    FASTAPI_CORO_DECL void start();
    void drop(const std::shared_ptr<Session>& s, std::string reason) {
        if (!s->alive) return;
        s->alive = false;
        s->reason = std::move(reason);
        asio::error_code ignored;
        s->socket.shutdown(asio::socket_base::shutdown_both, ignored);
        s->socket.close(ignored);
        s->wake.cancel();
        s->health.cancel();
        s->deadline.cancel();
    }

    // The lifecycle: connect, serve until the connection drops, fail what was in flight, wait
    // (doubling, capped), again; until closed.
    FASTAPI_CORO_DECL static asio::awaitable<void> run(std::shared_ptr<RedisConnection> self, std::uint64_t generation);

    // Connects and says hello, within connect_timeout; the error, or empty.
    FASTAPI_CORO_DECL asio::awaitable<std::string> connect(std::shared_ptr<Session> s);

    // The handshake: HELLO 3 (AUTH and SETNAME in it), or RESP2's AUTH and CLIENT SETNAME when
    // the protocol is 2 or the server has no HELLO (before Redis 6); then SELECT.
    FASTAPI_CORO_DECL asio::awaitable<std::string> hello(std::shared_ptr<Session> s);

    // Writes `out` and reads n replies (the handshake's); an error reply is an error, unless
    // the caller reads it itself (HELLO's, which may mean "speak RESP2").
    FASTAPI_CORO_DECL asio::awaitable<std::string> write_read(std::shared_ptr<Session> s, const std::string& out, std::size_t n,
                                            RedisValue& last, bool caller_reads_errors = false);

    // Parses one value from what was read, reading more as needed; the error, or empty.
    FASTAPI_CORO_DECL asio::awaitable<std::string> read_value(std::shared_ptr<Session> s, RedisValue& out);

    // One value from what was read already, without a coroutine frame (a batch's replies
    // mostly arrive together): false when it is not all there (or is bad: read_value says so).
    bool take_buffered(Session& s, RedisValue& out) {
        if (s.start >= s.size) return false;
        auto r = parse_resp(std::string_view(s.in.data() + s.start, s.size - s.start), out, options_.limits);
        if (r.status != RespStatus::done) return false;
        s.start += r.consumed;
        if (s.start == s.size) s.start = s.size = 0;
        return true;
    }

    static bool is_message(const RedisValue& v) {
        if ((v.type != RedisValue::Type::array && v.type != RedisValue::Type::push) || v.elements.empty() ||
            !v.elements[0].is_string())
            return false;
        const auto& k = v.elements[0].str;
        return k == "message" || k == "pmessage" || k == "smessage";
    }

    FASTAPI_CORO_DECL static asio::awaitable<void> reader(std::shared_ptr<RedisConnection> self, std::shared_ptr<Session> s);

    FASTAPI_CORO_DECL static asio::awaitable<void> writer(std::shared_ptr<RedisConnection> self, std::shared_ptr<Session> s);

    // PING when nothing was read for an interval; a PING unanswered by the next tick means the
    // server is gone (or stuck): the connection is dropped, which fails what is in flight.
    FASTAPI_CORO_DECL static asio::awaitable<void> health(std::shared_ptr<RedisConnection> self, std::shared_ptr<Session> s);

    void resubscribe() {
        if (mode_ != Mode::pubsub) return;
        auto add = [&](const char* verb, const std::set<std::string>& names) {
            if (names.empty()) return;
            auto r = std::make_shared<RedisRequest>();
            append_command_header(r->payload, names.size() + 1);
            append_command_arg(r->payload, verb);
            for (auto& n : names) append_command_arg(r->payload, n);
            r->replies = names.size();
            queued_.push_front(std::move(r));
        };
        add("PSUBSCRIBE", patterns_);
        add("SUBSCRIBE", channels_);
    }

    void deliver(std::vector<RedisValue> message) {
        if (message_waiter_) {
            auto w = std::move(message_waiter_);
            w->done = true;
            if (!w->abandoned) return w->waiter->complete(nullptr, std::move(message));
        }
        if (messages_.size() >= FASTAPI_REDIS_MAX_QUEUED_MESSAGES) {
            messages_.pop_front();
            ++dropped_;
        }
        messages_.push_back(std::move(message));
    }

    asio::any_io_executor ex_;
    RedisOptions options_;
    Mode mode_;
    State state_ = State::idle;
    std::uint64_t generation_ = 0;  // which run() is the current one (close and suspend end it)
    std::string last_error_;
    std::optional<asio::steady_timer> backoff_timer_;  // reset when the loop's context goes
    std::atomic<bool> context_gone_{false};
    std::shared_ptr<Session> session_;
    std::deque<std::shared_ptr<RedisRequest>> queued_;    // not written yet
    std::deque<std::shared_ptr<RedisRequest>> inflight_;  // written, waiting for replies
    std::atomic<std::thread::id> owner_thread_{};
    std::uint64_t writes_ = 0;
    // pub/sub
    std::set<std::string> channels_, patterns_;
    std::deque<std::vector<RedisValue>> messages_;
    std::shared_ptr<RedisRequest> message_waiter_;
    std::size_t dropped_ = 0;
};

#if FASTAPI_DEFINITIONS
FASTAPI_CORO_DEF void RedisConnection::submit(std::shared_ptr<RedisRequest> r) {
    owner_thread_.store(std::this_thread::get_id());
    if (state_ == State::closed) return fail(*r, "the Redis client was closed");
    if (state_ == State::backoff)
        return fail(*r, "Redis at " + options_.address() + " is unavailable (" + last_error_ + "); reconnecting");
    queued_.push_back(std::move(r));
    if (state_ == State::idle) start();
    else if (state_ == State::ready) wake_writer();
}

FASTAPI_CORO_DEF void RedisConnection::wait_message(std::shared_ptr<RedisRequest> r) {
    if (!messages_.empty()) {
        auto m = std::move(messages_.front());
        messages_.pop_front();
        r->done = true;
        r->waiter->complete(nullptr, std::move(m));
        return;
    }
    if (state_ == State::closed) {
        r->done = true;
        r->waiter->complete(nullptr, {});
        return;
    }
    message_waiter_ = std::move(r);
    if (state_ == State::idle) start();
}

FASTAPI_CORO_DEF void RedisConnection::start() {
    state_ = State::connecting;
    asio::co_spawn(ex_, run(shared_from_this(), generation_), asio::detached);
}

FASTAPI_CORO_DEF asio::awaitable<void> RedisConnection::run(std::shared_ptr<RedisConnection> self, std::uint64_t generation) {
    auto wait = self->options_.reconnect_min;
    while (generation == self->generation_) {
        self->state_ = State::connecting;
        auto s = std::make_shared<Session>(self->ex_);
        self->session_ = s;
        std::string error = co_await self->connect(s);
        if (generation != self->generation_) co_return;
        if (error.empty()) {
            self->state_ = State::ready;
            wait = self->options_.reconnect_min;
            self->resubscribe();
            asio::co_spawn(self->ex_, writer(self, s), asio::detached);
            if (self->options_.health_check_interval.count() > 0)
                asio::co_spawn(self->ex_, health(self, s), asio::detached);
            co_await reader(self, s);
            if (generation != self->generation_) co_return;
            error = s->reason;
            self->fail_all("the connection to Redis at " + self->options_.address() + " was lost (" + error +
                           "); the command may or may not have run");
        } else {
            self->drop(s, error);
            self->fail_all("cannot connect to Redis at " + self->options_.address() + ": " + error);
        }
        if (generation != self->generation_) co_return;
        self->last_error_ = error;
        self->state_ = State::backoff;
        self->backoff_timer_->expires_after(wait);
        asio::error_code ec;
        co_await self->backoff_timer_->async_wait(asio::redirect_error(asio::use_awaitable, ec));
        wait = std::min(wait * 2, self->options_.reconnect_max);
    }
}

FASTAPI_CORO_DEF asio::awaitable<std::string> RedisConnection::connect(std::shared_ptr<Session> s) {
    s->deadline.expires_after(options_.connect_timeout);
    s->deadline.async_wait([s](asio::error_code ec) {
        if (ec || !s->alive) return;
        s->timed_out = true;
        asio::error_code ignored;
        s->socket.close(ignored);
    });
    // (No lambda here: a coroutine frame compiled once must not hold a type without linkage.)
    const std::string timeout = "no answer within " + std::to_string(options_.connect_timeout.count()) + " ms";
    asio::error_code ec;
    if (!options_.unix_path.empty()) {
        co_await s->socket.async_connect(asio::local::stream_protocol::endpoint(options_.unix_path),
                                         asio::redirect_error(asio::use_awaitable, ec));
    } else {
        asio::ip::tcp::resolver resolver(ex_);
        auto found = co_await resolver.async_resolve(options_.host, std::to_string(options_.port),
                                                     asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            s->deadline.cancel();
            co_return s->timed_out ? timeout : "cannot resolve " + options_.host + " (" + ec.message() + ")";
        }
        ec = asio::error::host_not_found;
        for (auto& entry : found) {
            if (s->timed_out) break;
            asio::error_code ignored;
            s->socket.close(ignored);
            co_await s->socket.async_connect(asio::generic::stream_protocol::endpoint(entry.endpoint()),
                                             asio::redirect_error(asio::use_awaitable, ec));
            if (!ec) break;
        }
        if (!ec) s->socket.set_option(asio::ip::tcp::no_delay(true), ec);
    }
    if (ec || s->timed_out) {
        s->deadline.cancel();
        co_return s->timed_out ? timeout : ec.message();
    }
    std::string error = co_await hello(s);
    s->deadline.cancel();
    if (s->timed_out) co_return timeout;
    co_return error;
}

FASTAPI_CORO_DEF asio::awaitable<std::string> RedisConnection::hello(std::shared_ptr<Session> s) {
    const auto& o = options_;
    std::string user = o.username.empty() ? "default" : o.username;
    RedisValue reply;
    std::string error;
    bool resp2 = o.protocol == 2;
    if (!resp2) {
        std::vector<std::string_view> args{"HELLO", "3"};
        if (!o.password.empty()) args.insert(args.end(), {"AUTH", user, o.password});
        if (!o.client_name.empty()) args.insert(args.end(), {"SETNAME", o.client_name});
        std::string out;
        append_command_header(out, args.size());
        for (auto a : args) append_command_arg(out, a);
        if (!(error = co_await write_read(s, out, 1, reply, true)).empty()) co_return error;
        if (reply.is_error()) {
            if (reply.str.starts_with("NOPROTO") || reply.str.find("unknown command") != std::string::npos) resp2 = true;
            else co_return "the server refused HELLO: " + reply.str;
        }
    }
    std::string out;
    std::size_t n = 0;
    if (resp2 && !o.password.empty()) {
        if (o.username.empty()) out += make_command("AUTH", o.password);
        else out += make_command("AUTH", o.username, o.password);
        ++n;
    }
    if (resp2 && !o.client_name.empty()) out += make_command("CLIENT", "SETNAME", o.client_name), ++n;
    std::string db = std::to_string(o.db);
    if (o.db != 0) out += make_command("SELECT", db), ++n;
    if (n == 0) co_return "";
    co_return co_await write_read(s, out, n, reply);
}

FASTAPI_CORO_DEF asio::awaitable<std::string> RedisConnection::write_read(std::shared_ptr<Session> s, const std::string& out, std::size_t n, RedisValue& last, bool caller_reads_errors) {
    asio::error_code ec;
    co_await asio::async_write(s->socket, asio::buffer(out), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return ec.message();
    for (std::size_t i = 0; i < n; ++i) {
        std::string error = co_await read_value(s, last);
        if (!error.empty()) co_return error;
        if (last.is_error() && !caller_reads_errors) co_return "the server refused the handshake: " + last.str;
    }
    co_return "";
}

FASTAPI_CORO_DEF asio::awaitable<std::string> RedisConnection::read_value(std::shared_ptr<Session> s, RedisValue& out) {
    for (;;) {
        if (s->start < s->size) {
            auto r = parse_resp(std::string_view(s->in.data() + s->start, s->size - s->start), out, options_.limits);
            if (r.status == RespStatus::done) {
                s->start += r.consumed;
                if (s->start == s->size) s->start = s->size = 0;
                co_return "";
            }
            if (r.status == RespStatus::error) co_return r.error;
        }
        if (s->start > 0) {  // keep the unparsed tail at the front
            std::memmove(s->in.data(), s->in.data() + s->start, s->size - s->start);
            s->size -= s->start;
            s->start = 0;
        }
        // At least 64 KiB free, and as much as is held: a big reply is parsed a few times, not once per read.
        std::size_t want = std::max<std::size_t>(65536, s->size);
        if (s->in.size() - s->size < want) s->in.resize(s->size + want);
        asio::error_code ec;
        std::size_t got = co_await s->socket.async_read_some(asio::buffer(s->in.data() + s->size, s->in.size() - s->size),
                                                             asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            if (!s->alive) co_return s->reason;
            co_return ec == asio::error::eof ? std::string("the server closed the connection") : ec.message();
        }
        s->size += got;
        s->last_read = std::chrono::steady_clock::now();
    }
}

FASTAPI_CORO_DEF asio::awaitable<void> RedisConnection::reader(std::shared_ptr<RedisConnection> self, std::shared_ptr<Session> s) {
    for (;;) {
        RedisValue v;
        std::string error;
        if (!self->take_buffered(*s, v)) error = co_await self->read_value(s, v);
        if (!error.empty()) {
            self->drop(s, error);
            co_return;
        }
        if (self->mode_ == Mode::pubsub && is_message(v)) {
            self->deliver(std::move(v.elements));
            continue;
        }
        if (v.type == RedisValue::Type::push && self->mode_ != Mode::pubsub) continue;  // out of band (tracking)
        if (self->inflight_.empty()) {
            self->drop(s, "a reply nobody asked for");
            co_return;
        }
        auto& r = self->inflight_.front();
        r->results.push_back(std::move(v));
        if (r->results.size() >= r->replies) {
            auto done = std::move(r);
            self->inflight_.pop_front();
            done->done = true;
            if (done->waiter && !done->abandoned) done->waiter->complete(nullptr, std::move(done->results));
        }
    }
}

FASTAPI_CORO_DEF asio::awaitable<void> RedisConnection::writer(std::shared_ptr<RedisConnection> self, std::shared_ptr<Session> s) {
    std::string out;
    while (s->alive) {
        if (self->queued_.empty()) {
            s->wake.expires_at(std::chrono::steady_clock::time_point::max());
            asio::error_code ec;
            s->writer_waiting = true;
            co_await s->wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            s->writer_waiting = false;
            continue;
        }
        out.clear();
        while (!self->queued_.empty()) {
            auto r = std::move(self->queued_.front());
            self->queued_.pop_front();
            if (r->abandoned) continue;
            out += r->payload;
            if (r->replies > 0) self->inflight_.push_back(std::move(r));
            else {
                r->done = true;
                if (r->waiter) r->waiter->complete(nullptr, {});
            }
        }
        if (out.empty()) continue;
        ++self->writes_;
        asio::error_code ec;
        co_await asio::async_write(s->socket, asio::buffer(out), asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            self->drop(s, s->alive ? ec.message() : s->reason);
            co_return;
        }
        if (out.capacity() > 1024 * 1024) std::string().swap(out);
    }
}

FASTAPI_CORO_DEF asio::awaitable<void> RedisConnection::health(std::shared_ptr<RedisConnection> self, std::shared_ptr<Session> s) {
    const auto interval = self->options_.health_check_interval;
    while (s->alive) {
        s->health.expires_after(interval);
        asio::error_code ec;
        co_await s->health.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (!s->alive) co_return;
        if (s->ping && !s->ping->done) {
            self->drop(s, "no answer to a health-check PING within " + std::to_string(interval.count()) + " ms");
            co_return;
        }
        if (std::chrono::steady_clock::now() - s->last_read >= interval) {
            s->ping = std::make_shared<RedisRequest>();
            s->ping->payload = make_command("PING");
            self->queued_.push_back(s->ping);
            self->wake_writer();
        }
    }
}
#endif

// Tells the connections made on an execution context (an event loop) when that context shuts
// down, so that a connection kept longer (in a LoopState, destroyed at thread exit) holds nothing
// of it: Asio's own way for objects that must not outlive their io_context.
class RedisLoopService : public asio::execution_context::service {
public:
    inline static asio::execution_context::id id;
    explicit RedisLoopService(asio::execution_context& context) : asio::execution_context::service(context) {}
    void add(const std::shared_ptr<RedisConnection>& c) {
        std::lock_guard lock(mutex_);
        std::erase_if(connections_, [](const auto& w) { return w.expired(); });
        connections_.push_back(c);
    }
    static void watch(const std::shared_ptr<RedisConnection>& c) {
        asio::use_service<RedisLoopService>(asio::query(c->executor(), asio::execution::context)).add(c);
    }

private:
    void shutdown() override {
        std::vector<std::weak_ptr<RedisConnection>> all;
        {
            std::lock_guard lock(mutex_);
            all.swap(connections_);
        }
        for (auto& w : all)
            if (auto c = w.lock()) c->release_context();
    }
    std::mutex mutex_;
    std::vector<std::weak_ptr<RedisConnection>> connections_;
};
#endif  // FASTAPI_INTERNALS

}  // namespace fastapi::detail
