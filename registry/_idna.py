"""IDNA 2008 in the name grammar: non-ASCII domains to A-labels, ``xn--`` labels checked.

    a_label_domain("faß.de", "faß.de")   # 'xn--fa-hia.de'

:mod:`registry._grammar` loads this (and the ``idna`` package) only for a name
that has non-ASCII characters or an ``xn--`` label, so an ASCII login never
compiles it.
"""

from __future__ import annotations

import idna

from registry.errors import InvalidName

__all__ = ["a_label_domain", "check_a_labels"]


def a_label_domain(domain: str, original: str) -> str:
    """``domain`` in A-labels: IDNA 2008 with UTS #46 non-transitional mapping, as browsers
    and current resolvers do (Python's built-in "idna" codec is IDNA 2003 and would map
    faß.de to fass.de: two real domains, one registry name).

    Raises: InvalidName (quoting ``original``).
    """
    try:
        return str(idna.encode(domain, uts46=True, transitional=False).decode("ascii"))
    except (idna.IDNAError, UnicodeError) as exc:
        raise InvalidName(f"invalid name {original!r}: not a valid IDNA domain") from exc


def check_a_labels(labels: tuple[str, ...], original: str) -> None:
    """Refuse an ``xn--`` label that is not a valid IDNA 2008 A-label in normal form.

    The contract checks only the characters, so ``xn--zz`` (no Punycode),
    ``xn--ls8h`` (a code point IDNA 2008 disallows) or an A-label of a U-label
    that is not in NFC would otherwise be a second spelling of a name, or one
    no resolver looks up.

    Raises: InvalidName (quoting ``original``).
    """
    for label in labels:
        if not label.startswith("xn--"):
            continue
        try:
            ok = idna.encode(idna.decode(label)).decode("ascii") == label
        except (idna.IDNAError, UnicodeError, ValueError):
            ok = False
        if not ok:
            raise InvalidName(f"invalid name {original!r}: label {label!r} is not a valid IDNA"
                              " 2008 A-label (xn--)")
