"""Revoked OpenPGP keys over HKP and WKD: the certificate with its verified revocation merged in,
so that real gpg marks the key revoked on --refresh-keys; unverified revocations are never served."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from registry.gateways.wkd import wkd_path
from registry.keys import load_openpgp_cert, verify_openpgp_revocation
from tests.conftest import require_tool
from tests.gateways.conftest import GPG, IndexBuilder, ServerThread, new_gnupghome
from tests.gateways.test_gpg import Client

pytestmark = pytest.mark.tools


@dataclass
class Revoked:
    """An index where frank revoked his key with his own revocation, grace's record carries
    frank's (valid, but for another key) and ivan's junk; judy's record is revoked without one."""

    fpr: dict[str, str]
    material: dict[str, bytes]
    revocation: bytes  # frank's, as the index stores it (the signature packet)
    server: ServerThread


@pytest.fixture(scope="module")
def revoked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Revoked]:
    tmp = tmp_path_factory.mktemp("rv")
    # short GNUPGHOME: gpg-agent's socket path must stay under 108 bytes
    gpg = GPG(new_gnupghome(Path(tmp_path_factory.getbasetemp()) / "rh"), require_tool("gpg"))
    try:
        who = {"frank": "Frank <frank@example.org>", "grace": "Grace <grace@example.org>",
               "ivan": "Ivan <ivan@example.org>", "judy": "Judy <judy@example.org>"}
        fpr = {k: gpg.make(uid) for k, uid in who.items()}
        material = {k: load_openpgp_cert(gpg.export(v)).material for k, v in fpr.items()}
        # gpg writes a revocation certificate for every key it makes (":-----BEGIN PGP ...")
        stored = (gpg.home / "openpgp-revocs.d" / f"{fpr['frank']}.rev").read_bytes()
    finally:
        gpg.close()
    rev = verify_openpgp_revocation(material["frank"], stored).signature
    index = tmp / "index.sqlite"
    b = IndexBuilder(index)
    b.name("example.org")
    carried = {"frank": rev, "grace": rev, "ivan": b"\xc2\x05junk!", "judy": b""}
    for k in who:
        name = f"{k}@example.org"
        b.name(name)
        i = b.key(name, 2, material[k], 4 | 8)
        b.revoke(name, i, material[k], 2, 2, revocation=carried[k])
    b.finish()
    from registry.gateways.http import create_app

    with ServerThread(create_app(index)) as srv:
        yield Revoked(fpr, material, rev, srv)


@pytest.fixture
def http(revoked: Revoked) -> Iterator[Any]:
    import httpx

    with httpx.Client(base_url=revoked.server.url, timeout=10) as client:
        yield client


@pytest.mark.parametrize("search", ["fingerprint", "email"])
def test_hkp_get_serves_the_certificate_with_its_revocation(
        http: Any, revoked: Revoked, search: str) -> None:
    q = f"0x{revoked.fpr['frank']}" if search == "fingerprint" else "frank@example.org"
    r = http.get("/pks/lookup", params={"op": "get", "options": "mr", "search": q})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pgp-keys"
    cert = load_openpgp_cert(r.text)
    assert cert.fingerprint == revoked.fpr["frank"]
    assert cert.revoked
    # the stored certificate plus exactly the verified signature
    assert verify_openpgp_revocation(revoked.material["frank"], r.text).signature == revoked.revocation


def test_wkd_serves_the_revoked_certificate(http: Any, revoked: Revoked) -> None:
    r = http.get(wkd_path("frank@example.org", advanced=True))
    assert r.status_code == 200
    cert = load_openpgp_cert(r.content)
    assert cert.revoked and cert.fingerprint == revoked.fpr["frank"]


def test_index_lists_the_key_as_revoked(http: Any, revoked: Revoked) -> None:
    r = http.get("/pks/lookup", params={"op": "index", "options": "mr",
                                        "search": "frank@example.org"})
    assert r.status_code == 200
    pub = next(ln for ln in r.text.splitlines() if ln.startswith("pub:"))
    assert pub.split(":")[1] == revoked.fpr["frank"] and "r" in pub.split(":")[-1]


@pytest.mark.parametrize("who", ["grace", "ivan", "judy"])
def test_unverified_or_missing_revocations_are_never_served(
        http: Any, revoked: Revoked, who: str) -> None:
    for params in ({"op": "get", "search": f"0x{revoked.fpr[who]}"},
                   {"op": "get", "search": f"{who}@example.org"},
                   {"op": "index", "search": f"{who}@example.org"}):
        r = http.get("/pks/lookup", params=params)
        assert r.status_code == 404, (params, r.text)
    assert http.get(wkd_path(f"{who}@example.org")).status_code == 404
    rec = http.get(f"/v1/names/{who}@example.org").json()["records"][0]
    assert rec["status"] == "revoked" and rec["revocation"] is None and rec["served"] is False


def test_json_api_shows_the_verified_revocation(http: Any) -> None:
    rec = http.get("/v1/names/frank@example.org").json()["records"][0]
    assert rec["status"] == "revoked" and rec["served"] is False
    assert rec["revocation"]["reason_name"] in ("no-reason", "none")
    assert rec["revocation"]["hard"] is True


@pytest.fixture
def gpg(tmp_path_factory: pytest.TempPathFactory, revoked: Revoked) -> Iterator[Client]:
    home = Path(tmp_path_factory.mktemp("g", numbered=True))
    os.chmod(home, 0o700)
    client = Client(home, revoked.server)
    try:
        yield client
    finally:
        client.close()


def _validity(gpg: Client, fpr: str) -> str:
    listing = gpg.run("--with-colons", "--list-keys", fpr).stdout
    return next(ln.split(":")[1] for ln in listing.splitlines() if ln.startswith("pub:"))


def test_gpg_refresh_keys_marks_a_revoked_key_revoked(gpg: Client, revoked: Revoked) -> None:
    assert gpg.run("--import", input=revoked.material["frank"]).returncode == 0
    assert _validity(gpg, revoked.fpr["frank"]) != "r"
    res = gpg.run("--refresh-keys", revoked.fpr["frank"])
    assert res.returncode == 0, res.stderr
    assert _validity(gpg, revoked.fpr["frank"]) == "r"


def test_gpg_refresh_keys_ignores_another_keys_revocation(gpg: Client, revoked: Revoked) -> None:
    assert gpg.run("--import", input=revoked.material["grace"]).returncode == 0
    res = gpg.run("--refresh-keys", revoked.fpr["grace"])
    assert res.returncode != 0  # nothing served for it
    assert _validity(gpg, revoked.fpr["grace"]) != "r"


def test_gpg_recv_keys_of_a_revoked_key_imports_it_revoked(gpg: Client, revoked: Revoked) -> None:
    res = gpg.run("--recv-keys", revoked.fpr["frank"])
    assert res.returncode == 0, res.stderr
    assert _validity(gpg, revoked.fpr["frank"]) == "r"
