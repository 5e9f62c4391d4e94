"""Real gpg against the gateway: --recv-keys and --search-keys over HKP, WKD URLs from gpg-wks-client."""

from __future__ import annotations

import itertools
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import require_tool
from tests.gateways.conftest import ServerThread, World

pytestmark = pytest.mark.tools

TIMEOUT = 60


class Client:
    """A fresh GNUPGHOME pointed at the gateway; dirmngr and the agent are killed afterwards."""

    def __init__(self, home: Path, server: ServerThread) -> None:
        self.home = home
        self.keyserver = f"hkp://127.0.0.1:{server.port}"
        self.exe = require_tool("gpg")
        (home / "dirmngr.conf").write_text("standard-resolver\nconnect-timeout 10\n")

    def run(self, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess[str]:
        res = subprocess.run(
            [self.exe, "--homedir", str(self.home), "--batch", "--no-tty",
             "--keyserver", self.keyserver, *args],
            input=input, capture_output=True, timeout=TIMEOUT,
            env={**os.environ, "GNUPGHOME": str(self.home), "LC_ALL": "C"},
        )
        return subprocess.CompletedProcess(res.args, res.returncode,
                                           res.stdout.decode("utf-8", "replace"),
                                           res.stderr.decode("utf-8", "replace"))

    def fingerprints(self) -> list[str]:
        """Primary key fingerprints in the keyring (the fpr line right after each pub line)."""
        lines = self.run("--with-colons", "--list-keys").stdout.splitlines()
        return [b.split(":")[9] for a, b in itertools.pairwise(lines)
                if a.startswith("pub:") and b.startswith("fpr:")]

    def close(self) -> None:
        subprocess.run(["gpgconf", "--homedir", str(self.home), "--kill", "all"],
                       capture_output=True, timeout=30, check=False)


@pytest.fixture
def gpg(tmp_path_factory: pytest.TempPathFactory, server: ServerThread) -> Iterator[Client]:
    # short path: dirmngr's and the agent's sockets live in the home directory
    home = Path(tmp_path_factory.mktemp("g", numbered=True))
    os.chmod(home, 0o700)
    client = Client(home, server)
    try:
        yield client
    finally:
        client.close()


def test_recv_keys_imports_a_published_certificate(gpg: Client, world: World) -> None:
    fpr = world.fpr["alice"]
    res = gpg.run("--recv-keys", fpr)
    assert res.returncode == 0, res.stderr
    assert "imported: 1" in res.stderr
    assert fpr in gpg.fingerprints()


def test_recv_keys_by_subkey_free_lookup_of_v4_key_id(gpg: Client, world: World) -> None:
    res = gpg.run("--recv-keys", world.fpr["joe"][-16:])
    assert res.returncode == 0, res.stderr
    assert world.fpr["joe"] in gpg.fingerprints()


def test_search_keys_lists_the_certificate(gpg: Client, world: World) -> None:
    res = gpg.run("--search-keys", "alice@example.org")
    # in batch mode gpg lists the matches, then cannot ask which to import (exit 2)
    assert "Alice Example <alice@example.org>" in res.stdout, res.stdout + res.stderr
    assert world.fpr["alice"][-16:] in res.stdout
    assert res.stdout.startswith("(1)\t") and "(2)" not in res.stdout


@pytest.mark.parametrize("who", ["bob", "carol", "dave", "erin"])
def test_revoked_expired_failing_or_unregistered_keys_are_not_served(
        gpg: Client, world: World, who: str) -> None:
    res = gpg.run("--recv-keys", world.fpr[who])
    assert res.returncode != 0
    assert "imported" not in res.stderr
    assert gpg.fingerprints() == []


def test_search_keys_does_not_list_a_revoked_key(gpg: Client) -> None:
    res = gpg.run("--search-keys", "bob@example.org")
    assert res.returncode != 0
    assert "not found" in res.stderr.lower()


def _wkd_url(email: str) -> str:
    wks = require_tool("gpg-wks-client", "/usr/lib/gnupg/gpg-wks-client",
                       "/usr/libexec/gpg-wks-client")
    out = subprocess.run([wks, "--print-wkd-url", email], capture_output=True, text=True,
                         timeout=TIMEOUT, check=True)
    return out.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("email,who", [("joe.doe@example.org", "joe"), ("Alice@Example.org", "alice")])
def test_wkd_url_from_gpg_wks_client_returns_an_importable_key(
        gpg: Client, server: ServerThread, world: World, email: str, who: str, http: Any) -> None:
    url = urlsplit(_wkd_url(email))
    assert url.path.startswith("/.well-known/openpgpkey/")
    target = url.path + ("?" + url.query if url.query else "")
    resp = http.get(target, headers={"Host": url.netloc})
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/octet-stream"
    assert resp.content[:1] != b"-"  # binary, not armored
    res = gpg.run("--import", "--import-options", "import-show", "--with-colons",
                  input=resp.content)
    assert res.returncode == 0, res.stderr
    assert gpg.fingerprints() == [world.fpr[who]]
    assert email.lower() in res.stdout.lower()


def test_wkd_direct_method_with_host_header(gpg: Client, world: World, http: Any) -> None:
    url = urlsplit(_wkd_url("joe.doe@example.org"))
    digest = url.path.rsplit("/", 1)[1]
    resp = http.get(f"/.well-known/openpgpkey/hu/{digest}?l=joe.doe",
                    headers={"Host": "example.org:443"})
    assert resp.status_code == 200
    assert gpg.run("--import", input=resp.content).returncode == 0
    assert gpg.fingerprints() == [world.fpr["joe"]]
