// Shared state for every worker and instance: GET /counter counts in Redis (INCR) when
// REDIS_URL is set (redis://host:6379/0, unix:///run/redis.sock?db=0), else in this process.
// The response-caching routes of this example (GET /compute/{n}, DELETE /cache/compute) come
// with the caching work.
//   g++ -std=c++20 -O2 -I. examples/cache.cpp -pthread
//   REDIS_URL=redis://127.0.0.1:6379/0 ./a.out
#include "fastapi.hpp"

#include <atomic>   // atomic (the in-process counter)
#include <cstdlib>  // getenv

struct Counter {
    std::int64_t count = 0;
    std::string store;  // "redis" or "memory"
};

int main() {
    fastapi::App app;
    const bool with_redis = std::getenv("REDIS_URL") != nullptr;
    static std::atomic<std::int64_t> in_process{0};
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
    app.run();
}
