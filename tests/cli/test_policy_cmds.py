"""`keyanchor check` and `keyanchor lints` from the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require_tool


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True,
                          text=True, timeout=120)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    keygen = require_tool("ssh-keygen")
    d = tmp_path_factory.mktemp("check")
    subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(d / "good")], check=True)
    subprocess.run([keygen, "-q", "-t", "rsa", "-b", "1024", "-N", "", "-f", str(d / "weak")], check=True)
    return {"good": d / "good.pub", "weak": d / "weak.pub"}


@pytest.mark.tools
def test_check_passes_a_good_key(keys: dict[str, Path]) -> None:
    proc = run_cli("check", str(keys["good"]))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[1].startswith("PASS")


@pytest.mark.tools
def test_check_fails_rsa_1024_with_the_lint_named(keys: dict[str, Path]) -> None:
    proc = run_cli("check", str(keys["weak"]))
    assert proc.returncode == 1
    assert "ssh.rsa_bits" in proc.stdout
    report = json.loads(run_cli("check", str(keys["weak"]), "--json").stdout)
    assert report["passed"] is False
    assert len(report["policy_sha256"]) == 64 and report["checker_version"]
    failing = {r["lint"] for r in report["results"] if r["status"] in ("error", "fatal")}
    assert "ssh.rsa_bits" in failing


@pytest.mark.tools
def test_policy_file_changes_the_verdict(keys: dict[str, Path], tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('profile = "default"\nexclude = ["ssh.rsa_bits", "key.nist_strength"]\n')
    proc = run_cli("check", str(keys["weak"]), "--policy", str(policy), "--json")
    report = json.loads(proc.stdout)
    assert all(r["lint"] != "ssh.rsa_bits" for r in report["results"])


def test_check_bad_policy_file_is_one_line(tmp_path: Path) -> None:
    key = tmp_path / "k.pub"
    key.write_text("nothing")
    proc = run_cli("check", str(key), "--policy", str(tmp_path / "missing.toml"))
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1


def test_lints_lists_at_least_forty_and_markdown_matches_docs() -> None:
    data = json.loads(run_cli("lints", "--json").stdout)
    assert len(data) >= 40
    assert {"ssh", "openpgp", "x509"} <= {t for d in data for t in d["key_types"]}
    md = run_cli("lints", "--markdown").stdout
    assert md == (Path(__file__).resolve().parents[2] / "docs" / "LINTS.md").read_text()


def test_check_missing_file_path_says_no_such_file(tmp_path: Path) -> None:
    """A path that does not exist is reported as a missing file, not parsed as a name."""
    proc = run_cli("check", str(tmp_path / "gone.pub"))
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"keyanchor: error: {tmp_path / 'gone.pub'}: no such file"
    assert proc.stdout == ""
