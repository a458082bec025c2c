// Cookies: read one as a typed parameter (FastAPI's Cookie()), set and delete them on the
// response (Starlette's set_cookie / delete_cookie).
//   curl -i -X POST localhost:8000/login/        # Set-Cookie: session=...
//   curl --cookie session=abc localhost:8000/me/
#include "fastapi.hpp"

using namespace fastapi;

struct Session {
    std::optional<std::string> session;
};

int main() {
    App app;

    app.post("/login/", [](Response& response) {
        response.set_cookie("session", "abc123", {.max_age = 3600, .httponly = true});
        return std::string("logged in");
    });

    app.get("/me/", [](Cookie<"session", std::optional<std::string>> session) { return Session{*session}; });

    app.post("/logout/", [] {
        JSONResponse response(std::string("logged out"));
        response.delete_cookie("session");
        return response;
    });

    app.run();
}
