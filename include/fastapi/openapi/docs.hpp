// docs: the interactive documentation pages FastAPI serves next to the OpenAPI document:
// Swagger UI at /docs (with its OAuth2 redirect page) and ReDoc at /redoc. The pages are
// small HTML shells that load the UI from a CDN, or from a folder the app serves itself
// (AppOptions::docs_assets_dir, filled by tools/docs-assets) for offline use.
// Relies on app (AppOptions), responses and static_files.
#pragma once
#include "openapi.hpp"  // BuiltinAnswer
#include "../routing/responses.hpp"
#include "../routing/static_files.hpp"

#include <cstdio>       // snprintf
#include <cstdlib>      // getenv
#include <filesystem>   // is_regular_file
#include <stdexcept>    // runtime_error
#include <string>       // string
#include <string_view>  // string_view

namespace fastapi {

namespace detail {

// Text for HTML content and attribute values.
FASTAPI_DECL std::string html_escape(std::string_view s);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string html_escape(std::string_view s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&#39;"; break;
            default: out += c;
        }
    }
    return out;
}
#endif

// A JavaScript string literal that is also safe inside <script> (no "</script>", no quotes).
FASTAPI_DECL std::string js_string(std::string_view s);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string js_string(std::string_view s) {
    std::string out = "'";
    for (char c : s) {
        const unsigned char u = static_cast<unsigned char>(c);
        if (c == '\\' || c == '\'' || c == '"' || c == '<' || c == '>' || c == '&' || u < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", u);
            out += buf;
        } else {
            out += c;
        }
    }
    return out + "'";
}
#endif

}  // namespace detail

// The Swagger UI page (FastAPI's get_swagger_ui_html): loads swagger-ui-dist 5 and points
// it at the OpenAPI document. `oauth2_redirect_url` empty leaves OAuth2 redirects out.
FASTAPI_DECL HTMLResponse get_swagger_ui_html(std::string_view openapi_url, std::string_view title,
                                        std::string_view swagger_js_url, std::string_view swagger_css_url,
                                        std::string_view swagger_favicon_url,
                                        std::string_view oauth2_redirect_url = {});
#if FASTAPI_DEFINITIONS
FASTAPI_DECL HTMLResponse get_swagger_ui_html(std::string_view openapi_url, std::string_view title,
                                        std::string_view swagger_js_url, std::string_view swagger_css_url,
                                        std::string_view swagger_favicon_url,
                                        std::string_view oauth2_redirect_url) {
    std::string html;
    html += "<!DOCTYPE html>\n<html>\n<head>\n";
    html += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1.0\">\n";
    html += "<link type=\"text/css\" rel=\"stylesheet\" href=\"" + detail::html_escape(swagger_css_url) + "\">\n";
    html += "<link rel=\"shortcut icon\" href=\"" + detail::html_escape(swagger_favicon_url) + "\">\n";
    html += "<title>" + detail::html_escape(title) + "</title>\n";
    html += "</head>\n<body>\n<div id=\"swagger-ui\">\n</div>\n";
    html += "<script src=\"" + detail::html_escape(swagger_js_url) + "\"></script>\n";
    html += "<!-- `SwaggerUIBundle` is now available on the page -->\n<script>\n";
    html += "const ui = SwaggerUIBundle({\n";
    html += "    url: " + detail::js_string(openapi_url) + ",\n";
    // FastAPI's swagger_ui_default_parameters.
    html += "    \"dom_id\": \"#swagger-ui\",\n";
    html += "    \"layout\": \"BaseLayout\",\n";
    html += "    \"deepLinking\": true,\n";
    html += "    \"showExtensions\": true,\n";
    html += "    \"showCommonExtensions\": true,\n";
    if (!oauth2_redirect_url.empty())
        html += "    oauth2RedirectUrl: window.location.origin + " + detail::js_string(oauth2_redirect_url) + ",\n";
    html += "    presets: [\n";
    html += "        SwaggerUIBundle.presets.apis,\n";
    html += "        SwaggerUIBundle.SwaggerUIStandalonePreset\n";
    html += "    ],\n";
    html += "})\n</script>\n</body>\n</html>\n";
    return HTMLResponse(std::move(html));
}
#endif

// The ReDoc page (FastAPI's get_redoc_html): redoc 2's standalone bundle and its
// <redoc spec-url> element. Google Fonts are linked as FastAPI does unless turned off
// (offline pages turn them off).
FASTAPI_DECL HTMLResponse get_redoc_html(std::string_view openapi_url, std::string_view title, std::string_view redoc_js_url,
                                   std::string_view redoc_favicon_url, bool with_google_fonts = true);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL HTMLResponse get_redoc_html(std::string_view openapi_url, std::string_view title, std::string_view redoc_js_url,
                                   std::string_view redoc_favicon_url, bool with_google_fonts) {
    std::string html;
    html += "<!DOCTYPE html>\n<html>\n<head>\n";
    html += "<title>" + detail::html_escape(title) + "</title>\n";
    html += "<!-- needed for adaptive design -->\n";
    html += "<meta charset=\"utf-8\"/>\n";
    html += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
    if (with_google_fonts)
        html += "<link href=\"https://fonts.googleapis.com/css?family=Montserrat:300,400,700|Roboto:300,400,700\" "
                "rel=\"stylesheet\">\n";
    html += "<link rel=\"shortcut icon\" href=\"" + detail::html_escape(redoc_favicon_url) + "\">\n";
    html += "<!-- ReDoc doesn't change outer page styles -->\n";
    html += "<style>\n  body {\n    margin: 0;\n    padding: 0;\n  }\n</style>\n";
    html += "</head>\n<body>\n";
    html += "<noscript>\n    ReDoc requires Javascript to function. Please enable it to browse the documentation.\n"
            "</noscript>\n";
    html += "<redoc spec-url=\"" + detail::html_escape(openapi_url) + "\"></redoc>\n";
    html += "<script src=\"" + detail::html_escape(redoc_js_url) + "\"> </script>\n";
    html += "</body>\n</html>\n";
    return HTMLResponse(std::move(html));
}
#endif

// The page Swagger UI sends an OAuth2 authorization server back to (FastAPI's
// get_swagger_ui_oauth2_redirect_html). Swagger UI opened this window and left its
// callbacks in window.swaggerUIRedirectOauth2; the page hands them what came back (the
// fragment for implicit flows, the query string for the code flow) and closes itself.
FASTAPI_DECL HTMLResponse get_swagger_ui_oauth2_redirect_html();
#if FASTAPI_DEFINITIONS
FASTAPI_DECL HTMLResponse get_swagger_ui_oauth2_redirect_html() {
    return HTMLResponse(R"html(<!doctype html>
<html lang="en-US">
<head>
<title>Swagger UI: OAuth2 Redirect</title>
</head>
<body>
<script>
'use strict';
(function () {
  // The parameters the authorization server sent back, as an object.
  function receivedParameters() {
    var fragment = window.location.hash.substring(1);
    var source = /(^|&)(code|access_token|token|error)=/.test(fragment) ? fragment : window.location.search.substring(1);
    var values = {};
    new URLSearchParams(source).forEach(function (value, key) { values[key] = value; });
    return values;
  }

  function handBack() {
    var oauth2 = window.opener && window.opener.swaggerUIRedirectOauth2;
    if (!oauth2) {
      document.body.textContent = 'Swagger UI opens this page while signing in with OAuth2; there is nothing to do here.';
      return;
    }
    var received = receivedParameters();
    var stateKept = received.state === oauth2.state;
    var flow = oauth2.auth.schema.get('flow');
    var codeFlow = flow === 'accessCode' || flow === 'authorizationCode' || flow === 'authorization_code';

    if (codeFlow && !oauth2.auth.code) {
      if (!stateKept) {
        oauth2.errCb({authId: oauth2.auth.name, source: 'auth', level: 'warning',
                      message: 'Authorization may be unsafe: the authorization server did not send back the state it was given.'});
      }
      if (received.code) {
        delete oauth2.state;
        oauth2.auth.code = received.code;
        oauth2.callback({auth: oauth2.auth, redirectUrl: oauth2.redirectUrl});
      } else {
        var message = '[Authorization failed]: no accessCode received from the server.';
        if (received.error) {
          message = '[' + received.error + ']: ' +
                    (received.error_description ? received.error_description + '. ' : 'no accessCode received from the server. ') +
                    (received.error_uri ? 'More info: ' + received.error_uri : '');
        }
        oauth2.errCb({authId: oauth2.auth.name, source: 'auth', level: 'error', message: message});
      }
    } else {
      oauth2.callback({auth: oauth2.auth, token: received, isValid: stateKept, redirectUrl: oauth2.redirectUrl});
    }
    window.close();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', handBack);
  else handBack();
})();
</script>
</body>
</html>
)html");
}
#endif

namespace detail {

// The files tools/docs-assets puts in docs_assets_dir.
inline constexpr std::string_view docs_asset_files[] = {"swagger-ui-bundle.js", "swagger-ui.css",
                                                        "redoc.standalone.js", "favicon.png"};

// Registers the docs pages (and, for offline docs, the assets they load) as AppOptions
// says; called by App's constructor, so they come first in the route table. Fills
// docs_assets_dir from $FASTAPI_DOCS_ASSETS when the program left it empty.
FASTAPI_DECL void install_docs_routes(AppCore& app, AppOptions& o);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void install_docs_routes(AppCore& app, AppOptions& o) {
    if (o.docs_assets_dir.empty())
        if (const char* env = std::getenv("FASTAPI_DOCS_ASSETS"); env && *env) o.docs_assets_dir = env;
    if (o.openapi_url.empty() || (o.docs_url.empty() && o.redoc_url.empty())) return;

    const bool offline = !o.docs_assets_dir.empty();
    std::string base;
    if (offline) {
        for (std::string_view file : docs_asset_files) {
            std::error_code ec;
            if (!std::filesystem::is_regular_file(std::filesystem::path(o.docs_assets_dir) / file, ec))
                throw std::runtime_error("fastapi: docs_assets_dir '" + o.docs_assets_dir + "' has no " +
                                         std::string(file) + "; fill it with: tools/docs-assets " + o.docs_assets_dir);
        }
        base = o.docs_assets_url;
        while (!base.empty() && base.back() == '/') base.pop_back();
        if (base.empty() || base.front() != '/')
            throw std::invalid_argument("fastapi: docs_assets_url must be a path such as /docs-assets");
        // URLs the program changed itself win; those still pointing at the CDN move to the app.
        const AppOptions cdn;
        if (o.swagger_js_url == cdn.swagger_js_url) o.swagger_js_url = base + "/swagger-ui-bundle.js";
        if (o.swagger_css_url == cdn.swagger_css_url) o.swagger_css_url = base + "/swagger-ui.css";
        if (o.swagger_favicon_url == cdn.swagger_favicon_url) o.swagger_favicon_url = base + "/favicon.png";
        if (o.redoc_js_url == cdn.redoc_js_url) o.redoc_js_url = base + "/redoc.standalone.js";
        if (o.redoc_favicon_url == cdn.redoc_favicon_url) o.redoc_favicon_url = base + "/favicon.png";
    }

    // Each page for a prefix (root_path): FastAPI prefixes the document's URL and the OAuth2
    // redirect; the app's own asset paths (offline docs) are prefixed as well.
    using Maker = std::function<std::string(std::string_view)>;
    auto page_of = [](const Maker& make) {
        return BuiltinAnswer{std::make_shared<const std::string>(make({})), nullptr, std::make_shared<const Maker>(make)};
    };
    auto local = [](std::string_view root, const std::string& url) {  // "/x" under root; "https://..." as is
        return url.size() > 1 && url[0] == '/' && url[1] != '/' ? std::string(root) + url : url;
    };
    if (!o.docs_url.empty()) {
        add_builtin_route(app, o.docs_url, page_of([o, local](std::string_view root) {
            std::string redirect = o.swagger_ui_oauth2_redirect_url.empty() ? std::string() : std::string(root) + o.swagger_ui_oauth2_redirect_url;
            return get_swagger_ui_html(std::string(root) + o.openapi_url, o.title + " - Swagger UI", local(root, o.swagger_js_url),
                                       local(root, o.swagger_css_url), local(root, o.swagger_favicon_url), redirect).body;
        }));
        if (!o.swagger_ui_oauth2_redirect_url.empty())
            add_builtin_route(app, o.swagger_ui_oauth2_redirect_url,
                              BuiltinAnswer{std::make_shared<const std::string>(get_swagger_ui_oauth2_redirect_html().body)});
    }
    if (!o.redoc_url.empty())
        add_builtin_route(app, o.redoc_url, page_of([o, local, offline](std::string_view root) {
            return get_redoc_html(std::string(root) + o.openapi_url, o.title + " - ReDoc", local(root, o.redoc_js_url),
                                  local(root, o.redoc_favicon_url), !offline).body;
        }));
    if (offline) app.mount(base, StaticFiles(o.docs_assets_dir), "docs-assets");
}
#endif

}  // namespace detail
}  // namespace fastapi
