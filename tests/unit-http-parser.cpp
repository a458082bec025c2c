// HTTP/1.1 request parser: what it accepts, what it refuses and with which status, and that
// it gives the same answer however the bytes are split across reads.
#include <doctest/doctest.h>

#include "fastapi.hpp"

#include <random>  // mt19937
#include <string>
#include <vector>

using fastapi::Limits;
using fastapi::Request;
using fastapi::detail::ParseResult;
using fastapi::detail::ParseStatus;
using fastapi::detail::percent_decode;
using fastapi::detail::RequestParser;

namespace {

struct Outcome {
    ParseResult result;
    Request request;
    std::string reason;  // copied: result.error_reason may point into the parser
};

// Parses `data` given whole to a fresh parser.
Outcome parse(std::string_view data, const Limits& limits = {}) {
    RequestParser parser(limits);
    Outcome o;
    o.result = parser.parse(data, o.request);
    o.reason = std::string(o.result.error_reason);
    return o;
}

// The status a server answers with: 0 when the request is complete, -1 when more is needed.
int parse_status(std::string_view data, const Limits& limits = {}) {
    auto o = parse(data, limits);
    switch (o.result.status) {
        case ParseStatus::complete: return 0;
        case ParseStatus::need_more: return -1;
        case ParseStatus::error: return o.result.error_status;
    }
    return -2;
}

// Feeds growing prefixes of `data` ending at each cut (then the whole), each in a fresh
// buffer (as a connection's buffer may move); every result before the last must be need_more.
Outcome feed(std::string_view data, std::vector<std::size_t> cuts, const Limits& limits = {}) {
    RequestParser parser(limits);
    Outcome o;
    cuts.push_back(data.size());
    for (std::size_t i = 0; i < cuts.size(); ++i) {
        std::string prefix(data.substr(0, cuts[i]));
        o.result = parser.parse(prefix, o.request);
        if (o.result.status != ParseStatus::need_more) break;
    }
    o.reason = std::string(o.result.error_reason);
    return o;
}

void check_same_request(const Request& a, const Request& b) {
    CHECK(a.method == b.method);
    CHECK(a.target == b.target);
    CHECK(a.path == b.path);
    CHECK(a.raw_path == b.raw_path);
    CHECK(a.query_string == b.query_string);
    CHECK(a.version == b.version);
    CHECK(a.body == b.body);
    CHECK(a.keep_alive == b.keep_alive);
    REQUIRE(a.headers.size() == b.headers.size());
    for (auto ia = a.headers.begin(), ib = b.headers.begin(); ia != a.headers.end(); ++ia, ++ib) CHECK(*ia == *ib);
    REQUIRE(a.trailers.size() == b.trailers.size());
    for (auto ia = a.trailers.begin(), ib = b.trailers.begin(); ia != a.trailers.end(); ++ia, ++ib) CHECK(*ia == *ib);
}

const std::string simple_get =
    "GET /items/42?q=a%20b&x=1 HTTP/1.1\r\n"
    "Host: example.com\r\n"
    "User-Agent: test\r\n"
    "Accept: */*\r\n"
    "\r\n";

const std::string post_with_body =
    "POST /upload HTTP/1.1\r\n"
    "Host: example.com\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 11\r\n"
    "\r\n"
    "hello world";

const std::string chunked_with_trailer =
    "POST /chunks HTTP/1.1\r\n"
    "Host: example.com\r\n"
    "Transfer-Encoding: chunked\r\n"
    "\r\n"
    "5;name=value\r\nhello\r\n"
    "1;q=\"a \\\"quoted\\\" ext\"\r\n \r\n"
    "A\r\n0123456789\r\n"
    "0\r\n"
    "X-Checksum: abc\r\n"
    "\r\n";

std::string with_header(std::string_view field) {
    return "GET / HTTP/1.1\r\nHost: h\r\n" + std::string(field) + "\r\n\r\n";
}

std::string chunked(std::string_view body) {
    return "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" + std::string(body);
}

}  // namespace

// ---- what a valid request becomes ----

TEST_CASE("a simple GET is parsed into method, target, decoded path, raw query, version and headers") {
    auto o = parse(simple_get);
    REQUIRE(o.result.status == ParseStatus::complete);
    CHECK(o.result.consumed == simple_get.size());
    CHECK(o.request.method == "GET");
    CHECK(o.request.target == "/items/42?q=a%20b&x=1");
    CHECK(o.request.path == "/items/42");
    CHECK(o.request.raw_path == "/items/42");
    CHECK(o.request.query_string == "q=a%20b&x=1");
    CHECK(o.request.version == 11);
    CHECK(o.request.keep_alive);
    CHECK(o.request.body.empty());
    CHECK(o.request.headers.size() == 3);
    CHECK(o.request.header("host") == "example.com");
    CHECK(o.request.header("USER-AGENT") == "test");
    CHECK(o.request.headers.begin()->first == "Host");  // names keep the client's case
}

TEST_CASE("a GET without Content-Length or Transfer-Encoding has an empty body and ends at the blank line") {
    auto o = parse(simple_get + "leftover");
    REQUIRE(o.result.status == ParseStatus::complete);
    CHECK(o.result.consumed == simple_get.size());
    CHECK(o.request.body.empty());
}

TEST_CASE("a POST body is read to its Content-Length and the bytes after it are not consumed") {
    CHECK(parse_status(post_with_body.substr(0, post_with_body.size() - 1)) == -1);
    auto o = parse(post_with_body + "GET");
    REQUIRE(o.result.status == ParseStatus::complete);
    CHECK(o.result.consumed == post_with_body.size());
    CHECK(o.request.body == "hello world");
    CHECK(parse_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n") == 0);
}

TEST_CASE("a chunked body is decoded, extensions are ignored and trailer fields are kept") {
    auto o = parse(chunked_with_trailer);
    REQUIRE(o.result.status == ParseStatus::complete);
    CHECK(o.result.consumed == chunked_with_trailer.size());
    CHECK(o.request.body == "hello 0123456789");
    CHECK(o.request.trailers.size() == 1);
    CHECK(o.request.trailers.get("x-checksum") == "abc");
    CHECK(o.request.header("transfer-encoding") == "chunked");
}

TEST_CASE("chunk sizes are hexadecimal in either case, with leading zeros allowed") {
    auto o = parse(chunked("a\r\n0123456789\r\nB\r\n0123456789a\r\n0001\r\nz\r\n000\r\n\r\n"));
    REQUIRE(o.result.status == ParseStatus::complete);
    CHECK(o.request.body == "01234567890123456789az");
}

TEST_CASE("chunk extensions may be tokens or quoted strings, with whitespace around ';' and '='") {
    CHECK(parse_status(chunked("3;a\r\nabc\r\n0\r\n\r\n")) == 0);
    CHECK(parse_status(chunked("3 ; a = b ;c\r\nabc\r\n0;last\r\n\r\n")) == 0);
    CHECK(parse_status(chunked("3;a=\"x;y=z\\\\\"\r\nabc\r\n0\r\n\r\n")) == 0);
}

TEST_CASE("trailer fields that could change framing or routing are dropped") {
    auto o = parse(chunked("0\r\nContent-Length: 5\r\nHost: evil\r\nTransfer-Encoding: gzip\r\nX-Ok: 1\r\n\r\n"));
    REQUIRE(o.result.status == ParseStatus::complete);
    CHECK(o.request.trailers.size() == 1);
    CHECK(o.request.trailers.get("x-ok") == "1");
    CHECK(o.request.headers.count("host") == 1);
}

TEST_CASE("optional whitespace around a header value is trimmed, inner whitespace kept, empty values allowed") {
    auto o = parse(with_header("X-A: \t one  two \t ") + "");
    REQUIRE(o.result.status == ParseStatus::complete);
    CHECK(o.request.header("x-a") == "one  two");
    auto e = parse(with_header("X-Empty:"));
    REQUIRE(e.result.status == ParseStatus::complete);
    CHECK(e.request.header("x-empty") == "");
    auto t = parse(with_header("X-Tab: a\tb"));
    CHECK(t.request.header("x-tab") == "a\tb");
}

TEST_CASE("bytes above 0x7F in a header value are accepted as obs-text") {
    auto o = parse(with_header("X-Name: caf\xc3\xa9"));
    REQUIRE(o.result.status == ParseStatus::complete);
    CHECK(o.request.header("x-name") == "caf\xc3\xa9");
}

TEST_CASE("a single empty line before the request line is tolerated and counted as consumed") {
    auto o = parse("\r\n" + simple_get);
    REQUIRE(o.result.status == ParseStatus::complete);
    CHECK(o.result.consumed == simple_get.size() + 2);
    CHECK(o.request.method == "GET");
    CHECK(parse_status("\r\n\r\n" + simple_get) == 400);
    CHECK(parse_status("\n" + simple_get) == 400);
}

// ---- incremental parsing ----

TEST_CASE("a request fed one byte at a time parses exactly as when it arrives whole") {
    for (const std::string& req : {simple_get, post_with_body, chunked_with_trailer, "\r\n" + simple_get}) {
        CAPTURE(req);
        auto whole = parse(req);
        REQUIRE(whole.result.status == ParseStatus::complete);
        std::vector<std::size_t> cuts;
        for (std::size_t i = 0; i < req.size(); ++i) cuts.push_back(i);
        auto bytewise = feed(req, cuts);
        REQUIRE(bytewise.result.status == ParseStatus::complete);
        CHECK(bytewise.result.consumed == req.size());
        check_same_request(whole.request, bytewise.request);
    }
}

TEST_CASE("a request split at random points parses exactly as when it arrives whole") {
    std::mt19937 rng(12345);
    for (const std::string& req : {simple_get, post_with_body, chunked_with_trailer}) {
        auto whole = parse(req);
        for (int round = 0; round < 200; ++round) {
            std::vector<std::size_t> cuts;
            std::size_t at = 0;
            while (true) {
                at += 1 + rng() % 12;
                if (at >= req.size()) break;
                cuts.push_back(at);
            }
            auto split = feed(req, cuts);
            REQUIRE(split.result.status == ParseStatus::complete);
            CHECK(split.result.consumed == req.size());
            check_same_request(whole.request, split.request);
        }
    }
}

TEST_CASE("errors are found the same way whether the bytes arrive whole or one at a time") {
    for (std::string bad : {with_header("Bad Name: x"), chunked("3\r\nabcXY"), chunked("zz\r\n"),
                            std::string("GET / HTTP/1.1\nHost: h\r\n\r\n")}) {
        CAPTURE(bad);
        std::vector<std::size_t> cuts;
        for (std::size_t i = 0; i < bad.size(); ++i) cuts.push_back(i);
        CHECK(feed(bad, cuts).result.error_status == 400);
        CHECK(parse(bad).result.error_status == 400);
    }
}

TEST_CASE("several pipelined requests in one buffer are parsed one after another with reset") {
    const std::string buffer = simple_get + post_with_body + chunked_with_trailer + "GET /last HTTP/1.0\r\n\r\n";
    RequestParser parser;
    Request req;
    std::string_view rest = buffer;
    std::vector<std::string> paths;
    std::vector<std::string> bodies;
    while (!rest.empty()) {
        auto r = parser.parse(rest, req);
        REQUIRE(r.status == ParseStatus::complete);
        REQUIRE(r.consumed <= rest.size());
        paths.push_back(req.path);
        bodies.push_back(req.body);
        rest.remove_prefix(r.consumed);
        parser.reset();
    }
    CHECK(paths == std::vector<std::string>{"/items/42", "/upload", "/chunks", "/last"});
    CHECK(bodies == std::vector<std::string>{"", "hello world", "hello 0123456789", ""});
    CHECK(req.version == 10);
    CHECK(req.query_string.empty());  // the reused Request holds nothing of the previous one
    CHECK(req.trailers.empty());
}

TEST_CASE("a complete request followed by a partial one leaves the partial one for the next parse") {
    const std::string buffer = simple_get + "GET /next HT";
    RequestParser parser;
    Request req;
    auto r = parser.parse(buffer, req);
    REQUIRE(r.status == ParseStatus::complete);
    CHECK(r.consumed == simple_get.size());
    parser.reset();
    std::string rest = buffer.substr(r.consumed);
    CHECK(parser.parse(rest, req).status == ParseStatus::need_more);
    rest += "TP/1.1\r\nHost: h\r\n\r\n";
    r = parser.parse(rest, req);
    REQUIRE(r.status == ParseStatus::complete);
    CHECK(req.path == "/next");
}

// ---- request line ----

TEST_CASE("HTTP/1.0 and HTTP/1.1 are accepted, another well-formed version is answered with 505") {
    CHECK(parse("GET / HTTP/1.0\r\n\r\n").request.version == 10);
    CHECK(parse("GET / HTTP/1.1\r\nHost: h\r\n\r\n").request.version == 11);
    CHECK(parse_status("GET / HTTP/2.0\r\nHost: h\r\n\r\n") == 505);
    CHECK(parse_status("GET / HTTP/1.2\r\nHost: h\r\n\r\n") == 505);
    CHECK(parse_status("GET / HTTP/0.9\r\n\r\n") == 505);
    CHECK(parse_status("GET / HTTP/3.0\r\n\r\n") == 505);
}

TEST_CASE("a malformed HTTP version is rejected with 400") {
    for (auto line : {"GET / http/1.1", "GET / HTTP/1.10", "GET / HTTP/1", "GET / HTTP/1.1 ", "GET / HTTPS/1.1",
                      "GET / HTTP/a.b", "GET /", "GET / HTTP/1.1 extra", "GET / HTTP/1,1"}) {
        CAPTURE(line);
        CHECK(parse_status(std::string(line) + "\r\nHost: h\r\n\r\n") == 400);
    }
}

TEST_CASE("a method that is not a token, or extra spaces in the request line, are rejected with 400") {
    for (auto line : {"GE(T / HTTP/1.1", " / HTTP/1.1", "GET  / HTTP/1.1", "GET /  HTTP/1.1", "GET\t/ HTTP/1.1",
                      "G\xc3\x89T / HTTP/1.1", "", "GET"}) {
        CAPTURE(line);
        CHECK(parse_status(std::string(line) + "\r\nHost: h\r\n\r\n") == 400);
    }
    auto o = parse("M-SEARCH * HTTP/1.1\r\nHost: h\r\n\r\n");
    CHECK(o.result.error_status == 400);  // asterisk-form, but not OPTIONS
    CHECK(parse("PURGE /x HTTP/1.1\r\nHost: h\r\n\r\n").request.method == "PURGE");
}

TEST_CASE("an absolute-form target gives its path and query; the authority is not part of the path") {
    auto o = parse("GET http://host:8080/p?q HTTP/1.1\r\nHost: host:8080\r\n\r\n");
    REQUIRE(o.result.status == ParseStatus::complete);
    CHECK(o.request.target == "http://host:8080/p?q");
    CHECK(o.request.path == "/p");
    CHECK(o.request.raw_path == "/p");
    CHECK(o.request.query_string == "q");

    auto bare = parse("GET HTTPS://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n");
    REQUIRE(bare.result.status == ParseStatus::complete);
    CHECK(bare.request.path == "/");
    auto q = parse("GET http://[::1]:80?a=1 HTTP/1.1\r\nHost: h\r\n\r\n");
    REQUIRE(q.result.status == ParseStatus::complete);
    CHECK(q.request.path == "/");
    CHECK(q.request.query_string == "a=1");
}

TEST_CASE("with an absolute-form target, its authority replaces the value of the Host field") {
    auto o = parse("GET http://real.example:8080/p HTTP/1.1\r\nHost: other.example\r\nAccept: */*\r\n\r\n");
    REQUIRE(o.result.status == ParseStatus::complete);
    CHECK(o.request.headers.count("host") == 1);
    CHECK(o.request.header("host") == "real.example:8080");
    CHECK(parse("GET / HTTP/1.1\r\nHost: other.example\r\n\r\n").request.header("host") == "other.example");
    CHECK(parse_status("GET http://real.example/p HTTP/1.1\r\n\r\n") == 400);  // Host is still required
}

TEST_CASE("HTTP/1.0 with an absolute-form target and no Host: the target's authority is the host (RFC 9112 §3.2.2)") {
    auto o = parse("GET http://real.example:8080/p?q=1 HTTP/1.0\r\nAccept: */*\r\n\r\n");
    REQUIRE(o.result.status == ParseStatus::complete);
    CHECK(o.request.headers.count("host") == 1);
    CHECK(o.request.header("host") == "real.example:8080");
    CHECK(o.request.path == "/p");
    CHECK(o.request.query_string == "q=1");
    CHECK(parse("GET HTTP://[::1] HTTP/1.0\r\n\r\n").request.header("host") == "[::1]");
    // With a Host field too, the target's authority replaces it, over HTTP/1.0 as over 1.1.
    auto both = parse("GET http://real.example/p HTTP/1.0\r\nHost: other.example\r\n\r\n");
    CHECK(both.request.headers.count("host") == 1);
    CHECK(both.request.header("host") == "real.example");
    // Origin-form over HTTP/1.0 still needs no Host and gets none.
    CHECK_FALSE(parse("GET /p HTTP/1.0\r\n\r\n").request.headers.contains("host"));
    // The added field counts against max_header_count.
    Limits two;
    two.max_header_count = 2;
    CHECK(parse_status("GET http://h/ HTTP/1.0\r\nA: 1\r\n\r\n", two) == 0);
    CHECK(parse_status("GET http://h/ HTTP/1.0\r\nA: 1\r\nB: 2\r\n\r\n", two) == 431);
    CHECK(parse_status("GET /h HTTP/1.0\r\nA: 1\r\nB: 2\r\n\r\n", two) == 0);
    // However the bytes are split.
    std::string text = "GET http://real.example/p HTTP/1.0\r\n\r\n";
    for (std::size_t cut = 1; cut < text.size(); ++cut)
        CHECK(feed(text, {cut}).request.header("host") == "real.example");
}

TEST_CASE("an absolute-form target with no host, userinfo or a scheme other than http(s) is rejected with 400") {
    for (auto t : {"http:///p", "http://user@host/p", "http://:80/", "ftp://host/p", "http:/host/p", "http://ho st/"}) {
        CAPTURE(t);
        CHECK(parse_status("GET " + std::string(t) + " HTTP/1.1\r\nHost: h\r\n\r\n") == 400);
    }
}

TEST_CASE("asterisk-form is accepted for OPTIONS only") {
    auto o = parse("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n");
    REQUIRE(o.result.status == ParseStatus::complete);
    CHECK(o.request.path == "*");
    CHECK(o.request.target == "*");
    CHECK(parse_status("GET * HTTP/1.1\r\nHost: h\r\n\r\n") == 400);
    CHECK(parse_status("OPTIONS *x HTTP/1.1\r\nHost: h\r\n\r\n") == 400);
}

TEST_CASE("authority-form and other targets that are not a path or an http URI are rejected with 400") {
    for (auto t : {"example.com:443", "foo", "?q", "%2F", "mailto:x@y"}) {
        CAPTURE(t);
        CHECK(parse_status("GET " + std::string(t) + " HTTP/1.1\r\nHost: h\r\n\r\n") == 400);
    }
    CHECK(parse_status("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n") == 400);
}

TEST_CASE("a request target with control characters, non-ASCII bytes or a fragment is rejected with 400") {
    for (auto t : {std::string("/a\x01"), std::string("/caf\xc3\xa9"), std::string("/a#frag"), std::string("/a\x7f"),
                   std::string("/a\0b", 4)}) {
        CHECK(parse_status("GET " + t + " HTTP/1.1\r\nHost: h\r\n\r\n") == 400);
    }
}

TEST_CASE("a request target longer than max_target_bytes is rejected with 414") {
    Limits limits;
    limits.max_target_bytes = 16;
    CHECK(parse_status("GET /" + std::string(15, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n", limits) == 0);
    CHECK(parse_status("GET /" + std::string(16, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n", limits) == 414);
}

TEST_CASE("a too-long request target is rejected with 414 before the request line ends") {
    Limits limits;
    limits.max_target_bytes = 16;
    CHECK(parse_status("GET /" + std::string(15, 'a'), limits) == -1);
    CHECK(parse_status("GET /" + std::string(16, 'a'), limits) == 414);
    CHECK(parse_status("GET /" + std::string(16, 'a') + " HTT", limits) == 414);
    std::vector<std::size_t> cuts;
    for (std::size_t i = 0; i < 40; ++i) cuts.push_back(i);
    auto o = feed("GET /" + std::string(100, 'a'), cuts, limits);
    CHECK(o.result.error_status == 414);
}

// ---- path decoding ----

TEST_CASE("the path is percent-decoded and the raw path kept; the query is left encoded") {
    auto o = parse("GET /a%20b/%C3%a9+c?x=%20+ HTTP/1.1\r\nHost: h\r\n\r\n");
    REQUIRE(o.result.status == ParseStatus::complete);
    CHECK(o.request.path == "/a b/\xc3\xa9+c");
    CHECK(o.request.raw_path == "/a%20b/%C3%a9+c");
    CHECK(o.request.query_string == "x=%20+");
}

TEST_CASE("an invalid percent-escape in the path is rejected with 400") {
    for (auto t : {"/a%", "/a%2", "/a%zz", "/a%2g", "/%%"}) {
        CAPTURE(t);
        auto o = parse("GET " + std::string(t) + " HTTP/1.1\r\nHost: h\r\n\r\n");
        CHECK(o.result.error_status == 400);
        CHECK(o.reason == "Invalid percent-encoding in path");
    }
}

TEST_CASE("a path that decodes to a NUL byte is rejected with 400") {
    auto o = parse("GET /a%00b HTTP/1.1\r\nHost: h\r\n\r\n");
    CHECK(o.result.error_status == 400);
    CHECK(o.reason == "NUL in path");
}

TEST_CASE("percent_decode decodes escapes in either case, optionally '+' as space, and refuses bad escapes") {
    std::string out = "previous contents";
    CHECK(percent_decode("a%20b%2fc%2F", out));
    CHECK(out == "a b/c/");
    CHECK(percent_decode("a+b", out));
    CHECK(out == "a+b");
    CHECK(percent_decode("a+b%2B", out, true));
    CHECK(out == "a b+");
    CHECK(percent_decode("", out));
    CHECK(out.empty());
    CHECK_FALSE(percent_decode("%", out));
    CHECK_FALSE(percent_decode("%4", out));
    CHECK_FALSE(percent_decode("%G0", out));
    CHECK_FALSE(percent_decode("ab%0", out));
}

// ---- header fields ----

TEST_CASE("whitespace between a header name and the colon is rejected with 400") {
    auto o = parse(with_header("X-A : b"));
    CHECK(o.result.error_status == 400);
    CHECK(o.reason == "Whitespace before colon in header field");
    CHECK(parse_status(with_header("X-A\t: b")) == 400);
}

TEST_CASE("a header name that is not a token, or a field line without a colon, is rejected with 400") {
    for (auto f : {"X(A): b", "X\"A: b", ": b", "NoColon", "X A: b", "X@A: b", "X\xc3\xa9: b"}) {
        CAPTURE(f);
        CHECK(parse_status(with_header(f)) == 400);
    }
}

TEST_CASE("obs-fold (a field line starting with whitespace) is rejected with 400") {
    auto o = parse("GET / HTTP/1.1\r\nHost: h\r\nX-A: one\r\n two\r\n\r\n");
    CHECK(o.result.error_status == 400);
    CHECK(o.reason == "Obsolete line folding");
    CHECK(parse_status("GET / HTTP/1.1\r\n\tHost: h\r\n\r\n") == 400);
    CHECK(parse_status("GET / HTTP/1.1\r\n Host: h\r\n\r\n") == 400);
}

TEST_CASE("a bare CR anywhere in the header section is rejected with 400") {
    CHECK(parse_status(with_header("X-A: a\rb")) == 400);
    CHECK(parse_status(with_header("X-A: a\r")) == 400);
    CHECK(parse_status("GET /\r HTTP/1.1\r\nHost: h\r\n\r\n") == 400);
    CHECK(parse_status("GET / HTTP/1.1\r\r\nHost: h\r\n\r\n") == 400);
    CHECK(parse_status("GET / HTTP/1.1\r\nHost: h\r\n\rX\r\n\r\n") == 400);
    CHECK(parse_status("\rGET / HTTP/1.1\r\nHost: h\r\n\r\n") == 400);
}

TEST_CASE("a bare LF as a line terminator is rejected with 400 wherever it appears") {
    CHECK(parse_status("GET / HTTP/1.1\nHost: h\r\n\r\n") == 400);
    CHECK(parse_status("GET / HTTP/1.1\r\nHost: h\n\r\n") == 400);
    CHECK(parse_status("GET / HTTP/1.1\r\nHost: h\r\n\n") == 400);
    CHECK(parse_status(chunked("3\nabc\r\n0\r\n\r\n")) == 400);
    CHECK(parse_status(chunked("3\r\nabc\n0\r\n\r\n")) == 400);
    CHECK(parse_status(chunked("3\r\nabc\r\n0\n\r\n")) == 400);
    CHECK(parse_status(chunked("3\r\nabc\r\n0\r\nX: y\n\r\n")) == 400);
    CHECK(parse_status(chunked("3\r\nabc\r\n0\r\n\n")) == 400);
}

TEST_CASE("NUL anywhere in the header section is rejected with 400") {
    using namespace std::string_literals;
    CHECK(parse_status(with_header("X-A: a\0b"s)) == 400);
    CHECK(parse_status(with_header("X\0A: b"s)) == 400);
    CHECK(parse_status("GET /\0 HTTP/1.1\r\nHost: h\r\n\r\n"s) == 400);
    CHECK(parse_status("G\0T / HTTP/1.1\r\nHost: h\r\n\r\n"s) == 400);
    CHECK(parse(with_header("X-A: a\0b"s)).reason == "NUL in header value");
}

TEST_CASE("control characters other than HTAB in a header value are rejected with 400") {
    for (char c : {'\x01', '\x08', '\x0b', '\x0c', '\x1b', '\x1f', '\x7f'}) {
        CAPTURE(int(c));
        CHECK(parse_status(with_header(std::string("X-A: a") + c + "b")) == 400);
    }
}

TEST_CASE("a header section larger than max_header_bytes is rejected with 431 as soon as it is") {
    Limits limits;
    limits.max_header_bytes = 64;
    std::string head = "GET / HTTP/1.1\r\nHost: h\r\n";  // 25 bytes
    std::string fits = head + "X: " + std::string(64 - 25 - 3 - 4, 'a') + "\r\n\r\n";
    REQUIRE(fits.size() == 64);
    CHECK(parse_status(fits, limits) == 0);
    std::string over = head + "X: " + std::string(64 - 25 - 3 - 3, 'a') + "\r\n\r\n";
    CHECK(parse_status(over, limits) == 431);
    // No end of line yet: the excess alone decides.
    CHECK(parse_status(head + "X: " + std::string(100, 'a'), limits) == 431);
    CHECK(parse_status("GET /" + std::string(100, 'a'), limits) == 431);
    CHECK(parse(head + "X: " + std::string(100, 'a'), limits).reason == "Header section too large");
}

TEST_CASE("more than max_header_count header fields are rejected with 431") {
    Limits limits;
    limits.max_header_count = 3;
    CHECK(parse_status("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n", limits) == 0);
    CHECK(parse_status("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n", limits) == 431);
}

TEST_CASE("a trailer section larger than the limits is rejected with 431") {
    Limits limits;
    limits.max_header_count = 2;
    CHECK(parse_status(chunked("0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"), limits) == 431);
    limits = {};
    limits.max_header_bytes = 80;
    CHECK(parse_status(chunked("0\r\nA: " + std::string(100, 'x')), limits) == 431);
}

// ---- Host ----

TEST_CASE("an HTTP/1.1 request without Host is rejected with 400; HTTP/1.0 may omit it") {
    auto o = parse("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n");
    CHECK(o.result.error_status == 400);
    CHECK(o.reason == "Missing Host header");
    CHECK(parse_status("GET / HTTP/1.0\r\n\r\n") == 0);
}

TEST_CASE("a request with more than one Host is rejected with 400") {
    CHECK(parse_status("GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n") == 400);
    CHECK(parse_status("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n") == 400);
}

TEST_CASE("an invalid Host value is rejected with 400; names, IPv4, IPv6 and ports are accepted") {
    for (auto h : {"example.com", "example.com:8080", "127.0.0.1:80", "[::1]", "[::1]:8000", "", "a-b_c~d.e",
                   "xn--caf-dma.fr", "host:", "%41bc"}) {
        CAPTURE(h);
        CHECK(parse_status("GET / HTTP/1.1\r\nHost: " + std::string(h) + "\r\n\r\n") == 0);
    }
    for (auto h : {"exa mple.com", "user@host", "host:80a", "host/path", "[::1", "[]", "host:80:90", "a\"b",
                   "%4", "h?q"}) {
        CAPTURE(h);
        CHECK(parse_status("GET / HTTP/1.1\r\nHost: " + std::string(h) + "\r\n\r\n") == 400);
    }
}

// ---- framing ----

TEST_CASE("a request with both Content-Length and Transfer-Encoding is rejected with 400") {
    auto o = parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n");
    CHECK(o.result.error_status == 400);
    CHECK(o.reason == "Both Content-Length and Transfer-Encoding");
    CHECK(parse_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n") == 400);
}

TEST_CASE("Content-Length values that differ are rejected with 400; repeated identical values are accepted") {
    CHECK(parse_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd") == 400);
    CHECK(parse_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 4\r\n\r\nabcd") == 400);
    auto same = parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc");
    REQUIRE(same.result.status == ParseStatus::complete);
    CHECK(same.request.body == "abc");
    auto list = parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3 , 3\r\n\r\nabc");
    REQUIRE(list.result.status == ParseStatus::complete);
    CHECK(list.request.body == "abc");
}

TEST_CASE("a Content-Length that is empty, not all digits or too large for 64 bits is rejected with 400") {
    for (auto v : {"", "abc", "-1", "+5", "0x10", "1 2", "3,", ",3", "1.0", "18446744073709551616",
                   "99999999999999999999999"}) {
        CAPTURE(v);
        CHECK(parse_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: " + std::string(v) + "\r\n\r\n") == 400);
    }
}

TEST_CASE("a Content-Length above max_body_bytes is rejected with 413 before the body arrives") {
    Limits limits;
    limits.max_body_bytes = 10;
    CHECK(parse_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n", limits) == 413);
    CHECK(parse_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551615\r\n\r\n", limits) == 413);
    CHECK(parse_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789", limits) == 0);
}

TEST_CASE("a Transfer-Encoding whose final coding is not chunked is rejected with 400") {
    for (auto v : {"gzip", "chunked, gzip", "identity", "", " , "}) {
        CAPTURE(v);
        CHECK(parse_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: " + std::string(v) + "\r\n\r\n") == 400);
    }
    CHECK(parse_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n") == 400);
}

TEST_CASE("chunked applied twice is rejected with 400; a coding other than chunked before it with 501") {
    CHECK(parse_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n") == 400);
    auto o = parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
    CHECK(o.result.error_status == 501);
    CHECK(o.reason == "Unsupported transfer coding");
    CHECK(parse_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n") == 501);
}

TEST_CASE("Transfer-Encoding names are case-insensitive and may carry parameters and empty list elements") {
    CHECK(parse_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n") == 0);
    CHECK(parse_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: , CHUNKED ,\r\n\r\n0\r\n\r\n") == 0);
    CHECK(parse_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: ch@nked\r\n\r\n0\r\n\r\n") == 400);
}

TEST_CASE("Transfer-Encoding in an HTTP/1.0 request is rejected with 400") {
    CHECK(parse_status("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n") == 400);
}

// ---- chunked bodies ----

TEST_CASE("an invalid, empty or overflowing chunk size is rejected with 400") {
    for (auto body : {"g\r\n", "\r\n", ";a=b\r\n", "-1\r\n", "0x3\r\nabc\r\n", "10000000000000000\r\n", " 3\r\nabc\r\n",
                      "3 \r\nabc\r\n", "3;\r\nabc\r\n", "3;a=\r\nabc\r\n", "3;a=\"x\r\nabc\r\n", "3;a b\r\nabc\r\n",
                      "3;a=\"\x01\"\r\nabc\r\n", "3;a=b c\r\nabc\r\n"}) {
        CAPTURE(body);
        CHECK(parse_status(chunked(body)) == 400);
    }
}

TEST_CASE("chunk data not followed by exactly CRLF is rejected with 400") {
    CHECK(parse_status(chunked("3\r\nabcd\r\n0\r\n\r\n")) == 400);
    CHECK(parse_status(chunked("3\r\nabc\rX0\r\n\r\n")) == 400);
    CHECK(parse_status(chunked("3\r\nabcX")) == 400);  // detected without waiting for more
    CHECK(parse_status(chunked("3\r\nabc")) == -1);
    CHECK(parse_status(chunked("3\r\nabc\r")) == -1);
}

TEST_CASE("a chunked body whose decoded size exceeds max_body_bytes is rejected with 413 as soon as it does") {
    Limits limits;
    limits.max_body_bytes = 10;
    CHECK(parse_status(chunked("5\r\n01234\r\n5\r\n56789\r\n0\r\n\r\n"), limits) == 0);
    // The size line announcing the excess is enough; its data never has to arrive.
    CHECK(parse_status(chunked("5\r\n01234\r\n6\r\n"), limits) == 413);
    CHECK(parse_status(chunked("b\r\n"), limits) == 413);
    CHECK(parse_status(chunked("ffffffffffffffff\r\n"), limits) == 413);
}

TEST_CASE("chunked framing out of proportion to the body it carries is rejected") {
    Limits limits;
    limits.max_body_bytes = 16;
    limits.max_header_bytes = 64;
    std::string body;
    for (int i = 0; i < 40; ++i) body += "0001;" + std::string(20, 'e') + "\r\nx\r\n";
    CHECK(parse_status(chunked(body), limits) == 413);
    std::string line = "1;" + std::string(5000, 'e');
    CHECK(parse_status(chunked(line)) == 400);  // one size line may not grow without bound
}

TEST_CASE("a trailer field breaking the field rules is rejected with 400") {
    CHECK(parse_status(chunked("0\r\nBad Name: x\r\n\r\n")) == 400);
    CHECK(parse_status(chunked("0\r\nX: a\x01\r\n\r\n")) == 400);
    CHECK(parse_status(chunked("0\r\n folded\r\n\r\n")) == 400);
    CHECK(parse_status(chunked("0\r\nX : y\r\n\r\n")) == 400);
}

// ---- connection management ----

TEST_CASE("HTTP/1.1 keeps the connection open unless Connection lists close") {
    CHECK(parse("GET / HTTP/1.1\r\nHost: h\r\n\r\n").request.keep_alive);
    CHECK_FALSE(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n").request.keep_alive);
    CHECK_FALSE(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade, CLOSE\r\n\r\n").request.keep_alive);
    CHECK(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: closed\r\n\r\n").request.keep_alive);
}

TEST_CASE("HTTP/1.0 closes the connection unless Connection lists keep-alive") {
    CHECK_FALSE(parse("GET / HTTP/1.0\r\n\r\n").request.keep_alive);
    CHECK(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").request.keep_alive);
    CHECK_FALSE(parse("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n").request.keep_alive);
}

TEST_CASE("Expect: 100-continue is reported once the headers are complete and the body is still to come") {
    const std::string head = "POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 5\r\n\r\n";
    RequestParser parser;
    Request req;
    CHECK(parser.parse(head.substr(0, head.size() - 1), req).status == ParseStatus::need_more);
    CHECK_FALSE(parser.headers_complete());
    CHECK_FALSE(parser.expects_continue());
    CHECK(parser.parse(head, req).status == ParseStatus::need_more);
    CHECK(parser.headers_complete());
    CHECK(parser.expects_continue());
    CHECK(parser.parse(head + "ab", req).status == ParseStatus::need_more);
    CHECK(parser.parse(head + "abcde", req).status == ParseStatus::complete);
    CHECK_FALSE(parser.expects_continue());
    CHECK(req.body == "abcde");
    parser.reset();
    CHECK_FALSE(parser.headers_complete());
}

TEST_CASE("Expect: 100-continue is not reported for HTTP/1.0, without a body, or without the header") {
    auto expects = [](const std::string& req) {
        RequestParser parser;
        Request out;
        parser.parse(req, out);
        return parser.expects_continue();
    };
    CHECK(expects("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n"));
    CHECK_FALSE(expects("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"));
    CHECK_FALSE(expects("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n"));
    CHECK_FALSE(expects("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n"));
}

TEST_CASE("every error comes with a short reason and the parser repeats it until reset") {
    RequestParser parser;
    Request req;
    auto r = parser.parse("GET / HTTP/1.1\r\nHost: h\r\nX : y\r\n\r\n", req);
    CHECK(r.status == ParseStatus::error);
    CHECK_FALSE(r.error_reason.empty());
    CHECK(parser.parse("GET / HTTP/1.1\r\nHost: h\r\nX : y\r\n\r\n", req).status == ParseStatus::error);
    parser.reset();
    CHECK(parser.parse(simple_get, req).status == ParseStatus::complete);
}

// ---- the word-at-a-time scans ----

TEST_CASE("a control character is found at every position of header values of every length") {
    for (std::size_t len = 1; len <= 40; ++len) {
        for (std::size_t at = 0; at < len; ++at) {
            std::string value(len, 'v');
            value[len - 1] = '\xff';  // obs-text next to the checks must not hide them
            value[at] = '\x01';
            CAPTURE(len);
            CAPTURE(at);
            CHECK(parse_status(with_header("X-V: " + value)) == 400);
            value[at] = '\t';
            if (at == 0 || at == len - 1) continue;  // would be trimmed
            auto o = parse(with_header("X-V: " + value));
            REQUIRE(o.result.status == ParseStatus::complete);
            CHECK(o.request.header("x-v") == value);
        }
    }
}

TEST_CASE("a forbidden byte is found at every position of request targets of every length") {
    for (std::size_t len = 2; len <= 40; ++len) {
        for (std::size_t at = 1; at < len; ++at) {
            for (char bad : {'#', '\x7f', '\x80', '\x1f'}) {
                std::string target = "/" + std::string(len - 1, 'a');
                target[at] = bad;
                CAPTURE(len);
                CAPTURE(at);
                CHECK(parse_status("GET " + target + " HTTP/1.1\r\nHost: h\r\n\r\n") == 400);
            }
        }
    }
}

TEST_CASE("the fields the parser acts on are recognised in any letter case") {
    CHECK(parse_status("GET / HTTP/1.1\r\nHOST: h\r\n\r\n") == 0);
    CHECK(parse("POST / HTTP/1.1\r\nhOsT: h\r\ncontent-LENGTH: 2\r\n\r\nab").request.body == "ab");
    CHECK_FALSE(parse("GET / HTTP/1.1\r\nHost: h\r\nCONNECTION: CLOSE\r\n\r\n").request.keep_alive);
    CHECK(parse("POST / HTTP/1.1\r\nHost: h\r\nTRANSFER-ENCODING: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n").request.body == "x");
    // Same length, different name: not mistaken for Host or Content-Length.
    CHECK(parse_status("GET / HTTP/1.1\r\nHost: h\r\nHose: a b\r\n\r\n") == 0);
    CHECK(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Lengtx: 5\r\n\r\n").request.body.empty());
}
