"""registry.chain.embedded: the file-backed py-evm chain shared by separate processes."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount

from registry.chain.embedded import (
    BLOCK_GAS_LIMIT,
    CHAIN_ID,
    EmbeddedChain,
    RpcError,
    default_state_path,
    dev_accounts,
    devnet_url_for,
)
from registry.errors import ChainUnavailable, ConfigError, RegistryNotFound

ANVIL_ACCOUNT_0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
ANVIL_ACCOUNT_1 = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
ROOT = Path(__file__).resolve().parents[2]


def send(chain: EmbeddedChain, account: LocalAccount, **fields: Any) -> Any:
    """Sign an EIP-1559 transaction locally, send it through web3, return its receipt."""
    w3 = chain.web3
    tx: dict[str, Any] = {
        "chainId": CHAIN_ID,
        "nonce": w3.eth.get_transaction_count(account.address, "pending"),
        "maxPriorityFeePerGas": w3.eth.max_priority_fee,
        "maxFeePerGas": 2 * w3.eth.gas_price,
        "value": 0,
        **fields,
    }
    if "gas" not in tx:
        tx["gas"] = w3.eth.estimate_gas({"from": account.address, **tx})
    tx_hash = w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)
    return w3.eth.wait_for_transaction_receipt(tx_hash, timeout=10)


def registry_contract(chain: EmbeddedChain) -> Any:
    from registry.artifacts import load_artifact

    abi = load_artifact("KeyRegistry")["abi"]
    return chain.web3.eth.contract(address=chain.registry_address, abi=abi)


def run_python(code: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        check=False,
    )


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "chain.db"


# --------------------------------------------------------------------------- genesis


def test_dev_accounts_are_anvils() -> None:
    accounts = dev_accounts()
    assert len(accounts) == 10
    assert accounts[0].address == ANVIL_ACCOUNT_0
    assert accounts[1].address == ANVIL_ACCOUNT_1


def test_genesis(state: Path) -> None:
    with EmbeddedChain.open(state) as chain:
        w3 = chain.web3
        assert chain.chain_id == CHAIN_ID == w3.eth.chain_id
        assert w3.eth.get_block(0).gasLimit == BLOCK_GAS_LIMIT
        assert [a.lower() for a in w3.eth.accounts] == [
            a.address.lower() for a in chain.dev_accounts
        ]
        assert w3.eth.get_balance(ANVIL_ACCOUNT_1) == 10_000 * 10**18
        assert w3.eth.get_block(0).number == 0
    assert state.exists()


def test_default_state_path_is_in_user_data_dir() -> None:
    path = default_state_path()
    assert path.name == "chain.db" and "keyanchor" in path.parts


def test_one_block_per_transaction_and_wall_clock(state: Path) -> None:
    with EmbeddedChain.open(state) as chain:
        alice, bob = chain.dev_accounts[1:3]
        start = chain.block_number
        receipt = send(chain, alice, to=bob.address, value=5)
        assert receipt.status == 1 and receipt.blockNumber == start + 1
        block = chain.web3.eth.get_block(receipt.blockNumber)
        assert abs(block.timestamp - time.time()) < 5
        assert chain.web3.eth.get_balance(bob.address) == 10_000 * 10**18 + 5


def test_time_travel(state: Path) -> None:
    with EmbeddedChain.open(state) as chain:
        before = chain.web3.eth.get_block("latest").timestamp
        wall = int(time.time())
        ts = chain.time_travel(3600)
        assert ts >= max(before + 1, wall + 3600)
        assert chain.web3.eth.get_block("latest").timestamp == ts
    with EmbeddedChain.open(state) as chain:  # the offset is kept with the state
        alice, bob = chain.dev_accounts[1:3]
        receipt = send(chain, alice, to=bob.address, value=1)
        assert chain.web3.eth.get_block(receipt.blockNumber).timestamp >= ts
    with pytest.raises(ValueError):
        EmbeddedChain.open(state).time_travel(-1)


# --------------------------------------------------------------------------- the registry


def test_registry_deployed_once(state: Path) -> None:
    with EmbeddedChain.open(state) as chain:
        address = chain.registry_address
        assert chain.web3.eth.get_code(address) != b""
        deployer_nonce = chain.web3.eth.get_transaction_count(ANVIL_ACCOUNT_0)
        assert chain.registry_address == address
    with EmbeddedChain.open(state) as chain:
        assert chain.registry_address == address
        assert chain.web3.eth.get_transaction_count(ANVIL_ACCOUNT_0) == deployer_nonce


def test_registry_read_only_before_deployment(state: Path) -> None:
    EmbeddedChain.open(state).close()
    with EmbeddedChain.open(state, write=False) as chain, pytest.raises(RegistryNotFound):
        _ = chain.registry_address


def test_revert_reason_reaches_web3(state: Path) -> None:
    from web3.exceptions import ContractLogicError

    with EmbeddedChain.open(state) as chain:
        registry = registry_contract(chain)
        alice = chain.dev_accounts[1]
        node = registry.functions.register("example.org", _proof("example.org")).call({"from": alice.address})
        receipt = send(
            chain,
            alice,
            to=registry.address,
            data=registry.functions.register("example.org", _proof("example.org"))._encode_transaction_data(),
        )
        assert receipt.status == 1
        assert registry.functions.owner(node).call() == alice.address
        with pytest.raises(ContractLogicError, match="KeyRegistry: name taken"):
            registry.functions.register("example.org", _proof("example.org")).call({"from": alice.address})
        with pytest.raises(ContractLogicError, match="KeyRegistry: name taken"):
            chain.web3.eth.estimate_gas(
                {
                    "from": alice.address,
                    "to": registry.address,
                    "data": registry.functions.register("example.org", _proof("example.org"))._encode_transaction_data(),
                }
            )
        (event,) = registry.events.NameRegistered().get_logs(from_block=0)
        assert event.args.label == "example.org" and event.args.owner == alice.address


# --------------------------------------------------------------------------- processes


def test_state_shared_between_processes(state: Path) -> None:
    writer = run_python(
        """
        import sys
        from registry.chain.embedded import EmbeddedChain
        with EmbeddedChain.open(sys.argv[1]) as chain:
            acct = chain.dev_accounts[1]
            w3 = chain.web3
            tx = {"chainId": 31337, "nonce": 0, "to": chain.dev_accounts[5].address,
                  "value": 12345, "gas": 21000, "maxFeePerGas": 2 * w3.eth.gas_price,
                  "maxPriorityFeePerGas": 1}
            h = w3.eth.send_raw_transaction(acct.sign_transaction(tx).raw_transaction)
            print(chain.registry_address, h.hex())
        """,
        str(state),
    )
    assert writer.returncode == 0, writer.stderr
    registry, tx_hash = writer.stdout.split()
    reader = run_python(
        """
        import sys
        from registry.chain.embedded import EmbeddedChain
        with EmbeddedChain.open(sys.argv[1], write=False) as chain:
            w3 = chain.web3
            receipt = w3.eth.get_transaction_receipt(sys.argv[2])
            print(receipt.status, w3.eth.get_balance(chain.dev_accounts[5].address),
                  chain.registry_address)
        """,
        str(state),
        tx_hash,
    )
    assert reader.returncode == 0, reader.stderr
    assert reader.stdout.split() == ["1", str(10_000 * 10**18 + 12345), registry]


_KILL_LOOP = """
import sys
from registry.chain.embedded import EmbeddedChain
with EmbeddedChain.open(sys.argv[1]) as chain:
    acct = chain.dev_accounts[1]
    w3 = chain.web3
    nonce = w3.eth.get_transaction_count(acct.address)
    print("ready", flush=True)
    while True:
        tx = {"chainId": 31337, "nonce": nonce, "to": chain.dev_accounts[2].address,
              "value": 1, "data": bytes([nonce % 256]) * 1024, "gas": 100000,
              "maxFeePerGas": 2 * w3.eth.gas_price, "maxPriorityFeePerGas": 1}
        w3.eth.send_raw_transaction(acct.sign_transaction(tx).raw_transaction)
        nonce += 1
        print(nonce, flush=True)
"""


def test_killed_writer_leaves_a_consistent_state(state: Path) -> None:
    EmbeddedChain.open(state).close()
    rng = random.Random(4)
    committed = 0
    for _ in range(5):
        with subprocess.Popen(
            [sys.executable, "-c", _KILL_LOOP, str(state)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=ROOT,
        ) as proc:
            try:
                assert proc.stdout is not None
                assert proc.stdout.readline().strip() == "ready"
                time.sleep(rng.uniform(0.05, 0.6))
                proc.send_signal(signal.SIGKILL)
                printed = [int(line) for line in proc.stdout.read().split() if line.isdigit()]
            finally:
                proc.kill()
        assert proc.returncode == -signal.SIGKILL
        with sqlite3.connect(state) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        with EmbeddedChain.open(state, write=False) as chain:
            w3 = chain.web3
            head = w3.eth.block_number
            nonce = w3.eth.get_transaction_count(ANVIL_ACCOUNT_1)
            # one block per transaction, all from account 1: block and nonce agree
            assert head == nonce
            assert head >= max(printed, default=committed) >= committed
            assert w3.eth.get_balance(chain.dev_accounts[2].address) == 10_000 * 10**18 + nonce
            latest = w3.eth.get_block(head, full_transactions=True)
            if head:
                assert latest.transactions[0]["nonce"] == head - 1
            committed = head
    assert committed > 0


def test_writers_exclude_each_other_readers_share(state: Path) -> None:
    EmbeddedChain.open(state).close()
    with EmbeddedChain.open(state, write=False) as r1, EmbeddedChain.open(state, write=False) as r2:
        assert r1.block_number == r2.block_number
        with pytest.raises(ChainUnavailable, match="locked"):
            EmbeddedChain.open(state, timeout=0.2)
        with pytest.raises(RpcError, match="read-only"):
            r1.request("evm_mine", [])
    with EmbeddedChain.open(state), pytest.raises(ChainUnavailable, match="locked"):
        EmbeddedChain.open(state, write=False, timeout=0.2)


def test_read_only_open_of_missing_chain(state: Path) -> None:
    with pytest.raises(ChainUnavailable, match="does not exist"):
        EmbeddedChain.open(state, write=False)


def test_not_a_chain_file(state: Path) -> None:
    state.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ConfigError):
        EmbeddedChain.open(state)


def test_stale_devnet_marker_is_ignored(state: Path) -> None:
    state.with_name(state.name + ".devnet").write_text('{"url": "http://127.0.0.1:1"}')
    assert devnet_url_for(state) is None
    with EmbeddedChain.open(state) as chain:
        assert chain.block_number == 0


def test_closed_chain(state: Path) -> None:
    chain = EmbeddedChain.open(state)
    chain.close()
    chain.close()
    with pytest.raises(RpcError):
        chain.request("eth_blockNumber")
    EmbeddedChain.open(state, timeout=0.2).close()  # the lock was released


# --------------------------------------------------------------------------- JSON-RPC


def test_snapshot_and_revert(state: Path) -> None:
    with EmbeddedChain.open(state) as chain:
        alice, bob = chain.dev_accounts[1:3]
        snap = chain.request("evm_snapshot")
        receipt = send(chain, alice, to=bob.address, value=7)
        assert chain.block_number == 1
        assert chain.request("evm_revert", [snap]) is True
        assert chain.block_number == 0
        assert (
            chain.request("eth_getTransactionReceipt", [receipt.transactionHash.to_0x_hex()])
            is None
        )
        assert chain.request("evm_revert", [snap]) is False
        again = send(chain, alice, to=bob.address, value=9)
        assert again.blockNumber == 1 and again.transactionHash != receipt.transactionHash
    with EmbeddedChain.open(state) as chain:  # the revert was persisted
        assert chain.block_number == 1
        assert chain.web3.eth.get_balance(bob.address) == 10_000 * 10**18 + 9


def test_future_nonce_is_queued_until_the_gap_fills(state: Path) -> None:
    with EmbeddedChain.open(state) as chain:
        w3 = chain.web3
        alice, bob = chain.dev_accounts[1:3]

        def raw(nonce: int) -> bytes:
            tx = {
                "chainId": CHAIN_ID,
                "nonce": nonce,
                "to": bob.address,
                "value": 1,
                "gas": 21000,
                "maxFeePerGas": 2 * w3.eth.gas_price,
                "maxPriorityFeePerGas": 1,
            }
            return bytes(alice.sign_transaction(tx).raw_transaction)

        later = w3.eth.send_raw_transaction(raw(1))
        assert w3.eth.get_transaction_count(alice.address, "pending") == 0
        assert w3.eth.get_transaction(later).blockNumber is None
        w3.eth.send_raw_transaction(raw(0))
        assert w3.eth.wait_for_transaction_receipt(later, timeout=5).blockNumber == 2
        assert w3.eth.get_transaction_count(alice.address) == 2
        with pytest.raises(Exception, match="nonce too low"):
            w3.eth.send_raw_transaction(raw(0))


def test_rpc_envelopes(state: Path) -> None:
    with EmbeddedChain.open(state) as chain:
        assert chain.handle({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}) == {
            "jsonrpc": "2.0",
            "id": 1,
            "result": hex(CHAIN_ID),
        }
        unknown = chain.handle({"jsonrpc": "2.0", "id": 2, "method": "eth_mine"})
        assert unknown["error"]["code"] == -32601
        bad = chain.handle(
            {"jsonrpc": "2.0", "id": 3, "method": "eth_getBalance", "params": ["0x1"]}
        )
        assert bad["error"]["code"] == -32602
        assert chain.handle([])["error"]["code"] == -32600
        assert chain.handle(17)["error"]["code"] == -32600
        assert chain.handle({"jsonrpc": "2.0", "method": "eth_chainId"}) is None  # notification
        batch = chain.handle(
            [
                {"jsonrpc": "2.0", "id": "a", "method": "eth_blockNumber"},
                {"jsonrpc": "2.0", "id": "b", "method": "net_version"},
            ]
        )
        assert batch == [
            {"jsonrpc": "2.0", "id": "a", "result": "0x0"},
            {"jsonrpc": "2.0", "id": "b", "result": str(CHAIN_ID)},
        ]
        for method, params in [
            ("eth_getBlockByNumber", ["0x99", False]),
            ("eth_getBlockByHash", ["0x" + "11" * 32, False]),
            ("eth_getTransactionByHash", ["0x" + "22" * 32]),
            ("eth_getTransactionReceipt", ["0x" + "22" * 32]),
        ]:
            assert chain.request(method, params) is None
        with pytest.raises(RpcError) as info:
            chain.request("eth_getBalance", [ANVIL_ACCOUNT_0, "0x99"])
        assert info.value.code == -32000


def test_wrong_chain_id_is_refused(state: Path) -> None:
    with EmbeddedChain.open(state) as chain:
        alice = chain.dev_accounts[1]
        tx = {
            "chainId": 1,
            "nonce": 0,
            "to": ANVIL_ACCOUNT_0,
            "value": 1,
            "gas": 21000,
            "maxFeePerGas": 10**10,
            "maxPriorityFeePerGas": 1,
        }
        raw = "0x" + bytes(alice.sign_transaction(tx).raw_transaction).hex()
        with pytest.raises(RpcError, match="chain id"):
            chain.request("eth_sendRawTransaction", [raw])
        poor = chain.web3.eth.account.create()
        tx = {
            "chainId": CHAIN_ID,
            "nonce": 0,
            "to": ANVIL_ACCOUNT_0,
            "value": 1,
            "gas": 21000,
            "maxFeePerGas": 10**10,
            "maxPriorityFeePerGas": 1,
        }
        raw = "0x" + bytes(poor.sign_transaction(tx).raw_transaction).hex()
        with pytest.raises(RpcError, match="insufficient funds"):
            chain.request("eth_sendRawTransaction", [raw])
        assert chain.block_number == 0


# --------------------------------------------------------------------------- the client on it


def test_end_to_end_with_the_client(state: Path) -> None:
    from registry.chain import client
    from tests.chain.conftest import ALICE, BOB, RA, end_to_end, raw_keys, raw_loader

    with EmbeddedChain.open(state) as chain:
        accounts = {
            RA: chain.dev_accounts[1],
            ALICE: chain.dev_accounts[2],
            BOB: chain.dev_accounts[3],
        }

        def make(account: LocalAccount) -> Any:
            return client.Registry.from_web3(
                chain.web3,
                account=account,
                registry_address=chain.registry_address,
                material_loader=raw_loader,
            )

        end_to_end(make, accounts, raw_keys())


def test_no_traceback_for_internal_errors(state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with EmbeddedChain.open(state) as chain:

        def boom(params: list[Any]) -> Any:
            raise RuntimeError("secret detail")

        monkeypatch.setitem(chain._node._methods, "eth_blockNumber", boom)
        reply = chain.handle({"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber"})
        assert reply["error"] == {"code": -32603, "message": "internal error"}


_PUBLISH_LOOP = """
import sys
from registry.chain.client import Registry
from registry.keys import KeyType
blob = lambda i: (len(b"ssh-ed25519").to_bytes(4, "big") + b"ssh-ed25519"
                  + (32).to_bytes(4, "big") + i.to_bytes(32, "big"))
with Registry.embedded(sys.argv[1]) as reg:
    done = len(reg.records("alice@example.org"))
    print("ready", flush=True)
    for i in range(done, 32):
        reg.publish("alice@example.org", blob(1000 + i), key_type=KeyType.SSH, purposes="ssh-user")
        print(i, flush=True)
"""


def test_publish_killed_mid_write_leaves_the_previous_state(state: Path) -> None:
    """SIGKILL a process that is publishing keys: every reopen sees whole records only.

    Each kill lands somewhere in a publish (signing, mining, the state commit);
    afterwards the state file passes SQLite's integrity check, every record the
    contract holds verifies against its logged material, and no publish that
    reported success is lost.
    """
    from registry.chain.client import Registry

    with Registry.embedded(state) as reg:
        reg.register("example.org")
        reg.assign("alice@example.org", reg.account.address)
    rng = random.Random(7)
    confirmed = 0
    for _ in range(6):
        with subprocess.Popen([sys.executable, "-c", _PUBLISH_LOOP, str(state)],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                              cwd=ROOT) as proc:
            try:
                assert proc.stdout is not None
                assert proc.stdout.readline().strip() == "ready"
                time.sleep(rng.uniform(0.02, 0.4))
                proc.send_signal(signal.SIGKILL)
                printed = [int(x) for x in proc.stdout.read().split() if x.isdigit()]
            finally:
                proc.kill()
        with sqlite3.connect(state) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        with Registry.embedded(state) as reg:
            records = reg.lookup("alice@example.org")  # verifies every record's material
            assert [r.index for r in records] == list(range(len(records)))
            assert len(records) >= confirmed
            if printed:
                assert len(records) >= max(printed) + 1  # a reported publish survived the kill
            confirmed = len(records)
    assert confirmed > 0


def _proof(name: str) -> tuple:
    from registry.psl import suffix_tree

    return suffix_tree().prove(name).as_abi()
