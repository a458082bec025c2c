// json_value: fastapi::json, an ad-hoc JSON value for answers that need no model of their
// own (FastAPI's `return {"item_id": item_id, "q": q}`), built from initializer lists as
// nlohmann/json's is:
//   return fastapi::json{{"item_id", *item_id}, {"q", *q}, {"tags", item.tags}};
//   fastapi::json data{{"name", name}};
//   if (!short_) data["description"] = "...";   // keys stay in insertion order on the wire
// Scalars are kept as they are; any other value the model machinery writes (a model, a
// std::optional, a vector, a map, an enum, a picojson::value) is written to JSON text once,
// when it is put in, so answering is one pass over the tree with no picojson in between.
// The class is not a template; only the constructor for such values is, and it is one call.
// Relies on json (write_json, the scalar writers).
#pragma once
#include "json.hpp"

#include <cstdint>           // int64_t
#include <initializer_list>  // initializer_list
#include <stdexcept>         // invalid_argument
#include <string>            // string
#include <string_view>       // string_view
#include <type_traits>       // is_integral_v, remove_cvref_t
#include <utility>           // move, forward
#include <vector>            // vector

namespace fastapi {

namespace detail {
struct json_init;

// Whether write_json can write a T (as its branches decide, one level at a time: a model's
// own fields are write_json's to check).
template <class T>
constexpr bool json_writable() {
    using U = std::remove_cvref_t<T>;
    if constexpr (is_field_v<U>) return json_writable<typename U::value_type>();
    else if constexpr (std::is_arithmetic_v<U> && !std::is_same_v<U, char>) return true;
    else if constexpr (std::is_same_v<U, std::string> || std::is_same_v<U, std::string_view> ||
                       std::is_convertible_v<const U&, const char*>) return true;
    else if constexpr (std::is_same_v<U, picojson::value> || std::is_same_v<U, std::nullopt_t> ||
                       std::is_same_v<U, json>) return true;
    else if constexpr (is_optional_v<U> || is_vector_v<U>) return json_writable<typename U::value_type>();
    else if constexpr (is_map_v<U>) return json_writable<typename U::mapped_type>();
    else if constexpr (named_enum<U>) return true;
    else return is_model_v<U>;
}
}  // namespace detail

class json {
public:
    enum class kind : unsigned char { null, boolean, integer, number, string, array, object, raw };

    json() noexcept {}
    json(std::nullptr_t) noexcept {}
    // Only a bool itself: a pointer must not turn into `true`.
    template <class B>
        requires std::is_same_v<B, bool>
    json(B b) noexcept : kind_(kind::boolean) { b_ = b; }
    template <class I>
        requires(std::is_integral_v<I> && !std::is_same_v<I, bool> && !std::is_same_v<I, char>)
    json(I i) {
        if constexpr (std::is_unsigned_v<I> && sizeof(I) >= sizeof(std::int64_t)) {
            if (i > static_cast<std::uint64_t>(INT64_MAX)) {  // beyond int64: its digits as they are
                kind_ = kind::raw;
                detail::append_integer(s_, i);
                return;
            }
        }
        kind_ = kind::integer;
        i_ = static_cast<std::int64_t>(i);
    }
    json(double d) noexcept : kind_(kind::number) { d_ = d; }
    json(float f) : kind_(kind::raw) { detail::append_float(s_, f); }  // its own shortest digits
    json(const char* s) : kind_(kind::string), s_(s) {}
    json(std::string s) noexcept : kind_(kind::string), s_(std::move(s)) {}
    json(std::string_view s) : kind_(kind::string), s_(s) {}
    // {{"key", value}, ...} is an object; any other list an array (as nlohmann/json decides).
    json(std::initializer_list<detail::json_init> items);
    // Anything else the model machinery writes, written once to JSON text.
    template <class T>
        requires(!std::is_same_v<std::remove_cvref_t<T>, json> &&
                 !std::is_same_v<std::remove_cvref_t<T>, detail::json_init> &&
                 !std::is_arithmetic_v<std::remove_cvref_t<T>> &&
                 !std::is_convertible_v<const T&, std::string_view> &&
                 !std::is_same_v<std::remove_cvref_t<T>, std::nullptr_t>)
    json(const T& value) : kind_(kind::raw) {
        static_assert(detail::json_writable<T>(),
                      "fastapi::json: this value cannot be written as JSON. Put in a bool, a number, a string, "
                      "a model struct, a std::optional, a std::vector, a std::map<std::string, T>, an enum with "
                      "fastapi::enum_values, a picojson::value or another fastapi::json.");
        if constexpr (detail::json_writable<T>()) write_json(s_, value);
    }

    // An array or object from the items given ({"a", "b"} alone would be an array already;
    // json::array({{"a", "b"}}) is an array holding one array, not an object).
    static json array(std::initializer_list<detail::json_init> items = {});
    static json object() {
        json j;
        j.kind_ = kind::object;
        return j;
    }

    kind type() const noexcept { return kind_; }
    bool is_null() const noexcept { return kind_ == kind::null; }
    bool is_object() const noexcept { return kind_ == kind::object; }
    bool is_array() const noexcept { return kind_ == kind::array; }
    // Members of an object, elements of an array; 0 for anything else.
    std::size_t size() const noexcept {
        return kind_ == kind::object ? items_.size() / 2 : kind_ == kind::array ? items_.size() : 0;
    }

    // The member `key` of an object, added (null) at the end when missing, as a Python dict's
    // d[key] = ... does. A null json becomes an empty object first.
    json& operator[](std::string_view key) {
        if (kind_ == kind::null) kind_ = kind::object;
        if (kind_ != kind::object) throw std::invalid_argument("fastapi::json: [\"key\"] on a value that is not an object");
        if (json* found = find(key)) return *found;
        items_.emplace_back(key);
        return items_.emplace_back();
    }
    bool contains(std::string_view key) const noexcept { return find(key) != nullptr; }
    // The member `key`; throws std::out_of_range when there is none.
    const json& at(std::string_view key) const {
        if (const json* found = find(key)) return *found;
        throw std::out_of_range("fastapi::json: no member \"" + std::string(key) + "\"");
    }
    // Appends to an array; a null json becomes an empty array first.
    void push_back(json value) {
        if (kind_ == kind::null) kind_ = kind::array;
        if (kind_ != kind::array) throw std::invalid_argument("fastapi::json: push_back on a value that is not an array");
        items_.push_back(std::move(value));
    }

    // The compact JSON text, as it is sent.
    std::string dump() const {
        std::string out;
        write(out);
        return out;
    }
    void write(std::string& out) const;
    picojson::value to_picojson() const;

private:
    const json* find(std::string_view key) const noexcept {
        if (kind_ != kind::object) return nullptr;
        for (std::size_t i = 0; i < items_.size(); i += 2)
            if (items_[i].s_ == key) return &items_[i + 1];
        return nullptr;
    }
    json* find(std::string_view key) noexcept { return const_cast<json*>(std::as_const(*this).find(key)); }

    kind kind_ = kind::null;
    union {
        bool b_;
        std::int64_t i_ = 0;
        double d_;
    };
    std::string s_;            // a string's value; a raw value's JSON text
    std::vector<json> items_;  // an array's elements; an object's keys and values, alternating
};

namespace detail {
// One item of a braced list: a value, or a braced list itself. `value` is mutable so that the
// list, whose elements are const, can be moved from once (the json built from it owns them).
struct json_init {
    mutable json value;
    template <class T>
        requires(!std::is_same_v<std::remove_cvref_t<T>, json_init>)
    json_init(T&& v) : value(std::forward<T>(v)) {}
    json_init(std::initializer_list<json_init> items) : value(items) {}
};
}  // namespace detail

inline json::json(std::initializer_list<detail::json_init> items) {
    bool pairs = items.size() != 0;
    for (auto& e : items)
        if (e.value.kind_ != kind::array || e.value.items_.size() != 2 || e.value.items_[0].kind_ != kind::string) {
            pairs = false;
            break;
        }
    if (!pairs) {
        kind_ = kind::array;
        items_.reserve(items.size());
        for (auto& e : items) items_.push_back(std::move(e.value));
        return;
    }
    kind_ = kind::object;
    if (items.size() == 1) {  // the one pair's storage is the object's
        items_ = std::move(items.begin()->value.items_);
        return;
    }
    items_.reserve(items.size() * 2);
    for (auto& e : items) {
        auto& pair = e.value.items_;
        if (json* found = find(pair[0].s_)) *found = std::move(pair[1]);  // a repeated key: the last value, first place
        else {
            items_.push_back(std::move(pair[0]));
            items_.push_back(std::move(pair[1]));
        }
    }
}

inline json json::array(std::initializer_list<detail::json_init> items) {
    json j;
    j.kind_ = kind::array;
    j.items_.reserve(items.size());
    for (auto& e : items) j.items_.push_back(std::move(e.value));
    return j;
}

inline void json::write(std::string& out) const {
    switch (kind_) {
        case kind::null: out.append("null", 4); break;
        case kind::boolean: b_ ? out.append("true", 4) : out.append("false", 5); break;
        case kind::integer: detail::append_integer(out, i_); break;
        case kind::number: detail::append_double(out, d_); break;
        case kind::string: detail::append_json_string(out, s_); break;
        case kind::raw: out += s_; break;
        case kind::array:
            out += '[';
            for (std::size_t i = 0; i < items_.size(); ++i) {
                if (i) out += ',';
                items_[i].write(out);
            }
            out += ']';
            break;
        case kind::object:
            out += '{';
            for (std::size_t i = 0; i < items_.size(); i += 2) {
                if (i) out += ',';
                detail::append_json_string(out, items_[i].s_);
                out += ':';
                items_[i + 1].write(out);
            }
            out += '}';
            break;
    }
}

// As a picojson tree (whose objects sort their keys): for HTTPException::detail() and the
// parts that read JSON back.
inline picojson::value json::to_picojson() const {
    switch (kind_) {
        case kind::null: return picojson::value();
        case kind::boolean: return picojson::value(b_);
        case kind::integer: return picojson::value(i_);
        case kind::number: return std::isfinite(d_) ? picojson::value(d_) : picojson::value();
        case kind::string: return picojson::value(s_);
        case kind::raw: {
            picojson::value v;
            std::string err = picojson::parse(v, s_);
            return v;
        }
        case kind::array: {
            picojson::array a;
            a.reserve(items_.size());
            for (auto& e : items_) a.push_back(e.to_picojson());
            return picojson::value(std::move(a));
        }
        case kind::object: {
            picojson::object o;
            for (std::size_t i = 0; i < items_.size(); i += 2) o[items_[i].s_] = items_[i + 1].to_picojson();
            return picojson::value(std::move(o));
        }
    }
    return picojson::value();
}

namespace detail {
inline void append_json(std::string& out, const json& v) { v.write(out); }
inline picojson::value json_to_picojson(const json& v) { return v.to_picojson(); }
}  // namespace detail

}  // namespace fastapi
