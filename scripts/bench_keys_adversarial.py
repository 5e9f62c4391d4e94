"""Worst-case cost of the key loaders and proof parsers on adversarial 1 MiB inputs.

    python3 scripts/bench_keys_adversarial.py            # one line per input, then the worst
    python3 scripts/bench_keys_adversarial.py --only pem_begin_lines

Every input of ``tests/keys/adversarial_inputs.py`` goes through each entry
point a user reaches (``load_keys`` with detection and with each forced key
type; ``verify_proof`` for the proof inputs) in a fresh Python process, so
that peak memory is that input's own: ``peak MB`` is the growth of the
process's maximum resident set size (``ru_maxrss``, which sees Sequoia's Rust
allocations too) over its size after the imports and a warm-up. ``ms`` is the
median wall time of 3 runs of the slowest entry point. The floor printed
beside it is the same process parsing one ordinary key (ed25519 SSH line,
Sequoia-made OpenPGP certificate, ECDSA X.509 PEM) and reading 1 MiB of
bytes, measured in the same run.

Target (issue 10): every input <= 100 ms and <= 50 MB.
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
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: Valid keys repeated up to 1 MiB: linear work per key, reported beside the adversarial rows.
VALID_INPUTS = {"valid_ssh_lines": "ssh", "valid_openpgp_certs": "openpgp",
                "valid_x509_pem_certs": "x509"}

TARGET_MS = 100.0
TARGET_MB = 50.0


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _proof_keys() -> dict[str, tuple[Any, bytes]]:
    """One real key per type and a statement naming it (what verify_proof is given)."""
    import warnings

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    from registry.keys import commitment, load_key
    from registry.keys._common import sequoia
    from registry.proofs import statement

    pysequoia = sequoia()  # as the library imports it (Rust library backtraces off)

    ssh = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pgp = bytes(pysequoia.Tsk.generate("A <a@example.org>").extract_certificate())
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "a.example.org")])
    import datetime as dt

    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1).not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=90)).sign(key, hashes.SHA256()))
    out = {}
    for kind, data in (("ssh", ssh), ("openpgp", pgp),
                       ("x509", cert.public_bytes(serialization.Encoding.PEM))):
        k = load_key(data)
        stmt = statement(1, "0x" + "11" * 20, "a@example.org", "0x" + "22" * 20,
                         commitment(k.key_type, k.material))
        out[kind] = (k, stmt)
    return out


def _entry_points(name: str) -> list[tuple[str, Any]]:
    from registry.keys import load_keys
    from registry.proofs import verify_proof
    from tests.keys.adversarial_inputs import KEY_INPUTS, PROOF_INPUTS

    if name in VALID_INPUTS:
        text = _samples()[VALID_INPUTS[name]].rstrip("\n").encode() + b"\n"
        data = text * ((1 << 20) // len(text))
        return [("load_keys(detect)", lambda: load_keys(data))]
    if name in KEY_INPUTS:
        data = KEY_INPUTS[name]()
        return [(f"load_keys({kt or 'detect'})", lambda kt=kt: load_keys(data, key_type=kt))
                for kt in (None, "ssh", "openpgp", "x509")]
    kind, make = PROOF_INPUTS[name]
    key, stmt = _proof_keys()[kind]
    proof = make()
    return [("verify_proof", lambda: verify_proof(key, proof, stmt))]


def _one(name: str, runs: int) -> dict[str, Any]:
    """Measure one input in this (fresh) process."""
    from registry.errors import Error

    calls = _entry_points(name)
    from registry.keys import load_keys

    for text in _samples().values():  # warm every parser (and Sequoia) before the baseline
        load_keys(text)
    base = _rss_mb()
    worst_ms, worst_label, errors = 0.0, "", set()
    for label, fn in calls:
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            try:
                fn()
                errors.add("accepted")
            except Error as exc:
                errors.add(type(exc).__name__)
            times.append((time.perf_counter() - t) * 1000)
        ms = statistics.median(times)
        if ms > worst_ms:
            worst_ms, worst_label = ms, label
    return {"name": name, "ms": worst_ms, "entry": worst_label, "peak_mb": _rss_mb() - base,
            "outcome": ",".join(sorted(errors))}


def _samples() -> dict[str, str]:
    """One ordinary key of each type, as text."""
    from registry.keys import render_openpgp_armor, render_openssh, render_pem

    keys = _proof_keys()
    return {"ssh": render_openssh(keys["ssh"][0]),
            "openpgp": render_openpgp_armor(keys["openpgp"][0]),
            "x509": render_pem(keys["x509"][0])}


def _floor(runs: int) -> dict[str, float]:
    """Ordinary inputs through the same entry points, and reading 1 MiB, for comparison."""
    from registry.keys import load_keys

    out = {}
    for kind, text in _samples().items():
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            load_keys(text)
            times.append((time.perf_counter() - t) * 1000)
        out[kind] = statistics.median(times)
    blob = os.urandom(1 << 20)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        bytes(blob).count(b"\n")
        times.append((time.perf_counter() - t) * 1000)
    out["scan 1 MiB"] = statistics.median(times)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", help="measure only these inputs")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeout", type=int, default=120, help="seconds per input")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--floor", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(_one(args.one, args.runs)))
        return
    if args.floor:
        print(json.dumps(_floor(max(args.runs, 5))))
        return
    from tests.keys.adversarial_inputs import KEY_INPUTS, PROOF_INPUTS

    names = args.only or [*KEY_INPUTS, *PROOF_INPUTS, *VALID_INPUTS]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    me = [sys.executable, str(Path(__file__).resolve())]
    print(f"machine: {os.cpu_count()} cpus, {platform.machine()}, Python {platform.python_version()}")
    floor = json.loads(subprocess.run([*me, "--floor"], capture_output=True, text=True, env=env,
                                      check=True).stdout)
    print("floor (same machine, this run): " + ", ".join(
        f"{k} {v:.2f} ms" for k, v in floor.items()))
    print(f"{'input':<28} {'ms':>8} {'peak MB':>8}  {'x floor':>8}  slowest entry / outcome")
    rows = []
    for name in names:
        if name in VALID_INPUTS and not rows_header_done(rows):
            print("valid keys repeated to 1 MiB (linear work per key; not part of the target):")
            rows.append({"name": "--", "ms": 0.0, "peak_mb": 0.0, "valid": True})
        try:
            out = subprocess.run([*me, "--one", name, "--runs", str(args.runs)],
                                 capture_output=True, text=True, env=env, timeout=args.timeout)
        except subprocess.TimeoutExpired:
            print(f"{name:<28} {'>' + str(args.timeout) + ' s':>8}  (stopped)  OVER TARGET")
            rows.append({"name": name, "ms": float("inf"), "peak_mb": float("inf")})
            continue
        if out.returncode:
            print(f"{name:<28} crashed (exit {out.returncode}): {out.stderr.strip()[-200:]}")
            rows.append({"name": name, "ms": float("inf"), "peak_mb": float("inf")})
            continue
        row = json.loads(out.stdout)
        row["valid"] = name in VALID_INPUTS
        rows.append(row)
        ratio = row["ms"] / max(floor["scan 1 MiB"], 1e-3)
        over = not row["valid"] and (row["ms"] > TARGET_MS or row["peak_mb"] > TARGET_MB)
        print(f"{name:<28} {row['ms']:>8.1f} {row['peak_mb']:>8.1f}  {ratio:>8.0f}  "
              f"{row['entry']} / {row['outcome']}{'  OVER TARGET' if over else ''}")
    bad = [r for r in rows if not r.get("valid")]
    if bad:
        worst_ms = max(bad, key=lambda r: r["ms"])
        worst_mb = max(bad, key=lambda r: r["peak_mb"])
        print(f"worst time:   {worst_ms['ms']:.1f} ms ({worst_ms['name']}), target <= {TARGET_MS:.0f} ms")
        print(f"worst memory: {worst_mb['peak_mb']:.1f} MB ({worst_mb['name']}),"
              f" target <= {TARGET_MB:.0f} MB")


def rows_header_done(rows: list[dict[str, Any]]) -> bool:
    return any(r.get("name") == "--" for r in rows)


if __name__ == "__main__":
    main()
