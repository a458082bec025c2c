// The smallest app: three routes, served on $HOST:$PORT (default 0.0.0.0:8000).
//   g++ -std=c++20 -O2 -I. examples/hello.cpp -pthread && ./a.out
#include "fastapi.hpp"

struct Message {
    std::string message;
};

int main() {
    fastapi::App app;
    app.get("/", [] { return Message{"Hello World"}; });
    app.get("/plaintext", [] { return fastapi::PlainTextResponse("Hello, World!"); });
    app.get("/json", [] { return Message{"Hello, World!"}; });
    app.run();
}
