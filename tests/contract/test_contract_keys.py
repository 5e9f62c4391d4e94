"""KeyRegistry key records: publish, revoke, rotate, expiry, durable material."""

from __future__ import annotations

import os

import pytest

from registry.keys._common import commitment

ED25519 = b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20" + bytes(range(32))
ACTIVE, EXPIRED, REVOKED, PENDING = 0, 1, 2, 3
RECORD_FIELDS = (
    "commitment", "key_type", "purposes", "status", "reason", "durable",
    "valid_from", "valid_until", "published_at", "revoked_at",
)  # fmt: skip


def rec(raw):
    return dict(zip(RECORD_FIELDS, raw, strict=True))


@pytest.fixture
def node(kr):
    return kr.register("example.org")


def test_publish_event_and_record(kr, node):
    now = kr.now()
    call = kr.fn.publish(node, 1, 1 | 2, now - 10, now + 1000, ED25519, b"sshsig", False)
    assert call.call({"from": kr.alice}) == 0
    receipt = kr.tx(call, kr.alice)
    ev = kr.event(receipt, "KeyPublished")
    c = commitment(1, ED25519)
    assert ev == {
        "node": node, "index": 0, "commitment": c, "key_type": 1, "purposes": 3,
        "valid_from": now - 10, "valid_until": now + 1000, "durable": False,
        "material": ED25519, "proof": b"sshsig",
    }  # fmt: skip
    assert kr.fn.record_count(node).call() == 1
    r = rec(kr.fn.record(node, 0).call())
    assert r == {
        "commitment": c, "key_type": 1, "purposes": 3, "status": ACTIVE, "reason": 0,
        "durable": False, "valid_from": now - 10, "valid_until": now + 1000,
        "published_at": 0, "revoked_at": 0,
    }  # fmt: skip
    assert [rec(x) for x in kr.fn.records(node).call()] == [r]
    kr.call_reverts(kr.fn.material(node, 0), "KeyRegistry: not durable")
    kr.call_reverts(kr.fn.record(node, 1), "KeyRegistry: no such record")


def test_publish_returns_successive_indexes_and_commitments(kr, node):
    for i, kt in enumerate([1, 2, 3, 1, 2]):
        material = os.urandom(40 + i * 300)
        receipt = kr.publish(node, material, key_type=kt, purposes=1 << (i % 7))
        ev = kr.event(receipt, "KeyPublished")
        assert ev["index"] == i
        # the stored commitment is keccak256(uint8(key_type) || the logged material)
        assert ev["commitment"] == commitment(ev["key_type"], ev["material"])
        assert rec(kr.fn.record(node, i).call())["commitment"] == ev["commitment"]
    assert kr.fn.record_count(node).call() == 5


def test_same_material_under_different_type_is_distinct(kr, node):
    kr.publish(node, ED25519, key_type=1)
    kr.publish(node, ED25519, key_type=2)
    assert kr.fn.record_count(node).call() == 2


def test_statuses_follow_block_time(kr, node):
    now = kr.now()
    kr.publish(node, b"pending", valid_from=now + 100, valid_until=now + 200)
    kr.publish(node, b"expiring", valid_from=0, valid_until=now + 50)
    kr.publish(node, b"forever")
    statuses = [rec(r)["status"] for r in kr.fn.records(node).call()]
    assert statuses == [PENDING, ACTIVE, ACTIVE]
    kr.travel(100)
    assert [rec(r)["status"] for r in kr.fn.records(node).call()] == [ACTIVE, EXPIRED, ACTIVE]
    kr.travel(100)  # valid_until == block time counts as expired
    assert [rec(r)["status"] for r in kr.fn.records(node).call()] == [EXPIRED, EXPIRED, ACTIVE]


def test_publish_refusals(kr, node):
    def pub(kt=1, purposes=1, vf=0, vu=0, material=ED25519, sender=kr.alice, n=node):
        return kr.fn.publish(n, kt, purposes, vf, vu, material, b"", False)

    kr.reverts(pub(n=b"\x09" * 32), kr.alice, "KeyRegistry: name not found")
    kr.reverts(pub(), kr.bob, "KeyRegistry: not owner or operator")
    for kt in (0, 4, 255):
        kr.reverts(pub(kt=kt), kr.alice, "KeyRegistry: bad key type")
    for purposes in (0, 128, 65535):
        kr.reverts(pub(purposes=purposes), kr.alice, "KeyRegistry: bad purposes")
    kr.reverts(pub(vf=100, vu=100), kr.alice, "KeyRegistry: bad validity")
    kr.reverts(pub(vf=100, vu=99), kr.alice, "KeyRegistry: bad validity")
    kr.reverts(pub(vf=2**38, vu=0), kr.alice, "KeyRegistry: bad validity")
    kr.reverts(pub(vf=0, vu=2**38), kr.alice, "KeyRegistry: bad validity")
    kr.reverts(pub(material=b""), kr.alice, "KeyRegistry: empty material")
    kr.tx(pub(vf=0, vu=2**38 - 1), kr.alice)
    kr.reverts(pub(), kr.alice, "KeyRegistry: key already active")
    kr.tx(kr.fn.revoke(node, 0, 1), kr.alice)
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


def test_too_many_records_and_duplicate_scan(kr, node):
    materials = [b"key-%02d" % i for i in range(32)]
    for m in materials:
        kr.publish(node, m)
    assert kr.fn.record_count(node).call() == 32
    kr.reverts(
        kr.fn.publish(node, 1, 1, 0, 0, b"another", b"", False),
        kr.alice,
        "KeyRegistry: too many records",
    )
    # every earlier commitment is still found, whatever the bloom filter says
    fresh = kr.register("fresh.example")
    for m in materials[:20]:
        kr.publish(fresh, m)
    for m in materials[:20]:
        kr.reverts(
            kr.fn.publish(fresh, 1, 1, 0, 0, m, b"", False),
            kr.alice,
            "KeyRegistry: key already active",
        )
    records = [rec(r) for r in kr.fn.records(node).call()]
    assert [r["commitment"] for r in records] == [commitment(1, m) for m in materials]


def test_revoke(kr, node):
    kr.publish(node, ED25519)
    kr.publish(node, b"second")
    kr.reverts(kr.fn.revoke(node, 0, 1), kr.bob, "KeyRegistry: not owner or operator")
    kr.reverts(kr.fn.revoke(b"\x07" * 32, 0, 1), kr.alice, "KeyRegistry: name not found")
    kr.reverts(kr.fn.revoke(node, 2, 1), kr.alice, "KeyRegistry: no such record")
    for reason in (6, 7, 8, 11, 255):
        kr.reverts(kr.fn.revoke(node, 1, reason), kr.alice, "KeyRegistry: bad reason")
    receipt = kr.tx(kr.fn.revoke(node, 1, 1), kr.alice)
    assert kr.event(receipt, "KeyRevoked") == {
        "node": node, "index": 1, "commitment": commitment(1, b"second"), "reason": 1,
    }  # fmt: skip
    r = rec(kr.fn.record(node, 1).call())
    assert (r["status"], r["reason"], r["revoked_at"]) == (REVOKED, 1, kr.block_time(receipt))
    assert rec(kr.fn.record(node, 0).call())["status"] == ACTIVE
    kr.reverts(kr.fn.revoke(node, 1, 4), kr.alice, "KeyRegistry: already revoked")
    # every permanent reason code is accepted
    for i, reason in enumerate((0, 2, 3, 4, 5, 9, 10)):
        kr.publish(node, b"r%d" % i)
        kr.tx(kr.fn.revoke(node, 2 + i, reason), kr.alice)
        assert rec(kr.fn.record(node, 2 + i).call())["reason"] == reason


def test_revoked_wins_over_expiry(kr, node):
    now = kr.now()
    kr.publish(node, ED25519, valid_until=now + 5)
    kr.tx(kr.fn.revoke(node, 0, 5), kr.alice)
    kr.travel(50)
    assert rec(kr.fn.record(node, 0).call())["status"] == REVOKED


def test_operator_can_manage_keys(kr, node):
    kr.tx(kr.fn.set_operator(node, kr.bob, True), kr.alice)
    kr.publish(node, ED25519, sender=kr.bob)
    kr.tx(kr.fn.revoke(node, 0, 4), kr.bob)
    kr.publish(node, b"next", sender=kr.bob)
    kr.tx(kr.fn.rotate(node, 1, 4, 2, 4, 0, 0, b"after", b"", False), kr.bob)
    assert kr.fn.record_count(node).call() == 3


def test_rotate(kr, node):
    kr.publish(node, ED25519)
    now = kr.now()
    call = kr.fn.rotate(node, 0, 4, 2, 4 | 8, now, now + 10, b"openpgp cert", b"sig", False)
    kr.reverts(call, kr.bob, "KeyRegistry: not owner or operator")
    assert call.call({"from": kr.alice}) == 1
    receipt = kr.tx(call, kr.alice)
    assert kr.event(receipt, "KeyRevoked") == {
        "node": node, "index": 0, "commitment": commitment(1, ED25519), "reason": 4,
    }  # fmt: skip
    pub = kr.event(receipt, "KeyPublished")
    assert pub["index"] == 1 and pub["commitment"] == commitment(2, b"openpgp cert")
    assert pub["material"] == b"openpgp cert" and pub["proof"] == b"sig"
    assert kr.event(receipt, "KeyRotated") == {"node": node, "old_index": 0, "new_index": 1}
    records = [rec(r) for r in kr.fn.records(node).call()]
    assert [r["status"] for r in records] == [REVOKED, ACTIVE]
    assert records[0]["reason"] == 4
    assert (records[1]["key_type"], records[1]["purposes"]) == (2, 12)
    # log order: revoked, published, rotated
    sigs = [
        "KeyRevoked(bytes32,uint256,bytes32,uint8)",
        "KeyPublished(bytes32,uint256,bytes32,uint8,uint16,uint64,uint64,bool,bytes,bytes)",
        "KeyRotated(bytes32,uint256,uint256)",
    ]
    assert [bytes(log["topics"][0]) for log in receipt.logs] == [kr.w3.keccak(text=s) for s in sigs]


def test_rotate_refusals(kr, node):
    kr.publish(node, ED25519)
    kr.reverts(
        kr.fn.rotate(node, 1, 4, 1, 1, 0, 0, b"new", b"", False),
        kr.alice,
        "KeyRegistry: no such record",
    )
    kr.reverts(
        kr.fn.rotate(node, 0, 6, 1, 1, 0, 0, b"new", b"", False),
        kr.alice,
        "KeyRegistry: bad reason",
    )
    # rotating to the same key: the old one is revoked first, so it can never come back
    kr.reverts(
        kr.fn.rotate(node, 0, 4, 1, 1, 0, 0, ED25519, b"", False),
        kr.alice,
        "KeyRegistry: key revoked",
    )
    kr.reverts(
        kr.fn.rotate(node, 0, 4, 9, 1, 0, 0, b"new", b"", False),
        kr.alice,
        "KeyRegistry: bad key type",
    )
    kr.tx(kr.fn.rotate(node, 0, 4, 1, 1, 0, 0, b"new", b"", False), kr.alice)
    kr.reverts(
        kr.fn.rotate(node, 0, 4, 1, 1, 0, 0, b"newer", b"", False),
        kr.alice,
        "KeyRegistry: already revoked",
    )


@pytest.mark.parametrize("size", [1, 51, 1300, 12288])
def test_durable_material_round_trip(kr, node, size):
    material = os.urandom(size)
    receipt = kr.publish(node, material, key_type=3, purposes=16, durable=True, proof=b"p" * 2048)
    ev = kr.event(receipt, "KeyPublished")
    assert ev["durable"] is True and ev["material"] == material
    assert kr.fn.material(node, 0).call() == material
    r = rec(kr.fn.record(node, 0).call())
    assert r["durable"] is True and r["commitment"] == commitment(3, material)


def test_durable_survives_revocation(kr, node):
    kr.publish(node, ED25519, durable=True)
    kr.publish(node, b"plain")
    kr.tx(kr.fn.revoke(node, 0, 1), kr.alice)
    assert kr.fn.material(node, 0).call() == ED25519
    kr.call_reverts(kr.fn.material(node, 1), "KeyRegistry: not durable")


def test_oversized_arguments_are_refused(kr, node):
    from eth_tester.exceptions import TransactionFailed

    with pytest.raises(TransactionFailed):
        kr.fn.publish(node, 1, 1, 0, 0, b"x" * 12289, b"", False).call({"from": kr.alice})
    with pytest.raises(TransactionFailed):
        kr.fn.publish(node, 1, 1, 0, 0, b"x", b"x" * 2049, False).call({"from": kr.alice})


def test_constants(kr):
    assert kr.fn.MAX_RECORDS().call() == 32
    assert kr.fn.MAX_MATERIAL().call() == 12288
    assert kr.fn.MAX_PROOF().call() == 2048
    assert kr.fn.MAX_ATTESTATIONS().call() == 16
    assert kr.fn.MAX_TIME().call() == 2**38
