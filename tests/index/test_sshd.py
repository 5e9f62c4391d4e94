"""A real sshd and ssh against the registry: AuthorizedKeysCommand and KnownHostsCommand.

sshd runs on 127.0.0.1:<free port> with a test sshd_config, an empty
``AuthorizedKeysFile`` and ``AuthorizedKeysCommand <wrapper> authorized-keys %u``.
sshd insists that the command and every directory above it be root-owned and
not group/world-writable, so the wrapper lives in a fresh 0755 directory under
a root-owned system directory (``/run``), never under ``/tmp`` (mode 1777).
It sources an env file beside it (sshd clears the environment) and execs
``python3 -m cli.ssh_entry``. These tests log in as root (the sandbox runs
as root; ``PermitRootLogin yes``) and use root as AuthorizedKeysCommandUser.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import clock_env, require_tool, skip_or_fail
from tests.index.conftest import Chain, free_port, stop, wait_port

pytestmark = pytest.mark.sshd

REPO = Path(__file__).resolve().parents[2]
USER = "root"
NAME = "root@example.org"
HOST = "host.example.org"


def _safe_dir(path: Path) -> bool:
    """True when ``path`` and all its parents are root-owned and not group/world-writable."""
    for p in [path, *path.parents]:
        st = p.stat()
        if st.st_uid != 0 or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return False
    return True


@dataclass
class SSHD:
    port: int
    wrapper: Path
    env_file: Path
    config: Path
    index: Path
    chain: Chain
    ssh: str
    known_hosts: Path

    def set_env(self, **values: str) -> None:
        lines = [f"export {k}='{v}'" for k, v in values.items()]
        self.env_file.write_text("\n".join(lines) + "\n")

    def default_env(self) -> None:
        self.set_env(KEYANCHOR_CONFIG=str(self.config), KEYANCHOR_INDEX=str(self.index),
                     PYTHONPATH=str(REPO), HOME=str(self.config.parent), **clock_env())

    def login(self, key: Any, *, user: str = USER, extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
        cmd = [self.ssh, "-F", "/dev/null", "-p", str(self.port), "-i", str(key.private),
               "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
               "-o", "PasswordAuthentication=no", "-o", "LogLevel=ERROR",
               "-o", f"GlobalKnownHostsFile={self.known_hosts}",
               "-o", f"UserKnownHostsFile={self.known_hosts}"]
        if not extra:
            cmd += ["-o", "StrictHostKeyChecking=no"]
        cmd += [*extra, f"{user}@127.0.0.1", "echo", "ok"]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)

    def known_hosts_opts(self, alias: str) -> tuple[str, ...]:
        return ("-o", "StrictHostKeyChecking=yes", "-o", f"HostKeyAlias={alias}",
                "-o", f"KnownHostsCommand={self.wrapper} known-hosts %H")


def ok(result: subprocess.CompletedProcess[str]) -> bool:
    return result.returncode == 0 and result.stdout.strip() == "ok"


@pytest.fixture(scope="module")
def sshd(embedded: Chain, tmp_path_factory: pytest.TempPathFactory, ssh_keys: Any) -> Iterator[SSHD]:
    sshd_exe = require_tool("sshd", "/usr/sbin/sshd")
    ssh = require_tool("ssh")
    keygen = require_tool("ssh-keygen")
    if os.geteuid() != 0:
        skip_or_fail("the sshd tests log in as root and need root-owned command paths")
    d = tmp_path_factory.mktemp("sshd")
    base = Path(os.environ.get("KEYANCHOR_SSHD_SAFE_DIR", "/run"))
    if not _safe_dir(base):
        pytest.fail(f"{base} is not root-owned and unwritable for others: sshd would refuse the command")
    safe = Path(tempfile.mkdtemp(prefix="keyanchor-sshd-", dir=base))
    safe.chmod(0o755)
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation directory
    host_key = d / "ssh_host_ed25519_key"
    subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)], check=True,
                   capture_output=True, timeout=30)
    config = d / "config.toml"
    config.write_text(f'[ssh]\nusers = {{ {USER} = "{NAME}" }}\nmax_staleness = 3600\n')
    env_file = safe / "env"
    wrapper = safe / "keyanchor-ssh"
    wrapper.write_text(f"#!/bin/sh\n. {env_file}\nexec {sys.executable} -m cli.ssh_entry \"$@\"\n")
    wrapper.chmod(0o755)
    known = d / "known_hosts"
    known.write_text("")
    port = free_port()
    sshd_config = d / "sshd_config"
    sshd_config.write_text(f"""\
Port {port}
ListenAddress 127.0.0.1
HostKey {host_key}
PidFile {d}/sshd.pid
AuthorizedKeysFile none
AuthorizedKeysCommand {wrapper} authorized-keys %u
AuthorizedKeysCommandUser root
StrictModes no
UsePAM no
PermitRootLogin yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
LogLevel VERBOSE
""")
    env = SSHD(port, wrapper, env_file, config, embedded.index, embedded, ssh, known)
    env.default_env()
    check = subprocess.run([sshd_exe, "-t", "-f", str(sshd_config)], capture_output=True, text=True,
                           timeout=30)
    assert check.returncode == 0, check.stderr
    # the registry: example.org, root@example.org, host.example.org (with the sshd host key)
    reg = embedded.reg
    me = reg.account.address
    reg.register("example.org")
    reg.assign(NAME, me)
    reg.assign(HOST, me)
    reg.assign("other.example.org", me)
    reg.publish(HOST, (d / "ssh_host_ed25519_key.pub").read_text(), purposes="ssh-host")
    embedded.sync()
    proc = subprocess.Popen([sshd_exe, "-D", "-e", "-f", str(sshd_config)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_port(port, proc, "sshd")
        yield env
    finally:
        stop(proc)
        shutil.rmtree(safe, ignore_errors=True)


def _publish(sshd: SSHD, key: Any, **kw: Any) -> int:
    res = sshd.chain.reg.publish(NAME, key.text, purposes=kw.pop("purposes", "ssh-user"), **kw)
    sshd.chain.sync()
    return int(res.index)


def test_login_with_published_key_then_revoked(sshd: SSHD, ssh_keys: Any) -> None:
    key = ssh_keys("login")
    assert not ok(sshd.login(key)), "not yet published: refused"
    index = _publish(sshd, key)
    result = sshd.login(key)
    assert ok(result), result.stderr
    sshd.chain.reg.revoke(NAME, index, "key-compromise")
    assert ok(sshd.login(key)), "the index still holds the active record until the next sync"
    sshd.chain.sync()
    result = sshd.login(key)
    assert not ok(result)
    assert "Permission denied" in result.stderr


def test_expired_key_refused(sshd: SSHD, ssh_keys: Any) -> None:
    key = ssh_keys("expiring")
    until = int(time.time()) + 4
    _publish(sshd, key, valid_until=until)
    line = subprocess.run([str(sshd.wrapper), "authorized-keys", USER], capture_output=True,
                          text=True, timeout=30)
    stamp = datetime.fromtimestamp(until, UTC).strftime("%Y%m%d%H%M%SZ")
    assert f'expiry-time="{stamp}"' in line.stdout
    assert ok(sshd.login(key))
    time.sleep(max(0.0, until - time.time()) + 1.5)
    assert not ok(sshd.login(key))


def test_unknown_user_refused(sshd: SSHD, ssh_keys: Any) -> None:
    key = ssh_keys("stranger")
    _publish(sshd, key)
    assert ok(sshd.login(key))
    result = subprocess.run([str(sshd.wrapper), "authorized-keys", "nobody"], capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 1 and result.stdout == ""
    assert not ok(sshd.login(key, user="nobody"))


def test_missing_or_stale_index_refuses_everyone(sshd: SSHD, ssh_keys: Any) -> None:
    key = ssh_keys("everyone")
    _publish(sshd, key)
    assert ok(sshd.login(key))
    try:
        sshd.set_env(KEYANCHOR_CONFIG=str(sshd.config), KEYANCHOR_INDEX=str(sshd.index) + ".missing",
                     PYTHONPATH=str(REPO))
        assert not ok(sshd.login(key))
    finally:
        sshd.default_env()
    assert ok(sshd.login(key))
    with sqlite3.connect(sshd.index) as conn:
        conn.execute("UPDATE meta SET value=? WHERE key='last_sync_time'", (int(time.time()) - 7200,))
    result = subprocess.run([str(sshd.wrapper), "authorized-keys", USER], capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 1 and result.stdout == "" and "stale" in result.stderr
    assert not ok(sshd.login(key))
    sshd.chain.sync()  # a successful sync makes it fresh again
    assert ok(sshd.login(key))


def test_known_hosts_command(sshd: SSHD, ssh_keys: Any) -> None:
    key = ssh_keys("hostcheck")
    _publish(sshd, key)
    result = sshd.login(key, extra=sshd.known_hosts_opts(HOST))
    assert ok(result), result.stderr
    refused = sshd.login(key, extra=sshd.known_hosts_opts("other.example.org"))
    assert not ok(refused)
    assert "Host key verification failed" in refused.stderr
    reg = sshd.chain.reg
    (host_rec,) = [r for r in reg.lookup(HOST) if r.status == "active"]
    reg.revoke(HOST, host_rec.index, "key-compromise")
    sshd.chain.sync()
    lines = subprocess.run([str(sshd.wrapper), "known-hosts", HOST], capture_output=True,
                           text=True, timeout=30).stdout
    assert lines.startswith(f"@revoked {HOST} ssh-ed25519 ")
    revoked = sshd.login(key, extra=sshd.known_hosts_opts(HOST))
    assert not ok(revoked)
    assert "REVOKED" in revoked.stderr or "Host key verification failed" in revoked.stderr


def test_host_certificate_signed_by_a_parent_domain_ca(sshd: SSHD, ssh_keys: Any) -> None:
    """One host CA published under example.org covers web1.example.org (not registered itself)."""
    keygen = require_tool("ssh-keygen")
    sshd_exe = require_tool("sshd", "/usr/sbin/sshd")
    d = sshd.known_hosts.parent / "certhost"
    d.mkdir()
    ca = ssh_keys("org-host-ca")
    host_key = d / "ssh_host_ed25519_key"
    subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)], check=True,
                   capture_output=True, timeout=30)
    subprocess.run([keygen, "-q", "-s", str(ca.private), "-I", "host", "-h", "-n", "web1.example.org",
                    f"{host_key}.pub"], check=True, capture_output=True, timeout=30)
    port = free_port()
    config = (sshd.known_hosts.parent / "sshd_config").read_text()
    config = config.replace(f"Port {sshd.port}\n", f"Port {port}\n")
    config = config.replace(f"HostKey {sshd.known_hosts.parent / 'ssh_host_ed25519_key'}\n",
                            f"HostKey {host_key}\nHostCertificate {host_key}-cert.pub\n")
    config = config.replace("PidFile ", f"PidFile {d}/sshd.pid\n# ")
    (d / "sshd_config").write_text(config)
    reg = sshd.chain.reg
    ca_rec = reg.publish("example.org", ca.text, purposes="ssh-host,ca")
    user = ssh_keys("certlogin")
    _publish(sshd, user)  # syncs
    lines = subprocess.run([str(sshd.wrapper), "known-hosts", "web1.example.org"], capture_output=True,
                           text=True, timeout=30).stdout
    assert lines == f"@cert-authority web1.example.org {' '.join(ca.text.split()[:2])} example.org\n"
    proc = subprocess.Popen([sshd_exe, "-D", "-e", "-f", str(d / "sshd_config")],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_port(port, proc, "sshd (host certificate)")
        cert_host = SSHD(port, sshd.wrapper, sshd.env_file, sshd.config, sshd.index, sshd.chain,
                         sshd.ssh, sshd.known_hosts)
        result = cert_host.login(user, extra=cert_host.known_hosts_opts("web1.example.org"))
        assert ok(result), result.stderr
        # other.example.org is covered by the CA too, but the certificate does not name it
        other = cert_host.login(user, extra=cert_host.known_hosts_opts("other.example.org"))
        assert not ok(other)
        assert "Host key verification failed" in other.stderr
        reg.revoke("example.org", int(ca_rec.index), "ca-compromise")
        sshd.chain.sync()
        lines = subprocess.run([str(sshd.wrapper), "known-hosts", "web1.example.org"],
                               capture_output=True, text=True, timeout=30).stdout
        assert lines.startswith("@revoked web1.example.org ssh-ed25519 ")
        revoked = cert_host.login(user, extra=cert_host.known_hosts_opts("web1.example.org"))
        assert not ok(revoked)
        assert "REVOKED" in revoked.stderr or "Host key verification failed" in revoked.stderr
    finally:
        stop(proc)
