#!/usr/bin/env python3
"""Compile the Vyper contracts into the JSON artifacts shipped in ``registry/artifacts``.

    python scripts/build_contracts.py            # (re)write the artifacts
    python scripts/build_contracts.py --check    # exit 1 if a shipped artifact is stale

Output is deterministic (sorted keys, two-space indent, trailing newline), so a
rebuild with the pinned compiler reproduces the shipped bytes exactly.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONTRACTS = ROOT / "contracts"
ARTIFACTS = ROOT / "registry" / "artifacts"

#: Contracts shipped as artifacts (the gas-bench baseline is compiled at bench time).
SHIPPED = ("KeyRegistry",)
COMPILER_VERSION = "0.4.3"
OPTIMIZE = "gas"
EVM_VERSION = "prague"


def compile_contract(name: str, *, contracts_dir: Path = CONTRACTS) -> dict[str, Any]:
    """Compile ``contracts/<name>.vy`` and return its artifact dict."""
    import vyper
    from vyper.compiler.settings import OptimizationLevel, Settings

    if vyper.__version__ != COMPILER_VERSION:
        raise RuntimeError(f"vyper {COMPILER_VERSION} required, found {vyper.__version__}")
    path = contracts_dir / f"{name}.vy"
    source = path.read_text(encoding="utf-8")
    settings = Settings(optimize=OptimizationLevel.from_string(OPTIMIZE), evm_version=EVM_VERSION)
    out = vyper.compile_code(
        source,
        contract_path=f"contracts/{name}.vy",
        output_formats=["abi", "bytecode", "bytecode_runtime"],
        settings=settings,
    )
    return {
        "contract_name": name,
        "abi": out["abi"],
        "bytecode": out["bytecode"],
        "runtime_bytecode": out["bytecode_runtime"],
        "compiler": f"vyper {COMPILER_VERSION}",
        "source_sha256": hashlib.sha256(source.encode("utf-8")).hexdigest(),
        "settings": {"optimize": OPTIMIZE, "evm_version": EVM_VERSION},
    }


def render(artifact: dict[str, Any]) -> str:
    """The artifact's canonical JSON text."""
    return json.dumps(artifact, indent=2, sort_keys=True, ensure_ascii=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if an artifact is stale")
    args = parser.parse_args(argv)
    stale = []
    for name in SHIPPED:
        text = render(compile_contract(name))
        target = ARTIFACTS / f"{name}.json"
        if args.check:
            if not target.exists() or target.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            print(f"wrote {target.relative_to(ROOT)}")
    if stale:
        print(
            f"stale artifacts: {', '.join(stale)} (run scripts/build_contracts.py)", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
