/* WebSocket echo load generator for tools/bench (issue 12's "WebSocket echo" row).
 *
 *   cc -O2 -o ws_load bench/ws_load.c
 *   taskset -c 1 ./ws_load HOST PORT PATH [CONNS=64] [SECS=10] [SIZE=64] [PID] [MAX_MSGS]
 *
 * Opens CONNS connections to ws://HOST:PORT/PATH (loopback only), each with one masked
 * text message of SIZE bytes in flight: when a connection's echo arrives whole it sends
 * the next. Runs SECS seconds (bounded), then prints one line:
 *   messages=N secs=S msgs_per_s=R [server_cpu_s=C msgs_per_cpu_s=M]
 * where the server CPU figures (utime+stime from /proc/PID/stat) are printed when PID is
 * given. Every echo is checked (opcode text, same length, same bytes); a wrong one or a
 * closed connection is an error (exit 1). One thread, epoll, edge-free (level) reads.
 * MAX_MSGS (0: none) ends the run after that many echoes: callgrind's instructions per message
 * are the difference of two runs with different counts.
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
    size_t have;              /* bytes of the current echo read */
    unsigned char in[BUF];
};

static struct conn conns[MAXC];
static unsigned char frame[BUF];
static size_t frame_len, payload_len;
static unsigned char payload[BUF];

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static double cpu_of(long pid) {
    if (pid <= 0) return -1;
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE* f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char* p = strrchr(buf, ')');
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

/* A masked text frame carrying payload (the mask is fixed: the server must unmask anyway). */
static void build_frame(void) {
    static const unsigned char mask[4] = {0x37, 0xfa, 0x21, 0x3d};
    size_t i = 0;
    frame[i++] = 0x81;
    if (payload_len < 126) {
        frame[i++] = 0x80 | (unsigned char)payload_len;
    } else {
        frame[i++] = 0x80 | 126;
        frame[i++] = (unsigned char)(payload_len >> 8);
        frame[i++] = (unsigned char)payload_len;
    }
    memcpy(frame + i, mask, 4);
    i += 4;
    for (size_t k = 0; k < payload_len; ++k) frame[i++] = payload[k] ^ mask[k % 4];
    frame_len = i;
}

static int handshake(int fd, const char* host, int port, const char* path) {
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                     path, host, port);
    if (write_all(fd, req, (size_t)n)) return -1;
    char resp[4096];
    size_t have = 0;
    double deadline = now() + 5;
    while (have < sizeof resp - 1 && now() < deadline) {
        ssize_t r = read(fd, resp + have, 1); /* byte by byte: never read past the head */
        if (r <= 0) return -1;
        have += (size_t)r;
        resp[have] = 0;
        if (have >= 4 && memcmp(resp + have - 4, "\r\n\r\n", 4) == 0)
            return strncmp(resp, "HTTP/1.1 101", 12) == 0 ? 0 : -1;
    }
    return -1;
}

int main(int argc, char** argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s HOST PORT PATH [CONNS] [SECS] [SIZE] [PID] [MAX_MSGS]\n", argv[0]);
        return 2;
    }
    const char* host = argv[1];
    int port = atoi(argv[2]);
    const char* path = argv[3];
    int nconn = argc > 4 ? atoi(argv[4]) : 64;
    int secs = argc > 5 ? atoi(argv[5]) : 10;
    payload_len = argc > 6 ? (size_t)atoi(argv[6]) : 64;
    long pid = argc > 7 ? atol(argv[7]) : 0;
    unsigned long long max_msgs = argc > 8 ? strtoull(argv[8], 0, 10) : 0;
    if (nconn < 1 || nconn > MAXC || secs < 1 || secs > 600 || payload_len < 1 || payload_len > 60000) {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    for (size_t i = 0; i < payload_len; ++i) payload[i] = (unsigned char)('a' + i % 26);
    build_frame();

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
        if (fd < 0 || connect(fd, (struct sockaddr*)&sa, sizeof sa) || handshake(fd, host, port, path)) {
            fprintf(stderr, "connection %d: connect or handshake failed\n", i);
            return 1;
        }
        conns[i].fd = fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    }
    /* The echo expected: an unmasked text frame of payload_len bytes. */
    size_t hdr = payload_len < 126 ? 2 : 4, want = hdr + payload_len;

    double cpu0 = cpu_of(pid), t0 = now(), end = t0 + secs;
    unsigned long long msgs = 0;
    for (int i = 0; i < nconn; ++i)
        if (write_all(conns[i].fd, frame, frame_len)) return 1;
    struct epoll_event evs[MAXC];
    while (now() < end) {
        int n = epoll_wait(ep, evs, MAXC, 100);
        for (int k = 0; k < n; ++k) {
            struct conn* c = &conns[evs[k].data.u32];
            ssize_t r = read(c->fd, c->in + c->have, want - c->have);
            if (r <= 0) {
                fprintf(stderr, "connection closed by the server\n");
                return 1;
            }
            c->have += (size_t)r;
            if (c->have < want) continue;
            if (c->in[0] != 0x81 || (c->in[1] & 0x80) ||
                (hdr == 2 ? c->in[1] != payload_len
                          : (c->in[1] != 126 || ((size_t)c->in[2] << 8 | c->in[3]) != payload_len)) ||
                memcmp(c->in + hdr, payload, payload_len) != 0) {
                fprintf(stderr, "wrong echo\n");
                return 1;
            }
            c->have = 0;
            if (++msgs == max_msgs) end = 0;
            if (max_msgs && msgs + (unsigned long long)nconn > max_msgs) continue; /* the last ones in flight */
            if (write_all(c->fd, frame, frame_len)) return 1;
        }
    }
    double t = now() - t0, cpu1 = cpu_of(pid);
    printf("messages=%llu secs=%.3f msgs_per_s=%.0f", msgs, t, msgs / t);
    if (cpu0 >= 0 && cpu1 > cpu0)
        printf(" server_cpu_s=%.3f msgs_per_cpu_s=%.0f", cpu1 - cpu0, msgs / (cpu1 - cpu0));
    printf("\n");
    /* Close frames (masked, code 1000), then the sockets. */
    static const unsigned char close_frame[] = {0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8};
    for (int i = 0; i < nconn; ++i) {
        (void)!write(conns[i].fd, close_frame, sizeof close_frame);
        close(conns[i].fd);
    }
    return 0;
}
