"""Events taken by one ``rws_engine_poll_batch`` call, as columns.

The engine packs events into arrays (types, connections, tags, close codes,
offsets) and one byte arena. A :class:`Batch` copies each array once into
Python-owned ``bytes`` (a handful of ``memcpy`` calls per batch, not a Python
object per event), so nothing here ever points into engine memory: any view or
slice stays valid for as long as you keep it. Reading a column is plain
indexing; a payload is a slice of :attr:`Batch.data`.

Tight loops read the columns directly::

    batch = client.poll_batch(timeout=1.0)
    data, ends = batch.data, batch.offsets.tolist()
    for kind, start, end in zip(batch.types, ends, ends[1:]):
        if kind == TEXT:
            handle(data[start:end])

or iterate ``(type, conn, payload)`` triples with :meth:`Batch.messages`.
"""

from __future__ import annotations

import ctypes
from array import array
from typing import Iterator, Tuple, Union

from ._ffi import bytes_at
from ._types import EventType

_KINDS = tuple(EventType)  # by value: the enum's values are 0..11 in order

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
            ``bytes`` yields ``int``, equal to ``EventType.TEXT`` & co, an
            ``IntEnum``; :meth:`kind` gives the member).
        conns: connection ids (``memoryview`` of unsigned 64-bit ints).
        tags: each event's connection tag (the connect tag of a client
            connection, on all its events; 0 for untagged server connections).
        close_codes: close codes of CLOSE events, else 0.
        offsets: ``len(batch) + 1`` positions in ``data`` (unsigned 64-bit
            ints, ``offsets[0] == 0``): event ``i``'s bytes are
            ``data[offsets[i] : offsets[i + 1]]``.
        data: every event's bytes (payload, path, reason or error text) back
            to back, as ``bytes``.
    """

    __slots__ = ("types", "conns", "tags", "close_codes", "offsets", "data")

    offsets: "Union[memoryview, array[int]]"

    def __init__(self, raw: "rws_event_batch | None" = None) -> None:
        n = raw.count if raw is not None else 0
        if raw is None or n == 0:
            self.types = b""
            self.conns = _EMPTY_Q
            self.tags = _EMPTY_Q
            self.close_codes = _EMPTY_H
            self.offsets = _ZERO_OFFSET
            self.data = b""
            return
        self.types = bytes_at(raw.types, n)
        self.conns = memoryview(bytes_at(raw.conns, 8 * n)).cast("Q")
        self.tags = memoryview(bytes_at(raw.tags, 8 * n)).cast("Q")
        self.close_codes = memoryview(bytes_at(raw.close_codes, 2 * n)).cast("H")
        offsets = memoryview(bytes_at(raw.offsets, 8 * (n + 1))).cast("Q")
        base = offsets[0]
        self.data = bytes_at(raw.data + base if raw.data else None, offsets[n] - base)
        # The engine's offsets are absolute in its arena; a batch served in
        # slices (more pending than max_events) starts past 0.
        self.offsets = offsets if base == 0 else array("Q", [o - base for o in offsets])

    def __len__(self) -> int:
        return len(self.types)

    def __bool__(self) -> bool:
        return bool(self.types)

    def payload(self, i: int) -> bytes:
        """Event ``i``'s bytes (a copy: slicing ``bytes`` copies)."""
        return self.data[self.offsets[i] : self.offsets[i + 1]]

    def view(self, i: int) -> memoryview:
        """Event ``i``'s bytes without a copy (a slice of a view of :attr:`data`)."""
        return memoryview(self.data)[self.offsets[i] : self.offsets[i + 1]]

    def kind(self, i: int) -> EventType:
        """Event ``i``'s type as an :class:`EventType` (the ``types`` column
        holds the same values as plain ints, which compare equal to it)."""
        return _KINDS[self.types[i]]

    def messages(self) -> Iterator[Tuple[EventType, int, memoryview]]:
        """``(type, conn, payload)`` for every TEXT and BINARY event: the type
        an :class:`EventType`, the payload a zero-copy ``memoryview`` of this
        batch's own bytes (decode text with ``str(p, "utf-8")``)."""
        mv = memoryview(self.data)
        ends = self.offsets.tolist()
        text, binary = EventType.TEXT, EventType.BINARY
        for kind, conn, start, end in zip(self.types, self.conns, ends, ends[1:]):
            if kind == text or kind == binary:
                yield _KINDS[kind], conn, mv[start:end]

    def __repr__(self) -> str:
        return f"<Batch of {len(self)} events, {len(self.data)} bytes>"
