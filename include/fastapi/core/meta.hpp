// meta: small compile-time tools shared by the parts: strings usable as template
// arguments (parameter names, patterns, descriptions) and type traits.
#pragma once
#include "config.hpp"

#include <algorithm>    // copy_n
#include <cstddef>      // size_t
#include <optional>     // is_optional
#include <string_view>  // string_view
#include <type_traits>  // false_type, remove_cvref_t
#include <vector>       // is_vector

namespace fastapi {

// A string literal as a template argument: Query<"q", std::string>.
template <std::size_t N>
struct fixed_string {
    char data[N]{};
    constexpr fixed_string(const char (&s)[N]) { std::copy_n(s, N, data); }
    constexpr std::string_view view() const noexcept { return {data, N - 1}; }
    constexpr operator std::string_view() const noexcept { return view(); }
    constexpr std::size_t size() const noexcept { return N - 1; }
};

namespace detail {
template <class T> struct is_optional : std::false_type {};
template <class T> struct is_optional<std::optional<T>> : std::true_type {};
template <class T> inline constexpr bool is_optional_v = is_optional<std::remove_cvref_t<T>>::value;

template <class T> struct is_vector : std::false_type {};
template <class T, class A> struct is_vector<std::vector<T, A>> : std::true_type {};
template <class T> inline constexpr bool is_vector_v = is_vector<std::remove_cvref_t<T>>::value;

// For static_assert(dependent_false<T>, "...") in the last branch of an if constexpr chain.
template <class...> inline constexpr bool dependent_false = false;
}  // namespace detail
}  // namespace fastapi
