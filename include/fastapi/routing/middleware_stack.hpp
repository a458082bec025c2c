// middleware_stack: the app's middleware (middleware.hpp) run around each request: the
// `before`/`after` halves on the synchronous path, and the whole stack in a coroutine once a
// coroutine middleware is in it (each gets the layers inside it as call_next). An exception
// a middleware throws is answered by the exception handlers, as a handler's is.
#pragma once
#include "errors.hpp"
#include "middleware.hpp"

#include <cstddef>      // size_t
#include <exception>    // exception_ptr
#include <stdexcept>    // invalid_argument
#include <utility>      // move
#include <vector>       // vector

namespace fastapi {
namespace detail {

class MiddlewareStack {
public:
    // What the stack wraps: route the request and run a plain handler (true: done), or leave
    // the rest to `rest`, awaited (false).
    struct Inner {
        bool (*route)(void* ctx, Exchange& ex) = nullptr;
        asio::awaitable<void> (*rest)(void* ctx, Exchange& ex) = nullptr;
        void* ctx = nullptr;
    };

    void add(Middleware m) {
        if (m.dispatch && (m.before || m.after))
            throw std::invalid_argument("fastapi: a middleware is either a coroutine (dispatch) or before/after halves");
        if (m.dispatch) ++coroutines_;
        layers_.push_back(std::move(m));
    }
    bool empty() const noexcept { return layers_.empty(); }
    // A coroutine middleware is in the stack: requests run through run() only.
    bool has_coroutine() const noexcept { return coroutines_ != 0; }
    // Every `before` reads only the request's head (none may read the body).
    bool befores_read_only_head() const noexcept {
        for (auto& m : layers_)
            if (m.before && !m.head_only) return false;
        return true;
    }

    // The synchronous path. Runs the `before`s, outermost (last added) first; false when one
    // answered (ex.middleware_from then says which `after`s follow).
    bool run_befores(Exchange& ex, const ExceptionHandlers& errors) const noexcept {
        for (std::size_t i = layers_.size(); i-- > 0;) {
            ex.middleware_from = i + 1;  // if this one answers, only those outside it follow
            auto& before = layers_[i].before;
            if (!before) continue;
            try {
                if (!before(ex.request, ex.response)) return false;
            } catch (...) {
                errors.handle(std::current_exception(), ex);
                return false;
            }
        }
        ex.middleware_from = 0;
        return true;
    }
    // Runs the `after`s still due, innermost first, then checks the status: the last step of
    // every request on the synchronous path.
    void run_afters(Exchange& ex, const ExceptionHandlers& errors) const noexcept {
        run_afters(ex, errors, ex.middleware_from, layers_.size());
        ex.middleware_from = layers_.size();
        refuse_invalid_status(ex);
    }

    // The whole stack around `inner`, in a coroutine (a coroutine middleware is in it); it
    // sets ex.executor (AppContext::run_async) and checks the status once the stack is done.
    // One coroutine frame for all the layers outside the innermost coroutine middleware.
    FASTAPI_LAZY asio::awaitable<void> run(Exchange& ex, const ExceptionHandlers& errors, Inner inner) const {
        return run_layers(Run{this, &errors, inner}, layers_.size(), ex, true);
    }

private:
    struct Run {
        const MiddlewareStack* stack;
        const ExceptionHandlers* errors;
        Inner inner;
    };

    // The `after`s of layers [from, to), innermost first.
    void run_afters(Exchange& ex, const ExceptionHandlers& errors, std::size_t from, std::size_t to) const noexcept {
        for (std::size_t i = from; i < to; ++i) {
            auto& after = layers_[i].after;
            if (!after) continue;
            try {
                after(ex.request, ex.response);
            } catch (...) {
                errors.handle(std::current_exception(), ex);
            }
        }
    }

    // The `before`s of the halves below `layers`, outermost first, down to the first coroutine
    // middleware (`i` is left at its index + 1, or 0 at the bottom). False when one answered:
    // the `after`s outside it have run.
    bool run_befores_down(std::size_t layers, std::size_t& i, Exchange& ex, const ExceptionHandlers& errors) const noexcept {
        for (i = layers; i > 0 && !layers_[i - 1].dispatch; --i) {
            auto& before = layers_[i - 1].before;
            if (!before) continue;
            bool go = false;
            try {
                go = before(ex.request, ex.response);
            } catch (...) {
                errors.handle(std::current_exception(), ex);
            }
            if (!go) {  // answered here: only the `after`s outside it
                run_afters(ex, errors, i, layers);
                return false;
            }
        }
        return true;
    }

    // Layers [0, layers) and the inner part. Halves run as on the synchronous path; a
    // coroutine middleware gets the layers inside it as call_next. `top`: the whole stack
    // (run()). `run` is the frame's own copy: call_next points at it.
    FASTAPI_CORO_DECL asio::awaitable<void> run_layers(Run run, std::size_t layers, Exchange& ex, bool top) const;
    FASTAPI_CORO_DECL static asio::awaitable<Response> next_step(void* run, void* exchange, std::size_t layers, Request& req);
    // run_layers without a coroutine frame of its own when the layers left are `before`/`after`
    // halves (the usual inside of a coroutine middleware): done, or rest_async when the inner
    // part needs a coroutine (the caller awaits it and runs the `after`s), or not_plain, having
    // done nothing, when a coroutine middleware is among the layers.
    enum class PlainLayers { done, rest_async, not_plain };
    PlainLayers run_plain_layers(const Run& run, std::size_t layers, Exchange& ex) const noexcept {
        for (std::size_t i = 0; i < layers; ++i)
            if (layers_[i].dispatch) return PlainLayers::not_plain;
        std::size_t bottom = layers;
        if (!run_befores_down(layers, bottom, ex, *run.errors)) return PlainLayers::done;
        try {
            if (!run.inner.route(run.inner.ctx, ex)) return PlainLayers::rest_async;
        } catch (...) {
            run.errors->handle(std::current_exception(), ex);
        }
        run_afters(ex, *run.errors, 0, layers);
        return PlainLayers::done;
    }

    std::vector<Middleware> layers_;
    std::size_t coroutines_ = 0;  // middleware with `dispatch`
};

#if FASTAPI_DEFINITIONS
FASTAPI_CORO_DEF asio::awaitable<void> MiddlewareStack::run_layers(Run run, std::size_t layers, Exchange& ex, bool top) const {
    if (top) ex.executor = co_await asio::this_coro::executor;
    std::size_t i = layers;
    if (!run_befores_down(layers, i, ex, *run.errors)) {
        if (top) refuse_invalid_status(ex);
        co_return;
    }
    std::exception_ptr error;
    try {
        if (i == 0) {
            if (!run.inner.route(run.inner.ctx, ex)) co_await run.inner.rest(run.inner.ctx, ex);
        } else {
            CallNext next(&MiddlewareStack::next_step, const_cast<Run*>(&run), &ex, i - 1);
            ex.response = co_await layers_[i - 1].dispatch(ex.request, next);
        }
    } catch (...) {
        error = std::current_exception();
    }
    if (error) run.errors->handle(error, ex);
    run_afters(ex, *run.errors, i, layers);
    if (top) refuse_invalid_status(ex);
}

FASTAPI_CORO_DEF asio::awaitable<Response> MiddlewareStack::next_step(void* run, void* exchange, std::size_t layers, Request& req) {
    auto& r = *static_cast<Run*>(run);
    auto& ex = *static_cast<Exchange*>(exchange);
    if (&req != &ex.request) ex.request = req;
    const MiddlewareStack& stack = *r.stack;
    switch (stack.run_plain_layers(r, layers, ex)) {
        case PlainLayers::done: break;
        case PlainLayers::not_plain: co_await stack.run_layers(r, layers, ex, false); break;
        case PlainLayers::rest_async: {
            std::exception_ptr error;
            try {
                co_await r.inner.rest(r.inner.ctx, ex);
            } catch (...) {
                error = std::current_exception();
            }
            if (error) r.errors->handle(error, ex);
            stack.run_afters(ex, *r.errors, 0, layers);
            break;
        }
    }
    co_return std::move(ex.response);
}
#endif

}  // namespace detail
}  // namespace fastapi
