// route: what a route is (its path, methods, options and endpoint) and how one is declared
// (the verb helpers App and APIRouter share), with the app's own settings (AppOptions).
#pragma once
#include "cache.hpp"
#include "depends.hpp"
#include "forms.hpp"
#include "handler.hpp"
#include "router.hpp"
#include "websocket.hpp"

#include <algorithm>    // max (the stale windows)
#include <map>          // map (responses)
#include <string>       // string
#include <string_view>  // string_view
#include <utility>      // move
#include <vector>       // vector

namespace fastapi {

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
    // Under a proxy's prefix (root_path), list it first in servers (FastAPI's default).
    bool root_path_in_servers = true;
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
    // Response caching (cache.hpp; README "Caching"): {.cache = {.expire = 60s, .namespace_ = "items"}}.
    CacheOptions cache{};
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
    // What its caching needs at run time (cache.hpp), when options.cache is on.
    detail::RouteCache cache;

    Route(std::vector<std::string> m, std::string_view p, RouteOptions o, detail::Endpoint e);

private:
    void init_cache();
};

#if FASTAPI_DEFINITIONS
FASTAPI_DECL Route::Route(std::vector<std::string> m, std::string_view p, RouteOptions o, detail::Endpoint e)
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
    if (options.cache.enabled()) init_cache();
}

FASTAPI_DECL auto Route::init_cache() -> void {
    auto add = [&](std::string_view name) {
        std::string h(name);
        for (auto& c : h) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
        for (auto& have : cache.headers)
            if (have == h) return;
        cache.headers.push_back(h);
        cache.vary += (cache.vary.empty() ? "" : ", ") + std::string(name);
    };
    for (auto& v : options.cache.vary) add(v);
    if (endpoint.describe) {
        detail::OperationInfo op;
        endpoint.describe(op);
        for (auto& p : op.parameters)
            if (p.in == "header") add(p.field.wire_name);
    }
    const CacheOptions& o = options.cache;
    if (o.stale_while_revalidate.count() > 0)
        cache.stale_directives += ", stale-while-revalidate=" + std::to_string(o.stale_while_revalidate.count());
    if (o.stale_if_error.count() > 0)
        cache.stale_directives += ", stale-if-error=" + std::to_string(o.stale_if_error.count());
    cache.max_age = "max-age=" + std::to_string(o.expire.count()) + cache.stale_directives;
    cache.revalidate_ms = std::chrono::duration_cast<std::chrono::milliseconds>(o.stale_while_revalidate).count();
    cache.if_error_ms = std::chrono::duration_cast<std::chrono::milliseconds>(o.stale_if_error).count();
    cache.keep = std::chrono::duration_cast<std::chrono::milliseconds>(o.expire + std::max(o.stale_while_revalidate, o.stale_if_error));
    cache.version_keys.push_back("ns:" + options.cache.namespace_);
    for (auto& t : options.cache.tags) cache.version_keys.push_back("tag:" + t);
}
#endif

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
    // The same with a named function as the template argument, which also names the route
    // (FastAPI's name from `def read_item`): app.get<read_item>("/items/{item_id}").
    template <auto F> decltype(auto) get(std::string_view path, RouteOptions o = {}) { return api_route<F>(path, {"GET"}, std::move(o)); }
    template <auto F> decltype(auto) post(std::string_view path, RouteOptions o = {}) { return api_route<F>(path, {"POST"}, std::move(o)); }
    template <auto F> decltype(auto) put(std::string_view path, RouteOptions o = {}) { return api_route<F>(path, {"PUT"}, std::move(o)); }
    template <auto F> decltype(auto) patch(std::string_view path, RouteOptions o = {}) { return api_route<F>(path, {"PATCH"}, std::move(o)); }
    template <auto F> decltype(auto) delete_(std::string_view path, RouteOptions o = {}) { return api_route<F>(path, {"DELETE"}, std::move(o)); }
    template <auto F> decltype(auto) options(std::string_view path, RouteOptions o = {}) { return api_route<F>(path, {"OPTIONS"}, std::move(o)); }
    template <auto F> decltype(auto) head(std::string_view path, RouteOptions o = {}) { return api_route<F>(path, {"HEAD"}, std::move(o)); }
    template <auto F>
    decltype(auto) api_route(std::string_view path, std::vector<std::string> methods, RouteOptions options = {}) {
        return api_route(path, std::move(methods), F, named_after<F>(std::move(options)));
    }
    // A WebSocket route (FastAPI's @app.websocket): handler(WebSocket&, typed parameters...)
    // -> asio::awaitable<void>; the handshake is a GET, routed and bound as any request, and
    // not in the OpenAPI document.
    template <class F>
    decltype(auto) websocket(std::string_view path, F handler, WebSocketOptions ws_options = {}, RouteOptions options = {}) {
        options.include_in_schema = false;
        auto endpoint = make_websocket_endpoint(std::move(handler), ws_options);
        return static_cast<Owner&>(*this).add_route({"GET"}, path, std::move(options), std::move(endpoint));
    }
    // One handler for several methods.
    template <class F>
    decltype(auto) api_route(std::string_view path, std::vector<std::string> methods, F handler, RouteOptions options = {}) {
        auto endpoint = make_endpoint(std::move(handler), options.status_code, options.response_model.filter);
        return static_cast<Owner&>(*this).add_route(std::move(methods), path, std::move(options), std::move(endpoint));
    }
};
}  // namespace detail

}  // namespace fastapi
