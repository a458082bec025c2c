// expect: cannot be read from or written to JSON
// A model field of a type the JSON layer does not know (std::set) names the supported ones.
#include "fastapi.hpp"
#include <set>

struct Tagged {
    std::set<int> tags;
};

int main() { return static_cast<int>(fastapi::to_json_string(Tagged{}).size()); }
