"""The gateway's two HTTP protocols (h11 and httptools, both guarded) against hostile clients.

Each test runs uvicorn with one of the protocols (``registry.gateways._server``)
on 127.0.0.1 in a thread, with a small app that answers what it got, and talks
to it over raw sockets: oversized heads, junk, request smuggling framings,
unknown versions, upgrades, pipelined junk, slow heads and bodies. Every
socket has a timeout, so nothing waits for long; the server is stopped at the end.
"""

from __future__ import annotations

import asyncio
import contextvars
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from registry.gateways._server import GuardedH11Protocol, ServerLimits, http_protocol
from tests.conftest import free_port

PROTOCOLS: dict[str, type] = {"h11": GuardedH11Protocol}
try:
    from registry.gateways import _httptools as httptools_impl
except ImportError:  # pragma: no cover - httptools is a dependency; the h11 tests still run
    httptools_impl = None  # type: ignore[assignment]
else:
    PROTOCOLS["httptools"] = httptools_impl.GuardedHttpToolsProtocol
TIMEOUT = 10.0


_SEEN: contextvars.ContextVar[str] = contextvars.ContextVar("seen", default="")


async def echo_app(scope: Any, receive: Any, send: Any) -> None:
    """Answers ``METHOD path body-length`` (405 for methods other than GET/HEAD/POST);
    under /wait it first sets a context variable, sleeps and answers the variable's value."""
    if scope["path"].startswith("/wait"):
        _SEEN.set(scope["path"])
        await asyncio.sleep(0.05)
        await asyncio.sleep(0)
        body = _SEEN.get().encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
        return
    size, more = 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    body = f"{scope['method']} {scope['path']} {size}".encode()
    status = 200 if scope["method"] in ("GET", "HEAD", "POST") else 405
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class Served:
    def __init__(self, protocol: type, limits: ServerLimits) -> None:
        self.port = free_port()
        config = uvicorn.Config(echo_app, host="127.0.0.1", port=self.port, http=protocol,
                                ws="none", log_level="critical", access_log=False,
                                lifespan="off", timeout_keep_alive=limits.keep_alive)
        config.keyanchor_limits = limits  # type: ignore[attr-defined]
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT)


@pytest.fixture(scope="module", params=sorted(PROTOCOLS))
def served(request: pytest.FixtureRequest) -> Iterator[Served]:
    limits = ServerLimits(header_timeout=1, per_peer=8, keep_alive=5)
    with Served(PROTOCOLS[request.param], limits) as srv:
        srv.protocol = request.param  # type: ignore[attr-defined]
        yield srv


def read_until_closed(s: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (fails after TIMEOUT)."""
    chunks = []
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def responses(data: bytes) -> list[tuple[int, dict[bytes, bytes], bytes]]:
    """Split a stream of HTTP/1.1 answers into (status, headers, body) each."""
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        assert sep, data
        lines = head.split(b"\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(b":") for ln in lines[1:])}
        size = int(headers.get(b"content-length", len(rest)))  # (uvicorn's h11 400: up to the close)
        out.append((int(lines[0].split(b" ")[1]), headers, rest[:size]))
        data = rest[size:]
    return out


def exchange(srv: Served, *pieces: bytes, pause: float = 0) -> list[tuple[int, dict[bytes, bytes], bytes]]:
    """Send ``pieces`` on one connection, read until the server closes it, return the answers."""
    with srv.connect() as s:
        for piece in pieces:
            s.sendall(piece)
            time.sleep(pause)
        return responses(read_until_closed(s))


GET = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
CLOSE = b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


def test_keep_alive_and_pipelined_requests_are_answered_in_order(served: Served) -> None:
    got = exchange(served, GET + b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", CLOSE)
    assert [(st, body) for st, _, body in got] == [(200, b"GET /a 0"), (200, b"POST /b 3"),
                                                   (200, b"GET /last 0")]


def test_an_app_that_waits_is_answered_in_order_with_its_own_context(served: Served) -> None:
    """The httptools protocol runs a request on the spot up to its first wait, then in a task."""
    got = exchange(served, b"GET /wait1 HTTP/1.1\r\nHost: x\r\n\r\n" + GET
                   + b"GET /wait2 HTTP/1.1\r\nHost: x\r\n\r\n", CLOSE)
    assert [b for _, _, b in got] == [b"/wait1", b"GET /a 0", b"/wait2", b"GET /last 0"]


def test_run_server_serves_with_httptools_when_it_imports_else_h11() -> None:
    assert http_protocol() is PROTOCOLS.get("httptools", GuardedH11Protocol)


@pytest.mark.parametrize("shape", ["one header line", "many headers", "long target"])
def test_a_head_over_16_kib_is_refused_and_the_connection_closed(served: Served, shape: str) -> None:
    """h11 buffers at most 16 KiB of an incomplete head; llhttp would buffer any amount."""
    start = b"GET /a HTTP/1.1\r\nHost: x\r\n"
    pieces = {"one header line": [start + b"X-Big: ", *[b"a" * 4096] * 40],
              "many headers": [start, *[b"X-%d: %s\r\n" % (i, b"v" * 200) for i in range(400)]],
              "long target": [b"GET /" + b"a" * 4096, *[b"a" * 4096] * 40]}[shape]
    with served.connect() as s:
        try:
            for piece in pieces:
                s.sendall(piece)
        except OSError:  # closed by the server while we still send: what we want
            pass
        data = read_until_closed(s)
    if data:  # the refusal, unless the close reset the connection before it was read
        [(status, headers, _body)] = responses(data)
        assert status in (400, 431) and headers[b"connection"] == b"close"


def test_a_head_over_16_kib_after_a_request_in_the_same_read_is_refused(served: Served) -> None:
    with served.connect() as s:
        try:
            s.sendall(GET + b"GET /b HTTP/1.1\r\nHost: x\r\nX-A: 1\r\nX-Big: " + b"a" * 200_000)
            for _ in range(10):
                s.sendall(b"a" * 4096)
        except OSError:
            pass
        got = responses(read_until_closed(s))
    assert got[0][0] == 200 and all(status in (400, 431) for status, _, _ in got[1:])


def test_a_large_body_is_not_taken_for_a_large_head(served: Served) -> None:
    body = b"k" * 300_000
    got = exchange(served, b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body)
                   + body + b"POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n",
                   b"12345" + CLOSE)
    assert [(st, b) for st, _, b in got] == [(200, b"POST /b 300000"), (200, b"POST /c 5"),
                                             (200, b"GET /last 0")]


BAD = {
    "tls hello": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40,
    "text": b"hello world\r\n\r\n",
    "content-length and chunked": b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                                  b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
    "two content-lengths": b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 30\r\n\r\n"
                           b"abcGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
    "content-length list": b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\nabc",
    "signed content-length": b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc",
    "transfer-encoding gzip": b"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nabc",
    "space before colon": b"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
    "bad chunk size": b"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    "obs-fold": b"GET /a HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n",
    "NUL in a header": b"GET /a HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n",
    "bare LF": b"GET /a HTTP/1.1\nHost: x\n\n",
    "bare CR": b"GET /a HTTP/1.1\rHost: x\r\r",
    "raw 0xff in the target": b"GET /\xff HTTP/1.1\r\nHost: x\r\n\r\n",
    "method with a bracket": b"G(T /a HTTP/1.1\r\nHost: x\r\n\r\n",
    "HTTP/0.9": b"GET /a\r\n\r\n",
    "HTTP/1.2": b"GET /a HTTP/1.2\r\nHost: x\r\n\r\n",
    "no Host": b"GET /a HTTP/1.1\r\n\r\n",
    "two Host headers": b"GET /a HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
    "h2 preface": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
}


#: What h11 (the fallback when httptools is missing) lets through, answered or left to the deadline.
H11_LENIENT = {"HTTP/1.2", "bare CR", "bare LF", "content-length list", "h2 preface", "obs-fold"}


@pytest.mark.parametrize("name", sorted(BAD))
def test_junk_and_smuggling_framings_get_400_and_a_close(served: Served, name: str) -> None:
    got = exchange(served, BAD[name])
    if served.protocol == "h11" and name in H11_LENIENT:  # type: ignore[attr-defined]
        assert all(status < 500 for status, _, _ in got)
        return
    assert len(got) == 1, got  # nothing smuggled behind the refusal is answered
    status, headers, _body = got[0]
    assert 400 <= status < 500 and headers[b"connection"] == b"close"


def test_an_unknown_method_never_reaches_past_a_4xx(served: Served) -> None:
    got = exchange(served, b"FOO /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert len(got) == 1 and 400 <= got[0][0] < 500  # llhttp refuses it, h11 lets the app say 405


def test_http_1_0_is_answered_and_closed(served: Served) -> None:
    assert [(st, b) for st, _, b in exchange(served, b"GET /old HTTP/1.0\r\n\r\n" + GET)] == \
        [(200, b"GET /old 0")]


@pytest.mark.parametrize("upgrade", [b"h2c", b"websocket"])
def test_an_upgrade_request_is_answered_plainly_and_nothing_after_it_is_read(
        served: Served, upgrade: bytes) -> None:
    got = exchange(served, b"GET /up HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: " + upgrade
                   + b"\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                   CLOSE, pause=0.2)
    assert got[0][:1] == (200,) and got[0][2] == b"GET /up 0"
    if served.protocol == "httptools":  # type: ignore[attr-defined]
        assert len(got) == 1  # closed after the answer; the bytes after the upgrade never parsed


def test_junk_pipelined_after_good_requests_closes_after_their_answers(served: Served) -> None:
    got = exchange(served, GET + GET + b"\x16\x03\x01junk\r\n\r\n" + GET)
    assert [st for st, _, _ in got[:2]] == [200, 200]
    assert all(400 <= st < 500 for st, _, _ in got[2:])  # h11 says 400 after them; httptools closes


def test_junk_inside_a_chunked_body_gets_400_and_a_close(served: Served) -> None:
    got = exchange(served, b"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n",
                   b"3\r\nabcX\r\n0\r\n\r\n" + GET, pause=0.2)
    assert len(got) == 1 and got[0][0] == 400


def test_a_long_pipelined_burst_is_answered_in_order_until_the_server_closes(served: Served) -> None:
    burst = b"".join(b"GET /%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(200))
    got = exchange(served, burst)
    assert [b for _, _, b in got] == [b"GET /%d 0" % i for i in range(len(got))]
    if served.protocol == "httptools":  # type: ignore[attr-defined]
        assert len(got) == httptools_impl.MAX_PIPELINED + 1  # then closed: the rest never read
    else:
        assert len(got) == 200


@pytest.mark.parametrize("pieces", [
    [b"GET /a HTTP/1.1\r\n", b"Host: x\r\n", b"X-Slow: 1\r\n"],                 # slowloris head
    [b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n", b"a", b"a"],  # slow body
    [GET, b"GET /a HTTP/1.1\r\n"],                                                # after an answer
])
def test_a_request_not_complete_within_the_deadline_is_closed(served: Served, pieces: list[bytes]) -> None:
    """The deadline (1 s here) counts the whole request, head and body, from the previous answer."""
    with served.connect() as s:
        started = time.monotonic()
        try:
            for piece in pieces:
                s.sendall(piece)
                time.sleep(0.3)
            data = read_until_closed(s)  # the socket timeout (10 s) bounds this wait
        except OSError:
            data = b""
        assert time.monotonic() - started < TIMEOUT  # closed by the server, not by our timeout
    assert [st for st, _, _ in responses(data)] == [200] * (pieces[0] == GET)


def test_connections_over_the_per_peer_limit_get_503(served: Served) -> None:
    with served.connect() as first:
        first.sendall(GET)
        assert first.recv(65536).startswith(b"HTTP/1.1 200")
        held = [served.connect() for _ in range(7)]  # 8 in all: the limit
        try:
            with served.connect() as extra:
                [(status, _h, body)] = responses(read_until_closed(extra))
            assert status == 503 and b"too many connections" in body
        finally:
            for s in held:
                s.close()


@pytest.mark.parametrize("size", [17_000, 60_000])
def test_a_complete_head_over_16_kib_in_one_read_is_refused(served: Served, size: int) -> None:
    """The cap holds for a head that arrives whole, not only for one still incomplete."""
    head = b"GET /a HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * size + b"\r\n\r\n"
    with served.connect() as s:
        try:
            s.sendall(head)
        except OSError:  # closed by the server while we still send: what we want
            pass
        got = responses(read_until_closed(s))
    [(status, headers, _body)] = got  # (h11 answers 400, httptools 431)
    assert status in (400, 431) and headers[b"connection"] == b"close"
