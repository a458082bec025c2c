// expect: cannot be read from or written to JSON
// Reading a type the JSON layer does not know fails the same way.
#include "fastapi.hpp"
#include <deque>

int main() {
    std::deque<int> d;
    fastapi::ValidationErrors errors;
    fastapi::Loc loc;
    return fastapi::from_json(picojson::value(), d, errors, loc) ? 0 : 1;
}
