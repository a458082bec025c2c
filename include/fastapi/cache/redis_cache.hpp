// redis_cache: the Redis backend of response caching (routing/cache.hpp): entries shared by
// every worker and every instance, namespaces and tags cleared by a version counter (INCR;
// never KEYS or SCAN), one Redis connection per event loop. A lookup (the versions, then the
// entry under the key they make) is one script: one round trip. The lock of CacheOptions::lock
// is SET NX PX with a token, released by a script that deletes it only while it is still ours.
#pragma once
#include "../redis/client.hpp"
#include "../routing/cache.hpp"

#include <algorithm>  // max
#include <map>      // map (a Redis per loop thread)
#include <mutex>    // mutex
#include <thread>   // thread::id

namespace fastapi {

struct RedisCacheOptions {
    std::string url{};                      // empty: REDIS_URL (redis://127.0.0.1:6379/0 unset)
    std::string prefix = "fastapi-cache:";  // before every key it writes
};

namespace detail {

// KEYS: the version counters; ARGV: the entries' prefix, the rest of the key, "1" to read
// the entry. The key (the versions, then the rest) and the entry (nil when none).
inline const RedisScript& redis_cache_lookup_script() {
    static const RedisScript s(
        "local k = '' "
        "for i = 1, #KEYS do k = k .. (redis.call('GET', KEYS[i]) or '0') .. ':' end "
        "k = k .. ARGV[2] "
        "if ARGV[3] == '1' then return {k, redis.call('GET', ARGV[1] .. k)} end "
        "return {k}");
    return s;
}
inline const RedisScript& redis_cache_unlock_script() {
    static const RedisScript s(
        "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0");
    return s;
}

// RedisCache's work, on the loop's Redis, the keys already prefixed: compiled once
// (FASTAPI_CORO_DECL), RedisCache being a template so that only a unit making one names them.
FASTAPI_CORO_DECL asio::awaitable<std::shared_ptr<const CachedResponse>> redis_cache_get_entry(Redis& redis, std::string k);
FASTAPI_CORO_DECL asio::awaitable<void> redis_cache_set_entry(Redis& redis, std::string k, std::shared_ptr<const CachedResponse> e,
                                                              std::chrono::milliseconds ttl);
FASTAPI_CORO_DECL asio::awaitable<std::uint64_t> redis_cache_version(Redis& redis, std::string k);
FASTAPI_CORO_DECL asio::awaitable<CacheLookup> redis_cache_lookup(Redis& redis, std::vector<std::string> keys, std::string entries,
                                                                  std::string rest, bool read);
FASTAPI_CORO_DECL asio::awaitable<bool> redis_cache_try_lock(Redis& redis, std::string k, std::string token,
                                                             std::chrono::milliseconds ttl);
FASTAPI_CORO_DECL asio::awaitable<void> redis_cache_unlock(Redis& redis, std::string k, std::string token);
FASTAPI_CORO_DECL asio::awaitable<void> redis_cache_incr(Redis& redis, std::string k);
FASTAPI_CORO_DECL asio::awaitable<void> redis_cache_del(Redis& redis, std::string k);
FASTAPI_CORO_DECL asio::awaitable<std::optional<std::string>> redis_cache_get(Redis& redis, std::string k);
FASTAPI_CORO_DECL asio::awaitable<void> redis_cache_set(Redis& redis, std::string k, std::string v, std::chrono::milliseconds ttl);

#if FASTAPI_DEFINITIONS
FASTAPI_CORO_DEF asio::awaitable<std::shared_ptr<const CachedResponse>> redis_cache_get_entry(Redis& redis, std::string k) {
    std::optional<std::string> v = co_await redis.get(k);
    if (!v) co_return nullptr;
    co_return cache_deserialize(*v);  // null (a miss) when not ours
}
FASTAPI_CORO_DEF asio::awaitable<void> redis_cache_set_entry(Redis& redis, std::string k, std::shared_ptr<const CachedResponse> e,
                                                             std::chrono::milliseconds ttl) {
    std::string v = cache_serialize(*e);
    RedisSetOptions o;
    o.px = ttl;
    co_await redis.set(k, v, o);
}
FASTAPI_CORO_DEF asio::awaitable<std::uint64_t> redis_cache_version(Redis& redis, std::string k) {
    std::optional<std::string> v = co_await redis.get(k);
    std::uint64_t n = 0;
    if (v)
        for (char c : *v)
            if (c >= '0' && c <= '9') n = n * 10 + static_cast<std::uint64_t>(c - '0');
    co_return n;
}
FASTAPI_CORO_DEF asio::awaitable<CacheLookup> redis_cache_lookup(Redis& redis, std::vector<std::string> keys, std::string entries,
                                                                 std::string rest, bool read) {
    std::string want = read ? "1" : "0";
    RedisValue v = co_await redis.eval<RedisValue>(redis_cache_lookup_script(), keys.size(), keys, entries, rest, want);
    CacheLookup out;
    if (v.elements.empty() || !v.elements[0].is_string()) throw RedisError("fastapi::RedisCache: an unexpected lookup reply");
    out.key = std::move(v.elements[0].str);
    if (v.elements.size() > 1 && v.elements[1].is_string()) out.entry = cache_deserialize(v.elements[1].str);
    co_return out;
}
FASTAPI_CORO_DEF asio::awaitable<bool> redis_cache_try_lock(Redis& redis, std::string k, std::string token,
                                                            std::chrono::milliseconds ttl) {
    RedisSetOptions o;
    o.px = std::max(ttl, std::chrono::milliseconds(1));
    o.nx = true;
    co_return co_await redis.set(k, token, o);
}
FASTAPI_CORO_DEF asio::awaitable<void> redis_cache_unlock(Redis& redis, std::string k, std::string token) {
    co_await redis.eval<RedisValue>(redis_cache_unlock_script(), 1, k, token);
}
FASTAPI_CORO_DEF asio::awaitable<void> redis_cache_incr(Redis& redis, std::string k) { co_await redis.incr(k); }
FASTAPI_CORO_DEF asio::awaitable<void> redis_cache_del(Redis& redis, std::string k) { co_await redis.del(k); }
FASTAPI_CORO_DEF asio::awaitable<std::optional<std::string>> redis_cache_get(Redis& redis, std::string k) {
    co_return co_await redis.get(k);
}
FASTAPI_CORO_DEF asio::awaitable<void> redis_cache_set(Redis& redis, std::string k, std::string v, std::chrono::milliseconds ttl) {
    RedisSetOptions o;
    o.px = ttl;
    co_await redis.set(k, v, o);
}
#endif

}  // namespace detail

// RedisCache (the alias below): a template only so that what its overrides run is compiled
// where one is made.
template <int = 0>
class BasicRedisCache final : public detail::CacheBackend {
public:
    explicit BasicRedisCache(RedisCacheOptions o = {})
        : options_(o.url.empty() ? redis_options_from_env() : parse_redis_url(o.url)), prefix_(std::move(o.prefix)) {}
    BasicRedisCache(BasicRedisCache&& other) noexcept : options_(std::move(other.options_)), prefix_(std::move(other.prefix_)) {}

    bool synchronous() const noexcept override { return false; }

    asio::awaitable<std::shared_ptr<const detail::CachedResponse>> get_entry_async(std::string key) override {
        return detail::redis_cache_get_entry(redis(), prefix_ + "r:" + key);
    }
    asio::awaitable<void> set_entry_async(std::string key, std::shared_ptr<const detail::CachedResponse> e,
                                          std::chrono::milliseconds ttl) override {
        return detail::redis_cache_set_entry(redis(), prefix_ + "r:" + key, std::move(e), ttl);
    }
    asio::awaitable<std::uint64_t> namespace_version_async(std::string ns) override {
        return detail::redis_cache_version(redis(), prefix_ + "v:" + ns);
    }
    asio::awaitable<detail::CacheLookup> lookup_async(const std::vector<std::string>& version_keys, std::string rest,
                                                      bool read) override {
        std::vector<std::string> keys;
        keys.reserve(version_keys.size());
        for (const std::string& v : version_keys) keys.push_back(prefix_ + "v:" + v);
        return detail::redis_cache_lookup(redis(), std::move(keys), prefix_ + "r:", std::move(rest), read);
    }
    asio::awaitable<bool> try_lock_async(std::string key, std::string token, std::chrono::milliseconds ttl) override {
        return detail::redis_cache_try_lock(redis(), prefix_ + "l:" + key, std::move(token), ttl);
    }
    asio::awaitable<void> unlock_async(std::string key, std::string token) override {
        return detail::redis_cache_unlock(redis(), prefix_ + "l:" + key, std::move(token));
    }
    asio::awaitable<void> clear_namespace(std::string ns) override {
        return detail::redis_cache_incr(redis(), prefix_ + "v:" + ns);
    }
    asio::awaitable<void> remove(std::string key) override { return detail::redis_cache_del(redis(), prefix_ + key); }
    asio::awaitable<std::optional<std::string>> get_value(std::string key) override {
        return detail::redis_cache_get(redis(), prefix_ + key);
    }
    asio::awaitable<void> set_value(std::string key, std::string value, std::chrono::milliseconds ttl) override {
        return detail::redis_cache_set(redis(), prefix_ + key, std::move(value), ttl);
    }

private:
    // This loop thread's connection (a Redis binds to the loop that first uses it).
    Redis& redis() {
        std::lock_guard lock(mutex_);
        auto& r = per_thread_[std::this_thread::get_id()];
        if (!r) r = std::make_shared<Redis>(options_);
        return *r;
    }

    RedisOptions options_;
    std::string prefix_;
    std::mutex mutex_;
    std::map<std::thread::id, std::shared_ptr<Redis>> per_thread_;
};
using RedisCache = BasicRedisCache<>;

}  // namespace fastapi
