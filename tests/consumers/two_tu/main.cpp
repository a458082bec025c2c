// First translation unit: builds on what routes.cpp defines, using the header itself too.
#include "fastapi.hpp"

#include "routes.hpp"

#include <cstdio>

int main() {
    fastapi::Response res = make_greeting("two_tu");
    fastapi::Headers h;
    h.set("x-from", "main.cpp");
    if (res.body != "hello two_tu" || status_of_missing() != 404 || h.size() != 1) {
        std::puts("two_tu: unexpected result");
        return 1;
    }
    std::puts("two_tu: ok");
    return 0;
}
