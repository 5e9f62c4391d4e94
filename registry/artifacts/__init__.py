"""Compiled contract artifacts shipped with keyanchor (no compiler needed at run time).

    >>> art = load_artifact("KeyRegistry")
    >>> art["compiler"], len(art["abi"]) > 0  # doctest: +SKIP

Each artifact is the JSON written by ``scripts/build_contracts.py``: ``contract_name``,
``abi``, ``bytecode`` and ``runtime_bytecode`` (``0x`` hex), ``compiler``,
``source_sha256`` and ``settings``.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

from registry.errors import ConfigError

__all__ = ["load_artifact"]


@cache
def _load(name: str) -> str:
    return files("registry").joinpath("artifacts", f"{name}.json").read_text(encoding="utf-8")


def load_artifact(name: str) -> dict[str, Any]:
    """Return the artifact of contract ``name`` (e.g. ``"KeyRegistry"``) as a fresh dict.

    Raises:
        ConfigError: no such artifact ships with this installation, or it is unreadable.
    """
    if not name.isidentifier():
        raise ConfigError(f"invalid contract artifact name {name!r}")
    try:
        data: dict[str, Any] = json.loads(_load(name))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"contract artifact {name!r} is missing or unreadable") from exc
    return data
