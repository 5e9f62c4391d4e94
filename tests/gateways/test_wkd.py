"""WKD: z-base-32 and the hash against GnuPG's vectors, and both lookup methods on the server."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.gateways.wkd import (
    ZBASE32_ALPHABET,
    split_email,
    wkd_hash,
    wkd_path,
    wkd_url,
    zbase32_encode,
)
from tests.gateways.conftest import World


@pytest.mark.parametrize("local,expected", [
    ("test1", "stnkabub89rpcphiz4ppbxixkwyt1pic"),     # GnuPG test vectors
    ("Joe.Doe", "iy9q119eutrkn8s1mk4r39qejnbu3n5q"),
    ("joe.doe", "iy9q119eutrkn8s1mk4r39qejnbu3n5q"),   # lower-cased before hashing
])
def test_wkd_hash_matches_gnupg(local: str, expected: str) -> None:
    assert wkd_hash(local) == expected


def test_zbase32_known_values() -> None:
    assert zbase32_encode(b"") == ""
    assert zbase32_encode(b"\x00") == "yy"
    assert zbase32_encode(b"\xf0\xbf\xc7") == "6n9hq"  # from the z-base-32 specification
    assert zbase32_encode(b"\xd4\x7a\x04") == "4t7ye"


def _zbase32_decode(text: str, nbytes: int) -> bytes:
    bits = 0
    for ch in text:
        bits = (bits << 5) | ZBASE32_ALPHABET.index(ch)
    bits >>= len(text) * 5 - nbytes * 8
    return bits.to_bytes(nbytes, "big")


@given(st.binary(max_size=40))
def test_zbase32_round_trips(data: bytes) -> None:
    enc = zbase32_encode(data)
    assert len(enc) == -(-len(data) * 8 // 5)
    assert _zbase32_decode(enc, len(data)) == data


@given(st.text(min_size=1, max_size=64))
def test_wkd_hash_is_32_zbase32_chars(local: str) -> None:
    h = wkd_hash(local)
    assert len(h) == 32 and set(h) <= set(ZBASE32_ALPHABET)
    assert _zbase32_decode(h, 20) == hashlib.sha1(local.lower().encode()).digest()


def test_urls_and_paths() -> None:
    assert wkd_url("Joe.Doe@Example.ORG") == (
        "https://example.org/.well-known/openpgpkey/hu/iy9q119eutrkn8s1mk4r39qejnbu3n5q?l=Joe.Doe")
    assert wkd_url("joe.doe@example.org", advanced=True) == (
        "https://openpgpkey.example.org/.well-known/openpgpkey/example.org/hu/"
        "iy9q119eutrkn8s1mk4r39qejnbu3n5q?l=joe.doe")
    assert wkd_path("a+b@x.org").endswith("?l=a%2Bb")
    with pytest.raises(ValueError):
        split_email("no-at-sign")


# --------------------------------------------------------------------------- server

needs_tools = pytest.mark.tools


@needs_tools
@pytest.mark.parametrize("advanced", [False, True])
def test_wkd_serves_binary_key(http: Any, world: World, advanced: bool) -> None:
    path = wkd_path("joe.doe@example.org", advanced=advanced)
    host = "openpgpkey.example.org" if advanced else "example.org"
    r = http.get(path, headers={"Host": host})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.content == world.material["joe"]


@needs_tools
def test_wkd_without_l_parameter_finds_the_key_by_hash(http: Any, world: World) -> None:
    r = http.get(f"/.well-known/openpgpkey/hu/{wkd_hash('joe.doe')}", headers={"Host": "example.org"})
    assert r.status_code == 200 and r.content == world.material["joe"]


@needs_tools
@pytest.mark.parametrize("path,host", [
    (wkd_path("joe.doe@example.org"), "other.example"),           # wrong domain (Host)
    (wkd_path("joe.doe@other.example", advanced=True), "x"),      # wrong domain (path)
    ("/.well-known/openpgpkey/hu/iy9q119eutrkn8s1mk4r39qejnbu3n5q?l=someone", "example.org"),  # l= mismatch
    (wkd_path("bob@example.org"), "example.org"),                 # revoked
    (wkd_path("carol@example.org"), "example.org"),               # expired
    (wkd_path("dave@example.org"), "example.org"),                # fails the policy
    (wkd_path("mallory@evil.example"), "evil.example"),           # uid claimed under another name
    (wkd_path("erin@example.org"), "example.org"),                # never published
    ("/.well-known/openpgpkey/hu/notahash", "example.org"),
    (wkd_path("joe.doe@example.org"), "[::1]:8080"),
])
def test_wkd_not_found(http: Any, path: str, host: str) -> None:
    r = http.get(path, headers={"Host": host})
    assert r.status_code == 404
    assert r.text.strip() == "No key found"


@needs_tools
@pytest.mark.parametrize("path", ["/.well-known/openpgpkey/policy",
                                  "/.well-known/openpgpkey/example.org/policy"])
def test_wkd_policy_file(http: Any, path: str) -> None:
    r = http.get(path, headers={"Host": "example.org"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
