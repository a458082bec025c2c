// tools/bench's "/json (fastapi::json)" row (issue 16): examples/hello.cpp with its /json
// written as FastAPI's dict answer, `return {"message": "Hello, World!"}`, instead of a model
// struct; compared with hello's /json in the same run (at most 3 % below it).
// (Not in examples/hello.cpp: a fourth route would change its OpenAPI golden.)
#include "fastapi.hpp"

struct Message {
    std::string message;
};

int main(int argc, char** argv) {
    fastapi::App app;
    app.get("/", [] { return Message{"Hello World"}; });
    app.get("/plaintext", [] { return fastapi::PlainTextResponse("Hello, World!"); });
    app.get("/json", [] { return fastapi::json{{"message", "Hello, World!"}}; });
    app.run(argc, argv);
}
