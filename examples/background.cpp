// FastAPI's "Background Tasks" tutorial: the response is sent at once, the notification is
// written to log.txt afterwards (LOG_FILE overrides the path).
//   curl -X POST 'localhost:8000/send-notification/jane@example.com?q=hi'
#include "fastapi.hpp"

#include <cstdlib>  // getenv
#include <fstream>  // ofstream

using namespace fastapi;

struct Message {
    std::string message;
};

static std::string log_path() {
    const char* env = std::getenv("LOG_FILE");
    return env && *env ? env : "log.txt";
}

static void write_log(const std::string& message) {
    std::ofstream(log_path(), std::ios::app) << message;
}

// A dependency may add tasks too: they run with the handler's, in order.
static std::optional<std::string> get_query(BackgroundTasks& tasks, Query<"q", std::optional<std::string>> q) {
    if (*q) tasks.add_task(write_log, "found query: " + **q + "\n");
    return *q;
}

int main() {
    App app;
    app.post("/send-notification/{email}",
             [](Path<"email", std::string> email, BackgroundTasks& tasks, Depends<get_query>) {
                 tasks.add_task(write_log, "message to " + *email + "\n");
                 return Message{"Message sent"};
             });
    app.run();
}
