// Uses fastapi.hpp through the fastapi::fastapi target (include folder, C++20, threads):
// registers a route and exits without serving.
#include <fastapi.hpp>

#include <cstdio>

int main() {
    fastapi::App app;
    app.get("/", [] { return fastapi::PlainTextResponse("Hello World"); });
    std::puts("consumer: ok");
    return 0;
}
