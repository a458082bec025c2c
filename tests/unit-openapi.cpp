// The OpenAPI document: what FastAPI serves at /openapi.json for the same program, and what
// the C++ types add (widths, maps, enums, name collisions), route options and customisation.
#include <doctest/doctest.h>

#include "fastapi.hpp"

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

using namespace fastapi;

namespace {

picojson::value parse(const std::string& text) {
    picojson::value v;
    std::string err = picojson::parse(v, text);
    REQUIRE_MESSAGE(err.empty(), err);
    return v;
}

picojson::value document(App& app) {
    TestClient client(app);
    auto r = client.get("/openapi.json");
    REQUIRE(r.status_code == 200);
    CHECK(r.headers.get("content-type").value_or("") == "application/json");
    return parse(r.text);
}

// Follows a path of keys ("paths", "/items/", "get") through objects and arrays (indexes as numbers).
const picojson::value& at(const picojson::value& v, std::initializer_list<std::string> keys) {
    const picojson::value* cur = &v;
    for (auto& k : keys) {
        if (cur->is<picojson::array>()) cur = &cur->get<picojson::array>().at(std::stoul(k));
        else {
            REQUIRE_MESSAGE(cur->contains(k), "no key " << k << " in " << cur->serialize());
            cur = &cur->get(k);
        }
    }
    return *cur;
}

void check_json(const picojson::value& got, const std::string& want) {
    picojson::value w = parse(want);
    CHECK_MESSAGE(got == w, "got  " << got.serialize() << "\nwant " << w.serialize());
}

namespace items {
struct Item {
    Field<std::string, MinLength<1>, MaxLength<50>> name;
    std::optional<std::string> description;
    Field<double, Gt<0>> price;
    std::optional<double> tax;
    std::vector<std::string> tags;
};
struct ItemList {
    Field<std::vector<Item>, Required> items;
    int64_t total;
};
}  // namespace items

// examples/items.cpp's routes, as there.
void add_items_routes(App& app) {
    using namespace items;
    app.get("/items/{item_id}",
            [](Path<"item_id", int64_t, Ge<1>>, Query<"q", std::optional<std::string>, MaxLength<20>>) { return Item{}; },
            {.name = "read_item", .response_model = no_response_model});
    app.get("/items/", [](Query<"skip", int64_t, Ge<0>, Default<0>>, Query<"limit", int64_t, Ge<1>, Le<100>, Default<10>>,
                          Query<"tag", std::vector<std::string>>) { return ItemList{}; },
            {.name = "list_items"});
    app.post("/items/", [](Item item) { return item; }, {.status_code = 201, .name = "create_item"});
    app.put("/items/{item_id}", [](Path<"item_id", int64_t>, Body<"item", Item> item, Body<"importance", int64_t, Gt<0>>) {
        return *item;
    }, {.name = "update_item", .response_model = no_response_model});
    app.get("/users/{user_id}/items/{item_id}",
            [](Path<"user_id", int64_t>, Path<"item_id", std::string>, Query<"needy", std::string>,
               Query<"short", bool, Default<false>>) { return picojson::value(); },
            {.name = "read_user_item"});
}

// What FastAPI (0.12x, pydantic 2) serves for the Python program of the issue, with
// FastAPI(title="Items", version="1.0.0").
const char* fastapi_items_document = R"JSON({
  "openapi": "3.1.0",
  "info": {"title": "Items", "version": "1.0.0"},
  "paths": {
    "/items/{item_id}": {
      "get": {
        "summary": "Read Item", "operationId": "read_item_items__item_id__get",
        "parameters": [
          {"name": "item_id", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 1, "title": "Item Id"}},
          {"name": "q", "in": "query", "required": false,
           "schema": {"anyOf": [{"type": "string", "maxLength": 20}, {"type": "null"}], "title": "Q"}}
        ],
        "responses": {
          "200": {"description": "Successful Response", "content": {"application/json": {"schema": {}}}},
          "422": {"description": "Validation Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}}}
        }
      },
      "put": {
        "summary": "Update Item", "operationId": "update_item_items__item_id__put",
        "parameters": [
          {"name": "item_id", "in": "path", "required": true, "schema": {"type": "integer", "title": "Item Id"}}
        ],
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Body_update_item_items__item_id__put"}}}},
        "responses": {
          "200": {"description": "Successful Response", "content": {"application/json": {"schema": {}}}},
          "422": {"description": "Validation Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}}}
        }
      }
    },
    "/items/": {
      "get": {
        "summary": "List Items", "operationId": "list_items_items__get",
        "parameters": [
          {"name": "skip", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 0, "default": 0, "title": "Skip"}},
          {"name": "limit", "in": "query", "required": false, "schema": {"type": "integer", "maximum": 100, "minimum": 1, "default": 10, "title": "Limit"}},
          {"name": "tag", "in": "query", "required": false, "schema": {"type": "array", "items": {"type": "string"}, "default": [], "title": "Tag"}}
        ],
        "responses": {
          "200": {"description": "Successful Response", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ItemList"}}}},
          "422": {"description": "Validation Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}}}
        }
      },
      "post": {
        "summary": "Create Item", "operationId": "create_item_items__post",
        "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}}, "required": true},
        "responses": {
          "201": {"description": "Successful Response", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}}},
          "422": {"description": "Validation Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}}}
        }
      }
    },
    "/users/{user_id}/items/{item_id}": {
      "get": {
        "summary": "Read User Item", "operationId": "read_user_item_users__user_id__items__item_id__get",
        "parameters": [
          {"name": "user_id", "in": "path", "required": true, "schema": {"type": "integer", "title": "User Id"}},
          {"name": "item_id", "in": "path", "required": true, "schema": {"type": "string", "title": "Item Id"}},
          {"name": "needy", "in": "query", "required": true, "schema": {"type": "string", "title": "Needy"}},
          {"name": "short", "in": "query", "required": false, "schema": {"type": "boolean", "default": false, "title": "Short"}}
        ],
        "responses": {
          "200": {"description": "Successful Response", "content": {"application/json": {"schema": {}}}},
          "422": {"description": "Validation Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}}}
        }
      }
    }
  },
  "components": {
    "schemas": {
      "Body_update_item_items__item_id__put": {
        "properties": {
          "item": {"$ref": "#/components/schemas/Item"},
          "importance": {"type": "integer", "exclusiveMinimum": 0, "title": "Importance"}
        },
        "type": "object", "required": ["item", "importance"], "title": "Body_update_item_items__item_id__put"
      },
      "HTTPValidationError": {
        "properties": {"detail": {"items": {"$ref": "#/components/schemas/ValidationError"}, "type": "array", "title": "Detail"}},
        "type": "object", "title": "HTTPValidationError"
      },
      "Item": {
        "properties": {
          "name": {"type": "string", "maxLength": 50, "minLength": 1, "title": "Name"},
          "description": {"anyOf": [{"type": "string"}, {"type": "null"}], "title": "Description"},
          "price": {"type": "number", "exclusiveMinimum": 0.0, "title": "Price"},
          "tax": {"anyOf": [{"type": "number"}, {"type": "null"}], "title": "Tax"},
          "tags": {"items": {"type": "string"}, "type": "array", "title": "Tags", "default": []}
        },
        "type": "object", "required": ["name", "price"], "title": "Item"
      },
      "ItemList": {
        "properties": {
          "items": {"items": {"$ref": "#/components/schemas/Item"}, "type": "array", "title": "Items"},
          "total": {"type": "integer", "title": "Total"}
        },
        "type": "object", "required": ["items", "total"], "title": "ItemList"
      },
      "ValidationError": {
        "properties": {
          "loc": {"items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}, "type": "array", "title": "Location"},
          "msg": {"type": "string", "title": "Message"},
          "type": {"type": "string", "title": "Error Type"},
          "input": {"title": "Input"},
          "ctx": {"type": "object", "title": "Context"}
        },
        "type": "object", "required": ["loc", "msg", "type"], "title": "ValidationError"
      }
    }
  }
})JSON";

}  // namespace

TEST_CASE("the items example is described exactly as FastAPI describes the Python program") {
    App app({.title = "Items", .version = "1.0.0"});
    add_items_routes(app);
    picojson::value doc = document(app);
    // Numbers compare by value: FastAPI's exclusiveMinimum 0.0 is our 0.
    at(doc, {"components", "schemas", "Item", "properties", "price"}).serialize();
    auto& price = const_cast<picojson::value&>(at(doc, {"components", "schemas", "Item", "properties", "price"}));
    CHECK(price.get("exclusiveMinimum").get<double>() == 0.0);
    price.get<picojson::object>()["exclusiveMinimum"] = picojson::value(0.0);
    check_json(doc, fastapi_items_document);
}

TEST_CASE("the document is served in route order, with model properties as declared") {
    App app({.title = "Items", .version = "1.0.0"});
    add_items_routes(app);
    TestClient client(app);
    std::string text = client.get("/openapi.json").text;
    CHECK(text.starts_with(R"({"openapi":"3.1.0","info":)"));
    CHECK(text.find("\"/items/{item_id}\"") < text.find("\"/items/\""));
    CHECK(text.find("\"/items/\"") < text.find("\"/users/{user_id}/items/{item_id}\""));
    auto item = text.find("\"Item\":{");
    REQUIRE(item != std::string::npos);
    CHECK(text.find("\"name\":", item) < text.find("\"description\":", item));
    CHECK(text.find("\"tax\":", item) < text.find("\"tags\":", item));
    CHECK(client.get("/openapi.json").text == text);  // built once, the same bytes
}

namespace shop {
enum class Color { red, green };
struct Dimensions {
    double width;
    double height;
};
struct Product {
    Field<std::string, Description<"What it is called">, Examples<"Hammer">> name;
    std::optional<Dimensions> size;                   // optional nested model
    std::vector<Dimensions> parts;                    // array of models
    std::map<std::string, int64_t> stock;             // map
    std::map<std::string, picojson::value> extra;     // free-form map
    Color color = Color::green;                       // enum with a default
    Field<std::vector<std::string>, MinItems<1>, MaxItems<3>> labels;
    Field<std::string, Pattern<"^[a-z]+$">, Alias<"sku-code">> sku;
    Field<double, Ge<"0.5">, Le<10>, MultipleOf<"0.5">> weight;
    int32_t count32;
    uint8_t small;
    uint64_t big;
    float ratio;
    using fastapi_config = ModelConfig<ForbidExtra, Description<"A product">>;
};
}  // namespace shop
template <>
struct fastapi::enum_values<shop::Color> {
    static constexpr fastapi::enum_value<shop::Color> values[] = {{shop::Color::red, "red"}, {shop::Color::green, "green"}};
};
namespace other {
struct Dimensions {
    int64_t depth;
};
}  // namespace other

TEST_CASE("models: nested $ref, optional, arrays, maps, enums, constraints, defaults, widths") {
    App app;
    app.post("/products/", [](shop::Product p) { return p; });
    picojson::value doc = document(app);
    const auto& product = at(doc, {"components", "schemas", "Product"});
    const auto& props = product.get("properties");
    check_json(props.get("name"),
               R"({"type":"string","title":"Name","description":"What it is called","examples":["Hammer"]})");
    check_json(props.get("size"), R"({"anyOf":[{"$ref":"#/components/schemas/Dimensions"},{"type":"null"}]})");
    check_json(props.get("parts"),
               R"({"type":"array","items":{"$ref":"#/components/schemas/Dimensions"},"title":"Parts","default":[]})");
    check_json(props.get("stock"),
               R"({"type":"object","additionalProperties":{"type":"integer"},"title":"Stock","default":{}})");
    check_json(props.get("extra"), R"({"type":"object","additionalProperties":true,"title":"Extra","default":{}})");
    check_json(props.get("color"), R"({"$ref":"#/components/schemas/Color"})");
    check_json(props.get("labels"),
               R"({"type":"array","items":{"type":"string"},"minItems":1,"maxItems":3,"title":"Labels","default":[]})");
    check_json(props.get("sku-code"), R"({"type":"string","pattern":"^[a-z]+$","title":"Sku-Code"})");
    check_json(props.get("weight"), R"({"type":"number","minimum":0.5,"maximum":10,"multipleOf":0.5,"title":"Weight"})");
    check_json(props.get("count32"), R"({"type":"integer","format":"int32","title":"Count32"})");
    check_json(props.get("small"), R"({"type":"integer","minimum":0,"maximum":255,"title":"Small"})");
    check_json(props.get("big"), R"({"type":"integer","minimum":0,"title":"Big"})");
    check_json(props.get("ratio"), R"({"type":"number","format":"float","title":"Ratio"})");
    CHECK(product.get("description").get<std::string>() == "A product");
    CHECK(product.get("additionalProperties") == picojson::value(false));
    check_json(product.get("required"),
               R"(["name","color","sku-code","weight","count32","small","big","ratio"])");
    check_json(at(doc, {"components", "schemas", "Color"}), R"({"enum":["red","green"],"title":"Color","type":"string"})");
    check_json(at(doc, {"components", "schemas", "Dimensions"}),
               R"({"properties":{"width":{"type":"number","title":"Width"},"height":{"type":"number","title":"Height"}},
                   "required":["width","height"],"title":"Dimensions","type":"object"})");
}

TEST_CASE("a default on an enum field is its name; enum parameters are $refs") {
    struct Paint {
        Field<shop::Color, Default<"red">> color;
    };
    App app;
    app.get("/paint/{color}", [](Path<"color", shop::Color>) { return Paint{}; });
    picojson::value doc = document(app);
    check_json(at(doc, {"components", "schemas", "Paint", "properties", "color"}),
               R"({"$ref":"#/components/schemas/Color","default":"red"})");
    check_json(at(doc, {"paths", "/paint/{color}", "get", "parameters", "0"}),
               R"({"name":"color","in":"path","required":true,"schema":{"$ref":"#/components/schemas/Color"}})");
}

TEST_CASE("two models with the same short name get their qualified names") {
    struct Both {
        shop::Dimensions a;
        other::Dimensions b;
    };
    App app;
    app.get("/both", [] { return Both{}; });
    picojson::value doc = document(app);
    const auto& schemas = at(doc, {"components", "schemas"});
    CHECK(schemas.contains("shop__Dimensions"));
    CHECK(schemas.contains("other__Dimensions"));
    CHECK_FALSE(schemas.contains("Dimensions"));
    check_json(at(schemas, {"Both", "properties", "b"}), R"({"$ref":"#/components/schemas/other__Dimensions"})");
    CHECK(at(schemas, {"shop__Dimensions", "title"}).get<std::string>() == "shop__Dimensions");
    // No parameters: nothing can fail validation, no 422 and no error schemas.
    CHECK_FALSE(at(doc, {"paths", "/both", "get", "responses"}).contains("422"));
    CHECK_FALSE(schemas.contains("HTTPValidationError"));
}

TEST_CASE("parameters: headers, cookies, descriptions, examples; Embed and bare bodies") {
    App app;
    app.post("/things/{id}",
             [](Path<"id", int64_t>, Header<"user_agent", std::optional<std::string>>,
                Cookie<"session", std::string, Description<"The session">, Examples<"abc">>,
                Header<"x_api_key", std::string, Format<"password">>,
                Body<"importance", int64_t, Embed>) { return 1; },
             {.name = "make_thing"});
    picojson::value doc = document(app);
    const auto& op = at(doc, {"paths", "/things/{id}", "post"});
    check_json(at(op, {"parameters", "1"}),
               R"({"name":"user-agent","in":"header","required":false,
                   "schema":{"anyOf":[{"type":"string"},{"type":"null"}],"title":"User-Agent"}})");
    check_json(at(op, {"parameters", "3"}),  // cookies come last, as FastAPI lists them
               R"({"name":"session","in":"cookie","required":true,"description":"The session",
                   "schema":{"type":"string","title":"Session","description":"The session","examples":["abc"]}})");
    check_json(at(op, {"parameters", "2"}),
               R"({"name":"x-api-key","in":"header","required":true,
                   "schema":{"type":"string","title":"X-Api-Key","format":"password"}})");
    check_json(at(op, {"requestBody", "content", "application/json", "schema"}),
               R"({"$ref":"#/components/schemas/Body_make_thing_things__id__post"})");
    check_json(at(doc, {"components", "schemas", "Body_make_thing_things__id__post"}),
               R"({"properties":{"importance":{"type":"integer","title":"Importance"}},"required":["importance"],
                   "title":"Body_make_thing_things__id__post","type":"object"})");
    check_json(at(op, {"responses", "200", "content", "application/json", "schema"}),
               R"({"type":"integer","format":"int32","title":"Response Make Thing Things  Id  Post"})");

    App lists;
    lists.post("/batch", [](std::vector<shop::Dimensions> all) { return all; }, {.name = "batch"});
    picojson::value d2 = document(lists);
    check_json(at(d2, {"paths", "/batch", "post", "requestBody"}),
               R"({"content":{"application/json":{"schema":{"type":"array","items":{"$ref":"#/components/schemas/Dimensions"},
                   "title":"Dimensions"}}},"required":true})");
}

TEST_CASE("route options: names, summaries, tags, deprecated, include_in_schema, responses, response_model") {
    struct Message {
        std::string message;
    };
    App app;
    app.get("/", [] { return Message{}; });
    app.get("/hidden", [] { return 1; }, {.include_in_schema = false});
    app.get("/users/{user_id}", [](Path<"user_id", int64_t>) { return Message{}; },
            {.tags = {"users"}, .summary = "One user", .description = "Finds a user.", .deprecated = true,
             .responses = {{404, {.description = "Not here", .model = response_model<Message>}}, {403, {}}}});
    app.get("/page", [] { return HTMLResponse("<p>"); });
    app.get("/text", [] { return PlainTextResponse("x"); });
    app.get("/file", [] { return RedirectResponse("/"); });
    app.delete_("/things/{id}", [](Path<"id", int64_t>) {}, {.status_code = 204});
    app.get("/other", [] { return 1; }, {.response_model = response_model<std::vector<Message>>});
    app.api_route("/echo", {"GET", "POST"}, [] { return std::string("x"); });
    picojson::value doc = document(app);
    const auto& paths = doc.get("paths");
    CHECK_FALSE(paths.contains("/hidden"));
    CHECK_FALSE(paths.contains("/openapi.json"));
    CHECK_FALSE(paths.contains("/docs"));
    CHECK(at(paths, {"/", "get", "operationId"}).get<std::string>() == "get_root__get");
    CHECK(at(paths, {"/", "get", "summary"}).get<std::string>() == "Get Root");
    const auto& user = at(paths, {"/users/{user_id}", "get"});
    check_json(user.get("tags"), R"(["users"])");
    CHECK(user.get("summary").get<std::string>() == "One user");
    CHECK(user.get("description").get<std::string>() == "Finds a user.");
    CHECK(user.get("deprecated") == picojson::value(true));
    CHECK(user.get("operationId").get<std::string>() == "get_users_user_id_users__user_id__get");
    check_json(at(user, {"responses", "404"}),
               R"({"description":"Not here","content":{"application/json":{"schema":{"$ref":"#/components/schemas/Message"}}}})");
    check_json(at(user, {"responses", "403"}), R"({"description":"Forbidden"})");
    CHECK(at(user, {"responses"}).contains("422"));
    check_json(at(paths, {"/page", "get", "responses", "200", "content"}), R"({"text/html":{"schema":{"type":"string"}}})");
    check_json(at(paths, {"/text", "get", "responses", "200", "content"}), R"({"text/plain":{"schema":{"type":"string"}}})");
    check_json(at(paths, {"/file", "get", "responses", "200"}), R"({"description":"Successful Response"})");
    check_json(at(paths, {"/things/{id}", "delete", "responses", "204"}), R"({"description":"Successful Response"})");
    check_json(at(paths, {"/other", "get", "responses", "200", "content", "application/json", "schema"}),
               R"({"type":"array","items":{"$ref":"#/components/schemas/Message"},"title":"Response Get Other Other Get"})");
    // One route, two methods: two operations with their own ids.
    CHECK(at(paths, {"/echo", "get", "operationId"}).get<std::string>() == "get_echo_echo_get");
    CHECK(at(paths, {"/echo", "post", "operationId"}).get<std::string>() == "post_echo_echo_post");
    check_json(at(paths, {"/echo", "get", "responses", "200", "content", "application/json", "schema"}),
               R"({"type":"string","title":"Response Get Echo Echo Get"})");
}

TEST_CASE("operationIds stay unique when names and paths would repeat them") {
    App app;
    app.get("/a-b", [] { return 1; }, {.name = "same"});
    app.get("/a_b", [] { return 1; }, {.name = "same"});
    app.get("/a-b", [] { return 2; }, {.name = "same"});  // never reached, still documented
    picojson::value doc = document(app);
    CHECK(at(doc, {"paths", "/a-b", "get", "operationId"}).get<std::string>() != "");
    std::set<std::string> ids;
    for (auto& [path, item] : doc.get("paths").get<picojson::object>())
        for (auto& [method, op] : item.get<picojson::object>()) CHECK(ids.insert(op.get("operationId").get<std::string>()).second);
    CHECK(at(doc, {"paths", "/a_b", "get", "operationId"}).get<std::string>() == "same_a_b_get_2");
}

TEST_CASE("info and servers come from AppOptions") {
    AppOptions o;
    o.title = "Shop";
    o.version = "2.1";
    o.summary = "Things to buy";
    o.description = "All of them.";
    o.terms_of_service = "https://example.com/terms";
    o.contact = {.name = "Ann", .url = "https://example.com", .email = "ann@example.com"};
    o.license_info = {.name = "MIT", .identifier = "MIT"};
    o.servers = {{.url = "https://api.example.com", .description = "Production"}};
    App app(o);
    picojson::value doc = document(app);
    check_json(doc.get("info"), R"({"title":"Shop","version":"2.1","summary":"Things to buy","description":"All of them.",
        "termsOfService":"https://example.com/terms","contact":{"name":"Ann","url":"https://example.com","email":"ann@example.com"},
        "license":{"name":"MIT","identifier":"MIT"}})");
    check_json(doc.get("servers"), R"([{"url":"https://api.example.com","description":"Production"}])");
    check_json(doc.get("paths"), "{}");
    CHECK_FALSE(doc.contains("components"));
}

TEST_CASE("the document can be customised: edited in place, or generated from get_openapi") {
    App app;
    app.get("/", [] { return 1; });
    app.openapi_schema().get<picojson::object>()["info"].get<picojson::object>()["x-logo"] = picojson::value("logo.png");
    picojson::value doc = document(app);
    CHECK(at(doc, {"info", "x-logo"}).get<std::string>() == "logo.png");
    CHECK(&app.openapi() == &app.openapi_schema());

    App custom;
    custom.get("/", [] { return 1; });
    int calls = 0;
    custom.set_openapi([&calls](const App& a) {
        ++calls;
        picojson::value d = get_openapi(a);
        d.get<picojson::object>()["info"].get<picojson::object>()["title"] = picojson::value("Custom");
        return d;
    });
    CHECK(at(document(custom), {"info", "title"}).get<std::string>() == "Custom");
    document(custom);
    CHECK(calls == 1);
}

TEST_CASE("an empty openapi_url serves no document") {
    AppOptions o;
    o.openapi_url = "";
    App app(o);
    TestClient client(app);
    CHECK(client.get("/openapi.json").status_code == 404);
    AppOptions moved;
    moved.openapi_url = "/api/schema.json";
    App app2(moved);
    TestClient client2(app2);
    CHECK(client2.get("/api/schema.json").status_code == 200);
}
