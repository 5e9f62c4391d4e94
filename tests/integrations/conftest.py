"""Fixtures for the integration tests: a registry with its index, real sshd servers, keys.

``embedded`` / ``ssh_keys`` are the index tests' fixtures (an embedded chain
plus the index synced from it; Ed25519 key pairs made by ssh-keygen).
``SSHServer`` runs a real sshd on 127.0.0.1 with the host keys (and host
certificates) a test gives it; clients log in as root with a key listed in a
plain AuthorizedKeysFile -- the registry decides only about the host key here.
sshd needs root for its privilege separation: in CI the tests run as root.

The integrations make trust decisions, so like the sshd path they refuse a
configuration or an index under ``/tmp`` (sshd's StrictModes rules): here the
index, its stale copies and the (absent) configuration file live in directories
made by ``tests.conftest.make_safe_dir`` (``safe_module_dir``), and
``KEYANCHOR_CONFIG`` points there.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port, make_safe_dir, require_tool, skip_or_fail, stop, wait_port
from tests.index.conftest import Chain, SSHKey, ssh_keys  # noqa: F401 -- fixtures

__all__ = ["Chain", "SSHKey", "SSHServer", "connect_to"]


@pytest.fixture(scope="session")
def safe_root() -> Iterator[Path]:
    """A directory for the session that passes sshd's StrictModes rules (removed afterwards)."""
    d = make_safe_dir("keyanchor-integrations-")
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def safe_module_dir(safe_root: Path, request: pytest.FixtureRequest) -> Path:
    """A fresh directory under ``safe_root`` for one test module (its index, stale copies)."""
    return Path(tempfile.mkdtemp(prefix=request.module.__name__.rsplit(".", 1)[-1] + "-",
                                 dir=safe_root))


@pytest.fixture(autouse=True)
def _config_in_a_safe_place(safe_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default configuration (absent: defaults) where StrictModes accept it, not under /tmp."""
    monkeypatch.setenv("KEYANCHOR_CONFIG", str(safe_root / "config.toml"))


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory, safe_module_dir: Path) -> Iterator[Chain]:
    """The embedded chain with a deployed registry; its index in ``safe_module_dir``."""
    from registry.chain.client import Registry

    reg = Registry.embedded(tmp_path_factory.mktemp("chain") / "chain.db")
    try:
        yield Chain(reg, safe_module_dir / "index.sqlite")
    finally:
        reg.close()


class SSHServer:
    """A real sshd on 127.0.0.1:<free port> presenting ``host_key`` (and its certificate, if any)."""

    def __init__(self, d: Path, host_key: Path, client: SSHKey, *, cert: Path | None = None) -> None:
        sshd = require_tool("sshd", "/usr/sbin/sshd")
        if os.geteuid() != 0:
            skip_or_fail("sshd needs root here (privilege separation); the tests log in as root")
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        d.mkdir(parents=True, exist_ok=True)
        auth = d / "authorized_keys"
        auth.write_text(client.text)
        self.port = free_port()
        config = d / "sshd_config"
        config.write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {host_key}\n"
            + (f"HostCertificate {cert}\n" if cert else "")
            + f"PidFile {d}/sshd.pid\nAuthorizedKeysFile {auth}\nStrictModes no\nUsePAM no\n"
            "PermitRootLogin yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            "PubkeyAuthentication yes\nLogLevel ERROR\n")
        self.proc = subprocess.Popen([sshd, "-D", "-e", "-f", str(config)], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_port(self.port, self.proc, "sshd")

    def close(self) -> None:
        stop(self.proc)

    def __enter__(self) -> SSHServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def stale_copy(index: Path, dest: Path, *, age: float = 7200) -> Path:
    """A copy of ``index`` whose last successful sync was ``age`` seconds ago."""
    import shutil
    import sqlite3
    import time

    shutil.copy(index, dest)
    conn = sqlite3.connect(dest)
    with conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'last_sync_time'",
                     (int(time.time() - age),))
    conn.close()
    return dest


def connect_to(port: int) -> socket.socket:
    """A TCP connection to 127.0.0.1:``port`` (the test host names do not resolve)."""
    return socket.create_connection(("127.0.0.1", port), timeout=10)


@pytest.fixture(scope="session")
def keygen() -> str:
    return require_tool("ssh-keygen")


def host_keypair(keygen: str, path: Path, *, kind: str = "ed25519") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([keygen, "-q", "-t", kind, "-N", "", "-f", str(path)], check=True,
                   capture_output=True, timeout=30)
    return path


def sign_host_key(keygen: str, ca: SSHKey, host_key: Path, principals: str, *,
                  validity: str | None = None, extra: tuple[str, ...] = ()) -> Path:
    """ssh-keygen -s CA -h -n PRINCIPALS HOST_KEY.pub -> HOST_KEY-cert.pub."""
    args = [keygen, "-q", "-s", str(ca.private), "-I", "host", "-h", "-n", principals]
    if validity:
        args += ["-V", validity]
    subprocess.run([*args, *extra, f"{host_key}.pub"], check=True, capture_output=True, timeout=30)
    return Path(f"{host_key}-cert.pub")


