"""Lying JSON-RPC endpoints (tests/lying_proxy.py in front of anvil): never wrong data served.

The world: ``alice@example.org`` holds record 0 (fine) and record 1, revoked for
key compromise in block R. Blocks before R carry timestamps ~3 hours old (anvil
started with its clock in the past), R carries the present: an index that never
saw R is stale by its proven head, whatever the time of its last contact.

For every lie, a sync (incremental from an index synced before R, and from
scratch) and a lookup through the lying endpoint must end in an error, in an
index that refuses to be served (stale), or in the truth (record 1 revoked) --
never in record 1 served as active. With three endpoints, one liar is outvoted
and named; endpoints that split are refused; an endpoint that reorganises away
a block it proved is followed by a rollback.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from registry.chain.client import Registry
from registry.errors import (
    ChainError,
    ConfigError,
    Error,
    HeadRegressed,
    IndexUnavailable,
    QuorumError,
    VerificationError,
    WrongChain,
)
from registry.index import IndexReader, Store, sync_index
from registry.keys import KeyType
from tests.conftest import Anvil
from tests.index.conftest import ed25519_blob
from tests.lying_proxy import MODES, LyingProxy

pytestmark = pytest.mark.anvil

NAME = "alice@example.org"
PAST = 3 * 3600  # the history before the revocation is this old
STALENESS = 3600  # the limit sshd and serve apply in these tests


@dataclass
class World:
    node: Anvil
    reg: Registry
    before: Path  # an index synced just before the revocation (stale by its proven head)
    after: Path  # an index synced after it (fresh, record 1 revoked)
    block_a: int  # the head of ``before``
    block_r: int  # the revocation's block

    def connect(self, url: str | list[str], **kw: Any) -> Registry:
        return Registry.connect(url, registry_address=self.reg.address,
                                from_block=self.reg.from_block, **kw)

    def copy(self, src: Path, dst: Path) -> Path:
        shutil.copyfile(src, dst)
        return dst


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    node = Anvil("--timestamp", str(int(time.time()) - PAST))
    try:
        reg = node.registry()
        me = reg.account.address
        reg.register("example.org")
        reg.assign(NAME, me)
        reg.publish(NAME, ed25519_blob(1), key_type=KeyType.SSH, purposes="ssh-user")
        reg.publish(NAME, ed25519_blob(2), key_type=KeyType.SSH, purposes="ssh-user")
        d = tmp_path_factory.mktemp("world")
        sync_index(d / "before.sqlite", reg)
        block_a = reg.w3.eth.block_number
        node.rpc("evm_setNextBlockTimestamp", [int(time.time())])
        reg.revoke(NAME, 1, "key-compromise")
        block_r = reg.w3.eth.block_number
        sync_index(d / "after.sqlite", reg)
        yield World(node, reg, d / "before.sqlite", d / "after.sqlite", block_a, block_r)
    finally:
        node.close()


def served(index: Path) -> list[tuple[int, str]] | None:
    """What a gateway would serve from ``index``: None when it refuses the index (missing,
    never synced, stale by its proven head), else (index, status) of alice's records."""
    try:
        with IndexReader.open(index, max_staleness=STALENESS) as ix:
            return [(r.index, r.status) for r in ix.records(NAME)]
    except IndexUnavailable:
        return None


def assert_never_wrong(index: Path) -> None:
    shown = served(index)
    assert shown is None or shown == [(0, "active"), (1, "revoked")], shown


#: mode -> what a sync through that single endpoint ends in: an error (its class and a
#: part of its message), or "truth" (the lie is never consumed: the sync asks nothing it
#: could lie in), or "stale" (the endpoint lags: the index ages and is refused).
SYNC_OUTCOME: dict[str, Any] = {
    "flip-material": (VerificationError, "does not hash to its commitment"),
    "flip-commitment-view": "truth",
    "rewrite-block-hashes": (VerificationError, "names block hash"),
    "unrevoke-view": "truth",
    "unrevoke-proof": "truth",  # sync proves slot 0 only: the record words it never reads
    "withhold-revocation": (VerificationError, "do not account for every event"),
    "withhold-revocation-patch-digest": (VerificationError, "proof shows"),
    "digest-skips-event": (VerificationError, "proof shows"),
    "freeze-head": "stale",
    "tamper-proof-node": (VerificationError, "missing or altered"),
    "header-fields": (VerificationError, "hash to"),
    # proofs asked at the forged block's hash: the node cannot give them
    "forged-header": (ChainError, "does not verify|names block hash|refused"),
    "wrong-slot": (VerificationError, "does not verify|proof shows"),
}
#: mode -> what a lookup through that single endpoint ends in (as above; "truth": record
#: 1 shown revoked).
LOOKUP_OUTCOME: dict[str, Any] = {
    **SYNC_OUTCOME,
    "flip-material": (VerificationError, "does not hash to the on-chain commitment"),
    "rewrite-block-hashes": "truth",  # a lookup takes no block hash from a log
    "unrevoke-proof": (VerificationError, "proof shows"),
    "withhold-revocation": "truth",  # the revocation is in the proven record word
    "withhold-revocation-patch-digest": "truth",
    "digest-skips-event": "truth",  # a lookup proves record words, not the digest
    "freeze-head": (VerificationError, "s old"),  # with max_head_age
    # the endpoint is asked for proofs at the forged block's hash, which it cannot give
    "forged-header": (ChainError, "does not verify|refused"),
}
#: what an incremental sync (from an index synced before R) ends in, where it differs: its
#: one page holds the revocation only, no KeyPublished log to flip
INCREMENTAL_OUTCOME: dict[str, Any] = {"flip-material": "truth"}


def test_every_mode_is_covered() -> None:
    assert set(SYNC_OUTCOME) == set(LOOKUP_OUTCOME) == set(MODES) - {"honest", "wrong-chain-id"}


def lying(world: World, mode: str) -> LyingProxy:
    """A proxy in front of the world's node lying in ``mode``; a frozen head stops at block A
    (before the revocation: what a lagging node shows)."""
    proxy = LyingProxy(world.node.url, mode)
    if mode == "freeze-head":
        proxy.freeze_at(world.block_a)
    return proxy


def _expect(outcome: Any, run: Any) -> Any:
    if isinstance(outcome, tuple):
        cls, text = outcome
        with pytest.raises(cls, match=text):
            run()
        return None
    return run()


@pytest.mark.parametrize("mode", list(SYNC_OUTCOME))
def test_sync_through_a_lying_endpoint(world: World, tmp_path: Path, mode: str) -> None:
    assert served(world.before) is None  # stale already: it never saw block R
    with lying(world, mode) as proxy:
        reg = world.connect(proxy.url)
        for start in ("incremental", "fresh"):
            index = tmp_path / f"{start}.sqlite"
            outcome = SYNC_OUTCOME[mode]
            if start == "incremental":
                world.copy(world.before, index)
                outcome = INCREMENTAL_OUTCOME.get(mode, outcome)
            proxy.requests.clear()
            res = _expect(outcome, lambda index=index: sync_index(index, reg))
            assert_never_wrong(index)
            if outcome == "truth":
                assert served(index) == [(0, "active"), (1, "revoked")]
                assert "eth_call" not in proxy.requests  # views: never asked, never believed
            elif outcome == "stale":
                assert res.to_block == world.block_a  # the frozen head
                assert served(index) is None
                with Store.open(index) as st:
                    head = st.proven_head()
                assert head is not None and head[0] == world.block_a
                assert time.time() - head[3] > STALENESS  # its own time, not the contact's
            else:
                with Store.open(index) as st:  # nothing from the failing page was stored
                    assert st.synced_block in (None, world.block_a)


@pytest.mark.parametrize("mode", list(LOOKUP_OUTCOME))
def test_lookup_through_a_lying_endpoint(world: World, mode: str) -> None:
    with lying(world, mode) as proxy:
        reg = world.connect(proxy.url, max_head_age=STALENESS)
        recs = _expect(LOOKUP_OUTCOME[mode], lambda: reg.lookup(NAME, include_revoked=True))
    if recs is not None:
        assert [(r.index, r.status) for r in recs] == [(0, "active"), (1, "revoked")]


def test_wrong_chain_id_is_refused(world: World, tmp_path: Path) -> None:
    with LyingProxy(world.node.url, "wrong-chain-id") as proxy:
        with pytest.raises(WrongChain):
            world.connect(proxy.url, chain_id=31337)
        index = world.copy(world.after, tmp_path / "i.sqlite")
        from web3 import HTTPProvider, Web3

        with pytest.raises(ConfigError, match="chain 31337, not"):
            sync_index(index, (Web3(HTTPProvider(proxy.url)), world.reg.address))
    assert served(index) == [(0, "active"), (1, "revoked")]


def test_head_below_the_index_is_refused(world: World, tmp_path: Path) -> None:
    index = world.copy(world.after, tmp_path / "i.sqlite")
    with Store.open(index) as st:
        before = st.digest()
    with LyingProxy(world.node.url) as proxy:
        proxy.freeze_at(world.block_a)
        with pytest.raises(HeadRegressed, match="below block"):
            sync_index(index, world.connect(proxy.url))
    with Store.open(index) as st:
        assert st.digest() == before and st.proven_head()[0] == world.block_r  # type: ignore[index]
    assert served(index) == [(0, "active"), (1, "revoked")]


def test_honest_endpoint_after_a_liar_repairs_nothing_needed(world: World, tmp_path: Path) -> None:
    """A liar's failed page leaves the cursor before it; an honest endpoint then carries on."""
    index = world.copy(world.before, tmp_path / "i.sqlite")
    with LyingProxy(world.node.url, "withhold-revocation") as proxy:
        with pytest.raises(VerificationError):
            sync_index(index, world.connect(proxy.url))
        proxy.lie("honest")
        res = sync_index(index, world.connect(proxy.url), audit=True)
    assert res.events == 1 and res.diverged == []
    assert served(index) == [(0, "active"), (1, "revoked")]


# --------------------------------------------------------------------------- quorum


@pytest.mark.parametrize("mode", ["forged-header", "withhold-revocation", "flip-material",
                                  "freeze-head", "header-fields", "tamper-proof-node"])
def test_one_of_three_lying_is_outvoted_and_named(world: World, tmp_path: Path,
                                                  mode: str) -> None:
    proxies = [lying(world, mode), LyingProxy(world.node.url), LyingProxy(world.node.url)]
    try:
        liar = proxies[0]  # first: the preferred source of data, too
        urls = [p.url for p in proxies]
        index = tmp_path / "i.sqlite"  # from scratch: every log passes through the liar
        res = sync_index(index, world.connect(urls, quorum=2))
        assert served(index) == [(0, "active"), (1, "revoked")]
        named = [line for line in res.report if line.startswith(liar.url)]
        assert named, res.report
        assert not [line for line in res.report if not line.startswith(liar.url)], res.report
        reg = world.connect(urls, quorum=2, max_head_age=STALENESS)
        recs = reg.lookup(NAME, include_revoked=True)
        assert [(r.index, r.status) for r in recs] == [(0, "active"), (1, "revoked")]
        if mode != "withhold-revocation":  # a lookup reads no revocation log
            assert any(d.endpoint == liar.url for d in reg.trust.report), reg.trust.report
    finally:
        for p in proxies:
            p.close()


@pytest.mark.parametrize("mode", ["withhold-revocation", "flip-material",
                                  "withhold-revocation-patch-digest"])
def test_watch_through_a_lying_preferred_endpoint_reports_the_truth(world: World,
                                                                    mode: str) -> None:
    """`keyanchor watch` read the first endpoint's eth_getLogs alone, whatever the quorum:
    with three endpoints configured, the preferred one hid the revocation (or altered a
    key). Now watch reads blocks the quorum trusts and logs the contract's digest proves,
    naming the liar."""
    from registry.index import watch_events

    proxies = [lying(world, mode), LyingProxy(world.node.url), LyingProxy(world.node.url)]
    try:
        reg = world.connect([p.url for p in proxies], quorum=2)
        changes = [(c.kind, c.data.get("index")) for c in watch_events(
            reg, [NAME], from_block=0, until_block=world.block_r)]
        assert changes == [("registered", None), ("published", 0), ("published", 1),
                           ("revoked", 1)]
        assert any(d.endpoint == proxies[0].url for d in reg.trust.report), reg.trust.report
    finally:
        for p in proxies:
            p.close()


def test_split_endpoints_are_refused(world: World, tmp_path: Path) -> None:
    """Three endpoints on three different chains (same address, different histories)."""
    others = [Anvil(), Anvil()]
    try:
        for i, other in enumerate(others):
            reg = other.registry()
            assert reg.address == world.reg.address  # the same deployer and nonce
            reg.register(f"split{i}.org")
        urls = [world.node.url, *(o.url for o in others)]
        index = world.copy(world.after, tmp_path / "i.sqlite")
        with Store.open(index) as st:
            before = st.digest()
        with pytest.raises(QuorumError, match="no 2 of 3 endpoints agree") as info:
            sync_index(index, world.connect(urls, quorum=2))
        for url in urls:
            assert url in str(info.value)
        with Store.open(index) as st:
            assert st.digest() == before
        with pytest.raises(QuorumError):
            world.connect(urls, quorum=2).lookup(NAME)
    finally:
        for other in others:
            other.close()


def test_rival_quorums_are_refused(world: World, tmp_path: Path) -> None:
    """Quorum 2 of 4 (k <= n/2): two endpoints on one chain, two on another -- neither wins."""
    other = Anvil()
    try:
        reg = other.registry()
        assert reg.address == world.reg.address
        while reg.w3.eth.block_number < world.reg.w3.eth.block_number:  # heads at one height
            other.rpc("evm_mine")
        with LyingProxy(world.node.url) as a, LyingProxy(other.url) as b:
            urls = [world.node.url, a.url, other.url, b.url]
            with pytest.raises(QuorumError, match="rival quorums") as info:
                world.connect(urls, quorum=2).lookup(NAME)
            for url in urls:
                assert url in str(info.value)
            index = world.copy(world.after, tmp_path / "i.sqlite")
            with pytest.raises(QuorumError, match="rival quorums"):
                sync_index(index, world.connect(urls, quorum=2))
        assert served(index) == [(0, "active"), (1, "revoked")]
    finally:
        other.close()


def test_quorum_needs_k_answers(world: World) -> None:
    with LyingProxy(world.node.url) as up:
        down = "http://127.0.0.1:9"  # nothing listens there
        reg = world.connect([up.url, down], quorum=1)
        assert [r.index for r in reg.lookup(NAME)] == [0]
        assert any(d.endpoint.startswith("http://127.0.0.1:9") for d in reg.trust.report)
        with pytest.raises(Error):
            world.connect([up.url, down], quorum=2).lookup(NAME)


def test_quorum_stands_when_the_first_endpoint_is_down(world: World, tmp_path: Path) -> None:
    """2 of 3 with the first endpoint down (a node restarting): connect read the chain
    through the first one only, so every sync failed with "connect: the RPC endpoint does
    not answer" and the sshd path's index went stale although two endpoints agreed."""
    with LyingProxy(world.node.url) as a, LyingProxy(world.node.url) as b:
        down = "http://127.0.0.1:9"  # nothing listens there
        reg = world.connect([down, a.url, b.url], quorum=2)
        assert [r.index for r in reg.lookup(NAME)] == [0]
        assert any(d.endpoint.startswith(down) for d in reg.trust.report)
        index = world.copy(world.before, tmp_path / "i.sqlite")  # the revocation to come
        sync_index(index, world.connect([down, a.url, b.url], quorum=2))
        assert served(index) == [(0, "active"), (1, "revoked")]


def test_a_lagging_endpoint_is_named_in_plain_words(world: World) -> None:
    """sync's stderr read "behind: its the latest block is block 5, the quorum's 6"."""
    with LyingProxy(world.node.url) as a, LyingProxy(world.node.url) as lag:
        lag.freeze_at(world.block_a)
        reg = world.connect([a.url, world.node.url, lag.url], quorum=2)
        reg.lookup(NAME)
        (line,) = [d.reason for d in reg.trust.report if d.endpoint == lag.url]
        assert line.startswith(f"behind: at block {world.block_a} for the latest block,"
                               " the quorum's is block "), line


# --------------------------------------------------------------------------- reorgs


def test_an_endpoint_that_reorganises_away_a_block_it_proved(tmp_path: Path) -> None:
    node = Anvil()
    try:
        reg = node.registry()
        me = reg.account.address
        reg.register("example.org")
        reg.assign(NAME, me)
        reg.publish(NAME, ed25519_blob(1), key_type=KeyType.SSH, purposes="ssh-user")
        snap = node.rpc("evm_snapshot")
        reg.publish(NAME, ed25519_blob(9), key_type=KeyType.SSH, purposes="ssh-user")
        proved = reg.w3.eth.block_number
        index = tmp_path / "i.sqlite"
        with LyingProxy(node.url) as proxy:
            reader = Registry.connect(proxy.url, registry_address=reg.address,
                                      from_block=reg.from_block)
            assert len(reader.lookup(NAME)) == 2
            sync_index(index, reader)
            assert [r.index for r in IndexReader.open(index).records(NAME)] == [0, 1]
            assert node.rpc("evm_revert", [snap]) is True  # block `proved` is gone
            other = node.registry(registry_address=reg.address, from_block=reg.from_block)
            other.publish(NAME, ed25519_blob(8), key_type=KeyType.SSH, purposes="ssh-host")
            for _ in range(2):
                node.rpc("evm_mine")
            assert reg.w3.eth.block_number > proved
            res = sync_index(index, reader)
            assert res.rolled_back_to is not None and res.rolled_back_to < proved
            with IndexReader.open(index) as ix:
                recs = ix.records(NAME)
            assert [(r.index, r.purposes) for r in recs] == [(0, 1), (1, 2)]  # the new history
            assert [r.purposes for r in reader.lookup(NAME)] == [1, 2]
    finally:
        node.close()


def test_a_reorg_to_a_shorter_chain_is_not_a_proven_one(tmp_path: Path) -> None:
    """The endpoint's chain is now shorter than the index's head: refused until it grows."""
    node = Anvil()
    try:
        reg = node.registry()
        reg.register("example.org")
        snap = node.rpc("evm_snapshot")
        reg.assign(NAME, reg.account.address)
        index = tmp_path / "i.sqlite"
        sync_index(index, reg)
        assert node.rpc("evm_revert", [snap]) is True
        with pytest.raises(HeadRegressed):
            sync_index(index, reg)
        assert IndexReader.open(index).exists(NAME)  # kept until a reorg is proven
        for _ in range(3):
            node.rpc("evm_mine")
        res = sync_index(index, reg)
        assert res.rolled_back_to is not None
        assert not IndexReader.open(index).exists(NAME)
    finally:
        node.close()


def test_chain_errors_stay_chain_errors(world: World) -> None:
    assert issubclass(QuorumError, VerificationError) and issubclass(HeadRegressed, ChainError)
