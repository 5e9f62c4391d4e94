"""Keccak-256 from safe-pysha3, for the sshd path's read-time commitment check.

    >>> keccak256(b"").hex()[:16]
    'c5d2460186f7233c'

The original Keccak padding (``0x01 ... 0x80``, as Ethereum uses), not NIST
SHA3-256; tests/keys/test_keccak.py checks it against pycryptodome. The sshd /
ssh command runs on every login and re-hashes each record it serves against
its stored commitment: it imports safe-pysha3's C module (``_pysha3``, a
dependency of keyanchor) directly, as its ``sha3`` wrapper would only add an
import of :mod:`hashlib` (OpenSSL), and pycryptodome's keccak costs ~35 ms to
import (cffi, pycparser).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (sshd path)
if TYPE_CHECKING:
    from typing import Any

__all__ = ["commitment_matches", "keccak256"]

try:
    from _pysha3 import keccak_256
except ImportError:  # pragma: no cover -- safe-pysha3 is a dependency
    from Crypto.Hash.keccak import new as _new

    def keccak_256(data: bytes) -> Any:
        return _new(digest_bits=256, data=data)


def keccak256(data: bytes | bytearray | memoryview) -> bytes:
    """Keccak-256 (Ethereum's hash) of ``data``."""
    return bytes(keccak_256(bytes(data)).digest())


def commitment_matches(key_type: int, material: bytes, commitment: bytes) -> bool:
    """Whether ``keccak256(uint8(key_type) || material)`` is ``commitment`` (the contract's rule).

    The two pieces are fed to the hash in turn: the material is not copied (the gateways
    re-hash every record they serve)."""
    h = keccak_256(bytes((key_type & 0xFF,)))
    h.update(material)
    return bytes(h.digest()) == bytes(commitment)
