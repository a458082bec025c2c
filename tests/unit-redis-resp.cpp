// The Redis client's pure parts: the RESP3/RESP2 reply parser (every type, replies split
// anywhere, hostile replies refused within its limits) and REDIS_URL's forms.
#include <doctest/doctest.h>

#include "fastapi.hpp"

#include <string>

namespace redis_resp_test {

using fastapi::RedisValue;
using fastapi::detail::RespStatus;
using Type = RedisValue::Type;

// Parses a whole reply; fails the test unless it is one complete reply.
inline RedisValue parsed(std::string_view text, const fastapi::RespLimits& limits = {}) {
    RedisValue v;
    auto r = fastapi::detail::parse_resp(text, v, limits);
    REQUIRE(r.status == RespStatus::done);
    CHECK(r.consumed == text.size());
    return v;
}
inline std::string refused(std::string_view text, const fastapi::RespLimits& limits = {}) {
    RedisValue v;
    auto r = fastapi::detail::parse_resp(text, v, limits);
    REQUIRE(r.status == RespStatus::error);
    return r.error;
}

// (The tests are in the namespace too: the unity build puts several test files in one unit.)

TEST_CASE("RESP: every RESP3 type and RESP2's nulls") {
    CHECK(parsed("+OK\r\n").type == Type::simple);
    CHECK(parsed("+OK\r\n").str == "OK");
    auto e = parsed("-ERR unknown command 'FOO'\r\n");
    CHECK(e.is_error());
    CHECK(e.str == "ERR unknown command 'FOO'");
    CHECK(parsed(":-42\r\n").integer == -42);
    CHECK(parsed(":9223372036854775807\r\n").integer == INT64_MAX);
    CHECK(parsed(":-9223372036854775808\r\n").integer == INT64_MIN);
    CHECK(parsed("$5\r\nhe\r\nl\r\n").str == "he\r\nl");  // bulk strings are binary
    CHECK(parsed("$0\r\n\r\n").str.empty());
    CHECK(parsed("$-1\r\n").is_null());
    CHECK(parsed("*-1\r\n").is_null());
    CHECK(parsed("_\r\n").is_null());
    CHECK(parsed("#t\r\n").integer == 1);
    CHECK(parsed(",3.25\r\n").number == 3.25);
    CHECK(parsed(",-inf\r\n").number < -1e308);
    CHECK(parsed("(3492890328409238509324850943850943825024385\r\n").type == Type::big_number);
    auto verbatim = parsed("=15\r\ntxt:Some string\r\n");
    CHECK(verbatim.type == Type::verbatim);
    CHECK(verbatim.str == "Some string");
    CHECK(parsed("!21\r\nSYNTAX invalid syntax\r\n").is_error());
    auto map = parsed("%2\r\n+first\r\n:1\r\n+second\r\n$1\r\n2\r\n");
    REQUIRE(map.type == Type::map);
    REQUIRE(map.elements.size() == 4);
    CHECK(map.elements[2].str == "second");
    auto nested = parsed("*2\r\n*1\r\n:1\r\n~1\r\n+a\r\n");
    CHECK(nested.elements[0].elements[0].integer == 1);
    CHECK(nested.elements[1].type == Type::set);
    CHECK(parsed(">2\r\n+message\r\n+x\r\n").type == Type::push);
    // An attribute is metadata about the reply after it: dropped, the reply kept.
    auto attributed = parsed("|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n*1\r\n:2\r\n");
    REQUIRE(attributed.type == Type::array);
    CHECK(attributed.elements[0].integer == 2);
}

TEST_CASE("RESP: a reply split at every byte is incomplete until its last byte, then the same") {
    const std::string text = "*3\r\n$3\r\nfoo\r\n%1\r\n+k\r\n:7\r\n|1\r\n+a\r\n+b\r\n_\r\n";
    for (std::size_t cut = 0; cut < text.size(); ++cut) {
        RedisValue v;
        auto r = fastapi::detail::parse_resp(std::string_view(text).substr(0, cut), v);
        CHECK_MESSAGE(r.status == RespStatus::need_more, "cut at " << cut);
    }
    auto v = parsed(text);
    CHECK(v.elements.size() == 3);
    CHECK(v.elements[1].elements[1].integer == 7);
    CHECK(v.elements[2].is_null());
    // Two replies back to back: the first is read, its length consumed.
    RedisValue first;
    auto r = fastapi::detail::parse_resp("+A\r\n:1\r\n", first);
    CHECK(r.status == RespStatus::done);
    CHECK(r.consumed == 4);
}

TEST_CASE("RESP: hostile replies are refused with a reason, within the limits") {
    fastapi::RespLimits small;
    small.max_bulk_bytes = 1024;
    small.max_depth = 4;
    small.max_elements = 100;
    small.max_line_bytes = 64;
    // A bulk length beyond the limit is refused before anything is allocated or awaited.
    CHECK(refused("$1025\r\n", small).find("bulk string of 1025 bytes") != std::string::npos);
    CHECK(refused("$99999999999999999999999\r\n").find("bulk length") != std::string::npos);
    CHECK(refused("$-2\r\n").find("bulk length") != std::string::npos);
    // Nesting: five levels where four are allowed; and the default's 32.
    CHECK(refused("*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", small).find("nested deeper") != std::string::npos);
    std::string deep;
    for (int i = 0; i < 100000; ++i) deep += "*1\r\n";
    CHECK(refused(deep).find("nested deeper than 32") != std::string::npos);
    // Element counts, one aggregate or all of them together (maps count twice).
    CHECK(refused("*101\r\n", small).find("more than 100 elements") != std::string::npos);
    CHECK(refused("%51\r\n", small).find("more than 100 elements") != std::string::npos);
    std::string many = "*2\r\n*60\r\n";
    for (int i = 0; i < 60; ++i) many += ":1\r\n";
    many += "*60\r\n";
    CHECK(refused(many, small).find("more than 100 elements") != std::string::npos);
    // A claimed count with nothing behind it reserves nothing and just waits.
    RedisValue v;
    CHECK(fastapi::detail::parse_resp("*16000000\r\n", v).status == RespStatus::need_more);
    // A line that never ends, at the limit and beyond.
    CHECK(refused("+" + std::string(100, 'x'), small).find("longer than 64") != std::string::npos);
    CHECK(fastapi::detail::parse_resp("+" + std::string(60, 'x'), v, small).status == RespStatus::need_more);
    // Malformed framing and values.
    CHECK(!refused("+OK\rX").empty());
    CHECK(!refused("+OK\n").empty());
    CHECK(!refused(":12a\r\n").empty());
    CHECK(!refused(":\r\n").empty());
    CHECK(!refused(":9223372036854775808\r\n").empty());
    CHECK(!refused("#x\r\n").empty());
    CHECK(!refused(",1.5abc\r\n").empty());
    CHECK(!refused("(12x\r\n").empty());
    CHECK(!refused("_x\r\n").empty());
    CHECK(!refused("%-1\r\n").empty());
    CHECK(!refused("=2\r\nab\r\n").empty());
    CHECK(!refused("$3\r\nabcd\r\n").empty());
    CHECK(refused("?\r\n").find("unknown type") != std::string::npos);
    // A run of attributes costs no stack: each is dropped in a loop.
    std::string attrs;
    for (int i = 0; i < 200000; ++i) attrs += "|0\r\n";
    attrs += ":5\r\n";
    CHECK(parsed(attrs).integer == 5);
}

TEST_CASE("RESP: commands are arrays of bulk strings") {
    CHECK(fastapi::detail::make_command("SET", "k", std::string("a b")) == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\na b\r\n");
    CHECK(fastapi::detail::redis_build("INCRBY", "n", 5) == "*3\r\n$6\r\nINCRBY\r\n$1\r\nn\r\n$1\r\n5\r\n");
    std::vector<std::string> keys{std::string("a"), std::string("b")};
    CHECK(fastapi::detail::redis_build("DEL", keys) == "*3\r\n$3\r\nDEL\r\n$1\r\na\r\n$1\r\nb\r\n");
}

TEST_CASE("REDIS_URL: redis://, unix:// and what is refused") {
    auto o = fastapi::parse_redis_url("redis://localhost");
    CHECK(o.host == "localhost");
    CHECK(o.port == 6379);
    CHECK(o.db == 0);
    o = fastapi::parse_redis_url("redis://alice:p%40ss@cache.internal:6380/2");
    CHECK(o.username == "alice");
    CHECK(o.password == "p@ss");
    CHECK(o.host == "cache.internal");
    CHECK(o.port == 6380);
    CHECK(o.db == 2);
    o = fastapi::parse_redis_url("redis://:secret@10.0.0.1/5?protocol=2");
    CHECK(o.username.empty());
    CHECK(o.password == "secret");
    CHECK(o.db == 5);
    CHECK(o.protocol == 2);
    o = fastapi::parse_redis_url("redis://[::1]:7000");
    CHECK(o.host == "::1");
    CHECK(o.port == 7000);
    CHECK(o.address() == "[::1]:7000");
    o = fastapi::parse_redis_url("unix:///run/redis/redis.sock?db=3");
    CHECK(o.unix_path == "/run/redis/redis.sock");
    CHECK(o.db == 3);
    CHECK(o.address() == "unix:/run/redis/redis.sock");
    o = fastapi::parse_redis_url("unix://:pw@/tmp/r.sock");
    CHECK(o.password == "pw");
    CHECK(o.unix_path == "/tmp/r.sock");

    auto message = [](const char* url) {
        try {
            fastapi::parse_redis_url(url);
        } catch (const std::invalid_argument& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    CHECK(message("rediss://host:6380").find("TLS") != std::string::npos);
    CHECK(message("http://host").find("redis:// or unix://") != std::string::npos);
    CHECK(message("redis://host:99999").find("port") != std::string::npos);
    CHECK(message("redis://host:abc").find("port") != std::string::npos);
    CHECK(message("redis://host/x").find("database") != std::string::npos);
    CHECK(message("redis://host?protocol=4").find("protocol") != std::string::npos);
    CHECK(message("redis://host?colour=red").find("unknown option") != std::string::npos);
    CHECK(message("unix://relative.sock").find("absolute") != std::string::npos);
    // The password never appears in a message.
    CHECK(message("redis://u:hunter2@host:0").find("hunter2") == std::string::npos);
    CHECK(!message("redis://u:hunter2@host:0").empty());
}

}  // namespace redis_resp_test
