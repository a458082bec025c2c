// First translation unit: builds the app, adds its own route and those of routes.cpp, and
// calls them in-process through the TestClient (no sockets), as a user's test would.
#include "fastapi.hpp"

#include "routes.hpp"

#include <cstdio>

int main() {
    fastapi::App app;
    app.get("/from-main", [] { return fastapi::PlainTextResponse("main.cpp"); });
    add_routes(app);

    fastapi::TestClient client(app);
    auto a = client.get("/from-main");
    auto b = client.get("/from-routes");
    auto c = client.get("/missing");
    if (a.text != "main.cpp" || b.text != "routes.cpp" || c.status_code != 404) {
        std::printf("two_tu: unexpected responses: %d %s | %d %s | %d %s\n", a.status_code, a.text.c_str(),
                    b.status_code, b.text.c_str(), c.status_code, c.text.c_str());
        return 1;
    }
    std::puts("two_tu: ok");
    return 0;
}
