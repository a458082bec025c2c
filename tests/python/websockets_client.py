"""Python's websockets client (Debian's python3-websockets) against examples/websockets.cpp.
   /usr/bin/python3 tests/python/websockets_client.py PORT    prints "ok" or fails."""
import asyncio
import sys

import websockets


async def main(port):
    uri = f"ws://127.0.0.1:{port}/ws/echo"
    async with websockets.connect(uri, subprotocols=["chat", "superchat"], max_size=None) as ws:
        assert ws.subprotocol == "chat", ws.subprotocol
        await ws.send("héllo")
        got = await ws.recv()
        assert got == "héllo" and isinstance(got, str), got
        await ws.send(b"\x00\x01\xff")
        got = await ws.recv()
        assert got == b"\x00\x01\xff", got
        big = b"x" * (1 << 20)
        await ws.send(big)
        assert await ws.recv() == big
        await ws.send(["frag", "mented"])  # one message in two fragments
        assert await ws.recv() == "fragmented"
        pong = await ws.ping(b"hi")
        await asyncio.wait_for(pong, 5)
        await ws.close(4000, "bye")
        assert ws.close_code == 4000, ws.close_code  # the server echoed our code
    async with websockets.connect(uri) as ws:
        assert ws.subprotocol is None, ws.subprotocol
        await ws.send("plain")
        assert await ws.recv() == "plain"
    async with websockets.connect(uri, max_size=None) as ws:
        try:
            await ws.send(b"y" * (16 * 1024 * 1024 + 1))
            await asyncio.wait_for(ws.recv(), 20)
            raise AssertionError("a message over 16 MiB was echoed")
        except websockets.ConnectionClosed as e:
            assert e.rcvd is not None and e.rcvd.code == 1009, e
    print("ok")


asyncio.run(asyncio.wait_for(main(int(sys.argv[1])), 60))
