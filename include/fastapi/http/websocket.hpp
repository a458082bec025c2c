// websocket: RFC 6455 on bytes, with no event loop: the opening handshake's checks and its
// accept key (SHA-1 and base64, written here: no new dependency), an incremental parser of
// client frames, and the writer of server frames. The session (routing/websocket.hpp) drives
// these over a Stream. Relies on http_types (Request, Headers) and http_parser (trim_ows).
//
// Everything here is non-template and inline: compiled once in the user's program, whatever
// number of WebSocket routes it has.
//
// The parser is strict, as the issue and RFC 6455 ask: a client frame must be masked; reserved
// bits, reserved opcodes, a control frame over 125 bytes or fragmented, a continuation with no
// message started, a new message while one is fragmented, a length not encoded in the fewest
// bytes or with its top bit set, a close frame of one byte or with a code not allowed on the
// wire: 1002. Text that is not UTF-8 (checked as the bytes arrive, across fragments): 1007.
// A message longer than the limit (checked on each frame's header, before its payload): 1009.
#pragma once
#include "http_types.hpp"
#include "http_parser.hpp"

#include <algorithm>    // min
#include <array>        // array (SHA-1 digest)
#include <cstddef>      // size_t
#include <cstdint>      // uint8_t, uint16_t, uint32_t, uint64_t
#include <cstring>      // memcpy
#include <string>       // string
#include <string_view>  // string_view
#include <vector>       // vector (offered subprotocols)

namespace fastapi {

namespace detail {

// ---- SHA-1 (FIPS 180-4) and base64 (RFC 4648), for Sec-WebSocket-Accept only ----------------

FASTAPI_DECL std::array<std::uint8_t, 20> sha1(std::string_view data) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::array<std::uint8_t, 20> sha1(std::string_view data) noexcept {
    std::uint32_t h[5] = {0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u, 0xC3D2E1F0u};
    auto rol = [](std::uint32_t x, int n) { return (x << n) | (x >> (32 - n)); };
    auto block = [&](const unsigned char* p) {
        std::uint32_t w[80];
        for (int i = 0; i < 16; ++i)
            w[i] = (std::uint32_t(p[4 * i]) << 24) | (std::uint32_t(p[4 * i + 1]) << 16) |
                   (std::uint32_t(p[4 * i + 2]) << 8) | std::uint32_t(p[4 * i + 3]);
        for (int i = 16; i < 80; ++i) w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
        std::uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
        for (int i = 0; i < 80; ++i) {
            std::uint32_t f, k;
            if (i < 20) f = (b & c) | (~b & d), k = 0x5A827999u;
            else if (i < 40) f = b ^ c ^ d, k = 0x6ED9EBA1u;
            else if (i < 60) f = (b & c) | (b & d) | (c & d), k = 0x8F1BBCDCu;
            else f = b ^ c ^ d, k = 0xCA62C1D6u;
            std::uint32_t t = rol(a, 5) + f + e + k + w[i];
            e = d, d = c, c = rol(b, 30), b = a, a = t;
        }
        h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
    };
    const auto* p = reinterpret_cast<const unsigned char*>(data.data());
    std::size_t n = data.size();
    for (; n >= 64; p += 64, n -= 64) block(p);
    unsigned char tail[128] = {};
    std::memcpy(tail, p, n);
    tail[n] = 0x80;
    const std::size_t tail_len = n + 9 > 64 ? 128 : 64;
    const std::uint64_t bits = std::uint64_t(data.size()) * 8;
    for (int i = 0; i < 8; ++i) tail[tail_len - 1 - i] = static_cast<unsigned char>(bits >> (8 * i));
    block(tail);
    if (tail_len == 128) block(tail + 64);
    std::array<std::uint8_t, 20> out{};
    for (int i = 0; i < 20; ++i) out[i] = static_cast<std::uint8_t>(h[i / 4] >> (24 - 8 * (i % 4)));
    return out;
}
#endif

FASTAPI_DECL std::string base64_encode(const std::uint8_t* data, std::size_t n);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string base64_encode(const std::uint8_t* data, std::size_t n) {
    static constexpr char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((n + 2) / 3 * 4);
    for (std::size_t i = 0; i < n; i += 3) {
        std::uint32_t v = std::uint32_t(data[i]) << 16;
        if (i + 1 < n) v |= std::uint32_t(data[i + 1]) << 8;
        if (i + 2 < n) v |= data[i + 2];
        out += digits[(v >> 18) & 63];
        out += digits[(v >> 12) & 63];
        out += i + 1 < n ? digits[(v >> 6) & 63] : '=';
        out += i + 2 < n ? digits[v & 63] : '=';
    }
    return out;
}
#endif

// A Sec-WebSocket-Key is 16 bytes in base64: 22 digits of the alphabet, then "==".
FASTAPI_DECL bool is_websocket_key(std::string_view key) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool is_websocket_key(std::string_view key) noexcept {
    if (key.size() != 24 || key[22] != '=' || key[23] != '=') return false;
    for (std::size_t i = 0; i < 22; ++i) {
        const char c = key[i];
        const bool digit = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
        if (!digit) return false;
    }
    return true;
}
#endif

// Sec-WebSocket-Accept for a key (RFC 6455 §4.2.2): base64(SHA-1(key + the protocol's GUID)).
FASTAPI_DECL std::string websocket_accept_key(std::string_view key);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string websocket_accept_key(std::string_view key) {
    std::string s(key);
    s += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    const auto digest = sha1(s);
    return base64_encode(digest.data(), digest.size());
}
#endif

// ---- The opening handshake ---------------------------------------------------------------

// Whether a comma-separated header (every field of that name) holds `token`, in any case.
FASTAPI_DECL bool header_has_token(const Headers& headers, std::string_view name, std::string_view token);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool header_has_token(const Headers& headers, std::string_view name, std::string_view token) {
    for (auto value : headers.get_all(name)) {
        while (!value.empty()) {
            const std::size_t comma = value.find(',');
            if (iequals(trim_ows(value.substr(0, comma)), token)) return true;
            if (comma == std::string_view::npos) break;
            value.remove_prefix(comma + 1);
        }
    }
    return false;
}
#endif

// Whether a request asks for a WebSocket at all (Upgrade: websocket): a request that does not
// is an ordinary HTTP request for the router, not a failed handshake.
FASTAPI_DECL bool is_websocket_request(const Request& req);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool is_websocket_request(const Request& req) {
    return header_has_token(req.headers, "upgrade", "websocket");
}
#endif

// RFC 6455 §4.2.1's checks on a handshake request: 0 when it may be accepted; 426 (answered
// with Sec-WebSocket-Version: 13) for a version other than 13; 400 for anything else wrong.
FASTAPI_DECL int check_websocket_handshake(const Request& req);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL int check_websocket_handshake(const Request& req) {
    if (req.method != "GET" || req.version < 11) return 400;
    if (!header_has_token(req.headers, "upgrade", "websocket")) return 400;
    if (!header_has_token(req.headers, "connection", "upgrade")) return 400;
    if (req.headers.count("sec-websocket-key") != 1) return 400;
    if (!is_websocket_key(trim_ows(*req.headers.get("sec-websocket-key")))) return 400;
    const auto version = req.headers.get("sec-websocket-version");
    if (req.headers.count("sec-websocket-version") != 1 || trim_ows(*version) != "13") return 426;
    return 0;
}
#endif

// The answer to a refused handshake: 400, or 426 with the version this server speaks.
FASTAPI_DECL Response websocket_handshake_refusal(int status);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL Response websocket_handshake_refusal(int status) {
    Response res(status == 426 ? "Upgrade Required" : "Bad Request", status, "text/plain; charset=utf-8");
    if (status == 426) append_header(res.headers, "sec-websocket-version", "13");
    return res;
}
#endif

// The subprotocols a client offers (Sec-WebSocket-Protocol, every field, in order).
FASTAPI_DECL std::vector<std::string> websocket_offered_subprotocols(const Request& req);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::vector<std::string> websocket_offered_subprotocols(const Request& req) {
    std::vector<std::string> out;
    for (auto value : req.headers.get_all("sec-websocket-protocol")) {
        while (!value.empty()) {
            const std::size_t comma = value.find(',');
            const auto token = trim_ows(value.substr(0, comma));
            if (!token.empty()) out.emplace_back(token);
            if (comma == std::string_view::npos) break;
            value.remove_prefix(comma + 1);
        }
    }
    return out;
}
#endif

// The 101 for an accepted handshake (the session sets on_upgrade).
FASTAPI_DECL Response websocket_accept_response(const Request& req, std::string_view subprotocol);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL Response websocket_accept_response(const Request& req, std::string_view subprotocol) {
    Response res;
    res.status = 101;
    append_header(res.headers, "upgrade", "websocket");
    append_header(res.headers, "connection", "Upgrade");
    append_header(res.headers, "sec-websocket-accept", websocket_accept_key(trim_ows(*req.headers.get("sec-websocket-key"))));
    if (!subprotocol.empty()) res.headers.set("sec-websocket-protocol", subprotocol);
    return res;
}
#endif

// ---- Frames ------------------------------------------------------------------------------

enum class WsOpcode : std::uint8_t { continuation = 0, text = 1, binary = 2, close = 8, ping = 9, pong = 10 };

// Close codes a peer may send (RFC 6455 §7.4, the IANA registry): 1000-1003, 1007-1014 and
// the 3000-4999 ranges; 1004-1006, 1015 and everything else are refused with 1002.
constexpr bool is_valid_close_code(std::uint32_t code) noexcept {
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

// Incremental UTF-8 check (RFC 3629: no overlong forms, surrogates or values above U+10FFFF),
// fed any split of the bytes; fails on the first byte that cannot begin or continue a
// well-formed sequence, so a bad message is refused before its end arrives.
class Utf8Checker {
public:
    // False once the bytes so far cannot be the start of valid UTF-8.
    bool feed(const unsigned char* p, std::size_t n) noexcept {
        std::size_t i = 0;
        while (i < n) {
            if (need_ == 0) {
                // Fast path over ASCII, eight bytes at a time.
                while (i + 8 <= n) {
                    std::uint64_t w;
                    std::memcpy(&w, p + i, 8);
                    if (w & 0x8080808080808080ull) break;
                    i += 8;
                }
                if (i == n) break;
                const unsigned char b = p[i++];
                if (b < 0x80) continue;
                if (b >= 0xC2 && b <= 0xDF) need_ = 1, lo_ = 0x80, hi_ = 0xBF;
                else if (b == 0xE0) need_ = 2, lo_ = 0xA0, hi_ = 0xBF;
                else if (b == 0xED) need_ = 2, lo_ = 0x80, hi_ = 0x9F;
                else if (b >= 0xE1 && b <= 0xEF) need_ = 2, lo_ = 0x80, hi_ = 0xBF;
                else if (b == 0xF0) need_ = 3, lo_ = 0x90, hi_ = 0xBF;
                else if (b >= 0xF1 && b <= 0xF3) need_ = 3, lo_ = 0x80, hi_ = 0xBF;
                else if (b == 0xF4) need_ = 3, lo_ = 0x80, hi_ = 0x8F;
                else return false;
            } else {
                const unsigned char b = p[i++];
                if (b < lo_ || b > hi_) return false;
                --need_;
                lo_ = 0x80, hi_ = 0xBF;
            }
        }
        return true;
    }
    // True when the bytes so far end on a sequence's end (a whole message may stop here).
    bool complete() const noexcept { return need_ == 0; }
    void reset() noexcept { need_ = 0; }

private:
    int need_ = 0;
    unsigned char lo_ = 0x80, hi_ = 0xBF;
};

FASTAPI_DECL bool is_valid_utf8_text(std::string_view s) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool is_valid_utf8_text(std::string_view s) noexcept {
    Utf8Checker c;
    return c.feed(reinterpret_cast<const unsigned char*>(s.data()), s.size()) && c.complete();
}
#endif

// The longest prefix of `reason` that is whole UTF-8 sequences and at most 123 bytes: what a
// close frame may carry after its code (RFC 6455 §5.5: control payloads ≤ 125 bytes).
FASTAPI_DECL std::string_view close_reason_prefix(std::string_view reason) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string_view close_reason_prefix(std::string_view reason) noexcept {
    if (reason.size() <= 123) return reason;
    std::size_t n = 123;
    while (n > 0 && (static_cast<unsigned char>(reason[n]) & 0xC0) == 0x80) --n;  // not mid-sequence
    return reason.substr(0, n);
}
#endif

// One parsed event: a whole message (text or binary, its fragments joined), a control frame,
// the peer's close, or the protocol error the connection must be closed with.
struct WsEvent {
    enum class Kind { need_more, text, binary, ping, pong, close, error };
    Kind kind = Kind::need_more;
    // close: the peer's code (1005 when its frame had none); error: the code to close with.
    std::uint16_t code = 0;
    // text, binary, ping, pong: the payload (valid until the next parse); close: the reason;
    // error: what was wrong, for the close frame's reason.
    std::string_view data;
    // text, binary: the message was compressed (permessage-deflate): `data` is to be inflated,
    // and a text message's UTF-8 checked once it is.
    bool compressed = false;
};

// A frame's header (RFC 6455 §5.2) from its second byte: its size, 2 plus the extended length
// (2 or 8) plus the mask (4, when masked); and from the whole header, the payload's length.
// The one decoding of both, for the parser below and TestClient's reader of server frames.
constexpr std::size_t ws_header_size(unsigned char b1) noexcept {
    const unsigned len7 = b1 & 0x7F;
    return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((b1 & 0x80) ? 4 : 0);
}
inline std::uint64_t ws_payload_length(const unsigned char* header) noexcept {
    const unsigned len7 = header[1] & 0x7F;
    if (len7 == 126) return (std::uint64_t(header[2]) << 8) | header[3];
    if (len7 < 126) return len7;
    std::uint64_t len = 0;
    for (int i = 0; i < 8; ++i) len = (len << 8) | header[2 + i];
    return len;
}

// The parser of client frames. parse() is handed every byte the connection holds and not yet
// consumed; it consumes up to the end of one event (or all of it, still in need of more) and
// says how much in `consumed`. Payloads are unmasked into the parser's own buffers as they
// arrive, so a frame that trickles in is never rescanned. After an error or a close it parses
// nothing more.
class WsFrameParser {
public:
    explicit WsFrameParser(std::size_t max_message_bytes = 16u * 1024u * 1024u) noexcept
        : max_message_(max_message_bytes) {}

    WsEvent parse(const char* data, std::size_t size, std::size_t& consumed) {
        consumed = 0;
        if (done_) return {};
        if (message_ready_) message_.clear(), message_ready_ = false;
        const auto* p = reinterpret_cast<const unsigned char*>(data);
        while (consumed < size) {
            if (!in_payload_) {
                // Header: gather its bytes (2 to 14) one call or many.
                // The first two are checked as soon as they are here.
                if (header_len_ < 2) {
                    take_header(p, size, consumed, 2);
                    if (header_len_ < 2) return {};
                    if (auto e = check_first_two(); e.kind == WsEvent::Kind::error) return e;
                }
                const std::size_t need = ws_header_size(header_[1]);
                take_header(p, size, consumed, need);
                if (header_len_ < need) return {};
                if (auto e = start_payload(); e.kind == WsEvent::Kind::error) return e;
                if (remaining_ == 0) {
                    if (auto e = end_frame(); e.kind != WsEvent::Kind::need_more) return e;
                    continue;
                }
            }
            // Payload: unmask what has arrived into the message or the control buffer (appended,
            // then unmasked in place: no zero-filling first).
            const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, size - consumed));
            std::string& to = control() ? control_ : message_;
            const std::size_t at = to.size();
            to.append(data + consumed, n);
            auto* out = reinterpret_cast<unsigned char*>(to.data() + at);
            unmask(out, n, static_cast<unsigned>(offset_ & 3));
            offset_ += n;
            consumed += n;
            remaining_ -= n;
            if (!control() && message_text_ && !message_compressed_ && !utf8_.feed(out, n))
                return fail(1007, "invalid UTF-8 in a text message");
            if (remaining_ == 0)
                if (auto e = end_frame(); e.kind != WsEvent::Kind::need_more) return e;
        }
        return {};
    }

    // permessage-deflate was negotiated: RSV1 marks a compressed message (on its first frame
    // only; on a continuation or a control frame it is still 1002).
    void allow_compressed(bool on) noexcept { compressed_allowed_ = on; }

    // The message parse() last returned, moved out (valid until the next parse).
    std::string take_message() { return std::move(message_); }
    bool finished() const noexcept { return done_; }
    std::size_t max_message_bytes() const noexcept { return max_message_; }

private:
    bool control() const noexcept { return (header_[0] & 0x08) != 0; }

    // Copies header bytes from p (up to `need` of the header in all), as many as are there.
    void take_header(const unsigned char* p, std::size_t size, std::size_t& consumed, std::size_t need) noexcept {
        const std::size_t k = std::min(need - header_len_, size - consumed);
        std::memcpy(header_ + header_len_, p + consumed, k);
        header_len_ += k;
        consumed += k;
    }

    // XORs n bytes with the frame's mask, starting at its byte `phase`: eight bytes at a time.
    void unmask(unsigned char* out, std::size_t n, unsigned phase) const noexcept {
        unsigned char key[8];
        std::memcpy(key, mask_, 4);
        std::memcpy(key + 4, mask_, 4);
        if (phase != 0) {  // the key from byte `phase` of the mask on (a frame read in pieces)
            unsigned char rotated[8];
            for (unsigned i = 0; i < 8; ++i) rotated[i] = key[(phase + i) & 3];
            std::memcpy(key, rotated, 8);
        }
        std::uint64_t k;
        std::memcpy(&k, key, 8);
        std::size_t i = 0;
        for (; i + 8 <= n; i += 8) {
            std::uint64_t w;
            std::memcpy(&w, out + i, 8);
            w ^= k;
            std::memcpy(out + i, &w, 8);
        }
        for (; i < n; ++i) out[i] ^= key[i & 7];
    }
    WsOpcode opcode() const noexcept { return static_cast<WsOpcode>(header_[0] & 0x0F); }

    // Bytes of header the frame has: 2, plus its extended length, plus the mask.

    WsEvent fail(std::uint16_t code, std::string_view why) {
        done_ = true;
        return {WsEvent::Kind::error, code, why};
    }

    WsEvent check_first_two() {
        const unsigned char b0 = header_[0], b1 = header_[1];
        const unsigned op = b0 & 0x0F;
        if (b0 & 0x30) return fail(1002, "reserved bits set");
        if (b0 & 0x40) {
            if (!compressed_allowed_) return fail(1002, "reserved bits set (no extension negotiated)");
            if (op == 0 || op >= 8) return fail(1002, "RSV1 on a continuation or control frame");
        }
        if ((op > 2 && op < 8) || op > 10) return fail(1002, "reserved opcode");
        if (!(b1 & 0x80)) return fail(1002, "client frame not masked");
        if (op >= 8) {
            if (!(b0 & 0x80)) return fail(1002, "fragmented control frame");
            if ((b1 & 0x7F) > 125) return fail(1002, "control frame over 125 bytes");
        } else if (op == 0) {
            if (!in_message_) return fail(1002, "continuation with no message started");
        } else if (in_message_) {
            return fail(1002, "new message while a fragmented one is unfinished");
        }
        return {};
    }

    WsEvent start_payload() {
        const unsigned len7 = header_[1] & 0x7F;
        const std::uint64_t len = ws_payload_length(header_);
        if (len7 == 126 && len < 126) return fail(1002, "frame length not in its shortest form");
        if (len7 == 127) {
            if (len >> 63) return fail(1002, "frame length with its top bit set");
            if (len <= 0xFFFF) return fail(1002, "frame length not in its shortest form");
        }
        std::memcpy(mask_, header_ + ws_header_size(header_[1]) - 4, 4);  // masked: checked before
        if (!control()) {
            if (len > max_message_ || message_.size() > max_message_ - len) return fail(1009, "message too big");
            if (opcode() != WsOpcode::continuation) {
                in_message_ = true;
                message_text_ = opcode() == WsOpcode::text;
                message_binary_ = !message_text_;
                message_compressed_ = (header_[0] & 0x40) != 0;
                utf8_.reset();
            }
        } else {
            control_.clear();
        }
        remaining_ = len;
        offset_ = 0;
        in_payload_ = true;
        return {};
    }

    // The frame's payload is all here: a control frame, or a message's last fragment, is an
    // event; another fragment is not.
    WsEvent end_frame() {
        const bool fin = (header_[0] & 0x80) != 0;
        const WsOpcode op = opcode();
        const bool ctl = control();
        in_payload_ = false;
        header_len_ = 0;
        if (ctl) {
            if (op == WsOpcode::ping) return {WsEvent::Kind::ping, 0, control_};
            if (op == WsOpcode::pong) return {WsEvent::Kind::pong, 0, control_};
            // close
            if (control_.size() == 1) return fail(1002, "close frame of one byte");
            std::uint16_t code = 1005;
            std::string_view reason;
            if (control_.size() >= 2) {
                code = static_cast<std::uint16_t>((static_cast<unsigned char>(control_[0]) << 8) | static_cast<unsigned char>(control_[1]));
                if (!is_valid_close_code(code)) return fail(1002, "close code not allowed");
                reason = std::string_view(control_).substr(2);
                if (!is_valid_utf8_text(reason)) return fail(1007, "invalid UTF-8 in a close reason");
            }
            done_ = true;
            return {WsEvent::Kind::close, code, reason};
        }
        if (!fin) return {};
        in_message_ = false;
        message_ready_ = true;
        if (message_compressed_) return {message_text_ ? WsEvent::Kind::text : WsEvent::Kind::binary, 0, message_, true};
        if (message_text_) {
            if (!utf8_.complete()) return fail(1007, "invalid UTF-8 in a text message");
            return {WsEvent::Kind::text, 0, message_};
        }
        return {WsEvent::Kind::binary, 0, message_};
    }

    std::size_t max_message_;
    unsigned char header_[14] = {};
    std::size_t header_len_ = 0;
    unsigned char mask_[4] = {};
    bool in_payload_ = false;
    std::uint64_t remaining_ = 0;
    std::uint64_t offset_ = 0;  // into the frame's payload, for the mask's phase
    bool in_message_ = false;
    bool message_text_ = false;
    bool message_binary_ = false;
    bool message_ready_ = false;
    bool message_compressed_ = false, compressed_allowed_ = false;
    bool done_ = false;
    Utf8Checker utf8_;
    std::string message_;
    std::string control_;
};

// A server frame's header (unmasked, FIN set unless `fin` is false) for a payload of n bytes,
// written to `out` (room for 10 bytes): its length, 2, 4 or 10.
constexpr std::size_t ws_frame_header(unsigned char* out, WsOpcode op, std::uint64_t n, bool fin = true, bool rsv1 = false) noexcept {
    out[0] = static_cast<unsigned char>((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | static_cast<unsigned>(op));
    if (n < 126) {
        out[1] = static_cast<unsigned char>(n);
        return 2;
    }
    if (n <= 0xFFFF) {
        out[1] = 126;
        out[2] = static_cast<unsigned char>(n >> 8);
        out[3] = static_cast<unsigned char>(n & 0xFF);
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; ++i) out[2 + i] = static_cast<unsigned char>((n >> (8 * (7 - i))) & 0xFF);
    return 10;
}

// Appends one server frame (unmasked, FIN set unless `fin` is false) to `out`.
FASTAPI_DECL void append_ws_frame(std::string& out, WsOpcode op, std::string_view payload, bool fin = true, bool rsv1 = false);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void append_ws_frame(std::string& out, WsOpcode op, std::string_view payload, bool fin, bool rsv1) {
    unsigned char head[10];
    out.append(reinterpret_cast<const char*>(head), ws_frame_header(head, op, payload.size(), fin, rsv1));
    out.append(payload);
}
#endif

// Appends a close frame: its code and reason (cut to 123 bytes at a sequence's end); no
// payload for 1005 (no code).
FASTAPI_DECL void append_ws_close(std::string& out, std::uint16_t code, std::string_view reason = {});
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void append_ws_close(std::string& out, std::uint16_t code, std::string_view reason) {
    if (code == 1005) return append_ws_frame(out, WsOpcode::close, {});
    std::string payload;
    payload += static_cast<char>(code >> 8);
    payload += static_cast<char>(code & 0xFF);
    payload.append(close_reason_prefix(reason));
    append_ws_frame(out, WsOpcode::close, payload);
}
#endif

}  // namespace detail

}  // namespace fastapi
