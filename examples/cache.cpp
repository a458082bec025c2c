// Shared state and response caching for every worker and instance (README "Caching").
// With REDIS_URL set (redis://host:6379/0, unix:///run/redis.sock?db=0) both live in Redis:
// GET /counter counts with INCR, and GET /compute/{n}'s cached answers are shared (a HIT in
// any process, the same ETag). Without it, both stay in this process's memory.
//   g++ -std=c++20 -O2 -I. examples/cache.cpp -pthread
//   REDIS_URL=redis://127.0.0.1:6379/0 ./a.out
#include "fastapi.hpp"

#include <atomic>   // atomic (the in-process counters)
#include <chrono>   // seconds
#include <cstdlib>  // getenv

using namespace std::chrono_literals;

struct Counter {
    std::int64_t count = 0;
    std::string store;  // "redis" or "memory"
};

struct Computed {
    std::int64_t n = 0;
    std::int64_t square = 0;
    std::int64_t computed = 0;  // how many times this process computed an answer
};

int main() {
    fastapi::App app;
    const bool with_redis = std::getenv("REDIS_URL") != nullptr;
    // The cache's backend, chosen once for the app.
    fastapi::Cache cache = with_redis ? app.set_cache(fastapi::RedisCache{}) : app.set_cache(fastapi::MemoryCache{});

    static std::atomic<std::int64_t> in_process{0}, computations{0};
    // One Redis connection per event loop, made from REDIS_URL on first use.
    app.get("/counter", [with_redis](fastapi::LoopState<fastapi::Redis> redis) -> asio::awaitable<Counter> {
        Counter c;
        if (with_redis) {
            c.count = co_await redis->incr("counter");
            c.store = "redis";
        } else {
            c.count = ++in_process;
            c.store = "memory";
        }
        co_return c;
    });

    // Cached 60 s in namespace "compute": X-FastAPI-Cache says HIT or MISS.
    app.get("/compute/{n}", [](fastapi::Path<"n", std::int64_t> n) {
        Computed c;
        c.n = *n;
        c.square = *n * *n;
        c.computed = ++computations;
        return c;
    }, {.cache = {.expire = 60s, .namespace_ = "compute"}});

    // Clears the namespace for every process sharing the cache.
    app.delete_("/cache/compute", [cache]() mutable -> asio::awaitable<fastapi::Response> {
        co_await cache.clear("compute");
        co_return fastapi::Response("", 204, "");
    });
    app.run();
}
