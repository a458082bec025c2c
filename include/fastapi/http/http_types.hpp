// http_types: the request and response as the rest of the library sees them, their
// headers and status texts. Relies on config and body_source (a streamed
// response body).
#pragma once
#include "../core/config.hpp"
#include "stream.hpp"
#include "body_source.hpp"

#include <algorithm>    // find_if
#include <atomic>       // atomic (Request::is_disconnected)
#include <chrono>       // system_clock (cookie expiry)
#include <cstdint>      // uint8_t, int64_t
#include <cstdio>       // snprintf
#include <cstdlib>      // getenv
#include <cstring>      // memcpy
#include <initializer_list>  // Headers{{"name", "value"}}
#include <map>          // path parameters
#include <memory>       // shared_ptr (spooled bodies)
#include <optional>     // Headers::get
#include <stdexcept>    // invalid_argument, runtime_error
#include <string>       // string
#include <string_view>  // string_view
#include <utility>      // pair, move
#include <vector>       // vector

#include <fcntl.h>      // open flags (temporary files)
#include <stdlib.h>     // mkstemp
#include <unistd.h>     // write, close, unlink

namespace fastapi {

namespace detail {
FASTAPI_DECL char ascii_lower(char c) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL char ascii_lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? char(c + 32) : c; }
#endif

FASTAPI_DECL bool iequals(std::string_view a, std::string_view b) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    return true;
}
#endif

// RFC 9110 token characters (method, header name).
FASTAPI_DECL bool is_token_char(unsigned char c) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool is_token_char(unsigned char c) noexcept {
    static constexpr auto table = [] {
        struct { bool v[256]{}; } t;
        for (int c = '0'; c <= '9'; ++c) t.v[c] = true;
        for (int c = 'a'; c <= 'z'; ++c) t.v[c] = true;
        for (int c = 'A'; c <= 'Z'; ++c) t.v[c] = true;
        for (char c : std::string_view("!#$%&'*+-.^_`|~")) t.v[static_cast<unsigned char>(c)] = true;
        return t;
    }();
    return table.v[c];
}
#endif

// A value we put on the wire must not be able to start a new header or message.
FASTAPI_DECL bool is_safe_header_value(std::string_view v) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool is_safe_header_value(std::string_view v) noexcept {
    for (char c : v)
        if (c == '\r' || c == '\n' || c == '\0') return false;
    return true;
}
#endif

// s = v for bytes that do not overlap s: within capacity a memcpy, without
// std::string::assign's general (aliasing-safe) path. The parser's hot path.
FASTAPI_DECL void assign_bytes(std::string& s, std::string_view v);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void assign_bytes(std::string& s, std::string_view v) {
    if (v.data() >= s.data() && v.data() <= s.data() + s.size()) {
        s.assign(v);
        return;
    }
    s.resize(v.size());
    if (!v.empty()) std::memcpy(s.data(), v.data(), v.size());
}
#endif

FASTAPI_DECL bool is_token(std::string_view s) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool is_token(std::string_view s) noexcept {
    if (s.empty()) return false;
    for (char c : s)
        if (!is_token_char(static_cast<unsigned char>(c))) return false;
    return true;
}
#endif
}  // namespace detail

// An ordered, case-insensitive multimap of header fields, as they came or as they will go.
class Headers;
namespace detail {
FASTAPI_DECL void append_header(Headers& h, std::string_view name, std::string_view value);
}

class Headers {
public:
    using Field = std::pair<std::string, std::string>;

    Headers() = default;
    // Headers{{"X-Error", "item-not-found"}, ...}: each added as add() does (checked).
    Headers(std::initializer_list<Field> fields) {
        for (auto& [name, value] : fields) add(name, value);
    }

    // First value of `name`, if any.
    std::optional<std::string_view> get(std::string_view name) const noexcept {
        for (auto& f : *this)
            if (detail::iequals(f.first, name)) return std::string_view(f.second);
        return std::nullopt;
    }
    std::string get_or(std::string_view name, std::string_view fallback) const {
        auto v = get(name);
        return std::string(v ? *v : fallback);
    }
    std::vector<std::string_view> get_all(std::string_view name) const;
    bool contains(std::string_view name) const noexcept { return get(name).has_value(); }
    std::size_t count(std::string_view name) const noexcept {
        return static_cast<std::size_t>(std::count_if(begin(), end(),
            [&](const Field& f) { return detail::iequals(f.first, name); }));
    }

    // Replaces every field called `name` by one. Refuses CR, LF and NUL (response splitting).
    void set(std::string_view name, std::string_view value) {
        check(name, value);
        erase(name);
        append_unchecked(name, value);
    }
    // Adds one more field (Set-Cookie, Vary, ...).
    void add(std::string_view name, std::string_view value) {
        check(name, value);
        append_unchecked(name, value);
    }
    void erase(std::string_view name) {
        auto first = fields_.begin(), last = fields_.begin() + static_cast<std::ptrdiff_t>(size_);
        auto kept = std::remove_if(first, last, [&](const Field& f) { return detail::iequals(f.first, name); });
        size_ = static_cast<std::size_t>(kept - first);
    }
    // Keeps the fields' strings, so the next request on a connection reuses their memory.
    void clear() noexcept { size_ = 0; }
    bool empty() const noexcept { return size_ == 0; }
    std::size_t size() const noexcept { return size_; }
    using const_iterator = std::vector<Field>::const_iterator;
    const_iterator begin() const noexcept { return fields_.begin(); }
    const_iterator end() const noexcept { return fields_.begin() + static_cast<std::ptrdiff_t>(size_); }


private:
    // Only for the parser and values known to be safe, through detail::append_header: no second
    // pass of the checks (a value with CR or LF from a user would split the response).
    friend void detail::append_header(Headers& h, std::string_view name, std::string_view value);
    void append_unchecked(std::string_view name, std::string_view value);

    static void check(std::string_view name, std::string_view value);
    std::vector<Field> fields_;  // [0, size_) are the fields; the rest are kept for reuse
    std::size_t size_ = 0;
};

#if FASTAPI_DEFINITIONS
FASTAPI_DECL auto Headers::get_all(std::string_view name) const -> std::vector<std::string_view> {
    std::vector<std::string_view> out;
    for (auto& f : *this)
        if (detail::iequals(f.first, name)) out.emplace_back(f.second);
    return out;
}

FASTAPI_DECL auto Headers::append_unchecked(std::string_view name, std::string_view value) -> void {
    if (size_ < fields_.size()) {
        detail::assign_bytes(fields_[size_].first, name);
        detail::assign_bytes(fields_[size_].second, value);
    } else {
        fields_.emplace_back(std::string(name), std::string(value));
    }
    ++size_;
}

FASTAPI_DECL auto Headers::check(std::string_view name, std::string_view value) -> void {
    if (!detail::is_token(name))
        throw std::invalid_argument("fastapi: header name is not an HTTP token: " + std::string(name));
    if (!detail::is_safe_header_value(value))
        throw std::invalid_argument("fastapi: header value for " + std::string(name) +
                                    " contains CR, LF or NUL");
}
#endif

namespace detail {
FASTAPI_DECL void append_header(Headers& h, std::string_view name, std::string_view value);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void append_header(Headers& h, std::string_view name, std::string_view value) {
    h.append_unchecked(name, value);
}
#endif
}  // namespace detail

namespace detail {
// A temporary file (a spooled request body, a large uploaded file), removed from disk when
// the last owner lets go of it: the request's end, an error, a client gone.
class TempFile {
public:
    // In `dir` (empty: $TMPDIR, else /tmp). Throws std::runtime_error when it cannot be made.
    static std::shared_ptr<TempFile> create(std::string_view dir = {}) {
        std::string path(dir);
        if (path.empty()) {
            const char* env = std::getenv("TMPDIR");
            path = env && *env ? env : "/tmp";
        }
        if (path.back() != '/') path += '/';
        path += "fastapi-XXXXXX";
        int fd = ::mkstemp(path.data());
        if (fd < 0) throw std::runtime_error("fastapi: cannot create a temporary file in " + std::string(dir));
        return std::shared_ptr<TempFile>(new TempFile(std::move(path), fd));
    }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    ~TempFile() {
        if (fd_ >= 0) ::close(fd_);
        ::unlink(path_.c_str());
    }
    const std::string& path() const noexcept { return path_; }
    std::uint64_t size() const noexcept { return size_; }
    // Appends; false when the disk refuses (full, quota).
    bool write(std::string_view bytes) noexcept {
        while (!bytes.empty()) {
            ssize_t n = ::write(fd_, bytes.data(), bytes.size());
            if (n <= 0) return false;
            bytes.remove_prefix(static_cast<std::size_t>(n));
            size_ += static_cast<std::uint64_t>(n);
        }
        return true;
    }

private:
    TempFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
    std::string path_;
    int fd_ = -1;
    std::uint64_t size_ = 0;
};
}  // namespace detail

// One HTTP request, as parsed from the wire (or built by TestClient).
struct Request {
    std::string method;        // "GET", ...; case-sensitive as RFC 9110 says
    std::string target;        // the request target exactly as sent
    std::string path;          // percent-decoded path, always starting with '/'
    std::string raw_path;      // path as sent (origin-form), not decoded
    std::string query_string;  // after '?', not decoded
    int version = 11;          // 10 or 11
    Headers headers;
    Headers trailers;          // from a chunked body
    std::string body;
    // A multipart/form-data body too large to hold in memory (over Limits::max_body_bytes,
    // up to max_upload_bytes) is written here instead of `body`; removed with the request.
    std::shared_ptr<const detail::TempFile> body_file;
    bool keep_alive = true;    // what the client asked for (version + Connection)
    std::map<std::string, std::string, std::less<>> path_params;  // filled by the router
    std::string client_address;   // the peer's IP address; "testclient"; empty on a Unix socket
    unsigned short client_port = 0;  // the peer's port (0 on a Unix socket and in TestClient)
    std::string scheme = "http";  // of the connection: "http" for the server's plain TCP
    // Where the client sent it: Host's name and port (the scheme's default port when Host has
    // none), else the server's local address and port. Empty and 0 on a Unix socket without Host.
    std::string host;
    unsigned short port = 0;
    // The prefix a proxy mounts the app under (ServerOptions::root_path, uvicorn's --root-path).
    std::string root_path;

    // The client went away while this request runs (it closed the connection): a blocking
    // handler may stop early. Safe from any thread. A coroutine handler is cancelled instead.
    bool is_disconnected() const noexcept {
        return disconnected_ && disconnected_->load(std::memory_order_acquire);
    }
    // Set by the connection (one flag per connection, shared with the requests it runs).
    std::shared_ptr<const std::atomic<bool>> disconnected_;

    std::optional<std::string_view> header(std::string_view name) const noexcept { return headers.get(name); }

    // Makes the object ready for the next request on the connection, keeping capacity.
    void clear() noexcept {
        method.clear(); target.clear(); path.clear(); raw_path.clear(); query_string.clear();
        version = 11; headers.clear(); trailers.clear(); body.clear(); body_file.reset(); keep_alive = true;
        path_params.clear();
    }
};

namespace detail {
// --- UTF-8 as Python decodes it with errors="replace" ---

// The well-formed UTF-8 sequence at p (Unicode §3.9, table 3-7), or else its maximal
// subpart: the longest prefix of one that the bytes begin. Returns the bytes it covers (at
// least 1) and whether they are a character (`valid`) or one U+FFFD's worth of error.
FASTAPI_DECL std::size_t utf8_scan(const unsigned char* p, std::size_t avail, bool& valid) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::size_t utf8_scan(const unsigned char* p, std::size_t avail, bool& valid) noexcept {
    const unsigned char c = p[0];
    valid = true;
    if (c < 0x80) return 1;
    std::size_t need = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // the range of the byte after the lead
    if (c >= 0xC2 && c <= 0xDF) need = 1;
    else if (c == 0xE0) need = 2, lo = 0xA0;
    else if (c == 0xED) need = 2, hi = 0x9F;  // no surrogates
    else if (c >= 0xE1 && c <= 0xEF) need = 2;
    else if (c == 0xF0) need = 3, lo = 0x90;
    else if (c == 0xF4) need = 3, hi = 0x8F;  // nothing above U+10FFFF
    else if (c >= 0xF1 && c <= 0xF3) need = 3;
    else return (valid = false), 1;  // 80-C1, F5-FF never begin a character
    for (std::size_t i = 1; i <= need; ++i) {
        if (i >= avail || p[i] < lo || p[i] > hi) return (valid = false), i;
        lo = 0x80, hi = 0xBF;
    }
    return need + 1;
}
#endif

inline constexpr std::string_view replacement_character = "\xEF\xBF\xBD";  // U+FFFD

// Appends s, each ill-formed sequence (maximal subpart) replaced by U+FFFD.
FASTAPI_DECL void append_utf8_replacing(std::string& out, std::string_view s);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void append_utf8_replacing(std::string& out, std::string_view s) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    std::size_t run = 0;
    for (std::size_t i = 0; i < s.size();) {
        if (p[i] < 0x80) {
            ++i;
            continue;
        }
        bool valid = false;
        std::size_t n = utf8_scan(p + i, s.size() - i, valid);
        if (!valid) {
            out.append(s.data() + run, i - run);
            out += replacement_character;
            run = i + n;
        }
        i += n;
    }
    out.append(s.data() + run, s.size() - run);
}
#endif

FASTAPI_DECL bool is_utf8(std::string_view s) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool is_utf8(std::string_view s) noexcept {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    for (std::size_t i = 0; i < s.size();) {
        if (p[i] < 0x80) {
            ++i;
            continue;
        }
        bool valid = false;
        i += utf8_scan(p + i, s.size() - i, valid);
        if (!valid) return false;
    }
    return true;
}
#endif

// What Python's bytes.decode("utf-8", errors="replace") makes of s, in place (untouched when
// s is UTF-8 already, the usual case).
FASTAPI_DECL void replace_invalid_utf8(std::string& s);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void replace_invalid_utf8(std::string& s) {
    if (is_utf8(s)) return;
    std::string out;
    out.reserve(s.size() + 8);
    append_utf8_replacing(out, s);
    s = std::move(out);
}
#endif

// Latin-1 bytes as UTF-8 text (Starlette's bytes.decode("latin-1")).
FASTAPI_DECL std::string latin1_to_utf8(std::string_view s);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string latin1_to_utf8(std::string_view s) {
    std::string out;
    out.reserve(s.size() * 2);
    for (unsigned char c : s) {
        if (c < 0x80) {
            out += static_cast<char>(c);
        } else {
            out += static_cast<char>(0xC0 | (c >> 6));
            out += static_cast<char>(0x80 | (c & 0x3F));
        }
    }
    return out;
}
#endif

// What an HTTP status line can carry (RFC 9110 §15: 100-599).
constexpr bool is_valid_status(int status) noexcept { return status >= 100 && status <= 599; }
// A status given where a route is declared: refused at once with a sentence.
FASTAPI_DECL void require_valid_status(int status, const char* where);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void require_valid_status(int status, const char* where) {
    if (!is_valid_status(status))
        throw std::invalid_argument(std::string("fastapi: ") + where + " " + std::to_string(status) +
                                    " is not an HTTP status code; use one from 100 to 599");
}
#endif
}  // namespace detail

// Reason phrases for the status line.
FASTAPI_DECL std::string_view status_reason(int status) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string_view status_reason(int status) noexcept {
    switch (status) {
        case 100: return "Continue";
        case 101: return "Switching Protocols";
        case 200: return "OK";
        case 201: return "Created";
        case 202: return "Accepted";
        case 203: return "Non-Authoritative Information";
        case 204: return "No Content";
        case 205: return "Reset Content";
        case 206: return "Partial Content";
        case 300: return "Multiple Choices";
        case 301: return "Moved Permanently";
        case 302: return "Found";
        case 303: return "See Other";
        case 304: return "Not Modified";
        case 307: return "Temporary Redirect";
        case 308: return "Permanent Redirect";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 402: return "Payment Required";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 406: return "Not Acceptable";
        case 408: return "Request Timeout";
        case 409: return "Conflict";
        case 410: return "Gone";
        case 411: return "Length Required";
        case 412: return "Precondition Failed";
        case 413: return "Content Too Large";
        case 414: return "URI Too Long";
        case 415: return "Unsupported Media Type";
        case 416: return "Range Not Satisfiable";
        case 417: return "Expectation Failed";
        case 418: return "I'm a teapot";
        case 421: return "Misdirected Request";
        case 422: return "Unprocessable Content";
        case 425: return "Too Early";
        case 426: return "Upgrade Required";
        case 428: return "Precondition Required";
        case 429: return "Too Many Requests";
        case 431: return "Request Header Fields Too Large";
        case 451: return "Unavailable For Legal Reasons";
        case 500: return "Internal Server Error";
        case 501: return "Not Implemented";
        case 502: return "Bad Gateway";
        case 503: return "Service Unavailable";
        case 504: return "Gateway Timeout";
        case 505: return "HTTP Version Not Supported";
        default: return "";
    }
}
#endif

// How a cookie is set (Starlette's set_cookie arguments). Every member is optional.
struct CookieOptions {
    std::optional<std::int64_t> max_age{};                            // seconds; Max-Age
    std::optional<std::chrono::system_clock::time_point> expires{};   // Expires, as an HTTP date
    std::string path = "/";                                           // empty: no Path
    std::string domain{};                                             // empty: no Domain
    bool secure = false;
    bool httponly = false;
    std::string samesite = "lax";                                     // "lax", "strict", "none"; empty: none sent
    bool partitioned = false;                                         // CHIPS (Starlette's partitioned)
};

namespace detail {
// RFC 6265 §4.1.1 cookie-octet: visible ASCII except DQUOTE, comma, semicolon and backslash.
FASTAPI_DECL bool is_cookie_octet(unsigned char c) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool is_cookie_octet(unsigned char c) noexcept {
    return c == 0x21 || (c >= 0x23 && c <= 0x2B) || (c >= 0x2D && c <= 0x3A) || (c >= 0x3C && c <= 0x5B) ||
           (c >= 0x5D && c <= 0x7E);
}
#endif
// cookie-value = *cookie-octet / ( DQUOTE *cookie-octet DQUOTE )
FASTAPI_DECL bool is_cookie_value(std::string_view v) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool is_cookie_value(std::string_view v) noexcept {
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    for (char c : v)
        if (!is_cookie_octet(static_cast<unsigned char>(c))) return false;
    return true;
}
#endif
// An attribute value (Path, Domain) must not end the attribute or the header.
FASTAPI_DECL bool is_cookie_attribute_value(std::string_view v) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool is_cookie_attribute_value(std::string_view v) noexcept {
    for (char c : v)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F || c == ';') return false;
    return true;
}
#endif

// "Thu, 01 Jan 1970 00:00:00 GMT" (RFC 9110 §5.6.7 IMF-fixdate).
FASTAPI_DECL std::string http_date_of(std::chrono::system_clock::time_point t);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string http_date_of(std::chrono::system_clock::time_point t) {
    static constexpr const char* day_names[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char* month_names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    using namespace std::chrono;
    const auto secs = floor<seconds>(t);
    const auto day = floor<days>(secs);
    const year_month_day ymd{day};
    const hh_mm_ss hms{secs - day};
    const unsigned weekday_index = weekday{day}.c_encoding();
    char buf[40];
    std::snprintf(buf, sizeof buf, "%s, %02u %s %04d %02d:%02d:%02d GMT", day_names[weekday_index],
                  static_cast<unsigned>(ymd.day()), month_names[static_cast<unsigned>(ymd.month()) - 1],
                  static_cast<int>(ymd.year()), static_cast<int>(hms.hours().count()),
                  static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()));
    return buf;
}
#endif

// The Set-Cookie field value, attributes in Starlette's order (Python's SimpleCookie sorts
// them): Domain, expires, HttpOnly, Max-Age, Partitioned, Path, SameSite, Secure. Throws
// std::invalid_argument for a name, value or attribute that would break the header.
FASTAPI_DECL std::string set_cookie_value(std::string_view name, std::string_view value, const CookieOptions& o);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string set_cookie_value(std::string_view name, std::string_view value, const CookieOptions& o) {
    if (!is_token(name)) throw std::invalid_argument("fastapi: cookie name is not an RFC 6265 token: " + std::string(name));
    if (!is_cookie_value(value))
        throw std::invalid_argument("fastapi: cookie value for " + std::string(name) +
                                    " has a character a cookie cannot carry (space, quote, comma, semicolon, "
                                    "backslash or a control character)");
    if (!is_cookie_attribute_value(o.path) || !is_cookie_attribute_value(o.domain))
        throw std::invalid_argument("fastapi: cookie path or domain contains ';' or a control character");
    std::string_view samesite = o.samesite;
    const char* samesite_text = nullptr;
    if (iequals(samesite, "lax")) samesite_text = "lax";
    else if (iequals(samesite, "strict")) samesite_text = "strict";
    else if (iequals(samesite, "none")) samesite_text = "none";
    else if (!samesite.empty())
        throw std::invalid_argument("fastapi: samesite must be \"lax\", \"strict\" or \"none\"");
    std::string out;
    out.reserve(name.size() + value.size() + 64);
    out.append(name).append("=");
    if (value.empty()) out += "\"\"";  // as Starlette writes an empty value
    else out.append(value);
    if (!o.domain.empty()) out.append("; Domain=").append(o.domain);
    if (o.expires) out.append("; expires=").append(http_date_of(*o.expires));
    if (o.httponly) out += "; HttpOnly";
    if (o.max_age) out.append("; Max-Age=").append(std::to_string(*o.max_age));
    if (o.partitioned) out += "; Partitioned";
    if (!o.path.empty()) out.append("; Path=").append(o.path);
    if (samesite_text) out.append("; SameSite=").append(samesite_text);
    if (o.secure) out += "; Secure";
    return out;
}
#endif
}  // namespace detail

// A response: status, headers, and a body: held in memory, a file, or a producer. The
// framing (Content-Length or Transfer-Encoding), Date and Connection are added when it is
// written; handlers set everything else.
struct Response {
    int status = 200;
    Headers headers;
    std::string body;
    // A file to stream instead of `body` (FileResponse); empty for in-memory bodies. The server
    // opens and measures it on its blocking pool (404 when it cannot), then sends it as a
    // producer of 64 KiB chunks read there, as it sends `stream`.
    std::string file_path;
    // Set with a 101 Switching Protocols: once the response is written, the connection stops
    // speaking HTTP and hands its stream, with the bytes read past the request, to this
    // (called on the connection's executor). The response's Connection and Upgrade headers are
    // sent as the handler set them.
    std::function<void(Upgraded)> on_upgrade;
    // A producer awaited chunk by chunk instead of `body` (StreamingResponse); null otherwise.
    std::shared_ptr<detail::BodyProducer> stream;

    Response() = default;
    explicit Response(std::string body_, int status_ = 200, std::string_view media_type = "application/octet-stream")
        : status(status_), body(std::move(body_)) {
        if (media_type.empty()) return;
        if (!detail::is_safe_header_value(media_type))
            throw std::invalid_argument("fastapi: media type contains CR, LF or NUL");
        detail::append_header(headers, "content-type", media_type);
    }

    void set_header(std::string_view name, std::string_view value) { headers.set(name, value); }

    // Adds a Set-Cookie field (Starlette's response.set_cookie). A name that is not a token,
    // or a value with a character a cookie cannot carry, throws std::invalid_argument.
    void set_cookie(std::string_view name, std::string_view value = {}, const CookieOptions& options = {}) {
        detail::append_header(headers, "set-cookie", detail::set_cookie_value(name, value, options));
    }
    // Tells the client to drop a cookie: an empty value that expired long ago (Max-Age=0).
    // Path and domain must be the ones it was set with.
    void delete_cookie(std::string_view name, std::string_view path = "/", std::string_view domain = {},
                       const CookieOptions& options = {}) {
        CookieOptions o = options;
        o.max_age = 0;
        o.expires = std::chrono::system_clock::time_point{};  // the epoch
        o.path = std::string(path);
        o.domain = std::string(domain);
        set_cookie(name, {}, o);
    }
};

}  // namespace fastapi
