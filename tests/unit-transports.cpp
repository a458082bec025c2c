// Transports: the server on a Unix domain socket, on a listening socket it is given (an
// inherited descriptor), on one port shared with SO_REUSEPORT, on IPv6; the hand-off of a
// connection after a 101 with the bytes read past the request; a client that leaves
// cancelling its coroutine handler and telling a blocking one; what a Request knows of its
// connection; and TestClient answering byte for byte as the server does (one lifecycle).
#include "support.hpp"

#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/un.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <set>

using namespace fastapi;
using namespace std::chrono_literals;

namespace transports_test {

// A Server on a thread of its own with whatever ServerOptions say (LiveServer forces TCP).
class Running {
public:
    explicit Running(App& app, ServerOptions o) {
        o.handle_signals = false;
        o.log_startup = false;
        if (o.threads == 0) o.threads = 2;
        server_ = std::make_unique<Server>(app, o);
        server_->start();
        thread_ = std::thread([this] { server_->run(); });
    }
    ~Running() { stop(); }
    void stop() {
        if (!thread_.joinable()) return;
        server_->stop();
        thread_.join();
    }
    Server& server() { return *server_; }

private:
    std::unique_ptr<Server> server_;
    std::thread thread_;
};

// A connected socket of any family, with a deadline on every read.
class Client {
public:
    explicit Client(int fd) : fd_(fd) {}
    static Client unix_socket(const std::string& path) {
        int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
        REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
        return Client(fd);
    }
    static Client tcp4(unsigned short port) {
        int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
        return Client(fd);
    }
    static Client tcp6(unsigned short port) {
        int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
        sockaddr_in6 addr{};
        addr.sin6_family = AF_INET6;
        addr.sin6_port = htons(port);
        addr.sin6_addr = in6addr_loopback;
        REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
        return Client(fd);
    }
    Client(Client&& o) noexcept : fd_(std::exchange(o.fd_, -1)), buffer_(std::move(o.buffer_)) {}
    ~Client() { close(); }
    void close() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }
    int fd() const { return fd_; }
    unsigned short local_port() const {
        sockaddr_storage addr{};
        socklen_t len = sizeof(addr);
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
        if (addr.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
        if (addr.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
        return 0;
    }
    void send(std::string_view bytes) {
        while (!bytes.empty()) {
            ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n <= 0) return;
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
    }
    // Reads until `buffer` holds `what` (true), or the peer closes or 3 s pass (false).
    bool read_until(std::string_view what, std::chrono::milliseconds limit = 3000ms) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (buffer_.find(what) == std::string::npos) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return false;
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
            char chunk[4096];
            ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
            if (n <= 0) return false;
            buffer_.append(chunk, static_cast<std::size_t>(n));
        }
        return true;
    }
    // One response of Content-Length framing (of a HEAD request: its head).
    std::string response(bool head = false) {
        if (!read_until("\r\n\r\n")) return std::exchange(buffer_, {});
        std::size_t n = buffer_.find("\r\n\r\n") + 4;
        if (!head) {
            const auto complete = [this] { return test::RawClient::complete_length(buffer_) != std::string::npos; };
            for (int i = 0; i < 100 && !complete() && read_some(); ++i) {
            }
            n = std::min(test::RawClient::complete_length(buffer_), buffer_.size());
        }
        std::string one = buffer_.substr(0, n);
        buffer_.erase(0, n);
        return one;
    }
    bool read_some() {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 3000) <= 0) return false;
        char chunk[4096];
        ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
        if (n <= 0) return false;
        buffer_.append(chunk, static_cast<std::size_t>(n));
        return true;
    }
    std::string& buffer() { return buffer_; }

private:
    int fd_ = -1;
    std::string buffer_;
};

// Without the Date line, which may differ by a second between two answers.
std::string without_date(std::string r) {
    const auto p = r.find("\r\ndate: ");
    if (p != std::string::npos) r.erase(p, r.find("\r\n", p + 2) - p);
    return r;
}

std::string temp_socket_path(const char* name) {
    return (std::filesystem::temp_directory_path() / (std::string("fastapi-") + name + "-" + std::to_string(::getpid()) + ".sock"))
        .string();
}

bool has_ipv6_loopback() {
    int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
    if (fd < 0) return false;
    sockaddr_in6 addr{};
    addr.sin6_family = AF_INET6;
    addr.sin6_addr = in6addr_loopback;
    const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    ::close(fd);
    return ok;
}

// What a handler sees of its connection, as one line.
std::string describe(const Request& r) {
    return r.scheme + " host=" + r.host + " port=" + std::to_string(r.port) + " client=" + r.client_address + ":" +
           std::to_string(r.client_port) + " root=" + r.root_path;
}

App& describing_app() {
    static App app;
    static bool once = [] {
        app.get("/where", [](const Request& r) { return PlainTextResponse(describe(r)); });
        return true;
    }();
    (void)once;
    return app;
}

// Echoes everything it reads, beginning with what the server read past the upgrade request.
asio::awaitable<void> echo(Upgraded up) {
    try {
        if (!up.unread.empty()) co_await asio::async_write(up.stream, asio::buffer(up.unread), asio::use_awaitable);
        char buf[1024];
        for (;;) {
            const std::size_t n = co_await up.stream.async_read_some(asio::buffer(buf), asio::use_awaitable);
            co_await asio::async_write(up.stream, asio::buffer(buf, n), asio::use_awaitable);
        }
    } catch (const std::exception&) {  // the client left
    }
}

struct Leaving {
    std::atomic<bool> started{false}, ended{false}, aborted{false}, saw_disconnect{false};
};

}  // namespace transports_test

using namespace transports_test;

TEST_CASE("a Unix-socket server answers a request; a stale socket file is replaced and the file is removed on stop") {
    const std::string path = temp_socket_path("uds");
    {  // a stale socket file: bound by a process that never removed it
        int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
        ::unlink(path.c_str());
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
        ::close(fd);
        REQUIRE(std::filesystem::is_socket(path));
    }
    ServerOptions o;
    o.uds = path;
    Running s(describing_app(), o);
    CHECK(s.server().unix_path() == path);
    CHECK(s.server().url() == "unix:" + path);
    CHECK(s.server().host().empty());
    CHECK(s.server().port() == 0);
    {
        Client c = Client::unix_socket(path);
        c.send("GET /where HTTP/1.1\r\nHost: localhost\r\n\r\n");
        const std::string r = c.response();
        CHECK(test::status_of(r) == 200);
        CHECK(test::body_of(r) == "http host=localhost port=80 client=:0 root=");  // no client address on a Unix socket
        // Without Host: no local address either.
        c.send("GET /where HTTP/1.0\r\n\r\n");
        CHECK(test::body_of(c.response()) == "http host= port=0 client=:0 root=");
    }
    s.stop();
    CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("a Unix-socket server does not remove a file that is not a socket") {
    const std::string path = temp_socket_path("notasocket");
    { std::FILE* f = std::fopen(path.c_str(), "w"); REQUIRE(f); std::fclose(f); }
    ServerOptions o;
    o.uds = path;
    o.handle_signals = false;
    o.log_startup = false;
    o.threads = 1;
    Server server(describing_app(), o);
    CHECK_THROWS_AS(server.start(), std::system_error);
    CHECK(std::filesystem::is_regular_file(path));
    std::filesystem::remove(path);
}

TEST_CASE("a listening socket given by descriptor (an inherited fd) is served") {
    test::LoopbackListener listener(16);
    const unsigned short port = listener.port;

    ServerOptions o;
    o.fd = listener.release();  // the server owns it from now on
    Running s(describing_app(), o);
    CHECK(s.server().port() == port);
    CHECK(s.server().host() == "127.0.0.1");
    Client c = Client::tcp4(port);
    c.send("GET /where HTTP/1.1\r\nHost: localhost\r\n\r\n");
    const std::string r = c.response();
    CHECK(test::status_of(r) == 200);
    CHECK(test::body_of(r) == "http host=localhost port=80 client=127.0.0.1:" + std::to_string(c.local_port()) + " root=");
}

TEST_CASE("ServerOptions::fd that is no stream socket is refused") {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    ServerOptions o;
    o.fd = fds[0];
    o.threads = 1;
    Server server(describing_app(), o);
    CHECK_THROWS_AS(server.start(), std::invalid_argument);
    ::close(fds[0]);
    ::close(fds[1]);
}

TEST_CASE("reuse_port: two servers listen on one port (and without it the second cannot)") {
    App a, b;
    a.get("/who", [] { return PlainTextResponse("a"); });
    b.get("/who", [] { return PlainTextResponse("b"); });
    ServerOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.reuse_port = true;
    Running first(a, o);
    o.port = first.server().port();
    Running second(b, o);
    CHECK(second.server().port() == first.server().port());
    // Both accept on it: connections are spread between them by the kernel.
    std::set<std::string> seen;
    for (int i = 0; i < 64 && seen.size() < 2; ++i) {
        Client c = Client::tcp4(o.port);
        c.send("GET /who HTTP/1.1\r\nHost: x\r\n\r\n");
        const std::string r = c.response();
        REQUIRE(test::status_of(r) == 200);
        seen.insert(test::body_of(r));
    }
    CHECK(seen == std::set<std::string>{"a", "b"});

    ServerOptions plain = o;
    plain.reuse_port = false;
    plain.threads = 1;
    plain.handle_signals = false;
    Server third(a, plain);
    CHECK_THROWS_AS(third.start(), std::system_error);
}

TEST_CASE("IPv6: a server on ::1 answers, and knows its client's address") {
    if (!has_ipv6_loopback()) {
        MESSAGE("skipped: this machine has no IPv6 loopback");
        return;
    }
    ServerOptions o;
    o.host = "::1";
    o.port = 0;
    Running s(describing_app(), o);
    CHECK(s.server().host() == "::1");
    CHECK(s.server().url() == "http://[::1]:" + std::to_string(s.server().port()));
    Client c = Client::tcp6(s.server().port());
    c.send("GET /where HTTP/1.1\r\nHost: [::1]:" + std::to_string(s.server().port()) + "\r\n\r\n");
    const std::string r = c.response();
    CHECK(test::status_of(r) == 200);
    CHECK(test::body_of(r) == "http host=::1 port=" + std::to_string(s.server().port()) + " client=::1:" +
                                  std::to_string(c.local_port()) + " root=");
}

TEST_CASE("a Request knows scheme, host, port, client address and port, and root_path") {
    ServerOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.root_path = "/api/v1";
    Running s(describing_app(), o);
    const std::string port = std::to_string(s.server().port());
    Client c = Client::tcp4(s.server().port());
    const std::string client = "client=127.0.0.1:" + std::to_string(c.local_port()) + " root=/api/v1";
    c.send("GET /where HTTP/1.1\r\nHost: example.com:8080\r\n\r\n");
    CHECK(test::body_of(c.response()) == "http host=example.com port=8080 " + client);
    c.send("GET /where HTTP/1.1\r\nHost: example.com\r\n\r\n");
    CHECK(test::body_of(c.response()) == "http host=example.com port=80 " + client);
    c.send("GET /where HTTP/1.1\r\nHost: [2001:db8::1]:9000\r\n\r\n");
    CHECK(test::body_of(c.response()) == "http host=2001:db8::1 port=9000 " + client);
    c.send("GET /where HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");  // no Host: the local address
    CHECK(test::body_of(c.response()) == "http host=127.0.0.1 port=" + port + " " + client);

    TestClient tc(describing_app());
    CHECK(tc.get("/where").text == "http host=testserver port=80 client=testclient:0 root=");
}

TEST_CASE("hand-off after 101: the upgraded code gets the stream and the bytes sent with the request") {
    App app;
    app.get("/upgrade", [] {
        Response res;
        res.status = 101;
        res.set_header("Upgrade", "echo");
        res.set_header("Connection", "Upgrade");
        res.on_upgrade = [](Upgraded up) {
            auto ex = up.executor();
            asio::co_spawn(ex, echo(std::move(up)), asio::detached);
        };
        return res;
    });
    app.get("/plain", [] { return PlainTextResponse("plain"); });
    ServerOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    Running s(app, o);
    Client c = Client::tcp4(s.server().port());
    // The request and the new protocol's first bytes in one write, as a client that does not
    // wait for the 101 sends them; among them a request line that HTTP must not answer.
    c.send("GET /upgrade HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nhello GET /plain HTTP/1.1\r\n\r\n");
    REQUIRE(c.read_until("\r\n\r\n"));
    const std::string head = c.buffer().substr(0, c.buffer().find("\r\n\r\n") + 4);
    CHECK(head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
    CHECK(head.find("\r\nConnection: Upgrade\r\n") != std::string::npos);
    CHECK(head.find("\r\nUpgrade: echo\r\n") != std::string::npos);
    CHECK(head.find("content-length") == std::string::npos);
    REQUIRE(c.read_until("hello GET /plain HTTP/1.1\r\n\r\n"));
    c.send("more bytes");
    CHECK(c.read_until("more bytes"));
    CHECK(c.buffer().find("HTTP/1.1 200") == std::string::npos);  // HTTP answered nothing after the 101
}

TEST_CASE("a client that disconnects while its coroutine handler runs cancels the handler") {
    static Leaving leaving;
    App app;
    app.get("/slow", []() -> asio::awaitable<PlainTextResponse> {
        asio::steady_timer t(co_await asio::this_coro::executor, 30s);
        leaving.started = true;
        asio::error_code ec;
        co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        leaving.aborted = ec == asio::error::operation_aborted;
        leaving.ended = true;
        co_return PlainTextResponse("woke");
    });
    ServerOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    Running s(app, o);
    {
        Client c = Client::tcp4(s.server().port());
        c.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
        REQUIRE(test::eventually_true([] { return leaving.started.load(); }));
    }  // closed
    REQUIRE(test::eventually_true([] { return leaving.ended.load(); }, 5000ms));
    CHECK(leaving.aborted);
}

TEST_CASE("request.is_disconnected() tells a blocking handler its client is gone") {
    static Leaving leaving;
    App app;
    app.get("/block", [](const Request& r) {
        leaving.started = true;
        for (int i = 0; i < 1000 && !r.is_disconnected(); ++i) std::this_thread::sleep_for(5ms);
        leaving.saw_disconnect = r.is_disconnected();
        leaving.ended = true;
        return PlainTextResponse("done");
    }, {.blocking = true});
    ServerOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    Running s(app, o);
    {
        Client c = Client::tcp4(s.server().port());
        c.send("GET /block HTTP/1.1\r\nHost: x\r\n\r\n");
        REQUIRE(test::eventually_true([] { return leaving.started.load(); }));
        std::this_thread::sleep_for(20ms);
        CHECK_FALSE(leaving.ended.load());  // still connected: it goes on
    }
    REQUIRE(test::eventually_true([] { return leaving.ended.load(); }, 6000ms));
    CHECK(leaving.saw_disconnect);
}

TEST_CASE("requests pipelined behind a running coroutine handler are kept and answered in order") {
    App app;
    app.get("/later/{n}", [](Path<"n", int> n) -> asio::awaitable<PlainTextResponse> {
        asio::steady_timer t(co_await asio::this_coro::executor, 20ms);
        co_await t.async_wait(asio::use_awaitable);
        co_return PlainTextResponse("n" + std::to_string(*n));
    });
    ServerOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    Running s(app, o);
    Client c = Client::tcp4(s.server().port());
    c.send("GET /later/1 HTTP/1.1\r\nHost: x\r\n\r\n");
    std::this_thread::sleep_for(5ms);  // the first handler runs while the next requests come
    c.send("GET /later/2 HTTP/1.1\r\nHost: x\r\n\r\nGET /later/3 HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(test::body_of(c.response()) == "n1");
    CHECK(test::body_of(c.response()) == "n2");
    CHECK(test::body_of(c.response()) == "n3");
}

namespace transports_test {
// Bytes the kernel holds for the server's end of a loopback connection (not yet read by the
// server): rx_queue in /proc/net/tcp for local port `server_port`, remote port `client_port`.
inline long server_rx_queue(unsigned short server_port, unsigned short client_port) {
    std::ifstream f("/proc/net/tcp");
    std::string line;
    char local[16], remote[16];
    std::snprintf(local, sizeof(local), ":%04X", server_port);
    std::snprintf(remote, sizeof(remote), ":%04X", client_port);
    while (std::getline(f, line)) {
        std::istringstream in(line);
        std::string sl, loc, rem, st, queues;
        in >> sl >> loc >> rem >> st >> queues;
        if (loc.ends_with(local) && rem.ends_with(remote)) return std::stol(queues.substr(queues.find(':') + 1), nullptr, 16);
    }
    return -1;
}
}  // namespace transports_test

TEST_CASE("while a handler runs the server reads at most about 64 KiB more from its client, and answers all in order later") {
    static std::atomic<bool> started{false}, release{false};
    started = release = false;
    App app;
    app.get("/slow", [] {
        started = true;
        for (int i = 0; i < 2000 && !release; ++i) std::this_thread::sleep_for(5ms);
        return PlainTextResponse("slow");
    }, {.blocking = true});
    app.get("/n/{i}", [](Path<"i", int> i) { return PlainTextResponse("n" + std::to_string(*i)); });
    ServerOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    Running s(app, o);
    Client c = Client::tcp4(s.server().port());
    c.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
    REQUIRE(test::eventually_true([] { return started.load(); }));
    // 1 MiB of requests pipelined behind it, sent by a thread (send blocks once the kernel's
    // buffers are full, which is the point).
    const std::string pad(1000, 'p');
    std::string flood;
    const int count = 1000;
    for (int i = 0; i < count; ++i) flood += "GET /n/" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\nX-Pad: " + pad + "\r\n\r\n";
    std::atomic<std::size_t> sent{0};
    const int fd = c.fd();
    std::thread sender([&] {
        std::size_t at = 0;
        while (at < flood.size()) {
            const ssize_t n = ::send(fd, flood.data() + at, std::min<std::size_t>(4096, flood.size() - at), MSG_NOSIGNAL);
            if (n <= 0) break;
            at += static_cast<std::size_t>(n);
            sent = at;
        }
    });
    // Wait until the sending stops moving (blocked, or all sent): then what the server has read is
    // what was sent less what the kernel still holds on either side.
    std::size_t last = 0;
    for (int still = 0, i = 0; still < 10 && i < 300; ++i) {
        std::this_thread::sleep_for(20ms);
        const std::size_t now = sent.load();
        still = now == last ? still + 1 : 0;
        last = now;
    }
    int unsent = 0;
    REQUIRE(::ioctl(fd, SIOCOUTQ, &unsent) == 0);
    const long held = server_rx_queue(s.server().port(), c.local_port());
    REQUIRE(held >= 0);
    const long read_by_server = static_cast<long>(sent.load()) - unsent - held;
    INFO("sent " << sent.load() << ", unsent " << unsent << ", held by the server's kernel " << held);
    CHECK(read_by_server < 256 * 1024);  // the 64 KiB bound, plus at most one read's room
    CHECK(static_cast<long>(sent.load()) > read_by_server + 512 * 1024);  // it had much more to read, and did not
    release = true;
    sender.join();
    CHECK(sent.load() == flood.size());
    CHECK(test::body_of(c.response()) == "slow");
    int in_order = 0;
    for (int i = 0; i < count; ++i) {
        const std::string r = c.response();
        if (test::body_of(r) != "n" + std::to_string(i)) break;
        ++in_order;
    }
    CHECK(in_order == count);
}

// TestClient and a hand-off: the 101 is the response; on_upgrade gets the in-memory stream and
// the bytes after the request; what the upgraded code writes before it waits for more input
// follows the 101 in raw_response; past the bytes the test sent, it reads the end of the
// stream (the TestClient sends nothing more), so the call returns once that code is done.
TEST_CASE("TestClient: a response that hands off the connection gives the 101, and the upgraded code its stream and bytes") {
    static std::atomic<int> upgrades{0};
    upgrades = 0;
    App app;
    app.get("/upgrade", [] {
        Response res;
        res.status = 101;
        res.set_header("Upgrade", "echo");
        res.set_header("Connection", "Upgrade");
        res.on_upgrade = [](Upgraded up) {
            ++upgrades;
            auto ex = up.executor();
            asio::co_spawn(ex, echo(std::move(up)), asio::detached);
        };
        return res;
    });
    TestClient client(app);
    auto r = client.get("/upgrade", test::hdrs({{"Connection", "Upgrade"}, {"Upgrade", "echo"}}));
    CHECK(r.status_code == 101);
    CHECK(r.headers.get("upgrade") == std::optional<std::string_view>("echo"));
    CHECK(upgrades == 1);
    const std::string raw = client.raw_response(
        "GET /upgrade HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nframe-1 GET / HTTP/1.1\r\n\r\n");
    CHECK(upgrades == 2);
    REQUIRE(raw.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
    // after the head: exactly the echoed bytes, never an HTTP answer to the request line among them
    CHECK(raw.substr(raw.find("\r\n\r\n") + 4) == "frame-1 GET / HTTP/1.1\r\n\r\n");
}

TEST_CASE("one lifecycle: TestClient and the server answer byte for byte alike") {
    App app;
    app.get("/", [] { return PlainTextResponse("root"); });
    app.post("/items", [](test::Item item) { return item; });
    app.get("/async", []() -> asio::awaitable<std::string> { co_return "from a coroutine"; });
    app.get("/boom", []() -> std::string { throw HTTPException(418, "teapot", {{"X-Why", "because"}}); });
    ServerOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    Running s(app, o);
    TestClient tc(app);
    const std::vector<std::string> requests = {
        "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /missing HTTP/1.1\r\nHost: x\r\n\r\n",
        "POST /items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 28\r\n\r\n{\"name\": \"a\", \"price\": 1.5}\n",
        "POST /items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"price\": -1}",
        "GET /async HTTP/1.0\r\n\r\n",
        "GET /boom HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
    };
    for (const auto& req : requests) {
        CAPTURE(req);
        Client c = Client::tcp4(s.server().port());
        c.send(req);
        const std::string from_server = without_date(c.response(req.starts_with("HEAD")));
        const std::string from_test_client = without_date(tc.raw_response(req));
        CHECK(from_server.size() > 12);
        CHECK(from_server == from_test_client);
    }
}
