// Route names from a named function: app.get<read_item>(path) names the route `read_item`,
// as FastAPI takes the name from `def read_item`, so the summary ("Read Item") and the
// operationId (read_item_items__item_id__get) follow as for an explicit RouteOptions::name.
#include <doctest/doctest.h>

#include "fastapi.hpp"

#include <string>

namespace route_names_test {

using namespace fastapi;

json read_item(Path<"item_id", int> item_id, Query<"q", std::optional<std::string>> q) {
    return {{"item_id", *item_id}, {"q", *q}};
}
json create_item() { return {{"created", true}}; }
std::string read_users() { return "users"; }

namespace nested {
struct Handlers {
    static int list_items() { return 1; }
};
}  // namespace nested

// Compile time, on both compilers: the function's own name, without namespaces or classes.
static_assert(detail::function_name_v<read_item> == "read_item");
static_assert(detail::function_name_v<&nested::Handlers::list_items> == "list_items");

const picojson::value& operation(const picojson::value& doc, const char* path, const char* method) {
    return doc.get("paths").get(path).get(method);
}

TEST_CASE("route names: app.get<f>(path) names the route after f: summary and operationId as FastAPI's") {
    App app;
    app.get<read_item>("/items/{item_id}");
    app.post<create_item>("/items/", {.status_code = 201});
    app.get<&nested::Handlers::list_items>("/list");
    app.api_route<read_users>("/users", {"GET", "PUT"});
    app.get<read_users>("/renamed", {.name = "explicit_name"});  // RouteOptions::name wins
    app.get("/lambda", [] { return 1; });                         // a lambda keeps the derived name

    TestClient client(app);
    auto r = client.get("/items/5?q=x");
    CHECK(r.status_code == 200);
    CHECK(r.text == R"({"item_id":5,"q":"x"})");
    CHECK(client.post("/items/").status_code == 201);

    picojson::value doc = app.openapi();
    CHECK(operation(doc, "/items/{item_id}", "get").get("summary").get<std::string>() == "Read Item");
    CHECK(operation(doc, "/items/{item_id}", "get").get("operationId").get<std::string>() ==
          "read_item_items__item_id__get");
    CHECK(operation(doc, "/items/", "post").get("operationId").get<std::string>() == "create_item_items__post");
    CHECK(operation(doc, "/items/", "post").get("responses").contains("201"));
    CHECK(operation(doc, "/list", "get").get("operationId").get<std::string>() == "list_items_list_get");
    CHECK(operation(doc, "/users", "get").get("operationId").get<std::string>() == "read_users_users_get");
    CHECK(operation(doc, "/users", "put").get("summary").get<std::string>() == "Read Users");
    CHECK(operation(doc, "/renamed", "get").get("operationId").get<std::string>() == "explicit_name_renamed_get");
    CHECK(operation(doc, "/lambda", "get").get("operationId").get<std::string>() == "get_lambda_lambda_get");
}

TEST_CASE("route names: APIRouter's verb helpers take a named function too") {
    App app;
    APIRouter router({.prefix = "/things", .tags = {"things"}});
    router.get<read_users>("/");
    router.delete_<create_item>("/{id}");
    app.include_router(router);
    picojson::value doc = app.openapi();
    CHECK(operation(doc, "/things/", "get").get("operationId").get<std::string>() == "read_users_things__get");
    CHECK(operation(doc, "/things/{id}", "delete").get("summary").get<std::string>() == "Create Item");
    CHECK(TestClient(app).get("/things/").text == "\"users\"");
}

}  // namespace route_names_test
