// server: serving as a process, as uvicorn's and gunicorn's users deploy. With
// ServerOptions::workers > 1, run() is a supervisor: it binds the listening socket once (TCP,
// a Unix socket, an inherited fd or systemd's socket activation), starts that many workers
// from the program's own executable (posix_spawn, never a fork of a process with threads),
// hands them the socket, and runs no application code itself. It pings each worker over a
// socket pair, replaces the dead (backing off when they keep dying), the silent (SIGKILL after
// worker_healthcheck_timeout, logging the request their loop was running) and the worn
// (limit_max_requests), restarts them one at a time on SIGHUP with each replacement serving
// before the worker it replaces stops accepting, and tells systemd (server/systemd.hpp).
// A process started with $FASTAPI_WORKER_FDS is a worker: run() serves on the inherited socket.
// Relies on Server and its ServingHooks (server.hpp) and systemd.hpp.
#pragma once
#include "server.hpp"
#include "systemd.hpp"

#include <algorithm>   // find_if, remove_if
#include <cerrno>      // errno, EINTR
#include <csignal>     // sigaction, kill
#include <cstdio>      // fprintf, fflush
#include <netdb.h>     // getaddrinfo
#include <poll.h>      // poll
#include <random>      // random_device (the max-requests jitter)
#include <spawn.h>     // posix_spawn
#include <sys/mman.h>  // memfd_create, mmap
#include <sys/wait.h>  // waitpid

extern char** environ;

namespace fastapi::detail {

// The variable that makes a process a worker: "listen=FD pipe=FD shm=FD".
constexpr const char* worker_env_name = "FASTAPI_WORKER_FDS";

// One line on stderr in uvicorn's shape ("INFO:     Started parent process [42]"). The one
// place the supervisor and its workers log through (the log sink takes it over).
// Written at once, not through the log's writer thread: the supervisor runs no loop, and a
// worker that could not start is about to exit. --log-level applies as to every line.
FASTAPI_DECL void process_log(const char* level, const std::string& message) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void process_log(const char* level, const std::string& message) noexcept {
    LogLevel parsed = LogLevel::info;
    std::string lower(level);
    for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    if (parse_log_level(lower, parsed) && !log_enabled(parsed)) return;
    std::string line = level;
    line += ':';
    while (line.size() < 10) line += ' ';
    line += message;
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
}
#endif

FASTAPI_DECL std::string pid_text(pid_t pid);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string pid_text(pid_t pid) { return "[" + std::to_string(pid) + "]"; }
#endif

// What each event loop of a worker is running, in a page the supervisor maps too, so a worker
// stuck in a handler can be reported by the one that kills it. A sequence count (odd while
// written) lets the reader tell a torn copy.
struct RequestSlot {
    std::atomic<std::uint32_t> seq;
    std::uint32_t length;  // 0: no request on this loop's thread now
    std::int64_t since_ns;  // CLOCK_MONOTONIC
    char text[240];        // "GET /path"
};
constexpr std::size_t request_slots = 16;  // loops of one worker that are reported
constexpr std::size_t request_page = sizeof(RequestSlot) * request_slots;
static_assert(std::atomic<std::uint32_t>::is_always_lock_free, "the slot's count is shared between processes");

FASTAPI_DECL std::int64_t monotonic_ns() noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::int64_t monotonic_ns() noexcept {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}
#endif

// The slots' request, read by the supervisor: "GET /spin (for 2.3 s)" for the oldest, or empty.
FASTAPI_DECL std::string oldest_request(const RequestSlot* slots);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string oldest_request(const RequestSlot* slots) {
    if (!slots) return {};
    std::string best;
    std::int64_t best_since = 0;
    for (std::size_t i = 0; i < request_slots; ++i) {
        const RequestSlot& s = slots[i];
        for (int attempt = 0; attempt < 4; ++attempt) {
            const std::uint32_t before = s.seq.load(std::memory_order_acquire);
            if (before & 1u) continue;
            const std::uint32_t len = std::min<std::uint32_t>(s.length, sizeof(s.text));
            const std::int64_t since = s.since_ns;
            std::string text(s.text, len);
            std::atomic_thread_fence(std::memory_order_acquire);
            if (s.seq.load(std::memory_order_relaxed) != before) continue;
            if (len && (best.empty() || since < best_since)) {
                best = std::move(text);
                best_since = since;
            }
            break;
        }
    }
    if (best.empty()) return best;
    char held[32];
    std::snprintf(held, sizeof(held), " (for %.1f s)", static_cast<double>(monotonic_ns() - best_since) / 1e9);
    return best + held;
}
#endif

// ---- The worker's side ----

// The hooks and the supervisor are internal: App::run reaches them through serve() and
// run_as_worker(), compiled once in the compiled-once mode.
#if FASTAPI_INTERNALS

// What a worker adds to its Server: the request each loop runs (in the shared page), the
// count for limit_max_requests, answers to the supervisor's pings from every loop, "ready"
// once it listens, and a graceful stop when the supervisor goes (its end of the pair closes).
// Messages are single bytes: supervisor to worker 'p' (ping); worker to supervisor 'R'
// (listening), 'P' (every loop answered), 'M' (served its limit_max_requests).
class WorkerHooks final : public ServingHooks {
public:
    WorkerHooks(int pipe, RequestSlot* slots, std::size_t limit) : pipe_fd_(pipe), slots_(slots), limit_(limit) {}

    void request_started(const Request& r) noexcept override {
        if (RequestSlot* s = slot_) {
            const std::uint32_t seq = s->seq.load(std::memory_order_relaxed);
            s->seq.store(seq + 1, std::memory_order_relaxed);
            std::atomic_thread_fence(std::memory_order_release);
            std::size_t n = std::min(r.method.size(), sizeof(s->text) - 1);
            std::memcpy(s->text, r.method.data(), n);
            s->text[n++] = ' ';
            const std::size_t p = std::min(r.path.size(), sizeof(s->text) - n);
            std::memcpy(s->text + n, r.path.data(), p);
            s->length = static_cast<std::uint32_t>(n + p);
            s->since_ns = monotonic_ns();
            s->seq.store(seq + 2, std::memory_order_release);
        }
        if (limit_ && served_.fetch_add(1, std::memory_order_relaxed) + 1 == limit_) send('M');
    }
    void request_dispatched() noexcept override {
        if (RequestSlot* s = slot_) {
            const std::uint32_t seq = s->seq.load(std::memory_order_relaxed);
            s->seq.store(seq + 1, std::memory_order_relaxed);
            s->length = 0;
            s->seq.store(seq + 2, std::memory_order_release);
        }
    }

    void serving(const std::vector<asio::io_context*>& loops, std::function<void()> stop) override {
        loops_ = loops;
        stop_ = std::move(stop);
        for (std::size_t i = 0; i < loops_.size(); ++i)
            asio::post(*loops_[i], [s = slots_ && i < request_slots ? slots_ + i : nullptr] { slot_ = s; });
        pipe_.emplace(*loops_[0]);
        asio::error_code ec;
        pipe_->assign(asio::generic::stream_protocol(AF_UNIX, 0), ::dup(pipe_fd_), ec);
        if (ec) {
            pipe_.reset();
            return;
        }
        send('R');
        read();
    }
    // After run(), before the Server (and its loops) go.
    void release() noexcept { pipe_.reset(); }
    void stopping() noexcept override {
        // The pair stays open (the supervisor sees it close with the process): only its reads stop.
        if (pipe_) {
            asio::error_code ec;
            pipe_->close(ec);
        }
    }

private:
    void send(char c) noexcept { (void)::send(pipe_fd_, &c, 1, MSG_NOSIGNAL | MSG_DONTWAIT); }

    void read() {
        pipe_->async_read_some(asio::buffer(in_), [this](const asio::error_code& ec, std::size_t n) {
            if (ec == asio::error::operation_aborted) return;
            if (ec) {  // the supervisor is gone: serve no longer than the requests in flight
                if (stop_) stop_();
                return;
            }
            for (std::size_t i = 0; i < n; ++i)
                if (in_[i] == 'p') ping();
            read();
        });
    }
    // A round answered once every loop has run a handler posted to it: a loop stuck in a
    // handler leaves the round open, and the supervisor's timeout runs.
    void ping() {
        if (pending_.load() != 0) return;
        pending_.store(loops_.size());
        for (auto* loop : loops_)
            asio::post(*loop, [this] {
                if (pending_.fetch_sub(1) == 1) send('P');
            });
    }

    int pipe_fd_;
    RequestSlot* slots_;
    std::size_t limit_;
    std::atomic<std::size_t> served_{0};
    std::atomic<std::size_t> pending_{0};
    std::vector<asio::io_context*> loops_;
    std::function<void()> stop_;
    std::optional<asio::generic::stream_protocol::socket> pipe_;
    char in_[64];
    static inline thread_local RequestSlot* slot_ = nullptr;
};

// systemd for a single process: READY=1 once it listens, WATCHDOG=1 from its first loop,
// STOPPING=1 when the graceful stop begins.
class NotifyHooks final : public ServingHooks {
public:
    void request_started(const Request&) noexcept override {}
    void request_dispatched() noexcept override {}
    void serving(const std::vector<asio::io_context*>& loops, std::function<void()>) override {
        sd_notify("READY=1\nSTATUS=serving (1 process)");
        interval_ = watchdog_interval();
        if (interval_.count() > 0) {
            timer_.emplace(*loops[0]);
            tick();
        }
    }
    void stopping() noexcept override {
        sd_notify("STOPPING=1");
        if (timer_) timer_->cancel();
    }

private:
    void tick() {
        sd_notify("WATCHDOG=1");
        timer_->expires_after(interval_);
        timer_->async_wait([this](const asio::error_code& ec) {
            if (!ec) tick();
        });
    }
    std::chrono::microseconds interval_{};
    std::optional<asio::steady_timer> timer_;
};

#endif  // FASTAPI_INTERNALS

// A worker: $FASTAPI_WORKER_FDS read (and removed, so a program it starts is no worker), then
// served on the inherited socket with its own loops (one unless ServerOptions::threads says),
// running the app's lifespan itself. A start that fails (the lifespan threw, the socket is not
// one) exits with status 3, which stops the supervisor instead of a restart loop.
FASTAPI_DECL bool run_as_worker(AppContext& app, ServerOptions options);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool run_as_worker(AppContext& app, ServerOptions options) {
    const char* env = std::getenv(worker_env_name);
    if (!env) return false;
    int listen_fd = -1, pipe_fd = -1, shm_fd = -1;
    if (std::sscanf(env, "listen=%d pipe=%d shm=%d", &listen_fd, &pipe_fd, &shm_fd) != 3 || listen_fd < 0 || pipe_fd < 0) {
        process_log("ERROR", std::string("Not a worker's ") + worker_env_name + ": " + env);
        std::fflush(nullptr);
        ::_exit(3);
    }
    std::vector<int> more_fds;  // " more=4,5"
    if (const char* more = std::strstr(env, " more=")) {
        for (const char* p = more + 6; *p;) {
            char* end = nullptr;
            const long fd = std::strtol(p, &end, 10);
            if (end == p || fd < 0 || fd > 1 << 20) break;
            more_fds.push_back(static_cast<int>(fd));
            p = *end == ',' ? end + 1 : end;
            if (*end != ',') break;
        }
    }
    ::unsetenv(worker_env_name);
    for (int fd : {listen_fd, pipe_fd, shm_fd})
        if (fd >= 0) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    for (int fd : more_fds) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    RequestSlot* slots = nullptr;
    if (shm_fd >= 0) {
        void* page = ::mmap(nullptr, request_page, PROT_READ | PROT_WRITE, MAP_SHARED, shm_fd, 0);
        if (page != MAP_FAILED) slots = static_cast<RequestSlot*>(page);
        ::close(shm_fd);
    }
    // The supervisor's signals are its own: a terminal's SIGHUP or SIGTTIN to the whole group
    // does not stop a worker (SIGUSR1's log reopening is the log sink's).
    for (int sig : {SIGHUP, SIGTTIN, SIGTTOU, SIGUSR1}) ::signal(sig, SIG_IGN);
    options.fd = listen_fd;
    options.more_fds = std::move(more_fds);
    options.uds.clear();
    options.workers = 0;
    if (options.threads == 0) options.threads = 1;
    options.handle_signals = true;
    options.log_startup = false;
    std::size_t limit = options.limit_max_requests;
    if (limit && options.limit_max_requests_jitter) {
        std::random_device rd;
        limit += rd() % (options.limit_max_requests_jitter + 1);
    }
    WorkerHooks hooks(pipe_fd, slots, limit);
    std::optional<Server> server;
    try {
        server.emplace(app, options);
        server->set_hooks(&hooks);
        server->start();
    } catch (const std::exception& e) {
        process_log("ERROR", "Worker " + pid_text(::getpid()) + " could not start: " + e.what());
        std::fflush(nullptr);
        ::_exit(3);
    } catch (...) {
        process_log("ERROR", "Worker " + pid_text(::getpid()) + " could not start");
        std::fflush(nullptr);
        ::_exit(3);
    }
    server->run();
    hooks.release();
    server.reset();
    process_log("INFO", "Finished worker process " + pid_text(::getpid()));
    return true;
}
#endif

// ---- The supervisor ----

#if FASTAPI_INTERNALS

inline volatile sig_atomic_t supervisor_signal_fd = -1;

extern "C" inline void supervisor_on_signal(int sig) {
    const int saved = errno;
    const unsigned char c = static_cast<unsigned char>(sig);
    if (supervisor_signal_fd >= 0) (void)!::write(supervisor_signal_fd, &c, 1);
    errno = saved;
}

class Supervisor {
    using clock = std::chrono::steady_clock;

public:
    explicit Supervisor(ServerOptions options) : o_(std::move(options)), target_(o_.workers) {}
    Supervisor(const Supervisor&) = delete;
    Supervisor& operator=(const Supervisor&) = delete;
    ~Supervisor() {
        for (auto& w : workers_) release(w);
        if (listen_fd_ >= 0 && owns_listen_fd_) ::close(listen_fd_);
        for (int fd : slots_)
            if (fd >= 0 && fd != listen_fd_) ::close(fd);
        if (!uds_path_.empty()) ::unlink(uds_path_.c_str());
        if (signal_pipe_[1] >= 0)  // the program after run() gets the default actions back
            for (int sig : {SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGTTIN, SIGTTOU, SIGUSR1, SIGCHLD}) ::signal(sig, SIG_DFL);
        supervisor_signal_fd = -1;
        for (int fd : signal_pipe_)
            if (fd >= 0) ::close(fd);
    }

    // Serves until SIGTERM/SIGINT (0) or SIGQUIT (0), or until a worker cannot start (3).
    int run() {
        if (!prepare()) return 3;
        process_log("INFO", "Started parent process " + pid_text(::getpid()));
        process_log("INFO", "fastapi.hpp serving on " + where_ + " with " + std::to_string(target_) +
                                " worker processes (Ctrl+C to quit)");
        next_ping_ = clock::now();
        next_watchdog_ = clock::now();
        while (!done_) {
            reconcile();
            if (done_) break;
            wait_for_events();
        }
        return exit_code_;
    }

private:
    enum class State { starting, ready, retiring };
    struct Proc {
        pid_t pid = -1;
        int fd = -1;  // the supervisor's end of the pair
        RequestSlot* slots = nullptr;
        State state = State::starting;
        clock::time_point spawned{}, last_answer{}, retire_deadline{};
        bool ping_outstanding = false;
        pid_t replaces = 0;     // the worker this one replaces once it is ready
        const char* why = "";   // why it replaces it
        bool wants_replacement = false;
        const char* replace_why = "";
        bool startup_timed_out = false;
        bool killed_silent = false;
        int slot = -1;  // its socket in slots_ (TCP), else -1: listen_fd_
    };

    // ---- setting up ----
    bool prepare() {
        // The program as it is on disk now, not /proc/self/exe (which stays the running one's
        // file): a binary replaced on disk is what a SIGHUP's workers run.
        char exe[4096];
        const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        exe_ = n > 0 ? std::string(exe, static_cast<std::size_t>(n)) : "/proc/self/exe";
        if (exe_.size() > 10 && exe_.compare(exe_.size() - 10, 10, " (deleted)") == 0) exe_ = "/proc/self/exe";
        if (std::FILE* f = std::fopen("/proc/self/cmdline", "rb")) {  // the same arguments
            std::string all;
            char buf[4096];
            std::size_t got;
            while ((got = std::fread(buf, 1, sizeof(buf), f)) > 0) all.append(buf, got);
            std::fclose(f);
            for (std::size_t p = 0; p < all.size();) {
                std::size_t e = all.find('\0', p);
                if (e == std::string::npos) e = all.size();
                argv_.push_back(all.substr(p, e - p));
                p = e + 1;
            }
        }
        if (argv_.empty()) argv_.push_back(exe_);
        try {
            bind();
        } catch (const std::exception& e) {
            process_log("ERROR", e.what());
            return false;
        }
        if (::pipe2(signal_pipe_, O_CLOEXEC | O_NONBLOCK) != 0) return false;
        supervisor_signal_fd = signal_pipe_[1];
        struct sigaction sa {};
        sa.sa_handler = supervisor_on_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART;
        for (int sig : {SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGTTIN, SIGTTOU, SIGUSR1, SIGCHLD}) ::sigaction(sig, &sa, nullptr);
        ::signal(SIGPIPE, SIG_IGN);
        watchdog_ = std::chrono::duration_cast<clock::duration>(watchdog_interval());
        const auto timeout = o_.worker_healthcheck_timeout.count() > 0 ? o_.worker_healthcheck_timeout : std::chrono::milliseconds(10000);
        health_timeout_ = timeout;
        ping_every_ = std::clamp<clock::duration>(timeout / 4, std::chrono::milliseconds(50), std::chrono::seconds(1));
        startup_timeout_ = std::max<clock::duration>(timeout * 6, std::chrono::seconds(30));
        return true;
    }

    // The one listening socket every worker accepts on: handed to this process (ServerOptions::fd,
    // systemd's LISTEN_FDS), a Unix socket, or TCP as ServerOptions says.
    void bind() {
        auto activated = take_listen_fds();
        if (o_.fd >= 0 || (!activated.empty() && o_.uds.empty())) {
            // Every socket systemd passed is served (an IPv4 and an IPv6 ListenStream, a TCP and a
            // Unix one), by every worker: they are shared as a handed-over socket is.
            listen_fd_ = o_.fd >= 0 ? o_.fd : activated.front().fd;
            if (o_.fd >= 0) more_fds_ = o_.more_fds;
            else
                for (std::size_t i = 1; i < activated.size(); ++i) more_fds_.push_back(activated[i].fd);
            where_ = "fd " + std::to_string(listen_fd_);
            std::vector<int> all{listen_fd_};
            all.insert(all.end(), more_fds_.begin(), more_fds_.end());
            for (int fd : all) {
                int type = 0;
                socklen_t len = sizeof(type);
                if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM)
                    throw std::runtime_error("fastapi: fd " + std::to_string(fd) + " is not a listening stream socket");
                ::fcntl(fd, F_SETFD, FD_CLOEXEC);
                if (fd != listen_fd_) where_ += ", fd " + std::to_string(fd);
            }
            return;
        }
        owns_listen_fd_ = true;
        if (!o_.uds.empty()) {
            sockaddr_un addr{};
            addr.sun_family = AF_UNIX;
            if (o_.uds.size() >= sizeof(addr.sun_path)) throw std::runtime_error("fastapi: Unix socket path too long: " + o_.uds);
            std::memcpy(addr.sun_path, o_.uds.data(), o_.uds.size());
            struct stat st {};
            if (::lstat(o_.uds.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(o_.uds.c_str());
            listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
                ::listen(listen_fd_, SOMAXCONN) != 0)
                throw std::runtime_error("fastapi: cannot listen on " + o_.uds + ": " + std::strerror(errno));
            uds_path_ = o_.uds;
            ::chmod(o_.uds.c_str(), 0666);
            where_ = "unix:" + o_.uds;
            return;
        }
        const std::string host = resolve_host(o_);
        const std::string port = std::to_string(resolve_port(o_));
        addrinfo hints{};
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
        addrinfo* found = nullptr;
        if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0 || !found)
            throw std::runtime_error("fastapi: cannot resolve host " + host + ": " + ::gai_strerror(rc));
        std::memcpy(&tcp_address_, found->ai_addr, found->ai_addrlen);
        tcp_address_len_ = found->ai_addrlen;
        ::freeaddrinfo(found);
        listen_fd_ = tcp_socket();
        if (listen_fd_ < 0) throw std::runtime_error("fastapi: cannot listen on " + host + ":" + port + ": " + std::strerror(errno));
        // Port 0: the others bind the port the system chose.
        socklen_t len = sizeof(tcp_address_);
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&tcp_address_), &len);
        slots_.push_back(listen_fd_);
        const auto* b = reinterpret_cast<const sockaddr*>(&tcp_address_);
        const unsigned short p = b->sa_family == AF_INET6 ? ntohs(reinterpret_cast<const sockaddr_in6*>(b)->sin6_port)
                                                          : ntohs(reinterpret_cast<const sockaddr_in*>(b)->sin_port);
        where_ = (host.find(':') != std::string::npos ? "http://[" + host + "]:" : "http://" + host + ":") + std::to_string(p);
    }

    // On TCP each worker slot has a socket of its own, all bound to the address with
    // SO_REUSEPORT, so the kernel spreads connections over them by their addresses: measured
    // on two workers, 200 sequential connections went 93/107 and 99/101 this way against
    // 53/147 and 58/142 over one shared socket, where the worker that waits longest in epoll
    // wins (tests/unit-workers.cpp prints the shared case; README "Workers and deployment").
    // A slot's socket outlives its worker: the replacement (after a crash, SIGHUP, the request
    // limit) accepts from it, so nothing queued there is lost. Unix sockets and sockets handed
    // over (fd, systemd) are one socket, shared.
    int tcp_socket() {
        const int fd = ::socket(tcp_address_.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        const int one = 1;
        const bool ok = fd >= 0 && ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
                        ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == 0 &&
                        ::bind(fd, reinterpret_cast<const sockaddr*>(&tcp_address_), tcp_address_len_) == 0 &&
                        ::listen(fd, SOMAXCONN) == 0;
        if (ok) return fd;
        const int err = errno;
        if (fd >= 0) ::close(fd);
        errno = err;
        return -1;
    }
    // The slot a new worker takes: the first no live worker holds (its socket made if closed).
    int free_slot() {
        if (slots_.empty()) return -1;
        for (std::size_t i = 0;; ++i) {
            const bool held = std::any_of(workers_.begin(), workers_.end(), [&](const Proc& w) {
                return w.slot == static_cast<int>(i) && w.state != State::retiring;
            });
            if (held) continue;
            if (i == slots_.size()) slots_.push_back(-1);
            if (slots_[i] < 0) slots_[i] = tcp_socket();
            if (slots_[i] < 0) {
                process_log("ERROR", std::string("Cannot open a listening socket for a new worker: ") + std::strerror(errno));
                return -2;
            }
            return static_cast<int>(i);
        }
    }
    // SIGTTOU: the slot's socket closes with its worker. Connections queued there when the
    // worker closes its copy are reset by the kernel (unless net.ipv4.tcp_migrate_req=1).
    void close_slot(int slot) {
        if (slot < 0 || static_cast<std::size_t>(slot) >= slots_.size() || slots_[slot] < 0) return;
        if (slots_[slot] != listen_fd_) ::close(slots_[slot]);
        slots_[slot] = -1;
    }

    // ---- workers ----
    Proc* spawn(pid_t replaces = 0, const char* why = "") {
        int slot = -1;
        if (replaces) {
            if (Proc* old = find(replaces)) slot = old->slot;
        } else {
            slot = free_slot();
            if (slot == -2) return nullptr;
        }
        const int listen_fd = slot >= 0 ? slots_[slot] : listen_fd_;
        if (listen_fd < 0) return nullptr;
        int pair[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) return nullptr;
        int shm = ::memfd_create("fastapi-worker", MFD_CLOEXEC);
        RequestSlot* slots = nullptr;
        if (shm >= 0 && ::ftruncate(shm, request_page) == 0) {
            void* page = ::mmap(nullptr, request_page, PROT_READ | PROT_WRITE, MAP_SHARED, shm, 0);
            if (page != MAP_FAILED) slots = static_cast<RequestSlot*>(page);
        }
        std::string var = std::string(worker_env_name) + "=listen=" + std::to_string(listen_fd) +
                          " pipe=" + std::to_string(pair[1]) + " shm=" + std::to_string(slots ? shm : -1);
        if (!more_fds_.empty()) {  // " more=4,5": the other sockets systemd passed
            var += " more=";
            for (std::size_t i = 0; i < more_fds_.size(); ++i) var += (i ? "," : "") + std::to_string(more_fds_[i]);
        }
        std::vector<char*> envp;
        const std::size_t name_len = std::strlen(worker_env_name);
        for (char** e = environ; e && *e; ++e)
            if (!(std::strncmp(*e, worker_env_name, name_len) == 0 && (*e)[name_len] == '=')) envp.push_back(*e);
        envp.push_back(var.data());
        envp.push_back(nullptr);
        std::vector<char*> args;
        for (auto& a : argv_) args.push_back(a.data());
        args.push_back(nullptr);
        // dup2 of a descriptor onto itself clears its close-on-exec flag in the child only.
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, listen_fd, listen_fd);
        for (int fd : more_fds_) posix_spawn_file_actions_adddup2(&actions, fd, fd);
        posix_spawn_file_actions_adddup2(&actions, pair[1], pair[1]);
        if (slots) posix_spawn_file_actions_adddup2(&actions, shm, shm);
        posix_spawnattr_t attr;
        posix_spawnattr_init(&attr);
        sigset_t none, all;
        sigemptyset(&none);
        sigfillset(&all);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setsigdefault(&attr, &all);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        pid_t pid = -1;
        int rc = ::posix_spawn(&pid, exe_.c_str(), &actions, &attr, args.data(), envp.data());
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attr);
        ::close(pair[1]);
        if (shm >= 0) ::close(shm);
        if (rc != 0) {
            process_log("ERROR", "Cannot start a worker from " + exe_ + ": " + std::strerror(rc));
            ::close(pair[0]);
            if (slots) ::munmap(slots, request_page);
            return nullptr;
        }
        ::fcntl(pair[0], F_SETFL, O_NONBLOCK);
        Proc w;
        w.pid = pid;
        w.fd = pair[0];
        w.slots = slots;
        w.spawned = w.last_answer = clock::now();
        w.replaces = replaces;
        w.why = why;
        w.slot = slot;
        workers_.push_back(w);
        process_log("INFO", "Started worker process " + pid_text(pid));
        return &workers_.back();
    }

    void release(Proc& w) noexcept {
        if (w.fd >= 0) ::close(w.fd);
        if (w.slots) ::munmap(w.slots, request_page);
        w.fd = -1;
        w.slots = nullptr;
    }

    Proc* find(pid_t pid) {
        for (auto& w : workers_)
            if (w.pid == pid) return &w;
        return nullptr;
    }

    void retire(Proc& w, int sig = SIGTERM) {
        if (w.state != State::retiring) {
            w.state = State::retiring;
            w.retire_deadline = clock::now() + o_.graceful_shutdown_timeout + std::chrono::seconds(5);
        }
        ::kill(w.pid, sig);
    }

    std::size_t regular_count() const {  // workers that are or will be one of the N
        return static_cast<std::size_t>(std::count_if(workers_.begin(), workers_.end(), [](const Proc& w) {
            return w.state != State::retiring && w.replaces == 0;
        }));
    }
    std::size_t ready_count() const {
        return static_cast<std::size_t>(
            std::count_if(workers_.begin(), workers_.end(), [](const Proc& w) { return w.state == State::ready; }));
    }

    void status() {
        sd_notify("STATUS=" + std::to_string(ready_count()) + " of " + std::to_string(target_) + " workers serving");
    }

    // Brings the workers to what is wanted: N of them, one replacement at a time.
    void reconcile() {
        const auto now = clock::now();
        if (stopping_) {
            for (auto& w : workers_)
                if (w.state == State::retiring && now > w.retire_deadline) ::kill(w.pid, SIGKILL);
            if (workers_.empty()) done_ = true;
            return;
        }
        while (regular_count() < target_ && now >= respawn_at_) {
            if (!spawn()) {
                respawn_at_ = now + std::chrono::seconds(1);
                break;
            }
        }
        while (regular_count() > target_) {  // SIGTTOU: the newest regular worker goes
            auto it = std::find_if(workers_.rbegin(), workers_.rend(),
                                   [](const Proc& w) { return w.state != State::retiring && w.replaces == 0; });
            process_log("INFO", "Stopping worker process " + pid_text(it->pid) + " (SIGTTOU: " + std::to_string(target_) + " workers)");
            retire(*it);
            close_slot(it->slot);
        }
        const bool replacing = std::any_of(workers_.begin(), workers_.end(), [](const Proc& w) { return w.replaces != 0; });
        if (!replacing && now >= replace_at_) {
            for (auto& w : workers_) {
                if (w.state == State::ready && w.wants_replacement) {
                    w.wants_replacement = false;
                    spawn(w.pid, w.replace_why);
                    break;
                }
            }
        }
        if (reloading_ && !std::any_of(workers_.begin(), workers_.end(), [](const Proc& w) {
                // Done when the last old worker has exited, not when it was told to stop: a
                // caller that sees "done" sees only the new workers.
                return w.replaces != 0 || w.state == State::retiring ||
                       (w.wants_replacement && std::strcmp(w.replace_why, "SIGHUP") == 0);
            }))
            finish_reload("rolling restart done");
        for (auto& w : workers_) {
            if (w.state == State::retiring) {
                if (now > w.retire_deadline) ::kill(w.pid, SIGKILL);
                continue;
            }
            if (w.state == State::starting) {
                if (now - w.spawned > startup_timeout_ && !w.startup_timed_out) {
                    w.startup_timed_out = true;
                    process_log("ERROR", "Worker " + pid_text(w.pid) + " did not start serving within " +
                                             seconds(startup_timeout_) + "; killing it");
                    ::kill(w.pid, SIGKILL);
                }
                continue;
            }
            if (w.ping_outstanding && now - w.last_answer > health_timeout_ && !w.killed_silent) {
                w.killed_silent = true;
                std::string doing = oldest_request(w.slots);
                process_log("ERROR", "Worker " + pid_text(w.pid) + " did not answer the health check for " +
                                         seconds(now - w.last_answer) + " (timeout " + seconds(health_timeout_) + ")" +
                                         (doing.empty() ? std::string(", no request running") : ", handling " + doing) +
                                         "; killing it (SIGKILL) and starting a replacement");
                ::kill(w.pid, SIGKILL);
            }
        }
        if (now >= next_ping_) {
            for (auto& w : workers_)
                if (w.state == State::ready && !w.ping_outstanding) {
                    const char c = 'p';
                    if (::send(w.fd, &c, 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1) w.ping_outstanding = true;
                }
            next_ping_ = now + ping_every_;
        }
        if (watchdog_.count() > 0 && now >= next_watchdog_) {
            // Alive means every serving worker answered within the health-check timeout.
            const bool healthy = ready_count() > 0 && std::none_of(workers_.begin(), workers_.end(), [&](const Proc& w) {
                return w.state == State::ready && now - w.last_answer > health_timeout_;
            });
            if (healthy) sd_notify("WATCHDOG=1");
            next_watchdog_ = now + watchdog_;
        }
    }

    static std::string seconds(clock::duration d) {
        char text[32];
        std::snprintf(text, sizeof(text), "%.1f s", std::chrono::duration<double>(d).count());
        return text;
    }

    void wait_for_events() {
        const auto now = clock::now();
        clock::time_point wake = now + std::chrono::seconds(1);
        if (!stopping_) {
            wake = std::min(wake, next_ping_);
            if (watchdog_.count() > 0) wake = std::min(wake, next_watchdog_);
            if (regular_count() < target_) wake = std::min(wake, respawn_at_);
            wake = std::min(wake, replace_at_ > now ? replace_at_ : wake);
            for (auto& w : workers_)
                if (w.ping_outstanding) wake = std::min(wake, w.last_answer + health_timeout_ + std::chrono::milliseconds(1));
        } else {
            wake = now + std::chrono::milliseconds(100);
        }
        std::vector<pollfd> fds;
        fds.push_back({signal_pipe_[0], POLLIN, 0});
        for (auto& w : workers_) fds.push_back({w.fd, POLLIN, 0});
        const auto ms = std::chrono::ceil<std::chrono::milliseconds>(wake - now).count();
        const int rc = ::poll(fds.data(), fds.size(), static_cast<int>(std::clamp<long long>(ms, 0, 1000)));
        if (rc < 0) return;  // EINTR: the signal is in the pipe
        if (fds[0].revents & POLLIN) {
            unsigned char sigs[64];
            ssize_t n;
            while ((n = ::read(signal_pipe_[0], sigs, sizeof(sigs))) > 0)
                for (ssize_t i = 0; i < n; ++i) on_signal(sigs[i]);
        }
        std::vector<pid_t> readable;
        for (std::size_t i = 1; i < fds.size(); ++i)
            if (fds[i].revents) readable.push_back(workers_[i - 1].pid);
        for (pid_t pid : readable) on_message(pid);
        reap();
    }

    void on_message(pid_t pid) {
        Proc* w = find(pid);
        if (!w || w->fd < 0) return;
        char buf[64];
        const ssize_t n = ::recv(w->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n <= 0) {
            if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                ::close(w->fd);  // the worker exited (reap() says how) or closed its end
                w->fd = -1;
            }
            return;
        }
        for (ssize_t i = 0; i < n && (w = find(pid)); ++i) {
            switch (buf[i]) {
                case 'P':
                    w->ping_outstanding = false;
                    w->last_answer = clock::now();
                    break;
                case 'R': on_ready(*w); break;
                case 'M':
                    if (w->state == State::ready && !stopping_) {
                        process_log("INFO", "Worker " + pid_text(w->pid) + " served its maximum of requests; replacing it");
                        w->wants_replacement = true;
                        w->replace_why = "limit-max-requests";
                    }
                    break;
                default: break;
            }
        }
    }

    void on_ready(Proc& w) {
        if (w.state != State::starting) return;
        w.state = State::ready;
        w.last_answer = clock::now();
        if (stopping_) return retire(w);
        if (w.replaces) {
            const pid_t old = w.replaces;
            w.replaces = 0;
            if (Proc* o = find(old); o && o->state != State::retiring) {
                process_log("INFO", "Worker " + pid_text(w.pid) + " is serving; stopping worker " + pid_text(old) + " (" +
                                        w.why + ")");
                retire(*o);
            }
        }
        if (!announced_ && ready_count() >= target_) {
            announced_ = true;
            process_log("INFO", "All " + std::to_string(target_) + " workers are serving");
            sd_notify("READY=1");
        }
        status();
    }

    void reap() {
        for (;;) {
            int status = 0;
            const pid_t pid = ::waitpid(-1, &status, WNOHANG);
            if (pid <= 0) return;
            Proc* w = find(pid);
            if (!w) continue;
            Proc gone = *w;
            workers_.erase(workers_.begin() + (w - workers_.data()));
            release(gone);
            on_exit(gone, status);
        }
    }

    static std::string how(int status) {
        if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
        if (WIFSIGNALED(status)) {
            const char* name = sigabbrev_np(WTERMSIG(status));
            return std::string("signal ") + (name ? std::string("SIG") + name : std::to_string(WTERMSIG(status)));
        }
        return "status " + std::to_string(status);
    }

    void on_exit(const Proc& w, int status) {
        const auto now = clock::now();
        for (auto& o : workers_)  // a replacement whose worker is gone is one of the N now
            if (o.replaces == w.pid) o.replaces = 0;
        if (stopping_ || w.state == State::retiring) {
            process_log("INFO", "Worker process " + pid_text(w.pid) + " stopped (" + how(status) + ")");
            if (!stopping_) status_line();
            return;
        }
        if (w.state == State::starting) {
            // Exited on its own before listening (3: the lifespan threw or it could not serve; 2:
            // bad usage): it would only fail again. Killed by a signal: a crash, retried.
            const bool startup_failed = w.startup_timed_out || WIFEXITED(status);
            if (w.replaces) {  // the workers it was to replace keep serving
                process_log("ERROR", "Replacement worker " + pid_text(w.pid) + " failed to start (" + how(status) +
                                         "); worker " + pid_text(w.replaces) + " keeps serving");
                if (reloading_) {
                    for (auto& o : workers_)
                        if (std::strcmp(o.replace_why, "SIGHUP") == 0) o.wants_replacement = false;
                    finish_reload("rolling restart abandoned");
                } else if (Proc* old = find(w.replaces)) {
                    old->wants_replacement = true;  // tried again after a pause
                    replace_at_ = now + backoff();
                }
                return;
            }
            if (startup_failed) {
                process_log("ERROR", "Worker " + pid_text(w.pid) + " failed to start (" + how(status) +
                                         "); stopping, as a worker that cannot start would only fail again");
                exit_code_ = 3;
                stop(SIGTERM);
                return;
            }
        }
        // Died while serving (or while starting, of something else than a failed start).
        // Replaced at once; a worker that keeps dying (each within 5 s of its start) waits 0.1 s,
        // 0.2 s, 0.4 s ... up to 10 s before its next start, instead of spinning.
        if (now - w.spawned < std::chrono::seconds(5)) ++failures_;
        else failures_ = 0;
        const auto delay = failures_ < 2 ? clock::duration::zero() : backoff();
        respawn_at_ = now + delay;
        process_log(w.killed_silent ? "WARNING" : "ERROR",
                    "Worker process " + pid_text(w.pid) + " died (" + how(status) + "); starting a replacement" +
                        (delay.count() ? " in " + seconds(delay) + " (it keeps dying)" : std::string()));
    }
    void status_line() { status(); }

    clock::duration backoff() const {
        const int k = std::clamp(failures_ - 2, 0, 8);
        return std::min<clock::duration>(std::chrono::milliseconds(100) * (1 << k), std::chrono::seconds(10));
    }

    void finish_reload(const char* what) {
        reloading_ = false;
        process_log("INFO", std::string("SIGHUP: ") + what);
        sd_notify("READY=1");
        status();
    }

    void stop(int sig) {
        if (!stopping_) sd_notify("STOPPING=1");
        stopping_ = true;
        for (auto& w : workers_) retire(w, sig);
        close_listeners();
        if (workers_.empty()) done_ = true;
    }

    // Stopping: this process's copies of the listening sockets it made close at once, so that
    // once each worker has closed its own (stopping, it does that first) nothing listens and a
    // new connection is refused at once (a proxy tries its next server), instead of waiting in
    // a queue no one accepts from, to be reset when this process exits (gunicorn's arbiter
    // closes its listeners too). Sockets handed over (--fd, systemd's) stay open: their owner
    // keeps them, queueing for whatever serves them next.
    void close_listeners() {
        if (!owns_listen_fd_) return;
        for (int& fd : slots_) {
            if (fd >= 0 && fd != listen_fd_) ::close(fd);
            fd = -1;
        }
        if (listen_fd_ >= 0) ::close(listen_fd_);
        listen_fd_ = -1;
        if (!uds_path_.empty()) ::unlink(uds_path_.c_str());
        uds_path_.clear();
    }

    void on_signal(int sig) {
        switch (sig) {
            case SIGINT:
            case SIGTERM:
                if (!stopping_) process_log("INFO", std::string("Shutting down (") + (sig == SIGINT ? "SIGINT" : "SIGTERM") + ")");
                stop(SIGTERM);
                break;
            case SIGQUIT:
                process_log("INFO", "Shutting down at once (SIGQUIT)");
                stop(SIGKILL);
                break;
            case SIGHUP:
                if (stopping_) break;
                if (reloading_) {
                    process_log("WARNING", "SIGHUP: a rolling restart is under way already");
                    break;
                }
                reloading_ = true;
                sd_notify("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(monotonic_usec()));
                process_log("INFO", "SIGHUP: restarting the workers one at a time");
                for (auto& w : workers_)
                    if (w.state == State::ready) {
                        w.wants_replacement = true;
                        w.replace_why = "SIGHUP";
                    }
                replace_at_ = clock::now();
                break;
            case SIGTTIN:
                if (stopping_) break;
                ++target_;
                process_log("INFO", "SIGTTIN: " + std::to_string(target_) + " workers");
                status();
                break;
            case SIGTTOU:
                if (stopping_ || target_ <= 1) break;
                --target_;
                process_log("INFO", "SIGTTOU: " + std::to_string(target_) + " workers");
                status();
                break;
            case SIGUSR1:
                for (auto& w : workers_) ::kill(w.pid, SIGUSR1);
                break;
            case SIGCHLD: break;  // reap() runs after every wake-up
            default: break;
        }
    }

    ServerOptions o_;
    std::size_t target_;
    std::string exe_, where_, uds_path_;
    std::vector<std::string> argv_;
    int listen_fd_ = -1;
    std::vector<int> more_fds_;  // handed over with listen_fd_ (ServerOptions::more_fds, LISTEN_FDS)
    bool owns_listen_fd_ = false;
    std::vector<int> slots_;  // TCP: one SO_REUSEPORT socket per worker slot (slots_[0] is listen_fd_)
    sockaddr_storage tcp_address_{};
    socklen_t tcp_address_len_ = 0;
    int signal_pipe_[2] = {-1, -1};
    std::vector<Proc> workers_;
    clock::duration health_timeout_{}, ping_every_{}, startup_timeout_{}, watchdog_{};
    clock::time_point next_ping_{}, next_watchdog_{}, respawn_at_{}, replace_at_{};
    int failures_ = 0;
    bool announced_ = false, reloading_ = false, stopping_ = false, done_ = false;
    int exit_code_ = 0;
};

#endif  // FASTAPI_INTERNALS

// App::run(options): a worker of a supervisor, a supervisor (workers > 1), or one process;
// under systemd, socket-activated and notifying in every case.
FASTAPI_DECL void serve(AppContext& app, ServerOptions options);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void serve(AppContext& app, ServerOptions options) {
    if (run_as_worker(app, options)) return;
    if (options.workers > 1) {
        if (LogLevel level{}; parse_log_level(options.log_level, level)) log::set_level(level);
        int code = 0;
        {
            Supervisor supervisor(options);
            code = supervisor.run();
        }
        if (code != 0) {
            std::fflush(nullptr);
            std::exit(code);
        }
        return;
    }
    if (options.fd < 0 && options.uds.empty()) {
        auto activated = take_listen_fds();
        if (!activated.empty()) options.fd = activated.front().fd;
        for (std::size_t i = 1; i < activated.size(); ++i) options.more_fds.push_back(activated[i].fd);
    }
    Server server(app, options);
    NotifyHooks notify;
    const char* socket = std::getenv("NOTIFY_SOCKET");
    if (socket && *socket) server.set_hooks(&notify);
    server.run();
}
#endif

}  // namespace fastapi::detail
