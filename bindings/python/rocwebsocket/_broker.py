"""Topics across engines through a broker: the counters of an engine's link.

An engine started with ``broker="redis://host:port"`` (any ``Engine``,
``Server`` or ``Client`` keyword) subscribes at the broker to each topic its
connections subscribe to, and its ``publish`` reaches every engine's
subscribers on that broker. While the broker is away, publishes reach this
engine's subscribers only, and the ones for other engines are dropped and
counted here.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

from . import _ffi
from ._ffi import lib, rws_broker_stats


@dataclass(frozen=True)
class BrokerStats:
    """A snapshot of a broker link's counters."""

    published: int
    """Messages sent to the broker."""
    received: int
    """Messages of other engines received and delivered here."""
    dropped: int
    """Publishes not sent: queue full, or the broker unreachable."""
    reconnects: int
    """Connections re-established after a loss."""
    connected: bool
    """Whether the link is connected now."""


def broker_stats(engine: object) -> BrokerStats:
    """The counters of ``engine``'s broker link; thread-safe.

    Raises:
        RocwsError: the engine has no broker (``RWS_ERR_UNSUPPORTED``).
    """
    out = rws_broker_stats()
    _ffi.check(lib.rws_engine_broker_stats(engine._ptr, ctypes.byref(out)))  # type: ignore[attr-defined]
    return BrokerStats(out.published, out.received, out.dropped, out.reconnects, bool(out.connected))
