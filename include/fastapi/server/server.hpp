// server: sockets in, responses out. One event loop (asio::io_context) per thread, an
// acceptor handing connections round-robin to the loops, and per connection a read buffer,
// the parser, the app's dispatch and an output buffer that batches pipelined responses.
// Timeouts are swept once per tick per loop instead of arming a timer per request.
// Relies on http_parser and the app as detail::AppContext describes it (exchange.hpp).
#pragma once
#include "../routing/background.hpp"
#include "../routing/errors.hpp"
#include "../routing/exchange.hpp"
#include "../routing/forms.hpp"
#include "../http/http_parser.hpp"
#include "log.hpp"
#include "proxy_headers.hpp"

#include <atomic>      // atomic
#include <charconv>    // to_chars
#include <chrono>      // steady_clock, seconds
#include <csignal>     // SIGINT, SIGTERM
#include <filesystem>  // file_size
#include <cstddef>     // max_align_t (ParkedCoroutine)
#include <functional>  // function (ServingHooks)
#include <cstdlib>     // getenv
#include <cstring>     // memmove
#include <ctime>       // time, gmtime_r, strftime
#include <fstream>     // ifstream (FileResponse)
#include <memory>      // shared_ptr, enable_shared_from_this
#include <mutex>       // mutex
#include <new>         // placement new (ParkedCoroutine)
#include <optional>    // optional
#include <sched.h>     // sched_getaffinity
#include <sys/resource.h>  // getrlimit (max_connections)
#include <sys/stat.h>  // lstat, chmod (Unix socket files)
#include <sys/un.h>    // sockaddr_un
#include <thread>      // thread
#include <type_traits> // decay_t
#include <utility>     // exchange, move
#include <vector>      // vector

namespace fastapi {

// How the server listens and what it tolerates. Defaults follow uvicorn where it has one.
// Where it listens, one of: TCP on host:port (IPv4 or IPv6: "::" is every address of both,
// "::1" the IPv6 loopback); a Unix domain socket at `uds` (uvicorn's --uds); or a listening
// socket it is given by descriptor, `fd` (uvicorn's --fd: systemd socket activation, a
// supervisor's pre-bound socket; of any family).
struct ServerOptions {
    std::string host{};     // empty: $HOST, else 0.0.0.0
    int port = -1;          // -1: $PORT, else 8000; 0: any free port (see Server::port())
    std::string uds{};      // a Unix socket path: a stale socket there is replaced, removed on stop
    int fd = -1;            // a listening socket, owned by the server from start() on
    // More listening sockets served as `fd` is (systemd's LISTEN_FDS past the first: an IPv4
    // and an IPv6 ListenStream, a TCP and a Unix one); owned from start() on. Only with `fd`.
    std::vector<int> more_fds{};
    bool reuse_port = false;  // SO_REUSEPORT: several servers (processes) share one TCP port
    std::string root_path{};  // Request::root_path (uvicorn's --root-path)
    unsigned threads = 0;   // event-loop threads; 0: the CPUs this process may run on
    Limits limits{};
    std::chrono::milliseconds keep_alive_timeout{FASTAPI_KEEP_ALIVE_TIMEOUT * 1000};
    std::chrono::milliseconds header_timeout{FASTAPI_HEADER_TIMEOUT * 1000};  // whole header section
    // The whole body, from the end of the header section (and a stalled write). Each byte
    // received earns 1/body_min_rate s more (Apache's RequestReadTimeout MinRate), so a
    // large upload at a fair rate finishes and a trickle does not hold a connection; 0: none.
    std::chrono::milliseconds body_timeout{FASTAPI_BODY_TIMEOUT * 1000};
    std::size_t body_min_rate = 500;  // bytes a second
    std::chrono::milliseconds graceful_shutdown_timeout{FASTAPI_GRACEFUL_SHUTDOWN_TIMEOUT * 1000};
    unsigned blocking_threads = 16;  // pool for RouteOptions::blocking handlers
    bool handle_signals = true;      // run(): SIGINT/SIGTERM stop gracefully
    bool log_startup = true;         // run(): print the URL on stderr

    // Production serving (App::run(argc, argv) sets these from the command line and the
    // environment, as uvicorn and gunicorn read them).
    // Worker processes (--workers, $WEB_CONCURRENCY): more than 1 makes run() a supervisor
    // that binds once and starts that many workers from the program's own executable.
    unsigned workers = 0;
    std::size_t limit_max_requests = 0;         // a worker that served this many is replaced; 0: never
    std::size_t limit_max_requests_jitter = 0;  // plus a random 0..jitter, per worker
    std::chrono::milliseconds worker_healthcheck_timeout{10000};  // a silent worker is replaced
    // Proxy headers (X-Forwarded-For/-Proto/-Host, RFC 7239 Forwarded) are read from these
    // peers only: addresses, CIDR ranges or "*"; empty: $FORWARDED_ALLOW_IPS, else 127.0.0.1,::1.
    bool proxy_headers = true;
    std::string forwarded_allow_ips{};
    std::string log_level = "info";  // critical, error, warning, info, debug, trace
    bool access_log = false;         // one line a request; run(argc, argv) turns it on as uvicorn
    std::string access_log_format{};  // empty: uvicorn's line; else gunicorn's atoms (%(h)s ...)
    std::string access_log_file{};    // empty: stderr
};

namespace detail {

// CPUs in this process's affinity mask, so taskset and container limits are respected.
FASTAPI_DECL unsigned available_cpus() noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL unsigned available_cpus() noexcept {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return static_cast<unsigned>(n);
    }
    unsigned hw = std::thread::hardware_concurrency();
    return hw ? hw : 1;
}
#endif

FASTAPI_DECL std::string resolve_host(const ServerOptions& o);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string resolve_host(const ServerOptions& o) {
    if (!o.host.empty()) return o.host;
    const char* env = std::getenv("HOST");
    return env && *env ? env : FASTAPI_DEFAULT_HOST;
}
#endif

FASTAPI_DECL unsigned short resolve_port(const ServerOptions& o);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL unsigned short resolve_port(const ServerOptions& o) {
    long port = o.port;
    if (port < 0) {
        const char* env = std::getenv("PORT");
        port = FASTAPI_DEFAULT_PORT;
        if (env && *env) {
            char* end = nullptr;
            port = std::strtol(env, &end, 10);
            if (*end != '\0' || port < 0 || port > 65535)
                throw std::invalid_argument(std::string("fastapi: PORT is not a port number: ") + env);
        }
    }
    if (port > 65535) throw std::invalid_argument("fastapi: port out of range");
    return static_cast<unsigned short>(port);
}
#endif

// The Date header, formatted once a second per thread.
FASTAPI_DECL std::string_view http_date() noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string_view http_date() noexcept {
    thread_local std::time_t cached_second = 0;
    thread_local char text[32];
    std::time_t now = std::time(nullptr);
    if (now != cached_second) {
        cached_second = now;
        std::tm tm{};
        gmtime_r(&now, &tm);
        std::strftime(text, sizeof(text), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    }
    return text;
}
#endif

using generic_endpoint = asio::generic::stream_protocol::endpoint;
using generic_acceptor = asio::basic_socket_acceptor<asio::generic::stream_protocol>;

// An address as a user reads it: the IP (no brackets) and port, or a Unix socket's path.
struct EndpointInfo {
    int family = AF_UNSPEC;
    std::string address;
    unsigned short port = 0;
};
FASTAPI_DECL EndpointInfo endpoint_info(const generic_endpoint& ep);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL EndpointInfo endpoint_info(const generic_endpoint& ep) {
    EndpointInfo info;
    const sockaddr* sa = ep.data();
    if (ep.size() < sizeof(sa_family_t)) return info;
    info.family = sa->sa_family;
    if (info.family == AF_INET && ep.size() >= sizeof(sockaddr_in)) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
        info.address = asio::ip::address_v4(ntohl(in->sin_addr.s_addr)).to_string();
        info.port = ntohs(in->sin_port);
    } else if (info.family == AF_INET6 && ep.size() >= sizeof(sockaddr_in6)) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
        asio::ip::address_v6::bytes_type bytes;
        std::memcpy(bytes.data(), &in6->sin6_addr, bytes.size());
        info.address = asio::ip::address_v6(bytes, in6->sin6_scope_id).to_string();
        info.port = ntohs(in6->sin6_port);
    } else if (info.family == AF_UNIX) {
        const auto* un = reinterpret_cast<const sockaddr_un*>(sa);
        const std::size_t offset = offsetof(sockaddr_un, sun_path);
        const std::size_t len = ep.size() > offset ? ep.size() - offset : 0;
        info.address.assign(un->sun_path, ::strnlen(un->sun_path, len));
    }
    return info;
}
#endif

FASTAPI_DECL bool status_has_no_body(int status) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool status_has_no_body(int status) noexcept {
    return (status >= 100 && status < 200) || status == 204 || status == 304;
}
#endif

// How a body's end is told: its length (Content-Length), chunks (Transfer-Encoding: chunked,
// HTTP/1.1), or the connection closing after it (HTTP/1.0, length unknown).
enum class Framing : unsigned char { length, chunked, until_close };

// Writes the status line and headers (and the in-memory body unless HEAD or bodiless) to
// `out`. `content_length` is the body's or the file's size, with Framing::length.
FASTAPI_DECL void serialize_response(const Request& req, const Response& res, std::uint64_t content_length,
                               bool keep_alive, std::string& out, Framing body_framing = Framing::length);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void serialize_response(const Request& req, const Response& res, std::uint64_t content_length,
                               bool keep_alive, std::string& out, Framing body_framing) {
    using namespace std::string_view_literals;
    // Sized once and filled with memcpy: this runs once per response, pipelined ones included.
    const std::string_view reason = status_reason(res.status);
    const bool bodiless = status_has_no_body(res.status);
    const bool with_body = !bodiless && req.method != "HEAD"sv && res.file_path.empty() && !res.stream;
    auto framing = [](const std::string& name) {  // ours to write: a handler's copy would contradict them
        switch (name.size()) {  // by length first: most names are none of them
            case 4: return iequals(name, "date");
            case 10: return iequals(name, "connection");
            case 14: return iequals(name, "content-length");
            case 17: return iequals(name, "transfer-encoding");
            default: return false;
        }
    };
    std::size_t size = 64 + reason.size() + 96;  // status line, content-length, date, connection
    for (auto& [name, value] : res.headers) size += name.size() + value.size() + 4;
    if (with_body) size += res.body.size();
    // A usual head (and small body) is written on the stack and appended in one copy: resizing
    // `out` first would zero every byte before it is written (measurable per request).
    char small[1024];
    const bool on_stack = size <= sizeof(small);
    const std::size_t start = out.size();
    if (!on_stack) out.resize(start + size);
    char* const begin = on_stack ? small : out.data() + start;
    char* p = begin;
    auto put = [&p](std::string_view s) {
        std::memcpy(p, s.data(), s.size());
        p += s.size();
    };
    auto put_uint = [&put](std::uint64_t v) {
        char digits[20];
        char* d = digits + sizeof(digits);
        do *--d = static_cast<char>('0' + v % 10);
        while ((v /= 10) != 0);
        put(std::string_view(d, static_cast<std::size_t>(digits + sizeof(digits) - d)));
    };
    put("HTTP/1.1 "sv);
    if (const int status = res.status; status >= 100 && status <= 999) {  // the usual three digits
        p[0] = static_cast<char>('0' + status / 100);
        p[1] = static_cast<char>('0' + status / 10 % 10);
        p[2] = static_cast<char>('0' + status % 10);
        p += 3;
    } else {
        put_uint(static_cast<unsigned>(status));
    }
    *p++ = ' ';
    put(reason);
    put("\r\n"sv);
    const bool upgrade = static_cast<bool>(res.on_upgrade);  // its Connection: Upgrade is sent as set
    for (auto& [name, value] : res.headers) {
        if (framing(name) && !(upgrade && iequals(name, "connection"))) continue;
        put(name);
        put(": "sv);
        put(value);
        put("\r\n"sv);
    }
    if (!bodiless && body_framing == Framing::length) {
        put("content-length: "sv);
        put_uint(content_length);
        put("\r\n"sv);
    } else if (!bodiless && body_framing == Framing::chunked) {
        put("transfer-encoding: chunked\r\n"sv);
    }
    put("date: "sv);
    put(http_date());
    put("\r\n"sv);
    if (!keep_alive) put("connection: close\r\n"sv);
    else if (req.version == 10 && !upgrade) put("connection: keep-alive\r\n"sv);
    put("\r\n"sv);
    if (with_body) put(res.body);
    if (on_stack) out.append(small, static_cast<std::size_t>(p - small));
    else out.resize(start + static_cast<std::size_t>(p - begin));
}
#endif

// A connection (defined below, in the implementation unit in the compiled-once mode).
class Connection;
// Makes a connection on `stream` and starts it (posted to its loop, or at once): what the App's
// constructor gives AppContext::connection_opener, the one way the server opens connections.
FASTAPI_CORO_DECL std::shared_ptr<Connection> open_connection(Stream&& stream, const std::shared_ptr<ServerState>& state,
                                                              Worker& worker, bool post_start);

// What a process serving as a worker or under systemd adds to a Server (below, internal).
struct ServingHooks;

// The server's internals (Worker, ServerState): hidden from a user's unit of the compiled-once
// mode, which reaches them only through pointers (Server, TestClient) and FASTAPI_DECL functions.
#if FASTAPI_INTERNALS
// One event loop's connections, for the timeout sweep and graceful shutdown.
struct Worker {
    using clock = std::chrono::steady_clock;
    asio::io_context& context;
    // The sweeper's waits and its cancel are ordered by a strand: the embedded mode may run one
    // context on several threads.
    // Reset (ServerState::release_io) before the context goes: a strand must not outlive it.
    std::optional<asio::strand<asio::io_context::executor_type>> strand;
    std::optional<asio::steady_timer> sweeper;  // reset before its context goes
    std::mutex mutex;
    std::vector<Connection*> connections;

    explicit Worker(asio::io_context& c) : context(c), strand(asio::make_strand(c)) { sweeper.emplace(*strand); }
    // The coarse clock, ticked by the sweep and read by every connection of the loop (from
    // several threads in the embedded mode): an atomic count, so reading it is no data race.
    clock::time_point now() const noexcept {
        return clock::time_point(clock::duration(now_ticks_.load(std::memory_order_relaxed)));
    }
    void tick() noexcept { now_ticks_.store(clock::now().time_since_epoch().count(), std::memory_order_relaxed); }
    void add(Connection* c) {
        std::lock_guard lock(mutex);
        connections.push_back(c);
    }
    void remove(Connection* c) {
        std::lock_guard lock(mutex);
        auto it = std::find(connections.begin(), connections.end(), c);
        if (it != connections.end()) {
            *it = connections.back();
            connections.pop_back();
        }
    }

private:
    std::atomic<clock::rep> now_ticks_{clock::now().time_since_epoch().count()};
};

// A thread pool still running a handler that cannot be interrupted (a blocking handler past
// the grace period) is never joined where that would wait without bound: a detached thread
// joins and frees it once its last handler returns.
FASTAPI_DECL void abandon_pool(std::unique_ptr<asio::thread_pool> pool);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void abandon_pool(std::unique_ptr<asio::thread_pool> pool) {
    if (!pool) return;
    pool->stop();  // what has not started yet is dropped
    std::thread([p = pool.release()] {
        p->join();
        delete p;
    }).detach();
}
#endif

// Loops a Server owned that a blocking handler may still post to once it returns: kept (stopped)
// until the process exits, rather than freed under that handler.
FASTAPI_DECL void keep_until_exit(std::vector<std::unique_ptr<asio::io_context>> contexts);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void keep_until_exit(std::vector<std::unique_ptr<asio::io_context>> contexts) {
    static std::mutex mutex;
    static auto* kept = new std::vector<std::unique_ptr<asio::io_context>>;  // reachable, never freed
    std::lock_guard lock(mutex);
    for (auto& c : contexts) kept->push_back(std::move(c));
}
#endif

// Runs a loop until it is out of work or stopped. An exception escaping a completion handler
// (a handler the user posted, a throwing allocation) is logged and the loop goes on: one bad
// handler must not end every connection the loop serves.
FASTAPI_DECL void run_loop(asio::io_context& context) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void run_loop(asio::io_context& context) noexcept {
    for (;;) {
        try {
            context.run();
            return;
        } catch (const std::exception& e) {
            std::fprintf(stderr, "fastapi: an exception escaped a completion handler (the loop goes on): %s\n", e.what());
        } catch (...) {
            std::fprintf(stderr, "fastapi: an exception escaped a completion handler (the loop goes on)\n");
        }
    }
}
#endif

// SIGUSR1 reopens the access log's file (logrotate), for as long as the set waits.
FASTAPI_DECL void reopen_log_on(asio::signal_set& set);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void reopen_log_on(asio::signal_set& set) {
    set.async_wait([&set](const asio::error_code& ec, int) {
        if (ec) return;
        log::reopen();
        reopen_log_on(set);
    });
}
#endif
// What a process serving as a worker of a supervisor (server/supervisor.hpp) or under systemd
// adds to a Server: told of each request its loop runs, of the loops once it listens, and of the
// stop. Null for a plain Server: nothing is called.
struct ServingHooks {
    virtual ~ServingHooks() = default;
    // On the loop's thread, around the app's dispatch of a request (its synchronous part).
    virtual void request_started(const Request& request) noexcept = 0;
    virtual void request_dispatched() noexcept = 0;
    // run(): listening, before the loops run; `stop` is Server::stop. The hooks' io objects
    // on these loops must be closed by stopping(), or the loops would not return.
    virtual void serving(const std::vector<asio::io_context*>& loops, std::function<void()> stop) = 0;
    // The graceful stop began (on the first loop).
    virtual void stopping() noexcept = 0;
};

// What one server's connections and pending handlers share. Owned jointly by the Server and
// by every connection (pending handlers hold it weakly), so destroying a started Server, stopped
// or not, never leaves a handler reading freed memory: the state goes with the last of them.
struct ServerState : std::enable_shared_from_this<ServerState> {
    AppContext& app;
    ServerOptions options;
    ServingHooks* hooks = nullptr;  // a worker's or systemd's (owned mode only)
    bool embedded = false;
    // TestClient: connections over in-memory streams on the caller's loop, where what the server
    // gives the blocking pool (blocking handlers, file and spool I/O, background tasks) runs too.
    bool in_process = false;
    std::atomic<bool> stopping{false};
    std::atomic<std::size_t> live_connections{0};
    std::size_t max_connections = 0;  // limits.max_connections within the open-file limit (start())
    // Held by every connection together: bodies being buffered (Limits::max_buffered_body_bytes)
    // and uploads being streamed to disk (Limits::max_spool_bytes).
    std::atomic<std::size_t> buffered_body_bytes{0};
    std::atomic<std::uint64_t> spool_bytes{0};
    std::mutex pool_mutex;
    std::unique_ptr<asio::thread_pool> blocking_pool;
    bool pool_abandoned = false;  // with pool_mutex

    // One loop per worker. The acceptor and the stop's timers run on `control`, a strand of
    // the first loop (several threads may run it in the embedded mode); the sweepers on their
    // worker's strand.
    std::vector<std::unique_ptr<Worker>> workers;
    std::optional<asio::strand<asio::io_context::executor_type>> control;
    std::unique_ptr<generic_acceptor> acceptor;
    std::vector<std::unique_ptr<generic_acceptor>> more_acceptors;  // ServerOptions::more_fds
    std::string uds_path;  // the Unix socket file this server made, removed when it stops
    std::unique_ptr<asio::steady_timer> retry_timer, stop_timer;
    std::vector<std::unique_ptr<asio::steady_timer>> more_retry_timers;  // for more_acceptors
    std::chrono::steady_clock::time_point stop_deadline{};
    // Set by begin_stop: until then an idle keep-alive connection stays open and reads on
    // (Connection::begin_shutdown), min(1 s, grace) after the stop or its last response.
    std::chrono::steady_clock::time_point stop_began{};
    std::chrono::milliseconds idle_drain{0};
    std::size_t next_worker = 0;
    int forced_ticks = 0;
    std::atomic<bool> finished{false};
    std::atomic<bool> entered{false};  // the app's lifespan was entered by start()
    bool serving = false;              // the app is frozen by this server (App::begin_serving)
    std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;  // owned: run()'s
    // One line per response (ServerOptions::access_log), formatted on the connection's loop into
    // the log's per-thread buffer (log.hpp); null when off.
    std::unique_ptr<AccessLog> access_log;
    std::unique_ptr<asio::signal_set> reopen_signal;  // owned mode: SIGUSR1, cancelled with the stop
    asio::signal_set* signals = nullptr;  // run()'s, cancelled once stopped (a stop() that no signal began)

    // Whose proxy headers count (forwarded_allow_ips, parsed once; a bad entry throws here).
    ProxyTrust proxy_trust;

    ServerState(AppContext& a, ServerOptions o)
        : app(a), options(std::move(o)),
          access_log(options.access_log ? std::make_unique<AccessLog>(options.access_log_format, options.workers > 1) : nullptr),
          proxy_trust(options.proxy_headers ? proxy_trust_from(options.forwarded_allow_ips) : ProxyTrust{}) {
        if (!app.connection_opener) throw std::logic_error("fastapi: internal error: the app sets no connection opener");
    }
    ~ServerState() {
        std::unique_ptr<asio::thread_pool> pool;
        {
            std::lock_guard lock(pool_mutex);
            pool = std::move(blocking_pool);
        }
        // The last owner may be a pool thread itself (a blocking handler's connection): joining
        // the pool there would wait for itself.
        if (pool && (pool_abandoned || pool->get_executor().running_in_this_thread())) abandon_pool(std::move(pool));
        else if (pool) pool->join();
        if (serving) app.end_serving();
    }

    asio::thread_pool& pool() {
        std::lock_guard lock(pool_mutex);
        if (!blocking_pool) blocking_pool = std::make_unique<asio::thread_pool>(std::max(1u, options.blocking_threads));
        return *blocking_pool;
    }

    // A request's background tasks, posted once its response is written; graceful shutdown
    // waits (up to the grace period) until none is pending.
    std::atomic<std::size_t> background_pending{0};
    DependencyScope::Entry background_entry(std::shared_ptr<BackgroundJob> job) {
        ++background_pending;
        DependencyScope::Entry e;
        e.cleanup = [self = shared_from_this(), job = std::move(job)] {
            if (self->in_process) {  // TestClient: done before request() returns
                job->run();
                --self->background_pending;
                return;
            }
            asio::post(self->pool(), [self, job] {
                job->run();
                --self->background_pending;
            });
        };
        return e;
    }
    // After the grace period: tasks not started yet are dropped, and a handler still running on
    // the pool (C++ cannot interrupt a thread) is left to finish on its own; nothing waits for it.
    void abandon_pool_work() {
        std::lock_guard lock(pool_mutex);
        if (!blocking_pool) return;
        pool_abandoned = true;
        blocking_pool->stop();
    }
    bool pool_was_abandoned() {
        std::lock_guard lock(pool_mutex);
        return pool_abandoned;
    }
    // An abandoned pool is joined and freed by a detached thread.
    void finish_pool() {
        std::unique_ptr<asio::thread_pool> pool;
        {
            std::lock_guard lock(pool_mutex);
            if (!pool_abandoned) return;  // joined when the state goes
            pool = std::move(blocking_pool);
        }
        abandon_pool(std::move(pool));
    }

    // Waits for the pool's work, unless it was abandoned.
    void join_pool() {
        asio::thread_pool* p = nullptr;
        {
            std::lock_guard lock(pool_mutex);
            if (!pool_abandoned) p = blocking_pool.get();
        }
        if (p) p->join();
    }

    void remove_uds() noexcept {
        if (!uds_path.empty()) ::unlink(uds_path.c_str());
        uds_path.clear();
    }

    void leave_lifespan() noexcept {
        if (entered.exchange(false)) app.exit_lifespan();
    }

    // Connections handed off after an Upgrade (WebSockets), each held by its lease: counted in
    // live_connections, told of a graceful stop (going_away) and of the end of its grace
    // period (abort), on the stream's executor.
    struct Lease final : UpgradeLease {
        std::shared_ptr<ServerState> state;
        asio::any_io_executor executor;
        bool told_going_away = false;  // with upgraded_mutex
        Lease(std::shared_ptr<ServerState> s, asio::any_io_executor ex) : state(std::move(s)), executor(std::move(ex)) {
            ++state->live_connections;
            std::lock_guard lock(state->upgraded_mutex);
            state->upgraded.push_back(this);
        }
        ~Lease() override {
            {
                std::lock_guard lock(state->upgraded_mutex);
                auto it = std::find(state->upgraded.begin(), state->upgraded.end(), this);
                if (it != state->upgraded.end()) *it = state->upgraded.back(), state->upgraded.pop_back();
            }
            --state->live_connections;
        }
    };
    std::mutex upgraded_mutex;
    std::vector<Lease*> upgraded;
    // Posts going_away (once each) or abort to every upgraded connection's executor.
    void tell_upgraded(bool abort);

    void listen();
    void start();
    void accept(generic_acceptor* from);
    void sweep(Worker& w);
    void begin_stop(std::chrono::milliseconds grace);
    void watch_stop();
    template <class F>
    void for_each_connection(F f);
    // The io objects on the loops' contexts, freed before an owned context is.
    void release_io() noexcept {
        for (auto& w : workers) w->sweeper.reset();
        retry_timer.reset();
        more_retry_timers.clear();
        stop_timer.reset();
        reopen_signal.reset();
        acceptor.reset();
        more_acceptors.clear();
        // Strands last: each holds a part of its io_context's strand service, which goes with
        // the context (owned_.clear() after this); a strand outliving it is a use-after-free.
        for (auto& w : workers) w->strand.reset();
        control.reset();
    }
};
#endif  // FASTAPI_INTERNALS

// Over limits.max_connections: answered 503 at once and closed, as uvicorn's
// --limit-concurrency does, without the cost of a connection (a small buffer drains what the
// client sent, so closing does not reset the answer away; one second at most).
FASTAPI_DECL void reject_connection(asio::generic::stream_protocol::socket socket);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void reject_connection(asio::generic::stream_protocol::socket socket) {
    struct Rejected {
        asio::generic::stream_protocol::socket socket;
        asio::steady_timer timer;
        std::string answer;
        char sink[1024];
        explicit Rejected(asio::generic::stream_protocol::socket s) : socket(std::move(s)), timer(socket.get_executor()) {}
        void drain(std::shared_ptr<Rejected> self) {
            socket.async_read_some(asio::buffer(sink), [self](const asio::error_code& ec, std::size_t) {
                if (ec) self->timer.cancel();
                else self->drain(self);
            });
        }
    };
    auto r = std::make_shared<Rejected>(std::move(socket));
    Response res;
    write_status_detail(res, 503);
    Request req;
    req.method = "GET";
    serialize_response(req, res, res.body.size(), false, r->answer);
    asio::async_write(r->socket, asio::buffer(r->answer), [r](const asio::error_code& ec, std::size_t) {
        asio::error_code ignored;
        if (ec) {
            r->socket.close(ignored);
            return;
        }
        r->socket.shutdown(asio::socket_base::shutdown_send, ignored);
        r->timer.expires_after(std::chrono::seconds(1));
        r->timer.async_wait([r](const asio::error_code&) {
            asio::error_code e;
            r->socket.close(e);
        });
        r->drain(r);
    });
}
#endif

// A connection: its definition is compiled where the definitions are (the implementation unit
// in the compiled-once mode); elsewhere it is only the name `class Connection;` above.
#if FASTAPI_DEFINITIONS
// What the server's state and the in-process sessions ask of a connection; BasicConnection is
// the one kind. Virtual so that the code calling these, no template, does not compile the
// connection's coroutines: they are compiled where an App is made (core/config.hpp).
class Connection : public std::enable_shared_from_this<Connection> {
public:
    virtual ~Connection() = default;
    virtual asio::any_io_executor executor() = 0;
    // Closes the connection when past its deadline (the sweep, on the connection's loop).
    virtual void sweep(std::chrono::steady_clock::time_point now) = 0;
    virtual void begin_shutdown() = 0;
    virtual void close() = 0;
    virtual void end_of_input() = 0;
};

template <int N>
class BasicConnection final : public Connection {
    using clock = std::chrono::steady_clock;
    enum class Phase { idle, headers, body, handler };

public:
    std::shared_ptr<BasicConnection> shared_from_this() {
        return std::static_pointer_cast<BasicConnection>(Connection::shared_from_this());
    }
    std::weak_ptr<BasicConnection> weak_from_this() noexcept {
        return std::static_pointer_cast<BasicConnection>(Connection::weak_from_this().lock());
    }
    BasicConnection(Stream stream, const std::shared_ptr<ServerState>& state, Worker& worker)
        : keep_state_(state), stream_(std::move(stream)), state_(*state), worker_(worker), parser_(state->options.limits),
          disconnected_(std::make_shared<std::atomic<bool>>(false)) {
        ++state_.live_connections;
    }
    ~BasicConnection() {
        // Responses never written (the peer left): their dependencies are cleaned up all the same.
        DependencyScope::close(sending_cleanups_);
        DependencyScope::close(out_cleanups_);
        DependencyScope::close(file_cleanups_);
        release_buffered();
        release_spool();
        worker_.remove(this);
        --state_.live_connections;
    }

    void start() {
        if (auto* socket = stream_.socket()) {
            asio::error_code ec;
            auto local = endpoint_info(socket->local_endpoint(ec));
            if (local.family == AF_INET || local.family == AF_INET6) {  // Nagle only on TCP
                socket->set_option(asio::ip::tcp::no_delay(true), ec);
                local_host_ = std::move(local.address);
                local_port_ = local.port;
                auto remote = socket->remote_endpoint(ec);
                if (!ec) {
                    auto peer = endpoint_info(remote);
                    client_address_ = std::move(peer.address);
                    client_port_ = peer.port;
                }
            }  // a Unix socket: no client address, as uvicorn gives
            trusted_proxy_ = state_.options.proxy_headers &&
                             (local.family == AF_UNIX ? state_.proxy_trust.trusts_unix_peers()
                                                      : state_.proxy_trust.trusts(client_address_));
        } else {
            client_address_ = "testclient";
            local_host_ = "testserver";
            local_port_ = 80;
            trusted_proxy_ = state_.options.proxy_headers && state_.proxy_trust.trusts(client_address_);
        }
        worker_.add(this);
        registered_ = true;
        accepted_at_ = worker_.now();
        set_phase(Phase::idle);
        read();
    }

    // Called by the sweep with the coarse clock: closes connections past their deadline.
    void sweep(clock::time_point now) override {
        if (closed_) return;
        if (writing_ && now > write_deadline_) return close();
        // A body being written to disk waits for the blocking pool, not for the client: the
        // server's own delay is no timeout (and a 408 then would be a second answer).
        if (phase_ == Phase::handler || spool_writing_ || now <= deadline_) return;
        // Part of a request came, not all of it in time: answered 408 and closed (as nginx
        // does); an idle keep-alive connection (Phase::idle) closes silently, and so does one
        // still dropping the body of a request it answered already.
        if ((phase_ == Phase::headers || phase_ == Phase::body) && !writing_ && out_.empty() && !busy_ &&
            !close_after_write_ && drain_left_ == 0) {
            answer_parse_error({ParseStatus::error, 0, 408, "Request Timeout"});
            deadline_ = now + state_.options.body_timeout;  // for writing the answer
            flush();
            return;
        }
        close();
    }

    // Graceful stop: busy connections close after their current response (sent with
    // `Connection: close`); idle keep-alive ones after a quiet drain window. Closing an idle
    // connection at once races the peer's next request on it (RFC 9112 §9.3.1: a proxy such as
    // nginx may retry a GET on another connection, never a POST): so it stays open and reads on
    // for min(1 s, grace) after the stop or its last response, a request that comes meanwhile
    // is answered with `Connection: close`, and the peer closing it ends it sooner. Also not
    // closed: one whose request is in the socket unread, or one just accepted that has not sent
    // its first request yet (half a second): their client did nothing wrong (a worker replaced
    // under load accepts until its acceptor closes).
    void begin_shutdown() override {
        if (closed_) return;
        if (phase_ == Phase::idle && !writing_ && out_.empty()) {
            if (auto* socket = stream_.socket()) {
                asio::error_code ec;
                if (socket->available(ec) > 0 && !ec) return;
                if (fresh_ && worker_.now() - accepted_at_ < std::chrono::milliseconds(500)) return;
                if (draining()) return read();
            }
            close();
        } else if (streaming_ && stream_stop_) {
            std::exchange(stream_stop_, nullptr)();  // an event stream ends
        }
    }

    // Stopping, and this idle connection is still in its drain window (begin_shutdown).
    bool draining() const {
        const auto quiet_from = std::max(state_.stop_began, idle_since_);
        return std::chrono::steady_clock::now() < quiet_from + state_.idle_drain;
    }

    void close() override {
        if (closed_) return;
        closed_ = true;
        disconnected_->store(true, std::memory_order_release);
        stream_.close();
        file_.reset();  // opened for a response not sent (a chunk being read holds its own reference)
        // A coroutine handler still running is cancelled: what it awaits ends with
        // operation_aborted (the shutdown's grace period is over, or the peer is gone).
        cancel_.emit(asio::cancellation_type::terminal);
        coroutine_cancel_.emit(asio::cancellation_type::terminal);
        parked_.reset();  // a parked coroutine is not needed any more
    }

    asio::any_io_executor executor() override { return stream_.get_executor(); }

    // In-process (TestClient): the client sent everything it will. A request cut short is
    // answered 400, as the parser would answer a malformed one; else the connection closes.
    void end_of_input() override {
        if (closed_) return;
        if (!busy_ && !writing_ && out_.empty() && (in_begin_ < in_end_ || spool_) && drain_left_ == 0 && !spool_writing_) {
            answer_parse_error({ParseStatus::error, 0, 400, "Incomplete request"});
            flush();
            return;
        }
        if (!writing_ && out_.empty() && !busy_) close();
        else close_after_write_ = true;
    }

private:
    // Work for the blocking pool; in-process (TestClient), for the caller's loop.
    template <class F>
    void post_blocking(F&& f) {
        if (state_.in_process) asio::post(stream_.get_executor(), std::forward<F>(f));
        else asio::post(state_.pool(), std::forward<F>(f));
    }

    // The request's view of its connection, filled in before the app sees it.
    void begin_exchange() {
        Request& r = ex_.request;
        // A proxy's scheme for the request before: the connection's again, and the port Host implies.
        if (trusted_proxy_ && (r.scheme.size() != 4 || std::memcmp(r.scheme.data(), "http", 4) != 0)) rescheme(r, "http");
        // The same for every request of the connection: assigned only when a handler changed it.
        if (r.client_address != client_address_) r.client_address = client_address_;
        r.client_port = client_port_;
        if (r.root_path != state_.options.root_path) r.root_path = state_.options.root_path;
        if (r.host.empty() && r.port == 0) {  // no Host (the parser fills host and port from it)
            if (r.host != local_host_) r.host = local_host_;
            r.port = local_port_;
        }
        // From a trusted proxy, its X-Forwarded-* or Forwarded headers say who the client is.
        if (trusted_proxy_) apply_proxy_headers(r, state_.proxy_trust);
        if (!r.disconnected_) r.disconnected_ = disconnected_;
        fresh_ = false;
        ex_.reset_for_request();
        if (state_.access_log && state_.access_log->timed()) started_ = clock::now();
    }

    // The response is sent (its head, and `body_bytes` of body): its access-log line.
    void log_access(std::uint64_t body_bytes) {
        if (state_.access_log) state_.access_log->record(ex_.request, ex_.response, body_bytes, started_);
    }

    // The upgrade response is written: the stream, and what was read past the request, go to
    // the response's on_upgrade; this connection is done with them (closed_, stream moved out).
    void hand_off() {
        if (writing_ || closed_) return;
        if (reading_) return stream_.cancel();  // on_read comes back here
        closed_ = true;
        parked_.reset();
        // In-process (TestClient): the bytes after the request are all the upgraded code will
        // read; then the end of the stream, so the call returns once that code is done.
        if (state_.in_process) stream_.end_input();
        auto upgrade = std::move(upgrade_);
        auto lease = std::make_shared<ServerState::Lease>(keep_state_, stream_.get_executor());
        Upgraded up{std::move(stream_), std::string(in_.data() + in_begin_, in_end_ - in_begin_), std::move(lease)};
        in_begin_ = in_end_ = 0;
        try {
            upgrade(std::move(up));
        } catch (const std::exception& e) {
            std::fprintf(stderr, "fastapi: on_upgrade threw: %s\n", e.what());
        } catch (...) {
            std::fprintf(stderr, "fastapi: on_upgrade threw\n");
        }
    }

    void set_phase(Phase p) {
        phase_ = p;
        const auto& o = state_.options;
        switch (p) {
            case Phase::idle:
                deadline_ = worker_.now() + o.keep_alive_timeout;
                if (state_.stopping.load(std::memory_order_relaxed)) idle_since_ = clock::now();
                break;
            case Phase::headers: deadline_ = worker_.now() + o.header_timeout; break;
            case Phase::body: deadline_ = worker_.now() + o.body_timeout; break;
            case Phase::handler: break;
        }
    }

    void read() {
        if (reading_ || closed_ || close_after_write_ || spool_writing_ || lingering_ || upgrading_ ||
            out_.size() > output_high_water)
            return;
        // While a handler runs or a body streams the connection reads on (so it sees the client
        // leave), into the buffer and bounded: pipelined bytes are kept for later, a flood is not.
        if (busy_ && !((running_ || streaming_) && in_end_ - in_begin_ < max_read_while_busy)) return;
        if (in_begin_ == in_end_ && !busy_) {
            in_begin_ = in_end_ = 0;
            // Between requests: what one large request grew is given back, so many idle
            // connections stay small. A buffer grown for a body stays counted in
            // max_buffered_body_bytes until then (pipelined requests keep it in use).
            if (in_.size() > idle_buffer_limit || buffered_ != 0) {
                std::string().swap(in_);
                release_buffered();
            }
            if (ex_.request.body.capacity() > idle_buffer_limit) std::string().swap(ex_.request.body);
            if (ex_.response.body.capacity() > idle_buffer_limit) std::string().swap(ex_.response.body);
        }
        const std::size_t want = read_room();
        if (in_.size() - in_end_ < want) {
            if (in_begin_ > 0) {  // make room by moving the unconsumed bytes to the front
                std::memmove(in_.data(), in_.data() + in_begin_, in_end_ - in_begin_);
                in_end_ -= in_begin_;
                in_begin_ = 0;
            }
            if (in_.size() - in_end_ < want && !grow_buffer(want)) return;
        }
        reading_ = true;
        stream_.async_read_some(asio::buffer(in_.data() + in_end_, in_.size() - in_end_),
                                [self = this->shared_from_this()](const asio::error_code& ec, std::size_t n) {
                                    self->on_read(ec, n);
                                });
    }

    void on_read(const asio::error_code& ec, std::size_t n) {
        reading_ = false;
        if (upgrading_) {  // the read was cancelled for the hand-off; what it got is the new protocol's
            if (!ec) in_end_ += n;
            return hand_off();
        }
        if (closed_) return;
        if (body_) return on_body_read(ec, n);  // a handler is reading the body as it arrives
        if (ec && (running_ || streaming_)) {
            // The client left while its handler runs or its body streams: a coroutine handler
            // or a streaming producer is cancelled (an event stream idle for minutes included),
            // a blocking handler sees request.is_disconnected(). A closed socket and a half-closed
            // one look alike (both are the end of the stream): what the handler still answers
            // is written, then the connection closes; a reset one closes now.
            disconnected_->store(true, std::memory_order_release);
            cancel_.emit(asio::cancellation_type::terminal);
            coroutine_cancel_.emit(asio::cancellation_type::terminal);
            if (ec == asio::error::eof) close_after_write_ = true;
            else close();
            return;
        }
        if (ec) {
            // The peer is gone or half-closed: finish writing what is owed, then close.
            if (!writing_ && out_.empty() && !busy_) close();
            else close_after_write_ = true;
            return;
        }
        in_end_ += n;
        if (phase_ == Phase::idle) set_phase(Phase::headers);
        else if (phase_ == Phase::body && state_.options.body_min_rate != 0)  // the body's deadline, not restarted
            deadline_ += std::chrono::microseconds(n * 1'000'000 / state_.options.body_min_rate);
        process();
    }

    // How much room the next read needs: min_read, or what is left of a body of known length.
    std::size_t read_room() const noexcept {
        if (!head_routed_ || spool_ || parser_.body_chunked()) return min_read;
        const std::uint64_t end = parser_.body_offset() + parser_.content_length();  // from in_begin_
        const std::size_t have = in_end_ - in_begin_;
        return end > have ? static_cast<std::size_t>(std::min<std::uint64_t>(min_read, end - have)) : min_read;
    }

    // Grows the read buffer: doubling, but never past the end of a body whose length is known,
    // and for a body within what all connections together may buffer (503 beyond).
    bool grow_buffer(std::size_t want) {
        std::size_t size = std::max<std::size_t>(in_.size() * 2, initial_buffer);
        if (head_routed_ && !spool_ && !parser_.body_chunked()) {
            const std::uint64_t end = in_begin_ + parser_.body_offset() + parser_.content_length();
            size = static_cast<std::size_t>(std::min<std::uint64_t>(size, std::max<std::uint64_t>(end, in_end_ + want)));
        }
        if (head_routed_ && size > in_.size()) {
            const std::size_t more = size - in_.size();
            const std::size_t cap = state_.options.limits.max_buffered_body_bytes;
            std::size_t held = state_.buffered_body_bytes.load(std::memory_order_relaxed);
            do {
                if (held > cap || cap - held < more) {
                    answer_parse_error({ParseStatus::error, 0, 503, "Server busy: too many request bodies in memory"});
                    linger_ = true;
                    flush();
                    return false;
                }
            } while (!state_.buffered_body_bytes.compare_exchange_weak(held, held + more, std::memory_order_relaxed));
            buffered_ += more;
        }
        in_.resize(size);
        return true;
    }
    void release_buffered() noexcept {
        if (buffered_ != 0) state_.buffered_body_bytes.fetch_sub(std::exchange(buffered_, 0), std::memory_order_relaxed);
    }
    void release_spool() noexcept {
        if (spool_reserved_ != 0) state_.spool_bytes.fetch_sub(std::exchange(spool_reserved_, 0), std::memory_order_relaxed);
    }

    // The next request starts: the parser and what this connection knew of the last one.
    void next_request() {
        continue_sent_ = false;
        head_routed_ = false;
        parser_.reset();
    }

    // Parses and answers every complete request in the buffer, in order.
    void process() {
        while (!busy_ && !spool_writing_ && !close_after_write_ && !closed_ && !upgrading_ && in_begin_ < in_end_ &&
               out_.size() <= output_high_water) {
            if (drain_left_ != 0) {  // the body of a request answered without it
                const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(in_end_ - in_begin_, drain_left_));
                in_begin_ += n;
                drain_left_ -= n;
                continue;
            }
            if (spool_) {
                if (!spool_body()) break;
                continue;
            }
            ParseResult r = parser_.parse(std::string_view(in_.data() + in_begin_, in_end_ - in_begin_), ex_.request);
            if (r.status == ParseStatus::need_more) {
                if (parser_.headers_complete()) {
                    if (!head_routed_ && !route_head()) continue;  // answered without its body
                    if (phase_ != Phase::body) set_phase(Phase::body);
                    if (parser_.expects_continue() && !continue_sent_) {
                        out_ += "HTTP/1.1 100 Continue\r\n\r\n";
                        continue_sent_ = true;
                    }
                    if (parser_.spool_length() != 0 && start_spool()) continue;
                }
                break;
            }
            if (r.status == ParseStatus::error) {
                answer_parse_error(r);
                break;
            }
            in_begin_ += r.consumed;
            next_request();
            run_request();
        }
        if (!busy_ && phase_ == Phase::handler) set_phase(in_begin_ < in_end_ ? Phase::headers : Phase::idle);
        flush();
        read();
    }

    // The header section is in and the body is not (all of it): route first, so that nothing
    // is read, buffered or spooled for a request no route takes. False when it was answered.
    bool route_head() {
        head_routed_ = true;
        begin_exchange();
        const BodyWanted wanted = state_.app.dispatch_head(ex_);
        if (wanted == BodyWanted::no_route || wanted == BodyWanted::answered || wanted == BodyWanted::unread) {
            answer_without_body(wanted == BodyWanted::answered);
            return false;
        }
        if (const std::uint64_t length = parser_.spool_length(); length != 0) {
            // Too large for memory: only a route that reads a form streams it to disk, within
            // the disk all uploads in flight may take.
            const auto cap = static_cast<std::uint64_t>(state_.options.limits.max_spool_bytes);
            if (wanted != BodyWanted::form || length > cap) {
                answer_parse_error({ParseStatus::error, 0, 413, "Request body too large"});
                linger_ = true;
                return false;
            }
            std::uint64_t held = state_.spool_bytes.load(std::memory_order_relaxed);
            do {
                if (held > cap || cap - held < length) {
                    answer_parse_error({ParseStatus::error, 0, 503, "Server busy: too many uploads in progress"});
                    linger_ = true;
                    return false;
                }
            } while (!state_.spool_bytes.compare_exchange_weak(held, held + length, std::memory_order_relaxed));
            spool_reserved_ = length;
        }
        if (wanted == BodyWanted::stream) {  // the handler runs now and reads the body itself
            start_body_stream();
            return false;
        }
        return true;
    }

    // No route takes the request (404, 405, the slash redirect) or its route takes no body:
    // dispatch answers it now, without the body; or the head step answered it already (a
    // dependency refused it). A
    // small body of known length that the client sends anyway is read and dropped, to keep
    // the connection; otherwise the connection closes after the answer (a client waiting for
    // 100 Continue never sends it).
    void answer_without_body(bool answered) {
        const bool drain = !parser_.body_chunked() && !parser_.expects_continue() &&
                           parser_.content_length() <= max_drain_bytes;
        drain_left_ = drain ? parser_.content_length() : 0;
        in_begin_ += parser_.body_offset();
        ex_.request.body.clear();
        if (!drain) {
            ex_.request.keep_alive = false;
            linger_ = true;
        }
        next_request();
        if (!answered) return run_request();
        set_phase(Phase::handler);
        finish_response();
    }

    // An upload too large for memory (the parser's spool_length): its body goes to a
    // temporary file as it arrives, and the request runs once all of it is there.
    bool start_spool() {
        try {
            spool_ = TempFile::create(state_.app.form_options().temp_dir);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "%s\n", e.what());
            answer_parse_error({ParseStatus::error, 0, 500, "Could not store the request body"});
            return false;
        }
        spool_left_ = parser_.spool_length();
        in_begin_ += parser_.body_offset();  // the head is parsed into ex_.request already
        return true;
    }
    // Moves buffered body bytes to the file, on the blocking pool (the disk may be slow);
    // reading waits until they are written. Always false: on_spooled goes on.
    bool spool_body() {
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(in_end_ - in_begin_, spool_left_));
        spool_writing_ = true;
        post_blocking([self = this->shared_from_this(), bytes = std::string_view(in_.data() + in_begin_, n)] {
            const bool ok = self->spool_->write(bytes);
            asio::post(self->executor(), [self, ok, n = bytes.size()] { self->on_spooled(ok, n); });
        });
        return false;
    }
    void on_spooled(bool ok, std::size_t n) {
        spool_writing_ = false;
        if (closed_) return;
        if (close_after_write_) return flush();  // answered meanwhile: the body is not wanted any more
        if (!ok) {
            spool_.reset();
            answer_parse_error({ParseStatus::error, 0, 500, "Could not store the request body"});
        } else {
            in_begin_ += n;
            spool_left_ -= n;
            if (spool_left_ == 0) {
                ex_.request.body_file = std::move(spool_);
                spool_.reset();
                next_request();
                run_request();
            }
        }
        process();
    }

    void run_request() {
        set_phase(Phase::handler);
        if (!ex_.head_dispatched) begin_exchange();  // else the head step began this request's exchange
        if (ex_.request.body_file) {
            // A spooled upload is read back (parsed into the request's form) on the blocking
            // pool, not on the event loop; the request is then dispatched as any other.
            busy_ = true;
            ex_.app = &state_.app;
            post_blocking([self = this->shared_from_this()] {
                try {
                    preload_form(self->ex_);
                } catch (...) {  // left to the handler's own parse, which answers the error
                }
                asio::post(self->executor(), [self] {
                    self->busy_ = false;
                    if (self->closed_) return;
                    self->dispatch_request();
                    self->process();
                });
            });
            return;
        }
        dispatch_request();
    }

    void dispatch_request() {
        Dispatch dispatched;
        if (ServingHooks* hooks = state_.hooks) {
            hooks->request_started(ex_.request);
            struct Left {
                ServingHooks* h;
                ~Left() { h->request_dispatched(); }
            } left{hooks};
            dispatched = state_.app.dispatch(ex_);
        } else {
            dispatched = state_.app.dispatch(ex_);
        }
        switch (dispatched) {
            case Dispatch::done: finish_response(); return;
            case Dispatch::run_async:
                busy_ = running_ = true;
                if (run_coroutine_request()) {  // it awaited nothing that suspends: done here
                    busy_ = running_ = false;
                    finish_response();
                    return;
                }
                read();  // to notice the client leaving
                return;
            case Dispatch::run_blocking:
                busy_ = running_ = true;
                post_blocking([self = this->shared_from_this()] {
                    self->state_.app.run_endpoint(self->ex_);
                    asio::post(self->stream_.get_executor(), [self] { self->resume(); });
                });
                read();  // to notice the client leaving
                return;
        }
    }

    // ---- Coroutine requests (a coroutine middleware, handler or dependency): they run in one
    // coroutine per connection (serve_coroutines), spawned for the first and parked between
    // requests, rather than in a co_spawn each (a frame, work guards, a cancellation slot and
    // a posted completion per request). Resumed here, a request that awaits nothing that
    // suspends (the usual coroutine middleware) is done when this returns true, and the
    // connection goes on at once; otherwise the coroutine calls resume() once it is done.
    bool run_coroutine_request() {
        coroutine_inline_ = true;
        coroutine_done_ = false;
        if (parked_) {
            parked_.resume();
        } else {
            asio::co_spawn(executor(), serve_coroutines(this->weak_from_this()),
                           asio::bind_cancellation_slot(coroutine_cancel_.slot(), [](std::exception_ptr) {}));
        }
        coroutine_inline_ = false;
        return coroutine_done_;
    }
    // Holds no reference to the connection while parked (the connection owns it then, and
    // ~ParkedCoroutine lets it go), one while a request runs. Parked, it keeps its loop's
    // io_context from running out of work, as the connection's pending read does.
    static asio::awaitable<void> serve_coroutines(std::weak_ptr<BasicConnection> weak) {
        co_await asio::this_coro::throw_if_cancelled(false);
        for (;;) {
            BasicConnection* c = nullptr;
            {
                std::shared_ptr<BasicConnection> self = weak.lock();
                if (!self) co_return;
                c = self.get();
                try {
                    co_await c->state_.app.run_async(c->ex_);
                } catch (...) {  // run_async answers errors itself; what escapes it ends the request as it is
                }
                if (c->coroutine_inline_) c->coroutine_done_ = true;
                else asio::post(c->executor(), [self] { self->resume(); });  // it holds the connection until then
                // In-process (TestClient) the loop runs until it has no work left, and a parked
                // coroutine is work (co_spawn's guard): there, one coroutine per request.
                if (c->closed_ || c->state_.in_process) co_return;
            }
            // Parked until the next coroutine request (the connection is alive: whoever resumed
            // this holds it, or the resume() just posted does).
            co_await asio::async_initiate<const asio::use_awaitable_t<>&, void()>(
                [c](auto handler) { c->parked_.park(std::move(handler)); }, asio::use_awaitable);
        }
    }
    // The parked coroutine's completion handler (Asio's, move-only), kept in place: resume()
    // moves it out before calling it, as the coroutine parks itself here again.
    class ParkedCoroutine {
    public:
        ParkedCoroutine() = default;
        ParkedCoroutine(const ParkedCoroutine&) = delete;
        ParkedCoroutine& operator=(const ParkedCoroutine&) = delete;
        ~ParkedCoroutine() { reset(); }
        template <class H>
        void park(H&& handler) {
            using D = std::decay_t<H>;
            static_assert(sizeof(D) <= sizeof(storage_) && alignof(D) <= alignof(std::max_align_t),
                          "fastapi: Asio's coroutine handler does not fit ParkedCoroutine's storage");
            reset();
            ::new (static_cast<void*>(storage_)) D(std::forward<H>(handler));
            resume_ = [](void* p) {
                D& stored = *static_cast<D*>(p);
                D h(std::move(stored));
                stored.~D();
                std::move(h)();
            };
            destroy_ = [](void* p) noexcept { static_cast<D*>(p)->~D(); };
        }
        explicit operator bool() const noexcept { return resume_ != nullptr; }
        void resume() {
            auto r = std::exchange(resume_, nullptr);
            destroy_ = nullptr;
            r(storage_);
        }
        // Destroying Asio's handler unwinds the coroutine (on its executor, later).
        void reset() noexcept {
            resume_ = nullptr;
            if (auto d = std::exchange(destroy_, nullptr)) d(storage_);
        }

    private:
        alignas(std::max_align_t) unsigned char storage_[4 * sizeof(void*)];
        void (*resume_)(void*) = nullptr;
        void (*destroy_)(void*) noexcept = nullptr;
    };

    void resume() {
        busy_ = running_ = false;
        if (closed_) return;
        finish_response();
        process();
    }

    void finish_response() {
        const Request& req = ex_.request;
        Response& res = ex_.response;
        if (!res.file_path.empty() && !file_opened_) {
            // A file to send: opened and measured on the blocking pool, then finished here.
            busy_ = true;
            post_blocking([self = this->shared_from_this()] {
                auto file = std::make_shared<std::ifstream>(self->ex_.response.file_path, std::ios::binary);
                std::error_code fec;
                const std::uint64_t size = std::filesystem::file_size(self->ex_.response.file_path, fec);
                if (!*file || fec) file.reset();
                asio::post(self->executor(), [self, file = std::move(file), size] {
                    self->busy_ = false;
                    if (self->closed_) return;
                    self->file_ = file;
                    self->file_size_ = size;
                    self->file_opened_ = true;
                    self->finish_response();
                    self->process();
                });
            });
            return;
        }
        file_opened_ = false;
        if (body_) end_body_stream();
        bool keep = req.keep_alive && !state_.stopping.load(std::memory_order_relaxed);
        std::uint64_t length = res.body.size();
        Framing framing = Framing::length;
        std::shared_ptr<BodyProducer> producer;
        if (res.stream) {
            // A producer: run once the head is written, unless no body may follow it.
            const bool no_body = req.method == std::string_view("HEAD") || status_has_no_body(res.status);
            if (res.stream->length) length = *res.stream->length;
            else framing = req.version == 10 ? Framing::until_close : Framing::chunked;
            if (!no_body) {
                producer = std::move(res.stream);
                if (framing == Framing::until_close) keep = false;
            }
            res.stream.reset();
        }
        if (!res.file_path.empty()) {
            // A file is one more kind of body source: a producer of its chunks, read on the
            // blocking pool, sent as any stream is (Content-Length, back-pressure, the write
            // timeout, a client that leaves); none for HEAD, 204 and 304.
            auto file = std::move(file_);
            if (!file) {
                res.file_path.clear();
                res.headers.clear();
                write_detail(res, 404, picojson::value("File not found"));
                length = res.body.size();
            } else {
                length = file_size_;
                if (req.method != std::string_view("HEAD") && !status_has_no_body(res.status)) producer = file_body(std::move(file), length);
            }
        }
        if (!keep) res.on_upgrade = nullptr;  // closing (stopping, or the client asked): no hand-off
        serialize_response(req, res, length, keep, out_, framing);
        if (!keep) close_after_write_ = true;
        else if (res.on_upgrade) {  // the next bytes are the new protocol's, not a request
            upgrade_ = std::move(res.on_upgrade);
            res.on_upgrade = nullptr;
            upgrading_ = true;
        }
        // The request's dependencies are cleaned up once its bytes have been written; with
        // background tasks, after those, on the blocking pool.
        auto& cleanups = producer ? file_cleanups_ : out_cleanups_;
        ex_.request.body_file.reset();  // a spooled body is not needed once the response is made
        release_spool();
        if (auto job = take_background_job(ex_)) cleanups.push_back(state_.background_entry(std::move(job)));
        for (auto& e : ex_.deps.entries) cleanups.push_back(std::move(e));
        ex_.deps.entries.clear();
        if (producer) start_stream(std::move(producer), framing);  // later responses wait until it is sent
        else if (state_.access_log) log_access(req.method == std::string_view("HEAD") || status_has_no_body(res.status) ? 0 : length);
    }

    // ---- A request body read as it arrives (RequestStream): once the head is routed to a
    // handler that takes one, the handler runs at once; the body's bytes are decoded here
    // (not by the parser, which is reset) straight from in_ and consumed, one socket read at
    // a time, so the body is never held whole. on_read hands reads to on_body_read meanwhile.

    struct BodyStream final : BodyReader {
        explicit BodyStream(BasicConnection& c) : c_(c) {}
        asio::awaitable<std::string_view> read() override { return c_.body_read(); }
        bool done() const noexcept override { return decoder.done(); }
        BasicConnection& c_;
        BodyDecoder decoder;
        std::string chunk;  // what the last read returned
        bool eof = false;   // the client stopped sending
        std::optional<asio::steady_timer> wake;
    };

    void start_body_stream() {
        const bool chunked = parser_.body_chunked();
        const std::uint64_t length = parser_.content_length();
        if (parser_.expects_continue() && !continue_sent_) out_ += "HTTP/1.1 100 Continue\r\n\r\n";
        in_begin_ += parser_.body_offset();
        next_request();  // the parser is done with this request
        body_ = std::make_shared<BodyStream>(*this);
        body_->wake.emplace(executor());
        const auto limit = static_cast<std::uint64_t>(state_.options.limits.max_body_bytes);
        if (chunked) body_->decoder.start_chunked(limit, 4096);
        else body_->decoder.start_length(length, limit);
        set_phase(Phase::handler);
        if (!ex_.head_dispatched) {
            ex_.request.client_address = client_address_;
            ex_.reset_for_request();
        }
        ex_.body_reader = body_;
        dispatch_request();
    }

    asio::awaitable<std::string_view> body_read() {
        std::shared_ptr<BodyStream> body = body_;
        if (!body) co_return std::string_view{};  // the response is made: the body is over
        body->chunk.clear();
        for (;;) {
            if (closed_) throw asio::system_error(asio::error::operation_aborted);
            if (in_begin_ < in_end_ && !body->decoder.done()) {
                constexpr std::size_t most = 64 * 1024;
                in_begin_ += body->decoder.decode(std::string_view(in_.data() + in_begin_, in_end_ - in_begin_), body->chunk, most);
            }
            if (body->decoder.failed()) throw HTTPException(body->decoder.error_status(), body->decoder.error_reason());
            if (!body->chunk.empty() || body->decoder.done()) co_return std::string_view(body->chunk);
            if (body->eof) throw HTTPException(400, "Incomplete request body");
            read_body();
            const auto timeout = state_.options.body_timeout;
            if (timeout.count() > 0) body->wake->expires_after(timeout);
            else body->wake->expires_at(clock::time_point::max());
            asio::error_code ec;
            co_await body->wake->async_wait(asio::redirect_error(asio::use_awaitable, ec));
            if (!ec && in_begin_ == in_end_ && !body->eof && !closed_) throw HTTPException(408, "Request Timeout");
        }
    }
    // One read into in_, after what is left of it; completes in on_body_read.
    void read_body() {
        if (reading_ || closed_) return;
        if (in_begin_ == in_end_) {
            in_begin_ = in_end_ = 0;
        } else if (in_begin_ > 0) {
            std::memmove(in_.data(), in_.data() + in_begin_, in_end_ - in_begin_);
            in_end_ -= in_begin_;
            in_begin_ = 0;
        }
        if (in_.size() - in_end_ < min_read) in_.resize(std::max<std::size_t>({in_.size(), in_end_ + min_read, initial_buffer}));
        reading_ = true;
        stream_.async_read_some(asio::buffer(in_.data() + in_end_, in_.size() - in_end_),
                                [self = this->shared_from_this()](const asio::error_code& ec, std::size_t n) {
                                    self->on_read(ec, n);
                                });
    }
    void on_body_read(const asio::error_code& ec, std::size_t n) {
        if (ec) body_->eof = true;
        else in_end_ += n;
        body_->wake->cancel();
    }
    // The response is made: what the handler did not read of the body is not waited for (the
    // connection closes after the answer, dropping what still comes for a moment).
    void end_body_stream() {
        std::shared_ptr<BodyStream> body = std::move(body_);
        body->wake->cancel();
        if (!body->decoder.done()) {
            ex_.request.keep_alive = false;
            in_begin_ = in_end_;
            if (!body->eof) linger_ = true;
        }
    }

    // ---- A streamed response body (StreamingResponse): the producer runs as a coroutine on
    // this connection's executor, cancelled with it (cancel_, free once the handler is done).
    // Each write is framed into out_ and flushed; while out_ holds more than stream_high_water
    // (the socket took nothing since the last write finished) the producer waits for on_write.
    // Later pipelined responses wait (busy_) until the last chunk.

    class StreamSinkImpl final : public StreamSink {
    public:
        explicit StreamSinkImpl(BasicConnection& c) noexcept : c_(c) {}
        asio::awaitable<void> write(std::string_view bytes) override { return c_.stream_write(bytes); }
        void on_server_stop(std::function<void()> f) override {
            if (c_.state_.stopping.load(std::memory_order_relaxed)) return f();
            c_.stream_stop_ = std::move(f);
        }

    private:
        BasicConnection& c_;
    };

    void start_stream(std::shared_ptr<BodyProducer> producer, Framing framing) {
        busy_ = true;
        streaming_ = true;
        stream_framing_ = framing;
        stream_length_ = producer->length;
        stream_sent_ = 0;
        if (!stream_wake_) stream_wake_.emplace(executor());
        asio::co_spawn(executor(), run_producer(this->shared_from_this(), std::move(producer)),
                       asio::bind_cancellation_slot(cancel_.slot(), [self = this->shared_from_this()](std::exception_ptr e) {
                           self->on_stream_done(e);
                       }));
        read();  // to see the client leave while the producer waits for something to send
    }
    static asio::awaitable<void> run_producer(std::shared_ptr<BasicConnection> self, std::shared_ptr<BodyProducer> producer) {
        StreamSinkImpl sink(*self);
        StreamWriter writer(sink);
        co_await producer->produce(writer);
    }

    static constexpr std::size_t stream_high_water = 64 * 1024;

    asio::awaitable<void> stream_write(std::string_view bytes) {
        if (closed_) throw asio::system_error(asio::error::operation_aborted);
        if (bytes.empty()) co_return;  // an empty chunk would end a chunked body
        if (stream_length_ && bytes.size() > *stream_length_ - stream_sent_)
            throw std::length_error("fastapi: a StreamingResponse wrote more than its content_length");
        stream_sent_ += bytes.size();
        if (stream_framing_ == Framing::chunked) {
            char size[24];
            char* end = std::to_chars(size, size + 16, bytes.size(), 16).ptr;
            *end++ = '\r';
            *end++ = '\n';
            out_.append(size, end);
            out_.append(bytes);
            out_ += "\r\n";
        } else {
            out_.append(bytes);
        }
        flush();
        // Back-pressure: the socket has not taken the last write yet and this one is queued
        // behind it. Woken by on_write, or by close (the cancellation ends the wait).
        while (!closed_ && out_.size() >= stream_high_water) {
            stream_waiting_ = true;
            stream_wake_->expires_at(clock::time_point::max());
            asio::error_code ec;
            co_await stream_wake_->async_wait(asio::redirect_error(asio::use_awaitable, ec));
            stream_waiting_ = false;
        }
        if (closed_) throw asio::system_error(asio::error::operation_aborted);
    }
    void wake_stream() {
        if (stream_waiting_ && out_.size() < stream_high_water) stream_wake_->cancel();
    }

    void on_stream_done(std::exception_ptr e) {
        streaming_ = false;
        log_access(stream_sent_);
        stream_stop_ = nullptr;
        if (closed_) return;  // cancelled (the client left): nothing more to send
        if (e && disconnected_->load(std::memory_order_acquire)) {  // cancelled as the client left: no failure
            close();
            return;
        }
        if (!e && stream_length_ && stream_sent_ != *stream_length_)
            e = std::make_exception_ptr(std::length_error("fastapi: a StreamingResponse ended before its content_length"));
        if (e) {
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& x) {
                std::fprintf(stderr, "fastapi: a streaming response's producer failed (%s %s): %s\n",
                             ex_.request.method.c_str(), ex_.request.path.c_str(), x.what());
            } catch (...) {
                std::fprintf(stderr, "fastapi: a streaming response's producer failed (%s %s)\n",
                             ex_.request.method.c_str(), ex_.request.path.c_str());
            }
            // The body is cut short: what was written goes out, then the connection closes
            // without the last chunk (or short of the Content-Length): the client sees it
            // incomplete.
            for (auto& c : file_cleanups_) out_cleanups_.push_back(std::move(c));
            file_cleanups_.clear();
            close_after_write_ = true;
            linger_ = false;
            busy_ = false;
            flush();
            // The TestClient raises the producer's exception in the test, as FastAPI's
            // TestClient raises the app's (run_in_memory rethrows it once the loop is done).
            if (state_.in_process) std::rethrow_exception(e);
            return;
        }
        if (stream_framing_ == Framing::chunked) out_ += "0\r\n\r\n";
        // The cleanups follow the last byte: with it in out_, or with the write in flight, or
        // now when every byte has been written already.
        auto& after = !out_.empty() ? out_cleanups_ : writing_ ? sending_cleanups_ : file_cleanups_;
        if (&after != &file_cleanups_) {
            for (auto& c : file_cleanups_) after.push_back(std::move(c));
            file_cleanups_.clear();
        }
        DependencyScope::close(file_cleanups_);
        busy_ = false;
        process();
    }

    void answer_parse_error(const ParseResult& r) {
        Response res;
        write_detail(res, r.error_status, picojson::value(std::string(r.error_reason)));
        Request req;  // the broken request is not trusted for anything
        req.method = "GET";
        serialize_response(req, res, res.body.size(), false, out_);
        close_after_write_ = true;
        in_begin_ = in_end_;
    }

    void flush() {
        if (writing_ || closed_ || lingering_) return;
        if (out_.empty()) {
            if (close_after_write_ && !busy_) {
                if (linger_) linger();
                else close();
            }
            return;
        }
        std::swap(out_, sending_);
        std::swap(out_cleanups_, sending_cleanups_);
        writing_ = true;
        write_deadline_ = worker_.now() + state_.options.body_timeout;
        asio::async_write(stream_, asio::buffer(sending_),
                          [self = this->shared_from_this()](const asio::error_code& ec, std::size_t) { self->on_write(ec); });
    }

    // Answered before the client finished sending (a body nobody reads): stop sending, and
    // read and drop what still comes for a moment before closing, since closing a socket
    // with unread bytes resets the connection and the client may lose the answer.
    void linger() {
        linger_ = false;
        if (reading_) return close();  // never two reads at once
        lingering_ = true;  // from now on only linger_read and the sweep act: nothing else may close it
        stream_.shutdown_send();
        phase_ = Phase::body;  // the sweep closes it at the deadline
        deadline_ = worker_.now() + std::min<clock::duration>(state_.options.body_timeout, max_linger_time);
        in_begin_ = in_end_ = 0;
        if (in_.size() < initial_buffer) in_.resize(initial_buffer);
        linger_read(0);
    }
    void linger_read(std::size_t dropped) {
        stream_.async_read_some(asio::buffer(in_.data(), in_.size()),
                                [self = this->shared_from_this(), dropped](const asio::error_code& ec, std::size_t n) {
                                    if (self->closed_) return;
                                    if (ec || dropped + n > max_linger_bytes) self->close();
                                    else self->linger_read(dropped + n);
                                });
    }

    // A file's body: its chunks of 64 KiB read on the blocking pool (in-process, on the loop)
    // and written as a stream's; a file that shrank meanwhile cuts the body short.
    std::shared_ptr<BodyProducer> file_body(std::shared_ptr<std::ifstream> file, std::uint64_t size) {
        auto body = std::make_shared<BodyProducer>();
        body->length = size;
        asio::any_io_executor reader = state_.in_process ? executor() : asio::any_io_executor(state_.pool().get_executor());
        body->produce = [file = std::move(file), size, reader, home = executor()](StreamWriter& w) -> asio::awaitable<void> {
            std::string chunk;
            for (std::uint64_t left = size; left != 0;) {
                const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(file_chunk, left));
                if (!co_await read_file_chunk(reader, home, *file, chunk, n))
                    throw std::runtime_error("the file shrank while it was sent");
                co_await w.write(chunk);
                left -= n;
            }
        };
        return body;
    }
    static constexpr std::size_t file_chunk = 64 * 1024;
    // Reads n bytes of `file` into `chunk` on `reader`, resuming on `home`: true when all came.
    static asio::awaitable<bool> read_file_chunk(asio::any_io_executor reader, asio::any_io_executor home,
                                                 std::ifstream& file, std::string& chunk, std::size_t n) {
        return asio::async_initiate<const asio::use_awaitable_t<>&, void(bool)>(
            [&file, &chunk, n, reader, home](auto handler) {
                asio::post(reader, [&file, &chunk, n, home, handler = std::move(handler)]() mutable {
                    chunk.resize(n);
                    file.read(chunk.data(), static_cast<std::streamsize>(n));
                    const bool ok = static_cast<std::size_t>(file.gcount()) == n;
                    asio::post(home, [handler = std::move(handler), ok]() mutable { std::move(handler)(ok); });
                });
            },
            asio::use_awaitable);
    }

    void on_write(const asio::error_code& ec) {
        writing_ = false;
        sending_.clear();
        DependencyScope::close(sending_cleanups_);
        if (sending_.capacity() > 256 * 1024) sending_.shrink_to_fit();
        if (closed_) return;
        if (ec) {
            close();
            return;
        }
        if (upgrading_ && out_.empty()) return hand_off();
        if (streaming_) {  // the socket took the last write: the next one goes, and the producer on
            flush();
            return wake_stream();
        }
        if (!busy_ && phase_ == Phase::handler) set_phase(in_begin_ < in_end_ ? Phase::headers : Phase::idle);
        // Stopping: a connection between requests closes; over a socket, only once its drain
        // window is over (begin_shutdown, every 20 ms): its last response said keep-alive, the
        // peer may be sending the next request. One receiving a body (spooled, or dropped after
        // an early answer) is still in a request.
        if (state_.stopping.load(std::memory_order_relaxed) && !busy_ && out_.empty() && in_begin_ == in_end_ &&
            phase_ == Phase::idle && drain_left_ == 0 && !spool_ && !stream_.socket()) {
            close();
            return;
        }
        flush();
        if (!closed_ && !writing_) process();  // output drained: pipelined requests may go on
        else read();
    }

    static constexpr std::size_t initial_buffer = 2048;
    static constexpr std::size_t min_read = 512;
    static constexpr std::size_t output_high_water = 256 * 1024;
    static constexpr std::size_t idle_buffer_limit = 64 * 1024;
    static constexpr std::size_t max_read_while_busy = 64 * 1024;
    // A body no route wanted, up to this size, is read and dropped to keep the connection.
    static constexpr std::size_t max_drain_bytes = 64 * 1024;
    // After such an answer, what is read and dropped before the connection closes.
    static constexpr std::size_t max_linger_bytes = 1024 * 1024;
    static constexpr std::chrono::seconds max_linger_time{2};

    std::shared_ptr<ServerState> keep_state_;  // first: freed after everything below
    Stream stream_;
    ServerState& state_;
    Worker& worker_;
    RequestParser parser_;
    Exchange ex_;
    std::string client_address_, local_host_;
    unsigned short client_port_ = 0, local_port_ = 0;
    bool trusted_proxy_ = false;  // the peer's proxy headers are read (forwarded_allow_ips)
    std::shared_ptr<std::atomic<bool>> disconnected_;  // Request::is_disconnected, per connection
    std::string in_;
    std::size_t in_begin_ = 0, in_end_ = 0;
    std::string out_, sending_;
    std::vector<DependencyScope::Entry> out_cleanups_, sending_cleanups_, file_cleanups_;  // follow the bytes
    std::shared_ptr<std::ifstream> file_;  // opened (on the blocking pool) and measured, until the head is made
    std::uint64_t file_size_ = 0;
    bool file_opened_ = false;
    std::shared_ptr<TempFile> spool_;  // the body of an upload being received
    std::uint64_t spool_left_ = 0;
    std::uint64_t spool_reserved_ = 0;  // of ServerState::spool_bytes
    std::size_t buffered_ = 0;          // of ServerState::buffered_body_bytes
    std::uint64_t drain_left_ = 0;      // body bytes of an answered request still to drop
    bool head_routed_ = false, spool_writing_ = false, linger_ = false;
    Phase phase_ = Phase::idle;
    clock::time_point deadline_{}, write_deadline_{};
    clock::time_point started_{};  // the request's head was read (for the access log's request time)
    bool reading_ = false, writing_ = false, busy_ = false, close_after_write_ = false, closed_ = false;
    bool lingering_ = false;  // answered early: dropping what the client still sends, then closing
    bool continue_sent_ = false, registered_ = false;
    bool fresh_ = true;  // no request begun yet (begin_shutdown)
    clock::time_point idle_since_{};  // the last response's end, once stopping (draining)
    clock::time_point accepted_at_{};
    bool running_ = false;    // a coroutine or blocking handler runs (busy_ too)
    bool upgrading_ = false;  // the response written last hands the stream to upgrade_
    std::function<void(Upgraded)> upgrade_;
    asio::cancellation_signal cancel_;  // bound to a streamed body's producer
    // Coroutine requests (run_coroutine_request): the coroutine between them, and its
    // cancellation (emitted with cancel_).
    asio::cancellation_signal coroutine_cancel_;
    ParkedCoroutine parked_;
    bool coroutine_inline_ = false, coroutine_done_ = false;
    // A streamed response body being sent (start_stream).
    bool streaming_ = false, stream_waiting_ = false;
    Framing stream_framing_ = Framing::length;
    std::optional<std::uint64_t> stream_length_;
    std::uint64_t stream_sent_ = 0;
    std::optional<asio::steady_timer> stream_wake_;
    std::function<void()> stream_stop_;  // what the producer asked to be called on a graceful stop
    std::shared_ptr<BodyStream> body_;  // a request body being read by its handler (start_body_stream)
};

FASTAPI_CORO_DEF std::shared_ptr<Connection> open_connection(Stream&& stream, const std::shared_ptr<ServerState>& state,
                                                             Worker& worker, bool post_start) {
    auto c = std::make_shared<BasicConnection<0>>(std::move(stream), state, worker);
    if (post_start) asio::post(c->executor(), [c] { c->start(); });
    else c->start();
    return c;
}
#endif  // FASTAPI_DEFINITIONS: the connection is the implementation unit's

// ---- ServerState: accepting, sweeping, stopping ----

// Open descriptors the process may have (RLIMIT_NOFILE), or 0 when unknown.
FASTAPI_DECL std::size_t open_file_limit() noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::size_t open_file_limit() noexcept {
    rlimit r{};
    if (::getrlimit(RLIMIT_NOFILE, &r) != 0 || r.rlim_cur == RLIM_INFINITY) return 0;
    return static_cast<std::size_t>(r.rlim_cur);
}
#endif

// What ServerOptions says to listen on, opened, bound and listening (`acceptor` is set only
// once it listens, so a start() that threw can be tried again).
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void ServerState::listen() {
    auto& ctx = workers[0]->context;
    auto acceptor = std::make_unique<generic_acceptor>(*control);
    if (options.fd >= 0) {  // listening sockets handed over (systemd, a supervisor): of any family
        const auto check = [](int fd) {
            sockaddr_storage addr{};
            socklen_t len = sizeof(addr);
            int type = 0;
            socklen_t type_len = sizeof(type);
            if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
                ::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &type_len) != 0 || type != SOCK_STREAM)
                throw std::invalid_argument("fastapi: ServerOptions::fd is not a stream socket: " + std::to_string(fd));
            return static_cast<int>(addr.ss_family);
        };
        std::vector<int> families;  // all checked before any is owned: a bad one leaves them as given
        for (int fd : options.more_fds) families.push_back(check(fd));
        const int family = check(options.fd);
        const auto adopt = [](generic_acceptor& a, int family, int fd) {
            a.assign(asio::generic::stream_protocol(family, family == AF_UNIX ? 0 : IPPROTO_TCP), fd);
            asio::error_code ignored;  // listening already, normally; listen() again only sets the backlog
            a.listen(asio::socket_base::max_listen_connections, ignored);
        };
        adopt(*acceptor, family, options.fd);
        for (std::size_t i = 0; i < options.more_fds.size(); ++i) {
            auto more = std::make_unique<generic_acceptor>(*control);
            adopt(*more, families[i], options.more_fds[i]);
            more_acceptors.push_back(std::move(more));
        }
        this->acceptor = std::move(acceptor);
        return;
    }
    if (!options.uds.empty()) {
        asio::local::stream_protocol::endpoint ep(options.uds);
        // A socket file left by a server that did not stop cleanly is replaced; anything else
        // at that path is not ours to remove (bind fails with "address in use").
        struct stat st {};
        if (::lstat(options.uds.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(options.uds.c_str());
        acceptor->open(generic_endpoint(ep).protocol());
        acceptor->bind(generic_endpoint(ep));
        uds_path = options.uds;
        ::chmod(options.uds.c_str(), 0666);  // as uvicorn: any local user may connect
        acceptor->listen(asio::socket_base::max_listen_connections);
        this->acceptor = std::move(acceptor);
        return;
    }
    const std::string host = resolve_host(options);
    const unsigned short port = resolve_port(options);
    asio::ip::tcp::resolver resolver(ctx);
    auto endpoints = resolver.resolve(host, std::to_string(port),
                                      asio::ip::resolver_base::passive | asio::ip::resolver_base::numeric_service);
    if (endpoints.empty()) throw std::runtime_error("fastapi: cannot resolve host " + host);
    const generic_endpoint ep(endpoints.begin()->endpoint());
    acceptor->open(ep.protocol());
    acceptor->set_option(asio::socket_base::reuse_address(true));
    if (options.reuse_port)
        acceptor->set_option(asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true));
    acceptor->bind(ep);
    acceptor->listen(asio::socket_base::max_listen_connections);
    this->acceptor = std::move(acceptor);
}
#endif

#if FASTAPI_DEFINITIONS
FASTAPI_DECL void ServerState::start() {
    listen();
    // Past the open-file limit accept() fails; answering 503 a little before it (64 descriptors
    // kept for files, spools and the process's own) tells the client why.
    max_connections = options.limits.max_connections;
    if (const std::size_t files = open_file_limit(); files > 128) {
        if (max_connections == 0 || max_connections > files - 64) max_connections = files - 64;
    }
    for (auto& w : workers) {
        w->tick();
        asio::dispatch(*w->strand, [self = shared_from_this(), w = w.get()] { self->sweep(*w); });
    }
    more_retry_timers.resize(more_acceptors.size());
    accept(acceptor.get());
    for (auto& more : more_acceptors) accept(more.get());
}
#endif

// One accept on `from` (the acceptor, or one of more_acceptors), which the state owns.
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void ServerState::accept(generic_acceptor* from) {
    Worker& w = *workers[next_worker++ % workers.size()];
    // Weakly held: a Server destroyed with this accept pending leaves it nothing to read.
    auto on_accept = [weak = weak_from_this(), &w, from](const asio::error_code& ec, asio::generic::stream_protocol::socket socket) {
        if (ec == asio::error::operation_aborted) return;
        auto self = weak.lock();
        if (!self) return;
        if (self->stopping || !self->acceptor || !from->is_open()) {
            // Accepted just before the stop closed the acceptor: the client is served (and the
            // connection closed after its response), not dropped.
            if (!ec && !self->finished && !self->embedded) {
                self->app.connection_opener(Stream(std::move(socket)), self, w, true);
            }
            return;
        }
        if (!ec) {
            // Each goes on with its own loop (its socket's executor), not on this strand's thread.
            if (self->max_connections != 0 && self->live_connections.load() >= self->max_connections) {
                auto ex = socket.get_executor();
                asio::post(ex, [s = std::move(socket)]() mutable { reject_connection(std::move(s)); });
            } else {
                self->app.connection_opener(Stream(std::move(socket)), self, w, true);
            }
            self->accept(from);
        } else {
            // Out of descriptors or memory: back off instead of spinning on the error (a timer
            // per listening socket, freed with the state).
            auto timer = std::make_unique<asio::steady_timer>(*self->control, std::chrono::milliseconds(50));
            auto* t = timer.get();
            if (from == self->acceptor.get()) self->retry_timer = std::move(timer);
            for (std::size_t i = 0; i < self->more_acceptors.size(); ++i)
                if (self->more_acceptors[i].get() == from) self->more_retry_timers[i] = std::move(timer);
            t->async_wait([weak, from](const asio::error_code& e) {
                if (auto s = weak.lock(); s && !e) s->accept(from);
            });
        }
    };
    if (embedded) from->async_accept(asio::make_strand(w.context), std::move(on_accept));
    else from->async_accept(w.context, std::move(on_accept));
}
#endif

// Ticks each loop's coarse clock and closes connections past their deadlines.
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void ServerState::sweep(Worker& w) {
    w.tick();
    const auto now = w.now();
    std::vector<std::shared_ptr<Connection>> live;
    {
        std::lock_guard lock(w.mutex);
        live.reserve(w.connections.size());
        for (auto* c : w.connections)
            if (auto p = c->weak_from_this().lock()) live.push_back(std::move(p));
    }
    for (auto& c : live) asio::dispatch(c->executor(), [c, now] { c->sweep(now); });
    if (finished || !w.sweeper) return;
    w.sweeper->expires_after(std::chrono::milliseconds(250));
    w.sweeper->async_wait([weak = weak_from_this(), w = &w](const asio::error_code& ec) {
        if (ec) return;
        if (auto self = weak.lock()) self->sweep(*w);
    });
}
#endif

#if FASTAPI_DEFINITIONS
template <class F>
void ServerState::for_each_connection(F f) {
    for (auto& w : workers) {
        std::vector<std::shared_ptr<Connection>> live;
        {
            std::lock_guard lock(w->mutex);
            for (auto* c : w->connections)
                if (auto p = c->weak_from_this().lock()) live.push_back(std::move(p));
        }
        for (auto& c : live) asio::dispatch(c->executor(), [c, f] { f(*c); });
    }
}
#endif

// On the first loop: stop accepting, close idle connections, then watch the rest.
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void ServerState::begin_stop(std::chrono::milliseconds grace) {
    asio::error_code ec;
    if (acceptor) acceptor->close(ec);
    for (auto& more : more_acceptors) more->close(ec);
    remove_uds();
    if (hooks) hooks->stopping();
    stop_began = std::chrono::steady_clock::now();
    idle_drain = std::min<std::chrono::milliseconds>(std::chrono::seconds(1), grace);
    for_each_connection([](Connection& c) { c.begin_shutdown(); });
    stop_deadline = stop_began + grace;
    watch_stop();
}
#endif

#if FASTAPI_DEFINITIONS
FASTAPI_DECL void ServerState::tell_upgraded(bool abort) {
    std::lock_guard lock(upgraded_mutex);
    for (Lease* l : upgraded) {
        if (!abort && l->told_going_away) continue;
        l->told_going_away = true;
        // The lease may go before the post runs: the connection's owner keeps it while it
        // matters, and a weak reference says whether it still does.
        std::weak_ptr<UpgradeLease> weak = l->weak_from_this();  // expired while its destructor runs
        asio::post(l->executor, [weak, abort] {
            if (auto held = weak.lock()) {
                auto& f = abort ? held->abort : held->going_away;
                if (f) f();
            }
        });
    }
}
#endif

// Every 20 ms until done: busy connections close after their response; once the grace period
// is over every connection is closed, which cancels the coroutine handlers still running. What
// cannot be cancelled (a blocking handler, a coroutine awaiting something deaf to
// cancellation) is given 400 ms more, then abandoned: the pool is not waited for and the owned
// loops are stopped, so run() returns within the grace period and a second.
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void ServerState::watch_stop() {
    const bool expired = std::chrono::steady_clock::now() >= stop_deadline;
    if (expired) for_each_connection([](Connection& c) { c.close(); });
    else for_each_connection([](Connection& c) { c.begin_shutdown(); });
    tell_upgraded(expired);
    const bool idle = live_connections.load() == 0 && background_pending.load() == 0;
    if (idle || (expired && ++forced_ticks > 20)) {
        finished = true;
        if (!idle) abandon_pool_work();
        if (embedded) leave_lifespan();
        for (auto& w : workers)
            asio::post(*w->strand, [weak = weak_from_this(), w = w.get()] {
                if (auto self = weak.lock(); self && w->sweeper) w->sweeper->cancel();
            });
        if (retry_timer) retry_timer->cancel();
        for (auto& t : more_retry_timers)
            if (t) t->cancel();
        if (reopen_signal) reopen_signal->cancel();
        if (!embedded)  // what keeps a loop busy by itself (a Redis connection) is ended there
            for (auto& w : workers) asio::post(w->context, [] { run_loop_closers(); });
        guards.clear();  // owned mode: the loops may return once out of work
        if (signals) signals->cancel();  // on the first loop, as this is
        if (!idle && !embedded)
            for (auto& w : workers) w->context.stop();  // what is left is abandoned with the loops
        return;
    }
    stop_timer = std::make_unique<asio::steady_timer>(*control, std::chrono::milliseconds(20));
    stop_timer->async_wait([self = shared_from_this()](const asio::error_code& ec) {
        if (!ec) self->watch_stop();
    });
}
#endif

// ---- In process: TestClient's connections ----

// A server state for connections that run on the caller's loop (TestClient): no listening
// socket, no pool, no sweep; the App is not frozen.
FASTAPI_DECL std::shared_ptr<ServerState> in_process_state(AppContext& app, ServerOptions o);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::shared_ptr<ServerState> in_process_state(AppContext& app, ServerOptions o) {
    o.handle_signals = false;
    o.log_startup = false;
    auto state = std::make_shared<ServerState>(app, std::move(o));
    state->in_process = true;
    return state;
}
#endif

// One connection over an in-memory stream: `bytes` is all the client sends, the result all it
// receives. Runs `io` on this thread until the connection has nothing left to do (its
// response written, its cleanups and background tasks run), then ends the input: a request
// cut short is answered 400 as the server's parser answers a malformed one.
FASTAPI_DECL std::string run_in_memory(asio::io_context& io, const std::shared_ptr<ServerState>& state, std::string_view bytes);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string run_in_memory(asio::io_context& io, const std::shared_ptr<ServerState>& state, std::string_view bytes) {
    auto worker = std::make_unique<Worker>(io);
    auto pipe = std::make_shared<MemoryPipe>(io.get_executor());
    pipe->input.assign(bytes);
    std::exception_ptr error;  // the first exception a completion handler let out: the caller's
    auto run = [&] {
        io.restart();
        for (;;) {
            try {
                io.run();
                return;
            } catch (...) {
                if (!error) error = std::current_exception();
            }
        }
    };
    std::weak_ptr<Connection> weak;
    {
        auto c = state->app.connection_opener(Stream(pipe), state, *worker, false);
        weak = c;
        run();
        c->end_of_input();
        run();
        c->close();
        run();
    }
    pipe->pending.reset();  // a read of code the connection was handed off to (it waits for ever)
    worker->sweeper.reset();
    worker->strand.reset();
    // A connection something still holds (a coroutine suspended on nothing) keeps its worker.
    if (!weak.expired()) (void)worker.release();
    if (error) std::rethrow_exception(error);
    return std::move(pipe->output);
}
#endif

}  // namespace detail

// Serves an App over TCP, a Unix socket or a listening socket it is given (ServerOptions).
// Either owns its event loops (run() blocks until stopped), or is
// embedded in an io_context the caller owns and runs (start(), later stop()).
//
// Destroying a Server is safe at any time after start(), stopped or not: an owned server stops
// and frees its loops; an embedded one stops gracefully on the caller's io_context, whose pending
// handlers keep what they need (the App must outlive them: run the io_context until it returns,
// or destroy it, before destroying the App). A blocking handler still running past the grace
// period cannot be interrupted: it finishes on its own thread, nothing waits for it, and what it
// touches (its connection, the stopped loop it answers on) is kept until the process exits.
class Server {
public:
    FASTAPI_DECL Server(detail::AppContext& app, ServerOptions options = {});
    // Embedded: every connection runs on `io` (through a strand, in case several threads run it).
    FASTAPI_DECL Server(asio::io_context& io, detail::AppContext& app, ServerOptions options = {});
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;
    FASTAPI_DECL ~Server();

    // Binds and starts accepting. Throws std::system_error if the address cannot be bound.
    // From here on the App is frozen: adding routes, middleware, exception handlers or
    // dependency overrides throws std::logic_error (the loops read them without locks).
    // With log_startup, what failed is logged (one line) before the exception leaves.
    FASTAPI_DECL void start();

    // Where it listens, once started: on TCP the address and port (port() is the one the
    // system chose for port 0); on a Unix socket its path (host() and port() are then empty
    // and 0).
    unsigned short port() const noexcept { return bound_.port; }
    FASTAPI_DECL std::string host() const;
    FASTAPI_DECL std::string unix_path() const;
    // "http://127.0.0.1:8000", "http://[::1]:8000", or "unix:/run/app.sock".
    FASTAPI_DECL std::string url() const;

    // Owned mode: starts, serves on every thread, and returns after a graceful stop (a signal
    // when handle_signals, or stop() from another thread or a handler).
    FASTAPI_DECL void run();

    // Graceful stop, safe from any thread: stop accepting, let in-flight requests finish
    // (up to the grace period), then close everything (cancelling coroutine handlers) and let
    // the loops return.
    FASTAPI_DECL void stop();
    // Internal (server/supervisor.hpp): what a worker process or systemd adds; before run().
    FASTAPI_DECL void set_hooks(detail::ServingHooks* hooks) noexcept;
    FASTAPI_DECL void stop(std::chrono::milliseconds grace);

private:
    // Where start() was asked to listen, as a user reads it (before anything is bound).
    FASTAPI_DECL std::string listen_address() const;

    std::shared_ptr<detail::ServerState> state_;
    std::vector<std::unique_ptr<asio::io_context>> owned_;
    detail::EndpointInfo bound_;
};

#if FASTAPI_DEFINITIONS
FASTAPI_DECL Server::Server(detail::AppContext& app, ServerOptions options)
    : state_(std::make_shared<detail::ServerState>(app, std::move(options))) {
    unsigned n = state_->options.threads ? state_->options.threads : detail::available_cpus();
    for (unsigned i = 0; i < n; ++i) owned_.push_back(std::make_unique<asio::io_context>(1));
    for (auto& c : owned_) state_->workers.push_back(std::make_unique<detail::Worker>(*c));
    state_->control.emplace(asio::make_strand(*owned_[0]));
}

FASTAPI_DECL Server::Server(asio::io_context& io, detail::AppContext& app, ServerOptions options)
    : state_(std::make_shared<detail::ServerState>(app, std::move(options))) {
    state_->embedded = true;
    state_->workers.push_back(std::make_unique<detail::Worker>(io));
    state_->control.emplace(asio::make_strand(io));
}

FASTAPI_DECL Server::~Server() {
    if (state_->embedded) {
        // The caller's loop may be running on other threads: a graceful stop is posted to it,
        // and the state lives on in the handlers until they are done.
        if (state_->acceptor) stop();
        return;
    }
    // Owned: no loop runs now (run() has returned, or never ran).
    state_->stopping = true;
    state_->finished = true;
    state_->join_pool();  // background tasks finish (run() waited for them already)
    state_->leave_lifespan();
    if (state_->serving) {  // the loops are gone: the app may change again
        state_->serving = false;
        state_->app.end_serving();
    }
    state_->release_io();
    state_->remove_uds();
    if (state_->pool_was_abandoned()) detail::keep_until_exit(std::move(owned_));
    owned_.clear();  // drops pending handlers, and their connections
}

FASTAPI_DECL void Server::start() {
    if (state_->acceptor) return;
    const bool announce = state_->options.log_startup;
    if (state_->options.access_log) detail::LogSink::instance().set_access_file(state_->options.access_log_file);
    if (!state_->entered.exchange(true)) {  // the app's startup hooks
        if (announce) log::info("Waiting for application startup.");
        try {
            state_->app.enter_lifespan();
        } catch (const std::exception& e) {
            if (announce) detail::log_startup_failure(std::string("Application startup failed: ") + e.what());
            throw;
        } catch (...) {
            if (announce) detail::log_startup_failure("Application startup failed (not a std::exception).");
            throw;
        }
        if (announce) log::info("Application startup complete.");
    }
    if (!state_->serving) {
        state_->app.begin_serving();
        state_->serving = true;
    }
    try {
        state_->start();
    } catch (const std::system_error& e) {  // the address in use, a path not ours: said with the address
        if (announce) detail::log_startup_failure("cannot listen on " + listen_address() + ": " + e.code().message());
        throw std::system_error(e.code(), "fastapi: cannot listen on " + listen_address());
    } catch (const std::exception& e) {
        if (announce) detail::log_startup_failure("cannot listen on " + listen_address() + ": " + e.what());
        throw;
    }
    bound_ = detail::endpoint_info(state_->acceptor->local_endpoint());
}

FASTAPI_DECL std::string Server::host() const { return bound_.family == AF_UNIX ? std::string() : bound_.address; }
FASTAPI_DECL std::string Server::unix_path() const { return bound_.family == AF_UNIX ? bound_.address : std::string(); }
FASTAPI_DECL std::string Server::url() const {
    if (bound_.family == AF_UNIX) return "unix:" + bound_.address;
    if (bound_.family == AF_INET6) return "http://[" + bound_.address + "]:" + std::to_string(bound_.port);
    return "http://" + bound_.address + ":" + std::to_string(bound_.port);
}

FASTAPI_DECL void Server::run() {
    if (state_->embedded) throw std::logic_error("fastapi: an embedded Server runs on its caller's io_context");
    if (LogLevel level{}; detail::parse_log_level(state_->options.log_level, level)) log::set_level(level);
    if (state_->options.log_startup) log::info("Started server process [{}]", ::getpid());
    start();
    auto& ctx0 = *owned_[0];
    for (auto& c : owned_) state_->guards.push_back(asio::make_work_guard(*c));  // until watch_stop ends
    asio::signal_set signals(ctx0);
    state_->signals = &signals;
    if (state_->options.handle_signals) {
        signals.add(SIGINT);
        signals.add(SIGTERM);
        signals.async_wait([this](const asio::error_code& ec, int) {
            if (!ec) stop();
        });
        // logrotate: the access log's file is opened again; waits until the stop ends.
        state_->reopen_signal = std::make_unique<asio::signal_set>(ctx0, SIGUSR1);
        detail::reopen_log_on(*state_->reopen_signal);
    }
    if (state_->hooks) {
        std::vector<asio::io_context*> loops;
        for (auto& c : owned_) loops.push_back(c.get());
        state_->hooks->serving(loops, [this] { stop(); });
    }
    if (state_->options.log_startup) {
        // The host as asked ("0.0.0.0"), not as bound, so the message reads as uvicorn's.
        std::string where = url();
        if (state_->options.fd < 0 && state_->options.uds.empty()) {
            const std::string host = detail::resolve_host(state_->options);
            where = (host.find(':') != std::string::npos ? "http://[" + host + "]:" : "http://" + host + ":") +
                    std::to_string(port());
        }
        log::info("fastapi.hpp serving on {} ({} thread{}; press CTRL+C to quit)", where, owned_.size(),
                  owned_.size() == 1 ? "" : "s");
    }
    std::vector<std::thread> threads;
    for (std::size_t i = 1; i < owned_.size(); ++i)
        threads.emplace_back([c = owned_[i].get()] { detail::run_loop(*c); });
    detail::run_loop(ctx0);
    for (auto& t : threads) t.join();
    state_->guards.clear();
    signals.cancel();
    state_->reopen_signal.reset();
    state_->signals = nullptr;
    state_->finish_pool();
    state_->join_pool();
    const bool announce = state_->options.log_startup && state_->entered.load();
    if (announce) log::info("Waiting for application shutdown.");
    state_->leave_lifespan();  // the app's shutdown hooks, once every request is answered
    if (announce) log::info("Application shutdown complete.");
    if (state_->options.log_startup) log::info("Finished server process [{}]", ::getpid());
    log::flush();
}

FASTAPI_DECL void Server::stop() { stop(state_->options.graceful_shutdown_timeout); }
FASTAPI_DECL void Server::set_hooks(detail::ServingHooks* hooks) noexcept { state_->hooks = hooks; }
FASTAPI_DECL void Server::stop(std::chrono::milliseconds grace) {
    if (state_->stopping.exchange(true)) return;
    if (state_->options.log_startup && !state_->embedded) log::info("Shutting down");
    asio::post(*state_->control, [state = state_, grace] { state->begin_stop(grace); });
}

FASTAPI_DECL std::string Server::listen_address() const {
    const auto& o = state_->options;
    if (o.fd >= 0) return "fd " + std::to_string(o.fd);
    if (!o.uds.empty()) return "unix:" + o.uds;
    const std::string host = detail::resolve_host(o);
    std::string port;
    try {
        port = std::to_string(detail::resolve_port(o));
    } catch (const std::exception&) {
        port = "?";
    }
    return (host.find(':') != std::string::npos ? "http://[" + host + "]:" : "http://" + host + ":") + port;
}
#endif


}  // namespace fastapi
