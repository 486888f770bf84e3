"""Flow control of a :class:`~rocwebsocket.Connection`'s receive queue.

Each message the engine hands over is queued on its connection until
``recv``/``async for`` takes it. Past ``max_queue`` messages or
``max_queue_bytes`` payload bytes the engine stops reading from that
connection (``rws_engine_pause_reading``): its socket is left unread, so TCP
flow control pushes back on the peer and nothing is dropped. Once the
application has taken the queue down to half of both limits, reading resumes.

A queue can pass its limit by what the engine had already read for that
connection when the pause came: events queued in the engine and not yet
handed to Python, which the engine's ``max_queued_bytes`` bounds (64 MiB by
default, all connections together; lower it for a tighter bound).

Defaults: 4096 messages and 16 MiB. The byte limit bounds what large messages
can pin (as ``websockets``' default of 16 messages of up to 1 MiB does); the
message limit bounds tiny messages, whose Python objects cost far more than
their payload. 4096 is four batches of the default ``batch_size`` (1024): a
reader that keeps up with a fast feed empties each batch before the next and
never pauses, so the limit costs it nothing.
"""

from __future__ import annotations

__all__ = ["DEFAULT_MAX_QUEUE", "DEFAULT_MAX_QUEUE_BYTES", "Flow"]

#: Messages queued on a connection before its reading pauses.
DEFAULT_MAX_QUEUE = 4096
#: Payload bytes queued on a connection before its reading pauses.
DEFAULT_MAX_QUEUE_BYTES = 16 * 1024 * 1024


class Flow:
    """A connection's receive queue accounting and pause state."""

    __slots__ = ("max_messages", "max_bytes", "bytes", "full", "user_paused")

    def __init__(self, max_messages: int, max_bytes: int) -> None:
        #: Limits (0: none).
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        #: Payload bytes queued.
        self.bytes = 0
        #: Reading is paused because the queue passed a limit.
        self.full = False
        #: Reading is paused by ``Engine.pause_reading``.
        self.user_paused = False

    def over(self, messages: int) -> bool:
        """Whether a queue of ``messages`` messages (and :attr:`bytes`) is past a limit."""
        return (0 < self.max_messages < messages) or (0 < self.max_bytes < self.bytes)

    def below_half(self, messages: int) -> bool:
        """Whether the queue is down to half of both limits (reading may resume)."""
        return messages <= self.max_messages // 2 and self.bytes <= self.max_bytes // 2
