"""Registry names: grammar, normalisation and the ENS-style namehash.

    >>> parse_name("Alice@Example.org").text
    'alice@example.org'
    >>> namehash("example.org").hex()[:8]  # doctest: +SKIP

Two kinds of name:

* a DNS-like name (``example.org``, ``web1.example.org``): labels of
  ``[a-z0-9-]``, 1-63 characters, not starting or ending with ``-``; at most
  253 characters in all. Non-ASCII labels are converted to IDNA 2008 A-labels (``xn--``, UTS #46
  non-transitional, as browsers do).
* a person name under a domain (``alice@example.org``): a local part of
  ``[a-z0-9._+-]``, 1-64 characters, not starting or ending with ``.`` and
  without ``..``, then ``@`` and a DNS-like name.

Nodes are ENS namehashes: ``node(".")`` is 32 zero bytes and
``node(label + "." + parent) = keccak256(node(parent) + keccak256(label))``.
A person's label is hashed with an ``@`` prefix (``keccak256("@alice")``), so a
person ``alice@example.org`` and a host ``alice.example.org`` never share a node.
The contract applies the same character rules to each label it receives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NewType

from registry.errors import InvalidName

__all__ = [
    "MAX_LABEL",
    "MAX_LOCAL",
    "MAX_NAME",
    "Name",
    "Node",
    "keccak256",
    "labelhash",
    "namehash",
    "parse_name",
]

Node = NewType("Node", bytes)

MAX_LABEL = 63
MAX_LOCAL = 64
MAX_NAME = 253

_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\Z")
_LOCAL = re.compile(r"[a-z0-9_+-](?:[a-z0-9._+-]{0,62}[a-z0-9_+-])?\Z")


def keccak256(data: bytes) -> bytes:
    """Return the Keccak-256 digest (Ethereum's hash, not NIST SHA3-256)."""
    from Crypto.Hash import keccak  # lazy: keeps `import registry.names` cheap

    return keccak.new(digest_bits=256, data=bytes(data)).digest()


@dataclass(frozen=True, slots=True)
class Name:
    """A parsed, normalised registry name.

    ``labels`` are the DNS labels, leftmost first; ``local`` is the person's
    local part (``None`` for a DNS-like name).
    """

    labels: tuple[str, ...]
    local: str | None = None

    @property
    def domain(self) -> str:
        return ".".join(self.labels)

    @property
    def text(self) -> str:
        return f"{self.local}@{self.domain}" if self.local is not None else self.domain

    @property
    def is_person(self) -> bool:
        return self.local is not None

    @property
    def parent(self) -> Name | None:
        """The name directly above this one (``None`` for a one-label name)."""
        if self.local is not None:
            return Name(self.labels)
        if len(self.labels) > 1:
            return Name(self.labels[1:])
        return None

    @property
    def leaf_label(self) -> str:
        """The label this name adds to its parent (``alice`` or ``web1``)."""
        return self.local if self.local is not None else self.labels[0]

    @property
    def node(self) -> Node:
        return namehash(self)

    def __str__(self) -> str:
        return self.text


def _domain_labels(domain: str, original: str) -> tuple[str, ...]:
    domain = domain.strip().rstrip(".")
    if not domain:
        raise InvalidName(f"invalid name {original!r}: empty domain")
    if not domain.isascii():
        # IDNA 2008 with UTS #46 non-transitional mapping, as browsers and current
        # resolvers do (Python's built-in "idna" codec is IDNA 2003 and would map
        # faß.de to fass.de: two real domains, one registry name).
        import idna

        try:
            domain = idna.encode(domain, uts46=True, transitional=False).decode("ascii")
        except (idna.IDNAError, UnicodeError) as exc:
            raise InvalidName(f"invalid name {original!r}: not a valid IDNA domain") from exc
    domain = domain.lower()
    if len(domain) > MAX_NAME:
        raise InvalidName(f"invalid name {original!r}: longer than {MAX_NAME} characters")
    labels = tuple(domain.split("."))
    for label in labels:
        if not label:
            raise InvalidName(f"invalid name {original!r}: empty label")
        if len(label) > MAX_LABEL:
            raise InvalidName(f"invalid name {original!r}: label longer than {MAX_LABEL}")
        if not _LABEL.match(label):
            raise InvalidName(
                f"invalid name {original!r}: label {label!r} must be a-z, 0-9 and '-',"
                " not starting or ending with '-'"
            )
    return labels


def parse_name(text: str | Name) -> Name:
    """Parse and normalise a registry name.

    Raises:
        InvalidName: the text breaks the grammar above.
    """
    if isinstance(text, Name):
        return text
    if not isinstance(text, str):
        raise InvalidName(f"invalid name {text!r}: not a string")
    original = text
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
        if not local.isascii() or not _LOCAL.match(local) or ".." in local:
            raise InvalidName(
                f"invalid name {original!r}: local part must be a-z, 0-9 and . _ + -,"
                " not starting or ending with '.'"
            )
        return Name(_domain_labels(domain, original), local)
    return Name(_domain_labels(text, original))


def labelhash(label: str, *, person: bool = False) -> bytes:
    """keccak256 of a label (with the ``@`` prefix for a person's local part)."""
    return keccak256((("@" + label) if person else label).encode("ascii"))


def namehash(name: str | Name) -> Node:
    """Return the 32-byte node of a name (ENS namehash; persons hashed as ``@local``).

    Raises:
        InvalidName: the name breaks the grammar.
    """
    parsed = parse_name(name)
    node = b"\x00" * 32
    for label in reversed(parsed.labels):
        node = keccak256(node + labelhash(label))
    if parsed.local is not None:
        node = keccak256(node + labelhash(parsed.local, person=True))
    return Node(node)
