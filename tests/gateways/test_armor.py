"""The HKP answer's armor from registry/gateways/_armor.py: the very bytes of the reference
writer (``hkp._armor_py``), whichever writer the install uses. The compiled module (the
wheel's) is checked against the same reference in tests/index/test_install_bytecode.py."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.gateways import _armor, hkp
from registry.keys._crc24 import crc24


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_armor_is_the_reference_armor(data: bytes) -> None:
    assert _armor.armor_public_keys(data) == hkp._armor_py(data).encode("ascii")
    assert _armor.crc24(data) == crc24(data)


@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 5, 47, 48, 49, 50, 51, 1211, 4096, 9001])
def test_armor_at_line_and_group_edges(size: int) -> None:
    data = os.urandom(size)
    assert _armor.armor_public_keys(data) == hkp._armor_py(data).encode("ascii")


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("size", [0, 1, 47, 48, 1729])
def test_hkp_body_is_the_armored_text(monkeypatch: pytest.MonkeyPatch, compiled: bool,
                                      size: int) -> None:
    """The HKP body (``armor_certificates_bytes``) is ``armor_certificates``'s text, from this
    module's writer (as when compiled) or from Sequoia's (as when not)."""
    monkeypatch.setattr(hkp, "_ARMOR_COMPILED", compiled)
    data = os.urandom(size)
    parts = [data[: size // 3], data[size // 3:]]
    assert hkp.armor_certificates_bytes(parts) == hkp.armor_certificates(parts).encode("ascii")
    assert hkp.armor_certificates_bytes(parts) == hkp._armor_py(data).encode("ascii")


def test_source_module_says_it_is_not_compiled() -> None:
    if not _armor.__file__.endswith(".py"):
        pytest.skip("this run imports a compiled build")
    assert _armor.COMPILED is False
