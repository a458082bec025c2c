// The smallest app: three routes, served on $HOST:$PORT (default 0.0.0.0:8000), with uvicorn's
// command line (./a.out --port 8080 --workers 4, ./a.out --help).
//   g++ -std=c++20 -O2 -I. examples/hello.cpp -pthread && ./a.out
#include "fastapi.hpp"

struct Message {
    std::string message;
};

int main(int argc, char** argv) {
    fastapi::App app;
    app.get("/", [] { return Message{"Hello World"}; });
    app.get("/plaintext", [] { return fastapi::PlainTextResponse("Hello, World!"); });
    app.get("/json", [] { return Message{"Hello, World!"}; });
    app.run(argc, argv);
}
