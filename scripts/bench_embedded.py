#!/usr/bin/env python3
"""Benchmark the embedded chain: open time, publish throughput, eth_getLogs, eth_getProof.

    python3 scripts/bench_embedded.py --reuse      # build the chains once, reuse them after
    python3 scripts/bench_embedded.py --blocks 1000,10000 --runs 7 --publishes 60

Every figure is printed next to a floor measured in the same run and the
ratio, as medians of ``--runs`` runs:

- chain open (in process, after imports) at each size; floor: opening an
  empty SQLite file and reading one row. Also a cold process importing
  keyanchor and opening the chain, next to ``python3 -c pass``.
- publish throughput (``Registry.publish``, one block each, committed to the
  file); floor: py-evm applying the same signed transaction to the same state.
- ``eth_getLogs`` for one name's events over the whole chain at each size;
  floor: ``eth_getTransactionReceipt`` of one of them (the logs of one block).
- ``eth_getProof`` (account + 2 slots) at the largest size; floor:
  ``eth_getStorageAt`` of the same slots.

The chains (a registered domain, then per name one assignment and one SSH key
publish: two blocks) take a while to build; they are kept under the system's
temporary directory and reused with ``--reuse``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RECIPE = "2 blocks per name: assign h<i>.example.org, publish one ssh-ed25519 key"
PER_NAME = 3
"""Keys the publish benchmark puts under one name (a person's SSH, OpenPGP and X.509 key):
the client reads a name's records before publishing, and that read grows with them."""


def ssh_blob(seed: int) -> bytes:
    """An SSH ed25519 public key blob (RFC 4253 wire format), deterministic per seed."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    private = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"%d" % seed).digest())
    raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    def sstr(b: bytes) -> bytes:
        return len(b).to_bytes(4, "big") + b

    return sstr(b"ssh-ed25519") + sstr(raw)


def median_ms(fn: Callable[[], object], runs: int, batch: int = 1) -> float:
    fn()  # warm up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(batch):
            fn()
        times.append((time.perf_counter() - start) / batch)
    return statistics.median(times) * 1000


def line(what: str, value: float, floor: float, floor_what: str, unit: str = "ms",
         target: str = "") -> None:
    ratio = value / floor if floor else float("inf")
    extra = f"   target {target}" if target else ""
    print(f"  {what:<46} {value:9.2f} {unit}   floor {floor:8.3f} {unit} ({floor_what})"
          f"   ratio {ratio:7.1f}x{extra}")


# --------------------------------------------------------------------------- the chains


def cache_dir() -> Path:
    from registry.artifacts import load_artifact
    from registry.chain.embedded import _FORMAT

    bytecode = str(load_artifact("KeyRegistry").get("bytecode", ""))
    tag = hashlib.sha256(f"{_FORMAT}|{RECIPE}|{bytecode}".encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"keyanchor-bench-embedded-{tag}"


def grow(path: Path, blocks: int) -> None:
    """Grow the chain at ``path`` to at least ``blocks`` blocks (resumable)."""
    from registry.chain.client import Registry
    from registry.errors import NameTaken

    with Registry.embedded(path) as reg:
        head = reg.w3.eth.block_number
        if head < 2:
            reg.register("example.org")
            head = reg.w3.eth.block_number
        owner = reg.account.address
        i = max(0, (head - 2) // 2)
        start, last_report = time.perf_counter(), time.perf_counter()
        while head < blocks:
            name = f"h{i}.example.org"
            try:
                reg.assign(name, owner)
            except NameTaken:
                pass
            if not reg.records(name):
                reg.publish(name, ssh_blob(i), key_type="ssh", purposes="ssh-host")
            i += 1
            head = reg.w3.eth.block_number
            if time.perf_counter() - last_report > 30:
                rate = (head - 2) / (time.perf_counter() - start)
                print(f"    building: {head:,}/{blocks:,} blocks ({rate:.0f} blocks/s)", flush=True)
                last_report = time.perf_counter()


def _fold_wal(path: Path) -> None:
    """Fold the file's write-ahead log into it, so that it can be copied or renamed alone."""
    import sqlite3

    db = sqlite3.connect(path)
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.execute("PRAGMA journal_mode=DELETE")
    finally:
        db.close()


def chains(sizes: list[int], reuse: bool) -> dict[int, Path]:
    """One chain file per size, built (or reused) in the cache directory."""
    directory = cache_dir()
    directory.mkdir(exist_ok=True)
    out: dict[int, Path] = {}
    previous: Path | None = None
    for size in sorted(sizes):
        path = directory / f"chain-{size}.db"
        if not (reuse and path.exists()):
            work = directory / f"building-{size}.db"
            for stale in directory.glob(f"building-{size}.db*"):
                stale.unlink()
            path.unlink(missing_ok=True)
            if previous is not None:
                shutil.copyfile(previous, work)
            print(f"  building a {size:,}-block chain in {directory} ...", flush=True)
            started = time.perf_counter()
            grow(work, size)
            print(f"  built in {time.perf_counter() - started:.0f} s", flush=True)
            _fold_wal(work)
            os.replace(work, path)
            for lock in directory.glob("building-*.lock"):
                lock.unlink()
        out[size] = path
        previous = path
    return out


# --------------------------------------------------------------------------- measures


def bench_open(paths: dict[int, Path], runs: int) -> None:
    from registry.chain.embedded import EmbeddedChain

    print("chain open, in process after imports (EmbeddedChain.open + registry_address + close)")
    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp) / "empty.db"
        import sqlite3

        with sqlite3.connect(empty) as db:
            db.execute("CREATE TABLE t (k BLOB PRIMARY KEY)")
        db.close()

        def floor_open() -> None:
            conn = sqlite3.connect(empty)
            conn.execute("SELECT 1 FROM t LIMIT 1").fetchone()
            conn.close()

        floor = median_ms(floor_open, runs, batch=20)
    for size, path in paths.items():

        def open_chain(path: Path = path) -> None:
            chain = EmbeddedChain.open(path)
            chain.registry_address  # noqa: B018
            chain.close()

        value = median_ms(open_chain, runs, batch=5)
        line(f"at {size:,} blocks ({path.stat().st_size / 1e6:.1f} MB file)", value, floor,
             "empty SQLite file", target="<= 50 ms at 10,000 blocks")


def bench_cold(path: Path, runs: int) -> None:
    code = (
        "import sys\nfrom registry.chain.embedded import EmbeddedChain\n"
        "c = EmbeddedChain.open(sys.argv[1]); c.registry_address; c.close()"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def run(argv: list[str]) -> float:
        start = time.perf_counter()
        subprocess.run(argv, check=True, env=env, timeout=120, capture_output=True)
        return time.perf_counter() - start

    bare = statistics.median(run([sys.executable, "-c", "pass"]) for _ in range(runs)) * 1000
    cold = statistics.median(run([sys.executable, "-c", code, str(path)]) for _ in range(runs))
    print("cold process (for the CLI: imports py-evm)")
    line("import + open + close", cold * 1000, bare, "python3 -c pass")


def bench_publish(path: Path, count: int, runs: int) -> None:
    """Registry.publish on a copy of ``path``: tx/s, the RPC methods it costs, its floor."""
    from eth.vm.spoof import SpoofTransaction  # noqa: F401  (py-evm is loaded by the chain)

    from registry.chain.client import Registry

    print(f"publish (Registry.publish, one block each, committed to SQLite), {count} keys per run,"
          f" {PER_NAME} per name")
    rates: list[float] = []
    cpu: list[float] = []
    replayed = 0
    per_method: dict[str, float] = defaultdict(float)
    floors: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(runs):
            work = Path(tmp) / f"publish-{run}.db"
            shutil.copyfile(path, work)
            with Registry.embedded(work) as reg:
                names = [f"bench{run}-{k}.example.org" for k in range(-(-count // PER_NAME))]
                for name in names:
                    reg.assign(name, reg.account.address)
                chain = reg.w3.provider._chain  # type: ignore[attr-defined]
                node = chain._node
                original = node.call

                def timed(method: str, params: list[Any], original: Any = original) -> Any:
                    start = time.perf_counter()
                    try:
                        return original(method, params)
                    finally:
                        per_method[method] += time.perf_counter() - start

                node.call = timed
                before = getattr(node, "replayed", 0)
                start, cpu_start = time.perf_counter(), time.process_time()
                for k in range(count):
                    reg.publish(names[k // PER_NAME], ssh_blob(10**9 + run * 10**6 + k),
                                key_type="ssh", purposes="ssh-host")
                rates.append(count / (time.perf_counter() - start))
                cpu.append((time.process_time() - cpu_start) / count * 1000)
                replayed += getattr(node, "replayed", 0) - before
                node.call = original
                floors.append(_bare_apply_ms(node))
    tx_s = statistics.median(rates)
    floor = statistics.median(floors)
    floor_rate = 1000 / floor
    print(f"  {'publish throughput':<46} {tx_s:9.1f} tx/s ({1000 / tx_s:.1f} ms each)"
          f"   floor {floor_rate:8.1f} tx/s ({floor:.2f} ms: py-evm applies the same tx)"
          f"   ratio {floor_rate / tx_s:7.1f}x   target >= 40 tx/s")
    total = count * runs
    print(f"    {'CPU time of this process':<32} {statistics.median(cpu):7.2f} ms per publish"
          f" (median of the runs; the rest of the wall time is waiting: fsync, other processes)")
    print(f"    {'blocks that replayed the estimate':<32} {replayed} of {total}")
    for method, seconds in sorted(per_method.items(), key=lambda item: -item[1])[:5]:
        print(f"    {method:<32} {seconds / total * 1000:7.2f} ms per publish")


def _bare_apply_ms(node: Any) -> float:
    """py-evm applying the head block's (publish) transaction to its parent's state."""
    chain = node.chain
    head = chain.get_canonical_head()
    tx = chain.get_block_by_header(head).transactions[0]
    parent = chain.get_block_header_by_hash(head.parent_hash)
    vm = chain.get_vm(at_header=chain.create_header_from_parent(parent, timestamp=head.timestamp))
    state = vm.state

    def apply() -> None:
        snapshot = state.snapshot()
        try:
            computation = state.apply_transaction(tx)
            assert not computation.is_error
        finally:
            state.revert(snapshot)

    return median_ms(apply, 15, batch=3)  # the floor is short: more samples, a steadier median


def bench_logs(paths: dict[int, Path], runs: int) -> None:
    print("eth_getLogs, one name's events over the whole chain (fromBlock 0 to latest)")
    for size, path in paths.items():
        _logs_at(size, path, runs)


def _logs_at(size: int, path: Path, runs: int) -> None:
    from registry.chain.embedded import EmbeddedChain
    from registry.names import namehash

    with EmbeddedChain.open(path, write=False) as chain:
        registry = chain.registry_address
        middle = max(0, (chain.block_number - 2) // 4)
        node = "0x" + bytes(namehash(f"h{middle}.example.org")).hex()
        by_name = {"fromBlock": "0x0", "toBlock": "latest", "address": registry,
                   "topics": [None, node]}
        found = chain.request("eth_getLogs", [by_name])
        assert found, "the benchmark chain has no events for its name"
        receipt = [found[-1]["transactionHash"]]
        floor = median_ms(lambda: chain.request("eth_getTransactionReceipt", receipt),
                          runs, batch=50)
        value = median_ms(lambda: chain.request("eth_getLogs", [by_name]), runs, batch=20)
        line(f"at {size:,} blocks, [any, node]: {len(found)} logs", value, floor, "one receipt")
        published = [e for e in found if len(e["topics"]) > 2]
        if published:
            topics = published[0]["topics"]
            exact = {**by_name, "topics": [topics[0], node, topics[2]]}
            n = len(chain.request("eth_getLogs", [exact]))
            value = median_ms(lambda: chain.request("eth_getLogs", [exact]), runs, batch=20)
            line(f"at {size:,} blocks, [event, node, index 0]: {n} logs", value, floor,
                 "one receipt")


def bench_proof(path: Path, size: int, runs: int) -> None:
    from registry.chain.embedded import EmbeddedChain

    print(f"eth_getProof at {size:,} blocks (the registry account + 2 storage slots)")
    with EmbeddedChain.open(path, write=False) as chain:
        registry = chain.registry_address
        slots = ["0x0", "0x" + hashlib.sha256(b"slot").hexdigest()]
        proof = chain.request("eth_getProof", [registry, slots, "latest"])
        nodes = len(proof["accountProof"]) + sum(len(p["proof"]) for p in proof["storageProof"])

        def storage() -> None:
            for slot in slots:
                chain.request("eth_getStorageAt", [registry, slot, "latest"])

        floor = median_ms(storage, runs, batch=50)
        value = median_ms(lambda: chain.request("eth_getProof", [registry, slots, "latest"]),
                          runs, batch=50)
        line(f"latest ({nodes} proof nodes)", value, floor, "eth_getStorageAt x2")
        old = hex(size // 2)
        value = median_ms(lambda: chain.request("eth_getProof", [registry, slots, old]),
                          runs, batch=50)
        line(f"block {int(old, 16):,}", value, floor, "eth_getStorageAt x2 at latest")


def context() -> None:
    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "-"

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"machine: {platform.machine()} {platform.system()} {platform.release()}, "
        f"{os.cpu_count()} CPUs, load {load:.2f}, python {platform.python_version()}; "
        f"py-evm {version('py-evm')}, trie {version('trie')}, coincurve {version('coincurve')}"
    )


PARTS = ("open", "publish", "logs", "proof")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", default="1000,10000", help="chain sizes, comma-separated")
    parser.add_argument("--runs", type=int, default=7, help="runs per figure (median)")
    parser.add_argument("--publishes", type=int, default=60, help="keys published per run")
    parser.add_argument("--reuse", action="store_true", help="reuse chains built by a previous run")
    parser.add_argument("--only", action="append", choices=PARTS, help="run only these parts")
    args = parser.parse_args()
    parts = set(args.only or PARTS)
    sizes = sorted({int(n) for n in args.blocks.split(",")})
    context()
    print(f"chains: {RECIPE}")
    paths = chains(sizes, args.reuse)
    largest = paths[sizes[-1]]
    if "open" in parts:
        bench_open(paths, args.runs)
        bench_cold(largest, args.runs)
    if "publish" in parts:
        bench_publish(paths[sizes[0]], args.publishes, max(3, args.runs // 2))
    if "logs" in parts:
        bench_logs(paths, args.runs)
    if "proof" in parts:
        bench_proof(largest, sizes[-1], args.runs)


if __name__ == "__main__":
    main()
