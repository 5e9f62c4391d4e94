"""Fixtures for the HTTP gateway tests: an index holding real gpg-made certificates, a live server.

``world`` (session scope) makes OpenPGP certificates with gpg, an SSH key with
ssh-keygen and an X.509 certificate with ``cryptography``, and writes them
into an index through the store API (``registry.index._store``) the way sync
would: material, commitment, parsed fingerprints and identities, and the
verdict of the real policy checker. ``server`` runs the app under uvicorn on a
free loopback port in a thread; ``http`` is an httpx client bound to it.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from registry.index._store import Event, ParsedKey, Store
from registry.keys import commitment, load_material, load_openpgp_cert
from registry.names import namehash
from tests.conftest import free_port, require_tool

ZERO = b"\x00" * 32
OWNER = "0x" + "11" * 20
NOW = int(time.time())
YEAR = 365 * 86400


def parsed_key(key_type: int, material: bytes, name: str, purposes: int) -> ParsedKey:
    """What sync stores for a record (fingerprints, identities, the real policy verdict)."""
    from registry.policy import check

    key = load_material(key_type, material)
    fps = [str(key.fingerprint)]
    spki = getattr(key, "spki_sha256", None)
    if isinstance(spki, str) and spki:
        fps.append(spki)
    fps += [s.fingerprint for s in getattr(key, "subkeys", ()) or ()]
    report = check(key, name=name, purposes=purposes)
    detail = f"{report.profile} {report.policy_sha256[:16]}"
    if not report.passed:
        detail += ": " + ", ".join(r.lint_id for r in report.failures())
    return ParsedKey(str(key.algorithm), tuple(dict.fromkeys(fps)),
                     tuple(str(i) for i in key.identities), "pass" if report.passed else "fail", detail)


class IndexBuilder:
    """Writes names, records, revocations and attestations into a Store (no chain)."""

    def __init__(self, path: Path) -> None:
        self.store = Store.open(path)
        self.block = 100
        self.log = 0
        self.counts: dict[str, int] = {}

    def _ev(self, kind: str, node: bytes, data: dict[str, Any], parsed: ParsedKey | None = None,
            *, ts: int | None = None) -> None:
        ts = NOW - 3600 if ts is None else ts
        self.store.add_block(self.block, self.block.to_bytes(32, "big"), ts)
        self.store.apply(Event(kind, self.block, self.log, self.block.to_bytes(32, "big"), node, ts,
                               data, parsed))
        self.block += 1

    def name(self, text: str, owner: str = OWNER) -> None:
        if "@" in text:
            label, _, parent = text.partition("@")
            person = True
        elif text.count(".") > 1:
            label, _, parent = text.partition(".")
            person = False
        else:
            label, parent, person = text, "", False
        with self.store.transaction():
            self._ev("NameRegistered", bytes(namehash(text)),
                     {"name": text, "parent": bytes(namehash(parent)) if parent else ZERO,
                      "person": person, "owner": owner, "label": label})

    def key(self, name: str, key_type: int, material: bytes, purposes: int, *,
            valid_until: int = 0, parsed: ParsedKey | None = None, proof: bytes = b"") -> int:
        node = bytes(namehash(name))
        idx = self.counts.get(name, 0)
        self.counts[name] = idx + 1
        parsed = parsed or parsed_key(key_type, material, name, purposes)
        with self.store.transaction():
            self._ev("KeyPublished", node,
                     {"index": idx, "commitment": commitment(key_type, material), "key_type": key_type,
                      "purposes": purposes, "valid_from": 0, "valid_until": valid_until,
                      "durable": False, "material": material, "proof": proof}, parsed)
        return idx

    def revoke(self, name: str, idx: int, material: bytes, key_type: int, reason: int = 1, *,
               revocation: bytes = b"") -> None:
        with self.store.transaction():
            self._ev("KeyRevoked", bytes(namehash(name)),
                     {"index": idx, "commitment": commitment(key_type, material), "reason": reason,
                      "revocation": revocation})

    def attest(self, name: str, idx: int, attester: str) -> None:
        with self.store.transaction():
            self._ev("Attested", bytes(namehash(name)),
                     {"index": idx, "attester": bytes(namehash(attester)),
                      "policy_hash": b"\x42" * 32, "expires": NOW + YEAR})

    def dns(self, domain: str, status: str, owner: str = OWNER) -> None:
        """Store the DNS-control verdict sync would have found for top-level ``domain``."""
        from registry.dnscontrol import DnsVerdict

        verdict = DnsVerdict(domain, owner, status, (owner.lower(),) if status == "match" else ())
        with self.store.transaction():
            self.store.set_dns_control(bytes(namehash(domain)), verdict, required=True, now=NOW)

    def finish(self, registry: str | None = None) -> None:
        with self.store.transaction():
            self.store.set_meta("chain_id", 1337)
            if registry is not None:
                self.store.set_meta("registry", registry)
            self.store.set_meta("synced_block", self.block)
            self.store.mark_synced()
        self.store.close()


# --------------------------------------------------------------------------- gpg


@dataclass
class GPG:
    """A throw-away GNUPGHOME holding the test certificates (secret keys stay in it)."""

    home: Path
    exe: str
    fingerprints: dict[str, str] = field(default_factory=dict)

    def run(self, *args: str, input: bytes | None = None, timeout: float = 60) -> bytes:
        env = {**os.environ, "GNUPGHOME": str(self.home)}
        out = subprocess.run([self.exe, "--batch", "--quiet", "--no-tty", "--pinentry-mode", "loopback",
                              "--passphrase", "", *args], input=input, capture_output=True, env=env,
                             check=True, timeout=timeout)
        return out.stdout

    def make(self, uid: str, *, algo: str = "ed25519", expire: str = "2y", subkey: bool = True) -> str:
        self.run("--quick-gen-key", uid, algo, "sign,cert" if algo == "ed25519" else "default", expire)
        listing = self.run("--with-colons", "--list-keys", uid).decode()
        fpr = next(ln.split(":")[9] for ln in listing.splitlines() if ln.startswith("fpr:"))
        if subkey:
            self.run("--quick-add-key", fpr, "cv25519", "encr", expire)
        self.fingerprints[uid] = fpr
        return fpr

    def export(self, fpr: str) -> bytes:
        return self.run("--export-options", "export-minimal", "--export", fpr)

    def close(self) -> None:
        subprocess.run(["gpgconf", "--homedir", str(self.home), "--kill", "all"],
                       capture_output=True, timeout=30, check=False)


def new_gnupghome(base: Path) -> Path:
    base.mkdir(parents=True, exist_ok=True)
    os.chmod(base, 0o700)
    return base


@dataclass
class World:
    """What the index holds (fingerprints per role) and where it is."""

    index: Path
    fpr: dict[str, str]
    material: dict[str, bytes]
    ssh_line: str
    x509_pem: str
    tmp: Path


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    gpg_exe = require_tool("gpg")
    keygen = require_tool("ssh-keygen")
    tmp = tmp_path_factory.mktemp("gw")
    # a short GNUPGHOME path: gpg-agent's socket path must stay under 108 bytes
    home = Path(tmp_path_factory.getbasetemp()) / "gh"
    gpg = GPG(new_gnupghome(home), gpg_exe)
    try:
        fpr = {
            "alice": gpg.make("Alice Example <alice@example.org>"),
            "bob": gpg.make("Bob Example <bob@example.org>"),            # published, then revoked
            "carol": gpg.make("Carol Example <carol@example.org>"),      # record expired
            "dave": gpg.make("Mallory <mallory@evil.example>"),          # policy fails (name binding)
            "erin": gpg.make("Erin Example <erin@example.org>"),         # never published
            "joe": gpg.make("Joe Doe <joe.doe@example.org>"),            # for WKD vectors
        }
        material = {k: load_openpgp_cert(gpg.export(v)).material for k, v in fpr.items()}
    finally:
        gpg.close()

    subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-C", "alice", "-f", str(tmp / "ssh")],
                   check=True, capture_output=True, timeout=30)
    from registry.keys import load_ssh_public_key

    ssh = load_ssh_public_key((tmp / "ssh.pub").read_text())
    x509 = _x509_cert("web1.example.org")

    index = tmp / "index.sqlite"
    b = IndexBuilder(index)
    for n in ("example.org", "alice@example.org", "bob@example.org", "carol@example.org",
              "dave@example.org", "joe.doe@example.org", "web1.example.org"):
        b.name(n)
    i = b.key("alice@example.org", 2, material["alice"], 4 | 8)
    b.attest("alice@example.org", i, "example.org")
    b.key("alice@example.org", 1, ssh.material, 1)
    i = b.key("bob@example.org", 2, material["bob"], 4 | 8)
    b.revoke("bob@example.org", i, material["bob"], 2)
    b.key("carol@example.org", 2, material["carol"], 4 | 8, valid_until=NOW - 60)
    b.key("dave@example.org", 2, material["dave"], 4 | 8)
    b.key("joe.doe@example.org", 2, material["joe"], 4 | 8)
    b.key("web1.example.org", 3, x509, 16)
    b.finish()
    from registry.keys import render_openssh, render_pem
    from registry.keys._x509 import load_x509_der

    yield World(index, fpr, material, render_openssh(ssh), render_pem(load_x509_der(x509)), tmp)


def _x509_cert(host: str) -> bytes:
    """A self-signed TLS server certificate for ``host`` (ECDSA P-256, 41 days)."""
    return x509_cert_and_key(host)[0]


def x509_cert_and_key(host: str) -> tuple[bytes, Any]:
    """A self-signed TLS server certificate for ``host`` (DER) and its ``cryptography`` key.

    Valid from a day ago for 41 days: within the CA/B Forum maximum under every
    schedule (47 days from 2029-03-15), so its policy verdict does not depend
    on the date the tests run.
    """
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=40))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False),
                       critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER), key


# --------------------------------------------------------------------------- server


class ServerThread:
    """uvicorn serving an app on 127.0.0.1:<free port> in a daemon thread."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                access_log=False, lifespan="off", timeout_keep_alive=5)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


@pytest.fixture(scope="session")
def server(world: World) -> Iterator[ServerThread]:
    from registry.gateways.http import create_app

    with ServerThread(create_app(world.index)) as srv:
        yield srv


@pytest.fixture
def http(server: ServerThread) -> Iterator[Any]:
    import httpx

    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client
