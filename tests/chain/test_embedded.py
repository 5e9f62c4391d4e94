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
        with subprocess.Popen(
            [sys.executable, "-c", _PUBLISH_LOOP, str(state)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=ROOT,
        ) as proc:
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


# --------------------------------------------------------------------------- what opening costs


def test_dev_addresses_are_the_derived_ones() -> None:
    from registry.chain.embedded import _DEV_ADDRESSES

    assert _DEV_ADDRESSES == tuple(account.address for account in dev_accounts())


def test_secp256k1_is_libsecp256k1() -> None:
    """Signing and sender recovery go through coincurve: eth-keys' pure-Python curve
    costs about 10 ms per transaction, several times per publish."""
    from eth_keys import KeyAPI
    from eth_keys.backends import CoinCurveECCBackend

    assert isinstance(KeyAPI().backend, CoinCurveECCBackend)


_BLS_G1 = bytes.fromhex(
    "00" * 16
    + "17f1d3a73197d7942695638c4fa9ac0fc3688c4f9774b905a14e3a3f171bac586c55e83ff97a1aeffb3af00adb22c6bb"
    + "00" * 16
    + "08b3f481e3aaa0f1a09e30ed741d8ae4fcf5e095d5d00af600db18cb2c04b3edd03cc744a2888ae40caa232946c5e7e1"
)


def test_bls_precompiles_load_on_first_use(state: Path) -> None:
    """Opening the chain and transacting skip py_ecc's BLS12-381 code; the precompiles still work."""
    result = run_python(
        """
        import sys
        from registry.chain.embedded import EmbeddedChain
        with EmbeddedChain.open(sys.argv[1]) as chain:
            alice = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
            chain.request("eth_estimateGas", [{"from": alice, "to": alice, "value": "0x1"}])
            print("py_ecc.optimized_bls12_381" in sys.modules)
            g1_add = chain.request(
                "eth_call", [{"to": "0x" + "00" * 19 + "0b", "data": sys.argv[2]}, "latest"]
            )
            print(g1_add)
            print("py_ecc.optimized_bls12_381" in sys.modules)
        """,
        str(state),
        "0x" + (_BLS_G1 + b"\x00" * 128).hex(),
    )
    assert result.returncode == 0, result.stderr
    before, output, after = result.stdout.split()
    assert (before, after) == ("False", "True")
    assert output == "0x" + _BLS_G1.hex()  # G1 + infinity = G1, computed by py-evm's precompile


def test_old_format_is_upgraded_when_opened_for_writing(state: Path) -> None:
    with EmbeddedChain.open(state) as chain:
        registry = registry_contract(chain)
        alice = chain.dev_accounts[1]
        for label in ("example.org", "example.net"):
            data = registry.functions.register(label, _proof(label))._encode_transaction_data()
            send(chain, alice, to=registry.address, data=data)
        logs = chain.request("eth_getLogs", [{"fromBlock": "0x0"}])
    assert len(logs) >= 2
    with sqlite3.connect(state) as db:  # what a keyanchor-chain/1 file looked like
        db.execute("DROP TABLE logs")
        db.execute("UPDATE meta SET value = 'keyanchor-chain/1' WHERE key = 'format'")
    with pytest.raises(ConfigError, match="older keyanchor"):
        EmbeddedChain.open(state, write=False)
    with EmbeddedChain.open(state) as chain:
        assert chain.request("eth_getLogs", [{"fromBlock": "0x0"}]) == logs
    with EmbeddedChain.open(state, write=False) as chain:
        assert chain.request("eth_getLogs", [{"fromBlock": "0x0"}]) == logs
    with sqlite3.connect(state) as db:
        db.execute("UPDATE meta SET value = 'something-else/9' WHERE key = 'format'")
    with pytest.raises(ConfigError, match="not a keyanchor chain file"):
        EmbeddedChain.open(state)
    with sqlite3.connect(state) as db:
        db.execute("DELETE FROM meta WHERE key = 'format'")
    with pytest.raises(ConfigError, match="not a keyanchor chain file"):
        EmbeddedChain.open(state)


# --------------------------------------------------------------------------- logs


def _receipt_logs(chain: EmbeddedChain) -> list[dict[str, Any]]:
    """Every log of the chain, read from the receipts (not from the log index)."""
    out: list[dict[str, Any]] = []
    for number in range(chain.block_number + 1):
        block = chain.request("eth_getBlockByNumber", [hex(number), False])
        for tx_hash in block["transactions"]:
            out += chain.request("eth_getTransactionReceipt", [tx_hash])["logs"]
    return out


def _matches(entry: dict[str, Any], spec: dict[str, Any]) -> bool:
    number = int(entry["blockNumber"], 16)
    if "blockHash" in spec and entry["blockHash"] != spec["blockHash"]:
        return False
    if (
        not int(spec.get("fromBlock", "0x0"), 16)
        <= number
        <= int(spec.get("toBlock", "0xffff"), 16)
    ):
        return False
    address = spec.get("address")
    if address is not None:
        wanted = [a.lower() for a in (address if isinstance(address, list) else [address])]
        if entry["address"] not in wanted:
            return False
    topics = spec.get("topics", [])
    if len(topics) > len(entry["topics"]):
        return False
    for alternatives, topic in zip(topics, entry["topics"], strict=False):
        if alternatives is None:
            continue
        alternatives = alternatives if isinstance(alternatives, list) else [alternatives]
        if topic not in alternatives:
            return False
    return True


def test_get_logs_answers_every_filter_from_the_index(
    state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with EmbeddedChain.open(state) as chain:
        registry = registry_contract(chain)
        owners = chain.dev_accounts[1:4]
        for i, label in enumerate(("example.org", "example.net", "example.com", "example.io")):
            data = registry.functions.register(label, _proof(label))._encode_transaction_data()
            send(chain, owners[i % 3], to=registry.address, data=data)
        send(chain, owners[0], to=owners[1].address, value=1)  # a block without logs
        everything = _receipt_logs(chain)
        assert len(everything) >= 4
        first, last = everything[0], everything[-1]
        other_topic = "0x" + "11" * 32
        filters: list[dict[str, Any]] = [
            {"fromBlock": "0x0"},
            {"fromBlock": "0x0", "address": registry.address},
            {"fromBlock": "0x0", "address": [registry.address, owners[0].address]},
            {"fromBlock": "0x0", "address": owners[0].address},
            {"fromBlock": "0x0", "topics": [first["topics"][0]]},
            {"fromBlock": "0x0", "topics": [None, last["topics"][1]]},
            {"fromBlock": "0x0", "topics": [[other_topic, first["topics"][0]], None]},
            {"fromBlock": "0x0", "topics": [None, [first["topics"][1], last["topics"][1]]]},
            {"fromBlock": "0x0", "topics": [first["topics"][0], None, None, None]},
            {"fromBlock": "0x0", "topics": [other_topic]},
            {"fromBlock": first["blockNumber"], "toBlock": first["blockNumber"]},
            {"fromBlock": "0x3", "toBlock": "0x4", "address": registry.address},
            {"fromBlock": "0x4", "toBlock": "0x2"},
            {"blockHash": last["blockHash"], "topics": [last["topics"][0]]},
            {
                "fromBlock": "0x0",
                "address": registry.address,
                "topics": [first["topics"][0], first["topics"][1]],
            },
        ]

        # the index answers: no block is read but the two ends of the range
        node = chain._node
        reads: list[Any] = []
        by_number = node.chain.get_canonical_block_header_by_number

        def counted(number: Any) -> Any:
            reads.append(number)
            return by_number(number)

        def no_block_reads(*args: Any) -> Any:
            raise AssertionError("eth_getLogs read a block")

        answers = []
        with monkeypatch.context() as patch:
            patch.setattr(node.chain, "get_canonical_block_header_by_number", counted)
            patch.setattr(node.chain, "get_block_by_header", no_block_reads)
            for spec in filters:
                reads.clear()
                answers.append(chain.request("eth_getLogs", [spec]))
                assert len(reads) <= 2
        for spec, answer in zip(filters, answers, strict=True):
            assert answer == [e for e in everything if _matches(e, spec)], spec
        assert chain.web3.eth.get_logs({"fromBlock": 0, "address": registry.address})
        for too_many in (
            {"address": [owners[0].address] * 1001},
            {"topics": [None, [other_topic] * 1001]},
        ):
            with pytest.raises(RpcError) as info:
                chain.request("eth_getLogs", [too_many])
            assert info.value.code == -32602

        # a revert drops the reverted blocks' logs; what is mined next is indexed
        snapshot = chain.request("evm_snapshot")
        data = registry.functions.register("example.dev", _proof("example.dev"))._encode_transaction_data()
        send(chain, owners[0], to=registry.address, data=data)
        assert len(chain.request("eth_getLogs", [{"fromBlock": "0x0"}])) > len(everything)
        assert chain.request("evm_revert", [snapshot]) is True
        assert chain.request("eth_getLogs", [{"fromBlock": "0x0"}]) == everything
        data = registry.functions.register("example.app", _proof("example.app"))._encode_transaction_data()
        send(chain, owners[2], to=registry.address, data=data)
        after = _receipt_logs(chain)
        assert chain.request("eth_getLogs", [{"fromBlock": "0x0"}]) == after
    with EmbeddedChain.open(state, write=False) as chain:  # the index is in the file
        assert chain.request("eth_getLogs", [{"fromBlock": "0x0"}]) == after


# --------------------------------------------------------------------------- gas estimates


def _caller_initcode(target: str) -> bytes:
    """A contract passing its calldata's first word to ``target``, reverting if that fails."""
    runtime = (
        bytes.fromhex(
            "6020600060003760006000602060006000"  # CALLDATACOPY(0, 0, 32); CALL arguments
            "73"  # PUSH20 target
        )
        + bytes.fromhex(target[2:])
        + bytes.fromhex(
            "5af1"  # GAS, CALL
            "15602d5700"  # ISZERO, PUSH1 0x2d, JUMPI, STOP
            "5b60006000fd"  # JUMPDEST, REVERT(0, 0)
        )
    )
    assert runtime[0x2D] == 0x5B and len(runtime) == 0x33
    return bytes.fromhex("603380600b6000396000f3") + runtime


def test_estimate_gas_is_the_least_gas_that_succeeds(state: Path) -> None:
    """Two runs where py-evm's exact bisection takes twenty; the same answer, and it works.

    Calldata-heavy transactions need EIP-7623's floor as their gas limit (geth
    refuses less), which py-evm's bisection does not know. The slot-setter contract storing the value a slot already holds spends 2,200
    gas on the SSTORE, but an SSTORE needs more than 2,300 left (EIP-2200): the
    gas it used does not suffice, and the estimate must still be exact.
    """
    from eth.estimators.gas import binary_gas_search_exact

    from tests.chain.test_proofs import INITCODE

    with EmbeddedChain.open(state) as chain:
        node = chain._node
        alice, bob = chain.dev_accounts[1:3]
        w3 = chain.web3
        store = send(chain, alice, data="0x" + INITCODE.hex()).contractAddress
        registry = registry_contract(chain)
        caller = send(chain, alice, data="0x" + _caller_initcode(store).hex()).contractAddress
        nine = "0x" + (9).to_bytes(32, "big").hex()
        eleven = "0x" + (11).to_bytes(32, "big").hex()
        send(chain, alice, to=store, data="0x" + (7).to_bytes(32, "big").hex())
        calls: list[dict[str, Any]] = [
            {"from": alice.address, "to": bob.address, "value": "0x1"},
            {"from": alice.address, "data": "0x" + INITCODE.hex()},
            {"from": alice.address, "to": store, "data": nine},
            {"from": alice.address, "to": store, "data": nine},  # the stipend case
            {"from": alice.address, "to": store, "data": "0x" + "00" * 2000 + "01" * 20},
            {"from": alice.address, "to": caller, "data": eleven},  # a call: 63/64 of the gas
            {
                "from": alice.address,
                "to": registry.address,
                "data": registry.functions.register("example.org", _proof("example.org"))._encode_transaction_data(),
            },
        ]
        runs = stipend_cases = floor_cases = call_cases = 0
        for spec in calls:
            header = node.head
            with node._spoof_call(spec, header, default_gas=header.gas_limit) as (exact_state, tx):
                exact = binary_gas_search_exact(exact_state, tx)
            calldata = bytes.fromhex(spec.get("data", "0x")[2:])
            tokens = calldata.count(0) + 4 * (len(calldata) - calldata.count(0))
            floor = 21_000 + 10 * tokens  # EIP-7623, which py-evm's bisection ignores
            estimate = int(chain.request("eth_estimateGas", [spec]), 16)
            assert estimate == max(exact, floor), spec
            receipt = send(
                chain,
                alice,
                **{k: v for k, v in spec.items() if k != "from"},
                gas=estimate,
            )
            assert receipt.status == 1, spec
            if floor > exact:
                floor_cases += 1
                assert receipt.gasUsed == floor
            if spec.get("to") == caller:
                call_cases += 1
                assert receipt.gasUsed < estimate - 100  # 63/64 of the gas left: it needs more
            if spec.get("data") == nine and receipt.gasUsed < 25_000:
                stipend_cases += 1
                assert receipt.gasUsed < estimate - 100  # it needed more than it used
            assert int(w3.eth.get_block(receipt.blockNumber).gasUsed) == receipt.gasUsed
            runs += 1
        assert (runs, stipend_cases, floor_cases, call_cases) == (len(calls), 1, 1, 1)
def _proof(name: str) -> tuple:
    from registry.psl import suffix_tree

    return suffix_tree().prove(name).as_abi()


# --------------------------------------------------------------------------- mining replays the estimate


def _ssh_blob(seed: int) -> bytes:
    """An SSH ed25519 public key blob, deterministic per seed."""
    import hashlib

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    private = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"%d" % seed).digest())
    raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return b"".join(len(b).to_bytes(4, "big") + b for b in (b"ssh-ed25519", raw))


def _fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Block times from a fixed clock, and the client's fee cache never expiring: the same
    calls then make the same blocks, byte for byte."""
    monkeypatch.setattr(time, "time", lambda: 2_000_000_000.0)
    monkeypatch.setattr(time, "monotonic", lambda: 1_000.0)


def _history(state: Path) -> tuple[int, int, list[tuple[str, list[Any]]]]:
    """Register, assign, publish (one durable: a CREATE, never replayed), refuse a
    duplicate, travel in time, publish again; (calls replayed, blocks, every table's rows)."""
    from registry.chain.client import Registry
    from registry.errors import KeyAlreadyActive

    with Registry.embedded(state) as reg:
        chain = reg.w3.provider._chain  # type: ignore[attr-defined]
        reg.register("example.org")
        for name in ("a.example.org", "b.example.org"):
            reg.assign(name, reg.account.address)
        for k in range(5):
            reg.publish("a.example.org" if k < 3 else "b.example.org", _ssh_blob(k),
                        key_type="ssh", purposes="ssh-host", durable=k == 4)
        with pytest.raises(KeyAlreadyActive):
            reg.publish("a.example.org", _ssh_blob(0), key_type="ssh", purposes="ssh-host")
        chain.time_travel(3_600)
        reg.publish("b.example.org", _ssh_blob(9), key_type="ssh", purposes="ssh-host")
        reg.revoke("a.example.org", 1, "superseded")
        replayed, blocks = chain._node.replayed, chain.block_number
    db = sqlite3.connect(state)
    try:
        tables = [
            (table, db.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall())
            for table in ("kv", "logs", "storage", "meta")
        ]
    finally:
        db.close()
    return replayed, blocks, tables


_PLAIN_HISTORY = """
import pickle, sys, time
from pathlib import Path
import pytest
from registry.chain import _speedups, embedded
from tests.chain import test_embedded

# py-evm alone: no replay of the estimate, the rlp and trie packages' own helpers
_speedups.install = lambda: None
embedded._recorded = lambda *args: None
with pytest.MonkeyPatch.context() as monkeypatch:
    test_embedded._fixed_clock(monkeypatch)
    result = test_embedded._history(Path(sys.argv[1]))
assert not _speedups.originals()  # nothing swapped in
Path(sys.argv[2]).write_bytes(pickle.dumps(result))
"""


def test_mining_replays_the_estimated_call_into_the_same_blocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The blocks, receipts, state roots and every row of the file are byte-identical to
    what py-evm alone makes: with the estimate's call replayed and the fast RLP and trie
    helpers (this process), and with neither (a fresh process)."""
    import pickle

    from registry.chain import _speedups

    _fixed_clock(monkeypatch)
    replayed, blocks, tables = _history(tmp_path / "replayed.db")
    assert _speedups.originals()  # installed here
    plain = run_python(_PLAIN_HISTORY, str(tmp_path / "plain.db"), str(tmp_path / "plain.pickle"),
                       timeout=300)
    assert plain.returncode == 0, plain.stderr
    none, same_blocks, plain_tables = pickle.loads((tmp_path / "plain.pickle").read_bytes())
    assert none == 0
    # every transaction but the deployment (no estimate) and the durable publish (a CREATE)
    assert replayed == blocks - 2 - 1  # and the time-travel block, which has none
    assert same_blocks == blocks
    for (table, rows), (_, expected) in zip(tables, plain_tables, strict=True):
        assert rows == expected, f"table {table} differs"


def test_mining_runs_the_call_again_when_the_head_moved(
    state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A block mined between the estimate and the send: the call runs on the new state."""
    from registry.chain.client import Registry

    with Registry.embedded(state) as reg:
        chain = reg.w3.provider._chain  # type: ignore[attr-defined]
        reg.register("example.org")
        reg.assign("a.example.org", reg.account.address)
        estimate = reg._estimate

        def estimate_then_mine(tx: dict[str, Any], what: str) -> int:
            gas = estimate(tx, what)
            chain.time_travel(1)  # another block: the estimate's state is no longer the head
            return gas

        before = chain._node.replayed
        monkeypatch.setattr(reg, "_estimate", estimate_then_mine)
        result = reg.publish("a.example.org", _ssh_blob(1), key_type="ssh", purposes="ssh-host")
        assert chain._node.replayed == before
        monkeypatch.undo()
        assert result.index == 0
        assert [r["index"] for r in reg.records("a.example.org")] == [0]
        reg.publish("a.example.org", _ssh_blob(2), key_type="ssh", purposes="ssh-host")
        assert chain._node.replayed == before + 1


def test_state_reads_walk_the_trie_at_any_block(state: Path) -> None:
    """eth_getBalance / getTransactionCount / getCode / getStorageAt, read over the stored
    trie nodes, answer what py-evm's own state says, at the head and at older blocks."""
    from eth_utils import to_canonical_address

    with EmbeddedChain.open(state) as chain:
        registry = chain.registry_address
        alice = chain.dev_accounts[1]
        send(chain, alice, to=ANVIL_ACCOUNT_0, value=12345)
        node = chain._node
        slots = [0, 1, 2, 3, 2**255 + 7]
        nonzero = 0
        for number in range(chain.block_number + 1):
            tag = hex(number)
            py_state = node.chain.get_vm(
                at_header=node.chain.get_canonical_block_header_by_number(number)
            ).state
            for address in (registry, alice.address, ANVIL_ACCOUNT_0, "0x" + "ee" * 20):
                raw = to_canonical_address(address)
                assert chain.request("eth_getBalance", [address, tag]) == hex(
                    py_state.get_balance(raw))
                assert chain.request("eth_getTransactionCount", [address, tag]) == hex(
                    py_state.get_nonce(raw))
                assert chain.request("eth_getCode", [address, tag]) == "0x" + py_state.get_code(
                    raw).hex()
                for slot in slots:
                    word = int(chain.request("eth_getStorageAt", [address, hex(slot), tag]), 16)
                    assert word == py_state.get_storage(raw, slot)
                    nonzero += word != 0
        assert nonzero  # the registry's storage was read, not only empty slots
