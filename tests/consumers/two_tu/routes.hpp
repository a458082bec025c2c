#pragma once
#include "fastapi.hpp"

// Routes defined in routes.cpp, added to the app main.cpp builds.
void add_routes(fastapi::App& app);
