"""A parsed registry name (:class:`Name`) and :func:`parse_name`, on the grammar of :mod:`registry._grammar`.

    >>> parse_name("Alice@Example.org").text
    'alice@example.org'

Documented, and re-exported, in :mod:`registry.names`. The sshd path checks
name texts with :mod:`registry._grammar` alone and never builds a :class:`Name`.
"""

from __future__ import annotations

from registry._frozen import Frozen, init_fields
from registry._grammar import split_name

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from registry.names import Node

__all__ = ["Name", "parse_name"]


class Name(Frozen):
    """A parsed, normalised registry name: ``Name(labels, local=None)``.

    ``labels`` are the DNS labels, leftmost first; ``local`` is the person's
    local part (``None`` for a DNS-like name).
    """

    __slots__ = _fields = ("labels", "local")
    labels: tuple[str, ...]
    local: str | None

    def __init__(self, labels: tuple[str, ...], local: str | None = None) -> None:
        init_fields(self, labels=labels, local=local)

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
        from registry.names import namehash

        return namehash(self)

    def __str__(self) -> str:
        return self.text


def parse_name(text: str | Name) -> Name:
    """Parse and normalise a registry name.

    Raises:
        InvalidName: the text breaks the grammar (:mod:`registry.names`).
    """
    if isinstance(text, Name):
        return text
    return Name(*split_name(text))
