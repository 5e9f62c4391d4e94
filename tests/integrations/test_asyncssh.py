"""asyncssh both ways: an asyncssh client against a real sshd, a real ssh client against an asyncssh server."""

from __future__ import annotations

import asyncio
import functools
import logging
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh  # an extra: keyanchor[asyncssh]; the test extra installs it
import pytest

from registry.integrations._index import index_settings
from registry.integrations.asyncssh import (
    RegistrySSHServer,
    registry_authorized_keys,
    registry_known_hosts,
)
from tests.conftest import free_port, require_tool
from tests.integrations.conftest import (
    Chain,
    SSHKey,
    SSHServer,
    host_keypair,
    sign_host_key,
    stale_copy,
)

pytestmark = pytest.mark.sshd


@dataclass
class World:
    chain: Chain
    tmp: Path
    keygen: str
    user: SSHKey
    servers: dict[str, SSHServer]


@pytest.fixture(scope="module")
def world(embedded: Chain, ssh_keys: Any, keygen: str, safe_module_dir: Path) -> Iterator[World]:
    d = safe_module_dir
    reg = embedded.reg
    me = reg.account.address
    reg.register("example.org")
    for name in ("web1.example.org", "web2.example.org", "alice@example.org", "bob@example.org"):
        reg.assign(name, me)
    keys = {name: host_keypair(keygen, d / name) for name in ("web1", "changed", "web2")}
    reg.publish("web1.example.org", Path(f"{keys['web1']}.pub").read_text(), purposes="ssh-host")
    ca = ssh_keys("asyncssh-host-ca")
    reg.publish("example.org", ca.text, purposes="ssh-host,ca")
    cert = sign_host_key(keygen, ca, keys["web2"], "web2.example.org")
    embedded.sync()
    user = ssh_keys("asyncssh-client")
    servers = {name: SSHServer(d / f"sshd-{name}", keys[name], user) for name in ("web1", "changed")}
    servers["web2"] = SSHServer(d / "sshd-web2", keys["web2"], user, cert=cert)
    try:
        yield World(embedded, d, keygen, user, servers)
    finally:
        for srv in servers.values():
            srv.close()


# --------------------------------------------------------------------------- asyncssh client -> sshd


async def _echo(world: World, server: str, host: str, known_hosts: Any, *,
                alias: bool = True, **options: Any) -> str:
    port = world.servers[server].port
    where = dict(host="127.0.0.1", host_key_alias=host) if alias else dict(host=host)
    sock = None if alias else __import__("socket").create_connection(("127.0.0.1", port), 10)
    async with asyncssh.connect(port=port, username="root", client_keys=[str(world.user.private)],
                                known_hosts=known_hosts, agent_path=None, config=[],
                                connect_timeout=10, sock=sock, **where, **options) as conn:
        result = await conn.run("echo ok", check=True, timeout=10)
        return str(result.stdout).strip()


def echo(world: World, server: str, host: str, known_hosts: Any = None, **kw: Any) -> str:
    kh = known_hosts if known_hosts is not None else registry_known_hosts(index=world.chain.index)
    return asyncio.run(_echo(world, server, host, kh, **kw))


def refused(world: World, server: str, host: str, known_hosts: Any = None, **kw: Any) -> str:
    with pytest.raises(asyncssh.HostKeyNotVerifiable) as info:
        echo(world, server, host, known_hosts, **kw)
    return str(info.value)


def test_client_accepts_the_published_host_key(world: World) -> None:
    assert echo(world, "web1", "web1.example.org") == "ok"
    assert echo(world, "web1", "web1.example.org", alias=False) == "ok"  # no alias: host itself


def test_client_refuses_a_changed_key_an_unpublished_host_and_an_address(world: World) -> None:
    assert "not trusted" in refused(world, "changed", "web1.example.org")
    assert "not trusted" in refused(world, "web1", "bob@example.org")
    assert "not trusted" in refused(world, "web1", "127.0.0.1")


def test_client_host_certificate_from_the_parent_ca(world: World) -> None:
    assert echo(world, "web2", "web2.example.org") == "ok"
    # covered by the CA, not named by the certificate
    assert refused(world, "web2", "web1.example.org")


def test_client_refuses_when_the_index_is_stale_or_unsafe(world: World, tmp_path: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    stale = stale_copy(world.chain.index, world.tmp / "stale.sqlite")
    with caplog.at_level(logging.WARNING, logger="registry.integrations.asyncssh"):
        refused(world, "web1", "web1.example.org",
                registry_known_hosts(index=stale, max_staleness=3600))
    assert "trusting no host key for web1.example.org" in caplog.text and "stale" in caplog.text
    # a fresh copy where others could have written it (under /tmp): sshd's StrictModes refuse it
    unsafe = Path(shutil.copy(world.chain.index, tmp_path / "index.sqlite"))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="registry.integrations.asyncssh"):
        refused(world, "web1", "web1.example.org", registry_known_hosts(index=unsafe))
    assert "refusing the index" in caplog.text and "bad modes" in caplog.text


def test_client_refuses_a_revoked_host_key(world: World) -> None:
    reg = world.chain.reg
    (rec,) = [r for r in reg.lookup("web1.example.org") if r.status == "active"]
    reg.revoke("web1.example.org", rec.index, "key-compromise")
    world.chain.sync()
    # only the CA is left to trust, so asyncssh asks for certificates: this sshd has none
    with pytest.raises((asyncssh.Error, OSError)):
        echo(world, "web1", "web1.example.org")
    # offered the plain key anyway, asyncssh finds it among the revoked keys
    message = refused(world, "web1", "web1.example.org", server_host_key_algs="default")
    assert "Host key is revoked" in message


# --------------------------------------------------------------------------- ssh -> asyncssh server


class AsyncServer:
    """An asyncssh server (RegistrySSHServer) on 127.0.0.1 in its own thread; commands print ``ok``."""

    def __init__(self, settings: Any) -> None:
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(settings,), daemon=True)
        self.thread.start()
        if not self.ready.wait(20):
            raise RuntimeError("the asyncssh server did not start")

    def _run(self, settings: Any) -> None:
        asyncio.set_event_loop(self.loop)

        def process(proc: Any) -> None:
            proc.stdout.write(f"ok {proc.get_extra_info('username')}\n")
            proc.exit(0)

        async def start() -> Any:
            host_key = asyncssh.generate_private_key("ssh-ed25519")
            return await asyncssh.create_server(
                functools.partial(RegistrySSHServer, settings), "127.0.0.1", self.port,
                server_host_keys=[host_key], process_factory=process)

        self.server = self.loop.run_until_complete(start())
        self.ready.set()
        self.loop.run_forever()

    def close(self) -> None:
        async def stop() -> None:
            self.server.close()
            await self.server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(20)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(20)
        self.loop.close()

    def ssh(self, user: str, key: Path, *extra: str) -> subprocess.CompletedProcess[str]:
        cmd = [require_tool("ssh"), "-F", "/dev/null", "-p", str(self.port), "-i", str(key),
               "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
               "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
               "-o", "GlobalKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
               *extra, f"{user}@127.0.0.1", "true"]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def server(world: World) -> Iterator[AsyncServer]:
    settings = index_settings(index=world.chain.index, users={"alice": "alice@example.org"},
                              user_template="{user}@example.org")
    srv = AsyncServer(settings)
    try:
        yield srv
    finally:
        srv.close()


def test_ssh_logs_in_with_the_published_key_until_revoked(world: World, server: AsyncServer,
                                                         ssh_keys: Any) -> None:
    key = ssh_keys("asyncssh-alice")
    assert server.ssh("alice", key.private).returncode != 0, "not published yet"
    reg = world.chain.reg
    res = reg.publish("alice@example.org", key.text, purposes="ssh-user")
    world.chain.sync()
    done = server.ssh("alice", key.private)
    assert done.returncode == 0 and done.stdout == "ok alice\n", done.stderr
    # bob maps through the template; alice's key is not his
    assert server.ssh("bob", key.private).returncode != 0
    reg.revoke("alice@example.org", int(res.index), "key-compromise")
    world.chain.sync()
    refused = server.ssh("alice", key.private)
    assert refused.returncode != 0 and "Permission denied" in refused.stderr


def test_ssh_user_certificate_from_a_published_user_ca(world: World, server: AsyncServer,
                                                       ssh_keys: Any) -> None:
    """A CA key published for bob (ssh-user + ca) -> cert-authority,principals="bob"."""
    ca = ssh_keys("asyncssh-user-ca")
    key = ssh_keys("asyncssh-bob")
    for principal in ("bob", "alice"):
        subprocess.run([world.keygen, "-q", "-s", str(ca.private), "-I", principal, "-n", principal,
                        "-O", "clear", "-O", "permit-pty", str(key.public)], check=True,
                       capture_output=True, timeout=30)
        Path(f"{key.private}-cert.pub").rename(world.tmp / f"bob-as-{principal}-cert.pub")
    world.chain.reg.publish("bob@example.org", ca.text, purposes="ssh-user,ca")
    world.chain.sync()
    good = server.ssh("bob", key.private, "-o", f"CertificateFile={world.tmp / 'bob-as-bob-cert.pub'}")
    assert good.returncode == 0 and good.stdout == "ok bob\n", good.stderr
    # a certificate for principal alice does not log in as bob, nor as alice (not alice's CA)
    cert = f"CertificateFile={world.tmp / 'bob-as-alice-cert.pub'}"
    assert server.ssh("bob", key.private, "-o", cert).returncode != 0
    assert server.ssh("alice", key.private, "-o", cert).returncode != 0


def test_server_fails_closed(world: World, ssh_keys: Any, caplog: pytest.LogCaptureFixture) -> None:
    key = ssh_keys("asyncssh-carol")
    reg = world.chain.reg
    reg.assign("carol@example.org", reg.account.address)
    reg.publish("carol@example.org", key.text, purposes="ssh-user")
    world.chain.sync()
    stale = world.tmp / "stale-server.sqlite"
    shutil.copy(world.chain.index, stale)
    fresh = registry_authorized_keys("carol", index_settings(index=stale,
                                                            user_template="{user}@example.org"))
    assert fresh.validate(asyncssh.import_public_key(key.text), "h", "127.0.0.1") is not None
    stale_copy(world.chain.index, stale)
    srv = AsyncServer(index_settings(index=stale, user_template="{user}@example.org",
                                     max_staleness=3600))
    try:
        with caplog.at_level(logging.WARNING, logger="registry.integrations.asyncssh"):
            result = srv.ssh("carol", key.private)
        assert result.returncode != 0 and "Permission denied" in result.stderr
        assert "no authorized keys for carol" in caplog.text and "stale" in caplog.text
        # a user no name maps to
        assert srv.ssh("root", key.private).returncode != 0
    finally:
        srv.close()
