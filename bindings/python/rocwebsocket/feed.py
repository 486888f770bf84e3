"""Feed clients: per-connection options (headers, subprotocols, limits),
reconnect with backoff, an application keepalive, auto-replies and
round-trip times, over ``rws_engine_connect_opts``.

Usage with any :class:`~rocwebsocket.Engine` (a :class:`~rocwebsocket.Client`)::

    from rocwebsocket import Client, EventType
    from rocwebsocket.feed import AppKeepalive, AutoReply, FeedOptions, Reconnect, connect_feed

    opts = FeedOptions(
        tag=1,
        headers={"X-Api-Key": "..."},
        reconnect=Reconnect(initial=0.1, max_delay=5.0),
        keepalive=AppKeepalive(b'{"op":"ping"}', b'{"op":"pong"}', interval=15.0, deadline=5.0),
        auto_replies=[AutoReply(b'{"ping":', b"}", b'{"pong":', b"}")],
    )
    with Client() as client:
        connect_feed(client, "wss://exchange.example/ws", opts)
        for ev in client.events():
            if ev.type is EventType.OPEN:          # first open and every reconnect
                client.send(ev.conn, '{"op":"subscribe"}')

The engine answers the keepalive's replies and the auto-reply rules itself:
those messages never reach the application.
"""

from __future__ import annotations

import ctypes
from ctypes import POINTER, c_char_p, c_uint16, c_uint32, c_uint64
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from . import _ffi
from ._ffi import lib

__all__ = [
    "AppKeepalive",
    "AutoReply",
    "ConnStats",
    "FeedOptions",
    "Reconnect",
    "conn_stats",
    "connect_feed",
    "protocol",
    "reconnect_info",
    "replaces",
    "rotate",
    "stop_reconnecting",
]


@dataclass
class Reconnect:
    """Reconnect after a drop: delays grow from ``initial`` by ``multiplier``
    up to ``max_delay`` seconds, ``jitter`` (0 to 1) of each drawn at random;
    ``max_attempts`` 0 means no limit; ``min_interval`` spaces connects to one
    host; no attempt after the listed close codes or HTTP statuses
    (``no_retry_statuses`` empty: 401 and 403)."""

    initial: float = 0.1
    max_delay: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.5
    max_attempts: int = 0
    min_interval: float = 0.0
    no_retry_close_codes: Sequence[int] = ()
    no_retry_statuses: Sequence[int] = ()


@dataclass
class AppKeepalive:
    """Send ``payload`` every ``interval`` seconds; without a message equal to
    ``reply`` (or starting with it, with ``prefix``) within ``deadline`` of a
    send, the connection is dropped (CLOSE 1006, then a reconnect)."""

    payload: bytes
    reply: bytes
    interval: float = 20.0
    deadline: float = 10.0
    prefix: bool = False
    binary: bool = False


@dataclass
class AutoReply:
    """Answer a message ``prefix`` + X + ``suffix`` (X at most ``max_capture``
    bytes; 0: exact) with ``reply_prefix`` + X + ``reply_suffix``."""

    prefix: bytes
    suffix: bytes
    reply_prefix: bytes
    reply_suffix: bytes
    max_capture: int = 32


@dataclass
class FeedOptions:
    """Everything ``rws_connect_options`` carries (seconds for times, 0 or
    ``None`` for the engine's setting)."""

    tag: int = 0
    headers: Dict[str, str] = field(default_factory=dict)
    protocols: Sequence[str] = ()
    server_hostname: Optional[str] = None
    handshake_timeout: float = 0.0
    ping_interval: float = 0.0
    max_message_size: int = 0
    reconnect: Optional[Reconnect] = None
    keepalive: Optional[AppKeepalive] = None
    auto_replies: List[AutoReply] = field(default_factory=list)
    rtt_ping_interval: float = 0.0
    #: seconds after which the connection is replaced without a gap
    #: (make-before-break; see :func:`replaces`); 0: never
    max_age: float = 0.0
    #: messages the replacement delivers before the old one closes (0: 1;
    #: a subscription acknowledgement counts)
    rotation_overlap: int = 0


def _ms(seconds: float) -> int:
    return int(round(seconds * 1000)) if seconds else 0


def _strings(items: Sequence[str]) -> "ctypes.Array[c_char_p]":
    return (c_char_p * max(len(items), 1))(*[s.encode() for s in items])


def connect_feed(engine: Any, url: str, options: FeedOptions) -> None:
    """Opens a feed connection to ``url`` with ``options``
    (``rws_engine_connect_opts``); OPEN events with ``options.tag`` follow,
    one per (re)open.

    Raises:
        InvalidArgumentError: a bad URL, header or setting.
    """
    o = _ffi.rws_connect_options()
    o.struct_size = ctypes.sizeof(o)
    o.tag = options.tag
    keep: List[Any] = []  # what the struct points to, alive during the call
    flat = [s for kv in options.headers.items() for s in kv]
    if flat:
        arr = _strings(flat)
        keep.append(arr)
        o.headers, o.header_count = arr, len(options.headers)
    if options.protocols:
        arr = _strings(list(options.protocols))
        keep.append(arr)
        o.protocols, o.protocol_count = arr, len(options.protocols)
    if options.server_hostname:
        o.server_name = options.server_hostname.encode()
    o.handshake_timeout_ms = _ms(options.handshake_timeout)
    o.ping_interval_ms = _ms(options.ping_interval)
    o.conn.max_message_size = options.max_message_size
    r = options.reconnect
    if r is not None:
        o.reconnect = 1
        o.reconnect_initial_ms = max(_ms(r.initial), 1)
        o.reconnect_max_ms = max(_ms(r.max_delay), 1)
        o.reconnect_multiplier = r.multiplier
        o.reconnect_jitter_percent = int(r.jitter * 100) if r.jitter else 0xFFFFFFFF
        o.reconnect_max_attempts = r.max_attempts
        o.reconnect_min_interval_ms = _ms(r.min_interval)
        for codes, ptr, count in (
            (r.no_retry_close_codes, "no_retry_close_codes", "no_retry_close_code_count"),
            (r.no_retry_statuses, "no_retry_statuses", "no_retry_status_count"),
        ):
            if codes:
                shorts = (c_uint16 * len(codes))(*codes)
                keep.append(shorts)
                setattr(o, ptr, ctypes.cast(shorts, POINTER(c_uint16)))
                setattr(o, count, len(codes))
    k = options.keepalive
    if k is not None:
        o.keepalive_payload, o.keepalive_payload_len = k.payload, len(k.payload)
        o.keepalive_reply, o.keepalive_reply_len = k.reply, len(k.reply)
        o.keepalive_interval_ms = _ms(k.interval)
        o.keepalive_deadline_ms = _ms(k.deadline)
        o.keepalive_reply_prefix = int(k.prefix)
        o.keepalive_binary = int(k.binary)
    if options.auto_replies:
        rules = (_ffi.rws_auto_reply * len(options.auto_replies))()
        for rule, a in zip(rules, options.auto_replies):
            rule.prefix, rule.prefix_len = a.prefix, len(a.prefix)
            rule.suffix, rule.suffix_len = a.suffix, len(a.suffix)
            rule.max_capture = a.max_capture
            rule.reply_prefix, rule.reply_prefix_len = a.reply_prefix, len(a.reply_prefix)
            rule.reply_suffix, rule.reply_suffix_len = a.reply_suffix, len(a.reply_suffix)
        keep.append(rules)
        o.auto_replies = ctypes.cast(rules, POINTER(_ffi.rws_auto_reply))
        o.auto_reply_count = len(options.auto_replies)
    o.rtt_ping_interval_ms = _ms(options.rtt_ping_interval)
    o.max_age_ms = _ms(options.max_age)
    o.rotation_overlap = options.rotation_overlap
    engine._call(lib.rws_engine_connect_opts, url.encode(), ctypes.byref(o))


def reconnect_info(engine: Any, conn: int) -> Optional[Tuple[int, float]]:
    """``(attempt, seconds down)`` when open connection ``conn`` is a
    reconnect, else ``None`` (a first open, or not open)."""
    attempt, down = c_uint32(), c_uint64()
    if lib.rws_engine_reconnect_info(engine._ptr, conn, ctypes.byref(attempt), ctypes.byref(down)):
        return attempt.value, down.value / 1000.0
    return None


def protocol(engine: Any, conn: int) -> Optional[str]:
    """The subprotocol open connection ``conn`` agreed on, if any."""
    buf = ctypes.create_string_buffer(256)
    n = lib.rws_engine_protocol(engine._ptr, conn, buf, len(buf))
    if n >= len(buf):
        buf = ctypes.create_string_buffer(n + 1)
        n = lib.rws_engine_protocol(engine._ptr, conn, buf, len(buf))
    return buf.value.decode() if n else None


@dataclass
class ConnStats:
    """``rws_conn_stats``: counters and round-trip times (microseconds)."""

    messages_in: int
    bytes_in: int
    bytes_out: int
    reconnects: int
    ws_rtt_last_us: int
    ws_rtt_min_us: int
    ws_rtt_avg_us: int
    ws_rtt_samples: int
    app_rtt_last_us: int
    app_rtt_min_us: int
    app_rtt_avg_us: int
    app_rtt_samples: int


def conn_stats(engine: Any, conn: int) -> ConnStats:
    """Statistics of open feed connection ``conn``.

    Raises:
        UnknownConnectionError: not open, or not a feed connection.
    """
    s = _ffi.rws_conn_stats()
    s.struct_size = ctypes.sizeof(s)
    engine._call(lib.rws_engine_conn_stats, conn, ctypes.byref(s))
    return ConnStats(*(getattr(s, name) for name, *_ in _ffi.rws_conn_stats._fields_[1:]))


def rotate(engine: Any, conn: int) -> None:
    """Replaces feed connection ``conn`` without a gap, as ``max_age`` does."""
    engine._call(lib.rws_engine_rotate, conn)


def replaces(engine: Any, conn: int) -> Optional[int]:
    """The connection that open connection ``conn`` replaces (a rotation):
    subscribe on ``conn``; the old one closes (1000) once ``conn`` delivered
    its first message. ``None`` for other connections."""
    old = lib.rws_engine_replaces(engine._ptr, conn)
    return int(old) or None


def stop_reconnecting(engine: Any, tag: int) -> None:
    """No more reconnects for connections tagged ``tag``."""
    engine._call(lib.rws_engine_stop_reconnecting, tag)
