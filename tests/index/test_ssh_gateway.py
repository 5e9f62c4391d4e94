"""The SSH gateway and the light ``keyanchor-ssh`` entry point, on indexes built with the store API."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from registry.errors import IndexUnavailable, InvalidName
from registry.gateways.ssh import (
    SSHSettings,
    authorized_keys,
    known_hosts,
    load_ssh_settings,
    registry_name_for_user,
)
from registry.index._store import Event, ParsedKey, Store
from registry.keys import load_ssh_public_key
from registry.names import namehash

REPO = Path(__file__).resolve().parents[2]
FORBIDDEN = ("web3", "eth_abi", "eth_utils", "eth_account", "eth_typing", "pydantic", "typer",
             "rich", "click", "cryptography", "Crypto", "requests", "aiohttp")
ZERO = b"\x00" * 32


class Builder:
    """Writes names and SSH records straight into a Store (no chain)."""

    def __init__(self, path: Path) -> None:
        self.store = Store.open(path)
        self.block = 1
        self.counts: dict[str, int] = {}

    def _ev(self, kind: str, node: bytes, data: dict[str, Any], parsed: ParsedKey | None = None) -> None:
        self.store.apply(Event(kind, self.block, 0, b"\x01" * 32, node, 1_700_000_000, data, parsed))
        self.block += 1

    def name(self, text: str) -> None:
        with self.store.transaction():
            if "@" in text:
                label, _, parent = text.partition("@")
                person = True
            elif text.count(".") > 1:
                label, _, parent = text.partition(".")
                person = False
            else:
                label, parent, person = text, "", False
            self._ev("NameRegistered", bytes(namehash(text)),
                     {"name": text, "parent": bytes(namehash(parent)) if parent else ZERO,
                      "person": person, "owner": "0x" + "11" * 20, "label": label})

    def key(self, name: str, pub: str, purposes: int, *, valid_until: int = 0, revoked: bool = False,
            policy: str = "pass") -> None:
        key = load_ssh_public_key(pub)
        node = bytes(namehash(name))
        idx = self.counts.get(name, 0)
        self.counts[name] = idx + 1
        with self.store.transaction():
            self._ev("KeyPublished", node,
                     {"index": idx, "commitment": key.commitment, "key_type": 1, "purposes": purposes,
                      "valid_from": 0, "valid_until": valid_until, "durable": False,
                      "material": key.material, "proof": b""},
                     ParsedKey(key.algorithm, (key.fingerprint,), (), policy, "test"))
            if revoked:
                self._ev("KeyRevoked", node, {"index": idx, "commitment": key.commitment, "reason": 1})
            self.store.mark_synced()

    def close(self) -> None:
        self.store.close()


@pytest.fixture
def world(tmp_path: Path, ssh_keys: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    index = tmp_path / "index.sqlite"
    config = tmp_path / "config.toml"
    config.write_text(f'[ssh]\nuser_template = "{{user}}@example.org"\nusers = {{ root = "admin@example.org" }}\n'
                      f'[index]\npath = "{index}"\n')
    monkeypatch.setenv("KEYANCHOR_CONFIG", str(config))
    monkeypatch.delenv("KEYANCHOR_INDEX", raising=False)
    b = Builder(index)
    for n in ("example.org", "alice@example.org", "admin@example.org", "web1.example.org"):
        b.name(n)
    keys = {s: ssh_keys(s).text for s in ("a1", "a2", "a3", "a4", "a5", "ca", "h1", "h2", "hca")}
    b.key("alice@example.org", keys["a1"], 1)                                  # active
    b.key("alice@example.org", keys["a2"], 1, revoked=True)                    # revoked
    b.key("alice@example.org", keys["a3"], 1, valid_until=int(time.time()) - 5)  # expired
    b.key("alice@example.org", keys["a4"], 1, policy="fail")                   # fails the policy
    b.key("alice@example.org", keys["a5"], 1, valid_until=int(time.time()) + 86400)
    b.key("alice@example.org", keys["ca"], 1 | 64)                             # user CA
    b.key("alice@example.org", keys["h1"], 2)                                  # not ssh-user
    b.key("web1.example.org", keys["h1"], 2)
    b.key("web1.example.org", keys["h2"], 2, revoked=True)
    b.key("web1.example.org", keys["hca"], 2 | 64)
    b.close()
    return {"index": index, "config": config, "keys": keys}


def _blob(pub: str) -> str:
    return " ".join(pub.split()[:2])


def test_authorized_keys_lines(world: dict[str, Any]) -> None:
    keys = world["keys"]
    lines = authorized_keys("alice").splitlines()
    assert len(lines) == 3
    assert lines[0] == f"{_blob(keys['a1'])} alice@example.org"
    assert lines[1].startswith('expiry-time="') and _blob(keys["a5"]) in lines[1]
    assert lines[2] == f'cert-authority,principals="alice" {_blob(keys["ca"])} alice@example.org'
    assert authorized_keys("root") == ""  # admin@example.org: registered, no keys


def test_known_hosts_lines(world: dict[str, Any]) -> None:
    keys = world["keys"]
    lines = known_hosts("web1.example.org").splitlines()
    assert lines == [
        f"@revoked web1.example.org {_blob(keys['h2'])} web1.example.org",
        f"web1.example.org {_blob(keys['h1'])} web1.example.org",
        f"@cert-authority web1.example.org {_blob(keys['hca'])} web1.example.org",
    ]
    assert known_hosts("unknown.example.org") == ""
    assert known_hosts("[127.0.0.1]:22") == ""


def test_user_mapping(world: dict[str, Any]) -> None:
    s = load_ssh_settings()
    assert registry_name_for_user("root", s) == "admin@example.org"
    assert registry_name_for_user("Bob", s) == "bob@example.org"
    with pytest.raises(InvalidName):
        registry_name_for_user("a b", s)
    with pytest.raises(InvalidName):
        registry_name_for_user("bob", SSHSettings(world["index"]))


def test_settings_agree_with_registry_config(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from registry.config import load_config

    assert load_ssh_settings().index_path == load_config().index_path()
    world["config"].write_text("[ssh]\nmax_staleness = 60\n")
    assert load_ssh_settings().index_path == load_config().index_path()
    monkeypatch.setenv("KEYANCHOR_INDEX", "/x/y.sqlite")
    assert load_ssh_settings().index_path == load_config().index_path() == Path("/x/y.sqlite")


def test_fails_closed(world: dict[str, Any], tmp_path: Path) -> None:
    s = load_ssh_settings()
    missing = SSHSettings(tmp_path / "nope.sqlite", "{user}@example.org")
    with pytest.raises(IndexUnavailable):
        authorized_keys("alice", missing)
    corrupt = tmp_path / "corrupt.sqlite"
    corrupt.write_bytes(b"SQLite format 3\x00" + os.urandom(4000))
    with pytest.raises(IndexUnavailable):
        authorized_keys("alice", SSHSettings(corrupt, "{user}@example.org"))
    stale = SSHSettings(s.index_path, "{user}@example.org", max_staleness=1)
    with Store.open(s.index_path) as store, store.transaction():
        store.mark_synced(time.time() - 10)
    with pytest.raises(IndexUnavailable, match="stale"):
        authorized_keys("alice", stale)


def _entry(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    code = ("import sys; from cli.ssh_entry import main; rc = main(sys.argv[1:]);"
            f" bad = [m for m in {FORBIDDEN!r} if m in sys.modules];"
            " print('FORBIDDEN', bad, file=sys.stderr); raise SystemExit(rc)")
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=60, env=env, cwd=REPO)


def test_light_entry_point_imports_nothing_heavy(world: dict[str, Any]) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = _entry(["authorized-keys", "alice"], env)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 3
    assert "FORBIDDEN []" in result.stderr
    result = _entry(["known-hosts", "web1.example.org"], env)
    assert result.returncode == 0 and len(result.stdout.splitlines()) == 3
    assert "FORBIDDEN []" in result.stderr


def test_light_entry_point_fails_closed(world: dict[str, Any], tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = _entry(["authorized-keys", "no body"], env)
    assert (result.returncode, result.stdout) == (1, "")
    result = _entry(["authorized-keys", "alice"], {**env, "KEYANCHOR_INDEX": str(tmp_path / "x")})
    assert (result.returncode, result.stdout) == (1, "")
    assert "no index" in result.stderr
    world["config"].write_text("[ssh\n")
    result = _entry(["authorized-keys", "alice"], env)
    assert (result.returncode, result.stdout) == (1, "")
    assert _entry(["authorized-keys"], env).returncode == 2
