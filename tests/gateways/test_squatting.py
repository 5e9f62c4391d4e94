"""Names that do not count are never served over HKP, WKD, the JSON API, feeds or the page.

Mallory registered ``web1.corp.org`` top-level before Corp registered ``corp.org`` (issue
10, item 4; on KeyRegistry v2 only a private registry's registrar can): ``bob@web1.corp.org``'s
certificate and ``web1.corp.org``'s keys are flagged by ``binding.domain_chain`` and never
served, with or without a lookup-time policy. A name the grammar refuses (``127.0.0.1``,
item 3: v2 refuses it on-chain too, so it is planted straight into the index here) is
never served, and a key it shares with a valid name does not break the reverse lookup of
that name.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from registry.gateways.wkd import wkd_hash
from registry.index._store import ParsedKey
from registry.keys import commitment, load_openpgp_cert
from registry.names import namehash, raw_namehash
from tests.conftest import require_tool
from tests.gateways.conftest import (
    GPG,
    ZERO,
    IndexBuilder,
    ServerThread,
    new_gnupghome,
    parsed_key,
)

pytestmark = pytest.mark.tools

MALLORY = "0x" + "66" * 20


def _top_level(b: IndexBuilder, text: str, owner: str, *, raw: bool = False) -> None:
    node = bytes(raw_namehash(text) if raw else namehash(text))
    with b.store.transaction():
        b._ev("NameRegistered", node, {"name": text, "parent": ZERO, "person": False,
                                       "owner": owner, "label": text})


@pytest.fixture(scope="module")
def squat(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    gpg_exe = require_tool("gpg")
    tmp = tmp_path_factory.mktemp("squat")
    gpg = GPG(new_gnupghome(Path(tmp_path_factory.getbasetemp()) / "gsq"), gpg_exe)
    try:
        fpr = {"bob": gpg.make("Bob <bob@web1.corp.org>"), "alice": gpg.make("Alice <alice@corp.org>")}
        material = {k: load_openpgp_cert(gpg.export(v)).material for k, v in fpr.items()}
    finally:
        gpg.close()
    index = tmp / "index.sqlite"
    b = IndexBuilder(index)
    _top_level(b, "web1.corp.org", MALLORY)          # Mallory, first
    b.name("bob@web1.corp.org")
    b.key("bob@web1.corp.org", 2, material["bob"], 4 | 8)
    _top_level(b, "corp.org", "0x" + "11" * 20)      # Corp, later
    b.name("alice@corp.org")
    b.key("alice@corp.org", 2, material["alice"], 4 | 8)
    # an IP literal someone registered through the contract, sharing alice's certificate
    _top_level(b, "127.0.0.1", MALLORY, raw=True)
    node = bytes(raw_namehash("127.0.0.1"))
    p = parsed_key(2, material["alice"], "alice@corp.org", 4 | 8)
    with b.store.transaction():
        b._ev("KeyPublished", node, {
            "index": 0, "commitment": commitment(2, material["alice"]), "key_type": 2,
            "purposes": 4 | 8, "valid_from": 0, "valid_until": 0, "durable": False,
            "material": material["alice"], "proof": b""},
            ParsedKey(p.algorithm, p.fingerprints, p.identities, "pass", p.policy_detail))
    b.finish()
    yield {"index": index, "fpr": fpr}


@pytest.fixture(scope="module", params=[None, "default"], ids=["stored-verdict", "policy-recheck"])
def http(squat: dict[str, Any], request: pytest.FixtureRequest) -> Iterator[Any]:
    import httpx

    from registry.gateways.http import create_app

    with ServerThread(create_app(squat["index"], policy=request.param)) as srv, \
            httpx.Client(base_url=srv.url, timeout=10) as client:
        yield client


def test_a_squatter_s_keys_are_never_served(http: Any, squat: dict[str, Any]) -> None:
    bob = squat["fpr"]["bob"]
    assert http.get(f"/pks/lookup?op=get&options=mr&search=0x{bob}").status_code == 404
    assert http.get("/pks/lookup?op=get&options=mr&search=bob@web1.corp.org").status_code == 404
    assert http.get("/pks/lookup?op=index&options=mr&search=bob@web1.corp.org").status_code == 404
    wkd = f"/.well-known/openpgpkey/web1.corp.org/hu/{wkd_hash('bob')}?l=bob"
    assert http.get(wkd).status_code == 404
    rec = http.get("/v1/names/bob@web1.corp.org").json()["records"][0]
    assert rec["served"] is False and rec["policy"]["verdict"] == "fail"
    assert rec["policy"]["failing_lints"] == ["binding.domain_chain"]
    assert "inside corp.org" in rec["policy"]["detail"]
    names = http.get(f"/v1/keys/{bob}").json()["names"]
    assert [(n["name"], n["served"]) for n in names] == [("bob@web1.corp.org", False)]
    page = http.get("/names/bob@web1.corp.org")
    assert page.status_code == 200 and "binding.domain_chain" in page.text


def test_the_domain_s_own_names_are_served(http: Any, squat: dict[str, Any]) -> None:
    alice = squat["fpr"]["alice"]
    assert http.get(f"/pks/lookup?op=get&options=mr&search=0x{alice}").status_code == 200
    assert http.get("/pks/lookup?op=get&options=mr&search=alice@corp.org").status_code == 200
    rec = http.get("/v1/names/alice@corp.org").json()["records"][0]
    assert rec["served"] is True


def test_an_ip_literal_name_is_indexed_but_never_served(http: Any, squat: dict[str, Any]) -> None:
    r = http.get(f"/v1/keys/{squat['fpr']['alice']}")
    assert r.status_code == 200
    assert [n["name"] for n in r.json()["names"]] == ["alice@corp.org"]
    assert http.get("/v1/names/127.0.0.1").status_code == 400
    from registry.index import IndexReader

    with IndexReader.open(squat["index"]) as ix:
        assert "not a valid registry name" in (ix.name_problem("127.0.0.1") or "")
