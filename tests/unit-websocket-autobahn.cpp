// RFC 6455 through the real server, one TEST_CASE per category of the Autobahn testsuite
// (framing, ping/pong, reserved bits, opcodes, fragmentation, UTF-8, close handling, limits),
// as raw frames from a socket to an app.websocket echo route. Each protocol error is checked
// for its close code and for the TCP connection being closed after it. (Compression, the
// testsuite's categories 12-13, is permessage-deflate: built with FASTAPI_WITH_ZLIB, its
// negotiation, compressed echo both ways, RSV1 misuse, a deflate bomb, and Python's websockets
// client agreeing to it.)
#include "support.hpp"

#include <cstdio>  // popen
#include <string>
#include <vector>

#ifdef FASTAPI_WITH_ZLIB
#include <zlib.h>
#endif

namespace websocket_autobahn_test {

using fastapi::App;
using fastapi::WebSocket;
using test::ws::close_code;
using test::ws::close_payload;
using test::ws::frame;
using test::ws::read_frame;

constexpr std::size_t limit = 64 * 1024;  // the route's max_message_bytes

void add_echo(App& app) {
    fastapi::WebSocketOptions o;
    o.max_message_bytes = limit;
    app.websocket(
        "/echo",
        [](WebSocket& ws) -> asio::awaitable<void> {
            co_await ws.accept();
            while (auto m = co_await ws.receive_message()) {
                if (m->text) co_await ws.send_text(m->data);
                else co_await ws.send_bytes(m->data);
            }
        },
        o);
}

struct Echo {
    App app;
    std::unique_ptr<test::LiveServer> server;
    Echo() {
        add_echo(app);
        server = std::make_unique<test::LiveServer>(app);
    }
    std::unique_ptr<test::RawClient> connect() {
        auto c = std::make_unique<test::RawClient>(server->port());
        REQUIRE(test::ws::open(*c, "/echo"));
        return c;
    }
};

// Sends `bytes` on a new connection; the close code the server answers with (then the TCP
// connection must close).
int close_code_for(Echo& e, const std::string& bytes) {
    auto c = e.connect();
    c->send(bytes);
    test::ws::ServerFrame f = read_frame(*c);
    for (int i = 0; i < 10 && f.op != 8 && f.op < 998; ++i) f = read_frame(*c);  // echoes before the error
    const int code = close_code(f);
    CHECK(c->closed_by_peer());
    return code;
}

std::string raw_header(unsigned first, std::uint64_t len, int len_bytes) {
    std::string h;
    h += static_cast<char>(first);
    if (len_bytes == 0) h += static_cast<char>(0x80 | len);
    else if (len_bytes == 2) h += static_cast<char>(0x80 | 126), h += char(len >> 8), h += char(len & 0xFF);
    else {
        h += static_cast<char>(0x80 | 127);
        for (int i = 7; i >= 0; --i) h += char((len >> (8 * i)) & 0xFF);
    }
    h += std::string(4, '\0');  // a zero mask: the payload is sent as it is
    return h;
}

TEST_CASE("Autobahn 1 (framing): text and binary of every length class are echoed; an unmasked frame is 1002") {
    Echo e;
    auto c = e.connect();
    for (std::size_t n : {std::size_t(0), std::size_t(1), std::size_t(125), std::size_t(126), std::size_t(127),
                          std::size_t(65535), std::size_t(65536)}) {
        const std::string text(n, '*'), bytes(n, '\xfe');
        c->send(frame(1, text));
        auto f = read_frame(*c);
        CHECK(f.op == 1);
        CHECK(f.payload == text);
        c->send(frame(2, bytes));
        f = read_frame(*c);
        CHECK(f.op == 2);
        CHECK(f.payload == bytes);
    }
    // Many small frames in one write, echoed in order.
    std::string batch;
    for (int i = 0; i < 100; ++i) batch += frame(1, std::to_string(i));
    c->send(batch);
    for (int i = 0; i < 100; ++i) CHECK(read_frame(*c).payload == std::to_string(i));
    // Unmasked (as a server sends): refused.
    std::string unmasked = "\x81\x02hi";
    CHECK(close_code_for(e, unmasked) == 1002);
    // A length not in its shortest form, or with its top bit set.
    CHECK(close_code_for(e, raw_header(0x81, 5, 2) + "hello") == 1002);
    CHECK(close_code_for(e, raw_header(0x81, 5, 8) + "hello") == 1002);
    CHECK(close_code_for(e, raw_header(0x81, std::uint64_t(1) << 63, 8)) == 1002);
}

TEST_CASE("Autobahn 2 (ping/pong): pongs echo the payload, in order; a ping over 125 bytes is 1002; unsolicited pongs are ignored") {
    Echo e;
    auto c = e.connect();
    c->send(frame(9, ""));
    auto f = read_frame(*c);
    CHECK(f.op == 10);
    CHECK(f.payload.empty());
    const std::string max(125, 'p');
    c->send(frame(9, max));
    f = read_frame(*c);
    CHECK(f.op == 10);
    CHECK(f.payload == max);
    c->send(frame(9, std::string("\0\xff\x01", 3)));
    CHECK(read_frame(*c).payload == std::string("\0\xff\x01", 3));
    c->send(frame(10, "unsolicited") + frame(1, "after"));
    f = read_frame(*c);
    CHECK(f.op == 1);
    CHECK(f.payload == "after");
    std::string pings;
    for (int i = 0; i < 10; ++i) pings += frame(9, "ping " + std::to_string(i));
    c->send(pings);
    for (int i = 0; i < 10; ++i) {
        f = read_frame(*c);
        CHECK(f.op == 10);
        CHECK(f.payload == "ping " + std::to_string(i));
    }
    CHECK(close_code_for(e, frame(9, std::string(126, 'x'))) == 1002);
}

TEST_CASE("Autobahn 3 (reserved bits): RSV1, RSV2, RSV3 on data or control frames are 1002 (no extension negotiated)") {
    Echo e;
    for (unsigned rsv : {0x40u, 0x20u, 0x10u, 0x70u}) {
        CAPTURE(rsv);
        CHECK(close_code_for(e, frame(1, "hi", true, rsv)) == 1002);
        CHECK(close_code_for(e, frame(2, "hi", true, rsv)) == 1002);
        CHECK(close_code_for(e, frame(9, "hi", true, rsv)) == 1002);
    }
    // After a good message, still refused (and the good one echoed first).
    CHECK(close_code_for(e, frame(1, "ok") + frame(1, "bad", true, 0x20)) == 1002);
}

TEST_CASE("Autobahn 4 (opcodes): reserved data opcodes 3-7 and control opcodes 11-15 are 1002") {
    Echo e;
    for (unsigned op : {3u, 4u, 5u, 6u, 7u, 11u, 12u, 13u, 14u, 15u}) {
        CAPTURE(op);
        CHECK(close_code_for(e, frame(op, "")) == 1002);
    }
    CHECK(close_code_for(e, frame(1, "ok") + frame(5, "x") + frame(9, "")) == 1002);
}

TEST_CASE("Autobahn 5 (fragmentation): fragments joined, control frames between them; the misuses are 1002") {
    Echo e;
    auto c = e.connect();
    c->send(frame(1, "frag", false) + frame(0, "ment", false) + frame(0, "ed"));
    CHECK(read_frame(*c).payload == "fragmented");
    c->send(frame(2, "a", false) + frame(9, "between") + frame(0, "b", false) + frame(10, "pong") + frame(0, "c"));
    auto f = read_frame(*c);
    CHECK(f.op == 10);  // the pong first: the message is not complete yet
    CHECK(f.payload == "between");
    f = read_frame(*c);
    CHECK(f.op == 2);
    CHECK(f.payload == "abc");
    // One byte a fragment.
    std::string bytes;
    const std::string word = "Autobahn";
    for (std::size_t i = 0; i < word.size(); ++i) bytes += frame(i == 0 ? 1 : 0, word.substr(i, 1), i + 1 == word.size());
    c->send(bytes);
    CHECK(read_frame(*c).payload == word);
    // Empty fragments.
    c->send(frame(1, "", false) + frame(0, "", false) + frame(0, "x"));
    CHECK(read_frame(*c).payload == "x");
    CHECK(close_code_for(e, frame(0, "no start")) == 1002);
    CHECK(close_code_for(e, frame(0, "no start", false) + frame(0, "x")) == 1002);
    CHECK(close_code_for(e, frame(1, "a", false) + frame(1, "b")) == 1002);  // a new message inside one
    CHECK(close_code_for(e, frame(1, "a", false) + frame(2, "b")) == 1002);
    CHECK(close_code_for(e, frame(9, "frag", false) + frame(0, "x")) == 1002);  // a fragmented control frame
    CHECK(close_code_for(e, frame(8, close_payload(1000), false)) == 1002);
}

TEST_CASE("Autobahn 6 (UTF-8): valid text in any split is echoed; invalid text is 1007, as early as it shows") {
    Echo e;
    auto c = e.connect();
    const std::string kosme = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5";  // κόσμε
    c->send(frame(1, kosme));
    CHECK(read_frame(*c).payload == kosme);
    for (std::size_t cut = 1; cut < kosme.size(); ++cut) {  // split at every byte, inside characters too
        c->send(frame(1, kosme.substr(0, cut), false) + frame(0, kosme.substr(cut)));
        CHECK(read_frame(*c).payload == kosme);
    }
    const std::string edges = std::string("\x7f") + "\xdf\xbf" + "\xef\xbf\xbf" + "\xf4\x8f\xbf\xbf" + "\xee\x80\x80";
    c->send(frame(1, edges));
    CHECK(read_frame(*c).payload == edges);
    const std::vector<std::string> bad = {
        "\xff",                  // never in UTF-8
        "\xc0\xaf",              // overlong '/'
        "\xe0\x80\xaf",          // overlong, three bytes
        "\xed\xa0\x80",          // a surrogate
        "\xf4\x90\x80\x80",      // past U+10FFFF
        "\xce\xba\x80",          // a stray continuation byte
        "\xce",                  // cut short at the message's end
        "kosme\xf8\x88\x80\x80\x80",  // five bytes
    };
    for (const auto& text : bad) {
        CAPTURE(text.size());
        CHECK(close_code_for(e, frame(1, text)) == 1007);
    }
    // Fail fast: the impossible byte in the first fragment, the message never finished.
    CHECK(close_code_for(e, frame(1, "ok \xff", false)) == 1007);
    CHECK(close_code_for(e, frame(1, "\xce", false) + frame(0, "x")) == 1007);  // split, then wrong
    // Binary messages are not checked.
    auto b = e.connect();
    b->send(frame(2, "\xff\xfe"));
    CHECK(read_frame(*b).payload == "\xff\xfe");
}

TEST_CASE("Autobahn 7 (close handling): codes echoed, forbidden codes and bad payloads 1002, bad reasons 1007, nothing after the close") {
    Echo e;
    for (unsigned code : {1000u, 1001u, 1002u, 1003u, 1007u, 1008u, 1009u, 1010u, 1011u, 3000u, 3999u, 4000u, 4999u}) {
        CAPTURE(code);
        auto c = e.connect();
        c->send(frame(8, close_payload(code, "reason")));
        auto f = read_frame(*c);
        CHECK(close_code(f) == static_cast<int>(code));
        CHECK(c->closed_by_peer());
    }
    {  // No payload: answered with none.
        auto c = e.connect();
        c->send(frame(8, ""));
        auto f = read_frame(*c);
        CHECK(f.op == 8);
        CHECK(f.payload.empty());
        CHECK(c->closed_by_peer());
    }
    {  // Data after the close is not echoed.
        auto c = e.connect();
        c->send(frame(1, "before"));
        CHECK(read_frame(*c).payload == "before");
        c->send(frame(8, close_payload(1000)) + frame(1, "after") + frame(9, "ping after"));
        CHECK(close_code(read_frame(*c)) == 1000);
        CHECK(c->closed_by_peer());
        CHECK(c->buffer().empty());
    }
    {  // A close with the longest reason allowed.
        auto c = e.connect();
        c->send(frame(8, close_payload(1000, std::string(123, 'r'))));
        CHECK(close_code(read_frame(*c)) == 1000);
    }
    for (unsigned code : {0u, 999u, 1004u, 1005u, 1006u, 1012u + 4u, 1015u, 1100u, 2000u, 2999u, 5000u, 65535u}) {
        CAPTURE(code);
        CHECK(close_code_for(e, frame(8, close_payload(code))) == 1002);
    }
    CHECK(close_code_for(e, frame(8, std::string(1, '\x03'))) == 1002);  // one byte
    CHECK(close_code_for(e, frame(8, close_payload(1000, std::string(124, 'r')))) == 1002);  // 126 bytes
    CHECK(close_code_for(e, frame(8, close_payload(1000, "\xff"))) == 1007);
}

TEST_CASE("Autobahn 9 (limits): a message over max_message_bytes is 1009, whole or in fragments; one at the limit passes") {
    Echo e;
    auto c = e.connect();
    const std::string at_limit(limit, 'L');
    c->send(frame(2, at_limit));
    CHECK(read_frame(*c).payload == at_limit);
    c->send(frame(1, at_limit.substr(0, limit / 2), false) + frame(0, at_limit.substr(limit / 2)));
    CHECK(read_frame(*c).payload == at_limit);
    // Refused from the header, before the payload is sent.
    CHECK(close_code_for(e, raw_header(0x82, limit + 1, 8)) == 1009);
    CHECK(close_code_for(e, raw_header(0x82, std::uint64_t(1) << 40, 8)) == 1009);
    CHECK(close_code_for(e, frame(2, std::string(limit / 2, 'a'), false) + frame(0, std::string(limit / 2 + 1, 'b'))) == 1009);
}

#ifdef FASTAPI_WITH_ZLIB
// Raw deflate with a sync flush, the trailing 00 00 ff ff removed (RFC 7692 §7.2.1).
std::string compress(std::string_view in) {
    z_stream z{};
    REQUIRE(deflateInit2(&z, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY) == Z_OK);
    std::string out(in.size() + in.size() / 100 + 1024, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    REQUIRE(deflate(&z, Z_SYNC_FLUSH) == Z_OK);
    out.resize(out.size() - z.avail_out);
    deflateEnd(&z);
    REQUIRE(out.size() >= 4);
    out.resize(out.size() - 4);
    return out;
}
// A server's compressed payload inflated (with the tail put back), through `z`.
std::string inflate_with(z_stream& z, std::string in) {
    in.append("\0\0\xff\xff", 4);
    std::string out(1 << 20, '\0');
    z.next_in = reinterpret_cast<Bytef*>(in.data());
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    const int rc = inflate(&z, Z_SYNC_FLUSH);
    CHECK((rc == Z_OK || rc == Z_BUF_ERROR));
    REQUIRE(z.avail_out <= out.size());
    // erase, not resize: resize's growing branch (a memset) is what GCC 12's
    // -Wstringop-overflow warns about, with a bound it cannot see, in some unity batches.
    out.erase(out.size() - z.avail_out);
    return out;
}

// The 101's Sec-WebSocket-Extensions for an offer (empty: none), the head removed.
std::string agreed(test::RawClient& c, std::string_view offer) {
    std::string extra = "Sec-WebSocket-Extensions: ";
    extra.append(offer).append("\r\n");
    c.send(test::ws::handshake("/echo", extra));
    const std::string head = c.read_until([](const std::string& b) { return b.find("\r\n\r\n") != std::string::npos; });
    REQUIRE(head.starts_with("HTTP/1.1 101 "));
    const std::size_t end = head.find("\r\n\r\n");
    c.buffer().erase(0, end + 4);
    const std::size_t at = head.find("\r\nsec-websocket-extensions: ");
    if (at == std::string::npos || at > end) return "";
    const std::size_t from = at + 28;  // past "\r\nsec-websocket-extensions: "
    return head.substr(from, head.find("\r\n", from) - from);
}

TEST_CASE("Autobahn 12-13 (compression): permessage-deflate negotiated, its parameters answered; bad offers declined") {
    Echo e;
    struct Case {
        const char* offer;
        const char* answer;
    };
    const Case cases[] = {
        {"permessage-deflate", "permessage-deflate"},
        {"permessage-deflate; client_max_window_bits", "permessage-deflate"},
        {"permessage-deflate; server_no_context_takeover", "permessage-deflate; server_no_context_takeover"},
        {"permessage-deflate; client_no_context_takeover", "permessage-deflate; client_no_context_takeover"},
        {"permessage-deflate; server_max_window_bits=10", "permessage-deflate; server_max_window_bits=10"},
        {"permessage-deflate; client_max_window_bits=9; server_no_context_takeover; client_no_context_takeover",
         "permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
        {"permessage-deflate; server_max_window_bits=8", ""},         // zlib's raw deflate cannot
        {"permessage-deflate; server_max_window_bits=16", ""},
        {"permessage-deflate; server_max_window_bits", ""},           // needs a value
        {"permessage-deflate; client_max_window_bits=7", ""},
        {"permessage-deflate; unknown", ""},
        {"permessage-deflate; server_no_context_takeover; server_no_context_takeover", ""},
        {"permessage-deflate; server_no_context_takeover=1", ""},
        {"x-webkit-deflate-frame", ""},
        {"permessage-deflate; server_max_window_bits=8, permessage-deflate", "permessage-deflate"},  // the next offer
    };
    for (const Case& k : cases) {
        CAPTURE(k.offer);
        test::RawClient c(e.server->port());
        CHECK(agreed(c, k.offer) == k.answer);
    }
}

TEST_CASE("Autobahn 12-13 (compression): compressed messages echoed compressed, with and without context takeover") {
    Echo e;
    for (const char* offer : {"permessage-deflate", "permessage-deflate; server_no_context_takeover; client_no_context_takeover"}) {
        CAPTURE(offer);
        test::RawClient c(e.server->port());
        REQUIRE(!agreed(c, offer).empty());
        z_stream z{};
        REQUIRE(inflateInit2(&z, -15) == Z_OK);
        const std::string text = "Hello, compressed world! Hello, compressed world!";
        for (int i = 0; i < 3; ++i) {  // each message compressed on its own (a fresh context each time)
            c.send(frame(1, compress(text), true, 0x40));
            auto f = read_frame(c);
            CHECK(f.op == 1);
            CHECK((f.first & 0x40) != 0);  // RSV1: compressed
            CHECK(inflate_with(z, f.payload) == text);
        }
        const std::string big(60000, 'z');  // under the 64 KiB limit, inflated
        c.send(frame(2, compress(big), true, 0x40));
        auto f = read_frame(c);
        CHECK(f.op == 2);
        CHECK(inflate_with(z, f.payload) == big);
        c.send(frame(1, "plain, not compressed"));  // RSV1 clear: a message sent as it is
        f = read_frame(c);
        CHECK(inflate_with(z, f.payload) == "plain, not compressed");
        // Fragmented: RSV1 on the first frame only.
        const std::string packed = compress("in two fragments");
        c.send(frame(1, packed.substr(0, 3), false, 0x40) + frame(0, packed.substr(3)));
        f = read_frame(c);
        CHECK(inflate_with(z, f.payload) == "in two fragments");
        inflateEnd(&z);
    }
}

// Negotiates, sends `bytes`, and returns the close code.
int deflate_close_code(Echo& e, const std::string& bytes) {
    test::RawClient c(e.server->port());
    REQUIRE(!agreed(c, "permessage-deflate").empty());
    c.send(bytes);
    test::ws::ServerFrame f = read_frame(c);
    for (int i = 0; i < 10 && f.op != 8 && f.op < 998; ++i) f = read_frame(c);
    const int code = close_code(f);
    CHECK(c.closed_by_peer());
    return code;
}

TEST_CASE("Autobahn 12-13 (compression): RSV1 misuse is 1002; a deflate bomb is 1009; bad data or UTF-8 is 1007") {
    Echo e;
    CHECK(deflate_close_code(e, frame(9, "", true, 0x40)) == 1002);  // on a control frame
    CHECK(deflate_close_code(e, frame(1, compress("a"), false, 0x40) + frame(0, "b", true, 0x40)) == 1002);  // a continuation
    CHECK(deflate_close_code(e, frame(1, "x", true, 0x20)) == 1002);  // RSV2 stays reserved
    // 100 MB of zeros compress to about 100 KB, past the 64 KiB limit only once inflated.
    const std::string bomb = compress(std::string(100u << 20, '\0'));
    CHECK(bomb.size() < 200000);
    CHECK(deflate_close_code(e, frame(2, bomb.substr(0, 60000), true, 0x40)) == 1009);
    CHECK(deflate_close_code(e, frame(2, "\xff\xff\xff\xff garbage", true, 0x40)) == 1007);
    CHECK(deflate_close_code(e, frame(1, compress("bad \xff utf-8"), true, 0x40)) == 1007);
    // Without the extension, RSV1 is 1002 (Autobahn 3).
    CHECK(close_code_for(e, frame(1, compress("a"), true, 0x40)) == 1002);
}

TEST_CASE("Autobahn 12-13 (compression): Python's websockets client agrees to permessage-deflate and echoes through it") {
    App app;
    app.websocket("/ws/echo", [](WebSocket& ws) -> asio::awaitable<void> {
        const auto& offered = ws.subprotocols();
        const bool chat = std::find(offered.begin(), offered.end(), "chat") != offered.end();
        co_await ws.accept(chat ? "chat" : "");
        while (auto m = co_await ws.receive_message()) {
            if (m->text) co_await ws.send_text(m->data);
            else co_await ws.send_bytes(m->data);
        }
    });
    test::LiveServer s(app);
    std::string cmd = "timeout 90 /usr/bin/python3 " FASTAPI_SOURCE_DIR "/tests/python/websockets_client.py ";
    cmd += std::to_string(s.port());
    cmd += " deflate 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    std::string out;
    char buf[4096];
    for (int i = 0; i < 10000; ++i) {
        std::size_t n = std::fread(buf, 1, sizeof buf, p);
        if (n == 0) break;
        out.append(buf, n);
    }
    const int status = ::pclose(p);
    INFO(out);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK(out == "ok\n");
}
#endif

}  // namespace websocket_autobahn_test
