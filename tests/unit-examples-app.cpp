// The example programs of the bigger-application features, run as a user runs them: built by
// the project's CMake, started with HOST and PORT, asked over a real socket, stopped with
// SIGTERM (exit status 0).
#include "support.hpp"

using namespace std::chrono_literals;
using test::body_of;
using test::Child;
using test::RunningExample;
using test::RawClient;
using test::status_of;


TEST_CASE("examples/bigger_app answers like FastAPI's Bigger Applications tutorial") {
    RunningExample app("bigger_app");
    const std::string token = "X-Token: fake-super-secret-token\r\n";
    CHECK(body_of(app.ask("GET", "/users/?token=jessica")) == R"([{"username":"Rick"},{"username":"Morty"}])");
    CHECK(body_of(app.ask("GET", "/users/me?token=jessica")) == R"({"username":"fakecurrentuser"})");
    auto no_jessica = app.ask("GET", "/users/?token=summer");
    CHECK(status_of(no_jessica) == 400);
    CHECK(body_of(no_jessica) == R"({"detail":"No Jessica token provided"})");
    CHECK(status_of(app.ask("GET", "/users/")) == 422);
    CHECK(body_of(app.ask("GET", "/items/?token=jessica", token)) ==
          R"({"plumbus":{"name":"Plumbus"},"gun":{"name":"Portal Gun"}})");
    CHECK(body_of(app.ask("GET", "/items/gun?token=jessica", token)) == R"({"name":"Portal Gun","item_id":"gun"})");
    auto invalid = app.ask("GET", "/items/gun?token=jessica", "X-Token: nope\r\n");
    CHECK(status_of(invalid) == 400);
    CHECK(body_of(invalid) == R"({"detail":"X-Token header invalid"})");
    // Two X-Token headers: the first counts (as in FastAPI and at a gateway that checks it).
    auto first_wins = app.ask("GET", "/items/gun?token=jessica", "X-Token: nope\r\n" + token);
    CHECK(status_of(first_wins) == 400);
    CHECK(body_of(first_wins) == R"({"detail":"X-Token header invalid"})");
    CHECK(status_of(app.ask("GET", "/items/gun?token=jessica", token + "X-Token: nope\r\n")) == 200);
    auto forbidden = app.ask("PUT", "/items/gun?token=jessica", token);
    CHECK(status_of(forbidden) == 403);
    CHECK(body_of(forbidden) == R"({"detail":"You can only update the item: plumbus"})");
    CHECK(body_of(app.ask("POST", "/admin/?token=jessica", token)) == R"({"message":"Admin getting schwifty"})");
    CHECK(body_of(app.ask("GET", "/?token=jessica")) == R"({"message":"Hello Bigger Applications!"})");
    CHECK(app.child.terminate() == 0);
}

TEST_CASE("examples/dependencies shares query parameters and closes each session after its response") {
    RunningExample app("dependencies");
    auto page = app.ask("GET", "/items/?skip=1&limit=1&q=x");
    CHECK(body_of(page) == R"({"q":"x","items":[{"item_name":"Bar"}],"session":1})");
    CHECK(body_of(app.ask("GET", "/items/")).find(R"("session":2)") != std::string::npos);
    std::string stats;
    for (int i = 0; i < 100; ++i) {  // the cleanup runs once the response is written
        stats = body_of(app.ask("GET", "/pool"));
        if (stats == R"({"opened":2,"closed":2})") break;
        std::this_thread::sleep_for(10ms);
    }
    CHECK(stats == R"({"opened":2,"closed":2})");
    CHECK(status_of(app.ask("GET", "/users/")) == 422);
    CHECK(body_of(app.ask("GET", "/users/", "X-Key: wrong\r\n")) == R"({"detail":"X-Key header invalid"})");
    CHECK(body_of(app.ask("GET", "/users/?limit=5", "X-Key: fake-super-secret-key\r\n")) == "5");
    // The coroutine dependency: its session is the pool's third, closed by its coroutine cleanup.
    CHECK(body_of(app.ask("GET", "/async-items/")) == R"({"source":"async","session":3})");
    for (int i = 0; i < 100; ++i) {
        stats = body_of(app.ask("GET", "/pool"));
        if (stats == R"({"opened":3,"closed":3})") break;
        std::this_thread::sleep_for(10ms);
    }
    CHECK(stats == R"({"opened":3,"closed":3})");
    CHECK(app.child.terminate() == 0);
}

TEST_CASE("examples/security: the OAuth2 password flow of FastAPI's tutorial") {
    RunningExample app("security");
    const std::string form = "Content-Type: application/x-www-form-urlencoded\r\n";
    auto token = app.ask("POST", "/token", form, "username=johndoe&password=secret");
    CHECK(status_of(token) == 200);
    CHECK(body_of(token) == R"({"access_token":"johndoe","token_type":"bearer"})");
    auto wrong = app.ask("POST", "/token", form, "username=johndoe&password=nope");
    CHECK(status_of(wrong) == 400);
    CHECK(body_of(wrong) == R"({"detail":"Incorrect username or password"})");
    CHECK(body_of(app.ask("GET", "/users/me", "Authorization: Bearer johndoe\r\n")) ==
          R"({"username":"johndoe","email":"johndoe@example.com","full_name":"John Doe","disabled":false})");
    auto anonymous = app.ask("GET", "/users/me");
    CHECK(status_of(anonymous) == 401);
    CHECK(anonymous.find("www-authenticate: Bearer") != std::string::npos);
    CHECK(body_of(anonymous) == R"({"detail":"Not authenticated"})");
    auto inactive = app.ask("GET", "/users/me", "Authorization: Bearer alice\r\n");
    CHECK(status_of(inactive) == 400);
    CHECK(body_of(inactive) == R"({"detail":"Inactive user"})");
    CHECK(status_of(app.ask("GET", "/users/me", "Authorization: Bearer nobody\r\n")) == 401);
    CHECK(app.child.terminate() == 0);
}

TEST_CASE("examples/middleware: CORS preflight, trusted hosts, a custom header and X-Process-Time from a coroutine") {
    RunningExample app("middleware");
    auto pre = app.ask("OPTIONS", "/", "Origin: https://app.example.com\r\nAccess-Control-Request-Method: GET\r\n");
    CHECK(status_of(pre) == 200);
    CHECK(pre.find("access-control-allow-origin: https://app.example.com") != std::string::npos);
    auto simple = app.ask("GET", "/", "Origin: https://app.example.com\r\n");
    CHECK(body_of(simple) == R"({"message":"Hello World"})");
    CHECK(simple.find("access-control-allow-credentials: true") != std::string::npos);
    CHECK(simple.find("x-served: ") != std::string::npos);
    RawClient evil(app.port);
    evil.send("GET / HTTP/1.1\r\nHost: evil.com\r\n\r\n");
    auto refused = evil.read_response();
    CHECK(status_of(refused) == 400);
    CHECK(body_of(refused) == "Invalid host header");
    // The coroutine middleware times every response: the handler's, a 404, the preflight
    // CORS answered and the host TrustedHost refused; at least its 1 ms timer.
    auto seconds = [](const std::string& response) {
        auto p = response.find("x-process-time: ");
        if (p == std::string::npos) return -1.0;
        return std::stod(response.substr(p + 16, response.find("\r\n", p) - p - 16));
    };
    CHECK(seconds(simple) >= 0.001);
    CHECK(seconds(simple) < 10);
    CHECK(seconds(pre) >= 0.001);
    CHECK(seconds(refused) >= 0.001);
    auto missing = app.ask("GET", "/nowhere");
    CHECK(status_of(missing) == 404);
    CHECK(seconds(missing) >= 0.001);
    CHECK(app.child.terminate() == 0);
}
