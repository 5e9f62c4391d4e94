"""How anvil's ``eth_getProof`` time grows with the storage of the account proven.

    python3 scripts/bench_anvil_proof.py [--sizes 0,250,500,1000,2000] [--runs 7]
    python3 scripts/bench_anvil_proof.py --sizes 20000 --keys 1,10,50,200 [--runs 7]

Starts anvil on a free loopback port, gives one account N storage slots
(``anvil_setStorageAt``), mines a block and times, at each N, ``eth_getProof``
for one slot of that account beside ``eth_getStorageAt`` of the same slot (the
floor: one round trip to the same node for the same value, unproven), medians
of ``--runs`` calls. It is the node's own time: nothing of keyanchor runs. A
proof-checked ``lookup()`` asks one ``eth_getProof`` of the registry contract,
whose storage holds a few slots per name, so a lookup against anvil cannot be
faster than this figure at the registry's size.

With ``--keys``, it also times, at each N, one ``eth_getProof`` asking for K
storage keys at once (K from the list), beside the single-key call of the same
run (the floor), and prints the per-key cost: anvil rebuilds the storage trie
once a call, so a batched lookup that proves many names' slots in one call
pays the rebuild once.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

ACCOUNT = "0x" + "11" * 20


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Node:
    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"

    def call(self, method: str, params: list[object]) -> object:
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
        req = urllib.request.Request(self.url, body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            reply = json.load(resp)
        if "error" in reply:
            raise SystemExit(f"bench_anvil_proof: {method}: {reply['error']}")
        return reply["result"]

    def timed(self, method: str, params: list[object], runs: int) -> float:
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            self.call(method, params)
            times.append(time.perf_counter() - t0)
        return statistics.median(times)


def _print_keys(node: Node, n: int, keys: list[int], runs: int) -> None:
    """One eth_getProof with k keys (slots 1..k, all set when k <= n) beside the single-key call."""
    print(f"  {n} slots: {'keys':>5} {'eth_getProof':>14} {'1-key call (floor)':>20} {'ratio':>7} {'per key':>10}")
    one = [f"0x{1:064x}"]
    for k in keys:
        many = [f"0x{i + 1:064x}" for i in range(k)]
        # alternate the two calls so both see the same machine load
        t_many, t_one = [], []
        for _ in range(runs):
            t_many.append(node.timed("eth_getProof", [ACCOUNT, many, "latest"], 1))
            t_one.append(node.timed("eth_getProof", [ACCOUNT, one, "latest"], 1))
        m, o = statistics.median(t_many), statistics.median(t_one)
        print(f"  {n} slots: {k:>5} {m * 1e3:>11.1f} ms {o * 1e3:>17.1f} ms {m / o:>6.2f}× "
              f"{m / k * 1e3:>7.2f} ms")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="0,250,500,1000,2000", help="storage slots, comma-separated")
    ap.add_argument("--runs", type=int, default=7, help="calls per figure (median)")
    ap.add_argument("--keys", default="", help="storage keys per eth_getProof call, comma-separated "
                    "(e.g. 1,10,50,200): time one call with that many keys beside the single-key call")
    args = ap.parse_args()
    try:
        sizes = sorted({int(s) for s in args.sizes.split(",")})
        keys = sorted({int(k) for k in args.keys.split(",")}) if args.keys else []
    except ValueError:
        print("bench_anvil_proof: --sizes and --keys take integers, e.g. 0,500,1000", file=sys.stderr)
        return 2
    if sizes[0] < 0 or args.runs < 1 or (keys and keys[0] < 1):
        print("bench_anvil_proof: sizes must be >= 0, --keys >= 1 and --runs >= 1", file=sys.stderr)
        return 2
    anvil = shutil.which("anvil")
    if anvil is None:
        print("bench_anvil_proof: no anvil on PATH (npm install -g @foundry-rs/anvil)", file=sys.stderr)
        return 2
    port = _free_port()
    proc = subprocess.Popen([anvil, "--host", "127.0.0.1", "--port", str(port), "--silent"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # npm's anvil is a node wrapper: stop its group
    node = Node(port)
    try:
        for _ in range(100):
            try:
                node.call("eth_chainId", [])
                break
            except OSError:
                time.sleep(0.1)
        print(f"anvil: {subprocess.run([anvil, '--version'], capture_output=True, text=True).stdout.splitlines()[0]}")
        print(f"{'slots':>7} {'eth_getProof':>14} {'eth_getStorageAt (floor)':>26} {'ratio':>8}")
        filled = 0
        slot = f"0x{1:064x}"
        for n in sizes:
            for i in range(filled, n):
                node.call("anvil_setStorageAt", [ACCOUNT, f"0x{i + 1:064x}", f"0x{i + 7:064x}"])
            filled = max(filled, n)
            node.call("evm_mine", [])
            proof = node.timed("eth_getProof", [ACCOUNT, [slot], "latest"], args.runs)
            floor = node.timed("eth_getStorageAt", [ACCOUNT, slot, "latest"], args.runs)
            print(f"{n:>7} {proof * 1e3:>11.1f} ms {floor * 1e3:>23.2f} ms {proof / floor:>7.1f}×")
            if keys:
                _print_keys(node, n, keys, args.runs)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
