"""Upgrade decisions: what ``on_upgrade`` sees and what it answers.

An engine started with ``on_upgrade=`` (``decide_upgrades`` in the C config)
reports each upgrade request as an UPGRADE event carrying the raw request
head; the engine parses it into an :class:`UpgradeRequest`, calls
``on_upgrade`` on the thread that polls (or the asyncio loop), and answers
with ``rws_engine_accept_upgrade`` / ``rws_engine_reject_upgrade`` before any
101 is written.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple, Union

__all__ = ["UpgradeRequest", "Accept", "Reject", "Decision"]


class UpgradeRequest:
    """An upgrade request waiting for a decision.

    Attributes:
        conn: the id the connection keeps if accepted.
        path: the request target (``/chat?room=1``).
        headers: ``(name, value)`` pairs as received (values decoded as Latin-1).
        protocols: the subprotocols the client offered, in its order.
        head: the raw request head (bytes), request line to the blank line.
    """

    __slots__ = ("conn", "path", "headers", "protocols", "head", "_index")

    def __init__(self, conn: int, head: bytes) -> None:
        self.conn = conn
        self.head = head
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        self.path = parts[1] if len(parts) >= 2 else ""
        self.headers: List[Tuple[str, str]] = []
        for line in lines[1:]:
            if not line:
                continue
            name, _, value = line.partition(":")
            self.headers.append((name.strip(), value.strip()))
        self._index: Dict[str, str] = {}
        for name, value in self.headers:
            self._index.setdefault(name.lower(), value)
        offered = ",".join(v for n, v in self.headers if n.lower() == "sec-websocket-protocol")
        self.protocols: List[str] = [p.strip() for p in offered.split(",") if p.strip()]

    def header(self, name: str, default: Optional[str] = None) -> Optional[str]:
        """The first header called ``name`` (case-insensitive), or ``default``."""
        return self._index.get(name.lower(), default)

    @property
    def origin(self) -> Optional[str]:
        """The ``Origin`` header (browsers send it), or ``None``."""
        return self.header("origin")

    def __repr__(self) -> str:
        return f"<UpgradeRequest conn={self.conn:#x} {self.path!r} origin={self.origin!r}>"


class Accept:
    """Accept the upgrade, with ``protocol`` (one the client offered, or
    ``None``) and extra response ``headers`` (``Upgrade``, ``Connection`` and
    ``Sec-WebSocket-*`` are the engine's own and refused)."""

    __slots__ = ("protocol", "headers")

    def __init__(self, protocol: Optional[str] = None, headers: Sequence[Tuple[str, str]] = ()) -> None:
        self.protocol = protocol
        self.headers = list(headers)


class Reject:
    """Refuse the upgrade with HTTP ``status`` (400 to 599) and a text ``body``."""

    __slots__ = ("status", "body")

    def __init__(self, status: int = 403, body: str = "") -> None:
        if not 400 <= status <= 599:
            raise ValueError("an upgrade is rejected with a 4xx or 5xx status")
        self.status = status
        self.body = body


#: What ``on_upgrade`` returns (``None`` accepts with no subprotocol).
Decision = Union[Accept, Reject, None]
