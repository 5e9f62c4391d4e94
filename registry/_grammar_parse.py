"""The full parse of a registry name: other forms normalised, and every refusal.

    >>> parse_text("Alice@Example.org.")
    (('example', 'org'), 'alice')

:func:`registry._grammar.split_name` reads a name already in normal form
itself and hands every other text here: upper case, blanks, a trailing dot,
IDNA, and each message of :class:`~registry.errors.InvalidName`. ``keyanchor-ssh
authorized-keys`` checks names in normal form, so a login does not compile this
module when no bytecode is cached (docs/BENCHMARKS.md).
"""

from __future__ import annotations

from registry._errors_core import InvalidName
from registry._grammar import MAX_LABEL, MAX_LOCAL, MAX_NAME, _is_label, _is_local, _is_number

__all__ = ["parse_text"]


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


def parse_text(text: str) -> tuple[tuple[str, ...], str | None]:
    """:func:`registry._grammar.split_name` of any text. Raises: InvalidName."""
    if not isinstance(text, str):
        raise InvalidName(f"invalid name {text!r}: not a string")
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
