"""Helpers shared by the tests: every test starts its own engines on port 0."""

from __future__ import annotations

import collections
import threading
import time
from typing import Callable, Deque, Dict, Iterator, List, Optional

import pytest

from rocwebsocket import Client, Engine, Event, EventType, Server


_pending: Dict[int, Deque[Event]] = {}


def wait_event(
    engine: Engine,
    pred: Callable[[Event], bool],
    timeout: float = 5.0,
    seen: Optional[List[Event]] = None,
) -> Event:
    """Polls ``engine`` until an event matches ``pred``; the others go to
    ``seen``. Events of a batch after the match are kept for the next call."""
    pending = _pending.setdefault(id(engine), collections.deque())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pending:
            pending.extend(engine.poll(timeout=0.05))
        while pending:
            ev = pending.popleft()
            if pred(ev):
                return ev
            if seen is not None:
                seen.append(ev)
    raise AssertionError("no matching event within %.1f s (saw %r)" % (timeout, seen))


def wait_type(engine: Engine, type_: EventType, conn: Optional[int] = None, timeout: float = 5.0) -> Event:
    return wait_event(engine, lambda e: e.type == type_ and (conn is None or e.conn == conn), timeout)


class EchoServer:
    """A Server whose events a background thread consumes: it echoes every
    message (same type) and records every event."""

    def __init__(self, **kwargs: object) -> None:
        self.server = Server(threads=1, **kwargs)  # type: ignore[arg-type]
        self.events: List[Event] = []
        self.opened = threading.Condition()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        for ev in self.server.events(timeout=None):
            # Recorded before the echo goes out, so a test that got the echo
            # finds the event here.
            with self.opened:
                self.events.append(ev)
                self.opened.notify_all()
            if ev.type in (EventType.TEXT, EventType.BINARY):
                try:
                    self.server.send(ev.conn, ev.data, text=ev.type == EventType.TEXT)
                except Exception:
                    pass

    def wait(self, pred: Callable[[Event], bool], timeout: float = 5.0) -> Event:
        with self.opened:
            ok = self.opened.wait_for(lambda: any(pred(e) for e in self.events), timeout)
            assert ok, "server saw no matching event (saw %r)" % self.events
            return next(e for e in self.events if pred(e))

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.server.port}/"

    def stop(self, grace: float = 1.0) -> None:
        self.server.stop(grace)
        self.thread.join(5)
        assert not self.thread.is_alive()


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    s = EchoServer()
    yield s
    s.stop()
    s.server.free()


@pytest.fixture
def client() -> Iterator[Client]:
    with Client() as c:
        yield c
    _pending.pop(id(c), None)


def open_client(client: Client, url: str, tag: int = 1) -> int:
    """Connects and waits for the OPEN event; returns the connection id."""
    client.connect(url, tag)
    ev = wait_event(client, lambda e: e.tag == tag and e.type in (EventType.OPEN, EventType.CONNECT_ERROR))
    assert ev.type == EventType.OPEN, ev
    return ev.conn
