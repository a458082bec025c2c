// libFuzzer target for the multipart/form-data parser (forms.hpp). The first input line is
// the Content-Type (its boundary is parsed as the server does); the rest is the body, fed
// whole, then in pieces split at points chosen from the input, then a byte at a time (small
// inputs). Besides crashes, leaks and sanitizer reports, it stops on a broken invariant:
// splits that change the fields parsed or the verdict, a field over its limit, a file whose
// size disagrees with its content, a file name with NUL, a control character or bytes that are
// not UTF-8, too many parts, or a temporary file left behind.
// Built and run by tests/checks/fuzz.sh.
#include "fastapi.hpp"

#include <algorithm>  // sort, min, max
#include <cstdint>  // uint8_t
#include <cstdio>   // fprintf
#include <cstdlib>  // abort
#include <string>
#include <vector>

namespace {

using fastapi::FormOptions;
using fastapi::detail::MultipartParser;

[[noreturn]] void broken(const char* what) {
    std::fprintf(stderr, "fuzz_multipart: invariant broken: %s\n", what);
    std::abort();
}

struct Outcome {
    bool ok = false;
    int status = 0;
    std::vector<std::string> fields;  // name, value or "file:" filename, type, content
    bool operator==(const Outcome&) const = default;
};

const FormOptions& options() {
    static const FormOptions o = [] {
        FormOptions f;
        f.max_parts = 8;
        f.max_field_bytes = 256;
        f.max_part_header_bytes = 512;
        f.spool_threshold = 64;  // small: temporary files are exercised too
        return f;
    }();
    return o;
}

Outcome run(const std::string& boundary, std::string_view body, const std::vector<std::size_t>& cuts) {
    MultipartParser parser(boundary, options());
    bool ok = true;
    std::size_t at = 0;
    for (std::size_t cut : cuts) {
        if (!ok) break;
        cut = std::min(std::max(cut, at), body.size());
        ok = parser.feed(body.substr(at, cut - at));
        at = cut;
    }
    if (ok) ok = parser.feed(body.substr(at));
    if (ok) ok = parser.finish();
    Outcome out;
    out.ok = ok;
    out.status = ok ? 0 : parser.error().status;
    if (!ok) {
        if (out.status != 400 && out.status != 413 && out.status != 500) broken("error status");
        if (parser.error().message.empty()) broken("error without a message");
        return out;
    }
    if (parser.fields().size() > options().max_parts) broken("too many parts");
    for (auto& f : parser.fields()) {
        out.fields.push_back(f.name);
        if (f.file) {
            std::string content = f.file->read();
            if (content.size() != f.file->size) broken("file size");
            if (!fastapi::detail::is_acceptable_filename(f.file->filename)) broken("a file name with a control character or not UTF-8");
            if (f.file->in_memory() != (f.file->size <= options().spool_threshold)) broken("spooling threshold");
            out.fields.push_back("file:" + f.file->filename + "|" + f.file->content_type + "|" + content);
        } else {
            if (f.value.size() > options().max_field_bytes) broken("field over its limit");
            out.fields.push_back(f.value);
        }
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    auto nl = input.find('\n');
    if (nl == std::string_view::npos) return 0;
    std::string boundary = fastapi::detail::multipart_boundary(input.substr(0, nl));
    if (boundary.empty()) return 0;
    std::string_view body = input.substr(nl + 1);

    Outcome whole = run(boundary, body, {});
    // Two or three cuts chosen from the input itself, so the fuzzer can steer them.
    std::vector<std::size_t> cuts;
    for (std::size_t i = 0; i < 3 && i < body.size(); ++i)
        cuts.push_back(static_cast<unsigned char>(body[i]) * (body.size() + 1) / 256);
    std::sort(cuts.begin(), cuts.end());
    if (!(run(boundary, body, cuts) == whole)) broken("splitting the body changed the outcome");
    if (body.size() <= 512) {
        std::vector<std::size_t> every;
        for (std::size_t i = 1; i < body.size(); ++i) every.push_back(i);
        if (!(run(boundary, body, every) == whole)) broken("byte-at-a-time changed the outcome");
    }
    return 0;
}
