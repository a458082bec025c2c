// The Redis client against Debian's redis-server, started here on a Unix socket in a temporary
// folder (no port, no persistence) and stopped by its pid: pipelining, typed replies, errors,
// RESP2, transactions and WATCH, scripts, pub/sub across a restart, what happens when the
// server dies or never answers, cancellation, the blocking API, and a route using Redis.
#include "support.hpp"

#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <filesystem>

namespace redis_test {

using namespace std::chrono_literals;
using fastapi::Redis;
using fastapi::RedisOptions;

using test::RedisServer;

// Runs a coroutine on `io` until it ends (bounded); its value, or its exception rethrown.
template <class T>
T run(asio::io_context& io, asio::awaitable<T> work, std::chrono::milliseconds limit = 10000ms) {
    auto f = asio::co_spawn(io, std::move(work), asio::use_future);
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (f.wait_for(0ms) != std::future_status::ready) {
        REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline, "the coroutine did not end in time");
        io.restart();
        io.run_for(5ms);
    }
    return f.get();
}

template <class F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const std::exception& e) {
        return e.what();
    }
    return "";
}

struct Stored {
    std::string name;
    int count = 0;
    std::vector<std::string> tags;
};

asio::awaitable<std::string> client_info(Redis r) {
    co_return co_await r.command<std::string>("CLIENT", "INFO");
}

// (The tests are in the namespace too: the unity build puts several test files in one unit.)

TEST_CASE("Redis: get, set (with its options), incr, del, expire, and typed replies") {
    RedisServer server;
    asio::io_context io;
    Redis r(server.url());
    run(io, [](Redis r) -> asio::awaitable<void> {
        CHECK(!(co_await r.get("missing")).has_value());
        CHECK(co_await r.set("k", "v"));
        CHECK(*(co_await r.get("k")) == "v");
        CHECK(!(co_await r.set("k", "other", {.nx = true})));  // NX: it exists
        CHECK(*(co_await r.get("k")) == "v");
        CHECK(co_await r.set("t", "x", {.px = std::chrono::milliseconds(60000)}));
        auto pttl = co_await r.command<std::int64_t>("PTTL", "t");
        CHECK(pttl > 50000);
        CHECK(pttl <= 60000);
        CHECK(co_await r.incr("n") == 1);
        CHECK(co_await r.incr("n", 10) == 11);
        CHECK(co_await r.command<int>("GET", "n") == 11);  // a bulk "11" read as an integer
        CHECK(co_await r.expire("n", std::chrono::seconds(100)));
        CHECK(!(co_await r.expire("nothing", std::chrono::seconds(100))));
        CHECK(co_await r.del("n") == 1);
        CHECK(co_await r.del("n") == 0);
        // Binary values go through whole.
        std::string binary("a\0b\r\nc", 6);
        co_await r.set("bin", binary);
        CHECK(*(co_await r.get("bin")) == binary);

        // Hashes as maps (RESP3 maps), lists as vectors, MGET's holes as nullopt.
        CHECK(co_await r.command<std::int64_t>("HSET", "h", "a", 1, "b", "two") == 2);
        auto h = co_await r.command<std::map<std::string, std::string>>("HGETALL", "h");
        CHECK(h.size() == 2);
        CHECK(h["b"] == "two");
        auto hu = co_await r.command<std::unordered_map<std::string, int>>("HGETALL", "h2");
        CHECK(hu.empty());
        auto many = co_await r.command<std::vector<std::optional<std::string>>>("MGET", "k", "missing", "bin");
        REQUIRE(many.size() == 3);
        CHECK(*many[0] == "v");
        CHECK(!many[1]);
        co_await r.command<void>("RPUSH", "list", 1, 2.5, "three");
        auto list = co_await r.command<std::vector<std::string>>("LRANGE", "list", 0, -1);
        REQUIRE(list.size() == 3);
        CHECK(list[1] == "2.5");
        CHECK(list[2] == "three");
        CHECK(co_await r.command<double>("INCRBYFLOAT", "f", 1.5) == 1.5);
        CHECK(co_await r.command<bool>("EXISTS", "k"));
        auto raw = co_await r.command("HGETALL", "h");
        CHECK(raw.type == fastapi::RedisValue::Type::map);

        // Models and fastapi::json, as JSON text.
        Stored stored;  // (GCC 12 refuses a string literal in a braced list inside a coroutine)
        stored.name = "widget";
        stored.count = 3;
        stored.tags.push_back("a");
        CHECK(co_await r.set("model", stored));
        auto back = co_await r.get_as<Stored>("model");
        REQUIRE(back.has_value());
        CHECK(back->name == "widget");
        CHECK(back->count == 3);
        CHECK(back->tags.size() == 1);
        CHECK(!(co_await r.get_as<Stored>("missing")).has_value());
        auto j = co_await r.command<fastapi::json>("GET", "model");
        CHECK(j.dump() == R"({"count":3,"name":"widget","tags":["a"]})");
        co_await r.set("notmodel", "{\"name\": 5}");
        std::string msg;
        try {
            co_await r.get_as<Stored>("notmodel");
        } catch (const fastapi::RedisError& e) {
            msg = e.what();
        }
        CHECK(msg.find("does not fit the model") != std::string::npos);
    }(r));
}

TEST_CASE("Redis: error replies are RedisError carrying Redis's message; wrong reply types say so") {
    RedisServer server;
    asio::io_context io;
    Redis r(server.url());
    auto what = [&](auto work) -> std::pair<std::string, std::string> {
        try {
            run(io, std::move(work));
        } catch (const fastapi::RedisError& e) {
            return {e.what(), e.code()};
        }
        return {"", ""};
    };
    auto unknown = what([](Redis r) -> asio::awaitable<void> { co_await r.command("NOSUCHCOMMAND", 1); }(r));
    CHECK(unknown.first.find("unknown command") != std::string::npos);
    CHECK(unknown.second == "ERR");
    auto wrong = what([](Redis r) -> asio::awaitable<void> {
        co_await r.set("s", "text");
        co_await r.command("LPUSH", "s", 1);
    }(r));
    CHECK(wrong.second == "WRONGTYPE");
    CHECK(wrong.first.find("Operation against a key holding the wrong kind of value") != std::string::npos);
    auto notint = what([](Redis r) -> asio::awaitable<void> { co_await r.incr("s"); }(r));
    CHECK(notint.first.find("not an integer") != std::string::npos);
    auto null_string = what([](Redis r) -> asio::awaitable<void> { co_await r.command<std::string>("GET", "nope"); }(r));
    CHECK(null_string.first.find("std::optional<std::string>") != std::string::npos);
    // After errors, the connection still pairs replies right.
    CHECK(*run(io, [](Redis r) -> asio::awaitable<std::optional<std::string>> { co_return co_await r.get("s"); }(r)) == "text");
    // Commands that would change the shared connection's state are refused, with the way to do it.
    auto watch = error_of([&] { run(io, [](Redis r) -> asio::awaitable<void> { co_await r.command("WATCH", "k"); }(r)); });
    CHECK(watch.find("redis.dedicated()") != std::string::npos);
    auto sub = error_of([&] { run(io, [](Redis r) -> asio::awaitable<void> { co_await r.command("subscribe", "c"); }(r)); });
    CHECK(sub.find("redis.subscriber()") != std::string::npos);
}

TEST_CASE("Redis: many concurrent coroutines share one connection, pipelined, each getting its own reply") {
    RedisServer server;
    asio::io_context io;
    Redis r(server.url());
    constexpr int n = 400;
    int right = 0, done = 0;
    for (int i = 0; i < n; ++i) {
        asio::co_spawn(io, [](Redis r, int i, int& right, int& done) -> asio::awaitable<void> {
            std::string key = "key:" + std::to_string(i), value = "value-" + std::to_string(i * 7);
            co_await r.set(key, value);
            auto got = co_await r.get(key);
            auto count = co_await r.incr("counter:" + std::to_string(i % 10));
            if (got == value && count >= 1) ++right;
            ++done;
        }(r, i, right, done), asio::detached);
    }
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (done < n && std::chrono::steady_clock::now() < deadline) {
        io.restart();
        io.run_for(10ms);
    }
    CHECK(done == n);
    CHECK(right == n);
    auto conn = fastapi::detail::redis_connection_of(r);
    REQUIRE(conn);
    // 1200 commands (and the handshake) in far fewer writes: they were batched.
    MESSAGE("writes for " << 3 * n << " commands: " << conn->writes());
    CHECK(conn->writes() < 3 * n / 10);
    auto total = run(io, [](Redis r) -> asio::awaitable<std::int64_t> {
        std::int64_t sum = 0;
        for (int i = 0; i < 10; ++i) sum += co_await r.command<std::int64_t>("GET", "counter:" + std::to_string(i));
        co_return sum;
    }(r));
    CHECK(total == n);
}

TEST_CASE("Redis: RESP3 by default, RESP2 when asked (maps from flat arrays), db and password from the URL") {
    RedisServer server({"--requirepass", "s3cret"});
    asio::io_context io;
    Redis r3("unix://:s3cret@" + server.socket() + "?db=3");
    auto info3 = run(io, client_info(r3));
    CHECK(info3.find("resp=3") != std::string::npos);
    CHECK(info3.find("db=3") != std::string::npos);

    auto o = server.options();
    o.password = "s3cret";
    o.protocol = 2;
    o.client_name = "fastapi-test";
    Redis r2(o);
    auto info2 = run(io, client_info(r2));
    CHECK(info2.find("resp=2") != std::string::npos);
    CHECK(info2.find("name=fastapi-test") != std::string::npos);
    auto h = run(io, [](Redis r) -> asio::awaitable<std::map<std::string, std::int64_t>> {
        co_await r.command("HSET", "h", "x", 1, "y", 2);
        auto raw = co_await r.command("HGETALL", "h");
        CHECK(raw.type == fastapi::RedisValue::Type::array);  // RESP2 has no maps
        co_return co_await r.command<std::map<std::string, std::int64_t>>("HGETALL", "h");
    }(r2));
    CHECK(h["y"] == 2);
    CHECK(!run(io, [](Redis r) -> asio::awaitable<std::optional<std::string>> { co_return co_await r.get("nothing"); }(r2)));

    // A wrong password is a connection error carrying Redis's refusal.
    o.password = "wrong";
    o.protocol = 3;
    Redis bad(o);
    auto refused = error_of([&] { run(io, [](Redis r) -> asio::awaitable<void> { co_await r.get("k"); }(bad)); });
    CHECK(refused.find("WRONGPASS") != std::string::npos);
}

TEST_CASE("Redis: MULTI/EXEC transactions, WATCH conflicts on a dedicated connection, pipelines") {
    RedisServer server;
    asio::io_context io;
    Redis r(server.url());
    run(io, [](Redis r) -> asio::awaitable<void> {
        fastapi::RedisBatch batch;
        batch.add("SET", "a", 1).add("INCR", "a").add("GET", "a");
        auto result = co_await r.transaction(batch);
        REQUIRE(result.has_value());
        REQUIRE(result->size() == 3);
        CHECK((*result)[1].integer == 2);
        CHECK((*result)[2].str == "2");

        // A command Redis refuses to queue aborts the whole transaction.
        fastapi::RedisBatch broken;
        broken.add("INCR", "a").add("NOSUCH");
        std::string msg;
        try {
            co_await r.transaction(broken);
        } catch (const fastapi::RedisError& e) {
            msg = e.what();
        }
        CHECK(msg.find("unknown command") != std::string::npos);
        CHECK(co_await r.command<int>("GET", "a") == 2);  // not incremented

        // WATCH on a connection of its own; another client changes the key: EXEC gives none.
        Redis tx = r.dedicated();
        co_await tx.command("WATCH", "a");
        auto seen = co_await tx.get("a");
        CHECK(seen == std::optional<std::string>("2"));
        co_await r.set("a", "changed");  // another connection
        fastapi::RedisBatch update;
        update.add("SET", "a", "from-tx");
        auto conflicted = co_await tx.transaction(update);
        CHECK(!conflicted.has_value());
        CHECK(*(co_await r.get("a")) == "changed");
        // Without a conflict it goes through.
        co_await tx.command("WATCH", "a");
        auto ok = co_await tx.transaction(update);
        CHECK(ok.has_value());
        CHECK(*(co_await r.get("a")) == "from-tx");

        fastapi::RedisBatch p;
        for (int i = 0; i < 50; ++i) p.add("INCR", "p");
        auto replies = co_await r.pipeline(p);
        CHECK(replies.size() == 50);
        CHECK(replies.back().integer == 50);
    }(r));
}

TEST_CASE("Redis: scripts run by EVALSHA, sent whole (EVAL) only on NOSCRIPT") {
    RedisServer server;
    asio::io_context io;
    Redis r(server.url());
    run(io, [](Redis r) -> asio::awaitable<void> {
        fastapi::RedisScript script("return redis.call('INCRBY', KEYS[1], ARGV[1])");
        CHECK(script.sha1().size() == 40);
        co_await r.command("SCRIPT", "FLUSH");
        co_await r.command("CONFIG", "RESETSTAT");
        CHECK(co_await r.eval<std::int64_t>(script, 1, "n", 5) == 5);   // NOSCRIPT, then EVAL
        CHECK(co_await r.eval<std::int64_t>(script, 1, "n", 2) == 7);   // EVALSHA
        auto stats = co_await r.command<std::string>("INFO", "commandstats");
        CHECK(stats.find("cmdstat_evalsha:calls=2,") != std::string::npos);
        CHECK(stats.find("cmdstat_eval:calls=1,") != std::string::npos);
        // The script's own error.
        fastapi::RedisScript bad("return redis.call('NOSUCH')");
        std::string msg;
        try {
            co_await r.eval(bad, 0);
        } catch (const fastapi::RedisError& e) {
            msg = e.what();
        }
        CHECK(!msg.empty());
        CHECK(msg.find("NOSCRIPT") == std::string::npos);
    }(r));
}

TEST_CASE("Redis: pub/sub messages, and subscriptions made again after redis-server is killed and restarted") {
    RedisServer server;
    asio::io_context io;
    Redis r(server.url());
    auto sub = r.subscriber();
    std::vector<fastapi::RedisMessage> got;
    run(io, [](Redis r, fastapi::RedisSubscriber& sub, std::vector<fastapi::RedisMessage>& got) -> asio::awaitable<void> {
        co_await sub.subscribe("news", "sport");
        co_await sub.psubscribe("log.*");
        CHECK(co_await r.publish("news", "hello") == 1);
        CHECK(co_await r.publish("log.web", "line") == 1);
        CHECK(co_await r.publish("other", "nobody") == 0);
        for (int i = 0; i < 2; ++i) got.push_back(*(co_await sub.next()));
    }(r, sub, got));
    REQUIRE(got.size() == 2);
    CHECK(got[0].channel == "news");
    CHECK(got[0].payload == "hello");
    CHECK(got[1].channel == "log.web");
    CHECK(got[1].pattern == "log.*");

    // The server dies and comes back on the same socket: the subscriber subscribes again by itself.
    server.kill();
    server.start();
    auto again = run(io, [](Redis r, fastapi::RedisSubscriber& sub) -> asio::awaitable<std::string> {
        asio::steady_timer t(co_await asio::this_coro::executor);
        for (int i = 0; i < 200; ++i) {  // publish until the resubscribed subscriber hears it (bounded)
            std::int64_t heard = 0;
            try {
                heard = co_await r.publish("sport", "after-restart");
            } catch (const fastapi::RedisConnectionError&) {
            }
            if (heard == 1) break;
            t.expires_after(std::chrono::milliseconds(25));
            co_await t.async_wait(asio::use_awaitable);
        }
        auto m = co_await sub.next();
        co_return m ? m->payload : std::string("none");
    }(r, sub), 15000ms);
    CHECK(again == "after-restart");
    // Closing ends next() with none.
    sub.close();
    auto last = run(io, [](fastapi::RedisSubscriber& sub) -> asio::awaitable<bool> {
        co_return (co_await sub.next()).has_value();
    }(sub));
    CHECK(!last);
}

TEST_CASE("Redis: commands in flight fail promptly when the server dies; down means fail fast; then it recovers") {
    RedisServer server;
    asio::io_context io;
    auto o = server.options();
    o.health_check_interval = 0ms;
    Redis r(o);
    run(io, [](Redis r) -> asio::awaitable<void> { co_await r.set("k", "v"); }(r));
    // A command that never answers by itself (BLPOP with no timeout), in flight when the server is killed.
    std::string failure;
    bool ended = false;
    asio::co_spawn(io, [](Redis r, std::string& failure, bool& ended) -> asio::awaitable<void> {
        try {
            co_await r.command("BLPOP", "never", 0);
        } catch (const fastapi::RedisConnectionError& e) {
            failure = e.what();
        }
        ended = true;
    }(r, failure, ended), asio::detached);
    for (int i = 0; i < 20; ++i) io.restart(), io.run_for(5ms);
    CHECK(!ended);
    auto killed = std::chrono::steady_clock::now();
    server.kill();
    while (!ended && std::chrono::steady_clock::now() - killed < 5s) io.restart(), io.run_for(5ms);
    REQUIRE(ended);
    CHECK(std::chrono::steady_clock::now() - killed < 1s);
    CHECK(failure.find("was lost") != std::string::npos);
    // While it is down, a command fails at once (no waiting for a server that may be gone long).
    auto start = std::chrono::steady_clock::now();
    auto down = error_of([&] { run(io, [](Redis r) -> asio::awaitable<void> { co_await r.get("k"); }(r)); });
    CHECK(!down.empty());
    CHECK(std::chrono::steady_clock::now() - start < 2500ms);
    // It comes back: the client reconnects (backoff capped at 200 ms here).
    server.start();
    auto back = run(io, [](Redis r) -> asio::awaitable<bool> {
        asio::steady_timer t(co_await asio::this_coro::executor);
        for (int i = 0; i < 200; ++i) {
            try {
                co_await r.set("k", "again");
                co_return true;
            } catch (const fastapi::RedisConnectionError&) {
            }
            t.expires_after(std::chrono::milliseconds(20));
            co_await t.async_wait(asio::use_awaitable);
        }
        co_return false;
    }(r), 15000ms);
    CHECK(back);
}

TEST_CASE("Redis: the health-check PING finds a server that stopped answering; what was in flight fails") {
    RedisServer server;
    asio::io_context io;
    auto o = server.options();
    o.health_check_interval = 200ms;
    Redis r(o);
    run(io, [](Redis r) -> asio::awaitable<void> { co_await r.set("k", "v"); }(r));
    server.freeze();
    auto start = std::chrono::steady_clock::now();
    auto msg = error_of([&] { run(io, [](Redis r) -> asio::awaitable<void> { co_await r.get("k"); }(r)); });
    auto took = std::chrono::steady_clock::now() - start;
    CHECK(msg.find("no answer to a health-check PING within 200 ms") != std::string::npos);
    CHECK(took < 1500ms);
    server.thaw();
    auto back = run(io, [](Redis r) -> asio::awaitable<bool> {
        asio::steady_timer t(co_await asio::this_coro::executor);
        for (int i = 0; i < 200; ++i) {
            try {
                co_return (co_await r.get("k")) == std::optional<std::string>("v");
            } catch (const fastapi::RedisConnectionError&) {
            }
            t.expires_after(std::chrono::milliseconds(20));
            co_await t.async_wait(asio::use_awaitable);
        }
        co_return false;
    }(r), 15000ms);
    CHECK(back);
}

TEST_CASE("Redis: a connect timeout for a socket nobody answers; a refused connection fails at once") {
    char tmpl[] = "/tmp/fastapi-redis-deaf-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    std::string path = std::string(tmpl) + "/deaf.sock";
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(fd, 16) == 0);  // accepted by the kernel, never answered
    asio::io_context io;
    RedisOptions o;
    o.unix_path = path;
    o.connect_timeout = 300ms;
    Redis r(o);
    auto start = std::chrono::steady_clock::now();
    auto msg = error_of([&] { run(io, [](Redis r) -> asio::awaitable<void> { co_await r.get("k"); }(r)); });
    auto took = std::chrono::steady_clock::now() - start;
    CHECK(msg.find("no answer within 300 ms") != std::string::npos);
    CHECK(took >= 250ms);
    CHECK(took < 2s);
    ::close(fd);
    ::unlink(path.c_str());
    ::rmdir(tmpl);

    RedisOptions nobody;
    nobody.unix_path = std::string(tmpl) + "/none.sock";
    Redis n(nobody);
    start = std::chrono::steady_clock::now();
    msg = error_of([&] { run(io, [](Redis r) -> asio::awaitable<void> { co_await r.get("k"); }(n)); });
    CHECK(msg.find("cannot connect to Redis at unix:") != std::string::npos);
    CHECK(std::chrono::steady_clock::now() - start < 1s);
}

TEST_CASE("Redis: a cancelled call ends at once, its late reply is dropped, the next reply goes to the right caller") {
    RedisServer server;
    asio::io_context io;
    Redis r(server.url());
    Redis blocking = r.dedicated();
    asio::cancellation_signal cancel;
    std::exception_ptr outcome;
    bool ended = false;
    asio::co_spawn(io, [](Redis b) -> asio::awaitable<void> { co_await b.command("BLPOP", "q", 0); }(blocking),
                   asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr e) {
                       outcome = e;
                       ended = true;
                   }));
    for (int i = 0; i < 20; ++i) io.restart(), io.run_for(5ms);
    CHECK(!ended);
    cancel.emit(asio::cancellation_type::terminal);
    for (int i = 0; i < 20 && !ended; ++i) io.restart(), io.run_for(5ms);
    REQUIRE(ended);
    bool aborted = false;
    try {
        std::rethrow_exception(outcome);
    } catch (const asio::system_error& e) {
        aborted = e.code() == asio::error::operation_aborted;
    } catch (...) {
    }
    CHECK(aborted);
    // The BLPOP's reply comes later (someone pushes): dropped, and the next command on that
    // connection gets its own reply.
    auto next = run(io, [](Redis r, Redis b) -> asio::awaitable<std::string> {
        co_await r.command("RPUSH", "q", "late");
        co_return co_await b.command<std::string>("ECHO", "mine");
    }(r, blocking));
    CHECK(next == "mine");
}

TEST_CASE("Redis: the blocking API from threads, and its refusal on the loop's own thread") {
    RedisServer server;
    // A client used only blocking: it runs its connection on a loop of its own.
    Redis r(server.url());
    std::vector<std::thread> threads;
    std::atomic<int> right{0};
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&r, &right, t] {
            auto b = r.blocking();
            for (int i = 0; i < 25; ++i) {
                std::string key = "t" + std::to_string(t) + ":" + std::to_string(i);
                b.set(key, key + "!");
                if (b.get(key) == key + "!") ++right;
            }
            b.incr("threads");
        });
    for (auto& t : threads) t.join();
    CHECK(right == 100);
    CHECK(r.blocking().command<int>("GET", "threads") == 4);
    fastapi::RedisBatch batch;
    batch.add("INCR", "threads");
    CHECK((*r.blocking().transaction(batch))[0].integer == 5);

    // A client bound to a loop: blocking calls from another thread go through the loop...
    asio::io_context io;
    auto guard = asio::make_work_guard(io);
    std::thread loop([&] { io.run(); });
    Redis bound(server.options(), io.get_executor());
    CHECK(bound.blocking().set("bound", "yes"));
    CHECK(bound.blocking().get("bound") == std::optional<std::string>("yes"));
    // ...and are refused on the loop's thread, where they would wait for themselves.
    auto refused = asio::co_spawn(io, [](Redis b) -> asio::awaitable<std::string> {
        co_return error_of([&] { b.blocking().get("bound"); });
    }(bound), asio::use_future);
    REQUIRE(refused.wait_for(5s) == std::future_status::ready);
    CHECK(refused.get().find("blocking call on the event loop's own thread") != std::string::npos);
    guard.reset();
    io.stop();
    loop.join();
}

TEST_CASE("Redis: LoopState<Redis> in a coroutine route; a client that leaves cancels the route's Redis call") {
    RedisServer server;
    ::setenv("REDIS_URL", server.url().c_str(), 1);
    fastapi::App app;
    app.get("/counter", [](fastapi::LoopState<Redis> redis) -> asio::awaitable<fastapi::json> {
        auto n = co_await redis->incr("counter");
        fastapi::json j = fastapi::json::object();
        j["count"] = n;
        co_return j;
    });
    static std::atomic<int> finished{0};
    static std::atomic<bool> cancelled{false};
    finished = 0;
    cancelled = false;
    app.get("/wait", [](fastapi::LoopState<Redis> redis) -> asio::awaitable<std::string> {
        try {
            co_await redis->command("BLPOP", "wakeup", 0);  // blocks until cancelled
        } catch (const asio::system_error& e) {
            if (e.code() == asio::error::operation_aborted) cancelled = true;
            ++finished;
            throw;
        }
        ++finished;
        co_return "woken";
    });
    {
        test::LiveServer live(app);
        for (int i = 1; i <= 3; ++i) {
            test::RawClient c(live.port());
            c.send("GET /counter HTTP/1.1\r\nHost: x\r\n\r\n");
            auto resp = c.read_response();
            CHECK(test::status_of(resp) == 200);
            CHECK(test::body_of(resp) == "{\"count\":" + std::to_string(i) + "}");
        }
        {
            test::RawClient c(live.port());
            c.send("GET /wait HTTP/1.1\r\nHost: x\r\n\r\n");
            std::this_thread::sleep_for(100ms);
            CHECK(finished == 0);
        }  // the client leaves
        CHECK(test::eventually_true([] { return finished == 1; }, 3000ms));
        CHECK(cancelled);
    }
    ::unsetenv("REDIS_URL");
}

TEST_CASE("Redis: with own_thread, one client serves a TestClient's loop (which runs until it is out of work)") {
    RedisServer server;
    fastapi::App app;
    auto o = server.options();
    o.own_thread = true;
    app.set_state<Redis>(o);
    app.get("/hits", [](fastapi::State<Redis> redis) -> asio::awaitable<std::string> {
        auto n = co_await redis->incr("hits");
        co_return std::to_string(n);
    });
    fastapi::TestClient client(app);
    CHECK(client.get("/hits").text == "\"1\"");
    CHECK(client.get("/hits").text == "\"2\"");
}

TEST_CASE("examples/cache: GET /counter counts in Redis across two instances, in memory without REDIS_URL") {
    RedisServer server;
    {
        test::RunningExample a("cache", {{"REDIS_URL", server.url()}});
        test::RunningExample b("cache", {{"REDIS_URL", server.url()}});
        CHECK(test::body_of(a.ask("GET", "/counter")) == R"({"count":1,"store":"redis"})");
        CHECK(test::body_of(b.ask("GET", "/counter")) == R"({"count":2,"store":"redis"})");
        CHECK(test::body_of(a.ask("GET", "/counter")) == R"({"count":3,"store":"redis"})");
        // Stopped gracefully, with Redis connections open on its loops: it exits, and soon.
        CHECK(a.child.terminate(5000ms) == 0);
    }
    test::RunningExample alone("cache");
    CHECK(test::body_of(alone.ask("GET", "/counter")) == R"({"count":1,"store":"memory"})");
    CHECK(test::body_of(alone.ask("GET", "/counter")) == R"({"count":2,"store":"memory"})");
}

TEST_CASE("examples/websockets with REDIS_URL: a room across two processes (Python's websockets client), again after Redis restarts") {
    RedisServer server;
    test::RunningExample a("websockets", {{"REDIS_URL", server.url()}});
    test::RunningExample b("websockets", {{"REDIS_URL", server.url()}});
    std::string cmd = "timeout 90 /usr/bin/python3 " FASTAPI_SOURCE_DIR "/tests/python/websockets_client.py ";
    cmd += std::to_string(a.port) + " across " + std::to_string(b.port) + " 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    std::string out;
    char line[4096];
    // Up to "phase1": a message sent on either reached both; then Redis is killed and started again.
    for (int i = 0; i < 1000 && std::fgets(line, sizeof line, p); ++i) {
        out += line;
        if (out.find("phase1\n") != std::string::npos) break;
    }
    const bool phase1 = out.find("phase1\n") != std::string::npos;
    CHECK_MESSAGE(phase1, out);
    if (phase1) {
        server.kill();
        std::this_thread::sleep_for(200ms);
        server.start();
    }
    for (int i = 0; i < 1000 && std::fgets(line, sizeof line, p); ++i) out += line;
    const int status = ::pclose(p);
    INFO(out);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK(out == "phase1\nok\n");
    CHECK(a.child.terminate(5000ms) == 0);
    CHECK(b.child.terminate(5000ms) == 0);
}

}  // namespace redis_test

// Response caching on Redis (routing/cache.hpp, cache/redis_cache.hpp): two instances of
// examples/cache share entries, ETags, clears and the counter; Redis killed under load.
namespace cache_redis_test {

using namespace std::chrono_literals;
using redis_test::RedisServer;

std::string header(const std::string& response, const std::string& name) { return test::header_of(response, name); }
int status(const std::string& response) { return test::status_of(response); }

TEST_CASE("examples/cache on Redis: a response cached through one instance is a HIT through the other, same ETag; a clear is seen by both") {
    RedisServer server;
    test::RunningExample a("cache", {{"REDIS_URL", server.url()}});
    test::RunningExample b("cache", {{"REDIS_URL", server.url()}});
    std::string first = a.ask("GET", "/compute/12");
    CHECK(status(first) == 200);
    CHECK(header(first, "x-fastapi-cache") == "MISS");
    CHECK(test::body_of(first) == R"({"n":12,"square":144,"computed":1})");
    std::string etag = header(first, "etag");
    CHECK(etag.size() == 34);
    std::string second = b.ask("GET", "/compute/12");
    CHECK(header(second, "x-fastapi-cache") == "HIT");
    CHECK(header(second, "etag") == etag);
    CHECK(test::body_of(second) == test::body_of(first));  // computed by a: b computed nothing
    CHECK(!header(second, "age").empty());
    CHECK(status(b.ask("GET", "/compute/12", "If-None-Match: " + etag + "\r\n")) == 304);

    CHECK(status(b.ask("DELETE", "/cache/compute")) == 204);
    std::string after = a.ask("GET", "/compute/12");
    CHECK(header(after, "x-fastapi-cache") == "MISS");
    CHECK(test::body_of(after) == R"({"n":12,"square":144,"computed":2})");
    CHECK(header(b.ask("GET", "/compute/12"), "x-fastapi-cache") == "HIT");
    CHECK(header(after, "etag") != etag);  // another body ("computed" changed), another ETag

    CHECK(test::body_of(a.ask("GET", "/counter")) == R"({"count":1,"store":"redis"})");
    CHECK(test::body_of(b.ask("GET", "/counter")) == R"({"count":2,"store":"redis"})");
}

TEST_CASE("examples/cache on Redis: redis-server killed under load and started again: no 500, no hang, hits again") {
    RedisServer server;
    test::RunningExample a("cache", {{"REDIS_URL", server.url()}});
    CHECK(header(a.ask("GET", "/compute/3"), "x-fastapi-cache") == "MISS");
    CHECK(header(a.ask("GET", "/compute/3"), "x-fastapi-cache") == "HIT");
    server.kill();
    int ok = 0, other = 0;
    auto down_until = std::chrono::steady_clock::now() + 1500ms;
    for (int i = 0; i < 200 && std::chrono::steady_clock::now() < down_until; ++i) {
        auto start = std::chrono::steady_clock::now();
        std::string r = a.ask("GET", "/compute/" + std::to_string(i % 5));
        CHECK(std::chrono::steady_clock::now() - start < 3000ms);
        if (status(r) == 200) ++ok;
        else ++other;
    }
    CHECK(other == 0);  // Redis down: every answer is a miss, computed, 200
    CHECK(ok > 0);
    server.start();
    bool hit_again = test::eventually_true([&] {
        a.ask("GET", "/compute/4");
        return header(a.ask("GET", "/compute/4"), "x-fastapi-cache") == "HIT";
    }, 10000ms);
    CHECK(hit_again);
}

}  // namespace cache_redis_test
