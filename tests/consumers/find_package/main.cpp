// Uses fastapi.hpp through the fastapi::fastapi target: include folder, C++20, threads.
#include <fastapi.hpp>

#include <cstdio>

int main() {
    fastapi::Headers headers;
    headers.set("content-type", "application/json");
    if (!headers.contains("Content-Type")) return 1;
    std::puts("consumer: ok");
    return 0;
}
