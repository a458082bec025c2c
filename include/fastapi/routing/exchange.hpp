// exchange: what one request carries through routing, binding and the handler (Exchange), and
// what the parts below the app ask of the app serving it (AppContext): dependency overrides,
// form limits, state, and, for the server that drives requests, the request's lifecycle.
// App implements AppContext (routing/app.hpp); nothing below it names App.
#pragma once
#include "../http/body_source.hpp"
#include "../http/http_types.hpp"
#include "../model/validation.hpp"

#include <cstddef>      // size_t
#include <cstdio>       // fprintf (cleanup errors)
#include <functional>   // function
#include <memory>       // shared_ptr
#include <span>         // span (DependencyList)
#include <string>       // string
#include <typeindex>    // type_index (state)
#include <utility>      // move
#include <vector>       // vector

namespace fastapi {

// Limits and storage of form parsing (AppOptions::forms). Starlette's defaults.
struct FormOptions {
    std::size_t max_parts = 1000;                     // fields and files together; 400 beyond
    std::size_t max_field_bytes = 1024 * 1024;        // one field that is not a file; 400 beyond
    std::size_t max_part_header_bytes = 16 * 1024;    // one part's header block; 400 beyond
    std::size_t spool_threshold = 1024 * 1024;        // a file larger goes to a temporary file
    std::string temp_dir{};                           // empty: $TMPDIR, else /tmp
};

// The route an exchange was routed to (routing/app.hpp). Named here only as the pointer the
// app leaves in the exchange: no part below the app looks inside it.
struct Route;
class Stream;  // http/stream.hpp (AppContext::connection_opener)

namespace detail {

struct Exchange;

// One dependency of a request's graph, described for resolving its coroutine dependencies
// before the (synchronous) binding runs: depends.hpp's prefetch_dependency walks these.
struct DependencyNode;
using DependencyList = std::span<const DependencyNode* const>;
struct DependencyNode {
    const void* key = nullptr;
    bool cache = true;                                   // not Depends<f, NoCache>
    void* (*resolve)(Exchange&, ValidationErrors&) = nullptr;  // as binding resolves it
    // A coroutine's call (binds its parameters, awaits it, keeps its value); null when plain.
    asio::awaitable<void*> (*call_async)(Exchange&, ValidationErrors&, const void* cache_key) = nullptr;
    DependencyList (*children)() noexcept = nullptr;     // the dependencies among its parameters
};

// A replacement for a dependency (app.override_dependency): resolves with the replacement's
// own parameters and keeps its result as the original's value type. A coroutine replacement
// (call_async) is awaited ahead of binding, as a coroutine dependency is.
struct DependencyOverride {
    std::function<void*(Exchange&, ValidationErrors&, const void* key)> call;
    std::function<asio::awaitable<void*>(Exchange&, ValidationErrors&, const void* key)> call_async;
    DependencyList (*children)() noexcept = nullptr;  // the replacement's own dependencies
};

// What the request's head (App::dispatch_head) says of its body, before any of it is read:
// no route takes it (404, 405, the slash redirect: dispatch answers it without the body), it
// was answered already (a middleware or a dependency that reads only the head refused it),
// the route takes no body (nothing it or its dependencies bind reads it: the handler runs
// without it), or the route's handler runs once the body is in memory, or also once a
// multipart body has been streamed to a temporary file, or at once, reading the body as it
// arrives (a RequestStream parameter).
enum class BodyWanted : unsigned char { no_route, answered, unread, in_memory, form, stream };

// How far dispatch got synchronously: the response is complete, or the caller runs the rest
// (AppContext::run_async in a coroutine, AppContext::run_endpoint on a blocking thread).
enum class Dispatch { done, run_async, run_blocking };

// The app as the layers below it see it. Binding asks it for dependency overrides, form
// limits and state; the server and the TestClient drive a request through it, from its
// parsed head to its response, and enter its lifespan. A Server reads it from every loop
// thread: from begin_serving() on, nothing it answers changes.
// server/server.hpp's, named by AppContext::connection_opener.
struct ServerState;
struct Worker;
class Connection;

class AppContext {
public:
    // ---- for binding ----
    virtual const DependencyOverride* find_override(const void* key) const noexcept = 0;
    // The dependencies of the route (its own, its routers' and the app's), run before the
    // handler's parameters are bound; their errors join the handler's.
    virtual void run_route_dependencies(Exchange& ex, ValidationErrors& errors) = 0;
    virtual const FormOptions& form_options() const noexcept = 0;
    // The app's value of one type (State<T>), or this loop thread's (LoopState<T>); `make`
    // creates it when absent, or is null.
    virtual void* state_slot(std::type_index type, std::shared_ptr<void> (*make)()) = 0;
    virtual void* loop_state_slot(std::type_index type, std::shared_ptr<void> (*make)()) = 0;

    // ---- for the server and the TestClient ----
    // Each server or TestClient enters once and exits once; startup runs for the first to
    // enter, shutdown when the last exits. A failing startup throws (nothing is served).
    virtual void enter_lifespan() = 0;
    virtual void exit_lifespan() noexcept = 0;
    virtual void begin_serving() noexcept = 0;
    virtual void end_serving() noexcept = 0;
    // The head step, before the body is read (BodyWanted); then dispatch once it is in; then,
    // as dispatch says, run_async or run_endpoint.
    virtual BodyWanted dispatch_head(Exchange& ex) noexcept = 0;
    virtual Dispatch dispatch(Exchange& ex) noexcept = 0;
    virtual void run_endpoint(Exchange& ex) noexcept = 0;
    // run_async's coroutine is awaited by one that does not throw when cancelled
    // (asio::this_coro::throw_if_cancelled(false)): cancelled, what it awaits ends with an error.
    // (Not virtual: a virtual coroutine, or a virtual function naming one, is compiled in every
    // unit that includes the header; the app's constructor, a template, sets run_async_.)
    asio::awaitable<void> run_async(Exchange& ex) { return run_async_(*this, ex); }
    // Opens a connection and starts it (server/server.hpp's open_connection): set by the App's
    // constructor, a template, so that the connection's coroutines are compiled only in a unit
    // that makes an App (core/config.hpp). The routing layer knows only the names.
    std::shared_ptr<Connection> (*connection_opener)(Stream&&, const std::shared_ptr<ServerState>&, Worker&,
                                                             bool post_start) = nullptr;

protected:
    asio::awaitable<void> (*run_async_)(AppContext&, Exchange&) = nullptr;
    AppContext() = default;
    AppContext(const AppContext&) = delete;
    AppContext& operator=(const AppContext&) = delete;
    ~AppContext() = default;
};

// What the request's dependencies produced (depends.hpp): their values, shared by every
// parameter that asks for the same dependency, and their cleanups. Closed after the response
// is sent (the server moves the entries next to the bytes it writes), in reverse order.
struct DependencyScope {
    struct Entry {
        const void* key = nullptr;  // the dependency's identity; null when not shared (NoCache)
        std::shared_ptr<void> value;
        void* where = nullptr;      // what the handler gets (non-null even for a void result)
        std::function<void()> cleanup;
        // A NoCache coroutine dependency resolved ahead of binding (prefetch_dependency):
        // its identity until the binding that asked for it takes it.
        const void* pending = nullptr;
    };
    std::vector<Entry> entries;
    std::size_t pending = 0;  // entries with `pending` set

    const Entry* find(const void* key) const noexcept {
        for (auto& e : entries)
            if (e.key == key) return &e;
        return nullptr;
    }
    // The first value resolved ahead for NoCache dependency `key`, taken; null when none.
    void* take_pending(const void* key) noexcept {
        for (auto& e : entries)
            if (e.pending == key) {
                e.pending = nullptr;
                --pending;
                return e.where;
            }
        return nullptr;
    }
    static void close(std::vector<Entry>& entries) noexcept {
        while (!entries.empty()) {
            Entry e = std::move(entries.back());
            entries.pop_back();
            if (e.cleanup) {
                try {
                    e.cleanup();
                } catch (const std::exception& x) {
                    std::fprintf(stderr, "fastapi: a dependency's cleanup threw: %s\n", x.what());
                } catch (...) {
                    std::fprintf(stderr, "fastapi: a dependency's cleanup threw\n");
                }
            }
        }
    }
    void close() noexcept {
        pending = 0;
        close(entries);
    }
    DependencyScope() = default;
    DependencyScope(const DependencyScope&) = delete;
    DependencyScope& operator=(const DependencyScope&) = delete;
    ~DependencyScope() { close(); }
};

// Everything one request carries through routing, binding and the handler.
struct Exchange {
    Request request;
    Response response;           // what will be written; handlers' Response& parameter edits it
    const Route* route = nullptr;
    AppContext* app = nullptr;  // the app serving it (null for an exchange made by hand)

    // Parsed on first use by the parameters that need them, once per request.
    std::vector<std::pair<std::string, std::string>> query, cookies;
    bool query_parsed = false, cookies_parsed = false;
    enum class BodyState { unread, empty, json, not_json, invalid } body_state = BodyState::unread;
    picojson::value body_json;
    bool body_error_reported = false;
    std::size_t body_params = 0;  // how many body parameters the handler has (embedding rule)
    DependencyScope deps;         // dependency values and cleanups of this request
    // The loop a coroutine part of this request runs on (App::run_async sets it): where the
    // coroutine cleanups of its dependencies are awaited. Empty for a plain request.
    asio::any_io_executor executor;
    std::size_t middleware_from = 0;  // app middleware whose `after` still runs: [from, n)
    bool head_dispatched = false;     // App::dispatch_head ran: dispatch goes on from the route
    // A RequestStream's source: the connection's, set before dispatch when the route reads
    // the body as it arrives; else made from the body in memory when the handler asks.
    std::shared_ptr<BodyReader> body_reader;

    // Ready for the next request on the connection, keeping capacity.
    void reset_for_request() {
        response.status = 200;
        response.headers.clear();
        response.body.clear();
        response.file_path.clear();
        response.stream.reset();
        body_reader.reset();
        route = nullptr;
        query_parsed = cookies_parsed = false;
        if (body_state != BodyState::unread) {
            body_state = BodyState::unread;
            body_json = picojson::value();
        }
        body_error_reported = false;
        body_params = 0;
        head_dispatched = false;
        if (executor) executor = {};
        deps.close();  // normally already taken by whoever sent the response
    }
};

// What binding asks of the exchange's app; an exchange without one has no overrides, the
// default form limits, and no state.
inline const DependencyOverride* find_dependency_override(const Exchange& ex, const void* key) noexcept {
    return ex.app ? ex.app->find_override(key) : nullptr;
}
inline const FormOptions& form_options(const Exchange& ex) noexcept {
    static const FormOptions defaults;
    return ex.app ? ex.app->form_options() : defaults;
}

}  // namespace detail
}  // namespace fastapi
