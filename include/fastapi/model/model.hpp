// model: how a type describes the JSON it reads and writes, FastAPI's "the types are the
// API". One vocabulary of markers serves model fields and handler parameters alike:
//
//   struct Item {
//       fastapi::Field<std::string, fastapi::MinLength<1>, fastapi::MaxLength<50>> name;
//       std::optional<std::string> description;     // not required, null when absent
//       fastapi::Field<double, fastapi::Gt<0>> price;
//       std::optional<double> tax;
//       std::vector<std::string> tags;               // not required, [] when absent
//       using fastapi_config = fastapi::ModelConfig<fastapi::ForbidExtra>;   // optional
//   };
//
// Required or not: a field is required unless it is a std::optional, a std::vector or
// std::map (absent means empty, like pydantic's `= []`), or has a Default<...>; Required
// makes any field required. An absent field that is not required keeps the value the
// struct gives it (its default member initialiser), or its Default<...>.
// Numbers in markers are integers (Gt<0>) or decimal strings (Gt<"0.5">): Clang 14 has no
// floating-point template arguments.
// Also here: the runtime description of a type (TypeInfo, ModelInfo, FieldInfo) that the
// validator and the OpenAPI generator read. Relies on meta and reflect.
#pragma once
#include "../core/meta.hpp"
#include "reflect.hpp"
#include "regex.hpp"
#include "secret.hpp"

#include <compare>      // three_way_comparable_with
#include <concepts>     // integral, floating_point
#include <cstdint>      // int64_t
#include <map>          // is_map
#include <optional>     // optional
#include <string>       // string
#include <string_view>  // string_view
#include <tuple>        // tuple
#include <type_traits>  // is_same_v
#include <utility>      // forward, move
#include <vector>       // vector

namespace fastapi {

namespace detail {

// A literal usable as a template argument: an integer, a bool, or a string (text, or a
// decimal number such as "0.5").
template <std::size_t N>
struct literal {
    enum kind_t : unsigned char { integer_kind, bool_kind, text_kind };
    kind_t kind = integer_kind;
    long long integer = 0;
    char text[N]{};

    template <std::integral I>
    constexpr literal(I v) noexcept : kind(std::is_same_v<I, bool> ? bool_kind : integer_kind),
                                      integer(static_cast<long long>(v)) {}
    constexpr literal(const char (&s)[N]) noexcept : kind(text_kind) {
        for (std::size_t i = 0; i < N; ++i) text[i] = s[i];
    }
    constexpr std::string_view view() const noexcept { return {text, N > 0 ? N - 1 : 0}; }
};
literal(bool) -> literal<1>;
template <std::integral I>
literal(I) -> literal<1>;
template <std::size_t N>
literal(const char (&)[N]) -> literal<N>;

// A bound of a numeric constraint, as checked and as reported (ctx {"gt": 0} or {"gt": 0.5}).
struct NumberBound {
    bool is_integer = true;
    std::int64_t integer = 0;
    double number = 0;
};

// Reads "12", "-0.5", "1e3" at compile time; exact for the decimals people write.
constexpr NumberBound parse_decimal(std::string_view s) {
    NumberBound b;
    bool neg = false;
    std::size_t i = 0;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
    unsigned long long mant = 0;
    int exp10 = 0;
    bool any = false, frac = false;
    for (; i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.'); ++i) {
        if (s[i] == '.') { frac = true; continue; }
        any = true;
        if (mant < 100000000000000000ULL) {
            mant = mant * 10 + static_cast<unsigned>(s[i] - '0');
            if (frac) --exp10;
        } else if (!frac) {
            ++exp10;
        }
    }
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        bool eneg = false;
        if (i < s.size() && (s[i] == '-' || s[i] == '+')) eneg = s[i++] == '-';
        int e = 0;
        for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) e = e * 10 + (s[i] - '0');
        exp10 += eneg ? -e : e;
        frac = true;
    }
    if (!any || i != s.size()) throw "fastapi: a numeric constraint must be an integer or a decimal string like \"0.5\"";
    double v = static_cast<double>(mant);
    double p = 1;
    for (int k = 0; k < (exp10 < 0 ? -exp10 : exp10); ++k) p *= 10;
    v = exp10 < 0 ? v / p : v * p;
    b.is_integer = !frac;
    b.number = neg ? -v : v;
    b.integer = static_cast<std::int64_t>(neg ? -static_cast<long long>(mant) : static_cast<long long>(mant));
    return b;
}

template <std::size_t N>
constexpr NumberBound to_bound(const literal<N>& l) {
    if (l.kind == literal<N>::text_kind) return parse_decimal(l.view());
    return NumberBound{true, static_cast<std::int64_t>(l.integer), static_cast<double>(l.integer)};
}

}  // namespace detail

// --- constraint and metadata markers (template arguments of Field, Query, Path, ...) ---

template <detail::literal V> struct Gt { static constexpr detail::NumberBound bound = detail::to_bound(V); };
template <detail::literal V> struct Ge { static constexpr detail::NumberBound bound = detail::to_bound(V); };
template <detail::literal V> struct Lt { static constexpr detail::NumberBound bound = detail::to_bound(V); };
template <detail::literal V> struct Le { static constexpr detail::NumberBound bound = detail::to_bound(V); };
template <detail::literal V> struct MultipleOf { static constexpr detail::NumberBound bound = detail::to_bound(V); };
// Length of a string (in characters) or, as in pydantic, of a list or map.
template <std::size_t N> struct MinLength { static constexpr std::size_t value = N; };
template <std::size_t N> struct MaxLength { static constexpr std::size_t value = N; };
// Length of a list or map.
template <std::size_t N> struct MinItems { static constexpr std::size_t value = N; };
template <std::size_t N> struct MaxItems { static constexpr std::size_t value = N; };
// A regular expression the string must contain a match of (re.search), in Rust regex syntax as
// pydantic's; checked at compile time, matched in linear time (regex.hpp; README "Patterns").
template <fixed_string S> struct Pattern { static constexpr std::string_view value = S; };
// The name on the wire, when it differs from the C++ name.
template <fixed_string S> struct Alias { static constexpr std::string_view value = S; };
template <fixed_string S> struct Title { static constexpr std::string_view value = S; };
template <fixed_string S> struct Description { static constexpr std::string_view value = S; };
// The JSON Schema "format" the document shows (pydantic's json_schema_extra={"format": ...}):
// Format<"password"> makes Swagger UI mask the field. Documentation only: nothing is checked.
template <fixed_string S> struct Format { static constexpr std::string_view value = S; };
// Example values for the documentation: Examples<"Foo", "Bar">, Examples<1, 2>.
template <detail::literal... V> struct Examples {};
// The value when absent: Default<10>, Default<"0.5">, Default<"text">, Default<true>;
// Default<> is the value-initialised T.
template <detail::literal... V> struct Default { static_assert(sizeof...(V) <= 1, "fastapi: Default<> takes one value"); };
// Makes a std::optional, std::vector or std::map field required.
struct Required {};
// Model options (ModelConfig): refuse unknown keys (pydantic's extra="forbid"), and the
// name the OpenAPI document gives the model (default: the C++ type name without namespaces).
struct ForbidExtra {};
template <fixed_string S> struct Name { static constexpr std::string_view value = S; };
template <class... Options> struct ModelConfig {};

template <class T, class... Markers> struct Field;
namespace detail {
template <class T> struct is_field_impl : std::false_type {};
template <class T, class... M> struct is_field_impl<Field<T, M...>> : std::true_type {};
}  // namespace detail
template <class U>
inline constexpr bool is_field_like = detail::is_field_impl<std::remove_cvref_t<U>>::value;

// A model field with constraints, next to the field. It behaves like the value it holds and
// keeps the enclosing struct an aggregate.
template <class T, class... Markers>
struct Field {
    using value_type = T;
    T value{};

    constexpr Field() = default;
    constexpr Field(const T& v) : value(v) {}
    constexpr Field(T&& v) : value(std::move(v)) {}
    template <class U>
        requires(!std::is_same_v<std::remove_cvref_t<U>, Field> && !std::is_same_v<std::remove_cvref_t<U>, T> &&
                 std::is_constructible_v<T, U &&>)
    constexpr Field(U&& u) : value(std::forward<U>(u)) {}

    template <class U>
        requires(!std::is_same_v<std::remove_cvref_t<U>, Field> && std::is_assignable_v<T&, U &&>)
    constexpr Field& operator=(U&& u) {
        value = std::forward<U>(u);
        return *this;
    }

    constexpr operator T&() & noexcept { return value; }
    constexpr operator const T&() const& noexcept { return value; }
    constexpr T& operator*() & noexcept { return value; }
    constexpr const T& operator*() const& noexcept { return value; }
    constexpr T&& operator*() && noexcept { return std::move(value); }
    constexpr T* operator->() noexcept { return &value; }
    constexpr const T* operator->() const noexcept { return &value; }

    // Comparisons with the value type and what it compares with. The Field side is a
    // template parameter too, so that other types' comparisons (which find these hidden
    // friends through template arguments) reject them before looking at T.
    template <class F, class U>
        requires(std::is_same_v<F, Field> && !is_field_like<U> && requires(const T& t, const U& u) { t == u; })
    friend constexpr bool operator==(const F& a, const U& b) { return a.value == b; }
    template <class F, class U>
        requires(std::is_same_v<F, Field> && !is_field_like<U> && std::three_way_comparable_with<T, U>)
    friend constexpr auto operator<=>(const F& a, const U& b) { return a.value <=> b; }
    template <class F>
        requires(std::is_same_v<F, Field> && std::equality_comparable<T>)
    friend constexpr bool operator==(const F& a, const F& b) { return a.value == b.value; }
    template <class F>
        requires(std::is_same_v<F, Field> && std::three_way_comparable<T>)
    friend constexpr auto operator<=>(const F& a, const F& b) { return a.value <=> b.value; }
    template <class Os>
        requires requires(Os& os, const T& t) { os << t; }
    friend Os& operator<<(Os& os, const Field& f) { return os << f.value; }
};

namespace detail {

template <class T> struct is_field : std::false_type {};
template <class T, class... M> struct is_field<Field<T, M...>> : std::true_type {};
template <class T> inline constexpr bool is_field_v = is_field<std::remove_cvref_t<T>>::value;

template <class T> struct is_map : std::false_type {};
template <class T, class C, class A> struct is_map<std::map<std::string, T, C, A>> : std::true_type {};
template <class T> inline constexpr bool is_map_v = is_map<std::remove_cvref_t<T>>::value;

template <class T> struct is_default : std::false_type {};
template <literal... V> struct is_default<Default<V...>> : std::true_type {};

// Finds the first marker of a template Tmpl<fixed_string> among Ms and returns its value.
template <template <fixed_string> class Tmpl, class M> struct string_marker {
    static constexpr bool found = false;
    static constexpr std::string_view value{};
};
template <template <fixed_string> class Tmpl, fixed_string S> struct string_marker<Tmpl, Tmpl<S>> {
    static constexpr bool found = true;
    static constexpr std::string_view value = S;
};
template <template <fixed_string> class Tmpl, class... Ms>
constexpr std::string_view find_string_marker() {
    std::string_view out;
    ((string_marker<Tmpl, Ms>::found && out.empty() ? (out = string_marker<Tmpl, Ms>::value, 0) : 0), ...);
    return out;
}

// The constraints of a value, gathered from its markers into one runtime description.
struct Constraints {
    std::optional<NumberBound> gt, ge, lt, le, multiple_of;
    std::optional<std::size_t> min_length, max_length;  // strings (characters) and containers
    std::optional<std::size_t> min_items, max_items;    // containers
    std::string_view pattern;
    bool (*pattern_matches)(std::string_view) = nullptr;  // set by Pattern<...>
    constexpr bool empty() const noexcept {
        return !gt && !ge && !lt && !le && !multiple_of && !min_length && !max_length && !min_items &&
               !max_items && pattern.empty();
    }
};

// Instantiated only for the patterns a program uses: a program without one has no matcher.
template <fixed_string S>
bool pattern_matches(std::string_view s) {
    return regex::search<S>(s);
}

template <class M> struct constraint_of { static constexpr void apply(Constraints&) {} };
template <literal V> struct constraint_of<Gt<V>> { static constexpr void apply(Constraints& c) { c.gt = Gt<V>::bound; } };
template <literal V> struct constraint_of<Ge<V>> { static constexpr void apply(Constraints& c) { c.ge = Ge<V>::bound; } };
template <literal V> struct constraint_of<Lt<V>> { static constexpr void apply(Constraints& c) { c.lt = Lt<V>::bound; } };
template <literal V> struct constraint_of<Le<V>> { static constexpr void apply(Constraints& c) { c.le = Le<V>::bound; } };
template <literal V> struct constraint_of<MultipleOf<V>> {
    static constexpr void apply(Constraints& c) { c.multiple_of = MultipleOf<V>::bound; }
};
template <std::size_t N> struct constraint_of<MinLength<N>> { static constexpr void apply(Constraints& c) { c.min_length = N; } };
template <std::size_t N> struct constraint_of<MaxLength<N>> { static constexpr void apply(Constraints& c) { c.max_length = N; } };
template <std::size_t N> struct constraint_of<MinItems<N>> { static constexpr void apply(Constraints& c) { c.min_items = N; } };
template <std::size_t N> struct constraint_of<MaxItems<N>> { static constexpr void apply(Constraints& c) { c.max_items = N; } };
template <fixed_string S> struct constraint_of<Pattern<S>> {
    static constexpr void apply(Constraints& c) {
        c.pattern = Pattern<S>::value;
        c.pattern_matches = &pattern_matches<S>;
    }
};

template <class... Ms>
constexpr Constraints make_constraints() {
    Constraints c;
    (constraint_of<Ms>::apply(c), ...);
    return c;
}

template <class T>
inline constexpr bool is_container_v = is_vector_v<T> || is_map_v<T>;

template <class T, class... Ms> struct field_spec;

// Assigns a Default<V> to a value of type T.
template <class T, literal V>
void assign_literal(T& out) {
    if constexpr (is_optional_v<T>) {
        typename T::value_type v{};
        assign_literal<typename T::value_type, V>(v);
        out = std::move(v);
    } else if constexpr (std::is_same_v<T, std::string>) {
        static_assert(V.kind == V.text_kind, "fastapi: Default<...> of a string field must be a string");
        out = std::string(V.view());
    } else if constexpr (std::is_same_v<T, bool>) {
        static_assert(V.kind != V.text_kind, "fastapi: Default<...> of a bool field must be true or false");
        out = V.integer != 0;
    } else if constexpr (std::is_integral_v<T>) {
        constexpr NumberBound b = to_bound(V);
        static_assert(b.is_integer, "fastapi: Default<...> of an integer field must be an integer");
        static_assert(std::in_range<T>(b.integer),
                      "fastapi: Default<...> is outside the range of the field's integer type; use a wider type or "
                      "a default the type holds");
        out = static_cast<T>(b.integer);
    } else if constexpr (std::is_floating_point_v<T>) {
        out = static_cast<T>(to_bound(V).number);
    } else if constexpr (named_enum<T>) {
        static_assert(V.kind == V.text_kind, "fastapi: Default<...> of an enum field is the enumerator's name");
        for (const auto& e : enum_values<T>::values)
            if (e.name == V.view()) out = e.value;
    } else {
        static_assert(dependent_false<T>, "fastapi: Default<value> only works for strings, numbers, bools and enums; "
                                          "use Default<> or a default member initialiser instead");
    }
}

template <class T, class D> struct default_setter;
template <class T> struct default_setter<T, Default<>> {
    static void set(T& out) { out = T{}; }
};
template <class T, literal V> struct default_setter<T, Default<V>> {
    static void set(T& out) { assign_literal<T, V>(out); }
};

template <class... Ms> struct first_default { using type = void; };
template <class M, class... Ms> struct first_default<M, Ms...> {
    using type = std::conditional_t<is_default<M>::value, M, typename first_default<Ms...>::type>;
};

template <class M> struct is_model_config : std::false_type {};
template <class... O> struct is_model_config<ModelConfig<O...>> : std::true_type {};

// What a field (or a handler parameter) declares about its value, from its markers.
template <class T, class... Ms>
struct field_spec {
    using value_type = T;
    using markers = std::tuple<Ms...>;
    using default_marker = typename first_default<Ms...>::type;
    static constexpr bool has_default = !std::is_void_v<default_marker>;
    static constexpr bool is_optional = is_optional_v<T>;
    static constexpr bool forced_required = (std::is_same_v<Ms, Required> || ...);
    // Whether absence is an error ("missing").
    static constexpr bool required = forced_required || (!has_default && !is_optional && !is_container_v<T>);
    static constexpr std::string_view alias = find_string_marker<Alias, Ms...>();
    static constexpr std::string_view title = find_string_marker<Title, Ms...>();
    static constexpr std::string_view description = find_string_marker<Description, Ms...>();
    static constexpr std::string_view format = find_string_marker<Format, Ms...>();
    static constexpr Constraints constraints = make_constraints<Ms...>();

    static void set_default(T& out) {
        if constexpr (has_default) default_setter<T, default_marker>::set(out);
    }
};

// field_spec of a parameter's value type T with its markers (a tuple); Field<T, M...> unwraps.
template <class T, class Markers> struct apply_markers;
template <class T, class... Ms> struct apply_markers<T, std::tuple<Ms...>> { using type = field_spec<T, Ms...>; };
template <class T, class... M1, class... Ms> struct apply_markers<Field<T, M1...>, std::tuple<Ms...>> {
    using type = field_spec<T, M1..., Ms...>;
};

// The spec of a model's field type, and the value inside it.
template <class F> using spec_of_t = typename apply_markers<F, std::tuple<>>::type;
template <class F>
constexpr auto& field_value(F& f) noexcept {
    if constexpr (is_field_v<F>) return f.value;
    else return f;
}

// --- per model ---

template <class T> struct config_of { using type = ModelConfig<>; };
template <class T> requires requires { typename T::fastapi_config; }
struct config_of<T> { using type = typename T::fastapi_config; };

template <class Config> struct config_traits;
template <class... O> struct config_traits<ModelConfig<O...>> {
    static constexpr bool forbid_extra = (std::is_same_v<O, ForbidExtra> || ...);
    static constexpr std::string_view name = find_string_marker<Name, O...>();
    static constexpr std::string_view title = find_string_marker<Title, O...>();
    static constexpr std::string_view description = find_string_marker<Description, O...>();
};
template <class T> using model_config_t = config_traits<typename config_of<T>::type>;

// The type of field I of model T, as declared (possibly a Field<...>).
template <class T, std::size_t I>
using field_type_t = std::remove_cvref_t<decltype(get_field<I>(std::declval<T&>()))>;

template <class T, std::size_t I>
using field_spec_t = spec_of_t<field_type_t<T, I>>;

// The key of field I on the wire: its Alias, or its C++ name.
template <class T, std::size_t I>
constexpr std::string_view wire_name() {
    constexpr std::string_view alias = field_spec_t<T, I>::alias;
    if constexpr (!alias.empty()) return alias;
    else return field_name_v<T, I>;
}

template <class T>
inline constexpr auto wire_names_v = []<std::size_t... I>(std::index_sequence<I...>) {
    return std::array<std::string_view, sizeof...(I)>{wire_name<T, I>()...};
}(std::make_index_sequence<field_count_v<T>>{});

// The name of model T in the OpenAPI document: ModelConfig's Name<...>, or the short C++ name.
template <class T>
constexpr std::string_view model_name() {
    constexpr std::string_view n = model_config_t<T>::name;
    if constexpr (!n.empty()) return n;
    else return short_type_name_v<T>;
}

// snake_case of the model's name: the key of a body parameter given as a bare model among
// several body parameters ("UserProfile" -> "user_profile", as a Python parameter is named).
template <class T>
std::string body_key_name() {
    using U = std::remove_cvref_t<T>;
    std::string_view n;
    if constexpr (is_vector_v<U>) n = model_name<typename U::value_type>();
    else n = model_name<U>();
    std::string out;
    for (std::size_t i = 0; i < n.size(); ++i) {
        char c = n[i];
        if (c >= 'A' && c <= 'Z') {
            if (i > 0 && n[i - 1] != '_') out += '_';
            out += static_cast<char>(c + 32);
        } else if (is_ident_char(c)) {
            out += c;
        }
    }
    return out;
}

}  // namespace detail

// --- the runtime description of types (read by the validator and the OpenAPI generator) ---

enum class TypeKind { boolean, integer, number, string, array, map, optional, model, enumeration, any };

struct TypeInfo;
struct ModelInfo;
struct EnumInfo;

struct FieldInfo {
    std::string_view name;       // the C++ name
    std::string_view wire_name;  // the key in JSON: alias or name
    bool required = true;
    const TypeInfo& (*type)() = nullptr;
    detail::Constraints constraints;
    std::string_view title, description, format;
    std::vector<picojson::value> examples;
    // The default as JSON for fields that are not required (their Default<...>, or the
    // value a value-initialised model holds); nullptr when required or not computable.
    picojson::value (*default_value)() = nullptr;
};

struct ModelInfo {
    std::string_view name;      // for the OpenAPI document (unique names: compare cpp_name)
    std::string_view cpp_name;  // qualified, as the compiler spells it
    std::string_view title, description;
    bool forbid_extra = false;
    std::vector<FieldInfo> fields;
};

struct EnumInfo {
    std::string_view name, cpp_name;
    std::vector<std::string_view> values;
};

struct TypeInfo {
    TypeKind kind = TypeKind::any;
    unsigned bits = 0;                              // integer: 8..64; number: 32 or 64
    bool is_signed = true;                          // integer
    const TypeInfo& (*item)() = nullptr;            // array item, map value, optional's value
    const ModelInfo& (*model)() = nullptr;          // model
    const EnumInfo& (*enumeration)() = nullptr;     // enumeration
    std::string_view format{};                      // string: a JSON Schema format ("binary": a file)
};

template <class T> picojson::value to_json_value(const T& value);

template <class T> const TypeInfo& describe();

namespace detail {

template <class T>
const ModelInfo& describe_model();

template <class T>
const EnumInfo& describe_enum() {
    static const EnumInfo info = [] {
        EnumInfo e;
        e.name = short_type_name_v<T>;
        e.cpp_name = type_name_v<T>;
        for (const auto& v : enum_values<T>::values) e.values.push_back(v.name);
        return e;
    }();
    return info;
}

template <literal V>
picojson::value literal_json() {
    if constexpr (V.kind == V.text_kind) return picojson::value(std::string(V.view()));
    else if constexpr (V.kind == V.bool_kind) return picojson::value(V.integer != 0);
    else return picojson::value(static_cast<std::int64_t>(V.integer));
}
template <class M> struct examples_of { static void add(std::vector<picojson::value>&) {} };
template <literal... V> struct examples_of<Examples<V...>> {
    static void add(std::vector<picojson::value>& out) { (out.push_back(literal_json<V>()), ...); }
};

// A value with its markers (field_spec): a model field, or a handler parameter (params.hpp).
template <class Spec>
FieldInfo describe_value(std::string_view name, std::string_view wire_name) {
    using V = typename Spec::value_type;
    FieldInfo f;
    f.name = name;
    f.wire_name = wire_name;
    f.required = Spec::required;
    f.type = &describe<V>;
    f.constraints = Spec::constraints;
    f.title = Spec::title;
    f.description = Spec::description;
    f.format = Spec::format;
    [&]<class... Ms>(std::tuple<Ms...>*) { (examples_of<Ms>::add(f.examples), ...); }(
        static_cast<typename Spec::markers*>(nullptr));
    if constexpr (!Spec::required && Spec::has_default) {
        f.default_value = [] {
            V v{};
            Spec::set_default(v);
            return to_json_value(v);
        };
    }
    return f;
}

template <class T, std::size_t I>
FieldInfo describe_field() {
    using Spec = field_spec_t<T, I>;
    FieldInfo f = describe_value<Spec>(field_name_v<T, I>, wire_name<T, I>());
    // Without a Default<...>, the default is what a value-initialised model holds.
    if constexpr (!Spec::required && !Spec::has_default && std::is_default_constructible_v<T>) {
        f.default_value = [] {
            T model{};
            return to_json_value(field_value(get_field<I>(model)));
        };
    }
    return f;
}

template <class T>
const ModelInfo& describe_model() {
    static const ModelInfo info = [] {
        ModelInfo m;
        m.name = model_name<T>();
        m.cpp_name = type_name_v<T>;
        m.title = model_config_t<T>::title;
        m.description = model_config_t<T>::description;
        m.forbid_extra = model_config_t<T>::forbid_extra;
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            (m.fields.push_back(describe_field<T, I>()), ...);
        }(std::make_index_sequence<field_count_v<T>>{});
        return m;
    }();
    return info;
}

// The sentence for a type that is none of the supported ones.
#define FASTAPI_UNSUPPORTED_TYPE_MESSAGE                                                                     \
    "fastapi: this field type cannot be read from or written to JSON; use bool, an integer, double, "       \
    "std::string, std::optional, std::vector, std::map<std::string, T>, an enum with fastapi::enum_values, " \
    "a nested model, or picojson::value"

template <class T>
TypeInfo make_type_info() {
    TypeInfo t;
    if constexpr (is_field_v<T>) {
        return make_type_info<typename T::value_type>();
    } else if constexpr (std::is_same_v<T, bool>) {
        t.kind = TypeKind::boolean;
    } else if constexpr (std::is_integral_v<T> && !std::is_same_v<T, char>) {
        t.kind = TypeKind::integer;
        t.bits = sizeof(T) * 8;
        t.is_signed = std::is_signed_v<T>;
    } else if constexpr (std::is_floating_point_v<T>) {
        t.kind = TypeKind::number;
        t.bits = sizeof(T) * 8;
    } else if constexpr (std::is_same_v<T, std::string>) {
        t.kind = TypeKind::string;
    } else if constexpr (is_secret_v<T>) {  // pydantic's SecretStr: {"type": "string", "format": "password"}
        static_assert(std::is_same_v<typename T::value_type, std::string>, "fastapi: Secret<T> is for std::string values");
        t.kind = TypeKind::string;
        t.format = "password";
    } else if constexpr (std::is_same_v<T, picojson::value> || requires { typename T::ad_hoc_json; }) {  // any JSON
        t.kind = TypeKind::any;
    } else if constexpr (is_optional_v<T>) {
        t.kind = TypeKind::optional;
        t.item = &describe<typename T::value_type>;
    } else if constexpr (is_vector_v<T>) {
        t.kind = TypeKind::array;
        t.item = &describe<typename T::value_type>;
    } else if constexpr (is_map_v<T>) {
        t.kind = TypeKind::map;
        t.item = &describe<typename T::mapped_type>;
    } else if constexpr (named_enum<T>) {
        t.kind = TypeKind::enumeration;
        t.enumeration = &describe_enum<T>;
    } else if constexpr (is_model_v<T>) {
        t.kind = TypeKind::model;
        t.model = &describe_model<T>;
    } else {
        static_assert(dependent_false<T>, FASTAPI_UNSUPPORTED_TYPE_MESSAGE);
    }
    return t;
}

}  // namespace detail

// The description of T, built once.
template <class T>
const TypeInfo& describe() {
    static const TypeInfo info = detail::make_type_info<std::remove_cvref_t<T>>();
    return info;
}

}  // namespace fastapi
