"""The asyncio shapes: a ``websockets``-style :class:`Connection` (``async for
msg in conn``), a ``picows``-style :class:`Listener` (a callback per message
with a zero-copy ``memoryview``), and the ``serve``/``connect`` helpers."""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import time
from typing import (
    TYPE_CHECKING,
    Any,
    AsyncIterator,
    Awaitable,
    Callable,
    Deque,
    Dict,
    Generator,
    List,
    Optional,
    Tuple,
    Sequence,
    Union,
)

from . import _ffi
from ._ffi import Data, UnknownConnectionError, lib
from ._flow import Flow
from ._types import CloseCode, EventType, closed_error

if TYPE_CHECKING:
    from ._engine import Client, Engine, Server

__all__ = ["Connection", "Listener", "serve", "connect"]

log = logging.getLogger("rocwebsocket")

Message = Union[str, bytes]

_ping_ids = itertools.count(1)
# Tasks that free private client engines: kept referenced until done.
_background: "set[asyncio.Task[None]]" = set()


class Connection:
    """One open WebSocket connection of an engine attached to an asyncio loop.

    Messages queue up here (copied out of the engine: ``str`` for text,
    ``bytes`` for binary) until :meth:`recv` or ``async for`` takes them. The
    queue is bounded (the engine's ``max_queue``/``max_queue_bytes``): past
    its limit, reading from the peer pauses until the application catches up
    (see :attr:`queue_depth`). Methods must be called from the loop's thread.
    """

    def __init__(self, engine: "Engine", conn_id: int, path: str, tag: int) -> None:
        self.engine = engine
        #: The engine's connection id (for ``Engine.send`` and friends).
        self.id = conn_id
        #: The request path (server side) or the URL path (client side).
        self.path = path
        #: The connect tag (client connections), else 0.
        self.tag = tag
        #: The close code once closed, else ``None``.
        self.close_code: Optional[int] = None
        #: The close reason once closed, else ``None``.
        self.close_reason: Optional[str] = None
        self._inbox: Deque[Message] = collections.deque()
        self._sizes: Deque[int] = collections.deque()  # payload bytes of each queued message
        self._flow = Flow(engine._max_queue, engine._max_queue_bytes)
        self._waiter: Optional["asyncio.Future[None]"] = None
        self._closed_fut: "asyncio.Future[None]" = asyncio.get_running_loop().create_future()
        self._drain_fut: Optional["asyncio.Future[None]"] = None
        self._pings: Dict[bytes, Tuple[float, "asyncio.Future[float]"]] = {}
        #: The subprotocol agreed in the handshake (``rws_engine_protocol``):
        #: the server's choice among those offered (client), the one accepted
        #: with (server); ``None`` for none.
        self.subprotocol: Optional[str] = None
        #: Request headers as ``(name, value)`` pairs: on the server side the
        #: whole upgrade request's when ``on_upgrade`` saw it (else ``None``);
        #: on the client side the extra ``headers`` given to ``connect``.
        self.request_headers: Optional[List[Tuple[str, str]]] = None
        #: ``(host, port)`` of the peer as far as the binding knows it: the
        #: URL's host and port for a client connection (as dialed, not
        #: resolved); ``None`` for server connections.
        self.remote_address: Optional[Tuple[str, int]] = None
        # The client engine to free once this connection is gone (``ws = await connect(...)``).
        self._owner: Optional["Client"] = None

    # -- called by the engine's dispatch --
    def _deliver(self, message: Message, size: int) -> bool:
        """Queues a message of ``size`` payload bytes; True when the queue
        is now past its limit (the engine then pauses reading)."""
        inbox = self._inbox
        inbox.append(message)
        self._sizes.append(size)
        flow = self._flow
        flow.bytes += size
        w = self._waiter
        if w is not None:
            self._waiter = None
            if not w.done():
                w.set_result(None)
        return flow.over(len(inbox))

    def _closed(self, code: int, reason: str) -> None:
        self.close_code = CloseCode.code(code)
        self.close_reason = reason
        if not self._closed_fut.done():
            self._closed_fut.set_result(None)
        self._deliver_wakeup()
        self._drained()
        for _, fut in self._pings.values():
            if not fut.done():
                fut.set_exception(closed_error(code, reason))
        self._pings.clear()
        owner, self._owner = self._owner, None
        if owner is not None:
            # Free the private client engine off this dispatch (aclose stops it).
            task = asyncio.get_running_loop().create_task(owner.aclose())
            _background.add(task)
            task.add_done_callback(_background.discard)

    def _pong(self, payload: bytes) -> None:
        """A PONG arrived: resolves the :meth:`ping` it answers (and, as
        RFC 6455 allows a pong to answer several pings, every earlier one)."""
        entry = self._pings.pop(payload, None)
        if entry is None:
            return  # unsolicited, or the answer to a ping nobody waits for
        sent, fut = entry
        now = time.monotonic()
        for key in [k for k, (t, _) in self._pings.items() if t <= sent]:
            t, f = self._pings.pop(key)
            if not f.done():
                f.set_result(now - t)
        if not fut.done():
            fut.set_result(now - sent)

    def _deliver_wakeup(self) -> None:
        w = self._waiter
        if w is not None:
            self._waiter = None
            if not w.done():
                w.set_result(None)

    def _drained(self) -> None:
        f = self._drain_fut
        if f is not None:
            self._drain_fut = None
            if not f.done():
                f.set_result(None)

    # -- public --
    @property
    def queue_depth(self) -> int:
        """Messages received and not yet taken by :meth:`recv`."""
        return len(self._inbox)

    @property
    def queued_bytes(self) -> int:
        """Payload bytes of the messages in :attr:`queue_depth`."""
        return self._flow.bytes

    @property
    def reading_paused(self) -> bool:
        """Whether reading from the peer is paused (a full receive queue or
        ``Engine.pause_reading``)."""
        return self._flow.full or self._flow.user_paused

    @property
    def closed(self) -> bool:
        """Whether the connection is gone (its CLOSE event arrived)."""
        return self.close_code is not None

    async def recv(self) -> Message:
        """The next message: ``str`` (text) or ``bytes`` (binary). Messages that
        arrived before the close are still returned.

        Raises:
            ConnectionClosedOK: closed with 1000 or 1001.
            ConnectionClosedError: closed with another code.
        """
        while not self._inbox:
            if self.close_code is not None:
                raise closed_error(self.close_code, self.close_reason or "")
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        message = self._inbox.popleft()
        flow = self._flow
        flow.bytes -= self._sizes.popleft()
        if flow.full and flow.below_half(len(self._inbox)):
            flow.full = False
            if not flow.user_paused and self.close_code is None:
                self.engine._set_reading(self.id, True)
        return message

    def __aiter__(self) -> AsyncIterator[Message]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Message]:
        from ._types import ConnectionClosedOK

        while True:
            try:
                yield await self.recv()
            except ConnectionClosedOK:
                return

    def send_nowait(self, data: Data, *, text: Optional[bool] = None) -> None:
        """Queues a message (copied): ``str`` as text, bytes-like as binary.

        Raises:
            ConnectionClosed: the connection is gone.
        """
        if self.close_code is not None:
            raise closed_error(self.close_code, self.close_reason or "")
        self.engine.send(self.id, data, text=text)

    async def send(self, data: Data, *, text: Optional[bool] = None) -> None:
        """:meth:`send_nowait` as a coroutine, for ``websockets`` compatibility
        (the engine never blocks on the network)."""
        self.send_nowait(data, text=text)

    @property
    def buffered_amount(self) -> int:
        """Bytes queued on this connection and not yet written (see
        :meth:`Engine.buffered_amount`); 0 once closed."""
        if self.close_code is not None:
            return 0
        try:
            return self.engine.buffered_amount(self.id)
        except UnknownConnectionError:
            return 0

    async def close(self, code: int = CloseCode.NORMAL, reason: str = "", timeout: float = 10.0) -> None:
        """Starts the closing handshake and waits (up to ``timeout`` s) until it is done."""
        if self.close_code is None:
            try:
                self.engine.close(self.id, code, reason)
            except Exception:
                if self.close_code is None and not self.engine.stopped:
                    raise
        await asyncio.wait_for(asyncio.shield(self._closed_fut), timeout)

    async def wait_closed(self) -> None:
        """Waits until the connection is gone."""
        await asyncio.shield(self._closed_fut)

    async def ping(self, data: Optional[bytes] = None) -> "asyncio.Future[float]":
        """Sends a ping; returns a future that resolves to the round-trip
        time in seconds when its pong arrives (as ``websockets``:
        ``latency = await (await ws.ping())``). ``data`` (at most 125 bytes)
        is the payload; by default a unique 8-byte one.

        Raises:
            ConnectionClosed: the connection is gone (also from the future,
                if it goes before the pong comes).
        """
        if self.close_code is not None:
            raise closed_error(self.close_code, self.close_reason or "")
        if data is None:
            data = next(_ping_ids).to_bytes(8, "big")
        data = bytes(data)
        if data in self._pings:
            raise ValueError("a ping with this payload is already waiting for its pong")
        fut: "asyncio.Future[float]" = asyncio.get_running_loop().create_future()
        self._pings[data] = (time.monotonic(), fut)
        try:
            self.engine._call(lib.rws_engine_send, self.id, _ffi.RWS_OPCODE_PING, data, len(data))
        except BaseException:
            del self._pings[data]
            raise
        return fut

    def subscribe(self, topic: str) -> None:
        """Subscribes this connection to ``topic`` (``Engine.publish``)."""
        self.engine.subscribe(self.id, topic)

    def unsubscribe(self, topic: str) -> None:
        self.engine.unsubscribe(self.id, topic)

    def __repr__(self) -> str:
        state = f"closed {self.close_code}" if self.closed else "open"
        return f"<Connection {self.id:#x} {self.path!r} {state}>"


class Listener:
    """Callbacks for an engine created with ``listener=...`` (asyncio): no
    coroutine per message. Override what you need; the methods run on the
    loop's thread, straight from the batch drain.

    :attr:`zero_copy` chooses what :meth:`on_message` gets:

    * ``False`` (the default): ``str`` for text, ``bytes`` for binary, owned
      by the callee (``json.loads(data)`` works as it is);
    * ``True``: a read-only ``memoryview`` for both, no copy per message:
      a slice of the batch's bytes, which the binding copied out of the
      engine in one piece when it polled (never engine memory), so the view
      stays valid for as long as it is held, and holding it keeps that whole
      batch's bytes (up to ``batch_size`` events) alive: ``bytes(data)`` when
      a message is kept long; ``str(data, "utf-8")`` decodes text.
    """

    #: Hand on_message a zero-copy memoryview (True) or str/bytes (False).
    zero_copy: bool = False

    def on_open(self, conn: Connection) -> None:
        """A connection opened (server side, or a client ``dial``/``connect``)."""

    def on_message(self, conn: Connection, kind: EventType, data: Union[str, bytes, memoryview]) -> None:
        """A whole message: ``kind`` is ``EventType.TEXT`` or ``EventType.BINARY``;
        ``data`` as :attr:`zero_copy` says (``str``/``bytes``, or a view of the
        batch's bytes)."""

    def on_close(self, conn: Connection, code: Union[CloseCode, int], reason: str) -> None:
        """The connection is gone."""

    def on_pong(self, conn: Connection, data: bytes) -> None:
        """A pong arrived (``Connection.ping`` futures resolve too)."""

    def on_connect_error(self, tag: int, message: str) -> None:
        """A raw ``Engine.connect(url, tag)`` failed before opening."""


Handler = Callable[[Connection], Awaitable[Any]]


class serve:
    """``async with serve(handler, "127.0.0.1:0") as server:`` in the style of
    ``websockets.serve``: ``handler(conn)`` runs as a task per connection; when
    it returns, the connection is closed with 1000 (1011 if it raised).
    Leaving the block stops the server (1001 to every client) and frees it.
    ``handler`` may be None: then take connections with ``server.accept()``.
    """

    def __init__(
        self,
        handler: Optional[Handler],
        listen: Union[str, Sequence[str]] = "127.0.0.1:0",
        **settings: Any,
    ) -> None:
        from ._engine import Server

        self._handler = handler
        self._listen = [listen] if isinstance(listen, str) else list(listen)
        self._settings = settings
        self._server: Optional[Server] = None
        self._task: Optional["asyncio.Task[None]"] = None
        self._handlers: "set[asyncio.Task[None]]" = set()
        self._make = Server

    async def __aenter__(self) -> "Server":
        server = self._make(self._listen, **self._settings)
        server.attach()
        self._server = server
        if self._handler is not None:
            self._task = asyncio.get_running_loop().create_task(self._accept_loop(server))
        return server

    async def _accept_loop(self, server: "Server") -> None:
        from ._ffi import StoppedError

        while True:
            try:
                conn = await server.accept()
            except StoppedError:
                return
            task = asyncio.get_running_loop().create_task(self._run(conn))
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)

    async def _run(self, conn: Connection) -> None:
        assert self._handler is not None
        code = CloseCode.NORMAL
        try:
            await self._handler(conn)
        except asyncio.CancelledError:
            raise
        except Exception:
            if not conn.closed:
                log.exception("connection handler failed")
            code = CloseCode.INTERNAL_ERROR
        if not conn.closed:
            try:
                await conn.close(code)
            except Exception:
                pass

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        if self._task is not None:
            self._task.cancel()
        await self._server.aclose()
        if self._handlers:
            await asyncio.wait(set(self._handlers), timeout=5)


class connect:
    """``async with connect("ws://127.0.0.1:9001/") as ws:`` or
    ``ws = await connect(...)``, in the style of ``websockets.connect``: a
    private one-thread client engine and one :class:`Connection`. Leaving the
    block closes it (1000) and frees the engine; an awaited connection frees
    its engine once it is closed (``await ws.close()``).

    ``open_timeout`` (seconds, ``None``: none) bounds the whole opening;
    ``headers`` (a mapping or ``(name, value)`` pairs) go into the upgrade
    request; ``subprotocols`` are offered in order of preference (the
    server's choice: ``ws.subprotocol``); TLS options (``cafile``,
    ``certfile``, ``keyfile``, ``server_hostname``,
    ``danger_accept_invalid_certs``) as :meth:`Engine.connect`; the other
    keyword arguments are :class:`Engine` settings of the private engine,
    i.e. of this connection (``max_queue``, ``max_message_size``,
    ``ping_interval``, ``idle_timeout``, ``handshake_timeout``, ...).

    Raises (on entry, or from ``await``):
        InvalidArgumentError: a malformed URL.
        UnknownHostError, RefusedError, HandshakeRejectedError,
        OpenTimeoutError: the connection failed that way (all are
        :class:`ConnectError`).
    """

    _PER_DIAL = ("cafile", "certfile", "keyfile", "server_hostname", "danger_accept_invalid_certs")

    def __init__(
        self,
        url: str,
        *,
        open_timeout: Optional[float] = 10.0,
        headers: Optional[Any] = None,
        subprotocols: Optional[Sequence[str]] = None,
        **settings: Any,
    ) -> None:
        from ._engine import Client

        self._url = url
        self._timeout = open_timeout
        self._dial: Dict[str, Any] = {k: settings.pop(k) for k in self._PER_DIAL if k in settings}
        self._dial["headers"] = headers
        self._dial["subprotocols"] = tuple(subprotocols or ())
        self._client = Client(**settings)
        self._conn: Optional[Connection] = None

    async def _open(self) -> Connection:
        try:
            self._conn = await self._client.dial(self._url, self._timeout, **self._dial)
        except BaseException:
            await self._client.aclose(0)
            raise
        return self._conn

    async def __aenter__(self) -> Connection:
        return await self._open()

    def __await__(self) -> Generator[Any, None, Connection]:
        return self._await().__await__()

    async def _await(self) -> Connection:
        conn = await self._open()
        if conn.closed:  # closed before we got it: free now
            await self._client.aclose(0)
        else:
            conn._owner = self._client
        return conn

    async def __aexit__(self, *exc: object) -> None:
        if self._conn is not None and not self._conn.closed:
            try:
                await self._conn.close(CloseCode.NORMAL, timeout=2.0)
            except Exception:
                pass
        await self._client.aclose()
