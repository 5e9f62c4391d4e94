"""The registry name grammar and the squatting rule on name texts: what sshd's path checks.

    >>> normal_name("Alice@Example.org")
    'alice@example.org'

The grammar and :func:`squatted_by` are documented, and re-exported, in
:mod:`registry.names`, which adds the namehash (Keccak), the Public Suffix
List and the rest; :class:`registry.names.Name` (:mod:`registry._name`) is a
parse of :func:`split_name`. A name already in normal form is read here;
every other text, and every refusal, by :mod:`registry._grammar_parse`.
``keyanchor-ssh`` imports this module alone, so that without cached bytecode a
login compiles only what it runs (docs/BENCHMARKS.md).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (sshd path)
if TYPE_CHECKING:
    from collections.abc import Mapping

    from registry._name import Name

__all__ = ["MAX_LABEL", "MAX_LOCAL", "MAX_NAME", "chain_root", "normal_name", "split_name",
           "squatted_by"]

MAX_LABEL = 63
MAX_LOCAL = 64
MAX_NAME = 253

_DIGITS = frozenset("0123456789")
_HEX = _DIGITS | frozenset("abcdef")
_LABEL_CHARS = _DIGITS | frozenset("abcdefghijklmnopqrstuvwxyz-")
_LOCAL_CHARS = _LABEL_CHARS | frozenset("._+")


def _is_label(label: str) -> bool:
    """``[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?``: 1-63 of a-z 0-9 -, no ``-`` at either end."""
    return 0 < len(label) <= MAX_LABEL and _LABEL_CHARS.issuperset(label) \
        and label[0] != "-" and label[-1] != "-"


def _is_local(local: str) -> bool:
    """``[a-z0-9_+-](?:[a-z0-9._+-]{0,62}[a-z0-9_+-])?``: 1-64 of a-z 0-9 . _ + -, no ``.`` at an end."""
    return 0 < len(local) <= MAX_LOCAL and _LOCAL_CHARS.issuperset(local) \
        and local[0] != "." and local[-1] != "."


def _is_number(label: str) -> bool:
    """WHATWG URL "ends in a number": the label parses as an IPv4 number part
    (``[0-9]+`` or ``0x[0-9a-f]*``)."""
    if label.startswith("0x"):
        return _HEX.issuperset(label[2:])
    return bool(label) and _DIGITS.issuperset(label)


def split_name(text: str) -> tuple[tuple[str, ...], str | None]:
    """Parse and normalise a registry name: ``(labels, local)`` (``local``: ``None``
    for a DNS-like name), as :class:`registry.names.Name` holds them.

    Raises:
        InvalidName: the text breaks the grammar (:mod:`registry.names`).
    """
    parsed = _parsed.get(text) if isinstance(text, str) else None
    if parsed is None:  # a pure function of the text: recent names parse once
        parsed = _normal_parts(text) if isinstance(text, str) else None
        if parsed is None:  # another form of a name, or no name: the full parse
            from registry._grammar_parse import parse_text

            parsed = parse_text(text)
        if len(_parsed) >= 4096:
            _parsed.clear()
        _parsed[text] = parsed
    return parsed


_parsed: dict[str, tuple[tuple[str, ...], str | None]] = {}


def _normal_parts(text: str) -> tuple[tuple[str, ...], str | None] | None:
    """``split_name(text)`` for a text already in normal form with ASCII labels (no
    ``xn--``) of at most 63 characters in all, or ``None``: any other text takes the full
    parse, which alone normalises and refuses (tests/test_grammar_core.py checks both
    agree). Whole-text checks, no call per label: readers look names up as stored."""
    if not _PLAIN.issuperset(text) or ".." in text or "xn--" in text:
        return None  # upper case, space, non-ASCII, an empty label, an A-label: full path
    local, at, domain = text.rpartition("@")
    if (at and not _is_local(local)) or not 0 < len(domain) <= MAX_LABEL \
            or not _DOMAIN_CHARS.issuperset(domain) or domain[0] in ".-" or domain[-1] in ".-" \
            or ".-" in domain or "-." in domain or _is_number(domain[domain.rfind(".") + 1:]):
        return None
    return tuple(domain.split(".")), local if at else None


_PLAIN = _LOCAL_CHARS | {"@"}
_DOMAIN_CHARS = _LABEL_CHARS | {"."}


def normal_name(name: object) -> str:
    """The normal form of registry name ``name`` (a string, or a parsed name: its ``text``).

    Raises: InvalidName.
    """
    text = name if isinstance(name, str) else getattr(name, "text", name)
    labels, local = split_name(text)  # type: ignore[arg-type]  # refuses a non-string
    domain = ".".join(labels)
    return domain if local is None else f"{local}@{domain}"


def chain_root(name: str, parents: Mapping[str, str | None]) -> str:
    """The top-level registration at the root of ``name``'s registry parent chain.

    ``parents`` maps registered names to their registry parent's text (``None``
    for a top-level registration). A name missing from it is its own root.
    """
    seen = {name}
    while (parent := parents.get(name)) is not None and parent not in seen:
        seen.add(parent)
        name = parent
    return name


def squatted_by(name: str | Name, parents: Mapping[str, str | None]) -> str | None:
    """The registered domain that registered ``name`` squats in, or ``None``: the squatting rule.

    ``parents`` maps every registered name among ``name`` and its DNS
    suffixes to its registry parent's text (``None``: top-level).

    A name counts only if its registry parent chain reaches the closest
    registered DNS ancestor of its chain's root that lies inside the root's
    registrable domain (public suffix + one label; a registered public suffix
    such as ``org`` never speaks for the domains below it). When Mallory
    registered ``web1.corp.org`` top-level and Corp later registered
    ``corp.org``, ``web1.corp.org`` (and ``alice@web1.corp.org``,
    ``db.web1.corp.org`` under it) squat in ``corp.org``: readers serve none of
    their keys. The Public Suffix List is consulted only when a registered
    ancestor of more than one label exists at all.

    Raises: InvalidName.
    """
    labels, local = split_name(chain_root(normal_name(name), parents))
    first = 0 if local is not None else 1  # a (malformed) person root: its domain is an ancestor
    ancestors = [".".join(labels[i:]) for i in range(first, len(labels))]
    # a single label is always a public suffix (the list's "*" rule): no need to load it
    if not any(a in parents and "." in a for a in ancestors):
        return None
    from registry.names import registrable_domain  # the Public Suffix List: rarely needed

    boundary = registrable_domain(".".join(labels))
    if boundary is None:
        return None  # the root is itself a public suffix: nothing above it is a domain owner
    inside = ancestors[:ancestors.index(boundary) + 1] if boundary in ancestors else []
    return next((a for a in inside if a in parents), None)
