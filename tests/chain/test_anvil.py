"""The same end-to-end flow against a real node (anvil), plus pipelined publishes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from registry.chain.client import PublishRequest, Registry
from registry.errors import ChainUnavailable, NameTaken, WrongChain
from tests.chain.conftest import ALICE, BOB, RA, end_to_end, raw_keys, raw_loader
from tests.conftest import Anvil, free_port

pytestmark = pytest.mark.anvil

@pytest.fixture(scope="module")
def anvil_url() -> Iterator[str]:
    """A fresh anvil on a free loopback port; killed at teardown."""
    node = Anvil()
    try:
        yield node.url
    finally:
        node.close()


class AnvilEnv:
    def __init__(self, url: str) -> None:
        self.url = url
        self.accounts: dict[str, LocalAccount] = {w: Account.create() for w in (RA, ALICE, BOB)}
        self.loader: Any = None
        first = Registry.connect(url, account=self.accounts[RA])
        for acct in self.accounts.values():
            provider: Any = first.w3.provider
            provider.make_request("anvil_setBalance", [acct.address, hex(10**21)])
        self.address = first.deploy()

    def registry(self, account: LocalAccount | None = None, **kw: Any) -> Registry:
        kw.setdefault("material_loader", self.loader)
        return Registry.connect(self.url, account=account, registry_address=self.address, **kw)


@pytest.fixture
def anvil_env(anvil_url: str) -> AnvilEnv:
    """Funded fresh accounts and a freshly deployed registry on the module's anvil."""
    return AnvilEnv(anvil_url)


def test_end_to_end_raw_material(anvil_env: AnvilEnv) -> None:
    anvil_env.loader = raw_loader
    end_to_end(anvil_env.registry, anvil_env.accounts, raw_keys())


@pytest.mark.tools
def test_end_to_end_real_keys(anvil_env: AnvilEnv, real_keys: Any) -> None:
    end_to_end(anvil_env.registry, anvil_env.accounts, real_keys)


def test_pipelined_publishes(anvil_env: AnvilEnv) -> None:
    anvil_env.loader = raw_loader
    ra = anvil_env.registry(anvil_env.accounts[RA])
    ra.register("example.org")
    reqs = [
        PublishRequest("example.org", b"RAW host key %d" % i, key_type="ssh", purposes="ssh-host")
        for i in range(20)
    ]
    results = ra.publish_many(reqs)
    assert [r.index for r in results] == list(range(20))
    assert len({r.tx_hash for r in results}) == 20
    assert len(anvil_env.registry().lookup("example.org")) == 20


def test_revert_and_chain_checks(anvil_env: AnvilEnv) -> None:
    ra = anvil_env.registry(anvil_env.accounts[RA])
    ra.register("example.org")
    with pytest.raises(NameTaken):
        ra.register("example.org")
    proof = ra.suffix_proof("example.org").as_abi()
    pending = ra.send("register", ["example.org", proof], what="register example.org",
                      gas=300_000)
    with pytest.raises(NameTaken):
        pending.wait()
    with pytest.raises(WrongChain):
        anvil_env.registry(None, chain_id=1)


def test_unreachable_after_shutdown() -> None:
    with pytest.raises(ChainUnavailable):
        Registry.connect(f"http://127.0.0.1:{free_port()}", request_timeout=2)
