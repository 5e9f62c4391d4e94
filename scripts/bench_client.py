#!/usr/bin/env python3
"""Benchmark the chain client: lookups/s, pipelined publish throughput, CLI start-up.

    python scripts/bench_client.py            # anvil from PATH, embedded chain, keyanchor --help
    python scripts/bench_client.py --publishes 500 --seconds 5

Prints figures with the machine's context. Starts its own anvil on a free
loopback port (killed on exit) and an embedded chain in a temporary file.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from registry.chain.client import PublishRequest, Registry  # noqa: E402


def ssh_ed25519_blobs(count: int) -> list[bytes]:
    """Real SSH Ed25519 public key blobs (RFC 4253 wire format), parsed by the key layer."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    def sstr(b: bytes) -> bytes:
        return len(b).to_bytes(4, "big") + b

    out = []
    for _ in range(count):
        raw = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        out.append(sstr(b"ssh-ed25519") + sstr(raw))
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def anvil() -> Iterator[str]:
    exe = shutil.which("anvil")
    if exe is None:
        raise SystemExit("anvil is not installed (npm install -g @foundry-rs/anvil)")
    port = free_port()
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--host", "127.0.0.1", "--silent"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("anvil did not start") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def rate(fn: Callable[[], object], seconds: float) -> tuple[int, float]:
    fn()  # warm up
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        count += 1
    return count, time.perf_counter() - start


def publish_rate(reg: Registry, name: str, count: int) -> tuple[float, int]:
    reqs = [
        PublishRequest(name, blob, key_type="ssh", purposes="ssh-host")
        for blob in ssh_ed25519_blobs(count)
    ]
    start = time.perf_counter()
    results = reg.publish_many(reqs)
    elapsed = time.perf_counter() - start
    return elapsed, sum(r.gas_used for r in results) // len(results)


def bench_anvil(args: argparse.Namespace) -> None:
    from eth_account import Account

    with anvil() as url:
        account = Account.create()
        reg = Registry.connect(url, account=account)
        provider: Any = reg.w3.provider
        provider.make_request("anvil_setBalance", [account.address, hex(10**22)])
        reg.deploy()
        reg.register("example.org")
        for blob in ssh_ed25519_blobs(3):
            reg.publish("example.org", blob, key_type="ssh", purposes="ssh-host")
        reader = Registry.connect(url, registry_address=reg.address)
        n, t = rate(lambda: reader.records("example.org"), args.seconds)
        print(f"anvil  lookups/s, records() eth_call (1 round trip, 3 records): {n / t:8.0f}")
        n, t = rate(lambda: reader.lookup("example.org"), args.seconds)
        print(f"anvil  lookups/s, verified lookup() (eth_call + eth_getLogs + parse): {n / t:8.0f}")
        # publish: MAX_RECORDS per name, so spread the batch over names
        names = [f"h{i}.example.org" for i in range(-(-args.publishes // 30))]
        for pending in [reg.assign(n, account.address, wait=False) for n in names]:
            pending.wait()
        total_t, gas, done = 0.0, 0, 0
        for i, nm in enumerate(names):
            k = min(30, args.publishes - 30 * i)
            t, g = publish_rate(reg, nm, k)
            total_t, gas, done = total_t + t, gas + g * k, done + k
        print(
            f"anvil  publish tx/s, pipelined nonces ({done} txs, target >= 50): "
            f"{done / total_t:8.1f}   (avg gas {gas // done:,})"
        )


def bench_embedded(args: argparse.Namespace) -> None:
    try:
        import registry.chain.embedded  # noqa: F401
    except ImportError:
        print("embedded: registry.chain.embedded not available, skipped")
        return
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        with Registry.embedded(os.path.join(tmp, "chain.db")) as reg:
            opened = time.perf_counter() - start
            reg.register("example.org")
            count = min(args.publishes, 30)
            t, gas = publish_rate(reg, "example.org", count)
            print(f"embedded open + deploy: {opened * 1000:8.0f} ms")
            print(
                f"embedded publish tx/s ({count} txs, one block each, committed to SQLite): "
                f"{count / t:8.1f}   (avg gas {gas:,})"
            )
            n, t = rate(lambda: reg.lookup("example.org"), args.seconds)
            print(f"embedded lookups/s, verified lookup(): {n / t:8.0f}")


def bench_cli() -> None:
    exe = shutil.which("keyanchor")
    if exe is None:
        print("keyanchor --help: console script not installed, skipped (pip install -e .)")
        return
    times = []
    for _ in range(7):
        start = time.perf_counter()
        proc = subprocess.run([exe, "--help"], capture_output=True, timeout=60)
        times.append(time.perf_counter() - start)
        if proc.returncode != 0:
            print(
                f"keyanchor --help failed (exit {proc.returncode}): "
                f"{proc.stderr.decode(errors='replace')[:200]}"
            )
            return
    print(
        f"keyanchor --help start-up (target <= 300 ms): median {statistics.median(times) * 1000:.0f} ms,"
        f" min {min(times) * 1000:.0f} ms over {len(times)} runs"
    )


def context() -> None:
    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "-"

    anvil_v = "-"
    if shutil.which("anvil"):
        anvil_v = subprocess.run(
            ["anvil", "--version"], capture_output=True, text=True, timeout=30
        ).stdout.splitlines()[0]
    print(
        f"machine: {platform.machine()} {platform.system()} {platform.release()}, "
        f"{os.cpu_count()} CPUs, python {platform.python_version()}"
    )
    print(
        f"versions: web3 {version('web3')}, eth-account {version('eth-account')}, "
        f"py-evm {version('py-evm')}, eth-tester {version('eth-tester')}, {anvil_v}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per lookup benchmark")
    parser.add_argument("--publishes", type=int, default=300, help="publishes sent to anvil")
    parser.add_argument("--skip", action="append", default=[], choices=["anvil", "embedded", "cli"])
    args = parser.parse_args()
    context()
    if "anvil" not in args.skip:
        bench_anvil(args)
    if "embedded" not in args.skip:
        bench_embedded(args)
    if "cli" not in args.skip:
        bench_cli()


if __name__ == "__main__":
    main()
