"""The registry name grammar and the squatting rule on name texts: what sshd's path checks.

    >>> normal_name("Alice@Example.org")
    'alice@example.org'

The grammar and :func:`squatted_by` are documented, and re-exported, in
:mod:`registry.names`, which adds the namehash (Keccak), the Public Suffix
List and the rest; :class:`registry.names.Name` (:mod:`registry._name`) is a
parse of :func:`split_name`. ``keyanchor-ssh`` imports this module alone, so
that without cached bytecode a login compiles only what it runs
(docs/BENCHMARKS.md).
"""

from __future__ import annotations

from registry._errors_core import InvalidName  # not registry.errors: sshd path (docs/BENCHMARKS.md)

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



def _domain_labels(domain: str, original: str) -> tuple[str, ...]:
    domain = domain.strip().rstrip(".")
    if not domain:
        raise InvalidName(f"invalid name {original!r}: empty domain")
    if ":" in domain or domain.startswith("["):
        raise InvalidName(f"invalid name {original!r}: an IPv6 address literal is not a name")
    if not domain.isascii():
        from registry._idna import a_label_domain  # only non-ASCII names load IDNA

        domain = a_label_domain(domain, original)
    domain = domain.lower()
    if len(domain) > MAX_NAME:
        raise InvalidName(f"invalid name {original!r}: longer than {MAX_NAME} characters")
    labels = tuple(domain.split("."))
    for label in labels:
        if not label:
            raise InvalidName(f"invalid name {original!r}: empty label")
        if len(label) > MAX_LABEL:
            raise InvalidName(f"invalid name {original!r}: label longer than {MAX_LABEL}")
        if not _is_label(label):
            raise InvalidName(
                f"invalid name {original!r}: label {label!r} must be a-z, 0-9 and '-',"
                " not starting or ending with '-'"
            )
    if any(label.startswith("xn--") for label in labels):
        from registry._idna import check_a_labels

        check_a_labels(labels, original)
    if _is_number(labels[-1]):
        raise InvalidName(
            f"invalid name {original!r}: the last label {labels[-1]!r} is a number"
            " (an IPv4 address or an all-numeric top-level domain), not a name"
        )
    return labels


def split_name(text: str) -> tuple[tuple[str, ...], str | None]:
    """Parse and normalise a registry name: ``(labels, local)`` (``local``: ``None``
    for a DNS-like name), as :class:`registry.names.Name` holds them.

    Raises:
        InvalidName: the text breaks the grammar (:mod:`registry.names`).
    """
    if not isinstance(text, str):
        raise InvalidName(f"invalid name {text!r}: not a string")
    parsed = _parsed.get(text)
    if parsed is None:  # a pure function of the text: recent names parse once
        if len(_parsed) >= 4096:
            _parsed.clear()
        parsed = _parsed[text] = _parse_text(text)
    return parsed


_parsed: dict[str, tuple[tuple[str, ...], str | None]] = {}


def normal_name(name: object) -> str:
    """The normal form of registry name ``name`` (a string, or a parsed name: its ``text``).

    Raises: InvalidName.
    """
    text = name if isinstance(name, str) else getattr(name, "text", name)
    if type(text) is not str:  # a str subclass, or not a string (refused)
        return _normal_form(text)  # type: ignore[arg-type]
    normal = _normal.get(text)  # a pure function of the text: recent names are looked up
    if normal is None:
        normal = text if _already_normal(text) else _normal_form(text)
        if len(_normal) >= 4096:
            _normal.clear()
        _normal[text] = normal
    return normal


def _normal_form(text: str) -> str:
    labels, local = split_name(text)
    domain = ".".join(labels)
    return domain if local is None else f"{local}@{domain}"


_normal: dict[str, str] = {}
_PLAIN = _LOCAL_CHARS | {"@"}
_DOMAIN_CHARS = _LABEL_CHARS | {"."}


def _already_normal(text: str) -> bool:
    """True only when ``text`` is an ASCII registry name already in normal form, so that
    the full parse (:func:`_parse_text`) would give back ``text`` itself: a fast path for
    the names readers look up, which are nearly always written the way they are stored.

    False means nothing but "take the full path" (IDNA, long names, anything to map or
    refuse). tests/test_grammar_fast_path.py checks the claim against the full path.
    """
    if not _PLAIN.issuperset(text) or ".." in text or "xn--" in text:
        return False  # upper case, space, non-ASCII, an empty label, an A-label: full path
    local, at, domain = text.rpartition("@")
    if at and not _is_local(local):  # (also refuses a second "@": not a local part character)
        return False
    return (0 < len(domain) <= MAX_LABEL  # so every label is at most 63 characters
            and _DOMAIN_CHARS.issuperset(domain)
            and domain[0] not in ".-" and domain[-1] not in ".-"
            and ".-" not in domain and "-." not in domain
            and not _is_number(domain[domain.rfind(".") + 1:]))


def _parse_text(text: str) -> tuple[tuple[str, ...], str | None]:
    # what error messages quote: a long text cut in the middle, so an error stays one
    # readable line (the name limits are 64 + 253 characters)
    original = text if len(text) <= 320 else f"{text[:64]}...{text[-16:]}"
    text = text.strip()
    if not text:
        raise InvalidName("invalid name '': empty")
    if "@" in text:
        local, _, domain = text.rpartition("@")
        # ASCII first: str.lower() maps some non-ASCII letters to ASCII (KELVIN SIGN -> "k")
        local = local.lower() if local.isascii() else local
        if not local:
            raise InvalidName(f"invalid name {original!r}: empty local part")
        if len(local) > MAX_LOCAL:
            raise InvalidName(f"invalid name {original!r}: local part longer than {MAX_LOCAL}")
        if not local.isascii() or not _is_local(local) or ".." in local:
            raise InvalidName(
                f"invalid name {original!r}: local part must be a-z, 0-9 and . _ + -,"
                " not starting or ending with '.'"
            )
        return _domain_labels(domain, original), local
    return _domain_labels(text, original), None


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
