/* ws_ceiling.c: the WebSocket echo ceiling for tools/bench (the yardstick of the WebSocket rows,
 * as bench/ceiling.c is for the HTTP rows).
 *
 * A minimal single-threaded epoll server: it answers any request head with a canned 101 (no
 * Sec-WebSocket-Accept computed: bench/ws_load does not check it; a real client would refuse
 * it), then, per frame read, unmasks the payload and writes it back unmasked with the same
 * opcode; a close frame is echoed and the connection closed. No UTF-8 check, no fragmentation,
 * no limits beyond its buffers: it measures what one read and one write per message cost on
 * this kernel, which no server can go below with one message in flight per connection.
 *
 *   gcc -O2 bench/ws_ceiling.c -o ws_ceiling && ./ws_ceiling 127.0.0.1 8080
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
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
#define OUT_CAP (128 * 1024)
#define MAX_FD 65536

static const char UPGRADE[] =
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

struct conn {
    int open, upgraded;
    size_t in_len, out_len;
    unsigned char in[IN_CAP];
    unsigned char out[OUT_CAP];
};
static struct conn* conns[MAX_FD];

static void drop(int ep, int fd) {
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
    free(conns[fd]);
    conns[fd] = NULL;
}

/* Writes what is pending; 0 when all of it went, 1 when the socket is full, -1 on error. */
static int flush_out(int ep, int fd, struct conn* c) {
    size_t off = 0;
    while (off < c->out_len) {
        ssize_t n = write(fd, c->out + off, c->out_len - off);
        if (n > 0) { off += (size_t)n; continue; }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            memmove(c->out, c->out + off, c->out_len - off);
            c->out_len -= off;
            struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.fd = fd};
            epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
            return 1;
        }
        return -1;
    }
    c->out_len = 0;
    return 0;
}

/* Consumes the complete frames in c->in; returns -1 to close the connection. */
static int echo_frames(struct conn* c) {
    size_t pos = 0;
    for (;;) {
        size_t left = c->in_len - pos;
        if (left < 2) break;
        const unsigned char* f = c->in + pos;
        unsigned opcode = f[0] & 0x0f;
        if (!(f[1] & 0x80)) return -1; /* client frames are masked */
        size_t len = f[1] & 0x7f, head = 2;
        if (len == 126) {
            if (left < 4) break;
            len = ((size_t)f[2] << 8) | f[3];
            head = 4;
        } else if (len == 127) {
            return -1; /* beyond this yardstick's buffers */
        }
        if (len + head + 4 > IN_CAP) return -1;
        if (left < head + 4 + len) break;
        const unsigned char* mask = f + head;
        const unsigned char* payload = f + head + 4;
        if (c->out_len + len + 4 > OUT_CAP) break; /* the echo waits for room */
        unsigned char* o = c->out + c->out_len;
        o[0] = (unsigned char)(0x80 | opcode);
        size_t oh = 2;
        if (len < 126) {
            o[1] = (unsigned char)len;
        } else {
            o[1] = 126;
            o[2] = (unsigned char)(len >> 8);
            o[3] = (unsigned char)len;
            oh = 4;
        }
        for (size_t k = 0; k < len; ++k) o[oh + k] = payload[k] ^ mask[k & 3];
        c->out_len += oh + len;
        pos += head + 4 + len;
        if (opcode == 8) { c->in_len = 0; return -2; } /* close echoed: close after the write */
    }
    memmove(c->in, c->in + pos, c->in_len - pos);
    c->in_len -= pos;
    return 0;
}

int main(int argc, char** argv) {
    const char* host = argc > 1 ? argv[1] : "127.0.0.1";
    int port = argc > 2 ? atoi(argv[2]) : 8080;
    signal(SIGPIPE, SIG_IGN);
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) { fprintf(stderr, "bad host\n"); return 2; }
    if (bind(ls, (struct sockaddr*)&addr, sizeof addr) || listen(ls, 1024)) { perror("bind/listen"); return 3; }
    int ep = epoll_create1(0);
    struct epoll_event lev = {.events = EPOLLIN, .data.fd = ls};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &lev);
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        if (n < 0 && errno == EINTR) continue;
        for (int i = 0; i < n; ++i) {
            int fd = evs[i].data.fd;
            if (fd == ls) {
                for (;;) {
                    int cfd = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
                    if (cfd < 0) break;
                    if (cfd >= MAX_FD) { close(cfd); continue; }
                    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    conns[cfd] = calloc(1, sizeof(struct conn));
                    if (!conns[cfd]) { close(cfd); continue; }
                    struct epoll_event ev = {.events = EPOLLIN, .data.fd = cfd};
                    epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &ev);
                }
                continue;
            }
            struct conn* c = conns[fd];
            if (!c) continue;
            if (evs[i].events & EPOLLOUT) {
                int r = flush_out(ep, fd, c);
                if (r < 0) { drop(ep, fd); continue; }
                if (r == 0) {
                    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
                    epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
                }
            }
            if (!(evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) continue;
            ssize_t got = read(fd, c->in + c->in_len, IN_CAP - c->in_len);
            if (got <= 0) {
                if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
                drop(ep, fd);
                continue;
            }
            c->in_len += (size_t)got;
            int closing = 0;
            if (!c->upgraded) {
                unsigned char* end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
                if (!end) { if (c->in_len == IN_CAP) drop(ep, fd); continue; }
                size_t used = (size_t)(end - c->in) + 4;
                memmove(c->in, c->in + used, c->in_len - used);
                c->in_len -= used;
                memcpy(c->out + c->out_len, UPGRADE, sizeof UPGRADE - 1);
                c->out_len += sizeof UPGRADE - 1;
                c->upgraded = 1;
            }
            int r = echo_frames(c);
            if (r == -1) { drop(ep, fd); continue; }
            if (r == -2) closing = 1;
            if (c->out_len && flush_out(ep, fd, c) < 0) { drop(ep, fd); continue; }
            if (closing && c->out_len == 0) drop(ep, fd);
        }
    }
}
