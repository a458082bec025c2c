// Behind Debian's nginx, as deployed: examples/deploy/nginx.conf as written (its port and the
// app's replaced), in front of a server this test runs in-process with --root-path /api.
// Through nginx it checks what a handler sees (the client's address, not a spoofed one; the
// scheme, https where nginx says so), a slash redirect's Location, keep-alive from nginx to
// the app (one upstream connection for many requests), and /api/docs with /api/openapi.json.
// nginx runs with its own configuration in a temporary folder, on loopback ports, stopped by
// its pid (also when a check fails). tools/deps nginx installs it (tools/test does).
#include "support.hpp"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

namespace proxy_nginx_test {
using namespace std::chrono_literals;

inline std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

inline std::string replaced(std::string text, const std::string& from, const std::string& to) {
    std::size_t at = text.find(from);
    REQUIRE_MESSAGE(at != std::string::npos, "examples/deploy/nginx.conf no longer has: " << from);
    return text.replace(at, from.size(), to);
}

struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/fastapi-nginx-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        path = tmpl;
        ::chmod(path.c_str(), 0755);  // nginx's workers may run as another user (as root: nobody)
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
};

inline std::string nginx_binary() {
    for (const char* p : {"/usr/sbin/nginx", "/usr/bin/nginx"})
        if (::access(p, X_OK) == 0) return p;
    return {};
}

// nginx in the foreground (daemon off): our child is its master, stopped by that pid.
class Nginx {
public:
    Nginx(const std::string& binary, const std::string& dir) : dir_(dir) {
        pid_ = ::fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            int devnull = ::open("/dev/null", O_WRONLY);
            ::dup2(devnull, 1);
            ::dup2(devnull, 2);
            std::string conf = dir + "/nginx.conf", log = dir + "/error.log";
            ::execl(binary.c_str(), binary.c_str(), "-p", dir.c_str(), "-c", conf.c_str(), "-e", log.c_str(),
                    static_cast<char*>(nullptr));
            ::_exit(127);
        }
    }
    ~Nginx() { stop(); }
    // SIGTERM (nginx's fast shutdown), waited for boundedly; SIGKILL if it lingers.
    void stop() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGTERM);
        auto deadline = std::chrono::steady_clock::now() + 5s;
        while (std::chrono::steady_clock::now() < deadline) {
            if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
                pid_ = -1;
                return;
            }
            std::this_thread::sleep_for(10ms);
        }
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }
    bool running() {
        if (pid_ <= 0) return false;
        if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
            pid_ = -1;
            return false;
        }
        return true;
    }
    pid_t pid() const { return pid_; }
    std::string error_log() const { return read_text(dir_ + "/error.log"); }

private:
    std::string dir_;
    pid_t pid_ = -1;
};

// One request on a new connection from `from` (a loopback address), the whole response
// (the request says Connection: close); bounded by a deadline.
inline std::string ask(unsigned short port, const std::string& request, const char* from = "127.0.0.1") {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in local{};
    local.sin_family = AF_INET;
    ::inet_pton(AF_INET, from, &local.sin_addr);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) == 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        return {};
    }
    ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    std::string out;
    auto deadline = std::chrono::steady_clock::now() + 5s;
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
        char buf[16384];
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return out;
}

inline std::string get(unsigned short port, const std::string& target, const std::string& extra = "",
                       const char* from = "127.0.0.1") {
    return ask(port, "GET " + target + " HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n" + extra + "\r\n", from);
}

inline std::string header(const std::string& response, const std::string& name) {
    std::smatch m;
    if (std::regex_search(response, m, std::regex("\r\n" + name + ": ([^\r]*)\r\n", std::regex::icase))) return m[1];
    return {};
}

inline fastapi::App& app() {
    static fastapi::App a;
    static bool once = [] {
        // What the handler sees, one line: client, its port, scheme, host:port, root_path.
        a.get("/whoami", [](const fastapi::Request& r) {
            return fastapi::PlainTextResponse("client=" + r.client_address + " port=" + std::to_string(r.client_port) +
                                              " scheme=" + r.scheme + " host=" + r.host + ":" + std::to_string(r.port) +
                                              " root=" + r.root_path);
        });
        a.get("/items/", [] { return fastapi::PlainTextResponse("items"); });
        return true;
    }();
    (void)once;
    return a;
}
}  // namespace proxy_nginx_test

using namespace proxy_nginx_test;

TEST_CASE("behind nginx: client address, scheme, redirects, keep-alive and the docs under /api") {
    const std::string binary = nginx_binary();
    REQUIRE_MESSAGE(!binary.empty(), "nginx is not installed: tools/deps nginx");

    fastapi::ServerOptions options;
    options.root_path = "/api";              // the app is mounted under /api by nginx
    options.forwarded_allow_ips = "127.0.0.1";  // nginx's address
    options.threads = 1;
    test::LiveServer server(app(), options);

    TempDir dir;
    const unsigned short site_port = test::free_port(), tls_port = test::free_port();
    // The example site as written, on our ports.
    std::string site = read_text(std::string(FASTAPI_SOURCE_DIR) + "/examples/deploy/nginx.conf");
    REQUIRE(!site.empty());
    site = replaced(site, "listen 80;", "listen 127.0.0.1:" + std::to_string(site_port) + ";");
    site = replaced(site, "server 127.0.0.1:8000;", "server 127.0.0.1:" + std::to_string(server.port()) + ";");
    std::ofstream(dir.path + "/site.conf") << site;
    // A second site on the same upstream, as where TLS ends: nginx says https, and (for the
    // connection count) no X-Forwarded-For, so the handler sees nginx's own upstream port.
    std::ofstream(dir.path + "/nginx.conf")
        << "daemon off;\nmaster_process on;\nworker_processes 1;\n"
        << "pid " << dir.path << "/nginx.pid;\nerror_log " << dir.path << "/error.log info;\n"
        << "events { worker_connections 64; }\n"
        << "http {\n  access_log off;\n"
        << "  client_body_temp_path " << dir.path << "/body;\n  proxy_temp_path " << dir.path << "/proxy;\n"
        << "  fastcgi_temp_path " << dir.path << "/fastcgi;\n  uwsgi_temp_path " << dir.path << "/uwsgi;\n"
        << "  scgi_temp_path " << dir.path << "/scgi;\n"
        << "  include " << dir.path << "/site.conf;\n"
        << "  server {\n    listen 127.0.0.1:" << tls_port << ";\n"
        << "    location /api/ {\n      proxy_pass http://app/;\n      proxy_http_version 1.1;\n"
        << "      proxy_set_header Connection \"\";\n      proxy_set_header Host $host;\n"
        << "      proxy_set_header X-Forwarded-Proto https;\n    }\n  }\n}\n";

    Nginx nginx(binary, dir.path);
    const bool up = test::wait_for_port(site_port, 10000ms) && test::wait_for_port(tls_port, 10000ms);
    REQUIRE_MESSAGE(up, "nginx did not start: " << nginx.error_log());
    REQUIRE(nginx.running());
    // Its pid file names the process this test started and will stop.
    CHECK(test::eventually_true([&] { return read_text(dir.path + "/nginx.pid").find(std::to_string(nginx.pid())) == 0; }));

    SUBCASE("the client's address, not one it made up; the scheme and host nginx saw") {
        std::string r = get(site_port, "/api/whoami", "X-Forwarded-For: 203.0.113.5\r\n", "127.0.0.2");
        CHECK(test::status_of(r) == 200);
        // nginx appends the client (127.0.0.2, untrusted): the spoofed entry left of it is ignored.
        CHECK(test::body_of(r) == "client=127.0.0.2 port=0 scheme=http host=shop.example:80 root=/api");
        r = get(tls_port, "/api/whoami", "", "127.0.0.3");
        CHECK(test::body_of(r).find(" scheme=https host=shop.example:443 root=/api") != std::string::npos);
        CHECK(test::body_of(r).find("client=127.0.0.1 ") == 0);  // no X-Forwarded-For there: nginx itself
    }
    SUBCASE("a slash redirect names the public URL: scheme, host and the /api prefix") {
        std::string r = get(site_port, "/api/items?page=2");
        CHECK(test::status_of(r) == 307);
        CHECK(header(r, "location") == "http://shop.example/api/items/?page=2");
        r = get(tls_port, "/api/items");
        CHECK(header(r, "location") == "https://shop.example/api/items/");
        CHECK(test::body_of(get(site_port, "/api/items/")) == "items");
        r = get(site_port, "/api");
        CHECK(test::status_of(r) == 301);
        CHECK(header(r, "location").find("/api/") != std::string::npos);
    }
    SUBCASE("keep-alive from nginx to the app: one upstream connection for many requests") {
        std::set<std::string> upstream_ports;
        for (int i = 0; i < 20; ++i) {
            std::string body = test::body_of(get(tls_port, "/api/whoami"));
            std::smatch m;
            REQUIRE(std::regex_search(body, m, std::regex(" port=([0-9]+) ")));
            upstream_ports.insert(m[1]);
        }
        CHECK(upstream_ports.size() == 1);
        CHECK(*upstream_ports.begin() != "0");
    }
    SUBCASE("/api/docs loads /api/openapi.json, which lists the /api server") {
        std::string docs = get(site_port, "/api/docs");
        CHECK(test::status_of(docs) == 200);
        CHECK(docs.find("url: '/api/openapi.json'") != std::string::npos);
        CHECK(get(site_port, "/api/redoc").find("spec-url=\"/api/openapi.json\"") != std::string::npos);
        std::string doc = get(site_port, "/api/openapi.json");
        CHECK(test::status_of(doc) == 200);
        CHECK(doc.find(R"("servers":[{"url":"/api"}])") != std::string::npos);
        CHECK(doc.find(R"("/whoami":)") != std::string::npos);
    }
    nginx.stop();
    CHECK(!nginx.running());
}
