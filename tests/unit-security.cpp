// Security helpers: HTTP Basic and Bearer, OAuth2's password bearer and form, API keys in a
// header, the query or a cookie, answering as FastAPI 0.122+ does (401 with WWW-Authenticate),
// optional variants, the OpenAPI security schemes, and compare_digest.
#include <doctest/doctest.h>

#include "fastapi.hpp"
#include "support.hpp"

using namespace fastapi;
using test::hdrs;

namespace {

constexpr HTTPBasic<> basic{};
constexpr HTTPBasic<Realm<"simple">> basic_realm{};
constexpr HTTPBearer<> bearer{};
constexpr HTTPBearer<NoAutoError> optional_bearer{};
constexpr OAuth2PasswordBearer<"token"> oauth2_scheme{};
constexpr OAuth2PasswordBearer<"token", NoAutoError> optional_oauth2{};
constexpr APIKeyHeader<"X-API-Key"> api_key_header{};
constexpr APIKeyQuery<"api_key"> api_key_query{};
constexpr APIKeyCookie<"session"> api_key_cookie{};
constexpr APIKeyHeader<"X-API-Key", NoAutoError> optional_api_key{};

void check_401(const TestResponse& r, const char* challenge, const char* detail = "Not authenticated") {
    CHECK(r.status_code == 401);
    CHECK(r.header("www-authenticate") == challenge);
    CHECK(r.json().get("detail").get<std::string>() == detail);
}
}  // namespace

TEST_CASE("HTTPBasic gives the username and password, and answers 401 with WWW-Authenticate: Basic") {
    App app;
    app.get("/users/me", [](Depends<basic> c) { return c->username + ":" + c->password; });
    app.get("/realm", [](Depends<basic_realm> c) { return c->username; });
    TestClient client(app);
    CHECK(client.get("/users/me", hdrs({{"authorization", "Basic am9objpzZWNyZXQ="}})).text == R"("john:secret")");
    check_401(client.get("/users/me"), "Basic");
    check_401(client.get("/users/me", hdrs({{"authorization", "Bearer x"}})), "Basic");
    check_401(client.get("/users/me", hdrs({{"authorization", "Basic !!!"}})), "Basic", "Invalid authentication credentials");
    check_401(client.get("/users/me", hdrs({{"authorization", "Basic am9obg=="}})), "Basic",  // "john", no colon
              "Invalid authentication credentials");
    check_401(client.get("/realm"), R"(Basic realm="simple")");
}

TEST_CASE("HTTPBearer gives the scheme and credentials; missing or another scheme answers 401 Bearer") {
    App app;
    app.get("/me", [](Depends<bearer> c) { return c->scheme + " " + c->credentials; });
    app.get("/maybe", [](Depends<optional_bearer> c) { return c->has_value() ? (*c)->credentials : "anonymous"; });
    TestClient client(app);
    CHECK(client.get("/me", hdrs({{"authorization", "Bearer abc"}})).text == R"("Bearer abc")");
    check_401(client.get("/me"), "Bearer");
    check_401(client.get("/me", hdrs({{"authorization", "Bearer"}})), "Bearer");
    check_401(client.get("/me", hdrs({{"authorization", "Basic abc"}})), "Bearer", "Invalid authentication credentials");
    CHECK(client.get("/maybe").text == R"("anonymous")");
    CHECK(client.get("/maybe", hdrs({{"authorization", "Basic abc"}})).text == R"("anonymous")");
    CHECK(client.get("/maybe", hdrs({{"authorization", "Bearer t"}})).text == R"("t")");
}

TEST_CASE("OAuth2PasswordBearer gives the token; without one it answers 401 Bearer, or nullopt with NoAutoError") {
    App app;
    app.get("/items/", [](Depends<oauth2_scheme> token) { return *token; });
    app.get("/maybe", [](Depends<optional_oauth2> token) { return token->value_or("none"); });
    TestClient client(app);
    CHECK(client.get("/items/", hdrs({{"authorization", "Bearer johndoe"}})).text == R"("johndoe")");
    check_401(client.get("/items/"), "Bearer");
    check_401(client.get("/items/", hdrs({{"authorization", "Basic x"}})), "Bearer");
    CHECK(client.get("/maybe").text == R"("none")");
}

TEST_CASE("API keys are read from a header, the query or a cookie; missing or empty answers 401 APIKey") {
    App app;
    app.get("/header", [](Depends<api_key_header> key) { return *key; });
    app.get("/query", [](Depends<api_key_query> key) { return *key; });
    app.get("/cookie", [](Depends<api_key_cookie> key) { return *key; });
    app.get("/optional", [](Depends<optional_api_key> key) { return key->value_or("none"); });
    TestClient client(app);
    CHECK(client.get("/header", hdrs({{"x-api-key", "k1"}})).text == R"("k1")");
    CHECK(client.get("/query?api_key=k2").text == R"("k2")");
    CHECK(client.get("/cookie", hdrs({{"cookie", "session=k3"}})).text == R"("k3")");
    check_401(client.get("/header"), "APIKey");
    check_401(client.get("/query?api_key="), "APIKey");
    check_401(client.get("/cookie"), "APIKey");
    CHECK(client.get("/optional").text == R"("none")");
}

TEST_CASE("a repeated Authorization, API key header or cookie: every helper takes the first, as Header<> does") {
    App app;
    app.get("/basic", [](Depends<basic> c) { return c->username; });
    app.get("/bearer", [](Depends<bearer> c) { return c->credentials; });
    app.get("/oauth2", [](Depends<oauth2_scheme> token) { return *token; });
    app.get("/header", [](Depends<api_key_header> key, Header<"x_api_key", std::string> param) { return *key + "|" + *param; });
    app.get("/cookie", [](Depends<api_key_cookie> key, Cookie<"session", std::string> param) { return *key + "|" + *param; });
    TestClient client(app);
    // am9objpzZWNyZXQ= is john:secret, bWFsbG9yeTp4 is mallory:x
    CHECK(client.get("/basic", hdrs({{"authorization", "Basic am9objpzZWNyZXQ="}, {"authorization", "Basic bWFsbG9yeTp4"}})).text ==
          R"("john")");
    CHECK(client.get("/bearer", hdrs({{"authorization", "Bearer first"}, {"authorization", "Bearer second"}})).text == R"("first")");
    CHECK(client.get("/oauth2", hdrs({{"authorization", "Bearer first"}, {"authorization", "Bearer second"}})).text == R"("first")");
    CHECK(client.get("/header", hdrs({{"x-api-key", "k1"}, {"X-API-Key", "k2"}})).text == R"("k1|k1")");
    CHECK(client.get("/cookie", hdrs({{"cookie", "session=s1; session=s2"}})).text == R"("s1|s1")");
    CHECK(client.get("/cookie", hdrs({{"cookie", "session=s1"}, {"cookie", "session=s2"}})).text == R"("s1|s1")");
}

TEST_CASE("OAuth2PasswordRequestForm reads the form body; username and password are required") {
    App app;
    app.post("/token", [](OAuth2PasswordRequestForm form) {
        std::string scopes;
        for (auto& s : form.scopes) scopes += "[" + s + "]";
        return form.username + "|" + form.password + "|" + scopes + "|" + form.client_id.value_or("-");
    });
    TestClient client(app);
    auto form = hdrs({{"content-type", "application/x-www-form-urlencoded"}});
    CHECK(client.post("/token", "username=johndoe&password=se%26cret+x&scope=me+items", form).text ==
          R"("johndoe|se&cret x|[me][items]|-")");
    auto missing = client.post("/token", "username=johndoe", form);
    CHECK(missing.status_code == 422);
    CHECK(missing.text == R"({"detail":[{"type":"missing","loc":["body","password"],"msg":"Field required","input":null}]})");
    auto grant = client.post("/token", "grant_type=code&username=a&password=b", form);
    CHECK(grant.status_code == 422);
    CHECK(grant.text.find(R"("type":"string_pattern_mismatch","loc":["body","grant_type"])") != std::string::npos);
    CHECK(client.post("/token", "grant_type=password&username=a&password=b", form).status_code == 200);
    auto multipart = client.post_multipart("/token", {{"username", "alice"}, {"password", "pw"}, {"client_id", "app"}});
    CHECK(multipart.text == R"("alice|pw||app")");
}

TEST_CASE("OAuth2PasswordRequestForm is documented as FastAPI documents it: a form body of six fields") {
    App app;
    app.post("/token", [](OAuth2PasswordRequestForm form) { return form.username; }, {.name = "login"});
    auto& op = app.openapi().get("paths").get("/token").get("post");
    CHECK(op.get("requestBody").get("content").get("application/x-www-form-urlencoded").get("schema").get("$ref").to_str() ==
          "#/components/schemas/Body_login_token_post");
    CHECK(op.get("requestBody").get("required").get<bool>());
    CHECK(op.get("responses").contains("422"));
    auto& body = app.openapi().get("components").get("schemas").get("Body_login_token_post");
    CHECK(body.get("required").serialize() == R"(["username","password"])");
    std::string names;
    for (auto& [name, schema] : body.get("properties").get<picojson::object>()) names += name + " ";
    CHECK(names == "client_id client_secret grant_type password scope username ");
    CHECK(body.get("properties").get("grant_type").serialize() ==
          R"({"anyOf":[{"pattern":"^password$","type":"string"},{"type":"null"}],"title":"Grant Type"})");
    CHECK(body.get("properties").get("scope").serialize() == R"({"default":"","title":"Scope","type":"string"})");
    // Swagger UI masks what FastAPI marks as a password.
    CHECK(body.get("properties").get("password").serialize() == R"({"format":"password","title":"Password","type":"string"})");
    CHECK(body.get("properties").get("client_secret").serialize() ==
          R"({"anyOf":[{"type":"string"},{"type":"null"}],"format":"password","title":"Client Secret"})");
}

TEST_CASE("security schemes are in components.securitySchemes and in each operation's security") {
    App app;
    auto current_user = [](Depends<oauth2_scheme> token) { return *token; };
    app.get("/users/me", current_user);
    app.get("/keyed", [] { return 1; }, {.dependencies = {Depends<api_key_header>{}}});
    app.get("/open", [] { return 1; });
    auto& doc = app.openapi();
    CHECK(doc.get("components").get("securitySchemes").serialize() ==
          R"({"APIKeyHeader":{"in":"header","name":"X-API-Key","type":"apiKey"},)"
          R"("OAuth2PasswordBearer":{"flows":{"password":{"scopes":{},"tokenUrl":"token"}},"type":"oauth2"}})");
    CHECK(doc.get("paths").get("/users/me").get("get").get("security").serialize() == R"([{"OAuth2PasswordBearer":[]}])");
    CHECK(doc.get("paths").get("/keyed").get("get").get("security").serialize() == R"([{"APIKeyHeader":[]}])");
    CHECK_FALSE(doc.get("paths").get("/open").get("get").contains("security"));
}

TEST_CASE("compare_digest compares secrets whatever their lengths") {
    CHECK(compare_digest("secret", "secret"));
    CHECK_FALSE(compare_digest("secret", "secreT"));
    CHECK_FALSE(compare_digest("secret", "secret2"));
    CHECK_FALSE(compare_digest("", "x"));
    CHECK(compare_digest("", ""));
}
