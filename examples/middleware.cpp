// Middleware: CORS for a browser front-end, a trusted-hosts check, a custom middleware that
// adds a header to every response, FastAPI's tutorial middleware as a coroutine with
// call_next (X-Process-Time), and (built with -DFASTAPI_WITH_ZLIB ... -lz) gzip.
#include "fastapi.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>

using namespace fastapi;

struct Message {
    std::string message;
};

int main() {
    App app;
    std::atomic<long> served{0};

    app.get("/", [] { return Message{"Hello World"}; });
    app.get("/large", [] { return PlainTextResponse(std::string(2000, 'a')); });

    // Innermost first: the last added runs first on the way in and last on the way out.
    app.add_middleware({.after = [&served](const Request&, Response& res) {
        res.headers.set("x-served", std::to_string(++served));
    }});
#ifdef FASTAPI_WITH_ZLIB
    app.add_middleware(GZipMiddleware({.minimum_size = 1000}));
#endif
    app.add_middleware(TrustedHostMiddleware({.allowed_hosts = {"localhost", "127.0.0.1", "*.example.com"}}));
    app.add_middleware(CORSMiddleware({
        .allow_origins = {"http://localhost:8080", "https://app.example.com"},
        .allow_methods = {"*"},
        .allow_headers = {"*"},
        .allow_credentials = true,
    }));

    // FastAPI's @app.middleware("http") add_process_time_header, outermost: it times every
    // response, 404s and the other middleware's answers (a CORS preflight, a refused host)
    // included. It awaits a 1 ms timer first, as a middleware awaits a cache or a rate limiter.
    app.middleware([](Request& request, CallNext call_next) -> asio::awaitable<Response> {
        const auto start = std::chrono::steady_clock::now();
        asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::milliseconds(1));
        co_await timer.async_wait(asio::use_awaitable);
        Response response = co_await call_next(request);
        const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
        char seconds[32];
        std::snprintf(seconds, sizeof seconds, "%.6f", elapsed.count());
        response.headers.set("x-process-time", seconds);
        co_return response;
    });

    app.run();
}
