// settings: a model read from the environment, as pydantic-settings' BaseSettings reads one.
//
//   struct Db { std::string host = "localhost"; fastapi::Field<int, fastapi::Gt<0>> port{5432};
//               fastapi::Secret<std::string> password; };
//   struct Settings { Db db; bool debug = false; std::vector<std::string> allowed_hosts; };
//   auto s = fastapi::load_settings<Settings>({.env_prefix = "APP_", .env_file = ".env"});
//
// Each field comes from the variable prefix + its name (APP_DEBUG), case-insensitively unless
// case_sensitive; a nested model's fields through the delimiter (APP_DB__HOST), or the whole
// model as JSON (APP_DB='{"host": "x"}', the nested variables winning); lists as JSON or
// comma-separated ("a, b"); maps as JSON. Values go through the same reading, defaults,
// constraints and markers as a request body (from_json, pydantic's lax mode: "8000" is an
// int). Sources, first wins: the environment, then env_file (python-dotenv's rules; a missing
// file is skipped, as pydantic-settings), then secrets_dir (one file per variable, Docker's
// /run/secrets, trailing whitespace dropped). Every problem is reported at once, in one
// SettingsError naming the variable (APP_DB__PORT, not db.port) and where it came from; a
// Secret's value, and any value of a format "password" field, never appears in it. With
// forbid_unknown, a variable with the prefix that no field reads is a problem too
// (pydantic-settings ignores it; without a prefix, only the .env file's and secrets' names
// are checked, not the whole environment).
// Relies on core/dotenv and the model parts (describe, from_json). Call it at startup.
#pragma once
#include "../core/dotenv.hpp"
#include "json.hpp"
#include "model.hpp"
#include "secret.hpp"

#include <cctype>        // tolower, toupper
#include <filesystem>    // directory_iterator, exists
#include <map>           // map
#include <stdexcept>     // runtime_error
#include <string>        // string
#include <string_view>   // string_view
#include <unistd.h>      // environ
#include <vector>        // vector

namespace fastapi {

struct SettingsOptions {
    std::string env_prefix{};            // "APP_": APP_DEBUG for the field debug
    std::string env_file{};              // a .env file; empty or missing: none
    std::string secrets_dir{};           // one file per variable; empty or missing: none
    bool case_sensitive = false;         // APP_DEBUG, app_debug and App_Debug alike unless set
    bool forbid_unknown = false;         // a prefixed variable no field reads is a problem
    std::string env_nested_delimiter = "__";  // APP_DB__HOST for db.host
};

// Every problem load_settings found, one a line in what(), each also in problems.
struct SettingsError : std::runtime_error {
    std::vector<std::string> problems;
    SettingsError(const std::string& what, std::vector<std::string> list)
        : std::runtime_error(what), problems(std::move(list)) {}
};

namespace detail {

// Where one variable was found: its name as written, its value, and the source.
struct SettingValue {
    std::string name, value, origin;
    bool used = false;
};

class SettingsSources {
public:
    SettingsSources(const SettingsOptions& o, std::vector<std::string>& problems);

    std::string key(std::string_view name) const {
        std::string k(name);
        if (!o_.case_sensitive)
            for (char& c : k) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return k;
    }
    const std::string& prefix() const noexcept { return prefix_; }
    const SettingsOptions& options() const noexcept { return o_; }

    SettingValue* find(const std::string& k) {
        auto it = values_.find(k);
        if (it == values_.end()) return nullptr;
        it->second.used = true;
        return &it->second;
    }
    // Anything under the key followed by the delimiter (APP_DB__...)?
    bool has_below(const std::string& k) const {
        std::string p = k + key(o_.env_nested_delimiter);
        auto it = values_.lower_bound(p);
        return it != values_.end() && it->first.compare(0, p.size(), p) == 0;
    }

    void unknown(std::vector<std::string>& problems) const;

private:
    struct Stored : SettingValue {
        bool from_file = false;
    };

    void put(std::string name, std::string value, std::string origin, bool from_file);

    void read_env_file(std::vector<std::string>& problems);

    void read_secrets(std::vector<std::string>& problems);

    const SettingsOptions& o_;
    std::string prefix_;
    std::map<std::string, Stored> values_;
};

#if FASTAPI_DEFINITIONS
FASTAPI_DECL SettingsSources::SettingsSources(const SettingsOptions& o, std::vector<std::string>& problems) : o_(o)  {
    prefix_ = key(o.env_prefix);
    // Lowest priority first; a later source replaces an earlier one's value.
    if (!o.secrets_dir.empty()) read_secrets(problems);
    if (!o.env_file.empty()) read_env_file(problems);
    for (char** e = ::environ; e && *e; ++e) {
        std::string_view kv = *e;
        std::size_t eq = kv.find('=');
        if (eq == std::string_view::npos || eq == 0) continue;
        put(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)), "environment", false);
    }
}

FASTAPI_DECL auto SettingsSources::unknown(std::vector<std::string>& problems) const -> void {
    if (!o_.forbid_unknown) return;
    for (const auto& [k, v] : values_) {
        if (v.used || k.compare(0, prefix_.size(), prefix_) != 0) continue;
        if (prefix_.empty() && !v.from_file) continue;  // not the whole environment
        problems.push_back(v.name + " (" + v.origin + "): no setting has this name");
    }
}

FASTAPI_DECL auto SettingsSources::put(std::string name, std::string value, std::string origin, bool from_file) -> void {
    std::string k = key(name);
    Stored s;
    s.name = std::move(name);
    s.value = std::move(value);
    s.origin = std::move(origin);
    s.from_file = from_file;
    values_[k] = std::move(s);
}

FASTAPI_DECL auto SettingsSources::read_env_file(std::vector<std::string>& problems) -> void {
    std::error_code ec;
    if (!std::filesystem::exists(o_.env_file, ec)) return;
    try {
        // ${VAR} sees the environment first, as load_env_file without override.
        auto entries = detail::parse_env_checked(detail::read_env_file_text(o_.env_file), o_.env_file, false);
        for (EnvEntry& e : entries)
            if (e.value) put(e.key, std::move(*e.value), o_.env_file + ":" + std::to_string(e.line), true);
    } catch (const DotenvError& e) {
        problems.push_back(e.what());
    }
}

FASTAPI_DECL auto SettingsSources::read_secrets(std::vector<std::string>& problems) -> void {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::is_directory(o_.secrets_dir, ec)) return;  // pydantic-settings warns and goes on
    std::size_t count = 0;
    for (fs::directory_iterator it(o_.secrets_dir, ec), end; !ec && it != end; it.increment(ec)) {
        if (++count > 4096) {
            problems.push_back(o_.secrets_dir + ": more than 4096 entries");
            return;
        }
        const fs::path& p = it->path();
        if (!it->is_regular_file(ec)) continue;
        const std::string origin = "secrets file " + p.string();
        auto size = fs::file_size(p, ec);
        if (ec || size > FASTAPI_MAX_SECRET_FILE_BYTES) {
            problems.push_back(p.filename().string() + " (" + origin + "): larger than " +
                               std::to_string(FASTAPI_MAX_SECRET_FILE_BYTES) + " bytes");
            continue;
        }
        std::string text;
        try {
            text = detail::read_env_file_text(p.string());
        } catch (const DotenvError&) {
            problems.push_back(p.filename().string() + " (" + origin + "): cannot be read");
            continue;
        }
        while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
        std::size_t lead = 0;
        while (lead < text.size() && std::isspace(static_cast<unsigned char>(text[lead]))) ++lead;
        put(p.filename().string(), text.substr(lead), origin, true);
    }
}
#endif

// Which variable a value at a path came from, for errors.
struct SettingOrigin {
    Loc loc;
    std::string name, origin;
    bool secret = false;
};

FASTAPI_DECL bool is_secret_field(const FieldInfo& f, const TypeInfo& t);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool is_secret_field(const FieldInfo& f, const TypeInfo& t) { return f.format == "password" || t.format == "password"; }
#endif

inline const TypeInfo& without_optional(const TypeInfo& t) {
    return t.kind == TypeKind::optional && t.item ? without_optional(t.item()) : t;
}

// The value of one variable as the field's type reads it: text for scalars; JSON for models,
// maps and any; JSON or comma-separated text for lists. False (with a problem) when it is not.
FASTAPI_DECL bool setting_value(const TypeInfo& type, const SettingValue& v, picojson::value& out, std::string& why);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool setting_value(const TypeInfo& type, const SettingValue& v, picojson::value& out, std::string& why) {
    const TypeInfo& t = without_optional(type);
    std::string_view text = v.value;
    auto json = [&](bool required) {
        if (json_nests_too_deep(text)) {
            why = "is nested too deeply to read";
            return false;
        }
        picojson::value parsed;
        std::string e = picojson::parse(parsed, std::string(text));
        if (!e.empty()) {
            if (!required) return false;
            why = "is not valid JSON";  // not picojson's message: it quotes the text
            return false;
        }
        out = std::move(parsed);
        return true;
    };
    switch (t.kind) {
        case TypeKind::model:
        case TypeKind::map:
            return json(true);
        case TypeKind::any:
            if (!json(false)) out = picojson::value(v.value);
            return true;
        case TypeKind::array: {
            std::string_view trimmed = trim_ascii(text);
            if (!trimmed.empty() && trimmed.front() == '[') return json(true);
            picojson::array items;
            while (!trimmed.empty()) {
                std::size_t comma = trimmed.find(',');
                items.emplace_back(std::string(trim_ascii(trimmed.substr(0, comma))));
                if (comma == std::string_view::npos) break;
                trimmed = trimmed.substr(comma + 1);
                if (items.size() > 100000) {
                    why = "has too many items";
                    return false;
                }
            }
            out = picojson::value(std::move(items));
            return true;
        }
        default:
            out = picojson::value(v.value);
            return true;
    }
}
#endif

// The object for a model from the variables under `name` (its prefix, APP_ or APP_DB__).
FASTAPI_DECL void settings_object(const ModelInfo& model, const std::string& name, Loc& loc, SettingsSources& src,
                            picojson::object& out, std::vector<SettingOrigin>& origins, std::vector<std::string>& problems);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void settings_object(const ModelInfo& model, const std::string& name, Loc& loc, SettingsSources& src,
                            picojson::object& out, std::vector<SettingOrigin>& origins, std::vector<std::string>& problems) {
    const std::string delimiter = src.options().env_nested_delimiter;
    for (const FieldInfo& f : model.fields) {
        const std::string var = name + std::string(f.wire_name);
        const std::string k = src.key(var);
        const TypeInfo& type = f.type();
        const TypeInfo& t = without_optional(type);
        loc.emplace_back(std::string(f.wire_name));
        picojson::value value;
        bool have = false;
        if (SettingValue* v = src.find(k)) {
            std::string why;
            if (setting_value(type, *v, value, why)) {
                have = true;
                origins.push_back({loc, v->name, v->origin, is_secret_field(f, t)});
            } else {
                problems.push_back(v->name + " (" + v->origin + "): " + why);
            }
        }
        if (t.kind == TypeKind::model && t.model && !delimiter.empty() && src.has_below(k)) {
            picojson::object nested;
            if (have && value.is<picojson::object>()) nested = value.get<picojson::object>();
            settings_object(t.model(), var + delimiter, loc, src, nested, origins, problems);
            value = picojson::value(std::move(nested));
            have = true;
        }
        if (have) out[std::string(f.wire_name)] = std::move(value);
        loc.pop_back();
    }
}
#endif

FASTAPI_DECL std::string loc_suffix(const Loc& loc, std::size_t from);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string loc_suffix(const Loc& loc, std::size_t from) {
    std::string s;
    for (std::size_t i = from; i < loc.size(); ++i) {
        if (const auto* n = std::get_if<std::int64_t>(&loc[i])) s += "[" + std::to_string(*n) + "]";
        else s += "." + std::get<std::string>(loc[i]);
    }
    return s;
}
#endif

// One line per validation error, naming the variable: the one the value came from (the
// longest path it covers), else the one that would have set it (missing: APP_DB__HOST).
FASTAPI_DECL void settings_problems(const ValidationErrors& errors, const std::vector<SettingOrigin>& origins,
                              const SettingsOptions& o, std::vector<std::string>& problems);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void settings_problems(const ValidationErrors& errors, const std::vector<SettingOrigin>& origins,
                              const SettingsOptions& o, std::vector<std::string>& problems) {
    for (const ValidationError& e : errors) {
        const SettingOrigin* best = nullptr;
        for (const SettingOrigin& s : origins)
            if (s.loc.size() <= e.loc.size() && std::equal(s.loc.begin(), s.loc.end(), e.loc.begin()) &&
                (!best || s.loc.size() > best->loc.size()))
                best = &s;
        std::string line;
        bool secret = best && best->secret;
        if (best) {
            line = best->name + loc_suffix(e.loc, best->loc.size()) + " (" + best->origin + "): ";
        } else {
            std::string name = o.env_prefix;
            for (std::size_t i = 0; i < e.loc.size(); ++i) {
                if (const auto* n = std::get_if<std::int64_t>(&e.loc[i])) { name += "[" + std::to_string(*n) + "]"; continue; }
                if (i > 0) name += o.env_nested_delimiter;
                name += std::get<std::string>(e.loc[i]);
            }
            if (!o.case_sensitive)
                for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
            line = name + ": ";
        }
        line += e.msg;
        // The refused value when it is a plain one and not a secret's (masked ones say so).
        if (e.type != "missing" && !secret && !e.input.is<picojson::object>() && !e.input.is<picojson::array>() &&
            !e.input.is<picojson::null>()) {
            std::string shown = e.input.is<std::string>() ? e.input.get<std::string>() : e.input.serialize();
            if (shown.size() > 80) shown = shown.substr(0, 77) + "...";
            line += " (got '" + shown + "')";
        }
        problems.push_back(std::move(line));
    }
    if (errors.dropped() != 0) problems.push_back("... and " + std::to_string(errors.dropped()) + " more");
}
#endif

[[noreturn]] inline void throw_settings_error(std::vector<std::string> problems) {
    std::string what = "fastapi: " + std::to_string(problems.size()) + " problem" + (problems.size() == 1 ? "" : "s") +
                       " with the settings:";
    for (const std::string& p : problems) what += "\n  " + p;
    throw SettingsError(what, std::move(problems));
}

}  // namespace detail

// The settings model T from the environment, env_file and secrets_dir (see above); throws one
// SettingsError listing every problem.
template <class T>
T load_settings(const SettingsOptions& options = {}) {
    static_assert(detail::is_model_v<T>, "fastapi: load_settings<T> reads a model: a struct of fields, as a request body");
    std::vector<std::string> problems;
    detail::SettingsSources sources(options, problems);
    picojson::object object;
    std::vector<detail::SettingOrigin> origins;
    Loc loc;
    detail::settings_object(describe<T>().model(), options.env_prefix, loc, sources, object, origins, problems);
    sources.unknown(problems);
    T out{};
    ValidationErrors errors;
    Loc root;
    from_json(picojson::value(std::move(object)), out, errors, root);
    detail::settings_problems(errors, origins, options, problems);
    if (!problems.empty()) detail::throw_settings_error(std::move(problems));
    return out;
}

}  // namespace fastapi
