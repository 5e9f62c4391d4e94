#!/usr/bin/env python3
"""Benchmark the integrations' per-connection cost: the registry check inside a TLS handshake.

    python3 scripts/bench_integrations.py                 # 10000 hosts, 300 handshakes each way
    python3 scripts/bench_integrations.py --hosts 100000 --runs 500

1. Builds an index of ``--hosts`` host names (``h<i>.example.org``), each with
   one tls-server certificate (ECDSA P-256) and one ssh-host key, straight
   through the store API (no chain).
2. Starts ``openssl s_server`` on 127.0.0.1 serving the certificate of a host
   in the middle, and times, interleaved, ``--runs`` full TLS handshakes
   (connect, handshake, close) with a plain ``CERT_NONE`` client context (the
   floor) and with ``registry.integrations.tls.create_ssl_context(webpki=False)``.
3. Times the checks alone, in process: ``verify_server_certificate`` (open the
   index, look up, compare) and the paramiko policy's ``lookup_host_keys`` +
   ``check_host_key``.

Prints medians and p95 and the ratio to the floor, with the machine's context.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import platform
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def make_cert(host: str) -> tuple[bytes, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=60))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(key, hashes.SHA256()))
    pem_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.DER), pem_key


def ssh_blob(seed: int) -> bytes:
    import struct

    pk = hashlib.sha256(seed.to_bytes(8, "big")).digest()
    kt = b"ssh-ed25519"
    return struct.pack(">I", len(kt)) + kt + struct.pack(">I", 32) + pk


def build_index(path: Path, hosts: int, target: int) -> tuple[bytes, bytes]:
    from registry.index._store import Event, ParsedKey, Store
    from registry.keys import commitment, load_x509_der
    from registry.names import namehash

    org = bytes(namehash("example.org"))
    owner = "0x" + "11" * 20
    served: tuple[bytes, bytes] = (b"", b"")
    with Store.open(path) as store, store.transaction():
        store.apply(Event("NameRegistered", 1, 0, b"\x01" * 32, org, 1, {
            "name": "example.org", "label": "example.org", "parent": b"\x00" * 32,
            "person": False, "owner": owner}))
        for i in range(hosts):
            name = f"h{i}.example.org"
            node = bytes(namehash(name))
            block = 2 + i
            store.apply(Event("NameRegistered", block, 0, b"\x02" * 32, node, block, {
                "name": name, "label": f"h{i}", "parent": org, "person": False, "owner": owner}))
            der, key = make_cert(name)
            if i == target:
                served = (der, key)
            cert = load_x509_der(der)
            store.apply(Event("KeyPublished", block, 1, b"\x03" * 32, node, block, {
                "index": 0, "commitment": commitment(3, der), "key_type": 3, "purposes": 16,
                "valid_from": 0, "valid_until": 0, "durable": False, "material": der, "proof": b""},
                ParsedKey(cert.algorithm, (cert.fingerprint, cert.spki_sha256), cert.identities,
                          "pass", "bench")))
            blob = ssh_blob(i)
            store.apply(Event("KeyPublished", block, 2, b"\x04" * 32, node, block, {
                "index": 1, "commitment": commitment(1, blob), "key_type": 1, "purposes": 2,
                "valid_from": 0, "valid_until": 0, "durable": False, "material": blob, "proof": b""},
                ParsedKey("ssh-ed25519", ("SHA256:" + hashlib.sha256(blob).hexdigest(),), (),
                          "pass", "bench")))
        store.set_meta("synced_block", hosts + 1)
        store.mark_synced()
    return served


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def summary(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1e3:7.3f} ms   p95 {pct(values, 0.95) * 1e3:7.3f} ms"


def handshake(ctx: ssl.SSLContext, port: int, host: str) -> float:
    t = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        with ctx.wrap_socket(sock, server_hostname=host):
            pass
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hosts", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=300)
    args = ap.parse_args()

    from registry.integrations._hostkeys import check_host_key, lookup_host_keys
    from registry.integrations._index import index_settings
    from registry.integrations.tls import create_ssl_context, verify_server_certificate

    print(f"python {platform.python_version()}, {ssl.OPENSSL_VERSION}, {platform.machine()},"
          f" {os.cpu_count()} cpus, {platform.platform()}")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        index = d / "index.sqlite"
        target = args.hosts // 2
        host = f"h{target}.example.org"
        t0 = time.perf_counter()
        der, key = build_index(index, args.hosts, target)
        print(f"index: {args.hosts} hosts (1 certificate + 1 SSH host key each),"
              f" {index.stat().st_size / 1e6:.1f} MB, built in {time.perf_counter() - t0:.1f} s")
        (d / "c.pem").write_text(ssl.DER_cert_to_PEM_cert(der))
        (d / "k.pem").write_bytes(key)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc = subprocess.Popen(["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-cert",
                                 str(d / "c.pem"), "-key", str(d / "k.pem"), "-quiet", "-naccept",
                                 str(2 * args.runs + 10)], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(200):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            settings = index_settings(index=index, max_staleness=10 * 86400)
            floor = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            floor.check_hostname = False
            floor.verify_mode = ssl.CERT_NONE
            pinned = create_ssl_context(webpki=False, settings=settings)
            for ctx in (floor, pinned):  # warm up
                handshake(ctx, port, host)
            plain, registry = [], []
            for _ in range(args.runs):
                plain.append(handshake(floor, port, host))
                registry.append(handshake(pinned, port, host))
        finally:
            proc.terminate()
            proc.wait(10)
        check, ssh = [], []
        blob = ssh_blob(target)
        for _ in range(args.runs):
            t = time.perf_counter()
            verify_server_certificate(host, der, settings)
            check.append(time.perf_counter() - t)
            t = time.perf_counter()
            check_host_key(lookup_host_keys(host, settings), blob)
            ssh.append(time.perf_counter() - t)
    ratio = statistics.median(registry) / statistics.median(plain)
    print(f"TLS handshake, CERT_NONE (floor):      {summary(plain)}")
    print(f"TLS handshake, registry-pinned:        {summary(registry)}   ratio {ratio:.2f}x")
    print(f"registry check alone (TLS leaf):       {summary(check)}")
    print(f"registry check alone (SSH host key):   {summary(ssh)}")


if __name__ == "__main__":
    main()
