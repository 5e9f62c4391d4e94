"""CRC-24 of OpenPGP ASCII armor (RFC 9580 section 6.1) in a few big-integer operations.

    crc24(b"")          # 0xB704CE (the initial value)
    crc24(material)     # the checksum behind "=" at the end of an armored block

A CRC is linear over GF(2): bit ``j`` of the checksum is the parity of the
message bits whose position ``i`` (counted from the end) has bit ``j`` set in
``x**(i + 24) mod P``. So instead of a Python loop over every byte (about a
quarter of a millisecond per certificate), the message is read as one integer
and each checksum bit is ``(message & column[j]).bit_count() & 1``: 24 ANDs
and popcounts done in C. The columns are built once by doubling (the column
bits of positions ``L..2L`` are a fixed linear map of those of ``0..L``) and
grown on demand for longer inputs. The initial value ``0xB704CE`` is folded
in by XORing it into the first three bytes, which is what the register
algorithm amounts to (inputs shorter than three bytes add its term directly).
"""

from __future__ import annotations

import threading

__all__ = ["crc24"]

_POLY = 0x1864CFB  # x^24 + x^23 + x^18 + x^17 + x^14 + x^11 + x^10 + x^7 + x^6 + x^5 + x^4 + x^3 + x + 1
_INIT = 0xB704CE
_WIDTH = 24


def _mulmod(a: int, b: int) -> int:
    """``a * b mod P`` in GF(2)[x] (both below x^24)."""
    out = 0
    while b:
        if b & 1:
            out ^= a
        b >>= 1
        a <<= 1
        if a >> _WIDTH:
            a ^= _POLY
    return out


def _xpow(n: int) -> int:
    """``x**n mod P``."""
    result, base = 1, 2
    while n:
        if n & 1:
            result = _mulmod(result, base)
        base = _mulmod(base, base)
        n >>= 1
    return result


class _Columns:
    """``col[j]`` bit ``i`` = bit ``j`` of ``x**(i + 24) mod P``, for ``i`` below ``bits``."""

    def __init__(self) -> None:
        start = _xpow(_WIDTH)  # position 0 (the message's last bit) contributes x^24
        #: (the columns, how many positions they cover): replaced as one tuple
        self.state: tuple[tuple[int, ...], int] = (
            tuple((start >> j) & 1 for j in range(_WIDTH)), 1)
        self._lock = threading.Lock()

    def grow(self, bits: int) -> tuple[tuple[int, ...], int]:
        with self._lock:
            col, have = self.state
            while have < bits:
                # positions have..2*have-1 = positions 0..have-1 times x^have: a linear map
                step = _xpow(have)
                images = [_mulmod(1 << k, step) for k in range(_WIDTH)]
                upper = [0] * _WIDTH
                for k, image in enumerate(images):
                    src = col[k]
                    j = 0
                    while image:
                        if image & 1:
                            upper[j] ^= src
                        image >>= 1
                        j += 1
                col = tuple(c | (u << have) for c, u in zip(col, upper, strict=True))
                have *= 2
            self.state = (col, have)
            return self.state


_COLUMNS = _Columns()


def crc24(data: bytes | bytearray | memoryview) -> int:
    """The CRC-24 of ``data`` (initial value 0xB704CE, polynomial 0x864CFB, no reflection)."""
    n = len(data)
    if not n:
        return _INIT
    nbits = 8 * n
    col, have = _COLUMNS.state
    if have < nbits:
        col, have = _COLUMNS.grow(nbits)
    msg = int.from_bytes(data, "big")
    crc = 0
    if nbits >= _WIDTH:  # I * x^nbits = (I * x^(nbits-24)) * x^24: XOR I into the first 24 bits
        msg ^= _INIT << (nbits - _WIDTH)
    else:  # one or two bytes: the initial value's term I * x^nbits mod P, directly
        crc = _mulmod(_INIT, _xpow(nbits))
    for j in range(_WIDTH):
        crc ^= ((msg & col[j]).bit_count() & 1) << j
    return crc
