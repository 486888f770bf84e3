#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into fuzz/corpus/<target>/.

Small hand-made inputs in each target's input format (see the module docs
in fuzz/src/checks/): the examples of RFC 6455 section 5.7, Autobahn-like
frames (fragmentation, control frames, close codes, bad UTF-8, reserved
bits and opcodes, size limits), upgrade requests and responses. Run it
again after changing an input format; it rewrites only its own files
(seed-*), so inputs that libFuzzer added are kept.
"""
import os
import struct
import zlib
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fuzz", "corpus")
KEY = bytes([0x37, 0xFA, 0x21, 0x3D])  # RFC 6455 section 5.7


def frame(opcode, payload=b"", fin=True, mask=None, rsv=0):
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload)
    mbit = 0x80 if mask else 0
    if n < 126:
        head = bytes([b0, mbit | n])
    elif n <= 0xFFFF:
        head = bytes([b0, mbit | 126]) + struct.pack(">H", n)
    else:
        head = bytes([b0, mbit | 127]) + struct.pack(">Q", n)
    if mask:
        payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
        head += mask
    return head + payload


def close(code, reason=b""):
    return struct.pack(">H", code) + reason


# Streams as a client sends them (the server role receives them masked).
STREAMS = {
    "rfc-hello": [(1, b"Hello")],
    "rfc-fragmented": [(1, b"Hel", False), (0, b"lo")],
    "rfc-ping-pong": [(9, b"Hello"), (10, b"Hello")],
    "rfc-256-binary": [(2, bytes(range(256)))],
    "text-split-codepoint": [(1, "caf\u00e9 \u2603".encode()[:5], False), (0, "caf\u00e9 \u2603".encode()[5:])],
    "ping-between-fragments": [(1, b"ab", False), (9, b"p"), (0, b"cd", False), (0, b"ef")],
    "close-normal": [(8, close(1000, b"bye"))],
    "close-empty": [(8, b"")],
    "close-then-more": [(8, close(1001)), (1, b"ignored")],
    "close-bad-code": [(8, close(1005))],
    "close-one-byte": [(8, b"\x03")],
    "close-bad-utf8": [(8, close(1000, b"\xff"))],
    "text-bad-utf8": [(1, b"ok \xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited")],
    "text-bad-utf8-fragment": [(1, b"\xce\xba\xe1", False), (0, b"\xbd\xb9\xf4\x90", False), (0, b"end")],
    "continuation-first": [(0, b"x")],
    "text-while-fragmented": [(1, b"a", False), (1, b"b")],
    "ping-126": [(9, b"x" * 126)],
    "ping-fragmented": [(9, b"x", False)],
    "reserved-opcode": [(3, b"")],
    "rsv-bit": [(1, b"x", True, 1)],
    "empty-messages": [(1, b""), (2, b""), (1, b"", False), (0, b"")],
    "many-pings": [(9, bytes([i])) for i in range(8)] + [(8, close(1000))],
    "big-frame-header": None,  # raw below
}


def stream_bytes(frames, masked):
    out = b""
    for f in frames:
        opcode, payload = f[0], f[1]
        fin = f[2] if len(f) > 2 else True
        rsv = f[3] if len(f) > 3 else 0
        out += frame(opcode, payload, fin, KEY if masked else None, rsv)
    return out


def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def conn_chunks():
    seed = struct.pack(">Q", 0x5EED)
    for name, frames in STREAMS.items():
        for role, flags, masked in (("server", 0, True), ("client", 1, False)):
            if frames is None:
                # 64-bit length header and a few payload bytes of a 64 KiB frame.
                b1 = (0x80 if masked else 0) | 127
                raw = bytes([0x82, b1]) + struct.pack(">Q", 65536) + (KEY if masked else b"") + b"abc"
                raw_nonmin = bytes([0x82, b1]) + struct.pack(">Q", 125)
                write("conn_chunks", f"{name}-{role}", bytes([flags]) + seed + raw)
                write("conn_chunks", f"nonminimal-{role}", bytes([flags]) + seed + raw_nonmin)
                continue
            write("conn_chunks", f"{name}-{role}", bytes([flags]) + seed + stream_bytes(frames, masked))
    # Tiny limits: max_frame_size 4*4 bytes, max_message_size 20.
    limits = bytes([0x02, 4]) + struct.pack(">H", 20)
    for name in ("rfc-fragmented", "rfc-256-binary", "ping-between-fragments"):
        write("conn_chunks", f"limits-{name}", limits + seed + stream_bytes(STREAMS[name], True))


def conn_model():
    def send(side, kind, payload):
        return bytes([side << 7 | kind, len(payload)]) + payload

    def deliver(side, n=0xFFFF):
        return bytes([side << 7 | 8]) + struct.pack(">H", n)

    everything = bytes([0x0F])
    progs = {
        "echo": send(1, 0, b"hello") + deliver(1) + send(0, 0, b"hello") + everything,
        "binary-both": send(0, 1, b"\x00\x01\x02") + send(1, 1, b"\xff") + everything,
        "ping-pong": send(1, 3, b"are you there") + deliver(1, 3) + deliver(1) + everything,
        "too-long-ping": send(0, 3, b"x" * 126) + everything,
        "unsolicited-pong": send(0, 4, b"beat") + everything,
        "fragments": bytes([0x05, 2, 0, 1, 6]) + b"abc\xc3\xa9f" + bytes([0x05, 1, 0]) + bytes([0x05, 0, 1]) + everything,
        "close-server": bytes([0x06, 0]) + struct.pack(">H", 0) + bytes([3]) + b"bye" + everything + send(0, 0, b"late"),
        "close-client-bad-code": bytes([0x86, 3, 2]) + bytes([0x86, 2]) + struct.pack(">H", 1005) + bytes([0]) + everything,
        "close-both": bytes([0x06, 0, 0, 0, 0]) + bytes([0x86, 1, 0, 0, 0]) + everything,
        "close-long-reason": bytes([0x06, 0, 0, 0, 124]) + b"r" * 124 + everything,
        "shared": bytes([0x07, 4]) + b"bcst" + bytes([0x87, 1]) + b"x" + everything,
        "big-send-bytes": bytes([0x02]) + struct.pack(">H", 5000) + bytes([0x41, 0]) + deliver(0, 100) + deliver(0, 4097) + everything,
        "partial-slices": send(0, 1, b"abcdefgh") + send(0, 3, b"p") + bytes([0x09, 0, 3]) + bytes([0x0A, 0, 2]) + everything,
        "close-mid-fragment": bytes([0x85, 5, 0, 0, 8]) + b"fragment" + bytes([0x86, 0, 0, 0, 0]) + everything,
    }
    for name, prog in progs.items():
        write("conn_model", name, prog)


def frame_header():
    def fields(fin, op, rsv, key, lensel, length):
        b = bytes([op, rsv])
        b += bytes([1]) + key if key else bytes([0])
        if lensel == 0:
            b += bytes([0, length])
        elif lensel == 1:
            b += bytes([1]) + struct.pack(">H", length)
        else:
            b += bytes([2]) + struct.pack(">Q", length << 1)
        return b

    heads = {
        "rfc-hello-masked": frame(1, b"Hello", mask=KEY)[:6],
        "rfc-hello": frame(1, b"Hello")[:2],
        "len16": frame(2, bytes(256))[:4],
        "len64": bytes([0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]),
        "len64-masked": bytes([0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0]) + KEY,
        "top-bit": bytes([0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0]),
        "nonminimal16": bytes([0x82, 126, 0, 125]),
        "nonminimal64": bytes([0x82, 127, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF]),
        "control-long": bytes([0x89, 126, 0, 126]),
        "control-fragmented": bytes([0x09, 0]),
        "reserved-op": bytes([0x83, 0]),
        "rsv1": bytes([0xC1, 0x80]) + KEY,
    }
    for i, (name, head) in enumerate(heads.items()):
        mode = (i & 1) | ((i % 8) << 1)
        body = head.ljust(24, b"\x00") if False else head + bytes(24 - len(head))
        enc = fields(1, [1, 2, 8, 9, 10, 0][i % 6], 0, KEY if i % 2 else None, i % 3, [5, 300, 70000][i % 3])
        write("frame_header", name, bytes([mode]) + body + enc)


REQUEST = (
    b"GET /chat HTTP/1.1\r\n"
    b"Host: server.example.com\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Origin: http://example.com\r\n"
    b"Sec-WebSocket-Protocol: chat, superchat\r\n"
    b"Sec-WebSocket-Version: 13\r\n\r\n"
)


def handshake_request():
    write("handshake_request", "rfc", bytes([0, 1]) + REQUEST)
    write("handshake_request", "rfc-with-frame", bytes([0, 0]) + REQUEST + frame(1, b"Hi", mask=KEY))
    write("handshake_request", "small-max-head", bytes([20, 0]) + REQUEST)
    write("handshake_request", "partial", bytes([0, 0]) + REQUEST[:60])
    write("handshake_request", "post", bytes([0, 0]) + REQUEST.replace(b"GET", b"POST", 1))
    write("handshake_request", "version-8", bytes([0, 0]) + REQUEST.replace(b"Version: 13", b"Version: 8"))
    write("handshake_request", "two-keys", bytes([0, 0]) + REQUEST.replace(b"Origin", b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin"))
    write("handshake_request", "short-key", bytes([0, 0]) + REQUEST.replace(b"dGhlIHNhbXBsZSBub25jZQ==", b"dGhl"))
    write("handshake_request", "lowercase", bytes([0, 1]) + REQUEST.lower().replace(b"get /chat http/1.1", b"GET /chat HTTP/1.1").replace(b"zq==", b"ZQ==").replace(b"dghlihnhbxbszsbub25jzq==", b"dGhlIHNhbXBsZSBub25jZQ=="))
    write("handshake_request", "connection-list", bytes([0, 0]) + REQUEST.replace(b"Connection: Upgrade", b"Connection: keep-alive, Upgrade"))


def handshake_response():
    ok = (
        b"HTTP/1.1 101 Switching Protocols\r\n"
        b"Upgrade: websocket\r\n"
        b"Connection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: {A}\r\n"
    )
    proto = bytes([0b0000_0010, 4]) + b"chat"
    write("handshake_response", "ok", bytes([0]) + ok + b"\r\n")
    write("handshake_response", "ok-protocol", proto + ok + b"Sec-WebSocket-Protocol: {P}\r\n\r\n")
    write("handshake_response", "unoffered-protocol", bytes([0]) + ok + b"Sec-WebSocket-Protocol: chat\r\n\r\n")
    write("handshake_response", "bad-accept", bytes([0]) + ok.replace(b"{A}", b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") + b"\r\n")
    write("handshake_response", "two-accepts", bytes([0]) + ok + b"Sec-WebSocket-Accept: x\r\n\r\n")
    write("handshake_response", "status-200", bytes([0]) + ok.replace(b"101", b"200") + b"\r\n")
    write("handshake_response", "extension", bytes([0]) + ok + b"Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n")
    write("handshake_response", "partial", bytes([0]) + ok)
    write("handshake_response", "custom-host-path", bytes([0x10, 9]) + b"localhost" + bytes([2]) + b"/x" + ok + b"\r\n")
    write("handshake_response", "small-max-head", bytes([1, 20]) + ok + b"\r\n")


def utf8_split():
    samples = {
        "ascii": b"Hello, world",
        "greek": "\u03ba\u1f79\u03c3\u03bc\u03b5".encode(),
        "mixed": "a\u00e9\u20ac\U0001f600z".encode(),
        "max": "\U0010ffff\ud7ff\ue000\ufffd".encode("utf-8", "surrogatepass"),
        "surrogate": b"ab\xed\xa0\x80cd",
        "overlong": b"\xc0\xaf and \xe0\x80\xaf",
        "too-big": b"\xf4\x90\x80\x80",
        "lone-continuation": b"x\x80y",
        "truncated": "\u20ac".encode()[:2],
        "bad-lead": b"\xf8\x88\x80\x80\x80",
        "long": ("\u00e9" * 40 + "\U0001f600" * 20 + "x" * 70).encode(),
        "long-bad-end": ("\u00e9" * 40).encode() + b"\xe2\x82",
    }
    for i, (name, text) in enumerate(samples.items()):
        write("utf8_split", name, struct.pack(">Q", i * 7919) + text)


def mask_levels():
    cases = [(0, 0, 5), (1, 3, 64), (2, 17, 127), (3, 31, 300), (5, 1, 1500), (0, 63, 2047)]
    for i, (offset, align, length) in enumerate(cases):
        data = KEY + struct.pack(">Q", offset) + bytes([align]) + struct.pack(">H", length)
        data += struct.pack(">H", length // 3) + bytes([i]) + struct.pack(">Q", i + 1)
        write("mask_levels", f"case{i}", data + bytes(range(i * 10)))


def deflate():
    offers = [b"permessage-deflate", b"permessage-deflate; client_max_window_bits",
              b"permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
              b"server_max_window_bits=9; client_max_window_bits=\"10\"",
              b"x-foo, permessage-deflate; foo, permessage-deflate; server_max_window_bits=8"]
    for i, offer in enumerate(offers):
        write("deflate", f"offer{i}", b"\x00" + offer)
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    tick = b'{"type":"ticker","price":"40123.45","side":"buy"}' * 3
    write("deflate", "inflate-tick", b"\x01" + (c.compress(tick) + c.flush(zlib.Z_SYNC_FLUSH))[:-4])
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    write("deflate", "inflate-bomb", b"\x01" + (c.compress(bytes(1 << 20)) + c.flush(zlib.Z_SYNC_FLUSH))[:-4])
    write("deflate", "inflate-bad", b"\x01\xff\xff\xff")
    write("deflate", "round-trip", b"\x02" + tick + bytes(range(256)))


def c_codec():
    head = bytes([0, 0, 6]) + frame(1, b"Hello", mask=KEY)[:6]
    enc = bytes([1, 2]) + KEY + bytes([1, 1]) + struct.pack(">H", 300)
    pre = head + enc + bytes([5]) + b"h\xc3\xa9!!" + bytes([1])

    def feed(b):
        return bytes([0, len(b)]) + b

    def send(op, b):
        return bytes([2, op, len(b)]) + b

    out = bytes([4, 0xFF, 0xFF])
    server_in = stream_bytes(STREAMS["rfc-fragmented"] + STREAMS["rfc-ping-pong"] + STREAMS["close-normal"], True)
    client_in = stream_bytes(STREAMS["rfc-hello"] + STREAMS["text-bad-utf8"], False)
    write("c_codec", "server", pre + bytes([0]) + feed(server_in[:9]) + feed(server_in[9:]) + out + send(1, b"x") + out + bytes([5]))
    write("c_codec", "client", pre + bytes([1]) + send(2, b"bin") + send(9, b"p" * 10) + out + feed(client_in) + out)
    write("c_codec", "close", pre + bytes([0]) + bytes([3]) + struct.pack(">H", 1000) + bytes([2]) + b"ok" + send(1, b"late") + out + feed(frame(8, close(1000), mask=KEY)))
    write("c_codec", "limits", pre + bytes([6, 8]) + struct.pack(">H", 10) + feed(stream_bytes(STREAMS["rfc-256-binary"], True)[:40]) + out)
    write("c_codec", "bad-args", pre + bytes([0]) + send(3, b"") + send(1, b"\xff") + bytes([3]) + struct.pack(">H", 1005) + bytes([0]) + bytes([3, 0, 0, 1]) + b"\xff")


def main():
    conn_chunks()
    conn_model()
    frame_header()
    handshake_request()
    handshake_response()
    utf8_split()
    mask_levels()
    deflate()
    c_codec()
    total = sum(len(fs) for _, _, fs in os.walk(ROOT))
    print(f"seed corpora written under {os.path.normpath(ROOT)} ({total} files)", file=sys.stderr)


if __name__ == "__main__":
    main()
