// background: FastAPI's BackgroundTasks. A handler (or a dependency) takes a
// `BackgroundTasks&` parameter and adds work to run once its response has been sent:
//
//   app.post("/send-notification/{email}", [](Path<"email", std::string> email, BackgroundTasks& tasks) {
//       tasks.add_task(write_notification, *email, "some notification");
//       return Message{"Notification sent in the background"};
//   });
//
// The tasks of one request run in order, as one job: the server posts it to its blocking
// pool after the response's bytes are written (so they never delay this or any other
// connection), the TestClient runs it before request() returns, as Starlette's does. A task
// that throws is logged to stderr; the ones after it still run. A request whose handler
// fails (an exception, HTTPException included) runs none, as in FastAPI. The request's
// dependency cleanups run after its tasks, so a task may still use what they provided.
// Relies on handler (Binder, Exchange, DependencyScope).
#pragma once
#include "handler.hpp"

#include <cstdio>       // fprintf
#include <exception>    // exception
#include <functional>   // invoke
#include <memory>       // unique_ptr, shared_ptr
#include <tuple>        // tuple, apply
#include <type_traits>  // decay_t, is_invocable_v
#include <utility>      // move, forward
#include <vector>       // vector

namespace fastapi {

class BackgroundTasks {
public:
    BackgroundTasks() = default;
    BackgroundTasks(const BackgroundTasks&) = delete;
    BackgroundTasks& operator=(const BackgroundTasks&) = delete;
    BackgroundTasks(BackgroundTasks&&) = default;
    BackgroundTasks& operator=(BackgroundTasks&&) = default;

    // Runs f(args...) after the response is sent. The arguments are copied (or moved) now,
    // so the task never refers to the request.
    template <class F, class... A>
    void add_task(F&& f, A&&... args) {
        static_assert(std::is_invocable_v<std::decay_t<F>&, std::decay_t<A>&...>,
                      "fastapi: add_task(f, args...) needs f to be callable with args");
        auto call = [f = std::forward<F>(f), tuple = std::make_tuple(std::forward<A>(args)...)]() mutable {
            std::apply([&](auto&... a) { std::invoke(f, a...); }, tuple);
        };
        tasks_.push_back(std::make_unique<Task<decltype(call)>>(std::move(call)));
    }

    std::size_t size() const noexcept { return tasks_.size(); }
    bool empty() const noexcept { return tasks_.empty(); }

    // Runs every task in order; one that throws is logged and the rest still run.
    void run() noexcept {
        auto tasks = std::move(tasks_);
        tasks_.clear();
        for (auto& t : tasks) {
            try {
                t->run();
            } catch (const std::exception& e) {
                std::fprintf(stderr, "fastapi: a background task threw: %s\n", e.what());
            } catch (...) {
                std::fprintf(stderr, "fastapi: a background task threw\n");
            }
        }
    }

private:
    struct TaskBase {
        virtual ~TaskBase() = default;
        virtual void run() = 0;
    };
    template <class F>
    struct Task final : TaskBase {
        F f;
        explicit Task(F fn) : f(std::move(fn)) {}
        void run() override { f(); }
    };
    std::vector<std::unique_ptr<TaskBase>> tasks_;
};

namespace detail {

// The request's BackgroundTasks live among its dependency values, so a handler and its
// dependencies share one (and a dependency's Binder needs nothing more).
inline constexpr char background_key = 0;

FASTAPI_DECL BackgroundTasks& background_tasks(Exchange& ex);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL BackgroundTasks& background_tasks(Exchange& ex) {
    if (auto* e = ex.deps.find(&background_key)) return *static_cast<BackgroundTasks*>(e->where);
    auto p = std::make_shared<BackgroundTasks>();
    DependencyScope::Entry e;
    e.key = &background_key;
    e.where = p.get();
    e.value = std::move(p);
    ex.deps.entries.push_back(std::move(e));
    return *static_cast<BackgroundTasks*>(ex.deps.entries.back().where);
}
#endif

// What the response's sender runs after the bytes are out: the tasks, then the request's
// dependency cleanups (taken from the exchange). Empty when the request added no task.
struct BackgroundJob {
    BackgroundTasks tasks;
    std::vector<DependencyScope::Entry> cleanups;
    void run() noexcept {
        tasks.run();
        DependencyScope::close(cleanups);
    }
};

FASTAPI_DECL std::shared_ptr<BackgroundJob> take_background_job(Exchange& ex);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::shared_ptr<BackgroundJob> take_background_job(Exchange& ex) {
    auto* e = ex.deps.find(&background_key);
    if (!e) return nullptr;
    auto& tasks = *static_cast<BackgroundTasks*>(e->where);
    if (tasks.empty()) return nullptr;
    auto job = std::make_shared<BackgroundJob>();
    job->tasks = std::move(tasks);
    job->cleanups = std::move(ex.deps.entries);
    ex.deps.entries.clear();
    return job;
}
#endif

// A failed handler's tasks are dropped (its response is an error, not what it returned).
FASTAPI_DECL void discard_background_tasks(Exchange& ex) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void discard_background_tasks(Exchange& ex) noexcept {
    if (auto* e = ex.deps.find(&background_key)) *static_cast<BackgroundTasks*>(e->where) = BackgroundTasks{};
}
#endif

template <>
struct Binder<BackgroundTasks&> {
    static constexpr bool head_only = true;
    using holder = BackgroundTasks*;
    static holder bind(Exchange& ex, ValidationErrors&) { return &background_tasks(ex); }
    static BackgroundTasks& get(holder h) { return *h; }
};

}  // namespace detail
}  // namespace fastapi
