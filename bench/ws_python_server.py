#!/usr/bin/env python3
"""Python's `websockets` echo server for tools/bench's WebSocket echo row (issue 12).

    /usr/bin/python3 bench/ws_python_server.py PORT     (listens on 127.0.0.1, any path)

Every message is sent back with its opcode (text or binary), as examples/websockets.cpp's
/ws/echo does. Debian's python3-websockets on asyncio; no compression and no keep-alive
pings (Node's ws sends none either), and messages up to 16 MiB (uvicorn's ws_max_size, and
fastapi.hpp's default) instead of websockets' 1 MiB.
"""
import asyncio
import sys

import websockets


async def echo(ws, path=None):  # path: the two-argument form of websockets < 10.1
    async for message in ws:
        await ws.send(message)


async def main(port):
    async with websockets.serve(echo, "127.0.0.1", port, compression=None, ping_interval=None,
                                max_size=16 * 1024 * 1024):
        print(f"listening on 127.0.0.1:{port}", flush=True)
        await asyncio.Future()  # until SIGTERM


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
