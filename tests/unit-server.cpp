// The server on a real socket: keep-alive, HTTP/1.0, pipelining, chunked bodies,
// 100-continue, strict framing, limits, timeouts, concurrency and graceful shutdown.
#include "support.hpp"

#include <atomic>

using namespace fastapi;
using namespace std::chrono_literals;
using test::body_of;
using test::LiveServer;
using test::RawClient;
using test::status_of;

namespace {
App& echo_app() {
    static App app;
    static bool once = [] {
        app.get("/", [] { return PlainTextResponse("root"); });
        app.get("/n/{n}", [](const Request& r) { return PlainTextResponse("n=" + r.path_params.at("n")); });
        app.api_route("/echo", {"POST", "PUT"}, [](const Request& r) {
            Response res(r.body, 200, "text/plain");
            res.headers.set("x-body-length", std::to_string(r.body.size()));
            if (auto t = r.trailers.get("x-trailer")) res.headers.set("x-got-trailer", *t);
            return res;
        });
        app.get("/boom", []() -> PlainTextResponse { throw std::runtime_error("boom"); });
        app.get("/sleep", []() -> asio::awaitable<PlainTextResponse> {
            asio::steady_timer t(co_await asio::this_coro::executor, 300ms);
            co_await t.async_wait(asio::use_awaitable);
            co_return PlainTextResponse("slept");
        });
        return true;
    }();
    (void)once;
    return app;
}
const char* get_root = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";
}  // namespace

TEST_CASE("keep-alive: several requests on one connection") {
    LiveServer server(echo_app());
    RawClient c(server.port());
    for (int i = 0; i < 3; ++i) {
        c.send("GET /n/" + std::to_string(i) + " HTTP/1.1\r\nHost: t\r\n\r\n");
        auto r = c.read_response();
        CHECK(status_of(r) == 200);
        CHECK(body_of(r) == "n=" + std::to_string(i));
        CHECK(r.find("connection: close") == std::string::npos);
    }
}

TEST_CASE("Connection: close is honoured: the answer says so and the server closes") {
    LiveServer server(echo_app());
    RawClient c(server.port());
    c.send("GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    auto r = c.read_response();
    CHECK(status_of(r) == 200);
    CHECK(r.find("connection: close\r\n") != std::string::npos);
    CHECK(c.closed_by_peer());
}

TEST_CASE("HTTP/1.0 closes by default and keeps alive when asked") {
    LiveServer server(echo_app());
    {
        RawClient c(server.port());
        c.send("GET / HTTP/1.0\r\n\r\n");
        CHECK(status_of(c.read_response()) == 200);
        CHECK(c.closed_by_peer());
    }
    {
        RawClient c(server.port());
        c.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        auto r = c.read_response();
        CHECK(r.find("connection: keep-alive\r\n") != std::string::npos);
        c.send("GET /n/2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        CHECK(body_of(c.read_response()) == "n=2");
    }
}

TEST_CASE("pipelined requests are answered in order") {
    LiveServer server(echo_app());
    RawClient c(server.port());
    std::string batch;
    for (int i = 0; i < 20; ++i) batch += "GET /n/" + std::to_string(i) + " HTTP/1.1\r\nHost: t\r\n\r\n";
    batch += "GET /sleep HTTP/1.1\r\nHost: t\r\n\r\nGET /n/last HTTP/1.1\r\nHost: t\r\n\r\n";
    c.send(batch);
    for (int i = 0; i < 20; ++i) CHECK(body_of(c.read_response()) == "n=" + std::to_string(i));
    CHECK(body_of(c.read_response()) == "slept");  // an async handler holds its place in line
    CHECK(body_of(c.read_response()) == "n=last");
}

TEST_CASE("a bad request later in a pipeline does not cost the earlier ones their answers") {
    LiveServer server(echo_app());
    RawClient c(server.port());
    c.send("GET /n/1 HTTP/1.1\r\nHost: t\r\n\r\nGET /n/2 HTTP/1.1\r\nHost: t\r\n\r\nGET /x HTTP/1.1\r\nHost t\r\n\r\n");
    CHECK(body_of(c.read_response()) == "n=1");
    CHECK(body_of(c.read_response()) == "n=2");
    auto bad = c.read_response();
    CHECK(status_of(bad) == 400);
    CHECK(bad.find("connection: close") != std::string::npos);
    CHECK(c.closed_by_peer());
}

TEST_CASE("request bodies: Content-Length, and chunked with extensions and trailers") {
    LiveServer server(echo_app());
    RawClient c(server.port());
    c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world");
    auto r = c.read_response();
    CHECK(body_of(r) == "hello world");
    CHECK(r.find("x-body-length: 11") != std::string::npos);

    c.send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
           "5;ext=1\r\nhello\r\n6;name=\"quoted\"\r\n world\r\n0\r\nX-Trailer: yes\r\n\r\n");
    auto chunked = c.read_response();
    CHECK(body_of(chunked) == "hello world");
    CHECK(chunked.find("x-got-trailer: yes") != std::string::npos);
}

TEST_CASE("Expect: 100-continue gets an interim 100 before the body is sent") {
    LiveServer server(echo_app());
    RawClient c(server.port());
    c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
    auto interim = c.read_response();
    CHECK(interim.rfind("HTTP/1.1 100 Continue\r\n\r\n", 0) == 0);
    c.send("data");
    auto r = c.read_response();
    CHECK(status_of(r) == 200);
    CHECK(body_of(r) == "data");
}

TEST_CASE("a request over a limit gets 413, 414 or 431 and the connection closes") {
    ServerOptions options;
    options.limits.max_body_bytes = 1000;
    options.limits.max_target_bytes = 100;
    options.limits.max_header_bytes = 2000;
    LiveServer server(echo_app(), options);
    {
        RawClient c(server.port());
        c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n");
        CHECK(status_of(c.read_response()) == 413);  // refused before the body is sent
        CHECK(c.closed_by_peer());
    }
    {
        RawClient c(server.port());
        c.send("GET /" + std::string(200, 'a') + " HTTP/1.1\r\nHost: t\r\n\r\n");
        CHECK(status_of(c.read_response()) == 414);
    }
    {
        RawClient c(server.port());
        c.send("GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(3000, 'b') + "\r\n\r\n");
        CHECK(status_of(c.read_response()) == 431);
    }
    {
        RawClient c(server.port());
        c.send("GET / HTTP/2.0\r\nHost: t\r\n\r\n");
        CHECK(status_of(c.read_response()) == 505);
    }
}

TEST_CASE("ambiguous framing is refused with 400 and a close") {
    LiveServer server(echo_app());
    const char* cases[] = {
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n",
        "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
        "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
        "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: t\r\nX-Folded: a\r\n  b\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: t\r\nX-Space : a\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: t\r\nX-A: a\rb\r\n\r\n",
        "GET / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        "G(T / HTTP/1.1\r\nHost: t\r\n\r\n",
        "GET / HTTP/1.1\r\nHo@st: t\r\n\r\n",
    };
    for (const char* raw : cases) {
        CAPTURE(raw);
        RawClient c(server.port());
        c.send(raw);
        auto r = c.read_response();
        CHECK(status_of(r) == 400);
        CHECK(c.closed_by_peer());
    }
    RawClient nul(server.port());
    static const char with_nul[] = "GET / HTTP/1.1\r\nHost: t\r\nX-A: a\0b\r\n\r\n";
    nul.send(std::string(with_nul, sizeof(with_nul) - 1));
    CHECK(status_of(nul.read_response()) == 400);
}

TEST_CASE("absolute-form targets and percent-encoded paths are understood") {
    LiveServer server(echo_app());
    RawClient c(server.port());
    c.send("GET http://example.com/n/abs HTTP/1.1\r\nHost: example.com\r\n\r\n");
    CHECK(body_of(c.read_response()) == "n=abs");
    c.send("GET /n/a%20b HTTP/1.1\r\nHost: t\r\n\r\n");
    CHECK(body_of(c.read_response()) == "n=a b");
}

TEST_CASE("a throwing handler answers 500 and the server keeps serving") {
    LiveServer server(echo_app());
    RawClient c(server.port());
    c.send("GET /boom HTTP/1.1\r\nHost: t\r\n\r\n");
    auto r = c.read_response();
    CHECK(status_of(r) == 500);
    CHECK(body_of(r) == R"({"detail":"Internal Server Error"})");
    c.send(get_root);
    CHECK(body_of(c.read_response()) == "root");
}

TEST_CASE("an idle keep-alive connection is closed after the keep-alive timeout") {
    ServerOptions options;
    options.keep_alive_timeout = 300ms;
    LiveServer server(echo_app(), options);
    RawClient c(server.port(), 3000ms);
    c.send(get_root);
    CHECK(status_of(c.read_response()) == 200);
    auto start = std::chrono::steady_clock::now();
    CHECK(c.closed_by_peer());
    CHECK(std::chrono::steady_clock::now() - start < 2500ms);
}

TEST_CASE("a client dribbling its headers (slowloris) is cut off at the header timeout") {
    ServerOptions options;
    options.header_timeout = 500ms;
    LiveServer server(echo_app(), options);
    RawClient c(server.port(), 200ms);
    c.send("GET / HTTP/1.1\r\n");
    bool cut = false;
    for (int i = 0; i < 40 && !cut; ++i) {  // one header line every 100 ms, for at most 4 s
        c.send("X-Slow-" + std::to_string(i) + ": 1\r\n");
        std::this_thread::sleep_for(100ms);
        cut = c.closed_by_peer();
    }
    CHECK(cut);
}

TEST_CASE("a coroutine awaiting a timer does not hold up other requests on the same thread") {
    ServerOptions options;
    options.threads = 1;
    LiveServer server(echo_app(), options);
    RawClient slow(server.port());
    slow.send("GET /sleep HTTP/1.1\r\nHost: t\r\n\r\n");
    std::this_thread::sleep_for(20ms);
    auto start = std::chrono::steady_clock::now();
    RawClient fast(server.port());
    fast.send(get_root);
    CHECK(body_of(fast.read_response()) == "root");
    CHECK(std::chrono::steady_clock::now() - start < 250ms);  // answered while /sleep still sleeps
    CHECK(body_of(slow.read_response()) == "slept");
}

TEST_CASE("a blocking handler runs on the pool, off the event loop") {
    App app;
    std::atomic<bool> release{false};
    app.get("/block", [&] {
        for (int i = 0; i < 300 && !release; ++i) std::this_thread::sleep_for(10ms);
        return PlainTextResponse("unblocked");
    }, {.blocking = true});
    app.get("/", [] { return PlainTextResponse("root"); });
    ServerOptions options;
    options.threads = 1;
    LiveServer server(app, options);
    RawClient blocked(server.port());
    blocked.send("GET /block HTTP/1.1\r\nHost: t\r\n\r\n");
    RawClient other(server.port());
    other.send(get_root);
    CHECK(body_of(other.read_response()) == "root");  // the loop is free while /block blocks
    release = true;
    CHECK(body_of(blocked.read_response()) == "unblocked");
}

TEST_CASE("graceful stop: stops accepting, lets in-flight requests finish, closes idle connections") {
    auto server = std::make_unique<LiveServer>(echo_app());
    unsigned short port = server->port();
    RawClient idle(port);
    idle.send(get_root);
    CHECK(status_of(idle.read_response()) == 200);
    RawClient busy(port);
    busy.send("GET /sleep HTTP/1.1\r\nHost: t\r\n\r\n");
    std::this_thread::sleep_for(50ms);
    auto stopper = std::thread([&] { server->stop(); });
    auto r = busy.read_response();
    CHECK(status_of(r) == 200);
    CHECK(body_of(r) == "slept");
    CHECK(r.find("connection: close") != std::string::npos);
    CHECK(idle.closed_by_peer());
    stopper.join();
    CHECK_FALSE(test::wait_for_port(port, 200ms));
}

TEST_CASE("an embedded server runs on the caller's io_context next to its other work") {
    asio::io_context io;
    App app;
    int ticks = 0;
    app.get("/ticks", [&] { return PlainTextResponse(std::to_string(ticks)); });
    ServerOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    Server server(io, app, options);
    server.start();
    asio::steady_timer timer(io, 10ms);
    timer.async_wait([&](const asio::error_code&) { ++ticks; });
    std::thread client([&, port = server.port()] {
        RawClient c(port);
        c.send("GET /ticks HTTP/1.1\r\nHost: t\r\n\r\n");
        CHECK(status_of(c.read_response()) == 200);
        server.stop();
    });
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < deadline && io.run_one_for(100ms) + 1) {
        if (io.stopped()) break;
    }
    client.join();
    CHECK(io.stopped());  // all the server's work is done: run() returned on its own
    CHECK(ticks == 1);
}

TEST_CASE("large responses and files are written completely") {
    App app;
    std::string big(3 * 1024 * 1024 + 7, 'z');
    app.get("/big", [&] { return PlainTextResponse(big); });
    LiveServer server(app);
    RawClient c(server.port(), 5000ms);
    c.send("GET /big HTTP/1.1\r\nHost: t\r\n\r\n");
    auto r = c.read_response();
    CHECK(body_of(r).size() == big.size());
}

TEST_CASE("HOST and PORT come from the environment, else 0.0.0.0:8000; options win over both") {
    ::unsetenv("HOST");
    ::unsetenv("PORT");
    ServerOptions defaults;
    CHECK(detail::resolve_host(defaults) == "0.0.0.0");
    CHECK(detail::resolve_port(defaults) == 8000);
    ::setenv("HOST", "127.0.0.1", 1);
    ::setenv("PORT", "9123", 1);
    CHECK(detail::resolve_host(defaults) == "127.0.0.1");
    CHECK(detail::resolve_port(defaults) == 9123);
    ServerOptions given;
    given.host = "::1";
    given.port = 7000;
    CHECK(detail::resolve_host(given) == "::1");
    CHECK(detail::resolve_port(given) == 7000);
    ::setenv("PORT", "80x", 1);
    CHECK_THROWS_AS(detail::resolve_port(defaults), std::invalid_argument);
    ::unsetenv("HOST");
    ::unsetenv("PORT");
}

TEST_CASE("the default thread count is the number of CPUs the process may run on") {
    // sched_getaffinity(0) reads the calling thread's mask: pin a thread to one CPU and ask there.
    unsigned seen = 0;
    std::thread pinned([&] {
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(0, &one);
        REQUIRE(::sched_setaffinity(0, sizeof(one), &one) == 0);
        seen = detail::available_cpus();
    });
    pinned.join();
    CHECK(seen == 1);
    CHECK(detail::available_cpus() >= 1);
}

TEST_CASE("the server listens on IPv6 loopback too") {
    App app;
    app.get("/", [] { return PlainTextResponse("v6"); });
    ServerOptions options;
    options.host = "::1";
    options.port = 0;
    options.threads = 1;
    options.handle_signals = false;
    options.log_startup = false;
    Server server(app, options);
    try {
        server.start();
    } catch (const std::exception& e) {
        MESSAGE("no IPv6 loopback here: " << e.what());
        return;
    }
    std::thread runner([&] { server.run(); });
    int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
    sockaddr_in6 addr{};
    addr.sin6_family = AF_INET6;
    addr.sin6_port = htons(server.port());
    addr.sin6_addr = in6addr_loopback;
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    std::string req = "GET / HTTP/1.1\r\nHost: [::1]\r\nConnection: close\r\n\r\n";
    CHECK(::send(fd, req.data(), req.size(), 0) == static_cast<ssize_t>(req.size()));
    std::string got;
    char buf[4096];
    for (int i = 0; i < 100; ++i) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 3000) <= 0) break;
        ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
        if (n <= 0) break;
        got.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    CHECK(body_of(got) == "v6");
    server.stop();
    runner.join();
}
