// The job queue: in memory (run_all, as with TestClient), then against Debian's redis-server
// started here on a Unix socket: dedupe, defer, expiry, timeout, retries and the dead letter,
// abort, progress, graceful stop, and examples/jobs.cpp as two web processes and two workers
// (every job once; a worker killed mid-run; Redis restarted with its append-only file).
#include "support.hpp"

#include <sys/prctl.h>
#include <sys/un.h>

#include <filesystem>
#include <fstream>
#include <set>

namespace jobs_test {

using namespace std::chrono_literals;
using fastapi::Job;
using fastapi::JobContext;
using fastapi::Jobs;
using fastapi::JobStatus;

struct In {
    int64_t n;
    double seconds = 0;
};
struct Out {
    int64_t square;
};

std::atomic<int> runs{0};

Out square(const In& in) {
    ++runs;
    return {in.n * in.n};
}
Out flaky(JobContext& ctx, const In& in) {
    ++runs;
    if (ctx.job_try < in.n) throw std::runtime_error("try " + std::to_string(ctx.job_try) + " failed");
    return {ctx.job_try};
}
Out again(JobContext& ctx, const In&) {
    if (ctx.job_try < 2) throw fastapi::Retry{.defer = 0ms};
    return {ctx.job_try};
}
Out slow(JobContext& ctx, const In& in) {
    ++runs;
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<int64_t>(in.seconds * 1000));
    int i = 0;
    while (std::chrono::steady_clock::now() < until) {
        ctx.progress(++i);
        std::this_thread::sleep_for(20ms);
    }
    return {in.n * in.n};
}

std::mutex cron_mutex;
std::map<std::string, int> cron_runs;
void tick(JobContext& ctx) {
    std::lock_guard lock(cron_mutex);
    ++cron_runs[ctx.job_id];
}

void register_all(Jobs& jobs) {
    jobs.add<square>("square", {.max_tries = 3});
    jobs.add<flaky>("flaky", {.max_tries = 3});
    jobs.add<again>("again", {.max_tries = 3});
    jobs.add<slow>("slow", {.max_tries = 1, .timeout = 400ms});
}

using test::RedisServer;

fastapi::RedisOptions options_of(const RedisServer& r) {
    fastapi::RedisOptions o;
    o.unix_path = r.socket();
    o.reconnect_min = 20ms;
    o.reconnect_max = 200ms;
    return o;
}

bool reaches(const Job& job, JobStatus s, std::chrono::milliseconds limit = 5000ms) {
    return test::eventually_true([&] { return job.status() == s; }, limit);
}

// POST /jobs/square to an example process; the job id.
std::string post_square(unsigned short port, int n, double seconds) {
    const std::string body = "{\"n\": " + std::to_string(n) + ", \"seconds\": " + std::to_string(seconds) + "}";
    std::string res = test::ask_from(port, "POST /jobs/square HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n"
                                           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
    if (test::status_of(res) != 202) return {};
    std::smatch m;
    std::string b = test::body_of(res);
    if (!std::regex_search(b, m, std::regex("\"job_id\":\"([0-9a-f]+)\""))) return {};
    return m[1];
}

std::map<std::string, std::vector<long>> runs_in(const std::string& path) {
    std::map<std::string, std::vector<long>> out;
    std::ifstream in(path);
    std::string id;
    long pid;
    while (in >> id >> pid) out[id].push_back(pid);
    return out;
}

}  // namespace jobs_test

using namespace jobs_test;

TEST_CASE("Jobs in memory: run_all runs what is queued; dedupe, retries, the dead letter, validation errors, abort") {
    Jobs jobs;
    register_all(jobs);
    auto a = jobs.enqueue<square>(In{7}, {.job_id = "a"});
    REQUIRE(a);
    CHECK(a->status() == JobStatus::queued);
    CHECK_FALSE(jobs.enqueue<square>(In{8}, {.job_id = "a"}));  // dedupe
    auto later = jobs.enqueue<square>(In{2}, {.defer_by = 10s});
    REQUIRE(later);
    CHECK(later->status() == JobStatus::deferred);
    auto f = jobs.enqueue<flaky>(In{2});     // succeeds on its second try
    auto dead = jobs.enqueue<flaky>(In{9});  // never: 3 tries, then the dead letter
    auto r = jobs.enqueue<again>(In{0});
    auto bad = jobs.enqueue("square", "{\"n\": \"x\"}");
    auto gone = jobs.enqueue<square>(In{1});
    CHECK(gone->abort());
    CHECK(jobs.run_all() >= 7);
    CHECK(a->status() == JobStatus::complete);
    CHECK(a->result<Out>(0ms).square == 49);
    CHECK(later->status() == JobStatus::deferred);
    CHECK(f->result<Out>(0ms).square == 2);
    CHECK(r->result<Out>(0ms).square == 2);
    CHECK(dead->status() == JobStatus::failed);
    CHECK(dead->info()->tries == 3);
    CHECK(dead->info()->error == "try 3 failed");
    CHECK_THROWS_AS(dead->result<Out>(0ms), fastapi::JobFailed);
    CHECK(bad->status() == JobStatus::failed);
    CHECK(bad->info()->tries == 1);  // a validation error is not retried
    CHECK(bad->info()->error.find("args.n") != std::string::npos);
    CHECK(gone->status() == JobStatus::failed);
    CHECK(gone->info()->error == "aborted");
    auto letters = jobs.dead_letters();
    CHECK(std::find(letters.begin(), letters.end(), dead->id()) != letters.end());
    CHECK(jobs.retry(dead->id()));
    CHECK(dead->status() == JobStatus::queued);
    CHECK(jobs.job("nope").status() == JobStatus::not_found);
}

TEST_CASE("Jobs in an app under TestClient: a route enqueues, run_all runs it, another route reads it") {
    Jobs jobs;
    register_all(jobs);
    fastapi::App app;
    app.post("/sq", [&](const In& in) {
        fastapi::json out = fastapi::json::object();
        out["job_id"] = jobs.enqueue<square>(in)->id();
        return out;
    });
    fastapi::TestClient client(app);
    auto res = client.post("/sq", R"({"n": 5, "seconds": 0})", test::hdrs({{"content-type", "application/json"}}));
    REQUIRE(res.status_code == 200);
    std::smatch m;
    std::string body = res.text;
    REQUIRE(std::regex_search(body, m, std::regex("\"job_id\":\"([0-9a-f]+)\"")));
    CHECK(jobs.job(m[1]).status() == JobStatus::queued);
    CHECK(jobs.run_all() == 1);
    CHECK(jobs.job(m[1]).result<Out>(0ms).square == 25);
}

TEST_CASE("Jobs on Redis: dedupe, defer, expiry, timeout, retries and the dead letter, abort, progress while running") {
    RedisServer server;
    Jobs jobs(options_of(server), "t1");
    register_all(jobs);
    runs = 0;
    auto a = jobs.enqueue<square>(In{7}, {.job_id = "a"});
    REQUIRE(a);
    CHECK_FALSE(jobs.enqueue<square>(In{8}, {.job_id = "a"}));
    auto deferred = jobs.enqueue<square>(In{3}, {.defer_by = 600ms});
    auto expired = jobs.enqueue<square>(In{4}, {.defer_by = 300ms, .expires = 100ms});
    auto f = jobs.enqueue<flaky>(In{2});
    auto dead = jobs.enqueue<flaky>(In{9});
    auto queued_abort = jobs.enqueue<square>(In{1}, {.defer_by = 5s});
    CHECK(queued_abort->abort());
    CHECK(deferred->status() == JobStatus::deferred);
    const auto t0 = std::chrono::steady_clock::now();
    jobs.start_worker({.max_jobs = 4, .lease = 1000ms, .grace = 2000ms});
    CHECK(a->result<Out>(3s).square == 49);
    CHECK(deferred->result<Out>(3s).square == 9);
    CHECK(std::chrono::steady_clock::now() - t0 >= 550ms);  // not before its time
    CHECK(f->result<Out>(3s).square == 2);
    CHECK(reaches(*dead, JobStatus::failed));
    CHECK(dead->info()->tries == 3);
    CHECK(reaches(*expired, JobStatus::failed));
    CHECK(expired->info()->error.find("expired") == 0);
    CHECK(queued_abort->status() == JobStatus::failed);
    auto letters = jobs.dead_letters();
    CHECK(std::find(letters.begin(), letters.end(), dead->id()) != letters.end());
    // Progress seen while it runs; a running job aborted; a job past its timeout.
    auto running = jobs.enqueue<slow>(In{2, 0.3});
    CHECK(test::eventually_true([&] { return !running->progress().empty() && running->status() == JobStatus::in_progress; }));
    CHECK(running->result<Out>(3s).square == 4);
    auto stopped = jobs.enqueue<slow>(In{2, 0.35});
    REQUIRE(reaches(*stopped, JobStatus::in_progress));
    CHECK(stopped->abort());
    CHECK(reaches(*stopped, JobStatus::failed, 3000ms));
    CHECK(stopped->info()->error == "aborted");
    auto late = jobs.enqueue<slow>(In{2, 1.0});
    CHECK(reaches(*late, JobStatus::failed, 3000ms));
    CHECK(late->info()->error == "timeout");
    jobs.stop();
}

TEST_CASE("Jobs on Redis: the example as two web processes and two workers; 10,000 jobs each once, then a worker killed by SIGKILL") {
    RedisServer server;
    test::TempDir dir("fastapi-jobs-log");
    const std::string log = dir.path + "/runs.log";
    const std::vector<std::string> env{"REDIS_URL=" + server.url(), "JOBS_RUN_LOG=" + log};
    const std::string exe = test::example_path("jobs");
    const unsigned short p1 = test::free_port(), p2 = test::free_port();
    test::Process web1(exe, {{"--port", std::to_string(p1)}, env});
    test::Process web2(exe, {{"--port", std::to_string(p2)}, env});
    REQUIRE(test::wait_for_port(p1));
    REQUIRE(test::wait_for_port(p2));
    auto enqueue = [&](int count, double seconds) {
        std::vector<std::string> ids(static_cast<std::size_t>(count));
        std::thread t([&] {
            for (int i = 0; i < count; i += 2) ids[static_cast<std::size_t>(i)] = post_square(p1, i, seconds);
        });
        for (int i = 1; i < count; i += 2) ids[static_cast<std::size_t>(i)] = post_square(p2, i, seconds);
        t.join();
        return ids;
    };
    Jobs reader(options_of(server), "jobs:example");
    auto all_complete = [&](const std::vector<std::string>& ids, std::chrono::milliseconds limit) {
        return test::eventually_true([&] {
            for (auto& id : ids)
                if (reader.job(id).status() != JobStatus::complete) return false;
            return true;
        }, limit);
    };
    SUBCASE("10,000 jobs, nothing crashes: each runs exactly once") {
        test::Process w1(exe, {{"worker", "--max-jobs", "20"}, env});
        test::Process w2(exe, {{"worker", "--max-jobs", "20"}, env});
        auto ids = enqueue(10000, 0);
        for (auto& id : ids) REQUIRE(!id.empty());
        CHECK(all_complete(ids, 15000ms));
        auto runs_of = runs_in(log);
        CHECK(runs_of.size() == 10000);
        std::set<long> pids;
        for (auto& [id, pids_of] : runs_of) {
            CHECK(pids_of.size() == 1);
            pids.insert(pids_of.at(0));
        }
        CHECK(pids.size() == 2);  // both workers took jobs
        CHECK(reader.job(ids[17]).result<Out>(0ms).square == 17 * 17);
        CHECK(test::Process(exe, {{"worker", "--check"}, env}).wait_exit(5000ms) == 0);
        w1.kill(SIGTERM);
        CHECK(w1.wait_exit(5000ms) == 0);
    }
    SUBCASE("a worker killed mid-run: every job completes; only its running jobs ran twice") {
        test::Process w1(exe, {{"worker", "--max-jobs", "25", "--lease-ms", "1000"}, env});
        test::Process w2(exe, {{"worker", "--max-jobs", "25", "--lease-ms", "1000"}, env});
        auto ids = enqueue(600, 0.1);
        for (auto& id : ids) REQUIRE(!id.empty());
        REQUIRE(test::eventually_true([&] { return runs_in(log).size() >= 150; }, 10000ms));
        w1.kill(SIGKILL);
        REQUIRE(w1.wait_exit(5000ms) >= 0);
        CHECK(all_complete(ids, 15000ms));
        std::size_t twice = 0;
        for (auto& [id, pids_of] : runs_in(log)) {
            CHECK(pids_of.size() <= 2);
            if (pids_of.size() == 2) {
                ++twice;
                CHECK(pids_of[0] == w1.pid());
                CHECK(pids_of[1] == w2.pid());
            }
        }
        CHECK(twice <= 25);
        CHECK(runs_in(log).size() == 600);
    }
}

TEST_CASE("Jobs on Redis: graceful stop gives running jobs back without counting a try; a worker reconnects after a Redis restart") {
    RedisServer server({"--appendonly", "yes", "--appendfsync", "always"});
    const std::vector<std::string> env{"REDIS_URL=" + server.url()};
    const std::string exe = test::example_path("jobs");
    Jobs jobs(options_of(server), "jobs:example");
    jobs.add<slow>("square");  // only for the producer's side: the worker is the example's
    CHECK(test::Process(exe, {{"worker", "--check"}, env}).wait_exit(5000ms) == 1);
    {
        test::Process w(exe, {{"worker", "--grace-ms", "200"}, env});
        auto job = jobs.enqueue("square", "{\"n\": 3, \"seconds\": 5}");
        REQUIRE(reaches(*job, JobStatus::in_progress));
        CHECK(job->info()->tries == 1);
        w.kill(SIGTERM);
        CHECK(w.wait_exit(5000ms) == 0);
        CHECK(job->status() == JobStatus::queued);
        CHECK(job->info()->tries == 0);
        CHECK(jobs.job(job->id()).abort());
    }
    test::Process w(exe, {{"worker"}, env});
    std::vector<Job> before;
    for (int i = 0; i < 50; ++i) before.push_back(*jobs.enqueue("square", "{\"n\": " + std::to_string(i) + ", \"seconds\": 0.1}"));
    server.kill();
    server.start();  // the append-only file brings the queue back
    std::vector<Job> after;
    REQUIRE(test::eventually_true([&] {
        try {
            after.push_back(*jobs.enqueue("square", "{\"n\": 5, \"seconds\": 0}"));
            return true;
        } catch (const std::exception&) {
            return false;
        }
    }, 5000ms));
    for (auto& j : before) CHECK(reaches(j, JobStatus::complete, 10000ms));
    CHECK(reaches(after.at(0), JobStatus::complete, 5000ms));
}

TEST_CASE("Jobs: cron lines, and each due run of a cron job once with two workers on one Redis") {
    using fastapi::detail::CronSpec;
    auto every5 = CronSpec::parse("*/5 * * * *");
    CHECK(every5.due(1700000100));        // 22:15:00 UTC
    CHECK_FALSE(every5.due(1700000160));  // 22:16:00
    CHECK_FALSE(every5.due(1700000101));  // not at second 1
    CHECK(CronSpec::parse("0 9 * * 1-5").due(1700470800));       // Monday 2023-11-20 09:00 UTC
    CHECK_FALSE(CronSpec::parse("0 9 * * 6,0").due(1700470800));
    CHECK_THROWS_AS(CronSpec::parse("* * *"), std::invalid_argument);
    CHECK_THROWS_AS(CronSpec::parse("61 * * * *"), std::invalid_argument);
    CHECK_THROWS(CronSpec::parse("*/0 * * * *"));

    RedisServer server;
    cron_runs.clear();
    {
        Jobs a(options_of(server), "cron"), b(options_of(server), "cron");
        a.cron<tick>("tick", "* * * * * *");  // every second
        b.cron<tick>("tick", "* * * * * *");
        a.start_worker({.max_jobs = 4});
        b.start_worker({.max_jobs = 4});
        std::this_thread::sleep_for(2500ms);
    }
    std::lock_guard lock(cron_mutex);
    CHECK(cron_runs.size() >= 2);
    for (auto& [id, n] : cron_runs) {
        CHECK(id.rfind("cron:tick:", 0) == 0);
        CHECK(n == 1);
    }
}
