"""KeyRegistry key records: publish, revoke, rotate, expiry, durable material,
unbounded history (records keyed by commitment)."""

from __future__ import annotations

import os

import pytest

from registry.keys._common import commitment

ED25519 = b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20" + bytes(range(32))
ACTIVE, EXPIRED, REVOKED, PENDING = 0, 1, 2, 3
RECORD_FIELDS = (
    "commitment", "index", "key_type", "purposes", "status", "reason", "durable",
    "valid_from", "valid_until", "published_at", "revoked_at",
)  # fmt: skip
C = commitment(1, ED25519)


def rec(raw):
    return dict(zip(RECORD_FIELDS, raw, strict=True))


def record(kr, node, c):
    return rec(kr.fn.record(node, c).call())


def statuses(kr, node, cs):
    return [rec(r)["status"] for r in kr.fn.records(node, cs).call()]


@pytest.fixture
def node(kr):
    return kr.register("example.org")


def test_publish_event_and_record(kr, node):
    now = kr.now()
    call = kr.fn.publish(node, 1, 1 | 2, now - 10, now + 1000, ED25519, b"sshsig", False)
    assert call.call({"from": kr.alice}) == 0
    receipt = kr.tx(call, kr.alice)
    ev = kr.event(receipt, "KeyPublished")
    assert ev == {
        "node": node, "index": 0, "commitment": C, "key_type": 1, "purposes": 3,
        "valid_from": now - 10, "valid_until": now + 1000, "durable": False,
        "material": ED25519, "proof": b"sshsig",
    }  # fmt: skip
    assert kr.fn.record_count(node).call() == 1
    r = record(kr, node, C)
    assert r == {
        "commitment": C, "index": 0, "key_type": 1, "purposes": 3, "status": ACTIVE,
        "reason": 0, "durable": False, "valid_from": now - 10, "valid_until": now + 1000,
        "published_at": kr.block_time(receipt), "revoked_at": 0,
    }  # fmt: skip
    assert [rec(x) for x in kr.fn.records(node, [C]).call()] == [r]
    assert kr.fn.durable_at(node, 0).call() == b"\x00" * 32
    kr.call_reverts(kr.fn.material(node, C), "KeyRegistry: not durable")
    kr.call_reverts(kr.fn.record(node, commitment(2, ED25519)), "KeyRegistry: no such record")


def test_publish_returns_successive_indexes_and_commitments(kr, node):
    for i, kt in enumerate([1, 2, 3, 1, 2]):
        material = os.urandom(40 + i * 300)
        receipt = kr.publish(node, material, key_type=kt, purposes=1 << (i % 7))
        ev = kr.event(receipt, "KeyPublished")
        assert ev["index"] == i
        # the stored commitment is keccak256(uint8(key_type) || the logged material)
        assert ev["commitment"] == commitment(ev["key_type"], ev["material"])
        r = record(kr, node, ev["commitment"])
        assert (r["commitment"], r["index"]) == (ev["commitment"], i)
    assert kr.fn.record_count(node).call() == 5


def test_same_material_under_different_type_is_distinct(kr, node):
    kr.publish(node, ED25519, key_type=1)
    kr.publish(node, ED25519, key_type=2)
    assert kr.fn.record_count(node).call() == 2
    assert record(kr, node, commitment(2, ED25519))["index"] == 1


def test_statuses_follow_block_time(kr, node):
    now = kr.now()
    kr.publish(node, b"pending", valid_from=now + 100, valid_until=now + 200)
    kr.publish(node, b"expiring", valid_from=0, valid_until=now + 50)
    kr.publish(node, b"forever")
    cs = [commitment(1, m) for m in (b"pending", b"expiring", b"forever")]
    assert statuses(kr, node, cs) == [PENDING, ACTIVE, ACTIVE]
    kr.travel(100)
    assert statuses(kr, node, cs) == [ACTIVE, EXPIRED, ACTIVE]
    kr.travel(100)  # valid_until == block time counts as expired
    assert statuses(kr, node, cs) == [EXPIRED, EXPIRED, ACTIVE]


def test_publish_refusals(kr, node):
    def pub(kt=1, purposes=1, vf=0, vu=0, material=ED25519, n=node):
        return kr.fn.publish(n, kt, purposes, vf, vu, material, b"", False)

    kr.reverts(pub(n=b"\x09" * 32), kr.alice, "KeyRegistry: name not found")
    kr.reverts(pub(), kr.bob, "KeyRegistry: not owner or operator")
    for kt in (0, 4, 255):
        kr.reverts(pub(kt=kt), kr.alice, "KeyRegistry: bad key type")
    for purposes in (0, 128, 65535):
        kr.reverts(pub(purposes=purposes), kr.alice, "KeyRegistry: bad purposes")
    kr.reverts(pub(vf=100, vu=100), kr.alice, "KeyRegistry: bad validity")
    kr.reverts(pub(vf=100, vu=99), kr.alice, "KeyRegistry: bad validity")
    kr.reverts(pub(vf=2**40, vu=0), kr.alice, "KeyRegistry: bad validity")
    kr.reverts(pub(vf=0, vu=2**40), kr.alice, "KeyRegistry: bad validity")
    kr.reverts(pub(material=b""), kr.alice, "KeyRegistry: empty material")
    kr.tx(pub(vf=0, vu=2**40 - 1), kr.alice)
    assert record(kr, node, C)["valid_until"] == 2**40 - 1
    kr.reverts(pub(), kr.alice, "KeyRegistry: key already active")
    kr.tx(kr.fn.revoke(node, C, 1, b""), kr.alice)
    kr.reverts(pub(), kr.alice, "KeyRegistry: key revoked")
    kr.reverts(pub(purposes=2, vu=5), kr.alice, "KeyRegistry: key revoked")


def test_expired_key_counts_as_already_active(kr, node):
    now = kr.now()
    kr.publish(node, ED25519, valid_from=now - 10, valid_until=now + 1)
    kr.travel(10)
    kr.reverts(
        kr.fn.publish(node, 1, 1, 0, 0, ED25519, b"", False),
        kr.alice,
        "KeyRegistry: key already active",
    )


def test_history_is_unbounded_and_every_old_key_stays_refused(kr, node):
    """Past v1's 32-record cap: a name that rotates for years is never locked out, and
    each commitment ever recorded (revoked or not) is found without any scan."""
    materials = [b"key-%03d" % i for i in range(40)]
    for i, m in enumerate(materials):
        kr.publish(node, m)
        if i % 2:
            kr.tx(kr.fn.revoke(node, commitment(1, m), 4, b""), kr.alice)
    assert kr.fn.record_count(node).call() == 40
    for i, m in enumerate(materials):
        reason = "KeyRegistry: key revoked" if i % 2 else "KeyRegistry: key already active"
        kr.reverts(kr.fn.publish(node, 1, 1, 0, 0, m, b"", False), kr.alice, reason)
    got = [rec(r) for r in kr.fn.records(node, [commitment(1, m) for m in materials]).call()]
    assert [r["index"] for r in got] == list(range(40))
    assert [r["status"] for r in got] == [ACTIVE, REVOKED] * 20


def test_revoke(kr, node):
    kr.publish(node, ED25519)
    kr.publish(node, b"second")
    c2 = commitment(1, b"second")
    kr.reverts(kr.fn.revoke(node, C, 1, b""), kr.bob, "KeyRegistry: not owner or operator")
    kr.reverts(kr.fn.revoke(b"\x07" * 32, C, 1, b""), kr.alice, "KeyRegistry: name not found")
    kr.reverts(kr.fn.revoke(node, commitment(1, b"never"), 1, b""), kr.alice,
               "KeyRegistry: no such record")
    for reason in (6, 7, 8, 11, 255):
        kr.reverts(kr.fn.revoke(node, c2, reason, b""), kr.alice, "KeyRegistry: bad reason")
    receipt = kr.tx(kr.fn.revoke(node, c2, 1, b"revocation signature"), kr.alice)
    assert kr.event(receipt, "KeyRevoked") == {
        "node": node, "index": 1, "commitment": c2, "reason": 1,
        "revocation": b"revocation signature",
    }  # fmt: skip
    r = record(kr, node, c2)
    assert (r["status"], r["reason"], r["revoked_at"]) == (REVOKED, 1, kr.block_time(receipt))
    assert record(kr, node, C)["status"] == ACTIVE
    kr.reverts(kr.fn.revoke(node, c2, 4, b""), kr.alice, "KeyRegistry: already revoked")
    # every permanent reason code is accepted
    for i, reason in enumerate((0, 2, 3, 4, 5, 9, 10)):
        kr.publish(node, b"r%d" % i)
        kr.tx(kr.fn.revoke(node, commitment(1, b"r%d" % i), reason, b""), kr.alice)
        assert record(kr, node, commitment(1, b"r%d" % i))["reason"] == reason


def test_revocation_bytes_are_bounded(kr, node):
    from eth_tester.exceptions import TransactionFailed

    kr.publish(node, ED25519)
    assert kr.fn.MAX_REVOCATION().call() == 4096
    with pytest.raises(TransactionFailed):
        kr.fn.revoke(node, C, 1, b"x" * 4097).call({"from": kr.alice})
    receipt = kr.tx(kr.fn.revoke(node, C, 1, b"x" * 4096), kr.alice)
    assert kr.event(receipt, "KeyRevoked")["revocation"] == b"x" * 4096


def test_revoked_wins_over_expiry(kr, node):
    now = kr.now()
    kr.publish(node, ED25519, valid_until=now + 5)
    kr.tx(kr.fn.revoke(node, C, 5, b""), kr.alice)
    kr.travel(50)
    assert record(kr, node, C)["status"] == REVOKED


def test_operator_can_manage_keys(kr, node):
    kr.tx(kr.fn.set_operator(node, kr.bob, True), kr.alice)
    kr.publish(node, ED25519, sender=kr.bob)
    kr.tx(kr.fn.revoke(node, C, 4, b""), kr.bob)
    kr.publish(node, b"next", sender=kr.bob)
    kr.tx(kr.fn.rotate(node, commitment(1, b"next"), 4, b"", 2, 4, 0, 0, b"after", b"", False),
          kr.bob)
    assert kr.fn.record_count(node).call() == 3


def test_rotate(kr, node):
    kr.publish(node, ED25519)
    now = kr.now()
    call = kr.fn.rotate(node, C, 4, b"rev", 2, 4 | 8, now, now + 10, b"openpgp cert", b"sig",
                        False)  # fmt: skip
    kr.reverts(call, kr.bob, "KeyRegistry: not owner or operator")
    assert call.call({"from": kr.alice}) == 1
    receipt = kr.tx(call, kr.alice)
    assert kr.event(receipt, "KeyRevoked") == {
        "node": node, "index": 0, "commitment": C, "reason": 4, "revocation": b"rev",
    }  # fmt: skip
    pub = kr.event(receipt, "KeyPublished")
    new = commitment(2, b"openpgp cert")
    assert pub["index"] == 1 and pub["commitment"] == new
    assert pub["material"] == b"openpgp cert" and pub["proof"] == b"sig"
    assert kr.event(receipt, "KeyRotated") == {"node": node, "old_index": 0, "new_index": 1}
    records = [rec(r) for r in kr.fn.records(node, [C, new]).call()]
    assert [r["status"] for r in records] == [REVOKED, ACTIVE]
    assert records[0]["reason"] == 4
    assert (records[1]["key_type"], records[1]["purposes"]) == (2, 12)
    # log order: revoked, published, rotated
    sigs = [
        "KeyRevoked(bytes32,uint256,bytes32,uint8,bytes)",
        "KeyPublished(bytes32,uint256,bytes32,uint8,uint16,uint64,uint64,bool,bytes,bytes)",
        "KeyRotated(bytes32,uint256,uint256)",
    ]
    assert [bytes(log["topics"][0]) for log in receipt.logs] == [kr.w3.keccak(text=s) for s in sigs]


def test_rotate_refusals(kr, node):
    kr.publish(node, ED25519)

    def rot(old=C, reason=4, kt=1, material=b"new"):
        return kr.fn.rotate(node, old, reason, b"", kt, 1, 0, 0, material, b"", False)

    kr.reverts(rot(old=commitment(1, b"nope")), kr.alice, "KeyRegistry: no such record")
    kr.reverts(rot(reason=6), kr.alice, "KeyRegistry: bad reason")
    # rotating to the same key: the old one is revoked first, so it can never come back
    kr.reverts(rot(material=ED25519), kr.alice, "KeyRegistry: key revoked")
    kr.reverts(rot(kt=9), kr.alice, "KeyRegistry: bad key type")
    kr.tx(rot(), kr.alice)
    kr.reverts(rot(material=b"newer"), kr.alice, "KeyRegistry: already revoked")


@pytest.mark.parametrize("size", [1, 51, 1300, 12288])
def test_durable_material_round_trip(kr, node, size):
    material = os.urandom(size)
    receipt = kr.publish(node, material, key_type=3, purposes=16, durable=True, proof=b"p" * 2048)
    ev = kr.event(receipt, "KeyPublished")
    c = commitment(3, material)
    assert ev["durable"] is True and ev["material"] == material
    assert kr.fn.material(node, c).call() == material
    assert kr.fn.durable_at(node, 0).call() == c  # enumerable without logs (history expiry)
    r = record(kr, node, c)
    assert r["durable"] is True and r["commitment"] == c


def test_durable_survives_revocation(kr, node):
    kr.publish(node, ED25519, durable=True)
    kr.publish(node, b"plain")
    kr.tx(kr.fn.revoke(node, C, 1, b""), kr.alice)
    assert kr.fn.material(node, C).call() == ED25519
    kr.call_reverts(kr.fn.material(node, commitment(1, b"plain")), "KeyRegistry: not durable")
    assert kr.fn.durable_at(node, 1).call() == b"\x00" * 32


def test_oversized_arguments_are_refused(kr, node):
    from eth_tester.exceptions import TransactionFailed

    with pytest.raises(TransactionFailed):
        kr.fn.publish(node, 1, 1, 0, 0, b"x" * 12289, b"", False).call({"from": kr.alice})
    with pytest.raises(TransactionFailed):
        kr.fn.publish(node, 1, 1, 0, 0, b"x", b"x" * 2049, False).call({"from": kr.alice})
    with pytest.raises(TransactionFailed):
        kr.fn.records(node, [C] * 129).call()


def test_constants(kr):
    assert kr.fn.MAX_MATERIAL().call() == 12288
    assert kr.fn.MAX_PROOF().call() == 2048
    assert kr.fn.MAX_REVOCATION().call() == 4096
    assert kr.fn.MAX_BATCH().call() == 128
    assert kr.fn.MAX_TIME().call() == 2**40
