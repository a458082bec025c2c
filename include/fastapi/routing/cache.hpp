// cache: response caching (fastapi-cache's model with HTTP done right): a route's
// RouteOptions::cache, the backend the app chooses once (MemoryCache here, RedisCache in
// redis/cache.hpp), the key, what a hit and a miss send (ETag, Cache-Control, Age, 304),
// and the handle to invalidate and to cache values (fastapi::Cache).
#pragma once
#include "../http/http_types.hpp"
#include "exchange.hpp"

#include <algorithm>    // stable_sort
#include <atomic>       // atomic (outage flag)
#include <chrono>       // seconds, steady/system clocks
#include <cstdint>      // uint64_t
#include <cstdio>       // fprintf (the outage log)
#include <functional>   // function
#include <list>         // list (LRU order)
#include <memory>       // shared_ptr
#include <mutex>        // mutex
#include <optional>     // optional
#include <string>       // string
#include <string_view>  // string_view
#include <unordered_map>
#include <utility>      // move, pair
#include <vector>       // vector

#ifndef FASTAPI_CACHE_FLIGHT_WAIT_MS  // how long a concurrent miss waits for the one computing
#define FASTAPI_CACHE_FLIGHT_WAIT_MS 10000
#endif
#ifndef FASTAPI_CACHE_LOCK_POLL_MS  // the first wait of a miss that found the lock taken (doubling, to 100 ms)
#define FASTAPI_CACHE_LOCK_POLL_MS 5
#endif

namespace fastapi {

// A route's caching (FastAPI-cache's @cache(expire=60, namespace="items")); off unless expire > 0.
struct CacheOptions {
    std::chrono::seconds expire{0};
    std::string namespace_{};
    // Methods whose answers are cached (GET and HEAD share entries); others only when listed.
    std::vector<std::string> methods{"GET", "HEAD"};
    // Request headers that select the answer: in the key and in Vary (the handler's declared
    // Header parameters are added).
    std::vector<std::string> vary{};
    // Tags to invalidate several routes' entries at once (Cache::invalidate_tag).
    std::vector<std::string> tags{};
    // Replaces the key of the request (method, path, sorted query, varying headers).
    std::function<std::string(const Request&)> key_builder{};
    // RFC 5861's stale-while-revalidate: this long after `expire`, the stored answer is still
    // sent at once (X-FastAPI-Cache: STALE) while one request recomputes it in the background.
    std::chrono::seconds stale_while_revalidate{0};
    // RFC 5861's stale-if-error: this long after `expire`, a handler that throws or answers 5xx
    // is answered with the stored answer instead (STALE).
    std::chrono::seconds stale_if_error{0};
    // A shared backend (Redis): a miss takes a lock across processes (SET key NX PX) so that a
    // stampede on many workers or instances runs the handler once; the others wait (polling,
    // bounded by FASTAPI_CACHE_FLIGHT_WAIT_MS) for its entry. A holder that dies keeps them
    // waiting at most `lock_timeout` (the lock's expiry), then one of them computes.
    bool lock = false;
    std::chrono::milliseconds lock_timeout{5000};
    bool enabled() const noexcept { return expire.count() > 0; }
};

namespace detail {

// A stored response: status, headers and body, with its ETag and when it was stored.
struct CachedResponse {
    int status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    std::string etag;             // quoted, strong: a hash of the body
    std::int64_t stored_ms = 0;   // system clock, so every process reads the same Age
    std::int64_t expires_ms = 0;
};

inline std::int64_t cache_now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// FNV-1a 64: the same in every process, every machine, every run.
inline std::uint64_t cache_hash(std::string_view s, std::uint64_t h = 1469598103934665603ull) noexcept {
    for (unsigned char c : s) {
        h ^= c;
        h *= 1099511628211ull;
    }
    return h;
}
FASTAPI_DECL std::string cache_etag(std::string_view body);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string cache_etag(std::string_view body) {
    static constexpr char hex[] = "0123456789abcdef";
    // Two hashes (the second seeded with the length) for 128 bits.
    std::uint64_t a = cache_hash(body), b = cache_hash(body, 0x9e3779b97f4a7c15ull ^ body.size());
    std::string out(34, '"');
    for (int i = 0; i < 16; ++i) out[1 + i] = hex[(a >> (60 - 4 * i)) & 15];
    for (int i = 0; i < 16; ++i) out[17 + i] = hex[(b >> (60 - 4 * i)) & 15];
    return out;
}
#endif

// Headers a hit writes itself: never stored.
inline bool cache_own_header(std::string_view name) noexcept {
    return iequals(name, "etag") || iequals(name, "cache-control") || iequals(name, "age") || iequals(name, "vary") ||
           iequals(name, "x-fastapi-cache");
}

// The wire form of an entry (Redis): a line of numbers, then length-prefixed fields.
FASTAPI_DECL std::string cache_serialize(const CachedResponse& r);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string cache_serialize(const CachedResponse& r) {
    std::string out = "1 " + std::to_string(r.status) + ' ' + std::to_string(r.stored_ms) + ' ' +
                      std::to_string(r.expires_ms) + ' ' + std::to_string(r.headers.size()) + '\n';
    auto field = [&](std::string_view s) {
        out += std::to_string(s.size());
        out += ':';
        out += s;
    };
    field(r.etag);
    for (auto& [n, v] : r.headers) {
        field(n);
        field(v);
    }
    field(r.body);
    return out;
}
#endif
FASTAPI_DECL std::shared_ptr<CachedResponse> cache_deserialize(std::string_view s);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::shared_ptr<CachedResponse> cache_deserialize(std::string_view s) {
    auto r = std::make_shared<CachedResponse>();
    std::size_t pos = 0;
    auto number = [&](char end, std::int64_t& v) {
        std::size_t i = pos;
        bool neg = i < s.size() && s[i] == '-';
        if (neg) ++i;
        std::int64_t n = 0;
        std::size_t digits = 0;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9' && digits < 18) n = n * 10 + (s[i++] - '0'), ++digits;
        if (!digits || i >= s.size() || s[i] != end) return false;
        v = neg ? -n : n;
        pos = i + 1;
        return true;
    };
    auto field = [&](std::string& out) {
        std::int64_t len = 0;
        if (!number(':', len) || len < 0 || static_cast<std::size_t>(len) > s.size() - pos) return false;
        out.assign(s.substr(pos, static_cast<std::size_t>(len)));
        pos += static_cast<std::size_t>(len);
        return true;
    };
    std::int64_t version = 0, status = 0, count = 0;
    if (!number(' ', version) || version != 1 || !number(' ', status) || !number(' ', r->stored_ms) ||
        !number(' ', r->expires_ms) || !number('\n', count) || status < 100 || status > 999 || count < 0 || count > 1000)
        return nullptr;
    r->status = static_cast<int>(status);
    if (!field(r->etag)) return nullptr;
    for (std::int64_t i = 0; i < count; ++i) {
        std::string n, v;
        if (!field(n) || !field(v)) return nullptr;
        r->headers.emplace_back(std::move(n), std::move(v));
    }
    if (!field(r->body) || pos != s.size()) return nullptr;
    for (auto& [n, v] : r->headers)  // appended unchecked on a hit: refuse what could not be sent
        if (!is_token(n) || !is_safe_header_value(v) || cache_own_header(n)) return nullptr;
    return r;
}
#endif

// The decimal digits of v appended to s (no locale).
FASTAPI_DECL void cache_append_number(std::string& s, std::uint64_t v);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void cache_append_number(std::string& s, std::uint64_t v) {
    char tmp[24];
    std::size_t n = 0;
    do tmp[n++] = static_cast<char>('0' + v % 10);
    while (v /= 10);
    while (n) s += tmp[--n];
}
#endif

// What a lookup found: the whole key (the namespace and tag versions, then the request's
// part), and the entry stored under it (fresh or stale; null when none or not read).
struct CacheLookup {
    std::string key;
    std::shared_ptr<const CachedResponse> entry;
};

// What a backend does. A synchronous one (memory) answers get/set at once; an asynchronous
// one (Redis) only through the coroutines. Values are strings (entries serialized by the
// caller for an asynchronous backend; kept as objects by the memory one).
class CacheBackend {
public:
    virtual ~CacheBackend() = default;
    virtual bool synchronous() const noexcept = 0;
    // Synchronous backends only.
    virtual std::shared_ptr<const CachedResponse> get_entry(std::string_view) { return nullptr; }
    virtual void set_entry(const std::string&, std::shared_ptr<const CachedResponse>, std::chrono::milliseconds) {}
    virtual std::uint64_t namespace_version(std::string_view) { return 0; }
    // Every backend (MemoryCache answers them from the synchronous ones above).
    virtual asio::awaitable<std::shared_ptr<const CachedResponse>> get_entry_async(std::string key) = 0;
    virtual asio::awaitable<void> set_entry_async(std::string key, std::shared_ptr<const CachedResponse> e,
                                                  std::chrono::milliseconds ttl) = 0;
    virtual asio::awaitable<std::uint64_t> namespace_version_async(std::string ns) = 0;
    // The versions of `version_keys` and the entry under the key they make with `rest` (read
    // only when `read`): one round trip on Redis (a script).
    virtual asio::awaitable<CacheLookup> lookup_async(const std::vector<std::string>& version_keys, std::string rest,
                                                      bool read) = 0;
    // The lock across processes of CacheOptions::lock: true when taken (a process-local
    // backend has nothing to lock: single flight covers it).
    virtual asio::awaitable<bool> try_lock_async(std::string key, std::string token, std::chrono::milliseconds ttl) = 0;
    virtual asio::awaitable<void> unlock_async(std::string key, std::string token) = 0;
    // Invalidation and values.
    virtual asio::awaitable<void> clear_namespace(std::string ns) = 0;
    virtual asio::awaitable<void> remove(std::string key) = 0;
    virtual asio::awaitable<std::optional<std::string>> get_value(std::string key) = 0;
    virtual asio::awaitable<void> set_value(std::string key, std::string value, std::chrono::milliseconds ttl) = 0;
};

}  // namespace detail

// The in-memory backend: bounded by bytes, least recently used out, one lock for every loop.
struct MemoryCacheOptions {
    std::size_t max_bytes = 64u << 20;
};
// A template only so that its coroutines are compiled where it is used (core/config.hpp).
template <int = 0>
class BasicMemoryCache final : public detail::CacheBackend {
public:
    explicit BasicMemoryCache(MemoryCacheOptions o = {}) : options_(o) {}
    BasicMemoryCache(BasicMemoryCache&& other) noexcept : options_(other.options_) {}

    bool synchronous() const noexcept override { return true; }
    std::size_t bytes() const {
        std::lock_guard lock(mutex_);
        return bytes_;
    }
    std::size_t size() const {
        std::lock_guard lock(mutex_);
        return map_.size();
    }

    std::shared_ptr<const detail::CachedResponse> get_entry(std::string_view key) override {
        std::lock_guard lock(mutex_);
        auto it = map_.find(key);
        if (it == map_.end()) return nullptr;
        Item& item = *it->second;
        if (item.expires_ms <= detail::cache_now_ms()) {
            erase_locked(it);
            return nullptr;
        }
        lru_.splice(lru_.begin(), lru_, it->second);
        return item.entry;
    }
    void set_entry(const std::string& key, std::shared_ptr<const detail::CachedResponse> e,
                   std::chrono::milliseconds ttl) override {
        std::size_t size = key.size() + e->body.size() + e->etag.size() + 128;
        for (auto& [n, v] : e->headers) size += n.size() + v.size() + 32;
        put(key, std::move(e), {}, size, ttl);
    }
    std::uint64_t namespace_version(std::string_view ns) override {
        std::lock_guard lock(mutex_);
        auto it = versions_.find(ns);
        return it == versions_.end() ? 0 : it->second;
    }
    // The coroutines, answered at once.
    asio::awaitable<std::shared_ptr<const detail::CachedResponse>> get_entry_async(std::string key) override {
        co_return get_entry(key);
    }
    asio::awaitable<void> set_entry_async(std::string key, std::shared_ptr<const detail::CachedResponse> e,
                                          std::chrono::milliseconds ttl) override {
        set_entry(key, std::move(e), ttl);
        co_return;
    }
    asio::awaitable<std::uint64_t> namespace_version_async(std::string ns) override { co_return namespace_version(ns); }
    asio::awaitable<detail::CacheLookup> lookup_async(const std::vector<std::string>& version_keys, std::string rest,
                                                      bool read) override {
        detail::CacheLookup out;
        for (const std::string& v : version_keys) {
            detail::cache_append_number(out.key, namespace_version(v));
            out.key += ':';
        }
        out.key += rest;
        if (read) out.entry = get_entry(out.key);
        co_return out;
    }
    asio::awaitable<bool> try_lock_async(std::string, std::string, std::chrono::milliseconds) override { co_return true; }
    asio::awaitable<void> unlock_async(std::string, std::string) override { co_return; }
    asio::awaitable<void> clear_namespace(std::string ns) override {
        std::lock_guard lock(mutex_);
        auto it = versions_.find(std::string_view(ns));
        if (it == versions_.end()) it = versions_.emplace(ns, 0).first;
        ++it->second;  // the old entries are never read again, and age out
        co_return;
    }
    asio::awaitable<void> remove(std::string key) override {
        std::lock_guard lock(mutex_);
        if (auto it = map_.find(std::string_view(key)); it != map_.end()) erase_locked(it);
        co_return;
    }
    asio::awaitable<std::optional<std::string>> get_value(std::string key) override {
        std::optional<std::string> out;
        {
            std::lock_guard lock(mutex_);
            auto it = map_.find(std::string_view(key));
            if (it != map_.end() && !it->second->entry) {
                if (it->second->expires_ms <= detail::cache_now_ms()) erase_locked(it);
                else out = it->second->value;
            }
        }
        co_return out;
    }
    asio::awaitable<void> set_value(std::string key, std::string value, std::chrono::milliseconds ttl) override {
        std::size_t size = key.size() + value.size() + 128;
        put(key, nullptr, std::move(value), size, ttl);
        co_return;
    }

private:
    struct Item {
        std::string key;
        std::shared_ptr<const detail::CachedResponse> entry;  // a response, or
        std::string value;                                     // a value of get_or_set
        std::size_t size = 0;
        std::int64_t expires_ms = 0;
    };
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };
    using Map = std::unordered_map<std::string_view, typename std::list<Item>::iterator, Hash, std::equal_to<>>;

    void put(const std::string& key, std::shared_ptr<const detail::CachedResponse> e, std::string value,
             std::size_t size, std::chrono::milliseconds ttl) {
        std::lock_guard lock(mutex_);
        if (auto it = map_.find(std::string_view(key)); it != map_.end()) erase_locked(it);
        if (size > options_.max_bytes) return;
        while (bytes_ + size > options_.max_bytes && !lru_.empty()) erase_locked(map_.find(std::string_view(lru_.back().key)));
        lru_.push_front(Item{key, std::move(e), std::move(value), size, detail::cache_now_ms() + ttl.count()});
        map_.emplace(std::string_view(lru_.front().key), lru_.begin());
        bytes_ += size;
    }
    void erase_locked(typename Map::iterator it) {
        auto item = it->second;
        bytes_ -= item->size;
        map_.erase(it);
        lru_.erase(item);
    }

    MemoryCacheOptions options_;
    mutable std::mutex mutex_;
    std::list<Item> lru_;
    Map map_;
    std::unordered_map<std::string, std::uint64_t, Hash, std::equal_to<>> versions_;
    std::size_t bytes_ = 0;
};
using MemoryCache = BasicMemoryCache<>;

// The app's cache, to invalidate and to cache values (app.set_cache returns it; copies share it).
class Cache {
public:
    Cache() = default;
    explicit Cache(std::shared_ptr<detail::CacheBackend> b) : backend_(std::move(b)) {}
    explicit operator bool() const noexcept { return backend_ != nullptr; }
    detail::CacheBackend* backend() const noexcept { return backend_.get(); }

    // Every entry of a namespace (a version counter: nothing is scanned, Redis never blocked).
    FASTAPI_CORO_DECL asio::awaitable<void> clear(std::string ns);
    // Every entry of the routes with this tag.
    FASTAPI_CORO_DECL asio::awaitable<void> invalidate_tag(std::string tag);
    // One value of get_or_set.
    FASTAPI_CORO_DECL asio::awaitable<void> invalidate(std::string key);
    // The value under `key`, else producer()'s (a string, or asio::awaitable<std::string>), kept `ttl`.
    template <class F>
    asio::awaitable<std::string> get_or_set(std::string key, std::chrono::milliseconds ttl, F producer) {
        std::string k = "value:" + key;
        std::optional<std::string> v = co_await backend_->get_value(k);
        if (v) co_return std::move(*v);
        std::string made;
        if constexpr (std::is_same_v<std::invoke_result_t<F&>, asio::awaitable<std::string>>) made = co_await producer();
        else made = producer();
        co_await backend_->set_value(k, made, ttl);
        co_return made;
    }

private:
    std::shared_ptr<detail::CacheBackend> backend_;
};

#if FASTAPI_DEFINITIONS
FASTAPI_CORO_DEF asio::awaitable<void> Cache::clear(std::string ns) { co_await backend_->clear_namespace("ns:" + ns); }
FASTAPI_CORO_DEF asio::awaitable<void> Cache::invalidate_tag(std::string tag) {
    co_await backend_->clear_namespace("tag:" + tag);
}
FASTAPI_CORO_DEF asio::awaitable<void> Cache::invalidate(std::string key) { co_await backend_->remove("value:" + key); }
#endif

namespace detail {

// Logs once when a backend fails after working (or first fails), once when it works again.
class CacheOutage {
public:
    void failed(const char* what) noexcept {
        if (!down_.exchange(true)) std::fprintf(stderr, "fastapi: cache backend unavailable (%s); answering without it\n", what);
    }
    void worked() noexcept {
        if (down_.load(std::memory_order_relaxed) && down_.exchange(false))
            std::fprintf(stderr, "fastapi: cache backend available again\n");
    }
    bool down() const noexcept { return down_.load(std::memory_order_relaxed); }

private:
    std::atomic<bool> down_{false};
};

// Single flight: the first miss of a key computes, concurrent misses of it (on any loop)
// wait on a timer of their own loop, woken when it is done, then read the cache again.
class CacheFlights {
public:
    // True for the leader; otherwise `waiter` is registered to be woken.
    bool join(const std::string& key, const std::shared_ptr<asio::steady_timer>& waiter);
    // True when no flight of `key` was on, and now this caller's is (it waits for nobody).
    bool try_lead(const std::string& key) {
        std::lock_guard lock(mutex_);
        return flights_.try_emplace(key).second;
    }
    void finish(const std::string& key) noexcept;
    std::size_t waiting(const std::string& key) const {
        std::lock_guard lock(mutex_);
        auto it = flights_.find(key);
        return it == flights_.end() ? 0 : it->second.size();
    }

private:
    mutable std::mutex mutex_;
    std::unordered_map<std::string, std::vector<std::shared_ptr<asio::steady_timer>>> flights_;
};

#if FASTAPI_DEFINITIONS
FASTAPI_DECL auto CacheFlights::join(const std::string& key, const std::shared_ptr<asio::steady_timer>& waiter) -> bool {
    std::lock_guard lock(mutex_);
    auto [it, inserted] = flights_.try_emplace(key);
    if (!inserted) it->second.push_back(waiter);
    return inserted;
}

FASTAPI_DECL auto CacheFlights::finish(const std::string& key) noexcept -> void {
    std::vector<std::shared_ptr<asio::steady_timer>> waiters;
    {
        std::lock_guard lock(mutex_);
        auto it = flights_.find(key);
        if (it == flights_.end()) return;
        waiters = std::move(it->second);
        flights_.erase(it);
    }
    for (auto& t : waiters) asio::post(t->get_executor(), [t] { t->cancel(); });
}
#endif
// Ends the leader's flight however its computation ends.
struct CacheFlightGuard {
    CacheFlights* flights = nullptr;
    const std::string* key = nullptr;
    ~CacheFlightGuard() {
        if (flights) flights->finish(*key);
    }
};

// A token list (Cache-Control, If-None-Match) split at commas, spaces trimmed.
template <class F>
void cache_each_item(std::string_view list, F f) {
    while (!list.empty()) {
        auto comma = list.find(',');
        std::string_view item = list.substr(0, comma);
        while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
        while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
        if (!item.empty()) f(item);
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
    }
}

struct CacheRequestDirectives {
    bool no_store = false, no_cache = false;
};
inline CacheRequestDirectives cache_request_directives(const Request& r) {
    CacheRequestDirectives d;
    for (auto& [name, v] : r.headers)  // (no vector of values: nothing allocated)
        if (iequals(name, "cache-control")) cache_each_item(v, [&](std::string_view item) {
            auto name = item.substr(0, item.find('='));
            if (iequals(name, "no-store")) d.no_store = true;
            else if (iequals(name, "no-cache")) d.no_cache = true;
        });
    return d;
}

// If-None-Match against an ETag, weak comparison (W/ ignored on both sides), `*` matching any.
inline bool cache_etag_matches(const Request& r, std::string_view etag) {
    if (etag.starts_with("W/")) etag.remove_prefix(2);
    bool match = false;
    for (auto& [name, v] : r.headers)
        if (iequals(name, "if-none-match")) cache_each_item(v, [&](std::string_view item) {
            if (item == "*") match = true;
            if (item.starts_with("W/")) item.remove_prefix(2);
            if (item == etag) match = true;
        });
    return match;
}

// The request's key: method (HEAD as GET), path, query items in a stable order by name (a
// list parameter's values keep theirs), the varying headers. Dependencies never enter it.
FASTAPI_DECL void cache_request_key(const Request& r, const CacheOptions& o, const std::vector<std::string>& headers, std::string& key);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void cache_request_key(const Request& r, const CacheOptions& o, const std::vector<std::string>& headers, std::string& key) {
    if (o.key_builder) {
        key += o.key_builder(r);
        return;
    }
    key += r.method == "HEAD" ? std::string_view("GET") : std::string_view(r.method);
    key += ' ';
    key += r.path;
    if (!r.query_string.empty()) {
        key += '?';
        std::string_view q = r.query_string;
        if (q.find('&') == std::string_view::npos) key += q;  // one item: nothing to sort
        else {
            std::vector<std::string_view> items;
            while (true) {
                auto amp = q.find('&');
                if (!q.substr(0, amp).empty()) items.push_back(q.substr(0, amp));
                if (amp == std::string_view::npos) break;
                q.remove_prefix(amp + 1);
            }
            std::stable_sort(items.begin(), items.end(), [](std::string_view a, std::string_view b) {
                return a.substr(0, a.find('=')) < b.substr(0, b.find('='));
            });
            for (std::size_t i = 0; i < items.size(); ++i) {
                if (i) key += '&';
                key += items[i];
            }
        }
    }
    for (auto& h : headers) {
        key += '\n';
        key += h;
        key += ':';
        for (auto& [name, v] : r.headers)
            if (iequals(name, h)) {
                key += v;
                key += ',';
            }
    }
}
#endif

// What the route's caching needs at run time, computed once when the route is made.
struct RouteCache {
    std::vector<std::string> headers;  // the key's headers (vary and declared Header parameters), lowercase
    std::string vary;                  // the Vary value, empty when none
    std::string max_age;               // "max-age=<expire>", then the RFC 5861 directives
    std::string stale_directives;      // ", stale-while-revalidate=<s>, stale-if-error=<s>" (those set)
    std::vector<std::string> version_keys;  // "ns:<namespace>", then "tag:<tag>" for each tag
    std::int64_t revalidate_ms = 0, if_error_ms = 0;  // the stale windows
    std::chrono::milliseconds keep{0};  // how long an entry is kept: expire and the longer stale window
};

// How an entry found stands now.
enum class CacheAge { fresh, revalidate, if_error, gone };
FASTAPI_DECL CacheAge cache_age(const CachedResponse* e, const RouteCache& rc, std::int64_t now) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL CacheAge cache_age(const CachedResponse* e, const RouteCache& rc, std::int64_t now) noexcept {
    if (!e) return CacheAge::gone;
    if (now < e->expires_ms) return CacheAge::fresh;
    if (now < e->expires_ms + rc.revalidate_ms) return CacheAge::revalidate;
    if (now < e->expires_ms + rc.if_error_ms) return CacheAge::if_error;
    return CacheAge::gone;
}
#endif

inline bool cache_applies(const CacheOptions& o, const Request& r) {
    if (!o.enabled()) return false;
    for (auto& m : o.methods)
        if (m == r.method) return true;
    return false;
}

// The decimal digits of v into buf (no locale, no allocation); their count.
inline std::size_t cache_digits(char* buf, std::int64_t v) noexcept {
    char tmp[24];
    std::size_t n = 0;
    std::uint64_t u = v < 0 ? 0 : static_cast<std::uint64_t>(v);
    do tmp[n++] = static_cast<char>('0' + u % 10);
    while (u /= 10);
    for (std::size_t i = 0; i < n; ++i) buf[i] = tmp[n - 1 - i];
    return n;
}

// A hit: the stored response (or 304 when If-None-Match matches) with its ETag, its whole
// lifetime as max-age and its Age, so what a client or a proxy computes as left (max-age
// minus Age, RFC 9111 4.2) is the seconds left; max-age of the seconds left beside an Age
// would count the age twice. The stored headers never carry the names added here, so they
// are appended without a search.
// A stale one (past its expiry, within a stale window) says max-age=0 and STALE.
FASTAPI_DECL void cache_write_hit(Exchange& ex, const CachedResponse& e, const RouteCache& rc, std::int64_t now, bool stale = false);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void cache_write_hit(Exchange& ex, const CachedResponse& e, const RouteCache& rc, std::int64_t now,  bool stale) {
    Response& res = ex.response;
    const std::int64_t age = std::max<std::int64_t>(0, (now - e.stored_ms) / 1000);
    const std::int64_t lifetime = stale ? 0 : std::max<std::int64_t>(0, (e.expires_ms - e.stored_ms) / 1000);
    res.headers.clear();
    if (cache_etag_matches(ex.request, e.etag)) {
        res.status = 304;
        res.body.clear();
    } else {
        res.status = e.status;
        res.body = e.body;
        for (auto& [n, v] : e.headers) append_header(res.headers, n, v);
    }
    char buf[40] = "max-age=";
    append_header(res.headers, "etag", e.etag);
    std::string_view max_age(buf, 8 + cache_digits(buf + 8, lifetime));
    if (rc.stale_directives.empty()) append_header(res.headers, "cache-control", max_age);
    else append_header(res.headers, "cache-control", std::string(max_age) + rc.stale_directives);
    append_header(res.headers, "age", std::string_view(buf, cache_digits(buf, age)));
    if (!rc.vary.empty()) append_header(res.headers, "vary", rc.vary);
    append_header(res.headers, "x-fastapi-cache", stale ? "STALE" : "HIT");
}
#endif

// After the handler: the entry to store (null when the response is not cacheable), and the
// miss headers (304 when If-None-Match matches).
FASTAPI_DECL std::shared_ptr<CachedResponse> cache_after_miss(Exchange& ex, const CacheOptions& o, const RouteCache& rc, bool store);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::shared_ptr<CachedResponse> cache_after_miss(Exchange& ex, const CacheOptions& o, const RouteCache& rc, bool store) {
    Response& res = ex.response;
    if (res.status < 200 || res.status >= 300 || res.status == 204 || res.stream || !res.file_path.empty() ||
        res.on_upgrade || res.headers.contains("set-cookie"))
        return nullptr;  // errors, streams, files and per-user cookies are never stored
    std::shared_ptr<CachedResponse> e;
    std::string etag = cache_etag(res.body);
    if (store) {
        e = std::make_shared<CachedResponse>();
        e->status = res.status;
        for (auto& [n, v] : res.headers)
            if (!cache_own_header(n)) e->headers.emplace_back(n, v);
        e->body = res.body;
        e->etag = etag;
        e->stored_ms = cache_now_ms();
        e->expires_ms = e->stored_ms + std::chrono::duration_cast<std::chrono::milliseconds>(o.expire).count();
    }
    if (cache_etag_matches(ex.request, etag)) {
        res.status = 304;
        res.body.clear();
        res.headers.clear();
    }
    res.headers.set("etag", etag);
    res.headers.set("cache-control", rc.max_age);
    if (!rc.vary.empty()) res.headers.set("vary", rc.vary);
    res.headers.set("x-fastapi-cache", "MISS");
    return e;
}
#endif

}  // namespace detail
}  // namespace fastapi
