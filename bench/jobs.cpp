// Jobs through one worker on a real redis-server (REDIS_URL, e.g. unix:///tmp/r.sock): no-op
// jobs per second, Redis commands per job (INFO commandstats), enqueue-to-start latency of an
// idle worker (p50, p99); the same no-op as a coroutine job (on the worker's loop). The last
// line is the figures as JSON, for tools/bench (--only jobs).
//   g++ -std=c++20 -O2 -I. bench/jobs.cpp -pthread -o /tmp/bench-jobs && REDIS_URL=... /tmp/bench-jobs
#include "fastapi.hpp"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstdio>

using namespace fastapi;
using namespace std::chrono_literals;

struct Empty {
    int n = 0;
};
static std::atomic<std::int64_t> started_ns{0};
static void noop(const Empty&) {}
static asio::awaitable<void> co_noop(const Empty&) { co_return; }
static void stamp(const Empty&) {
    started_ns = std::chrono::steady_clock::now().time_since_epoch().count();
}

static std::map<std::string, long> commandstats(Redis& r) {
    std::map<std::string, long> out;
    auto text = r.blocking().command<std::string>("INFO", "commandstats");
    std::size_t pos = 0;
    while ((pos = text.find("cmdstat_", pos)) != std::string::npos) {
        auto colon = text.find(':', pos);
        auto calls = text.find("calls=", colon);
        out[text.substr(pos + 8, colon - pos - 8)] = std::stol(text.substr(calls + 6));
        pos = colon;
    }
    return out;
}

// n no-op jobs of `fn` through one worker (max_jobs 50, burst): jobs/s, round trips and commands per job.
template <auto Fn>
static std::array<double, 3> through_worker(Jobs& jobs, Redis& admin, int n, const char* label) {
    for (int i = 0; i < n; ++i) jobs.enqueue<Fn>(Empty{i});
    auto before = commandstats(admin);
    auto t0 = std::chrono::steady_clock::now();
    std::thread worker([&] { jobs.work({.max_jobs = 50, .burst = true}); });
    worker.join();
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    auto after = commandstats(admin);
    long total = 0, trips = 0;
    for (auto& [name, calls] : after) {
        long d = calls - before[name];
        if (name == "info" || d <= 0) continue;
        total += d;
        if (name == "evalsha" || name == "eval" || name == "blpop") trips += d;  // the rest run inside the scripts
        std::fprintf(stderr, "  %s: %ld (%.2f per job)\n", name.c_str(), d, double(d) / n);
    }
    std::printf("%s through one worker (max_jobs 50): %.0f jobs/s, %.2f round trips per job (%.2f commands with those in scripts)\n",
                label, n / secs, double(trips) / n, double(total) / n);
    return {n / secs, double(trips) / n, double(total) / n};
}

int main(int argc, char** argv) {
    const int n = argc > 1 ? std::max(1000, std::atoi(argv[1])) : 20000;
    auto options = redis_options_from_env();
    options.own_thread = true;
    Redis admin(options);
    admin.blocking().command("FLUSHALL");
    Jobs jobs(options, "bench");
    jobs.add<noop>("noop", {.max_tries = 1});
    jobs.add<co_noop>("co_noop", {.max_tries = 1});
    jobs.add<stamp>("stamp", {.max_tries = 1});
    auto plain = through_worker<noop>(jobs, admin, n, "no-op jobs");
    auto co = through_worker<co_noop>(jobs, admin, n, "no-op coroutine jobs");

    // Latency: an idle worker, one job at a time.
    std::thread idle([&] { jobs.work({.max_jobs = 10}); });
    std::this_thread::sleep_for(300ms);
    std::vector<double> ms;
    for (int i = 0; i < 300; ++i) {
        started_ns = 0;
        std::this_thread::sleep_for(5ms);  // the worker is back in BLPOP
        auto t = std::chrono::steady_clock::now();
        jobs.enqueue<stamp>(Empty{i});
        while (started_ns == 0) std::this_thread::sleep_for(20us);
        ms.push_back((started_ns - t.time_since_epoch().count()) / 1e6);
    }
    jobs.stop();
    idle.join();
    std::sort(ms.begin(), ms.end());
    const double p50 = ms[ms.size() / 2], p99 = ms[ms.size() * 99 / 100];
    std::printf("enqueue-to-start, idle worker: p50 %.2f ms, p99 %.2f ms\n", p50, p99);
    std::printf("{\"jobs\": %d, \"jobs_per_s\": %.0f, \"trips_per_job\": %.3f, \"commands_per_job\": %.3f, "
                "\"co_jobs_per_s\": %.0f, \"co_trips_per_job\": %.3f, \"p50_ms\": %.3f, \"p99_ms\": %.3f}\n",
                n, plain[0], plain[1], plain[2], co[0], co[1], p50, p99);
}
