"""Fixtures for the KeyRegistry contract tests: one py-evm chain per session,
the shipped artifact deployed once, and a snapshot/revert around every test so
each test starts from the same fresh chain.

    def test_x(kr):
        kr.tx(kr.reg.functions.register("example.org"), kr.alice)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from registry.artifacts import load_artifact
from registry.names import namehash

ZERO32 = b"\x00" * 32
ZERO_ADDR = "0x" + "00" * 20


@dataclass
class KR:
    """The deployed registry plus helpers (accounts: alice, bob, carol, dave)."""

    w3: Any
    tester: Any
    reg: Any
    accounts: list[str]
    _snapshots: list[Any] = field(default_factory=list)

    @property
    def alice(self) -> str:
        return self.accounts[0]

    @property
    def bob(self) -> str:
        return self.accounts[1]

    @property
    def carol(self) -> str:
        return self.accounts[2]

    @property
    def dave(self) -> str:
        return self.accounts[3]

    @property
    def fn(self) -> Any:
        return self.reg.functions

    def tx(self, call: Any, sender: str) -> Any:
        """Send a transaction; return its receipt (it must succeed)."""
        h = call.transact({"from": sender, "gas": 10_000_000})
        receipt = self.w3.eth.get_transaction_receipt(h)
        assert receipt.status == 1
        return receipt

    def reverts(self, call: Any, sender: str, reason: str) -> None:
        """``call`` from ``sender`` is refused with exactly ``reason``.

        eth_call gives the reason; the mined transaction must fail too (status 0,
        no logs).
        """
        from eth_tester.exceptions import TransactionFailed

        with pytest.raises(TransactionFailed) as info:
            call.call({"from": sender})
        assert str(info.value) == f"execution reverted: {reason}"
        h = call.transact({"from": sender, "gas": 10_000_000})
        receipt = self.w3.eth.get_transaction_receipt(h)
        assert receipt.status == 0
        assert receipt.logs == []

    def call_reverts(self, call: Any, reason: str) -> None:
        from eth_tester.exceptions import TransactionFailed

        with pytest.raises(TransactionFailed) as info:
            call.call()
        assert str(info.value) == f"execution reverted: {reason}"

    def events(self, receipt: Any, name: str) -> list[dict[str, Any]]:
        from web3.logs import DISCARD

        event = getattr(self.reg.events, name)()
        return [dict(e["args"]) for e in event.process_receipt(receipt, errors=DISCARD)]

    def event(self, receipt: Any, name: str) -> dict[str, Any]:
        found = self.events(receipt, name)
        assert len(found) == 1, f"expected one {name}, got {found}"
        return found[0]

    def now(self) -> int:
        """The timestamp views see (the latest block's)."""
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def block_time(self, receipt: Any) -> int:
        return int(self.w3.eth.get_block(receipt.blockNumber)["timestamp"])

    def travel(self, seconds: int) -> None:
        self.tester.time_travel(self.now() + seconds)

    def snapshot(self) -> None:
        self._snapshots.append(self.tester.take_snapshot())

    def revert(self) -> None:
        self.tester.revert_to_snapshot(self._snapshots.pop())

    # -- shortcuts for arranging state

    def proof(self, name: str) -> tuple[Any, ...]:
        """The suffix-list proof of ``name`` against the deployed root (the bundled list)."""
        from registry.psl import suffix_tree

        return suffix_tree().prove(name).as_abi()

    def register(self, name: str, owner: str | None = None) -> bytes:
        self.tx(self.fn.register(name, self.proof(name)), owner or self.alice)
        return namehash(name)

    def commitment(self, material: bytes = b"\x00\x00\x00\x0bssh-ed25519" + b"\x11" * 36,
                   key_type: int = 1) -> bytes:
        from registry.keys._common import commitment

        return commitment(key_type, material)

    def state(self, slot: int) -> int:
        """The raw storage word at ``slot`` of the registry (straight from eth-tester: fast)."""
        return int(self.tester.get_storage_at(self.reg.address, hex(slot), "latest"), 16)

    def view(self, name: str, *args: Any) -> Any:
        """Call a view straight through eth-tester (several times faster than web3's
        contract call; the fuzz's invariants make thousands). Structs come back as dicts."""
        from registry.chain.client import load_contract

        fn = load_contract().fn(name)
        out = self.tester.call({"from": self.alice, "to": self.reg.address,
                                "data": "0x" + fn.encode(args).hex()},
                               "latest")
        return fn.decode(bytes.fromhex(out[2:]))

    def publish(
        self,
        node: bytes,
        material: bytes = b"\x00\x00\x00\x0bssh-ed25519" + b"\x11" * 36,
        *,
        key_type: int = 1,
        purposes: int = 1,
        valid_from: int = 0,
        valid_until: int = 0,
        proof: bytes = b"proof",
        durable: bool = False,
        sender: str | None = None,
    ) -> Any:
        call = self.fn.publish(
            node, key_type, purposes, valid_from, valid_until, material, proof, durable
        )
        return self.tx(call, sender or self.alice)


def _deploy(private: bool) -> KR:
    from eth_tester import EthereumTester, PyEVMBackend
    from web3 import Web3
    from web3.providers.eth_tester import EthereumTesterProvider

    from registry.psl import suffix_tree

    tester = EthereumTester(PyEVMBackend())
    w3 = Web3(EthereumTesterProvider(tester))
    art = load_artifact("KeyRegistry")
    accounts = list(w3.eth.accounts[:4])
    factory = w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
    root = b"\x00" * 32 if private else suffix_tree().root
    receipt = w3.eth.wait_for_transaction_receipt(
        factory.constructor(root, private, accounts[0]).transact({"from": accounts[0]})
    )
    reg = w3.eth.contract(address=receipt.contractAddress, abi=art["abi"])
    return KR(w3=w3, tester=tester, reg=reg, accounts=accounts)


@pytest.fixture(scope="session")
def _kr_session() -> KR:
    return _deploy(private=False)


@pytest.fixture(scope="session")
def _kr_private_session() -> KR:
    return _deploy(private=True)


@pytest.fixture
def kr(_kr_session: KR) -> Any:
    """A fresh chain with the public registry deployed, alice its admin (snapshot reverted after)."""
    _kr_session.snapshot()
    try:
        yield _kr_session
    finally:
        _kr_session.revert()


@pytest.fixture
def kr_private(_kr_private_session: KR) -> Any:
    """As ``kr``, a private registry: alice (the admin) and her registrars register names."""
    _kr_private_session.snapshot()
    try:
        yield _kr_private_session
    finally:
        _kr_private_session.revert()
