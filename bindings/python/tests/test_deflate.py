"""permessage-deflate (RFC 7692) against Python's own `websockets`, whose
client offers it with context takeover on both sides by default: thousands
of mixed messages (compressed, below the threshold, binary, large) must
come back intact, which fails at once if either side's window drifts."""

from __future__ import annotations

import asyncio
import json
import random

from conftest import EchoServer


def _messages(n: int):
    rng = random.Random(7)
    for i in range(n):
        kind = i % 5
        if kind == 0:
            yield json.dumps({"type": "tick", "symbol": "BTC-USD", "seq": i,
                              "price": "%d.%02d" % (40000 + rng.randrange(97), i % 100),
                              "size": "0.%04d" % rng.randrange(10000)})
        elif kind == 1:
            yield "ok"  # below the threshold: sent uncompressed
        elif kind == 2:
            yield bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400)))
        elif kind == 3:
            yield "é" * rng.randrange(100, 3000)
        else:
            yield b"market data " * rng.randrange(10, 2000)


def test_python_websockets_with_deflate_stays_in_step() -> None:
    import websockets  # installed by scripts/test-python.sh
    srv = EchoServer(listen=["127.0.0.1:0"], deflate=True)
    try:
        async def talk() -> None:
            async with websockets.connect(f"ws://127.0.0.1:{srv.server.port}/z",
                                          max_size=None) as ws:
                answer = ws.response.headers.get("Sec-WebSocket-Extensions", "")
                assert answer.startswith("permessage-deflate"), answer
                for i, msg in enumerate(_messages(3000)):
                    await ws.send(msg)
                    assert await ws.recv() == msg, i

        asyncio.run(talk())
    finally:
        srv.stop()
        srv.server.free()


def test_deflate_is_declined_when_off() -> None:
    import websockets
    srv = EchoServer(listen=["127.0.0.1:0"])
    try:
        async def talk() -> None:
            async with websockets.connect(f"ws://127.0.0.1:{srv.server.port}/") as ws:
                assert "Sec-WebSocket-Extensions" not in ws.response.headers
                await ws.send("x" * 500)
                assert await ws.recv() == "x" * 500

        asyncio.run(talk())
    finally:
        srv.stop()
        srv.server.free()
