// openapi: the OpenAPI 3.1 document FastAPI serves at /openapi.json, built from what the
// routes' types say (OperationInfo from handler.hpp, TypeInfo/ModelInfo from model.hpp) and
// AppOptions, once, on first use. The rules are FastAPI's and pydantic v2's, so a program
// written in both is described the same way. Everything here is plain inline code: the
// per-route templates only push static descriptions, the document is built at run time.
// Relies on app_core (routes, options), model and json.
#pragma once
#include "../routing/app_core.hpp"
#include "../model/json.hpp"
#include "../model/model.hpp"

#include <cstdint>      // int64_t
#include <functional>   // function
#include <map>          // map
#include <mutex>        // lock_guard
#include <set>          // set
#include <string>       // string
#include <string_view>  // string_view
#include <vector>       // vector

namespace fastapi {

namespace detail {

inline constexpr std::string_view schema_ref_prefix = "#/components/schemas/";

// Python's str.title() (ASCII), then '_' -> ' ': "item_id" -> "Item Id". Pydantic's field
// titles and FastAPI's summaries and parameter titles are made this way.
FASTAPI_DECL std::string python_title(std::string_view s);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string python_title(std::string_view s) {
    std::string out;
    bool prev_cased = false;
    for (char c : s) {
        const bool upper = c >= 'A' && c <= 'Z', lower = c >= 'a' && c <= 'z';
        if (upper || lower) {
            out += prev_cased ? static_cast<char>(upper ? c + 32 : c) : static_cast<char>(lower ? c - 32 : c);
            prev_cased = true;
        } else {
            out += c == '_' ? ' ' : c;
            prev_cased = false;
        }
    }
    return out;
}
#endif

// Python's re.sub(r"\W", "_", s) for ASCII.
FASTAPI_DECL std::string word_chars(std::string_view s);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string word_chars(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        if (!is_ident_char(c)) c = '_';
    return out;
}
#endif

// The path as FastAPI writes it in the document: {name:path} -> {name}.
FASTAPI_DECL std::string path_format(std::string_view pattern);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string path_format(std::string_view pattern) {
    std::string out;
    for (std::size_t i = 0; i < pattern.size(); ++i) {
        if (pattern.substr(i, 6) == ":path}") {
            out += '}';
            i += 5;
        } else {
            out += pattern[i];
        }
    }
    return out;
}
#endif

// A route's name when RouteOptions::name is empty (C++ handlers have no function name):
// the method and the path's words, "GET /items/{item_id}" -> "get_items_item_id", "GET /" -> "get_root".
FASTAPI_DECL std::string default_route_name(std::string_view method, std::string_view path);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string default_route_name(std::string_view method, std::string_view path) {
    std::string name;
    for (char c : method) name += ascii_lower(c);
    bool word = false;
    std::size_t start = name.size();
    for (char c : path_format(path)) {
        if (is_ident_char(c)) {
            if (!word) name += '_';
            name += c;
            word = true;
        } else {
            word = false;
        }
    }
    if (name.size() == start) name += "_root";
    return name;
}
#endif

FASTAPI_DECL picojson::value string_array(const std::vector<std::string_view>& items);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL picojson::value string_array(const std::vector<std::string_view>& items) {
    picojson::array a;
    for (auto s : items) a.emplace_back(std::string(s));
    return picojson::value(std::move(a));
}
#endif

// Models and enumerations reachable from the routes, with their component names, and the
// JSON Schema of types as pydantic v2 writes it.
class SchemaRegistry {
public:
    void collect(const TypeInfo& t);

    // One name per type: its short name, or, when two types share it, their qualified names
    // with "::" as "__" (FastAPI's module__Model for two models of the same name).
    void assign_names();

    const std::vector<const ModelInfo*>& models() const noexcept { return models_; }
    const std::string& name_of(const void* info) const { return names_.at(info); }

    static picojson::value ref(std::string_view name) {
        picojson::object o;
        o["$ref"] = picojson::value(std::string(schema_ref_prefix) + std::string(name));
        return picojson::value(std::move(o));
    }

    // The schema of a value of type t under constraints c (applied where pydantic applies
    // them: to the string, number or list itself, inside an optional's anyOf).
    picojson::value type_schema(const TypeInfo& t, const Constraints* c = nullptr) const;

    // A model field or a parameter: its type's schema with title, description, examples and
    // default. `field_rule`: pydantic's rule for model fields (no title on a model, an enum,
    // or an optional one); otherwise FastAPI's for parameters and bodies (no title on a $ref).
    picojson::value value_schema(const FieldInfo& f, bool field_rule) const;

    picojson::value model_schema(const ModelInfo& m) const;

    picojson::value enum_schema(const EnumInfo& e) const;

    void write_components(picojson::object& schemas) const {
        for (auto* m : models_) schemas[name_of(m)] = model_schema(*m);
        for (auto* e : enums_) schemas[name_of(e)] = enum_schema(*e);
    }

private:
    // pydantic writes int without a format; C++ integers narrower than int64_t say their range
    // (int32_t as format int32, the others as minimum and maximum), unless a constraint does.
    static void integer_schema(const TypeInfo& t, const Constraints* c, picojson::object& s);

    static void apply_constraints(TypeKind kind, const Constraints& c, picojson::object& s);

    std::vector<const ModelInfo*> models_;
    std::vector<const EnumInfo*> enums_;
    std::map<const ModelInfo*, std::size_t> model_index_;
    std::map<const EnumInfo*, std::size_t> enum_index_;
    std::map<const void*, std::string> names_;
};

#if FASTAPI_DEFINITIONS
FASTAPI_DECL auto SchemaRegistry::collect(const TypeInfo& t) -> void {
    switch (t.kind) {
        case TypeKind::array:
        case TypeKind::map:
        case TypeKind::optional: collect(t.item()); break;
        case TypeKind::enumeration: {
            const EnumInfo* e = &t.enumeration();
            if (enum_index_.emplace(e, enums_.size()).second) enums_.push_back(e);
            break;
        }
        case TypeKind::model: {
            const ModelInfo* m = &t.model();
            if (!model_index_.emplace(m, models_.size()).second) break;
            models_.push_back(m);
            for (auto& f : m->fields) collect(f.type());
            break;
        }
        default: break;
    }
}

FASTAPI_DECL auto SchemaRegistry::assign_names() -> void {
    std::map<std::string_view, std::set<std::string_view>> by_name;
    for (auto* m : models_) by_name[m->name].insert(m->cpp_name);
    for (auto* e : enums_) by_name[e->name].insert(e->cpp_name);
    auto pick = [&](std::string_view name, std::string_view cpp) {
        return by_name[name].size() > 1 ? word_chars(cpp) : std::string(name);
    };
    for (auto* m : models_) names_[m] = pick(m->name, m->cpp_name);
    for (auto* e : enums_) names_[e] = pick(e->name, e->cpp_name);
}

FASTAPI_DECL auto SchemaRegistry::type_schema(const TypeInfo& t,  const Constraints* c) const -> picojson::value {
    picojson::object s;
    switch (t.kind) {
        case TypeKind::boolean: s["type"] = picojson::value("boolean"); break;
        case TypeKind::integer: integer_schema(t, c, s); break;
        case TypeKind::number:
            s["type"] = picojson::value("number");
            if (t.bits == 32) s["format"] = picojson::value("float");
            break;
        case TypeKind::string:
            s["type"] = picojson::value("string");
            if (!t.format.empty()) s["format"] = picojson::value(std::string(t.format));
            break;
        case TypeKind::any: break;
        case TypeKind::array:
            s["type"] = picojson::value("array");
            s["items"] = type_schema(t.item());
            break;
        case TypeKind::map: {
            s["type"] = picojson::value("object");
            const TypeInfo& v = t.item();
            s["additionalProperties"] = v.kind == TypeKind::any ? picojson::value(true) : type_schema(v);
            break;
        }
        case TypeKind::optional: {
            picojson::array any_of{type_schema(t.item(), c), picojson::value(picojson::object{})};
            any_of[1].get<picojson::object>()["type"] = picojson::value("null");
            s["anyOf"] = picojson::value(std::move(any_of));
            return picojson::value(std::move(s));
        }
        case TypeKind::model: return ref(name_of(&t.model()));
        case TypeKind::enumeration: return ref(name_of(&t.enumeration()));
    }
    if (c) apply_constraints(t.kind, *c, s);
    return picojson::value(std::move(s));
}

FASTAPI_DECL auto SchemaRegistry::value_schema(const FieldInfo& f, bool field_rule) const -> picojson::value {
    picojson::value v = type_schema(f.type(), &f.constraints);
    auto& s = v.get<picojson::object>();
    bool titled;
    if (field_rule) {
        const TypeInfo* t = &f.type();
        if (t->kind == TypeKind::optional) t = &t->item();
        titled = t->kind != TypeKind::model && t->kind != TypeKind::enumeration;
    } else {
        titled = !s.count("$ref");
    }
    if (!f.title.empty()) s["title"] = picojson::value(std::string(f.title));
    else if (titled) s["title"] = picojson::value(python_title(f.wire_name));
    if (!f.description.empty()) s["description"] = picojson::value(std::string(f.description));
    if (!f.format.empty()) s["format"] = picojson::value(std::string(f.format));
    if (!f.examples.empty()) s["examples"] = picojson::value(picojson::array(f.examples.begin(), f.examples.end()));
    // A null default is left out, as FastAPI's documents do.
    if (!f.required && f.default_value) {
        picojson::value d = f.default_value();
        if (!d.is<picojson::null>()) s["default"] = std::move(d);
    }
    return v;
}

FASTAPI_DECL auto SchemaRegistry::model_schema(const ModelInfo& m) const -> picojson::value {
    picojson::object s, properties;
    picojson::array required;
    for (auto& f : m.fields) {
        properties[std::string(f.wire_name)] = value_schema(f, true);
        if (f.required) required.emplace_back(std::string(f.wire_name));
    }
    s["properties"] = picojson::value(std::move(properties));
    if (!required.empty()) s["required"] = picojson::value(std::move(required));
    s["title"] = picojson::value(std::string(m.title.empty() ? std::string_view(name_of(&m)) : m.title));
    s["type"] = picojson::value("object");
    if (!m.description.empty()) s["description"] = picojson::value(std::string(m.description));
    if (m.forbid_extra) s["additionalProperties"] = picojson::value(false);
    return picojson::value(std::move(s));
}

FASTAPI_DECL auto SchemaRegistry::enum_schema(const EnumInfo& e) const -> picojson::value {
    picojson::object s;
    s["enum"] = string_array(e.values);
    s["title"] = picojson::value(name_of(&e));
    s["type"] = picojson::value("string");
    return picojson::value(std::move(s));
}

FASTAPI_DECL auto SchemaRegistry::integer_schema(const TypeInfo& t, const Constraints* c, picojson::object& s) -> void {
    s["type"] = picojson::value("integer");
    if (t.bits == 32 && t.is_signed) {
        s["format"] = picojson::value("int32");
        return;
    }
    if (t.bits >= 64 && t.is_signed) return;
    const bool has_min = c && (c->gt || c->ge), has_max = c && (c->lt || c->le);
    std::int64_t lo = t.is_signed ? -(std::int64_t{1} << (t.bits - 1)) : 0;
    if (!has_min) s["minimum"] = picojson::value(lo);
    if (!has_max && t.bits < 64) {
        std::int64_t hi = t.is_signed ? (std::int64_t{1} << (t.bits - 1)) - 1 : (std::int64_t{1} << t.bits) - 1;
        s["maximum"] = picojson::value(hi);
    }
}

FASTAPI_DECL auto SchemaRegistry::apply_constraints(TypeKind kind, const Constraints& c, picojson::object& s) -> void {
    auto size = [](std::size_t n) { return picojson::value(static_cast<std::int64_t>(n)); };
    switch (kind) {
        case TypeKind::integer:
        case TypeKind::number:
            if (c.gt) s["exclusiveMinimum"] = bound_json(*c.gt);
            if (c.ge) s["minimum"] = bound_json(*c.ge);
            if (c.lt) s["exclusiveMaximum"] = bound_json(*c.lt);
            if (c.le) s["maximum"] = bound_json(*c.le);
            if (c.multiple_of) s["multipleOf"] = bound_json(*c.multiple_of);
            break;
        case TypeKind::string:
            if (c.min_length) s["minLength"] = size(*c.min_length);
            if (c.max_length) s["maxLength"] = size(*c.max_length);
            if (!c.pattern.empty()) s["pattern"] = picojson::value(std::string(c.pattern));
            break;
        case TypeKind::array:
            if (c.min_length || c.min_items) s["minItems"] = size(c.min_items ? *c.min_items : *c.min_length);
            if (c.max_length || c.max_items) s["maxItems"] = size(c.max_items ? *c.max_items : *c.max_length);
            break;
        case TypeKind::map:
            if (c.min_length || c.min_items) s["minProperties"] = size(c.min_items ? *c.min_items : *c.min_length);
            if (c.max_length || c.max_items) s["maxProperties"] = size(c.max_items ? *c.max_items : *c.max_length);
            break;
        default: break;
    }
}
#endif

// FastAPI's validation error schemas (those of FastAPI 0.12x, which describe `input` and
// `ctx` too, as fastapi.hpp's 422 bodies carry them).
FASTAPI_DECL void add_validation_error_schemas(picojson::object& schemas);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void add_validation_error_schemas(picojson::object& schemas) {
    const char* validation_error = R"({
      "title": "ValidationError", "type": "object", "required": ["loc", "msg", "type"],
      "properties": {
        "loc": {"title": "Location", "type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
        "msg": {"title": "Message", "type": "string"},
        "type": {"title": "Error Type", "type": "string"},
        "input": {"title": "Input"},
        "ctx": {"title": "Context", "type": "object"}}})";
    const char* http_validation_error = R"({
      "title": "HTTPValidationError", "type": "object",
      "properties": {"detail": {"title": "Detail", "type": "array", "items": {"$ref": "#/components/schemas/ValidationError"}}}})";
    picojson::parse(schemas["ValidationError"], validation_error);
    picojson::parse(schemas["HTTPValidationError"], http_validation_error);
}
#endif

FASTAPI_DECL bool body_allowed_for_status(int status) noexcept;
#if FASTAPI_DEFINITIONS
FASTAPI_DECL bool body_allowed_for_status(int status) noexcept {
    return !(status < 200 || status == 204 || status == 205 || status == 304);
}
#endif

// One operation of the document: a route and one of its methods.
struct OperationDoc {
    const Route* route;
    std::string method;  // upper case
    OperationInfo info;
    std::string name, operation_id;
};

FASTAPI_DECL picojson::value with_response_title(picojson::value schema, std::string_view field_name);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL picojson::value with_response_title(picojson::value schema, std::string_view field_name) {
    auto& s = schema.get<picojson::object>();
    if (!s.count("$ref")) s["title"] = picojson::value(python_title(field_name));
    return schema;
}
#endif

FASTAPI_DECL picojson::value json_content(picojson::value schema, std::string_view media_type = "application/json");
#if FASTAPI_DEFINITIONS
FASTAPI_DECL picojson::value json_content(picojson::value schema, std::string_view media_type) {
    picojson::object media, content;
    media["schema"] = std::move(schema);
    content[std::string(media_type)] = picojson::value(std::move(media));
    return picojson::value(std::move(content));
}
#endif

inline const TypeInfo* response_type(const OperationDoc& op) {
    const ResponseModel& rm = op.route->options.response_model;
    if (rm.kind == ResponseModel::Kind::none) return nullptr;
    if (rm.kind == ResponseModel::Kind::type) return &rm.type();
    return op.info.result_type ? &op.info.result_type() : nullptr;
}

// An event of a text/event-stream response, as FastAPI describes it (OpenAPI 3.2's SSE
// schema): data, event, id and retry fields, the data JSON of the item type when there is one.
FASTAPI_DECL picojson::value event_stream_item_schema(const TypeInfo* item, const SchemaRegistry& reg);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL picojson::value event_stream_item_schema(const TypeInfo* item, const SchemaRegistry& reg) {
    auto typed = [](const char* type) { return picojson::value(picojson::object{{"type", picojson::value(type)}}); };
    picojson::object data{{"type", picojson::value("string")}};
    if (item) {
        data["contentMediaType"] = picojson::value("application/json");
        data["contentSchema"] = reg.type_schema(*item);
    }
    picojson::object retry{{"type", picojson::value("integer")}, {"minimum", picojson::value(0.0)}};
    picojson::object properties{{"data", picojson::value(std::move(data))}, {"event", typed("string")},
                                {"id", typed("string")}, {"retry", picojson::value(std::move(retry))}};
    picojson::object schema{{"type", picojson::value("object")}, {"properties", picojson::value(std::move(properties))}};
    if (item) schema["required"] = picojson::value(picojson::array{picojson::value("data")});
    return picojson::value(std::move(schema));
}
#endif

FASTAPI_DECL picojson::value build_operation(const OperationDoc& op, const SchemaRegistry& reg, picojson::object& schemas);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL picojson::value build_operation(const OperationDoc& op, const SchemaRegistry& reg, picojson::object& schemas) {
    const RouteOptions& o = op.route->options;
    picojson::object out;
    if (!o.tags.empty()) {
        picojson::array tags;
        for (auto& t : o.tags) tags.emplace_back(t);
        out["tags"] = picojson::value(std::move(tags));
    }
    out["summary"] = picojson::value(o.summary.empty() ? python_title(op.name) : o.summary);
    if (!o.description.empty()) out["description"] = picojson::value(o.description);
    out["operationId"] = picojson::value(op.operation_id);
    if (o.deprecated) out["deprecated"] = picojson::value(true);

    if (!op.info.parameters.empty()) {
        // As FastAPI lists them: path, query, header, then cookie parameters, each (in, name)
        // once, a required declaration winning over an optional one wherever it came from.
        picojson::array params;
        std::map<std::pair<std::string_view, std::string>, std::size_t> seen;
        for (std::string_view location : {"path", "query", "header", "cookie"})
        for (auto& p : op.info.parameters) {
            if (p.in != location) continue;
            picojson::object param;
            std::string name(p.field.wire_name);  // a header's as converted (ConvertUnderscores)
            param["name"] = picojson::value(name);
            param["in"] = picojson::value(std::string(p.in));
            param["required"] = picojson::value(p.in == "path" || p.field.required);
            param["schema"] = reg.value_schema(p.field, false);
            if (!p.field.description.empty()) param["description"] = picojson::value(std::string(p.field.description));
            if (p.deprecated) {
                // FastAPI marks both, the schema since pydantic 2.10.
                param["deprecated"] = picojson::value(true);
                param["schema"].get<picojson::object>()["deprecated"] = picojson::value(true);
            }
            auto [it, first] = seen.try_emplace({location, name}, params.size());
            if (first)
                params.emplace_back(std::move(param));
            else if (param["required"].get<bool>() && !params[it->second].get("required").get<bool>())
                params[it->second] = picojson::value(std::move(param));
        }
        out["parameters"] = picojson::value(std::move(params));
    }

    const auto& body = op.info.body;
    if (!body.empty()) {
        picojson::object request;
        picojson::value schema;
        bool required = false;
        if (body.size() == 1 && !op.info.embed_body) {
            schema = reg.value_schema(body[0], false);
            required = body[0].required;
        } else {
            // FastAPI's Body_<operationId>: one object with a key per body parameter.
            const std::string name = "Body_" + op.operation_id;
            picojson::object s, properties;
            picojson::array req;
            for (auto& f : body) {
                properties[std::string(f.wire_name)] = reg.value_schema(f, true);
                if (f.required) req.emplace_back(std::string(f.wire_name));
            }
            s["properties"] = picojson::value(std::move(properties));
            if (!req.empty()) s["required"] = picojson::value(std::move(req));
            s["title"] = picojson::value(name);
            s["type"] = picojson::value("object");
            schemas[name] = picojson::value(std::move(s));
            schema = SchemaRegistry::ref(name);
            required = true;
        }
        if (required) request["required"] = picojson::value(true);
        std::string_view media_type = op.info.body_media_type.empty() ? "application/json" : op.info.body_media_type;
        request["content"] = json_content(std::move(schema), media_type);
        out["requestBody"] = picojson::value(std::move(request));
    }

    picojson::object responses;
    {
        picojson::object ok;
        ok["description"] = picojson::value(o.response_description);
        const auto& result = op.info.result;
        if (body_allowed_for_status(o.status_code) && result != OperationInfo::Result::unknown) {
            picojson::object media, content;
            if (result == OperationInfo::Result::json) {
                const TypeInfo* t = response_type(op);
                media["schema"] = t ? with_response_title(reg.type_schema(*t), "Response_" + op.operation_id)
                                    : picojson::value(picojson::object{});
                content["application/json"] = picojson::value(std::move(media));
            } else if (result == OperationInfo::Result::json_lines) {  // as FastAPI: each line's schema
                media["itemSchema"] = op.info.result_type ? reg.type_schema(op.info.result_type())
                                                          : picojson::value(picojson::object{});
                content["application/jsonl"] = picojson::value(std::move(media));
            } else if (result == OperationInfo::Result::event_stream) {
                media["itemSchema"] = event_stream_item_schema(op.info.result_type ? &op.info.result_type() : nullptr, reg);
                content["text/event-stream"] = picojson::value(std::move(media));
            } else {
                picojson::object str;
                str["type"] = picojson::value("string");
                media["schema"] = picojson::value(std::move(str));
                content[result == OperationInfo::Result::html ? "text/html" : "text/plain"] = picojson::value(std::move(media));
            }
            ok["content"] = picojson::value(std::move(content));
        }
        if (o.cache.enabled()) {  // a cached route (routing/cache.hpp): what its answers carry
            picojson::object headers;
            auto header = [&](const char* name, const char* description) {
                picojson::object h, schema;
                schema["type"] = picojson::value("string");
                h["description"] = picojson::value(description);
                h["schema"] = picojson::value(std::move(schema));
                headers[name] = picojson::value(std::move(h));
            };
            header("Cache-Control", "max-age: the seconds the answer stays fresh");
            header("ETag", "A strong validator of the body, for If-None-Match");
            header("X-FastAPI-Cache", "HIT or MISS");
            ok["headers"] = picojson::value(std::move(headers));
        }
        responses[std::to_string(o.status_code)] = picojson::value(std::move(ok));
    }
    for (auto& [status, doc] : o.responses) {
        picojson::object r;
        std::string_view reason = status_reason(status);
        r["description"] = picojson::value(!doc.description.empty() ? doc.description
                                           : !reason.empty()         ? std::string(reason)
                                                                     : std::string("Additional Response"));
        if (doc.model.kind == ResponseModel::Kind::type)
            r["content"] = json_content(with_response_title(reg.type_schema(doc.model.type()),
                                                            "Response_" + std::to_string(status) + "_" + op.operation_id));
        responses[std::to_string(status)] = picojson::value(std::move(r));
    }
    if (op.info.can_fail_validation() && !responses.count("422") && !responses.count("4XX") && !responses.count("default")) {
        picojson::object r;
        r["description"] = picojson::value("Validation Error");
        r["content"] = json_content(SchemaRegistry::ref("HTTPValidationError"));
        responses["422"] = picojson::value(std::move(r));
    }
    out["responses"] = picojson::value(std::move(responses));
    if (!op.info.security.empty()) {
        picojson::array security;
        for (auto& s : op.info.security) {
            picojson::array scopes;
            for (auto& scope : s.scopes) scopes.emplace_back(scope);
            security.emplace_back(picojson::object{{std::string(s.name), picojson::value(std::move(scopes))}});
        }
        out["security"] = picojson::value(std::move(security));
    }
    return picojson::value(std::move(out));
}
#endif

// The operations of the document, in route order, with their names and unique operationIds.
FASTAPI_DECL std::vector<OperationDoc> collect_operations(const AppCore& app);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::vector<OperationDoc> collect_operations(const AppCore& app) {
    std::vector<OperationDoc> ops;
    std::set<std::string> ids;
    for (auto& route : app.routes()) {
        if (!route->options.include_in_schema) continue;
        OperationInfo info;
        for (auto& d : route->options.dependencies)  // the app's, the routers' and the route's, first
            if (d.describe) d.describe(info);
        if (route->endpoint.describe) route->endpoint.describe(info);
        const std::string path = path_format(route->path.pattern());
        for (auto& method : route->methods) {
            OperationDoc op{route.get(), method, info, {}, {}};
            op.name = route->options.name.empty() ? default_route_name(method, path) : route->options.name;
            // FastAPI's generate_unique_id: f"{name}{path}" with \W -> "_", then "_{method}".
            // FastAPI would repeat an id (and warn); a number keeps it unique here.
            std::string id = word_chars(op.name + path) + "_";
            for (char c : method) id += ascii_lower(c);
            std::string unique = id;
            for (int n = 2; !ids.insert(unique).second; ++n) unique = id + "_" + std::to_string(n);
            op.operation_id = std::move(unique);
            ops.push_back(std::move(op));
        }
    }
    return ops;
}
#endif

FASTAPI_DECL SchemaRegistry collect_schemas(const std::vector<OperationDoc>& ops);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL SchemaRegistry collect_schemas(const std::vector<OperationDoc>& ops) {
    SchemaRegistry reg;
    for (auto& op : ops) {
        for (auto& p : op.info.parameters) reg.collect(p.field.type());
        for (auto& f : op.info.body) reg.collect(f.type());
        if (op.info.result == OperationInfo::Result::json)
            if (const TypeInfo* t = response_type(op)) reg.collect(*t);
        if ((op.info.result == OperationInfo::Result::event_stream || op.info.result == OperationInfo::Result::json_lines) &&
            op.info.result_type)
            reg.collect(op.info.result_type());
        for (auto& [status, doc] : op.route->options.responses)
            if (doc.model.kind == ResponseModel::Kind::type) reg.collect(doc.model.type());
    }
    reg.assign_names();
    return reg;
}
#endif

FASTAPI_DECL picojson::value build_info(const AppOptions& o);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL picojson::value build_info(const AppOptions& o) {
    picojson::object info;
    info["title"] = picojson::value(o.title);
    if (!o.summary.empty()) info["summary"] = picojson::value(o.summary);
    if (!o.description.empty()) info["description"] = picojson::value(o.description);
    info["version"] = picojson::value(o.version);
    if (!o.terms_of_service.empty()) info["termsOfService"] = picojson::value(o.terms_of_service);
    picojson::object contact;
    if (!o.contact.name.empty()) contact["name"] = picojson::value(o.contact.name);
    if (!o.contact.url.empty()) contact["url"] = picojson::value(o.contact.url);
    if (!o.contact.email.empty()) contact["email"] = picojson::value(o.contact.email);
    if (!contact.empty()) info["contact"] = picojson::value(std::move(contact));
    if (!o.license_info.name.empty()) {
        picojson::object license;
        license["name"] = picojson::value(o.license_info.name);
        if (!o.license_info.identifier.empty()) license["identifier"] = picojson::value(o.license_info.identifier);
        else if (!o.license_info.url.empty()) license["url"] = picojson::value(o.license_info.url);
        info["license"] = picojson::value(std::move(license));
    }
    return picojson::value(std::move(info));
}
#endif

// --- writing: picojson objects are sorted maps; the document is written in the order
// FastAPI gives it where a reader sees it (paths as routed, model properties as declared).

struct OpenAPIOrder {
    std::vector<std::string> paths;
    std::map<std::string, std::vector<std::string>> properties;  // component name -> keys
};

// The order, from the operations and schemas the document is built from.
FASTAPI_DECL OpenAPIOrder openapi_order(const std::vector<OperationDoc>& ops, const SchemaRegistry& reg);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL OpenAPIOrder openapi_order(const std::vector<OperationDoc>& ops, const SchemaRegistry& reg) {
    OpenAPIOrder order;
    std::set<std::string> seen;
    for (auto& op : ops) {
        std::string p = path_format(op.route->path.pattern());
        if (seen.insert(p).second) order.paths.push_back(p);
        if (op.info.body.size() > 1 || (op.info.body.size() == 1 && op.info.embed_body))
            for (auto& f : op.info.body) order.properties["Body_" + op.operation_id].emplace_back(f.wire_name);
    }
    for (auto* m : reg.models())
        for (auto& f : m->fields) order.properties[reg.name_of(m)].emplace_back(f.wire_name);
    return order;
}
#endif

// A second pass, for a document from App::set_openapi's generator (its routes' order).
FASTAPI_DECL OpenAPIOrder openapi_order(const AppCore& app);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL OpenAPIOrder openapi_order(const AppCore& app) {
    auto ops = collect_operations(app);
    return openapi_order(ops, collect_schemas(ops));
}
#endif

FASTAPI_DECL void write_object_in_order(std::string& out, const picojson::object& o, const std::vector<std::string>& first,
                                  const std::function<void(std::string&, const std::string&, const picojson::value&)>& write);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void write_object_in_order(std::string& out, const picojson::object& o, const std::vector<std::string>& first,
                                  const std::function<void(std::string&, const std::string&, const picojson::value&)>& write) {
    out += '{';
    bool any = false;
    auto one = [&](const std::string& k, const picojson::value& v) {
        if (any) out += ',';
        any = true;
        append_json_string(out, k);
        out += ':';
        write(out, k, v);
    };
    std::set<std::string_view> done;
    for (auto& k : first)
        if (auto it = o.find(k); it != o.end() && done.insert(k).second) one(k, it->second);
    for (auto& [k, v] : o)
        if (!done.count(k)) one(k, v);
    out += '}';
}
#endif

FASTAPI_DECL std::string write_openapi(const picojson::value& doc, const OpenAPIOrder& order);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL std::string write_openapi(const picojson::value& doc, const OpenAPIOrder& order) {
    std::string out;
    if (!doc.is<picojson::object>()) {
        append_json_value(out, doc);
        return out;
    }
    auto plain = [](std::string& o, const std::string&, const picojson::value& v) { append_json_value(o, v); };
    auto schema = [&](std::string& o, const std::string& name, const picojson::value& v) {
        auto it = order.properties.find(name);
        if (!v.is<picojson::object>() || it == order.properties.end()) return append_json_value(o, v);
        write_object_in_order(o, v.get<picojson::object>(), {"title", "type", "properties"},
                              [&](std::string& o2, const std::string& key, const picojson::value& v2) {
                                  if (key == "properties" && v2.is<picojson::object>())
                                      write_object_in_order(o2, v2.get<picojson::object>(), it->second, plain);
                                  else
                                      append_json_value(o2, v2);
                              });
    };
    write_object_in_order(out, doc.get<picojson::object>(), {"openapi", "info", "servers", "paths", "components"},
                          [&](std::string& o, const std::string& key, const picojson::value& v) {
                              if (key == "paths" && v.is<picojson::object>()) {
                                  write_object_in_order(o, v.get<picojson::object>(), order.paths, plain);
                              } else if (key == "components" && v.is<picojson::object>()) {
                                  write_object_in_order(o, v.get<picojson::object>(), {},
                                                        [&](std::string& o2, const std::string& k2, const picojson::value& v2) {
                                                            if (k2 == "schemas" && v2.is<picojson::object>())
                                                                write_object_in_order(o2, v2.get<picojson::object>(), {}, schema);
                                                            else
                                                                append_json_value(o2, v2);
                                                        });
                              } else {
                                  append_json_value(o, v);
                              }
                          });
    return out;
}
#endif

// The document and, when order is given, the order it is written in: one pass over the
// routes and their schemas for both.
FASTAPI_DECL picojson::value build_openapi(const AppCore& app, OpenAPIOrder* order);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL picojson::value build_openapi(const AppCore& app, OpenAPIOrder* order) {
    const AppOptions& o = app.settings();
    auto ops = detail::collect_operations(app);
    detail::SchemaRegistry reg = detail::collect_schemas(ops);
    if (order) *order = openapi_order(ops, reg);

    picojson::object doc, paths, schemas;
    doc["openapi"] = picojson::value("3.1.0");
    doc["info"] = detail::build_info(o);
    if (!o.servers.empty()) {
        picojson::array servers;
        for (auto& s : o.servers) {
            picojson::object server;
            server["url"] = picojson::value(s.url);
            if (!s.description.empty()) server["description"] = picojson::value(s.description);
            servers.emplace_back(std::move(server));
        }
        doc["servers"] = picojson::value(std::move(servers));
    }
    bool validation = false;
    for (auto& op : ops) {
        std::string method;
        for (char c : op.method) method += detail::ascii_lower(c);
        auto& item = paths[detail::path_format(op.route->path.pattern())];
        if (!item.is<picojson::object>()) item = picojson::value(picojson::object{});
        item.get<picojson::object>()[method] = detail::build_operation(op, reg, schemas);
        validation = validation || op.info.can_fail_validation();
    }
    doc["paths"] = picojson::value(std::move(paths));
    reg.write_components(schemas);
    if (validation) detail::add_validation_error_schemas(schemas);
    picojson::object security_schemes;
    for (auto& op : ops)
        for (auto& s : op.info.security)
            if (s.scheme) security_schemes.emplace(std::string(s.name), s.scheme());
    if (!schemas.empty() || !security_schemes.empty()) {
        picojson::object components;
        if (!schemas.empty()) components["schemas"] = picojson::value(std::move(schemas));
        if (!security_schemes.empty()) components["securitySchemes"] = picojson::value(std::move(security_schemes));
        doc["components"] = picojson::value(std::move(components));
    }
    return picojson::value(std::move(doc));
}
#endif

}  // namespace detail

// The OpenAPI document of the app as fastapi.hpp generates it (FastAPI's get_openapi): for
// App::set_openapi generators that start from it and change it.
FASTAPI_DECL picojson::value get_openapi(const detail::AppCore& app);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL picojson::value get_openapi(const detail::AppCore& app) { return detail::build_openapi(app, nullptr); }
#endif

namespace detail {

// The app's document: built once, on first use (by the generator App::set_openapi gave, else
// from the routes, with the order it is written in found in the same pass), then kept; and
// the bytes served, written once.
class OpenAPIDocument {
public:
    explicit OpenAPIDocument(const AppCore& app) : app_(app) {}

    // The document to edit: written again when next served.
    picojson::value& schema() {
        std::lock_guard lock(mutex_);
        text_.clear();
        rooted_text_.clear();
        return built();
    }
    const picojson::value& document() {
        std::lock_guard lock(mutex_);
        return built();
    }
    void set_generator(std::function<picojson::value()> generate) {
        std::lock_guard lock(mutex_);
        generate_ = std::move(generate);
        built_ = false;
        text_.clear();
        rooted_text_.clear();
    }
    // The document as served: written once, then the same bytes for every request. Under a
    // proxy's prefix (root_path "/api") with AppOptions::root_path_in_servers, FastAPI's
    // servers entry {"url": "/api"} comes first, unless servers lists that URL already; that
    // text is kept too (for the last prefix asked: a server has one).
    std::string json(std::string_view root_path = {}) {
        std::lock_guard lock(mutex_);
        const picojson::value& doc = built();
        if (text_.empty()) text_ = write_openapi(doc, order_ ? *order_ : openapi_order(app_));
        if (root_path.empty() || !app_.settings().root_path_in_servers || !doc.is<picojson::object>()) return text_;
        if (rooted_for_ != root_path || rooted_text_.empty()) {
            picojson::value copy = doc;
            picojson::object& o = copy.get<picojson::object>();
            picojson::array servers;
            if (auto it = o.find("servers"); it != o.end() && it->second.is<picojson::array>()) servers = it->second.get<picojson::array>();
            bool listed = false;
            for (const auto& s : servers)
                if (s.is<picojson::object>() && s.contains("url") && s.get("url").is<std::string>() &&
                    s.get("url").get<std::string>() == root_path)
                    listed = true;
            if (listed) return text_;
            picojson::object server;
            server["url"] = picojson::value(std::string(root_path));
            servers.insert(servers.begin(), picojson::value(std::move(server)));
            o["servers"] = picojson::value(std::move(servers));
            rooted_text_ = write_openapi(copy, order_ ? *order_ : openapi_order(app_));
            rooted_for_ = std::string(root_path);
        }
        return rooted_text_;
    }

private:
    picojson::value& built() {  // with mutex_ held
        if (!built_) {
            if (generate_) {
                document_ = generate_();
                order_.reset();  // taken from the routes when written
            } else {
                auto order = std::make_shared<OpenAPIOrder>();
                document_ = build_openapi(app_, order.get());
                order_ = std::move(order);
            }
            built_ = true;
        }
        return document_;
    }

    const AppCore& app_;
    std::mutex mutex_;
    bool built_ = false;
    picojson::value document_;
    std::shared_ptr<const OpenAPIOrder> order_;  // how it is written, found while building it
    std::string text_;
    std::string rooted_for_, rooted_text_;  // the text under a proxy's prefix
    std::function<picojson::value()> generate_;
};

// What every built-in route (the document, the docs pages) answers: one closure type for all
// of them, so their endpoints are compiled once.
// Under a proxy's prefix (Request::root_path) the document lists it first in servers and the
// docs pages load root_path + openapi_url, as FastAPI's setup() does.
struct BuiltinAnswer {
    std::shared_ptr<const std::string> page;  // a fixed HTML page, or
    OpenAPIDocument* document = nullptr;      // the OpenAPI document
    // The page for a prefix ("/api"): docs pages name their URLs with it.
    std::shared_ptr<const std::function<std::string(std::string_view)>> rooted_page{};
    Response operator()(const Request& req) const {
        const std::string root = root_path_prefix(req);
        if (document) return Response(document->json(root), 200, "application/json");
        if (!root.empty() && rooted_page) return HTMLResponse((*rooted_page)(root));
        return HTMLResponse(*page);
    }
};

FASTAPI_DECL void add_builtin_route(AppCore& app, const std::string& path, BuiltinAnswer answer);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void add_builtin_route(AppCore& app, const std::string& path, BuiltinAnswer answer) {
    RouteOptions hidden;
    hidden.include_in_schema = false;
    app.get(path, std::move(answer), std::move(hidden));
}
#endif

FASTAPI_DECL void install_openapi_route(AppCore& app, OpenAPIDocument& document);
#if FASTAPI_DEFINITIONS
FASTAPI_DECL void install_openapi_route(AppCore& app, OpenAPIDocument& document) {
    const std::string& url = app.settings().openapi_url;
    if (!url.empty()) add_builtin_route(app, url, BuiltinAnswer{nullptr, &document});
}
#endif

}  // namespace detail

}  // namespace fastapi
