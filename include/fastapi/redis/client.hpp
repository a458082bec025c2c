// client: fastapi::Redis, the public face of the Redis client (in the spirit of Boost.Redis and
// redis-py's asyncio client). A Redis is a cheap handle (copies share one connection) made from
// a URL or options; its connection is made on the event loop of the first coroutine that uses
// it (LoopState<Redis> gives one per loop, as Boost.Redis intends), and works from any thread
// (work is handed to that loop, the answer handed back). Coroutine calls (co_await redis.get(k))
// are cancelled with the request that makes them; redis.blocking() is the same API for
// blocking handlers and background tasks, refused on the loop's own thread. Transactions,
// scripts and pub/sub (RedisSubscriber, on a connection of its own) are here too. Replies are
// converted to the type asked for: std::optional<std::string>, integers, doubles, bool,
// vectors, maps, fastapi::json and models (through the JSON machinery).
#pragma once
#include "connection.hpp"
#include "../http/websocket.hpp"  // sha1, for script digests
#include "../model/json.hpp"
#include "../model/json_reader.hpp"
#include "../model/json_value.hpp"

#include <charconv>   // to_chars, from_chars
#include <map>        // map
#include <mutex>      // mutex
#include <optional>   // optional
#include <string>     // string
#include <thread>     // thread (a client's own loop)
#include <unordered_map>  // unordered_map
#if FASTAPI_INTERNALS
#include <future>               // future (the blocking API)
#include <asio/use_future.hpp>  // use_future
#endif

namespace fastapi {

// SET's options: {.px = 500ms, .nx = true}.
struct RedisSetOptions {
    std::chrono::seconds ex{0};
    std::chrono::milliseconds px{0};
    bool nx = false;       // only when the key is missing
    bool xx = false;       // only when it exists
    bool keepttl = false;  // keep the key's time to live
};

// A pub/sub message: the channel it came on, what was published, and the pattern it matched
// (for psubscribe).
struct RedisMessage {
    std::string channel;
    std::string payload;
    std::string pattern;
};

namespace detail {

// ---- arguments: strings as they are, numbers in decimal, models and json as JSON text,
// vectors as one argument per element ----------------------------------------------------
template <class T>
inline constexpr bool redis_false = false;

template <class T>
void redis_arg(std::vector<std::string>& out, const T& v) {
    using U = std::remove_cvref_t<T>;
    if constexpr (std::is_convertible_v<const U&, std::string_view>) out.emplace_back(std::string_view(v));
    else if constexpr (std::is_same_v<U, bool>) out.emplace_back(v ? "1" : "0");
    else if constexpr (std::is_integral_v<U>) out.push_back(std::to_string(v));
    else if constexpr (std::is_floating_point_v<U>) {
        char buf[64];
        auto r = std::to_chars(buf, buf + sizeof buf, v);
        out.emplace_back(buf, r.ptr);
    } else if constexpr (std::is_same_v<U, json>) out.push_back(v.dump());
    else if constexpr (is_vector_v<U>) {
        for (const auto& e : v) redis_arg(out, e);
    } else if constexpr (json_writable<U>()) out.push_back(to_json_string(v));
    else static_assert(redis_false<U>, "fastapi::Redis: an argument must be a string, a number, a bool, fastapi::json, "
                                       "a model, or a std::vector of them");
}

FASTAPI_DECL std::string redis_payload(std::string_view name, const std::vector<std::string>& args);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string redis_payload(std::string_view name, const std::vector<std::string>& args) {
    std::string out;
    std::size_t size = 24 + name.size();
    for (const auto& a : args) size += a.size() + 16;
    out.reserve(size);
    append_command_header(out, args.size() + 1);
    append_command_arg(out, name);
    for (const auto& a : args) append_command_arg(out, a);
    return out;
}
#endif

template <class... A>
std::string redis_build(std::string_view name, const A&... args) {
    std::vector<std::string> v;
    v.reserve(sizeof...(A));
    (redis_arg(v, args), ...);
    return redis_payload(name, v);
}

// ---- replies to types -------------------------------------------------------------------
[[noreturn]] FASTAPI_DECL void redis_mismatch(const RedisValue& v, const char* target);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL const char* redis_type_name(const RedisValue& v) {
    switch (v.type) {
        case RedisValue::Type::null: return "null";
        case RedisValue::Type::simple: case RedisValue::Type::bulk: case RedisValue::Type::verbatim: return "string";
        case RedisValue::Type::error: return "error";
        case RedisValue::Type::integer: return "integer";
        case RedisValue::Type::double_: return "double";
        case RedisValue::Type::boolean: return "boolean";
        case RedisValue::Type::big_number: return "big number";
        case RedisValue::Type::array: return "array";
        case RedisValue::Type::map: return "map";
        case RedisValue::Type::set: return "set";
        case RedisValue::Type::push: return "push";
    }
    return "?";
}
[[noreturn]] FASTAPI_DECL void redis_mismatch(const RedisValue& v, const char* target) {
    throw RedisError(std::string("fastapi::Redis: a ") + redis_type_name(v) + " reply cannot be read as " + target);
}
#endif
FASTAPI_DECL void redis_throw_if_error(const RedisValue& v);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void redis_throw_if_error(const RedisValue& v) {
    if (v.is_error()) throw RedisError(v.str);
}
#endif
FASTAPI_DECL std::string redis_string(RedisValue&& v);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string redis_string(RedisValue&& v) {
    redis_throw_if_error(v);
    if (v.is_string() || v.type == RedisValue::Type::big_number || v.type == RedisValue::Type::double_) return std::move(v.str);
    if (v.type == RedisValue::Type::integer) return std::to_string(v.integer);
    redis_mismatch(v, v.is_null() ? "std::string (ask for std::optional<std::string>)" : "std::string");
}
#endif
FASTAPI_DECL std::int64_t redis_integer(const RedisValue& v);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::int64_t redis_integer(const RedisValue& v) {
    redis_throw_if_error(v);
    if (v.type == RedisValue::Type::integer || v.type == RedisValue::Type::boolean) return v.integer;
    if (v.is_string() || v.type == RedisValue::Type::big_number) {
        std::int64_t n = 0;
        auto r = std::from_chars(v.str.data(), v.str.data() + v.str.size(), n);
        if (r.ec == std::errc() && r.ptr == v.str.data() + v.str.size()) return n;
        throw RedisError("fastapi::Redis: the reply '" + v.str.substr(0, 40) + "' is not an integer");
    }
    redis_mismatch(v, "an integer");
}
#endif
FASTAPI_DECL double redis_double(const RedisValue& v);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL double redis_double(const RedisValue& v) {
    redis_throw_if_error(v);
    if (v.type == RedisValue::Type::double_) return v.number;
    if (v.type == RedisValue::Type::integer) return static_cast<double>(v.integer);
    if (v.is_string()) {
        char* end = nullptr;
        double d = std::strtod(v.str.c_str(), &end);
        if (!v.str.empty() && end == v.str.c_str() + v.str.size()) return d;
        throw RedisError("fastapi::Redis: the reply '" + v.str.substr(0, 40) + "' is not a number");
    }
    redis_mismatch(v, "a double");
}
#endif
FASTAPI_DECL bool redis_bool(const RedisValue& v);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool redis_bool(const RedisValue& v) {
    redis_throw_if_error(v);
    if (v.type == RedisValue::Type::integer || v.type == RedisValue::Type::boolean) return v.integer != 0;
    if (v.is_null()) return false;
    if (v.type == RedisValue::Type::simple) return true;  // +OK
    redis_mismatch(v, "bool");
}
#endif
FASTAPI_DECL json redis_json(RedisValue&& v);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL json redis_json(RedisValue&& v) {
    std::string text = redis_string(std::move(v));
    picojson::value parsed;
    std::string err = picojson::parse(parsed, text);
    if (!err.empty()) throw RedisError("fastapi::Redis: the value is not JSON: " + err.substr(0, 200));
    return json(parsed);
}
#endif
FASTAPI_DECL std::vector<RedisValue>& redis_elements(RedisValue& v, const char* target);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::vector<RedisValue>& redis_elements(RedisValue& v, const char* target) {
    redis_throw_if_error(v);
    if (!v.is_aggregate() && !v.is_null()) redis_mismatch(v, target);
    return v.elements;
}
#endif
FASTAPI_DECL std::string redis_model_error(const ValidationErrors& errors);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string redis_model_error(const ValidationErrors& errors) {
    std::string msg = "fastapi::Redis: the stored value does not fit the model";
    if (!errors.empty()) msg += ": " + errors.front().msg;
    return msg;
}
#endif

template <class R>
R redis_convert(RedisValue&& v) {
    using U = std::remove_cvref_t<R>;
    if constexpr (std::is_same_v<U, RedisValue>) {
        redis_throw_if_error(v);
        return std::move(v);
    } else if constexpr (is_optional_v<U>) {
        redis_throw_if_error(v);
        if (v.is_null()) return std::nullopt;
        return U(redis_convert<typename U::value_type>(std::move(v)));
    } else if constexpr (std::is_same_v<U, std::string>) return redis_string(std::move(v));
    else if constexpr (std::is_same_v<U, bool>) return redis_bool(v);
    else if constexpr (std::is_integral_v<U>) {
        std::int64_t n = redis_integer(v);
        if (!std::in_range<U>(n)) throw RedisError("fastapi::Redis: the integer " + std::to_string(n) + " is out of range");
        return static_cast<U>(n);
    } else if constexpr (std::is_floating_point_v<U>) return static_cast<U>(redis_double(v));
    else if constexpr (std::is_same_v<U, json>) return redis_json(std::move(v));
    else if constexpr (is_vector_v<U>) {
        U out;
        auto& items = redis_elements(v, "a std::vector");
        out.reserve(items.size());
        for (auto& e : items) out.push_back(redis_convert<typename U::value_type>(std::move(e)));
        return out;
    } else if constexpr (requires { typename U::key_type; typename U::mapped_type; }) {
        U out;
        auto& items = redis_elements(v, "a map");
        if (items.size() % 2) redis_mismatch(v, "a map (an odd number of elements)");
        for (std::size_t i = 0; i + 1 < items.size(); i += 2)
            out.emplace(redis_convert<typename U::key_type>(std::move(items[i])),
                        redis_convert<typename U::mapped_type>(std::move(items[i + 1])));
        return out;
    } else if constexpr (is_model_v<U>) {
        std::string text = redis_string(std::move(v));
        U out{};
        ValidationErrors errors;
        if (!read_json_body(text, out, errors, Loc{})) throw RedisError(redis_model_error(errors));
        return out;
    } else {
        static_assert(redis_false<U>, "fastapi::Redis: a reply can be read as RedisValue, std::string, an integer, a "
                                      "double, bool, fastapi::json, a model, or a std::optional, std::vector or map of them");
    }
}

#if FASTAPI_INTERNALS
// ---- waiting for a request from a coroutine: the answer comes back on the coroutine's
// executor; a cancellation (the request's client went away) answers at once with
// operation_aborted and drops the reply when it comes -------------------------------------
template <class Handler>
class RedisHandlerWaiter final : public RedisWaiter, public std::enable_shared_from_this<RedisHandlerWaiter<Handler>> {
public:
    RedisHandlerWaiter(Handler h, const asio::any_io_executor& fallback)
        : handler_(std::move(h)), ex_(asio::get_associated_executor(*handler_, fallback)),
          slot_(asio::get_associated_cancellation_slot(*handler_)) {}

    void arm(const std::shared_ptr<RedisConnection>& c, const std::shared_ptr<RedisRequest>& r) {
        if (!slot_.is_connected()) return;
        std::weak_ptr<RedisHandlerWaiter> weak = this->shared_from_this();
        slot_.assign([weak, c, request = std::weak_ptr<RedisRequest>(r)](asio::cancellation_type) {
            auto self = weak.lock();
            if (!self || self->claimed_.exchange(true)) return;
            asio::post(c->executor(), [request] {
                if (auto r = request.lock()) r->abandoned = true;
            });
            asio::post(self->ex_, [self] {
                self->invoke(std::make_exception_ptr(asio::system_error(asio::error::operation_aborted)), {});
            });
        });
    }
    void complete(std::exception_ptr error, std::vector<RedisValue> replies) override {
        if (claimed_.exchange(true)) return;
        // On the caller's own loop (the connection's, as a rule) the caller resumes at once,
        // from the reader: no post and no second turn of the scheduler per reply. From
        // another thread (own_thread, the blocking API) it is posted there.
        asio::dispatch(ex_, [self = this->shared_from_this(), error, replies = std::move(replies)]() mutable {
            self->invoke(error, std::move(replies));
        });
    }

private:
    void invoke(std::exception_ptr error, std::vector<RedisValue> replies) {
        if (slot_.is_connected()) slot_.clear();
        Handler h = std::move(*handler_);
        handler_.reset();
        std::move(h)(error, std::move(replies));
    }

    std::optional<Handler> handler_;
    asio::any_io_executor ex_;
    asio::cancellation_slot slot_;
    std::atomic<bool> claimed_{false};
};
#endif  // FASTAPI_INTERNALS

// Runs a request on a connection and gives its replies.
FASTAPI_CORO_DECL asio::awaitable<std::vector<RedisValue>> redis_exec(std::shared_ptr<RedisConnection> c,
                                                                std::shared_ptr<RedisRequest> r);
#if FASTAPI_DEFINITIONS
FASTAPI_CORO_DEF asio::awaitable<std::vector<RedisValue>> redis_exec(std::shared_ptr<RedisConnection> c,
                                                               std::shared_ptr<RedisRequest> r) {
    return asio::async_initiate<const asio::use_awaitable_t<>&, void(std::exception_ptr, std::vector<RedisValue>)>(
        [](auto handler, std::shared_ptr<RedisConnection> c, std::shared_ptr<RedisRequest> r) {
            using H = decltype(handler);
            auto w = std::make_shared<RedisHandlerWaiter<H>>(std::move(handler), c->executor());
            r->waiter = w;
            w->arm(c, r);
            if (c->mode() == RedisConnection::Mode::pubsub && r->replies == 0 && r->payload.empty())
                asio::dispatch(c->executor(), [c, r] { c->wait_message(r); });
            else
                asio::dispatch(c->executor(), [c, r] { c->submit(r); });
        },
        asio::use_awaitable, std::move(c), std::move(r));
}
#endif

FASTAPI_DECL std::shared_ptr<RedisRequest> redis_request(std::string payload, std::size_t replies = 1);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::shared_ptr<RedisRequest> redis_request(std::string payload, std::size_t replies) {
    auto r = std::make_shared<RedisRequest>();
    r->payload = std::move(payload);
    r->replies = replies;
    return r;
}
#endif

// What a Redis handle shares: the options, and the connection, made on the first loop that
// needs it, or on a loop (thread) of its own for a client used only through blocking calls.
// (Internal: the handles hold it through a pointer and reach it through functions of the
// implementation.)
class RedisLink;
#if FASTAPI_INTERNALS
class RedisLink {
public:
    RedisLink(RedisOptions options, RedisConnection::Mode mode, asio::any_io_executor ex = {})
        : options_(std::move(options)), mode_(mode) {
        if (ex) bind(ex);
    }
    RedisLink(const RedisLink&) = delete;
    RedisLink& operator=(const RedisLink&) = delete;
    ~RedisLink() {
        std::shared_ptr<RedisConnection> c;
        {
            std::lock_guard lock(mutex_);
            c = conn_;
        }
        if (c && !c->context_gone()) {
            if (c->on_own_thread()) c->close();
            else asio::post(c->executor(), [c] { c->close(); });
        }
        if (own_) {
            asio::post(own_->io, [io = &own_->io] { io->stop(); });
            own_->guard.reset();
            if (own_->thread.get_id() == std::this_thread::get_id()) own_->thread.detach();
            else own_->thread.join();
        }
    }

    const RedisOptions& options() const noexcept { return options_; }
    RedisConnection::Mode mode() const noexcept { return mode_; }

    // The connection, bound to `ex` if it has none yet (to a loop of its own with own_thread).
    std::shared_ptr<RedisConnection> bind(const asio::any_io_executor& ex) {
        if (bound_.load(std::memory_order_acquire)) return conn_;
        std::lock_guard lock(mutex_);
        if (!conn_) {
            if (options_.own_thread) make_own_loop();
            else {
                conn_ = std::make_shared<RedisConnection>(ex, options_, mode_);
                RedisLoopService::watch(conn_);
                // Bound here, on the loop's thread: when the server stops the loop, it ends.
                on_loop_stop([weak = std::weak_ptr<RedisConnection>(conn_)] {
                    if (auto c = weak.lock()) c->suspend();
                });
            }
            bound_.store(true, std::memory_order_release);
        }
        return conn_;
    }
    // The connection, if bound.
    std::shared_ptr<RedisConnection> bound() {
        if (bound_.load(std::memory_order_acquire)) return conn_;
        std::lock_guard lock(mutex_);
        return conn_;
    }
    // The executor a blocking call runs its work on: the connection's, or a loop of its own.
    asio::any_io_executor blocking_executor() {
        std::shared_ptr<RedisConnection> c = bound();
        if (!c) {
            std::lock_guard lock(mutex_);
            if (!conn_) {
                make_own_loop();
                bound_.store(true, std::memory_order_release);
            }
            c = conn_;
        }
        if (c->on_own_thread())
            throw std::logic_error(
                "fastapi::Redis: a blocking call on the event loop's own thread would block every request of the loop "
                "and wait for itself: co_await the coroutine API there (co_await redis.get(key)), or call blocking() from "
                "a blocking handler or a background task");
        return c->executor();
    }

private:
    struct OwnLoop {
        asio::io_context io{1};
        asio::executor_work_guard<asio::io_context::executor_type> guard{io.get_executor()};
        std::thread thread;
    };
    RedisOptions options_;
    RedisConnection::Mode mode_;
    std::mutex mutex_;
    std::shared_ptr<RedisConnection> conn_;  // set once
    std::atomic<bool> bound_{false};
    std::unique_ptr<OwnLoop> own_;

    void make_own_loop() {  // with mutex_
        own_ = std::make_unique<OwnLoop>();
        own_->thread = std::thread([io = &own_->io] { io->run(); });
        conn_ = std::make_shared<RedisConnection>(own_->io.get_executor(), options_, mode_);
        RedisLoopService::watch(conn_);
    }
};

#endif  // FASTAPI_INTERNALS

// Runs a coroutine of the client on its connection's executor and waits for it (the blocking
// API): the one wait (co_spawn with use_future, compiled once), each type's result kept by a
// small coroutine around it.
FASTAPI_DECL void redis_wait_void(RedisLink& link, asio::awaitable<void> work);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void redis_wait_void(RedisLink& link, asio::awaitable<void> work) {
    auto ex = link.blocking_executor();
    asio::co_spawn(ex, std::move(work), asio::use_future).get();
}
#endif
template <class T>
asio::awaitable<void> redis_keep(asio::awaitable<T> work, std::optional<T>* out) {
    auto v = co_await std::move(work);
    out->emplace(std::move(v));
}
template <class T>
T redis_wait(RedisLink& link, asio::awaitable<T> work) {
    if constexpr (std::is_void_v<T>) {
        redis_wait_void(link, std::move(work));
    } else {
        std::optional<T> out;
        redis_wait_void(link, redis_keep(std::move(work), &out));
        return std::move(*out);
    }
}

FASTAPI_DECL std::string redis_set_payload(std::string_view key, std::string_view value, const RedisSetOptions& o);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string redis_set_payload(std::string_view key, std::string_view value, const RedisSetOptions& o) {
    std::string out;
    out.reserve(96 + key.size() + value.size());
    std::size_t n = 3 + (o.ex.count() > 0) * 2 + (o.px.count() > 0) * 2 + o.nx + o.xx + o.keepttl;
    append_command_header(out, n);
    append_command_arg(out, "SET");
    append_command_arg(out, key);
    append_command_arg(out, value);
    if (o.ex.count() > 0) append_command_arg(out, "EX"), append_command_arg(out, std::to_string(o.ex.count()));
    if (o.px.count() > 0) append_command_arg(out, "PX"), append_command_arg(out, std::to_string(o.px.count()));
    if (o.nx) append_command_arg(out, "NX");
    if (o.xx) append_command_arg(out, "XX");
    if (o.keepttl) append_command_arg(out, "KEEPTTL");
    return out;
}
#endif

// Commands that change the state of the connection they run on, refused on the shared one
// (where every coroutine of the loop would see the change).
FASTAPI_DECL void redis_check_shared(const RedisLink& link, std::string_view name);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void redis_check_shared(const RedisLink& link, std::string_view name) {
    if (link.mode() != RedisConnection::Mode::shared || name.size() > 12) return;
    std::string upper(name);
    for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    static constexpr std::string_view stateful[] = {"WATCH", "UNWATCH", "MULTI", "EXEC", "DISCARD", "SELECT",
                                                    "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE",
                                                    "PUNSUBSCRIBE", "MONITOR", "RESET", "HELLO", "QUIT", "AUTH"};
    for (auto s : stateful)
        if (upper == s)
            throw std::logic_error("fastapi::Redis: " + upper +
                                   " changes the state of the connection every coroutine of the loop shares: use "
                                   "redis.transaction(batch) for MULTI/EXEC, redis.dedicated() for WATCH and other "
                                   "connection state, redis.subscriber() for pub/sub");
}
#endif

}  // namespace detail

// Commands sent together: redis.pipeline(batch) (in one write, replies in order) or
// redis.transaction(batch) (between MULTI and EXEC: all or nothing).
class RedisBatch {
public:
    template <class... A>
    RedisBatch& add(std::string_view name, const A&... args) {
        payload_ += detail::redis_build(name, args...);
        ++count_;
        return *this;
    }
    std::size_t size() const noexcept { return count_; }
    const std::string& payload() const noexcept { return payload_; }

private:
    std::string payload_;
    std::size_t count_ = 0;
};

// A Lua script, run by its SHA-1 (EVALSHA), sent whole (EVAL) only when the server does not
// have it yet (NOSCRIPT: after a restart or SCRIPT FLUSH).
class RedisScript {
public:
    explicit RedisScript(std::string source);
    const std::string& source() const noexcept { return source_; }
    const std::string& sha1() const noexcept { return sha1_; }

private:
    std::string source_, sha1_;
};

#if FASTAPI_DEFINITIONS
FASTAPI_DECL RedisScript::RedisScript(std::string source) : source_(std::move(source)) {
    static constexpr char hex[] = "0123456789abcdef";
    for (auto b : detail::sha1(source_)) {
        sha1_ += hex[b >> 4];
        sha1_ += hex[b & 15];
    }
}
#endif

class RedisBlocking;
class RedisSubscriber;
class Redis;
namespace detail {
FASTAPI_DECL std::shared_ptr<RedisConnection> redis_connection_of(const Redis& r);
}

class Redis {
public:
    // From REDIS_URL (redis://127.0.0.1:6379/0 when it is not set).
    Redis() : Redis(redis_options_from_env()) {}
    explicit Redis(std::string_view url) : Redis(parse_redis_url(url)) {}
    explicit Redis(const char* url) : Redis(parse_redis_url(url)) {}
    explicit Redis(RedisOptions options, asio::any_io_executor ex = {});

    const RedisOptions& options() const noexcept;

    // ---- the coroutine API ----
    FASTAPI_CORO_DECL asio::awaitable<std::optional<std::string>> get(std::string_view key);
    // true when set, false when .nx or .xx kept it from being set.
    FASTAPI_CORO_DECL asio::awaitable<bool> set(std::string_view key, std::string_view value, RedisSetOptions o = {});
    // A model or fastapi::json, stored as JSON text (read back with get_as<T>).
    template <class T>
        requires(!std::is_convertible_v<const T&, std::string_view>)
    asio::awaitable<bool> set(std::string_view key, const T& value, RedisSetOptions o = {}) {
        std::vector<std::string> text;
        detail::redis_arg(text, value);
        co_return co_await set(key, std::string_view(text.at(0)), o);
    }
    template <class T>
    asio::awaitable<std::optional<T>> get_as(std::string_view key) {
        std::string payload = detail::make_command("GET", key);
        auto v = co_await run(std::move(payload));
        co_return detail::redis_convert<std::optional<T>>(std::move(v));
    }
    FASTAPI_CORO_DECL asio::awaitable<std::int64_t> incr(std::string_view key, std::int64_t by = 1);
    // How many of the keys existed.
    FASTAPI_CORO_DECL asio::awaitable<std::int64_t> del(std::string_view key);
    // false when the key does not exist.
    FASTAPI_CORO_DECL asio::awaitable<bool> expire(std::string_view key, std::chrono::seconds ttl);
    // How many subscribers received it.
    FASTAPI_CORO_DECL asio::awaitable<std::int64_t> publish(std::string_view channel, std::string_view message);
    // Any command, its reply read as R: co_await redis.command<std::int64_t>("HSET", "h", "f", 1).
    template <class R = RedisValue, class... A>
    asio::awaitable<R> command(std::string_view name, const A&... args) {
        detail::redis_check_shared(*link_, name);
        std::string payload = detail::redis_build(name, args...);
        auto v = co_await run(std::move(payload));
        if constexpr (std::is_void_v<R>) detail::redis_throw_if_error(v);
        else co_return detail::redis_convert<R>(std::move(v));
    }
    // The batch's replies in order (the first error reply is thrown as RedisError).
    FASTAPI_CORO_DECL asio::awaitable<std::vector<RedisValue>> pipeline(const RedisBatch& batch);
    // MULTI, the batch, EXEC in one write: the replies of the batch's commands, or none when a
    // key WATCHed (on a dedicated() connection) changed. A command Redis refused to queue, or
    // one that failed inside, is thrown as RedisError.
    FASTAPI_CORO_DECL asio::awaitable<std::optional<std::vector<RedisValue>>> transaction(const RedisBatch& batch);
    // EVALSHA, then EVAL when the server does not know the script; as redis-py's
    // eval(script, numkeys, *keys_and_args): co_await redis.eval<std::int64_t>(script, 1, "key", 5).
    // (A std::vector argument is one argument per element.)
    template <class R = RedisValue, class... A>
    asio::awaitable<R> eval(const RedisScript& script, std::size_t numkeys, const A&... keys_and_args) {
        std::vector<std::string> all;
        (detail::redis_arg(all, keys_and_args), ...);
        auto v = co_await eval_value(script, numkeys, std::move(all));
        co_return detail::redis_convert<R>(std::move(v));
    }

    // A Redis of its own connection (the same options, on the same loop once bound): for WATCH
    // and transactions that read first, blocking commands (BLPOP), SELECT. Closed when its last
    // copy goes.
    Redis dedicated() const;
    // A pub/sub subscriber on a connection of its own.
    RedisSubscriber subscriber() const;
    // The same API, blocking: for blocking handlers, background tasks, threads of your own.
    RedisBlocking blocking();

    // The value of one command, as it came (an error reply is a RedisError).
    FASTAPI_CORO_DECL asio::awaitable<RedisValue> run(std::string payload);

private:
    friend class RedisBlocking;
    friend std::shared_ptr<detail::RedisConnection> detail::redis_connection_of(const Redis& r);
    explicit Redis(std::shared_ptr<detail::RedisLink> link) : link_(std::move(link)) {}

    static std::optional<std::vector<RedisValue>> transaction_result(std::vector<RedisValue> replies);
    static std::string eval_payload(std::string_view verb, const std::string& body, std::size_t numkeys,
                                    const std::vector<std::string>& keys_and_args);
    FASTAPI_CORO_DECL asio::awaitable<RedisValue> eval_value(const RedisScript& script, std::size_t numkeys,
                                           std::vector<std::string> all);

    std::shared_ptr<detail::RedisLink> link_;
};

#if FASTAPI_DEFINITIONS
FASTAPI_DECL Redis::Redis(RedisOptions options, asio::any_io_executor ex)
    : link_(std::make_shared<detail::RedisLink>(std::move(options), detail::RedisConnection::Mode::shared, std::move(ex))) {}

FASTAPI_DECL const RedisOptions& Redis::options() const noexcept { return link_->options(); }

FASTAPI_DECL Redis Redis::dedicated() const {
    auto c = link_->bound();
    return Redis(std::make_shared<detail::RedisLink>(link_->options(), detail::RedisConnection::Mode::dedicated,
                                                     c ? c->executor() : asio::any_io_executor{}));
}

FASTAPI_DECL std::optional<std::vector<RedisValue>> Redis::transaction_result(std::vector<RedisValue> replies) {
        // replies: MULTI's OK, QUEUED (or an error) per command, EXEC's array (or null, or EXECABORT).
    for (std::size_t i = 0; i + 1 < replies.size(); ++i) detail::redis_throw_if_error(replies[i]);
    RedisValue& exec = replies.back();
    detail::redis_throw_if_error(exec);
    if (exec.is_null()) return std::nullopt;
    for (auto& r : exec.elements) detail::redis_throw_if_error(r);
    return std::move(exec.elements);
}

FASTAPI_DECL std::string Redis::eval_payload(std::string_view verb, const std::string& body, std::size_t numkeys,
                                           const std::vector<std::string>& keys_and_args) {
        std::string out;
    detail::append_command_header(out, keys_and_args.size() + 3);
    detail::append_command_arg(out, verb);
    detail::append_command_arg(out, body);
    detail::append_command_arg(out, std::to_string(numkeys));
    for (const auto& a : keys_and_args) detail::append_command_arg(out, a);
    return out;
}

FASTAPI_CORO_DEF asio::awaitable<std::optional<std::string>> Redis::get(std::string_view key) {
    std::string payload = detail::make_command("GET", key);
    auto v = co_await run(std::move(payload));
    co_return detail::redis_convert<std::optional<std::string>>(std::move(v));
}

FASTAPI_CORO_DEF asio::awaitable<bool> Redis::set(std::string_view key, std::string_view value, RedisSetOptions o) {
    std::string payload = detail::redis_set_payload(key, value, o);
    auto v = co_await run(std::move(payload));
    co_return detail::redis_bool(v);
}

FASTAPI_CORO_DEF asio::awaitable<std::int64_t> Redis::incr(std::string_view key, std::int64_t by) {
    // (Payloads are built before co_await: GCC 12 destroys some temporaries of a co_await
    // expression twice.)
    std::string payload = by == 1 ? detail::make_command("INCR", key) : detail::make_command("INCRBY", key, std::to_string(by));
    auto v = co_await run(std::move(payload));
    co_return detail::redis_integer(v);
}

FASTAPI_CORO_DEF asio::awaitable<std::int64_t> Redis::del(std::string_view key) {
    std::string payload = detail::make_command("DEL", key);
    auto v = co_await run(std::move(payload));
    co_return detail::redis_integer(v);
}

FASTAPI_CORO_DEF asio::awaitable<bool> Redis::expire(std::string_view key, std::chrono::seconds ttl) {
    std::string payload = detail::make_command("EXPIRE", key, std::to_string(ttl.count()));
    auto v = co_await run(std::move(payload));
    co_return detail::redis_bool(v);
}

FASTAPI_CORO_DEF asio::awaitable<std::int64_t> Redis::publish(std::string_view channel, std::string_view message) {
    std::string payload = detail::make_command("PUBLISH", channel, message);
    auto v = co_await run(std::move(payload));
    co_return detail::redis_integer(v);
}

FASTAPI_CORO_DEF asio::awaitable<std::vector<RedisValue>> Redis::pipeline(const RedisBatch& batch) {
    auto c = link_->bind(co_await asio::this_coro::executor);
    auto request = detail::redis_request(batch.payload(), batch.size());
    auto replies = co_await detail::redis_exec(c, std::move(request));
    for (auto& r : replies) detail::redis_throw_if_error(r);
    co_return replies;
}

FASTAPI_CORO_DEF asio::awaitable<std::optional<std::vector<RedisValue>>> Redis::transaction(const RedisBatch& batch) {
    auto c = link_->bind(co_await asio::this_coro::executor);
    std::string payload = detail::make_command("MULTI");
    payload += batch.payload();
    payload += detail::make_command("EXEC");
    auto request = detail::redis_request(std::move(payload), batch.size() + 2);
    auto replies = co_await detail::redis_exec(c, std::move(request));
    co_return transaction_result(std::move(replies));
}

FASTAPI_CORO_DEF asio::awaitable<RedisValue> Redis::run(std::string payload) {
    auto c = link_->bind(co_await asio::this_coro::executor);
    auto request = detail::redis_request(std::move(payload));
    auto replies = co_await detail::redis_exec(std::move(c), std::move(request));
    co_return std::move(replies.at(0));
}

FASTAPI_CORO_DEF asio::awaitable<RedisValue> Redis::eval_value(const RedisScript& script, std::size_t numkeys, std::vector<std::string> all) {
    if (numkeys > all.size()) throw std::invalid_argument("fastapi::Redis::eval: more keys than arguments");
    auto c = link_->bind(co_await asio::this_coro::executor);
    auto request = detail::redis_request(eval_payload("EVALSHA", script.sha1(), numkeys, all));
    auto replies = co_await detail::redis_exec(c, std::move(request));
    if (replies.at(0).is_error() && replies[0].str.starts_with("NOSCRIPT")) {
        auto again = detail::redis_request(eval_payload("EVAL", script.source(), numkeys, all));
        replies = co_await detail::redis_exec(c, std::move(again));
    }
    detail::redis_throw_if_error(replies.at(0));
    co_return std::move(replies[0]);
}
#endif

// redis.blocking(): each call waits for its answer on the calling thread. Refused (logic_error)
// on the thread of the loop the client's connection lives on, where it would wait for itself.
class RedisBlocking {
public:
    explicit RedisBlocking(Redis redis) : r_(std::move(redis)) {}
    // (Compiled once in the compiled-once mode; templates header-only, as the coroutines they wait for.)
    FASTAPI_CORO_DECL std::optional<std::string> get(std::string_view key);
    FASTAPI_CORO_DECL bool set(std::string_view key, std::string_view value, RedisSetOptions o = {});
    template <class T>
        requires(!std::is_convertible_v<const T&, std::string_view>)
    bool set(std::string_view key, const T& value, RedisSetOptions o = {}) { return wait(r_.set(key, value, o)); }
    template <class T>
    std::optional<T> get_as(std::string_view key) { return wait(r_.get_as<T>(key)); }
    FASTAPI_CORO_DECL std::int64_t incr(std::string_view key, std::int64_t by = 1);
    FASTAPI_CORO_DECL std::int64_t del(std::string_view key);
    FASTAPI_CORO_DECL bool expire(std::string_view key, std::chrono::seconds ttl);
    FASTAPI_CORO_DECL std::int64_t publish(std::string_view channel, std::string_view message);
    template <class R = RedisValue, class... A>
    R command(std::string_view name, const A&... args) { return wait(r_.command<R>(name, args...)); }
    FASTAPI_CORO_DECL std::vector<RedisValue> pipeline(const RedisBatch& b);
    FASTAPI_CORO_DECL std::optional<std::vector<RedisValue>> transaction(const RedisBatch& b);
    template <class R = RedisValue, class... A>
    R eval(const RedisScript& s, std::size_t numkeys, const A&... keys_and_args) {
        return wait(r_.eval<R>(s, numkeys, keys_and_args...));
    }

private:
    template <class T>
    T wait(asio::awaitable<T> work) { return detail::redis_wait(*r_.link_, std::move(work)); }
    Redis r_;
};

#if FASTAPI_DEFINITIONS
FASTAPI_CORO_DEF std::optional<std::string> RedisBlocking::get(std::string_view key) { return wait(r_.get(key)); }
FASTAPI_CORO_DEF bool RedisBlocking::set(std::string_view key, std::string_view value, RedisSetOptions o) { return wait(r_.set(key, value, o)); }
FASTAPI_CORO_DEF std::int64_t RedisBlocking::incr(std::string_view key, std::int64_t by) { return wait(r_.incr(key, by)); }
FASTAPI_CORO_DEF std::int64_t RedisBlocking::del(std::string_view key) { return wait(r_.del(key)); }
FASTAPI_CORO_DEF bool RedisBlocking::expire(std::string_view key, std::chrono::seconds ttl) { return wait(r_.expire(key, ttl)); }
FASTAPI_CORO_DEF std::int64_t RedisBlocking::publish(std::string_view channel, std::string_view message) {
    return wait(r_.publish(channel, message));
}
FASTAPI_CORO_DEF std::vector<RedisValue> RedisBlocking::pipeline(const RedisBatch& b) { return wait(r_.pipeline(b)); }
FASTAPI_CORO_DEF std::optional<std::vector<RedisValue>> RedisBlocking::transaction(const RedisBatch& b) { return wait(r_.transaction(b)); }
#endif

// The connection a Redis handle has made (none before its first use): for tests and diagnostics.
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::shared_ptr<detail::RedisConnection> detail::redis_connection_of(const Redis& r) { return r.link_->bound(); }
#endif

#if FASTAPI_DEFINITIONS
FASTAPI_DECL RedisBlocking Redis::blocking() { return RedisBlocking(*this); }
#endif

// Pub/sub on a connection of its own: subscribe to channels (or patterns), then
// `while (auto m = co_await sub.next())` takes the messages as they come. Subscriptions are kept
// and made again after a reconnection (messages published while it was down are lost, as
// Redis's pub/sub is at most once). The messages not taken yet are bounded
// (FASTAPI_REDIS_MAX_QUEUED_MESSAGES; beyond, the oldest are dropped and counted).
class RedisSubscriber {
public:
    explicit RedisSubscriber(RedisOptions options, asio::any_io_executor ex = {});
    explicit RedisSubscriber(std::string_view url) : RedisSubscriber(parse_redis_url(url)) {}

    // subscribe("a", "b") or subscribe(names) (a std::vector): returns once Redis confirmed them. Kept even when this throws (Redis down): they are
    // made when the connection comes back.
    template <class... S>
    asio::awaitable<void> subscribe(const S&... names) {
        std::vector<std::string> all;
        (detail::redis_arg(all, names), ...);
        return change("SUBSCRIBE", false, true, std::move(all));
    }
    template <class... S>
    asio::awaitable<void> psubscribe(const S&... names) {
        std::vector<std::string> all;
        (detail::redis_arg(all, names), ...);
        return change("PSUBSCRIBE", true, true, std::move(all));
    }
    template <class... S>
    asio::awaitable<void> unsubscribe(const S&... names) {
        std::vector<std::string> all;
        (detail::redis_arg(all, names), ...);
        return change("UNSUBSCRIBE", false, false, std::move(all));
    }
    template <class... S>
    asio::awaitable<void> punsubscribe(const S&... names) {
        std::vector<std::string> all;
        (detail::redis_arg(all, names), ...);
        return change("PUNSUBSCRIBE", true, false, std::move(all));
    }

    // The next message; none once the subscriber is closed.
    FASTAPI_CORO_DECL asio::awaitable<std::optional<RedisMessage>> next();
    // Ends next() (with none) and the connection.
    void close();
    // Messages dropped because nobody took them in time.
    std::size_t dropped();

private:
    FASTAPI_CORO_DECL asio::awaitable<void> change(const char* verb, bool pattern, bool add, std::vector<std::string> names);

    std::shared_ptr<detail::RedisLink> link_;
};

#if FASTAPI_DEFINITIONS
FASTAPI_DECL RedisSubscriber::RedisSubscriber(RedisOptions options, asio::any_io_executor ex)
    : link_(std::make_shared<detail::RedisLink>(std::move(options), detail::RedisConnection::Mode::pubsub, std::move(ex))) {}

FASTAPI_DECL void RedisSubscriber::close() {
    if (auto c = link_->bound()) asio::dispatch(c->executor(), [c] { c->close(); });
}

FASTAPI_DECL std::size_t RedisSubscriber::dropped() {
    auto c = link_->bound();
    return c ? c->dropped_messages() : 0;
}

FASTAPI_CORO_DEF asio::awaitable<std::optional<RedisMessage>> RedisSubscriber::next() {
    auto c = link_->bind(co_await asio::this_coro::executor);
    auto r = std::make_shared<detail::RedisRequest>();
    r->replies = 0;
    auto m = co_await detail::redis_exec(c, std::move(r));
    if (m.empty()) co_return std::nullopt;
    RedisMessage out;
    if (m.size() >= 4) {  // pmessage, pattern, channel, payload
        out.pattern = std::move(m[1].str);
        out.channel = std::move(m[2].str);
        out.payload = std::move(m[3].str);
    } else if (m.size() >= 3) {
        out.channel = std::move(m[1].str);
        out.payload = std::move(m[2].str);
    }
    co_return out;
}

FASTAPI_CORO_DEF asio::awaitable<void> RedisSubscriber::change(const char* verb, bool pattern, bool add, std::vector<std::string> names) {
    if (names.empty()) co_return;
    auto c = link_->bind(co_await asio::this_coro::executor);
    // Kept first, on the connection's executor (the SUBSCRIBE below is handed over after it).
    asio::dispatch(c->executor(), [c, pattern, add, names] { c->keep(pattern, add, names); });
    auto request = detail::redis_request(detail::redis_payload(verb, names), names.size());
    auto replies = co_await detail::redis_exec(c, std::move(request));
    for (auto& r : replies) detail::redis_throw_if_error(r);
}

FASTAPI_DECL RedisSubscriber Redis::subscriber() const {
    auto c = link_->bound();
    return RedisSubscriber(link_->options(), c ? c->executor() : asio::any_io_executor{});
}
#endif

}  // namespace fastapi
