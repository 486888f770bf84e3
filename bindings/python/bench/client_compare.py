#!/usr/bin/env python3
"""Python feed clients compared: the rocws binding (batched events) against
picows and websockets, receiving the same feed in the same run.

A `rocws serve --threads 1 --feed 0` pushes 100-byte JSON-like text messages
as fast as each client reads (pinned to CPU 0); each client runs in its own
process pinned to CPU 1 for --duration seconds after --warmup, counting the
messages it received and its own CPU time (all threads: the rocws binding's
engine thread included). Rounds are interleaved, the client order rotating;
the table shows medians and ratios to the rocws binding.

Three rocws shapes: ``rocws`` polls columns (``Client.poll_batch``, blocking),
``rocws-listener`` is the picows shape (a ``Listener`` on asyncio),
``rocws-async`` the websockets shape (``async for msg in ws``).

    cargo build --release                       # librocwebsocket.so and rocws
    python3 -m venv target/py-bench-venv && target/py-bench-venv/bin/pip install picows websockets
    target/py-bench-venv/bin/python bindings/python/bench/client_compare.py [--rounds 3 --duration 5] [--work payload]

The binding is imported from this checkout (library: ROCWS_LIB, else target/release).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
CLIENTS = ["rocws", "rocws-listener", "rocws-async", "picows", "websockets"]


# What each client does per received message (--work):
#   count    looks at the message (its type) and counts it: picows's
#            on_ws_frame callback, a rocws batch's type column, websockets'
#            async for (which has already built a str per message);
#   payload  also takes the payload as a new bytes object: picows's
#            frame.get_payload_as_bytes(), a slice of the rocws batch's data.


def binding_src() -> str:
    """Where the binding is imported from: this checkout, or --base-src for
    the ``@base`` clients (another checkout's bindings/python, same library)."""
    return os.environ.get("ROCWS_BENCH_SRC") or os.path.join(HERE, "..")


def run_rocws(url: str, warmup: float, duration: float, work: str) -> tuple[int, float]:
    sys.path.insert(0, binding_src())
    from rocwebsocket import Client, EventType

    text = int(EventType.TEXT)
    count, total = 0, 0
    with Client(batch_size=4096) as client:
        client.connect(url, tag=1)
        start = time.monotonic()
        measuring, cpu0, end = False, 0.0, start + warmup + duration
        while True:
            now = time.monotonic()
            if not measuring and now >= start + warmup:
                measuring, count, cpu0 = True, 0, time.process_time()
            if now >= end:
                break
            batch = client.poll_batch(timeout=0.05)
            if work == "count":
                for kind in batch.types:
                    if kind == text:
                        count += 1
            else:
                data, ends = batch.data, batch.offsets.tolist()
                for kind, lo, hi in zip(batch.types, ends, ends[1:]):
                    if kind == text:
                        total += len(data[lo:hi])
                        count += 1
        return count, time.process_time() - cpu0


def run_rocws_listener(url: str, warmup: float, duration: float, work: str) -> tuple[int, float]:
    """The picows shape: a Listener called per message on the asyncio loop
    (count: a zero-copy view, like picows's frame; payload: bytes)."""
    sys.path.insert(0, binding_src())
    from rocwebsocket import Client, Listener

    class Counter(Listener):
        zero_copy = work == "count"
        count = 0
        total = 0

        def on_message(self, conn, kind, data):  # noqa: ANN001
            if work == "payload":
                self.total += len(data)
            self.count += 1

    async def main() -> tuple[int, float]:
        listener = Counter()
        async with Client(listener=listener, batch_size=4096) as client:
            await client.dial(url)
            await asyncio.sleep(warmup)
            listener.count, cpu0 = 0, time.process_time()
            await asyncio.sleep(duration)
            return listener.count, time.process_time() - cpu0

    return asyncio.run(main())


def run_rocws_async(url: str, warmup: float, duration: float, work: str) -> tuple[int, float]:
    """The websockets shape: ``async for msg in ws`` (a str per message)."""
    sys.path.insert(0, binding_src())
    from rocwebsocket import connect

    async def main() -> tuple[int, float]:
        count, cpu0, total = 0, 0.0, 0
        async with connect(url, batch_size=4096) as ws:
            start = time.monotonic()
            measuring = False
            async for msg in ws:
                if work == "payload":
                    total += len(msg)
                count += 1
                if count & 1023 == 0:
                    now = time.monotonic()
                    if not measuring and now >= start + warmup:
                        measuring, count, cpu0 = True, 0, time.process_time()
                    elif measuring and now >= start + warmup + duration:
                        break
        return count, time.process_time() - cpu0

    return asyncio.run(main())


def run_picows(url: str, warmup: float, duration: float, work: str) -> tuple[int, float]:
    from picows import WSListener, ws_connect

    class Counter(WSListener):  # type: ignore[misc]
        count = 0

        def on_ws_frame(self, transport, frame):  # noqa: ANN001
            self.count += 1

    class Taker(WSListener):  # type: ignore[misc]
        count = 0
        total = 0

        def on_ws_frame(self, transport, frame):  # noqa: ANN001
            self.total += len(frame.get_payload_as_bytes())
            self.count += 1

    async def main() -> tuple[int, float]:
        listener_type = Counter if work == "count" else Taker
        transport, listener = await ws_connect(listener_type, url, max_frame_size=1 << 20)
        await asyncio.sleep(warmup)
        listener.count, cpu0 = 0, time.process_time()
        await asyncio.sleep(duration)
        result = listener.count, time.process_time() - cpu0
        transport.disconnect()
        return result

    return asyncio.run(main())


def run_websockets(url: str, warmup: float, duration: float, work: str) -> tuple[int, float]:
    import websockets

    async def main() -> tuple[int, float]:
        count, cpu0, total = 0, 0.0, 0
        async with websockets.connect(url, max_size=None) as ws:
            start = time.monotonic()
            measuring = False
            async for msg in ws:
                if work == "payload":
                    total += len(msg)
                count += 1
                if count & 1023 == 0:
                    now = time.monotonic()
                    if not measuring and now >= start + warmup:
                        measuring, count, cpu0 = True, 0, time.process_time()
                    elif measuring and now >= start + warmup + duration:
                        break
        return count, time.process_time() - cpu0

    return asyncio.run(main())


def child(kind: str, url: str, warmup: float, duration: float, work: str) -> None:
    os.sched_setaffinity(0, {1})
    kind = kind.split("@")[0]
    fn = {
        "rocws": run_rocws,
        "rocws-listener": run_rocws_listener,
        "rocws-async": run_rocws_async,
        "picows": run_picows,
        "websockets": run_websockets,
    }[kind]
    count, cpu = fn(url, warmup, duration, work)
    print(f"RESULT {kind} {count} {cpu:.4f}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_run(kind: str, args: argparse.Namespace) -> tuple[float, float]:
    port = free_port()
    server = subprocess.Popen(
        ["taskset", "-c", "0", os.path.join(ROOT, "target/release/rocws"), "serve", "--threads", "1",
         "--feed", "0", "--listen", f"127.0.0.1:{port}"],
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.02)
        env = dict(os.environ)
        if kind.endswith("@base"):
            env["ROCWS_BENCH_SRC"] = args.base_src
        out = subprocess.run(
            [sys.executable, __file__, "--child", kind, f"ws://127.0.0.1:{port}/",
             "--warmup", str(args.warmup), "--duration", str(args.duration), "--work", args.work],
            capture_output=True, text=True, timeout=args.warmup + args.duration + 60, env=env,
        )
        line = next((l for l in out.stdout.splitlines() if l.startswith("RESULT")), None)
        if line is None:
            raise RuntimeError(f"{kind} printed no result: {out.stderr[-500:]}")
        _, _, count, cpu = line.split()
        return int(count) / args.duration, float(cpu) * 1e6 / max(int(count), 1)
    finally:
        server.terminate()
        server.wait()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--work", choices=["count", "payload"], default="count",
                    help="per message: look and count, or also take the payload as bytes")
    ap.add_argument("--base-src", metavar="DIR",
                    help="also run rocws@base and rocws-async@base from another checkout's bindings/python")
    ap.add_argument("--clients", help="comma-separated subset of " + ",".join(CLIENTS))
    ap.add_argument("--child", nargs=2, metavar=("KIND", "URL"))
    args = ap.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.warmup, args.duration, args.work)
        return 0
    clients = args.clients.split(",") if args.clients else list(CLIENTS)
    if args.base_src:
        clients += [f"{c}@base" for c in clients if c in ("rocws", "rocws-async")]
    results: dict[str, list[tuple[float, float]]] = {k: [] for k in clients}
    for r in range(args.rounds):
        order = clients[r % len(clients):] + clients[:r % len(clients)]
        for kind in order:
            results[kind].append(one_run(kind, args))
            rate, cpu = results[kind][-1]
            print(f"round {r + 1} {kind:10s} {rate:12,.0f} msg/s {cpu:8.3f} us CPU/msg", flush=True)
    base_rate = statistics.median(x[0] for x in results[clients[0]])
    base_cpu = statistics.median(x[1] for x in results[clients[0]])
    print(f"\nper-message work: {args.work}")
    print(f"\n| client | msgs/s | x {clients[0]} | client CPU us/msg | x {clients[0]} |\n|---|---|---|---|---|")
    for kind in clients:
        rate = statistics.median(x[0] for x in results[kind])
        cpu = statistics.median(x[1] for x in results[kind])
        print(f"| {kind} | {rate:,.0f} | {rate / base_rate:.2f} | {cpu:.3f} | {cpu / base_cpu:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
