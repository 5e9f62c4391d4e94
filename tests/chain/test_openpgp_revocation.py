"""Registry.revoke / rotate with an OpenPGP key's own revocation (real gpg): verified against
the record's certificate before anything is sent; only the signature packet goes on chain."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from registry.chain.client import Registry
from registry.errors import KeyFormatError, PrivateKeyError, ProofError
from registry.keys import KeyType, load_openpgp_cert, verify_openpgp_revocation
from tests.chain.conftest import ALICE, RA, EthTesterChain
from tests.keys.test_pgp_revocation import keyring

pytestmark = pytest.mark.tools


@dataclass
class Material:
    alice: bytes  # alice's certificate (exported minimal)
    alice2: bytes  # a second key of alice's, for rotate
    alice_rev: bytes  # armored gpg --gen-revoke output for alice's first key
    alice2_rev: bytes
    bob_rev: bytes  # a valid revocation of another key
    secret: bytes  # an exported secret key


@pytest.fixture(scope="module")
def material(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Material]:
    ring = keyring(Path(tmp_path_factory.mktemp("cr", numbered=True)) / "h")
    try:
        alice = ring.make("Alice <alice@example.org>")
        alice2 = ring.make("Alice (2027) <alice@example.org>")
        bob = ring.make("Bob <bob@example.org>")

        def export(fpr: str) -> bytes:
            return ring.run("--batch", "--export-options", "export-minimal", "--export",
                            fpr).stdout

        yield Material(export(alice), export(alice2),
                       ring.revocation(alice, "compromised", "laptop stolen"),
                       ring.revocation(alice2, "superseded", "rotated"),
                       ring.revocation(bob, "compromised", "bob's"),
                       ring.run("--batch", "--export-secret-keys", bob).stdout)
    finally:
        ring.close()


def _alice(chain: EthTesterChain, material: Material) -> Registry:
    ra = chain.registry(chain.accounts[RA])
    alice = chain.registry(chain.accounts[ALICE])
    ra.register("example.org")
    ra.assign("alice@example.org", chain.accounts[ALICE].address)
    alice.publish("alice@example.org", material.alice, purposes="signing")
    return alice


def _statuses(reg: Registry) -> list[str]:
    return [r.status for r in reg.lookup("alice@example.org", include_revoked=True)]


def test_a_revocation_of_another_key_is_refused_and_nothing_is_sent(
        tester_chain: EthTesterChain, material: Material) -> None:
    alice = _alice(tester_chain, material)
    sender: Any = alice.sender
    nonce = alice.w3.eth.get_transaction_count(sender)
    with pytest.raises(ProofError, match="does not verify against OpenPGP certificate"):
        alice.revoke("alice@example.org", 0, "key-compromise", revocation=material.bob_rev)
    with pytest.raises(KeyFormatError, match=r"no key revocation signature|not an OpenPGP"):
        alice.revoke("alice@example.org", 0, revocation=b"-----BEGIN PGP junk\n")
    with pytest.raises(KeyFormatError):
        alice.revoke("alice@example.org", 0, revocation=material.alice[:40])
    with pytest.raises(PrivateKeyError):
        alice.revoke("alice@example.org", 0, revocation=material.secret)
    assert alice.w3.eth.get_transaction_count(sender) == nonce
    assert _statuses(alice) == ["active"]


def test_a_verified_revocation_goes_on_chain_as_its_signature_packet(
        tester_chain: EthTesterChain, material: Material) -> None:
    alice = _alice(tester_chain, material)
    alice.revoke("alice@example.org", 0, "key-compromise", revocation=material.alice_rev)
    (rec,) = alice.lookup("alice@example.org", include_revoked=True)
    assert rec.status == "revoked"
    expected = verify_openpgp_revocation(material.alice, material.alice_rev)
    assert rec.revocation == expected.signature  # the packet, not gpg's armored text
    assert not rec.revocation.startswith(b"-----")
    assert verify_openpgp_revocation(material.alice, rec.revocation).reason == 2


def test_rotate_checks_the_old_keys_revocation(
        tester_chain: EthTesterChain, material: Material) -> None:
    alice = _alice(tester_chain, material)
    with pytest.raises(ProofError):
        alice.rotate("alice@example.org", 0, material.alice2, revocation=material.alice2_rev)
    assert _statuses(alice) == ["active"]
    alice.rotate("alice@example.org", 0, material.alice2, revocation=material.alice_rev)
    old, new = alice.lookup("alice@example.org", include_revoked=True)
    assert (old.status, new.status) == ("revoked", "active")
    assert load_openpgp_cert(new.material).fingerprint != load_openpgp_cert(old.material).fingerprint
    assert old.revocation == verify_openpgp_revocation(material.alice, material.alice_rev).signature


def test_other_key_types_carry_their_bytes_as_given(tester_chain: EthTesterChain) -> None:
    from tests.chain.conftest import raw_loader

    tester_chain.loader = raw_loader
    ra = tester_chain.registry(tester_chain.accounts[RA])
    ra.register("example.org")
    ra.publish("example.org", b"RAW ssh one", key_type=KeyType.SSH, purposes="ssh-user")
    ra.revoke("example.org", 0, "superseded", revocation=b"why")
    (rec,) = ra.lookup("example.org", include_revoked=True)
    assert rec.revocation == b"why"
