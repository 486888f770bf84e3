"""Echo through the blocking batched API: text and binary, several sizes."""

from __future__ import annotations

import time

import pytest

from conftest import EchoServer, open_client, wait_event
from rocwebsocket import Client, EventType, Server

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


def test_zero_copy_views_outlive_the_next_poll(echo: EchoServer, client: Client) -> None:
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
    # The view is over the batch's own copy, never over engine memory: later
    # polls (which recycle the engine's buffers) leave it intact.
    client.send(conn, b"later")
    wait_event(client, lambda e: e.type == EventType.BINARY)
    assert bytes(view) == b"xyz"


def test_poll_batch_columns(echo: EchoServer, client: Client) -> None:
    conn = open_client(client, echo.url)
    sent = [b"", b"x", "h\u00e9llo", b"\x00" * 70000, "last"]
    for m in sent:
        client.send(conn, m)
    got = []
    while len(got) < len(sent):
        batch = client.poll_batch(timeout=2)
        assert len(batch.offsets) == len(batch) + 1
        assert batch.offsets[0] == 0 and batch.offsets[-1] == len(batch.data)
        for kind, cid, payload in batch.messages():
            assert cid == conn
            got.append(str(payload, "utf-8") if kind == EventType.TEXT else bytes(payload))
        for i, kind in enumerate(batch.types):
            assert batch.conns[i] == conn and batch.tags[i] == 1 and batch.close_codes[i] == 0  # the connect tag rides on every event
            assert kind in (EventType.TEXT, EventType.BINARY)
            assert batch.payload(i) == bytes(batch.view(i))
    assert got == sent
    assert not client.poll_batch(timeout=0)


def test_a_slow_consumer_pauses_reading_and_loses_nothing(client: Client) -> None:
    with Server(threads=1, max_queued_bytes=64 * 1024) as server:
        conn = open_client(client, f"ws://127.0.0.1:{server.port}/")
        n, size = 3000, 1000
        for i in range(n):
            client.send(conn, i.to_bytes(4, "little") + bytes(size - 4))
        time.sleep(0.3)  # the server reads up to its cap, then stops
        first = None
        seqs = []
        deadline = time.monotonic() + 20
        while len(seqs) < n and time.monotonic() < deadline:
            batch = server.poll_batch(timeout=0.5)
            if first is None and len(batch) > 1:
                first = len(batch.data)
            seqs.extend(int.from_bytes(p[:4], "little") for _, _, p in batch.messages())
        assert seqs == list(range(n))
        # The cap plus what the reads that crossed it brought (64 KiB each),
        # not the 3 MB the client sent.
        assert first is not None and first <= 64 * 1024 * 3


def test_a_batch_served_in_slices_is_rebased(echo: EchoServer, client: Client) -> None:
    conn = open_client(client, echo.url)
    sent = [f"message {i}".encode() for i in range(10)]
    for m in sent:
        client.send(conn, m)
    time.sleep(0.3)  # all ten echoes queue up, then come out three at a time
    got = []
    while len(got) < len(sent):
        batch = client.poll_batch(timeout=2, max_events=3)
        assert 0 < len(batch) <= 3
        assert batch.offsets[0] == 0 and batch.offsets[-1] == len(batch.data)
        got.extend(batch.payload(i) for i in range(len(batch)))
    assert got == sent
