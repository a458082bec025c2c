// bench/redis_client.cpp: fastapi::Redis's throughput against a running redis-server, for
// tools/bench's Redis row (compared there with redis-benchmark -P 16 -c 50 -t get,set -d 64).
// N coroutines (50) on one event loop share one client (one connection, automatic pipelining);
// each does SET then GET of a 64-byte value on its own key, for SECS seconds.
//   redis_client URL [SECS] [COROUTINES] [DEPTH]      prints {"ops": n, "seconds": s, "ops_per_s": r}
//   g++ -std=c++20 -O2 -I. bench/redis_client.cpp -pthread
#include "fastapi.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {
std::uint64_t ops = 0;
bool stop = false;

// depth > 1: each round is one pipeline (RedisBatch) of `depth` commands, SET and GET in turn,
// as redis-benchmark's -P does.
asio::awaitable<void> worker(fastapi::Redis r, int id, int depth) {
    const std::string key = "bench:key:" + std::to_string(id);
    const std::string value(64, 'v');
    if (depth > 1) {
        fastapi::RedisBatch b;
        for (int i = 0; i < depth; ++i) {
            if (i % 2 == 0) b.add("SET", key, value);
            else b.add("GET", key);
        }
        while (!stop) {
            auto replies = co_await r.pipeline(b);
            if (replies.size() != static_cast<std::size_t>(depth) || (depth > 1 && replies[1].str.size() != 64)) {
                std::fprintf(stderr, "redis_client: a wrong reply\n");
                std::exit(1);
            }
            ops += static_cast<std::uint64_t>(depth);
        }
        co_return;
    }
    while (!stop) {
        co_await r.set(key, value);
        auto v = co_await r.get(key);
        if (!v || v->size() != 64) {
            std::fprintf(stderr, "redis_client: a wrong reply\n");
            std::exit(1);
        }
        ops += 2;
    }
}
}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: redis_client URL [SECS] [COROUTINES] [DEPTH]\n");
        return 2;
    }
    const double secs = argc > 2 ? std::atof(argv[2]) : 5.0;
    const int n = argc > 3 ? std::atoi(argv[3]) : 50;
    const int depth = argc > 4 ? std::atoi(argv[4]) : 1;
    asio::io_context io{1};
    fastapi::Redis r(argv[1]);
    // Connected first (one command), then timed.
    bool warm = false;
    asio::co_spawn(io, [](fastapi::Redis r, bool& warm) -> asio::awaitable<void> {
        co_await r.set("bench:warm", "1");
        warm = true;
    }(r, warm), asio::detached);
    for (int i = 0; i < 1000 && !warm; ++i) io.run_for(std::chrono::milliseconds(10));
    if (!warm) {
        std::fprintf(stderr, "redis_client: no answer from %s\n", argv[1]);
        return 1;
    }
    for (int i = 0; i < n; ++i) asio::co_spawn(io, worker(r, i, depth), asio::detached);
    asio::steady_timer t(io, std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(secs)));
    const auto start = std::chrono::steady_clock::now();
    double took = 0;
    std::uint64_t done = 0;
    t.async_wait([&](std::error_code) {
        took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        done = ops;
        stop = true;
        io.stop();
    });
    io.restart();
    io.run();
    std::printf("{\"ops\": %llu, \"seconds\": %.3f, \"ops_per_s\": %.0f}\n", static_cast<unsigned long long>(done), took,
                static_cast<double>(done) / took);
    std::fflush(stdout);
    std::_Exit(0);  // (the coroutines still suspended are not unwound)
}
