"""rocwebsocket: Python bindings (ctypes) to the rocwebsocket engine's C ABI.

Events cross the C boundary in batches (``rws_engine_start_batched``): one
call drains up to ``batch_size`` events into a preallocated array, and asyncio
is woken through the engine's event descriptor (``loop.add_reader``).

Blocking::

    with Server(threads=1) as server:            # listens on 127.0.0.1:<free port>
        for event in server.events(timeout=5):
            if event.type is EventType.TEXT:
                server.send(event.conn, event.text)

asyncio, ``websockets`` style::

    async def echo(conn):
        async for msg in conn:
            await conn.send(msg)

    async with serve(echo, "127.0.0.1:0") as server:
        async with connect(f"ws://127.0.0.1:{server.port}/") as ws:
            await ws.send("hi")
            print(await ws.recv())

asyncio, ``picows`` style: ``Server(listener=MyListener())`` where
``Listener.on_message(conn, kind, data)`` gets ``str``/``bytes``, or with
``Listener.zero_copy = True`` a ``memoryview`` valid during the call.

The library is found through ``ROCWS_LIB`` (a file or a directory), else the
copy the installed wheel carries, else ``../../target/release`` relative to
this package's project (a checkout), else the system loader. Its log records
go to the ``logging`` logger ``rocwebsocket`` (see :func:`sync_log_level`).
"""

from ._batch import Batch
from ._broker import BrokerStats, broker_stats
from ._connection import Connection, Listener, connect, serve
from ._engine import Client, Engine, Server
from ._ffi import (
    BufferTooSmallError,
    ClosingError,
    EngineStartError,
    HandshakeError,
    InvalidArgumentError,
    IoError,
    NullPointerError,
    PanicError,
    ProtocolError,
    RocwsError,
    StoppedError,
    UnknownConnectionError,
    UnsupportedError,
    Utf8Error,
    version,
)
from ._log import sync_log_level
from ._types import (
    CloseCode,
    ConnectError,
    HandshakeRejectedError,
    OpenTimeoutError,
    RefusedError,
    UnknownHostError,
    ConnectionClosed,
    ConnectionClosedError,
    ConnectionClosedOK,
    Event,
    EventType,
)
from ._upgrade import Accept, Reject, UpgradeRequest

__all__ = [
    "Accept",
    "Batch",
    "BrokerStats",
    "BufferTooSmallError",
    "Client",
    "CloseCode",
    "ClosingError",
    "ConnectError",
    "Connection",
    "ConnectionClosed",
    "ConnectionClosedError",
    "ConnectionClosedOK",
    "Engine",
    "EngineStartError",
    "Event",
    "EventType",
    "HandshakeError",
    "HandshakeRejectedError",
    "InvalidArgumentError",
    "IoError",
    "Listener",
    "NullPointerError",
    "OpenTimeoutError",
    "PanicError",
    "ProtocolError",
    "RefusedError",
    "Reject",
    "RocwsError",
    "Server",
    "StoppedError",
    "UnknownConnectionError",
    "UnknownHostError",
    "UnsupportedError",
    "UpgradeRequest",
    "Utf8Error",
    "broker_stats",
    "connect",
    "serve",
    "sync_log_level",
    "version",
]
