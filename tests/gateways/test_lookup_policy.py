"""Lookup-time policy and lookups by fingerprint and e-mail (issue 10, items 12 and 13).

The index is written through the store API with an X.509 certificate made
with ``cryptography`` (ECDSA P-256, 41 days) whose proof of possession is a
real signature over the keyanchor statement for this index's chain id,
registry address, name and owner, and an OpenPGP certificate made by
Sequoia whose user ID claims an address it is not published under. The
strict checks run in the real ``keyanchor serve`` process; the e-mail lookup
through the real CLI (``python -m cli.main index lookup``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from registry.keys import commitment, load_openpgp_cert
from registry.keys._x509 import load_x509_der
from registry.proofs import statement
from tests.gateways.conftest import IndexBuilder, x509_cert_and_key
from tests.gateways.test_serve import request, serve

REPO = Path(__file__).resolve().parents[2]
REGISTRY = "0x" + "5f" * 20
RA = "0x" + "ee" * 20       # owns example.org (the registration authority)
HOLDER = "0x" + "a1" * 20   # owns web1 / web2 / sybil.example.org, and mallory@example.org


def _proof(der: bytes, key: Any, name: str, owner: str) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    stmt = statement(1337, REGISTRY, name, owner, commitment(3, der))
    return key.sign(stmt, ec.ECDSA(hashes.SHA256()))


@dataclass
class Index:
    path: Path
    spki: dict[str, str]


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Index:
    import pysequoia

    path = tmp_path_factory.mktemp("lookup") / "index.sqlite"
    b = IndexBuilder(path)
    b.name("example.org", owner=RA)
    b.dns("example.org", "match", owner=RA)  # its _keyanchor TXT names RA (strict requires it)
    spki = {}
    for host in ("web1.example.org", "web2.example.org", "sybil.example.org"):
        b.name(host, owner=HOLDER)
    for host in ("web1.example.org", "web2.example.org"):
        der, key = x509_cert_and_key(host)
        spki[host] = load_x509_der(der).spki_sha256
        idx = b.key(host, 3, der, 16, proof=_proof(der, key, host, HOLDER))
        # web1: attested by its RA (another owner); web2: only by a name of its own owner
        b.attest(host, idx, "example.org" if host == "web1.example.org" else "sybil.example.org")
    b.name("mallory@example.org", owner=HOLDER)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tsk = pysequoia.Tsk.generate("Alice <alice@example.org>")
    cert = load_openpgp_cert(bytes(tsk.extract_certificate()))
    b.key("mallory@example.org", 2, cert.material, 12)
    b.finish(registry=REGISTRY)
    return Index(path, spki)


@pytest.fixture(scope="module")
def strict_server(index: Index) -> Iterator[int]:
    with serve(index.path, "--policy", "strict") as port:
        yield port


def _verdict(port: int, name: str) -> dict[str, Any]:
    status, body = request(port, f"/v1/names/{name}")
    assert status == 200, body
    return json.loads(body)["records"][0]


def test_serve_policy_strict_checks_the_stored_proof(strict_server: int) -> None:
    """`serve --policy strict` failed every record on binding.proof: the proof was never passed."""
    rec = _verdict(strict_server, "web1.example.org")
    assert "binding.proof" not in rec["policy"]["failing_lints"], rec["policy"]
    assert rec["policy"]["verdict"] == "pass", rec["policy"]
    assert rec["served"] is True
    status, body = request(strict_server, "/v1/names/web1.example.org/certs.pem")
    assert status == 200 and b"BEGIN CERTIFICATE" in body


def test_serve_policy_strict_does_not_count_a_sybil_attestation(strict_server: int) -> None:
    """Sybil: web2's only attestation comes from a name owned by web2's own owner."""
    rec = _verdict(strict_server, "web2.example.org")
    assert rec["policy"]["failing_lints"] == ["key.attestations"], rec["policy"]
    assert rec["served"] is False
    status, body = request(strict_server, "/v1/names/web2.example.org/certs.pem")
    assert status == 200 and body == b""


@pytest.mark.parametrize("case", ["lower", "upper", "colons"])
def test_x509_spki_pin_lookup_matches_in_any_case(strict_server: int, index: Index,
                                                 case: str) -> None:
    """SPKI pins never matched: stored lower-case, looked up upper-case."""
    pin = index.spki["web1.example.org"]
    query = {"lower": pin.lower(), "upper": pin.upper(),
             "colons": ":".join(pin[i:i + 2] for i in range(0, len(pin), 2)).upper()}[case]
    status, body = request(strict_server, f"/v1/keys/{query}")
    assert status == 200, body
    assert [n["name"] for n in json.loads(body)["names"]] == ["web1.example.org"]
    out = _cli("index", "lookup", query, "--index", str(index.path), "--json")
    assert json.loads(out.stdout) == [{"name": "web1.example.org", "index": 0}]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})


def test_index_lookup_email_does_not_fall_back_to_a_uid_claim(index: Index) -> None:
    """`index lookup alice@example.org` returned mallory's certificate claiming alice in a UID."""
    out = _cli("index", "lookup", "alice@example.org", "--index", str(index.path), "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == []
    assert "not a registered name" in out.stderr
    mine = _cli("index", "lookup", "mallory@example.org", "--index", str(index.path), "--json")
    assert [r["name"] for r in json.loads(mine.stdout)] == ["mallory@example.org"]


def test_hkp_email_search_does_not_use_uid_claims(strict_server: int) -> None:
    """HKP answers only the name equal to the address (a check that this stays so)."""
    status, _ = request(strict_server, "/pks/lookup?op=get&search=alice@example.org")
    assert status == 404


def test_lookup_time_check_reads_the_dns_verdict_sync_stored(index: Index) -> None:
    """strict requires DNS control: the re-check must get the domain's stored verdict, or it
    failed every record on name.dns_control ("not checked")."""
    from registry.index import IndexReader

    with IndexReader.open(index.path) as rd:
        for name in ("example.org", "web1.example.org", "mallory@example.org"):
            verdict = rd.dns_control(name)
            assert verdict is not None and verdict["domain"] == "example.org", name
            assert verdict["status"] == "match" and verdict["owner"] == RA
        assert rd.dns_control("web1.example.net") is None
