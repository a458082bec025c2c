// FastAPI's "Bigger Applications" tutorial: one app from routers in several files, with an
// app-wide dependency (the `token` query parameter), a router-wide one (the X-Token header)
// and an included router configured by the includer.
//   g++ -std=c++20 -O2 -I<folder holding fastapi.hpp> examples/bigger_app/main.cpp -pthread
#include "fastapi.hpp"

#include "dependencies.hpp"
#include "internal/admin.hpp"
#include "routers/items.hpp"
#include "routers/users.hpp"

struct Message {
    std::string message;
};

inline Message root() { return {"Hello Bigger Applications!"}; }

// The whole app, for main() and for the tests.
inline void build_app(fastapi::App& app) {
    app.include_router(routers::users::router());
    app.include_router(routers::items::router());
    app.include_router(internal::admin::router(), {
        .prefix = "/admin",
        .tags = {"admin"},
        .dependencies = {fastapi::Depends<get_token_header>{}},
        .responses = {{418, {"I'm a teapot"}}},
    });
    app.get<root>("/");
}

#ifndef BIGGER_APP_NO_MAIN
int main() {
    fastapi::App app({.dependencies = {fastapi::Depends<get_query_token>{}}});
    build_app(app);
    app.run();
}
#endif
