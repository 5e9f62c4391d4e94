"""The verified local index: a SQLite cache of the KeyRegistry, synced from chain events.

    from registry.index import IndexReader, sync_index
    sync_index("index.sqlite", registry)          # verify + store new events, page by page
    IndexReader.open("index.sqlite").records("alice@example.org")

The read side (:class:`IndexReader`) is stdlib only, for sshd's sake; only
:func:`sync_index` / :func:`watch_events` import web3 (lazily). Names load on
first use so ``import registry.index`` stays cheap.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (sshd path)
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any

    from registry.index._json import history_entry, iso, iso_times
    from registry.index._query import IndexedRecord, IndexReader, record_status
    from registry.index._store import Event, ParsedKey, Store
    from registry.index._sync import SyncResult, WatchEvent, sync_index, watch_events

#: Each line: a module, then the names it provides (parsed on the first lookup: a dict
#: display of every name costs compile time on sshd's login when no bytecode is cached).
_LAZY_TEXT = """
_json history_entry iso iso_times
_query IndexReader IndexedRecord record_status
_store Event ParsedKey Store
_sync SyncResult WatchEvent sync_index watch_events
"""

__all__ = [
    "Event",
    "IndexReader",
    "IndexedRecord",
    "ParsedKey",
    "Store",
    "SyncResult",
    "WatchEvent",
    "history_entry",
    "iso",
    "iso_times",
    "record_status",
    "sync_index",
    "watch_events",
]


def __getattr__(name: str) -> Any:
    for line in _LAZY_TEXT.strip().split("\n"):
        module, *names = line.split()
        if name in names:
            break
    else:
        raise AttributeError(f"module 'registry.index' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f"registry.index.{module}"), name)
    globals()[name] = value
    return value
