"""The gateway's own narrow queries (``registry.gateways._queries``) give what the index reader gives.

HKP ``op=get``, ``/v1/keys/{fingerprint}`` and ``/v1/names/{name}`` read the
index with one narrow query each instead of the reader's record objects and
its four queries per name. Over every name and fingerprint of the test index
(an active, an attested, a revoked, an expired, a policy-failed record; SSH and
X.509 records; names with no record; an operator; a squatted name), the rows
must be the reader's records (same order, same fields and statuses) and the
name view must be the one built from ``IndexReader.name`` / ``.records`` /
``.attestations``; with a lookup-time policy the narrow rows are not used.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

from registry.gateways._queries import rows_by_fingerprint, rows_by_name
from registry.gateways.http import Gateway, create_app
from registry.index._query import IndexReader
from registry.index._schema import fingerprint_text
from registry.index._store import Event, Store
from registry.names import namehash
from tests.gateways.conftest import NOW, OWNER, World

FIELDS = ("name", "index", "key_type", "status", "commitment", "material", "published_at", "policy")


def _with_operator_and_squatter(world: World, tmp_path: Path) -> Path:
    """The test index plus an approved operator on alice's name and a name squatting in
    example.org (registered on its own, top-level, after example.org)."""
    path = tmp_path / "index.sqlite"
    shutil.copyfile(world.index, path)
    store = Store.open(path)
    block = 10_000
    with store.transaction():
        store.add_block(block, block.to_bytes(32, "big"), NOW - 60)
        store.apply(Event("OperatorSet", block, 0, b"\x07" * 32, bytes(namehash("alice@example.org")),
                          NOW - 60, {"owner": OWNER, "operator": "0x" + "33" * 20, "approved": True}))
        store.apply(Event("NameRegistered", block, 1, b"\x07" * 32, bytes(namehash("sq.example.org")),
                          NOW - 60, {"name": "sq.example.org", "parent": b"\x00" * 32,
                                     "person": False, "owner": "0x" + "44" * 20, "label": "sq"}))
        store.set_meta("synced_block", block)
        store.mark_synced()
    store.close()
    return path


def _names(path: Path) -> list[str]:
    with IndexReader.open(path) as rd:
        return sorted(str(n) for (n,) in rd._q("SELECT name FROM names"))


def test_rows_are_the_readers_records(world: World, tmp_path: Path) -> None:
    path = _with_operator_and_squatter(world, tmp_path)
    with IndexReader.open(path) as rd:
        compared = 0
        for key in rd._q("SELECT DISTINCT fingerprint FROM fingerprints"):
            fp = fingerprint_text(key[0])
            want = [tuple(getattr(r, f) for f in FIELDS) for r in rd.records_by_fingerprint(fp)]
            got = [tuple(getattr(r, f) for f in FIELDS) for r in rows_by_fingerprint(rd, fp)]
            assert got == want and want, fp
            compared += 1
        assert compared >= 8
        statuses = set()
        for name in _names(path):
            recs = rd.records(name)
            rows = rows_by_name(rd, name)
            assert [tuple(getattr(r, f) for f in FIELDS) for r, _ in rows] == \
                   [tuple(getattr(r, f) for f in FIELDS) for r in recs], name
            assert [ids for _, ids in rows] == [r.identities for r in recs]
            statuses |= {r.status for r in recs}
        assert {"active", "revoked", "expired"} <= statuses
        assert rows_by_fingerprint(rd, "0x" + "AB" * 20) == [] and rows_by_name(rd, "no@x.org") == []


def test_name_view_is_the_readers_name_records_and_attestations(world: World, tmp_path: Path) -> None:
    path = _with_operator_and_squatter(world, tmp_path)
    gw = Gateway(path)
    seen_operators = seen_attestations = seen_empty = False
    for name in [*_names(path), "nobody@example.org"]:
        for subkeys in (False, True):
            got, want = gw.name_view(name, subkeys=subkeys), gw.name_view_parts(name, subkeys=subkeys)
            assert json.dumps(got) == json.dumps(want), name  # same keys, order and values
        if want is not None:
            seen_operators |= bool(want["operators"])
            seen_attestations |= any(r["attestations"] for r in want["records"])
            seen_empty |= not want["records"]
    assert seen_operators and seen_attestations and seen_empty


def test_name_view_of_a_squat_free_snapshot_is_the_readers(world: World, monkeypatch: Any) -> None:
    """Once the reader's one scan finds no name squatting, ``name_view`` checks no name of a
    request (valid by construction, and nothing squats): the same views as the reader's."""
    monkeypatch.setattr(IndexReader, "SQUAT_SCAN_AFTER", 2)  # (the gateway remembers each name)
    gw = Gateway(world.index)
    names = _names(world.index)
    for _ in range(2):  # before and after the reader's scan
        for name in names:
            for subkeys in (False, True):
                got, want = gw.name_view(name, subkeys=subkeys), gw.name_view_parts(name, subkeys=subkeys)
                assert json.dumps(got) == json.dumps(want), name
    assert gw.reader()._squat_free is True
    bob = gw.name_view("bob@example.org")
    assert bob is not None and [r["status"] for r in bob["records"]] == ["revoked"]


def _get(app: Any, path: str, query: str = "") -> tuple[int, bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
             "query_string": query.encode(), "headers": [(b"host", b"127.0.0.1")],
             "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 11371)}
    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def test_a_tampered_record_is_not_served_from_the_rows(world: World, tmp_path: Path) -> None:
    """The narrow rows still re-hash the material against its commitment."""
    path = tmp_path / "index.sqlite"
    shutil.copyfile(world.index, path)
    with IndexReader.open(path) as rd:
        rec = rd.records("alice@example.org")[0]
    import sqlite3

    conn = sqlite3.connect(path)
    flipped = bytes([rec.material[0]]) + bytes([rec.material[1] ^ 1]) + rec.material[2:]
    conn.execute("UPDATE records SET material = ? WHERE material = ?", (flipped, rec.material))
    conn.commit()
    conn.close()
    app = create_app(path)
    fpr = world.fpr["alice"]
    assert _get(app, "/pks/lookup", f"op=get&search=0x{fpr}")[0] == 404
    assert _get(app, "/pks/lookup", "op=get&search=alice@example.org")[0] == 404
    status, body = _get(app, "/v1/keys/" + fpr)
    assert status == 200 and json.loads(body)["names"][0]["served"] is False
    good = create_app(world.index)
    assert _get(good, "/pks/lookup", f"op=get&search=0x{fpr}")[0] == 200


def test_policy_at_lookup_reads_full_records(world: World) -> None:
    gw = Gateway(world.index, policy="default")
    assert gw.rows_by_fingerprint(world.fpr["alice"]) is None
    assert gw.rows_by_email("alice@example.org") is None
    assert Gateway(world.index).rows_by_email("alice@example.org")
