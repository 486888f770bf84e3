"""Events taken by one ``rws_engine_poll_batch`` call, as columns.

The engine packs events into arrays (types, connections, tags, close codes,
offsets) and one byte arena. A :class:`Batch` copies each array once into
Python-owned ``bytes`` (a handful of ``memcpy`` calls per batch, not a Python
object per event), so nothing here ever points into engine memory: any view or
slice stays valid for as long as you keep it. Reading a column is plain
indexing; a payload is a slice of :attr:`Batch.data`.

Tight loops read the columns directly::

    batch = client.poll_batch(timeout=1.0)
    data, offsets, base = batch.data, batch.offsets, batch.base
    for i, kind in enumerate(batch.types):
        if kind == TEXT:
            handle(data[offsets[i] - base : offsets[i + 1] - base])

or iterate ``(type, conn, payload)`` triples with :meth:`Batch.messages`.
"""

from __future__ import annotations

import ctypes
from typing import Iterator, Tuple

from ._ffi import bytes_at
from ._types import EventType

__all__ = ["Batch", "rws_event_batch"]


class rws_event_batch(ctypes.Structure):
    _fields_ = [
        ("count", ctypes.c_size_t),
        ("types", ctypes.c_void_p),
        ("close_codes", ctypes.c_void_p),
        ("conns", ctypes.c_void_p),
        ("tags", ctypes.c_void_p),
        ("offsets", ctypes.c_void_p),
        ("data", ctypes.c_void_p),
    ]


_EMPTY_Q = memoryview(b"").cast("Q")
_EMPTY_H = memoryview(b"").cast("H")
_ZERO_OFFSET = memoryview(bytes(8)).cast("Q")


class Batch:
    """Events of one poll, oldest first, as parallel columns.

    Attributes:
        types: one byte per event, an :class:`EventType` value (iterating
            ``bytes`` yields ``int``: compare with ``EventType.TEXT`` & co).
        conns: connection ids (``memoryview`` of unsigned 64-bit ints).
        tags: connect tags of client OPEN and CONNECT_ERROR events, else 0.
        close_codes: close codes of CLOSE events, else 0.
        offsets: ``len(batch) + 1`` positions: event ``i``'s bytes are
            ``data[offsets[i] - base : offsets[i + 1] - base]``.
        base: ``offsets[0]`` (the offsets are the engine's, not rebased).
        data: every event's bytes (payload, path, reason or error text) back
            to back, as ``bytes``.
    """

    __slots__ = ("types", "conns", "tags", "close_codes", "offsets", "base", "data")

    def __init__(self, raw: "rws_event_batch | None" = None) -> None:
        n = raw.count if raw is not None else 0
        if raw is None or n == 0:
            self.types = b""
            self.conns = _EMPTY_Q
            self.tags = _EMPTY_Q
            self.close_codes = _EMPTY_H
            self.offsets = _ZERO_OFFSET
            self.base = 0
            self.data = b""
            return
        self.types = bytes_at(raw.types, n)
        self.conns = memoryview(bytes_at(raw.conns, 8 * n)).cast("Q")
        self.tags = memoryview(bytes_at(raw.tags, 8 * n)).cast("Q")
        self.close_codes = memoryview(bytes_at(raw.close_codes, 2 * n)).cast("H")
        offsets = memoryview(bytes_at(raw.offsets, 8 * (n + 1))).cast("Q")
        self.offsets = offsets
        base = offsets[0]
        self.base = base
        self.data = bytes_at(raw.data + base if raw.data else None, offsets[n] - base)

    def __len__(self) -> int:
        return len(self.types)

    def __bool__(self) -> bool:
        return bool(self.types)

    def payload(self, i: int) -> bytes:
        """Event ``i``'s bytes (a copy: slicing ``bytes`` copies)."""
        base = self.base
        return self.data[self.offsets[i] - base : self.offsets[i + 1] - base]

    def view(self, i: int) -> memoryview:
        """Event ``i``'s bytes without a copy (a slice of a view of :attr:`data`)."""
        base = self.base
        return memoryview(self.data)[self.offsets[i] - base : self.offsets[i + 1] - base]

    def messages(self) -> Iterator[Tuple[int, int, memoryview]]:
        """``(type, conn, payload)`` for every TEXT and BINARY event, the
        payload a zero-copy ``memoryview`` (decode text with ``str(p, "utf-8")``)."""
        mv = memoryview(self.data)
        base = self.base
        offsets = self.offsets
        text, binary = EventType.TEXT, EventType.BINARY
        for i, (kind, conn) in enumerate(zip(self.types, self.conns)):
            if kind == text or kind == binary:
                yield kind, conn, mv[offsets[i] - base : offsets[i + 1] - base]

    def __repr__(self) -> str:
        return f"<Batch of {len(self)} events, {len(self.data)} bytes>"
