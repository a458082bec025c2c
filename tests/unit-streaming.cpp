// Streamed bodies: StreamingResponse (framing by what is known and the HTTP version, HEAD/204/
// 304, back-pressure against a client that does not read, a client that leaves, a producer
// that throws, GZip compressing as it streams, cleanups after the last byte) and RequestStream
// (the body read as it arrives, its limit applied as it grows). Through a real server on
// loopback and through the TestClient.
#include <doctest/doctest.h>

#include "fastapi.hpp"
#include "support.hpp"

#include <atomic>
#include <string>
#include <vector>

namespace streaming_test {

using namespace fastapi;
using namespace std::chrono_literals;
using test::hdrs;

// A client socket whose receive buffer is small and fixed (set before connect: no
// autotuning), so that a client that does not read fills up quickly.
class SmallClient {
public:
    SmallClient(unsigned short port, int rcvbuf) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    }
    ~SmallClient() { close(); }
    void close() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }
    void send(std::string_view bytes) {
        while (!bytes.empty()) {
            ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n <= 0) return;
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
    }
    // Reads until `pred(received)`, the peer closes, or `limit` passes.
    template <class Pred>
    bool read_until(Pred pred, std::chrono::milliseconds limit = 10s) {
        auto deadline = std::chrono::steady_clock::now() + limit;
        while (!pred(data)) {
            if (closed) return false;
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return false;
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
            char chunk[65536];
            ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
            if (n <= 0) {
                closed = true;
                continue;
            }
            data.append(chunk, static_cast<std::size_t>(n));
        }
        return true;
    }
    bool read_to_close(std::chrono::milliseconds limit = 10s) {
        read_until([](const std::string&) { return false; }, limit);
        return closed;
    }
    std::string data;
    bool closed = false;

private:
    int fd_ = -1;
};

inline std::string head_of(const std::string& response) {
    auto p = response.find("\r\n\r\n");
    std::string h = p == std::string::npos ? response : response.substr(0, p);
    for (auto& c : h) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return h;
}

// A chunked body decoded: its bytes, and whether the last chunk (0) was there.
struct Dechunked {
    std::string body;
    bool complete = false;
    bool valid = true;
};
inline Dechunked dechunk(std::string_view raw) {
    Dechunked d;
    for (;;) {
        auto eol = raw.find("\r\n");
        if (eol == std::string_view::npos) return d;
        std::size_t size = 0;
        for (char c : raw.substr(0, eol)) {
            if (c == ';') break;
            int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
            if (v < 0) return d.valid = false, d;
            size = size * 16 + static_cast<std::size_t>(v);
        }
        raw.remove_prefix(eol + 2);
        if (size == 0) {
            d.complete = raw.substr(0, 2) == "\r\n";
            return d;
        }
        if (raw.size() < size + 2) return d;
        d.body.append(raw.substr(0, size));
        if (raw.substr(size, 2) != "\r\n") return d.valid = false, d;
        raw.remove_prefix(size + 2);
    }
}

// Byte i of a generated body.
inline char pattern(std::uint64_t i) { return static_cast<char>('a' + i % 26); }

inline asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
    asio::steady_timer t(co_await asio::this_coro::executor, d);
    co_await t.async_wait(asio::use_awaitable);
}

// "hello" then " world", length unknown.
inline Response hello_stream() {
    return StreamingResponse([](StreamWriter& out) -> asio::awaitable<void> {
        co_await out.write("hello");
        co_await out.write(" world");
    }, "text/plain");
}

TEST_CASE("streaming: TestClient reads a streamed body; the headers are the server's") {
    App app;
    app.get("/", [] { return hello_stream(); });
    app.get("/known", [] {
        return StreamingResponse([](StreamWriter& out) -> asio::awaitable<void> {
            co_await out.write("12345");
        }, "text/plain", 200, 5);
    });
    TestClient client(app);
    auto r = client.get("/");
    CHECK(r.status_code == 200);
    CHECK(r.text == "hello world");
    CHECK(r.header("transfer-encoding") == "chunked");
    CHECK_FALSE(r.header("content-length"));
    CHECK(r.header("content-type") == "text/plain");
    auto k = client.get("/known");
    CHECK(k.text == "12345");
    CHECK(k.header("content-length") == "5");
    CHECK_FALSE(k.header("transfer-encoding"));
}

TEST_CASE("streaming: framing on the wire: Content-Length when known, chunked on 1.1, until close on 1.0") {
    App app;
    app.get("/", [] { return hello_stream(); });
    app.get("/known", [] {
        return StreamingResponse([](StreamWriter& out) -> asio::awaitable<void> {
            co_await out.write("123");
            co_await out.write("45");
        }, "text/plain", 200, 5);
    });
    app.get("/ping", [] { return std::string("pong"); });
    test::LiveServer server(app);
    {  // chunked, and the connection is kept: a second request on it is answered
        test::RawClient c(server.port());
        c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        auto raw = c.read_until([](const std::string& b) { return b.find("0\r\n\r\n") != std::string::npos; });
        CHECK(head_of(raw).find("transfer-encoding: chunked") != std::string::npos);
        CHECK(head_of(raw).find("content-length") == std::string::npos);
        CHECK(test::body_of(raw) == "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
        c.buffer().clear();
        c.send("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n");
        CHECK(test::body_of(c.read_response()) == "\"pong\"");
    }
    {  // known length
        test::RawClient c(server.port());
        c.send("GET /known HTTP/1.1\r\nHost: x\r\n\r\n");
        auto raw = c.read_response();
        CHECK(head_of(raw).find("content-length: 5") != std::string::npos);
        CHECK(head_of(raw).find("transfer-encoding") == std::string::npos);
        CHECK(test::body_of(raw) == "12345");
    }
    {  // HTTP/1.0: neither header; the body ends when the connection closes
        test::RawClient c(server.port());
        c.send("GET / HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n");
        CHECK(c.closed_by_peer());
        auto raw = c.buffer();
        CHECK(head_of(raw).find("content-length") == std::string::npos);
        CHECK(head_of(raw).find("transfer-encoding") == std::string::npos);
        CHECK(head_of(raw).find("connection: close") != std::string::npos);
        CHECK(test::body_of(raw) == "hello world");
    }
}

TEST_CASE("streaming: HEAD, 204 and 304 send no body and do not run the producer") {
    static std::atomic<int> runs{0};
    runs = 0;
    auto counted = [](int status) {
        return StreamingResponse([](StreamWriter& out) -> asio::awaitable<void> {
            ++runs;
            co_await out.write("body");
        }, "text/plain", status);
    };
    App app;
    app.api_route("/", {"GET", "HEAD"}, [counted] { return counted(200); });
    app.get("/204", [counted] { return counted(204); });
    app.get("/304", [counted] { return counted(304); });
    {
        TestClient client(app);
        auto h = client.head("/");
        CHECK(h.status_code == 200);
        CHECK(h.text.empty());
        CHECK(client.get("/204").text.empty());
        CHECK(client.get("/304").text.empty());
        CHECK(runs == 0);
    }
    test::LiveServer server(app);
    test::RawClient c(server.port());
    c.send("HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET /204 HTTP/1.1\r\nHost: x\r\n\r\nGET /304 HTTP/1.1\r\nHost: x\r\n\r\n"
           "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    auto all = c.read_until([](const std::string& b) { return b.find("0\r\n\r\n") != std::string::npos; });
    // Four heads, one body (the GET's): nothing between the bodiless answers.
    CHECK(all.find("HTTP/1.1 200 OK\r\n") == 0);
    auto second = all.find("HTTP/1.1 204");
    auto third = all.find("HTTP/1.1 304");
    auto fourth = all.find("HTTP/1.1 200", 1);
    REQUIRE(second != std::string::npos);
    REQUIRE(third != std::string::npos);
    REQUIRE(fourth != std::string::npos);
    CHECK(all.substr(second - 4, 4) == "\r\n\r\n");
    CHECK(all.substr(third - 4, 4) == "\r\n\r\n");
    CHECK(all.substr(fourth - 4, 4) == "\r\n\r\n");
    CHECK(head_of(all.substr(second, third - second)).find("content-length") == std::string::npos);
    CHECK(head_of(all.substr(second, third - second)).find("transfer-encoding") == std::string::npos);
    CHECK(test::body_of(all.substr(fourth)) == "4\r\nbody\r\n0\r\n\r\n");
    CHECK(runs == 1);
}

TEST_CASE("streaming: a client that does not read holds the producer back; then it gets every byte in order") {
    constexpr std::uint64_t total = 24 * 1024 * 1024;
    constexpr std::size_t chunk = 16 * 1024;
    static std::atomic<std::uint64_t> produced{0};
    produced = 0;
    App app;
    app.get("/big", [] {
        return StreamingResponse([](StreamWriter& out) -> asio::awaitable<void> {
            std::string buf(chunk, '\0');
            for (std::uint64_t at = 0; at < total; at += chunk) {
                for (std::size_t i = 0; i < chunk; ++i) buf[i] = pattern(at + i);
                co_await out.write(buf);
                produced = at + chunk;
            }
        });
    });
    test::LiveServer server(app);
    SmallClient c(server.port(), 64 * 1024);
    c.send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
    // The producer advances until the socket buffers and the connection's output are full, then
    // stops: two samples 300 ms apart agree (bounded: 5 s).
    std::uint64_t last = ~0ull;
    bool stalled = false;
    for (int i = 0; i < 16 && !stalled; ++i) {
        std::this_thread::sleep_for(300ms);
        std::uint64_t now = produced.load();
        stalled = now == last && now > 0;
        last = now;
    }
    CHECK(stalled);
    // Bounded: what is not yet read is what the kernel buffers (4 MiB for the sender at most
    // here, 64 KiB for this client) and the connection's two 64 KiB buffers hold.
    CHECK(last < 6 * 1024 * 1024);
    CHECK(last < total);
    // Now read it all: every byte, in order.
    REQUIRE(c.read_until([](const std::string& b) { return b.size() > 64 && b.compare(b.size() - 5, 5, "0\r\n\r\n") == 0; }, 30s));
    auto d = dechunk(test::body_of(c.data));
    CHECK(d.valid);
    CHECK(d.complete);
    REQUIRE(d.body.size() == total);
    bool in_order = true;
    for (std::uint64_t i = 0; i < total && in_order; ++i) in_order = d.body[i] == pattern(i);
    CHECK(in_order);
    CHECK(produced == total);
}

TEST_CASE("streaming: a client that never reads is closed by the write timeout, which cancels the producer") {
    static std::atomic<bool> aborted{false}, ended{false};
    aborted = ended = false;
    App app;
    app.get("/big", [] {
        return StreamingResponse([](StreamWriter& out) -> asio::awaitable<void> {
            std::string buf(16 * 1024, 'x');
            try {
                for (int i = 0; i < 100000; ++i) co_await out.write(buf);  // 1.6 GB: never all of it
            } catch (const asio::system_error& e) {
                aborted = e.code() == asio::error::operation_aborted;
            }
            ended = true;
        });
    });
    ServerOptions o;
    o.body_timeout = 1s;  // also the stalled write's
    test::LiveServer server(app, o);
    SmallClient c(server.port(), 64 * 1024);
    c.send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(test::eventually_true([] { return ended.load(); }, 6000ms));
    CHECK(aborted);
}

TEST_CASE("streaming: a client that disconnects mid-stream cancels the producer") {
    static std::atomic<bool> aborted{false}, ended{false};
    static std::atomic<int> chunks{0};
    aborted = ended = false;
    chunks = 0;
    App app;
    // A slow producer: between chunks it awaits a timer, which the cancellation ends too.
    app.get("/slow", [] {
        return StreamingResponse([](StreamWriter& out) -> asio::awaitable<void> {
            try {
                for (int i = 0; i < 10000; ++i) {
                    co_await out.write("tick\n");
                    ++chunks;
                    co_await sleep_for(20ms);
                }
            } catch (const asio::system_error& e) {
                aborted = e.code() == asio::error::operation_aborted;
            }
            ended = true;
        }, "text/plain");
    });
    test::LiveServer server(app);
    {
        test::RawClient c(server.port());
        c.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
        c.read_until([](const std::string& b) { return b.find("tick\n") != std::string::npos; });
    }  // closed
    CHECK(test::eventually_true([] { return ended.load(); }, 3000ms));
    CHECK(aborted);
    CHECK(chunks < 200);
}

TEST_CASE("streaming: a producer that throws midway: the connection closes, the body is left incomplete") {
    App app;
    app.get("/fails", [] {
        return StreamingResponse([](StreamWriter& out) -> asio::awaitable<void> {
            co_await out.write("partial");
            throw std::runtime_error("the producer broke");
        }, "text/plain");
    });
    app.get("/short", [] {  // ends before its declared length
        return StreamingResponse([](StreamWriter& out) -> asio::awaitable<void> {
            co_await out.write("abc");
        }, "text/plain", 200, 10);
    });
    app.get("/ping", [] { return std::string("pong"); });
    test::LiveServer server(app);
    {
        test::RawClient c(server.port());
        c.send("GET /fails HTTP/1.1\r\nHost: x\r\n\r\n");
        CHECK(c.closed_by_peer());
        auto d = dechunk(test::body_of(c.buffer()));
        CHECK(d.body == "partial");
        CHECK_FALSE(d.complete);
    }
    {
        test::RawClient c(server.port());
        c.send("GET /short HTTP/1.1\r\nHost: x\r\n\r\n");
        CHECK(c.closed_by_peer());
        CHECK(test::body_of(c.buffer()) == "abc");
    }
    test::RawClient c(server.port());  // the server goes on
    c.send("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(test::body_of(c.read_response()) == "\"pong\"");
    // The TestClient raises the producer's exception, as FastAPI's does.
    TestClient client(app);
    CHECK_THROWS_AS(client.get("/fails"), std::runtime_error);
}

namespace {
std::atomic<int> cleanups{0}, tasks{0};
std::atomic<bool> early_cleanup{false};
Scoped<int> scoped_resource() {
    return {7, [] { ++cleanups; }};
}
}  // namespace

TEST_CASE("streaming: dependency cleanups and background tasks run after the last byte") {
    cleanups = tasks = 0;
    early_cleanup = false;
    App app;
    app.get("/", [](Depends<scoped_resource> r, BackgroundTasks& bg) {
        bg.add_task([] { ++tasks; });
        return StreamingResponse([v = *r](StreamWriter& out) -> asio::awaitable<void> {
            for (int i = 0; i < 5; ++i) {
                if (cleanups != 0 || tasks != 0) early_cleanup = true;
                co_await out.write(std::to_string(v));
                co_await sleep_for(5ms);
            }
            if (cleanups != 0 || tasks != 0) early_cleanup = true;
        }, "text/plain", 200, 5);
    });
    {
        TestClient client(app);
        CHECK(client.get("/").text == "77777");
        CHECK(cleanups == 1);
        CHECK(tasks == 1);
    }
    cleanups = tasks = 0;
    test::LiveServer server(app);
    test::RawClient c(server.port());
    c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(test::body_of(c.read_response()) == "77777");
    CHECK(test::eventually_true([] { return cleanups == 1 && tasks == 1; }));
    CHECK_FALSE(early_cleanup);
}

TEST_CASE("streaming: middleware `after` sees the headers before the body is produced") {
    static std::atomic<bool> produced_before_after{false};
    static std::atomic<bool> started{false};
    started = produced_before_after = false;
    App app;
    app.add_middleware({.after = [](const Request&, Response& res) {
        if (started) produced_before_after = true;
        res.headers.set("x-seen", res.stream ? "stream" : "whole");
    }});
    app.get("/", [] {
        return StreamingResponse([](StreamWriter& out) -> asio::awaitable<void> {
            started = true;
            co_await out.write("x");
        }, "text/plain");
    });
    test::LiveServer server(app);
    test::RawClient c(server.port());
    c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    auto raw = c.read_until([](const std::string& b) { return b.find("0\r\n\r\n") != std::string::npos; });
    CHECK(head_of(raw).find("x-seen: stream") != std::string::npos);
    CHECK_FALSE(produced_before_after);
}

#ifdef FASTAPI_WITH_ZLIB
// Inflates what there is of a gzip stream (a prefix flushed with Z_SYNC_FLUSH decodes too).
inline std::string gunzip(std::string_view in, bool* ended = nullptr) {
    z_stream zs{};
    inflateInit2(&zs, 15 + 16);
    std::string out;
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs.avail_in = static_cast<uInt>(in.size());
    int rc = Z_OK;
    char buf[65536];
    while (rc == Z_OK) {
        zs.next_out = reinterpret_cast<Bytef*>(buf);
        zs.avail_out = sizeof(buf);
        rc = inflate(&zs, Z_NO_FLUSH);
        out.append(buf, sizeof(buf) - zs.avail_out);
        if (zs.avail_in == 0 && zs.avail_out != 0) break;
    }
    if (ended) *ended = rc == Z_STREAM_END;
    inflateEnd(&zs);
    return out;
}

TEST_CASE("streaming: GZip compresses a stream chunk by chunk, never holding it whole") {
    static std::atomic<bool> client_saw_first{false};
    client_saw_first = false;
    std::string expected;
    for (int i = 0; i < 2000; ++i) expected += "line " + std::to_string(i) + " of a streamed text body\n";
    App app;
    app.add_middleware(GZipMiddleware());
    app.get("/text", [&expected] {
        return StreamingResponse([&expected](StreamWriter& out) -> asio::awaitable<void> {
            co_await out.write("first line\n");
            // Wait (bounded) until the client has read and decompressed the first line: a
            // middleware that buffered the whole body would never let it.
            for (int i = 0; i < 600 && !client_saw_first; ++i) co_await sleep_for(5ms);
            for (std::size_t at = 0; at < expected.size(); at += 4096)
                co_await out.write(std::string_view(expected).substr(at, 4096));
        }, "text/plain");
    });
    app.get("/small", [] { return PlainTextResponse(std::string(1000, 'a')); });
    {
        TestClient client(app);
        client_saw_first = true;
        auto r = client.get("/text", hdrs({{"accept-encoding", "gzip"}}));
        CHECK(r.header("content-encoding") == "gzip");
        CHECK(r.header("transfer-encoding") == "chunked");
        CHECK_FALSE(r.header("content-length"));
        CHECK(r.header("vary") == "Accept-Encoding");
        bool ended = false;
        CHECK(gunzip(r.text, &ended) == "first line\n" + expected);
        CHECK(ended);
        CHECK(client.get("/text").text == "first line\n" + expected);  // not asked for: as it is
        CHECK(gunzip(client.get("/small", hdrs({{"accept-encoding", "gzip"}})).text) == std::string(1000, 'a'));
    }
    client_saw_first = false;
    test::LiveServer server(app);
    test::RawClient c(server.port(), 10000ms);
    c.send("GET /text HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n");
    c.read_until([](const std::string& b) {
        auto p = b.find("\r\n\r\n");
        return p != std::string::npos && gunzip(dechunk(std::string_view(b).substr(p + 4)).body) == "first line\n";
    });
    CHECK(gunzip(dechunk(test::body_of(c.buffer())).body) == "first line\n");
    client_saw_first = true;
    auto raw = c.read_until([](const std::string& b) { return b.size() > 5 && b.compare(b.size() - 5, 5, "0\r\n\r\n") == 0; });
    CHECK(head_of(raw).find("content-encoding: gzip") != std::string::npos);
    CHECK(head_of(raw).find("content-length") == std::string::npos);
    auto d = dechunk(test::body_of(raw));
    CHECK(d.complete);
    bool ended = false;
    CHECK(gunzip(d.body, &ended) == "first line\n" + expected);
    CHECK(ended);
    CHECK(d.body.size() < expected.size() / 2);
}
#endif

// ---- Request bodies read as they arrive ----

namespace {
struct Received {
    std::mutex mutex;
    std::vector<std::string> chunks;
    std::atomic<int> count{0};
    void add(std::string_view c) {
        std::lock_guard lock(mutex);
        chunks.emplace_back(c);
        ++count;
    }
    std::string all() {
        std::lock_guard lock(mutex);
        std::string s;
        for (auto& c : chunks) s += c;
        return s;
    }
    void clear() {
        std::lock_guard lock(mutex);
        chunks.clear();
        count = 0;
    }
};
Received received;

void stream_routes(App& app) {
    app.post("/upload", [](RequestStream& body) -> asio::awaitable<std::string> {
        std::size_t n = 0;
        for (auto chunk = co_await body.read(); !chunk.empty(); chunk = co_await body.read()) {
            received.add(chunk);
            n += chunk.size();
        }
        co_return std::to_string(n);
    });
    // Reads one chunk and answers: the rest of the body is not waited for.
    app.post("/first", [](RequestStream& body) -> asio::awaitable<std::string> {
        auto chunk = co_await body.read();
        co_return std::string(chunk.substr(0, 3));
    });
    app.get("/ping", [] { return std::string("pong"); });
}
}  // namespace

TEST_CASE("request stream: TestClient sends the body whole; the handler reads it as one chunk") {
    received.clear();
    App app;
    stream_routes(app);
    TestClient client(app);
    CHECK(client.post("/upload", "hello body").text == "\"10\"");
    CHECK(received.all() == "hello body");
    CHECK(client.post("/upload").text == "\"0\"");
    CHECK(client.request("POST", "/upload", "3\r\nabc\r\n0\r\n\r\n", hdrs({{"transfer-encoding", "chunked"}})).text == "\"3\"");
}

TEST_CASE("request stream: the handler reads a Content-Length body while it is still arriving") {
    received.clear();
    App app;
    stream_routes(app);
    test::LiveServer server(app);
    test::RawClient c(server.port(), 5000ms);
    const std::string a(3000, 'a'), b(5000, 'b');
    c.send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 8000\r\n\r\n" + a);
    // The handler has the first part before the rest is sent: the body is not buffered first.
    CHECK(test::eventually_true([&] { return received.all().size() == a.size(); }));
    c.send(b);
    auto r = c.read_response();
    CHECK(test::status_of(r) == 200);
    CHECK(test::body_of(r) == "\"8000\"");
    CHECK(received.all() == a + b);
    CHECK(received.count >= 2);
    // The connection goes on: keep-alive after a streamed body, pipelined requests too.
    c.send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nxyzGET /ping HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(test::body_of(c.read_response()) == "\"3\"");
    CHECK(test::body_of(c.read_response()) == "\"pong\"");
}

TEST_CASE("request stream: a chunked body arrives chunk by chunk, in order, extensions and trailers read") {
    received.clear();
    App app;
    stream_routes(app);
    test::LiveServer server(app);
    test::RawClient c(server.port(), 5000ms);
    c.send("POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nfirst\r\n");
    CHECK(test::eventually_true([] { return received.all() == "first"; }));
    c.send("6\r\nsecond\r\n");
    CHECK(test::eventually_true([] { return received.all() == "firstsecond"; }));
    c.send("5\r\nthird\r\n0\r\nX-Trailer: yes\r\n\r\nGET /ping HTTP/1.1\r\nHost: x\r\n\r\n");
    auto r = c.read_response();
    CHECK(test::body_of(r) == "\"16\"");
    CHECK(received.all() == "firstsecondthird");
    CHECK(received.count == 3);
    CHECK(test::body_of(c.read_response()) == "\"pong\"");
    // A broken chunk: 400, and the connection closes.
    test::RawClient bad(server.port());
    bad.send("POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
    CHECK(test::status_of(bad.read_response()) == 400);
    CHECK(bad.closed_by_peer());
}

TEST_CASE("request stream: the body limit applies as the body arrives: 413 before all of it is sent") {
    received.clear();
    App app;
    stream_routes(app);
    ServerOptions o;
    o.limits.max_body_bytes = 64 * 1024;
    test::LiveServer server(app, o);
    {  // chunked: 16 KiB chunks, never the last one; the answer comes once the limit is passed
        test::RawClient c(server.port(), 5000ms);
        c.send("POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
        const std::string chunk = "4000\r\n" + std::string(16 * 1024, 'z') + "\r\n";
        for (int i = 0; i < 5; ++i) c.send(chunk);  // 80 KiB
        auto r = c.read_response();
        CHECK(test::status_of(r) == 413);
        CHECK(received.all().size() <= 64 * 1024);
        CHECK(c.closed_by_peer());
    }
    {  // a Content-Length over the limit: refused before the handler runs
        received.clear();
        test::RawClient c(server.port(), 5000ms);
        c.send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n");
        CHECK(test::status_of(c.read_response()) == 413);
        CHECK(received.count == 0);
    }
}

TEST_CASE("request stream: a handler that answers before the end of the body; the connection closes after") {
    App app;
    stream_routes(app);
    test::LiveServer server(app);
    test::RawClient c(server.port(), 5000ms);
    c.send("POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nabcdef");
    auto r = c.read_response();
    CHECK(test::status_of(r) == 200);
    CHECK(test::body_of(r) == "\"abc\"");
    CHECK(head_of(r).find("connection: close") != std::string::npos);
    CHECK(c.closed_by_peer());
}

TEST_CASE("examples/streaming: a streamed body, the same body whole, and an upload read as it arrives") {
    test::RunningExample app("streaming");
    {
        test::RawClient c(app.port);
        c.send("GET /stream?size=100000&chunk=1000 HTTP/1.1\r\nHost: x\r\n\r\n");
        auto raw = c.read_until([](const std::string& b) { return b.find("\r\n0\r\n\r\n") != std::string::npos; });
        CHECK(test::status_of(raw) == 200);
        CHECK(head_of(raw).find("transfer-encoding: chunked") != std::string::npos);
        auto d = dechunk(test::body_of(raw));
        CHECK(d.complete);
        CHECK(d.body == std::string(100000, 'x'));
    }
    auto whole = app.ask("GET /whole HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(test::body_of(whole) == std::string(1024 * 1024, 'x'));
    CHECK(test::status_of(app.ask("GET /stream?chunk=0 HTTP/1.1\r\nHost: x\r\n\r\n")) == 422);
    auto up = app.post("/upload", "application/octet-stream", std::string(200000, 'u'));
    CHECK(test::status_of(up) == 200);
    CHECK(test::body_of(up).find("\"bytes\":200000") != std::string::npos);
    CHECK(app.child.terminate() == 0);
}

}  // namespace streaming_test
