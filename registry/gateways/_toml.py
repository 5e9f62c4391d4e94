"""Read the sshd path's configuration: a plain-TOML fast path, :mod:`tomllib` for the rest.

    loads('[ssh]\\nuser_template = "{user}@example.org"  # alice\\n')

``keyanchor-ssh`` reads its configuration on every login, and importing
:mod:`tomllib` (with :mod:`string` and its regular expressions) costs more than
the lookup itself. :func:`loads` reads the plain subset a keyanchor
configuration is written in -- ``[table]`` / ``[a.b]`` headers of bare keys,
``key = value`` with a bare key, values that are basic strings without
escapes, literal strings, decimal integers, ``true`` / ``false`` or one-line
inline tables of those (:mod:`registry.gateways._toml_inline`, loaded for a
file that has one), ``#`` comments, blank lines -- and hands anything
else (escapes, floats, arrays, dotted or quoted keys, a repeated key or table,
``\\r``, ...) to :func:`tomllib.loads` unchanged. So the result is always
exactly what :func:`tomllib.loads` returns, and every error is tomllib's
(tests/gateways/test_toml.py checks both against tomllib).
"""

from __future__ import annotations

__all__ = ["loads"]

_BARE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_DIGITS = frozenset("0123456789")
_WS = " \t"


class _Fallback(Exception):
    """Outside the plain subset: let tomllib read the text."""


def _bad_char(c: str) -> bool:
    """A character TOML forbids in strings and comments (controls other than tab)."""
    return (c < " " and c != "\t") or c == "\x7f"


def _skip_ws(line: str, i: int) -> int:
    while i < len(line) and line[i] in _WS:
        i += 1
    return i


def _key(line: str, i: int) -> tuple[str, int]:
    j = i
    while j < len(line) and line[j] in _BARE:
        j += 1
    if j == i:
        raise _Fallback
    return line[i:j], j


def _scalar(line: str, i: int) -> tuple[object, int]:
    if i >= len(line):
        raise _Fallback
    c = line[i]
    if c in "\"'":
        if line.startswith(c * 3, i):
            raise _Fallback  # multi-line string
        j = i + 1
        while j < len(line) and line[j] != c:
            if (line[j] == "\\" and c == '"') or _bad_char(line[j]):
                raise _Fallback  # an escape (or tomllib's error)
            j += 1
        if j >= len(line):
            raise _Fallback
        return line[i + 1:j], j + 1
    if line.startswith("true", i):
        return True, i + 4
    if line.startswith("false", i):
        return False, i + 5
    j = i + 1 if c in "+-" else i
    k = j
    while k < len(line) and line[k] in _DIGITS:
        k += 1
    if k == j or (line[j] == "0" and k - j > 1):
        raise _Fallback  # not a decimal integer, or a leading zero
    return int(line[i:k]), k


def _value(line: str, i: int, inline: set[int]) -> tuple[object, int]:
    if i < len(line) and line[i] == "{":  # an inline table: read on first use
        from registry.gateways._toml_inline import inline_table

        return inline_table(line, i, inline)
    return _scalar(line, i)


def _end(line: str, i: int) -> None:
    """Only blanks and a comment may follow."""
    i = _skip_ws(line, i)
    if i < len(line):
        if line[i] != "#" or any(_bad_char(c) for c in line[i + 1:]):
            raise _Fallback


def _plain(text: str) -> dict[str, object]:
    if "\r" in text or text.startswith("\ufeff"):
        raise _Fallback
    root: dict[str, object] = {}
    current = root
    defined: set[tuple[str, ...]] = set()
    inline: set[int] = set()  # ids of inline tables: never extended by a header
    for line in text.split("\n"):
        i = _skip_ws(line, 0)
        if i == len(line) or line[i] == "#":
            _end(line, i)
            continue
        if line[i] == "[":
            if line.startswith("[[", i):
                raise _Fallback  # array of tables
            path = []
            i = _skip_ws(line, i + 1)
            while True:
                key, i = _key(line, i)
                path.append(key)
                if i < len(line) and line[i] == ".":
                    i += 1
                    continue
                break
            i = _skip_ws(line, i)
            if i >= len(line) or line[i] != "]":
                raise _Fallback
            _end(line, i + 1)
            if tuple(path) in defined:
                raise _Fallback
            defined.add(tuple(path))
            node = root
            for key in path:
                nxt = node.setdefault(key, {})
                if not isinstance(nxt, dict) or id(nxt) in inline:
                    raise _Fallback
                node = nxt
            current = node
            continue
        key, i = _key(line, i)
        i = _skip_ws(line, i)
        if i >= len(line) or line[i] != "=":
            raise _Fallback
        value, i = _value(line, _skip_ws(line, i + 1), inline)
        _end(line, i)
        if key in current:
            raise _Fallback
        current[key] = value
    return root


def loads(text: str) -> dict[str, object]:
    """:func:`tomllib.loads`, without importing tomllib for a plain configuration.

    Raises: tomllib.TOMLDecodeError (from tomllib: the text is not TOML).
    """
    try:
        return _plain(text)
    except _Fallback:
        import tomllib

        return tomllib.loads(text)
