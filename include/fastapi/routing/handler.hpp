// handler: turns a user's function into an endpoint. Each parameter's type says where its
// value comes from (a Binder), the return type says what is written back. Plain functions
// run on the I/O thread (or on the blocking pool when the route asks); functions returning
// asio::awaitable<T> run as coroutines on the connection's executor, and so does a plain
// function whose dependencies include a coroutine (they are awaited first, then it is called).
// Relies on http_types, validation, json, responses.
#pragma once
#include "../http/http_types.hpp"
#include "../model/json.hpp"
#include "../model/json_value.hpp"
#include "../core/meta.hpp"
#include "exchange.hpp"
#include "responses.hpp"
#include "../model/validation.hpp"

#include <cstdio>       // fprintf (cleanup errors)
#include <functional>   // function
#include <array>        // array (dependency_list)
#include <memory>       // shared_ptr
#include <span>         // span (DependencyList)
#include <tuple>        // tuple, apply
#include <type_traits>  // is_base_of_v, decay_t
#include <utility>      // move, index_sequence

namespace fastapi {

namespace detail {

// Binder<P>: how a handler parameter of type P is obtained from the exchange.
//   using holder = ...;                                   what bind() produces
//   static holder bind(Exchange&, ValidationErrors&);     collects problems instead of throwing
//   static P get(holder&);                                 the argument passed to the handler
// Parameter markers (Path, Query, Body, Depends, ...) specialise it in their own parts.
template <class P, class = void>
struct Binder {
    static_assert(dependent_false<P>,
                  "fastapi: this handler parameter type is not supported. Use fastapi::Path<\"name\", T>, "
                  "Query<\"name\", T>, Header<\"name\", T>, Cookie<\"name\", T>, Body<\"name\", T>, a model "
                  "struct (read from the JSON body), Depends<f>, BackgroundTasks&, Request& or Response&.");
};

// A parameter taken by const& or && is bound as the same type taken by value. (A coroutine
// handler's arguments are kept in its caller's frame until it has finished: see
// coroutine_call below.)
template <class P>
struct Binder<const P&> : Binder<P> {};
template <class P>
struct Binder<P&&> : Binder<P> {};

template <>
struct Binder<Request&> {
    using holder = Request*;
    static holder bind(Exchange& ex, ValidationErrors&) { return &ex.request; }
    static Request& get(holder h) { return *h; }
};
template <>
struct Binder<const Request&> : Binder<Request&> {};

// The request body read as it arrives (body_source.hpp), for coroutine handlers.
template <>
struct Binder<RequestStream&> {
    using holder = RequestStream;
    FASTAPI_LAZY static holder bind(Exchange& ex, ValidationErrors&) {  // WholeBodyReader's coroutine where used
        if (!ex.body_reader) ex.body_reader = std::make_shared<WholeBodyReader>(ex.request.body);
        return RequestStream(*ex.body_reader);
    }
    static RequestStream& get(holder& h) { return h; }
};

// The response that will be sent, for handlers that set headers, cookies or the status
// and still return a value (FastAPI's `response: Response` parameter).
template <>
struct Binder<Response&> {
    static constexpr bool head_only = true;
    using holder = Response*;
    static holder bind(Exchange& ex, ValidationErrors&) { return &ex.response; }
    static Response& get(holder h) { return *h; }
};

// Function signature of any callable: plain function, lambda, functor, member-free.
template <class F> struct callable_traits : callable_traits<decltype(&std::decay_t<F>::operator())> {};
template <class R, class... A> struct callable_traits<R (*)(A...)> {
    using result = R;
    using args = std::tuple<A...>;
};
template <class R, class... A> struct callable_traits<R(A...)> : callable_traits<R (*)(A...)> {};
template <class R, class... A> struct callable_traits<R (*)(A...) noexcept> : callable_traits<R (*)(A...)> {};
template <class C, class R, class... A> struct callable_traits<R (C::*)(A...)> : callable_traits<R (*)(A...)> {};
template <class C, class R, class... A> struct callable_traits<R (C::*)(A...) const> : callable_traits<R (*)(A...)> {};
template <class C, class R, class... A> struct callable_traits<R (C::*)(A...) noexcept> : callable_traits<R (*)(A...)> {};
template <class C, class R, class... A> struct callable_traits<R (C::*)(A...) const noexcept> : callable_traits<R (*)(A...)> {};

template <class T> struct awaitable_result { using type = void; static constexpr bool is_awaitable = false; };
template <class T, class E> struct awaitable_result<asio::awaitable<T, E>> {
    using type = T;
    static constexpr bool is_awaitable = true;
};

// Rewrites a JSON result through the route's response model (app.hpp's response_model<T>).
using ResponseFilter = void (*)(std::string& json);

// Writes a handler's result into the exchange's response. `status` is the route's status
// code for values that are not responses themselves; `filter`, when the route has one,
// passes such values through its response model.
template <class R>
void render_result(R&& result, Exchange& ex, int status, ResponseFilter filter) {
    using T = std::remove_cvref_t<R>;
    if constexpr (std::is_base_of_v<Response, T>) {
        // Headers the handler set through a Response& parameter stay, unless replaced.
        Headers merged = std::move(ex.response.headers);
        ex.response = static_cast<Response&&>(result);
        for (auto& [name, value] : merged)
            if (!ex.response.headers.contains(name) || detail::iequals(name, "set-cookie"))
                detail::append_header(ex.response.headers, name, value);
    } else {
        ex.response.body.clear();
        if constexpr (std::is_same_v<T, json> && !std::is_lvalue_reference_v<R>)
            detail::append_json(ex.response.body, std::move(result));  // its text becomes the body
        else
            write_json(ex.response.body, result);
        if (filter) filter(ex.response.body);
        ex.response.headers.set("content-type", "application/json");
        if (ex.response.status == 200) ex.response.status = status;
    }
}

FASTAPI_DECL void render_no_result(Exchange& ex, int status);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void render_no_result(Exchange& ex, int status) {
    // FastAPI writes `null` for a handler that returns nothing, except with 204/304.
    if (ex.response.status == 200) ex.response.status = status;
    if (ex.response.status == 204 || ex.response.status == 304) return;
    ex.response.body = "null";
    ex.response.headers.set("content-type", "application/json");
}
#endif

// Binds every parameter (collecting all validation problems before giving up), then calls f.
template <class P>
constexpr std::size_t counts_as_body() {
    if constexpr (requires { Binder<P>::body_count; }) return Binder<P>::body_count;  // a dependency's
    else if constexpr (requires { Binder<P>::is_body; }) return Binder<P>::is_body ? 1 : 0;
    else return 0;
}

// Binding P reads nothing but the request's head (path, query, headers, cookies) and may run
// before the body has arrived, once: parameters that say so (Binder<P>::head_only), and those
// that are not body parameters (Binder<P>::is_body false). The raw Request is not.
template <class P>
constexpr bool binds_from_head() {
    if constexpr (requires { Binder<P>::head_only; }) return Binder<P>::head_only;
    else if constexpr (requires { Binder<P>::is_body; }) return !Binder<P>::is_body;
    else return false;
}
template <class P>
concept binds_dependency = requires { typename P::callable; &P::resolve; &P::key; };

// A handler or dependency reads only the request's head when every parameter does (the
// security schemes, which take the Request to read a header, say so themselves).
template <class Tuple> struct args_from_head;
template <class... P> struct args_from_head<std::tuple<P...>> {
    static constexpr bool value = (binds_from_head<P>() && ... && true);
};

// The dependency parameters among P..., in order, as nodes.
template <class Tuple> struct dependency_list;
template <class... P> struct dependency_list<std::tuple<P...>> {
    static constexpr std::size_t count = (std::size_t{binds_dependency<std::remove_cvref_t<P>>} + ... + 0);
    static DependencyList get() noexcept {
        static const std::array<const DependencyNode*, count> nodes = [] {
            std::array<const DependencyNode*, count> a{};
            [[maybe_unused]] std::size_t i = 0;
            [[maybe_unused]] auto one = [&]<class Q>(std::type_identity<Q>) {
                if constexpr (binds_dependency<Q>) a[i++] = &Q::node();
            };
            (one(std::type_identity<std::remove_cvref_t<P>>{}), ...);
            return a;
        }();
        return DependencyList(nodes.data(), nodes.size());
    }
};

// Whether a coroutine dependency is anywhere in the graph of parameters P... (statically;
// an override may still put one there: App counts those).
template <class P>
constexpr bool dependency_is_async() {
    if constexpr (binds_dependency<std::remove_cvref_t<P>>) return std::remove_cvref_t<P>::async_graph;
    else return false;
}
template <class Tuple> struct args_async;
template <class... P> struct args_async<std::tuple<P...>> {
    static constexpr bool value = (dependency_is_async<P>() || ... || false);
};

// The argument a parameter's binding passes to the callable.
template <class Q>
using bound_arg_t = decltype(Binder<Q>::get(std::declval<typename Binder<Q>::holder&>()));

// The head step of a handler (App::dispatch_head): resolves its Depends parameters that
// come before anything reading the body, in order, as binding them later would (their values
// are kept for the request, so binding does not run them again). Validation errors are left
// for the real binding to report with the others; an exception (HTTPException) is the answer.
template <class... P>
void bind_head_dependencies([[maybe_unused]] Exchange& ex, std::tuple<P...>*) {
    if constexpr (sizeof...(P) != 0) {
        ValidationErrors ignored;
        bool head = true;
        auto one = [&]<class Q>(std::type_identity<Q>) {
            if (!head || !(head = binds_from_head<Q>())) return;
            if constexpr (binds_dependency<std::remove_cvref_t<Q>>) Binder<Q>::bind(ex, ignored);
        };
        (one(std::type_identity<P>{}), ...);
    }
}

template <class... P>
std::tuple<typename Binder<P>::holder...> bind_parameters(Exchange& ex) {
    ex.body_params = (counts_as_body<P>() + ... + 0);
    ValidationErrors errors;
    if (ex.app) ex.app->run_route_dependencies(ex, errors);  // the route's own, its routers', the app's
    std::tuple<typename Binder<P>::holder...> held{Binder<P>::bind(ex, errors)...};
    if (!errors.empty()) throw RequestValidationError(std::move(errors));
    return held;
}

template <class F, class... P>
decltype(auto) invoke_bound(F& f, Exchange& ex, std::tuple<P...>*) {
    auto held = bind_parameters<P...>(ex);
    return std::apply([&](auto&... h) -> decltype(auto) { return f(Binder<P>::get(h)...); }, held);
}

// A coroutine handler's call. Its body runs after the call has returned, so an argument
// made for the call (a temporary bound to `const Item&` or `Item&&`) would be gone when the
// body reads it: every argument is kept in this coroutine's frame (`args`: values, or
// references into the exchange) until the handler has finished.
template <class Args> struct coroutine_call;
template <class... P> struct coroutine_call<std::tuple<P...>> {
    template <class Q>
    using arg_t = bound_arg_t<Q>;

    template <class T, class F>
    static asio::awaitable<void> run(F& f, Exchange& ex, int status, ResponseFilter filter) {
        auto held = bind_parameters<P...>(ex);
        std::tuple<arg_t<P>...> args =
            std::apply([](auto&... h) { return std::tuple<arg_t<P>...>(Binder<P>::get(h)...); }, held);
        auto call = [&f](auto&... a) { return f(static_cast<P&&>(a)...); };
        if constexpr (std::is_void_v<T>) {
            co_await std::apply(call, args);
            render_no_result(ex, status);
        } else {
            render_result(co_await std::apply(call, args), ex, status, filter);
        }
    }
};

// What a handler's types say about its operation, for the OpenAPI document (openapi.hpp):
// each parameter's Binder<P>::describe adds what it reads, the return type what is sent.
// Filled when the document is built, not per request.
struct ParameterInfo {
    std::string_view in;  // "path", "query", "header" or "cookie"
    FieldInfo field;      // wire_name: the name in the request
    bool deprecated = false;  // marked Deprecated
};
// A security scheme an operation requires (security.hpp), for components.securitySchemes
// and the operation's `security`.
struct SecurityInfo {
    std::string_view name;                  // the scheme's name in components.securitySchemes
    picojson::value (*scheme)() = nullptr;  // its Security Scheme Object
    std::vector<std::string> scopes;
};
struct OperationInfo {
    std::vector<ParameterInfo> parameters;
    std::vector<SecurityInfo> security;
    std::vector<FieldInfo> body;  // body parameters in order (several: one JSON object)
    bool embed_body = false;      // a body parameter marked Embed
    std::string_view body_media_type;  // empty: application/json; forms.hpp sets its own
    // What a successful call sends: JSON (result_type null: any JSON, no schema), HTML or
    // plain text, Server-Sent Events or JSON Lines (result_type: their items' type, null: any
    // JSON), or a response whose content the type does not say (Response, FileResponse).
    enum class Result { json, html, text, event_stream, json_lines, unknown } result = Result::json;
    const TypeInfo& (*result_type)() = nullptr;
    bool can_fail_validation() const noexcept { return !parameters.empty() || !body.empty(); }
};

template <class P>
void describe_parameter(OperationInfo& op) {
    if constexpr (requires { Binder<P>::describe(op); }) Binder<P>::describe(op);
}

template <class T>
void describe_result(OperationInfo& op) {
    using OI = OperationInfo;
    if constexpr (requires { typename T::event_item; }) {  // EventSourceResponse<Item> (sse.hpp)
        op.result = OI::Result::event_stream;
        if constexpr (!std::is_same_v<typename T::event_item, picojson::value>) op.result_type = &describe<typename T::event_item>;
    } else if constexpr (requires { typename T::jsonl_item; }) {  // JSONLinesResponse<Item> (sse.hpp)
        op.result = OI::Result::json_lines;
        if constexpr (!std::is_same_v<typename T::jsonl_item, picojson::value>) op.result_type = &describe<typename T::jsonl_item>;
    } else if constexpr (std::is_base_of_v<HTMLResponse, T>) op.result = OI::Result::html;
    else if constexpr (std::is_base_of_v<PlainTextResponse, T>) op.result = OI::Result::text;
    else if constexpr (std::is_base_of_v<JSONResponse, T>) op.result = OI::Result::json;
    else if constexpr (std::is_base_of_v<Response, T>) op.result = OI::Result::unknown;
    else if constexpr (std::is_void_v<T> || std::is_same_v<T, std::nullopt_t> || std::is_same_v<T, picojson::value> ||
                       std::is_same_v<T, json>)
        return;  // any JSON: schema {}, as FastAPI documents a dict
    else if constexpr (std::is_same_v<T, std::string_view> || std::is_convertible_v<const T&, const char*>)
        op.result_type = &describe<std::string>;
    else op.result_type = &describe<T>;
}

template <class T, class Args> struct endpoint_describer;
template <class T, class... P> struct endpoint_describer<T, std::tuple<P...>> {
    static void describe(OperationInfo& op) {
        (describe_parameter<P>(op), ...);
        describe_result<std::remove_cvref_t<T>>(op);
    }
};

// The type-erased endpoint the router stores.
struct Endpoint {
    std::function<void(Exchange&)> call;                          // plain handlers
    std::function<asio::awaitable<void>(Exchange&)> call_async;   // coroutine handlers
    void (*describe)(OperationInfo&) = nullptr;                   // for the OpenAPI document
    bool reads_request = false;  // takes the Request itself, so may read its raw body
    // Some parameter (or dependency parameter) may read the body; false: the request is
    // answered without reading it (App::dispatch_head's BodyWanted::unread).
    bool reads_body = true;
    bool reads_stream = false;   // takes a RequestStream: reads the body as it arrives
    void (*bind_head)(Exchange&) = nullptr;  // bind_head_dependencies for its parameters
    DependencyList (*dependencies)() noexcept = nullptr;  // its Depends parameters (null: none)
    bool async_dependencies = false;  // a coroutine dependency is in their graph: run as a coroutine
    bool is_async() const noexcept { return static_cast<bool>(call_async); }
};

template <class Args> struct args_read_request;
template <class... P> struct args_read_request<std::tuple<P...>> {
    static constexpr bool value = (std::is_same_v<std::remove_cvref_t<P>, Request> || ... || false);
};

template <class Args> struct args_read_stream;
template <class... P> struct args_read_stream<std::tuple<P...>> {
    static constexpr bool value = (std::is_same_v<std::remove_cvref_t<P>, RequestStream> || ... || false);
};

// The name of function F as its declaration spells it, without namespaces or classes
// (`read_item` for `app.get<read_item>(...)`), read from the compiler's signature of this
// function at compile time: GCC writes "[with auto F = ns::read_item; ...]", Clang
// "[F = &ns::read_item]".
template <auto F>
constexpr std::string_view function_name() noexcept {
    std::string_view s = __PRETTY_FUNCTION__;
    std::size_t at = s.find("F = ");
    if (at == std::string_view::npos) return {};
    s.remove_prefix(at + 4);
    s = s.substr(0, s.find_first_of(";]"));
    if (!s.empty() && s.front() == '&') s.remove_prefix(1);
    if (std::size_t colon = s.rfind("::"); colon != std::string_view::npos) s.remove_prefix(colon + 2);
    return s;
}
template <auto F>
inline constexpr std::string_view function_name_v = function_name<F>();

// A route's options, named after handler F unless they name it already.
template <auto F, class Options>
Options named_after(Options options) {
    static_assert(std::is_function_v<std::remove_pointer_t<decltype(F)>>,
                  "fastapi: app.get<f>(path) takes a named function f (its name becomes the route's name); "
                  "pass a lambda as app.get(path, f) instead.");
    static_assert(!function_name_v<F>.empty(), "fastapi: the name of this function could not be read");
    if (options.name.empty()) options.name = function_name_v<F>;
    return options;
}

template <class F>
Endpoint make_endpoint(F f, int status, ResponseFilter filter = nullptr) {
    require_valid_status(status, "RouteOptions::status_code");
    using traits = callable_traits<F>;
    using R = typename traits::result;
    using args = typename traits::args;
    Endpoint e;
    using Result = std::conditional_t<awaitable_result<R>::is_awaitable, typename awaitable_result<R>::type, R>;
    e.describe = &endpoint_describer<Result, args>::describe;
    e.reads_request = args_read_request<args>::value;
    e.reads_body = !args_from_head<args>::value;
    e.reads_stream = args_read_stream<args>::value;
    static_assert(!args_read_stream<args>::value || awaitable_result<R>::is_awaitable,
                  "fastapi: a handler that takes a RequestStream& reads it with co_await: make it a coroutine "
                  "returning asio::awaitable<T>.");
    e.bind_head = [](Exchange& ex) { bind_head_dependencies(ex, static_cast<args*>(nullptr)); };
    if constexpr (dependency_list<args>::count != 0) e.dependencies = &dependency_list<args>::get;
    e.async_dependencies = args_async<args>::value;
    if constexpr (awaitable_result<R>::is_awaitable) {
        using T = typename awaitable_result<R>::type;
        e.call_async = [f = std::move(f), status, filter](Exchange& ex) mutable {
            return coroutine_call<args>::template run<T>(f, ex, status, filter);
        };
    } else {
        e.call = [f = std::move(f), status, filter](Exchange& ex) mutable {
            if constexpr (std::is_void_v<R>) {
                invoke_bound(f, ex, static_cast<args*>(nullptr));
                render_no_result(ex, status);
            } else {
                render_result(invoke_bound(f, ex, static_cast<args*>(nullptr)), ex, status, filter);
            }
        };
    }
    return e;
}

}  // namespace detail
}  // namespace fastapi
