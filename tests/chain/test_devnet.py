"""registry.chain.devnet: the embedded chain served as JSON-RPC over HTTP, driven by web3."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from web3 import HTTPProvider, Web3
from web3.exceptions import BlockNotFound, ContractLogicError, Web3RPCError

from registry.chain.devnet import MAX_REQUEST_BYTES, DevnetServer
from registry.chain.embedded import CHAIN_ID, EmbeddedChain, dev_accounts, devnet_url_for
from registry.errors import ChainUnavailable, ConfigError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "chain.db"


@pytest.fixture
def server(state: Path) -> Iterator[DevnetServer]:
    with DevnetServer(state, port=0) as srv:
        yield srv


@pytest.fixture
def w3(server: DevnetServer) -> Web3:
    return Web3(HTTPProvider(server.url, request_kwargs={"timeout": 30}))


def registry(w3: Web3, server: DevnetServer) -> Any:
    from registry.artifacts import load_artifact

    assert server.registry_address is not None
    return w3.eth.contract(address=server.registry_address, abi=load_artifact("KeyRegistry")["abi"])


def send(w3: Web3, account: LocalAccount, **fields: Any) -> Any:
    tx: dict[str, Any] = {
        "chainId": w3.eth.chain_id,
        "nonce": w3.eth.get_transaction_count(account.address, "pending"),
        "maxPriorityFeePerGas": w3.eth.max_priority_fee,
        "maxFeePerGas": 2 * w3.eth.get_block("latest").baseFeePerGas + w3.eth.max_priority_fee,
        "value": 0,
        **fields,
    }
    if "gas" not in tx:
        tx["gas"] = w3.eth.estimate_gas({"from": account.address, **tx})
    tx_hash = w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)
    return w3.eth.wait_for_transaction_receipt(tx_hash, timeout=10, poll_latency=0.05)


def post(server: DevnetServer, body: bytes, **headers: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request(
            "POST", "/", body=body, headers={"Content-Type": "application/json", **headers}
        )
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


# --------------------------------------------------------------------------- basics


def test_basic_methods(w3: Web3, server: DevnetServer) -> None:
    assert w3.eth.chain_id == CHAIN_ID
    assert w3.net.version == str(CHAIN_ID)
    assert w3.client_version.startswith("keyanchor-devnet")
    assert w3.eth.accounts[0] == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    assert w3.eth.get_balance(w3.eth.accounts[1]) == 10_000 * 10**18
    assert w3.eth.block_number == 1  # the registry deployment
    assert w3.eth.get_code(server.registry_address) != b""
    assert w3.eth.gas_price > 0 and w3.eth.max_priority_fee == 10**9
    block = w3.eth.get_block("latest")
    assert w3.eth.get_block(block.hash).number == block.number
    with pytest.raises(BlockNotFound):
        w3.eth.get_block(99)
    history = w3.eth.fee_history(2, "latest", [25, 75])
    assert len(history.baseFeePerGas) == 3 and len(history.reward) == 2
    assert history.oldestBlock == 0


def test_eip1559_transfer_receipt_and_lookups(w3: Web3, server: DevnetServer) -> None:
    alice, bob = dev_accounts()[1:3]
    receipt = send(w3, alice, to=bob.address, value=10**15)
    assert receipt.status == 1 and receipt.gasUsed == 21000 and receipt.type == 2
    tx = w3.eth.get_transaction(receipt.transactionHash)
    assert tx["from"] == alice.address and tx.blockNumber == receipt.blockNumber
    assert w3.eth.get_balance(bob.address) == 10_000 * 10**18 + 10**15
    block = w3.eth.get_block(receipt.blockNumber, full_transactions=True)
    assert block.transactions[0]["hash"] == receipt.transactionHash
    assert w3.eth.get_transaction_count(alice.address, "pending") == 1


def test_contract_call_logs_and_estimate(w3: Web3, server: DevnetServer) -> None:
    contract = registry(w3, server)
    alice = dev_accounts()[1]
    call = contract.functions.register("example.org", _proof("example.org"))
    node = call.call({"from": alice.address})
    gas = call.estimate_gas({"from": alice.address})
    assert 21000 < gas < 1_000_000
    receipt = send(w3, alice, to=contract.address, data=call._encode_transaction_data())
    assert receipt.status == 1 and len(receipt.logs) >= 1
    assert contract.functions.owner(node).call() == alice.address
    (event,) = contract.events.NameRegistered().process_receipt(receipt)
    assert event.args.label == "example.org"

    topic0 = receipt.logs[0].topics[0]
    everything = w3.eth.get_logs({"fromBlock": receipt.blockNumber, "toBlock": "latest"})
    assert len(everything) == len(receipt.logs)
    by_address = w3.eth.get_logs({"fromBlock": receipt.blockNumber, "address": contract.address})
    assert [log.transactionHash for log in by_address] == [receipt.transactionHash] * len(
        by_address
    )
    assert w3.eth.get_logs({"fromBlock": 0, "topics": [topic0]})[0].topics[0] == topic0
    assert w3.eth.get_logs({"fromBlock": 0, "topics": [[topic0, b"\x01" * 32], node]})
    assert w3.eth.get_logs({"fromBlock": 0, "topics": [None, b"\x01" * 32]}) == []
    assert w3.eth.get_logs({"blockHash": receipt.blockHash})[0].logIndex == 0
    # before it, only the registry's deployment (RegistryDeployed, event 1 of the digest)
    earlier = w3.eth.get_logs({"fromBlock": 0, "toBlock": receipt.blockNumber - 1})
    assert [log.topics[0] for log in earlier] == [
        w3.keccak(text="RegistryDeployed(address,bool,bytes32)")]
    other = "0x" + "ab" * 20
    assert w3.eth.get_logs({"fromBlock": 0, "address": Web3.to_checksum_address(other)}) == []


def test_revert_reason_surfaces(w3: Web3, server: DevnetServer) -> None:
    contract = registry(w3, server)
    alice, bob = dev_accounts()[1:3]
    call = contract.functions.register("example.org", _proof("example.org"))
    send(w3, alice, to=contract.address, data=call._encode_transaction_data())
    with pytest.raises(ContractLogicError, match="KeyRegistry: name taken") as info:
        call.call({"from": bob.address})
    assert isinstance(info.value.data, str) and info.value.data.startswith("0x08c379a0")
    with pytest.raises(ContractLogicError, match="KeyRegistry: name taken"):
        call.estimate_gas({"from": bob.address})
    # sent anyway: mined with status 0, as anvil does
    receipt = send(w3, bob, to=contract.address, data=call._encode_transaction_data(), gas=300_000)
    assert receipt.status == 0


def test_rpc_errors(server: DevnetServer, w3: Web3) -> None:
    status, body = post(server, b'{"jsonrpc":"2.0","id":1,"method":"eth_frobnicate","params":[]}')
    assert status == 200 and json.loads(body)["error"]["code"] == -32601
    status, body = post(server, b'{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":[42]}')
    assert json.loads(body)["error"]["code"] == -32602
    status, body = post(server, b'{"jsonrpc": "2.0", "id": 1, "method": ')
    assert status == 200 and json.loads(body) == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": -32700, "message": "parse error"},
    }
    status, body = post(
        server,
        b'[{"jsonrpc":"2.0","id":1,"method":"eth_chainId"},'
        b'{"jsonrpc":"2.0","id":2,"method":"nope"}]',
    )
    first, second = json.loads(body)
    assert first == {"jsonrpc": "2.0", "id": 1, "result": hex(CHAIN_ID)}
    assert second["id"] == 2 and second["error"]["code"] == -32601
    with pytest.raises(Web3RPCError, match="nonce too low"):
        alice = dev_accounts()[1]
        tx = {
            "chainId": CHAIN_ID,
            "nonce": 0,
            "to": alice.address,
            "value": 0,
            "gas": 21000,
            "maxFeePerGas": 10**10,
            "maxPriorityFeePerGas": 1,
        }
        send(w3, alice, to=alice.address)
        w3.eth.send_raw_transaction(alice.sign_transaction(tx).raw_transaction)


def test_unknown_method_through_web3(w3: Web3) -> None:
    response = w3.provider.make_request("eth_frobnicate", [])  # type: ignore[arg-type]
    assert response["error"]["code"] == -32601


def test_http_guards(server: DevnetServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.putrequest("POST", "/")
    conn.putheader("Content-Length", str(MAX_REQUEST_BYTES + 1))
    conn.endheaders()  # the body is refused before it is read
    assert conn.getresponse().status == 413
    conn.close()
    status, _ = post(
        server, b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}', Host="evil.example"
    )
    assert status == 403
    status, _ = post(
        server, b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}', Origin="https://evil.example"
    )
    assert status == 403
    status, body = post(
        server, b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}', Origin="http://localhost:3000"
    )
    assert status == 200 and json.loads(body)["result"] == hex(CHAIN_ID)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", "/")
    assert conn.getresponse().status == 405
    conn.close()


def test_origin_null_is_refused_but_no_origin_is_served(server: DevnetServer) -> None:
    # sandboxed iframes and data: URLs on any website send "Origin: null"; a web page must not
    # be able to drive the devnet (evm_revert, sending dev-account transactions, ...)
    body = b'{"jsonrpc":"2.0","id":1,"method":"evm_snapshot"}'
    status, text = post(server, body, Origin="null")
    assert status == 403 and b"loopback" in text
    status, _ = post(server, body, Origin="NULL")
    assert status == 403
    status, body_out = post(server, b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}')
    assert status == 200 and json.loads(body_out)["result"] == hex(CHAIN_ID)  # CLI tools: no Origin


def test_only_loopback() -> None:
    with pytest.raises(ConfigError):
        DevnetServer(host="0.0.0.0")


def test_evm_helpers(w3: Web3, server: DevnetServer) -> None:
    alice, bob = dev_accounts()[1:3]
    snap = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    before = w3.eth.get_block("latest")
    send(w3, alice, to=bob.address, value=1)
    wall = int(time.time())
    w3.provider.make_request("evm_increaseTime", [3600])  # type: ignore[arg-type]
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    assert w3.eth.get_block("latest").timestamp >= wall + 3600
    assert w3.provider.make_request("evm_revert", [snap])["result"] is True  # type: ignore[arg-type]
    assert w3.eth.block_number == before.number
    assert w3.eth.get_balance(bob.address) == 10_000 * 10**18
    registry_address = w3.provider.make_request("keyanchor_registryAddress", [])  # type: ignore[arg-type]
    assert registry_address["result"] == server.registry_address


# --------------------------------------------------------------------------- the state file


def test_marker_and_lock_while_serving(server: DevnetServer, state: Path) -> None:
    assert devnet_url_for(state) == server.url
    with pytest.raises(ChainUnavailable,
                       match=f"devnet at {server.url} is serving this chain: stop it first"):
        EmbeddedChain.open(state)
    code = textwrap.dedent(
        """
        import sys
        from registry.chain.embedded import EmbeddedChain
        from registry.errors import ChainUnavailable
        try:
            EmbeddedChain.open(sys.argv[1], write=False)
        except ChainUnavailable as exc:
            print(exc)
            sys.exit(3)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(state)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 3, proc.stderr
    # the way through it: not a "--network devnet" the user may never have added
    assert f"Registry.connect('{server.url}')" in proc.stdout and "stop it first" in proc.stdout
    with pytest.raises(ChainUnavailable):
        DevnetServer(state, port=0, lock_timeout=0.2).start()


def test_restart_keeps_state(state: Path) -> None:
    alice, bob = dev_accounts()[1:3]
    with DevnetServer(state, port=0) as srv:
        w3 = Web3(HTTPProvider(srv.url))
        receipt = send(w3, alice, to=bob.address, value=77)
        address = srv.registry_address
    assert devnet_url_for(state) is None
    assert not state.with_name(state.name + ".devnet").exists()
    with DevnetServer(state, port=0) as srv:
        w3 = Web3(HTTPProvider(srv.url))
        assert srv.registry_address == address
        assert w3.eth.get_transaction_receipt(receipt.transactionHash).status == 1
        assert w3.eth.get_balance(bob.address) == 10_000 * 10**18 + 77
    with EmbeddedChain.open(state, write=False) as chain:  # and the file opens again
        assert chain.block_number == receipt.blockNumber


def test_sigint_shuts_down_cleanly(state: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "registry.chain.devnet", "--port", "0", "--state", str(state)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    with proc:
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline()
            assert first.startswith("keyanchor devnet listening on http://127.0.0.1:"), first
            url = first.split()[-1]
            lines: list[str] = []
            while not lines or not lines[-1].startswith("Ctrl-C stops the devnet"):
                line = proc.stdout.readline()  # the banner ends with this line (bounded below)
                assert line and len(lines) < 40, lines
                lines.append(line)
            text = "".join(lines)
            assert "KeyRegistry  0x" in text
            w3 = Web3(HTTPProvider(url))
            assert w3.eth.chain_id == CHAIN_ID
            assert devnet_url_for(state) == url
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, err
    banner = text + out  # how many lines the banner takes before SIGINT does not matter
    assert "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266" in banner
    assert "(9) 0xa0Ee7A142d267C1f36714E4a8F75612F20a79720" in banner
    assert "shutting down" in out
    assert "Traceback" not in err
    assert devnet_url_for(state) is None
    EmbeddedChain.open(state, timeout=1).close()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_as_soon_as_it_listens_is_a_clean_stop(state: Path, sig: signal.Signals) -> None:
    """A supervisor's stop as soon as the port accepts: the handlers were installed only after
    the state marker was written, so a signal in that window killed the devnet (exit -15, or a
    KeyboardInterrupt traceback) and left its marker behind."""
    from tests.conftest import free_port

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "devnet", "--port", str(port), "--state", str(state)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )
    with proc:
        try:
            deadline = time.monotonic() + 60
            while proc.poll() is None and time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.005)
            proc.send_signal(sig)  # at once: before or during the banner
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, err
    assert "shutting down" in out and "Traceback" not in err
    assert devnet_url_for(state) is None


def test_end_to_end_with_the_client(w3: Web3, server: DevnetServer) -> None:
    from registry.chain import client
    from tests.chain.conftest import ALICE, BOB, RA, end_to_end, raw_keys, raw_loader

    accounts = dict(zip((RA, ALICE, BOB), dev_accounts()[1:4], strict=True))

    def make(account: LocalAccount) -> Any:
        return client.Registry.from_web3(
            w3,
            account=account,
            registry_address=server.registry_address,
            material_loader=raw_loader,
        )

    end_to_end(make, accounts, raw_keys())


def _proof(name: str) -> tuple:
    from registry.psl import suffix_tree

    return suffix_tree().prove(name).as_abi()


def test_proof_checked_reads_through_the_devnet(server: DevnetServer, tmp_path: Path) -> None:
    """The devnet answers eth_getProof from py-evm's state trie: its proofs verify against the
    re-hashed header's state root (and a tampered one does not), and a lookup and a sync run
    the same proof path as against anvil."""
    import copy

    from registry.chain import layout
    from registry.chain.client import Registry
    from registry.chain.header import verify_header_hash
    from registry.chain.stateproof import verify_proof
    from registry.errors import VerificationError
    from registry.index import IndexReader, sync_index
    from tests.index.conftest import ed25519_blob

    assert server.registry_address is not None
    reg = Registry.connect(server.url, account=dev_accounts()[1],
                           registry_address=server.registry_address)
    reg.register("example.org")
    reg.publish("example.org", ed25519_blob(5), key_type="ssh", purposes="ssh-host")
    w3 = reg.w3
    block = w3.provider.make_request("eth_getBlockByNumber", ["latest", False])["result"]
    root = bytes.fromhex(block["stateRoot"][2:])
    assert verify_header_hash(block).hex() == block["hash"][2:]
    reply = w3.provider.make_request("eth_getProof", [
        server.registry_address, ["0x" + "00" * 32], block["number"]])["result"]
    _account, values = verify_proof(reply, state_root=root, address=server.registry_address,
                                    slots=[layout.EVENTS_SLOT])
    digest = values[layout.EVENTS_SLOT].to_bytes(32, "big")
    assert int.from_bytes(digest, "big") >> 216 >= 3  # deployment, registration, publication
    bad = copy.deepcopy(reply)
    node = bad["storageProof"][0]["proof"][-1]
    bad["storageProof"][0]["proof"][-1] = node[:-2] + ("00" if node[-2:] != "00" else "01")
    with pytest.raises(VerificationError):
        verify_proof(bad, state_root=root, address=server.registry_address,
                     slots=[layout.EVENTS_SLOT])

    (rec,) = reg.lookup("example.org")
    assert rec.key_type.label == "ssh"
    res = sync_index(tmp_path / "i.sqlite", reg)
    assert res.head is not None and res.head[2] is not None
    with IndexReader.open(tmp_path / "i.sqlite") as ix:
        assert [r.commitment for r in ix.records("example.org")] == [rec.commitment]
