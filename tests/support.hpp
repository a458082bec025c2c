// Helpers for tests that need a real socket: a server on a thread of its own, a raw client
// with timeouts, and child processes (the examples) stopped by their pid. Loopback only;
// every wait is bounded. Also FastAPI's tutorial Item, which many tests read and write.
#pragma once
#include <doctest/doctest.h>

#include "fastapi.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <map>
#include <mutex>
#include <optional>
#include <regex>
#include <sstream>
#include <utility>
#include <vector>
#include <string>
#include <string_view>
#include <thread>

namespace test {

using namespace std::chrono_literals;

// Built with AddressSanitizer or ThreadSanitizer (tools/test --sanitize): the example programs
// the tests start are the plain build's even then, so tests that only load those programs
// (wrk's) prove nothing more there and may skip (doctest::skip(test::sanitized)).
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool sanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool sanitized = true;
#else
inline constexpr bool sanitized = false;
#endif
#else
inline constexpr bool sanitized = false;
#endif

// FastAPI's tutorial model:
//   class Item(BaseModel):
//       name: str = Field(min_length=1, max_length=50)
//       description: str | None = None
//       price: float = Field(gt=0)
//       tax: float | None = None
//       tags: list[str] = []
struct Item {
    fastapi::Field<std::string, fastapi::MinLength<1>, fastapi::MaxLength<50>> name;
    std::optional<std::string> description;
    fastapi::Field<double, fastapi::Gt<0>> price;
    std::optional<double> tax;
    std::vector<std::string> tags;
};

// A Server with its own loops (two unless told) on background threads, listening on 127.0.0.1
// and a free port.
class LiveServer {
public:
    explicit LiveServer(fastapi::App& app, fastapi::ServerOptions options = {}) {
        options.host = "127.0.0.1";
        options.port = 0;
        if (options.threads == 0) options.threads = 2;  // several loops: what one thread never shows
        options.handle_signals = false;
        options.log_startup = false;
        server_ = std::make_unique<fastapi::Server>(app, options);
        server_->start();
        thread_ = std::thread([this] { server_->run(); });
    }
    ~LiveServer() { stop(); }
    void stop() {
        if (!thread_.joinable()) return;
        server_->stop();
        thread_.join();
    }
    unsigned short port() const { return server_->port(); }
    fastapi::Server& server() { return *server_; }

private:
    std::unique_ptr<fastapi::Server> server_;
    std::thread thread_;
};

// A blocking TCP client with a deadline on every call.
class RawClient {
public:
    explicit RawClient(unsigned short port, std::chrono::milliseconds timeout = 3000ms) : timeout_(timeout) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
        int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    ~RawClient() {
        if (fd_ >= 0) ::close(fd_);
    }
    RawClient(const RawClient&) = delete;

    void send(std::string_view bytes) {
        while (!bytes.empty()) {
            ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n <= 0) return;  // the server may have closed; the reads will tell
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
    }

    // Reads until `pred(received)` holds, the peer closes, or the timeout passes.
    template <class Pred>
    std::string read_until(Pred pred) {
        if (!pred(buffer_))
            read_chunks([&](std::string_view chunk) {
                buffer_.append(chunk);
                return !pred(buffer_);
            });
        return buffer_;
    }

    // One whole response (Content-Length framing), removed from the buffer; empty on timeout.
    std::string read_response() {
        std::string text = read_until([](const std::string& b) { return complete_length(b) != std::string::npos; });
        std::size_t len = complete_length(text);
        if (len == std::string::npos) {
            std::string all = buffer_;
            buffer_.clear();
            return all;
        }
        std::string one = buffer_.substr(0, len);
        buffer_.erase(0, len);
        return one;
    }

    // Reads without keeping what it reads: each chunk received (what one recv returned) goes
    // to `on_chunk`, until it returns false, the peer closes, or the timeout passes. For a long
    // stream whose bytes would otherwise grow this process (whose memory a test measures).
    template <class F>
    void read_chunks(F on_chunk) {
        auto deadline = std::chrono::steady_clock::now() + timeout_;
        for (bool more = true; more && !closed_;) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) break;
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
            char chunk[65536];
            ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
            if (n <= 0) {
                closed_ = true;
                break;
            }
            more = on_chunk(std::string_view(chunk, static_cast<std::size_t>(n)));
        }
    }

    // True if the server closes the connection within the timeout.
    bool closed_by_peer() {
        read_until([](const std::string&) { return false; });
        return closed_;
    }
    bool closed() const { return closed_; }
    std::string& buffer() { return buffer_; }

    // Length of the first complete response in `b` (headers + Content-Length body), or npos.
    static std::size_t complete_length(const std::string& b) {
        auto end = b.find("\r\n\r\n");
        if (end == std::string::npos) return std::string::npos;
        std::size_t body = 0;
        std::string head = b.substr(0, end);
        for (auto& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (head.compare(9, 1, "1") == 0) return end + 4;  // 1xx: no body
        if (auto p = head.find("\r\ncontent-length:"); p != std::string::npos) body = std::stoul(head.substr(p + 17));
        if (b.size() < end + 4 + body) return std::string::npos;
        return end + 4 + body;
    }

private:
    int fd_ = -1;
    std::chrono::milliseconds timeout_;
    std::string buffer_;
    bool closed_ = false;
};

// The resident set of this process (a LiveServer's server with it), from /proc.
inline std::size_t rss_bytes() {
    std::ifstream statm("/proc/self/statm");
    std::size_t pages = 0, resident = 0;
    statm >> pages >> resident;
    return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

inline int status_of(const std::string& response) {
    return response.size() >= 12 ? std::stoi(response.substr(9, 3)) : 0;
}
inline std::string body_of(const std::string& response) {
    auto p = response.find("\r\n\r\n");
    return p == std::string::npos ? "" : response.substr(p + 4);
}

// A child process (an example program), stopped by its pid when the object goes.
class Child {
public:
    Child(const std::string& path, std::vector<std::pair<std::string, std::string>> env) {
        pid_ = ::fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            for (auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
            int devnull = ::open("/dev/null", O_WRONLY);
            ::dup2(devnull, 2);
            ::execl(path.c_str(), path.c_str(), static_cast<char*>(nullptr));
            ::_exit(127);
        }
    }
    ~Child() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }
    // SIGTERM, then the exit status (-1 if it had to be killed after `grace`).
    int terminate(std::chrono::milliseconds grace = 5000ms) {
        ::kill(pid_, SIGTERM);
        auto deadline = std::chrono::steady_clock::now() + grace;
        int status = 0;
        while (std::chrono::steady_clock::now() < deadline) {
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            }
            std::this_thread::sleep_for(10ms);
        }
        return -1;
    }
    pid_t pid() const { return pid_; }

private:
    pid_t pid_ = -1;
};

// Polls `pred` (bounded) until it holds.
template <class Pred>
bool eventually_true(Pred pred, std::chrono::milliseconds limit = 3000ms) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(5ms);
    }
    return true;
}

// A free loopback port, found by binding port 0 (racy in theory, fine for tests).
inline unsigned short free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    socklen_t len = sizeof(addr);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

// A listening TCP socket on 127.0.0.1 at a free port (bound to port 0: no race), as a systemd
// .socket unit or a supervisor makes one, or to keep a port in use; closed with the object
// unless released (to a server that owns it from then on).
struct LoopbackListener {
    int fd = -1;
    unsigned short port = 0;
    explicit LoopbackListener(int backlog = 128) {
        fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd >= 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
        REQUIRE(::listen(fd, backlog) == 0);
        socklen_t len = sizeof(addr);
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
        port = ntohs(addr.sin_port);
    }
    ~LoopbackListener() {
        if (fd >= 0) ::close(fd);
    }
    LoopbackListener(const LoopbackListener&) = delete;
    LoopbackListener& operator=(const LoopbackListener&) = delete;
    int release() { return std::exchange(fd, -1); }
};

// Sets (a value) or unsets (nullptr) an environment variable for a scope, and puts back what
// was there before.
class ScopedEnv {
public:
    ScopedEnv(std::string name, const char* value) : name_(std::move(name)) {
        if (const char* old = std::getenv(name_.c_str())) old_ = old;
        if (value) ::setenv(name_.c_str(), value, 1);
        else ::unsetenv(name_.c_str());
    }
    ScopedEnv(std::string name, const std::string& value) : ScopedEnv(std::move(name), value.c_str()) {}
    ~ScopedEnv() {
        if (old_) ::setenv(name_.c_str(), old_->c_str(), 1);
        else ::unsetenv(name_.c_str());
    }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

private:
    std::string name_;
    std::optional<std::string> old_;
};

// True when a connection to 127.0.0.1:`port` is established (something listens there); closed at once.
inline bool connects(unsigned short port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    ::close(fd);
    return ok;
}

// Waits (bounded) until something accepts connections on the port.
inline bool wait_for_port(unsigned short port, std::chrono::milliseconds limit = 10000ms) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        if (connects(port)) return true;
        std::this_thread::sleep_for(20ms);
    }
    return false;
}

// Request headers for TestClient calls: hdrs({{"x-token", "abc"}}).
inline fastapi::Headers hdrs(std::initializer_list<std::pair<const char*, const char*>> fields) {
    fastapi::Headers h;
    for (auto& [name, value] : fields) fastapi::detail::append_header(h, name, value);
    return h;
}

// An example program as the project's CMake built it (or from $FASTAPI_EXAMPLES_DIR: the
// sanitizer build runs the examples of the plain build). Built with += : std::string +
// const char* trips a GCC 12 -Warray-bounds false positive at -O2.
inline std::string example_path(const char* name) {
    const char* dir = std::getenv("FASTAPI_EXAMPLES_DIR");
    std::string path = dir && *dir ? dir : FASTAPI_EXAMPLES_DIR;
    path += '/';
    path += name;
    return path;
}

// An example started as a user starts it (HOST, PORT and any other variables), asked over
// real sockets, stopped by its pid when this goes out of scope (or by child.terminate()).
struct RunningExample {
    unsigned short port = free_port();
    Child child;
    explicit RunningExample(const char* name, std::vector<std::pair<std::string, std::string>> env = {})
        : child(example_path(name), with_address(std::move(env), port)) {
        REQUIRE(wait_for_port(port));
    }
    static std::vector<std::pair<std::string, std::string>> with_address(std::vector<std::pair<std::string, std::string>> env,
                                                                         unsigned short port) {
        env.emplace_back("HOST", "127.0.0.1");
        env.emplace_back("PORT", std::to_string(port));
        return env;
    }
    // One raw request on a new connection; the whole response.
    std::string ask(const std::string& request) {
        RawClient c(port);
        c.send(request);
        return c.read_response();
    }
    std::string ask(const std::string& method, const std::string& target, const std::string& headers = "",
                    const std::string& body = "") {
        std::string request = method + " " + target + " HTTP/1.1\r\nHost: localhost\r\n" + headers;
        if (!body.empty()) request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
        return ask(request + "\r\n" + body);
    }
    std::string post(const std::string& target, const std::string& content_type, const std::string& body,
                     const std::string& extra = {}) {
        return ask("POST " + target + " HTTP/1.1\r\nHost: x\r\nContent-Type: " + content_type +
                   "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra + "\r\n" + body);
    }
};

// A program started with arguments and exactly the environment given (plus PATH), its stderr
// and stdout in a log file the test reads; optionally a socket passed as fd 3 with
// LISTEN_FDS=1 and LISTEN_PID set to the child's own pid (systemd's socket activation: only
// a fork can know that pid before exec, so the child writes it with async-signal-safe code).
// Killed (SIGKILL) and reaped by its pid when the object goes; every wait bounded.
class Process {
public:
    struct Options {
        std::vector<std::string> args;
        std::vector<std::string> env;  // "NAME=value"
        int listen_fd = -1;            // passed as fd 3, with LISTEN_FDS=1 and LISTEN_PID
        std::string listen_fdnames;
        std::vector<int> more_listen_fds;  // with listen_fd: passed as fd 4, 5, ... (LISTEN_FDS counts them)
        Options(std::vector<std::string> a = {}, std::vector<std::string> e = {}, int fd = -1, std::string names = {})
            : args(std::move(a)), env(std::move(e)), listen_fd(fd), listen_fdnames(std::move(names)) {}
    };
    Process(const std::string& path, Options o) {
        char tmpl[] = "/tmp/fastapi-process-log-XXXXXX";
        int log = ::mkostemp(tmpl, O_CLOEXEC);
        REQUIRE(log >= 0);
        log_path_ = tmpl;
        // Everything the child needs is made before the fork: after it only async-signal-safe calls.
        std::vector<std::string> argv_s{path};
        for (auto& a : o.args) argv_s.push_back(a);
        std::vector<std::string> env_s{"PATH=/usr/bin:/bin"};
        for (auto& e : o.env) env_s.push_back(e);
        std::string listen_pid = "LISTEN_PID=0000000000";
        if (o.listen_fd >= 0) {
            env_s.push_back("LISTEN_FDS=" + std::to_string(1 + o.more_listen_fds.size()));
            if (!o.listen_fdnames.empty()) env_s.push_back("LISTEN_FDNAMES=" + o.listen_fdnames);
        }
        std::vector<char*> argv, envp;
        for (auto& a : argv_s) argv.push_back(a.data());
        argv.push_back(nullptr);
        for (auto& e : env_s) envp.push_back(e.data());
        if (o.listen_fd >= 0) envp.push_back(listen_pid.data());
        envp.push_back(nullptr);
        char* pid_digits = listen_pid.data() + 11;
        std::vector<int> listen_fds;
        if (o.listen_fd >= 0) {
            listen_fds.push_back(o.listen_fd);
            listen_fds.insert(listen_fds.end(), o.more_listen_fds.begin(), o.more_listen_fds.end());
        }
        const int listen_fd = o.listen_fd;
        pid_ = ::fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            ::dup2(log, 1);
            ::dup2(log, 2);
            if (listen_fd >= 0) {
                // Out of the way first (one may be fd 4 that is to become fd 3), then from 3 on.
                for (std::size_t i = 0; i < listen_fds.size(); ++i) listen_fds[i] = ::fcntl(listen_fds[i], F_DUPFD_CLOEXEC, 100);
                for (std::size_t i = 0; i < listen_fds.size(); ++i) ::dup2(listen_fds[i], 3 + static_cast<int>(i));
                // LISTEN_PID=<this pid>, written without the allocator.
                char digits[16];
                int n = 0;
                for (long v = static_cast<long>(::getpid()); v > 0; v /= 10) digits[n++] = static_cast<char>('0' + v % 10);
                for (int i = 0; i < n; ++i) pid_digits[i] = digits[n - 1 - i];
                pid_digits[n] = '\0';
            }
            sigset_t none;
            sigemptyset(&none);
            ::sigprocmask(SIG_SETMASK, &none, nullptr);
            ::execve(argv[0], argv.data(), envp.data());
            ::_exit(127);
        }
        ::close(log);
    }
    ~Process() {
        kill(SIGKILL);
        wait_exit(5000ms);
        if (!log_path_.empty()) ::unlink(log_path_.c_str());
    }
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;

    pid_t pid() const { return pid_; }
    void kill(int sig) {
        if (pid_ > 0 && !exited_) ::kill(pid_, sig);
    }
    // The exit status (128 + signal when killed), or -1 if it has not exited within `limit`.
    int wait_exit(std::chrono::milliseconds limit) {
        if (exited_) return status_;
        if (pid_ <= 0) return -1;
        auto deadline = std::chrono::steady_clock::now() + limit;
        for (;;) {
            int st = 0;
            if (::waitpid(pid_, &st, WNOHANG) == pid_) {
                exited_ = true;
                status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
                return status_;
            }
            if (std::chrono::steady_clock::now() >= deadline) return -1;
            std::this_thread::sleep_for(5ms);
        }
    }
    std::string log() const {
        std::string text;
        if (FILE* f = std::fopen(log_path_.c_str(), "rb")) {
            char buf[4096];
            std::size_t n;
            while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) text.append(buf, n);
            std::fclose(f);
        }
        return text;
    }
    // Waits (bounded) until the log holds `text`.
    bool log_has(const std::string& text, std::chrono::milliseconds limit = 5000ms) const {
        return eventually_true([&] { return log().find(text) != std::string::npos; }, limit);
    }
    // The pids of its children now (/proc/<pid>/task/<pid>/children).
    std::vector<pid_t> children() const {
        std::vector<pid_t> pids;
        std::string path = "/proc/" + std::to_string(pid_) + "/task/" + std::to_string(pid_) + "/children";
        if (FILE* f = std::fopen(path.c_str(), "r")) {
            long p;
            while (std::fscanf(f, "%ld", &p) == 1) pids.push_back(static_cast<pid_t>(p));
            std::fclose(f);
        }
        return pids;
    }

private:
    pid_t pid_ = -1;
    bool exited_ = false;
    int status_ = -1;
    std::string log_path_;
};

// One GET on a new connection (Connection: close) with a deadline: the status (0 when the
// connection failed, was reset or timed out) and the body.
struct Got {
    int status = 0;
    std::string body;
};
// With `json_body`, a POST of it (application/json) instead of a GET.
inline Got http_get(unsigned short port, const std::string& target, std::chrono::milliseconds timeout = 3000ms,
                    const std::string& json_body = {}) {
    Got got;
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return got;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
        ::close(fd);
        return got;
    }
    std::string req = json_body.empty()
                          ? "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                          : "POST " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                                "Content-Type: application/json\r\nContent-Length: " + std::to_string(json_body.size()) +
                                "\r\n\r\n" + json_body;
    if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
        ::close(fd);
        return got;
    }
    std::string all;
    char buf[4096];
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
        if (n > 0) {
            all.append(buf, static_cast<std::size_t>(n));
            continue;
        }
        if (n == 0) break;  // the server closed after its response
        all.clear();        // reset or timed out: no answer
        break;
    }
    ::close(fd);
    if (std::chrono::steady_clock::now() > deadline || all.size() < 12 || all.compare(0, 5, "HTTP/") != 0) return got;
    std::size_t end = all.find("\r\n\r\n");
    if (end == std::string::npos) return got;
    got.status = std::atoi(all.c_str() + 9);
    got.body = all.substr(end + 4);
    return got;
}

// The pid in a JSON answer of examples/deploy (/whoami, /sleep), or 0.
inline long pid_in(const std::string& body) {
    auto p = body.find("\"pid\":");
    return p == std::string::npos ? 0 : std::atol(body.c_str() + p + 6);
}

// Client threads sending GET `target` (or POST `json_body` to it; a new connection each,
// test::http_get) to a port until stopped: every answer that is not a 2xx, and every connection
// refused, reset or timed out, is a failure. The answers are counted by the pid in their body
// (pid_in).
class Load {
public:
    Load(unsigned short port, int threads, std::string target = "/sleep?ms=5", std::string json_body = {}) {
        for (int i = 0; i < threads; ++i)
            threads_.emplace_back([this, port, target, json_body] {
                auto deadline = std::chrono::steady_clock::now() + 60s;  // bounded even if never stopped
                while (!stop_ && std::chrono::steady_clock::now() < deadline) {
                    auto got = http_get(port, target, 5000ms, json_body);
                    if (got.status >= 200 && got.status < 300) {
                        ++ok_;
                        std::lock_guard lock(mutex_);
                        ++by_pid_[pid_in(got.body)];
                    } else {
                        ++failed_;
                    }
                }
            });
    }
    ~Load() { stop(); }
    Load(const Load&) = delete;
    Load& operator=(const Load&) = delete;
    void stop() {
        stop_ = true;
        for (auto& t : threads_)
            if (t.joinable()) t.join();
    }
    std::size_t ok() const { return ok_; }
    std::size_t failed() const { return failed_; }
    std::map<long, std::size_t> by_pid() {
        std::lock_guard lock(mutex_);
        return by_pid_;
    }

private:
    std::atomic<bool> stop_{false};
    std::atomic<std::size_t> ok_{0}, failed_{0};
    std::mutex mutex_;
    std::map<long, std::size_t> by_pid_;
    std::vector<std::thread> threads_;
};

// ---- Debian's nginx in front of an app (tests/unit-proxy-nginx.cpp, unit-deploy-nginx.cpp) ----

inline std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// `text` with its first `from` replaced; fails the test when `from` is not there.
inline std::string replaced(std::string text, const std::string& from, const std::string& to) {
    std::size_t at = text.find(from);
    REQUIRE_MESSAGE(at != std::string::npos, "the text no longer has: " << from);
    return text.replace(at, from.size(), to);
}

// How many times `what` occurs in `text` (lines in a log).
inline std::size_t occurrences(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (std::size_t p = 0; (p = text.find(what, p)) != std::string::npos; p += what.size()) ++n;
    return n;
}

// A temporary folder, removed with what it holds when the object goes.
struct TempDir {
    std::string path;
    explicit TempDir(const char* prefix = "fastapi-nginx") {
        std::string tmpl = std::string("/tmp/") + prefix + "-XXXXXX";
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        path = tmpl;
        ::chmod(path.c_str(), 0755);  // nginx's workers may run as another user (as root: nobody)
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
};

inline std::string nginx_binary() {
    for (const char* p : {"/usr/sbin/nginx", "/usr/bin/nginx"})
        if (::access(p, X_OK) == 0) return p;
    return {};
}

// examples/deploy/nginx.conf as written, listening on 127.0.0.1:`listen_port` and proxying to
// `upstream` ("127.0.0.1:8123" or "unix:/path/app.sock").
inline std::string deploy_nginx_site(unsigned short listen_port, const std::string& upstream) {
    std::string site = read_text(std::string(FASTAPI_SOURCE_DIR) + "/examples/deploy/nginx.conf");
    REQUIRE_MESSAGE(!site.empty(), "examples/deploy/nginx.conf is missing");
    site = replaced(site, "listen 80;", "listen 127.0.0.1:" + std::to_string(listen_port) + ";");
    return replaced(site, "server 127.0.0.1:8000;", "server " + upstream + ";");
}

// A second server on the deploy site's upstream ("app"), as where TLS ends: nginx says https
// (and passes the client's address on when `forward_for`).
inline std::string nginx_https_server(unsigned short listen_port, bool forward_for) {
    std::string s = "  server {\n    listen 127.0.0.1:" + std::to_string(listen_port) + ";\n" +
                    "    location /api/ {\n      proxy_pass http://app/;\n      proxy_http_version 1.1;\n" +
                    "      proxy_set_header Connection \"\";\n      proxy_set_header Host $host;\n" +
                    "      proxy_set_header X-Forwarded-Proto https;\n";
    if (forward_for) s += "      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n";
    return s + "    }\n  }\n";
}

// nginx in the foreground (daemon off) with `dir`/nginx.conf written here: its own pid file,
// logs and temporary folders in `dir`, site.conf (`site`) included, then `more` (whole
// server blocks) in the http block. Our child is its master, stopped by that pid (SIGTERM,
// nginx's fast shutdown, waited for boundedly; SIGKILL if it lingers), also when a check fails.
class Nginx {
public:
    Nginx(const std::string& binary, const std::string& dir, const std::string& site, const std::string& more = "")
        : dir_(dir) {
        std::ofstream(dir + "/site.conf") << site;
        std::ofstream(dir + "/nginx.conf")
            << "daemon off;\nmaster_process on;\nworker_processes 1;\n"
            << "pid " << dir << "/nginx.pid;\nerror_log " << dir << "/error.log info;\n"
            << "events { worker_connections 256; }\n"
            << "http {\n  access_log off;\n"
            << "  client_body_temp_path " << dir << "/body;\n  proxy_temp_path " << dir << "/proxy;\n"
            << "  fastcgi_temp_path " << dir << "/fastcgi;\n  uwsgi_temp_path " << dir << "/uwsgi;\n"
            << "  scgi_temp_path " << dir << "/scgi;\n"
            << "  include " << dir << "/site.conf;\n"
            << more << "}\n";
        pid_ = ::fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            int devnull = ::open("/dev/null", O_WRONLY);
            ::dup2(devnull, 1);
            ::dup2(devnull, 2);
            std::string conf = dir + "/nginx.conf", log = dir + "/error.log";
            ::execl(binary.c_str(), binary.c_str(), "-p", dir.c_str(), "-c", conf.c_str(), "-e", log.c_str(),
                    static_cast<char*>(nullptr));
            ::_exit(127);
        }
    }
    ~Nginx() { stop(); }
    Nginx(const Nginx&) = delete;
    Nginx& operator=(const Nginx&) = delete;
    void stop() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGTERM);
        auto deadline = std::chrono::steady_clock::now() + 5s;
        while (std::chrono::steady_clock::now() < deadline) {
            if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
                pid_ = -1;
                return;
            }
            std::this_thread::sleep_for(10ms);
        }
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }
    bool running() {
        if (pid_ <= 0) return false;
        if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
            pid_ = -1;
            return false;
        }
        return true;
    }
    pid_t pid() const { return pid_; }
    std::string error_log() const { return read_text(dir_ + "/error.log"); }

private:
    std::string dir_;
    pid_t pid_ = -1;
};

// One request to 127.0.0.1:`port` on a new connection from `from` (a loopback address), the whole response
// (the request says Connection: close); bounded by a deadline.
inline std::string ask_from(unsigned short port, const std::string& request, const char* from = "127.0.0.1") {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in local{};
    local.sin_family = AF_INET;
    ::inet_pton(AF_INET, from, &local.sin_addr);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) == 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        return {};
    }
    ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    std::string out;
    auto deadline = std::chrono::steady_clock::now() + 5s;
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
        char buf[16384];
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return out;
}

// GET `target` (Host: shop.example) from `from`, with `extra` header lines.
inline std::string get_from(unsigned short port, const std::string& target, const std::string& extra = "",
                       const char* from = "127.0.0.1") {
    return ask_from(port, "GET " + target + " HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n" + extra + "\r\n", from);
}

// The first value of the header `name` in a raw response, or "".
inline std::string header_of(const std::string& response, const std::string& name) {
    std::smatch m;
    if (std::regex_search(response, m, std::regex("\r\n" + name + ": ([^\r]*)\r\n", std::regex::icase))) return m[1];
    return {};
}

// ---- TCP sockets as /proc shows them (which process holds which connection) ----

// One IPv4 or IPv6 TCP socket of this network namespace (/proc/net/tcp, tcp6): its ports, its
// state (proc(5): 0x01 established, 0x0A listening) and its inode.
struct TcpSocket {
    unsigned local_port = 0, remote_port = 0, state = 0;
    unsigned long inode = 0;
};
inline std::vector<TcpSocket> tcp_sockets() {
    std::vector<TcpSocket> out;
    for (const char* path : {"/proc/net/tcp", "/proc/net/tcp6"}) {
        FILE* f = std::fopen(path, "r");
        if (!f) continue;
        char line[512];
        if (std::fgets(line, sizeof line, f)) {  // the column titles
            while (std::fgets(line, sizeof line, f)) {
                TcpSocket s;
                // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
                if (std::sscanf(line, " %*d: %*[0-9A-Fa-f]:%X %*[0-9A-Fa-f]:%X %X %*X:%*X %*X:%*X %*X %*u %*u %lu",
                                &s.local_port, &s.remote_port, &s.state, &s.inode) == 4)
                    out.push_back(s);
            }
        }
        std::fclose(f);
    }
    return out;
}

// The established connections process `pid` holds on its local `port`: the ones it accepted.
inline std::size_t connections_held(pid_t pid, unsigned short port) {
    std::vector<unsigned long> inodes;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
        char target[64] = {};
        const ssize_t n = ::readlink(entry.path().c_str(), target, sizeof target - 1);
        unsigned long inode = 0;
        if (n > 0 && std::sscanf(target, "socket:[%lu]", &inode) == 1) inodes.push_back(inode);
    }
    std::size_t held = 0;
    for (const TcpSocket& s : tcp_sockets())
        if (s.state == 0x01 && s.local_port == port && std::find(inodes.begin(), inodes.end(), s.inode) != inodes.end()) ++held;
    return held;
}

// ---- Debian's wrk under load (tools/deps load), with tests/wrk/count.lua ----

// What wrk printed and what count.lua counted.
struct WrkResult {
    std::string output;
    bool parsed = false;  // wrk's summary and count.lua's counts were there
    std::size_t requests = 0;  // wrk's "N requests in": responses read whole
    std::size_t connect_errors = 0, read_errors = 0, write_errors = 0, timeouts = 0;  // "Socket errors:"
    std::size_t status_errors = 0;  // "Non-2xx or 3xx responses:" (wrk counts 4xx and 5xx)
    std::size_t sent = 0, responses = 0, closes = 0, not_2xx = 0;  // count.lua's
    std::map<long, std::size_t> by_pid;  // responses by the "pid" in their body
    // Requests written that never got their response (wrk itself does not say).
    std::size_t unanswered() const { return sent > responses ? sent - responses : 0; }
    std::size_t socket_errors() const { return connect_errors + read_errors + write_errors + timeouts; }
    std::string summary() const {
        std::ostringstream s;
        s << requests << " requests; socket errors: connect " << connect_errors << ", read " << read_errors << ", write "
          << write_errors << ", timeout " << timeouts << "; 4xx/5xx " << status_errors << "; count.lua: sent " << sent
          << ", responses " << responses << " (" << closes << " with Connection: close, " << not_2xx << " not 2xx), unanswered "
          << unanswered() << "; by pid:";
        for (auto& [pid, n] : by_pid) s << " " << pid << ": " << n;
        return s.str();
    }
};

inline std::string wrk_binary() {
    for (const char* p : {"/usr/bin/wrk", "/usr/local/bin/wrk"})
        if (::access(p, X_OK) == 0) return p;
    return {};
}

struct WrkOptions {
    int connections = 8;
    bool quiesce_on_close = false;  // no new request after the first Connection: close (a server stopping)
    std::chrono::seconds limit = 20s;  // finish() comes first
};

// wrk -t1 -c`connections` on keep-alive connections to http://127.0.0.1:`port``target`,
// from construction until finish() (or the limit, whichever comes first), stopped by its pid.
class Wrk {
public:
    Wrk(unsigned short port, const std::string& target, WrkOptions o = {})
        : dir_("fastapi-wrk"),
          process_(binary(),
                   {{"-t1", "-c" + std::to_string(o.connections), "-d" + std::to_string(o.limit.count()) + "s", "--timeout",
                     "5s", "-s", std::string(FASTAPI_SOURCE_DIR) + "/tests/wrk/count.lua",
                     "http://127.0.0.1:" + std::to_string(port) + target},
                    {"WRK_QUIESCE_FILE=" + dir_.path + "/quiesce", std::string("WRK_QUIESCE_ON_CLOSE=") + (o.quiesce_on_close ? "1" : "0")}}) {}

    // Sends no new request; the ones in flight have `quiet` to be answered. Then wrk stops
    // (SIGINT: it prints its summary) and what it said is read.
    WrkResult finish(std::chrono::milliseconds quiet = 500ms) {
        std::ofstream(dir_.path + "/quiesce") << "quiet\n";
        std::this_thread::sleep_for(quiet);
        process_.kill(SIGINT);
        WrkResult r;
        if (process_.wait_exit(10s) < 0) process_.kill(SIGKILL);
        r.output = process_.log();
        std::smatch m;
        const bool summary = std::regex_search(r.output, m, std::regex(R"((\d+) requests in )"));
        if (summary) r.requests = std::stoul(m[1]);
        if (std::regex_search(r.output, m, std::regex(R"(Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+))"))) {
            r.connect_errors = std::stoul(m[1]);
            r.read_errors = std::stoul(m[2]);
            r.write_errors = std::stoul(m[3]);
            r.timeouts = std::stoul(m[4]);
        }
        if (std::regex_search(r.output, m, std::regex(R"(Non-2xx or 3xx responses: (\d+))"))) r.status_errors = std::stoul(m[1]);
        bool counted = false;
        const std::regex counts(R"(lua: sent (\d+) responses (\d+) closes (\d+) not_2xx (\d+))"), pid(R"(lua: pid (\d+) (\d+))");
        for (auto it = std::sregex_iterator(r.output.begin(), r.output.end(), counts); it != std::sregex_iterator(); ++it) {
            counted = true;
            r.sent += std::stoul((*it)[1]);
            r.responses += std::stoul((*it)[2]);
            r.closes += std::stoul((*it)[3]);
            r.not_2xx += std::stoul((*it)[4]);
        }
        for (auto it = std::sregex_iterator(r.output.begin(), r.output.end(), pid); it != std::sregex_iterator(); ++it)
            r.by_pid[std::stol((*it)[1])] += std::stoul((*it)[2]);
        r.parsed = summary && counted;
        return r;
    }
    pid_t pid() const { return process_.pid(); }

private:
    static std::string binary() {
        std::string path = wrk_binary();
        REQUIRE_MESSAGE(!path.empty(), "wrk is not installed: tools/deps load");
        return path;
    }
    TempDir dir_;
    Process process_;
};

// ---- WebSocket frames, as a client sends them and reads the server's ----
namespace ws {

// A client frame: masked, FIN unless told, `rsv` in the reserved bits (0x70).
inline std::string frame(unsigned op, std::string_view payload, bool fin = true, unsigned rsv = 0) {
    const std::string mask = "\x11\x22\x33\x44";
    std::string out;
    out += static_cast<char>((fin ? 0x80 : 0) | rsv | op);
    const std::uint64_t n = payload.size();
    if (n < 126) out += static_cast<char>(0x80 | n);
    else if (n <= 0xFFFF) out += static_cast<char>(0x80 | 126), out += char(n >> 8), out += char(n & 0xFF);
    else {
        out += static_cast<char>(0x80 | 127);
        for (int i = 7; i >= 0; --i) out += char((n >> (8 * i)) & 0xFF);
    }
    out += mask;
    for (std::size_t i = 0; i < n; ++i) out += char(payload[i] ^ mask[i & 3]);
    return out;
}

struct ServerFrame {
    unsigned op = 0;
    std::string payload;
    unsigned first = 0;  // the first byte: FIN, RSV, opcode
};

// The first whole server frame in `b` (unmasked, as a server sends), removed from it.
inline std::optional<ServerFrame> take_frame(std::string& b) {
    if (b.size() < 2) return std::nullopt;
    const auto* p = reinterpret_cast<const unsigned char*>(b.data());
    if (p[1] & 0x80) return ServerFrame{999, "masked", p[0]};
    std::uint64_t len = p[1] & 0x7F;
    std::size_t at = 2;
    if (len == 126) {
        if (b.size() < 4) return std::nullopt;
        len = (std::uint64_t(p[2]) << 8) | p[3], at = 4;
    } else if (len == 127) {
        if (b.size() < 10) return std::nullopt;
        len = 0;
        for (int i = 0; i < 8; ++i) len = (len << 8) | p[2 + i];
        at = 10;
    }
    if (b.size() < at + len) return std::nullopt;
    ServerFrame f{static_cast<unsigned>(p[0] & 0x0F), b.substr(at, len), p[0]};
    b.erase(0, at + len);
    return f;
}

// The next server frame; op 998 on a timeout or the connection closed.
inline ServerFrame read_frame(RawClient& c) {
    c.read_until([](const std::string& b) {
        std::string t = b;
        return take_frame(t).has_value();
    });
    auto f = take_frame(c.buffer());
    return f ? *f : ServerFrame{998, "timeout or closed"};
}

inline std::string close_payload(unsigned code, std::string_view reason = {}) {
    std::string p;
    p += char(code >> 8);
    p += char(code & 0xFF);
    p.append(reason);
    return p;
}
inline int close_code(const ServerFrame& f) {
    if (f.op != 8 || f.payload.size() < 2) return -1;
    return (static_cast<unsigned char>(f.payload[0]) << 8) | static_cast<unsigned char>(f.payload[1]);
}

inline std::string handshake(std::string_view target, std::string_view extra = {}) {
    std::string h = "GET ";
    h.append(target);
    h += " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
    h.append(extra);
    h += "\r\n";
    return h;
}

// Sends the handshake for `target` (and `first`, in the same write); true on a 101, whose head
// is removed from the buffer.
inline bool open(RawClient& c, std::string_view target, std::string_view first = {}) {
    c.send(handshake(target) + std::string(first));
    const std::string head = c.read_until([](const std::string& b) { return b.find("\r\n\r\n") != std::string::npos; });
    if (!head.starts_with("HTTP/1.1 101 ")) return false;
    c.buffer().erase(0, head.find("\r\n\r\n") + 4);
    return true;
}

}  // namespace ws

// Debian's redis-server on <tmp>/r.sock (no port; extra arguments such as
// {"--appendonly", "yes"} appended), stopped by its pid; kill() and start() again on the same socket.
class RedisServer {
public:
    explicit RedisServer(std::vector<std::string> extra = {}) : extra_(std::move(extra)) {
        char tmpl[] = "/tmp/fastapi-redis-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        dir_ = tmpl;
        start();
    }
    ~RedisServer() {
        kill();
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    std::string socket() const { return dir_ + "/r.sock"; }
    std::string url() const { return "unix://" + socket(); }
    std::string dir() const { return dir_; }
    fastapi::RedisOptions options() const {
        fastapi::RedisOptions o;
        o.unix_path = socket();
        o.reconnect_min = 20ms;
        o.reconnect_max = 200ms;
        return o;
    }
    void start() {
        REQUIRE(pid_ < 0);
        std::vector<std::string> args{"redis-server", "--port", "0", "--unixsocket", socket(), "--save", "",
                                      "--appendonly", "no", "--daemonize", "no", "--dir", dir_, "--loglevel", "warning"};
        args.insert(args.end(), extra_.begin(), extra_.end());
        pid_ = ::fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // gone with the test, even when it is killed
            std::vector<char*> argv;
            for (auto& a : args) argv.push_back(a.data());
            argv.push_back(nullptr);
            int devnull = ::open("/dev/null", O_WRONLY);
            ::dup2(devnull, 1);
            ::dup2(devnull, 2);
            ::execvp("redis-server", argv.data());
            ::_exit(127);
        }
        // Ready when the socket answers PING (bounded).
        bool ready = test::eventually_true([&] { return ping(); }, 10000ms);
        REQUIRE_MESSAGE(ready, "redis-server did not start on " << socket() << " (is redis-server installed? tools/deps redis)");
    }
    // Frozen (SIGSTOP): the socket stays open, nothing answers.
    void freeze() { ::kill(pid_, SIGSTOP); }
    void thaw() { ::kill(pid_, SIGCONT); }
    void kill() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGCONT);
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
        ::unlink(socket().c_str());
    }

private:
    bool ping() const {
        int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", socket().c_str());
        bool ok = false;
        if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
            ::send(fd, "PING\r\n", 6, MSG_NOSIGNAL);
            pollfd p{fd, POLLIN, 0};
            char buf[64];
            ok = ::poll(&p, 1, 500) == 1 && ::recv(fd, buf, sizeof buf, 0) > 0;
        }
        ::close(fd);
        return ok;
    }
    std::string dir_;
    std::vector<std::string> extra_;
    pid_t pid_ = -1;
};

}  // namespace test
