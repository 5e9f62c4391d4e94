"""Benchmark: X.509 certificates parsed + canonicalised + fingerprinted per second.

    python3 scripts/bench_keys_x509.py            # prints figures with the machine's context
    python3 scripts/bench_keys_x509.py --n 5000

Certificates (RSA-2048, ECDSA P-256 / P-384, Ed25519 leaves with SANs, key
usage, EKU and basic constraints, issued by an EC P-384 CA, plus the CA) are
made once with ``cryptography``; the timed loop runs
:func:`registry.keys.load_x509_certificate` on their PEM and DER encodings and
reads ``fingerprint``, ``spki_sha256`` and ``commitment``.

The comparison the target is set against (issue 15: >= 0.9x) runs
:func:`floor_lean`, ``cryptography`` alone parsing, fingerprinting, hashing the
SPKI, reading the SAN identities and checking the self-signature, interleaved
with the loader on the same corpus, and prints the rates and the ratio as
medians of ``--runs`` runs; :func:`floor_load` (every field of the record read)
is printed beside it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import ipaddress
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

__all__ = ["bench_x509", "compare", "floor_lean", "floor_load", "make_corpus"]


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


# --------------------------------------------------------------------------- floor


def floor_load(data: bytes) -> tuple[object, ...]:
    """The floor: ``cryptography`` alone reading what an X509Certificate holds.

    PEM or DER parse, SHA-256 fingerprint, SHA-256 of the SubjectPublicKeyInfo,
    the SAN identities, subject and issuer (RFC 4514), serial, version, validity,
    key type and size (and RSA exponent), signature algorithm and hash, basic
    constraints, key usage, EKU, and the self-signature check
    (``verify_directly_issued_by``) when subject equals issuer: the same work
    as :func:`registry.keys.load_x509_certificate`, without its input screening
    (private keys, bundles, sizes) or error reporting.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    if data[:1] == b"0":
        cert = x509.load_der_x509_certificate(data)
    else:
        cert = x509.load_pem_x509_certificate(data)
    fingerprint = cert.fingerprint(hashes.SHA256()).hex().upper()
    key = cert.public_key()
    spki = hashlib.sha256(key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo))
    if isinstance(key, rsa.RSAPublicKey):
        size: tuple[int, int | None] = (key.key_size, key.public_numbers().e)
    elif isinstance(key, ec.EllipticCurvePublicKey):
        size = (key.curve.key_size, None)
    else:
        size = (256, None)
    identities: list[str] = []
    fields: list[object] = []
    for ext in cert.extensions:
        value = ext.value
        if isinstance(value, x509.SubjectAlternativeName):
            identities += [d.lower() for d in value.get_values_for_type(x509.DNSName)]
            identities += value.get_values_for_type(x509.RFC822Name)
            identities += [str(ip) for ip in value.get_values_for_type(x509.IPAddress)]
            fields += value.get_values_for_type(x509.UniformResourceIdentifier)
        elif isinstance(value, x509.BasicConstraints):
            fields += [value.ca, value.path_length]
        elif isinstance(value, x509.KeyUsage):
            fields += [value.digital_signature, value.key_cert_sign]
        elif isinstance(value, x509.ExtendedKeyUsage):
            fields += [oid.dotted_string for oid in value]
    subject, issuer = cert.subject, cert.issuer
    self_signed = False
    if subject == issuer:
        try:
            cert.verify_directly_issued_by(cert)
            self_signed = True
        except Exception:
            self_signed = False
    hash_alg = cert.signature_hash_algorithm
    return (fingerprint, spki.hexdigest(), identities, fields, size, self_signed,
            subject.rfc4514_string(), issuer.rfc4514_string(), cert.serial_number,
            cert.version.value, cert.not_valid_before_utc, cert.not_valid_after_utc,
            cert.public_key_algorithm_oid.dotted_string, cert.signature_algorithm_oid.dotted_string,
            hash_alg.name if hash_alg is not None else None)


def floor_lean(data: bytes) -> tuple[object, ...]:
    """The issue's floor: ``cryptography`` parsing, fingerprinting, hashing the SPKI,
    reading the SAN identities and checking the self-signature, and nothing else."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    if data[:1] == b"0":
        cert = x509.load_der_x509_certificate(data)
    else:
        cert = x509.load_pem_x509_certificate(data)
    fingerprint = cert.fingerprint(hashes.SHA256()).hex().upper()
    spki = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    identities: list[str] = []
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        pass
    else:
        identities += [d.lower() for d in san.get_values_for_type(x509.DNSName)]
        identities += san.get_values_for_type(x509.RFC822Name)
        identities += [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    self_signed = False
    if cert.subject == cert.issuer:
        try:
            cert.verify_directly_issued_by(cert)
            self_signed = True
        except Exception:
            self_signed = False
    return fingerprint, hashlib.sha256(spki).hexdigest(), identities, self_signed


def keyanchor_load(data: bytes) -> tuple[object, ...]:
    """keyanchor's side of the comparison: load, then read the same fields."""
    from registry.keys import load_x509_certificate

    cert = load_x509_certificate(data)
    return cert.fingerprint, cert.spki_sha256, cert.identities, cert.self_signed


def compare(n: int, corpus: list[bytes], runs: int) -> dict[str, float]:
    """Median certificates/s of keyanchor and of both floors, and of the per-run ratios.

    The three alternate within each run (blocks of one corpus cycle), so that
    load from other processes on the machine falls on all alike, and each is
    timed in CPU time of this process (``time.process_time``): on a shared
    machine, wall time also counts the time other processes held the core.
    """
    fns = {"keyanchor": keyanchor_load, "lean": floor_lean, "full": floor_load}
    for data in corpus:  # warm up lazy imports and caches
        for fn in fns.values():
            fn(data)
    rates: dict[str, list[float]] = {name: [] for name in (*fns, "ratio_lean", "ratio_full")}
    for _ in range(runs):
        spent = dict.fromkeys(fns, 0.0)
        done = 0
        while done < n:
            for name, fn in fns.items():
                start = time.process_time()
                for data in corpus:
                    fn(data)
                spent[name] += time.process_time() - start
            done += len(corpus)
        for name in fns:
            rates[name].append(done / spent[name])
        rates["ratio_lean"].append(spent["lean"] / spent["keyanchor"])
        rates["ratio_full"].append(spent["full"] / spent["keyanchor"])
    return {name: statistics.median(values) for name, values in rates.items()}


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
    m = compare(args.n, corpus, args.runs)
    print(f"keyanchor load_x509_certificate (+ fingerprint, spki_sha256, identities): "
          f"{m['keyanchor']:,.0f} certs/s")
    print(f"floor: cryptography parse + fingerprint + SPKI hash + SAN identities + self-signature"
          f" check: {m['lean']:,.0f} certs/s; ratio {m['ratio_lean']:.2f}x (target >= 0.9x)")
    print(f"floor with every field of the record read: {m['full']:,.0f} certs/s;"
          f" ratio {m['ratio_full']:.2f}x")
    print(f"(medians of {args.runs} runs x {args.n} certificates, the three interleaved, CPU time)")
    rates = [bench_x509(args.n, corpus) for _ in range(args.runs)]
    print(f"load_x509_certificate + fingerprint + spki + commitment: "
          f"best {max(rates):,.0f} certs/s, median {statistics.median(rates):,.0f} certs/s "
          f"({args.runs} runs x {args.n})")
    print(f"import registry.keys in a fresh process: {_import_ms():.1f} ms")


if __name__ == "__main__":
    main()
