"""The bounded JSON check finds the same structure outside strings by its fast path as by
splitting at every quote, and refuses deep documents whatever their strings hold."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.chain._rpcjson import (
    _NOT_STRUCTURE,
    JSONLimitError,
    _skeleton_unescaped,
    check_json,
)


def _split_skeleton(data: bytes) -> bytes:
    """Without escapes, the strings are every other quote-separated piece."""
    return b"".join(data.split(b'"')[::2]).translate(None, _NOT_STRUCTURE)


@given(st.binary(max_size=40).map(lambda b: bytes(b'"[]{},a:'[x % 8] for x in b)))
def test_skeleton_of_any_unescaped_text_is_the_split_one(data: bytes) -> None:
    assert _skeleton_unescaped(data) == _split_skeleton(data)


@pytest.mark.parametrize("inside", [b"", b"0xab", b"[", b"]]]", b"{,", b'":"'])
def test_a_deep_reply_is_refused_whatever_its_strings_hold(inside: bytes) -> None:
    deep = b'{"result":"' + inside + b'","x":' + b"[" * 70 + b"]" * 70 + b"}"
    with pytest.raises(JSONLimitError, match="nested deeper than 64"):
        check_json(deep, max_bytes=1 << 20)
    shallow = b'{"result":"' + inside + b'","x":' + b"[" * 60 + b"]" * 60 + b"}"
    check_json(shallow, max_bytes=1 << 20)


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    doc = b'{"result":["' + b"[" * 100 + b'","' + b"{" * 100 + b'"]}'
    check_json(doc, max_bytes=1 << 20)
