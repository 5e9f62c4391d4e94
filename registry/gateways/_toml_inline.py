"""A one-line inline table of the plain TOML subset :mod:`registry.gateways._toml` reads.

    inline_table('users = { root = "admin@example.org" }', 8, set())

Loaded by :func:`registry.gateways._toml.loads` for a configuration that has
one (``users = { ... }``): a login with none does not compile it when no
bytecode is cached (docs/BENCHMARKS.md). Anything outside the subset raises
the reader's ``_Fallback`` (tomllib then reads the text).
"""

from __future__ import annotations

from registry.gateways._toml import _Fallback, _key, _scalar, _skip_ws

__all__ = ["inline_table"]


def inline_table(line: str, i: int, inline: set[int]) -> tuple[dict[str, object], int]:
    """The table whose ``{`` is ``line[i]``, and the index after its ``}``; its id joins
    ``inline`` (a header never extends it)."""
    table: dict[str, object] = {}
    inline.add(id(table))
    i = _skip_ws(line, i + 1)
    if i < len(line) and line[i] == "}":
        return table, i + 1
    while True:
        key, i = _key(line, i)
        i = _skip_ws(line, i)
        if i >= len(line) or line[i] != "=":
            raise _Fallback
        value, i = _scalar(line, _skip_ws(line, i + 1))
        if key in table:
            raise _Fallback
        table[key] = value
        i = _skip_ws(line, i)
        if i < len(line) and line[i] == ",":
            i = _skip_ws(line, i + 1)
            continue
        if i < len(line) and line[i] == "}":
            return table, i + 1
        raise _Fallback
