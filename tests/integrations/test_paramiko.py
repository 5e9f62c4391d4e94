"""A real paramiko SSHClient against a real sshd, host keys checked by RegistryHostKeyPolicy."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paramiko  # an extra: keyanchor[paramiko]; the test extra installs it
import pytest

from registry.errors import KeyNotTrusted
from registry.integrations.paramiko import (
    CertificateFirstTransport,
    HostKeyNotTrusted,
    RegistryHostKeyPolicy,
)
from tests.integrations.conftest import (
    Chain,
    SSHKey,
    SSHServer,
    connect_to,
    host_keypair,
    sign_host_key,
    stale_copy,
)

pytestmark = pytest.mark.sshd


@dataclass
class World:
    chain: Chain
    user: SSHKey
    tmp: Path
    keygen: str
    servers: dict[str, SSHServer]
    host_keys: dict[str, Path]


@pytest.fixture(scope="module")
def world(embedded: Chain, ssh_keys: Any, keygen: str, safe_module_dir: Path) -> Iterator[World]:
    d = safe_module_dir
    user = ssh_keys("paramiko-user")
    reg = embedded.reg
    me = reg.account.address
    reg.register("example.org")
    for host in ("web1.example.org", "web2.example.org", "gone.example.org", "other.example.org"):
        reg.assign(host, me)
    keys = {name: host_keypair(keygen, d / name) for name in ("web1", "changed", "gone", "web2")}
    reg.publish("web1.example.org", Path(f"{keys['web1']}.pub").read_text(), purposes="ssh-host")
    reg.publish("gone.example.org", Path(f"{keys['gone']}.pub").read_text(), purposes="ssh-host")
    ca = ssh_keys("paramiko-host-ca")
    reg.publish("example.org", ca.text, purposes="ssh-host,ca")
    cert = sign_host_key(keygen, ca, keys["web2"], "web2.example.org")
    embedded.sync()
    servers = {name: SSHServer(d / f"sshd-{name}", keys[name], user) for name in ("web1", "changed", "gone")}
    servers["web2"] = SSHServer(d / "sshd-web2", keys["web2"], user, cert=cert)
    try:
        yield World(embedded, user, d, keygen, servers, keys)
    finally:
        for srv in servers.values():
            srv.close()


def run(world: World, server: str, host: str, policy: Any = None, *, certs: bool = False) -> str:
    """Connect to sshd ``server`` calling it ``host``, run ``echo ok``, return its output."""
    port = world.servers[server].port
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(policy or RegistryHostKeyPolicy(index=world.chain.index))
    try:
        client.connect(host, port=port, username="root", key_filename=str(world.user.private),
                       sock=connect_to(port), allow_agent=False, look_for_keys=False, timeout=10,
                       banner_timeout=10, auth_timeout=10,
                       transport_factory=CertificateFirstTransport if certs else None)
        _, out, _ = client.exec_command("echo ok", timeout=10)
        return str(out.read().decode().strip())
    finally:
        client.close()


def refused(world: World, server: str, host: str, policy: Any = None, *, certs: bool = False) -> str:
    with pytest.raises(HostKeyNotTrusted) as info:
        run(world, server, host, policy, certs=certs)
    assert isinstance(info.value, paramiko.SSHException) and isinstance(info.value, KeyNotTrusted)
    return str(info.value)


def test_accepts_the_published_host_key(world: World) -> None:
    policy = RegistryHostKeyPolicy(index=world.chain.index)
    assert run(world, "web1", "web1.example.org", policy) == "ok"
    assert policy.last_match is not None and policy.last_match.kind == "key"
    assert policy.last_match.name == "web1.example.org"
    # paramiko keeps nothing: the next connection asks the registry again
    assert run(world, "web1", "web1.example.org", policy, certs=True) == "ok"


def test_refuses_a_changed_key_and_an_unpublished_host(world: World) -> None:
    message = refused(world, "changed", "web1.example.org")
    assert "is not published for it" in message
    # the published web1 server, reached under a name that has no host key of its own
    # (example.org's host CA covers it, but this server shows a plain key)
    assert "is not published for it" in refused(world, "web1", "other.example.org")
    # an address is not a registry name: nothing vouches for it
    assert "no active host key" in refused(world, "web1", "127.0.0.1")


def test_refuses_a_revoked_key(world: World) -> None:
    assert run(world, "gone", "gone.example.org") == "ok"
    reg = world.chain.reg
    (rec,) = [r for r in reg.lookup("gone.example.org") if r.status == "active"]
    reg.revoke("gone.example.org", rec.index, "key-compromise")
    assert run(world, "gone", "gone.example.org") == "ok", "the index knows only after a sync"
    world.chain.sync()
    assert "is revoked (on gone.example.org)" in refused(world, "gone", "gone.example.org")


def test_refuses_when_the_index_is_stale_missing_or_unsafe(world: World, tmp_path: Path) -> None:
    stale = stale_copy(world.chain.index, world.tmp / "stale.sqlite")
    message = refused(world, "web1", "web1.example.org",
                      RegistryHostKeyPolicy(index=stale, max_staleness=3600))
    assert "cannot be checked" in message and "stale" in message
    assert run(world, "web1", "web1.example.org",
               RegistryHostKeyPolicy(index=stale, max_staleness=3 * 3600)) == "ok"
    message = refused(world, "web1", "web1.example.org",
                      RegistryHostKeyPolicy(index=world.tmp / "missing.sqlite"))
    assert "no index at" in message
    # a fresh copy where others could have written it (under /tmp): sshd's StrictModes refuse it
    unsafe = Path(shutil.copy(world.chain.index, tmp_path / "index.sqlite"))
    message = refused(world, "web1", "web1.example.org", RegistryHostKeyPolicy(index=unsafe))
    assert "refusing the index" in message and "bad modes" in message
    # ... unless the caller opts out, knowingly
    from registry.gateways.ssh import load_ssh_settings

    lax = RegistryHostKeyPolicy(settings=load_ssh_settings(strict_modes=False), index=unsafe)
    assert run(world, "web1", "web1.example.org", lax) == "ok"


def test_host_certificate_signed_by_a_ca_on_the_parent_name(world: World) -> None:
    policy = RegistryHostKeyPolicy(index=world.chain.index)
    assert run(world, "web2", "web2.example.org", policy, certs=True) == "ok"
    assert policy.last_match is not None and policy.last_match.kind == "certificate"
    assert policy.last_match.name == "example.org"
    # paramiko's own order asks for the plain key first: that one is not published
    assert "is not published" in refused(world, "web2", "web2.example.org")
    # the CA covers other.example.org too, but the certificate does not name it
    message = refused(world, "web2", "other.example.org", certs=True)
    assert "principals (web2.example.org) do not include other.example.org" in message


def test_host_certificate_rules(world: World, ssh_keys: Any) -> None:
    """An expired certificate and one from an unpublished CA are refused; then a revoked CA."""
    d = world.tmp / "certs"
    ca = ssh_keys("paramiko-host-ca")
    cases = {"expired": (ca, "20200101:20200102", "host certificate has expired"),
             "strangerca": (ssh_keys("paramiko-stranger-ca"), None, "is not published")}
    for label, (signer, validity, expected) in cases.items():
        key = host_keypair(world.keygen, d / label)
        cert = sign_host_key(world.keygen, signer, key, "web2.example.org", validity=validity)
        with SSHServer(d / f"sshd-{label}", key, world.user, cert=cert) as srv:
            world.servers[label] = srv
            assert expected in refused(world, label, "web2.example.org", certs=True)
    reg = world.chain.reg
    (rec,) = [r for r in reg.lookup("example.org") if r.status == "active"]
    reg.revoke("example.org", rec.index, "ca-compromise")
    world.chain.sync()
    message = refused(world, "web2", "web2.example.org", certs=True)
    assert "host CA" in message and "is revoked (on example.org)" in message
