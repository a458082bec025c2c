// responses: the response types a handler can return, as FastAPI names them. Each is a
// Response with its media type set; a handler that returns any other value gets it written
// as JSON. Relies on http_types (and its body_source) and json.
#pragma once
#include "../http/http_types.hpp"
#include "../model/json.hpp"

#include <filesystem>   // file_size, path
#include <functional>   // function
#include <memory>       // make_shared
#include <optional>     // optional
#include <string>       // string
#include <string_view>  // string_view

namespace fastapi {

struct PlainTextResponse : Response {
    explicit PlainTextResponse(std::string content, int status_code = 200)
        : Response(std::move(content), status_code, "text/plain; charset=utf-8") {}
};

struct HTMLResponse : Response {
    explicit HTMLResponse(std::string content, int status_code = 200)
        : Response(std::move(content), status_code, "text/html; charset=utf-8") {}
};

// Any value FastAPI could write as JSON: a model, a container, a picojson::value.
struct JSONResponse : Response {
    template <class T>
    explicit JSONResponse(const T& content, int status_code = 200) : Response({}, status_code, "application/json") {
        detail::write_json(body, content);
    }
};

struct RedirectResponse : Response {
    explicit RedirectResponse(std::string_view url, int status_code = 307) : Response({}, status_code, "") {
        headers.set("location", url);
    }
};

namespace detail {
// A request path made safe to send back as a relative Location: one leading slash for a run
// of slashes and backslashes (browsers read "//evil.com/" and "/\evil.com/" as another host).
FASTAPI_DECL std::string same_host_path(std::string_view path);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string same_host_path(std::string_view path) {
    std::size_t i = 0;
    while (i < path.size() && (path[i] == '/' || path[i] == '\\')) ++i;
    return "/" + std::string(path.substr(i));
}
#endif

// The prefix a proxy mounts the app under (Request::root_path, without a trailing slash), for
// the URLs the framework sends back: "" when there is none.
FASTAPI_DECL std::string root_path_prefix(const Request& req);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string root_path_prefix(const Request& req) {
    std::string_view p = req.root_path;
    while (!p.empty() && p.back() == '/') p.remove_suffix(1);
    if (p.empty() || !is_safe_header_value(p)) return {};
    return p.front() == '/' ? std::string(p) : "/" + std::string(p);
}
#endif

// Media type by file extension, for FileResponse and static files.
FASTAPI_DECL std::string_view guess_media_type(std::string_view path) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string_view guess_media_type(std::string_view path) noexcept {
    auto dot = path.rfind('.');
    auto slash = path.rfind('/');
    if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash))
        return "application/octet-stream";
    std::string ext;
    for (char c : path.substr(dot + 1)) ext += ascii_lower(c);
    static constexpr std::pair<std::string_view, std::string_view> types[] = {
        {"html", "text/html; charset=utf-8"}, {"htm", "text/html; charset=utf-8"},
        {"css", "text/css; charset=utf-8"}, {"js", "text/javascript; charset=utf-8"},
        {"mjs", "text/javascript; charset=utf-8"}, {"json", "application/json"},
        {"map", "application/json"}, {"txt", "text/plain; charset=utf-8"},
        {"csv", "text/csv; charset=utf-8"}, {"xml", "application/xml"},
        {"svg", "image/svg+xml"}, {"png", "image/png"}, {"jpg", "image/jpeg"},
        {"jpeg", "image/jpeg"}, {"gif", "image/gif"}, {"webp", "image/webp"},
        {"ico", "image/vnd.microsoft.icon"}, {"woff", "font/woff"}, {"woff2", "font/woff2"},
        {"ttf", "font/ttf"}, {"pdf", "application/pdf"}, {"zip", "application/zip"},
        {"gz", "application/gzip"}, {"wasm", "application/wasm"}, {"mp4", "video/mp4"},
        {"mp3", "audio/mpeg"}, {"wav", "audio/wav"}, {"md", "text/markdown; charset=utf-8"},
    };
    for (auto& [e, type] : types)
        if (e == ext) return type;
    return "application/octet-stream";
}
#endif
}  // namespace detail

// A file streamed from disk when the response is written (never read whole into memory).
// Throws HTTPException 404 if it does not exist when the response is made.
struct FileResponse : Response {
    explicit FileResponse(std::string path, std::string_view media_type = {}, std::string_view filename = {},
                          int status_code = 200)
        : Response({}, status_code, media_type.empty() ? detail::guess_media_type(path) : media_type) {
        std::error_code ec;
        if (!std::filesystem::is_regular_file(path, ec)) throw HTTPException(404, "File not found");
        if (!filename.empty()) {
            std::string quoted;
            for (char c : filename) {
                if (c == '"' || c == '\\') quoted += '\\';
                if (static_cast<unsigned char>(c) >= 0x20) quoted += c;
            }
            headers.set("content-disposition", "attachment; filename=\"" + quoted + "\"");
        }
        file_path = std::move(path);
    }
};

// A body produced while it is sent (Starlette's StreamingResponse): the server runs the
// producer once the headers are written and sends each chunk it writes, waiting while the
// client is slower (back-pressure, see StreamWriter):
//   return fastapi::StreamingResponse([](fastapi::StreamWriter& out) -> asio::awaitable<void> {
//       for (int i = 0; i < 3; ++i) co_await out.write("chunk\n");
//   }, "text/plain");
// Framing: Content-Length when `content_length` is given (writing more, or ending with less,
// closes the connection: the length was a lie), else chunked on HTTP/1.1 and until the
// connection closes on HTTP/1.0. HEAD, 204 and 304 send the headers only; the producer is not
// run. A producer that throws midway is logged and the connection closed (a chunked body is
// left unterminated, so the client sees it incomplete). A client that goes away cancels it:
// its pending write (or whatever else it awaits) ends with operation_aborted. Middleware
// `after`s see the headers before the body is produced; cleanups of dependencies and
// background tasks run after its last byte is written.
struct StreamingResponse : Response {
    using Producer = std::function<asio::awaitable<void>(StreamWriter&)>;
    explicit StreamingResponse(Producer producer, std::string_view media_type = "application/octet-stream",
                               int status_code = 200, std::optional<std::uint64_t> content_length = std::nullopt)
        : Response({}, status_code, media_type) {
        if (!producer) throw std::invalid_argument("fastapi: StreamingResponse needs a producer");
        stream = std::make_shared<detail::BodyProducer>(detail::BodyProducer{std::move(producer), content_length});
    }
};

}  // namespace fastapi
