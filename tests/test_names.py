"""Name grammar, normalisation and namehash (must agree with ENS and the contract)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.errors import InvalidName
from registry.names import keccak256, labelhash, namehash, parse_name


def ens_namehash(name: str) -> bytes:
    """Reference ENS namehash (EIP-137) written independently of registry.names."""
    node = b"\x00" * 32
    if name:
        for label in reversed(name.split(".")):
            node = keccak256(node + keccak256(label.encode()))
    return node


def test_keccak_known_vectors() -> None:
    assert keccak256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    # EIP-137 test vector
    assert namehash("eth").hex() == "93cdeb708b7545dc668eb9280176169d1c33cfd8ed6f04690a0bcc88a93fc4ae"
    assert namehash("foo.eth").hex() == "de9b09fd7c5f901e23a3f19fecc54828e9c848539801e86591bd9801b019f84f"


@pytest.mark.parametrize("text", ["example.org", "web1.example.org", "a.b.c.d.example", "x"])
def test_dns_names_hash_like_ens(text: str) -> None:
    assert namehash(text) == ens_namehash(text)


def test_person_names_never_collide_with_hosts() -> None:
    person = namehash("alice@example.org")
    host = namehash("alice.example.org")
    assert person != host
    assert person == keccak256(namehash("example.org") + keccak256(b"@alice"))
    assert labelhash("alice", person=True) == keccak256(b"@alice")


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("Example.ORG", "example.org"),
        ("example.org.", "example.org"),
        ("  Alice@Example.org ", "alice@example.org"),
        ("first.last+ssh@example.org", "first.last+ssh@example.org"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("faß.de", "xn--fa-hia.de"),  # IDNA 2008: not folded to fass.de as IDNA 2003 does
        ("BÜCHER.example", "xn--bcher-kva.example"),
    ],
)
def test_normalisation(raw: str, normal: str) -> None:
    assert parse_name(raw).text == normal
    assert namehash(raw) == namehash(normal)


@pytest.mark.parametrize(
    "bad",
    ["", " ", ".", "a..b", "-a.org", "a-.org", "a_b.org", "a b.org", "@example.org",
     ".alice@example.org", "alice.@example.org", "al..ice@example.org", "alice@", "a" * 64 + ".org",
     "x@" + "a" * 64 + ".org", "a" * 65 + "@example.org", ".".join(["abcdefgh"] * 40),
     "alice@bob@example.org", "a\nb.org", "a;b.org",
     "\u212aelly@example.org", "\u0130zmir@example.org"],  # KELVIN SIGN, dotted I: not ASCII
)
def test_invalid_names_are_refused_with_invalid_name(bad: str) -> None:
    with pytest.raises(InvalidName) as info:
        parse_name(bad)
    assert "\n" not in str(info.value)


def test_parent_and_leaf() -> None:
    n = parse_name("alice@web.example.org")
    assert n.is_person and n.leaf_label == "alice"
    assert n.parent is not None and n.parent.text == "web.example.org"
    assert n.parent.parent is not None and n.parent.parent.text == "example.org"
    assert parse_name("org").parent is None


@given(st.text(max_size=80))
def test_parse_name_only_raises_invalid_name(text: str) -> None:
    try:
        name = parse_name(text)
    except InvalidName:
        return
    assert parse_name(name.text) == name  # normal form is a fixed point
    assert len(namehash(name)) == 32
