// FastAPI's "Simple OAuth2 with Password and Bearer" tutorial: a token from a username and
// password form, then `Authorization: Bearer <token>` to read the current user.
// (The "hashing" and the "tokens" are fakes, as in the tutorial: use real ones in your app.)
#include "fastapi.hpp"

#include <map>
#include <optional>
#include <string>

using namespace fastapi;

struct User {
    std::string username;
    std::optional<std::string> email;
    std::optional<std::string> full_name;
    std::optional<bool> disabled;
};

struct UserInDB {
    User user;
    std::string hashed_password;
};

struct Token {
    std::string access_token;
    std::string token_type;
};

const std::map<std::string, UserInDB> fake_users_db{
    {"johndoe", {{"johndoe", "johndoe@example.com", "John Doe", false}, "fakehashedsecret"}},
    {"alice", {{"alice", "alice@example.com", "Alice Wonderson", true}, "fakehashedsecret2"}},
};

std::string fake_hash_password(const std::string& password) { return "fakehashed" + password; }

constexpr OAuth2PasswordBearer<"token"> oauth2_scheme{};

User get_current_user(Depends<oauth2_scheme> token) {
    // The token is the username here; a real app decodes and checks a JWT.
    auto found = fake_users_db.find(*token);
    if (found == fake_users_db.end()) {
        Headers h;
        h.set("WWW-Authenticate", "Bearer");
        throw HTTPException(401, "Invalid authentication credentials", h);
    }
    return found->second.user;
}

User get_current_active_user(Depends<get_current_user> current_user) {
    if (current_user->disabled.value_or(false)) throw HTTPException(400, "Inactive user");
    return *current_user;
}

int main() {
    App app;

    app.post("/token", [](OAuth2PasswordRequestForm form) {
        auto found = fake_users_db.find(form.username);
        if (found == fake_users_db.end()) throw HTTPException(400, "Incorrect username or password");
        if (!compare_digest(fake_hash_password(form.password), found->second.hashed_password))
            throw HTTPException(400, "Incorrect username or password");
        return Token{found->second.user.username, "bearer"};
    }, {.name = "login"});

    app.get("/users/me", [](Depends<get_current_active_user> current_user) { return *current_user; },
            {.name = "read_users_me"});

    app.run();
}
