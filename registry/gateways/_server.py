"""Connection limits for the HTTP gateway under uvicorn: slow and idle clients cannot starve it.

    limits = ServerLimits(header_timeout=10, per_peer=64, max_connections=10_000)
    run_server(app, "127.0.0.1", 11371, limits=limits, announce=print)

uvicorn's own guard (``limit_concurrency``) counts *connections* and answers
503 to every request once the count is reached, so ~1,100 idle TCP
connections took a keyserver down. Here, instead:

* **request deadline** (``header_timeout``): a connection must deliver a
  complete request (head and body) within this many seconds of opening, or of
  its previous response; otherwise it is closed. Idle and slowloris
  (half-sent) connections cost nothing for long. Keep-alive idling after a
  response is uvicorn's ``timeout_keep_alive``.
* **per-peer limit** (``per_peer``): open connections per client address
  (IPv6 clients per /64, IPv4-mapped addresses as IPv4). The connection over
  the limit gets ``503`` with the reason and is closed. ``0`` turns it off
  (behind a reverse proxy every client shares the proxy's address).
* **global limit** (``max_connections``, capped below the process's open-file
  limit, which :func:`run_server` raises to its hard limit): when it is
  reached, the oldest connection still waiting for a request is closed to make
  room; only when every connection is busy with a request is the new one
  refused (503).

A half-closed connection (the client shut down its sending side) is closed
by the server. Limits are per process (``--workers N`` multiplies them).

Two protocols give these guarantees (:class:`_Guarded`): the httptools one
(:mod:`registry.gateways._httptools`, llhttp in C), which :func:`run_server`
uses when httptools imports, and :class:`GuardedH11Protocol` (pure Python h11)
otherwise (:func:`http_protocol`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import resource
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import Server

from registry.errors import ConfigError
from registry.gateways._tcp import set_nodelay

__all__ = ["GuardedH11Protocol", "ServerLimits", "accept_one_at_a_time", "freeze_startup_objects",
           "http_protocol", "raise_open_file_limit", "run_server"]

#: Open files kept free of connections (the index, logs, Python's own files).
FD_RESERVE = 64


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """Connection limits of one gateway process (see the module docstring)."""

    header_timeout: float = 10.0
    per_peer: int = 64
    max_connections: int = 10_000
    keep_alive: int = 5

    def __post_init__(self) -> None:
        if not (self.header_timeout > 0 and self.keep_alive > 0):  # also refuses NaN
            raise ConfigError("header timeout and keep-alive must be positive numbers of seconds")
        if self.per_peer < 0 or self.max_connections < 1:
            raise ConfigError("connection limits must be positive (per-peer 0 turns it off)")


def peer_key(peername: Any) -> str:
    """The address a per-peer limit counts: the IP, an IPv6 client's /64, IPv4-mapped as IPv4."""
    if not isinstance(peername, tuple) or not peername:
        return ""  # a Unix socket: one local peer
    try:
        ip = ipaddress.ip_address(str(peername[0]).split("%", 1)[0])
    except ValueError:
        return str(peername[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class _Guard:
    """Per-process bookkeeping shared by every connection of one server."""

    def __init__(self, limits: ServerLimits) -> None:
        self.limits = limits
        self.max_connections = min(limits.max_connections, _connection_budget())
        self.open: set[_Guarded] = set()
        self.peers: dict[str, int] = {}
        self.waiting: dict[_Guarded, None] = {}  # insertion order = oldest first

    def admit(self, peer: str) -> str | None:
        """None when a new connection from ``peer`` may open, else the reason to refuse it."""
        if self.limits.per_peer and self.peers.get(peer, 0) >= self.limits.per_peer:
            return "too many connections from your address; close some and retry"
        if len(self.open) >= self.max_connections:
            victim = next(iter(self.waiting), None)
            if victim is None:
                return "the server is at its connection limit; retry shortly"
            victim.drop()
        return None

    def add(self, proto: _Guarded, peer: str) -> None:
        self.open.add(proto)
        self.peers[peer] = self.peers.get(peer, 0) + 1

    def remove(self, proto: _Guarded, peer: str) -> None:
        if proto not in self.open:
            return
        self.open.discard(proto)
        self.waiting.pop(proto, None)
        left = self.peers.get(peer, 1) - 1
        if left:
            self.peers[peer] = left
        else:
            self.peers.pop(peer, None)


def _connection_budget() -> int:
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 1 << 20
    return max(16, soft - FD_RESERVE)


def _guard_for(config: Any) -> _Guard:
    guard = getattr(config, "_keyanchor_guard", None)
    if guard is None:
        limits = getattr(config, "keyanchor_limits", None) or ServerLimits()
        guard = _Guard(limits)
        config._keyanchor_guard = guard
    return guard


def _refusal(reason: str) -> bytes:
    body = (reason + "\n").encode()
    return (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
            b"Retry-After: 5\r\nConnection: close\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\n\r\n" + body)


#: Bytes a connection holds back before it writes them anyway (a streamed body's chunks).
COALESCE_MAX = 64 * 1024


class _CoalescingTransport:
    """A transport that hands what is written to it to the real one in one piece: at the end
    of a response (:meth:`flush`, called by the protocol), or at the latest on the event loop's
    next turn, or once :data:`COALESCE_MAX` bytes are held.

    uvicorn writes a response's head and its body separately; with ``TCP_NODELAY``
    each write was its own ``send()`` system call and its own TCP segment, and
    the client woke up twice per answer. Now it is one call, one segment: the
    same bytes on the wire, in the same order. ``close()`` writes what is held
    first; ``abort()`` drops it (as the real transport drops its buffer).
    """

    __slots__ = ("_held", "_loop", "_size", "_transport")

    def __init__(self, transport: Any, loop: Any) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] | None = None
        self._size = 0

    def write(self, data: bytes) -> None:
        if not data:
            return
        held = self._held
        if held is None:
            self._held = [data]
            self._size = len(data)
            self._loop.call_soon(self.flush)
        else:
            held.append(data)
            self._size += len(data)
        if self._size >= COALESCE_MAX:
            self.flush()

    def flush(self) -> None:
        """Write what is held to the real transport (nothing once it is closing)."""
        held = self._held
        if held is None:
            return
        self._held = None
        if not self._transport.is_closing():
            self._transport.write(held[0] if len(held) == 1 else b"".join(held))

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._held = None
        self._transport.abort()

    def is_closing(self) -> bool:
        return bool(self._transport.is_closing())

    def get_write_buffer_size(self) -> int:
        return int(self._transport.get_write_buffer_size()) + (self._size if self._held else 0)

    def __getattr__(self, name: str) -> Any:  # get_extra_info, pause_reading, ...
        return getattr(self._transport, name)


class _Guarded(asyncio.Protocol):
    """What both guarded protocols add to uvicorn's: admission (per-peer and global limits),
    the request deadline, TCP_NODELAY and one write per answer (:class:`_CoalescingTransport`).

    Mixed in before uvicorn's protocol class (``class P(_Guarded, H11Protocol)``).
    """

    transport: Any
    loop: Any

    def __init__(self, config: Any, server_state: Any, app_state: dict[str, Any],
                 _loop: Any = None) -> None:
        cast(Any, super()).__init__(config, server_state, app_state, _loop)
        self._guard = _guard_for(config)
        self._peer: str | None = None
        self._deadline: Any = None

    def connection_made(self, transport: Any) -> None:
        peer = peer_key(transport.get_extra_info("peername"))
        reason = self._guard.admit(peer)
        if reason is not None:
            self.transport = transport
            transport.write(_refusal(reason))
            transport.close()
            return
        self._peer = peer
        self._guard.add(self, peer)
        set_nodelay(transport)  # the response's head and body leave at once (registry.gateways._tcp)
        super().connection_made(transport)
        self.transport = _CoalescingTransport(transport, self.loop)  # ... in one segment
        self._await_request()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._peer is None:  # refused at connection_made: nothing of uvicorn's was set up
            return
        self._stop_waiting()
        self._guard.remove(self, self._peer)
        super().connection_lost(exc)

    def _flush(self) -> None:
        transport = self.transport
        if isinstance(transport, _CoalescingTransport):
            transport.flush()  # the whole answer, head and body, in one write

    # -- the request deadline

    def _await_request(self) -> None:
        self._stop_waiting()
        self._deadline = self.loop.call_later(self._guard.limits.header_timeout, self.drop)
        self._guard.waiting[self] = None

    def _stop_waiting(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._guard.waiting.pop(self, None)

    def drop(self) -> None:
        """Close a connection that did not send a request in time (or is evicted to make room)."""
        self._stop_waiting()
        if self._peer is not None:
            self._guard.remove(self, self._peer)
        if not self.transport.is_closing():
            self.transport.abort()


class _StrictConnection(h11.Connection):
    """h11, refusing a request with both Content-Length and Transfer-Encoding (h11 reads the
    chunked body and keeps the connection: the bytes a proxy trusting Content-Length took for
    the body would be a second request here, RFC 9112 section 6.3), and a head over the
    incomplete-event limit (16 KiB) that arrived whole in one read (h11 caps only a head still
    incomplete). uvicorn answers 400 and closes."""

    def next_event(self) -> Any:
        event = super().next_event()
        if type(event) is h11.Request:
            size = len(event.target) + sum(len(n) + len(v) + 4 for n, v in event.headers)
            if size > self._max_incomplete_event_size:  # h11 caps only a head still incomplete
                raise h11.RemoteProtocolError("request head too large")
            names = {name for name, _ in event.headers}  # (h11 gives them lower-cased)
            if b"content-length" in names and b"transfer-encoding" in names:
                raise h11.RemoteProtocolError("Content-Length with Transfer-Encoding")
        return event


class GuardedH11Protocol(_Guarded, H11Protocol):
    """uvicorn's h11 protocol with a request deadline and per-peer / global connection limits."""

    def __init__(self, config: Any, server_state: Any, app_state: dict[str, Any],
                 _loop: Any = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        size = config.h11_max_incomplete_event_size
        self.conn = _StrictConnection(h11.SERVER, 16 * 1024 if size is None else size)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._deadline is not None and self.conn.their_state not in (h11.IDLE, h11.SEND_BODY):
            self._stop_waiting()  # a complete request arrived (or the connection is ending)

    def on_response_complete(self) -> None:
        self._flush()
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._await_request()


#: Seconds a worker waits, per connection it already holds, before it accepts another one.
ACCEPT_DELAY_PER_CONNECTION = 0.0002
#: The longest such wait (seconds).
ACCEPT_DELAY_MAX = 0.002


def accept_one_at_a_time() -> bool:
    """Make this process's asyncio servers take turns with the other workers at accepting
    (for ``--workers N``: connections then spread over the processes); True once patched.

    asyncio accepts up to ``backlog`` queued connections whenever the shared
    listening socket becomes readable, so the first worker to wake took a whole
    burst of keep-alive connections and the others stayed idle (measured: 2
    workers served 0.9x one worker; one worker held 15 of 16 connections). Now
    a worker accepts one connection per wake-up, and one that already holds
    ``n`` connections first waits ``n`` x :data:`ACCEPT_DELAY_PER_CONNECTION`
    (at most :data:`ACCEPT_DELAY_MAX`), not watching the socket meanwhile: the
    worker holding fewer connections takes the next one. Only the selector
    event loop (the one uvicorn uses without uvloop) accepts this way; with
    another loop nothing changes (False).
    """
    from asyncio import selector_events

    cls: Any = selector_events.BaseSelectorEventLoop
    accept = getattr(cls, "_accept_connection", None)
    if accept is None:  # pragma: no cover - another asyncio
        return False
    if getattr(accept, "_keyanchor_one_at_a_time", False):
        return True

    def one_at_a_time(loop: Any, protocol_factory: Any, sock: Any, sslcontext: Any = None,
                      server: Any = None, backlog: int = 100, *rest: Any) -> None:
        held = int(getattr(server, "_active_count", 0) or 0)
        if not held:
            accept(loop, protocol_factory, sock, sslcontext, server, 1, *rest)
            return
        fd = sock.fileno()
        loop._remove_reader(fd)  # let an idler worker see the socket meanwhile

        def later() -> None:
            if sock.fileno() != fd or (server is not None and not server.is_serving()):
                return  # the server closed meanwhile
            accept(loop, protocol_factory, sock, sslcontext, server, 1, *rest)
            loop._add_reader(fd, loop._accept_connection, protocol_factory, sock, sslcontext,
                             server, backlog, *rest)

        loop.call_later(min(ACCEPT_DELAY_MAX, held * ACCEPT_DELAY_PER_CONNECTION), later)

    one_at_a_time._keyanchor_one_at_a_time = True  # type: ignore[attr-defined]
    cls._accept_connection = one_at_a_time
    return True


def freeze_startup_objects() -> None:
    """Collect once, then move every object the process holds now (modules, classes,
    functions: what start-up made) out of the garbage collector's view (``gc.freeze()``).

    Called by a serving process once its app is built, before it answers anything. A
    full collection must otherwise walk all of them while every connection waits:
    measured ~90-115 ms with the gateway's start-up objects against 6-12 ms once
    frozen (docs/BENCHMARKS.md). Frozen objects are still freed when nothing refers to
    them; only a reference cycle made at start-up would now stay (there are none to speak
    of: the collection just before freezing took them).
    """
    import gc

    gc.collect()
    gc.freeze()


def raise_open_file_limit(wanted: int) -> int:
    """Raise this process's soft RLIMIT_NOFILE towards ``wanted`` (up to the hard limit); return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or (soft >= wanted):
        return soft if soft != resource.RLIM_INFINITY else wanted
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        return soft
    return target


def _bind(host: str, port: int, backlog: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host, port), family=family, backlog=backlog)
    except OSError as exc:
        shown = f"[{host}]" if ":" in host else host
        raise ConfigError(f"cannot listen on {shown}:{port}: {exc.strerror or exc}") from exc
    sock.set_inheritable(True)
    return sock


class _FreezingServer(Server):
    """uvicorn's server, freezing the start-up objects once it listens (before any request)."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        freeze_startup_objects()


def http_protocol() -> type[asyncio.Protocol]:
    """The protocol class the gateway serves with: httptools' parser (C, about half the
    server's cost a request) under the same guards when it imports, else h11's (pure Python).

    Both give the guarantees of this module; the httptools one adds what h11 had built
    in (a 16 KiB head, 400 and close on anything llhttp refuses; see
    :mod:`registry.gateways._httptools`).
    """
    try:
        from registry.gateways._httptools import GuardedHttpToolsProtocol
    except ImportError:  # pragma: no cover - httptools is a dependency; h11 serves without it
        return GuardedH11Protocol
    return GuardedHttpToolsProtocol


def run_server(app: Any, host: str, port: int, *, limits: ServerLimits, workers: int = 1,
               log_level: str = "warning",
               announce: Callable[[socket.socket, int], None] | None = None) -> None:
    """Bind ``host:port``, call ``announce(socket, max_connections)``, then serve until interrupted.

    ``app`` is an ASGI app, or (for ``workers`` > 1) an import string of an app
    factory. Raises ConfigError when the address cannot be bound; nothing is
    announced then.
    """
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    budget = raise_open_file_limit(limits.max_connections + FD_RESERVE + 64)
    max_conn = min(limits.max_connections, max(16, budget - FD_RESERVE))
    config = uvicorn.Config(
        app, host=host, port=port, log_level=log_level, access_log=False, server_header=False,
        http=http_protocol(), ws="none", limit_concurrency=None, timeout_keep_alive=limits.keep_alive,
        backlog=4096, factory=workers > 1, workers=workers, lifespan="off",
        loop="asyncio",  # not uvloop where it is installed: workers take turns at accepting
    )                    # (accept_one_at_a_time) only on asyncio's own loop
    config.keyanchor_limits = limits  # type: ignore[attr-defined]  # read by the protocol (_Guarded)
    sock = _bind(host, port, config.backlog)
    if announce is not None:
        announce(sock, max_conn)
    if workers > 1:  # each worker freezes once its app is built (the app factory)
        Multiprocess(config, sockets=[sock]).run()
    else:
        _FreezingServer(config).run(sockets=[sock])
