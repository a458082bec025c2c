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

class RedisCache final : public detail::CacheBackend {
public:
    explicit RedisCache(RedisCacheOptions o = {})
        : options_(o.url.empty() ? redis_options_from_env() : parse_redis_url(o.url)), prefix_(std::move(o.prefix)) {}
    RedisCache(RedisCache&& other) noexcept : options_(std::move(other.options_)), prefix_(std::move(other.prefix_)) {}

    bool synchronous() const noexcept override { return false; }

    asio::awaitable<std::shared_ptr<const detail::CachedResponse>> get_entry_async(std::string key) override {
        std::string k = prefix_ + "r:" + key;
        std::optional<std::string> v = co_await redis().get(k);
        if (!v) co_return nullptr;
        co_return detail::cache_deserialize(*v);  // null (a miss) when not ours
    }
    asio::awaitable<void> set_entry_async(std::string key, std::shared_ptr<const detail::CachedResponse> e,
                                          std::chrono::milliseconds ttl) override {
        std::string k = prefix_ + "r:" + key;
        std::string v = detail::cache_serialize(*e);
        RedisSetOptions o;
        o.px = ttl;
        co_await redis().set(k, v, o);
    }
    asio::awaitable<std::uint64_t> namespace_version_async(std::string ns) override {
        std::string k = prefix_ + "v:" + ns;
        std::optional<std::string> v = co_await redis().get(k);
        std::uint64_t n = 0;
        if (v)
            for (char c : *v)
                if (c >= '0' && c <= '9') n = n * 10 + static_cast<std::uint64_t>(c - '0');
        co_return n;
    }
    asio::awaitable<detail::CacheLookup> lookup_async(const std::vector<std::string>& version_keys, std::string rest,
                                                      bool read) override {
        std::vector<std::string> keys;
        keys.reserve(version_keys.size());
        for (const std::string& v : version_keys) keys.push_back(prefix_ + "v:" + v);
        std::string entries = prefix_ + "r:";
        std::string want = read ? "1" : "0";
        RedisValue v = co_await redis().eval<RedisValue>(lookup_script(), keys.size(), keys, entries, rest, want);
        detail::CacheLookup out;
        if (v.elements.empty() || !v.elements[0].is_string()) throw RedisError("fastapi::RedisCache: an unexpected lookup reply");
        out.key = std::move(v.elements[0].str);
        if (v.elements.size() > 1 && v.elements[1].is_string()) out.entry = detail::cache_deserialize(v.elements[1].str);
        co_return out;
    }
    asio::awaitable<bool> try_lock_async(std::string key, std::string token, std::chrono::milliseconds ttl) override {
        std::string k = prefix_ + "l:" + key;
        RedisSetOptions o;
        o.px = std::max(ttl, std::chrono::milliseconds(1));
        o.nx = true;
        co_return co_await redis().set(k, token, o);
    }
    asio::awaitable<void> unlock_async(std::string key, std::string token) override {
        std::string k = prefix_ + "l:" + key;
        co_await redis().eval<RedisValue>(unlock_script(), 1, k, token);
    }
    asio::awaitable<void> clear_namespace(std::string ns) override {
        std::string k = prefix_ + "v:" + ns;
        co_await redis().incr(k);
    }
    asio::awaitable<void> remove(std::string key) override {
        std::string k = prefix_ + key;
        co_await redis().del(k);
    }
    asio::awaitable<std::optional<std::string>> get_value(std::string key) override {
        std::string k = prefix_ + key;
        co_return co_await redis().get(k);
    }
    asio::awaitable<void> set_value(std::string key, std::string value, std::chrono::milliseconds ttl) override {
        std::string k = prefix_ + key;
        RedisSetOptions o;
        o.px = ttl;
        co_await redis().set(k, value, o);
    }

private:
    // KEYS: the version counters; ARGV: the entries' prefix, the rest of the key, "1" to read
    // the entry. The key (the versions, then the rest) and the entry (nil when none).
    static const RedisScript& lookup_script() {
        static const RedisScript s(
            "local k = '' "
            "for i = 1, #KEYS do k = k .. (redis.call('GET', KEYS[i]) or '0') .. ':' end "
            "k = k .. ARGV[2] "
            "if ARGV[3] == '1' then return {k, redis.call('GET', ARGV[1] .. k)} end "
            "return {k}");
        return s;
    }
    static const RedisScript& unlock_script() {
        static const RedisScript s(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0");
        return s;
    }

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

}  // namespace fastapi
