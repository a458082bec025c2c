// Lifespan: startup hooks before the first request (server start, TestClient construction),
// shutdown hooks after a graceful stop (or when the last TestClient goes).
#include "support.hpp"

#include <string>
#include <vector>

using namespace fastapi;

TEST_CASE("a TestClient runs the startup hooks when made and the shutdown hooks when it goes") {
    App app;
    std::vector<std::string> log;
    app.on_startup([&] { log.push_back("startup"); });
    app.on_shutdown([&] { log.push_back("shutdown"); });
    app.get("/", [&] { log.push_back("request"); return 1; });
    {
        TestClient client(app);
        CHECK(log == std::vector<std::string>{"startup"});
        client.get("/");
        TestClient second(app);  // already started: nothing runs again
    }
    CHECK(log == std::vector<std::string>{"startup", "request", "shutdown"});
}

TEST_CASE("startup hooks can fill the application state the handlers read") {
    struct Models {
        std::vector<std::string> loaded;
    };
    App app;
    app.on_startup([&] { app.state<Models>().loaded.push_back("answer_to_everything"); });
    app.on_shutdown([&] { app.state<Models>().loaded.clear(); });
    app.get("/predict", [](State<Models> models) { return models->loaded; });
    {
        TestClient client(app);
        CHECK(client.get("/predict").text == R"(["answer_to_everything"])");
    }
    CHECK(app.state<Models>().loaded.empty());
}

TEST_CASE("a failing startup hook throws and nothing is served") {
    App app;
    app.on_startup([] { throw std::runtime_error("no database"); });
    CHECK_THROWS_AS(TestClient{app}, std::runtime_error);
}

TEST_CASE("a server runs startup before accepting and shutdown after its graceful stop") {
    App app;
    std::vector<std::string> log;
    app.on_startup([&] { log.push_back("startup"); });
    app.on_shutdown([&] { log.push_back("shutdown"); });
    app.get("/", [] { return 1; });
    {
        test::LiveServer server(app);
        CHECK(log == std::vector<std::string>{"startup"});
        test::RawClient c(server.port());
        c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        CHECK(test::status_of(c.read_response()) == 200);
        server.stop();
        CHECK(log == std::vector<std::string>{"startup", "shutdown"});
    }
}
