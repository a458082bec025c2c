// libFuzzer target for the HTTP/1.1 request parser. Each input is fed the way a connection
// feeds it (parse, drop `consumed`, reset, parse again for pipelined requests): whole, one byte
// at a time (small inputs), and split at two or three points chosen from the input. Besides
// crashes, leaks and sanitizer reports, it stops on a broken invariant: `consumed` beyond the
// data, an empty complete request, a request that breaks the rules the parser enforces, or
// splits that change the requests parsed or whether the input is refused.
// Built and run by tests/checks/fuzz.sh.
#include "fastapi.hpp"

#include <algorithm>  // min, max
#include <cstdint>    // uint8_t
#include <cstdio>     // fprintf
#include <cstdlib>    // abort
#include <string>
#include <vector>

namespace {

using fastapi::Limits;
using fastapi::Request;
using fastapi::detail::ParseStatus;
using fastapi::detail::RequestParser;

[[noreturn]] void broken(const char* what) {
    std::fprintf(stderr, "fuzz_parser: invariant broken: %s\n", what);
    std::abort();
}

struct Parsed {
    std::string method, target, path, raw_path, query, body;
    int version;
    bool keep_alive;
    std::size_t consumed;
    std::vector<std::pair<std::string, std::string>> headers, trailers;
    bool operator==(const Parsed&) const = default;
};

struct Run {
    std::vector<Parsed> requests;
    bool refused = false;
};

void check_request(const Request& r, const Limits& limits) {
    if (r.version != 10 && r.version != 11) broken("version");
    if (r.path.empty() || (r.path[0] != '/' && r.path != "*")) broken("path");
    if (r.path.find('\0') != std::string::npos) broken("NUL in path");
    for (char c : r.target)
        if (c <= 0x20 || c >= 0x7F || c == '#') broken("forbidden byte in the target");
    if (r.raw_path.empty() || r.method.empty() || r.target.size() > limits.max_target_bytes) broken("request line");
    if (r.body.size() > limits.max_body_bytes) broken("body over the limit");
    if (r.headers.size() > limits.max_header_count || r.trailers.size() > limits.max_header_count)
        broken("too many fields");
    if (r.version == 11 && r.headers.count("host") != 1) broken("Host");
    if (r.target[0] != '/' && r.target != "*" && r.headers.count("host") != 1) broken("absolute-form without its Host");
    if (r.headers.contains("content-length") && r.headers.contains("transfer-encoding")) broken("CL with TE");
    if (r.trailers.contains("content-length") || r.trailers.contains("host")) broken("forbidden trailer");
    for (auto& [name, value] : r.headers) {
        if (!fastapi::detail::is_token(name)) broken("header name");
        for (char c : value)
            if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7F) broken("control byte in a value");
        if (!value.empty() && (value.front() == ' ' || value.back() == ' ')) broken("untrimmed value");
    }
}

// Feeds `input` in pieces ending at `cuts` (ascending), then the rest.
Run run(std::string_view input, std::vector<std::size_t> cuts, const Limits& limits) {
    RequestParser parser(limits);
    Request req;
    std::string buffer;  // a fresh allocation pattern: the parser must not keep pointers
    Run out;
    std::size_t fed = 0;
    cuts.push_back(input.size());
    for (std::size_t cut : cuts) {
        buffer.append(input.substr(fed, cut - fed));
        fed = cut;
        for (;;) {
            auto r = parser.parse(buffer, req);
            if (r.consumed > buffer.size()) broken("consumed beyond the data");
            if (r.status == ParseStatus::need_more) {
                if (r.consumed != 0) broken("consumed with need_more");
                break;
            }
            if (r.status == ParseStatus::error) {
                switch (r.error_status) {
                    case 400: case 413: case 414: case 431: case 501: case 505: break;
                    default: broken("error status");
                }
                if (r.error_reason.empty()) broken("error without a reason");
                out.refused = true;
                return out;
            }
            if (r.consumed == 0) broken("complete request of zero bytes");
            check_request(req, limits);
            Parsed p{req.method, req.target, req.path, req.raw_path, req.query_string, req.body,
                     req.version, req.keep_alive, r.consumed, {}, {}};
            for (auto& f : req.headers) p.headers.push_back(f);
            for (auto& f : req.trailers) p.trailers.push_back(f);
            out.requests.push_back(std::move(p));
            buffer.erase(0, r.consumed);
            parser.reset();
            if (buffer.empty()) break;
        }
    }
    return out;
}

void same(const Run& a, const Run& b) {
    // Limits may be noticed earlier on a prefix (414, 431), so only whether it refused must agree.
    if (a.requests != b.requests) broken("splitting the input changed the requests parsed");
    if (a.refused != b.refused) broken("splitting the input changed whether it is refused");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    Limits small;
    small.max_target_bytes = 64;
    small.max_header_bytes = 512;
    small.max_header_count = 8;
    small.max_body_bytes = 256;
    for (const Limits& limits : {Limits{}, small}) {
        Run whole = run(input, {}, limits);
        if (size < 2) continue;
        std::size_t a = (data[0] * 257u + data[size - 1]) % size;
        std::size_t b = (data[size / 2] * 131u + size) % size;
        same(whole, run(input, {a}, limits));
        same(whole, run(input, {std::min(a, b), std::max(a, b)}, limits));
        if (size <= 512) {
            std::vector<std::size_t> bytewise;
            for (std::size_t i = 1; i < size; ++i) bytewise.push_back(i);
            same(whole, run(input, bytewise, limits));
        }
    }
    return 0;
}
