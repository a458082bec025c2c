// TEMP (the workers branch): a minimal command line for App::run(argc, argv) until the
// serve-cli branch's lands, which replaces this file. Only --workers, --port, --host, --fd,
// --uds, --limit-max-requests, --timeout-worker-healthcheck, --timeout-graceful-shutdown, and
// $WEB_CONCURRENCY ($PORT is read by the server).
#pragma once
#include "../server/server.hpp"

#include <cstdio>   // fprintf
#include <cstdlib>  // exit, getenv, strtol
#include <string>   // string

namespace fastapi::detail {

inline ServerOptions temp_parse_run_args(int argc, char** argv, ServerOptions o) {
    auto number = [](const char* name, const char* text) -> long {
        char* end = nullptr;
        long v = text ? std::strtol(text, &end, 10) : -1;
        if (!text || !*text || *end || v < 0) {
            std::fprintf(stderr, "Error: %s needs a number, not '%s'\n", name, text ? text : "");
            std::exit(2);
        }
        return v;
    };
    if (const char* env = std::getenv("WEB_CONCURRENCY"); env && *env)
        o.workers = static_cast<unsigned>(number("WEB_CONCURRENCY", env));
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        std::string value;
        bool has_value = false;
        if (auto eq = arg.find('='); eq != std::string::npos) {
            value = arg.substr(eq + 1);
            arg.resize(eq);
            has_value = true;
        } else if (i + 1 < argc) {
            value = argv[i + 1];
        }
        auto take = [&]() -> const char* {
            if (!has_value) {
                if (i + 1 >= argc) {
                    std::fprintf(stderr, "Error: %s needs a value\n", arg.c_str());
                    std::exit(2);
                }
                ++i;
            }
            return value.c_str();
        };
        if (arg == "--workers") o.workers = static_cast<unsigned>(number("--workers", take()));
        else if (arg == "--port") o.port = static_cast<int>(number("--port", take()));
        else if (arg == "--host") o.host = take();
        else if (arg == "--fd") o.fd = static_cast<int>(number("--fd", take()));
        else if (arg == "--uds") o.uds = take();
        else if (arg == "--threads") o.threads = static_cast<unsigned>(number("--threads", take()));
        else if (arg == "--limit-max-requests") o.limit_max_requests = static_cast<std::size_t>(number(arg.c_str(), take()));
        else if (arg == "--limit-max-requests-jitter")
            o.limit_max_requests_jitter = static_cast<std::size_t>(number(arg.c_str(), take()));
        else if (arg == "--timeout-worker-healthcheck")
            o.worker_healthcheck_timeout = std::chrono::milliseconds(number(arg.c_str(), take()) * 1000);
        else if (arg == "--timeout-graceful-shutdown")
            o.graceful_shutdown_timeout = std::chrono::milliseconds(number(arg.c_str(), take()) * 1000);
        else {
            std::fprintf(stderr, "Error: no such option: %s\n", arg.c_str());
            std::exit(2);
        }
    }
    return o;
}

}  // namespace fastapi::detail
