"""Benchmark: X.509 certificates parsed + canonicalised + fingerprinted per second.

    python3 scripts/bench_keys_x509.py            # prints figures with the machine's context
    python3 scripts/bench_keys_x509.py --n 5000

Certificates (RSA-2048, ECDSA P-256 / P-384, Ed25519 leaves with SANs, key
usage, EKU and basic constraints, issued by an EC P-384 CA, plus the CA) are
made once with ``cryptography``; the timed loop runs
:func:`registry.keys.load_x509_certificate` on their PEM and DER encodings and
reads ``fingerprint``, ``spki_sha256`` and ``commitment``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

__all__ = ["bench_x509", "make_corpus"]


def make_corpus() -> list[bytes]:
    """Return PEM and DER encodings of a small mix of realistic certificates."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP384R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Bench Root CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                       critical=True)
        .sign(ca_key, hashes.SHA384())
    )
    leaves = [
        rsa.generate_private_key(65537, 2048),
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP384R1()),
        ed25519.Ed25519PrivateKey.generate(),
    ]
    certs = [ca]
    for i, key in enumerate(leaves):
        host = f"host{i}.example.org"
        certs.append(
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + dt.timedelta(days=90))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName(host), x509.DNSName("www." + host),
                x509.RFC822Name(f"admin@{host}"),
                x509.IPAddress(ipaddress.ip_address(f"192.0.2.{i + 1}")),
            ]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False,
                                         False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256())
        )
    out: list[bytes] = []
    for cert in certs:
        out.append(cert.public_bytes(serialization.Encoding.DER))
        out.append(cert.public_bytes(serialization.Encoding.PEM))
    return out


def bench_x509(n: int = 5000, corpus: list[bytes] | None = None) -> float:
    """Parse ``n`` certificates (cycling through the corpus); return certificates per second."""
    from registry.keys import load_x509_certificate

    corpus = corpus or make_corpus()
    for data in corpus:  # warm up lazy imports
        load_x509_certificate(data)
    start = time.perf_counter()
    for i in range(n):
        cert = load_x509_certificate(corpus[i % len(corpus)])
        _ = (cert.material, cert.fingerprint, cert.spki_sha256, cert.commitment)
    return n / (time.perf_counter() - start)


def _import_ms() -> float:
    import subprocess

    code = "import time; t=time.perf_counter(); import registry.keys; print(time.perf_counter()-t)"
    root = str(Path(__file__).resolve().parents[1])
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=root, env={**os.environ, "PYTHONPATH": root})
    return float(out.stdout) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="certificates per run")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    import cryptography

    corpus = make_corpus()
    print(f"python {platform.python_version()} on {platform.platform()}, "
          f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), "
          f"cryptography {cryptography.__version__}")
    print(f"corpus: {len(corpus)} encodings (5 certs x PEM/DER: EC P-384 CA, RSA-2048, "
          "P-256, P-384, Ed25519 leaves)")
    rates = [bench_x509(args.n, corpus) for _ in range(args.runs)]
    print(f"load_x509_certificate + fingerprint + spki + commitment: "
          f"best {max(rates):,.0f} certs/s, median {sorted(rates)[len(rates) // 2]:,.0f} certs/s "
          f"({args.runs} runs x {args.n})")
    print(f"import registry.keys in a fresh process: {_import_ms():.1f} ms")


if __name__ == "__main__":
    main()
