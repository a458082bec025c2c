// lifespan: what runs before the first request is served and after the last (FastAPI's
// startup and shutdown events, and its lifespan= coroutine), for every server and TestClient
// of the app together. A hook may be a coroutine: it runs to completion on a loop of its own.
#pragma once
#include "depends.hpp"  // Cleanup

#include <cstddef>      // size_t
#include <cstdio>       // fprintf
#include <exception>    // exception_ptr
#include <functional>   // function
#include <memory>       // make_shared
#include <mutex>        // mutex
#include <optional>     // optional
#include <type_traits>  // is_same_v, is_void_v, invoke_result_t
#include <utility>      // move, exchange
#include <vector>       // vector

namespace fastapi {
namespace detail {

// Runs a coroutine to completion on a loop of its own (lifespan hooks); rethrows its error.
// (A template for void too: compiled only where a coroutine hook is given, core/config.hpp.)
template <class T>
T run_to_completion(std::function<asio::awaitable<T>()> f) {
    asio::io_context io;
    std::exception_ptr error;
    if constexpr (std::is_void_v<T>) {
        asio::co_spawn(io, std::move(f), [&](std::exception_ptr e) { error = e; });
        io.run();
        if (error) std::rethrow_exception(error);
    } else {
        std::optional<T> result;
        asio::co_spawn(io, std::move(f), [&](std::exception_ptr e, T value) {
            error = e;
            if (!e) result.emplace(std::move(value));
        });
        io.run();
        if (error) std::rethrow_exception(error);
        return std::move(*result);
    }
}
// A lifespan hook as the app keeps it: a coroutine is run to completion.
template <class F>
std::function<void()> lifespan_hook(F f) {
    if constexpr (awaitable_result<std::invoke_result_t<F&>>::is_awaitable) {
        static_assert(std::is_same_v<std::invoke_result_t<F&>, asio::awaitable<void>>,
                      "fastapi: a coroutine lifespan hook returns asio::awaitable<void>");
        return [f = std::move(f)]() mutable { run_to_completion(std::function<asio::awaitable<void>()>(f)); };
    } else {
        return std::function<void()>(std::move(f));
    }
}

class Lifespan {
public:
    template <class F>
    void on_startup(F f) { startup_.push_back(lifespan_hook(std::move(f))); }
    template <class F>
    void on_shutdown(F f) { shutdown_.push_back(lifespan_hook(std::move(f))); }
    // One coroutine for both, split by the Cleanup it returns: its body up to co_return is
    // the startup, the cleanup returned (plain or a coroutine) the shutdown, run first.
    template <class F>
    void lifespan(F f) {
        static_assert(std::is_same_v<std::invoke_result_t<F&>, asio::awaitable<Cleanup>>,
                      "fastapi: app.lifespan(f) takes f() -> asio::awaitable<Cleanup>");
        auto after = std::make_shared<std::function<void()>>();
        startup_.push_back([f = std::move(f), after]() mutable {
            Cleanup c = run_to_completion(std::function<asio::awaitable<Cleanup>()>(f));
            *after = c ? c.take({}) : std::function<void()>{};
        });
        shutdown_.insert(shutdown_.begin(), [after] {
            if (*after) std::exchange(*after, {})();
        });
    }

    // Startup runs for the first to enter, shutdown when the last exits. A failing startup
    // throws (nothing is served); a failing shutdown hook is logged and the others run.
    void enter() {
        std::lock_guard lock(mutex_);
        if (users_++ > 0) return;
        try {
            for (auto& f : startup_) f();
        } catch (...) {
            users_ = 0;
            throw;
        }
    }
    void exit() noexcept {
        std::lock_guard lock(mutex_);
        if (users_ == 0 || --users_ > 0) return;
        for (auto& f : shutdown_) {
            try {
                f();
            } catch (const std::exception& e) {
                std::fprintf(stderr, "fastapi: a shutdown hook threw: %s\n", e.what());
            } catch (...) {
                std::fprintf(stderr, "fastapi: a shutdown hook threw\n");
            }
        }
    }

private:
    std::vector<std::function<void()>> startup_, shutdown_;
    std::mutex mutex_;
    std::size_t users_ = 0;
};

}  // namespace detail
}  // namespace fastapi
