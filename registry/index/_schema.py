"""The index's SQLite schema (one place, versioned).

    conn.executescript(SCHEMA)

Tables hold what sync derived from ``KeyRegistry`` events, each row tagged with
the block it came from so a reorg can roll back to any block:

* ``meta``         key/value: schema version, chain id, registry address,
                   synced block, last successful sync time, policy profile.
* ``blocks``       hash and timestamp of every block that carried an event,
                   and of every page's last block (reorg detection), with the
                   contract's event digest after that block (checked per page).
* ``names``        integer id -> name text (rebuilt from ``NameRegistered`` labels),
                   parent id, registrant, current owner, renounced flag, and where
                   its ``NameRegistered`` was (block, log index, tx hash). Every other
                   table names a name by this id. The node (namehash) is not stored:
                   it is computed from the text; ``hint`` (its first 8 bytes) finds a
                   name from a node, re-checked by hashing the text.
* ``nodes``        nodes that events name but ``names`` does not hold (negative ids).
* ``texts``        repeated text (owner addresses, algorithms, policy details) -> id.
* ``records``      one row per key record: the verified material, its parsed
                   algorithm / fingerprint / identities, revocation, policy verdict,
                   and where its ``KeyPublished`` was.
* ``fingerprints`` binary fingerprint -> (name id, index): reverse lookups
                   (:func:`fingerprint_key`).
* ``identities``   e-mail addresses / DNS names a key claims -> (name id, index).
* ``operators``    approvals per (name id, owner, operator).
* ``attestations`` live attestations per record that count (their attester
                   is not blocked by the subject); ``held_attestations`` those
                   whose attester is blocked; ``blocked`` the blocks.
* ``events``       every decoded event (history, watch, rollback replays) except
                   ``NameRegistered`` and ``KeyPublished``, whose content is the
                   ``names`` / ``records`` row (fields those rows cannot give back
                   are kept in their ``extra`` column).
* ``dns_control``  the DNS-control verdict of each top-level name (refreshed by
                   every sync with DNS checks); a record under a failing domain
                   has ``policy = 'fail'`` and its own verdict in ``base_policy``.

Schema changes must keep existing files readable: new SQL indexes are
``IF NOT EXISTS`` (created by the next sync, and the reader works without
them); a new column or a new encoding needs a new ``SCHEMA_VERSION``. Readers
and the store then refuse a file of another version with one line naming both
versions -- an older file "needs a re-sync" (the next ``keyanchor sync``
migrates one of :data:`MIGRATED_FROM`; any other: delete it and sync), a newer one "was written by a newer keyanchor" -- never
reading it the wrong way (:func:`schema_problem`).

Schema 3 (issue 15) stores event fields as compact binary (:mod:`._evdata`)
instead of hex-in-JSON, in 16 KiB pages (an OpenPGP certificate's row no
longer leaves a third of a 4 KiB page empty), keeps ``names``, ``records`` and
``events`` in primary-key order without a rowid (no second copy of their keys
in an autoindex; with 16 KiB pages a certificate's row still fits one page),
events keyed by node (no ``events_node`` index), and drops the
``fingerprints_record`` index (a record's subkeys are found from its material).

Schema 4 (issue 15) names a name by an integer id instead of its 32-byte node,
stores no event row whose content a ``names`` / ``records`` row holds, keeps
fingerprints as bytes (an OpenPGP v4 one with its key ID first, so key-ID
lookups are a range of the same primary key) and repeated text once.
"""

from __future__ import annotations

# The version and its check live in registry.index._version (what a reader's open runs).
from registry.index._version import MIGRATED_FROM, SCHEMA_VERSION, schema_problem

__all__ = ["MIGRATED_FROM", "PAGE_SIZE", "SCHEMA", "SCHEMA_VERSION", "fingerprint_key", "fingerprint_text",
           "schema_mismatch", "schema_problem"]

#: Page size of a new index file (set before its first table).
PAGE_SIZE = 16384


def schema_mismatch(found: object, path: object) -> str:
    """Why an index whose ``meta`` says schema ``found`` (not :data:`SCHEMA_VERSION`) cannot
    be read: the message of :func:`schema_problem` when there is a problem."""
    if found is None:
        return f"{path} is not a keyanchor index (no schema version)"
    if isinstance(found, str) and found.isdecimal() and int(found) < SCHEMA_VERSION:
        how = ("the next 'keyanchor sync' migrates it" if found in MIGRATED_FROM
               else "delete the file and run 'keyanchor sync'")
        return (f"{path} has index schema {found}, this keyanchor reads schema {SCHEMA_VERSION}:"
                f" re-sync needed ({how})")
    if isinstance(found, str) and found.isdecimal():
        return (f"{path} has index schema {found}, written by a newer keyanchor (this one reads"
                f" schema {SCHEMA_VERSION}): upgrade keyanchor, or re-sync into another file")
    return f"{path} is not a keyanchor index (schema {found!r})"


_HEXDIGITS = frozenset("0123456789ABCDEF")


def fingerprint_key(fp: str) -> bytes:
    """A fingerprint as stored in ``fingerprints`` and ``records``: one tag byte and bytes.

    ``S`` + the 32 bytes of an SSH ``SHA256:`` fingerprint; ``X`` + the bytes of
    a hex one (OpenPGP, X.509 certificate or SPKI pin; colons, ``0x`` and case
    ignored), a 20-byte (OpenPGP v4) one rotated so that its key ID (the low 8
    bytes) comes first -- a key ID is then a prefix of either version's key;
    ``T`` + the text of anything else (never equal to a well-formed one).
    """
    fp = fp.strip()
    if fp.startswith("SHA256:"):
        b64 = fp[7:]
        if len(b64) == 43:
            import binascii

            try:
                raw = binascii.a2b_base64(b64 + "=")
            except binascii.Error:
                raw = b""
            if len(raw) == 32 and binascii.b2a_base64(raw, newline=False)[:43] == b64.encode():
                return b"S" + raw
        return b"T" + fp.encode("utf-8", "surrogatepass")
    hx = fp.removeprefix("0x").removeprefix("0X").replace(":", "").upper()
    if hx and len(hx) % 2 == 0 and _HEXDIGITS.issuperset(hx):
        raw = bytes.fromhex(hx)
        return b"X" + (raw[12:] + raw[:12] if len(raw) == 20 else raw)
    return b"T" + hx.encode("utf-8", "surrogatepass")


def fingerprint_text(key: bytes) -> str:
    """The fingerprint :func:`fingerprint_key` stored (``""`` for an empty value)."""
    key = bytes(key)
    tag, raw = key[:1], key[1:]
    if tag == b"S":
        import binascii

        return "SHA256:" + binascii.b2a_base64(raw, newline=False).decode("ascii").rstrip("=")
    if tag == b"X":
        return (raw[8:] + raw[:8] if len(raw) == 20 else raw).hex().upper()
    return raw.decode("utf-8", "surrogatepass")


SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS blocks (
    number    INTEGER PRIMARY KEY,
    hash      BLOB NOT NULL,
    timestamp INTEGER NOT NULL,
    digest    BLOB
);

CREATE TABLE IF NOT EXISTS texts (
    id   INTEGER PRIMARY KEY,
    text TEXT NOT NULL UNIQUE
);

CREATE TABLE IF NOT EXISTS names (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    hint       INTEGER NOT NULL,          -- the node's first 8 bytes (signed big-endian)
    parent     INTEGER NOT NULL,          -- 0: top-level; else names.id (nodes.id if unknown)
    person     INTEGER NOT NULL,
    registrant INTEGER NOT NULL,          -- texts.id
    owner      INTEGER NOT NULL,          -- texts.id
    renounced  INTEGER NOT NULL DEFAULT 0,
    block      INTEGER NOT NULL,          -- the NameRegistered event
    log_index  INTEGER NOT NULL,
    tx_hash    BLOB NOT NULL,
    extra      BLOB                       -- its fields this row cannot give back (_evdata)
);
CREATE INDEX IF NOT EXISTS names_hint ON names (hint);

CREATE TABLE IF NOT EXISTS nodes (
    id   INTEGER PRIMARY KEY,             -- < 0
    node BLOB NOT NULL UNIQUE
);

CREATE TABLE IF NOT EXISTS records (
    name_id       INTEGER NOT NULL,
    idx           INTEGER NOT NULL,
    key_type      INTEGER NOT NULL,
    purposes      INTEGER NOT NULL,
    commitment    BLOB NOT NULL,
    valid_from    INTEGER NOT NULL,
    valid_until   INTEGER NOT NULL,
    durable       INTEGER NOT NULL,
    material      BLOB NOT NULL,
    proof         BLOB NOT NULL,
    published_at  INTEGER NOT NULL,
    block         INTEGER NOT NULL,       -- the KeyPublished event
    log_index     INTEGER NOT NULL,
    tx_hash       BLOB NOT NULL,
    revoked_at    INTEGER NOT NULL DEFAULT 0,
    reason        INTEGER,
    revoked_block INTEGER,
    revocation    BLOB,
    base_policy   TEXT,                   -- own verdict under a failing domain: policy LF detail id
    algorithm     INTEGER NOT NULL,       -- texts.id
    fingerprint   BLOB NOT NULL,          -- fingerprint_key()
    identities    TEXT,                   -- JSON list; NULL: none
    policy        TEXT NOT NULL,
    policy_detail INTEGER NOT NULL,       -- texts.id
    extra         BLOB,                   -- KeyPublished fields this row cannot give back
    PRIMARY KEY (name_id, idx)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS fingerprints (
    fingerprint BLOB NOT NULL,            -- fingerprint_key()
    name_id     INTEGER NOT NULL,
    idx         INTEGER NOT NULL,
    PRIMARY KEY (fingerprint, name_id, idx)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS identities (
    identity TEXT NOT NULL,
    name_id  INTEGER NOT NULL,
    idx      INTEGER NOT NULL,
    PRIMARY KEY (identity, name_id, idx)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS operators (
    name_id  INTEGER NOT NULL,
    owner    INTEGER NOT NULL,            -- texts.id
    operator INTEGER NOT NULL,            -- texts.id
    approved INTEGER NOT NULL,
    PRIMARY KEY (name_id, owner, operator)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS attestations (
    name_id     INTEGER NOT NULL,
    idx         INTEGER NOT NULL,
    attester    BLOB NOT NULL,            -- the attesting name's node
    policy_hash BLOB NOT NULL,
    expires     INTEGER NOT NULL,
    attested_at INTEGER NOT NULL,
    PRIMARY KEY (name_id, idx, attester)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS held_attestations (
    name_id     INTEGER NOT NULL,
    idx         INTEGER NOT NULL,
    attester    BLOB NOT NULL,
    policy_hash BLOB NOT NULL,
    expires     INTEGER NOT NULL,
    attested_at INTEGER NOT NULL,
    PRIMARY KEY (name_id, idx, attester)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS dns_control (
    name_id    INTEGER PRIMARY KEY,
    domain     TEXT NOT NULL,
    owner      TEXT NOT NULL,
    status     TEXT NOT NULL,
    owners     TEXT NOT NULL,
    detail     TEXT NOT NULL,
    checked_at INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS blocked (
    name_id  INTEGER NOT NULL,
    attester BLOB NOT NULL,
    PRIMARY KEY (name_id, attester)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS events (
    name_id   INTEGER NOT NULL,
    block     INTEGER NOT NULL,
    log_index INTEGER NOT NULL,
    tx_hash   BLOB NOT NULL,
    kind      TEXT NOT NULL,
    data      BLOB NOT NULL,  -- registry.index._evdata
    PRIMARY KEY (name_id, block, log_index)  -- history and replays read one name's events
) WITHOUT ROWID;
"""
