"""The feed client (rocwebsocket.feed) against ``rocws exchange-sim``:
reconnect with backoff after cuts and 429 refusals, resubscription, the
required application ping and the exchange's pings answered inside the
engine, round-trip times, a blackholed connection declared dead by the
keepalive; and the example feed client run as a program."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import wait_event
from rocwebsocket import Client, EventType
from rocwebsocket.feed import (
    AppKeepalive,
    AutoReply,
    FeedOptions,
    Reconnect,
    conn_stats,
    connect_feed,
    protocol,
    reconnect_info,
)

ROCWS = os.environ.get("ROCWS_BIN") or str(
    Path(__file__).resolve().parents[3] / "target" / "release" / "rocws"
)


@pytest.fixture
def exchange(request):
    """Starts ``rocws exchange-sim`` with the test's arguments; yields its URL."""
    args = getattr(request, "param", [])
    proc = subprocess.Popen(
        [ROCWS, "exchange-sim", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stderr.readline()
    url = line.strip().rsplit(" ", 1)[-1]
    assert url.startswith("ws"), line
    yield url
    proc.kill()
    proc.wait()


def _pings():
    return (
        AppKeepalive(b'{"op":"ping"}', b'{"op":"pong"}', interval=0.1, deadline=0.5),
        AutoReply(b'{"ping":', b"}", b'{"pong":', b"}", max_capture=20),
    )


def _seq(ev):
    return ev.type is EventType.TEXT and ev.text.startswith('{"seq":')


@pytest.mark.parametrize(
    "exchange", [["--cut-after-ms", "300", "--refuse-ms", "200"]], indirect=True
)
def test_reconnects_within_backoff_and_resubscribes(exchange):
    with Client(threads=1) as client:
        opts = FeedOptions(tag=3, reconnect=Reconnect(initial=0.04, max_delay=0.16))
        connect_feed(client, exchange, opts)
        ev = wait_event(client, lambda e: e.type is EventType.OPEN)
        assert ev.tag == 3 and reconnect_info(client, ev.conn) is None
        client.send(ev.conn, '{"op":"subscribe"}')
        for _ in range(2):
            wait_event(client, _seq)
            closed = wait_event(client, lambda e: e.type is EventType.CLOSE, timeout=10)
            assert closed.close_code == 1012
            ev = wait_event(client, lambda e: e.type is EventType.OPEN, timeout=10)
            attempt, down = reconnect_info(client, ev.conn)
            # Refused for 200 ms after the cut: the first attempts (<= 40 ms,
            # then <= 80 ms more) came too early.
            assert attempt >= 2 and down >= 0.15, (attempt, down)
            client.send(ev.conn, '{"op":"subscribe"}')
            wait_event(client, _seq)
        assert conn_stats(client, ev.conn).reconnects == 2


@pytest.mark.parametrize(
    "exchange", [["--require-ping-ms", "300", "--server-ping-ms", "50"]], indirect=True
)
def test_pings_answered_inside_the_engine(exchange):
    keepalive, auto = _pings()
    with Client(threads=1) as client:
        opts = FeedOptions(
            keepalive=keepalive, auto_replies=[auto], rtt_ping_interval=0.05, protocols=["feed.v1"]
        )
        connect_feed(client, exchange, opts)
        ev = wait_event(client, lambda e: e.type is EventType.OPEN)
        assert protocol(client, ev.conn) is None  # the simulator chooses none
        client.send(ev.conn, '{"op":"subscribe"}')
        seen = []
        for _ in range(100):
            wait_event(client, _seq, seen=seen)
        assert not [e for e in seen if e.type is EventType.CLOSE], seen
        assert not [e for e in seen if e.type is EventType.TEXT and "ping" in e.text], seen
        client.send(ev.conn, '{"op":"stats"}')
        stats = wait_event(client, lambda e: e.type is EventType.TEXT and "pongs" in e.text)
        assert int(stats.text.split(":")[1].rstrip("}")) >= 10
        s = conn_stats(client, ev.conn)
        assert s.app_rtt_samples >= 3 and s.ws_rtt_samples >= 3, s
        assert 0 < s.app_rtt_min_us and 0 < s.ws_rtt_min_us, s


def test_blackholed_connection_declared_dead(exchange):
    keepalive, _ = _pings()
    with Client(threads=1) as client:
        opts = FeedOptions(keepalive=keepalive, reconnect=Reconnect(initial=0.02))
        connect_feed(client, exchange, opts)
        ev = wait_event(client, lambda e: e.type is EventType.OPEN)
        client.send(ev.conn, '{"op":"blackhole"}')
        # WebSocket pings are 30 s apart by default: only the 0.5 s
        # application keepalive ends it within the wait.
        closed = wait_event(client, lambda e: e.type is EventType.CLOSE, timeout=10)
        assert closed.close_code == 1006
        ev = wait_event(client, lambda e: e.type is EventType.OPEN, timeout=10)
        assert reconnect_info(client, ev.conn)[0] == 1


@pytest.mark.parametrize(
    "exchange",
    [["--cut-after-ms", "300", "--refuse-ms", "100", "--require-ping-ms", "300",
      "--server-ping-ms", "50", "--rate", "200"]],
    indirect=True,
)
def test_example_feed_client(exchange):
    example = Path(__file__).resolve().parents[1] / "examples" / "feed_client.py"
    out = subprocess.run(
        [sys.executable, str(example), exchange, "2"],
        capture_output=True, text=True, timeout=60, env=os.environ,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert " 2 reconnects" in out.stdout and "closed: 1012" in out.stdout, out.stdout
    assert "closed: 4000" not in out.stdout, out.stdout
