// fastapi.hpp: FastAPI's programming model for C++20.
// config: configuration macros (each overridable before including the header) and the
// third-party headers every later part relies on.
#pragma once

// The library's version (--version prints it after the program's).
#define FASTAPI_VERSION "0.1.0"

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

// Most hops an X-Forwarded-For or Forwarded list may name (a longer one is ignored whole).
#ifndef FASTAPI_MAX_FORWARDED_HOPS
#define FASTAPI_MAX_FORWARDED_HOPS 64
#endif
// Largest file of load_settings' secrets_dir (a larger one is a problem, not read).
#ifndef FASTAPI_MAX_SECRET_FILE_BYTES
#define FASTAPI_MAX_SECRET_FILE_BYTES (64 * 1024)
#endif
// Largest .env file load_env_file and load_settings read (a larger one is an error).
#ifndef FASTAPI_MAX_ENV_FILE_BYTES
#define FASTAPI_MAX_ENV_FILE_BYTES (1024 * 1024)
#endif
// A WebSocket's keep-alive: a ping after this many seconds, and the connection closed (1011)
// when its pong has not come this many seconds later (uvicorn's ws_ping_interval and
// ws_ping_timeout); 0 turns pings off.
#ifndef FASTAPI_WS_PING_INTERVAL
#define FASTAPI_WS_PING_INTERVAL 20
#endif
#ifndef FASTAPI_WS_PING_TIMEOUT
#define FASTAPI_WS_PING_TIMEOUT 20
#endif
// Redis (redis/*.hpp): bounds on one reply (RespLimits), and the client's timings in
// milliseconds (RedisOptions): connect (and handshake) timeout, the idle time after which a
// PING checks the connection (0: never), and the reconnection backoff's first and longest wait.
#ifndef FASTAPI_REDIS_MAX_BULK_BYTES
#define FASTAPI_REDIS_MAX_BULK_BYTES (512u * 1024 * 1024)
#endif
#ifndef FASTAPI_REDIS_MAX_DEPTH
#define FASTAPI_REDIS_MAX_DEPTH 32
#endif
#ifndef FASTAPI_REDIS_MAX_ELEMENTS
#define FASTAPI_REDIS_MAX_ELEMENTS (16u * 1024 * 1024)
#endif
#ifndef FASTAPI_REDIS_MAX_LINE_BYTES
#define FASTAPI_REDIS_MAX_LINE_BYTES (64u * 1024)
#endif
#ifndef FASTAPI_REDIS_CONNECT_TIMEOUT_MS
#define FASTAPI_REDIS_CONNECT_TIMEOUT_MS 2000
#endif
#ifndef FASTAPI_REDIS_HEALTH_CHECK_MS
#define FASTAPI_REDIS_HEALTH_CHECK_MS 2000
#endif
#ifndef FASTAPI_REDIS_RECONNECT_MIN_MS
#define FASTAPI_REDIS_RECONNECT_MIN_MS 50
#endif
#ifndef FASTAPI_REDIS_RECONNECT_MAX_MS
#define FASTAPI_REDIS_RECONNECT_MAX_MS 5000
#endif
// Pub/sub messages a subscriber holds before its reader takes them; beyond, the oldest are
// dropped (and counted).
#ifndef FASTAPI_REDIS_MAX_QUEUED_MESSAGES
#define FASTAPI_REDIS_MAX_QUEUED_MESSAGES 10000
#endif

// picojson keeps integers as int64_t only in this mode; JSON integers must not lose precision.
#ifndef PICOJSON_USE_INT64
#define PICOJSON_USE_INT64
#endif
#include <picojson.h>

// The compiled-once mode (README "Compiled once"), in the shape Asio and doctest use: every
// translation unit defines FASTAPI_SEPARATE_COMPILATION and exactly one also defines
// FASTAPI_IMPLEMENTATION (or links the CMake target fastapi::compiled), which compiles the
// non-template definitions once, Asio's own with them (ASIO_SEPARATE_COMPILATION). FASTAPI_DECL
// marks them: inline in the default header-only mode, nothing in the compiled-once mode.
// FASTAPI_DEFINITIONS says whether this unit compiles them (1 header-only, 1 in the one unit).
#if defined(FASTAPI_IMPLEMENTATION) && !defined(FASTAPI_SEPARATE_COMPILATION)
#define FASTAPI_SEPARATE_COMPILATION
#endif
#ifdef FASTAPI_SEPARATE_COMPILATION
#define FASTAPI_DECL
#ifndef ASIO_SEPARATE_COMPILATION
#define ASIO_SEPARATE_COMPILATION
#endif
#ifdef FASTAPI_IMPLEMENTATION
#define FASTAPI_DEFINITIONS 1
#else
#define FASTAPI_DEFINITIONS 0
#endif
#else
#define FASTAPI_DECL inline
#define FASTAPI_DEFINITIONS 1
#endif
// FASTAPI_INTERNALS says whether this unit sees the machinery's internal classes (the server's
// state, the supervisor, the Redis connection, the job backends, the parsers): 1 header-only and
// in the implementation unit; 0 in a user's unit of the compiled-once mode, which then parses
// only what a program names (the public API and the templates) and reaches the rest through
// pointers and FASTAPI_DECL functions. A class visible in both views never holds a hidden one
// by value. Tests that reach into fastapi::detail define FASTAPI_EXPOSE_INTERNALS.
#if FASTAPI_DEFINITIONS || defined(FASTAPI_EXPOSE_INTERNALS)
#define FASTAPI_INTERNALS 1
#else
#define FASTAPI_INTERNALS 0
#endif

// GCC 12 compiles the body of every inline coroutine in every unit that sees it, used or not
// (its actor and destroy clones, and all they instantiate: an empty program including this
// header generated 1.9 MB of code and took 17 s at -O0), where it compiles an unused inline
// function not at all. A coroutine that is a template is compiled only where it is used, as
// Clang does with any. So every coroutine of ours that is not already a template is one:
// - FASTAPI_LAZY before a coroutine defined in a header in both modes (a member defined in its
//   class): a template with one defaulted parameter, always; calls do not change.
// - FASTAPI_CORO_DECL before the declaration and FASTAPI_CORO_DEF before the definition (in an
//   `#if FASTAPI_DEFINITIONS` block) of one compiled once in the compiled-once mode: a
//   template in the header-only mode, an ordinary function in the implementation unit.
// A template is compiled too where a function that is no template names it (even one never
// called, such as a virtual override, or a class's member whose class is never made): so every
// function on the way to a coroutine is a template as well, up to one the user's code names
// (App's constructor is one). A virtual function cannot be a template: the class is one
// (MemoryCache, the connection behind its virtual Connection), or the virtual call becomes a
// pointer a template sets (AppContext::run_async). tests/checks/lazy_coroutines.sh keeps it so.
#define FASTAPI_LAZY template <int = 0>
#ifdef FASTAPI_SEPARATE_COMPILATION
#define FASTAPI_CORO_DECL
#define FASTAPI_CORO_DEF
#else
#define FASTAPI_CORO_DECL template <int = 0>
#define FASTAPI_CORO_DEF template <int>
#endif

#ifndef ASIO_STANDALONE
#define ASIO_STANDALONE
#endif
// FASTAPI_WITH_IO_URING: Asio's io_uring backend (Linux 5.10 or later, Debian's liburing-dev;
// link with -luring) instead of epoll: sockets, timers and the signal pipe are io_uring
// operations, one io_uring_enter submitting and reaping many, where epoll needs an epoll_wait,
// a recvfrom per read and a timerfd_settime per timer change (README "WebSocket echo").
// Defined before Asio's headers, it defines ASIO_HAS_IO_URING and ASIO_DISABLE_EPOLL, which
// change Asio's reactor type: every unit of a program must agree (FASTAPI_ABI_VALUES).
#ifdef FASTAPI_WITH_IO_URING
#ifndef ASIO_HAS_IO_URING
#define ASIO_HAS_IO_URING 1
#endif
#ifndef ASIO_DISABLE_EPOLL
#define ASIO_DISABLE_EPOLL 1
#endif
#endif
// Asio 1.22 looks for coroutines on Clang only through libc++'s <experimental/coroutine>;
// Clang 14 with libstdc++ has the standard <coroutine>, which Asio then uses.
#if defined(__clang__) && !defined(ASIO_HAS_CO_AWAIT) && defined(__cpp_impl_coroutine) && __has_include(<coroutine>)
#define ASIO_HAS_CO_AWAIT 1
#endif
// The Asio headers fastapi.hpp uses, not all of <asio.hpp> (files, pipes, serial ports, raw
// and datagram sockets, buffered streams, the deprecated io_service and deadline_timer: a
// sixth of the preprocessed program nobody here uses). A handler may use what these declare
// (asio::steady_timer, io_context, post, co_spawn, async_read/async_write and write, ip::tcp,
// this_coro); for anything else from Asio, include its own header (README "Compile time").
#include <asio/any_io_executor.hpp>          // any_io_executor
#include <asio/associated_executor.hpp>      // get_associated_executor
#include <asio/async_result.hpp>             // async_initiate
#include <asio/awaitable.hpp>                // awaitable
#include <asio/basic_socket_acceptor.hpp>    // basic_socket_acceptor
#include <asio/bind_cancellation_slot.hpp>   // bind_cancellation_slot
#include <asio/buffer.hpp>                   // buffer, const_buffer, mutable_buffer
#include <asio/cancellation_signal.hpp>      // cancellation_signal
#include <asio/co_spawn.hpp>                 // co_spawn
#include <asio/detached.hpp>                 // detached
#include <asio/dispatch.hpp>                 // dispatch
#include <asio/error.hpp>                    // error::eof, operation_aborted, broken_pipe
#include <asio/execution.hpp>                // execution::context
#include <asio/executor_work_guard.hpp>      // executor_work_guard, make_work_guard
#include <asio/generic/stream_protocol.hpp>  // generic::stream_protocol (TCP and Unix sockets alike)
#include <asio/io_context.hpp>               // io_context
#include <asio/ip/address.hpp>               // ip::make_address, address_v4, address_v6
#include <asio/ip/tcp.hpp>                   // ip::tcp, its resolver and no_delay
#include <asio/local/stream_protocol.hpp>    // local::stream_protocol (Unix domain sockets)
#include <asio/post.hpp>                     // post
#include <asio/query.hpp>                    // query
#include <asio/read.hpp>                     // async_read
#include <asio/redirect_error.hpp>           // redirect_error
#include <asio/signal_set.hpp>               // signal_set
#include <asio/socket_base.hpp>              // socket_base options
#include <asio/steady_timer.hpp>             // steady_timer
#include <asio/strand.hpp>                   // strand, make_strand
#include <asio/system_error.hpp>             // system_error
#include <asio/this_coro.hpp>                // this_coro::executor, throw_if_cancelled
#include <asio/thread_pool.hpp>              // thread_pool
#include <asio/use_awaitable.hpp>            // use_awaitable
#include <asio/write.hpp>                    // async_write, write

#if !defined(__cpp_impl_coroutine) || __cplusplus < 202002L
#error "fastapi.hpp needs C++20 (compile with -std=c++20)."
#endif
