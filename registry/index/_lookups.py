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
Stdlib + :mod:`registry.names`.
"""

from __future__ import annotations

import sqlite3

from registry.index._evdata import decode_fields, encode_fields

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

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
