"""A small, fast ABI decoder for the types KeyRegistry's events and views use.

    values = decode(["uint8", "bytes", "(bytes32,uint64)[]"], data)

eth_abi is the reference and stays the decoder everywhere speed does not
matter; this one exists for the index sync hot path (tens of thousands of
events and ``records()`` results per second), where eth_abi's generic decoder
objects dominated the profile. It handles ``uintN``, ``bool``, ``address``,
``bytesN``, ``bytes``, ``string``, tuples and dynamic arrays ``T[]`` of those,
and checks every offset and length (``ValueError`` on malformed data). Tests
compare it with eth_abi on generated data.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

__all__ = ["decode", "decode_event"]

_WORD = 32


@lru_cache(maxsize=256)
def _components(kind: str) -> tuple[str, ...]:
    """Split ``(a,(b,c)[],d)`` into its top-level component types."""
    inner = kind[1:-1]
    out, depth, start = [], 0, 0
    for i, ch in enumerate(inner):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(inner[start:i])
            start = i + 1
    if inner:
        out.append(inner[start:])
    return tuple(out)


@lru_cache(maxsize=256)
def _dynamic(kind: str) -> bool:
    if kind in ("bytes", "string") or kind.endswith("[]"):
        return True
    if kind.startswith("("):
        return any(_dynamic(c) for c in _components(kind))
    return False


@lru_cache(maxsize=256)
def _head(kind: str) -> int:
    if _dynamic(kind):
        return _WORD
    if kind.startswith("("):
        return sum(_head(c) for c in _components(kind))
    return _WORD


def _word(data: bytes, pos: int) -> int:
    if pos < 0 or pos + _WORD > len(data):
        raise ValueError("ABI data too short")
    return int.from_bytes(data[pos:pos + _WORD], "big")


def _static(kind: str, data: bytes, pos: int) -> Any:
    value = _word(data, pos)
    if kind.startswith("uint"):
        bits = int(kind[4:] or 256)
        if value >> bits:
            raise ValueError(f"{kind} out of range")
        return value
    if kind == "bool":
        if value > 1:
            raise ValueError("bool out of range")
        return bool(value)
    if kind == "address":
        if value >> 160:
            raise ValueError("address out of range")
        return "0x" + data[pos + 12:pos + _WORD].hex()
    if kind.startswith("bytes"):
        size = int(kind[5:])
        return bytes(data[pos:pos + size])
    raise ValueError(f"unsupported ABI type {kind}")


def _tuple(kinds: tuple[str, ...], data: bytes, base: int) -> list[Any]:
    out = []
    pos = base
    for kind in kinds:
        if _dynamic(kind):
            start = base + _word(data, pos)
            if start > len(data):
                raise ValueError("ABI offset out of range")
            out.append(_tail(kind, data, start))
        elif kind.startswith("("):
            out.append(tuple(_tuple(_components(kind), data, pos)))
        else:
            out.append(_static(kind, data, pos))
        pos += _head(kind)
    return out


def _tail(kind: str, data: bytes, start: int) -> Any:
    if kind in ("bytes", "string"):
        size = _word(data, start)
        end = start + _WORD + size
        if end > len(data):
            raise ValueError("ABI bytes run past the data")
        raw = bytes(data[start + _WORD:end])
        return raw.decode("utf-8") if kind == "string" else raw
    if kind.endswith("[]"):
        element = kind[:-2]
        count = _word(data, start)
        if count * _head(element) > len(data):
            raise ValueError("ABI array longer than the data")
        return tuple(_tuple((element,) * count, data, start + _WORD))
    return tuple(_tuple(_components(kind), data, start))


def decode(types: list[str] | tuple[str, ...], data: bytes) -> tuple[Any, ...]:
    """Decode ``data`` as the ABI tuple ``types``.

    Raises:
        ValueError: malformed data (offsets or lengths out of range, bad values).
    """
    return tuple(_tuple(tuple(types), bytes(data), 0))


def decode_event(name: str, topic: bytes, indexed: tuple[tuple[str, str], ...],
                 fields: tuple[tuple[str, str], ...], topics: list[bytes],
                 data: bytes) -> dict[str, Any]:
    """An event log's fields by name: ``indexed`` from its topics, ``fields`` from its data.

    Dynamic indexed values (strings, bytes, arrays, tuples) are logged as their
    hash: the topic itself is returned for them.

    Raises:
        ValueError: not this event (topic 0, number of topics), or malformed.
    """
    if len(topics) != 1 + len(indexed) or topics[0] != topic:
        raise ValueError(f"not a {name} log")
    out: dict[str, Any] = {}
    for (key, kind), value in zip(indexed, topics[1:], strict=True):
        if kind in {"string", "bytes"} or kind.endswith("]") or kind.startswith("("):
            out[key] = value
        else:
            (out[key],) = decode([kind], value)
    values = decode([k for _, k in fields], data)
    out.update(zip((n for n, _ in fields), values, strict=True))
    return out
