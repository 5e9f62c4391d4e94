"""Index helpers neither the sshd path nor a plain lookup needs (kept out of :mod:`._query`).

    nid = id_of_node(conn, node)          # a name's integer id from its 32-byte node
    history_rows(conn, nid)               # its events, with NameRegistered / KeyPublished rebuilt

Schema 4 stores no node: a name is found from a node by the node's first
8 bytes (``names.hint``, not unique: an attacker can make two of their own
names share it), and every candidate is checked by hashing its text; nodes
that events name but ``names`` does not hold are in ``nodes`` (negative ids).
It stores no ``NameRegistered`` / ``KeyPublished`` event row either: those
events are rebuilt from the ``names`` / ``records`` row, and whatever a row
cannot give back exactly was kept in its ``extra`` column (:func:`extra_of`).

The second half holds the :class:`~registry.index._query.IndexReader` lookups
the sshd path never calls (history, attestations, key IDs, fingerprints,
subkeys, DNS control, status, ...): the methods of the same names delegate
here, so a login without cached bytecode does not compile them.
Stdlib + :mod:`registry.names`.
"""

from __future__ import annotations

import sqlite3
import time

from registry.errors import IndexUnavailable
from registry.index._evdata import decode_fields, encode_fields
from registry.index._schema import fingerprint_key, fingerprint_text
from registry.index._snapshot import _COLUMNS, _fresh_as_of, _norm, _record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from registry.index._query import IndexedRecord, IndexReader

__all__ = ["extra_of", "hint_of", "history_rows", "id_of_node", "node_of_id", "published_fields",
           "registered_fields", "with_extra"]

ZERO32 = b"\x00" * 32
#: ``extra`` key listing rebuilt fields the event did not have (comma-separated).
_ABSENT = "\x00absent"


def hint_of(node: bytes) -> int:
    """``names.hint``: the node's first 8 bytes as a signed 64-bit integer."""
    return int.from_bytes(bytes(node)[:8], "big", signed=True)


def node_hash(text: str) -> bytes:
    from registry.names import raw_namehash

    return bytes(raw_namehash(text))


def id_of_node(conn: sqlite3.Connection, node: bytes) -> int | None:
    """The id of the name (or the ``nodes`` row) whose node is ``node``; ``None``: unknown."""
    node = bytes(node)
    for nid, text in conn.execute("SELECT id, name FROM names WHERE hint = ?", (hint_of(node),)):
        if node_hash(str(text)) == node:
            return int(nid)
    row = conn.execute("SELECT id FROM nodes WHERE node = ?", (node,)).fetchone()
    return None if row is None else int(row[0])


def node_of_id(conn: sqlite3.Connection, nid: int) -> bytes | None:
    """The node of name id ``nid`` (a ``nodes`` row for a negative one); ``None``: no such id."""
    if nid > 0:
        row = conn.execute("SELECT name FROM names WHERE id = ?", (int(nid),)).fetchone()
        return None if row is None else node_hash(str(row[0]))
    if nid < 0:
        row = conn.execute("SELECT node FROM nodes WHERE id = ?", (int(nid),)).fetchone()
        return None if row is None else bytes(row[0])
    return ZERO32


def registered_fields(name: str, parent_name: str | None, parent_node: bytes, person: bool,
                      owner: str) -> dict[str, object]:
    """The ``NameRegistered`` fields a ``names`` row gives back (as history shows them)."""
    if bytes(parent_node) == ZERO32:
        label: str | None = name
    elif parent_name is not None and name.endswith(("@" if person else ".") + parent_name):
        label = name[:len(name) - len(parent_name) - 1]
    else:
        label = None
    out: dict[str, object] = {"name": name, "owner": owner, "parent": "0x" + bytes(parent_node).hex(),
                              "person": bool(person)}
    if label is not None:
        out["label"] = label
    return out


def published_fields(idx: int, commitment: bytes, key_type: int, purposes: int, valid_from: int,
                     valid_until: int, durable: object) -> dict[str, object]:
    """The ``KeyPublished`` fields a ``records`` row gives back (material and proof never shown)."""
    return {"commitment": "0x" + bytes(commitment).hex(), "durable": bool(durable),
            "index": int(idx), "key_type": int(key_type), "purposes": int(purposes),
            "valid_from": int(valid_from), "valid_until": int(valid_until)}


def _same(a: object, b: object) -> bool:
    return type(a) is type(b) and a == b


def extra_of(want: dict[str, object], rebuilt: dict[str, object]) -> bytes | None:
    """What ``extra`` must hold so that :func:`with_extra` gives ``want`` back from ``rebuilt``."""
    keep = {k: v for k, v in want.items() if k not in rebuilt or not _same(rebuilt[k], v)}
    absent = sorted(k for k in rebuilt if k not in want)
    if absent:
        keep[_ABSENT] = ",".join(absent)
    return encode_fields(keep) if keep else None


def with_extra(rebuilt: dict[str, object], extra: bytes | None) -> dict[str, object]:
    """The event's fields, keys sorted (as schema 3 stored them)."""
    out = dict(rebuilt)
    if extra is not None:
        kept = decode_fields(extra)
        for k in str(kept.pop(_ABSENT, "") or "").split(","):
            out.pop(k, None)
        out.update(kept)
    return {k: out[k] for k in sorted(out)}


def history_rows(conn: sqlite3.Connection, nid: int) -> list[tuple[int, int, bytes, str,
                                                                    dict[str, Any], int | None]]:
    """(block, log index, tx hash, kind, fields, block timestamp) of every event of name ``nid``,
    oldest first: the stored events and the rebuilt NameRegistered / KeyPublished."""
    out: list[tuple[int, int, bytes, str, dict[str, Any], int | None]] = []
    ts = "(SELECT timestamp FROM blocks WHERE number = {}.block)"
    for b, li, tx, kind, data, t in conn.execute(
            f"SELECT block, log_index, tx_hash, kind, data, {ts.format('events')} FROM events"
            " WHERE name_id = ?", (nid,)):
        out.append((int(b), int(li), bytes(tx), str(kind), decode_fields(data), t))
    row = conn.execute(
        "SELECT n.name, n.parent, p.name, n.person, r.text, n.block, n.log_index, n.tx_hash,"
        f" n.extra, {ts.format('n')} FROM names n LEFT JOIN names p ON p.id = n.parent"
        " JOIN texts r ON r.id = n.registrant WHERE n.id = ?", (nid,)).fetchone()
    if row is not None:
        name, pid, pname, person, owner, b, li, tx, extra, t = row
        pnode = node_of_id(conn, int(pid)) or ZERO32
        fields = registered_fields(str(name), pname, pnode, bool(person), str(owner))
        out.append((int(b), int(li), bytes(tx), "NameRegistered", with_extra(fields, extra), t))
    for (idx, c, kt, purposes, vf, vu, durable, b, li, tx, extra, t) in conn.execute(
            "SELECT idx, commitment, key_type, purposes, valid_from, valid_until, durable, block,"
            f" log_index, tx_hash, extra, {ts.format('records')} FROM records WHERE name_id = ?",
            (nid,)):
        fields = published_fields(idx, c, kt, purposes, vf, vu, durable)
        out.append((int(b), int(li), bytes(tx), "KeyPublished", with_extra(fields, extra), t))
    out.sort(key=lambda e: (e[0], e[1]))
    return out


# --------------------------------------------------------------------------- IndexReader's rarer lookups
# (the methods of the same names call these: the sshd path never compiles them)


def status(ix: IndexReader, now: float | None = None) -> dict[str, Any]:
    """Synced block, last sync time, age, chain and counts (for ``keyanchor index status``)."""
    meta = ix.meta()
    t = time.time() if now is None else now
    last = int(meta.get("last_sync_time", "0"))
    counts = {t_: int(ix._q(f"SELECT count(*) FROM {t_}")[0][0])
              for t_ in ("names", "records", "events")}
    counts["events"] += counts["names"] + counts["records"]  # NameRegistered, KeyPublished
    fresh = _fresh_as_of(meta) if last else None
    return {
        "path": str(ix.path),
        "chain_id": int(meta["chain_id"]) if "chain_id" in meta else None,
        "registry": meta.get("registry"),
        "synced_block": int(meta["synced_block"]) if "synced_block" in meta else None,
        "proven_head": int(meta["head_number"]) if "head_number" in meta else None,
        "proven_head_hash": ("0x" + meta["head_hash"]) if meta.get("head_hash") else None,
        "proven_head_time": int(meta["head_timestamp"]) if "head_timestamp" in meta else None,
        "last_sync_time": last or None,
        "age_seconds": int(t - fresh) if fresh is not None else None,
        "policy": meta.get("policy_profile"),
        **counts,
    }


def name(ix: IndexReader, name: str) -> dict[str, Any] | None:
    """Owner, parent, operators of a name (``None`` when unknown)."""
    rows = ix._q("SELECT n.id, n.name, p.name, n.person, t.text, n.owner, n.renounced,"
                   " n.block FROM names n JOIN texts t ON t.id = n.owner"
                   " LEFT JOIN names p ON p.id = n.parent WHERE n.name = ?", (_norm(name),))
    if not rows:
        return None
    nid, text, parent, person, owner, owner_id, renounced, block = rows[0]
    ops = sorted(str(r[0]) for r in ix._q(
        "SELECT t.text FROM operators o JOIN texts t ON t.id = o.operator"
        " WHERE o.name_id = ? AND o.owner = ? AND o.approved = 1", (nid, owner_id)))
    from registry.names import raw_namehash

    return {"name": text, "node": "0x" + bytes(raw_namehash(text)).hex(), "owner": owner,
            "parent": parent, "person": bool(person),
            "renounced": bool(renounced), "operators": ops, "created_block": block}


def names_by_fingerprint(ix: IndexReader, fingerprint: str) -> list[tuple[str, int]]:
    """(name, record index) pairs holding a key with this fingerprint (any status)."""
    rows = ix._q(
        "SELECT DISTINCT n.name, f.idx FROM fingerprints f JOIN names n ON n.id = f.name_id"
        " WHERE f.fingerprint = ? ORDER BY n.name, f.idx", (fingerprint_key(fingerprint),))
    return [(str(n), int(i)) for n, i in rows]


def records_by_fingerprint(ix: IndexReader, fingerprint: str, *,
                           at: float | None = None) -> list[IndexedRecord]:
    """Records holding a key with this fingerprint (any status), by name then index.

    The records of :meth:`names_by_fingerprint` in one query (a primary or
    subkey fingerprint, an X.509 SPKI hash, an SSH ``SHA256:`` fingerprint).

    Raises: IndexUnavailable.
    """
    now = time.time() if at is None else at
    rows = ix._q(
        f"SELECT {_COLUMNS} FROM fingerprints f"
        " JOIN records r ON r.name_id = f.name_id AND r.idx = f.idx"
        " JOIN names n ON n.id = r.name_id"
        " WHERE f.fingerprint = ? ORDER BY n.name, r.idx", (fingerprint_key(fingerprint),))
    return [_record(row, now) for row in rows]


def records_by_key_id(ix: IndexReader, key_id: str, *, at: float | None = None) -> list[IndexedRecord]:
    """OpenPGP records whose primary key or a subkey has this long key ID (all statuses).

    ``key_id`` is 16 hex digits (``0x`` allowed): the low 64 bits of a v4
    fingerprint, the high 64 bits of a v6 one. Ordered by name, then index.

    Anything else matches nothing (``[]``).

    Raises: IndexUnavailable.
    """
    kid = key_id.strip().removeprefix("0x").removeprefix("0X").upper()
    if len(kid) != 16 or any(c not in "0123456789ABCDEF" for c in kid):
        return []
    now = time.time() if at is None else at
    # v6: the first 8 bytes of the fingerprint; v4: the last 8, which fingerprint_key
    # stores first -- either way a range of the fingerprints' primary key
    lo = fingerprint_key(kid)
    hi = b"X" + (int(kid, 16) + 1).to_bytes(8, "big") if kid != "F" * 16 else b"Y"
    rows = ix._q(
        "WITH hits(name_id, idx) AS ("
        " SELECT DISTINCT name_id, idx FROM fingerprints"
        "  WHERE fingerprint >= ? AND fingerprint < ? AND length(fingerprint) IN (21, 33))"
        f" SELECT {_COLUMNS} FROM hits h JOIN records r ON r.name_id = h.name_id"
        " AND r.idx = h.idx JOIN names n ON n.id = r.name_id WHERE r.key_type = 2"
        " ORDER BY n.name, r.idx", (lo, hi))
    return [_record(row, now) for row in rows]


def openpgp_by_email(ix: IndexReader, email: str, *, at: float | None = None) -> list[IndexedRecord]:
    """OpenPGP certificates whose user IDs claim ``email`` (all statuses), under any name.

    A claim, not a binding: anyone can put any address in a user ID of a key
    published under their own name. The key for an address is the one under
    the registry name equal to it (:meth:`records`); HKP, WKD and ``keyanchor
    index lookup`` use only that.
    """
    now = time.time() if at is None else at
    rows = ix._q(
        f"SELECT {_COLUMNS} FROM identities i JOIN records r ON r.name_id = i.name_id"
        " AND r.idx = i.idx JOIN names n ON n.id = r.name_id"
        " WHERE i.identity = ? AND r.key_type = 2"
        " ORDER BY n.name, r.idx", (email.strip().lower(),))
    return [_record(row, now) for row in rows]


def history(ix: IndexReader, name: str) -> list[dict[str, Any]]:
    """Every synced event about ``name``, oldest first."""
    rows = ix._q("SELECT id FROM names WHERE name = ?", (_norm(name),))
    if not rows:
        return []
    from registry.index._json import history_entry
    from registry.index._lookups import history_rows

    try:
        events = history_rows(ix.conn, int(rows[0][0]))
    except sqlite3.Error as exc:
        raise IndexUnavailable(f"index {ix.path} cannot be read: {exc}") from exc
    return [history_entry(b, li, "0x" + tx.hex(), kind, data, ts)
            for b, li, tx, kind, data, ts in events]


def attestations(ix: IndexReader, name: str, index: int, *, at: float | None = None) -> list[dict[str, Any]]:
    """Live attestations of record ``index`` of ``name``, oldest first.

    Each: ``attester`` (the attesting name, or its node as ``0x`` hex if the
    index lacks it), ``attester_owner`` (that name's current owner, ``None``
    if unknown), ``policy_hash`` (``0x`` hex), ``expires`` (``None``: never),
    ``attested_at`` (block time) and ``expired`` (at ``at``, default now).

    Raises: InvalidName, IndexUnavailable.
    """
    now = time.time() if at is None else at
    rows = ix._q(
        "SELECT a.attester, a.policy_hash, a.expires, a.attested_at FROM attestations a"
        " WHERE a.name_id = (SELECT id FROM names WHERE name = ?) AND a.idx = ?"
        " ORDER BY a.attested_at", (_norm(name), int(index)))
    from registry.index._json import iso

    def who(att: bytes) -> tuple[str | None, str | None]:
        nid = ix._id_of(att)
        found = [] if nid is None else ix._q(
            "SELECT n.name, t.text FROM names n JOIN texts t ON t.id = n.owner WHERE n.id = ?",
            (nid,))
        return (str(found[0][0]), str(found[0][1])) if found else (None, None)

    return [{"attester": att_name or "0x" + bytes(att).hex(), "attester_owner": owner,
             "policy_hash": "0x" + bytes(ph).hex(),
             "expires": iso(int(exp)), "attested_at": iso(int(t)),
             "expired": bool(exp) and int(exp) <= now}
            for att, ph, exp, t in rows for att_name, owner in [who(bytes(att))]]


def proof(ix: IndexReader, node: bytes, idx: int) -> bytes:
    """The proof of possession published with record ``(node, idx)`` (``b""``: none or unknown).

    Raises: IndexUnavailable.
    """
    rows = ix._q("SELECT proof FROM records WHERE name_id = ? AND idx = ?",
                   (ix._id_of(node), int(idx)))
    return bytes(rows[0][0]) if rows else b""


def dns_control(ix: IndexReader, name: str) -> dict[str, Any] | None:
    """The DNS-control verdict sync stored for the top-level name above ``name``.

    ``domain``, ``owner``, ``status``, ``owners``, ``detail``, ``checked_at``;
    ``None`` when sync did not check it (no ``[dns]`` configured).

    Raises: IndexUnavailable.
    """
    rows = ix._q(
        "WITH RECURSIVE up(id, parent, depth) AS ("
        " SELECT id, parent, 0 FROM names WHERE name = ?"
        " UNION ALL SELECT n.id, n.parent, up.depth + 1 FROM names n"
        "  JOIN up ON n.id = up.parent WHERE up.depth < 300)"
        " SELECT d.domain, d.owner, d.status, d.owners, d.detail, d.checked_at"
        " FROM up JOIN dns_control d ON d.name_id = up.id ORDER BY up.depth DESC LIMIT 1",
        (_norm(name),))
    if not rows:
        return None
    import json

    domain, owner, status, owners, detail, checked = rows[0]
    return {"domain": domain, "owner": owner, "status": status,
            "owners": json.loads(owners), "detail": detail, "checked_at": checked}


def subkey_fingerprints(ix: IndexReader, node: bytes, idx: int) -> list[str]:
    """Fingerprints of the subkeys of OpenPGP record ``(node, idx)``, in certificate order.

    The subkeys the material holds whose fingerprints sync stored (``[]``
    for other key types, unknown records, or material that does not walk).

    Raises: IndexUnavailable.
    """
    nid = ix._id_of(node)
    rows = ix._q("SELECT material, fingerprint FROM records WHERE name_id = ? AND idx = ?"
                   " AND key_type = 2", (nid, int(idx)))
    if not rows:
        return []
    order = _subkey_order(bytes(rows[0][0]))
    wanted = [fingerprint_key(fp) for fp in order if fp != fingerprint_text(rows[0][1])]
    if not wanted:
        return []
    stored = {fingerprint_text(fp) for (fp,) in ix._q(
        f"SELECT fingerprint FROM fingerprints WHERE fingerprint IN"
        f" ({','.join('?' * len(wanted))}) AND name_id = ? AND idx = ?",
        (*wanted, nid, int(idx)))}
    return sorted(stored, key=lambda fp: (order[fp], fp))


def revocation(ix: IndexReader, node: bytes, idx: int) -> bytes:
    """The bytes record ``(node, idx)``'s ``KeyRevoked`` event carried (``b""``: none, not revoked).

    As synced, unverified: for an OpenPGP record, the key's revocation
    signature only if :func:`registry.keys.verify_openpgp_revocation` says so.

    Raises: IndexUnavailable.
    """
    rows = ix._q("SELECT revocation FROM records WHERE name_id = ? AND idx = ?",
                   (ix._id_of(node), int(idx)))
    return bytes(rows[0][0]) if rows and rows[0][0] is not None else b""


def person_names(ix: IndexReader, domain: str) -> list[str]:
    """Registered person names ``local@domain`` under ``domain`` (lower-case text), sorted.

    Raises: IndexUnavailable.
    """
    dom = domain.strip().rstrip(".").lower()
    if not dom:
        return []
    pattern = "%@" + dom.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = ix._q("SELECT name FROM names WHERE person = 1 AND name LIKE ? ESCAPE '\\'"
                   " ORDER BY name", (pattern,))
    return [str(n) for (n,) in rows if str(n).rpartition("@")[2] == dom]


def names_with_records(ix: IndexReader, *, key_type: int, purposes: int = 0) -> list[str]:
    """Names holding at least one record of ``key_type`` with all ``purposes`` bits (any status), sorted.

    Raises: IndexUnavailable.
    """
    rows = ix._q("SELECT DISTINCT n.name FROM names n JOIN records r ON r.name_id = n.id"
                   " WHERE r.key_type = ? AND (r.purposes & ?) = ? ORDER BY n.name",
                   (int(key_type), int(purposes), int(purposes)))
    return [str(n) for (n,) in rows]


def _subkey_order(material: bytes) -> dict[str, int]:
    """Subkey fingerprint -> position in the certificate (``{}`` if it does not walk)."""
    import hashlib

    from registry.errors import KeyFormatError
    from registry.keys._pgp_packets import iter_packets

    order: dict[str, int] = {}
    try:
        for pkt in iter_packets(material):
            if pkt.tag != 14 or not pkt.body:
                continue
            if pkt.body[0] == 4:
                fp = hashlib.sha1(b"\x99" + len(pkt.body).to_bytes(2, "big") + pkt.body).hexdigest()
            elif pkt.body[0] == 6:
                fp = hashlib.sha256(b"\x9b" + len(pkt.body).to_bytes(4, "big") + pkt.body).hexdigest()
            else:
                continue
            order.setdefault(fp.upper(), len(order))
    except KeyFormatError:
        return {}
    return order
