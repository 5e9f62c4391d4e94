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
        ev("KeyRevoked", 7, ALICE, index=0, commitment=b"", reason=1),
        ev("AttestationWithdrawn", 8, ALICE, index=0, attester=ORG),
        pub(9, 1),
        ev("ChildRenounced", 10, ALICE, parent=ORG),
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


@pytest.mark.parametrize("ancestor", [0, 2, 3, 4, 5, 6, 7, 8, 9])
def test_rollback_equals_never_having_seen_the_blocks(tmp_path: Path, ancestor: int) -> None:
    full = _build(tmp_path / "full.sqlite", 10)
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
        store.apply(Event("KeyRevoked", 5, 0, b"\x00" * 32, ALICE, 0, {"index": 9, "reason": 1}))
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
