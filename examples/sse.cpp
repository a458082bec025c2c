// Server-Sent Events (FastAPI's EventSourceResponse): GET /events?count=N streams N events,
// `id: i` and `data: {"n": i}` for i = 1..N, then ends. A browser's EventSource that
// reconnects sends the last id it saw as Last-Event-ID: the stream resumes after it.
#include "fastapi.hpp"

#include <optional>
#include <string>

using namespace fastapi;

struct Tick {
    int n = 0;
};

int main() {
    App app;
    app.get("/", [] { return PlainTextResponse("ok"); });

    app.get("/events", [](Query<"count", int, Ge<1>, Le<1000>> count,
                          Header<"last_event_id", std::optional<int>, Ge<0>> last_event_id) {
        const int first = last_event_id->value_or(0) + 1, last = *count;
        return EventSourceResponse<Tick>([first, last](EventStream<Tick>& out) -> asio::awaitable<void> {
            for (int i = first; i <= last; ++i) {
                ServerSentEvent<Tick> event{.data = Tick{i}, .id = std::to_string(i)};
                co_await out.send(event);
            }
        });
    });
    app.run();
}
