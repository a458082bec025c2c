// .env files with python-dotenv's rules: parse_env, read_env_file and load_env_file (which
// --env-file and load_settings use). Each expected value is what python-dotenv 1.x gives for
// the same text, except single-quoted ${...} (literal here) and malformed lines (errors here).
#include "support.hpp"

#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <unistd.h>

namespace dotenv_test {

using test::ScopedEnv;

// A file in a temporary folder of its own, removed with it.
struct TempFile {
    std::string dir, path;
    explicit TempFile(const std::string& text) {
        char tmpl[] = "/tmp/fastapi-dotenv-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        dir = tmpl;
        path = dir + "/.env";
        std::ofstream(path, std::ios::binary) << text;
    }
    ~TempFile() {
        ::unlink(path.c_str());
        ::rmdir(dir.c_str());
    }
};

inline std::optional<std::string> value_of(const std::vector<fastapi::EnvEntry>& entries, const std::string& key) {
    for (const auto& e : entries)
        if (e.key == key) return e.value;
    return std::nullopt;
}

}  // namespace dotenv_test

using dotenv_test::ScopedEnv;
using dotenv_test::value_of;

TEST_CASE("dotenv: KEY=VALUE, export, comments, unquoted values trimmed with inline comments") {
    auto e = fastapi::parse_env(
        "# a comment\n"
        "\n"
        "A=1\n"
        "export B = two words  \n"
        "C=value # a note\n"
        "D=#not-a-comment\n"
        "E=  # only a comment\n"
        "F=a#b\n"
        "  G=indented\r\n"
        "H=\n"
        "I=x=y\n");
    REQUIRE(e.size() == 9);
    CHECK(e[0].key == "A");
    CHECK(*e[0].value == "1");
    CHECK(e[0].line == 3);
    CHECK(*value_of(e, "B") == "two words");
    CHECK(e[1].line == 4);
    CHECK(*value_of(e, "C") == "value");
    CHECK(*value_of(e, "D") == "#not-a-comment");
    CHECK(*value_of(e, "E") == "");
    CHECK(*value_of(e, "F") == "a#b");
    CHECK(*value_of(e, "G") == "indented");
    CHECK(*value_of(e, "H") == "");
    CHECK(*value_of(e, "I") == "x=y");
}

TEST_CASE("dotenv: single quotes are literal, double quotes decode escapes, both may span lines") {
    auto e = fastapi::parse_env(
        "S='a\\nb ${HOME} # not a comment'\n"
        "T='it\\'s'\n"
        "D=\"a\\nb\\t\\\"q\\\" \\\\ \\x\"\n"
        "M=\"line one\n"
        "line two\"\n"
        "N='first\n"
        "second'  # trailing comment\n"
        "AFTER=1\n"
        "'QUOTED KEY'=v\n");
    CHECK(*value_of(e, "S") == "a\\nb ${HOME} # not a comment");
    CHECK(*value_of(e, "T") == "it's");
    CHECK(*value_of(e, "D") == "a\nb\t\"q\" \\ \\x");
    CHECK(*value_of(e, "M") == "line one\nline two");
    CHECK(*value_of(e, "N") == "first\nsecond");
    CHECK(*value_of(e, "QUOTED KEY") == "v");
    // Line numbers count the lines multi-line values take.
    REQUIRE(e.size() == 7);
    CHECK(e[3].line == 4);
    CHECK(e[4].line == 6);
    CHECK(e[5].line == 8);
    CHECK(e[6].line == 9);
}

TEST_CASE("dotenv: ${VAR} and ${VAR:-default} expand from earlier pairs and the environment") {
    ScopedEnv home("DOTENV_TEST_HOME", "/home/env");
    ScopedEnv unset("DOTENV_TEST_UNSET", nullptr);
    auto e = fastapi::parse_env(
        "DOMAIN=example.org\n"
        "URL=https://${DOMAIN}/app\n"
        "Q=\"mail@${DOMAIN}\"\n"
        "DEF=${DOTENV_TEST_UNSET:-fallback}\n"
        "EMPTY=[${DOTENV_TEST_UNSET}]\n"
        "PLAIN=$DOMAIN\n"
        "OPEN=${DOMAIN\n"
        "H=${DOTENV_TEST_HOME}\n"
        "DOTENV_TEST_HOME=/home/file\n"
        "H2=${DOTENV_TEST_HOME}\n");
    CHECK(*value_of(e, "URL") == "https://example.org/app");
    CHECK(*value_of(e, "Q") == "mail@example.org");
    CHECK(*value_of(e, "DEF") == "fallback");
    CHECK(*value_of(e, "EMPTY") == "[]");
    CHECK(*value_of(e, "PLAIN") == "$DOMAIN");
    CHECK(*value_of(e, "OPEN") == "${DOMAIN");
    CHECK(*value_of(e, "H") == "/home/env");
    // parse_env is dotenv_values: the file's own earlier pair wins over the environment.
    CHECK(e[9].value == "/home/file");
}

TEST_CASE("dotenv: a bare KEY has no value; malformed lines are all reported with their line") {
    auto e = fastapi::parse_env("ALONE\nB=2 # ok\nC # comment\n");
    REQUIRE(e.size() == 3);
    CHECK(!e[0].value);
    CHECK(!e[2].value);
    try {
        fastapi::parse_env("OK=1\nA=\"unterminated\nB=2\nC='x' y\n=nokey\n", "conf.env");
        FAIL("expected DotenvError");
    } catch (const fastapi::DotenvError& err) {
        std::string what = err.what();
        // The unclosed quote swallows nothing: the reader resumes on the next line.
        CHECK(what.find("conf.env:2: a double-quoted value is not closed") != std::string::npos);
        CHECK(what.find("conf.env:4: unexpected text after the closing quote") != std::string::npos);
        CHECK(what.find("conf.env:5: expected a variable name") != std::string::npos);
        CHECK(what.find("conf.env:3") == std::string::npos);
    }
    CHECK_THROWS_AS(fastapi::parse_env(std::string("A=1\0B=2", 7)), fastapi::DotenvError);
}

TEST_CASE("dotenv: hostile input is bounded: many lines, many errors, huge values") {
    std::string many;
    for (int i = 0; i < 5000; ++i) many += "K" + std::to_string(i) + "=" + std::to_string(i) + "\n";
    CHECK(fastapi::parse_env(many).size() == 5000);
    std::string bad;
    for (int i = 0; i < 1000; ++i) bad += "=x\n";
    try {
        fastapi::parse_env(bad);
        FAIL("expected DotenvError");
    } catch (const fastapi::DotenvError& err) {
        std::string what = err.what();
        CHECK(what.find("1000 malformed lines") != std::string::npos);
        CHECK(what.find("and 980 more") != std::string::npos);
        CHECK(what.size() < 4000);
    }
    std::string refs = "A=";
    for (int i = 0; i < 10000; ++i) refs += "${";
    CHECK(fastapi::parse_env(refs).size() == 1);  // unclosed references stay as written
    // A file beyond FASTAPI_MAX_ENV_FILE_BYTES is refused, not read whole.
    dotenv_test::TempFile big(std::string(FASTAPI_MAX_ENV_FILE_BYTES + 10, '#'));
    CHECK_THROWS_WITH_AS(fastapi::load_env_file(big.path), doctest::Contains("FASTAPI_MAX_ENV_FILE_BYTES"), fastapi::DotenvError);
}

TEST_CASE("dotenv: load_env_file sets the environment; variables already set win unless override") {
    ScopedEnv a("DOTENV_TEST_A", nullptr);
    ScopedEnv b("DOTENV_TEST_B", "from-env");
    ScopedEnv c("DOTENV_TEST_C", nullptr);
    ScopedEnv bare("DOTENV_TEST_BARE", nullptr);
    dotenv_test::TempFile f(
        "DOTENV_TEST_A=file-a\n"
        "DOTENV_TEST_B=file-b\n"
        "DOTENV_TEST_C=${DOTENV_TEST_B}\n"
        "DOTENV_TEST_BARE\n");
    CHECK(fastapi::load_env_file(f.path) == 2);
    CHECK(std::string(std::getenv("DOTENV_TEST_A")) == "file-a");
    CHECK(std::string(std::getenv("DOTENV_TEST_B")) == "from-env");
    // Without override the environment's value is what ${...} sees, as python-dotenv.
    CHECK(std::string(std::getenv("DOTENV_TEST_C")) == "from-env");
    CHECK(std::getenv("DOTENV_TEST_BARE") == nullptr);

    ::unsetenv("DOTENV_TEST_C");
    CHECK(fastapi::load_env_file(f.path, true) == 3);
    CHECK(std::string(std::getenv("DOTENV_TEST_B")) == "file-b");
    CHECK(std::string(std::getenv("DOTENV_TEST_C")) == "file-b");

    CHECK_THROWS_WITH_AS(fastapi::load_env_file(f.dir + "/missing.env"), doctest::Contains("cannot read"), fastapi::DotenvError);
    dotenv_test::TempFile eq("'A=B'=1\n");
    CHECK_THROWS_WITH_AS(fastapi::load_env_file(eq.path), doctest::Contains(":1: 'A=B' cannot be"), fastapi::DotenvError);
}
