// What a hostile or careless client can push the server to: open connections (limits.
// max_connections, 503 beyond; 10,000 held in bounded memory), buffers grown by one large
// request (given back after it), a request that never finishes (408), and bytes that can never
// begin an HTTP request (400 at once).
#include "support.hpp"

#include <sys/resource.h>

#include <atomic>
#include <fstream>

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define LIMITS_TEST_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define LIMITS_TEST_SANITIZED 1
#endif
#ifdef LIMITS_TEST_SANITIZED
#include <sanitizer/allocator_interface.h>
#else
#include <malloc.h>
#endif

using namespace fastapi;
using namespace std::chrono_literals;
using test::body_of;
using test::LiveServer;
using test::RawClient;
using test::rss_bytes;
using test::status_of;

namespace limits_test {

// Bytes the process has allocated and not freed (not RSS: freed memory may stay mapped).
std::size_t allocated_bytes() {
#ifdef LIMITS_TEST_SANITIZED
    return __sanitizer_get_current_allocated_bytes();
#else
    struct mallinfo2 m = ::mallinfo2();
    return m.uordblks + m.hblkhd;
#endif
}

App& small_app() {
    static App app;
    static bool once = [] {
        app.get("/", [] { return PlainTextResponse("root"); });
        app.post("/size", [](const Request& r) { return PlainTextResponse(std::to_string(r.body.size())); });
        return true;
    }();
    (void)once;
    return app;
}

const char* get_root = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";

// Reads exactly `n` bytes or fails (bounded by `ms`).
bool read_exact(int fd, void* out, std::size_t n, int ms) {
    auto* p = static_cast<char*>(out);
    while (n > 0) {
        pollfd pfd{fd, POLLIN, 0};
        if (::poll(&pfd, 1, ms) <= 0) return false;
        ssize_t got = ::read(fd, p, n);
        if (got <= 0) return false;
        p += got;
        n -= static_cast<std::size_t>(got);
    }
    return true;
}

// The client side of the 10,000 connections, in a child process (each process may hold its own
// descriptors): opens `count` connections in batches, sends one request on each and reads its
// answer, reports how many were answered, holds them until told, then exits.
[[noreturn]] void hold_connections(int from_parent, int to_parent, int count) {
    unsigned short port = 0;
    if (!read_exact(from_parent, &port, sizeof(port), 10000)) ::_exit(2);
    std::vector<int> fds;
    fds.reserve(static_cast<std::size_t>(count));
    int answered = 0;
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    const std::string request = get_root;
    for (int start = 0; start < count && std::chrono::steady_clock::now() < deadline; start += 500) {
        const int batch = std::min(500, count - start);
        std::vector<int> open;
        for (int i = 0; i < batch; ++i) {
            int fd = ::socket(AF_INET, SOCK_STREAM, 0);
            if (fd < 0) break;
            sockaddr_in addr{};
            addr.sin_family = AF_INET;
            addr.sin_port = htons(port);
            addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
                ::close(fd);
                break;
            }
            fds.push_back(fd);
            open.push_back(fd);
            (void)!::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
        }
        // Each answer is one small response ("root"): read until its body has come.
        std::vector<std::string> got(open.size());
        std::size_t done = 0;
        std::vector<bool> finished(open.size(), false);
        while (done < open.size() && std::chrono::steady_clock::now() < deadline) {
            std::vector<pollfd> pfds;
            std::vector<std::size_t> index;
            for (std::size_t i = 0; i < open.size(); ++i)
                if (!finished[i]) {
                    pfds.push_back({open[i], POLLIN, 0});
                    index.push_back(i);
                }
            if (::poll(pfds.data(), pfds.size(), 1000) <= 0) continue;
            for (std::size_t k = 0; k < pfds.size(); ++k) {
                if (!(pfds[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
                std::size_t i = index[k];
                char buf[512];
                ssize_t n = ::recv(open[i], buf, sizeof(buf), 0);
                if (n > 0) got[i].append(buf, static_cast<std::size_t>(n));
                if (n <= 0 || (got[i].size() >= 4 && got[i].compare(got[i].size() - 4, 4, "root") == 0)) {
                    finished[i] = true;
                    ++done;
                    if (n > 0 && got[i].compare(0, 12, "HTTP/1.1 200") == 0) ++answered;
                }
            }
        }
    }
    (void)!::write(to_parent, &answered, sizeof(answered));
    char go = 0;
    read_exact(from_parent, &go, 1, 60000);
    for (int fd : fds) ::close(fd);
    ::_exit(0);
}

TEST_CASE("limits.max_connections: a connection over it is answered 503 and closed; below it again, served") {
    ServerOptions options;
    options.limits.max_connections = 2;
    LiveServer server(small_app(), options);
    auto a = std::make_unique<RawClient>(server.port());
    RawClient b(server.port());
    a->send(get_root);
    b.send(get_root);
    CHECK(body_of(a->read_response()) == "root");
    CHECK(body_of(b.read_response()) == "root");
    {
        RawClient over(server.port());
        over.send(get_root);
        auto r = over.read_response();
        CHECK(status_of(r) == 503);
        CHECK(body_of(r) == R"({"detail":"Service Unavailable"})");
        CHECK(r.find("connection: close") != std::string::npos);
        CHECK(over.closed_by_peer());
    }
    a->send(get_root);  // the two held ones are still served
    CHECK(body_of(a->read_response()) == "root");
    a.reset();
    bool served = test::eventually_true([&] {
        RawClient again(server.port(), 500ms);
        again.send(get_root);
        return body_of(again.read_response()) == "root";
    });
    CHECK(served);
}

TEST_CASE("10,000 concurrent connections are held, each answered, in bounded memory") {
    constexpr int count = 10000;
    rlimit old{};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &old) == 0);
    rlimit raised = old;
    if (raised.rlim_max != RLIM_INFINITY && raised.rlim_max < count + 200) {
        MESSAGE("skipped: the open-file hard limit (" << raised.rlim_max << ") is below " << count + 200);
        return;
    }
    raised.rlim_cur = raised.rlim_max == RLIM_INFINITY ? count + 1000 : raised.rlim_max;
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &raised) == 0);
    int to_child[2], to_parent[2];
    REQUIRE(::pipe(to_child) == 0);
    REQUIRE(::pipe(to_parent) == 0);
    pid_t pid = ::fork();  // before the server's threads exist
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::close(to_child[1]);
        ::close(to_parent[0]);
        hold_connections(to_child[0], to_parent[1], count);
    }
    ::close(to_child[0]);
    ::close(to_parent[1]);
    {
        ServerOptions options;
        options.threads = 2;
        options.limits.max_connections = count + 100;
        const std::size_t rss_before = rss_bytes();
        const auto start = std::chrono::steady_clock::now();
        LiveServer server(small_app(), options);
        unsigned short port = server.port();
        REQUIRE(::write(to_child[1], &port, sizeof(port)) == sizeof(port));
        int answered = 0;
        CHECK(read_exact(to_parent[0], &answered, sizeof(answered), 90000));
        const auto took = std::chrono::steady_clock::now() - start;
        const std::size_t rss_after = rss_bytes();
        const std::size_t per_connection = rss_after > rss_before ? (rss_after - rss_before) / count : 0;
        MESSAGE(answered << " connections held and answered in "
                         << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                         << " ms; server RSS grew by " << (rss_after - rss_before) / 1024 << " KiB ("
                         << per_connection << " bytes a connection)");
        CHECK(answered == count);
        CHECK(took < 60s);
#ifndef LIMITS_TEST_SANITIZED
        CHECK(per_connection < 16 * 1024);
#endif
        char go = 1;
        (void)!::write(to_child[1], &go, 1);
        int status = 0;
        bool exited = test::eventually_true([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, 10000ms);
        if (!exited) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
        }
        CHECK(exited);
    }
    ::close(to_child[1]);
    ::close(to_parent[0]);
    ::setrlimit(RLIMIT_NOFILE, &old);
}

TEST_CASE("buffers grown by one large request are given back once it is answered") {
    constexpr int connections = 16;
    const std::string body(900 * 1024, 'b');  // under limits.max_body_bytes: held in memory
    ServerOptions options;
    options.threads = 2;
    LiveServer server(small_app(), options);
    std::vector<std::unique_ptr<RawClient>> clients;
    for (int i = 0; i < connections; ++i) {
        clients.push_back(std::make_unique<RawClient>(server.port(), 5000ms));
        clients.back()->send(get_root);
        REQUIRE(body_of(clients.back()->read_response()) == "root");
    }
    const std::size_t before = allocated_bytes();
    for (auto& c : clients) {
        c->send("POST /size HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
        REQUIRE(body_of(c->read_response()) == std::to_string(body.size()));
    }
    std::this_thread::sleep_for(50ms);  // each connection is back to reading
    const std::size_t after = allocated_bytes();
    const std::size_t kept = after > before ? after - before : 0;
    MESSAGE(connections << " connections kept " << kept / 1024 << " KiB after one " << body.size() / 1024
                        << " KiB request each");
    CHECK(kept < connections * 128 * 1024);  // without giving back: over 2 MiB a connection
    for (auto& c : clients) {  // and they still serve
        c->send(get_root);
        CHECK(body_of(c->read_response()) == "root");
    }
}

TEST_CASE("a request still incomplete when the header timeout ends is answered 408 and closed") {
    ServerOptions options;
    options.header_timeout = 300ms;
    LiveServer server(small_app(), options);
    RawClient c(server.port());
    c.send("GET / HTTP/1.1\r\nHost: t\r\n");  // the empty line never comes
    auto start = std::chrono::steady_clock::now();
    auto r = c.read_response();
    CHECK(status_of(r) == 408);
    CHECK(body_of(r) == R"({"detail":"Request Timeout"})");
    CHECK(r.find("connection: close") != std::string::npos);
    CHECK(c.closed_by_peer());
    CHECK(std::chrono::steady_clock::now() - start < 2s);
}

TEST_CASE("an idle keep-alive connection past its timeout is closed without an answer") {
    ServerOptions options;
    options.keep_alive_timeout = 300ms;
    options.header_timeout = 300ms;
    LiveServer server(small_app(), options);
    RawClient never(server.port());  // connects, sends nothing
    CHECK(never.closed_by_peer());
    CHECK(never.buffer().empty());
    RawClient once(server.port());
    once.send(get_root);
    CHECK(body_of(once.read_response()) == "root");
    CHECK(once.closed_by_peer());
    CHECK(once.buffer().empty());  // nothing after the one answer
}

TEST_CASE("bytes that cannot begin a request (a TLS ClientHello) are answered 400 at once and closed") {
    ServerOptions options;  // the header timeout (10 s) is far beyond the client's patience
    LiveServer server(small_app(), options);
    RawClient tls(server.port(), 1000ms);
    tls.send(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11));
    auto r = tls.read_response();
    CHECK(status_of(r) == 400);
    CHECK(body_of(r) == R"({"detail":"Invalid method"})");
    CHECK(tls.closed_by_peer());
    RawClient space(server.port(), 1000ms);
    space.send(" GET");
    CHECK(status_of(space.read_response()) == 400);
    RawClient blank(server.port(), 1000ms);  // RFC 9112: an empty line first is tolerated
    blank.send("\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n");
    CHECK(body_of(blank.read_response()) == "root");
}

TEST_CASE("the parser fails at the first byte that cannot be part of a method") {
    auto first = [](std::string_view bytes) {
        detail::RequestParser p;
        Request req;
        return p.parse(bytes, req).status;
    };
    CHECK(first("\x16\x03\x01") == detail::ParseStatus::error);
    CHECK(first("GET\x01") == detail::ParseStatus::error);
    CHECK(first(" ") == detail::ParseStatus::error);
    CHECK(first("GE") == detail::ParseStatus::need_more);
    CHECK(first("GET /pa") == detail::ParseStatus::need_more);
    CHECK(first("\r\n") == detail::ParseStatus::need_more);
    CHECK(first("\r\nGE") == detail::ParseStatus::need_more);
    CHECK(first("\r\n\r\n") == detail::ParseStatus::error);
}

}  // namespace limits_test
