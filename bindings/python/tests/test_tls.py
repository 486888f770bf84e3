"""wss:// through the binding: a Server with certfile/keyfile, checked by
Python's own `websockets` client with an ssl.SSLContext trusting the test CA,
and by the binding's client (cafile, server_hostname); failures are
CONNECT_ERRORs whose text starts with "TLS:". Certificates are made here with
the openssl command."""

from __future__ import annotations

import asyncio
import os
import ssl
import subprocess
import tempfile
from typing import Dict

import pytest

from rocwebsocket import Client, EventType

from conftest import EchoServer, wait_type


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def _ca_and_leaf(directory: str, name: str) -> Dict[str, str]:
    """A CA and a certificate for localhost and 127.0.0.1 that it signed."""
    p = {k: os.path.join(directory, f"{name}-{k}.pem") for k in ("ca", "cakey", "cert", "key", "csr")}
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", p["cakey"], "-out", p["ca"], "-days", "2", "-subj", f"/CN={name} CA")
    _openssl("req", *ec, "-keyout", p["key"], "-out", p["csr"], "-subj", "/CN=localhost")
    ext = os.path.join(directory, f"{name}.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
    _openssl(
        "x509", "-req", "-in", p["csr"], "-CA", p["ca"], "-CAkey", p["cakey"], "-CAcreateserial",
        "-out", p["cert"], "-days", "2", "-extfile", ext,
    )
    return p


@pytest.fixture(scope="module")
def pki():
    with tempfile.TemporaryDirectory() as d:
        yield {"a": _ca_and_leaf(d, "a"), "b": _ca_and_leaf(d, "b")}


def test_python_websockets_client_over_wss(pki) -> None:
    import websockets  # installed by scripts/test-python.sh
    a = pki["a"]
    srv = EchoServer(certfile=a["cert"], keyfile=a["key"])
    try:
        assert srv.server.tls_port != 0

        async def talk() -> None:
            ctx = ssl.create_default_context(cafile=a["ca"])
            async with websockets.connect(f"wss://localhost:{srv.server.tls_port}/py", ssl=ctx) as ws:
                for msg in ["hello over TLS", "é" * 70000, b"\x00\x01" * 40000]:
                    await ws.send(msg)
                    assert await ws.recv() == msg
            # The default context (the system's store) refuses the test CA.
            with pytest.raises(ssl.SSLCertVerificationError):
                async with websockets.connect(f"wss://localhost:{srv.server.tls_port}/"):
                    pass

        asyncio.run(talk())
    finally:
        srv.stop()
        srv.server.free()


def test_binding_client_and_reload(pki) -> None:
    a, b = pki["a"], pki["b"]
    srv = EchoServer(listen=["127.0.0.1:0"], tls_listen=["127.0.0.1:0"], certfile=a["cert"], keyfile=a["key"])
    try:
        assert srv.server.port != 0 and srv.server.tls_port != 0
        url = f"wss://localhost:{srv.server.tls_port}/b"
        with Client() as c:
            c.connect(url, 1, cafile=a["ca"])
            conn = wait_type(c, EventType.OPEN).conn
            c.send(conn, "hi")
            assert wait_type(c, EventType.TEXT).data == b"hi"
            c.connect(url, 2)  # the system's store: refused
            ev = wait_type(c, EventType.CONNECT_ERROR)
            assert ev.tag == 2 and ev.data.startswith(b"TLS: "), ev
            c.connect(url, 3, cafile=a["ca"], server_hostname="other.example")
            ev = wait_type(c, EventType.CONNECT_ERROR)
            assert ev.tag == 3 and b"not valid for name" in ev.data, ev

            srv.server.reload_cert(b["cert"], b["key"])
            c.send(conn, "still open")
            assert wait_type(c, EventType.TEXT).data == b"still open"
            c.connect(url, 4, cafile=b["ca"])
            conn2 = wait_type(c, EventType.OPEN).conn
            c.send(conn2, "new cert")
            assert wait_type(c, EventType.TEXT).data == b"new cert"
            with pytest.raises(Exception):
                srv.server.reload_cert(a["ca"], "/nonexistent.pem")
    finally:
        srv.stop()
        srv.server.free()
