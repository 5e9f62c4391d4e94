#!/usr/bin/env python3
"""Keys per second through the default policy profile, per key type.

    python scripts/bench_policy.py [--seconds 3]

Targets (issue 5): >= 2,000 SSH keys/s, >= 300 X.509 certificates/s,
>= 300 OpenPGP certificates/s. Keys are parsed once; the figure is the policy
check alone (all default lints; pkilint is only in the cabf-tls profile and is
measured separately). Each key is a distinct object, so no per-key cache helps.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from registry.keys import KeyType, load_material
from registry.policy import check


def ssh_keys(n: int) -> list[Any]:
    out = []
    for i in range(n):
        k = ed25519.Ed25519PrivateKey.generate() if i % 2 else ec.generate_private_key(
            ec.SECP256R1())
        line = k.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                           serialization.PublicFormat.OpenSSH)
        import base64

        out.append(base64.b64decode(line.split()[1]))
    return out


def x509_certs(n: int) -> list[bytes]:
    now = datetime.now(UTC)
    ca = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Bench CA")])
    out = []
    for i in range(n):
        k = ec.generate_private_key(ec.SECP256R1())
        c = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(
            NameOID.COMMON_NAME, f"h{i}.example.org")])).issuer_name(name)
            .public_key(k.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=90))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(f"h{i}.example.org")]),
                           critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(ca, hashes.SHA256()))
        out.append(c.public_bytes(serialization.Encoding.DER))
    return out


def openpgp_certs(n: int) -> list[bytes]:
    import pysequoia

    out = []
    for i in range(n):
        tsk = pysequoia.Tsk.generate(f"User {i} <u{i}@example.org>")
        out.append(bytes(tsk.extract_certificate()))
    return out


def bench(label: str, kt: KeyType, materials: list[bytes], seconds: float,
          profile: str = "default") -> float:
    keys = [load_material(kt, m) for m in materials]
    check(keys[0], profile=profile)  # warm up (imports, pkilint validators)
    done = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for k in keys:
            report = check(k, profile=profile, name=None)
            if report.worst.value > 6:
                raise AssertionError
            done += 1
    rate = done / (time.perf_counter() - start)
    print(f"{label:<28} {rate:>10,.0f} keys/s   ({done} checks, {len(report.results)} lints)")
    return rate


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--keys", type=int, default=200)
    args = ap.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()} {platform.system()}, "
          f"{os.cpu_count()} cpus; one process, one core")
    bench("ssh (ed25519/ecdsa)", KeyType.SSH, ssh_keys(args.keys), args.seconds)
    bench("x509 (ECDSA P-256 leaf)", KeyType.X509, x509_certs(args.keys), args.seconds)
    bench("openpgp (sequoia default)", KeyType.OPENPGP, openpgp_certs(args.keys // 4),
          args.seconds)
    bench("x509 cabf-tls (+pkilint)", KeyType.X509, x509_certs(20), args.seconds,
          profile="cabf-tls")
    return 0


if __name__ == "__main__":
    sys.exit(main())
