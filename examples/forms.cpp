// FastAPI's "Form Data" and "Request Files" tutorials: a login form, and file uploads as bytes,
// as UploadFile and as several files at once.
//   curl -F username=jane -F password=secret localhost:8000/login/
//   curl -F file=@README.md localhost:8000/uploadfile/
#include "fastapi.hpp"

using namespace fastapi;

struct FormData {
    std::string username;
    std::string password;
};

int main() {
    App app;

    app.post("/login/", [](Form<"username", std::string> username, Form<"password", std::string>) {
        picojson::object o;
        o["username"] = picojson::value(*username);
        return picojson::value(o);
    });

    // FastAPI's form model: `data: Annotated[FormData, Form()]`.
    app.post("/login-model/", [](FormModel<FormData> data) { return *data; });

    app.post("/files/", [](File<"file", std::string> file) {
        picojson::object o;
        o["file_size"] = picojson::value(static_cast<int64_t>(file->size()));
        return picojson::value(o);
    });

    app.post("/uploadfile/", [](File<"file", UploadFile> file) {
        picojson::object o;
        o["filename"] = picojson::value(file->filename);
        o["content_type"] = picojson::value(file->content_type);
        o["size"] = picojson::value(static_cast<int64_t>(file->size));
        return picojson::value(o);
    });

    app.post("/uploadfiles/", [](File<"files", std::vector<UploadFile>> files) {
        picojson::array names;
        for (auto& f : *files) names.emplace_back(f.filename);
        picojson::object o;
        o["filenames"] = picojson::value(names);
        return picojson::value(o);
    });

    app.run();
}
