// Parameter markers a FastAPI port needs, and what the document says about them:
// Deprecated (FastAPI's Query(deprecated=True)), a header's name with and without
// ConvertUnderscores<false> (FastAPI's Header(convert_underscores=False)), and a body that is
// a bare list of models, required by the server and so by the document.
#include "support.hpp"

using namespace fastapi;

namespace param_markers_test {

picojson::value document(App& app) {
    TestClient client(app);
    auto r = client.get("/openapi.json");
    REQUIRE(r.status_code == 200);
    return r.json();
}

// The operation's parameter named `name`, or null.
picojson::value parameter(const picojson::value& op, const std::string& name) {
    for (auto& p : op.get("parameters").get<picojson::array>())
        if (p.get("name").get<std::string>() == name) return p;
    return picojson::value();
}

picojson::value parse(const std::string& text) {
    picojson::value v;
    std::string err = picojson::parse(v, text);
    REQUIRE_MESSAGE(err.empty(), err);
    return v;
}

void check_json(const picojson::value& got, const std::string& want) {
    picojson::value w = parse(want);
    CHECK_MESSAGE(got == w, "got  " << got.serialize() << "\nwant " << w.serialize());
}

Headers one_header(std::string_view name, std::string_view value) {
    Headers h;
    h.set(name, value);
    return h;
}

struct Image {
    std::string url;
    std::string name;
};


TEST_CASE("Deprecated: the parameter and its schema say deprecated: true, and the value is still read") {
    App app;
    app.get("/items/{item_id}",
            [](Path<"item_id", int64_t, Deprecated> id, Query<"item-query", std::optional<std::string>, Deprecated> q,
               Header<"x_old", std::optional<std::string>, Deprecated> old,
               Cookie<"legacy", std::optional<std::string>, Deprecated> legacy, Query<"fresh", std::optional<int64_t>>) {
                return std::to_string(*id) + "," + q->value_or("-") + "," + old->value_or("-") + "," + legacy->value_or("-");
            },
            {.name = "read_items"});
    auto doc = document(app);
    const auto& op = doc.get("paths").get("/items/{item_id}").get("get");
    // FastAPI (pydantic >= 2.10) for Query(alias="item-query", deprecated=True):
    check_json(parameter(op, "item-query"),
               R"({"name":"item-query","in":"query","required":false,"deprecated":true,
                   "schema":{"anyOf":[{"type":"string"},{"type":"null"}],"title":"Item-Query","deprecated":true}})");
    check_json(parameter(op, "item_id"),
               R"({"name":"item_id","in":"path","required":true,"deprecated":true,
                   "schema":{"type":"integer","title":"Item Id","deprecated":true}})");
    CHECK(parameter(op, "x-old").get("deprecated") == picojson::value(true));
    CHECK(parameter(op, "legacy").get("deprecated") == picojson::value(true));
    CHECK_FALSE(parameter(op, "fresh").contains("deprecated"));
    CHECK_FALSE(parameter(op, "fresh").get("schema").contains("deprecated"));
    CHECK_FALSE(op.contains("deprecated"));  // the operation is not (RouteOptions::deprecated is)

    TestClient client(app);
    Headers h = one_header("x-old", "o");
    h.set("cookie", "legacy=l");
    CHECK(client.get("/items/7?item-query=q", h).json().get<std::string>() == "7,q,o,l");
}

TEST_CASE("Header: '_' is '-' in the request, in errors and in the document, as FastAPI converts it") {
    App app;
    app.get("/h", [](Header<"x_token", std::string> token) { return *token; });
    TestClient client(app);
    CHECK(client.get("/h", one_header("X-Token", "abc")).json().get<std::string>() == "abc");
    auto r = client.get("/h", one_header("x_token", "abc"));  // not the header it reads
    CHECK(r.status_code == 422);
    CHECK(r.text == R"({"detail":[{"type":"missing","loc":["header","x-token"],"msg":"Field required","input":null}]})");
    // FastAPI: {"required": true, "schema": {"title": "X-Token", "type": "string"}, "name": "x-token", "in": "header"}
    auto doc = document(app);
    check_json(parameter(doc.get("paths").get("/h").get("get"), "x-token"),
               R"({"name":"x-token","in":"header","required":true,"schema":{"type":"string","title":"X-Token"}})");
}

TEST_CASE("Header with ConvertUnderscores<false> reads the name as written, and the document says so") {
    App app;
    app.get("/h", [](Header<"strange_header", std::optional<std::string>, ConvertUnderscores<false>> h,
                     Header<"x_needed", std::string, ConvertUnderscores<false>>) { return h->value_or("none"); });
    TestClient client(app);
    Headers both = one_header("Strange_Header", "yes");
    both.set("x_needed", "1");
    CHECK(client.get("/h", both).json().get<std::string>() == "yes");
    Headers dashed = one_header("strange-header", "dash");
    dashed.set("x_needed", "1");
    CHECK(client.get("/h", dashed).json().get<std::string>() == "none");  // '-' is another header
    auto r = client.get("/h", one_header("x-needed", "1"));
    CHECK(r.status_code == 422);
    CHECK(r.text == R"({"detail":[{"type":"missing","loc":["header","x_needed"],"msg":"Field required","input":null}]})");
    // FastAPI's tutorial: Header(convert_underscores=False) on strange_header.
    auto doc = document(app);
    check_json(parameter(doc.get("paths").get("/h").get("get"), "strange_header"),
               R"({"name":"strange_header","in":"header","required":false,
                   "schema":{"anyOf":[{"type":"string"},{"type":"null"}],"title":"Strange Header"}})");
}

TEST_CASE("a bare list of models as the body is required: the server answers missing, the document says required") {
    App app;
    app.post("/images/multiple/", [](std::vector<Image> images) { return images.size(); },
             {.name = "create_multiple_images"});
    app.post("/embedded/", [](Body<"images", std::vector<Image>, Embed> images) { return images->size(); },
             {.name = "embedded"});
    app.post("/optional/", [](Body<"images", std::optional<std::vector<Image>>> images) { return images->has_value(); },
             {.name = "optional"});
    app.post("/defaulted/", [](Body<"tags", std::vector<std::string>, Default<>> tags) { return tags->size(); },
             {.name = "defaulted"});
    TestClient client(app);
    CHECK(client.post("/images/multiple/", R"([{"url":"u","name":"n"}])").text == "1");
    auto r = client.post("/images/multiple/");
    CHECK(r.status_code == 422);
    CHECK(r.text == R"({"detail":[{"type":"missing","loc":["body"],"msg":"Field required","input":null}]})");
    CHECK(client.post("/embedded/", "{}").status_code == 422);
    CHECK(client.post("/optional/").text == "false");
    CHECK(client.post("/defaulted/").text == "0");

    auto doc = document(app);
    // FastAPI for `images: list[Image]`: {"content": {"application/json": {"schema": {"title": "Images",
    // "type": "array", "items": {"$ref": ...}}}}, "required": true} (the title is the type's here:
    // C++ cannot see the parameter's name).
    check_json(doc.get("paths").get("/images/multiple/").get("post").get("requestBody"),
               R"({"content":{"application/json":{"schema":{"type":"array","items":{"$ref":"#/components/schemas/Image"},
                   "title":"Image"}}},"required":true})");
    check_json(doc.get("components").get("schemas").get("Body_embedded_embedded__post").get("required"), R"(["images"])");
    CHECK_FALSE(doc.get("paths").get("/optional/").get("post").get("requestBody").contains("required"));
    const auto& defaulted = doc.get("paths").get("/defaulted/").get("post").get("requestBody");
    CHECK_FALSE(defaulted.contains("required"));
    check_json(defaulted.get("content").get("application/json").get("schema").get("default"), "[]");
}

}  // namespace param_markers_test
