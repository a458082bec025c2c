// compiled: what the compiled-once mode (FASTAPI_SEPARATE_COMPILATION) adds at the end of the
// header. The configuration macros that change non-template code must have the same values in
// every translation unit of a program: each user unit refers to abi_check<its values...>, which
// only the implementation unit defines, for its own values. A unit built with other values fails
// to link with "undefined reference to fastapi::detail::abi_check<...>()" (the values in the
// order of FASTAPI_ABI_VALUES below), rather than running two different parsers in one program.
// The implementation unit (FASTAPI_IMPLEMENTATION) also compiles Asio's own definitions.
#pragma once

#ifdef FASTAPI_SEPARATE_COMPILATION
#ifdef FASTAPI_WITH_ZLIB
#define FASTAPI_ABI_ZLIB 1ull
#else
#define FASTAPI_ABI_ZLIB 0ull
#endif
#ifdef FASTAPI_WITH_IO_URING
#define FASTAPI_ABI_IO_URING 1ull
#else
#define FASTAPI_ABI_IO_URING 0ull
#endif
#define FASTAPI_ABI_VALUES \
    static_cast<unsigned long long>(FASTAPI_DEFAULT_PORT),\
    static_cast<unsigned long long>(FASTAPI_MAX_TARGET_BYTES),\
    static_cast<unsigned long long>(FASTAPI_MAX_HEADER_BYTES),\
    static_cast<unsigned long long>(FASTAPI_MAX_HEADER_COUNT),\
    static_cast<unsigned long long>(FASTAPI_MAX_BODY_BYTES),\
    static_cast<unsigned long long>(FASTAPI_MAX_JSON_DEPTH),\
    static_cast<unsigned long long>(FASTAPI_MAX_VALIDATION_ERRORS),\
    static_cast<unsigned long long>(FASTAPI_MAX_UPLOAD_BYTES),\
    static_cast<unsigned long long>(FASTAPI_MAX_CONNECTIONS),\
    static_cast<unsigned long long>(FASTAPI_MAX_BUFFERED_BODY_BYTES),\
    static_cast<unsigned long long>(FASTAPI_MAX_SPOOL_BYTES),\
    static_cast<unsigned long long>(FASTAPI_KEEP_ALIVE_TIMEOUT),\
    static_cast<unsigned long long>(FASTAPI_HEADER_TIMEOUT),\
    static_cast<unsigned long long>(FASTAPI_BODY_TIMEOUT),\
    static_cast<unsigned long long>(FASTAPI_GRACEFUL_SHUTDOWN_TIMEOUT),\
    static_cast<unsigned long long>(FASTAPI_MAX_FORWARDED_HOPS),\
    static_cast<unsigned long long>(FASTAPI_MAX_SECRET_FILE_BYTES),\
    static_cast<unsigned long long>(FASTAPI_MAX_ENV_FILE_BYTES),\
    static_cast<unsigned long long>(FASTAPI_WS_PING_INTERVAL),\
    static_cast<unsigned long long>(FASTAPI_WS_PING_TIMEOUT),\
    static_cast<unsigned long long>(FASTAPI_REDIS_MAX_BULK_BYTES),\
    static_cast<unsigned long long>(FASTAPI_REDIS_MAX_DEPTH),\
    static_cast<unsigned long long>(FASTAPI_REDIS_MAX_ELEMENTS),\
    static_cast<unsigned long long>(FASTAPI_REDIS_MAX_LINE_BYTES),\
    static_cast<unsigned long long>(FASTAPI_REDIS_CONNECT_TIMEOUT_MS),\
    static_cast<unsigned long long>(FASTAPI_REDIS_HEALTH_CHECK_MS),\
    static_cast<unsigned long long>(FASTAPI_REDIS_RECONNECT_MIN_MS),\
    static_cast<unsigned long long>(FASTAPI_REDIS_RECONNECT_MAX_MS),\
    static_cast<unsigned long long>(FASTAPI_REDIS_MAX_QUEUED_MESSAGES),\
    static_cast<unsigned long long>(FASTAPI_LOG_BUFFER_BYTES),\
    FASTAPI_ABI_ZLIB,\
    FASTAPI_ABI_IO_URING
namespace fastapi::detail {
template <unsigned long long... Values> int abi_check();
#ifdef FASTAPI_IMPLEMENTATION
template <unsigned long long... Values> int abi_check() { return 0; }
template int abi_check<FASTAPI_ABI_VALUES>();
#else
[[maybe_unused, gnu::used]] static int (*const abi_check_ref)() = &abi_check<FASTAPI_ABI_VALUES>;
#endif
}  // namespace fastapi::detail
#ifdef FASTAPI_IMPLEMENTATION
#include <asio/impl/src.hpp>
#endif
#endif
