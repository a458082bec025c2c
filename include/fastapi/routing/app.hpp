// app: the application object users build (FastAPI's `app`): routes with their options,
// exception handlers, and dispatch of one request to its endpoint. Knows nothing of sockets;
// the server and the TestClient both drive it. Relies on router and handler.
#pragma once
#include "background.hpp"
#include "depends.hpp"
#include "forms.hpp"
#include "handler.hpp"
#include "middleware.hpp"
#include "router.hpp"

#include <atomic>       // atomic (serving_)
#include <cstdio>       // fprintf
#include <functional>   // function
#include <initializer_list>
#include <map>          // map (responses, state)
#include <memory>       // unique_ptr, make_unique, shared_ptr
#include <mutex>        // mutex (the OpenAPI document, state)
#include <optional>     // optional (run_to_completion)
#include <typeindex>    // type_index (state)
#include <unordered_map>  // dependency overrides
#include <string>       // string
#include <string_view>  // string_view
#include <vector>       // vector

namespace fastapi {

struct ServerOptions;  // server.hpp

// The application's own settings (FastAPI's constructor arguments): what the OpenAPI document
// says about the API, and where the document and the docs pages are served.
struct AppOptions {
    std::string title = "FastAPI";
    std::string version = "0.1.0";
    std::string summary{};
    std::string description{};
    std::string terms_of_service{};
    struct Contact { std::string name{}, url{}, email{}; } contact{};
    struct License { std::string name{}, identifier{}, url{}; } license_info{};
    struct Server { std::string url{}, description{}; };
    std::vector<Server> servers{};
    // Empty turns each off; turning off openapi_url turns off both pages.
    std::string openapi_url = "/openapi.json";
    std::string docs_url = "/docs";
    std::string redoc_url = "/redoc";
    std::string swagger_ui_oauth2_redirect_url = "/docs/oauth2-redirect";
    // Where the pages load their JavaScript and CSS (a CDN, as FastAPI, unless changed).
    std::string swagger_js_url = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js";
    std::string swagger_css_url = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css";
    std::string swagger_favicon_url = "https://fastapi.tiangolo.com/img/favicon.png";
    std::string redoc_js_url = "https://cdn.jsdelivr.net/npm/redoc@2/bundles/redoc.standalone.js";
    std::string redoc_favicon_url = "https://fastapi.tiangolo.com/img/favicon.png";
    // Offline docs: a folder filled by tools/docs-assets; when set, the app serves the
    // assets itself under docs_assets_url and the pages use them.
    std::string docs_assets_dir{};
    std::string docs_assets_url = "/docs-assets";
    // Dependencies every route runs (FastAPI(dependencies=[...])), before the route's own.
    std::vector<Dependency> dependencies{};
    // Form and upload parsing: part limits, when files go to disk, and where (forms.hpp).
    FormOptions forms{};
};

namespace detail {
// FastAPI's response_model=: the handler's value goes out as T reads it, so what T does not
// declare is dropped (a UserIn with a password sent as a UserOut without one) and a value T
// cannot read is never sent (ResponseValidationError, a 500).
template <class T>
void through_response_model(std::string& json) {
    static_assert(std::is_default_constructible_v<T>,
                  "fastapi: response_model<T> needs a T that can be default-constructed, as request models do.");
    picojson::value value;
    ValidationErrors errors;
    Loc loc{LocPart(std::string("response"))};
    T out{};
    if (!read_json_direct(json, out)) {
        out = T{};
        if (parse_json_body(json, value, errors, loc)) {
            exact_integers_scope exact(value);  // uint64's upper half, as written
            from_json(value, out, errors, loc);
        }
    }
    if (!errors.empty()) {
        std::string rendered = render_validation_errors(errors);
        throw ResponseValidationError(std::move(errors), rendered);
    }
    json.clear();
    write_json(json, out);
}
}  // namespace detail

// What a route returns (FastAPI's response_model=): by default the handler's return type.
// fastapi::response_model<T> sends the handler's value as T reads it (fields T lacks are
// left out) and documents T; fastapi::no_response_model documents nothing. A Response
// object the handler returns is sent as it is, as FastAPI does.
struct ResponseModel {
    enum class Kind : unsigned char { from_return_type, none, type } kind = Kind::from_return_type;
    const TypeInfo& (*type)() = nullptr;
    detail::ResponseFilter filter = nullptr;
};
template <class T>
inline constexpr ResponseModel response_model{ResponseModel::Kind::type, &describe<T>, &detail::through_response_model<T>};
inline constexpr ResponseModel no_response_model{ResponseModel::Kind::none, nullptr};

// An extra response a route declares for the documentation (FastAPI's
// responses={404: {"description": "Not found", "model": Message}}): the description defaults
// to the status's reason phrase; `model` (response_model<T>) gives its JSON schema.
struct ResponseDoc {
    std::string description{};
    ResponseModel model{};
};

// What a route declares besides its path and handler (FastAPI's decorator arguments).
struct RouteOptions {
    int status_code = 200;                 // for results that are not Response objects
    std::vector<std::string> tags{};
    std::string summary{};
    std::string description{};
    std::string name{};                    // defaults to the path and method
    std::string response_description = "Successful Response";
    bool deprecated = false;
    bool include_in_schema = true;
    // Run this plain (non-coroutine) handler on the app's blocking pool instead of the I/O
    // thread: for handlers that block on files, databases or sleeps (FastAPI runs `def`
    // handlers on a thread pool; fastapi.hpp runs them inline unless asked, since C++ handlers
    // are usually quick and the hop costs more than it saves).
    bool blocking = false;
    // Dependencies run before the handler whose values it does not take (checks such as a
    // token header); their errors answer the request as a parameter's would.
    std::vector<Dependency> dependencies{};
    // Extra responses for the documentation, by status code.
    std::map<int, ResponseDoc> responses{};
    ResponseModel response_model{};
};

struct Route {
    std::vector<std::string> methods;
    detail::PathTemplate path;
    RouteOptions options;
    detail::Endpoint endpoint;
    // Its handler reads a form (form fields, files, a form model) or the raw Request: a
    // multipart body too large for memory may be streamed to a temporary file for it.
    bool takes_form = false;
    // Every route dependency reads only the head, so the handler's own head-only Depends
    // parameters come next in binding order (App::dispatch_head may run them early).
    bool head_dependencies_first = true;
    // A coroutine dependency is in its graph (the handler's or a route dependency's): the
    // route runs as a coroutine, its dependencies awaited before the handler is called.
    bool async_dependencies = false;
    // Its handler takes a RequestStream: it runs once the head is in and reads the body itself.
    bool streams_body = false;

    Route(std::vector<std::string> m, std::string_view p, RouteOptions o, detail::Endpoint e)
        : methods(std::move(m)), path(p), options(std::move(o)), endpoint(std::move(e)) {
        async_dependencies = endpoint.async_dependencies;
        for (auto& d : options.dependencies) {
            head_dependencies_first = head_dependencies_first && d.head_only;
            async_dependencies = async_dependencies || d.async_graph;
        }
        streams_body = endpoint.reads_stream;
        if (endpoint.reads_request) takes_form = true;
        else if (endpoint.describe) {
            detail::OperationInfo op;
            endpoint.describe(op);
            takes_form = !op.body_media_type.empty();  // forms.hpp sets it; JSON bodies leave it empty
        }
    }
};

namespace detail {
// How far dispatch got synchronously.
enum class Dispatch { done, run_async, run_blocking };

inline void write_detail_json(Response& res, int status, std::string_view detail_json) {
    res.status = status;
    res.body.clear();
    res.body.append("{\"detail\":").append(detail_json) += '}';
    res.headers.set("content-type", "application/json");
}
// What the request's head (App::route_head, App::dispatch_head) says of its body, before any
// of it is read: no route takes it (404, 405, the slash redirect: dispatch answers it without
// the body), it was answered already (a middleware or a dependency that reads only the head
// refused it), the route takes no body (nothing it or its dependencies bind reads it: the
// handler runs without it), or the route's handler runs once the body is in memory, or also
// once a multipart body has been streamed to a temporary file, or at once, reading the body
// as it arrives (a RequestStream parameter).
enum class BodyWanted : unsigned char { no_route, answered, unread, in_memory, form, stream };

inline void write_detail(Response& res, int status, const picojson::value& detail_value) {
    res.status = status;
    res.body.clear();
    res.body += "{\"detail\":";
    write_json(res.body, detail_value);
    res.body += '}';
    res.headers.set("content-type", "application/json");
}
}  // namespace detail

namespace detail {
inline void install_docs_routes(App& app, AppOptions& options);  // docs.hpp
inline void install_openapi_route(App& app, const AppOptions& options);  // openapi.hpp
inline std::string openapi_json(const App& app);                           // openapi.hpp

inline std::uint64_t next_app_serial() noexcept {
    static std::atomic<std::uint64_t> serial{0};
    return ++serial;
}

// Runs a coroutine to completion on a loop of its own (lifespan hooks); rethrows its error.
template <class T>
T run_to_completion(std::function<asio::awaitable<T>()> f) {
    asio::io_context io;
    std::exception_ptr error;
    std::optional<T> result;
    asio::co_spawn(io, std::move(f), [&](std::exception_ptr e, T value) {
        error = e;
        if (!e) result.emplace(std::move(value));
    });
    io.run();
    if (error) std::rethrow_exception(error);
    return std::move(*result);
}
inline void run_to_completion(std::function<asio::awaitable<void>()> f) {
    asio::io_context io;
    std::exception_ptr error;
    asio::co_spawn(io, std::move(f), [&](std::exception_ptr e) { error = e; });
    io.run();
    if (error) std::rethrow_exception(error);
}
// A lifespan hook as the app keeps it: a coroutine is run to completion.
template <class F>
std::function<void()> lifespan_hook(F f) {
    if constexpr (awaitable_result<std::invoke_result_t<F&>>::is_awaitable) {
        static_assert(std::is_same_v<std::invoke_result_t<F&>, asio::awaitable<void>>,
                      "fastapi: a coroutine lifespan hook returns asio::awaitable<void>");
        return [f = std::move(f)]() mutable { run_to_completion(std::function<asio::awaitable<void>()>(f)); };
    } else {
        return std::function<void()>(std::move(f));
    }
}

// The app's OpenAPI document, built on first use (openapi.hpp).
struct OpenAPIOrder;
struct OpenAPIState {
    std::mutex mutex;
    bool built = false;
    picojson::value document;
    std::shared_ptr<const OpenAPIOrder> order;  // how it is written, found while building it
    std::string text;  // as served
    std::function<picojson::value(const App&)> generate;
};
}

namespace detail {
// The verb helpers App and APIRouter share (FastAPI's @app.get, @router.post, ...): each
// turns the handler into its endpoint and hands it to Owner::add_route, whose result it
// returns (the Route for an App, the router itself for an APIRouter).
template <class Owner>
class RouteMethods {
public:
    template <class F> decltype(auto) get(std::string_view path, F handler, RouteOptions options = {}) {
        return api_route(path, {"GET"}, std::move(handler), std::move(options));
    }
    template <class F> decltype(auto) post(std::string_view path, F handler, RouteOptions options = {}) {
        return api_route(path, {"POST"}, std::move(handler), std::move(options));
    }
    template <class F> decltype(auto) put(std::string_view path, F handler, RouteOptions options = {}) {
        return api_route(path, {"PUT"}, std::move(handler), std::move(options));
    }
    template <class F> decltype(auto) patch(std::string_view path, F handler, RouteOptions options = {}) {
        return api_route(path, {"PATCH"}, std::move(handler), std::move(options));
    }
    // `delete` is a C++ keyword.
    template <class F> decltype(auto) delete_(std::string_view path, F handler, RouteOptions options = {}) {
        return api_route(path, {"DELETE"}, std::move(handler), std::move(options));
    }
    template <class F> decltype(auto) options(std::string_view path, F handler, RouteOptions options = {}) {
        return api_route(path, {"OPTIONS"}, std::move(handler), std::move(options));
    }
    template <class F> decltype(auto) head(std::string_view path, F handler, RouteOptions options = {}) {
        return api_route(path, {"HEAD"}, std::move(handler), std::move(options));
    }
    // One handler for several methods.
    template <class F>
    decltype(auto) api_route(std::string_view path, std::vector<std::string> methods, F handler, RouteOptions options = {}) {
        auto endpoint = make_endpoint(std::move(handler), options.status_code, options.response_model.filter);
        return static_cast<Owner&>(*this).add_route(std::move(methods), path, std::move(options), std::move(endpoint));
    }
};
}  // namespace detail

namespace detail {
struct AppAccess;  // the server's and the TestClient's way in (below)
}

class App : public detail::RouteMethods<App> {
    // What drives a request (the connection, for the server and the TestClient alike) and the
    // parts that register routes reach the App's machinery through these; users do not.
    friend struct detail::AppAccess;
    friend class detail::RouteMethods<App>;
    friend class APIRouter;

public:
    // Handler for exceptions of type E: fills the response (FastAPI's @app.exception_handler).
    template <class E>
    using ExceptionHandler = std::function<Response(Request&, const E&)>;

    // The docs pages come first in the route table, as FastAPI's setup() adds them at construction.
    explicit App(AppOptions options = {}) : options_(std::move(options)) {
        detail::install_openapi_route(*this, options_);
        detail::install_docs_routes(*this, options_);
        app_dependencies_ = options_.dependencies;  // not on the docs pages, as in FastAPI
    }
    App(const App&) = delete;
    App& operator=(const App&) = delete;


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
    // dependencies and responses (FastAPI's app.include_router).
    template <class Router, class Options = typename Router::options_type>
    void include_router(const Router& router, Options include = {}) {
        router.include_into(*this, include);
    }

    // Code around every request (middleware.hpp); the last added is the outermost.
    void add_middleware(Middleware m) {
        check_not_serving("add middleware");
        if (m.dispatch && (m.before || m.after))
            throw std::invalid_argument("fastapi: a middleware is either a coroutine (dispatch) or before/after halves");
        if (m.dispatch) ++coroutine_middleware_;
        middleware_.push_back(std::move(m));
    }
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
    void on_startup(F f) { startup_.push_back(detail::lifespan_hook(std::move(f))); }
    template <class F>
    void on_shutdown(F f) { shutdown_.push_back(detail::lifespan_hook(std::move(f))); }
    // FastAPI's lifespan=: one coroutine for both, split by the Cleanup it returns. Its body
    // up to co_return is the startup; the cleanup returned (plain or a coroutine) the shutdown.
    //   app.lifespan([&]() -> asio::awaitable<Cleanup> { co_await connect(); co_return [&] { close(); }; });
    template <class F>
    void lifespan(F f) {
        static_assert(std::is_same_v<std::invoke_result_t<F&>, asio::awaitable<Cleanup>>,
                      "fastapi: app.lifespan(f) takes f() -> asio::awaitable<Cleanup>");
        auto after = std::make_shared<std::function<void()>>();
        startup_.push_back([f = std::move(f), after]() mutable {
            Cleanup c = detail::run_to_completion(std::function<asio::awaitable<Cleanup>()>(f));
            *after = c ? c.take({}) : std::function<void()>{};
        });
        shutdown_.insert(shutdown_.begin(), [after] {
            if (*after) std::exchange(*after, {})();
        });
    }

    // A dependency every route added from now on runs first (FastAPI's app-level
    // dependencies; AppOptions::dependencies covers every route).
    void add_dependency(Dependency d) {
        check_not_serving("add a dependency");
        app_dependencies_.push_back(d);
    }

    // Tests: replace dependency F (a Depends<F> anywhere, also inside other dependencies and
    // route dependencies) by g, which may take other parameters (FastAPI's
    // app.dependency_overrides[f] = g). DependsOn<C> dependencies: override_dependency<C>(g).
    // g may be a coroutine for a plain f, and the reverse.
    template <auto F, class G>
    void override_dependency(G g) {
        using V = typename detail::dependency_traits<decltype(F)>::value_type;
        check_not_serving("override a dependency");
        overrides_[&detail::value_key<F>] = detail::make_dependency_override<V>(std::move(g));
        count_coroutine_overrides();
    }
    template <class C, class G>
    void override_dependency(G g) {
        using V = typename detail::dependency_traits<C>::value_type;
        check_not_serving("override a dependency");
        overrides_[&detail::type_key<C>] = detail::make_dependency_override<V>(std::move(g));
        count_coroutine_overrides();
    }
    void clear_dependency_overrides() {
        check_not_serving("clear the dependency overrides");
        overrides_.clear();
        coroutine_overrides_ = 0;
    }

    // Application state of type T, shared by every request (FastAPI's app.state): created
    // by set_state, or default-constructed on first use. Handlers and dependencies take a
    // State<T> parameter.
    template <class T, class... A>
    T& set_state(A&&... args) {
        auto p = std::make_shared<T>(std::forward<A>(args)...);
        std::lock_guard lock(state_mutex_);
        state_[typeid(T)] = p;
        return *p;
    }
    // How LoopState<T> is made on each thread that first needs one (else T{}): factory()
    // returns a T, and runs on that thread.
    template <class T, class F>
    void set_loop_state(F factory) {
        check_not_serving("set a loop state factory");
        std::lock_guard lock(state_mutex_);
        loop_factories_[typeid(T)] = [factory = std::move(factory)]() mutable {
            return std::static_pointer_cast<void>(std::make_shared<T>(factory()));
        };
    }

    template <class T>
    T& state() {
        return *static_cast<T*>(state_slot(typeid(T), detail::default_maker<T>()));
    }

    template <class E, class F>
    void exception_handler(F handler) {
        check_not_serving("add an exception handler");
        exception_handlers_.insert(exception_handlers_.begin(),
            [h = ExceptionHandler<E>(std::move(handler))](const std::exception_ptr& ep, Request& req, Response& res) {
                try {
                    std::rethrow_exception(ep);
                } catch (const E& e) {
                    res = h(req, e);
                    return true;
                } catch (...) {
                    return false;
                }
            });
    }

    const std::vector<std::unique_ptr<Route>>& routes() const noexcept { return routes_.routes(); }
    const AppOptions& settings() const noexcept { return options_; }

    // The OpenAPI document served at AppOptions::openapi_url (FastAPI's app.openapi()), built
    // from the routes on first use and kept. openapi_schema() is the same document to edit
    // (before serving starts); set_openapi() replaces how it is made, usually starting from
    // fastapi::get_openapi(app) (the generator must not call app.openapi() itself).
    const picojson::value& openapi() const;
    picojson::value& openapi_schema();
    void set_openapi(std::function<picojson::value(const App&)> generate);

    // Serves until SIGINT/SIGTERM (defined with the server).
    void run(const ServerOptions& options);
    void run();


private:
    // ---- for detail::AppAccess: the connection that drives requests, and the registering parts ----

    // A route whose endpoint is already built (APIRouter's routes when included).
    Route& add_route(std::vector<std::string> methods, std::string_view path, RouteOptions options,
                     detail::Endpoint endpoint) {
        check_not_serving("add a route");
        for (auto& m : methods)
            if (!detail::is_token(m)) throw std::invalid_argument("fastapi: invalid method name '" + m + "'");
        if (!app_dependencies_.empty())
            options.dependencies.insert(options.dependencies.begin(), app_dependencies_.begin(), app_dependencies_.end());
        if (options.blocking && endpoint.is_async())
            throw std::invalid_argument("fastapi: `blocking` is for plain handlers; a coroutine handler should "
                                        "co_await its slow work instead");
        routes_.add(std::make_unique<Route>(std::move(methods), path, std::move(options), std::move(endpoint)));
        return *routes_.routes().back();
    }
    // Each server or TestClient enters once and exits once; startup runs for the first to
    // enter, shutdown when the last exits. A failing startup throws (nothing is served).
    void enter_lifespan() {
        std::lock_guard lock(lifespan_mutex_);
        if (lifespan_users_++ > 0) return;
        try {
            for (auto& f : startup_) f();
        } catch (...) {
            lifespan_users_ = 0;
            throw;
        }
    }
    void exit_lifespan() noexcept {
        std::lock_guard lock(lifespan_mutex_);
        if (lifespan_users_ == 0 || --lifespan_users_ > 0) return;
        for (auto& f : shutdown_) {
            try {
                f();
            } catch (const std::exception& e) {
                std::fprintf(stderr, "fastapi: a shutdown hook threw: %s\n", e.what());
            } catch (...) {
                std::fprintf(stderr, "fastapi: a shutdown hook threw\n");
            }
        }
    }

    // A Server reads the routes, middleware, exception handlers and dependency overrides from
    // every loop thread without a lock, so from its start() until it is gone they are frozen:
    // changing them throws std::logic_error (as Starlette refuses middleware once started).
    // A TestClient does not freeze the app: it dispatches on the caller's thread, and tests
    // change overrides between requests.
    void begin_serving() noexcept { serving_.fetch_add(1, std::memory_order_acq_rel); }
    void end_serving() noexcept { serving_.fetch_sub(1, std::memory_order_acq_rel); }
    bool serving() const noexcept { return serving_.load(std::memory_order_acquire) != 0; }

    // The first step, once the header section is parsed and before the body is read: finds
    // the route (without middleware, which runs in dispatch) and says what its body is for.
    // A request with no route goes to dispatch at once, without its body, and is answered
    // there (through the middleware, as every answer is).
    detail::BodyWanted route_head(detail::Exchange& ex) const noexcept {
        try {
            auto found = routes_.find(ex.request.method, ex.request.path, ex.request.path_params);
            if (!found.route) return detail::BodyWanted::no_route;
            if (found.route->streams_body) return detail::BodyWanted::stream;
            return found.route->takes_form ? detail::BodyWanted::form : detail::BodyWanted::in_memory;
        } catch (...) {
            return detail::BodyWanted::form;  // out of memory: decide nothing early
        }
    }

    // The head step of dispatch, for a request whose body has not arrived yet: when every
    // middleware `before` reads only the head (Middleware::head_only) and no dependency is
    // overridden, runs them, routes, and runs the route's dependencies and the handler's
    // Depends parameters that read only the head (in the order binding runs them, up to the
    // first that reads more), exactly as dispatch would; an answer any of them gives is the
    // request's (middleware `after`s included), and the body is never read. Otherwise, or
    // when they all pass, dispatch(ex) goes on from there once the body is in (values kept).
    // Without that guarantee it only routes (route_head): a middleware may read the body.
    detail::BodyWanted dispatch_head(detail::Exchange& ex) noexcept {
        if (coroutine_middleware_ != 0) return route_head(ex);  // never run a coroutine here
        for (auto& m : middleware_)
            if (m.before && !m.head_only) return route_head(ex);
        if (!overrides_.empty()) return route_head(ex);
        ex.app = this;
        if (!middleware_before_and_route(ex)) return detail::BodyWanted::answered;
        try {
            ValidationErrors ignored;  // reported with the others once the body is in
            for (const Dependency& d : ex.route->options.dependencies) {
                if (!d.head_only) break;  // a coroutine's graph is never head_only: stopped before it
                d.resolve(ex, ignored);
            }
            if (ex.route->head_dependencies_first && ex.route->endpoint.bind_head) ex.route->endpoint.bind_head(ex);
        } catch (...) {
            handle_exception(std::current_exception(), ex);
            middleware_after(ex);
            return detail::BodyWanted::answered;
        }
        ex.head_dispatched = true;
        const Route& route = *ex.route;
        if (route.streams_body) return detail::BodyWanted::stream;
        if (!route.endpoint.reads_body && !route.takes_form && route.head_dependencies_first)
            return detail::BodyWanted::unread;  // a body sent anyway is never buffered
        return route.takes_form ? detail::BodyWanted::form : detail::BodyWanted::in_memory;
    }

    // Routes the request and, for plain handlers, runs it. The response is complete when this
    // returns done; otherwise the caller runs run_async / run_blocking and then it is. With a
    // coroutine middleware in the stack, the whole stack runs in run_async.
    detail::Dispatch dispatch(detail::Exchange& ex) noexcept {
        ex.app = this;
        if (ex.head_dispatched) {  // middleware, routing and head dependencies ran already
            ex.head_dispatched = false;
            return call_route(ex);
        }
        if (coroutine_middleware_ != 0) return detail::Dispatch::run_async;
        if (!middleware_before_and_route(ex)) return detail::Dispatch::done;
        return call_route(ex);
    }

    // For run_blocking: runs the plain handler (on whatever thread the caller chose).
    void run_endpoint(detail::Exchange& ex) noexcept {
        try {
            ex.route->endpoint.call(ex);
        } catch (...) {
            handle_exception(std::current_exception(), ex);
        }
        middleware_after(ex);
    }

    // For run_async: what dispatch left to a coroutine (the stack with a coroutine middleware,
    // or the route: a coroutine handler, coroutine dependencies), errors turned into responses.
    asio::awaitable<void> run_async(detail::Exchange& ex) {
        ex.executor = co_await asio::this_coro::executor;
        if (!ex.route) {  // dispatch routed nothing: a coroutine middleware is in the stack
            co_await run_stack(middleware_.size(), ex);
            refuse_invalid_status(ex);
            co_return;
        }
        std::exception_ptr error;
        try {
            co_await call_route_async(ex);
        } catch (...) {
            error = std::current_exception();
        }
        if (error) handle_exception(error, ex);
        middleware_after(ex);
    }

    // Exception -> response: the user's handlers first (last registered first), then
    // HTTPException, validation errors, and anything else as 500.
    void handle_exception(const std::exception_ptr& ep, detail::Exchange& ex) noexcept {
        Response& res = ex.response;
        res.headers.clear();
        res.file_path.clear();
        res.stream.reset();
        detail::discard_background_tasks(ex);  // as FastAPI: a failed handler's tasks never run
        try {
            for (auto& h : exception_handlers_)
                if (h(ep, ex.request, res)) return;
            std::rethrow_exception(ep);
        } catch (const HTTPException& e) {
            detail::write_detail_json(res, e.status_code(), e.detail_json());
            for (auto& [name, value] : e.headers()) detail::append_header(res.headers, name, value);
        } catch (const RequestValidationError& e) {
            res.status = 422;
            res.body = detail::render_validation_errors(e.errors());
            res.headers.set("content-type", "application/json");
        } catch (const std::exception& e) {
            log_error(ex, e.what());
            internal_error(res);
        } catch (...) {
            log_error(ex, "unknown exception");
            internal_error(res);
        }
    }
    const detail::DependencyOverride* find_override(const void* key) const noexcept {
        if (overrides_.empty()) return nullptr;
        auto it = overrides_.find(key);
        return it == overrides_.end() ? nullptr : &it->second;
    }
    void* loop_state_slot(std::type_index type, std::shared_ptr<void> (*make)()) {
        // Keyed by the app's serial, not its address: another App may live there later.
        thread_local std::map<std::pair<std::uint64_t, std::type_index>, std::shared_ptr<void>> slots;
        auto& slot = slots[{serial_, type}];
        if (!slot) {
            std::function<std::shared_ptr<void>()> factory;
            {
                std::lock_guard lock(state_mutex_);
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
    void* state_slot(std::type_index type, std::shared_ptr<void> (*make)()) {
        std::lock_guard lock(state_mutex_);
        auto& slot = state_[type];
        if (!slot) {
            if (!make)
                throw std::logic_error(std::string("fastapi: no application state of type ") + type.name() +
                                       "; call app.set_state<T>(...) first");
            slot = make();
        }
        return slot.get();
    }

    void check_not_serving(const char* what) const {
        if (serving())
            throw std::logic_error(std::string("fastapi: cannot ") + what +
                                   " after a Server started serving the app; make every change before "
                                   "Server::start() or App::run()");
    }

    // The rest of dispatch, once ex.route is found.
    detail::Dispatch call_route(detail::Exchange& ex) noexcept {
        const Route& route = *ex.route;
        if (route.endpoint.is_async() || needs_prefetch(route)) return detail::Dispatch::run_async;
        if (route.options.blocking) return detail::Dispatch::run_blocking;
        try {
            route.endpoint.call(ex);
        } catch (...) {
            handle_exception(std::current_exception(), ex);
        }
        middleware_after(ex);
        return detail::Dispatch::done;
    }

    // Coroutine dependencies to await before binding: in the route's graph, or maybe put there
    // by a coroutine override.
    bool needs_prefetch(const Route& route) const noexcept {
        return route.async_dependencies || coroutine_overrides_ != 0;
    }
    void count_coroutine_overrides() noexcept {
        coroutine_overrides_ = 0;
        for (auto& [key, o] : overrides_) coroutine_overrides_ += o.call_async ? 1 : 0;
    }

    // The route's part in a coroutine: its coroutine dependencies awaited (route dependencies
    // first, then the handler's, in binding order), then the handler. A blocking handler
    // reached here runs on the app's own pool (the server's is not in reach of a coroutine).
    asio::awaitable<void> call_route_async(detail::Exchange& ex) {
        const Route& route = *ex.route;
        if (needs_prefetch(route)) {
            for (const Dependency& d : route.options.dependencies)
                if (d.node) co_await detail::prefetch_dependency(*d.node, ex);
            if (route.endpoint.dependencies)
                for (const detail::DependencyNode* n : route.endpoint.dependencies()) co_await detail::prefetch_dependency(*n, ex);
        }
        if (route.endpoint.is_async()) {
            co_await route.endpoint.call_async(ex);
        } else if (route.options.blocking) {
            co_await asio::co_spawn(
                blocking_pool().get_executor(),
                [&ex]() -> asio::awaitable<void> {
                    ex.route->endpoint.call(ex);
                    co_return;
                },
                asio::use_awaitable);
        } else {
            route.endpoint.call(ex);
        }
    }
    asio::thread_pool& blocking_pool() {
        std::lock_guard lock(pool_mutex_);
        if (!pool_) pool_ = std::make_unique<asio::thread_pool>(16);
        return *pool_;
    }

    // The stack's layers [0, layers) and the route, in a coroutine (a coroutine middleware is
    // among them). Halves run as in the synchronous path; a coroutine middleware gets the
    // layers inside it as call_next.
    asio::awaitable<void> run_stack(std::size_t layers, detail::Exchange& ex) {
        std::size_t i = layers;
        for (; i > 0 && !middleware_[i - 1].dispatch; --i) {
            auto& before = middleware_[i - 1].before;
            if (!before) continue;
            bool go = false;
            try {
                go = before(ex.request, ex.response);
            } catch (...) {
                handle_exception(std::current_exception(), ex);
            }
            if (!go) {  // answered here: only the `after`s outside it
                run_afters(ex, i, layers);
                co_return;
            }
        }
        std::exception_ptr error;
        try {
            if (i == 0) {
                auto found = routes_.find(ex.request.method, ex.request.path, ex.request.path_params);
                if (!found.route) {
                    route_not_found(ex, found.path_matched);
                } else {
                    ex.route = found.route;
                    const Route& route = *found.route;
                    if (route.endpoint.is_async() || route.options.blocking || needs_prefetch(route))
                        co_await call_route_async(ex);
                    else
                        route.endpoint.call(ex);  // a plain handler: no frame of its own
                }
            } else {
                CallNext next(&App::next_step, this, &ex, i - 1);
                Response res = co_await middleware_[i - 1].dispatch(ex.request, next);
                ex.response = std::move(res);
            }
        } catch (...) {
            error = std::current_exception();
        }
        if (error) handle_exception(error, ex);
        run_afters(ex, i, layers);
    }
    static asio::awaitable<Response> next_step(void* app, void* exchange, std::size_t layers, Request& req) {
        auto& ex = *static_cast<detail::Exchange*>(exchange);
        if (&req != &ex.request) ex.request = req;
        co_await static_cast<App*>(app)->run_stack(layers, ex);
        co_return std::move(ex.response);
    }
    // The `after`s of layers [from, to), innermost first.
    void run_afters(detail::Exchange& ex, std::size_t from, std::size_t to) noexcept {
        for (std::size_t i = from; i < to; ++i) {
            auto& after = middleware_[i].after;
            if (!after) continue;
            try {
                after(ex.request, ex.response);
            } catch (...) {
                handle_exception(std::current_exception(), ex);
            }
        }
    }

    // The first steps of dispatch and of dispatch_head: the middleware `before`s, then routing.
    // False when that answered the request (a middleware, 404, 405, the slash redirect, an
    // exception), its `after`s run; true with ex.route set.
    bool middleware_before_and_route(detail::Exchange& ex) noexcept {
        if (!middleware_.empty() && !middleware_before(ex)) {
            middleware_after(ex);
            return false;
        }
        try {
            auto found = routes_.find(ex.request.method, ex.request.path, ex.request.path_params);
            if (!found.route) {
                route_not_found(ex, found.path_matched);
                middleware_after(ex);
                return false;
            }
            ex.route = found.route;
            return true;
        } catch (...) {
            handle_exception(std::current_exception(), ex);
            middleware_after(ex);
            return false;
        }
    }

    // Runs the `before`s, outermost (last added) first; false when one answered.
    bool middleware_before(detail::Exchange& ex) noexcept {
        for (std::size_t i = middleware_.size(); i-- > 0;) {
            ex.middleware_from = i + 1;  // if this one answers, only those outside it follow
            auto& before = middleware_[i].before;
            if (!before) continue;
            try {
                if (!before(ex.request, ex.response)) return false;
            } catch (...) {
                handle_exception(std::current_exception(), ex);
                return false;
            }
        }
        ex.middleware_from = 0;
        return true;
    }
    // Runs the `after`s, innermost first.
    void middleware_after(detail::Exchange& ex) noexcept {
        run_afters(ex, ex.middleware_from, middleware_.size());
        ex.middleware_from = middleware_.size();
        refuse_invalid_status(ex);
    }

    // The last step of every request: a status outside 100-599 set at run time (Response::status,
    // HTTPException, a middleware) cannot go on the wire as it is. A 500, logged: the bug is the
    // server's, not the client's.
    void refuse_invalid_status(detail::Exchange& ex) noexcept {
        if (detail::is_valid_status(ex.response.status)) return;
        std::string what = "the response status " + std::to_string(ex.response.status) + " is outside 100-599";
        log_error(ex, what.c_str());
        ex.response.headers.clear();
        ex.response.file_path.clear();
        ex.response.stream.reset();
        detail::discard_background_tasks(ex);
        internal_error(ex.response);
    }

    void route_not_found(detail::Exchange& ex, bool path_matched) {
        Request& req = ex.request;
        if (path_matched) {
            auto methods = routes_.allowed_methods(req.path);
            std::string allow;
            for (auto& m : methods) allow += (allow.empty() ? "" : ", ") + m;
            detail::write_detail(ex.response, 405, picojson::value("Method Not Allowed"));
            ex.response.headers.set("allow", allow);
            return;
        }
        // FastAPI's redirect_slashes: /x -> /x/ (or back) when only the other exists.
        if (req.path != "/") {
            std::string other = req.path.back() == '/' ? req.path.substr(0, req.path.size() - 1) : req.path + "/";
            if (routes_.path_exists(other)) {
                std::string raw = req.raw_path.empty() ? req.path : req.raw_path;
                std::string location = raw.back() == '/' ? raw.substr(0, raw.size() - 1) : raw + "/";
                location = detail::same_host_path(location);  // without a Host, "//x/" would name another host
                if (!req.query_string.empty()) location += "?" + req.query_string;
                if (auto host = req.headers.get("host"); host && detail::is_safe_header_value(*host))
                    location = req.scheme + "://" + std::string(*host) + location;
                ex.response.status = 307;
                ex.response.body.clear();
                ex.response.headers.set("location", location);
                return;
            }
        }
        detail::write_detail(ex.response, 404, picojson::value("Not Found"));
    }

    static void internal_error(Response& res) {
        detail::write_detail(res, 500, picojson::value("Internal Server Error"));
    }

    static void log_error(const detail::Exchange& ex, const char* what) {
        std::fprintf(stderr, "fastapi: exception in %s %s: %s\n", ex.request.method.c_str(),
                     ex.request.path.c_str(), what);
    }

    friend std::string detail::openapi_json(const App&);
    picojson::value& openapi_built() const;  // with openapi_.mutex held

    AppOptions options_;
    mutable detail::OpenAPIState openapi_;
    detail::RouteTable<Route> routes_;
    std::vector<std::function<bool(const std::exception_ptr&, Request&, Response&)>> exception_handlers_;
    std::vector<Dependency> app_dependencies_;
    std::vector<Middleware> middleware_;
    std::vector<std::function<void()>> startup_, shutdown_;
    std::mutex lifespan_mutex_;
    std::size_t lifespan_users_ = 0;
    std::unordered_map<const void*, detail::DependencyOverride> overrides_;
    std::size_t coroutine_overrides_ = 0;   // overrides that are coroutines
    std::size_t coroutine_middleware_ = 0;  // middleware with `dispatch`
    std::atomic<int> serving_{0};  // Servers started and not yet gone
    std::mutex state_mutex_;
    std::map<std::type_index, std::shared_ptr<void>> state_;
    std::map<std::type_index, std::function<std::shared_ptr<void>()>> loop_factories_;
    const std::uint64_t serial_ = detail::next_app_serial();
    std::mutex pool_mutex_;
    std::unique_ptr<asio::thread_pool> pool_;  // blocking handlers reached from a coroutine
};

namespace detail {
// The App's machinery, for the parts of the library that drive it: the connection (server and
// TestClient), the lifespan's owners, dependency resolution and State<T>.
struct AppAccess {
    static void enter_lifespan(App& a) { a.enter_lifespan(); }
    static void exit_lifespan(App& a) noexcept { a.exit_lifespan(); }
    static void begin_serving(App& a) noexcept { a.begin_serving(); }
    static void end_serving(App& a) noexcept { a.end_serving(); }
    static BodyWanted route_head(const App& a, Exchange& ex) noexcept { return a.route_head(ex); }
    static BodyWanted dispatch_head(App& a, Exchange& ex) noexcept { return a.dispatch_head(ex); }
    static Dispatch dispatch(App& a, Exchange& ex) noexcept { return a.dispatch(ex); }
    static void run_endpoint(App& a, Exchange& ex) noexcept { a.run_endpoint(ex); }
    static asio::awaitable<void> run_async(App& a, Exchange& ex) { return a.run_async(ex); }
    static void handle_exception(App& a, const std::exception_ptr& ep, Exchange& ex) noexcept {
        a.handle_exception(ep, ex);
    }
    static const DependencyOverride* find_override(const App& a, const void* key) noexcept { return a.find_override(key); }
    static void* state_slot(App& a, std::type_index type, std::shared_ptr<void> (*make)()) {
        return a.state_slot(type, make);
    }
    static void* loop_state_slot(App& a, std::type_index type, std::shared_ptr<void> (*make)()) {
        return a.loop_state_slot(type, make);
    }
};
}  // namespace detail

namespace detail {
inline void run_route_dependencies(Exchange& ex, ValidationErrors& errors) {
    if (!ex.route) return;
    for (const Dependency& d : ex.route->options.dependencies) d.resolve(ex, errors);
}
inline const DependencyOverride* find_dependency_override(const App* app, const void* key) noexcept {
    return app ? AppAccess::find_override(*app, key) : nullptr;
}
inline const FormOptions& form_options(const App* app) noexcept {
    static const FormOptions defaults;
    return app ? app->settings().forms : defaults;
}
inline void* app_state(App* app, std::type_index type, std::shared_ptr<void> (*make)()) {
    if (!app) throw std::logic_error("fastapi: State<T> needs an app");
    return AppAccess::state_slot(*app, type, make);
}
inline void* loop_state_slot(App* app, std::type_index type, std::shared_ptr<void> (*make)()) {
    if (!app) throw std::logic_error("fastapi: LoopState<T> needs an app");
    return AppAccess::loop_state_slot(*app, type, make);
}
}  // namespace detail

}  // namespace fastapi
