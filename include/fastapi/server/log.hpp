// log: the process's log, as uvicorn prints it ("INFO:     Started server process [pid]"),
// the access log (one line per response: uvicorn's line, or gunicorn's %(atoms)s), and the
// logger for user code (fastapi::log::info("user {} logged in", id)).
// Nothing here blocks an event loop: a line is formatted into its thread's buffer (bounded:
// past FASTAPI_LOG_BUFFER_BYTES lines are dropped and counted), and one writer thread takes
// the buffers in batches and writes them out (stderr, or the access log's file, reopened on
// request for logrotate). Relies on http_types (Request, Response, status_reason) only.
#pragma once
#include "../http/http_types.hpp"

#include <atomic>              // atomic
#include <cerrno>              // errno, EINTR, EAGAIN
#include <chrono>              // steady_clock, system_clock
#include <condition_variable>  // condition_variable
#include <csignal>             // sigfillset, pthread_sigmask
#include <cstdio>              // snprintf
#include <cstdlib>             // getenv (%({variable})e)
#include <cstring>             // memcpy
#include <ctime>               // time, localtime_r, strftime
#include <fcntl.h>             // open, O_APPEND
#include <initializer_list>    // initializer_list
#include <memory>              // shared_ptr
#include <mutex>               // mutex
#include <optional>            // optional (a header's value)
#include <system_error>        // system_error (an access log that cannot be opened)
#include <type_traits>         // is_integral_v
#include <poll.h>              // poll (a non-blocking stderr)
#include <string>              // string
#include <string_view>         // string_view
#include <thread>              // thread
#include <unistd.h>            // write, getpid
#include <vector>              // vector

#ifndef FASTAPI_LOG_BUFFER_BYTES
// Log text one thread may have waiting for the writer, per destination; beyond it lines are
// dropped (and counted, and reported) rather than blocking the thread that logs.
#define FASTAPI_LOG_BUFFER_BYTES (1024 * 1024)
#endif

namespace fastapi {

// uvicorn's levels (Python's logging numbers, and uvicorn's TRACE below DEBUG).
enum class LogLevel : int { trace = 5, debug = 10, info = 20, warning = 30, error = 40, critical = 50 };

namespace detail {

FASTAPI_DECL std::atomic<int>& log_threshold() noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::atomic<int>& log_threshold() noexcept {
    static std::atomic<int> level{static_cast<int>(LogLevel::info)};
    return level;
}
#endif
FASTAPI_DECL bool log_enabled(LogLevel level) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool log_enabled(LogLevel level) noexcept {
    return static_cast<int>(level) >= log_threshold().load(std::memory_order_relaxed);
}
#endif

// "critical", ..., "trace" (any case), as --log-level takes them.
FASTAPI_DECL bool parse_log_level(std::string_view name, LogLevel& out) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool parse_log_level(std::string_view name, LogLevel& out) noexcept {
    static constexpr std::pair<std::string_view, LogLevel> names[] = {
        {"critical", LogLevel::critical}, {"error", LogLevel::error}, {"warning", LogLevel::warning},
        {"info", LogLevel::info},         {"debug", LogLevel::debug}, {"trace", LogLevel::trace}};
    for (auto& [n, l] : names)
        if (iequals(n, name)) {
            out = l;
            return true;
        }
    return false;
}
#endif

// uvicorn's "%(levelprefix)s ": the level name, a colon, padded to 10 characters.
FASTAPI_DECL std::string_view level_prefix(LogLevel level) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string_view level_prefix(LogLevel level) noexcept {
    switch (level) {
        case LogLevel::trace: return "TRACE:    ";
        case LogLevel::debug: return "DEBUG:    ";
        case LogLevel::info: return "INFO:     ";
        case LogLevel::warning: return "WARNING:  ";
        case LogLevel::error: return "ERROR:    ";
        case LogLevel::critical: return "CRITICAL: ";
    }
    return "INFO:     ";
}
#endif

// The sink and the access log are internal: user code logs through log::write (below), the
// server through its own code, compiled once in the compiled-once mode.
#if FASTAPI_INTERNALS
// What one thread has logged and the writer has not taken yet: [0] the error log (stderr),
// [1] the access log when it has a file of its own.
struct LogThreadBuffer {
    std::mutex mutex;
    std::string text[2];
    std::size_t dropped = 0;
    bool exited = false;  // its thread is gone: freed once drained
};

// The one writer of the process's logs.
class LogSink {
public:
    // Never destroyed: threads may log until the process is gone.
    static LogSink& instance() {
        static LogSink* sink = new LogSink;
        return *sink;
    }

    // Appends one line (formatted by `fill` into the string it is given, '\n' included) to
    // this thread's buffer for `target`; drops it when the buffer is full. Never blocks on I/O.
    template <class Fill>
    void append(int target, Fill&& fill) {
        LogThreadBuffer& b = mine();
        {
            std::lock_guard lock(b.mutex);
            std::string& text = b.text[target];
            if (text.size() >= FASTAPI_LOG_BUFFER_BYTES) {
                ++b.dropped;
                dropped_total_.fetch_add(1, std::memory_order_relaxed);
                return;
            }
            fill(text);
        }
        if (idle_.load()) wake();
    }
    void append_line(int target, std::string_view line) {
        append(target, [line](std::string& text) { text.append(line); });
    }

    // 1 when the access log has a file of its own, else 0 (its lines go with the others to stderr).
    int access_target() const noexcept { return access_file_.load(std::memory_order_relaxed) ? 1 : 0; }

    // The access log's destination: a file (opened for appending, created 0644, reopened by
    // reopen()), or stderr (empty path). Throws std::system_error when the file cannot be opened.
    void set_access_file(const std::string& path) {
        int fd = -1;
        if (!path.empty()) {
            fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
            if (fd < 0) throw std::system_error(errno, std::generic_category(), "fastapi: cannot open the access log " + path);
        }
        set_access(fd, path, true);
    }
    // A descriptor the caller keeps owning (tests: a pipe); -1 for stderr.
    void set_access_fd(int fd) { set_access(fd, {}, false); }

    // Reopens the access log's file by its path (logrotate moved it away): done by the writer.
    void reopen() {
        reopen_.store(true);
        wake();
    }

    // Waits (up to `limit`) until everything logged before the call is written.
    bool flush(std::chrono::milliseconds limit = std::chrono::milliseconds(1000)) {
        std::unique_lock lock(mutex_);
        if (!started_) return true;
        const std::uint64_t want = ++flush_requested_;
        cv_.notify_all();
        return flushed_cv_.wait_for(lock, limit, [&] { return flushed_ >= want; });
    }

    std::size_t dropped_total() const noexcept { return dropped_total_.load(std::memory_order_relaxed); }

private:
    LogSink() = default;

    LogThreadBuffer& mine() {
        // The holder marks the buffer exited with its thread; the sink keeps it until drained.
        struct Holder {
            std::shared_ptr<LogThreadBuffer> buffer;
            ~Holder() {
                if (!buffer) return;
                std::lock_guard lock(buffer->mutex);
                buffer->exited = true;
            }
        };
        thread_local Holder holder;
        if (!holder.buffer) {
            auto b = std::make_shared<LogThreadBuffer>();
            std::lock_guard lock(mutex_);
            buffers_.push_back(b);
            start_locked();
            holder.buffer = std::move(b);
        }
        return *holder.buffer;
    }

    void start_locked() {
        if (started_) return;
        started_ = true;
        // No signal is taken by the writer (SIGUSR1, SIGTERM go to the program's threads), and
        // a reader that left makes write() fail with EPIPE here instead of killing the process.
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        std::thread([this] { run(); }).detach();
        pthread_sigmask(SIG_SETMASK, &old, nullptr);
    }

    void wake() {
        std::lock_guard lock(mutex_);
        woken_ = true;
        cv_.notify_all();
    }

    void set_access(int fd, std::string path, bool owned) {
        std::lock_guard lock(mutex_);
        start_locked();
        pending_access_ = Access{fd, std::move(path), owned};
        access_change_ = true;
        access_file_.store(fd >= 0, std::memory_order_relaxed);
        woken_ = true;
        cv_.notify_all();
    }

    // Writes all of `text` to `fd`; false when the descriptor refuses it (the text is lost).
    static bool write_all(int fd, std::string_view text) {
        while (!text.empty()) {
            const ssize_t n = ::write(fd, text.data(), text.size());
            if (n > 0) {
                text.remove_prefix(static_cast<std::size_t>(n));
            } else if (n < 0 && errno == EINTR) {
                continue;
            } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {  // a non-blocking stderr
                pollfd p{fd, POLLOUT, 0};
                ::poll(&p, 1, 1000);
            } else {
                return false;
            }
        }
        return true;
    }
    static std::size_t count_lines(std::string_view text) noexcept {
        std::size_t n = 0;
        for (char c : text) n += c == '\n';
        return n;
    }

    struct Access {
        int fd = -1;  // -1: stderr
        std::string path;
        bool owned = false;
    };

    void run() {
        std::vector<std::shared_ptr<LogThreadBuffer>> buffers;
        std::string out[2];
        Access access;
        for (;;) {
            std::uint64_t flush_target = 0;
            {
                std::lock_guard lock(mutex_);
                flush_target = flush_requested_;
                buffers = buffers_;
                if (access_change_) {
                    access_change_ = false;
                    if (access.owned && access.fd >= 0) ::close(access.fd);
                    access = std::move(pending_access_);
                }
            }
            if (reopen_.exchange(false) && access.owned && !access.path.empty()) {
                const int fd = ::open(access.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
                if (fd >= 0) {
                    ::close(access.fd);
                    access.fd = fd;
                } else {
                    out[0] += level_prefix(LogLevel::error);
                    out[0] += "cannot reopen the access log " + access.path + " (it goes on to the old file)\n";
                }
            }
            std::size_t dropped = 0;
            bool gone = false;
            for (auto& b : buffers) {
                std::lock_guard lock(b->mutex);
                for (int i = 0; i < 2; ++i) {
                    if (b->text[i].empty()) continue;
                    if (out[i].empty()) out[i].swap(b->text[i]);  // capacities ping-pong: no allocation
                    else {
                        out[i] += b->text[i];
                        b->text[i].clear();
                    }
                }
                dropped += std::exchange(b->dropped, 0);
                gone = gone || b->exited;
            }
            if (dropped != 0) {
                out[0] += level_prefix(LogLevel::warning);
                out[0] += std::to_string(dropped) + " log line(s) dropped: the log's destination did not keep up\n";
            }
            const bool wrote = !out[0].empty() || !out[1].empty();
            const int access_fd = access.fd >= 0 ? access.fd : 2;
            if (!out[0].empty() && !write_all(2, out[0])) dropped_total_.fetch_add(count_lines(out[0]));
            if (!out[1].empty() && !write_all(access_fd, out[1])) dropped_total_.fetch_add(count_lines(out[1]));
            out[0].clear();
            out[1].clear();
            if (out[0].capacity() > 4 * FASTAPI_LOG_BUFFER_BYTES) std::string().swap(out[0]);
            std::unique_lock lock(mutex_);
            if (gone) {  // buffers of threads that ended, now empty
                std::erase_if(buffers_, [](const std::shared_ptr<LogThreadBuffer>& b) {
                    std::lock_guard l(b->mutex);
                    return b->exited && b->text[0].empty() && b->text[1].empty();
                });
            }
            flushed_ = flush_target;
            flushed_cv_.notify_all();
            buffers.clear();
            if (flush_requested_ != flush_target || access_change_ || reopen_.load()) continue;
            if (wrote) {
                // Lines are flowing: take the next batch in 10 ms, so a busy server makes ~100
                // writes a second, not one per line.
                cv_.wait_for(lock, std::chrono::milliseconds(10), [&] { return flush_requested_ != flush_target; });
                continue;
            }
            // Nothing came: sleep until a line does (idle_ tells the loggers to wake us), after a
            // last look, so a line appended as idle_ was set is not left behind.
            idle_.store(true);
            lock.unlock();
            bool any = false;
            {
                std::lock_guard l(mutex_);
                for (auto& b : buffers_) {
                    std::lock_guard bl(b->mutex);
                    any = any || !b->text[0].empty() || !b->text[1].empty() || b->dropped != 0;
                }
            }
            lock.lock();
            if (!any)
                cv_.wait_for(lock, std::chrono::seconds(1),
                             [&] { return woken_ || flush_requested_ != flush_target || access_change_; });
            woken_ = false;
            idle_.store(false);
        }
    }

    std::mutex mutex_;
    std::condition_variable cv_, flushed_cv_;
    std::vector<std::shared_ptr<LogThreadBuffer>> buffers_;
    bool started_ = false, woken_ = false, access_change_ = false;
    Access pending_access_;
    std::uint64_t flush_requested_ = 0, flushed_ = 0;
    std::atomic<bool> idle_{false}, reopen_{false}, access_file_{false};
    std::atomic<std::size_t> dropped_total_{0};
};
#endif  // FASTAPI_INTERNALS

// One argument of a log call, as text: strings are viewed, numbers formatted in place. Not a
// template beyond the integer constructor, so a log call costs little to compile.
class LogArg {
public:
    LogArg(std::string_view s) noexcept : view_(s) {}
    LogArg(const char* s) noexcept : view_(s ? s : "(null)") {}
    LogArg(const std::string& s) noexcept : view_(s) {}
    LogArg(bool b) noexcept : view_(b ? "true" : "false") {}
    LogArg(char c) noexcept : size_(1) { buf_[0] = c; }
    LogArg(double d) noexcept { put(std::snprintf(buf_, sizeof(buf_), "%g", d)); }
    template <class T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool> && !std::is_same_v<T, char>, int> = 0>
    LogArg(T v) noexcept {
        if constexpr (std::is_signed_v<T>) put(std::snprintf(buf_, sizeof(buf_), "%lld", static_cast<long long>(v)));
        else put(std::snprintf(buf_, sizeof(buf_), "%llu", static_cast<unsigned long long>(v)));
    }
    std::string_view view() const noexcept { return size_ ? std::string_view(buf_, size_) : view_; }

private:
    void put(int n) noexcept { size_ = n > 0 ? static_cast<std::size_t>(n) : 0; }
    std::string_view view_;
    char buf_[32];
    std::size_t size_ = 0;
};

// "user {} logged in" with its arguments: each {} takes the next one ({{ and }} are braces);
// arguments beyond the placeholders follow, space-separated.
FASTAPI_DECL void format_log(std::string& out, std::string_view format, std::initializer_list<LogArg> args);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void format_log(std::string& out, std::string_view format, std::initializer_list<LogArg> args) {
    auto next = args.begin();
    for (std::size_t i = 0; i < format.size(); ++i) {
        const char c = format[i];
        if (c == '{' && i + 1 < format.size() && format[i + 1] == '}') {
            if (next != args.end()) out += (next++)->view();
            else out += "{}";
            ++i;
        } else if ((c == '{' || c == '}') && i + 1 < format.size() && format[i + 1] == c) {
            out += c;
            ++i;
        } else {
            out += c;
        }
    }
    for (; next != args.end(); ++next) {
        out += ' ';
        out += next->view();
    }
}
#endif

FASTAPI_DECL void log_message(LogLevel level, std::string_view format, std::initializer_list<LogArg> args);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void log_message(LogLevel level, std::string_view format, std::initializer_list<LogArg> args) {
    LogSink::instance().append(0, [&](std::string& text) {
        text += level_prefix(level);
        format_log(text, format, args);
        text += '\n';
    });
}
#endif

// ---- The access log ----

#if FASTAPI_INTERNALS

// A format compiled once: literal text and gunicorn's atoms. Empty format: uvicorn's line,
//   INFO:     127.0.0.1:51234 - "GET /items/1 HTTP/1.1" 200 OK
// (with the process id after the prefix, "INFO:     [1234] 127.0.0.1:...", when `with_pid`:
// a worker among several).
class AccessLog {
public:
    using clock = std::chrono::steady_clock;

    // Throws std::invalid_argument naming the first atom it does not know.
    explicit AccessLog(std::string_view format, bool with_pid = false) : pid_(std::to_string(::getpid())), with_pid_(with_pid) {
        if (format.empty()) return;
        uvicorn_ = false;
        std::string literal;
        for (std::size_t i = 0; i < format.size(); ++i) {
            if (format[i] != '%') {
                literal += format[i];
                continue;
            }
            if (i + 1 < format.size() && format[i + 1] == '%') {  // %% is one %
                literal += '%';
                ++i;
                continue;
            }
            if (i + 1 >= format.size() || format[i + 1] != '(')
                throw std::invalid_argument("a % that starts no %(atom)s: use %% for a percent sign");
            const std::size_t close = format.find(")s", i + 2);
            if (close == std::string_view::npos) throw std::invalid_argument("an unterminated %(...)s atom");
            const std::string_view atom = format.substr(i + 2, close - i - 2);
            Part part;
            if (atom.size() == 1 && std::string_view("hlutrmUqHsBbfaTMDLp").find(atom[0]) != std::string_view::npos) {
                part.atom = atom[0];
            } else if (atom.size() > 3 && atom.front() == '{' && atom[atom.size() - 2] == '}' &&
                       (atom.back() == 'i' || atom.back() == 'o' || atom.back() == 'e')) {
                part.atom = atom.back();
                part.text = std::string(atom.substr(1, atom.size() - 3));
                if (part.atom == 'e') {  // the environment is read now: it does not change per request
                    const char* v = std::getenv(part.text.c_str());
                    part.atom = 0;
                    part.text = v ? v : "-";
                }
            } else {
                throw std::invalid_argument("unknown access-log atom %(" + std::string(atom) +
                                            ")s (known: h l u t r m U q H s B b f a T M D L p {header}i {header}o {variable}e)");
            }
            if (!literal.empty()) parts_.push_back(Part{0, std::exchange(literal, {})});
            if (part.atom == 'T' || part.atom == 'M' || part.atom == 'D' || part.atom == 'L') timed_ = true;
            parts_.push_back(std::move(part));
            i = close + 1;
        }
        if (!literal.empty()) parts_.push_back(Part{0, std::move(literal)});
    }

    // The request's time is measured only when the format shows it (%(T)s %(M)s %(D)s %(L)s).
    bool timed() const noexcept { return timed_; }

    // One response sent: `body_bytes` of body, the request begun at `start` (when timed()).
    void record(const Request& req, const Response& res, std::uint64_t body_bytes, clock::time_point start) const {
        if (!log_enabled(LogLevel::info)) return;  // access lines are INFO, as uvicorn's
        LogSink& sink = LogSink::instance();
        const int target = sink.access_target();
        if (uvicorn_) {
            sink.append(target, [&](std::string& out) { uvicorn_line(out, req, res); });
            return;
        }
        const std::int64_t micros =
            timed_ ? std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - start).count() : 0;
        sink.append(target, [&](std::string& out) {
            for (auto& p : parts_) atom(out, p, req, res, body_bytes, micros);
            out += '\n';
        });
    }

private:
    struct Part {
        char atom = 0;  // 0: literal text
        std::string text;  // the literal, or the header's name
    };

    static void put_uint(std::string& out, std::uint64_t v) {
        char digits[20];
        char* d = digits + sizeof(digits);
        do *--d = static_cast<char>('0' + v % 10);
        while ((v /= 10) != 0);
        out.append(d, static_cast<std::size_t>(digits + sizeof(digits) - d));
    }
    static void put_version(std::string& out, const Request& req) {
        out += req.version == 10 ? "HTTP/1.0" : "HTTP/1.1";
    }

    // Sized once and filled with memcpy (this runs once per response): one append, not twenty.
    void uvicorn_line(std::string& out, const Request& req, const Response& res) const {
        const std::string_view reason = status_reason(res.status);
        const std::size_t most = 64 + pid_.size() + req.client_address.size() + req.method.size() + req.root_path.size() +
                                 req.path.size() + req.query_string.size() + reason.size();
        // A usual line is written on the stack and appended in one copy (resizing `out` first
        // would zero it); a longer one in place.
        char small[512];
        const bool on_stack = most <= sizeof(small);
        const std::size_t start = out.size();
        if (!on_stack) out.resize(start + most);
        char* const begin = on_stack ? small : out.data() + start;
        char* p = begin;
        auto put = [&p](std::string_view s) {
            std::memcpy(p, s.data(), s.size());
            p += s.size();
        };
        auto put_number = [&p](unsigned v) {
            char digits[12];
            char* d = digits + sizeof(digits);
            do *--d = static_cast<char>('0' + v % 10);
            while ((v /= 10) != 0);
            const std::size_t n = static_cast<std::size_t>(digits + sizeof(digits) - d);
            std::memcpy(p, d, n);
            p += n;
        };
        put("INFO:     ");
        if (with_pid_) {
            *p++ = '[';
            put(pid_);
            put("] ");
        }
        if (req.client_address.empty()) {
            *p++ = '-';  // a Unix socket's peer has no address
        } else {
            const bool v6 = req.client_address.find(':') != std::string::npos;
            if (v6) *p++ = '[';
            put(req.client_address);
            if (v6) *p++ = ']';
            *p++ = ':';
            put_number(req.client_port);
        }
        put(" - \"");
        put(req.method);
        *p++ = ' ';
        put(req.root_path);
        put(req.path);
        if (!req.query_string.empty()) {
            *p++ = '?';
            put(req.query_string);
        }
        put(req.version == 10 ? " HTTP/1.0\" " : " HTTP/1.1\" ");
        put_number(static_cast<unsigned>(res.status) % 100000);
        if (!reason.empty()) {
            *p++ = ' ';
            put(reason);
        }
        *p++ = '\n';
        if (on_stack) out.append(small, static_cast<std::size_t>(p - small));
        else out.resize(start + static_cast<std::size_t>(p - begin));
    }

    // gunicorn's [10/Oct/2000:13:55:36 +0000], local time, formatted once a second per thread.
    static std::string_view clf_date() {
        thread_local std::time_t cached = 0;
        thread_local char text[40];
        const std::time_t now = std::time(nullptr);
        if (now != cached) {
            cached = now;
            std::tm tm{};
            localtime_r(&now, &tm);
            std::strftime(text, sizeof(text), "[%d/%b/%Y:%H:%M:%S %z]", &tm);
        }
        return text;
    }

    void atom(std::string& out, const Part& p, const Request& req, const Response& res, std::uint64_t bytes,
              std::int64_t micros) const {
        auto or_dash = [&out](std::optional<std::string_view> v) {
            if (v && !v->empty()) out += *v;
            else out += '-';
        };
        switch (p.atom) {
            case 0: out += p.text; break;
            case 'h': out += req.client_address.empty() ? std::string_view("-") : std::string_view(req.client_address); break;
            case 'l': out += '-'; break;
            case 'u': out += '-'; break;  // the user of HTTP Basic auth is the app's to know, not the log's
            case 't': out += clf_date(); break;
            case 'r':
                out += req.method;
                out += ' ';
                out += req.target;
                out += ' ';
                put_version(out, req);
                break;
            case 'm': out += req.method; break;
            case 'U': out += req.path; break;
            case 'q': out += req.query_string; break;
            case 'H': put_version(out, req); break;
            case 's': put_uint(out, static_cast<unsigned>(res.status)); break;
            case 'B': put_uint(out, bytes); break;
            case 'b':
                if (bytes == 0) out += '-';
                else put_uint(out, bytes);
                break;
            case 'f': or_dash(req.headers.get("referer")); break;
            case 'a': or_dash(req.headers.get("user-agent")); break;
            case 'T': put_uint(out, static_cast<std::uint64_t>(micros / 1000000)); break;
            case 'M': put_uint(out, static_cast<std::uint64_t>(micros / 1000)); break;
            case 'D': put_uint(out, static_cast<std::uint64_t>(micros)); break;
            case 'L': {
                char text[32];
                const int n = std::snprintf(text, sizeof(text), "%lld.%06lld", static_cast<long long>(micros / 1000000),
                                            static_cast<long long>(micros % 1000000));
                if (n > 0) out.append(text, static_cast<std::size_t>(n));
                break;
            }
            case 'p': out += '<'; out += pid_; out += '>'; break;  // as gunicorn writes it
            case 'i': or_dash(req.headers.get(p.text)); break;
            case 'o': or_dash(res.headers.get(p.text)); break;
            default: break;
        }
    }

    std::vector<Part> parts_;
    std::string pid_;
    bool uvicorn_ = true, with_pid_ = false, timed_ = false;
};
#endif  // FASTAPI_INTERNALS

// Set once a server logged why it could not start, so run(argc, argv) does not say it twice.
FASTAPI_DECL std::atomic<bool>& startup_failure_logged() noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::atomic<bool>& startup_failure_logged() noexcept {
    static std::atomic<bool> logged{false};
    return logged;
}
#endif
FASTAPI_DECL void log_startup_failure(std::string_view message);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void log_startup_failure(std::string_view message) {
    startup_failure_logged().store(true);
    log_message(LogLevel::error, "{}", {LogArg(message)});
}
#endif

#if FASTAPI_INTERNALS  // in the implementation unit in the compiled-once mode
// What was logged before the process exits is written first (bounded: a destination that
// takes nothing is not waited for past half a second).
struct LogFlushAtExit {
    ~LogFlushAtExit() { LogSink::instance().flush(std::chrono::milliseconds(500)); }
};
inline LogFlushAtExit log_flush_at_exit;
#endif

}  // namespace detail

// The process's log, for user code: the level and sink the server uses (--log-level).
//   fastapi::log::info("user {} logged in from {}", id, request.client_address);
// Each {} takes the next argument (strings, numbers, bools); nothing is formatted below the
// level. Lines go to stderr through the same writer thread as the server's, never blocking.
namespace log {

FASTAPI_DECL void set_level(LogLevel level) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void set_level(LogLevel level) noexcept {
    detail::log_threshold().store(static_cast<int>(level), std::memory_order_relaxed);
}
#endif
FASTAPI_DECL LogLevel level() noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL LogLevel level() noexcept { return static_cast<LogLevel>(detail::log_threshold().load(std::memory_order_relaxed)); }
#endif
FASTAPI_DECL bool enabled(LogLevel l) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool enabled(LogLevel l) noexcept { return detail::log_enabled(l); }
#endif

template <class... Args>
void write(LogLevel l, std::string_view format, const Args&... args) {
    if (detail::log_enabled(l)) detail::log_message(l, format, {detail::LogArg(args)...});
}
template <class... Args>
void trace(std::string_view format, const Args&... args) { write(LogLevel::trace, format, args...); }
template <class... Args>
void debug(std::string_view format, const Args&... args) { write(LogLevel::debug, format, args...); }
template <class... Args>
void info(std::string_view format, const Args&... args) { write(LogLevel::info, format, args...); }
template <class... Args>
void warning(std::string_view format, const Args&... args) { write(LogLevel::warning, format, args...); }
template <class... Args>
void error(std::string_view format, const Args&... args) { write(LogLevel::error, format, args...); }
template <class... Args>
void critical(std::string_view format, const Args&... args) { write(LogLevel::critical, format, args...); }

// Waits (bounded) until every line logged so far is written; true when it was.
FASTAPI_DECL bool flush(std::chrono::milliseconds limit = std::chrono::milliseconds(1000));
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool flush(std::chrono::milliseconds limit) {
    return detail::LogSink::instance().flush(limit);
}
#endif
// Reopens the access log file by its path (what SIGUSR1 does for logrotate). Safe from any
// thread, not from a signal handler.
FASTAPI_DECL void reopen();
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void reopen() { detail::LogSink::instance().reopen(); }
#endif
// Lines dropped since the process started because the destination did not keep up.
FASTAPI_DECL std::size_t dropped_lines() noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::size_t dropped_lines() noexcept { return detail::LogSink::instance().dropped_total(); }
#endif

}  // namespace log
}  // namespace fastapi
