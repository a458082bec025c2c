// expect: takes a named function f
// app.get<f>(path) names the route after function f; a lambda object has no name to read.
#include "fastapi.hpp"

struct Handler {
    int operator()() const { return 1; }
};
inline constexpr Handler handler{};

int main() {
    fastapi::App app;
    app.get<handler>("/");
}
