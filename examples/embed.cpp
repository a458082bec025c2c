// A program with its own event loop and timers that adds an HTTP API without giving the
// loop up: the server runs on the program's io_context, next to its other work.
#include "fastapi.hpp"

#include <csignal>
#include <functional>

struct Status {
    long ticks;
    std::string state;
};

int main() {
    asio::io_context io;  // the program's own loop

    // The program's own work: a timer that ticks every 100 ms.
    long ticks = 0;
    asio::steady_timer timer(io);
    std::function<void()> schedule = [&] {
        timer.expires_after(std::chrono::milliseconds(100));
        timer.async_wait([&](const asio::error_code& ec) {
            if (ec) return;
            ++ticks;
            schedule();
        });
    };
    schedule();

    // The API reads the program's state directly: handlers run on the same loop, so no locks.
    fastapi::App app;
    app.get("/status", [&] { return Status{ticks, "running"}; });

    fastapi::Server server(io, app);  // HOST and PORT from the environment, as app.run() does
    server.start();
    std::fprintf(stderr, "embed: serving on port %u next to the program's own timer\n", server.port());

    // The program decides when to stop: on SIGINT/SIGTERM it stops its timer and the server
    // (gracefully), and io.run() returns once both are done.
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const asio::error_code&, int) {
        timer.cancel();
        server.stop();
    });
    io.run();
    std::fprintf(stderr, "embed: stopped after %ld ticks\n", ticks);
}
