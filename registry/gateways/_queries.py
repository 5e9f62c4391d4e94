"""The HTTP gateway's own index queries: its hot routes in one narrow query each.

    rows = rows_by_fingerprint(reader, "0x" + fpr)     # HKP op=get, /v1/keys/{fingerprint}
    rows = rows_by_name(reader, "alice@example.org")    # HKP op=get by e-mail: (Row, identities)
    found = name_view_rows(reader, "alice@example.org") # /v1/names/{name}

Everything else the gateway reads through :class:`~registry.index.IndexReader`'s
methods. These give the same records as ``records_by_fingerprint`` and
``records`` (same rows, same order, statuses computed the same way), but only
the fields the serving rule and the hot answers read (:class:`Row`: no record
object, no text-table lookups, no identities decoded), and the name page's
name, records, operators flag and attestations flags in one query instead of
four. ``tests/gateways/test_queries.py`` compares them with the reader's
answers over the test index, so a schema change that breaks them fails there.
"""

from __future__ import annotations

import time
from typing import Any

from registry.index._query import IndexReader
from registry.index._schema import fingerprint_key
from registry.index._snapshot import _COLUMNS, _identities, record_status

try:  # a JSON decoder in C (a dependency: the gateway's JSON answers)
    from orjson import JSONDecodeError as _OrjsonError
    from orjson import loads as _orjson_loads
except ImportError:  # pragma: no cover
    _orjson_loads = None  # type: ignore[assignment]

__all__ = ["Row", "identities", "name_view_rows", "rows_by_fingerprint", "rows_by_name"]


class Row:
    """The fields of an :class:`~registry.index.IndexedRecord` that the serving rule and the hot
    answers read (HKP ``op=get``, ``/v1/keys``). The gateway uses rows only when the verdict is
    the one sync stored (no lookup-time policy) and no record among them is revoked (a revoked
    record's answer merges its revocation: the full records)."""

    __slots__ = ("commitment", "index", "key_type", "material", "name", "policy", "published_at",
                 "status")

    def __init__(self, name: str, index: int, key_type: int, status: str, commitment: bytes,
                 material: bytes, published_at: int, policy: str) -> None:
        self.name, self.index, self.key_type, self.status = name, index, key_type, status
        self.commitment, self.material = commitment, material
        self.published_at, self.policy = published_at, policy


def identities(text: str | None) -> tuple[str, ...]:
    """A record's identities as ``registry.index._snapshot._identities`` reads them (orjson
    where it can: the same strings; the stdlib for what it refuses, such as lone surrogates)."""
    if text is not None and _orjson_loads is not None:
        try:
            return tuple(_orjson_loads(text))
        except _OrjsonError:
            pass
    return _identities(text)


_ROW_COLUMNS = ("n.name, r.idx, r.key_type, r.valid_from, r.valid_until, r.revoked_at,"
                " r.commitment, r.material, r.published_at, r.policy")
_BY_FINGERPRINT = (  # IndexReader.records_by_fingerprint's rows
    f"SELECT {_ROW_COLUMNS} FROM fingerprints f"
    " JOIN records r ON r.name_id = f.name_id AND r.idx = f.idx"
    " JOIN names n ON n.id = r.name_id WHERE f.fingerprint = ?")  # ORDER BY n.name, r.idx: below
_BY_NAME = (  # IndexReader.records' rows
    f"SELECT {_ROW_COLUMNS}, r.identities FROM names n JOIN records r ON r.name_id = n.id"
    " WHERE n.name = ? ORDER BY r.idx")
_NAME_VIEW = (  # IndexReader.name's row (+ whether it has operators), each record (+ attested)
    "SELECT n.name, p.name, n.person, t.text, n.renounced, n.block,"
    " EXISTS (SELECT 1 FROM operators o WHERE o.name_id = n.id AND o.owner = n.owner"
    " AND o.approved = 1),"
    " EXISTS (SELECT 1 FROM attestations a WHERE a.name_id = n.id AND a.idx = r.idx),"
    f" r.idx IS NULL, {_COLUMNS}"
    " FROM names n JOIN texts t ON t.id = n.owner LEFT JOIN names p ON p.id = n.parent"
    " LEFT JOIN records r ON r.name_id = n.id WHERE n.name = ? ORDER BY r.idx")


def _row(found: tuple[Any, ...], now: float) -> Row:
    name, idx, kt, vf, vu, rev, cm, mat, pub, pol = found[:10]
    return Row(name, idx, kt, record_status(vf, vu, rev, now), bytes(cm), bytes(mat), pub, pol)


def rows_by_fingerprint(reader: IndexReader, fingerprint: str) -> list[Row]:
    """The records holding this fingerprint, as ``reader.records_by_fingerprint`` orders them.

    Raises: IndexUnavailable.
    """
    now = time.time()
    found = reader._q(_BY_FINGERPRINT, (fingerprint_key(fingerprint),))
    if len(found) > 1:  # SQLite's BINARY order of UTF-8 text is Python's order of str
        found.sort(key=lambda r: (r[0], r[1]))
    return [_row(r, now) for r in found]


def rows_by_name(reader: IndexReader, text: str) -> list[tuple[Row, tuple[str, ...]]]:
    """The records of the name ``text`` (in normal form), with each one's identities.

    Raises: IndexUnavailable.
    """
    now = time.time()
    return [(_row(r, now), identities(r[10])) for r in reader._q(_BY_NAME, (text,))]


def name_view_rows(reader: IndexReader, text: str) -> list[tuple[Any, ...]]:
    """One row per record of the name ``text`` (in normal form; one row when it has none):
    ``(name, parent, person, owner, renounced, created_block, has_operators, attested,
    no_record, *record)`` where ``record`` is what ``registry.index._query._record`` reads.
    ``[]``: the name is not registered.

    Raises: IndexUnavailable.
    """
    return reader._q(_NAME_VIEW, (text,))
