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


@pytest.mark.parametrize("bad", ["xn--zz.org", "xn--0x.org", "www.xn--a.example", "xn--ls8h.org",
                                 "alice@xn--bcher-kva0.example"])
def test_invalid_a_labels_are_refused(bad: str) -> None:
    """The contract takes any [a-z0-9-] label; an xn-- label that is no valid IDNA 2008 A-label
    (no Punycode, a disallowed code point such as an emoji) would be a second spelling of a name,
    or one no resolver asks for: the grammar refuses it."""
    with pytest.raises(InvalidName, match="A-label"):
        parse_name(bad)


@pytest.mark.parametrize("good", ["xn--zca.example.org", "xn--fiqs8s.xn--fiqs8s", "xn--bcher-kva.example",
                                  "alice@xn--e1afmkfd.example"])
def test_valid_a_labels_are_names(good: str) -> None:
    assert parse_name(good).text == good


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


# --------------------------------------------------------------------------- IP literals


def _inet_aton_spellings() -> list[str]:
    """Every way inet_aton (and so ssh, ping, browsers) reads 127.0.0.1, and a few others."""
    import socket

    out = ["127.0.0.1", "127.1", "127.0.1", "2130706433", "0x7f000001", "0x7f.1", "0177.0.0.1",
           "0x7F.0.0.0x1", "017700000001", "10.0.0.5", "0.0.0.0", "255.255.255.255", "1.2.3.08",
           "127.0.0.1.", "\uff11\uff12\uff17.\uff10.\uff10.\uff11"]  # fullwidth digits: IDNA maps them
    for text in out[:12]:
        assert socket.inet_aton(text)  # they really are addresses
    return out


@pytest.mark.parametrize("text", _inet_aton_spellings())
def test_ipv4_literals_are_not_names(text: str) -> None:
    with pytest.raises(InvalidName, match="is a number"):
        parse_name(text)
    with pytest.raises(InvalidName):
        parse_name(f"alice@{text}")


@pytest.mark.parametrize("text", ["::1", "[::1]", "fe80::1%eth0", "2001:db8::7", "::ffff:127.0.0.1",
                                  "[2001:db8::7]:22"])
def test_ipv6_literals_are_not_names(text: str) -> None:
    with pytest.raises(InvalidName, match="IPv6"):
        parse_name(text)


@pytest.mark.parametrize("text", ["example.123", "host.0x1f", "a.b.0X", "web1.example.0"])
def test_numeric_top_level_domains_are_not_names(text: str) -> None:
    with pytest.raises(InvalidName, match="is a number"):
        parse_name(text)


@pytest.mark.parametrize("text", ["1.2.3.4.nip.io", "0x7f.example.org", "a.0xg", "123abc.org",
                                  "0x-1.org", "example.x1", "host-1.example.org"])
def test_numbers_before_the_last_label_are_fine(text: str) -> None:
    assert parse_name(text).text == text


def test_raw_namehash_agrees_for_valid_names_and_hashes_refused_ones() -> None:
    from registry.names import raw_namehash

    for text in ("example.org", "web1.example.org", "alice@example.org", "x"):
        assert raw_namehash(text) == namehash(text)
    assert raw_namehash("127.0.0.1") == ens_namehash("127.0.0.1")
    assert raw_namehash("alice@127.0.0.1") == keccak256(ens_namehash("127.0.0.1") + keccak256(b"@alice"))


# --------------------------------------------------------------------------- squatting


def test_squatting_rule() -> None:
    from registry.names import chain_root, squatted_by

    # Mallory registered web1.corp.org top-level; Corp registered corp.org later
    reg: dict[str, str | None] = {"web1.corp.org": None, "corp.org": None,
                                  "alice@web1.corp.org": "web1.corp.org",
                                  "db.web1.corp.org": "web1.corp.org"}
    assert squatted_by("web1.corp.org", reg) == "corp.org"
    assert squatted_by("alice@web1.corp.org", reg) == "corp.org"  # everything under it too
    assert squatted_by("db.web1.corp.org", reg) == "corp.org"
    assert squatted_by("corp.org", reg) is None
    assert chain_root("alice@web1.corp.org", reg) == "web1.corp.org"
    # before corp.org exists, web1.corp.org is just first come, first served
    assert squatted_by("web1.corp.org", {"web1.corp.org": None}) is None
    # names corp.org created itself count, however deep
    legit = {"corp.org": None, "web1.corp.org": "corp.org", "a.web1.corp.org": "web1.corp.org",
             "bob@a.web1.corp.org": "a.web1.corp.org"}
    assert all(squatted_by(n, legit) is None for n in legit)
    # the closest registered ancestor decides: x.web1.corp.org top-level under a legit web1
    legit["x.web1.corp.org"] = None
    assert squatted_by("x.web1.corp.org", legit) == "web1.corp.org"


def test_a_registered_public_suffix_is_nobody_s_domain() -> None:
    """org, co.uk or github.io registered (the first contract allowed it) never make the
    registrable domains below them squatters: those belong to their own registrants."""
    from registry.names import is_public_suffix, registrable_domain, squatted_by

    assert is_public_suffix("org") and is_public_suffix("co.uk") and is_public_suffix("github.io")
    assert not is_public_suffix("example.org")
    assert registrable_domain("a.b.example.co.uk") == "example.co.uk"
    for name, suffix in (("example.org", "org"), ("example.co.uk", "co.uk"),
                         ("alice.github.io", "github.io"), ("www.example.co.uk", "co.uk")):
        assert squatted_by(name, {name: None, suffix: None}) is None, name
    # a private-section suffix is a boundary too: amazonaws.com does not own x.s3.amazonaws.com
    assert squatted_by("x.s3.amazonaws.com", {"x.s3.amazonaws.com": None, "amazonaws.com": None}) is None
    # but inside one registrable domain the rule holds below a suffix too
    assert squatted_by("www.example.co.uk", {"www.example.co.uk": None, "example.co.uk": None,
                                             "co.uk": None}) == "example.co.uk"


def test_an_invalid_long_name_is_quoted_short() -> None:
    """The error for a megabyte of text quotes its two ends, not all of it: one short line."""
    import pytest

    from registry.errors import InvalidName
    from registry.names import parse_name

    for text in ("a" * 5000 + "@example.org", "x." * 3000 + "org", "b" * 400):
        with pytest.raises(InvalidName) as caught:
            parse_name(text)
        message = str(caught.value)
        assert len(message) < 200 and "..." in message and "\n" not in message, message
        assert message.startswith("invalid name '" + text[:64]), message
    with pytest.raises(InvalidName, match="'" + "a" * 65 + "@example.org'"):  # short: whole
        parse_name("a" * 65 + "@example.org")
