"""EIP-55 checksum addresses without eth-utils (which imports pydantic: ~0.15 s).

    checksum_address("0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266")
    # '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266'
"""

from __future__ import annotations

from registry.errors import ConfigError
from registry.names import keccak256

__all__ = ["checksum_address", "is_address"]

_HEX = frozenset("0123456789abcdef")


def is_address(text: str) -> bool:
    """Whether ``text`` is ``0x`` and 40 hex digits (any case)."""
    raw = text.strip()
    return len(raw) == 42 and raw[:2] in ("0x", "0X") and set(raw[2:].lower()) <= _HEX


def checksum_address(address: str | bytes) -> str:
    """EIP-55 mixed-case form of a 20-byte address (``0x`` hex, bare hex or raw bytes).

    Raises:
        ConfigError: not an address.
    """
    if isinstance(address, bytes | bytearray):
        raw = bytes(address).hex()
    else:
        raw = str(address).strip().lower().removeprefix("0x")
    if len(raw) != 40 or not set(raw) <= _HEX:
        raise ConfigError(f"{address!r} is not an address (0x and 40 hex digits)")
    digest = keccak256(raw.encode("ascii")).hex()
    return "0x" + "".join(c.upper() if int(h, 16) >= 8 else c
                          for c, h in zip(raw, digest[:40], strict=True))
