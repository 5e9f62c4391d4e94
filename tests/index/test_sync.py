"""Sync from the embedded chain: verification, pages, confirmations, queries."""

from __future__ import annotations

import copy
import itertools
from typing import Any

import pytest

from registry.errors import ChainError, IndexUnavailable, VerificationError
from registry.index import IndexReader, Store, sync_index
from registry.keys import KeyType
from tests.index.conftest import Chain, TamperingW3, ed25519_blob, refuse_ranges


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
        kinds = [e["kind"] for e in ix.history("alice@example.org")]  # the CLI's words
        assert kinds == ["assigned", "key-published", "key-published", "key-revoked",
                         "key-published", "key-rotated", "attested", "attested", "withdrawn"]
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


def test_pages_start_small_and_double_and_a_crowded_page_is_split(
        populated: Chain, tmp_path: Any) -> None:
    res = sync_index(tmp_path / "d.sqlite", populated.reg, page_blocks=1)
    sizes = res.page_sizes
    assert sizes[:3] == [1, 2, 4] and sum(sizes) == res.to_block - res.from_block + 1
    assert all(b <= 2 * a for a, b in itertools.pairwise(sizes))
    # a page above twice page_logs is dropped before decoding and asked again in halves; the
    # content is the same
    small = sync_index(tmp_path / "s.sqlite", populated.reg, page_blocks=64, page_logs=1)
    assert max(small.page_sizes) < 64 and small.events == res.events
    with Store.open(tmp_path / "d.sqlite") as a, Store.open(tmp_path / "s.sqlite") as b:
        assert a.digest() == b.digest()


def test_confirmations(populated: Chain, tmp_path: Any) -> None:
    head = populated.reg.w3.eth.block_number
    res = sync_index(tmp_path / "c.sqlite", populated.reg, confirmations=3)
    assert res.to_block == head - 3


def _w3(chain: Chain, tamper: Any) -> tuple[Any, str]:
    return (TamperingW3(chain.reg.w3, tamper), chain.reg.address)


def test_tampered_material_is_refused_and_nothing_stored(populated: Chain, tmp_path: Any) -> None:
    index = tmp_path / "t.sqlite"
    with pytest.raises(VerificationError, match="does not hash to its commitment"):
        sync_index(index, _w3(populated, _flip_material), page_blocks=1000)
    with Store.open(index) as s:
        assert s.synced_block is None and s.counts()["records"] == 0
        assert s.meta("last_sync_time") is None


def test_sync_leaves_the_garbage_collector_as_it_found_it(populated: Chain,
                                                          tmp_path: Any) -> None:
    """Sync pauses the cyclic collector during each page: on after a sync (and after one
    that failed), still off when the application had turned it off."""
    import gc

    assert gc.isenabled()
    sync_index(tmp_path / "a.sqlite", populated.reg, page_blocks=3, max_page_blocks=3)
    assert gc.isenabled()
    with pytest.raises(VerificationError):
        sync_index(tmp_path / "b.sqlite", _w3(populated, _flip_material), page_blocks=1000)
    assert gc.isenabled()
    gc.disable()
    try:
        sync_index(tmp_path / "c.sqlite", populated.reg)
        assert not gc.isenabled()
    finally:
        gc.enable()


def _flip_material(method: str, params: Any, resp: Any) -> Any:
    if method != "eth_getLogs":
        return None
    resp = copy.deepcopy(resp)
    for log in resp["result"]:
        if len(log["data"]) > 600:  # a KeyPublished: flip a byte of the key material
            # [.. 51-byte material padded to 64][proof length 0]
            i = len(log["data"]) - 64 - 128 + 10
            log["data"] = log["data"][:i] + ("0" if log["data"][i] != "0" else "1") + \
                log["data"][i + 1:]
    return resp


def test_views_are_not_evidence_and_a_lying_proof_is_refused(populated: Chain,
                                                              tmp_path: Any) -> None:
    index = tmp_path / "v.sqlite"
    sync_index(index, populated.reg, page_blocks=1000, max_blocks=5)  # names only so far

    def flip_view(method: str, params: Any, resp: Any) -> Any:
        if method == "eth_call":  # every view answers garbage: sync never asks one
            return {**resp, "result": "0x" + "ee" * 32}
        return None

    calls: list[str] = []

    def flip_proof(method: str, params: Any, resp: Any) -> Any:
        calls.append(method)
        if method == "eth_getProof" and "result" in resp:
            items = [dict(it, value=hex(int(it["value"], 16) ^ 1))
                     for it in resp["result"]["storageProof"]]
            return {**resp, "result": {**resp["result"], "storageProof": items}}
        return None

    with Store.open(index) as s:
        before = s.digest()
    with pytest.raises(VerificationError, match="proof shows"):
        sync_index(index, _w3(populated, flip_proof))
    assert "eth_call" not in calls
    with Store.open(index) as s:
        assert s.digest() == before
    sync_index(index, _w3(populated, flip_view))
    with Store.open(index) as a, Store.open(tmp_path / "ref.sqlite") as b:
        sync_index(b, populated.reg)
        assert a.digest() == b.digest()


def _topic(event: str) -> str:
    from registry.chain.client import load_contract

    return "0x" + load_contract().event(event).topic.hex()


def _drop_logs(event: str) -> Any:
    topic = _topic(event)

    def tamper(method: str, params: Any, resp: Any) -> Any:
        if method != "eth_getLogs":
            return None
        resp = copy.deepcopy(resp)
        resp["result"] = [lg for lg in resp["result"] if lg["topics"][0].lower() != topic]
        return resp
    return tamper


def _invent_attestation(method: str, params: Any, resp: Any) -> Any:
    """Copy the first Attested log, with another registered name as the attester."""
    from registry.names import namehash

    if method != "eth_getLogs":
        return None
    resp = copy.deepcopy(resp)
    real = [lg for lg in resp["result"] if lg["topics"][0].lower() == _topic("Attested")]
    if real:
        fake = copy.deepcopy(real[0])
        fake["topics"][3] = "0x" + bytes(namehash("db.web1.example.org")).hex()
        fake["logIndex"] = hex(int(fake["logIndex"], 16) + 500)  # no clash with a real log
        resp["result"].append(fake)
    return resp


def _disapprove_operator(method: str, params: Any, resp: Any) -> Any:
    """Rewrite the OperatorSet log's approved flag to false (the contract says true)."""
    if method != "eth_getLogs":
        return None
    resp = copy.deepcopy(resp)
    for lg in resp["result"]:
        if lg["topics"][0].lower() == _topic("OperatorSet"):
            lg["data"] = "0x" + "00" * 32
    return resp


@pytest.mark.parametrize("tamper", [
    _drop_logs("AttestationWithdrawn"), _invent_attestation, _disapprove_operator,
], ids=["withdrawal-withheld", "attestation-invented", "operator-flipped"])
def test_attestations_and_operators_are_checked_per_page(
        populated: Chain, tmp_path: Any, tamper: Any) -> None:
    """A withheld, invented or altered log fails the page's proven event digest; an endpoint
    that also patches the digest (view and proof value) to match its logs fails the proof."""
    from tests.index.conftest import consistent_liar

    index = tmp_path / "a.sqlite"
    for liar, expected in ((tamper, "do not account for every event"),
                           (consistent_liar(populated.reg.w3, tamper), "proof shows")):
        with pytest.raises(VerificationError, match=expected):
            sync_index(index, _w3(populated, liar), page_blocks=1000, policy_profile=None)
        with Store.open(index) as s:  # nothing from the page was stored
            assert s.synced_block is None and s.counts()["attestations"] == 0
            assert s.counts()["events"] == 0


def test_honest_sync_proves_each_page_and_asks_no_view(populated: Chain, tmp_path: Any) -> None:
    calls: list[str] = []

    def spy(method: str, params: Any, resp: Any) -> Any:
        calls.append(method)
        return None

    res = sync_index(tmp_path / "h.sqlite", _w3(populated, spy), page_blocks=1000,
                     policy_profile=None)
    assert "eth_call" not in calls  # views are a convenience, never evidence
    assert calls.count("eth_getProof") == res.pages  # the digest at each page's last block
    assert res.head is not None and res.head[0] == res.to_block


def _selector(fn: str) -> str:
    from registry.chain.client import load_contract

    return load_contract().fn(fn).selector.hex()


def test_page_shrinks_when_the_endpoint_refuses(populated: Chain, tmp_path: Any) -> None:
    res = sync_index(tmp_path / "s.sqlite", _w3(populated, refuse_ranges(3)), page_blocks=1000)
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


# --------------------------------------------------------------------------- hostile JSON-RPC replies


class _BatchW3:
    """A web3 stand-in whose batch replies go through ``mangle(calls, replies)`` (whole list).

    ``counter=True`` exposes the inner provider's request counter, as every web3
    JSON provider has, so sync knows the exact ids it sent; without it sync can
    only require distinct, consecutive ids.
    """

    def __init__(self, w3: Any, mangle: Any, *, counter: bool = True) -> None:
        inner = w3.provider

        class Provider:
            def make_request(self, method: str, params: Any) -> Any:
                return inner.make_request(method, params)

            def make_batch_request(self, calls: Any) -> Any:
                return mangle(list(calls), copy.deepcopy(inner.make_batch_request(calls)))

        self.provider = Provider()
        if counter:
            self.provider.request_counter = inner.request_counter  # type: ignore[attr-defined]


def _duplicate_id(calls: Any, replies: Any) -> Any:
    if len(replies) > 1:
        replies[1]["id"] = replies[0]["id"]
    return replies


def _foreign_id(calls: Any, replies: Any) -> Any:
    if len(replies) > 1:
        replies[-1]["id"] = 10**9
    return replies


def _missing_id(calls: Any, replies: Any) -> Any:
    if len(replies) > 1:
        del replies[0]["id"]
    return replies


def _missing_reply_and_foreign(calls: Any, replies: Any) -> Any:
    # one reply left out and one for a request never sent: the count still matches
    if len(replies) > 1:
        extra = dict(replies[-1], id=replies[-1]["id"] + 1)
        replies = [*replies[1:], extra]
    return replies


def _string_id(calls: Any, replies: Any) -> Any:
    if len(replies) > 1:
        replies[0]["id"] = str(replies[0]["id"])
    return replies


@pytest.mark.parametrize("counter", [True, False], ids=["known-ids", "unknown-ids"])
@pytest.mark.parametrize("mangle", [_duplicate_id, _foreign_id, _missing_id,
                                    _missing_reply_and_foreign, _string_id])
def test_batch_replies_must_answer_exactly_the_requests(populated: Chain, tmp_path: Any,
                                                        mangle: Any, counter: bool) -> None:
    index = tmp_path / "b.sqlite"
    w3 = _BatchW3(populated.reg.w3, mangle, counter=counter)
    if mangle is _missing_reply_and_foreign and not counter:
        # ids consecutive but shifted: only the block numbers in the replies can tell
        pattern = r"block|id"
    else:
        pattern = r"\bids?\b"
    with pytest.raises(ChainError, match=pattern):
        sync_index(index, (w3, populated.reg.address), page_blocks=1000)
    with Store.open(index) as s:
        assert s.synced_block is None and s.counts()["records"] == 0


def test_batch_replies_in_any_order_are_matched_by_id(populated: Chain, tmp_path: Any) -> None:
    def reverse(calls: Any, replies: Any) -> Any:
        return replies[::-1]

    for counter in (True, False):
        path = tmp_path / f"r{counter}.sqlite"
        res = sync_index(path, (_BatchW3(populated.reg.w3, reverse, counter=counter),
                                populated.reg.address), page_blocks=1000)
        assert res.events == 16
        with Store.open(path) as a, Store.open(tmp_path / "ref.sqlite") as b:
            sync_index(b, populated.reg)
            assert a.digest() == b.digest()


def test_header_for_another_block_is_refused(populated: Chain, tmp_path: Any) -> None:
    # ids intact, contents swapped: the block number inside each header gives it away
    def swap(calls: Any, replies: Any) -> Any:
        if len(replies) > 1 and calls[0][0] == "eth_getBlockByNumber":
            a, b = replies[0], replies[1]
            a["result"], b["result"] = b["result"], a["result"]
        return replies

    with pytest.raises(ChainError, match=r"block"):
        sync_index(tmp_path / "h.sqlite", (_BatchW3(populated.reg.w3, swap), populated.reg.address),
                   page_blocks=1000)


def _reply(method: str, change: Any, *, replace: bool = False) -> Any:
    """Tamper with ``method``'s replies: ``change`` edits one in place (or returns a new one)."""
    def tamper(m: str, params: Any, resp: Any) -> Any:
        if m != method:
            return None
        resp = copy.deepcopy(resp)
        out = change(resp)
        return out if replace else resp
    return tamper


def _first_log(change: Any) -> Any:
    def on(resp: Any) -> None:
        if resp.get("result"):
            change(resp["result"][0])
    return _reply("eth_getLogs", on)


def _header(change: Any) -> Any:
    def on(resp: Any) -> None:
        if resp.get("result"):
            change(resp["result"])
    return _reply("eth_getBlockByNumber", on)


MALFORMED = {
    "chainId-bad-hex": _reply("eth_chainId", lambda r: r.update(result="0xzz")),
    "chainId-int": _reply("eth_chainId", lambda r: r.update(result=5)),
    "header-no-result": _reply("eth_getBlockByNumber", lambda r: r.pop("result")),
    "header-null": _reply("eth_getBlockByNumber", lambda r: r.update(result=None)),
    "header-number-list": _header(lambda h: h.update(number=["0x1"])),
    "reply-is-a-list": _reply("eth_getBlockByNumber", lambda r: [r], replace=True),
    "reply-is-a-string": _reply("eth_chainId", lambda r: "oops", replace=True),
    "error-is-a-string": _reply("eth_getLogs", lambda r: {"jsonrpc": "2.0", "id": 1, "error": "no"},
                                replace=True),
    "logs-a-dict": _reply("eth_getLogs", lambda r: r.update(result={})),
    "logs-a-string": _reply("eth_getLogs", lambda r: r.update(result="0x")),
    "log-a-string": _reply("eth_getLogs", lambda r: r["result"].append("0x")),
    "log-no-blockHash": _first_log(lambda lg: lg.pop("blockHash")),
    "log-no-blockNumber": _first_log(lambda lg: lg.pop("blockNumber")),
    "log-bad-blockNumber": _first_log(lambda lg: lg.update(blockNumber="0xzz")),
    "log-int-blockNumber": _first_log(lambda lg: lg.update(blockNumber=3)),
    "log-null-logIndex": _first_log(lambda lg: lg.update(logIndex=None)),
    "log-topics-string": _first_log(lambda lg: lg.update(topics=lg["topics"][0])),
    "log-topic-int": _first_log(lambda lg: lg.update(topics=[7])),
    "log-data-bad-hex": _first_log(lambda lg: lg.update(data="0xnothex")),
    "log-data-odd": _first_log(lambda lg: lg.update(data=lg["data"] + "1")),
    "log-data-null": _first_log(lambda lg: lg.update(data=None)),
    "log-removed-string": _first_log(lambda lg: lg.update(removed="false")),
    "log-tx-hash-int": _first_log(lambda lg: lg.update(transactionHash=12)),
    "log-address-int": _first_log(lambda lg: lg.update(address=12)),
    "header-a-list": _reply("eth_getBlockByNumber", lambda r: r.update(result=[1])),
    "header-no-hash": _header(lambda h: h.pop("hash")),
    "header-hash-int": _header(lambda h: h.update(hash=7)),
    "header-bad-timestamp": _header(lambda h: h.update(timestamp="soon")),
    "header-no-number": _header(lambda h: h.pop("number")),
    "header-field-altered": _header(lambda h: h.update(gasUsed=hex(int(h["gasUsed"], 16) + 1))),
    "header-state-root": _header(lambda h: h.update(stateRoot="0x" + "11" * 32)),
    "proof-int": _reply("eth_getProof", lambda r: r.update(result=5)),
    "proof-null": _reply("eth_getProof", lambda r: r.update(result=None)),
    "proof-no-storage": _reply("eth_getProof", lambda r: r["result"].pop("storageProof")),
    "proof-node-bad-hex": _reply("eth_getProof",
                                 lambda r: r["result"]["accountProof"].__setitem__(0, "0xzz")),
    "proof-node-tampered": _reply("eth_getProof", lambda r: r["result"]["accountProof"].__setitem__(
        -1, r["result"]["accountProof"][-1][:-2] + "00")),
    "proof-value-int": _reply("eth_getProof",
                              lambda r: r["result"]["storageProof"][0].update(value=5)),
    "proof-wrong-slot": _reply("eth_getProof",
                               lambda r: r["result"]["storageProof"][0].update(key="0x1")),
    "proof-other-account": _reply("eth_getProof",
                                  lambda r: r["result"].update(address="0x" + "12" * 20)),
}


@pytest.mark.parametrize("tamper", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_replies_are_chain_errors(populated: Chain, tmp_path: Any, tamper: Any) -> None:
    """Whatever shape a reply has, the user sees a ChainError, never KeyError / TypeError."""
    index = tmp_path / "m.sqlite"
    with pytest.raises(ChainError) as info:
        sync_index(index, _w3(populated, tamper), page_blocks=1000)
    assert "Traceback" not in str(info.value) and str(info.value)
    with Store.open(index) as s:
        assert s.counts()["records"] == 0


def test_malformed_batch_reply_is_a_chain_error(populated: Chain, tmp_path: Any) -> None:
    for mangled in ("oops", None, [None, None], 7):
        with pytest.raises(ChainError):
            sync_index(tmp_path / "x.sqlite",
                       (_BatchW3(populated.reg.w3, lambda c, r, m=mangled: m),
                        populated.reg.address), page_blocks=1000)


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


@pytest.mark.anvil
def test_reorg_between_pages_of_one_run_rolls_back(anvil: Anvil, tmp_path: Path) -> None:
    """A reorg after page N is stored and before page N+1 is fetched: roll back, not refuse."""
    reg = anvil.registry()
    me = reg.account.address
    reg.register("example.org")
    reg.assign("alice@example.org", me)
    base = reg.w3.eth.block_number
    snap = anvil.rpc("evm_snapshot")
    reg.publish("alice@example.org", ed25519_blob(20), key_type=KeyType.SSH, purposes="ssh-user")
    reg.publish("alice@example.org", ed25519_blob(21), key_type=KeyType.SSH, purposes="ssh-user")
    reg.assign("bob@example.org", me)
    index = tmp_path / "between.sqlite"
    reorged: list[int] = []

    def progress(hi: int, target: int, events: int) -> None:
        if hi == base + 1 and not reorged:  # the page with the first publish is committed
            assert anvil.rpc("evm_revert", [snap]) is True
            other = anvil.registry(registry_address=reg.address, from_block=reg.from_block)
            other.publish("alice@example.org", ed25519_blob(22), key_type=KeyType.SSH,
                          purposes="ssh-host")
            other.publish("alice@example.org", ed25519_blob(23), key_type=KeyType.SSH,
                          purposes="ssh-host")
            for _ in range(3):
                anvil.rpc("evm_mine")
            reorged.append(hi)

    res = sync_index(index, reg, page_blocks=1, max_page_blocks=1, progress=progress)
    assert reorged and res.rolled_back_to == base and res.removed_events >= 1
    with IndexReader.open(index) as ix:
        assert [r.purposes for r in ix.records("alice@example.org")] == [2, 2]
        assert not ix.exists("bob@example.org")
    fresh = tmp_path / "fresh.sqlite"
    sync_index(fresh, (reg.w3, reg.address, reg.from_block))
    assert _digest(index) == _digest(fresh)


class _LyingProxy:
    """An HTTP JSON-RPC proxy in front of anvil that rewrites batch replies with ``mangle``."""

    def __init__(self, upstream: str, mangle: Any) -> None:
        import json
        import threading
        import urllib.request
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                req = urllib.request.Request(upstream, body, {"Content-Type": "application/json"})
                with urllib.request.urlopen(req, timeout=30) as resp:
                    reply = json.loads(resp.read())
                if isinstance(reply, list):
                    reply = mangle(json.loads(body), reply)
                out = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.mark.anvil
def test_cli_sync_through_a_lying_endpoint_is_one_clear_error(
        anvil: Anvil, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from cli.main import main

    reg = anvil.registry()
    reg.register("example.org")
    reg.assign("alice@example.org", reg.account.address)
    monkeypatch.setenv("KEYANCHOR_REGISTRY", reg.address)
    monkeypatch.setenv("KEYANCHOR_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("KEYANCHOR_INDEX", str(tmp_path / "index.sqlite"))
    for mangle, says in ((_duplicate_id, "two replies with id"),
                         (lambda calls, replies: [{"id": r["id"]} for r in replies],
                          "no result and no error"),
                         (lambda calls, replies: [dict(r, result={"hash": 5}) for r in replies],
                          "malformed JSON-RPC response")):
        proxy = _LyingProxy(anvil.url, mangle)
        try:
            monkeypatch.setenv("KEYANCHOR_RPC_URL", proxy.url)
            capsys.readouterr()
            assert main(["sync", "--policy", "none"]) == 1
            err = capsys.readouterr().err
        finally:
            proxy.close()
        (line,) = err.strip().splitlines()
        assert line.startswith("keyanchor: error: ") and says in line, line
        assert "internal error" not in line


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
    with Store.open(reference) as r:
        end = r.synced_block
    # the cursor only ever stands at the end of a proven page (pages of 4 blocks here)
    assert all(p is None or p == end or (p - reg.from_block + 1) % 4 == 0 for p in partial), partial
    res = sync_index(index, (reg.w3, reg.address, reg.from_block))
    if partial[-1] is not None:  # the resume starts right after the last proven page
        assert res.from_block == partial[-1] + 1
    assert _digest(index) == _digest(reference)
    with IndexReader.open(index) as ix:
        assert len(ix.records("u7@example.org")) == 1


@pytest.mark.anvil
def test_proofs_at_the_newest_block_verify_while_anvil_mines(anvil: Anvil, tmp_path: Path) -> None:
    """anvil answers eth_getProof at its newest block from the state it is mining the next
    block into: such a proof is asked again once the block has a successor (stored state)."""
    import threading
    import time

    reg = anvil.registry()
    me = reg.account.address
    reg.register("example.org")
    reg.assign("alice@example.org", me)
    stop = threading.Event()

    def mine() -> None:
        while not stop.is_set():
            anvil.rpc("eth_sendTransaction", [{"from": me, "to": "0x" + "11" * 20, "value": "0x1"}])

    miner = threading.Thread(target=mine, daemon=True)
    miner.start()
    index = tmp_path / "mined.sqlite"
    syncs = 0
    try:
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline:
            res = sync_index(index, (reg.w3, reg.address, reg.from_block), policy_profile=None)
            assert res.head is not None and res.head[0] == res.to_block
            assert reg.owner("alice@example.org") == me
            syncs += 1
    finally:
        stop.set()
        miner.join(timeout=30)
    assert syncs >= 5
    with IndexReader.open(index) as ix:
        assert str((ix.name("alice@example.org") or {}).get("owner")).lower() == me.lower()


def _age_the_head(index: Any, seconds: int) -> int:
    """Rewrite the proven head's timestamp to ``seconds`` before the last sync run (a chain
    that mined nothing since); return that run's time."""
    with Store.open(index) as store, store.transaction():
        last = int(store.meta("last_sync_time") or 0)
        store.conn.execute("UPDATE meta SET value = ? WHERE key = 'head_timestamp'",
                           (str(last - seconds),))
    return last


def test_an_idle_embedded_chain_does_not_age_its_index(populated: Chain, tmp_path: Any) -> None:
    """The embedded chain mines only when asked: a day without a transaction must not make
    sshd and serve refuse an index synced a minute ago from the chain's own state file. An
    endpoint's head keeps its own timestamp as the measure (a lagging node must age)."""
    index = tmp_path / "idle.sqlite"
    sync_index(index, populated.reg)
    last = _age_the_head(index, 86_400)
    with IndexReader.open(index, max_staleness=3600, now=last + 60) as ix:
        assert ix.fresh_as_of() == last
        assert ix.status(now=last + 60)["age_seconds"] == 60
    with pytest.raises(IndexUnavailable, match="stale"):  # and it still ages from that sync
        IndexReader.open(index, max_staleness=3600, now=last + 3601)

    endpoint = (TamperingW3(populated.reg.w3, lambda method, params, resp: None),
                populated.reg.address)
    sync_index(index, endpoint)  # the same chain through an endpoint: no such mark
    last = _age_the_head(index, 86_400)
    with pytest.raises(IndexUnavailable, match="stale: the newest block it proved"):
        IndexReader.open(index, max_staleness=3600, now=last + 60)

    behind = tmp_path / "behind.sqlite"
    sync_index(behind, populated.reg, confirmations=1)  # proved a block, not the newest
    last = _age_the_head(behind, 86_400)
    with pytest.raises(IndexUnavailable, match="stale"):
        IndexReader.open(behind, max_staleness=3600, now=last + 60)
