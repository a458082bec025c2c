// The parts of fastapi.hpp, by layer, each layer relying only on the ones above it and each
// part only on the parts listed before it (dependency order). tools/amalgamate starts here;
// include this file to use the parts directly while working on them.
#pragma once
// core: configuration macros, the metaprogramming every layer uses, .env files.
#include "core/config.hpp"
#include "core/meta.hpp"
#include "core/dotenv.hpp"
// http: byte streams and streamed bodies, requests and responses as values, and the strict
// HTTP/1.1 parser; RFC 6455 frames and handshake checks.
#include "http/stream.hpp"
#include "http/body_source.hpp"
#include "http/http_types.hpp"
#include "http/http_parser.hpp"
#include "http/websocket.hpp"
#include "http/websocket_deflate.hpp"
// model: reflection of user structs, constraints (with the linear-time pattern engine),
// validation errors, JSON out, HTTPException (its detail is JSON), JSON in; Secret<T>; settings
// read from the environment.
#include "model/reflect.hpp"
#include "model/regex.hpp"
#include "model/secret.hpp"
#include "model/model.hpp"
#include "model/json_write.hpp"
#include "model/validation.hpp"
#include "model/http_exception.hpp"
#include "model/json.hpp"
#include "model/json_value.hpp"
#include "model/json_reader.hpp"
#include "model/settings.hpp"
// routing: the exchange a request is and what it may ask of its app, the route table,
// handlers and their parameters, dependencies, state, forms, security, errors, middleware,
// WebSocket sessions, the lifespan, routes and routers, the app's request machinery (AppCore), static files.
#include "routing/exchange.hpp"
#include "routing/router.hpp"
#include "routing/responses.hpp"
#include "routing/sse.hpp"
#include "routing/handler.hpp"
#include "routing/params.hpp"
#include "routing/depends.hpp"
#include "routing/state.hpp"
#include "routing/background.hpp"
#include "routing/errors.hpp"
#include "routing/websocket.hpp"
#include "routing/broadcast.hpp"
#include "routing/forms.hpp"
#include "routing/security.hpp"
#include "routing/middleware.hpp"
#include "routing/middleware_stack.hpp"
#include "routing/lifespan.hpp"
#include "routing/cache.hpp"
#include "routing/route.hpp"
#include "routing/api_router.hpp"
#include "routing/app_core.hpp"
#include "routing/static_files.hpp"
// server: the log (its writer thread, the access log, fastapi::log), what a trusted proxy says
// about the client, the event loops and connections that drive an app's requests, systemd's
// protocols, the supervisor of worker processes, the command line and environment
// run(argc, argv) reads, and the TestClient that drives requests in-process.
#include "server/log.hpp"
#include "server/proxy_headers.hpp"
#include "server/server.hpp"
#include "server/test_session.hpp"
#include "server/systemd.hpp"
#include "server/supervisor.hpp"
#include "server/cli.hpp"
#include "server/test_client.hpp"
// redis: a Redis client on the event loops (RESP3 with RESP2's fallback, REDIS_URL, one
// multiplexed connection per loop with automatic pipelining, transactions, scripts, pub/sub).
#include "redis/resp.hpp"
#include "redis/url.hpp"
#include "redis/connection.hpp"
#include "redis/client.hpp"
#include "redis/broadcast.hpp"
// jobs: a job queue with status, progress and results, on Redis or in memory (workers, cron).
#include "jobs/jobs.hpp"
// cache: the Redis backend of response caching (the route side is routing/cache.hpp).
#include "cache/redis_cache.hpp"
// openapi: the OpenAPI 3.1 document and the /docs and /redoc pages.
#include "openapi/openapi.hpp"
#include "openapi/docs.hpp"
// app: fastapi::App, the request machinery with its document, its docs pages and run().
#include "app/app.hpp"
// The compiled-once mode's configuration check, and Asio's definitions in its one unit.
#include "app/compiled.hpp"
