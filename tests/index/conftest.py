"""Fixtures for the index and SSH gateway tests: an embedded chain, anvil, ssh keys.

``Chain`` wraps a Registry (embedded py-evm chain, or anvil) with the index
file next to it; ``ssh_key(name)`` makes an Ed25519 key pair with ssh-keygen.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_tool

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            pytest.fail(f"{what} exited with {proc.returncode}: {err[-800:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline:
                pytest.fail(f"{what} did not listen on port {port} within {START_TIMEOUT}s")
            time.sleep(0.05)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
    for stream in (proc.stdout, proc.stderr):
        if stream:
            stream.close()


class Anvil:
    """One anvil process on a free loopback port."""

    def __init__(self, *args: str) -> None:
        exe = require_tool("anvil")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--host", "127.0.0.1", "--silent", *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_port(self.port, self.proc, "anvil")

    def rpc(self, method: str, params: list[Any] | None = None) -> Any:
        import json
        import urllib.request

        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []})
        req = urllib.request.Request(self.url, body.encode(), {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            reply = json.loads(resp.read())
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def registry(self, **kw: Any) -> Any:
        """A Registry client signing as anvil's first dev account, deploying when needed."""
        from eth_account import Account

        from registry.chain.client import Registry

        acct = Account.from_key(
            "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
        reg = Registry.connect(self.url, account=acct, **kw)
        if "registry_address" not in kw:
            reg.deploy()
        return reg

    def close(self) -> None:
        stop(self.proc)


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
