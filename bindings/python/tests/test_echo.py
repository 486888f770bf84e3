"""Echo through the blocking batched API: text and binary, several sizes."""

from __future__ import annotations

import pytest

from conftest import EchoServer, open_client, wait_event
from rocwebsocket import Client, EventType

SIZES = [0, 1, 125, 126, 65535, 65536, 1 << 20]


@pytest.mark.parametrize("size", SIZES)
def test_echo_binary(echo: EchoServer, client: Client, size: int) -> None:
    conn = open_client(client, echo.url)
    payload = bytes((i * 31 + 7) & 0xFF for i in range(size))
    client.send(conn, payload)
    ev = wait_event(client, lambda e: e.type in (EventType.BINARY, EventType.TEXT))
    assert ev.type == EventType.BINARY
    assert ev.conn == conn
    assert ev.data == payload


@pytest.mark.parametrize("size", SIZES)
def test_echo_text(echo: EchoServer, client: Client, size: int) -> None:
    conn = open_client(client, echo.url)
    text = ("héllo wörld ✓ " * (size // 16 + 1))[:size]
    client.send(conn, text)
    ev = wait_event(client, lambda e: e.type in (EventType.BINARY, EventType.TEXT))
    assert ev.type == EventType.TEXT
    assert ev.text == text


def test_many_messages_keep_order(echo: EchoServer, client: Client) -> None:
    conn = open_client(client, echo.url)
    n = 5000
    for i in range(n):
        client.send(conn, str(i))
    got = []
    while len(got) < n:
        got.extend(e.text for e in client.poll(timeout=2) if e.type == EventType.TEXT)
    assert got == [str(i) for i in range(n)]


def test_open_event_carries_path_and_tag(echo: EchoServer, client: Client) -> None:
    client.connect(echo.url + "feed?x=1", tag=42)
    ev = wait_event(client, lambda e: e.type == EventType.OPEN)
    assert ev.tag == 42
    assert ev.text == "/feed?x=1"
    sev = echo.wait(lambda e: e.type == EventType.OPEN)
    assert sev.text == "/feed?x=1"
    assert sev.tag == 0


def test_zero_copy_views_are_released_at_next_poll(echo: EchoServer, client: Client) -> None:
    conn = open_client(client, echo.url)
    client.send(conn, b"abc")
    ev = wait_event(client, lambda e: e.type == EventType.BINARY)
    assert isinstance(ev.data, bytes)  # the default copies
    client.send(conn, b"xyz")
    batch = []
    while not batch:
        batch = [e for e in client.poll(timeout=1, copy=False) if e.type == EventType.BINARY]
    view = batch[0].data
    assert isinstance(view, memoryview) and view.readonly
    assert bytes(view) == b"xyz"
    client.poll(timeout=0)
    with pytest.raises(ValueError):
        bytes(view)
