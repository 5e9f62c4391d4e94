"""The shipped artifact matches a rebuild with the pinned compiler, byte for byte."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

from registry.artifacts import load_artifact

ROOT = Path(__file__).resolve().parents[2]


def test_artifact_shape():
    art = load_artifact("KeyRegistry")
    assert set(art) == {
        "contract_name", "abi", "bytecode", "runtime_bytecode", "compiler", "source_sha256",
        "settings",
    }  # fmt: skip
    assert art["compiler"] == "vyper 0.4.3"
    assert art["bytecode"].startswith("0x") and art["runtime_bytecode"].startswith("0x")
    names = {e.get("name") for e in art["abi"]}
    for fn in ("register", "assign", "publish", "rotate", "records", "KeyPublished", "Attested"):
        assert fn in names


def test_artifact_rebuild_matches():
    if importlib.util.find_spec("vyper") is None:
        from tests.conftest import skip_or_fail

        skip_or_fail("vyper is not installed (pip install -e '.[dev]')")
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import build_contracts
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    shipped = (ROOT / "registry" / "artifacts" / "KeyRegistry.json").read_text(encoding="utf-8")
    rebuilt = build_contracts.render(build_contracts.compile_contract("KeyRegistry"))
    assert rebuilt == shipped
    assert (
        json.loads(shipped)["source_sha256"]
        == __import__("hashlib")
        .sha256((ROOT / "contracts" / "KeyRegistry.vy").read_bytes())
        .hexdigest()
    )
    assert build_contracts.main(["--check"]) == 0
