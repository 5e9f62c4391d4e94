"""KeyRegistry names: register (public and private mode), assign, reclaim, renounce,
transfer, set_operator, and the admin calls.

Each behaviour checks the event, the state read back, and the refusal of an
unauthorised caller with the exact revert reason (docs/CONTRACT.md).
"""

from __future__ import annotations

import pytest

from registry.names import labelhash, namehash
from registry.psl import EMPTY_PROOF, build_suffix_tree, suffix_tree

ZERO32 = b"\x00" * 32
ZERO_ADDR = "0x" + "00" * 20


def reg(kr, name):
    return kr.fn.register(name, kr.proof(name))


def test_register_emits_and_records_owner(kr):
    node = reg(kr, "example.org").call({"from": kr.alice})
    assert node == namehash("example.org")
    receipt = kr.tx(reg(kr, "example.org"), kr.alice)
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
    assert kr.fn.records(node, []).call() == []


@pytest.mark.parametrize(
    "name",
    ["example.org", "a-b.org", "x" * 63 + ".org", "example.co.uk", "alice.github.io",
     "foo.example", "www.ck", "b.s3.amazonaws.com", "amazonaws.com", "a.b.ck",
     "city.kawasaki.jp", "xn--fiqs8s.xn--fiqs8s", "example.0x1g"],
)  # fmt: skip
def test_register_registrable_domains(kr, name):
    assert reg(kr, name).call({"from": kr.bob}) == namehash(name)


@pytest.mark.parametrize(
    "name",
    ["org", "a", "example", "co.uk", "github.io", "s3.amazonaws.com", "b.ck", "a.kawasaki.jp",
     "www.example.org", "a.b.example.org", "x.city.kawasaki.jp", "web1.example.co.uk"],
)  # fmt: skip
def test_register_refuses_public_suffixes_and_subdomains(kr, name):
    """A TLD, a public suffix (co.uk, github.io, wildcard and exception rules) or a
    subdomain of a registrable domain is never a top-level registration."""
    assert not suffix_tree().prove(name).registrable
    kr.reverts(reg(kr, name), kr.alice, "KeyRegistry: not a registrable domain")


@pytest.mark.parametrize(
    "name",
    ["127.0.0.1", "1.2.3.4", "example.1", "example.0x7f", "example.0x", "a.0x0", "0x1",
     "example.123456", "foo.0xdeadbeef", "1"],
)
def test_register_refuses_numeric_top_level_labels(kr, kr_private, name):
    """IP literals and all-numeric TLDs (WHATWG "ends in a number"), in both modes."""
    kr.reverts(reg(kr, name), kr.alice, "KeyRegistry: numeric top-level label")
    kr_private.reverts(kr_private.fn.register(name, EMPTY_PROOF), kr_private.alice,
                       "KeyRegistry: numeric top-level label")


@pytest.mark.parametrize(
    "name",
    [
        "", ".", "a.", ".a", "a..b", "-a.org", "a-.org", "Example.org", "a_b.org", "a b",
        "alice@example.org", "x" * 64 + ".org", "é.org", "a.org\n", "::1", "[::1]",
    ],
)  # fmt: skip
def test_register_refuses_invalid_names(kr, name):
    kr.reverts(kr.fn.register(name, EMPTY_PROOF), kr.alice, "KeyRegistry: invalid name")


def test_register_refuses_bad_suffix_proofs(kr):
    good = list(kr.proof("example.org"))
    # the proof of another name, a tampered path, a wrong depth, a wrong value, a wrong gap
    kr.reverts(kr.fn.register("example.org", kr.proof("example.co.uk")), kr.alice,
               "KeyRegistry: bad suffix proof")
    for field, value in [(4, [b"\x01" * 32, *good[4][1:]]), (0, 2), (2, 2), (2, 1),
                         (3, good[3] + 1), (5, good[5][:31] + b"\x00"), (9, good[9][:-1]),
                         (0, 7)]:  # fmt: skip
        bad = list(good)
        bad[field] = value
        kr.reverts(kr.fn.register("example.org", tuple(bad)), kr.alice,
                   "KeyRegistry: bad suffix proof")
    # claiming the shallower root node for a name whose TLD is in the list fails too
    root = suffix_tree().prove("x.unknowntld")
    kr.reverts(kr.fn.register("example.org", root.as_abi()), kr.alice,
               "KeyRegistry: bad suffix proof")
    # a valid proof against another suffix list is refused (the root is the deployment's)
    other = build_suffix_tree(b"org\nexample.org\n").prove("example.org")
    kr.reverts(kr.fn.register("example.org", other.as_abi()), kr.alice,
               "KeyRegistry: bad suffix proof")


def test_register_first_come_first_served(kr):
    kr.register("example.org")
    kr.reverts(reg(kr, "example.org"), kr.bob, "KeyRegistry: name taken")
    kr.reverts(reg(kr, "example.org"), kr.alice, "KeyRegistry: name taken")
    # registrable domains are independent: amazonaws.com does not block b.s3.amazonaws.com
    kr.register("amazonaws.com", kr.bob)
    kr.register("b.s3.amazonaws.com", kr.carol)
    assert kr.fn.owner(namehash("b.s3.amazonaws.com")).call() == kr.carol


def test_private_registry(kr_private):
    kr = kr_private
    assert kr.fn.PRIVATE_MODE().call() is True
    assert kr.fn.admin().call() == kr.alice
    # the admin registers any DNS name, even a single label or a public suffix
    for name in ("corp", "co.uk"):
        receipt = kr.tx(kr.fn.register(name, EMPTY_PROOF), kr.alice)
        assert kr.event(receipt, "NameRegistered")["owner"] == kr.alice
    kr.reverts(kr.fn.register("web1.corp", EMPTY_PROOF), kr.alice,
               "KeyRegistry: parent registered")
    kr.reverts(kr.fn.register("corp", EMPTY_PROOF), kr.alice, "KeyRegistry: name taken")
    # strangers cannot; registrars the admin names can, until removed
    kr.reverts(kr.fn.register("example.org", EMPTY_PROOF), kr.bob, "KeyRegistry: not registrar")
    kr.reverts(kr.fn.set_registrar(kr.bob, True), kr.bob, "KeyRegistry: not admin")
    kr.reverts(kr.fn.set_registrar(ZERO_ADDR, True), kr.alice, "KeyRegistry: zero address")
    receipt = kr.tx(kr.fn.set_registrar(kr.bob, True), kr.alice)
    assert kr.event(receipt, "RegistrarSet") == {"registrar": kr.bob, "allowed": True}
    assert kr.fn.is_registrar(kr.bob).call() is True
    kr.tx(kr.fn.register("example.org", EMPTY_PROOF), kr.bob)
    assert kr.fn.owner(namehash("example.org")).call() == kr.bob
    kr.tx(kr.fn.set_registrar(kr.bob, False), kr.alice)
    assert kr.fn.is_registrar(kr.bob).call() is False
    kr.reverts(kr.fn.register("example.net", EMPTY_PROOF), kr.bob, "KeyRegistry: not registrar")


def test_public_registry_ignores_registrars(kr):
    assert kr.fn.PRIVATE_MODE().call() is False
    kr.tx(kr.fn.set_registrar(kr.bob, True), kr.alice)
    kr.reverts(reg(kr, "co.uk"), kr.bob, "KeyRegistry: not a registrable domain")
    kr.reverts(reg(kr, "co.uk"), kr.alice, "KeyRegistry: not a registrable domain")


def test_admin_updates_the_suffix_root(kr):
    assert kr.fn.suffix_root().call() == suffix_tree().root
    small = build_suffix_tree(b"org\nco.uk\nexample.org\n")
    kr.reverts(kr.fn.set_suffix_root(small.root), kr.bob, "KeyRegistry: not admin")
    receipt = kr.tx(kr.fn.set_suffix_root(small.root), kr.alice)
    assert kr.event(receipt, "SuffixRootSet") == {"root": small.root, "admin": kr.alice}
    assert kr.fn.suffix_root().call() == small.root
    # proofs now come from the new list: example.org became a suffix, a.example.org registrable
    kr.reverts(kr.fn.register("x.example.org", kr.proof("x.example.org")), kr.alice,
               "KeyRegistry: bad suffix proof")
    kr.reverts(kr.fn.register("example.org", small.prove("example.org").as_abi()), kr.alice,
               "KeyRegistry: not a registrable domain")
    kr.tx(kr.fn.register("x.example.org", small.prove("x.example.org").as_abi()), kr.bob)
    assert kr.fn.owner(namehash("x.example.org")).call() == kr.bob


def test_admin_hands_its_role_on(kr):
    kr.reverts(kr.fn.set_admin(kr.bob), kr.bob, "KeyRegistry: not admin")
    receipt = kr.tx(kr.fn.set_admin(kr.bob), kr.alice)
    assert kr.event(receipt, "AdminChanged") == {"previous": kr.alice, "admin": kr.bob}
    assert kr.fn.admin().call() == kr.bob
    kr.reverts(kr.fn.set_suffix_root(ZERO32), kr.alice, "KeyRegistry: not admin")
    kr.tx(kr.fn.set_admin(ZERO_ADDR), kr.bob)  # given up for good
    assert kr.fn.admin().call() == ZERO_ADDR
    kr.reverts(kr.fn.set_suffix_root(ZERO32), kr.bob, "KeyRegistry: not admin")
    kr.reverts(kr.fn.set_admin(kr.bob), kr.bob, "KeyRegistry: not admin")


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
    c = kr.commitment()
    kr.reverts(kr.fn.transfer(node, kr.bob), kr.bob, "KeyRegistry: not owner")
    kr.reverts(kr.fn.set_operator(node, kr.carol, True), kr.bob, "KeyRegistry: not owner")
    # revoke the approval
    receipt = kr.tx(kr.fn.set_operator(node, kr.bob, False), kr.alice)
    assert kr.event(receipt, "OperatorSet")["approved"] is False
    assert kr.fn.is_operator(node, kr.bob).call() is False
    kr.reverts(kr.fn.revoke(node, c, 0, b""), kr.bob, "KeyRegistry: not owner or operator")


def test_operators_stop_on_transfer(kr):
    node = kr.register("example.org")
    kr.publish(node)
    c = kr.commitment()
    kr.tx(kr.fn.set_operator(node, kr.bob, True), kr.alice)
    kr.tx(kr.fn.transfer(node, kr.carol), kr.alice)
    assert kr.fn.is_operator(node, kr.bob).call() is False
    kr.reverts(kr.fn.revoke(node, c, 0, b""), kr.bob, "KeyRegistry: not owner or operator")
    # the old owner's approval is not revived for the new owner's operators
    kr.tx(kr.fn.set_operator(node, kr.dave, True), kr.carol)
    assert kr.fn.is_operator(node, kr.dave).call() is True


def test_transfer_ends_every_approval_even_back_to_the_old_owner(kr):
    """A -> B -> A: the approvals A gave before do not come back."""
    node = kr.register("example.org")
    kr.publish(node)
    c = kr.commitment()
    kr.tx(kr.fn.set_operator(node, kr.bob, True), kr.alice)
    kr.tx(kr.fn.transfer(node, kr.carol), kr.alice)
    kr.tx(kr.fn.transfer(node, kr.alice), kr.carol)
    assert kr.fn.is_operator(node, kr.bob).call() is False
    kr.reverts(kr.fn.revoke(node, c, 0, b""), kr.bob, "KeyRegistry: not owner or operator")
    # reclaim by the parent's owner ends approvals too
    kr.tx(kr.fn.assign(node, "web1", False, kr.carol), kr.alice)
    child = namehash("web1.example.org")
    kr.tx(kr.fn.set_operator(child, kr.dave, True), kr.carol)
    assert kr.fn.is_operator(child, kr.dave).call() is True
    kr.tx(kr.fn.reclaim(child), kr.alice)
    assert kr.fn.is_operator(child, kr.dave).call() is False
    # approving again works under the new epoch
    kr.tx(kr.fn.set_operator(node, kr.bob, True), kr.alice)
    assert kr.fn.is_operator(node, kr.bob).call() is True


def test_views_of_unknown_node(kr):
    node = b"\x05" * 32
    assert kr.fn.owner(node).call() == ZERO_ADDR
    assert kr.fn.parent(node).call() == ZERO32
    assert kr.fn.record_count(node).call() == 0
    assert kr.fn.records(node, []).call() == []
    (none,) = kr.fn.records(node, [b"\x06" * 32]).call()
    assert none[2] == 0  # key_type 0: no such record
    assert kr.fn.durable_at(node, 0).call() == ZERO32
    assert kr.fn.is_operator(node, kr.bob).call() is False
    kr.call_reverts(kr.fn.record(node, b"\x06" * 32), "KeyRegistry: no such record")
    kr.call_reverts(kr.fn.material(node, b"\x06" * 32), "KeyRegistry: no such record")
