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
    router.get("/users/", [] { return std::vector<User>{{"Rick"}, {"Morty"}}; }, {.tags = {"users"}});
    router.get("/users/me", [] { return User{"fakecurrentuser"}; }, {.tags = {"users"}});
    router.get("/users/{username}", [](fastapi::Path<"username", std::string> username) { return User{*username}; },
               {.tags = {"users"}});
    return router;
}

}  // namespace routers::users
