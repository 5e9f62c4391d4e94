"""The tables of index schema 3, which :mod:`registry.index._store` migrates from (2 -> 3 -> 4).

Kept apart from :mod:`registry.index._schema` (which every reader imports) since only a
migration needs it.
"""

from __future__ import annotations

__all__ = ["SCHEMA_3"]

SCHEMA_3 = """
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
"""
