// An admin router shared with other projects (FastAPI's app/internal/admin.py): it declares
// nothing itself; main.cpp gives it a prefix, a tag, a dependency and a response when
// including it.
#pragma once
#include "fastapi.hpp"

#include <string>

namespace internal::admin {

struct Message {
    std::string message;
};

inline Message update_admin() { return {"Admin getting schwifty"}; }

inline fastapi::APIRouter router() {
    fastapi::APIRouter router;
    router.post<update_admin>("/");
    return router;
}

}  // namespace internal::admin
