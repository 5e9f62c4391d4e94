"""Fixtures for the index and SSH gateway tests: an embedded chain, anvil, ssh keys.

``Chain`` wraps a Registry (embedded py-evm chain, or anvil) with the index
file next to it; ``ssh_key(name)`` makes an Ed25519 key pair with ssh-keygen.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Anvil, free_port, require_tool, stop, wait_port  # noqa: F401 -- re-exported

START_TIMEOUT = 20.0


@dataclass
class Chain:
    """A registry plus the index synced from it."""

    reg: Any
    index: Path

    def sync(self, **kw: Any) -> Any:
        from registry.index import sync_index

        return sync_index(self.index, self.reg, **kw)


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    """The embedded chain (py-evm, in this process) with a deployed registry; module scope."""
    from registry.chain.client import Registry

    d = tmp_path_factory.mktemp("chain")
    reg = Registry.embedded(d / "chain.db")
    try:
        yield Chain(reg, d / "index.sqlite")
    finally:
        reg.close()


def raw_register(reg: Any, text: str) -> Any:
    """Register ``text`` straight through the contract, as a hostile registrant would (the
    client refuses names the grammar refuses), with the suffix-list proof a public registry
    needs (an empty one when the list cannot even describe the text)."""
    from registry.errors import InvalidName
    from registry.psl import EMPTY_PROOF, suffix_tree

    try:
        proof = suffix_tree().prove(text).as_abi()
    except InvalidName:
        proof = EMPTY_PROOF
    return reg.send("register", [text, proof], what=f"register {text}").wait()


def private_registry(reg: Any, *, registrar: Any) -> tuple[Any, Any]:
    """(admin, registrar) clients of a PRIVATE KeyRegistry deployed beside ``reg`` on its chain:
    dev account 2 deploys and administers it and names ``registrar`` (an account) a registrar."""
    from registry.chain.client import Registry
    from registry.chain.embedded import dev_accounts

    admin = Registry.from_web3(reg.w3, account=dev_accounts()[2], registry_address=None)
    admin.deploy(private=True)
    assert admin.private_mode()
    admin.set_registrar(registrar.address)
    other = Registry.from_web3(reg.w3, account=registrar, registry_address=admin.address)
    return admin, other


@dataclass(frozen=True)
class SSHKey:
    private: Path
    public: Path

    @property
    def text(self) -> str:
        return self.public.read_text()


@pytest.fixture(scope="session")
def ssh_keys(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """``ssh_keys(stem)`` -> an Ed25519 key pair made by ssh-keygen (cached per stem)."""
    keygen = require_tool("ssh-keygen")
    d = tmp_path_factory.mktemp("sshkeys")
    made: dict[str, SSHKey] = {}

    def make(stem: str) -> SSHKey:
        if stem not in made:
            subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-C", stem, "-f", str(d / stem)],
                           check=True, capture_output=True, timeout=30)
            made[stem] = SSHKey(d / stem, d / f"{stem}.pub")
        return made[stem]

    return make


@pytest.fixture
def anvil() -> Iterator[Anvil]:
    """A fresh anvil per test; killed at teardown."""
    node = Anvil()
    try:
        yield node
    finally:
        node.close()


def env_without_forbidden() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("KEYANCHOR_")}


def ed25519_blob(seed: int) -> bytes:
    """A syntactically valid ssh-ed25519 wire blob (not a usable key; fine for indexing)."""
    import hashlib
    import struct

    pk = hashlib.sha256(seed.to_bytes(8, "big")).digest()
    kt = b"ssh-ed25519"
    return struct.pack(">I", len(kt)) + kt + struct.pack(">I", 32) + pk


class TamperingW3:
    """A web3 stand-in whose provider passes requests through ``tamper(method, params, result)``."""

    def __init__(self, w3: Any, tamper: Any) -> None:
        inner = w3.provider
        outer = self

        class Provider:
            def make_request(self, method: str, params: Any) -> Any:
                resp = inner.make_request(method, params)
                return outer._fix(method, params, resp)

            def make_batch_request(self, calls: Any) -> Any:
                resps = inner.make_batch_request(calls)
                return [outer._fix(m, p, r) for (m, p), r in zip(calls, resps, strict=True)]

        self.provider = Provider()
        self.tamper = tamper

    def _fix(self, method: str, params: Any, resp: Any) -> Any:
        out = self.tamper(method, params, resp)
        return resp if out is None else out


def consistent_liar(w3: Any, tamper: Any) -> Any:
    """``tamper`` (a log tamper) plus ``event_digest()`` and the slot-0 value of
    ``eth_getProof`` answered with the digest of the logs it shows: only the proof itself
    (checked against the trusted state root) can catch the lie."""
    import copy

    from registry.chain import layout
    from registry.chain.client import load_contract

    contract = load_contract()
    selector = "0x" + contract.fn("event_digest").selector.hex()

    def shown_digest(block: Any) -> str:
        number = w3.eth.get_block(block["blockHash"] if isinstance(block, dict) else block)["number"]
        resp = w3.provider.make_request("eth_getLogs", [{"fromBlock": "0x0", "toBlock": hex(number)}])
        resp = tamper("eth_getLogs", None, copy.deepcopy(resp)) or resp
        events = []
        for lg in sorted(resp["result"], key=lambda x: (int(x["blockNumber"], 16), int(x["logIndex"], 16))):
            ev = contract.by_topic[bytes.fromhex(lg["topics"][0][2:])]
            raw = {"topics": [bytes.fromhex(t[2:]) for t in lg["topics"]],
                   "data": bytes.fromhex(lg["data"][2:])}
            events.append((ev.name, ev.decode(raw), int(lg["blockNumber"], 16)))
        return "0x" + layout.digest_events(events).hex()

    def liar(method: str, params: Any, resp: Any) -> Any:
        if method == "eth_call" and params[0].get("data") == selector:
            return {**resp, "result": shown_digest(params[1])}
        if method == "eth_getProof" and isinstance(resp.get("result"), dict):
            items = [dict(it, value=hex(int(shown_digest(params[2]), 16)))
                     if int(it["key"], 16) == 0 else it for it in resp["result"]["storageProof"]]
            return {**resp, "result": {**resp["result"], "storageProof": items}}
        return tamper(method, params, resp)

    return liar


def refuse_ranges(longest: int) -> Any:
    """A TamperingW3 tamper refusing eth_getLogs over more than ``longest`` blocks, as nodes
    with a block-range limit do (-32005)."""
    def tamper(method: str, params: Any, resp: Any) -> Any:
        if method == "eth_getLogs":
            f = params[0]
            if int(f["toBlock"], 16) - int(f["fromBlock"], 16) >= longest:
                return {"jsonrpc": "2.0", "id": resp.get("id"), "error": {
                    "code": -32005, "message": f"query exceeds max block range {longest}"}}
        return None

    return tamper
