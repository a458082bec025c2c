// expect: Pattern<> uses a backreference
// A Pattern<> with a construct the linear-time matcher cannot run is refused when the program
// is compiled, with the construct named, not when the first request arrives.
#include "fastapi.hpp"

struct Doubled {
    fastapi::Field<std::string, fastapi::Pattern<"^(\\w+) \\1$">> words;
};

int main() {
    Doubled d{};
    fastapi::ValidationErrors errors;
    fastapi::Loc loc;
    return fastapi::from_json(picojson::value(picojson::object{}), d, errors, loc) ? 0 : 1;
}
