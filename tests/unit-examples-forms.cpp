// The forms, cookies and background examples, run as a user would run them: built by the
// project's CMake, started with HOST and PORT, asked over a real socket, stopped with SIGTERM.
#include "support.hpp"

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

using namespace std::chrono_literals;
using test::body_of;
using test::Child;
using test::RunningExample;
using test::RawClient;
using test::status_of;

namespace {
const std::string multipart = "multipart/form-data; boundary=" + std::string(fastapi::TestClient::test_boundary);
}  // namespace

TEST_CASE("examples/forms: the login form, a form model, and uploads as bytes, UploadFile and several files") {
    RunningExample app("forms");
    auto login = app.post("/login/", "application/x-www-form-urlencoded", "username=jane&password=secret");
    CHECK(status_of(login) == 200);
    CHECK(body_of(login) == R"({"username":"jane"})");
    auto missing = app.post("/login/", "application/x-www-form-urlencoded", "username=jane");
    CHECK(status_of(missing) == 422);
    CHECK(body_of(missing) == R"({"detail":[{"type":"missing","loc":["body","password"],"msg":"Field required","input":null}]})");
    auto model = app.post("/login-model/", "application/x-www-form-urlencoded", "username=jane&password=secret");
    CHECK(body_of(model) == R"({"username":"jane","password":"secret"})");
    using fastapi::TestClient;
    auto bytes = app.post("/files/", multipart, TestClient::multipart_body({}, {{"file", "a.bin", "12345"}}));
    CHECK(body_of(bytes) == R"({"file_size":5})");
    auto upload = app.post("/uploadfile/", multipart,
                           TestClient::multipart_body({}, {{"file", "notes.txt", "hello", "text/plain"}}));
    CHECK(body_of(upload) == R"({"content_type":"text/plain","filename":"notes.txt","size":5})");
    auto many = app.post("/uploadfiles/", multipart,
                         TestClient::multipart_body({}, {{"files", "a.txt", "A"}, {"files", "b.txt", "B"}}));
    CHECK(body_of(many) == R"({"filenames":["a.txt","b.txt"]})");
    CHECK(app.child.terminate() == 0);
}

TEST_CASE("examples/cookies: login sets the session cookie, /me reads it, logout deletes it") {
    RunningExample app("cookies");
    auto login = app.ask("POST /login/ HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    CHECK(status_of(login) == 200);
    CHECK(login.find("\r\nset-cookie: session=abc123; HttpOnly; Max-Age=3600; Path=/; SameSite=lax\r\n") != std::string::npos);
    CHECK(body_of(app.ask("GET /me/ HTTP/1.1\r\nHost: x\r\nCookie: session=abc123\r\n\r\n")) == R"({"session":"abc123"})");
    CHECK(body_of(app.ask("GET /me/ HTTP/1.1\r\nHost: x\r\n\r\n")) == R"({"session":null})");
    auto logout = app.ask("POST /logout/ HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    CHECK(logout.find("\r\nset-cookie: session=\"\"; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; SameSite=lax\r\n") !=
          std::string::npos);
    CHECK(app.child.terminate() == 0);
}

TEST_CASE("examples/background: the response comes first, the log lines follow in order") {
    std::random_device rd;
    auto log = std::filesystem::temp_directory_path() / ("fastapi-background-example-" + std::to_string(rd()) + ".txt");
    RunningExample app("background", {{"LOG_FILE", log.string()}});
    auto r = app.ask("POST /send-notification/jane@example.com?q=hi HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    CHECK(status_of(r) == 200);
    CHECK(body_of(r) == R"({"message":"Message sent"})");
    auto read = [&] {
        std::ifstream in(log);
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    };
    CHECK(test::eventually_true([&] { return read() == "found query: hi\nmessage to jane@example.com\n"; }));
    CHECK(app.child.terminate() == 0);
    std::filesystem::remove(log);
}
