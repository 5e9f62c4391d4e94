"""registry.chain._speedups: the fast RLP and trie helpers give what the originals give."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import rlp
import rlp.codec
import trie.hexary
import trie.utils.nibbles
import trie.utils.nodes
from rlp.exceptions import DecodingError, EncodingError
from trie.exceptions import InvalidNibbles

from registry.chain import _speedups

_NIBBLE_HELPERS = (
    "bytes_to_nibbles", "nibbles_to_bytes", "is_nibbles_terminated", "add_nibbles_terminator",
    "remove_nibbles_terminator", "encode_nibbles", "decode_nibbles",
)


@pytest.fixture(scope="module")
def originals() -> dict[str, Any]:
    """The trie's own helpers and the rlp package's codec, as they were before install()."""
    _speedups.install()
    funcs = _speedups.originals()
    assert set(funcs) == {*_NIBBLE_HELPERS, "decode_raw", "encode_raw", *_SERIALIZABLE,
                          "tuplify", "listify"}
    return funcs


_SERIALIZABLE = ("validate_args_and_kwargs", "merge_kwargs_to_args", "merge_args_to_kwargs",
                 "copy")


def _outcome(call: Any) -> Any:
    try:
        return ("ok", call())
    except (TypeError, KeyError) as exc:
        return (type(exc).__name__, str(exc))


def test_serializable_checks_match_the_package(originals: dict[str, Any]) -> None:
    """rlp.Serializable's argument checks and copy: same values, same errors."""
    import rlp.sedes.serializable as module

    names = ("a", "b", "c")
    calls: list[tuple[tuple[Any, ...], dict[str, Any], tuple[str, ...], bool]] = [
        ((), {"a": 1, "b": 2, "c": 3}, names, False),
        ((1,), {"b": 2, "c": 3}, names, False),
        ((1, 2, 3), {}, names, False),
        ((1, 2, 3, 4), {}, names, False),
        ((1,), {"c": 3}, names, False),
        ((1,), {"c": 3}, names, True),
        ((1,), {"a": 1, "b": 2, "c": 3}, names, False),
        ((), {"a": 1, "b": 2, "c": 3, "d": 4}, names, False),
        ((), {"a": 1}, ("a", "a"), False),
        ((), {"a": 1}, ["a"], False),
    ]
    for name in ("validate_args_and_kwargs", "merge_kwargs_to_args", "merge_args_to_kwargs"):
        fast, plain = getattr(module, name), originals[name]
        assert fast is not plain
        for _ in range(2):  # the second time from the fast path
            for args, kwargs, arg_names, allow_missing in calls:
                got = _outcome(lambda: fast(args, kwargs, arg_names, allow_missing))  # noqa: B023
                want = _outcome(lambda: plain(args, kwargs, arg_names, allow_missing))  # noqa: B023
                assert got == want, (name, args, kwargs, arg_names)
                if got[0] == "ok" and isinstance(got[1], dict):
                    assert list(got[1]) == list(want[1])  # the same order

    class Pair(rlp.Serializable):
        fields = (("left", rlp.sedes.big_endian_int),
                  ("right", rlp.sedes.CountableList(rlp.sedes.binary)))

    pair = Pair(1, [b"x", b"y"])
    copied = pair.copy(left=2)
    assert (copied.left, copied.right) == (2, (b"x", b"y"))
    assert originals["copy"](pair, left=2) == copied
    assert pair.copy() == originals["copy"](pair) == pair
    assert pair.copy(5) == originals["copy"](pair, 5)
    assert _outcome(lambda: pair.copy(middle=1)) == _outcome(
        lambda: originals["copy"](pair, middle=1))


def test_jump_destinations_are_analysed_once_per_code() -> None:
    """Every position of the registry's code and of random code: the same answer as
    py-evm's own look-back analysis."""
    from eth.vm.code_stream import CodeStream

    from registry.chain.embedded import _registry_bytecode

    analysed = _speedups.code_stream_class()
    rng = random.Random(1)
    codes = [_registry_bytecode(), b"", b"\x60", b"\x7f" + b"\x5b" * 40]
    codes += [rng.randbytes(rng.randrange(1, 300)) for _ in range(200)]
    codes += [bytes(rng.choice([0x5B, 0x60, 0x61, 0x7F, 0x00]) for _ in range(200))
              for _ in range(50)]
    for code in codes:
        plain, fast = CodeStream(code), analysed(code)
        for position in range(len(code) + 3):
            assert fast.is_valid_opcode(position) == plain.is_valid_opcode(position), position
        assert list(fast) == list(CodeStream(code))


def test_the_fast_stack_behaves_as_py_evms() -> None:
    """Random pushes and pops (out of range, too many, wrong types): the same values,
    the same exceptions, the same stack."""
    from eth.vm.stack import Stack

    fast_class = _speedups.stack_class()
    rng = random.Random(4)
    values: list[Any] = [0, 1, 2**256 - 1, 2**256, -1, b"", b"\x01", b"\xff" * 32,
                         b"\xff" * 33, "text", True]
    for _ in range(300):
        plain, fast = Stack(), fast_class()
        for _ in range(rng.randrange(1, 60)):
            op = rng.choice(["push_int", "push_bytes", "pop1_int", "pop_ints"])
            if op.startswith("push"):
                value = rng.choice(values)
                args: tuple[Any, ...] = (value,)
                if rng.random() < 0.05:  # near the limit
                    for stack in (plain, fast):
                        stack.values.extend([1] * (1024 - len(stack.values)))
            else:
                args = () if op == "pop1_int" else (rng.randrange(1, 5),)

            def run(stack: Any, op: str = op, args: tuple[Any, ...] = args) -> Any:
                try:
                    return ("ok", getattr(stack, op)(*args))
                except Exception as exc:  # the same type and message
                    return (type(exc).__name__, str(exc))

            assert run(fast) == run(plain), (op, args)
            assert fast.values == plain.values


def _random_item(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.random()
    if depth > 2 or kind < 0.6:
        size = rng.choice([0, 1, 1, 2, 20, 32, 32, 33, 55, 56, 57, 200, 1100])
        return bytes(rng.randrange(256) if rng.random() < 0.8 else rng.randrange(0x80)
                     for _ in range(size))
    return [_random_item(rng, depth + 1) for _ in range(rng.choice([0, 1, 2, 3, 17, 17, 30]))]


def _decode(decode_raw: Any, data: Any, strict: bool = True) -> Any:
    """(the item, the encoding rlp.decode caches for it), or the error."""
    try:
        item, per_item_rlp = decode_raw(data, strict, False)
    except DecodingError as exc:
        return ("error", str(exc))
    return ("ok", item, per_item_rlp[0])


def test_rlp_encode_and_decode_match_the_package(originals: dict[str, Any]) -> None:
    rng = random.Random(7)
    for _ in range(300):
        item = _random_item(rng)
        encoded = originals["encode_raw"](item)
        assert rlp.codec.encode_raw(item) == encoded
        assert rlp.codec.encode_raw(tuple(item) if isinstance(item, list) else item) == encoded
        assert rlp.decode(encoded) == item
        assert _decode(rlp.codec.decode_raw, encoded) == _decode(originals["decode_raw"], encoded)


def test_bad_rlp_fails_as_before(originals: dict[str, Any]) -> None:
    """Truncated, non-canonical or trailing bytes: the package's own error (or value)."""
    rng = random.Random(11)
    cases = [b"", b"\x81\x05", b"\xb8\x01a", b"\xb9\x00\x40" + b"a" * 64, b"\xc2\x01",
             b"\xf8\x01\x01", b"\xc1\x01\x02", b"\xa0" + b"x" * 31, b"\xc3\xa0\x01\x02",
             bytearray(b"\xc2\x01\x02")]
    for _ in range(200):
        good = originals["encode_raw"](_random_item(rng))
        cut = rng.randrange(len(good) + 1)
        mangled = bytearray(good)
        if mangled:
            mangled[rng.randrange(len(mangled))] = rng.randrange(256)
        cases += [good[:cut], bytes(mangled), good + b"\x00"]
    for data in cases:
        for strict in (True, False):
            assert _decode(rlp.codec.decode_raw, data, strict) == \
                _decode(originals["decode_raw"], data, strict), data
    for bad in ("text", 5, None, [b"a", 5]):
        with pytest.raises(EncodingError):
            rlp.codec.encode_raw(bad)


def test_nibble_helpers_match_the_trie(originals: dict[str, Any]) -> None:
    rng = random.Random(3)
    fast = {name: getattr(trie.utils.nibbles, name) for name in _NIBBLE_HELPERS}
    assert fast["bytes_to_nibbles"] is not originals["bytes_to_nibbles"]
    for _ in range(1_000):
        key = rng.randbytes(rng.randrange(40))
        nibbles = originals["bytes_to_nibbles"](key)
        assert fast["bytes_to_nibbles"](key) == nibbles
        assert fast["bytes_to_nibbles"](bytearray(key)) == nibbles
        for path in (nibbles, nibbles[1:], (*nibbles, 16), (*nibbles[1:], 16)):
            for name in ("is_nibbles_terminated", "add_nibbles_terminator",
                         "remove_nibbles_terminator", "encode_nibbles"):
                assert fast[name](path) == originals[name](path), (name, path)
                assert fast[name](list(path)) == originals[name](list(path)), (name, path)
            encoded = originals["encode_nibbles"](path)
            assert fast["decode_nibbles"](encoded) == originals["decode_nibbles"](encoded)
        assert fast["nibbles_to_bytes"](nibbles) == key
    for bad in ((1, 2, 3), (16, 1), (1, -1)):
        with pytest.raises(InvalidNibbles):
            fast["nibbles_to_bytes"](bad)
    with pytest.raises(IndexError):
        fast["decode_nibbles"](b"")
    # the trie modules use the fast ones
    assert trie.hexary.bytes_to_nibbles is fast["bytes_to_nibbles"]
    assert trie.utils.nodes.decode_nibbles is fast["decode_nibbles"]
    assert trie.hexary.encode_raw is rlp.codec.encode_raw


def test_tuplify_and_listify_match_the_trie(originals: dict[str, Any]) -> None:
    rng = random.Random(8)
    for _ in range(300):
        item = _random_item(rng)
        if not isinstance(item, list):
            continue
        as_tuple = originals["tuplify"](item)
        assert trie.hexary.tuplify(item) == as_tuple
        assert trie.hexary.listify(as_tuple) == originals["listify"](as_tuple) == item


def test_every_node_of_a_chain_decodes_and_encodes_the_same(
    originals: dict[str, Any], tmp_path: Path
) -> None:
    """The stored py-evm database of a small chain: tries, headers, bodies, receipts."""
    from registry.chain.client import Registry

    state = tmp_path / "chain.db"
    with Registry.embedded(state) as reg:
        reg.register("example.org")
        reg.assign("a.example.org", reg.account.address)
    db = sqlite3.connect(state)
    try:
        values = [bytes(v) for (v,) in db.execute("SELECT v FROM kv")]
    finally:
        db.close()
    decoded = 0
    for value in values:
        expected = _decode(originals["decode_raw"], value)
        assert _decode(rlp.codec.decode_raw, value) == expected
        if expected[0] == "ok":
            decoded += 1
            assert rlp.codec.encode_raw(expected[1]) == value
    assert decoded > 20


def test_the_trie_builds_the_same_roots(
    originals: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Random inserts, updates and deletes: the same root hashes as with the originals."""
    rng = random.Random(5)
    keys = [rng.randbytes(rng.choice([1, 3, 32, 32])) for _ in range(300)]
    for module in (trie.utils.nibbles, trie.utils.nodes, trie.hexary):
        for name in (*_NIBBLE_HELPERS, "tuplify", "listify"):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, originals[name])
    for name in ("decode_raw", "encode_raw"):
        monkeypatch.setattr(rlp.codec, name, originals[name])
    monkeypatch.setattr(trie.hexary, "encode_raw", originals["encode_raw"])
    plain_roots = _roots(keys, random.Random(9))
    monkeypatch.undo()
    assert trie.hexary.encode_raw is not originals["encode_raw"]
    assert _roots(keys, random.Random(9)) == plain_roots


def _roots(keys: list[bytes], ops: random.Random) -> list[bytes]:
    """The root hash after each write of random values (a fifth of them deletes)."""
    from trie import HexaryTrie

    written = HexaryTrie({})
    roots = []
    for key in keys:
        if ops.random() < 0.2:
            written[key] = b""
        else:
            written[key] = ops.randbytes(ops.choice([1, 5, 40, 100]))
        roots.append(written.root_hash)
    return roots
