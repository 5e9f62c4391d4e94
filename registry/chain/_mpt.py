"""A Merkle-Patricia trie path walk over raw node bytes, with a strict minimal RLP decoder.

    value, nodes = walk(fetch, root, keccak256(key))

``fetch(node_hash)`` returns a node's RLP bytes (raising :class:`MissingNode`
when it has none). The walk starts at ``root`` and follows ``key``'s nibbles
through branch, extension and leaf nodes (nodes shorter than 32 bytes sit
inside their parent, as the Yellow Paper's trie does), and returns the value
at ``key`` (``b""``: absent) and the raw bytes of every node it fetched by
hash, in path order: exactly an EIP-1186 proof of that key.

The embedded chain answers ``eth_getProof`` with it (its nodes are what its
database stores, so nothing is re-encoded). It only *produces* proofs: every
proof keyanchor relies on is checked by :mod:`registry.chain.stateproof` with
py-evm's own ``trie`` package, so the embedded chain's proofs go through the
same verifier as anvil's. Tests compare this walk with ``trie.HexaryTrie`` on
random tries.

Pure Python, no dependencies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["MalformedNode", "MissingNode", "decode", "walk"]

#: Nodes on one path at most (64 nibbles: a branch per nibble, and a leaf).
MAX_DEPTH = 66


class MissingNode(Exception):
    """A node the walk needs is not in the node set."""

    def __init__(self, node_hash: bytes) -> None:
        super().__init__(f"missing trie node 0x{node_hash.hex()}")
        self.node_hash = node_hash


class MalformedNode(Exception):
    """Bytes that are not a trie node (bad RLP, impossible shape)."""


def _item(data: bytes, pos: int, end: int) -> tuple[Any, int]:
    """The RLP item at ``data[pos:]`` (not past ``end``) and the position after it."""
    if pos >= end:
        raise MalformedNode("truncated RLP")
    b = data[pos]
    if b < 0x80:
        return data[pos:pos + 1], pos + 1
    if b < 0xB8:
        n = b - 0x80
        start, stop = pos + 1, pos + 1 + n
        if stop > end:
            raise MalformedNode("truncated RLP string")
        if n == 1 and data[start] < 0x80:
            raise MalformedNode("non-canonical RLP: a single byte below 0x80 as a string")
        return data[start:stop], stop
    if b < 0xC0:
        start, n = _long(data, pos, b - 0xB7, end)
        if start + n > end:
            raise MalformedNode("truncated RLP string")
        return data[start:start + n], start + n
    if b < 0xF8:
        start, n = pos + 1, b - 0xC0
    else:
        start, n = _long(data, pos, b - 0xF7, end)
    stop = start + n
    if stop > end:
        raise MalformedNode("truncated RLP list")
    items = []
    while start < stop:
        item, start = _item(data, start, stop)
        items.append(item)
    return items, stop


def _long(data: bytes, pos: int, size: int, end: int) -> tuple[int, int]:
    start = pos + 1 + size
    if start > end or data[pos + 1] == 0:
        raise MalformedNode("non-canonical or truncated RLP length")
    n = int.from_bytes(data[pos + 1:start], "big")
    if n < 56:
        raise MalformedNode("non-canonical RLP: a long form for a short payload")
    return start, n


def decode(data: bytes) -> Any:
    """The RLP item ``data`` encodes (bytes, or a nested list of them); the whole of it.

    Raises MalformedNode (bad or non-canonical RLP, trailing bytes).
    """
    item, pos = _item(data, 0, len(data))
    if pos != len(data):
        raise MalformedNode("trailing bytes after the RLP item")
    return item


def _nibbles(key: bytes) -> list[int]:
    out: list[int] = []
    for b in key:
        out += (b >> 4, b & 15)
    return out


def _path(encoded: bytes) -> tuple[list[int], bool]:
    """A leaf's or extension's hex-prefix path: (nibbles, is_leaf)."""
    if not encoded:
        raise MalformedNode("an empty hex-prefix path")
    flag = encoded[0] >> 4
    if flag > 3:
        raise MalformedNode("a bad hex-prefix flag")
    nibbles = _nibbles(encoded[1:])
    if flag & 1:
        nibbles.insert(0, encoded[0] & 15)
    elif encoded[0] & 15:
        raise MalformedNode("a bad hex-prefix padding nibble")
    return nibbles, bool(flag & 2)


def walk(fetch: Callable[[bytes], bytes], root: bytes, key: bytes,
         decoded: dict[bytes, Any] | None = None) -> tuple[bytes, list[bytes]]:
    """The value at ``key`` under ``root`` (``b""``: absent) and the nodes fetched by hash.

    ``decoded`` (hash -> decoded node) saves decoding a node twice; it must only
    hold nodes whose bytes hash to their key.

    Raises: MissingNode (``fetch`` has no such node), MalformedNode.
    """
    nibbles = _nibbles(key)
    at = 0
    ref: Any = root
    fetched: list[bytes] = []
    node: Any
    for _ in range(MAX_DEPTH):
        if isinstance(ref, list):  # a node embedded in its parent
            node = ref
        elif ref == b"":
            return b"", fetched
        elif len(ref) == 32:
            raw = fetch(ref)
            fetched.append(raw)
            node = decoded.get(ref) if decoded is not None else None
            if node is None:
                node = decode(raw)
                if decoded is not None:
                    decoded[ref] = node
        else:
            raise MalformedNode("a child reference that is neither a hash nor a node")
        if not isinstance(node, list):
            raise MalformedNode("a trie node that is not a list")
        if len(node) == 17:
            if at == len(nibbles):
                value = node[16]
                if isinstance(value, list):
                    raise MalformedNode("a branch value that is a list")
                return value, fetched
            ref = node[nibbles[at]]
            at += 1
        elif len(node) == 2:
            first = node[0]
            if isinstance(first, list):
                raise MalformedNode("a path that is a list")
            path, leaf = _path(first)
            n = len(path)
            if nibbles[at:at + n] != path:
                return b"", fetched
            at += n
            if leaf:
                value = node[1]
                if isinstance(value, list):
                    raise MalformedNode("a leaf value that is a list")
                return (value if at == len(nibbles) else b""), fetched
            ref = node[1]
        elif len(node) == 0:
            return b"", fetched
        else:
            raise MalformedNode(f"a trie node of {len(node)} items")
    raise MalformedNode("a trie path deeper than any key")
