// api_router: FastAPI's APIRouter, for bigger applications split over several files. A router
// collects routes with its own prefix, tags, dependencies and responses; include_router (on
// the app or on another router, to any depth) copies them with the includer's prefix, tags,
// dependencies and responses merged in as FastAPI merges them:
//   path:         include prefix + router prefix + route path
//   tags:         include tags, router tags, route tags
//   dependencies: app, include, router, route (in the order they run)
//   responses:    include, router, route (the later wins for one status)
// Handlers are turned into endpoints when added to the router; including copies routes.
// Relies on route (RouteMethods, RouteOptions).
#pragma once
#include "route.hpp"

#include <map>          // map
#include <string>       // string
#include <string_view>  // string_view
#include <utility>      // move
#include <vector>       // vector

namespace fastapi {

// An APIRouter's settings, and what include_router adds.
struct RouterOptions {
    std::string prefix{};                    // "/items": starts with '/', no trailing '/'
    std::vector<std::string> tags{};
    std::vector<Dependency> dependencies{};
    std::map<int, ResponseDoc> responses{};
    // Caching for every route of the router that sets none of its own.
    CacheOptions cache{};
};

class APIRouter : public detail::RouteMethods<APIRouter> {
public:
    using options_type = RouterOptions;

    struct PendingRoute {
        std::vector<std::string> methods;
        std::string path;
        RouteOptions options;
        detail::Endpoint endpoint;
    };

    explicit APIRouter(RouterOptions options = {}) : options_(std::move(options)) { check_prefix(options_.prefix); }

    // Adds a built route, with this router's prefix, tags, dependencies and responses.
    APIRouter& add_route(std::vector<std::string> methods, std::string_view path, RouteOptions options,
                         detail::Endpoint endpoint) {
        merge(options, options_);
        routes_.push_back({std::move(methods), options_.prefix + std::string(path), std::move(options), std::move(endpoint)});
        return *this;
    }

    // The routes of `router`, under `include.prefix`, with `include`'s tags, dependencies
    // and responses, then this router's.
    void include_router(const APIRouter& router, RouterOptions include = {}) {
        for (PendingRoute& r : router.routes_under(include))
            add_route(std::move(r.methods), r.path, std::move(r.options), std::move(r.endpoint));
    }

    const std::vector<PendingRoute>& routes() const noexcept { return routes_; }
    const RouterOptions& settings() const noexcept { return options_; }

    // The routes as an includer adds them (App::include_router): under `include.prefix`, with
    // `include`'s tags, dependencies and responses merged in.
    std::vector<PendingRoute> routes_under(const RouterOptions& include) const;

private:
    // Puts `outer`'s tags and dependencies in front of the route's; the route's responses win.
    static void merge(RouteOptions& route, const RouterOptions& outer);
    static void check_prefix(const std::string& prefix) {
        if (!prefix.empty() && (prefix.front() != '/' || prefix.back() == '/'))
            throw std::invalid_argument("fastapi: a router prefix must start with '/' and not end with '/': '" +
                                        prefix + "'");
    }

    RouterOptions options_;
    std::vector<PendingRoute> routes_;
};

#if FASTAPI_DEFINITIONS
FASTAPI_DECL auto APIRouter::routes_under(const RouterOptions& include) const -> std::vector<PendingRoute> {
    check_prefix(include.prefix);
    std::vector<PendingRoute> out;
    out.reserve(routes_.size());
    for (const PendingRoute& r : routes_) {
        out.push_back({r.methods, include.prefix + r.path, r.options, r.endpoint});
        merge(out.back().options, include);
    }
    return out;
}

FASTAPI_DECL auto APIRouter::merge(RouteOptions& route, const RouterOptions& outer) -> void {
    route.tags.insert(route.tags.begin(), outer.tags.begin(), outer.tags.end());
    route.dependencies.insert(route.dependencies.begin(), outer.dependencies.begin(), outer.dependencies.end());
    for (auto& [status, doc] : outer.responses) route.responses.emplace(status, doc);  // keeps the route's
    if (!route.cache.enabled() && outer.cache.enabled()) route.cache = outer.cache;
}
#endif

}  // namespace fastapi
