// proxy_headers: what a trusted proxy says about the client (uvicorn's ProxyHeadersMiddleware,
// plus RFC 7239 Forwarded, which uvicorn does not read). The connection calls
// apply_proxy_headers once per request, when its peer is trusted (ServerOptions::
// forwarded_allow_ips); the request's client address and port, scheme, Host and host/port
// then describe the client's request to the proxy instead of the proxy's to us.
// Relies on http_types (Request, Headers) and http_parser (trim_ows, record_host).
//
// Decisions, where uvicorn is silent or we read more than it does:
// - X-Forwarded-* win: when a request has any X-Forwarded-For/-Proto/-Host, Forwarded is
//   ignored. Most proxies (nginx as configured in examples/deploy, AWS, Heroku) set those and
//   pass a client's own Forwarded through untouched, so preferring Forwarded would let any
//   client choose its address. A proxy that sets only Forwarded must drop X-Forwarded-*.
// - X-Forwarded-For and Forwarded are walked from the right past trusted proxies; the first
//   untrusted hop is the client (all trusted: the left-most; "*": the left-most, as uvicorn).
//   A malformed entry on the way, or more than FASTAPI_MAX_FORWARDED_HOPS hops, and the whole
//   header is ignored: the peer stays the client.
// - X-Forwarded-Proto: http, https, ws or wss (case-insensitive), else ignored; ws/wss are the
//   schemes http/https of the upgrade request. X-Forwarded-Host: one host[:port], else ignored.
// - Forwarded for= may be an obfuscated identifier ("_hidden") or "unknown": that becomes the
//   client address as the proxy gave it (never trusted: not an IP).
// - A Unix-socket peer has no address: trusted only with "*" or the entry "unix:" (uvicorn
//   trusts it only with "*"; "unix:" is its open proposal, PR #2760).
// - X-Forwarded-Prefix is not read (uvicorn does not either): the prefix is --root-path.
#pragma once
#include "../http/http_parser.hpp"

#include <arpa/inet.h>  // inet_pton, inet_ntop
#include <array>        // array
#include <cstdlib>      // getenv
#include <stdexcept>    // invalid_argument
#include <string>       // string
#include <string_view>  // string_view
#include <vector>       // vector

namespace fastapi::detail {
// Internal: the server applies them (compiled once in the compiled-once mode).
#if FASTAPI_INTERNALS

// An IP address as bytes: IPv4 in the first 4 (v6 false), IPv4-mapped IPv6 read as IPv4.
struct IpAddress {
    bool v6 = false;
    std::array<unsigned char, 16> bytes{};
};

// A plain address ("192.0.2.1", "2001:db8::1"), no brackets, no port; false otherwise.
FASTAPI_DECL bool parse_ip(std::string_view s, IpAddress& out) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool parse_ip(std::string_view s, IpAddress& out) noexcept {
    if (s.empty() || s.size() > 45) return false;
    char buf[46];
    std::memcpy(buf, s.data(), s.size());
    buf[s.size()] = '\0';
    out = {};
    if (s.find(':') == std::string_view::npos) return ::inet_pton(AF_INET, buf, out.bytes.data()) == 1;
    if (::inet_pton(AF_INET6, buf, out.bytes.data()) != 1) return false;
    static constexpr unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(out.bytes.data(), mapped, 12) == 0) {
        std::memmove(out.bytes.data(), out.bytes.data() + 12, 4);
        std::memset(out.bytes.data() + 4, 0, 12);
        return true;
    }
    out.v6 = true;
    return true;
}
#endif

FASTAPI_DECL std::string ip_to_string(const IpAddress& a);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string ip_to_string(const IpAddress& a) {
    char buf[INET6_ADDRSTRLEN];
    if (!::inet_ntop(a.v6 ? AF_INET6 : AF_INET, a.bytes.data(), buf, sizeof buf)) return {};
    return buf;
}
#endif

// forwarded_allow_ips, parsed once per server: addresses, CIDR ranges, "*", "unix:" and
// literals (any other name, compared with the peer's address as text: TestClient's
// "testclient").
class ProxyTrust {
public:
    ProxyTrust() = default;
    // Throws std::invalid_argument naming the entry that is neither.
    explicit ProxyTrust(std::string_view list) {
        while (!list.empty()) {
            std::size_t comma = list.find(',');
            std::string_view item = trim_ows(list.substr(0, comma));
            list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
            if (item.empty()) continue;
            if (item == "*") { all_ = true; continue; }
            if (item == "unix:") { unix_ = true; continue; }
            Network n;
            std::string_view addr = item;
            std::size_t slash = item.find('/');
            if (slash != std::string_view::npos) addr = item.substr(0, slash);
            if (!parse_ip(addr, n.address)) {
                bool looks_numeric = slash != std::string_view::npos || addr.find(':') != std::string_view::npos ||
                                     addr.find_first_not_of("0123456789.") == std::string_view::npos;
                if (looks_numeric) throw bad(item, "is not an IP address or a CIDR range");
                literals_.emplace_back(item);
                continue;
            }
            const int max = n.address.v6 ? 128 : 32;
            n.prefix = max;
            if (slash != std::string_view::npos) {
                std::string_view len = item.substr(slash + 1);
                int p = 0;
                if (len.empty() || len.size() > 3 || len.find_first_not_of("0123456789") != std::string_view::npos ||
                    (p = std::stoi(std::string(len))) > max)
                    throw bad(item, "has a prefix length that is not 0 to " + std::to_string(max));
                n.prefix = p;
                mask(n.address, p);  // "10.0.0.1/8" means 10.0.0.0/8
            }
            networks_.push_back(n);
        }
    }

    bool trusts_all() const noexcept { return all_; }
    bool trusts_unix_peers() const noexcept { return all_ || unix_; }
    bool empty() const noexcept { return !all_ && !unix_ && networks_.empty() && literals_.empty(); }

    bool trusts(const IpAddress& a) const noexcept {
        if (all_) return true;
        for (const Network& n : networks_) {
            if (n.address.v6 != a.v6) continue;
            IpAddress masked = a;
            mask(masked, n.prefix);
            if (masked.bytes == n.address.bytes) return true;
        }
        return false;
    }
    // A peer's address as the connection knows it (an IP, or a literal such as "testclient").
    bool trusts(std::string_view address) const {
        if (all_) return true;
        IpAddress a;
        if (parse_ip(address, a)) return trusts(a);
        for (const std::string& l : literals_)
            if (l == address) return true;
        return false;
    }

private:
    struct Network {
        IpAddress address;
        int prefix = 0;
    };
    static void mask(IpAddress& a, int prefix) noexcept {
        const int bytes = a.v6 ? 16 : 4;
        for (int i = 0; i < bytes; ++i) {
            const int keep = prefix - i * 8;
            if (keep >= 8) continue;
            a.bytes[static_cast<std::size_t>(i)] &= keep <= 0 ? 0 : static_cast<unsigned char>(0xff << (8 - keep));
        }
    }
    static std::invalid_argument bad(std::string_view item, const std::string& why) {
        return std::invalid_argument("fastapi: forwarded_allow_ips: '" + std::string(item) + "' " + why +
                                     " (entries are addresses, CIDR ranges such as 10.0.0.0/8, '*' or 'unix:')");
    }
    bool all_ = false, unix_ = false;
    std::vector<Network> networks_;
    std::vector<std::string> literals_;
};

// The trust a server's options give: empty means $FORWARDED_ALLOW_IPS, else 127.0.0.1,::1.
FASTAPI_DECL ProxyTrust proxy_trust_from(std::string_view configured);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL ProxyTrust proxy_trust_from(std::string_view configured) {
    if (configured.empty()) {
        const char* env = std::getenv("FORWARDED_ALLOW_IPS");
        configured = env && *env ? env : "127.0.0.1,::1";
    }
    return ProxyTrust(configured);
}
#endif

// One hop a proxy names: an address ("192.0.2.1", IPv6 without brackets) or an identifier
// ("unknown", "_hidden"), and the port when it gave a numeric one.
struct ForwardedNode {
    std::string address;
    unsigned short port = 0;
    bool is_ip = false;
    IpAddress ip;
};

FASTAPI_DECL bool parse_port(std::string_view s, unsigned short& port) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool parse_port(std::string_view s, unsigned short& port) noexcept {
    if (s.empty() || s.size() > 5) return false;
    unsigned v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + static_cast<unsigned>(c - '0');
    }
    if (v > 65535) return false;
    port = static_cast<unsigned short>(v);
    return true;
}
#endif

FASTAPI_DECL bool is_obfuscated(std::string_view s) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool is_obfuscated(std::string_view s) noexcept {  // RFC 7239 obfnode / obfport
    if (s.size() < 2 || s.size() > 64 || s[0] != '_') return false;
    for (char c : s.substr(1))
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' || c == '_' || c == '-'))
            return false;
    return true;
}
#endif

// An X-Forwarded-For entry or a Forwarded for= value: "ip", "ip:port", "[v6]", "[v6]:port",
// a bare IPv6, and (identifiers) "unknown", "_obf", each optionally with ":port" or ":_obf".
FASTAPI_DECL bool parse_node(std::string_view s, ForwardedNode& out, bool identifiers);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool parse_node(std::string_view s, ForwardedNode& out, bool identifiers) {
    out = {};
    std::string_view host = s, port;
    if (!s.empty() && s.front() == '[') {
        std::size_t close = s.find(']');
        if (close == std::string_view::npos) return false;
        host = s.substr(1, close - 1);
        std::string_view rest = s.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return false;
            port = rest.substr(1);
            if (port.empty()) return false;
        }
        if (host.find(':') == std::string_view::npos) return false;  // brackets are for IPv6
    } else if (std::size_t colon = s.find(':'); colon != std::string_view::npos && s.find(':', colon + 1) == std::string_view::npos) {
        host = s.substr(0, colon);
        port = s.substr(colon + 1);
        if (port.empty()) return false;
    }
    if (parse_ip(host, out.ip)) {
        out.is_ip = true;
        out.address = ip_to_string(out.ip);
    } else if (identifiers && (host == "unknown" || is_obfuscated(host))) {
        out.address = std::string(host);
    } else {
        return false;
    }
    if (!port.empty() && !parse_port(port, out.port)) {
        if (!(identifiers && is_obfuscated(port))) return false;
        out.port = 0;
    }
    return true;
}
#endif

// A Host value a proxy gives: a name (letters, digits, - . _ ~) or [IPv6], and an optional
// port. Anything else (spaces, commas, control bytes) is refused.
FASTAPI_DECL bool is_valid_authority(std::string_view s) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool is_valid_authority(std::string_view s) noexcept {
    if (s.empty() || s.size() > 262) return false;
    std::string_view host = s, port;
    if (s.front() == '[') {
        std::size_t close = s.find(']');
        if (close == std::string_view::npos) return false;
        IpAddress a;
        if (!parse_ip(s.substr(1, close - 1), a) || !a.v6) return false;
        std::string_view rest = s.substr(close + 1);
        if (rest.empty()) return true;
        if (rest.front() != ':') return false;
        port = rest.substr(1);
    } else {
        std::size_t colon = s.find(':');
        if (colon != std::string_view::npos) {
            host = s.substr(0, colon);
            port = s.substr(colon + 1);
        }
        if (host.empty() || host.size() > 255) return false;
        for (char c : host)
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '.' ||
                  c == '_' || c == '~'))
                return false;
        if (colon == std::string_view::npos) return true;
    }
    unsigned short p = 0;
    return parse_port(port, p);
}
#endif

// "http"/"https" from a proxy's protocol name (http, https, ws, wss; any case), else "".
FASTAPI_DECL std::string_view forwarded_scheme(std::string_view v) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string_view forwarded_scheme(std::string_view v) noexcept {
    v = trim_ows(v);
    if (iequals(v, "https") || iequals(v, "wss")) return "https";
    if (iequals(v, "http") || iequals(v, "ws")) return "http";
    return {};
}
#endif

// The hops of every field called `name` (in order, each field's comma-separated list), at
// most FASTAPI_MAX_FORWARDED_HOPS + 1 of them (one more tells the list was too long).
FASTAPI_DECL std::vector<std::string_view> forwarded_list(const Headers& h, std::string_view name);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::vector<std::string_view> forwarded_list(const Headers& h, std::string_view name) {
    std::vector<std::string_view> out;
    for (const auto& [n, v] : h) {
        if (!iequals(n, name)) continue;
        std::string_view rest = v;
        while (out.size() <= FASTAPI_MAX_FORWARDED_HOPS) {
            std::size_t comma = rest.find(',');
            out.push_back(trim_ows(rest.substr(0, comma)));
            if (comma == std::string_view::npos) break;
            rest = rest.substr(comma + 1);
        }
        if (out.size() > FASTAPI_MAX_FORWARDED_HOPS) break;
    }
    return out;
}
#endif

// The client a list of hops names, walked from the right past trusted proxies; false (the
// header ignored) for a malformed hop on the way or too many hops.
template <class NodeOf>
inline bool pick_client(std::size_t count, const ProxyTrust& trust, NodeOf&& node_of, std::size_t& chosen) {
    if (count == 0 || count > FASTAPI_MAX_FORWARDED_HOPS) return false;
    ForwardedNode node;
    if (trust.trusts_all()) {  // uvicorn: with "*", the left-most
        chosen = 0;
        return node_of(0, node);
    }
    for (std::size_t i = count; i-- > 0;) {
        if (!node_of(i, node)) return false;
        if (!node.is_ip || !trust.trusts(node.ip)) {
            chosen = i;
            return true;
        }
    }
    chosen = 0;  // every hop a trusted proxy: the first is the client
    return true;
}

// One element of a Forwarded field: its for=, proto= and host= (quotes removed).
struct ForwardedElement {
    std::string for_, proto, host;
    bool has_for = false;
};

// Forwarded: element *( "," element ), element = pair *( ";" pair ), pair = token "="
// ( token / quoted-string ). False when any field is malformed (the header is then ignored).
FASTAPI_DECL bool parse_forwarded(const Headers& h, std::vector<ForwardedElement>& out);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool parse_forwarded(const Headers& h, std::vector<ForwardedElement>& out) {
    for (const auto& [n, v] : h) {
        if (!iequals(n, "forwarded")) continue;
        std::string_view s = v;
        std::size_t i = 0;
        auto skip_ows = [&] { while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i; };
        for (;;) {
            if (out.size() >= FASTAPI_MAX_FORWARDED_HOPS) return false;
            ForwardedElement e;
            std::size_t pairs = 0;
            for (;;) {
                skip_ows();
                std::size_t b = i;
                while (i < s.size() && is_token_char(static_cast<unsigned char>(s[i]))) ++i;
                std::string_view name = s.substr(b, i - b);
                if (name.empty() || i >= s.size() || s[i] != '=' || ++pairs > 16) return false;
                ++i;
                std::string value;
                if (i < s.size() && s[i] == '"') {
                    ++i;
                    for (;;) {
                        if (i >= s.size() || value.size() > 512) return false;
                        char c = s[i++];
                        if (c == '"') break;
                        if (c == '\\') {
                            if (i >= s.size()) return false;
                            c = s[i++];
                        }
                        value += c;
                    }
                } else {
                    b = i;
                    while (i < s.size() && is_token_char(static_cast<unsigned char>(s[i]))) ++i;
                    if (i == b) return false;
                    value.assign(s.substr(b, i - b));
                }
                std::string* slot = nullptr;
                if (iequals(name, "for")) { slot = &e.for_; e.has_for = true; }
                else if (iequals(name, "proto")) slot = &e.proto;
                else if (iequals(name, "host")) slot = &e.host;
                if (slot) *slot = std::move(value);
                skip_ows();
                if (i < s.size() && s[i] == ';') { ++i; continue; }
                break;
            }
            out.push_back(std::move(e));
            if (i >= s.size()) break;
            if (s[i] != ',') return false;
            ++i;
        }
    }
    return true;
}
#endif

// The forwarded host becomes the request's Host (so TrustedHost, the redirects and handlers
// reading Host see the client's) and Request::host/port.
FASTAPI_DECL void apply_forwarded_host(Request& r, std::string_view host);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void apply_forwarded_host(Request& r, std::string_view host) {
    if (!is_valid_authority(host)) return;
    r.headers.set("host", host);
    record_host(r, host);
}
#endif

// After the scheme changed: the port Host implies (the scheme's default when it names none).
FASTAPI_DECL void rescheme(Request& r, std::string_view scheme);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void rescheme(Request& r, std::string_view scheme) {
    if (r.scheme == scheme) return;
    r.scheme.assign(scheme);
    if (auto host = r.headers.get("host")) record_host(r, *host);
}
#endif

// The request as a trusted proxy describes it. Bounded: each header is read once, at most
// FASTAPI_MAX_FORWARDED_HOPS hops, no allocation beyond the hops' views.
FASTAPI_DECL void apply_proxy_headers(Request& r, const ProxyTrust& trust);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void apply_proxy_headers(Request& r, const ProxyTrust& trust) {
    // Most requests from a trusted peer carry none of these fields: one pass over the head
    // says so, instead of a lookup of each name.
    bool forwarding = false;
    for (const auto& field : r.headers) {
        const std::string_view name = field.first;
        if ((name.size() == 9 && iequals(name, "forwarded")) ||
            (name.size() >= 15 && name.size() <= 17 && iequals(name.substr(0, 12), "x-forwarded-"))) {
            forwarding = true;
            break;
        }
    }
    if (!forwarding) return;
    const auto xff = r.headers.get("x-forwarded-for");
    const auto xfp = r.headers.get("x-forwarded-proto");
    const auto xfh = r.headers.get("x-forwarded-host");
    if (xff || xfp || xfh) {
        if (xfp && r.headers.count("x-forwarded-proto") == 1)
            if (std::string_view scheme = forwarded_scheme(*xfp); !scheme.empty()) rescheme(r, scheme);
        if (xfh && r.headers.count("x-forwarded-host") == 1) {
            std::string_view host = trim_ows(*xfh);
            if (host.find(',') == std::string_view::npos) apply_forwarded_host(r, std::string(host));
        }
        if (xff) {
            std::vector<std::string_view> hops = forwarded_list(r.headers, "x-forwarded-for");
            std::size_t chosen = 0;
            // Empty entries (", ,") are skipped as uvicorn ends up doing; the rest must be addresses.
            std::vector<std::string_view> kept;
            for (std::string_view h : hops)
                if (!h.empty()) kept.push_back(h);
            ForwardedNode node;
            if (pick_client(kept.size(), trust, [&](std::size_t i, ForwardedNode& n) { return parse_node(kept[i], n, false); }, chosen) &&
                parse_node(kept[chosen], node, false)) {
                r.client_address = std::move(node.address);
                r.client_port = 0;  // X-Forwarded-For has lost the client's port (uvicorn gives 0)
            }
        }
        return;
    }
    if (!r.headers.contains("forwarded")) return;
    std::vector<ForwardedElement> elements;
    if (!parse_forwarded(r.headers, elements)) return;
    std::size_t chosen = 0;
    auto node_of = [&](std::size_t i, ForwardedNode& n) {
        if (!elements[i].has_for) {  // a hop that did not say who came: not a trusted proxy
            n = {};
            n.address = "unknown";
            return true;
        }
        return parse_node(elements[i].for_, n, true);
    };
    if (!pick_client(elements.size(), trust, node_of, chosen)) return;
    const ForwardedElement& e = elements[chosen];
    if (!e.proto.empty())
        if (std::string_view scheme = forwarded_scheme(e.proto); !scheme.empty()) rescheme(r, scheme);
    if (!e.host.empty()) apply_forwarded_host(r, e.host);
    ForwardedNode node;
    if (e.has_for && parse_node(e.for_, node, true)) {
        r.client_address = std::move(node.address);
        r.client_port = node.port;
    }
}
#endif

#endif  // FASTAPI_INTERNALS
}  // namespace fastapi::detail
