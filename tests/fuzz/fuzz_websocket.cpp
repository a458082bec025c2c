// libFuzzer target for the WebSocket client frame parser (http/websocket.hpp). Each input is
// fed the way a connection feeds it (parse, drop `consumed`, parse again): whole, one byte at a
// time (small inputs), and split at two points chosen from the input, with a message limit
// taken from the first byte (so 1009 is reached). Besides crashes and sanitizer reports, it
// stops on a broken invariant: `consumed` beyond the data, need_more without consuming all,
// events after an error or a close, a text message or close reason that is not UTF-8, a
// control payload over 125 bytes, a message over the limit, an error code other than 1002,
// 1007 or 1009, a close code not allowed on the wire, or splits that change the events.
// Built and run by tests/checks/fuzz.sh.
#include "fastapi.hpp"

#include <cstdint>  // uint8_t
#include <cstdio>   // fprintf
#include <cstdlib>  // abort
#include <string>
#include <vector>

namespace {

using fastapi::detail::WsEvent;
using fastapi::detail::WsFrameParser;
using Kind = WsEvent::Kind;

[[noreturn]] void broken(const char* what) {
    std::fprintf(stderr, "fuzz_websocket: invariant broken: %s\n", what);
    std::abort();
}

struct Ev {
    Kind kind;
    unsigned code;
    std::string data;
    bool operator==(const Ev&) const = default;
};

// The events of `in` cut at the offsets in `cuts` (ascending), each piece appended to what
// the parser left unconsumed.
std::vector<Ev> run(std::string_view in, const std::vector<std::size_t>& cuts, std::size_t max) {
    WsFrameParser p(max);
    std::vector<Ev> out;
    std::string held;
    std::size_t from = 0;
    for (std::size_t k = 0; k <= cuts.size(); ++k) {
        const std::size_t to = k < cuts.size() ? cuts[k] : in.size();
        held.append(in.substr(from, to - from));
        from = to;
        for (int guard = 0; guard < 100000 && !held.empty(); ++guard) {
            const bool was_finished = p.finished();
            std::size_t used = 0;
            WsEvent e = p.parse(held.data(), held.size(), used);
            if (used > held.size()) broken("consumed beyond the data");
            if (was_finished && (used != 0 || e.kind != Kind::need_more)) broken("parsed after an error or a close");
            if (e.kind == Kind::need_more) {
                if (!was_finished && used != held.size()) broken("need_more without consuming everything");
                held.erase(0, used);
                break;
            }
            held.erase(0, used);
            switch (e.kind) {
                case Kind::text:
                    if (!fastapi::detail::is_valid_utf8_text(e.data)) broken("text message not UTF-8");
                    [[fallthrough]];
                case Kind::binary:
                    if (e.data.size() > max) broken("message over the limit");
                    break;
                case Kind::ping:
                case Kind::pong:
                    if (e.data.size() > 125) broken("control payload over 125 bytes");
                    break;
                case Kind::close:
                    if (e.code != 1005 && !fastapi::detail::is_valid_close_code(e.code)) broken("close code not allowed");
                    if (!fastapi::detail::is_valid_utf8_text(e.data) || e.data.size() > 123) broken("bad close reason");
                    if (!p.finished()) broken("not finished after a close");
                    break;
                case Kind::error:
                    if (e.code != 1002 && e.code != 1007 && e.code != 1009) broken("unexpected error code");
                    if (!p.finished()) broken("not finished after an error");
                    break;
                default: break;
            }
            out.push_back({e.kind, e.code, std::string(e.data)});
        }
        if (p.finished()) break;
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::size_t max = static_cast<std::size_t>(data[0]) * 16 + 1;  // 1 .. 4081 bytes
    const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
    const auto whole = run(in, {}, max);
    if (in.size() <= 256) {
        std::vector<std::size_t> every;
        for (std::size_t i = 1; i < in.size(); ++i) every.push_back(i);
        if (run(in, every, max) != whole) broken("byte by byte differs from whole");
    }
    if (in.size() >= 3) {
        std::size_t a = data[size - 1] % in.size(), b = data[size / 2] % in.size();
        if (a > b) std::swap(a, b);
        std::vector<std::size_t> cuts;
        if (a > 0) cuts.push_back(a);
        if (b > a) cuts.push_back(b);
        if (run(in, cuts, max) != whole) broken("split input differs from whole");
    }
    return 0;
}
