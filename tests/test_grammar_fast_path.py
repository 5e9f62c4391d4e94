"""The name grammar's fast path for names already in normal form gives the full parse's answer.

``registry._grammar.normal_name`` returns an ASCII text that is already a
normal registry name as it is (``_already_normal``), and remembers recent
answers; everything else takes the full parse (``_parse_text``, IDNA). These
tests compare the two over every short text of the grammar's own characters,
over adversarial names and over random text: whenever the fast path says "already
normal", the full parse accepts the text and gives it back unchanged, and
``normal_name`` answers (or refuses, with the same message) exactly as the full
parse does.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry import _grammar
from registry._grammar import _already_normal, _parse_text, normal_name
from registry.errors import InvalidName


def _full(text: str) -> str:
    """The normal form by the full parse alone (no cache, no fast path)."""
    labels, local = _parse_text(text)
    domain = ".".join(labels)
    return domain if local is None else f"{local}@{domain}"


def _outcome(fn: object, text: str) -> tuple[str, str]:
    try:
        return "ok", fn(text)  # type: ignore[operator]
    except InvalidName as exc:
        return "refused", str(exc)


def _check(text: str) -> None:
    expected = _outcome(_full, text)
    if _already_normal(text):
        assert expected == ("ok", text), text
    _grammar._normal.clear()
    assert _outcome(normal_name, text) == expected, text  # cold
    assert _outcome(normal_name, text) == expected, text  # remembered


ADVERSARIAL = [
    "alice@example.org", "example.org", "org", "a", "a-b.c-d", "u1@bench.example",
    "a.org.", "a.org..", ".a.org", "a..org", "-a.org", "a-.org", "a.-b.org", "a.b-.org",
    " a.org", "a.org ", "a.org\n", "\ta@b.org", "A@b.org", "a@B.org", "a@b.ORG",
    "a@b@c.org", "@b.org", "a@", "@", "", ".", "..", "-", "a@.org", "a@b..org",
    ".a@b.org", "a.@b.org", "a..b@c.org", "a.b@c.org", "_@b.org", "+@b.org", "-@b.org",
    "a_b.org", "a+b.org", "a@b_c.org", "1.2.3.4", "a.123", "a.0x", "a.0x1f", "a.0xg",
    "a@0x1f", "0x1f.org", "123.org", "a.b.1a", "xn--fa-hia.de", "a@xn--fa-hia.de",
    "xn--zz.org", "xn--ls8h.org", "axn--b.org", "xn--@b.org", "fa\u00df.de",
    "\u212aelvin.org", "a@\u212a.org", "\u017f.org", "caf\u00e9.org", "a:b.org", "[::1]",
    "a@[::1]", "a%b.org", "a/b.org", "a\x00.org",
    "l" * 63 + ".org", "l" * 64 + ".org", "l" * 59 + ".org", "l" * 60 + ".org",
    "a." + "l" * 60, "a." + "l" * 61, "l" * 64 + "@b.org", "l" * 65 + "@b.org",
    ".".join(["abc"] * 63), ".".join(["abc"] * 64), "a@" + ".".join(["b"] * 32),
    "\u0430.org",  # Cyrillic a
]


@pytest.mark.parametrize("text", ADVERSARIAL)
def test_adversarial_names_agree_with_the_full_parse(text: str) -> None:
    _check(text)


def test_every_short_text_of_the_grammar_characters_agrees() -> None:
    alphabet = "a0-._+@xnA "
    for size in range(1, 6):
        for chars in itertools.product(alphabet, repeat=size):
            _check("".join(chars))


def test_typical_names_take_the_fast_path() -> None:
    for text in ("alice@example.org", "web1.example.org", "u99999@bench.example",
                 "a_b+c-d.e@x-y.z9"):
        assert _already_normal(text)
        _check(text)


@settings(max_examples=1000)
@given(st.text(alphabet=st.sampled_from(list("abxn0129-._+@ZK\u212a\u00df:[] \n")),
               max_size=80))
def test_random_texts_agree_with_the_full_parse(text: str) -> None:
    _check(text)


@settings(max_examples=500)
@given(st.text(max_size=40))
def test_any_text_agrees_with_the_full_parse(text: str) -> None:
    _check(text)


def test_the_memory_stays_bounded() -> None:
    _grammar._normal.clear()
    for i in range(10_000):
        assert normal_name(f"U{i}@Example.org") == f"u{i}@example.org"
    assert len(_grammar._normal) <= 4096


def test_a_parsed_name_and_a_str_subclass_take_the_full_path() -> None:
    from registry.names import parse_name

    class Text(str):
        pass

    assert normal_name(parse_name("Alice@Example.org")) == "alice@example.org"
    out = normal_name(Text("alice@example.org"))
    assert out == "alice@example.org" and type(out) is str
    with pytest.raises(InvalidName):
        normal_name(b"alice@example.org")
