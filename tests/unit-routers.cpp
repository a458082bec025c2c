// APIRouter and include_router: prefixes, tags, dependencies and responses merged as FastAPI
// merges them, nested routers, and FastAPI's "Bigger Applications" tutorial
// (examples/bigger_app) answering as FastAPI's does.
#include <doctest/doctest.h>

#include "fastapi.hpp"
#include "support.hpp"

#include <string>
#include <vector>

using namespace fastapi;
using test::hdrs;

namespace bigger {
#define BIGGER_APP_NO_MAIN
#include "../examples/bigger_app/main.cpp"
#undef BIGGER_APP_NO_MAIN
}  // namespace bigger

namespace {

const Route& route_of(const App& app, std::string_view path) {
    for (auto& r : app.routes())
        if (r->path.pattern() == path) return *r;
    FAIL("no route " << path);
    throw 0;
}

void teapot_check(Header<"x_teapot", std::optional<std::string>> h) {
    if (h->has_value()) throw HTTPException(418, "I'm a teapot");
}
}  // namespace

TEST_CASE("a router's prefix, tags and responses apply to its routes, the route's own coming last") {
    APIRouter router({.prefix = "/items", .tags = {"items"}, .responses = {{404, {"Not found"}}}});
    router.get("/", [] { return "list"; });
    router.put("/{id}", [](Path<"id", int64_t> id) { return *id; },
               {.tags = {"custom"}, .responses = {{403, {"Operation forbidden"}}, {404, {"No such item"}}}});
    App app;
    app.include_router(router);
    TestClient client(app);
    CHECK(client.get("/items/").text == R"("list")");
    CHECK(client.put("/items/7").text == "7");
    auto& put = route_of(app, "/items/{id}");
    CHECK(put.options.tags == std::vector<std::string>{"items", "custom"});
    CHECK(put.options.responses.at(403).description == "Operation forbidden");
    CHECK(put.options.responses.at(404).description == "No such item");  // the route's wins
    CHECK(route_of(app, "/items/").options.responses.at(404).description == "Not found");
}

TEST_CASE("include_router adds its prefix, tags, dependencies and responses in front") {
    APIRouter admin;
    admin.post("/", [] { return "admin"; }, {.tags = {"own"}});
    App app;
    app.include_router(admin, {.prefix = "/admin", .tags = {"admin"}, .dependencies = {Depends<teapot_check>{}},
                               .responses = {{418, {"I'm a teapot"}}}});
    TestClient client(app);
    CHECK(client.post("/admin/").text == R"("admin")");
    CHECK(client.post("/admin/", {}, hdrs({{"x-teapot", "1"}})).status_code == 418);
    auto& r = route_of(app, "/admin/");
    CHECK(r.options.tags == std::vector<std::string>{"admin", "own"});
    CHECK(r.options.responses.at(418).description == "I'm a teapot");
}

TEST_CASE("routers nest to any depth and routes keep the order they were declared in") {
    APIRouter leaf({.prefix = "/leaf", .tags = {"leaf"}});
    leaf.get("/me", [] { return "me"; });
    leaf.get("/{name}", [](Path<"name", std::string> n) { return *n; });
    APIRouter middle({.prefix = "/middle", .tags = {"middle"}});
    middle.include_router(leaf, {.prefix = "/in", .tags = {"included"}});
    APIRouter top;
    top.include_router(middle, {.prefix = "/v1"});
    App app;
    app.include_router(top, {.prefix = "/api"});
    TestClient client(app);
    CHECK(client.get("/api/v1/middle/in/leaf/me").text == R"("me")");
    CHECK(client.get("/api/v1/middle/in/leaf/bob").text == R"("bob")");
    CHECK(route_of(app, "/api/v1/middle/in/leaf/me").options.tags ==
          std::vector<std::string>{"middle", "included", "leaf"});
}

TEST_CASE("a prefix must start with '/' and not end with '/'") {
    CHECK_THROWS_AS(APIRouter({.prefix = "items"}), std::invalid_argument);
    APIRouter r;
    App app;
    CHECK_THROWS_AS(app.include_router(r, {.prefix = "/items/"}), std::invalid_argument);
}

TEST_CASE("bigger_app: the app-wide token dependency answers 422 when missing and 400 when wrong") {
    App app({.dependencies = {Depends<bigger::get_query_token>{}}});
    bigger::build_app(app);
    TestClient client(app);
    auto missing = client.get("/users/");
    CHECK(missing.status_code == 422);
    CHECK(missing.json().get("detail").get<picojson::array>()[0].get("loc").serialize() == R"(["query","token"])");
    auto wrong = client.get("/users/?token=rick");
    CHECK(wrong.status_code == 400);
    CHECK(wrong.text == R"({"detail":"No Jessica token provided"})");
    CHECK(client.get("/docs").status_code == 200);  // the docs pages need no token
}

TEST_CASE("bigger_app: users, items, admin and the root answer as FastAPI's tutorial") {
    App app({.dependencies = {Depends<bigger::get_query_token>{}}});
    bigger::build_app(app);
    TestClient client(app);
    const auto token = hdrs({{"x-token", "fake-super-secret-token"}});
    CHECK(client.get("/users/?token=jessica").text == R"([{"username":"Rick"},{"username":"Morty"}])");
    CHECK(client.get("/users/me?token=jessica").text == R"({"username":"fakecurrentuser"})");
    CHECK(client.get("/users/foo?token=jessica").text == R"({"username":"foo"})");

    CHECK(client.get("/items/?token=jessica", token).text == R"({"plumbus":{"name":"Plumbus"},"gun":{"name":"Portal Gun"}})");
    CHECK(client.get("/items/plumbus?token=jessica", token).text == R"({"name":"Plumbus","item_id":"plumbus"})");
    auto bar = client.get("/items/bar?token=jessica", token);
    CHECK(bar.status_code == 404);
    CHECK(bar.text == R"({"detail":"Item not found"})");
    auto no_header = client.get("/items/plumbus?token=jessica");
    CHECK(no_header.status_code == 422);
    auto bad_header = client.get("/items/plumbus?token=jessica", hdrs({{"x-token", "invalid"}}));
    CHECK(bad_header.status_code == 400);
    CHECK(bad_header.text == R"({"detail":"X-Token header invalid"})");
    CHECK(client.put("/items/plumbus?token=jessica", {}, token).text == R"({"item_id":"plumbus","name":"The great Plumbus"})");
    auto other = client.put("/items/bar?token=jessica", {}, token);
    CHECK(other.status_code == 403);
    CHECK(other.text == R"({"detail":"You can only update the item: plumbus"})");

    CHECK(client.post("/admin/?token=jessica", {}, token).text == R"({"message":"Admin getting schwifty"})");
    CHECK(client.post("/admin/?token=jessica").status_code == 422);
    CHECK(client.get("/?token=jessica").text == R"({"message":"Hello Bigger Applications!"})");
}

TEST_CASE("bigger_app: the merged tags and responses are what the OpenAPI document shows") {
    App app({.dependencies = {Depends<bigger::get_query_token>{}}});
    bigger::build_app(app);
    auto& paths = app.openapi().get("paths");
    auto& put = paths.get("/items/{item_id}").get("put");
    CHECK(put.get("tags").serialize() == R"(["items","custom"])");
    CHECK(put.get("responses").get("404").get("description").get<std::string>() == "Not found");
    CHECK(put.get("responses").get("403").get("description").get<std::string>() == "Operation forbidden");
    auto& admin = paths.get("/admin/").get("post");
    CHECK(admin.get("tags").serialize() == R"(["admin"])");
    CHECK(admin.get("responses").get("418").get("description").get<std::string>() == "I'm a teapot");
    std::vector<std::string> params;
    for (auto& p : admin.get("parameters").get<picojson::array>()) params.push_back(p.get("name").get<std::string>());
    CHECK(params == std::vector<std::string>{"token", "x-token"});
    CHECK(paths.get("/users/").get("get").get("tags").serialize() == R"(["users"])");
}
