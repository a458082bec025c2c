// expect: Default<...> of an integer field must be an integer
// A Default<...> must fit the field's type.
#include "fastapi.hpp"

struct Page {
    fastapi::Field<int, fastapi::Default<"ten">> size;
};

int main() {
    Page p{};
    fastapi::ValidationErrors errors;
    fastapi::Loc loc;
    return fastapi::from_json(picojson::value(picojson::object{}), p, errors, loc) ? 0 : 1;
}
