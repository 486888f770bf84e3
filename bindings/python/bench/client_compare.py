#!/usr/bin/env python3
"""Python feed clients compared: the rocws binding (batched events) against
picows and websockets, receiving the same feed in the same run.

A `rocws serve --threads 1 --feed 0` pushes 100-byte JSON-like text messages
as fast as each client reads (pinned to CPU 0); each client runs in its own
process pinned to CPU 1 for --duration seconds after --warmup, counting the
messages it received and its own CPU time (all threads: the rocws binding's
engine thread included). Rounds are interleaved, the client order rotating;
the table shows medians and ratios to the rocws binding.

    bash scripts/test-python.sh                 # once: builds the library and target/py-venv
    target/py-venv/bin/pip install picows websockets
    target/py-venv/bin/python bindings/python/bench/client_compare.py [--rounds 3 --duration 5]
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
CLIENTS = ["rocws", "picows", "websockets"]


def run_rocws(url: str, warmup: float, duration: float) -> tuple[int, float]:
    sys.path.insert(0, os.path.join(HERE, ".."))
    from rocwebsocket import Client, EventType

    count = 0
    with Client(batch_size=1024) as client:
        client.connect(url, tag=1)
        start = time.monotonic()
        measuring, cpu0, end = False, 0.0, start + warmup + duration
        while True:
            now = time.monotonic()
            if not measuring and now >= start + warmup:
                measuring, count, cpu0 = True, 0, time.process_time()
            if now >= end:
                break
            for ev in client.poll(timeout=0.05, copy=False):
                if ev.type is EventType.TEXT:
                    count += 1
        return count, time.process_time() - cpu0


def run_picows(url: str, warmup: float, duration: float) -> tuple[int, float]:
    from picows import WSListener, ws_connect

    class Listener(WSListener):  # type: ignore[misc]
        count = 0

        def on_ws_frame(self, transport, frame):  # noqa: ANN001
            self.count += 1

    async def main() -> tuple[int, float]:
        transport, listener = await ws_connect(Listener, url, max_frame_size=1 << 20)
        await asyncio.sleep(warmup)
        listener.count, cpu0 = 0, time.process_time()
        await asyncio.sleep(duration)
        result = listener.count, time.process_time() - cpu0
        transport.disconnect()
        return result

    return asyncio.run(main())


def run_websockets(url: str, warmup: float, duration: float) -> tuple[int, float]:
    import websockets

    async def main() -> tuple[int, float]:
        count, cpu0 = 0, 0.0
        async with websockets.connect(url, max_size=None) as ws:
            start = time.monotonic()
            measuring = False
            async for _ in ws:
                count += 1
                if count & 1023 == 0:
                    now = time.monotonic()
                    if not measuring and now >= start + warmup:
                        measuring, count, cpu0 = True, 0, time.process_time()
                    elif measuring and now >= start + warmup + duration:
                        break
        return count, time.process_time() - cpu0

    return asyncio.run(main())


def child(kind: str, url: str, warmup: float, duration: float) -> None:
    os.sched_setaffinity(0, {1})
    fn = {"rocws": run_rocws, "picows": run_picows, "websockets": run_websockets}[kind]
    count, cpu = fn(url, warmup, duration)
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
        out = subprocess.run(
            [sys.executable, __file__, "--child", kind, f"ws://127.0.0.1:{port}/",
             "--warmup", str(args.warmup), "--duration", str(args.duration)],
            capture_output=True, text=True, timeout=args.warmup + args.duration + 60,
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
    ap.add_argument("--child", nargs=2, metavar=("KIND", "URL"))
    args = ap.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.warmup, args.duration)
        return 0
    results: dict[str, list[tuple[float, float]]] = {k: [] for k in CLIENTS}
    for r in range(args.rounds):
        order = CLIENTS[r % len(CLIENTS):] + CLIENTS[:r % len(CLIENTS)]
        for kind in order:
            results[kind].append(one_run(kind, args))
            rate, cpu = results[kind][-1]
            print(f"round {r + 1} {kind:10s} {rate:12,.0f} msg/s {cpu:8.3f} us CPU/msg", flush=True)
    base_rate = statistics.median(x[0] for x in results["rocws"])
    base_cpu = statistics.median(x[1] for x in results["rocws"])
    print(f"\n| client | msgs/s | x rocws | client CPU us/msg | x rocws |\n|---|---|---|---|---|")
    for kind in CLIENTS:
        rate = statistics.median(x[0] for x in results[kind])
        cpu = statistics.median(x[1] for x in results[kind])
        print(f"| {kind} | {rate:,.0f} | {rate / base_rate:.2f} | {cpu:.3f} | {cpu / base_cpu:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
