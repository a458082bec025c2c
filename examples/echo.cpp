// Echoes the request body back, with its length in X-Body-Length.
#include "fastapi.hpp"

int main() {
    fastapi::App app;
    app.get("/", [] { return fastapi::PlainTextResponse("ok"); });
    app.api_route("/echo", {"GET", "HEAD", "POST"}, [](const fastapi::Request& request) {
        fastapi::Response response(request.body, 200,
                                   request.headers.get_or("content-type", "application/octet-stream"));
        response.headers.set("x-body-length", std::to_string(request.body.size()));
        return response;
    });
    app.run();
}
