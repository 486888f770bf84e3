"""The asyncio shapes: websockets-style serve/connect/``async for``, and a
picows-style Listener with zero-copy views."""

from __future__ import annotations

import asyncio
import socket
from typing import Any, Coroutine, List, Tuple, Union

import pytest

from rocwebsocket import (
    Client,
    CloseCode,
    ConnectError,
    Connection,
    ConnectionClosedError,
    ConnectionClosedOK,
    EventType,
    InvalidArgumentError,
    Listener,
    Server,
    connect,
    serve,
)


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 20))


async def echo_handler(conn: Connection) -> None:
    async for msg in conn:
        await conn.send(msg)


def test_serve_connect_echo() -> None:
    async def main() -> None:
        async with serve(echo_handler, threads=1) as server:
            async with connect(f"ws://127.0.0.1:{server.port}/chat") as ws:
                assert ws.path == "/chat"
                messages: List[Union[str, bytes]] = ["hello", "", "ü" * 70000, b"\x00\xff" * 40000, b""]
                for msg in messages:
                    await ws.send(msg)
                    assert await ws.recv() == msg
            assert ws.closed and ws.close_code == CloseCode.NORMAL

    run(main())


def test_async_for_ends_quietly_on_server_stop() -> None:
    async def main() -> None:
        received: List[str] = []
        async with serve(None, threads=1) as server:
            client = Client()
            ws = await client.dial(f"ws://127.0.0.1:{server.port}/")
            sconn = await server.accept()
            sconn.send_nowait("one")

            async def reader() -> None:
                async for msg in ws:
                    received.append(msg)  # type: ignore[arg-type]

            task = asyncio.ensure_future(reader())
            while not received:
                await asyncio.sleep(0.01)
        # Leaving serve() stopped the server: 1001 to the client.
        await asyncio.wait_for(task, 5)
        assert received == ["one"]
        assert ws.close_code == CloseCode.GOING_AWAY
        with pytest.raises(ConnectionClosedOK):
            await ws.recv()
        await client.aclose()

    run(main())


def test_client_close_code_reaches_server_handler() -> None:
    async def main() -> None:
        seen: List[Tuple[int, str]] = []

        async def handler(conn: Connection) -> None:
            try:
                async for _ in conn:
                    pass
            except ConnectionClosedError as e:
                seen.append((e.code, e.reason))

        async with serve(handler, threads=1) as server:
            async with connect(f"ws://127.0.0.1:{server.port}/") as ws:
                await ws.close(4001, "done")
                assert ws.close_code == 4001
            for _ in range(200):
                if seen:
                    break
                await asyncio.sleep(0.01)
        assert seen == [(4001, "done")]

    run(main())


def test_broadcast_and_publish_async() -> None:
    async def main() -> None:
        async with Server(threads=1) as server, Client() as client:
            url = f"ws://127.0.0.1:{server.port}/"
            a = await client.dial(url)
            b = await client.dial(url)
            sa = await server.accept()
            sb = await server.accept()
            server.broadcast("all")
            assert await a.recv() == "all" and await b.recv() == "all"
            # Tell which server connection is whose: a speaks first.
            await a.send("i am a")
            while not (sa._inbox or sb._inbox):
                await asyncio.sleep(0.005)
            who = sa if sa._inbox else sb
            who.subscribe("t")
            server.publish("t", b"for a")
            assert await a.recv() == b"for a"
            assert not b._inbox

    run(main())


class RecordingListener(Listener):
    zero_copy = True

    def __init__(self) -> None:
        self.views: List[memoryview] = []
        self.events: List[Tuple[str, Any]] = []

    def on_open(self, conn: Connection) -> None:
        self.events.append(("open", conn.path))

    def on_message(self, conn: Connection, kind: EventType, data: Union[str, bytes, memoryview]) -> None:
        assert isinstance(data, memoryview)
        self.views.append(data)
        self.events.append(("message", (kind, bytes(data))))
        # Echo straight from the callback: send() copies the view's bytes.
        conn.engine.send(conn.id, data, text=kind == EventType.TEXT)

    def on_close(self, conn: Connection, code: int, reason: str) -> None:
        self.events.append(("close", (int(code), reason)))


def test_listener_gets_zero_copy_views() -> None:
    async def main() -> None:
        listener = RecordingListener()
        async with Server(threads=1, listener=listener) as server:
            async with connect(f"ws://127.0.0.1:{server.port}/l") as ws:
                await ws.send("text")
                await ws.send(b"bin")
                assert await ws.recv() == "text"
                assert await ws.recv() == b"bin"
                await ws.close(4002, "bye")
            for _ in range(200):
                if listener.events[-1][0] == "close":
                    break
                await asyncio.sleep(0.01)
        assert listener.events == [
            ("open", "/l"),
            ("message", (EventType.TEXT, b"text")),
            ("message", (EventType.BINARY, b"bin")),
            ("close", (4002, "bye")),
        ]
        # Views are over each batch's own copy: still valid after the callback.
        assert [bytes(v) for v in listener.views] == [b"text", b"bin"]

    run(main())


def test_dial_errors() -> None:
    async def main() -> None:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        async with Client() as client:
            with pytest.raises(ConnectError) as info:
                await client.dial(f"ws://127.0.0.1:{port}/")
            assert info.value.message
            with pytest.raises(InvalidArgumentError):
                await client.dial("http://example.invalid/")
        with pytest.raises(ConnectError):
            async with connect(f"ws://127.0.0.1:{port}/"):
                pass

    run(main())
