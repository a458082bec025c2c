// http_parser: bytes -> Request, strictly as RFC 9112 says. Incremental: the connection
// hands it every unconsumed byte it holds; the parser says how many made one request.
// Relies on http_types.
//
// Lines are found with memchr (fast on whole requests) and then checked byte by byte once;
// between calls the parser keeps offsets only, so a request that trickles in is neither
// copied nor rescanned. Anything RFC 9112 lets a server reject is rejected: bare LF, bare CR,
// obs-fold, whitespace before the colon, ambiguous framing.
#pragma once
#include "http_types.hpp"

#include <algorithm>  // min
#include <cstddef>    // size_t
#include <cstdint>    // uint64_t
#include <cstring>    // memchr, memcmp
#include <limits>     // numeric_limits

namespace fastapi {

// Limits on what one request may make the server hold. Defaults from the FASTAPI_* macros.
struct Limits {
    std::size_t max_target_bytes = FASTAPI_MAX_TARGET_BYTES;   // 414 beyond
    std::size_t max_header_bytes = FASTAPI_MAX_HEADER_BYTES;   // 431 beyond (request line + fields)
    std::size_t max_header_count = FASTAPI_MAX_HEADER_COUNT;   // 431 beyond
    std::size_t max_body_bytes = FASTAPI_MAX_BODY_BYTES;       // 413 beyond (decoded body)
    // A multipart/form-data body with a Content-Length over max_body_bytes is streamed to a
    // temporary file (Request::body_file) up to this size; 413 beyond.
    std::size_t max_upload_bytes = FASTAPI_MAX_UPLOAD_BYTES;
    // Open connections a server holds (503 and closed beyond, as uvicorn's --limit-concurrency);
    // never more than the open-file limit allows. 0: only that limit.
    std::size_t max_connections = FASTAPI_MAX_CONNECTIONS;
    // Request bodies held in memory by all the connections of a server together (read
    // buffers growing towards their Content-Length); a request that would go past it is
    // answered 503 and its connection closed.
    std::size_t max_buffered_body_bytes = FASTAPI_MAX_BUFFERED_BODY_BYTES;
    // Disk taken by all the uploads being streamed to temporary files at once: 413 for one
    // body larger than this, 503 while the others leave no room for it.
    std::size_t max_spool_bytes = FASTAPI_MAX_SPOOL_BYTES;
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

// Percent-decodes `in` into `out` (replacing its contents); false on a malformed escape.
// `plus_as_space` for query strings and forms.
FASTAPI_DECL bool percent_decode(std::string_view in, std::string& out, bool plus_as_space = false);

// What RequestParser knows of the request being parsed: reset() assigns a fresh one (a few
// stores) instead of rebuilding the whole parser with its limits.
struct RequestParserFields {
    enum class State : unsigned char {
        start, request_line, headers, body_length, body_spool, chunk_size, chunk_data, chunk_crlf, trailers,
        done, failed,
    };
    static constexpr std::size_t npos = static_cast<std::size_t>(-1);

    State state_ = State::start;
    ParseResult result_;            // repeated by parse() once done or failed
    int err_status_ = 0;
    std::string_view err_reason_;

    // Offsets into `data`; the bytes themselves may move between calls.
    std::size_t section_start_ = 0;  // header or trailer section
    std::size_t line_start_ = 0;     // line being parsed
    std::size_t scan_ = 0;           // the search for its LF resumes here
    std::size_t rl_scan_ = 0;        // request line: where the search for SP resumes (414 early)
    std::size_t sp1_ = npos, sp2_ = npos;
    std::size_t body_start_ = 0;
    std::size_t pos_ = 0;            // chunked body: next byte
    std::size_t field_count_ = 0;
    std::size_t decoded_ = 0;        // chunked body bytes so far
    std::size_t authority_at_ = 0, authority_len_ = 0;  // in out.target, for absolute-form

    std::uint64_t content_length_ = 0;
    std::uint64_t chunk_left_ = 0;
    int version_ = 11;
    unsigned host_count_ = 0;
    unsigned te_chunked_count_ = 0;
    bool has_content_length_ = false;
    bool has_transfer_encoding_ = false;
    bool te_chunked_last_ = false;
    bool te_other_ = false;
    bool conn_close_ = false;
    bool conn_keep_alive_ = false;
    bool expect_continue_ = false;
    bool headers_done_ = false;
};

class RequestParser : private RequestParserFields {
public:
    explicit RequestParser(const Limits& limits = {}) : limits_(limits) {}

    // `data` is every byte not yet consumed, starting at the beginning of a request. Call again
    // with more bytes after need_more (the same prefix plus what arrived) and the same `out`:
    // fields and body are written into it as they are parsed.
    ParseResult parse(std::string_view data, Request& out);

    // After need_more: true once the header section is complete and the client waits for
    // "100 Continue" before sending the body. The connection sends it once.
    bool expects_continue() const noexcept;
    // True once the header section of the request being parsed is complete.
    bool headers_complete() const noexcept;
    // After need_more: non-zero when the body is a multipart/form-data upload too large for
    // memory, which the caller streams to a file itself: this many bytes, from body_offset()
    // in the data. The request is then complete (call reset() before the next one).
    std::uint64_t spool_length() const noexcept { return state_ == State::body_spool ? content_length_ : 0; }
    std::size_t body_offset() const noexcept { return body_start_; }
    // Once the header section is complete: the Content-Length of the body, 0 for none;
    // body_chunked() when it is framed by chunks instead (its length is not known).
    std::uint64_t content_length() const noexcept { return content_length_; }
    bool body_chunked() const noexcept { return headers_done_ && has_transfer_encoding_; }

    // Forget the request being parsed; the next parse starts a new one.
    void reset() noexcept;

private:
    // A chunk-size line (size and extensions) longer than this is an attack, not a client.
    static constexpr std::size_t max_chunk_line_bytes = 4096;

    ParseResult need_more() const noexcept { return {}; }
    ParseResult fail(int status, std::string_view reason) noexcept {
        state_ = State::failed;
        result_ = {ParseStatus::error, 0, status, reason};
        return result_;
    }
    ParseResult fail() noexcept { return fail(err_status_, err_reason_); }
    bool err(int status, std::string_view reason) noexcept {
        err_status_ = status;
        err_reason_ = reason;
        return false;
    }
    ParseResult complete(std::size_t consumed) noexcept {
        state_ = State::done;
        result_ = {ParseStatus::complete, consumed, 0, {}};
        return result_;
    }

    bool target_too_long_so_far(const char* p, std::size_t lim) noexcept;
    bool request_line(std::string_view line, Request& out);
    bool request_target(std::string_view target, Request& out);
    bool header_field(std::string_view line, Request& out, bool trailer);
    bool content_length(std::string_view value) noexcept;
    bool transfer_encoding(std::string_view value) noexcept;
    void connection(std::string_view value) noexcept;
    bool end_of_headers(Request& out);
    bool chunk_size_line(std::string_view line, std::uint64_t& size) noexcept;

    Limits limits_;
};

// ---- character classes and small helpers ----

FASTAPI_DECL int hex_digit_value(unsigned char c) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL int hex_digit_value(unsigned char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    c = static_cast<unsigned char>(c | 0x20);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}
#endif

// field-vchar / SP / HTAB / obs-text: everything but CTLs (and DEL), HTAB excepted.
FASTAPI_DECL bool is_field_value_char(unsigned char c) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool is_field_value_char(unsigned char c) noexcept { return c >= 0x20 ? c != 0x7F : c == '\t'; }
#endif

// Eight bytes at a time: the per-byte checks below dominate parsing time otherwise. Each test
// answers exactly whether some byte qualifies (not which), then the byte loop says which.
FASTAPI_DECL std::uint64_t load_u64(const char* p) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::uint64_t load_u64(const char* p) noexcept {
    std::uint64_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
#endif
inline constexpr std::uint64_t swar_ones = 0x0101010101010101ull;
inline constexpr std::uint64_t swar_highs = 0x8080808080808080ull;
inline constexpr std::uint64_t swar_has_zero(std::uint64_t x) noexcept { return (x - swar_ones) & ~x & swar_highs; }
inline constexpr std::uint64_t swar_has_less(std::uint64_t x, unsigned n) noexcept {
    return (x - swar_ones * n) & ~x & swar_highs;  // exact for n <= 128
}
inline constexpr std::uint64_t swar_has(std::uint64_t x, unsigned char c) noexcept { return swar_has_zero(x ^ (swar_ones * c)); }

FASTAPI_DECL bool swar_has_ctl(std::uint64_t x) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool swar_has_ctl(std::uint64_t x) noexcept { return (swar_has_less(x, 0x20) | swar_has(x, 0x7F)) != 0; }
#endif

// Length of the prefix of [p, e) made of field-value bytes, HTAB excepted.
FASTAPI_DECL std::size_t field_value_run(const char* p, const char* e) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::size_t field_value_run(const char* p, const char* e) noexcept {
    const char* q = p;
    for (;;) {
        if (e - q < 8) {
            // The last (overlapping) eight bytes at once rather than up to seven one by one.
            if (q < e && e - p >= 8 && !swar_has_ctl(load_u64(e - 8))) return static_cast<std::size_t>(e - p);
            break;
        }
        if (swar_has_ctl(load_u64(q))) break;
        q += 8;
    }
    while (q < e && static_cast<unsigned char>(*q) >= 0x20 && *q != 0x7F) ++q;
    return static_cast<std::size_t>(q - p);
}
#endif

// Length of the prefix of [p, e) made of visible ASCII other than '#'.
FASTAPI_DECL std::size_t target_run(const char* p, const char* e) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::size_t target_run(const char* p, const char* e) noexcept {
    const char* q = p;
    while (e - q >= 8) {
        std::uint64_t x = load_u64(q);
        if (swar_has_less(x, 0x21) | swar_has(x, 0x7F) | swar_has(x, '#') | (x & swar_highs)) break;
        q += 8;
    }
    while (q < e && *q > 0x20 && *q < 0x7F && *q != '#') ++q;
    return static_cast<std::size_t>(q - p);
}
#endif

// Case-insensitive equality with a lowercase literal made of letters and '-', for a token `s`:
// among token characters only 'A'-'Z' fold onto 'a'-'z' by setting bit 0x20.
FASTAPI_DECL bool token_equals_lower(std::string_view s, std::string_view lower) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool token_equals_lower(std::string_view s, std::string_view lower) noexcept {
    if (s.size() != lower.size()) return false;
    for (std::size_t i = 0; i < s.size(); ++i)
        if ((s[i] | 0x20) != lower[i]) return false;
    return true;
}
#endif

FASTAPI_DECL bool is_ows(char c) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool is_ows(char c) noexcept { return c == ' ' || c == '\t'; }
#endif

FASTAPI_DECL std::string_view trim_ows(std::string_view s) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string_view trim_ows(std::string_view s) noexcept {
    while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
    return s;
}
#endif

// Calls f(element) for each non-empty element of a comma-separated list (RFC 9110 §5.6.1:
// empty elements are allowed and ignored). Stops early when f returns false.
template <class F>
inline bool for_each_list_element(std::string_view v, F&& f) {
    while (true) {
        std::size_t comma = v.find(',');
        std::string_view e = trim_ows(v.substr(0, comma));
        if (!e.empty() && !f(e)) return false;
        if (comma == std::string_view::npos) return true;
        v.remove_prefix(comma + 1);
    }
}

// Host = uri-host [ ":" port ] (RFC 9110 §7.2, RFC 3986 §3.2.2); empty is allowed in Host.
FASTAPI_DECL bool is_valid_host(std::string_view h) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool is_valid_host(std::string_view h) noexcept {
    static constexpr auto reg_name = [] {
        struct { bool v[256]{}; } t;
        for (int c = '0'; c <= '9'; ++c) t.v[c] = true;
        for (int c = 'a'; c <= 'z'; ++c) t.v[c] = true;
        for (int c = 'A'; c <= 'Z'; ++c) t.v[c] = true;
        for (char c : std::string_view("-._~!$&'()*+,;=")) t.v[static_cast<unsigned char>(c)] = true;
        return t;
    }();
    std::size_t i = 0, n = h.size();
    if (n > 0 && h[0] == '[') {
        // IP-literal: IPv6address or IPvFuture; loosely, the characters they are made of.
        std::size_t close = h.find(']');
        if (close == std::string_view::npos || close == 1) return false;
        for (i = 1; i < close; ++i) {
            unsigned char c = static_cast<unsigned char>(h[i]);
            if (!reg_name.v[c] && c != ':') return false;
        }
        i = close + 1;
    } else {
        for (;;) {
            while (i < n && reg_name.v[static_cast<unsigned char>(h[i])]) ++i;
            if (i == n || h[i] != '%') break;
            if (n - i < 3 || hex_digit_value(static_cast<unsigned char>(h[i + 1])) < 0 ||
                hex_digit_value(static_cast<unsigned char>(h[i + 2])) < 0)
                return false;
            i += 3;
        }
    }
    if (i == n) return true;
    if (h[i] != ':') return false;
    for (++i; i < n; ++i)
        if (h[i] < '0' || h[i] > '9') return false;
    return true;
}
#endif

FASTAPI_DECL bool percent_decode(std::string_view in, std::string& out, bool plus_as_space);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool percent_decode(std::string_view in, std::string& out, bool plus_as_space) {
    out.clear();
    const char* p = in.data();
    const char* const end = p + in.size();
    while (p < end) {
        const char* q = p;
        if (plus_as_space) {
            while (q < end && *q != '%' && *q != '+') ++q;
        } else {
            q = static_cast<const char*>(std::memchr(p, '%', static_cast<std::size_t>(end - p)));
            if (!q) q = end;
        }
        out.append(p, q);
        if (q == end) break;
        if (*q == '+') {
            out.push_back(' ');
            p = q + 1;
            continue;
        }
        if (end - q < 3) return false;
        int hi = hex_digit_value(static_cast<unsigned char>(q[1]));
        int lo = hex_digit_value(static_cast<unsigned char>(q[2]));
        if (hi < 0 || lo < 0) return false;
        out.push_back(static_cast<char>(hi * 16 + lo));
        p = q + 3;
    }
    return true;
}
#endif

// Request::host and port from a Host field (or an absolute-form target's authority), as the
// parser reads it: the name (an IPv6 literal without its brackets) and the port, the scheme's
// default when it names none. Empty (no Host, or an empty one): host "" and port 0, which the
// connection replaces with its local address. Assigned only when it changed (keep-alive
// clients send the same Host every time), so no allocation once the string has grown.
FASTAPI_DECL void record_host(Request& req, std::string_view v);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void record_host(Request& req, std::string_view v) {
    if (v.empty()) {
        req.host.clear();
        req.port = 0;
        return;
    }
    std::string_view name = v, rest;
    if (v.front() == '[') {  // an IPv6 literal
        const auto close = v.find(']');
        name = v.substr(1, close == std::string_view::npos ? v.size() - 1 : close - 1);
        rest = close == std::string_view::npos ? std::string_view() : v.substr(close + 1);
    } else {
        std::size_t colon = v.size();  // the last ':', searched for from the end (the port is short)
        while (colon != 0 && v[colon - 1] != ':') --colon;
        if (colon != 0) {
            name = v.substr(0, colon - 1);
            rest = v.substr(colon - 1);
        }
    }
    unsigned port = req.scheme.size() == 5 && req.scheme == "https" ? 443 : 80;
    if (rest.size() > 1 && rest.front() == ':') {
        unsigned p = 0;
        const char* q = rest.data() + 1;
        const char* const end = rest.data() + rest.size();
        for (; q != end && *q >= '0' && *q <= '9' && p <= 65535; ++q) p = p * 10 + static_cast<unsigned>(*q - '0');
        if (q == end && p <= 65535) port = p;
    }
    if (std::string_view(req.host) != name) assign_bytes(req.host, name);
    req.port = static_cast<unsigned short>(port);
}
#endif

inline const char* find_lf(const char* p, std::size_t from, std::size_t to) noexcept {
    return from < to ? static_cast<const char*>(std::memchr(p + from, '\n', to - from)) : nullptr;
}

// ---- RequestParser ----

#if FASTAPI_DEFINITIONS
FASTAPI_DECL void RequestParser::reset() noexcept {
    // Trivially destructible: constructed afresh in place (stores only, no temporary to copy).
    static_assert(std::is_trivially_destructible_v<RequestParserFields>);
    ::new (static_cast<RequestParserFields*>(this)) RequestParserFields();
}
#endif

#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool RequestParser::headers_complete() const noexcept { return headers_done_; }
#endif

#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool RequestParser::expects_continue() const noexcept {
    return expect_continue_ && version_ == 11 && headers_done_ &&
           (state_ == State::body_length || state_ == State::body_spool || state_ == State::chunk_size ||
            state_ == State::chunk_data || state_ == State::chunk_crlf);
}
#endif

#if FASTAPI_DEFINITIONS
FASTAPI_DECL ParseResult RequestParser::parse(std::string_view data, Request& out) {
    const char* const p = data.data();
    const std::size_t n = data.size();
    // The header (or trailer) section may not extend past section_start_ + max_header_bytes.
    auto window = [&] { return section_start_ + std::min(n - section_start_, limits_.max_header_bytes); };

    for (;;) {
        switch (state_) {
        case State::start: {
            if (n == 0) return need_more();
            out.clear();
            std::size_t s = 0;
            // RFC 9112 §2.2: one empty line before the request line is tolerated.
            if (p[0] == '\r') {
                if (n < 2) return need_more();
                if (p[1] != '\n') return fail(400, "Bare CR in request line");
                s = 2;
            } else if (p[0] == '\n') {
                return fail(400, "Bare LF in request line");
            }
            section_start_ = line_start_ = scan_ = rl_scan_ = s;
            state_ = State::request_line;
            break;
        }
        case State::request_line: {
            const std::size_t lim = window();
            const char* lf = find_lf(p, scan_, lim);
            if (!lf) {
                scan_ = lim;
                // Bytes that cannot begin a method (a TLS ClientHello on the plain port) fail now,
                // not when the header timeout ends the wait for a line that never comes.
                std::size_t m = line_start_;
                while (m < lim && is_token_char(static_cast<unsigned char>(p[m]))) ++m;
                if (m < lim && (m == line_start_ || p[m] != ' ')) return fail(400, "Invalid method");
                if (target_too_long_so_far(p, lim)) return fail(414, "Request target too long");
                if (n - section_start_ >= limits_.max_header_bytes) return fail(431, "Header section too large");
                return need_more();
            }
            const std::size_t e = static_cast<std::size_t>(lf - p);
            if (e == line_start_ || p[e - 1] != '\r') return fail(400, "Bare LF in request line");
            if (!request_line({p + line_start_, e - 1 - line_start_}, out)) return fail();
            line_start_ = scan_ = e + 1;
            state_ = State::headers;
            break;
        }
        case State::headers:
        case State::trailers: {
            const bool trailer = state_ == State::trailers;
            const std::size_t lim = window();
            for (;;) {
                const char* lf = find_lf(p, scan_, lim);
                if (!lf) {
                    scan_ = lim;
                    if (n - section_start_ >= limits_.max_header_bytes)
                        return fail(431, trailer ? "Trailer section too large" : "Header section too large");
                    return need_more();
                }
                const std::size_t e = static_cast<std::size_t>(lf - p);
                if (e == line_start_ || p[e - 1] != '\r') return fail(400, "Bare LF in header section");
                std::string_view line(p + line_start_, e - 1 - line_start_);
                line_start_ = scan_ = e + 1;
                if (line.empty()) break;
                if (++field_count_ > limits_.max_header_count)
                    return fail(431, trailer ? "Too many trailer fields" : "Too many header fields");
                if (!header_field(line, out, trailer)) return fail();
            }
            if (trailer) return complete(line_start_);
            if (!end_of_headers(out)) return fail();
            if (state_ == State::done) return complete(body_start_);
            break;
        }
        case State::body_length: {
            if (n - body_start_ < content_length_) return need_more();
            const std::size_t len = static_cast<std::size_t>(content_length_);
            out.body.assign(p + body_start_, len);
            return complete(body_start_ + len);
        }
        case State::body_spool:
            return need_more();  // the caller streams the body (spool_length)
        case State::chunk_size: {
            const std::size_t lim = line_start_ + std::min(n - line_start_, max_chunk_line_bytes);
            const char* lf = find_lf(p, scan_, lim);
            if (!lf) {
                scan_ = lim;
                if (n - line_start_ >= max_chunk_line_bytes) return fail(400, "Chunk size line too long");
                return need_more();
            }
            const std::size_t e = static_cast<std::size_t>(lf - p);
            if (e == line_start_ || p[e - 1] != '\r') return fail(400, "Bare LF in chunked body");
            std::uint64_t size = 0;
            if (!chunk_size_line({p + line_start_, e - 1 - line_start_}, size)) return fail();
            line_start_ = scan_ = e + 1;
            if (size > limits_.max_body_bytes - decoded_) return fail(413, "Request body too large");
            // The raw bytes stay in the connection's buffer until the request is complete:
            // bound what tiny chunks and long extensions can add to the decoded size.
            const std::size_t framing = (line_start_ - body_start_) - decoded_;
            if (framing > limits_.max_header_bytes &&
                framing - limits_.max_header_bytes > limits_.max_body_bytes)
                return fail(413, "Chunked framing too large");
            if (size == 0) {
                section_start_ = line_start_;
                field_count_ = 0;
                state_ = State::trailers;
            } else {
                chunk_left_ = size;
                pos_ = line_start_;
                state_ = State::chunk_data;
            }
            break;
        }
        case State::chunk_data: {
            const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(n - pos_, chunk_left_));
            out.body.append(p + pos_, take);
            decoded_ += take;
            pos_ += take;
            chunk_left_ -= take;
            if (chunk_left_ != 0) return need_more();
            state_ = State::chunk_crlf;
            break;
        }
        case State::chunk_crlf: {
            if (n - pos_ < 1) return need_more();
            if (p[pos_] != '\r') return fail(400, "Chunk data not followed by CRLF");
            if (n - pos_ < 2) return need_more();
            if (p[pos_ + 1] != '\n') return fail(400, "Chunk data not followed by CRLF");
            line_start_ = scan_ = pos_ + 2;
            state_ = State::chunk_size;
            break;
        }
        case State::done:
        case State::failed:
            return result_;
        }
    }
}
#endif

// While the request line is incomplete: has the target already grown past its limit?
// Only the bytes that arrived since the last call are searched.
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool RequestParser::target_too_long_so_far(const char* p, std::size_t lim) noexcept {
    std::size_t i = rl_scan_;
    rl_scan_ = lim;
    if (sp1_ == npos) {
        auto q = static_cast<const char*>(std::memchr(p + i, ' ', lim - i));
        if (!q) return false;
        sp1_ = static_cast<std::size_t>(q - p);
        i = sp1_ + 1;
    }
    if (sp2_ == npos && i < lim) {
        auto q = static_cast<const char*>(std::memchr(p + i, ' ', lim - i));
        if (q) sp2_ = static_cast<std::size_t>(q - p);
    }
    const std::size_t end = sp2_ != npos ? sp2_ : lim;
    return end - (sp1_ + 1) > limits_.max_target_bytes;
}
#endif

// request-line = method SP request-target SP HTTP-version (CRLF already removed)
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool RequestParser::request_line(std::string_view line, Request& out) {
    const char* b = line.data();
    const char* const e = b + line.size();
    const char* q = b;
    while (q < e && is_token_char(static_cast<unsigned char>(*q))) ++q;
    if (q == b || q == e || *q != ' ') return err(400, "Invalid method");
    detail::assign_bytes(out.method, std::string_view(b, static_cast<std::size_t>(q - b)));

    const char* t = ++q;
    while (q < e && *q != ' ') ++q;
    std::string_view target(t, static_cast<std::size_t>(q - t));
    if (target.size() > limits_.max_target_bytes) return err(414, "Request target too long");
    if (q == e || target.empty()) return err(400, "Invalid request line");

    std::string_view v(q + 1, static_cast<std::size_t>(e - q - 1));
    if (v.size() != 8 || std::memcmp(v.data(), "HTTP/", 5) != 0 || v[5] < '0' || v[5] > '9' ||
        v[6] != '.' || v[7] < '0' || v[7] > '9')
        return err(400, "Invalid HTTP version");
    if (v[5] != '1' || (v[7] != '0' && v[7] != '1')) return err(505, "HTTP version not supported");
    version_ = v[7] == '1' ? 11 : 10;
    out.version = version_;

    return request_target(target, out);
}
#endif

// origin-form, absolute-form (http/https), or asterisk-form for OPTIONS.
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool RequestParser::request_target(std::string_view target, Request& out) {
    if (target.empty()) return err(400, "Invalid request target");
    // Visible ASCII; a fragment is never sent. Lenient about characters such as | { } that
    // clients send unencoded although RFC 3986 reserves them.
    if (target_run(target.data(), target.data() + target.size()) != target.size())
        return err(400, "Invalid character in request target");
    detail::assign_bytes(out.target, target);

    std::string_view rest;
    if (target[0] == '/') {
        rest = target;
    } else if (target == "*") {
        if (out.method != "OPTIONS") return err(400, "Asterisk-form is only for OPTIONS");
        out.path.assign("*");
        out.raw_path.assign("*");
        return true;
    } else {
        std::size_t skip = 0;
        if (target.size() >= 7 && iequals(target.substr(0, 7), "http://")) skip = 7;
        else if (target.size() >= 8 && iequals(target.substr(0, 8), "https://")) skip = 8;
        else return err(400, "Invalid request target");
        std::string_view after = target.substr(skip);
        std::size_t end = std::min(after.find('/'), after.find('?'));
        if (end == std::string_view::npos) end = after.size();
        std::string_view authority = after.substr(0, end);
        // An http(s) URI needs a host; userinfo ('@') is deprecated and refused with it.
        if (authority.empty() || authority[0] == ':' || !is_valid_host(authority))
            return err(400, "Invalid authority in request target");
        rest = after.substr(end);
        authority_at_ = skip;
        authority_len_ = authority.size();
    }

    std::size_t qm = rest.find('?');
    std::string_view raw_path = rest.substr(0, qm);
    if (qm != std::string_view::npos) detail::assign_bytes(out.query_string, rest.substr(qm + 1));
    if (raw_path.empty()) raw_path = "/";  // absolute-form without a path
    detail::assign_bytes(out.raw_path, raw_path);
    if (!percent_decode(raw_path, out.path)) return err(400, "Invalid percent-encoding in path");
    // As uvicorn's unquote(errors="replace"): an escaped byte that is not UTF-8 is U+FFFD.
    if (out.path.size() != raw_path.size()) replace_invalid_utf8(out.path);
    if (out.path.size() != raw_path.size() && out.path.find('\0') != std::string::npos)
        return err(400, "NUL in path");
    return true;
}
#endif

// field-line = field-name ":" OWS field-value OWS (CRLF already removed)
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool RequestParser::header_field(std::string_view line, Request& out, bool trailer) {
    const char* const b = line.data();
    const char* const e = b + line.size();
    if (is_ows(*b)) return err(400, "Obsolete line folding");
    const char* q = b;
    while (q < e && is_token_char(static_cast<unsigned char>(*q))) ++q;
    if (q == e) return err(400, "Invalid header field");
    if (*q != ':') {
        if (is_ows(*q)) return err(400, "Whitespace before colon in header field");
        return err(400, "Invalid header name");
    }
    if (q == b) return err(400, "Invalid header name");
    std::string_view name(b, static_cast<std::size_t>(q - b));

    const char* v = q + 1;
    for (const char* r = v; (r += field_value_run(r, e)) < e; ++r) {
        unsigned char c = static_cast<unsigned char>(*r);
        if (c == '\t') continue;
        if (c == '\r') return err(400, "Bare CR in header section");
        if (c == 0) return err(400, "NUL in header value");
        return err(400, "Invalid character in header value");
    }
    const char* ve = e;  // OWS around the value trimmed here, not by a call (once per field)
    while (v < ve && is_ows(*v)) ++v;
    while (ve > v && is_ows(ve[-1])) --ve;
    std::string_view value(v, static_cast<std::size_t>(ve - v));

    if (trailer) {
        // RFC 9110 §6.5.1: framing, routing and connection fields cannot come late.
        static constexpr std::string_view forbidden[] = {
            "content-length", "transfer-encoding", "host", "connection", "keep-alive",
            "te", "trailer", "upgrade", "expect", "content-type", "content-encoding"};
        for (auto f : forbidden)
            if (token_equals_lower(name, f)) return true;
        detail::append_header(out.trailers, name, value);
        return true;
    }

    // The fields the parser itself acts on; most names are ruled out by length or first letter.
    switch (name.size()) {
    case 4:
        if (token_equals_lower(name, "host")) {
            ++host_count_;
            if (!is_valid_host(value)) return err(400, "Invalid Host header");
            record_host(out, value);
        }
        break;
    case 6:
        if (token_equals_lower(name, "expect") && iequals(value, "100-continue")) expect_continue_ = true;
        break;
    case 10:
        if ((name[0] | 0x20) == 'c' && token_equals_lower(name, "connection")) connection(value);
        break;
    case 14:
        if ((name[0] | 0x20) == 'c' && token_equals_lower(name, "content-length") && !content_length(value))
            return false;
        break;
    case 17:
        if (token_equals_lower(name, "transfer-encoding") && !transfer_encoding(value)) return false;
        break;
    default:
        break;
    }
    detail::append_header(out.headers, name, value);
    return true;
}
#endif

// Content-Length = 1*DIGIT. RFC 9110 §8.6 lets a recipient accept a repeated identical value
// ("5, 5" or two fields saying 5) as that value; we do, and refuse any that differ.
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool RequestParser::content_length(std::string_view value) noexcept {
    if (value.empty()) return err(400, "Invalid Content-Length");
    for (;;) {
        std::size_t comma = value.find(',');
        std::string_view d = trim_ows(value.substr(0, comma));
        if (d.empty()) return err(400, "Invalid Content-Length");
        std::uint64_t n = 0;
        for (char c : d) {
            if (c < '0' || c > '9') return err(400, "Invalid Content-Length");
            unsigned digit = static_cast<unsigned>(c - '0');
            if (n > (std::numeric_limits<std::uint64_t>::max() - digit) / 10)
                return err(400, "Invalid Content-Length");
            n = n * 10 + digit;
        }
        if (has_content_length_ && n != content_length_) return err(400, "Conflicting Content-Length values");
        has_content_length_ = true;
        content_length_ = n;
        if (comma == std::string_view::npos) return true;
        value.remove_prefix(comma + 1);
    }
}
#endif

// transfer-coding = token *( OWS ";" OWS transfer-parameter ); the list may span fields.
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool RequestParser::transfer_encoding(std::string_view value) noexcept {
    has_transfer_encoding_ = true;
    return for_each_list_element(value, [&](std::string_view coding) {
        std::string_view name = trim_ows(coding.substr(0, coding.find(';')));
        if (!is_token(name)) return err(400, "Invalid Transfer-Encoding");
        if (iequals(name, "chunked")) {
            ++te_chunked_count_;
            te_chunked_last_ = true;
        } else {
            te_other_ = true;
            te_chunked_last_ = false;
        }
        return true;
    });
}
#endif

#if FASTAPI_DEFINITIONS
FASTAPI_DECL void RequestParser::connection(std::string_view value) noexcept {
    for_each_list_element(value, [&](std::string_view option) {
        if (iequals(option, "close")) conn_close_ = true;
        else if (iequals(option, "keep-alive")) conn_keep_alive_ = true;
        return true;
    });
}
#endif

// The header section is complete: decide how the body is framed (RFC 9112 §6.3).
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool RequestParser::end_of_headers(Request& out) {
    headers_done_ = true;
    if (version_ == 11 && host_count_ == 0) return err(400, "Missing Host header");
    if (host_count_ > 1) return err(400, "Multiple Host headers");
    if (host_count_ == 0 && authority_len_ == 0) record_host(out, {});
    out.keep_alive = version_ == 11 ? !conn_close_ : (conn_keep_alive_ && !conn_close_);
    // RFC 9112 §3.2.2: with an absolute-form target, its authority is the host, not the field;
    // HTTP/1.0 may send no Host at all, and then gets one (a field that counts as the client's).
    if (authority_len_ != 0) {
        const std::string_view authority = std::string_view(out.target).substr(authority_at_, authority_len_);
        record_host(out, authority);
        if (host_count_ == 1) {
            out.headers.set("Host", authority);
        } else {
            if (field_count_ >= limits_.max_header_count) return err(431, "Too many header fields");
            detail::append_header(out.headers, "Host", authority);
        }
    }
    body_start_ = line_start_;

    if (has_transfer_encoding_) {
        // Framing a proxy may read differently: refuse rather than guess (request smuggling).
        if (version_ == 10) return err(400, "Transfer-Encoding in an HTTP/1.0 request");
        if (has_content_length_) return err(400, "Both Content-Length and Transfer-Encoding");
        if (!te_chunked_last_) return err(400, "Transfer-Encoding does not end with chunked");
        if (te_chunked_count_ > 1) return err(400, "Chunked applied more than once");
        if (te_other_) return err(501, "Unsupported transfer coding");
        state_ = State::chunk_size;
        return true;
    }
    if (has_content_length_ && content_length_ > 0) {
        if (content_length_ > limits_.max_body_bytes) {
            // Too large for memory: an upload may still be streamed to disk by the caller.
            auto ct = out.headers.get("content-type");
            const bool multipart = ct && ct->size() >= 19 && iequals(ct->substr(0, 19), "multipart/form-data");
            if (!multipart || content_length_ > limits_.max_upload_bytes) return err(413, "Request body too large");
            state_ = State::body_spool;
            return true;
        }
        state_ = State::body_length;
        return true;
    }
    state_ = State::done;
    return true;
}
#endif

// chunk-size [ chunk-ext ], chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] )
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool RequestParser::chunk_size_line(std::string_view line, std::uint64_t& size) noexcept {
    const char* q = line.data();
    const char* const e = q + line.size();
    std::uint64_t n = 0;
    const char* digits = q;
    for (; q < e; ++q) {
        int d = hex_digit_value(static_cast<unsigned char>(*q));
        if (d < 0) break;
        if (n > (std::numeric_limits<std::uint64_t>::max() >> 4)) return err(400, "Chunk size too large");
        n = n * 16 + static_cast<unsigned>(d);
    }
    if (q == digits) return err(400, "Invalid chunk size");
    size = n;
    auto skip_bws = [&] { while (q < e && is_ows(*q)) ++q; };
    auto token = [&] {
        const char* s = q;
        while (q < e && is_token_char(static_cast<unsigned char>(*q))) ++q;
        return q != s;
    };
    while (q < e) {
        skip_bws();
        if (q == e || *q != ';') return err(400, "Invalid chunk extension");
        ++q;
        skip_bws();
        if (!token()) return err(400, "Invalid chunk extension");
        const char* before = q;
        skip_bws();
        if (q == e || *q != '=') {
            q = before;  // no value; any BWS must precede another ';'
            continue;
        }
        ++q;
        skip_bws();
        if (q < e && *q == '"') {
            for (++q;; ++q) {
                if (q == e) return err(400, "Invalid chunk extension");
                unsigned char c = static_cast<unsigned char>(*q);
                if (c == '"') break;
                if (c == '\\') {
                    if (++q == e) return err(400, "Invalid chunk extension");
                    c = static_cast<unsigned char>(*q);
                }
                if (!is_field_value_char(c)) return err(400, "Invalid chunk extension");
            }
            ++q;
        } else if (!token()) {
            return err(400, "Invalid chunk extension");
        }
    }
    return true;
}
#endif

}  // namespace detail
}  // namespace fastapi
