// router: path templates ("/items/{item_id}", "/files/{file_path:path}") and the lookup of
// the route for a method and a decoded path, with what 404, 405 and the slash redirect need.
// Routes are tried in the order they were added, as in FastAPI: the first whose path and
// method match wins. Relies on http_types.
#pragma once
#include "../http/http_types.hpp"

#include <cstddef>        // size_t
#include <limits>         // numeric_limits
#include <memory>         // unique_ptr
#include <string>         // string
#include <string_view>    // string_view
#include <unordered_map>  // literal paths
#include <vector>         // vector

namespace fastapi::detail {

// A parsed path template: literal text and parameters, in order.
class PathTemplate {
public:
    struct Segment {
        std::string literal;  // text to match exactly (may be empty before a parameter)
        std::string param;    // parameter name, empty for a pure literal tail
        bool greedy = false;  // {name:path}: matches across '/'
    };

    explicit PathTemplate(std::string_view pattern);

    const std::string& pattern() const noexcept { return pattern_; }
    bool is_literal() const noexcept { return segments_.size() == 1 && segments_[0].param.empty(); }
    const std::vector<Segment>& segments() const noexcept { return segments_; }
    std::vector<std::string> param_names() const {
        std::vector<std::string> names;
        for (auto& s : segments_)
            if (!s.param.empty()) names.push_back(s.param);
        return names;
    }

    // Matches the whole of `path`; fills `params` (if given) with the decoded values.
    template <class Map>
    bool match(std::string_view path, Map* params) const {
        std::size_t pos = 0;
        for (std::size_t i = 0; i < segments_.size(); ++i) {
            const Segment& seg = segments_[i];
            if (path.substr(pos, seg.literal.size()) != seg.literal) return false;
            pos += seg.literal.size();
            if (seg.param.empty()) continue;
            // The value runs to the next literal (or the end); a plain parameter stops at '/'.
            std::size_t end;
            const bool last = i + 1 == segments_.size();
            if (seg.greedy) {
                if (last) end = path.size();
                else {
                    const std::string& next = segments_[i + 1].literal;
                    end = next.empty() ? path.size() : path.rfind(next);
                    if (end == std::string_view::npos || end < pos) return false;
                }
            } else {
                end = path.find('/', pos);
                if (end == std::string_view::npos) end = path.size();
                if (!last) {
                    const std::string& next = segments_[i + 1].literal;
                    auto stop = path.substr(pos, end - pos).find(next);
                    if (!next.empty() && stop != std::string_view::npos) end = pos + stop;
                }
                if (end == pos) return false;  // {name} needs at least one character
            }
            if (params) (*params)[seg.param] = std::string(path.substr(pos, end - pos));
            pos = end;
        }
        return pos == path.size();
    }

private:
    std::string pattern_;
    std::vector<Segment> segments_;
};

#if FASTAPI_DEFINITIONS
FASTAPI_DECL PathTemplate::PathTemplate(std::string_view pattern) : pattern_(pattern) {
    if (pattern.empty() || pattern.front() != '/')
        throw std::invalid_argument("fastapi: a route path must start with '/': " + std::string(pattern));
    std::string literal;
    for (std::size_t i = 0; i < pattern.size(); ++i) {
        char c = pattern[i];
        if (c == '}') throw std::invalid_argument("fastapi: unbalanced '}' in route path " + std::string(pattern));
        if (c != '{') { literal += c; continue; }
        std::size_t close = pattern.find('}', i);
        if (close == std::string_view::npos)
            throw std::invalid_argument("fastapi: unclosed '{' in route path " + std::string(pattern));
        std::string_view inner = pattern.substr(i + 1, close - i - 1);
        Segment seg{std::move(literal), {}, false};
        literal.clear();
        if (auto colon = inner.find(':'); colon != std::string_view::npos) {
            std::string_view conv = inner.substr(colon + 1);
            if (conv == "path") seg.greedy = true;
            else if (conv != "str")
                throw std::invalid_argument("fastapi: unknown path convertor '" + std::string(conv) +
                                            "' in " + std::string(pattern) + " (use {name} or {name:path})");
            inner = inner.substr(0, colon);
        }
        if (inner.empty()) throw std::invalid_argument("fastapi: empty parameter name in " + std::string(pattern));
        for (auto& s : segments_)
            if (s.param == inner)
                throw std::invalid_argument("fastapi: parameter '" + std::string(inner) + "' appears twice in " +
                                            std::string(pattern));
        seg.param = std::string(inner);
        segments_.push_back(std::move(seg));
        i = close;
    }
    if (!literal.empty() || segments_.empty()) segments_.push_back({std::move(literal), {}, false});
}
#endif

// The routing table over routes of type R (which has `methods` and `path`).
template <class R>
class RouteTable {
public:
    static constexpr std::size_t none = std::numeric_limits<std::size_t>::max();

    struct Lookup {
        R* route = nullptr;
        bool path_matched = false;  // some route has this path (for 405)
    };

    void add(std::unique_ptr<R> route) {
        const std::size_t index = routes_.size();
        if (route->path.is_literal()) literal_[route->path.pattern()].push_back(index);
        else dynamic_.push_back(index);
        routes_.push_back(std::move(route));
    }

    // The first route, in the order added, whose path and method match. HEAD falls back to
    // GET when the path has no HEAD route of its own.
    template <class Map>
    Lookup find(std::string_view method, std::string_view path, Map& params) const {
        Lookup found = find_exact(method, path, params);
        if (!found.route && method == "HEAD") {
            Lookup get = find_exact("GET", path, params);
            if (get.route) return get;
        }
        return found;
    }

    // Every method that some route answers at `path` (HEAD added where GET is), for Allow.
    std::vector<std::string> allowed_methods(std::string_view path) const {
        std::vector<std::string> methods;
        auto add = [&](const std::string& m) {
            for (auto& x : methods)
                if (x == m) return;
            methods.push_back(m);
        };
        for_each_path_match(path, [&](const R& r) {
            for (auto& m : r.methods) {
                add(m);
                if (m == "GET") add("HEAD");
            }
            return false;
        });
        return methods;
    }

    bool path_exists(std::string_view path) const {
        bool any = false;
        for_each_path_match(path, [&](const R&) { return any = true; });
        return any;
    }

    const std::vector<std::unique_ptr<R>>& routes() const noexcept { return routes_; }

private:
    template <class Map>
    Lookup find_exact(std::string_view method, std::string_view path, Map& params) const {
        Lookup out;
        std::size_t best = none;
        if (auto it = literal_.find(path); it != literal_.end()) {
            out.path_matched = true;
            for (std::size_t i : it->second)
                if (has_method(*routes_[i], method)) { best = i; break; }
        }
        // A parameterised route added before the best literal one still wins, as in FastAPI.
        for (std::size_t i : dynamic_) {
            if (i > best) break;
            const R& r = *routes_[i];
            if (!r.path.match(path, static_cast<Map*>(nullptr))) continue;
            out.path_matched = true;
            if (has_method(r, method)) { best = i; break; }
        }
        if (best != none) {
            out.route = routes_[best].get();
            params.clear();
            out.route->path.match(path, &params);
        }
        return out;
    }

    static bool has_method(const R& r, std::string_view method) {
        for (auto& m : r.methods)
            if (m == method) return true;
        return false;
    }

    // Calls f(route) for each route whose path matches, in order, until f returns true.
    template <class F>
    void for_each_path_match(std::string_view path, F&& f) const {
        for (auto& r : routes_) {
            if (r->path.is_literal() ? r->path.pattern() == path : r->path.match(path, static_cast<std::map<std::string, std::string>*>(nullptr))) {
                if (f(*r)) return;
            }
        }
    }

    struct StringHash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };
    std::vector<std::unique_ptr<R>> routes_;
    std::unordered_map<std::string, std::vector<std::size_t>, StringHash, std::equal_to<>> literal_;
    std::vector<std::size_t> dynamic_;
};

}  // namespace fastapi::detail
