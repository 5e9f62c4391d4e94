"""Each answer leaves the gateway's server in one write: head and body together.

uvicorn writes a response's head and its body separately; with TCP_NODELAY
that was two ``send()`` calls and two TCP segments per answer. The gateway's
protocols (``registry.gateways._server.GuardedH11Protocol`` and the httptools
one) hand the socket the whole answer at once. Driven here, for each protocol,
with a recording transport: one write
per keep-alive answer, the very bytes uvicorn would send; a ``Connection:
close`` answer is written whole before the transport is closed; a dropped
connection writes nothing it held.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import uvicorn
from uvicorn.server import ServerState

from registry.gateways._server import GuardedH11Protocol, ServerLimits

PROTOCOLS = [GuardedH11Protocol]
try:
    from registry.gateways._httptools import GuardedHttpToolsProtocol
except ImportError:  # pragma: no cover - httptools is a dependency
    pass
else:
    PROTOCOLS.append(GuardedHttpToolsProtocol)
each_protocol = pytest.mark.parametrize("protocol", PROTOCOLS, ids=lambda p: p.__name__)

BODY = b"x" * 1500


async def _app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"),
                            (b"content-length", str(len(BODY)).encode())]})
    await send({"type": "http.response.body", "body": BODY})


class _Transport(asyncio.Transport):
    """Records writes; a connection from 127.0.0.1."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = self.aborted = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 40000), "sockname": ("127.0.0.1", 11371),
                "socket": None}.get(name, default)

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0


async def _exchange(protocol: type, requests: list[bytes]) -> _Transport:
    config = uvicorn.Config(_app, log_level="error", access_log=False, server_header=False,
                            lifespan="off")
    config.keyanchor_limits = ServerLimits()  # type: ignore[attr-defined]
    config.load()
    proto = protocol(config, ServerState(), {}, asyncio.get_running_loop())
    transport = _Transport()
    proto.connection_made(transport)
    for raw in requests:
        proto.data_received(raw)
        for _ in range(20):  # let the request's task run to the end of its answer
            await asyncio.sleep(0)
    proto.connection_lost(None)
    return transport


@each_protocol
def test_each_answer_is_one_write(protocol: type) -> None:
    req = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
    transport = asyncio.run(_exchange(protocol, [req, req, req]))
    assert len(transport.writes) == 3
    for w in transport.writes:
        head, _, body = w.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK\r\n") and body == BODY
        assert b"content-length: 1500" in head.lower()


@each_protocol
def test_a_closing_answer_is_written_whole_before_the_close(protocol: type) -> None:
    transport = asyncio.run(_exchange(protocol, [b"GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"]))
    assert len(transport.writes) == 1 and transport.writes[0].endswith(BODY)
    assert transport.closed


@each_protocol
def test_nothing_is_held_back_after_a_drop(protocol: type) -> None:
    async def run() -> _Transport:
        config = uvicorn.Config(_app, log_level="error", lifespan="off")
        config.keyanchor_limits = ServerLimits()  # type: ignore[attr-defined]
        config.load()
        proto = protocol(config, ServerState(), {}, asyncio.get_running_loop())
        transport = _Transport()
        proto.connection_made(transport)
        proto.transport.write(b"held")  # a write in progress ...
        proto.drop()  # ... when the connection is dropped (request deadline, eviction)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return transport

    transport = asyncio.run(run())
    assert transport.aborted and transport.writes == []
