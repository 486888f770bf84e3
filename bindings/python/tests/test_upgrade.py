"""Upgrade decisions (``on_upgrade``) and backpressure from Python, seen by a
raw socket client that reads the server's HTTP answer byte for byte."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import List, Optional

import pytest

from conftest import EchoServer, wait_type
from rocwebsocket import Accept, EventType, Reject, Server, UnknownConnectionError, UpgradeRequest, serve

GOOD = "https://good.example"


def handshake(port: int, origin: str, protocols: str = "chat.v1, chat.v2", path: str = "/up?x=1") -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: {origin}\r\nSec-WebSocket-Protocol: {protocols}\r\n\r\n"
        ).encode()
    )
    return s


def read_head(s: socket.socket) -> str:
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        b = s.recv(1)  # byte by byte: nothing past the head
        if not b:
            break
        head += b
    return head.decode("latin-1")


def closed(s: socket.socket, timeout: float = 2.0) -> bool:
    s.settimeout(timeout)
    try:
        while s.recv(4096):
            pass
        return True
    except socket.timeout:
        return False


seen: List[UpgradeRequest] = []


def origin_check(request: UpgradeRequest) -> Optional[object]:
    """The example: only pages of GOOD may open a socket."""
    seen.append(request)
    if request.origin != GOOD:
        return Reject(403, "bad origin")
    protocol = "chat.v2" if "chat.v2" in request.protocols else None
    return Accept(protocol, headers=[("X-Served-By", "python")])


@pytest.fixture
def guarded() -> EchoServer:
    seen.clear()
    s = EchoServer(on_upgrade=origin_check)
    yield s
    s.stop()
    s.server.free()


def test_wrong_origin_gets_403_before_any_101(guarded: EchoServer) -> None:
    s = handshake(guarded.server.port, "https://evil.example")
    head = read_head(s)
    assert head.startswith("HTTP/1.1 403 "), head
    assert "101" not in head
    assert closed(s)
    s.close()
    assert seen and seen[0].path == "/up?x=1" and seen[0].header("ORIGIN") == "https://evil.example"
    assert not any(e.type == EventType.OPEN for e in guarded.events)


def test_chosen_subprotocol_and_added_header_reach_the_client(guarded: EchoServer) -> None:
    s = handshake(guarded.server.port, GOOD)
    head = read_head(s)
    assert head.startswith("HTTP/1.1 101 "), head
    assert "\r\nSec-WebSocket-Protocol: chat.v2\r\n" in head
    assert "\r\nX-Served-By: python\r\n" in head
    ev = guarded.wait(lambda e: e.type == EventType.OPEN)
    assert ev.text == "/up?x=1"
    assert seen[0].protocols == ["chat.v1", "chat.v2"]
    s.close()


def test_a_failing_or_bad_decision_rejects_with_500() -> None:
    def bad(request: UpgradeRequest) -> Accept:
        return Accept(headers=[("Sec-WebSocket-Accept", "forged")])

    s = EchoServer(on_upgrade=bad)
    try:
        c = handshake(s.server.port, GOOD)
        head = read_head(c)
        assert head.startswith("HTTP/1.1 500 "), head
        assert "forged" not in head
        c.close()
    finally:
        s.stop()
        s.server.free()


def test_asyncio_serve_checks_the_origin_too() -> None:
    async def main() -> None:
        async def handler(conn: object) -> None:
            await asyncio.sleep(0.5)

        async with serve(handler, "127.0.0.1:0", on_upgrade=origin_check) as server:
            loop = asyncio.get_running_loop()
            bad = await loop.run_in_executor(None, lambda: read_head(handshake(server.port, "https://evil.example")))
            assert bad.startswith("HTTP/1.1 403 "), bad
            good = await loop.run_in_executor(None, lambda: read_head(handshake(server.port, GOOD)))
            assert good.startswith("HTTP/1.1 101 ") and "X-Served-By: python" in good, good

    seen.clear()
    asyncio.run(main())


MAX_BUFFERED = 256 << 10


def test_backpressure_then_drain_and_buffered_amount_from_another_thread() -> None:
    with Server(threads=1, backpressure_notify=True, max_buffered=MAX_BUFFERED) as server:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 10)
        s.connect(("127.0.0.1", server.port))
        s.sendall(
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        assert read_head(s).startswith("HTTP/1.1 101 ")
        conn = wait_type(server, EventType.OPEN).conn
        chunk = bytes(64 << 10)
        sent, pressure = 0, None
        while pressure is None and sent < (64 << 20):
            server.send(conn, chunk)
            sent += len(chunk)
            for ev in server.poll(0):
                assert ev.type != EventType.DRAIN
                if ev.type == EventType.BACKPRESSURE:
                    pressure = ev
        assert pressure is not None and pressure.conn == conn
        assert pressure.buffered_amount > MAX_BUFFERED
        amounts: List[int] = []
        t = threading.Thread(target=lambda: amounts.append(server.buffered_amount(conn)))
        t.start()
        t.join()
        assert MAX_BUFFERED < amounts[0] <= sent
        # The client reads: the queue drains.
        stop = threading.Event()

        def reader() -> None:
            s.settimeout(0.05)
            while not stop.is_set():
                try:
                    if not s.recv(1 << 16):
                        return
                except socket.timeout:
                    pass

        r = threading.Thread(target=reader)
        r.start()
        try:
            assert wait_type(server, EventType.DRAIN, conn, timeout=10).conn == conn
            assert server.buffered_amount(conn) == 0
        finally:
            stop.set()
            r.join()
        s.close()
        wait_type(server, EventType.CLOSE, conn)
        with pytest.raises(UnknownConnectionError):
            server.buffered_amount(conn)
