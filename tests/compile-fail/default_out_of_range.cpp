// expect: Default<...> is outside the range of the field's integer type
// A Default<...> must be a value of the field's type: 300 is not a uint8_t (it would become 44).
#include "fastapi.hpp"

struct Page {
    fastapi::Field<std::uint8_t, fastapi::Default<300>> size;
};

int main() {
    Page p{};
    fastapi::ValidationErrors errors;
    fastapi::Loc loc;
    return fastapi::from_json(picojson::value(picojson::object{}), p, errors, loc) ? 0 : 1;
}
