// json_value: fastapi::json, an ad-hoc JSON value for answers that need no model of their
// own (FastAPI's `return {"item_id": item_id, "q": q}`), built from initializer lists as
// nlohmann/json's is:
//   return fastapi::json{{"item_id", *item_id}, {"q", *q}, {"tags", item.tags}};
//   fastapi::json data{{"name", name}};
//   if (!short_) data["description"] = "...";   // keys stay in insertion order on the wire
// Scalars are kept as they are; an object or array built from a list, and any other value the
// model machinery writes (a model, a std::optional, a vector, a map, an enum, a
// picojson::value), is written to JSON text at once, when it is made (the list's items are
// borrowed for that, not copied): answering moves that text into the response, with no tree
// and no picojson in between. Looking a member up by key (data["k"]) splits an object's text
// into its members first, once.
// The class is not a template; only the constructor for such values is, and it is one call.
// Relies on json (write_json, the scalar writers).
#pragma once
#include "json.hpp"

#include <charconv>          // to_chars
#include <cstdint>           // int64_t
#include <cstring>           // memcpy, memset
#include <initializer_list>  // initializer_list
#include <memory>            // construct_at, destroy_at
#include <stdexcept>         // invalid_argument
#include <string>            // string
#include <string_view>       // string_view
#include <type_traits>       // is_integral_v, remove_cvref_t
#include <utility>           // move, forward
#include <vector>            // vector

namespace fastapi {

class json;
namespace detail {
struct json_init;
class json_staged;
FASTAPI_DECL void append_json(std::string& out, json&& v);

// A thread's spare text buffer: an answer's json takes the response body's text buffer in
// exchange for its own (append_json), and the next json built from a list on that thread
// starts in that buffer (the connection keeps its body buffer between requests), so a json
// answer costs no allocation, as a model's does. Only the capacity is kept, and at most
// json_spare_limit of it.
// Null once the thread's spare is destroyed (a json made by a thread_local's or a static's
// destructor at exit then simply allocates).
inline constexpr std::size_t json_spare_limit = 16 * 1024;
// Trivially destructible and constant-initialized, so readable to the end with no guard: the
// slot's text once made (null before and after), and whether it is gone.
inline thread_local std::string* json_spare_at = nullptr;
inline thread_local bool json_spare_gone = false;
struct json_spare_slot {
    std::string text;
    ~json_spare_slot() {
        json_spare_gone = true;
        json_spare_at = nullptr;
    }
};
FASTAPI_DECL std::string* json_spare_make() noexcept;
FASTAPI_DECL std::string* json_spare() noexcept;
// `to` takes `from`'s text and buffer, by move construction: no allocator or short-string
// cases to weigh as a move assignment does (its old buffer, if any, freed first); flattened,
// so that the library's move and dispose are not calls (three of these pass an answer's
// buffer along).
FASTAPI_DECL void take_text(std::string& to, std::string& from) noexcept;
#if FASTAPI_DEFINITIONS
#if defined(__GNUC__)
[[gnu::flatten]]
#endif
FASTAPI_DECL void take_text(std::string& to, std::string& from) noexcept {
    std::destroy_at(&to);
    std::construct_at(&to, std::move(from));
}
#endif
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string* json_spare() noexcept {
    std::string* spare = json_spare_at;
    return spare ? spare : json_spare_make();
}
FASTAPI_DECL std::string* json_spare_make() noexcept {
    if (json_spare_gone) return nullptr;
    static thread_local json_spare_slot slot;
    json_spare_at = &slot.text;
    return &slot.text;
}
#endif

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
    else if constexpr (named_enum<U> || is_secret_v<U>) return true;
    else return is_model_v<U>;
}
}  // namespace detail

class json {
public:
    using ad_hoc_json = void;  // written and documented as any JSON (json.hpp, model.hpp)
    json() noexcept {}
    json(const json& o) : kind_(o.kind_), s_(o.s_) {
        copy_scalar(o);
        if (o.members_) members_ = new std::vector<json>(*o.members_);
    }
    json(json&& o) noexcept : kind_(o.kind_), s_(std::move(o.s_)), members_(o.members_) {
        copy_scalar(o);
        o.members_ = nullptr;
    }
    json& operator=(const json& o) {
        if (this != &o) *this = json(o);
        return *this;
    }
    json& operator=(json&& o) noexcept {
        if (this != &o) {
            std::vector<json>* old = members_;  // deleted last: o may be one of them
            kind_ = o.kind_;
            copy_scalar(o);
            s_ = std::move(o.s_);
            members_ = o.members_;
            o.members_ = nullptr;
            delete old;
        }
        return *this;
    }
    ~json() {
        if (members_) delete members_;
    }
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
                kind_ = kind::text;
                detail::append_integer(s_, i);
                return;
            }
        }
        kind_ = kind::integer;
        i_ = static_cast<std::int64_t>(i);
    }
    json(double d) noexcept : kind_(kind::number) { d_ = d; }
    json(float f) : kind_(kind::text) { detail::append_float(s_, f); }  // its own shortest digits
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
    json(const T& value) : kind_(kind::text) {
        static_assert(detail::json_writable<T>(),
                      "fastapi::json: this value cannot be written as JSON. Put in a bool, a number, a string, "
                      "a model struct, a std::optional, a std::vector, a std::map<std::string, T>, an enum with "
                      "fastapi::enum_values, a picojson::value or another fastapi::json.");
        if constexpr (detail::json_writable<T>()) write_json(s_, value);
    }

    // An array of the items given (json::array({{"a", "b"}}) is an array holding one array,
    // where json{{"a", "b"}} is an object), and an empty object.
    static json array(std::initializer_list<detail::json_init> items = {});
    static json object() {
        json j;
        j.kind_ = kind::text;
        j.s_ = "{}";
        return j;
    }

    bool is_null() const noexcept { return kind_ == kind::null; }
    bool is_object() const noexcept { return kind_ == kind::members || (kind_ == kind::text && s_.front() == '{'); }
    bool is_array() const noexcept { return kind_ == kind::text && s_.front() == '['; }
    // Members of an object, elements of an array; 0 for anything else.
    std::size_t size() const;

    // The member `key` of an object, added (null) at the end when missing, as a Python dict's
    // d[key] = ... does; a null json becomes an empty object first.
    json& operator[](std::string_view key);
    bool contains(std::string_view key) const;
    // Appends to an array; a null json becomes an empty array first.
    void push_back(const json& value);

    // The compact JSON text, as it is sent.
    std::string dump() const {
        std::string out;
        write(out);
        return out;
    }
    void write(std::string& out) const;
    void write_staged(detail::json_staged& out) const;
    picojson::value to_picojson() const;

private:
    friend struct detail::json_init;
    friend void detail::append_json(std::string& out, json&& v);

    // text: s_ is the value's JSON text (an object, an array, or a scalar written by
    // write_json); members: an object split into members_, keys and values alternating.
    enum class kind : unsigned char { null, boolean, integer, number, string, text, members };

    std::size_t size_hint() const noexcept {
        switch (kind_) {
            case kind::string: return s_.size() + 2;
            case kind::text: return s_.size();
            case kind::members: return 16 * members_->size();
            default: return 20;
        }
    }
    json* find(std::string_view key) noexcept {
        if (!members_) return nullptr;
        auto& m = *members_;
        for (std::size_t i = 0; i < m.size(); i += 2)
            if (m[i].s_ == key) return &m[i + 1];
        return nullptr;
    }
    void split_members();  // text object -> members

    kind kind_ = kind::null;
    union {
        bool b_;
        std::int64_t i_ = 0;
        double d_;
    };
    std::string s_;            // a string's value; a text value's JSON
    // members: keys and values, alternating (behind a pointer: most values never have any, and
    // an empty pointer costs nothing to move or destroy; a plain one, owned, as a unique_ptr's
    // destructor, recursive through the vector's, is called out of line even when empty).
    std::vector<json>* members_ = nullptr;
    std::vector<json>& members() {
        if (!members_) members_ = new std::vector<json>();
        return *members_;
    }
    void copy_scalar(const json& o) noexcept {
        if (kind_ == kind::boolean) b_ = o.b_;
        else if (kind_ == kind::number) d_ = o.d_;
        else i_ = o.i_;
    }
};

namespace detail {
// An object's text as json's list constructor writes it: keys, strings that need no
// escaping and scalars go to a buffer on the stack, given to the string in one append when
// it is full or the object is done; anything else (a model, a nested value, a string to
// escape) is appended to the string directly, after what the buffer holds.
class json_staged {
public:
    explicit json_staged(std::string& out) noexcept : out_(out) {}
    json_staged(const json_staged&) = delete;
    json_staged& operator=(const json_staged&) = delete;
    // The string itself, for a value written there (what the buffer holds goes first).
    std::string& direct() {
        flush();
        return out_;
    }
    void flush() {
        if (n_ != 0) out_.append(buf_, n_);
        n_ = 0;
    }
    void put(char c) {
        if (n_ == sizeof buf_) flush();
        buf_[n_++] = c;
    }
    // `{"key":` or `,"key":`.
    void member_key(char lead, std::string_view key) {
        if (key.size() <= 64) {
            char* w = room(key.size() + 4 + 16);
            w[0] = lead;
            w[1] = '"';
            if (plain_copy(w + 2, key)) {
                w[key.size() + 2] = '"';
                w[key.size() + 3] = ':';
                n_ += key.size() + 4;
                return;
            }
        }
        std::string& out = direct();
        out += lead;
        append_json_string(out, key);
        out += ':';
    }
    void string(std::string_view s) {
        if (s.size() <= 128) {
            char* w = room(s.size() + 2 + 16);
            w[0] = '"';
            if (plain_copy(w + 1, s)) {
                w[s.size() + 1] = '"';
                n_ += s.size() + 2;
                return;
            }
        }
        append_json_string(direct(), s);
    }
    void integer(std::int64_t v) {
        char* w = room(24);
        n_ += static_cast<std::size_t>(std::to_chars(w, w + 24, v).ptr - w);
    }
    void literal(std::string_view s) {
        std::memcpy(room(s.size()), s.data(), s.size());
        n_ += s.size();
    }

private:
    // Room for k bytes (k <= the buffer) at buf_ + n_.
    char* room(std::size_t k) {
        if (n_ + k > sizeof buf_) flush();
        return buf_ + n_;
    }
    // Copies s to w, which has room for it and 16 bytes more, and tests it with no call:
    // whether it needs no escaping. 16 bytes at a time where the compiler has vectors (the
    // last 16 overlapping the ones before; a shorter string tested in w, its bytes beyond s
    // masked off), else 8 at a time.
    static bool plain_copy(char* w, std::string_view s) noexcept {
        const char* p = s.data();
        const std::size_t n = s.size();
#if defined(__GNUC__)
        if (n >= 16) {
            bool plain = true;
            for (std::size_t i = 0; i + 16 < n; i += 16) plain = copy_plain_16(w + i, p + i) && plain;
            return copy_plain_16(w + n - 16, p + n - 16) && plain;
        }
        if (n >= 8) {
            copy_bytes<8>(w, p);
            copy_bytes<8>(w + n - 8, p + n - 8);
        } else if (n >= 4) {
            copy_bytes<4>(w, p);
            copy_bytes<4>(w + n - 4, p + n - 4);
        } else {
            for (std::size_t i = 0; i < n; ++i) w[i] = p[i];
        }
        bytes16 v;
        std::memcpy(&v, w, 16);
        static constexpr bytes16 lane = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
        return none(needs_escape(v) & (lane < static_cast<signed char>(n)));
#else
        std::uint64_t bad = 0;
        if (n >= 8) {
            for (std::size_t i = 0; i + 8 < n; i += 8) bad |= copy_word(w + i, p + i);
            bad |= copy_word(w + n - 8, p + n - 8);
        } else {
            for (std::size_t i = 0; i < n; ++i) {
                w[i] = p[i];
                bad |= json_string_byte_class[static_cast<unsigned char>(p[i])];
            }
        }
        return bad == 0;
#endif
    }
    template <std::size_t K>
    static void copy_bytes(char* w, const char* p) noexcept {
        char b[K];
        std::memcpy(b, p, K);
        std::memcpy(w, b, K);
    }
#if defined(__GNUC__)
    using bytes16 = signed char __attribute__((vector_size(16)));
    // Lanes of bytes below 0x20 or from 0x80 (negative here), '"' and '\\': json_plain_bits's test.
    static bytes16 needs_escape(bytes16 v) noexcept { return (v < 0x20) | (v == '"') | (v == '\\'); }
    static bool none(bytes16 v) noexcept {
        std::uint64_t half[2];
        std::memcpy(half, &v, 16);
        return (half[0] | half[1]) == 0;
    }
    static bool copy_plain_16(char* w, const char* p) noexcept {
        bytes16 v;
        std::memcpy(&v, p, 16);
        std::memcpy(w, &v, 16);
        return none(needs_escape(v));
    }
#else
    static std::uint64_t copy_word(char* w, const char* p) noexcept {
        std::uint64_t v;
        std::memcpy(&v, p, 8);
        std::memcpy(w, &v, 8);
        return json_plain_bits(v);
    }
#endif
    std::string& out_;
    std::size_t n_ = 0;
    char buf_[256];
};

// One item of a braced list: a value, or a braced list itself, which is a {"key", value}
// pair when it has two items and the first is a string (the list around it decides whether
// it is a member or a two-item array). A string or any other value is borrowed, not copied:
// the list lives only as long as the expression that builds the json from it, and so do the
// values it names; they are written once, into the json's text. Scalars and nested lists are
// kept as json values (mutable: the list's items are const, and are moved from once), made
// only for those items (a string or a borrowed value costs no json to make and destroy).
struct json_init {
    enum class form : unsigned char { value, string, ref };
    form how = form::string;
    bool pair = false;
    std::string_view key;  // a pair's key
    std::string_view str;  // form::string: the string
    const void* ref = nullptr;  // form::ref: the value, written by write_ref
    void (*write_ref)(std::string&, const void*) = nullptr;
    union slot {  // form::value: the value
        json v;
        slot() noexcept {}
        ~slot() {}
    };
    mutable slot slot_;
    json& value() const noexcept { return slot_.v; }
    template <class... A>
    void make_value(A&&... a) {
        std::construct_at(&slot_.v, std::forward<A>(a)...);
        how = form::value;
    }

    json_init(std::nullptr_t) noexcept { make_value(); }
    template <class T>
        requires(std::is_arithmetic_v<T> && !std::is_same_v<T, char>)
    json_init(T v) { make_value(v); }
    template <class T>
        requires std::is_convertible_v<const T&, std::string_view>
    json_init(const T& s) : how(form::string), str(s) {}
    json_init(const json& j) noexcept
        : how(form::ref), ref(&j), write_ref([](std::string& out, const void* p) { static_cast<const json*>(p)->write(out); }) {}
    template <class T>
        requires(!std::is_arithmetic_v<T> && !std::is_convertible_v<const T&, std::string_view> &&
                 !std::is_same_v<T, json> && !std::is_same_v<T, json_init> && !std::is_same_v<T, std::nullptr_t>)
    json_init(const T& v) noexcept : how(form::ref), ref(&v) {
        static_assert(json_writable<T>(),
                      "fastapi::json: this value cannot be written as JSON. Put in a bool, a number, a string, "
                      "a model struct, a std::optional, a std::vector, a std::map<std::string, T>, an enum with "
                      "fastapi::enum_values, a picojson::value or another fastapi::json.");
        if constexpr (json_writable<T>())
            write_ref = [](std::string& out, const void* p) { write_json(out, *static_cast<const T*>(p)); };
    }
    json_init(std::initializer_list<json_init> items) {
        const json_init* first = items.begin();
        if (items.size() == 2 && !first->pair && first->how == form::string) {
            const json_init& second = first[1];
            pair = true;
            key = first->str;
            if (second.pair) {  // {"key", {"a", 1}}: the inner pair is an array here
                json text;
                text.kind_ = json::kind::text;
                second.write(text.s_);
                make_value(std::move(text));
            } else if (second.how == form::value) {
                make_value(std::move(second.value()));
            } else {
                how = second.how;
                str = second.str;
                ref = second.ref;
                write_ref = second.write_ref;
            }
        } else {
            make_value(items);
        }
    }
    json_init(const json_init& o)
        : how(o.how), pair(o.pair), key(o.key), str(o.str), ref(o.ref), write_ref(o.write_ref) {
        if (how == form::value) std::construct_at(&slot_.v, o.slot_.v);
    }
    json_init& operator=(const json_init&) = delete;
    ~json_init() {
        if (how == form::value) std::destroy_at(&slot_.v);
    }

    // Appends the item's value (a pair's: its value).
    void write_value(std::string& out) const {
        switch (how) {
            case form::value: return value().write(out);
            case form::string: return append_json_string(out, str);
            case form::ref: return write_ref(out, ref);
        }
    }
    // The same, staged (json's list constructor).
    void write_value(json_staged& out) const {
        switch (how) {
            case form::value: return value().write_staged(out);
            case form::string: return out.string(str);
            case form::ref: return write_ref(out.direct(), ref);
        }
    }
    // Appends the item as an element of an array: a pair is a two-item array there.
    void write(std::string& out) const {
        if (!pair) return write_value(out);
        out += '[';
        append_json_string(out, key);
        out += ',';
        write_value(out);
        out += ']';
    }
    // The item's value as a json of its own.
    json take() const {
        switch (how) {
            case form::value: return std::move(value());
            case form::string: return json(str);
            case form::ref: break;
        }
        json j;
        j.kind_ = json::kind::text;
        write_ref(j.s_, ref);
        return j;
    }
    std::size_t size_hint() const noexcept {
        std::size_t n = pair ? key.size() + 4 : 1;
        switch (how) {
            case form::value: return n + value().size_hint();
            case form::string: return n + str.size() + 2;
            case form::ref: return n + 24;
        }
        return n;
    }
};

// The end of the JSON value that starts at i in text t (compact, as json writes it).
FASTAPI_DECL std::size_t json_value_end(std::string_view t, std::size_t i) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::size_t json_value_end(std::string_view t, std::size_t i) noexcept {
    int depth = 0;
    bool in_string = false;
    for (; i < t.size(); ++i) {
        char c = t[i];
        if (in_string) {
            if (c == '\\') {
                ++i;
            } else if (c == '"') {
                in_string = false;
                if (depth == 0) return i + 1;
            }
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            ++depth;
        } else if (c == '}' || c == ']') {
            if (--depth <= 0) return depth == 0 ? i + 1 : i;
        } else if (c == ',' && depth == 0) {
            return i;
        }
    }
    return i;
}
#endif
// Calls f(key, value_text) for each member of the JSON object text t, keys unescaped.
template <class F>
void for_each_json_member(std::string_view t, F&& f) {
    std::size_t i = 1;
    while (i < t.size() && t[i] != '}') {
        std::size_t key_end = json_value_end(t, i);
        std::string_view key_text = t.substr(i, key_end - i);
        std::string key;
        if (key_text.find('\\') == std::string_view::npos) {
            key = key_text.substr(1, key_text.size() - 2);
        } else {
            picojson::value k;
            picojson::parse(k, std::string(key_text));
            if (k.is<std::string>()) key = k.get<std::string>();
        }
        std::size_t value_end = json_value_end(t, key_end + 1);
        f(std::move(key), t.substr(key_end + 1, value_end - key_end - 1));
        i = value_end + (value_end < t.size() && t[value_end] == ',' ? 1 : 0);
    }
}
}  // namespace detail

#if FASTAPI_DEFINITIONS
FASTAPI_DECL json::json(std::initializer_list<detail::json_init> items) {
    bool pairs = items.size() != 0;
    for (auto& e : items) pairs = pairs && e.pair;
    if (pairs && items.size() > 1) {
        // A repeated key keeps its first place and takes the last value, as in a Python dict.
        bool repeated = false;
        for (auto i = items.begin() + 1; i < items.end() && !repeated; ++i)
            for (auto j = items.begin(); j != i && !repeated; ++j) repeated = i->key == j->key;
        if (repeated) {
            kind_ = kind::members;
            for (auto& e : items) {
                if (json* found = find(e.key)) {
                    *found = e.take();
                } else {
                    members().emplace_back(e.key);
                    members().push_back(e.take());
                }
            }
            return;
        }
    }
    kind_ = kind::text;
    // The thread's spare buffer when it has one (the text seldom outgrows the last answer's;
    // when it does, it grows as a string does), else the size the items suggest.
    std::string* spare = detail::json_spare();
    if (spare && spare->capacity() > s_.capacity()) {
        detail::take_text(s_, *spare);
        s_.clear();  // (it has none: append_json gives it only an empty body's buffer)
    } else {
        std::size_t hint = 2;
        for (auto& e : items) hint += e.size_hint();
        if (hint > s_.capacity()) s_.reserve(hint);
    }
    if (pairs) {
        detail::json_staged out(s_);
        char lead = '{';
        for (auto& e : items) {
            out.member_key(lead, e.key);
            lead = ',';
            e.write_value(out);
        }
        out.put('}');
        out.flush();
    } else {
        s_ += '[';
        for (auto& e : items) {
            if (s_.size() > 1) s_ += ',';
            e.write(s_);
        }
        s_ += ']';
    }
}
#endif

#if FASTAPI_DEFINITIONS
FASTAPI_DECL json json::array(std::initializer_list<detail::json_init> items) {
    json j;
    j.kind_ = kind::text;
    j.s_ += '[';
    for (auto& e : items) {
        if (j.s_.size() > 1) j.s_ += ',';
        e.write(j.s_);
    }
    j.s_ += ']';
    return j;
}
#endif

#if FASTAPI_DEFINITIONS
FASTAPI_DECL void json::split_members() {
    std::vector<json> members;
    detail::for_each_json_member(s_, [&](std::string key, std::string_view value) {
        members.emplace_back(std::move(key));
        json& v = members.emplace_back();
        v.kind_ = kind::text;
        v.s_ = value;
    });
    auto* split = new std::vector<json>(std::move(members));  // before the delete: new may throw
    delete members_;
    members_ = split;
    s_.clear();
    kind_ = kind::members;
}
#endif

#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::size_t json::size() const {
    if (kind_ == kind::members) return members_ ? members_->size() / 2 : 0;
    if (kind_ != kind::text || (s_.front() != '{' && s_.front() != '[')) return 0;
    std::size_t n = 0;
    if (s_.front() == '{') {
        detail::for_each_json_member(s_, [&](std::string, std::string_view) { ++n; });
    } else {
        for (std::size_t i = 1; i < s_.size() && s_[i] != ']'; ++n) {
            i = detail::json_value_end(s_, i);
            if (i < s_.size() && s_[i] == ',') ++i;
        }
    }
    return n;
}
#endif

#if FASTAPI_DEFINITIONS
FASTAPI_DECL json& json::operator[](std::string_view key) {
    if (kind_ == kind::null) kind_ = kind::members;
    if (kind_ == kind::text && s_.front() == '{') split_members();
    if (kind_ != kind::members) throw std::invalid_argument("fastapi::json: [\"key\"] on a value that is not an object");
    if (json* found = find(key)) return *found;
    members().emplace_back(key);
    return members().emplace_back();
}
#endif

#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool json::contains(std::string_view key) const {
    if (kind_ == kind::members) return const_cast<json*>(this)->find(key) != nullptr;
    bool found = false;
    if (is_object()) detail::for_each_json_member(s_, [&](std::string k, std::string_view) { found = found || k == key; });
    return found;
}
#endif

#if FASTAPI_DEFINITIONS
FASTAPI_DECL void json::push_back(const json& value) {
    if (kind_ == kind::null) {
        kind_ = kind::text;
        s_ = "[]";
    }
    if (!is_array()) throw std::invalid_argument("fastapi::json: push_back on a value that is not an array");
    s_.pop_back();
    if (s_.size() > 1) s_ += ',';
    value.write(s_);
    s_ += ']';
}
#endif

#if FASTAPI_DEFINITIONS
FASTAPI_DECL void json::write(std::string& out) const {
    switch (kind_) {
        case kind::null: out.append("null", 4); break;
        case kind::boolean: b_ ? out.append("true", 4) : out.append("false", 5); break;
        case kind::integer: detail::append_integer(out, i_); break;
        case kind::number: detail::append_double(out, d_); break;
        case kind::string: detail::append_json_string(out, s_); break;
        case kind::text: out += s_; break;
        case kind::members:
            out += '{';
            for (std::size_t i = 0; members_ && i < members_->size(); i += 2) {
                if (i) out += ',';
                detail::append_json_string(out, (*members_)[i].s_);
                out += ':';
                (*members_)[i + 1].write(out);
            }
            out += '}';
            break;
    }
}
#endif

#if FASTAPI_DEFINITIONS
FASTAPI_DECL void json::write_staged(detail::json_staged& out) const {
    switch (kind_) {
        case kind::null: return out.literal("null");
        case kind::boolean: return out.literal(b_ ? "true" : "false");
        case kind::integer: return out.integer(i_);
        case kind::string: return out.string(s_);
        default: return write(out.direct());
    }
}
#endif

// As a picojson tree (whose objects sort their keys): for HTTPException::detail() and the
// parts that read JSON back.
#if FASTAPI_DEFINITIONS
FASTAPI_DECL picojson::value json::to_picojson() const {
    switch (kind_) {
        case kind::null: return picojson::value();
        case kind::boolean: return picojson::value(b_);
        case kind::integer: return picojson::value(i_);
        case kind::number: return std::isfinite(d_) ? picojson::value(d_) : picojson::value();
        case kind::string: return picojson::value(s_);
        case kind::text: {
            picojson::value v;
            std::string err = picojson::parse(v, s_);
            return v;
        }
        case kind::members: {
            picojson::object o;
            for (std::size_t i = 0; members_ && i < members_->size(); i += 2)
                o[(*members_)[i].s_] = (*members_)[i + 1].to_picojson();
            return picojson::value(std::move(o));
        }
    }
    return picojson::value();
}
#endif

namespace detail {
// A json answer given up to the response: its text becomes the body when there is none yet.
FASTAPI_DECL void append_json(std::string& out, json&& v);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void append_json(std::string& out, json&& v) {
    if (v.kind_ == json::kind::text && out.empty()) {
        // out's (empty) buffer is kept for the next json on this thread; then out, with no
        // buffer of its own, takes v's text.
        std::string* spare = json_spare();
        if (spare && out.capacity() <= json_spare_limit && out.capacity() > spare->capacity()) take_text(*spare, out);
        take_text(out, v.s_);
    } else {
        v.write(out);
    }
}
#endif
}  // namespace detail

}  // namespace fastapi
