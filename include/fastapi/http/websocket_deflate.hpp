// websocket_deflate: permessage-deflate (RFC 7692), when built with zlib (FASTAPI_WITH_ZLIB):
// the negotiation of a client's offers (Sec-WebSocket-Extensions) and the per-connection
// inflater and deflater. A compressed message is inflated with the message size limit
// applied to what comes out, so a small frame cannot expand into gigabytes (no deflate bomb).
// Non-template and inline. Relies on http_types (headers), http_parser (trim_ows).
#pragma once
#include "http_parser.hpp"
#include "http_types.hpp"

#include <cstdint>      // uint8_t
#include <optional>     // optional
#include <string>       // string
#include <string_view>  // string_view

#ifdef FASTAPI_WITH_ZLIB
#include <zlib.h>  // inflate, deflate
#endif

namespace fastapi {
namespace detail {

// What was agreed: the response's parameters, and how each side compresses.
struct WsDeflateParams {
    bool server_no_context_takeover = false;
    bool client_no_context_takeover = false;
    int server_max_window_bits = 15;  // our deflater's window
    bool server_bits_sent = false;    // answered with server_max_window_bits=N
    int client_max_window_bits = 15;  // the client's (our inflater copes with any up to 15)
    // The Sec-WebSocket-Extensions value of the 101.
    std::string response() const {
        std::string r = "permessage-deflate";
        if (server_no_context_takeover) r += "; server_no_context_takeover";
        if (client_no_context_takeover) r += "; client_no_context_takeover";
        if (server_bits_sent) r += "; server_max_window_bits=" + std::to_string(server_max_window_bits);
        return r;
    }
};

// A window-bits value: 8 to 15, digits only.
FASTAPI_DECL std::optional<int> ws_window_bits(std::string_view v);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::optional<int> ws_window_bits(std::string_view v) {
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    if (v.empty() || v.size() > 2) return std::nullopt;
    int n = 0;
    for (char c : v) {
        if (c < '0' || c > '9') return std::nullopt;
        n = n * 10 + (c - '0');
    }
    if (n < 8 || n > 15) return std::nullopt;
    return n;
}
#endif

// One permessage-deflate offer ("permessage-deflate; a; b=1"): the parameters we agree to, or
// nullopt when it cannot be accepted (an unknown or repeated parameter, a bad value, or
// server_max_window_bits=8, which zlib's raw deflate cannot honour).
FASTAPI_DECL std::optional<WsDeflateParams> ws_deflate_accept_offer(std::string_view offer);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::optional<WsDeflateParams> ws_deflate_accept_offer(std::string_view offer) {
    std::size_t semi = offer.find(';');
    if (!iequals(trim_ows(offer.substr(0, semi)), "permessage-deflate")) return std::nullopt;
    WsDeflateParams p;
    bool seen[4] = {};
    while (semi != std::string_view::npos) {
        offer.remove_prefix(semi + 1);
        semi = offer.find(';');
        std::string_view param = trim_ows(offer.substr(0, semi));
        std::string_view value;
        bool has_value = false;
        if (auto eq = param.find('='); eq != std::string_view::npos) {
            value = trim_ows(param.substr(eq + 1));
            param = trim_ows(param.substr(0, eq));
            has_value = true;
        }
        int which = iequals(param, "server_no_context_takeover") ? 0
                    : iequals(param, "client_no_context_takeover") ? 1
                    : iequals(param, "server_max_window_bits") ? 2
                    : iequals(param, "client_max_window_bits") ? 3 : -1;
        if (which < 0 || seen[which]) return std::nullopt;
        seen[which] = true;
        switch (which) {
            case 0: if (has_value) return std::nullopt; p.server_no_context_takeover = true; break;
            case 1: if (has_value) return std::nullopt; p.client_no_context_takeover = true; break;
            case 2: {
                auto bits = has_value ? ws_window_bits(value) : std::nullopt;
                if (!bits || *bits < 9) return std::nullopt;
                p.server_max_window_bits = *bits;
                p.server_bits_sent = true;
                break;
            }
            case 3:
                if (has_value) {
                    auto bits = ws_window_bits(value);
                    if (!bits) return std::nullopt;
                    p.client_max_window_bits = *bits;
                }
                break;
        }
    }
    return p;
}
#endif

// The first acceptable offer among every Sec-WebSocket-Extensions field, in order.
FASTAPI_DECL std::optional<WsDeflateParams> ws_deflate_negotiate(const Headers& headers);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::optional<WsDeflateParams> ws_deflate_negotiate(const Headers& headers) {
    for (auto value : headers.get_all("sec-websocket-extensions")) {
        // Offers are separated by commas (no parameter value here holds one).
        while (!value.empty()) {
            const std::size_t comma = value.find(',');
            if (auto p = ws_deflate_accept_offer(value.substr(0, comma))) return p;
            if (comma == std::string_view::npos) break;
            value.remove_prefix(comma + 1);
        }
    }
    return std::nullopt;
}
#endif

#ifdef FASTAPI_WITH_ZLIB
// A connection's compression state: one inflater (client to server), one deflater.
class WsDeflate {
public:
    explicit WsDeflate(const WsDeflateParams& p) : params_(p) {
        if (inflateInit2(&in_, -15) != Z_OK) throw std::runtime_error("fastapi: cannot start an inflate stream");
        if (deflateInit2(&out_, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -p.server_max_window_bits, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
            inflateEnd(&in_);
            throw std::runtime_error("fastapi: cannot start a deflate stream");
        }
    }
    ~WsDeflate() {
        inflateEnd(&in_);
        deflateEnd(&out_);
    }
    WsDeflate(const WsDeflate&) = delete;
    WsDeflate& operator=(const WsDeflate&) = delete;

    // A compressed message's payload, inflated into `out`: 0 when done, 1009 when what comes
    // out passes `max` (stopped there: nothing past it is produced), 1007 for data that is not
    // a deflate stream.
    int inflate_message(std::string_view in, std::string& out, std::size_t max) {
        out.clear();
        static const unsigned char tail[4] = {0x00, 0x00, 0xff, 0xff};
        int code = feed(reinterpret_cast<const unsigned char*>(in.data()), in.size(), out, max);
        if (code == 0) code = feed(tail, 4, out, max);
        if (params_.client_no_context_takeover || code != 0) inflateReset(&in_);
        return code;
    }

    // A message's payload compressed (the trailing 00 00 ff ff removed, as RFC 7692 says).
    std::string deflate_message(std::string_view in) {
        std::string out;
        out_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
        out_.avail_in = static_cast<uInt>(in.size());
        for (int i = 0; i < 1000000; ++i) {
            const std::size_t at = out.size();
            out.resize(at + 16384);
            out_.next_out = reinterpret_cast<Bytef*>(out.data() + at);
            out_.avail_out = 16384;
            deflate(&out_, Z_SYNC_FLUSH);
            out.resize(at + 16384 - out_.avail_out);
            if (out_.avail_out != 0) break;
        }
        if (out.size() >= 4 && out.compare(out.size() - 4, 4, std::string_view("\0\0\xff\xff", 4)) == 0) out.resize(out.size() - 4);
        if (out.empty()) out.assign(1, '\0');  // an empty message still needs a block
        if (params_.server_no_context_takeover) deflateReset(&out_);
        return out;
    }

private:
    int feed(const unsigned char* data, std::size_t n, std::string& out, std::size_t max) {
        in_.next_in = const_cast<Bytef*>(data);
        in_.avail_in = static_cast<uInt>(n);
        for (int i = 0; i < 100000000; ++i) {
            unsigned char buf[16384];
            in_.next_out = buf;
            in_.avail_out = sizeof buf;
            const int rc = inflate(&in_, Z_SYNC_FLUSH);
            const std::size_t got = sizeof buf - in_.avail_out;
            if (got > max - out.size()) return 1009;
            out.append(reinterpret_cast<char*>(buf), got);
            if (rc == Z_STREAM_END) {  // a final block: the next message starts a new stream
                inflateReset(&in_);
                if (in_.avail_in == 0) return 0;
                continue;
            }
            if (rc == Z_BUF_ERROR) return 0;  // needs more input: all of it was taken
            if (rc != Z_OK) return 1007;
            if (in_.avail_in == 0 && in_.avail_out != 0) return 0;
        }
        return 1009;
    }

    WsDeflateParams params_;
    z_stream in_{};
    z_stream out_{};
};
#endif

}  // namespace detail
}  // namespace fastapi
