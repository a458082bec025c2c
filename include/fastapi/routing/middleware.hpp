// middleware: code around every request (FastAPI's app.add_middleware), and the built-in
// CORS, GZip and TrustedHost middleware, as Starlette's.
//
// A middleware is a coroutine in Starlette's shape (FastAPI's @app.middleware("http")): it
// receives the request and `call_next`, awaits what it likes before and after, and returns
// the response; one that does not call call_next answers without the handler (a cache):
//
//   app.middleware([](Request& req, CallNext call_next) -> asio::awaitable<Response> {
//       Response res = co_await call_next(req);
//       res.headers.set("x-app", "1");
//       co_return res;
//   });
//
// Or, for what needs no waiting, two halves that run without a coroutine: `before` when the
// request has been read (return false to answer at once with the response it filled), `after`
// once the response is complete. A stack of halves only keeps the synchronous path (no
// coroutine frame). Either way the last added is the outermost, as in Starlette: its
// `before` runs first and its `after` last. A middleware that answers early is seen only by
// those outside it. Handler errors (HTTPException, validation, 500) are responses by the
// time a middleware sees them; an exception a middleware throws is answered the same way.
//
//   app.add_middleware({.after = [](const Request&, Response& res) { res.headers.set("x-app", "1"); }});
//   app.add_middleware(CORSMiddleware({.allow_origins = {"https://example.com"}}));
//
// GZip needs zlib: define FASTAPI_WITH_ZLIB and link with -lz (CMake: ZLIB::ZLIB).
// Relies on http_types (its body_source, for streamed bodies) and Asio's awaitable.
#pragma once
#include "../http/http_types.hpp"
#include "errors.hpp"  // plain_answer

#include <algorithm>    // sort, find
#include <functional>   // function
#include <memory>       // shared_ptr
#include <string>       // string
#include <string_view>  // string_view
#include <vector>       // vector

#ifdef FASTAPI_WITH_ZLIB
#include <zlib.h>  // deflate (GZipMiddleware)
#endif

namespace fastapi {

// The rest of the stack, for a coroutine middleware: `co_await call_next(req)` runs the
// middleware inside this one, the route and its handler, and gives their response. Call it
// at most once, with the request the middleware received.
class CallNext {
public:
    using Step = asio::awaitable<Response> (*)(void* app, void* exchange, std::size_t layers, Request& req);
    CallNext(Step step, void* app, void* exchange, std::size_t layers) noexcept
        : step_(step), app_(app), exchange_(exchange), layers_(layers) {}
    asio::awaitable<Response> operator()(Request& req) const { return step_(app_, exchange_, layers_, req); }

private:
    Step step_;
    void* app_;
    void* exchange_;
    std::size_t layers_;  // the middleware inside this one
};

struct Middleware {
    // A coroutine around the rest of the stack; set it alone, without before/after.
    std::function<asio::awaitable<Response>(Request& req, CallNext call_next)> dispatch{};
    // Before routing; return false to answer with `res` as it is (later middleware and the
    // handler are skipped).
    std::function<bool(Request& req, Response& res)> before{};
    // Once the response is complete.
    std::function<void(const Request& req, Response& res)> after{};
    // `before` reads only the request's head (method, target, headers), never its body: the
    // server may then run it, and the route's dependencies that also read only the head, as
    // soon as the header section is in, and answer a failing one without reading the body.
    bool head_only = false;
};

namespace detail {
FASTAPI_DECL std::string lowered(std::string_view s);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string lowered(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = ascii_lower(c);
    return out;
}
#endif
FASTAPI_DECL void add_vary(Response& res, std::string_view value);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void add_vary(Response& res, std::string_view value) {
    auto existing = res.headers.get("vary");
    std::string v = existing ? std::string(*existing) + ", " + std::string(value) : std::string(value);
    res.headers.set("vary", v);
}
#endif
}  // namespace detail

// --- CORS ---

struct CORSOptions {
    std::vector<std::string> allow_origins{};   // "*" for any
    std::vector<std::string> allow_methods = {"GET"};  // "*" for any
    std::vector<std::string> allow_headers{};   // "*" for any
    bool allow_credentials = false;
    std::vector<std::string> expose_headers{};
    int max_age = 600;
};

// Starlette's CORSMiddleware: answers preflight requests (OPTIONS with
// Access-Control-Request-Method) itself, and adds the CORS headers to other responses to
// requests that carry an Origin.
class CORSMiddleware : public Middleware {
public:
    explicit CORSMiddleware(CORSOptions options);

private:
    struct Config;
};

#if FASTAPI_DEFINITIONS
struct CORSMiddleware::Config {
    CORSOptions o;
    bool all_origins = false, all_headers = false, explicit_origin = true;
    std::string allowed_headers_text, methods_text, expose_text;
    std::vector<std::string> allowed_headers_lower;

    bool origin_allowed(std::string_view origin) const {
        if (all_origins) return true;
        return std::find(o.allow_origins.begin(), o.allow_origins.end(), origin) != o.allow_origins.end();
    }

    bool before(Request& req, Response& res) const {
        auto origin = req.headers.get("origin");
        auto requested_method = req.headers.get("access-control-request-method");
        if (!origin || req.method != "OPTIONS" || !requested_method) return true;
        // A preflight request: answered here.
        res.headers.clear();
        std::vector<std::string> failures;
        if (origin_allowed(*origin)) {
            if (explicit_origin) res.headers.set("access-control-allow-origin", *origin);
            else res.headers.set("access-control-allow-origin", "*");
        } else {
            failures.push_back("origin");
            if (!explicit_origin) res.headers.set("access-control-allow-origin", "*");
        }
        if (explicit_origin) detail::add_vary(res, "Origin");
        res.headers.set("access-control-allow-methods", methods_text);
        res.headers.set("access-control-max-age", std::to_string(o.max_age));
        auto requested_headers = req.headers.get("access-control-request-headers");
        if (all_headers && requested_headers) {
            res.headers.set("access-control-allow-headers", *requested_headers);
        } else {
            if (!all_headers) res.headers.set("access-control-allow-headers", allowed_headers_text);
            if (requested_headers) {
                std::string_view rest = *requested_headers;
                while (!rest.empty()) {
                    auto comma = rest.find(',');
                    std::string_view h = rest.substr(0, comma);
                    while (!h.empty() && h.front() == ' ') h.remove_prefix(1);
                    while (!h.empty() && h.back() == ' ') h.remove_suffix(1);
                    std::string lower = detail::lowered(h);
                    if (std::find(allowed_headers_lower.begin(), allowed_headers_lower.end(), lower) ==
                        allowed_headers_lower.end()) {
                        failures.push_back("headers");
                        break;
                    }
                    if (comma == std::string_view::npos) break;
                    rest.remove_prefix(comma + 1);
                }
            }
        }
        if (o.allow_credentials) res.headers.set("access-control-allow-credentials", "true");
        if (std::find(o.allow_methods.begin(), o.allow_methods.end(), *requested_method) == o.allow_methods.end())
            failures.insert(failures.begin() + (failures.empty() || failures[0] != "origin" ? 0 : 1), "method");
        if (!failures.empty()) {
            std::string text = "Disallowed CORS ";
            for (std::size_t i = 0; i < failures.size(); ++i) text += (i ? ", " : "") + failures[i];
            detail::plain_answer(res, 400, text);
        } else {
            detail::plain_answer(res, 200, "OK");
        }
        return false;
    }

    void after(const Request& req, Response& res) const {
        auto origin = req.headers.get("origin");
        if (!origin) return;
        if (req.method == "OPTIONS" && req.headers.contains("access-control-request-method")) return;  // preflight
        if (all_origins && !o.allow_credentials) res.headers.set("access-control-allow-origin", "*");
        if (o.allow_credentials) res.headers.set("access-control-allow-credentials", "true");
        if (!expose_text.empty()) res.headers.set("access-control-expose-headers", expose_text);
        const bool has_cookie = req.headers.contains("cookie");
        if ((all_origins && has_cookie) || (!all_origins && origin_allowed(*origin))) {
            res.headers.set("access-control-allow-origin", *origin);
            detail::add_vary(res, "Origin");
        }
    }
};

FASTAPI_DECL CORSMiddleware::CORSMiddleware(CORSOptions options) {
    auto c = std::make_shared<Config>();
    auto has_star = [](const std::vector<std::string>& v) { return std::find(v.begin(), v.end(), "*") != v.end(); };
    c->o = std::move(options);
    c->all_origins = has_star(c->o.allow_origins);
    c->all_headers = has_star(c->o.allow_headers);
    if (has_star(c->o.allow_methods)) c->o.allow_methods = {"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"};
    c->explicit_origin = !c->all_origins || c->o.allow_credentials;
    // The safelisted headers are always allowed (sorted, as Starlette lists them).
    std::vector<std::string> headers = {"Accept", "Accept-Language", "Content-Language", "Content-Type"};
    for (auto& h : c->o.allow_headers)
        if (std::find(headers.begin(), headers.end(), h) == headers.end()) headers.push_back(h);
    std::sort(headers.begin(), headers.end());
    for (auto& h : headers) {
        c->allowed_headers_text += (c->allowed_headers_text.empty() ? "" : ", ") + h;
        c->allowed_headers_lower.push_back(detail::lowered(h));
    }
    for (auto& m : c->o.allow_methods) c->methods_text += (c->methods_text.empty() ? "" : ", ") + m;
    for (auto& h : c->o.expose_headers) c->expose_text += (c->expose_text.empty() ? "" : ", ") + h;
    before = [c](Request& req, Response& res) { return c->before(req, res); };
    after = [c](const Request& req, Response& res) { c->after(req, res); };
    head_only = true;
}
#endif

// --- TrustedHost ---

struct TrustedHostOptions {
    std::vector<std::string> allowed_hosts = {"*"};  // "example.com", "*.example.com", "*"
    bool www_redirect = true;  // a request for example.com when only www.example.com is allowed
};

// Starlette's TrustedHostMiddleware: requests whose Host is not allowed answer 400
// "Invalid host header" (guards against Host header attacks).
class TrustedHostMiddleware : public Middleware {
public:
    explicit TrustedHostMiddleware(TrustedHostOptions options) {
        for (auto& h : options.allowed_hosts)
            if (h.starts_with("*") && h != "*" && !h.starts_with("*."))
                throw std::invalid_argument("fastapi: a wildcard host must look like '*.example.com'");
        auto o = std::make_shared<TrustedHostOptions>(std::move(options));
        head_only = true;
        before = [o](Request& req, Response& res) {
            const auto& allowed = o->allowed_hosts;
            if (std::find(allowed.begin(), allowed.end(), "*") != allowed.end()) return true;
            std::string host(req.headers.get("host").value_or(""));
            // Without the port; an IPv6 literal keeps its brackets.
            if (auto colon = host.rfind(':'); colon != std::string::npos && host.find(']', colon) == std::string::npos)
                host.resize(colon);
            host = detail::lowered(host);
            // "*" is a pattern's, never a host's: Host: *.example.com must not equal the pattern.
            if (host.find('*') != std::string::npos) {
                detail::plain_answer(res, 400, "Invalid host header");
                return false;
            }
            bool www_found = false;
            for (auto& pattern : allowed) {
                if (detail::iequals(host, pattern) ||
                    (pattern.starts_with("*") && host.size() > pattern.size() - 1 &&
                     detail::iequals(std::string_view(host).substr(host.size() - (pattern.size() - 1)),
                                     std::string_view(pattern).substr(1))))
                    return true;
                if (detail::iequals(pattern, "www." + host)) www_found = true;
            }
            if (o->www_redirect && www_found) {
                res.status = 307;
                res.body.clear();
                std::string target = detail::root_path_prefix(req) + (req.raw_path.empty() ? req.path : req.raw_path);
                if (!req.query_string.empty()) target += "?" + req.query_string;
                res.headers.set("location", req.scheme + "://www." + std::string(req.headers.get("host").value_or("")) + target);
                return false;
            }
            detail::plain_answer(res, 400, "Invalid host header");
            return false;
        };
    }
};

// --- GZip ---

struct GZipOptions {
    std::size_t minimum_size = 500;  // smaller bodies are sent as they are
    int compresslevel = 9;
};

#ifdef FASTAPI_WITH_ZLIB
namespace detail {
FASTAPI_DECL bool gzip_compress(const std::string& in, std::string& out, int level);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool gzip_compress(const std::string& in, std::string& out, int level) {
    z_stream zs{};
    if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return false;
    out.resize(deflateBound(&zs, static_cast<uLong>(in.size())) + 32);
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs.avail_in = static_cast<uInt>(in.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    int rc = deflate(&zs, Z_FINISH);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    return rc == Z_STREAM_END;
}
#endif
// A streamed body compressed as it is produced: each chunk the producer writes is deflated
// and flushed (Z_SYNC_FLUSH, as Starlette's GZipResponder flushes per message), so the client
// gets it at once and nothing is held beyond one chunk; the gzip trailer follows the last.
// A template so that its coroutines are compiled only where gzip_stream is (core/config.hpp).
#if FASTAPI_DEFINITIONS
template <int = 0>
class GzipSink final : public StreamSink {
public:
    GzipSink(StreamWriter& out, int level) : out_(out) {
        if (deflateInit2(&zs_, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
            throw std::runtime_error("fastapi: GZipMiddleware cannot start a deflate stream");
    }
    ~GzipSink() override { deflateEnd(&zs_); }
    GzipSink(const GzipSink&) = delete;
    GzipSink& operator=(const GzipSink&) = delete;
    asio::awaitable<void> write(std::string_view bytes) override {
        if (!bytes.empty()) co_await deflate_out(bytes, Z_SYNC_FLUSH);
    }
    asio::awaitable<void> finish() { co_await deflate_out({}, Z_FINISH); }
    void on_server_stop(std::function<void()> f) override { out_.on_server_stop(std::move(f)); }

private:
    asio::awaitable<void> deflate_out(std::string_view in, int flush) {
        constexpr std::size_t room = 16 * 1024;
        zs_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
        zs_.avail_in = static_cast<uInt>(in.size());
        for (;;) {
            buffer_.resize(room);
            zs_.next_out = reinterpret_cast<Bytef*>(buffer_.data());
            zs_.avail_out = static_cast<uInt>(room);
            const int rc = deflate(&zs_, flush);
            if (rc == Z_STREAM_ERROR) throw std::runtime_error("fastapi: GZipMiddleware's deflate failed");
            const std::size_t n = room - zs_.avail_out;
            if (n != 0) co_await out_.write(std::string_view(buffer_.data(), n));
            if (flush == Z_FINISH ? rc == Z_STREAM_END : (zs_.avail_out != 0 && zs_.avail_in == 0)) break;
        }
    }
    StreamWriter& out_;
    z_stream zs_{};
    std::string buffer_;
};
#endif

// The producer `inner`, compressed: its length is no longer known (chunked framing).
FASTAPI_CORO_DECL std::shared_ptr<BodyProducer> gzip_stream(std::shared_ptr<BodyProducer> inner, int level);
#if FASTAPI_DEFINITIONS
FASTAPI_CORO_DEF std::shared_ptr<BodyProducer> gzip_stream(std::shared_ptr<BodyProducer> inner, int level) {
    auto p = std::make_shared<BodyProducer>();
    p->produce = [inner = std::move(inner), level](StreamWriter& out) -> asio::awaitable<void> {
        GzipSink<> sink(out, level);
        StreamWriter writer(sink);
        co_await inner->produce(writer);
        co_await sink.finish();
    };
    return p;
}
#endif

// A qvalue (RFC 9110 §12.4.2: "0" ["." 0*3DIGIT] / "1" ["." 0*3("0")]) in thousandths; -1
// when it is not one.
FASTAPI_DECL int parse_qvalue(std::string_view v) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL int parse_qvalue(std::string_view v) noexcept {
    if (v.empty() || (v[0] != '0' && v[0] != '1') || v.size() > 5 || (v.size() > 1 && v[1] != '.'))
        return -1;
    int q = v[0] == '1' ? 1000 : 0;
    int scale = 100;
    for (char c : v.substr(std::min<std::size_t>(2, v.size()))) {
        if (c < '0' || c > '9') return -1;
        q += (c - '0') * scale;
        scale /= 10;
    }
    return q <= 1000 ? q : -1;
}
#endif

// RFC 9110 §12.5.3: gzip (or x-gzip) named with a weight above 0, or, when it is not named,
// "*" with one. No header, "gzip;q=0" (whatever "*" says) and "*;q=0" refuse it; an entry
// whose weight is malformed is ignored.
FASTAPI_DECL bool accepts_gzip(const Request& req);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool accepts_gzip(const Request& req) {
    int gzip = -1, any = -1;  // the best weight named, in thousandths; -1 when not named
    for (std::string_view line : req.headers.get_all("accept-encoding")) {
        while (!line.empty()) {
            auto comma = line.find(',');
            std::string_view item = line.substr(0, comma);
            line = comma == std::string_view::npos ? std::string_view{} : line.substr(comma + 1);
            auto semi = item.find(';');
            std::string_view coding = trim_ows(item.substr(0, semi));
            int q = 1000;
            for (std::string_view params = semi == std::string_view::npos ? std::string_view{} : item.substr(semi + 1);
                 !params.empty();) {
                auto next = params.find(';');
                std::string_view param = trim_ows(params.substr(0, next));
                params = next == std::string_view::npos ? std::string_view{} : params.substr(next + 1);
                if (param.size() >= 2 && (param[0] == 'q' || param[0] == 'Q') && param[1] == '=') q = parse_qvalue(param.substr(2));
            }
            if (q < 0) continue;
            if (iequals(coding, "gzip") || iequals(coding, "x-gzip")) gzip = std::max(gzip, q);
            else if (coding == "*") any = std::max(any, q);
        }
    }
    return gzip >= 0 ? gzip > 0 : any > 0;
}
#endif
}  // namespace detail

// Starlette's GZipMiddleware: bodies of at least minimum_size bytes are gzip-compressed for
// clients that accept it (Content-Encoding: gzip, Vary: Accept-Encoding). A StreamingResponse
// is compressed chunk by chunk as it is produced (unless its declared length is below
// minimum_size), and sent chunked. Responses already encoded, files and server-sent events
// are sent as they are.
class GZipMiddleware : public Middleware {
public:
    FASTAPI_LAZY explicit GZipMiddleware(GZipOptions options = {}) {  // gzip_stream compiled where used
        after = [options](const Request& req, Response& res) {
            if (!detail::accepts_gzip(req) || !res.file_path.empty() || res.headers.contains("content-encoding")) return;
            if (auto ct = res.headers.get("content-type"); ct && ct->starts_with("text/event-stream")) return;
            if (res.stream) {
                if (res.stream->length && *res.stream->length < options.minimum_size) return;
                res.stream = detail::gzip_stream(std::move(res.stream), options.compresslevel);
                res.headers.set("content-encoding", "gzip");
                detail::add_vary(res, "Accept-Encoding");
                return;
            }
            if (res.body.size() < options.minimum_size) return;
            std::string compressed;
            if (!detail::gzip_compress(res.body, compressed, options.compresslevel)) return;
            res.body = std::move(compressed);
            res.headers.set("content-encoding", "gzip");
            detail::add_vary(res, "Accept-Encoding");
        };
    }
};
#endif

}  // namespace fastapi
