// app_core: the application's request machinery, everything of fastapi::App but its OpenAPI
// document and serving (app/app.hpp adds those). Composed of one part per concern: the route
// table (route.hpp's verb helpers), the middleware stack, the exception handlers, the
// lifespan, the state, the dependency overrides; and the one request lifecycle that the server
// and the TestClient drive through detail::AppContext. Knows nothing of sockets.
#pragma once
#include "errors.hpp"
#include "exchange.hpp"
#include "lifespan.hpp"
#include "middleware_stack.hpp"
#include "route.hpp"
#include "state.hpp"

#include <unistd.h>     // getpid (the cache lock's token)

#include <algorithm>    // min
#include <atomic>       // atomic (serving_)
#include <random>       // random_device (the cache lock's token)
#include <functional>   // function
#include <memory>       // unique_ptr, make_unique
#include <mutex>        // mutex (the blocking pool)
#include <stdexcept>    // invalid_argument, logic_error
#include <string>       // string
#include <string_view>  // string_view
#include <type_traits>  // is_invocable_r_v
#include <utility>      // move, exchange
#include <vector>       // vector

namespace fastapi {

namespace detail {

class AppCore : public RouteMethods<AppCore>, public AppContext {
    friend class RouteMethods<AppCore>;

public:
    // Handler for exceptions of type E: fills the response (FastAPI's @app.exception_handler).
    template <class E>
    using ExceptionHandler = std::function<Response(Request&, const E&)>;

    AppCore(const AppCore&) = delete;
    AppCore& operator=(const AppCore&) = delete;

    // Serves `mounted` (a fastapi::StaticFiles) for every path under `prefix`, as FastAPI's
    // app.mount; mounts are not in the OpenAPI document.
    template <class Mounted>
    void mount(std::string_view prefix, const Mounted& mounted, std::string_view name = {}) {
        auto deps = std::exchange(app_dependencies_, {});  // a mount is no API route: no app dependencies
        try {
            mounted.mount_on(*this, prefix, name);
        } catch (...) {
            app_dependencies_ = std::move(deps);
            throw;
        }
        app_dependencies_ = std::move(deps);
    }

    // The routes of an APIRouter (api_router.hpp), under include.prefix with include's tags,
    // dependencies and responses (FastAPI's app.include_router); the app's own dependencies
    // come first (add_route).
    template <class Router, class Options = typename Router::options_type>
    void include_router(const Router& router, Options include = {}) {
        for (auto& r : router.routes_under(include))
            add_route(std::move(r.methods), r.path, std::move(r.options), std::move(r.endpoint));
    }

    // Code around every request (middleware.hpp); the last added is the outermost.
    void add_middleware(Middleware m);
    // A coroutine middleware (FastAPI's @app.middleware("http")): f(Request&, CallNext)
    // returning asio::awaitable<Response>.
    template <class F>
    void middleware(F f) {
        static_assert(std::is_invocable_r_v<asio::awaitable<Response>, F&, Request&, CallNext>,
                      "fastapi: app.middleware(f) takes f(Request&, CallNext) -> asio::awaitable<Response>");
        Middleware m;
        m.dispatch = std::move(f);
        add_middleware(std::move(m));
    }

    // Lifespan: run before the server accepts (or a TestClient sends) its first request, and
    // after a graceful stop (or when the last TestClient goes), as FastAPI's lifespan events.
    // A hook may be a coroutine (returning asio::awaitable<void>): it runs to completion, on
    // a loop of its own, before serving starts (or after it stopped). What it opens is not
    // bound to the server's loops: for a connection per loop, use LoopState<T>.
    template <class F>
    void on_startup(F f) { lifespan_.on_startup(std::move(f)); }
    template <class F>
    void on_shutdown(F f) { lifespan_.on_shutdown(std::move(f)); }
    // FastAPI's lifespan=: one coroutine for both, split by the Cleanup it returns. Its body
    // up to co_return is the startup; the cleanup returned (plain or a coroutine) the shutdown.
    //   app.lifespan([&]() -> asio::awaitable<Cleanup> { co_await connect(); co_return [&] { close(); }; });
    template <class F>
    void lifespan(F f) { lifespan_.lifespan(std::move(f)); }

    // A dependency every route added from now on runs first (FastAPI's app-level
    // dependencies; AppOptions::dependencies covers every route).
    void add_dependency(Dependency d);

    // Tests: replace dependency F (a Depends<F> anywhere, also inside other dependencies and
    // route dependencies) by g, which may take other parameters (FastAPI's
    // app.dependency_overrides[f] = g). DependsOn<C> dependencies: override_dependency<C>(g).
    // g may be a coroutine for a plain f, and the reverse.
    template <auto F, class G>
    void override_dependency(G g) {
        check_not_serving("override a dependency");
        overrides_.set<typename dependency_traits<decltype(F)>::value_type>(&value_key<F>, std::move(g));
    }
    template <class C, class G>
    void override_dependency(G g) {
        check_not_serving("override a dependency");
        overrides_.set<typename dependency_traits<C>::value_type>(&type_key<C>, std::move(g));
    }
    void clear_dependency_overrides();

    // Application state of type T, shared by every request (FastAPI's app.state): created
    // by set_state, or default-constructed on first use. Handlers and dependencies take a
    // State<T> parameter.
    template <class T, class... A>
    T& set_state(A&&... args) {
        return state_.set<T>(std::forward<A>(args)...);
    }
    // How LoopState<T> is made on each thread that first needs one (else T{}): factory()
    // returns a T, and runs on that thread.
    template <class T, class F>
    void set_loop_state(F factory) {
        check_not_serving("set a loop state factory");
        state_.set_loop_factory(typeid(T), [factory = std::move(factory)]() mutable {
            return std::static_pointer_cast<void>(std::make_shared<T>(factory()));
        });
    }
    template <class T>
    T& state() {
        return *static_cast<T*>(state_.slot(typeid(T), default_maker<T>()));
    }

    template <class E, class F>
    void exception_handler(F handler) {
        check_not_serving("add an exception handler");
        exception_handlers_.add<E>(ExceptionHandler<E>(std::move(handler)));
    }

    const std::vector<std::unique_ptr<Route>>& routes() const noexcept { return routes_.routes(); }
    const AppOptions& settings() const noexcept { return options_; }

    // The backend of every cached route (RouteOptions::cache), chosen once: MemoryCache{...}
    // or RedisCache{...}. The handle returned (also app.cache()) invalidates and caches values.
    template <class Backend>
    Cache set_cache(Backend backend) {
        check_not_serving("set the cache");
        cache_ = Cache(std::make_shared<Backend>(std::move(backend)));
        return cache_;
    }
    Cache cache() const { return cache_; }

protected:
    FASTAPI_LAZY explicit AppCore(AppOptions options) : options_(std::move(options)) { run_async_ = &AppCore::run_async_of; }
    ~AppCore() = default;

    AppOptions& mutable_settings() noexcept { return options_; }
    // Routes added from now on run AppOptions::dependencies first (the built-in routes,
    // added before, do not, as in FastAPI).
    void start_user_routes() { app_dependencies_ = options_.dependencies; }

    // A Server reads the routes, middleware, exception handlers and dependency overrides from
    // every loop thread without a lock, so from its start() until it is gone they are frozen:
    // changing them throws std::logic_error (as Starlette refuses middleware once started).
    // A TestClient does not freeze the app: it dispatches on the caller's thread, and tests
    // change overrides between requests.
    bool serving() const noexcept { return serving_.load(std::memory_order_acquire) != 0; }
    void check_not_serving(const char* what) const;

private:
    // A route whose endpoint is already built (RouteMethods, and an APIRouter's routes when included).
    Route& add_route(std::vector<std::string> methods, std::string_view path, RouteOptions options, Endpoint endpoint);

    // ---- AppContext: what binding asks ----
    const DependencyOverride* find_override(const void* key) const noexcept override { return overrides_.find(key); }
    void run_route_dependencies(Exchange& ex, ValidationErrors& errors) override;
    const FormOptions& form_options() const noexcept override { return options_.forms; }
    void* state_slot(std::type_index type, std::shared_ptr<void> (*make)()) override { return state_.slot(type, make); }
    void* loop_state_slot(std::type_index type, std::shared_ptr<void> (*make)()) override;

    // ---- AppContext: the request lifecycle, for the server and the TestClient ----
    void enter_lifespan() override { lifespan_.enter(); }
    void exit_lifespan() noexcept override { lifespan_.exit(); }
    void begin_serving() noexcept override { serving_.fetch_add(1, std::memory_order_acq_rel); }
    void end_serving() noexcept override { serving_.fetch_sub(1, std::memory_order_acq_rel); }

    // The head step of dispatch, for a request whose body has not arrived yet: when every
    // middleware `before` reads only the head (Middleware::head_only) and no dependency is
    // overridden, runs them, routes, and runs the route's dependencies and the handler's
    // Depends parameters that read only the head (in the order binding runs them, up to the
    // first that reads more), exactly as dispatch would; an answer any of them gives is the
    // request's (middleware `after`s included), and the body is never read. Otherwise, or
    // when they all pass, dispatch(ex) goes on from there once the body is in (values kept).
    // Without that guarantee it only routes: a middleware may read the body.
    BodyWanted dispatch_head(Exchange& ex) noexcept override;

    // Routes the request and, for plain handlers, runs it. The response is complete when this
    // returns done; otherwise the caller runs run_async / run_endpoint and then it is. With a
    // coroutine middleware in the stack, the whole stack runs in run_async.
    Dispatch dispatch(Exchange& ex) noexcept override;

    // For run_blocking: runs the plain handler (on whatever thread the caller chose).
    void run_endpoint(Exchange& ex) noexcept override;

    // For run_async: what dispatch left to a coroutine (the stack with a coroutine middleware,
    // or the route: a coroutine handler, coroutine dependencies), errors turned into responses.
    // Cancelled (the client left, the grace period ended), what it awaits that can be cancelled
    // (timers, sockets) ends with operation_aborted and what cannot (a post) completes: a
    // handler that needs nothing cancelled still gives its answer.
    // The caller's coroutine does not throw when cancelled (asio::this_coro::throw_if_cancelled(false)).
    // (AppContext::run_async calls it: the constructor, a template, names it, so that it and the
    // coroutines it reaches are compiled only where an App is made: core/config.hpp.)
    FASTAPI_CORO_DECL static asio::awaitable<void> run_async_of(AppContext& context, Exchange& ex);
    FASTAPI_CORO_DECL asio::awaitable<void> run_route_async(Exchange& ex);

    // ---- the steps ----

    // Finds the route (without middleware, which runs in dispatch) and says what its body is
    // for. A request with no route goes to dispatch at once, without its body, and is
    // answered there (through the middleware, as every answer is).
    BodyWanted route_head(Exchange& ex) const noexcept;

    // The first steps of dispatch and of dispatch_head: the middleware `before`s, then routing.
    // False when that answered the request (a middleware, 404, 405, the slash redirect, an
    // exception), its `after`s run; true with ex.route set.
    bool middleware_before_and_route(Exchange& ex) noexcept;

    // The rest of dispatch, once ex.route is found.
    Dispatch call_route(Exchange& ex) noexcept;

    // Coroutine dependencies to await before binding: in the route's graph, or maybe put there
    // by a coroutine override.
    bool needs_prefetch(const Route& route) const noexcept {
        return route.async_dependencies || overrides_.has_coroutine();
    }

    // The route's part in a coroutine: its coroutine dependencies awaited (route dependencies
    // first, then the handler's, in binding order), then the handler. A blocking handler
    // reached here runs on the app's own pool (the server's is not in reach of a coroutine).
    FASTAPI_LAZY asio::awaitable<void> call_route_async(Exchange& ex) {
        if (route_cached(ex)) return cached_call_async(ex);
        return call_handler_async(ex);
    }
    FASTAPI_CORO_DECL asio::awaitable<void> call_handler_async(Exchange& ex);
    // A blocking handler's call, spawned on the pool.
    FASTAPI_CORO_DECL static asio::awaitable<void> call_blocking(Exchange* ex);
    asio::thread_pool& blocking_pool();

    // What the middleware stack wraps: routing, then a plain handler at once (no coroutine
    // frame of its own), or the rest in call_route_async.
    static bool route_in_stack(void* self, Exchange& ex);
    FASTAPI_LAZY static asio::awaitable<void> route_async_in_stack(void* self, Exchange& ex) {
        return static_cast<AppCore*>(self)->call_route_async(ex);
    }

    // ---- response caching (cache.hpp), around the handler's call ----
    bool route_cached(const Exchange& ex) const noexcept {
        return cache_ && cache_applies(ex.route->options.cache, ex.request);
    }
    // A synchronous backend and a plain handler: no coroutine, no allocation on a hit but the
    // key's and the response's own. False when the rest belongs to cached_call_async: another
    // loop computes this key (wait for it there), or a stale entry is to be revalidated.
    bool cached_call(Exchange& ex);
    // stale_if_error: the stale entry answers instead of the failure, when within its window.
    bool cache_stale_on_error(Exchange& ex, const std::shared_ptr<const CachedResponse>& old);
    // A token no other process or request holds (for the lock across processes).
    static std::string cache_lock_token();
    // CacheOptions::lock: the lock taken, or (another process computes) its entry once stored:
    // polled with a doubling wait, bounded by FASTAPI_CACHE_FLIGHT_WAIT_MS. Neither (the wait
    // ran out, the backend failed): compute without it.
    FASTAPI_CORO_DECL asio::awaitable<bool> cache_lock_or_wait(Exchange& ex, const std::string& key, const std::string& token,
                                                               std::shared_ptr<const CachedResponse>& hit);
    FASTAPI_CORO_DECL asio::awaitable<void> cache_unlock(std::string key, std::string token);
    FASTAPI_CORO_DECL asio::awaitable<void> cached_call_async(Exchange& ex);
    // stale_while_revalidate's recomputation, on a copy of the request that found the entry
    // stale; the flight of its key is this one's until it ends (and, with .lock, the lock).
    FASTAPI_CORO_DECL asio::awaitable<void> cache_revalidate(std::shared_ptr<Exchange> bg, std::string key);
    // An entry written to the backend; a backend that fails is an outage (logged once), not an
    // error of the request.
    FASTAPI_CORO_DECL asio::awaitable<void> cache_store(std::string key, std::shared_ptr<const CachedResponse> entry,
                                                         const Route& route);

    void route_not_found(Exchange& ex, bool path_matched);

    AppOptions options_;
    RouteTable<Route> routes_;
    std::vector<Dependency> app_dependencies_;
    MiddlewareStack middleware_;
    ExceptionHandlers exception_handlers_;
    Lifespan lifespan_;
    StateStore state_;
    DependencyOverrides overrides_;
    Cache cache_;
    CacheOutage cache_outage_;
    CacheFlights cache_flights_;
    std::atomic<int> serving_{0};  // Servers started and not yet gone
    std::mutex pool_mutex_;
    std::unique_ptr<asio::thread_pool> pool_;  // blocking handlers reached from a coroutine
};

#if FASTAPI_DEFINITIONS
FASTAPI_DECL auto AppCore::add_middleware(Middleware m) -> void {
    check_not_serving("add middleware");
    middleware_.add(std::move(m));
}

FASTAPI_DECL auto AppCore::add_dependency(Dependency d) -> void {
    check_not_serving("add a dependency");
    app_dependencies_.push_back(d);
}

FASTAPI_DECL auto AppCore::clear_dependency_overrides() -> void {
    check_not_serving("clear the dependency overrides");
    overrides_.clear();
}

FASTAPI_DECL auto AppCore::check_not_serving(const char* what) const -> void {
    if (serving())
        throw std::logic_error(std::string("fastapi: cannot ") + what +
                               " after a Server started serving the app; make every change before "
                               "Server::start() or App::run()");
}

FASTAPI_DECL auto AppCore::add_route(std::vector<std::string> methods, std::string_view path, RouteOptions options, Endpoint endpoint) -> Route& {
    check_not_serving("add a route");
    for (auto& m : methods)
        if (!is_token(m)) throw std::invalid_argument("fastapi: invalid method name '" + m + "'");
    if (!app_dependencies_.empty())
        options.dependencies.insert(options.dependencies.begin(), app_dependencies_.begin(), app_dependencies_.end());
    if (options.blocking && endpoint.is_async())
        throw std::invalid_argument("fastapi: `blocking` is for plain handlers; a coroutine handler should "
                                    "co_await its slow work instead");
    routes_.add(std::make_unique<Route>(std::move(methods), path, std::move(options), std::move(endpoint)));
    return *routes_.routes().back();
}

FASTAPI_DECL auto AppCore::run_route_dependencies(Exchange& ex, ValidationErrors& errors) -> void {
    if (!ex.route) return;
    for (const Dependency& d : ex.route->options.dependencies) d.resolve(ex, errors);
}

FASTAPI_DECL auto AppCore::loop_state_slot(std::type_index type, std::shared_ptr<void> (*make)()) -> void* {
    return state_.loop_slot(type, make);
}

FASTAPI_DECL auto AppCore::dispatch_head(Exchange& ex) noexcept -> BodyWanted {
    if (middleware_.has_coroutine() || !middleware_.befores_read_only_head() || !overrides_.empty())
        return route_head(ex);  // never run a coroutine or a body-reading `before` here
    ex.app = this;
    if (!middleware_before_and_route(ex)) return BodyWanted::answered;
    try {
        ValidationErrors ignored;  // reported with the others once the body is in
        for (const Dependency& d : ex.route->options.dependencies) {
            if (!d.head_only) break;  // a coroutine's graph is never head_only: stopped before it
            d.resolve(ex, ignored);
        }
        if (ex.route->head_dependencies_first && ex.route->endpoint.bind_head) ex.route->endpoint.bind_head(ex);
    } catch (...) {
        exception_handlers_.handle(std::current_exception(), ex);
        middleware_.run_afters(ex, exception_handlers_);
        return BodyWanted::answered;
    }
    ex.head_dispatched = true;
    const Route& route = *ex.route;
    if (route.streams_body) return BodyWanted::stream;
    if (!route.endpoint.reads_body && !route.takes_form && route.head_dependencies_first)
        return BodyWanted::unread;  // a body sent anyway is never buffered
    return route.takes_form ? BodyWanted::form : BodyWanted::in_memory;
}

FASTAPI_DECL auto AppCore::dispatch(Exchange& ex) noexcept -> Dispatch {
    ex.app = this;
    if (ex.head_dispatched) {  // middleware, routing and head dependencies ran already
        ex.head_dispatched = false;
        return call_route(ex);
    }
    if (middleware_.has_coroutine()) return Dispatch::run_async;
    if (!middleware_before_and_route(ex)) return Dispatch::done;
    return call_route(ex);
}

FASTAPI_DECL auto AppCore::run_endpoint(Exchange& ex) noexcept -> void {
    try {
        ex.route->endpoint.call(ex);
    } catch (...) {
        exception_handlers_.handle(std::current_exception(), ex);
    }
    middleware_.run_afters(ex, exception_handlers_);
}

FASTAPI_DECL auto AppCore::route_head(Exchange& ex) const noexcept -> BodyWanted {
    try {
        auto found = routes_.find(ex.request.method, ex.request.path, ex.request.path_params);
        if (!found.route) return BodyWanted::no_route;
        if (found.route->streams_body) return BodyWanted::stream;
        return found.route->takes_form ? BodyWanted::form : BodyWanted::in_memory;
    } catch (...) {
        return BodyWanted::form;  // out of memory: decide nothing early
    }
}

FASTAPI_DECL auto AppCore::middleware_before_and_route(Exchange& ex) noexcept -> bool {
    if (!middleware_.empty() && !middleware_.run_befores(ex, exception_handlers_)) {
        middleware_.run_afters(ex, exception_handlers_);
        return false;
    }
    try {
        auto found = routes_.find(ex.request.method, ex.request.path, ex.request.path_params);
        if (!found.route) {
            route_not_found(ex, found.path_matched);
            middleware_.run_afters(ex, exception_handlers_);
            return false;
        }
        ex.route = found.route;
        return true;
    } catch (...) {
        exception_handlers_.handle(std::current_exception(), ex);
        middleware_.run_afters(ex, exception_handlers_);
        return false;
    }
}

FASTAPI_DECL auto AppCore::call_route(Exchange& ex) noexcept -> Dispatch {
    const Route& route = *ex.route;
    if (route_cached(ex)) {
        if (!cache_.backend()->synchronous() || route.endpoint.is_async() || needs_prefetch(route) ||
            route.options.blocking)
            return Dispatch::run_async;
        try {
            if (!cached_call(ex)) return Dispatch::run_async;
        } catch (...) {
            exception_handlers_.handle(std::current_exception(), ex);
        }
        middleware_.run_afters(ex, exception_handlers_);
        return Dispatch::done;
    }
    if (route.endpoint.is_async() || needs_prefetch(route)) return Dispatch::run_async;
    if (route.options.blocking) return Dispatch::run_blocking;
    try {
        route.endpoint.call(ex);
    } catch (...) {
        exception_handlers_.handle(std::current_exception(), ex);
    }
    middleware_.run_afters(ex, exception_handlers_);
    return Dispatch::done;
}

FASTAPI_DECL auto AppCore::blocking_pool() -> asio::thread_pool& {
    std::lock_guard lock(pool_mutex_);
    if (!pool_) pool_ = std::make_unique<asio::thread_pool>(16);
    return *pool_;
}

FASTAPI_DECL auto AppCore::route_in_stack(void* self, Exchange& ex) -> bool {
    auto& app = *static_cast<AppCore*>(self);
    auto found = app.routes_.find(ex.request.method, ex.request.path, ex.request.path_params);
    if (!found.route) {
        app.route_not_found(ex, found.path_matched);
        return true;
    }
    ex.route = found.route;
    const Route& route = *found.route;
    if (route.endpoint.is_async() || route.options.blocking || app.needs_prefetch(route) || app.route_cached(ex))
        return false;
    route.endpoint.call(ex);
    return true;
}

FASTAPI_DECL auto AppCore::cached_call(Exchange& ex) -> bool {
    const Route& route = *ex.route;
    CacheBackend& backend = *cache_.backend();
    CacheRequestDirectives d = cache_request_directives(ex.request);
    if (d.no_store) {
        route.endpoint.call(ex);
        return true;
    }
    std::string key;
    key.reserve(128);
    for (auto& v : route.cache.version_keys) {
        cache_append_number(key, backend.namespace_version(v));
        key += ':';
    }
    key += route.options.cache.namespace_;
    key += '|';
    cache_request_key(ex.request, route.options.cache, route.cache.headers, key);
    std::shared_ptr<const CachedResponse> old;
    if (!d.no_cache) {
        old = backend.get_entry(key);
        CacheAge age = cache_age(old.get(), route.cache, cache_now_ms());
        if (age == CacheAge::fresh) {
            cache_write_hit(ex, *old, route.cache, cache_now_ms());
            return true;
        }
        if (age == CacheAge::revalidate) return false;
    }
    // Single flight across loops: the first miss computes here, at once; a miss on another
    // loop meanwhile waits for it in cached_call_async.
    if (!cache_flights_.try_lead(key)) return false;
    CacheFlightGuard guard{&cache_flights_, &key};
    if (!d.no_cache)  // the flight before this one may have ended between the lookup and here
        if (auto e = backend.get_entry(key); e && cache_age(e.get(), route.cache, cache_now_ms()) == CacheAge::fresh) {
            cache_write_hit(ex, *e, route.cache, cache_now_ms());
            return true;
        }
    try {
        route.endpoint.call(ex);
    } catch (...) {
        if (!cache_stale_on_error(ex, old)) throw;
        return true;
    }
    if (ex.response.status >= 500 && cache_stale_on_error(ex, old)) return true;
    if (auto e = cache_after_miss(ex, route.options.cache, route.cache, true))
        backend.set_entry(key, std::move(e), route.cache.keep);
    return true;
}

FASTAPI_DECL auto AppCore::cache_stale_on_error(Exchange& ex, const std::shared_ptr<const CachedResponse>& old) -> bool {
    std::int64_t now = cache_now_ms();
    CacheAge age = cache_age(old.get(), ex.route->cache, now);
    if (ex.route->cache.if_error_ms <= 0 || (age != CacheAge::revalidate && age != CacheAge::if_error)) return false;
    if (now >= old->expires_ms + ex.route->cache.if_error_ms) return false;
    ex.response.stream.reset();
    ex.response.file_path.clear();
    cache_write_hit(ex, *old, ex.route->cache, now, true);
    return true;
}

FASTAPI_DECL auto AppCore::cache_lock_token() -> std::string {
    static const std::uint64_t seed = [] {
        std::random_device rd;
        return (static_cast<std::uint64_t>(rd()) << 32) ^ rd() ^ static_cast<std::uint64_t>(::getpid());
    }();
    static std::atomic<std::uint64_t> counter{0};
    std::string t;
    cache_append_number(t, seed);
    t += '-';
    cache_append_number(t, ++counter);
    return t;
}

FASTAPI_DECL auto AppCore::route_not_found(Exchange& ex, bool path_matched) -> void {
    Request& req = ex.request;
    if (path_matched) {
        auto methods = routes_.allowed_methods(req.path);
        std::string allow;
        for (auto& m : methods) allow += (allow.empty() ? "" : ", ") + m;
        write_status_detail(ex.response, 405);
        ex.response.headers.set("allow", allow);
        return;
    }
    // FastAPI's redirect_slashes: /x -> /x/ (or back) when only the other exists.
    if (req.path != "/") {
        std::string other = req.path.back() == '/' ? req.path.substr(0, req.path.size() - 1) : req.path + "/";
        if (routes_.path_exists(other)) {
            std::string raw = req.raw_path.empty() ? req.path : req.raw_path;
            std::string location = raw.back() == '/' ? raw.substr(0, raw.size() - 1) : raw + "/";
            // Under a proxy's prefix (root_path) the client's URL has it, as Starlette's redirect.
            location = same_host_path(root_path_prefix(req) + location);  // without a Host, "//x/" would name another host
            if (!req.query_string.empty()) location += "?" + req.query_string;
            if (auto host = req.headers.get("host"); host && is_safe_header_value(*host))
                location = req.scheme + "://" + std::string(*host) + location;
            ex.response.status = 307;
            ex.response.body.clear();
            ex.response.headers.set("location", location);
            return;
        }
    }
    write_status_detail(ex.response, 404);
}
#endif

#if FASTAPI_DEFINITIONS
FASTAPI_CORO_DEF asio::awaitable<void> AppCore::run_async_of(AppContext& context, Exchange& ex) {
    auto& app = static_cast<AppCore&>(context);
    if (!ex.route)  // dispatch routed nothing: a coroutine middleware is in the stack
        return app.middleware_.run(ex, app.exception_handlers_,
                                   {&AppCore::route_in_stack, &AppCore::route_async_in_stack, &app});
    return app.run_route_async(ex);
}

FASTAPI_CORO_DEF asio::awaitable<void> AppCore::run_route_async(Exchange& ex) {
    ex.executor = co_await asio::this_coro::executor;
    std::exception_ptr error;
    try {
        co_await call_route_async(ex);
    } catch (...) {
        error = std::current_exception();
    }
    if (error) exception_handlers_.handle(error, ex);
    middleware_.run_afters(ex, exception_handlers_);
}

FASTAPI_CORO_DEF asio::awaitable<void> AppCore::call_handler_async(Exchange& ex) {
    const Route& route = *ex.route;
    if (needs_prefetch(route)) {
        for (const Dependency& d : route.options.dependencies)
            if (d.node) co_await prefetch_dependency(*d.node, ex);
        if (route.endpoint.dependencies)
            for (const DependencyNode* n : route.endpoint.dependencies()) co_await prefetch_dependency(*n, ex);
    }
    if (route.endpoint.is_async()) {
        co_await route.endpoint.call_async(ex);
    } else if (route.options.blocking) {
        asio::awaitable<void> call = call_blocking(&ex);
        co_await asio::co_spawn(blocking_pool().get_executor(), std::move(call), asio::use_awaitable);
    } else {
        route.endpoint.call(ex);
    }
}

FASTAPI_CORO_DEF asio::awaitable<void> AppCore::call_blocking(Exchange* ex) {
    ex->route->endpoint.call(*ex);
    co_return;
}

FASTAPI_CORO_DEF asio::awaitable<bool> AppCore::cache_lock_or_wait(Exchange& ex, const std::string& key, const std::string& token,
                                         std::shared_ptr<const CachedResponse>& hit) {
    const Route& route = *ex.route;
    CacheBackend& backend = *cache_.backend();
    asio::steady_timer timer(co_await asio::this_coro::executor);
    auto wait = std::chrono::milliseconds(FASTAPI_CACHE_LOCK_POLL_MS);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(FASTAPI_CACHE_FLIGHT_WAIT_MS);
    for (;;) {
        try {
            std::string k = key, t = token;
            if (co_await backend.try_lock_async(k, t, route.options.cache.lock_timeout)) co_return true;
        } catch (const std::exception& e) {
            cache_outage_.failed(e.what());
            co_return false;
        }
        if (std::chrono::steady_clock::now() + wait > deadline) co_return false;
        timer.expires_after(wait);
        std::error_code ec;
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return false;  // cancelled: the request is going away
        wait = std::min(wait * 2, std::chrono::milliseconds(100));
        try {
            std::string k = key;
            auto e = co_await backend.get_entry_async(k);
            if (e && cache_age(e.get(), route.cache, cache_now_ms()) == CacheAge::fresh) {
                hit = std::move(e);
                co_return false;
            }
        } catch (const std::exception& e) {
            cache_outage_.failed(e.what());
            co_return false;
        }
    }
}

FASTAPI_CORO_DEF asio::awaitable<void> AppCore::cache_unlock(std::string key, std::string token) {
    try {
        co_await cache_.backend()->unlock_async(std::move(key), std::move(token));
    } catch (const std::exception& e) {
        cache_outage_.failed(e.what());  // it expires by itself
    }
}

FASTAPI_CORO_DEF asio::awaitable<void> AppCore::cached_call_async(Exchange& ex) {
    const Route& route = *ex.route;
    CacheBackend& backend = *cache_.backend();
    const CacheOptions& opts = route.options.cache;
    CacheRequestDirectives d = cache_request_directives(ex.request);
    if (d.no_store) {
        co_await call_handler_async(ex);
        co_return;
    }
    std::string rest;
    rest += opts.namespace_;
    rest += '|';
    cache_request_key(ex.request, opts, route.cache.headers, rest);
    bool usable = true;
    CacheLookup found;
    try {  // the versions and the entry: one round trip on Redis
        found = co_await backend.lookup_async(route.cache.version_keys, rest, !d.no_cache);
        cache_outage_.worked();
    } catch (const std::exception& e) {
        usable = false;  // the backend is down: a miss, logged once per outage
        cache_outage_.failed(e.what());
        found.key = rest;
    }
    const std::string key = std::move(found.key);
    std::shared_ptr<const CachedResponse> old = std::move(found.entry), hit;
    CacheAge age = cache_age(old.get(), route.cache, cache_now_ms());
    if (age == CacheAge::fresh) {
        cache_write_hit(ex, *old, route.cache, cache_now_ms());
        co_return;
    }
    if (age == CacheAge::revalidate) {
        // Stale, within stale_while_revalidate: answered at once; one request (the first
        // to find it so) recomputes in the background.
        cache_write_hit(ex, *old, route.cache, cache_now_ms(), true);
        if (cache_flights_.try_lead(key)) {
            auto bg = std::make_shared<Exchange>();
            bg->request = ex.request;
            bg->route = ex.route;
            bg->app = ex.app;
            bg->executor = co_await asio::this_coro::executor;
            asio::co_spawn(bg->executor, cache_revalidate(bg, key), asio::detached);
        }
        co_return;
    }
    // Single flight: one miss of this key computes; the others wait for it, then read.
    CacheFlightGuard guard;
    std::string token;
    if (usable) {
        auto timer = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor);
        timer->expires_after(std::chrono::milliseconds(FASTAPI_CACHE_FLIGHT_WAIT_MS));
        if (cache_flights_.join(key, timer)) {
            guard.flights = &cache_flights_;
            guard.key = &key;
            if (backend.synchronous() && !d.no_cache)  // a flight may have ended since the lookup
                if (auto e = backend.get_entry(key); e && cache_age(e.get(), route.cache, cache_now_ms()) == CacheAge::fresh)
                    hit = std::move(e);
            if (!hit && opts.lock && !backend.synchronous()) {  // and across processes
                std::string t = cache_lock_token();
                if (co_await cache_lock_or_wait(ex, key, t, hit)) token = std::move(t);
            }
        } else {
            std::error_code ec;
            co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
            try {
                std::string k = key;
                auto e = co_await backend.get_entry_async(k);
                if (e && cache_age(e.get(), route.cache, cache_now_ms()) == CacheAge::fresh) hit = std::move(e);
            } catch (const std::exception& e) {
                cache_outage_.failed(e.what());
            }
        }
    }
    if (hit) {
        cache_write_hit(ex, *hit, route.cache, cache_now_ms());
        co_return;
    }
    std::exception_ptr error;
    try {
        co_await call_handler_async(ex);
    } catch (...) {
        error = std::current_exception();
    }
    const bool stale = (error || ex.response.status >= 500) && cache_stale_on_error(ex, old);
    std::shared_ptr<const CachedResponse> entry;
    if (!error && !stale) entry = cache_after_miss(ex, opts, route.cache, usable);
    if (entry) co_await cache_store(key, std::move(entry), route);
    if (!token.empty()) co_await cache_unlock(key, token);
    if (error && !stale) std::rethrow_exception(error);
}

FASTAPI_CORO_DEF asio::awaitable<void> AppCore::cache_revalidate(std::shared_ptr<Exchange> bg, std::string key) {
    CacheFlightGuard guard{&cache_flights_, &key};
    const Route& route = *bg->route;
    CacheBackend& backend = *cache_.backend();
    std::string token;
    if (route.options.cache.lock && !backend.synchronous()) {
        std::string t = cache_lock_token();
        bool locked = false;
        try {
            std::string k = key, t2 = t;
            locked = co_await backend.try_lock_async(k, t2, route.options.cache.lock_timeout);
        } catch (const std::exception& e) {
            cache_outage_.failed(e.what());
        }
        if (!locked) co_return;  // another process revalidates it
        token = std::move(t);
    }
    bool ok = true;
    try {
        co_await call_handler_async(*bg);
    } catch (...) {
        ok = false;  // the stale entry stays until its windows end
    }
    if (ok && bg->response.status < 500)
        if (auto entry = cache_after_miss(*bg, route.options.cache, route.cache, true))
            co_await cache_store(key, std::move(entry), route);
    if (!token.empty()) co_await cache_unlock(key, token);
}

FASTAPI_CORO_DEF asio::awaitable<void> AppCore::cache_store(std::string key, std::shared_ptr<const CachedResponse> entry, const Route& route) {
    try {
        co_await cache_.backend()->set_entry_async(key, entry, route.cache.keep);
        cache_outage_.worked();
    } catch (const std::exception& e) {
        cache_outage_.failed(e.what());
    }
}
#endif

}  // namespace detail
}  // namespace fastapi
