"""The asyncio shapes: a ``websockets``-style :class:`Connection` (``async for
msg in conn``), a ``picows``-style :class:`Listener` (a callback per message
with a zero-copy ``memoryview``), and the ``serve``/``connect`` helpers."""

from __future__ import annotations

import asyncio
import collections
import logging
from typing import (
    TYPE_CHECKING,
    Any,
    AsyncIterator,
    Awaitable,
    Callable,
    Deque,
    Optional,
    Sequence,
    Union,
)

from ._ffi import Data, UnknownConnectionError
from ._flow import Flow
from ._types import CloseCode, EventType, closed_error

if TYPE_CHECKING:
    from ._engine import Engine, Server, Client

__all__ = ["Connection", "Listener", "serve", "connect"]

log = logging.getLogger("rocwebsocket")

Message = Union[str, bytes]


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
    coroutine and no copy per message. Override what you need; the methods
    run on the loop's thread, straight from the batch drain."""

    def on_open(self, conn: Connection) -> None:
        """A connection opened (server side, or a client ``dial``/``connect``)."""

    def on_message(self, conn: Connection, kind: EventType, data: memoryview) -> None:
        """A whole message: ``kind`` is ``EventType.TEXT`` or ``BINARY``.

        ``data`` is a zero-copy view over the engine's bytes, valid only during
        this call (it is released on return). ``bytes(data)`` keeps a copy;
        ``str(data, "utf-8")`` decodes text.
        """

    def on_close(self, conn: Connection, code: Union[CloseCode, int], reason: str) -> None:
        """The connection is gone."""

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
    """``async with connect("ws://127.0.0.1:9001/") as ws:`` in the style of
    ``websockets.connect``: a private one-thread client engine and one
    :class:`Connection`. Leaving the block closes it (1000) and frees the engine.

    Raises (on entry):
        InvalidArgumentError: a malformed URL.
        ConnectError: the connection failed.
    """

    def __init__(self, url: str, *, open_timeout: Optional[float] = 10.0, **settings: Any) -> None:
        from ._engine import Client

        self._url = url
        self._timeout = open_timeout
        self._client = Client(**settings)
        self._conn: Optional[Connection] = None

    async def __aenter__(self) -> Connection:
        try:
            self._conn = await self._client.dial(self._url, self._timeout)
        except BaseException:
            await self._client.aclose(0)
            raise
        return self._conn

    async def __aexit__(self, *exc: object) -> None:
        if self._conn is not None and not self._conn.closed:
            try:
                await self._conn.close(CloseCode.NORMAL, timeout=2.0)
            except Exception:
                pass
        await self._client.aclose()
