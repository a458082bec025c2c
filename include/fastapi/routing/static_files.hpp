// static_files: StaticFiles, a folder served under a prefix (Starlette's StaticFiles, mounted
// with app.mount). Files are streamed by the server (Response::file_path), with ETag and
// Last-Modified for conditional requests. Whatever the request path says, only files inside
// the folder are ever served: dot segments, backslashes and NUL are refused, and the real
// path (symlinks resolved) must lie under the folder's real path. Relies on app and responses.
#pragma once
#include "app_core.hpp"
#include "responses.hpp"

#include <chrono>        // file_clock, sys_days, year_month_day
#include <cstdint>       // uint64_t
#include <cstdio>        // snprintf
#include <filesystem>    // canonical, status, last_write_time
#include <memory>        // shared_ptr
#include <optional>      // optional
#include <stdexcept>     // runtime_error
#include <string>        // string
#include <string_view>   // string_view
#include <system_error>  // error_code

namespace fastapi {

namespace detail {

// An HTTP date (IMF-fixdate, RFC 9110 5.6.7): "Sun, 06 Nov 1994 08:49:37 GMT".
FASTAPI_DECL std::string format_http_date(std::chrono::sys_seconds t);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string format_http_date(std::chrono::sys_seconds t) {
    using namespace std::chrono;
    static constexpr const char* day_names[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char* month_names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const sys_days day = floor<days>(t);
    const year_month_day ymd(day);
    const hh_mm_ss hms(t - day);
    char buf[40];
    std::snprintf(buf, sizeof buf, "%s, %02u %s %04d %02d:%02d:%02d GMT", day_names[weekday(day).c_encoding()],
                  unsigned(ymd.day()), month_names[unsigned(ymd.month()) - 1], int(ymd.year()),
                  int(hms.hours().count()), int(hms.minutes().count()), int(hms.seconds().count()));
    return buf;
}
#endif

// Parses an IMF-fixdate; the obsolete formats a recipient may also accept are rare enough
// that treating them as absent (no 304) is the safe answer.
FASTAPI_DECL std::optional<std::chrono::sys_seconds> parse_http_date(std::string_view s);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::optional<std::chrono::sys_seconds> parse_http_date(std::string_view s) {
    using namespace std::chrono;
    static constexpr std::string_view months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    if (s.size() != 29 || s.substr(3, 2) != ", " || s.substr(25) != " GMT") return std::nullopt;
    auto num = [&](std::size_t pos, std::size_t len) -> int {
        int v = 0;
        for (std::size_t i = pos; i < pos + len; ++i) {
            if (s[i] < '0' || s[i] > '9') return -1;
            v = v * 10 + (s[i] - '0');
        }
        return v;
    };
    const int d = num(5, 2), y = num(12, 4), hh = num(17, 2), mm = num(20, 2), ss = num(23, 2);
    unsigned m = 0;
    for (unsigned i = 0; i < 12; ++i)
        if (s.substr(8, 3) == months[i]) m = i + 1;
    if (d < 0 || y < 0 || hh < 0 || mm < 0 || ss < 0 || m == 0 || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
        s[19] != ':' || s[22] != ':' || hh > 23 || mm > 59 || ss > 60)
        return std::nullopt;
    const year_month_day ymd{year(y), month(m), day(unsigned(d))};
    if (!ymd.ok()) return std::nullopt;
    return sys_days(ymd) + hours(hh) + minutes(mm) + seconds(ss);
}
#endif

// True when an If-None-Match list names `etag` (weak comparison, as RFC 9110 asks for GET).
FASTAPI_DECL bool etag_matches(std::string_view if_none_match, std::string_view etag);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool etag_matches(std::string_view if_none_match, std::string_view etag) {
    auto strip_weak = [](std::string_view t) { return t.substr(0, 2) == "W/" ? t.substr(2) : t; };
    etag = strip_weak(etag);
    while (!if_none_match.empty()) {
        auto comma = if_none_match.find(',');
        std::string_view item = if_none_match.substr(0, comma);
        if_none_match = comma == std::string_view::npos ? std::string_view{} : if_none_match.substr(comma + 1);
        while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
        while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
        if (item == "*" || strip_weak(item) == etag) return true;
    }
    return false;
}
#endif

// True when `inner` is `root` or lies below it (both canonical, absolute).
FASTAPI_DECL bool path_is_within(const std::filesystem::path& root, const std::filesystem::path& inner);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool path_is_within(const std::filesystem::path& root, const std::filesystem::path& inner) {
    auto r = root.begin(), i = inner.begin();
    for (; r != root.end(); ++r, ++i) {
        if (r->empty()) continue;  // a trailing separator on root
        if (i == inner.end() || *r != *i) return false;
    }
    return true;
}
#endif

}  // namespace detail

// Serves the files of a folder: app.mount("/static", fastapi::StaticFiles("public")).
// GET and HEAD only (405 otherwise); a missing file is 404 {"detail":"Not Found"}.
// With html = true a folder answers with its index.html (after a redirect adding the
// trailing slash) and a missing file with the folder's 404.html when there is one, as
// Starlette's StaticFiles(html=True) does for static sites.
class StaticFiles {
public:
    struct Options {
        bool html = false;
        // Refuse to start when the folder does not exist (Starlette's check_dir).
        bool check_dir = true;
    };

    explicit StaticFiles(std::string directory) : StaticFiles(std::move(directory), Options{}) {}
    StaticFiles(std::string directory, Options options)
        : state_(std::make_shared<const State>(State{std::move(directory), options})) {
        std::error_code ec;
        if (options.check_dir && !std::filesystem::is_directory(state_->directory, ec))
            throw std::runtime_error("fastapi: StaticFiles directory '" + state_->directory + "' does not exist");
    }
    StaticFiles(std::string directory, bool html) : StaticFiles(std::move(directory), Options{html, true}) {}

    const std::string& directory() const noexcept { return state_->directory; }

    // The response to `req` for `relative`, the decoded part of its path below the mount point.
    Response serve(const Request& req, std::string_view relative) const;

    // Called by App::mount: one GET route (HEAD follows GET) for everything under the prefix,
    // kept out of the OpenAPI document as FastAPI keeps mounts out of it.
    void mount_on(detail::AppCore& app, std::string_view prefix, std::string_view name) const;

private:
    struct State {
        std::string directory;
        Options options;
    };

    // The real path of `relative` under `root`, or nothing when it does not exist or would
    // leave the folder. Segments are checked before the file system is asked anything.
    static std::optional<std::filesystem::path> lookup(const std::filesystem::path& root, std::string_view relative);

    static Response file_response(const Request& req, const std::filesystem::path& file, int status);

    // RFC 9110 13.2.2: If-None-Match decides when present; otherwise If-Modified-Since.
    static bool is_not_modified(const Request& req, std::string_view etag, std::chrono::sys_seconds modified) {
        if (auto inm = req.headers.get("if-none-match")) return detail::etag_matches(*inm, etag);
        if (auto ims = req.headers.get("if-modified-since"))
            if (auto since = detail::parse_http_date(*ims)) return modified <= *since;
        return false;
    }

    std::shared_ptr<const State> state_;
};

#if FASTAPI_DEFINITIONS
FASTAPI_DECL auto StaticFiles::serve(const Request& req, std::string_view relative) const -> Response {
    namespace fs = std::filesystem;
    const State& st = *state_;
    std::error_code ec;
    const fs::path root = fs::canonical(st.directory, ec);
    if (ec) throw HTTPException(404, "Not Found");

    if (auto found = lookup(root, relative)) {
        if (fs::is_regular_file(*found, ec)) return file_response(req, *found, 200);
        if (st.options.html && fs::is_directory(*found, ec)) {
            if (auto index = lookup(root, std::string(relative) + "/index.html");
                index && fs::is_regular_file(*index, ec)) {
                const std::string& raw = req.raw_path.empty() ? req.path : req.raw_path;
                if (!raw.empty() && raw.back() != '/') {
                    // Not "//evil.com/": a network-path reference would leave this host.
                    std::string location = detail::same_host_path(detail::root_path_prefix(req) + raw) + "/";
                    if (!req.query_string.empty()) location += "?" + req.query_string;
                    return RedirectResponse(location, 307);
                }
                return file_response(req, *index, 200);
            }
        }
    }
    if (st.options.html)
        if (auto page = lookup(root, "404.html"); page && fs::is_regular_file(*page, ec))
            return file_response(req, *page, 404);
    throw HTTPException(404, "Not Found");
}

FASTAPI_DECL auto StaticFiles::mount_on(detail::AppCore& app, std::string_view prefix, std::string_view name) const -> void {
    std::string base(prefix);
    while (!base.empty() && base.back() == '/') base.pop_back();
    RouteOptions options;
    options.name = name.empty() ? base : std::string(name);
    options.include_in_schema = false;
    options.blocking = true;  // it asks the file system (canonical, stat): not on the event loop
    app.api_route(base + "/{path:path}", {"GET"},
                  [files = *this](const Request& req) -> Response {
                      auto it = req.path_params.find("path");
                      return files.serve(req, it == req.path_params.end() ? std::string_view{} : it->second);
                  },
                  std::move(options));
}

FASTAPI_DECL auto StaticFiles::lookup(const std::filesystem::path& root, std::string_view relative) -> std::optional<std::filesystem::path> {
    namespace fs = std::filesystem;
    fs::path joined = root;
    std::size_t pos = 0;
    while (pos <= relative.size()) {
        std::size_t slash = relative.find('/', pos);
        if (slash == std::string_view::npos) slash = relative.size();
        std::string_view seg = relative.substr(pos, slash - pos);
        pos = slash + 1;
        if (seg.empty() || seg == ".") continue;  // "//" and "/./" (also a leading '/': never absolute)
        if (seg == ".." || seg.find('\\') != std::string_view::npos || seg.find('\0') != std::string_view::npos)
            return std::nullopt;
        joined /= fs::path(std::string(seg));
    }
    std::error_code ec;
    fs::path real = fs::canonical(joined, ec);  // resolves every symlink
    if (ec || !detail::path_is_within(root, real)) return std::nullopt;
    return real;
}

FASTAPI_DECL auto StaticFiles::file_response(const Request& req, const std::filesystem::path& file, int status) -> Response {
    namespace fs = std::filesystem;
    using namespace std::chrono;
    std::error_code ec;
    const std::uint64_t size = fs::file_size(file, ec);
    if (ec) throw HTTPException(404, "Not Found");
    const auto mtime = fs::last_write_time(file, ec);
    if (ec) throw HTTPException(404, "Not Found");
    const auto modified = floor<seconds>(file_clock::to_sys(mtime));

    // Changes whenever the size or the modification time (to the nanosecond) does.
    char etag[64];
    std::snprintf(etag, sizeof etag, "\"%llx-%llx\"", static_cast<unsigned long long>(size),
                  static_cast<unsigned long long>(mtime.time_since_epoch().count()));
    const std::string last_modified = detail::format_http_date(modified);

    if (status == 200 && is_not_modified(req, etag, modified)) {
        Response not_modified({}, 304, "");
        not_modified.headers.set("etag", etag);
        not_modified.headers.set("last-modified", last_modified);
        return not_modified;
    }
    Response res({}, status, detail::guess_media_type(file.native()));
    res.headers.set("etag", etag);
    res.headers.set("last-modified", last_modified);
    res.file_path = file.native();
    return res;
}
#endif

}  // namespace fastapi
