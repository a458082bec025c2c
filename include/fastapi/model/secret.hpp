// secret: fastapi::Secret<T>, pydantic's SecretStr: a value (a password, a token, a database
// URL with credentials) that the program reads with get_secret_value() and that shows as
// "**********" wherever it would otherwise be printed: JSON out, validation errors (their
// input), operator<< and to_string (logs, repr). Read like T from JSON, strings and the
// environment (load_settings); documented as a string with format "password".
// Relies on the standard library only; model, json and json_write know the type.
#pragma once
#include "../core/meta.hpp"

#include <ostream>      // ostream
#include <string>       // string
#include <string_view>  // string_view
#include <utility>      // move

namespace fastapi {

template <class T = std::string>
class Secret {
public:
    using value_type = T;
    static constexpr std::string_view masked = "**********";

    Secret() = default;
    Secret(T value) : value_(std::move(value)) {}  // NOLINT: Secret<std::string> s = "..." reads well

    const T& get_secret_value() const noexcept { return value_; }
    T& get_secret_value() noexcept { return value_; }
    friend bool operator==(const Secret&, const Secret&) = default;

    friend std::ostream& operator<<(std::ostream& os, const Secret&) { return os << masked; }
    friend std::string to_string(const Secret&) { return std::string(masked); }

private:
    T value_{};
};

namespace detail {
template <class T> struct is_secret : std::false_type {};
template <class T> struct is_secret<Secret<T>> : std::true_type {};
template <class T> inline constexpr bool is_secret_v = is_secret<std::remove_cvref_t<T>>::value;
}  // namespace detail

}  // namespace fastapi
