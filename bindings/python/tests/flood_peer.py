"""A WebSocket client that floods a server as fast as TCP lets it, run as a
separate process by the flow-control tests (so it takes no time from the
asyncio loop under test).

    python flood_peer.py PORT COUNT SIZE

Opens ws://127.0.0.1:PORT/flood with a plain socket, then sends COUNT binary
messages of SIZE bytes (SIZE >= 8), each starting with its sequence number
(8 bytes, big-endian), with blocking ``sendall``: when the server stops
reading, the sender blocks on TCP flow control. COUNT 0 sends until killed.
Prints "sent N" on each line of stdin it is asked with, and "done N" at the end.
"""

from __future__ import annotations

import os
import socket
import sys
import threading

HEAD = (
    "GET /flood HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n\r\n"
)


def frame_header(size: int) -> bytes:
    # FIN + binary; masked with the key 0 (the payload goes as it is).
    if size < 126:
        return bytes([0x82, 0x80 | size]) + b"\0\0\0\0"
    if size < 65536:
        return bytes([0x82, 0x80 | 126]) + size.to_bytes(2, "big") + b"\0\0\0\0"
    return bytes([0x82, 0x80 | 127]) + size.to_bytes(8, "big") + b"\0\0\0\0"


def main() -> None:
    port, count, size = (int(a) for a in sys.argv[1:4])
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(HEAD.encode())
    reply = b""
    while b"\r\n\r\n" not in reply:
        chunk = sock.recv(4096)
        if not chunk:
            raise SystemExit("closed during the handshake")
        reply += chunk
    if not reply.startswith(b"HTTP/1.1 101"):
        raise SystemExit("handshake refused: %r" % reply[:40])
    sent = 0

    def report() -> None:  # answers "how many so far?" on stdin
        for _ in sys.stdin:
            print("sent", sent, flush=True)

    threading.Thread(target=report, daemon=True).start()
    hdr, pad = frame_header(size), bytes(size - 8)
    block = max(1, min(1024, (256 << 10) // size))  # about 256 KiB per sendall
    while count == 0 or sent < count:
        n = block if count == 0 else min(block, count - sent)
        sock.sendall(b"".join(hdr + s.to_bytes(8, "big") + pad for s in range(sent, sent + n)))
        sent += n
    print("done", sent, flush=True)
    # A close frame (1000), then wait for the server's close.
    sock.sendall(bytes([0x88, 0x82, 0, 0, 0, 0]) + (1000).to_bytes(2, "big"))
    sock.settimeout(30)
    try:
        while sock.recv(65536):
            pass
    except OSError:
        pass
    sock.close()
    os._exit(0)


if __name__ == "__main__":
    main()
