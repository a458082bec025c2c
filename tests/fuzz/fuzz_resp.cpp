// libFuzzer target for the Redis reply parser (redis/resp.hpp). Each input is read the way the
// connection reads a stream of replies (parse, drop `consumed`, parse again), with small limits
// taken from the first byte so they are reached; the same stream is then fed in two pieces
// split at a point chosen from the input. Besides crashes and sanitizer reports, it stops on a
// broken invariant: `consumed` zero or beyond the data, an error without a reason, a value
// beyond the limits (nesting, elements, bulk bytes), or a split that changes the replies.
// Built and run by tests/checks/fuzz.sh.
#include "fastapi.hpp"

#include <cstdint>  // uint8_t
#include <cstdio>   // fprintf
#include <cstdlib>  // abort
#include <string>
#include <vector>

namespace {

using fastapi::RedisValue;
using fastapi::detail::RespStatus;

[[noreturn]] void broken(const char* what) {
    std::fprintf(stderr, "fuzz_resp: invariant broken: %s\n", what);
    std::abort();
}

void check_value(const RedisValue& v, const fastapi::RespLimits& lim, std::size_t depth, std::size_t& elements) {
    if (v.is_aggregate() && depth > lim.max_depth) broken("nesting beyond max_depth");
    if ((v.type == RedisValue::Type::bulk || v.type == RedisValue::Type::verbatim) && v.str.size() > lim.max_bulk_bytes)
        broken("a bulk string beyond max_bulk_bytes");
    if (v.type == RedisValue::Type::map && v.elements.size() % 2) broken("a map with an odd number of elements");
    if (!v.is_aggregate() && !v.elements.empty()) broken("elements in a scalar");
    elements += v.elements.size();
    if (elements > lim.max_elements) broken("more elements than max_elements");
    for (const auto& e : v.elements) check_value(e, lim, depth + 1, elements);
}

// Every reply of the stream, then "!" and the error if it ends in one, or "?" if incomplete.
std::vector<std::string> read_all(std::string_view data, const fastapi::RespLimits& lim, std::vector<RedisValue>& out) {
    std::vector<std::string> trace;
    while (!data.empty()) {
        RedisValue v;
        auto r = fastapi::detail::parse_resp(data, v, lim);
        if (r.status == RespStatus::error) {
            if (r.error.empty()) broken("an error without a reason");
            trace.push_back("!" + r.error);
            return trace;
        }
        if (r.status == RespStatus::need_more) {
            trace.push_back("?");
            return trace;
        }
        if (r.consumed == 0 || r.consumed > data.size()) broken("consumed zero or beyond the data");
        std::size_t elements = 0;
        check_value(v, lim, v.is_aggregate() ? 1 : 0, elements);
        trace.push_back(std::to_string(static_cast<int>(v.type)) + ":" + v.str + ":" + std::to_string(v.elements.size()));
        out.push_back(std::move(v));
        data.remove_prefix(r.consumed);
    }
    return trace;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
    if (size < 2) return 0;
    fastapi::RespLimits lim;
    lim.max_depth = 1 + bytes[0] % 8;
    lim.max_elements = 1 + bytes[0] % 64;
    lim.max_bulk_bytes = 16 + bytes[1] % 512;
    lim.max_line_bytes = 8 + bytes[1] % 128;
    std::string_view data(reinterpret_cast<const char*>(bytes) + 2, size - 2);
    std::vector<RedisValue> whole;
    auto trace = read_all(data, lim, whole);
    // Fed in two pieces: the replies complete in the first piece are the same.
    std::size_t cut = data.empty() ? 0 : bytes[1] % (data.size() + 1);
    std::vector<RedisValue> first;
    auto part = read_all(data.substr(0, cut), lim, first);
    for (std::size_t i = 0; i < part.size(); ++i) {
        if (part[i] == "?" || part[i][0] == '!') break;  // cut inside a reply, or an error early (a line cut short)
        if (i >= trace.size() || part[i] != trace[i]) broken("a split changed a reply");
    }
    return 0;
}
