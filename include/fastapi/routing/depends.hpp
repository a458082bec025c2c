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
// app.override_dependency<f>(g). State<T> is application state shared by every request.
// Relies on handler (Binder, Exchange, DependencyScope) and params.
#pragma once
#include "handler.hpp"
#include "params.hpp"

#include <functional>   // function
#include <memory>       // shared_ptr, make_shared
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
template <class T>
struct Scoped {
    T value{};
    std::function<void()> cleanup{};
};
template <class T, class F>
Scoped(T, F) -> Scoped<T>;

namespace detail {

template <class R> struct unscoped { using type = R; static constexpr bool scoped = false; };
template <class T> struct unscoped<Scoped<T>> { using type = T; static constexpr bool scoped = true; };

// What a callable F gives handlers: its result without Scoped<>.
template <class F>
struct dependency_traits {
    using callable = std::remove_cvref_t<F>;
    using result = typename callable_traits<callable>::result;
    using args = typename callable_traits<callable>::args;
    using value_type = typename unscoped<std::remove_cvref_t<result>>::type;
    static_assert(!awaitable_result<result>::is_awaitable,
                  "fastapi: a dependency cannot be a coroutine; make it a plain function (a coroutine handler "
                  "can still use it)");
};

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
        e.cleanup = std::move(result.cleanup);
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
template <class V, class Fn, class... P>
void* call_dependency(const Fn& fn, const void* key, Exchange& ex, ValidationErrors& errors, std::tuple<P...>*) {
    const std::size_t before = errors.total();
    std::tuple<typename Binder<P>::holder...> held{Binder<P>::bind(ex, errors)...};
    if (errors.total() != before) return nullptr;
    using R = typename callable_traits<std::remove_cvref_t<Fn>>::result;
    if constexpr (std::is_void_v<R>) {
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

// A replacement for a dependency (app.override_dependency): resolves with the replacement's
// own parameters and keeps its result as the original's value type.
using DependencyOverride = std::function<void*(Exchange&, ValidationErrors&, const void* key)>;
inline const DependencyOverride* find_dependency_override(const App* app, const void* key) noexcept;  // app.hpp

template <class V, class G>
DependencyOverride make_dependency_override(G g) {
    using R = typename callable_traits<G>::result;
    static_assert(std::is_void_v<V> == std::is_void_v<R>,
                  "fastapi: an override must return what the dependency it replaces returns");
    return [g = std::move(g)](Exchange& ex, ValidationErrors& errors, const void* key) -> void* {
        return call_dependency<V>(g, key, ex, errors, static_cast<typename callable_traits<G>::args*>(nullptr));
    };
}

// Resolves dependency Fn (identified by key) for this request: from the cache, an override,
// or by calling it.
template <class Fn, bool Cache>
void* resolve_dependency(const Fn& fn, const void* key, Exchange& ex, ValidationErrors& errors) {
    if constexpr (Cache) {
        if (auto* e = ex.deps.find(key)) return e->where;
    }
    const void* cache_key = Cache ? key : nullptr;
    if (auto* o = find_dependency_override(ex.app, key)) {
        void* where = (*o)(ex, errors, cache_key);
        return where;
    }
    using traits = dependency_traits<Fn>;
    return call_dependency<typename traits::value_type>(fn, cache_key, ex, errors,
                                                         static_cast<typename traits::args*>(nullptr));
}

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

}  // namespace detail

// A parameter whose value is what F returns. F is a function (Depends<get_db>) or a
// constexpr callable object (Depends<checker>, Depends<OAuth2PasswordBearer<"token">{}>).
template <auto F, class... Options>
struct Depends : detail::DependsValue<typename detail::dependency_traits<decltype(F)>::value_type> {
    using value_type = typename detail::dependency_traits<decltype(F)>::value_type;
    using callable = typename detail::dependency_traits<decltype(F)>::callable;
    Depends() = default;  // not an aggregate, so never mistaken for a body model
    static const void* key() noexcept { return &detail::value_key<F>; }
    // Run once per request (cached) and reading only the head: may run before the body.
    static constexpr bool head_only = detail::caches_v<Options...> && detail::callable_reads_only_head<callable>();
    static void* resolve(detail::Exchange& ex, ValidationErrors& errors) {
        return detail::resolve_dependency<callable, detail::caches_v<Options...>>(F, key(), ex, errors);
    }
    static void describe(detail::OperationInfo& op) { detail::describe_dependency<callable>(op); }
};

// The same for a callable type that is default-constructed for each call (for callables that
// cannot be constexpr values, e.g. ones holding a std::string).
template <class C, class... Options>
struct DependsOn : detail::DependsValue<typename detail::dependency_traits<C>::value_type> {
    using value_type = typename detail::dependency_traits<C>::value_type;
    using callable = C;
    DependsOn() = default;
    static const void* key() noexcept { return &detail::type_key<C>; }
    static constexpr bool head_only = detail::caches_v<Options...> && detail::callable_reads_only_head<C>();
    static void* resolve(detail::Exchange& ex, ValidationErrors& errors) {
        return detail::resolve_dependency<C, detail::caches_v<Options...>>(C{}, key(), ex, errors);
    }
    static void describe(detail::OperationInfo& op) { detail::describe_dependency<C>(op); }
};

// A dependency whose value is not used (FastAPI's `dependencies=[Depends(verify_token)]`):
// for RouteOptions::dependencies, APIRouter's and the app's. Made from a Depends<...>{}.
struct Dependency {
    void* (*resolve)(detail::Exchange&, ValidationErrors&) = nullptr;
    void (*describe)(detail::OperationInfo&) = nullptr;  // what it reads, for the OpenAPI document
    bool head_only = false;  // may run before the body arrives (Depends<...>::head_only)
    template <class D>
        requires requires(detail::Exchange& ex, ValidationErrors& e) { D::resolve(ex, e); }
    Dependency(const D&) : resolve(&D::resolve), describe(&D::describe), head_only(detail::binds_from_head<D>()) {}
};

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

// The app's state of one type (app.hpp); `make` creates it when absent, or is null.
inline void* app_state(App* app, std::type_index type, std::shared_ptr<void> (*make)());

template <class T>
struct Binder<State<T>> {
    static constexpr bool head_only = true;
    using holder = T*;
    static holder bind(Exchange& ex, ValidationErrors&) {
        std::shared_ptr<void> (*make)() = nullptr;
        if constexpr (std::is_default_constructible_v<T>)
            make = [] { return std::static_pointer_cast<void>(std::make_shared<T>()); };
        return static_cast<T*>(app_state(ex.app, typeid(T), make));
    }
    static State<T> get(holder h) { return State<T>{h}; }
};

}  // namespace detail
}  // namespace fastapi
