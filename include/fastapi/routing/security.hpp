// security: FastAPI's security helpers, as dependencies. Each scheme is a small constexpr
// callable type, so it is used like any dependency and is listed in the OpenAPI document
// (components.securitySchemes and the operation's `security`):
//
//   constexpr fastapi::OAuth2PasswordBearer<"token"> oauth2_scheme{};
//   User get_current_user(fastapi::Depends<oauth2_scheme> token) { ... *token ... }
//
// Errors are those of FastAPI 0.122 and later: 401 with a WWW-Authenticate header (Bearer,
// Basic [realm="..."], APIKey) and {"detail":"Not authenticated"} (FastAPI before 0.122
// answered 403 for HTTPBearer and the API keys). With NoAutoError a missing credential gives
// std::nullopt instead. Also OAuth2PasswordRequestForm (the password flow's form body) and
// compare_digest (comparison of secrets in constant time).
// Relies on depends (and forms for the password form).
#pragma once
#include "depends.hpp"
#include "forms.hpp"
#include "handler.hpp"
#include "params.hpp"

#include <optional>     // optional
#include <string>       // string
#include <string_view>  // string_view
#include <vector>       // vector

namespace fastapi {

// Options of the security schemes.
struct NoAutoError {};  // missing credentials give std::nullopt instead of a 401
template <fixed_string S> struct SchemeName { static constexpr std::string_view scheme_name = S; };
template <fixed_string S> struct SchemeDescription { static constexpr std::string_view scheme_description = S; };
template <fixed_string S> struct Realm { static constexpr std::string_view realm = S; };            // HTTPBasic
template <fixed_string S> struct BearerFormat { static constexpr std::string_view bearer_format = S; };  // HTTPBearer

struct HTTPBasicCredentials {
    std::string username;
    std::string password;
};
struct HTTPAuthorizationCredentials {
    std::string scheme;
    std::string credentials;
};

// Compares two secrets in time that does not depend on where they differ (Python's
// secrets.compare_digest), so that a guess cannot be refined by timing the answers.
FASTAPI_DECL bool compare_digest(std::string_view a, std::string_view b) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool compare_digest(std::string_view a, std::string_view b) noexcept {
    volatile unsigned char diff = a.size() == b.size() ? 0 : 1;
    const std::string_view& ref = a.size() == b.size() ? a : b;  // same amount of work either way
    for (std::size_t i = 0; i < b.size(); ++i) diff = diff | static_cast<unsigned char>(ref[i] ^ b[i]);
    return diff == 0;
}
#endif

namespace detail {

template <class... O>
inline constexpr bool auto_error_v = !(std::is_same_v<O, NoAutoError> || ...);

template <class... O>
constexpr std::string_view scheme_name_or(std::string_view fallback) {
    std::string_view r = fallback;
    ([&] { if constexpr (requires { O::scheme_name; }) r = O::scheme_name; }(), ...);
    return r;
}
template <class... O>
constexpr std::string_view scheme_description() {
    std::string_view r;
    ([&] { if constexpr (requires { O::scheme_description; }) r = O::scheme_description; }(), ...);
    return r;
}
template <class... O>
constexpr std::string_view realm_of() {
    std::string_view r;
    ([&] { if constexpr (requires { O::realm; }) r = O::realm; }(), ...);
    return r;
}
template <class... O>
constexpr std::string_view bearer_format_of() {
    std::string_view r;
    ([&] { if constexpr (requires { O::bearer_format; }) r = O::bearer_format; }(), ...);
    return r;
}

// FastAPI's get_authorization_scheme_param: "Bearer abc" -> {"Bearer", "abc"}.
FASTAPI_DECL std::pair<std::string_view, std::string_view> authorization_scheme_param(std::string_view value) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::pair<std::string_view, std::string_view> authorization_scheme_param(std::string_view value) noexcept {
    auto space = value.find(' ');
    if (space == std::string_view::npos) return {value, {}};
    return {value.substr(0, space), value.substr(space + 1)};
}
#endif

[[noreturn]] inline void not_authenticated(std::string_view www_authenticate,
                                           std::string_view detail = "Not authenticated") {
    Headers h;
    h.set("www-authenticate", www_authenticate);
    throw HTTPException(401, std::string(detail), std::move(h));
}

FASTAPI_DECL bool base64_decode(std::string_view in, std::string& out);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool base64_decode(std::string_view in, std::string& out) {
    auto value = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '+') return 62;
        if (c == '/') return 63;
        return -1;
    };
    out.clear();
    if (in.size() % 4 != 0) return false;
    unsigned buffer = 0;
    int bits = 0;
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] == '=') {  // padding only at the end
            for (std::size_t j = i; j < in.size(); ++j)
                if (in[j] != '=') return false;
            return in.size() - i <= 2;
        }
        int v = value(in[i]);
        if (v < 0) return false;
        buffer = (buffer << 6) | static_cast<unsigned>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((buffer >> bits) & 0xFF);
        }
    }
    return true;
}
#endif

// Adds a scheme to the operation's security requirements, once.
FASTAPI_DECL void add_security(OperationInfo& op, std::string_view name, picojson::value (*scheme)(),
                         std::vector<std::string> scopes = {});
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void add_security(OperationInfo& op, std::string_view name, picojson::value (*scheme)(),
                         std::vector<std::string> scopes) {
    for (auto& s : op.security)
        if (s.name == name) return;
    op.security.push_back({name, scheme, std::move(scopes)});
}
#endif

FASTAPI_DECL picojson::value scheme_object(std::initializer_list<std::pair<const char*, picojson::value>> items,
                                     std::string_view description);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL picojson::value scheme_object(std::initializer_list<std::pair<const char*, picojson::value>> items,
                                     std::string_view description) {
    picojson::object o;
    for (auto& [k, v] : items) o.emplace(k, v);
    if (!description.empty()) o.emplace("description", picojson::value(std::string(description)));
    return picojson::value(std::move(o));
}
#endif

}  // namespace detail

// HTTP Basic authentication: the credentials of an `Authorization: Basic ...` header.
template <class... Options>
struct HTTPBasic {
    static constexpr bool reads_only_head = true;  // a header, query or cookie (App::dispatch_head)
    using result_type = std::conditional_t<detail::auto_error_v<Options...>, HTTPBasicCredentials,
                                           std::optional<HTTPBasicCredentials>>;
    static constexpr std::string_view scheme_name = detail::scheme_name_or<Options...>("HTTPBasic");

    result_type operator()(const Request& req) const {
        constexpr std::string_view realm = detail::realm_of<Options...>();
        const std::string challenge = realm.empty() ? std::string("Basic") : "Basic realm=\"" + std::string(realm) + "\"";
        auto authorization = req.headers.get("authorization");
        auto [scheme, param] = detail::authorization_scheme_param(authorization.value_or(""));
        if (!authorization || authorization->empty() || !detail::iequals(scheme, "basic")) {
            if constexpr (detail::auto_error_v<Options...>) detail::not_authenticated(challenge);
            else return std::nullopt;
        }
        std::string decoded;
        auto colon = std::string::npos;
        if (detail::base64_decode(param, decoded)) colon = decoded.find(':');
        bool ascii = true;
        for (unsigned char c : decoded) ascii = ascii && c < 0x80;
        if (colon == std::string::npos || !ascii) detail::not_authenticated(challenge, "Invalid authentication credentials");
        return HTTPBasicCredentials{decoded.substr(0, colon), decoded.substr(colon + 1)};
    }
    static picojson::value scheme() {
        return detail::scheme_object({{"type", picojson::value("http")}, {"scheme", picojson::value("basic")}},
                                     detail::scheme_description<Options...>());
    }
    static void describe_security(detail::OperationInfo& op) { detail::add_security(op, scheme_name, &scheme); }
};

// HTTP Bearer tokens: the scheme and credentials of an `Authorization: Bearer ...` header.
template <class... Options>
struct HTTPBearer {
    static constexpr bool reads_only_head = true;  // a header, query or cookie (App::dispatch_head)
    using result_type = std::conditional_t<detail::auto_error_v<Options...>, HTTPAuthorizationCredentials,
                                           std::optional<HTTPAuthorizationCredentials>>;
    static constexpr std::string_view scheme_name = detail::scheme_name_or<Options...>("HTTPBearer");

    result_type operator()(const Request& req) const {
        auto authorization = req.headers.get("authorization");
        auto [scheme, credentials] = detail::authorization_scheme_param(authorization.value_or(""));
        if (!authorization || scheme.empty() || credentials.empty()) {
            if constexpr (detail::auto_error_v<Options...>) detail::not_authenticated("Bearer");
            else return std::nullopt;
        }
        if (!detail::iequals(scheme, "bearer")) {
            if constexpr (detail::auto_error_v<Options...>)
                detail::not_authenticated("Bearer", "Invalid authentication credentials");
            else return std::nullopt;
        }
        return HTTPAuthorizationCredentials{std::string(scheme), std::string(credentials)};
    }
    static picojson::value scheme() {
        picojson::value v = detail::scheme_object({{"type", picojson::value("http")}, {"scheme", picojson::value("bearer")}},
                                                  detail::scheme_description<Options...>());
        constexpr std::string_view format = detail::bearer_format_of<Options...>();
        if (!format.empty()) v.get<picojson::object>()["bearerFormat"] = picojson::value(std::string(format));
        return v;
    }
    static void describe_security(detail::OperationInfo& op) { detail::add_security(op, scheme_name, &scheme); }
};

// OAuth2's password flow: the bearer token the client got from TokenUrl.
template <fixed_string TokenUrl, class... Options>
struct OAuth2PasswordBearer {
    static constexpr bool reads_only_head = true;  // a header, query or cookie (App::dispatch_head)
    using result_type = std::conditional_t<detail::auto_error_v<Options...>, std::string, std::optional<std::string>>;
    static constexpr std::string_view scheme_name = detail::scheme_name_or<Options...>("OAuth2PasswordBearer");
    static constexpr std::string_view token_url = TokenUrl;

    result_type operator()(const Request& req) const {
        auto authorization = req.headers.get("authorization");
        auto [scheme, param] = detail::authorization_scheme_param(authorization.value_or(""));
        if (!authorization || authorization->empty() || !detail::iequals(scheme, "bearer")) {
            if constexpr (detail::auto_error_v<Options...>) detail::not_authenticated("Bearer");
            else return std::nullopt;
        }
        return std::string(param);
    }
    static picojson::value scheme() {
        picojson::object password{{"scopes", picojson::value(picojson::object{})},
                                  {"tokenUrl", picojson::value(std::string(token_url))}};
        return detail::scheme_object(
            {{"type", picojson::value("oauth2")},
             {"flows", picojson::value(picojson::object{{"password", picojson::value(std::move(password))}})}},
            detail::scheme_description<Options...>());
    }
    static void describe_security(detail::OperationInfo& op) { detail::add_security(op, scheme_name, &scheme); }
};

namespace detail {
enum class APIKeyIn { header, query, cookie };

// An API key in a header, the query or a cookie; absent or empty answers 401.
template <APIKeyIn In, fixed_string Name, class... Options>
struct APIKeyBase {
    static constexpr bool reads_only_head = true;  // a header, query or cookie (App::dispatch_head)
    using result_type = std::conditional_t<auto_error_v<Options...>, std::string, std::optional<std::string>>;
    static constexpr std::string_view key_name = Name;

    result_type operator()(const Request& req) const {
        std::optional<std::string> key;
        if constexpr (In == APIKeyIn::header) {
            if (auto v = req.headers.get(key_name)) key = std::string(*v);
        } else if constexpr (In == APIKeyIn::query) {
            std::vector<std::pair<std::string, std::string>> query;
            parse_query(req.query_string, query);
            for (auto& [k, v] : query)
                if (k == key_name) key = v;
        } else {
            std::vector<std::pair<std::string, std::string>> cookies;
            parse_cookies(req.headers, cookies);
            for (auto& [k, v] : cookies)
                if (k == key_name) {
                    key = v;  // the first, as Cookie<> parameters and headers read it
                    break;
                }
        }
        if (!key || key->empty()) {
            if constexpr (auto_error_v<Options...>) not_authenticated("APIKey");
            else return std::nullopt;
        }
        return std::move(*key);
    }
    static picojson::value scheme() {
        const char* in = In == APIKeyIn::header ? "header" : In == APIKeyIn::query ? "query" : "cookie";
        return scheme_object({{"type", picojson::value("apiKey")}, {"in", picojson::value(in)},
                              {"name", picojson::value(std::string(key_name))}},
                             scheme_description<Options...>());
    }
};
}  // namespace detail

template <fixed_string Name, class... Options>
struct APIKeyHeader : detail::APIKeyBase<detail::APIKeyIn::header, Name, Options...> {
    static constexpr std::string_view scheme_name = detail::scheme_name_or<Options...>("APIKeyHeader");
    static void describe_security(detail::OperationInfo& op) {
        detail::add_security(op, scheme_name, &APIKeyHeader::scheme);
    }
};
template <fixed_string Name, class... Options>
struct APIKeyQuery : detail::APIKeyBase<detail::APIKeyIn::query, Name, Options...> {
    static constexpr std::string_view scheme_name = detail::scheme_name_or<Options...>("APIKeyQuery");
    static void describe_security(detail::OperationInfo& op) {
        detail::add_security(op, scheme_name, &APIKeyQuery::scheme);
    }
};
template <fixed_string Name, class... Options>
struct APIKeyCookie : detail::APIKeyBase<detail::APIKeyIn::cookie, Name, Options...> {
    static constexpr std::string_view scheme_name = detail::scheme_name_or<Options...>("APIKeyCookie");
    static void describe_security(detail::OperationInfo& op) {
        detail::add_security(op, scheme_name, &APIKeyCookie::scheme);
    }
};

// The form of OAuth2's password flow (application/x-www-form-urlencoded): a handler
// parameter of this type reads username, password, scope (space-separated scopes),
// grant_type, client_id and client_secret; username and password are required.
struct OAuth2PasswordRequestForm {
    std::optional<std::string> grant_type;
    std::string username;
    std::string password;
    std::vector<std::string> scopes;
    std::optional<std::string> client_id;
    std::optional<std::string> client_secret;
    OAuth2PasswordRequestForm() = default;  // not an aggregate: never read as a JSON model
};

namespace detail {
// grant_type must be "password": documented and reported as FastAPI's pattern ^password$,
// checked by comparison, so that a program using the form carries no pattern matcher.
struct GrantTypeIsPassword {};
FASTAPI_DECL bool is_password(std::string_view s);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool is_password(std::string_view s) { return s == "password"; }
#endif
template <> struct constraint_of<GrantTypeIsPassword> {
    static constexpr void apply(Constraints& c) {
        c.pattern = "^password$";
        c.pattern_matches = &is_password;
    }
};

// Read as FastAPI declares it: six form fields (urlencoded or multipart), described in the
// document as the operation's Body_<operationId> form.
template <>
struct Binder<OAuth2PasswordRequestForm> {
    static constexpr bool is_body = true;
    using GrantType = Form<"grant_type", std::optional<std::string>, GrantTypeIsPassword>;
    using Username = Form<"username", std::string>;
    using Password = Form<"password", std::string, Format<"password">>;  // masked in Swagger UI, as FastAPI does
    using Scope = Form<"scope", std::string, Default<"">>;
    using ClientId = Form<"client_id", std::optional<std::string>>;
    using ClientSecret = Form<"client_secret", std::optional<std::string>, Format<"password">>;
    using holder = OAuth2PasswordRequestForm;

    static holder bind(Exchange& ex, ValidationErrors& errors) {
        OAuth2PasswordRequestForm form;
        form.grant_type = std::move(Binder<GrantType>::bind(ex, errors).value);
        form.username = std::move(Binder<Username>::bind(ex, errors).value);
        form.password = std::move(Binder<Password>::bind(ex, errors).value);
        const std::string scope = std::move(Binder<Scope>::bind(ex, errors).value);
        form.client_id = std::move(Binder<ClientId>::bind(ex, errors).value);
        form.client_secret = std::move(Binder<ClientSecret>::bind(ex, errors).value);
        std::string_view rest = scope;  // space-separated, as OAuth2 sends them
        while (!rest.empty()) {
            auto space = rest.find(' ');
            if (space != 0) form.scopes.emplace_back(rest.substr(0, space));
            if (space == std::string_view::npos) break;
            rest.remove_prefix(space + 1);
        }
        return form;
    }
    static OAuth2PasswordRequestForm get(holder& h) { return std::move(h); }
    static void describe(OperationInfo& op) {
        Binder<GrantType>::describe(op);
        Binder<Username>::describe(op);
        Binder<Password>::describe(op);
        Binder<Scope>::describe(op);
        Binder<ClientId>::describe(op);
        Binder<ClientSecret>::describe(op);
    }
};
}  // namespace detail

}  // namespace fastapi
