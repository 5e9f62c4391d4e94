"""Fixtures for the CLI tests: a private chain, config and data directory per test.

Each test gets its own chain file (``KEYANCHOR_STATE``), config (``KEYANCHOR_CONFIG``)
and data directory (keystores), so nothing touches the user's own; ``run`` calls
``cli.main.main`` in process and returns exit code, stdout and stderr.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from cli.main import main


@dataclass
class Result:
    code: int
    out: str
    err: str


Run = Callable[..., Result]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KEYANCHOR_STATE", str(tmp_path / "chain.db"))
    monkeypatch.setenv("KEYANCHOR_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    for var in ("KEYANCHOR_RPC_URL", "KEYANCHOR_REGISTRY", "KEYANCHOR_KEYSTORE",
                "KEYANCHOR_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


@pytest.fixture
def run(env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    def _run(*args: str, stdin: str = "") -> Result:
        capsys.readouterr()
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return _run


