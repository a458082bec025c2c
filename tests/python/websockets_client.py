"""Python's websockets client (Debian's python3-websockets) against examples/websockets.cpp.
   /usr/bin/python3 tests/python/websockets_client.py PORT           prints "ok" or fails
   /usr/bin/python3 tests/python/websockets_client.py PORT deflate   only the echo, which must
       agree to permessage-deflate (a server built with FASTAPI_WITH_ZLIB)
   /usr/bin/python3 tests/python/websockets_client.py PORT across PORT2   room x on two
       processes sharing a Redis: what is sent on one reaches both; prints "phase1" once it
       did, then (while the test restarts Redis) sends until it reaches both again, then "ok"."""
import asyncio
import sys

import websockets


async def main(port, mode):
    if mode == "across":
        await across(port, int(sys.argv[3]))
        print("ok")
        return
    if mode == "deflate":
        await echo(port, "deflate", 1)
        print("ok")
        return
    # Twice: without compression, and with the client's default offer of permessage-deflate,
    # which a server built without zlib (the example's one-line build) declines.
    for compression in (None, "deflate"):
        await echo(port, compression, 0)
    await rooms(port)
    print("ok")


async def echo(port, compression, extensions):
    uri = f"ws://127.0.0.1:{port}/ws/echo"
    async with websockets.connect(uri, subprotocols=["chat", "superchat"], max_size=None, compression=compression) as ws:
        assert ws.subprotocol == "chat", ws.subprotocol
        assert len(ws.extensions) == extensions, ws.extensions
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
    async with websockets.connect(uri, compression=compression) as ws:
        assert ws.subprotocol is None, ws.subprotocol
        await ws.send("plain")
        assert await ws.recv() == "plain"
    async with websockets.connect(uri, max_size=None, compression=compression) as ws:
        try:
            # Compressed, this is a few kilobytes: the limit applies to what it inflates to.
            await ws.send(b"y" * (16 * 1024 * 1024 + 1))
            await asyncio.wait_for(ws.recv(), 20)
            raise AssertionError("a message over 16 MiB was echoed")
        except websockets.ConnectionClosed as e:
            assert e.rcvd is not None and e.rcvd.code == 1009, e


async def rooms(port):
    """/ws/rooms/{room}: two clients in room a, one in room b."""
    import json

    def room(name):
        return websockets.connect(f"ws://127.0.0.1:{port}/ws/rooms/{name}")

    async def nothing_for(ws, seconds=0.3):
        try:
            got = await asyncio.wait_for(ws.recv(), seconds)
            raise AssertionError(f"unexpected message: {got}")
        except asyncio.TimeoutError:
            pass

    # One at a time: each one's first message comes back to it, and then it is in its room.
    ann = await room("a")
    await ann.send(json.dumps({"user": "ann", "text": "joined"}))
    assert json.loads(await ann.recv()) == {"user": "ann", "text": "joined"}
    bob = await room("a")
    await bob.send(json.dumps({"user": "bob", "text": "joined"}))
    assert json.loads(await bob.recv()) == {"user": "bob", "text": "joined"}
    assert json.loads(await ann.recv()) == {"user": "bob", "text": "joined"}
    cat = await room("b")
    await cat.send(json.dumps({"user": "cat", "text": "joined"}))
    assert json.loads(await cat.recv()) == {"user": "cat", "text": "joined"}
    try:
        await ann.send(json.dumps({"user": "ann", "text": "hello, room a"}))
        for ws in (ann, bob):
            assert json.loads(await ws.recv()) == {"user": "ann", "text": "hello, room a"}
        await nothing_for(cat)

        # Invalid: answered with FastAPI's error list, to the sender only.
        await bob.send(json.dumps({"user": "bob", "text": ""}))
        err = json.loads(await bob.recv())
        assert err["detail"][0]["type"] == "string_too_short", err
        assert err["detail"][0]["loc"][-1] == "text", err
        await bob.send(json.dumps({"user": "bob", "text": "x" * 501}))
        err = json.loads(await bob.recv())
        assert err["detail"][0]["type"] == "string_too_long", err
        await bob.send("not json")
        err = json.loads(await bob.recv())
        assert err["detail"][0]["type"] == "json_invalid", err
        await bob.send(json.dumps({"text": "who am I"}))
        err = json.loads(await bob.recv())
        assert err["detail"][0]["type"] == "missing", err
        await nothing_for(ann)
        await nothing_for(cat, 0.1)

        await cat.send(json.dumps({"user": "cat", "text": "only b"}))
        assert json.loads(await cat.recv()) == {"user": "cat", "text": "only b"}
        await nothing_for(ann, 0.2)
        await nothing_for(bob, 0.1)
    finally:
        for ws in (ann, bob, cat):
            await ws.close()
    # Everyone left: a new member of room a hears only what comes after it joined.
    async with room("a") as dan:
        await dan.send(json.dumps({"user": "dan", "text": "anyone?"}))
        assert json.loads(await dan.recv()) == {"user": "dan", "text": "anyone?"}


async def across(port_a, port_b):
    """Room x on two processes: ann on the first, bob on the second."""
    import json

    async def until(ws, text, seconds):
        """Reads until the message `text` (others skipped); whether it came in time."""
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while True:
            left = end - loop.time()
            if left <= 0:
                return False
            try:
                got = json.loads(await asyncio.wait_for(ws.recv(), left))
            except asyncio.TimeoutError:
                return False
            if got.get("text") == text:
                return True

    async def reaches(sender, others, tag, tries, wait):
        """Sends until its message comes back to the sender and then reaches every other one."""
        for i in range(tries):
            text = f"{tag}-{i}"
            await sender.send(json.dumps({"user": "t", "text": text}))
            if not await until(sender, text, wait):
                continue
            if all([await until(ws, text, 2) for ws in others]):
                return True
        return False

    ann = await websockets.connect(f"ws://127.0.0.1:{port_a}/ws/rooms/x")
    bob = await websockets.connect(f"ws://127.0.0.1:{port_b}/ws/rooms/x")
    try:
        # Joined once a message comes back (the SUBSCRIBE is made as the first member joins).
        assert await reaches(ann, [], "sync-a", 50, 0.2)
        assert await reaches(bob, [ann], "sync-b", 50, 0.2)
        # Now each message reaches both, at once.
        await ann.send(json.dumps({"user": "ann", "text": "from A"}))
        assert await until(ann, "from A", 5) and await until(bob, "from A", 5)
        await bob.send(json.dumps({"user": "bob", "text": "from B"}))
        assert await until(bob, "from B", 5) and await until(ann, "from B", 5)
        print("phase1", flush=True)
        # Redis restarts: both processes subscribe again, and messages flow again (bounded).
        assert await reaches(ann, [bob], "after", 100, 0.2), "no message reached both after the restart"
        assert await reaches(bob, [ann], "after-b", 20, 1)
    finally:
        await ann.close()
        await bob.close()


asyncio.run(asyncio.wait_for(main(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else ""), 60))
