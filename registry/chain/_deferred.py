"""Defer py_ecc's BLS12-381 modules, which eth-keyfile imports but keyanchor never uses.

    from registry.chain._deferred import defer_keyfile_bls
    defer_keyfile_bls()          # before eth_account / web3 are first imported

eth-account imports eth-keyfile, which imports ``py_ecc.bls`` and
``py_ecc.bls12_381`` at module level for EIP-2335 (V4, BLS) keystores;
importing them computes BLS12-381 curve constants: about 0.4 s of every
command that signs or opens web3, for keystores keyanchor neither reads nor
writes (it uses V3, secp256k1). This puts stand-ins for those two modules in
``sys.modules`` that import the real module on first real use, so nothing
changes for code that does use them: eth-keyfile gets ``curve_order`` (a
constant, checked against the real one by a test) and a proxy for
``G2ProofOfPossession`` that loads the real class when touched; any other
attribute loads the real module. Does nothing when py_ecc's BLS modules are
already loaded or laid out differently.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
import types
from pathlib import Path
from typing import Any

__all__ = ["BLS12_381_CURVE_ORDER", "defer_keyfile_bls"]

#: ``py_ecc.bls12_381.curve_order`` (the order of the BLS12-381 groups).
BLS12_381_CURVE_ORDER = (
    52435875175126190479447740508185965837690552500527637822603658699938581184513
)
_MODULES = ("py_ecc.bls", "py_ecc.bls12_381")


class _Deferred(types.ModuleType):
    """A stand-in module: the real one is imported when an attribute it lacks is asked."""

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        return getattr(_load(self.__name__), attr)


def _load(name: str) -> types.ModuleType:
    """Import the real module in place of its stand-in."""
    current = sys.modules.get(name)
    if current is not None and not isinstance(current, _Deferred):
        return current
    sys.modules.pop(name, None)
    real = importlib.import_module(name)
    parent, _, child = name.rpartition(".")
    if parent in sys.modules:
        setattr(sys.modules[parent], child, real)
    return real


class _LazyAttribute:
    """Stands for ``module.attr`` until used, then forwards to the real object."""

    def __init__(self, module: str, attr: str) -> None:
        self._where = (module, attr)

    def _real(self) -> Any:
        module, attr = self._where
        return getattr(_load(module), attr)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real(), name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._real()(*args, **kwargs)


def defer_keyfile_bls() -> None:
    """Install the stand-ins (idempotent; see the module docstring). Raises nothing."""
    if any(m in sys.modules for m in _MODULES) or "eth_keyfile" in sys.modules:
        return
    try:
        spec = importlib.util.find_spec("py_ecc")
    except (ImportError, ValueError):
        return
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        return
    root = Path(locations[0])
    if not (root / "bls" / "__init__.py").is_file() or not (
            root / "bls12_381" / "__init__.py").is_file():
        return
    for name in _MODULES:
        stand_in = _Deferred(name, "imported on first use (registry.chain._deferred)")
        package = root / name.rsplit(".", 1)[1]
        stand_in.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=True)
        stand_in.__spec__.submodule_search_locations = [str(package)]
        stand_in.__path__ = [str(package)]
        stand_in.__package__ = name
        sys.modules[name] = stand_in
    bls, curve = sys.modules["py_ecc.bls"], sys.modules["py_ecc.bls12_381"]
    bls.G2ProofOfPossession = _LazyAttribute("py_ecc.bls", "G2ProofOfPossession")  # type: ignore[attr-defined]
    curve.curve_order = BLS12_381_CURVE_ORDER  # type: ignore[attr-defined]
