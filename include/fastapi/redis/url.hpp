// url: where a Redis client connects and how (RedisOptions), and REDIS_URL's forms read into
// them: redis://[[user]:password@]host[:port][/db][?protocol=2], unix:///path[?db=N&password=..]
// (as redis-py reads them). rediss:// (TLS) is refused with the reason: there is no TLS here.
#pragma once
#include "resp.hpp"

#include <chrono>     // milliseconds
#include <cstdint>    // uint16_t
#include <cstdlib>    // getenv
#include <stdexcept>  // invalid_argument
#include <string>     // string
#include <string_view>  // string_view

namespace fastapi {

struct RedisOptions {
    std::string host = "127.0.0.1";
    std::uint16_t port = 6379;
    std::string unix_path;  // a Unix socket instead of host:port when set
    std::string username;   // ACL user (HELLO ... AUTH user password); "default" when only a password
    std::string password;
    int db = 0;             // SELECT db after connecting
    int protocol = 3;       // 3: HELLO 3, falling back to RESP2 when the server refuses; 2: RESP2 only
    std::string client_name;  // CLIENT SETNAME, when set
    std::chrono::milliseconds connect_timeout{FASTAPI_REDIS_CONNECT_TIMEOUT_MS};
    std::chrono::milliseconds health_check_interval{FASTAPI_REDIS_HEALTH_CHECK_MS};  // 0: no PING
    std::chrono::milliseconds reconnect_min{FASTAPI_REDIS_RECONNECT_MIN_MS};
    std::chrono::milliseconds reconnect_max{FASTAPI_REDIS_RECONNECT_MAX_MS};
    RespLimits limits;
    // The connection on a thread of its own instead of the first caller's event loop (answers
    // still come back on each caller's executor): one connection for several loops, or for a
    // loop that must run out of work by itself (a TestClient's).
    bool own_thread = false;

    // Where it connects, for messages: "127.0.0.1:6379" or "unix:/run/redis.sock".
    std::string address() const {
        if (!unix_path.empty()) return "unix:" + unix_path;
        return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
    }
};

namespace detail {

FASTAPI_DECL std::string redis_url_decode(std::string_view s);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string redis_url_decode(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        auto hex = [](char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1; };
        if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
            out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}
#endif

FASTAPI_DECL int redis_url_number(std::string_view s, int max, const char* what, std::string_view url);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL int redis_url_number(std::string_view s, int max, const char* what, std::string_view url) {
    int v = 0;
    if (s.empty() || s.size() > 9) throw std::invalid_argument(std::string("REDIS_URL: bad ") + what + " in " + std::string(url));
    for (char c : s) {
        if (c < '0' || c > '9') throw std::invalid_argument(std::string("REDIS_URL: bad ") + what + " in " + std::string(url));
        v = v * 10 + (c - '0');
    }
    if (v > max) throw std::invalid_argument(std::string("REDIS_URL: ") + what + " out of range in " + std::string(url));
    return v;
}
#endif

}  // namespace detail

// Reads a Redis URL into options (the timings and limits keep their defaults); a malformed
// one is std::invalid_argument saying what is wrong. The password never appears in a message.
FASTAPI_DECL RedisOptions parse_redis_url(std::string_view url);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL RedisOptions parse_redis_url(std::string_view url) {
    RedisOptions o;
    std::string_view shown = url.substr(0, url.find('@') == std::string_view::npos ? url.size() : 0);
    if (shown.empty()) shown = "(a URL with credentials)";
    auto query_of = [&](std::string_view& rest) {
        std::string_view q;
        if (auto p = rest.find('?'); p != std::string_view::npos) {
            q = rest.substr(p + 1);
            rest = rest.substr(0, p);
        }
        while (!q.empty()) {
            auto amp = q.find('&');
            std::string_view kv = q.substr(0, amp);
            q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
            auto eq = kv.find('=');
            std::string_view k = kv.substr(0, eq), v = eq == std::string_view::npos ? std::string_view{} : kv.substr(eq + 1);
            if (k == "db") o.db = detail::redis_url_number(v, 1 << 20, "database number", shown);
            else if (k == "protocol") {
                o.protocol = detail::redis_url_number(v, 3, "protocol", shown);
                if (o.protocol != 2 && o.protocol != 3) throw std::invalid_argument("REDIS_URL: protocol must be 2 or 3");
            } else if (k == "password") o.password = detail::redis_url_decode(v);
            else if (k == "username") o.username = detail::redis_url_decode(v);
            else if (k == "client_name") o.client_name = detail::redis_url_decode(v);
            else if (!k.empty())
                throw std::invalid_argument("REDIS_URL: unknown option '" + std::string(k) + "' (db, protocol, password, username, client_name)");
        }
    };
    if (url.starts_with("rediss://"))
        throw std::invalid_argument("REDIS_URL: rediss:// (TLS) is not supported: fastapi.hpp has no TLS; "
                                    "reach Redis over a Unix socket, a private network or a TLS tunnel (stunnel) and use redis://");
    if (url.starts_with("unix://")) {
        std::string_view rest = url.substr(7);
        query_of(rest);
        if (auto at = rest.find('@'); at != std::string_view::npos) {  // unix://[user:]password@/path
            std::string_view cred = rest.substr(0, at);
            rest = rest.substr(at + 1);
            auto colon = cred.find(':');
            if (colon == std::string_view::npos) o.password = detail::redis_url_decode(cred);
            else {
                o.username = detail::redis_url_decode(cred.substr(0, colon));
                o.password = detail::redis_url_decode(cred.substr(colon + 1));
            }
        }
        if (rest.empty() || rest[0] != '/') throw std::invalid_argument("REDIS_URL: unix:// needs an absolute path: unix:///run/redis.sock");
        o.unix_path = detail::redis_url_decode(rest);
        return o;
    }
    if (!url.starts_with("redis://"))
        throw std::invalid_argument("REDIS_URL must start with redis:// or unix:// (got '" + std::string(shown) + "')");
    std::string_view rest = url.substr(8);
    query_of(rest);
    std::string_view path;
    if (auto slash = rest.find('/'); slash != std::string_view::npos) {
        path = rest.substr(slash + 1);
        rest = rest.substr(0, slash);
    }
    if (auto at = rest.rfind('@'); at != std::string_view::npos) {
        std::string_view cred = rest.substr(0, at);
        rest = rest.substr(at + 1);
        auto colon = cred.find(':');
        if (colon == std::string_view::npos) o.username = detail::redis_url_decode(cred);  // redis-py: user only
        else {
            o.username = detail::redis_url_decode(cred.substr(0, colon));
            o.password = detail::redis_url_decode(cred.substr(colon + 1));
        }
    }
    std::string_view port;
    if (!rest.empty() && rest[0] == '[') {
        auto close = rest.find(']');
        if (close == std::string_view::npos) throw std::invalid_argument("REDIS_URL: an IPv6 host without its ]");
        o.host = std::string(rest.substr(1, close - 1));
        rest = rest.substr(close + 1);
        if (!rest.empty()) {
            if (rest[0] != ':') throw std::invalid_argument("REDIS_URL: junk after the IPv6 host");
            port = rest.substr(1);
        }
    } else {
        auto colon = rest.find(':');
        o.host = std::string(rest.substr(0, colon));
        if (colon != std::string_view::npos) port = rest.substr(colon + 1);
    }
    if (o.host.empty()) o.host = "127.0.0.1";
    if (!port.empty() || rest.ends_with(":")) {
        int p = detail::redis_url_number(port, 65535, "port", shown);
        if (p == 0) throw std::invalid_argument("REDIS_URL: port 0");
        o.port = static_cast<std::uint16_t>(p);
    }
    if (!path.empty()) o.db = detail::redis_url_number(path, 1 << 20, "database number", shown);
    return o;
}
#endif

// REDIS_URL's options, or redis://127.0.0.1:6379/0 when it is not set.
FASTAPI_DECL RedisOptions redis_options_from_env();
#if FASTAPI_DEFINITIONS
FASTAPI_DECL RedisOptions redis_options_from_env() {
    const char* url = std::getenv("REDIS_URL");
    return url && *url ? parse_redis_url(url) : RedisOptions{};
}
#endif

}  // namespace fastapi
