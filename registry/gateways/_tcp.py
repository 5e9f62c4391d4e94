"""TCP_NODELAY on every gateway connection, whoever made the listening socket.

    uvicorn.run(app, http=NoDelayH11Protocol, workers=2, ...)

asyncio turns Nagle's algorithm off only on sockets whose ``proto`` is
``IPPROTO_TCP``; a listening socket made with ``socket.socket(AF_INET)`` (as
uvicorn does for ``--workers N``) has ``proto`` 0, and so have the connections
it accepts. The response head and body then go out as two small writes, the
second held back until the client acknowledges the first, which the client
delays by up to 40 ms: every keep-alive request took ~44 ms with two workers.
"""

from __future__ import annotations

import socket
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["NoDelayH11Protocol", "set_nodelay"]


def set_nodelay(transport: Any) -> None:
    """Send small writes at once on this connection (no-op for non-TCP transports)."""
    sock = transport.get_extra_info("socket")
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:  # pragma: no cover - a socket closed under us
        pass


class NoDelayH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with TCP_NODELAY set on each connection."""

    def connection_made(self, transport: Any) -> None:
        set_nodelay(transport)
        super().connection_made(transport)
