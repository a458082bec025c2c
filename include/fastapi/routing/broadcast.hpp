// broadcast: a named group of WebSockets (a chat room) and one message sent to all of them,
// whatever event-loop thread each runs on (Starlette points to the `broadcaster` package for
// this; here it is built in). A message is queued on each member's own loop without waiting
// (WebSocket::post), so a member that does not read holds nobody else: its own queue is bounded
// by its WebSocketOptions::max_queued_bytes, and past it that member alone is closed with 1008.
//
// Within one process by default. Across processes, a BroadcastTransport carries what is
// published (the Redis issue: PUBLISH, and what its SUBSCRIBE receives handed to deliver()),
// and is told when this process's first member of a channel joins and its last one leaves.
// Relies on websocket (WebSocket::post); non-template but publish_json.
#pragma once
#include "../model/json.hpp"
#include "websocket.hpp"

#include <cstdint>        // uint64_t
#include <functional>     // function (a transport's way back to deliver)
#include <memory>         // shared_ptr, weak_ptr
#include <mutex>          // mutex
#include <string>         // string
#include <string_view>    // string_view
#include <unordered_map>  // unordered_map
#include <utility>        // move, exchange
#include <vector>         // vector

namespace fastapi {

// What carries a Broadcast's messages between processes.
class BroadcastTransport {
public:
    virtual ~BroadcastTransport() = default;
    // Sends `message` on `channel` to every process, this one included: each hands it to its
    // Broadcast's deliver(). Called from any thread; must not wait.
    virtual void publish(const std::string& channel, const WebSocket::Message& message) = 0;
    // This process's first member of `channel` joined, its last one left.
    virtual void subscribe(const std::string& channel) { (void)channel; }
    virtual void unsubscribe(const std::string& channel) { (void)channel; }
    // Where what it receives goes (the Broadcast's deliver): called once, by Broadcast's
    // constructor, before any subscribe. (A transport that is handed deliver() some other way
    // need not override it.)
    using Deliver = std::function<void(const std::string& channel, const WebSocket::Message& message)>;
    virtual void attach(Deliver deliver) { (void)deliver; }
};

namespace detail {
struct BroadcastState {
    struct Member {
        std::uint64_t id;
        std::weak_ptr<WebSocket> ws;
    };
    std::mutex mutex;
    std::unordered_map<std::string, std::vector<Member>> channels;
    std::uint64_t next_id = 1;
    std::shared_ptr<BroadcastTransport> transport;

    void leave(const std::string& channel, std::uint64_t id) {
        bool last = false;
        {
            std::lock_guard lock(mutex);
            auto it = channels.find(channel);
            if (it == channels.end()) return;
            auto& v = it->second;
            for (std::size_t i = 0; i < v.size(); ++i)
                if (v[i].id == id) {
                    v[i] = std::move(v.back());
                    v.pop_back();
                    break;
                }
            if (v.empty()) channels.erase(it), last = true;
        }
        if (last && transport) transport->unsubscribe(channel);
    }
    // To this process's members: each queued on its own loop (outside the lock).
    void deliver(const std::string& channel, const WebSocket::Message& m) {
        std::vector<std::shared_ptr<WebSocket>> to;
        {
            std::lock_guard lock(mutex);
            auto it = channels.find(channel);
            if (it == channels.end()) return;
            to.reserve(it->second.size());
            for (auto& member : it->second)
                if (auto ws = member.ws.lock()) to.push_back(std::move(ws));
        }
        for (auto& ws : to) ws->post(m);
    }
};
}  // namespace detail

class Broadcast {
public:
    // Within this process.
    Broadcast() : state_(std::make_shared<detail::BroadcastState>()) {}
    // Across processes, through `transport` (none: within this process).
    explicit Broadcast(std::shared_ptr<BroadcastTransport> transport) : Broadcast() {
        state_->transport = std::move(transport);
        if (state_->transport)
            state_->transport->attach([weak = std::weak_ptr<detail::BroadcastState>(state_)](
                                          const std::string& channel, const WebSocket::Message& m) {
                if (auto s = weak.lock()) s->deliver(channel, m);
            });
    }
    Broadcast(const Broadcast&) = delete;
    Broadcast& operator=(const Broadcast&) = delete;

    // A WebSocket's place in a channel: it receives what is published there until this goes
    // (or leave()). May outlive the Broadcast.
    class Membership {
    public:
        Membership() = default;
        Membership(Membership&& o) noexcept
            : state_(std::move(o.state_)), channel_(std::move(o.channel_)), id_(std::exchange(o.id_, 0)) {}
        Membership& operator=(Membership&& o) noexcept {
            if (this != &o) {
                leave();
                state_ = std::move(o.state_), channel_ = std::move(o.channel_), id_ = std::exchange(o.id_, 0);
            }
            return *this;
        }
        ~Membership() { leave(); }
        void leave() {
            if (id_ != 0 && state_) state_->leave(channel_, id_);
            id_ = 0;
        }
        const std::string& channel() const noexcept { return channel_; }

    private:
        friend class Broadcast;
        Membership(std::shared_ptr<detail::BroadcastState> s, std::string channel, std::uint64_t id)
            : state_(std::move(s)), channel_(std::move(channel)), id_(id) {}
        std::shared_ptr<detail::BroadcastState> state_;
        std::string channel_;
        std::uint64_t id_ = 0;
    };

    // Joins `ws` (made by app.websocket, or with std::make_shared) to `channel`.
    [[nodiscard]] Membership join(std::string channel, WebSocket& ws) {
        bool first = false;
        std::uint64_t id = 0;
        {
            std::lock_guard lock(state_->mutex);
            id = state_->next_id++;
            auto& v = state_->channels[channel];
            first = v.empty();
            v.push_back({id, ws.weak_from_this()});
        }
        if (first && state_->transport) state_->transport->subscribe(channel);
        return Membership(state_, std::move(channel), id);
    }

    // Sends one message to every member of `channel` (from any thread; returns at once).
    void publish(std::string_view channel, WebSocket::Message message) {
        const std::string name(channel);
        if (state_->transport) state_->transport->publish(name, message);
        else state_->deliver(name, message);
    }
    void publish_text(std::string_view channel, std::string text) { publish(channel, {true, std::move(text)}); }
    void publish_bytes(std::string_view channel, std::string bytes) { publish(channel, {false, std::move(bytes)}); }
    template <class T>
    void publish_json(std::string_view channel, const T& value) {
        std::string json;
        write_json(json, value);
        publish(channel, {true, std::move(json)});
    }

    // The transport's side: a message published on `channel` (by any process), for this
    // process's members.
    void deliver(const std::string& channel, const WebSocket::Message& message) { state_->deliver(channel, message); }

    // This process's members of `channel`.
    std::size_t members(std::string_view channel) const {
        std::lock_guard lock(state_->mutex);
        auto it = state_->channels.find(std::string(channel));
        return it == state_->channels.end() ? 0 : it->second.size();
    }

private:
    std::shared_ptr<detail::BroadcastState> state_;
};

}  // namespace fastapi
