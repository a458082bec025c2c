// The deployment of examples/deploy as its files say, all of it at once: Debian's nginx with
// examples/deploy/nginx.conf (its ports replaced) in front of the built example run as
//     deploy --workers 2 --host 127.0.0.1 --port P --root-path /api --forwarded-allow-ips 127.0.0.1
// Through nginx it checks what /whoami reports (the client's address and the scheme nginx
// forwards, never a spoofed one), that both workers answer, /api/docs and /api/openapi.json
// with the /api server, a slash redirect's Location, keep-alive from nginx to the app, and a
// SIGHUP to the supervisor (five rolling restarts) under load (GETs and POSTs) through nginx
// with no failed request and no upstream error in nginx's log. nginx runs with its own
// configuration in a temporary folder and the app on loopback ports; both are stopped by their
// pids (also when a check fails). tools/deps nginx installs nginx; tests/checks/examples_build.sh builds the example into FASTAPI_EXAMPLES_DIR.
#include "support.hpp"

#include <cstdio>
#include <set>
#include <string>

namespace deploy_nginx_test {
using namespace std::chrono_literals;

// The sockets of this network namespace to or from `port` (test::tcp_sockets), listening
// ones left out: open connections and those in TIME_WAIT (60 s on Linux), so the count grows
// by one or two per connection ever made to the port in the last minute.
inline std::size_t tcp_sockets_on(unsigned short port) {
    std::size_t n = 0;
    for (const test::TcpSocket& s : test::tcp_sockets())
        if (s.state != 0x0A && (s.local_port == port || s.remote_port == port)) ++n;  // 0A: LISTEN
    return n;
}

// A JSON string field of a /whoami answer ({"client": "...", ...}), or "".
inline std::string field(const std::string& body, const std::string& name) {
    const std::string key = "\"" + name + "\":\"";
    auto p = body.find(key);
    if (p == std::string::npos) return {};
    p += key.size();
    auto e = body.find('"', p);
    return e == std::string::npos ? std::string{} : body.substr(p, e - p);
}

inline std::set<long> as_set(const std::vector<pid_t>& v) { return std::set<long>(v.begin(), v.end()); }

// The example under its supervisor with two workers, nginx in front: the deploy site on
// site_port (the client's scheme, http) and, on tls_port, a server where TLS would end
// (X-Forwarded-Proto: https).
struct Deployment {
    test::TempDir dir;
    const unsigned short app_port = test::free_port(), site_port = test::free_port(), tls_port = test::free_port();
    test::Process app;
    test::Nginx nginx;
    explicit Deployment(const std::string& nginx_binary)
        : app(test::example_path("deploy"),
              {{"--workers", "2", "--host", "127.0.0.1", "--port", std::to_string(app_port), "--root-path", "/api",
                "--forwarded-allow-ips", "127.0.0.1"}}),
          nginx(nginx_binary, dir.path, test::deploy_nginx_site(site_port, "127.0.0.1:" + std::to_string(app_port)),
                test::nginx_https_server(tls_port, true)) {}
    // Waits (bounded) for both workers and nginx; false (with the logs in a message) otherwise.
    bool up() {
        const bool workers = app.log_has("All 2 workers are serving", 15000ms);
        const bool proxy = test::wait_for_port(site_port, 10000ms) && test::wait_for_port(tls_port, 10000ms);
        if (!workers || !proxy) MESSAGE("app log:\n" << app.log() << "\nnginx error log:\n" << nginx.error_log());
        return workers && proxy && nginx.running();
    }
};

TEST_CASE("deploy behind nginx: client address and scheme, both workers, docs under /api, redirects, keep-alive") {
    const std::string binary = test::nginx_binary();
    REQUIRE_MESSAGE(!binary.empty(), "nginx is not installed: tools/deps nginx");
    REQUIRE_MESSAGE(::access(test::example_path("deploy").c_str(), X_OK) == 0,
                    test::example_path("deploy") << " is not built: tests/checks/examples_build.sh");
    Deployment d(binary);
    REQUIRE(d.up());
    const std::set<long> workers = as_set(d.app.children());
    REQUIRE(workers.size() == 2);

    // What the handler saw: the client (nginx appended it to the spoofed list; the app walks it
    // from the right past nginx, the one trusted address), nginx's scheme, the public host.
    std::string r = test::get_from(d.site_port, "/api/whoami", "X-Forwarded-For: 203.0.113.5\r\n", "127.0.0.2");
    CHECK(test::status_of(r) == 200);
    std::string body = test::body_of(r);
    CHECK(field(body, "client") == "127.0.0.2");
    CHECK(field(body, "scheme") == "http");
    CHECK(field(body, "host") == "shop.example");
    CHECK(field(body, "root_path") == "/api");
    CHECK(workers.count(test::pid_in(body)) == 1);  // a worker answered, not the supervisor
    body = test::body_of(test::get_from(d.tls_port, "/api/whoami", "X-Forwarded-Proto: http\r\n", "127.0.0.3"));
    CHECK(field(body, "client") == "127.0.0.3");
    CHECK(field(body, "scheme") == "https");  // nginx's word, not the client's
    // Straight to the app from an address it does not trust: the proxy headers are ignored.
    body = test::body_of(test::get_from(d.app_port, "/whoami",
                                        "X-Forwarded-For: 203.0.113.5\r\nX-Forwarded-Proto: https\r\n", "127.0.0.2"));
    CHECK(field(body, "client") == "127.0.0.2");
    CHECK(field(body, "scheme") == "http");

    // Keep-alive from nginx to the app: 30 requests, each on a new client connection, reuse
    // nginx's upstream connection (one more socket pair at most), not 30 upstream connections.
    {
        const std::size_t before = tcp_sockets_on(d.app_port);
        for (int i = 0; i < 30; ++i) REQUIRE(test::status_of(test::get_from(d.site_port, "/api/whoami")) == 200);
        const std::size_t after = tcp_sockets_on(d.app_port);
        MESSAGE("sockets on the app's port: " << before << " before 30 requests through nginx, " << after << " after");
        CHECK(after >= before);
        CHECK(after - before <= 4);
    }

    // Both workers answer through nginx: concurrent requests make nginx open several upstream
    // connections, which the kernel spreads over the workers.
    {
        test::Load load(d.site_port, 8, "/api/sleep?ms=30");
        CHECK(test::eventually_true([&] { return load.by_pid().size() >= 2; }, 5000ms));
        load.stop();
        std::set<long> seen;
        for (auto& entry : load.by_pid()) seen.insert(entry.first);
        CHECK(seen == workers);
        CHECK(load.failed() == 0);
    }

    // The docs through the proxy: /api/docs loads /api/openapi.json, which names the /api server.
    r = test::get_from(d.site_port, "/api/docs");
    CHECK(test::status_of(r) == 200);
    CHECK(r.find("url: '/api/openapi.json'") != std::string::npos);
    r = test::get_from(d.site_port, "/api/openapi.json");
    CHECK(test::status_of(r) == 200);
    CHECK(r.find(R"("servers":[{"url":"/api"}])") != std::string::npos);
    CHECK(r.find(R"("/whoami":)") != std::string::npos);
    CHECK(r.find(R"("/api/whoami")") == std::string::npos);  // the paths stay unprefixed

    // The slash redirect names the public URL: the scheme nginx forwards, the host, /api.
    r = test::get_from(d.site_port, "/api/whoami/?x=1");
    CHECK(test::status_of(r) == 307);
    CHECK(test::header_of(r, "location") == "http://shop.example/api/whoami?x=1");
    r = test::get_from(d.tls_port, "/api/whoami/");
    CHECK(test::header_of(r, "location") == "https://shop.example/api/whoami");

    d.nginx.stop();
    CHECK(!d.nginx.running());
    d.app.kill(SIGTERM);
    CHECK(d.app.wait_exit(10s) == 0);
}

TEST_CASE("deploy behind nginx: SIGHUP to the supervisor under load through nginx fails no request") {
    const std::string binary = test::nginx_binary();
    REQUIRE_MESSAGE(!binary.empty(), "nginx is not installed: tools/deps nginx");
    REQUIRE_MESSAGE(::access(test::example_path("deploy").c_str(), X_OK) == 0,
                    test::example_path("deploy") << " is not built: tests/checks/examples_build.sh");
    Deployment d(binary);
    REQUIRE(d.up());
    const std::set<long> before = as_set(d.app.children());
    REQUIRE(before.size() == 2);

    const auto started = std::chrono::steady_clock::now();
    test::Load load(d.site_port, 4, "/api/sleep?ms=5");
    // POSTs, which nginx does not retry on another worker (proxy_next_upstream non_idempotent
    // is off): one sent on a connection a stopping worker closes under it would fail.
    test::Load posts(d.site_port, 2, "/api/orders", R"({"quantity": 2})");
    std::this_thread::sleep_for(300ms);
    const std::size_t ok_before = load.ok(), posts_before = posts.ok();
    // Five rolling restarts in a row, each signalled once the one before is done (100 ms apart).
    const int rounds = 5;
    std::chrono::steady_clock::duration restarting{};
    for (int round = 1; round <= rounds; ++round) {
        d.app.kill(SIGHUP);
        const auto hup = std::chrono::steady_clock::now();
        const bool done = test::eventually_true([&] { return test::occurrences(d.app.log(), "SIGHUP: rolling restart done") == static_cast<std::size_t>(round); },
                                                15000ms);
        restarting += std::chrono::steady_clock::now() - hup;
        REQUIRE_MESSAGE(done, "restart " << round << " did not finish:\n" << d.app.log());
        std::this_thread::sleep_for(100ms);
    }
    std::this_thread::sleep_for(200ms);
    load.stop();
    posts.stop();
    const auto ms = [](auto span) { return std::chrono::duration_cast<std::chrono::milliseconds>(span).count(); };
    MESSAGE("SIGHUP x" << rounds << " under load through nginx: " << load.ok() << " requests ok (" << (load.ok() - ok_before)
                       << " after the first signal), " << load.failed() << " failed; the restarts took " << ms(restarting)
                       << " ms in all, the load ran " << ms(std::chrono::steady_clock::now() - started) << " ms");
    MESSAGE("and " << posts.ok() << " POSTs ok (" << (posts.ok() - posts_before) << " after the first signal), "
                   << posts.failed() << " failed");
    CHECK(load.failed() == 0);
    CHECK(load.ok() > ok_before + 100);
    CHECK(posts.failed() == 0);
    CHECK(posts.ok() > posts_before + 50);
    CHECK(test::occurrences(d.app.log(), "; stopping worker [") == 2 * rounds);  // every worker replaced each time

    // New workers, and they answered through nginx.
    const std::set<long> after = as_set(d.app.children());
    CHECK(after.size() == 2);
    for (long old : before) CHECK(after.count(old) == 0);
    auto by_pid = load.by_pid();
    std::size_t new_answering = 0;
    for (long pid : after) new_answering += by_pid.count(pid);
    CHECK(new_answering >= 1);
    // What nginx had to say about its upstream meanwhile: nothing. A stopping worker does not
    // close an idle keep-alive connection under a request nginx is sending on it (it reads on
    // for a drain window and answers with `Connection: close`); if it did, nginx would log
    // "upstream prematurely closed connection" at [error] (and retry a GET, fail a POST).
    const std::string errors = d.nginx.error_log();
    CHECK_MESSAGE(errors.find("[error]") == std::string::npos, "nginx error log:\n" << errors);
}

}  // namespace deploy_nginx_test
