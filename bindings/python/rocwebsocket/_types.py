"""Plain value types: event kinds, close codes, events, closed-connection errors."""

from __future__ import annotations

import re
import sys
import urllib.parse
from enum import IntEnum
from typing import Union

from . import _ffi

__all__ = [
    "EventType",
    "CloseCode",
    "Event",
    "ConnectionClosed",
    "ConnectionClosedOK",
    "ConnectionClosedError",
    "ConnectError",
    "RefusedError",
    "UnknownHostError",
    "HandshakeRejectedError",
    "OpenTimeoutError",
]


class EventType(IntEnum):
    """``rws_event_type``: what an :class:`Event` reports."""

    NONE = 0
    #: A whole text message (valid UTF-8).
    TEXT = 1
    #: A whole binary message.
    BINARY = 2
    #: A ping arrived (the pong was queued automatically).
    PING = 3
    #: A pong arrived.
    PONG = 4
    #: The connection is gone: ``close_code`` and the reason in ``data``.
    CLOSE = 5
    #: The peer broke the protocol: ``close_code`` and the reason in ``data``.
    ERROR = 6
    #: A connection opened: the request path (server) or URL path (client) in
    #: ``data``; ``tag`` is the tag given to ``connect`` for clients, else 0.
    OPEN = 7
    #: A write queue emptied after it was blocked.
    DRAIN = 8
    #: A client connection tagged ``tag`` failed before it opened; the reason in ``data``.
    CONNECT_ERROR = 9
    #: An upgrade request awaits a decision (``decide_upgrades``): the raw request head in ``data``.
    UPGRADE = 10
    #: The write queue passed ``max_buffered`` (notify policy): the amount as a native ``uint64`` in ``data``.
    BACKPRESSURE = 11


class CloseCode(IntEnum):
    """Close codes of RFC 6455 section 7.4 and the IANA registry (``RWS_CLOSE_*``).

    Application codes 3000-4999 are plain ints; :func:`code` maps a number to
    a member when there is one.
    """

    NORMAL = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003
    #: Local only: the close frame had no code.
    NO_STATUS = 1005
    #: Local only: the connection ended without a closing handshake.
    ABNORMAL = 1006
    INVALID_PAYLOAD = 1007
    POLICY_VIOLATION = 1008
    TOO_BIG = 1009
    MANDATORY_EXTENSION = 1010
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013
    BAD_GATEWAY = 1014
    #: Local only: TLS handshake failure.
    TLS_HANDSHAKE = 1015

    @staticmethod
    def code(value: int) -> "Union[CloseCode, int]":
        """``CloseCode(value)`` when it is a known code, else ``value`` itself."""
        try:
            return CloseCode(value)
        except ValueError:
            return value

    @staticmethod
    def describe(value: int) -> str:
        """The library's name for a code: "normal closure", "private application code", ..."""
        return _ffi.close_code_name(value)


class Event:
    """One engine event from the blocking API (:meth:`Engine.events`, :meth:`Engine.poll`).

    ``data`` holds the payload (TEXT, BINARY), the path (OPEN) or the reason
    (CLOSE, ERROR, CONNECT_ERROR). It is ``bytes`` (a copy, yours to keep) by
    default, or a read-only ``memoryview`` when polled with ``copy=False``: a
    slice of the batch's own bytes, never of engine memory, so it stays valid
    as long as you hold it (and keeps that batch's bytes alive meanwhile).
    """

    __slots__ = ("type", "conn", "tag", "close_code", "data")

    def __init__(
        self,
        type: EventType,
        conn: int,
        tag: int,
        close_code: int,
        data: Union[bytes, memoryview],
    ) -> None:
        self.type = type
        self.conn = conn
        self.tag = tag
        self.close_code = close_code
        self.data = data

    @property
    def buffered_amount(self) -> int:
        """A BACKPRESSURE event's buffered amount (its ``data``, a native ``uint64``)."""
        return int.from_bytes(bytes(self.data), sys.byteorder)

    @property
    def text(self) -> str:
        """``data`` decoded as UTF-8 (a text message, a path, a reason)."""
        return bytes(self.data).decode("utf-8", "replace")

    def __repr__(self) -> str:
        data = bytes(self.data)
        shown = data if len(data) <= 40 else data[:40] + b"..."
        extra = f" code={self.close_code}" if self.close_code else ""
        tag = f" tag={self.tag}" if self.tag else ""
        return f"<Event {self.type.name} conn={self.conn:#x}{tag}{extra} {shown!r}>"


class ConnectionClosed(Exception):
    """The connection is closed (``recv``/``send`` on a closed :class:`Connection`).

    Attributes:
        code: the close code (a :class:`CloseCode` when known).
        reason: the close reason.
    """

    def __init__(self, code: int, reason: str) -> None:
        self.code: Union[CloseCode, int] = CloseCode.code(code)
        self.reason = reason
        super().__init__(f"connection closed: {int(code)} ({_ffi.close_code_name(code)}) {reason}".rstrip())


class ConnectionClosedOK(ConnectionClosed):
    """Closed with 1000 (normal) or 1001 (going away): ``async for`` ends quietly."""


class ConnectionClosedError(ConnectionClosed):
    """Closed with any other code: ``async for`` raises it."""


class ConnectError(_ffi.RocwsError, ConnectionError):
    """A client connection failed before it opened (a CONNECT_ERROR event).
    The subclasses say which way; catch this one for any of them."""

    def __init__(self, message: str, tag: int = 0, url: str = "") -> None:
        super().__init__(None, "CONNECT_ERROR", message)
        self.tag = tag
        #: The URL dialed ("" for a raw ``Engine.connect`` event).
        self.url = url


class RefusedError(ConnectError, ConnectionRefusedError):
    """Nothing accepted the TCP connection (every resolved address refused)."""


class UnknownHostError(ConnectError):
    """The URL's host name did not resolve (:attr:`host`)."""

    def __init__(self, message: str, tag: int = 0, url: str = "", host: str = "") -> None:
        super().__init__(message, tag, url)
        self.host = host


class HandshakeRejectedError(ConnectError):
    """The server answered the upgrade request with HTTP :attr:`status`
    (not 101), or (``status`` 0) with an invalid WebSocket handshake."""

    def __init__(self, message: str, tag: int = 0, url: str = "", status: int = 0) -> None:
        super().__init__(message, tag, url)
        self.status = status

    def __str__(self) -> str:
        if self.status:
            return f"handshake rejected with HTTP {self.status} ({self.message})"
        return super().__str__()


class OpenTimeoutError(ConnectError, TimeoutError):
    """The connection did not open in time; :attr:`what` timed out:
    ``"open"`` (``open_timeout``), ``"handshake"`` (the engine's handshake
    timeout) or ``"TLS handshake"``."""

    def __init__(self, message: str, tag: int = 0, url: str = "", what: str = "open") -> None:
        super().__init__(message, tag, url)
        self.what = what

    def __str__(self) -> str:
        return f"{self.what} timed out ({self.message})"


_ANSWERED = re.compile(r"server answered (\d{3})")


def connect_error(message: str, tag: int = 0, url: str = "", code: int = 0) -> ConnectError:
    """The :class:`ConnectError` subclass for a CONNECT_ERROR's text: the C
    event carries only the library's text (and 1015 for TLS), so the kinds
    are told apart by the library's own fixed phrases."""
    lower = message.lower()
    if "timed out" in lower:
        return OpenTimeoutError(message, tag, url, "TLS handshake" if code == 1015 else "handshake")
    if "refused" in lower or "no address answered" in lower:
        return RefusedError(message, tag, url)
    m = _ANSWERED.search(message)
    if m:
        return HandshakeRejectedError(message, tag, url, int(m.group(1)))
    if code == 0 and "handshake" in lower:
        return HandshakeRejectedError(message, tag, url)
    return ConnectError(message, tag, url)


def start_error(error: _ffi.RocwsError, url: str, tag: int = 0) -> Exception:
    """Sorts a synchronous ``rws_engine_connect`` failure: name resolution
    runs in that call, so an unknown host fails there."""
    if error.result != _ffi.RWS_ERR_IO:
        return error
    lower = error.message.lower()
    if any(w in lower for w in ("lookup", "name or service", "no address", "name resolution")):
        return UnknownHostError(error.message, tag, url, urllib.parse.urlsplit(url).hostname or "")
    if "refused" in lower:
        return RefusedError(error.message, tag, url)
    return error


def closed_error(code: int, reason: str) -> ConnectionClosed:
    cls = ConnectionClosedOK if code in (1000, 1001) else ConnectionClosedError
    return cls(code, reason)
