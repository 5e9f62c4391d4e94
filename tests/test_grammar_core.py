"""The name grammar's fast path for names already in normal form agrees with the full parse.

``registry._grammar`` reads a text already in normal form itself and hands
every other text to ``registry._grammar_parse`` (which the sshd login then
never compiles): for every text the fast path takes, its answer is the full
parse's, and every text it leaves gets the full parse's answer or refusal.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry._grammar import _normal_parts, normal_name, split_name
from registry._grammar_parse import parse_text
from registry.errors import InvalidName

#: Texts around every rule: case, blanks, dots, lengths, IPv4/IPv6 literals, IDNA, locals.
EDGES = [
    "example.org", "Example.org", " example.org", "example.org.", "example..org", ".example.org",
    "a", "org", "0", "1.2.3.4", "0x7f.1", "0x", "a.0x", "a.0xg", "a.123", "123.a", "a-b.org",
    "-a.org", "a-.org", "a_b.org", "a b.org", "[::1]", "a:b", "xn--bcher-kva.example",
    "xn--zz.org", "alice@xn--bcher-kva.example", "bücher.example", "alice@example.org",
    "Alice@example.org", "al..ice@example.org", ".alice@example.org", "alice.@example.org",
    "a_b+c-d.e@example.org", "@example.org", "alice@", "alice@bob@example.org", "a@b@c",
    "a" * 63 + ".org", "a" * 64 + ".org", "a" * 64 + "@example.org", "a" * 65 + "@example.org",
    ".".join(["a" * 63] * 4), ".".join(["a" * 63] * 4)[:253], "\u212aelly@example.org", "",
    "a\nb.org", "example.org\n", "u50000@example.org", "_@example.org", "+@example.org",
]

NAME_CHARS = "abcxyzAZ019-._+@:[] \u00fc\u212a\n"


def _full(text: str) -> tuple[tuple[str, ...], str | None] | str:
    try:
        return parse_text(text)
    except InvalidName as exc:
        return f"InvalidName: {exc}"


def _check(text: str) -> None:
    fast = _normal_parts(text)
    if fast is not None:
        assert fast == _full(text), text  # the fast path answers exactly as the full parse
        assert normal_name(text) == text  # and only for a text already in normal form
    try:
        got: tuple[tuple[str, ...], str | None] | str = split_name(text)
    except InvalidName as exc:
        got = f"InvalidName: {exc}"
    assert got == _full(text), text


@pytest.mark.parametrize("text", EDGES)
def test_fast_path_agrees_with_full_parse(text: str) -> None:
    _check(text)


@given(st.text(alphabet=NAME_CHARS, max_size=40))
def test_fast_path_agrees_on_name_like_texts(text: str) -> None:
    _check(text)


@given(st.text(max_size=80))
def test_fast_path_agrees_on_any_text(text: str) -> None:
    _check(text)


@pytest.mark.parametrize("text", ["alice@example.org", "web1.example.org", "org", "a-1.b2",
                                  "first.last+ssh@example.org"])
def test_names_in_normal_form_take_the_fast_path(text: str) -> None:
    assert _normal_parts(text) == parse_text(text)


def test_a_non_string_is_refused() -> None:
    with pytest.raises(InvalidName, match="not a string"):
        split_name(5)  # type: ignore[arg-type]
