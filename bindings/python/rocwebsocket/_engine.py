"""The batched engine: one C call drains up to ``batch_size`` events.

An :class:`Engine` is a server (it listens), a client (it connects), or both.
It offers two ways to receive:

* blocking: ``for event in engine.events(timeout=...)`` (or :meth:`Engine.poll`),
  from one thread; fastest, :meth:`Engine.poll_batch` hands over a whole
  batch as columns (:class:`~rocwebsocket.Batch`) without an object per event;
* asyncio: the engine's wake-up descriptor (``rws_engine_event_fd``) is
  watched with ``loop.add_reader``; each wake-up takes one batch (at most
  ``batch_size`` events) in one call, then hands control back to the loop,
  and hands them to :class:`~rocwebsocket.Connection` objects
  (``async for msg in conn``, a bounded receive queue that pauses reading
  from the peer when full) or to a :class:`~rocwebsocket.Listener`
  (zero-copy ``memoryview``, no coroutine per message).

Sending (``send``, ``close``, ``broadcast``, ``publish``, ``subscribe``,
``connect``) is thread-safe and never waits for the network: the bytes are
copied and handed to the connection's event-loop thread.
"""

from __future__ import annotations

import asyncio
import collections
import ctypes
import itertools
import logging
import threading
import time
import urllib.parse
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Deque,
    Dict,
    Iterable,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from . import _ffi
from ._batch import Batch, rws_event_batch
from ._ffi import Data, StoppedError, lib
from ._log import sync_log_level
from ._flow import DEFAULT_MAX_QUEUE, DEFAULT_MAX_QUEUE_BYTES
from ._types import CloseCode, Event, EventType, OpenTimeoutError, connect_error, start_error
from ._upgrade import Accept, Decision, Reject, UpgradeRequest

_UPGRADE = int(EventType.UPGRADE)

if TYPE_CHECKING:
    from ._connection import Connection, Listener

__all__ = ["Engine", "Server", "Client"]

log = logging.getLogger("rocwebsocket")

_TYPES = tuple(EventType)
#: Extra request headers: a mapping, or (name, value) pairs (repeatable names).
Headers = Union[Mapping[str, str], Iterable[Tuple[str, str]]]
# A TLS client configuration's key: (cafile, certfile, keyfile, danger_accept_invalid_certs).
_TlsClientKey = Tuple[Optional[str], Optional[str], Optional[str], bool]
_SLICE_MS = 100  # longest single wait inside poll, so stop() is never held up longer


def _guarded(fn: Any, *args: Any) -> None:
    """Runs a Listener method; an exception is logged, not let out of the
    batch drain (the batch's other events would be lost)."""
    try:
        fn(*args)
    except Exception:
        log.exception("Listener.%s failed", getattr(fn, "__name__", "callback"))


class _Gate:
    """Lets many calls run at once but ``stop``/``free`` alone, as the C
    contract asks ("must not race with other calls on the same engine")."""

    __slots__ = ("_cond", "_users", "_exclusive", "freed")

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._users = 0
        self._exclusive = False
        self.freed = False

    def enter(self, wait: bool = False) -> None:
        with self._cond:
            if self._exclusive and not wait:
                raise StoppedError(_ffi.RWS_ERR_STOPPED, "RWS_ERR_STOPPED", "the engine is stopping")
            while self._exclusive:
                self._cond.wait()
            if self.freed:
                raise StoppedError(_ffi.RWS_ERR_STOPPED, "RWS_ERR_STOPPED", "the engine was freed")
            self._users += 1

    def leave(self) -> None:
        with self._cond:
            self._users -= 1
            if self._exclusive and not self._users:
                self._cond.notify_all()

    def lock(self) -> None:
        with self._cond:
            while self._exclusive:
                self._cond.wait()
            self._exclusive = True
            while self._users:
                self._cond.wait()

    def unlock(self) -> None:
        with self._cond:
            self._exclusive = False
            self._cond.notify_all()


class Engine:
    """A running batched engine (``rws_engine_start_batched``).

    Args:
        listen: addresses to listen on ("127.0.0.1:0", "[::1]:9001",
            "unix:/path"); empty for a client-only engine.
        threads: event-loop threads (0: one per core).
        batch_size: events carried per C call (the preallocated array).
        listener: a :class:`~rocwebsocket.Listener` for the asyncio API; without
            one, connections queue their messages for ``recv``/``async for``.
        **settings: ``max_connections``, ``max_frame_size``,
            ``max_message_size``, ``max_buffered``, ``backpressure_notify``,
            ``handshake_timeout``, ``idle_timeout``, ``ping_interval``,
            ``pong_timeout``, ``close_timeout`` (seconds), ``protocols``,
            ``max_queued_bytes`` (untaken event bytes before the engine stops
            reading from the connections that deliver more; default 64 MiB,
            0: no cap; nothing is ever dropped), ``deflate`` (negotiate
            permessage-deflate, RFC 7692).
        certfile, keyfile: serve ``wss://``: a PEM certificate chain and its
            key (as ``ssl.SSLContext.load_cert_chain``). The ``tls_listen``
            addresses use them, or else every ``listen`` address does.
        client_cafile: with ``certfile``: clients must present a certificate
            issued by a CA of this PEM file (mutual TLS).
        tls_listen: TLS addresses beside the plain ``listen`` ones.
        on_upgrade: ``on_upgrade(request: UpgradeRequest) -> Accept | Reject |
            None``, called for each upgrade request before any answer is
            written (on the thread that polls, or the asyncio loop): check
            ``request.origin``, choose one of ``request.protocols``, add
            headers, or reject with an HTTP status. The UPGRADE events stay
            in the polled events too. An exception rejects with 500.
        max_queue, max_queue_bytes: the receive queue of each
            :class:`~rocwebsocket.Connection` (messages not yet taken by
            ``recv``/``async for``): past either limit (default 4096
            messages, 16 MiB) the engine stops reading from that connection,
            so TCP pushes back on the peer, until the queue is down to half of
            both; nothing is dropped. 0 or ``None``: no limit. A
            :class:`~rocwebsocket.Listener` has no queue.

    Raises:
        EngineStartError: bad settings, bad certificates, or an address that
            cannot be bound.

    Use it as a context manager (``with``/``async with``): leaving it stops the
    engine (1001 to every connection) and frees it.
    """

    def __init__(
        self,
        listen: Sequence[str] = (),
        *,
        threads: int = 0,
        batch_size: int = 1024,
        listener: Optional["Listener"] = None,
        certfile: Optional[str] = None,
        keyfile: Optional[str] = None,
        client_cafile: Optional[str] = None,
        tls_listen: Sequence[str] = (),
        on_upgrade: Optional[Callable[[UpgradeRequest], Decision]] = None,
        max_queue: Optional[int] = DEFAULT_MAX_QUEUE,
        max_queue_bytes: Optional[int] = DEFAULT_MAX_QUEUE_BYTES,
        **settings: Any,
    ) -> None:
        if isinstance(listen, str):
            listen = [listen]
        if isinstance(tls_listen, str):
            tls_listen = [tls_listen]
        self._tls_server: Optional[int] = None
        self._tls_clients: Dict[_TlsClientKey, int] = {}
        if certfile or keyfile or client_cafile or tls_listen:
            self._tls_server = _tls_server(certfile, keyfile, client_cafile)
            if not tls_listen:
                tls_listen, listen = listen, ()
        sync_log_level()
        try:
            cfg, keep = _ffi.make_config(
                listen,
                threads=threads,
                tls_listen=tls_listen,
                tls_server=self._tls_server,
                decide_upgrades=on_upgrade is not None,
                **settings,
            )
            ptr = lib.rws_engine_start_batched(ctypes.byref(cfg))
            del keep  # the C side copied every string
            if not ptr:
                raise _ffi.start_error()
        except BaseException:
            if self._tls_server:
                lib.rws_tls_server_free(self._tls_server)
                self._tls_server = None
            raise
        self._ptr: int = ptr
        self._on_upgrade = on_upgrade
        self._gate = _Gate()
        self._stopped = False
        self._batch_size = batch_size
        self._raw_batch = rws_event_batch()
        self._port: int = lib.rws_engine_port(ptr)
        self._tls_port: int = lib.rws_engine_tls_port(ptr)
        self._fd: int = lib.rws_engine_event_fd(ptr)
        # asyncio state, set up by attach()
        self._listener = listener
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._conns: Dict[int, "Connection"] = {}
        self._accepted: Deque["Connection"] = collections.deque()
        self._accept_waiters: Deque["asyncio.Future[None]"] = collections.deque()
        self._dials: Dict[int, "asyncio.Future[Connection]"] = {}
        self._dial_urls: Dict[int, str] = {}
        self._dial_headers: Dict[int, List[Tuple[str, str]]] = {}  # extra headers sent, per dial
        # Accepted upgrades not yet open: (subprotocol, request headers).
        self._upgraded: Dict[int, Tuple[Optional[str], List[Tuple[str, str]]]] = {}
        self._tags = itertools.count(1 << 62)
        # Per-connection receive queue limits (0 or None: no limit).
        self._max_queue = max_queue or 0
        self._max_queue_bytes = max_queue_bytes or 0

    # ---- properties ----
    @property
    def port(self) -> int:
        """The TCP port of the first TCP listener (the real one after port 0), or 0."""
        return self._port

    @property
    def tls_port(self) -> int:
        """The TCP port of the first TLS listener (the real one after port 0), or 0."""
        return self._tls_port

    def reload_cert(self, certfile: str, keyfile: str) -> None:
        """Swaps in a new certificate chain and key (PEM files) for the TLS
        listeners: new handshakes get it, open connections are untouched. On
        error the old one stays.

        Raises:
            InvalidArgumentError, IoError: a bad or unreadable file.
        """
        if not self._tls_server:
            raise ValueError("this engine has no TLS listener")
        _ffi.check(lib.rws_tls_server_reload_files(self._tls_server, certfile.encode(), keyfile.encode()))

    def _tls_client(self, options: "_TlsClientKey") -> int:
        """The C TLS client configuration for these options, made once per engine."""
        client = self._tls_clients.get(options)
        if client is None:
            cafile, certfile, keyfile, danger = options
            ca, cert, key = _read_optional(cafile), _read_optional(certfile), _read_optional(keyfile)
            c = _ffi.rws_tls_client_config()
            c.ca_pem, c.ca_pem_len = ca, len(ca or b"")
            c.cert_pem, c.cert_pem_len = cert, len(cert or b"")
            c.key_pem, c.key_pem_len = key, len(key or b"")
            c.danger_accept_invalid_certs = danger
            client = lib.rws_tls_client_new(ctypes.byref(c))
            if not client:
                raise _ffi.start_error()
            self._tls_clients[options] = client
        return client

    @property
    def event_fd(self) -> int:
        """The descriptor that is readable while events wait (owned by the engine)."""
        return self._fd

    @property
    def connection_count(self) -> int:
        """Connections open or opening."""
        self._gate.enter()
        try:
            return int(lib.rws_engine_connection_count(self._ptr))
        finally:
            self._gate.leave()

    @property
    def stopped(self) -> bool:
        return self._stopped

    # ---- sending (thread-safe) ----
    def _call(self, fn: Any, *args: Any) -> None:
        gate = self._gate
        gate.enter()
        try:
            rc = fn(self._ptr, *args)
            if rc:
                raise _ffi.error(rc)  # same thread, right after the call
        finally:
            gate.leave()

    def send(self, conn: int, data: Data, *, text: Optional[bool] = None) -> None:
        """Sends a message to connection ``conn``: ``str`` as text, bytes-like as
        binary (``text=True`` sends bytes as text; the engine checks they are
        UTF-8 and raises :class:`Utf8Error` otherwise). The bytes are copied.

        Raises:
            UnknownConnectionError: ``conn`` is not (or no longer) known.
            StoppedError: the engine has stopped.
        """
        op, raw = _ffi.encode(data, text)
        self._call(lib.rws_engine_send, conn, op, raw, len(raw))

    def close(self, conn: int, code: int = CloseCode.NORMAL, reason: str = "") -> None:
        """Starts the closing handshake of ``conn`` with ``code`` (one that may
        be sent: 1000-1003, 1007-1014, 3000-4999) and a reason of at most 123
        UTF-8 bytes. A CLOSE event follows when it is done."""
        raw = reason.encode()
        self._call(lib.rws_engine_close, conn, int(code), raw, len(raw))

    def broadcast(self, data: Data, *, text: Optional[bool] = None) -> None:
        """Sends one message to every open server-side connection (encoded once)."""
        op, raw = _ffi.encode(data, text)
        self._call(lib.rws_engine_broadcast, op, raw, len(raw))

    def publish(self, topic: str, data: Data, *, text: Optional[bool] = None) -> None:
        """Sends one message to every connection subscribed to ``topic``."""
        op, raw = _ffi.encode(data, text)
        self._call(lib.rws_engine_publish, topic.encode(), op, raw, len(raw))

    def subscribe(self, conn: int, topic: str) -> None:
        """Subscribes connection ``conn`` to ``topic`` (see :meth:`publish`)."""
        self._call(lib.rws_engine_subscribe, conn, topic.encode(), True)

    def unsubscribe(self, conn: int, topic: str) -> None:
        """Undoes :meth:`subscribe`."""
        self._call(lib.rws_engine_subscribe, conn, topic.encode(), False)

    def pause_reading(self, conn: int) -> None:
        """Stops reading from ``conn`` (its events already read still come);
        the peer then meets TCP flow control. Idle and pong deadlines wait.
        The engine also pauses connections by itself once ``max_queued_bytes``
        of events wait untaken, and resumes them when a poll takes the queue.
        A :class:`~rocwebsocket.Connection` paused here stays paused until
        :meth:`resume_reading`, whatever its receive queue does."""
        c = self._conns.get(conn)
        if c is not None:
            c._flow.user_paused = True
        self._call(lib.rws_engine_pause_reading, conn)

    def resume_reading(self, conn: int) -> None:
        """Resumes reading from ``conn`` (a no-op when it is not paused). A
        :class:`~rocwebsocket.Connection` whose receive queue is full stays
        paused until ``recv`` takes it down to half."""
        c = self._conns.get(conn)
        if c is not None:
            c._flow.user_paused = False
            if c._flow.full:
                return
        self._call(lib.rws_engine_resume_reading, conn)

    def _set_reading(self, conn: int, reading: bool) -> None:
        """Pauses or resumes ``conn`` for its receive queue; a connection
        that is gone (or an engine that is stopping) needs neither."""
        try:
            self._call(lib.rws_engine_resume_reading if reading else lib.rws_engine_pause_reading, conn)
        except _ffi.RocwsError:
            pass

    def connect(
        self,
        url: str,
        tag: int = 0,
        *,
        headers: Optional[Headers] = None,
        subprotocols: Sequence[str] = (),
        handshake_timeout: Optional[float] = None,
        idle_timeout: Optional[float] = None,
        ping_interval: Optional[float] = None,
        pong_timeout: Optional[float] = None,
        close_timeout: Optional[float] = None,
        max_frame_size: Optional[int] = None,
        max_message_size: Optional[int] = None,
        cafile: Optional[str] = None,
        certfile: Optional[str] = None,
        keyfile: Optional[str] = None,
        server_hostname: Optional[str] = None,
        danger_accept_invalid_certs: bool = False,
    ) -> None:
        """Opens a client connection to ``url`` (``ws://host:port/path``,
        ``ws+unix:///path`` or ``wss://...``); an OPEN or CONNECT_ERROR event
        carrying ``tag`` follows. Name resolution happens on the calling thread.

        Per connection (``rws_engine_connect_opts``): ``headers`` (a mapping
        or ``(name, value)`` pairs) go into the upgrade request;
        ``subprotocols`` are offered in order of preference (the server's
        choice is ``Connection.subprotocol``, or ``rws_engine_protocol``);
        ``handshake_timeout`` (seconds, TCP + TLS + upgrade), ``idle_timeout``,
        ``ping_interval``, ``pong_timeout``, ``close_timeout`` and the size
        limits override the engine's settings (``None``: the engine's; 0 turns
        a handshake/idle/ping timer off).

        For ``wss://``, as with ``ssl``: ``cafile`` (PEM CAs to trust instead
        of the system's store), ``certfile``/``keyfile`` (a client
        certificate for mutual TLS), ``server_hostname`` (the name sent and
        checked, if not the URL's host). ``danger_accept_invalid_certs``
        turns certificate checks off (tests only). A TLS failure is a
        CONNECT_ERROR whose text starts with ``TLS:`` (close code 1015).

        Raises:
            InvalidArgumentError: a malformed URL, or a header name or value
                a request cannot carry.
            UnknownHostError: the host name did not resolve.
        """
        options = (cafile, certfile, keyfile, danger_accept_invalid_certs)
        opts = _ffi.rws_connect_options()
        opts.struct_size = ctypes.sizeof(_ffi.rws_connect_options)
        opts.tag = tag
        pairs = _header_pairs(headers)
        flat = [x.encode() for pair in pairs for x in pair]
        header_arr = (ctypes.c_char_p * len(flat))(*flat) if flat else None
        opts.headers = ctypes.cast(header_arr, ctypes.POINTER(ctypes.c_char_p)) if header_arr else None
        opts.header_count = len(pairs)
        protos = [p.encode() for p in subprotocols]
        proto_arr = (ctypes.c_char_p * len(protos))(*protos) if protos else None
        opts.protocols = ctypes.cast(proto_arr, ctypes.POINTER(ctypes.c_char_p)) if proto_arr else None
        opts.protocol_count = len(protos)
        opts.tls = self._tls_client(options) if any(options) else None
        opts.server_name = server_hostname.encode() if server_hostname else None
        for field, value in (
            ("handshake_timeout_ms", handshake_timeout),
            ("idle_timeout_ms", idle_timeout),
            ("ping_interval_ms", ping_interval),
            ("pong_timeout_ms", pong_timeout),
            ("close_timeout_ms", close_timeout),
        ):
            if value is not None:
                setattr(opts, field, _ffi.RWS_TIMEOUT_NEVER if not value else max(1, int(value * 1000)))
        if max_frame_size:
            opts.conn.max_frame_size = max_frame_size
        if max_message_size:
            opts.conn.max_message_size = max_message_size
        try:
            self._call(lib.rws_engine_connect_opts, url.encode(), ctypes.byref(opts))
        except _ffi.RocwsError as e:
            raise start_error(e, url, tag) from None
        # The C side copied everything; keep the arrays alive until here.
        del header_arr, proto_arr

    # ---- blocking receive ----
    def _poll_raw(self, max_events: int, timeout_ms: int) -> Batch:
        """One ``rws_engine_poll_batch`` call, its columns copied into a
        :class:`Batch`; the caller holds the gate."""
        raw = self._raw_batch
        rc = lib.rws_engine_poll_batch(self._ptr, max_events, timeout_ms, ctypes.byref(raw))
        if rc:
            raise _ffi.error(rc)
        batch = Batch(raw)
        if self._on_upgrade is not None and _UPGRADE in batch.types:
            self._answer_upgrades(batch)
        return batch

    def _answer_upgrades(self, batch: Batch) -> None:
        """Asks ``on_upgrade`` about every UPGRADE event of ``batch`` and
        answers each (the caller holds the gate)."""
        decide = self._on_upgrade
        assert decide is not None
        for i, t in enumerate(batch.types):
            if t != _UPGRADE:
                continue
            cid = batch.conns[i]
            try:
                request = UpgradeRequest(cid, batch.payload(i))
                decision = decide(request)
                if decision is None:
                    decision = Accept()
                if isinstance(decision, Accept):
                    flat = [x.encode() for pair in decision.headers for x in pair]
                    arr = (ctypes.c_char_p * len(flat))(*flat) if flat else None
                    proto = decision.protocol.encode() if decision.protocol else None
                    _ffi.check(
                        lib.rws_engine_accept_upgrade(self._ptr, cid, proto, arr, len(decision.headers))
                    )
                    self._upgraded[cid] = (decision.protocol or None, request.headers)
                elif isinstance(decision, Reject):
                    body = decision.body.encode()
                    _ffi.check(lib.rws_engine_reject_upgrade(self._ptr, cid, decision.status, body, len(body)))
                else:
                    raise TypeError(f"on_upgrade returned {decision!r}, not Accept, Reject or None")
            except Exception:
                log.exception("on_upgrade failed: rejecting with 500")
                lib.rws_engine_reject_upgrade(self._ptr, cid, 500, b"", 0)

    def buffered_amount(self, conn: int) -> int:
        """Bytes queued on open connection ``conn`` and not yet written, as
        the engine last recorded them; any thread, any time. Raises
        :class:`UnknownConnectionError` for a connection not open."""
        out = ctypes.c_size_t()
        self._call(lib.rws_engine_buffered_amount, conn, ctypes.byref(out))
        return out.value

    def poll_batch(self, timeout: Optional[float] = 0.0, max_events: Optional[int] = None) -> Batch:
        """Takes the events ready now as one :class:`Batch` of columns,
        waiting up to ``timeout`` seconds for the first (0: do not wait;
        ``None``: until one comes or the engine stops). The fastest way to
        receive: a handful of copies per call and no Python object per event.

        Returns at most ``max_events`` (default and cap: ``batch_size``)
        events; an empty batch on timeout, or once the engine has stopped and
        every event was taken (or was freed). Poll from one thread at a time.
        """
        if self._loop is not None:
            raise RuntimeError("this engine is attached to an asyncio loop; use its async API")
        n_max = self._batch_size if max_events is None else max(1, min(max_events, self._batch_size))
        deadline = None if timeout is None else time.monotonic() + timeout
        gate = self._gate
        while True:
            if deadline is None:
                wait = _SLICE_MS
            else:
                wait = int(max(0.0, min(deadline - time.monotonic(), _SLICE_MS / 1000)) * 1000)
            try:
                gate.enter(wait=True)  # waits out a concurrent stop(), then drains
            except StoppedError:
                return Batch()  # freed meanwhile: nothing more will come
            try:
                batch = self._poll_raw(n_max, wait)
                if batch:
                    return batch
            finally:
                gate.leave()
            if self._stopped or (deadline is not None and time.monotonic() >= deadline):
                return batch

    def poll(
        self,
        timeout: Optional[float] = 0.0,
        max_events: Optional[int] = None,
        *,
        copy: bool = True,
    ) -> List[Event]:
        """Like :meth:`poll_batch`, as a list of :class:`Event` objects.

        Each event's ``data`` is ``bytes``, or with ``copy=False`` a read-only
        ``memoryview`` into the batch's bytes (no copy per event; it keeps the
        whole batch's bytes alive while you hold it).
        """
        return _events_of(self.poll_batch(timeout, max_events), copy)

    def batches(self, timeout: Optional[float] = None) -> Iterator[Batch]:
        """Yields :meth:`poll_batch` results until ``timeout`` seconds pass
        without any event, or, with ``timeout=None``, until the engine has
        stopped and its last events were yielded."""
        while True:
            batch = self.poll_batch(timeout)
            if not batch:
                return
            yield batch

    def events(self, timeout: Optional[float] = None, *, copy: bool = True) -> Iterator[Event]:
        """Yields events as they come, fetched in batches of up to ``batch_size``.

        Ends when ``timeout`` seconds pass without any event, or, with
        ``timeout=None``, once the engine has stopped (from another thread,
        :meth:`stop`) and its last events (every connection's CLOSE) were
        yielded. With ``copy=False``, ``event.data`` is a ``memoryview`` into
        its batch's bytes (see :class:`Event`).
        """
        while True:
            batch = self.poll(timeout, copy=copy)
            if not batch:
                return
            yield from batch

    # ---- lifetime ----
    def stop(self, grace: float = 1.0) -> None:
        """Stops gracefully: listeners close, every open connection gets 1001
        (going away), closing handshakes get up to ``grace`` seconds. Returns
        when the engine's threads have finished; every connection's CLOSE event
        is then waiting to be polled. Calling it again is fine. Blocks: in
        asyncio use :meth:`astop` or ``async with``."""
        gate = self._gate
        gate.lock()
        try:
            if gate.freed:
                return
            rc = lib.rws_engine_stop(self._ptr, max(0, int(grace * 1000)))
            self._stopped = True
            if rc:
                raise _ffi.error(rc)
        finally:
            gate.unlock()

    def free(self) -> None:
        """Stops (grace 1 s) if needed and frees the engine and every event
        payload it handed out. Calling it again is a no-op."""
        gate = self._gate
        gate.lock()
        try:
            if gate.freed:
                return
            gate.freed = True
            self._stopped = True
            lib.rws_engine_free(self._ptr)
            if self._tls_server:
                lib.rws_tls_server_free(self._tls_server)
                self._tls_server = None
            for client in self._tls_clients.values():
                lib.rws_tls_client_free(client)
            self._tls_clients.clear()
        finally:
            gate.unlock()

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.free()

    def __del__(self) -> None:
        try:
            if not self._gate.freed and self._loop is None:
                self.free()
        except Exception:  # interpreter shutdown: nothing sensible left to do
            pass

    # ---- asyncio ----
    def attach(self) -> None:
        """Watches the engine from the running asyncio loop (``add_reader`` on
        :attr:`event_fd`). Done implicitly by ``async with``, :meth:`accept`
        and :meth:`dial`. An attached engine cannot also be polled blocking."""
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        if self._loop is not None:
            raise RuntimeError("engine already attached to another event loop")
        if self._gate.freed:
            raise StoppedError(_ffi.RWS_ERR_STOPPED, "RWS_ERR_STOPPED", "the engine was freed")
        self._loop = loop
        loop.add_reader(self._fd, self._on_readable)

    def _on_readable(self) -> None:
        gate = self._gate
        try:
            gate.enter()
        except StoppedError:
            return  # astop() drains once the engine has stopped
        try:
            # One batch per wake-up, then back to the loop so its other
            # callbacks and timers run: the descriptor stays readable while
            # events are left, so the loop calls again on its next turn.
            batch = self._poll_raw(self._batch_size, 0)
            if batch:
                self._dispatch(batch)
        finally:
            gate.leave()

    def _dispatch(self, batch: Batch) -> None:
        from ._connection import Connection

        listener = self._listener
        conns = self._conns
        data, ends = batch.data, batch.offsets.tolist()
        view = memoryview(data)
        tags, codes = batch.tags, batch.close_codes
        full: "set[Connection]" = set()
        zero_copy = listener is not None and listener.zero_copy
        for i, (t, cid, start, end) in enumerate(zip(batch.types, batch.conns, ends, ends[1:])):
            if t == 1 or t == 2:  # TEXT, BINARY
                conn = conns.get(cid)
                if conn is None:
                    continue
                if listener is not None:
                    if zero_copy:
                        message: "Union[str, bytes, memoryview]" = view[start:end]
                    else:
                        raw = data[start:end]
                        message = raw.decode() if t == 1 else raw
                    try:
                        listener.on_message(conn, _TYPES[t], message)
                    except Exception:
                        # Keep draining: the rest of the batch is still owed.
                        log.exception("Listener.on_message failed")
                else:
                    payload = data[start:end]
                    if conn._deliver(payload.decode() if t == 1 else payload, end - start) and conn not in full:
                        # Past its limit: pause now, before the rest of the
                        # batch. Once per batch, also when already paused:
                        # the engine resumes a connection it paused for its
                        # own queue when polled.
                        full.add(conn)
                        conn._flow.full = True
                        self._set_reading(cid, False)
                continue
            tag, code = tags[i], codes[i]
            if t == 7:  # OPEN
                conn = Connection(self, cid, data[start:end].decode("utf-8", "replace"), tag)
                upgraded = self._upgraded.pop(cid, None)
                if upgraded is not None:
                    conn.request_headers = upgraded[1]
                conn.subprotocol = _protocol_of(self._ptr, cid)
                conns[cid] = conn
                fut = self._dials.pop(tag, None) if tag else None
                url = self._dial_urls.pop(tag, None) if tag else None
                if url is not None:
                    conn.remote_address = _address_of(url)
                    conn.request_headers = self._dial_headers.pop(tag, [])
                if fut is not None and fut.done():  # the dialer gave up (timeout, cancel)
                    self._try_close(cid, CloseCode.GOING_AWAY, "")
                    continue
                if listener is not None:
                    _guarded(listener.on_open, conn)
                if fut is not None:
                    fut.set_result(conn)
                elif listener is None:
                    self._accepted.append(conn)
                    self._wake_acceptor()
            elif t == 4:  # PONG
                conn = conns.get(cid)
                if conn is not None:
                    payload = data[start:end]
                    conn._pong(payload)
                    if listener is not None:
                        _guarded(listener.on_pong, conn, payload)
            elif t == 5:  # CLOSE
                self._upgraded.pop(cid, None)
                conn = conns.pop(cid, None)
                if conn is None:
                    continue
                reason = data[start:end].decode("utf-8", "replace")
                conn._closed(code, reason)
                if listener is not None:
                    _guarded(listener.on_close, conn, CloseCode.code(code), reason)
            elif t == 9:  # CONNECT_ERROR
                fut = self._dials.pop(tag, None)
                url = self._dial_urls.pop(tag, "")
                self._dial_headers.pop(tag, None)
                message = data[start:end].decode("utf-8", "replace")
                if fut is not None and not fut.done():
                    fut.set_exception(connect_error(message, tag, url, code))
                elif listener is not None:
                    _guarded(listener.on_connect_error, tag, message)
            elif t == 8:  # DRAIN
                conn = conns.get(cid)
                if conn is not None:
                    conn._drained()

    def _try_close(self, cid: int, code: int, reason: str) -> None:
        try:
            self.close(cid, code, reason)
        except _ffi.RocwsError:
            pass

    def _wake_acceptor(self) -> None:
        while self._accept_waiters:
            w = self._accept_waiters.popleft()
            if not w.done():
                w.set_result(None)
                return

    async def accept(self) -> "Connection":
        """The next new server-side connection (asyncio; without a listener).

        Raises:
            StoppedError: the engine stopped.
        """
        self.attach()
        while not self._accepted:
            if self._stopped:
                raise StoppedError(_ffi.RWS_ERR_STOPPED, "RWS_ERR_STOPPED", "the engine has stopped")
            assert self._loop is not None
            w = self._loop.create_future()
            self._accept_waiters.append(w)
            await w
        return self._accepted.popleft()

    async def dial(self, url: str, timeout: Optional[float] = 10.0, **options: Any) -> "Connection":
        """Opens a client connection and waits until it is open (asyncio);
        ``options`` are :meth:`connect`'s (headers, subprotocols, timeouts,
        limits, ``wss://`` options).

        Raises:
            InvalidArgumentError: a malformed URL.
            UnknownHostError: the host name did not resolve.
            RefusedError: nothing accepted the TCP connection.
            HandshakeRejectedError: the server answered with HTTP ``status``.
            OpenTimeoutError: not open after ``timeout`` seconds (``what``
                ``"open"``), or the engine's handshake timeout passed.
            ConnectError: any other failure (the base of the four above).
        """
        self.attach()
        assert self._loop is not None
        tag = next(self._tags)
        fut: "asyncio.Future[Connection]" = self._loop.create_future()
        self._dials[tag] = fut
        self._dial_urls[tag] = url
        options["headers"] = self._dial_headers[tag] = _header_pairs(options.get("headers"))
        try:
            self.connect(url, tag, **options)
        except BaseException:
            del self._dials[tag]
            del self._dial_urls[tag]
            del self._dial_headers[tag]
            raise
        if timeout is None:
            return await fut
        try:
            return await asyncio.wait_for(fut, timeout)
        except OpenTimeoutError:
            raise  # the engine's own timeout (a TimeoutError too): not open_timeout's
        except asyncio.TimeoutError:
            self._dial_urls.pop(tag, None)
            self._dial_headers.pop(tag, None)
            raise OpenTimeoutError(f"not open after {timeout} s", tag, url, "open") from None

    async def astop(self, grace: float = 1.0) -> None:
        """:meth:`stop` without blocking the loop, then delivers the last events
        (every connection's close) to their connections or the listener."""
        loop = self._loop
        if loop is None:
            await asyncio.get_running_loop().run_in_executor(None, self.stop, grace)
            return
        if self._gate.freed:
            return
        loop.remove_reader(self._fd)
        await loop.run_in_executor(None, self.stop, grace)
        gate = self._gate
        gate.enter(wait=True)
        try:
            while True:
                batch = self._poll_raw(self._batch_size, 0)
                if not batch:
                    break
                self._dispatch(batch)
        finally:
            gate.leave()
        for fut in self._dials.values():
            if not fut.done():
                fut.set_exception(StoppedError(_ffi.RWS_ERR_STOPPED, "RWS_ERR_STOPPED", "the engine stopped"))
        self._dials.clear()
        self._dial_urls.clear()
        self._dial_headers.clear()
        for w in self._accept_waiters:
            if not w.done():
                w.set_result(None)
        self._accept_waiters.clear()

    async def aclose(self, grace: float = 1.0) -> None:
        """:meth:`astop`, then :meth:`free`."""
        await self.astop(grace)
        self.free()

    async def __aenter__(self) -> "Engine":
        self.attach()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _header_pairs(headers: Optional[Headers]) -> List[Tuple[str, str]]:
    if headers is None:
        return []
    if isinstance(headers, Mapping):
        return [(str(k), str(v)) for k, v in headers.items()]
    return [(str(k), str(v)) for k, v in headers]


def _protocol_of(ptr: int, cid: int) -> Optional[str]:
    """The subprotocol connection ``cid`` agreed on (``rws_engine_protocol``), or None."""
    buf = ctypes.create_string_buffer(64)
    n = lib.rws_engine_protocol(ptr, cid, buf, len(buf))
    if n >= len(buf):
        buf = ctypes.create_string_buffer(n + 1)
        n = lib.rws_engine_protocol(ptr, cid, buf, len(buf))
    return buf.raw[:n].decode("utf-8", "replace") if n else None


def _address_of(url: str) -> Optional[Tuple[str, int]]:
    """(host, port) a ws:// or wss:// URL names (as dialed, not resolved)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    return parts.hostname, port or (443 if parts.scheme == "wss" else 80)


def _events_of(batch: Batch, copy: bool) -> List[Event]:
    source = batch.data if copy else memoryview(batch.data)
    ends = batch.offsets.tolist()
    return [
        Event(_TYPES[t], conn, tag, code, source[start:end])
        for t, conn, tag, code, start, end in zip(
            batch.types, batch.conns, batch.tags, batch.close_codes, ends, ends[1:]
        )
    ]


def _tls_server(certfile: Optional[str], keyfile: Optional[str], client_cafile: Optional[str]) -> int:
    """A C ``rws_tls_server`` from PEM files (freed by the engine)."""
    if not (certfile and keyfile):
        raise ValueError("TLS needs both certfile and keyfile")
    with open(certfile, "rb") as f:
        cert = f.read()
    with open(keyfile, "rb") as f:
        key = f.read()
    ca = None
    if client_cafile:
        with open(client_cafile, "rb") as f:
            ca = f.read()
    ptr: Optional[int] = lib.rws_tls_server_new(cert, len(cert), key, len(key), ca, len(ca or b""))
    if not ptr:
        raise _ffi.start_error()
    return ptr


def _read_optional(path: Optional[str]) -> Optional[bytes]:
    """A PEM file's bytes, or None without a path."""
    if not path:
        return None
    with open(path, "rb") as f:
        return f.read()


class Server(Engine):
    """An engine that listens (by default on ``127.0.0.1:0``, a free port: see
    :attr:`port`). It can also :meth:`connect` as a client."""

    def __init__(self, listen: Sequence[str] = ("127.0.0.1:0",), **kwargs: Any) -> None:
        super().__init__(listen, **kwargs)

    def __enter__(self) -> "Server":
        return self

    async def __aenter__(self) -> "Server":
        self.attach()
        return self


class Client(Engine):
    """A client-only engine: :meth:`connect` (events) or ``await dial(url)``
    (a :class:`~rocwebsocket.Connection`). One event-loop thread by default."""

    def __init__(self, *, threads: int = 1, **kwargs: Any) -> None:
        super().__init__((), threads=threads, **kwargs)

    def __enter__(self) -> "Client":
        return self

    async def __aenter__(self) -> "Client":
        self.attach()
        return self
