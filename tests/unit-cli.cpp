// The command line and the environment of app.run(argc, argv): uvicorn's options, both
// spellings, the environment's variables, precedence, --env-file, --help, --version, and
// the exit statuses (2 for usage, 3 when it could not start) in process and from a real
// example binary (examples/hello) with its stderr lines.
#include "support.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace cli_test {

using fastapi::ServerOptions;
using fastapi::detail::CommandLine;
using fastapi::detail::parse_command_line;
using namespace std::chrono_literals;

// Sets (or unsets) a variable for one test and puts back what was there.
using test::ScopedEnv;

// None of the variables the command line reads is set while a test runs (the machine's own
// PORT or HOST must not decide a result).
struct CleanEnv {
    std::vector<std::unique_ptr<ScopedEnv>> vars;
    CleanEnv() {
        for (auto& o : fastapi::detail::cli_options()) {
            vars.push_back(std::make_unique<ScopedEnv>(fastapi::detail::cli_env_name(o.name).c_str(), nullptr));
            if (!o.alias.empty()) vars.push_back(std::make_unique<ScopedEnv>(std::string(o.alias).c_str(), nullptr));
        }
    }
};

CommandLine parse(std::vector<std::string> words, ServerOptions base = {}) {
    std::vector<const char*> argv{"app"};
    for (auto& w : words) argv.push_back(w.c_str());
    return parse_command_line(static_cast<int>(argv.size()), argv.data(), std::move(base), "Items 2.0");
}

struct TempDir {
    std::filesystem::path path;
    TempDir() {
        char tmpl[] = "/tmp/fastapi-cli-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    std::string file(const std::string& name, const std::string& text) const {
        std::ofstream(path / name) << text;
        return (path / name).string();
    }
};

std::string read_text(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

TEST_CASE("cli: each option in both spellings sets its ServerOptions field") {
    CleanEnv clean;
    auto r = parse({"--host", "127.0.0.1", "--port=8081", "--uds", "/tmp/x.sock", "--fd=3", "--workers", "4", "--threads=2",
                    "--log-level", "DEBUG", "--no-access-log", "--access-log-format=%(h)s %(s)s", "--access-log-file",
                    "/tmp/a.log", "--no-proxy-headers", "--forwarded-allow-ips=10.0.0.0/8,*", "--root-path", "/api",
                    "--limit-concurrency=50", "--limit-max-requests", "1000", "--limit-max-requests-jitter=50",
                    "--timeout-keep-alive", "0.25", "--timeout-graceful-shutdown=12", "--timeout-worker-healthcheck", "3"});
    REQUIRE(r.exit_status == -1);
    const ServerOptions& o = r.options;
    CHECK(o.host == "127.0.0.1");
    CHECK(o.port == 8081);
    CHECK(o.uds == "/tmp/x.sock");
    CHECK(o.fd == 3);
    CHECK(o.workers == 4);
    CHECK(o.threads == 2);
    CHECK(o.log_level == "debug");
    CHECK_FALSE(o.access_log);
    CHECK(o.access_log_format == "%(h)s %(s)s");
    CHECK(o.access_log_file == "/tmp/a.log");
    CHECK_FALSE(o.proxy_headers);
    CHECK(o.forwarded_allow_ips == "10.0.0.0/8,*");
    CHECK(o.root_path == "/api");
    CHECK(o.limits.max_connections == 50);
    CHECK(o.limit_max_requests == 1000);
    CHECK(o.limit_max_requests_jitter == 50);
    CHECK(o.keep_alive_timeout == 250ms);
    CHECK(o.graceful_shutdown_timeout == 12s);
    CHECK(o.worker_healthcheck_timeout == 3s);

    auto flags = parse({"--access-log", "--proxy-headers"}, [] {
        ServerOptions b;
        b.access_log = false;
        b.proxy_headers = false;
        return b;
    }());
    CHECK(flags.options.access_log);
    CHECK(flags.options.proxy_headers);
}

TEST_CASE("cli: the command line wins over the environment, which wins over the program's ServerOptions") {
    CleanEnv clean;
    ServerOptions base;
    base.port = 9000;
    base.threads = 3;
    base.root_path = "/code";
    {
        auto r = parse({}, base);
        CHECK(r.options.port == 9000);
        CHECK(r.options.threads == 3);
    }
    ScopedEnv port("PORT", "9100");
    ScopedEnv threads("FASTAPI_THREADS", "5");
    ScopedEnv root("FASTAPI_ROOT_PATH", "/env");
    {
        auto r = parse({}, base);
        CHECK(r.options.port == 9100);
        CHECK(r.options.threads == 5);
        CHECK(r.options.root_path == "/env");
    }
    {
        auto r = parse({"--port", "9200", "--root-path=/cli"}, base);
        CHECK(r.options.port == 9200);
        CHECK(r.options.threads == 5);
        CHECK(r.options.root_path == "/cli");
    }
    // FASTAPI_<OPTION> is more specific than the variable uvicorn and gunicorn read.
    ScopedEnv ours("FASTAPI_PORT", "9300");
    CHECK(parse({}, base).options.port == 9300);
}

TEST_CASE("cli: the variables uvicorn and gunicorn users set: HOST, PORT, WEB_CONCURRENCY, FORWARDED_ALLOW_IPS") {
    CleanEnv clean;
    ScopedEnv host("HOST", "::1");
    ScopedEnv port("PORT", "5000");
    ScopedEnv workers("WEB_CONCURRENCY", "3");
    ScopedEnv allow("FORWARDED_ALLOW_IPS", "*");
    ScopedEnv keep("FASTAPI_TIMEOUT_KEEP_ALIVE", "10");
    ScopedEnv access("FASTAPI_ACCESS_LOG", "off");
    ScopedEnv level("FASTAPI_LOG_LEVEL", "warning");
    auto r = parse({});
    REQUIRE(r.exit_status == -1);
    CHECK(r.options.host == "::1");
    CHECK(r.options.port == 5000);
    CHECK(r.options.workers == 3);
    CHECK(r.options.forwarded_allow_ips == "*");
    CHECK(r.options.keep_alive_timeout == 10s);
    CHECK_FALSE(r.options.access_log);
    CHECK(r.options.log_level == "warning");
}

TEST_CASE("cli: bad usage is one line naming the mistake, and status 2") {
    CleanEnv clean;
    auto check_error = [](const CommandLine& r, const std::string& part) {
        CHECK(r.exit_status == 2);
        CHECK(r.output.find(part) != std::string::npos);
        CHECK(r.output.rfind("app: error: ", 0) == 0);
        CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
    };
    check_error(parse({"--prot", "80"}), "unknown option '--prot' (did you mean '--port'?)");
    check_error(parse({"--workres=2"}), "did you mean '--workers'?");
    check_error(parse({"--frobnicate"}), "unknown option '--frobnicate'; see --help");
    CHECK(parse({"--frobnicate"}).output.find("did you mean") == std::string::npos);
    check_error(parse({"--port"}), "--port needs a value (INTEGER)");
    check_error(parse({"--port", "eighty"}), "--port 'eighty' is not a whole number from 0 to 65535");
    check_error(parse({"--port=70000"}), "from 0 to 65535");
    check_error(parse({"--port=-1"}), "from 0 to 65535");
    check_error(parse({"--workers", "0"}), "--workers '0' is not a whole number from 1");
    check_error(parse({"--timeout-keep-alive", "soon"}), "is not a number of seconds");
    check_error(parse({"--timeout-keep-alive", "1.x"}), "is not a number of seconds");
    check_error(parse({"--log-level", "loud"}), "is not one of critical, error, warning, info, debug, trace");
    check_error(parse({"--access-log=yes"}), "--access-log takes no value");
    check_error(parse({"--no-port"}), "unknown option '--no-port'");
    check_error(parse({"--access-log-format", "%(h)s %(zz)s"}), "unknown access-log atom %(zz)s");
    check_error(parse({"--access-log-format", "100% %(s)s"}), "use %% for a percent sign");
    check_error(parse({"--root-path", "api"}), "does not start with '/'");
    check_error(parse({"--forwarded-allow-ips", "10.0.0.0/99"}), "--forwarded-allow-ips '10.0.0.0/99' is not a list of addresses");
    {
        ScopedEnv allow("FORWARDED_ALLOW_IPS", "192.0.2.300");
        check_error(parse({}), "environment variable FORWARDED_ALLOW_IPS='192.0.2.300' is not a list");
    }
    check_error(parse({"worker"}), "unexpected argument 'worker'");
    check_error(parse({"-p", "80"}), "unexpected argument '-p'");
    {
        ScopedEnv port("PORT", "eighty");
        check_error(parse({}), "environment variable PORT='eighty' is not a whole number");
        // The command line does not make a broken environment right: it is still reported.
        CHECK(parse({"--port", "80"}).exit_status == 2);
    }
    {
        ScopedEnv flag("FASTAPI_PROXY_HEADERS", "maybe");
        check_error(parse({}), "environment variable FASTAPI_PROXY_HEADERS='maybe' is not true or false");
    }
}

TEST_CASE("cli: --help lists every option with its variables and the program's defaults; --version") {
    CleanEnv clean;
    ServerOptions base;
    base.port = 9123;
    base.keep_alive_timeout = 1500ms;
    // --help answers whatever the values (they are checked after), not after an unknown word.
    CHECK(parse({"--port", "bad", "--help"}, base).exit_status == 0);
    CHECK(parse({"--bogus", "--help"}, base).exit_status == 2);
    auto r = parse({"--help"}, base);
    REQUIRE(r.exit_status == 0);
    CHECK(r.output.rfind("Usage: app [OPTIONS]", 0) == 0);
    for (auto& o : fastapi::detail::cli_options()) {
        CAPTURE(o.name);
        CHECK(r.output.find("--" + std::string(o.name)) != std::string::npos);
        if (o.set) CHECK(r.output.find(fastapi::detail::cli_env_name(o.name)) != std::string::npos);
        if (!o.alias.empty()) CHECK(r.output.find(std::string(o.alias)) != std::string::npos);
    }
    CHECK(r.output.find("--access-log / --no-access-log") != std::string::npos);
    CHECK(r.output.find("[env: FASTAPI_PORT, PORT; default: 9123]") != std::string::npos);
    CHECK(r.output.find("[env: FASTAPI_TIMEOUT_KEEP_ALIVE; default: 1.5]") != std::string::npos);
    CHECK(r.output.find("[env: FASTAPI_WORKERS, WEB_CONCURRENCY; default: 1]") != std::string::npos);
    CHECK(parse({"-h"}).exit_status == 0);

    auto v = parse({"--version"});
    CHECK(v.exit_status == 0);
    CHECK(v.output == "app Items 2.0 (fastapi.hpp " FASTAPI_VERSION ")\n");
}

TEST_CASE("cli: --env-file loads a .env before the environment is read; variables already set win") {
    CleanEnv clean;
    TempDir dir;
    ScopedEnv extra("CLI_TEST_FROM_FILE", nullptr);
    const std::string env = dir.file(".env",
                                     "# settings for development\n"
                                     "FASTAPI_TIMEOUT_KEEP_ALIVE=7\n"
                                     "export PORT=6100\n"
                                     "FASTAPI_ROOT_PATH=\"/from-file\"\n"
                                     "CLI_TEST_FROM_FILE=yes\n");
    ScopedEnv root("FASTAPI_ROOT_PATH", "/already-set");
    // What the file sets stays in the environment for the whole program: cleaned up here.
    ScopedEnv keep("FASTAPI_TIMEOUT_KEEP_ALIVE", nullptr);
    ScopedEnv port("PORT", nullptr);
    auto r = parse({"--env-file", env, "--port", "6200"});
    REQUIRE(r.exit_status == -1);
    CHECK(r.options.keep_alive_timeout == 7s);
    CHECK(r.options.root_path == "/already-set");
    CHECK(r.options.port == 6200);  // the command line still wins
    CHECK(std::getenv("PORT") == std::string("6100"));
    CHECK(std::getenv("CLI_TEST_FROM_FILE") == std::string("yes"));

    // FASTAPI_ENV_FILE names it as well.
    {
        ScopedEnv unkeep("FASTAPI_TIMEOUT_KEEP_ALIVE", nullptr);
        ScopedEnv file("FASTAPI_ENV_FILE", env.c_str());
        CHECK(parse({}).options.keep_alive_timeout == 7s);
    }

    auto missing = parse({"--env-file", (dir.path / "nope.env").string()});
    CHECK(missing.exit_status == 2);
    CHECK(missing.output.find("--env-file: ") != std::string::npos);
    CHECK(missing.output.find("nope.env") != std::string::npos);
    const std::string bad = dir.file("bad.env", "GOOD=1\nTHIS IS NOT A LINE\n");
    auto malformed = parse({"--env-file=" + bad});
    CHECK(malformed.exit_status == 2);
    CHECK(malformed.output.find("bad.env:2") != std::string::npos);
}

// ---- The exit status of run(argc, argv), in process: the same function App::run calls
// before std::exit.

int run_cli(fastapi::App& app, std::vector<std::string> words, ServerOptions base = {}) {
    std::vector<const char*> argv{"app"};
    for (auto& w : words) argv.push_back(w.c_str());
    return fastapi::detail::run_command_line(
        static_cast<int>(argv.size()), argv.data(), base, "test",
        [](void* a, const ServerOptions& o) { static_cast<fastapi::App*>(a)->run(o); }, &app);
}

// A listening socket on 127.0.0.1, so the port is in use.
using Occupied = test::LoopbackListener;

TEST_CASE("cli: could not start is status 3: the port in use, a lifespan startup hook that throws") {
    CleanEnv clean;
    ServerOptions quiet;
    quiet.handle_signals = false;
    quiet.threads = 1;
    {
        Occupied taken;
        fastapi::App app;
        CHECK(run_cli(app, {"--host", "127.0.0.1", "--port", std::to_string(taken.port)}, quiet) == 3);
        CHECK(fastapi::detail::startup_failure_logged().load());
    }
    {
        fastapi::App app;
        bool shutdown_ran = false;
        app.on_startup([] { throw std::runtime_error("no database"); });
        app.on_shutdown([&] { shutdown_ran = true; });
        CHECK(run_cli(app, {"--host", "127.0.0.1", "--port", "0"}, quiet) == 3);
        CHECK_FALSE(shutdown_ran);
    }
    {
        fastapi::App app;
        CHECK(run_cli(app, {"--bogus"}, quiet) == 2);
        CHECK(run_cli(app, {"--version"}, quiet) == 0);
    }
}

// ---- A real program: examples/hello, its stderr and exit status.

// The example started with arguments, its stderr in a file; stopped by its pid.
class Program {
public:
    Program(const std::string& path, std::vector<std::string> args, const std::string& err_path) {
        pid_ = ::fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            for (const char* v : {"HOST", "PORT", "WEB_CONCURRENCY", "FASTAPI_ENV_FILE"}) ::unsetenv(v);
            const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
            const int out = ::open("/dev/null", O_WRONLY);
            ::dup2(err, 2);
            ::dup2(out, 1);
            std::vector<char*> argv{const_cast<char*>(path.c_str())};
            for (auto& a : args) argv.push_back(a.data());
            argv.push_back(nullptr);
            ::execv(path.c_str(), argv.data());
            ::_exit(127);
        }
    }
    ~Program() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }
    // The exit status once it ends by itself (bounded), -1 if it did not.
    int wait(std::chrono::milliseconds limit = 10000ms) {
        int status = 0;
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < deadline) {
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            }
            std::this_thread::sleep_for(10ms);
        }
        return -1;
    }
    int signal_and_wait(int sig) {
        ::kill(pid_, sig);
        return wait();
    }
    void signal(int sig) { ::kill(pid_, sig); }
    pid_t pid() const { return pid_; }

private:
    pid_t pid_ = -1;
};

bool contains_eventually(const std::string& path, const std::string& text, std::chrono::milliseconds limit = 3000ms) {
    return test::eventually_true([&] { return read_text(path).find(text) != std::string::npos; }, limit);
}

TEST_CASE("cli: examples/hello with uvicorn's options logs as uvicorn, and ends 0 on SIGTERM, 2 on a bad option, 3 when the port is taken") {
    TempDir dir;
    const std::string hello = test::example_path("hello");
    const std::string err = (dir.path / "stderr").string();
    {
        const unsigned short port = test::free_port();
        Program app(hello, {"--host", "127.0.0.1", "--port=" + std::to_string(port), "--threads", "1"}, err);
        const std::string pid = std::to_string(app.pid());
        REQUIRE(test::wait_for_port(port));
        auto answer = [&] {
            test::RawClient c(port);
            c.send("GET /plaintext?x=1 HTTP/1.1\r\nHost: x\r\n\r\n");
            return c.read_response();
        }();
        CHECK(test::status_of(answer) == 200);
        CHECK(contains_eventually(err, "\"GET /plaintext?x=1 HTTP/1.1\" 200 OK\n"));
        CHECK(app.signal_and_wait(SIGTERM) == 0);
        const std::string text = read_text(err);
        CAPTURE(text);
        const std::vector<std::string> lines = {
            "INFO:     Started server process [" + pid + "]\n",
            "INFO:     Waiting for application startup.\n",
            "INFO:     Application startup complete.\n",
            "INFO:     fastapi.hpp serving on http://127.0.0.1:" + std::to_string(port) + " (1 thread; press CTRL+C to quit)\n",
            "INFO:     127.0.0.1:",
            "INFO:     Shutting down\n",
            "INFO:     Waiting for application shutdown.\n",
            "INFO:     Application shutdown complete.\n",
            "INFO:     Finished server process [" + pid + "]\n",
        };
        std::size_t at = 0;
        for (auto& line : lines) {  // each, in this order
            CAPTURE(line);
            const std::size_t found = text.find(line, at);
            CHECK(found != std::string::npos);
            if (found != std::string::npos) at = found + line.size();
        }
    }
    {
        Program app(hello, {"--prot", "8000"}, err);
        CHECK(app.wait() == 2);
        const std::string text = read_text(err);
        CHECK(text == "hello: error: unknown option '--prot' (did you mean '--port'?); see --help\n");
    }
    {
        Occupied taken;
        Program app(hello, {"--host", "127.0.0.1", "--port", std::to_string(taken.port)}, err);
        CHECK(app.wait() == 3);
        const std::string text = read_text(err);
        CAPTURE(text);
        CHECK(text.find("ERROR:    cannot listen on http://127.0.0.1:" + std::to_string(taken.port) +
                        ": Address already in use\n") != std::string::npos);
        CHECK(text.find("terminate") == std::string::npos);
        CHECK(std::count(text.begin(), text.end(), '\n') == 4);  // started, waiting, complete, the error
    }
    {
        Program app(hello, {"--log-level", "warning", "--port", "0", "--host", "127.0.0.1"}, err);
        std::this_thread::sleep_for(300ms);
        CHECK(app.signal_and_wait(SIGTERM) == 0);
        CHECK(read_text(err).empty());  // nothing at warning when all goes well
    }
}

TEST_CASE("cli: SIGUSR1 makes a running program reopen its access log file (logrotate)") {
    TempDir dir;
    const std::string err = (dir.path / "stderr").string();
    const std::string log = (dir.path / "access.log").string();
    const unsigned short port = test::free_port();
    Program app(test::example_path("hello"),
                {"--host", "127.0.0.1", "--port", std::to_string(port), "--access-log-file", log,
                 "--access-log-format", "%(m)s %(U)s %(s)s"},
                err);
    REQUIRE(test::wait_for_port(port));
    auto get = [&](const std::string& path) {
        test::RawClient c(port);
        c.send("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n");
        return test::status_of(c.read_response());
    };
    CHECK(get("/") == 200);
    REQUIRE(contains_eventually(log, "GET / 200\n"));
    std::filesystem::rename(log, log + ".1");  // what logrotate does
    CHECK(get("/json") == 200);
    CHECK(contains_eventually(log + ".1", "GET /json 200\n"));  // still the open file, until told
    app.signal(SIGUSR1);
    // The reopen is asynchronous: ask until a line lands in the new file (bounded).
    bool landed = false;
    for (int i = 0; i < 50 && !landed; ++i) {
        CHECK(get("/plaintext") == 200);
        landed = contains_eventually(log, "GET /plaintext 200\n", 100ms);
    }
    CHECK(landed);
    CHECK(read_text(log + ".1").find("GET /\n") == std::string::npos);
    CHECK(app.signal_and_wait(SIGTERM) == 0);
    CHECK(read_text(err).find("GET") == std::string::npos);  // the access lines went to the file only
}

}  // namespace cli_test
