"""Batched proof-checked lookups: lookup_many() and concurrent lookup() calls sharing requests.

What a user checks: the same records, name by name, as one lookup() each (revoked,
expired, pending, no records, not registered), in fewer proof requests; and a batch in
which one storage proof is missing, extra, for another slot or altered fails as a
whole, never a partial answer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from registry.chain.client import Registry
from registry.errors import NameNotFound, VerificationError
from tests.chain.conftest import ALICE, BOB, RA, EthTesterChain, lying

NAMES = ["alice@example.org", "bob@example.org", "example.org"]
UNKNOWN = "nobody@example.org"
OPTIONS: list[dict[str, Any]] = [
    {}, {"include_revoked": True}, {"include_expired": True, "include_pending": False},
    {"include_revoked": True, "include_expired": True}]


def _world(chain: EthTesterChain) -> None:
    """alice: active, revoked, expired, pending records; bob: one active; example.org: none."""
    ra = chain.registry(chain.accounts[RA])
    ra.register("example.org")
    ra.assign("alice@example.org", chain.accounts[ALICE].address)
    ra.assign("bob@example.org", chain.accounts[BOB].address)
    alice = chain.registry(chain.accounts[ALICE])
    now = chain.w3.eth.get_block("latest")["timestamp"]
    alice.publish("alice@example.org", b"RAW a0", key_type="ssh")
    alice.publish("alice@example.org", b"RAW a1", key_type="ssh")
    alice.revoke("alice@example.org", 1, "key-compromise")
    alice.publish("alice@example.org", b"RAW a2", key_type="ssh", valid_until=now + 100)
    alice.publish("alice@example.org", b"RAW a3", key_type="ssh", valid_from=now + 10_000)
    chain.registry(chain.accounts[BOB]).publish("bob@example.org", b"RAW b0", key_type="ssh")
    chain.tester.time_travel(now + 200)  # a2 expired, a3 still pending


def _counting(asked: list[str]) -> Callable[[str, Any, Any], Any]:
    def hook(method: str, params: Any, reply: Any) -> Any:
        asked.append(method)
        return None
    return hook


def test_lookup_many_equals_each_lookup_for_every_option(raw_chain: EthTesterChain) -> None:
    _world(raw_chain)
    for options in OPTIONS:
        single = {n: raw_chain.registry(None).lookup(n, **options) for n in NAMES}
        asked: list[str] = []
        with lying(raw_chain.w3, _counting(asked)):
            many = raw_chain.registry(None).lookup_many(NAMES, **options)
        assert many == single, options
        assert asked.count("eth_getProof") == 1
    statuses = [r.status for r in raw_chain.registry(None).lookup_many(
        NAMES, include_revoked=True, include_expired=True)["alice@example.org"]]
    assert statuses == ["active", "revoked", "expired", "pending"]
    with pytest.raises(NameNotFound, match=r"nobody@example\.org is not registered"):
        raw_chain.registry(None).lookup_many([*NAMES, UNKNOWN])


def _concurrently(reg: Registry, names: list[str], **options: Any) -> dict[str, Any]:
    """lookup(name) for each name in its own thread: {name: records or the exception}."""
    out: dict[str, Any] = {}

    def one(name: str) -> None:
        try:
            out[name] = reg.lookup(name, **options)
        except Exception as exc:
            out[name] = exc
    threads = [threading.Thread(target=one, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return out


def _hold_first_proof(reg: Registry, waiting: int, asked: list[str]
                      ) -> Callable[[str, Any, Any], Any]:
    """Count requests; hold the first eth_getProof until ``waiting`` other lookups queue
    behind it (so the test does not depend on how threads are scheduled)."""
    first = threading.Event()

    def hook(method: str, params: Any, reply: Any) -> Any:
        asked.append(method)
        if method == "eth_getProof" and not first.is_set():
            first.set()
            deadline = time.monotonic() + 30
            while len(reg.state()._asks) < waiting and time.monotonic() < deadline:
                time.sleep(0.001)
        return None
    return hook


def test_concurrent_lookups_share_one_proof_request(raw_chain: EthTesterChain) -> None:
    _world(raw_chain)
    names = [*NAMES, UNKNOWN, "alice@example.org"]  # the same name twice, too
    single = {n: raw_chain.registry(None).lookup(n, include_revoked=True) for n in NAMES}
    reg = raw_chain.registry(None)
    asked: list[str] = []
    with lying(raw_chain.w3, _hold_first_proof(reg, len(names) - 1, asked)):
        got = _concurrently(reg, names, include_revoked=True)
    assert {n: got[n] for n in NAMES} == single
    assert isinstance(got[UNKNOWN], NameNotFound) and UNKNOWN in str(got[UNKNOWN])
    # the first caller's request, then one for the four that arrived while it was in flight
    assert asked.count("eth_getProof") == 2
    assert reg.state()._asks == [] and not reg.state()._asking
    assert reg.lookup("bob@example.org") == single["bob@example.org"]  # alone: served at once


def _first_proof_with_many(tamper: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]
                           ) -> Callable[[str, Any, Any], Any]:
    """A lying endpoint: ``tamper`` rewrites the storage proofs of replies proving several slots."""
    def hook(method: str, params: Any, reply: Any) -> Any:
        if method != "eth_getProof" or "result" not in reply:
            return None
        items = [dict(it) for it in reply["result"]["storageProof"]]
        if len(items) < 3:
            return None
        return {**reply, "result": {**reply["result"], "storageProof": tamper(items)}}
    return hook


def _flip(hexstr: str, at: int) -> str:
    return hexstr[:at] + ("1" if hexstr[at] != "1" else "2") + hexstr[at + 1:]


def _altered_shared_node(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The root node of one proof altered; every other proof carries it intact."""
    items[1]["proof"] = [_flip(items[1]["proof"][0], 40), *items[1]["proof"][1:]]
    return items


def _other_slots_proof(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Slot 1 answered with slot 2's proof and value, labelled as slot 1."""
    items[1] = {**items[2], "key": items[1]["key"]}
    return items


LIES: dict[str, Callable[[list[dict[str, Any]]], list[dict[str, Any]]]] = {
    "missing": lambda items: items[:-1],
    "extra": lambda items: [*items, items[0]],
    "swapped": lambda items: [items[1], items[0], *items[2:]],
    "other slot's proof": _other_slots_proof,
    "altered value": lambda items: [items[0], {**items[1], "value": hex(int(items[1]["value"],
                                                                                16) ^ 1)},
                                    *items[2:]],
    "altered leaf": lambda items: [items[0], {**items[1], "proof": [
        *items[1]["proof"][:-1], _flip(items[1]["proof"][-1], 8)]}, *items[2:]],
    "altered shared node": _altered_shared_node,
}


@pytest.mark.parametrize("lie", list(LIES))
def test_a_batch_with_one_bad_storage_proof_fails_whole(raw_chain: EthTesterChain,
                                                        lie: str) -> None:
    _world(raw_chain)
    honest = raw_chain.registry(None).lookup_many(NAMES, include_revoked=True)
    liar = _first_proof_with_many(LIES[lie])
    with lying(raw_chain.w3, liar), pytest.raises(
            VerificationError, match=r"eth_getProof|does not verify") as info:
        raw_chain.registry(None).lookup_many(NAMES, include_revoked=True)
    assert "\n" not in str(info.value)
    reg = raw_chain.registry(None)  # concurrent lookups batched into such a reply
    hold = _hold_first_proof(reg, len(NAMES), [])

    def both(method: str, params: Any, reply: Any) -> Any:
        hold(method, params, reply)
        return liar(method, params, reply)
    with lying(raw_chain.w3, both):
        got = _concurrently(reg, [*NAMES, "alice@example.org"], include_revoked=True)
    assert all(isinstance(v, VerificationError) for v in got.values()), got
    assert raw_chain.registry(None).lookup_many(NAMES, include_revoked=True) == honest
