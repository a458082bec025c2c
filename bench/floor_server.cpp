// The compile-time floor (tools/compile-time): the least a C++ coroutine HTTP server with one
// route needs, on standalone Asio: accept, read a request head, answer 200 with a body, keep
// the connection alive. No parser, no routing, no JSON: what any Asio server compiles anyway,
// so fastapi.hpp's own cost is the build time above this one. It includes only the Asio
// headers it uses, as a hand-written minimal server would.
//   g++ -std=c++20 -O2 bench/floor_server.cpp -pthread && PORT=8000 ./a.out
#define ASIO_STANDALONE
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read_until.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <cstdlib>  // getenv, atoi
#include <string>   // string

using asio::ip::tcp;

asio::awaitable<void> session(tcp::socket socket) {
    std::string buffer;
    try {
        for (;;) {
            std::size_t head = co_await asio::async_read_until(socket, asio::dynamic_buffer(buffer), "\r\n\r\n",
                                                               asio::use_awaitable);
            buffer.erase(0, head);  // a GET has no body
            static constexpr char response[] =
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";
            co_await asio::async_write(socket, asio::buffer(response, sizeof response - 1), asio::use_awaitable);
        }
    } catch (const std::exception&) {  // the client closed the connection
    }
}

asio::awaitable<void> listen(tcp::acceptor acceptor) {
    for (;;) asio::co_spawn(acceptor.get_executor(), session(co_await acceptor.async_accept(asio::use_awaitable)), asio::detached);
}

int main() {
    const char* port = std::getenv("PORT");
    asio::io_context io;
    tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port ? std::atoi(port) : 8000)});
    asio::co_spawn(io, listen(std::move(acceptor)), asio::detached);
    io.run();
}
