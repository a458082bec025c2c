// RFC 6455 on raw bytes, with no socket: the accept key (the RFC's own example, SHA-1 test
// vectors), the handshake's checks, and the client frame parser: what it accepts, what it
// refuses and with which close code, and that it says the same however the bytes are split.
#include <doctest/doctest.h>

#include "fastapi.hpp"

#include <array>   // array (digests)
#include <string>
#include <vector>

namespace websocket_frames_test {

using fastapi::Request;
using fastapi::detail::WsEvent;
using fastapi::detail::WsFrameParser;
using fastapi::detail::WsOpcode;
using Kind = fastapi::detail::WsEvent::Kind;

// A client frame: masked with `mask` (unless masked is false), FIN as given, rsv in bits 4-6.
std::string frame(unsigned op, std::string_view payload, bool fin = true, bool masked = true,
                  unsigned rsv = 0, std::string_view mask = "\x37\xfa\x21\x3d") {
    std::string out;
    out += static_cast<char>((fin ? 0x80 : 0) | (rsv << 4) | op);
    const std::uint64_t n = payload.size();
    const char m = masked ? char(0x80) : 0;
    if (n < 126) out += static_cast<char>(m | n);
    else if (n <= 0xFFFF) out += static_cast<char>(m | 126), out += char(n >> 8), out += char(n & 0xFF);
    else {
        out += static_cast<char>(m | 127);
        for (int i = 7; i >= 0; --i) out += char((n >> (8 * i)) & 0xFF);
    }
    if (masked) out.append(mask);
    for (std::size_t i = 0; i < n; ++i) out += masked ? char(payload[i] ^ mask[i & 3]) : payload[i];
    return out;
}

std::string close_payload(unsigned code, std::string_view reason = {}) {
    std::string p;
    p += char(code >> 8);
    p += char(code & 0xFF);
    p.append(reason);
    return p;
}

struct Ev {
    Kind kind;
    unsigned code;
    std::string data;
    bool operator==(const Ev&) const = default;
};

// Every event of `bytes` fed in pieces of at most `step` bytes (0: whole), up to the first
// error or close.
std::vector<Ev> events(std::string_view bytes, std::size_t step = 0, std::size_t max = 16u << 20) {
    WsFrameParser p(max);
    std::vector<Ev> out;
    std::size_t at = 0;
    std::string held;  // what a connection holds and has not had consumed
    for (int guard = 0; guard < 1000000 && !p.finished(); ++guard) {
        if (held.empty()) {
            if (at >= bytes.size()) break;
            const std::size_t n = step ? std::min(step, bytes.size() - at) : bytes.size() - at;
            held.append(bytes.substr(at, n));
            at += n;
        }
        std::size_t used = 0;
        WsEvent e = p.parse(held.data(), held.size(), used);
        REQUIRE(used <= held.size());
        held.erase(0, used);
        if (e.kind != Kind::need_more) out.push_back({e.kind, e.code, std::string(e.data)});
        else REQUIRE(held.empty());  // need_more consumes everything
    }
    return out;
}

// The events, the same whole, byte by byte and in pieces of 3 and 7.
std::vector<Ev> events_any_split(std::string_view bytes, std::size_t max = 16u << 20) {
    auto whole = events(bytes, 0, max);
    CHECK(events(bytes, 1, max) == whole);
    CHECK(events(bytes, 3, max) == whole);
    CHECK(events(bytes, 7, max) == whole);
    return whole;
}

// The close code the parser refuses `bytes` with (0 if it does not).
unsigned refusal(std::string_view bytes, std::size_t max = 16u << 20) {
    auto ev = events_any_split(bytes, max);
    for (auto& e : ev)
        if (e.kind == Kind::error) return e.code;
    return 0;
}

Request handshake(std::vector<std::pair<std::string, std::string>> headers) {
    Request r;
    r.method = "GET";
    r.version = 11;
    for (auto& h : headers) r.headers.add(h.first, h.second);
    return r;
}

std::string hex(const std::array<std::uint8_t, 20>& d) {
    static const char* digits = "0123456789abcdef";
    std::string s;
    for (auto b : d) s += digits[b >> 4], s += digits[b & 15];
    return s;
}


TEST_CASE("SHA-1 test vectors and RFC 6455's example accept key") {
    using fastapi::detail::sha1;
    CHECK(hex(sha1("")) == "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    CHECK(hex(sha1("abc")) == "a9993e364706816aba3e25717850c26c9cd0d89d");
    CHECK(hex(sha1("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")) == "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    CHECK(hex(sha1(std::string(1000000, 'a'))) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    // 55, 56 and 64 bytes: the padding's edges.
    CHECK(hex(sha1(std::string(55, 'a'))) == "c1c8bbdc22796e28c0e15163d20899b65621d65a");
    CHECK(hex(sha1(std::string(56, 'a'))) == "c2db330f6083854c99d4b5bfb6e8f29f201be699");
    CHECK(hex(sha1(std::string(64, 'a'))) == "0098ba824b5c16427bd7a1122a5a442a25ec644d");
    CHECK(fastapi::detail::websocket_accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST_CASE("handshake checks: key of 16 bytes in base64, tokens in any case, version 13 else 426") {
    using fastapi::detail::check_websocket_handshake;
    const std::pair<std::string, std::string> key{"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="};
    const std::pair<std::string, std::string> ver{"Sec-WebSocket-Version", "13"};
    CHECK(check_websocket_handshake(handshake({{"Upgrade", "websocket"}, {"Connection", "Upgrade"}, key, ver})) == 0);
    CHECK(check_websocket_handshake(handshake({{"Upgrade", "WebSocket"}, {"Connection", "keep-alive, UPGRADE"}, key, ver})) == 0);
    CHECK(check_websocket_handshake(handshake({{"Upgrade", "h2c, websocket"}, {"Connection", "upgrade"}, key, ver})) == 0);
    CHECK(check_websocket_handshake(handshake({{"Upgrade", "websocket"}, {"Connection", "keep-alive"}, key, ver})) == 400);
    CHECK(check_websocket_handshake(handshake({{"Connection", "Upgrade"}, key, ver})) == 400);
    CHECK(check_websocket_handshake(handshake({{"Upgrade", "websocket"}, {"Connection", "Upgrade"}, ver})) == 400);
    // 15 bytes, 17 bytes, a character outside the alphabet, no padding.
    for (const char* bad : {"dGhlIHNhbXBsZSBub25jZQ=", "dGhlIHNhbXBsZSBub25jZQ", "dGhlIHNhbXBsZSBub25jZQ*=",
                            "dGhlIHNhbXBsZSBub25jZXg=", "dGhlIHNhbXBsZSBub25jZQ==dA==", "dGhlIHNhbXBsZSBub25j*Q=="}) {
        CAPTURE(bad);
        CHECK(check_websocket_handshake(handshake({{"Upgrade", "websocket"}, {"Connection", "Upgrade"}, {"Sec-WebSocket-Key", bad}, ver})) == 400);
    }
    CHECK(check_websocket_handshake(handshake({{"Upgrade", "websocket"}, {"Connection", "Upgrade"}, key, {"Sec-WebSocket-Version", "8"}})) == 426);
    CHECK(check_websocket_handshake(handshake({{"Upgrade", "websocket"}, {"Connection", "Upgrade"}, key})) == 426);
    Request post = handshake({{"Upgrade", "websocket"}, {"Connection", "Upgrade"}, key, ver});
    post.method = "POST";
    CHECK(check_websocket_handshake(post) == 400);
    Request http10 = handshake({{"Upgrade", "websocket"}, {"Connection", "Upgrade"}, key, ver});
    http10.version = 10;
    CHECK(check_websocket_handshake(http10) == 400);
    auto refusal426 = fastapi::detail::websocket_handshake_refusal(426);
    CHECK(refusal426.status == 426);
    CHECK(refusal426.headers.get_or("Sec-WebSocket-Version", "") == "13");
    auto accepted = fastapi::detail::websocket_accept_response(handshake({key}), "chat");
    CHECK(accepted.status == 101);
    CHECK(accepted.headers.get_or("Sec-WebSocket-Accept", "") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    CHECK(accepted.headers.get_or("Sec-WebSocket-Protocol", "") == "chat");
    auto offered = fastapi::detail::websocket_offered_subprotocols(handshake({{"Sec-WebSocket-Protocol", "chat, superchat"}, {"Sec-WebSocket-Protocol", " x "}}));
    CHECK(offered == std::vector<std::string>{"chat", "superchat", "x"});
}

TEST_CASE("frames: text, binary, empty, 16- and 64-bit lengths, ping and pong, close") {
    CHECK(events_any_split(frame(1, "Hello")) == std::vector<Ev>{{Kind::text, 0, "Hello"}});
    CHECK(events_any_split(frame(2, std::string("\0\xff", 2))) == std::vector<Ev>{{Kind::binary, 0, std::string("\0\xff", 2)}});
    CHECK(events_any_split(frame(1, "")) == std::vector<Ev>{{Kind::text, 0, ""}});
    const std::string mid(300, 'm'), big(70000, 'b');
    CHECK(events_any_split(frame(2, mid)) == std::vector<Ev>{{Kind::binary, 0, mid}});
    CHECK(events(frame(2, big)) == std::vector<Ev>{{Kind::binary, 0, big}});
    CHECK(events(frame(2, big), 1000) == std::vector<Ev>{{Kind::binary, 0, big}});
    CHECK(events_any_split(frame(9, "ping!") + frame(10, "")) == std::vector<Ev>{{Kind::ping, 0, "ping!"}, {Kind::pong, 0, ""}});
    CHECK(events_any_split(frame(9, std::string(125, 'p'))) == std::vector<Ev>{{Kind::ping, 0, std::string(125, 'p')}});
    CHECK(events_any_split(frame(8, "")) == std::vector<Ev>{{Kind::close, 1005, ""}});
    CHECK(events_any_split(frame(8, close_payload(1000, "bye"))) == std::vector<Ev>{{Kind::close, 1000, "bye"}});
    // After a close the parser reads nothing more.
    CHECK(events_any_split(frame(8, close_payload(4000)) + frame(1, "late")) == std::vector<Ev>{{Kind::close, 4000, ""}});
    // Several messages in one read, each its own event, in order.
    CHECK(events_any_split(frame(1, "a") + frame(2, "b") + frame(1, "c")) ==
          std::vector<Ev>{{Kind::text, 0, "a"}, {Kind::binary, 0, "b"}, {Kind::text, 0, "c"}});
}

TEST_CASE("fragmentation: fragments joined, control frames between them, take_message") {
    const std::string msg = frame(1, "Hel", false) + frame(9, "p") + frame(0, "lo", false) + frame(10, "q") + frame(0, " world");
    CHECK(events_any_split(msg) == std::vector<Ev>{{Kind::ping, 0, "p"}, {Kind::pong, 0, "q"}, {Kind::text, 0, "Hello world"}});
    CHECK(events_any_split(frame(2, "", false) + frame(0, "", false) + frame(0, "x")) == std::vector<Ev>{{Kind::binary, 0, "x"}});
    WsFrameParser p;
    const std::string bytes = frame(1, "one") + frame(1, "two");
    std::size_t used = 0;
    auto e = p.parse(bytes.data(), bytes.size(), used);
    CHECK(e.kind == Kind::text);
    CHECK(p.take_message() == "one");
    std::size_t used2 = 0;
    e = p.parse(bytes.data() + used, bytes.size() - used, used2);
    CHECK(e.kind == Kind::text);
    CHECK(e.data == "two");
    CHECK(used + used2 == bytes.size());
}

TEST_CASE("refused with 1002: unmasked, reserved bits and opcodes, control frames too big or fragmented, bad continuations, lengths") {
    CHECK(refusal(frame(1, "x", true, false)) == 1002);
    for (unsigned rsv = 1; rsv < 8; ++rsv) CHECK(refusal(frame(1, "x", true, true, rsv)) == 1002);
    CHECK(refusal(frame(9, "x", true, true, 4)) == 1002);
    for (unsigned op : {3u, 4u, 5u, 6u, 7u, 11u, 12u, 13u, 14u, 15u}) CHECK(refusal(frame(op, "")) == 1002);
    CHECK(refusal(frame(9, std::string(126, 'p'))) == 1002);
    CHECK(refusal(frame(8, close_payload(1000, std::string(124, 'r')))) == 1002);
    CHECK(refusal(frame(9, "p", false)) == 1002);
    CHECK(refusal(frame(0, "x")) == 1002);                                 // continuation, nothing started
    CHECK(refusal(frame(1, "a", false) + frame(1, "b")) == 1002);         // new message mid-fragments
    CHECK(refusal(frame(1, "a", false) + frame(2, "b")) == 1002);
    // 16-bit length under 126, 64-bit length under 65536 or with its top bit set.
    CHECK(refusal(std::string("\x81\xfe\x00\x05", 4) + "abcd" + "hello") == 1002);
    CHECK(refusal(std::string("\x82\xff\x00\x00\x00\x00\x00\x00\x01\x00", 10) + "abcd") == 1002);
    CHECK(refusal(std::string("\x82\xff\x80\x00\x00\x00\x00\x00\x00\x00", 10) + "abcd") == 1002);
    // The error comes as soon as the header says so, before any payload.
    WsFrameParser p;
    std::size_t used = 0;
    auto e = p.parse("\x89\xfe", 2, used);
    CHECK(e.kind == Kind::error);
    CHECK(e.code == 1002);
    CHECK(p.finished());
}

TEST_CASE("close frames: codes allowed on the wire, one-byte payload, reason UTF-8") {
    for (unsigned code : {1000u, 1001u, 1002u, 1003u, 1007u, 1008u, 1009u, 1010u, 1011u, 1012u, 1013u, 1014u, 3000u, 3999u, 4000u, 4999u}) {
        CAPTURE(code);
        CHECK(events_any_split(frame(8, close_payload(code))) == std::vector<Ev>{{Kind::close, code, ""}});
    }
    for (unsigned code : {0u, 999u, 1004u, 1005u, 1006u, 1015u, 1016u, 1100u, 2000u, 2999u, 5000u, 65535u}) {
        CAPTURE(code);
        CHECK(refusal(frame(8, close_payload(code))) == 1002);
    }
    CHECK(refusal(frame(8, "\x03")) == 1002);
    CHECK(refusal(frame(8, close_payload(1000, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"))) == 1007);
    CHECK(events_any_split(frame(8, close_payload(1000, "\xce\xba\xe1\xbd\xb9"))) == std::vector<Ev>{{Kind::close, 1000, "\xce\xba\xe1\xbd\xb9"}});
}

TEST_CASE("UTF-8: refused with 1007 as soon as it cannot be valid, a sequence split across fragments accepted") {
    // Valid: a 4-byte sequence split between fragments at each point.
    const std::string smile = "\xf0\x9f\x98\x80";
    for (std::size_t cut = 0; cut <= 4; ++cut) {
        CAPTURE(cut);
        auto ev = events_any_split(frame(1, "a" + smile.substr(0, cut), false) + frame(0, smile.substr(cut) + "b"));
        CHECK(ev == std::vector<Ev>{{Kind::text, 0, "a" + smile + "b"}});
    }
    for (const char* bad : {"\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf5", "\xff", "\x80", "\xc2\x41"}) {
        CAPTURE(bad);
        CHECK(refusal(frame(1, bad)) == 1007);
    }
    // A message whose text ends mid-sequence.
    CHECK(refusal(frame(1, "\xe2\x82")) == 1007);
    CHECK(refusal(frame(1, "ab\xe2\x82", false) + frame(0, "")) == 1007);
    // Binary messages are not checked.
    CHECK(events_any_split(frame(2, "\xff\xfe")) == std::vector<Ev>{{Kind::binary, 0, "\xff\xfe"}});
    // Fail fast: the first fragment is refused before the rest is sent.
    {
        WsFrameParser p;
        const std::string first = frame(1, "ok\xff", false);
        std::size_t used = 0;
        auto e = p.parse(first.data(), first.size(), used);
        CHECK(e.kind == Kind::error);
        CHECK(e.code == 1007);
    }
    // ... and within one frame, before the frame's end arrives.
    {
        WsFrameParser p;
        const std::string whole = frame(1, "ok\xff" + std::string(1000, 'x'));
        std::size_t used = 0;
        auto e = p.parse(whole.data(), 20, used);
        CHECK(e.kind == Kind::error);
        CHECK(e.code == 1007);
    }
}

TEST_CASE("message size limit: 1009 from the frame header, across fragments too") {
    CHECK(refusal(frame(2, std::string(101, 'x')), 100) == 1009);
    CHECK(refusal(frame(2, std::string(100, 'x')), 100) == 0);
    CHECK(refusal(frame(1, std::string(60, 'x'), false) + frame(0, std::string(41, 'x')), 100) == 1009);
    // A header announcing 17 MiB is refused at once with the default limit (16 MiB).
    WsFrameParser p;
    CHECK(p.max_message_bytes() == 16u * 1024u * 1024u);
    const std::string head = std::string("\x82\xff\x00\x00\x00\x00\x01\x10\x00\x00", 10) + "abcd";
    std::size_t used = 0;
    auto e = p.parse(head.data(), head.size(), used);
    CHECK(e.kind == Kind::error);
    CHECK(e.code == 1009);
    // Control frames do not count towards it.
    CHECK(refusal(frame(1, std::string(90, 'x'), false) + frame(9, std::string(100, 'p')) + frame(0, "y"), 100) == 0);
}

TEST_CASE("server frames: unmasked, shortest length, close with a reason cut to 123 bytes of whole UTF-8") {
    using fastapi::detail::append_ws_close;
    using fastapi::detail::append_ws_frame;
    std::string out;
    append_ws_frame(out, WsOpcode::text, "Hi");
    CHECK(out == "\x81\x02Hi");
    out.clear();
    append_ws_frame(out, WsOpcode::binary, std::string(300, 'x'));
    CHECK(out.substr(0, 4) == std::string("\x82\x7e\x01\x2c", 4));
    CHECK(out.size() == 304);
    out.clear();
    append_ws_frame(out, WsOpcode::binary, std::string(70000, 'x'));
    CHECK(out.substr(0, 10) == std::string("\x82\x7f\x00\x00\x00\x00\x00\x01\x11\x70", 10));
    out.clear();
    append_ws_close(out, 1000, "bye");
    CHECK(out == std::string("\x88\x05\x03\xe8" "bye", 7));
    out.clear();
    append_ws_close(out, 1005);
    CHECK(out == std::string("\x88\x00", 2));
    // 61 two-byte characters and one more: 124 bytes, cut to 122 (not mid-character).
    std::string reason;
    for (int i = 0; i < 62; ++i) reason += "\xc3\xa9";
    out.clear();
    append_ws_close(out, 1008, reason);
    CHECK(out.size() == 2 + 2 + 122);
    CHECK(fastapi::detail::is_valid_utf8_text(out.substr(4)));
    CHECK(fastapi::detail::close_reason_prefix(std::string(200, 'a')).size() == 123);
}

}  // namespace websocket_frames_test
