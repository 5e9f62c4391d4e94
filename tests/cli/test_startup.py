"""CLI start-up: --help is fast and imports nothing heavy; errors are one line."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("web3", "eth_tester", "eth_account", "eth_abi", "pydantic", "cryptography.x509",
         "pysequoia", "vyper", "starlette", "uvicorn")


def run_py(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                          text=True, timeout=60).stdout


def test_help_imports_nothing_heavy() -> None:
    out = run_py(
        "import sys, json\n"
        "from cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    modules = json.loads(out.strip().splitlines()[-1])
    loaded = [m for m in modules if m.split(".")[0] in {h.split(".")[0] for h in HEAVY}
              and any(m == h or m.startswith(h + ".") for h in HEAVY)]
    assert loaded == []


def test_help_lists_commands() -> None:
    proc = subprocess.run([sys.executable, "-m", "cli.main", "--help"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0
    assert "key" in proc.stdout


def test_usage_error_exit_2_and_unknown_file_exit_1(tmp_path) -> None:  # type: ignore[no-untyped-def]
    proc = subprocess.run([sys.executable, "-m", "cli.main", "no-such-command"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    proc = subprocess.run([sys.executable, "-m", "cli.main", "key", "inspect",
                           str(tmp_path / "missing.pub")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "no such file" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_exit_codes_of_typer_exit_reach_the_shell(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`keyanchor ssh authorized-keys` must fail closed through the full CLI too."""
    env = {"KEYANCHOR_INDEX": str(tmp_path / "missing.sqlite"),
           "KEYANCHOR_CONFIG": str(tmp_path / "config.toml")}
    import os

    proc = subprocess.run([sys.executable, "-m", "cli.main", "ssh", "authorized-keys", "alice"],
                          capture_output=True, text=True, timeout=60, env={**os.environ, **env})
    assert proc.returncode == 1 and proc.stdout == ""
    proc = subprocess.run([sys.executable, "-m", "cli.main", "ssh", "known-hosts", "h.example.org"],
                          capture_output=True, text=True, timeout=60, env={**os.environ, **env})
    assert proc.returncode == 1 and proc.stdout == ""


def test_version() -> None:
    from registry import __version__

    proc = subprocess.run([sys.executable, "-m", "cli.main", "--version"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == f"keyanchor {__version__}"
