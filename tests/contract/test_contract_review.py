"""KeyRegistry security review: regression tests for the bugs found in review
and for the edges the review checked (permanence at every index, packed-bit
neighbours, block-time boundaries, names the client and the chain must agree on).
"""

from __future__ import annotations

import pytest

from registry.errors import InvalidName
from registry.keys._common import commitment
from registry.names import namehash, parse_name

MAX_TIME = 2**38


def _rec(t):
    keys = ("commitment", "key_type", "purposes", "status", "reason", "durable",
            "valid_from", "valid_until", "published_at", "revoked_at")  # fmt: skip
    return dict(zip(keys, t, strict=True))


# ------------------------------------------------------------------ names


def _long_parent(kr, total: int) -> tuple[bytes, str]:
    """Register a top-level DNS name of exactly `total` bytes (labels of <= 63)."""
    labels = []
    left = total
    while left > 0:
        size = min(63, left - 2) if left > 63 else left
        labels.append("a" * size)
        left -= size + 1
    name = ".".join(labels)
    assert len(name) == total, len(name)
    return kr.register(name), name


@pytest.mark.parametrize("parent_len", [253, 250, 200])
def test_assign_refuses_dns_child_longer_than_253(kr, parent_len):
    """The client (registry.names) refuses a DNS name over 253 bytes; the chain
    must refuse to create one by assign, or the index can never rebuild its text
    (sync stops with a VerificationError for every indexer)."""
    parent, ptext = _long_parent(kr, parent_len)
    label = "b" * (253 - parent_len + 1)  # label + "." + parent = 254 bytes
    if parent_len == 253:
        label = "b"
    with pytest.raises(InvalidName):
        parse_name(f"{label}.{ptext}")
    kr.reverts(kr.fn.assign(parent, label, False, kr.bob), kr.alice, "KeyRegistry: invalid name")


def test_assign_accepts_dns_child_of_exactly_253(kr):
    parent, ptext = _long_parent(kr, 200)
    label = "c" * 52  # 52 + 1 + 200 = 253
    text = f"{label}.{ptext}"
    assert parse_name(text).text == text
    assert kr.fn.assign(parent, label, False, kr.bob).call({"from": kr.alice}) == namehash(text)
    kr.tx(kr.fn.assign(parent, label, False, kr.bob), kr.alice)
    # and under it, nothing more fits, however deep
    kr.reverts(kr.fn.assign(namehash(text), "d", False, kr.bob), kr.bob, "KeyRegistry: invalid name")
    # a person under a 253-byte domain is a valid client name (the local part is separate)
    person = f"{'e' * 64}@{text}"
    assert parse_name(person).text == person
    kr.tx(kr.fn.assign(namehash(text), "e" * 64, True, kr.carol), kr.bob)
    assert kr.fn.owner(namehash(person)).call() == kr.carol


def test_deep_chain_of_children_is_bounded_by_253(kr):
    node = kr.register("x")
    text = "x"
    while True:
        child = f"y.{text}"
        if len(child) > 253:
            kr.reverts(kr.fn.assign(node, "y", False, kr.alice), kr.alice, "KeyRegistry: invalid name")
            break
        kr.tx(kr.fn.assign(node, "y", False, kr.alice), kr.alice)
        node, text = namehash(child), child
    assert len(text) == 253


def test_length_bits_do_not_disturb_owner_flags_and_records(kr):
    parent, ptext = _long_parent(kr, 253)
    kr.tx(kr.fn.assign(parent, "alice", True, kr.bob), kr.alice)
    person = namehash(f"alice@{ptext}")
    assert kr.fn.owner(parent).call() == kr.alice
    assert kr.fn.is_person(parent).call() is False
    assert kr.fn.renounced(parent).call() is False
    assert kr.fn.record_count(parent).call() == 0
    assert kr.fn.is_person(person).call() is True
    for i in range(32):
        kr.publish(parent, b"m-%02d" % i)
    assert kr.fn.record_count(parent).call() == 32
    kr.tx(kr.fn.transfer(parent, kr.carol), kr.alice)
    assert kr.fn.owner(parent).call() == kr.carol
    # the length survives transfers, publishes and the bloom filter filling up
    kr.reverts(kr.fn.assign(parent, "z", False, kr.bob), kr.carol, "KeyRegistry: invalid name")


# ------------------------------------------------------------------ permanence


def test_revoked_commitment_never_returns_at_any_index(kr):
    """Fill all 32 records, revoke every one (both halves of every metadata
    page), then every commitment is refused as revoked, by publish and rotate."""
    node = kr.register("perm.example")
    mats = [b"perm-key-%02d" % i for i in range(32)]
    for m in mats:
        kr.publish(node, m)
    for i in range(32):
        kr.tx(kr.fn.revoke(node, i, 4), kr.alice)
    recs = [_rec(r) for r in kr.fn.records(node).call()]
    assert [r["status"] for r in recs] == [2] * 32
    assert [r["reason"] for r in recs] == [4] * 32
    assert [r["commitment"] for r in recs] == [commitment(1, m) for m in mats]
    # records are full, so the refusal would be "too many records" first: check
    # permanence on a name that still has room, with the same keys revoked there
    other = kr.register("perm2.example")
    for m in mats[:31]:
        kr.publish(other, m)
    for i in range(31):
        kr.tx(kr.fn.revoke(other, i, 1), kr.alice)
    for m in mats[:31]:
        kr.reverts(kr.fn.publish(other, 1, 1, 0, 0, m, b"", False), kr.alice, "KeyRegistry: key revoked")
    # the last slot still takes a fresh key
    kr.publish(other, b"fresh")
    assert _rec(kr.fn.record(other, 31).call())["status"] == 0


def test_revoking_one_half_leaves_the_page_neighbour_intact(kr):
    node = kr.register("page.example")
    now = kr.now()
    kr.publish(node, b"even", key_type=3, purposes=127, valid_from=MAX_TIME - 2, valid_until=MAX_TIME - 1,
               durable=True)  # fmt: skip
    kr.publish(node, b"odd", key_type=2, purposes=64, valid_from=now - 5, valid_until=MAX_TIME - 1)
    before = [_rec(r) for r in kr.fn.records(node).call()]
    kr.tx(kr.fn.revoke(node, 1, 10), kr.alice)
    after = [_rec(r) for r in kr.fn.records(node).call()]
    assert after[0] == before[0]
    assert after[1]["status"] == 2 and after[1]["reason"] == 10
    kr.tx(kr.fn.revoke(node, 0, 0), kr.alice)
    after2 = [_rec(r) for r in kr.fn.records(node).call()]
    assert after2[1] == after[1]
    assert after2[0]["reason"] == 0 and after2[0]["status"] == 2
    assert (after2[0]["key_type"], after2[0]["purposes"], after2[0]["durable"]) == (3, 127, True)
    assert (after2[0]["valid_from"], after2[0]["valid_until"]) == (MAX_TIME - 2, MAX_TIME - 1)


# ------------------------------------------------------------------ block time


def test_status_at_exact_boundaries(kr):
    """Views use the latest block's time: valid_from == now is active,
    valid_until == now is expired (docs/CONTRACT.md)."""
    node = kr.register("time.example")
    t = kr.now() + 100
    kr.publish(node, b"k", valid_from=t, valid_until=t + 50)

    def at(when):
        kr.tester.time_travel(when)  # mines a block at when - 1
        kr.tester.mine_blocks(1)
        assert kr.now() == when
        return _rec(kr.fn.record(node, 0).call())["status"]

    assert at(t - 1) == 3  # pending
    assert at(t) == 0  # valid_from == now: active
    assert at(t + 49) == 0
    assert at(t + 50) == 1  # valid_until == now: expired

