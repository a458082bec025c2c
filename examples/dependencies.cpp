// FastAPI's dependencies tutorial: shared query parameters, a dependency with cleanup (a
// "database session" opened for the request and closed after the response is sent), a
// sub-dependency, a route dependency that only checks, application state, and a coroutine
// dependency (FastAPI's `async def` with `yield`) whose cleanup is a coroutine too.
#include "fastapi.hpp"

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

using namespace fastapi;

// Application state: one pool for every request, no globals.
struct SessionPool {
    std::atomic<int> opened{0}, closed{0};
};

struct CommonParams {
    std::optional<std::string> q;
    int64_t skip;
    int64_t limit;
};

CommonParams common_parameters(Query<"q", std::optional<std::string>> q, Query<"skip", int64_t, Default<0>> skip,
                               Query<"limit", int64_t, Default<100>> limit) {
    return {*q, *skip, *limit};
}

// FastAPI's `yield` dependency: the session is closed after the response has been sent.
struct Session {
    int id;
};
Scoped<Session> get_db(State<SessionPool> pool) {
    SessionPool* p = &*pool;
    int id = ++p->opened;
    return {Session{id}, [p] { ++p->closed; }};
}

// FastAPI's `async def get_db(): ... yield session ... await session.close()`: it awaits (a
// 1 ms timer, standing for a connection being checked out) before yielding the session the
// handler returns, and its cleanup, a coroutine as well, runs after the response is sent.
asio::awaitable<void> wait_1ms() {
    asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::milliseconds(1));
    co_await timer.async_wait(asio::use_awaitable);
}
asio::awaitable<Scoped<Session>> get_async_db(State<SessionPool> pool) {
    SessionPool* p = &*pool;
    co_await wait_1ms();
    int id = ++p->opened;
    co_return Scoped<Session>{Session{id}, [p]() -> asio::awaitable<void> {
                                  co_await wait_1ms();
                                  ++p->closed;
                              }};
}

void verify_key(Header<"x_key", std::string> x_key) {
    if (*x_key != "fake-super-secret-key") throw HTTPException(400, "X-Key header invalid");
}

struct Item {
    std::string item_name;
};
struct ItemsPage {
    std::optional<std::string> q;
    std::vector<Item> items;
    int session;
};
struct AsyncItems {
    std::string source;
    int session;
};
struct PoolStats {
    int opened;
    int closed;
};

int main() {
    App app;
    app.set_state<SessionPool>();
    const std::vector<Item> fake_items_db{{"Foo"}, {"Bar"}, {"Baz"}};

    app.get("/items/", [&](Depends<common_parameters> commons, Depends<get_db> db) {
        ItemsPage page{commons->q, {}, db->id};
        for (std::size_t i = static_cast<std::size_t>(std::max<int64_t>(commons->skip, 0));
             i < fake_items_db.size() && static_cast<int64_t>(page.items.size()) < commons->limit; ++i)
            page.items.push_back(fake_items_db[i]);
        return page;
    });

    app.get("/users/", [](Depends<common_parameters> commons) { return commons->limit; },
            {.dependencies = {Depends<verify_key>{}}});

    // A plain handler: its coroutine dependency makes the route run as a coroutine.
    app.get("/async-items/", [](Depends<get_async_db> db) { return AsyncItems{"async", db->id}; });

    app.get("/pool", [](State<SessionPool> pool) { return PoolStats{pool->opened.load(), pool->closed.load()}; });

    app.run();
}
