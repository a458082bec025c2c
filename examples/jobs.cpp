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
#include <thread>   // sleep_for

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

static SquareOut square(JobContext& ctx, const SquareIn& in) {
    log_run(ctx.job_id);
    const int steps = static_cast<int>(*in.seconds * 10);
    for (int i = 0; i < steps; ++i) {
        ctx.progress(Progress{static_cast<double>(i) / steps});  // throws once aborted
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return {in.n, in.n * in.n};
}

int main(int argc, char** argv) {
    auto jobs = Jobs::from_env("jobs:example");
    jobs->add<square>("square", {.max_tries = 3, .timeout = std::chrono::seconds(30)});
    if (auto status = jobs->main(argc, argv)) return *status;  // ./jobs worker [--burst] [--check]
    if (!jobs->uses_redis()) jobs->start_worker();

    App app;
    app.post("/jobs/square", [&](const SquareIn& in) {
        auto job = jobs->enqueue<square>(in);
        json out = json::object();
        out["job_id"] = job->id();
        return JSONResponse(out, 202);
    }, {.blocking = true});
    app.get("/jobs/{job_id}", [&](Path<"job_id", std::string> id) {
        auto info = jobs->job(*id).info();
        if (!info) throw HTTPException(404, "Job not found");
        json out = json::object();
        out["job_id"] = info->job_id;
        out["status"] = to_string(info->status);
        out["progress"] = info->progress.empty() ? json(nullptr) : parsed(info->progress);
        out["result"] = info->result.empty() ? json(nullptr) : parsed(info->result);
        out["error"] = info->error.empty() ? json(nullptr) : json(info->error);
        out["tries"] = info->tries;
        return out;
    }, {.blocking = true});
    app.delete_("/jobs/{job_id}", [&](Path<"job_id", std::string> id) {
        if (!jobs->job(*id).abort()) throw HTTPException(404, "Job not found or finished");
        json out = json::object();
        out["aborted"] = true;
        return out;
    }, {.blocking = true});
    app.run(argc, argv);
}
