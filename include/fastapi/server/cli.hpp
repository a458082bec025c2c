// cli: the command line and the environment every program gets from app.run(argc, argv),
// uvicorn's options (--host, --port, --workers, --log-level, ...) read as uvicorn and gunicorn
// read them: the command line wins over the environment (HOST, PORT, WEB_CONCURRENCY,
// FORWARDED_ALLOW_IPS, and FASTAPI_<OPTION> for every option), which wins over the program's
// own ServerOptions. One table below says, for each option, its name, its variables, its help
// and how it sets ServerOptions; parsing, --help and the environment all read it.
// Relies on ServerOptions (server.hpp), the log (log.hpp) and .env files (dotenv.hpp).
#pragma once
#include "../core/dotenv.hpp"
#include "log.hpp"
#include "server.hpp"

#include <cstdio>       // fputs, fprintf
#include <cstdlib>      // getenv, exit
#include <string>       // string, stoull
#include <string_view>  // string_view

namespace fastapi {
namespace detail {

// How the program ends when run(argc, argv) cannot serve: 2 for a bad command line or
// environment (as argparse and click), 3 when it could not start (the address is in use, a
// lifespan startup hook threw), as gunicorn's "App failed to load" status.
inline constexpr int exit_usage = 2;
inline constexpr int exit_cannot_start = 3;

// One option of the table. `set` reads the value into the options and returns why it is not
// valid (empty when it is); `shown` is the default --help prints, from the program's options.
struct CliOption {
    enum Kind : unsigned char { value, flag, help, version };
    std::string_view name;     // "port": --port
    std::string_view alias;    // the variable uvicorn or gunicorn reads too ("PORT"), or empty
    std::string_view metavar;  // "INTEGER"; empty for a flag
    std::string_view help_text;
    Kind kind = value;
    std::string (*set)(ServerOptions&, std::string_view) = nullptr;
    std::string (*shown)(const ServerOptions&) = nullptr;
};

// ---- Values ----

FASTAPI_DECL bool parse_uint(std::string_view text, std::uint64_t max, std::uint64_t& out) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool parse_uint(std::string_view text, std::uint64_t max, std::uint64_t& out) noexcept {
    if (text.empty() || text.size() > 19) return false;
    std::uint64_t v = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (v > max) return false;
    out = v;
    return true;
}
#endif
// Seconds, whole or decimal ("5", "0.5"), to milliseconds.
FASTAPI_DECL bool parse_seconds(std::string_view text, std::chrono::milliseconds& out) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool parse_seconds(std::string_view text, std::chrono::milliseconds& out) noexcept {
    const std::size_t dot = text.find('.');
    std::uint64_t whole = 0, frac = 0;
    std::string_view w = text.substr(0, dot), f = dot == std::string_view::npos ? std::string_view() : text.substr(dot + 1);
    if (w.empty() && f.empty()) return false;
    if (!w.empty() && !parse_uint(w, 1'000'000'000, whole)) return false;
    if (dot != std::string_view::npos) {
        if (f.empty()) return false;
        std::string ms(f.substr(0, 3));
        ms.resize(3, '0');
        if (!parse_uint(ms, 999, frac)) return false;
        for (char c : f)
            if (c < '0' || c > '9') return false;
    }
    out = std::chrono::milliseconds(whole * 1000 + frac);
    return true;
}
#endif
// true/false as click and pydantic-settings read them: 1/0, true/false, yes/no, on/off.
FASTAPI_DECL bool parse_bool(std::string_view text, bool& out) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool parse_bool(std::string_view text, bool& out) noexcept {
    for (std::string_view t : {"1", "true", "yes", "on"})
        if (iequals(text, t)) return out = true, true;
    for (std::string_view t : {"0", "false", "no", "off"})
        if (iequals(text, t)) return out = false, true;
    return false;
}
#endif
FASTAPI_DECL std::string seconds_text(std::chrono::milliseconds ms);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string seconds_text(std::chrono::milliseconds ms) {
    std::string s = std::to_string(ms.count() / 1000);
    if (const auto rest = ms.count() % 1000; rest != 0) {
        char frac[8];
        std::snprintf(frac, sizeof(frac), ".%03lld", static_cast<long long>(rest));
        s += frac;
        while (s.back() == '0') s.pop_back();
    }
    return s;
}
#endif

template <class T>
std::string set_count(T& field, std::string_view text, std::uint64_t min, std::uint64_t max) {
    std::uint64_t v = 0;
    if (!parse_uint(text, max, v) || v < min)
        return "is not a whole number from " + std::to_string(min) + " to " + std::to_string(max);
    field = static_cast<T>(v);
    return {};
}
FASTAPI_DECL std::string set_seconds(std::chrono::milliseconds& field, std::string_view text);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string set_seconds(std::chrono::milliseconds& field, std::string_view text) {
    if (!parse_seconds(text, field)) return "is not a number of seconds (5, 0.5)";
    return {};
}
#endif
FASTAPI_DECL std::string set_flag(bool& field, std::string_view text);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string set_flag(bool& field, std::string_view text) {
    if (!parse_bool(text, field)) return "is not true or false (1/0, true/false, yes/no, on/off)";
    return {};
}
#endif

// The table: every option uvicorn's command line has that this server can honour, plus
// --access-log-file (gunicorn's --access-logfile) and --threads (event loops per process).
FASTAPI_DECL const std::vector<CliOption>& cli_options();
#if FASTAPI_DEFINITIONS
FASTAPI_DECL const std::vector<CliOption>& cli_options() {
    using O = ServerOptions;
    static const std::vector<CliOption> table = {
        {"host", "HOST", "TEXT", "Bind the socket to this address (\"::\" for every IPv4 and IPv6 one).", CliOption::value,
         [](O& o, std::string_view v) -> std::string {
             if (v.empty()) return "is empty";
             o.host = std::string(v);
             return {};
         },
         [](const O& o) { return o.host.empty() ? std::string(FASTAPI_DEFAULT_HOST) : o.host; }},
        {"port", "PORT", "INTEGER", "Bind the socket to this port (0: any free port).", CliOption::value,
         [](O& o, std::string_view v) { return set_count(o.port, v, 0, 65535); },
         [](const O& o) { return std::to_string(o.port < 0 ? FASTAPI_DEFAULT_PORT : o.port); }},
        {"uds", "", "PATH", "Listen on this Unix domain socket instead of TCP.", CliOption::value,
         [](O& o, std::string_view v) -> std::string {
             if (v.empty()) return "is empty";
             o.uds = std::string(v);
             return {};
         },
         [](const O& o) { return o.uds.empty() ? std::string("none") : o.uds; }},
        {"fd", "", "INTEGER", "Serve on this inherited listening socket (socket activation).", CliOption::value,
         [](O& o, std::string_view v) { return set_count(o.fd, v, 0, 1 << 20); },
         [](const O& o) { return o.fd < 0 ? std::string("none") : std::to_string(o.fd); }},
        {"workers", "WEB_CONCURRENCY", "INTEGER", "Worker processes; more than 1 makes this process their supervisor.",
         CliOption::value, [](O& o, std::string_view v) { return set_count(o.workers, v, 1, 4096); },
         [](const O& o) { return std::to_string(o.workers == 0 ? 1 : o.workers); }},
        {"threads", "", "INTEGER", "Event-loop threads per process (0: one per CPU this process may use).", CliOption::value,
         [](O& o, std::string_view v) { return set_count(o.threads, v, 0, 1024); },
         [](const O& o) { return o.threads == 0 ? std::string("the CPUs") : std::to_string(o.threads); }},
        {"log-level", "", "LEVEL", "Log level: critical, error, warning, info, debug, trace.", CliOption::value,
         [](O& o, std::string_view v) -> std::string {
             LogLevel l{};
             if (!parse_log_level(v, l)) return "is not one of critical, error, warning, info, debug, trace";
             o.log_level = std::string(v);
             for (auto& c : o.log_level) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
             return {};
         },
         [](const O& o) { return o.log_level; }},
        {"access-log", "", "", "Log one line per request (--no-access-log: none).", CliOption::flag,
         [](O& o, std::string_view v) { return set_flag(o.access_log, v); },
         [](const O& o) { return std::string(o.access_log ? "on" : "off"); }},
        {"access-log-format", "", "TEXT", "gunicorn's atoms, e.g. '%(h)s \"%(r)s\" %(s)s %(b)s %(D)s'.", CliOption::value,
         [](O& o, std::string_view v) -> std::string {
             try {
                 AccessLog check(v);
             } catch (const std::invalid_argument& e) {
                 return std::string("is not an access-log format: ") + e.what();
             }
             o.access_log_format = std::string(v);
             return {};
         },
         [](const O& o) { return o.access_log_format.empty() ? std::string("uvicorn's line") : o.access_log_format; }},
        {"access-log-file", "", "PATH", "Write the access log to this file (reopened on SIGUSR1).", CliOption::value,
         [](O& o, std::string_view v) -> std::string {
             o.access_log_file = std::string(v);
             return {};
         },
         [](const O& o) { return o.access_log_file.empty() ? std::string("stderr") : o.access_log_file; }},
        {"proxy-headers", "", "", "Read X-Forwarded-* and Forwarded from --forwarded-allow-ips (--no-proxy-headers: never).",
         CliOption::flag, [](O& o, std::string_view v) { return set_flag(o.proxy_headers, v); },
         [](const O& o) { return std::string(o.proxy_headers ? "on" : "off"); }},
        {"forwarded-allow-ips", "FORWARDED_ALLOW_IPS", "TEXT", "Proxies trusted with proxy headers: addresses, CIDR ranges, '*'.",
         CliOption::value,
         [](O& o, std::string_view v) -> std::string {
             try {
                 (void)proxy_trust_from(v);  // a bad entry is bad usage (2), not a failed start
             } catch (const std::invalid_argument& e) {
                 return std::string("is not a list of addresses, CIDR ranges or '*': ") + e.what();
             }
             o.forwarded_allow_ips = std::string(v);
             return {};
         },
         [](const O& o) { return o.forwarded_allow_ips.empty() ? std::string("127.0.0.1,::1") : o.forwarded_allow_ips; }},
        {"root-path", "", "TEXT", "The prefix a proxy serves the app under (\"/api\").", CliOption::value,
         [](O& o, std::string_view v) -> std::string {
             if (!v.empty() && v.front() != '/') return "does not start with '/'";
             o.root_path = std::string(v);
             return {};
         },
         [](const O& o) { return o.root_path.empty() ? std::string("none") : o.root_path; }},
        {"limit-concurrency", "", "INTEGER", "Open connections at most; beyond, 503 and close.", CliOption::value,
         [](O& o, std::string_view v) { return set_count(o.limits.max_connections, v, 1, 100'000'000); },
         [](const O& o) { return std::to_string(o.limits.max_connections); }},
        {"limit-max-requests", "", "INTEGER", "Replace a worker once it served this many requests (0: never).",
         CliOption::value, [](O& o, std::string_view v) { return set_count(o.limit_max_requests, v, 0, 1'000'000'000'000); },
         [](const O& o) { return o.limit_max_requests == 0 ? std::string("never") : std::to_string(o.limit_max_requests); }},
        {"limit-max-requests-jitter", "", "INTEGER", "Plus a random 0 to this many, per worker.", CliOption::value,
         [](O& o, std::string_view v) { return set_count(o.limit_max_requests_jitter, v, 0, 1'000'000'000'000); },
         [](const O& o) { return std::to_string(o.limit_max_requests_jitter); }},
        {"timeout-keep-alive", "", "SECONDS", "Close a keep-alive connection idle this long.", CliOption::value,
         [](O& o, std::string_view v) { return set_seconds(o.keep_alive_timeout, v); },
         [](const O& o) { return seconds_text(o.keep_alive_timeout); }},
        {"timeout-graceful-shutdown", "", "SECONDS", "On SIGTERM, wait this long for requests in flight.", CliOption::value,
         [](O& o, std::string_view v) { return set_seconds(o.graceful_shutdown_timeout, v); },
         [](const O& o) { return seconds_text(o.graceful_shutdown_timeout); }},
        {"timeout-worker-healthcheck", "", "SECONDS", "Replace a worker whose event loop is silent this long.",
         CliOption::value, [](O& o, std::string_view v) { return set_seconds(o.worker_healthcheck_timeout, v); },
         [](const O& o) { return seconds_text(o.worker_healthcheck_timeout); }},
        {"env-file", "", "PATH", "Load this .env file into the environment first (variables already set win).",
         CliOption::value, nullptr, [](const O&) { return std::string("none"); }},
        {"help", "", "", "Show this message and exit.", CliOption::help, nullptr, nullptr},
        {"version", "", "", "Show the program's and fastapi.hpp's versions and exit.", CliOption::version, nullptr, nullptr},
    };
    return table;
}
#endif

// FASTAPI_<NAME>: "timeout-keep-alive" -> FASTAPI_TIMEOUT_KEEP_ALIVE.
FASTAPI_DECL std::string cli_env_name(std::string_view name);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string cli_env_name(std::string_view name) {
    std::string env = "FASTAPI_";
    for (char c : name) env += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return env;
}
#endif

// Levenshtein distance, for "did you mean".
FASTAPI_DECL std::size_t edit_distance(std::string_view a, std::string_view b);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diag = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diag = up;
        }
    }
    return row[b.size()];
}
#endif

FASTAPI_DECL std::string program_name(int argc, const char* const* argv);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string program_name(int argc, const char* const* argv) {
    if (argc < 1 || !argv || !argv[0] || !*argv[0]) return "app";
    std::string_view p = argv[0];
    const std::size_t slash = p.rfind('/');
    return std::string(slash == std::string_view::npos ? p : p.substr(slash + 1));
}
#endif

FASTAPI_DECL std::string cli_help(std::string_view program, const ServerOptions& defaults);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string cli_help(std::string_view program, const ServerOptions& defaults) {
    std::string out = "Usage: " + std::string(program) + " [OPTIONS]\n\n";
    out +=
        "Serves the app. Every option can also be set from the environment, in the variables named\n"
        "after it; the command line wins over the environment, which wins over the program's own\n"
        "ServerOptions (the defaults shown). Exit status: 0 after a graceful stop, 2 for a bad\n"
        "option or value, 3 when it could not start (address in use, a startup hook failed).\n\n"
        "Options:\n";
    for (const CliOption& o : cli_options()) {
        std::string left = "  --" + std::string(o.name);
        if (o.kind == CliOption::flag) left += " / --no-" + std::string(o.name);
        else if (!o.metavar.empty()) left += " " + std::string(o.metavar);
        out += left;
        out += left.size() < 34 ? std::string(34 - left.size(), ' ') : "\n" + std::string(34, ' ');
        out += o.help_text;
        if (o.kind == CliOption::value || o.kind == CliOption::flag) {
            out += "\n" + std::string(34, ' ') + "[env: " + cli_env_name(o.name);
            if (!o.alias.empty()) out += ", " + std::string(o.alias);
            out += "; default: " + o.shown(defaults) + "]";
        }
        out += '\n';
    }
    return out;
}
#endif

// What the command line asks: serve with `options`, or end now with `exit_status` (0 after
// --help or --version, whose text is in `output`; 2 with the error line in `output`).
struct CommandLine {
    ServerOptions options;
    int exit_status = -1;  // -1: serve
    std::string output;    // --help/--version text (stdout), or the error line (stderr)
};

// Reads argv and the environment over `base`. An --env-file (or $FASTAPI_ENV_FILE) is loaded
// into the environment first. Positional words are not taken: a program with words of its
// own (`./app worker`) reads them before and passes the rest (README "Command line").
FASTAPI_DECL CommandLine parse_command_line(int argc, const char* const* argv, ServerOptions base,
                                      std::string_view program_version = {});
#if FASTAPI_DEFINITIONS
FASTAPI_DECL CommandLine parse_command_line(int argc, const char* const* argv, ServerOptions base,
                                      std::string_view program_version) {
    CommandLine r;
    const std::string program = program_name(argc, argv);
    auto fail = [&](const std::string& why) {
        r.exit_status = exit_usage;
        r.output = program + ": error: " + why + "\n";
        return r;
    };
    const auto& table = cli_options();
    auto find = [&](std::string_view name) -> const CliOption* {
        for (auto& o : table)
            if (o.name == name) return &o;
        return nullptr;
    };
    // 1. The words, checked and kept in order; --help and --version answer at once.
    struct Given {
        const CliOption* option;
        std::string value;
        std::string spelled;
    };
    std::vector<Given> given;
    for (int i = 1; i < argc; ++i) {
        const std::string_view word = argv[i] ? argv[i] : "";
        if (word.size() < 3 || word.substr(0, 2) != "--") {
            if (word == "-h") return r.exit_status = 0, r.output = cli_help(program, base), r;
            return fail("unexpected argument '" + std::string(word) +
                        "' (options start with --; see --help)");
        }
        std::string_view name = word.substr(2), value;
        const std::size_t eq = name.find('=');
        const bool has_value = eq != std::string_view::npos;
        if (has_value) {
            value = name.substr(eq + 1);
            name = name.substr(0, eq);
        }
        bool negated = false;
        const CliOption* o = find(name);
        if (!o && name.substr(0, 3) == "no-") {
            o = find(name.substr(3));
            if (o && o->kind != CliOption::flag) o = nullptr;
            negated = o != nullptr;
        }
        if (!o) {
            std::string why = "unknown option '--" + std::string(name) + "'";
            const CliOption* best = nullptr;
            std::size_t best_d = 3;
            for (auto& c : table)
                if (std::size_t d = edit_distance(name, c.name); d < best_d) best_d = d, best = &c;
            if (best) why += " (did you mean '--" + std::string(best->name) + "'?)";
            return fail(why + "; see --help");
        }
        const std::string spelled = "--" + std::string(name);
        switch (o->kind) {
            case CliOption::help: return r.exit_status = 0, r.output = cli_help(program, base), r;
            case CliOption::version:
                r.exit_status = 0;
                r.output = program + (program_version.empty() ? "" : " " + std::string(program_version)) +
                           " (fastapi.hpp " FASTAPI_VERSION ")\n";
                return r;
            case CliOption::flag:
                if (has_value) return fail(spelled + " takes no value (use --" + std::string(o->name) + " or --no-" +
                                           std::string(o->name) + ")");
                given.push_back({o, negated ? "false" : "true", spelled});
                break;
            case CliOption::value:
                if (!has_value) {
                    if (i + 1 >= argc || !argv[i + 1]) return fail(spelled + " needs a value (" + std::string(o->metavar) + ")");
                    value = argv[++i];
                }
                given.push_back({o, std::string(value), spelled});
                break;
        }
    }
    // 2. The .env file, into the environment (what is set already wins).
    std::string env_file;
    if (const char* e = std::getenv("FASTAPI_ENV_FILE"); e && *e) env_file = e;
    for (auto& g : given)
        if (g.option->name == "env-file") env_file = g.value;
    if (!env_file.empty()) {
        try {
            load_env_file(env_file);
        } catch (const std::exception& e) {
            return fail(std::string("--env-file: ") + e.what());
        }
    }
    // 3. The environment over the program's options, then the command line over both.
    r.options = std::move(base);
    for (const CliOption& o : table) {
        if (!o.set) continue;
        const std::string ours = cli_env_name(o.name);
        const char* value = std::getenv(ours.c_str());
        std::string var = ours;
        if ((!value || !*value) && !o.alias.empty()) {
            var = std::string(o.alias);
            value = std::getenv(var.c_str());
        }
        if (!value || !*value) continue;
        if (std::string why = o.set(r.options, value); !why.empty())
            return fail("environment variable " + var + "='" + value + "' " + why);
    }
    for (auto& g : given) {
        if (!g.option->set) continue;
        if (std::string why = g.option->set(r.options, g.value); !why.empty())
            return fail(g.spelled + " '" + g.value + "' " + why);
    }
    return r;
}
#endif

// app.run(argc, argv): the command line read, then the app served as run(options) serves it.
// Returns -1 once it served and stopped; else the status the process ends with: 0 after
// --help and --version (printed on stdout), 2 or 3 with one line on stderr.
FASTAPI_DECL int run_command_line(int argc, const char* const* argv, const ServerOptions& base, std::string_view program_version,
                            void (*serve)(void*, const ServerOptions&), void* app);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL int run_command_line(int argc, const char* const* argv, const ServerOptions& base, std::string_view program_version,
                            void (*serve)(void*, const ServerOptions&), void* app) {
    CommandLine cl = parse_command_line(argc, argv, base, program_version);
    if (cl.exit_status == 0) {
        std::fputs(cl.output.c_str(), stdout);
        std::fflush(stdout);
        return 0;
    }
    if (cl.exit_status > 0) {
        log::flush();
        std::fputs(cl.output.c_str(), stderr);
        return cl.exit_status;
    }
    startup_failure_logged().store(false);
    try {
        serve(app, cl.options);
    } catch (const std::exception& e) {
        // The server logged the cause already (with log_startup); else it is said here.
        if (!startup_failure_logged().load()) log::error("could not start: {}", e.what());
        log::flush();
        return exit_cannot_start;
    } catch (...) {
        if (!startup_failure_logged().load()) log::error("could not start: an exception that is not a std::exception");
        log::flush();
        return exit_cannot_start;
    }
    return -1;
}
#endif

}  // namespace detail
}  // namespace fastapi
