"""Topics across engines through a real redis-server (``broker=`` option).

scripts/test-cluster.sh, which the test command runs first, installs
redis-server; the test starts its own instance on a free port.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from typing import Iterator

import pytest

from conftest import EchoServer, open_client, wait_event
from rocwebsocket import Client, EngineStartError, EventType, RocwsError, Server, broker_stats


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def numsub(port: int, topic: str) -> int:
    out = subprocess.run(
        ["redis-cli", "-p", str(port), "PUBSUB", "NUMSUB", topic],
        capture_output=True, text=True, check=False,
    ).stdout.split()
    return int(out[1]) if len(out) == 2 else -1


def wait_for(pred, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "gave up waiting: " + what
        time.sleep(0.02)


@pytest.fixture
def redis_port() -> Iterator[int]:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server missing: run scripts/test-cluster.sh, which installs it")
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: numsub(port, "x") == 0, "redis-server up")
        yield port
    finally:
        proc.kill()
        proc.wait()


def test_publish_on_one_engine_reaches_a_subscriber_of_another(redis_port: int, client: Client) -> None:
    url = f"redis://127.0.0.1:{redis_port}"
    a, b = EchoServer(broker=url), EchoServer(broker=url)
    try:
        conn = open_client(client, b.url)
        b.wait(lambda e: e.type == EventType.OPEN)
        server_conn = next(e.conn for e in b.events if e.type == EventType.OPEN)
        b.server.subscribe(server_conn, "prices")
        wait_for(lambda: numsub(redis_port, "prices") == 1, "b subscribed at the broker")
        a.server.publish("prices", "p1")
        ev = wait_event(client, lambda e: e.type == EventType.TEXT)
        assert (ev.conn, bytes(ev.data)) == (conn, b"p1")
        # Counted once the broker answered: may trail the delivery.
        wait_for(lambda: broker_stats(a.server).published == 1, "a counted it")
        wait_for(lambda: broker_stats(b.server).received == 1, "b counted it")
        assert broker_stats(b.server).connected
        b.server.unsubscribe(server_conn, "prices")
        wait_for(lambda: numsub(redis_port, "prices") == 0, "b's interest gone at the broker")
    finally:
        a.stop()
        b.stop()


def test_bad_broker_url_fails_the_start_and_no_broker_has_no_stats() -> None:
    with pytest.raises(EngineStartError, match="broker URL"):
        Server(broker="nats://127.0.0.1:4222")
    with Server() as plain:
        with pytest.raises(RocwsError):
            broker_stats(plain)
