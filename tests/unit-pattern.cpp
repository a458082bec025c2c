// Pattern<"...">: the syntax it reads (Rust regex syntax, as pydantic's), what it matches
// (re.search: anywhere, unless the pattern anchors itself), what it refuses, and that a
// hostile input as long as the body limit is answered 422 in linear time: std::regex recursed
// once per character and a 100,000-character body killed the server.
#include <doctest/doctest.h>
#include "fastapi.hpp"
#include "support.hpp"

#include <chrono>
#include <initializer_list>
#include <string>
#include <string_view>

namespace pattern_test {
using namespace fastapi;
using fastapi::detail::regex::engine;
using fastapi::detail::regex::error;
using fastapi::detail::regex::runtime_regex;

// The same pattern compiled at compile time (as Pattern<> does) and at run time must give
// each answer expected of it, with both engines (the Pike VM takes short strings, the lazy DFA
// long ones).
template <fixed_string P>
void matches(std::initializer_list<std::string_view> yes, std::initializer_list<std::string_view> no) {
    runtime_regex r(P.view());
    REQUIRE_MESSAGE(r.err() == error::none, P.view());
    for (std::string_view s : yes) {
        CHECK_MESSAGE(detail::regex::search<P>(s), P.view(), " should match \"", s, "\"");
        CHECK_MESSAGE(r.search(s, engine::pike), P.view(), " should match \"", s, "\" (Pike VM)");
        CHECK_MESSAGE(r.search(s, engine::dfa), P.view(), " should match \"", s, "\" (lazy DFA)");
    }
    for (std::string_view s : no) {
        CHECK_MESSAGE(!detail::regex::search<P>(s), P.view(), " should not match \"", s, "\"");
        CHECK_MESSAGE(!r.search(s, engine::pike), P.view(), " should not match \"", s, "\" (Pike VM)");
        CHECK_MESSAGE(!r.search(s, engine::dfa), P.view(), " should not match \"", s, "\" (lazy DFA)");
    }
}

error refusal(std::string_view pattern) { return runtime_regex(pattern).err(); }

struct Named {
    Field<std::string, Pattern<"^[a-z]+$">> name;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void add_routes(App& app) {
    app.post("/named", [](Named n) { return n.name.value.size(); });
    app.get("/q", [](Query<"q", std::string, Pattern<"^[a-z]+$">> q) { return q.value.size(); });
}

const std::string mismatch_json =
    R"({"detail":[{"type":"string_pattern_mismatch","loc":["body","name"],"msg":"String should match pattern '^[a-z]+$'","input":")";
}  // namespace pattern_test

using namespace pattern_test;

TEST_CASE("literals and escapes") {
    matches<"abc">({"abc", "xxabcxx"}, {"ab", "acb", ""});
    matches<"a\\.b">({"a.b"}, {"axb"});
    matches<"\\\\\\*\\+\\?\\(\\)\\[\\]\\{\\}\\|\\^\\$\\-\\/">({"\\*+?()[]{}|^$-/"}, {"*+?()[]{}|^$-/"});
    matches<"\\t\\n\\r\\f\\v\\a">({"\t\n\r\f\v\a"}, {"tnrfva"});
    matches<"\\x41\\u0042\\U00000043\\x{44}\\u{1F600}">({"ABCD\xF0\x9F\x98\x80"}, {"ABCD"});
    matches<"caf\xc3\xa9">({"caf\xc3\xa9"}, {"cafe"});  // a literal code point in UTF-8
    matches<"">({"", "anything"}, {});
}

TEST_CASE(". matches one code point, not a newline unless (?s)") {
    matches<"^.$">({"a", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xff"}, {"", "ab", "\n", "\xc3\xa9\xc3\xa9"});
    matches<"^a.c$">({"abc", "a c", "a\xc3\xa9" "c"}, {"a\nc", "ac"});
    matches<"(?s)^a.c$">({"a\nc"}, {"ac"});
    matches<"^...$">({"\xc3\xa9t\xc3\xa9"}, {"\xc3\xa9t"});  // three characters, five bytes
}

TEST_CASE("classes: ranges, negation, escapes, ASCII names") {
    matches<"^[a-c]+$">({"abcabc"}, {"abd", ""});
    matches<"^[^a-c]$">({"d", "\xc3\xa9", "\n"}, {"a", "b", "c"});
    matches<"^[a\\-z]+$">({"a-z"}, {"b"});
    matches<"^[a-]+$">({"a-"}, {"b"});
    matches<"^[-a]+$">({"-a"}, {"b"});
    matches<"^[]a]+$">({"]a"}, {"b"});      // ']' first is the character, as in Rust
    matches<"^[^]a]$">({"b"}, {"]", "a"});
    matches<"^[\\d_]+$">({"0_9"}, {"a"});
    matches<"^[^\\d]$">({"a"}, {"5"});
    matches<"^[\\D]$">({"a"}, {"5"});
    matches<"^[\\w.]+$">({"a.b_1"}, {"a b"});
    matches<"^[\\s]$">({" ", "\t"}, {"a"});
    matches<"^[\\x41-\\x43]+$">({"ABC"}, {"D"});
    matches<"^[\xc3\xa0-\xc3\xbf]$">({"\xc3\xa9"}, {"e"});  // a range of code points
    matches<"^[[:alpha:]]+$">({"abcXYZ"}, {"a1"});
    matches<"^[[:^digit:]]+$">({"ab"}, {"a1"});
    matches<"^[[:xdigit:][:space:]]+$">({"af 09"}, {"g"});
}

TEST_CASE("\\d \\w \\s and their negations") {
    matches<"^\\d+$">({"0123456789"}, {"12a", ""});
    matches<"^\\D+$">({"abc"}, {"a1"});
    matches<"^\\w+$">({"az_AZ09"}, {"a-b"});
    matches<"^\\W$">({"-", "\xc3\xa9"}, {"a", "_"});  // ASCII \w: é is not a word character
    matches<"^\\s+$">({" \t\n\r\f\v", "\xc2\xa0", "\xe3\x80\x80"}, {"a"});  // Unicode White_Space
    matches<"^\\S$">({"a"}, {" ", "\xc2\xa0"});
}

TEST_CASE("anchors: ^ $ \\A \\z, (?m), \\b \\B") {
    matches<"^ab">({"abc"}, {"cab"});
    matches<"ab$">({"cab"}, {"abc", "ab\n"});  // $ is the end of the text only, as in Rust
    matches<"\\Aab\\z">({"ab"}, {"ab\n", "xab"});
    matches<"(?m)^b$">({"a\nb\nc", "b"}, {"ab\nc"});
    matches<"^b$">({"b"}, {"a\nb\nc"});
    matches<"\\bfoo\\b">({"foo", "a foo b", "(foo)"}, {"foobar", "afoo"});
    matches<"\\Boo\\B">({"foobar"}, {"oo", "a oo b"});
}

TEST_CASE("alternation and groups, named groups") {
    matches<"^(cat|dog)$">({"cat", "dog"}, {"cow", "catdog"});
    matches<"^(?:ab|cd)+$">({"abcdab"}, {"abc"});
    matches<"^(?P<word>[a-z]+)-(?<num>\\d+)$">({"abc-12"}, {"abc-"});
    matches<"a|">({"", "b"}, {});
    matches<"^(|a)$">({"", "a"}, {"b"});
    matches<"^((a|b)(c|d))+$">({"acbd"}, {"ab"});
}

TEST_CASE("quantifiers, counted repetition and lazy forms") {
    matches<"^a*$">({"", "aaa"}, {"b"});
    matches<"^a+$">({"a", "aaa"}, {""});
    matches<"^ab?c$">({"ac", "abc"}, {"abbc"});
    matches<"^a{3}$">({"aaa"}, {"aa", "aaaa"});
    matches<"^a{2,}$">({"aa", "aaaaaaa"}, {"a"});
    matches<"^a{1,3}$">({"a", "aaa"}, {"", "aaaa"});
    matches<"^a{0}b$">({"b"}, {"ab"});
    matches<"^(ab){2}$">({"abab"}, {"ab"});
    matches<"^a*?b+?c??$">({"b", "aabbc"}, {"c"});
    matches<"^a{2,3}?$">({"aa"}, {"a"});
    matches<"^(a*)*$">({"", "aaa"}, {"b"});  // an empty loop ends
    matches<"^(a|)+b$">({"b", "aab"}, {"c"});
    matches<"^[a-z]{1,1000}$">({std::string(1000, 'q')}, {std::string(1001, 'q')});
}

TEST_CASE("flags (?i) (?m) (?s), scoped and cleared") {
    matches<"(?i)^abc$">({"abc", "ABC", "aBc"}, {"abd"});
    matches<"(?i)^[a-c]+$">({"AbC"}, {"D"});
    matches<"(?i)^[^a]$">({"b"}, {"a", "A"});
    matches<"^a(?i:b)c$">({"aBc", "abc"}, {"abC", "Abc"});
    matches<"^(?i)a(?-i)b$">({"Ab"}, {"AB"});
    matches<"^(a(?i)b)c$">({"aBc"}, {"aBC"});  // a flag lasts to the end of its group
    matches<"(?ims)^a.b$">({"x\nA\nB"}, {"x\nA\nC"});
    matches<"(?U)^a+$">({"aa"}, {"b"});  // greedy or lazy: the same yes or no
}

TEST_CASE("what the matcher refuses, each with its reason") {
    CHECK(refusal("(a)\\1") == error::backreference);
    CHECK(refusal("(?P<a>x)(?P=a)") == error::backreference);
    CHECK(refusal("(?<a>x)\\k<a>") == error::backreference);
    CHECK(refusal("a(?=b)") == error::lookaround);
    CHECK(refusal("a(?!b)") == error::lookaround);
    CHECK(refusal("(?<=a)b") == error::lookaround);
    CHECK(refusal("(?<!a)b") == error::lookaround);
    CHECK(refusal("a*+") == error::possessive);
    CHECK(refusal("a{2}+") == error::possessive);
    CHECK(refusal("(?>a)") == error::unsupported_group);
    CHECK(refusal("(?#note)") == error::unsupported_group);
    CHECK(refusal("(?<1a>x)") == error::unsupported_group);
    CHECK(refusal("(?x)a b") == error::unsupported_flag);
    CHECK(refusal("\\p{L}") == error::unsupported_escape);
    CHECK(refusal("\\Z") == error::unsupported_escape);
    CHECK(refusal("\\q") == error::unsupported_escape);
    CHECK(refusal("\\<") == error::unsupported_escape);
    CHECK(refusal("a\\") == error::unsupported_escape);
    CHECK(refusal("[\\b]") == error::unsupported_escape);
    CHECK(refusal("\\xZZ") == error::bad_hex);
    CHECK(refusal("\\x{110000}") == error::bad_hex);
    CHECK(refusal("\\ud800") == error::bad_hex);
    CHECK(refusal("(a") == error::unclosed_group);
    CHECK(refusal("(?i:a") == error::unclosed_group);
    CHECK(refusal("a)") == error::unopened_group);
    CHECK(refusal("[a") == error::unclosed_class);
    CHECK(refusal("[]") == error::unclosed_class);
    CHECK(refusal("[a&&b]") == error::class_operation);
    CHECK(refusal("[a--b]") == error::class_operation);
    CHECK(refusal("[[a]]") == error::class_operation);
    CHECK(refusal("[[:nope:]]") == error::class_operation);
    CHECK(refusal("[z-a]") == error::bad_class_range);
    CHECK(refusal("[\\d-z]") == error::bad_class_range);
    CHECK(refusal("[a-\\d]") == error::bad_class_range);
    CHECK(refusal("*a") == error::nothing_to_repeat);
    CHECK(refusal("a|+") == error::nothing_to_repeat);
    CHECK(refusal("(?i)*") == error::nothing_to_repeat);
    CHECK(refusal("a{x}") == error::bad_repetition);
    CHECK(refusal("a{2,1}") == error::bad_repetition);
    CHECK(refusal("a{") == error::bad_repetition);
    CHECK(refusal("a**") == error::bad_repetition);
    CHECK(refusal("a{1001}") == error::repetition_too_large);
    CHECK(refusal("a{1,1001}") == error::repetition_too_large);
    CHECK(refusal(std::string(65, '(') + std::string(65, ')')) == error::too_deep);
    CHECK(refusal(std::string(64, '(') + std::string(64, ')')) == error::none);
    CHECK(refusal("(a{1000}){11}") == error::too_large);  // 11,000 instructions
    CHECK(refusal("(a{1000}){9}") == error::none);
    CHECK(refusal("\xff") == error::bad_utf8);
    CHECK(refusal("[\xc3]") == error::bad_utf8);
}

TEST_CASE("a match never recurses per input character: every construct on an input of the body limit") {
    const std::size_t n = FASTAPI_MAX_BODY_BYTES;
    const std::string as(n, 'a');
    const std::string as_then_1 = std::string(n - 1, 'a') + '1';
    const auto t0 = std::chrono::steady_clock::now();
    struct Case {
        std::string_view pattern;
        bool on_as, on_as_then_1;
    };
    for (const Case& c : std::initializer_list<Case>{
             {"^[a-z]+$", true, false},     {"^(a|b)*$", true, false},  {"^a*?$", true, false},
             {"1$", false, true},           {"^\\w+$", true, true},     {"^.*$", true, true},
             {"^(?:a{2})+$", true, false},  {"[^a]", false, true},      {"\\b1", false, false},
             {"(?i)^A+$", true, false},     {"\\d", false, true},       {"^a{1,1000}$", false, false},
             {"(?m)^a+$", true, false},     {"^(?P<x>a+)+$", true, false}, {"\\Ba\\z", true, false},
         }) {
        runtime_regex r(c.pattern);
        REQUIRE(r.err() == error::none);
        for (engine e : {engine::pike, engine::dfa}) {
            CHECK_MESSAGE(r.search(as, e) == c.on_as, c.pattern);
            CHECK_MESSAGE(r.search(as_then_1, e) == c.on_as_then_1, c.pattern);
        }
    }
    CHECK(seconds_since(t0) < 30);  // linear: about 0.1 s at -O2; bounded even under sanitizers
    const std::string multibyte = [] {  // 1 MiB of two-byte characters
        std::string s;
        for (std::size_t k = 0; k < FASTAPI_MAX_BODY_BYTES / 2; ++k) s += "\xc3\xa9";
        return s;
    }();
    CHECK(detail::regex::search<"^[^a]+$">(multibyte));
    CHECK(!detail::regex::search<"^[a-z]+$">(multibyte));
}

TEST_CASE("many threads alive at once: the lazy DFA keeps a long unanchored count linear, within its cache") {
    // [a-z]{1,1000}1 searched anywhere keeps up to 1,000 Pike VM threads alive per character
    // (25 s for 1 MiB at -O2); the DFA meets each of its ~1,000 states once.
    const std::string s = std::string(FASTAPI_MAX_BODY_BYTES - 1, 'a') + '1';
    const auto t0 = std::chrono::steady_clock::now();
    CHECK(detail::regex::search<"[a-z]{1,1000}1">(s));
    CHECK(!detail::regex::search<"[a-z]{1,1000}2">(s));
    // More states than the cache holds (one per length up to 5,000): it is emptied and
    // refilled, the answer stays right.
    runtime_regex wide("(?:[ab]{1,1000}){5}c");
    REQUIRE(wide.err() == error::none);
    static_assert(detail::regex::dfa_max_states < 5000);
    CHECK(!wide.search(std::string(6'000, 'a'), engine::dfa));
    CHECK(wide.search(std::string(6'000, 'a') + 'c', engine::dfa));
    CHECK(!wide.search("aaaac", engine::dfa));  // at least five
    CHECK(seconds_since(t0) < 60);
}

TEST_CASE("a body of 1,000,000 characters against Pattern<> is a 422, no crash (it overflowed std::regex's stack)") {
    App app;
    add_routes(app);
    TestClient client(app);
    const auto t0 = std::chrono::steady_clock::now();
    const std::string name = std::string(1'000'000, 'a') + '1';
    auto bad = client.post("/named", R"({"name":")" + name + R"("})", test::hdrs({{"content-type", "application/json"}}));
    CHECK(bad.status_code == 422);
    CHECK(bad.text == mismatch_json + name + R"(","ctx":{"pattern":"^[a-z]+$"}}]})");
    auto good = client.post("/named", R"({"name":")" + std::string(1'000'000, 'a') + R"("})",
                            test::hdrs({{"content-type", "application/json"}}));
    CHECK(good.status_code == 200);
    CHECK(good.text == "1000000");
    CHECK(seconds_since(t0) < 30);
}

TEST_CASE("a query parameter as long as a request target may be, against Pattern<>, is a 422") {
    App app;
    add_routes(app);
    TestClient client(app);
    const std::size_t n = FASTAPI_MAX_TARGET_BYTES - 16;  // the longest target fastapi.hpp reads
    auto bad = client.get("/q?q=" + std::string(n, 'a') + "1");
    CHECK(bad.status_code == 422);
    CHECK(bad.text.find(R"("type":"string_pattern_mismatch","loc":["query","q"])") != std::string::npos);
    CHECK(client.get("/q?q=" + std::string(n, 'a')).text == std::to_string(n));
    CHECK(client.get("/q?q=abc").text == "3");
}

TEST_CASE("through a real socket: the server answers the hostile body 422 and keeps serving") {
    App app;
    add_routes(app);
    test::LiveServer server(app);
    const std::string body = R"({"name":")" + std::string(200'000, 'a') + R"(1"})";
    test::RawClient c(server.port(), std::chrono::milliseconds(20'000));
    c.send("POST /named HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body);
    auto response = c.read_response();
    CHECK(test::status_of(response) == 422);
    CHECK(test::body_of(response).find("string_pattern_mismatch") != std::string::npos);
    c.send("POST /named HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"name\":\"ab\"}");
    CHECK(test::body_of(c.read_response()) == "2");
}

TEST_CASE("OAuth2PasswordRequestForm checks grant_type without a pattern matcher, with pydantic's error") {
    App app;
    app.post("/token", [](OAuth2PasswordRequestForm form) { return form.username; });
    TestClient client(app);
    auto form = test::hdrs({{"content-type", "application/x-www-form-urlencoded"}});
    CHECK(client.post("/token", "grant_type=password&username=a&password=b", form).status_code == 200);
    auto bad = client.post("/token", "grant_type=passwordx&username=a&password=b", form);
    CHECK(bad.status_code == 422);
    CHECK(bad.text ==
          R"({"detail":[{"type":"string_pattern_mismatch","loc":["body","grant_type"],"msg":"String should match pattern '^password$'","input":"passwordx","ctx":{"pattern":"^password$"}}]})");
}
