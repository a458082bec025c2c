#pragma once
// jobs: a job queue with status, progress and results, as FastAPI users get from arq, on Redis
// or in memory. A job is a function registered by name whose argument and result are models
// (or picojson values), serialised with the model machinery: the argument is validated when
// the job starts, with FastAPI's error list. Workers are threads of `./app worker` (or of the
// web process, in memory); a job is claimed with a lease the worker renews, so a crashed
// worker's jobs run again within seconds (at least once). Relies on the model parts and on
// redis/client (blocking API).
#include "../model/json.hpp"
#include "../redis/client.hpp"

#include <unistd.h>  // getpid, gethostname

#include <atomic>              // atomic
#include <bitset>              // bitset (cron fields)
#include <ctime>               // gmtime_r
#include <variant>             // monostate
#include <chrono>              // durations, clocks
#include <condition_variable>  // condition_variable
#include <csignal>             // signal
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

inline std::string jobs_random_id() {
    static thread_local std::mt19937_64 rng{std::random_device{}() ^ static_cast<std::uint64_t>(::getpid())};
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (int i = 0; i < 2; ++i) {
        std::uint64_t v = rng();
        for (int j = 0; j < 16; ++j) out += hex[(v >> (j * 4)) & 15];
    }
    return out;
}

inline JobStatus jobs_status_of(std::string_view s) {
    if (s == "deferred") return JobStatus::deferred;
    if (s == "queued") return JobStatus::queued;
    if (s == "in_progress") return JobStatus::in_progress;
    if (s == "complete") return JobStatus::complete;
    if (s == "failed") return JobStatus::failed;
    return JobStatus::not_found;
}

struct JobRecord {
    std::string id, function, args;
    int max_tries = 1;
    std::int64_t timeout_ms = 0, keep_ms = 0, run_at_ms = 0, expires_at_ms = 0, enqueue_ms = 0;
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
    virtual bool worker_alive() = 0;
};

class MemoryJobBackend final : public JobBackend {
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
                                   std::chrono::seconds) override {
        std::lock_guard lock(m_);
        alive_until_ = jobs_now_ms() + 10000;
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
        return {dead_.begin(), dead_.end()};
    }
    bool retry_dead(const std::string& id) override {
        std::lock_guard lock(m_);
        auto d = std::find(dead_.begin(), dead_.end(), id);
        auto it = jobs_.find(id);
        if (d == dead_.end() || it == jobs_.end()) return false;
        dead_.erase(d);
        it->second.info.status = JobStatus::queued;
        it->second.info.tries = 0;
        it->second.abort = false;
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

private:
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
        dead_.push_back(e.r.id);  // kept until retried: the dead letters
    }
    void sweep() {
        const auto now = jobs_now_ms();
        for (auto it = jobs_.begin(); it != jobs_.end();)
            if (it->second.info.status == JobStatus::complete && it->second.drop_at_ms <= now) it = jobs_.erase(it);
            else ++it;
    }

    std::mutex m_;
    std::condition_variable cv_;
    std::map<std::string, Entry> jobs_;
    std::multimap<std::int64_t, std::string> queue_;
    std::deque<std::string> dead_;
    std::int64_t alive_until_ = 0;
};

// Redis keys, all under the queue's name: <q>:queue (a sorted set by run time), <q>:job:<id>
// (a hash), <q>:leases (a sorted set by lease end), <q>:dead (the dead letters), <q>:wake
// (a list idle workers block on: no polling), <q>:health:<worker>.
inline const RedisScript& jobs_enqueue_script() {
    static const RedisScript s(R"lua(
local q = ARGV[1]
local key = q .. ':job:' .. ARGV[2]
if redis.call('EXISTS', key) == 1 then return 0 end
local status = 'queued'
if tonumber(ARGV[9]) > tonumber(ARGV[8]) then status = 'deferred' end
redis.call('HSET', key, 'function', ARGV[3], 'args', ARGV[4], 'max_tries', ARGV[5], 'timeout', ARGV[6], 'keep', ARGV[7],
  'enqueue', ARGV[8], 'expires', ARGV[10], 'backoff', ARGV[11], 'tries', 0, 'status', status)
redis.call('ZADD', q .. ':queue', ARGV[9], ARGV[2])
redis.call('LPUSH', q .. ':wake', '1')
redis.call('LTRIM', q .. ':wake', 0, 63)
return 1
)lua");
    return s;
}

// Expired leases back to the queue, then up to n due jobs claimed: [waiting, next_due, (id, function, args, tries, max_tries, enqueue, timeout, keep, backoff)...]
inline const RedisScript& jobs_claim_script() {
    static const RedisScript s(R"lua(
local q, now, lease, worker, n = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
local lost = redis.call('ZRANGEBYSCORE', q .. ':leases', '-inf', now, 'LIMIT', 0, 100)
for _, id in ipairs(lost) do
  redis.call('ZREM', q .. ':leases', id)
  redis.call('ZADD', q .. ':queue', now, id)
  redis.call('HSET', q .. ':job:' .. id, 'status', 'queued')
end
local out = {0, -1}
local due = redis.call('ZRANGEBYSCORE', q .. ':queue', '-inf', now, 'LIMIT', 0, n)
for _, id in ipairs(due) do
  redis.call('ZREM', q .. ':queue', id)
  local key = q .. ':job:' .. id
  local f = redis.call('HMGET', key, 'function', 'args', 'max_tries', 'enqueue', 'timeout', 'keep', 'backoff', 'expires', 'abort')
  if f[1] then
    if f[9] == '1' then
      redis.call('HSET', key, 'status', 'failed', 'error', 'aborted', 'success', 0, 'finish', now)
      redis.call('RPUSH', q .. ':dead', id)
    elseif tonumber(f[8]) > 0 and now > tonumber(f[8]) then
      redis.call('HSET', key, 'status', 'failed', 'error', 'expired: not started before its expiry', 'success', 0, 'finish', now)
      redis.call('RPUSH', q .. ':dead', id)
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
    static const RedisScript s(R"lua(
local q, id, worker, outcome, payload, when, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6]), ARGV[7]
local key = q .. ':job:' .. id
local st = redis.call('HMGET', key, 'status', 'worker')
if st[1] ~= 'in_progress' or st[2] ~= worker then return 0 end
redis.call('ZREM', q .. ':leases', id)
if outcome == 'complete' then
  redis.call('HSET', key, 'status', 'complete', 'result', payload, 'success', 1, 'finish', now)
  redis.call('PEXPIRE', key, math.max(1, when))
elseif outcome == 'failed' then
  redis.call('HSET', key, 'status', 'failed', 'error', payload, 'success', 0, 'finish', now)
  redis.call('RPUSH', q .. ':dead', id)
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

// ARGV: q, worker, lease_until, health_ttl, ids... → the aborted ids
inline const RedisScript& jobs_renew_script() {
    static const RedisScript s(R"lua(
local q, worker = ARGV[1], ARGV[2]
redis.call('SET', q .. ':health:' .. worker, ARGV[3], 'EX', ARGV[4])
local aborted = {}
for i = 5, #ARGV do
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
    static const RedisScript s(R"lua(
local q, id, now = ARGV[1], ARGV[2], ARGV[3]
local key = q .. ':job:' .. id
local st = redis.call('HGET', key, 'status')
if not st then return 0 end
if st == 'queued' or st == 'deferred' then
  redis.call('ZREM', q .. ':queue', id)
  redis.call('HSET', key, 'status', 'failed', 'error', 'aborted', 'success', 0, 'finish', now)
  redis.call('RPUSH', q .. ':dead', id)
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
if redis.call('LREM', q .. ':dead', 0, id) == 0 then return 0 end
redis.call('HSET', q .. ':job:' .. id, 'status', 'queued', 'tries', 0, 'abort', 0, 'expires', 0)
redis.call('ZADD', q .. ':queue', now, id)
redis.call('LPUSH', q .. ':wake', '1')
return 1
)lua");
    return s;
}

class RedisJobBackend final : public JobBackend {
public:
    RedisJobBackend(RedisOptions options, std::string queue) : q_(std::move(queue)) {
        options.own_thread = true;
        redis_.emplace(options);
        waiter_.emplace(redis_->dedicated());
    }
    bool enqueue(const JobRecord& r) override {
        return r_().eval<std::int64_t>(jobs_enqueue_script(), 0, q_, r.id, r.function, r.args, r.max_tries, r.timeout_ms, r.keep_ms,
                                       r.enqueue_ms, r.run_at_ms, r.expires_at_ms, r.backoff ? 1 : 0) == 1;
    }
    ClaimResult claim(const std::string& worker, std::size_t n, std::int64_t lease_ms) override {
        auto v = r_().eval<std::vector<RedisValue>>(jobs_claim_script(), 0, q_, jobs_now_ms(), lease_ms, worker,
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
    void give_back(const std::string& id, const std::string& worker) override { finish(id, worker, "giveback", "", jobs_now_ms()); }
    bool progress(const std::string& id, const std::string& value) override {
        return r_().eval<std::int64_t>(jobs_progress_script(), 1, q_ + ":job:" + id, value) == 1;
    }
    std::vector<std::string> renew(const std::string& worker, const std::vector<std::string>& ids, std::int64_t lease_ms,
                                   std::chrono::seconds ttl) override {
        return r_().eval<std::vector<std::string>>(jobs_renew_script(), 0, q_, worker, jobs_now_ms() + lease_ms,
                                                   static_cast<std::int64_t>(ttl.count()), ids);
    }
    std::optional<JobInfo> info(const std::string& id) override {
        auto h = r_().command<std::map<std::string, std::string>>("HGETALL", q_ + ":job:" + id);
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
    bool abort(const std::string& id) override {
        return r_().eval<std::int64_t>(jobs_abort_script(), 0, q_, id, jobs_now_ms()) == 1;
    }
    std::vector<std::string> dead_letters() override {
        return r_().command<std::vector<std::string>>("LRANGE", q_ + ":dead", 0, -1);
    }
    bool retry_dead(const std::string& id) override {
        return r_().eval<std::int64_t>(jobs_retry_dead_script(), 0, q_, id, jobs_now_ms()) == 1;
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
        auto keys = r_().command<std::vector<std::string>>("KEYS", q_ + ":health:*");
        return !keys.empty();
    }
    Redis& redis() { return *redis_; }

private:
    RedisBlocking r_() { return redis_->blocking(); }
    void finish(const std::string& id, const std::string& worker, const char* outcome, const std::string& payload, std::int64_t when) {
        r_().eval<std::int64_t>(jobs_finish_script(), 0, q_, id, worker, outcome, payload, when, jobs_now_ms());
    }

    std::string q_;
    std::optional<Redis> redis_, waiter_;
};

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
    static CronSpec parse(std::string_view line) {
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
    bool due(std::int64_t unix_second) const {
        std::time_t t = static_cast<std::time_t>(unix_second);
        std::tm tm{};
        ::gmtime_r(&t, &tm);
        return sec.test(static_cast<std::size_t>(tm.tm_sec)) && min.test(static_cast<std::size_t>(tm.tm_min)) &&
               hour.test(static_cast<std::size_t>(tm.tm_hour)) && dom.test(static_cast<std::size_t>(tm.tm_mday)) &&
               mon.test(static_cast<std::size_t>(tm.tm_mon + 1)) && dow.test(static_cast<std::size_t>(tm.tm_wday));
    }
};

inline std::atomic<bool>& jobs_stop_signal() {
    static std::atomic<bool> stop{false};
    return stop;
}

}  // namespace detail

// What a running job sees: its id and try, when it was enqueued, a way to report progress.
class JobContext {
public:
    std::string job_id;
    int job_try = 1;
    std::chrono::system_clock::time_point enqueue_time;

    // Reports progress (any model or JSON value; read back with Job::progress()), and throws
    // JobAborted when the job was aborted or ran past its timeout: call it in long loops.
    template <class T>
    void progress(const T& value) {
        const picojson::value v = to_json_value(value);
        if (backend_->progress(job_id, v.serialize())) aborted_ = true;
        check();
    }
    void check() const {
        if (aborted_) throw JobAborted("aborted");
        if (std::chrono::steady_clock::now() > deadline_) throw JobAborted("timeout");
    }
    bool aborted() const noexcept { return aborted_; }

private:
    friend class Jobs;
    detail::JobBackend* backend_ = nullptr;
    std::chrono::steady_clock::time_point deadline_;
    std::atomic<bool> aborted_{false};
};

// A handle on a job: status, result, info, progress, abort.
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
    // Waits (polling, up to timeout) for the job to finish: its result read as T; JobFailed with the job's error.
    template <class T>
    T result(std::chrono::milliseconds timeout = std::chrono::seconds(30)) const {
        const auto until = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            auto i = b_->info(id_);
            if (!i) throw JobFailed("job " + id_ + " not found");
            if (i->status == JobStatus::complete) {
                picojson::value v;
                std::string err = picojson::parse(v, i->result);
                if (!err.empty()) throw JobFailed("job " + id_ + ": its result is not JSON");
                T out{};
                ValidationErrors errors;
                Loc loc;
                if (!from_json(v, out, errors, loc)) throw RequestValidationError(std::move(errors));
                return out;
            }
            if (i->status == JobStatus::failed) throw JobFailed(i->error);
            if (std::chrono::steady_clock::now() > until) throw JobFailed("job " + id_ + ": no result within the timeout");
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    }

private:
    std::shared_ptr<detail::JobBackend> b_;
    std::string id_;
};

// The registry and the queue. Jobs() keeps them in memory; Jobs(redis_url) in Redis;
// Jobs::from_env() uses REDIS_URL when it is set.
class Jobs {
    struct Registered {
        JobOptions options;
        std::function<std::string(JobContext&, const std::string&)> run;  // args JSON → result JSON
    };

public:
    Jobs() : b_(std::make_shared<detail::MemoryJobBackend>()) {}
    explicit Jobs(RedisOptions redis, std::string queue_name = "fastapi:queue")
        : b_(std::make_shared<detail::RedisJobBackend>(std::move(redis), queue_name)), queue_(std::move(queue_name)), redis_(true) {}
    explicit Jobs(std::string_view redis_url, std::string queue_name = "fastapi:queue")
        : Jobs(parse_redis_url(redis_url), std::move(queue_name)) {}
    static std::unique_ptr<Jobs> from_env(std::string queue_name = "fastapi:queue") {
        const char* url = std::getenv("REDIS_URL");
        if (url && *url) return std::make_unique<Jobs>(std::string_view(url), std::move(queue_name));
        return std::make_unique<Jobs>();
    }
    bool uses_redis() const noexcept { return redis_; }

    // jobs.add<square>("square", {.max_tries = 3}): fn is R fn(A) or R fn(JobContext&, A), A and
    // R models or picojson values.
    template <auto Fn>
    Jobs& add(std::string name, JobOptions options = {}) {
        using T = detail::job_traits<decltype(Fn)>;
        Registered r;
        r.options = options;
        r.run = [](JobContext& ctx, const std::string& text) -> std::string {
            if constexpr (T::noarg) {
                (void)text;
                auto call0 = [&]() -> decltype(auto) {
                    if constexpr (T::context) return Fn(ctx);
                    else return Fn();
                };
                if constexpr (std::is_void_v<typename T::result>) {
                    call0();
                    return "null";
                } else {
                    return to_json_value(call0()).serialize();
                }
            } else {
                picojson::value v;
                std::string err = picojson::parse(v, text);
                typename T::arg arg{};
                ValidationErrors errors;
                Loc loc{std::string("args")};
                if (!err.empty()) {
                    detail::add_error(errors, loc, "json_invalid", "JSON decode error", picojson::value(text));
                    throw RequestValidationError(std::move(errors));
                }
                if (!from_json(v, arg, errors, loc)) throw RequestValidationError(std::move(errors));
                auto call = [&]() -> decltype(auto) {
                    if constexpr (T::context) return Fn(ctx, arg);
                    else return Fn(arg);
                };
                if constexpr (std::is_void_v<typename T::result>) {
                    call();
                    return "null";
                } else {
                    return to_json_value(call()).serialize();
                }
            }
        };
        std::lock_guard lock(m_);
        names_[reinterpret_cast<const void*>(Fn)] = name;
        registry_[std::move(name)] = std::move(r);
        return *this;
    }

    // A cron job (no argument: R fn() or R fn(JobContext&)), registered as `name` and enqueued by
    // the workers when due: "*/5 * * * *" (UTC), or six fields with the seconds first. Each due
    // run has the job id cron:<name>:<unix second>, so with any number of workers it is enqueued
    // (and run) once: the enqueue is refused when that id exists (arq runs duplicates, #196).
    template <auto Fn>
    Jobs& cron(std::string name, std::string_view spec, JobOptions options = {}) {
        static_assert(detail::job_traits<decltype(Fn)>::noarg, "fastapi::Jobs::cron: a cron job takes no argument (or only JobContext&)");
        auto parsed = detail::CronSpec::parse(spec);
        add<Fn>(name, options);
        std::lock_guard lock(m_);
        crons_.push_back({std::move(name), parsed});
        return *this;
    }

    // Type-checked at compile time against the job's parameter; none when a job with that id exists.
    template <auto Fn, class A>
    std::optional<Job> enqueue(const A& args, EnqueueOptions o = {}) {
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
        return enqueue(name, to_json_value(static_cast<const typename T::arg&>(args)).serialize(), std::move(o));
    }
    // By name, the arguments as JSON text (for producers without the job's code).
    std::optional<Job> enqueue(const std::string& function, const std::string& args_json, EnqueueOptions o = {}) {
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
        r.backoff = jo.backoff;
        r.enqueue_ms = detail::jobs_now_ms();
        r.run_at_ms = r.enqueue_ms + o.defer_by.count();
        if (o.defer_until)
            r.run_at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(o.defer_until->time_since_epoch()).count();
        r.expires_at_ms = o.expires.count() > 0 ? r.enqueue_ms + o.expires.count() : 0;
        if (!b_->enqueue(r)) return std::nullopt;
        return Job(b_, r.id);
    }
    Job job(std::string id) const { return Job(b_, std::move(id)); }
    std::vector<std::string> dead_letters() { return b_->dead_letters(); }
    bool retry(const std::string& id) { return b_->retry_dead(id); }

    // In memory (TestClient, tests): runs what is due now, here, until nothing is; the count run.
    std::size_t run_all() {
        std::size_t n = 0;
        for (int rounds = 0; rounds < 1000; ++rounds) {
            auto claimed = b_->claim(worker_id_, 100, 60000);
            if (claimed.jobs.empty()) break;
            for (auto& j : claimed.jobs) run_one(j, nullptr), ++n;
        }
        return n;
    }

    // Runs jobs until stopped (SIGTERM/SIGINT, stop()) or, with burst, until nothing is queued.
    // Returns the process status.
    int work(WorkerOptions o = {}) {
        stop_ = false;
        struct Running {  // shared with the job threads, which may outlive a graceful stop
            std::mutex m;
            std::condition_variable cv;
            std::map<std::string, std::shared_ptr<JobContext>> jobs;
        };
        auto st = std::make_shared<Running>();
        std::vector<std::pair<std::thread, std::shared_ptr<std::atomic<bool>>>> threads;  // and whether it is done
        auto last_renew = std::chrono::steady_clock::now() - std::chrono::hours(1);
        const auto renew_every = std::max(std::chrono::milliseconds(50), o.lease / 4);
        auto ids = [&] {
            std::vector<std::string> out;
            std::lock_guard lock(st->m);
            for (auto& [id, c] : st->jobs) out.push_back(id);
            return out;
        };
        auto stopping = [&] { return stop_.load() || detail::jobs_stop_signal().load(); };
        std::int64_t cron_checked = detail::jobs_now_ms() / 1000;
        while (!stopping()) {
            try {
                if (const auto now_s = detail::jobs_now_ms() / 1000; !crons_.empty() && now_s > cron_checked) {
                    for (std::int64_t t = std::max(cron_checked + 1, now_s - 60); t <= now_s; ++t)
                        for (auto& [name, spec] : crons_)
                            if (spec.due(t)) enqueue(name, "null", {.job_id = "cron:" + name + ":" + std::to_string(t)});
                    cron_checked = now_s;
                }
                if (std::chrono::steady_clock::now() - last_renew >= renew_every) {
                    last_renew = std::chrono::steady_clock::now();
                    auto aborted = b_->renew(worker_id_, ids(), o.lease.count(), o.health_ttl);
                    std::lock_guard lock(st->m);
                    for (auto& id : aborted)
                        if (auto it = st->jobs.find(id); it != st->jobs.end()) it->second->aborted_ = true;
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
                    auto done = std::make_shared<std::atomic<bool>>(false);
                    ++active_;
                    threads.emplace_back(std::thread([this, j, ctx, st, done] {
                        run_one(j, ctx);
                        std::lock_guard lock(st->m);
                        st->jobs.erase(j.id);
                        st->cv.notify_all();
                        *done = true;
                        --active_;  // the last use of this: ~Jobs waits for it
                    }), done);
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
                // Threads of finished jobs joined as we go (bounded memory for a long-lived worker).
                if (threads.size() > 2 * o.max_jobs + 16) {
                    std::erase_if(threads, [](auto& t) {
                        if (!*t.second) return false;
                        t.first.join();
                        return true;
                    });
                }
            } catch (const std::exception& e) {  // Redis away: try again shortly
                std::fprintf(stderr, "fastapi::Jobs: worker: %s\n", e.what());
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
            }
        }
        // Graceful stop: running jobs get the grace period, then go back without counting a try.
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
                ctx->aborted_ = true;
            }
            left = st->jobs.size();
        }
        if (left > 0) {
            last_given_back_ = left;
            for (auto& t : threads) t.first.detach();  // a thread cannot be interrupted: its job ends on its own
            return 0;
        }
        for (auto& t : threads) t.first.join();
        return 0;
    }
    // Jobs the last work() gave back at its graceful stop (their threads still running).
    std::size_t given_back() const noexcept { return last_given_back_; }
    void stop() { stop_ = true; }

    // A worker in this process (small deployments, and the example without Redis).
    void start_worker(WorkerOptions o = {}) {
        in_process_ = std::thread([this, o] { work(o); });
    }
    ~Jobs() {
        if (in_process_.joinable()) {
            stop();
            in_process_.join();
        }
        // Jobs given back at a graceful stop may still run on threads of their own (C++ cannot
        // interrupt them): they use this, so it waits for them (they were told to stop).
        while (active_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }

    // `./app worker [--burst] [--max-jobs N] [--queue-name Q] [--check]`: runs the worker and
    // returns its status; none when the command line is not `worker` (then app.run(argc, argv)).
    std::optional<int> main(int argc, char** argv) {
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
            if (!redis_) return std::fprintf(stderr, "%s worker: --queue-name needs REDIS_URL\n", argv[0]), 2;
            b_ = std::make_shared<detail::RedisJobBackend>(redis_options_from_env(), o.queue_name);
        }
        if (check) {
            try {
                return b_->worker_alive() ? 0 : 1;
            } catch (const std::exception& e) {
                std::fprintf(stderr, "%s worker --check: %s\n", argv[0], e.what());
                return 1;
            }
        }
        std::signal(SIGTERM, [](int) { detail::jobs_stop_signal() = true; });
        std::signal(SIGINT, [](int) { detail::jobs_stop_signal() = true; });
        std::fprintf(stderr, "worker %s: started, %zu at once\n", worker_id_.c_str(), o.max_jobs);
        const int status = work(o);
        if (given_back() > 0) {  // the threads of the jobs given back are still running: leave without them
            std::fflush(nullptr);
            std::_Exit(status);
        }
        return status;
    }
    const std::string& worker_id() const noexcept { return worker_id_; }

private:
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
    void run_one(const detail::ClaimedJob& j, std::shared_ptr<JobContext> ctx) {
        if (!ctx) ctx = std::make_shared<JobContext>();
        ctx->job_id = j.id;
        ctx->job_try = j.tries;
        ctx->enqueue_time = std::chrono::system_clock::time_point(std::chrono::milliseconds(j.enqueue_ms));
        ctx->backend_ = b_.get();
        const auto started = std::chrono::steady_clock::now();
        ctx->deadline_ = started + std::chrono::milliseconds(j.timeout_ms > 0 ? j.timeout_ms : 1000LL * 3600 * 24 * 365);
        const Registered* reg = nullptr;
        {
            std::lock_guard lock(m_);
            auto it = registry_.find(j.function);
            if (it != registry_.end()) reg = &it->second;
        }
        auto fail_or_retry = [&](const std::string& error, std::int64_t defer_ms, bool final) {
            if (ctx->aborted() && error == "aborted") final = true;
            const bool again = !final && j.tries < j.max_tries;
            persist([&] { b_->failed(j.id, worker_id_, error, again ? detail::jobs_now_ms() + defer_ms : -1); });
        };
        if (!reg) return fail_or_retry("no job named '" + j.function + "' in this worker", 0, true);
        try {
            std::string result = reg->run(*ctx, j.args);
            if (std::chrono::steady_clock::now() > ctx->deadline_) return fail_or_retry("timeout", 0, false);
            if (ctx->aborted()) return fail_or_retry("aborted", 0, true);
            persist([&] { b_->complete(j.id, worker_id_, result, j.keep_ms); });
        } catch (const Retry& r) {
            fail_or_retry("retry requested", r.defer.count(), false);
        } catch (const JobAborted& e) {
            fail_or_retry(e.what(), 0, std::string_view(e.what()) == "aborted");
        } catch (const RequestValidationError& e) {
            std::string text = "validation error:";
            for (auto& err : e.errors()) {
                text += " [";
                for (auto& p : err.loc) text += std::holds_alternative<std::string>(p) ? std::get<std::string>(p) + "." : std::to_string(std::get<std::int64_t>(p)) + ".";
                text += "] " + err.msg + ";";
            }
            fail_or_retry(text, 0, true);
        } catch (const std::exception& e) {
            fail_or_retry(e.what(), j.backoff ? (1000LL << std::min(j.tries - 1, 16)) : 0, false);
        } catch (...) {
            fail_or_retry("unknown exception", 0, false);
        }
    }

    std::mutex m_;
    std::shared_ptr<detail::JobBackend> b_;
    std::string queue_ = "fastapi:queue";
    bool redis_ = false;
    std::map<std::string, Registered> registry_;
    std::map<const void*, std::string> names_;
    std::vector<std::pair<std::string, detail::CronSpec>> crons_;
    std::atomic<bool> stop_{false};
    std::size_t last_given_back_ = 0;
    std::atomic<int> active_{0};
    std::thread in_process_;
    std::string worker_id_ = [] {
        char host[64] = {};
        ::gethostname(host, sizeof host - 1);
        return std::string(host) + ":" + std::to_string(::getpid()) + ":" + detail::jobs_random_id().substr(0, 6);
    }();
};

}  // namespace fastapi
