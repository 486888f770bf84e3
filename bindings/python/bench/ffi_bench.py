#!/usr/bin/env python3
"""FFI-crossing micro-benchmark of the Python binding: how many small messages
per second Python receives when events cross the C boundary

  columns   in batches as columns: Engine.poll_batch() takes up to 1024 events
            per ctypes call (rws_engine_poll_batch) as a Batch, no Python
            object per event; per message the payload is sliced into a
            `bytes` and a counter bumped (no Event object);
  batched   in batches: Engine.poll() takes up to 1024 events per ctypes call
            and builds an Event object per event;
  poll1     one crossing per message: the same Engine.poll(max_events=1);
  callback  one C->Python call per message: a ctypes CFUNCTYPE callback on an
            engine started with rws_engine_start (the engine's thread takes
            the GIL for each message).

The source is `rocws serve --feed 0 --threads 1`, started by this script: it
pushes 100-byte text messages as fast as the client's engine reads them. Each
mode but `columns` does the same per-message work in Python: the payload
copied into a `bytes`, an Event object built, a counter bumped. A run connects one
one-thread client engine, warms up, then counts the messages received in a
window of --duration seconds. Modes run interleaved (batched, poll1,
callback, batched, ...) --runs times; the medians are printed as a table.

    cargo build --release          # librocwebsocket.so and rocws
    python3 bindings/python/bench/ffi_bench.py --runs 3 --duration 3

Everything shares the machine's cores (feed server thread, client engine
thread, Python thread): read the numbers as relative, on the same machine.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from rocwebsocket import Client, Event, EventType  # noqa: E402
from rocwebsocket import _ffi  # noqa: E402

REPO = HERE.parent.parent.parent
TYPES = tuple(EventType(i) for i in range(10))


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_feed(rocws: str) -> "tuple[subprocess.Popen[bytes], str]":
    port = free_port()
    proc = subprocess.Popen(
        [rocws, "serve", "--feed", "0", "--threads", "1", "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, f"ws://127.0.0.1:{port}/"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"{rocws} did not start listening on port {port}")


class Window:
    """Counts messages in [warmup, warmup + duration) after the first one."""

    def __init__(self, warmup: float, duration: float) -> None:
        self.warmup = warmup
        self.duration = duration
        self.count = 0
        self.nbytes = 0


BATCHES: Dict[str, List[float]] = {}


class Window:
    """The measured window of a polling run: it opens `warmup` seconds after
    the first message and closes `duration` seconds later. Records the
    average events per poll in it under `key` (far below the batch size means
    the consumer waited for the feed)."""

    def __init__(self, warmup: float, duration: float, key: str) -> None:
        self.warmup, self.duration, self.key = warmup, duration, key
        self.start: Optional[float] = None
        self.measuring = False
        self.counted_from = 0
        self.t_measure = self.t_end = 0.0
        self.polls = 0

    def after_poll(self, count: int, now: float) -> Optional[float]:
        """Call after each poll with the messages counted so far; returns the
        rate once the window has closed."""
        self.polls += 1
        if self.start is None:
            if count:
                self.start = now
                self.t_measure = now + self.warmup
            return None
        if not self.measuring and now >= self.t_measure:
            self.measuring = True
            self.counted_from = count
            self.t_measure = now
            self.t_end = now + self.duration
            self.polls = 0
        elif self.measuring and now >= self.t_end:
            counted = count - self.counted_from
            BATCHES.setdefault(self.key, []).append(counted / max(self.polls, 1))
            return counted / (now - self.t_measure)
        return None


def run_polling(url: str, warmup: float, duration: float, max_events: int) -> float:
    """batched (max_events=1024) or poll1 (max_events=1): messages/s."""
    window = Window(warmup, duration, str(max_events))
    with Client(threads=1, batch_size=1024) as client:
        client.connect(url, tag=1)
        count = nbytes = 0
        while True:
            for ev in client.poll(timeout=1.0, max_events=max_events):
                t = ev.type
                if t is EventType.TEXT or t is EventType.BINARY:
                    count += 1
                    nbytes += len(ev.data)
                elif t is EventType.CONNECT_ERROR or t is EventType.CLOSE:
                    raise SystemExit(f"feed connection failed: {ev!r}")
            rate = window.after_poll(count, time.perf_counter())
            if rate is not None:
                return rate


def run_columns(url: str, warmup: float, duration: float) -> float:
    """columns: Engine.poll_batch(), the payload of each message sliced out."""
    text, binary = int(EventType.TEXT), int(EventType.BINARY)
    window = Window(warmup, duration, "columns")
    with Client(threads=1, batch_size=1024) as client:
        client.connect(url, tag=1)
        count = nbytes = 0
        while True:
            batch = client.poll_batch(timeout=1.0)
            data, ends = batch.data, batch.offsets.tolist()
            for i, (t, lo, hi) in enumerate(zip(batch.types, ends, ends[1:])):
                if t == text or t == binary:
                    count += 1
                    nbytes += len(data[lo:hi])
                elif t == EventType.CONNECT_ERROR or t == EventType.CLOSE:
                    raise SystemExit(f"feed connection failed: {batch.payload(i)!r}")
            rate = window.after_poll(count, time.perf_counter())
            if rate is not None:
                return rate


def run_callback(url: str, warmup: float, duration: float) -> float:
    """callback: a CFUNCTYPE per message on a callback engine (rws_engine_start)."""
    lib = _ffi.lib
    state = {"count": 0, "nbytes": 0, "first": 0.0, "error": ""}
    first = threading.Event()

    def on_message(user: int, ctx: int, evp: "ctypes._Pointer[_ffi.rws_event]") -> None:
        e = evp[0]
        data = _ffi.bytes_at(e.data, e.len)
        Event(TYPES[e.type_], e.conn, e.tag, e.close_code, data)  # the same work as the poll modes
        state["count"] += 1
        state["nbytes"] += len(data)
        if state["count"] == 1:
            first.set()

    def on_error(user: int, ctx: int, evp: "ctypes._Pointer[_ffi.rws_event]") -> None:
        e = evp[0]
        state["error"] = _ffi.bytes_at(e.data, e.len).decode()
        first.set()

    cb_message = _ffi.rws_callback(on_message)
    cb_error = _ffi.rws_callback(on_error)
    callbacks = _ffi.rws_callbacks()
    callbacks.on_message = cb_message
    callbacks.on_error = cb_error
    cfg, keep = _ffi.make_config([], threads=1)
    ptr = lib.rws_engine_start(ctypes.byref(cfg), ctypes.byref(callbacks))
    if not ptr:
        raise _ffi.start_error()
    try:
        _ffi.check(lib.rws_engine_connect(ptr, url.encode(), 1))
        if not first.wait(10) or state["error"]:
            raise SystemExit(f"feed connection failed: {state['error']}")
        time.sleep(warmup)
        c0, t0 = state["count"], time.perf_counter()
        time.sleep(duration)
        c1, t1 = state["count"], time.perf_counter()
        return (c1 - c0) / (t1 - t0)
    finally:
        lib.rws_engine_stop(ptr, 0)
        lib.rws_engine_free(ptr)
        del cb_message, cb_error, keep


MODES: Dict[str, Callable[[str, float, float], float]] = {
    "columns": run_columns,
    "batched": lambda url, w, d: run_polling(url, w, d, 1024),
    "poll1": lambda url, w, d: run_polling(url, w, d, 1),
    "callback": run_callback,
}

DESCRIPTIONS = {
    "columns": "rws_engine_poll_batch, up to 1024 events per call, as columns",
    "batched": "rws_engine_poll_batch, up to 1024 events per call, Event objects",
    "poll1": "rws_engine_poll_batch, 1 event per call",
    "callback": "rws_engine_start callback (CFUNCTYPE), 1 call per message",
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--duration", type=float, default=3.0, help="measured seconds per run")
    ap.add_argument("--warmup", type=float, default=0.5)
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--rocws", default=str(REPO / "target" / "release" / "rocws"))
    ap.add_argument("--url", help="use this feed server instead of starting rocws")
    args = ap.parse_args()
    modes = args.modes.split(",")

    proc = None
    url = args.url
    if url is None:
        if not os.access(args.rocws, os.X_OK):
            raise SystemExit(f"{args.rocws} not found: cargo build --release")
        proc, url = start_feed(args.rocws)
    results: Dict[str, List[float]] = {m: [] for m in modes}
    try:
        for run in range(args.runs):
            for mode in modes:
                rate = MODES[mode](url, args.warmup, args.duration)
                results[mode].append(rate)
                print(f"run {run + 1} {mode:9s} {rate:12,.0f} msg/s", flush=True)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)

    print()
    print(f"Python {sys.version.split()[0]}, librocwebsocket {_ffi.version()}, "
          f"{args.runs} runs of {args.duration:g} s, 100-byte messages")
    print()
    print("| mode | crossing | msg/s (median) | runs | events/poll |")
    print("| --- | --- | ---: | --- | ---: |")
    for mode in modes:
        rates = results[mode]
        runs = ", ".join(f"{r / 1000:,.0f}k" for r in rates)
        key = {"columns": "columns", "batched": "1024", "poll1": "1"}.get(mode, "")
        batch = f"{statistics.median(BATCHES[key]):,.1f}" if key in BATCHES else "-"
        print(f"| {mode} | {DESCRIPTIONS[mode]} | {statistics.median(rates):,.0f} | {runs} | {batch} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
