// app: the application object users build (FastAPI's `app`): the request machinery of
// detail::AppCore (routes, middleware, exception handlers, lifespan, state, dependency
// overrides), its OpenAPI document with the /docs and /redoc pages, and serving it (run).
#pragma once
#include "../openapi/docs.hpp"
#include "../openapi/openapi.hpp"
#include "../routing/app_core.hpp"
#include "../server/cli.hpp"
#include "../server/server.hpp"
#include "../server/supervisor.hpp"

#include <cstdlib>     // exit
#include <functional>  // function
#include <utility>     // move

namespace fastapi {

class App : public detail::AppCore {
public:
    // The OpenAPI route and the docs pages come first in the route table, as FastAPI's
    // setup() adds them at construction; AppOptions::dependencies do not apply to them.
    // (A template, as AppCore's: what serving needs is compiled where an App is made.)
    FASTAPI_LAZY explicit App(AppOptions options = {}) : AppCore(std::move(options)), openapi_(*this) {
        connection_opener = &detail::open_connection;
        detail::install_openapi_route(*this, openapi_);
        detail::install_docs_routes(*this, mutable_settings());
        start_user_routes();
    }

    // The OpenAPI document served at AppOptions::openapi_url (FastAPI's app.openapi()), built
    // from the routes on first use and kept. openapi_schema() is the same document to edit
    // (before serving starts); set_openapi() replaces how it is made, usually starting from
    // fastapi::get_openapi(app) (the generator must not call app.openapi() itself).
    const picojson::value& openapi() const { return openapi_.document(); }
    picojson::value& openapi_schema() { return openapi_.schema(); }
    void set_openapi(std::function<picojson::value(const App&)> generate);

    // Serves until SIGINT/SIGTERM, as the options say (host, port, threads, limits, ...). With
    // options.workers > 1 this process supervises that many worker processes, each started from
    // this program and running the lifespan itself (server/supervisor.hpp; README "Workers and
    // deployment"); a worker that cannot start ends the program with status 3.
    void run(const ServerOptions& options);
    void run();
    // uvicorn's command line and environment over `options` (README "Command line"): serves,
    // or ends the process with status 2 (bad usage) or 3 (could not start), one line on stderr.
    // Without options, each request is logged as uvicorn logs it (access_log on).
    void run(int argc, char** argv, const ServerOptions& options);
    void run(int argc, char** argv);

private:
    mutable detail::OpenAPIDocument openapi_;
};

#if FASTAPI_DEFINITIONS
FASTAPI_DECL void App::set_openapi(std::function<picojson::value(const App&)> generate) {
    if (!generate) return openapi_.set_generator({});
    openapi_.set_generator([this, generate = std::move(generate)] { return generate(*this); });
}

FASTAPI_DECL void App::run(const ServerOptions& options) { detail::serve(*this, options); }

FASTAPI_DECL void App::run() { run(ServerOptions{}); }

FASTAPI_DECL void App::run(int argc, char** argv, const ServerOptions& options) {
    const int status = detail::run_command_line(argc, argv, options, settings().title + " " + settings().version,
                                                [](void* app, const ServerOptions& o) { static_cast<App*>(app)->run(o); }, this);
    if (status >= 0) std::exit(status);
}

FASTAPI_DECL void App::run(int argc, char** argv) {
    ServerOptions options;
    options.access_log = true;
    run(argc, argv, options);
}
#endif

}  // namespace fastapi
