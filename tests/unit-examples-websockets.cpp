// examples/websockets.cpp as a user runs it, checked by a client we did not write: Python's
// websockets (Debian's python3-websockets, installed by tools/deps), plus raw requests.
#include "support.hpp"

#include <cstdio>  // popen
#include <string>

namespace examples_websockets_test {
// Runs the Python client against the port: what it printed and its exit status.
std::pair<std::string, int> run_python_client(unsigned short port) {
    std::string cmd = "timeout 90 /usr/bin/python3 " FASTAPI_SOURCE_DIR "/tests/python/websockets_client.py ";
    cmd += std::to_string(port);
    cmd += " 2>&1";
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
    return {out, WIFEXITED(status) ? WEXITSTATUS(status) : -1};
}
}  // namespace examples_websockets_test

TEST_CASE("examples/websockets: GET / is ok; Python's websockets client: echo with the opcode, subprotocol chat, close code echoed, 1009 over 16 MiB; chat rooms broadcast, errors to the sender only") {
    test::RunningExample app("websockets");
    auto r = app.ask("GET", "/");
    CHECK(test::status_of(r) == 200);
    CHECK(test::body_of(r) == "ok");
    // A version the server does not speak: 426 with the one it does.
    r = app.ask("GET", "/ws/echo", "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n");
    CHECK(test::status_of(r) == 426);
    auto result = examples_websockets_test::run_python_client(app.port);
    INFO(result.first);
    CHECK(result.second == 0);
    CHECK(result.first == "ok\n");
}
