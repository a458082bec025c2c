// A job queue, as FastAPI users get from arq: POST /jobs/square enqueues a job that sleeps
// `seconds` while reporting its progress, then answers n*n; GET /jobs/{job_id} tells its status,
// progress, result and tries; DELETE /jobs/{job_id} aborts it. With REDIS_URL the queue is in
// Redis and `./jobs worker` runs the jobs (as many workers as you like, on any machine); without
// it, a worker thread of this process does.
//   curl -X POST localhost:8000/jobs/square -d '{"n": 7, "seconds": 2}'
//   curl localhost:8000/jobs/<job_id>
#include "fastapi.hpp"

#include <fcntl.h>   // open
#include <unistd.h>  // write

#include <cstdlib>  // getenv

using namespace fastapi;

struct SquareIn {
    int64_t n;
    Field<double, Ge<0>, Le<10>> seconds;
};

struct SquareOut {
    int64_t n;
    int64_t square;
};

struct Progress {
    double done;  // 0 to 1
};

// JOBS_RUN_LOG=<file>: each run appends "<job_id> <pid>" (the tests count runs with it).
static void log_run(const std::string& id) {
    const char* path = std::getenv("JOBS_RUN_LOG");
    if (!path || !*path) return;
    const std::string line = id + " " + std::to_string(::getpid()) + "\n";
    int fd = ::open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0) return;
    [[maybe_unused]] auto n = ::write(fd, line.data(), line.size());
    ::close(fd);
}

// JSON text kept by the queue, as a value of the answer.
static json parsed(const std::string& text) {
    picojson::value v;
    picojson::parse(v, text);
    return json(v);
}

// A coroutine job: it runs on the worker's event loop, and an abort or its timeout stops it
// at its next co_await (a plain function `SquareOut square(JobContext&, const SquareIn&)` would
// run on a thread of the worker, and be told at its next ctx.progress()).
static asio::awaitable<SquareOut> square(JobContext& ctx, const SquareIn& in) {
    log_run(ctx.job_id);
    asio::steady_timer timer(co_await asio::this_coro::executor);
    const int steps = static_cast<int>(*in.seconds * 10);
    for (int i = 0; i < steps; ++i) {
        ctx.progress(Progress{static_cast<double>(i) / steps});
        timer.expires_after(std::chrono::milliseconds(100));
        co_await timer.async_wait(asio::use_awaitable);
    }
    co_return SquareOut{in.n, in.n * in.n};
}

int main(int argc, char** argv) {
    App app;
    // The queue is the app's state (State<Jobs> in the handlers): in Redis with REDIS_URL, else in memory.
    const char* url = std::getenv("REDIS_URL");
    Jobs& jobs = url && *url ? app.set_state<Jobs>(std::string_view(url), "jobs:example") : app.set_state<Jobs>();
    jobs.add<square>("square", {.max_tries = 3, .timeout = std::chrono::seconds(30)});
    if (auto status = jobs.main(argc, argv, app)) return *status;  // ./jobs worker [--burst] [--check]

    // Coroutine handlers: enqueueing and reading a job do not block the loop.
    app.post("/jobs/square", [](const SquareIn& in, State<Jobs> jobs) -> asio::awaitable<JSONResponse> {
        auto job = co_await jobs->async_enqueue<square>(in);
        json out = json::object();
        out["job_id"] = job->id();
        co_return JSONResponse(out, 202);
    });
    app.get("/jobs/{job_id}", [](Path<"job_id", std::string> id, State<Jobs> jobs) -> asio::awaitable<json> {
        Job job = jobs->job(*id);
        auto info = co_await job.async_info();
        if (!info) throw HTTPException(404, "Job not found");
        json out = json::object();
        out["job_id"] = info->job_id;
        out["status"] = to_string(info->status);
        out["progress"] = info->progress.empty() ? json(nullptr) : parsed(info->progress);
        out["result"] = info->result.empty() ? json(nullptr) : parsed(info->result);
        out["error"] = info->error.empty() ? json(nullptr) : json(info->error);
        out["tries"] = info->tries;
        co_return out;
    });
    app.delete_("/jobs/{job_id}", [](Path<"job_id", std::string> id, State<Jobs> jobs) -> asio::awaitable<json> {
        Job job = jobs->job(*id);
        if (!co_await job.async_abort()) throw HTTPException(404, "Job not found or finished");
        json out = json::object();
        out["aborted"] = true;
        co_return out;
    });
    if (!jobs.uses_redis()) jobs.start_worker();  // in memory: a worker thread of this process
    app.run(argc, argv);
}
