// The log: fastapi::log for user code (levels, {} formatting), the access log's two formats
// (uvicorn's line, gunicorn's atoms) against a real server on loopback, a destination that
// takes nothing (a pipe nobody reads) never blocking the server, and reopening the file.
// SIGUSR1 itself is sent to a helper process (unit-cli.cpp); here the API it calls is tested.
#include "support.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace logging_test {

using namespace std::chrono_literals;
namespace log = fastapi::log;

struct TempDir {
    std::filesystem::path path;
    TempDir() {
        char tmpl[] = "/tmp/fastapi-log-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    std::string operator/(const char* name) const { return (path / name).string(); }
};

std::string read_text(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}
std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

// The process's log as it was before the test: level info, access log on stderr.
struct RestoreLog {
    ~RestoreLog() {
        log::flush(2000ms);
        log::set_level(fastapi::LogLevel::info);
        fastapi::detail::LogSink::instance().set_access_file("");
        log::flush(2000ms);
    }
};

// fd 2 sent to a file while this lives (what the writer thread writes to stderr lands there).
class CaptureStderr {
public:
    explicit CaptureStderr(const std::string& path) : path_(path) {
        log::flush(2000ms);
        saved_ = ::dup(2);
        const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ::dup2(fd, 2);
        ::close(fd);
    }
    ~CaptureStderr() { restore(); }
    std::string text() {
        log::flush(2000ms);
        return read_text(path_);
    }
    void restore() {
        if (saved_ < 0) return;
        log::flush(2000ms);
        ::dup2(saved_, 2);
        ::close(saved_);
        saved_ = -1;
    }

private:
    std::string path_;
    int saved_ = -1;
};

TEST_CASE("log: {} placeholders take the arguments in order; braces, extras, numbers, bools") {
    auto fmt = [](std::string_view f, std::initializer_list<fastapi::detail::LogArg> args) {
        std::string out;
        fastapi::detail::format_log(out, f, args);
        return out;
    };
    const std::string name = "ann";
    CHECK(fmt("user {} logged in from {}", {name, "10.0.0.1"}) == "user ann logged in from 10.0.0.1");
    CHECK(fmt("{} {} {} {} {}", {42, -7, 3u, true, 'x'}) == "42 -7 3 true x");
    CHECK(fmt("{}", {1.5}) == "1.5");
    CHECK(fmt("{{literal}} {}", {std::string_view("v")}) == "{literal} v");
    CHECK(fmt("no placeholders", {1, 2}) == "no placeholders 1 2");
    CHECK(fmt("missing {} {}", {1}) == "missing 1 {}");
    CHECK(fmt("{}", {static_cast<const char*>(nullptr)}) == "(null)");
    CHECK(fmt("{}", {static_cast<std::uint64_t>(18446744073709551615ull)}) == "18446744073709551615");
}

TEST_CASE("log: fastapi::log writes uvicorn's level prefixes to stderr, nothing below the level") {
    RestoreLog restore;
    TempDir dir;
    CaptureStderr err(dir / "stderr");
    log::set_level(fastapi::LogLevel::info);
    log::debug("not shown {}", 1);
    log::info("user {} logged in", 7);
    log::warning("disk {}% full", 91);
    log::error("cannot reach {}", "db");
    log::critical("down");
    log::set_level(fastapi::LogLevel::trace);
    log::trace("fine {}", "detail");
    log::debug("shown");
    log::set_level(fastapi::LogLevel::critical);
    log::error("hidden");
    CHECK(err.text() ==
          "INFO:     user 7 logged in\n"
          "WARNING:  disk 91% full\n"
          "ERROR:    cannot reach db\n"
          "CRITICAL: down\n"
          "TRACE:    fine detail\n"
          "DEBUG:    shown\n");
    // A thread that logs and ends: its lines are written all the same.
    log::set_level(fastapi::LogLevel::info);
    std::thread([] { log::info("from a thread that ends"); }).join();
    CHECK(err.text().find("INFO:     from a thread that ends\n") != std::string::npos);
}

TEST_CASE("log: an access-log format with an atom gunicorn does not have is refused, naming it") {
    using fastapi::detail::AccessLog;
    CHECK_THROWS_WITH_AS(AccessLog("%(h)s %(x)s"), doctest::Contains("unknown access-log atom %(x)s"), std::invalid_argument);
    CHECK_THROWS_WITH_AS(AccessLog("%(h"), doctest::Contains("unterminated"), std::invalid_argument);
    CHECK_THROWS_WITH_AS(AccessLog("50% of %(s)s"), doctest::Contains("%%"), std::invalid_argument);
    CHECK_THROWS_AS(AccessLog("%({}i)s"), std::invalid_argument);
    CHECK_FALSE(AccessLog("%(h)s %(s)s").timed());
    CHECK(AccessLog("%(D)s").timed());
    CHECK_NOTHROW(AccessLog("100%% %({x-request-id}i)s %({HOME}e)s"));
}

fastapi::App& app_for_logs() {
    static fastapi::App* app = [] {
        auto* a = new fastapi::App;
        a->get("/items/{id}", [](fastapi::Path<"id", int> id) { return fastapi::PlainTextResponse("item " + std::to_string(*id)); });
        a->get("/slow", []() -> asio::awaitable<fastapi::PlainTextResponse> {
            asio::steady_timer t(co_await asio::this_coro::executor, 60ms);
            co_await t.async_wait(asio::use_awaitable);
            co_return fastapi::PlainTextResponse("slow");
        });
        a->get("/stream", [] {
            return fastapi::StreamingResponse([](fastapi::StreamWriter& out) -> asio::awaitable<void> {
                for (int i = 0; i < 3; ++i) co_await out.write("12345");
            });
        });
        a->get("/empty", [] { return fastapi::Response("", 204, ""); });
        return a;
    }();
    return *app;
}

std::string ask(unsigned short port, const std::string& request) {
    test::RawClient c(port);
    c.send(request);
    if (request.rfind("GET /stream", 0) == 0)  // chunked: read to the last chunk
        return c.read_until([](const std::string& b) { return b.find("0\r\n\r\n") != std::string::npos; });
    return c.read_response();
}

TEST_CASE("log: uvicorn's access line for each response, against a real server") {
    RestoreLog restore;
    TempDir dir;
    fastapi::ServerOptions o;
    o.access_log = true;
    o.access_log_file = dir / "access.log";
    test::LiveServer server(app_for_logs(), o);
    CHECK(test::status_of(ask(server.port(), "GET /items/5?q=a%20b HTTP/1.1\r\nHost: x\r\n\r\n")) == 200);
    CHECK(test::status_of(ask(server.port(), "GET /nowhere HTTP/1.0\r\n\r\n")) == 404);
    CHECK(test::status_of(ask(server.port(), "HEAD /items/6 HTTP/1.1\r\nHost: x\r\n\r\n")) == 200);
    CHECK(test::status_of(ask(server.port(), "GET /items/x HTTP/1.1\r\nHost: x\r\n\r\n")) == 422);
    CHECK(test::status_of(ask(server.port(), "GET /empty HTTP/1.1\r\nHost: x\r\n\r\n")) == 204);
    CHECK(ask(server.port(), "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n").find("0\r\n\r\n") != std::string::npos);
    ask(server.port(), "GARBAGE\r\n\r\n");  // a parse error: answered 400, not logged (as uvicorn)
    REQUIRE(log::flush(2000ms));
    const auto lines = lines_of(read_text(o.access_log_file));
    REQUIRE(lines.size() == 6);
    std::vector<std::string> tails = {
        " - \"GET /items/5?q=a%20b HTTP/1.1\" 200 OK", " - \"GET /nowhere HTTP/1.0\" 404 Not Found",
        " - \"HEAD /items/6 HTTP/1.1\" 200 OK",        " - \"GET /items/x HTTP/1.1\" 422 Unprocessable Content",
        " - \"GET /empty HTTP/1.1\" 204 No Content",   " - \"GET /stream HTTP/1.1\" 200 OK",
    };
    std::vector<std::string> seen;
    for (const std::string& line : lines) {
        CAPTURE(line);
        REQUIRE(line.rfind("INFO:     127.0.0.1:", 0) == 0);
        const std::size_t dash = line.find(" - \"");
        REQUIRE(dash != std::string::npos);
        const int client_port = std::stoi(line.substr(20, dash - 20));  // the client's own port
        CHECK(client_port > 0);
        CHECK(client_port != server.port());
        seen.push_back(line.substr(dash));
    }
    // Two loops: each one's lines in order, the two merged per batch (README "Logs").
    std::sort(seen.begin(), seen.end());
    std::sort(tails.begin(), tails.end());
    CHECK(seen == tails);
}

TEST_CASE("log: gunicorn's atoms, request time and body bytes included, against a real server") {
    RestoreLog restore;
    TempDir dir;
    fastapi::ServerOptions o;
    o.access_log = true;
    o.access_log_file = dir / "access.log";
    o.access_log_format =
        "%(h)s %(l)s %(u)s \"%(r)s\" %(s)s %(B)s %(b)s \"%(f)s\" \"%(a)s\" %(m)s %(U)s [%(q)s] %(H)s %(p)s "
        "%({x-request-id}i)s %({content-type}o)s %({CLI_LOG_TEST_VAR}e)s 100%% %(t)s|%(D)s %(M)s %(T)s %(L)s";
    ::setenv("CLI_LOG_TEST_VAR", "from-env", 1);
    test::LiveServer server(app_for_logs(), o);
    ::unsetenv("CLI_LOG_TEST_VAR");
    ask(server.port(),
        "GET /slow?x=1 HTTP/1.1\r\nHost: x\r\nReferer: http://ref/\r\nUser-Agent: tester/1\r\nX-Request-Id: r-42\r\n\r\n");
    ask(server.port(), "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
    ask(server.port(), "GET /empty HTTP/1.1\r\nHost: x\r\n\r\n");
    REQUIRE(log::flush(2000ms));
    auto lines = lines_of(read_text(o.access_log_file));
    REQUIRE(lines.size() == 3);
    auto by_path = [](const std::string& a, const std::string& b) {  // slow, stream, empty
        auto rank = [](const std::string& l) { return l.find("/slow") != std::string::npos ? 0 : l.find("/stream") != std::string::npos ? 1 : 2; };
        return rank(a) < rank(b);
    };
    std::sort(lines.begin(), lines.end(), by_path);
    const std::string pid = "<" + std::to_string(::getpid()) + ">";
    auto split = [](const std::string& line) {
        const std::size_t bar = line.rfind('|');
        return std::pair<std::string, std::string>(line.substr(0, bar), line.substr(bar + 1));
    };
    {
        auto [head, times] = split(lines[0]);
        CAPTURE(lines[0]);
        const std::string want = "127.0.0.1 - - \"GET /slow?x=1 HTTP/1.1\" 200 4 4 \"http://ref/\" \"tester/1\" GET /slow [x=1] HTTP/1.1 " +
                                 pid + " r-42 text/plain; charset=utf-8 from-env 100% [";
        CHECK(head.rfind(want, 0) == 0);
        // %(t)s: [01/Dec/2026:18:23:40 +0000]
        const std::string date = head.substr(want.size() - 1);
        CHECK(date.size() == 28);
        CHECK(date.back() == ']');
        std::istringstream t(times);
        long long micros = 0, millis = 0, secs = 0;
        std::string decimal;
        t >> micros >> millis >> secs >> decimal;
        CHECK(micros >= 60000);  // the handler waited 60 ms
        CHECK(micros < 5000000);
        CHECK(millis == micros / 1000);
        CHECK(secs == 0);
        CHECK(decimal == "0." + [&] {
                  std::string d = std::to_string(micros);
                  return std::string(6 - d.size(), '0') + d;
              }());
    }
    {
        CAPTURE(lines[1]);
        CHECK(lines[1].find("\"GET /stream HTTP/1.1\" 200 15 15 \"-\" \"-\" GET /stream [] HTTP/1.1") != std::string::npos);
    }
    {
        CAPTURE(lines[2]);
        CHECK(lines[2].find("\"GET /empty HTTP/1.1\" 204 0 - ") != std::string::npos);
        CHECK(lines[2].find(" - - from-env") != std::string::npos);  // no X-Request-Id, no Content-Type
    }
}

TEST_CASE("log: the access log follows the level (INFO lines: none at --log-level warning) and access_log") {
    RestoreLog restore;
    TempDir dir;
    fastapi::ServerOptions o;
    o.access_log = true;
    o.access_log_file = dir / "access.log";
    o.log_level = "warning";
    {
        test::LiveServer server(app_for_logs(), o);  // its run() sets the process's level
        CHECK(test::status_of(ask(server.port(), "GET /items/1 HTTP/1.1\r\nHost: x\r\n\r\n")) == 200);
    }
    REQUIRE(log::flush(2000ms));
    CHECK(read_text(o.access_log_file).empty());
    o.log_level = "info";
    o.access_log = false;
    {
        test::LiveServer server(app_for_logs(), o);
        CHECK(test::status_of(ask(server.port(), "GET /items/1 HTTP/1.1\r\nHost: x\r\n\r\n")) == 200);
    }
    REQUIRE(log::flush(2000ms));
    CHECK(read_text(o.access_log_file).empty());
}

TEST_CASE("log: a destination nobody reads (a full pipe) never holds the server up: lines are dropped and counted") {
    RestoreLog restore;
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    fastapi::ServerOptions o;
    o.access_log = true;
    // The pipe's write end by a path, as a file the server opens itself.
    o.access_log_file = "/proc/self/fd/" + std::to_string(fds[1]);
    const std::size_t dropped_before = log::dropped_lines();
    {
        test::LiveServer server(app_for_logs(), o);
        ::close(fds[1]);  // the server holds its own descriptor of the pipe
        // 7 KB lines, 11 MB of them: the pipe (64 KiB) fills at once, the thread buffers (1 MiB
        // each) and what the writer holds (a batch it cannot write) soon after.
        const std::string query(7000, 'q');
        const auto started = std::chrono::steady_clock::now();
        int answered = 0;
        for (int c = 0; c < 16; ++c) {
            test::RawClient client(server.port());
            std::string batch;
            for (int i = 0; i < 100; ++i) batch += "GET /items/" + std::to_string(i) + "?" + query + " HTTP/1.1\r\nHost: x\r\n\r\n";
            client.send(batch);
            for (int i = 0; i < 100; ++i) answered += test::status_of(client.read_response()) == 200;
        }
        CHECK(answered == 1600);
        CHECK(std::chrono::steady_clock::now() - started < 90s);  // generous: sanitizer builds are slow
        CHECK(log::dropped_lines() > dropped_before);
        // While the writer is stuck on the pipe, the server still answers at once.
        const auto t0 = std::chrono::steady_clock::now();
        CHECK(test::status_of(ask(server.port(), "GET /items/1 HTTP/1.1\r\nHost: x\r\n\r\n")) == 200);
        CHECK(std::chrono::steady_clock::now() - t0 < 2s);
    }
    // The reader goes: the writer's write fails (EPIPE, not SIGPIPE: the process lives on) and
    // it goes back to work.
    ::close(fds[0]);
    CHECK(log::flush(3000ms));
}

TEST_CASE("log: reopen() opens the access log's file again by its path (what SIGUSR1 does)") {
    RestoreLog restore;
    TempDir dir;
    fastapi::ServerOptions o;
    o.access_log = true;
    o.access_log_file = dir / "access.log";
    o.access_log_format = "%(U)s";
    test::LiveServer server(app_for_logs(), o);
    ask(server.port(), "GET /items/1 HTTP/1.1\r\nHost: x\r\n\r\n");
    REQUIRE(log::flush(2000ms));
    std::filesystem::rename(o.access_log_file, dir / "access.log.1");
    ask(server.port(), "GET /items/2 HTTP/1.1\r\nHost: x\r\n\r\n");
    REQUIRE(log::flush(2000ms));
    log::reopen();
    REQUIRE(log::flush(2000ms));  // a flush is a whole round of the writer: the reopen is done
    ask(server.port(), "GET /items/3 HTTP/1.1\r\nHost: x\r\n\r\n");
    REQUIRE(log::flush(2000ms));
    CHECK(read_text(dir / "access.log.1") == "/items/1\n/items/2\n");
    CHECK(read_text(o.access_log_file) == "/items/3\n");
}

}  // namespace logging_test

namespace logging_test {

TEST_CASE("log: among several workers, uvicorn's line names the worker's pid") {
    RestoreLog restore;
    TempDir dir;
    fastapi::detail::LogSink::instance().set_access_file(dir / "access.log");
    fastapi::Request req;
    req.method = "GET";
    req.path = "/whoami";
    req.client_address = "::1";
    req.client_port = 40000;
    fastapi::Response res;
    fastapi::detail::AccessLog(std::string_view{}, true).record(req, res, 0, {});
    fastapi::detail::AccessLog(std::string_view{}, false).record(req, res, 0, {});
    req.client_address.clear();  // a Unix socket's peer
    fastapi::detail::AccessLog(std::string_view{}, false).record(req, res, 0, {});
    REQUIRE(log::flush(2000ms));
    CHECK(read_text(dir / "access.log") == "INFO:     [" + std::to_string(::getpid()) +
                                               "] [::1]:40000 - \"GET /whoami HTTP/1.1\" 200 OK\n"
                                               "INFO:     [::1]:40000 - \"GET /whoami HTTP/1.1\" 200 OK\n"
                                               "INFO:     - - \"GET /whoami HTTP/1.1\" 200 OK\n");
}

}  // namespace logging_test
