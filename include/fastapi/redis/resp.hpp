// resp: Redis's wire protocol. RedisValue is one reply as a value (RESP3's types, RESP2's
// being a subset of them); detail::parse_resp reads one reply from the front of a buffer,
// bounded by RespLimits (bulk length, nesting depth, element counts, line length) so a hostile
// or broken server costs a clear error, never unbounded memory or a stack overflow;
// detail::append_command writes a command as RESP (an array of bulk strings). Relies on
// core/config.hpp only.
#pragma once
#include "../core/config.hpp"

#include <algorithm>  // min
#include <charconv>   // to_chars
#include <cmath>      // HUGE_VAL, NAN
#include <cstddef>    // size_t
#include <cstdlib>    // strtod
#include <initializer_list>  // initializer_list
#include <cstdint>    // int64_t
#include <stdexcept>  // runtime_error
#include <string>     // string, to_string
#include <string_view>  // string_view
#include <vector>     // vector

namespace fastapi {

// Bounds on what one reply may hold; the defaults are FASTAPI_REDIS_* (core/config.hpp).
struct RespLimits {
    std::size_t max_bulk_bytes = FASTAPI_REDIS_MAX_BULK_BYTES;    // one bulk string
    std::size_t max_depth = FASTAPI_REDIS_MAX_DEPTH;              // nested aggregates
    std::size_t max_elements = FASTAPI_REDIS_MAX_ELEMENTS;        // all elements of one reply together
    std::size_t max_line_bytes = FASTAPI_REDIS_MAX_LINE_BYTES;    // a simple string, error or number line
};

// One Redis reply. Maps (and attributes) hold their keys and values alternately in elements.
struct RedisValue {
    enum class Type { null, simple, error, integer, double_, boolean, bulk, verbatim, big_number, array, map, set, push };
    Type type = Type::null;
    std::string str;              // simple, error, bulk, verbatim (without its "txt:"), big_number, double_'s text
    std::int64_t integer = 0;     // integer; boolean as 0 or 1
    double number = 0;            // double_
    std::vector<RedisValue> elements;  // array, set, push; map as key, value, key, value

    bool is_null() const noexcept { return type == Type::null; }
    bool is_error() const noexcept { return type == Type::error; }
    bool is_string() const noexcept {
        return type == Type::simple || type == Type::bulk || type == Type::verbatim;
    }
    bool is_aggregate() const noexcept {
        return type == Type::array || type == Type::map || type == Type::set || type == Type::push;
    }
};

// An error reply (-ERR ..., -WRONGTYPE ..., -NOSCRIPT ...): what() is Redis's message whole,
// code() its first word.
class RedisError : public std::runtime_error {
public:
    explicit RedisError(const std::string& message) : std::runtime_error(message) {}
    std::string code() const {
        std::string_view m = what();
        return std::string(m.substr(0, m.find(' ')));
    }
};

// The connection could not be made, was lost, or the server broke the protocol: the command
// may or may not have run.
class RedisConnectionError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

namespace detail {

enum class RespStatus { done, need_more, error };

struct RespResult {
    RespStatus status = RespStatus::need_more;
    std::size_t consumed = 0;  // bytes of the reply, when done
    std::string error;         // what is wrong, when error
};

#if FASTAPI_INTERNALS
class RespParser {
public:
    RespParser(std::string_view data, const RespLimits& limits) : d_(data), lim_(limits) {}

    RespResult parse(RedisValue& out) {
        RespResult r;
        pos_ = 0;
        elements_ = 0;
        r.status = value(out, 0);
        if (r.status == RespStatus::done) r.consumed = pos_;
        else if (r.status == RespStatus::error) r.error = std::move(err_);
        return r;
    }

private:
    RespStatus fail(std::string what) {
        err_ = "redis protocol error: " + std::move(what);
        return RespStatus::error;
    }
    // The line from pos_ to its CRLF (without it), pos_ moved past.
    RespStatus line(std::string_view& out) {
        std::size_t limit = std::min(d_.size(), pos_ + lim_.max_line_bytes + 2);
        for (std::size_t i = pos_; i < limit; ++i) {
            if (d_[i] == '\r') {
                if (i + 1 >= d_.size()) return RespStatus::need_more;
                if (d_[i + 1] != '\n') return fail("CR without LF");
                out = d_.substr(pos_, i - pos_);
                pos_ = i + 2;
                return RespStatus::done;
            }
            if (d_[i] == '\n') return fail("LF without CR");
        }
        if (limit < d_.size() || d_.size() - pos_ > lim_.max_line_bytes + 1)
            return fail("a line longer than " + std::to_string(lim_.max_line_bytes) + " bytes");
        return RespStatus::need_more;
    }
    static bool to_int(std::string_view s, std::int64_t& v) {
        if (s.empty() || s.size() > 20) return false;
        bool neg = s[0] == '-';
        std::size_t i = (neg || s[0] == '+') ? 1 : 0;
        if (i == s.size()) return false;
        std::uint64_t acc = 0;
        for (; i < s.size(); ++i) {
            if (s[i] < '0' || s[i] > '9') return false;
            std::uint64_t digit = static_cast<std::uint64_t>(s[i] - '0');
            if (acc > (9223372036854775808ull - digit) / 10) return false;
            acc = acc * 10 + digit;
        }
        if (!neg && acc > 9223372036854775807ull) return false;
        v = neg ? static_cast<std::int64_t>(0 - acc) : static_cast<std::int64_t>(acc);
        return true;
    }
    RespStatus value(RedisValue& out, std::size_t depth) {
        if (pos_ >= d_.size()) return RespStatus::need_more;
        char kind = d_[pos_++];
        std::string_view text;
        if (auto s = line(text); s != RespStatus::done) return s;
        // Attributes (metadata about the reply after them) are read and dropped, in a loop:
        // a run of them costs no stack.
        while (kind == '|') {
            RedisValue attribute;
            if (auto s = aggregate(attribute, kind, text, depth); s != RespStatus::done) return s;
            if (pos_ >= d_.size()) return RespStatus::need_more;
            kind = d_[pos_++];
            if (auto s = line(text); s != RespStatus::done) return s;
        }
        out = RedisValue{};
        switch (kind) {
            case '+': out.type = RedisValue::Type::simple; out.str.assign(text); return RespStatus::done;
            case '-': out.type = RedisValue::Type::error; out.str.assign(text); return RespStatus::done;
            case ':':
                out.type = RedisValue::Type::integer;
                if (!to_int(text, out.integer)) return fail("a malformed integer");
                return RespStatus::done;
            case '_':
                if (!text.empty()) return fail("a null with data");
                return RespStatus::done;
            case '#':
                if (text != "t" && text != "f") return fail("a malformed boolean");
                out.type = RedisValue::Type::boolean;
                out.integer = text == "t";
                return RespStatus::done;
            case ',': {
                out.type = RedisValue::Type::double_;
                out.str.assign(text);
                if (text == "inf") out.number = HUGE_VAL;
                else if (text == "-inf") out.number = -HUGE_VAL;
                else if (text == "nan") out.number = NAN;
                else {
                    if (text.empty() || text.find_first_not_of("0123456789+-.eE") != std::string_view::npos)
                        return fail("a malformed double");
                    char* end = nullptr;
                    out.number = std::strtod(out.str.c_str(), &end);
                    if (end != out.str.c_str() + out.str.size()) return fail("a malformed double");
                }
                return RespStatus::done;
            }
            case '(':
                if (text.empty() || text.find_first_not_of("-0123456789") != std::string_view::npos)
                    return fail("a malformed big number");
                out.type = RedisValue::Type::big_number;
                out.str.assign(text);
                return RespStatus::done;
            case '$': case '!': case '=': return bulk(out, kind, text);
            case '*': case '~': case '>': case '%': case '|': return aggregate(out, kind, text, depth);
            default: return fail("an unknown type byte");
        }
    }
    RespStatus bulk(RedisValue& out, char kind, std::string_view text) {
        std::int64_t n = 0;
        if (!to_int(text, n) || n < -1) return fail("a malformed bulk length");
        if (n == -1) {
            if (kind != '$') return fail("a null of a type that has none");
            return RespStatus::done;  // RESP2's null bulk string
        }
        if (static_cast<std::uint64_t>(n) > lim_.max_bulk_bytes)
            return fail("a bulk string of " + std::to_string(n) + " bytes (the limit is " +
                        std::to_string(lim_.max_bulk_bytes) + ")");
        std::size_t len = static_cast<std::size_t>(n);
        if (d_.size() - pos_ < len + 2) return RespStatus::need_more;
        if (d_[pos_ + len] != '\r' || d_[pos_ + len + 1] != '\n') return fail("a bulk string without its CRLF");
        std::string_view body = d_.substr(pos_, len);
        pos_ += len + 2;
        if (kind == '=') {
            if (len < 4 || body[3] != ':') return fail("a verbatim string without its format");
            out.type = RedisValue::Type::verbatim;
            out.str.assign(body.substr(4));
        } else {
            out.type = kind == '$' ? RedisValue::Type::bulk : RedisValue::Type::error;
            out.str.assign(body);
        }
        return RespStatus::done;
    }
    RespStatus aggregate(RedisValue& out, char kind, std::string_view text, std::size_t depth) {
        std::int64_t n = 0;
        if (!to_int(text, n) || n < -1) return fail("a malformed aggregate length");
        if (n == -1) {
            if (kind != '*') return fail("a null of a type that has none");
            return RespStatus::done;  // RESP2's null array
        }
        if (depth + 1 > lim_.max_depth)
            return fail("replies nested deeper than " + std::to_string(lim_.max_depth));
        std::uint64_t count = static_cast<std::uint64_t>(n);
        if (kind == '%' || kind == '|') count *= 2;
        if (count > lim_.max_elements || elements_ + count > lim_.max_elements)
            return fail("a reply of more than " + std::to_string(lim_.max_elements) + " elements");
        elements_ += count;
        // Each element takes at least 3 bytes: reserve no more than what has arrived can hold.
        std::vector<RedisValue> items;
        items.reserve(std::min<std::size_t>(count, (d_.size() - pos_) / 3));
        for (std::uint64_t i = 0; i < count; ++i) {
            items.emplace_back();
            if (auto s = value(items.back(), depth + 1); s != RespStatus::done) return s;
        }
        out.elements = std::move(items);
        out.type = kind == '*'   ? RedisValue::Type::array
                   : kind == '~' ? RedisValue::Type::set
                   : kind == '>' ? RedisValue::Type::push
                                 : RedisValue::Type::map;
        return RespStatus::done;
    }

    std::string_view d_;
    const RespLimits& lim_;
    std::size_t pos_ = 0;
    std::uint64_t elements_ = 0;
    std::string err_;
};
#endif  // FASTAPI_INTERNALS

// Reads one reply from the front of data: done (out set, consumed its size), need_more (an
// incomplete reply: wait for more bytes), or error (the connection cannot go on).
FASTAPI_DECL RespResult parse_resp(std::string_view data, RedisValue& out, const RespLimits& limits = {});
#if FASTAPI_DEFINITIONS
FASTAPI_DECL RespResult parse_resp(std::string_view data, RedisValue& out, const RespLimits& limits) {
    return RespParser(data, limits).parse(out);
}
#endif

// A command as RESP: an array of bulk strings.
FASTAPI_DECL void append_command_header(std::string& out, std::size_t args);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void append_command_header(std::string& out, std::size_t args) {
    char buf[24];
    buf[0] = '*';
    char* end = std::to_chars(buf + 1, buf + 22, args).ptr;
    *end++ = '\r';
    *end++ = '\n';
    out.append(buf, static_cast<std::size_t>(end - buf));
}
#endif
FASTAPI_DECL void append_command_arg(std::string& out, std::string_view arg);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void append_command_arg(std::string& out, std::string_view arg) {
    char buf[24];  // (no temporary string, no strlen: this runs for every argument of every command)
    buf[0] = '$';
    char* end = std::to_chars(buf + 1, buf + 22, arg.size()).ptr;
    *end++ = '\r';
    *end++ = '\n';
    out.append(buf, static_cast<std::size_t>(end - buf));
    out.append(arg);
    out.append("\r\n", 2);
}
#endif
template <class... S>
std::string make_command(const S&... args) {
    std::string out;
    // Its size known first: one allocation (a SET of 64 bytes grew four times).
    out.reserve((std::size_t{8} + ... + (std::string_view(args).size() + 16)));
    append_command_header(out, sizeof...(S));
    (append_command_arg(out, std::string_view(args)), ...);
    return out;
}

}  // namespace detail
}  // namespace fastapi
