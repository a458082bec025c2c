// expect: cannot be read from or written to JSON
// An enum needs its names (fastapi::enum_values<E>) before it can be written.
#include "fastapi.hpp"

enum class Color { red, green };

int main() { return static_cast<int>(fastapi::to_json_string(Color::red).size()); }
