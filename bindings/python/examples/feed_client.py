"""A market-data feed client: reconnect with backoff, an application
keepalive, the exchange's pings answered inside the engine, RTT pings; it
subscribes again on every (re)open and checks that sequence numbers grow.

    python feed_client.py URL RECONNECTS    (e.g. against `rocws exchange-sim`)

Prints one line per reconnect and a summary once the connection was
re-established RECONNECTS times and data flowed after the last one.
"""

from __future__ import annotations

import sys

from rocwebsocket import Client, EventType
from rocwebsocket.feed import (
    AppKeepalive,
    AutoReply,
    FeedOptions,
    Reconnect,
    conn_stats,
    connect_feed,
    reconnect_info,
    stop_reconnecting,
)


def main(url: str, want: int) -> int:
    options = FeedOptions(
        tag=7,
        reconnect=Reconnect(initial=0.05, max_delay=1.0),
        keepalive=AppKeepalive(b'{"op":"ping"}', b'{"op":"pong"}', interval=0.1, deadline=1.0),
        auto_replies=[AutoReply(b'{"ping":', b"}", b'{"pong":', b"}", max_capture=20)],
        rtt_ping_interval=0.1,
    )
    reconnects = messages = since_open = last_seq = 0
    conn = 0
    with Client(threads=1) as client:
        connect_feed(client, url, options)
        for ev in client.events(timeout=5):
            if ev.type is EventType.OPEN:
                conn, since_open = ev.conn, 0
                info = reconnect_info(client, conn)
                if info is not None:
                    reconnects += 1
                    print(f"reconnected: attempt {info[0]} after {info[1] * 1000:.0f} ms down")
                client.send(conn, '{"op":"subscribe"}')
            elif ev.type is EventType.TEXT:
                text = ev.text
                if "ping" in text or "pong" in text:
                    print(f"a ping reached the application: {text}", file=sys.stderr)
                    return 1
                if text.startswith('{"seq":'):
                    seq = int(text[7:-1])
                    if seq <= last_seq:
                        print(f"seq {seq} after {last_seq}", file=sys.stderr)
                        return 1
                    last_seq, messages, since_open = seq, messages + 1, since_open + 1
                    if reconnects >= want and since_open >= 20:
                        break
            elif ev.type is EventType.CLOSE:
                print(f"closed: {ev.close_code}")
            elif ev.type is EventType.CONNECT_ERROR:
                print("gave up", file=sys.stderr)
                return 1
        else:
            print("nothing for 5 s", file=sys.stderr)
            return 1
        try:
            s = conn_stats(client, conn)
            print(f"rtt: app {s.app_rtt_avg_us} us, websocket {s.ws_rtt_avg_us} us (averages)")
        except Exception:  # cut just now: no statistics
            pass
        stop_reconnecting(client, options.tag)
    print(f"feed: {messages} messages, {reconnects} reconnects, last seq {last_seq}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2])))
