"""Errors: every failing C call raises a RocwsError subclass with the result
name and the library's message."""

from __future__ import annotations

import socket

import pytest

from conftest import EchoServer, open_client, wait_event
from rocwebsocket import (
    Client,
    EngineStartError,
    EventType,
    InvalidArgumentError,
    RocwsError,
    Server,
    StoppedError,
    UnknownConnectionError,
    Utf8Error,
)


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.mark.parametrize("url", ["http://127.0.0.1:1/", "ws://", "not a url", "ws://127.0.0.1:1/#frag"])
def test_bad_url(client: Client, url: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        client.connect(url)
    assert info.value.name == "RWS_ERR_INVALID_ARGUMENT"
    assert info.value.message


@pytest.mark.parametrize("addr", ["nonsense", "127.0.0.1", "300.1.1.1:80"])
def test_bad_listen_address(addr: str) -> None:
    with pytest.raises(EngineStartError) as info:
        Server([addr])
    assert addr in info.value.message


def test_listen_address_in_use() -> None:
    with Server(threads=1) as first:
        with pytest.raises(EngineStartError) as info:
            Server([f"127.0.0.1:{first.port}"], threads=1)
        assert info.value.message


def test_invalid_utf8_text_refused(echo: EchoServer, client: Client) -> None:
    conn = open_client(client, echo.url)
    with pytest.raises(Utf8Error) as info:
        client.send(conn, b"\xff\xfe", text=True)
    assert info.value.name == "RWS_ERR_UTF8"
    assert isinstance(info.value, RocwsError)
    with pytest.raises(Utf8Error):
        echo.server.broadcast(b"\xc3", text=True)
    client.send(conn, b"\xff\xfe")  # the same bytes as binary are fine


def test_connect_error_event_for_closed_port(client: Client) -> None:
    client.connect(f"ws://127.0.0.1:{closed_port()}/", tag=99)
    ev = wait_event(client, lambda e: e.tag == 99)
    assert ev.type == EventType.CONNECT_ERROR
    assert ev.text  # the OS error, e.g. "Connection refused"


def test_unknown_connection(client: Client) -> None:
    # Ids name their event-loop thread in the top byte; no engine has 255.
    # (An id of a live thread whose connection is gone is dropped silently.)
    with pytest.raises(UnknownConnectionError) as info:
        client.send(0xFF << 56, "x")
    assert info.value.name == "RWS_ERR_UNKNOWN_CONNECTION"


def test_bad_close_reason(echo: EchoServer, client: Client) -> None:
    conn = open_client(client, echo.url)
    with pytest.raises(InvalidArgumentError):
        client.close(conn, 1000, "x" * 124)
    with pytest.raises(InvalidArgumentError):
        client.close(conn, 1005)  # local only: may not be sent


def test_calls_after_stop_and_free() -> None:
    server = Server(threads=1)
    server.stop()
    with pytest.raises(StoppedError):
        server.broadcast("x")
    assert server.poll(timeout=None) == []  # stopped and drained: returns at once
    server.free()
    server.free()  # twice is fine
    with pytest.raises(StoppedError):
        server.broadcast("x")
