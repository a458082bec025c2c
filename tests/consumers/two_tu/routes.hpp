#pragma once
#include "fastapi.hpp"

#include <string_view>

fastapi::Response make_greeting(std::string_view name);
int status_of_missing();
