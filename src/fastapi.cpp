// The implementation unit of the compiled-once mode (README "Compiled once"): compile this file
// once (the CMake target fastapi::compiled does) and define FASTAPI_SEPARATE_COMPILATION in
// every other translation unit of the program. Build it with the configuration macros the
// program's units use; a unit that differs fails to link.
#define FASTAPI_IMPLEMENTATION
#include "fastapi.hpp"
