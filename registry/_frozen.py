"""Small immutable records without :mod:`dataclasses` (the sshd path's import budget).

    class Point(Frozen):
        __slots__ = _fields = ("x", "y")

        def __init__(self, x: int, y: int = 0) -> None:
            init_fields(self, x=x, y=y)

``keyanchor-ssh`` runs on every login; importing :mod:`dataclasses` (with
:mod:`inspect`, :mod:`ast`, :mod:`tokenize`) and building each class through
it costs more than the whole lookup. A :class:`Frozen` subclass declares its
fields once (``_fields``; ``_compare`` for those equality and hashing use,
default all) and gets what the frozen dataclasses it replaces offered:
equality and hashing over the fields, a ``repr`` naming them, assignment
refused (``AttributeError``), pickling and :meth:`Frozen.replace`.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Self

__all__ = ["Frozen", "init_fields"]

_set = object.__setattr__


def init_fields(obj: object, **values: object) -> None:
    """Set the fields of a new :class:`Frozen` instance (from its ``__init__``)."""
    for name, value in values.items():
        _set(obj, name, value)


class Frozen:
    """Base of slotted, immutable records compared by value."""

    __slots__ = ()
    #: every field, in constructor order
    _fields: tuple[str, ...] = ()
    #: the fields equality and hashing look at (``None``: all of ``_fields``)
    _compare: tuple[str, ...] | None = None

    def _key(self) -> tuple[object, ...]:
        return tuple(getattr(self, f) for f in (self._compare or self._fields))

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        body = ", ".join(f"{f}={getattr(self, f)!r}" for f in self._fields)
        return f"{type(self).__qualname__}({body})"

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r} of {type(self).__name__}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r} of {type(self).__name__}")

    def __getstate__(self) -> tuple[object, ...]:
        return tuple(getattr(self, f) for f in self._fields)

    def __setstate__(self, state: tuple[object, ...]) -> None:
        for name, value in zip(self._fields, state, strict=True):
            _set(self, name, value)

    def __copy__(self) -> Self:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> Self:
        import copy

        new = object.__new__(type(self))
        new.__setstate__(tuple(copy.deepcopy(getattr(self, f), memo) for f in self._fields))
        return new

    def replace(self, **changes: object) -> Self:
        """A copy with ``changes`` applied (as :func:`dataclasses.replace`).

        Raises: TypeError (a name that is not a field).
        """
        unknown = set(changes) - set(self._fields)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field(s) {', '.join(sorted(unknown))}")
        values = {f: changes.get(f, getattr(self, f)) for f in self._fields}
        return type(self)(**values)
