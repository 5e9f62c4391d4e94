"""The HKP answer's armored ``PUBLIC KEY BLOCK`` as bytes, compiled in the wheel (setup.py).

    armor_public_keys(data)    # b"-----BEGIN PGP PUBLIC KEY BLOCK-----\\n\\n...=XXXX\\n-----END ..."
    COMPILED                   # True when this module is the wheel's C extension

The same bytes as :func:`registry.gateways.hkp._armor_py` (RFC 9580 section 6.2: no
headers, lines of 64 base64 characters, the CRC-24 line), written in one pass into
one buffer. Compiled with Cython (``.pxd`` beside: C types) the loops run in C: the
CRC-24 four bytes a step (slicing-by-4 tables), the base64 three bytes a step. Run
as plain Python (an editable or pure-Python install) the loops are far slower than
Sequoia's writer, so :func:`registry.gateways.hkp.armor_certificates_bytes` calls
this only when :data:`COMPILED`. tests/gateways/test_armor.py checks the bytes
against the reference writer, here and through a built wheel.
"""

from __future__ import annotations

from types import FunctionType

__all__ = ["COMPILED", "armor_public_keys", "crc24"]

_HEAD = b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n"
_TAIL = b"\n-----END PGP PUBLIC KEY BLOCK-----\n"
_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_INIT = 0xB704CE
_POLY32 = 0x864CFB << 8  # RFC 9580 section 6.1's polynomial, in the top 24 bits of 32
_MASK32 = 0xFFFFFFFF


def _tables() -> bytes:
    """Four 256-entry tables of 32-bit words (4 little-endian bytes each): ``T0[b]`` is the
    register after byte ``b`` enters an empty one (CRC-24 in its top 24 bits), ``Tk`` the
    same followed by ``k`` zero bytes."""
    t0 = []
    for b in range(256):
        reg = b << 24
        for _ in range(8):
            reg = ((reg << 1) ^ _POLY32 if reg & 0x80000000 else reg << 1) & _MASK32
        t0.append(reg)
    tables = [t0]
    for _ in range(3):
        prev = tables[-1]
        tables.append([((w << 8) & _MASK32) ^ t0[w >> 24] for w in prev])
    return b"".join(w.to_bytes(4, "little") for table in tables for w in table)


#: T0, T1, T2, T3 one after another (read through a C pointer when compiled; the C compiler
#: makes one load of the four byte loads in ``_word``).
_TABLES: bytes = _tables()


def _word(t: bytes, k: int) -> int:
    return t[k] | (t[k + 1] << 8) | (t[k + 2] << 16) | (t[k + 3] << 24)


def crc24(data: bytes) -> int:
    """The CRC-24 of ``data`` (initial value 0xB704CE, polynomial 0x864CFB, no reflection)."""
    tables = _TABLES  # (held here: the pointer below stays valid)
    t = tables
    p = data
    n = len(data)
    reg = _INIT << 8
    i = 0
    while i + 4 <= n:
        reg ^= (p[i] << 24) | (p[i + 1] << 16) | (p[i + 2] << 8) | p[i + 3]
        reg = (_word(t, 3072 + ((reg >> 24) << 2)) ^ _word(t, 2048 + (((reg >> 16) & 0xFF) << 2))
               ^ _word(t, 1024 + (((reg >> 8) & 0xFF) << 2)) ^ _word(t, (reg & 0xFF) << 2))
        i += 4
    while i < n:
        reg = ((reg << 8) & _MASK32) ^ _word(t, (((reg >> 24) ^ p[i]) & 0xFF) << 2)
        i += 1
    return reg >> 8


def armor_public_keys(data: bytes) -> bytes:
    """One armored ``PUBLIC KEY BLOCK`` over ``data`` (binary certificates, as a keyring)."""
    n = len(data)
    chars = 4 * ((n + 2) // 3)
    size = len(_HEAD) + chars + max((chars + 63) // 64 - 1, 0) + 6 + len(_TAIL)
    buf = bytearray(size)
    o = buf
    p = data
    alphabet = _ALPHABET  # (held here: the pointer below stays valid)
    a = alphabet
    head = _HEAD
    j = 0
    for i in range(len(head)):
        o[j] = head[i]
        j += 1
    full = n - n % 3
    col = 0
    i = 0
    while i < full:  # whole groups of three bytes: four characters
        if col == 64:
            o[j] = 10
            j += 1
            col = 0
        b0, b1, b2 = p[i], p[i + 1], p[i + 2]
        o[j] = a[b0 >> 2]
        o[j + 1] = a[((b0 & 3) << 4) | (b1 >> 4)]
        o[j + 2] = a[((b1 & 15) << 2) | (b2 >> 6)]
        o[j + 3] = a[b2 & 63]
        j += 4
        col += 4
        i += 3
    if full < n:  # one or two bytes left: padded with "="
        if col == 64:
            o[j] = 10
            j += 1
        b0 = p[full]
        b1 = p[full + 1] if full + 1 < n else 0
        o[j] = a[b0 >> 2]
        o[j + 1] = a[((b0 & 3) << 4) | (b1 >> 4)]
        o[j + 2] = a[(b1 & 15) << 2] if full + 1 < n else 61
        o[j + 3] = 61
        j += 4
    crc = crc24(data)
    o[j] = 10
    o[j + 1] = 61
    o[j + 2] = a[crc >> 18]
    o[j + 3] = a[(crc >> 12) & 63]
    o[j + 4] = a[(crc >> 6) & 63]
    o[j + 5] = a[crc & 63]
    j += 6
    tail = _TAIL
    for i in range(len(tail)):
        o[j] = tail[i]
        j += 1
    return bytes(buf)


#: Whether this is the wheel's compiled module (Cython's functions are not Python functions).
COMPILED: bool = not isinstance(crc24, FunctionType)
