"""Benchmark: SSH keys parsed, canonicalised and fingerprinted per second.

    python3 scripts/bench_keys_ssh.py --n 50000
    from scripts.bench_keys_ssh import bench_ssh; print(bench_ssh(20000))

Input is an authorized_keys text of ``n`` distinct Ed25519 lines (random
32-byte keys with comments), parsed in one call to ``load_ssh_public_keys``;
every key's material and fingerprint are read, as a publish or sync would.
"""

from __future__ import annotations

import argparse
import base64
import os
import platform
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `import registry` work
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

__all__ = ["bench_ssh", "ed25519_lines"]


def ed25519_lines(n: int) -> str:
    """Return an authorized_keys text with ``n`` random Ed25519 keys."""
    head = len(b"ssh-ed25519").to_bytes(4, "big") + b"ssh-ed25519" + (32).to_bytes(4, "big")
    lines = [
        f"ssh-ed25519 {base64.b64encode(head + os.urandom(32)).decode()} user{i}@example.org"
        for i in range(n)
    ]
    return "\n".join(lines) + "\n"


def bench_ssh(n: int = 20000, *, repeat: int = 3) -> float:
    """Parse + canonicalise + fingerprint ``n`` Ed25519 lines; return the best keys/s."""
    from registry.keys._ssh_text import load_ssh_public_keys

    # authorized_keys files of 5,000 lines each (the loaders refuse input over 1 MiB)
    chunks = [ed25519_lines(min(5000, n - i)).encode() for i in range(0, n, 5000)]
    best = 0.0
    for _ in range(repeat):
        start = time.perf_counter()
        count = total = 0
        for chunk in chunks:
            for key in load_ssh_public_keys(chunk):
                total += len(key.material) + len(key.fingerprint)
                count += 1
        elapsed = time.perf_counter() - start
        assert count == n and total > 0
        best = max(best, n / elapsed)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000, help="keys per run")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rate = bench_ssh(args.n, repeat=args.repeat)
    print(
        f"machine: {platform.machine()} {platform.processor() or ''} cpus={os.cpu_count()}"
        f" python={platform.python_version()}"
    )
    print(f"ssh ed25519 parse+canonicalise+fingerprint: {rate:,.0f} keys/s (n={args.n})")


if __name__ == "__main__":
    main()
