"""The embedded chain: a py-evm chain kept in one file, shared by separate processes.

With no network configured, keyanchor runs on this chain. Its whole state (the
py-evm key-value database plus a little metadata) lives in one SQLite file
under the user's data directory; a process opens it, works, and every mined
block is committed in one SQLite transaction, so a process killed mid-write
leaves the previous state intact. An exclusive ``flock`` on ``<state>.lock``
is held by a writer from open to close (readers take a shared one).

    with EmbeddedChain.open() as chain:
        print(chain.web3.eth.block_number, chain.registry_address)

The chain looks like anvil's: chain id 31337, ten development accounts from
the public test mnemonic ``test test ... junk`` with 10,000 ETH each, one
block mined per transaction, block timestamps from the wall clock. The same
JSON-RPC dispatcher answers :attr:`EmbeddedChain.web3` in process and the
HTTP devnet (:mod:`registry.chain.devnet`), so both behave alike: a revert is
JSON-RPC error 3 carrying the revert data, as geth and anvil report it.

While ``keyanchor devnet`` serves a state file, :meth:`EmbeddedChain.open`
refuses it and names the URL to use instead (:func:`devnet_url_for`).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import json
import logging
import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry.chain import _speedups
from registry.errors import (
    ChainError,
    ChainUnavailable,
    ConfigError,
    Error,
    RegistryNotFound,
)

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount
    from web3 import Web3

__all__ = [
    "BLOCK_GAS_LIMIT",
    "CHAIN_ID",
    "DEV_MNEMONIC",
    "EmbeddedChain",
    "RpcError",
    "default_state_path",
    "dev_accounts",
    "devnet_url_for",
]

log = logging.getLogger(__name__)

CHAIN_ID = 31337
"""Chain id of the embedded chain and the devnet (anvil's)."""

BLOCK_GAS_LIMIT = 30_000_000
DEV_MNEMONIC = "test test test test test test test test test test test junk"
"""The public test mnemonic of anvil and hardhat: never hold real value with it."""
DEV_ACCOUNT_COUNT = 10
DEV_BALANCE_WEI = 10_000 * 10**18
PRIORITY_FEE_WEI = 10**9
CLIENT_VERSION = "keyanchor-devnet/0.1.0/py-evm"
MAX_LOG_BLOCK_RANGE = 100_000
MAX_PROOF_KEYS = 1_000
#: Decoded trie nodes the node keeps for eth_getProof (cleared when over).
_TRIE_NODE_CACHE = 4_096
#: Blocks whose size and transaction hashes the node keeps (cleared when over).
_BLOCK_BODY_CACHE = 256
_EMPTY_ROOT = bytes.fromhex("56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421")
_EMPTY_CODE = bytes.fromhex("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")
"""Most storage keys one ``eth_getProof`` answers."""
MAX_FILTER_VALUES = 1_000
"""Most addresses, and alternatives per topic, in one ``eth_getLogs`` filter."""
_CALL_STIPEND = 2_300

_FORMAT = "keyanchor-chain/2"
_FORMAT_V1 = "keyanchor-chain/1"
"""Format 1 (no log index) is upgraded in place when opened for writing."""
_MIRROR_KEY = "storage_head"
"""Meta key: the hash of the head the storage mirror reflects (absent: no mirror yet)."""
_LOCK_POLL_SECONDS = 0.05


# --------------------------------------------------------------------------- paths, locks


def default_state_path() -> Path:
    """The default state file: ``user_data_dir('keyanchor')/chain.db``."""
    import platformdirs

    return Path(platformdirs.user_data_dir("keyanchor")) / "chain.db"


def _lock_path(state: Path) -> Path:
    return state.with_name(state.name + ".lock")


def _marker_path(state: Path) -> Path:
    return state.with_name(state.name + ".devnet")


class _FileLock:
    """An ``flock`` on a sibling lock file (never deleted, so no unlink races)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def try_acquire(self, *, exclusive: bool) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return False
            raise
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def devnet_url_for(path: str | os.PathLike[str] | None = None) -> str | None:
    """The URL of the devnet serving the state file at ``path``, or None.

    A marker left by a devnet that died without cleaning up is ignored (the
    devnet holds the state lock while it serves; a free lock means no devnet).
    Raises nothing.
    """
    state = Path(path) if path is not None else default_state_path()
    try:
        url = json.loads(_marker_path(state).read_text(encoding="utf-8"))["url"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(url, str):
        return None
    probe = _FileLock(_lock_path(state))
    try:
        if probe.try_acquire(exclusive=False):
            probe.release()  # nobody holds it exclusively: a stale marker
            return None
    except OSError:
        return None
    return url


def _write_devnet_marker(state: Path, url: str, registry: str | None) -> None:
    """Write ``<state>.devnet`` atomically (used by :mod:`registry.chain.devnet`)."""
    data = json.dumps({"url": url, "pid": os.getpid(), "registry": registry}).encode()
    _atomic_write(_marker_path(state), data)


def _remove_devnet_marker(state: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        _marker_path(state).unlink()


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# --------------------------------------------------------------------------- the state file


class _Store:
    """The SQLite state file.

    Table ``kv`` holds the py-evm database, read lazily key by key (nothing is
    loaded at open); ``logs`` indexes every log by block, address and topic so
    ``eth_getLogs`` costs what it returns, not the chain's length; ``meta``
    holds the format, the clock offset and the registry address. One mined
    block is one :meth:`save`: one SQLite transaction, so a process killed
    mid-write leaves the previous block's state. The file is in WAL mode with
    ``synchronous=FULL``: a commit is durable once saved, at one fsync.
    """

    def __init__(self, path: Path, *, write: bool) -> None:
        self.path = path
        self._meta: dict[str, str] = {}  # the meta rows as committed (load_meta, save)
        try:
            self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            if write:  # only a writer holds the state lock alone: safe to change the mode
                self._conn.execute("PRAGMA journal_mode=WAL")  # one fsync per block
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise ConfigError(f"{path} is not a usable keyanchor chain file: {exc}") from exc

    def get(self, key: bytes) -> bytes | None:
        try:
            row = self._conn.execute("SELECT v FROM kv WHERE k = ?", (key,)).fetchone()
        except sqlite3.Error as exc:
            raise ChainError(f"cannot read the chain file {self.path}: {exc}") from exc
        return None if row is None else bytes(row[0])

    def load_meta(self) -> tuple[bool, dict[str, str]]:
        """(whether the file holds a chain, the metadata)."""
        try:
            empty = self._conn.execute("SELECT 1 FROM kv LIMIT 1").fetchone() is None
            meta = dict(self._conn.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.Error as exc:
            raise ConfigError(f"cannot read the chain file {self.path}: {exc}") from exc
        self._meta = dict(meta)
        return not empty, meta

    def save(
        self,
        upserts: Sequence[tuple[bytes, bytes]],
        deletes: Sequence[bytes],
        meta: Mapping[str, str],
        logs: Sequence[tuple[Any, ...]] = (),
        logs_after: int | None = None,
        words: Sequence[tuple[bytes, bytes, bytes | None]] = (),
        wipe: Sequence[bytes] = (),
    ) -> None:
        """Commit everything in one transaction: all of it lands, or none.

        ``logs_after`` first drops the indexed logs of blocks above it (a revert),
        then ``logs`` rows are added. ``wipe`` drops the storage mirror of those
        addresses, then ``words`` ``(address, keccak256(slot), value or None)``
        are written to it (None: the slot is zero now).
        """
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                if deletes:
                    conn.executemany("DELETE FROM kv WHERE k = ?", [(k,) for k in deletes])
                conn.executemany("INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)", upserts)
                if logs_after is not None:
                    conn.execute("DELETE FROM logs WHERE block > ?", (logs_after,))
                if logs:
                    conn.executemany(_INSERT_LOG, logs)
                if wipe:
                    conn.executemany("DELETE FROM storage WHERE address = ?",
                                     [(a,) for a in wipe])
                cleared = [(a, k) for a, k, v in words if v is None]
                if cleared:
                    conn.executemany("DELETE FROM storage WHERE address = ? AND key = ?",
                                     cleared)
                stored = [(a, k, v) for a, k, v in words if v is not None]
                if stored:
                    conn.executemany(
                        "INSERT OR REPLACE INTO storage (address, key, value) VALUES (?, ?, ?)",
                        stored,
                    )
                changed = [item for item in meta.items() if self._meta.get(item[0]) != item[1]]
                if changed:  # the rows that differ from the file's
                    conn.executemany(
                        "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", changed
                    )
                conn.execute("COMMIT")
                self._meta = dict(meta)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            self._meta = {}  # unknown after a failed commit: write every row next time
            raise ChainError(f"cannot write the chain file {self.path}: {exc}") from exc

    def logs(
        self,
        first: int,
        last: int,
        addresses: Sequence[bytes],
        topics: Sequence[Sequence[bytes]],
    ) -> list[tuple[Any, ...]]:
        """Indexed logs of blocks ``first..last`` matching an ``eth_getLogs`` filter, in order.

        The search walks one index: the one (block range, address, or a topic
        position) with the fewest rows for this filter's values, so it costs
        about what the most selective condition matches, never the chain's
        length; the other conditions filter what that walk yields.
        """
        conditions: list[tuple[str, Sequence[bytes]]] = []
        if addresses:
            conditions.append(("address", addresses))
        conditions += [(f"topic{i}", alts) for i, alts in enumerate(topics) if alts]
        where = ["block BETWEEN ? AND ?"]
        args: list[Any] = [first, last]
        for column, values in conditions:
            where.append(f"{column} IN ({','.join('?' * len(values))})")
            args += list(values)
        if topics:  # as geth: a filter of n topic positions matches only logs with >= n topics
            where.append(f"topic{len(topics) - 1} IS NOT NULL")
        try:
            drive = self._narrowest(first, last, conditions)
            hint = "NOT INDEXED" if drive is None else f"INDEXED BY logs_by_{drive}"
            sql = (
                f"SELECT {_LOG_COLUMNS} FROM logs {hint} WHERE {' AND '.join(where)}"
                " ORDER BY block, log_index"
            )
            return self._conn.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise ChainError(f"cannot read the chain file {self.path}: {exc}") from exc

    def _narrowest(
        self, first: int, last: int, conditions: Sequence[tuple[str, Sequence[bytes]]]
    ) -> str | None:
        """The condition with the fewest matching rows (None: the block range itself).

        Counts are capped, and the cap grows sixteenfold until one condition
        falls under it, so finding it costs a constant times the answer.
        """
        if not conditions:
            return None
        candidates: list[tuple[str | None, Sequence[bytes]]] = [(None, ()), *conditions]
        cap = 64
        while True:
            below: list[tuple[int, int, str | None]] = []
            for rank, (column, values) in enumerate(candidates):
                if column is None:
                    sql = (
                        "SELECT count(*) FROM (SELECT 1 FROM logs NOT INDEXED"
                        " WHERE block BETWEEN ? AND ? LIMIT ?)"
                    )
                    args: list[Any] = [first, last, cap]
                else:
                    marks = ",".join("?" * len(values))
                    sql = (
                        f"SELECT count(*) FROM (SELECT 1 FROM logs INDEXED BY logs_by_{column}"
                        f" WHERE {column} IN ({marks}) AND block BETWEEN ? AND ? LIMIT ?)"
                    )
                    args = [*values, first, last, cap]
                count = int(self._conn.execute(sql, args).fetchone()[0])
                if count < cap:
                    below.append((count, rank, column))
            if below:
                return min(below)[2]
            cap *= 16

    def mirrored_addresses(self) -> list[bytes]:
        """The addresses the storage mirror holds words of."""
        try:
            rows = self._conn.execute("SELECT DISTINCT address FROM storage").fetchall()
        except sqlite3.Error as exc:
            raise ChainError(f"cannot read the chain file {self.path}: {exc}") from exc
        return [bytes(r[0]) for r in rows]

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._conn.close()


_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS logs (
    block INTEGER NOT NULL,
    log_index INTEGER NOT NULL,
    block_hash BLOB NOT NULL,
    timestamp INTEGER NOT NULL,
    tx_hash BLOB NOT NULL,
    tx_index INTEGER NOT NULL,
    address BLOB NOT NULL,
    topic0 BLOB,
    topic1 BLOB,
    topic2 BLOB,
    topic3 BLOB,
    data BLOB NOT NULL,
    PRIMARY KEY (block, log_index)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS logs_by_address ON logs (address, block);
CREATE INDEX IF NOT EXISTS logs_by_topic0 ON logs (topic0, block);
CREATE INDEX IF NOT EXISTS logs_by_topic1 ON logs (topic1, block);
CREATE INDEX IF NOT EXISTS logs_by_topic2 ON logs (topic2, block);
CREATE INDEX IF NOT EXISTS logs_by_topic3 ON logs (topic3, block);
CREATE TABLE IF NOT EXISTS storage (
    address BLOB NOT NULL,
    key BLOB NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (address, key)
) WITHOUT ROWID;
"""
_LOG_COLUMNS = (
    "block, log_index, block_hash, timestamp, tx_hash, tx_index, address,"
    " topic0, topic1, topic2, topic3, data"
)
_INSERT_LOG = f"INSERT OR REPLACE INTO logs ({_LOG_COLUMNS}) VALUES ({','.join('?' * 12)})"


# --------------------------------------------------------------------------- accounts


@functools.cache
def _dev_keys() -> tuple[bytes, ...]:
    from eth_account.hdaccount import HDPath, seed_from_mnemonic

    seed = seed_from_mnemonic(DEV_MNEMONIC, "")
    return tuple(HDPath(f"m/44'/60'/0'/0/{i}").derive(seed) for i in range(DEV_ACCOUNT_COUNT))


def dev_accounts() -> list[LocalAccount]:
    """The ten development accounts (anvil's), derived from :data:`DEV_MNEMONIC`."""
    from eth_account import Account

    return [Account.from_key(key) for key in _dev_keys()]


_DEV_ADDRESSES = (
    "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
    "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65",
    "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc",
    "0x976EA74026E726554dB657fA54763abd0C3a0aa9",
    "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955",
    "0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f",
    "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720",
)
"""The addresses of :func:`dev_accounts` (a test derives them again), so that opening
the chain needs neither eth-account nor the key derivation."""


# --------------------------------------------------------------------------- py-evm

_BLS_PRECOMPILES = {
    "bls12_g1_add": "bls12_381_g1",
    "bls12_g1_msm": "bls12_381_g1",
    "bls12_map_fp_to_g1": "bls12_381_g1",
    "bls12_g2_add": "bls12_381_g2",
    "bls12_g2_msm": "bls12_381_g2",
    "bls12_map_fp2_to_g2": "bls12_381_g2",
    "bls12_pairing_check": "bls12_381_pairing",
}


def _defer_bls_precompiles() -> None:
    """Load py-evm's BLS12-381 precompiles (EIP-2537) when one first runs, not at import.

    py-evm imports them with every VM, and importing py_ecc's BLS12-381 code
    computes curve constants: about 0.3 s of a CLI command that never touches
    those precompiles. Before py-evm is first imported, this puts a stand-in
    for ``eth.precompiles.bls12_381`` in ``sys.modules`` whose functions import
    the real module (from py-evm's own files) on first call. Does nothing once
    py-evm is loaded, or if its layout is not the expected one.
    """
    import importlib.machinery
    import importlib.util
    import sys
    import types

    name = "eth.precompiles.bls12_381"
    if "eth" in sys.modules or name in sys.modules:
        return
    spec = importlib.util.find_spec("eth")  # a top-level name: found without importing it
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        return
    package = Path(locations[0]) / "precompiles" / "bls12_381"
    if not all((package / f"{module}.py").is_file() for module in _BLS_PRECOMPILES.values()):
        return
    stand_in = types.ModuleType(name, "py-evm's BLS12-381 precompiles, imported on first use")
    stand_in.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=True)
    stand_in.__spec__.submodule_search_locations = [str(package)]
    stand_in.__path__ = [str(package)]
    stand_in.__package__ = name

    def deferred(function: str, module: str) -> Callable[[Any], Any]:
        def precompile(computation: Any) -> Any:
            real = getattr(importlib.import_module(f"{name}.{module}"), function)
            setattr(stand_in, function, real)
            return real(computation)

        precompile.__name__ = precompile.__qualname__ = function
        return precompile

    for function, module in _BLS_PRECOMPILES.items():
        setattr(stand_in, function, deferred(function, module))
    sys.modules[name] = stand_in


def _fast_eth_hash() -> None:
    """Have eth-hash (py-evm's, eth-utils' and the trie's keccak256) use safe-pysha3.

    eth-hash picks pycryptodome first when both are installed; its keccak costs
    about 20 us a call through cffi, safe-pysha3's (a dependency of keyanchor, which
    :func:`registry.names.keccak256` already uses) about 3 us, and py-evm hashes a
    hundred-odd times per block (trie nodes, storage keys, addresses). The digests
    are the same: the backend is checked on the empty string first. Left alone when
    ``ETH_HASH_BACKEND`` names a backend, or safe-pysha3 is missing.
    """
    if os.environ.get("ETH_HASH_BACKEND"):
        return
    try:
        from eth_hash.auto import keccak
        from eth_hash.backends.pysha3 import backend
    except ImportError:  # pragma: no cover - safe-pysha3 is a dependency
        return
    if backend.keccak256(b"") != _EMPTY_CODE:  # pragma: no cover
        return
    hasher: Any = backend.keccak256
    preimage: Any = backend.preimage
    keccak.hasher, keccak.preimage = hasher, preimage


@functools.cache
def _store_db_class() -> type:
    """The py-evm database class over a :class:`_Store` (built on first use: py-evm is heavy)."""
    from collections import OrderedDict

    from eth.db.backends.base import BaseDB

    class StoreDB(BaseDB):
        """py-evm's key-value database read lazily from SQLite, writes kept until saved.

        Reads look in the unsaved writes, then a bounded cache, then the file.
        The file is only ever changed by :meth:`committed` after a save, and
        this process holds the state lock, so the cache never goes stale.
        """

        def __init__(self, store: _Store, cache_size: int = _READ_CACHE_ENTRIES) -> None:
            self.store = store
            self.pending: dict[bytes, bytes | None] = {}  # None: deleted
            self._cache: OrderedDict[bytes, bytes | None] = OrderedDict()
            self._cache_size = cache_size

        def _read(self, key: bytes) -> bytes | None:
            if key in self.pending:
                return self.pending[key]
            cache = self._cache
            if key in cache:
                cache.move_to_end(key)
                return cache[key]
            value = self.store.get(key)
            cache[key] = value
            if len(cache) > self._cache_size:
                cache.popitem(last=False)
            return value

        def __getitem__(self, key: bytes) -> bytes:
            value = self._read(key)
            if value is None:
                raise KeyError(key)
            return value

        def __setitem__(self, key: bytes, value: bytes) -> None:
            self.pending[key] = bytes(value)

        def __delitem__(self, key: bytes) -> None:
            if self._read(key) is None:
                raise KeyError(key)
            self.pending[key] = None

        def _exists(self, key: bytes) -> bool:
            return self._read(key) is not None

        def changes(self) -> tuple[list[tuple[bytes, bytes]], list[bytes]]:
            """What to save: (upserts, deletes) since the last :meth:`committed`."""
            upserts = [(k, v) for k, v in self.pending.items() if v is not None]
            deletes = [k for k, v in self.pending.items() if v is None]
            return upserts, deletes

        def committed(self) -> None:
            """The pending writes are in the file now: serve them from the cache."""
            pending, self.pending = self.pending, {}
            cache = self._cache
            for key, value in pending.items():
                cache[key] = value
                cache.move_to_end(key)
            while len(cache) > self._cache_size:
                cache.popitem(last=False)

    return StoreDB


_READ_CACHE_ENTRIES = 50_000
"""Database entries (trie nodes, headers, bodies) kept in memory after a read: a few MB."""


# --------------------------------------------------------------------------- JSON-RPC values


class RpcError(ChainError):
    """A JSON-RPC error object: ``code``, ``message`` and optional ``data`` (geth's codes)."""

    def __init__(self, code: int, message: str, data: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def as_json(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


def _invalid(message: str) -> RpcError:
    return RpcError(-32602, f"invalid params: {message}")


def _q(value: int) -> str:
    return hex(value)


def _d(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def _h32(value: int) -> str:
    return "0x" + value.to_bytes(32, "big").hex()


def _param(params: Sequence[Any], index: int, name: str, default: Any = ...) -> Any:
    if index < len(params) and params[index] is not None:
        return params[index]
    if default is ...:
        raise _invalid(f"missing {name}")
    return default


def _p_quantity(value: Any, name: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value[:2] in ("0x", "0X") and 2 < len(value) <= 66:
        try:
            return int(value[2:], 16)
        except ValueError:
            pass
    raise _invalid(f"{name} must be a hex quantity")


def _p_data(value: Any, name: str) -> bytes:
    if isinstance(value, str) and value[:2] in ("0x", "0X"):
        try:
            return bytes.fromhex(value[2:])
        except ValueError:
            pass
    raise _invalid(f"{name} must be 0x-prefixed hex bytes")


def _p_fixed(value: Any, name: str, size: int) -> bytes:
    data = _p_data(value, name)
    if len(data) != size:
        raise _invalid(f"{name} must be {size} bytes")
    return data


def _p_bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise _invalid(f"{name} must be a boolean")
    return value


def _p_list(params: Any) -> list[Any]:
    if params is None:
        return []
    if isinstance(params, list):
        return params
    raise _invalid("params must be an array")


# --------------------------------------------------------------------------- the node


@dataclass
class _Queued:
    raw: bytes
    tx: Any


class _Node:
    """A py-evm chain answering Ethereum JSON-RPC methods (callers hold the lock)."""

    def __init__(
        self,
        store: _Store,
        *,
        fresh: bool,
        time_offset: int,
        on_block: Callable[[], None],
    ) -> None:
        _defer_bls_precompiles()
        _fast_eth_hash()
        _speedups.install()
        from eth.chains.base import MiningChain
        from eth.db.atomic import AtomicDB
        from eth.vm.forks import PragueVM
        from eth.vm.forks.prague.computation import PragueComputation
        from eth.vm.forks.prague.state import PragueState

        node = self
        code_stream = _speedups.code_stream_class()
        stack = _speedups.stack_class()

        class _Computation(PragueComputation):
            """Prague's computation; the call a gas estimate ran and recorded is replayed
            from that record when a block mines the same call on the same state (_Replay).
            Its code's jump destinations are analysed once per code, not per run, and its
            stack takes a fast path for plain values (_speedups)."""

            def __init__(self, state: Any, message: Any, transaction_context: Any) -> None:
                super().__init__(state, message, transaction_context)
                self.code = code_stream(message.code)
                self._stack = stack()

            @classmethod
            def apply_computation(
                cls, state: Any, message: Any, transaction_context: Any,
                parent_computation: Any = None,
            ) -> Any:
                replay, node.replaying = node.replaying, None  # the block's first message only
                if replay is None or parent_computation is not None \
                        or not replay.matches(state, message):
                    return super().apply_computation(
                        state, message, transaction_context, parent_computation
                    )
                node.replayed += 1
                return replay.apply(cls(state, message, transaction_context), state)

        def recording() -> _GasProbe | None:
            probe = node.probe
            return probe if probe is not None and probe.writes is not None \
                and probe.recording else None

        def not_replayable() -> None:
            probe = recording()
            if probe is not None:
                probe.replayable = False

        class _State(PragueState):
            """Prague's state, telling the node which storage slots mined blocks write, and
            what an estimated call writes (for _Replay)."""

            computation_class = _Computation

            def set_system_contracts(self) -> None:
                """Nothing. py-evm's Cancun and Prague versions (run for every state
                built) read the beacon-roots and block-history accounts and set their code
                only when it is already that code: a no-op, at two trie walks a state."""

            def set_storage(self, address: Any, slot: int, value: int) -> None:
                if node.touched is not None:
                    node.touched.add((bytes(address), int(slot)))
                probe = recording()
                if probe is not None and probe.writes is not None:
                    probe.writes.append((bytes(address), int(slot), int(value)))
                super().set_storage(address, slot, value)

            def delete_storage(self, address: Any) -> None:
                if node.touched is not None:
                    node.wiped.add(bytes(address))
                not_replayable()
                super().delete_storage(address)

            def delete_account(self, address: Any) -> None:
                if node.touched is not None:
                    node.wiped.add(bytes(address))
                not_replayable()
                super().delete_account(address)

        def guarded(name: str) -> Callable[..., Any]:
            plain = getattr(PragueState, name)

            def write(self: Any, *args: Any) -> Any:
                not_replayable()
                return plain(self, *args)

            write.__name__ = write.__qualname__ = name
            return write

        # any other write during a recorded call: not replayed (none in a plain call)
        for name in ("set_balance", "set_nonce", "increment_nonce", "set_code", "delete_code",
                     "touch_account"):
            setattr(_State, name, guarded(name))

        class _Chain(MiningChain):
            chain_id = CHAIN_ID
            vm_configuration: Any = ((0, PragueVM.configure(_state_class=_State)),)

            _pending: Any = None

            def create_header_from_parent(self, parent_header: Any, **params: Any) -> Any:
                params.setdefault("gas_limit", parent_header.gas_limit)
                return super().create_header_from_parent(parent_header, **params)

            @property
            def header(self) -> Any:
                """py-evm's pending header, built when first read (None: from the head)."""
                if self._pending is None:
                    self._pending = self.create_header_from_parent(self.get_canonical_head())
                return self._pending

            @header.setter
            def header(self, value: Any) -> None:
                self._pending = value

        # the last gas estimate's run, which mining the same call may replay (_Replay);
        # the probe of the estimate running, and the record the block being mined uses
        self.estimated: _Replay | None = None
        self.probe: _GasProbe | None = None
        self.replaying: _Replay | None = None
        self.replayed = 0  # calls replayed so far (tests read it)
        self.db = _store_db_class()(store)
        base_db = AtomicDB(self.db)
        if not fresh:
            self.chain: Any = _Chain(base_db)
        else:
            genesis_state: Any = self._genesis_state()
            self.chain = _Chain.from_genesis(base_db, self._genesis_params(), genesis_state)
        # indexed logs not saved yet: rows to add, and "drop the blocks above N" (a revert)
        self.new_logs: list[tuple[Any, ...]] = []
        self.logs_after: int | None = None
        # the storage mirror (see _storage_words): slots written while mining, the words to
        # save, addresses whose storage was cleared, and "rebuild it from the state" (a revert)
        self.touched: set[tuple[bytes, int]] | None = None
        self.wiped: set[bytes] = set()
        self.new_words: list[tuple[bytes, bytes, bytes | None]] = []
        self.new_wipes: list[bytes] = []
        self.rebuild_storage = False
        self.store = store
        self.time_offset = time_offset
        self.on_block = on_block
        self.read_only = False
        self.accounts = list(_DEV_ADDRESSES)
        self._queue: dict[bytes, dict[int, _Queued]] = {}
        self._snapshots: dict[int, bytes] = {}
        self._next_snapshot = 1
        # decoded trie nodes by hash (content-addressed: never stale), for eth_getProof
        self._trie_nodes: dict[bytes, Any] = {}
        # a block's size and transaction hashes by block hash (immutable), for headers
        self._block_bodies: dict[bytes, tuple[int, list[str]]] = {}
        # the block this process mined last, with its receipts (for its receipts, while head)
        self._mined: tuple[Any, tuple[Any, ...]] | None = None
        # the canonical head's header: only this node changes it (it holds the state lock),
        # in _mine and _evm_revert, which drop this copy
        self._head: Any = None
        # (head hash, the base fee of the block after it)
        self._base_fee: tuple[bytes, int] | None = None
        self._methods: dict[str, Callable[[list[Any]], Any]] = {
            "web3_clientVersion": lambda p: CLIENT_VERSION,
            "net_version": lambda p: str(CHAIN_ID),
            "net_listening": lambda p: True,
            "eth_chainId": lambda p: _q(CHAIN_ID),
            "eth_syncing": lambda p: False,
            "eth_accounts": lambda p: [a.lower() for a in self.accounts],
            "eth_blockNumber": lambda p: _q(self.head.block_number),
            "eth_gasPrice": lambda p: _q(self._next_base_fee() + PRIORITY_FEE_WEI),
            "eth_maxPriorityFeePerGas": lambda p: _q(PRIORITY_FEE_WEI),
            "eth_getBalance": self._get_balance,
            "eth_getTransactionCount": self._get_transaction_count,
            "eth_getCode": self._get_code,
            "eth_getStorageAt": self._get_storage_at,
            "eth_call": self._call,
            "eth_estimateGas": self._estimate_gas,
            "eth_sendRawTransaction": self._send_raw_transaction,
            "eth_getTransactionReceipt": self._get_transaction_receipt,
            "eth_getTransactionByHash": self._get_transaction_by_hash,
            "eth_getBlockByNumber": self._get_block_by_number,
            "eth_getBlockByHash": self._get_block_by_hash,
            "eth_getLogs": self._get_logs,
            "eth_getProof": self._get_proof,
            "eth_feeHistory": self._fee_history,
            "evm_snapshot": self._evm_snapshot,
            "evm_revert": self._evm_revert,
            "evm_increaseTime": self._evm_increase_time,
            "evm_setNextBlockTimestamp": self._evm_set_next_block_timestamp,
            "evm_mine": self._evm_mine,
        }

    # -- genesis

    @staticmethod
    def _genesis_params() -> dict[str, Any]:
        from eth.constants import POST_MERGE_DIFFICULTY, POST_MERGE_MIX_HASH, POST_MERGE_NONCE

        empty_root = bytes.fromhex(
            "56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421"
        )
        return {
            "coinbase": b"\x00" * 20,
            "difficulty": POST_MERGE_DIFFICULTY,
            "extra_data": b"keyanchor",
            "gas_limit": BLOCK_GAS_LIMIT,
            "mix_hash": POST_MERGE_MIX_HASH,
            "nonce": POST_MERGE_NONCE,
            "receipt_root": empty_root,
            "timestamp": int(time.time()),
            "transaction_root": empty_root,
        }

    @staticmethod
    def _genesis_state() -> dict[bytes, dict[str, Any]]:
        return {
            bytes.fromhex(address[2:]): {
                "balance": DEV_BALANCE_WEI,
                "nonce": 0,
                "code": b"",
                "storage": {},
            }
            for address in _DEV_ADDRESSES
        }

    # -- dispatch

    def call(self, method: str, params: list[Any]) -> Any:
        try:
            handler = self._methods[method]
        except KeyError:
            raise RpcError(-32601, f"the method {method} does not exist/is not available") from None
        return handler(params)

    # -- chain helpers

    @property
    def head(self) -> Any:
        head = self._head
        if head is None:
            head = self._head = self.chain.get_canonical_head()
        return head

    def _next_base_fee(self) -> int:
        head = self.head
        cached = self._base_fee
        if cached is None or cached[0] != head.hash:  # it depends on the head alone
            cached = self._base_fee = (
                head.hash, int(self.chain.create_header_from_parent(head).base_fee_per_gas)
            )
        return cached[1]

    def _header(self, tag: Any, *, missing_ok: bool = False) -> Any:
        """The header a block parameter names (tag, number, or EIP-1898 object)."""
        from eth.exceptions import HeaderNotFound

        head = self.head
        if isinstance(tag, dict):
            if "blockHash" in tag:
                block_hash = _p_fixed(tag["blockHash"], "blockHash", 32)
                try:
                    header = self.chain.get_block_header_by_hash(block_hash)
                except HeaderNotFound:
                    header = None
                if header is not None and not self._is_canonical(header):
                    header = None
                if header is None and not missing_ok:
                    raise RpcError(-32000, f"header for hash {_d(block_hash)} not found")
                return header
            tag = tag.get("blockNumber", "latest")
        if tag in ("latest", "pending", "safe", "finalized"):
            return head
        if tag == "earliest":
            number = 0
        else:
            number = _p_quantity(tag, "block")
        if number > head.block_number:
            if missing_ok:
                return None
            raise RpcError(-32000, "header not found")
        return self.chain.get_canonical_block_header_by_number(number)

    def _is_canonical(self, header: Any) -> bool:
        from eth.exceptions import HeaderNotFound

        if header.block_number > self.head.block_number:
            return False
        try:
            canonical = self.chain.get_canonical_block_header_by_number(header.block_number)
        except HeaderNotFound:
            return False
        return bool(canonical.hash == header.hash)

    # -- the state, read over the stored trie nodes (no py-evm state built for a read)

    def _fetch_node(self, node_hash: bytes) -> bytes:
        from registry.chain._mpt import MissingNode

        try:
            return bytes(self.chain.chaindb.db[node_hash])
        except KeyError:
            raise MissingNode(node_hash) from None

    def _trie_walk(self, header: Any, root: bytes, key: bytes) -> tuple[bytes, list[bytes]]:
        """The RLP value at ``key`` (already hashed) in the trie ``root`` of ``header``'s
        state (``b""``: absent) and the nodes on its path, walked over the stored nodes
        (decoded ones kept by hash: content-addressed, never stale)."""
        from registry.chain._mpt import MalformedNode, MissingNode, walk

        try:
            found = walk(self._fetch_node, root, key, self._trie_nodes)
        except MissingNode as exc:
            raise RpcError(
                -32000, f"the state of block {header.block_number} is not available"
            ) from exc
        except (MalformedNode, ValueError) as exc:  # pragma: no cover - py-evm wrote it
            raise RpcError(-32603, f"a malformed trie node in block {header.block_number}"
                           ) from exc
        if len(self._trie_nodes) > _TRIE_NODE_CACHE:
            self._trie_nodes.clear()
        return found

    def _trie_value(self, header: Any, root: bytes, key: bytes) -> bytes:
        """The value alone of :meth:`_trie_walk` (a state read, as eth_getProof walks it)."""
        return self._trie_walk(header, root, key)[0]

    def _account(self, header: Any, address: bytes) -> tuple[int, int, bytes, bytes]:
        """(nonce, balance, storage root, code hash) of ``address`` in ``header``'s state."""
        from registry.chain._mpt import decode
        from registry.names import keccak256

        encoded = self._trie_value(header, header.state_root, keccak256(address))
        if not encoded:
            return 0, 0, _EMPTY_ROOT, _EMPTY_CODE
        nonce, balance, storage_root, code_hash = decode(encoded)
        return (int.from_bytes(nonce, "big"), int.from_bytes(balance, "big"),
                bytes(storage_root), bytes(code_hash))

    def _storage(self, header: Any, address: bytes, slot: int) -> int:
        """The storage word ``slot`` of ``address`` in ``header``'s state."""
        from registry.chain._mpt import decode
        from registry.names import keccak256

        storage_root = self._account(header, address)[2]
        if storage_root == _EMPTY_ROOT:
            return 0
        value = self._trie_value(header, storage_root, keccak256(slot.to_bytes(32, "big")))
        return int.from_bytes(decode(value), "big") if value else 0

    # -- accounts and code

    def _get_balance(self, params: list[Any]) -> str:
        address = _p_fixed(_param(params, 0, "address"), "address", 20)
        header = self._header(_param(params, 1, "block", "latest"))
        return _q(self._account(header, address)[1])

    def _get_transaction_count(self, params: list[Any]) -> str:
        address = _p_fixed(_param(params, 0, "address"), "address", 20)
        tag = _param(params, 1, "block", "latest")
        nonce = self._account(self._header(tag), address)[0]
        if tag == "pending":
            queued = self._queue.get(address, {})
            while nonce in queued:
                nonce += 1
        return _q(nonce)

    def _get_code(self, params: list[Any]) -> str:
        address = _p_fixed(_param(params, 0, "address"), "address", 20)
        header = self._header(_param(params, 1, "block", "latest"))
        code_hash = self._account(header, address)[3]
        if code_hash == _EMPTY_CODE:
            return "0x"
        try:
            return _d(self.chain.chaindb.db[code_hash])
        except KeyError:
            raise RpcError(
                -32000, f"the state of block {header.block_number} is not available"
            ) from None

    def _get_storage_at(self, params: list[Any]) -> str:
        address = _p_fixed(_param(params, 0, "address"), "address", 20)
        slot = _p_quantity(_param(params, 1, "slot"), "slot")
        header = self._header(_param(params, 2, "block", "latest"))
        return _h32(self._storage(header, address, slot))

    # -- calls

    @contextlib.contextmanager
    def _spoof_call(self, tx: Any, header: Any, *, default_gas: int) -> Any:
        """``with`` it: (the costless state at ``header``, the call as a spoofed transaction);
        the state's changes are dropped on leaving."""
        from eth.vm.spoof import SpoofTransaction

        if not isinstance(tx, dict):
            raise _invalid("the transaction must be an object")
        sender = _p_fixed(tx["from"], "from", 20) if tx.get("from") is not None else b"\x00" * 20
        to = _p_fixed(tx["to"], "to", 20) if tx.get("to") is not None else b""
        data_field = tx.get("input", tx.get("data"))
        data = _p_data(data_field, "input") if data_field is not None else b""
        value = _p_quantity(tx["value"], "value") if tx.get("value") is not None else 0
        gas = _p_quantity(tx["gas"], "gas") if tx.get("gas") is not None else default_gas
        vm = self.chain.get_vm(at_header=header)
        with vm.in_costless_state() as state:  # the nonce from it: one state, not two
            unsigned = vm.get_transaction_builder().create_unsigned_transaction(
                nonce=state.get_nonce(sender),
                gas_price=0,
                gas=min(gas, header.gas_limit),
                to=to,
                value=value,
                data=data,
            )
            yield state, SpoofTransaction(unsigned, from_=sender)

    def _call(self, params: list[Any]) -> str:
        header = self._header(_param(params, 1, "block", "latest"))
        with self._spoof_call(
            _param(params, 0, "transaction"), header, default_gas=header.gas_limit
        ) as (state, tx):
            try:
                computation = state.costless_execute_transaction(tx)
            except Exception as exc:
                raise _tx_rejected(exc) from exc
        if computation.is_error:
            raise _execution_error(computation.error, computation.output)
        return _d(computation.output)

    def _estimate_gas(self, params: list[Any]) -> str:
        """The least gas the transaction succeeds with, usually from one run.

        Run once with the cap (the ``gas`` given, else the block gas limit),
        watching the few operations whose outcome depends on the gas left. What
        that run consumed before refunds is enough, unless EIP-7623's calldata
        floor is higher, or an SSTORE ran with too little left above the 2,300
        stipend (EIP-2200; the run says how much more it needs): with no call,
        create or GAS opcode in the run, that maximum is exact. Otherwise (a
        call gets only 63/64 of what is left, EIP-150) it is checked by a second
        run, and when that fails, as geth does, the stipend scaled by 64/63 is
        tried and what remains bisected.
        """
        from eth.vm.spoof import SpoofTransaction

        header = self._header(_param(params, 1, "block", "latest"))
        with self._spoof_call(
            _param(params, 0, "transaction"), header, default_gas=header.gas_limit
        ) as (state, tx):
            cap = int(tx.gas)

            def run(gas: int) -> Any:
                """The call's computation at gas limit ``gas``: py-evm's transaction
                executor without its last step (refunds, fees, emptied accounts), which
                the gas the computation used does not depend on; the state is reverted."""
                spoofed = SpoofTransaction(tx, gas=gas, gas_price=0)
                snapshot = state.snapshot()
                try:
                    executor = state.get_transaction_executor()
                    executor.validate_transaction(spoofed)
                    return executor.build_computation(executor.build_evm_message(spoofed),
                                                      spoofed)
                finally:
                    state.revert(snapshot)

            def succeeds(gas: int) -> bool:
                try:
                    return not run(gas).is_error
                except Exception:  # e.g. below the intrinsic gas or the calldata floor
                    return False

            probe = _GasProbe(cap)
            plain = state.computation_class
            state.computation_class = _probing_class(plain, probe)
            self.estimated, self.probe = None, probe
            try:
                computation = run(cap)
            except Exception as exc:
                raise _tx_rejected(exc) from exc
            finally:
                state.computation_class = plain
                self.probe = None
            if computation.is_error:
                raise _execution_error(computation.error, computation.output)
            intrinsic = int(tx.intrinsic_gas)
            needed = max(
                cap - computation.get_gas_remaining(),
                _calldata_floor(state, tx),
                probe.sstore_needs,
                intrinsic,
            )
            if needed >= cap:
                return _q(cap)
            if not probe.gas_sensitive:
                if header.hash == self.head.hash:
                    self.estimated = _recorded(header, tx, state, computation, probe, needed)
                return _q(needed)
            if succeeds(needed):
                return _q(needed)
            failing, working = needed, cap
            optimistic = (needed + _CALL_STIPEND) * 64 // 63
            if optimistic < working:
                if succeeds(optimistic):
                    working = optimistic
                else:
                    failing = optimistic
            while working - failing > 1:
                middle = (working + failing) // 2
                if succeeds(middle):
                    working = middle
                else:
                    failing = middle
            return _q(working)

    # -- transactions

    def _send_raw_transaction(self, params: list[Any]) -> str:
        raw = _p_data(_param(params, 0, "transaction"), "transaction")
        if self.read_only:
            raise RpcError(-32000, "the embedded chain is open read-only")
        if not raw:
            raise _invalid("empty transaction")
        if raw[0] == 3:
            raise RpcError(-32000, "blob transactions are not supported")
        vm = self.chain.get_vm(self.head)
        try:
            tx = vm.get_transaction_builder().decode(raw)
            sender = tx.sender
        except Exception as exc:
            raise RpcError(-32000, f"invalid raw transaction: {exc}") from exc
        chain_id = tx.chain_id
        if chain_id is not None and chain_id != CHAIN_ID:
            raise RpcError(-32000, f"invalid chain id {chain_id} (this chain is {CHAIN_ID})")
        nonce = self._account(self.head, sender)[0]
        if tx.nonce < nonce:
            raise RpcError(-32000, f"nonce too low: next nonce {nonce}, tx nonce {tx.nonce}")
        if tx.nonce > nonce:
            queued = self._queue.setdefault(sender, {})
            if len(queued) >= 64 and tx.nonce not in queued:
                raise RpcError(-32000, "too many queued transactions for this sender")
            queued[tx.nonce] = _Queued(raw, tx)
            return _d(tx.hash)
        self._mine([tx])
        self._drain_queue(sender)
        return _d(tx.hash)

    def _drain_queue(self, sender: bytes) -> None:
        queued = self._queue.get(sender)
        while queued:
            nonce = self._account(self.head, sender)[0]
            item = queued.pop(nonce, None)
            if item is None:
                # drop what can never run (nonce now too low)
                for stale in [n for n in queued if n < nonce]:
                    del queued[stale]
                break
            try:
                self._mine([item.tx])
            except RpcError as exc:
                log.info("dropped queued transaction %s: %s", _d(item.tx.hash), exc.message)
        if sender in self._queue and not self._queue[sender]:
            del self._queue[sender]

    def _mine(self, txs: Sequence[Any], *, timestamp: int | None = None) -> Any:
        """Mine one block holding ``txs`` (validated before anything changes), then persist."""
        from eth_utils import ValidationError, keccak

        if self.read_only:
            raise RpcError(-32000, "the embedded chain is open read-only")
        parent = self.head
        now = int(time.time()) + self.time_offset
        ts = max(parent.timestamp + 1, now if timestamp is None else timestamp)
        chain = self.chain
        header = chain.create_header_from_parent(parent, timestamp=ts)
        self.touched, self.wiped = set(), set()
        self._head = None
        replay, self.estimated = self.estimated, None
        if replay is not None and len(txs) == 1 and replay.admits(txs[0], parent.hash):
            self.replaying = replay  # the estimate ran this call: replay it (_Replay)
        try:
            # one VM builds the block: what MiningChain.apply_transaction + mine_block do,
            # without a second state and a second state root computed per block
            vm = chain.get_vm(header)
            filled, receipts, _ = vm.apply_all_transactions(txs, header)
            # the words the transactions wrote, read while their state is warm; what
            # finalizing the block writes, if anything, is read after it (below)
            words: dict[tuple[bytes, int], int | None] = {
                key: int(vm.state.get_storage(*key)) for key in self.touched or ()
            }
            wiped = len(self.wiped)
            self.touched = set()
            block = vm.set_block_transactions_and_withdrawals(
                vm.get_block(), filled, txs, receipts
            )
            block = vm.mine_block(block, mix_hash=keccak(parent.hash)).block
            chain.validate_block(block)
            canonical, _ = chain.chaindb.persist_block(block)
        except ValidationError as exc:
            chain.header = None  # the pending header again from the head, when needed
            raise _tx_rejected(exc) from exc
        finally:
            touched, self.touched = self.touched, None
            self._head = None
            self.replaying = None
        chain.header = None  # py-evm's pending header, rebuilt from the new head if read
        if canonical and canonical[-1] == block.hash:  # the new head: no need to read it back
            self._head = block.header
        self._mined = (block, tuple(receipts))
        self.new_logs += _log_rows(block, receipts)
        if touched or len(self.wiped) != wiped:  # finalizing wrote storage: read every word
            words = dict.fromkeys(set(words) | touched)
        self._storage_words(vm.state, words, self.wiped)
        self.on_block()
        return block

    def _storage_words(
        self, state: Any, words: dict[tuple[bytes, int], int | None], wiped: set[bytes]
    ) -> None:
        """Queue the storage mirror's changes for a mined block: the final value of every
        slot its transactions wrote (and of none, for an address whose storage was cleared).
        ``words``: (address, slot) -> its value, or None to read it from ``state``.

        The mirror (table ``storage``: address, keccak256 of the 32-byte slot, value) lets
        a reader get a contract's state words with SQLite alone, committed with the block.
        """
        from eth_utils import keccak

        if not words and not wiped:
            return
        self.new_wipes += sorted(wiped)
        for (address, slot), known in sorted(words.items()):
            value = int(state.get_storage(address, slot)) if known is None else known
            word = value.to_bytes(32, "big") if value else None
            self.new_words.append((address, keccak(slot.to_bytes(32, "big")), word))

    def storage_snapshot(self, address: bytes) -> list[tuple[bytes, bytes, bytes | None]]:
        """Every non-zero storage word of ``address`` at the head, as mirror rows (from the
        state trie; used to build the mirror of an older file and after a revert)."""
        import rlp
        from eth.constants import BLANK_ROOT_HASH
        from eth_utils import keccak
        from trie import HexaryTrie
        from trie.iter import NodeIterator

        encoded = HexaryTrie(self.db, self.head.state_root).get(keccak(address))
        if not encoded:
            return []
        _nonce, _balance, storage_root, _code_hash = rlp.decode(encoded)
        if bytes(storage_root) == BLANK_ROOT_HASH:
            return []
        rows: list[tuple[bytes, bytes, bytes | None]] = []
        for key, raw in NodeIterator(HexaryTrie(self.db, bytes(storage_root))).items():
            value = int.from_bytes(rlp.decode(raw), "big")
            if value:
                rows.append((address, bytes(key), value.to_bytes(32, "big")))
        return rows

    # -- receipts, transactions, blocks

    def _locate(self, tx_hash: bytes) -> tuple[Any, int] | None:
        from eth.exceptions import HeaderNotFound, TransactionNotFound

        try:
            number, index = self.chain.chaindb.get_transaction_index(tx_hash)
        except TransactionNotFound:
            return None
        if number > self.head.block_number:
            return None
        try:
            header = self.chain.get_canonical_block_header_by_number(number)
        except HeaderNotFound:
            return None
        block = self.chain.get_block_by_header(header)
        if index >= len(block.transactions) or block.transactions[index].hash != tx_hash:
            return None
        return block, index

    def _get_transaction_receipt(self, params: list[Any]) -> dict[str, Any] | None:
        tx_hash = _p_fixed(_param(params, 0, "hash"), "hash", 32)
        mined = self._mined
        if mined is not None and mined[0].hash == self.head.hash:  # the head, just mined here
            block, receipts = mined
            for index, tx in enumerate(block.transactions):
                if tx.hash == tx_hash:
                    log_index = sum(len(r.logs) for r in receipts[:index])
                    return self._receipt_json(block, index, receipts, log_index)
        found = self._locate(tx_hash)
        if found is None:
            return None
        block, index = found
        receipts = block.get_receipts(self.chain.chaindb)
        log_index = sum(len(r.logs) for r in receipts[:index])
        return self._receipt_json(block, index, receipts, log_index)

    def _receipt_json(
        self, block: Any, index: int, receipts: Sequence[Any], first_log_index: int
    ) -> dict[str, Any]:
        from eth._utils.address import generate_contract_address

        tx = block.transactions[index]
        receipt = receipts[index]
        previous = receipts[index - 1].gas_used if index else 0
        contract = _d(generate_contract_address(tx.sender, tx.nonce)) if tx.to == b"" else None
        return {
            "transactionHash": _d(tx.hash),
            "transactionIndex": _q(index),
            "blockHash": _d(block.hash),
            "blockNumber": _q(block.number),
            "from": _d(tx.sender),
            "to": _d(tx.to) if tx.to != b"" else None,
            "cumulativeGasUsed": _q(receipt.gas_used),
            "gasUsed": _q(receipt.gas_used - previous),
            "effectiveGasPrice": _q(_effective_gas_price(tx, block.header)),
            "contractAddress": contract,
            "logs": [
                self._log_json(block, index, tx, log, first_log_index + i)
                for i, log in enumerate(receipt.logs)
            ],
            "logsBloom": _h256(receipt.bloom),
            "status": "0x1" if receipt.state_root == b"\x01" else "0x0",
            "type": _q(_tx_type(tx)),
        }

    @staticmethod
    def _log_json(block: Any, tx_index: int, tx: Any, log: Any, log_index: int) -> dict[str, Any]:
        return {
            "address": _d(log.address),
            "topics": [_h32(t) for t in log.topics],
            "data": _d(log.data),
            "blockNumber": _q(block.number),
            "blockHash": _d(block.hash),
            "blockTimestamp": _q(block.header.timestamp),
            "transactionHash": _d(tx.hash),
            "transactionIndex": _q(tx_index),
            "logIndex": _q(log_index),
            "removed": False,
        }

    def _get_transaction_by_hash(self, params: list[Any]) -> dict[str, Any] | None:
        tx_hash = _p_fixed(_param(params, 0, "hash"), "hash", 32)
        found = self._locate(tx_hash)
        if found is not None:
            block, index = found
            return _tx_json(block.transactions[index], block, index)
        for queued in self._queue.values():
            for item in queued.values():
                if item.tx.hash == tx_hash:
                    return _tx_json(item.tx, None, None)
        return None

    def _get_block_by_number(self, params: list[Any]) -> dict[str, Any] | None:
        header = self._header(_param(params, 0, "block"), missing_ok=True)
        full = _p_bool(_param(params, 1, "full", False), "full")
        return None if header is None else self._block_json(header, full)

    def _get_block_by_hash(self, params: list[Any]) -> dict[str, Any] | None:
        from eth.exceptions import HeaderNotFound

        block_hash = _p_fixed(_param(params, 0, "hash"), "hash", 32)
        full = _p_bool(_param(params, 1, "full", False), "full")
        try:
            header = self.chain.get_block_header_by_hash(block_hash)
        except HeaderNotFound:
            return None
        if not self._is_canonical(header):
            return None
        return self._block_json(header, full)

    def _block_json(self, header: Any, full: bool) -> dict[str, Any]:
        import rlp

        body = None if full else self._block_bodies.get(header.hash)
        if body is None:
            block = self.chain.get_block_by_header(header)
            body = (len(rlp.encode(block)), [_d(tx.hash) for tx in block.transactions])
            if not full:
                if len(self._block_bodies) >= _BLOCK_BODY_CACHE:
                    self._block_bodies.clear()
                self._block_bodies[header.hash] = body
            txs: list[Any] = ([_tx_json(tx, block, i) for i, tx in enumerate(block.transactions)]
                              if full else list(body[1]))
        else:
            txs = list(body[1])
        result: dict[str, Any] = {
            "number": _q(header.block_number),
            "hash": _d(header.hash),
            "parentHash": _d(header.parent_hash),
            "nonce": _d(header.nonce),
            "sha3Uncles": _d(header.uncles_hash),
            "logsBloom": _h256(header.bloom),
            "transactionsRoot": _d(header.transaction_root),
            "stateRoot": _d(header.state_root),
            "receiptsRoot": _d(header.receipt_root),
            "miner": _d(header.coinbase),
            "difficulty": _q(header.difficulty),
            "totalDifficulty": "0x0",
            "extraData": _d(header.extra_data),
            "size": _q(body[0]),
            "gasLimit": _q(header.gas_limit),
            "gasUsed": _q(header.gas_used),
            "timestamp": _q(header.timestamp),
            "transactions": txs,
            "uncles": [],
            "mixHash": _d(header.mix_hash),
            "baseFeePerGas": _q(header.base_fee_per_gas),
            "withdrawals": [],
            "withdrawalsRoot": _d(header.withdrawals_root),
        }
        for attr, key, fmt in (
            ("blob_gas_used", "blobGasUsed", _q),
            ("excess_blob_gas", "excessBlobGas", _q),
            ("parent_beacon_block_root", "parentBeaconBlockRoot", _d),
            ("requests_hash", "requestsHash", _d),
        ):
            value = getattr(header, attr, None)
            if value is not None:
                result[key] = fmt(value)
        return result

    # -- logs

    def _get_logs(self, params: list[Any]) -> list[dict[str, Any]]:
        spec = _param(params, 0, "filter")
        if not isinstance(spec, dict):
            raise _invalid("the filter must be an object")
        addresses = _filter_addresses(spec.get("address"))
        topics = _filter_topics(spec.get("topics"))
        if spec.get("blockHash") is not None:
            if spec.get("fromBlock") is not None or spec.get("toBlock") is not None:
                raise _invalid("blockHash excludes fromBlock and toBlock")
            header = self._header({"blockHash": spec["blockHash"]})
            first = last = header
        else:
            first = self._header(spec.get("fromBlock") or "latest", missing_ok=True)
            last = self._header(spec.get("toBlock") or "latest", missing_ok=True)
            if first is None:
                return []
            if last is None:
                last = self.head
            if last.block_number - first.block_number >= MAX_LOG_BLOCK_RANGE:
                raise RpcError(-32005, f"query exceeds max block range {MAX_LOG_BLOCK_RANGE}")
        rows = self.store.logs(first.block_number, last.block_number, addresses, topics)
        return [_log_row_json(row) for row in rows]

    # -- state proofs

    def _get_proof(self, params: list[Any]) -> dict[str, Any]:
        """EIP-1186: the account and storage slots with their Merkle proofs (geth's shape).

        Proofs hold the RLP of every trie node on the path that is referenced by
        hash (nodes shorter than 32 bytes live inside their parent, as in geth),
        so ``trie.HexaryTrie.get_from_proof(stateRoot, keccak(address), proof)``
        verifies them against the block header's ``stateRoot``.
        """
        from registry.chain._mpt import decode
        from registry.names import keccak256

        address = _p_fixed(_param(params, 0, "address"), "address", 20)
        raw_keys = _param(params, 1, "storageKeys")
        if not isinstance(raw_keys, list):
            raise _invalid("storageKeys must be an array")
        if len(raw_keys) > MAX_PROOF_KEYS:
            raise _invalid(f"at most {MAX_PROOF_KEYS} storage keys")
        slots = [_p_storage_key(key) for key in raw_keys]
        header = self._header(_param(params, 2, "block", "latest"))
        encoded, nodes = self._trie_walk(header, header.state_root, keccak256(address))
        account_proof = [_d(n) for n in nodes]
        if encoded:
            nonce, balance, storage_root, code_hash = decode(encoded)
        else:
            nonce, balance, storage_root, code_hash = b"", b"", _EMPTY_ROOT, _EMPTY_CODE
        storage_proof = []
        for slot in slots:
            if storage_root == _EMPTY_ROOT:
                value, nodes = b"", []
            else:
                value, nodes = self._trie_walk(header, storage_root, keccak256(slot))
            storage_proof.append({
                "key": _d(slot),
                "value": _q(int.from_bytes(decode(value), "big") if value else 0),
                "proof": [_d(n) for n in nodes],
            })
        return {
            "address": _d(address),
            "balance": _q(int.from_bytes(balance, "big")),
            "codeHash": _d(code_hash),
            "nonce": _q(int.from_bytes(nonce, "big")),
            "storageHash": _d(storage_root),
            "accountProof": account_proof,
            "storageProof": storage_proof,
        }

    # -- fees

    def _fee_history(self, params: list[Any]) -> dict[str, Any]:
        count = _p_quantity(_param(params, 0, "blockCount"), "blockCount")
        if not 1 <= count <= 1024:
            raise _invalid("blockCount must be between 1 and 1024")
        newest = self._header(_param(params, 1, "newestBlock", "latest"))
        percentiles_raw = _param(params, 2, "rewardPercentiles", [])
        if not isinstance(percentiles_raw, list) or not all(
            isinstance(p, int | float) and not isinstance(p, bool) and 0 <= p <= 100
            for p in percentiles_raw
        ):
            raise _invalid("rewardPercentiles must be numbers between 0 and 100")
        percentiles = [float(p) for p in percentiles_raw]
        if percentiles != sorted(percentiles):
            raise _invalid("rewardPercentiles must be increasing")
        oldest = max(0, newest.block_number - count + 1)
        base_fees: list[str] = []
        ratios: list[float] = []
        rewards: list[list[str]] = []
        for number in range(oldest, newest.block_number + 1):
            header = self.chain.get_canonical_block_header_by_number(number)
            base_fees.append(_q(header.base_fee_per_gas))
            ratios.append(header.gas_used / header.gas_limit)
            if percentiles:
                rewards.append([_q(r) for r in self._block_rewards(header, percentiles)])
        base_fees.append(_q(self.chain.create_header_from_parent(newest).base_fee_per_gas))
        result: dict[str, Any] = {
            "oldestBlock": _q(oldest),
            "baseFeePerGas": base_fees,
            "gasUsedRatio": ratios,
        }
        if percentiles:
            result["reward"] = rewards
        return result

    def _block_rewards(self, header: Any, percentiles: list[float]) -> list[int]:
        block = self.chain.get_block_by_header(header)
        if not block.transactions:
            return [0] * len(percentiles)
        receipts = block.get_receipts(self.chain.chaindb)
        tips: list[tuple[int, int]] = []
        previous = 0
        for tx, receipt in zip(block.transactions, receipts, strict=True):
            tip = _effective_gas_price(tx, header) - header.base_fee_per_gas
            tips.append((tip, receipt.gas_used - previous))
            previous = receipt.gas_used
        tips.sort()
        total = sum(gas for _, gas in tips) or 1
        out: list[int] = []
        for p in percentiles:
            threshold = total * p / 100
            cumulative = 0
            chosen = tips[-1][0]
            for tip, gas in tips:
                cumulative += gas
                if cumulative >= threshold:
                    chosen = tip
                    break
            out.append(chosen)
        return out

    # -- test helpers (anvil's names)

    def _evm_snapshot(self, params: list[Any]) -> str:
        snapshot_id = self._next_snapshot
        self._next_snapshot += 1
        self._snapshots[snapshot_id] = self.head.hash
        return _q(snapshot_id)

    def _evm_revert(self, params: list[Any]) -> bool:
        import rlp
        from eth.db.schema import SchemaV1
        from eth.rlp.sedes import chain_gaps
        from eth_typing import BlockNumber

        snapshot_id = _p_quantity(_param(params, 0, "snapshot id"), "snapshot id")
        target_hash = self._snapshots.get(snapshot_id)
        if target_hash is None:
            return False
        if self.read_only:
            raise RpcError(-32000, "the embedded chain is open read-only")
        chain = self.chain
        target = chain.get_block_header_by_hash(target_hash)
        if not self._is_canonical(target):
            return False
        db = chain.chaindb.db
        for number in range(self.head.block_number, target.block_number, -1):
            header = chain.get_canonical_block_header_by_number(number)
            for tx in chain.get_block_by_header(header).transactions:
                db.delete(SchemaV1.make_transaction_hash_to_block_lookup_key(tx.hash))
            db.delete(SchemaV1.make_block_number_to_hash_lookup_key(BlockNumber(number)))
        db.set(SchemaV1.make_canonical_head_hash_lookup_key(), target.hash)
        self._head = None
        # py-evm records which block numbers it holds; shrink that record to the new head
        gaps = rlp.encode(((), target.block_number + 1), sedes=chain_gaps)
        db.set(SchemaV1.make_header_chain_gaps_lookup_key(), gaps)
        db.set(SchemaV1.make_chain_gaps_lookup_key(), gaps)
        chain.header = None  # from the new head, when read
        self.new_logs = [row for row in self.new_logs if row[0] <= target.block_number]
        if self.logs_after is None or self.logs_after > target.block_number:
            self.logs_after = target.block_number
        self.rebuild_storage = True
        for later in [i for i in self._snapshots if i >= snapshot_id]:
            del self._snapshots[later]
        self._queue.clear()
        self.on_block()
        return True

    def _evm_increase_time(self, params: list[Any]) -> str:
        seconds = _param(params, 0, "seconds")
        if isinstance(seconds, str):
            seconds = _p_quantity(seconds, "seconds")
        if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds < 0:
            raise _invalid("seconds must be a non-negative integer")
        self.time_offset += seconds
        return _q(self.time_offset)

    def _evm_set_next_block_timestamp(self, params: list[Any]) -> None:
        raw = _param(params, 0, "timestamp")
        ts = (
            raw
            if isinstance(raw, int) and not isinstance(raw, bool)
            else _p_quantity(raw, "timestamp")
        )
        if ts <= self.head.timestamp:
            raise RpcError(-32000, "the timestamp must be later than the latest block's")
        self.time_offset = ts - int(time.time())
        return None

    def _evm_mine(self, params: list[Any]) -> str:
        raw = _param(params, 0, "timestamp", None)
        ts: int | None = None
        if isinstance(raw, dict):
            raw = raw.get("timestamp")
        if raw is not None:
            ts = (
                raw
                if isinstance(raw, int) and not isinstance(raw, bool)
                else _p_quantity(raw, "timestamp")
            )
            self.time_offset = max(self.time_offset, ts - int(time.time()))
        self._mine([], timestamp=ts)
        return "0x0"


def _p_storage_key(value: Any) -> bytes:
    """A storage slot as 32 bytes: hex of up to 32 bytes (left-padded), as geth accepts."""
    if isinstance(value, str) and value[:2] in ("0x", "0X") and 2 < len(value) <= 66:
        try:
            return int(value[2:], 16).to_bytes(32, "big")
        except ValueError:
            pass
    raise _invalid("a storage key must be hex of at most 32 bytes")


class _GasProbe:
    """What one estimation run saw of the operations that depend on the gas left, and
    what a :class:`_Replay` of it needs: the call's storage writes, in order, and the
    block and transaction values it read."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.sstore_needs = 0  # least gas limit that leaves every SSTORE above the stipend
        self.gas_sensitive = False  # a call, a create or GAS ran: only a run can tell
        self.writes: list[tuple[bytes, int, int]] | None = None  # set when the call starts
        self.recording = False  # the outermost call is running
        self.replayable = True  # nothing ran that a replay could not reproduce
        self.context: set[int] = set()  # the block-context opcodes that ran


_GAS_SENSITIVE_OPCODES = (0x5A, 0xF0, 0xF1, 0xF2, 0xF4, 0xF5, 0xFA)
"""GAS, CREATE, CALL, CALLCODE, DELEGATECALL, CREATE2, STATICCALL."""
_SSTORE = 0x55
_CONTEXT_OPCODES = {
    0x41: ("coinbase",),
    0x42: ("timestamp",),
    0x43: ("block_number",),
    0x44: ("difficulty", "mix_hash"),
    0x45: ("gas_limit",),
    0x46: ("chain_id",),
    0x48: ("base_fee",),
    0x4A: ("blob_base_fee",),
}
"""COINBASE, TIMESTAMP, NUMBER, PREVRANDAO, GASLIMIT, CHAINID, BASEFEE, BLOBBASEFEE: block
values a call may read; a replay needs the block it is mined in to have the same ones."""
_UNREPLAYABLE_OPCODES = (0x31, 0x3A, 0x3B, 0x3C, 0x3F, 0x40, 0x47, 0x49, 0xFF)
"""BALANCE, GASPRICE, EXTCODESIZE, EXTCODECOPY, EXTCODEHASH, BLOCKHASH, SELFBALANCE, BLOBHASH,
SELFDESTRUCT: what the estimate's costless, unsigned run may see differently from the mined
transaction (the sender's balance, the gas price), or effects not replayed."""


def _probing_class(base: type, probe: _GasProbe) -> type:
    """``base`` (a py-evm computation class) reporting to ``probe`` as it runs."""
    plain: dict[int, Any] = base.opcodes  # type: ignore[attr-defined]
    opcodes = dict(plain)

    def noting(original: Any, note: Callable[[], None]) -> Any:
        def opcode(computation: Any) -> Any:
            note()
            return original(computation=computation)

        opcode.__wrapped__ = original  # type: ignore[attr-defined]
        return opcode

    def sensitive() -> None:
        probe.gas_sensitive = True

    def unreplayable() -> None:
        probe.replayable = False

    def sstore(computation: Any) -> Any:
        if computation.msg.depth == 0:  # deeper, a call ran: gas_sensitive already
            # at gas limit L, this SSTORE finds L - (cap - remaining) left and needs > 2,300
            needs = probe.cap - computation.get_gas_remaining() + _CALL_STIPEND + 1
            probe.sstore_needs = max(probe.sstore_needs, needs)
        return plain[_SSTORE](computation=computation)

    sstore.__wrapped__ = plain[_SSTORE]  # type: ignore[attr-defined]
    for code in _GAS_SENSITIVE_OPCODES:
        if code in plain:
            opcodes[code] = noting(plain[code], sensitive)
    for code in _UNREPLAYABLE_OPCODES:
        if code in plain:
            opcodes[code] = noting(plain[code], unreplayable)
    for code in _CONTEXT_OPCODES:
        if code in plain:
            opcodes[code] = noting(plain[code], functools.partial(probe.context.add, code))
    if _SSTORE in plain:
        opcodes[_SSTORE] = sstore

    def apply_computation(
        cls: Any, state: Any, message: Any, transaction_context: Any,
        parent_computation: Any = None,
    ) -> Any:
        run = super(probing, cls).apply_computation  # type: ignore[arg-type]
        if message.depth or probe.writes is not None:  # record the first outermost call only
            return run(state, message, transaction_context, parent_computation)
        probe.writes, probe.recording = [], True
        try:
            return run(state, message, transaction_context, parent_computation)
        finally:
            probe.recording = False

    probing = type("ProbingComputation", (base,), {
        "opcodes": opcodes, "apply_computation": classmethod(apply_computation),
    })
    return probing


def _recorded(
    header: Any, tx: Any, state: Any, computation: Any, probe: _GasProbe, needed: int
) -> _Replay | None:
    """The replay record of an estimate's run at the head (None: not replayable)."""
    message = computation.msg
    if (not probe.replayable or probe.writes is None or computation.children
            or message.is_create or tx.value != 0 or message.depth != 0):
        return None
    context = tuple(
        (name, _context_value(state, name))
        for code in sorted(probe.context) for name in _CONTEXT_OPCODES[code]
    )
    return _Replay(
        head=bytes(header.hash),
        sender=bytes(message.sender),
        to=bytes(message.to),
        data=bytes(message.data),
        code=bytes(message.code),
        min_gas=needed,
        gas_used=int(message.gas - computation.get_gas_remaining()),
        refund=int(computation.get_gas_refund()),
        writes=tuple(probe.writes),
        logs=tuple((bytes(a), tuple(t), bytes(d)) for _, a, t, d
                   in computation.get_raw_log_entries()),
        output=bytes(computation.output),
        context=context,
    )


def _context_value(state: Any, name: str) -> Any:
    """A block-context value as the state gives it to the EVM."""
    if name == "chain_id":
        return state.execution_context.chain_id
    return getattr(state, name)


@dataclass
class _Replay:
    """A call ``eth_estimateGas`` ran at the head, which mining the same call may replay.

    The estimate and the mined transaction run the same message (sender, contract,
    calldata, no value) on the same state (the block after the head the estimate ran
    at). When the run made no call or create, read neither the gas left, the gas price,
    a balance, another account's code nor a block hash, and wrote only its own storage
    and logs, its effects depend on nothing else than the block values it read
    (``context``): a block that has the same ones, and a gas limit at least the
    estimate, runs it to the same storage writes, logs, gas and refund. Mining then
    applies those instead of running the EVM again; everything around the call
    (nonce, fees, refunds, receipt, state root) is py-evm's as before, and any
    difference sends it through the EVM. Blocks stay byte-identical either way (a test
    mines the same transactions both ways and compares the chains).
    """

    head: bytes  # hash of the head the estimate ran at: the mined block's parent
    sender: bytes
    to: bytes
    data: bytes
    code: bytes
    min_gas: int  # the estimate: the least gas limit of a transaction that runs the same
    gas_used: int  # message gas the run consumed (before refunds)
    refund: int
    writes: tuple[tuple[bytes, int, int], ...]  # set_storage calls, in order
    logs: tuple[tuple[bytes, tuple[int, ...], bytes], ...]
    output: bytes
    context: tuple[tuple[str, Any], ...]  # block values read: (state attribute, value)

    def admits(self, tx: Any, parent: bytes) -> bool:
        """Whether ``tx``, the only transaction of a block on ``parent``, sends this call."""
        return (
            parent == self.head
            and tx.sender == self.sender
            and tx.to == self.to
            and tx.value == 0
            and tx.data == self.data
            and tx.gas >= self.min_gas
            and _tx_type(tx) in (0, 1, 2)  # no set-code authorizations
            and not (_tx_type(tx) and tx.access_list)  # no slot or account made warm
        )

    def matches(self, state: Any, message: Any) -> bool:
        """Whether ``message`` in ``state`` is the recorded call in the same block context."""
        return (
            message.depth == 0
            and not message.is_static
            and not message.is_create
            and message.value == 0
            and message.sender == self.sender
            and message.to == self.to
            and message.code_address == self.to
            and message.data == self.data
            and message.code == self.code
            and message.gas >= self.gas_used
            and all(_context_value(state, name) == value for name, value in self.context)
        )

    def apply(self, computation: Any, state: Any) -> Any:
        """The recorded run's effects on ``computation`` (fresh) and ``state``."""
        with computation:
            computation.contracts_created = []
            computation.consume_gas(self.gas_used, reason="replayed from the gas estimate")
            computation._gas_meter.gas_refunded = self.refund
            for address, slot, value in self.writes:
                state.set_storage(address, slot, value)
            for address, topics, data in self.logs:
                computation.add_log_entry(address, topics, data)
            computation.output = self.output
        return computation


def _calldata_floor(state: Any, tx: Any) -> int:
    """EIP-7623's least gas limit for the transaction's calldata (0 before Prague)."""
    executor = getattr(state, "transaction_executor_class", None)
    floor = getattr(executor, "calc_data_floor_gas", None)
    return 0 if floor is None else int(floor(tx, 0, 0))


def _log_rows(block: Any, receipts: Sequence[Any]) -> list[tuple[Any, ...]]:
    """The ``logs`` table rows of a mined block (see :data:`_SCHEMA`)."""
    rows: list[tuple[Any, ...]] = []
    log_index = 0
    timestamp = int(block.header.timestamp)
    block_hash = bytes(block.hash)
    for tx_index, (tx, receipt) in enumerate(zip(block.transactions, receipts, strict=True)):
        for log in receipt.logs:
            topics: list[bytes | None] = [int(t).to_bytes(32, "big") for t in log.topics]
            topics += [None] * (4 - len(topics))
            rows.append(
                (
                    int(block.number),
                    log_index,
                    block_hash,
                    timestamp,
                    bytes(tx.hash),
                    tx_index,
                    bytes(log.address),
                    *topics,
                    bytes(log.data),
                )
            )
            log_index += 1
    return rows


def _log_row_json(row: Sequence[Any]) -> dict[str, Any]:
    """An indexed log as ``eth_getLogs`` returns it (the receipts' shape)."""
    number, log_index, block_hash, timestamp, tx_hash, tx_index, address = row[:7]
    return {
        "address": _d(address),
        "topics": [_d(t) for t in row[7:11] if t is not None],
        "data": _d(row[11]),
        "blockNumber": _q(number),
        "blockHash": _d(block_hash),
        "blockTimestamp": _q(timestamp),
        "transactionHash": _d(tx_hash),
        "transactionIndex": _q(tx_index),
        "logIndex": _q(log_index),
        "removed": False,
    }


def _h256(bloom: int) -> str:
    return "0x" + int(bloom).to_bytes(256, "big").hex()


def _tx_type(tx: Any) -> int:
    return int(getattr(tx, "type_id", None) or 0)


def _effective_gas_price(tx: Any, header: Any) -> int:
    if _tx_type(tx) >= 2:
        return int(min(tx.max_fee_per_gas, tx.max_priority_fee_per_gas + header.base_fee_per_gas))
    return int(tx.gas_price)


def _tx_json(tx: Any, block: Any | None, index: int | None) -> dict[str, Any]:
    kind = _tx_type(tx)
    out: dict[str, Any] = {
        "type": _q(kind),
        "hash": _d(tx.hash),
        "nonce": _q(tx.nonce),
        "blockHash": None if block is None else _d(block.hash),
        "blockNumber": None if block is None else _q(block.number),
        "transactionIndex": None if index is None else _q(index),
        "from": _d(tx.sender),
        "to": _d(tx.to) if tx.to != b"" else None,
        "value": _q(tx.value),
        "gas": _q(tx.gas),
        "input": _d(tx.data),
        "r": _q(tx.r),
        "s": _q(tx.s),
    }
    if kind >= 2:
        out["maxFeePerGas"] = _q(tx.max_fee_per_gas)
        out["maxPriorityFeePerGas"] = _q(tx.max_priority_fee_per_gas)
        out["gasPrice"] = _q(
            tx.max_fee_per_gas if block is None else _effective_gas_price(tx, block.header)
        )
    else:
        out["gasPrice"] = _q(tx.gas_price)
    if kind >= 1:
        out["chainId"] = _q(tx.chain_id)
        out["accessList"] = [
            {"address": _d(addr), "storageKeys": [_h32(k) for k in keys]}
            for addr, keys in (tx.access_list or ())
        ]
        out["v"] = _q(tx.y_parity)
        out["yParity"] = _q(tx.y_parity)
    else:
        out["v"] = _q(tx.v)
        if tx.chain_id is not None:
            out["chainId"] = _q(tx.chain_id)
    return out


def _filter_addresses(value: Any) -> list[bytes]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    if len(items) > MAX_FILTER_VALUES:
        raise _invalid(f"at most {MAX_FILTER_VALUES} addresses")
    return [_p_fixed(a, "address", 20) for a in items]


def _filter_topics(value: Any) -> list[list[bytes]]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > 4:
        raise _invalid("topics must be an array of at most 4 entries")
    out: list[list[bytes]] = []
    for entry in value:
        if entry is None:
            out.append([])
        elif isinstance(entry, list):
            if len(entry) > MAX_FILTER_VALUES:
                raise _invalid(f"at most {MAX_FILTER_VALUES} alternatives per topic")
            out.append([_p_fixed(t, "topic", 32) for t in entry])
        else:
            out.append([_p_fixed(entry, "topic", 32)])
    return out


def _execution_error(error: Exception, output: bytes) -> RpcError:
    """geth's shape for a failed call: code 3, message with the reason, data = revert data."""
    from eth.exceptions import Revert

    if isinstance(error, Revert):
        data = bytes(output)
        reason = _decode_reason(data)
        message = "execution reverted" + (f": {reason}" if reason else "")
        return RpcError(3, message, _d(data))
    return RpcError(-32000, f"execution failed: {type(error).__name__} {error}".strip())


def _decode_reason(data: bytes) -> str | None:
    if data[:4] != bytes.fromhex("08c379a0") or len(data) < 68:
        return None
    try:
        length = int.from_bytes(data[36:68], "big")
        if length > len(data) - 68:
            return None
        return data[68 : 68 + length].decode("utf-8")
    except UnicodeDecodeError:
        return None


def _tx_rejected(exc: Exception) -> RpcError:
    text = str(exc)
    if "cannot afford" in text or "enough balance" in text:
        return RpcError(-32003, f"insufficient funds for gas * price + value: {text}")
    if "lower than block's base fee" in text:
        return RpcError(-32000, f"max fee per gas less than block base fee: {text}")
    if "exceeds gas limit" in text:
        return RpcError(-32000, f"exceeds block gas limit: {text}")
    if "intrinsic" in text.lower():
        return RpcError(-32000, f"intrinsic gas too low: {text}")
    return RpcError(-32000, text or type(exc).__name__)


# --------------------------------------------------------------------------- public


class EmbeddedChain:
    """The embedded chain, open on one state file (use :meth:`open`)."""

    def __init__(self, *, _path: Path, _store: _Store, _lock: _FileLock, write: bool) -> None:
        self.path = _path
        self.chain_id = CHAIN_ID
        self.writable = write
        self._store = _store
        self._lock = _lock
        self._mutex = threading.RLock()
        self._web3: Web3 | None = None
        self._closed = False
        present, meta = _store.load_meta()
        if present and meta.get("format") not in (_FORMAT, _FORMAT_V1):
            raise ConfigError(f"{_path} is not a keyanchor chain file")
        self._meta: dict[str, str] = dict(meta)
        self._meta.setdefault("format", _FORMAT)
        self._meta.setdefault("chain_id", str(CHAIN_ID))
        if self._meta["chain_id"] != str(CHAIN_ID):
            raise ConfigError(f"{_path} holds chain {self._meta['chain_id']}, not {CHAIN_ID}")
        if not present and not write:
            raise ChainUnavailable(f"the embedded chain {_path} does not exist yet")
        if present and self._meta["format"] == _FORMAT_V1 and not write:
            raise ConfigError(
                f"{_path} was written by an older keyanchor: open it for writing once "
                "(any command that writes, or the devnet) to upgrade it"
            )
        try:
            offset = int(self._meta.get("time_offset", "0"))
        except ValueError:
            offset = 0
        self._node = _Node(_store, fresh=not present, time_offset=offset, on_block=self._persist)
        self._node.read_only = not write
        self._node._methods["keyanchor_registryAddress"] = lambda params: self._deployed_registry()
        if not present:
            self._meta[_MIRROR_KEY] = ""  # a new chain: the mirror is complete from genesis
            self._persist()
        elif self._meta["format"] == _FORMAT_V1:
            self._upgrade_from_v1()
        if write and self._meta.get(_MIRROR_KEY) != self._node.head.hash.hex():
            self._build_mirror()  # older file, or written by a keyanchor without the mirror

    # -- construction

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        write: bool = True,
        timeout: float = 30.0,
    ) -> EmbeddedChain:
        """Open (creating if needed) the chain kept in ``path``.

        ``write=True`` holds an exclusive lock until :meth:`close` (other
        processes wait up to ``timeout`` seconds); ``write=False`` a shared one.
        Every mined block is committed to the file at once; nothing waits for
        close. Raises ChainUnavailable when a devnet serves the file (its URL
        is in the message) or the file stays locked, ConfigError when the file
        is not a keyanchor chain.
        """
        state = Path(path) if path is not None else default_state_path()
        url = devnet_url_for(state)
        if url is not None:
            raise ChainUnavailable(_devnet_message(url))
        if not write and not state.exists():
            raise ChainUnavailable(f"the embedded chain {state} does not exist yet")
        try:
            state.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise ConfigError(f"cannot create {state.parent}: {exc}") from exc
        lock = _FileLock(_lock_path(state))
        deadline = time.monotonic() + timeout
        try:
            while not lock.try_acquire(exclusive=write):
                url = devnet_url_for(state)
                if url is not None:
                    raise ChainUnavailable(_devnet_message(url))
                if time.monotonic() >= deadline:
                    raise ChainUnavailable(
                        f"the embedded chain {state} is locked by another keyanchor process"
                    )
                time.sleep(_LOCK_POLL_SECONDS)
        except OSError as exc:
            raise ConfigError(f"cannot lock {lock.path}: {exc}") from exc
        store: _Store | None = None
        try:
            store = _Store(state, write=write)
            return cls(_path=state, _store=store, _lock=lock, write=write)
        except Error:
            if store is not None:
                store.close()
            lock.release()
            raise
        except Exception as exc:
            if store is not None:
                store.close()
            lock.release()
            raise ChainError(f"cannot open the embedded chain {state}: {exc}") from exc

    def __enter__(self) -> EmbeddedChain:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the file and the lock (every mined block is already saved). Idempotent."""
        with self._mutex:
            if self._closed:
                return
            self._closed = True
            self._store.close()
            self._lock.release()

    # -- properties

    @property
    def dev_accounts(self) -> list[LocalAccount]:
        """The funded development accounts (keys from the public test mnemonic)."""
        return dev_accounts()

    @property
    def web3(self) -> Web3:
        """A ``web3.Web3`` bound to this chain in process (same JSON-RPC as the devnet)."""
        with self._mutex:
            if self._web3 is None:
                from web3 import Web3

                self._web3 = Web3(_provider_class()(self))
            return self._web3

    @property
    def block_number(self) -> int:
        with self._mutex:
            return int(self._node.head.block_number)

    @property
    def registry_address(self) -> str:
        """The KeyRegistry's checksum address, deploying it on first use.

        Raises RegistryNotFound when it is not deployed and cannot be (read-only
        chain, or no compiled artifact).
        """
        with self._mutex:
            address = self._deployed_registry()
            if address is not None:
                return address
            if not self.writable:
                raise RegistryNotFound(
                    "no KeyRegistry is deployed on the embedded chain yet (open it for writing)"
                )
            return self.deploy_registry()

    def _deployed_registry(self) -> str | None:
        address = self._meta.get("registry")
        if not address:
            return None
        code = self._node.call("eth_getCode", [address, "latest"])
        return address if code != "0x" else None

    def deploy_registry(self, bytecode: bytes | None = None) -> str:
        """Deploy ``bytecode`` (default: the bundled KeyRegistry) and record it as the registry.

        The bundled KeyRegistry is deployed in public mode, committing to the
        bundled Public Suffix List, with development account 0 as its admin.
        Raises RegistryNotFound when there is no artifact, ChainError when the
        deployment fails.
        """
        with self._mutex:
            self._check_open()
            deployer = self.dev_accounts[0]
            if bytecode is None:
                import eth_abi

                from registry.psl import suffix_tree

                bytecode = _registry_bytecode() + eth_abi.encode(
                    ["bytes32", "bool", "address"], [suffix_tree().root, False, deployer.address]
                )
            receipt = self._send_as(deployer, to=None, data=bytecode)
            if receipt["status"] != "0x1" or not receipt["contractAddress"]:
                raise ChainError("deploying the KeyRegistry on the embedded chain failed")
            from eth_utils import to_checksum_address

            address = str(to_checksum_address(receipt["contractAddress"]))
            self._meta["registry"] = address
            self._persist()
            return address

    def time_travel(self, seconds: int) -> int:
        """Move the clock ``seconds`` forward and mine an empty block; returns its timestamp."""
        if seconds < 0:
            raise ValueError("time only travels forward")
        with self._mutex:
            self._check_open()
            self._node.time_offset += int(seconds)
            try:
                block = self._node._mine([])
            except RpcError as exc:
                raise ChainError(exc.message) from exc
            return int(block.header.timestamp)

    # -- JSON-RPC

    def request(self, method: str, params: list[Any] | None = None) -> Any:
        """Run one JSON-RPC method and return its JSON result; raises :class:`RpcError`."""
        with self._mutex:
            self._check_open_rpc()
            return self._node.call(method, _p_list(params))

    def handle(self, payload: Any) -> Any:
        """Answer a decoded JSON-RPC 2.0 request or batch; None when nothing is to be sent."""
        if isinstance(payload, list):
            if not payload:
                return _error_response(None, RpcError(-32600, "invalid request: empty batch"))
            replies = [self._handle_one(item) for item in payload]
            replies = [r for r in replies if r is not None]
            return replies or None
        return self._handle_one(payload)

    def _handle_one(self, item: Any) -> dict[str, Any] | None:
        if not isinstance(item, dict):
            return _error_response(None, RpcError(-32600, "invalid request"))
        request_id = item.get("id")
        is_notification = "id" not in item
        if not isinstance(request_id, str | int | float | type(None)) or isinstance(
            request_id, bool
        ):
            return _error_response(None, RpcError(-32600, "invalid request id"))
        method = item.get("method")
        if not isinstance(method, str) or item.get("jsonrpc", "2.0") != "2.0":
            return _error_response(request_id, RpcError(-32600, "invalid request"))
        try:
            result = self.request(method, item.get("params"))
        except RpcError as exc:
            response = _error_response(request_id, exc)
        except Exception:
            log.exception("internal error answering %s", method)
            response = _error_response(request_id, RpcError(-32603, "internal error"))
        else:
            response = {"jsonrpc": "2.0", "id": request_id, "result": result}
        return None if is_notification else response

    # -- internals

    def _check_open(self) -> None:
        if self._closed:
            raise ChainError("the embedded chain is closed")

    def _check_open_rpc(self) -> None:
        if self._closed:
            raise RpcError(-32000, "the embedded chain is closed")

    def _persist(self) -> None:
        """Commit what changed since the last commit, with the metadata, in one transaction.

        The metadata names the head this commit leaves (number, hash, timestamp) and,
        when the storage mirror is complete, the head it mirrors: a reader trusts the
        mirror only when that equals py-evm's canonical head in the same file.
        """
        node = self._node
        db = node.db
        self._meta["time_offset"] = str(node.time_offset)
        words, wipes = node.new_words, node.new_wipes
        if node.rebuild_storage:  # a revert: the mirror again from the state itself
            wipes = self._store.mirrored_addresses()
            words = self._mirror_rows(wipes)
        head = node.head
        self._meta["head_number"] = str(head.block_number)
        self._meta["head_hash"] = head.hash.hex()
        self._meta["head_timestamp"] = str(head.timestamp)
        if _MIRROR_KEY in self._meta:  # the mirror is maintained: it now reflects this head
            self._meta[_MIRROR_KEY] = head.hash.hex()
        upserts, deletes = db.changes()
        self._store.save(upserts, deletes, self._meta, node.new_logs, node.logs_after,
                         words, wipes)
        db.committed()
        node.new_logs = []
        node.logs_after = None
        node.new_words, node.new_wipes = [], []
        node.rebuild_storage = False

    def _mirror_rows(self, addresses: Sequence[bytes]) -> list[tuple[bytes, bytes, bytes | None]]:
        registry = self._meta.get("registry")
        wanted = set(addresses)
        if registry:
            wanted.add(bytes.fromhex(registry.removeprefix("0x")))
        rows: list[tuple[bytes, bytes, bytes | None]] = []
        for address in sorted(wanted):
            rows += self._node.storage_snapshot(address)
        return rows

    def _build_mirror(self) -> None:
        """A file written before the storage mirror existed: build it from the state."""
        log.info("building the storage mirror of %s", self.path)
        self._node.rebuild_storage = True
        self._meta[_MIRROR_KEY] = ""
        self._persist()

    def _upgrade_from_v1(self) -> None:
        """Format 1 had no log index: build it from the blocks, in one transaction."""
        node = self._node
        chain = node.chain
        log.info("indexing the logs of %s (a chain file from an older keyanchor)", self.path)
        node.logs_after = 0
        for number in range(1, node.head.block_number + 1):
            block = chain.get_block_by_header(chain.get_canonical_block_header_by_number(number))
            node.new_logs += _log_rows(block, block.get_receipts(chain.chaindb))
        self._meta["format"] = _FORMAT
        self._persist()

    def _send_as(self, account: LocalAccount, *, to: str | None, data: bytes) -> dict[str, Any]:
        node = self._node
        sender = account.address
        tx: dict[str, Any] = {
            "from": sender,
            "data": _d(data),
            "chainId": CHAIN_ID,
            "nonce": int(node.call("eth_getTransactionCount", [sender, "latest"]), 16),
            "maxPriorityFeePerGas": PRIORITY_FEE_WEI,
            "maxFeePerGas": PRIORITY_FEE_WEI + 2 * node._next_base_fee(),
            "value": 0,
        }
        if to is not None:
            tx["to"] = to
        try:
            estimate = int(
                node.call(
                    "eth_estimateGas",
                    [{k: v for k, v in tx.items() if k in ("from", "to", "data")}],
                ),
                16,
            )
            tx["gas"] = min(BLOCK_GAS_LIMIT, estimate * 5 // 4 + 10_000)
            del tx["from"]
            signed = account.sign_transaction(tx)
            tx_hash = node.call("eth_sendRawTransaction", [_d(signed.raw_transaction)])
            receipt = node.call("eth_getTransactionReceipt", [tx_hash])
        except RpcError as exc:
            raise ChainError(f"transaction on the embedded chain failed: {exc.message}") from exc
        if receipt is None:
            raise ChainError("the embedded chain did not mine the transaction")
        return dict(receipt)


def _devnet_message(url: str) -> str:
    return (
        f"the devnet at {url} is serving this chain: stop it first, or reach the chain"
        f" through it (keyanchor's commands on the embedded network do so by themselves;"
        f" from Python, Registry.connect('{url}'))"
    )


def _error_response(request_id: Any, error: RpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": error.as_json()}


def _registry_bytecode() -> bytes:
    try:
        from registry.artifacts import load_artifact  # type: ignore[import-not-found,unused-ignore]

        artifact = load_artifact("KeyRegistry")
    except Error as exc:
        raise RegistryNotFound(f"the KeyRegistry artifact cannot be loaded: {exc}") from exc
    except (ImportError, OSError, ValueError, KeyError) as exc:
        raise RegistryNotFound(f"the KeyRegistry artifact cannot be loaded: {exc}") from exc
    raw = artifact["bytecode"] if isinstance(artifact, Mapping) else artifact.bytecode
    if isinstance(raw, str):
        return bytes.fromhex(raw.removeprefix("0x"))
    return bytes(raw)


def local_head_number(w3: Any) -> int | None:
    """The newest block number of the embedded chain ``w3`` talks to in this process, or
    None when ``w3`` reaches a chain through an endpoint (anything else, a devnet too)."""
    provider = getattr(w3, "provider", None)
    chain = getattr(provider, "_chain", None)
    if type(provider) is not _provider_class() or not isinstance(chain, EmbeddedChain):
        return None
    return chain.block_number


@functools.cache
def _provider_class() -> type:
    from web3.providers.base import JSONBaseProvider

    class EmbeddedProvider(JSONBaseProvider):
        """A web3 provider answering from an :class:`EmbeddedChain` in this process."""

        def __init__(self, chain: EmbeddedChain) -> None:
            super().__init__()
            self._chain = chain

        def make_request(self, method: Any, params: Any) -> Any:
            request = json.loads(self.encode_rpc_request(method, params))
            response = self._chain.handle(request)
            return json.loads(json.dumps(response))

        def make_batch_request(self, requests: Any) -> Any:
            batch = json.loads(self.encode_batch_rpc_request(requests))
            return json.loads(json.dumps(self._chain.handle(batch)))

        def is_connected(self, show_traceback: bool = False) -> bool:
            return not self._chain._closed

    return EmbeddedProvider
