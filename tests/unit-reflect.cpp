// Reflection of plain structs: how many fields, each field by reference, each field's name,
// type names, described classes and enumerations.
#include <doctest/doctest.h>
#include "fastapi.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace reflect_test {
struct Inner {
    int a;
    double b;
};
struct Plain {
    std::string name;
    std::optional<int> count;
    std::vector<std::string> tags;
    std::map<std::string, int> scores;
    Inner inner;
    fastapi::Field<std::string, fastapi::MaxLength<3>> code;
    picojson::value raw;
};
struct Empty {};

// A class with private state describes its fields itself.
class Point {
    double x_ = 0, y_ = 0;

public:
    Point() = default;
    Point(double x, double y) : x_(x), y_(y) {}
    double x() const { return x_; }
    static constexpr auto fastapi_fields() {
        return std::tuple{fastapi::member("x", &Point::x_), fastapi::member("y", &Point::y_)};
    }
};

// A type one cannot edit is described from outside.
struct Legacy {
    Legacy() = default;
    explicit Legacy(int v) : value(v) {}
    int value = 0;
};

template <class T>
struct Page {
    std::vector<T> items;
    int total;
};

struct Wide {
    int f0, f1, f2, f3, f4, f5, f6, f7, f8, f9, f10, f11, f12, f13, f14, f15, f16, f17, f18, f19, f20, f21, f22, f23,
        f24, f25, f26, f27, f28, f29, f30, f31, f32, f33, f34, f35, f36, f37, f38, f39;
};

enum class Color { red, green, blue };
}  // namespace reflect_test

template <>
struct fastapi::model_fields<reflect_test::Legacy> {
    static constexpr auto get() { return std::tuple{fastapi::member("value", &reflect_test::Legacy::value)}; }
};
template <>
struct fastapi::enum_values<reflect_test::Color> {
    static constexpr fastapi::enum_value<reflect_test::Color> values[] = {
        {reflect_test::Color::red, "red"}, {reflect_test::Color::green, "green"}, {reflect_test::Color::blue, "blue"}};
};

using namespace reflect_test;
namespace d = fastapi::detail;

TEST_CASE("a plain struct's fields are counted by aggregate initialisation") {
    static_assert(d::field_count_v<Inner> == 2);
    static_assert(d::field_count_v<Plain> == 7);
    static_assert(d::field_count_v<Wide> == 40);
    static_assert(d::field_count_v<Page<Inner>> == 2);
    CHECK(d::field_count_v<Plain> == 7);
}

TEST_CASE("field names come from the compiler, in declaration order") {
    static_assert(d::field_name_v<Plain, 0> == "name");
    static_assert(d::field_name_v<Plain, 4> == "inner");
    static_assert(d::field_name_v<Plain, 6> == "raw");
    static_assert(d::field_name_v<Inner, 1> == "b");
    static_assert(d::field_name_v<Wide, 39> == "f39");
    struct Local {
        int first;
        std::string second;
    };
    static_assert(d::field_name_v<Local, 1> == "second");
    CHECK(d::field_name_v<Plain, 1> == "count");
}

TEST_CASE("fields are references into the object") {
    Plain p{};
    d::get_field<0>(p) = "changed";
    d::get_field<4>(p).a = 7;
    CHECK(p.name == "changed");
    CHECK(p.inner.a == 7);
    int visited = 0;
    d::visit_fields(p, [&](auto&... f) { visited = sizeof...(f); });
    CHECK(visited == 7);
}

TEST_CASE("a class can describe its fields with fastapi_fields() or fastapi::model_fields<T>") {
    static_assert(d::field_count_v<Point> == 2);
    static_assert(d::field_name_v<Point, 1> == "y");
    Point pt(1.5, 2.5);
    CHECK(d::get_field<1>(pt) == 2.5);
    CHECK(fastapi::to_json_string(pt) == R"({"x":1.5,"y":2.5})");
    Legacy l(4);
    CHECK(fastapi::to_json_string(l) == R"({"value":4})");
    static_assert(d::is_model_v<Point> && d::is_model_v<Legacy> && d::is_model_v<Plain>);
    static_assert(!d::is_model_v<std::string> && !d::is_model_v<Empty> && !d::is_model_v<std::array<int, 2>>);
}

TEST_CASE("type names drop namespaces") {
    CHECK(d::short_type_name_v<Inner> == "Inner");
    CHECK(d::short_type_name_v<Page<Inner>> == "Page<Inner>");
    CHECK(d::type_name_v<Inner> == "reflect_test::Inner");
    CHECK(d::model_name<Page<Inner>>() == "Page<Inner>");
    CHECK(d::body_key_name<Page<Inner>>() == "page_inner");
    CHECK(d::body_key_name<Inner>() == "inner");
}

TEST_CASE("enumerations are named by fastapi::enum_values") {
    static_assert(d::named_enum<Color>);
    CHECK(d::enum_to_name(Color::green) == "green");
    CHECK(d::enum_to_name(static_cast<Color>(9)).empty());
    CHECK(fastapi::to_json_string(std::vector<Color>{Color::red, Color::blue}) == R"(["red","blue"])");
}
