"""A real sshd behind lying endpoints: a key revoked for compromise is refused through every lie.

The world (as in tests/index/test_lying_endpoints.py, on anvil): ``root@example.org``
holds key A (the one the attacker wants to keep working) and key B (never
revoked). History before the revocation carries timestamps ~3 hours old; A is
revoked in block R, at the present. sshd runs with ``AuthorizedKeysCommand``
(the sshd path reads the index only; ``max_staleness`` 3600 s).

Controls first: with the index synced before R and a staleness limit that
admits it, A logs in (the setup works, A's key is good); after an honest sync,
A is refused and B logs in. Then, for every lie of tests/lying_proxy.py, the
index synced before R is synced again through the lying endpoint (the sync may
fail, or leave a stale index), and A must be refused by the real sshd. With a
quorum of three where one lies, the honest answer wins: A refused, B logs in.
A bit flipped in B's stored material makes sshd refuse B (material at rest is
re-hashed against its commitment before it is served).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from registry.errors import Error
from registry.index import sync_index
from tests.conftest import Anvil, clock_env, free_port, require_tool, skip_or_fail
from tests.index.conftest import stop
from tests.index.test_sshd import REPO, _safe_dir, ok, sshd_config_text, start_sshd
from tests.lying_proxy import MODES, LyingProxy

pytestmark = [pytest.mark.sshd, pytest.mark.anvil]

USER = "root"
NAME = "root@example.org"
PAST = 3 * 3600
STALENESS = 3600


@dataclass
class Site:
    node: Anvil
    reg: Any
    port: int
    ssh: str
    config: Path
    index: Path  # what sshd serves (in the root-owned directory)
    before: Path  # synced before the revocation
    key_a: Any
    key_b: Any
    block_a: int
    wrapper: Path  # what sshd runs: keyanchor-ssh authorized-keys %u

    def configure(self, staleness: int) -> None:
        self.config.write_text(f'[ssh]\nusers = {{ {USER} = "{NAME}" }}\n'
                               f"max_staleness = {staleness}\n")

    def login(self, key: Any) -> subprocess.CompletedProcess[str]:
        cmd = [self.ssh, "-F", "/dev/null", "-p", str(self.port), "-i", str(key.private),
               "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
               "-o", "PasswordAuthentication=no", "-o", "LogLevel=ERROR",
               "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
               "-o", "GlobalKnownHostsFile=/dev/null", f"{USER}@127.0.0.1", "echo", "ok"]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL)

    def restart_from_before(self) -> None:
        shutil.copyfile(self.before, self.index)

    def connect(self, urls: str | list[str], **kw: Any) -> Any:
        from registry.chain.client import Registry

        return Registry.connect(urls, registry_address=self.reg.address,
                                from_block=self.reg.from_block, **kw)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, ssh_keys: Any) -> Iterator[Site]:
    require_tool("sshd", "/usr/sbin/sshd")
    ssh = require_tool("ssh")
    keygen = require_tool("ssh-keygen")
    if os.geteuid() != 0:
        skip_or_fail("the sshd tests log in as root and need root-owned command paths")
    base = Path(os.environ.get("KEYANCHOR_SSHD_SAFE_DIR", "/run"))
    if not _safe_dir(base):
        pytest.fail(f"{base} is not root-owned and unwritable for others")
    d = tmp_path_factory.mktemp("sshd-trust")
    safe = Path(tempfile.mkdtemp(prefix="keyanchor-sshd-trust-", dir=base))
    safe.chmod(0o755)
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    host_key = d / "ssh_host_ed25519_key"
    subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)], check=True,
                   capture_output=True, timeout=30)
    config, index, env_file = safe / "config.toml", safe / "index.sqlite", safe / "env"
    env_file.write_text(f"export KEYANCHOR_CONFIG='{config}'\nexport KEYANCHOR_INDEX='{index}'\n"
                        f"export PYTHONPATH='{REPO}'\nexport HOME='{safe}'\n"
                        + "".join(f"export {k}='{v}'\n" for k, v in clock_env().items()))
    wrapper = safe / "keyanchor-ssh"
    wrapper.write_text(f"#!/bin/sh\n. {env_file}\nexec {sys.executable} -m cli.ssh_entry \"$@\"\n")
    wrapper.chmod(0o755)
    port = free_port()
    sshd_config = d / "sshd_config"
    sshd_config.write_text(sshd_config_text(port, host_key, wrapper, d))

    node = Anvil("--timestamp", str(int(time.time()) - PAST))
    proc = None
    try:
        reg = node.registry()
        key_a, key_b = ssh_keys("trust-a"), ssh_keys("trust-b")
        reg.register("example.org")
        reg.assign(NAME, reg.account.address)
        a = reg.publish(NAME, key_a.text, purposes="ssh-user")
        reg.publish(NAME, key_b.text, purposes="ssh-user")
        before = d / "before.sqlite"
        sync_index(before, reg)
        block_a = reg.w3.eth.block_number
        node.rpc("evm_setNextBlockTimestamp", [int(time.time())])
        reg.revoke(NAME, int(a.index), "key-compromise")
        s = Site(node, reg, port, ssh, config, index, before, key_a, key_b, block_a, wrapper)
        s.configure(STALENESS)
        proc = start_sshd(sshd_config, port)
        yield s
    finally:
        if proc is not None:
            stop(proc)
        node.close()
        shutil.rmtree(safe, ignore_errors=True)


def test_controls(site: Site) -> None:
    """A works while its record is active (index admitted by a loose limit), is refused after
    an honest sync; B works throughout; the old index is refused under the real limit."""
    site.restart_from_before()
    try:
        site.configure(PAST * 2)
        result = site.login(site.key_a)
        assert ok(result), result.stderr
    finally:
        site.configure(STALENESS)
    assert not ok(site.login(site.key_b)), "the index before R is stale by its proven head"
    sync_index(site.index, site.connect(site.node.url))
    assert not ok(site.login(site.key_a))
    result = site.login(site.key_b)
    assert ok(result), result.stderr


@pytest.mark.parametrize("mode", sorted(set(MODES) - {"honest"}))
def test_revoked_key_refused_through_a_lying_endpoint(site: Site, mode: str) -> None:
    site.restart_from_before()
    with LyingProxy(site.node.url, mode) as proxy:
        if mode == "freeze-head":
            proxy.freeze_at(site.block_a)
        try:
            sync_index(site.index, site.connect(proxy.url))
        except Error:
            pass  # refused: the index keeps what it had (stale, so served to no one)
    result = site.login(site.key_a)
    assert not ok(result), f"{mode}: the revoked key logged in"
    assert "Permission denied" in result.stderr


@pytest.mark.parametrize("mode", ["withhold-revocation-patch-digest", "freeze-head",
                                  "forged-header", "unrevoke-proof"])
def test_one_liar_of_three_is_outvoted_for_sshd(site: Site, mode: str) -> None:
    site.restart_from_before()
    proxies = [LyingProxy(site.node.url, mode), LyingProxy(site.node.url),
               LyingProxy(site.node.url)]
    try:
        if mode == "freeze-head":
            proxies[0].freeze_at(site.block_a)
        res = sync_index(site.index, site.connect([p.url for p in proxies], quorum=2))
        assert res.to_block > site.block_a
    finally:
        for p in proxies:
            p.close()
    assert not ok(site.login(site.key_a))
    result = site.login(site.key_b)
    assert ok(result), result.stderr


def test_flipped_material_at_rest_is_not_served(site: Site) -> None:
    site.restart_from_before()
    sync_index(site.index, site.connect(site.node.url))
    assert ok(site.login(site.key_b))
    with sqlite3.connect(site.index) as conn:
        (material,) = conn.execute(
            "SELECT r.material FROM records r JOIN names n ON n.id = r.name_id"
            " WHERE n.name = ? AND r.idx = 1", (NAME,)).fetchone()
        flipped = bytearray(material)
        flipped[-1] ^= 1
        conn.execute("UPDATE records SET material = ? WHERE idx = 1 AND name_id ="
                     " (SELECT id FROM names WHERE name = ?)", (bytes(flipped), NAME))
    served = subprocess.run([str(site.wrapper), "authorized-keys", USER], capture_output=True,
                            text=True, timeout=30)
    assert "ssh-ed25519" not in served.stdout  # not B, and not the altered key either
    result = site.login(site.key_b)
    assert not ok(result), "a key whose stored material does not hash to its commitment"
