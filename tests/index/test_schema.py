"""Index schema versions (issue 15): schema 2 and 3 files migrate, newer ones are refused, never misread.

Readers -- the sshd path, ``keyanchor index`` -- refuse any other version
with one line (an older file: "re-sync needed"; a newer one: "written by a
newer keyanchor") and print nothing; the store migrates a schema-2 or -3 file
to schema 4 on the next sync's open, and the migrated file answers every
lookup and history exactly as the schema-3 keyanchor answered it
(``schema3.sql``, ``schema3_answers.json``; :mod:`tests.index.index_answers`).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from registry.errors import IndexUnavailable
from registry.gateways.ssh import SSHSettings, authorized_keys
from registry.index._evdata import decode_fields, encode_fields
from registry.index._query import IndexReader
from registry.index._schema import PAGE_SIZE, SCHEMA_VERSION
from registry.index._store import Event, ParsedKey, Store
from registry.keys import commitment
from registry.names import namehash
from tests.index.index_answers import answers
from tests.index.test_store import ALICE, ORG, _build

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent

V2_EVENTS = """CREATE TABLE events (
    block     INTEGER NOT NULL,
    log_index INTEGER NOT NULL,
    tx_hash   BLOB NOT NULL,
    node      BLOB NOT NULL,
    kind      TEXT NOT NULL,
    data      TEXT NOT NULL,
    PRIMARY KEY (block, log_index)
);
CREATE INDEX events_node ON events (node, block, log_index);
CREATE INDEX fingerprints_record ON fingerprints (node, idx);
"""


def _as_schema_2(path: Path) -> None:
    """Rewrite a schema-3 index the way schema 2 stored it (JSON text events, 4 KiB pages)."""
    conn = sqlite3.connect(path, isolation_level=None)
    rows = conn.execute("SELECT block, log_index, tx_hash, node, kind, data FROM events").fetchall()
    conn.execute("DROP TABLE events")
    conn.executescript(V2_EVENTS)
    conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)", [
        (b, li, tx, node, kind, json.dumps(decode_fields(d), sort_keys=True, separators=(",", ":")))
        for b, li, tx, node, kind, d in rows])
    conn.execute("UPDATE meta SET value = '2' WHERE key = 'schema'")
    conn.execute("PRAGMA page_size = 4096")
    conn.execute("VACUUM")
    conn.close()


def _schema_3(path: Path) -> Path:
    """The schema-3 fixture as a published index file (as the schema-3 keyanchor left it)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
    conn.executescript((HERE / "schema3.sql").read_text())
    conn.close()
    return path


def _published(path: Path) -> Path:
    store = _build(path, 12)
    with store.transaction():
        store.mark_synced()
    store.close()
    Path(str(path) + ".work").unlink()  # as an index from before: only the published file
    return path


def _set_schema(path: Path, version: str) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (version,))
    conn.close()


def test_event_fields_round_trip_as_schema_2_showed_them() -> None:
    data: dict[str, Any] = {"index": 3, "commitment": b"\x12" * 32, "durable": False, "person": True,
                            "owner": "0x" + "ab" * 20, "label": "alice", "name": "0xab",
                            "expires": 2**64 - 1, "neg": -5, "none": None, "revocation": b"",
                            "text": "ünïcode"}
    want = json.loads(json.dumps({k: "0x" + v.hex() if isinstance(v, bytes) else v
                                  for k, v in data.items()}, sort_keys=True))
    got = decode_fields(encode_fields(data))
    assert got == want and list(got) == sorted(want)
    assert len(encode_fields({"commitment": b"\x12" * 32, "index": 0})) == 1 + 1 + 1 + 32 + 3
    blob = encode_fields(data)
    for cut in range(1, len(blob)):  # every truncation is the module's own error, never a wrong dict
        try:
            decoded = decode_fields(blob[:cut])
        except ValueError:
            continue
        assert decoded != want


@pytest.mark.parametrize("version", ["3", "2"])
def test_old_index_migrates_on_open_and_answers_as_before(tmp_path: Path, version: str) -> None:
    path = _schema_3(tmp_path / "index.sqlite")
    if version == "2":
        _as_schema_2(path)
        assert sqlite3.connect(path).execute("PRAGMA page_size").fetchone()[0] == 4096
    with pytest.raises(IndexUnavailable, match="re-sync needed"):
        IndexReader.open(path)
    want = json.loads((HERE / "schema3_answers.json").read_text())

    store = Store.open(path)  # the next sync: migrates and publishes at once
    try:
        assert store.meta("schema") == str(SCHEMA_VERSION) == "4"
        assert store.attesters_of(ALICE, 0) == store.attesters_of(ALICE, 1) == [ORG]
        assert answers(path) == want  # readers see the migrated snapshot before the sync ends
        digest = store.digest()
    finally:
        store.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA page_size").fetchone()[0] == PAGE_SIZE
    assert conn.execute("SELECT count(*) FROM events WHERE kind IN ('NameRegistered',"
                        " 'KeyPublished')").fetchone()[0] == 0
    conn.close()
    # the same events applied by schema 4 itself make the same content
    fresh = _build(tmp_path / "fresh.sqlite", 12)
    try:
        with fresh.transaction():
            _bob(fresh)
            fresh.mark_synced(now=1500)
        assert fresh.digest() == digest
    finally:
        fresh.close()
    assert answers(tmp_path / "fresh.sqlite") == want


def _bob(store: Store) -> None:
    """What ``schema3.sql`` holds beyond ``_build(path, 12)`` (as it was made)."""
    bob = bytes(namehash("bob@example.org"))
    mat = b"\x99\x00\x0dnot-a-real-cert"
    store.apply(Event("NameRegistered", 13, 2, b"\x0d" * 32, bob, 1013, {
        "name": "bob@example.org", "label": "bob", "parent": ORG, "person": True,
        "owner": "0x" + "cc" * 20}))
    store.apply(Event("KeyPublished", 13, 3, b"\x0e" * 32, bob, 1013, {
        "index": 0, "commitment": commitment(2, mat), "key_type": 2, "purposes": 12,
        "valid_from": 0, "valid_until": 5000, "durable": True, "material": mat, "proof": b"pp"},
        ParsedKey("ed25519", ("0123456789ABCDEF0123456789ABCDEF01234567",
                              "89abcdef0123456789abcdef0123456789abcdef", "SHA256:" + "A" * 43),
                  ("bob@example.org", "b2@example.net"), "fail", "default 0xabc: x.y")))
    store.add_block(13, b"\x0d" * 32, 1013)
    store.set_meta("synced_block", 13)


def test_schema_3_index_that_does_not_replay_is_refused_not_misread(tmp_path: Path) -> None:
    path = _schema_3(tmp_path / "index.sqlite")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DELETE FROM records WHERE idx = 1")  # its KeyPublished has no record to replay
    conn.close()
    before = path.read_bytes()
    with pytest.raises(IndexUnavailable, match="re-sync needed") as exc:
        Store.open(path)
    assert "\n" not in str(exc.value) and str(path) in str(exc.value)
    assert path.read_bytes() == before
    with pytest.raises(IndexUnavailable, match="re-sync needed"):
        IndexReader.open(path)


@pytest.mark.parametrize(("version", "message"), [
    ("3", "re-sync needed"), ("2", "re-sync needed"), ("1", "re-sync needed"),
    (str(SCHEMA_VERSION + 1), "written by a newer keyanchor"), ("x", "not a keyanchor index")])
def test_other_schemas_are_one_line_errors_for_readers(tmp_path: Path, version: str,
                                                       message: str) -> None:
    path = _published(tmp_path / "index.sqlite")
    _set_schema(path, version)
    with pytest.raises(IndexUnavailable, match=message) as exc:
        IndexReader.open(path)
    assert "\n" not in str(exc.value) and str(path) in str(exc.value)
    env = {**os.environ, "PYTHONPATH": str(REPO), "KEYANCHOR_INDEX": str(path)}
    cli = subprocess.run([sys.executable, "-m", "cli.main", "index", "status", "--index", str(path)],
                         capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert cli.returncode == 1 and cli.stdout == ""
    assert message in cli.stderr and "Traceback" not in cli.stderr
    assert len(cli.stderr.strip().splitlines()) == 1
    if version in ("2", "3"):  # the error names the command that fixes it, and it exists
        assert "the next 'keyanchor sync' migrates it" in cli.stderr
    elif version == "1":
        assert "delete the file and run 'keyanchor sync'" in cli.stderr


def test_newer_schema_is_never_migrated_or_written(tmp_path: Path) -> None:
    path = _published(tmp_path / "index.sqlite")
    _set_schema(path, str(SCHEMA_VERSION + 1))
    before = path.read_bytes()
    with pytest.raises(IndexUnavailable, match="written by a newer keyanchor"):
        Store.open(path)
    assert path.read_bytes() == before


def test_sync_never_writes_into_another_programs_database(tmp_path: Path) -> None:
    """`keyanchor sync --index` naming another program's SQLite file (a typo, a wrong
    [index] path) added keyanchor's tables to it and renamed the result over it."""
    path = tmp_path / "places.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE bookmarks (url TEXT)")
    conn.execute("INSERT INTO bookmarks VALUES ('https://example.org/')")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(IndexUnavailable, match="not a keyanchor index") as exc:
        Store.open(path)
    assert "\n" not in str(exc.value) and str(path) in str(exc.value)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["places.sqlite"]
    env = {**os.environ, "PYTHONPATH": str(REPO), "KEYANCHOR_STATE": str(tmp_path / "chain.db"),
           "KEYANCHOR_CONFIG": str(tmp_path / "config.toml")}
    subprocess.run([sys.executable, "-m", "cli.main", "deploy"], capture_output=True, check=True,
                   timeout=120, env=env, cwd=tmp_path)  # an embedded chain to sync from
    cli = subprocess.run([sys.executable, "-m", "cli.main", "sync", "--index", str(path)],
                         capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert cli.returncode == 1 and "not a keyanchor index" in cli.stderr, cli.stderr
    assert len(cli.stderr.strip().splitlines()) == 1 and "Traceback" not in cli.stderr
    assert path.read_bytes() == before


@pytest.mark.skipif(os.geteuid() != 0, reason="switches to another user (needs root)")
def test_sync_as_the_wrong_user_names_the_user_to_run_it_as(safe_tmp: Path) -> None:
    """A sync run by a user other than the index directory's owner said only "Operation
    not permitted"; it now names the owner to run it as (docs/SSH.md's sync user)."""
    import pwd

    home = safe_tmp / "lib"  # every directory above it searchable by all, as /var/lib is
    home.mkdir()
    _published(home / "index.sqlite")
    os.chmod(home, 0o755)
    nobody = pwd.getpwnam("nobody")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop to nobody, try to open the index for writing
        try:
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            try:
                Store.open(home / "index.sqlite").close()
                message = "opened"
            except IndexUnavailable as exc:
                message = str(exc)
            os.write(write, message.encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        message = pipe.read().decode()
    os.waitpid(pid, 0)
    assert f"run sync as {pwd.getpwuid(os.geteuid()).pw_name}, who owns {home}" in message
    assert "\n" not in message


@pytest.mark.parametrize(("version", "message"), [
    ("2", "re-sync needed"), ("3", "re-sync needed"),
    (str(SCHEMA_VERSION + 1), "written by a newer keyanchor")])
def test_sshd_path_fails_closed_on_another_schema(safe_tmp: Path, version: str, message: str) -> None:
    path = _published(safe_tmp / "index.sqlite")
    if version in ("2", "3"):
        path.unlink()
        _schema_3(path)
        if version == "2":
            _as_schema_2(path)
    else:
        _set_schema(path, version)
    os.chmod(path, 0o644)
    with pytest.raises(IndexUnavailable, match=message):
        authorized_keys("alice", SSHSettings(path, "{user}@example.org", max_staleness=1e12))
    config = safe_tmp / "config.toml"
    config.write_text(f'[ssh]\nuser_template = "{{user}}@example.org"\n[index]\npath = "{path}"\n')
    env = {**os.environ, "PYTHONPATH": str(REPO), "KEYANCHOR_CONFIG": str(config)}
    env.pop("KEYANCHOR_INDEX", None)
    run = subprocess.run([sys.executable, "-m", "cli.ssh_entry", "authorized-keys", "alice"],
                         capture_output=True, text=True, timeout=60, env=env, cwd=safe_tmp)
    assert (run.returncode, run.stdout) == (1, "")
    assert message in run.stderr and len(run.stderr.splitlines()) == 1
