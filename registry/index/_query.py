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

from registry.errors import IndexUnavailable, InvalidName
from registry.index._json import iso, reason_label  # (record_dict: every record of the JSON API)

# The snapshot open, the records of one name and which names count live in
# registry.index._snapshot (all sshd's path compiles); IndexReader adds every other lookup.
from registry.index._snapshot import (
    _COLUMNS,
    IndexedRecord,
    SnapshotReader,
    _fresh_as_of,
    _norm,
    _record,
    record_status,
    valid_name,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Any

__all__ = ["IndexReader", "IndexedRecord", "record_dict", "record_status", "valid_name"]


KEY_TYPES = {1: "ssh", 2: "openpgp", 3: "x509"}
PURPOSE_BITS = {1: "ssh-user", 2: "ssh-host", 4: "signing", 8: "encryption", 16: "tls-server",
                32: "tls-client", 64: "ca"}


def purpose_names(bits: int) -> list[str]:
    """The names of the purpose bits set in ``bits``, in bit order (a new list each call)."""
    names = _PURPOSE_NAMES.get(bits)
    if names is None:
        names = tuple(v for k, v in PURPOSE_BITS.items() if bits & k)
        if len(_PURPOSE_NAMES) < 1024:  # (only 128 combinations are valid purposes)
            _PURPOSE_NAMES[bits] = names
    return list(names)


_PURPOSE_NAMES: dict[int, tuple[str, ...]] = {}


def record_dict(rec: IndexedRecord) -> dict[str, Any]:
    """The JSON view of a record (:meth:`IndexedRecord.to_dict`)."""
    return {
        "name": rec.name,
        "index": rec.index,
        "key_type": KEY_TYPES.get(rec.key_type, str(rec.key_type)),
        "purposes": purpose_names(rec.purposes),
        "status": rec.status,
        "algorithm": rec.algorithm,
        "fingerprint": rec.fingerprint,
        "identities": list(rec.identities),
        "commitment": "0x" + rec.commitment.hex(),
        "valid_from": iso(rec.valid_from),
        "valid_until": iso(rec.valid_until),
        "published_at": iso(rec.published_at),
        "revoked_at": iso(rec.revoked_at),
        "reason": reason_label(rec.reason),
        "policy": rec.policy,
        "block": rec.block,
        "tx_hash": "0x" + rec.tx_hash.hex(),
    }


class IndexReader(SnapshotReader):
    """The index opened read-only: :class:`SnapshotReader` and every other lookup."""

    def replaced(self) -> bool:
        """Whether a sync published a new snapshot since this reader opened the file.

        A long-lived reader (``keyanchor serve``) checks this and reopens.
        """
        try:
            st = os.stat(self._path)  # not self.path: a Path built per request (the gateway)
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
                            " 'head_timestamp', 'head_current_at')"))
        return _fresh_as_of(meta) if "last_sync_time" in meta else None

    def status(self, now: float | None = None) -> dict[str, Any]:
        """Synced block, last sync time, age, chain and counts (for ``keyanchor index status``)."""
        from registry.index import _lookups

        return _lookups.status(self, now)

    # ----------------------------------------------------------------- lookups

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


def validate_name(name: str) -> str:
    """Normalised name text. Raises InvalidName."""
    try:
        return _norm(name)
    except InvalidName:
        raise
