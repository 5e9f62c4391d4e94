"""Faster drop-in versions of the pure-Python helpers py-evm spends a block on.

    install()              # once, before py-evm builds a state; later calls do nothing
    code_stream_class()    # for a computation's code: jump destinations analysed once
    stack_class()          # for a computation's stack: plain values on a fast path

Mining one block on the embedded chain walks and rewrites a few trie paths (the
state root), decodes and encodes RLP a few hundred times and builds and copies
some thirty ``rlp.Serializable`` objects (headers, accounts, transactions,
receipts), and a gas estimate runs ~700 EVM opcodes. The generic helpers below
that (an ABC check per RLP item, generators and ``itertools`` chains for
nibbles, a ``Counter`` of field names per object built) were a third of a
publish's instructions. The versions here compute the same values for the
inputs they take and hand everything else to the original, which raises as
before:

- ``rlp.codec.decode_raw`` decodes canonical RLP held in ``bytes`` in one pass
  and gives back the whole item's encoding as its cache (what ``rlp.decode``
  reads of it without ``recursive_cache``); anything else (a ``bytearray``, a
  recursive cache, bad or non-canonical RLP, trailing bytes) goes to the
  original;
- ``rlp.codec.encode_raw`` (and the trie's import of it) encodes ``bytes`` and
  lists and tuples of them without the ``Atomic`` ABC check;
- the trie's nibble helpers (``bytes_to_nibbles``, hex-prefix ``encode_nibbles``
  and ``decode_nibbles``, the terminator helpers, ``nibbles_to_bytes``) and its
  ``tuplify``/``listify`` build their values with C-level calls;
- ``rlp.sedes.serializable``'s argument checks remember which field-name tuples
  have no duplicates, and ``BaseSerializable.copy`` skips ``deepcopy`` for the
  values it would return unchanged (ints, bytes, strings, None);
- :func:`code_stream_class` and :func:`stack_class` are subclasses of py-evm's
  ``CodeStream`` and ``Stack``, used by the embedded chain's computations only.

It is the kind of swap the ``rlp`` package itself makes for its optional Rust
backend: same results, byte for byte (``tests/chain/test_speedups.py`` checks
each one against the original on real chain data and random input, and
``tests/chain/test_embedded.py`` a history mined with them against py-evm alone).
Nothing is cached that py-evm mutates: decoding returns new lists at every call.
"""

from __future__ import annotations

import functools
import itertools
from typing import Any

__all__ = ["install", "originals"]

_NIBBLE_TERMINATOR = 16
_HEX = "0123456789abcdef"
_HEX_VALUES = bytes(_HEX.index(chr(c)) if chr(c) in _HEX else 0 for c in range(256))
"""bytes.translate table: an ASCII hex digit (lower case) to its value."""
_installed = False
_originals: dict[str, Any] = {}


class _Irregular(Exception):
    """Input the fast decoder leaves to the original (which raises or decodes it)."""


def _decode_item(data: bytes, pos: int, end: int) -> tuple[Any, int]:
    """The canonical RLP item at ``data[pos:end]`` and the position after it."""
    b = data[pos]
    if b < 0x80:
        return data[pos:pos + 1], pos + 1
    if b < 0xB8:
        stop = pos + b - 0x7F
        if stop > end or (b == 0x81 and data[pos + 1] < 0x80):
            raise _Irregular
        return data[pos + 1:stop], stop
    if b < 0xC0:
        start = pos + b - 0xB6
        if start > end or data[pos + 1] == 0:
            raise _Irregular
        n = int.from_bytes(data[pos + 1:start], "big")
        if n < 56 or start + n > end:
            raise _Irregular
        return data[start:start + n], start + n
    if b < 0xF8:
        start, stop = pos + 1, pos + b - 0xBF
    else:
        start = pos + b - 0xF6
        if start > end or data[pos + 1] == 0:
            raise _Irregular
        n = int.from_bytes(data[pos + 1:start], "big")
        if n < 56:
            raise _Irregular
        stop = start + n
    if stop > end:
        raise _Irregular
    items: list[Any] = []
    append = items.append
    while start < stop:
        b = data[start]
        if b == 0xA0:  # a 32-byte string (a hash): most items of a trie node
            nxt = start + 33
            if nxt > stop:
                raise _Irregular
            append(data[start + 1:nxt])
            start = nxt
        elif b == 0x80:
            append(b"")
            start += 1
        else:
            item, start = _decode_item(data, start, stop)
            append(item)
    return items, stop


def _fast_decode_raw(original: Any) -> Any:
    def decode_raw(item: Any, strict: bool, recursive_cache: bool) -> Any:
        if type(item) is bytes and item and not recursive_cache:
            try:
                result, end = _decode_item(item, 0, len(item))
            except _Irregular:
                pass
            else:
                if end == len(item):
                    return result, [item]
                if not strict:
                    return result, [item[:end]]
        return original(item, strict, recursive_cache)

    decode_raw.__wrapped__ = original  # type: ignore[attr-defined]
    return decode_raw


def _long_prefix(length: int, offset: int) -> bytes:
    size = (length.bit_length() + 7) // 8
    return bytes((offset + 55 + size,)) + length.to_bytes(size, "big")


_STRING_PREFIX = tuple(bytes((0x80 + n,)) for n in range(56))
_LIST_PREFIX = tuple(bytes((0xC0 + n,)) for n in range(56))
_LONG_LENGTH = 256**8


def _fast_encode_raw(original: Any) -> Any:
    def encode_raw(item: Any) -> Any:
        kind = type(item)
        if kind is bytes:
            n = len(item)
            if n == 1 and item[0] < 0x80:
                return item
            if n < 56:
                return _STRING_PREFIX[n] + item
            if n < _LONG_LENGTH:
                return _long_prefix(n, 0x80) + item
        elif kind is list or kind is tuple:
            payload = b"".join([encode_raw(x) for x in item])
            n = len(payload)
            if n < 56:
                return _LIST_PREFIX[n] + payload
            if n < _LONG_LENGTH:
                return _long_prefix(n, 0xC0) + payload
        return original(item)

    encode_raw.__wrapped__ = original  # type: ignore[attr-defined]
    return encode_raw


def _nibble_helpers(nibbles_module: Any) -> dict[str, Any]:
    """Fast versions of ``trie.utils.nibbles``' helpers (same values, same errors)."""
    lookup = nibbles_module.NIBBLES_LOOKUPS.__getitem__  # byte -> (high, low): KeyError as before
    valid = frozenset(nibbles_module.VALID_NIBBLES)
    original_to_bytes = nibbles_module.nibbles_to_bytes
    chain = itertools.chain.from_iterable

    def bytes_to_nibbles(value: bytes) -> tuple[int, ...]:
        if type(value) is bytes:  # its hex digits, as numbers
            return tuple(value.hex().encode().translate(_HEX_VALUES))
        return tuple(chain(map(lookup, value)))

    def nibbles_to_bytes(nibbles: Any) -> bytes:
        if valid.issuperset(nibbles) and not len(nibbles) % 2:
            return bytes.fromhex("".join([_HEX[n] for n in nibbles]))
        return original_to_bytes(nibbles)  # raises InvalidNibbles

    def is_nibbles_terminated(nibbles: Any) -> bool:
        return bool(nibbles) and nibbles[-1] == _NIBBLE_TERMINATOR

    def add_nibbles_terminator(nibbles: Any) -> tuple[int, ...]:
        if nibbles and nibbles[-1] == _NIBBLE_TERMINATOR:
            return tuple(nibbles)
        return (*nibbles, _NIBBLE_TERMINATOR)

    def remove_nibbles_terminator(nibbles: Any) -> tuple[int, ...]:
        if nibbles and nibbles[-1] == _NIBBLE_TERMINATOR:
            return tuple(nibbles[:-1])
        return tuple(nibbles)

    def encode_nibbles(nibbles: Any) -> bytes:
        """The hex-prefix encoding."""
        if nibbles and nibbles[-1] == _NIBBLE_TERMINATOR:
            flag, raw = 2, tuple(nibbles[:-1])
        else:
            flag, raw = 0, tuple(nibbles)
        if len(raw) % 2:
            return nibbles_to_bytes((flag + 1, *raw))
        return nibbles_to_bytes((flag, 0, *raw))

    def decode_nibbles(value: bytes) -> tuple[int, ...]:
        """The inverse of the hex-prefix encoding."""
        nibbles = bytes_to_nibbles(value)
        flag = nibbles[0]  # IndexError on b"", as before
        raw = nibbles[1:] if flag in (1, 3) else nibbles[2:]
        if flag in (2, 3):
            return add_nibbles_terminator(raw)
        return raw

    return {
        "bytes_to_nibbles": bytes_to_nibbles,
        "nibbles_to_bytes": nibbles_to_bytes,
        "is_nibbles_terminated": is_nibbles_terminated,
        "add_nibbles_terminator": add_nibbles_terminator,
        "remove_nibbles_terminator": remove_nibbles_terminator,
        "encode_nibbles": encode_nibbles,
        "decode_nibbles": decode_nibbles,
    }


def _tuplify(node: Any) -> tuple[Any, ...]:
    """``trie.hexary.tuplify``: a node's nested lists as tuples (its node cache's key)."""
    return tuple([_tuplify(sub) if isinstance(sub, list) else sub for sub in node])


def _listify(node: Any) -> list[Any]:
    """``trie.hexary.listify``: the inverse."""
    return [_listify(sub) if isinstance(sub, tuple) else sub for sub in node]


def _serializable_helpers(module: Any) -> dict[str, Any]:
    """Fast versions of ``rlp.sedes.serializable``'s argument checks (every header,
    account, transaction and receipt py-evm builds or copies goes through them): the
    checks of a field-name tuple already seen to have no duplicates are set operations;
    anything they would refuse goes to the original, which raises as before."""
    import copy

    original_validate = module.validate_args_and_kwargs
    unique: dict[tuple[str, ...], frozenset[str]] = {}  # field names (no duplicates): as a set

    def validate_args_and_kwargs(
        args: Any, kwargs: Any, arg_names: Any, allow_missing: bool = False
    ) -> None:
        names = unique.get(arg_names) if type(arg_names) is tuple else None
        if names is not None:
            given = len(args)
            keys = kwargs.keys()
            if keys <= names and keys.isdisjoint(arg_names[:given]) \
                    and (allow_missing or len(keys) == len(arg_names) - given):
                return
        original_validate(args, kwargs, arg_names, allow_missing=allow_missing)
        if type(arg_names) is tuple and len(set(arg_names)) == len(arg_names):
            unique[arg_names] = frozenset(arg_names)

    def merge_kwargs_to_args(
        args: Any, kwargs: Any, arg_names: Any, allow_missing: bool = False
    ) -> tuple[Any, ...]:
        validate_args_and_kwargs(args, kwargs, arg_names, allow_missing=allow_missing)
        return (*args, *[kwargs[name] for name in arg_names[len(args):]])

    def merge_args_to_kwargs(
        args: Any, kwargs: Any, arg_names: Any, allow_missing: bool = False
    ) -> dict[str, Any]:
        validate_args_and_kwargs(args, kwargs, arg_names, allow_missing=allow_missing)
        merged = dict(kwargs.items())
        merged.update(zip(arg_names, args, strict=False))
        return merged

    atomic = (int, bytes, str, bool, float, type(None))

    def copy_serializable(self: Any, *args: Any, **kwargs: Any) -> Any:
        """``BaseSerializable.copy``: deepcopy skipped for values it returns as they are."""
        names = self._meta.field_names
        missing_overrides = set(names).difference(kwargs.keys()).difference(names[:len(args)])
        unchanged_kwargs = {
            key: value if type(value) in atomic else copy.deepcopy(value)
            for key, value in self.as_dict().items()
            if key in missing_overrides
        }
        combined_kwargs = dict(**unchanged_kwargs, **kwargs)
        all_kwargs = merge_args_to_kwargs(args, combined_kwargs, names)
        return type(self)(**all_kwargs)

    return {
        "validate_args_and_kwargs": validate_args_and_kwargs,
        "merge_kwargs_to_args": merge_kwargs_to_args,
        "merge_args_to_kwargs": merge_args_to_kwargs,
        "copy": copy_serializable,
    }


_PUSH1, _PUSH32 = 0x60, 0x7F


@functools.lru_cache(maxsize=32)
def _instruction_starts(code: bytes) -> frozenset[int]:
    """The positions of ``code`` that are opcodes, not PUSH data (a jump may land there)."""
    starts = []
    pc, size = 0, len(code)
    while pc < size:
        starts.append(pc)
        op = code[pc]
        pc += op - _PUSH1 + 2 if _PUSH1 <= op <= _PUSH32 else 1
    return frozenset(starts)


@functools.cache
def code_stream_class() -> type:
    """py-evm's ``CodeStream`` with the jump-destination analysis done once per code.

    py-evm checks a JUMP's target by looking back up to 32 bytes for a PUSH whose
    data it would be, recursively, in every new computation; the answer depends on
    the code alone, so it is computed in one forward pass and kept for the last few
    codes (the registry's, mostly). Same answers: a test compares every position.
    """
    from eth.vm.code_stream import CodeStream

    class AnalysedCodeStream(CodeStream):
        __slots__ = ("_starts",)

        def __init__(self, code_bytes: bytes) -> None:
            super().__init__(code_bytes)
            self._starts = _instruction_starts(bytes(code_bytes))

        def is_valid_opcode(self, position: int) -> bool:
            return position in self._starts

    return AnalysedCodeStream


@functools.cache
def stack_class() -> type:
    """py-evm's EVM ``Stack`` with its most used operations taking a fast path for plain
    values (an ``int`` in range, ``bytes`` of at most 32, enough items, room left) and
    going to py-evm's own method otherwise (which raises as before)."""
    from eth.vm.stack import Stack, to_int

    uint256_max = 2**256 - 1

    class FastStack(Stack):
        __slots__ = ()

        def push_int(self, value: int) -> None:
            values = self.values
            if type(value) is int and 0 <= value <= uint256_max and len(values) < 1024:
                values.append(value)
            else:
                Stack.push_int(self, value)

        def push_bytes(self, value: bytes) -> None:
            values = self.values
            if type(value) is bytes and len(value) <= 32 and len(values) < 1024:
                values.append(value)
            else:
                Stack.push_bytes(self, value)

        def pop1_int(self) -> int:
            values = self.values
            if not values:
                return Stack.pop1_int(self)
            value = values.pop()
            return value if type(value) is int else to_int(value)

        def pop_ints(self, num_items: int) -> tuple[int, ...]:
            values = self.values
            if num_items > len(values):
                return Stack.pop_ints(self, num_items)
            popped = values[-num_items:]
            del values[-num_items:]
            popped.reverse()
            return tuple([x if type(x) is int else to_int(x) for x in popped])

    return FastStack


def originals() -> dict[str, Any]:
    """The functions :func:`install` replaced, by name (for tests to compare with)."""
    return dict(_originals)


def install() -> None:
    """Swap the helpers in (once); left as they are if a module's layout is not the expected one."""
    global _installed
    if _installed:
        return
    _installed = True
    import rlp.codec
    import rlp.sedes.serializable
    import trie.hexary
    import trie.utils.nibbles
    import trie.utils.nodes

    modules = (trie.utils.nibbles, trie.utils.nodes, trie.hexary)
    helpers = _nibble_helpers(trie.utils.nibbles)
    if callable(getattr(trie.hexary, "tuplify", None)) and callable(getattr(trie.hexary, "listify", None)):
        _originals["tuplify"], _originals["listify"] = trie.hexary.tuplify, trie.hexary.listify
        trie.hexary.tuplify, trie.hexary.listify = _tuplify, _listify
    wanted = [(m, n) for m in modules for n in helpers if hasattr(m, n)]
    if all(callable(getattr(m, n)) for m, n in wanted):
        for name in helpers:
            _originals[name] = getattr(trie.utils.nibbles, name)
        for module, name in wanted:
            setattr(module, name, helpers[name])
    codec: Any = rlp.codec
    if callable(getattr(codec, "decode_raw", None)) and callable(getattr(codec, "encode_raw", None)):
        _originals["decode_raw"], _originals["encode_raw"] = codec.decode_raw, codec.encode_raw
        codec.decode_raw = _fast_decode_raw(codec.decode_raw)
        encode = _fast_encode_raw(codec.encode_raw)
        codec.encode_raw = encode
        if getattr(trie.hexary, "encode_raw", None) is encode.__wrapped__:
            trie.hexary.encode_raw = encode
    serializable: Any = rlp.sedes.serializable
    base = getattr(serializable, "BaseSerializable", None)
    names = ("validate_args_and_kwargs", "merge_kwargs_to_args", "merge_args_to_kwargs")
    if base is not None and callable(getattr(base, "copy", None)) \
            and all(callable(getattr(serializable, name, None)) for name in names):
        fast = _serializable_helpers(serializable)
        for name in names:
            _originals[name] = getattr(serializable, name)
            setattr(serializable, name, fast[name])
        _originals["copy"] = base.copy
        base.copy = fast["copy"]
