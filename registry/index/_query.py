"""The read side of the index: lookups for gateways and the CLI (stdlib only).

    with IndexReader.open(path, max_staleness=3600) as idx:
        for rec in idx.records("alice@example.org"): print(rec.status, rec.fingerprint)

Opens the published snapshot (see :mod:`registry.index._store`) read-only and
``immutable``: no lock is taken and nothing is created or written, so a reader
needs only read permission on the file; a sync replaces the file, and a reader
sees the new state when it opens it again (:meth:`IndexReader.replaced` tells
a long-lived reader when). Statuses are computed at the time
asked for (default: now), the way the contract's views compute them at block
time: ``revoked`` (a ``KeyRevoked`` was synced), ``expired`` (``valid_until``
passed), ``pending`` (``valid_from`` ahead), else ``active``. Every failure --
missing file, not an index, another schema, too old -- is
:class:`~registry.errors.IndexUnavailable`.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from registry._frozen import Frozen, init_fields
from registry.errors import IndexUnavailable, InvalidName
from registry.index._schema import fingerprint_text, schema_problem

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (sshd path)
if TYPE_CHECKING:
    from typing import Any

__all__ = ["IndexReader", "IndexedRecord", "record_status"]


KEY_TYPES = {1: "ssh", 2: "openpgp", 3: "x509"}
PURPOSE_BITS = {1: "ssh-user", 2: "ssh-host", 4: "signing", 8: "encryption", 16: "tls-server",
                32: "tls-client", 64: "ca"}


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
        from registry.index._json import iso, reason_label  # not on the sshd path

        return {
            "name": self.name,
            "index": self.index,
            "key_type": KEY_TYPES.get(self.key_type, str(self.key_type)),
            "purposes": [v for k, v in PURPOSE_BITS.items() if self.purposes & k],
            "status": self.status,
            "algorithm": self.algorithm,
            "fingerprint": self.fingerprint,
            "identities": list(self.identities),
            "commitment": "0x" + self.commitment.hex(),
            "valid_from": iso(self.valid_from),
            "valid_until": iso(self.valid_until),
            "published_at": iso(self.published_at),
            "revoked_at": iso(self.revoked_at),
            "reason": reason_label(self.reason),
            "policy": self.policy,
            "block": self.block,
            "tx_hash": "0x" + self.tx_hash.hex(),
        }


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
    by hand, without a proven head, counts from that run)."""
    last = int(meta["last_sync_time"])
    head = meta.get("head_timestamp")
    return min(last, int(head)) if head else last


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
    from registry.names import parse_name

    return parse_name(name).text


_SQLITE_MAGIC = b"SQLite format 3\x00"


def _open_snapshot(p: Path) -> tuple[sqlite3.Connection, tuple[int, int]]:
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
        conn = sqlite3.connect(f"{p.resolve().as_uri()}?{mode}", uri=True, timeout=5.0,
                               isolation_level=None)
    except sqlite3.Error as exc:
        raise IndexUnavailable(f"cannot open the index {p}: {exc}") from exc
    return conn, (st.st_dev, st.st_ino)


class IndexReader:
    """The index opened read-only."""

    def __init__(self, conn: sqlite3.Connection, path: Path,
                 ident: tuple[int, int] | None = None) -> None:
        self.conn = conn
        self.path = path
        self.ident = ident
        self._squat: dict[str, str | None] = {}
        self._squat_free: bool | None = None
        self._squat_lookups = 0
        self._ids: dict[bytes, int | None] = {}

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, max_staleness: float | None = None,
             now: float | None = None) -> IndexReader:
        """Open the index at ``path`` read-only.

        ``max_staleness`` (seconds): refuse an index older than that, measured
        from the timestamp of the newest block sync proved (never from the time
        of the last contact: a lagging or frozen endpoint cannot make an index
        look fresh), and never from later than the last successful sync run.

        Raises:
            IndexUnavailable: missing, unreadable, not a keyanchor index, another
                schema version, never synced, or stale.
        """
        p = Path(path)
        if not p.is_file():
            raise IndexUnavailable(f"no index at {p} (run 'keyanchor sync')")
        conn, ident = _open_snapshot(p)
        try:
            meta = dict(conn.execute(
                "SELECT key, value FROM meta WHERE key IN ('schema', 'last_sync_time',"
                " 'head_timestamp', 'head_number')"))
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

    def replaced(self) -> bool:
        """Whether a sync published a new snapshot since this reader opened the file.

        A long-lived reader (``keyanchor serve``) checks this and reopens.
        """
        try:
            st = os.stat(self.path)
        except OSError:
            return True
        return self.ident is not None and (st.st_dev, st.st_ino) != self.ident

    def map_into_memory(self, size: int = 1 << 34) -> None:
        """Read up to ``size`` bytes of the file through a memory map (SQLite ``mmap_size``).

        For long-lived readers (the gateway): page reads then cost no system call
        and no copy. Safe on a published snapshot, which is never changed in
        place (a sync renames a new file over it; the map keeps the old one).
        SQLite caps ``size`` at its compile-time limit; an SQLite without
        memory-mapped I/O keeps reading as before.
        """
        try:
            self.conn.execute(f"PRAGMA mmap_size = {int(size)}")
        except sqlite3.Error:  # pragma: no cover - SQLite built without mmap
            pass

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> IndexReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _id_of(self, node: bytes) -> int | None:
        """The name id of ``node`` (``None``: the index does not know it); cached per reader
        (the snapshot never changes under it)."""
        node = bytes(node)
        if node in self._ids:
            return self._ids[node]
        from registry.index._lookups import id_of_node

        try:
            nid = id_of_node(self.conn, node)
        except sqlite3.Error as exc:
            raise IndexUnavailable(f"index {self.path} cannot be read: {exc}") from exc
        if len(self._ids) > 100_000:
            self._ids.clear()
        self._ids[node] = nid
        return nid

    def _q(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            return self.conn.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise IndexUnavailable(f"index {self.path} cannot be read: {exc}") from exc

    # ----------------------------------------------------------------- state

    def meta(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in self._q("SELECT key, value FROM meta")}

    def last_sync_time(self) -> int | None:
        """Unix time of the last successful sync run (``None``: never completed)."""
        rows = self._q("SELECT value FROM meta WHERE key = 'last_sync_time'")
        return int(rows[0][0]) if rows else None

    def fresh_as_of(self) -> int | None:
        """The time the index is current as of: the proven head's timestamp (capped at the
        last successful sync run), what staleness counts from (``None``: never synced)."""
        meta = dict(self._q("SELECT key, value FROM meta WHERE key IN ('last_sync_time',"
                            " 'head_timestamp')"))
        return _fresh_as_of(meta) if "last_sync_time" in meta else None

    def status(self, now: float | None = None) -> dict[str, Any]:
        """Synced block, last sync time, age, chain and counts (for ``keyanchor index status``)."""
        from registry.index import _lookups

        return _lookups.status(self, now)

    # ----------------------------------------------------------------- lookups

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

    def exists(self, name: str) -> bool:
        return bool(self._q("SELECT 1 FROM names WHERE name = ?", (_norm(name),)))

    def name(self, name: str) -> dict[str, Any] | None:
        """Owner, parent, operators of a name (``None`` when unknown)."""
        from registry.index import _lookups

        return _lookups.name(self, name)

    def names_by_fingerprint(self, fingerprint: str) -> list[tuple[str, int]]:
        """(name, record index) pairs holding a key with this fingerprint (any status)."""
        from registry.index import _lookups

        return _lookups.names_by_fingerprint(self, fingerprint)

    def records_by_fingerprint(self, fingerprint: str, *,
                               at: float | None = None) -> list[IndexedRecord]:
        """Records holding a key with this fingerprint (any status), by name then index.

        The records of :meth:`names_by_fingerprint` in one query (a primary or
        subkey fingerprint, an X.509 SPKI hash, an SSH ``SHA256:`` fingerprint).

        Raises: IndexUnavailable.
        """
        from registry.index import _lookups

        return _lookups.records_by_fingerprint(self, fingerprint, at=at)

    def records_by_key_id(self, key_id: str, *, at: float | None = None) -> list[IndexedRecord]:
        """OpenPGP records whose primary key or a subkey has this long key ID (all statuses).

        ``key_id`` is 16 hex digits (``0x`` allowed): the low 64 bits of a v4
        fingerprint, the high 64 bits of a v6 one. Ordered by name, then index.

        Anything else matches nothing (``[]``).

        Raises: IndexUnavailable.
        """
        from registry.index import _lookups

        return _lookups.records_by_key_id(self, key_id, at=at)

    def openpgp_by_email(self, email: str, *, at: float | None = None) -> list[IndexedRecord]:
        """OpenPGP certificates whose user IDs claim ``email`` (all statuses), under any name.

        A claim, not a binding: anyone can put any address in a user ID of a key
        published under their own name. The key for an address is the one under
        the registry name equal to it (:meth:`records`); HKP, WKD and ``keyanchor
        index lookup`` use only that.
        """
        from registry.index import _lookups

        return _lookups.openpgp_by_email(self, email, at=at)

    def host_keys(self, host: str, *, at: float | None = None) -> list[IndexedRecord]:
        """SSH records with purpose ssh-host under the host's name (all statuses)."""
        return self.records(host, at=at, key_type=1, purposes=2)

    def history(self, name: str) -> list[dict[str, Any]]:
        """Every synced event about ``name``, oldest first."""
        from registry.index import _lookups

        return _lookups.history(self, name)

    def attestations(self, name: str, index: int, *, at: float | None = None) -> list[dict[str, Any]]:
        """Live attestations of record ``index`` of ``name``, oldest first.

        Each: ``attester`` (the attesting name, or its node as ``0x`` hex if the
        index lacks it), ``attester_owner`` (that name's current owner, ``None``
        if unknown), ``policy_hash`` (``0x`` hex), ``expires`` (``None``: never),
        ``attested_at`` (block time) and ``expired`` (at ``at``, default now).

        Raises: InvalidName, IndexUnavailable.
        """
        from registry.index import _lookups

        return _lookups.attestations(self, name, index, at=at)

    def proof(self, node: bytes, idx: int) -> bytes:
        """The proof of possession published with record ``(node, idx)`` (``b""``: none or unknown).

        Raises: IndexUnavailable.
        """
        from registry.index import _lookups

        return _lookups.proof(self, node, idx)

    def dns_control(self, name: str) -> dict[str, Any] | None:
        """The DNS-control verdict sync stored for the top-level name above ``name``.

        ``domain``, ``owner``, ``status``, ``owners``, ``detail``, ``checked_at``;
        ``None`` when sync did not check it (no ``[dns]`` configured).

        Raises: IndexUnavailable.
        """
        from registry.index import _lookups

        return _lookups.dns_control(self, name)

    def subkey_fingerprints(self, node: bytes, idx: int) -> list[str]:
        """Fingerprints of the subkeys of OpenPGP record ``(node, idx)``, in certificate order.

        The subkeys the material holds whose fingerprints sync stored (``[]``
        for other key types, unknown records, or material that does not walk).

        Raises: IndexUnavailable.
        """
        from registry.index import _lookups

        return _lookups.subkey_fingerprints(self, node, idx)

    def revocation(self, node: bytes, idx: int) -> bytes:
        """The bytes record ``(node, idx)``'s ``KeyRevoked`` event carried (``b""``: none, not revoked).

        As synced, unverified: for an OpenPGP record, the key's revocation
        signature only if :func:`registry.keys.verify_openpgp_revocation` says so.

        Raises: IndexUnavailable.
        """
        from registry.index import _lookups

        return _lookups.revocation(self, node, idx)

    def person_names(self, domain: str) -> list[str]:
        """Registered person names ``local@domain`` under ``domain`` (lower-case text), sorted.

        Raises: IndexUnavailable.
        """
        from registry.index import _lookups

        return _lookups.person_names(self, domain)

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
        from registry.names import squatted_by

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
            from registry.names import squatted_by

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

    def authorities(self, name: str) -> list[str]:
        """The registered names with authority over domain ``name``, nearest first (``name`` excluded).

        Registry ancestors, not text suffixes: for a registered ``name``, its
        parent, the parent's parent, ...; for an unregistered one, its longest
        registered suffix (the only name that can create it) and that one's
        parents. A renounced link ends the chain (the parent gave up control of
        that child), and so does a top-level name: a top-level ``example.org``
        has no authority above it even if someone later registered ``org``.
        Names that squat in someone else's domain (:meth:`squatted_by`) count
        as not registered: ``db.web1.corp.org`` under a squatted
        ``web1.corp.org`` has ``corp.org`` as its authority. Person names have none.

        Raises: InvalidName, IndexUnavailable.
        """
        from registry.names import squatted_by

        text = _norm(name)
        if "@" in text:
            return []
        suffixes, parents = self._suffix_parents(text)

        def counts(n: str) -> bool:
            return n in parents and squatted_by(n, parents) is None

        out: list[str] = []
        if counts(text):
            cur = text
        else:
            start = next((s for s in suffixes[1:] if counts(s)), None)
            if start is None:
                return []
            out.append(start)
            cur = start
        renounced = {str(n) for (n,) in self._q(
            f"SELECT name FROM names WHERE renounced = 1 AND name IN ({','.join('?' * len(suffixes))})",
            tuple(suffixes))}
        while cur not in renounced and (parent := parents.get(cur)) is not None \
                and parent not in out:
            out.append(parent)
            cur = parent
        return out

    def host_cas(self, host: str, *, at: float | None = None) -> list[IndexedRecord]:
        """SSH host-CA records (purposes ssh-host + ca) of the :meth:`authorities` over ``host``.

        Nearest authority first, index order within a name; all statuses. The
        host's own records are :meth:`host_keys`.

        Raises: InvalidName, IndexUnavailable.
        """
        names = self.authorities(host)
        if not names:
            return []
        now = time.time() if at is None else at
        rank = {n: i for i, n in enumerate(names)}
        rows = self._q(
            f"SELECT {_COLUMNS} FROM names n JOIN records r ON r.name_id = n.id"
            f" WHERE n.name IN ({','.join('?' * len(names))}) AND r.key_type = 1"
            " AND (r.purposes & 66) = 66", tuple(names))
        recs = [_record(row, now) for row in rows]
        return sorted(recs, key=lambda r: (rank[r.name], r.index))

    def names_with_records(self, *, key_type: int, purposes: int = 0) -> list[str]:
        """Names holding at least one record of ``key_type`` with all ``purposes`` bits (any status), sorted.

        Raises: IndexUnavailable.
        """
        from registry.index import _lookups

        return _lookups.names_with_records(self, key_type=key_type, purposes=purposes)


def valid_name(text: str) -> bool:
    """Whether indexed name text is a valid registry name in normal form."""
    try:
        return _norm(text) == text
    except InvalidName:
        return False


def validate_name(name: str) -> str:
    """Normalised name text. Raises InvalidName."""
    try:
        return _norm(name)
    except InvalidName:
        raise
