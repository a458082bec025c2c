// The interactive docs: /docs (Swagger UI), /docs/oauth2-redirect and /redoc (ReDoc), as
// FastAPI serves them, and their offline assets.
#include "support.hpp"  // test::ScopedEnv

#include <unistd.h>  // getpid

#include <filesystem>
#include <fstream>
#include <string>

// Helpers and test cases in a namespace of their own (unity builds: a helper in an anonymous
// namespace is seen by every file of the unit).
namespace docs_pages_test {

namespace fs = std::filesystem;

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

// A folder as tools/docs-assets fills it (with stand-in contents).
struct AssetsDir {
    fs::path dir;
    explicit AssetsDir(bool complete = true) {
        static int counter = 0;
        dir = fs::temp_directory_path() /
              ("fastapi-docs-assets-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
        fs::remove_all(dir);
        fs::create_directories(dir);
        for (const char* name : {"swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png"})
            if (complete || std::string_view(name) != "redoc.standalone.js")
                std::ofstream(dir / name) << "/* " << name << " */\n";
    }
    ~AssetsDir() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
};

using test::ScopedEnv;

// AppOptions with some fields set (designated initializers would warn under -Wextra about
// every field left out).
template <class F>
fastapi::AppOptions options_with(F set) {
    fastapi::AppOptions o;
    set(o);
    return o;
}

bool has_route(const fastapi::App& app, std::string_view path) {
    for (auto& r : app.routes())
        if (r->path.pattern() == path) return true;
    return false;
}


TEST_CASE("/docs is Swagger UI 5 from the CDN, pointed at /openapi.json") {
    fastapi::App app;
    fastapi::TestClient client(app);
    auto r = client.get("/docs");
    CHECK(r.status_code == 200);
    CHECK(r.header("content-type") == "text/html; charset=utf-8");
    const std::string& html = r.text;
    CHECK(html.starts_with("<!DOCTYPE html>"));
    CHECK(contains(html, R"(<script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"></script>)"));
    CHECK(contains(html, R"(<link type="text/css" rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css">)"));
    CHECK(contains(html, R"(<link rel="shortcut icon" href="https://fastapi.tiangolo.com/img/favicon.png">)"));
    CHECK(contains(html, "<title>FastAPI - Swagger UI</title>"));
    CHECK(contains(html, R"(<div id="swagger-ui">)"));
    CHECK(contains(html, "url: '/openapi.json',"));
}

TEST_CASE("/docs configures Swagger UI as FastAPI's defaults do") {
    fastapi::App app;
    fastapi::TestClient client(app);
    const std::string html = client.get("/docs").text;
    CHECK(contains(html, R"("dom_id": "#swagger-ui",)"));
    CHECK(contains(html, R"("layout": "BaseLayout",)"));
    CHECK(contains(html, R"("deepLinking": true,)"));
    CHECK(contains(html, R"("showExtensions": true,)"));
    CHECK(contains(html, R"("showCommonExtensions": true,)"));
    CHECK(contains(html, "oauth2RedirectUrl: window.location.origin + '/docs/oauth2-redirect',"));
    CHECK(contains(html, "SwaggerUIBundle.presets.apis,"));
    CHECK(contains(html, "SwaggerUIBundle.SwaggerUIStandalonePreset"));
}

TEST_CASE("/docs/oauth2-redirect hands the OAuth2 response back to the Swagger UI window") {
    fastapi::App app;
    fastapi::TestClient client(app);
    auto r = client.get("/docs/oauth2-redirect");
    CHECK(r.status_code == 200);
    CHECK(r.header("content-type") == "text/html; charset=utf-8");
    CHECK(contains(r.text, "<title>Swagger UI: OAuth2 Redirect</title>"));
    CHECK(contains(r.text, "window.opener.swaggerUIRedirectOauth2"));
    CHECK(contains(r.text, "oauth2.callback("));
    CHECK(contains(r.text, "oauth2.errCb("));
    CHECK(contains(r.text, "window.close()"));
}

TEST_CASE("/redoc is ReDoc 2 from the CDN with <redoc spec-url>") {
    fastapi::App app;
    fastapi::TestClient client(app);
    auto r = client.get("/redoc");
    CHECK(r.status_code == 200);
    CHECK(r.header("content-type") == "text/html; charset=utf-8");
    CHECK(contains(r.text, "<title>FastAPI - ReDoc</title>"));
    CHECK(contains(r.text, R"(<redoc spec-url="/openapi.json"></redoc>)"));
    CHECK(contains(r.text, R"(<script src="https://cdn.jsdelivr.net/npm/redoc@2/bundles/redoc.standalone.js"> </script>)"));
    CHECK(contains(r.text, "fonts.googleapis.com"));
    CHECK(contains(r.text, R"(<link rel="shortcut icon" href="https://fastapi.tiangolo.com/img/favicon.png">)"));
}

TEST_CASE("the docs pages come first in the route table and stay out of the OpenAPI document") {
    fastapi::App app;
    app.get("/{anything}", [] { return 1; });  // added later: cannot shadow the pages
    REQUIRE(app.routes().size() >= 4);
    for (auto& route : app.routes()) {
        if (route->path.pattern() == "/{anything}") break;
        CHECK_FALSE(route->options.include_in_schema);
    }
    fastapi::TestClient client(app);
    CHECK(contains(client.get("/docs").text, "SwaggerUIBundle"));
    CHECK(contains(client.get("/redoc").text, "<redoc"));
}

TEST_CASE("the page title, document URL and redirect URL follow AppOptions") {
    fastapi::App app(options_with([&](fastapi::AppOptions& o) {
        o.title = "Inventory <API>";
        o.openapi_url = "/api/v1/openapi.json";
        o.docs_url = "/api/docs";
        o.redoc_url = "/api/redoc";
        o.swagger_ui_oauth2_redirect_url = "/api/docs/oauth";
    }));
    fastapi::TestClient client(app);
    CHECK(client.get("/docs").status_code == 404);
    CHECK(client.get("/redoc").status_code == 404);
    const std::string docs = client.get("/api/docs").text;
    CHECK(contains(docs, "<title>Inventory &lt;API&gt; - Swagger UI</title>"));
    CHECK(contains(docs, "url: '/api/v1/openapi.json',"));
    CHECK(contains(docs, "window.location.origin + '/api/docs/oauth'"));
    CHECK(client.get("/api/docs/oauth").status_code == 200);
    const std::string redoc = client.get("/api/redoc").text;
    CHECK(contains(redoc, "<title>Inventory &lt;API&gt; - ReDoc</title>"));
    CHECK(contains(redoc, R"(spec-url="/api/v1/openapi.json")"));
}

TEST_CASE("an empty docs_url or redoc_url turns that page off") {
    SUBCASE("no Swagger UI, and so no OAuth2 redirect page") {
        fastapi::App app(options_with([&](fastapi::AppOptions& o) { o.docs_url = ""; }));
        fastapi::TestClient client(app);
        CHECK(client.get("/docs").status_code == 404);
        CHECK(client.get("/docs/oauth2-redirect").status_code == 404);
        CHECK(client.get("/redoc").status_code == 200);
    }
    SUBCASE("no ReDoc") {
        fastapi::App app(options_with([&](fastapi::AppOptions& o) { o.redoc_url = ""; }));
        fastapi::TestClient client(app);
        CHECK(client.get("/docs").status_code == 200);
        CHECK(client.get("/redoc").status_code == 404);
    }
    SUBCASE("no OAuth2 redirect page: Swagger UI is told of none") {
        fastapi::App app(options_with([&](fastapi::AppOptions& o) { o.swagger_ui_oauth2_redirect_url = ""; }));
        fastapi::TestClient client(app);
        CHECK(client.get("/docs/oauth2-redirect").status_code == 404);
        CHECK_FALSE(contains(client.get("/docs").text, "oauth2RedirectUrl"));
    }
}

TEST_CASE("an empty openapi_url turns off both pages") {
    fastapi::App app(options_with([&](fastapi::AppOptions& o) { o.openapi_url = ""; }));
    CHECK_FALSE(has_route(app, "/docs"));
    CHECK_FALSE(has_route(app, "/docs/oauth2-redirect"));
    CHECK_FALSE(has_route(app, "/redoc"));
    fastapi::TestClient client(app);
    CHECK(client.get("/docs").status_code == 404);
    CHECK(client.get("/redoc").status_code == 404);
}

TEST_CASE("the CDN URLs can be replaced one by one") {
    fastapi::App app(options_with([&](fastapi::AppOptions& o) {
        o.swagger_js_url = "/my/swagger.js";
        o.swagger_css_url = "/my/swagger.css";
        o.swagger_favicon_url = "/my/icon.png";
        o.redoc_js_url = "/my/redoc.js";
    }));
    fastapi::TestClient client(app);
    const std::string docs = client.get("/docs").text;
    CHECK(contains(docs, R"(<script src="/my/swagger.js">)"));
    CHECK(contains(docs, R"(href="/my/swagger.css")"));
    CHECK(contains(docs, R"(href="/my/icon.png")"));
    CHECK(contains(client.get("/redoc").text, R"(<script src="/my/redoc.js">)"));
}

TEST_CASE("with docs_assets_dir the app serves the assets itself and the pages load them from it") {
    AssetsDir assets;
    fastapi::App app(options_with([&](fastapi::AppOptions& o) { o.docs_assets_dir = assets.dir.string(); }));
    fastapi::TestClient client(app);

    const std::string docs = client.get("/docs").text;
    CHECK(contains(docs, R"(<script src="/docs-assets/swagger-ui-bundle.js"></script>)"));
    CHECK(contains(docs, R"(href="/docs-assets/swagger-ui.css")"));
    CHECK(contains(docs, R"(href="/docs-assets/favicon.png")"));
    CHECK_FALSE(contains(docs, "cdn.jsdelivr.net"));
    const std::string redoc = client.get("/redoc").text;
    CHECK(contains(redoc, R"(<script src="/docs-assets/redoc.standalone.js">)"));
    CHECK_FALSE(contains(redoc, "cdn.jsdelivr.net"));
    CHECK_FALSE(contains(redoc, "fonts.googleapis.com"));  // offline means offline

    auto js = client.get("/docs-assets/swagger-ui-bundle.js");
    CHECK(js.status_code == 200);
    CHECK(js.header("content-type") == "text/javascript; charset=utf-8");
    CHECK(js.text == "/* swagger-ui-bundle.js */\n");
    CHECK(client.get("/docs-assets/swagger-ui.css").header("content-type") == "text/css; charset=utf-8");
    CHECK(client.get("/docs-assets/favicon.png").header("content-type") == "image/png");
    CHECK(client.get("/docs-assets/redoc.standalone.js").status_code == 200);
    CHECK(client.get("/docs-assets/../../etc/passwd").status_code == 404);
    CHECK(app.settings().swagger_js_url == "/docs-assets/swagger-ui-bundle.js");
}

TEST_CASE("docs_assets_url moves the served assets; URLs the program set itself are kept") {
    AssetsDir assets;
    fastapi::App app(options_with([&](fastapi::AppOptions& o) {
        o.swagger_favicon_url = "/brand.ico";
        o.docs_assets_dir = assets.dir.string();
        o.docs_assets_url = "/_static/docs/";
    }));
    fastapi::TestClient client(app);
    const std::string docs = client.get("/docs").text;
    CHECK(contains(docs, R"(<script src="/_static/docs/swagger-ui-bundle.js">)"));
    CHECK(contains(docs, R"(href="/brand.ico")"));
    CHECK(client.get("/_static/docs/swagger-ui.css").status_code == 200);
    CHECK(client.get("/docs-assets/swagger-ui.css").status_code == 404);
}

TEST_CASE("the FASTAPI_DOCS_ASSETS environment variable sets docs_assets_dir when the program does not") {
    AssetsDir assets;
    ScopedEnv env("FASTAPI_DOCS_ASSETS", assets.dir.string());
    fastapi::App app;
    CHECK(app.settings().docs_assets_dir == assets.dir.string());
    fastapi::TestClient client(app);
    CHECK(contains(client.get("/docs").text, "/docs-assets/swagger-ui-bundle.js"));
    CHECK(client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200);

    AssetsDir other;
    fastapi::App explicit_app(options_with([&](fastapi::AppOptions& o) {
        o.docs_assets_dir = other.dir.string();
    }));
    CHECK(explicit_app.settings().docs_assets_dir == other.dir.string());
}

TEST_CASE("a docs_assets_dir without the assets is an error at startup that says how to fill it") {
    AssetsDir incomplete(false);
    std::string message;
    try {
        fastapi::App app(options_with([&](fastapi::AppOptions& o) {
            o.docs_assets_dir = incomplete.dir.string();
        }));
    } catch (const std::runtime_error& e) {
        message = e.what();
    }
    CHECK(contains(message, "redoc.standalone.js"));
    CHECK(contains(message, "tools/docs-assets"));
    CHECK_NOTHROW(fastapi::App(options_with([&](fastapi::AppOptions& o) {
        o.openapi_url = "";
        o.docs_assets_dir = incomplete.dir.string();
    })));  // no pages, no check
}

TEST_CASE("text from AppOptions cannot break out of the page's script or attributes") {
    fastapi::App app(options_with([&](fastapi::AppOptions& o) {
        o.title = "</title><script>alert(1)</script>";
        o.openapi_url = "/o.json'</script><b x=\"";
    }));
    fastapi::TestClient client(app);
    const std::string docs = client.get("/docs").text;
    CHECK_FALSE(contains(docs, "<script>alert(1)"));
    CHECK_FALSE(contains(docs, "'</script>"));
    CHECK(contains(docs, R"(url: '/o.json\u0027\u003c/script\u003e\u003cb x=\u0022',)"));
    const std::string redoc = client.get("/redoc").text;
    CHECK(contains(redoc, R"(spec-url="/o.json&#39;&lt;/script&gt;&lt;b x=&quot;")"));
}

TEST_CASE("the page builders are public, for pages served at routes of one's own") {
    auto page = fastapi::get_swagger_ui_html("/openapi.json", "Custom", "/s.js", "/s.css", "/f.png");
    CHECK(page.status == 200);
    CHECK(contains(page.body, "<title>Custom</title>"));
    CHECK_FALSE(contains(page.body, "oauth2RedirectUrl"));
    auto redoc = fastapi::get_redoc_html("/openapi.json", "Custom", "/r.js", "/f.png", false);
    CHECK_FALSE(contains(redoc.body, "fonts.googleapis.com"));
    CHECK(contains(fastapi::get_swagger_ui_oauth2_redirect_html().body, "swaggerUIRedirectOauth2"));
}

}  // namespace docs_pages_test
