// expect: Pattern<> uses a lookahead or lookbehind
// Lookaround is refused at compile time too (pydantic's Rust regex syntax has none either).
#include "fastapi.hpp"

int main() {
    fastapi::App app;
    app.get("/users", [](fastapi::Query<"name", std::string, fastapi::Pattern<"^(?!admin)[a-z]+$">> name) {
        return name.value;
    });
}
