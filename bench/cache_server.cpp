// bench/cache_server.cpp: the cached routes of tools/bench's cache rows, on $HOST:$PORT.
// With REDIS_URL the cache is a RedisCache, otherwise a MemoryCache.
//   GET /json         {"message":"Hello, World!"} cached (the ceiling's /json, a HIT after the first)
//   GET /work         a handler that does the work: 40 items of a report, each from 500 rounds of
//                     a hash (about 0.1 ms of CPU), not cached
//   GET /work-cached  the same handler, cached
//   g++ -std=c++20 -O2 -I. bench/cache_server.cpp -pthread
#include "fastapi.hpp"

#include <chrono>
#include <cstdint>
#include <cstdlib>

using namespace std::chrono_literals;

struct Message {
    std::string message;
};
struct Line {
    std::int64_t id = 0;
    std::string name;
    std::uint64_t score = 0;
};
struct Report {
    std::vector<Line> lines;
};

static Report work() {
    Report r;
    for (std::int64_t i = 0; i < 40; ++i) {
        std::uint64_t h = 1469598103934665603ull ^ static_cast<std::uint64_t>(i);
        for (int k = 0; k < 500; ++k) h = (h ^ static_cast<std::uint64_t>(k)) * 1099511628211ull;
        r.lines.push_back({i, "item-" + std::to_string(i), h % 100000});
    }
    return r;
}

int main(int argc, char** argv) {
    fastapi::App app;
    if (std::getenv("REDIS_URL")) app.set_cache(fastapi::RedisCache{});
    else app.set_cache(fastapi::MemoryCache{});
    app.get("/", [] { return Message{"Hello World"}; });
    app.get("/json", [] { return Message{"Hello, World!"}; }, {.cache = {.expire = 3600s, .namespace_ = "bench"}});
    app.get("/work", [] { return work(); });
    app.get("/work-cached", [] { return work(); }, {.cache = {.expire = 3600s, .namespace_ = "bench"}});
    app.run(argc, argv);
}
