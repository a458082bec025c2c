// The dependencies shared by the routers (FastAPI's app/dependencies.py).
#pragma once
#include "fastapi.hpp"

#include <string>

inline void get_token_header(fastapi::Header<"x_token", std::string> x_token) {
    if (*x_token != "fake-super-secret-token") throw fastapi::HTTPException(400, "X-Token header invalid");
}

inline void get_query_token(fastapi::Query<"token", std::string> token) {
    if (*token != "jessica") throw fastapi::HTTPException(400, "No Jessica token provided");
}
