"""Suite-wide test helpers.

`require_tool("anvil")` skips a test when a real component is missing on a
developer machine, but FAILS it in CI (``CI`` or ``KEYANCHOR_REQUIRE_TOOLS``
set): tests that need sshd, gpg, anvil or chromium must run there.
"""

from __future__ import annotations

import os
import shutil

import pytest


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
