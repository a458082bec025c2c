// systemd's protocols as systemd speaks them (server/systemd.hpp), with the test as systemd:
// a notify socket of its own (a datagram socket in a temporary folder, or in the abstract
// namespace) that examples/deploy reports to (READY, STATUS, RELOADING with MONOTONIC_USEC,
// STOPPING, WATCHDOG), and listening sockets it makes and passes from fd 3 on (one TCP socket,
// or a TCP and a Unix one) with LISTEN_FDS and the child's own LISTEN_PID (socket activation).
// Every process stopped by its pid.
#include "support.hpp"

#include <sys/un.h>

#include <filesystem>
#include <mutex>
#include <thread>
#include <set>

namespace systemd_test {

using namespace std::chrono_literals;
using test::Process;

// A notify socket: every datagram received, in order.
class NotifySocket {
public:
    // `abstract_name` non-empty: "@name" in the abstract namespace; else a file in /tmp.
    explicit NotifySocket(const std::string& abstract_name = {}) {
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd_ >= 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        socklen_t len;
        if (!abstract_name.empty()) {
            name_ = "@" + abstract_name;
            std::memcpy(addr.sun_path + 1, abstract_name.data(), abstract_name.size());
            len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + abstract_name.size());
        } else {
            path_ = (std::filesystem::temp_directory_path() / ("fastapi-notify-" + std::to_string(::getpid()) + "-" +
                                                                 std::to_string(counter()++)))
                        .string();
            ::unlink(path_.c_str());
            name_ = path_;
            std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
            len = sizeof(addr);
        }
        REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) == 0);
    }
    ~NotifySocket() {
        ::close(fd_);
        if (!path_.empty()) ::unlink(path_.c_str());
    }
    const std::string& name() const { return name_; }
    // Receives (bounded) until a message holds `text`; true if one did.
    bool wait_for(const std::string& text, std::chrono::milliseconds limit = 10000ms) {
        if (seen(text, checked_)) return true;
        auto deadline = std::chrono::steady_clock::now() + limit;
        for (;;) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return false;
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
            char buf[4096];
            ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
            if (n > 0) messages.emplace_back(buf, static_cast<std::size_t>(n));
            if (seen(text, checked_)) return true;
        }
    }
    // Drains what came in `span` without waiting for anything in particular.
    void collect(std::chrono::milliseconds span) { (void)wait_for("\x01never\x01", span); }
    std::size_t count(const std::string& text) const {
        std::size_t n = 0;
        for (auto& m : messages) n += m.find(text) != std::string::npos;
        return n;
    }
    std::vector<std::string> messages;

private:
    // Messages from `from` on; `from` moves past the first match, so waits go forward in order.
    bool seen(const std::string& text, std::size_t& from) {
        for (std::size_t i = from; i < messages.size(); ++i)
            if (messages[i].find(text) != std::string::npos) {
                from = i + 1;
                return true;
            }
        return false;
    }
    static int& counter() {
        static int n = 0;
        return n;
    }
    int fd_ = -1;
    std::string path_, name_;
    std::size_t checked_ = 0;
};

// A listening TCP socket on 127.0.0.1 and a free port, as systemd's .socket unit makes.
using Listener = test::LoopbackListener;

// A listening Unix socket in a temporary folder, as a .socket unit's ListenStream=/run/app.sock.
struct UnixListener {
    test::TempDir dir{"fastapi-systemd"};
    std::string path = dir.path + "/app.sock";
    int fd = -1;
    UnixListener() {
        fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
        REQUIRE(::listen(fd, 128) == 0);
    }
    ~UnixListener() { ::close(fd); }
    // GET `target` over the socket: the whole answer, or "" (refused, reset, 3 s passed).
    std::string get(const std::string& target) const {
        const int c = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
        timeval tv{3, 0};
        ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        std::string all;
        if (::connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
            const std::string req = "GET " + target + " HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n";
            if (::send(c, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
                char buf[4096];
                ssize_t n;
                while ((n = ::recv(c, buf, sizeof buf, 0)) > 0) all.append(buf, static_cast<std::size_t>(n));
                if (n < 0) all.clear();
            }
        }
        ::close(c);
        return all;
    }
};

inline long pid_in(const std::string& body) {
    auto p = body.find("\"pid\":");
    return p == std::string::npos ? 0 : std::atol(body.c_str() + p + 6);
}

TEST_CASE("systemd: sd_notify reaches a socket file and one in the abstract namespace; none set, nothing is sent") {
    for (std::string abstract : {std::string(), "fastapi-notify-abstract-" + std::to_string(::getpid())}) {
        NotifySocket sock(abstract);
        ::setenv("NOTIFY_SOCKET", sock.name().c_str(), 1);
        CHECK(fastapi::detail::sd_notify("READY=1\nSTATUS=testing"));
        ::unsetenv("NOTIFY_SOCKET");
        CHECK(sock.wait_for("READY=1\nSTATUS=testing", 2000ms));
    }
    CHECK_FALSE(fastapi::detail::sd_notify("READY=1"));
    ::setenv("NOTIFY_SOCKET", "relative/path", 1);  // neither a path nor '@': ignored
    CHECK_FALSE(fastapi::detail::sd_notify("READY=1"));
    ::unsetenv("NOTIFY_SOCKET");
}

TEST_CASE("systemd: LISTEN_FDS meant for another process is not taken, and the variables are removed") {
    ::setenv("LISTEN_PID", std::to_string(::getpid() + 1).c_str(), 1);
    ::setenv("LISTEN_FDS", "1", 1);
    ::setenv("LISTEN_FDNAMES", "http", 1);
    CHECK(fastapi::detail::take_listen_fds().empty());
    CHECK(std::getenv("LISTEN_PID") == nullptr);
    CHECK(std::getenv("LISTEN_FDS") == nullptr);
    CHECK(std::getenv("LISTEN_FDNAMES") == nullptr);
    for (const char* count : {"abc", "-1", "99999999999"}) {  // nonsense: nothing taken
        ::setenv("LISTEN_PID", std::to_string(::getpid()).c_str(), 1);
        ::setenv("LISTEN_FDS", count, 1);
        CHECK(fastapi::detail::take_listen_fds().empty());
    }
}

TEST_CASE("systemd: WATCHDOG_USEC is halved, and ignored when WATCHDOG_PID names another process") {
    ::setenv("WATCHDOG_USEC", "3000000", 1);
    CHECK(fastapi::detail::watchdog_interval() == 1500000us);
    ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
    CHECK(fastapi::detail::watchdog_interval() == 1500000us);
    ::setenv("WATCHDOG_PID", "1", 1);
    CHECK(fastapi::detail::watchdog_interval() == 0us);
    ::unsetenv("WATCHDOG_PID");
    ::setenv("WATCHDOG_USEC", "soon", 1);
    CHECK(fastapi::detail::watchdog_interval() == 0us);
    ::unsetenv("WATCHDOG_USEC");
}

TEST_CASE("systemd: Type=notify with workers: READY once all listen, STATUS, WATCHDOG, RELOADING and READY around SIGHUP, STOPPING") {
    NotifySocket notify;
    const unsigned short port = test::free_port();
    Process app(test::example_path("deploy"),
                {{"--workers", "2"},
                 {"HOST=127.0.0.1", "PORT=" + std::to_string(port), "NOTIFY_SOCKET=" + notify.name(), "WATCHDOG_USEC=400000"}});
    REQUIRE(notify.wait_for("READY=1"));
    CHECK(app.log().find("All 2 workers are serving") != std::string::npos);  // READY came after both listened
    CHECK(test::http_get(port, "/whoami").status == 200);
    CHECK(notify.wait_for("STATUS=2 of 2 workers serving", 2000ms));
    notify.collect(1000ms);
    CHECK(notify.count("WATCHDOG=1") >= 3);  // every 0.2 s
    const auto before_usec = fastapi::detail::monotonic_usec();
    app.kill(SIGHUP);
    REQUIRE(notify.wait_for("RELOADING=1"));
    std::string reloading;
    for (auto& m : notify.messages)
        if (m.find("RELOADING=1") != std::string::npos) reloading = m;
    auto p = reloading.find("MONOTONIC_USEC=");
    REQUIRE(p != std::string::npos);
    const unsigned long long usec = std::stoull(reloading.substr(p + 15));
    CHECK(usec >= before_usec);
    CHECK(usec < before_usec + 5000000);
    CHECK(notify.wait_for("READY=1"));  // after the restart
    CHECK(app.log().find("SIGHUP: rolling restart done") != std::string::npos);
    app.kill(SIGTERM);
    CHECK(notify.wait_for("STOPPING=1"));
    CHECK(app.wait_exit(10s) == 0);
}

TEST_CASE("systemd: no WATCHDOG=1 when WATCHDOG_PID is another process") {
    NotifySocket notify;
    const unsigned short port = test::free_port();
    Process app(test::example_path("deploy"), {{"--workers", "2"},
                                               {"HOST=127.0.0.1", "PORT=" + std::to_string(port),
                                                "NOTIFY_SOCKET=" + notify.name(), "WATCHDOG_USEC=200000", "WATCHDOG_PID=1"}});
    REQUIRE(notify.wait_for("READY=1"));
    notify.collect(600ms);
    CHECK(notify.count("WATCHDOG=1") == 0);
}

TEST_CASE("systemd: a single process notifies too: READY, WATCHDOG, STOPPING") {
    NotifySocket notify("fastapi-single-" + std::to_string(::getpid()));  // abstract, as systemd's own may be
    const unsigned short port = test::free_port();
    Process app(test::example_path("deploy"), {{},
                                               {"HOST=127.0.0.1", "PORT=" + std::to_string(port),
                                                "NOTIFY_SOCKET=" + notify.name(), "WATCHDOG_USEC=300000"}});
    REQUIRE(notify.wait_for("READY=1"));
    CHECK(test::http_get(port, "/whoami").status == 200);
    notify.collect(800ms);
    CHECK(notify.count("WATCHDOG=1") >= 3);
    app.kill(SIGTERM);
    CHECK(notify.wait_for("STOPPING=1"));
    CHECK(app.wait_exit(10s) == 0);
}

// The pids that answered four concurrent clients, each getting `get()` 40 times (0: no answer).
template <class Get>
std::set<long> answering_pids(Get get) {
    std::set<long> pids;
    std::mutex mutex;
    std::vector<std::thread> clients;
    for (int c = 0; c < 4; ++c)
        clients.emplace_back([&] {
            for (int i = 0; i < 40; ++i) {
                const long pid = pid_in(get());
                std::lock_guard lock(mutex);
                pids.insert(pid);
            }
        });
    for (auto& t : clients) t.join();
    pids.erase(0);
    return pids;
}

TEST_CASE("systemd: socket activation: the workers serve on the socket passed as fd 3, and bind nothing else") {
    Listener listener;
    const unsigned short unused = test::free_port();
    Process app(test::example_path("deploy"), {{"--workers", "2"},
                                               {"PORT=" + std::to_string(unused), "HOST=127.0.0.1"},
                                               listener.fd,
                                               "http"});
    REQUIRE(app.log_has("All 2 workers are serving", 10000ms));
    // One socket shared by both (systemd gave one): each worker's loop waits on it, and
    // concurrent clients reach both.
    CHECK(answering_pids([&] { return test::http_get(listener.port, "/sleep?ms=10").body; }).size() == 2);
    CHECK(test::http_get(unused, "/whoami", 500ms).status == 0);  // PORT was not bound
    // A rolling restart keeps serving on the same socket.
    app.kill(SIGHUP);
    REQUIRE(app.log_has("SIGHUP: rolling restart done", 10000ms));
    CHECK(test::http_get(listener.port, "/whoami").status == 200);
    app.kill(SIGTERM);
    CHECK(app.wait_exit(10s) == 0);
}

TEST_CASE("systemd: socket activation of a single process") {
    Listener listener;
    const unsigned short unused = test::free_port();
    Process app(test::example_path("deploy"), {{}, {"PORT=" + std::to_string(unused), "HOST=127.0.0.1"}, listener.fd, ""});
    CHECK(test::eventually_true([&] { return test::http_get(listener.port, "/whoami", 500ms).status == 200; }, 10000ms));
    CHECK(pid_in(test::http_get(listener.port, "/whoami").body) == app.pid());
    CHECK(test::http_get(unused, "/whoami", 500ms).status == 0);
    app.kill(SIGTERM);
    CHECK(app.wait_exit(10s) == 0);
}

// An app.socket with two ListenStream= lines (a TCP port and a Unix socket): LISTEN_FDS=2, and
// every socket is served, by every worker and by a single process, across a SIGHUP.
TEST_CASE("systemd: socket activation with two sockets (TCP and Unix): both are served") {
    for (const char* workers : {"2", ""}) {
        CAPTURE(workers);
        Listener tcp;
        UnixListener unix_socket;
        Process::Options options({}, {"PORT=" + std::to_string(test::free_port()), "HOST=127.0.0.1"}, tcp.fd, "http:unix");
        if (*workers) options.args = {"--workers", workers};
        options.more_listen_fds = {unix_socket.fd};
        Process app(test::example_path("deploy"), options);
        if (*workers) REQUIRE(app.log_has("All 2 workers are serving", 10000ms));
        CHECK(test::eventually_true([&] { return test::http_get(tcp.port, "/whoami", 500ms).status == 200; }, 10000ms));
        std::string r = unix_socket.get("/whoami");
        CHECK(test::status_of(r) == 200);
        CHECK(pid_in(r) > 0);
        CHECK(app.log().find("WARNING") == std::string::npos);  // no "serving on the first" any more
        if (*workers) {
            // The workers serve both: concurrent clients of the Unix socket reach both workers.
            CHECK(answering_pids([&] { return unix_socket.get("/sleep?ms=10"); }).size() == 2);
            app.kill(SIGHUP);
            REQUIRE(app.log_has("SIGHUP: rolling restart done", 10000ms));
            CHECK(test::status_of(unix_socket.get("/whoami")) == 200);
            CHECK(test::http_get(tcp.port, "/whoami").status == 200);
        } else {
            CHECK(pid_in(r) == app.pid());
        }
        app.kill(SIGTERM);
        CHECK(app.wait_exit(10s) == 0);
    }
}

}  // namespace systemd_test
