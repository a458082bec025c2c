// The users router (FastAPI's app/routers/users.py).
#pragma once
#include "fastapi.hpp"

#include <string>
#include <vector>

namespace routers::users {

struct User {
    std::string username;
};

inline std::vector<User> read_users() { return {{"Rick"}, {"Morty"}}; }
inline User read_user_me() { return {"fakecurrentuser"}; }
inline User read_user(fastapi::Path<"username", std::string> username) { return {*username}; }

// Each route is named after its function, as FastAPI names it after the `def`.
inline fastapi::APIRouter router() {
    fastapi::APIRouter router;
    router.get<read_users>("/users/", {.tags = {"users"}});
    router.get<read_user_me>("/users/me", {.tags = {"users"}});
    router.get<read_user>("/users/{username}", {.tags = {"users"}});
    return router;
}

}  // namespace routers::users
