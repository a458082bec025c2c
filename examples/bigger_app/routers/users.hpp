// The users router (FastAPI's app/routers/users.py).
#pragma once
#include "fastapi.hpp"

#include <string>
#include <vector>

namespace routers::users {

struct User {
    std::string username;
};

inline fastapi::APIRouter router() {
    fastapi::APIRouter router;
    router.get("/users/", [] { return std::vector<User>{{"Rick"}, {"Morty"}}; },
               {.tags = {"users"}, .name = "read_users"});
    router.get("/users/me", [] { return User{"fakecurrentuser"}; }, {.tags = {"users"}, .name = "read_user_me"});
    router.get("/users/{username}", [](fastapi::Path<"username", std::string> username) { return User{*username}; },
               {.tags = {"users"}, .name = "read_user"});
    return router;
}

}  // namespace routers::users
