"""Benchmark of the key layer: keys/s per format and the import cost of registry.keys.

    python3 scripts/bench_keys.py            # figures recorded in docs/BENCHMARKS.md

Targets (2-core machine): >= 20,000 SSH keys/s, >= 2,000 X.509 certs/s,
>= 500 OpenPGP certs/s (parse + canonicalise + fingerprint), and
``import registry.keys`` <= 100 ms in a fresh process; every adversarial 1 MiB
input (``tests/keys/adversarial_inputs.py``) refused within 100 ms and 50 MB
(per-input lines from ``bench_keys_adversarial.py``; ``--no-adversarial`` skips them).
Issue 15's ratios: X.509 load >= 0.9x cryptography doing the same work,
OpenPGP load >= 0.6x pysequoia's ``Cert.from_bytes`` (floors measured in the same run).
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from bench_keys_openpgp import (  # noqa: E402
    bench_openpgp,
    sequoia_share,
)
from bench_keys_openpgp import compare as compare_openpgp  # noqa: E402
from bench_keys_openpgp import make_corpus as openpgp_corpus  # noqa: E402
from bench_keys_ssh import bench_ssh  # noqa: E402
from bench_keys_x509 import bench_x509  # noqa: E402
from bench_keys_x509 import compare as compare_x509  # noqa: E402
from bench_keys_x509 import make_corpus as x509_corpus  # noqa: E402


def import_ms(runs: int = 15) -> tuple[float, float]:
    """Median wall time of `import registry.keys` in fresh processes, and of bare `pass`."""
    code = "import time; t=time.perf_counter(); import registry.keys; print((time.perf_counter()-t)*1000)"
    env = dict(os.environ, PYTHONPATH=str(HERE.parent))
    times = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                  env=env, check=True).stdout) for _ in range(runs)]
    return statistics.median(times), max(times)


def floor_ratios(runs: int = 3) -> None:
    """Issue 15's rows: keyanchor's loaders against their floors, measured side by side."""
    m = compare_x509(2000, x509_corpus(), runs)
    print(f"X.509 load vs cryptography (parse, fingerprint, SPKI hash, identities, self-signature"
          f" check): {m['keyanchor']:,.0f} vs {m['lean']:,.0f} certs/s = {m['ratio_lean']:.2f}x"
          f" (target >= 0.9x; every field read: {m['ratio_full']:.2f}x)")
    corpus = openpgp_corpus(20)
    ours, floor, ratio = compare_openpgp(corpus, 2000, runs)
    print(f"OpenPGP load vs pysequoia Cert.from_bytes: {ours:,.0f} vs {floor:,.0f} certs/s"
          f" = {ratio:.2f}x (target >= 0.6x; Sequoia's part of the load alone:"
          f" {sequoia_share(corpus, 2000, runs):.2f}x)")
    print(f"(medians of {runs} runs, interleaved, CPU time of this process)")


def main() -> None:
    adversarial = "--no-adversarial" not in sys.argv[1:]
    print(f"machine: {os.cpu_count()} cpus, {platform.machine()}, Python {platform.python_version()}")
    ssh = bench_ssh(20000)
    x509 = bench_x509(5000)
    pgp = bench_openpgp(2000)
    floor_ratios()
    med, worst = import_ms()
    rows = [
        ("SSH ed25519 lines", f"{ssh:,.0f} keys/s", ">= 20,000"),
        ("X.509 certificates", f"{x509:,.0f} certs/s", ">= 2,000"),
        ("OpenPGP certificates", f"{pgp:,.0f} certs/s", ">= 500"),
        ("import registry.keys", f"{med:.1f} ms median ({worst:.1f} max)", "<= 100 ms"),
    ]
    width = max(len(r[0]) for r in rows)
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:>28}   target {target}")
    if adversarial:
        print("\nadversarial inputs: worst-case ms and peak MB per 1 MiB input")
        sys.stdout.flush()
        subprocess.run([sys.executable, str(HERE / "bench_keys_adversarial.py")], check=True,
                       env=dict(os.environ, PYTHONPATH=str(HERE.parent)))


if __name__ == "__main__":
    main()
