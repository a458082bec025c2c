// Uploads: File<> parameters and UploadFile from multipart/form-data bodies; large files and
// large bodies go to temporary files that are removed afterwards; the multipart parser is
// strict and its limits answer with clear errors.
#include "support.hpp"

#include <filesystem>
#include <random>

using namespace fastapi;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {
Headers multipart_headers(std::string_view boundary = TestClient::test_boundary) {
    Headers h;
    h.set("content-type", "multipart/form-data; boundary=" + std::string(boundary));
    return h;
}

// A fresh, empty folder for temporary files, removed with the object.
struct TempDir {
    fs::path path;
    TempDir() {
        std::random_device rd;
        path = fs::temp_directory_path() / ("fastapi-uploads-test-" + std::to_string(rd()));
        fs::create_directories(path);
    }
    ~TempDir() { fs::remove_all(path); }
    std::size_t count() const {
        return static_cast<std::size_t>(std::distance(fs::directory_iterator(path), fs::directory_iterator{}));
    }
};

picojson::value describe_file(const UploadFile& f) {
    picojson::object o;
    o["filename"] = picojson::value(f.filename);
    o["content_type"] = picojson::value(f.content_type);
    o["size"] = picojson::value(static_cast<int64_t>(f.size));
    o["in_memory"] = picojson::value(f.in_memory());
    o["content"] = picojson::value(f.read());
    return picojson::value(o);
}
}  // namespace

TEST_CASE("File<name, UploadFile> gives the filename, content type, size, headers and content") {
    App app;
    app.post("/uploadfile/", [](File<"file", UploadFile> file) { return describe_file(*file); });
    TestClient client(app);
    auto r = client.post_multipart("/uploadfile/", {}, {{"file", "notes.txt", "hello world", "text/plain"}});
    CHECK(r.status_code == 200);
    CHECK(r.text == R"({"content":"hello world","content_type":"text/plain","filename":"notes.txt","in_memory":true,"size":11})");
}

TEST_CASE("File<name, std::string> is the file's bytes; std::vector<UploadFile> several files under one name") {
    App app;
    app.post("/files/", [](File<"file", std::string> file) { return file->size(); });
    app.post("/many/", [](File<"files", std::vector<UploadFile>> files, Form<"note", std::string> note) {
        std::string names;
        for (auto& f : *files) names += f.filename + ",";
        return names + *note;
    });
    TestClient client(app);
    std::string binary("\0\1\2\r\n--x\r\n\xff", 10);
    CHECK(client.post_multipart("/files/", {}, {{"file", "b.bin", binary}}).text == "10");
    auto r = client.post_multipart("/many/", {{"note", "n"}}, {{"files", "a.txt", "A"}, {"files", "b.txt", "B"}});
    CHECK(r.text == "\"a.txt,b.txt,n\"");
}

TEST_CASE("a missing file is 422 missing; std::optional<UploadFile> makes it optional") {
    App app;
    app.post("/required/", [](File<"file", UploadFile> file) { return file->filename; });
    app.post("/optional/", [](File<"file", std::optional<UploadFile>> file) {
        return file->has_value() ? (*file)->filename : std::string("no upload file sent");
    });
    TestClient client(app);
    auto r = client.post_multipart("/required/", {{"other", "x"}});
    CHECK(r.status_code == 422);
    CHECK(r.text == R"({"detail":[{"type":"missing","loc":["body","file"],"msg":"Field required","input":null}]})");
    CHECK(client.post_multipart("/optional/", {}).text == "\"no upload file sent\"");
    auto field = client.post_multipart("/required/", {{"file", "not a file"}});
    CHECK(field.status_code == 422);
    CHECK(field.json().get("detail").get(0).get("type").get<std::string>() == "value_error");
}

TEST_CASE("Content-Disposition: quoted and token values, filename*, escaped quotes; per-part headers kept") {
    App app;
    app.post("/f/", [](File<"doc", UploadFile> doc) {
        return doc->filename + "|" + doc->content_type + "|" + std::string(doc->headers.get("x-extra").value_or("-"));
    });
    TestClient client(app);
    auto send = [&](std::string part_headers) {
        std::string body = "--B\r\n" + part_headers + "\r\n\r\ndata\r\n--B--\r\n";
        return client.post("/f/", body, multipart_headers("B"));
    };
    CHECK(send("Content-Disposition: form-data; name=doc; filename=a.txt").text == "\"a.txt||-\"");
    CHECK(send("content-disposition: form-data; name=\"doc\"; filename=\"say \\\"hi\\\".txt\"\r\nContent-Type: text/plain\r\nX-Extra: 1")
              .text == "\"say \\\"hi\\\".txt|text/plain|1\"");
    CHECK(send("Content-Disposition: form-data; name=\"doc\"; filename=\"fallback.txt\"; filename*=UTF-8''na%C3%AFve%20file.txt")
              .text == "\"naïve file.txt||-\"");
    CHECK(send("Content-Disposition: form-data; name=\"doc\"; filename=\"C:\\dir\\a.txt\"").text == "\"C:\\\\dir\\\\a.txt||-\"");
}

TEST_CASE("a file name with NUL, control characters or bytes that are not UTF-8 answers 400, in filename= and filename*=") {
    App app;
    app.post("/f/", [](File<"doc", UploadFile> doc) { return doc->filename; });
    TestClient client(app);
    auto send = [&](std::string disposition) {
        std::string body = "--B\r\nContent-Disposition: form-data; name=\"doc\"; " + disposition + "\r\n\r\ndata\r\n--B--\r\n";
        return client.post("/f/", body, multipart_headers("B"));
    };
    auto refused = [&](std::string disposition) {
        auto r = send(std::move(disposition));
        return r.status_code == 400 && r.json().get("detail").get<std::string>().find("file name") != std::string::npos;
    };
    CHECK(refused("filename*=UTF-8''%ff%fe%00.txt"));      // the issue's case
    CHECK(refused("filename*=UTF-8''evil.php%00.jpg"));    // NUL: truncation by c_str()
    CHECK(refused("filename*=UTF-8''a%0Ab.txt"));          // LF
    CHECK(refused("filename*=UTF-8''a%7Fb.txt"));          // DEL
    CHECK(refused("filename*=UTF-8''a%C2%85b.txt"));       // U+0085, a C1 control
    CHECK(refused("filename*=UTF-8''%C0%AE%C0%AE"));       // overlong "..": not UTF-8
    CHECK(refused("filename*=UTF-8''%ED%A0%80.txt"));      // a surrogate: not UTF-8
    CHECK(refused("filename=\"a\tb.txt\""));              // a tab, raw
    CHECK(refused("filename=\"\xff\xfe.txt\""));         // raw bytes that are not UTF-8
    CHECK(refused("filename=\"ok.txt\"; filename*=UTF-8''bad%00"));  // filename* wins, and is checked
    // UTF-8 text, spaces and an empty name are the client's to send.
    CHECK(send("filename*=UTF-8''%E6%97%A5%E6%9C%AC%20%F0%9F%98%80.txt").text == "\"日本 😀.txt\"");
    CHECK(send("filename=\"caf\xc3\xa9 \xc2\xa0.txt\"").text == "\"café \u00a0.txt\"");
    CHECK(send("filename=\"\"").text == "\"\"");
}

TEST_CASE("the boundary comes from the Content-Type, quoted or not; preamble and epilogue are ignored") {
    App app;
    app.post("/f/", [](Form<"a", std::string> a) { return *a; });
    TestClient client(app);
    std::string body = "preamble\r\n--a:b c\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue\r\n--a:b c--\r\nepilogue";
    Headers quoted;
    quoted.set("content-type", "multipart/form-data; charset=utf-8; boundary=\"a:b c\"");
    CHECK(client.post("/f/", body, quoted).text == "\"value\"");
    std::string plain = "--xyz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--xyz--";
    CHECK(client.post("/f/", plain, multipart_headers("xyz")).text == "\"v\"");
}

TEST_CASE("malformed multipart bodies answer 400 with a detail") {
    App app;
    app.post("/f/", [](Form<"a", std::optional<std::string>> a) { return a->value_or(""); });
    TestClient client(app);
    auto status = [&](std::string body, Headers h = multipart_headers("B")) {
        auto r = client.post("/f/", body, h);
        if (r.status_code == 400) CHECK(r.json().get("detail").is<std::string>());
        return r.status_code;
    };
    const std::string part = "--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n";
    CHECK(status(part + "--B--\r\n") == 200);
    CHECK(status(part) == 400);                                   // no final boundary
    CHECK(status("--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv") == 400);  // cut in a part
    CHECK(status("--B\r\nContent-Disposition: form-data\r\n\r\nv\r\n--B--") == 400);     // no name
    CHECK(status("--B\r\nContent-Disposition: attachment; name=a\r\n\r\nv\r\n--B--") == 400);
    CHECK(status("--B\r\nContent-Disposition: form-data; name=a; name=b\r\n\r\nv\r\n--B--") == 400);
    CHECK(status("--B\r\nNo colon here\r\n\r\nv\r\n--B--") == 400);
    CHECK(status("--B\r\nContent-Disposition: form-data; name=\"a\r\n\r\nv\r\n--B--") == 400);
    CHECK(status("--Bjunk\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n--B--") == 400);
    Headers no_boundary;
    no_boundary.set("content-type", "multipart/form-data");
    CHECK(status(part + "--B--", no_boundary) == 400);
    Headers bad_boundary;
    bad_boundary.set("content-type", "multipart/form-data; boundary=\"a\x01\"");
    CHECK(status(part + "--B--", bad_boundary) == 400);
}

TEST_CASE("limits: parts, field size and part headers answer 400; a body over max_upload_bytes 413") {
    AppOptions options;
    options.forms.max_parts = 3;
    options.forms.max_field_bytes = 10;
    options.forms.max_part_header_bytes = 200;
    App app(options);
    app.post("/f/", [](Form<"a", std::vector<std::string>> a) { return a->size(); });
    Limits limits;
    limits.max_body_bytes = 1024;
    limits.max_upload_bytes = 4096;
    TestClient client(app, limits);
    CHECK(client.post_multipart("/f/", {{"a", "1"}, {"a", "2"}, {"a", "3"}}).text == "3");
    auto many = client.post_multipart("/f/", {{"a", "1"}, {"a", "2"}, {"a", "3"}, {"a", "4"}});
    CHECK(many.status_code == 400);
    CHECK(many.text == R"({"detail":"Too many fields or files; the maximum is 3"})");
    auto big = client.post_multipart("/f/", {{"a", "12345678901"}});
    CHECK(big.status_code == 400);
    CHECK(big.text == R"({"detail":"Field 'a' is larger than 10 bytes"})");
    auto headers = client.post("/f/", "--B\r\nContent-Disposition: form-data; name=a\r\nX: " + std::string(300, 'x') +
                                          "\r\n\r\nv\r\n--B--", multipart_headers("B"));
    CHECK(headers.status_code == 400);
    auto huge = client.post_multipart("/f/", {}, {{"file", "big.bin", std::string(5000, 'x')}});
    CHECK(huge.status_code == 413);
    Headers urlencoded;
    urlencoded.set("content-type", "application/x-www-form-urlencoded");
    CHECK(client.post("/f/", "a=" + std::string(2000, 'x'), urlencoded).status_code == 413);  // only uploads stream
}

TEST_CASE("a file over the spool threshold goes to a temporary file, removed once the request is done") {
    TempDir dir;
    AppOptions options;
    options.forms.spool_threshold = 100;
    options.forms.temp_dir = dir.path.string();
    App app(options);
    static std::string seen_path;
    static bool existed = false;
    app.post("/f/", [](File<"file", UploadFile> file, File<"small", UploadFile> small) {
        seen_path = file->path();
        existed = fs::exists(seen_path);
        return describe_file(*file).get("in_memory").get<bool>() == false && small->in_memory() &&
               file->read() == std::string(1000, 'z') && file->size == 1000;
    });
    TestClient client(app);
    auto r = client.post_multipart("/f/", {}, {{"file", "big.bin", std::string(1000, 'z')}, {"small", "s.txt", "tiny"}});
    CHECK(r.text == "true");
    CHECK(existed);
    CHECK(seen_path.starts_with(dir.path.string()));
    CHECK_FALSE(fs::exists(seen_path));
    CHECK(dir.count() == 0);
}

TEST_CASE("server: a large upload streams to disk (body and file), arrives whole, and leaves no temporary file") {
    TempDir dir;
    AppOptions options;
    options.forms.temp_dir = dir.path.string();
    options.forms.spool_threshold = 64 * 1024;
    App app(options);
    static std::atomic<std::size_t> files_during{0};
    app.post("/upload/", [&dir](File<"file", UploadFile> file, Form<"name", std::string> name, const Request& req) {
        files_during = static_cast<std::size_t>(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator{}));
        std::string content = file->read();
        bool pattern = content.size() == 3'000'000;
        for (std::size_t i = 0; pattern && i < content.size(); i += 4096) pattern = content[i] == char('a' + i % 26);
        picojson::object o;
        o["name"] = picojson::value(*name);
        o["size"] = picojson::value(static_cast<int64_t>(file->size));
        o["spooled"] = picojson::value(!file->in_memory() && req.body_file != nullptr && req.body.empty());
        o["content_ok"] = picojson::value(pattern);
        return picojson::value(o);
    });
    ServerOptions so;
    so.limits.max_body_bytes = 256 * 1024;
    test::LiveServer server(app, so);
    std::string content(3'000'000, '\0');
    for (std::size_t i = 0; i < content.size(); ++i) content[i] = char('a' + i % 26);
    std::string body = TestClient::multipart_body({{"name", "big"}}, {{"file", "big.bin", content}});
    test::RawClient client(server.port(), 10s);
    client.send("POST /upload/ HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=" +
                std::string(TestClient::test_boundary) + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n");
    for (std::size_t i = 0; i < body.size(); i += 100'000) client.send(std::string_view(body).substr(i, 100'000));
    auto r = client.read_response();
    CHECK(test::status_of(r) == 200);
    CHECK(test::body_of(r) == R"({"content_ok":true,"name":"big","size":3000000,"spooled":true})");
    CHECK(files_during == 2);  // the request body and the file part
    // The next request on the connection still works, and nothing is left on disk.
    client.send("POST /upload/ HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    CHECK(test::status_of(client.read_response()) == 422);
    CHECK(dir.count() == 0);
}

TEST_CASE("server: a client that disconnects in the middle of an upload leaves no temporary file") {
    TempDir dir;
    AppOptions options;
    options.forms.temp_dir = dir.path.string();
    App app(options);
    app.post("/upload/", [](File<"file", UploadFile> file) { return file->size; });
    ServerOptions so;
    so.limits.max_body_bytes = 1024;
    test::LiveServer server(app, so);
    {
        test::RawClient client(server.port());
        client.send("POST /upload/ HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=B\r\n"
                    "Content-Length: 100000\r\n\r\n--B\r\nContent-Disposition: form-data; name=file; filename=a\r\n\r\n" +
                    std::string(20000, 'x'));
        CHECK(test::eventually_true([&] { return dir.count() == 1; }));
    }
    CHECK(test::eventually_true([&] { return dir.count() == 0; }));
}

TEST_CASE("server: an upload over max_upload_bytes is refused with 413 before it is read") {
    App app;
    app.post("/upload/", [](File<"file", UploadFile> file) { return file->size; });
    ServerOptions so;
    so.limits.max_upload_bytes = 10'000;
    test::LiveServer server(app, so);
    test::RawClient client(server.port());
    client.send("POST /upload/ HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=B\r\n"
                "Content-Length: 20000000\r\n\r\n");
    auto r = client.read_response();
    CHECK(test::status_of(r) == 413);
    CHECK(test::body_of(r) == R"({"detail":"Request body too large"})");
}

TEST_CASE("OpenAPI: files are multipart/form-data with {type: string, format: binary}, as FastAPI") {
    App app;
    app.post("/files/", [](File<"file", std::string> file) { return file->size(); }, {.name = "create_file"});
    app.post("/uploadfiles/", [](File<"files", std::vector<UploadFile>> files, Form<"token", std::string>) {
        return files->size();
    }, {.name = "create_upload_files"});
    auto& doc = app.openapi();
    auto content = doc.get("paths").get("/files/").get("post").get("requestBody").get("content");
    CHECK(content.get("multipart/form-data").get("schema").get("$ref").get<std::string>() ==
          "#/components/schemas/Body_create_file_files__post");
    auto schemas = doc.get("components").get("schemas");
    CHECK(schemas.get("Body_create_file_files__post").get("properties").get("file").serialize() ==
          R"({"format":"binary","title":"File","type":"string"})");
    auto many = schemas.get("Body_create_upload_files_uploadfiles__post");
    CHECK(many.get("properties").get("files").serialize() ==
          R"({"items":{"format":"binary","type":"string"},"title":"Files","type":"array"})");
    CHECK(many.get("required").serialize() == R"(["files","token"])");
}
