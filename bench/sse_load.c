/* Server-Sent Events load generator for tools/bench (issue 12's "SSE" row).
 *
 *   cc -O2 -o sse_load bench/sse_load.c
 *   taskset -c 1 ./sse_load HOST PORT PATH [CONNS=64] [SECS=10] [PID] [EVENTS=0]
 *
 * Opens CONNS keep-alive connections to http://HOST:PORT/PATH (loopback only), each reading
 * one event stream (GET PATH, chunked text/event-stream) as fast as it comes; when a stream
 * ends (its last chunk) the connection asks for the next one. Runs SECS seconds (bounded),
 * then prints one line:
 *   events=N secs=S events_per_s=R streams=K [server_cpu_s=C events_per_cpu_s=M]
 * An event is what ends with a blank line ("\n\n"; the chunk framing uses CRLF, so it never
 * makes one). The server CPU figures (utime+stime from /proc/PID/stat) are printed when PID is
 * given. Each answer must be 200, and with EVENTS > 0 each whole stream must hold exactly that
 * many events; otherwise, or if a connection closes, it is an error (exit 1). One thread,
 * epoll, level-triggered reads.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXC 1024
#define BUF 65536

struct conn {
    int fd;
    int head_have;            /* bytes of the answer's status line checked so far (up to 12) */
    char head[12];
    int last_nl;              /* the byte before this read was '\n' */
    char tail[7];             /* the stream's last bytes, for its last chunk "\r\n0\r\n\r\n" */
    unsigned long events;     /* in the current stream */
};

static struct conn conns[MAXC];
static unsigned char buf[BUF];
static char request[1024];
static size_t request_len;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static double cpu_of(long pid) {
    if (pid <= 0) return -1;
    char path[64], text[2048];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE* f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    char* p = strrchr(text, ')');
    if (!p) return -1;
    unsigned long ut = 0, st = 0;
    /* fields after ')': state(3) ... utime(14) stime(15) */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2) return -1;
    return (double)(ut + st) / sysconf(_SC_CLK_TCK);
}

static int write_all(int fd, const void* p, size_t n) {
    const unsigned char* b = p;
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static void start_stream(struct conn* c) {
    c->head_have = 0;
    c->last_nl = 0;
    memset(c->tail, 0, sizeof c->tail);
    c->events = 0;
}

int main(int argc, char** argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s HOST PORT PATH [CONNS] [SECS] [PID] [EVENTS]\n", argv[0]);
        return 2;
    }
    const char* host = argv[1];
    int port = atoi(argv[2]);
    const char* path = argv[3];
    int nconn = argc > 4 ? atoi(argv[4]) : 64;
    int secs = argc > 5 ? atoi(argv[5]) : 10;
    long pid = argc > 6 ? atol(argv[6]) : 0;
    long expect = argc > 7 ? atol(argv[7]) : 0;
    if (nconn < 1 || nconn > MAXC || secs < 1 || secs > 600 || expect < 0) {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    request_len = (size_t)snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: %s:%d\r\nAccept: text/event-stream\r\n\r\n",
                                   path, host, port);

    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1 || (ntohl(sa.sin_addr.s_addr) >> 24) != 127) {
        fprintf(stderr, "HOST must be a loopback IPv4 address\n");
        return 2;
    }
    int ep = epoll_create1(0);
    for (int i = 0; i < nconn; ++i) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (fd < 0 || connect(fd, (struct sockaddr*)&sa, sizeof sa)) {
            fprintf(stderr, "connection %d: connect failed\n", i);
            return 1;
        }
        conns[i].fd = fd;
        start_stream(&conns[i]);
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    }

    double cpu0 = cpu_of(pid), t0 = now(), end = t0 + secs;
    unsigned long long events = 0, streams = 0;
    for (int i = 0; i < nconn; ++i)
        if (write_all(conns[i].fd, request, request_len)) return 1;
    struct epoll_event evs[MAXC];
    while (now() < end) {
        int n = epoll_wait(ep, evs, MAXC, 100);
        for (int k = 0; k < n; ++k) {
            struct conn* c = &conns[evs[k].data.u32];
            ssize_t r = read(c->fd, buf, sizeof buf);
            if (r <= 0) {
                fprintf(stderr, "connection closed by the server\n");
                return 1;
            }
            size_t len = (size_t)r;
            /* The status line, once per stream. */
            for (size_t i = 0; c->head_have < 12 && i < len; ++i) c->head[c->head_have++] = (char)buf[i];
            if (c->head_have == 12 && memcmp(c->head, "HTTP/1.1 200", 12) != 0) {
                fprintf(stderr, "answer not 200: %.12s\n", c->head);
                return 1;
            }
            /* Events: each "\n\n", also split across reads. */
            if (c->last_nl && buf[0] == '\n') ++c->events;
            for (const unsigned char* p = buf; (p = memchr(p, '\n', (size_t)(buf + len - p))) != NULL; ++p)
                if (p + 1 < buf + len && p[1] == '\n') ++c->events;
            c->last_nl = buf[len - 1] == '\n';
            /* The stream's end: its last chunk is the last thing read (nothing follows it
             * until the next request). */
            if (len >= sizeof c->tail) {
                memcpy(c->tail, buf + len - sizeof c->tail, sizeof c->tail);
            } else {
                memmove(c->tail, c->tail + len, sizeof c->tail - len);
                memcpy(c->tail + sizeof c->tail - len, buf, len);
            }
            if (memcmp(c->tail, "\r\n0\r\n\r\n", sizeof c->tail) != 0) continue;
            if (expect > 0 && c->events != (unsigned long)expect) {
                fprintf(stderr, "a stream of %lu events, expected %ld\n", c->events, expect);
                return 1;
            }
            events += c->events;
            ++streams;
            start_stream(c);
            if (write_all(c->fd, request, request_len)) return 1;
        }
    }
    /* What the streams under way had received counts too. */
    for (int i = 0; i < nconn; ++i) events += conns[i].events;
    double t = now() - t0, cpu1 = cpu_of(pid);
    printf("events=%llu secs=%.3f events_per_s=%.0f streams=%llu", events, t, events / t, streams);
    if (cpu0 >= 0 && cpu1 > cpu0)
        printf(" server_cpu_s=%.3f events_per_cpu_s=%.0f", cpu1 - cpu0, events / (cpu1 - cpu0));
    printf("\n");
    for (int i = 0; i < nconn; ++i) close(conns[i].fd);
    return 0;
}
