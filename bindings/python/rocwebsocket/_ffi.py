"""The C ABI of librocwebsocket through ctypes: loading, structs, signatures, errors.

Thin on purpose: every function used by the package is declared here with its
``argtypes``/``restype``, and :func:`check` turns any result other than
``RWS_OK`` into a :class:`RocwsError` subclass carrying the result's name and
``rws_last_error_message()``. The error text is per OS thread, so it is read
right after the failing call, on the same thread (ctypes calls run on the
calling Python thread).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from ctypes import (
    POINTER,
    Structure,
    c_bool,
    c_char_p,
    c_int,
    c_int32,
    c_size_t,
    c_uint8,
    c_uint16,
    c_uint32,
    c_uint64,
    c_void_p,
)
from pathlib import Path
from typing import Optional, Sequence, Union

__all__ = [
    "RocwsError",
    "NullPointerError",
    "InvalidArgumentError",
    "PanicError",
    "ProtocolError",
    "Utf8Error",
    "ClosingError",
    "BufferTooSmallError",
    "HandshakeError",
    "IoError",
    "StoppedError",
    "UnknownConnectionError",
    "UnsupportedError",
    "EngineStartError",
]

# ---- result codes (rws_result) ----
RWS_OK = 0
RWS_ERR_NULL = 1
RWS_ERR_INVALID_ARGUMENT = 2
RWS_ERR_PANIC = 3
RWS_NEED_MORE = 4
RWS_NONE = 5
RWS_ERR_PROTOCOL = 6
RWS_ERR_UTF8 = 7
RWS_ERR_CLOSING = 8
RWS_ERR_BUFFER_TOO_SMALL = 9
RWS_ERR_HANDSHAKE = 10
RWS_ERR_IO = 11
RWS_ERR_STOPPED = 12
RWS_ERR_UNKNOWN_CONNECTION = 13
RWS_ERR_UNSUPPORTED = 14

RWS_OPCODE_TEXT = 1
RWS_OPCODE_BINARY = 2
RWS_OPCODE_PING = 9


class RocwsError(Exception):
    """A failing ``rws_`` call.

    Attributes:
        result: the ``rws_result`` value (``None`` when the C function only
            returned NULL, as the engine constructors do).
        name: its name, e.g. ``"RWS_ERR_UTF8"``.
        message: ``rws_last_error_message()`` right after the call.
    """

    def __init__(self, result: Optional[int], name: str, message: str) -> None:
        super().__init__(f"{name}: {message}" if message else name)
        self.result = result
        self.name = name
        self.message = message


class NullPointerError(RocwsError):
    """RWS_ERR_NULL: a required pointer was NULL (a bug in the binding)."""


class InvalidArgumentError(RocwsError, ValueError):
    """RWS_ERR_INVALID_ARGUMENT: an argument was out of range or malformed."""


class PanicError(RocwsError):
    """RWS_ERR_PANIC: a bug inside rocwebsocket was caught at the boundary."""


class ProtocolError(RocwsError):
    """RWS_ERR_PROTOCOL: the peer violated RFC 6455."""


class Utf8Error(RocwsError, ValueError):
    """RWS_ERR_UTF8: text that is not valid UTF-8."""


class ClosingError(RocwsError):
    """RWS_ERR_CLOSING: the connection is closing; nothing more may be sent."""


class BufferTooSmallError(RocwsError):
    """RWS_ERR_BUFFER_TOO_SMALL."""


class HandshakeError(RocwsError):
    """RWS_ERR_HANDSHAKE: the opening handshake was refused."""


class IoError(RocwsError, OSError):
    """RWS_ERR_IO: an operating-system error (bind, connect, ...)."""


class StoppedError(RocwsError):
    """RWS_ERR_STOPPED: the engine has stopped (or is stopping)."""


class UnknownConnectionError(RocwsError, KeyError):
    """RWS_ERR_UNKNOWN_CONNECTION: the connection id is not (or no longer) known."""

    __str__ = Exception.__str__  # KeyError would quote the message


class UnsupportedError(RocwsError):
    """RWS_ERR_UNSUPPORTED."""


class EngineStartError(RocwsError):
    """``rws_engine_start*`` returned NULL (bad listen address, address in use, ...).

    The C constructors return NULL without a result code, so ``result`` is
    ``None`` and ``name`` is ``"NULL"``; ``message`` says what went wrong.
    """


_ERRORS = {
    RWS_ERR_NULL: NullPointerError,
    RWS_ERR_INVALID_ARGUMENT: InvalidArgumentError,
    RWS_ERR_PANIC: PanicError,
    RWS_ERR_PROTOCOL: ProtocolError,
    RWS_ERR_UTF8: Utf8Error,
    RWS_ERR_CLOSING: ClosingError,
    RWS_ERR_BUFFER_TOO_SMALL: BufferTooSmallError,
    RWS_ERR_HANDSHAKE: HandshakeError,
    RWS_ERR_IO: IoError,
    RWS_ERR_STOPPED: StoppedError,
    RWS_ERR_UNKNOWN_CONNECTION: UnknownConnectionError,
    RWS_ERR_UNSUPPORTED: UnsupportedError,
}


# ---- structs (layouts from include/rocwebsocket.h) ----
class rws_event(Structure):
    """``rws_event``: ``data`` points at ``len`` bytes owned by the engine."""

    _fields_ = [
        ("type_", c_int),
        ("close_code", c_uint16),
        ("conn", c_uint64),
        ("tag", c_uint64),
        ("data", c_void_p),
        ("len", c_size_t),
    ]




# rws_engine_config: a timeout value that turns it off (0 means the default).
RWS_TIMEOUT_NEVER = 0xFFFFFFFF

class rws_conn_config(Structure):
    _fields_ = [("max_frame_size", c_uint64), ("max_message_size", c_uint64)]


class rws_deflate_config(Structure):
    _fields_ = [
        ("enabled", c_bool),
        ("no_context_takeover", c_bool),
        ("peer_no_context_takeover", c_bool),
        ("window_bits", c_uint8),
        ("mem_level", c_uint8),
        ("peer_window_bits", c_uint8),
        ("level", c_uint8),
        ("threshold", c_uint32),
    ]


class rws_engine_config(Structure):
    _fields_ = [
        ("listen", POINTER(c_char_p)),
        ("listen_count", c_size_t),
        ("threads", c_uint32),
        ("max_connections", c_uint32),
        ("conn", rws_conn_config),
        ("max_buffered", c_uint64),
        ("backpressure", c_uint32),
        ("handshake_timeout_ms", c_uint32),
        ("idle_timeout_ms", c_uint32),
        ("ping_interval_ms", c_uint32),
        ("pong_timeout_ms", c_uint32),
        ("close_timeout_ms", c_uint32),
        ("protocols", POINTER(c_char_p)),
        ("protocol_count", c_size_t),
        ("max_queued_bytes", c_uint64),
        ("max_handshaking", c_uint32),
        ("tcp_keepalive_s", c_uint32),
        ("write_high_watermark", c_uint64),
        ("write_low_watermark", c_uint64),
        ("tls_listen", POINTER(c_char_p)),
        ("tls_listen_count", c_size_t),
        ("tls_server", c_void_p),
        ("decide_upgrades", c_bool),
        ("broker_url", c_char_p),
        ("broker_max_queued", c_uint32),
        ("deflate", rws_deflate_config),
    ]


class rws_broker_stats(Structure):
    _fields_ = [
        ("published", c_uint64),
        ("received", c_uint64),
        ("dropped", c_uint64),
        ("reconnects", c_uint64),
        ("connected", c_bool),
    ]


class rws_tls_client_config(Structure):
    _fields_ = [
        ("ca_pem", c_char_p),
        ("ca_pem_len", c_size_t),
        ("cert_pem", c_char_p),
        ("cert_pem_len", c_size_t),
        ("key_pem", c_char_p),
        ("key_pem_len", c_size_t),
        ("pins_sha256", c_char_p),
        ("pin_count", c_size_t),
        ("danger_accept_invalid_certs", c_bool),
    ]


class rws_auto_reply(Structure):
    """``rws_auto_reply``: a message the engine answers by itself."""

    _fields_ = [
        ("prefix", c_char_p),
        ("prefix_len", c_size_t),
        ("suffix", c_char_p),
        ("suffix_len", c_size_t),
        ("max_capture", c_size_t),
        ("reply_prefix", c_char_p),
        ("reply_prefix_len", c_size_t),
        ("reply_suffix", c_char_p),
        ("reply_suffix_len", c_size_t),
    ]


class rws_connect_options(Structure):
    """``rws_connect_options`` for ``rws_engine_connect_opts``: set
    ``struct_size`` to ``ctypes.sizeof(rws_connect_options)``; 0 fields take
    the engine's settings."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("handshake_timeout_ms", c_uint32),
        ("tag", c_uint64),
        ("headers", POINTER(c_char_p)),
        ("header_count", c_size_t),
        ("protocols", POINTER(c_char_p)),
        ("protocol_count", c_size_t),
        ("tls", c_void_p),
        ("server_name", c_char_p),
        ("idle_timeout_ms", c_uint32),
        ("ping_interval_ms", c_uint32),
        ("pong_timeout_ms", c_uint32),
        ("close_timeout_ms", c_uint32),
        ("conn", rws_conn_config),
        ("reconnect", c_uint32),
        ("reconnect_max_attempts", c_uint32),
        ("reconnect_initial_ms", c_uint32),
        ("reconnect_max_ms", c_uint32),
        ("reconnect_jitter_percent", c_uint32),
        ("reconnect_min_interval_ms", c_uint32),
        ("reconnect_multiplier", ctypes.c_double),
        ("no_retry_close_codes", POINTER(c_uint16)),
        ("no_retry_close_code_count", c_size_t),
        ("no_retry_statuses", POINTER(c_uint16)),
        ("no_retry_status_count", c_size_t),
        ("keepalive_payload", c_char_p),
        ("keepalive_payload_len", c_size_t),
        ("keepalive_reply", c_char_p),
        ("keepalive_reply_len", c_size_t),
        ("keepalive_interval_ms", c_uint32),
        ("keepalive_deadline_ms", c_uint32),
        ("keepalive_reply_prefix", c_uint32),
        ("keepalive_binary", c_uint32),
        ("auto_replies", POINTER(rws_auto_reply)),
        ("auto_reply_count", c_size_t),
        ("rtt_ping_interval_ms", c_uint32),
        ("max_age_ms", c_uint32),
        ("rotation_overlap", c_uint32),
        ("so_rcvbuf", c_uint32),
        ("so_sndbuf", c_uint32),
        ("so_priority_plus_one", c_uint32),
        ("ip_tos_plus_one", c_uint32),
    ]


class rws_conn_stats(Structure):
    """``rws_conn_stats``: set ``struct_size`` before ``rws_engine_conn_stats``."""

    _fields_ = [("struct_size", c_uint32)] + [
        (name, c_uint64)
        for name in (
            "messages_in",
            "bytes_in",
            "bytes_out",
            "reconnects",
            "ws_rtt_last_us",
            "ws_rtt_min_us",
            "ws_rtt_avg_us",
            "ws_rtt_samples",
            "app_rtt_last_us",
            "app_rtt_min_us",
            "app_rtt_avg_us",
            "app_rtt_samples",
        )
    ]


# void (*rws_callback)(void *user, rws_ctx *ctx, const rws_event *event)
rws_callback = ctypes.CFUNCTYPE(None, c_void_p, c_void_p, POINTER(rws_event))

# void (*rws_upgrade_callback)(void *user, rws_upgrade *upgrade)
rws_upgrade_callback = ctypes.CFUNCTYPE(None, c_void_p, c_void_p)


class rws_callbacks(Structure):
    _fields_ = [
        ("user", c_void_p),
        ("on_open", rws_callback),
        ("on_message", rws_callback),
        ("on_close", rws_callback),
        ("on_drain", rws_callback),
        ("on_error", rws_callback),
        ("on_control", rws_callback),
        ("on_upgrade", rws_upgrade_callback),
        ("on_backpressure", rws_callback),
    ]


# ---- loading ----
_LIB_NAME = "librocwebsocket.so"


def _candidates() -> list[str]:
    env = os.environ.get("ROCWS_LIB")
    if env:
        # An explicit choice: a file, or a directory holding the library.
        p = Path(env)
        return [str(p / _LIB_NAME) if p.is_dir() else str(p)]
    here = Path(__file__).resolve().parent
    # 1. the copy an installed wheel carries beside this file
    #    (librocwebsocket.<python tag>.so, see setup.py);
    # 2. ../../target/release relative to the package's project (bindings/python),
    #    i.e. the repository's own build, for a checkout on PYTHONPATH;
    # 3. whatever the system loader finds (an installed prefix).
    bundled = sorted(str(p) for p in here.glob("librocwebsocket*.so"))
    return bundled + [
        str(here.parent / ".." / ".." / "target" / "release" / _LIB_NAME),
        ctypes.util.find_library("rocwebsocket") or _LIB_NAME,
    ]


def _load() -> ctypes.CDLL:
    errors = []
    for path in _candidates():
        if os.sep in path and not os.path.exists(path):
            errors.append(f"{path}: not found")
            continue
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            errors.append(f"{path}: {e}")
    raise ImportError(
        "cannot load librocwebsocket (install the package with pip, or set ROCWS_LIB "
        "to the library built by `cargo build --release --lib`): " + "; ".join(errors)
    )


lib = _load()


def _declare(name: str, restype: object, *argtypes: object) -> None:
    fn = getattr(lib, name)
    fn.restype = restype
    fn.argtypes = list(argtypes)


_declare("rws_last_error_message", c_size_t, c_char_p, c_size_t)
#: rws_log_callback: (user, level, target, message, len); message is read as
#: a pointer so exactly ``len`` bytes are taken.
rws_log_callback = ctypes.CFUNCTYPE(None, c_void_p, c_uint32, c_char_p, c_void_p, c_size_t)
_declare("rws_set_log_callback", c_int, c_uint32, rws_log_callback, c_void_p)
_declare("rws_result_name", c_char_p, c_uint32)
_declare("rws_version", c_char_p)
_declare("rws_close_code_name", c_char_p, c_uint16)
_declare("rws_close_code_is_sendable", c_bool, c_uint16)
_declare("rws_engine_config_init", c_int, POINTER(rws_engine_config))
_declare("rws_engine_start", c_void_p, POINTER(rws_engine_config), POINTER(rws_callbacks))
_declare("rws_engine_start_batched", c_void_p, POINTER(rws_engine_config))
_declare("rws_engine_accept_upgrade", c_int, c_void_p, c_uint64, c_char_p, POINTER(c_char_p), c_size_t)
_declare("rws_engine_reject_upgrade", c_int, c_void_p, c_uint64, c_uint16, c_char_p, c_size_t)
_declare("rws_engine_buffered_amount", c_int, c_void_p, c_uint64, POINTER(c_size_t))
_declare(
    "rws_engine_poll_events",
    c_int,
    c_void_p,
    POINTER(rws_event),
    c_size_t,
    c_int32,
    POINTER(c_size_t),
)
_declare("rws_engine_poll_batch", c_int, c_void_p, c_size_t, c_int32, c_void_p)
_declare("rws_engine_pause_reading", c_int, c_void_p, c_uint64)
_declare("rws_engine_resume_reading", c_int, c_void_p, c_uint64)
_declare("rws_engine_event_fd", c_int32, c_void_p)
_declare("rws_engine_port", c_uint16, c_void_p)
_declare("rws_engine_send", c_int, c_void_p, c_uint64, c_uint8, c_char_p, c_size_t)
_declare("rws_engine_close", c_int, c_void_p, c_uint64, c_uint16, c_char_p, c_size_t)
_declare("rws_engine_broadcast", c_int, c_void_p, c_uint8, c_char_p, c_size_t)
_declare("rws_engine_publish", c_int, c_void_p, c_char_p, c_uint8, c_char_p, c_size_t)
_declare("rws_engine_subscribe", c_int, c_void_p, c_uint64, c_char_p, c_bool)
_declare("rws_engine_connect", c_int, c_void_p, c_char_p, c_uint64)
_declare("rws_engine_connection_count", c_size_t, c_void_p)
_declare("rws_engine_broker_stats", c_int, c_void_p, POINTER(rws_broker_stats))
_declare("rws_engine_connect_tls", c_int, c_void_p, c_char_p, c_uint64, c_void_p, c_char_p)
_declare("rws_engine_tls_port", c_uint16, c_void_p)
_declare("rws_engine_connect_opts", c_int, c_void_p, c_char_p, POINTER(rws_connect_options))
_declare("rws_engine_protocol", c_size_t, c_void_p, c_uint64, c_char_p, c_size_t)
_declare("rws_engine_stop_reconnecting", c_int, c_void_p, c_uint64)
_declare("rws_engine_rotate", c_int, c_void_p, c_uint64)
_declare("rws_engine_replaces", c_uint64, c_void_p, c_uint64)
_declare("rws_engine_conn_stats", c_int, c_void_p, c_uint64, POINTER(rws_conn_stats))
_declare(
    "rws_engine_reconnect_info", c_bool, c_void_p, c_uint64, POINTER(c_uint32), POINTER(c_uint64)
)
_declare("rws_tls_server_new", c_void_p, c_char_p, c_size_t, c_char_p, c_size_t, c_char_p, c_size_t)
_declare("rws_tls_server_reload_files", c_int, c_void_p, c_char_p, c_char_p)
_declare("rws_tls_server_free", None, c_void_p)
_declare("rws_tls_client_new", c_void_p, POINTER(rws_tls_client_config))
_declare("rws_tls_client_free", None, c_void_p)
_declare("rws_engine_stop", c_int, c_void_p, c_uint32)
_declare("rws_engine_free", None, c_void_p)
_declare("rws_ctx_conn", c_uint64, c_void_p)
_declare("rws_ctx_send", c_int, c_void_p, c_uint8, c_char_p, c_size_t)

# A fast copy of engine-owned bytes: a CPython C-API call (PyDLL: the GIL
# stays held, which it needs).
_bytes_at = ctypes.pythonapi.PyBytes_FromStringAndSize
_bytes_at.restype = ctypes.py_object
_bytes_at.argtypes = [c_void_p, ctypes.c_ssize_t]


def bytes_at(ptr: Optional[int], length: int) -> bytes:
    """A copy of ``length`` bytes at ``ptr`` as ``bytes``."""
    if not length:
        return b""
    return _bytes_at(ptr, length)  # type: ignore[no-any-return]


# ---- errors ----
def last_error_message() -> str:
    """``rws_last_error_message()`` of the calling thread."""
    buf = ctypes.create_string_buffer(512)
    n = lib.rws_last_error_message(buf, len(buf))
    if n >= len(buf):
        buf = ctypes.create_string_buffer(n + 1)
        lib.rws_last_error_message(buf, len(buf))
    return buf.value.decode("utf-8", "replace")


def result_name(code: int) -> str:
    """``rws_result_name(code)``, for codes the library returned."""
    if code in _ERRORS or code in (RWS_OK, RWS_NEED_MORE, RWS_NONE):
        return lib.rws_result_name(code).decode()  # type: ignore[no-any-return]
    return f"rws_result({code})"


def error(code: int) -> RocwsError:
    """The exception for a failing result ``code``, with this thread's message."""
    cls = _ERRORS.get(code, RocwsError)
    return cls(code, result_name(code), last_error_message())


def check(code: int) -> None:
    """Raises the matching :class:`RocwsError` unless ``code`` is ``RWS_OK``."""
    if code != RWS_OK:
        raise error(code)


def start_error() -> EngineStartError:
    return EngineStartError(None, "NULL", last_error_message())


def version() -> str:
    """The library version, e.g. ``"0.1.0"``."""
    return lib.rws_version().decode()  # type: ignore[no-any-return]


def close_code_name(code: int) -> str:
    """``rws_close_code_name``: "normal closure", "message too big", ..."""
    return lib.rws_close_code_name(code).decode()  # type: ignore[no-any-return]


def _strings(items: Sequence[str]) -> "tuple[Optional[ctypes.Array[c_char_p]], int]":
    if not items:
        return None, 0
    arr = (c_char_p * len(items))(*(s.encode() for s in items))
    return arr, len(items)


def make_config(
    listen: Sequence[str],
    *,
    threads: int = 0,
    max_connections: int = 0,
    max_frame_size: Optional[int] = None,
    max_message_size: Optional[int] = None,
    max_buffered: Optional[int] = None,
    backpressure_notify: bool = False,
    handshake_timeout: Optional[float] = None,
    idle_timeout: Optional[float] = None,
    ping_interval: Optional[float] = None,
    pong_timeout: Optional[float] = None,
    close_timeout: Optional[float] = None,
    protocols: Sequence[str] = (),
    max_queued_bytes: Optional[int] = None,
    tls_listen: Sequence[str] = (),
    tls_server: Optional[int] = None,
    decide_upgrades: bool = False,
    broker: Optional[str] = None,
    broker_max_queued: int = 0,
    deflate: bool = False,
) -> "tuple[rws_engine_config, list[object]]":
    """An ``rws_engine_config`` from the defaults plus these settings (seconds
    for times). Returns it with the objects that must stay alive until the
    engine has started (the C side copies the strings).

    ``broker`` (``redis://host:port``, ``rediss://`` for TLS) carries
    ``publish`` to the subscribers of every engine on that broker (see
    ``rocwebsocket.broker_stats``); ``broker_max_queued`` bounds the publishes
    waiting for it (0: 65,536), past which they are dropped and counted."""
    cfg = rws_engine_config()
    check(lib.rws_engine_config_init(ctypes.byref(cfg)))
    keep: "list[object]" = []
    arr, n = _strings(list(listen))
    if arr is not None:
        keep.append(arr)
        cfg.listen = ctypes.cast(arr, POINTER(c_char_p))
    cfg.listen_count = n
    arr, n = _strings(list(protocols))
    if arr is not None:
        keep.append(arr)
        cfg.protocols = ctypes.cast(arr, POINTER(c_char_p))
    cfg.protocol_count = n
    arr, n = _strings(list(tls_listen))
    if arr is not None:
        keep.append(arr)
        cfg.tls_listen = ctypes.cast(arr, POINTER(c_char_p))
    cfg.tls_listen_count = n
    cfg.tls_server = tls_server
    cfg.decide_upgrades = decide_upgrades
    if broker is not None:
        url = broker.encode()
        keep.append(url)
        cfg.broker_url = url
        cfg.broker_max_queued = broker_max_queued
    cfg.threads = threads
    cfg.max_connections = max_connections
    if max_frame_size is not None:
        cfg.conn.max_frame_size = max_frame_size
    if max_message_size is not None:
        cfg.conn.max_message_size = max_message_size
    if max_buffered is not None:
        cfg.max_buffered = max_buffered
    cfg.backpressure = 1 if backpressure_notify else 0
    if max_queued_bytes is not None:
        # 0 keeps its old meaning here, "no cap" (in the C struct 0 is the default).
        cfg.max_queued_bytes = max_queued_bytes if max_queued_bytes > 0 else 0xFFFFFFFFFFFFFFFF

    def ms(v: Optional[float]) -> int:
        # 0 in the C struct means "the default": an explicit 0 here means off.
        return RWS_TIMEOUT_NEVER if not v else max(1, int(v * 1000))

    if handshake_timeout is not None:
        cfg.handshake_timeout_ms = ms(handshake_timeout)
    if idle_timeout is not None:
        cfg.idle_timeout_ms = ms(idle_timeout)
    if ping_interval is not None:
        cfg.ping_interval_ms = ms(ping_interval)
    if pong_timeout is not None:
        cfg.pong_timeout_ms = ms(pong_timeout)
    if close_timeout is not None:
        cfg.close_timeout_ms = ms(close_timeout)
    # permessage-deflate (RFC 7692) with the engine's default settings.
    cfg.deflate.enabled = deflate
    return cfg, keep


Data = Union[str, bytes, bytearray, memoryview]


def encode(data: Data, text: Optional[bool]) -> "tuple[int, bytes]":
    """(opcode, bytes) for a message: ``str`` is text, bytes-like is binary
    unless ``text=True`` (then the engine checks the bytes are UTF-8)."""
    if isinstance(data, str):
        if text is False:
            return RWS_OPCODE_BINARY, data.encode()
        return RWS_OPCODE_TEXT, data.encode()
    raw = data if isinstance(data, bytes) else bytes(data)
    return (RWS_OPCODE_TEXT if text else RWS_OPCODE_BINARY), raw
