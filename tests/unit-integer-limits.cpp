// Integer limits: a value at the limits of its type is read exactly; one beyond them, by one
// or by far, is a 422 from every source (path, query, header, cookie, form field, JSON body
// through either reader), never a silent 0 or a neighbour (issue 9). Beyond the type's range
// is reported as for a narrower type: less_than_equal / greater_than_equal with the type's
// limit (pydantic's int has no limit; these are the bounds of the C++ type).
#include <doctest/doctest.h>

#include "fastapi.hpp"
#include "support.hpp"

#include <cstdint>
#include <limits>
#include <string>

using namespace fastapi;

namespace integer_limits {

template <class I>
struct OneInt {
    I v;
};
// "lax" as a string is not the direct reader's road: the body goes to the reference reader.
template <class I>
struct OneIntLax {
    I v;
    int lax;
};

std::string text(__int128 v) {
    if (v == 0) return "0";
    bool neg = v < 0;
    unsigned __int128 u = neg ? static_cast<unsigned __int128>(-(v + 1)) + 1 : static_cast<unsigned __int128>(v);
    std::string s;
    while (u) {
        s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(u % 10)));
        u /= 10;
    }
    return neg ? "-" + s : s;
}

template <class I>
void add_routes(App& app) {
    app.get("/p/{v}", [](Path<"v", I> v) { return *v; });
    app.get("/q", [](Query<"v", I> v) { return *v; });
    app.get("/h", [](Header<"x_v", I> v) { return *v; });
    app.get("/c", [](Cookie<"v", I> v) { return *v; });
    app.post("/f", [](Form<"v", I> v) { return *v; });
    app.post("/b", [](OneInt<I> m) { return m.v; });
    app.post("/lax", [](OneIntLax<I> m) { return m.v; });
}

// One error, less_than_equal (above) or greater_than_equal, naming the type's limit.
void check_range_error(const TestResponse& r, bool above, const std::string& limit) {
    REQUIRE(r.status_code == 422);
    auto detail = r.json().get("detail").get<picojson::array>();
    REQUIRE(detail.size() == 1);
    CHECK(detail[0].get("type").get<std::string>() == (above ? "less_than_equal" : "greater_than_equal"));
    CHECK(detail[0].get("msg").get<std::string>() ==
          (above ? "Input should be less than or equal to " : "Input should be greater than or equal to ") + limit);
}

// The response to `value` (its text) sent by each source, in order.
std::vector<TestResponse> send_everywhere(TestClient& client, const std::string& value) {
    std::vector<TestResponse> out;
    out.push_back(client.get("/p/" + value));
    out.push_back(client.get("/q?v=" + value));
    Headers h;
    h.set("x-v", value);
    out.push_back(client.get("/h", h));
    Headers c;
    c.set("cookie", "v=" + value);
    out.push_back(client.get("/c", c));
    Headers form;
    form.set("content-type", "application/x-www-form-urlencoded");
    out.push_back(client.post("/f", "v=" + value, form));
    Headers json;
    json.set("content-type", "application/json");
    out.push_back(client.post("/b", R"({"v":)" + value + "}", json));
    out.push_back(client.post("/b", R"({"v":")" + value + "\"}", json));  // a string, lax
    out.push_back(client.post("/lax", R"({"v":)" + value + R"(,"lax":"1"})", json));
    return out;
}

constexpr const char* sources[] = {"path", "query", "header", "cookie", "form", "json number (direct reader)",
                                   "json string", "json number (reference reader)"};

}  // namespace integer_limits

TEST_CASE_TEMPLATE("integers at their type's limits are read exactly, beyond them are a 422, from every source", I,
                   std::int8_t, std::int16_t, std::int32_t, std::int64_t, std::uint8_t, std::uint16_t,
                   std::uint32_t, std::uint64_t) {
    using namespace integer_limits;
    App app;
    add_routes<I>(app);
    TestClient client(app);
    const __int128 lo = std::numeric_limits<I>::min(), hi = std::numeric_limits<I>::max();
    for (__int128 v : {lo, lo + 1, __int128{0}, hi - 1, hi}) {
        auto rs = send_everywhere(client, text(v));
        for (std::size_t i = 0; i < rs.size(); ++i) {
            CAPTURE(sources[i]);
            CAPTURE(text(v));
            CHECK(rs[i].status_code == 200);
            CHECK(rs[i].text == text(v));
        }
    }
    // Just beyond, far beyond (beyond int64 and uint64), as FastAPI would see them.
    const __int128 far = static_cast<__int128>(1) << 100;
    for (auto beyond : {std::pair{hi + 1, true}, std::pair{lo - 1, false}, std::pair{far, true}, std::pair{-far, false}}) {
        const __int128 v = beyond.first;  // not a structured binding: Clang 14 cannot capture one (CAPTURE)
        const bool above = beyond.second;
        auto rs = send_everywhere(client, text(v));
        for (std::size_t i = 0; i < rs.size(); ++i) {
            CAPTURE(sources[i]);
            CAPTURE(text(v));
            check_range_error(rs[i], above, text(above ? hi : lo));
        }
    }
}

TEST_CASE("the issue's request: a path int64 beyond its range is a 422, not a handler called with 0") {
    App app;
    int calls = 0;
    app.get("/items/{item_id}", [&calls](Path<"item_id", int64_t, Ge<1>> item_id) { return ++calls, *item_id; });
    TestClient client(app);
    auto r = client.get("/items/99999999999999999999");
    CHECK(r.status_code == 422);
    CHECK(r.text == R"({"detail":[{"type":"less_than_equal","loc":["path","item_id"],"msg":"Input should be less than or equal to 9223372036854775807","input":"99999999999999999999","ctx":{"le":9223372036854775807}}]})");
    CHECK(calls == 0);
}

TEST_CASE("uint64's upper half is read exactly by both JSON readers (picojson holds it as a rounded double)") {
    using namespace integer_limits;
    App app;
    add_routes<std::uint64_t>(app);
    TestClient client(app);
    Headers json;
    json.set("content-type", "application/json");
    for (std::string v : {"9223372036854775808", "9223372036854775809", "18446744073709551614", "18446744073709551615"}) {
        CAPTURE(v);
        CHECK(client.post("/b", R"({"v":)" + v + "}", json).text == v);
        CHECK(client.post("/lax", R"({"v":)" + v + R"(,"lax":"1"})", json).text == v);
        // In a list, whose elements move while it grows, and after a repeated key.
        CHECK(client.post("/lax", R"({"v":1,"v":)" + v + R"(,"lax":"1"})", json).text == v);
    }
    std::vector<std::uint64_t> many;
    ValidationErrors errors;
    std::string body = "[";
    for (int i = 0; i < 40; ++i) body += (i ? "," : "") + std::to_string(18446744073709551615ULL - static_cast<unsigned>(i));
    body += R"(,"1"])";  // the string sends the list to the reference reader
    REQUIRE(read_json_body(body, many, errors));
    REQUIRE(many.size() == 41);
    for (int i = 0; i < 40; ++i) CHECK(many[static_cast<std::size_t>(i)] == 18446744073709551615ULL - static_cast<unsigned>(i));
}

TEST_CASE("a JSON float at or beyond int64's ends is a range error, not a rounded int64") {
    ValidationErrors errors;
    Loc loc{std::string("body")};
    std::int64_t i = 7;
    CHECK_FALSE(from_json(picojson::value(-9223372036854775808.0), i, errors, loc));
    CHECK_FALSE(from_json(picojson::value(9223372036854775808.0), i, errors, loc));
    CHECK_FALSE(from_json(picojson::value(1e30), i, errors, loc));
    REQUIRE(errors.size() == 3);
    CHECK(errors[0].type == "greater_than_equal");
    CHECK(errors[1].type == "less_than_equal");
    CHECK(errors[2].type == "less_than_equal");
    CHECK(i == 7);
}

TEST_CASE("binding: a conversion that fails without saying why is still reported (the invariant)") {
    ValidationErrors errors;
    Loc loc{std::string("query"), std::string("q")};
    bool ok = detail::converted_or_reported(errors, loc, [] { return false; }, [] { return picojson::value("x"); });
    CHECK_FALSE(ok);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].type == "value_error");
    CHECK(errors[0].loc == loc);
    // A failure that reported itself is left as it is.
    ok = detail::converted_or_reported(errors, loc, [&] { return detail::add_error(errors, loc, "int_parsing", "m", {}), false; },
                                       [] { return picojson::value("x"); });
    CHECK_FALSE(ok);
    CHECK(errors.size() == 2);
    CHECK(errors[1].type == "int_parsing");
}
