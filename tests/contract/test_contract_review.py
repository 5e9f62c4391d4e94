"""KeyRegistry security review: regression tests for the bugs found in review
and for the edges the review checked (permanence at every index, packed-bit
neighbours, block-time boundaries, names the client and the chain must agree on).
"""

from __future__ import annotations

import pytest

from registry.errors import InvalidName
from registry.keys._common import commitment
from registry.names import namehash, parse_name
from registry.psl import EMPTY_PROOF

MAX_TIME = 2**40


def _rec(t):
    keys = ("commitment", "index", "key_type", "purposes", "status", "reason", "durable",
            "valid_from", "valid_until", "published_at", "revoked_at")  # fmt: skip
    return dict(zip(keys, t, strict=True))


# ------------------------------------------------------------------ names


def _long_parent(kr, total: int) -> tuple[bytes, str]:
    """Register a top-level DNS name of exactly `total` bytes (labels of <= 63), as the
    admin of a private registry (no public suffix list has such names)."""
    labels = []
    left = total
    while left > 0:
        size = min(63, left - 2) if left > 63 else left
        labels.append("a" * size)
        left -= size + 1
    name = ".".join(labels)
    assert len(name) == total, len(name)
    kr.tx(kr.fn.register(name, EMPTY_PROOF), kr.alice)
    return namehash(name), name


@pytest.mark.parametrize("parent_len", [253, 250, 200])
def test_assign_refuses_dns_child_longer_than_253(kr_private, parent_len):
    kr = kr_private
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


def test_assign_accepts_dns_child_of_exactly_253(kr_private):
    kr = kr_private
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


def test_deep_chain_of_children_is_bounded_by_253(kr_private):
    kr = kr_private
    kr.tx(kr.fn.register("x", EMPTY_PROOF), kr.alice)
    node = namehash("x")
    text = "x"
    while True:
        child = f"y.{text}"
        if len(child) > 253:
            kr.reverts(kr.fn.assign(node, "y", False, kr.alice), kr.alice, "KeyRegistry: invalid name")
            break
        kr.tx(kr.fn.assign(node, "y", False, kr.alice), kr.alice)
        node, text = namehash(child), child
    assert len(text) == 253


def test_length_bits_do_not_disturb_owner_flags_and_records(kr_private):
    kr = kr_private
    parent, ptext = _long_parent(kr, 253)
    kr.tx(kr.fn.assign(parent, "alice", True, kr.bob), kr.alice)
    person = namehash(f"alice@{ptext}")
    assert kr.fn.owner(parent).call() == kr.alice
    assert kr.fn.is_person(parent).call() is False
    assert kr.fn.renounced(parent).call() is False
    assert kr.fn.record_count(parent).call() == 0
    assert kr.fn.is_person(person).call() is True
    for i in range(33):
        kr.publish(parent, b"m-%02d" % i)
    assert kr.fn.record_count(parent).call() == 33
    kr.tx(kr.fn.set_operator(parent, kr.dave, True), kr.alice)
    kr.tx(kr.fn.transfer(parent, kr.carol), kr.alice)
    kr.tx(kr.fn.transfer(parent, kr.alice), kr.carol)
    kr.tx(kr.fn.transfer(parent, kr.carol), kr.alice)
    assert kr.fn.owner(parent).call() == kr.carol
    assert kr.fn.record_count(parent).call() == 33
    assert kr.fn.is_operator(parent, kr.dave).call() is False
    # the length survives transfers (epoch bumps) and publishes (count)
    kr.reverts(kr.fn.assign(parent, "z", False, kr.bob), kr.carol, "KeyRegistry: invalid name")


# ------------------------------------------------------------------ permanence


def test_revoked_commitment_never_returns_at_any_index(kr):
    """Revoke every record of a long history: every commitment is refused as revoked
    by publish and by rotate, at low and high indexes alike."""
    node = kr.register("perm.example")
    mats = [b"perm-key-%02d" % i for i in range(36)]
    for m in mats:
        kr.publish(node, m)
    cs = [commitment(1, m) for m in mats]
    for c in cs:
        kr.tx(kr.fn.revoke(node, c, 4, b""), kr.alice)
    recs = [_rec(r) for r in kr.fn.records(node, cs).call()]
    assert [r["status"] for r in recs] == [2] * 36
    assert [r["reason"] for r in recs] == [4] * 36
    assert [r["index"] for r in recs] == list(range(36))
    for m in mats:
        kr.reverts(kr.fn.publish(node, 1, 1, 0, 0, m, b"", False), kr.alice, "KeyRegistry: key revoked")
    kr.publish(node, b"fresh")
    fresh = commitment(1, b"fresh")
    for m in (mats[0], mats[-1]):
        kr.reverts(kr.fn.rotate(node, fresh, 4, b"", 1, 1, 0, 0, m, b"", False), kr.alice,
                   "KeyRegistry: key revoked")
    assert _rec(kr.fn.record(node, fresh).call())["status"] == 0


def test_fields_of_one_word_do_not_disturb_each_other(kr):
    """Every field of the packed record word at its maximum, then revoked with the
    highest reason: no field bleeds into its neighbour (docs/CONTRACT.md bit layout)."""
    node = kr.register("page.example")
    now = kr.now()
    kr.publish(node, b"max", key_type=3, purposes=127, valid_from=MAX_TIME - 2,
               valid_until=MAX_TIME - 1, durable=True)  # fmt: skip
    kr.publish(node, b"other", key_type=2, purposes=64, valid_from=now - 5, valid_until=MAX_TIME - 1)
    c_max, c_other = commitment(3, b"max"), commitment(2, b"other")
    before = [_rec(r) for r in kr.fn.records(node, [c_max, c_other]).call()]
    kr.tx(kr.fn.revoke(node, c_other, 10, b""), kr.alice)
    after = [_rec(r) for r in kr.fn.records(node, [c_max, c_other]).call()]
    assert after[0] == before[0]
    assert after[1]["status"] == 2 and after[1]["reason"] == 10 and after[1]["index"] == 1
    assert after[1]["valid_until"] == MAX_TIME - 1 and after[1]["purposes"] == 64
    kr.tx(kr.fn.revoke(node, c_max, 0, b""), kr.alice)
    got = _rec(kr.fn.record(node, c_max).call())
    assert got["reason"] == 0 and got["status"] == 2 and got["index"] == 0
    assert (got["key_type"], got["purposes"], got["durable"]) == (3, 127, True)
    assert (got["valid_from"], got["valid_until"]) == (MAX_TIME - 2, MAX_TIME - 1)
    assert got["published_at"] == before[0]["published_at"] and got["revoked_at"] >= now


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
        return _rec(kr.fn.record(node, commitment(1, b"k")).call())["status"]

    assert at(t - 1) == 3  # pending
    assert at(t) == 0  # valid_from == now: active
    assert at(t + 49) == 0
    assert at(t + 50) == 1  # valid_until == now: expired

