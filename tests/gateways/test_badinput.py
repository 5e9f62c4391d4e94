"""Bad input: every refusal is a short 4xx, never a 500 or a crash, also under concurrent clients.

The server here speaks the gateway's own HTTP protocol (``registry.gateways._server.http_protocol``:
the guarded httptools one where httptools imports), as ``keyanchor serve`` does.
"""

from __future__ import annotations

import random
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from registry.gateways._server import ServerLimits, http_protocol
from registry.gateways.http import MAX_BODY, MAX_QUERY
from tests.gateways.conftest import ServerThread, World

pytestmark = pytest.mark.tools


def guarded(app: Any) -> ServerThread:
    """A :class:`ServerThread` speaking the protocol ``keyanchor serve`` speaks."""
    srv = ServerThread(app)
    srv.server.config.http = http_protocol()
    srv.server.config.keyanchor_limits = ServerLimits()  # type: ignore[attr-defined]
    return srv


@pytest.fixture(scope="module")
def server(world: World) -> Iterator[ServerThread]:
    from registry.gateways.http import create_app

    with guarded(create_app(world.index)) as srv:
        yield srv


def raw_request(port: int, data: bytes, timeout: float = 10) -> tuple[int, bytes]:
    """Send raw bytes (no client-side normalisation); return (status, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        while True:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            chunks.append(chunk)
    resp = b"".join(chunks)
    head, _, body = resp.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def get(port: int, target: bytes, host: bytes = b"127.0.0.1") -> tuple[int, bytes]:
    return raw_request(port, b"GET " + target + b" HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n")


@pytest.mark.parametrize("target,status", [
    (b"/pks/lookup?op=get&search=%ff%fe", 400),                      # invalid UTF-8 (percent-encoded)
    (b"/names/%c3%28", 400),
    (b"/v1/names/%e2%82", 400),
    (b"/pks/lookup?op=get&search=%00", 400),                          # NUL
    (b"/pks/lookup?op=get&search=0x123", 400),                        # malformed searches
    (b"/pks/lookup?op=get&search=", 400),
    (b"/pks/lookup?op=get&search=Alice", 400),
    (b"/pks/lookup?op=get&search=0x1234ABCD", 400),                   # short key ID
    (b"/pks/lookup?op=get", 400),
    (b"/pks/lookup?search=a@b.org", 400),
    (b"/pks/lookup?op=frobnicate&search=a@b.org", 400),               # unknown op
    (b"/pks/lookup?op=get&search=" + b"A" * (MAX_QUERY + 1), 414),    # oversized query
    (b"/" + b"a" * (MAX_QUERY + 1), 414),
    (b"/.well-known/openpgpkey/../../../etc/passwd", 400),           # traversal
    (b"/.well-known/openpgpkey/hu/..%2f..%2fetc%2fpasswd", 400),
    (b"/%2e%2e/%2e%2e/etc/passwd", 400),
    (b"/names/..%5c..%5cwindows", 400),
    (b"/v1/names/alice@example.org/../../x", 400),
    (b"/etc/passwd", 404),
    (b"/search?q=" + b"x" * 400, 400),
    (b"/v1/keys/zz", 400),
])
def test_bad_requests_are_short_4xx(server: ServerThread, target: bytes, status: int) -> None:
    got, body = get(server.port, target)
    assert got == status, body
    assert 0 < len(body) < (8000 if body.startswith(b"<!doctype") else 600)  # page routes answer HTML
    assert b"Traceback" not in body


def test_raw_non_utf8_bytes_in_the_request_line(server: ServerThread) -> None:
    got, _ = get(server.port, b"/names/\xff\xfe")
    assert 400 <= got < 500


def test_unimplemented_hkp_op_is_501_as_the_hkp_draft_says(server: ServerThread) -> None:
    got, body = get(server.port, b"/pks/lookup?op=stats")
    assert got == 501 and b"not implemented" in body


def test_oversized_body_is_413(server: ServerThread) -> None:
    big = b"keytext=" + b"A" * (MAX_BODY + 10)
    got, body = raw_request(server.port, b"POST /pks/add HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                            b"Content-Type: application/x-www-form-urlencoded\r\n"
                            b"Content-Length: " + str(len(big)).encode() + b"\r\n\r\n" + big)
    assert got == 413 and b"larger than" in body


def test_oversized_chunked_body_is_413(server: ServerThread) -> None:
    chunk = b"A" * 16384
    body = b"".join(b"%x\r\n" % len(chunk) + chunk + b"\r\n" for _ in range(6)) + b"0\r\n\r\n"
    got, _text = raw_request(server.port, b"POST /pks/add HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                            b"Transfer-Encoding: chunked\r\n\r\n" + body)
    assert got == 413


def test_other_methods_are_405(server: ServerThread) -> None:
    for method in (b"PUT", b"DELETE", b"PATCH"):
        got, _ = raw_request(server.port, method + b" /pks/lookup HTTP/1.1\r\nHost: x\r\n"
                             b"Content-Length: 0\r\nConnection: close\r\n\r\n")
        assert got == 405


def test_server_keeps_serving_concurrent_mixed_clients(world: World) -> None:
    """20 threads x 40 mixed good and bad requests against a fresh server; no 5xx, no crash."""
    import httpx

    from registry.gateways.http import create_app

    fpr = world.fpr["alice"]
    good = [f"/pks/lookup?op=get&options=mr&search=0x{fpr}", "/v1/names/alice@example.org",
            "/alice@example.org.keys", "/", "/names/alice@example.org",
            "/pks/lookup?op=index&options=mr&search=alice@example.org"]
    bad = [b"/pks/lookup?op=get&search=%ff", b"/pks/lookup?op=x", b"/../../etc/passwd",
           b"/pks/lookup?op=get&search=" + b"B" * 3000, b"/v1/names/%c3%28"]
    failures: list[str] = []
    with guarded(create_app(world.index)) as srv:
        def worker(seed: int) -> None:
            rng = random.Random(seed)
            try:
                with httpx.Client(base_url=srv.url, timeout=20) as c:
                    for _ in range(40):
                        if rng.random() < 0.6:
                            path = rng.choice(good)
                            r = c.get(path)
                            if r.status_code != 200:
                                failures.append(f"{path}: {r.status_code}")
                        else:
                            status, _ = get(srv.port, rng.choice(bad))
                            if not 400 <= status < 500:
                                failures.append(f"bad input answered {status}")
            except Exception as exc:  # surfaced below
                failures.append(repr(exc))

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in threads)
        assert failures == []
        with httpx.Client(base_url=srv.url, timeout=10) as c:
            assert c.get(f"/pks/lookup?op=get&search=0x{fpr}").status_code == 200
