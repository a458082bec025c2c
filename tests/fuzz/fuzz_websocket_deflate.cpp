// libFuzzer target for permessage-deflate (http/websocket_deflate.hpp): the offer parser and
// the inflater of compressed messages. The first byte picks the message limit and the context
// takeover; the rest is split into messages at 0xFF 0xFE markers and inflated one after the
// other through one connection's state, as a client's compressed messages are. Besides
// crashes and sanitizer reports it stops on a broken invariant: an inflated message over the
// limit, a result other than 0, 1007 or 1009, a deflate then inflate round trip that changes
// the bytes, or an agreed offer whose answer is not itself an acceptable offer.
// Built with FASTAPI_WITH_ZLIB and -lz by tests/checks/fuzz.sh.
#include "fastapi.hpp"

#include <cstdint>  // uint8_t
#include <cstdio>   // fprintf
#include <cstdlib>  // abort
#include <string>

namespace {
[[noreturn]] void broken(const char* what) {
    std::fprintf(stderr, "fuzz_websocket_deflate: invariant broken: %s\n", what);
    std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace fastapi::detail;
    if (size == 0) return 0;
    const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
    // The input as an offer too.
    if (auto p = ws_deflate_accept_offer(in)) {
        if (!ws_deflate_accept_offer(p->response())) broken("an answer that is no acceptable offer");
    }
    WsDeflateParams params;
    params.client_no_context_takeover = data[0] & 1;
    params.server_no_context_takeover = data[0] & 2;
    const std::size_t max = std::size_t(1) << (4 + (data[0] >> 4));  // 16 bytes to 512 KiB
    WsDeflate z(params);
    std::string_view rest = in;
    std::string out;
    for (int i = 0; i < 64 && !rest.empty(); ++i) {
        const std::size_t cut = rest.find("\xff\xfe");
        const std::string_view message = rest.substr(0, cut);
        rest = cut == std::string_view::npos ? std::string_view{} : rest.substr(cut + 2);
        const int code = z.inflate_message(message, out, max);
        if (code != 0 && code != 1007 && code != 1009) broken("an unexpected result");
        if (out.size() > max) broken("inflated past the limit");
        if (code != 0) break;  // the connection would be closed
    }
    // What we compress, an inflater that keeps (or drops) its context as our compressor does
    // inflates back.
    WsDeflateParams ours = params, theirs = params;
    theirs.client_no_context_takeover = ours.server_no_context_takeover;
    WsDeflate a(ours), b(theirs);
    for (int i = 0; i < 2; ++i) {
        const std::string packed = a.deflate_message(in);
        std::string back;
        if (b.inflate_message(packed, back, in.size() + 1) != 0 || back != in) broken("a round trip changed the bytes");
    }
    return 0;
}
