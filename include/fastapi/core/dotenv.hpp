// dotenv: .env files with python-dotenv's rules, read as ordered KEY=VALUE pairs (each with the
// line it starts on) and loaded into the process environment (fastapi::load_env_file, what
// --env-file and load_settings' env_file use). Relies on the standard library only.
//
// The rules, as python-dotenv 1.x parses:
//   KEY=VALUE            unquoted: trimmed; " #..." (whitespace then #) starts a comment
//   export KEY=VALUE     the "export " prefix is ignored (the file stays `source`-able)
//   # a comment          whole-line comments and blank lines are skipped
//   KEY='literal'        single quotes: only \\ and \' are escapes; may span lines
//   KEY="a\nb"           double quotes: \\ \' \" \a \b \f \n \r \t \v; may span lines
//   KEY=${OTHER}         ${NAME} and ${NAME:-default} expand in unquoted and double-quoted
//                        values, from the pairs above it and the environment (which wins
//                        unless override); $NAME without braces is kept as written
//   KEY                  no "=": a key without a value (listed, never set in the environment)
// One difference: python-dotenv expands ${...} inside single quotes too (its issue #422 asks
// it not to); here single quotes are literal, as in the shell and Docker Compose. And where
// python-dotenv logs "could not parse statement" and skips the line, a malformed line here is
// an error naming the file and line (every malformed line at once): a half-read .env is how
// a service starts with a wrong setting.
#pragma once
#include "config.hpp"

#include <cstdlib>      // getenv, setenv
#include <fstream>      // ifstream
#include <optional>     // optional
#include <stdexcept>    // runtime_error
#include <string>       // string
#include <string_view>  // string_view
#include <utility>      // move
#include <vector>       // vector

namespace fastapi {

// One KEY=VALUE of a .env file: value is empty (nullopt) for a bare "KEY" line.
struct EnvEntry {
    std::string key;
    std::optional<std::string> value;
    int line = 0;  // where the statement starts (1-based)
};

// A .env file that cannot be read or has malformed lines; what() names each "path:line".
struct DotenvError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

namespace detail {

// A statement before ${...} expansion.
struct RawEnvEntry {
    std::string key;
    std::optional<std::string> value;
    bool expand = false;  // single-quoted values are literal
    int line = 0;
};

#if FASTAPI_INTERNALS  // only definitions use it
class DotenvReader {
public:
    explicit DotenvReader(std::string_view text) : s_(text) {
        if (s_.substr(0, 3) == "\xEF\xBB\xBF") s_.remove_prefix(3);  // a UTF-8 byte-order mark
    }

    // Every statement; malformed ones go to errors as "line N: why" and are skipped to the end
    // of their line, as python-dotenv resumes.
    std::vector<RawEnvEntry> parse(std::vector<std::string>& errors);

private:
    std::string_view s_;
    std::size_t pos_ = 0;
    int line_ = 1;

    bool at_end() const noexcept { return pos_ >= s_.size(); }
    char peek() const noexcept { return at_end() ? '\0' : s_[pos_]; }
    static bool hspace(char c) noexcept { return c == ' ' || c == '\t' || c == '\f' || c == '\v'; }
    void skip_hspace() noexcept { while (!at_end() && hspace(s_[pos_])) ++pos_; }
    // One line end (\r\n, \n or \r), counted.
    bool newline() noexcept {
        if (at_end()) return false;
        if (s_[pos_] == '\r') { ++pos_; if (peek() == '\n') ++pos_; ++line_; return true; }
        if (s_[pos_] == '\n') { ++pos_; ++line_; return true; }
        return false;
    }
    void skip_space_and_newlines() noexcept {
        for (;;) {
            skip_hspace();
            if (!newline()) return;
        }
    }
    void advance_counting(std::size_t to) noexcept {
        while (pos_ < to) {
            if (s_[pos_] == '\n' || (s_[pos_] == '\r' && (pos_ + 1 >= s_.size() || s_[pos_ + 1] != '\n'))) ++line_;
            ++pos_;
        }
    }

    std::optional<RawEnvEntry> statement(std::string& why);

    // A quoted value from the opening quote at pos_; escapes decoded as python-dotenv does.
    bool quoted(char q, std::string& out);
};

#if FASTAPI_DEFINITIONS
FASTAPI_DECL auto DotenvReader::parse(std::vector<std::string>& errors) -> std::vector<RawEnvEntry> {
    std::vector<RawEnvEntry> out;
    for (;;) {
        skip_space_and_newlines();
        if (at_end()) break;
        int start_line = line_;
        std::size_t start_pos = pos_;
        std::string why;
        std::optional<RawEnvEntry> e = statement(why);
        if (e) {
            if (!e->key.empty()) out.push_back(std::move(*e));
            continue;
        }
        errors.push_back("line " + std::to_string(start_line) + ": " + why);
        // Resume on the line after the one the statement started on.
        pos_ = start_pos;
        line_ = start_line;
        while (!at_end() && s_[pos_] != '\n' && s_[pos_] != '\r') ++pos_;
        newline();
    }
    return out;
}

FASTAPI_DECL auto DotenvReader::statement(std::string& why) -> std::optional<RawEnvEntry> {
    RawEnvEntry e;
    e.line = line_;
    if (s_.substr(pos_, 6) == "export" && pos_ + 6 < s_.size() && hspace(s_[pos_ + 6])) {
        pos_ += 6;
        skip_hspace();
    }
    if (peek() == '#') {  // a comment line: no key
        while (!at_end() && s_[pos_] != '\n' && s_[pos_] != '\r') ++pos_;
        return e;
    }
    if (peek() == '\'') {
        std::size_t close = s_.find('\'', pos_ + 1);
        if (close == std::string_view::npos || close == pos_ + 1) { why = "a quoted key is not closed"; return std::nullopt; }
        e.key = std::string(s_.substr(pos_ + 1, close - pos_ - 1));
        advance_counting(close + 1);
    } else {
        std::size_t b = pos_;
        while (!at_end()) {
            char c = s_[pos_];
            if (c == '=' || c == '#' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') break;
            ++pos_;
        }
        if (pos_ == b) { why = "expected a variable name"; return std::nullopt; }
        e.key = std::string(s_.substr(b, pos_ - b));
    }
    skip_hspace();
    if (peek() == '=') {
        ++pos_;
        bool spaced = hspace(peek());
        skip_hspace();
        char c = peek();
        if (c == '\'' || c == '"') {
            std::string v;
            if (!quoted(c, v)) { why = std::string("a ") + (c == '"' ? "double" : "single") + "-quoted value is not closed"; return std::nullopt; }
            e.value = std::move(v);
            e.expand = c == '"';
        } else {
            std::size_t b = pos_;
            while (!at_end() && s_[pos_] != '\n' && s_[pos_] != '\r') ++pos_;
            std::string_view part = s_.substr(b, pos_ - b);
            // "KEY=  # note" is empty; "KEY=#x" is "#x"; "a #b" is "a".
            if (spaced && !part.empty() && part[0] == '#') part = {};
            for (std::size_t i = 0; i < part.size(); ++i)
                if (part[i] == '#' && i > 0 && (hspace(part[i - 1]))) { part = part.substr(0, i); break; }
            while (!part.empty() && hspace(part.back())) part.remove_suffix(1);
            e.value = std::string(part);
            e.expand = true;
            return e;
        }
    }
    // After a key or a quoted value: only a comment may follow on the line.
    skip_hspace();
    if (peek() == '#') while (!at_end() && s_[pos_] != '\n' && s_[pos_] != '\r') ++pos_;
    skip_hspace();
    if (!at_end() && s_[pos_] != '\n' && s_[pos_] != '\r') {
        why = e.value ? "unexpected text after the closing quote" : "expected '=' after the variable name";
        return std::nullopt;
    }
    return e;
}

FASTAPI_DECL auto DotenvReader::quoted(char q, std::string& out) -> bool {
    std::size_t i = pos_ + 1;
    for (;;) {
        if (i >= s_.size()) return false;
        char c = s_[i];
        if (c == q) break;
        if (c == '\\' && i + 1 < s_.size()) {
            char n = s_[i + 1];
            if (q == '\'') {
                if (n == '\\' || n == '\'') { out += n; i += 2; continue; }
            } else {
                char d = 0;
                switch (n) {
                    case '\\': d = '\\'; break; case '\'': d = '\''; break; case '"': d = '"'; break;
                    case 'a': d = '\a'; break; case 'b': d = '\b'; break; case 'f': d = '\f'; break;
                    case 'n': d = '\n'; break; case 'r': d = '\r'; break; case 't': d = '\t'; break;
                    case 'v': d = '\v'; break; default: break;
                }
                if (d) { out += d; i += 2; continue; }
            }
        }
        out += c;
        ++i;
    }
    advance_counting(i + 1);
    return true;
}
#endif
#endif  // FASTAPI_INTERNALS

// ${NAME} and ${NAME:-default} in value, looked up by lookup (nullptr: unset, then the default
// or ""). An unclosed "${" stays as written, as python-dotenv's pattern does not match it.
template <class Lookup>
std::string expand_env_refs(std::string_view value, Lookup&& lookup) {
    std::string out;
    std::size_t i = 0;
    while (i < value.size()) {
        std::size_t d = value.find("${", i);
        if (d == std::string_view::npos) break;
        std::size_t close = value.find('}', d + 2);
        if (close == std::string_view::npos) break;
        std::string_view inner = value.substr(d + 2, close - d - 2);
        std::size_t colon = inner.find(':');
        std::string_view name = inner.substr(0, colon);
        std::optional<std::string_view> fallback;
        if (colon != std::string_view::npos) {
            if (inner.substr(colon, 2) != ":-") {  // "${A:x}" is not a reference
                out.append(value.substr(i, d + 2 - i));
                i = d + 2;
                continue;
            }
            fallback = inner.substr(colon + 2);
        }
        out.append(value.substr(i, d - i));
        if (const std::string* v = lookup(name)) out += *v;
        else if (fallback) out.append(*fallback);
        i = close + 1;
    }
    out.append(value.substr(i));
    return out;
}

// The statements of text with ${...} expanded: with override, the file's earlier pairs win
// over the environment; otherwise the environment wins (python-dotenv's resolve_variables).
FASTAPI_DECL std::vector<EnvEntry> resolve_env_entries(std::vector<RawEnvEntry> raw, bool override);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::vector<EnvEntry> resolve_env_entries(std::vector<RawEnvEntry> raw, bool override) {
    std::vector<EnvEntry> out;
    out.reserve(raw.size());
    std::string env_value;
    for (RawEnvEntry& r : raw) {
        EnvEntry e{std::move(r.key), std::move(r.value), r.line};
        if (e.value && r.expand && e.value->find("${") != std::string::npos) {
            auto lookup = [&](std::string_view name) -> const std::string* {
                auto from_file = [&]() -> const std::string* {
                    // The latest earlier pair of that name; a bare KEY counts as "".
                    static const std::string empty;
                    for (auto it = out.rbegin(); it != out.rend(); ++it)
                        if (it->key == name) return it->value ? &*it->value : &empty;
                    return nullptr;
                };
                auto from_env = [&]() -> const std::string* {
                    std::string n(name);
                    if (const char* v = std::getenv(n.c_str())) { env_value = v; return &env_value; }
                    return nullptr;
                };
                if (override) { if (auto f = from_file()) return f; return from_env(); }
                if (auto v = from_env()) return v;
                return from_file();
            };
            e.value = expand_env_refs(*e.value, lookup);
        }
        out.push_back(std::move(e));
    }
    return out;
}
#endif

FASTAPI_DECL std::string read_env_file_text(const std::string& path);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string read_env_file_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw DotenvError(path + ": cannot read the file");
    std::string text;
    char buf[8192];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) {
        text.append(buf, static_cast<std::size_t>(in.gcount()));
        if (text.size() > FASTAPI_MAX_ENV_FILE_BYTES)
            throw DotenvError(path + ": larger than " + std::to_string(FASTAPI_MAX_ENV_FILE_BYTES) + " bytes (FASTAPI_MAX_ENV_FILE_BYTES)");
    }
    if (in.bad()) throw DotenvError(path + ": cannot read the file");
    return text;
}
#endif

FASTAPI_DECL std::vector<EnvEntry> parse_env_checked(std::string_view text, std::string_view source, bool override);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::vector<EnvEntry> parse_env_checked(std::string_view text, std::string_view source, bool override) {
    std::vector<std::string> errors;
    if (text.find('\0') != std::string_view::npos) throw DotenvError(std::string(source) + ": contains a NUL byte (not a text file)");
    std::vector<RawEnvEntry> raw = DotenvReader(text).parse(errors);
    if (!errors.empty()) {
        std::string msg = std::string(source) + ": " + std::to_string(errors.size()) + " malformed line" + (errors.size() > 1 ? "s" : "");
        std::size_t shown = 0;
        for (const std::string& e : errors) {
            if (++shown > 20) { msg += "\n  ... and " + std::to_string(errors.size() - 20) + " more"; break; }
            msg += "\n  " + std::string(source) + ":" + e.substr(5);  // "line N: why" -> "path:N: why"
        }
        throw DotenvError(msg);
    }
    return resolve_env_entries(std::move(raw), override);
}
#endif

}  // namespace detail

// The pairs of a .env text in file order, ${...} expanded with the file's own pairs first and
// then the environment (python-dotenv's dotenv_values). Throws DotenvError for malformed lines,
// naming source:line for each.
FASTAPI_DECL std::vector<EnvEntry> parse_env(std::string_view text, std::string_view source = ".env");
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::vector<EnvEntry> parse_env(std::string_view text, std::string_view source) {
    return detail::parse_env_checked(text, source, true);
}
#endif

// The same for a file; a file that cannot be read is a DotenvError as well.
FASTAPI_DECL std::vector<EnvEntry> read_env_file(const std::string& path);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::vector<EnvEntry> read_env_file(const std::string& path) {
    return detail::parse_env_checked(detail::read_env_file_text(path), path, true);
}
#endif

// Sets the process environment from a .env file (python-dotenv's load_dotenv): variables
// already set keep their values unless override. Returns how many variables it set. Call it
// at startup, before threads start (setenv is not thread-safe).
FASTAPI_DECL std::size_t load_env_file(const std::string& path, bool override = false);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::size_t load_env_file(const std::string& path, bool override) {
    std::vector<EnvEntry> entries = detail::parse_env_checked(detail::read_env_file_text(path), path, override);
    std::vector<std::string> errors;
    std::size_t set = 0;
    for (const EnvEntry& e : entries) {
        if (!e.value) continue;  // a bare KEY: python-dotenv does not set it either
        if (e.key.find('=') != std::string::npos) {
            errors.push_back(path + ":" + std::to_string(e.line) + ": '" + e.key + "' cannot be an environment variable name");
            continue;
        }
        if (!override && std::getenv(e.key.c_str())) continue;
        if (::setenv(e.key.c_str(), e.value->c_str(), 1) != 0) {
            errors.push_back(path + ":" + std::to_string(e.line) + ": cannot set '" + e.key + "'");
            continue;
        }
        ++set;
    }
    if (!errors.empty()) {
        std::string msg;
        for (const std::string& e : errors) msg += (msg.empty() ? "" : "\n") + e;
        throw DotenvError(msg);
    }
    return set;
}
#endif

}  // namespace fastapi
