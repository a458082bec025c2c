// Forms: Form<> fields and FormModel<> models from application/x-www-form-urlencoded and
// multipart/form-data bodies, validated with FastAPI's 422 errors, and described in the
// OpenAPI document as FastAPI describes them.
#include <doctest/doctest.h>

#include "fastapi.hpp"

using namespace fastapi;

namespace {
struct LoginData {
    std::string username;
    std::string password;
};
struct Filters {
    Field<int64_t, Ge<1>, Le<100>, Default<10>> limit;
    std::vector<std::string> tags;
    std::optional<bool> active;
    using fastapi_config = ModelConfig<ForbidExtra>;
};

picojson::value parsed(const char* text) {
    picojson::value v;
    std::string err = picojson::parse(v, text);
    REQUIRE(err.empty());
    return v;
}

App& login_app() {
    static App app;
    static bool ready = false;
    if (!ready) {
        app.post("/login/", [](Form<"username", std::string> username, Form<"password", std::string> password) {
            picojson::object o;
            o["username"] = picojson::value(*username);
            o["password_length"] = picojson::value(static_cast<int64_t>(password->size()));
            return picojson::value(o);
        });
        ready = true;
    }
    return app;
}
}  // namespace

TEST_CASE("Form<> fields are read from an urlencoded body, percent-decoded, '+' as space") {
    TestClient client(login_app());
    auto r = client.post("/login/", "username=j%C3%B6rg+doe&password=s%26cret",
                         [] { Headers h; h.set("content-type", "application/x-www-form-urlencoded"); return h; }());
    CHECK(r.status_code == 200);
    CHECK(r.text == R"({"password_length":6,"username":"jörg doe"})");
    CHECK(client.post_form("/login/", {{"username", "a b"}, {"password", "x&y=z"}}).text ==
          R"({"password_length":5,"username":"a b"})");
}

TEST_CASE("the same Form<> fields are read from a multipart/form-data body") {
    TestClient client(login_app());
    auto r = client.post_multipart("/login/", {{"username", "jane"}, {"password", "secret"}});
    CHECK(r.status_code == 200);
    CHECK(r.text == R"({"password_length":6,"username":"jane"})");
}

TEST_CASE("missing form fields are 422 missing at [\"body\", name]; an empty value counts as missing, as FastAPI") {
    TestClient client(login_app());
    auto r = client.post_form("/login/", {{"username", ""}});
    CHECK(r.status_code == 422);
    CHECK(r.text == R"({"detail":[{"type":"missing","loc":["body","username"],"msg":"Field required","input":null},)"
                    R"({"type":"missing","loc":["body","password"],"msg":"Field required","input":null}]})");
}

TEST_CASE("a JSON body where a form is expected: the form fields are missing") {
    TestClient client(login_app());
    auto r = client.post_json("/login/", picojson::value(picojson::object{{"username", picojson::value("x")}}));
    CHECK(r.status_code == 422);
    CHECK(r.json().get("detail").get<picojson::array>().size() == 2);
}

TEST_CASE("form values convert and validate like query parameters; lists read repeated fields") {
    App app;
    app.post("/items/", [](Form<"count", int64_t, Ge<1>> count, Form<"tag", std::vector<std::string>> tags,
                           Form<"note", std::optional<std::string>, MaxLength<5>> note,
                           Form<"flag", bool, Default<false>> flag) {
        return std::to_string(*count) + ":" + std::to_string(tags->size()) + ":" + note->value_or("-") + ":" +
               (*flag ? "on" : "off");
    });
    TestClient client(app);
    CHECK(client.post_form("/items/", {{"count", "3"}, {"tag", "a"}, {"tag", "b"}, {"flag", "on"}}).text == "\"3:2:-:on\"");
    auto bad = client.post_form("/items/", {{"count", "0"}, {"note", "too long"}});
    CHECK(bad.status_code == 422);
    auto detail = bad.json().get("detail").get<picojson::array>();
    REQUIRE(detail.size() == 2);
    CHECK(detail[0].get("type").get<std::string>() == "greater_than_equal");
    CHECK(detail[0].get("loc").serialize() == R"(["body","count"])");
    CHECK(detail[0].get("input").get<std::string>() == "0");
    CHECK(detail[1].get("type").get<std::string>() == "string_too_long");
    auto nan = client.post_form("/items/", {{"count", "three"}});
    CHECK(nan.json().get("detail").get(0).get("type").get<std::string>() == "int_parsing");
}

TEST_CASE("FormModel<T> reads a model's fields from the form, with its defaults, lists and ForbidExtra") {
    App app;
    app.post("/login/", [](FormModel<LoginData> data) { return data->username + "/" + data->password; });
    app.post("/filters/", [](FormModel<Filters> f) {
        return std::to_string(*f->limit) + ":" + std::to_string(f->tags.size()) + ":" +
               (f->active ? (*f->active ? "yes" : "no") : "unset");
    });
    TestClient client(app);
    CHECK(client.post_form("/login/", {{"username", "u"}, {"password", "p"}}).text == "\"u/p\"");
    CHECK(client.post_multipart("/login/", {{"username", "u"}, {"password", "p"}}).text == "\"u/p\"");
    auto missing = client.post_form("/login/", {{"username", "u"}});
    CHECK(missing.status_code == 422);
    CHECK(missing.json().get("detail").get(0).get("loc").serialize() == R"(["body","password"])");
    CHECK(client.post_form("/filters/", {{"tags", "a"}, {"tags", "b"}, {"active", "true"}}).text == "\"10:2:yes\"");
    CHECK(client.post_form("/filters/", {{"limit", "5"}}).text == "\"5:0:unset\"");
    auto bad = client.post_form("/filters/", {{"limit", "500"}, {"extra", "x"}});
    CHECK(bad.status_code == 422);
    auto detail = bad.json().get("detail").get<picojson::array>();
    REQUIRE(detail.size() == 2);
    CHECK(detail[0].get("type").get<std::string>() == "less_than_equal");
    CHECK(detail[0].get("loc").serialize() == R"(["body","limit"])");
    CHECK(detail[1].get("type").get<std::string>() == "extra_forbidden");
}

TEST_CASE("form fields sit next to path, query and dependency parameters") {
    App app;
    app.post("/items/{id}", [](Path<"id", int64_t> id, Query<"q", std::optional<std::string>> q,
                               Form<"name", std::string> name) {
        return std::to_string(*id) + q->value_or("") + *name;
    });
    TestClient client(app);
    CHECK(client.post_form("/items/7?q=x", {{"name", "n"}}).text == "\"7xn\"");
}

TEST_CASE("OpenAPI: form fields are FastAPI's Body_<operationId> under application/x-www-form-urlencoded") {
    App app;
    app.post("/login/", [](Form<"username", std::string> username, Form<"password", std::string>) { return *username; },
             {.name = "login"});
    app.post("/login2/", [](FormModel<LoginData> data) { return data->username; }, {.name = "login2"});
    auto& doc = app.openapi();
    auto body = doc.get("paths").get("/login/").get("post").get("requestBody");
    CHECK(body == parsed(R"({"content":{"application/x-www-form-urlencoded":{"schema":{"$ref":"#/components/schemas/Body_login_login__post"}}},"required":true})"));
    CHECK(doc.get("components").get("schemas").get("Body_login_login__post") == parsed(R"({"properties":{"password":{"title":"Password","type":"string"},"username":{"title":"Username","type":"string"}},"required":["username","password"],"title":"Body_login_login__post","type":"object"})"));
    auto model = doc.get("paths").get("/login2/").get("post").get("requestBody");
    CHECK(model == parsed(R"({"content":{"application/x-www-form-urlencoded":{"schema":{"$ref":"#/components/schemas/LoginData"}}},"required":true})"));
}
