// fastapi.hpp: FastAPI's programming model for C++20.
// config: configuration macros (each overridable before including the header) and the
// third-party headers every later part relies on.
#pragma once

#ifndef FASTAPI_DEFAULT_PORT
#define FASTAPI_DEFAULT_PORT 8000
#endif
#ifndef FASTAPI_DEFAULT_HOST
#define FASTAPI_DEFAULT_HOST "0.0.0.0"
#endif
// Longest request target (414 beyond).
#ifndef FASTAPI_MAX_TARGET_BYTES
#define FASTAPI_MAX_TARGET_BYTES 8192
#endif
// Largest header section, request line included (431 beyond).
#ifndef FASTAPI_MAX_HEADER_BYTES
#define FASTAPI_MAX_HEADER_BYTES 65536
#endif
#ifndef FASTAPI_MAX_HEADER_COUNT
#define FASTAPI_MAX_HEADER_COUNT 100
#endif
// Largest request body held in memory (413 beyond).
#ifndef FASTAPI_MAX_BODY_BYTES
#define FASTAPI_MAX_BODY_BYTES (1024 * 1024)
#endif
// Deepest nesting of arrays and objects a JSON body may have: deeper ones are FastAPI's 400
// (Python's parser gives up on recursion too), never a stack overflow.
#ifndef FASTAPI_MAX_JSON_DEPTH
#define FASTAPI_MAX_JSON_DEPTH 512
#endif
// Most validation errors one 422 lists; the rest are counted and summarised in one last
// "too_many_errors" entry (FastAPI lists them all: 11 MB for a 400 KB body of bad values).
#ifndef FASTAPI_MAX_VALIDATION_ERRORS
#define FASTAPI_MAX_VALIDATION_ERRORS 100
#endif
// Largest multipart/form-data body (413 beyond); beyond FASTAPI_MAX_BODY_BYTES it is
// streamed to a temporary file instead of held in memory.
#ifndef FASTAPI_MAX_UPLOAD_BYTES
#define FASTAPI_MAX_UPLOAD_BYTES (100 * 1024 * 1024)
#endif
// Open connections per server (503 beyond); the open-file limit caps it as well.
#ifndef FASTAPI_MAX_CONNECTIONS
#define FASTAPI_MAX_CONNECTIONS 10000
#endif
// Request bodies held in memory by all connections of a server together (503 beyond).
#ifndef FASTAPI_MAX_BUFFERED_BODY_BYTES
#define FASTAPI_MAX_BUFFERED_BODY_BYTES (64 * 1024 * 1024)
#endif
// Disk taken by all uploads being streamed to temporary files at once (503, or 413 beyond).
#ifndef FASTAPI_MAX_SPOOL_BYTES
#define FASTAPI_MAX_SPOOL_BYTES (1024 * 1024 * 1024)
#endif
// Seconds: keep-alive idle (uvicorn's default), header section, body read, shutdown grace.
#ifndef FASTAPI_KEEP_ALIVE_TIMEOUT
#define FASTAPI_KEEP_ALIVE_TIMEOUT 5
#endif
#ifndef FASTAPI_HEADER_TIMEOUT
#define FASTAPI_HEADER_TIMEOUT 10
#endif
#ifndef FASTAPI_BODY_TIMEOUT
#define FASTAPI_BODY_TIMEOUT 30
#endif
#ifndef FASTAPI_GRACEFUL_SHUTDOWN_TIMEOUT
#define FASTAPI_GRACEFUL_SHUTDOWN_TIMEOUT 30
#endif

// picojson keeps integers as int64_t only in this mode; JSON integers must not lose precision.
#ifndef PICOJSON_USE_INT64
#define PICOJSON_USE_INT64
#endif
#include <picojson.h>

#ifndef ASIO_STANDALONE
#define ASIO_STANDALONE
#endif
// Asio 1.22 looks for coroutines on Clang only through libc++'s <experimental/coroutine>;
// Clang 14 with libstdc++ has the standard <coroutine>, which Asio then uses.
#if defined(__clang__) && !defined(ASIO_HAS_CO_AWAIT) && defined(__cpp_impl_coroutine) && __has_include(<coroutine>)
#define ASIO_HAS_CO_AWAIT 1
#endif
#include <asio.hpp>

#if !defined(__cpp_impl_coroutine) || __cplusplus < 202002L
#error "fastapi.hpp needs C++20 (compile with -std=c++20)."
#endif
