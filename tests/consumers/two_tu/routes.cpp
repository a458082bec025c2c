// Second translation unit: defines routes with the same header as main.cpp. Any non-inline
// function or variable defined in fastapi.hpp would now be defined twice and fail to link.
#include "fastapi.hpp"

#include "routes.hpp"

void add_routes(fastapi::App& app) {
    app.get("/from-routes", [] { return fastapi::PlainTextResponse("routes.cpp"); });
    app.get("/missing", []() -> fastapi::PlainTextResponse { throw fastapi::HTTPException(404, "no such item"); });
}
