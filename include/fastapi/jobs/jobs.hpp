#pragma once
// jobs: a job queue with status, progress and results, as FastAPI users get from arq, on Redis
// or in memory. A job is a function registered by name whose argument and result are models
// (or picojson values), serialised with the model machinery: the argument is validated when
// the job starts, with FastAPI's error list. Workers are `./app worker` (or a thread of the web
// process, in memory): coroutine jobs run on the worker's event loop (cancelled at their next
// suspension point on a timeout or an abort), plain functions on its blocking pool; a job is
// claimed with a lease the worker renews, so a crashed worker's jobs run again within seconds
// (at least once). Relies on the model parts, routing/state (the app's state and lifespan, for
// JobContext and the worker) and redis/client (its blocking API on threads, its coroutines on a loop).
#include "../model/json.hpp"
#include "../redis/client.hpp"
#include "../routing/state.hpp"      // AppContext, default_maker (JobContext::state<T>)
#include "../server/supervisor.hpp"  // worker_env_name (an in-memory queue under --workers N)

#include <signal.h>  // sigaction
#include <unistd.h>  // getpid, gethostname

#include <atomic>              // atomic
#include <bitset>              // bitset (cron fields)
#include <ctime>               // gmtime_r
#include <variant>             // monostate
#include <chrono>              // durations, clocks
#include <condition_variable>  // condition_variable
#include <cstdio>              // fprintf
#include <deque>               // deque
#include <functional>          // function
#include <map>                 // map
#include <mutex>               // mutex
#include <optional>            // optional
#include <random>              // random_device
#include <thread>              // thread
#include <vector>              // vector

namespace fastapi {

class JobContext;

enum class JobStatus { deferred, queued, in_progress, complete, failed, not_found };

inline const char* to_string(JobStatus s) noexcept {
    switch (s) {
        case JobStatus::deferred: return "deferred";
        case JobStatus::queued: return "queued";
        case JobStatus::in_progress: return "in_progress";
        case JobStatus::complete: return "complete";
        case JobStatus::failed: return "failed";
        default: return "not_found";
    }
}

// Thrown by a job to run it again later (counts a try): throw fastapi::Retry{.defer = 10s}.
struct Retry {
    std::chrono::milliseconds defer{0};
};

// Thrown by JobContext::progress() / check() once the job was aborted or ran past its timeout.
class JobAborted : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// What result<T>() throws when the job failed: the job's error text.
class JobFailed : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct JobOptions {
    int max_tries = 5;
    std::chrono::milliseconds timeout = std::chrono::seconds(300);
    std::chrono::milliseconds keep_result = std::chrono::hours(1);
    bool backoff = false;  // retry after 1 s, 2 s, 4 s... when a job throws (not for Retry{.defer})
    std::chrono::milliseconds keep_failed = std::chrono::hours(24 * 7);  // a failed job (its dead letter) stays this long
};

// A cron job's options: jobs.cron<fn>("name", "*/5 * * * *", {.run_at_startup = true}).
struct CronOptions {
    bool run_at_startup = false;  // also once when workers start (once for workers starting within 30 s)
    int max_tries = 1;
    std::chrono::milliseconds timeout = std::chrono::seconds(300);
    std::chrono::milliseconds keep_result = std::chrono::hours(1);
    std::chrono::milliseconds keep_failed = std::chrono::hours(24 * 7);
};

struct EnqueueOptions {
    std::string job_id{};  // empty: a random one; a job with this id queued, running or kept: not enqueued
    std::chrono::milliseconds defer_by{0};
    std::optional<std::chrono::system_clock::time_point> defer_until{};
    std::chrono::milliseconds expires{0};  // not started after this long in the queue (0: never)
};

struct WorkerOptions {
    std::size_t max_jobs = 10;
    std::string queue_name{};  // empty: the Jobs' queue
    bool burst = false;      // exit when nothing is queued
    std::chrono::milliseconds lease = std::chrono::seconds(5);
    std::chrono::milliseconds grace = std::chrono::seconds(10);  // graceful stop: then running jobs go back
    std::chrono::seconds health_ttl = std::chrono::seconds(10);
};

struct JobInfo {
    std::string job_id, function, args, result, error, progress, worker;  // args/result/progress as JSON text
    JobStatus status = JobStatus::not_found;
    int tries = 0, max_tries = 0;
    std::int64_t enqueue_ms = 0, start_ms = 0, finish_ms = 0;  // Unix time, milliseconds
    std::optional<bool> success;
};

namespace detail {

inline std::int64_t jobs_now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

FASTAPI_DECL std::string jobs_random_id();
// This process's worker id: host:pid:random.
FASTAPI_DECL std::string jobs_worker_id();

#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string jobs_random_id() {
    static thread_local std::mt19937_64 rng{std::random_device{}() ^ static_cast<std::uint64_t>(::getpid())};
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (int i = 0; i < 2; ++i) {
        std::uint64_t v = rng();
        for (int j = 0; j < 16; ++j) out += hex[(v >> (j * 4)) & 15];
    }
    return out;
}

FASTAPI_DECL std::string jobs_worker_id() {
    char host[64] = {};
    ::gethostname(host, sizeof host - 1);
    return std::string(host) + ":" + std::to_string(::getpid()) + ":" + jobs_random_id().substr(0, 6);
}
#endif

struct JobRecord {
    std::string id, function, args;
    int max_tries = 1;
    std::int64_t timeout_ms = 0, keep_ms = 0, run_at_ms = 0, expires_at_ms = 0, enqueue_ms = 0;
    std::int64_t keep_failed_ms = 7LL * 24 * 3600 * 1000;
    bool backoff = false;
};

struct ClaimedJob {
    std::string id, function, args;
    int tries = 1, max_tries = 1;
    std::int64_t enqueue_ms = 0, timeout_ms = 0, keep_ms = 0;
    bool backoff = false;
};

struct ClaimResult {
    std::vector<ClaimedJob> jobs;
    std::int64_t next_due_ms = -1;  // the earliest deferred job, -1 when none
    std::int64_t waiting = 0;       // jobs still queued or deferred
};

// What a queue keeps: in memory or in Redis. Every call is atomic.
class JobBackend {
public:
    virtual ~JobBackend() = default;
    virtual bool enqueue(const JobRecord& r) = 0;  // false: the id exists
    virtual ClaimResult claim(const std::string& worker, std::size_t n, std::int64_t lease_ms) = 0;
    virtual void complete(const std::string& id, const std::string& worker, const std::string& result, std::int64_t keep_ms) = 0;
    // retry_at_ms >= 0: queued again then; otherwise failed (dead letter) with the error.
    virtual void failed(const std::string& id, const std::string& worker, const std::string& error, std::int64_t retry_at_ms) = 0;
    virtual void give_back(const std::string& id, const std::string& worker) = 0;  // without counting a try
    virtual bool progress(const std::string& id, const std::string& value) = 0;      // true: aborted
    virtual std::vector<std::string> renew(const std::string& worker, const std::vector<std::string>& ids, std::int64_t lease_ms,
                                           std::chrono::seconds health_ttl) = 0;  // the aborted ones
    virtual std::optional<JobInfo> info(const std::string& id) = 0;
    virtual bool abort(const std::string& id) = 0;
    virtual std::vector<std::string> dead_letters() = 0;
    virtual bool retry_dead(const std::string& id) = 0;
    virtual void wait(std::chrono::milliseconds upto) = 0;  // until a job is enqueued, or upto
    virtual bool worker_alive() = 0;                           // a heartbeat not expired
    virtual void worker_gone(const std::string& worker) = 0;   // its heartbeat removed (graceful stop)
    // Until the job finishes (complete or failed), or upto; true when told it did (not polled).
    virtual bool wait_done(const std::string& id, std::chrono::milliseconds upto) = 0;
    // true for the first caller within ttl_ms (cron's run_at_startup across workers).
    virtual bool claim_once(const std::string& key, std::int64_t ttl_ms) = 0;

    // The same on an event loop, without blocking it (Redis: the coroutine client; in memory:
    // the calls above, which only take a lock). Coroutines, so only in the backends, which are
    // templates: GCC 12 compiles a coroutine of a non-template class in every unit, used or not.
    virtual asio::awaitable<bool> enqueue_async(JobRecord r) = 0;
    virtual asio::awaitable<std::optional<JobInfo>> info_async(std::string id) = 0;
    virtual asio::awaitable<bool> abort_async(std::string id) = 0;
    virtual asio::awaitable<bool> progress_async(std::string id, std::string value) = 0;
    virtual asio::awaitable<void> complete_async(std::string id, std::string worker, std::string result, std::int64_t keep_ms) = 0;
    virtual asio::awaitable<void> failed_async(std::string id, std::string worker, std::string error, std::int64_t retry_at_ms) = 0;
    virtual asio::awaitable<bool> wait_done_async(std::string id, std::chrono::milliseconds upto) = 0;
};

#if FASTAPI_INTERNALS
inline JobStatus jobs_status_of(std::string_view s) {
    if (s == "deferred") return JobStatus::deferred;
    if (s == "queued") return JobStatus::queued;
    if (s == "in_progress") return JobStatus::in_progress;
    if (s == "complete") return JobStatus::complete;
    if (s == "failed") return JobStatus::failed;
    return JobStatus::not_found;
}

// MemoryJobBackend (the alias below): a template only so that its coroutines are compiled
// where one is made (Jobs's constructors, templates likewise).
template <int = 0>
class BasicMemoryJobBackend final : public JobBackend {
    struct Entry {
        JobRecord r;
        JobInfo info;
        bool abort = false;
        std::int64_t lease_until = 0, drop_at_ms = 0;
    };

public:
    bool enqueue(const JobRecord& r) override {
        std::lock_guard lock(m_);
        sweep();
        if (jobs_.count(r.id)) return false;
        Entry e;
        e.r = r;
        e.info.job_id = r.id;
        e.info.function = r.function;
        e.info.args = r.args;
        e.info.max_tries = r.max_tries;
        e.info.enqueue_ms = r.enqueue_ms;
        e.info.status = r.run_at_ms > jobs_now_ms() ? JobStatus::deferred : JobStatus::queued;
        queue_.emplace(r.run_at_ms, r.id);
        jobs_.emplace(r.id, std::move(e));
        cv_.notify_all();
        return true;
    }
    ClaimResult claim(const std::string& worker, std::size_t n, std::int64_t lease_ms) override {
        std::lock_guard lock(m_);
        const auto now = jobs_now_ms();
        ClaimResult out;
        for (auto& [id, e] : jobs_)  // a lease run out: the job goes back
            if (e.info.status == JobStatus::in_progress && e.lease_until < now) {
                e.info.status = JobStatus::queued;
                queue_.emplace(now, id);
            }
        while (!queue_.empty() && queue_.begin()->first <= now && out.jobs.size() < n) {
            std::string id = queue_.begin()->second;
            queue_.erase(queue_.begin());
            auto it = jobs_.find(id);
            if (it == jobs_.end()) continue;
            Entry& e = it->second;
            if (e.r.expires_at_ms > 0 && now > e.r.expires_at_ms) {
                finish_failed(e, "expired: not started before its expiry");
                continue;
            }
            ++e.info.tries;
            e.info.status = JobStatus::in_progress;
            e.info.start_ms = now;
            e.info.worker = worker;
            e.lease_until = now + lease_ms;
            out.jobs.push_back({e.r.id, e.r.function, e.r.args, e.info.tries, e.r.max_tries, e.r.enqueue_ms, e.r.timeout_ms,
                                e.r.keep_ms, e.r.backoff});
        }
        out.waiting = static_cast<std::int64_t>(queue_.size());
        if (!queue_.empty()) out.next_due_ms = queue_.begin()->first;
        return out;
    }
    void complete(const std::string& id, const std::string& worker, const std::string& result, std::int64_t keep_ms) override {
        std::lock_guard lock(m_);
        auto e = owned(id, worker);
        if (!e) return;
        e->info.status = JobStatus::complete;
        e->info.result = result;
        e->info.success = true;
        e->info.finish_ms = jobs_now_ms();
        e->drop_at_ms = e->info.finish_ms + keep_ms;
        done_cv_.notify_all();
    }
    void failed(const std::string& id, const std::string& worker, const std::string& error, std::int64_t retry_at_ms) override {
        std::lock_guard lock(m_);
        auto e = owned(id, worker);
        if (!e) return;
        e->info.error = error;
        if (retry_at_ms >= 0) {
            e->info.status = retry_at_ms > jobs_now_ms() ? JobStatus::deferred : JobStatus::queued;
            queue_.emplace(retry_at_ms, id);
            cv_.notify_all();
        } else {
            finish_failed(*e, error);
        }
    }
    void give_back(const std::string& id, const std::string& worker) override {
        std::lock_guard lock(m_);
        auto e = owned(id, worker);
        if (!e) return;
        --e->info.tries;
        e->info.status = JobStatus::queued;
        queue_.emplace(jobs_now_ms(), id);
        cv_.notify_all();
    }
    bool progress(const std::string& id, const std::string& value) override {
        std::lock_guard lock(m_);
        auto it = jobs_.find(id);
        if (it == jobs_.end()) return false;
        it->second.info.progress = value;
        return it->second.abort;
    }
    std::vector<std::string> renew(const std::string& worker, const std::vector<std::string>& ids, std::int64_t lease_ms,
                                   std::chrono::seconds ttl) override {
        std::lock_guard lock(m_);
        alive_until_ = jobs_now_ms() + 1000 * ttl.count();
        std::vector<std::string> aborted;
        for (auto& id : ids)
            if (auto e = owned(id, worker)) {
                e->lease_until = jobs_now_ms() + lease_ms;
                if (e->abort) aborted.push_back(id);
            }
        return aborted;
    }
    std::optional<JobInfo> info(const std::string& id) override {
        std::lock_guard lock(m_);
        sweep();
        auto it = jobs_.find(id);
        if (it == jobs_.end()) return std::nullopt;
        return it->second.info;
    }
    bool abort(const std::string& id) override {
        std::lock_guard lock(m_);
        auto it = jobs_.find(id);
        if (it == jobs_.end()) return false;
        Entry& e = it->second;
        if (e.info.status == JobStatus::queued || e.info.status == JobStatus::deferred) {
            for (auto q = queue_.begin(); q != queue_.end(); ++q)
                if (q->second == id) {
                    queue_.erase(q);
                    break;
                }
            finish_failed(e, "aborted");
            return true;
        }
        if (e.info.status == JobStatus::in_progress) return e.abort = true;
        return false;
    }
    std::vector<std::string> dead_letters() override {
        std::lock_guard lock(m_);
        sweep();
        return {dead_.begin(), dead_.end()};
    }
    bool retry_dead(const std::string& id) override {
        std::lock_guard lock(m_);
        sweep();
        auto d = std::find(dead_.begin(), dead_.end(), id);
        auto it = jobs_.find(id);
        if (d == dead_.end() || it == jobs_.end()) return false;
        dead_.erase(d);
        it->second.info.status = JobStatus::queued;
        it->second.info.tries = 0;
        it->second.abort = false;
        it->second.drop_at_ms = 0;
        it->second.r.expires_at_ms = 0;
        queue_.emplace(jobs_now_ms(), id);
        cv_.notify_all();
        return true;
    }
    void wait(std::chrono::milliseconds upto) override {
        std::unique_lock lock(m_);
        const auto now = jobs_now_ms();
        if (!queue_.empty() && queue_.begin()->first <= now) return;
        cv_.wait_for(lock, upto);
    }
    bool worker_alive() override {
        std::lock_guard lock(m_);
        return alive_until_ > jobs_now_ms();
    }
    void worker_gone(const std::string&) override {
        std::lock_guard lock(m_);
        alive_until_ = 0;
    }
    bool wait_done(const std::string& id, std::chrono::milliseconds upto) override {
        std::unique_lock lock(m_);
        return done_cv_.wait_for(lock, upto, [&] { return finished(id); });
    }
    bool claim_once(const std::string& key, std::int64_t ttl_ms) override {
        std::lock_guard lock(m_);
        const auto now = jobs_now_ms();
        auto& until = once_[key];
        if (until > now) return false;
        until = now + ttl_ms;
        return true;
    }
    // On a loop: the calls above, which only take a lock.
    asio::awaitable<bool> enqueue_async(JobRecord r) override { co_return enqueue(r); }
    asio::awaitable<std::optional<JobInfo>> info_async(std::string id) override { co_return info(id); }
    asio::awaitable<bool> abort_async(std::string id) override { co_return abort(id); }
    asio::awaitable<bool> progress_async(std::string id, std::string value) override { co_return progress(id, value); }
    asio::awaitable<void> complete_async(std::string id, std::string worker, std::string result, std::int64_t keep_ms) override {
        complete(id, worker, result, keep_ms);
        co_return;
    }
    asio::awaitable<void> failed_async(std::string id, std::string worker, std::string error, std::int64_t retry_at_ms) override {
        failed(id, worker, error, retry_at_ms);
        co_return;
    }
    // Looked at every 2 ms (in memory there is nothing to wait on without blocking the loop).
    asio::awaitable<bool> wait_done_async(std::string id, std::chrono::milliseconds upto) override {
        asio::steady_timer t(co_await asio::this_coro::executor);
        const auto until = std::chrono::steady_clock::now() + upto;
        for (;;) {
            {
                std::lock_guard lock(m_);
                if (finished(id)) co_return true;
            }
            if (std::chrono::steady_clock::now() >= until) co_return false;
            t.expires_after(std::chrono::milliseconds(2));
            co_await t.async_wait(asio::use_awaitable);
        }
    }

private:
    bool finished(const std::string& id) {  // with m_
        auto it = jobs_.find(id);
        return it == jobs_.end() || it->second.info.status == JobStatus::complete || it->second.info.status == JobStatus::failed;
    }
    Entry* owned(const std::string& id, const std::string& worker) {
        auto it = jobs_.find(id);
        if (it == jobs_.end() || it->second.info.status != JobStatus::in_progress || it->second.info.worker != worker) return nullptr;
        return &it->second;
    }
    void finish_failed(Entry& e, const std::string& error) {
        e.info.status = JobStatus::failed;
        e.info.error = error;
        e.info.success = false;
        e.info.finish_ms = jobs_now_ms();
        e.drop_at_ms = e.info.finish_ms + e.r.keep_failed_ms;
        dead_.push_back(e.r.id);  // the dead letters, kept until retried or keep_failed has passed
        done_cv_.notify_all();
    }
    void sweep() {
        const auto now = jobs_now_ms();
        for (auto it = jobs_.begin(); it != jobs_.end();) {
            const auto s = it->second.info.status;
            if ((s == JobStatus::complete || s == JobStatus::failed) && it->second.drop_at_ms > 0 && it->second.drop_at_ms <= now) {
                if (s == JobStatus::failed) std::erase(dead_, it->first);
                it = jobs_.erase(it);
            } else {
                ++it;
            }
        }
    }

    std::mutex m_;
    std::condition_variable cv_, done_cv_;
    std::map<std::string, Entry> jobs_;
    std::multimap<std::int64_t, std::string> queue_;
    std::deque<std::string> dead_;
    std::map<std::string, std::int64_t> once_;
    std::int64_t alive_until_ = 0;
};
using MemoryJobBackend = BasicMemoryJobBackend<>;

// Redis keys, all under the queue's name: <q>:queue (a sorted set by run time), <q>:job:<id>
// (a hash), <q>:leases (a sorted set by lease end), <q>:dead (the dead letters, a sorted set
// by when they expire), <q>:wake (a list idle workers block on: no polling), <q>:done:<id> (a
// short-lived list result() blocks on), <q>:workers (the heartbeats, a sorted set by expiry),
// <q>:once:<key> (cron's run_at_startup).
inline const std::string& jobs_lua_common() {
    static const std::string s = R"lua(
local function done(q, id)
  local k = q .. ':done:' .. id
  redis.call('LPUSH', k, 1)
  redis.call('LTRIM', k, 0, 0)
  redis.call('PEXPIRE', k, 60000)
end
local function dead(q, id, key, error, now)
  local keep = tonumber(redis.call('HGET', key, 'keepf') or '604800000')
  redis.call('HSET', key, 'status', 'failed', 'error', error, 'success', 0, 'finish', now)
  redis.call('ZADD', q .. ':dead', tonumber(now) + keep, id)
  redis.call('PEXPIRE', key, math.max(1, keep))
  done(q, id)
end
)lua";
    return s;
}

inline const RedisScript& jobs_enqueue_script() {
    static const RedisScript s(R"lua(
local q = ARGV[1]
local key = q .. ':job:' .. ARGV[2]
if redis.call('EXISTS', key) == 1 then return 0 end
local status = 'queued'
if tonumber(ARGV[9]) > tonumber(ARGV[8]) then status = 'deferred' end
redis.call('HSET', key, 'function', ARGV[3], 'args', ARGV[4], 'max_tries', ARGV[5], 'timeout', ARGV[6], 'keep', ARGV[7],
  'enqueue', ARGV[8], 'expires', ARGV[10], 'backoff', ARGV[11], 'keepf', ARGV[12], 'tries', 0, 'status', status)
redis.call('ZADD', q .. ':queue', ARGV[9], ARGV[2])
redis.call('LPUSH', q .. ':wake', '1')
redis.call('LTRIM', q .. ':wake', 0, 63)
return 1
)lua");
    return s;
}

// Expired leases back to the queue, expired dead letters dropped, then up to n due jobs
// claimed: [waiting, next_due, (id, function, args, tries, max_tries, enqueue, timeout, keep, backoff)...]
inline const RedisScript& jobs_claim_script() {
    static const RedisScript s(jobs_lua_common() + R"lua(
local q, now, lease, worker, n = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
local lost = redis.call('ZRANGEBYSCORE', q .. ':leases', '-inf', now, 'LIMIT', 0, 100)
for _, id in ipairs(lost) do
  redis.call('ZREM', q .. ':leases', id)
  redis.call('ZADD', q .. ':queue', now, id)
  redis.call('HSET', q .. ':job:' .. id, 'status', 'queued')
end
redis.call('ZREMRANGEBYSCORE', q .. ':dead', '-inf', now)
local out = {0, -1}
local due = redis.call('ZRANGEBYSCORE', q .. ':queue', '-inf', now, 'LIMIT', 0, n)
for _, id in ipairs(due) do
  redis.call('ZREM', q .. ':queue', id)
  local key = q .. ':job:' .. id
  local f = redis.call('HMGET', key, 'function', 'args', 'max_tries', 'enqueue', 'timeout', 'keep', 'backoff', 'expires', 'abort')
  if f[1] then
    if f[9] == '1' then
      dead(q, id, key, 'aborted', now)
    elseif tonumber(f[8]) > 0 and now > tonumber(f[8]) then
      dead(q, id, key, 'expired: not started before its expiry', now)
    else
      local tries = redis.call('HINCRBY', key, 'tries', 1)
      redis.call('HSET', key, 'status', 'in_progress', 'start', now, 'worker', worker)
      redis.call('ZADD', q .. ':leases', now + lease, id)
      for _, v in ipairs({id, f[1], f[2], tries, f[3], f[4], f[5], f[6], f[7]}) do out[#out + 1] = v end
    end
  end
end
out[1] = redis.call('ZCARD', q .. ':queue')
local first = redis.call('ZRANGE', q .. ':queue', 0, 0, 'WITHSCORES')
if first[2] then out[2] = first[2] end
return out
)lua");
    return s;
}

// ARGV: q, id, worker, outcome (complete|retry|failed|giveback), payload, keep_ms|retry_at, now
inline const RedisScript& jobs_finish_script() {
    static const RedisScript s(jobs_lua_common() + R"lua(
local q, id, worker, outcome, payload, when, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6]), ARGV[7]
local key = q .. ':job:' .. id
local st = redis.call('HMGET', key, 'status', 'worker')
if st[1] ~= 'in_progress' or st[2] ~= worker then return 0 end
redis.call('ZREM', q .. ':leases', id)
if outcome == 'complete' then
  redis.call('HSET', key, 'status', 'complete', 'result', payload, 'success', 1, 'finish', now)
  redis.call('PEXPIRE', key, math.max(1, when))
  done(q, id)
elseif outcome == 'failed' then
  dead(q, id, key, payload, now)
else
  local status = 'queued'
  if outcome == 'giveback' then redis.call('HINCRBY', key, 'tries', -1) else redis.call('HSET', key, 'error', payload) end
  if when > tonumber(now) then status = 'deferred' end
  redis.call('HSET', key, 'status', status)
  redis.call('ZADD', q .. ':queue', when, id)
  redis.call('LPUSH', q .. ':wake', '1')
  redis.call('LTRIM', q .. ':wake', 0, 63)
end
return 1
)lua");
    return s;
}

// ARGV: q, worker, lease_until, heartbeat_until, now, ids... → the aborted ids. The heartbeat
// is the worker's score in <q>:workers; expired ones are trimmed here.
inline const RedisScript& jobs_renew_script() {
    static const RedisScript s(R"lua(
local q, worker = ARGV[1], ARGV[2]
redis.call('ZADD', q .. ':workers', ARGV[4], worker)
redis.call('ZREMRANGEBYSCORE', q .. ':workers', '-inf', '(' .. ARGV[5])
local aborted = {}
for i = 6, #ARGV do
  local id = ARGV[i]
  local st = redis.call('HMGET', q .. ':job:' .. id, 'worker', 'abort', 'status')
  if st[1] == worker and st[3] == 'in_progress' then
    redis.call('ZADD', q .. ':leases', 'XX', ARGV[3], id)
    if st[2] == '1' then aborted[#aborted + 1] = id end
  end
end
return aborted
)lua");
    return s;
}

inline const RedisScript& jobs_abort_script() {
    static const RedisScript s(jobs_lua_common() + R"lua(
local q, id, now = ARGV[1], ARGV[2], ARGV[3]
local key = q .. ':job:' .. id
local st = redis.call('HGET', key, 'status')
if not st then return 0 end
if st == 'queued' or st == 'deferred' then
  redis.call('ZREM', q .. ':queue', id)
  dead(q, id, key, 'aborted', now)
  return 1
end
if st == 'in_progress' then redis.call('HSET', key, 'abort', 1) return 1 end
return 0
)lua");
    return s;
}

inline const RedisScript& jobs_progress_script() {
    static const RedisScript s(R"lua(
local key = KEYS[1]
if redis.call('EXISTS', key) == 0 then return 0 end
redis.call('HSET', key, 'progress', ARGV[1])
return redis.call('HGET', key, 'abort') == '1' and 1 or 0
)lua");
    return s;
}

inline const RedisScript& jobs_retry_dead_script() {
    static const RedisScript s(R"lua(
local q, id, now = ARGV[1], ARGV[2], ARGV[3]
if redis.call('ZREM', q .. ':dead', id) == 0 then return 0 end
local key = q .. ':job:' .. id
if redis.call('EXISTS', key) == 0 then return 0 end
redis.call('PERSIST', key)
redis.call('DEL', q .. ':done:' .. id)
redis.call('HSET', key, 'status', 'queued', 'tries', 0, 'abort', 0, 'expires', 0)
redis.call('ZADD', q .. ':queue', now, id)
redis.call('LPUSH', q .. ':wake', '1')
return 1
)lua");
    return s;
}

// RedisJobBackend (the alias below): a template only so that what it runs is compiled where
// one is made (Jobs's constructors, templates likewise).
template <int = 0>
class BasicRedisJobBackend final : public JobBackend {
public:
    BasicRedisJobBackend(RedisOptions options, std::string queue) : q_(std::move(queue)) {
        options.own_thread = true;
        redis_.emplace(options);
        waiter_.emplace(redis_->dedicated());
    }
    bool enqueue(const JobRecord& r) override {
        return r_().template eval<std::int64_t>(jobs_enqueue_script(), 0, q_, r.id, r.function, r.args, r.max_tries, r.timeout_ms, r.keep_ms,
                                       r.enqueue_ms, r.run_at_ms, r.expires_at_ms, r.backoff ? 1 : 0, r.keep_failed_ms) == 1;
    }
    asio::awaitable<bool> enqueue_async(JobRecord r) override {
        auto n = co_await redis_->template eval<std::int64_t>(jobs_enqueue_script(), 0, q_, r.id, r.function, r.args, r.max_tries, r.timeout_ms,
                                                     r.keep_ms, r.enqueue_ms, r.run_at_ms, r.expires_at_ms, r.backoff ? 1 : 0,
                                                     r.keep_failed_ms);
        co_return n == 1;
    }
    ClaimResult claim(const std::string& worker, std::size_t n, std::int64_t lease_ms) override {
        auto v = r_().template eval<std::vector<RedisValue>>(jobs_claim_script(), 0, q_, jobs_now_ms(), lease_ms, worker,
                                                    static_cast<std::int64_t>(n));
        ClaimResult out;
        auto num = [](RedisValue& x) { return x.type == RedisValue::Type::integer ? x.integer : std::stoll(x.str); };
        if (v.size() < 2) return out;
        out.waiting = num(v[0]);
        out.next_due_ms = num(v[1]);
        for (std::size_t i = 2; i + 9 <= v.size(); i += 9) {
            ClaimedJob j;
            j.id = v[i].str;
            j.function = v[i + 1].str;
            j.args = v[i + 2].str;
            j.tries = static_cast<int>(num(v[i + 3]));
            j.max_tries = static_cast<int>(num(v[i + 4]));
            j.enqueue_ms = num(v[i + 5]);
            j.timeout_ms = num(v[i + 6]);
            j.keep_ms = num(v[i + 7]);
            j.backoff = v[i + 8].str == "1";
            out.jobs.push_back(std::move(j));
        }
        return out;
    }
    void complete(const std::string& id, const std::string& worker, const std::string& result, std::int64_t keep_ms) override {
        finish(id, worker, "complete", result, keep_ms);
    }
    void failed(const std::string& id, const std::string& worker, const std::string& error, std::int64_t retry_at_ms) override {
        finish(id, worker, retry_at_ms >= 0 ? "retry" : "failed", error, retry_at_ms);
    }
    asio::awaitable<void> complete_async(std::string id, std::string worker, std::string result, std::int64_t keep_ms) override {
        co_await redis_->template eval<std::int64_t>(jobs_finish_script(), 0, q_, id, worker, "complete", result, keep_ms, jobs_now_ms());
    }
    asio::awaitable<void> failed_async(std::string id, std::string worker, std::string error, std::int64_t retry_at_ms) override {
        const char* outcome = retry_at_ms >= 0 ? "retry" : "failed";
        co_await redis_->template eval<std::int64_t>(jobs_finish_script(), 0, q_, id, worker, outcome, error, retry_at_ms, jobs_now_ms());
    }
    void give_back(const std::string& id, const std::string& worker) override { finish(id, worker, "giveback", "", jobs_now_ms()); }
    bool progress(const std::string& id, const std::string& value) override {
        return r_().template eval<std::int64_t>(jobs_progress_script(), 1, q_ + ":job:" + id, value) == 1;
    }
    asio::awaitable<bool> progress_async(std::string id, std::string value) override {
        const std::string key = q_ + ":job:" + id;
        auto n = co_await redis_->template eval<std::int64_t>(jobs_progress_script(), 1, key, value);
        co_return n == 1;
    }
    std::vector<std::string> renew(const std::string& worker, const std::vector<std::string>& ids, std::int64_t lease_ms,
                                   std::chrono::seconds ttl) override {
        const auto now = jobs_now_ms();
        return r_().template eval<std::vector<std::string>>(jobs_renew_script(), 0, q_, worker, now + lease_ms,
                                                   now + 1000 * static_cast<std::int64_t>(ttl.count()), now, ids);
    }
    std::optional<JobInfo> info(const std::string& id) override {
        return info_of(id, r_().template command<std::map<std::string, std::string>>("HGETALL", q_ + ":job:" + id));
    }
    asio::awaitable<std::optional<JobInfo>> info_async(std::string id) override {
        const std::string key = q_ + ":job:" + id;
        auto h = co_await redis_->template command<std::map<std::string, std::string>>("HGETALL", key);
        co_return info_of(id, std::move(h));
    }
    bool abort(const std::string& id) override {
        return r_().template eval<std::int64_t>(jobs_abort_script(), 0, q_, id, jobs_now_ms()) == 1;
    }
    asio::awaitable<bool> abort_async(std::string id) override {
        auto n = co_await redis_->template eval<std::int64_t>(jobs_abort_script(), 0, q_, id, jobs_now_ms());
        co_return n == 1;
    }
    std::vector<std::string> dead_letters() override {
        return r_().template command<std::vector<std::string>>("ZRANGEBYSCORE", q_ + ":dead", jobs_now_ms(), "+inf");
    }
    bool retry_dead(const std::string& id) override {
        return r_().template eval<std::int64_t>(jobs_retry_dead_script(), 0, q_, id, jobs_now_ms()) == 1;
    }
    void wait(std::chrono::milliseconds upto) override {
        const double secs = std::max<double>(0.01, static_cast<double>(upto.count()) / 1000.0);
        try {
            waiter_->blocking().command("BLPOP", q_ + ":wake", secs);
        } catch (const RedisError&) {
            std::this_thread::sleep_for(std::min(upto, std::chrono::milliseconds(200)));
        }
    }
    bool worker_alive() override {
        return r_().template command<std::int64_t>("ZCOUNT", q_ + ":workers", jobs_now_ms(), "+inf") > 0;
    }
    void worker_gone(const std::string& worker) override { r_().template command<std::int64_t>("ZREM", q_ + ":workers", worker); }
    // BLPOP on <q>:done:<id> (on a connection of its own, from a few kept for this), which the
    // script that finishes the job pushes to; put back for the next waiter.
    bool wait_done(const std::string& id, std::chrono::milliseconds upto) override {
        Redis w = take_waiter();
        const std::string key = q_ + ":done:" + id;
        auto v = w.blocking().command("BLPOP", key, seconds_of(upto));
        const bool told = !v.is_null();
        if (told) pass_on(w.blocking(), key);
        put_waiter(std::move(w));
        return told;
    }
    asio::awaitable<bool> wait_done_async(std::string id, std::chrono::milliseconds upto) override {
        Redis w = take_waiter();  // dropped (not kept) when the wait is cancelled: its BLPOP still runs
        const std::string key = q_ + ":done:" + id;
        auto v = co_await w.command("BLPOP", key, seconds_of(upto));
        const bool told = !v.is_null();
        if (told) {
            RedisBatch b;
            b.add("LPUSH", key, 1).add("PEXPIRE", key, 60000);
            co_await w.pipeline(b);
        }
        put_waiter(std::move(w));
        co_return told;
    }
    bool claim_once(const std::string& key, std::int64_t ttl_ms) override {
        return r_().set(q_ + ":once:" + key, "1", {.px = std::chrono::milliseconds(ttl_ms), .nx = true});
    }
    Redis& redis() { return *redis_; }

private:
    RedisBlocking r_() { return redis_->blocking(); }
    static double seconds_of(std::chrono::milliseconds upto) {  // BLPOP's 0 is forever
        return std::max<double>(0.01, static_cast<double>(upto.count()) / 1000.0);
    }
    static void pass_on(RedisBlocking r, const std::string& key) {  // for the next waiter
        RedisBatch b;
        b.add("LPUSH", key, 1).add("PEXPIRE", key, 60000);
        r.pipeline(b);
    }
    Redis take_waiter() {
        {
            std::lock_guard lock(waiters_m_);
            if (!waiters_.empty()) {
                Redis w = std::move(waiters_.back());
                waiters_.pop_back();
                return w;
            }
        }
        return redis_->dedicated();
    }
    void put_waiter(Redis w) {
        std::lock_guard lock(waiters_m_);
        if (waiters_.size() < 8) waiters_.push_back(std::move(w));
    }
    static std::optional<JobInfo> info_of(const std::string& id, std::map<std::string, std::string> h) {
        if (h.empty()) return std::nullopt;
        JobInfo i;
        auto num = [&](const char* k) -> std::int64_t {
            auto it = h.find(k);
            return it == h.end() || it->second.empty() ? 0 : std::stoll(it->second);
        };
        i.job_id = id;
        i.function = h["function"];
        i.args = h["args"];
        i.result = h["result"];
        i.error = h["error"];
        i.progress = h["progress"];
        i.worker = h["worker"];
        i.status = jobs_status_of(h["status"]);
        i.tries = static_cast<int>(num("tries"));
        i.max_tries = static_cast<int>(num("max_tries"));
        i.enqueue_ms = num("enqueue");
        i.start_ms = num("start");
        i.finish_ms = num("finish");
        if (h.count("success")) i.success = h["success"] == "1";
        return i;
    }
    void finish(const std::string& id, const std::string& worker, const char* outcome, const std::string& payload, std::int64_t when) {
        r_().template eval<std::int64_t>(jobs_finish_script(), 0, q_, id, worker, outcome, payload, when, jobs_now_ms());
    }

    std::string q_;
    std::optional<Redis> redis_, waiter_;
    std::mutex waiters_m_;
    std::vector<Redis> waiters_;
};
using RedisJobBackend = BasicRedisJobBackend<>;
#endif  // FASTAPI_INTERNALS

// Jobs' backends, made by Jobs' constructors (templates): in the compiled-once mode by functions
// of the one unit, which compiles the backends (a user's unit sees neither backend); header-only
// by templates, instantiated only where a Jobs is made.
#ifdef FASTAPI_SEPARATE_COMPILATION
FASTAPI_DECL std::shared_ptr<JobBackend> make_memory_job_backend();
FASTAPI_DECL std::shared_ptr<JobBackend> make_redis_job_backend(RedisOptions options, std::string queue);
template <int>
std::shared_ptr<JobBackend> new_memory_job_backend() {
    return make_memory_job_backend();
}
template <int>
std::shared_ptr<JobBackend> new_redis_job_backend(RedisOptions options, std::string queue) {
    return make_redis_job_backend(std::move(options), std::move(queue));
}
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::shared_ptr<JobBackend> make_memory_job_backend() { return std::make_shared<MemoryJobBackend>(); }
FASTAPI_DECL std::shared_ptr<JobBackend> make_redis_job_backend(RedisOptions options, std::string queue) {
    return std::make_shared<RedisJobBackend>(std::move(options), std::move(queue));
}
#endif
#else
template <int N>
std::shared_ptr<JobBackend> new_memory_job_backend() {
    return std::make_shared<BasicMemoryJobBackend<N>>();
}
template <int N>
std::shared_ptr<JobBackend> new_redis_job_backend(RedisOptions options, std::string queue) {
    return std::make_shared<BasicRedisJobBackend<N>>(std::move(options), std::move(queue));
}
#endif

template <class F>
struct job_traits;
template <class R, class A>
struct job_traits<R (*)(A)> {
    using result = R;
    using arg = std::decay_t<A>;
    static constexpr bool context = false, noarg = false;
};
template <class R>
struct job_traits<R (*)()> {
    using result = R;
    using arg = std::monostate;
    static constexpr bool context = false, noarg = true;
};
template <class R>
struct job_traits<R (*)(JobContext&)> {
    using result = R;
    using arg = std::monostate;
    static constexpr bool context = true, noarg = true;
};
template <class R, class C, class A>
struct job_traits<R (*)(C, A)> {
    static_assert(std::is_same_v<C, JobContext&>, "fastapi::Jobs: a job's first parameter, when it has two, is JobContext&");
    using result = R;
    using arg = std::decay_t<A>;
    static constexpr bool context = true, noarg = false;
};

// A cron line: "m h dom mon dow" (UTC), or six fields with the seconds first; each field `*`,
// `*/n`, `a`, `a-b`, `a-b/n`, or a list of those separated by commas.
struct CronSpec {
    std::bitset<60> sec, min, hour;
    std::bitset<32> dom;
    std::bitset<13> mon;
    std::bitset<8> dow;

    template <std::size_t N>
    static void field(std::string_view text, int lo, int hi, std::bitset<N>& out) {
        while (!text.empty()) {
            auto comma = text.find(',');
            std::string_view part = text.substr(0, comma);
            text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
            int step = 1, a = lo, b = hi;
            if (auto slash = part.find('/'); slash != std::string_view::npos) {
                step = std::stoi(std::string(part.substr(slash + 1)));
                part = part.substr(0, slash);
            }
            if (part != "*") {
                auto dash = part.find('-');
                a = std::stoi(std::string(part.substr(0, dash)));
                b = dash == std::string_view::npos ? (step > 1 ? hi : a) : std::stoi(std::string(part.substr(dash + 1)));
            }
            if (step < 1 || a < lo || b > hi || a > b) throw std::invalid_argument("fastapi::Jobs::cron: bad field '" + std::string(part) + "'");
            for (int v = a; v <= b; v += step) out.set(static_cast<std::size_t>(v));
        }
    }
    static CronSpec parse(std::string_view line);
    bool due(std::int64_t unix_second) const;
};

#if FASTAPI_DEFINITIONS
FASTAPI_DECL CronSpec CronSpec::parse(std::string_view line) {
    std::vector<std::string_view> f;
    while (!line.empty()) {
        auto sp = line.find(' ');
        if (sp != 0) f.push_back(line.substr(0, sp));
        line = sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
    }
    if (f.size() == 5) f.insert(f.begin(), "0");
    if (f.size() != 6) throw std::invalid_argument("fastapi::Jobs::cron: five fields (m h dom mon dow), or six with seconds first");
    CronSpec c;
    field(f[0], 0, 59, c.sec);
    field(f[1], 0, 59, c.min);
    field(f[2], 0, 23, c.hour);
    field(f[3], 1, 31, c.dom);
    field(f[4], 1, 12, c.mon);
    field(f[5], 0, 7, c.dow);
    if (c.dow.test(7)) c.dow.set(0);
    return c;
}

FASTAPI_DECL bool CronSpec::due(std::int64_t unix_second) const {
    std::time_t t = static_cast<std::time_t>(unix_second);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    return sec.test(static_cast<std::size_t>(tm.tm_sec)) && min.test(static_cast<std::size_t>(tm.tm_min)) &&
           hour.test(static_cast<std::size_t>(tm.tm_hour)) && dom.test(static_cast<std::size_t>(tm.tm_mday)) &&
           mon.test(static_cast<std::size_t>(tm.tm_mon + 1)) && dow.test(static_cast<std::size_t>(tm.tm_wday));
}
#endif

inline std::atomic<bool>& jobs_stop_signal() {
    static std::atomic<bool> stop{false};
    return stop;
}

// A job's argument from its JSON text, validated (FastAPI's error list, under "args").
template <class A>
A jobs_decode(const std::string& text) {
    picojson::value v;
    std::string err = picojson::parse(v, text);
    A arg{};
    ValidationErrors errors;
    Loc loc{std::string("args")};
    if (!err.empty()) {
        add_error(errors, loc, "json_invalid", "JSON decode error", picojson::value(text));
        throw RequestValidationError(std::move(errors));
    }
    if (!from_json(v, arg, errors, loc)) throw RequestValidationError(std::move(errors));
    return arg;
}

// A complete job's result read as T.
template <class T>
T jobs_result_of(const std::string& id, const JobInfo& i) {
    picojson::value v;
    std::string err = picojson::parse(v, i.result);
    if (!err.empty()) throw JobFailed("job " + id + ": its result is not JSON");
    T out{};
    ValidationErrors errors;
    Loc loc;
    if (!from_json(v, out, errors, loc)) throw RequestValidationError(std::move(errors));
    return out;
}

}  // namespace detail

// What a running job sees: its id and try, when it was enqueued, a way to report progress,
// the app's state (what its lifespan set up).
class JobContext : public std::enable_shared_from_this<JobContext> {
public:
    std::string job_id;
    int job_try = 1;
    std::chrono::system_clock::time_point enqueue_time;

    // Reports progress (any model or JSON value; read back with Job::progress()), and throws
    // JobAborted when the job was aborted or ran past its timeout: call it in long loops. In
    // a coroutine job it does not wait for Redis (the value is written by the loop, the
    // latest one when several come quickly).
    template <class T>
    void progress(const T& value) {
        std::string text = to_json_value(value).serialize();
        if (loop_) report(std::move(text));
        else if (backend_->progress(job_id, text)) aborted_ = true;
        check();
    }
    void check() const {
        if (aborted_) throw JobAborted("aborted");
        if (std::chrono::steady_clock::now() > deadline_) throw JobAborted("timeout");
    }
    bool aborted() const noexcept { return aborted_; }

    // The app's State<T> (app.set_state<T>(...), or made on first use), as a handler's
    // State<T> parameter sees it: a pool, the settings, what the lifespan opened. Needs the
    // worker to know the app: jobs.main(argc, argv, app) or jobs.set_app(app).
    template <class T>
    T& state() const {
        if (!app_)
            throw std::logic_error("fastapi::JobContext::state<T>(): the worker has no app: pass it with "
                                   "jobs.main(argc, argv, app) or jobs.set_app(app)");
        return *static_cast<T*>(app_->state_slot(typeid(T), detail::default_maker<T>()));
    }

private:
    friend class Jobs;
    // On the job's loop: a coroutine job stopped at its next suspension point (timeout, abort,
    // given back at a graceful stop).
    void stop(const char* why);
    // From any thread: a plain job is told (check() throws), a coroutine job stopped.
    void stop_soon(const char* why);
    FASTAPI_CORO_DECL void report(std::string text);
    FASTAPI_CORO_DECL static asio::awaitable<void> write_progress(std::shared_ptr<JobContext> self);

    detail::JobBackend* backend_ = nullptr;
    detail::AppContext* app_ = nullptr;
    std::chrono::steady_clock::time_point deadline_;
    std::atomic<bool> aborted_{false};
    // A coroutine job's: its loop, what cancels it and why, its progress not written yet (loop only).
    asio::any_io_executor loop_;
    asio::cancellation_signal cancel_;
    std::string stop_reason_, pending_;
    bool has_pending_ = false, writing_ = false;
};

#if FASTAPI_DEFINITIONS
FASTAPI_DECL void JobContext::stop(const char* why) {
    if (stop_reason_.empty()) stop_reason_ = why;
    if (std::string_view(why) == "aborted") aborted_ = true;
    cancel_.emit(asio::cancellation_type::terminal);
}

FASTAPI_DECL void JobContext::stop_soon(const char* why) {
    aborted_ = true;
    if (loop_) asio::post(loop_, [self = shared_from_this(), why] { self->stop(why); });
}

FASTAPI_CORO_DEF void JobContext::report(std::string text) {  // on the loop
    pending_ = std::move(text);
    has_pending_ = true;
    if (writing_) return;
    writing_ = true;
    asio::co_spawn(loop_, write_progress(shared_from_this()), asio::detached);
}

FASTAPI_CORO_DEF asio::awaitable<void> JobContext::write_progress(std::shared_ptr<JobContext> self) {
    while (self->has_pending_) {
        std::string text = std::move(self->pending_);
        self->has_pending_ = false;
        bool aborted = false;
        try {
            aborted = co_await self->backend_->progress_async(self->job_id, text);
        } catch (const std::exception&) {  // Redis away: the next report tries again
        }
        if (aborted) self->stop("aborted");
    }
    self->writing_ = false;
}
#endif

// A handle on a job: status, result, info, progress, abort. Each call is blocking (for plain
// handlers and threads); the async_ ones are the same on an event loop (co_await them in a
// coroutine handler), as Asio names its operations.
class Job {
public:
    Job(std::shared_ptr<detail::JobBackend> b, std::string id) : b_(std::move(b)), id_(std::move(id)) {}
    const std::string& id() const noexcept { return id_; }
    JobStatus status() const {
        auto i = b_->info(id_);
        return i ? i->status : JobStatus::not_found;
    }
    std::optional<JobInfo> info() const { return b_->info(id_); }
    // The last progress reported, as JSON text (empty when none).
    std::string progress() const {
        auto i = b_->info(id_);
        return i ? i->progress : std::string();
    }
    bool abort() const { return b_->abort(id_); }
    // Waits (up to timeout) for the job to finish: its result read as T; JobFailed with the
    // job's error. Not polled: woken when the job finishes (Redis: a BLPOP on a list the
    // finishing script pushes to; in memory: a condition variable).
    template <class T>
    T result(std::chrono::milliseconds timeout = std::chrono::seconds(30)) const {
        const auto until = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            auto i = b_->info(id_);
            if (!i) throw JobFailed("job " + id_ + " not found");
            if (i->status == JobStatus::complete) return detail::jobs_result_of<T>(id_, *i);
            if (i->status == JobStatus::failed) throw JobFailed(i->error);
            const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
            if (left.count() <= 0) throw JobFailed("job " + id_ + ": no result within the timeout");
            if (b_->wait_done(id_, left)) {
                // Told, yet not finished: a stale notice (the id used again): look again shortly.
                if (auto again = b_->info(id_); again && again->status != JobStatus::complete && again->status != JobStatus::failed)
                    std::this_thread::sleep_for(std::chrono::milliseconds(5));
            }
        }
    }

    FASTAPI_LAZY asio::awaitable<JobStatus> async_status() const { return status_of(b_, id_); }
    FASTAPI_LAZY asio::awaitable<std::optional<JobInfo>> async_info() const { return info_of(b_, id_); }
    FASTAPI_LAZY asio::awaitable<bool> async_abort() const { return abort_of(b_, id_); }
    template <class T>
    asio::awaitable<T> async_result(std::chrono::milliseconds timeout = std::chrono::seconds(30)) const {
        return result_of<T>(b_, id_, timeout);
    }

private:
    // (Static, their arguments by value: the Job may be a temporary of the co_await.)
    FASTAPI_CORO_DECL static asio::awaitable<JobStatus> status_of(std::shared_ptr<detail::JobBackend> b, std::string id);
    FASTAPI_CORO_DECL static asio::awaitable<std::optional<JobInfo>> info_of(std::shared_ptr<detail::JobBackend> b, std::string id);
    FASTAPI_CORO_DECL static asio::awaitable<bool> abort_of(std::shared_ptr<detail::JobBackend> b, std::string id);
    template <class T>
    static asio::awaitable<T> result_of(std::shared_ptr<detail::JobBackend> b, std::string id, std::chrono::milliseconds timeout) {
        const auto until = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            auto i = co_await b->info_async(id);
            if (!i) throw JobFailed("job " + id + " not found");
            if (i->status == JobStatus::complete) co_return detail::jobs_result_of<T>(id, *i);
            if (i->status == JobStatus::failed) throw JobFailed(i->error);
            const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
            if (left.count() <= 0) throw JobFailed("job " + id + ": no result within the timeout");
            co_await b->wait_done_async(id, left);
        }
    }

    std::shared_ptr<detail::JobBackend> b_;
    std::string id_;
};

#if FASTAPI_DEFINITIONS
FASTAPI_CORO_DEF asio::awaitable<JobStatus> Job::status_of(std::shared_ptr<detail::JobBackend> b, std::string id) {
    auto i = co_await b->info_async(id);
    co_return i ? i->status : JobStatus::not_found;
}

FASTAPI_CORO_DEF asio::awaitable<std::optional<JobInfo>> Job::info_of(std::shared_ptr<detail::JobBackend> b, std::string id) {
    auto i = co_await b->info_async(id);
    co_return i;
}

FASTAPI_CORO_DEF asio::awaitable<bool> Job::abort_of(std::shared_ptr<detail::JobBackend> b, std::string id) {
    const bool done = co_await b->abort_async(id);
    co_return done;
}
#endif

// The registry and the queue. Jobs() keeps them in memory; Jobs(redis_url) in Redis;
// Jobs::from_env() uses REDIS_URL when it is set.
class Jobs {
    struct Registered {
        JobOptions options;
        std::string (*run)(JobContext&, const std::string&) = nullptr;             // a plain function: args JSON → result JSON
        asio::awaitable<std::string> (*run_async)(JobContext&, std::string) = nullptr;  // a coroutine
    };
    struct Cron {
        std::string name;
        detail::CronSpec spec;
        bool at_startup = false;
    };
    struct Outcome {
        bool ok = false;
        std::string text;  // the result (JSON), or the error
        std::int64_t retry_at = -1;
    };

public:
    // (Templates, the backends they make named through their parameter: nothing of a backend
    // is compiled in a unit that makes no Jobs; in the compiled-once mode the backends are
    // made, and compiled, in the implementation unit.)
    template <int N = 0>
    Jobs() : b_(detail::new_memory_job_backend<N>()) {}
    template <int N = 0>
    explicit Jobs(RedisOptions redis, std::string queue_name = "fastapi:queue")
        : b_(detail::new_redis_job_backend<N>(std::move(redis), queue_name)), queue_(std::move(queue_name)), redis_(true),
          make_redis_(&detail::new_redis_job_backend<N>) {}
    template <int N = 0>
    explicit Jobs(std::string_view redis_url, std::string queue_name = "fastapi:queue")
        : b_(detail::new_redis_job_backend<N>(parse_redis_url(redis_url), queue_name)), queue_(std::move(queue_name)), redis_(true),
          make_redis_(&detail::new_redis_job_backend<N>) {}
    template <int N = 0>
    static std::unique_ptr<Jobs> from_env(std::string queue_name = "fastapi:queue") {
        using Made = std::conditional_t<N == 0, Jobs, Jobs>;  // dependent: its constructors made where this is
        const char* url = std::getenv("REDIS_URL");
        if (url && *url) return std::make_unique<Made>(std::string_view(url), std::move(queue_name));
        return std::make_unique<Made>();
    }
    bool uses_redis() const noexcept { return redis_; }

    // The app whose state jobs see (JobContext::state<T>()) and whose lifespan a worker runs
    // (startup before it takes jobs, shutdown after it stopped). jobs.main(argc, argv, app) sets it.
    Jobs& set_app(detail::AppContext& app) noexcept {
        app_ = &app;
        return *this;
    }

    // jobs.add<square>("square", {.max_tries = 3}): fn is R fn(A) or R fn(JobContext&, A) (or
    // without A), A and R models or picojson values; R may be asio::awaitable<X>: then the
    // job runs on the worker's event loop (plain functions on its blocking pool).
    template <auto Fn>
    Jobs& add(std::string name, JobOptions options = {}) {
        using T = detail::job_traits<decltype(Fn)>;
        Registered r;
        r.options = options;
        if constexpr (detail::awaitable_result<typename T::result>::is_awaitable) r.run_async = &call_async<Fn>;
        else r.run = &call<Fn>;
        std::lock_guard lock(m_);
        names_[reinterpret_cast<const void*>(Fn)] = name;
        registry_[std::move(name)] = std::move(r);
        return *this;
    }

    // A cron job (no argument: R fn() or R fn(JobContext&)), registered as `name` and enqueued by
    // the workers when due: "*/5 * * * *" (UTC), or six fields with the seconds first. Each due
    // run has the job id cron:<name>:<unix second>, so with any number of workers it is enqueued
    // (and run) once: the enqueue is refused when that id exists (arq runs duplicates, #196).
    // {.run_at_startup = true}: also once when workers start (the first of the workers that
    // start within 30 s of each other enqueues it).
    template <auto Fn>
    Jobs& cron(std::string name, std::string_view spec, CronOptions o = {}) {
        static_assert(detail::job_traits<decltype(Fn)>::noarg, "fastapi::Jobs::cron: a cron job takes no argument (or only JobContext&)");
        auto parsed = detail::CronSpec::parse(spec);
        add<Fn>(name, {.max_tries = o.max_tries, .timeout = o.timeout, .keep_result = o.keep_result, .keep_failed = o.keep_failed});
        std::lock_guard lock(m_);
        crons_.push_back({std::move(name), parsed, o.run_at_startup});
        return *this;
    }

    // Type-checked at compile time against the job's parameter; none when a job with that id
    // exists. Blocking (plain handlers, threads); co_await async_enqueue on a loop.
    template <auto Fn, class A>
    std::optional<Job> enqueue(const A& args, EnqueueOptions o = {}) {
        auto r = record<Fn>(args, std::move(o));
        if (!b_->enqueue(r)) return std::nullopt;
        return Job(b_, r.id);
    }
    // By name, the arguments as JSON text (for producers without the job's code).
    std::optional<Job> enqueue(const std::string& function, const std::string& args_json, EnqueueOptions o = {}) {
        auto r = record(function, args_json, std::move(o));
        if (!b_->enqueue(r)) return std::nullopt;
        return Job(b_, r.id);
    }
    // The same from a coroutine, without blocking its loop: co_await jobs.async_enqueue<fn>(args),
    // or with options named first (GCC 12 destroys an aggregate made inside a co_await twice):
    //   EnqueueOptions o{.job_id = "a"}; co_await jobs.async_enqueue<fn>(args, o);
    template <auto Fn, class A>
    asio::awaitable<std::optional<Job>> async_enqueue(const A& args) {
        return enqueue_record(b_, record<Fn>(args, EnqueueOptions()));
    }
    template <auto Fn, class A>
    asio::awaitable<std::optional<Job>> async_enqueue(const A& args, const EnqueueOptions& o) {
        return enqueue_record(b_, record<Fn>(args, o));
    }
    FASTAPI_LAZY asio::awaitable<std::optional<Job>> async_enqueue(const std::string& function, const std::string& args_json) {
        return enqueue_record(b_, record(function, args_json, EnqueueOptions()));
    }
    FASTAPI_LAZY asio::awaitable<std::optional<Job>> async_enqueue(const std::string& function, const std::string& args_json, const EnqueueOptions& o) {
        return enqueue_record(b_, record(function, args_json, o));
    }
    Job job(std::string id) const { return Job(b_, std::move(id)); }
    std::vector<std::string> dead_letters() { return b_->dead_letters(); }
    bool retry(const std::string& id) { return b_->retry_dead(id); }

    // In memory (TestClient, tests): runs what is due now, here, until nothing is; the count run.
    FASTAPI_CORO_DECL std::size_t run_all();

    // Runs jobs until stopped (SIGTERM/SIGINT, stop()) or, with burst, until nothing is queued.
    // Returns the process status.
    FASTAPI_CORO_DECL int work(WorkerOptions o = {});
    // Jobs the last work() gave back at its graceful stop (their threads still running).
    std::size_t given_back() const noexcept { return last_given_back_; }
    void stop() { stop_ = true; }

    // A worker in this process (small deployments, and the example without Redis). With an
    // app (set_app), it runs the app's lifespan too (with the server: the first to enter runs
    // the startup, the last to leave the shutdown).
    FASTAPI_CORO_DECL void start_worker(WorkerOptions o = {});
    ~Jobs();

    // `./app worker [--burst] [--max-jobs N] [--queue-name Q] [--check]`: runs the worker and
    // returns its status; none when the command line is not `worker` (then app.run(argc, argv)).
    // With the app, the worker runs its lifespan around the jobs and they see its state.
    FASTAPI_CORO_DECL std::optional<int> main(int argc, char** argv, detail::AppContext& app);
    FASTAPI_CORO_DECL std::optional<int> main(int argc, char** argv);
    const std::string& worker_id() const noexcept { return worker_id_; }

private:
    template <auto Fn>
    static std::string call(JobContext& ctx, const std::string& text) {
        using T = detail::job_traits<decltype(Fn)>;
        if constexpr (T::noarg) {
            (void)text;
            auto run = [&]() -> decltype(auto) {
                if constexpr (T::context) return Fn(ctx);
                else return Fn();
            };
            if constexpr (std::is_void_v<typename T::result>) return run(), std::string("null");
            else return to_json_value(run()).serialize();
        } else {
            auto arg = detail::jobs_decode<typename T::arg>(text);
            auto run = [&]() -> decltype(auto) {
                if constexpr (T::context) return Fn(ctx, arg);
                else return Fn(arg);
            };
            if constexpr (std::is_void_v<typename T::result>) return run(), std::string("null");
            else return to_json_value(run()).serialize();
        }
    }
    template <auto Fn>
    static asio::awaitable<std::string> call_async(JobContext& ctx, std::string text) {
        using T = detail::job_traits<decltype(Fn)>;
        using R = typename detail::awaitable_result<typename T::result>::type;
        if constexpr (T::noarg) {
            if constexpr (std::is_void_v<R>) {
                if constexpr (T::context) co_await Fn(ctx);
                else co_await Fn();
                co_return std::string("null");
            } else {
                if constexpr (T::context) {
                    auto out = co_await Fn(ctx);
                    co_return to_json_value(out).serialize();
                } else {
                    auto out = co_await Fn();
                    co_return to_json_value(out).serialize();
                }
            }
        } else {
            auto arg = detail::jobs_decode<typename T::arg>(text);
            if constexpr (std::is_void_v<R>) {
                if constexpr (T::context) co_await Fn(ctx, arg);
                else co_await Fn(arg);
                co_return std::string("null");
            } else {
                if constexpr (T::context) {
                    auto out = co_await Fn(ctx, arg);
                    co_return to_json_value(out).serialize();
                } else {
                    auto out = co_await Fn(arg);
                    co_return to_json_value(out).serialize();
                }
            }
        }
    }
    FASTAPI_CORO_DECL static asio::awaitable<std::optional<Job>> enqueue_record(std::shared_ptr<detail::JobBackend> b, detail::JobRecord r);
    template <auto Fn, class A>
    detail::JobRecord record(const A& args, EnqueueOptions o) {
        using T = detail::job_traits<decltype(Fn)>;
        static_assert(std::is_convertible_v<const A&, const typename T::arg&>,
                      "fastapi::Jobs::enqueue<fn>(args): args is not the job's parameter type");
        std::string name;
        {
            std::lock_guard lock(m_);
            auto it = names_.find(reinterpret_cast<const void*>(Fn));
            if (it == names_.end()) throw std::logic_error("fastapi::Jobs::enqueue: the job is not registered (jobs.add<fn>(\"name\"))");
            name = it->second;
        }
        return record(name, to_json_value(static_cast<const typename T::arg&>(args)).serialize(), std::move(o));
    }
    detail::JobRecord record(const std::string& function, const std::string& args_json, EnqueueOptions o);

    const Registered* find(const std::string& function);
    bool coroutine(const std::string& function);
    // cron's run_at_startup: once for the workers that start within 30 s of each other.
    void start_crons();

    // A finishing call, tried again while Redis is away (bounded: then the lease runs out and
    // the job runs again elsewhere, at least once).
    template <class F>
    static void persist(F&& f) {
        for (int i = 0;; ++i) {
            try {
                return f();
            } catch (const std::exception& e) {
                if (i >= 100) {
                    std::fprintf(stderr, "fastapi::Jobs: could not record a job's end: %s\n", e.what());
                    return;
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
            }
        }
    }
    void prepare(const detail::ClaimedJob& j, JobContext& ctx);
    // What a run came to: its result, or its error and whether (when) it runs again.
    Outcome judge(const detail::ClaimedJob& j, const JobContext& ctx, std::exception_ptr error, std::string result);
    void run_one(const detail::ClaimedJob& j, std::shared_ptr<JobContext> ctx);
    // A coroutine job on the loop it runs on: a coroutine of its own (so that cancelling it,
    // on its timeout or an abort, stops it alone, at its next suspension point), then its end
    // recorded without blocking the loop. `token` ends its worker entry when this frame goes.
    FASTAPI_CORO_DECL asio::awaitable<void> run_async(detail::ClaimedJob j, std::shared_ptr<JobContext> ctx, std::shared_ptr<void> token);

    std::mutex m_;
    std::shared_ptr<detail::JobBackend> b_;
    std::string queue_ = "fastapi:queue";
    bool redis_ = false;
    // What made the Redis backend (the constructor's): another queue's for `worker --queue-name`.
    std::shared_ptr<detail::JobBackend> (*make_redis_)(RedisOptions, std::string) = nullptr;
    detail::AppContext* app_ = nullptr;
    std::map<std::string, Registered> registry_;
    std::map<const void*, std::string> names_;
    std::vector<Cron> crons_;
    std::atomic<bool> stop_{false};
    std::size_t last_given_back_ = 0;
    std::atomic<int> active_{0};
    std::vector<std::shared_ptr<asio::thread_pool>> abandoned_;  // pools whose jobs outlived a graceful stop
    std::thread in_process_;
    std::string worker_id_ = detail::jobs_worker_id();
};

#if FASTAPI_DEFINITIONS
FASTAPI_DECL Jobs::~Jobs() {
    if (in_process_.joinable()) {
        stop();
        in_process_.join();
    }
    // Jobs given back at a graceful stop may still run on the pool's threads (C++ cannot
    // interrupt them): they use this, so it waits for them (they were told to stop).
    while (active_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

FASTAPI_DECL detail::JobRecord Jobs::record(const std::string& function, const std::string& args_json, EnqueueOptions o) {
    detail::JobRecord r;
    r.id = o.job_id.empty() ? detail::jobs_random_id() : o.job_id;
    r.function = function;
    r.args = args_json;
    JobOptions jo;
    {
        std::lock_guard lock(m_);
        auto it = registry_.find(function);
        if (it != registry_.end()) jo = it->second.options;
    }
    r.max_tries = jo.max_tries;
    r.timeout_ms = jo.timeout.count();
    r.keep_ms = jo.keep_result.count();
    r.keep_failed_ms = jo.keep_failed.count();
    r.backoff = jo.backoff;
    r.enqueue_ms = detail::jobs_now_ms();
    r.run_at_ms = r.enqueue_ms + o.defer_by.count();
    if (o.defer_until)
        r.run_at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(o.defer_until->time_since_epoch()).count();
    r.expires_at_ms = o.expires.count() > 0 ? r.enqueue_ms + o.expires.count() : 0;
    return r;
}

FASTAPI_DECL const Jobs::Registered* Jobs::find(const std::string& function) {
    std::lock_guard lock(m_);
    auto it = registry_.find(function);
    return it == registry_.end() ? nullptr : &it->second;
}

FASTAPI_DECL bool Jobs::coroutine(const std::string& function) {
    auto r = find(function);
    return r && r->run_async;
}

FASTAPI_DECL void Jobs::start_crons() {
    for (auto& c : crons_) {
        if (!c.at_startup) continue;
        try {
            if (b_->claim_once("cron:" + c.name + ":startup", 30000))
                enqueue(c.name, "null", {.job_id = "cron:" + c.name + ":startup:" + std::to_string(detail::jobs_now_ms())});
        } catch (const std::exception& e) {
            std::fprintf(stderr, "fastapi::Jobs: cron %s at startup: %s\n", c.name.c_str(), e.what());
        }
    }
}

FASTAPI_DECL void Jobs::prepare(const detail::ClaimedJob& j, JobContext& ctx) {
    ctx.job_id = j.id;
    ctx.job_try = j.tries;
    ctx.enqueue_time = std::chrono::system_clock::time_point(std::chrono::milliseconds(j.enqueue_ms));
    ctx.backend_ = b_.get();
    ctx.app_ = app_;
    ctx.deadline_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(j.timeout_ms > 0 ? j.timeout_ms : 1000LL * 3600 * 24 * 365);
}

FASTAPI_DECL Jobs::Outcome Jobs::judge(const detail::ClaimedJob& j, const JobContext& ctx, std::exception_ptr error, std::string result) {
    auto fail = [&](std::string text, std::int64_t defer_ms, bool final) {
        if (ctx.aborted() && text == "aborted") final = true;
        const bool again = !final && j.tries < j.max_tries;
        return Outcome{false, std::move(text), again ? detail::jobs_now_ms() + defer_ms : -1};
    };
    if (!error) {
        if (std::chrono::steady_clock::now() > ctx.deadline_) return fail("timeout", 0, false);
        if (ctx.aborted()) return fail("aborted", 0, true);
        return Outcome{true, std::move(result), -1};
    }
    try {
        std::rethrow_exception(error);
    } catch (const Retry& r) {
        return fail("retry requested", r.defer.count(), false);
    } catch (const JobAborted& e) {
        return fail(e.what(), 0, std::string_view(e.what()) == "aborted");
    } catch (const RequestValidationError& e) {
        std::string text = "validation error:";
        for (auto& err : e.errors()) {
            text += " [";
            for (auto& p : err.loc) text += std::holds_alternative<std::string>(p) ? std::get<std::string>(p) + "." : std::to_string(std::get<std::int64_t>(p)) + ".";
            text += "] " + err.msg + ";";
        }
        return fail(text, 0, true);
    } catch (const std::exception& e) {
        // A coroutine job stopped at a suspension point (its timeout, an abort): why it was.
        if (!ctx.stop_reason_.empty()) return fail(ctx.stop_reason_, 0, ctx.stop_reason_ == "aborted");
        return fail(e.what(), j.backoff ? (1000LL << std::min(j.tries - 1, 16)) : 0, false);
    } catch (...) {
        return fail("unknown exception", 0, false);
    }
}

FASTAPI_DECL void Jobs::run_one(const detail::ClaimedJob& j, std::shared_ptr<JobContext> ctx) {
    prepare(j, *ctx);
    const Registered* reg = find(j.function);
    Outcome out;
    if (!reg || !reg->run) {
        out = Outcome{false, "no job named '" + j.function + "' in this worker", -1};
    } else {
        std::exception_ptr error;
        std::string result;
        try {
            result = reg->run(*ctx, j.args);
        } catch (...) {
            error = std::current_exception();
        }
        out = judge(j, *ctx, error, std::move(result));
    }
    persist([&] {
        if (out.ok) b_->complete(j.id, worker_id_, out.text, j.keep_ms);
        else b_->failed(j.id, worker_id_, out.text, out.retry_at);
    });
}

FASTAPI_CORO_DEF std::size_t Jobs::run_all() {
    std::size_t n = 0;
    for (int rounds = 0; rounds < 1000; ++rounds) {
        auto claimed = b_->claim(worker_id_, 100, 60000);
        if (claimed.jobs.empty()) break;
        for (auto& j : claimed.jobs) {
            auto ctx = std::make_shared<JobContext>();
            if (coroutine(j.function)) {
                asio::io_context io;
                ctx->loop_ = io.get_executor();
                asio::co_spawn(io, run_async(j, ctx, nullptr), asio::detached);
                io.run();
            } else {
                run_one(j, ctx);
            }
            ++n;
        }
    }
    return n;
}

FASTAPI_CORO_DEF int Jobs::work(WorkerOptions o) {
    stop_ = false;
    struct Running {  // shared with the jobs, which may outlive a graceful stop
        std::mutex m;
        std::condition_variable cv;
        std::map<std::string, std::shared_ptr<JobContext>> jobs;
    };
    auto st = std::make_shared<Running>();
    // The worker's event loop, where coroutine jobs run (plain ones on the pool below).
    auto loop = std::make_shared<asio::io_context>(1);
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard(loop->get_executor());
    auto loop_done = std::make_shared<std::atomic<bool>>(false);
    std::thread loop_thread([loop, loop_done] {
        for (;;) {
            try {
                loop->run();
                break;
            } catch (const std::exception& e) {
                std::fprintf(stderr, "fastapi::Jobs: worker loop: %s\n", e.what());
            }
        }
        *loop_done = true;
    });
    // The blocking pool plain jobs run on: max_jobs threads, made once (not a thread per job).
    auto pool = std::make_shared<asio::thread_pool>(o.max_jobs);
    last_given_back_ = 0;
    auto last_renew = std::chrono::steady_clock::now() - std::chrono::hours(1);
    const auto renew_every = std::max(std::chrono::milliseconds(50), o.lease / 4);
    auto ids = [&] {
        std::vector<std::string> out;
        std::lock_guard lock(st->m);
        for (auto& [id, c] : st->jobs) out.push_back(id);
        return out;
    };
    // Held by whatever runs the job (a thread, a coroutine frame): its entry goes with it.
    auto entry_token = [this, st](const std::string& id) {
        ++active_;
        return std::shared_ptr<void>(nullptr, [this, st, id](void*) {
            {
                std::lock_guard lock(st->m);
                st->jobs.erase(id);
                st->cv.notify_all();
            }
            --active_;  // the last use of this: ~Jobs waits for it
        });
    };
    auto stopping = [&] { return stop_.load() || detail::jobs_stop_signal().load(); };
    start_crons();
    std::int64_t cron_checked = detail::jobs_now_ms() / 1000;
    while (!stopping()) {
        try {
            if (const auto now_s = detail::jobs_now_ms() / 1000; !crons_.empty() && now_s > cron_checked) {
                for (std::int64_t t = std::max(cron_checked + 1, now_s - 60); t <= now_s; ++t)
                    for (auto& c : crons_)
                        if (c.spec.due(t)) enqueue(c.name, "null", {.job_id = "cron:" + c.name + ":" + std::to_string(t)});
                cron_checked = now_s;
            }
            if (std::chrono::steady_clock::now() - last_renew >= renew_every) {
                last_renew = std::chrono::steady_clock::now();
                auto aborted = b_->renew(worker_id_, ids(), o.lease.count(), o.health_ttl);
                std::lock_guard lock(st->m);
                for (auto& id : aborted)
                    if (auto it = st->jobs.find(id); it != st->jobs.end()) it->second->stop_soon("aborted");
            }
            std::size_t free;
            {
                std::unique_lock lock(st->m);
                if (st->jobs.size() >= o.max_jobs) {
                    st->cv.wait_for(lock, renew_every);
                    continue;
                }
                free = o.max_jobs - st->jobs.size();
            }
            auto claimed = b_->claim(worker_id_, free, o.lease.count());
            for (auto& j : claimed.jobs) {
                auto ctx = std::make_shared<JobContext>();
                {
                    std::lock_guard lock(st->m);
                    st->jobs[j.id] = ctx;
                }
                auto token = entry_token(j.id);
                if (coroutine(j.function)) {
                    ctx->loop_ = loop->get_executor();
                    asio::co_spawn(*loop, run_async(j, ctx, std::move(token)), asio::detached);
                    continue;
                }
                asio::post(*pool, [this, j, ctx, token = std::move(token)]() mutable {
                    run_one(j, ctx);
                    token.reset();
                });
            }
            if (claimed.jobs.empty()) {
                std::size_t busy;
                {
                    std::lock_guard lock(st->m);
                    busy = st->jobs.size();
                }
                if (o.burst && busy == 0 && claimed.waiting == 0) break;
                auto upto = renew_every;
                if (!crons_.empty()) upto = std::min(upto, std::chrono::milliseconds(1000 - detail::jobs_now_ms() % 1000 + 1));
                if (claimed.next_due_ms >= 0)
                    upto = std::min(upto, std::chrono::milliseconds(std::max<std::int64_t>(1, claimed.next_due_ms - detail::jobs_now_ms())));
                b_->wait(upto);
            }
        } catch (const std::exception& e) {  // Redis away: try again shortly
            std::fprintf(stderr, "fastapi::Jobs: worker: %s\n", e.what());
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    }
    // Graceful stop: running jobs get the grace period, then go back without counting a
    // try; coroutine jobs are stopped then (at their next suspension point), plain ones told.
    std::size_t left = 0;
    {
        std::unique_lock lock(st->m);
        const auto until = std::chrono::steady_clock::now() + o.grace;
        while (!st->jobs.empty() && std::chrono::steady_clock::now() < until) {
            lock.unlock();
            try {
                b_->renew(worker_id_, ids(), o.lease.count(), o.health_ttl);
            } catch (const std::exception&) {
            }
            lock.lock();
            st->cv.wait_for(lock, std::chrono::milliseconds(50));
        }
        for (auto& [id, ctx] : st->jobs) {
            try {
                b_->give_back(id, worker_id_);
            } catch (const std::exception&) {
            }
            ctx->stop_soon("given back");
            if (!ctx->loop_) ++left;
        }
    }
    try {
        b_->worker_gone(worker_id_);
    } catch (const std::exception&) {
    }
    // The loop ends once its coroutines have (bounded: a coroutine that never suspends cannot be stopped).
    guard.reset();
    for (int i = 0; i < 1200 && !*loop_done; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (*loop_done) {
        loop_thread.join();
    } else {
        loop_thread.detach();
        ++left;
    }
    if (left > 0) {
        last_given_back_ = left;
        // A thread cannot be interrupted: its job ends on its own; the pool is joined by ~Jobs after it.
        std::lock_guard lock(m_);
        abandoned_.push_back(std::move(pool));
        return 0;
    }
    pool->join();
    return 0;
}

FASTAPI_CORO_DEF void Jobs::start_worker(WorkerOptions o) {
    if (!redis_ && std::getenv(detail::worker_env_name)) {
        // One of several web processes (--workers N): each would have a queue of its own.
        std::fprintf(stderr, "fastapi::Jobs: an in-memory job queue belongs to one process, and this is one of several "
                             "web processes (--workers N): a job enqueued in one would be unknown to the others. Set "
                             "REDIS_URL (and run `./app worker`), or serve with one process.\n");
        std::fflush(nullptr);
        std::_Exit(3);  // a worker that cannot start: the supervisor stops instead of restarting it
    }
    in_process_ = std::thread([this, o] {
        if (app_) {
            try {
                app_->enter_lifespan();
            } catch (const std::exception& e) {
                std::fprintf(stderr, "fastapi::Jobs: worker: the app's startup failed: %s\n", e.what());
                return;
            }
        }
        work(o);
        if (app_) app_->exit_lifespan();
    });
}

FASTAPI_CORO_DEF std::optional<int> Jobs::main(int argc, char** argv, detail::AppContext& app) {
    set_app(app);
    return main(argc, argv);
}

FASTAPI_CORO_DEF std::optional<int> Jobs::main(int argc, char** argv) {
    if (argc < 2 || std::string_view(argv[1]) != "worker") return std::nullopt;
    WorkerOptions o;
    bool check = false;
    for (int i = 2; i < argc; ++i) {
        std::string_view a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) throw std::invalid_argument(std::string(a) + " needs a value");
            return argv[++i];
        };
        try {
            if (a == "--burst") o.burst = true;
            else if (a == "--check") check = true;
            else if (a == "--max-jobs") o.max_jobs = std::max(1ul, std::stoul(value()));
            else if (a == "--lease-ms") o.lease = std::chrono::milliseconds(std::max(100ul, std::stoul(value())));
            else if (a == "--grace-ms") o.grace = std::chrono::milliseconds(std::stoul(value()));
            else if (a == "--queue-name") o.queue_name = value();
            else {
                std::fprintf(stderr, "%s worker: unknown option '%s' (--burst, --check, --max-jobs N, --queue-name Q, --lease-ms N, --grace-ms N)\n",
                             argv[0], argv[i]);
                return 2;
            }
        } catch (const std::exception& e) {
            std::fprintf(stderr, "%s worker: %s\n", argv[0], e.what());
            return 2;
        }
    }
    if (!redis_) {
        std::fprintf(stderr, "%s worker: set REDIS_URL (an in-memory queue is served by the web process itself)\n", argv[0]);
        return 2;
    }
    if (!o.queue_name.empty() && o.queue_name != queue_) {
        b_ = make_redis_(redis_options_from_env(), o.queue_name);
    }
    if (check) {
        try {
            return b_->worker_alive() ? 0 : 1;
        } catch (const std::exception& e) {
            std::fprintf(stderr, "%s worker --check: %s\n", argv[0], e.what());
            return 1;
        }
    }
    // SIGTERM/SIGINT stop the worker gracefully; the program's own handlers are back after it.
    struct Restore {
        struct sigaction term {}, intr {};
        ~Restore() {
            ::sigaction(SIGTERM, &term, nullptr);
            ::sigaction(SIGINT, &intr, nullptr);
            detail::jobs_stop_signal() = false;
        }
    } restore;
    {
        struct sigaction sa {};
        sa.sa_handler = [](int) { detail::jobs_stop_signal() = true; };
        sigemptyset(&sa.sa_mask);
        ::sigaction(SIGTERM, &sa, &restore.term);
        ::sigaction(SIGINT, &sa, &restore.intr);
    }
    if (app_) {
        try {
            app_->enter_lifespan();
        } catch (const std::exception& e) {
            std::fprintf(stderr, "%s worker: the app's startup failed: %s\n", argv[0], e.what());
            return 3;
        }
    }
    std::fprintf(stderr, "worker %s: started, %zu at once\n", worker_id_.c_str(), o.max_jobs);
    const int status = work(o);
    if (app_) app_->exit_lifespan();
    if (given_back() > 0) {  // the threads of the jobs given back are still running: leave without them
        std::fflush(nullptr);
        std::_Exit(status);
    }
    return status;
}

FASTAPI_CORO_DEF asio::awaitable<std::optional<Job>> Jobs::enqueue_record(std::shared_ptr<detail::JobBackend> b, detail::JobRecord r) {
    const bool queued = co_await b->enqueue_async(r);
    if (!queued) co_return std::nullopt;
    co_return Job(b, r.id);
}

FASTAPI_CORO_DEF asio::awaitable<void> Jobs::run_async(detail::ClaimedJob j, std::shared_ptr<JobContext> ctx, std::shared_ptr<void> token) {
    prepare(j, *ctx);
    const Registered* reg = find(j.function);
    auto ex = co_await asio::this_coro::executor;
    Outcome out;
    if (!reg || !reg->run_async) {
        out = Outcome{false, "no job named '" + j.function + "' in this worker", -1};
    } else {
        asio::steady_timer timeout(ex);
        timeout.expires_at(ctx->deadline_);
        timeout.async_wait([weak = std::weak_ptr<JobContext>(ctx)](const asio::error_code& ec) {
            if (auto c = weak.lock(); c && !ec) c->stop("timeout");
        });
        std::exception_ptr error;
        std::string result;
        try {
            auto job = reg->run_async(*ctx, j.args);
            auto cancellable = asio::bind_cancellation_slot(ctx->cancel_.slot(), asio::use_awaitable);
            result = co_await asio::co_spawn(ex, std::move(job), cancellable);
        } catch (...) {
            error = std::current_exception();
        }
        timeout.cancel();
        ctx->cancel_.slot().clear();
        out = judge(j, *ctx, error, std::move(result));
    }
    asio::steady_timer pause(ex);
    for (int i = 0;; ++i) {  // as persist(), on the loop
        std::string why;
        try {
            if (out.ok) co_await b_->complete_async(j.id, worker_id_, out.text, j.keep_ms);
            else co_await b_->failed_async(j.id, worker_id_, out.text, out.retry_at);
            break;
        } catch (const std::exception& e) {
            why = e.what();
        }
        if (i >= 100) {
            std::fprintf(stderr, "fastapi::Jobs: could not record a job's end: %s\n", why.c_str());
            break;
        }
        pause.expires_after(std::chrono::milliseconds(100));
        co_await pause.async_wait(asio::use_awaitable);
    }
    token.reset();
}
#endif

}  // namespace fastapi
