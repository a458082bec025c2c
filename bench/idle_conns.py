#!/usr/bin/env python3
"""idle_conns.py: a server's resident memory with N idle keep-alive connections open.

    bench/idle_conns.py --port 8080 --pid <server pid> [--conns 1000] [--path /plaintext]

Opens N TCP connections to 127.0.0.1:PORT, sends one complete keep-alive GET on each and
reads its response (so every connection is established and served), then, with all of
them open and idle, reads the server's VmRSS from /proc/PID/status, and closes them.
The whole open+serve phase is bounded by --deadline seconds (default 2.5: the server's
keep-alive idle timeout is 5 s, so RSS must be read well before then); connections not
served by then are reported, not waited for. Prints one JSON object:
    {"conns": N, "connected": c, "served": s, "rss_before_kib": ..., "rss_kib": ...,
     "open_secs": t}
Standard library only; loopback only.
"""
import argparse
import errno
import json
import resource
import selectors
import socket
import sys
import time


def vm_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= need:
        return
    target = need if hard == resource.RLIM_INFINITY else min(max(need, soft), hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        pass


def response_complete(buf):
    """True once buf holds one whole response (Content-Length framed)."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return False
    length = 0
    for line in buf[:end].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            try:
                length = int(value.strip())
            except ValueError:
                length = 0
    return len(buf) >= end + 4 + length


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--conns", type=int, default=1000)
    ap.add_argument("--path", default="/plaintext")
    ap.add_argument("--deadline", type=float, default=2.5)
    args = ap.parse_args()

    raise_nofile(args.conns + 64)
    request = (f"GET {args.path} HTTP/1.1\r\nHost: 127.0.0.1:{args.port}\r\n"
               "Connection: keep-alive\r\n\r\n").encode()
    rss_before = vm_rss_kib(args.pid)

    sel = selectors.DefaultSelector()
    socks = []
    state = {}  # sock -> [phase, buffer]; phase: "connect", "read", "done"
    start = time.monotonic()
    deadline = start + args.deadline
    try:
        for _ in range(args.conns):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            err = s.connect_ex(("127.0.0.1", args.port))
            if err not in (0, errno.EINPROGRESS):
                s.close()
                continue
            socks.append(s)
            state[s] = ["connect", b""]
            sel.register(s, selectors.EVENT_WRITE)
        connected = served = 0
        pending = len(socks)
        # Bounded: ends when every socket is served or failed, or at the deadline.
        while pending and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=max(0.0, min(0.05, deadline - time.monotonic()))):
                s = key.fileobj
                st = state[s]
                if st[0] == "connect":
                    if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                        sel.unregister(s)
                        st[0] = "failed"
                        pending -= 1
                        continue
                    connected += 1
                    try:
                        s.send(request)  # tiny: fits in an empty socket buffer
                    except OSError:
                        sel.unregister(s)
                        st[0] = "failed"
                        pending -= 1
                        continue
                    st[0] = "read"
                    sel.modify(s, selectors.EVENT_READ)
                elif st[0] == "read":
                    try:
                        data = s.recv(65536)
                    except BlockingIOError:
                        continue
                    except OSError:
                        data = b""
                    if not data:
                        sel.unregister(s)
                        st[0] = "failed"
                        pending -= 1
                        continue
                    st[1] += data
                    if response_complete(st[1]):
                        sel.unregister(s)
                        st[0] = "done"
                        served += 1
                        pending -= 1
        open_secs = time.monotonic() - start
        rss = vm_rss_kib(args.pid)
        print(json.dumps({
            "conns": args.conns, "connected": connected, "served": served,
            "rss_before_kib": rss_before, "rss_kib": rss, "open_secs": round(open_secs, 3),
        }))
    finally:
        sel.close()
        for s in socks:
            s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
