// StaticFiles: a folder mounted under a prefix, as Starlette's StaticFiles.
#include <doctest/doctest.h>

#include "fastapi.hpp"

#include <unistd.h>  // getpid, symlink

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;

// A fresh folder tree for one test, removed afterwards:
//   <tmp>/public/{hello.txt, style.css, page.html, docs/index.html, sub/plain.txt}
//   <tmp>/secret.txt               (outside the mounted folder)
struct Site {
    fs::path root;
    fs::path public_dir;

    Site() {
        static int counter = 0;
        root = fs::temp_directory_path() /
               ("fastapi-static-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
        fs::remove_all(root);
        public_dir = root / "public";
        fs::create_directories(public_dir / "docs");
        fs::create_directories(public_dir / "sub");
        write(public_dir / "hello.txt", "Hello, static world\n");
        write(public_dir / "style.css", "body { color: red }\n");
        write(public_dir / "page.html", "<h1>page</h1>\n");
        write(public_dir / "docs" / "index.html", "<h1>docs index</h1>\n");
        write(public_dir / "sub" / "plain.txt", "plain\n");
        write(root / "secret.txt", "TOP SECRET\n");
    }
    ~Site() {
        std::error_code ec;
        fs::remove_all(root, ec);
    }
    static void write(const fs::path& p, const std::string& text) {
        std::ofstream(p, std::ios::binary) << text;
    }
};

bool leaks_secret(const fastapi::TestResponse& r) {
    return r.status_code == 200 || r.text.find("TOP SECRET") != std::string::npos;
}

}  // namespace

TEST_CASE("a mounted folder serves its files with their content type") {
    Site site;
    fastapi::App app;
    app.mount("/static", fastapi::StaticFiles(site.public_dir.string()));
    fastapi::TestClient client(app);

    auto r = client.get("/static/hello.txt");
    CHECK(r.status_code == 200);
    CHECK(r.text == "Hello, static world\n");
    CHECK(r.header("content-type") == "text/plain; charset=utf-8");
    CHECK(r.header("content-length") == "20");

    CHECK(client.get("/static/style.css").header("content-type") == "text/css; charset=utf-8");
    CHECK(client.get("/static/page.html").header("content-type") == "text/html; charset=utf-8");
    CHECK(client.get("/static/sub/plain.txt").text == "plain\n");
}

TEST_CASE("a file is streamed from disk, not copied into the response") {
    Site site;
    fastapi::StaticFiles files(site.public_dir.string());
    fastapi::Request req;
    req.method = "GET";
    req.path = "/static/hello.txt";
    fastapi::Response res = files.serve(req, "hello.txt");
    CHECK(res.body.empty());
    CHECK(fs::equivalent(res.file_path, site.public_dir / "hello.txt"));
}

TEST_CASE("a missing file is 404 with FastAPI's error body") {
    Site site;
    fastapi::App app;
    app.mount("/static", fastapi::StaticFiles(site.public_dir.string()));
    fastapi::TestClient client(app);

    auto r = client.get("/static/nope.txt");
    CHECK(r.status_code == 404);
    CHECK(r.text == R"({"detail":"Not Found"})");
    CHECK(client.get("/static/sub").status_code == 404);  // a folder is not a file without html=true
    CHECK(client.get("/static/").status_code == 404);
}

TEST_CASE("files answer GET and HEAD; other methods are 405 with Allow") {
    Site site;
    fastapi::App app;
    app.mount("/static", fastapi::StaticFiles(site.public_dir.string()));
    fastapi::TestClient client(app);

    auto head = client.head("/static/hello.txt");
    CHECK(head.status_code == 200);
    CHECK(head.text.empty());
    CHECK(head.header("content-length") == "20");
    CHECK(head.header("etag").has_value());

    for (const char* method : {"POST", "PUT", "DELETE", "PATCH"}) {
        CAPTURE(method);
        auto r = client.request(method, "/static/hello.txt");
        CHECK(r.status_code == 405);
        CHECK(r.header("allow") == "GET, HEAD");
    }
}

TEST_CASE("a file carries an ETag and a Last-Modified date") {
    Site site;
    fastapi::App app;
    app.mount("/static", fastapi::StaticFiles(site.public_dir.string()));
    fastapi::TestClient client(app);

    auto r = client.get("/static/hello.txt");
    REQUIRE(r.header("etag").has_value());
    std::string etag(*r.header("etag"));
    CHECK(etag.size() > 2);
    CHECK(etag.front() == '"');
    CHECK(etag.back() == '"');
    REQUIRE(r.header("last-modified").has_value());
    CHECK(r.header("last-modified")->ends_with(" GMT"));
    CHECK(fastapi::detail::parse_http_date(*r.header("last-modified")).has_value());
    CHECK(client.get("/static/hello.txt").header("etag") == etag);  // stable while the file is
}

TEST_CASE("a changed file gets a new ETag") {
    Site site;
    fastapi::App app;
    app.mount("/static", fastapi::StaticFiles(site.public_dir.string()));
    fastapi::TestClient client(app);

    std::string before(*client.get("/static/hello.txt").header("etag"));
    Site::write(site.public_dir / "hello.txt", "Changed, and longer than before\n");
    std::string after(*client.get("/static/hello.txt").header("etag"));
    CHECK(before != after);
}

TEST_CASE("If-None-Match with the current ETag answers 304 without a body") {
    Site site;
    fastapi::App app;
    app.mount("/static", fastapi::StaticFiles(site.public_dir.string()));
    fastapi::TestClient client(app);

    auto first = client.get("/static/hello.txt");
    std::string etag(*first.header("etag"));
    fastapi::Headers h;
    h.set("if-none-match", etag);
    auto r = client.get("/static/hello.txt", h);
    CHECK(r.status_code == 304);
    CHECK(r.text.empty());
    CHECK_FALSE(r.header("content-length").has_value());
    CHECK(r.header("etag") == etag);

    fastapi::Headers listed;  // one of several, weak form, as caches send
    listed.set("if-none-match", "\"other\", W/" + etag);
    CHECK(client.get("/static/hello.txt", listed).status_code == 304);

    fastapi::Headers stale;
    stale.set("if-none-match", "\"stale\"");
    CHECK(client.get("/static/hello.txt", stale).status_code == 200);
}

TEST_CASE("If-Modified-Since at or after Last-Modified answers 304") {
    Site site;
    fastapi::App app;
    app.mount("/static", fastapi::StaticFiles(site.public_dir.string()));
    fastapi::TestClient client(app);

    std::string last_modified(*client.get("/static/hello.txt").header("last-modified"));
    fastapi::Headers same;
    same.set("if-modified-since", last_modified);
    auto r = client.get("/static/hello.txt", same);
    CHECK(r.status_code == 304);
    CHECK(r.text.empty());

    fastapi::Headers old;
    old.set("if-modified-since", "Sun, 06 Nov 1994 08:49:37 GMT");
    CHECK(client.get("/static/hello.txt", old).status_code == 200);

    fastapi::Headers garbage;  // an unparsable date is ignored
    garbage.set("if-modified-since", "yesterday");
    CHECK(client.get("/static/hello.txt", garbage).status_code == 200);

    fastapi::Headers both;  // If-None-Match decides when both are sent
    both.set("if-modified-since", last_modified);
    both.set("if-none-match", "\"stale\"");
    CHECK(client.get("/static/hello.txt", both).status_code == 200);
}

TEST_CASE("HTTP dates are written and read as IMF-fixdate") {
    using namespace std::chrono;
    const sys_seconds t = sys_days(year(1994) / November / 6) + hours(8) + minutes(49) + seconds(37);
    CHECK(fastapi::detail::format_http_date(t) == "Sun, 06 Nov 1994 08:49:37 GMT");
    CHECK(fastapi::detail::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == t);
    CHECK_FALSE(fastapi::detail::parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT").has_value());
    CHECK_FALSE(fastapi::detail::parse_http_date("Sun, 31 Feb 1994 08:49:37 GMT").has_value());
}

TEST_CASE("a path with .. never leaves the mounted folder") {
    Site site;
    fastapi::App app;
    app.mount("/static", fastapi::StaticFiles(site.public_dir.string()));
    fastapi::TestClient client(app);

    for (const char* target : {"/static/../secret.txt", "/static/sub/../../secret.txt", "/static/..",
                               "/static/./../secret.txt", "/static/sub/../hello.txt"}) {
        CAPTURE(target);
        auto r = client.get(target);
        CHECK(r.status_code == 404);
        CHECK_FALSE(leaks_secret(r));
    }
}

TEST_CASE("a path with an encoded .. or / never leaves the mounted folder") {
    Site site;
    fastapi::App app;
    app.mount("/static", fastapi::StaticFiles(site.public_dir.string()));
    fastapi::TestClient client(app);

    for (const char* target : {"/static/%2e%2e/secret.txt", "/static/%2E%2E/secret.txt", "/static/%2e%2e%2fsecret.txt",
                               "/static/sub%2F..%2F..%2Fsecret.txt", "/static/.%2e/secret.txt",
                               "/static/%2e%2e%2f%2e%2e%2fetc%2fpasswd"}) {
        CAPTURE(target);
        auto r = client.get(target);
        CHECK(r.status_code == 404);
        CHECK_FALSE(leaks_secret(r));
    }
    // An encoded '/' between real names is still just a '/'.
    CHECK(client.get("/static/sub%2Fplain.txt").text == "plain\n");
}

TEST_CASE("an absolute path in the request stays inside the mounted folder") {
    Site site;
    fastapi::App app;
    app.mount("/static", fastapi::StaticFiles(site.public_dir.string()));
    fastapi::TestClient client(app);

    const std::string secret = (site.root / "secret.txt").string();
    for (const std::string& target : std::vector<std::string>{"/static/" + secret, "/static//etc/passwd", "/static/%2Fetc%2Fpasswd",
                                      "/static//" + secret}) {
        CAPTURE(target);
        auto r = client.get(target);
        CHECK(r.status_code == 404);
        CHECK_FALSE(leaks_secret(r));
        CHECK(r.text.find("root:") == std::string::npos);
    }
    CHECK(client.get("/static//hello.txt").status_code == 200);  // an empty segment is skipped
}

TEST_CASE("backslashes and NUL in a path are refused") {
    Site site;
    fastapi::App app;
    app.mount("/static", fastapi::StaticFiles(site.public_dir.string()));
    fastapi::TestClient client(app);

    for (const char* target : {"/static/..\\secret.txt", "/static/%5c..%5csecret.txt", "/static/sub%5Cplain.txt",
                               "/static/hello.txt%00", "/static/hello.txt%00.png"}) {
        CAPTURE(target);
        auto r = client.get(target);
        CHECK(r.status_code >= 400);  // the parser refuses some of these (400), the files the rest (404)
        CHECK_FALSE(leaks_secret(r));
    }
    fastapi::StaticFiles files(site.public_dir.string());
    fastapi::Request req;
    req.method = "GET";
    CHECK_THROWS_AS(files.serve(req, std::string("hello.txt\0", 10)), fastapi::HTTPException);
    CHECK_THROWS_AS(files.serve(req, "sub\\plain.txt"), fastapi::HTTPException);
}

TEST_CASE("a symlink pointing outside the folder is not followed out of it") {
    Site site;
    fs::create_symlink(site.root / "secret.txt", site.public_dir / "escape.txt");
    fs::create_directory_symlink(site.root, site.public_dir / "up");
    fs::create_symlink(site.public_dir / "hello.txt", site.public_dir / "alias.txt");  // stays inside
    fastapi::App app;
    app.mount("/static", fastapi::StaticFiles(site.public_dir.string()));
    fastapi::TestClient client(app);

    for (const char* target : {"/static/escape.txt", "/static/up/secret.txt", "/static/up/public/../secret.txt"}) {
        CAPTURE(target);
        auto r = client.get(target);
        CHECK(r.status_code == 404);
        CHECK_FALSE(leaks_secret(r));
    }
    CHECK(client.get("/static/alias.txt").text == "Hello, static world\n");
}

TEST_CASE("html=true serves a folder's index.html, after adding the trailing slash") {
    Site site;
    fastapi::App app;
    app.mount("/site", fastapi::StaticFiles(site.public_dir.string(), {.html = true}));
    fastapi::TestClient client(app);

    auto r = client.get("/site/docs/");
    CHECK(r.status_code == 200);
    CHECK(r.text == "<h1>docs index</h1>\n");
    CHECK(r.header("content-type") == "text/html; charset=utf-8");

    auto redirect = client.get("/site/docs?x=1");
    CHECK(redirect.status_code == 307);
    CHECK(redirect.header("location") == "/site/docs/?x=1");

    CHECK(client.get("/site/sub/").status_code == 404);  // no index.html there
    CHECK(client.get("/site/page.html").text == "<h1>page</h1>\n");
}

TEST_CASE("html=true mounted at /: the slash redirect for //host never names another host") {
    Site site;
    fs::create_directories(site.public_dir / "evil.com");
    Site::write(site.public_dir / "evil.com" / "index.html", "<h1>a folder named like a host</h1>\n");
    fastapi::App app;
    app.mount("/", fastapi::StaticFiles(site.public_dir.string(), {.html = true}));
    fastapi::TestClient client(app);
    // A browser follows "Location: //evil.com/" (or "/\evil.com/") to the host evil.com.
    for (const char* path : {"//evil.com", "///evil.com", "//evil.com?x=1", "/evil.com"}) {
        CAPTURE(path);
        auto r = client.get(path);
        CHECK(r.status_code == 307);
        CHECK(r.header("location")->starts_with("/evil.com/"));
    }
    CHECK(client.get("//evil.com?x=1").header("location") == "/evil.com/?x=1");
    CHECK(client.get("//evil.com/").text == "<h1>a folder named like a host</h1>\n");
    CHECK(client.get("//docs").header("location") == "/docs/");
}

TEST_CASE("html=true answers a missing file with the folder's 404.html") {
    Site site;
    Site::write(site.public_dir / "404.html", "<h1>lost</h1>\n");
    fastapi::App app;
    app.mount("/site", fastapi::StaticFiles(site.public_dir.string(), true));
    fastapi::TestClient client(app);

    auto r = client.get("/site/missing");
    CHECK(r.status_code == 404);
    CHECK(r.text == "<h1>lost</h1>\n");
    CHECK(r.header("content-type") == "text/html; charset=utf-8");
}

TEST_CASE("the mount point without its slash redirects to it") {
    Site site;
    Site::write(site.public_dir / "index.html", "<h1>home</h1>\n");
    fastapi::App app;
    app.mount("/site", fastapi::StaticFiles(site.public_dir.string(), {.html = true}));
    fastapi::TestClient client(app);

    auto r = client.get("/site");
    CHECK(r.status_code == 307);
    CHECK(r.header("location") == "http://testserver/site/");
    CHECK(client.get("/site/").text == "<h1>home</h1>\n");
}

TEST_CASE("a folder that does not exist is an error at startup, unless check_dir is off") {
    CHECK_THROWS_AS(fastapi::StaticFiles("/nonexistent/fastapi-static"), std::runtime_error);

    fastapi::App app;
    app.mount("/static", fastapi::StaticFiles("/nonexistent/fastapi-static", {.check_dir = false}));
    fastapi::TestClient client(app);
    CHECK(client.get("/static/x.txt").status_code == 404);
}

TEST_CASE("mounted files are routes like any other: first match wins and they stay out of the schema") {
    Site site;
    fastapi::App app;
    app.get("/static/hello.txt", [] { return fastapi::PlainTextResponse("from a route"); });
    app.mount("/static", fastapi::StaticFiles(site.public_dir.string()), "static");
    fastapi::TestClient client(app);

    CHECK(client.get("/static/hello.txt").text == "from a route");
    CHECK(client.get("/static/style.css").status_code == 200);
    const fastapi::Route& mount = *app.routes().back();
    CHECK(mount.path.pattern() == "/static/{path:path}");
    CHECK(mount.options.name == "static");
    CHECK_FALSE(mount.options.include_in_schema);
}

TEST_CASE("files are served the same through a real socket, HEAD and 304 included") {
    Site site;
    fastapi::App app;
    app.mount("/static", fastapi::StaticFiles(site.public_dir.string()));
    fastapi::ServerOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.threads = 1;
    options.handle_signals = false;
    options.log_startup = false;
    fastapi::Server server(app, options);
    server.start();
    std::thread loop([&] { server.run(); });

    auto exchange = [&](const std::string& request) {
        asio::io_context io;
        asio::ip::tcp::socket socket(io);
        socket.connect({asio::ip::make_address("127.0.0.1"), server.port()});
        asio::write(socket, asio::buffer(request));
        std::string reply;
        asio::error_code ec;
        char buf[4096];
        for (int i = 0; i < 1000; ++i) {  // until the server closes (Connection: close)
            std::size_t n = socket.read_some(asio::buffer(buf), ec);
            reply.append(buf, n);
            if (ec) break;
        }
        return reply;
    };
    std::string get = exchange("GET /static/hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    CHECK(get.starts_with("HTTP/1.1 200 OK\r\n"));
    CHECK(get.find("content-length: 20\r\n") != std::string::npos);
    CHECK(get.ends_with("\r\n\r\nHello, static world\n"));

    std::string head = exchange("HEAD /static/hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    CHECK(head.starts_with("HTTP/1.1 200 OK\r\n"));
    CHECK(head.find("content-length: 20\r\n") != std::string::npos);
    CHECK(head.ends_with("\r\n\r\n"));

    auto etag_at = get.find("etag: ");
    REQUIRE(etag_at != std::string::npos);
    std::string etag = get.substr(etag_at + 6, get.find("\r\n", etag_at) - etag_at - 6);
    std::string cached = exchange("GET /static/hello.txt HTTP/1.1\r\nHost: x\r\nIf-None-Match: " + etag +
                                  "\r\nConnection: close\r\n\r\n");
    CHECK(cached.starts_with("HTTP/1.1 304 Not Modified\r\n"));
    CHECK(cached.ends_with("\r\n\r\n"));

    server.stop();
    loop.join();
}
