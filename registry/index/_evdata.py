"""A stored event's fields in a compact binary form (``events.data``, index schema 3).

    blob = encode_fields({"index": 0, "commitment": b"\\x12" * 32, "durable": False})
    decode_fields(blob)   # {"commitment": "0x1212...", "durable": False, "index": 0}

Schema 2 stored each event as JSON with every byte string in hex: half of an
SSH index was event history. Here each field is one byte for a known field
name (or 0 and the name), one type byte and the value: integers as LEB128,
byte strings and text with a LEB128 length, lower-case hex addresses as their
20 bytes. :func:`decode_fields` gives back exactly what schema 2's JSON gave
(keys sorted, byte strings as ``0x`` hex), so history readers see no change.
Stdlib only, no imports.
"""

from __future__ import annotations

__all__ = ["decode_fields", "encode_fields", "shown_fields"]

#: Field names of the KeyRegistry events (append only: the position is the stored code).
_NAMES = ("admin", "allowed", "approved", "attester", "blocked", "commitment", "durable",
          "expires", "index", "key_type", "label", "name", "new_index", "old_index", "operator",
          "owner", "parent", "person", "policy_hash", "previous", "private_mode", "purposes",
          "reason", "registrar", "revocation", "root", "suffix_root", "valid_from",
          "valid_until")
_CODE = {n: i + 1 for i, n in enumerate(_NAMES)}
_HEX = frozenset("0123456789abcdef")
_FALSE, _TRUE, _UINT, _NINT, _BYTES, _TEXT, _NONE, _ADDR = range(8)


def _uvarint(n: int, out: bytearray) -> None:
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _text(s: str, out: bytearray) -> None:
    raw = s.encode("utf-8", "surrogatepass")
    _uvarint(len(raw), out)
    out += raw


def encode_fields(data: dict[str, object]) -> bytes:
    """The fields of ``data`` (bytes, int, bool, str or None values), keys sorted.

    Raises: TypeError (another value type).
    """
    out = bytearray()
    for key in sorted(data):
        value = data[key]
        code = _CODE.get(key, 0)
        out.append(code)
        if not code:
            _text(key, out)
        if value is None:
            out.append(_NONE)
        elif value is True or value is False:
            out.append(_TRUE if value else _FALSE)
        elif isinstance(value, int):
            out.append(_UINT if value >= 0 else _NINT)
            _uvarint(abs(value), out)
        elif isinstance(value, bytes | bytearray | memoryview):
            out.append(_BYTES)
            _uvarint(len(value), out)
            out += bytes(value)
        elif isinstance(value, str):
            if len(value) == 42 and value[:2] == "0x" and _HEX.issuperset(value[2:]):
                out.append(_ADDR)
                out += bytes.fromhex(value[2:])
            else:
                out.append(_TEXT)
                _text(value, out)
        else:
            raise TypeError(f"event field {key!r}: cannot store a {type(value).__name__}")
    return bytes(out)


def decode_fields(blob: bytes) -> dict[str, object]:
    """The fields :func:`encode_fields` stored, byte strings as ``0x`` hex.

    Raises: ValueError (not such an encoding).
    """
    buf = bytes(blob)
    pos, end = 0, len(buf)
    out: dict[str, object] = {}

    def uvarint() -> int:
        nonlocal pos
        n = shift = 0
        while True:
            if pos >= end or shift > 70:
                raise ValueError("truncated event fields")
            b = buf[pos]
            pos += 1
            n |= (b & 0x7F) << shift
            if b < 0x80:
                return n
            shift += 7

    def chunk(n: int) -> bytes:
        nonlocal pos
        if pos + n > end:
            raise ValueError("truncated event fields")
        pos += n
        return buf[pos - n:pos]

    while pos < end:
        code = buf[pos]
        pos += 1
        if code:
            if code > len(_NAMES):
                raise ValueError(f"unknown event field code {code}")
            key = _NAMES[code - 1]
        else:
            key = chunk(uvarint()).decode("utf-8", "surrogatepass")
        tag = chunk(1)[0]
        value: object
        if tag in (_FALSE, _TRUE):
            value = tag == _TRUE
        elif tag == _UINT:
            value = uvarint()
        elif tag == _NINT:
            value = -uvarint()
        elif tag == _BYTES:
            value = "0x" + chunk(uvarint()).hex()
        elif tag == _TEXT:
            value = chunk(uvarint()).decode("utf-8", "surrogatepass")
        elif tag == _NONE:
            value = None
        elif tag == _ADDR:
            value = "0x" + chunk(20).hex()
        else:
            raise ValueError(f"unknown event field type {tag}")
        out[key] = value
    return out


def shown_fields(data: dict[str, object]) -> dict[str, object]:
    """``decode_fields(encode_fields(data))`` without the bytes in between (sync's hot path):
    byte strings as ``0x`` hex, integers and text as plain ``int`` / ``str``.

    Raises: TypeError (a value :func:`encode_fields` refuses).
    """
    out: dict[str, object] = {}
    for key, value in data.items():
        if value is None or value is True or value is False:
            out[key] = value
        elif isinstance(value, int):
            out[key] = int(value)
        elif isinstance(value, bytes | bytearray | memoryview):
            out[key] = "0x" + bytes(value).hex()
        elif isinstance(value, str):
            out[key] = str(value)
        else:
            raise TypeError(f"event field {key!r}: cannot store a {type(value).__name__}")
    return out
