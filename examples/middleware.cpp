// Middleware: CORS for a browser front-end, a trusted-hosts check, a custom middleware that
// adds a header to every response, and (built with -DFASTAPI_WITH_ZLIB ... -lz) gzip.
#include "fastapi.hpp"

#include <atomic>
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

    app.run();
}
