// reflect: what the library can see of a user's types without macros. Plain aggregates
// (structs with public fields, no constructors, no base classes) are read as they are:
// the number of fields by probing aggregate initialisation, the fields themselves through
// structured bindings (up to 64), and their names from __PRETTY_FUNCTION__ of a function
// templated on the address of each field of an object that is declared but never defined
// (GCC >= 12, Clang >= 14). Other classes describe themselves:
//
//   class Point {
//       double x_, y_;
//   public:
//       static constexpr auto fastapi_fields() {
//           return std::tuple{fastapi::member("x", &Point::x_), fastapi::member("y", &Point::y_)};
//       }
//   };
//
// (or, for a type you cannot edit, specialise fastapi::model_fields<T> with the same
// static function `get()`). Enumerations are named once, by the user, because a compile-time
// scan of enumerator names is slow and unreliable on Clang 14:
//
//   enum class Color { red, green };
//   template <> struct fastapi::enum_values<Color> {
//       static constexpr fastapi::enum_value<Color> values[] = {{Color::red, "red"}, {Color::green, "green"}};
//   };
//
// Relies on meta only.
#pragma once
#include "../core/meta.hpp"

#include <array>        // array
#include <cstddef>      // size_t
#include <string_view>  // string_view
#include <tuple>        // tuple, apply
#include <type_traits>  // is_aggregate_v
#include <utility>      // index_sequence, declval

namespace fastapi {

// One field of a described (non-aggregate) class: its wire name and member pointer.
template <class C, class M>
struct member_desc {
    std::string_view name;
    M C::*ptr;
};
template <class C, class M>
constexpr member_desc<C, M> member(std::string_view name, M C::*ptr) noexcept { return {name, ptr}; }

// Specialise with `static constexpr auto get() { return std::tuple{fastapi::member(...), ...}; }`
// to describe a class you cannot add a static fastapi_fields() to.
template <class T>
struct model_fields;

// One enumerator and its name on the wire.
template <class E>
struct enum_value {
    E value;
    std::string_view name;
};

// Specialise with `static constexpr fastapi::enum_value<E> values[] = {{E::a, "a"}, ...};`
// to read and write the enumeration E by name (as a pydantic str Enum).
template <class E>
struct enum_values;

namespace detail {

// --- which types are models ---

template <class T> struct is_std_array : std::false_type {};
template <class T, std::size_t N> struct is_std_array<std::array<T, N>> : std::true_type {};

template <class T>
concept self_described = requires { T::fastapi_fields(); };
template <class T>
concept externally_described = requires { model_fields<T>::get(); };
template <class T>
concept described = self_described<T> || externally_described<T>;

// A model: a described class, or a plain aggregate struct.
template <class T>
inline constexpr bool is_model_v = described<T> ||
    (std::is_class_v<T> && std::is_aggregate_v<T> && !is_std_array<T>::value && !std::is_empty_v<T>);

template <class E>
concept named_enum = std::is_enum_v<E> && requires { enum_values<E>::values; };

// --- counting the fields of an aggregate ---

// Converts to anything; only ever used unevaluated.
struct any_init {
    template <class T>
    operator T() const noexcept;
};
template <class T, std::size_t N>
inline constexpr bool brace_initializable_with = []<std::size_t... I>(std::index_sequence<I...>) {
    return requires { T{(void(I), any_init{})...}; };
}(std::make_index_sequence<N>{});

// Aggregate initialisation works with any number of initialisers up to the number of
// fields: binary search for the largest.
template <class T, std::size_t Lo, std::size_t Hi>
constexpr std::size_t count_fields() {
    if constexpr (Lo == Hi) {
        return Lo;
    } else {
        constexpr std::size_t mid = (Lo + Hi + 1) / 2;
        if constexpr (brace_initializable_with<T, mid>) return count_fields<T, mid, Hi>();
        else return count_fields<T, Lo, mid - 1>();
    }
}

inline constexpr std::size_t max_fields = 64;

template <class T>
constexpr std::size_t field_count_impl() {
    if constexpr (self_described<T>) {
        return std::tuple_size_v<decltype(T::fastapi_fields())>;
    } else if constexpr (externally_described<T>) {
        return std::tuple_size_v<decltype(model_fields<T>::get())>;
    } else {
        constexpr std::size_t n = count_fields<T, 0, max_fields + 1>();
        static_assert(n <= max_fields,
                      "fastapi: this model has more than 64 fields; describe it with a static fastapi_fields() "
                      "function or split it into nested models.");
        return n;
    }
}
template <class T>
inline constexpr std::size_t field_count_v = field_count_impl<T>();

template <class T>
constexpr auto described_fields() {
    if constexpr (self_described<T>) return T::fastapi_fields();
    else return model_fields<T>::get();
}

// --- visiting the fields: f(field0, field1, ...) ---

template <std::size_t N>
struct binder;
template <>
struct binder<0> {
    template <class T, class F>
    static constexpr decltype(auto) apply(T&, F&& f) { return static_cast<F&&>(f)(); }
};
#define FASTAPI_BIND(n, ...)                                                   \
    template <>                                                                \
    struct binder<n> {                                                         \
        template <class T, class F>                                            \
        static constexpr decltype(auto) apply(T& t, F&& f) {                   \
            auto& [__VA_ARGS__] = t;                                           \
            return static_cast<F&&>(f)(__VA_ARGS__);                           \
        }                                                                      \
    };
#define FASTAPI_M1 m0
#define FASTAPI_M2 FASTAPI_M1, m1
#define FASTAPI_M3 FASTAPI_M2, m2
#define FASTAPI_M4 FASTAPI_M3, m3
#define FASTAPI_M5 FASTAPI_M4, m4
#define FASTAPI_M6 FASTAPI_M5, m5
#define FASTAPI_M7 FASTAPI_M6, m6
#define FASTAPI_M8 FASTAPI_M7, m7
#define FASTAPI_M9 FASTAPI_M8, m8
#define FASTAPI_M10 FASTAPI_M9, m9
#define FASTAPI_M11 FASTAPI_M10, m10
#define FASTAPI_M12 FASTAPI_M11, m11
#define FASTAPI_M13 FASTAPI_M12, m12
#define FASTAPI_M14 FASTAPI_M13, m13
#define FASTAPI_M15 FASTAPI_M14, m14
#define FASTAPI_M16 FASTAPI_M15, m15
#define FASTAPI_M17 FASTAPI_M16, m16
#define FASTAPI_M18 FASTAPI_M17, m17
#define FASTAPI_M19 FASTAPI_M18, m18
#define FASTAPI_M20 FASTAPI_M19, m19
#define FASTAPI_M21 FASTAPI_M20, m20
#define FASTAPI_M22 FASTAPI_M21, m21
#define FASTAPI_M23 FASTAPI_M22, m22
#define FASTAPI_M24 FASTAPI_M23, m23
#define FASTAPI_M25 FASTAPI_M24, m24
#define FASTAPI_M26 FASTAPI_M25, m25
#define FASTAPI_M27 FASTAPI_M26, m26
#define FASTAPI_M28 FASTAPI_M27, m27
#define FASTAPI_M29 FASTAPI_M28, m28
#define FASTAPI_M30 FASTAPI_M29, m29
#define FASTAPI_M31 FASTAPI_M30, m30
#define FASTAPI_M32 FASTAPI_M31, m31
#define FASTAPI_M33 FASTAPI_M32, m32
#define FASTAPI_M34 FASTAPI_M33, m33
#define FASTAPI_M35 FASTAPI_M34, m34
#define FASTAPI_M36 FASTAPI_M35, m35
#define FASTAPI_M37 FASTAPI_M36, m36
#define FASTAPI_M38 FASTAPI_M37, m37
#define FASTAPI_M39 FASTAPI_M38, m38
#define FASTAPI_M40 FASTAPI_M39, m39
#define FASTAPI_M41 FASTAPI_M40, m40
#define FASTAPI_M42 FASTAPI_M41, m41
#define FASTAPI_M43 FASTAPI_M42, m42
#define FASTAPI_M44 FASTAPI_M43, m43
#define FASTAPI_M45 FASTAPI_M44, m44
#define FASTAPI_M46 FASTAPI_M45, m45
#define FASTAPI_M47 FASTAPI_M46, m46
#define FASTAPI_M48 FASTAPI_M47, m47
#define FASTAPI_M49 FASTAPI_M48, m48
#define FASTAPI_M50 FASTAPI_M49, m49
#define FASTAPI_M51 FASTAPI_M50, m50
#define FASTAPI_M52 FASTAPI_M51, m51
#define FASTAPI_M53 FASTAPI_M52, m52
#define FASTAPI_M54 FASTAPI_M53, m53
#define FASTAPI_M55 FASTAPI_M54, m54
#define FASTAPI_M56 FASTAPI_M55, m55
#define FASTAPI_M57 FASTAPI_M56, m56
#define FASTAPI_M58 FASTAPI_M57, m57
#define FASTAPI_M59 FASTAPI_M58, m58
#define FASTAPI_M60 FASTAPI_M59, m59
#define FASTAPI_M61 FASTAPI_M60, m60
#define FASTAPI_M62 FASTAPI_M61, m61
#define FASTAPI_M63 FASTAPI_M62, m62
#define FASTAPI_M64 FASTAPI_M63, m63
FASTAPI_BIND(1, FASTAPI_M1) FASTAPI_BIND(2, FASTAPI_M2) FASTAPI_BIND(3, FASTAPI_M3) FASTAPI_BIND(4, FASTAPI_M4)
FASTAPI_BIND(5, FASTAPI_M5) FASTAPI_BIND(6, FASTAPI_M6) FASTAPI_BIND(7, FASTAPI_M7) FASTAPI_BIND(8, FASTAPI_M8)
FASTAPI_BIND(9, FASTAPI_M9) FASTAPI_BIND(10, FASTAPI_M10) FASTAPI_BIND(11, FASTAPI_M11) FASTAPI_BIND(12, FASTAPI_M12)
FASTAPI_BIND(13, FASTAPI_M13) FASTAPI_BIND(14, FASTAPI_M14) FASTAPI_BIND(15, FASTAPI_M15) FASTAPI_BIND(16, FASTAPI_M16)
FASTAPI_BIND(17, FASTAPI_M17) FASTAPI_BIND(18, FASTAPI_M18) FASTAPI_BIND(19, FASTAPI_M19) FASTAPI_BIND(20, FASTAPI_M20)
FASTAPI_BIND(21, FASTAPI_M21) FASTAPI_BIND(22, FASTAPI_M22) FASTAPI_BIND(23, FASTAPI_M23) FASTAPI_BIND(24, FASTAPI_M24)
FASTAPI_BIND(25, FASTAPI_M25) FASTAPI_BIND(26, FASTAPI_M26) FASTAPI_BIND(27, FASTAPI_M27) FASTAPI_BIND(28, FASTAPI_M28)
FASTAPI_BIND(29, FASTAPI_M29) FASTAPI_BIND(30, FASTAPI_M30) FASTAPI_BIND(31, FASTAPI_M31) FASTAPI_BIND(32, FASTAPI_M32)
FASTAPI_BIND(33, FASTAPI_M33) FASTAPI_BIND(34, FASTAPI_M34) FASTAPI_BIND(35, FASTAPI_M35) FASTAPI_BIND(36, FASTAPI_M36)
FASTAPI_BIND(37, FASTAPI_M37) FASTAPI_BIND(38, FASTAPI_M38) FASTAPI_BIND(39, FASTAPI_M39) FASTAPI_BIND(40, FASTAPI_M40)
FASTAPI_BIND(41, FASTAPI_M41) FASTAPI_BIND(42, FASTAPI_M42) FASTAPI_BIND(43, FASTAPI_M43) FASTAPI_BIND(44, FASTAPI_M44)
FASTAPI_BIND(45, FASTAPI_M45) FASTAPI_BIND(46, FASTAPI_M46) FASTAPI_BIND(47, FASTAPI_M47) FASTAPI_BIND(48, FASTAPI_M48)
FASTAPI_BIND(49, FASTAPI_M49) FASTAPI_BIND(50, FASTAPI_M50) FASTAPI_BIND(51, FASTAPI_M51) FASTAPI_BIND(52, FASTAPI_M52)
FASTAPI_BIND(53, FASTAPI_M53) FASTAPI_BIND(54, FASTAPI_M54) FASTAPI_BIND(55, FASTAPI_M55) FASTAPI_BIND(56, FASTAPI_M56)
FASTAPI_BIND(57, FASTAPI_M57) FASTAPI_BIND(58, FASTAPI_M58) FASTAPI_BIND(59, FASTAPI_M59) FASTAPI_BIND(60, FASTAPI_M60)
FASTAPI_BIND(61, FASTAPI_M61) FASTAPI_BIND(62, FASTAPI_M62) FASTAPI_BIND(63, FASTAPI_M63) FASTAPI_BIND(64, FASTAPI_M64)
#undef FASTAPI_BIND
#undef FASTAPI_M1
#undef FASTAPI_M2
#undef FASTAPI_M3
#undef FASTAPI_M4
#undef FASTAPI_M5
#undef FASTAPI_M6
#undef FASTAPI_M7
#undef FASTAPI_M8
#undef FASTAPI_M9
#undef FASTAPI_M10
#undef FASTAPI_M11
#undef FASTAPI_M12
#undef FASTAPI_M13
#undef FASTAPI_M14
#undef FASTAPI_M15
#undef FASTAPI_M16
#undef FASTAPI_M17
#undef FASTAPI_M18
#undef FASTAPI_M19
#undef FASTAPI_M20
#undef FASTAPI_M21
#undef FASTAPI_M22
#undef FASTAPI_M23
#undef FASTAPI_M24
#undef FASTAPI_M25
#undef FASTAPI_M26
#undef FASTAPI_M27
#undef FASTAPI_M28
#undef FASTAPI_M29
#undef FASTAPI_M30
#undef FASTAPI_M31
#undef FASTAPI_M32
#undef FASTAPI_M33
#undef FASTAPI_M34
#undef FASTAPI_M35
#undef FASTAPI_M36
#undef FASTAPI_M37
#undef FASTAPI_M38
#undef FASTAPI_M39
#undef FASTAPI_M40
#undef FASTAPI_M41
#undef FASTAPI_M42
#undef FASTAPI_M43
#undef FASTAPI_M44
#undef FASTAPI_M45
#undef FASTAPI_M46
#undef FASTAPI_M47
#undef FASTAPI_M48
#undef FASTAPI_M49
#undef FASTAPI_M50
#undef FASTAPI_M51
#undef FASTAPI_M52
#undef FASTAPI_M53
#undef FASTAPI_M54
#undef FASTAPI_M55
#undef FASTAPI_M56
#undef FASTAPI_M57
#undef FASTAPI_M58
#undef FASTAPI_M59
#undef FASTAPI_M60
#undef FASTAPI_M61
#undef FASTAPI_M62
#undef FASTAPI_M63
#undef FASTAPI_M64

// Calls f with a reference to every field of `obj`, in declaration order.
template <class T, class F>
constexpr decltype(auto) visit_fields(T& obj, F&& f) {
    using U = std::remove_cv_t<T>;
    if constexpr (described<U>) {
        return std::apply([&](auto... m) -> decltype(auto) { return static_cast<F&&>(f)(obj.*(m.ptr)...); },
                          described_fields<U>());
    } else {
        static_assert(std::is_aggregate_v<U>,
                      "fastapi: this type is not a plain struct; give it a static fastapi_fields() function "
                      "listing fastapi::member(\"name\", &T::field) for each field.");
        return binder<field_count_v<U>>::apply(obj, static_cast<F&&>(f));
    }
}

template <std::size_t I, class... A>
constexpr auto& nth(A&... a) noexcept {
    return std::get<I>(std::tuple<A&...>(a...));
}

// Field I of obj, as a reference.
template <std::size_t I, class T>
constexpr auto& get_field(T& obj) {
    return visit_fields(obj, [](auto&... m) -> auto& { return nth<I>(m...); });
}

// --- names from the compiler ---

constexpr std::size_t cstr_len(const char* s) noexcept {
    std::size_t n = 0;
    while (s[n]) ++n;
    return n;
}
constexpr bool is_ident_char(char c) noexcept {
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// An object of type T that is never constructed: only its fields' addresses are taken, at
// compile time. A union with a constexpr constructor keeps it a constant without requiring
// anything of T (and, unlike an extern declaration, works for local classes too).
template <class T>
union fake_storage {
    T value;
    char unused;
    constexpr fake_storage() noexcept : unused{} {}
    ~fake_storage() {}
};
template <class T>
inline fake_storage<T> fake_object{};

template <class T>
struct field_address {
    const T* p;
};

template <class T, std::size_t I>
consteval auto field_address_of() {
    return binder<field_count_v<T>>::apply(fake_object<T>.value, [](auto&... m) {
        auto& f = nth<I>(m...);
        return field_address<std::remove_cvref_t<decltype(f)>>{&f};
    });
}

// The text after "X = " in __PRETTY_FUNCTION__, up to "; " (GCC lists typedefs after it) or ']'.
constexpr std::string_view pretty_argument(std::string_view s, std::string_view marker) noexcept {
    std::size_t begin = s.find(marker) + marker.size();
    std::size_t end = s.find(';', begin);
    if (end == std::string_view::npos) end = s.rfind(']');
    return s.substr(begin, end - begin);
}

// GCC: "... [with auto A = field_address<int>{(& fake_object<Item>.fake_storage<Item>::value.Item::price)}; ...]"
// Clang: "... [A = {&fake_object.value.price}]". The name is the last identifier.
template <auto A>
consteval std::string_view pretty_field() {
    std::string_view s = pretty_argument(__PRETTY_FUNCTION__, "A = ");
    std::size_t end = s.size();
    while (end > 0 && !is_ident_char(s[end - 1])) --end;
    std::size_t begin = end;
    while (begin > 0 && is_ident_char(s[begin - 1])) --begin;
    return s.substr(begin, end - begin);
}

template <class T, std::size_t I>
constexpr std::string_view field_name_impl() {
    if constexpr (described<T>) return std::get<I>(described_fields<T>()).name;
    else return pretty_field<field_address_of<T, I>()>();
}
// The C++ name of field I of T.
template <class T, std::size_t I>
inline constexpr std::string_view field_name_v = field_name_impl<T, I>();

// GCC: "... [with T = ns::Item; ...]"; Clang: "... [T = ns::Item]".
template <class T>
consteval std::string_view pretty_type() {
    return pretty_argument(__PRETTY_FUNCTION__, "T = ");
}

template <std::size_t N>
struct name_buffer {
    char data[N + 1]{};
    std::size_t size = 0;
    constexpr std::string_view view() const noexcept { return {data, size}; }
};

// The type's name without namespaces or enclosing functions: "ns::Page<ns::Item>" -> "Page<Item>".
template <class T>
consteval auto make_short_name() {
    constexpr std::string_view full = pretty_type<T>();
    name_buffer<full.size()> out;
    for (std::size_t i = 0; i < full.size();) {
        if (full.substr(i).starts_with("(anonymous namespace)::")) { i += 23; continue; }
        if (full.substr(i).starts_with("{anonymous}::")) { i += 13; continue; }
        if (full.substr(i, 2) == "::") {
            // Drop the qualifier just written: back to the last '<', ',' or ' '.
            while (out.size > 0 && out.data[out.size - 1] != '<' && out.data[out.size - 1] != ',' &&
                   out.data[out.size - 1] != ' ')
                --out.size;
            i += 2;
            continue;
        }
        out.data[out.size++] = full[i++];
    }
    return out;
}
template <class T>
inline constexpr auto short_name_storage = make_short_name<T>();

// The qualified C++ name of T, as the compiler spells it.
template <class T>
inline constexpr std::string_view type_name_v = pretty_type<T>();
// T's name without namespaces: what the OpenAPI document calls the model by default.
template <class T>
inline constexpr std::string_view short_type_name_v = short_name_storage<T>.view();

// --- enumerations ---

// The wire name of e; empty when e is not listed.
template <class E>
constexpr std::string_view enum_to_name(E e) noexcept {
    for (const auto& v : enum_values<E>::values)
        if (v.value == e) return v.name;
    return {};
}

}  // namespace detail
}  // namespace fastapi
