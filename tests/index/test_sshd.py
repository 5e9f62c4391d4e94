"""A real sshd and ssh against the registry: AuthorizedKeysCommand and KnownHostsCommand.

sshd runs on 127.0.0.1:<free port> with a test sshd_config, an empty
``AuthorizedKeysFile`` and ``AuthorizedKeysCommand <wrapper> authorized-keys %u``.
sshd insists that the command and every directory above it be root-owned and
not group/world-writable, so the wrapper lives in a fresh 0755 directory under
a root-owned system directory (``/run``), never under ``/tmp`` (mode 1777).
It sources an env file beside it (sshd clears the environment) and execs
``python3 -m cli.ssh_entry``. The configuration and the index live in that
directory too: the sshd path applies sshd's StrictModes rules to them, and
``/tmp`` fails those. These tests log in as root (the sandbox runs as root;
``PermitRootLogin yes``) and use root as AuthorizedKeysCommandUser, except
where a test creates unprivileged users (``useradd``; removed afterwards) to
run the command and the ssh client as someone who can only read the index.

The hardening tests below each reproduce an attack or deployment fault found
against keyanchor deployed as a sysadmin would (issue 10, items 1-7); each
failed before its fix.
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

from registry.errors import InvalidName
from tests.conftest import clock_env, make_safe_dir, require_tool, skip_or_fail
from tests.index.conftest import Chain, free_port, private_registry, raw_register, stop, wait_port

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


RELAY = """\
import os, socket, sys, threading
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=30)
s.settimeout(None)
def up():
    while True:
        b = os.read(0, 65536)
        if not b:
            s.shutdown(socket.SHUT_WR)
            return
        s.sendall(b)
threading.Thread(target=up, daemon=True).start()
while True:
    b = s.recv(65536)
    if not b:
        break
    os.write(1, b)
"""


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
    relay: Path | None = None

    def set_env(self, **values: str) -> None:
        lines = [f"export {k}='{v}'" for k, v in values.items()]
        self.env_file.write_text("\n".join(lines) + "\n")

    def default_env(self) -> None:
        self.set_env(KEYANCHOR_CONFIG=str(self.config), KEYANCHOR_INDEX=str(self.index),
                     PYTHONPATH=str(REPO), HOME=str(self.config.parent), **clock_env())

    def login(self, key: Any, *, user: str = USER, extra: tuple[str, ...] = (),
              host: str = "127.0.0.1", proxy: bool = False,
              runas: str | None = None) -> subprocess.CompletedProcess[str]:
        """``ssh user@host echo ok``; ``proxy``: reach 127.0.0.1:port through a relay, so
        ``host`` may be any name and ssh looks it up as ``[host]:port`` (no HostKeyAlias)."""
        # with options of its own (StrictHostKeyChecking yes), trust comes from KnownHostsCommand
        # alone; otherwise keys are remembered in the test's known_hosts file
        known = "/dev/null" if extra else self.known_hosts
        cmd = [self.ssh, "-F", "/dev/null", "-p", str(self.port), "-i", str(key.private),
               "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
               "-o", "PasswordAuthentication=no", "-o", "LogLevel=ERROR",
               "-o", f"GlobalKnownHostsFile={known}", "-o", f"UserKnownHostsFile={known}"]
        if proxy:
            assert self.relay is not None
            cmd += ["-o", f"ProxyCommand={sys.executable} {self.relay} 127.0.0.1 %p"]
        if not extra:
            cmd += ["-o", "StrictHostKeyChecking=no"]
        cmd += [*extra, f"{user}@{host}", "echo", "ok"]
        if runas is not None:
            cmd = ["runuser", "-u", runas, "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)

    def known_hosts_opts(self, alias: str | None = None) -> tuple[str, ...]:
        opts = ("-o", "StrictHostKeyChecking=yes",
                "-o", f"KnownHostsCommand={self.wrapper} known-hosts %H")
        return opts + (("-o", f"HostKeyAlias={alias}") if alias else ())

    def command(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run the wrapper by hand, as sshd / ssh would."""
        return subprocess.run([str(self.wrapper), *args], capture_output=True, text=True, timeout=30)


def ok(result: subprocess.CompletedProcess[str]) -> bool:
    return result.returncode == 0 and result.stdout.strip() == "ok"


def sshd_config_text(port: int, host_key: Path, wrapper: Path, pid_dir: Path, *,
                     command_user: str = "root", extra: str = "") -> str:
    return f"""\
Port {port}
ListenAddress 127.0.0.1
HostKey {host_key}
PidFile {pid_dir}/sshd.pid
AuthorizedKeysFile none
AuthorizedKeysCommand {wrapper} authorized-keys %u
AuthorizedKeysCommandUser {command_user}
StrictModes no
UsePAM no
PermitRootLogin yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
LogLevel VERBOSE
{extra}"""


def start_sshd(config: Path, port: int) -> subprocess.Popen[bytes]:
    sshd_exe = require_tool("sshd", "/usr/sbin/sshd")
    check = subprocess.run([sshd_exe, "-t", "-f", str(config)], capture_output=True, text=True,
                           timeout=30)
    assert check.returncode == 0, check.stderr
    proc = subprocess.Popen([sshd_exe, "-D", "-e", "-f", str(config)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_port(port, proc, "sshd")
    except BaseException:
        stop(proc)
        raise
    return proc


@pytest.fixture(scope="module")
def sshd(embedded: Chain, tmp_path_factory: pytest.TempPathFactory, ssh_keys: Any) -> Iterator[SSHD]:
    require_tool("sshd", "/usr/sbin/sshd")
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
    config = safe / "config.toml"
    config.write_text(f'[ssh]\nusers = {{ {USER} = "{NAME}" }}\nmax_staleness = 3600\n')
    env_file = safe / "env"
    wrapper = safe / "keyanchor-ssh"
    wrapper.write_text(f"#!/bin/sh\n. {env_file}\nexec {sys.executable} -m cli.ssh_entry \"$@\"\n")
    wrapper.chmod(0o755)
    known = d / "known_hosts"
    known.write_text("")
    relay = d / "relay.py"
    relay.write_text(RELAY)
    port = free_port()
    sshd_config = d / "sshd_config"
    sshd_config.write_text(sshd_config_text(port, host_key, wrapper, d))
    chain = Chain(embedded.reg, safe / "index.sqlite")
    env = SSHD(port, wrapper, env_file, config, chain.index, chain, ssh, known, relay)
    env.default_env()
    # the registry: example.org, root@example.org, host.example.org (with the sshd host key)
    reg = embedded.reg
    me = reg.account.address
    reg.register("example.org")
    reg.assign(NAME, me)
    reg.assign(HOST, me)
    reg.assign("other.example.org", me)
    reg.publish(HOST, (d / "ssh_host_ed25519_key.pub").read_text(), purposes="ssh-host")
    chain.sync()
    proc = start_sshd(sshd_config, port)
    try:
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
    # long enough for publish + sync + one login on a loaded machine (4 s was not always)
    until = int(time.time()) + 12
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
                     PYTHONPATH=str(REPO), **clock_env())
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


def cert_host_sshd(sshd: SSHD, d: Path, ca: Any, principal: str) -> tuple[SSHD, subprocess.Popen[bytes]]:
    """A second sshd whose host key carries a host certificate by ``ca`` for ``principal``."""
    keygen = require_tool("ssh-keygen")
    d.mkdir()
    host_key = d / "ssh_host_ed25519_key"
    subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)], check=True,
                   capture_output=True, timeout=30)
    subprocess.run([keygen, "-q", "-s", str(ca.private), "-I", "host", "-h", "-n", principal,
                    f"{host_key}.pub"], check=True, capture_output=True, timeout=30)
    port = free_port()
    config = d / "sshd_config"
    config.write_text(sshd_config_text(port, host_key, sshd.wrapper, d,
                                       extra=f"HostCertificate {host_key}-cert.pub\n"))
    proc = start_sshd(config, port)
    return SSHD(port, sshd.wrapper, sshd.env_file, sshd.config, sshd.index, sshd.chain, sshd.ssh,
                sshd.known_hosts, sshd.relay), proc


def test_host_certificate_signed_by_a_parent_domain_ca(sshd: SSHD, ssh_keys: Any) -> None:
    """One host CA published under example.org covers web1.example.org (not registered itself)."""
    ca = ssh_keys("org-host-ca")
    reg = sshd.chain.reg
    ca_rec = reg.publish("example.org", ca.text, purposes="ssh-host,ca")
    user = ssh_keys("certlogin")
    _publish(sshd, user)  # syncs
    lines = sshd.command("known-hosts", "web1.example.org").stdout
    assert lines == f"@cert-authority web1.example.org {' '.join(ca.text.split()[:2])} example.org\n"
    cert_host, proc = cert_host_sshd(sshd, sshd.known_hosts.parent / "certhost", ca,
                                     "web1.example.org")
    try:
        result = cert_host.login(user, extra=cert_host.known_hosts_opts("web1.example.org"))
        assert ok(result), result.stderr
        # other.example.org is covered by the CA too, but the certificate does not name it
        other = cert_host.login(user, extra=cert_host.known_hosts_opts("other.example.org"))
        assert not ok(other)
        assert "Host key verification failed" in other.stderr
        reg.revoke("example.org", int(ca_rec.index), "ca-compromise")
        sshd.chain.sync()
        lines = sshd.command("known-hosts", "web1.example.org").stdout
        assert lines.startswith("@revoked web1.example.org ssh-ed25519 ")
        revoked = cert_host.login(user, extra=cert_host.known_hosts_opts("web1.example.org"))
        assert not ok(revoked)
        assert "REVOKED" in revoked.stderr or "Host key verification failed" in revoked.stderr
    finally:
        stop(proc)


# --------------------------------------------------------------------------- hardening (issue 10)


@pytest.fixture
def local_users() -> Iterator[Any]:
    """``local_users(name)`` creates a local account (``useradd --badname``, no home, locked
    out of passwords but not of keys); every account made is deleted at teardown."""
    useradd = require_tool("useradd", "/usr/sbin/useradd")
    userdel = require_tool("userdel", "/usr/sbin/userdel")
    require_tool("runuser", "/usr/sbin/runuser")
    made: list[str] = []

    def make(name: str) -> str:
        res = subprocess.run([useradd, "--badname", "-M", "-N", "-s", "/bin/sh", "-p", "*", name],
                             capture_output=True, text=True, timeout=30)
        if res.returncode != 0:
            skip_or_fail(f"useradd {name!r} failed: {res.stderr.strip()}")
        made.append(name)
        return name

    try:
        yield make
    finally:
        for name in made:
            subprocess.run([userdel, name], capture_output=True, timeout=30)


def _tag() -> str:
    import secrets

    return str(secrets.randbelow(10**6)).zfill(6)


def _host_pub(sshd: SSHD) -> str:
    return (sshd.known_hosts.parent / "ssh_host_ed25519_key.pub").read_text()


def _blob(pub: str) -> str:
    return " ".join(pub.split()[:2])


LIVE = "live.example.org"


@pytest.fixture(scope="module")
def live(sshd: SSHD) -> str:
    """A host name carrying the sshd's host key (test_known_hosts_command revoked it under HOST)."""
    reg = sshd.chain.reg
    reg.assign(LIVE, reg.account.address)
    reg.publish(LIVE, _host_pub(sshd), purposes="ssh-host")
    sshd.chain.sync()
    return LIVE


def _python_for(user: str) -> str:
    """An interpreter ``user`` can run that has what the light command path needs (stdlib 3.11)."""
    for exe in (sys.executable, "/usr/bin/python3", "/usr/local/bin/python3"):
        res = subprocess.run(["runuser", "-u", user, "--", exe, "-c", "import sqlite3, tomllib"],
                             capture_output=True, timeout=30)
        if res.returncode == 0:
            return exe
    skip_or_fail(f"no Python >= 3.11 that user {user} may run (sys.executable is {sys.executable})")
    raise AssertionError  # unreachable


def _readable_copy_of_the_package(dest: Path) -> Path:
    """registry/ and cli/ copied where an unprivileged user can read them (the checkout may not be),
    with the one dependency the light command path imports: safe-pysha3's C module (Keccak)."""
    import _pysha3

    pkg = dest / "pkg"
    for part in ("registry", "cli"):
        shutil.copytree(REPO / part, pkg / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(_pysha3.__file__, pkg)
    for root, _dirs, files in os.walk(pkg):
        os.chmod(root, 0o755)
        for f in files:
            os.chmod(os.path.join(root, f), 0o644)
    return pkg


def test_readers_that_are_not_the_index_owner_survive_every_sync(
        sshd: SSHD, live: str, ssh_keys: Any, local_users: Any) -> None:
    """Deployment fault: sync removed the index's -wal/-shm files on close, so a reader without
    write access to the directory -- sshd's AuthorizedKeysCommandUser, a user running ssh with
    KnownHostsCommand -- got "attempt to write a readonly database" after every sync, and sshd
    refused every login until root opened the index once.

    Here root syncs; sshd runs the command as an unprivileged user who can only read the index,
    and another unprivileged user runs ssh with KnownHostsCommand; 20 syncs (each after a
    registry change) interleave with 20 logins, all of which must succeed.
    """
    tag = _tag()
    cmd_user = local_users(f"kacmd{tag}")
    ssh_user = local_users(f"kausr{tag}")
    py = _python_for(cmd_user)
    _python_for(ssh_user)
    safe = make_safe_dir("keyanchor-readers-")
    proc = None
    try:
        pkg = _readable_copy_of_the_package(safe)
        env_file = safe / "env"
        env_file.write_text(f"export KEYANCHOR_CONFIG='{sshd.config}'\n"
                            f"export KEYANCHOR_INDEX='{sshd.index}'\nexport PYTHONPATH='{pkg}'\n"
                            + "".join(f"export {k}='{v}'\n" for k, v in clock_env().items()))
        env_file.chmod(0o644)
        wrapper = safe / "keyanchor-ssh"
        wrapper.write_text(f"#!/bin/sh\n. {env_file}\nexec {py} -m cli.ssh_entry \"$@\"\n")
        wrapper.chmod(0o755)
        port = free_port()
        config = safe / "sshd_config"
        config.write_text(sshd_config_text(port, sshd.known_hosts.parent / "ssh_host_ed25519_key",
                                           wrapper, safe, command_user=cmd_user))
        proc = start_sshd(config, port)
        key = ssh_keys("reader-login")
        _publish(sshd, key)
        # the ssh user's own copy of the private key, and an empty known_hosts it can read
        own = safe / "id"
        shutil.copy(key.private, own)
        shutil.chown(own, ssh_user)
        own.chmod(0o600)
        known = safe / "known_hosts"
        known.write_text("")
        known.chmod(0o644)
        client = SSHD(port, wrapper, env_file, sshd.config, sshd.index, sshd.chain, sshd.ssh, known)
        reg, me = sshd.chain.reg, sshd.chain.reg.account.address
        for i in range(20):
            reg.assign(f"r{i}-{tag}.example.org", me)
            sshd.chain.sync()
            result = client.login(SSHKeyPath(own), runas=ssh_user, extra=client.known_hosts_opts(live))
            assert ok(result), f"login {i + 1} after sync {i + 1}: {result.stderr}"
        by_hand = subprocess.run(["runuser", "-u", cmd_user, "--", str(wrapper), "authorized-keys",
                                  USER], capture_output=True, text=True, timeout=30)
        assert by_hand.returncode == 0 and _blob(key.text) in by_hand.stdout, by_hand.stderr
        mode = stat.S_IMODE(sshd.index.stat().st_mode)
        assert mode == 0o644, f"the published index is mode {mode:04o}"
    finally:
        if proc is not None:
            stop(proc)
        shutil.rmtree(safe, ignore_errors=True)


@dataclass(frozen=True)
class SSHKeyPath:
    private: Path


def test_known_hosts_for_a_server_on_another_port_without_host_key_alias(
        sshd: SSHD, live: str, ssh_keys: Any) -> None:
    """Deployment fault: for a server not on port 22, ssh passes %H as [host.example.org]:PORT;
    keyanchor printed nothing, so the README's `Host *.example.org` block refused every such host.
    Now the bracketed form is accepted and lines carry the pattern ssh looks up."""
    key = ssh_keys("port-login")
    _publish(sshd, key)
    host_blob = _blob(_host_pub(sshd))
    out = sshd.command("known-hosts", f"[{live}]:{sshd.port}")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert f"[{live}]:{sshd.port} {host_blob} {live}" in lines
    assert all(line.removeprefix("@revoked ").startswith(f"[{live}]:{sshd.port} ") for line in lines)
    plain = sshd.command("known-hosts", f"[{live}]:22").stdout.splitlines()
    assert f"{live} {host_blob} {live}" in plain
    # real ssh to the real sshd on its high port, no HostKeyAlias, StrictHostKeyChecking yes
    result = sshd.login(key, host=live, proxy=True, extra=sshd.known_hosts_opts())
    assert ok(result), result.stderr
    # the fully qualified spelling with its root dot: ssh looks up "[live.]:port"; the lines
    # carried the bare name, so ssh refused the host (found by the stop-26 audit)
    dotted = sshd.login(key, host=live + ".", proxy=True, extra=sshd.known_hosts_opts())
    assert ok(dotted), dotted.stderr
    other = sshd.login(key, host="other.example.org", proxy=True, extra=sshd.known_hosts_opts())
    assert not ok(other)
    assert "Host key verification failed" in other.stderr


#: every spelling of a loopback address an attacker might register, and the contract's refusal
IP_LITERALS = {
    "127.0.0.1": "numeric top-level label", "2130706433": "numeric top-level label",
    "0x7f.1": "numeric top-level label", "127.1": "numeric top-level label",
    "0x7f000001": "numeric top-level label", "0177.0.0.1": "numeric top-level label",
    "::ffff:127.0.0.1": "numeric top-level label",
    "::1": "invalid name", "[::1]": "invalid name", "0:0:0:0:0:0:0:1": "invalid name",
}


def _planted_copy(sshd: SSHD, dest: Path, names: list[str], pub: str) -> Path:
    """A copy of the sshd's index with ``pub`` planted as an active ssh-host record under each
    of ``names``, verdict "pass", through the index Store API: what a buggy or older sync, or a
    hand-edited index, could hold. Returns ``dest`` (published as sync publishes, mode 0644)."""
    import base64

    from registry.index._store import Event, ParsedKey, Store
    from registry.keys import commitment, load_material
    from registry.names import raw_namehash

    material = base64.b64decode(pub.split()[1])
    key = load_material(1, material)
    parsed = ParsedKey(str(key.algorithm), (str(key.fingerprint),), (), "pass", "planted")
    shutil.copy(sshd.index, dest)
    now = int(time.time())
    with Store.open(dest) as store:
        block = (store.synced_block or 0) + 1
        for text in names:
            node = bytes(raw_namehash(text))
            with store.transaction():
                store.add_block(block, block.to_bytes(32, "big"), now)
                tx = block.to_bytes(32, "big")
                store.apply(Event("NameRegistered", block, 0, tx, node, now, {
                    "name": text, "parent": b"\0" * 32, "person": False,
                    "owner": sshd.chain.reg.account.address, "label": text}))
                store.apply(Event("KeyPublished", block, 1, tx, node, now, {
                    "index": 0, "commitment": commitment(1, material), "key_type": 1,
                    "purposes": 2, "valid_from": 0, "valid_until": 0, "durable": False,
                    "material": material, "proof": b""}, parsed))
            block += 1
        with store.transaction():
            store.set_meta("synced_block", block - 1)
            store.mark_synced()
    return dest


def test_ip_literal_names_never_vouch_for_an_address(sshd: SSHD, ssh_keys: Any) -> None:
    """Attack: anyone could register 127.0.0.1 (or 2130706433, 0x7f.1, 127.1, ::1), publish a
    host key under it, and a catch-all KnownHostsCommand made ssh accept that key for the
    address under StrictHostKeyChecking yes. KeyRegistry v2 refuses every spelling, in a public
    and in a private registry; and should an index ever hold one (planted here through the
    Store API, verdict pass), the readers' grammar check still never serves it to ssh."""
    from registry.chain.embedded import dev_accounts
    from registry.errors import ContractRevert

    reg = sshd.chain.reg
    admin, _ = private_registry(reg, registrar=dev_accounts()[3])
    for text, reason in IP_LITERALS.items():
        for who in (reg, admin):  # public: anyone; private: even its admin
            with pytest.raises(InvalidName):
                who.register(text)  # the client refuses it first
            with pytest.raises(ContractRevert) as info:
                raw_register(who, text)
            assert info.value.reason == f"KeyRegistry: {reason}", (text, who.private_mode())
    key = ssh_keys("ip-login")
    _publish(sshd, key)  # syncs
    planted = _planted_copy(sshd, sshd.index.parent / "planted.sqlite",
                            [*IP_LITERALS, "planted.example"], _host_pub(sshd))
    sshd.set_env(KEYANCHOR_CONFIG=str(sshd.config), KEYANCHOR_INDEX=str(planted),
                 PYTHONPATH=str(REPO), HOME=str(sshd.config.parent), **clock_env())
    try:
        # the control: planted under a valid name, the same record is served and trusted
        out = sshd.command("known-hosts", "planted.example")
        assert out.stdout == f"planted.example {_blob(_host_pub(sshd))} planted.example\n", out.stderr
        assert ok(sshd.login(key, extra=sshd.known_hosts_opts("planted.example")))
        for text in IP_LITERALS:
            out = sshd.command("known-hosts", text)
            assert (out.returncode, out.stdout) == (0, ""), text
            refused = sshd.login(key, extra=sshd.known_hosts_opts(text))
            assert not ok(refused), text
            assert "Host key verification failed" in refused.stderr, text
        # the address itself on this port, as ssh names it when there is no alias
        assert sshd.command("known-hosts", f"[127.0.0.1]:{sshd.port}").stdout == ""
        refused = sshd.login(key, extra=sshd.known_hosts_opts())
        assert not ok(refused) and "Host key verification failed" in refused.stderr
    finally:
        sshd.default_env()
        for f in planted.parent.glob(f"{planted.name}*"):
            f.unlink()


def test_squatter_below_a_later_registered_domain_is_never_trusted(sshd: SSHD, ssh_keys: Any) -> None:
    """Attack: Mallory registered web1.corp.org as a top-level name; Corp registered corp.org
    later and could never assign, reclaim or cover web1.corp.org with its host CA, while ssh
    kept trusting Mallory's host key for web1.corp.org. A public KeyRegistry v2 refuses such a
    registration outright (only registrable domains are top-level names). In a private registry
    one of its registrars (Mallory here) still can, before the admin registers corp.org: there
    the readers' rule holds -- a name registered on its own inside a registered domain does
    not count, its keys are never served, and the domain's host CA covers it."""
    from registry.chain.embedded import dev_accounts
    from registry.errors import ContractRevert
    from registry.index import IndexReader

    public = sshd.chain.reg
    assert not public.private_mode()
    with pytest.raises(InvalidName, match=r"not a registrable domain .*register corp\.org"):
        public.register("web1.corp.org")
    with pytest.raises(ContractRevert) as info:
        raw_register(public, "web1.corp.org")  # a proof of what it is cannot help
    assert info.value.reason == "KeyRegistry: not a registrable domain"
    assert public.owner("web1.corp.org") is None

    reg, mallory = private_registry(public, registrar=dev_accounts()[1])
    chain = Chain(reg, sshd.index.parent / "private.sqlite")
    user = ssh_keys("squat-login")
    reg.register("example.org")
    reg.assign(NAME, reg.sender)
    reg.publish(NAME, user.text, purposes="ssh-user")
    mallory.register("web1.corp.org")
    mallory.publish("web1.corp.org", _host_pub(sshd), purposes="ssh-host")  # her impostor host
    chain.sync()
    sshd.set_env(KEYANCHOR_CONFIG=str(sshd.config), KEYANCHOR_INDEX=str(chain.index),
                 PYTHONPATH=str(REPO), HOME=str(sshd.config.parent), **clock_env())
    try:
        # first come, first served while nobody holds corp.org
        assert ok(sshd.login(user, extra=sshd.known_hosts_opts("web1.corp.org")))
        reg.register("corp.org")
        ca = ssh_keys("corp-host-ca")
        reg.publish("corp.org", ca.text, purposes="ssh-host,ca")
        chain.sync()
        out = sshd.command("known-hosts", "web1.corp.org")
        assert (out.returncode, out.stdout) == (
            0, f"@cert-authority web1.corp.org {_blob(ca.text)} corp.org\n")
        for how in ({"extra": sshd.known_hosts_opts("web1.corp.org")},
                    {"host": "web1.corp.org", "proxy": True, "extra": sshd.known_hosts_opts()}):
            refused = sshd.login(user, **how)
            assert not ok(refused), how
            assert "Host key verification failed" in refused.stderr
        # Corp's real web1.corp.org (a host certificate by Corp's CA) is trusted, no alias, high port
        corp_web1, proc = cert_host_sshd(sshd, sshd.known_hosts.parent / "corp-web1", ca,
                                         "web1.corp.org")
        try:
            result = corp_web1.login(user, host="web1.corp.org", proxy=True,
                                     extra=corp_web1.known_hosts_opts())
            assert ok(result), result.stderr
        finally:
            stop(proc)
    finally:
        sshd.default_env()
    # the policy lint flags it wherever keys are judged
    with IndexReader.open(chain.index) as ix:
        assert ix.squatted_by("web1.corp.org") == "corp.org"
        assert ix.squatted_by("corp.org") is None
    assert reg.lookup("web1.corp.org", profile="default") == []
    (rec,) = reg.lookup("web1.corp.org")
    failing = [r.lint_id for r in reg.check_record(rec).failures()]
    assert failing == ["binding.domain_chain"]


def test_one_unparsable_record_does_not_brick_its_host_or_family(
        sshd: SSHD, live: str, ssh_keys: Any) -> None:
    """Attack: the contract accepts any bytes, and known-hosts parsed every record (revoked ones
    too) before filtering, so one record whose material does not parse -- under the host or any
    ancestor -- made `keyanchor-ssh known-hosts` exit 1 forever and ssh abort every connection
    to the host and everything under it (authorized-keys likewise for a user). Records are now
    judged one by one: sync marks such a record failed and says why, readers skip it."""
    from registry.chain.client import Registry

    reg = sshd.chain.reg
    raw = Registry.from_web3(reg.w3, account=reg.account, registry_address=reg.address,
                             material_loader=lambda kt, m: None)  # publish bytes as they are
    bad = b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20short"
    raw.publish(live, bad, key_type="ssh", purposes="ssh-host")
    raw.publish("example.org", bad + b"1", key_type="ssh", purposes="ssh-host,ca")
    gone = raw.publish("example.org", bad + b"2", key_type="ssh", purposes="ssh-host,ca")
    raw.revoke("example.org", int(gone.index), "key-compromise")
    raw.publish(NAME, bad + b"3", key_type="ssh", purposes="ssh-user")
    user = ssh_keys("junk-login")
    _publish(sshd, user)  # syncs
    with sqlite3.connect(f"file:{sshd.index}?mode=ro", uri=True) as conn:
        verdicts = conn.execute(
            "SELECT r.policy, d.text FROM records r JOIN texts a ON a.id = r.algorithm"
            " JOIN texts d ON d.id = r.policy_detail WHERE a.text = ?", ("unparsable",)).fetchall()
    assert len(verdicts) == 4
    assert all(v == "fail" and d.startswith("material does not parse") for v, d in verdicts)
    out = sshd.command("known-hosts", live)
    assert out.returncode == 0, out.stderr
    assert f"{live} {_blob(_host_pub(sshd))} {live}\n" in out.stdout
    assert sshd.command("known-hosts", f"db.{live}").returncode == 0
    result = sshd.login(user, extra=sshd.known_hosts_opts(live))
    assert ok(result), result.stderr
    assert ok(sshd.login(user))


def _write_config(path: Path, text: str, mode: int = 0o644) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def test_unix_user_names_are_not_folded_onto_registry_names(
        sshd: SSHD, ssh_keys: Any, local_users: Any) -> None:
    """Attack: local user ALICE got alice@example.org's keys (the name was case-folded), and
    with a {user}.users.example.org template fullwidth ａ and a, ẞ and ß mapped to one registry
    name (NFKC / IDNA), so whoever could pick a local user name logged in with someone else's
    registry keys. A user name maps only if it already is the name grammar's normal form."""
    from registry.names import parse_name

    reg, me = sshd.chain.reg, sshd.chain.reg.account.address
    tag = _tag()
    safe = sshd.config.parent
    person = _write_config(safe / "config-person.toml", '[ssh]\nuser_template = "{user}@example.org"\n')
    hosts = _write_config(safe / "config-label.toml", '[ssh]\nuser_template = "{user}.users.example.org"\n')
    alice, a_label = f"kaalice{tag}", f"a{tag}"
    sharp = parse_name(f"ß{tag}.users.example.org").text  # xn--...: what IDNA makes of ß and ẞ
    keys = {n: ssh_keys(f"fold-{n}") for n in ("alice", "a", "sharp")}
    reg.assign(f"{alice}@example.org", me)
    reg.assign("users.example.org", me)
    reg.assign(f"{a_label}.users.example.org", me)
    reg.assign(sharp, me)
    reg.publish(f"{alice}@example.org", keys["alice"].text, purposes="ssh-user")
    reg.publish(f"{a_label}.users.example.org", keys["a"].text, purposes="ssh-user")
    reg.publish(sharp, keys["sharp"].text, purposes="ssh-user")
    sshd.chain.sync()
    for name in (alice, alice.upper(), a_label, f"\uff41{tag}", f"ß{tag}", f"\u1e9e{tag}"):
        local_users(name)
    try:
        sshd.set_env(KEYANCHOR_CONFIG=str(person), KEYANCHOR_INDEX=str(sshd.index), PYTHONPATH=str(REPO),
                         **clock_env())
        assert ok(sshd.login(keys["alice"], user=alice))
        by_hand = sshd.command("authorized-keys", alice.upper())
        assert by_hand.returncode != 0 and by_hand.stdout == ""
        assert "normal form" in by_hand.stderr
        assert not ok(sshd.login(keys["alice"], user=alice.upper()))
        sshd.set_env(KEYANCHOR_CONFIG=str(hosts), KEYANCHOR_INDEX=str(sshd.index), PYTHONPATH=str(REPO),
                         **clock_env())
        assert ok(sshd.login(keys["a"], user=a_label))
        for user, key in ((f"\uff41{tag}", "a"), (f"ß{tag}", "sharp"), (f"\u1e9e{tag}", "sharp")):
            by_hand = sshd.command("authorized-keys", user)
            assert (by_hand.returncode != 0, by_hand.stdout) == (True, ""), user
            assert not ok(sshd.login(keys[key], user=user)), user
    finally:
        sshd.default_env()


def _forge(src: Path, dest: Path, attacker: Any, *, rehash: bool = True) -> Path:
    """A copy of the index where root@example.org's ssh-user records carry the attacker's key
    (commitment and fingerprint recomputed as a forger would, unless ``rehash`` is False)."""
    from registry.index._schema import fingerprint_key
    from registry.keys import load_ssh_public_key

    shutil.copy(src, dest)
    key = load_ssh_public_key(attacker.text)
    with sqlite3.connect(dest) as conn:
        conn.execute("UPDATE records SET material = ?, fingerprint = ?"
                     + (", commitment = ?" if rehash else "")
                     + " WHERE name_id = (SELECT id FROM names WHERE name = ?) AND key_type = 1"
                     " AND policy = 'pass'",
                     (key.material, fingerprint_key(key.fingerprint),
                      *([key.commitment] if rehash else []), NAME))
    conn.close()
    dest.chmod(0o644)
    return dest


def test_sshd_refuses_an_index_or_config_others_could_have_written(
        sshd: SSHD, ssh_keys: Any, local_users: Any) -> None:
    """Attack: the sshd path read whatever index and config it was given -- a symlinked, group-
    or world-writable one, one in such a directory, one owned by another user -- and served a
    forged key; `max_staleness = nan` turned the staleness check off and `[index] path = 5` was
    ignored. sshd's StrictModes rules now apply to the index, its directories and the config,
    each served record is re-hashed against its commitment, and bad values are errors."""
    attacker = ssh_keys("forger")
    _publish(sshd, ssh_keys("victim"))
    safe = make_safe_dir("keyanchor-forged-")
    env = {"PYTHONPATH": str(REPO), "KEYANCHOR_CONFIG": str(sshd.config), **clock_env()}

    def attempt(**values: str) -> tuple[bool, subprocess.CompletedProcess[str]]:
        sshd.set_env(**{**env, **values})
        try:
            return ok(sshd.login(attacker)), sshd.command("authorized-keys", USER)
        finally:
            sshd.default_env()

    try:
        forged = _forge(sshd.index, safe / "forged.sqlite", attacker)
        # the forgery itself works: from a place only root could have written, it is served
        accepted, _ = attempt(KEYANCHOR_INDEX=str(forged))
        assert accepted, "control: a forged index root wrote is trusted (root is trusted)"
        loose = safe / "loose"
        loose.mkdir(mode=0o755)
        loose.chmod(0o775)
        cases = {
            "group-writable directory": (_forge(sshd.index, loose / "i.sqlite", attacker), "group- or world-writable"),
            "world-writable file": (_forge(sshd.index, safe / "ww.sqlite", attacker), "group- or world-writable"),
            "symbolic link": (safe / "link.sqlite", "symbolic link"),
            "under /tmp": (_forge(sshd.index, sshd.known_hosts.parent / "tmp.sqlite", attacker), "group- or world-writable"),
            "another user's file": (_forge(sshd.index, safe / "theirs.sqlite", attacker), "bad ownership"),
        }
        (safe / "ww.sqlite").chmod(0o666)
        (safe / "link.sqlite").symlink_to(forged)
        shutil.chown(safe / "theirs.sqlite", local_users(f"kaown{_tag()}"))
        for what, (path, why) in cases.items():
            accepted, by_hand = attempt(KEYANCHOR_INDEX=str(path))
            assert not accepted, what
            assert by_hand.returncode == 1 and by_hand.stdout == "", what
            assert why in by_hand.stderr, (what, by_hand.stderr)
        # material that does not hash to its stored commitment is never served
        tampered = _forge(sshd.index, safe / "tampered.sqlite", attacker, rehash=False)
        accepted, by_hand = attempt(KEYANCHOR_INDEX=str(tampered))
        assert not accepted and by_hand.returncode == 0 and _blob(attacker.text) not in by_hand.stdout
        # a configuration others could write, naming the forged index
        writable = _write_config(safe / "gw.toml", f'[ssh]\nusers = {{ root = "{NAME}" }}\n'
                                 f'[index]\npath = "{forged}"\n', 0o664)
        accepted, by_hand = attempt(KEYANCHOR_CONFIG=str(writable))
        assert not accepted and "group- or world-writable" in by_hand.stderr
        # values that disabled a check or were ignored
        with sqlite3.connect(forged) as conn:
            conn.execute("UPDATE meta SET value = ? WHERE key = 'last_sync_time'",
                         (int(time.time()) - 86400,))
        conn.close()
        for bad in ("max_staleness = nan", "max_staleness = inf", "max_staleness = -1",
                    'max_staleness = "3600"'):
            cfg = _write_config(safe / "bad.toml", f'[ssh]\nusers = {{ root = "{NAME}" }}\n{bad}\n')
            accepted, by_hand = attempt(KEYANCHOR_CONFIG=str(cfg), KEYANCHOR_INDEX=str(forged))
            assert not accepted, bad
            assert "max_staleness must be a positive, finite number" in by_hand.stderr, bad
        cfg = _write_config(safe / "bad.toml", f'[ssh]\nusers = {{ root = "{NAME}" }}\n[index]\npath = 5\n')
        accepted, by_hand = attempt(KEYANCHOR_CONFIG=str(cfg))
        assert not accepted and "[index] path must be a file path" in by_hand.stderr
    finally:
        shutil.rmtree(safe, ignore_errors=True)
