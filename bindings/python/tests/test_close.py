"""Close codes both ways, and a stopping server's 1001."""

from __future__ import annotations

from conftest import EchoServer, open_client, wait_type
from rocwebsocket import Client, CloseCode, EventType


def test_client_close_code_reaches_server(echo: EchoServer, client: Client) -> None:
    conn = open_client(client, echo.url)
    echo.wait(lambda e: e.type == EventType.OPEN)
    client.close(conn, 4001, "bye now")
    ev = echo.wait(lambda e: e.type == EventType.CLOSE)
    assert ev.close_code == 4001
    assert ev.text == "bye now"
    mine = wait_type(client, EventType.CLOSE, conn)
    assert mine.close_code == 4001


def test_server_close_code_reaches_client(echo: EchoServer, client: Client) -> None:
    conn = open_client(client, echo.url)
    sconn = echo.wait(lambda e: e.type == EventType.OPEN).conn
    echo.server.close(sconn, CloseCode.POLICY_VIOLATION, "go away")
    ev = wait_type(client, EventType.CLOSE, conn)
    assert ev.close_code == CloseCode.POLICY_VIOLATION
    assert ev.text == "go away"


def test_server_stop_sends_going_away(echo: EchoServer, client: Client) -> None:
    conns = [open_client(client, echo.url, tag) for tag in (1, 2)]
    echo.stop(grace=1.0)
    for conn in conns:
        ev = wait_type(client, EventType.CLOSE, conn)
        assert ev.close_code == CloseCode.GOING_AWAY
    # The server's own view: every connection closed with 1001 too.
    closes = [e for e in echo.events if e.type == EventType.CLOSE]
    assert len(closes) == 2 and all(e.close_code == 1001 for e in closes)


def test_client_stop_closes_with_going_away(echo: EchoServer) -> None:
    client = Client()
    open_client(client, echo.url)
    client.stop()
    ev = echo.wait(lambda e: e.type == EventType.CLOSE)
    assert ev.close_code == CloseCode.GOING_AWAY
    client.free()


def test_close_code_enum() -> None:
    assert CloseCode.code(1001) is CloseCode.GOING_AWAY
    assert CloseCode.code(4001) == 4001
    assert CloseCode.describe(1009) == "message too big"


def test_events_loop_in_a_thread_ends_on_free() -> None:
    import threading

    from rocwebsocket import Server

    server = Server(threads=1)
    seen = []
    t = threading.Thread(target=lambda: seen.extend(server.events(timeout=None)))
    t.start()
    server.free()  # stop (1 s grace) and free while the loop polls
    t.join(5)
    assert not t.is_alive()
