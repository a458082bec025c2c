// redis_cache: the Redis backend of response caching (routing/cache.hpp): entries shared by
// every worker and every instance, namespaces and tags cleared by a version counter (INCR;
// never KEYS or SCAN), one Redis connection per event loop.
#pragma once
#include "../redis/client.hpp"
#include "../routing/cache.hpp"

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
