// test_client: FastAPI's TestClient. Calls the app in-process, without sockets, through the
// same parser, dispatch and response writer as the server, so what a test sees is what a
// client would. Relies on server (for the response writer) and app.
#pragma once
#include "../routing/app.hpp"
#include "../http/http_parser.hpp"
#include "server.hpp"

#include <fstream>      // FileResponse bodies
#include <sstream>      // ostringstream
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

    picojson::value json() const {
        picojson::value v;
        std::string err = picojson::parse(v, text);
        if (!err.empty()) throw std::runtime_error("TestResponse::json: body is not JSON: " + err + "\n" + text);
        return v;
    }
    std::optional<std::string_view> header(std::string_view name) const { return headers.get(name); }
};

class TestClient {
public:
    // Runs the app's startup hooks (and its shutdown hooks when the last client goes), as
    // FastAPI's TestClient does in a `with` block.
    explicit TestClient(App& app, Limits limits = {}) : app_(app), limits_(limits) { app_.enter_lifespan(); }
    ~TestClient() { app_.exit_lifespan(); }
    TestClient(const TestClient&) = delete;
    TestClient& operator=(const TestClient&) = delete;

    TestResponse get(std::string_view target, const Headers& headers = {}) { return request("GET", target, {}, headers); }
    TestResponse head(std::string_view target, const Headers& headers = {}) { return request("HEAD", target, {}, headers); }
    TestResponse delete_(std::string_view target, const Headers& headers = {}) {
        return request("DELETE", target, {}, headers);
    }
    TestResponse options(std::string_view target, const Headers& headers = {}) {
        return request("OPTIONS", target, {}, headers);
    }
    TestResponse post(std::string_view target, std::string_view body = {}, const Headers& headers = {}) {
        return request("POST", target, body, headers);
    }
    TestResponse put(std::string_view target, std::string_view body = {}, const Headers& headers = {}) {
        return request("PUT", target, body, headers);
    }
    TestResponse patch(std::string_view target, std::string_view body = {}, const Headers& headers = {}) {
        return request("PATCH", target, body, headers);
    }
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
                           Headers headers = {}) {
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
    // A multipart/form-data body with fields and files, as requests' data= with files=.
    TestResponse post_multipart(std::string_view target, const std::vector<std::pair<std::string, std::string>>& fields,
                                const std::vector<TestUpload>& files = {}, Headers headers = {}) {
        std::string body = multipart_body(fields, files);
        if (!headers.contains("content-type"))
            headers.set("content-type", std::string("multipart/form-data; boundary=") + std::string(test_boundary));
        return request("POST", target, body, headers);
    }
    static constexpr std::string_view test_boundary = "fastapi-test-boundary-7MA4YWxkTrZu0gW";
    static std::string multipart_body(const std::vector<std::pair<std::string, std::string>>& fields,
                                      const std::vector<TestUpload>& files = {}) {
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

    // Any request: written as HTTP/1.1 bytes (Host: testserver, Content-Length when there is
    // a body) and parsed as the server would.
    TestResponse request(std::string_view method, std::string_view target, std::string_view body = {},
                         const Headers& headers = {}) {
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

    // Bytes exactly as given (one request), for tests of what the parser accepts.
    TestResponse raw_request(std::string_view bytes) {
        detail::Exchange ex;
        detail::RequestParser parser(limits_);
        detail::ParseResult r = parser.parse(bytes, ex.request);
        std::string out;
        if (r.status == detail::ParseStatus::need_more && parser.spool_length() != 0 &&
            bytes.size() - parser.body_offset() >= parser.spool_length()) {
            // An upload too large for memory: to a temporary file, as the server does, and
            // only for a route that reads a form (otherwise 413; no route: answered without it).
            switch (app_.route_head(ex)) {
                case detail::BodyWanted::form: break;
                case detail::BodyWanted::no_route:
                case detail::BodyWanted::answered: return dispatch_and_send(ex, out);
                case detail::BodyWanted::stream:
                case detail::BodyWanted::in_memory: r = {detail::ParseStatus::error, 0, 413, "Request body too large"}; break;
            }
        }
        if (r.status == detail::ParseStatus::need_more && parser.spool_length() != 0 &&
            bytes.size() - parser.body_offset() >= parser.spool_length()) {
            auto file = detail::TempFile::create(app_.settings().forms.temp_dir);
            if (!file->write(bytes.substr(parser.body_offset(), static_cast<std::size_t>(parser.spool_length()))))
                throw std::runtime_error("fastapi: TestClient cannot write a temporary file");
            ex.request.body_file = std::move(file);
            r.status = detail::ParseStatus::complete;
        }
        if (r.status != detail::ParseStatus::complete) {
            Response res;
            int status = r.status == detail::ParseStatus::error ? r.error_status : 400;
            std::string reason = r.status == detail::ParseStatus::error ? std::string(r.error_reason) : "Incomplete request";
            detail::write_detail(res, status, picojson::value(reason));
            Request req;
            req.method = "GET";
            detail::serialize_response(req, res, res.body.size(), false, out);
            return parse_response(out, false);
        }
        return dispatch_and_send(ex, out);
    }

private:
    TestResponse dispatch_and_send(detail::Exchange& ex, std::string& out) {
        ex.request.client_address = "testclient";
        switch (app_.dispatch(ex)) {
            case detail::Dispatch::done: break;
            case detail::Dispatch::run_blocking: app_.run_endpoint(ex); break;
            case detail::Dispatch::run_async: {
                asio::io_context io;
                asio::co_spawn(io, app_.run_async(ex), asio::detached);
                io.run();
                break;
            }
        }
        Response& res = ex.response;
        std::string file_body;
        if (!res.file_path.empty()) {
            std::ifstream in(res.file_path, std::ios::binary);
            std::ostringstream ss;
            ss << in.rdbuf();
            file_body = ss.str();
        }
        std::uint64_t length = res.file_path.empty() ? res.body.size() : file_body.size();
        // A streamed body (StreamingResponse): produced here, in-process, every chunk kept;
        // the headers are the server's, the text the decoded body. A producer's exception
        // propagates to the test, as FastAPI's TestClient raises the app's.
        detail::Framing framing = detail::Framing::length;
        if (res.stream) {
            struct Collect final : detail::StreamSink {
                std::string text;
                asio::awaitable<void> write(std::string_view bytes) override {
                    text.append(bytes);
                    co_return;
                }
            } sink;
            if (res.stream->length) length = *res.stream->length;
            else framing = ex.request.version == 10 ? detail::Framing::until_close : detail::Framing::chunked;
            if (ex.request.method != "HEAD" && !detail::status_has_no_body(res.status)) {
                asio::io_context io;
                std::exception_ptr failed;
                auto run = [](std::shared_ptr<detail::BodyProducer> p, detail::StreamSink& s) -> asio::awaitable<void> {
                    StreamWriter writer(s);
                    co_await p->produce(writer);
                };
                asio::co_spawn(io, run(res.stream, sink), [&failed](std::exception_ptr e) { failed = e; });
                io.run();
                if (failed) std::rethrow_exception(failed);
                file_body = std::move(sink.text);
            }
        }
        detail::serialize_response(ex.request, res, length, ex.request.keep_alive, out, framing);
        if ((!res.file_path.empty() || res.stream) && ex.request.method != "HEAD") out += file_body;
        TestResponse response = parse_response(out, ex.request.method == "HEAD");
        // The response is complete: its background tasks run now, before request() returns.
        if (auto job = detail::take_background_job(ex)) job->run();
        return response;
    }

    static void form_encode(std::string_view s, std::string& out) {
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

    template <class T>
    TestResponse with_json(std::string_view method, std::string_view target, const T& value, Headers headers) {
        std::string body;
        detail::write_json(body, value);
        if (!headers.contains("content-type")) headers.set("content-type", "application/json");
        return request(method, target, body, headers);
    }

    static TestResponse parse_response(std::string_view raw, bool head) {
        TestResponse t;
        auto line_end = raw.find("\r\n");
        t.status_code = std::stoi(std::string(raw.substr(9, 3)));
        auto headers_end = raw.find("\r\n\r\n");
        std::size_t pos = line_end + 2;
        while (pos < headers_end) {
            auto eol = raw.find("\r\n", pos);
            auto line = raw.substr(pos, eol - pos);
            auto colon = line.find(':');
            t.headers.append_unchecked(line.substr(0, colon), line.substr(colon + 2));
            pos = eol + 2;
        }
        if (!head) t.text = std::string(raw.substr(headers_end + 4));
        return t;
    }

    App& app_;
    Limits limits_;
};

}  // namespace fastapi
