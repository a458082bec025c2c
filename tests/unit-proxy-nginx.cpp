// Behind Debian's nginx, as deployed: examples/deploy/nginx.conf as written (its port and the
// app's replaced), in front of a server this test runs in-process with --root-path /api.
// Through nginx it checks what a handler sees (the client's address, not a spoofed one; the
// scheme, https where nginx says so), a slash redirect's Location, keep-alive from nginx to
// the app (one upstream connection for many requests), and /api/docs with /api/openapi.json.
// nginx runs with its own configuration in a temporary folder, on loopback ports, stopped by
// its pid (also when a check fails). tools/deps nginx installs it (tools/test does).
#include "support.hpp"

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

namespace proxy_nginx_test {
using namespace std::chrono_literals;

using test::Nginx;
using test::TempDir;
using test::nginx_binary;
using test::read_text;

// Requests from a chosen loopback address, Connection: close (tests/support.hpp).
inline std::string get(unsigned short port, const std::string& target, const std::string& extra = "",
                       const char* from = "127.0.0.1") {
    return test::get_from(port, target, extra, from);
}
inline std::string header(const std::string& response, const std::string& name) { return test::header_of(response, name); }

inline fastapi::App& app() {
    static fastapi::App a;
    static bool once = [] {
        // What the handler sees, one line: client, its port, scheme, host:port, root_path.
        a.get("/whoami", [](const fastapi::Request& r) {
            return fastapi::PlainTextResponse("client=" + r.client_address + " port=" + std::to_string(r.client_port) +
                                              " scheme=" + r.scheme + " host=" + r.host + ":" + std::to_string(r.port) +
                                              " root=" + r.root_path);
        });
        a.get("/items/", [] { return fastapi::PlainTextResponse("items"); });
        return true;
    }();
    (void)once;
    return a;
}
}  // namespace proxy_nginx_test

using namespace proxy_nginx_test;

TEST_CASE("behind nginx: client address, scheme, redirects, keep-alive and the docs under /api") {
    const std::string binary = nginx_binary();
    REQUIRE_MESSAGE(!binary.empty(), "nginx is not installed: tools/deps nginx");

    fastapi::ServerOptions options;
    options.root_path = "/api";              // the app is mounted under /api by nginx
    options.forwarded_allow_ips = "127.0.0.1";  // nginx's address
    options.threads = 1;
    test::LiveServer server(app(), options);

    TempDir dir;
    const unsigned short site_port = test::free_port(), tls_port = test::free_port();
    // The example site as written, on our ports; a second site on the same upstream, as where
    // TLS ends: nginx says https, and (for the connection count) no X-Forwarded-For, so the
    // handler sees nginx's own upstream port.
    Nginx nginx(binary, dir.path, test::deploy_nginx_site(site_port, "127.0.0.1:" + std::to_string(server.port())),
                test::nginx_https_server(tls_port, false));
    const bool up = test::wait_for_port(site_port, 10000ms) && test::wait_for_port(tls_port, 10000ms);
    REQUIRE_MESSAGE(up, "nginx did not start: " << nginx.error_log());
    REQUIRE(nginx.running());
    // Its pid file names the process this test started and will stop.
    CHECK(test::eventually_true([&] { return read_text(dir.path + "/nginx.pid").find(std::to_string(nginx.pid())) == 0; }));

    SUBCASE("the client's address, not one it made up; the scheme and host nginx saw") {
        std::string r = get(site_port, "/api/whoami", "X-Forwarded-For: 203.0.113.5\r\n", "127.0.0.2");
        CHECK(test::status_of(r) == 200);
        // nginx appends the client (127.0.0.2, untrusted): the spoofed entry left of it is ignored.
        CHECK(test::body_of(r) == "client=127.0.0.2 port=0 scheme=http host=shop.example:80 root=/api");
        r = get(tls_port, "/api/whoami", "", "127.0.0.3");
        CHECK(test::body_of(r).find(" scheme=https host=shop.example:443 root=/api") != std::string::npos);
        CHECK(test::body_of(r).find("client=127.0.0.1 ") == 0);  // no X-Forwarded-For there: nginx itself
    }
    SUBCASE("a slash redirect names the public URL: scheme, host and the /api prefix") {
        std::string r = get(site_port, "/api/items?page=2");
        CHECK(test::status_of(r) == 307);
        CHECK(header(r, "location") == "http://shop.example/api/items/?page=2");
        r = get(tls_port, "/api/items");
        CHECK(header(r, "location") == "https://shop.example/api/items/");
        CHECK(test::body_of(get(site_port, "/api/items/")) == "items");
        r = get(site_port, "/api");
        CHECK(test::status_of(r) == 301);
        CHECK(header(r, "location").find("/api/") != std::string::npos);
    }
    SUBCASE("keep-alive from nginx to the app: one upstream connection for many requests") {
        std::set<std::string> upstream_ports;
        for (int i = 0; i < 20; ++i) {
            std::string body = test::body_of(get(tls_port, "/api/whoami"));
            std::smatch m;
            REQUIRE(std::regex_search(body, m, std::regex(" port=([0-9]+) ")));
            upstream_ports.insert(m[1]);
        }
        CHECK(upstream_ports.size() == 1);
        CHECK(*upstream_ports.begin() != "0");
    }
    SUBCASE("/api/docs loads /api/openapi.json, which lists the /api server") {
        std::string docs = get(site_port, "/api/docs");
        CHECK(test::status_of(docs) == 200);
        CHECK(docs.find("url: '/api/openapi.json'") != std::string::npos);
        CHECK(get(site_port, "/api/redoc").find("spec-url=\"/api/openapi.json\"") != std::string::npos);
        std::string doc = get(site_port, "/api/openapi.json");
        CHECK(test::status_of(doc) == 200);
        CHECK(doc.find(R"("servers":[{"url":"/api"}])") != std::string::npos);
        CHECK(doc.find(R"("/whoami":)") != std::string::npos);
    }
    nginx.stop();
    CHECK(!nginx.running());
}
