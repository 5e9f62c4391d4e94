"""registry.chain.header: a block's hash recomputed from its JSON fields, for every fork."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from registry.chain.embedded import CHAIN_ID, EmbeddedChain, dev_accounts
from registry.chain.header import HEADER_FIELDS, encode_header, header_hash, verify_header_hash
from registry.errors import VerificationError
from tests.conftest import Anvil

# py-evm attribute -> JSON key, in RLP order
_ATTRS = {
    "parent_hash": "parentHash",
    "uncles_hash": "sha3Uncles",
    "coinbase": "miner",
    "state_root": "stateRoot",
    "transaction_root": "transactionsRoot",
    "receipt_root": "receiptsRoot",
    "bloom": "logsBloom",
    "difficulty": "difficulty",
    "block_number": "number",
    "gas_limit": "gasLimit",
    "gas_used": "gasUsed",
    "timestamp": "timestamp",
    "extra_data": "extraData",
    "mix_hash": "mixHash",
    "nonce": "nonce",
    "base_fee_per_gas": "baseFeePerGas",
    "withdrawals_root": "withdrawalsRoot",
    "blob_gas_used": "blobGasUsed",
    "excess_blob_gas": "excessBlobGas",
    "parent_beacon_block_root": "parentBeaconBlockRoot",
    "requests_hash": "requestsHash",
}


def _json(header: Any) -> dict[str, Any]:
    """A py-evm header as a node's JSON, from py-evm's own field list."""
    out: dict[str, Any] = {"hash": "0x" + header.hash.hex()}
    for attr, _sedes in type(header)._meta.fields:
        value = getattr(header, attr)
        key = _ATTRS[attr]
        if attr == "bloom":
            out[key] = "0x" + value.to_bytes(256, "big").hex()
        elif isinstance(value, int):
            out[key] = hex(value)
        else:
            out[key] = "0x" + bytes(value).hex()
    return out


def _fork_headers() -> list[Any]:
    from eth.rlp.headers import BlockHeader
    from eth.vm.forks.cancun.blocks import CancunBlockHeader
    from eth.vm.forks.london.blocks import LondonBlockHeader
    from eth.vm.forks.prague.blocks import PragueBlockHeader
    from eth.vm.forks.shanghai.blocks import ShanghaiBlockHeader

    common: dict[str, Any] = {
        "difficulty": 131_072,
        "block_number": 4_370_000,
        "gas_limit": 8_000_000,
        "timestamp": 1_508_131_331,
        "coinbase": bytes(range(20)),
        "parent_hash": bytes(range(32)),
        "uncles_hash": bytes(range(1, 33)),
        "state_root": bytes(range(2, 34)),
        "transaction_root": bytes(range(3, 35)),
        "receipt_root": bytes(range(4, 36)),
        "bloom": 1 << 2000 | 5,
        "gas_used": 7_999_999,
        "extra_data": b"\x00" * 3 + b"a long clique-style vanity and seal" * 3,
        "mix_hash": bytes(range(5, 37)),
        "nonce": b"\x00\x00\x00\x00\x00\x00\x00\x01",
    }
    london = {**common, "base_fee_per_gas": 7}
    shanghai = {**london, "withdrawals_root": bytes(range(6, 38))}
    cancun = {
        **shanghai,
        "blob_gas_used": 131_072,
        "excess_blob_gas": 0,
        "parent_beacon_block_root": bytes(range(7, 39)),
    }
    prague = {**cancun, "requests_hash": bytes(range(8, 40))}
    return [
        BlockHeader(**common),
        LondonBlockHeader(**london),
        ShanghaiBlockHeader(**shanghai),
        CancunBlockHeader(**cancun),
        PragueBlockHeader(**prague),
    ]


@pytest.mark.parametrize(
    "index", range(5), ids=["frontier", "london", "shanghai", "cancun", "prague"]
)
def test_every_fork_hashes_like_py_evm(index: int) -> None:
    header = _fork_headers()[index]
    data = _json(header)
    assert header_hash(data) == header.hash == verify_header_hash(data)
    import rlp

    assert encode_header(data) == rlp.encode(header)


def test_web3_formatted_headers(tmp_path: Path) -> None:
    with EmbeddedChain.open(tmp_path / "chain.db") as chain:
        w3 = chain.web3
        alice, bob = dev_accounts()[1:3]
        tx = {
            "chainId": CHAIN_ID,
            "nonce": 0,
            "to": bob.address,
            "value": 1,
            "gas": 21_000,
            "maxFeePerGas": 10 * 10**9,
            "maxPriorityFeePerGas": 1,
        }
        w3.eth.send_raw_transaction(alice.sign_transaction(tx).raw_transaction)
        for number in (0, 1, "latest"):
            block = w3.eth.get_block(number)  # ints and HexBytes
            assert verify_header_hash(block) == bytes(block["hash"])
            raw = chain.request("eth_getBlockByNumber", [hex(block["number"]), False])
            assert verify_header_hash(raw) == bytes(block["hash"])  # JSON hex strings


@pytest.mark.anvil
def test_anvil_headers() -> None:
    node = Anvil()
    try:
        node.rpc("evm_mine")
        for tag in ("0x0", "latest"):
            block = node.rpc("eth_getBlockByNumber", [tag, False])
            assert verify_header_hash(block).hex() == block["hash"][2:]
    finally:
        node.close()


def test_tampered_or_malformed_headers_are_refused() -> None:
    good = _json(_fork_headers()[4])
    verify_header_hash(good)
    for key, size, _optional in HEADER_FIELDS:
        bad = dict(good)
        if size == 0:  # a quantity
            bad[key] = hex(int(good[key], 16) + 1)
        else:
            data = bytearray.fromhex(good[key][2:] or "00")
            data[-1] ^= 1
            bad[key] = "0x" + data.hex()
        with pytest.raises(VerificationError, match="hash to"):
            verify_header_hash(bad)
    dropped = {k: v for k, v in good.items() if k != "requestsHash"}
    with pytest.raises(VerificationError, match="hash to"):
        verify_header_hash(dropped)  # a Prague header passed off as a Cancun one
    gap = {k: v for k, v in good.items() if k != "withdrawalsRoot"}
    with pytest.raises(VerificationError, match="withdrawalsRoot"):
        header_hash(gap)
    for key, value in (
        ("stateRoot", None),
        ("stateRoot", "0x1234"),
        ("number", "12"),
        ("number", -1),
        ("miner", "0xzz"),
        ("gasUsed", True),
        ("hash", "nope"),
    ):
        with pytest.raises(VerificationError):
            verify_header_hash({**good, key: value})
    with pytest.raises(VerificationError):
        verify_header_hash(["not", "a", "header"])  # type: ignore[arg-type]
