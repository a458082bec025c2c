// Settings from the environment, as pydantic-settings' BaseSettings: load_settings<T> with a
// prefix, case-insensitive names, nested models through __, lists as JSON or comma-separated,
// defaults and constraints, a .env file (the environment winning), a secrets directory, every
// problem at once naming the variable, Secret<std::string> never shown, forbid_unknown.
// Variables are set inside each test and put back as they were (ScopedEnv).
#include "support.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace settings_test {

using test::ScopedEnv;

struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/fastapi-settings-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    std::string write(const std::string& name, const std::string& text) const {
        std::string p = path + "/" + name;
        std::ofstream(p, std::ios::binary) << text;
        return p;
    }
};

enum class Mode { dev, prod };

// Defaults are Default<...> markers, as in any model (reflection cannot see member initialisers).
struct Db {
    fastapi::Field<std::string, fastapi::Default<"localhost">> host;
    fastapi::Field<int, fastapi::Gt<0>, fastapi::Le<65535>, fastapi::Default<5432>> port;
    fastapi::Secret<std::string> password;  // required
};

struct Settings {
    fastapi::Field<std::string, fastapi::Default<"Awesome API">> app_name;
    fastapi::Field<std::string, fastapi::MinLength<3>> admin_email;  // required
    fastapi::Field<bool, fastapi::Default<false>> debug;
    Db db;
    std::vector<std::string> allowed_hosts;
    std::vector<int> ports;
    std::optional<double> ratio;
    fastapi::Field<Mode, fastapi::Default<"dev">> mode;
    std::map<std::string, int> limits;
};

std::string message_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const fastapi::SettingsError& e) {
        return e.what();
    }
    return "(no error)";
}

}  // namespace settings_test

template <>
struct fastapi::enum_values<settings_test::Mode> {
    static constexpr fastapi::enum_value<settings_test::Mode> values[] = {{settings_test::Mode::dev, "dev"},
                                                                          {settings_test::Mode::prod, "prod"}};
};

using settings_test::Settings;
using settings_test::ScopedEnv;

TEST_CASE("settings: fields from prefixed variables, case-insensitively, nested through __, lists and defaults") {
    ScopedEnv a("APP_ADMIN_EMAIL", "admin@example.com");
    ScopedEnv b("app_debug", "true");            // any case
    ScopedEnv c("App_Db__Host", "db.internal");  // nested model
    ScopedEnv d("APP_DB__PORT", "6543");         // "6543" is an int, as pydantic's lax mode
    ScopedEnv e("APP_DB__PASSWORD", "hunter2");
    ScopedEnv f("APP_ALLOWED_HOSTS", "a.example, b.example");  // comma-separated
    ScopedEnv g("APP_PORTS", "[8000, 8001]");                   // JSON
    ScopedEnv h("APP_MODE", "prod");
    ScopedEnv i("APP_LIMITS", R"({"items": 10})");
    ScopedEnv j("APP_RATIO", nullptr);
    auto s = fastapi::load_settings<Settings>({.env_prefix = "APP_"});
    CHECK(s.app_name.value == "Awesome API");  // a default
    CHECK(s.admin_email.value == "admin@example.com");
    CHECK(s.debug.value);
    CHECK(s.db.host.value == "db.internal");
    CHECK(s.db.port.value == 6543);
    CHECK(s.db.password.get_secret_value() == "hunter2");
    CHECK(s.allowed_hosts == std::vector<std::string>{"a.example", "b.example"});
    CHECK(s.ports == std::vector<int>{8000, 8001});
    CHECK(!s.ratio);
    CHECK(s.mode.value == settings_test::Mode::prod);
    CHECK(s.limits.at("items") == 10);

    // A whole nested model as JSON, the nested variables winning over it.
    ScopedEnv k("APP_DB", R"({"host": "from-json", "port": 1000})");
    ScopedEnv l("APP_DB__HOST", nullptr);
    ScopedEnv m("App_Db__Host", nullptr);
    s = fastapi::load_settings<Settings>({.env_prefix = "APP_"});
    CHECK(s.db.host.value == "from-json");
    CHECK(s.db.port.value == 6543);

    // case_sensitive: only the exact names.
    CHECK_THROWS_AS(fastapi::load_settings<Settings>({.env_prefix = "app_", .case_sensitive = true}), fastapi::SettingsError);
}

TEST_CASE("settings: a .env file under the environment, and a secrets directory under both") {
    settings_test::TempDir dir;
    ScopedEnv a("APP_ADMIN_EMAIL", nullptr);
    ScopedEnv b("APP_DEBUG", "false");  // the environment wins over the file
    ScopedEnv c("APP_DB__HOST", nullptr);
    ScopedEnv d("APP_DB__PASSWORD", nullptr);
    ScopedEnv e("APP_DB__PORT", nullptr);
    ScopedEnv e2("APP_DB", nullptr);
    std::string env = dir.write(".env",
                                "# development settings\n"
                                "APP_ADMIN_EMAIL=dev@example.com\n"
                                "APP_DEBUG=true\n"
                                "export APP_DB__HOST=\"db.${APP_ADMIN_EMAIL}\"\n");
    std::filesystem::create_directory(dir.path + "/secrets");
    dir.write("secrets/app_db__password", "s3cret\n");  // Docker secrets end with a newline
    dir.write("secrets/app_db__host", "from-secret");    // the .env file wins over secrets
    auto s = fastapi::load_settings<Settings>({.env_prefix = "APP_", .env_file = env, .secrets_dir = dir.path + "/secrets"});
    CHECK(s.admin_email.value == "dev@example.com");
    CHECK(!s.debug.value);
    CHECK(s.db.host.value == "db.dev@example.com");
    CHECK(s.db.password.get_secret_value() == "s3cret");
    // A missing file or folder is no error (pydantic-settings); the process environment is untouched.
    CHECK(std::getenv("APP_ADMIN_EMAIL") == nullptr);
    ScopedEnv f("APP_ADMIN_EMAIL", "x@y.z");
    ScopedEnv g("APP_DB__PASSWORD", "pw");
    CHECK_NOTHROW(fastapi::load_settings<Settings>({.env_prefix = "APP_", .env_file = dir.path + "/none.env",
                                                    .secrets_dir = dir.path + "/none"}));
    // A malformed .env is a problem with its line.
    std::string bad = dir.write("bad.env", "APP_DEBUG=\"unclosed\n");
    CHECK(settings_test::message_of([&] { fastapi::load_settings<Settings>({.env_prefix = "APP_", .env_file = bad}); })
              .find("bad.env:1: a double-quoted value is not closed") != std::string::npos);
}

TEST_CASE("settings: every problem at once, naming the variable, never a secret's value") {
    settings_test::TempDir dir;
    ScopedEnv a("APP_ADMIN_EMAIL", nullptr);  // required: missing
    ScopedEnv b("APP_DEBUG", "maybe");
    ScopedEnv c("APP_DB__PORT", "99999");  // beyond Le<65535>
    ScopedEnv d("APP_DB__PASSWORD", nullptr);
    ScopedEnv e("APP_PORTS", "8000, eighty");
    ScopedEnv f("APP_MODE", "staging");
    ScopedEnv g("APP_LIMITS", "{not json");
    ScopedEnv h("APP_DB__HOST", nullptr);
    std::string env = dir.write(".env", "APP_RATIO=half\n");
    std::string what;
    std::vector<std::string> problems;
    try {
        fastapi::load_settings<Settings>({.env_prefix = "APP_", .env_file = env});
        FAIL("expected SettingsError");
    } catch (const fastapi::SettingsError& err) {
        what = err.what();
        problems = err.problems;
    }
    INFO(what);
    CHECK(problems.size() == 8);
    CHECK(what.find("fastapi: 8 problems with the settings:") == 0);
    CHECK(what.find("APP_DB__PASSWORD: Field required") != std::string::npos);
    CHECK(what.find("APP_ADMIN_EMAIL: Field required") != std::string::npos);
    CHECK(what.find("APP_DEBUG (environment): Input should be a valid boolean, unable to interpret input (got 'maybe')") !=
          std::string::npos);
    CHECK(what.find("APP_DB__PORT (environment): Input should be less than or equal to 65535 (got '99999')") != std::string::npos);
    CHECK(what.find("APP_PORTS[1] (environment): Input should be a valid integer") != std::string::npos);
    CHECK(what.find("APP_MODE (environment): Input should be 'dev' or 'prod' (got 'staging')") != std::string::npos);
    CHECK(what.find("APP_LIMITS (environment): is not valid JSON") != std::string::npos);
    CHECK(what.find("APP_RATIO (" + env + ":1): Input should be a valid number") != std::string::npos);
    CHECK(what.find("db.port") == std::string::npos);  // variables, not field paths
}

TEST_CASE("settings: Secret<std::string> shows as ********** in JSON, repr and errors") {
    fastapi::Secret<std::string> s = std::string("hunter2");
    std::ostringstream os;
    os << s;
    CHECK(os.str() == "**********");
    CHECK(to_string(s) == "**********");
    CHECK(s.get_secret_value() == "hunter2");
    settings_test::Db db;
    db.host.value = "localhost";
    db.port.value = 5432;
    db.password = std::string("hunter2");
    std::string json;
    fastapi::write_json(json, db);
    CHECK(json == R"({"host":"localhost","port":5432,"password":"**********"})");
    CHECK(fastapi::to_json_value(db).serialize().find("hunter2") == std::string::npos);
    // Read as a string from JSON; a wrong type's error does not echo the value.
    fastapi::ValidationErrors errors;
    fastapi::Loc loc;
    settings_test::Db in;
    CHECK(fastapi::from_json(picojson::value(picojson::object{{"password", picojson::value("pw")}}), in, errors, loc));
    CHECK(in.password.get_secret_value() == "pw");
    CHECK(!fastapi::from_json(picojson::value(picojson::object{{"password", picojson::value(int64_t{12345678})}}), in, errors, loc));
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].input.serialize() == "\"**********\"");
    // In the document: a string with format password, as pydantic's SecretStr.
    fastapi::App app;
    app.post("/login", [](settings_test::Db d) { return d.host.value + ":" + d.password.get_secret_value(); });
    fastapi::TestClient client(app);
    fastapi::Headers json_type{{"content-type", "application/json"}};
    CHECK(client.post("/login", R"({"host": "h", "password": "pw"})", json_type).text == "\"h:pw\"");
    auto refused = client.post("/login", R"({"password": 31415926})", json_type);
    CHECK(refused.status_code == 422);
    CHECK(refused.text.find("31415926") == std::string::npos);
    CHECK(refused.text.find("**********") != std::string::npos);
    std::string doc = client.get("/openapi.json").text;
    INFO(doc);
    CHECK(doc.find(R"("password":{"format":"password","title":"Password","type":"string"})") != std::string::npos);

    // Through load_settings, a secret's bad value (a JSON model with a wrong type) is not shown.
    ScopedEnv a("APP_ADMIN_EMAIL", "a@b.c");
    ScopedEnv b("APP_DB", R"({"password": 271828})");
    ScopedEnv c("APP_DB__PASSWORD", nullptr);
    std::string what = settings_test::message_of([] { fastapi::load_settings<Settings>({.env_prefix = "APP_"}); });
    CHECK(what.find("APP_DB.password (environment): Input should be a valid string") != std::string::npos);
    CHECK(what.find("271828") == std::string::npos);
}

TEST_CASE("settings: forbid_unknown makes a prefixed variable no field reads a problem") {
    settings_test::TempDir dir;
    ScopedEnv a("APP_ADMIN_EMAIL", "a@b.c");
    ScopedEnv b("APP_DEBUGG", "1");        // a typo
    ScopedEnv c("APP_DB__HOTS", "x");      // a nested typo
    ScopedEnv d("APP_DB__PASSWORD", "pw");  // known: no problem
    CHECK_NOTHROW(fastapi::load_settings<Settings>({.env_prefix = "APP_"}));  // pydantic-settings ignores them
    std::string what = settings_test::message_of([] {
        fastapi::load_settings<Settings>({.env_prefix = "APP_", .forbid_unknown = true});
    });
    CHECK(what.find("fastapi: 2 problems") == 0);
    CHECK(what.find("APP_DEBUGG (environment): no setting has this name") != std::string::npos);
    CHECK(what.find("APP_DB__HOTS (environment): no setting has this name") != std::string::npos);
    // Without a prefix only the .env file's names are checked, not the whole environment.
    std::string env = dir.write(".env", "ADMIN_EMAIL=a@b.c\nDB__PASSWORD=pw\nADMIN_EMIAL=typo\n");
    what = settings_test::message_of([&] { fastapi::load_settings<Settings>({.env_file = env, .forbid_unknown = true}); });
    CHECK(what.find("fastapi: 1 problem with the settings:\n  ADMIN_EMIAL (" + env + ":3): no setting has this name") == 0);
}

TEST_CASE("settings: hostile values are bounded: huge lists, deep JSON, huge secret files") {
    settings_test::TempDir dir;
    ScopedEnv a("APP_ADMIN_EMAIL", "a@b.c");
    std::string many(300000, ',');
    ScopedEnv b("APP_ALLOWED_HOSTS", many.c_str());
    std::string what = settings_test::message_of([] { fastapi::load_settings<Settings>({.env_prefix = "APP_"}); });
    CHECK(what.find("APP_ALLOWED_HOSTS (environment): has too many items") != std::string::npos);
    std::string deep(100000, '[');
    ScopedEnv c("APP_ALLOWED_HOSTS", deep.c_str());
    what = settings_test::message_of([] { fastapi::load_settings<Settings>({.env_prefix = "APP_"}); });
    CHECK(what.find("APP_ALLOWED_HOSTS (environment): is nested too deeply to read") != std::string::npos);
    ScopedEnv d("APP_ALLOWED_HOSTS", nullptr);
    std::filesystem::create_directory(dir.path + "/s");
    dir.write("s/app_db__password", std::string(FASTAPI_MAX_SECRET_FILE_BYTES + 1, 'x'));
    what = settings_test::message_of([&] { fastapi::load_settings<Settings>({.env_prefix = "APP_", .secrets_dir = dir.path + "/s"}); });
    CHECK(what.find("app_db__password (secrets file " + dir.path + "/s/app_db__password): larger than") != std::string::npos);
}
