// broadcast: RedisBroadcast, the BroadcastTransport over Redis pub/sub, so that a Broadcast's
// channels (chat rooms) reach the WebSockets of every process (workers, machines) using the same
// Redis: publish is PUBLISH, a process's first member of a channel SUBSCRIBEs it, its last one
// UNSUBSCRIBEs, and what the subscription receives goes to this process's members. It runs on a
// loop (thread) of its own, so publish() returns at once from any thread. Subscriptions are made
// again after a reconnection (RedisSubscriber); as Redis's pub/sub is at most once, what is
// published while Redis is down is lost (counted in lost()).
// On the wire: the channel "<prefix><name>", the message one byte 't' (text) or 'b' (binary)
// followed by its data.
// Relies on routing/broadcast (BroadcastTransport) and redis/client (Redis, RedisSubscriber).
#pragma once
#include "../routing/broadcast.hpp"
#include "client.hpp"

#include <atomic>       // atomic (counts)
#include <cstdio>       // fprintf (a lost message, once)
#include <memory>       // shared_ptr
#include <string>       // string
#include <string_view>  // string_view
#include <thread>       // thread (its loop)

namespace fastapi {

namespace detail {

// What RedisBroadcast's coroutines see. They are compiled once (FASTAPI_CORO_DECL); the class,
// a template, only in a unit that makes one (its overrides name them: GCC 12 would compile
// them in every unit otherwise).
struct RedisBroadcastState {
    RedisBroadcastState(const RedisOptions& options, std::string prefix)
        : redis_(options), sub_(options), prefix_(std::move(prefix)) {}
    asio::io_context io_{1};
    asio::executor_work_guard<asio::io_context::executor_type> guard_{io_.get_executor()};
    Redis redis_;            // bound to io_ on first use, from its thread
    RedisSubscriber sub_;    // likewise
    std::string prefix_;
    BroadcastTransport::Deliver deliver_;  // on io_'s thread
    std::atomic<std::size_t> lost_{0}, received_{0};
    std::thread thread_;
};

// (Taking `self` and strings by value, moved in before any suspension.)
FASTAPI_CORO_DECL asio::awaitable<void> redis_broadcast_send(RedisBroadcastState* self, std::string channel, std::string payload);
FASTAPI_CORO_DECL asio::awaitable<void> redis_broadcast_change(RedisBroadcastState* self, std::string channel, bool add);
FASTAPI_CORO_DECL asio::awaitable<void> redis_broadcast_read(RedisBroadcastState* self);

#if FASTAPI_DEFINITIONS
FASTAPI_CORO_DEF asio::awaitable<void> redis_broadcast_send(RedisBroadcastState* self, std::string channel, std::string payload) {
    try {
        co_await self->redis_.publish(channel, payload);
    } catch (const std::exception& e) {
        if (self->lost_.fetch_add(1, std::memory_order_relaxed) == 0)
            std::fprintf(stderr, "fastapi::RedisBroadcast: a message on %s is lost: %s\n", channel.c_str(), e.what());
    }
}
FASTAPI_CORO_DEF asio::awaitable<void> redis_broadcast_change(RedisBroadcastState* self, std::string channel, bool add) {
    try {
        // Kept by the subscriber even when Redis is down: made when it comes back.
        if (add) co_await self->sub_.subscribe(channel);
        else co_await self->sub_.unsubscribe(channel);
    } catch (const std::exception&) {
    }
}
FASTAPI_CORO_DEF asio::awaitable<void> redis_broadcast_read(RedisBroadcastState* self) {
    asio::steady_timer pause(co_await asio::this_coro::executor);
    for (;;) {
        std::optional<RedisMessage> m;
        bool failed = false;
        try {
            m = co_await self->sub_.next();
        } catch (const std::exception&) {
            failed = true;  // a connection lost: the subscriber reconnects and subscribes again
        }
        if (failed) {
            pause.expires_after(std::chrono::milliseconds(50));
            std::error_code ec;
            co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            continue;
        }
        if (!m) co_return;  // closed
        self->received_.fetch_add(1, std::memory_order_relaxed);
        if (m->payload.empty() || m->channel.compare(0, self->prefix_.size(), self->prefix_) != 0) continue;
        if (!self->deliver_) continue;
        WebSocket::Message out{m->payload[0] == 't', m->payload.substr(1)};
        self->deliver_(m->channel.substr(self->prefix_.size()), out);
    }
}
#endif

}  // namespace detail

// RedisBroadcast (the alias below): a template only so that what it runs is compiled where one is made.
template <int = 0>
class BasicRedisBroadcast final : public BroadcastTransport, private detail::RedisBroadcastState {
public:
    // `prefix` names this app's channels in Redis (two apps sharing a Redis use two prefixes).
    explicit BasicRedisBroadcast(RedisOptions options, std::string prefix = "fastapi:broadcast:")
        : detail::RedisBroadcastState(options, std::move(prefix)) {
        asio::co_spawn(io_, detail::redis_broadcast_read(state()), asio::detached);
        thread_ = std::thread([this] { io_.run(); });
    }
    explicit BasicRedisBroadcast(std::string_view url, std::string prefix = "fastapi:broadcast:")
        : BasicRedisBroadcast(parse_redis_url(url), std::move(prefix)) {}
    BasicRedisBroadcast(const BasicRedisBroadcast&) = delete;
    BasicRedisBroadcast& operator=(const BasicRedisBroadcast&) = delete;
    ~BasicRedisBroadcast() override {
        asio::post(io_, [this] {
            sub_.close();
            io_.stop();
        });
        guard_.reset();
        if (thread_.joinable()) thread_.join();
    }

    void publish(const std::string& channel, const WebSocket::Message& message) override {
        std::string payload;
        payload.reserve(message.data.size() + 1);
        payload += message.text ? 't' : 'b';
        payload += message.data;
        asio::co_spawn(io_, detail::redis_broadcast_send(state(), prefix_ + channel, std::move(payload)), asio::detached);
    }
    void subscribe(const std::string& channel) override {
        asio::co_spawn(io_, detail::redis_broadcast_change(state(), prefix_ + channel, true), asio::detached);
    }
    void unsubscribe(const std::string& channel) override {
        asio::co_spawn(io_, detail::redis_broadcast_change(state(), prefix_ + channel, false), asio::detached);
    }
    void attach(Deliver deliver) override {
        asio::post(io_, [this, d = std::move(deliver)]() mutable { deliver_ = std::move(d); });
    }

    // Messages published while Redis could not be reached (lost, as pub/sub is at most once).
    std::size_t lost() const noexcept { return lost_.load(std::memory_order_relaxed); }
    // Messages received from Redis (from every process).
    std::size_t received() const noexcept { return received_.load(std::memory_order_relaxed); }

private:
    detail::RedisBroadcastState* state() noexcept { return this; }
};
using RedisBroadcast = BasicRedisBroadcast<>;

}  // namespace fastapi
