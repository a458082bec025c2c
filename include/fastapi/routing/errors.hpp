// errors: every error answer the library gives is made here, in FastAPI's shape
// ({"detail": ...} as JSON, or the plain text Starlette's middleware answers with): the
// exception handlers (the user's first, then HTTPException, validation errors, and anything
// else as a logged 500), a status outside 100-599, and the answers the server and the
// middleware give themselves.
#pragma once
#include "background.hpp"
#include "exchange.hpp"

#include <cstdio>       // fprintf
#include <exception>    // exception_ptr
#include <functional>   // function
#include <string>       // string
#include <string_view>  // string_view
#include <vector>       // vector

namespace fastapi {
namespace detail {

// {"detail": <detail_json>} with `status`, replacing what the response had.
FASTAPI_DECL void write_detail_json(Response& res, int status, std::string_view detail_json);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void write_detail_json(Response& res, int status, std::string_view detail_json) {
    res.status = status;
    res.body.clear();
    res.body.append("{\"detail\":").append(detail_json) += '}';
    res.headers.set("content-type", "application/json");
}
#endif
FASTAPI_DECL void write_detail(Response& res, int status, const picojson::value& detail_value);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void write_detail(Response& res, int status, const picojson::value& detail_value) {
    res.status = status;
    res.body.clear();
    res.body += "{\"detail\":";
    write_json(res.body, detail_value);
    res.body += '}';
    res.headers.set("content-type", "application/json");
}
#endif
// {"detail": "<reason phrase>"}: the server's own answers (400, 404, 413, 503, ...).
FASTAPI_DECL void write_status_detail(Response& res, int status);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void write_status_detail(Response& res, int status) {
    write_detail(res, status, picojson::value(std::string(status_reason(status))));
}
#endif
FASTAPI_DECL void write_validation_errors(Response& res, const ValidationErrors& errors);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void write_validation_errors(Response& res, const ValidationErrors& errors) {
    res.status = 422;
    res.body = render_validation_errors(errors);
    res.headers.set("content-type", "application/json");
}
#endif
// Starlette's middleware answer in plain text (TrustedHost's 400, CORS's refused preflight).
FASTAPI_DECL void plain_answer(Response& res, int status, std::string_view text);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void plain_answer(Response& res, int status, std::string_view text) {
    res.status = status;
    res.body = std::string(text);
    res.headers.set("content-type", "text/plain; charset=utf-8");
}
#endif
FASTAPI_DECL void internal_error(Response& res);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void internal_error(Response& res) { write_status_detail(res, 500); }
#endif

FASTAPI_DECL void log_error(const Exchange& ex, const char* what);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void log_error(const Exchange& ex, const char* what) {
    std::fprintf(stderr, "fastapi: exception in %s %s: %s\n", ex.request.method.c_str(), ex.request.path.c_str(), what);
}
#endif

// What an error answer starts from: nothing of the response the handler was building (its
// headers, file, stream), and none of its background tasks (FastAPI runs a failed
// handler's tasks never).
FASTAPI_DECL void clear_for_error(Exchange& ex) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void clear_for_error(Exchange& ex) noexcept {
    ex.response.headers.clear();
    ex.response.file_path.clear();
    ex.response.stream.reset();
    discard_background_tasks(ex);
}
#endif

// The last step of every request: a status outside 100-599 set at run time (Response::status,
// HTTPException, a middleware) cannot go on the wire as it is. A 500, logged: the bug is the
// server's, not the client's.
FASTAPI_DECL void refuse_invalid_status(Exchange& ex) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void refuse_invalid_status(Exchange& ex) noexcept {
    if (is_valid_status(ex.response.status)) return;
    std::string what = "the response status " + std::to_string(ex.response.status) + " is outside 100-599";
    log_error(ex, what.c_str());
    clear_for_error(ex);
    internal_error(ex.response);
}
#endif

// Exception -> response (FastAPI's exception handlers): the user's handlers first (last
// registered first), then HTTPException, validation errors, and anything else as 500.
class ExceptionHandlers {
public:
    template <class E, class F>
    void add(F handler) {
        handlers_.insert(handlers_.begin(),
                         [h = std::function<Response(Request&, const E&)>(std::move(handler))](
                             const std::exception_ptr& ep, Request& req, Response& res) {
                             try {
                                 std::rethrow_exception(ep);
                             } catch (const E& e) {
                                 res = h(req, e);
                                 return true;
                             } catch (...) {
                                 return false;
                             }
                         });
    }

    void handle(const std::exception_ptr& ep, Exchange& ex) const noexcept;

private:
    std::vector<std::function<bool(const std::exception_ptr&, Request&, Response&)>> handlers_;
};

#if FASTAPI_DEFINITIONS
FASTAPI_DECL auto ExceptionHandlers::handle(const std::exception_ptr& ep, Exchange& ex) const noexcept -> void {
    Response& res = ex.response;
    clear_for_error(ex);
    try {
        for (auto& h : handlers_)
            if (h(ep, ex.request, res)) return;
        std::rethrow_exception(ep);
    } catch (const HTTPException& e) {
        write_detail_json(res, e.status_code(), e.detail_json());
        for (auto& [name, value] : e.headers()) append_header(res.headers, name, value);
    } catch (const RequestValidationError& e) {
        write_validation_errors(res, e.errors());
    } catch (const std::exception& e) {
        log_error(ex, e.what());
        internal_error(res);
    } catch (...) {
        log_error(ex, "unknown exception");
        internal_error(res);
    }
}
#endif

}  // namespace detail
}  // namespace fastapi
