// state: values that outlive requests, without globals. State<T> is the app's (one T shared
// by every request), LoopState<T> one T per event-loop thread; StateStore keeps both for the
// app (routing/app.hpp composes it).
#pragma once
#include "exchange.hpp"
#include "handler.hpp"

#include <atomic>       // atomic (serials)
#include <cstdint>      // uint64_t
#include <functional>   // function
#include <map>          // map
#include <memory>       // shared_ptr
#include <mutex>        // mutex
#include <stdexcept>    // logic_error
#include <string>       // string
#include <typeindex>    // type_index
#include <utility>      // pair
#include <vector>       // vector (loop closers)

namespace fastapi {

// Application state shared by every request (a connection pool, a configuration), without
// globals: app.set_state<Pool>(...) at startup, a State<Pool> parameter in handlers and
// dependencies. A default-constructible T is created on first use.
template <class T>
struct State {
    T* ptr = nullptr;
    State() = default;
    explicit State(T* p) noexcept : ptr(p) {}
    T& operator*() const noexcept { return *ptr; }
    T* operator->() const noexcept { return ptr; }
    operator T&() const noexcept { return *ptr; }
};

// State per event loop: one T for each thread that runs requests (each of the server's loop
// threads; the blocking pool's threads and a TestClient's caller have their own), created
// there on first use and destroyed when the thread ends. For what is bound to one loop and
// must not be shared across threads: a client connection (Redis, a database) made on that
// loop, a buffer, a cache without locks. T is default-constructed, or made by the factory
// given to app.set_loop_state<T>(factory), which runs on the thread that first needs it.
//
//   app.get("/", [](LoopState<Redis> redis) -> asio::awaitable<std::string> { ... });  (redis/client.hpp)
template <class T>
struct LoopState {
    T* ptr = nullptr;
    LoopState() = default;
    explicit LoopState(T* p) noexcept : ptr(p) {}
    T& operator*() const noexcept { return *ptr; }
    T* operator->() const noexcept { return ptr; }
    operator T&() const noexcept { return *ptr; }
};

namespace detail {

// How State<T> and LoopState<T> make a T nobody set: default-constructed, when it can be.
template <class T>
std::shared_ptr<void> (*default_maker())() {
    if constexpr (std::is_default_constructible_v<T>)
        return [] { return std::static_pointer_cast<void>(std::make_shared<T>()); };
    else
        return nullptr;
}

template <class T>
struct Binder<State<T>> {
    static constexpr bool head_only = true;
    using holder = T*;
    static holder bind(Exchange& ex, ValidationErrors&) {
        if (!ex.app) throw std::logic_error("fastapi: State<T> needs an app");
        return static_cast<T*>(ex.app->state_slot(typeid(T), default_maker<T>()));
    }
    static State<T> get(holder h) { return State<T>{h}; }
};

template <class T>
struct Binder<LoopState<T>> {
    static constexpr bool head_only = true;
    using holder = T*;
    static holder bind(Exchange& ex, ValidationErrors&) {
        if (!ex.app) throw std::logic_error("fastapi: LoopState<T> needs an app");
        return static_cast<T*>(ex.app->loop_state_slot(typeid(T), default_maker<T>()));
    }
    static LoopState<T> get(holder h) { return LoopState<T>{h}; }
};

// What keeps a loop busy by itself (a client connection made on the loop: its reader, its
// timers) registers here, on the loop's thread, how to end that; the server runs these on each
// of its loops once its connections are done, so the loops run out of work and return. What is
// ended may start again when used again.
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::vector<std::function<void()>>& loop_closers() {
    thread_local std::vector<std::function<void()>> closers;
    return closers;
}
#endif
FASTAPI_DECL void on_loop_stop(std::function<void()> closer);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void on_loop_stop(std::function<void()> closer) { loop_closers().push_back(std::move(closer)); }
#endif
FASTAPI_DECL void run_loop_closers();
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void run_loop_closers() {
    auto closers = std::move(loop_closers());
    loop_closers().clear();
    for (auto& c : closers) c();
}
#endif

FASTAPI_DECL std::uint64_t next_app_serial() noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::uint64_t next_app_serial() noexcept {
    static std::atomic<std::uint64_t> serial{0};
    return ++serial;
}
#endif

// The app's State<T> values (one per type, made on first use or set) and its LoopState<T>
// factories and values (one per type and thread).
class StateStore {
public:
    template <class T, class... A>
    T& set(A&&... args) {
        auto p = std::make_shared<T>(std::forward<A>(args)...);
        std::lock_guard lock(mutex_);
        values_[typeid(T)] = p;
        return *p;
    }
    void set_loop_factory(std::type_index type, std::function<std::shared_ptr<void>()> factory) {
        std::lock_guard lock(mutex_);
        loop_factories_[type] = std::move(factory);
    }
    void* slot(std::type_index type, std::shared_ptr<void> (*make)());
    void* loop_slot(std::type_index type, std::shared_ptr<void> (*make)());

private:
    std::mutex mutex_;
    std::map<std::type_index, std::shared_ptr<void>> values_;
    std::map<std::type_index, std::function<std::shared_ptr<void>()>> loop_factories_;
    const std::uint64_t serial_ = next_app_serial();
};

#if FASTAPI_DEFINITIONS
FASTAPI_DECL auto StateStore::slot(std::type_index type, std::shared_ptr<void> (*make)()) -> void* {
    std::lock_guard lock(mutex_);
    auto& slot = values_[type];
    if (!slot) {
        if (!make)
            throw std::logic_error(std::string("fastapi: no application state of type ") + type.name() +
                                   "; call app.set_state<T>(...) first");
        slot = make();
    }
    return slot.get();
}

FASTAPI_DECL auto StateStore::loop_slot(std::type_index type, std::shared_ptr<void> (*make)()) -> void* {
    // Keyed by the store's serial, not its address: another app may live there later.
    thread_local std::map<std::pair<std::uint64_t, std::type_index>, std::shared_ptr<void>> slots;
    auto& slot = slots[{serial_, type}];
    if (!slot) {
        std::function<std::shared_ptr<void>()> factory;
        {
            std::lock_guard lock(mutex_);
            if (auto it = loop_factories_.find(type); it != loop_factories_.end()) factory = it->second;
        }
        if (factory) slot = factory();
        else if (make) slot = make();
        else
            throw std::logic_error(std::string("fastapi: no loop state of type ") + type.name() +
                                   " can be made; give app.set_loop_state<T>(factory)");
    }
    return slot.get();
}
#endif

}  // namespace detail
}  // namespace fastapi
