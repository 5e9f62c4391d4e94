#!/usr/bin/env python3
"""Benchmark the proof-checked read path: sync events/s and peak memory, lookups/s, quorum.

    python3 scripts/bench_trust.py                      # 5,000 names (10,001 events), 3 runs
    python3 scripts/bench_trust.py --names 20000 --runs 5 --seconds 5

Starts anvil on a free loopback port (killed on exit) and fills it with
``--names`` assign + publish transactions (JSON-RPC batches, one block per
1,000). Then, each figure beside a floor measured in the same run (medians of
``--runs``):

1. Sync: a fresh, proof-checked ``sync_index`` (every page's logs folded into
   the event digest proven by EIP-1186 at the page's last block, headers
   re-hashed, policy verdicts; a page's key verdicts computed by a worker
   process while the page is stored) in a child process, with its peak RSS and
   its worker's, and the CPU of both; beside the
   floor, a child that only fetches the same logs with ``eth_getLogs`` and
   parses the JSON (the endpoint's and the wire's share), and a child that
   only imports the same modules (the interpreter's memory floor). Run again
   without the policy check.
2. Lookups: proof-checked ``Registry.lookup()`` (trusted head, one
   ``eth_getLogs``, one ``eth_getProof``, proof verification, material
   re-hashed) against one endpoint and against a quorum of three (2 of 3
   must agree on every head); the floor is the unproven view it replaced, one
   ``records()`` ``eth_call``. The three quorum endpoints are three URLs of the
   same anvil: the figure is keyanchor's cost of asking and comparing three,
   not the network's.
3. Lookup throughput (``--throughput-only`` runs just this after filling
   anvil): distinct names, nothing proven before, as sequential ``lookup()``
   calls, as ``lookup_many()`` batches, and as ``lookup()`` calls from several
   threads (which share proof requests), one endpoint and quorum 2 of 3; the
   floor of each is the time its own ``eth_getProof`` calls took (the rate it
   would reach if nothing else cost), and anvil's ``eth_getProof`` of one
   name and of a batch, timed directly in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
#: a child run of --baseline imports the other checkout's registry
sys.path.insert(0, os.environ.get("BENCH_TRUST_ROOT") or str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from bench_index import blob, call, rpc  # noqa: E402

# bench_index puts its own checkout first on sys.path: put the measured one (a --baseline
# child's) back in front, or every child would import this checkout's registry
sys.path.insert(0, os.environ.get("BENCH_TRUST_ROOT") or str(REPO))


def start_anvil() -> tuple[subprocess.Popen[bytes], str]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(["anvil", "--port", str(port), "--host", "127.0.0.1", "--silent",
                             "--gas-limit", "3000000000", "--code-size-limit", "100000"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            call(url, "eth_chainId", [])
            return proc, url
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("anvil did not start")


def populate(url: str, names: int) -> tuple[str, int]:
    """Deploy and fill: (registry address, deployment block)."""
    import eth_abi

    from registry.chain.client import load_contract
    from registry.names import namehash
    from registry.psl import suffix_tree

    c = load_contract()
    me = call(url, "eth_accounts", [])[0]  # type: ignore[index]
    init = c.bytecode + eth_abi.encode(["bytes32", "bool", "address"],
                                       [suffix_tree().root, False, me])
    tx = call(url, "eth_sendTransaction", [{"from": me, "data": "0x" + init.hex(),
                                             "gas": hex(10_000_000)}])
    receipt: Any = None
    for _ in range(200):
        receipt = call(url, "eth_getTransactionReceipt", [tx])
        if receipt:
            break
        time.sleep(0.05)
    address, start = receipt["contractAddress"], int(receipt["blockNumber"], 16)
    call(url, "evm_setAutomine", [False])
    org = bytes(namehash("bench.org"))
    txs = [c.fn("register").encode(["bench.org", suffix_tree().prove("bench.org").as_abi()])]
    txs += [c.fn("assign").encode([org, f"u{i}", True, me]) for i in range(names)]
    txs += [c.fn("publish").encode([bytes(namehash(f"u{i}@bench.org")), 1, 1, 0, 0, blob(i), b"",
                                    False]) for i in range(names)]
    nonce = int(call(url, "eth_getTransactionCount", [me, "pending"]), 16)  # type: ignore[arg-type]
    for lo in range(0, len(txs), 1000):
        batch = [{"jsonrpc": "2.0", "id": j, "method": "eth_sendTransaction",
                  "params": [{"from": me, "to": address, "data": "0x" + d.hex(),
                              "gas": hex(400_000), "nonce": hex(nonce + lo + j)}]}
                 for j, d in enumerate(txs[lo:lo + 1000])]
        for r in rpc(url, batch):  # type: ignore[union-attr]
            assert "error" not in r, r
        call(url, "evm_mine", [])
    while int(call(url, "txpool_status", [])["pending"], 16):  # type: ignore[index]
        call(url, "evm_mine", [])
    call(url, "evm_setAutomine", [True])
    return address, start


# --------------------------------------------------------------------------- children


def child(kind: str, url: str, address: str, start: int, out: str) -> None:
    """One measured run in this (fresh) process; prints JSON with seconds, CPU seconds,
    events, peak RSS."""
    def cpu() -> float:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        return ru.ru_utime + ru.ru_stime

    cpu0 = cpu()
    worker_peak = [0.0]  # MB
    if kind == "imports":
        from web3 import Web3

        import registry.chain.client
        import registry.index

        seconds, events = 0.0, 0
    elif kind == "getlogs":
        import registry.chain.client
        import registry.index

        t0, cpu0 = time.perf_counter(), cpu()
        head = int(call(url, "eth_blockNumber", []), 16)  # type: ignore[arg-type]
        events = 0
        for lo in range(start, head + 1, 2000):
            logs: Any = call(url, "eth_getLogs", [{"address": address, "fromBlock": hex(lo),
                                                   "toBlock": hex(min(head, lo + 1999))}])
            events += len(logs)
        seconds = time.perf_counter() - t0
    else:
        from web3 import HTTPProvider, Web3

        from registry.index import sync_index

        try:  # the verdict worker's own peak RSS, read from /proc as the sync closes it
            from registry.index import _verdicts

            plain_close = _verdicts.VerdictPool.close

            def close(self: Any, **kw: Any) -> None:
                try:
                    with open(f"/proc/{self._proc.pid}/status") as f:
                        for line in f:
                            if line.startswith("VmHWM:"):
                                worker_peak[0] = max(worker_peak[0], int(line.split()[1]) / 1024)
                except (OSError, ValueError):
                    pass
                plain_close(self, **kw)

            _verdicts.VerdictPool.close = close  # type: ignore[method-assign]
        except ImportError:  # a baseline without a worker
            pass

        w3 = Web3(HTTPProvider(url))  # one endpoint, trusted alone, at its latest block
        t0, cpu0 = time.perf_counter(), cpu()
        res = sync_index(out, (w3, address, start),
                         policy_profile=None if kind.endswith("nopolicy") else "default")
        seconds, events = time.perf_counter() - t0, res.events
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)  # the sync's verdict worker's CPU
    import registry

    print(json.dumps({"seconds": seconds, "cpu": cpu() - cpu0, "events": events,
                      "rss_mb": rss_mb, "worker_cpu": kids.ru_utime + kids.ru_stime,
                      "worker_rss_mb": worker_peak[0],
                      "root": str(Path(registry.__file__).resolve().parents[1])}))


def run_child(kind: str, url: str, address: str, start: int, out: Path,
              root: Path = REPO) -> dict[str, float]:
    if out.exists():
        out.unlink()
    proc = subprocess.run([sys.executable, __file__, "--child", kind, url, address, str(start),
                           str(out)], capture_output=True, text=True, timeout=3600,
                          env={**os.environ, "PYTHONPATH": str(root),
                               "BENCH_TRUST_ROOT": str(root)})
    if proc.returncode != 0:
        raise SystemExit(f"{kind} run failed: {proc.stderr.strip()[-2000:]}")
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    got = Path(out.pop("root"))
    if got != root.resolve():  # the checkout asked for, not another one
        raise SystemExit(f"{kind} run of {root} imported the registry of {got}")
    return out


def rate(fn: Any, seconds: float) -> float:
    fn()  # warm up
    count, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()
        count += 1
    return count / (time.perf_counter() - t0)


# --------------------------------------------------------------------------- lookup throughput


def _cold(reg: Any) -> None:
    """Forget every proven value and parsed key: the next lookups prove everything again."""
    from registry.chain import _verified

    reg._proven = None
    _verified._keys.clear()


def bench_lookup_throughput(url: str, address: str, start: int, args: Any) -> None:
    """Sequential, batched (lookup_many) and concurrent proof-checked lookups of distinct
    names, one endpoint and quorum 2 of 3, each beside anvil's own eth_getProof time for
    the same calls in the same run (medians of ``args.runs``)."""
    import threading

    from registry.chain import _rpc, layout
    from registry.chain._proven import MAX_NAMES
    from registry.chain.client import Registry
    from registry.chain.stateproof import slot_key
    from registry.keys import KeyType, commitment
    from registry.names import namehash

    names = [f"u{i}@bench.org" for i in range(args.names)]
    batch = min(args.batch or MAX_NAMES, len(names))

    def keys(idx: range) -> list[str]:
        out = []
        for i in idx:
            node = bytes(namehash(names[i]))
            c = commitment(KeyType.SSH, blob(i))
            out += [slot_key(layout.name_slot(node)), slot_key(layout.record_slot(node, c))]
        return out

    def raw_proof(idx: range, reps: int = 5) -> float:
        """Median seconds of anvil's eth_getProof for these names' slots (no keyanchor)."""
        ks = keys(idx)
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            call(url, "eth_getProof", [address, ks, "latest"])
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    # every eth_getProof a lookup makes, timed: the rate it would reach if only they cost
    proof_wait = [0.0, 0]
    plain_call = _rpc.Rpc.call
    wait_lock = threading.Lock()

    def timed(self: Any, method: str, params: list[Any]) -> Any:
        if method != "eth_getProof":
            return plain_call(self, method, params)
        t0 = time.perf_counter()
        try:
            return plain_call(self, method, params)
        finally:
            with wait_lock:
                proof_wait[0] += time.perf_counter() - t0
                proof_wait[1] += 1

    regs = {"one endpoint": (Registry.connect(url, registry_address=address, from_block=start),
                             200),
            "quorum 2 of 3": (Registry.connect([url, url + "/", url + "//"], quorum=2,
                                               registry_address=address, from_block=start), 100)}
    for reg, _target in regs.values():  # the figures are of the same answers
        sample = names[:3] + names[-2:]
        assert reg.lookup_many(sample) == {n: reg.lookup(n) for n in sample}
        assert all(len(v) == 1 for v in reg.lookup_many(sample).values())

    def measure(reg: Any, kind: str, threads: int) -> tuple[float, float, float]:
        """(lookups/s, floor lookups/s from the eth_getProof wait, names a proof request)."""
        _cold(reg)
        nxt = [0]
        lock = threading.Lock()
        deadline = time.perf_counter() + args.seconds

        def take(n: int) -> range | None:
            with lock:
                if nxt[0] >= len(names) or time.perf_counter() >= deadline:
                    return None
                lo = nxt[0]
                nxt[0] = min(lo + n, len(names))
                return range(lo, nxt[0])

        def worker() -> None:
            while (idx := take(batch if kind == "batched" else 1)) is not None:
                if kind == "batched":
                    assert len(reg.lookup_many([names[i] for i in idx])) == len(idx)
                else:
                    (_rec,) = reg.lookup(names[idx[0]])

        proof_wait[0], proof_wait[1] = 0.0, 0
        t0 = time.perf_counter()
        if threads == 1:
            worker()
        else:
            pool = [threading.Thread(target=worker) for _ in range(threads)]
            for t in pool:
                t.start()
            for t in pool:
                t.join()
        elapsed = time.perf_counter() - t0
        done = nxt[0]
        return done / elapsed, done / proof_wait[0], done / max(proof_wait[1], 1)

    kinds = [("sequential lookup()", "single", 1), (f"lookup_many({batch} names)", "batched", 1)]
    kinds += [(f"lookup() from {t} threads", "threads", t) for t in args.threads]
    results: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    raw: dict[str, list[float]] = {"one": [], "batch": []}
    _rpc.Rpc.call = timed  # type: ignore[method-assign]
    try:
        for _ in range(args.runs):  # interleaved: load hits every kind alike
            raw["one"].append(raw_proof(range(7, 8)))
            raw["batch"].append(raw_proof(range(batch)))
            for label, (reg, _target) in regs.items():
                for title, kind, threads in kinds:
                    results.setdefault((label, title), []).append(measure(reg, kind, threads))
    finally:
        _rpc.Rpc.call = plain_call  # type: ignore[method-assign]
    one, many = statistics.median(raw["one"]), statistics.median(raw["batch"])
    print(f"lookup throughput, {args.names} names (distinct names, nothing proven before),"
          f" {args.seconds:g} s a figure, medians of {args.runs}; load"
          f" {os.getloadavg()[0]:.1f}")
    print(f"  anvil's own eth_getProof, same run: one name (2 slots) {one * 1e3:.1f} ms ="
          f" {1 / one:,.1f} names/s; {batch} names ({2 * batch} slots) {many * 1e3:.1f} ms ="
          f" {batch / many:,.1f} names/s ({many / one:.2f}x the one-name call)")
    for label, (_reg, target) in regs.items():
        for title, _kind, _threads in kinds:
            rs = results[(label, title)]
            r = statistics.median(x[0] for x in rs)
            floor = statistics.median(x[1] for x in rs)
            per = statistics.median(x[2] for x in rs)
            print(f"  {label}, {title}: {r:,.1f} names/s (target >= {target}); floor, its"
                  f" eth_getProof calls alone: {floor:,.1f} names/s -> {r / floor:.2f}x;"
                  f" {per:,.1f} names a proof request; runs: "
                  + ", ".join(f"{x[0]:,.0f}" for x in rs))


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6])
        return 0
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--names", type=int, default=5_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=3.0, help="time per lookup measurement")
    ap.add_argument("--baseline", type=Path, default=None,
                    help="another checkout (e.g. `git worktree add /tmp/base <commit>`) whose sync"
                         " is timed interleaved with this one's")
    ap.add_argument("--skip-lookups", action="store_true")
    ap.add_argument("--throughput-only", action="store_true",
                    help="only the lookup throughput figures (sequential, batched, threads)")
    ap.add_argument("--batch", type=int, default=0, help="names a lookup_many() call (default:"
                    " the library's batch bound)")
    ap.add_argument("--threads", type=lambda v: [int(t) for t in v.split(",")], default=[8, 32],
                    help="concurrent lookup() threads, comma-separated (default 8,32)")
    args = ap.parse_args()
    print(f"machine: {platform.platform()}, {os.cpu_count()} cpus (shared),"
          f" Python {platform.python_version()}, load {os.getloadavg()[0]:.1f},"
          f" {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    proc, url = start_anvil()
    try:
        t0 = time.perf_counter()
        address, start = populate(url, args.names)
        print(f"anvil filled: {args.names} names, {2 * args.names + 1} events"
              f" ({time.perf_counter() - t0:.1f} s)")
        if args.throughput_only:
            bench_lookup_throughput(url, address, start, args)
            return 0
        with tempfile.TemporaryDirectory() as tmp:
            runs: dict[str, list[dict[str, float]]] = {}
            for _ in range(args.runs):  # interleaved, so load hits every kind alike
                for kind in ("sync", "sync-nopolicy", "getlogs", "imports"):
                    runs.setdefault(kind, []).append(
                        run_child(kind, url, address, start, Path(tmp) / f"{kind}.sqlite"))
                if args.baseline is not None:
                    for kind in ("sync", "sync-nopolicy"):
                        runs.setdefault("base-" + kind, []).append(run_child(
                            kind, url, address, start, Path(tmp) / f"base-{kind}.sqlite",
                            args.baseline))
            if args.baseline is not None:  # the same index, verdicts included, as the baseline's
                from registry.index import Store

                for kind in ("sync", "sync-nopolicy"):
                    with Store.open(Path(tmp) / f"{kind}.sqlite") as a, \
                            Store.open(Path(tmp) / f"base-{kind}.sqlite") as b:
                        same = a.digest() == b.digest()
                    print(f"{kind}: Store.digest() {'equals' if same else 'DIFFERS FROM'} the"
                          " baseline's")
                    if not same:
                        raise SystemExit(f"{kind}: the index differs from the baseline's")

        def med(kind: str, key: str) -> float:
            return statistics.median(r[key] for r in runs[kind])

        def eps(kind: str) -> float:
            return statistics.median(r["events"] / r["seconds"] for r in runs[kind])

        floor = eps("getlogs")
        print(f"load after the sync runs: {os.getloadavg()[0]:.1f} (1 min),"
              f" {os.getloadavg()[1]:.1f} (5 min)")
        print(f"sync, proof-checked, policy verdicts: {eps('sync'):,.0f} events/s"
              f" (target >= 5,000); without the policy check {eps('sync-nopolicy'):,.0f}/s")
        print(f"  floor, eth_getLogs of the same logs + JSON only: {floor:,.0f} events/s"
              f" -> sync is {eps('sync') / floor:.2f}x the floor")
        print(f"  CPU: sync {med('sync', 'cpu'):.2f} s of {med('sync', 'seconds'):.2f} s wall"
              f" ({1e6 * med('sync', 'cpu') / med('sync', 'events'):.0f} us/event) + its verdict"
              f" worker process {med('sync', 'worker_cpu'):.2f} s"
              f" ({1e6 * med('sync', 'worker_cpu') / med('sync', 'events'):.0f} us/event);"
              f" eth_getLogs child {med('getlogs', 'cpu'):.2f} s of"
              f" {med('getlogs', 'seconds'):.2f} s")
        print(f"  peak RSS: sync {med('sync', 'rss_mb'):.0f} MB + worker"
              f" {med('sync', 'worker_rss_mb'):.0f} MB = "
              f"{med('sync', 'rss_mb') + med('sync', 'worker_rss_mb'):.0f} MB (target <= 300 MB),"
              f" without policy {med('sync-nopolicy', 'rss_mb'):.0f} MB; floor, the same imports"
              f" alone {med('imports', 'rss_mb'):.0f} MB; eth_getLogs child"
              f" {med('getlogs', 'rss_mb'):.0f} MB")
        if args.baseline is not None:
            print(f"  baseline {args.baseline}: sync {eps('base-sync'):,.0f} events/s, without"
                  f" policy {eps('base-sync-nopolicy'):,.0f}/s, peak RSS"
                  f" {med('base-sync', 'rss_mb'):.0f} MB -> this / baseline"
                  f" {eps('sync') / eps('base-sync'):.2f}x; CPU"
                  f" {1e6 * med('base-sync', 'cpu') / med('base-sync', 'events'):.0f} us/event"
                  f" (+ worker {1e6 * med('base-sync', 'worker_cpu') / med('base-sync', 'events'):.0f})")
            print("  per run (this / baseline, interleaved): " + ", ".join(
                f"{a['events'] / a['seconds']:,.0f} / {b['events'] / b['seconds']:,.0f}"
                for a, b in zip(runs["sync"], runs["base-sync"], strict=True)))
        if args.skip_lookups:
            return 0

        from registry.chain.client import Registry

        single = Registry.connect(url, registry_address=address, from_block=start)
        three = Registry.connect([url, url + "/", url + "//"], quorum=2,
                                 registry_address=address, from_block=start)
        node = "u7@bench.org"
        (rec,) = single.lookup(node)
        assert [r.index for r in three.lookup(node)] == [0]
        view = single.contract.fn("records")
        from registry.names import namehash

        data = "0x" + view.encode([bytes(namehash(node)), [rec.commitment]]).hex()
        # the time each lookup waits for the endpoint (every JSON-RPC call it makes, timed):
        # the rate keyanchor would reach if its own work (hashing, proof checks) cost nothing
        from registry.chain import _rpc

        waited = [0.0]
        plain_call = _rpc.Rpc.call

        def timed(self: Any, method: str, params: list[Any]) -> Any:
            t0 = time.perf_counter()
            try:
                return plain_call(self, method, params)
            finally:
                waited[0] += time.perf_counter() - t0

        _rpc.Rpc.call = timed  # type: ignore[method-assign]
        from registry.chain import _verified

        def cold(reg: Any) -> None:
            """Nothing proven or parsed yet: the first lookup of a name at a new head."""
            reg._proven = None
            _verified._keys.clear()
            reg.lookup(node)

        measured: dict[str, list[float]] = {
            "view": [], "single": [], "quorum": [], "single-wait": [], "quorum-wait": [],
            "single-warm": [], "quorum-warm": []}
        for _ in range(args.runs):
            measured["view"].append(rate(lambda: single.w3.eth.call(
                {"to": single.w3.to_checksum_address(address), "data": data}),  # type: ignore[typeddict-item]
                args.seconds))
            for key, reg in (("single", single), ("quorum", three)):
                waited[0] = 0.0
                n0 = time.perf_counter()
                r = rate(lambda reg=reg: cold(reg), args.seconds)
                count = r * (time.perf_counter() - n0)
                measured[key].append(r)
                measured[key + "-wait"].append(count / waited[0] if waited[0] else 0.0)
                # the same name again at the same head: proven values re-used
                measured[key + "-warm"].append(rate(lambda reg=reg: reg.lookup(node), args.seconds))
        _rpc.Rpc.call = plain_call  # type: ignore[method-assign]
        view_rate = statistics.median(measured["view"])
        for label, key, target in (("one endpoint", "single", 200),
                                   ("quorum 2 of 3", "quorum", 100)):
            r = statistics.median(measured[key])
            node_rate = statistics.median(measured[key + "-wait"])
            print(f"lookup(), proof-checked, {label}: {r:,.1f}/s (target >= {target});"
                  f" floor, the endpoint's own time for the same calls: {node_rate:,.1f}/s"
                  f" -> {r / node_rate:.2f}x; one records() eth_call (the unproven view):"
                  f" {view_rate:,.0f}/s")
            print(f"lookup(), proof-checked, {label}, the same name again at the same head"
                  f" (proven values re-used): {statistics.median(measured[key + '-warm']):,.1f}/s")
        bench_lookup_throughput(url, address, start, args)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
