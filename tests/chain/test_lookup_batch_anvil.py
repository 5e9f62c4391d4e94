"""Batched lookups against anvil through lying endpoints (tests/lying_proxy.py).

The world of tests/index/test_lying_endpoints.py (alice's record 1 revoked for key
compromise). For every lie a single lookup() is tested against there, lookup_many()
and lookups from several threads at once end in the same outcome — the same error, or
the truth (record 1 revoked) — never record 1 served as active; with three endpoints
and quorum 2, one liar is outvoted and named.
"""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest

from registry.errors import VerificationError
from tests.index import test_lying_endpoints
from tests.index.test_lying_endpoints import (
    LOOKUP_OUTCOME,
    NAME,
    STALENESS,
    World,
    _expect,
    lying,
)
from tests.lying_proxy import LyingProxy

pytestmark = pytest.mark.anvil
world = test_lying_endpoints.world  # the fixture: anvil with that module's world

TRUTH = {NAME: [(0, "active"), (1, "revoked")], "example.org": []}


def _shown(found: dict[str, Any]) -> dict[str, Any]:
    return {n: [(r.index, r.status) for r in recs] for n, recs in found.items()}


def _concurrently(run: Any, names: list[str]) -> list[Any]:
    out: list[Any] = [None] * len(names)

    def one(i: int) -> None:
        try:
            out[i] = run(names[i])
        except Exception as exc:
            out[i] = exc
    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(names))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return out


def test_lookup_many_equals_each_lookup(world: World) -> None:
    reg = world.connect(world.node.url)
    names = list(TRUTH)
    single = {n: reg.lookup(n, include_revoked=True) for n in names}
    assert world.connect(world.node.url).lookup_many(names, include_revoked=True) == single
    assert _shown(single) == TRUTH
    fresh = world.connect(world.node.url)
    got = _concurrently(lambda n: fresh.lookup(n, include_revoked=True), names * 3)
    assert got == [single[n] for n in names * 3]


@pytest.mark.parametrize("mode", list(LOOKUP_OUTCOME))
def test_lookup_many_through_a_lying_endpoint(world: World, mode: str) -> None:
    outcome = LOOKUP_OUTCOME[mode]
    with lying(world, mode) as proxy:
        reg = world.connect(proxy.url, max_head_age=STALENESS)
        found = _expect(outcome, lambda: reg.lookup_many(list(TRUTH), include_revoked=True))
        fresh = world.connect(proxy.url, max_head_age=STALENESS)
        got = _concurrently(lambda n: fresh.lookup(n, include_revoked=True), [NAME] * 4)
    if found is not None:
        assert _shown(found) == TRUTH
    for one in got:
        if isinstance(outcome, tuple):
            cls, text = outcome
            assert isinstance(one, cls) and re.search(text, str(one)), one
        else:
            assert not isinstance(one, Exception), one
            assert [(r.index, r.status) for r in one] == TRUTH[NAME]


@pytest.mark.parametrize("mode", ["forged-header", "flip-material", "freeze-head",
                                  "header-fields", "tamper-proof-node", "unrevoke-proof",
                                  "wrong-slot"])
def test_one_of_three_lying_is_outvoted_in_a_batch(world: World, mode: str) -> None:
    proxies = [lying(world, mode), LyingProxy(world.node.url), LyingProxy(world.node.url)]
    try:
        liar = proxies[0]  # first: the preferred source of data, too
        urls = [p.url for p in proxies]
        reg = world.connect(urls, quorum=2, max_head_age=STALENESS)
        assert _shown(reg.lookup_many(list(TRUTH), include_revoked=True)) == TRUTH
        assert any(d.endpoint == liar.url for d in reg.trust.report), reg.trust.report
        fresh = world.connect(urls, quorum=2, max_head_age=STALENESS)
        got = _concurrently(lambda n: fresh.lookup(n, include_revoked=True), list(TRUTH) * 3)
        assert [[(r.index, r.status) for r in recs] for recs in got] == \
            [TRUTH[n] for n in list(TRUTH) * 3], got
    finally:
        for p in proxies:
            p.close()


def test_a_batch_is_refused_when_every_endpoint_lies(world: World) -> None:
    proxies = [lying(world, "unrevoke-proof") for _ in range(3)]
    try:
        reg = world.connect([p.url for p in proxies], quorum=2)
        with pytest.raises(VerificationError, match="proof shows"):
            reg.lookup_many(list(TRUTH), include_revoked=True)
    finally:
        for p in proxies:
            p.close()
