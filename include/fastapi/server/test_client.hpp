// test_client: FastAPI's TestClient. Calls the app in-process, without sockets: each request
// runs through the server's own connection (parser, dispatch, spooling, file bodies,
// background tasks, error answers) over an in-memory stream, so what a test sees is what a
// client would. Relies on server.
#pragma once
#include "../http/http_parser.hpp"
#include "server.hpp"
#include "test_session.hpp"

#include <charconv>     // from_chars
#include <string>       // string
#include <string_view>  // string_view

namespace fastapi {

// A file for TestClient::post_multipart (requests' files=).
struct TestUpload {
    std::string name;      // the form field
    std::string filename;
    std::string content;
    std::string content_type = "application/octet-stream";
};

struct TestResponse {
    int status_code = 0;
    Headers headers;
    std::string text;

    picojson::value json() const;
    std::optional<std::string_view> header(std::string_view name) const { return headers.get(name); }
};

class TestClient {
public:
    // Runs the app's startup hooks (and its shutdown hooks when the last client goes), as
    // FastAPI's TestClient does in a `with` block.
    explicit TestClient(detail::AppContext& app, Limits limits = {});
    // As a server with these options would answer (FastAPI's TestClient(app, root_path=...)):
    // root_path, proxy_headers and forwarded_allow_ips ("testclient" trusts this client's
    // X-Forwarded-* and Forwarded headers), limits. Where it listens does not apply.
    TestClient(detail::AppContext& app, ServerOptions options);
    ~TestClient();
    TestClient(const TestClient&) = delete;
    TestClient& operator=(const TestClient&) = delete;

    TestResponse get(std::string_view target, const Headers& headers = {});
    TestResponse head(std::string_view target, const Headers& headers = {});
    TestResponse delete_(std::string_view target, const Headers& headers = {});
    TestResponse options(std::string_view target, const Headers& headers = {});
    TestResponse post(std::string_view target, std::string_view body = {}, const Headers& headers = {});
    TestResponse put(std::string_view target, std::string_view body = {}, const Headers& headers = {});
    TestResponse patch(std::string_view target, std::string_view body = {}, const Headers& headers = {});
    // JSON bodies: a picojson::value or anything write_json can write; sets Content-Type.
    template <class T>
    TestResponse post_json(std::string_view target, const T& value, Headers headers = {}) {
        return with_json("POST", target, value, std::move(headers));
    }
    template <class T>
    TestResponse put_json(std::string_view target, const T& value, Headers headers = {}) {
        return with_json("PUT", target, value, std::move(headers));
    }

    // An HTML form (application/x-www-form-urlencoded), as requests' data={...}.
    TestResponse post_form(std::string_view target, const std::vector<std::pair<std::string, std::string>>& fields,
                           Headers headers = {});
    // A multipart/form-data body with fields and files, as requests' data= with files=.
    TestResponse post_multipart(std::string_view target, const std::vector<std::pair<std::string, std::string>>& fields,
                                const std::vector<TestUpload>& files = {}, Headers headers = {});
    static constexpr std::string_view test_boundary = "fastapi-test-boundary-7MA4YWxkTrZu0gW";
    static std::string multipart_body(const std::vector<std::pair<std::string, std::string>>& fields,
                                      const std::vector<TestUpload>& files = {});

    // Any request: written as HTTP/1.1 bytes (Host: testserver, Content-Length when there is
    // a body) and parsed as the server would.
    TestResponse request(std::string_view method, std::string_view target, std::string_view body = {},
                         const Headers& headers = {});

    // Bytes exactly as given (one request), for tests of what the parser accepts.
    // Run through the server's own connection code over an in-memory stream, on a loop of
    // this call's own on the caller's thread: what the server would answer is answered here,
    // and the request's cleanups and background tasks are done when this returns.
    TestResponse raw_request(std::string_view bytes);

    // A WebSocket to `target` (Starlette's client.websocket_connect): the handshake, then a
    // session to send and receive on, in process. A handshake answered with an HTTP response
    // (a denial, 403 for a close before accept) throws WebSocketDenialResponse; once accepted,
    // what the server closes with is WebSocketDisconnect from the session's receive_*.
    //   auto ws = client.websocket_connect("/ws/echo");
    //   ws.send_text("hi");
    //   CHECK(ws.receive_text() == "hi");
    WebSocketTestSession websocket_connect(std::string_view target, const std::vector<std::string>& subprotocols = {},
                                           const Headers& headers = {});

    // A response read as it is sent (httpx's client.stream): status and headers first, then
    // next_chunk() until nullopt; an event stream's events as they come.
    TestStreamResponse stream(std::string_view method, std::string_view target, std::string_view body = {},
                              const Headers& headers = {});

    // How long a WebSocket session's receive, or a stream's next chunk, waits for the app.
    std::chrono::milliseconds timeout{5000};

    // The bytes the server side wrote for a request given as raw bytes, exactly (a 100
    // Continue, the response, several for pipelined requests).
    std::string raw_response(std::string_view bytes);

private:
    static ServerOptions options_with(const Limits& limits);
    static void form_encode(std::string_view s, std::string& out);

    template <class T>
    TestResponse with_json(std::string_view method, std::string_view target, const T& value, Headers headers) {
        std::string body;
        detail::write_json(body, value);
        if (!headers.contains("content-type")) headers.set("content-type", "application/json");
        return request(method, target, body, headers);
    }

    // The first response in `raw` (a request given as raw bytes may hold more than one).
    static TestResponse parse_response(std::string_view raw, bool head);

    // The bytes of a chunked body as the server framed it (size lines, extensions, trailers).
    static std::string decode_chunked(std::string_view body);

    detail::AppContext& app_;
    std::shared_ptr<detail::ServerState> state_;
};


#if FASTAPI_DEFINITIONS
FASTAPI_DECL picojson::value TestResponse::json() const {
    picojson::value v;
    std::string err = picojson::parse(v, text);
    if (!err.empty()) throw std::runtime_error("TestResponse::json: body is not JSON: " + err + "\n" + text);
    return v;
}

FASTAPI_DECL TestClient::TestClient(detail::AppContext& app, Limits limits) : TestClient(app, options_with(limits)) {}

FASTAPI_DECL TestClient::TestClient(detail::AppContext& app, ServerOptions options) : app_(app), state_(detail::in_process_state(app, std::move(options))) {
    app_.enter_lifespan();
}

FASTAPI_DECL TestClient::~TestClient() { app_.exit_lifespan(); }

FASTAPI_DECL TestResponse TestClient::get(std::string_view target, const Headers& headers) { return request("GET", target, {}, headers); }

FASTAPI_DECL TestResponse TestClient::head(std::string_view target, const Headers& headers) { return request("HEAD", target, {}, headers); }

FASTAPI_DECL TestResponse TestClient::delete_(std::string_view target, const Headers& headers) {
    return request("DELETE", target, {}, headers);
}

FASTAPI_DECL TestResponse TestClient::options(std::string_view target, const Headers& headers) {
    return request("OPTIONS", target, {}, headers);
}

FASTAPI_DECL TestResponse TestClient::post(std::string_view target, std::string_view body, const Headers& headers) {
    return request("POST", target, body, headers);
}

FASTAPI_DECL TestResponse TestClient::put(std::string_view target, std::string_view body, const Headers& headers) {
    return request("PUT", target, body, headers);
}

FASTAPI_DECL TestResponse TestClient::patch(std::string_view target, std::string_view body, const Headers& headers) {
    return request("PATCH", target, body, headers);
}

FASTAPI_DECL TestResponse TestClient::post_form(std::string_view target, const std::vector<std::pair<std::string, std::string>>& fields,
                       Headers headers) {
    std::string body;
    for (auto& [k, v] : fields) {
        if (!body.empty()) body += '&';
        form_encode(k, body);
        body += '=';
        form_encode(v, body);
    }
    if (!headers.contains("content-type")) headers.set("content-type", "application/x-www-form-urlencoded");
    return request("POST", target, body, headers);
}

FASTAPI_DECL TestResponse TestClient::post_multipart(std::string_view target, const std::vector<std::pair<std::string, std::string>>& fields,
                            const std::vector<TestUpload>& files, Headers headers) {
    std::string body = multipart_body(fields, files);
    if (!headers.contains("content-type"))
        headers.set("content-type", std::string("multipart/form-data; boundary=") + std::string(test_boundary));
    return request("POST", target, body, headers);
}

FASTAPI_DECL std::string TestClient::multipart_body(const std::vector<std::pair<std::string, std::string>>& fields,
                                  const std::vector<TestUpload>& files) {
    std::string body;
    for (auto& [k, v] : fields)
        body.append("--").append(test_boundary).append("\r\nContent-Disposition: form-data; name=\"").append(k)
            .append("\"\r\n\r\n").append(v).append("\r\n");
    for (auto& f : files)
        body.append("--").append(test_boundary).append("\r\nContent-Disposition: form-data; name=\"").append(f.name)
            .append("\"; filename=\"").append(f.filename).append("\"\r\nContent-Type: ").append(f.content_type)
            .append("\r\n\r\n").append(f.content).append("\r\n");
    body.append("--").append(test_boundary).append("--\r\n");
    return body;
}

FASTAPI_DECL TestResponse TestClient::request(std::string_view method, std::string_view target, std::string_view body,
                     const Headers& headers) {
    std::string raw;
    raw.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
    if (!headers.contains("host")) raw += "host: testserver\r\n";
    for (auto& [name, value] : headers) raw.append(name).append(": ").append(value).append("\r\n");
    if (!body.empty() && !headers.contains("content-length") && !headers.contains("transfer-encoding"))
        raw.append("content-length: ").append(std::to_string(body.size())).append("\r\n");
    raw += "\r\n";
    raw.append(body);
    return raw_request(raw);
}

FASTAPI_DECL TestResponse TestClient::raw_request(std::string_view bytes) {
    asio::io_context io(1);
    std::string out = detail::run_in_memory(io, state_, bytes);
    const bool head = bytes.substr(0, 5) == "HEAD ";
    return parse_response(out, head);
}

FASTAPI_DECL WebSocketTestSession TestClient::websocket_connect(std::string_view target, const std::vector<std::string>& subprotocols,
                                       const Headers& headers) {
    std::string raw;
    raw.append("GET ").append(target).append(" HTTP/1.1\r\n");
    if (!headers.contains("host")) raw += "host: testserver\r\n";
    raw += "upgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           "sec-websocket-version: 13\r\n";
    if (!subprotocols.empty()) {
        raw += "sec-websocket-protocol: ";
        for (std::size_t i = 0; i < subprotocols.size(); ++i) raw.append(i ? ", " : "").append(subprotocols[i]);
        raw += "\r\n";
    }
    for (auto& [name, value] : headers) raw.append(name).append(": ").append(value).append("\r\n");
    raw += "\r\n";
    return WebSocketTestSession(state_, raw, timeout);
}

FASTAPI_DECL TestStreamResponse TestClient::stream(std::string_view method, std::string_view target, std::string_view body,
                          const Headers& headers) {
    std::string raw;
    raw.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
    if (!headers.contains("host")) raw += "host: testserver\r\n";
    for (auto& [name, value] : headers) raw.append(name).append(": ").append(value).append("\r\n");
    if (!body.empty() && !headers.contains("content-length"))
        raw.append("content-length: ").append(std::to_string(body.size())).append("\r\n");
    raw += "\r\n";
    raw.append(body);
    return TestStreamResponse(state_, raw, timeout);
}

FASTAPI_DECL std::string TestClient::raw_response(std::string_view bytes) {
    asio::io_context io(1);
    return detail::run_in_memory(io, state_, bytes);
}

FASTAPI_DECL ServerOptions TestClient::options_with(const Limits& limits) {
    ServerOptions o;
    o.limits = limits;
    return o;
}

FASTAPI_DECL void TestClient::form_encode(std::string_view s, std::string& out) {
    static constexpr char hex[] = "0123456789ABCDEF";
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if ((u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || c == '-' || c == '.' ||
            c == '_' || c == '~') {
            out += c;
        } else if (c == ' ') {
            out += '+';
        } else {
            out += '%';
            out += hex[u >> 4];
            out += hex[u & 15];
        }
    }
}

FASTAPI_DECL TestResponse TestClient::parse_response(std::string_view raw, bool head) {
    TestResponse t;
    while (raw.starts_with("HTTP/1.1 100 ")) {  // an interim 100 Continue: the answer follows it
        const auto end = raw.find("\r\n\r\n");
        raw.remove_prefix(end == std::string_view::npos ? raw.size() : end + 4);
    }
    if (raw.size() < 12) throw std::runtime_error("TestClient: no response");
    auto line_end = raw.find("\r\n");
    t.status_code = std::stoi(std::string(raw.substr(9, 3)));
    auto headers_end = raw.find("\r\n\r\n");
    std::size_t pos = line_end + 2;
    while (pos < headers_end) {
        auto eol = raw.find("\r\n", pos);
        auto line = raw.substr(pos, eol - pos);
        auto colon = line.find(':');
        detail::append_header(t.headers, line.substr(0, colon), line.substr(colon + 2));
        pos = eol + 2;
    }
    std::string_view body = raw.substr(headers_end + 4);
    if (auto length = t.headers.get("content-length")) {
        std::size_t n = 0;
        std::from_chars(length->data(), length->data() + length->size(), n);
        body = body.substr(0, n);
    }
    if (head || detail::status_has_no_body(t.status_code)) return t;
    if (auto te = t.headers.get("transfer-encoding"); te && detail::iequals(*te, "chunked")) {
        t.text = decode_chunked(body);  // a streamed body: its chunks, as a client reads them
    } else {
        t.text = std::string(body);  // Content-Length, or until the connection closed
    }
    return t;
}

FASTAPI_DECL std::string TestClient::decode_chunked(std::string_view body) {
    std::string out;
    for (;;) {
        const auto eol = body.find("\r\n");
        if (eol == std::string_view::npos) throw std::runtime_error("TestClient: a chunked body ended early");
        std::size_t size = 0;
        const auto r = std::from_chars(body.data(), body.data() + eol, size, 16);
        if (r.ec != std::errc{}) throw std::runtime_error("TestClient: a malformed chunk size");
        body.remove_prefix(eol + 2);
        if (size == 0) return out;
        if (body.size() < size + 2) throw std::runtime_error("TestClient: a chunked body ended early");
        out.append(body.substr(0, size));
        body.remove_prefix(size + 2);
    }
}
#endif

}  // namespace fastapi
