// Proxy headers (uvicorn's ProxyHeadersMiddleware plus RFC 7239 Forwarded): whose are read
// (forwarded_allow_ips: addresses, CIDR ranges, "*", "unix:", literals), what they set
// (client address and port, scheme, Host, host/port), what is ignored (an untrusted peer,
// malformed or oversized lists), and the redirects and docs that follow from them and from
// root_path. Through TestClient (its peer is "testclient") and a real server on loopback.
#include "support.hpp"

#include <string>

namespace proxy_headers_test {
using fastapi::App;
using fastapi::Request;
using fastapi::ServerOptions;
using fastapi::TestClient;
using fastapi::detail::ProxyTrust;

inline std::string describe(const Request& r) {
    return r.scheme + " " + r.host + ":" + std::to_string(r.port) + " client=" + r.client_address + ":" +
           std::to_string(r.client_port) + " host-header=" + std::string(r.headers.get("host").value_or("")) +
           " root=" + r.root_path;
}

inline App& whoami_app() {
    static App app;
    static bool once = [] {
        app.get("/whoami", [](const Request& r) { return fastapi::PlainTextResponse(describe(r)); });
        app.get("/items/", [] { return fastapi::PlainTextResponse("items"); });
        return true;
    }();
    (void)once;
    return app;
}

inline ServerOptions trusting(std::string ips) {
    ServerOptions o;
    o.forwarded_allow_ips = std::move(ips);
    return o;
}

inline std::string who(TestClient& c, std::initializer_list<std::pair<const char*, const char*>> h) {
    return c.get("/whoami", test::hdrs(h)).text;
}
}  // namespace proxy_headers_test

using namespace proxy_headers_test;

TEST_CASE("proxy headers: forwarded_allow_ips parses addresses, CIDR ranges, '*', 'unix:' and literals") {
    ProxyTrust t("127.0.0.1, ::1, 10.0.0.0/8 ,2001:db8::/32, 192.168.1.7/24, testclient");
    fastapi::detail::IpAddress a;
    auto ip = [&](const char* s) {
        REQUIRE(fastapi::detail::parse_ip(s, a));
        return a;
    };
    CHECK(t.trusts(ip("127.0.0.1")));
    CHECK(t.trusts(ip("::1")));
    CHECK(t.trusts(ip("10.255.0.3")));
    CHECK(!t.trusts(ip("11.0.0.1")));
    CHECK(t.trusts(ip("2001:db8:ffff::1")));
    CHECK(!t.trusts(ip("2001:db9::1")));
    CHECK(t.trusts(ip("192.168.1.200")));  // host bits in the range are masked: 192.168.1.0/24
    CHECK(!t.trusts(ip("192.168.2.1")));
    CHECK(t.trusts(ip("::ffff:10.1.2.3")));  // an IPv4-mapped peer of a dual-stack socket
    CHECK(!t.trusts(ip("::2")));
    CHECK(t.trusts("testclient"));
    CHECK(!t.trusts("otherclient"));
    CHECK(!t.trusts(""));
    CHECK(!t.trusts_unix_peers());
    CHECK(ProxyTrust("unix:").trusts_unix_peers());
    CHECK(ProxyTrust("*").trusts_unix_peers());
    CHECK(ProxyTrust("*").trusts("203.0.113.9"));
    CHECK(ProxyTrust("0.0.0.0/0").trusts(ip("203.0.113.9")));
    CHECK(!ProxyTrust("0.0.0.0/0").trusts(ip("2001:db8::1")));
    // Bad entries are errors that name them, not silently literals as in uvicorn.
    for (const char* bad : {"10.0.0.0/33", "10.0.0.0/", "10.0.0.0/x", "::1/129", "300.1.1.1", "1.2.3", "fe80::zz",
                            "10.0.0.0/8/8", "10.0.0.0/-1", "10.0.0.0/0008"}) {
        CAPTURE(bad);
        CHECK_THROWS_WITH_AS(ProxyTrust{bad}, doctest::Contains((std::string("'") + bad + "'").c_str()), std::invalid_argument);
    }
    CHECK_THROWS_AS(TestClient(whoami_app(), trusting("10.0.0.0/99")), std::invalid_argument);
}

TEST_CASE("proxy headers: X-Forwarded-For/-Proto/-Host from a trusted peer set client, scheme and host") {
    TestClient c(whoami_app(), trusting("testclient"));
    CHECK(who(c, {}) == "http testserver:80 client=testclient:0 host-header=testserver root=");
    CHECK(who(c, {{"X-Forwarded-For", "203.0.113.7"}, {"X-Forwarded-Proto", "https"}}) ==
          "https testserver:443 client=203.0.113.7:0 host-header=testserver root=");
    CHECK(who(c, {{"X-Forwarded-Proto", "WSS"}, {"X-Forwarded-Host", "api.example.com:8443"}}) ==
          "https api.example.com:8443 client=testclient:0 host-header=api.example.com:8443 root=");
    CHECK(who(c, {{"X-Forwarded-Host", "[2001:db8::5]"}, {"X-Forwarded-Proto", "https"}}) ==
          "https 2001:db8::5:443 client=testclient:0 host-header=[2001:db8::5] root=");
    // IPv6 and ports in X-Forwarded-For: the address without brackets, the port dropped (uvicorn).
    CHECK(who(c, {{"X-Forwarded-For", "[2001:db8::1]:4711"}}) ==
          "http testserver:80 client=2001:db8::1:0 host-header=testserver root=");
    CHECK(who(c, {{"X-Forwarded-For", "2001:DB8::A"}}) == "http testserver:80 client=2001:db8::a:0 host-header=testserver root=");
    CHECK(who(c, {{"X-Forwarded-For", "198.51.100.2:5000"}}) ==
          "http testserver:80 client=198.51.100.2:0 host-header=testserver root=");
    // Unknown schemes and bad hosts are ignored; the rest still applies.
    CHECK(who(c, {{"X-Forwarded-Proto", "ftp"}, {"X-Forwarded-For", "203.0.113.7"}}) ==
          "http testserver:80 client=203.0.113.7:0 host-header=testserver root=");
    for (const char* bad : {"evil.com, good.com", "a b", "x:99999", "x:", "[::1", "[1.2.3.4]", "ex@mple", ""}) {
        CAPTURE(bad);
        CHECK(who(c, {{"X-Forwarded-Host", bad}}) == "http testserver:80 client=testclient:0 host-header=testserver root=");
    }
}

TEST_CASE("proxy headers: X-Forwarded-For is walked from the right past trusted proxies") {
    TestClient c(whoami_app(), trusting("testclient, 10.0.0.0/8, ::1"));
    // client -> 10.1.1.1 (a trusted proxy) -> testclient: the client is the right-most untrusted.
    CHECK(who(c, {{"X-Forwarded-For", "198.51.100.9, 203.0.113.7, 10.1.1.1"}}).find("client=203.0.113.7:0") != std::string::npos);
    // Several fields are one list, in order.
    CHECK(who(c, {{"X-Forwarded-For", "198.51.100.9"}, {"X-Forwarded-For", "10.2.2.2, ::1"}}).find("client=198.51.100.9:0") !=
          std::string::npos);
    // Every hop trusted: the left-most is the client (uvicorn).
    CHECK(who(c, {{"X-Forwarded-For", "10.0.0.1, 10.0.0.2"}}).find("client=10.0.0.1:0") != std::string::npos);
    // Empty entries are skipped.
    CHECK(who(c, {{"X-Forwarded-For", " , 203.0.113.7 ,, "}}).find("client=203.0.113.7:0") != std::string::npos);
    // A malformed hop before the client is found: the header is ignored (the peer stays).
    for (const char* bad : {"203.0.113.7, not-an-ip", "999.1.1.1", "[::1", "1.2.3.4:99999", "unknown", "_hidden", "1.2.3.4 5.6.7.8"}) {
        CAPTURE(bad);
        CHECK(who(c, {{"X-Forwarded-For", bad}}).find("client=testclient:0") != std::string::npos);
    }
    // A malformed hop left of the client does not matter: the walk stopped before it.
    CHECK(who(c, {{"X-Forwarded-For", "garbage, 203.0.113.7"}}).find("client=203.0.113.7:0") != std::string::npos);
    // With "*" the left-most, as uvicorn.
    TestClient all(whoami_app(), trusting("*"));
    CHECK(who(all, {{"X-Forwarded-For", "198.51.100.9, 203.0.113.7"}}).find("client=198.51.100.9:0") != std::string::npos);
}

TEST_CASE("proxy headers: hostile lists are bounded and ignored, never slow") {
    TestClient c(whoami_app(), trusting("testclient, 10.0.0.0/8"));
    std::string many;
    for (int i = 0; i < 2000; ++i) many += "10.0.0." + std::to_string(i % 250) + ", ";
    many += "10.0.0.1";
    // More hops than FASTAPI_MAX_FORWARDED_HOPS: ignored, not walked.
    CHECK(who(c, {{"X-Forwarded-For", many.c_str()}}).find("client=testclient:0") != std::string::npos);
    std::string commas(30000, ',');
    CHECK(who(c, {{"X-Forwarded-For", commas.c_str()}}).find("client=testclient:0") != std::string::npos);
    std::string fwd;
    for (int i = 0; i < 500; ++i) fwd += "for=10.0.0.1;proto=https, ";
    fwd += "for=203.0.113.7";
    CHECK(who(c, {{"Forwarded", fwd.c_str()}}).find("client=testclient:0") != std::string::npos);
    std::string pairs = "for=203.0.113.7";
    for (int i = 0; i < 100; ++i) pairs += ";x" + std::to_string(i) + "=1";
    CHECK(who(c, {{"Forwarded", pairs.c_str()}}).find("client=testclient:0") != std::string::npos);
    std::string quoted = "for=\"" + std::string(5000, 'a');
    CHECK(who(c, {{"Forwarded", quoted.c_str()}}).find("client=testclient:0") != std::string::npos);
    // Control bytes never reach a header the app echoes: X-Forwarded-Host with a tab is refused.
    CHECK(who(c, {{"X-Forwarded-Host", "a\tb"}}).find("host-header=testserver") != std::string::npos);
}

TEST_CASE("proxy headers: from an untrusted peer they are ignored (no spoofing)") {
    TestClient c(whoami_app(), trusting("127.0.0.1, ::1"));  // the default: TestClient's peer is not in it
    const std::string plain = "http testserver:80 client=testclient:0 host-header=testserver root=";
    CHECK(who(c, {{"X-Forwarded-For", "1.2.3.4"}, {"X-Forwarded-Proto", "https"}, {"X-Forwarded-Host", "evil.com"}}) == plain);
    CHECK(who(c, {{"Forwarded", "for=1.2.3.4;proto=https;host=evil.com"}}) == plain);
    ServerOptions off = trusting("*");
    off.proxy_headers = false;  // --no-proxy-headers
    TestClient c2(whoami_app(), off);
    CHECK(who(c2, {{"X-Forwarded-For", "1.2.3.4"}}) == plain);

    // Over a real socket: the loopback peer is trusted by default, another peer is not.
    App& app = whoami_app();
    {
        ServerOptions o = trusting("10.0.0.0/8");  // loopback not trusted
        test::LiveServer s(app, o);
        test::RawClient rc(s.port());
        rc.send("GET /whoami HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.2.3.4\r\nX-Forwarded-Proto: https\r\n\r\n");
        std::string body = test::body_of(rc.read_response());
        CHECK(body.find("http a:80 client=127.0.0.1:") == 0);
    }
    {
        test::LiveServer s(app);  // forwarded_allow_ips empty: $FORWARDED_ALLOW_IPS, else 127.0.0.1,::1
        if (!std::getenv("FORWARDED_ALLOW_IPS")) {
            test::RawClient rc(s.port());
            rc.send("GET /whoami HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.2.3.4\r\nX-Forwarded-Proto: https\r\n\r\n");
            CHECK(test::body_of(rc.read_response()) == "https a:443 client=1.2.3.4:0 host-header=a root=");
            // The next request on the same connection, without the headers: the connection's own again.
            rc.send("GET /whoami HTTP/1.1\r\nHost: a\r\n\r\n");
            CHECK(test::body_of(rc.read_response()).find("http a:80 client=127.0.0.1:") == 0);
        }
    }
}

TEST_CASE("proxy headers: RFC 7239 Forwarded, and X-Forwarded-* winning over it") {
    TestClient c(whoami_app(), trusting("testclient, 10.0.0.0/8"));
    CHECK(who(c, {{"Forwarded", "for=192.0.2.60;proto=https;host=shop.example"}}) ==
          "https shop.example:443 client=192.0.2.60:0 host-header=shop.example root=");
    CHECK(who(c, {{"Forwarded", "For=\"[2001:db8:cafe::17]:4711\";Proto=HTTPS"}}) ==
          "https testserver:443 client=2001:db8:cafe::17:4711 host-header=testserver root=");
    // Several elements: walked from the right past trusted proxies; proto and host of that hop.
    CHECK(who(c, {{"Forwarded", "for=198.51.100.1;proto=http, for=203.0.113.7;proto=https;host=\"a.example:8443\", for=10.0.0.2"}}) ==
          "https a.example:8443 client=203.0.113.7:0 host-header=a.example:8443 root=");
    CHECK(who(c, {{"Forwarded", "for=198.51.100.1"}, {"Forwarded", "for=10.9.9.9;proto=https"}}).find("client=198.51.100.1:0") !=
          std::string::npos);
    // Obfuscated identifiers and "unknown" are the client as the proxy names it.
    CHECK(who(c, {{"Forwarded", "for=_hidden;proto=https"}}).find("https testserver:443 client=_hidden:0") == 0);
    CHECK(who(c, {{"Forwarded", "for=\"_gazonk:_port\""}}).find("client=_gazonk:0") != std::string::npos);
    CHECK(who(c, {{"Forwarded", "for=unknown, for=10.0.0.1"}}).find("client=unknown:0") != std::string::npos);
    CHECK(who(c, {{"Forwarded", "for=\"quoted\\\"escape\""}}).find("client=testclient:0") != std::string::npos);
    // Malformed: ignored whole.
    for (const char* bad : {"for=", "for", "for=1.2.3.4;", "for=1.2.3.4,", "=x", "for=\"1.2.3.4", "for=[::1]", "for=1.2.3.4 x",
                            "for=\"[::1\"", "for=\"[1.2.3.4]\""}) {
        CAPTURE(bad);
        CHECK(who(c, {{"Forwarded", bad}}) == "http testserver:80 client=testclient:0 host-header=testserver root=");
    }
    // With any X-Forwarded-* header, Forwarded is ignored: proxies that set X-Forwarded-* pass a
    // client's own Forwarded through untouched.
    CHECK(who(c, {{"Forwarded", "for=1.2.3.4;proto=https"}, {"X-Forwarded-For", "203.0.113.7"}}) ==
          "http testserver:80 client=203.0.113.7:0 host-header=testserver root=");
}

TEST_CASE("proxy headers: redirects the framework makes use the forwarded scheme and host, and root_path") {
    ServerOptions o = trusting("testclient");
    TestClient c(whoami_app(), o);
    auto r = c.get("/items", test::hdrs({{"X-Forwarded-Proto", "https"}, {"X-Forwarded-Host", "shop.example"}}));
    CHECK(r.status_code == 307);
    CHECK(r.header("location") == "https://shop.example/items/");
    o.root_path = "/api";
    TestClient under(whoami_app(), o);
    r = under.get("/items?page=2", test::hdrs({{"X-Forwarded-Proto", "https"}, {"Host", "shop.example"}}));
    CHECK(r.header("location") == "https://shop.example/api/items/?page=2");
    CHECK(under.get("/whoami").text == "http testserver:80 client=testclient:0 host-header=testserver root=/api");

    // TrustedHost checks the forwarded Host, and its www redirect keeps scheme and prefix.
    App app;
    app.add_middleware(fastapi::TrustedHostMiddleware({.allowed_hosts = {"www.example.com"}}));
    app.get("/x", [] { return "x"; });
    TestClient th(app, o);
    r = th.get("/x?q=1", test::hdrs({{"X-Forwarded-Proto", "https"}, {"X-Forwarded-Host", "example.com"}}));
    CHECK(r.status_code == 307);
    CHECK(r.header("location") == "https://www.example.com/api/x?q=1");
    CHECK(th.get("/x", test::hdrs({{"X-Forwarded-Host", "www.example.com"}})).status_code == 200);
    CHECK(th.get("/x", test::hdrs({{"X-Forwarded-Host", "evil.com"}})).status_code == 400);
}

TEST_CASE("root_path: the document lists it in servers, and the docs pages load root_path + openapi_url") {
    ServerOptions o;
    o.root_path = "/api";
    {
        App app;
        app.get("/items/{id}", [](fastapi::Path<"id", int> id) { return id.value; });
        TestClient c(app, o);
        auto text = c.get("/openapi.json").text;
        auto doc = c.get("/openapi.json").json();
        // FastAPI's place and shape: after info, before paths.
        CHECK(text.find(R"("servers":[{"url":"/api"}],"paths":{)") != std::string::npos);
        CHECK(doc.get("paths").contains("/items/{id}"));  // the routes stay unprefixed
        auto docs = c.get("/docs").text;
        CHECK(docs.find("url: '/api/openapi.json'") != std::string::npos);
        CHECK(docs.find("window.location.origin + '/api/docs/oauth2-redirect'") != std::string::npos);
        CHECK(c.get("/redoc").text.find("spec-url=\"/api/openapi.json\"") != std::string::npos);
        // Without a prefix the document has no servers, as FastAPI.
        TestClient plain(app);
        CHECK(!plain.get("/openapi.json").json().contains("servers"));
        CHECK(plain.get("/docs").text.find("url: '/openapi.json'") != std::string::npos);
        CHECK(app.openapi().serialize().find("servers") == std::string::npos);
    }
    {
        // An explicit servers list: the prefix goes first unless the list has it already.
        App app({.servers = {{"https://stag.example.com", "Staging"}}});
        TestClient c(app, o);
        CHECK(c.get("/openapi.json").text.find(
                  R"("servers":[{"url":"/api"},{"description":"Staging","url":"https://stag.example.com"}])") != std::string::npos);
        App listed({.servers = {{"/api", "Here"}}});
        TestClient c2(listed, o);
        CHECK(c2.get("/openapi.json").text.find(R"("servers":[{"description":"Here","url":"/api"}])") != std::string::npos);
        App off({.root_path_in_servers = false});
        TestClient c3(off, o);
        CHECK(!c3.get("/openapi.json").json().contains("servers"));
    }
    {
        o.root_path = "/api/";  // a trailing slash is dropped, as FastAPI's rstrip("/")
        App app;
        TestClient c(app, o);
        CHECK(c.get("/openapi.json").text.find(R"("servers":[{"url":"/api"}])") != std::string::npos);
    }
}
