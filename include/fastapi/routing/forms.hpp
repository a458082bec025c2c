// forms: HTML forms and file uploads, FastAPI's Form, File and UploadFile. A handler's
// parameters say which fields it reads; the body is application/x-www-form-urlencoded or
// multipart/form-data, and values are converted and validated like query parameters, with
// the same 422 errors (loc ["body", "name"]):
//
//   app.post("/login/", [](Form<"username", std::string> username, Form<"password", std::string> password) {...});
//   app.post("/login2/", [](FormModel<LoginData> data) {...});          // a model's fields from the form
//   app.post("/files/", [](File<"file", UploadFile> file) { return file->filename; });
//
// Multipart parts are held in memory up to FormOptions::spool_threshold and written to their
// own temporary files beyond it; a body too large for memory has already been streamed to a
// file by the server (Request::body_file), so an upload never sits whole in memory. Every
// temporary file is removed when the request is done with it. The multipart parser is strict:
// a malformed body answers 400 with {"detail": ...}, limits 400 or 413.
// Relies on handler (Binder, Exchange), params (string conversion) and model.
#pragma once
#include "handler.hpp"
#include "params.hpp"

#include <cstdint>      // uint64_t
#include <fstream>      // ifstream (spooled content)
#include <memory>       // shared_ptr
#include <optional>     // optional
#include <string>       // string
#include <string_view>  // string_view
#include <utility>      // move
#include <vector>       // vector

namespace fastapi {

// An uploaded file (FastAPI's UploadFile): its name and type as the client sent them, its
// size, the part's headers, and its content, in memory or in a temporary file that lives as
// long as some UploadFile refers to it (the request, or a background task holding a copy).
class UploadFile {
public:
    std::string filename;      // as sent: never use it as a path without checking it
    std::string content_type;  // the part's Content-Type, empty when it had none
    std::uint64_t size = 0;
    Headers headers;

    // The whole content (reads the temporary file when spooled).
    std::string read() const {
        if (!file_) return data_ ? *data_ : std::string();
        std::ifstream in(file_->path(), std::ios::binary);
        std::string out(static_cast<std::size_t>(file_->size()), '\0');
        in.read(out.data(), static_cast<std::streamsize>(out.size()));
        if (static_cast<std::size_t>(in.gcount()) != out.size())
            throw std::runtime_error("fastapi: cannot read the spooled upload " + file_->path());
        return out;
    }
    // True when the content is held in memory; otherwise path() names the temporary file.
    bool in_memory() const noexcept { return !file_; }
    std::string path() const { return file_ ? file_->path() : std::string(); }
    // Copies the content to `to` (a path of your choosing, not the client's filename).
    void save(const std::string& to) const {
        std::ofstream out(to, std::ios::binary | std::ios::trunc);
        if (file_) {
            std::ifstream in(file_->path(), std::ios::binary);
            out << in.rdbuf();
        } else if (data_) {
            out.write(data_->data(), static_cast<std::streamsize>(data_->size()));
        }
        if (!out) throw std::runtime_error("fastapi: cannot write " + to);
    }

    // For the multipart parser.
    void set_content(std::shared_ptr<const std::string> data, std::shared_ptr<const detail::TempFile> file) {
        data_ = std::move(data);
        file_ = std::move(file);
    }

private:
    std::shared_ptr<const std::string> data_;
    std::shared_ptr<const detail::TempFile> file_;
};

namespace detail {

// One field of a submitted form: a value, or (multipart with a filename) a file.
struct FormField {
    std::string name;
    std::string value;                 // a field's value (not a file)
    std::optional<UploadFile> file;    // present for a file part
};

// A parse failure: answered with `status` and {"detail": message}.
struct FormError {
    int status = 400;
    std::string message;
};

// ---- multipart/form-data (RFC 7578, RFC 2046 §5.1) ----

// The boundary parameter of a multipart/form-data Content-Type, or empty when it is not one
// or the boundary is invalid (1 to 70 characters of RFC 2046's bchars, not ending in space).
FASTAPI_DECL std::string multipart_boundary(std::string_view content_type);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string multipart_boundary(std::string_view content_type) {
    auto semi = content_type.find(';');
    if (!iequals(trim_ows(content_type.substr(0, semi)), "multipart/form-data") || semi == std::string_view::npos)
        return {};
    std::string_view rest = content_type.substr(semi + 1);
    std::string boundary;
    while (!rest.empty()) {
        rest = trim_ows(rest);
        auto eq = rest.find('=');
        if (eq == std::string_view::npos) return {};
        std::string_view key = trim_ows(rest.substr(0, eq));
        rest.remove_prefix(eq + 1);
        rest = trim_ows(rest);
        std::string value;
        if (!rest.empty() && rest.front() == '"') {
            std::size_t i = 1;
            for (; i < rest.size() && rest[i] != '"'; ++i) {
                if (rest[i] == '\\' && i + 1 < rest.size()) ++i;
                value += rest[i];
            }
            if (i >= rest.size()) return {};
            rest.remove_prefix(i + 1);
            rest = trim_ows(rest);
            if (!rest.empty() && rest.front() != ';') return {};
        } else {
            auto end = rest.find(';');
            value = std::string(trim_ows(rest.substr(0, end)));
            rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
        }
        if (!rest.empty()) rest.remove_prefix(1);  // ';'
        if (iequals(key, "boundary")) boundary = std::move(value);
    }
    if (boundary.empty() || boundary.size() > 70 || boundary.back() == ' ') return {};
    for (char c : boundary) {
        const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        std::string_view("'()+_,-./:=? ").find(c) != std::string_view::npos;
        if (!ok) return {};
    }
    return boundary;
}
#endif

// Content-Disposition: form-data; name="field"; filename="a.txt"; filename*=UTF-8''a%20b.txt
FASTAPI_DECL bool parse_content_disposition(std::string_view v, std::string& name, std::optional<std::string>& filename);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool parse_content_disposition(std::string_view v, std::string& name, std::optional<std::string>& filename) {
    auto semi = v.find(';');
    if (!iequals(trim_ows(v.substr(0, semi)), "form-data")) return false;
    std::optional<std::string> plain, extended, got_name;
    std::string_view rest = semi == std::string_view::npos ? std::string_view{} : v.substr(semi + 1);
    while (!(rest = trim_ows(rest)).empty()) {
        auto eq = rest.find('=');
        if (eq == std::string_view::npos) return false;
        std::string_view key = trim_ows(rest.substr(0, eq));
        if (!is_token(key)) return false;
        rest = trim_ows(rest.substr(eq + 1));
        std::string value;
        if (!rest.empty() && rest.front() == '"') {
            std::size_t i = 1;
            for (; i < rest.size() && rest[i] != '"'; ++i) {
                // quoted-pair only for '"' and '\': a Windows path keeps its backslashes.
                if (rest[i] == '\\' && i + 1 < rest.size() && (rest[i + 1] == '"' || rest[i + 1] == '\\')) ++i;
                value += rest[i];
            }
            if (i >= rest.size()) return false;
            rest.remove_prefix(i + 1);
        } else {
            auto end = rest.find(';');
            value = std::string(trim_ows(rest.substr(0, end)));
            if (!is_token(value)) return false;
            rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
        }
        rest = trim_ows(rest);
        if (!rest.empty()) {
            if (rest.front() != ';') return false;
            rest.remove_prefix(1);
        }
        std::optional<std::string>* slot = nullptr;
        if (iequals(key, "name")) slot = &got_name;
        else if (iequals(key, "filename")) slot = &plain;
        else if (iequals(key, "filename*")) slot = &extended;
        if (!slot) continue;
        if (*slot) return false;  // a parameter twice: ambiguous
        *slot = std::move(value);
    }
    if (!got_name) return false;
    name = std::move(*got_name);
    if (extended) {
        // RFC 8187: charset'language'percent-encoded; UTF-8 is the only charset browsers send.
        auto q1 = extended->find('\''), q2 = q1 == std::string::npos ? q1 : extended->find('\'', q1 + 1);
        std::string decoded;
        if (q2 == std::string::npos || !iequals(std::string_view(*extended).substr(0, q1), "utf-8") ||
            !percent_decode(std::string_view(*extended).substr(q2 + 1), decoded))
            return false;
        filename = std::move(decoded);
    } else {
        filename = std::move(plain);
    }
    return true;
}
#endif

// A file name the application may hold: UTF-8 with no control character (C0, DEL, C1), so no
// NUL that would cut `filename.c_str()` short (the evil.php%00.jpg trick). Still never a path.
FASTAPI_DECL bool is_acceptable_filename(std::string_view name) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool is_acceptable_filename(std::string_view name) noexcept {
    if (!is_valid_utf8(name)) return false;
    for (std::size_t i = 0; i < name.size(); ++i) {
        const auto c = static_cast<unsigned char>(name[i]);
        if (c < 0x20 || c == 0x7F) return false;
        if (c == 0xC2 && i + 1 < name.size() && static_cast<unsigned char>(name[i + 1]) < 0xA0) return false;  // U+0080-U+009F
    }
    return true;
}
#endif

#if FASTAPI_INTERNALS  // only definitions use it
// A streaming multipart/form-data parser: feed() the body in pieces of any size, then
// finish(). Files beyond the options' threshold go to temporary files as they arrive.
class MultipartParser {
public:
    MultipartParser(std::string_view boundary, const FormOptions& options)
        : options_(options), delimiter_("\r\n--" + std::string(boundary)) {}

    bool feed(std::string_view chunk);
    bool finish() {
        if (state_ == State::failed) return false;
        if (state_ != State::epilogue) return fail(400, "Missing final boundary in multipart body");
        return true;
    }
    const FormError& error() const noexcept { return error_; }
    std::vector<FormField>& fields() noexcept { return fields_; }

private:
    enum class State { preamble, after_delimiter, headers, data, epilogue, failed };

    bool fail(int status, std::string message) {
        state_ = State::failed;
        error_ = {status, std::move(message)};
        current_file_.reset();
        return false;
    }

    std::string_view rest() const noexcept { return std::string_view(buf_).substr(pos_); }

    bool run();

    // Skips preamble up to the next delimiter; false when none is here yet.
    bool preamble_search();

    bool start_part(std::string_view block);

    bool append(std::string_view bytes);

    bool end_part();

    const FormOptions& options_;
    std::string delimiter_;  // CRLF "--" boundary
    std::string buf_;
    std::size_t pos_ = 0;
    bool at_start_ = true;
    State state_ = State::preamble;
    FormError error_;
    std::vector<FormField> fields_;
    std::shared_ptr<std::string> memory_;     // the current file part, while small
    std::shared_ptr<TempFile> current_file_;  // the current file part, once spooled
};

#if FASTAPI_DEFINITIONS
FASTAPI_DECL auto MultipartParser::feed(std::string_view chunk) -> bool {
    if (state_ == State::failed) return false;
    if (state_ == State::epilogue) return true;  // after the close delimiter: ignored
    buf_.append(chunk);
    bool ok = run();
    buf_.erase(0, pos_);
    pos_ = 0;
    return ok;
}

FASTAPI_DECL auto MultipartParser::run() -> bool {
    for (;;) {
        switch (state_) {
            case State::preamble: {
                // The first delimiter may open the body without its CRLF.
                std::string_view dash = std::string_view(delimiter_).substr(2);
                if (at_start_) {
                    if (rest().size() < dash.size() && dash.starts_with(rest())) return true;  // need more
                    at_start_ = false;
                    if (rest().starts_with(dash)) {
                        pos_ += dash.size();
                        state_ = State::after_delimiter;
                        break;
                    }
                }
                if (!preamble_search()) return true;
                break;
            }
            case State::after_delimiter: {
                std::string_view r = rest();
                if (r.size() < 2) return true;
                if (r.starts_with("--")) {
                    pos_ = buf_.size();
                    state_ = State::epilogue;
                    return true;
                }
                std::size_t i = 0;
                while (i < r.size() && (r[i] == ' ' || r[i] == '\t')) ++i;  // transport padding
                if (i > 64) return fail(400, "Invalid multipart boundary line");
                if (r.size() - i < 2) return true;
                if (r[i] != '\r' || r[i + 1] != '\n') return fail(400, "Invalid multipart boundary line");
                pos_ += i + 2;
                state_ = State::headers;
                break;
            }
            case State::headers: {
                std::string_view r = rest();
                std::size_t end;
                if (r.starts_with("\r\n")) end = 0;
                else if ((end = r.find("\r\n\r\n")) == std::string_view::npos) {
                    if (r.size() > options_.max_part_header_bytes) return fail(400, "Multipart part headers too large");
                    return true;
                } else end += 2;
                if (end > options_.max_part_header_bytes) return fail(400, "Multipart part headers too large");
                if (!start_part(r.substr(0, end))) return false;
                pos_ += end + 2;
                state_ = State::data;
                break;
            }
            case State::data: {
                std::string_view r = rest();
                auto at = r.find(delimiter_);
                if (at == std::string_view::npos) {
                    // Keep what could be the start of a delimiter for the next piece.
                    const std::size_t keep = std::min(r.size(), delimiter_.size() - 1);
                    if (!append(r.substr(0, r.size() - keep))) return false;
                    pos_ += r.size() - keep;
                    return true;
                }
                if (!append(r.substr(0, at)) || !end_part()) return false;
                pos_ += at + delimiter_.size();
                state_ = State::after_delimiter;
                break;
            }
            case State::epilogue: pos_ = buf_.size(); return true;
            case State::failed: return false;
        }
    }
}

FASTAPI_DECL auto MultipartParser::preamble_search() -> bool {
    at_start_ = false;
    std::string_view r = rest();
    auto at = r.find(delimiter_);
    if (at == std::string_view::npos) {
        pos_ += r.size() - std::min(r.size(), delimiter_.size() - 1);
        return false;
    }
    pos_ += at + delimiter_.size();
    state_ = State::after_delimiter;
    return true;
}

FASTAPI_DECL auto MultipartParser::start_part(std::string_view block) -> bool {
    if (fields_.size() >= options_.max_parts)
        return fail(400, "Too many fields or files; the maximum is " + std::to_string(options_.max_parts));
    Headers headers;
    while (!block.empty()) {
        auto eol = block.find("\r\n");
        std::string_view line = block.substr(0, eol);
        block = eol == std::string_view::npos ? std::string_view{} : block.substr(eol + 2);
        auto colon = line.find(':');
        if (colon == std::string_view::npos || !is_token(line.substr(0, colon)))
            return fail(400, "Invalid multipart part header");
        std::string_view value = trim_ows(line.substr(colon + 1));
        for (char c : value)
            if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7F)
                return fail(400, "Invalid character in multipart part header");
        if (headers.size() >= 32) return fail(400, "Too many multipart part headers");
        detail::append_header(headers, line.substr(0, colon), value);
    }
    auto disposition = headers.get_all("content-disposition");
    FormField field;
    std::optional<std::string> filename;
    if (disposition.size() != 1 || !parse_content_disposition(disposition[0], field.name, filename))
        return fail(400, "Multipart part without a valid Content-Disposition: form-data; name=...");
    if (filename) {
        if (!is_acceptable_filename(*filename))
            return fail(400, "Invalid file name in multipart part: it must be UTF-8 without control characters");
        UploadFile f;
        f.filename = std::move(*filename);
        f.content_type = headers.get_or("content-type", "");
        f.headers = std::move(headers);
        field.file = std::move(f);
        memory_ = std::make_shared<std::string>();
    }
    fields_.push_back(std::move(field));
    return true;
}

FASTAPI_DECL auto MultipartParser::append(std::string_view bytes) -> bool {
    if (bytes.empty()) return true;
    FormField& f = fields_.back();
    if (!f.file) {
        if (f.value.size() + bytes.size() > options_.max_field_bytes)
            return fail(400, "Field '" + f.name + "' is larger than " + std::to_string(options_.max_field_bytes) + " bytes");
        f.value.append(bytes);
        return true;
    }
    f.file->size += bytes.size();
    if (!current_file_ && memory_->size() + bytes.size() > options_.spool_threshold) {
        try {
            current_file_ = TempFile::create(options_.temp_dir);
        } catch (const std::exception&) {
            return fail(500, "Could not store the upload");
        }
        if (!current_file_->write(*memory_)) return fail(500, "Could not store the upload");
        memory_->clear();
    }
    if (current_file_) {
        if (!current_file_->write(bytes)) return fail(500, "Could not store the upload");
    } else {
        memory_->append(bytes);
    }
    return true;
}

FASTAPI_DECL auto MultipartParser::end_part() -> bool {
    FormField& f = fields_.back();
    if (f.file) {
        if (current_file_) f.file->set_content(nullptr, std::move(current_file_));
        else f.file->set_content(std::move(memory_), nullptr);
        current_file_.reset();
        memory_.reset();
    }
    return true;
}
#endif
#endif  // FASTAPI_INTERNALS

// ---- the request's form, parsed once ----

struct FormData {
    std::vector<FormField> fields;
    std::optional<FormError> error;
    bool multipart = false;
};

// Parses the request body as a form: urlencoded, multipart (from memory or the spooled
// file), or, for any other media type, an empty form (as Starlette: the fields are missing).
FASTAPI_DECL void parse_form(const Request& req, const FormOptions& options, FormData& out);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void parse_form(const Request& req, const FormOptions& options, FormData& out) {
    std::string_view ct = req.headers.get("content-type").value_or("");
    std::string_view media = trim_ows(ct.substr(0, ct.find(';')));
    if (iequals(media, "application/x-www-form-urlencoded")) {
        std::vector<std::pair<std::string, std::string>> pairs;
        parse_query(req.body, pairs);
        if (pairs.size() > options.max_parts) {
            out.error = FormError{400, "Too many fields; the maximum is " + std::to_string(options.max_parts)};
            return;
        }
        for (auto& [k, v] : pairs) out.fields.push_back({std::move(k), std::move(v), std::nullopt});
        return;
    }
    if (!iequals(media, "multipart/form-data")) return;
    out.multipart = true;
    std::string boundary = multipart_boundary(ct);
    if (boundary.empty()) {
        out.error = FormError{400, "Missing or invalid boundary in multipart/form-data Content-Type"};
        return;
    }
    MultipartParser parser(boundary, options);
    bool ok = true;
    if (req.body_file) {
        std::ifstream in(req.body_file->path(), std::ios::binary);
        std::string chunk(64 * 1024, '\0');
        while (ok && in) {
            in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
            ok = parser.feed(std::string_view(chunk.data(), static_cast<std::size_t>(in.gcount())));
        }
    } else {
        ok = parser.feed(req.body);
    }
    if (ok && parser.finish()) out.fields = std::move(parser.fields());
    else out.error = parser.error();
    // A field that is not UTF-8 is read as Latin-1, as Starlette's multipart parser does.
    for (auto& f : out.fields)
        if (!f.file && !is_utf8(f.value)) f.value = latin1_to_utf8(f.value);
}
#endif

// The request's form, parsed on first use and kept with its dependency values (so uploaded
// files live until the response is sent, or as long as a copy of an UploadFile does).
inline constexpr char form_key = 0;

// Parses the request's form into its dependency values, errors kept for request_form. The
// server calls it on the blocking pool for a body spooled to disk, before dispatch.
FASTAPI_DECL FormData& preload_form(Exchange& ex);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL FormData& preload_form(Exchange& ex) {
    if (auto* e = ex.deps.find(&form_key)) return *static_cast<FormData*>(e->where);
    auto p = std::make_shared<FormData>();
    parse_form(ex.request, form_options(ex), *p);
    DependencyScope::Entry e;
    e.key = &form_key;
    e.where = p.get();
    e.value = std::move(p);
    ex.deps.entries.push_back(std::move(e));
    return *static_cast<FormData*>(ex.deps.entries.back().where);
}
#endif

FASTAPI_DECL FormData& request_form(Exchange& ex);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL FormData& request_form(Exchange& ex) {
    FormData& form = preload_form(ex);
    if (form.error) throw HTTPException(form.error->status, form.error->message);
    return form;
}
#endif

FASTAPI_DECL Loc body_loc(std::string_view name);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL Loc body_loc(std::string_view name) {
    Loc loc;
    loc.reserve(2);
    loc.emplace_back(std::in_place_index<0>, "body");
    loc.emplace_back(std::in_place_index<0>, std::string(name));
    return loc;
}
#endif

// The non-file values of a field; FastAPI counts an empty value as absent.
FASTAPI_DECL std::vector<std::string_view> form_values(const FormData& form, std::string_view name);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::vector<std::string_view> form_values(const FormData& form, std::string_view name) {
    std::vector<std::string_view> values;
    for (auto& f : form.fields)
        if (f.name == name && !f.file && !f.value.empty()) values.emplace_back(f.value);
    return values;
}
#endif

// A model from the form: each field's values (all of them for a list field), then read as
// if the form were a JSON object of strings, with pydantic's lax conversions.
FASTAPI_DECL picojson::value form_as_object(const FormData& form, const ModelInfo& model);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL picojson::value form_as_object(const FormData& form, const ModelInfo& model) {
    picojson::object obj;
    for (auto& f : form.fields) {
        if (f.file || f.value.empty()) continue;
        bool list = false;
        for (auto& mf : model.fields)
            if (mf.wire_name == f.name) list = mf.type().kind == TypeKind::array;
        auto [it, fresh] = obj.try_emplace(f.name);
        if (list) {
            if (fresh) it->second = picojson::value(picojson::array{});
            it->second.get<picojson::array>().emplace_back(f.value);
        } else {
            it->second = picojson::value(f.value);  // the last wins
        }
    }
    return picojson::value(std::move(obj));
}
#endif

}  // namespace detail

// A form field (FastAPI's Form()): Form<"username", std::string>, with the markers of any
// parameter (constraints, Default<...>); std::vector<T> reads repeated fields.
template <fixed_string Name, class T, class... Markers>
struct Form : detail::ParamValue<T> {
    Form() = default;  // not an aggregate: never read as a JSON model
    static constexpr std::string_view name = Name;
    using value_type = T;
    using markers = std::tuple<Markers...>;
};

// A model whose fields are form fields (FastAPI's `data: Annotated[Model, Form()]`).
template <class T>
struct FormModel : detail::ParamValue<T> {
    static_assert(detail::is_model_v<T>, "fastapi: FormModel<T> needs a model struct T");
    FormModel() = default;
    using value_type = T;
};

// An uploaded file (FastAPI's File()): File<"file", UploadFile>, std::optional<UploadFile>,
// std::vector<UploadFile> (several files under one name), or std::string for the bytes.
template <fixed_string Name, class T, class... Markers>
struct File : detail::ParamValue<T> {
    File() = default;
    static constexpr std::string_view name = Name;
    using value_type = T;
    using markers = std::tuple<Markers...>;
};

namespace detail {

template <class P> struct is_form_param : std::false_type {};
template <fixed_string N, class T, class... M> struct is_form_param<Form<N, T, M...>> : std::true_type {};
template <class P> struct is_file_param : std::false_type {};
template <fixed_string N, class T, class... M> struct is_file_param<File<N, T, M...>> : std::true_type {};

// For the document: form parameters make the body a form, files make it multipart.
FASTAPI_DECL void describe_form_body(OperationInfo& op, FieldInfo field, bool file);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void describe_form_body(OperationInfo& op, FieldInfo field, bool file) {
    op.body.push_back(std::move(field));
    op.embed_body = true;  // FastAPI always names form fields in a Body_<operationId> object
    if (file) op.body_media_type = "multipart/form-data";
    else if (op.body_media_type.empty()) op.body_media_type = "application/x-www-form-urlencoded";
}
#endif

template <class P>
struct Binder<P, std::enable_if_t<is_form_param<P>::value>> {
    static constexpr bool is_body = true;
    using holder = P;
    static holder bind(Exchange& ex, ValidationErrors& errors) {
        P p;
        Loc loc = body_loc(P::name);
        bind_from_strings<typename P::value_type, typename P::markers>(form_values(request_form(ex), P::name), p.value,
                                                                      errors, loc);
        return p;
    }
    static P get(holder& h) { return std::move(h); }
    static void describe(OperationInfo& op) {
        describe_form_body(op, describe_param<typename P::value_type, typename P::markers>(P::name), false);
    }
};

template <class T>
struct Binder<FormModel<T>> {
    static constexpr bool is_body = true;
    using holder = FormModel<T>;
    static holder bind(Exchange& ex, ValidationErrors& errors) {
        FormModel<T> m;
        Loc loc;
        loc.emplace_back(std::in_place_index<0>, "body");
        from_json(form_as_object(request_form(ex), fastapi::describe<T>().model()), m.value, errors, loc);
        return m;
    }
    static FormModel<T> get(holder& h) { return std::move(h); }
    static void describe(OperationInfo& op) {
        op.body.push_back(describe_param<T, std::tuple<>>(body_key_name<T>()));
        if (op.body_media_type.empty()) op.body_media_type = "application/x-www-form-urlencoded";
    }
};

// What a File<> parameter holds: UploadFile(s) or their bytes.
template <class T> struct file_value {
    static_assert(dependent_false<T>, "fastapi: File<\"name\", T> takes T = fastapi::UploadFile, std::optional<UploadFile>, "
                                      "std::vector<UploadFile>, or std::string (the bytes) and its optional and vector");
};
template <> struct file_value<UploadFile> {
    using item = UploadFile;
    static constexpr bool many = false, optional = false;
};
template <> struct file_value<std::string> {
    using item = std::string;
    static constexpr bool many = false, optional = false;
};
template <class T> struct file_value<std::optional<T>> : file_value<T> { static constexpr bool optional = true; };
template <class T> struct file_value<std::vector<T>> : file_value<T> { static constexpr bool many = true; };

inline const TypeInfo& describe_upload() {
    static const TypeInfo t{TypeKind::string, 0, true, nullptr, nullptr, nullptr, "binary"};
    return t;
}
inline const TypeInfo& describe_upload_list() {
    static const TypeInfo t{TypeKind::array, 0, true, &describe_upload, nullptr, nullptr, {}};
    return t;
}
inline const TypeInfo& describe_upload_optional() {
    static const TypeInfo t{TypeKind::optional, 0, true, &describe_upload, nullptr, nullptr, {}};
    return t;
}

template <class P>
struct Binder<P, std::enable_if_t<is_file_param<P>::value>> {
    using V = typename P::value_type;
    using FV = file_value<V>;
    using Item = typename FV::item;
    static constexpr bool is_body = true;
    using holder = P;
    static holder bind(Exchange& ex, ValidationErrors& errors) {
        P p;
        Loc loc = body_loc(P::name);
        std::vector<Item> items;
        for (auto& f : request_form(ex).fields) {
            if (f.name != P::name) continue;
            if constexpr (std::is_same_v<Item, std::string>) {
                items.push_back(f.file ? f.file->read() : f.value);
            } else if (f.file) {
                items.push_back(*f.file);
            } else {
                add_error(errors, loc, "value_error", "Value error, Expected UploadFile, received: <class 'str'>",
                          picojson::value(f.value));
                return p;
            }
        }
        if (items.empty()) {
            if constexpr (!FV::optional && !FV::many) errors.push_back(missing_error(loc));
            else if constexpr (FV::many && !FV::optional) errors.push_back(missing_error(loc));
            return p;
        }
        if constexpr (FV::many) p.value = std::move(items);
        else p.value = std::move(items.back());
        return p;
    }
    static P get(holder& h) { return std::move(h); }
    static void describe(OperationInfo& op) {
        FieldInfo f;
        f.name = f.wire_name = P::name;
        f.required = !FV::optional;
        if constexpr (std::is_same_v<Item, std::string> || std::is_same_v<Item, UploadFile>) {
            if constexpr (FV::many) f.type = &describe_upload_list;
            else if constexpr (FV::optional) f.type = &describe_upload_optional;
            else f.type = &describe_upload;
        }
        describe_form_body(op, std::move(f), true);
    }
};

}  // namespace detail
}  // namespace fastapi
