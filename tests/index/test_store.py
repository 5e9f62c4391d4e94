"""The SQLite store: atomic transactions, rollback to a block, content digest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from registry.errors import IndexUnavailable
from registry.index._query import IndexReader
from registry.index._store import Event, ParsedKey, Store
from registry.keys import commitment
from registry.names import namehash
from tests.index.conftest import ed25519_blob

ZERO = b"\x00" * 32
ALICE = bytes(namehash("alice@example.org"))
ORG = bytes(namehash("example.org"))
A, B = "0x" + "aa" * 20, "0x" + "bb" * 20


def _events() -> list[Event]:
    def ev(kind: str, block: int, node: bytes, **data: Any) -> Event:
        parsed = ParsedKey("ssh-ed25519", (f"FP{data.get('index')}",), (), "pass") if kind == "KeyPublished" else None
        return Event(kind, block, 0, bytes([block]) * 32, node, 1000 + block, data, parsed)

    def pub(block: int, index: int) -> Event:
        m = ed25519_blob(index)
        return ev("KeyPublished", block, ALICE, index=index, commitment=commitment(1, m), key_type=1,
                  purposes=1, valid_from=0, valid_until=0, durable=False, material=m, proof=b"")

    return [
        ev("NameRegistered", 1, ORG, name="example.org", label="example.org", parent=ZERO, person=False, owner=A),
        ev("NameRegistered", 2, ALICE, name="alice@example.org", label="alice", parent=ORG, person=True, owner=A),
        pub(3, 0),
        ev("Attested", 4, ALICE, index=0, attester=ORG, policy_hash=b"\x01" * 32, expires=0),
        ev("OperatorSet", 5, ALICE, owner=A, operator=B, approved=True),
        ev("OwnershipTransferred", 6, ALICE, previous=A, owner=B),
        ev("KeyRevoked", 7, ALICE, index=0, commitment=commitment(1, ed25519_blob(0)), reason=1,
           revocation=b"rev"),
        ev("AttestationWithdrawn", 8, ALICE, index=0, attester=ORG),
        pub(9, 1),
        ev("ChildRenounced", 10, ALICE, parent=ORG),
        ev("Attested", 11, ALICE, index=1, attester=ORG, policy_hash=b"\x02" * 32, expires=0),
        ev("AttesterBlocked", 12, ALICE, attester=ORG, blocked=True),
    ]


def _build(path: Path, upto: int) -> Store:
    store = Store.open(path)
    with store.transaction():
        for e in _events():
            if e.block <= upto:
                store.apply(e)
                store.add_block(e.block, bytes([e.block]) * 32, e.timestamp)
        store.set_meta("synced_block", upto)
    return store


@pytest.mark.parametrize("ancestor", [0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])
def test_rollback_equals_never_having_seen_the_blocks(tmp_path: Path, ancestor: int) -> None:
    full = _build(tmp_path / "full.sqlite", 12)
    with full.transaction():
        full.rollback_to(ancestor)
    partial = _build(tmp_path / "partial.sqlite", ancestor)
    assert full.digest() == partial.digest()
    full.close()
    partial.close()


def test_failed_transaction_leaves_nothing(tmp_path: Path) -> None:
    store = _build(tmp_path / "s.sqlite", 2)
    before = store.digest()
    with pytest.raises(IndexUnavailable), store.transaction():
        for e in _events()[2:4]:
            store.apply(e)
        # a revocation of a record that does not exist: the whole page goes
        store.apply(Event("KeyRevoked", 5, 0, b"\x00" * 32, ALICE, 0,
                          {"index": 9, "commitment": b"\x01" * 32, "reason": 1}))
    assert store.digest() == before
    store.close()


def test_reader_statuses_and_lookups(tmp_path: Path) -> None:
    store = _build(tmp_path / "r.sqlite", 10)
    with store.transaction():
        store.mark_synced()
    store.close()
    with IndexReader.open(tmp_path / "r.sqlite", max_staleness=60) as ix:
        assert [(r.index, r.status) for r in ix.records("Alice@Example.org")] == [
            (0, "revoked"), (1, "active")]
        assert ix.names_by_fingerprint("FP1") == [("alice@example.org", 1)]
        info = ix.name("alice@example.org")
        assert info is not None and info["owner"] == B and info["renounced"]
        assert info["operators"] == []  # approved by the previous owner only
        assert len(ix.history("alice@example.org")) == 9


def test_blocked_attester_stops_counting_and_comes_back(tmp_path: Path) -> None:
    store = _build(tmp_path / "b.sqlite", 11)
    assert [a[0] for a in store.attestations_raw(ALICE, 1)] == [ORG]
    assert store.conn.execute("SELECT count(*) FROM attestations").fetchone()[0] == 1
    with store.transaction():
        store.apply(_events()[-1])  # AttesterBlocked
    assert store.is_blocked(ALICE, ORG)
    assert store.conn.execute("SELECT count(*) FROM attestations").fetchone()[0] == 0
    assert [a[0] for a in store.attestations_raw(ALICE, 1)] == [ORG]  # held, not lost
    with store.transaction():
        store.apply(Event("AttesterBlocked", 13, 0, b"\x0d" * 32, ALICE, 1013,
                          {"attester": ORG, "blocked": False}))
    assert not store.is_blocked(ALICE, ORG)
    assert store.conn.execute("SELECT count(*) FROM attestations").fetchone()[0] == 1
    row = store.conn.execute("SELECT revocation FROM records WHERE idx = 0").fetchone()
    assert bytes(row[0]) == b"rev"
    store.close()


def test_not_an_index(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"not a database at all" * 100)
    with pytest.raises(IndexUnavailable):
        Store.open(bad)
    with pytest.raises(IndexUnavailable):
        IndexReader.open(bad)
    with pytest.raises(IndexUnavailable, match="never synced"):
        Store.open(tmp_path / "new.sqlite").close()
        IndexReader.open(tmp_path / "new.sqlite")


# --------------------------------------------------------------------------- reader lookups for the gateways

BOB = bytes(namehash("bob@example.org"))
CERT = bytes(namehash("cert.example.org"))


def _pkt(tag: int, body: bytes) -> bytes:
    return bytes([0xC0 | tag, len(body)]) + body


def _v4_fpr(body: bytes) -> str:
    import hashlib

    return hashlib.sha1(b"\x99" + len(body).to_bytes(2, "big") + body).hexdigest().upper()


def _pgp_index(path: Path) -> dict[str, Any]:
    """An index with one v4 OpenPGP certificate (two subkeys), a v6 one, an X.509 record."""
    primary, sub1, sub2 = (b"\x04" + bytes([n]) * 4 + b"\x16" + bytes([n]) * 40 for n in (1, 2, 3))
    material = _pkt(6, primary) + _pkt(13, b"Alice <alice@example.org>") + _pkt(14, sub1) + _pkt(14, sub2)
    fp, fs1, fs2 = _v4_fpr(primary), _v4_fpr(sub1), _v4_fpr(sub2)
    v6 = "C0FFEE00" * 8
    x509 = "C0FFEE00" * 2 + "11" * 24  # shares the v6 key ID prefix: must not match
    store = Store.open(path)

    def ev(kind: str, block: int, node: bytes, parsed: ParsedKey | None = None, **data: Any) -> Event:
        return Event(kind, block, 0, bytes([block]) * 32, node, 1000 + block, data, parsed)

    def pub(block: int, node: bytes, index: int, kt: int, m: bytes, parsed: ParsedKey) -> Event:
        return ev("KeyPublished", block, node, parsed, index=index, commitment=commitment(kt, m),
                  key_type=kt, purposes=4, valid_from=0, valid_until=0, durable=False, material=m,
                  proof=b"")

    with store.transaction():
        for e in [
            ev("NameRegistered", 1, ORG, name="example.org", label="example.org", parent=ZERO,
               person=False, owner=A),
            ev("NameRegistered", 2, ALICE, name="alice@example.org", label="alice", parent=ORG,
               person=True, owner=A),
            ev("NameRegistered", 3, BOB, name="bob@example.org", label="bob", parent=ORG, person=True,
               owner=A),
            ev("NameRegistered", 4, CERT, name="cert.example.org", label="cert", parent=ORG,
               person=False, owner=A),
            # subkeys stored out of certificate order: the reader restores it
            pub(5, ALICE, 0, 2, material,
                ParsedKey("ed25519", (fp, fs2, fs1), ("alice@example.org",), "fail",
                          "default 0123456789abcdef: openpgp.expiry, openpgp.uid")),
            pub(6, BOB, 0, 2, b"\x9a\x00", ParsedKey("ed25519", (v6,), (), "pass", "default x")),
            pub(7, CERT, 0, 3, b"\x30\x00", ParsedKey("ecdsa", (x509,), (), "pass", "default y")),
            ev("Attested", 8, ALICE, index=0, attester=ORG, policy_hash=b"\x01" * 32, expires=0),
            ev("Attested", 9, ALICE, index=0, attester=b"\x07" * 32, policy_hash=b"\x02" * 32,
               expires=500),
        ]:
            store.apply(e)
        store.mark_synced(12345)
    store.close()
    return {"fp": fp, "subs": [fs1, fs2], "v6": v6, "x509": x509}


def _answers(ix: IndexReader, k: dict[str, Any]) -> dict[str, Any]:
    return {
        "v4": [(r.name, r.index) for r in ix.records_by_key_id(k["fp"][-16:])],
        "v4_sub": [(r.name, r.index) for r in ix.records_by_key_id("0x" + k["subs"][1][-16:].lower())],
        "v6": [(r.name, r.index) for r in ix.records_by_key_id(k["v6"][:16])],
        "bad": ix.records_by_key_id("12345678"),
        "subkeys": ix.subkey_fingerprints(ALICE, 0),
        "no_subkeys": ix.subkey_fingerprints(CERT, 0),
        "persons": ix.person_names("Example.org"),
        "att": ix.attestations("alice@example.org", 0, at=1000),
        "sync": ix.last_sync_time(),
        "detail": ix.records("alice@example.org")[0].policy_detail,
    }


def test_reader_gateway_lookups(tmp_path: Path) -> None:
    k = _pgp_index(tmp_path / "g.sqlite")
    with IndexReader.open(tmp_path / "g.sqlite") as ix:
        got = _answers(ix, k)
    assert got["v4"] == [("alice@example.org", 0)]
    assert got["v4_sub"] == [("alice@example.org", 0)]       # a subkey's key ID finds its certificate
    assert got["v6"] == [("bob@example.org", 0)]             # the X.509 record with that prefix does not
    assert got["bad"] == []
    assert got["subkeys"] == k["subs"]                       # certificate order, primary left out
    assert got["no_subkeys"] == []
    assert got["persons"] == ["alice@example.org", "bob@example.org"]
    assert got["att"] == [
        {"attester": "example.org", "attester_owner": A, "policy_hash": "0x" + "01" * 32,
         "expires": None, "attested_at": "1970-01-01T00:16:48Z", "expired": False},  # ISO 8601 UTC
        {"attester": "0x" + "07" * 32, "attester_owner": None, "policy_hash": "0x" + "02" * 32,
         "expires": "1970-01-01T00:08:20Z", "attested_at": "1970-01-01T00:16:49Z",
         "expired": True},
    ]
    assert got["sync"] == 12345
    assert got["detail"] == "default 0123456789abcdef: openpgp.expiry, openpgp.uid"


def test_key_id_lookups_are_a_range_of_the_fingerprints_key(tmp_path: Path) -> None:
    """Schema 4: no key-ID index. A v4 fingerprint is stored with its key ID first, so v4 and
    v6 key IDs are one range search of the fingerprints' own primary key."""
    import sqlite3

    path = tmp_path / "pgp.sqlite"
    k = _pgp_index(path)
    conn = sqlite3.connect(path)
    indexes = {r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'fingerprints'"
        " AND name NOT LIKE 'sqlite_autoindex%'")}
    assert indexes == set()
    plan = " ".join(str(r[-1]) for r in conn.execute(
        "EXPLAIN QUERY PLAN SELECT name_id FROM fingerprints WHERE fingerprint >= ?"
        " AND fingerprint < ?", (b"X", b"Y")))
    assert "USING PRIMARY KEY" in plan, plan
    stored = {bytes(f) for (f,) in conn.execute("SELECT fingerprint FROM fingerprints")}
    assert b"X" + bytes.fromhex(k["fp"][-16:] + k["fp"][:-16]) in stored  # key ID first
    assert b"X" + bytes.fromhex(k["v6"]) in stored
    conn.close()


# --------------------------------------------------------------------------- publishing (issue 10, item 1)


def _files(d: Path) -> set[str]:
    return {p.name for p in d.iterdir()}


def test_readers_get_a_complete_snapshot_they_only_need_to_read(tmp_path: Path) -> None:
    """Sync wrote the index in place (WAL) and removed -wal/-shm on close, so a reader that
    could not create them failed after every sync. The writer now works on a private file and
    publishes complete snapshots by rename; readers read them without writing anything."""
    import os
    import sqlite3
    import stat

    d = tmp_path / "idx"
    path = d / "index.sqlite"
    old = os.umask(0o077)  # a strict umask must not make the index unreadable for others
    try:
        store = _build(path, 5)
        store.mark_synced()
        store.close()
    finally:
        os.umask(old)
    assert _files(d) == {"index.sqlite", "index.sqlite.work"}  # no -wal / -shm beside either
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert stat.S_IMODE((d / "index.sqlite.work").stat().st_mode) == 0o600
    assert stat.S_IMODE(d.stat().st_mode) == 0o755
    assert path.read_bytes()[18:20] == b"\x01\x01"  # rollback-journal format, not WAL
    # a reader of a directory and file it may only read: nothing created, nothing locked
    d.chmod(0o555)
    path.chmod(0o444)
    try:
        with IndexReader.open(path) as ix:
            before = ix.records("alice@example.org")
            # a writer publishes meanwhile: the open reader keeps its snapshot, knows it was replaced
            d.chmod(0o755)
            with Store.open(path) as w, w.transaction():
                for e in _events():
                    if e.block > 5:
                        w.apply(e)
                w.mark_synced()
            d.chmod(0o555)
            assert ix.records("alice@example.org") == before and ix.replaced()
        with IndexReader.open(path) as ix:
            assert not ix.replaced()
            assert ix.records("alice@example.org")[0].status == "revoked"
        assert _files(d) == {"index.sqlite", "index.sqlite.work"}
    finally:
        d.chmod(0o755)
    # the published file is a plain database anyone can copy
    with sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True) as conn:
        assert conn.execute("SELECT count(*) FROM names").fetchone()[0] == 2
    conn.close()


def test_deleting_the_index_starts_over_and_an_old_in_place_index_is_adopted(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "index.sqlite"
    _build(path, 10).close()
    path.unlink()  # "delete the file and sync again"
    with Store.open(path) as s:
        assert s.synced_block is None and s.counts()["names"] == 0
    # an index written in place by an older keyanchor (WAL, no working file) is taken over
    legacy = tmp_path / "legacy.sqlite"
    src = _build(tmp_path / "src.sqlite", 10)
    src.mark_synced()
    with sqlite3.connect(legacy) as conn:
        src.conn.backup(conn)
        conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    digest = src.digest()
    src.close()
    with IndexReader.open(legacy) as ix:  # still readable the old way until the next sync
        assert ix.exists("alice@example.org")
    with Store.open(legacy) as s:
        assert s.digest() == digest
    assert legacy.read_bytes()[18:20] == b"\x01\x01"


def test_history_gives_back_fields_the_rows_cannot_rebuild(tmp_path: Path) -> None:
    bob = bytes(namehash("bob@example.org"))
    """Schema 4 keeps no NameRegistered / KeyPublished rows: history rebuilds them from the
    names / records rows, and a field those cannot give back (a label that is not the name
    minus its parent, a field it does not know, one the event lacked) comes from ``extra``."""
    store = Store.open(tmp_path / "x.sqlite")
    m = ed25519_blob(5)
    with store.transaction():
        store.apply(Event("NameRegistered", 1, 0, b"\x01" * 32, ORG, 1001, {
            "name": "example.org", "label": "example.org", "parent": ZERO, "person": False,
            "owner": A}))
        store.apply(Event("NameRegistered", 2, 3, b"\x02" * 32, ALICE, 1002, {
            "name": "alice@example.org", "label": "ALICE", "parent": ORG, "person": True,
            "owner": A, "note": "kept"}))
        store.apply(Event("KeyPublished", 2, 4, b"\x03" * 32, ALICE, 1002, {
            "index": 0, "commitment": commitment(1, m), "key_type": 1, "purposes": 1,
            "valid_from": 0, "valid_until": 0, "durable": 0, "material": m, "proof": b""},
            ParsedKey("ssh-ed25519", ("FP",), (), "pass")))  # durable 0, not False
        store.apply(Event("NameRegistered", 3, 0, b"\x04" * 32, bob, 1003, {  # no label
            "name": "bob@example.org", "parent": ORG, "person": True, "owner": A}))
        store.mark_synced()
    assert store.conn.execute("SELECT count(*) FROM events").fetchone()[0] == 0
    store.close()
    with IndexReader.open(tmp_path / "x.sqlite") as ix:
        reg, pub = ix.history("alice@example.org")
        bob_history = ix.history("bob@example.org")
    assert (reg["kind"], reg["block_number"], reg["log_index"]) == ("assigned", 2, 3)
    assert reg["data"] == {"label": "ALICE", "name": "alice@example.org", "note": "kept",
                           "owner": A, "parent": "0x" + ORG.hex(), "person": True}
    assert (pub["kind"], pub["log_index"], pub["tx_hash"]) == ("key-published", 4, "0x" + "03" * 32)
    assert pub["data"]["durable"] == 0 and pub["data"]["durable"] is not False
    assert pub["data"]["index"] == 0 and pub["data"]["commitment"] == "0x" + commitment(1, m).hex()
    assert bob_history[0]["data"] == {
        "name": "bob@example.org", "owner": A, "parent": "0x" + ORG.hex(), "person": True}


def test_rollback_of_a_name_events_named_before_it_was_registered(tmp_path: Path) -> None:
    """An event naming a node the index does not hold gets a ``nodes`` id; registering the
    node later takes its rows over, and rolling the registration back gives them back."""
    def build(path: Path, upto: int) -> Store:
        store = Store.open(path)
        with store.transaction():
            for e in [Event("OperatorSet", 1, 0, b"\x01" * 32, ALICE, 1001,
                            {"owner": A, "operator": B, "approved": True}),
                      *(e for e in _events()[:2])]:
                if e.block <= upto:
                    store.apply(e)
                    store.add_block(e.block, bytes([e.block]) * 32, e.timestamp)
            store.set_meta("synced_block", upto)
        return store

    full = build(tmp_path / "full.sqlite", 2)
    assert full.operator_approved(ALICE, A, B) and full.name_of(ALICE) == "alice@example.org"
    assert full.conn.execute("SELECT count(*) FROM events WHERE name_id < 0").fetchone()[0] == 0
    with full.transaction():
        full.rollback_to(1)
    partial = build(tmp_path / "partial.sqlite", 1)
    assert full.digest() == partial.digest()
    assert full.operator_approved(ALICE, A, B) and full.name_of(ALICE) is None
    full.close()
    partial.close()


@pytest.mark.parametrize("planted", ["", ".work", ".work-wal", ".work-shm"])
@pytest.mark.parametrize("fresh", [True, False], ids=["new-index", "synced-index"])
def test_a_planted_symlink_beside_the_index_is_not_written_through(
        tmp_path: Path, planted: str, fresh: bool) -> None:
    """Hostile local user, in a directory they can write (a shared group directory): the
    working file (or its -wal / -shm) planted as a symbolic link made sync chmod the link's
    target to 0600 and SQLite write a database into it (a root-run sync: any file of the
    system). Now sync refuses, naming the link, and the target is left as it was."""
    import os

    index = tmp_path / "index.sqlite"
    if not fresh:
        Store.open(index).close()
        for suffix in (".work", ".work-wal", ".work-shm"):
            Path(str(index) + suffix).unlink(missing_ok=True)
    victim = tmp_path / "victim.conf"
    victim.write_bytes(b"")
    victim.chmod(0o644)
    if planted == "":
        index.unlink(missing_ok=True)
    Path(str(index) + planted).symlink_to(victim)
    with pytest.raises(IndexUnavailable, match="symbolic link"):
        Store.open(index).close()
    assert victim.read_bytes() == b""
    assert os.stat(victim).st_mode & 0o777 == 0o644
