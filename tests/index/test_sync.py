"""Sync from the embedded chain: verification, pages, confirmations, queries."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from registry.errors import ChainError, VerificationError
from registry.index import IndexReader, Store, sync_index
from registry.keys import KeyType
from tests.index.conftest import Chain, TamperingW3, ed25519_blob


@pytest.fixture(scope="module")
def populated(embedded: Chain) -> Chain:
    reg = embedded.reg
    me = reg.account.address
    other = "0x" + "22" * 20
    reg.register("example.org")
    reg.assign("alice@example.org", me)
    reg.assign("web1.example.org", me)
    reg.assign("db.web1.example.org", me)
    reg.publish("alice@example.org", ed25519_blob(1), key_type=KeyType.SSH, purposes="ssh-user")
    reg.publish("alice@example.org", ed25519_blob(2), key_type=KeyType.SSH, purposes="ssh-user,ca")
    reg.rotate("alice@example.org", 0, ed25519_blob(3), key_type=KeyType.SSH)
    reg.publish("web1.example.org", ed25519_blob(4), key_type=KeyType.SSH, purposes="ssh-host")
    reg.publish("db.web1.example.org", ed25519_blob(1), key_type=KeyType.SSH, purposes="ssh-host")
    reg.attest("example.org", "alice@example.org", 1, policy_hash=b"\x07" * 32)
    reg.attest("web1.example.org", "alice@example.org", 1)
    reg.withdraw("web1.example.org", "alice@example.org", 1)
    reg.set_operator("web1.example.org", other)
    reg.transfer("db.web1.example.org", other)
    return embedded


def test_sync_and_queries(populated: Chain, tmp_path: Any) -> None:
    index = tmp_path / "i.sqlite"
    res = sync_index(index, populated.reg, page_blocks=3, max_page_blocks=3)
    assert res.events == 16 and res.pages >= 5
    with IndexReader.open(index, max_staleness=60) as ix:
        recs = ix.records("alice@example.org")
        assert [(r.index, r.status, r.reason) for r in recs] == [
            (0, "revoked", 4), (1, "active", None), (2, "active", None)]
        assert all(r.policy in ("pass", "fail") for r in recs)
        assert recs[0].fingerprint.startswith("SHA256:")
        assert ix.names_by_fingerprint(recs[0].fingerprint) == [
            ("alice@example.org", 0), ("db.web1.example.org", 0)]
        assert [r.name for r in ix.host_keys("db.web1.example.org")] == ["db.web1.example.org"]
        assert ix.host_keys("alice@example.org") == []
        info = ix.name("db.web1.example.org")
        assert info is not None and info["owner"] == "0x" + "22" * 20
        assert info["parent"] == "web1.example.org"
        web1 = ix.name("web1.example.org")
        assert web1 is not None and web1["operators"] == ["0x" + "22" * 20]
        kinds = [e["event"] for e in ix.history("alice@example.org")]
        assert kinds == ["NameRegistered", "KeyPublished", "KeyPublished", "KeyRevoked",
                         "KeyPublished", "KeyRotated", "Attested", "Attested", "AttestationWithdrawn"]
        rows = ix.conn.execute("SELECT count(*) FROM attestations").fetchone()
        assert rows[0] == 1
        assert ix.status()["synced_block"] == res.to_block
    again = sync_index(index, populated.reg)
    assert again.events == 0 and again.pages == 0


def test_same_content_whatever_the_page_size(populated: Chain, tmp_path: Any) -> None:
    digests = set()
    for size in (1, 4, 1000):
        path = tmp_path / f"p{size}.sqlite"
        sync_index(path, populated.reg, page_blocks=size, max_page_blocks=size)
        with Store.open(path) as s:
            digests.add(s.digest())
    assert len(digests) == 1


def test_confirmations(populated: Chain, tmp_path: Any) -> None:
    head = populated.reg.w3.eth.block_number
    res = sync_index(tmp_path / "c.sqlite", populated.reg, confirmations=3)
    assert res.to_block == head - 3


def _w3(chain: Chain, tamper: Any) -> tuple[Any, str]:
    return (TamperingW3(chain.reg.w3, tamper), chain.reg.address)


def test_tampered_material_is_refused_and_nothing_stored(populated: Chain, tmp_path: Any) -> None:
    index = tmp_path / "t.sqlite"

    def tamper(method: str, params: Any, resp: Any) -> Any:
        if method != "eth_getLogs":
            return None
        resp = copy.deepcopy(resp)
        for log in resp["result"]:
            if len(log["data"]) > 600:  # a KeyPublished: flip the last byte of the key material
                data = log["data"]  # [.. 51-byte material padded to 64][proof length 0]
                i = len(data) - 64 - 128 + 10
                log["data"] = data[:i] + ("0" if data[i] != "0" else "1") + data[i + 1:]
        return resp

    with pytest.raises(VerificationError, match="does not hash to its commitment"):
        sync_index(index, _w3(populated, tamper), page_blocks=1000)
    with Store.open(index) as s:
        assert s.synced_block is None and s.counts()["records"] == 0
        assert s.meta("last_sync_time") is None


def test_view_mismatch_is_refused(populated: Chain, tmp_path: Any) -> None:
    index = tmp_path / "v.sqlite"
    sync_index(index, populated.reg, page_blocks=1000, max_blocks=5)  # names only so far

    def tamper(method: str, params: Any, resp: Any) -> Any:
        if method == "eth_call" and params[0]["data"].startswith("0x" + _selector("records")):
            resp = dict(resp)
            r = resp["result"]  # offset, length, then record 0: flip its commitment's first digit
            if len(r) > 200:
                resp["result"] = r[:130] + ("1" if r[130] != "1" else "2") + r[131:]
            return resp
        return None

    with Store.open(index) as s:
        before = s.digest()
    with pytest.raises(VerificationError, match=r"disagrees|records"):
        sync_index(index, _w3(populated, tamper))
    with Store.open(index) as s:
        assert s.digest() == before


def _selector(fn: str) -> str:
    from registry.chain.client import load_contract

    return load_contract().fn(fn).selector.hex()


def test_page_shrinks_when_the_endpoint_refuses(populated: Chain, tmp_path: Any) -> None:
    def tamper(method: str, params: Any, resp: Any) -> Any:
        if method == "eth_getLogs":
            f = params[0]
            if int(f["toBlock"], 16) - int(f["fromBlock"], 16) >= 3:
                return {"jsonrpc": "2.0", "id": resp.get("id"),
                        "error": {"code": -32005, "message": "query exceeds max block range 3"}}
        return None

    res = sync_index(tmp_path / "s.sqlite", _w3(populated, tamper), page_blocks=1000)
    assert max(res.page_sizes) <= 3 and res.events == 16
    with Store.open(tmp_path / "s.sqlite") as a, Store.open(tmp_path / "ref.sqlite") as b:
        sync_index(b, populated.reg)
        assert a.digest() == b.digest()


def test_other_chain_refused(populated: Chain, tmp_path: Any) -> None:
    from registry.errors import ConfigError

    index = tmp_path / "o.sqlite"
    sync_index(index, populated.reg)
    with pytest.raises(ConfigError):
        sync_index(index, (populated.reg.w3, "0x" + "12" * 20))


def test_endpoint_errors_are_chain_errors(populated: Chain, tmp_path: Any) -> None:
    def tamper(method: str, params: Any, resp: Any) -> Any:
        if method == "eth_getLogs":
            return {"jsonrpc": "2.0", "id": 1, "error": {"code": -32000, "message": "boom"}}
        return None

    with pytest.raises(ChainError, match="boom"):
        sync_index(tmp_path / "e.sqlite", _w3(populated, tamper))


# --------------------------------------------------------------------------- anvil: reorgs, crashes

import os  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from tests.index.conftest import Anvil  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def _digest(path: Path) -> str:
    with Store.open(path) as s:
        return s.digest()


@pytest.mark.anvil
def test_reorg_rolls_back_to_the_common_ancestor(anvil: Anvil, tmp_path: Path) -> None:
    reg = anvil.registry()
    me = reg.account.address
    reg.register("example.org")
    reg.assign("alice@example.org", me)
    index = tmp_path / "r.sqlite"
    sync_index(index, reg)
    base = reg.w3.eth.block_number
    snap = anvil.rpc("evm_snapshot")
    reg.publish("alice@example.org", ed25519_blob(10), key_type=KeyType.SSH, purposes="ssh-user")
    reg.assign("bob@example.org", me)
    first = sync_index(index, reg)
    assert first.events == 2
    with IndexReader.open(index) as ix:
        assert [r.fingerprint for r in ix.records("alice@example.org")]
        assert ix.exists("bob@example.org")
    assert anvil.rpc("evm_revert", [snap]) is True
    reg2 = anvil.registry(registry_address=reg.address, from_block=reg.from_block)
    reg2.publish("alice@example.org", ed25519_blob(11), key_type=KeyType.SSH, purposes="ssh-host")
    anvil.rpc("evm_mine")
    res = sync_index(index, reg2)
    assert res.rolled_back_to is not None and res.rolled_back_to <= base
    assert res.removed_events == 2
    with IndexReader.open(index) as ix:
        (rec,) = ix.records("alice@example.org")
        assert rec.purposes == 2 and not ix.exists("bob@example.org")
    fresh = tmp_path / "fresh.sqlite"
    sync_index(fresh, reg2)
    assert _digest(index) == _digest(fresh)


_SYNC_SCRIPT = """
import sys
from web3 import HTTPProvider, Web3
from registry.index import sync_index
url, addr, start, path = sys.argv[1:5]
w3 = Web3(HTTPProvider(url))
sync_index(path, (w3, addr, int(start)), page_blocks=4, max_page_blocks=4,
           progress=lambda hi, target, n: print(hi, flush=True))
print("done", flush=True)
"""


@pytest.mark.anvil
def test_sync_killed_at_any_point_resumes_to_the_same_content(anvil: Anvil, tmp_path: Path) -> None:
    reg = anvil.registry()
    me = reg.account.address
    reg.register("example.org")
    pending = [reg.assign(f"u{i}@example.org", me, wait=False) for i in range(40)]
    for p in pending:
        p.wait()
    pending = [reg.publish(f"u{i}@example.org", ed25519_blob(100 + i), key_type=KeyType.SSH,
                           purposes="ssh-user", wait=False) for i in range(40)]
    for p in pending:
        p.wait()
    for i in range(0, 40, 5):
        reg.revoke(f"u{i}@example.org", 0, "superseded")
    args = [anvil.url, reg.address, str(reg.from_block)]
    reference = tmp_path / "reference.sqlite"
    sync_index(reference, (reg.w3, reg.address, reg.from_block))
    index = tmp_path / "killed.sqlite"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    kills = 0
    partial: list[int | None] = []
    for lines_before_kill, delay in ((0, 0.0), (1, 0.0), (2, 0.01), (4, 0.03), (7, 0.0), (11, 0.02)):
        proc = subprocess.Popen([sys.executable, "-c", _SYNC_SCRIPT, *args, str(index)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        assert proc.stdout is not None
        seen = 0
        try:
            while seen < lines_before_kill:
                line = proc.stdout.readline()
                if not line or line.startswith("done"):
                    break
                seen += 1
            if delay:
                import time

                time.sleep(delay)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
        finally:
            proc.wait(timeout=60)
            proc.stdout.close()
            if proc.stderr:
                proc.stderr.close()
        if index.exists():
            with Store.open(index) as s:
                partial.append(s.synced_block)
    assert kills >= 4
    with Store.open(reference) as r:
        assert any(p is not None and p < (r.synced_block or 0) for p in partial), partial
    sync_index(index, (reg.w3, reg.address, reg.from_block))
    assert _digest(index) == _digest(reference)
    with IndexReader.open(index) as ix:
        assert len(ix.records("u7@example.org")) == 1
