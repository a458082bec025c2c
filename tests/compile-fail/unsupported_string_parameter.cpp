// expect: cannot be read from a path, query, header or cookie string
// A query/path/header/cookie value is a string: a vector or model cannot come from one.
#include "fastapi.hpp"
#include <vector>

int main() {
    std::vector<int> v;
    fastapi::ValidationErrors errors;
    fastapi::Loc loc;
    return fastapi::from_string("1", v, errors, loc) ? 0 : 1;
}
