"""KeyRegistry attestations: attest, re-attest (update), withdraw, views."""

from __future__ import annotations

import pytest

from registry.names import namehash

ATT_FIELDS = ("attester", "policy_hash", "expires", "attested_at")
P1, P2 = b"\x11" * 32, b"\x22" * 32


def att(raw):
    return dict(zip(ATT_FIELDS, raw, strict=True))


@pytest.fixture
def setup(kr):
    subject = kr.register("example.org", kr.alice)
    ra = kr.register("ra.test", kr.bob)
    kr.publish(subject, b"key")
    return subject, ra


def test_attest_event_and_view(kr, setup):
    subject, ra = setup
    expires = kr.now() + 1000
    receipt = kr.tx(kr.fn.attest(ra, subject, 0, P1, expires), kr.bob)
    assert kr.event(receipt, "Attested") == {
        "node": subject, "index": 0, "attester": ra, "policy_hash": P1, "expires": expires,
    }  # fmt: skip
    got = [att(a) for a in kr.fn.attestations(subject, 0).call()]
    assert got == [{"attester": ra, "policy_hash": P1, "expires": expires,
                    "attested_at": kr.block_time(receipt)}]  # fmt: skip


def test_reattest_updates_in_place(kr, setup):
    subject, ra = setup
    kr.tx(kr.fn.attest(ra, subject, 0, P1, 0), kr.bob)
    receipt = kr.tx(kr.fn.attest(ra, subject, 0, P2, 0), kr.bob)
    assert kr.event(receipt, "Attested")["policy_hash"] == P2
    got = [att(a) for a in kr.fn.attestations(subject, 0).call()]
    assert len(got) == 1 and got[0]["policy_hash"] == P2 and got[0]["expires"] == 0


def test_attest_refusals(kr, setup):
    subject, ra = setup
    kr.reverts(kr.fn.attest(ra, subject, 0, P1, 0), kr.alice, "KeyRegistry: not owner or operator")
    kr.reverts(kr.fn.attest(b"\x01" * 32, subject, 0, P1, 0), kr.bob, "KeyRegistry: name not found")
    kr.reverts(kr.fn.attest(ra, b"\x01" * 32, 0, P1, 0), kr.bob, "KeyRegistry: name not found")
    kr.reverts(kr.fn.attest(ra, subject, 1, P1, 0), kr.bob, "KeyRegistry: no such record")
    kr.reverts(kr.fn.attest(ra, subject, 0, P1, kr.now()), kr.bob, "KeyRegistry: bad expiry")
    kr.tx(kr.fn.revoke(subject, 0, 1), kr.alice)
    kr.reverts(kr.fn.attest(ra, subject, 0, P1, 0), kr.bob, "KeyRegistry: already revoked")


def test_operator_of_attester_may_attest(kr, setup):
    subject, ra = setup
    kr.tx(kr.fn.set_operator(ra, kr.carol, True), kr.bob)
    kr.tx(kr.fn.attest(ra, subject, 0, P1, 0), kr.carol)
    kr.tx(kr.fn.withdraw(ra, subject, 0), kr.carol)
    assert kr.fn.attestations(subject, 0).call() == []


def test_too_many_attestations_and_withdraw_compacts(kr, setup):
    subject, _ = setup
    attesters = []
    for i in range(16):
        node = kr.register(f"ra{i}.test", kr.carol)
        attesters.append(node)
        kr.tx(kr.fn.attest(node, subject, 0, bytes([i]) * 32, 0), kr.carol)
    extra = kr.register("ra99.test", kr.carol)
    kr.reverts(
        kr.fn.attest(extra, subject, 0, P1, 0), kr.carol, "KeyRegistry: too many attestations"
    )
    # re-attesting at the limit is an update, not a new entry
    kr.tx(kr.fn.attest(attesters[3], subject, 0, P2, 0), kr.carol)
    receipt = kr.tx(kr.fn.withdraw(attesters[3], subject, 0), kr.carol)
    assert kr.event(receipt, "AttestationWithdrawn") == {
        "node": subject, "index": 0, "attester": attesters[3],
    }  # fmt: skip
    live = {
        att(a)["attester"]: att(a)["policy_hash"] for a in kr.fn.attestations(subject, 0).call()
    }
    assert set(live) == set(attesters) - {attesters[3]}
    assert all(live[a] == bytes([i]) * 32 for i, a in enumerate(attesters) if a in live)
    kr.tx(kr.fn.attest(extra, subject, 0, P1, 0), kr.carol)
    assert len(kr.fn.attestations(subject, 0).call()) == 16


def test_withdraw_refusals(kr, setup):
    subject, ra = setup
    kr.reverts(kr.fn.withdraw(ra, subject, 0), kr.bob, "KeyRegistry: no such attestation")
    kr.tx(kr.fn.attest(ra, subject, 0, P1, 0), kr.bob)
    kr.reverts(kr.fn.withdraw(ra, subject, 0), kr.carol, "KeyRegistry: not owner or operator")
    kr.reverts(kr.fn.withdraw(b"\x01" * 32, subject, 0), kr.bob, "KeyRegistry: name not found")
    kr.tx(kr.fn.withdraw(ra, subject, 0), kr.bob)
    kr.reverts(kr.fn.withdraw(ra, subject, 0), kr.bob, "KeyRegistry: no such attestation")


def test_attestation_survives_transfer_of_attester(kr, setup):
    subject, ra = setup
    kr.tx(kr.fn.attest(ra, subject, 0, P1, 0), kr.bob)
    kr.tx(kr.fn.transfer(ra, kr.dave), kr.bob)
    kr.reverts(kr.fn.withdraw(ra, subject, 0), kr.bob, "KeyRegistry: not owner or operator")
    kr.tx(kr.fn.withdraw(ra, subject, 0), kr.dave)
    assert namehash("ra.test") == ra


def test_subject_owner_clears_unwanted_attestations(kr, setup):
    """Strangers can attest any record; its owner (or operator) can clear what it did not want,
    so nobody can fill the 16 slots to lock out a real registration authority."""
    subject, ra = setup
    spam = [kr.register(f"spam{i}.test", kr.carol) for i in range(16)]
    for s in spam:
        kr.tx(kr.fn.attest(s, subject, 0, P1, 0), kr.carol)
    kr.reverts(kr.fn.attest(ra, subject, 0, P1, 0), kr.bob, "KeyRegistry: too many attestations")
    receipt = kr.tx(kr.fn.withdraw(spam[0], subject, 0), kr.alice)      # the subject's owner
    assert kr.event(receipt, "AttestationWithdrawn") == {
        "node": subject, "index": 0, "attester": spam[0]}  # fmt: skip
    kr.tx(kr.fn.set_operator(subject, kr.dave, True), kr.alice)
    kr.tx(kr.fn.withdraw(spam[1], subject, 0), kr.dave)                 # its operator
    kr.tx(kr.fn.attest(ra, subject, 0, P1, 0), kr.bob)
    live = {att(a)["attester"] for a in kr.fn.attestations(subject, 0).call()}
    assert ra in live and spam[0] not in live and spam[1] not in live and len(live) == 15
    # the subject's owner cannot clear attestations of another name's records
    other = kr.register("other.test", kr.dave)
    kr.publish(other, b"other key", sender=kr.dave)
    kr.tx(kr.fn.attest(ra, other, 0, P1, 0), kr.bob)
    kr.reverts(kr.fn.withdraw(ra, other, 0), kr.alice, "KeyRegistry: not owner or operator")
