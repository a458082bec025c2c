// depends: FastAPI's dependency injection. A handler parameter Depends<f> receives what the
// function (or callable object) f returns; f's own parameters are bound like a handler's
// (Path, Query, Header, Cookie, Body, models, Request&, other Depends, to any depth), and all
// of their validation errors join the handler's in one 422.
//
//   Db get_db(State<Pool> pool) { return pool->take(); }
//   app.get("/items/", [](Depends<get_db> db, Depends<common_params> commons) { ... });
//
// Within one request a dependency runs once and its value is shared (Depends<f, NoCache>
// opts out). A dependency returning Scoped<T> (a value and a cleanup) or any value with a
// destructor is torn down after the response has been sent, in reverse order, also when
// the handler or a later dependency throws. Tests replace a dependency with
// app.override_dependency<f>(g). State<T> is application state shared by every request,
// LoopState<T> one value per event-loop thread.
//
// A dependency may be a coroutine (returning asio::awaitable<T>, or awaitable<Scoped<T>>
// whose cleanup may itself be a coroutine). A route with one anywhere in its graph runs as a
// coroutine: prefetch_dependency awaits the coroutine dependencies (and, to keep FastAPI's
// order, the cached plain ones) first, in binding order; the synchronous binding then finds
// their values kept in the request's scope. A plain graph pays nothing for this.
// Relies on handler (Binder, Exchange, DependencyScope, DependencyNode) and params.
#pragma once
#include "handler.hpp"
#include "params.hpp"

#include <unordered_map>  // unordered_map (DependencyOverrides)
#include <cstdio>       // fprintf (coroutine cleanup errors)
#include <functional>   // function
#include <memory>       // shared_ptr, make_shared
#include <mutex>        // mutex (LoopLife)
#include <stdexcept>    // logic_error
#include <tuple>        // tuple, apply
#include <type_traits>  // is_void_v, remove_cvref_t
#include <typeindex>    // type_index
#include <utility>      // move, forward

namespace fastapi {

// Depends<f, NoCache>: run f for every parameter that asks for it (FastAPI's use_cache=False).
struct NoCache {};

// A dependency's value with the cleanup to run once the response has been sent (FastAPI's
// dependencies with `yield`): return Scoped<T>{value, [] { ... }} and handlers receive the T.
//
// The cleanup may be a coroutine (a function returning asio::awaitable<void>): returned by a
// coroutine dependency, it is awaited on the request's loop after the response has been
// sent; returned by a plain dependency (whose route runs no coroutine), it runs to
// completion on a loop of its own.
class Cleanup;
namespace detail {
// Runs a coroutine cleanup on `loop` (or on a loop of its own); named by Cleanup's constructor
// only, so that it and its coroutine are compiled where a coroutine cleanup is written
// (FASTAPI_CORO_DECL, core/config.hpp).
FASTAPI_CORO_DECL std::function<void()> schedule_cleanup(std::function<asio::awaitable<void>()> f,
                                                         const asio::any_io_executor& loop);
}  // namespace detail

class Cleanup {
public:
    Cleanup() = default;
    template <class F>
        requires std::is_invocable_v<F&> && (!std::is_same_v<std::remove_cvref_t<F>, Cleanup>)
    Cleanup(F f) {  // NOLINT: implicit, so Scoped{value, [] { ... }} reads naturally
        if constexpr (detail::awaitable_result<std::invoke_result_t<F&>>::is_awaitable) {
            async_ = std::move(f);
            schedule_ = &detail::schedule_cleanup;
        } else {
            sync_ = std::move(f);
        }
    }
    explicit operator bool() const noexcept { return sync_ || async_; }
    bool is_coroutine() const noexcept { return static_cast<bool>(async_); }
    // What the request's scope runs (detail): a coroutine is scheduled on `loop`.
    std::function<void()> take(const asio::any_io_executor& loop);

private:
    std::function<void()> sync_;
    std::function<asio::awaitable<void>()> async_;
    std::function<void()> (*schedule_)(std::function<asio::awaitable<void>()>, const asio::any_io_executor&) = nullptr;
};

template <class T>
struct Scoped {
    T value{};
    Cleanup cleanup{};
};
template <class T, class F>
Scoped(T, F) -> Scoped<T>;

namespace detail {

template <class R> struct unscoped { using type = R; static constexpr bool scoped = false; };
template <class T> struct unscoped<Scoped<T>> { using type = T; static constexpr bool scoped = true; };

// What a callable F gives handlers: its result (a coroutine's co_return value) without Scoped<>.
template <class F>
struct dependency_traits {
    using callable = std::remove_cvref_t<F>;
    using result = typename callable_traits<callable>::result;
    using args = typename callable_traits<callable>::args;
    static constexpr bool is_coroutine = awaitable_result<result>::is_awaitable;
    using returned = std::conditional_t<is_coroutine, typename awaitable_result<result>::type, result>;
    using value_type = typename unscoped<std::remove_cvref_t<returned>>::type;
    // It, or a dependency of its own, is a coroutine.
    static constexpr bool async_graph = is_coroutine || args_async<args>::value;
};

// Coroutine cleanups. The loop a request ran on may be gone when its scope closes (a
// TestClient's own io_context): a service in each loop says whether it still runs, and a
// cleanup whose loop is gone runs to completion on a loop of its own.
struct LoopLife : asio::execution_context::service {
    static inline asio::execution_context::id id;
    struct Flag {
        std::mutex mutex;
        bool alive = true;
    };
    std::shared_ptr<Flag> flag = std::make_shared<Flag>();
    explicit LoopLife(asio::execution_context& context) : asio::execution_context::service(context) {}
    void shutdown() override {
        std::lock_guard lock(flag->mutex);
        flag->alive = false;
    }
};

FASTAPI_CORO_DECL asio::awaitable<void> run_cleanup(std::function<asio::awaitable<void>()> f);
#if FASTAPI_DEFINITIONS
FASTAPI_CORO_DEF asio::awaitable<void> run_cleanup(std::function<asio::awaitable<void>()> f) {
    try {
        co_await f();
    } catch (const std::exception& x) {
        std::fprintf(stderr, "fastapi: a dependency's cleanup threw: %s\n", x.what());
    } catch (...) {
        std::fprintf(stderr, "fastapi: a dependency's cleanup threw\n");
    }
}
#endif

#if FASTAPI_DEFINITIONS
FASTAPI_CORO_DEF std::function<void()> schedule_cleanup(std::function<asio::awaitable<void>()> f, const asio::any_io_executor& loop) {
    std::shared_ptr<LoopLife::Flag> flag;
    if (loop) flag = asio::use_service<LoopLife>(asio::query(loop, asio::execution::context)).flag;
    return [f = std::move(f), loop, flag] {
        if (flag) {
            std::lock_guard lock(flag->mutex);
            if (flag->alive) {
                asio::co_spawn(loop, run_cleanup(f), asio::detached);
                return;
            }
        }
        asio::io_context own;
        asio::co_spawn(own, run_cleanup(f), asio::detached);
        own.run();
    };
}
#endif
}  // namespace detail

#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::function<void()> Cleanup::take(const asio::any_io_executor& loop) {
    if (async_) return schedule_(std::move(async_), loop);
    return std::move(sync_);
}
#endif

namespace detail {

// Identities of dependencies, for the per-request cache and for overrides.
template <auto F> inline constexpr char value_key = 0;
template <class C> inline constexpr char type_key = 0;

inline char void_result_marker = 0;  // where a dependency returning nothing "is"

// Keeps a dependency's result in the request's scope (as a V) and returns where it is.
template <class V, class R>
void* keep_result(Exchange& ex, const void* key, R&& result) {
    using T = std::remove_cvref_t<R>;
    DependencyScope::Entry e;
    e.key = key;
    std::shared_ptr<V> p;
    if constexpr (unscoped<T>::scoped) {
        p = std::make_shared<V>(std::move(result.value));
        if (result.cleanup) e.cleanup = result.cleanup.take(ex.executor);
    } else {
        p = std::make_shared<V>(std::forward<R>(result));
    }
    e.where = p.get();
    e.value = std::move(p);
    ex.deps.entries.push_back(std::move(e));
    return ex.deps.entries.back().where;
}

// Binds fn's parameters and, when they are all valid, calls it (FastAPI calls no dependency
// whose own parameters failed). Returns where the result is kept, or null.
FASTAPI_DECL void* keep_void_result(Exchange& ex, const void* key);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void* keep_void_result(Exchange& ex, const void* key) {
    DependencyScope::Entry e;
    e.key = key;
    e.where = &void_result_marker;
    ex.deps.entries.push_back(std::move(e));
    return &void_result_marker;
}
#endif

[[noreturn]] inline void coroutine_dependency_reached_synchronously() {
    throw std::logic_error("fastapi: internal error: a coroutine dependency was reached by synchronous binding");
}

template <class V, class Fn, class... P>
void* call_dependency(const Fn& fn, const void* key, Exchange& ex, ValidationErrors& errors, std::tuple<P...>*) {
    const std::size_t before = errors.total();
    std::tuple<typename Binder<P>::holder...> held{Binder<P>::bind(ex, errors)...};
    if (errors.total() != before) return nullptr;
    using R = typename callable_traits<std::remove_cvref_t<Fn>>::result;
    if constexpr (awaitable_result<R>::is_awaitable) {
        // Awaited ahead of binding (prefetch_dependency); here only when its own parameters
        // failed, and then it is not called, as above.
        coroutine_dependency_reached_synchronously();
    } else if constexpr (std::is_void_v<R>) {
        std::apply([&](auto&... h) { fn(Binder<P>::get(h)...); }, held);
        DependencyScope::Entry e;
        e.key = key;
        e.where = &void_result_marker;
        ex.deps.entries.push_back(std::move(e));
        return &void_result_marker;
    } else {
        return keep_result<V>(ex, key, std::apply([&](auto&... h) -> R { return fn(Binder<P>::get(h)...); }, held));
    }
}

// A coroutine dependency's call: binds its parameters (all of its own dependencies were
// resolved before it), awaits it, and keeps its value in the request's scope. The arguments
// live in this frame until it has finished, as a coroutine handler's do.
template <class V, class Fn, class... P>
asio::awaitable<void*> call_dependency_async(Fn fn, const void* key, Exchange& ex, ValidationErrors& errors,
                                             std::tuple<P...>*) {
    const std::size_t before = errors.total();
    std::tuple<typename Binder<P>::holder...> held{Binder<P>::bind(ex, errors)...};
    if (errors.total() != before) co_return nullptr;
    std::tuple<bound_arg_t<P>...> args =
        std::apply([](auto&... h) { return std::tuple<bound_arg_t<P>...>(Binder<P>::get(h)...); }, held);
    auto call = [&fn](auto&... a) { return fn(static_cast<P&&>(a)...); };
    using T = typename awaitable_result<typename callable_traits<std::remove_cvref_t<Fn>>::result>::type;
    if constexpr (std::is_void_v<T>) {
        co_await std::apply(call, args);
        co_return keep_void_result(ex, key);
    } else {
        T result = co_await std::apply(call, args);
        co_return keep_result<V>(ex, key, std::move(result));
    }
}

template <class V, class G>
DependencyOverride make_dependency_override(G g) {
    using traits = dependency_traits<G>;
    static_assert(std::is_void_v<V> == std::is_void_v<typename traits::returned>,
                  "fastapi: an override must return what the dependency it replaces returns");
    using args = typename traits::args;
    DependencyOverride o;
    o.children = &dependency_list<args>::get;
    auto shared = std::make_shared<G>(std::move(g));
    o.call = [shared](Exchange& ex, ValidationErrors& errors, const void* key) -> void* {
        return call_dependency<V>(*shared, key, ex, errors, static_cast<args*>(nullptr));
    };
    if constexpr (traits::is_coroutine)
        o.call_async = [shared](Exchange& ex, ValidationErrors& errors, const void* key) {
            return call_dependency_async<V>(*shared, key, ex, errors, static_cast<args*>(nullptr));
        };
    return o;
}

// The app's dependency overrides (app.override_dependency), by the replaced dependency's key.
class DependencyOverrides {
public:
    template <class V, class G>
    void set(const void* key, G g) {
        overrides_[key] = make_dependency_override<V>(std::move(g));
        coroutines_ = 0;
        for (auto& entry : overrides_) coroutines_ += entry.second.call_async ? 1 : 0;
    }
    void clear() noexcept {
        overrides_.clear();
        coroutines_ = 0;
    }
    bool empty() const noexcept { return overrides_.empty(); }
    // An override is a coroutine: it may put one into any route's graph.
    bool has_coroutine() const noexcept { return coroutines_ != 0; }
    const DependencyOverride* find(const void* key) const noexcept {
        if (overrides_.empty()) return nullptr;
        auto it = overrides_.find(key);
        return it == overrides_.end() ? nullptr : &it->second;
    }

private:
    std::unordered_map<const void*, DependencyOverride> overrides_;
    std::size_t coroutines_ = 0;
};


// Resolves dependency Fn (identified by key) for this request: from the cache (or what was
// resolved ahead for it), an override, or by calling it.
template <class Fn, bool Cache>
void* resolve_dependency(const Fn& fn, const void* key, Exchange& ex, ValidationErrors& errors) {
    if constexpr (Cache) {
        if (auto* e = ex.deps.find(key)) return e->where;
    } else {
        if (ex.deps.pending != 0)
            if (void* where = ex.deps.take_pending(key)) return where;
    }
    const void* cache_key = Cache ? key : nullptr;
    if (auto* o = find_dependency_override(ex, key)) return o->call(ex, errors, cache_key);
    using traits = dependency_traits<Fn>;
    return call_dependency<typename traits::value_type>(fn, cache_key, ex, errors,
                                                         static_cast<typename traits::args*>(nullptr));
}

// Resolves what the synchronous binding cannot: the coroutine dependencies of node `n`'s
// graph (its own override's, when it has one), depth first in binding order. Cached plain
// dependencies on the way are resolved too, so that everything runs in FastAPI's order;
// a NoCache plain one is left to the binding. Validation errors are not collected here: a
// dependency whose parameters fail is not called, and the binding reports them.
FASTAPI_CORO_DECL asio::awaitable<void> prefetch_dependency(const DependencyNode& n, Exchange& ex);
#if FASTAPI_DEFINITIONS
FASTAPI_CORO_DEF asio::awaitable<void> prefetch_dependency(const DependencyNode& n, Exchange& ex) {
    if (n.cache && ex.deps.find(n.key)) co_return;
    const DependencyOverride* o = find_dependency_override(ex, n.key);
    DependencyList children = o ? (o->children ? o->children() : DependencyList{}) : n.children();
    for (const DependencyNode* c : children) co_await prefetch_dependency(*c, ex);
    ValidationErrors ignored;
    const void* cache_key = n.cache ? n.key : nullptr;
    void* where = nullptr;
    if (o ? static_cast<bool>(o->call_async) : n.call_async != nullptr) {
        where = o ? co_await o->call_async(ex, ignored, cache_key) : co_await n.call_async(ex, ignored, cache_key);
        if (where && !n.cache)
            for (auto it = ex.deps.entries.rbegin(); it != ex.deps.entries.rend(); ++it)
                if (it->where == where && !it->key && !it->pending) {
                    it->pending = n.key;
                    ++ex.deps.pending;
                    break;
                }
    } else if (n.cache) {
        n.resolve(ex, ignored);
    }
}
#endif

// For the OpenAPI document: the parameters a dependency reads are the operation's, once
// each (FastAPI lists a parameter read by two dependencies once).
template <class Tuple> struct describe_args;
template <class... P> struct describe_args<std::tuple<P...>> {
    static void describe(OperationInfo& op) {
        (describe_parameter<P>(op), ...);
        auto& ps = op.parameters;
        for (std::size_t i = 0; i < ps.size(); ++i)
            for (std::size_t j = i + 1; j < ps.size();)
                if (ps[j].in == ps[i].in && ps[j].field.wire_name == ps[i].field.wire_name) ps.erase(ps.begin() + static_cast<std::ptrdiff_t>(j));
                else ++j;
        auto& body = op.body;
        for (std::size_t i = 0; i < body.size(); ++i)
            for (std::size_t j = i + 1; j < body.size();)
                if (body[j].wire_name == body[i].wire_name) body.erase(body.begin() + static_cast<std::ptrdiff_t>(j));
                else ++j;
    }
};

// A dependency reads only the request's head when every parameter of its callable does
// (args_from_head, handler.hpp).
template <class C>
constexpr bool callable_reads_only_head() {
    if constexpr (requires { C::reads_only_head; }) return C::reads_only_head;
    else return args_from_head<typename dependency_traits<C>::args>::value;
}

template <class Tuple> struct args_body_count;
template <class... P> struct args_body_count<std::tuple<P...>> {
    static constexpr std::size_t value = (counts_as_body<P>() + ... + 0);
};

// What a handler's Depends parameter holds: a pointer to the value kept in the request.
template <class V>
struct DependsValue {
    V* ptr = nullptr;
    V& operator*() const noexcept { return *ptr; }
    V* operator->() const noexcept { return ptr; }
    operator V&() const noexcept { return *ptr; }
};
template <>
struct DependsValue<void> {
    void* ptr = nullptr;
};

// A callable may add to the document itself (security schemes do), besides its parameters.
template <class C>
void describe_dependency(OperationInfo& op) {
    if constexpr (requires { C::describe_security(op); }) C::describe_security(op);
    describe_args<typename dependency_traits<C>::args>::describe(op);
}

template <class... Options>
inline constexpr bool caches_v = !(std::is_same_v<Options, NoCache> || ...);

// A Depends<...>'s node for prefetch_dependency (made once).
template <class D>
const DependencyNode& dependency_node() noexcept {
    static const DependencyNode node = [] {
        DependencyNode n;
        n.key = D::key();
        n.cache = D::cached;
        n.resolve = &D::resolve;
        if constexpr (D::traits::is_coroutine) n.call_async = &D::call_async;
        n.children = &dependency_list<typename D::traits::args>::get;
        return n;
    }();
    return node;
}

}  // namespace detail

// A parameter whose value is what F returns. F is a function (Depends<get_db>) or a
// constexpr callable object (Depends<checker>, Depends<OAuth2PasswordBearer<"token">{}>).
template <auto F, class... Options>
struct Depends : detail::DependsValue<typename detail::dependency_traits<decltype(F)>::value_type> {
    using traits = detail::dependency_traits<decltype(F)>;
    using value_type = typename traits::value_type;
    using callable = typename traits::callable;
    Depends() = default;  // not an aggregate, so never mistaken for a body model
    static const void* key() noexcept { return &detail::value_key<F>; }
    static constexpr bool cached = detail::caches_v<Options...>;
    static constexpr bool async_graph = traits::async_graph;
    // Run once per request (cached) and reading only the head: may run before the body. A
    // coroutine never does (App::dispatch_head stops before it).
    static constexpr bool head_only =
        detail::caches_v<Options...> && !async_graph && detail::callable_reads_only_head<callable>();
    static void* resolve(detail::Exchange& ex, ValidationErrors& errors) {
        return detail::resolve_dependency<callable, detail::caches_v<Options...>>(F, key(), ex, errors);
    }
    static asio::awaitable<void*> call_async(detail::Exchange& ex, ValidationErrors& errors, const void* cache_key) {
        return detail::call_dependency_async<value_type>(F, cache_key, ex, errors, static_cast<typename traits::args*>(nullptr));
    }
    static const detail::DependencyNode& node() noexcept { return detail::dependency_node<Depends>(); }
    static void describe(detail::OperationInfo& op) { detail::describe_dependency<callable>(op); }
};

// The same for a callable type that is default-constructed for each call (for callables that
// cannot be constexpr values, e.g. ones holding a std::string).
template <class C, class... Options>
struct DependsOn : detail::DependsValue<typename detail::dependency_traits<C>::value_type> {
    using traits = detail::dependency_traits<C>;
    using value_type = typename traits::value_type;
    using callable = C;
    DependsOn() = default;
    static const void* key() noexcept { return &detail::type_key<C>; }
    static constexpr bool cached = detail::caches_v<Options...>;
    static constexpr bool async_graph = traits::async_graph;
    static constexpr bool head_only =
        detail::caches_v<Options...> && !async_graph && detail::callable_reads_only_head<C>();
    static void* resolve(detail::Exchange& ex, ValidationErrors& errors) {
        return detail::resolve_dependency<C, detail::caches_v<Options...>>(C{}, key(), ex, errors);
    }
    static asio::awaitable<void*> call_async(detail::Exchange& ex, ValidationErrors& errors, const void* cache_key) {
        return detail::call_dependency_async<value_type>(C{}, cache_key, ex, errors, static_cast<typename traits::args*>(nullptr));
    }
    static const detail::DependencyNode& node() noexcept { return detail::dependency_node<DependsOn>(); }
    static void describe(detail::OperationInfo& op) { detail::describe_dependency<C>(op); }
};

// A dependency whose value is not used (FastAPI's `dependencies=[Depends(verify_token)]`):
// for RouteOptions::dependencies, APIRouter's and the app's. Made from a Depends<...>{}.
struct Dependency {
    void* (*resolve)(detail::Exchange&, ValidationErrors&) = nullptr;
    void (*describe)(detail::OperationInfo&) = nullptr;  // what it reads, for the OpenAPI document
    bool head_only = false;  // may run before the body arrives (Depends<...>::head_only)
    const detail::DependencyNode* node = nullptr;  // for its coroutine dependencies
    bool async_graph = false;  // a coroutine is in its graph: its routes run as coroutines
    template <class D>
        requires requires(detail::Exchange& ex, ValidationErrors& e) { D::resolve(ex, e); }
    Dependency(const D&)
        : resolve(&D::resolve), describe(&D::describe), head_only(detail::binds_from_head<D>()), node(&D::node()),
          async_graph(D::async_graph) {}
};

namespace detail {

template <class D>
concept dependency_marker = requires { typename D::callable; &D::resolve; &D::key; };

template <class D>
struct Binder<D, std::enable_if_t<dependency_marker<D>>> {
    using V = typename D::value_type;
    static constexpr std::size_t body_count = args_body_count<typename dependency_traits<typename D::callable>::args>::value;
    static constexpr bool head_only = [] {
        if constexpr (requires { D::head_only; }) return D::head_only;
        else return false;
    }();
    using holder = void*;
    static holder bind(Exchange& ex, ValidationErrors& errors) { return D::resolve(ex, errors); }
    static void describe(OperationInfo& op) { D::describe(op); }
    static D get(holder h) {
        D d;
        d.ptr = static_cast<std::conditional_t<std::is_void_v<V>, void, V>*>(h);
        return d;
    }
};

}  // namespace detail
}  // namespace fastapi
