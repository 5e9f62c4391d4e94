"""The index's snapshot opened for one trust decision, with every check: what a login reads.

    with OpenSnapshot.open(path, max_staleness=3600) as ix:
        if ix.name_problem(name) is None:
            rows = ix.rows("r.material", name, key_type=1, purposes=1)

The snapshot opened read-only and ``immutable``, the schema version,
staleness, the name grammar and the squatting rule, one name's rows. Every
failure is :class:`~registry.errors.IndexUnavailable`.
:class:`registry.index._snapshot.SnapshotReader` adds the records as objects,
:class:`registry.index.IndexReader` every other lookup; ``keyanchor-ssh
authorized-keys`` compiles this module alone when no bytecode is cached
(docs/BENCHMARKS.md).
"""

from __future__ import annotations

import os
import sqlite3
import time

from registry._errors_core import IndexUnavailable, InvalidName
from registry._grammar import normal_name
from registry.index._version import schema_problem

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (sshd path)
if TYPE_CHECKING:
    from typing import Any, Self

__all__ = ["OpenSnapshot", "record_status", "valid_name"]


def record_status(valid_from: int, valid_until: int, revoked_at: int | None, now: float) -> str:
    """``revoked``, ``expired``, ``pending`` or ``active`` at ``now`` (Unix seconds)."""
    if revoked_at:
        return "revoked"
    if valid_until and valid_until <= now:
        return "expired"
    if valid_from and valid_from > now:
        return "pending"
    return "active"


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


_norm = normal_name


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


class OpenSnapshot:
    """The index opened read-only: open, one name's rows, which names count."""

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

    def rows(self, columns: str, name: str, *, key_type: int | None = None,
             purposes: int | None = None) -> list[tuple[Any, ...]]:
        """``columns`` (of ``names n`` and ``records r``) of every record of ``name``, in
        index order; ``purposes`` keeps records having all those purpose bits.

        Raises: InvalidName, IndexUnavailable.
        """
        sql = f"SELECT {columns} FROM names n JOIN records r ON r.name_id = n.id WHERE n.name = ?"
        args: list[Any] = [_norm(name)]
        if key_type is not None:
            sql += " AND r.key_type = ?"
            args.append(int(key_type))
        if purposes is not None:
            sql += " AND (r.purposes & ?) = ?"
            args += [int(purposes), int(purposes)]
        return self._q(sql + " ORDER BY r.idx", tuple(args))

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

    def _no_squatting(self) -> bool:
        """True when no name of this snapshot can squat (a one-lookup reader never knows)."""
        return False

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

