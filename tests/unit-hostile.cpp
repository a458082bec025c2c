// Hostile input through the real server (issues 9 and 17): a bounded, seeded run of random and
// adversarial requests over loopback sockets to a Server whose app has every parameter kind
// (path, query, header, cookie, a body model with Field constraints, several body parameters,
// Form, File, Depends, security helpers, coroutine and blocking handlers, StaticFiles, CORS,
// TrustedHost). The parser's fuzz corpus and mutations of it, framing and smuggling attempts,
// oversized and malformed bodies against every parameter kind, long strings against every
// constraint, huge part headers, 5,000 multipart parts, slowloris-style partial requests closed
// by the client, StaticFiles traversal tries and Host/Origin tricks. Every response seen must be
// a well-formed HTTP/1.1 response with a status in 100-599 (or the connection closes cleanly),
// no 500 appears except from the route that throws on purpose, nothing smuggled runs, no
// secret file leaks, no temporary file is left, and afterwards the server answers well-formed
// requests correctly. Inputs come from a seeded PRNG; the run is bounded in count and time.
#include "support.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>   // sort, min
#include <atomic>      // atomic
#include <cctype>      // tolower
#include <chrono>      // steady_clock
#include <cstring>     // strerror
#include <filesystem>  // temp folders
#include <fstream>     // ofstream, ifstream
#include <random>      // mt19937
#include <sstream>     // ostringstream
#include <string>
#include <thread>      // thread
#include <vector>

using namespace fastapi;
using namespace std::chrono_literals;

namespace hostile {

namespace fs = std::filesystem;
using steady = std::chrono::steady_clock;

// Pattern<> fields get strings close to the body limit too: the matcher is linear-time and
// never recurses per character (regex.hpp; libstdc++'s std::regex overflowed the stack here).
constexpr std::size_t max_pattern_input = 1000 * 1000;

// --- the application: every parameter kind ---

struct Profile {
    Field<std::string, MinLength<1>, MaxLength<20>> name;
    Field<int64_t, Ge<0>, Le<150>> age;
    std::vector<Field<std::string, MaxLength<10>>> tags;
    Field<double, Gt<0>, Lt<1000>> weight;
    std::optional<bool> active;
};

struct Code {
    Field<std::string, Pattern<"^[a-z]+$">> code;  // see max_pattern_input
};

constexpr OAuth2PasswordBearer<"token"> oauth2{};
constexpr HTTPBasic<> basic{};
constexpr APIKeyHeader<"X-API-Key"> api_key{};
constexpr APIKeyCookie<"session"> api_cookie{};

std::string common(Query<"skip", int64_t, Ge<0>, Le<1000000>, Default<0>> skip,
                   Header<"x_trace", std::optional<std::string>, MaxLength<32>> trace) {
    return std::to_string(*skip) + "/" + trace->value_or("-");
}

std::atomic<int> smuggled{0};  // only ever named inside bodies or refused requests: must stay 0

void add_routes(App& app, const fs::path& static_dir) {
    app.get("/items/{item_id}", [](Path<"item_id", int64_t, Ge<1>> item_id,
                                   Query<"q", std::optional<std::string>, MaxLength<50>> q,
                                   Query<"limit", int64_t, Ge<1>, Le<100>, Default<10>> limit,
                                   Query<"tag", std::vector<std::string>> tags,
                                   Header<"x_token", std::optional<std::string>, MaxLength<64>> token,
                                   Cookie<"session", std::optional<std::string>, MaxLength<64>> session) {
        return "item " + std::to_string(*item_id) + " q=" + q->value_or("-") + " limit=" + std::to_string(*limit) +
               " tags=" + std::to_string(tags->size()) + " token=" + token->value_or("-") +
               " session=" + session->value_or("-");
    });
    app.post("/items/", [](test::Item item, Query<"notify", bool, Default<false>> notify) {
        return *notify ? test::Item{} : item;
    });
    app.put("/profiles/{name}", [](Path<"name", std::string, MaxLength<20>> name, Body<"profile", Profile> profile,
                                   Body<"importance", int64_t, Gt<0>, Le<10>> importance) {
        return *name + ":" + std::to_string(*importance) + ":" + std::to_string(profile->tags.size());
    });
    app.post("/codes", [](Code c) { return c; });
    app.post("/login", [](Form<"username", std::string, MaxLength<20>> username,
                          Form<"password", std::string, MinLength<1>, MaxLength<64>> password) {
        return *username + ":" + std::to_string(password->size());
    });
    app.post("/upload", [](File<"file", UploadFile> file, Form<"note", std::optional<std::string>, MaxLength<100>> note) {
        return file->filename + ":" + std::to_string(file->size) + ":" + note->value_or("-");
    });
    app.post("/uploads", [](File<"files", std::vector<UploadFile>> files) { return files->size(); });
    app.post("/bytes", [](File<"data", std::string> data) { return data->size(); });
    app.get("/me", [](Depends<oauth2> token) { return *token; });
    app.get("/basic", [](Depends<basic> c) { return c->username; });
    app.get("/key", [](Depends<api_key> key, Depends<api_cookie> cookie) { return *key + "/" + *cookie; });
    app.get("/dep", [](Depends<common> c) { return *c; });
    app.get("/async", [](Query<"n", int64_t, Ge<0>, Le<10>> n) -> asio::awaitable<int64_t> {
        co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
        co_return *n;
    });
    app.get("/blocking", [](Header<"x_token", std::string, MaxLength<64>> token) { return *token; }, {.blocking = true});
    app.get("/boom", []() -> std::string { throw std::runtime_error("thrown on purpose"); });
    app.api_route("/smuggled", {"GET", "POST"}, [] {
        ++smuggled;
        return "smuggled";
    });
    app.mount("/static", StaticFiles(static_dir.string(), {.html = true}));
    app.add_middleware(CORSMiddleware({.allow_origins = {"https://app.example.com"},
                                       .allow_methods = {"GET", "POST"},
                                       .allow_headers = {"X-Token"},
                                       .allow_credentials = true}));
#ifdef FASTAPI_WITH_ZLIB
    app.add_middleware(GZipMiddleware());
#endif
}

// A folder tree for the run: <root>/public/{hello.txt, docs/index.html}, <root>/secret.txt
// outside it, and <root>/uploads for temporary files.
struct Site {
    fs::path root, public_dir, uploads;
    Site() {
        root = fs::temp_directory_path() / ("fastapi-hostile-" + std::to_string(::getpid()));
        fs::remove_all(root);
        public_dir = root / "public";
        uploads = root / "uploads";
        fs::create_directories(public_dir / "docs");
        fs::create_directories(uploads);
        std::ofstream(public_dir / "hello.txt") << "Hello, static world\n";
        std::ofstream(public_dir / "docs" / "index.html") << "<h1>docs</h1>\n";
        std::ofstream(root / "secret.txt") << "TOP SECRET\n";
        std::error_code ec;
        fs::create_symlink(root / "secret.txt", public_dir / "link.txt", ec);
    }
    ~Site() {
        std::error_code ec;
        fs::remove_all(root, ec);
    }
    std::size_t temp_files() const {
        std::size_t n = 0;
        for (auto& e : fs::directory_iterator(uploads)) n += e.is_regular_file() ? 1 : 0;
        return n;
    }
};

// --- the client side ---

// One connection: sends `request` (reading while it sends, so pipelined answers cannot block
// it), half-closes, and reads until the server closes or `limit` passes.
struct Exchange {
    std::string received;
    bool closed = false;  // the server closed (FIN or RST)
    bool reset = false;   // by RST: what it had sent may be lost, so a cut response is allowed
};

int connect_to(unsigned short port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

Exchange converse(unsigned short port, std::string_view request, std::chrono::milliseconds limit = 5000ms) {
    Exchange out;
    int fd = connect_to(port);
    const auto deadline = steady::now() + limit;
    std::size_t sent = 0;
    bool sending = true;
    if (request.empty()) {
        ::shutdown(fd, SHUT_WR);
        sending = false;
    }
    while (!out.closed) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now()).count();
        if (left <= 0) break;
        pollfd p{fd, static_cast<short>(POLLIN | (sending ? POLLOUT : 0)), 0};
        if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            char chunk[65536];
            ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
            if (n > 0) out.received.append(chunk, static_cast<std::size_t>(n));
            else if (n == 0) out.closed = true;
            else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) out.closed = out.reset = true;
        }
        if (sending && (p.revents & POLLOUT)) {
            ssize_t n = ::send(fd, request.data() + sent, std::min<std::size_t>(request.size() - sent, 65536), MSG_NOSIGNAL);
            if (n > 0) sent += static_cast<std::size_t>(n);
            else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) sending = false;  // refused
            if (sent == request.size()) {
                ::shutdown(fd, SHUT_WR);
                sending = false;
            }
        }
    }
    ::close(fd);
    return out;
}

// The responses in what a connection received. `problem` is empty when every byte belongs to
// a well-formed HTTP/1.1 response (status line, fields, framing) with a status in 100-599.
struct Responses {
    std::vector<int> statuses;
    std::vector<std::string> heads;  // lower-cased, for header checks
    std::string problem;
};

std::string lowered(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// `cut_ok`: the last response may be cut short (the connection was reset). `head_possible`: a
// response may be a HEAD's, with a Content-Length but no body.
Responses split_responses(std::string_view bytes, bool cut_ok, bool head_possible) {
    Responses r;
    auto fail = [&](std::string what) {
        if (r.problem.empty()) r.problem = std::move(what);
        return r;
    };
    while (!bytes.empty()) {
        const auto end = bytes.find("\r\n\r\n");
        if (end == std::string_view::npos) return cut_ok ? r : fail("a response head without its end");
        std::string_view head = bytes.substr(0, end + 2);
        std::string_view rest = bytes.substr(end + 4);
        const auto eol = head.find("\r\n");
        std::string_view line = head.substr(0, eol);
        if (line.size() < 13 || !line.starts_with("HTTP/1.1 ") || line[12] != ' ')
            return fail("bad status line: " + std::string(line.substr(0, 80)));
        int status = 0;
        for (std::size_t i = 9; i < 12; ++i) {
            if (line[i] < '0' || line[i] > '9') return fail("bad status code: " + std::string(line));
            status = status * 10 + (line[i] - '0');
        }
        if (status < 100 || status > 599) return fail("status out of range: " + std::string(line));
        for (char c : line.substr(13))
            if (static_cast<unsigned char>(c) < 0x20 && c != '\t') return fail("control byte in the reason phrase");
        std::optional<std::uint64_t> length;
        bool chunked = false;
        for (std::string_view fields = head.substr(eol + 2); !fields.empty();) {
            const auto next = fields.find("\r\n");
            std::string_view field = fields.substr(0, next);
            fields.remove_prefix(next + 2);
            const auto colon = field.find(':');
            if (colon == std::string_view::npos || colon == 0 || !detail::is_token(field.substr(0, colon)))
                return fail("bad field: " + std::string(field.substr(0, 80)));
            std::string_view value = field.substr(colon + 1);
            for (char c : value)
                if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7F) return fail("control byte in a field value");
            const std::string name = lowered(field.substr(0, colon));
            value = detail::trim_ows(value);
            if (name == "content-length") {
                std::uint64_t n = 0;
                if (value.empty() || value.size() > 15) return fail("bad Content-Length");
                for (char c : value) {
                    if (c < '0' || c > '9') return fail("bad Content-Length");
                    n = n * 10 + static_cast<std::uint64_t>(c - '0');
                }
                if (length && *length != n) return fail("two Content-Lengths");
                length = n;
            } else if (name == "transfer-encoding") {
                if (lowered(value) != "chunked") return fail("a transfer coding other than chunked");
                chunked = true;
            }
        }
        if (chunked && length) return fail("Content-Length with Transfer-Encoding");
        r.statuses.push_back(status);
        r.heads.push_back(lowered(head));
        if (status < 200) {
            if (length || chunked) return fail("a 1xx response with a body");
            bytes = rest;
            continue;
        }
        if (status == 204 || status == 304 || (head_possible && (rest.empty() || rest.starts_with("HTTP/1.1 ")))) {
            bytes = rest;
            continue;
        }
        if (chunked) {
            for (;;) {
                const auto le = rest.find("\r\n");
                if (le == std::string_view::npos) return cut_ok ? r : fail("a chunk size line cut short");
                std::uint64_t size = 0;
                std::string_view hex = rest.substr(0, le);
                if (hex.empty() || hex.size() > 15) return fail("bad chunk size");
                for (char c : hex) {
                    const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
                    if (d < 0) return fail("bad chunk size");
                    size = size * 16 + static_cast<std::uint64_t>(d);
                }
                rest.remove_prefix(le + 2);
                if (size == 0) {
                    if (!rest.starts_with("\r\n")) return cut_ok ? r : fail("no end after the last chunk");
                    rest.remove_prefix(2);
                    break;
                }
                if (rest.size() < size + 2) return cut_ok ? r : fail("a chunk cut short");
                if (rest.substr(size, 2) != "\r\n") return fail("a chunk without its CRLF");
                rest.remove_prefix(size + 2);
            }
            bytes = rest;
            continue;
        }
        if (!length) return fail("a response with neither Content-Length nor chunked: " + std::string(line));
        if (rest.size() < *length) return cut_ok ? r : fail("a body shorter than its Content-Length");
        bytes = rest.substr(*length);
    }
    return r;
}

// --- what every response must satisfy ---

struct Tally {
    std::size_t requests = 0, responses = 0, closed_silently = 0;
    std::vector<std::size_t> by_class = std::vector<std::size_t>(6);
};

// Checks what one (possibly pipelined, possibly malformed) request got back, and returns the
// responses for checks of the caller's own. Doctest's checks: the test's thread only.
Responses judge(const std::string& request, const Exchange& ex, Tally& tally, std::string_view label) {
    const bool head_possible = request.find("HEAD") != std::string::npos;
    Responses r = split_responses(ex.received, ex.reset, head_possible);
    ++tally.requests;
    tally.responses += r.statuses.size();
    if (r.statuses.empty()) ++tally.closed_silently;
    if (!r.problem.empty() || !ex.closed) {
        CAPTURE(label);
        CAPTURE(request.substr(0, 300));
        CAPTURE(ex.received.substr(0, 600));
        CHECK_MESSAGE(r.problem.empty(), r.problem);
        CHECK_MESSAGE(ex.closed, "the server did not close a half-closed connection within 5 s");
    }
    const bool may_throw = request.find("boom") != std::string::npos;
    for (int s : r.statuses) {
        ++tally.by_class[static_cast<std::size_t>(s / 100)];
        if (s == 500 && !may_throw) {
            CAPTURE(label);
            CAPTURE(request.substr(0, 300));
            CAPTURE(ex.received.substr(0, 600));
            FAIL_CHECK("a 500 from a request that does not ask for one");
        }
    }
    if (ex.received.find("TOP SECRET") != std::string::npos) {
        CAPTURE(label);
        CAPTURE(request.substr(0, 300));
        FAIL_CHECK("a file outside the StaticFiles folder was served");
    }
    return r;
}

Responses check_exchange(unsigned short port, const std::string& request, Tally& tally, std::string_view label) {
    return judge(request, converse(port, request), tally, label);
}

// --- building requests ---

std::string request(std::string_view method, std::string_view target, std::string_view fields = {},
                    std::string_view body = {}, std::string_view host = "localhost") {
    std::string out;
    out.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: ").append(host).append("\r\n");
    out.append(fields);
    if (!body.empty() || method == "POST" || method == "PUT") out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    out += "\r\n";
    out.append(body);
    return out;
}
std::string json_request(std::string_view method, std::string_view target, std::string_view body) {
    return request(method, target, "Content-Type: application/json\r\n", body);
}

std::string multipart_body(const std::string& boundary, const std::vector<std::string>& parts) {
    std::string body;
    for (auto& p : parts) body += "--" + boundary + "\r\n" + p + "\r\n";
    body += "--" + boundary + "--\r\n";
    return body;
}
std::string multipart_request(std::string_view target, const std::string& boundary, const std::vector<std::string>& parts) {
    return request("POST", target, "Content-Type: multipart/form-data; boundary=" + boundary + "\r\n",
                   multipart_body(boundary, parts));
}
std::string file_part(std::string_view name, std::string_view filename, std::string_view content) {
    return "Content-Disposition: form-data; name=\"" + std::string(name) + "\"; filename=\"" + std::string(filename) +
           "\"\r\nContent-Type: application/octet-stream\r\n\r\n" + std::string(content);
}
std::string field_part(std::string_view name, std::string_view value) {
    return "Content-Disposition: form-data; name=\"" + std::string(name) + "\"\r\n\r\n" + std::string(value);
}

// A literal with NUL bytes in it, whole.
template <std::size_t N>
std::string bytes(const char (&s)[N]) {
    return std::string(s, N - 1);
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::vector<std::string> corpus(const char* name) {
    std::vector<fs::path> files;
    for (auto& e : fs::directory_iterator(fs::path(FASTAPI_SOURCE_DIR) / "tests" / "fuzz" / "corpus" / name))
        if (e.is_regular_file()) files.push_back(e.path());
    std::sort(files.begin(), files.end());  // a fixed order: the run is deterministic
    std::vector<std::string> out;
    for (auto& f : files) out.push_back(read_file(f));
    return out;
}

// A seeded source of hostile bytes.
class Hostile {
public:
    explicit Hostile(std::uint32_t seed) : rng_(seed) {}

    std::size_t below(std::size_t n) { return n == 0 ? 0 : std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_); }
    bool one_in(std::size_t n) { return below(n) == 0; }
    template <class T>
    const T& pick(const std::vector<T>& v) { return v[below(v.size())]; }

    // A mutation of `s`, as a fuzzer makes them: flips, inserted tokens, cuts, repeats.
    std::string mutate(std::string s) {
        static const std::vector<std::string> tokens = {
            "\r\n", "\r\n\r\n", "\n", "\r", std::string(1, '\0'), " ", "\t", ":", ";", ",", "\xff", "%", "%00",
            "%ff", "%2e%2e/", "../", "//", "Content-Length: 5\r\n", "Content-Length: 99999999999999999999\r\n",
            "Transfer-Encoding: chunked\r\n", "Host: h\r\n", "Expect: 100-continue\r\n", "Connection: close\r\n",
            "0\r\n\r\n", "ffffffffffffffff\r\n", " HTTP/1.0\r\n", " HTTP/1.1\r\n", "http://", "*", "?", "#", "\"",
            "-1", "1e400", "{\"name\":", "[[[[[[[[", "\x0b", "\x7f", "chunked, chunked",
        };
        const std::size_t edits = 1 + below(4);
        for (std::size_t e = 0; e < edits; ++e) {
            const std::size_t at = below(s.size() + 1);
            switch (below(6)) {
                case 0:
                    if (!s.empty()) s[below(s.size())] = static_cast<char>(below(256));
                    break;
                case 1: s.insert(at, pick(tokens)); break;
                case 2: s.erase(at, below(16)); break;
                case 3: s.insert(at, s.substr(at, below(64))); break;
                case 4: s.resize(at); break;
                default: s.insert(at, std::string(1 + below(8), static_cast<char>(below(256)))); break;
            }
        }
        return s;
    }

    // A string of `n` characters for a constraint: letters, digits, or hostile bytes.
    std::string text(std::size_t n) {
        std::string s;
        s.reserve(n);
        const int kind = static_cast<int>(below(3));
        for (std::size_t i = 0; i < n; ++i) {
            if (kind == 0) s += static_cast<char>('a' + below(26));
            else if (kind == 1) s += "0123456789.-e"[below(13)];
            else s += static_cast<char>(below(256));
        }
        return s;
    }
    // A query value: as is, percent-encoded, or raw bytes that need encoding.
    std::string query_value() {
        static const std::vector<std::string> values = {
            "1", "0", "-1", "100", "101", "9223372036854775807", "9223372036854775808", "-9223372036854775809",
            "99999999999999999999", "1e400", "nan", "inf", "true", "%ff", "%ff%fe", "%00", "%", "%zz", "a%20b",
            "%E6%97%A5", "%C0%AE", "%ED%A0%80", "", "+", "%2B", "\xff",
        };
        switch (below(3)) {
            case 0: return pick(values);
            case 1: return text(below(80));
            default: {
                std::string raw = text(below(40)), out;
                for (unsigned char c : raw) {
                    char b[4];
                    std::snprintf(b, sizeof b, "%%%02X", c);
                    out += b;
                }
                return out;
            }
        }
    }
    // A JSON-ish body: valid, wrong types, out of range, truncated, or garbage.
    std::string json_value() {
        static const std::vector<std::string> values = {
            "null", "true", "0", "-1", "1e400", "-1e400", "9223372036854775808", "1.5", "\"x\"", "\"\"", "[]", "{}",
            "\"\\u0000\"", "\"\\ud800\"", "\"\xff\"", "[1,2,3]", "{\"a\":1}", "\"" + std::string(60, 'a') + "\"",
        };
        return pick(values);
    }
    std::string json_body() {
        switch (below(5)) {
            case 0: return pick(std::vector<std::string>{"", "{", "}", "[", "nul", "{\"name\":}", "{\"name\" 1}", "\xff\xfe",
                                                         "{\"name\":\"a\",}", "{\"name\":\"a\"} x", "\"\\x\""});
            case 1: return mutate(R"({"name":"Foo","description":"d","price":35.4,"tax":3.2,"tags":["a","b"]})");
            case 2: {
                std::string b = "{";
                for (std::string key : {"name", "description", "price", "tax", "tags", "age", "weight", "code", "extra"})
                    if (!one_in(3)) b += "\"" + key + "\":" + json_value() + ",";
                if (b.size() > 1) b.pop_back();
                return b + "}";
            }
            case 3: return std::string(1 + below(3000), '[') + std::string(below(3000), ']');
            default: return text(below(200));
        }
    }

    std::mt19937& rng() { return rng_; }

private:
    std::mt19937 rng_;
};

// A random request: method, target, fields and body drawn from what the app takes, framed
// right or wrong.
std::string random_request(Hostile& h) {
    static const std::vector<std::string> methods = {"GET", "GET", "GET", "POST", "POST", "PUT", "DELETE", "OPTIONS",
                                                     "PATCH", "get", "G\x01T", "CONNECT", "TRACE"};
    static const std::vector<std::string> paths = {
        "/items/1", "/items/0", "/items/-5", "/items/abc", "/items/", "/profiles/bob", "/codes", "/login",
        "/upload", "/uploads", "/bytes", "/me", "/basic", "/key", "/dep", "/async", "/blocking", "/static/hello.txt",
        "/static/docs", "/static/", "/nope", "/", "/docs", "/openapi.json", "*", "http://localhost/items/2",
        "/items/%31", "/items/1%00", "/items/%ff", "/static/%2e%2e/secret.txt", "/boom",
    };
    static const std::vector<std::string> field_names = {
        "X-Token", "Cookie", "Authorization", "X-API-Key", "X-Trace", "Origin", "Content-Type", "Accept-Encoding",
        "Access-Control-Request-Method", "Expect", "Connection", "If-None-Match", "If-Modified-Since", "Range",
    };
    std::string method = h.pick(methods);
    std::string target = h.pick(paths);
    if (!h.one_in(3)) {
        static const std::vector<std::string> keys = {"q", "limit", "tag", "notify", "skip", "n", "x", "q"};
        target += "?";
        const std::size_t n = 1 + h.below(4);
        for (std::size_t i = 0; i < n; ++i) target += (i ? "&" : "") + h.pick(keys) + "=" + h.query_value();
    }
    std::string fields;
    const std::size_t nf = h.below(5);
    for (std::size_t i = 0; i < nf; ++i) {
        std::string name = h.pick(field_names), value;
        if (name == "Cookie") value = "session=" + h.query_value() + (h.one_in(2) ? "; session=x" : "");
        else if (name == "Authorization") value = h.pick(std::vector<std::string>{"Bearer ", "Basic ", "Basic !!!", "Bearer a b", "Digest x"}) + h.query_value();
        else if (name == "Content-Type") value = h.pick(std::vector<std::string>{"application/json", "application/x-www-form-urlencoded", "multipart/form-data; boundary=B", "multipart/form-data", "text/plain", "application/json; charset=latin-1"});
        else if (name == "Accept-Encoding") value = h.pick(std::vector<std::string>{"gzip", "gzip;q=0", "*;q=0", "*", "gzip;q=x"});
        else value = h.query_value();
        fields += name + ": " + value + "\r\n";
    }
    std::string body;
    switch (h.below(4)) {
        case 0: break;
        case 1: body = h.json_body(); break;
        case 2: body = "username=" + h.query_value() + "&password=" + h.query_value(); break;
        default: body = multipart_body("B", {h.one_in(2) ? file_part("file", h.query_value(), h.text(h.below(300)))
                                                         : field_part(h.pick(std::vector<std::string>{"username", "note", "files"}), h.query_value())});
    }
    std::string out = method + " " + target + " HTTP/1.1\r\nHost: localhost\r\n" + fields;
    switch (h.below(5)) {
        case 0:  // chunked, in random pieces
            out += "Transfer-Encoding: chunked\r\n\r\n";
            for (std::size_t at = 0; at < body.size();) {
                const std::size_t n = std::min(body.size() - at, 1 + h.below(64));
                char size[20];
                std::snprintf(size, sizeof size, "%zx\r\n", n);
                out += size + body.substr(at, n) + "\r\n";
                at += n;
            }
            out += "0\r\n\r\n";
            break;
        case 1:  // a Content-Length that is wrong
            out += "Content-Length: " + std::to_string(body.size() + h.below(20) - std::min<std::size_t>(body.size(), 10)) +
                   "\r\n\r\n" + body;
            break;
        default: out += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    }
    if (h.one_in(8)) out = h.mutate(out);
    if (h.one_in(6)) out += request("GET", "/items/7");  // pipelined after it
    return out;
}

struct Budget {
    steady::time_point end;
    explicit Budget(std::chrono::seconds s) : end(steady::now() + s) {}
    bool left() const { return steady::now() < end; }
};

// The server answers well-formed requests correctly.
void check_alive(unsigned short port, std::string_view host = "localhost") {
    auto one = [&](const std::string& req) {
        Exchange ex = converse(port, req);
        Responses r = split_responses(ex.received, false, false);
        REQUIRE_MESSAGE(r.problem.empty(), r.problem);
        REQUIRE(r.statuses.size() == 1);
        return test::body_of(ex.received);
    };
    CHECK(one(request("GET", "/items/5?q=x&tag=a&tag=b", "X-Token: t\r\nCookie: session=s\r\n", {}, host)) ==
          R"("item 5 q=x limit=10 tags=2 token=t session=s")");
    CHECK(one(request("POST", "/items/", "Content-Type: application/json\r\n", R"({"name":"Foo","price":35.4})", host)) ==
          R"({"name":"Foo","description":null,"price":35.4,"tax":null,"tags":[]})");
    CHECK(one(request("POST", "/upload", "Content-Type: multipart/form-data; boundary=B\r\n",
                      multipart_body("B", {file_part("file", "a.txt", "hello"), field_part("note", "n")}), host)) ==
          R"("a.txt:5:n")");
    CHECK(one(request("GET", "/static/hello.txt", {}, {}, host)) == "Hello, static world\n");
    CHECK(one(request("GET", "/async?n=3", {}, {}, host)) == "3");
}

}  // namespace hostile

TEST_CASE("hostile input through the real server: every answer well-formed, no unplanned 500, still serving") {
    using namespace hostile;
    Site site;
    AppOptions options;
    options.forms.temp_dir = site.uploads.string();
    App app(options);
    add_routes(app, site.public_dir);
    App guarded(options);
    add_routes(guarded, site.public_dir);
    guarded.mount("/", StaticFiles(site.public_dir.string(), {.html = true}));  // a static site, as at its root
    guarded.add_middleware(TrustedHostMiddleware({.allowed_hosts = {"example.com", "*.example.org", "localhost"}}));
    ServerOptions so;
    so.threads = 2;
    test::LiveServer server(app, so);  // trusts loopback's proxy headers (the default): parsed too
    // The guarded server's clients are not proxies: their X-Forwarded-Host must not get them
    // past TrustedHost (from a trusted proxy it is the Host TrustedHost checks).
    ServerOptions direct = so;
    direct.forwarded_allow_ips = "192.0.2.1";
    test::LiveServer guarded_server(guarded, direct);
    const unsigned short port = server.port();

    Hostile h(20261201);  // fixed: the same inputs every run
    Budget budget(std::chrono::seconds(24));
    Tally tally;
    check_alive(port);

    // The parser's fuzz corpus, then mutations of it.
    const auto parser_corpus = corpus("parser");
    REQUIRE(parser_corpus.size() >= 10);
    for (auto& input : parser_corpus) check_exchange(port, input, tally, "parser corpus");
    for (std::size_t i = 0; i < 2000 && budget.left(); ++i)
        check_exchange(port, h.mutate(h.pick(parser_corpus)), tally, "parser corpus, mutated");

    // The multipart corpus (first line: the Content-Type), as uploads, then mutated.
    for (auto& input : corpus("multipart")) {
        const auto nl = input.find('\n');
        const std::string ct = input.substr(0, nl), body = input.substr(nl + 1);
        for (int m = 0; m < 60 && budget.left(); ++m) {
            const std::string b = m == 0 ? body : h.mutate(body);
            for (const char* target : {"/upload", "/uploads", "/login"})
                check_exchange(port, request("POST", target, "Content-Type: " + ct + "\r\n", b), tally, "multipart corpus");
        }
    }

    // Framing and smuggling: refused (400, 501) or framed one way only; nothing smuggled runs.
    const std::string smuggle = "GET /smuggled HTTP/1.1\r\nHost: localhost\r\n\r\n";
    char hex[16];
    std::snprintf(hex, sizeof hex, "%zx", smuggle.size());
    const std::string smuggle_hex = hex;  // the chunk size that carries it
    const std::vector<std::string> framing = {
        // CL.TE and TE.CL
        "POST /items/ HTTP/1.1\r\nHost: localhost\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggle,
        "POST /items/ HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n" + smuggle_hex + "\r\n" + smuggle + "\r\n0\r\n\r\n",
        // obfuscated Transfer-Encoding
        "POST /items/ HTTP/1.1\r\nHost: localhost\r\nContent-Length: 48\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n" + smuggle,
        "POST /items/ HTTP/1.1\r\nHost: localhost\r\nContent-Length: 48\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n" + smuggle,
        "POST /items/ HTTP/1.1\r\nHost: localhost\r\nContent-Length: 48\r\nTransfer-Encoding:\x0b" "chunked\r\n\r\n0\r\n\r\n" + smuggle,
        "POST /items/ HTTP/1.1\r\nHost: localhost\r\nContent-Length: 48\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n" + smuggle,
        "POST /items/ HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
        "POST /items/ HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip\r\n\r\n0\r\n\r\n",
        "POST /items/ HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n" + smuggle_hex + "\r\n" + smuggle + "\r\n0\r\n\r\n",
        // obs-fold hiding a field
        "POST /items/ HTTP/1.1\r\nHost: localhost\r\nX-A: 1\r\n Transfer-Encoding: chunked\r\nContent-Length: 44\r\n\r\n" + smuggle,
        // conflicting and malformed lengths
        "POST /items/ HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nContent-Length: 44\r\n\r\n" + smuggle,
        "POST /items/ HTTP/1.1\r\nHost: localhost\r\nContent-Length: 44, 0\r\n\r\n" + smuggle,
        "POST /items/ HTTP/1.1\r\nHost: localhost\r\nContent-Length: +44\r\n\r\n" + smuggle,
        "POST /items/ HTTP/1.1\r\nHost: localhost\r\nContent-Length: -1\r\n\r\n",
        "POST /items/ HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0x2c\r\n\r\n" + smuggle,
        "POST /items/ HTTP/1.1\r\nHost: localhost\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        "POST /items/ HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4 4\r\n\r\n" + smuggle,
        // bare CR and LF, NUL
        "GET /items/1 HTTP/1.1\r\nHost: localhost\rX-A: 1\r\n\r\n",
        "GET /items/1 HTTP/1.1\nHost: localhost\n\n",
        "GET /items/1 HTTP/1.1\r\nHost: localhost\r\nX-A: a\rb\r\n\r\n",
        "GET /items/1 HTTP/1.1\r\nHost: localhost\r\nX-A: a\nContent-Length: 44\r\n\r\n" + smuggle,
        bytes("GET /items/1 HTTP/1.1\r\nHost: localhost\r\nX-A: a\0b\r\n\r\n"),
        bytes("GET /items/1\0 HTTP/1.1\r\nHost: localhost\r\n\r\n"),
        bytes("GET /items/1%00 HTTP/1.1\r\nHost: localhost\r\n\0\r\n\r\n"),
        "GET /items/1 HTTP/1.1\r\nHost: localhost\r\nX-Token : t\r\n\r\n",
        "GET /items/1 HTTP/1.1\r\nHost: localhost\r\nHost: evil.com\r\n\r\n",
        "GET /items/1 HTTP/1.1\r\n\r\n",
        // bad chunks
        "POST /items/ HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
        "POST /items/ HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\nabc\r\n0\r\n\r\n",
        "POST /items/ HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nabc\r\n0\r\n\r\n",
        "POST /items/ HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n",
        "POST /items/ HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\n0\n\n",
        "POST /items/ HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n3;" + std::string(5000, 'e') + "\r\nabc\r\n0\r\n\r\n",
        "POST /items/ HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nContent-Length: 5\r\nHost: evil\r\n\r\n",
        "POST /items/ HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n" + [] {
            std::string many;  // tiny chunks: framing far larger than the body
            for (int i = 0; i < 20000; ++i) many += "1;aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\nx\r\n";
            return many;
        }() + "0\r\n\r\n",
        // request lines
        "GET /items/1 HTTP/1.2\r\nHost: localhost\r\n\r\n",
        "GET /items/1 HTTP/2.0\r\nHost: localhost\r\n\r\n",
        "GET  /items/1 HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "GET /items/1 HTTP/1.1 \r\nHost: localhost\r\n\r\n",
        "GET /items/1\r\n\r\n",
        bytes("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),  // a TLS ClientHello to the plain port
        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        "\r\n\r\n\r\n\r\nGET /items/1 HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "GET /" + std::string(100000, 'a') + " HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "GET /items/1 HTTP/1.1\r\nHost: localhost\r\nX-Big: " + std::string(200000, 'b') + "\r\n\r\n",
        "GET /items/1 HTTP/1.1\r\nHost: localhost\r\n" + [] {
            std::string many;
            for (int i = 0; i < 2000; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
            return many;
        }() + "\r\n",
        // wrong-length pipelined bodies: the rest is read as the next request
        "POST /items/ HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\n{\"name\":\"a\",\"price\":1}GET /items/2 HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "POST /items/ HTTP/1.1\r\nHost: localhost\r\nContent-Length: 40\r\n\r\n{}GET /items/2 HTTP/1.1\r\nHost: localhost\r\n\r\n",
        request("GET", "/items/1") + request("POST", "/items/", {}, "{}") + request("GET", "/items/2", "Connection: close\r\n") +
            request("GET", "/items/3"),
        "GET /items/1 HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
        "POST /items/ HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}",
        "POST /items/ HTTP/1.1\r\nHost: localhost\r\nExpect: 100-banana\r\nContent-Length: 2\r\n\r\n{}",
    };
    for (auto& f : framing) check_exchange(port, f, tally, "framing");

    // Oversized and malformed bodies against every parameter kind, long strings against every
    // constraint: `refused` are invalid requests (never a 200); `heavy` may be valid.
    const std::size_t big = Limits{}.max_body_bytes;  // 1 MiB by default
    auto many = [](int n, auto item) {
        std::string out;
        for (int i = 0; i < n; ++i) out += item(i);
        return out;
    };
    std::vector<std::string> refused = {
        "POST /items/ HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: " +
            std::to_string(big + 1) + "\r\n\r\n",  // refused on sight
        json_request("POST", "/items/", "{\"name\":\"" + std::string(big - 20, 'a') + "\",\"price\":1}"),
        json_request("POST", "/items/", std::string(big + 100, '[')),
        json_request("POST", "/items/", std::string(100000, '[') + std::string(100000, ']')),
        json_request("POST", "/items/", "{\"name\":\"" + std::string(100000, 'a') + "\",\"price\":1e400}"),
        json_request("POST", "/items/", "{\"name\":\"a\",\"price\":" + std::string(5000, '9') + "}"),
        json_request("POST", "/items/", "{\"name\":\"a\",\"price\":1,\"tags\":[" + many(100000, [](int) { return "1,"; }) + "1]}"),
        json_request("POST", "/items/", "{\"name\":\"\xff\xfe\",\"price\":1}"),
        json_request("POST", "/items/", bytes("{\"name\":\"a\0b\",\"price\":1}")),
        json_request("POST", "/items/", "{\"name\":\"\",\"price\":0}"),
        json_request("POST", "/items/", "null"),
        json_request("PUT", "/profiles/" + std::string(30000, 'p'), R"({"profile":{"name":"a","age":1,"tags":[],"weight":1},"importance":1})"),
        json_request("PUT", "/profiles/bob", "{\"profile\":{\"name\":\"" + std::string(200000, 'n') + "\",\"age\":99999999999999999999,\"tags\":[\"" +
                                                 std::string(100000, 't') + "\"],\"weight\":-0},\"importance\":1e400}"),
        json_request("PUT", "/profiles/bob", R"({"profile":null,"importance":null})"),
        json_request("PUT", "/profiles/bob", R"({"profile":[],"importance":"1"})"),
        json_request("POST", "/codes", "{\"code\":\"" + std::string(max_pattern_input, 'a') + "1\"}"),
        json_request("POST", "/codes", R"({"code":12})"),
        request("GET", "/items/1?q=" + std::string(60000, 'q')),
        request("GET", "/items/0"),
        // Beyond int64's range: a 422, never a silent 0 (issue 9).
        request("GET", "/items/99999999999999999999"),
        request("GET", "/items/1?limit=99999999999999999999"),
        request("GET", "/async?n=" + std::string(5000, '1')),
        request("GET", "/items/1?q=" + std::string(51, 'q')),
        request("GET", "/items/1?limit=101"),
        request("GET", "/items/1", "X-Token: " + std::string(7000, 'x') + "\r\nCookie: session=" + std::string(7000, 's') + "\r\n"),
        request("GET", "/dep?skip=" + std::string(5000, '9'), "X-Trace: " + std::string(7000, 't') + "\r\n"),
        request("GET", "/dep?skip=-1"),
        request("GET", "/blocking", "X-Token: " + std::string(7000, 'b') + "\r\n"),
        request("GET", "/blocking"),
        request("GET", "/me", "Authorization: Basic eA==\r\n"),
        request("GET", "/basic", "Authorization: Basic " + std::string(7000, '=') + "\r\n"),
        request("GET", "/key", "X-API-Key: \r\nCookie: session=\r\n"),
        request("POST", "/login", "Content-Type: application/x-www-form-urlencoded\r\n",
                "username=" + std::string(big - 100, 'u') + "&password=p"),
        request("POST", "/login", "Content-Type: application/x-www-form-urlencoded\r\n", many(50000, [](int) { return "k=v&"; })),
        multipart_request("/upload", "B", {file_part("file", std::string(100000, 'f'), "x")}),
        multipart_request("/upload", "B", {file_part("file", "evil.php\xff.jpg", "x")}),
        multipart_request("/upload", "B", {"Content-Disposition: form-data; name=\"file\"; filename*=UTF-8''%ff%fe%00.txt\r\n\r\nx"}),
        multipart_request("/upload", "B", {"Content-Disposition: form-data; name=\"file\"; filename=\"a\"\r\nX-Big: " +
                                               std::string(100000, 'h') + "\r\n\r\nx"}),  // a huge part header
        multipart_request("/upload", "B", {"Content-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n" +
                                               many(500, [](int i) { return "X-" + std::to_string(i) + ": v\r\n"; }) + "\r\nx"}),
        multipart_request("/upload", std::string(71, 'b'), {file_part("file", "a", "x")}),
        multipart_request("/upload", "B", {field_part("note", std::string(200, 'n')), file_part("file", "a", "x")}),
        request("POST", "/upload", "Content-Type: multipart/form-data; boundary=B\r\n",
                "--B\r\n" + file_part("file", "a", std::string(5000, 'x'))),  // no final boundary
        request("POST", "/upload", "Content-Type: multipart/form-data\r\n", "--B\r\n\r\n--B--"),
        request("POST", "/upload", "Content-Type: multipart/form-data; boundary=\"\"\r\n", "----\r\n"),
        request("POST", "/upload", "Content-Type: application/json\r\n", "{\"file\":\"x\"}"),
        "POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Type: multipart/form-data; boundary=B\r\nContent-Length: " +
            std::to_string(Limits{}.max_upload_bytes + 1) + "\r\n\r\n",
    };
    {  // 5,000 parts, against every multipart route
        std::vector<std::string> parts;
        for (int i = 0; i < 5000; ++i) parts.push_back(i % 2 ? file_part("files", "f" + std::to_string(i), "x") : field_part("note", "n"));
        for (const char* target : {"/upload", "/uploads", "/login", "/bytes"}) refused.push_back(multipart_request(target, "B", parts));
    }
    const std::vector<std::string> heavy = {
        json_request("POST", "/items/", "{" + many(20000, [](int i) { return "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ","; }) +
                                            "\"name\":\"a\",\"price\":1}"),
        json_request("POST", "/items/", "{\"name\":\"\\ud800\",\"price\":1}"),
        json_request("POST", "/codes", "{\"code\":\"" + std::string(max_pattern_input, 'a') + "\"}"),
        request("GET", "/items/1?tag=a" + many(3000, [](int i) { return "&tag=" + std::to_string(i); })),
        request("GET", "/items/1", "Cookie: " + many(2000, [](int i) { return "c" + std::to_string(i) + "=v; "; }) + "\r\n"),
        request("GET", "/me", "Authorization: Bearer " + std::string(7000, 'z') + "\r\n"),
        request("GET", "/me", "Authorization: Bearer\r\n"),  // FastAPI's token is then "" too
        request("GET", "/basic", "Authorization: Basic Og==\r\n"),  // ":"
        request("GET", "/basic", "Authorization: Basic /w==\r\n"),  // 0xff
        request("POST", "/login", "Content-Type: application/x-www-form-urlencoded\r\n", "username=%ff%fe&password=%00"),
        request("POST", "/login", "Content-Type: application/x-www-form-urlencoded\r\n", "&&&==&=&username&password=="),
        request("POST", "/login", "Content-Type: text/plain\r\n", "username=a&password=b"),
        multipart_request("/upload", std::string(70, 'b'), {file_part("file", "a", "x")}),
        multipart_request("/bytes", "B", {file_part("data", "d", std::string(big + 1000, 'd'))}),  // spooled to disk
    };
    for (auto& b : refused) {
        if (!budget.left()) break;
        auto r = check_exchange(port, b, tally, "refused bodies and long strings");
        for (int s : r.statuses) CHECK_MESSAGE(s != 200, b.substr(0, 120));
    }
    for (auto& b : heavy) {
        if (!budget.left()) break;
        check_exchange(port, b, tally, "heavy bodies and long strings");
    }

    // StaticFiles: every traversal try answers without the secret (check_exchange looks for it).
    for (const char* path : {"/static/../secret.txt", "/static/%2e%2e/secret.txt", "/static/%2e%2e%2fsecret.txt",
                             "/static/..%2fsecret.txt", "/static/..%5csecret.txt", "/static/..\\secret.txt",
                             "/static/%2e%2e%5csecret.txt", "/static//..//secret.txt", "/static/docs/../../secret.txt",
                             "/static/%252e%252e/secret.txt", "/static/link.txt", "/static/%00", "/static/hello.txt%00.html",
                             "/static/.%2e/secret.txt", "/static/" "%c0%ae%c0%ae/secret.txt", "/static//etc/passwd",
                             "/static/docs", "//static/docs", "/static/docs/index.html/..", "/static/%2fetc%2fpasswd"}) {
        auto r = check_exchange(port, request("GET", path), tally, "static traversal");
        for (std::size_t i = 0; i < r.statuses.size(); ++i)
            if (r.statuses[i] == 307) CHECK_MESSAGE(r.heads[i].find("\r\nlocation: //") == std::string::npos, std::string(path));
    }
    CHECK(test::status_of(converse(port, request("HEAD", "/static/hello.txt")).received) == 200);

    // TrustedHost and CORS tricks, on the guarded server.
    for (const char* host : {"evil.com", "example.com.evil.com", "evil.com#example.com", "example.com@evil.com",
                             "evilexample.com", "example.org", ".example.org", "x.example.org.evil.com", "[::1]",
                             "example.com:80:80", "EXAMPLE.com.", "", "*.example.org", "localhost.", "xn--exmple-cua.com"}) {
        auto r = check_exchange(guarded_server.port(), request("GET", "/items/1", {}, {}, host), tally, "trusted host");
        for (int s : r.statuses) CHECK_MESSAGE(s != 200, std::string(host));
    }
    for (const char* req : {"GET http://evil.com/items/1 HTTP/1.1\r\nHost: example.com\r\n\r\n",
                            "GET http://evil.com/items/1 HTTP/1.0\r\n\r\n", "GET /items/1 HTTP/1.0\r\n\r\n",
                            "GET /items/1 HTTP/1.1\r\nHost: example.com\r\nHost: evil.com\r\n\r\n",
                            "GET /items/1 HTTP/1.1\r\nHost: evil.com\r\nX-Forwarded-Host: example.com\r\n\r\n"}) {
        auto r = check_exchange(guarded_server.port(), req, tally, "trusted host, absolute-form");
        for (int s : r.statuses) CHECK(s != 200);
    }
    check_alive(guarded_server.port(), "example.com");
    check_alive(guarded_server.port(), "api.example.org");
    // StaticFiles at the root: the slash redirect never names another host (//docs, /\docs).
    for (const char* path : {"//docs", "///docs", "//docs?x=1", "/docs", "//%64ocs", "/\\docs", "//hello.txt/.."}) {
        auto r = check_exchange(guarded_server.port(), request("GET", path, {}, {}, "example.com"), tally, "static at /");
        for (std::size_t i = 0; i < r.statuses.size(); ++i) {
            CHECK_MESSAGE(r.heads[i].find("\r\nlocation: //") == std::string::npos, std::string(path));
            CHECK_MESSAGE(r.heads[i].find("\r\nlocation: /\\") == std::string::npos, std::string(path));
        }
    }
    CHECK(test::body_of(converse(guarded_server.port(), request("GET", "//docs/", {}, {}, "example.com")).received) == "<h1>docs</h1>\n");
    for (const char* origin : {"https://evil.com", "null", "https://app.example.com.evil.com", "https://evil.com/https://app.example.com",
                               "http://app.example.com", "https://app.example.com:443", "*"}) {
        const std::string o = origin;
        for (auto& req : {request("GET", "/items/1", "Origin: " + o + "\r\nCookie: session=s\r\n"),
                          request("OPTIONS", "/items/1", "Origin: " + o + "\r\nAccess-Control-Request-Method: GET\r\n"),
                          request("OPTIONS", "/items/1", "Origin: " + o + "\r\nAccess-Control-Request-Method: DELETE\r\n"
                                                                           "Access-Control-Request-Headers: X-Evil\r\n")}) {
            auto r = check_exchange(port, req, tally, "CORS");
            for (auto& head : r.heads) CHECK_MESSAGE(head.find("access-control-allow-origin:") == std::string::npos, std::string(origin));
        }
    }

    // Slowloris: partial requests held open while others are served, then dropped by the client.
    {
        const std::vector<std::string> whole = {
            request("GET", "/items/1?q=x", "X-Token: t\r\n"),
            json_request("POST", "/items/", R"({"name":"Foo","price":35.4})"),
            multipart_request("/upload", "B", {file_part("file", "a.txt", std::string(3000, 'x'))}),
            request("POST", "/bytes", "Content-Type: multipart/form-data; boundary=B\r\nContent-Length: " +
                                          std::to_string(big + 5000) + "\r\n", "--B\r\n" + file_part("data", "d", std::string(big, 'd'))),
        };
        std::vector<int> held;
        for (int i = 0; i < 40 && budget.left(); ++i) {
            const std::string& w = h.pick(whole);
            int fd = connect_to(port);
            std::string_view part = std::string_view(w).substr(0, 1 + h.below(w.size() - 1));
            while (!part.empty()) {  // non-blocking: what does not fit now is simply not sent
                ssize_t n = ::send(fd, part.data(), part.size(), MSG_NOSIGNAL);
                if (n <= 0) break;
                part.remove_prefix(static_cast<std::size_t>(n));
            }
            held.push_back(fd);
        }
        check_alive(port);  // served while they hang
        for (std::size_t i = 0; i < held.size(); ++i) {
            if (i % 2) {  // half of them by RST
                linger l{1, 0};
                ::setsockopt(held[i], SOL_SOCKET, SO_LINGER, &l, sizeof l);
            }
            ::close(held[i]);
        }
    }

    // Random requests, framed right and wrong, until the count or the time runs out.
    std::size_t random_sent = 0;
    for (; random_sent < 2500 && budget.left(); ++random_sent) check_exchange(port, random_request(h), tally, "random");

    // Random requests from several clients at once (each with its own seed), judged afterwards.
    {
        constexpr int clients = 4;
        std::vector<std::vector<std::pair<std::string, Exchange>>> seen(clients);
        std::vector<std::thread> threads;
        for (int c = 0; c < clients; ++c)
            threads.emplace_back([&, c] {
                Hostile mine(20261201 + static_cast<std::uint32_t>(c) + 1);
                for (int i = 0; i < 300 && budget.left(); ++i) {
                    std::string req = random_request(mine);
                    Exchange ex = converse(port, req);
                    seen[static_cast<std::size_t>(c)].emplace_back(std::move(req), std::move(ex));
                }
            });
        for (auto& t : threads) t.join();
        for (auto& list : seen)
            for (auto& [req, ex] : list) judge(req, ex, tally, "random, concurrent");
    }

    // The handler that throws on purpose: a 500, and the connection still answers well-formed.
    {
        auto r = check_exchange(port, request("GET", "/boom") + request("GET", "/items/3"), tally, "boom");
        CHECK(r.statuses == std::vector<int>{500, 200});
    }

    // Afterwards: still serving, correctly; nothing smuggled ran; no temporary file is left.
    check_alive(port);
    check_alive(guarded_server.port(), "example.com");
    CHECK(smuggled.load() == 0);
    CHECK(test::eventually_true([&] { return site.temp_files() == 0; }, 5000ms));
    MESSAGE("hostile: " << tally.requests << " connections, " << tally.responses << " responses (1xx "
                        << tally.by_class[1] << ", 2xx " << tally.by_class[2] << ", 3xx " << tally.by_class[3] << ", 4xx "
                        << tally.by_class[4] << ", 5xx " << tally.by_class[5] << "), " << tally.closed_silently
                        << " closed without an answer, " << random_sent << " random; "
                        << std::string(budget.left() ? "within" : "stopped by") << " the time budget");
}

TEST_CASE("the hostile test's response checker refuses what is not a well-formed HTTP/1.1 response") {
    using hostile::split_responses;
    auto problem = [](std::string_view bytes, bool cut_ok = false) { return split_responses(bytes, cut_ok, false).problem; };
    CHECK(problem("") == "");  // a clean close
    CHECK(problem("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokHTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n") == "");
    CHECK(problem("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n") == "");
    CHECK(problem("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n") == "");
    CHECK(split_responses("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokHTTP/1.1 500 X\r\ncontent-length: 0\r\n\r\n", false, false)
              .statuses == std::vector<int>{200, 500});
    CHECK(problem("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nab") != "");  // shorter than said
    CHECK(problem("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nab", true) == "");  // unless the connection was reset
    CHECK(problem("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\ntrailing") != "");
    CHECK(problem("HTTP/1.1 600 Nope\r\ncontent-length: 0\r\n\r\n") != "");
    CHECK(problem("HTTP/1.1 099 Nope\r\ncontent-length: 0\r\n\r\n") != "");
    CHECK(problem("HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n") != "");
    CHECK(problem("HTTP/1.1 200 OK\r\n\r\nbody until close") != "");  // no framing
    CHECK(problem("HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab") != "");
    CHECK(problem("HTTP/1.1 200 OK\r\nbad field\r\ncontent-length: 0\r\n\r\n") != "");
    CHECK(problem("HTTP/1.1 200 OK\r\nx: a\x01" "b\r\ncontent-length: 0\r\n\r\n") != "");
    CHECK(problem("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nok\r\n0\r\n\r\n") != "");
    CHECK(problem("<html>not http</html>") != "");
}
