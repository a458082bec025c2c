// http_exception: HTTPException, what handlers and dependencies raise to answer with an error
// (FastAPI's); its detail is any value json_write writes. Relies on http_types and json_write.
#pragma once
#include "../http/http_types.hpp"
#include "json_write.hpp"

#include <stdexcept>    // runtime_error
#include <string>       // string, to_string
#include <type_traits>  // is_convertible_v, is_same_v
#include <utility>      // move

namespace fastapi {

// Raised by handlers and dependencies to answer with an error: rendered as
// {"detail": detail} with the given status and headers, as FastAPI does. The detail is a
// string or any value a handler could return (a model, a vector, a map, a picojson::value),
// as FastAPI takes a dict:
//   throw HTTPException(404, "Item not found", {{"X-Error", "item-not-found"}});
//   throw HTTPException(409, Conflict{.code = "taken", .ids = {1, 2}});
class HTTPException : public std::runtime_error {
public:
    HTTPException(int status_code, picojson::value detail = {}, Headers headers = {})
        : std::runtime_error("HTTPException " + std::to_string(status_code)),
          status_code_(status_code), detail_(std::move(detail)), headers_(std::move(headers)) {
        if (detail_.is<picojson::null>()) detail_ = picojson::value(std::string(status_reason(status_code)));
        write_json(detail_json_, detail_);
    }
    HTTPException(int status_code, std::string detail, Headers headers = {})
        : HTTPException(status_code, picojson::value(std::move(detail)), std::move(headers)) {}
    HTTPException(int status_code, const char* detail, Headers headers = {})
        : HTTPException(status_code, picojson::value(std::string(detail)), std::move(headers)) {}
    template <class T>
        requires(!std::is_convertible_v<const T&, std::string_view> && !std::is_same_v<T, picojson::value>)
    HTTPException(int status_code, const T& detail, Headers headers = {})
        : std::runtime_error("HTTPException " + std::to_string(status_code)),
          status_code_(status_code), detail_(to_json_value(detail)), headers_(std::move(headers)) {
        if (detail_.is<picojson::null>()) detail_ = picojson::value(std::string(status_reason(status_code)));  // as None
        if (detail_.is<std::string>()) write_json(detail_json_, detail_);
        else write_json(detail_json_, detail);  // a model's fields in their order (picojson sorts keys)
    }

    int status_code() const noexcept { return status_code_; }
    const picojson::value& detail() const noexcept { return detail_; }
    // The detail as it is sent: JSON text.
    const std::string& detail_json() const noexcept { return detail_json_; }
    const Headers& headers() const noexcept { return headers_; }

private:
    int status_code_;
    picojson::value detail_;
    std::string detail_json_;
    Headers headers_;
};

}  // namespace fastapi
