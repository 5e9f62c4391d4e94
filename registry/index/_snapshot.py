"""The index's snapshot opened for one trust decision: what sshd's path reads, nothing more.

    with SnapshotReader.open(path, max_staleness=3600) as ix:
        if ix.name_problem(name) is None:
            recs = ix.records(name, key_type=1, purposes=1)

The checks of :class:`registry.index.IndexReader` (which is this class plus
every other lookup, in :mod:`registry.index._query`): the snapshot opened
read-only and ``immutable``, the schema version, staleness, the name grammar
and the squatting rule, the records of one name with their status at the time
asked for. ``keyanchor-ssh`` compiles this module, not the whole reader, when
no bytecode is cached (docs/BENCHMARKS.md). Every failure is
:class:`~registry.errors.IndexUnavailable`.
"""

from __future__ import annotations

import os
import sqlite3
import time

from registry._frozen import Frozen, init_fields
from registry.errors import IndexUnavailable, InvalidName
from registry.index._schema import fingerprint_text, schema_problem

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (sshd path)
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any, Self

__all__ = ["IndexedRecord", "SnapshotReader", "record_status", "valid_name"]


def record_status(valid_from: int, valid_until: int, revoked_at: int | None, now: float) -> str:
    """``revoked``, ``expired``, ``pending`` or ``active`` at ``now`` (Unix seconds)."""
    if revoked_at:
        return "revoked"
    if valid_until and valid_until <= now:
        return "expired"
    if valid_from and valid_from > now:
        return "pending"
    return "active"


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


def _fresh_as_of(meta: dict[str, str]) -> int:
    """The proven head's timestamp, capped at the last successful sync run (an index built
    by hand, without a proven head, counts from that run).

    ``head_current_at``: the time a sync from the embedded chain, the local state file
    itself and not an endpoint that could lag, saw the proven head still be the chain's
    newest block. An idle embedded chain mines nothing, so its newest block ages although
    the index is complete; the index then counts from that sync run instead."""
    last = int(meta["last_sync_time"])
    head = meta.get("head_timestamp")
    if not head:
        return last
    current = meta.get("head_current_at")
    return min(last, max(int(head), int(current))) if current else min(last, int(head))


def _age_text(meta: dict[str, str], age: float) -> str:
    if meta.get("head_timestamp"):
        return (f"the newest block it proved (block {meta.get('head_number', '?')}) is"
                f" {int(age)} s old")
    return f"last synced {int(age)} s ago"


def _identities(text: str | None) -> tuple[str, ...]:
    if text is None:  # every SSH record: no json import on the sshd path
        return ()
    import json

    return tuple(json.loads(text))


def _norm(name: str) -> str:
    from registry._grammar import parse_name

    return parse_name(name).text


_SQLITE_MAGIC = b"SQLite format 3\x00"


#: Bytes a file URI keeps as they are (pathlib's ``as_uri()``: RFC 3986 unreserved and ``/``).
_URI_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~/")


def _file_uri(p: str) -> str:
    """``Path(p).resolve().as_uri()`` without importing pathlib (with re, urllib.parse and
    ipaddress, ~10 ms a login where nothing else loaded them)."""
    return "file://" + "".join(chr(b) if b in _URI_SAFE else f"%{b:02X}"
                               for b in os.fsencode(os.path.realpath(p)))


def _open_snapshot(p: str) -> tuple[sqlite3.Connection, tuple[int, int]]:
    """Connect read-only to the snapshot at ``p``; also return its (device, inode)."""
    try:
        with open(p, "rb") as f:
            st = os.fstat(f.fileno())
            header = f.read(100)
    except OSError as exc:
        raise IndexUnavailable(f"cannot read the index {p}: {exc.strerror or exc}") from exc
    if not header.startswith(_SQLITE_MAGIC) or len(header) < 100:
        raise IndexUnavailable(f"{p} is not a keyanchor index (not an SQLite database)")
    # A published snapshot never changes in place: read it immutable (no locks, no
    # -shm / -wal). A WAL-format file is an index written in place by an older
    # keyanchor: read it the old way until the next sync republishes it.
    mode = "mode=ro" if header[18] == 2 else "mode=ro&immutable=1"
    try:
        conn = sqlite3.connect(f"{_file_uri(p)}?{mode}", uri=True, timeout=5.0,
                               isolation_level=None)
    except sqlite3.Error as exc:
        raise IndexUnavailable(f"cannot open the index {p}: {exc}") from exc
    return conn, (st.st_dev, st.st_ino)


class SnapshotReader:
    """The index opened read-only: open, the records of a name, which names count."""

    def __init__(self, conn: sqlite3.Connection, path: str | os.PathLike[str],
                 ident: tuple[int, int] | None = None) -> None:
        self.conn = conn
        self._path = path
        self.ident = ident
        self._squat: dict[str, str | None] = {}
        self._squat_free: bool | None = None
        self._squat_lookups = 0
        self._ids: dict[bytes, int | None] = {}

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, max_staleness: float | None = None,
             now: float | None = None) -> Self:
        """Open the index at ``path`` read-only.

        ``max_staleness`` (seconds): refuse an index older than that, measured
        from the timestamp of the newest block sync proved (never from the time
        of the last contact: a lagging or frozen endpoint cannot make an index
        look fresh), and never from later than the last successful sync run.

        Raises:
            IndexUnavailable: missing, unreadable, not a keyanchor index, another
                schema version, never synced, or stale.
        """
        p = os.fspath(path)
        if not os.path.isfile(p):
            raise IndexUnavailable(f"no index at {p} (run 'keyanchor sync')")
        conn, ident = _open_snapshot(p)
        try:
            meta = dict(conn.execute(
                "SELECT key, value FROM meta WHERE key IN ('schema', 'last_sync_time',"
                " 'head_timestamp', 'head_number', 'head_current_at')"))
        except sqlite3.Error as exc:
            conn.close()
            raise IndexUnavailable(f"{p} is not a readable keyanchor index ({exc})") from exc
        try:
            problem = schema_problem(meta.get("schema"), p)
            if problem is not None:
                raise IndexUnavailable(problem)
            if "last_sync_time" not in meta:
                raise IndexUnavailable(f"{p} was never synced completely (run 'keyanchor sync')")
            if max_staleness is not None:
                age = (time.time() if now is None else now) - _fresh_as_of(meta)
                if age > max_staleness:
                    raise IndexUnavailable(
                        f"{p} is stale: {_age_text(meta, age)} (limit {int(max_staleness)} s)")
        except BaseException:
            conn.close()
            raise
        return cls(conn, p, ident)

    @property
    def path(self) -> Path:
        """The index file this reader opened."""
        from pathlib import Path

        return Path(self._path)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _q(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            return self.conn.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise IndexUnavailable(f"index {self._path} cannot be read: {exc}") from exc

    def records(self, name: str, *, at: float | None = None, key_type: int | None = None,
                purposes: int | None = None) -> list[IndexedRecord]:
        """Every record of ``name`` (all statuses) in index order, status computed at ``at``.

        ``purposes`` keeps records having all those purpose bits.

        Raises: InvalidName, IndexUnavailable.
        """
        now = time.time() if at is None else at
        sql = (f"SELECT {_COLUMNS} FROM names n JOIN records r ON r.name_id = n.id"
               " WHERE n.name = ?")
        args: list[Any] = [_norm(name)]
        if key_type is not None:
            sql += " AND r.key_type = ?"
            args.append(int(key_type))
        if purposes is not None:
            sql += " AND (r.purposes & ?) = ?"
            args += [int(purposes), int(purposes)]
        return [_record(row, now) for row in self._q(sql + " ORDER BY r.idx", tuple(args))]

    # ----------------------------------------------------------------- which names count

    def _suffix_parents(self, text: str) -> tuple[list[str], dict[str, str | None]]:
        """(``text`` and its DNS suffixes, longest first; registered ones -> parent text).

        A person name's list starts with the person name, then its domain's suffixes.
        """
        local, _, domain = text.rpartition("@")
        labels = domain.split(".")
        suffixes = ([text] if local else []) + [".".join(labels[i:]) for i in range(len(labels))]
        rows = self._q(
            "SELECT n.name, p.name FROM names n LEFT JOIN names p ON p.id = n.parent"
            f" WHERE n.name IN ({','.join('?' * len(suffixes))})", tuple(suffixes))
        return suffixes, {str(n): None if p is None else str(p) for n, p in rows}

    def squatted_by(self, name: str) -> str | None:
        """The registered domain that registered ``name`` squats in (``None``: it does not).

        The rule is :func:`registry.names.squatted_by`: a name registered on its
        own inside a registered domain (``web1.corp.org`` registered top-level,
        ``corp.org`` registered later by someone else), and every name under it,
        does not count; its keys are never served. Cached per reader (the
        snapshot never changes under it).

        Raises: InvalidName, IndexUnavailable.
        """
        from registry._grammar import squatted_by

        text = _norm(name)
        if text not in self._squat:
            if self._no_squatting():
                return None
            _, parents = self._suffix_parents(text)
            self._squat[text] = squatted_by(text, parents) if text in parents else None
        return self._squat[text]

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

    def name_problem(self, name: str) -> str | None:
        """Why the keys of indexed name ``name`` must never be served, or ``None`` if they may be.

        Either the text is not a valid registry name in normal form (an IP
        address literal, a numeric top-level domain, anything the grammar
        refuses: sync indexes such names so the events stay verifiable, and
        nothing serves them), or the name squats in someone else's domain
        (:meth:`squatted_by`).

        Raises: IndexUnavailable.
        """
        if not valid_name(name):
            return f"{name!r} is not a valid registry name"
        squat = self.squatted_by(name)
        if squat is not None:
            return (f"{name} was registered on its own inside {squat}, not created by {squat}'s"
                    " owner (squatting): its keys are not served")
        return None

def valid_name(text: str) -> bool:
    """Whether indexed name text is a valid registry name in normal form."""
    try:
        return _norm(text) == text
    except InvalidName:
        return False

