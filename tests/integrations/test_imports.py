"""The integrations stay out of everyone else's way: nothing imports paramiko or asyncssh but them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

LIBS = ("paramiko", "asyncssh", "httpx", "ssl")


def loaded_after(code: str, env: dict[str, str] | None = None) -> list[str]:
    probe = (f"{code}\nimport sys, json\n"
             f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {LIBS!r})))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                         env={**os.environ, **(env or {})}, check=False)
    return list(json.loads(out.stdout.strip().splitlines()[-1]))


def test_package_imports_nothing() -> None:
    assert loaded_after("import registry, registry.integrations, registry.keys") == []


def test_sshd_and_ssh_commands_import_no_integration(tmp_path: Path) -> None:
    env = {"KEYANCHOR_INDEX": str(tmp_path / "missing.sqlite"),
           "KEYANCHOR_CONFIG": str(tmp_path / "config.toml")}
    for cmd in ("authorized-keys', 'alice", "known-hosts', 'web1.example.org"):
        loaded = loaded_after(f"from cli.ssh_entry import main\nmain(['{cmd}'])", env)
        assert not [m for m in loaded if m.split(".")[0] in ("paramiko", "asyncssh", "httpx")]


def test_cli_help_imports_no_integration() -> None:
    loaded = loaded_after("from cli.main import main\ntry:\n    main(['--help'])\n"
                          "except SystemExit:\n    pass")
    assert not [m for m in loaded if m.split(".")[0] in ("paramiko", "asyncssh", "httpx")]


def test_each_integration_imports_only_its_own_library() -> None:
    with_paramiko = loaded_after("import registry.integrations.paramiko")
    assert "paramiko" in with_paramiko and "asyncssh" not in with_paramiko
    assert "paramiko" not in loaded_after("import registry.integrations.asyncssh")
    loaded = loaded_after("import registry.integrations.tls, registry.integrations.git")
    assert not [m for m in loaded if m.split(".")[0] in ("paramiko", "asyncssh", "httpx")]
