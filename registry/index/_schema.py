"""The index's SQLite schema (one place, versioned).

    conn.executescript(SCHEMA)

Tables hold what sync derived from ``KeyRegistry`` events, each row tagged with
the block it came from so a reorg can roll back to any block:

* ``meta``         key/value: schema version, chain id, registry address,
                   synced block, last successful sync time, policy profile.
* ``blocks``       hash and timestamp of every block that carried an event,
                   and of every page's last block (reorg detection), with the
                   contract's event digest after that block (checked per page).
* ``names``        node -> name text (rebuilt from ``NameRegistered`` labels),
                   parent, registrant, current owner, renounced flag.
* ``records``      one row per key record: the verified material, its parsed
                   algorithm / fingerprint / identities, revocation, policy verdict.
* ``fingerprints`` fingerprint -> (node, index): reverse lookups.
* ``identities``   e-mail addresses / DNS names a key claims -> (node, index).
* ``operators``    approvals per (node, owner, operator).
* ``attestations`` live attestations per record that count (their attester
                   is not blocked by the subject); ``held_attestations`` those
                   whose attester is blocked; ``blocked`` the blocks.
* ``events``       every decoded event (history, watch, rollback replays).
* ``dns_control``  the DNS-control verdict of each top-level name (refreshed by
                   every sync with DNS checks); a record under a failing domain
                   has ``policy = 'fail'`` and its own verdict in ``base_policy``.

Schema changes must keep existing files readable: new SQL indexes are
``IF NOT EXISTS`` (created by the next sync, and the reader works without
them); a new column or a new encoding needs a new ``SCHEMA_VERSION``. Readers
and the store then refuse a file of another version with one line naming both
versions -- an older file "needs a re-sync" (``keyanchor index rebuild``, or
delete it and sync), a newer one "was written by a newer keyanchor" -- never
reading it the wrong way (:func:`schema_problem`).

Schema 3 (issue 15) stores event fields as compact binary (:mod:`._evdata`)
instead of hex-in-JSON, in 16 KiB pages (an OpenPGP certificate's row no
longer leaves a third of a 4 KiB page empty), keeps ``names``, ``records`` and
``events`` in primary-key order without a rowid (no second copy of their keys
in an autoindex; with 16 KiB pages a certificate's row still fits one page),
events keyed by node (no ``events_node`` index), and drops the
``fingerprints_record`` index (a record's subkeys are found from its material).
"""

from __future__ import annotations

__all__ = ["PAGE_SIZE", "SCHEMA", "SCHEMA_VERSION", "schema_problem"]

SCHEMA_VERSION = 3  # 2: KeyRegistry v2 (event digest, revocation bytes, blocked attesters)
#                    3: compact event fields (binary, not hex-in-JSON), 16 KiB pages

#: Page size of a new index file (set before its first table).
PAGE_SIZE = 16384


def schema_problem(found: object, path: object) -> str | None:
    """Why an index whose ``meta`` says schema ``found`` cannot be read, or ``None``.

    One line, for the sshd path and the ``keyanchor index`` commands alike.
    Stdlib only and cheap: :mod:`registry.index._query` calls it on every open.
    """
    if found == str(SCHEMA_VERSION):
        return None
    if found is None:
        return f"{path} is not a keyanchor index (no schema version)"
    if isinstance(found, str) and found.isdecimal() and int(found) < SCHEMA_VERSION:
        return (f"{path} has index schema {found}, this keyanchor reads schema {SCHEMA_VERSION}:"
                " re-sync needed ('keyanchor index rebuild', or delete the file and run"
                " 'keyanchor sync')")
    if isinstance(found, str) and found.isdecimal():
        return (f"{path} has index schema {found}, written by a newer keyanchor (this one reads"
                f" schema {SCHEMA_VERSION}): upgrade keyanchor, or re-sync into another file")
    return f"{path} is not a keyanchor index (schema {found!r})"

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

CREATE TABLE IF NOT EXISTS names (
    node       BLOB PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    parent     BLOB NOT NULL,
    person     INTEGER NOT NULL,
    registrant TEXT NOT NULL,
    owner      TEXT NOT NULL,
    renounced  INTEGER NOT NULL DEFAULT 0,
    block      INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS records (
    node          BLOB NOT NULL,
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
    block         INTEGER NOT NULL,
    tx_hash       BLOB NOT NULL,
    revoked_at    INTEGER NOT NULL DEFAULT 0,
    reason        INTEGER,
    revoked_block INTEGER,
    revocation    BLOB,
    base_policy   TEXT,
    algorithm     TEXT NOT NULL,
    fingerprint   TEXT NOT NULL,
    identities    TEXT NOT NULL,
    policy        TEXT NOT NULL,
    policy_detail TEXT NOT NULL,
    PRIMARY KEY (node, idx)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS fingerprints (
    fingerprint TEXT NOT NULL,
    node        BLOB NOT NULL,
    idx         INTEGER NOT NULL,
    PRIMARY KEY (fingerprint, node, idx)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS identities (
    identity TEXT NOT NULL,
    node     BLOB NOT NULL,
    idx      INTEGER NOT NULL,
    PRIMARY KEY (identity, node, idx)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS operators (
    node     BLOB NOT NULL,
    owner    TEXT NOT NULL,
    operator TEXT NOT NULL,
    approved INTEGER NOT NULL,
    PRIMARY KEY (node, owner, operator)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS attestations (
    node        BLOB NOT NULL,
    idx         INTEGER NOT NULL,
    attester    BLOB NOT NULL,
    policy_hash BLOB NOT NULL,
    expires     INTEGER NOT NULL,
    attested_at INTEGER NOT NULL,
    PRIMARY KEY (node, idx, attester)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS held_attestations (
    node        BLOB NOT NULL,
    idx         INTEGER NOT NULL,
    attester    BLOB NOT NULL,
    policy_hash BLOB NOT NULL,
    expires     INTEGER NOT NULL,
    attested_at INTEGER NOT NULL,
    PRIMARY KEY (node, idx, attester)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS dns_control (
    node       BLOB PRIMARY KEY,
    domain     TEXT NOT NULL,
    owner      TEXT NOT NULL,
    status     TEXT NOT NULL,
    owners     TEXT NOT NULL,
    detail     TEXT NOT NULL,
    checked_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS blocked (
    node     BLOB NOT NULL,
    attester BLOB NOT NULL,
    PRIMARY KEY (node, attester)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS events (
    block     INTEGER NOT NULL,
    log_index INTEGER NOT NULL,
    tx_hash   BLOB NOT NULL,
    node      BLOB NOT NULL,
    kind      TEXT NOT NULL,
    data      BLOB NOT NULL,  -- registry.index._evdata (schema 3; schema 2: JSON text)
    PRIMARY KEY (node, block, log_index)  -- history and replays read one node's events
) WITHOUT ROWID;

-- Added within schema 1 (kept in 2) (indexes only, no new columns: files written before
-- them read the same, just without the speed-up; the next ``Store.open`` --
-- any sync -- creates them).
-- v4 OpenPGP long key IDs, the low 64 bits of the fingerprint (IndexReader.records_by_key_id;
-- v6 key IDs are a prefix and use the primary key)
CREATE INDEX IF NOT EXISTS fingerprints_v4_key_id ON fingerprints (substr(fingerprint, 25))
    WHERE length(fingerprint) = 40;
"""
