// params: where a handler's parameters come from, FastAPI style. The parameter's type names
// the source, the wire name and the constraints; binding reads, converts and validates, and
// reports every problem in FastAPI's 422 format:
//
//   app.get("/items/{item_id}", [](Path<"item_id", int64_t, Ge<1>> item_id,
//                                  Query<"q", std::optional<std::string>, MaxLength<20>> q) {...});
//
// A parameter of a model type (or a vector of models) is the JSON request body.
// Relies on handler (Binder, Exchange), model, validation, json and json_reader.
#pragma once
#include "handler.hpp"
#include "../model/json.hpp"
#include "../model/json_reader.hpp"
#include "../model/model.hpp"
#include "../model/validation.hpp"

#include <cstdio>       // fprintf (the invariant's log line)
#include <string>       // string
#include <string_view>  // string_view
#include <utility>      // move
#include <vector>       // vector

namespace fastapi {

namespace detail {
enum class ParamSource { path, query, header, cookie, body };

// The value a parameter holds, with pointer-like and implicit access.
template <class T>
struct ParamValue {
    T value{};
    const T& operator*() const& noexcept { return value; }
    T& operator*() & noexcept { return value; }
    T&& operator*() && noexcept { return std::move(value); }
    const T* operator->() const noexcept { return &value; }
    T* operator->() noexcept { return &value; }
    operator const T&() const noexcept { return value; }
};
}  // namespace detail

// A path parameter: the {name} segment of the route's path, converted to T.
template <fixed_string Name, class T, class... Markers>
struct Path : detail::ParamValue<T> {
    static constexpr detail::ParamSource source = detail::ParamSource::path;
    static constexpr std::string_view name = Name;
    using value_type = T;
    using markers = std::tuple<Markers...>;
};

// A query parameter. std::optional<T> is optional, std::vector<T> collects repeated keys
// (empty when absent), Default<...> gives a default; anything else is required.
template <fixed_string Name, class T, class... Markers>
struct Query : detail::ParamValue<T> {
    static constexpr detail::ParamSource source = detail::ParamSource::query;
    static constexpr std::string_view name = Name;
    using value_type = T;
    using markers = std::tuple<Markers...>;
};

// A request header. As in FastAPI, '_' in the name matches '-' on the wire
// (Header<"user_agent", ...> reads User-Agent), case-insensitively, and the document names
// it user-agent; ConvertUnderscores<false> keeps the name as written.
template <fixed_string Name, class T, class... Markers>
struct Header : detail::ParamValue<T> {
    static constexpr detail::ParamSource source = detail::ParamSource::header;
    static constexpr std::string_view name = Name;
    using value_type = T;
    using markers = std::tuple<Markers...>;
};

// A cookie sent by the client.
template <fixed_string Name, class T, class... Markers>
struct Cookie : detail::ParamValue<T> {
    static constexpr detail::ParamSource source = detail::ParamSource::cookie;
    static constexpr std::string_view name = Name;
    using value_type = T;
    using markers = std::tuple<Markers...>;
};

// A named part of the JSON body. Alone in a handler it is the whole body (as FastAPI does
// with one body parameter); with other body parameters, each is a key of one JSON object.
// Embed makes even a single one a key.
struct Embed {};

// Header<"strange_header", T, ConvertUnderscores<false>> reads the header strange_header, not
// strange-header (FastAPI's Header(convert_underscores=False)). Only for Header.
template <bool Convert> struct ConvertUnderscores {};

// Marks a Path, Query, Header or Cookie parameter `deprecated: true` in the document
// (FastAPI's Query(deprecated=True)); it is still read as before.
struct Deprecated {};
template <fixed_string Name, class T, class... Markers>
struct Body : detail::ParamValue<T> {
    static constexpr detail::ParamSource source = detail::ParamSource::body;
    static constexpr std::string_view name = Name;
    using value_type = T;
    using markers = std::tuple<Markers...>;
};

namespace detail {

template <class P> struct is_param : std::false_type {};
template <fixed_string N, class T, class... M> struct is_param<Path<N, T, M...>> : std::true_type {};
template <fixed_string N, class T, class... M> struct is_param<Query<N, T, M...>> : std::true_type {};
template <fixed_string N, class T, class... M> struct is_param<Header<N, T, M...>> : std::true_type {};
template <fixed_string N, class T, class... M> struct is_param<Cookie<N, T, M...>> : std::true_type {};
template <fixed_string N, class T, class... M> struct is_param<Body<N, T, M...>> : std::true_type {};

template <class Tuple, class M> struct tuple_has;
template <class... Ts, class M> struct tuple_has<std::tuple<Ts...>, M> : std::bool_constant<(std::is_same_v<Ts, M> || ...)> {};

// A parameter type that is a model (or a list of models) is read from the JSON body.
template <class T> struct is_body_model : std::bool_constant<is_model_v<T>> {};
template <class T, class A> struct is_body_model<std::vector<T, A>> : std::bool_constant<is_model_v<T>> {};
template <class T>
inline constexpr bool is_body_model_v = is_body_model<std::remove_cvref_t<T>>::value;

// --- query string, cookies ---

// Decoded key/value pairs of the query string (or an urlencoded form), blank values kept, as
// Starlette does.
FASTAPI_DECL void parse_query(std::string_view qs, std::vector<std::pair<std::string, std::string>>& out);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void parse_query(std::string_view qs, std::vector<std::pair<std::string, std::string>>& out) {
    out.clear();
    while (!qs.empty()) {
        auto amp = qs.find('&');
        std::string_view pair = qs.substr(0, amp);
        qs = amp == std::string_view::npos ? std::string_view{} : qs.substr(amp + 1);
        if (pair.empty()) continue;
        auto eq = pair.find('=');
        std::string key, value;
        std::string_view raw_key = pair.substr(0, eq);
        std::string_view raw_value = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
        // An undecodable escape is kept as it came rather than dropping the parameter.
        if (!percent_decode(raw_key, key, true)) key = std::string(raw_key);
        if (!percent_decode(raw_value, value, true)) value = std::string(raw_value);
        // Escaped bytes that are not UTF-8 are U+FFFD, as Starlette's unquote(errors="replace").
        replace_invalid_utf8(key);
        replace_invalid_utf8(value);
        out.emplace_back(std::move(key), std::move(value));
    }
}
#endif

// Cookie header pairs (RFC 6265 §4.2.1), values unquoted.
FASTAPI_DECL void parse_cookies(const Headers& headers, std::vector<std::pair<std::string, std::string>>& out);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void parse_cookies(const Headers& headers, std::vector<std::pair<std::string, std::string>>& out) {
    out.clear();
    for (std::string_view line : headers.get_all("cookie")) {
        while (!line.empty()) {
            auto semi = line.find(';');
            std::string_view pair = line.substr(0, semi);
            line = semi == std::string_view::npos ? std::string_view{} : line.substr(semi + 1);
            while (!pair.empty() && (pair.front() == ' ' || pair.front() == '\t')) pair.remove_prefix(1);
            while (!pair.empty() && (pair.back() == ' ' || pair.back() == '\t')) pair.remove_suffix(1);
            auto eq = pair.find('=');
            if (eq == std::string_view::npos || eq == 0) continue;
            std::string_view value = pair.substr(eq + 1);
            if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
            out.emplace_back(std::string(pair.substr(0, eq)), std::string(value));
        }
    }
}
#endif

FASTAPI_DECL std::string header_wire_name(std::string_view name);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string header_wire_name(std::string_view name) {
    std::string out(name);
    for (auto& c : out)
        if (c == '_') c = '-';
    return out;
}
#endif

// Values of one parameter from the request, as strings; empty when absent.
FASTAPI_DECL std::vector<std::string_view> source_values(Exchange& ex, ParamSource source, std::string_view name);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::vector<std::string_view> source_values(Exchange& ex, ParamSource source, std::string_view name) {
    std::vector<std::string_view> values;
    switch (source) {
        case ParamSource::path: {
            auto it = ex.request.path_params.find(name);
            if (it != ex.request.path_params.end()) values.emplace_back(it->second);
            break;
        }
        case ParamSource::query:
            if (!ex.query_parsed) {
                parse_query(ex.request.query_string, ex.query);
                ex.query_parsed = true;
            }
            for (auto& [k, v] : ex.query)
                if (k == name) values.emplace_back(v);
            break;
        case ParamSource::header:  // `name` as on the wire: the Binder has converted '_'
            values = ex.request.headers.get_all(name);
            break;
        case ParamSource::cookie:
            if (!ex.cookies_parsed) {
                parse_cookies(ex.request.headers, ex.cookies);
                ex.cookies_parsed = true;
            }
            for (auto& [k, v] : ex.cookies)
                if (k == name) values.emplace_back(v);
            break;
        case ParamSource::body: break;
    }
    return values;
}
#endif

FASTAPI_DECL std::string_view source_label(ParamSource s) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string_view source_label(ParamSource s) noexcept {
    switch (s) {
        case ParamSource::path: return "path";
        case ParamSource::query: return "query";
        case ParamSource::header: return "header";
        case ParamSource::cookie: return "cookie";
        case ParamSource::body: return "body";
    }
    return "";
}
#endif

// The binding path's invariant: a conversion that fails has said why. Runs convert(); when it
// returns false without adding an error (a bug in a converter), the failure is still reported,
// a 422 rather than a handler called with a default value, and logged.
template <class Convert, class MakeInput>
bool converted_or_reported(ValidationErrors& errors, const Loc& loc, Convert&& convert, MakeInput&& make_input) {
    std::size_t before = errors.total();
    if (convert()) return true;
    if (errors.total() == before) {
        std::fprintf(stderr, "fastapi: internal error: a conversion failed without saying why (reported as value_error)\n");
        add_error(errors, loc, "value_error", "Value error, the value could not be converted", make_input());
    }
    return false;
}

// Reads a scalar, optional or list parameter from its string values.
template <class T, class Markers>
void bind_from_strings(const std::vector<std::string_view>& values, T& out, ValidationErrors& errors, Loc& loc) {
    using Field = typename apply_markers<T, Markers>::type;
    if (values.empty()) {
        if constexpr (Field::has_default) Field::set_default(out);
        else if constexpr (Field::required) errors.push_back(missing_error(loc));
        else out = T{};
        return;
    }
    // Errors report the text as it came ("input":"-1"), as FastAPI does.
    if constexpr (is_vector_v<T>) {
        using E = typename T::value_type;
        out.clear();
        bool ok = true;
        for (std::size_t i = 0; i < values.size(); ++i) {
            E e{};
            loc.emplace_back(std::in_place_index<1>, static_cast<std::int64_t>(i));  // in place: GCC 12, as below
            if (converted_or_reported(errors, loc, [&] { return from_string(values[i], e, errors, loc); },
                                      [&] { return picojson::value(std::string(values[i])); }))
                out.push_back(std::move(e));
            else ok = false;
            loc.pop_back();
        }
        if (ok)
            check_field_constraints<Field>(out, errors, loc, [&] {
                picojson::array inputs;
                for (auto v : values) inputs.emplace_back(std::string(v));
                return picojson::value(std::move(inputs));
            });
    } else {
        auto last_text = [&] { return picojson::value(std::string(values.back())); };
        if constexpr (is_optional_v<T>) {
            typename T::value_type v{};
            if (converted_or_reported(errors, loc, [&] { return from_string(values.back(), v, errors, loc); }, last_text)) {
                out = std::move(v);
                check_field_constraints<Field>(out, errors, loc, last_text);
            }
        } else {
            // Repeated keys: the last wins, as Starlette's QueryParams does for single values.
            if (converted_or_reported(errors, loc, [&] { return from_string(values.back(), out, errors, loc); }, last_text))
                check_field_constraints<Field>(out, errors, loc, last_text);
        }
    }
}

// --- the JSON body, read once per request ---

// FastAPI's rule: no Content-Type means JSON; a JSON (or +json) type means JSON; anything
// else is not JSON and the raw text is validated (and refused) instead.
FASTAPI_DECL bool is_json_content_type(std::string_view ct);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool is_json_content_type(std::string_view ct) {
    if (ct == "application/json") return true;  // what nearly every client sends
    std::string_view mt = ct.substr(0, ct.find(';'));
    while (!mt.empty() && (mt.back() == ' ' || mt.back() == '\t')) mt.remove_suffix(1);
    constexpr std::string_view application = "application/";
    if (mt.size() < application.size() || !iequals(mt.substr(0, application.size()), application)) return false;
    std::string_view sub = mt.substr(application.size());
    return iequals(sub, "json") || (sub.size() > 5 && iequals(sub.substr(sub.size() - 5), "+json"));
}
#endif

// Fills ex.body_json once: a JSON value, null for an empty body, or the raw text as a
// string for a non-JSON media type. Records json_invalid in `errors` (once) when unparsable.
FASTAPI_DECL bool load_body(Exchange& ex, ValidationErrors& errors);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool load_body(Exchange& ex, ValidationErrors& errors) {
    if (ex.body_state == Exchange::BodyState::unread) {
        const std::string& body = ex.request.body;
        auto ct = ex.request.headers.get("content-type");
        if (body.empty()) {
            ex.body_json = picojson::value();
            ex.body_state = Exchange::BodyState::empty;
        } else if (ct && !is_json_content_type(*ct)) {
            ex.body_json = picojson::value(body);
            ex.body_state = Exchange::BodyState::not_json;
        } else {
            ValidationErrors parse_errors;
            if (parse_json_body(body, ex.body_json, parse_errors)) {
                ex.body_state = Exchange::BodyState::json;
            } else {
                ex.body_state = Exchange::BodyState::invalid;
                for (auto& e : parse_errors) errors.push_back(std::move(e));
            }
        }
    }
    return ex.body_state != Exchange::BodyState::invalid;
}
#endif

// Reads one body parameter. `embedded`: the value is under key `name` of a JSON object.
template <class T, class Markers>
void bind_body(Exchange& ex, std::string_view name, bool embedded, T& out, ValidationErrors& errors) {
    using Field = typename apply_markers<T, Markers>::type;
    if (!embedded && ex.body_state == Exchange::BodyState::unread && !ex.request.body.empty()) {
        auto ct = ex.request.headers.get("content-type");
        if (!ct || is_json_content_type(*ct)) {
            // A failing constraint is reported by the reference reader, with the client's input.
            if (read_json_direct(ex.request.body, out) && meets_constraints<Field>(out)) return;
            out = T{};  // the reference reader starts from a fresh value and reports
        }
    }
    Loc loc;
    loc.push_back(std::string("body"));
    if (!load_body(ex, errors)) return;
    const picojson::value* v = &ex.body_json;
    if (embedded) {
        loc.push_back(std::string(name));
        if (ex.body_state == Exchange::BodyState::empty) {
            v = nullptr;
        } else if (!ex.body_json.is<picojson::object>()) {
            // FastAPI reports the embedding object itself as the wrong type.
            loc.pop_back();
            if (!ex.body_error_reported) {
                errors.push_back(model_attributes_type_error(loc, ex.body_json));
                ex.body_error_reported = true;
            }
            return;
        } else {
            auto& obj = ex.body_json.get<picojson::object>();
            auto it = obj.find(std::string(name));
            v = it == obj.end() ? nullptr : &it->second;
        }
    } else if (ex.body_state == Exchange::BodyState::empty) {
        v = nullptr;
    }
    // FastAPI validates a body (or an embedded key) of null as an absent one: "missing" when
    // required, else the default (fastapi.dependencies.utils._validate_value_with_model_field).
    if (v && v->is<picojson::null>()) v = nullptr;
    if (!v) {
        if constexpr (Field::has_default) Field::set_default(out);
        else if constexpr (is_optional_v<T>) out.reset();
        else errors.push_back(missing_error(loc));
        return;
    }
    exact_integers_scope exact(ex.body_json);
    if (converted_or_reported(errors, loc, [&] { return from_json(*v, out, errors, loc); }, [v] { return *v; }))
        check_field_constraints<Field>(out, errors, loc, *v);
}

}  // namespace detail

// Binders for the parameter markers.
namespace detail {
// A parameter for the OpenAPI document. Not required and without a Default<...>, its
// default is the value it gets when absent (an empty list, null).
template <class T, class Markers>
FieldInfo describe_param(std::string_view name, std::string_view wire_name) {
    using Spec = typename apply_markers<T, Markers>::type;
    FieldInfo f = describe_value<Spec>(name, wire_name);
    if constexpr (!Spec::required && !Spec::has_default)
        f.default_value = [] { return to_json_value(typename Spec::value_type{}); };
    return f;
}

template <class T, class Markers>
FieldInfo describe_param(std::string_view name) {
    return describe_param<T, Markers>(name, name);
}

// A body parameter for the document, required as bind_body reads it: absent, only one with
// a Default<...> or an optional one is not `missing` (a list is required, as FastAPI
// documents `items: list[Item]`).
template <class T, class Markers>
FieldInfo describe_body_param(std::string_view name) {
    using Spec = typename apply_markers<T, Markers>::type;
    FieldInfo f = describe_value<Spec>(name, name);
    f.required = !Spec::has_default && !Spec::is_optional;
    return f;
}

template <class P>
struct Binder<P, std::enable_if_t<is_param<P>::value && P::source != ParamSource::body>> {
    static constexpr bool is_body = false;
    using holder = P;
    static constexpr bool converts_underscores =
        P::source == ParamSource::header && !tuple_has<typename P::markers, ConvertUnderscores<false>>::value;
    static_assert(P::source == ParamSource::header || (!tuple_has<typename P::markers, ConvertUnderscores<false>>::value &&
                                                       !tuple_has<typename P::markers, ConvertUnderscores<true>>::value),
                  "fastapi: ConvertUnderscores<...> is for Header<...> parameters only; remove it from this one");
    // The name in the request (and in errors and the document): a header's '_' are '-'.
    static std::string_view wire_name() {
        if constexpr (converts_underscores) {
            static const std::string name = header_wire_name(P::name);
            return name;
        } else {
            return P::name;
        }
    }
    static holder bind(Exchange& ex, ValidationErrors& errors) {
        P p;
        Loc loc;
        loc.reserve(3);
        // Built in place: moving a LocPart temporary trips GCC 12's -Wmaybe-uninitialized at -O2.
        loc.emplace_back(std::in_place_index<0>, source_label(P::source));
        loc.emplace_back(std::in_place_index<0>, wire_name());
        auto values = source_values(ex, P::source, wire_name());
        // A repeated header or cookie: the first counts, as Starlette's Headers, the security
        // helpers and gateways (nginx's $http_x, $cookie_x) read it; a list parameter gets all.
        if constexpr ((P::source == ParamSource::header || P::source == ParamSource::cookie) &&
                      !is_vector_v<typename P::value_type>)
            if (values.size() > 1) values.resize(1);
        bind_from_strings<typename P::value_type, typename P::markers>(values, p.value, errors, loc);
        return p;
    }
    static P get(holder& h) { return std::move(h); }
    static void describe(OperationInfo& op) {
        op.parameters.push_back({source_label(P::source),
                                 describe_param<typename P::value_type, typename P::markers>(P::name, wire_name()),
                                 tuple_has<typename P::markers, Deprecated>::value});
    }
};

template <class P>
struct Binder<P, std::enable_if_t<is_param<P>::value && P::source == ParamSource::body>> {
    static constexpr bool is_body = true;
    using holder = P;
    static holder bind(Exchange& ex, ValidationErrors& errors) {
        P p;
        const bool embedded = ex.body_params > 1 || tuple_has<typename P::markers, Embed>::value;
        bind_body<typename P::value_type, typename P::markers>(ex, P::name, embedded, p.value, errors);
        return p;
    }
    static P get(holder& h) { return std::move(h); }
    static void describe(OperationInfo& op) {
        op.body.push_back(describe_body_param<typename P::value_type, typename P::markers>(P::name));
        if (tuple_has<typename P::markers, Embed>::value) op.embed_body = true;
    }
};

// A bare model (or list of models) parameter: the whole JSON body, or, next to other body
// parameters, the key named after the type (FastAPI would use the parameter's name, which
// C++ cannot see: use Body<"name", Model> to choose it).
template <class P>
struct Binder<P, std::enable_if_t<!std::is_reference_v<P> && !is_param<std::remove_cvref_t<P>>::value && is_body_model_v<std::remove_cvref_t<P>>>> {
    using T = std::remove_cvref_t<P>;
    static constexpr bool is_body = true;
    using holder = T;
    static const std::string& key() {
        static const std::string name = body_key_name<T>();
        return name;
    }
    static holder bind(Exchange& ex, ValidationErrors& errors) {
        T value{};
        bind_body<T, std::tuple<>>(ex, key(), ex.body_params > 1, value, errors);
        return value;
    }
    static T get(holder& h) { return std::move(h); }
    static void describe(OperationInfo& op) { op.body.push_back(describe_body_param<T, std::tuple<>>(key())); }
};
}  // namespace detail

}  // namespace fastapi
