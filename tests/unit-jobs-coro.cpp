// The job queue's second part: coroutine jobs on the worker's loop (stopped at their next
// co_await by a timeout or an abort), async_enqueue from a coroutine without blocking its loop,
// cron's run_at_startup across workers, the app's lifespan and state in a worker, heartbeats
// in a sorted set (--check), result() woken instead of polling, dead letters that expire, and
// an in-memory queue refused under --workers N. Against Debian's redis-server (test::RedisServer).
#include "support.hpp"

#include <set>

namespace jobs_coro_test {

using namespace std::chrono_literals;
using fastapi::Job;
using fastapi::JobContext;
using fastapi::Jobs;
using fastapi::JobStatus;

struct Nap {
    int64_t ms = 0;
    int64_t n = 0;
};
struct Out {
    int64_t value = 0;
};
struct Config {
    int64_t factor = 1;
};

std::mutex m;
std::set<std::thread::id> nap_threads;
std::atomic<int> naps_started{0}, naps_finished{0};

asio::awaitable<Out> nap(JobContext& ctx, const Nap& in) {
    ++naps_started;
    {
        std::lock_guard lock(m);
        nap_threads.insert(std::this_thread::get_id());
    }
    asio::steady_timer t(co_await asio::this_coro::executor);
    t.expires_after(std::chrono::milliseconds(in.ms));
    co_await t.async_wait(asio::use_awaitable);  // a timeout or an abort ends the job here
    ++naps_finished;
    co_return Out{in.n * in.n + static_cast<int64_t>(ctx.job_try) - 1};
}

// Both kinds read the app's state.
asio::awaitable<Out> co_scaled(JobContext& ctx, const Nap& in) {
    asio::steady_timer t(co_await asio::this_coro::executor);
    t.expires_after(1ms);
    co_await t.async_wait(asio::use_awaitable);
    co_return Out{in.n * ctx.state<Config>().factor};
}
Out scaled(JobContext& ctx, const Nap& in) { return {in.n * ctx.state<Config>().factor}; }

Out always_fails(const Nap&) { throw std::runtime_error("no"); }

std::atomic<int> boots{0};
std::mutex boot_m;
std::vector<std::string> boot_ids;
void boot(JobContext& ctx) {
    ++boots;
    std::lock_guard lock(boot_m);
    boot_ids.push_back(ctx.job_id);
}

bool reaches(const Job& job, JobStatus s, std::chrono::milliseconds limit = 5000ms) {
    return test::eventually_true([&] { return job.status() == s; }, limit);
}

std::map<std::string, long> commandstats(fastapi::Redis& r) {
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

fastapi::Redis admin_of(const test::RedisServer& server) {
    auto o = server.options();
    o.own_thread = true;
    return fastapi::Redis(o);
}

// From a coroutine: async_enqueue, then async_result, while a ticker on the same loop counts
// how often it ran (a blocked loop would not tick).
struct FromLoop {
    int64_t value = 0;
    int ticks = 0;
    JobStatus status = JobStatus::not_found;
    bool again = true;  // a second enqueue with the same id was refused
};
struct Ticks {
    int n = 0;
    bool done = false;
};
asio::awaitable<void> tick(std::shared_ptr<Ticks> ticks) {
    asio::steady_timer t(co_await asio::this_coro::executor);
    while (!ticks->done) {
        t.expires_after(1ms);
        co_await t.async_wait(asio::use_awaitable);
        ++ticks->n;
    }
}
asio::awaitable<FromLoop> from_loop(Jobs* jobs) {
    FromLoop out;
    auto ticks = std::make_shared<Ticks>();
    asio::co_spawn(co_await asio::this_coro::executor, tick(ticks), asio::detached);
    Nap n{200, 6};
    fastapi::EnqueueOptions o;
    o.job_id = "from-loop";
    auto job = co_await jobs->async_enqueue<nap>(n, o);
    auto twice = co_await jobs->async_enqueue<nap>(n, o);
    out.again = twice.has_value();
    auto r = co_await job->async_result<Out>(5s);
    out.value = r.value;
    out.status = co_await job->async_status();
    ticks->done = true;
    out.ticks = ticks->n;
    co_return out;
}

// (The cases are in the namespace too: unity builds put other test files' names beside these.)

TEST_CASE("Coroutine jobs in memory: a coroutine route enqueues without blocking, run_all runs it, it sees the app's state") {
    fastapi::App app;
    app.set_state<Config>(Config{3});
    Jobs& jobs = app.set_state<Jobs>();
    jobs.set_app(app);
    jobs.add<co_scaled>("co_scaled").add<scaled>("scaled");
    app.post("/sq", [](const Nap& in, fastapi::State<Jobs> q) -> asio::awaitable<fastapi::json> {
        auto job = co_await q->async_enqueue<co_scaled>(in);
        fastapi::json out = fastapi::json::object();
        out["job_id"] = job->id();
        co_return out;
    });
    app.get("/jobs/{id}", [](fastapi::Path<"id", std::string> id, fastapi::State<Jobs> q) -> asio::awaitable<fastapi::json> {
        Job job = q->job(*id);
        auto info = co_await job.async_info();
        if (!info) throw fastapi::HTTPException(404, "Job not found");
        fastapi::json out = fastapi::json::object();
        out["status"] = fastapi::to_string(info->status);
        out["result"] = info->result;
        co_return out;
    });
    fastapi::TestClient client(app);
    auto res = client.post("/sq", R"({"n": 25, "ms": 0})", test::hdrs({{"content-type", "application/json"}}));
    REQUIRE(res.status_code == 200);
    std::smatch mt;
    std::string body = res.text;
    REQUIRE(std::regex_search(body, mt, std::regex("\"job_id\":\"([0-9a-f]+)\"")));
    const std::string id = mt[1];
    CHECK(client.get("/jobs/" + id).text.find("\"queued\"") != std::string::npos);
    auto plain = jobs.enqueue<scaled>(Nap{0, 4});
    CHECK(jobs.run_all() == 2);
    CHECK(jobs.job(id).result<Out>(0ms).value == 75);
    CHECK(plain->result<Out>(0ms).value == 12);
    CHECK(client.get("/jobs/" + id).text.find("\"complete\"") != std::string::npos);
    CHECK(client.get("/jobs/nope").status_code == 404);
}

TEST_CASE("Coroutine jobs on Redis: many at once on the worker's loop; a timeout and an abort stop them at their next co_await; async_enqueue does not block") {
    test::RedisServer server;
    Jobs jobs(server.options(), "co");
    jobs.add<nap>("nap", {.max_tries = 1, .timeout = 400ms});
    naps_started = naps_finished = 0;
    nap_threads.clear();
    std::vector<Job> all;
    for (int i = 0; i < 20; ++i) all.push_back(*jobs.enqueue<nap>(Nap{200, i}));
    const auto t0 = std::chrono::steady_clock::now();
    jobs.start_worker({.max_jobs = 50, .lease = 1000ms, .grace = 2000ms});
    for (std::size_t i = 0; i < all.size(); ++i) CHECK(all[i].result<Out>(5s).value == static_cast<int64_t>(i * i));
    CHECK(std::chrono::steady_clock::now() - t0 < 2500ms);  // together: one after the other would take 4 s
    CHECK(nap_threads.size() == 1);                          // all on the worker's one loop
    CHECK(naps_finished == 20);

    // Past its timeout: stopped in its co_await (it never gets past it).
    auto t1 = std::chrono::steady_clock::now();
    auto late = jobs.enqueue<nap>(Nap{5000, 1});
    CHECK(reaches(*late, JobStatus::failed, 3000ms));
    CHECK(std::chrono::steady_clock::now() - t1 < 2000ms);
    CHECK(late->info()->error == "timeout");
    // Aborted while it runs: stopped at once (told within a lease renewal).
    auto running = jobs.enqueue<nap>(Nap{5000, 2}, {.job_id = "long"});
    REQUIRE(reaches(*running, JobStatus::in_progress));
    const auto t2 = std::chrono::steady_clock::now();
    CHECK(running->abort());
    CHECK(reaches(*running, JobStatus::failed, 3000ms));
    CHECK(std::chrono::steady_clock::now() - t2 < 1500ms);
    CHECK(running->info()->error == "aborted");
    std::this_thread::sleep_for(100ms);
    CHECK(naps_finished == 20);  // neither got past its co_await
    CHECK(naps_started == 22);

    // From a coroutine on a loop of the test's: the loop kept ticking while the job ran.
    auto got = fastapi::detail::run_to_completion<FromLoop>([&jobs] { return from_loop(&jobs); });
    CHECK(got.value == 36);
    CHECK(got.status == JobStatus::complete);
    CHECK_FALSE(got.again);  // dedupe by id
    CHECK(got.ticks > 60);  // ~200 ms of 1 ms ticks
    jobs.stop();
}

TEST_CASE("Cron run_at_startup: one run when two workers start together") {
    test::RedisServer server;
    boots = 0;
    boot_ids.clear();
    {
        Jobs a(server.options(), "boot"), b(server.options(), "boot");
        a.cron<boot>("boot", "0 0 1 1 *", {.run_at_startup = true});  // otherwise once a year
        b.cron<boot>("boot", "0 0 1 1 *", {.run_at_startup = true});
        a.start_worker({.max_jobs = 2});
        b.start_worker({.max_jobs = 2});
        CHECK(test::eventually_true([] { return boots.load() >= 1; }, 3000ms));
        std::this_thread::sleep_for(500ms);
    }
    CHECK(boots == 1);
    {
        std::lock_guard lock(boot_m);
        REQUIRE(boot_ids.size() == 1);
        CHECK(boot_ids[0].rfind("cron:boot:startup:", 0) == 0);
    }
    // In memory too (one worker): once.
    boots = 0;
    {
        Jobs mem;
        mem.cron<boot>("boot", "0 0 1 1 *", {.run_at_startup = true});
        mem.start_worker({.max_jobs = 2});
        CHECK(test::eventually_true([] { return boots.load() >= 1; }, 3000ms));
    }
    CHECK(boots == 1);
}

TEST_CASE("./app worker runs the app's lifespan around its jobs, which see its state; heartbeats in a sorted set for --check") {
    test::RedisServer server;
    fastapi::App app;
    std::vector<std::string> events;
    std::mutex events_m;
    app.on_startup([&] {
        app.set_state<Config>(Config{7});
        std::lock_guard lock(events_m);
        events.push_back("startup");
    });
    app.on_shutdown([&] {
        std::lock_guard lock(events_m);
        events.push_back("shutdown");
    });
    Jobs jobs(server.options(), "life");
    jobs.add<scaled>("scaled").add<co_scaled>("co_scaled");
    auto a = jobs.enqueue<scaled>(Nap{0, 2});
    auto b = jobs.enqueue<co_scaled>(Nap{0, 3});
    std::string prog = "app", w = "worker", burst = "--burst", check = "--check";
    char* run_argv[] = {prog.data(), w.data(), burst.data(), nullptr};
    char* check_argv[] = {prog.data(), w.data(), check.data(), nullptr};
    CHECK(jobs.main(3, check_argv, app) == std::optional<int>(1));  // no worker yet
    struct sigaction before {}, after {};
    ::sigaction(SIGTERM, nullptr, &before);
    CHECK(jobs.main(3, run_argv, app) == std::optional<int>(0));
    ::sigaction(SIGTERM, nullptr, &after);
    const bool handler_back = after.sa_handler == before.sa_handler;  // the program's SIGTERM handler
    CHECK(handler_back);
    CHECK(a->result<Out>(0ms).value == 14);
    CHECK(b->result<Out>(0ms).value == 21);
    {
        std::lock_guard lock(events_m);
        CHECK(events == std::vector<std::string>{"startup", "shutdown"});
    }
    CHECK(jobs.main(3, check_argv, app) == std::optional<int>(1));  // a graceful stop took its heartbeat away

    // A heartbeat is a member of life:workers scored by its expiry: expired ones are ignored and trimmed.
    auto admin = admin_of(server);
    admin.blocking().command("ZADD", "life:workers", fastapi::detail::jobs_now_ms() - 1000, "gone-worker");
    CHECK(jobs.main(3, check_argv, app) == std::optional<int>(1));
    CHECK(admin.blocking().command<std::vector<std::string>>("KEYS", "life:health*").empty());  // no key per worker
    Jobs other(server.options(), "life");
    other.start_worker({.max_jobs = 1, .lease = 400ms, .health_ttl = std::chrono::seconds(5)});
    CHECK(test::eventually_true([&] { return jobs.main(3, check_argv, app) == std::optional<int>(0); }, 3000ms));
    CHECK(test::eventually_true([&] {
        return !admin.blocking().command<std::optional<std::string>>("ZSCORE", "life:workers", "gone-worker").has_value();
    }, 3000ms));
    other.stop();
}

TEST_CASE("result<T>(timeout) is woken when the job finishes, not polled (Redis: BLPOP; in memory: a condition variable)") {
    test::RedisServer server;
    auto admin = admin_of(server);
    Jobs jobs(server.options(), "wake");
    jobs.add<nap>("nap", {.max_tries = 1}).add<always_fails>("always_fails", {.max_tries = 1});
    jobs.start_worker({.max_jobs = 4, .grace = 100ms});
    auto job = jobs.enqueue<nap>(Nap{400, 5});
    auto before = commandstats(admin);
    const auto t0 = std::chrono::steady_clock::now();
    CHECK(job->result<Out>(5s).value == 25);
    const auto waited = std::chrono::steady_clock::now() - t0;
    auto after = commandstats(admin);
    CHECK(waited >= 300ms);
    CHECK(waited < 1000ms);
    CHECK(after["hgetall"] - before["hgetall"] <= 3);  // polling every 5 ms would be ~80
    // Two waiters on one job both wake.
    auto shared = jobs.enqueue<nap>(Nap{300, 2});
    std::atomic<int> woke{0};
    std::thread other([&] { woke += shared->result<Out>(5s).value == 4; });
    CHECK(shared->result<Out>(5s).value == 4);
    other.join();
    CHECK(woke == 1);
    // A failed job: JobFailed, also woken.
    auto bad = jobs.enqueue<always_fails>(Nap{});
    CHECK_THROWS_AS(bad->result<Out>(5s), fastapi::JobFailed);
    // Not within the timeout.
    auto slow = jobs.enqueue<nap>(Nap{2000, 1});
    const auto t1 = std::chrono::steady_clock::now();
    CHECK_THROWS_AS(slow->result<Out>(200ms), fastapi::JobFailed);
    CHECK(std::chrono::steady_clock::now() - t1 < 700ms);
    jobs.stop();

    Jobs mem;
    mem.add<nap>("nap");
    mem.start_worker();
    auto j = mem.enqueue<nap>(Nap{200, 9});
    const auto t2 = std::chrono::steady_clock::now();
    CHECK(j->result<Out>(5s).value == 81);
    CHECK(std::chrono::steady_clock::now() - t2 < 800ms);
}

TEST_CASE("Dead letters expire after keep_failed (in memory and on Redis)") {
    {
        Jobs mem;
        mem.add<always_fails>("always_fails", {.max_tries = 1, .keep_failed = 300ms});
        auto j = mem.enqueue<always_fails>(Nap{});
        mem.run_all();
        CHECK(j->status() == JobStatus::failed);
        CHECK(mem.dead_letters() == std::vector<std::string>{j->id()});
        std::this_thread::sleep_for(450ms);
        CHECK(mem.dead_letters().empty());
        CHECK(j->status() == JobStatus::not_found);
    }
    test::RedisServer server;
    Jobs jobs(server.options(), "dead");
    jobs.add<always_fails>("always_fails", {.max_tries = 1, .keep_failed = 500ms});
    jobs.add<nap>("nap", {.max_tries = 1, .keep_failed = std::chrono::hours(1)});
    jobs.start_worker({.max_jobs = 2});
    auto j = jobs.enqueue<always_fails>(Nap{});
    auto kept = jobs.enqueue<nap>(Nap{50, 1}, {.defer_by = 10s});
    CHECK(kept->abort());
    REQUIRE(reaches(*j, JobStatus::failed));
    auto letters = jobs.dead_letters();
    CHECK(std::find(letters.begin(), letters.end(), j->id()) != letters.end());
    CHECK(std::find(letters.begin(), letters.end(), kept->id()) != letters.end());
    CHECK(test::eventually_true([&] { return j->status() == JobStatus::not_found; }, 2000ms));
    letters = jobs.dead_letters();
    CHECK(std::find(letters.begin(), letters.end(), j->id()) == letters.end());
    CHECK(std::find(letters.begin(), letters.end(), kept->id()) != letters.end());
    CHECK(jobs.retry(kept->id()));
    CHECK(kept->result<Out>(3s).value == 1);  // run again
    jobs.stop();
}

TEST_CASE("examples/jobs without REDIS_URL under --workers 2: a clear error at startup, not a queue per process") {
    const std::string exe = test::example_path("jobs");
    const unsigned short port = test::free_port();
    test::Process p(exe, {{"--port", std::to_string(port), "--workers", "2"}, {}});
    CHECK(p.wait_exit(10000ms) == 3);
    CHECK(p.log().find("an in-memory job queue belongs to one process") != std::string::npos);
}

}  // namespace jobs_coro_test
