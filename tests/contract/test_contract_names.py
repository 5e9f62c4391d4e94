"""KeyRegistry names: register, assign, reclaim, renounce, transfer, set_operator.

Each behaviour checks the event, the state read back, and the refusal of an
unauthorised caller with the exact revert reason (docs/CONTRACT.md).
"""

from __future__ import annotations

import pytest

from registry.names import labelhash, namehash

ZERO32 = b"\x00" * 32
ZERO_ADDR = "0x" + "00" * 20


def test_register_emits_and_records_owner(kr):
    node = kr.fn.register("example.org").call({"from": kr.alice})
    assert node == namehash("example.org")
    receipt = kr.tx(kr.fn.register("example.org"), kr.alice)
    ev = kr.event(receipt, "NameRegistered")
    assert ev == {
        "node": node,
        "parent": ZERO32,
        "owner": kr.alice,
        "label": "example.org",
        "person": False,
    }
    assert kr.fn.owner(node).call() == kr.alice
    assert kr.fn.parent(node).call() == ZERO32
    assert kr.fn.is_person(node).call() is False
    assert kr.fn.renounced(node).call() is False
    assert kr.fn.record_count(node).call() == 0
    assert kr.fn.records(node).call() == []


@pytest.mark.parametrize(
    "name",
    ["a", "org", "example.org", "a-b.c0.example.org", "x" * 63 + ".org", ".".join(["a"] * 127)],
)
def test_register_namehash_matches_client(kr, name):
    assert kr.fn.register(name).call({"from": kr.bob}) == namehash(name)


@pytest.mark.parametrize(
    "name",
    [
        "", ".", "a.", ".a", "a..b", "-a.org", "a-.org", "Example.org", "a_b.org", "a b",
        "alice@example.org", "x" * 64 + ".org", "é.org", "a.org\n",
    ],
)  # fmt: skip
def test_register_refuses_invalid_names(kr, name):
    kr.reverts(kr.fn.register(name), kr.alice, "KeyRegistry: invalid name")


def test_register_first_come_first_served(kr):
    kr.register("example.org")
    kr.reverts(kr.fn.register("example.org"), kr.bob, "KeyRegistry: name taken")
    kr.reverts(kr.fn.register("web1.example.org"), kr.bob, "KeyRegistry: parent registered")
    kr.reverts(kr.fn.register("a.b.example.org"), kr.bob, "KeyRegistry: parent registered")
    kr.reverts(kr.fn.register("example.org"), kr.alice, "KeyRegistry: name taken")
    # a name above an existing one is still free (only suffixes block)
    kr.register("org", kr.bob)
    assert kr.fn.owner(namehash("org")).call() == kr.bob


def test_assign_child_and_person(kr):
    parent = kr.register("example.org")
    receipt = kr.tx(kr.fn.assign(parent, "web1", False, kr.bob), kr.alice)
    host = namehash("web1.example.org")
    assert kr.event(receipt, "NameRegistered") == {
        "node": host, "parent": parent, "owner": kr.bob, "label": "web1", "person": False,
    }  # fmt: skip
    receipt = kr.tx(kr.fn.assign(parent, "alice.b+x_y-z", True, kr.carol), kr.alice)
    person = namehash("alice.b+x_y-z@example.org")
    ev = kr.event(receipt, "NameRegistered")
    assert ev["node"] == person and ev["person"] is True and ev["label"] == "alice.b+x_y-z"
    assert kr.fn.owner(host).call() == kr.bob
    assert kr.fn.owner(person).call() == kr.carol
    assert kr.fn.parent(person).call() == parent
    assert kr.fn.is_person(person).call() is True
    assert kr.fn.is_person(host).call() is False
    # person and host with the same label never share a node
    kr.tx(kr.fn.assign(parent, "web1", True, kr.bob), kr.alice)
    assert kr.fn.owner(namehash("web1@example.org")).call() == kr.bob
    assert namehash("web1@example.org") != host
    # the child's owner (not the parent's) assigns below a DNS child
    kr.tx(kr.fn.assign(host, "alice", True, kr.dave), kr.bob)
    assert kr.fn.owner(namehash("alice@web1.example.org")).call() == kr.dave


def test_assign_returns_namehash(kr):
    parent = kr.register("example.org")
    got = kr.fn.assign(parent, "alice", True, kr.bob).call({"from": kr.alice})
    assert got == namehash("alice@example.org")
    assert got == bytes(__import__("registry.names", fromlist=["keccak256"]).keccak256(
        parent + labelhash("alice", person=True)))  # fmt: skip


def test_assign_refusals(kr):
    parent = kr.register("example.org")
    kr.reverts(
        kr.fn.assign(b"\x01" * 32, "a", False, kr.bob), kr.alice, "KeyRegistry: name not found"
    )
    kr.reverts(kr.fn.assign(parent, "a", False, kr.bob), kr.bob, "KeyRegistry: not parent owner")
    kr.reverts(kr.fn.assign(parent, "a", False, ZERO_ADDR), kr.alice, "KeyRegistry: zero address")
    kr.tx(kr.fn.assign(parent, "alice", True, kr.bob), kr.alice)
    person = namehash("alice@example.org")
    kr.reverts(
        kr.fn.assign(person, "x", False, kr.bob),
        kr.bob,
        "KeyRegistry: person names have no children",
    )
    kr.reverts(kr.fn.assign(parent, "alice", True, kr.carol), kr.alice, "KeyRegistry: name taken")
    # an operator of the parent cannot create children
    kr.tx(kr.fn.set_operator(parent, kr.carol, True), kr.alice)
    kr.reverts(
        kr.fn.assign(parent, "b", False, kr.carol), kr.carol, "KeyRegistry: not parent owner"
    )


@pytest.mark.parametrize(
    ("label", "person"),
    [
        ("", False), ("-a", False), ("a-", False), ("a.b", False), ("A", False), ("a_b", False),
        ("x" * 64, False), ("a@b", False), ("", True), (".a", True), ("a.", True), ("a..b", True),
        ("A", True), ("a b", True), ("a@b", True), ("a/b", True),
    ],
)  # fmt: skip
def test_assign_refuses_invalid_labels(kr, label, person):
    parent = kr.register("example.org")
    kr.reverts(kr.fn.assign(parent, label, person, kr.bob), kr.alice, "KeyRegistry: invalid name")


def test_assign_accepts_edge_labels(kr):
    parent = kr.register("example.org")
    for label, person in [
        ("x" * 63, False),
        ("x" * 64, True),
        ("0", False),
        ("-x", True),
        ("_", True),
    ]:
        node = kr.fn.assign(parent, label, person, kr.bob).call({"from": kr.alice})
        text = f"{label}@example.org" if person else f"{label}.example.org"
        assert node == namehash(text)


def test_reclaim_and_renounce(kr):
    parent = kr.register("example.org")
    kr.tx(kr.fn.assign(parent, "alice", True, kr.bob), kr.alice)
    child = namehash("alice@example.org")
    kr.reverts(kr.fn.reclaim(child), kr.bob, "KeyRegistry: not parent owner")
    receipt = kr.tx(kr.fn.reclaim(child), kr.alice)
    assert kr.event(receipt, "OwnershipTransferred") == {
        "node": child, "previous": kr.bob, "owner": kr.alice,
    }  # fmt: skip
    assert kr.fn.owner(child).call() == kr.alice
    kr.tx(kr.fn.transfer(child, kr.bob), kr.alice)
    kr.reverts(kr.fn.renounce(child), kr.bob, "KeyRegistry: not parent owner")
    receipt = kr.tx(kr.fn.renounce(child), kr.alice)
    assert kr.event(receipt, "ChildRenounced") == {"node": child, "parent": parent}
    assert kr.fn.renounced(child).call() is True
    kr.reverts(kr.fn.reclaim(child), kr.alice, "KeyRegistry: renounced")
    assert kr.fn.owner(child).call() == kr.bob
    # renounce again is harmless (one-way)
    kr.tx(kr.fn.renounce(child), kr.alice)
    assert kr.fn.renounced(child).call() is True


def test_reclaim_follows_the_parent_owner(kr):
    parent = kr.register("example.org")
    kr.tx(kr.fn.assign(parent, "web1", False, kr.bob), kr.alice)
    child = namehash("web1.example.org")
    kr.tx(kr.fn.transfer(parent, kr.carol), kr.alice)
    kr.reverts(kr.fn.reclaim(child), kr.alice, "KeyRegistry: not parent owner")
    kr.tx(kr.fn.reclaim(child), kr.carol)
    assert kr.fn.owner(child).call() == kr.carol


def test_reclaim_renounce_refusals(kr):
    top = kr.register("example.org")
    for call in (kr.fn.reclaim, kr.fn.renounce):
        kr.reverts(call(top), kr.alice, "KeyRegistry: top-level name")
        kr.reverts(call(b"\x02" * 32), kr.alice, "KeyRegistry: name not found")


def test_transfer(kr):
    node = kr.register("example.org")
    kr.reverts(kr.fn.transfer(node, kr.bob), kr.bob, "KeyRegistry: not owner")
    kr.reverts(kr.fn.transfer(node, ZERO_ADDR), kr.alice, "KeyRegistry: zero address")
    kr.reverts(kr.fn.transfer(b"\x03" * 32, kr.bob), kr.alice, "KeyRegistry: name not found")
    receipt = kr.tx(kr.fn.transfer(node, kr.bob), kr.alice)
    assert kr.event(receipt, "OwnershipTransferred") == {
        "node": node, "previous": kr.alice, "owner": kr.bob,
    }  # fmt: skip
    assert kr.fn.owner(node).call() == kr.bob
    kr.reverts(kr.fn.transfer(node, kr.alice), kr.alice, "KeyRegistry: not owner")


def test_set_operator(kr):
    node = kr.register("example.org")
    kr.reverts(kr.fn.set_operator(node, kr.bob, True), kr.bob, "KeyRegistry: not owner")
    kr.reverts(kr.fn.set_operator(node, ZERO_ADDR, True), kr.alice, "KeyRegistry: zero address")
    kr.reverts(
        kr.fn.set_operator(b"\x04" * 32, kr.bob, True), kr.alice, "KeyRegistry: name not found"
    )
    receipt = kr.tx(kr.fn.set_operator(node, kr.bob, True), kr.alice)
    assert kr.event(receipt, "OperatorSet") == {
        "node": node, "owner": kr.alice, "operator": kr.bob, "approved": True,
    }  # fmt: skip
    assert kr.fn.is_operator(node, kr.bob).call() is True
    assert kr.fn.is_operator(node, kr.carol).call() is False
    # an operator manages keys but not ownership
    kr.publish(node, sender=kr.bob)
    kr.reverts(kr.fn.transfer(node, kr.bob), kr.bob, "KeyRegistry: not owner")
    kr.reverts(kr.fn.set_operator(node, kr.carol, True), kr.bob, "KeyRegistry: not owner")
    # revoke the approval
    receipt = kr.tx(kr.fn.set_operator(node, kr.bob, False), kr.alice)
    assert kr.event(receipt, "OperatorSet")["approved"] is False
    assert kr.fn.is_operator(node, kr.bob).call() is False
    kr.reverts(kr.fn.revoke(node, 0, 0), kr.bob, "KeyRegistry: not owner or operator")


def test_operators_stop_on_transfer(kr):
    node = kr.register("example.org")
    kr.tx(kr.fn.set_operator(node, kr.bob, True), kr.alice)
    kr.tx(kr.fn.transfer(node, kr.carol), kr.alice)
    assert kr.fn.is_operator(node, kr.bob).call() is False
    kr.reverts(kr.fn.revoke(node, 0, 0), kr.bob, "KeyRegistry: not owner or operator")
    # the old owner's approval is not revived for the new owner's operators
    kr.tx(kr.fn.set_operator(node, kr.dave, True), kr.carol)
    assert kr.fn.is_operator(node, kr.dave).call() is True


def test_views_of_unknown_node(kr):
    node = b"\x05" * 32
    assert kr.fn.owner(node).call() == ZERO_ADDR
    assert kr.fn.parent(node).call() == ZERO32
    assert kr.fn.record_count(node).call() == 0
    assert kr.fn.records(node).call() == []
    assert kr.fn.is_operator(node, kr.bob).call() is False
    kr.call_reverts(kr.fn.record(node, 0), "KeyRegistry: no such record")
    kr.call_reverts(kr.fn.material(node, 0), "KeyRegistry: no such record")
