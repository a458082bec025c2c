// http_parser: bytes -> Request, strictly as RFC 9112 says. Incremental: the connection
// hands it every unconsumed byte it holds; the parser says how many made one request.
// Relies on http_types.
#pragma once
#include "http_types.hpp"

#include <cstddef>  // size_t

namespace fastapi {

// Limits on what one request may make the server hold. Defaults from the FASTAPI_* macros.
struct Limits {
    std::size_t max_target_bytes = FASTAPI_MAX_TARGET_BYTES;   // 414 beyond
    std::size_t max_header_bytes = FASTAPI_MAX_HEADER_BYTES;   // 431 beyond (request line + fields)
    std::size_t max_header_count = FASTAPI_MAX_HEADER_COUNT;   // 431 beyond
    std::size_t max_body_bytes = FASTAPI_MAX_BODY_BYTES;       // 413 beyond (decoded body)
};

namespace detail {

enum class ParseStatus {
    need_more,  // every byte given so far is a valid prefix of a request
    complete,   // one whole request is in `out`; `consumed` bytes belong to it
    error,      // `error_status` says what to answer; the connection must then close
};

struct ParseResult {
    ParseStatus status = ParseStatus::need_more;
    std::size_t consumed = 0;     // valid with complete
    int error_status = 0;         // 400, 413, 414, 431, 505, 501 with error
    std::string_view error_reason;  // short text for logs and the error body
};

// Percent-decodes `in` into `out`; false on a malformed escape. `plus_as_space` for query strings.
bool percent_decode(std::string_view in, std::string& out, bool plus_as_space = false);

class RequestParser {
public:
    explicit RequestParser(const Limits& limits = {}) : limits_(limits) {}

    // `data` is every byte not yet consumed, starting at the beginning of a request. Call again
    // with more bytes after need_more (the same prefix plus what arrived).
    ParseResult parse(std::string_view data, Request& out);

    // After need_more: true once the header section is complete and the client waits for
    // "100 Continue" before sending the body. The connection sends it once.
    bool expects_continue() const noexcept;
    // True once the header section of the request being parsed is complete.
    bool headers_complete() const noexcept;

    // Forget the request being parsed; the next parse starts a new one.
    void reset() noexcept;

private:
    Limits limits_;
};

}  // namespace detail
}  // namespace fastapi
