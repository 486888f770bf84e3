"""The library's log records, forwarded to :mod:`logging`.

``rws_set_log_callback`` hands each record (level, Rust module, message) to a
ctypes callback, on whichever engine thread logged; it goes to the logger
``rocwebsocket`` (child loggers per Rust module: ``rocwebsocket.net.worker``),
with the module in the record's ``rws_target`` attribute.

The C side filters by level before calling Python (a record that Python would
drop costs nothing): the level is taken from the ``rocwebsocket`` logger's
effective level at import and again whenever an engine starts; call
:func:`sync_log_level` after changing the logging configuration in between.
"""

from __future__ import annotations

import atexit
import ctypes
import logging
from typing import Optional

from . import _ffi
from ._ffi import lib

__all__ = ["sync_log_level"]

log = logging.getLogger("rocwebsocket")

# rws_log_level -> logging level; TRACE below DEBUG.
TRACE = 5
_TO_LOGGING = {1: logging.ERROR, 2: logging.WARNING, 3: logging.INFO, 4: logging.DEBUG, 5: TRACE}


def _forward(_user: Optional[int], level: int, target: Optional[bytes], message: Optional[int], length: int) -> None:
    try:
        name = (target or b"rocwebsocket").decode("utf-8", "replace")
        text = ctypes.string_at(message, length).decode("utf-8", "replace") if message else ""
        logger = logging.getLogger(name.replace("::", "."))
        py_level = _TO_LOGGING.get(level, logging.DEBUG)
        if logger.isEnabledFor(py_level):
            logger.log(py_level, "%s", text, extra={"rws_target": name})
    except Exception:  # never let an exception into the engine's thread
        pass


# Kept referenced for the process's life: the library may call it any time.
_callback = _ffi.rws_log_callback(_forward)
_NULL = _ffi.rws_log_callback()  # a NULL function pointer: no callback
_current: Optional[int] = None


def _c_level(py_level: int) -> int:
    """The least severe rws_log_level that ``py_level`` lets through."""
    if py_level > logging.ERROR:
        return 0  # OFF
    for rws in (5, 4, 3, 2, 1):
        if _TO_LOGGING[rws] >= py_level:
            return rws
    return 1


def sync_log_level() -> None:
    """Sets the library's log level from the ``rocwebsocket`` logger's
    effective level (``logging.getLogger("rocwebsocket").setLevel(...)``):
    records below it are not even formatted. Done at import and by each
    engine start. A process whose Rust host installed its own ``log``
    logger keeps it (the call is refused and nothing is forwarded)."""
    global _current
    level = _c_level(log.getEffectiveLevel())
    if level == _current:
        return
    if lib.rws_set_log_callback(level, _callback if level else _NULL, None) == _ffi.RWS_OK:
        _current = level


def _off() -> None:
    """At exit: no more calls into an interpreter that is going away (an
    engine left running would still log from its threads)."""
    global _current
    lib.rws_set_log_callback(0, _NULL, None)
    _current = 0


sync_log_level()
atexit.register(_off)
