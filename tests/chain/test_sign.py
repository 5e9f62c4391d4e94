"""registry.chain._sign: EIP-1559 transactions signed with coincurve, byte for byte eth-account's."""

from __future__ import annotations

import random
from typing import Any

from coincurve import PrivateKey
from eth_account import Account
from eth_utils import to_checksum_address

from registry.chain._sign import sign_dynamic_fee


def _tx(rng: random.Random) -> dict[str, Any]:
    tx: dict[str, Any] = {
        "type": 2,
        "chainId": rng.choice([1, 31337, 2**32 + 5]),
        "nonce": rng.choice([0, 1, 127, 128, 255, 256, rng.randrange(2**64)]),
        "maxPriorityFeePerGas": rng.choice([0, 10**9, rng.randrange(10**12)]),
        "maxFeePerGas": rng.randrange(10**9, 10**13),
        "gas": rng.randrange(21_000, 30_000_000),
        "value": rng.choice([0, 1, 10**18]),
        # RLP's length forms: empty, one byte below 0x80, 55/56 bytes, long
        "data": rng.choice([b"", b"\x05", b"\x80", bytes(55), bytes(56)])
        + bytes(rng.randrange(256) for _ in range(rng.choice([0, rng.randrange(3000)]))),
    }
    if rng.random() < 0.9:
        tx["to"] = to_checksum_address(bytes(rng.randrange(256) for _ in range(20)))
    if rng.random() < 0.3:
        tx["data"] = "0x" + tx["data"].hex()
    return tx


def test_same_bytes_as_eth_account() -> None:
    rng = random.Random(1559)
    for seed in range(1, 4):
        account = Account.from_key(bytes([seed]) * 32)
        signer = PrivateKey(bytes(account.key))
        for _ in range(150):
            tx = _tx(rng)
            assert sign_dynamic_fee(signer, tx) == bytes(account.sign_transaction(tx).raw_transaction)


def test_other_shapes_are_left_to_eth_account() -> None:
    signer = PrivateKey(bytes([7]) * 32)
    base = _tx(random.Random(2))
    base["to"] = to_checksum_address(b"\xab" * 20)  # letters: its checksum form is mixed-case
    assert sign_dynamic_fee(signer, base) is not None
    for change in (
        {"type": 0},  # legacy
        {"accessList": [{"address": base["to"], "storageKeys": []}]},
        {"gasPrice": 10**9},
        {"to": base["to"].lower()},  # eth-account refuses a non-checksum address
        {"nonce": -1},
        {"gas": True},
        {"data": "0xzz"},
    ):
        assert sign_dynamic_fee(signer, {**base, **change}) is None, change


def test_the_client_signs_the_same_transaction(tmp_path: Any) -> None:
    """Registry.send's transactions are eth-account's bytes (the fast path changes no block)."""
    from registry.chain.client import Registry

    with Registry.embedded(tmp_path / "chain.db") as reg:
        reg.register("example.org")
        chain = reg.w3.provider._chain  # type: ignore[attr-defined]
        node = chain._node
        block = node.chain.get_block_by_header(node.head)
        tx = block.transactions[0]
        rebuilt = {
            "type": 2, "chainId": tx.chain_id, "nonce": tx.nonce,
            "maxPriorityFeePerGas": tx.max_priority_fee_per_gas,
            "maxFeePerGas": tx.max_fee_per_gas, "gas": tx.gas,
            "to": to_checksum_address(tx.to), "value": tx.value, "data": tx.data,
        }
        assert reg._signer is not None and reg._signer[1] is not None  # the fast path ran
        expected = bytes(reg.account.sign_transaction(rebuilt).raw_transaction)
        assert tx.encode() == expected
