/* ceiling.c: the throughput ceiling for tools/bench.
 *
 * A minimal single-threaded epoll HTTP/1.1 server: no real parsing, no routing beyond
 * the first bytes of the request line, keep-alive always. It counts the requests in
 * what it read by their "\r\n\r\n" terminators (skipping a Content-Length body when a
 * request carries one) and writes one canned, well-formed response per request, so
 * pipelining works. Edge cases (chunked bodies, malformed input, huge headers) are out
 * of scope: it is a yardstick, not a server.
 *
 *   gcc -O2 bench/ceiling.c -o ceiling && ./ceiling 127.0.0.1 8080
 *
 * Responses (the bodies of examples/hello.cpp and examples/items.cpp, fixed; no Date):
 *   GET / , GET /json..., GET /items... -> 200 application/json
 *   POST ...                            -> 201 application/json
 *   anything else                       -> 200 text/plain "Hello, World!"
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define IN_CAP (64 * 1024)
#define OUT_CAP (256 * 1024)

static const char R_PLAIN[] =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";
static const char R_ROOT[] =
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 25\r\n\r\n"
    "{\"message\":\"Hello World\"}";
static const char R_JSON[] =
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n"
    "{\"message\":\"Hello, World!\"}";
static const char R_ITEM[] =
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 108\r\n\r\n"
    "{\"item_id\":1,\"q\":\"foo\",\"item\":{\"name\":\"Hammer\",\"description\":null,"
    "\"price\":12.5,\"tax\":null,\"tags\":[\"tools\"]}}";
static const char R_CREATED[] =
    "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 70\r\n\r\n"
    "{\"name\":\"Hammer\",\"description\":null,\"price\":12.5,\"tax\":null,\"tags\":[]}";

struct conn {
    int fd;
    size_t in_len;          /* bytes buffered, not yet consumed */
    size_t skip;            /* body bytes still to discard */
    size_t out_len, out_off; /* pending output */
    char in[IN_CAP];
    char out[OUT_CAP];
};

static int set_nonblock(int fd) {
    int fl = fcntl(fd, F_GETFL, 0);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Content-Length of the header block [p, p+n), 0 when absent. */
static size_t content_length(const char *p, size_t n) {
    static const char key[] = "\r\ncontent-length:";
    const size_t k = sizeof key - 1;
    for (size_t i = 0; i + k <= n; ++i) {
        if (p[i] != '\r') continue;
        if (strncasecmp(p + i, key, k) != 0) continue;
        size_t j = i + k, v = 0;
        while (j < n && (p[j] == ' ' || p[j] == '\t')) ++j;
        while (j < n && p[j] >= '0' && p[j] <= '9') v = v * 10 + (size_t)(p[j++] - '0');
        return v;
    }
    return 0;
}

static int queue_response(struct conn *c, const char *req) {
    const char *r;
    size_t n;
    if (req[0] == 'P') { r = R_CREATED; n = sizeof R_CREATED - 1; }
    else if (strncmp(req, "GET /json", 9) == 0) { r = R_JSON; n = sizeof R_JSON - 1; }
    else if (strncmp(req, "GET /items", 10) == 0) { r = R_ITEM; n = sizeof R_ITEM - 1; }
    else if (strncmp(req, "GET / ", 6) == 0) { r = R_ROOT; n = sizeof R_ROOT - 1; }
    else { r = R_PLAIN; n = sizeof R_PLAIN - 1; }
    if (c->out_len + n > OUT_CAP) return -1;
    memcpy(c->out + c->out_len, r, n);
    c->out_len += n;
    return 0;
}

/* Consume every complete request in c->in; queue one response each. -1: close. */
static int consume(struct conn *c) {
    size_t pos = 0;
    for (;;) {
        if (c->skip) {
            size_t s = c->in_len - pos < c->skip ? c->in_len - pos : c->skip;
            pos += s;
            c->skip -= s;
            if (c->skip) break;
        }
        if (pos >= c->in_len) break;
        char *start = c->in + pos;
        char *end = memmem(start, c->in_len - pos, "\r\n\r\n", 4);
        if (!end) break;
        size_t hdr = (size_t)(end - start) + 4;
        if (queue_response(c, start) < 0) return -1;
        if (start[0] == 'P') c->skip = content_length(start, hdr);
        pos += hdr;
    }
    if (pos) {
        memmove(c->in, c->in + pos, c->in_len - pos);
        c->in_len -= pos;
    }
    if (c->in_len == IN_CAP) return -1; /* a header block larger than the buffer */
    return 0;
}

/* Write pending output. 1: all written, 0: would block, -1: error. */
static int flush_out(struct conn *c) {
    while (c->out_off < c->out_len) {
        ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
            return -1;
        }
        c->out_off += (size_t)w;
    }
    c->out_len = c->out_off = 0;
    return 1;
}

static void close_conn(int ep, struct conn *c) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c);
}

int main(int argc, char **argv) {
    const char *host = argc > 1 ? argv[1] : "127.0.0.1";
    int port = argc > 2 ? atoi(argv[2]) : 8080;
    signal(SIGPIPE, SIG_IGN);

    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1) { fprintf(stderr, "bad host %s\n", host); return 2; }
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) < 0) { perror("bind"); return 1; }
    if (listen(lfd, 4096) < 0) { perror("listen"); return 1; }
    set_nonblock(lfd);

    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);

    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        if (n < 0) { if (errno == EINTR) continue; perror("epoll_wait"); return 1; }
        for (int i = 0; i < n; ++i) {
            struct conn *c = evs[i].data.ptr;
            if (!c) { /* listener */
                for (int k = 0; k < 1024; ++k) {
                    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
                    if (fd < 0) break;
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct conn *nc = malloc(sizeof *nc);
                    if (!nc) { close(fd); continue; }
                    nc->fd = fd;
                    nc->in_len = nc->skip = nc->out_len = nc->out_off = 0;
                    struct epoll_event cev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = nc};
                    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev) < 0) { close(fd); free(nc); }
                }
                continue;
            }
            int dead = 0;
            if (evs[i].events & EPOLLOUT) {
                int f = flush_out(c);
                if (f < 0) dead = 1;
                else if (f == 1) {
                    struct epoll_event cev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &cev);
                }
            }
            if (!dead && (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
                /* Read once per wakeup (level-triggered), but not while output is stuck. */
                if (c->out_len == 0) {
                    ssize_t r = recv(c->fd, c->in + c->in_len, IN_CAP - c->in_len, 0);
                    if (r == 0) dead = 1;
                    else if (r < 0) dead = !(errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
                    else {
                        c->in_len += (size_t)r;
                        if (consume(c) < 0) dead = 1;
                        else {
                            int f = flush_out(c);
                            if (f < 0) dead = 1;
                            else if (f == 0) {
                                struct epoll_event cev = {.events = EPOLLOUT, .data.ptr = c};
                                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &cev);
                            }
                        }
                    }
                } else if (evs[i].events & (EPOLLHUP | EPOLLERR)) {
                    dead = 1;
                }
            }
            if (dead) close_conn(ep, c);
        }
    }
}
