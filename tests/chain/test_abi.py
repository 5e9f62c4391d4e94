"""The fast ABI decoder agrees with eth_abi and refuses malformed data."""

from __future__ import annotations

import eth_abi
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.chain._abi import decode

RECORD = "(bytes32,uint8,uint16,uint8,uint8,bool,uint64,uint64,uint64,uint64)"
LAYOUTS = {
    "records": [RECORD + "[]"],
    "published": ["uint8", "uint16", "uint64", "uint64", "bool", "bytes", "bytes"],
    "registered": ["string", "bool"],
    "attested": ["bytes32", "uint64"],
    "attestations": ["(bytes32,bytes32,uint64,uint64)[]"],
    "owner": ["address"],
    "mixed": ["(uint8,bytes)", "bytes[]", "uint256"],
}


def _value(kind: str) -> st.SearchStrategy:
    if kind.endswith("[]"):
        return st.lists(_value(kind[:-2]), max_size=4).map(tuple)
    if kind.startswith("("):
        inner, depth, parts, start = kind[1:-1], 0, [], 0
        for i, ch in enumerate(inner):
            depth += ch == "("
            depth -= ch == ")"
            if ch == "," and depth == 0:
                parts.append(inner[start:i])
                start = i + 1
        parts.append(inner[start:])
        return st.tuples(*(_value(p) for p in parts))
    if kind.startswith("uint"):
        return st.integers(0, 2 ** int(kind[4:]) - 1)
    if kind == "bool":
        return st.booleans()
    if kind == "address":
        return st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())
    if kind == "bytes":
        return st.binary(max_size=80)
    if kind == "string":
        return st.text(max_size=30)
    return st.binary(min_size=int(kind[5:]), max_size=int(kind[5:]))


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_matches_eth_abi(layout: str, data: st.DataObject) -> None:
    types = LAYOUTS[layout]
    values = data.draw(st.tuples(*(_value(t) for t in types)))
    encoded = eth_abi.encode(types, values)
    ours = decode(types, encoded)
    theirs = eth_abi.decode(types, encoded)
    if layout == "owner":
        assert ours[0] == theirs[0].lower()
    else:
        assert ours == theirs


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_malformed_data_raises_value_error_only(blob: bytes) -> None:
    for types in LAYOUTS.values():
        try:
            decode(types, blob)
        except ValueError:
            pass


def test_truncations_are_refused() -> None:
    encoded = eth_abi.encode(LAYOUTS["published"], (1, 2, 3, 4, True, b"m" * 70, b"p" * 40))
    padding = 64 - 40  # the last value's zero padding may go (as eth_abi's non-strict mode)
    for cut in range(len(encoded) - padding):
        with pytest.raises(ValueError):
            decode(LAYOUTS["published"], encoded[:cut])
