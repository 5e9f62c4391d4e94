"""The index's snapshot opened for one trust decision, its records as :class:`IndexedRecord`.

    with SnapshotReader.open(path, max_staleness=3600) as ix:
        if ix.name_problem(name) is None:
            recs = ix.records(name, key_type=1, purposes=1)

The checks of :class:`registry.index.IndexReader` (which is this class plus
every other lookup, in :mod:`registry.index._query`) live in
:mod:`registry.index._open` (:class:`OpenSnapshot`, which ``keyanchor-ssh
authorized-keys`` reads alone): the snapshot opened read-only and
``immutable``, the schema version, staleness, the name grammar and the
squatting rule. This adds the records of one name with their status at the
time asked for. Every failure is :class:`~registry.errors.IndexUnavailable`.
"""

from __future__ import annotations

import time

from registry._frozen import Frozen, init_fields
from registry.errors import InvalidName
from registry.index._open import (  # noqa: F401 -- _fresh_as_of, _norm: for _query, _lookups
    OpenSnapshot,
    _fresh_as_of,
    _norm,
    record_status,
    valid_name,
)
from registry.index._schema import fingerprint_text

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (sshd path)
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

__all__ = ["IndexedRecord", "SnapshotReader", "record_status", "valid_name"]


class IndexedRecord(Frozen):
    """One key record as the index holds it (material verified at sync).

    Fields (constructor keywords, in order): ``name``, ``node``, ``index``,
    ``key_type``, ``purposes``, ``status``, ``commitment``, ``material``,
    ``valid_from``, ``valid_until``, ``published_at``, ``revoked_at``,
    ``reason``, ``algorithm``, ``fingerprint``, ``identities``, ``policy``,
    ``block``, ``tx_hash`` and ``policy_detail`` -- what the policy verdict
    means: the profile and policy hash, and for a ``fail`` the failing lint ids
    after ``": "`` (or why it is ``unknown``).

    ``node`` may be given as ``None``: it is then computed from ``name`` (the
    index does not store nodes) the first time it is read.
    """

    _fields = (
        "name", "node", "index", "key_type", "purposes", "status", "commitment", "material",
        "valid_from", "valid_until", "published_at", "revoked_at", "reason", "algorithm",
        "fingerprint", "identities", "policy", "block", "tx_hash", "policy_detail",
    )  # fmt: skip
    __slots__ = tuple("_node" if f == "node" else f for f in _fields)
    _node: bytes | None
    name: str
    index: int
    key_type: int
    purposes: int
    status: str
    commitment: bytes
    material: bytes
    valid_from: int
    valid_until: int
    published_at: int
    revoked_at: int
    reason: int | None
    algorithm: str
    fingerprint: str
    identities: tuple[str, ...]
    policy: str
    block: int
    tx_hash: bytes
    policy_detail: str

    def __init__(self, name: str, node: bytes | None, index: int, key_type: int, purposes: int,
                 status: str, commitment: bytes, material: bytes, valid_from: int,
                 valid_until: int, published_at: int, revoked_at: int, reason: int | None,
                 algorithm: str, fingerprint: str, identities: tuple[str, ...], policy: str,
                 block: int, tx_hash: bytes, policy_detail: str = "") -> None:
        init_fields(self, name=name, _node=node, index=index, key_type=key_type,
                    purposes=purposes, status=status, commitment=commitment, material=material,
                    valid_from=valid_from, valid_until=valid_until, published_at=published_at,
                    revoked_at=revoked_at, reason=reason, algorithm=algorithm,
                    fingerprint=fingerprint, identities=identities, policy=policy, block=block,
                    tx_hash=tx_hash, policy_detail=policy_detail)

    @property
    def node(self) -> bytes:
        """The name's 32-byte node (computed from ``name`` when the index did not give it)."""
        node = self._node
        if node is None:
            from registry.names import raw_namehash

            node = bytes(raw_namehash(self.name))
            object.__setattr__(self, "_node", node)
        return node

    def __setstate__(self, state: tuple[object, ...]) -> None:
        for f, value in zip(self._fields, state, strict=True):
            object.__setattr__(self, "_node" if f == "node" else f, value)

    @property
    def active(self) -> bool:
        return self.status == "active"

    def to_dict(self) -> dict[str, Any]:
        from registry.index._query import record_dict  # not on the sshd path

        return record_dict(self)


_COLUMNS = (
    "n.name, r.idx, r.key_type, r.purposes, r.commitment, r.material, r.valid_from,"
    " r.valid_until, r.published_at, r.revoked_at, r.reason,"
    " (SELECT text FROM texts WHERE id = r.algorithm), r.fingerprint, r.identities, r.policy,"
    " r.block, r.tx_hash, (SELECT text FROM texts WHERE id = r.policy_detail)"
)


def _record(row: tuple[Any, ...], now: float) -> IndexedRecord:
    (name, idx, kt, purposes, commitment, material, vf, vu, pub, rev, reason, alg, fp,
     idents, policy, block, tx, detail) = row
    return IndexedRecord(
        name=name, node=None, index=int(idx), key_type=int(kt), purposes=int(purposes),
        status=record_status(vf, vu, rev, now), commitment=bytes(commitment),
        material=bytes(material), valid_from=int(vf), valid_until=int(vu), published_at=int(pub),
        revoked_at=int(rev), reason=None if reason is None else int(reason), algorithm=str(alg),
        fingerprint=fingerprint_text(fp), identities=_identities(idents), policy=policy, block=int(block),
        tx_hash=bytes(tx), policy_detail=str(detail or ""),
    )


def _identities(text: str | None) -> tuple[str, ...]:
    if text is None:  # every SSH record: no json import on the sshd path
        return ()
    import json

    return tuple(json.loads(text))


class SnapshotReader(OpenSnapshot):
    """The index opened read-only: :class:`OpenSnapshot` and the records of a name as objects."""

    @property
    def path(self) -> Path:
        """The index file this reader opened."""
        from pathlib import Path

        return Path(self._path)

    def records(self, name: str, *, at: float | None = None, key_type: int | None = None,
                purposes: int | None = None) -> list[IndexedRecord]:
        """Every record of ``name`` (all statuses) in index order, status computed at ``at``.

        ``purposes`` keeps records having all those purpose bits.

        Raises: InvalidName, IndexUnavailable.
        """
        now = time.time() if at is None else at
        rows = self.rows(_COLUMNS, name, key_type=key_type, purposes=purposes)
        return [_record(row, now) for row in rows]

    #: Per-name squatting lookups a reader makes before it checks the whole snapshot once.
    SQUAT_SCAN_AFTER = 64

    def _no_squatting(self) -> bool:
        """True when no name of this snapshot can squat (checked once, for long-lived readers).

        A name squats only through its chain root (the first name up its parent
        chain whose registry parent is not its DNS parent, as :meth:`_suffix_parents`
        sees it), so when no root squats, none does. The roots come from one
        scan of ``names``, which a reader makes only after
        :attr:`SQUAT_SCAN_AFTER` per-name lookups (a long-lived gateway, not the
        one-lookup sshd path); until then, and whenever some root squats, names
        are checked one by one.
        """
        if self._squat_free is None:
            self._squat_lookups += 1
            if self._squat_lookups <= self.SQUAT_SCAN_AFTER:
                return False
            from registry._grammar import squatted_by

            roots = self._q(
                "SELECT n.name FROM names n LEFT JOIN names p ON p.id = n.parent"
                " WHERE p.id IS NULL OR substr(n.name, length(n.name) - length(p.name))"
                " NOT IN ('.' || p.name, '@' || p.name)")
            free = True
            for (root,) in roots:
                try:
                    _, parents = self._suffix_parents(_norm(str(root)))
                    free = squatted_by(str(root), parents) is None
                except InvalidName:
                    free = False  # let the per-name check decide (and raise) as before
                if not free:
                    break
            self._squat_free = free
        return self._squat_free
