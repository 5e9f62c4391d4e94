"""HKP: query parsing, the machine-readable index and /pks/lookup and /pks/add on the server."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from registry.gateways.hkp import (
    IndexEntry,
    RequestError,
    armor_certificates,
    escape_uid,
    parse_lookup,
    parse_search,
    render_mr_index,
)
from registry.keys import load_openpgp_certs
from tests.gateways.conftest import World

FPR = "0123456789ABCDEF0123456789ABCDEF01234567"


@pytest.mark.parametrize("search,kind,value", [
    ("0x" + FPR, "fingerprint", FPR),
    ("0x" + FPR.lower(), "fingerprint", FPR),
    (FPR, "fingerprint", FPR),
    ("0x" + "AB" * 32, "fingerprint", "AB" * 32),
    ("0x" + FPR[-16:], "keyid", FPR[-16:]),
    ("alice@example.org", "email", "alice@example.org"),
    ("Alice@Example.ORG", "email", "alice@example.org"),
    ("<alice@example.org>", "email", "alice@example.org"),
    ("Alice Example <alice@example.org>", "email", "alice@example.org"),
    ("=alice@example.org", "email", "alice@example.org"),
])
def test_parse_search(search: str, kind: str, value: str) -> None:
    assert parse_search(search) == (kind, value)


@pytest.mark.parametrize("search", ["", "   ", "0x1234ABCD", "0x123", "0x" + "A" * 39, "alice",
                                    "Alice Example", "a@", "@b.org", "<>", "x" * 400,
                                    "alice@exa mple.org", "0xZZZZZZZZZZZZZZZZ"])
def test_parse_search_refuses(search: str) -> None:
    with pytest.raises(RequestError) as info:
        parse_search(search)
    assert info.value.status == 400


def test_request_error_lives_in_the_error_tree() -> None:
    from registry.errors import Error, GatewayRequestError

    assert RequestError is GatewayRequestError
    assert issubclass(GatewayRequestError, Error) and issubclass(GatewayRequestError, ValueError)
    assert GatewayRequestError("x").status == 400 and GatewayRequestError("x", 501).status == 501


def test_http_gateway_reads_the_index_only_through_index_reader() -> None:
    import re
    from pathlib import Path

    import registry.gateways.http as http

    source = Path(http.__file__).read_text()
    assert not re.search(r"\bSELECT\b", source) and "._q(" not in source and ".conn" not in source


def test_parse_lookup_ops_and_options() -> None:
    q = parse_lookup({"op": "get", "options": "mr", "search": "0x" + FPR, "exact": "on"})
    assert (q.op, q.kind, q.machine_readable, q.exact) == ("get", "fingerprint", True, True)
    assert parse_lookup({"op": "VINDEX", "search": "a@b.org"}).op == "vindex"
    for params, status in [({"search": "a@b.org"}, 400), ({"op": "stats"}, 501),
                           ({"op": "frobnicate", "search": "a@b.org"}, 400), ({"op": "get"}, 400)]:
        with pytest.raises(RequestError) as info:
            parse_lookup(params)
        assert info.value.status == status


def test_escape_uid() -> None:
    assert escape_uid("A: B%C <a@b.org>") == "A%3A B%25C <a@b.org>"
    assert escape_uid("Jürgen\n") == "J%C3%BCrgen%0A"


def test_render_mr_index() -> None:
    created = datetime(2024, 1, 2, tzinfo=UTC)
    text = render_mr_index([IndexEntry(FPR, 22, 256, created, None, "",
                                       (("A: B <a@b.org>", None, None, ""),))])
    assert text == ("info:1:1\n"
                    f"pub:{FPR}:22:256:{int(created.timestamp())}::\n"
                    "uid:A%3A B <a@b.org>:::\n")
    assert render_mr_index([]) == "info:1:0\n"


@pytest.mark.tools
def test_armor_round_trips(world: World) -> None:
    text = armor_certificates([world.material["alice"], world.material["joe"]])
    certs = load_openpgp_certs(text)
    assert [c.material for c in certs] == [world.material["alice"], world.material["joe"]]


# --------------------------------------------------------------------------- server


@pytest.mark.tools
@pytest.mark.parametrize("search", ["fpr", "keyid", "email", "angle"])
def test_get_serves_armored_certificate(http: Any, world: World, search: str) -> None:
    fpr = world.fpr["alice"]
    q = {"fpr": "0x" + fpr, "keyid": "0x" + fpr[-16:], "email": "alice@example.org",
         "angle": "<alice@example.org>"}[search]
    r = http.get("/pks/lookup", params={"op": "get", "options": "mr", "search": q, "exact": "on"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/pgp-keys"
    certs = load_openpgp_certs(r.text)
    assert [c.fingerprint for c in certs] == [fpr]
    assert certs[0].material == world.material["alice"]


@pytest.mark.tools
def test_get_by_subkey_fingerprint(http: Any, world: World) -> None:
    from registry.keys import load_openpgp_cert

    sub = load_openpgp_cert(world.material["alice"]).subkeys[0].fingerprint
    r = http.get(f"/pks/lookup?op=get&search=0x{sub}")
    assert r.status_code == 200
    assert load_openpgp_certs(r.text)[0].fingerprint == world.fpr["alice"]


@pytest.mark.tools
@pytest.mark.parametrize("who", ["bob", "carol", "dave", "erin"])
def test_get_not_served(http: Any, world: World, who: str) -> None:
    r = http.get(f"/pks/lookup?op=get&options=mr&search=0x{world.fpr[who]}")
    assert r.status_code == 404
    assert r.text.strip() == "No key found"


@pytest.mark.tools
def test_email_lookup_only_returns_the_name_s_own_key(http: Any) -> None:
    # dave@example.org's certificate claims mallory@evil.example: never served for that address
    assert http.get("/pks/lookup?op=get&search=mallory@evil.example").status_code == 404
    assert http.get("/pks/lookup?op=get&search=dave@example.org").status_code == 404


@pytest.mark.tools
@pytest.mark.parametrize("op", ["index", "vindex"])
def test_index_machine_readable(http: Any, world: World, op: str) -> None:
    r = http.get(f"/pks/lookup?op={op}&options=mr&fingerprint=on&search=alice@example.org")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    lines = r.text.splitlines()
    assert lines[0] == "info:1:1"
    pub = lines[1].split(":")
    assert pub[:4] == ["pub", world.fpr["alice"], "22", "256"]
    assert int(pub[4]) > 0 and int(pub[5]) > int(pub[4]) and pub[6] == ""
    assert lines[2].startswith("uid:Alice Example <alice@example.org>:")


@pytest.mark.tools
def test_add_is_refused_with_an_explanation(http: Any) -> None:
    r = http.post("/pks/add", data={"keytext": "-----BEGIN PGP PUBLIC KEY BLOCK-----"})
    assert r.status_code == 403
    assert "keyanchor key publish" in r.text
    assert http.get("/pks/add").status_code == 405


@pytest.mark.tools
def test_head_request(http: Any, world: World) -> None:
    r = http.head(f"/pks/lookup?op=get&search=0x{world.fpr['alice']}")
    assert r.status_code == 200 and r.content == b""
