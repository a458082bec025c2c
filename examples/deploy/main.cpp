// A service deployed as FastAPI services are: several worker processes under one supervisor,
// behind nginx or a platform's proxy, under systemd or a Procfile (README "Workers and
// deployment"; the units and the Procfile are next to this file).
//   g++ -std=c++20 -O2 -I. examples/deploy/main.cpp -pthread -o app
//   ./app --workers 4                   # or WEB_CONCURRENCY=4 PORT=8000 ./app
//   kill -HUP <parent pid>              # rolling restart: a new binary on disk goes live
// GET /whoami says which worker answered and what it saw of the proxy; POST /orders which
// worker took an order.
#include "fastapi.hpp"

#include <unistd.h>  // getpid

#include <chrono>
#include <cstdlib>
#include <stdexcept>

using namespace fastapi;

struct WhoAmI {
    std::string client;
    std::string scheme;
    std::string host;
    std::string root_path;
    long pid;
};

struct Slept {
    int ms;
    long pid;
};

struct Order {
    Field<int, Ge<1>, Le<100>> quantity;
};

struct Placed {
    int quantity;
    long pid;
};

// Test switches (tests/unit-workers.cpp), off unless their variable is set.
static bool test_switch(const char* name) {
    const char* v = std::getenv(name);
    return v && *v == '1';
}

// A job for `./app worker` (the Procfile's worker: line, app-worker.service): with REDIS_URL,
// web processes enqueue and workers on any machine run (README "Jobs").
struct PurgeOld {
    int older_than_days = 30;
};
static void purge_old(const PurgeOld&) {}

int main(int argc, char** argv) {
    auto jobs = Jobs::from_env("app:jobs");
    jobs->add<purge_old>("purge_old");
    if (auto status = jobs->main(argc, argv)) return *status;  // ./app worker

    App app;
    // Each worker runs the lifespan itself (as gunicorn without --preload): connect here to
    // what the workers share (a database, Redis), not to memory of this process.
    app.on_startup([] {
        if (test_switch("DEPLOY_TEST_FAIL_STARTUP")) throw std::runtime_error("the database is not reachable");
    });

    app.get("/whoami", [](const Request& request) {
        return WhoAmI{request.client_address, request.scheme, request.host, request.root_path, static_cast<long>(::getpid())};
    });

    // A slow request that does not hold its worker's loop (for load tests).
    app.get("/sleep", [](Query<"ms", int, Ge<0>, Le<10000>, Default<20>> ms) -> asio::awaitable<Slept> {
        asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::milliseconds(*ms));
        co_await timer.async_wait(asio::use_awaitable);
        co_return Slept{*ms, static_cast<long>(::getpid())};
    });

    // A POST: what a proxy does not retry on another worker when a connection fails under it,
    // so a rolling restart must not close one under a request (tests/unit-deploy-nginx.cpp).
    app.post("/orders", [](Order order) { return Placed{*order.quantity, static_cast<long>(::getpid())}; });

    // A handler that never returns, for the health-check test only: its worker stops answering
    // the supervisor's pings and is replaced.
    if (test_switch("DEPLOY_TEST_SPIN")) {
        app.get("/spin", [] {
            volatile bool forever = true;  // a volatile read each turn: a loop the compiler keeps
            while (forever) {
            }
            return WhoAmI{};
        });
    }

    app.run(argc, argv);
}
