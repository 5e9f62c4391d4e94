"""``keyanchor serve --workers 2``: connections are spread over both worker processes.

asyncio accepts every queued connection when the shared listening socket wakes
it, so one worker used to take a whole burst of keep-alive connections and the
second one idled (2 workers: 0.9x one). The workers now accept one connection
at a time (``registry.gateways._server.accept_one_at_a_time``). The test opens
16 connections at once to a real ``serve --workers 2``, gets an answer on each,
and finds from /proc which process holds the server side of each connection.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from registry.gateways._server import accept_one_at_a_time
from tests.gateways.test_serve import index, serve  # noqa: F401  (index: a fixture)

CONNECTIONS = 16


def _server_sides(port: int) -> dict[int, int]:
    """client port -> socket inode of the server side of each established loopback connection."""
    out = {}
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], int(fields[9])
            if state == "01" and int(local.split(":")[1], 16) == port:
                out[int(remote.split(":")[1], 16)] = inode
    return out


def _holder(inodes: set[int]) -> dict[int, int]:
    """socket inode -> pid of the process holding it (among ``inodes``)."""
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:[") and int(target[8:-1]) in inodes:
                found[int(target[8:-1])] = int(pid)
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_two_workers_share_a_burst_of_connections(index: Path) -> None:  # noqa: F811
    with serve(index, "--workers", "2") as port, ExitStack() as stack:
        _wait_for_both_workers(port)
        conns = []
        for _ in range(CONNECTIONS):  # a burst: all connect before any request
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            stack.callback(s.close)
            conns.append(s)
        for s in conns:  # keep-alive requests: each answer proves a worker accepted it
            s.sendall(b"GET /v1/status HTTP/1.1\r\nHost: keys.example.org\r\n\r\n")
        for s in conns:
            assert s.recv(65536).startswith(b"HTTP/1.1 200 ")
        per_process = _holders_of(port, conns)
        assert sum(per_process.values()) == CONNECTIONS
        assert len(per_process) == 2, per_process  # both workers hold connections
        assert min(per_process.values()) >= 3, per_process


def _holders_of(port: int, conns: list[socket.socket]) -> Counter[int]:
    sides = _server_sides(port)
    return Counter(_holder({sides[s.getsockname()[1]] for s in conns}).values())


def _wait_for_both_workers(port: int) -> None:
    """Until a connection of each worker has been answered (``serve`` announces itself before
    its workers listen); then close them all and let the workers see them closed."""
    deadline = time.monotonic() + 30
    seen: set[int] = set()
    while len(seen) < 2:
        assert time.monotonic() < deadline, "the second worker never answered"
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET /v1/status HTTP/1.1\r\nHost: keys.example.org\r\n\r\n")
            assert s.recv(65536).startswith(b"HTTP/1.1 200 ")
            seen |= set(_holders_of(port, [s]))
        time.sleep(0.05)
    while any(True for _ in _server_sides(port)) and time.monotonic() < deadline:
        time.sleep(0.05)


def test_accept_one_at_a_time_patches_once() -> None:
    import asyncio.selector_events as se

    before = se.BaseSelectorEventLoop._accept_connection  # type: ignore[attr-defined]
    try:
        assert accept_one_at_a_time() is True
        patched = se.BaseSelectorEventLoop._accept_connection  # type: ignore[attr-defined]
        assert accept_one_at_a_time() is True
        assert se.BaseSelectorEventLoop._accept_connection is patched  # type: ignore[attr-defined]
    finally:
        se.BaseSelectorEventLoop._accept_connection = before  # type: ignore[attr-defined]


def test_workers_run_asyncios_own_loop_even_where_uvloop_is_installed(monkeypatch: Any) -> None:
    """Taking turns at accepting patches asyncio's selector loop; uvicorn's default ("auto")
    would pick uvloop wherever it is installed (``uvicorn[standard]``) and the connections
    would pile up on one worker again. The guarded protocol keeps the connection limits."""
    import uvicorn

    from registry.gateways._server import ServerLimits, http_protocol, run_server

    seen: list[Any] = []
    def run(self: Any, sockets: list[socket.socket]) -> None:
        seen.append(self.config)
        for s in sockets:
            s.close()

    monkeypatch.setattr(uvicorn.Server, "run", run)
    run_server(lambda *a: None, "127.0.0.1", 0, limits=ServerLimits())
    assert seen[0].loop == "asyncio" and seen[0].http is http_protocol()
