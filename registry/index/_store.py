"""The write side of the index: a private working SQLite file, published by atomic replacement.

    with Store.open(path) as store, store.transaction():
        store.apply(event)            # one decoded, verified KeyRegistry event
    # closing published it: readers now see the new state at ``path``

Two files. The writer works on ``<path>.work`` (WAL, mode 0600: nobody else
opens it). Readers -- sshd's ``AuthorizedKeysCommandUser``, users running ssh
with ``KnownHostsCommand``, ``keyanchor serve`` -- read ``path``, a complete
snapshot (rollback-journal format, mode 0644) that :meth:`Store.publish`
writes to a temporary file beside it and renames over ``path``; closing a
Store publishes. A reader therefore needs only read permission on ``path``
(and search permission on its directories), opens it ``immutable`` (no lock,
no ``-wal``/``-shm``, nothing written), cannot slow down or block the writer,
and never sees half a sync: it keeps the snapshot it opened until it opens
``path`` again.

Every sync page is one SQLite transaction on the working file: either all of
a page's events, its block hashes and the new ``synced_block`` are stored, or
none of them (a process killed mid-page leaves the previous page's state, and
the next sync starts from there). :meth:`Store.rollback_to` undoes everything
above a block (reorgs). Deleting ``path`` starts the index over (the working
file is discarded with it). Stdlib only; parsing and policy verdicts arrive
precomputed in the events (see :mod:`registry.index._sync`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import stat
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from registry.errors import Error, IndexUnavailable
from registry.index._evdata import decode_fields, encode_fields, shown_fields
from registry.index._lookups import (
    extra_of,
    hint_of,
    node_hash,
    node_of_id,
    published_fields,
    registered_fields,
)
from registry.index._schema import (
    MIGRATED_FROM,
    PAGE_SIZE,
    SCHEMA,
    SCHEMA_VERSION,
    fingerprint_key,
    fingerprint_text,
    schema_problem,
)

__all__ = ["PUBLISHED_MODE", "Event", "ParsedKey", "Store", "work_path"]

#: Mode of the published snapshot, whatever the umask: the index holds public
#: chain data only; restrict who reads it with its directory's mode and group.
PUBLISHED_MODE = 0o644
#: Mode of directories :meth:`Store.open` creates (readers must be able to search them).
DIR_MODE = 0o755
#: Mode of the private working file (and, through SQLite, its -wal / -shm).
WORK_MODE = 0o600

#: Meta keys left out of :meth:`Store.digest` (they change on every run).
_VOLATILE_META = frozenset({"last_sync_time", "head_seen", "head_current_at"})
_ZERO32 = b"\x00" * 32
#: SQLite's largest INTEGER. A uint64 the contract accepts (an attestation that
#: ``expires`` at 2**64 - 1: any name owner can attest any record) is stored
#: clamped to it -- still "never" -- instead of failing every sync from then on.
_SQLITE_MAX_INT = 2**63 - 1
#: Node -> id entries a Store caches before it starts over (a sync touches each name a few times).
_ID_CACHE = 200_000
#: Tables that name a name by ``name_id``.
_NAME_TABLES = ("events", "records", "fingerprints", "identities", "operators", "attestations",
                "held_attestations", "blocked", "dns_control")


def normalize_fingerprint(fp: str) -> str:
    """The form fingerprints are stored and looked up in: SSH ``SHA256:`` base64 as is (it is
    case-sensitive), hex (OpenPGP, X.509 certificate and SPKI pins) upper-case without colons."""
    fp = fp.strip()
    if fp.startswith("SHA256:"):
        return fp
    return fp.removeprefix("0x").removeprefix("0X").replace(":", "").upper()


@dataclass(frozen=True, slots=True)
class ParsedKey:
    """What sync learnt from a record's material: parse results and the policy verdict.

    ``policy`` is ``"pass"``, ``"fail"`` or ``"unknown"`` (no checker, or it
    could not evaluate the key); ``policy_detail`` says which profile / why.
    """

    algorithm: str
    fingerprints: tuple[str, ...]
    identities: tuple[str, ...] = ()
    policy: str = "unknown"
    policy_detail: str = ""


#: A KeyPublished's ``parsed`` while its verdict is computed elsewhere: the record row is
#: stored without parse results and :meth:`Store.set_parsed` fills them in before the commit.
PENDING = ParsedKey("", (), (), "pending", "")


@dataclass(frozen=True, slots=True)
class Event:
    """One decoded ``KeyRegistry`` event, as the store applies it.

    ``kind`` is the contract's event name; ``data`` its fields (bytes, ints,
    strings, bools). A ``NameRegistered`` carries ``name`` (the reconstructed
    text); a ``KeyPublished`` carries ``parsed`` (:class:`ParsedKey`).
    """

    kind: str
    block: int
    log_index: int
    tx_hash: bytes
    node: bytes
    timestamp: int
    data: dict[str, Any] = field(default_factory=dict)
    parsed: ParsedKey | None = None

    def to_json(self) -> dict[str, Any]:
        """The event's fields as history shows them (material, proof and node left out)."""
        out: dict[str, Any] = {}
        for key, value in self.data.items():
            if key in ("material", "proof", "node"):  # node: its own column
                continue
            out[key] = "0x" + bytes(value).hex() if isinstance(value, bytes | bytearray) else value
        return out


def _h(value: Any) -> bytes:
    if isinstance(value, str):
        return bytes.fromhex(value.removeprefix("0x"))
    return bytes(value)


def work_path(path: str | os.PathLike[str]) -> Path:
    """The writer's private working file for the index published at ``path``."""
    p = Path(path)
    return p.with_name(p.name + ".work")


def _mkdirs(d: Path) -> None:
    """Create ``d`` and missing parents with mode 0755, whatever the umask."""
    missing = []
    while not d.exists():
        missing.append(d)
        if d.parent == d:
            break
        d = d.parent
    for m in reversed(missing):
        with contextlib.suppress(FileExistsError):
            m.mkdir()
            m.chmod(DIR_MODE)


def _refuse_links(published: Path, work: Path) -> None:
    """Refuse a symbolic link (or anything but a regular file) at the index, its working file
    or the working file's ``-wal`` / ``-shm``: whoever can write the directory could point
    one at any file, which sync (run as root, say) would chmod, seed from or write a
    database into. Raises IndexUnavailable naming it."""
    for f in (published, work, work.with_name(work.name + "-wal"),
              work.with_name(work.name + "-shm")):
        try:
            st = os.lstat(f)
        except FileNotFoundError:
            continue
        if stat.S_ISLNK(st.st_mode):
            raise IndexUnavailable(f"refusing the index {published}: {f} is a symbolic link"
                                   " (name the index file itself; remove the link if you did"
                                   " not make it)")
        if not stat.S_ISREG(st.st_mode):
            raise IndexUnavailable(f"refusing the index {published}: {f} is not a regular file")


def _remove_work(work: Path) -> None:
    for f in (work, work.with_name(work.name + "-wal"), work.with_name(work.name + "-shm")):
        with contextlib.suppress(FileNotFoundError):
            f.unlink()


def _seed_work(published: Path, work: Path) -> None:
    """Start the working file from the published snapshot (an index from before the split)."""
    src = sqlite3.connect(published, isolation_level=None)
    try:
        dst = sqlite3.connect(work, isolation_level=None)
        try:
            src.backup(dst)
        finally:
            dst.close()
    except BaseException:
        _remove_work(work)
        raise
    finally:
        src.close()


def _fsync_dir(d: Path) -> None:
    try:
        fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class Store:
    """The index opened for writing (one writer at a time; readers never block it)."""

    def __init__(self, conn: sqlite3.Connection, path: Path, work: Path | None = None) -> None:
        self.conn = conn
        self.path = path
        self.work = work if work is not None else work_path(path)
        self._closed = False
        self._ids: dict[bytes, int] = {}
        self._texts: dict[str, int] = {}
        self._parents: dict[int, str | None] = {}  # name id -> its text, of registered parents
        #: name id -> (name, owner) of names this Store registered or read (sync asks for
        #: both at every KeyPublished); kept in step with every write of an owner
        self._named: dict[int, tuple[str, str | None]] = {}

    # ----------------------------------------------------------------- lifecycle

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, timeout: float = 30.0) -> Store:
        """Open (creating if needed) the index published at ``path`` for writing.

        Works on ``<path>.work``; creates it from ``path`` when only ``path``
        exists, and discards it when ``path`` was deleted (start over). A new
        index is published at once (empty, never synced).

        An index of schema 2 or 3 is migrated to schema 4 in place (a new working
        file, then published at once; one it cannot migrate is refused with a
        "re-sync needed" line); a newer schema is refused.

        Raises:
            IndexUnavailable: the files cannot be created, are not a keyanchor
                index, or have a newer (or unknown) schema version.
        """
        p = Path(path)
        work = work_path(p)
        try:
            _mkdirs(p.parent)
            _refuse_links(p, work)
            seeded = False
            if not p.exists():
                _remove_work(work)
            elif not work.exists():
                _seed_work(p, work)
                seeded = True
            # never through a symbolic link (one planted after the check above): the mode is
            # set on the file opened, which O_NOFOLLOW makes the working file itself
            fd = os.open(work, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, WORK_MODE)
            try:
                os.fchmod(fd, WORK_MODE)
            finally:
                os.close(fd)
            found = _schema_of(work)
            if found is None and _foreign(work):  # another program's database: leave it be
                if seeded:
                    _remove_work(work)
                raise IndexUnavailable(
                    f"{p} is not a keyanchor index (an SQLite database of something else):"
                    " nothing was changed; give the index another file name")
            migrated = found in MIGRATED_FROM
            if found == "2":
                _migrate_2_to_3(work)
            if migrated:
                _migrate_3_to_4(work, p)
            conn = sqlite3.connect(work, timeout=timeout, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise IndexUnavailable(f"cannot open the index {p}: {exc}"
                                   f"{_owner_hint(p.parent)}") from exc
        try:
            if conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0] == 0:
                conn.execute(f"PRAGMA page_size={PAGE_SIZE}")  # before the first table
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: safe against process crashes
            conn.execute("PRAGMA foreign_keys=OFF")
            if found is not None and not migrated:
                problem = schema_problem(found, p)
                if problem is not None:
                    raise IndexUnavailable(problem)
            conn.executescript(SCHEMA)
            row = conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if row is None:
                conn.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            elif (problem := schema_problem(row[0], p)) is not None:
                raise IndexUnavailable(problem)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise IndexUnavailable(f"{p} is not a keyanchor index ({exc})") from exc
        except IndexUnavailable:
            conn.close()
            raise
        store = cls(conn, p, work)
        if migrated or not p.exists():
            try:
                store.publish()
            except BaseException:
                conn.close()
                raise
        return store

    def publish(self) -> None:
        """Replace the published snapshot at :attr:`path` with the working file's state.

        A complete, compacted copy (``VACUUM INTO``, rollback-journal format) is
        written to a temporary file in the same directory, made mode 0644,
        flushed, and renamed over ``path``: a reader sees the old snapshot or
        the new one, never a mixture, and never needs write access. Concurrent
        publishers are serialised (``flock`` on the working file), so the last
        rename is always the newest state.

        Raises:
            IndexUnavailable: the snapshot cannot be written.
        """
        import fcntl

        d = self.path.parent
        tmp: str | None = None
        try:
            with open(self.work, "rb") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                fd, tmp = tempfile.mkstemp(dir=d, prefix=f".{self.path.name}.", suffix=".tmp")
                os.close(fd)
                if self.conn.in_transaction:  # a snapshot of committed state only
                    raise IndexUnavailable("cannot publish inside a transaction")
                # VACUUM INTO: every table and index rebuilt in key order (full pages,
                # no free pages), rollback-journal format, the working file untouched
                self.conn.execute("VACUUM INTO ?", (tmp,))
                dst = sqlite3.connect(tmp, isolation_level=None)
                try:
                    dst.execute("PRAGMA journal_mode=DELETE")
                finally:
                    dst.close()
                os.chmod(tmp, PUBLISHED_MODE)
                with open(tmp, "rb") as f:
                    os.fsync(f.fileno())
                os.replace(tmp, self.path)
                tmp = None
                _fsync_dir(d)
        except (OSError, sqlite3.Error) as exc:
            raise IndexUnavailable(f"cannot publish the index {self.path}: {exc}") from exc
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)

    def close(self) -> None:
        """Publish the working state (see :meth:`publish`) and close. Raises: IndexUnavailable."""
        if self._closed:
            return
        self._closed = True
        try:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            self.publish()
        finally:
            self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.close()
            return
        with contextlib.suppress(Error):  # keep the original exception
            self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic unit (``BEGIN IMMEDIATE`` … ``COMMIT``; rolled back on any exception)."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise IndexUnavailable(f"cannot write the index {self.path}: {exc}") from exc
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            self._forget()
            raise
        try:
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise IndexUnavailable(f"cannot commit to the index {self.path}: {exc}") from exc

    def _forget(self) -> None:
        """Drop cached ids (a rolled-back transaction may have made them)."""
        self._ids.clear()
        self._texts.clear()
        self._parents.clear()
        self._named.clear()

    # ----------------------------------------------------------------- ids

    def _text_id(self, text: str) -> int:
        """The ``texts`` id of ``text`` (added when new)."""
        tid = self._texts.get(text)
        if tid is None:
            row = self.conn.execute("SELECT id FROM texts WHERE text = ?", (text,)).fetchone()
            if row is None:
                tid = int(self.conn.execute("INSERT INTO texts (text) VALUES (?)",
                                            (text,)).lastrowid or 0)
            else:
                tid = int(row[0])
            if len(self._texts) > _ID_CACHE:
                self._texts.clear()
            self._texts[text] = tid
        return tid

    def _known_text(self, text: str) -> int | None:
        row = self.conn.execute("SELECT id FROM texts WHERE text = ?", (text,)).fetchone()
        return None if row is None else int(row[0])

    def _id_of(self, node: bytes, *, create: bool = False) -> int | None:
        """The name id of ``node``; with ``create``, a new ``nodes`` id for an unknown node."""
        node = bytes(node)
        nid = self._ids.get(node)
        if nid is None:
            nid = self._find_id(node)
            if nid is None:
                if not create:
                    return None
                low = self.conn.execute("SELECT min(id) FROM nodes").fetchone()[0]
                nid = min(-1, int(low or 0) - 1)
                self.conn.execute("INSERT INTO nodes VALUES (?, ?)", (nid, node))
            self._remember(node, nid)
        return nid

    def _find_id(self, node: bytes) -> int | None:
        """:func:`id_of_node` in one statement (a name whose text hashes to ``node``, else its
        ``nodes`` row)."""
        found = None
        for nid, text in self.conn.execute(
                "SELECT id, name FROM names WHERE hint = ? UNION ALL"
                " SELECT id, NULL FROM nodes WHERE node = ?", (hint_of(node), node)):
            if text is None:
                found = int(nid)
            elif node_hash(str(text)) == node:
                return int(nid)
        return found

    def _remember(self, node: bytes, nid: int) -> None:
        if len(self._ids) > _ID_CACHE:
            self._ids.clear()
        self._ids[node] = nid

    def _node_of(self, nid: int) -> bytes | None:
        return node_of_id(self.conn, nid)

    def _ids_of(self, nodes: Sequence[bytes]) -> dict[int, bytes]:
        """id -> node for those of ``nodes`` the index knows."""
        out = {}
        for n in nodes:
            nid = self._id_of(n)
            if nid is not None:
                out[nid] = bytes(n)
        return out

    def node_ids(self) -> dict[bytes, int]:
        """node -> id of every name (hashes every name's text: for audits)."""
        return {node_hash(str(t)): int(i) for i, t in self.conn.execute("SELECT id, name FROM names")}

    # ----------------------------------------------------------------- meta

    def meta(self, key: str, default: str | None = None) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return default if row is None else str(row[0])

    def set_meta(self, key: str, value: object) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, str(value)))

    @property
    def synced_block(self) -> int | None:
        value = self.meta("synced_block")
        return None if value is None else int(value)

    def mark_synced(self, now: float | None = None, *,
                    head: tuple[int, bytes, bytes | None, int] | None = None,
                    head_is_newest: bool = False) -> None:
        """Record a successful sync run (``last_sync_time``) and, when given, its proven head.

        Readers measure staleness from the proven head's timestamp (and never from a
        later time than the last successful run); an index built by hand, without a
        proven head, counts from ``last_sync_time``. ``head_is_newest``: the source is
        the embedded chain's own state file and ``head`` was its newest block at the
        end of this run (``head_current_at``): an idle local chain does not age the
        index. Any other run forgets that mark.
        """
        when = int(time.time() if now is None else now)
        self.set_meta("last_sync_time", when)
        if head is not None:
            self.set_proven_head(*head)
        if head is not None and head_is_newest:
            self.set_meta("head_current_at", when)
        else:
            self.conn.execute("DELETE FROM meta WHERE key = 'head_current_at'")

    # ----------------------------------------------------------------- proven head

    def proven_head(self) -> tuple[int, bytes, bytes | None, int] | None:
        """(number, hash, event digest, timestamp) of the newest block sync proved, or None."""
        rows = dict(self.conn.execute(
            "SELECT key, value FROM meta WHERE key IN ('head_number', 'head_hash',"
            " 'head_digest', 'head_timestamp')"))
        if "head_number" not in rows or "head_hash" not in rows:
            return None
        digest = rows.get("head_digest")
        return (int(rows["head_number"]), bytes.fromhex(rows["head_hash"]),
                bytes.fromhex(digest) if digest else None, int(rows.get("head_timestamp", 0)))

    def set_proven_head(self, number: int, block_hash: bytes, digest: bytes | None,
                        timestamp: int) -> None:
        """The newest block whose header k endpoints agreed on and whose digest was proven."""
        self.set_meta("head_number", int(number))
        self.set_meta("head_hash", bytes(block_hash).hex())
        self.set_meta("head_digest", bytes(digest).hex() if digest is not None else "")
        self.set_meta("head_timestamp", int(timestamp))
        self.conn.execute("DELETE FROM meta WHERE key = 'head_current_at'")  # until marked again

    def clear_proven_head(self) -> None:
        self.conn.execute("DELETE FROM meta WHERE key IN ('head_number', 'head_hash',"
                          " 'head_digest', 'head_timestamp', 'head_current_at')")

    # ----------------------------------------------------------------- blocks

    def add_block(self, number: int, block_hash: bytes, timestamp: int,
                  digest: bytes | None = None) -> None:
        """Remember a block (its hash for reorg checks; the event digest after it)."""
        self.conn.execute(
            "INSERT OR REPLACE INTO blocks VALUES (?, ?, ?, ?)",
            (number, bytes(block_hash), timestamp, None if digest is None else bytes(digest)),
        )

    @property
    def event_digest(self) -> bytes | None:
        """The contract's event digest after the synced block (None before the first page)."""
        value = self.meta("event_digest")
        return None if value is None else bytes.fromhex(value)

    def set_event_digest(self, digest: bytes) -> None:
        self.set_meta("event_digest", bytes(digest).hex())

    def digest_at(self, block: int) -> bytes | None:
        """The event digest after ``block``: that of the highest stored block at or below it
        (blocks in between carried no event), else the digest sync started from."""
        row = self.conn.execute(
            "SELECT digest FROM blocks WHERE number <= ? AND digest IS NOT NULL"
            " ORDER BY number DESC LIMIT 1", (int(block),)).fetchone()
        if row is not None:
            return bytes(row[0])
        start = self.meta("start_digest")
        return None if start is None else bytes.fromhex(start)

    def stored_blocks(self, *, limit: int | None = None) -> list[tuple[int, bytes]]:
        """Stored (number, hash) pairs, highest first."""
        sql = "SELECT number, hash FROM blocks ORDER BY number DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [(int(n), bytes(h)) for n, h in self.conn.execute(sql)]

    # ----------------------------------------------------------------- reads sync needs

    def name_of(self, node: bytes) -> str | None:
        return self.name_and_owner(node)[0]

    def name_and_owner(self, node: bytes) -> tuple[str | None, str | None]:
        """(:meth:`name_of`, :meth:`owner_of`) in one query (none for a name this Store
        registered or read since its last rollback)."""
        nid = self._id_of(node)
        if nid is None or nid < 0:
            return None, None
        named = self._named.get(nid)
        if named is not None:
            return named
        row = self.conn.execute("SELECT n.name, t.text FROM names n LEFT JOIN texts t"
                                " ON t.id = n.owner WHERE n.id=?", (nid,)).fetchone()
        if row is None:
            return None, None
        named = str(row[0]), None if row[1] is None else str(row[1])
        self._name_is(nid, named)
        return named

    def owner_of(self, node: bytes) -> str | None:
        return self.name_and_owner(node)[1]

    def _name_is(self, nid: int, named: tuple[str, str | None]) -> None:
        if len(self._named) > _ID_CACHE:
            self._named.clear()
        self._named[nid] = named

    def records_raw(self, node: bytes) -> list[dict[str, Any]]:
        """The stored records of a node, in index order, as dicts (for verification)."""
        nid = self._id_of(node)
        if nid is None:
            return []
        cur = self.conn.execute(
            "SELECT idx, commitment, key_type, purposes, valid_from, valid_until, durable,"
            " published_at, revoked_at, reason FROM records WHERE name_id=? ORDER BY idx", (nid,))
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur]

    def attestations_raw(self, node: bytes, idx: int) -> list[tuple[bytes, bytes, int, int]]:
        """The live attestations of one record, counting or held (attester blocked):
        (attester, policy_hash, expires, attested_at), sorted."""
        nid = self._id_of(node)
        if nid is None:
            return []
        return sorted(
            (bytes(a), bytes(p), int(e), int(t)) for table in ("attestations", "held_attestations")
            for a, p, e, t in self.conn.execute(
                f"SELECT attester, policy_hash, expires, attested_at FROM {table}"
                " WHERE name_id=? AND idx=?", (nid, int(idx))))

    def attesters_of(self, node: bytes, idx: int) -> list[bytes]:
        """Every name that ever attested one record (from the stored events), sorted."""
        return sorted({a for (n, i, a) in self.attested([bytes(node)]) if i == int(idx)})

    def attested(self, nodes: Sequence[bytes]) -> set[tuple[bytes, int, bytes]]:
        """(node, record index, attester) of every ``Attested`` event stored for ``nodes``."""
        out = set()
        ids = self._ids_of(nodes)
        keys = list(ids)
        for lo in range(0, len(keys), 500):
            chunk = keys[lo:lo + 500]
            for n, data in self.conn.execute(
                    f"SELECT name_id, data FROM events WHERE kind = 'Attested'"
                    f" AND name_id IN ({','.join('?' * len(chunk))})", chunk):
                d = decode_fields(data)
                out.add((ids[int(n)], int(d["index"]), _h(d["attester"])))  # type: ignore[call-overload]
        return out

    def is_blocked(self, node: bytes, attester: bytes) -> bool:
        nid = self._id_of(node)
        row = None if nid is None else self.conn.execute(
            "SELECT 1 FROM blocked WHERE name_id=? AND attester=?", (nid, bytes(attester))).fetchone()
        return row is not None

    def commitment_of(self, node: bytes, idx: int) -> bytes | None:
        nid = self._id_of(node)
        row = None if nid is None else self.conn.execute(
            "SELECT commitment FROM records WHERE name_id=? AND idx=?", (nid, int(idx))).fetchone()
        return None if row is None else bytes(row[0])

    def renounced_of(self, node: bytes) -> bool | None:
        nid = self._id_of(node)
        row = None if nid is None else self.conn.execute(
            "SELECT renounced FROM names WHERE id=?", (nid,)).fetchone()
        return None if row is None else bool(row[0])

    def operator_approved(self, node: bytes, owner: str, operator: str) -> bool:
        """Whether ``owner`` approved ``operator`` on ``node`` (False when the index has no row)."""
        nid, o, op = self._id_of(node), self._known_text(owner), self._known_text(operator)
        if nid is None or o is None or op is None:
            return False
        row = self.conn.execute(
            "SELECT approved FROM operators WHERE name_id=? AND owner=? AND operator=?",
            (nid, o, op)).fetchone()
        return row is not None and bool(row[0])

    # ----------------------------------------------------------------- apply

    def apply(self, ev: Event) -> None:
        """Apply one event (call inside :meth:`transaction`).

        ``NameRegistered`` and ``KeyPublished`` become a ``names`` / ``records``
        row (no event row: history rebuilds them); every other event is stored
        as it is and applied.

        Raises:
            IndexUnavailable: the event does not fit the stored state (sync maps
                this to a verification failure).
        """
        node = bytes(ev.node)
        d = ev.data
        try:
            if ev.kind == "NameRegistered":
                self._register(ev, node, d)
                return
            nid = self._id_of(node, create=True)
            assert nid is not None
            if ev.kind != "KeyPublished":
                self.conn.execute(
                    "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)",
                    (nid, ev.block, ev.log_index, bytes(ev.tx_hash), ev.kind, _event_fields(ev)),
                )
            handler = getattr(self, "_on_" + ev.kind, None)
            if handler is not None:
                handler(ev, nid, d)
        except sqlite3.IntegrityError as exc:
            raise IndexUnavailable(f"{ev.kind} in block {ev.block} conflicts with the index: {exc}") from exc

    def _register(self, ev: Event, node: bytes, d: dict[str, Any]) -> None:
        c = self.conn
        before = self._id_of(node)
        if before is not None and before > 0:
            raise IndexUnavailable(f"NameRegistered in block {ev.block} conflicts with the index:"
                                   f" 0x{node.hex()} is registered already")
        parent = _h(d["parent"])
        pid, pname = 0, None
        if parent != _ZERO32:
            pid = self._id_of(parent, create=True) or 0
            if pid in self._parents:  # a name's text never changes (ids: until _forget)
                pname = self._parents[pid]
            else:
                row = c.execute("SELECT name FROM names WHERE id=?", (pid,)).fetchone()
                pname = None if row is None else str(row[0])
                if pname is not None:
                    if len(self._parents) > _ID_CACHE // 16:
                        self._parents.clear()
                    self._parents[pid] = pname
        name, owner = str(d["name"]), str(d["owner"])
        rebuilt = registered_fields(name, pname, parent, bool(d["person"]), owner)
        extra = _registered_extra(ev, rebuilt)
        owner_id = self._text_id(owner)
        nid = int(c.execute(
            "INSERT INTO names (name, hint, parent, person, registrant, owner, block, log_index,"
            " tx_hash, extra) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (name, hint_of(node), pid, int(bool(d["person"])), owner_id, owner_id, ev.block,
             ev.log_index, bytes(ev.tx_hash), extra),
        ).lastrowid or 0)
        if before is not None:  # events named it before it was registered: they are its now
            self._move(before, nid)
        self._remember(node, nid)
        self._name_is(nid, (name, owner))

    def _move(self, old: int, new: int) -> None:
        """Make every row naming name id ``old`` name ``new``."""
        for table in _NAME_TABLES:
            self.conn.execute(f"UPDATE {table} SET name_id=? WHERE name_id=?", (new, old))
        self.conn.execute("UPDATE names SET parent=? WHERE parent=?", (new, old))

    def _on_OwnershipTransferred(self, ev: Event, nid: int, d: dict[str, Any]) -> None:
        _changed(self.conn.execute("UPDATE names SET owner=? WHERE id=?",
                                   (self._text_id(str(d["owner"])), nid)), ev)
        named = self._named.get(nid)
        if named is not None:
            self._named[nid] = (named[0], str(d["owner"]))
        self.conn.execute("DELETE FROM operators WHERE name_id=?", (nid,))  # a transfer ends every approval

    def _on_ChildRenounced(self, ev: Event, nid: int, d: dict[str, Any]) -> None:
        _changed(self.conn.execute("UPDATE names SET renounced=1 WHERE id=?", (nid,)), ev)

    def _on_OperatorSet(self, ev: Event, nid: int, d: dict[str, Any]) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO operators VALUES (?, ?, ?, ?)",
            (nid, self._text_id(str(d["owner"])), self._text_id(str(d["operator"])),
             int(bool(d["approved"]))),
        )

    def _on_KeyPublished(self, ev: Event, nid: int, d: dict[str, Any]) -> None:
        c = self.conn
        p = ev.parsed or ParsedKey("unknown", ())
        idx = int(d["index"])
        row = (int(d["key_type"]), int(d["purposes"]), _h(d["commitment"]), int(d["valid_from"]),
               int(d["valid_until"]), int(bool(d["durable"])))
        extra = _published_extra(ev, idx, row)
        pending = p is PENDING
        c.execute(
            "INSERT INTO records (name_id, idx, key_type, purposes, commitment, valid_from,"
            " valid_until, durable, material, proof, published_at, block, log_index, tx_hash,"
            " algorithm, fingerprint, identities, policy, policy_detail, extra)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (nid, idx, *row, bytes(d["material"]), bytes(d["proof"]), ev.timestamp, ev.block,
             ev.log_index, bytes(ev.tx_hash), 0 if pending else self._text_id(p.algorithm),
             fingerprint_key(p.fingerprints[0]) if p.fingerprints else b"",
             json.dumps(list(p.identities)) if p.identities else None, p.policy,
             0 if pending else self._text_id(p.policy_detail),
             extra),
        )
        if not pending:
            self._index_parsed(nid, idx, p)

    def set_parsed(self, items: Sequence[tuple[bytes, int, ParsedKey]]) -> None:
        """Fill in records stored with :data:`PENDING` (``(node, record index, parse results
        and verdict)`` each), inside the transaction that stored them, before anything else
        reads them.

        Raises:
            IndexUnavailable: one of them is not a record waiting for its verdict.
        """
        rows, fps, idents = [], [], []
        for node, idx, p in items:
            nid = self._id_of(bytes(node))
            if nid is None:
                raise IndexUnavailable(f"0x{bytes(node).hex()} is not indexed")
            keys = [fingerprint_key(fp) for fp in p.fingerprints]
            rows.append((self._text_id(p.algorithm), keys[0] if keys else b"",
                         json.dumps(list(p.identities)) if p.identities else None, p.policy,
                         self._text_id(p.policy_detail), nid, int(idx)))
            fps += [(key, nid, int(idx)) for key in keys]
            idents += [(ident.lower(), nid, int(idx)) for ident in p.identities]
        c = self.conn
        cur = c.executemany(
            "UPDATE records SET algorithm=?, fingerprint=?, identities=?, policy=?,"
            " policy_detail=? WHERE name_id=? AND idx=? AND policy='pending'", rows)
        if cur.rowcount != len(rows):
            raise IndexUnavailable(f"{len(rows) - cur.rowcount} of {len(rows)} records are not"
                                   " waiting for their verdicts")
        c.executemany("INSERT OR IGNORE INTO fingerprints VALUES (?, ?, ?)", fps)
        if idents:
            c.executemany("INSERT OR IGNORE INTO identities VALUES (?, ?, ?)", idents)

    def _index_parsed(self, nid: int, idx: int, p: ParsedKey) -> None:
        """The fingerprint and identity rows of a record's parse results."""
        c = self.conn
        c.executemany(
            "INSERT OR IGNORE INTO fingerprints VALUES (?, ?, ?)",
            [(fingerprint_key(fp), nid, idx) for fp in p.fingerprints],
        )
        if p.identities:
            c.executemany(
                "INSERT OR IGNORE INTO identities VALUES (?, ?, ?)",
                [(ident.lower(), nid, idx) for ident in p.identities],
            )

    def _on_KeyRevoked(self, ev: Event, nid: int, d: dict[str, Any]) -> None:
        _changed(
            self.conn.execute(
                "UPDATE records SET revoked_at=?, reason=?, revoked_block=?, revocation=?"
                " WHERE name_id=? AND idx=? AND commitment=? AND revoked_block IS NULL",
                (ev.timestamp, int(d["reason"]), ev.block, _h(d.get("revocation", b"")), nid,
                 int(d["index"]), _h(d["commitment"])),
            ),
            ev,
        )

    def _on_Attested(self, ev: Event, nid: int, d: dict[str, Any]) -> None:
        c = self.conn
        blocked = c.execute("SELECT 1 FROM blocked WHERE name_id=? AND attester=?",
                            (nid, _h(d["attester"]))).fetchone()
        table = "held_attestations" if blocked else "attestations"
        c.execute(
            f"INSERT OR REPLACE INTO {table} VALUES (?, ?, ?, ?, ?, ?)",
            (nid, int(d["index"]), _h(d["attester"]), _h(d["policy_hash"]),
             min(int(d["expires"]), _SQLITE_MAX_INT), ev.timestamp),
        )

    def _on_AttestationWithdrawn(self, ev: Event, nid: int, d: dict[str, Any]) -> None:
        for table in ("attestations", "held_attestations"):
            self.conn.execute(
                f"DELETE FROM {table} WHERE name_id=? AND idx=? AND attester=?",
                (nid, int(d["index"]), _h(d["attester"])),
            )

    def _on_AttesterBlocked(self, ev: Event, nid: int, d: dict[str, Any]) -> None:
        """A blocked attester's attestations on the name stop counting (held until unblocked)."""
        c = self.conn
        attester = _h(d["attester"])
        src, dst = ("attestations", "held_attestations") if d["blocked"] else (
            "held_attestations", "attestations")
        if d["blocked"]:
            c.execute("INSERT OR IGNORE INTO blocked VALUES (?, ?)", (nid, attester))
        else:
            c.execute("DELETE FROM blocked WHERE name_id=? AND attester=?", (nid, attester))
        c.execute(f"INSERT OR REPLACE INTO {dst} SELECT * FROM {src} WHERE name_id=? AND attester=?",
                  (nid, attester))
        c.execute(f"DELETE FROM {src} WHERE name_id=? AND attester=?", (nid, attester))

    # ----------------------------------------------------------------- DNS control

    def top_levels(self) -> list[tuple[bytes, str, str]]:
        """(node, name, owner) of every top-level name in the index."""
        out = []
        for nid, t, o in self.conn.execute(
                "SELECT n.id, n.name, t.text FROM names n JOIN texts t ON t.id = n.owner"
                " WHERE n.parent = 0 ORDER BY n.name").fetchall():
            node = node_hash(str(t))
            self._remember(node, int(nid))
            out.append((node, str(t), str(o)))
        return out

    def top_level_of(self, node: bytes) -> bytes | None:
        """The top-level ancestor of ``node`` (itself for a top-level name), by parent links."""
        nid = self._id_of(node)
        seen = 0
        while nid is not None and nid > 0 and seen < 300:
            row = self.conn.execute("SELECT parent FROM names WHERE id=?", (nid,)).fetchone()
            if row is None:
                return None
            if int(row[0]) == 0:
                return bytes(node) if seen == 0 else self._node_of(nid)
            nid, seen = int(row[0]), seen + 1
        return None

    def set_dns_control(self, top: bytes, verdict: Any, *, required: bool, now: int) -> None:
        """Store a top-level name's DNS verdict and apply it to every record under it:
        a failing domain (DNS names another owner; or, when ``required``, anything but a
        match) makes its records ``policy = 'fail'`` (own verdict kept in base_policy)."""
        c = self.conn
        tid = self._id_of(top, create=True)
        c.execute("INSERT OR REPLACE INTO dns_control VALUES (?, ?, ?, ?, ?, ?, ?)",
                  (tid, verdict.domain, verdict.owner, verdict.status,
                   json.dumps(list(verdict.owners)), verdict.detail, int(now)))
        failing = verdict.status == "mismatch" or (required and verdict.status != "match")
        ids = [int(n) for (n,) in c.execute(
            "WITH RECURSIVE under(id) AS (SELECT ? UNION SELECT n.id FROM names n"
            " JOIN under u ON n.parent = u.id) SELECT id FROM under", (tid,))]
        detail = self._text_id(
            f"DNS control {verdict.status} for {verdict.domain}: name.dns_control") if failing else 0
        for nid in ids:
            if failing:
                c.execute(
                    "UPDATE records SET base_policy = policy || char(10) || policy_detail"
                    " WHERE name_id = ? AND base_policy IS NULL", (nid,))
                c.execute("UPDATE records SET policy = 'fail', policy_detail = ? WHERE name_id = ?",
                          (detail, nid))
            else:
                c.execute(
                    "UPDATE records SET policy = substr(base_policy, 1, instr(base_policy,"
                    " char(10)) - 1), policy_detail = CAST(substr(base_policy, instr(base_policy,"
                    " char(10)) + 1) AS INTEGER), base_policy = NULL"
                    " WHERE name_id = ? AND base_policy IS NOT NULL", (nid,))

    def dns_control(self, top: bytes) -> dict[str, Any] | None:
        tid = self._id_of(top)
        row = None if tid is None else self.conn.execute(
            "SELECT domain, owner, status, owners, detail, checked_at FROM dns_control"
            " WHERE name_id=?", (tid,)).fetchone()
        if row is None:
            return None
        return {"domain": row[0], "owner": row[1], "status": row[2], "owners": json.loads(row[3]),
                "detail": row[4], "checked_at": row[5]}

    # ----------------------------------------------------------------- reorgs

    def rollback_to(self, block: int) -> int:
        """Undo everything learnt from blocks above ``block`` (inside a transaction).

        Returns the number of events removed (``NameRegistered`` and
        ``KeyPublished`` counted as the rows they became).
        """
        c = self.conn
        self._forget()
        affected = {int(r[0]) for r in c.execute(
            "SELECT DISTINCT name_id FROM events WHERE block > ?", (block,))}
        removed = c.execute("DELETE FROM events WHERE block > ?", (block,)).rowcount
        c.execute("DELETE FROM blocks WHERE number > ?", (block,))
        c.execute(
            "DELETE FROM fingerprints WHERE (name_id, idx) IN"
            " (SELECT name_id, idx FROM records WHERE block > ?)", (block,))
        c.execute(
            "DELETE FROM identities WHERE (name_id, idx) IN"
            " (SELECT name_id, idx FROM records WHERE block > ?)", (block,))
        removed += c.execute("DELETE FROM records WHERE block > ?", (block,)).rowcount
        c.execute(
            "UPDATE records SET revoked_at=0, reason=NULL, revoked_block=NULL, revocation=NULL"
            " WHERE revoked_block > ?",
            (block,),
        )
        for nid, text in c.execute("SELECT id, name FROM names WHERE block > ?", (block,)).fetchall():
            nid = int(nid)
            c.execute("DELETE FROM dns_control WHERE name_id=?", (nid,))
            if any(c.execute(f"SELECT 1 FROM {t} WHERE name_id=? LIMIT 1", (nid,)).fetchone()
                   for t in ("events", "records")):  # named before it was registered
                node = node_hash(str(text))
                row = c.execute("SELECT id FROM nodes WHERE node=?", (node,)).fetchone()
                if row is None:
                    low = c.execute("SELECT min(id) FROM nodes").fetchone()[0]
                    row = (min(-1, int(low or 0) - 1),)
                    c.execute("INSERT INTO nodes VALUES (?, ?)", (row[0], node))
                self._move(nid, int(row[0]))
                affected.add(int(row[0]))
            else:
                for table in _NAME_TABLES:
                    c.execute(f"DELETE FROM {table} WHERE name_id=?", (nid,))
            affected.discard(nid)
        removed += c.execute("DELETE FROM names WHERE block > ?", (block,)).rowcount
        for nid in sorted(affected):
            self._replay_mutable(nid)
        self._named.clear()  # owners replayed
        self.set_meta("synced_block", block)
        digest = self.digest_at(block)
        if digest is not None:
            self.set_event_digest(digest)
        if self.proven_head() is not None:  # it moves back with the index (and so does freshness)
            row = self.conn.execute("SELECT hash, timestamp FROM blocks WHERE number = ?",
                                    (int(block),)).fetchone()
            if row is not None:
                self.set_proven_head(block, bytes(row[0]), digest, int(row[1]))
            else:  # rolled back to before anything proven: not synced until a sync completes
                self.clear_proven_head()
                self.conn.execute("DELETE FROM meta WHERE key = 'last_sync_time'")
        return int(removed)

    def _replay_mutable(self, nid: int) -> None:
        """Recompute owner, renounced, operators and attestations of name ``nid`` from stored events."""
        c = self.conn
        c.execute("UPDATE names SET owner=registrant, renounced=0 WHERE id=?", (nid,))
        for table in ("operators", "attestations", "held_attestations", "blocked"):
            c.execute(f"DELETE FROM {table} WHERE name_id=?", (nid,))
        rows = c.execute(
            "SELECT e.block, e.kind, e.data, COALESCE(b.timestamp, 0) FROM events e"
            " LEFT JOIN blocks b ON b.number = e.block WHERE e.name_id=?"
            " AND e.kind IN ('OwnershipTransferred', 'ChildRenounced', 'OperatorSet', 'Attested',"
            " 'AttestationWithdrawn', 'AttesterBlocked') ORDER BY e.block, e.log_index",
            (nid,),
        ).fetchall()
        for block, kind, data, ts in rows:
            ev = Event(kind, int(block), 0, b"", b"", int(ts), decode_fields(data))
            getattr(self, "_on_" + kind)(ev, nid, ev.data)

    # ----------------------------------------------------------------- digest

    def digest(self) -> str:
        """SHA-256 over the whole content (sorted rows; volatile meta left out).

        Two syncs of the same chain up to the same block give the same digest,
        whatever their page sizes and however often either was interrupted
        (page-end block markers are bookkeeping and left out). Ids are
        bookkeeping too: every name id is hashed as its name (or node), every
        text id as its text.
        """
        c = self.conn
        h = hashlib.sha256()
        texts = {int(i): str(t) for i, t in c.execute("SELECT id, text FROM texts")}
        refs: dict[int, str] = {0: ""}
        refs.update((int(i), "name:" + str(t)) for i, t in c.execute("SELECT id, name FROM names"))
        refs.update((int(i), "node:" + bytes(n).hex()) for i, n in c.execute("SELECT id, node FROM nodes"))
        ids = {"name_id", "parent"}
        text_cols = {("names", "registrant"), ("names", "owner"), ("operators", "owner"),
                     ("operators", "operator"), ("records", "algorithm"),
                     ("records", "policy_detail")}
        for table in ("meta", "blocks", "names", "records", "fingerprints", "identities",
                      "operators", "attestations", "held_attestations", "blocked", "dns_control",
                      "events"):
            h.update(f"\x00{table}\x00".encode())
            sql = f"SELECT * FROM {table}"
            if table == "blocks":  # page-end markers depend on page sizes: only blocks with events
                sql = ("SELECT * FROM blocks WHERE number IN (SELECT block FROM events UNION"
                       " SELECT block FROM names UNION SELECT block FROM records)")
            cur = c.execute(sql)
            cols = [d[0] for d in cur.description]
            out = []
            for row in cur:
                if table == "meta" and row[0] in _VOLATILE_META:
                    continue
                vals = []
                for col, v in zip(cols, row, strict=True):
                    if table == "names" and col in ("id", "hint"):
                        continue
                    if col in ids:
                        v = refs.get(int(v), f"id:{v}")
                    elif (table, col) in text_cols:
                        v = texts.get(int(v), f"text:{v}")
                    elif col == "base_policy" and v is not None:
                        verdict, _, tid = str(v).partition("\n")
                        v = verdict + "\n" + texts.get(int(tid or 0), tid)
                    elif col == "fingerprint":
                        v = fingerprint_text(v)
                    vals.append(v)
                out.append(repr(tuple(vals)))
            for r in sorted(out):
                h.update(r.encode())
        return h.hexdigest()

    def counts(self) -> dict[str, int]:
        """Rows per table; ``events`` counts every event (NameRegistered / KeyPublished as the
        ``names`` / ``records`` rows they became)."""
        out = {
            t: int(self.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0])
            for t in ("names", "records", "events", "attestations", "blocks")
        }
        out["events"] += out["names"] + out["records"]
        return out


def _stored(ev: Event) -> dict[str, Any]:
    return {k: v for k, v in ev.data.items() if k not in ("material", "proof", "node")}


def _event_fields(ev: Event) -> bytes:
    """``events.data``: the fields :meth:`Event.to_json` shows, byte strings kept as bytes."""
    return encode_fields(_stored(ev))


#: Event fields a row never shows (:func:`_stored`).
_HIDDEN = frozenset({"material", "proof", "node"})
#: The fields of a ``NameRegistered`` / ``KeyPublished`` event as the contract emits them: when
#: an event has exactly these, of the types :func:`_extra` accepts, with the label rebuilt, its
#: ``extra`` is None without comparing field by field.
_REGISTERED_KEYS = frozenset({"node", "parent", "owner", "label", "person", "name"})
_PUBLISHED_KEYS = frozenset({"node", "index", "commitment", "key_type", "purposes", "valid_from",
                             "valid_until", "durable", "material", "proof"})


def _extra(ev: Event, rebuilt: dict[str, object]) -> bytes | None:
    """``extra_of(_shown_fields(ev), rebuilt)``: None at once when the fields the event shows
    are exactly ``rebuilt``'s, each of the same type and value (every event the contract
    emits), without building them; otherwise built and compared."""
    same = 0
    for key, value in ev.data.items():
        if key in _HIDDEN:
            continue
        want = rebuilt.get(key, _HIDDEN)  # (never a field's value)
        kind = type(value)
        if kind is bytes:
            if type(want) is not str or want != "0x" + value.hex():
                break
        elif kind is int or kind is bool or kind is str:
            if type(want) is not kind or want != value:
                break
        else:
            break
        same += 1
    else:
        if same == len(rebuilt):
            return None
    return extra_of(_shown_fields(ev), rebuilt)


def _registered_extra(ev: Event, rebuilt: dict[str, object]) -> bytes | None:
    """:func:`_extra` of a ``NameRegistered`` event whose ``names`` row gives back ``rebuilt``
    (:func:`registered_fields` of its own fields): None at once for an event as the contract
    emits it (those fields, of those types, and the label the row rebuilds)."""
    d = ev.data
    label = rebuilt.get("label")
    if d.keys() == _REGISTERED_KEYS and type(d["name"]) is str and type(d["owner"]) is str \
            and type(d["parent"]) is bytes and type(d["person"]) is bool and type(label) is str \
            and type(d["label"]) is str and d["label"] == label:
        return None
    return _extra(ev, rebuilt)


def _published_extra(ev: Event, idx: int, row: tuple[int, int, bytes, int, int, int]) -> bytes | None:
    """:func:`_extra` of a ``KeyPublished`` event whose ``records`` row holds ``idx`` and ``row``
    (key type, purposes, commitment, valid from, valid until, durable, from its own fields):
    None at once for an event as the contract emits it (those fields, of those types), without
    building the fields the row gives back."""
    d = ev.data
    if d.keys() == _PUBLISHED_KEYS and type(d["index"]) is int and type(d["key_type"]) is int \
            and type(d["purposes"]) is int and type(d["valid_from"]) is int \
            and type(d["valid_until"]) is int and type(d["commitment"]) is bytes \
            and type(d["durable"]) is bool:
        return None
    return _extra(ev, published_fields(idx, row[2], row[0], row[1], row[3], row[4], row[5]))


def _shown_fields(ev: Event) -> dict[str, object]:
    """``decode_fields(_event_fields(ev))``, as history shows the event's fields."""
    return shown_fields(_stored(ev))


def _schema_of(path: Path) -> str | None:
    """The schema version a database file says it has (``None``: no meta table or no file)."""
    if not path.exists():
        return None
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        if conn.execute("SELECT 1 FROM sqlite_schema WHERE name = 'meta'").fetchone() is None:
            return None
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        return None if row is None else str(row[0])
    finally:
        conn.close()


def _owner_hint(directory: Path) -> str:
    """`` (run sync as USER, who owns DIR)`` when the index directory is another user's and
    this one may not write in it (sync run as the wrong user)."""
    try:
        uid = directory.stat().st_uid
    except OSError:
        return ""
    if uid == os.geteuid() or os.access(directory, os.W_OK):
        return ""
    try:
        import pwd

        who = pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        who = f"uid {uid}"
    return f" (run sync as {who}, who owns {directory})"


def _foreign(path: Path) -> bool:
    """Whether a database without keyanchor's ``meta`` table holds tables of its own."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")}
    finally:
        conn.close()
    return bool(names) and "meta" not in names


def _hex_to_bytes(value: object) -> object:
    """A schema-2 JSON value: ``0x`` lower-case hex (a byte string there) back to bytes
    (addresses stay text: :func:`encode_fields` stores those as 20 bytes itself)."""
    if isinstance(value, str) and value[:2] == "0x" and len(value) % 2 == 0 and len(value) != 42:
        try:
            raw = bytes.fromhex(value[2:])
        except ValueError:
            return value
        if "0x" + raw.hex() == value:  # exact: decode_fields gives the same text back
            return raw
    return value


@contextmanager
def _rewriting(work: Path, ddl: str) -> Iterator[tuple[sqlite3.Connection, sqlite3.Connection]]:
    """(old, new): the working file and a new file with the tables of ``ddl`` (16 KiB pages),
    which replaces the working file when the block ends normally and is removed otherwise
    (a crash leaves the old file, migrated again next time)."""
    new = work.with_name(work.name + ".migrating")
    _remove_work(new)
    old = sqlite3.connect(work, isolation_level=None)
    try:
        old.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        dst = sqlite3.connect(new, isolation_level=None)
        try:
            dst.execute(f"PRAGMA page_size={PAGE_SIZE}")
            dst.executescript(ddl)
            yield old, dst
        finally:
            dst.close()
    except BaseException:
        _remove_work(new)
        raise
    finally:
        old.close()
    _remove_work(work)
    os.replace(new, work)
    os.chmod(work, WORK_MODE)


def _migrate_2_to_3(work: Path) -> None:
    """Rewrite a schema-2 working file as schema 3 (binary event fields, 16 KiB pages).

    Every table is copied as it is; each event's JSON fields are stored with
    :func:`encode_fields` (hex byte strings as bytes), so history reads back
    exactly as before. :func:`_migrate_3_to_4` follows.
    """
    from registry.index._schema3 import SCHEMA_3

    with _rewriting(work, SCHEMA_3) as (old, dst):
        dst.execute("BEGIN")
        tables = [str(t) for (t,) in dst.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'table'"
            " AND name NOT IN ('events', 'meta') AND name NOT LIKE 'sqlite_%'")]
        for table in tables:
            cols = [str(r[1]) for r in old.execute(f"PRAGMA table_info({table})")]
            if not cols:
                continue
            marks = ",".join("?" * len(cols))
            dst.executemany(f"INSERT INTO {table} ({','.join(cols)}) VALUES ({marks})",
                            old.execute(f"SELECT {','.join(cols)} FROM {table}"))
        dst.executemany("INSERT INTO meta VALUES (?, ?)", old.execute(
            "SELECT key, value FROM meta WHERE key != 'schema'"))
        dst.execute("INSERT INTO meta VALUES ('schema', '3')")
        dst.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)", (
            (b, li, tx, node, kind, encode_fields(
                {k: _hex_to_bytes(v) for k, v in json.loads(data).items()}))
            for b, li, tx, node, kind, data in old.execute(
                "SELECT block, log_index, tx_hash, node, kind, data FROM events")))
        dst.execute("COMMIT")


def _migrate_3_to_4(work: Path, published: Path) -> None:
    """Rewrite a schema-3 working file as schema 4 by replaying its events into a new file.

    Each stored event is applied again in chain order (a ``KeyPublished`` with
    the material, parse results and verdict its record holds), then the
    verdicts a DNS check set and the DNS verdicts are copied. The new file
    replaces the working file only when complete and holding as many names and
    records as the old one; a file that does not replay is refused with a
    "re-sync needed" line and left as it was.
    """
    try:
        with _rewriting(work, SCHEMA) as (old, conn):
            store = Store(conn, published, work)
            with store.transaction():
                _replay_schema_3(old, store)
    except (sqlite3.Error, IndexUnavailable, KeyError, ValueError, TypeError) as exc:
        raise IndexUnavailable(
            f"{published} has index schema 3 and cannot be migrated to schema {SCHEMA_VERSION}"
            f" ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}): re-sync needed"
            " (delete the file and run 'keyanchor sync')") from exc


def _replay_schema_3(old: sqlite3.Connection, store: Store) -> None:
    c = store.conn
    c.executemany("INSERT INTO meta VALUES (?, ?)",
                  old.execute("SELECT key, value FROM meta WHERE key != 'schema'"))
    c.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
    c.executemany("INSERT INTO blocks VALUES (?, ?, ?, ?)",
                  old.execute("SELECT number, hash, timestamp, digest FROM blocks"))
    times = {int(n): int(t) for n, t in old.execute("SELECT number, timestamp FROM blocks")}
    fps: dict[tuple[bytes, int], list[str]] = {}
    for fp, node, idx in old.execute("SELECT fingerprint, node, idx FROM fingerprints"):
        fps.setdefault((bytes(node), int(idx)), []).append(str(fp))
    records = {(bytes(r[0]), int(r[1])): r[2:] for r in old.execute(
        "SELECT node, idx, material, proof, published_at, algorithm, fingerprint, identities,"
        " policy, policy_detail, base_policy FROM records")}
    for block, li, tx, node, kind, data in old.execute(
            "SELECT block, log_index, tx_hash, node, kind, data FROM events"
            " ORDER BY block, log_index, node"):
        node = bytes(node)
        fields = {k: _hex_to_bytes(v) for k, v in decode_fields(data).items()}  # bytes as bytes
        parsed, ts = None, times.get(int(block), 0)
        if kind == "KeyPublished":
            material, proof, ts, alg, fp, idents, policy, detail, _base = \
                records[(node, int(fields["index"]))]  # type: ignore[call-overload]
            others = sorted(set(fps.get((node, int(fields["index"])), ()))  # type: ignore[call-overload]
                            - {normalize_fingerprint(str(fp))})
            fields = {**fields, "material": bytes(material), "proof": bytes(proof)}
            parsed = ParsedKey(str(alg), (str(fp), *others) if fp else tuple(others),
                               tuple(json.loads(idents)), str(policy), str(detail))
        store.apply(Event(str(kind), int(block), int(li), bytes(tx), node, int(ts), fields, parsed))
    for (node, idx), row in records.items():
        nid = store._id_of(node)
        policy, detail, base = row[6:9]
        if base is not None:
            verdict, _, own = str(base).partition("\n")
            base = f"{verdict}\n{store._text_id(own)}"
        c.execute("UPDATE records SET policy=?, policy_detail=?, base_policy=? WHERE name_id=?"
                  " AND idx=?", (policy, store._text_id(str(detail)), base, nid, idx))
    for row in old.execute("SELECT node, domain, owner, status, owners, detail, checked_at"
                           " FROM dns_control"):
        c.execute("INSERT OR REPLACE INTO dns_control VALUES (?, ?, ?, ?, ?, ?, ?)",
                  (store._id_of(bytes(row[0]), create=True), *row[1:]))
    for table in ("names", "records"):
        had = old.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        has = c.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        if had != has:
            raise ValueError(f"{had} {table} in the file, {has} after replaying its events")


def _changed(cur: sqlite3.Cursor, ev: Event) -> None:
    if cur.rowcount != 1:
        raise IndexUnavailable(
            f"{ev.kind} in block {ev.block} names a node or record the index does not hold"
        )


def bulk_rows(store: Store, events: Sequence[Event]) -> None:
    """Apply many events in one transaction (benchmarks, tests)."""
    with store.transaction():
        for ev in events:
            store.apply(ev)
