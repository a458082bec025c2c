// UTF-8: what a client sends is decoded as Starlette decodes it, and no JSON response is ever
// invalid UTF-8 (issue 17). Escaped bytes that are not UTF-8, in the path, the query string and
// urlencoded form fields, become U+FFFD (Python's errors="replace", one per maximal subpart);
// a multipart field that is not UTF-8 is read as Latin-1 (Starlette's multipart parser);
// header and cookie values keep their bytes, and write_json writes U+FFFD for any ill-formed
// sequence a handler's string holds.
#include <doctest/doctest.h>

#include "fastapi.hpp"
#include "support.hpp"

#include <string>

using namespace fastapi;

namespace utf8_test {

const std::string fffd = "\xEF\xBF\xBD";

std::string replaced(std::string s) {
    detail::replace_invalid_utf8(s);
    return s;
}

}  // namespace utf8_test

TEST_CASE("ill-formed UTF-8 becomes one U+FFFD per maximal subpart, as Python's decode(errors=\"replace\")") {
    using utf8_test::fffd;
    using utf8_test::replaced;
    // The Unicode standard's example (§3.9, table 3-8): 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64.
    CHECK(replaced("a\xF1\x80\x80\xE1\x80\xC2" "b\x80" "c\x80\xBF" "d") ==
          "a" + fffd + fffd + fffd + "b" + fffd + "c" + fffd + fffd + "d");
    CHECK(replaced("\xFF") == fffd);
    CHECK(replaced("\xE2\x82") == fffd);                       // a truncated euro sign: one
    CHECK(replaced("\xE2\x82\xAC") == "\xE2\x82\xAC");         // the euro sign itself
    CHECK(replaced("\xC0\xAF") == fffd + fffd);                // overlong
    CHECK(replaced("\xED\xA0\x80") == fffd + fffd + fffd);     // a surrogate
    CHECK(replaced("\xF4\x90\x80\x80") == fffd + fffd + fffd + fffd);  // above U+10FFFF
    CHECK(replaced("\xF0\x9F\x98") == fffd);                   // a truncated emoji at the end
    CHECK(replaced("\xF0\x9F\x98\x80") == "\xF0\x9F\x98\x80");
    CHECK(replaced("plain ascii") == "plain ascii");
}

TEST_CASE("write_json never writes invalid UTF-8, whatever a handler's string holds") {
    using utf8_test::fffd;
    CHECK(to_json_string(std::string("a\xFF" "b")) == "\"a" + fffd + "b\"");
    CHECK(to_json_string(std::string("\xE2\x82\xAC \"q\"\n")) == "\"\xE2\x82\xAC \\\"q\\\"\\n\"");
    std::map<std::string, std::string> m{{"k\xC0", "\xED\xA0\x80"}};
    CHECK(to_json_string(m) == "{\"k" + fffd + "\":\"" + fffd + fffd + fffd + "\"}");
    CHECK(to_json_string(picojson::value(std::string("\x80"))) == "\"" + fffd + "\"");
    CHECK(detail::is_utf8(to_json_string(std::string("\xF1\x80\x80\xE1\x80\xC2\x80\xBF"))));
}

TEST_CASE("the issue's request: ?q=%ff echoed is U+FFFD in the JSON, not a raw 0xFF byte") {
    using utf8_test::fffd;
    App app;
    app.get("/q", [](Query<"q", std::string> q) { return *q; });
    app.get("/p/{v}", [](Path<"v", std::string> v) { return *v; });
    app.post("/f", [](Form<"v", std::string> v) { return *v; });
    app.get("/h", [](Header<"x_v", std::string> v) { return *v; });
    app.get("/c", [](Cookie<"v", std::string> v) { return *v; });
    app.post("/m", [](Form<"v", std::string> v) { return *v; });
    TestClient client(app);
    CHECK(client.get("/q?q=%ff").text == "\"" + fffd + "\"");
    CHECK(client.get("/q?q=%e2%82%ac%e2%82").text == "\"\xE2\x82\xAC" + fffd + "\"");
    CHECK(client.get("/q?q%ff=1&q=x").text == "\"x\"");  // a key that is not UTF-8 is not "q"
    CHECK(client.get("/p/a%ffb").text == "\"a" + fffd + "b\"");
    Headers form;
    form.set("content-type", "application/x-www-form-urlencoded");
    CHECK(client.post("/f", "v=%C3%A9%FF", form).text == "\"\xC3\xA9" + fffd + "\"");
    // Headers and cookies keep their bytes (UTF-8 stays the text it was); write_json
    // replaces what is not UTF-8 on the way out.
    Headers h;
    h.set("x-v", "caf\xC3\xA9 \xFF");
    CHECK(client.get("/h", h).text == "\"caf\xC3\xA9 " + fffd + "\"");
    Headers c;
    c.set("cookie", "v=\xFE");
    CHECK(client.get("/c", c).text == "\"" + fffd + "\"");
    // A multipart field that is not UTF-8: Latin-1, as Starlette reads it (0xFF is 'ÿ').
    Headers mp;
    mp.set("content-type", "multipart/form-data; boundary=" + std::string(TestClient::test_boundary));
    std::string b(TestClient::test_boundary);
    std::string body = "--" + b + "\r\nContent-Disposition: form-data; name=\"v\"\r\n\r\n\xFF" "a\r\n--" + b + "--\r\n";
    CHECK(client.post("/m", body, mp).text == "\"\xC3\xBF" "a\"");
    std::string utf8 = "--" + b + "\r\nContent-Disposition: form-data; name=\"v\"\r\n\r\n\xC3\xA9\r\n--" + b + "--\r\n";
    CHECK(client.post("/m", utf8, mp).text == "\"\xC3\xA9\"");
}
