// tools/bench's coroutine-middleware row: examples/hello.cpp's /plaintext behind one
// coroutine middleware (request, call_next) that awaits nothing but call_next, to compare
// with the same route without it (issue 10: at most 10 % below).
#include "fastapi.hpp"

int main() {
    fastapi::App app;
    app.get("/plaintext", [] { return fastapi::PlainTextResponse("Hello, World!"); });
    app.middleware([](fastapi::Request& req, fastapi::CallNext call_next) -> asio::awaitable<fastapi::Response> {
        co_return co_await call_next(req);
    });
    app.run();
}
