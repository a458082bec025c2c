// httplib_server.cpp: the cpp-httplib peer for tools/bench (Debian's /usr/include/httplib.h;
// Debian ships cpp-httplib split: the header plus libcpp-httplib.so, built with the flags
// of `pkg-config --cflags --libs cpp-httplib`, which tools/bench passes):
//   g++ -std=c++20 -O2 $(pkg-config --cflags cpp-httplib) bench/httplib_server.cpp
//       -o httplib_server $(pkg-config --libs cpp-httplib) -pthread      (one line)
//   ./httplib_server 127.0.0.1 8080
// Routes match examples/hello.cpp (and the items example, minimally):
//   GET /            -> {"message":"Hello World"}
//   GET /plaintext   -> text/plain "Hello, World!"
//   GET /json        -> {"message":"Hello, World!"}
//   GET /items/{id}?q=...  -> {"item_id":<id>,"q":"<q>","item":{...}} for ids 1 and 2, else 404
//   POST /items/     JSON {"name":...,"price":...} -> 201, the item echoed back (not parsed,
//                    not stored: "minimal equivalent", cheaper than examples/items.cpp)
// Worker threads: BENCH_HTTPLIB_THREADS (default 1; tools/bench passes 1024). cpp-httplib
// serves one connection per worker thread for the connection's whole keep-alive life, so
// with fewer threads than connections the others queue (with one thread and wrk's 64
// connections: ~40 req/s). BENCH_HTTPLIB_KEEPALIVE_MAX (default: httplib's own, 5) bounds
// how many requests one connection gets before it is closed (tools/bench: unlimited).
#include <httplib.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

std::size_t env_size(const char* name, std::size_t fallback) {
    const char* v = std::getenv(name);
    if (!v || !*v) return fallback;
    return static_cast<std::size_t>(std::strtoull(v, nullptr, 10));
}

// Minimal JSON string escaping for the echoed query value.
std::string json_string(const std::string& s) {
    std::string out = "\"";
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\') { out += '\\'; out += ch; }
        else if (c < 0x20) { char buf[8]; std::snprintf(buf, sizeof buf, "\\u%04x", c); out += buf; }
        else out += ch;
    }
    return out + "\"";
}

// A body is accepted when it looks like a JSON object naming "name" and "price".
bool looks_like_item(const std::string& body) {
    auto first = body.find_first_not_of(" \t\r\n");
    auto last = body.find_last_not_of(" \t\r\n");
    return first != std::string::npos && body[first] == '{' && body[last] == '}' &&
           body.find("\"name\"") != std::string::npos && body.find("\"price\"") != std::string::npos;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string host = argc > 1 ? argv[1] : "127.0.0.1";
    const int port = argc > 2 ? std::atoi(argv[2]) : 8080;
    const std::size_t threads = env_size("BENCH_HTTPLIB_THREADS", 1);
    const std::size_t keepalive_max = env_size("BENCH_HTTPLIB_KEEPALIVE_MAX", CPPHTTPLIB_KEEPALIVE_MAX_COUNT);

    httplib::Server svr;
    svr.new_task_queue = [threads] { return new httplib::ThreadPool(threads ? threads : 1); };
    svr.set_keep_alive_max_count(keepalive_max);
    svr.set_tcp_nodelay(true);  // httplib writes headers and body separately: without it, Nagle
                                // and delayed ACKs add ~40 ms to every response

    svr.Get("/", [](const httplib::Request&, httplib::Response& res) {
        res.set_content(R"({"message":"Hello World"})", "application/json");
    });
    svr.Get("/plaintext", [](const httplib::Request&, httplib::Response& res) {
        res.set_content("Hello, World!", "text/plain");
    });
    svr.Get("/json", [](const httplib::Request&, httplib::Response& res) {
        res.set_content(R"({"message":"Hello, World!"})", "application/json");
    });
    svr.Get(R"(/items/(\d+))", [](const httplib::Request& req, httplib::Response& res) {
        static const char* const items[] = {
            R"({"name":"Hammer","description":null,"price":12.5,"tax":null,"tags":["tools"]})",
            R"({"name":"Nails","description":null,"price":0.25,"tax":null,"tags":[]})",
        };
        const std::string id = req.matches[1];
        if (id != "1" && id != "2") {
            res.status = 404;
            res.set_content(R"({"detail":"Item not found"})", "application/json");
            return;
        }
        std::string body = "{\"item_id\":" + id + ",\"q\":";
        body += req.has_param("q") ? json_string(req.get_param_value("q")) : "null";
        body += ",\"item\":";
        body += items[id == "1" ? 0 : 1];
        body += "}";
        res.set_content(body, "application/json");
    });
    svr.Post("/items/", [](const httplib::Request& req, httplib::Response& res) {
        if (!looks_like_item(req.body)) {
            res.status = 422;
            res.set_content(R"({"detail":"invalid item"})", "application/json");
            return;
        }
        res.status = 201;
        res.set_content(req.body, "application/json");
    });

    if (!svr.listen(host.c_str(), port)) {
        std::fprintf(stderr, "httplib_server: cannot listen on %s:%d\n", host.c_str(), port);
        return 1;
    }
}
