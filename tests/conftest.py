"""Suite-wide test helpers.

`require_tool("anvil")` skips a test when a real component is missing on a
developer machine, but FAILS it in CI (``CI`` or ``KEYANCHOR_REQUIRE_TOOLS``
set): tests that need sshd, gpg, anvil or chromium must run there.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as _hypothesis_settings

# The machines tests run on are shared and noisy: hypothesis's per-example deadline
# (200 ms) turns a slow moment into a failure that says nothing about the code.
# Example counts stay as each test sets them; only the wall-clock deadline goes.
_hypothesis_settings.register_profile("keyanchor", deadline=None)
_hypothesis_settings.load_profile("keyanchor")

START_TIMEOUT = 20.0


def _strict() -> bool:
    return bool(os.environ.get("KEYANCHOR_REQUIRE_TOOLS") or os.environ.get("CI"))


def skip_or_fail(message: str) -> None:
    """Skip on a developer machine; fail in CI, where every real component must be tested."""
    if _strict():
        pytest.fail(message)
    pytest.skip(message)


def require_tool(name: str, *candidates: str) -> str:
    """Return the path of tool ``name`` (or one of ``candidates``); skip or fail if absent."""
    for cand in (name, *candidates):
        path = shutil.which(cand) or (cand if os.path.isabs(cand) and os.path.exists(cand) else None)
        if path:
            return path
    skip_or_fail(f"{name} is not installed (scripts/install_test_deps.sh installs it)")
    raise AssertionError  # unreachable


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep tests away from the user's real keyanchor config and data directories."""
    base = tmp_path_factory.getbasetemp() / "xdg"
    for var, sub in (("XDG_CONFIG_HOME", "config"), ("XDG_DATA_HOME", "data"),
                     ("XDG_CACHE_HOME", "cache"), ("XDG_STATE_HOME", "state")):
        monkeypatch.setenv(var, str(base / sub))
    monkeypatch.delenv("KEYANCHOR_PRIVATE_KEY", raising=False)
    monkeypatch.delenv("KEYANCHOR_NETWORK", raising=False)


# --------------------------------------------------------------------------- clocks


def clock_env() -> dict[str, str]:
    """The environment that gives a child process this test run's clock.

    Empty normally. Under ``scripts/test_clocks.sh`` (libfaketime) it is the
    ``LD_PRELOAD`` and ``FAKETIME*`` variables, for the children started with a
    cleaned environment (sshd's AuthorizedKeysCommand, ``env={...}``): without
    them a real tool and the test would judge times by two different clocks.
    """
    out = {k: v for k, v in os.environ.items() if k.startswith("FAKETIME")}
    preload = os.environ.get("LD_PRELOAD", "")
    if out and "faketime" in preload:
        # The child starts at this process's faked "now", on its own: libfaketime's shared
        # clock (FAKETIME_SHARED, a root-owned semaphore) is closed to the unprivileged
        # users sshd runs the command as.
        out.pop("FAKETIME_SHARED", None)
        out["FAKETIME"] = "@" + time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())
        if "TZ" in os.environ:
            out["TZ"] = os.environ["TZ"]
        out["LD_PRELOAD"] = preload
    return out


# --------------------------------------------------------------------------- StrictModes


def _passes_strict_modes(d: Path) -> bool:
    """Whether ``d`` and every directory above it are owned by root or us and not group/world-writable."""
    import stat

    me = os.geteuid()
    try:
        for p in [d, *d.parents]:
            st = p.stat()
            if st.st_uid not in (0, me) or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                return False
    except OSError:
        return False
    return os.access(d, os.W_OK | os.X_OK)


def make_safe_dir(prefix: str = "keyanchor-test-") -> Path:
    """A fresh 0755 directory whose whole path passes sshd's StrictModes rules for this user.

    The sshd path refuses an index or a config under ``/tmp`` (mode 1777), so
    tests of it need such a place: ``/run`` as root, else ``$XDG_RUNTIME_DIR``
    or ``~/.cache``. The caller removes it (the ``safe_tmp`` fixture does).
    """
    import tempfile

    bases = [Path("/run")] if os.geteuid() == 0 else []
    if os.environ.get("XDG_RUNTIME_DIR"):
        bases.append(Path(os.environ["XDG_RUNTIME_DIR"]))
    bases.append(Path.home() / ".cache")
    for base in bases:
        if _passes_strict_modes(base):
            d = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
            d.chmod(0o755)
            return d
    skip_or_fail("no directory here passes sshd's StrictModes rules (root: /run; others:"
                 " $XDG_RUNTIME_DIR or ~/.cache)")
    raise AssertionError  # unreachable


@pytest.fixture
def safe_tmp() -> Iterator[Path]:
    """A fresh directory the sshd path's StrictModes checks accept (removed afterwards)."""
    d = make_safe_dir()
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


# --------------------------------------------------------------------------- processes


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
