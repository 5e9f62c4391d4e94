"""eth_getProof (EIP-1186) on the embedded chain, the devnet and anvil, checked with ``trie``.

Every proof is verified the way issue 12's reader does it: the block header is
fetched with eth_getBlockByNumber, its hash recomputed from its fields
(:mod:`registry.chain.header`), and each proof checked with
``trie.HexaryTrie.get_from_proof`` against the header's ``stateRoot``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import rlp
from eth_utils import keccak, to_checksum_address
from trie import HexaryTrie
from trie.exceptions import BadTrieProof

from registry.chain.embedded import CHAIN_ID, EmbeddedChain, RpcError, dev_accounts
from registry.chain.header import verify_header_hash
from tests.conftest import Anvil

Rpc = Callable[[str, list[Any]], Any]

BIG_SLOT = "0x" + "ab" * 32
ABSENT = "0x" + "00" * 31 + "02"
NOBODY = "0x000000000000000000000000000000000000dEaD"
EMPTY_CODE_HASH = "0x" + keccak(b"").hex()
EMPTY_ROOT = "0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421"

# A contract whose constructor stores 42 at slot 0 and 0x1234 at BIG_SLOT, and whose
# code stores its calldata's first word at slot 1.
RUNTIME = bytes.fromhex(
    "600035"  # PUSH1 0, CALLDATALOAD
    "600155"  # PUSH1 1, SSTORE
    "00"  # STOP
)
INITCODE = (
    bytes.fromhex(
        "602a600055"  # SSTORE(0, 42)
        "611234"  # PUSH2 0x1234
        "7f"  # PUSH32 BIG_SLOT
    )
    + bytes.fromhex(BIG_SLOT[2:])
    + bytes.fromhex(
        "55"  # SSTORE
        "600780"  # PUSH1 7 (runtime length), DUP1
        "6035600039"  # CODECOPY(0, 0x35, 7)
        "6000f3"  # RETURN(0, 7)
    )
    + RUNTIME
)
assert INITCODE.index(RUNTIME) == 0x35


def _hex_bytes(value: str) -> bytes:
    assert isinstance(value, str) and value.startswith("0x")
    return bytes.fromhex(value[2:])


def _quantity(value: str) -> int:
    assert isinstance(value, str) and value.startswith("0x") and len(value) > 2
    assert value == "0x0" or value[2] != "0", f"{value} has leading zeros"
    return int(value, 16)


def _nodes(proof: list[str]) -> list[Any]:
    return [rlp.decode(_hex_bytes(item)) for item in proof]


def verified(rpc: Rpc, address: str, slots: list[str], block: Any) -> dict[str, Any]:
    """eth_getProof at ``block``, every value checked against the header's stateRoot.

    Returns the proven account fields and slot values.
    """
    if isinstance(block, dict):  # EIP-1898
        header = rpc("eth_getBlockByHash", [block["blockHash"], False])
    else:
        header = rpc("eth_getBlockByNumber", [block, False])
    verify_header_hash(header)
    root = _hex_bytes(header["stateRoot"])
    answer = rpc("eth_getProof", [address, slots, block])
    assert list(answer) == [
        "address",
        "balance",
        "codeHash",
        "nonce",
        "storageHash",
        "accountProof",
        "storageProof",
    ]
    assert answer["address"] == address.lower()
    leaf = HexaryTrie.get_from_proof(
        root, keccak(_hex_bytes(address)), _nodes(answer["accountProof"])
    )
    if leaf:
        nonce, balance, storage_root, code_hash = rlp.decode(leaf)
        proven = {
            "nonce": int.from_bytes(nonce, "big"),
            "balance": int.from_bytes(balance, "big"),
            "storageHash": "0x" + storage_root.hex(),
            "codeHash": "0x" + code_hash.hex(),
        }
    else:  # proven absent
        proven = {"nonce": 0, "balance": 0, "storageHash": EMPTY_ROOT, "codeHash": EMPTY_CODE_HASH}
    assert _quantity(answer["nonce"]) == proven["nonce"]
    assert _quantity(answer["balance"]) == proven["balance"]
    assert answer["storageHash"] == proven["storageHash"]
    assert answer["codeHash"] == proven["codeHash"]
    storage_root = _hex_bytes(answer["storageHash"])
    values: dict[str, int] = {}
    assert [item["key"] for item in answer["storageProof"]] == [
        "0x" + int(s, 16).to_bytes(32, "big").hex() for s in slots
    ]
    for item in answer["storageProof"]:
        assert list(item) == ["key", "value", "proof"]
        raw = HexaryTrie.get_from_proof(
            storage_root, keccak(_hex_bytes(item["key"])), _nodes(item["proof"])
        )
        value = rlp.decode(raw, sedes=rlp.sedes.big_endian_int) if raw else 0
        assert _quantity(item["value"]) == value
        values[item["key"]] = value
    return {**proven, "slots": values, "answer": answer, "header": header}


def _slot(number: int | str) -> str:
    value = int(number, 16) if isinstance(number, str) else number
    return "0x" + value.to_bytes(32, "big").hex()


# --------------------------------------------------------------------------- embedded


def _send(rpc: Rpc, account: Any, nonce: int, **fields: Any) -> dict[str, Any]:
    tx = {
        "chainId": CHAIN_ID,
        "nonce": nonce,
        "gas": 200_000,
        "maxFeePerGas": 10 * 10**9,
        "maxPriorityFeePerGas": 10**9,
        "value": 0,
        **fields,
    }
    raw = bytes(account.sign_transaction(tx).raw_transaction)
    tx_hash = rpc("eth_sendRawTransaction", ["0x" + raw.hex()])
    receipt = rpc("eth_getTransactionReceipt", [tx_hash])
    assert receipt is not None and receipt["status"] == "0x1"
    return dict(receipt)


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[EmbeddedChain]:
    with EmbeddedChain.open(tmp_path / "chain.db") as opened:
        yield opened


def _store_history(rpc: Rpc) -> tuple[str, int]:
    """Deploy the store contract, set slot 1 to 7 then to 9; return (address, block with 7)."""
    alice = dev_accounts()[1]
    contract = to_checksum_address(_send(rpc, alice, 0, data=INITCODE)["contractAddress"])
    _send(rpc, alice, 1, to=contract, data="0x" + (7).to_bytes(32, "big").hex())
    seven = int(rpc("eth_blockNumber", []), 16)
    _send(rpc, alice, 2, to=contract, data="0x" + (9).to_bytes(32, "big").hex())
    return contract, seven


def test_proofs_verify_against_the_header(chain: EmbeddedChain) -> None:
    rpc = chain.request
    contract, _ = _store_history(rpc)
    got = verified(rpc, contract, ["0x0", "0x1", BIG_SLOT, ABSENT], "latest")
    assert got["slots"] == {_slot(0): 42, _slot(1): 9, _slot(BIG_SLOT): 0x1234, _slot(2): 0}
    assert got["nonce"] == 1 and got["codeHash"] == "0x" + keccak(RUNTIME).hex()
    for slot in ("0x0", "0x1", BIG_SLOT, ABSENT):
        assert (
            int(rpc("eth_getStorageAt", [contract, slot, "latest"]), 16)
            == got["slots"][_slot(slot)]
        )
    alice = dev_accounts()[1].address
    eoa = verified(rpc, alice, ["0x0"], "latest")
    assert eoa["nonce"] == 3 and eoa["balance"] == int(rpc("eth_getBalance", [alice, "latest"]), 16)
    assert eoa["storageHash"] == EMPTY_ROOT and eoa["answer"]["storageProof"][0]["proof"] == []
    nobody = verified(rpc, NOBODY, [ABSENT], "latest")
    assert nobody["answer"]["accountProof"]  # an exclusion proof, not nothing
    assert (nobody["balance"], nobody["nonce"], nobody["codeHash"]) == (0, 0, EMPTY_CODE_HASH)


def test_the_readers_proof_check_refuses_any_altered_node(chain: EmbeddedChain) -> None:
    """registry.chain.stateproof.verify_proof (the proven reads' check) proves the same values
    as the trie package, and refuses a reply with any node altered or dropped."""
    from registry.chain.stateproof import verify_proof
    from registry.errors import VerificationError

    rpc = chain.request
    contract, _ = _store_history(rpc)
    slots = [0, 1, int(BIG_SLOT, 16), 2]
    reply = rpc("eth_getProof", [contract, [_slot(s) for s in slots], "latest"])
    root = _hex_bytes(rpc("eth_getBlockByNumber", ["latest", False])["stateRoot"])
    _account, values = verify_proof(reply, state_root=root, address=contract, slots=slots)
    assert values == {0: 42, 1: 9, int(BIG_SLOT, 16): 0x1234, 2: 0}
    places = [("accountProof", None, i) for i in range(len(reply["accountProof"]))]
    places += [("storageProof", k, i) for k, item in enumerate(reply["storageProof"])
               for i in range(len(item["proof"]))]
    for where, k, i in places:
        if k is not None:
            node = reply[where][k]["proof"][i]
            if any(node in item["proof"] for j, item in enumerate(reply[where]) if j != k):
                continue  # shared with another slot's proof: the node set still holds it
        for change in ("flip", "drop"):
            bad = json.loads(json.dumps(reply))
            nodes = bad[where] if k is None else bad[where][k]["proof"]
            if change == "drop":
                del nodes[i]
            else:
                raw = bytearray(_hex_bytes(nodes[i]))
                raw[len(raw) // 2] ^= 1
                nodes[i] = "0x" + raw.hex()
            with pytest.raises(VerificationError):
                verify_proof(bad, state_root=root, address=contract, slots=slots)


def test_historical_proofs_by_number_and_hash(chain: EmbeddedChain) -> None:
    rpc = chain.request
    contract, seven = _store_history(rpc)
    then = verified(rpc, contract, ["0x1"], hex(seven))
    assert then["slots"] == {_slot(1): 7}
    block_hash = rpc("eth_getBlockByNumber", [hex(seven), False])["hash"]
    by_hash = verified(rpc, contract, ["0x1"], {"blockHash": block_hash})
    assert by_hash["answer"] == then["answer"]
    before = verified(rpc, contract, ["0x0"], "0x0")  # before the deployment: absent
    assert before["slots"] == {_slot(0): 0} and before["codeHash"] == EMPTY_CODE_HASH
    now = verified(rpc, contract, ["0x1"], "latest")
    assert now["slots"] == {_slot(1): 9}
    # a proof does not verify against another block's state root
    old_root = _hex_bytes(then["header"]["stateRoot"])
    with pytest.raises(BadTrieProof):
        HexaryTrie.get_from_proof(
            old_root, keccak(_hex_bytes(contract)), _nodes(now["answer"]["accountProof"])
        )


def test_proof_requests_are_checked(chain: EmbeddedChain) -> None:
    rpc = chain.request
    for params in (
        ["0x1234", [], "latest"],
        [NOBODY, "0x0", "latest"],
        [NOBODY, ["0x" + "00" * 33], "latest"],
        [NOBODY, ["zz"], "latest"],
        [NOBODY, ["0x0"] * 1001, "latest"],
    ):
        with pytest.raises(RpcError) as info:
            rpc("eth_getProof", params)
        assert info.value.code == -32602
    with pytest.raises(RpcError, match="header not found"):
        rpc("eth_getProof", [NOBODY, [], "0x99"])


# --------------------------------------------------------------------------- devnet


def test_proofs_through_the_devnet(tmp_path: Path) -> None:
    import json
    import urllib.request

    from registry.chain.devnet import DevnetServer

    with DevnetServer(tmp_path / "chain.db", port=0) as server:

        def rpc(method: str, params: list[Any]) -> Any:
            body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
            request = urllib.request.Request(
                server.url, body.encode(), {"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                reply = json.loads(response.read())
            if "error" in reply:
                raise RuntimeError(reply["error"])
            return reply["result"]

        contract, seven = _store_history(rpc)
        assert verified(rpc, contract, ["0x1", ABSENT], "latest")["slots"] == {
            _slot(1): 9,
            _slot(2): 0,
        }
        assert verified(rpc, contract, ["0x1"], hex(seven))["slots"] == {_slot(1): 7}
        registry = server.registry_address
        assert registry is not None
        assert verified(rpc, registry, [], "latest")["nonce"] == 1


# --------------------------------------------------------------------------- anvil


@pytest.mark.anvil
def test_proof_shape_matches_anvil(chain: EmbeddedChain) -> None:
    """The same contract on anvil and on the embedded chain: same shape, same storage root."""
    node = Anvil()
    try:
        sender = node.rpc("eth_accounts")[0]
        tx_hash = node.rpc(
            "eth_sendTransaction",
            [{"from": sender, "data": "0x" + INITCODE.hex(), "gas": "0x30d40"}],
        )
        receipt = None
        for _ in range(100):
            receipt = node.rpc("eth_getTransactionReceipt", [tx_hash])
            if receipt is not None:
                break
            time.sleep(0.05)
        assert receipt is not None and receipt["status"] == "0x1"
        on_anvil = receipt["contractAddress"]
        slots = [_slot(0), _slot(2), BIG_SLOT]
        theirs = verified(node.rpc, on_anvil, slots, "latest")
        theirs_absent = verified(node.rpc, NOBODY, [_slot(0)], "latest")
    finally:
        node.close()
    alice = dev_accounts()[1]
    ours_address = _send(chain.request, alice, 0, data=INITCODE)["contractAddress"]
    ours = verified(chain.request, ours_address, slots, "latest")
    ours_absent = verified(chain.request, NOBODY, [_slot(0)], "latest")
    for mine, other in ((ours, theirs), (ours_absent, theirs_absent)):
        a, b = mine["answer"], other["answer"]
        assert list(a) == list(b)
        assert [list(item) for item in a["storageProof"]] == [
            list(item) for item in b["storageProof"]
        ]
        for key in ("nonce", "codeHash", "storageHash", "slots"):
            assert mine[key] == other[key]  # same code, same storage: same storage trie
        assert [item["key"] for item in a["storageProof"]] == [
            item["key"] for item in b["storageProof"]
        ]
    # the storage proofs themselves match node for node (the tries are identical)
    assert [i["proof"] for i in ours["answer"]["storageProof"]] == [
        i["proof"] for i in theirs["answer"]["storageProof"]
    ]
