// Middleware: order around the handler (last added outermost), answering early, plain,
// blocking and coroutine handlers alike; Starlette's CORS, GZip and TrustedHost middleware;
// exception handlers for HTTPException and RequestValidationError.
#include <doctest/doctest.h>

#include "fastapi.hpp"
#include "support.hpp"

#include <string>
#include <vector>

using namespace fastapi;
using test::hdrs;

namespace {

void refuse_everyone() { throw HTTPException(401, "who?"); }

Middleware tracing(std::vector<std::string>& log, std::string name) {
    return {.before = [&log, name](Request&, Response&) { log.push_back(name + " before"); return true; },
            .after = [&log, name](const Request&, Response& res) {
                log.push_back(name + " after");
                res.headers.add("x-trace", name);
            }};
}
}  // namespace

TEST_CASE("middleware runs around the handler, the last added outermost") {
    App app;
    std::vector<std::string> log;
    app.get("/", [&] { log.push_back("handler"); return 1; });
    app.add_middleware(tracing(log, "inner"));
    app.add_middleware(tracing(log, "outer"));
    TestClient client(app);
    auto r = client.get("/");
    CHECK(log == std::vector<std::string>{"outer before", "inner before", "handler", "inner after", "outer after"});
    CHECK(r.headers.get_all("x-trace") == std::vector<std::string_view>{"inner", "outer"});
}

TEST_CASE("a middleware can answer early; only the middleware outside it sees the response after") {
    App app;
    std::vector<std::string> log;
    app.get("/", [&] { log.push_back("handler"); return 1; });
    app.add_middleware(tracing(log, "inner"));
    app.add_middleware({.before = [](Request& req, Response& res) {
        if (req.headers.contains("x-block")) {
            res.status = 403;
            res.body = "blocked";
            return false;
        }
        return true;
    }});
    app.add_middleware(tracing(log, "outer"));
    TestClient client(app);
    auto r = client.get("/", hdrs({{"x-block", "1"}}));
    CHECK(r.status_code == 403);
    CHECK(r.text == "blocked");
    CHECK(log == std::vector<std::string>{"outer before", "outer after"});
}

TEST_CASE("middleware sees errors, 404s and the responses of blocking and coroutine handlers") {
    App app;
    app.get("/fail", []() -> int { throw HTTPException(418, "teapot"); });
    app.get("/co", []() -> asio::awaitable<int> { co_return 2; });
    app.get("/blocking", [] { return 3; }, {.blocking = true});
    app.add_middleware({.after = [](const Request&, Response& res) {
        res.headers.set("x-status-seen", std::to_string(res.status));
    }});
    TestClient client(app);
    CHECK(client.get("/fail").header("x-status-seen") == "418");
    CHECK(client.get("/nowhere").header("x-status-seen") == "404");
    auto co = client.get("/co");
    CHECK(co.text == "2");
    CHECK(co.header("x-status-seen") == "200");
    CHECK(client.get("/blocking").header("x-status-seen") == "200");
}

TEST_CASE("CORS: a preflight from an allowed origin is answered 200 with the allowed methods and headers") {
    App app;
    app.post("/items/", [] { return 1; });
    app.add_middleware(CORSMiddleware({.allow_origins = {"https://example.com"},
                                       .allow_methods = {"GET", "POST"},
                                       .allow_headers = {"X-Token"},
                                       .allow_credentials = true,
                                       .max_age = 300}));
    TestClient client(app);
    auto r = client.options("/items/", hdrs({{"origin", "https://example.com"},
                                              {"access-control-request-method", "POST"},
                                              {"access-control-request-headers", "x-token, content-type"}}));
    CHECK(r.status_code == 200);
    CHECK(r.text == "OK");
    CHECK(r.header("access-control-allow-origin") == "https://example.com");
    CHECK(r.header("access-control-allow-methods") == "GET, POST");
    CHECK(r.header("access-control-allow-headers") == "Accept, Accept-Language, Content-Language, Content-Type, X-Token");
    CHECK(r.header("access-control-max-age") == "300");
    CHECK(r.header("access-control-allow-credentials") == "true");
    CHECK(r.header("vary") == "Origin");

    auto bad = client.options("/items/", hdrs({{"origin", "https://evil.com"}, {"access-control-request-method", "PUT"},
                                                {"access-control-request-headers", "x-other"}}));
    CHECK(bad.status_code == 400);
    CHECK(bad.text == "Disallowed CORS origin, method, headers");
}

TEST_CASE("CORS: simple requests get Access-Control-Allow-Origin, with Vary: Origin unless it is *") {
    App app;
    app.get("/", [] { return 1; });
    app.add_middleware(CORSMiddleware({.allow_origins = {"https://example.com"}, .expose_headers = {"X-Total"}}));
    TestClient client(app);
    auto r = client.get("/", hdrs({{"origin", "https://example.com"}}));
    CHECK(r.header("access-control-allow-origin") == "https://example.com");
    CHECK(r.header("vary") == "Origin");
    CHECK(r.header("access-control-expose-headers") == "X-Total");
    CHECK_FALSE(client.get("/", hdrs({{"origin", "https://evil.com"}})).header("access-control-allow-origin"));
    CHECK_FALSE(client.get("/").header("access-control-allow-origin"));  // no Origin: untouched

    App any;
    any.get("/", [] { return 1; });
    any.add_middleware(CORSMiddleware({.allow_origins = {"*"}}));
    TestClient any_client(any);
    auto star = any_client.get("/", hdrs({{"origin", "https://a.org"}}));
    CHECK(star.header("access-control-allow-origin") == "*");
    CHECK_FALSE(star.header("vary"));
    auto pre = any_client.options("/", hdrs({{"origin", "https://a.org"}, {"access-control-request-method", "GET"}}));
    CHECK(pre.status_code == 200);
    CHECK(pre.header("access-control-allow-origin") == "*");
}

TEST_CASE("TrustedHost: other hosts answer 400 Invalid host header; wildcards match subdomains") {
    App app;
    app.get("/", [] { return 1; });
    app.add_middleware(TrustedHostMiddleware({.allowed_hosts = {"example.com", "*.example.org"}}));
    TestClient client(app);
    CHECK(client.get("/", hdrs({{"host", "example.com"}})).status_code == 200);
    CHECK(client.get("/", hdrs({{"host", "example.com:8000"}})).status_code == 200);
    CHECK(client.get("/", hdrs({{"host", "api.example.org"}})).status_code == 200);
    auto bad = client.get("/", hdrs({{"host", "evil.com"}}));
    CHECK(bad.status_code == 400);
    CHECK(bad.text == "Invalid host header");
    CHECK(client.get("/", hdrs({{"host", "example.org"}})).status_code == 400);
    CHECK(client.get("/", hdrs({{"host", "*.example.org"}})).status_code == 400);  // the pattern itself is no host
    CHECK(client.get("/", hdrs({{"host", "*.api.example.org"}})).status_code == 400);

    App www;
    www.get("/", [] { return 1; });
    www.add_middleware(TrustedHostMiddleware({.allowed_hosts = {"www.example.com"}}));
    auto redirect = TestClient(www).get("/?a=1", hdrs({{"host", "example.com"}}));
    CHECK(redirect.status_code == 307);
    CHECK(redirect.header("location") == "http://www.example.com/?a=1");
}

TEST_CASE("TrustedHost's www redirect keeps the request's scheme") {
    TrustedHostMiddleware trusted({.allowed_hosts = {"www.example.com"}});
    auto location = [&](std::string scheme) {
        Request req;
        req.method = "GET";
        req.path = req.raw_path = "/p";
        req.query_string = "a=1";
        req.headers.set("host", "example.com:8443");
        req.scheme = std::move(scheme);
        Response res;
        CHECK_FALSE(trusted.before(req, res));
        CHECK(res.status == 307);
        return std::string(res.headers.get("location").value_or(""));
    };
    CHECK(location("https") == "https://www.example.com:8443/p?a=1");
    CHECK(location("http") == "http://www.example.com:8443/p?a=1");
    CHECK(Request{}.scheme == "http");  // what the server's plain TCP sets
}

TEST_CASE("TrustedHost over a real socket: an HTTP/1.0 absolute-form target's authority is its host") {
    App app;
    app.get("/", [] { return 1; });
    app.add_middleware(TrustedHostMiddleware({.allowed_hosts = {"example.com"}}));
    test::LiveServer server(app);
    auto ask = [&](const char* request) {
        test::RawClient c(server.port());
        c.send(request);
        return test::status_of(c.read_response());
    };
    CHECK(ask("GET http://example.com/ HTTP/1.0\r\n\r\n") == 200);
    CHECK(ask("GET http://evil.com/ HTTP/1.0\r\n\r\n") == 400);
    CHECK(ask("GET http://evil.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n") == 400);  // the target's authority counts
    CHECK(ask("GET / HTTP/1.0\r\n\r\n") == 400);  // no host at all
}

#ifdef FASTAPI_WITH_ZLIB
TEST_CASE("GZip compresses large bodies for clients that accept it, once, and says Vary: Accept-Encoding") {
    App app;
    app.get("/big", [] { return PlainTextResponse(std::string(1000, 'x')); });
    app.get("/small", [] { return PlainTextResponse("tiny"); });
    app.get("/encoded", [] {
        PlainTextResponse r(std::string(1000, 'y'));
        r.headers.set("content-encoding", "br");
        return r;
    });
    app.add_middleware(GZipMiddleware());
    TestClient client(app);
    auto big = client.get("/big", hdrs({{"accept-encoding", "gzip, deflate"}}));
    CHECK(big.header("content-encoding") == "gzip");
    CHECK(big.header("vary") == "Accept-Encoding");
    CHECK(big.text.size() < 100);
    CHECK(static_cast<unsigned char>(big.text[0]) == 0x1f);  // the gzip magic
    CHECK(static_cast<unsigned char>(big.text[1]) == 0x8b);
    CHECK(client.get("/big").text == std::string(1000, 'x'));  // not asked for
    CHECK_FALSE(client.get("/small", hdrs({{"accept-encoding", "gzip"}})).header("content-encoding"));
    CHECK(client.get("/encoded", hdrs({{"accept-encoding", "gzip"}})).header("content-encoding") == "br");
}

TEST_CASE("GZip honours Accept-Encoding's weights: q=0 refuses gzip, * stands for what is not named") {
    App app;
    app.get("/big", [] { return PlainTextResponse(std::string(1000, 'x')); });
    app.add_middleware(GZipMiddleware());
    TestClient client(app);
    auto gzipped = [&](std::initializer_list<std::pair<const char*, const char*>> fields) {
        return client.get("/big", hdrs(fields)).header("content-encoding") == "gzip";
    };
    CHECK(gzipped({{"accept-encoding", "gzip"}}));
    CHECK(gzipped({{"accept-encoding", "GZIP;Q=0.5"}}));
    CHECK(gzipped({{"accept-encoding", "gzip;q=0.001"}}));
    CHECK(gzipped({{"accept-encoding", "gzip ; q=1.000"}}));
    CHECK(gzipped({{"accept-encoding", "x-gzip"}}));                     // RFC 9110 §8.4.1.3
    CHECK(gzipped({{"accept-encoding", "*"}}));
    CHECK(gzipped({{"accept-encoding", "br;q=0, *;q=0.1"}}));
    CHECK(gzipped({{"accept-encoding", "gzip, identity;q=0"}}));
    CHECK(gzipped({{"accept-encoding", "identity;q=1, gzip;q=0.5"}}));
    CHECK(gzipped({{"accept-encoding", "deflate"}, {"accept-encoding", "gzip"}}));  // a list over two fields
    CHECK(gzipped({{"accept-encoding", "gzip;q=0"}, {"accept-encoding", "gzip;q=0.8"}}));  // the best weight named

    CHECK_FALSE(gzipped({}));
    CHECK_FALSE(gzipped({{"accept-encoding", ""}}));
    CHECK_FALSE(gzipped({{"accept-encoding", "gzip;q=0"}}));
    CHECK_FALSE(gzipped({{"accept-encoding", "gzip;q=0.000"}}));
    CHECK_FALSE(gzipped({{"accept-encoding", "gzip;q=0, *"}}));       // named beats *
    CHECK_FALSE(gzipped({{"accept-encoding", "*;q=0"}}));
    CHECK_FALSE(gzipped({{"accept-encoding", "identity, *;q=0"}}));
    CHECK_FALSE(gzipped({{"accept-encoding", "identity;q=0"}}));      // gzip is not named, and no *
    CHECK_FALSE(gzipped({{"accept-encoding", "deflate, br"}}));
    CHECK_FALSE(gzipped({{"accept-encoding", "gzipx, xgzip"}}));      // other codings, not a substring match
    CHECK_FALSE(gzipped({{"accept-encoding", "deflate"}, {"accept-encoding", "gzip;q=0"}}));
    CHECK_FALSE(gzipped({{"accept-encoding", "gzip;q=2"}}));          // a malformed weight: the entry is ignored
    CHECK_FALSE(gzipped({{"accept-encoding", "gzip;q=0.0001"}}));
    CHECK_FALSE(gzipped({{"accept-encoding", "gzip;q=1.5"}}));
}
#endif

TEST_CASE("exception handlers replace the rendering of HTTPException and RequestValidationError") {
    App app;
    app.get("/items/{id}", [](Path<"id", int64_t> id) -> int64_t {
        if (*id == 3) throw HTTPException(418, "Nope! I don't like 3.");
        return *id;
    });
    app.exception_handler<HTTPException>([](Request&, const HTTPException& e) {
        return PlainTextResponse("HTTP error: " + e.detail().get<std::string>(), e.status_code());
    });
    app.exception_handler<RequestValidationError>([](Request&, const RequestValidationError& e) {
        return PlainTextResponse("invalid: " + std::to_string(e.errors().size()) + " error(s)", 400);
    });
    TestClient client(app);
    auto teapot = client.get("/items/3");
    CHECK(teapot.status_code == 418);
    CHECK(teapot.text == "HTTP error: Nope! I don't like 3.");
    auto invalid = client.get("/items/x");
    CHECK(invalid.status_code == 400);
    CHECK(invalid.text == "invalid: 1 error(s)");
    CHECK(client.get("/items/5").text == "5");
}

TEST_CASE("exception handlers also render errors raised by dependencies") {
    App app;
    app.get("/", [] { return 1; }, {.dependencies = {Depends<refuse_everyone>{}}});
    app.exception_handler<HTTPException>([](Request&, const HTTPException& e) {
        return PlainTextResponse("custom " + std::to_string(e.status_code()), e.status_code());
    });
    auto r = TestClient(app).get("/");
    CHECK(r.status_code == 401);
    CHECK(r.text == "custom 401");
}
