"""KeyRegistry attestations: attest, re-attest (update), withdraw, block, views.

One slot per (record, attester): no shared list strangers can fill, and the
subject's owner or operator blocks an attester for good (until unblocked).
"""

from __future__ import annotations

import pytest

from registry.keys._common import commitment
from registry.names import namehash

ATT_FIELDS = ("attester", "policy_hash", "expires", "attested_at", "blocked")
P1, P2 = b"\x11" * 32, b"\x22" * 32
ZERO32 = b"\x00" * 32
C = commitment(1, b"key")


def att(raw):
    return dict(zip(ATT_FIELDS, raw, strict=True))


def live(kr, subject, attesters, c=C):
    """The attestations that count: present and not blocked."""
    got = [att(a) for a in kr.fn.attestations(subject, c, attesters).call()]
    return {a["attester"]: a for a in got if a["attested_at"] and not a["blocked"]}


@pytest.fixture
def setup(kr):
    subject = kr.register("example.org", kr.alice)
    ra = kr.register("ra.test", kr.bob)
    kr.publish(subject, b"key")
    return subject, ra


def test_attest_event_and_view(kr, setup):
    subject, ra = setup
    expires = kr.now() + 1000
    receipt = kr.tx(kr.fn.attest(ra, subject, C, P1, expires), kr.bob)
    assert kr.event(receipt, "Attested") == {
        "node": subject, "commitment": C, "attester": ra, "index": 0, "policy_hash": P1,
        "expires": expires,
    }  # fmt: skip
    want = {"attester": ra, "policy_hash": P1, "expires": expires,
            "attested_at": kr.block_time(receipt), "blocked": False}  # fmt: skip
    assert att(kr.fn.attestation(subject, C, ra).call()) == want
    assert [att(a) for a in kr.fn.attestations(subject, C, [ra]).call()] == [want]
    # an attester without an attestation reads as attested_at 0
    none = att(kr.fn.attestation(subject, C, b"\x05" * 32).call())
    assert none["attested_at"] == 0 and none["policy_hash"] == ZERO32


def test_reattest_updates_in_place(kr, setup):
    subject, ra = setup
    kr.tx(kr.fn.attest(ra, subject, C, P1, 0), kr.bob)
    receipt = kr.tx(kr.fn.attest(ra, subject, C, P2, 0), kr.bob)
    assert kr.event(receipt, "Attested")["policy_hash"] == P2
    got = att(kr.fn.attestation(subject, C, ra).call())
    assert got["policy_hash"] == P2 and got["expires"] == 0
    kr.tx(kr.fn.attest(ra, subject, C, ZERO32, 0), kr.bob)
    assert att(kr.fn.attestation(subject, C, ra).call())["policy_hash"] == ZERO32


def test_attest_refusals(kr, setup):
    subject, ra = setup
    kr.reverts(kr.fn.attest(ra, subject, C, P1, 0), kr.alice, "KeyRegistry: not owner or operator")
    kr.reverts(kr.fn.attest(b"\x01" * 32, subject, C, P1, 0), kr.bob, "KeyRegistry: name not found")
    kr.reverts(kr.fn.attest(ra, b"\x01" * 32, C, P1, 0), kr.bob, "KeyRegistry: name not found")
    kr.reverts(kr.fn.attest(ra, subject, commitment(1, b"other"), P1, 0), kr.bob,
               "KeyRegistry: no such record")
    kr.reverts(kr.fn.attest(ra, subject, C, P1, kr.now()), kr.bob, "KeyRegistry: bad expiry")
    kr.tx(kr.fn.block_attester(subject, ra, True), kr.alice)
    kr.reverts(kr.fn.attest(ra, subject, C, P1, 0), kr.bob, "KeyRegistry: attester blocked")
    kr.tx(kr.fn.block_attester(subject, ra, False), kr.alice)
    kr.tx(kr.fn.revoke(subject, C, 1, b""), kr.alice)
    kr.reverts(kr.fn.attest(ra, subject, C, P1, 0), kr.bob, "KeyRegistry: already revoked")


def test_operator_of_attester_may_attest(kr, setup):
    subject, ra = setup
    kr.tx(kr.fn.set_operator(ra, kr.carol, True), kr.bob)
    kr.tx(kr.fn.attest(ra, subject, C, P1, 0), kr.carol)
    kr.tx(kr.fn.withdraw(ra, subject, C), kr.carol)
    assert live(kr, subject, [ra]) == {}


def test_no_shared_list_to_fill(kr, setup):
    """Twenty throwaway attesters (v1 capped a record at 16) lock nobody out."""
    subject, ra = setup
    spam = [kr.register(f"spam{i}.test", kr.carol) for i in range(20)]
    for s in spam:
        kr.tx(kr.fn.attest(s, subject, C, P1, 0), kr.carol)
    receipt = kr.tx(kr.fn.attest(ra, subject, C, P2, 0), kr.bob)
    assert kr.event(receipt, "Attested")["attester"] == ra
    assert set(live(kr, subject, [*spam, ra])) == {*spam, ra}


def test_block_attester(kr, setup):
    """The subject blocks a spammer: it cannot attest again (even after a withdrawal), and
    its standing attestations stop counting; unblocking restores both."""
    subject, ra = setup
    spammer = kr.register("spam.test", kr.carol)
    kr.tx(kr.fn.attest(spammer, subject, C, P1, 0), kr.carol)
    kr.tx(kr.fn.attest(ra, subject, C, P2, 0), kr.bob)
    kr.reverts(kr.fn.block_attester(subject, spammer, True), kr.carol,
               "KeyRegistry: not owner or operator")
    kr.reverts(kr.fn.block_attester(b"\x09" * 32, spammer, True), kr.alice,
               "KeyRegistry: name not found")
    receipt = kr.tx(kr.fn.block_attester(subject, spammer, True), kr.alice)
    assert kr.event(receipt, "AttesterBlocked") == {
        "node": subject, "attester": spammer, "blocked": True}  # fmt: skip
    assert kr.fn.is_blocked(subject, spammer).call() is True
    assert att(kr.fn.attestation(subject, C, spammer).call())["blocked"] is True
    assert set(live(kr, subject, [spammer, ra])) == {ra}
    kr.tx(kr.fn.withdraw(spammer, subject, C), kr.alice)
    kr.reverts(kr.fn.attest(spammer, subject, C, P1, 0), kr.carol, "KeyRegistry: attester blocked")
    # blocking is per subject name: the spammer still attests other names' records
    other = kr.register("other.test", kr.dave)
    kr.publish(other, b"key", sender=kr.dave)
    kr.tx(kr.fn.attest(spammer, other, C, P1, 0), kr.carol)
    # an operator of the subject may unblock
    kr.tx(kr.fn.set_operator(subject, kr.dave, True), kr.alice)
    kr.tx(kr.fn.block_attester(subject, spammer, False), kr.dave)
    assert kr.fn.is_blocked(subject, spammer).call() is False
    kr.tx(kr.fn.attest(spammer, subject, C, P1, 0), kr.carol)
    assert set(live(kr, subject, [spammer, ra])) == {spammer, ra}


def test_withdraw_refusals(kr, setup):
    subject, ra = setup
    kr.reverts(kr.fn.withdraw(ra, subject, C), kr.bob, "KeyRegistry: no such attestation")
    kr.tx(kr.fn.attest(ra, subject, C, P1, 0), kr.bob)
    kr.reverts(kr.fn.withdraw(ra, subject, C), kr.carol, "KeyRegistry: not owner or operator")
    kr.reverts(kr.fn.withdraw(b"\x01" * 32, subject, C), kr.bob, "KeyRegistry: name not found")
    receipt = kr.tx(kr.fn.withdraw(ra, subject, C), kr.bob)
    assert kr.event(receipt, "AttestationWithdrawn") == {
        "node": subject, "commitment": C, "attester": ra, "index": 0}  # fmt: skip
    assert att(kr.fn.attestation(subject, C, ra).call())["attested_at"] == 0
    assert att(kr.fn.attestation(subject, C, ra).call())["policy_hash"] == ZERO32
    kr.reverts(kr.fn.withdraw(ra, subject, C), kr.bob, "KeyRegistry: no such attestation")


def test_attestation_survives_transfer_of_attester(kr, setup):
    subject, ra = setup
    kr.tx(kr.fn.attest(ra, subject, C, P1, 0), kr.bob)
    kr.tx(kr.fn.transfer(ra, kr.dave), kr.bob)
    kr.reverts(kr.fn.withdraw(ra, subject, C), kr.bob, "KeyRegistry: not owner or operator")
    kr.tx(kr.fn.withdraw(ra, subject, C), kr.dave)
    assert namehash("ra.test") == ra


def test_subject_owner_clears_unwanted_attestations(kr, setup):
    subject, ra = setup
    spam = [kr.register(f"spam{i}.test", kr.carol) for i in range(2)]
    for s in spam:
        kr.tx(kr.fn.attest(s, subject, C, P1, 0), kr.carol)
    receipt = kr.tx(kr.fn.withdraw(spam[0], subject, C), kr.alice)      # the subject's owner
    assert kr.event(receipt, "AttestationWithdrawn")["attester"] == spam[0]
    kr.tx(kr.fn.set_operator(subject, kr.dave, True), kr.alice)
    kr.tx(kr.fn.withdraw(spam[1], subject, C), kr.dave)                 # its operator
    kr.tx(kr.fn.attest(ra, subject, C, P1, 0), kr.bob)
    assert set(live(kr, subject, [*spam, ra])) == {ra}
    # the subject's owner cannot clear attestations of another name's records
    other = kr.register("other.test", kr.dave)
    kr.publish(other, b"other key", sender=kr.dave)
    kr.tx(kr.fn.attest(ra, other, commitment(1, b"other key"), P1, 0), kr.bob)
    kr.reverts(kr.fn.withdraw(ra, other, commitment(1, b"other key")), kr.alice,
               "KeyRegistry: not owner or operator")
