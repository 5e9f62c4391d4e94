"""The embedded chain's file reader answers exactly what the verified client answers.

:class:`registry.chain.reader.EmbeddedReader` reads the contract's state words
and logs straight from the chain file (no py-evm, no web3); every answer is
compared here with :class:`registry.chain.client.Registry` over a varied chain
(active, pending, expired, revoked, rotated and durable records of every key
type; live, withdrawn, blocked and lapsed attestations; operators, transfers,
renunciations). It must also refuse to answer, rather than answer stale, when
its mirror does not reflect the file's head.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from registry.chain.client import Registry
from registry.chain.embedded import EmbeddedChain
from registry.chain.reader import EmbeddedReader, checksum_address
from registry.errors import Error
from registry.names import namehash
from tests.chain.varied import MISSING, NAMES, VariedChain, build_varied_chain, ssh_blob


@pytest.fixture(scope="module")
def varied(tmp_path_factory: pytest.TempPathFactory) -> VariedChain:
    return build_varied_chain(tmp_path_factory.mktemp("varied") / "chain.db")


@pytest.fixture(scope="module")
def both(varied: VariedChain) -> Iterator[tuple[Registry, EmbeddedReader]]:
    reader = EmbeddedReader.open(varied.path)
    assert reader is not None
    with Registry.embedded(varied.path) as client:
        yield client, reader
    reader.close()


def outcome(call: Callable[[], Any]) -> Any:
    """A call's result as plain data, or its error (class and message)."""
    try:
        value = call()
    except Error as exc:
        return ("error", type(exc).__name__, str(exc))
    return plain(value)


def plain(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return plain(value.to_dict())
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return value


LOOKUPS: list[dict[str, Any]] = [
    {},
    {"include_revoked": True, "include_expired": True},
    {"include_pending": False},
    {"key_types": "ssh", "include_revoked": True},
    {"key_types": ["openpgp", "x509"], "include_expired": True},
    {"attestations": True, "include_revoked": True, "include_expired": True},
    {"profile": "default", "include_revoked": True, "include_expired": True},
    {"profile": "strict"},
]


@pytest.mark.parametrize("name", NAMES + MISSING)
def test_names_read_alike(both: tuple[Registry, EmbeddedReader], name: str) -> None:
    client, reader = both
    for method in ("owner", "parent", "renounced", "records", "record_count", "history",
                   "squatted_by"):
        assert outcome(lambda m=method: getattr(reader, m)(name)) == outcome(
            lambda m=method: getattr(client, m)(name)), method


@pytest.mark.parametrize("name", NAMES + MISSING)
@pytest.mark.parametrize("options", LOOKUPS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "plain")
def test_lookups_read_alike(both: tuple[Registry, EmbeddedReader], name: str,
                            options: dict[str, Any]) -> None:
    client, reader = both
    mine, theirs = outcome(lambda: reader.lookup(name, **options)), outcome(
        lambda: client.lookup(name, **options))
    assert mine == theirs


def test_the_chain_is_varied(both: tuple[Registry, EmbeddedReader]) -> None:
    """The comparisons above cover every status, attestations of each kind and a revocation."""
    client, _reader = both
    records = client.lookup("alice@example.org", include_revoked=True, include_expired=True,
                            attestations=True)
    assert {r.status for r in records} == {"active", "pending", "expired", "revoked"}
    assert any(r.durable for r in records) and any(r.revocation for r in records)
    assert {r.key_type.label for r in records} == {"ssh", "openpgp", "x509"}
    attestations = client.attestations("alice@example.org", 1, include_blocked=True)
    assert any(a.blocked for a in attestations)
    kinds = {e.kind for e in client.history("alice@example.org")}
    assert {"assigned", "key-published", "key-revoked", "key-rotated", "attested",
            "withdrawn", "attester-blocked", "operator-set"} <= kinds
    assert "transferred" in {e.kind for e in client.history("bob@example.org")}
    # an attester is named, checked by namehash, not left as a 32-byte node
    attested = [e for e in client.history("alice@example.org") if e.kind == "attested"]
    assert attested and all(e.data["attester_name"] for e in attested)
    assert {bytes(namehash(e.data["attester_name"])) for e in attested} == {
        bytes(e.data["attester"]) for e in attested}


def test_records_attestations_and_policy_read_alike(
    both: tuple[Registry, EmbeddedReader], varied: VariedChain
) -> None:
    client, reader = both
    at = varied.notes["now"] + timedelta(hours=2)
    for name in NAMES:
        for rec in client.lookup(name, include_revoked=True, include_expired=True,
                                 attestations=True):
            for blocked in (False, True):
                assert outcome(lambda n=name, r=rec, b=blocked: reader.attestations(
                    n, r.index, include_blocked=b)) == outcome(
                    lambda n=name, r=rec, b=blocked: client.attestations(n, r.index,
                                                                         include_blocked=b))
            for profile in ("default", "strict"):
                assert outcome(lambda r=rec, p=profile: reader.check_record(r, profile=p,
                                                                            at=at)) == \
                    outcome(lambda r=rec, p=profile: client.check_record(r, profile=p, at=at))
    for who in varied.accounts:
        for name in NAMES:
            assert reader.is_operator(name, who.address) == client.is_operator(name, who.address)
    assert reader.event_digest() == client.event_digest()
    assert outcome(lambda: reader.attestations("alice@example.org", 99)) == outcome(
        lambda: client.attestations("alice@example.org", 99))


def test_checksum_addresses_match_eip55() -> None:
    from eth_utils import to_checksum_address

    for seed in range(50):
        raw = bytes((seed * 37 + i * 11) % 256 for i in range(20))
        assert checksum_address(raw) == to_checksum_address(raw)
        assert checksum_address("0x" + raw.hex().upper()) == to_checksum_address(raw)


def test_reader_follows_every_block_and_a_revert(tmp_path: Path) -> None:
    """The mirror is committed with each block, and a revert rebuilds it from the state."""
    path = tmp_path / "chain.db"
    with EmbeddedChain.open(path) as chain:
        reg = Registry(chain.web3, account=chain.dev_accounts[0],
                       registry_address=chain.registry_address)
        reg.register("example.org")
        snapshot = chain.request("evm_snapshot")
        reg.assign("alice@example.org", chain.dev_accounts[1].address)
        reg.publish("example.org", ssh_blob(1), key_type="ssh")
        reader = EmbeddedReader.open(path)
        assert reader is not None  # readable while a writer holds the file
        with reader:
            assert reader.owner("alice@example.org") == chain.dev_accounts[1].address
            assert len(reader.lookup("example.org")) == 1
            assert reader.event_digest() == reg.event_digest()
        assert chain.request("evm_revert", [snapshot]) is True
        with EmbeddedReader.open(path) as after:  # type: ignore[union-attr]
            assert after.owner("alice@example.org") is None
            assert after.lookup("example.org") == []
            assert after.event_digest() == reg.event_digest()


def test_reader_refuses_a_mirror_behind_the_head(tmp_path: Path) -> None:
    """A file whose mirror does not reflect its head (an older keyanchor wrote it) is not
    read from the mirror; the next write-open brings the mirror up to date."""
    path = tmp_path / "chain.db"
    with EmbeddedChain.open(path) as chain:
        reg = Registry(chain.web3, account=chain.dev_accounts[0],
                       registry_address=chain.registry_address)
        reg.register("example.org")
        reg.publish("example.org", ssh_blob(1), key_type="ssh")
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM storage")
    conn.execute("UPDATE meta SET value = 'stale' WHERE key = 'storage_head'")
    conn.commit()
    conn.close()
    assert EmbeddedReader.open(path) is None
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM meta WHERE key = 'storage_head'")
    conn.commit()
    conn.close()
    assert EmbeddedReader.open(path) is None
    with EmbeddedChain.open(path):
        pass  # a write-open rebuilds the mirror from the state trie
    reader = EmbeddedReader.open(path)
    assert reader is not None
    with reader, Registry.embedded(path) as client:
        assert plain(reader.lookup("example.org")) == plain(client.lookup("example.org"))
        assert reader.event_digest() == client.event_digest()


def test_reader_is_not_used_beside_a_devnet_or_without_a_chain(tmp_path: Path) -> None:
    assert EmbeddedReader.open(tmp_path / "missing.db") is None
    (tmp_path / "junk.db").write_bytes(b"not sqlite at all, not at all" * 100)
    assert EmbeddedReader.open(tmp_path / "junk.db") is None


def test_reader_imports_neither_web3_nor_py_evm(varied: VariedChain) -> None:
    code = (
        "import sys, json\n"
        "from registry.chain.reader import EmbeddedReader\n"
        f"r = EmbeddedReader.open({str(varied.path)!r})\n"
        "recs = r.lookup('alice@example.org', include_revoked=True, include_expired=True,"
        " attestations=True)\n"
        "r.history('alice@example.org')\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in"
        " ('web3', 'eth', 'eth_abi', 'eth_utils', 'eth_account', 'pydantic', 'rlp', 'trie'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True, timeout=120).stdout
    assert out.strip() == "[]"
