"""registry.chain._mpt: the trie walk and RLP decoder, against the ``trie`` and ``rlp`` packages."""

from __future__ import annotations

import random

import pytest
import rlp
from trie import HexaryTrie

from registry.chain._mpt import MalformedNode, MissingNode, decode, walk


def _trie(rng: random.Random, n: int, key_len: int) -> tuple[HexaryTrie, dict[bytes, bytes],
                                                              list[bytes]]:
    db: dict[bytes, bytes] = {}
    t = HexaryTrie(db)
    keys = []
    for _ in range(n):
        key = rng.randbytes(key_len)
        # short values make short nodes, which live inside their parent
        t[key] = rng.randbytes(rng.choice([1, 2, 5, 40]))
        keys.append(key)
    return t, db, keys


def _expected_proof(t: HexaryTrie, key: bytes) -> list[bytes]:
    out = []
    for i, node in enumerate(t.get_proof(key)):
        encoded = rlp.encode(node)
        if i == 0 or len(encoded) >= 32:
            out.append(encoded)
    return out


@pytest.mark.parametrize(("n", "key_len"), [(1, 32), (3, 2), (40, 2), (300, 3), (500, 32)])
def test_walk_matches_hexary_trie(n: int, key_len: int) -> None:
    rng = random.Random(n * 1000 + key_len)
    t, db, keys = _trie(rng, n, key_len)
    probes = keys[:60] + [rng.randbytes(key_len) for _ in range(60)]
    probes += [k[:-1] + bytes([k[-1] ^ 1]) for k in keys[:30]]  # near misses
    for key in probes:
        value, nodes = walk(db.__getitem__, t.root_hash, key, {})
        assert value == t.get(key)
        assert nodes == _expected_proof(t, key)
        # the nodes alone prove the value (the trie package agrees)
        assert HexaryTrie.get_from_proof(t.root_hash, key, [rlp.decode(x) for x in nodes]) \
            == value


def test_walk_over_a_proof_needs_every_node() -> None:
    rng = random.Random(7)
    t, db, keys = _trie(rng, 200, 32)
    value, nodes = walk(db.__getitem__, t.root_hash, keys[5])
    assert value
    from registry.names import keccak256

    proof = {keccak256(x): x for x in nodes}
    assert walk(proof.__getitem__, t.root_hash, keys[5])[0] == value

    def missing(h: bytes) -> bytes:
        raise MissingNode(h)

    for dropped in list(proof):
        partial = {h: x for h, x in proof.items() if h != dropped}
        with pytest.raises(MissingNode):
            walk(lambda h, p=partial: p[h] if h in p else missing(h), t.root_hash, keys[5])


@pytest.mark.parametrize("item", [b"", b"\x01", b"\x7f", b"\x80", b"a" * 55, b"a" * 56,
                                  b"b" * 300, [], [b"", [b"x"], b"y" * 70], [[b"\x00"]] * 40])
def test_decode_matches_rlp(item: object) -> None:
    assert decode(rlp.encode(item)) == item


@pytest.mark.parametrize("data", [
    b"", b"\x81\x05",  # a single byte below 0x80 as a string
    b"\xb8\x05hello",  # the long form for a short string
    b"\xb9\x00\x40" + b"a" * 64,  # a length with a leading zero
    b"\x83ab",  # truncated
    b"\xc3\x01\x02",  # a truncated list
    b"\x01\x02",  # trailing bytes
    b"\xc2\x83a",  # an item overrunning its list
])
def test_decode_refuses_bad_rlp(data: bytes) -> None:
    with pytest.raises(MalformedNode):
        decode(data)
