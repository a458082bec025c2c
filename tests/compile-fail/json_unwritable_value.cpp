// expect: fastapi::json: this value cannot be written as JSON
// A value of a type the JSON layer cannot write (a pointer) put in a fastapi::json names the
// kinds it takes, instead of turning into `true` or failing deep inside write_json.
#include "fastapi.hpp"

int main() {
    int n = 5;
    fastapi::json j{{"count", &n}};
    return static_cast<int>(j.dump().size());
}
