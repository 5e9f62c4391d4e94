"""A varied embedded chain for tests that compare two read paths.

    names = build_varied_chain(path)   # every record state and event kind, real keys

Three domains and their people and hosts; records active, pending, expired,
revoked (with a revocation), rotated and durable, of all three key types, with
and without proofs; attestations live, withdrawn, blocked and expired;
operators, a transfer, a renunciation. Keys are made in process (cryptography,
pysequoia), proofs signed with them, so nothing outside Python is needed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from registry.chain.client import Registry
from registry.chain.embedded import EmbeddedChain
from registry.keys import Purpose

#: Names the chain holds, plus names it does not (the comparisons cover errors too).
NAMES = (
    "example.org",
    "example.net",
    "alice@example.org",
    "bob@example.org",
    "web1.example.org",
    "carol@example.net",
)
MISSING = ("nobody@example.org", "web9.example.org", "example.com")


def ssh_blob(seed: int) -> bytes:
    """An ssh-ed25519 public key blob (RFC 4253), deterministic per seed."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    private = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"%d" % seed).digest())
    raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    def sstr(b: bytes) -> bytes:
        return len(b).to_bytes(4, "big") + b

    return sstr(b"ssh-ed25519") + sstr(raw)


def x509_cert(name: str, *, days: int = 365, dns: str | None = None,
              seed: int = 1) -> tuple[bytes, Any]:
    """A self-signed P-256 certificate for ``name`` (DER) and its private key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.derive_private_key(int.from_bytes(hashlib.sha256(b"x%d" % seed).digest(), "big")
                                % (2**255), ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC).replace(microsecond=0)
    sans: list[x509.GeneralName] = [x509.DNSName(dns)] if dns else [x509.RFC822Name(name)]
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(1000 + seed)
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False,
                                     False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH
                                              if dns else ExtendedKeyUsageOID.CLIENT_AUTH]),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(Encoding.DER), key


def openpgp_cert(uid: str) -> tuple[bytes, Any]:
    """An OpenPGP certificate (public part) and its secret key (pysequoia)."""
    import warnings

    import pysequoia

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        cert = pysequoia.Cert.generate(uid)
    return bytes(cert), cert


@dataclass
class VariedChain:
    path: Path
    accounts: list[Any]
    notes: dict[str, Any] = field(default_factory=dict)


def build_varied_chain(path: Path) -> VariedChain:
    """Build the chain in ``path`` (a new file). Returns its accounts and notes."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    from registry.chain.embedded import dev_accounts
    from registry.proofs import statement

    accounts = dev_accounts()[:4]
    with EmbeddedChain.open(path) as chain:
        def reg(i: int) -> Registry:
            return Registry(chain.web3, account=accounts[i],
                            registry_address=chain.registry_address)

        ra, alice, bob, net = reg(0), reg(1), reg(2), reg(3)
        now = datetime.now(UTC).replace(microsecond=0)
        ra.register("example.org")
        net.register("example.net")
        ra.assign("alice@example.org", accounts[1].address)
        ra.assign("bob@example.org", accounts[2].address)
        ra.assign("web1.example.org", accounts[0].address)
        net.assign("carol@example.net", accounts[3].address)

        # alice: active ssh with attestations; openpgp with a proof; pending x509 with a proof
        alice.publish("alice@example.org", ssh_blob(1), key_type="ssh",
                      purposes=Purpose.SSH_USER | Purpose.SIGNING)
        pgp, _secret = openpgp_cert("Alice <alice@example.org>")
        alice.publish("alice@example.org", pgp, key_type="openpgp")
        der, key = x509_cert("alice@example.org", seed=2)
        from registry.keys import load_key

        parsed = load_key(der)
        stmt = statement(chain.chain_id, chain.registry_address, "alice@example.org",
                         accounts[1].address, parsed.commitment)
        proof = key.sign(stmt, ec.ECDSA(hashes.SHA256()))
        alice.publish("alice@example.org", der, key_type="x509", proof=proof,
                      purposes=Purpose.TLS_CLIENT, valid_from=now + timedelta(days=10))
        # an ssh key that expires, one revoked for compromise with a revocation, a durable
        # one, and a rotation
        alice.publish("alice@example.org", ssh_blob(2), key_type="ssh",
                      valid_until=now + timedelta(hours=1))
        alice.publish("alice@example.org", ssh_blob(3), key_type="ssh")
        alice.revoke("alice@example.org", 4, "key-compromise", revocation=b"revoked: leaked")
        alice.publish("alice@example.org", ssh_blob(4), key_type="ssh", durable=True)
        alice.publish("alice@example.org", ssh_blob(5), key_type="ssh")
        alice.rotate("alice@example.org", 6, ssh_blob(6), key_type="ssh")

        # attestations: live (with a policy hash), withdrawn, blocked, expiring
        ra.attest("example.org", "alice@example.org", 0, policy_hash=b"\x07" * 32,
                  expires=now + timedelta(days=365))
        net.attest("example.net", "alice@example.org", 0)
        net.withdraw("example.net", "alice@example.org", 0)
        net.attest("example.net", "alice@example.org", 1)
        alice.block_attester("alice@example.org", "example.net")
        ra.attest("example.org", "alice@example.org", 1, expires=now + timedelta(minutes=30))

        # names: an operator, a transfer, a renunciation; host keys
        alice.set_operator("alice@example.org", accounts[3].address)
        bob.transfer("bob@example.org", accounts[3].address)
        ra.renounce("web1.example.org")
        hder, _hkey = x509_cert("web1.example.org", dns="web1.example.org", seed=3)
        ra.publish("web1.example.org", ssh_blob(7), key_type="ssh", purposes=Purpose.SSH_HOST)
        ra.publish("web1.example.org", hder, key_type="x509")
        net.publish("carol@example.net", ssh_blob(8), key_type="ssh")
        chain.time_travel(2 * 3600)  # alice's record 3 expires, one attestation lapses
        return VariedChain(path, accounts, {"now": now})
