"""A normal client's latency while 5,000 idle / half-open connections hold the keyserver.

    python scripts/bench_gateway_flood.py            # keyanchor serve, then the old uvicorn set-up

Starts ``keyanchor serve`` (a child process, 1 worker) on 127.0.0.1 over a
small index (50 Sequoia-made certificates, built like ``bench_gateway.py``),
then, for each scenario, sends ``--requests`` sequential HKP ``op=get``
requests (a new connection each, from 127.0.0.2) and prints the median, p99
and worst latency (and the first request's apart: it waits behind the server
accepting the flood) and how many were answered 200:

* ``quiet``: nothing else connected (the floor, same run);
* ``5000 spread``: 2,500 idle and 2,500 half-sent requests from 100 loopback
  addresses (50 each: under the per-client limit, so the server holds them);
* ``5000 one peer``: 5,000 idle connections from 127.0.0.1 (the per-client
  limit refuses all but 64).

``--compare-old`` repeats the scenarios against the set-up keyanchor used before
(plain ``uvicorn.run`` with ``limit_concurrency=1024``), where every request
under a flood was a 503. Target (issue 10): worst latency <= 1 s, all 200.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

FLOOD = 5000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(cmd: list[str], port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    err = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=err, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    proc.wait()
    err.seek(0)
    raise SystemExit("the server did not start: " + err.read().decode(errors="replace")[-500:])


def _current(index: Path) -> bool:
    """Whether ``index`` exists and this checkout's reader opens it."""
    from registry.errors import Error
    from registry.index import IndexReader

    if not index.exists():
        return False
    try:
        IndexReader.open(index).close()
    except Error:
        return False
    return True


def _get(port: int, target: str, timeout: float = 10.0) -> tuple[int, float]:
    t = time.perf_counter()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                      source_address=("127.0.0.2", 0)) as s:
            s.sendall(f"GET {target} HTTP/1.1\r\nHost: k\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        status = int(data.split(b" ", 2)[1]) if data else 0
    except OSError:
        status = 0
    return status, time.perf_counter() - t


def _flood(stack: ExitStack, port: int, sources: list[str], partial_half: bool) -> None:
    for i in range(FLOOD):
        s = socket.socket()
        stack.callback(s.close)
        s.settimeout(10)
        s.bind((sources[i % len(sources)], 0))
        try:
            s.connect(("127.0.0.1", port))
            if partial_half and i % 2:
                s.sendall(b"GET / HTTP/1.1\r\nHost: k\r\n")
        except OSError:
            pass  # refused or reset by the server: that is its choice


def _measure(port: int, target: str, n: int) -> str:
    results = [_get(port, target) for _ in range(n)]
    first = results[0][1] * 1000
    times = sorted(t * 1000 for _, t in results)
    rest = max(t * 1000 for _, t in results[1:]) if n > 1 else first
    ok = sum(1 for s, _ in results if s == 200)
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    return (f"median {statistics.median(times):7.1f} ms  p99 {p99:7.1f} ms"
            f"  worst {times[-1]:7.1f} ms (first {first:7.1f}, worst of the rest {rest:7.1f})"
            f"  answered 200: {ok}/{n}")


def run(cmd: list[str], port: int, target: str, n: int, label: str) -> None:
    print(f"-- {label}")
    for scenario, sources, partial in (("quiet", None, False),
                                       ("5000 spread", [f"127.0.1.{i}" for i in range(1, 101)], True),
                                       ("5000 one peer", ["127.0.0.1"], False)):
        proc = _start(cmd, port)
        try:
            with ExitStack() as stack:
                if sources:
                    _flood(stack, port, sources, partial)
                    time.sleep(0.5)
                print(f"   {scenario:<14} {_measure(port, target, n)}")
        finally:
            proc.terminate()
            proc.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--compare-old", action="store_true")
    parser.add_argument("--workdir", type=Path,
                        default=Path(os.environ.get("TMPDIR", "/tmp")) / "keyanchor-bench")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 2 * FLOOD + 1024
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    from bench_gateway import build_index, sample_targets

    args.workdir.mkdir(parents=True, exist_ok=True)
    index = args.workdir / "flood-index.sqlite"
    if not _current(index):  # missing, or cached by a checkout with another index schema
        for stale in args.workdir.glob("flood-index.sqlite*"):
            stale.unlink()
        build_index(index, 50, 1)
    _name, fpr = sample_targets(index, 1)[0]
    target = f"/pks/lookup?op=get&options=mr&search=0x{fpr}"
    print(f"machine: {os.cpu_count()} cpus, {platform.machine()}, Python {platform.python_version()},"
          f" open-file limit {resource.getrlimit(resource.RLIMIT_NOFILE)[0]}")
    port = _free_port()
    # the staleness limit is off: the cached index may be older than an hour
    run([sys.executable, "-m", "cli.main", "serve", "--index", str(index), "--port", str(port),
         "--max-staleness", str(10**9)], port, target, args.requests,
        "keyanchor serve (request timeout 10 s, 64 per client, 10,000 per process)")
    if args.compare_old:
        code = ("import sys, uvicorn; from registry.gateways.http import create_app;"
                f"uvicorn.run(create_app({str(index)!r}), host='127.0.0.1', port={port},"
                " log_level='error', access_log=False, timeout_keep_alive=5,"
                " limit_concurrency=1024)")
        run([sys.executable, "-c", code], port, target, args.requests,
            "before: uvicorn.run(..., limit_concurrency=1024)")


if __name__ == "__main__":
    main()
