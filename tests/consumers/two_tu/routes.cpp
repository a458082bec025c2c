// Second translation unit: uses the same header as main.cpp. Any non-inline function or
// variable defined in fastapi.hpp would now be defined twice and fail to link.
#include "fastapi.hpp"

#include "routes.hpp"

fastapi::Response make_greeting(std::string_view name) {
    fastapi::Response res("hello " + std::string(name), 200, "text/plain");
    res.set_header("x-from", "routes.cpp");
    return res;
}

int status_of_missing() {
    try {
        throw fastapi::HTTPException(404, "no such item");
    } catch (const fastapi::HTTPException& e) {
        return e.status_code();
    }
}
