"""The shapes ``websockets`` and ``picows`` users know: ``ws = await
connect()``, ``ping()`` with the round-trip time, one error class per dial
failure, str/bytes or views in a Listener, typed kinds, logs to ``logging``."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from typing import Any, Coroutine, List, Tuple, Union

import pytest

from rocwebsocket import (
    Accept,
    Client,
    ConnectionClosedError,
    InvalidArgumentError,
    Connection,
    ConnectError,
    EventType,
    HandshakeRejectedError,
    Listener,
    OpenTimeoutError,
    RefusedError,
    Reject,
    Server,
    UnknownHostError,
    UpgradeRequest,
    connect,
    serve,
    sync_log_level,
)


def run(coro: Coroutine[Any, Any, None]) -> None:
    asyncio.run(asyncio.wait_for(coro, 30))


async def echo(ws: Connection) -> None:
    async for msg in ws:
        await ws.send(msg)


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()
    return port


def test_await_connect_ping_and_close_frees_the_engine() -> None:
    async def main() -> None:
        async with serve(echo, "127.0.0.1:0") as server:
            ws = await connect(f"ws://127.0.0.1:{server.port}/x")
            assert ws.remote_address == ("127.0.0.1", server.port)
            await ws.send("héllo")
            got = await ws.recv()
            assert isinstance(got, str) and got == "héllo"
            waiters = [await ws.ping() for _ in range(3)]
            rtts = [await w for w in waiters]
            assert all(isinstance(r, float) and r > 0 for r in rtts)
            custom = await ws.ping(b"mine")
            assert await custom > 0
            await ws.close(4001, "done")
            assert ws.close_code == 4001
            for _ in range(200):  # the private client engine is freed after the close
                if ws.engine.stopped:
                    break
                await asyncio.sleep(0.01)
            assert ws.engine.stopped

    run(main())


def test_dial_error_kinds() -> None:
    async def main() -> None:
        port = free_port()
        with pytest.raises(RefusedError) as refused:
            await connect(f"ws://127.0.0.1:{port}/")
        assert isinstance(refused.value, ConnectError) and isinstance(refused.value, ConnectionRefusedError)
        assert refused.value.url == f"ws://127.0.0.1:{port}/"

        with pytest.raises(UnknownHostError) as unknown:
            await connect("ws://no-such-host.invalid/")
        assert unknown.value.host == "no-such-host.invalid"

        def deny(request: UpgradeRequest) -> Reject:
            return Reject(401, "who are you")

        async with Server(threads=1, on_upgrade=deny) as server:
            with pytest.raises(HandshakeRejectedError) as rejected:
                await connect(f"ws://127.0.0.1:{server.port}/")
        assert rejected.value.status == 401 and "401" in str(rejected.value)

        silent = socket.socket()  # accepts TCP, never answers the upgrade
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        try:
            with pytest.raises(OpenTimeoutError) as timeout:
                async with connect(f"ws://127.0.0.1:{silent.getsockname()[1]}/", open_timeout=0.3):
                    pass
            assert timeout.value.what == "open" and isinstance(timeout.value, TimeoutError)
            # The library's own handshake timeout, per connection.
            with pytest.raises(OpenTimeoutError) as hs_timeout:
                await connect(f"ws://127.0.0.1:{silent.getsockname()[1]}/", handshake_timeout=0.2)
            assert hs_timeout.value.what == "handshake"
        finally:
            silent.close()

    run(main())


def test_client_headers_subprotocols_and_per_connection_limits() -> None:
    async def main() -> None:
        seen: "asyncio.Queue[Connection]" = asyncio.Queue()

        def check(request: UpgradeRequest) -> Union[Accept, Reject]:
            if request.header("authorization") != "Bearer k":
                return Reject(401, "no key")
            return Accept(protocol="feed.v2" if "feed.v2" in request.protocols else None)

        async def handler(ws: Connection) -> None:
            await seen.put(ws)
            await echo(ws)

        async with serve(handler, "127.0.0.1:0", on_upgrade=check) as server:
            url = f"ws://127.0.0.1:{server.port}/"
            with pytest.raises(HandshakeRejectedError) as no_key:
                await connect(url, subprotocols=["feed.v2"])
            assert no_key.value.status == 401
            async with connect(url, headers={"Authorization": "Bearer k"}, subprotocols=["feed.v1", "feed.v2"]) as ws:
                assert ws.subprotocol == "feed.v2"
                assert ws.request_headers == [("Authorization", "Bearer k")]
                peer = await seen.get()
                assert peer.subprotocol == "feed.v2"
                assert peer.request_headers is not None and ("Authorization", "Bearer k") in peer.request_headers
            with pytest.raises(InvalidArgumentError):
                await connect(url, headers=[("Bad Name", "x")])

            # Limits per connection, on one shared client engine.
            async with Client() as client:
                small = await client.dial(url, headers={"Authorization": "Bearer k"}, max_message_size=10)
                big = await client.dial(url, headers=[("Authorization", "Bearer k")])
                assert small.subprotocol is None
                for ws in (small, big):
                    await ws.send("x" * 100)
                assert await big.recv() == "x" * 100
                with pytest.raises(ConnectionClosedError) as too_big:
                    await small.recv()
                assert too_big.value.code == 1009

    run(main())


def test_server_side_subprotocol_and_request_headers() -> None:
    async def main() -> None:
        seen: "asyncio.Queue[Connection]" = asyncio.Queue()

        def choose(request: UpgradeRequest) -> Accept:
            return Accept(protocol="feed.v2" if "feed.v2" in request.protocols else None)

        async def handler(ws: Connection) -> None:
            await seen.put(ws)
            await ws.wait_closed()

        async with serve(handler, "127.0.0.1:0", on_upgrade=choose) as server:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(
                b"GET /feed HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                b"Sec-WebSocket-Protocol: feed.v1, feed.v2\r\nX-Token: abc\r\n\r\n"
            )
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 101") and b"Sec-WebSocket-Protocol: feed.v2" in head
            ws = await seen.get()
            assert ws.subprotocol == "feed.v2"
            assert ws.request_headers is not None and ("X-Token", "abc") in ws.request_headers
            writer.close()

    run(main())


class Collect(Listener):
    def __init__(self) -> None:
        self.got: List[Tuple[EventType, Union[str, bytes, memoryview]]] = []

    def on_message(self, conn: Connection, kind: EventType, data: Union[str, bytes, memoryview]) -> None:
        self.got.append((kind, data))


def test_listener_gets_str_and_bytes_by_default() -> None:
    async def main() -> None:
        listener = Collect()
        async with Server(threads=1, listener=listener) as server:
            async with connect(f"ws://127.0.0.1:{server.port}/") as ws:
                await ws.send(json.dumps({"px": 1.5}))
                await ws.send(b"\x00\x01")
                for _ in range(200):
                    if len(listener.got) == 2:
                        break
                    await asyncio.sleep(0.01)
        (k1, text), (k2, binary) = listener.got
        assert k1 is EventType.TEXT and isinstance(text, str) and json.loads(text) == {"px": 1.5}
        assert k2 is EventType.BINARY and binary == b"\x00\x01" and isinstance(binary, bytes)

    run(main())


def test_batch_kinds_are_typed() -> None:
    with Server(threads=1) as server:
        s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        s.sendall(
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        s.sendall(bytes([0x81, 0x82, 0, 0, 0, 0]) + b"hi")  # masked text "hi", zero mask
        kinds: List[EventType] = []
        messages = []
        for _ in range(50):
            batch = server.poll_batch(timeout=0.1)
            kinds += [batch.kind(i) for i in range(len(batch))]
            messages += list(batch.messages())
            if messages:
                break
        s.close()
        assert EventType.OPEN in kinds and all(isinstance(k, EventType) for k in kinds)
        kind, _, payload = messages[0]
        assert kind is EventType.TEXT and bytes(payload) == b"hi"


def _protocol_violation() -> None:
    """A server whose client sends an unmasked frame (1002): the library
    logs it once at INFO; returns after the connection is gone."""
    with Server(threads=1) as server:
        s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        s.sendall(
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        s.sendall(bytes([0x81, 0x02]) + b"hi")  # unmasked from a client: 1002
        s.close()  # the bad frame is read before the end of the stream
        for _ in range(100):
            if any(e.type is EventType.CLOSE for e in server.poll(timeout=0.05)):
                break


def test_library_logs_reach_logging(caplog: pytest.LogCaptureFixture) -> None:
    def infos() -> List[logging.LogRecord]:
        return [r for r in caplog.records if r.name.startswith("rocwebsocket") and r.levelno == logging.INFO]

    try:
        # Logging off for the package: the library is told so (level 0) and nothing comes.
        caplog.set_level(logging.CRITICAL + 1, logger="rocwebsocket")
        sync_log_level()
        _protocol_violation()
        assert not infos()
        caplog.set_level(logging.INFO, logger="rocwebsocket")
        sync_log_level()
        _protocol_violation()
        records = infos()
        assert records, caplog.records
        assert getattr(records[0], "rws_target").startswith("rocwebsocket")
    finally:
        caplog.set_level(logging.WARNING, logger="rocwebsocket")
        sync_log_level()
