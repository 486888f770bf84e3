"""Broadcast to every server-side connection; publish to a topic's subscribers."""

from __future__ import annotations

from typing import Dict, List

from conftest import EchoServer, open_client, wait_event
from rocwebsocket import Client, EventType


def collect(client: Client, want: int, timeout: float = 5.0) -> Dict[int, List[bytes]]:
    """Messages per client connection until ``want`` arrived."""
    got: Dict[int, List[bytes]] = {}
    n = 0
    while n < want:
        ev = wait_event(client, lambda e: e.type in (EventType.TEXT, EventType.BINARY), timeout)
        got.setdefault(ev.conn, []).append(bytes(ev.data))
        n += 1
    return got


def server_conns(echo: EchoServer, count: int) -> List[int]:
    echo.wait(lambda e: sum(x.type == EventType.OPEN for x in echo.events) >= count)
    return [e.conn for e in echo.events if e.type == EventType.OPEN]


def test_broadcast_reaches_every_connection(echo: EchoServer, client: Client) -> None:
    conns = [open_client(client, echo.url, tag) for tag in (1, 2, 3)]
    server_conns(echo, 3)
    echo.server.broadcast("to all")
    echo.server.broadcast(b"\x00\x01")
    got = collect(client, 6)
    assert sorted(got) == sorted(conns)
    for msgs in got.values():
        assert msgs == [b"to all", b"\x00\x01"]


def test_broadcast_skips_client_side_connections(echo: EchoServer, client: Client) -> None:
    open_client(client, echo.url)
    server_conns(echo, 1)
    client.broadcast("nobody")  # the client engine has no server-side connection
    assert not [e for e in client.poll(timeout=0.2) if e.type == EventType.TEXT]


def test_publish_subscribe(echo: EchoServer, client: Client) -> None:
    a, b, c = (open_client(client, echo.url, tag) for tag in (1, 2, 3))
    sa, sb, sc = server_conns(echo, 3)
    # The server learns which client is which from a hello message each.
    for conn, name in ((a, "a"), (b, "b"), (c, "c")):
        client.send(conn, name)
    collect(client, 3)  # their echoes
    names = {bytes(e.data).decode(): e.conn for e in echo.events if e.type == EventType.TEXT}
    echo.server.subscribe(names["a"], "prices")
    echo.server.subscribe(names["b"], "prices")
    echo.server.subscribe(names["c"], "news")
    echo.server.publish("prices", "p1")
    echo.server.publish("news", "n1")
    echo.server.publish("nobody-listens", "x")
    got = collect(client, 3)
    assert got == {a: [b"p1"], b: [b"p1"], c: [b"n1"]}
    echo.server.unsubscribe(names["b"], "prices")
    echo.server.publish("prices", "p2")
    assert collect(client, 1) == {a: [b"p2"]}
    assert {sa, sb, sc} == set(names.values())
