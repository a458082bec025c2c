// Streamed bodies: a large response produced while it is sent (StreamingResponse, with
// back-pressure: the producer waits while the client is slower), the same body sent whole for
// comparison, typed items as JSON Lines (FastAPI's streamed AsyncIterable[Item]), and an
// upload read as it arrives (RequestStream), never held whole.
#include "fastapi.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

using namespace fastapi;

struct Item {
    std::string name;
    std::optional<std::string> description;
};

struct Uploaded {
    int64_t bytes = 0;
    int64_t chunks = 0;
};

int main() {
    App app;
    app.get("/", [] { return PlainTextResponse("ok"); });

    // GET /stream?size=N&chunk=C: N bytes (1 MiB unless asked) in chunks of C (16 KiB), each
    // produced when the connection has room for it. Sent chunked: its length is not declared.
    app.get("/stream", [](Query<"size", int64_t, Ge<0>, Le<1073741824>, Default<1048576>> size,
                          Query<"chunk", int64_t, Ge<1>, Le<1048576>, Default<16384>> chunk) {
        const auto total = static_cast<std::uint64_t>(*size);
        const auto step = static_cast<std::size_t>(*chunk);
        return StreamingResponse([total, step](StreamWriter& out) -> asio::awaitable<void> {
            std::string buffer(step, 'x');
            for (std::uint64_t sent = 0; sent < total; sent += step) {
                const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(step, total - sent));
                co_await out.write(std::string_view(buffer).substr(0, n));
            }
        }, "application/octet-stream");
    });

    // GET /whole: the same 1 MiB in one Response.
    const std::string whole(1024 * 1024, 'x');
    app.get("/whole", [&whole] { return Response(whole, 200, "application/octet-stream"); });

    // GET /items/stream: FastAPI's tutorial items, one JSON document a line (application/jsonl).
    static const std::vector<Item> items = {{"Plumbus", "A multi-purpose household device."},
                                            {"Portal Gun", "A portal opening device."},
                                            {"Meeseeks Box", "A box that summons a Meeseeks."}};
    app.get("/items/stream", [] {
        return JSONLinesResponse<Item>([](JSONLinesStream<Item>& out) -> asio::awaitable<void> {
            for (const Item& item : items) co_await out.send(item);
        });
    });

    // POST /upload: the body read chunk by chunk as it arrives; answers its size.
    app.post("/upload", [](RequestStream& body) -> asio::awaitable<Uploaded> {
        Uploaded u;
        for (auto chunk = co_await body.read(); !chunk.empty(); chunk = co_await body.read()) {
            u.bytes += static_cast<int64_t>(chunk.size());
            ++u.chunks;
        }
        co_return u;
    });
    app.run();
}
