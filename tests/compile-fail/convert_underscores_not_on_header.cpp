// expect: ConvertUnderscores<...> is for Header<...> parameters only
// ConvertUnderscores<false> is FastAPI's Header(convert_underscores=False): only a header's
// name has underscores turned into dashes, so on a query parameter it is a mistake.
#include "fastapi.hpp"

int main() {
    fastapi::App app;
    app.get("/", [](fastapi::Query<"x_token", std::string, fastapi::ConvertUnderscores<false>> t) { return *t; });
}
