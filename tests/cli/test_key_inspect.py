"""`keyanchor key inspect` on files made by the real tools."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require_tool

pytestmark = pytest.mark.tools


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True,
                          text=True, timeout=60)


@pytest.fixture(scope="module")
def ssh_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    keygen = require_tool("ssh-keygen")
    d = tmp_path_factory.mktemp("inspect")
    subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-C", "x", "-f", str(d / "id")], check=True)
    return d / "id"


def test_inspect_ssh_json_matches_ssh_keygen(ssh_key: Path) -> None:
    proc = run_cli("key", "inspect", str(ssh_key) + ".pub", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    expected = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", str(ssh_key) + ".pub"],
                              capture_output=True, text=True, check=True).stdout.split()[1]
    assert data["fingerprint"] == expected
    assert data["key_type"] == "ssh" and data["algorithm"] == "ssh-ed25519" and data["bits"] == 256
    assert data["commitment"].startswith("0x") and len(data["commitment"]) == 66


def test_inspect_text_output(ssh_key: Path) -> None:
    proc = run_cli("key", "inspect", str(ssh_key) + ".pub")
    assert proc.returncode == 0
    assert "SHA256:" in proc.stdout and "commitment" in proc.stdout


def test_inspect_x509(tmp_path: Path) -> None:
    openssl = require_tool("openssl")
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", str(tmp_path / "k.pem"), "-out", str(tmp_path / "c.pem"),
                    "-days", "30", "-subj", "/CN=web1.example.org",
                    "-addext", "subjectAltName=DNS:web1.example.org"],
                   check=True, capture_output=True)
    data = json.loads(run_cli("key", "inspect", str(tmp_path / "c.pem"), "--json").stdout)
    fp = subprocess.run([openssl, "x509", "-noout", "-fingerprint", "-sha256", "-in",
                         str(tmp_path / "c.pem")], capture_output=True, text=True, check=True).stdout
    assert data["fingerprint"] == fp.strip().split("=", 1)[1].replace(":", "")
    assert data["identities"] == ["web1.example.org"]


def test_private_key_refused_without_echo(ssh_key: Path) -> None:
    secret = ssh_key.read_text()
    proc = run_cli("key", "inspect", str(ssh_key))
    assert proc.returncode == 1
    assert "private key" in proc.stderr.lower()
    assert proc.stderr.count("\n") == 1
    for line in secret.splitlines()[1:-1]:
        assert line not in proc.stderr and line not in proc.stdout


@pytest.mark.parametrize("content", [b"", b"garbage", b"\x00\xff" * 100, b"ssh-ed25519 AAAA!!!"])
def test_garbage_is_one_line_error(tmp_path: Path, content: bytes) -> None:
    f = tmp_path / "bad"
    f.write_bytes(content)
    proc = run_cli("key", "inspect", str(f))
    assert proc.returncode == 1
    assert proc.stderr.startswith("keyanchor: error:") and proc.stderr.count("\n") == 1


def test_error_text_from_a_file_name_reaches_the_terminal_escaped(tmp_path: Path) -> None:
    """A file name (or an endpoint's words) in an error carried its escape sequences to the
    terminal as such: ESC[2J cleared the user's screen. Every CLI error line is escaped now."""
    f = tmp_path / "bad\x1b[2Jname.pub"
    f.write_bytes(b"junk")
    proc = run_cli("key", "inspect", str(f))
    assert proc.returncode == 1
    assert "\x1b" not in proc.stderr and "bad\\x1b[2Jname.pub" in proc.stderr
    assert proc.stderr.startswith("keyanchor: error:") and proc.stderr.count("\n") == 1


def test_import_registry_keys_is_light() -> None:
    code = ("import sys, registry.keys\n"
            "bad=[m for m in sys.modules if m.split('.')[0] in ('web3','cryptography','pysequoia','eth_abi')]\n"
            "print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
