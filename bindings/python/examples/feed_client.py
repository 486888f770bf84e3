#!/usr/bin/env python3
"""A market-data style client: connects to a feed and prints, each second, how
many messages it received in that second.

    cargo build --release                    # librocwebsocket.so and rocws
    target/release/rocws serve --feed 0 &    # pushes 100-byte ticks as fast as we read
    python3 bindings/python/examples/feed_client.py ws://127.0.0.1:9001/ --duration 5

It uses the blocking batched API: one C call drains up to --batch events, and
the payloads are looked at as zero-copy memoryviews (``copy=False``), which is
what a feed handler that parses in place wants. Works against any server that
pushes messages (``rocws serve --broadcast`` with a publisher, ``--feed RATE``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from rocwebsocket import Client, EventType  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("url", nargs="?", default="ws://127.0.0.1:9001/")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds to run (default 10)")
    ap.add_argument("--batch", type=int, default=1024, help="events per C call (default 1024)")
    ap.add_argument("--subscribe", metavar="TEXT", help="send this text message once connected")
    args = ap.parse_args()

    with Client(batch_size=args.batch) as client:
        client.connect(args.url, tag=1)
        start = time.monotonic()
        end = start + args.duration
        tick = start + 1.0
        count = total = nbytes = 0
        conn = None
        while True:
            now = time.monotonic()
            if now >= tick:
                print(f"{tick - start:6.0f} s  {count:10,d} msg/s  {nbytes / 1e6:8.1f} MB/s", flush=True)
                total += count
                count = nbytes = 0
                tick += 1.0
            if now >= end:
                break
            for ev in client.poll(timeout=min(tick, end) - now, copy=False):
                t = ev.type
                if t is EventType.TEXT or t is EventType.BINARY:
                    count += 1
                    nbytes += len(ev.data)
                elif t is EventType.OPEN:
                    conn = ev.conn
                    print(f"connected to {args.url}", flush=True)
                    if args.subscribe:
                        client.send(conn, args.subscribe)
                elif t is EventType.CONNECT_ERROR:
                    print(f"cannot connect to {args.url}: {ev.text}", file=sys.stderr)
                    return 1
                elif t is EventType.CLOSE:
                    print(f"closed by the server: {ev.close_code} {ev.text}", file=sys.stderr)
                    return 1
        total += count
        print(f"total {total:,d} messages in {args.duration:g} s ({total / args.duration:,.0f} msg/s)")
        if conn is not None:
            client.close(conn, 1000, "done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
