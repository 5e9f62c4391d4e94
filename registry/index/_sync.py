"""Sync: fill the index from ``KeyRegistry`` events, verifying everything (the only web3 user).

    with Registry.connect(url, registry_address=addr) as reg:
        result = sync_index("index.sqlite", reg, confirmations=2)

Pages of blocks are fetched with ``eth_getLogs`` (the range halves when the
endpoint refuses it and grows back after successes) and decoded with the ABI
of the packaged artifact. Per page:

1. each log's block hash must match the block header fetched for it, and the
   previous page's last block (stored with its hash) must still be canonical
   (a reorg in flight, or one between two pages, restarts the sync, which then
   rolls back);
2. every ``KeyPublished`` material must hash to its commitment
   (``keccak256(uint8(type) || material)``), every ``NameRegistered`` text must
   hash to its node;
3. every log of the page, in order, is folded into the stored event digest
   (:mod:`registry.chain.layout`); the result must equal the contract's
   ``event_digest()`` read AT the page's last block (EIP-1898 block hash), so a
   withheld, added, reordered, moved or altered log fails the page;
4. after the page is applied (inside one SQLite transaction), the stored records
   of every touched name must equal the contract's ``records(node, commitments)``
   view and its ``record_count(node)``, and the stored owner its ``owner(node)``,
   all read at that block; so are ``attestation(node, commitment, attester)`` of
   every Attested / AttestationWithdrawn, ``is_blocked`` of every
   AttesterBlocked, ``renounced(node)`` of every ChildRenounced node and
   ``is_operator(node, operator)`` of every OperatorSet whose owner is the
   node's current owner. Any mismatch raises
   :class:`~registry.errors.VerificationError` and the page is rolled back.

The digest makes the sync complete against the endpoint it trusts (a view is
still that endpoint's word; issue 12 replaces the views by storage proofs).

Before the pages, the highest stored block hashes are compared with the chain;
when one is no longer canonical the index rolls back to the newest block that
still is (the common ancestor) and resyncs from there.

Endpoint replies are untrusted input: their shape is checked (hex quantities
and data, log and header fields, batch replies paired with requests by id), and
anything malformed raises :class:`~registry.errors.ChainError`.
"""

from __future__ import annotations

import contextlib
import gc
import json
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from registry.chain import layout
from registry.chain._rpc import Log as _Log
from registry.chain._rpc import parse_logs as _parse_logs
from registry.chain._rpc import quantity as _q
from registry.errors import (
    ChainError,
    ConfigError,
    Error,
    IndexUnavailable,
    InvalidName,
    VerificationError,
)
from registry.index._query import IndexReader, valid_name
from registry.index._store import PENDING, Event, Store
from registry.index._verdicts import Job, VerdictPool, WorkerFailed, parsed_key
from registry.keys._common import KeyType, commitment
from registry.names import keccak256, labelhash, namehash, parse_name, raw_namehash

__all__ = ["SyncResult", "WatchEvent", "sync_index", "watch_events"]

ZERO32 = b"\x00" * 32
#: Blocks per eth_getLogs page to start with (small: a page never holds the whole chain, so
#: memory does not grow with it), and the most a page grows to (it doubles after each page).
DEFAULT_PAGE_BLOCKS = 16
MAX_PAGE_BLOCKS = 50_000
#: Logs a page aims at (pages grow while below half of it and shrink above it). Each page
#: costs one event-digest proof, which a node such as anvil takes long over.
PAGE_LOGS = 10_000
#: The most logs a page decodes (what bounds memory): a reply holding more (or more than
#: twice a smaller ``page_logs``) keeps its first whole blocks, at most this many logs, and
#: the page ends there; when its first block alone holds more, it is dropped before decoding
#: and the range halved.
MAX_PAGE_LOGS = 10_000
#: A page with this many KeyPublished has its verdicts computed by a worker process
#: (:mod:`registry.index._verdicts`). Its jobs are guessed as the page is decoded (from the
#: index and the page's own names, before anything is stored) and go to the worker in chunks
#: of VERDICT_CHUNK, so it computes them while the page is decoded, proven and stored; as the
#: page is stored, each record's real job is compared with its guess, and a record whose job
#: differs gets its verdict computed by the sync itself (a verdict is a pure function of its
#: job, so a guess can cost time, never change the index).
WORKER_MIN_KEYS = 500
VERDICT_CHUNK = 250
#: Stored block hashes compared per round when looking for the common ancestor.
REORG_PROBE = 64
_RANGE_ERRORS = ("range", "too many", "limit", "exceed", "too large", "response size", "10000",
                 "timeout", "timed out", "-32005", "-32602", "413")

Progress = Callable[[int, int, int], None]  # (page end block, target block, events so far)
#: Events about the registry itself (no node): folded into the digest, not stored.
_REGISTRY_WIDE = frozenset({"RegistryDeployed", "AdminChanged", "SuffixRootSet", "RegistrarSet"})
#: Events that change a name's row (its text, parent, owner or renunciation): the page's memos
#: of names and owners, and its squatting reader, are dropped after one.
_NAME_CHANGES = frozenset({"NameRegistered", "OwnershipTransferred", "ChildRenounced"})
#: Events a page's verdict jobs are guessed from (:meth:`_Syncer.guess`).
_GUESSED = frozenset({"KeyPublished", "NameRegistered", "OwnershipTransferred"})


@dataclass
class SyncResult:
    """What a sync did."""

    from_block: int
    to_block: int
    events: int = 0
    pages: int = 0
    rolled_back_to: int | None = None
    removed_events: int = 0
    seconds: float = 0.0
    page_sizes: list[int] = field(default_factory=list)
    audited: int | None = None  # names compared with the contract by an audit
    #: The proven head the index now holds: (number, hash, digest, timestamp).
    head: tuple[int, bytes, bytes | None, int] | None = None
    #: The block the quorum agreed on this run (TrustedBlock.to_dict()).
    trusted: dict[str, Any] | None = None
    #: Endpoints that disagreed, failed or lagged (``name: what``), never hidden.
    report: list[str] = field(default_factory=list)
    #: Divergences found (audit, proven digest) and the rollback that repaired each.
    diverged: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        head = None
        if self.head is not None:
            number, block_hash, digest, ts = self.head
            head = {"number": number, "hash": "0x" + block_hash.hex(), "timestamp": ts,
                    "digest": "0x" + digest.hex() if digest is not None else None}
        return {"from_block": self.from_block, "to_block": self.to_block, "events": self.events,
                "pages": self.pages, "rolled_back_to": self.rolled_back_to,
                "removed_events": self.removed_events, "seconds": round(self.seconds, 3),
                "audited": self.audited, "head": head, "endpoints": self.report,
                "diverged": self.diverged}


class _ReorgInFlight(Exception):
    """The chain changed under a page; start over from the reorg check."""


# --------------------------------------------------------------------------- JSON-RPC


# --------------------------------------------------------------------------- decoding

#: :meth:`_Decoder._decode_fast` field codes: indexed (a topic) below _D_UINT, data from it.
_T_WORD, _T_UINT, _T_ADDRESS = 0, 1, 2
_D_UINT, _D_BOOL, _D_ADDRESS, _D_WORD, _D_BYTES, _D_STRING = 10, 11, 12, 13, 14, 15
_TOPIC_CODES = {"bytes32": _T_WORD, "uint": _T_UINT, "address": _T_ADDRESS}
_DATA_CODES = {"bool": _D_BOOL, "address": _D_ADDRESS, "bytes32": _D_WORD, "bytes": _D_BYTES,
               "string": _D_STRING}


class _Decoder:
    def __init__(self) -> None:
        from registry.chain.client import load_contract

        self.contract = load_contract()
        self.by_topic = self.contract.by_topic
        self.records_fn = self.contract.fn("records")
        self.count_fn = self.contract.fn("record_count")
        self.owner_fn = self.contract.fn("owner")
        self.attestation_fn = self.contract.fn("attestation")
        self.blocked_fn = self.contract.fn("is_blocked")
        self.renounced_fn = self.contract.fn("renounced")
        self.is_operator_fn = self.contract.fn("is_operator")
        self.digest_fn = self.contract.fn("event_digest")
        self.key_topic = next(t for t, e in self.by_topic.items() if e.name == "KeyPublished")

        # per topic0: (event, the event's fields in digest order as (name, where, kind); where
        # is the topic index for an indexed field, -1 for a data field)
        self._layouts: dict[bytes, tuple[Any, tuple[tuple[str, int, str], ...]]] = {}
        for topic, event in self.by_topic.items():
            spec = layout.EVENT_FIELDS.get(event.name)
            if spec is None:
                continue
            where = {n: i for i, (n, _) in enumerate(event.indexed, 1)}
            fields = tuple((n, where.get(n, -1), k) for n, k in spec)
            # the data fields' head words come in the ABI's order: use it only when the
            # digest's order is the same and every field is one head word
            if [(n, k) for n, w, k in fields if w < 0] == list(event.data) and \
                    all(k in ("bytes", "string") or (not k.endswith("]") and not k.startswith("("))
                        for _, k in event.data):
                self._layouts[topic] = (event, fields)
        #: per topic0, for events whose digest order is the ABI's (indexed, then data) and
        #: whose types are all one of a few: (name, topics, ((field, code, arg), ...)) for
        #: :meth:`_decode_fast`
        self._fast: dict[bytes, tuple[str, int, tuple[tuple[str, int, int], ...]]] = {}
        for topic, event in self.by_topic.items():
            spec = layout.EVENT_FIELDS.get(event.name)
            if spec is None or [n for n, _ in spec] != [n for n, _ in (*event.indexed,
                                                                     *event.data)]:
                continue
            codes: list[tuple[str, int, int]] = []
            for i, (n, k) in enumerate(event.indexed, 1):
                code = _TOPIC_CODES.get("uint" if k.startswith("uint") else k)
                if code is None:
                    break
                codes.append((n, code, i))
            else:
                for n, k in event.data:
                    if k.startswith("uint") and k[4:].isdigit():
                        codes.append((n, _D_UINT, int(k[4:])))
                    elif k in _DATA_CODES:
                        codes.append((n, _DATA_CODES[k], 0))
                    else:
                        break
                else:
                    self._fast[topic] = (event.name, 1 + len(event.indexed), tuple(codes))

    def decode(self, log: _Log) -> tuple[str, dict[str, Any]] | None:
        topics = list(log.topics)
        if not topics:
            return None
        event = self.by_topic.get(topics[0])
        if event is None:
            return None
        try:
            data = self._decode_event(event, topics, log.data)
        except Exception as exc:
            raise VerificationError(f"malformed {event.name} event in block {log.block}") from exc
        for key in ("owner", "previous", "operator"):
            if isinstance(data.get(key), str):
                data[key] = data[key].lower()
        return event.name, data

    def decode_hashed(self, log: _Log) -> tuple[str, dict[str, Any], bytes] | None:
        """:meth:`decode` and the event's digest hash (:func:`layout.event_hash`) in one pass.

        The hash is taken over the log's own words (topics, static data words;
        keccak256 of dynamic data), which the decoder has checked are canonical
        ABI values; an indexed address whose topic is not zero-padded therefore
        hashes differently from the contract's own event and fails the page,
        as it must (the contract never emits one).
        """
        fast = self._fast.get(log.topics[0]) if log.topics else None
        if fast is not None:
            try:
                return self._decode_fast(fast, log)
            except Exception as exc:
                raise VerificationError(f"malformed {fast[0]} event in block {log.block}") from exc
        decoded = self.decode(log)
        if decoded is None:
            return None
        kind, data = decoded
        found = self._layouts.get(log.topics[0])
        if found is None:
            return kind, data, layout.event_hash(kind, data, log.block)
        _event, spec = found
        topics, payload = log.topics, log.data
        parts = [topics[0], log.block.to_bytes(32, "big")]
        head = 0
        for name, where, ftype in spec:
            if where >= 0:
                parts.append(topics[where])
                continue
            if ftype == "string":
                parts.append(keccak256(data[name].encode("utf-8")))
            elif ftype == "bytes":
                parts.append(keccak256(bytes(data[name])))
            else:  # a static word, range-checked by the decoder: hashed as the log has it
                parts.append(payload[head:head + 32])
            head += 32
        return kind, data, keccak256(b"".join(parts))

    @staticmethod
    def _decode_fast(fast: tuple[str, int, tuple[tuple[str, int, int], ...]],
                     log: _Log) -> tuple[str, dict[str, Any], bytes]:
        """:meth:`decode_hashed` in one pass over the log for the common layouts: the same
        values and checks as the ABI decoder (range of every static word, offsets and
        lengths of bytes and strings) and the same hash (tests compare the two).

        Raises: ValueError (malformed) or UnicodeDecodeError (a string that is not UTF-8).
        """
        name, ntopics, fields = fast
        topics, payload = log.topics, log.data
        if len(topics) != ntopics:
            raise ValueError(f"not a {name} log")
        size = len(payload)
        out: dict[str, Any] = {}
        parts = [topics[0], log.block.to_bytes(32, "big")]
        head = 0
        for field_name, code, arg in fields:
            if code < _D_UINT:  # an indexed field: its topic
                t = topics[arg]
                parts.append(t)
                out[field_name] = t if code == _T_WORD else (
                    int.from_bytes(t, "big") if code == _T_UINT else "0x" + t[12:].hex())
                continue
            word = payload[head:head + 32]
            head += 32
            if len(word) != 32:
                raise ValueError("ABI data too short")
            if code >= _D_BYTES:
                start = int.from_bytes(word, "big")
                if start + 32 > size:
                    raise ValueError("ABI offset out of range")
                end = start + 32 + int.from_bytes(payload[start:start + 32], "big")
                if end > size:
                    raise ValueError("ABI bytes run past the data")
                raw = payload[start + 32:end]
                parts.append(keccak256(raw))
                out[field_name] = raw.decode("utf-8") if code == _D_STRING else raw
                continue
            parts.append(word)
            if code == _D_WORD:
                out[field_name] = word
                continue
            value = int.from_bytes(word, "big")
            if code == _D_UINT:
                if value >> arg:
                    raise ValueError(f"uint{arg} out of range")
                out[field_name] = value
            elif code == _D_BOOL:
                if value > 1:
                    raise ValueError("bool out of range")
                out[field_name] = value == 1
            else:
                if value >> 160:
                    raise ValueError("address out of range")
                out[field_name] = "0x" + word[12:].hex()
        return name, out, keccak256(b"".join(parts))

    @staticmethod
    def _decode_event(event: Any, topics: list[bytes], payload: bytes) -> dict[str, Any]:
        """As the client's event decoder, with the fast fixed-layout decoder.

        Every decoded record is then checked against its commitment and the
        contract's view, so a decoding slip cannot store a wrong key.
        """
        import eth_abi

        from registry.chain._abi import decode as fast_decode

        if len(topics) != 1 + len(event.indexed):
            raise ValueError(f"not a {event.name} log")
        out: dict[str, Any] = {}
        for (name, kind), topic in zip(event.indexed, topics[1:], strict=True):
            if kind == "bytes32":
                out[name] = topic
            elif kind.startswith("uint"):
                out[name] = int.from_bytes(topic, "big")
            elif kind == "address":
                out[name] = "0x" + topic[12:].hex()
            else:
                (out[name],) = eth_abi.decode([kind], topic)
        values = fast_decode([k for _, k in event.data], payload)
        out.update(zip((n for n, _ in event.data), values, strict=True))
        return out

    def decode_output(self, fn: Any, data: bytes) -> Any:
        from registry.chain._abi import decode as fast_decode
        from registry.chain.client import _abi_type, _named

        values = fast_decode([_abi_type(o) for o in fn.outputs], data)
        named = [_named(o, v) for o, v in zip(fn.outputs, values, strict=True)]
        return named[0] if len(named) == 1 else tuple(named)


# --------------------------------------------------------------------------- sync


def _node_of_text(text: str, label: str, parent: bytes, person: bool) -> bytes:
    """``raw_namehash(text)`` of a name registered as ``label`` under ``parent`` (the node of
    the indexed parent text): one hash on the parent's node when the text splits back into
    that label and that parent (no ``.`` or ``@`` in the label, no ``@`` in the parent's
    text), else the whole text hashed again."""
    if parent != ZERO32 and "." not in label and "@" not in label and "@" not in text[
            len(label) + 1:]:
        return keccak256(parent + labelhash(label, person=person))
    return bytes(raw_namehash(text))


def _target(reg: Any) -> tuple[Any, str, int, Any]:
    """(web3, registry address, start block, trust) from a Registry or a (w3, address) pair.

    A pair is one endpoint trusted alone at its latest block.
    """
    from registry.chain.trust import Quorum

    if isinstance(reg, tuple):
        w3, address = reg[0], reg[1]
        start = reg[2] if len(reg) > 2 else 0
        return w3, str(address), int(start), Quorum.single(w3)
    trust = getattr(reg, "trust", None) or Quorum.single(reg.w3)
    return reg.w3, str(reg.address), int(getattr(reg, "from_block", 0) or 0), trust


def _is_range_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return any(word in text for word in _RANGE_ERRORS)


class _RangeTooLarge(Exception):
    """The endpoint refused an eth_getLogs range (or the page holds too many logs): halve it."""


def _first_blocks(raw: list[Any], cap: int, lo: int, hi: int) -> tuple[list[Any], int]:
    """The raw logs of a reply holding more than ``cap`` that fall in its first blocks: those
    before the block of log ``cap`` (at most ``cap`` logs), and the last of those blocks.

    Raises _RangeTooLarge when that leaves no block (or a block number does not read)."""
    try:
        end = _q(raw[cap]["blockNumber"]) - 1
        keep = cap
        while keep and _q(raw[keep - 1]["blockNumber"]) > end:
            keep -= 1
    except (ChainError, KeyError, TypeError, ValueError, IndexError):
        end = lo - 1
    if not lo <= end < hi:
        raise _RangeTooLarge(f"{len(raw)} logs in blocks {lo}-{hi}")
    return raw[:keep], end


def _child_text(label: str, person: object, parent_text: str) -> str:
    """A registered name's text from its label and its parent's: ``label@parent`` for a
    person, ``label.parent`` otherwise."""
    return f"{label}{'@' if person else '.'}{parent_text}"


@dataclass
class _Page:
    """A page of blocks whose logs one endpoint gave and the proven digest confirmed."""

    lo: int
    hi: int
    endpoint: str
    logs: list[_Log]
    decoded: list[tuple[str, dict[str, Any], _Log]]
    blocks: dict[int, Any]  # number -> TrustedBlock (log blocks, the page end)
    digests: dict[int, bytes]  # the event digest after each log block
    digest: bytes  # after the page (= proven at ``hi``)
    #: the page's KeyPublished jobs as guessed while decoding (sent to the verdict worker,
    #: whose results come in this order), or None when no worker computes them
    guesses: list[Job] | None = None


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector paused while a page is fetched, proven and stored.

    A page allocates ~10 objects a log that reference counting frees; with the collector
    on, they set off ~80 collections a 5,000-log page, the oldest generation's walking every
    object of the process (web3's included). The young generations are collected after
    each page, so cycles made meanwhile do not outlive it.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect(1)


class _Syncer:
    def __init__(self, store: Store, trust: Any, address: str, *, start_block: int,
                 confirmations: int, page_blocks: int, profile: str | None,
                 progress: Progress | None, max_blocks: int | None,
                 max_page_blocks: int = MAX_PAGE_BLOCKS, audit: bool = False,
                 dns: Any = None, page_logs: int = PAGE_LOGS, local_w3: Any = None) -> None:
        from registry.chain._proven import ProvenState

        self.store = store
        self.dns = dns
        self.dns_cache: dict[tuple[bytes, str], Any] = {}
        self.audit_all = audit
        self.quorum = trust
        self.address = address.lower()
        self.state = ProvenState(self.address, trust, from_block=start_block)
        self.start_block = start_block
        self.confirmations = max(0, int(confirmations))
        self.page = max(1, int(page_blocks))
        self.page_logs = max(1, int(page_logs))
        self.profile = profile
        self.progress = progress
        self.max_blocks = max_blocks
        self.max_page = max(self.page, int(max_page_blocks))
        self.dec = _Decoder()
        self.local_w3 = local_w3  # the web3 of sync_index's target (see _head_is_newest)
        self.chain_id = 0
        # memos of the page being stored (run_page resets them)
        self.names: dict[bytes, str | None] = {}
        self.owners: dict[bytes, str | None] = {}
        self.reader: Any = None
        # a big page's verdicts are computed by a worker process while the page is stored:
        # (node, record index) of each record waiting for one, and the jobs not yet sent
        self.pool: VerdictPool | None = None
        self.pool_failed = False  # the worker failed once: this run computes verdicts itself
        self.deferred: list[tuple[bytes, int, int]] | None = None  # (node, index, guess no.)
        self.guesses: list[Job] = []  # the page's guessed jobs (see run_page)
        self.key_no = 0  # the page's KeyPublished stored so far

    # -- identity, heads and reorgs

    def check_identity(self) -> None:
        cid, reg = self.store.meta("chain_id"), self.store.meta("registry")
        self.chain_id = self.quorum.check_chain(self.quorum.chain_id)
        if cid is None:
            with self.store.transaction():
                self.store.set_meta("chain_id", self.chain_id)
                self.store.set_meta("registry", self.address)
                self.store.set_meta("start_block", self.start_block)
                self.store.set_meta("policy_profile", self.profile or "none")
        elif cid != str(self.chain_id) or reg != self.address:
            raise ConfigError(
                f"the index {self.store.path} holds registry {reg} on chain {cid}, not"
                f" {self.address} on chain {self.chain_id}: use another --index file"
            )

    def anchor(self) -> tuple[int, bytes, bytes | None, int] | None:
        """(number, hash, digest, timestamp) of the newest block the index relies on."""
        head = self.store.proven_head()
        if head is not None:
            return head
        synced = self.store.synced_block  # an index synced before proven heads existed
        if synced is None:
            return None
        row = self.store.conn.execute("SELECT hash, timestamp FROM blocks WHERE number = ?",
                                      (synced,)).fetchone()
        if row is None:
            return None
        return synced, bytes(row[0]), self.store.digest_at(synced), int(row[1])

    def check_head(self, trusted: Any, result: SyncResult) -> None:
        """The index's proven head against the trusted one: still canonical (its digest proven
        again), reorganised away (proven: roll back), or above it (refused)."""
        anchor = self.anchor()
        if anchor is None:
            return
        number, block_hash, digest, _ts = anchor
        if trusted.number < number:
            from registry.errors import ChainUnavailable, HeadRegressed

            try:
                there = self.quorum.block(number)
            except ChainUnavailable:
                raise
            except ChainError as exc:  # no agreement on it, or no such block (a shorter chain)
                raise HeadRegressed(
                    f"the trusted head is block {trusted.number} ({self._who(trusted)}), below"
                    f" block {number} that the index already proved, and block {number} is not"
                    f" proven away ({exc}): the endpoints lag or lie; nothing changed (the"
                    " index ages until a sync proves a newer head)") from None
            if there.hash == block_hash:
                raise HeadRegressed(
                    f"the trusted head is block {trusted.number} ({self._who(trusted)}), below"
                    f" block {number} that the index already proved and that is still canonical:"
                    " the endpoints lag or lie; nothing changed (the index ages until a sync"
                    " proves a newer head)")
            self.state.digest(trusted)  # the new chain's state must prove before anything goes
            self.roll_back(result, below=trusted.number)
            return
        there = trusted if trusted.number == number else self.quorum.block(number)
        if there.hash != block_hash:
            # a reorganisation, proven by the quorum -- if the new chain's state proves: a
            # forged (self-consistent) header must not make the index throw away what it holds
            self.state.digest(trusted)
            self.roll_back(result, below=trusted.number)
            return
        if digest is not None:
            proven = self.state.digest(there)
            if proven != digest:
                self.repair(result, f"the event digest the index holds at block {number} is not"
                                    " the one the contract's state proves")

    @staticmethod
    def _who(block: Any) -> str:
        return ", ".join(block.agreed)

    def roll_back(self, result: SyncResult, *, below: int) -> None:
        """Roll back to the newest stored block (at most ``below``) the quorum still agrees on."""
        from registry.errors import QuorumError

        ancestor = self.start_block - 1
        offset = 0
        while True:
            stored = self.store.conn.execute(
                "SELECT number, hash FROM blocks WHERE number <= ? ORDER BY number DESC"
                " LIMIT ? OFFSET ?", (below, REORG_PROBE, offset)).fetchall()
            if not stored:
                break
            try:
                trusted = self.quorum.blocks([int(n) for n, _ in stored])
            except QuorumError:
                trusted = {}
                for n, _ in stored:
                    try:
                        trusted[int(n)] = self.quorum.block(int(n))
                    except QuorumError:
                        continue
            hit = next((int(n) for n, h in stored
                        if int(n) in trusted and trusted[int(n)].hash == bytes(h)), None)
            if hit is not None:
                ancestor = hit
                break
            offset += REORG_PROBE
        self._rollback_to(result, ancestor)

    def _rollback_to(self, result: SyncResult, block: int) -> None:
        with self.store.transaction():
            result.removed_events += self.store.rollback_to(block)
        result.rolled_back_to = block if result.rolled_back_to is None \
            else min(result.rolled_back_to, block)

    def repair(self, result: SyncResult, why: str) -> None:
        """The index diverged from the proven chain: roll back to the newest stored block whose
        digest is still proven (binary search; everything when old state is not served)."""
        blocks = [(int(n), bytes(d)) for n, d in self.store.conn.execute(
            "SELECT number, digest FROM blocks WHERE digest IS NOT NULL ORDER BY number")]
        good = self.start_block - 1
        lo, hi = 0, len(blocks) - 1
        while lo <= hi:
            mid = (lo + hi) // 2
            number, digest = blocks[mid]
            try:
                proven = self.state.digest(self.quorum.block(number))
            except Error:
                break  # no state (or no agreement) that far back: start over from there
            if proven == digest:
                good, lo = number, mid + 1
            else:
                hi = mid - 1
        result.diverged.append(f"{why}; rolled back to block {good} and synced again")
        self._rollback_to(result, good)

    # -- pages

    def stored_hash(self, number: int) -> bytes | None:
        row = self.store.conn.execute("SELECT hash FROM blocks WHERE number = ?",
                                      (number,)).fetchone()
        return None if row is None else bytes(row[0])

    def start_digest(self, lo: int) -> bytes:
        """The event digest the next page folds onto: the stored one, or at the first page the
        contract's at ``start_block - 1``, proven (zero before the deployment)."""
        stored = self.store.event_digest
        if stored is not None:
            return stored
        start = ZERO32
        if lo > 0:
            start = self.state.digest(self.quorum.block(lo - 1))
        self.store.set_meta("start_digest", start.hex())
        return start

    def fetch_page(self, ep: Any, lo: int, hi: int, trusted: Any, start: bytes,
                   prev: bytes | None, ahead: tuple[Any, Future[Any]] | None = None) -> _Page:
        """One endpoint's logs for blocks ``lo``-``hi``, proven complete: decoded, checked
        against the trusted headers, folded into the digest and compared with the digest the
        contract's state proves at ``hi``. ``start`` is the digest before ``lo`` and ``prev``
        the hash the index holds for block ``lo - 1``, None when it holds none. ``ahead``:
        (endpoint, its ``eth_getLogs`` reply for these blocks, asked while the page before
        was stored); when that reply does not verify (the chain may have changed since),
        the logs are asked again now and those decide. Raises VerificationError (this
        endpoint lies), _RangeTooLarge, _ReorgInFlight."""
        if ahead is not None and ahead[0] is ep:
            try:
                return self._fetch_page(ep, lo, hi, trusted, start, prev, ahead[1])
            except (_RangeTooLarge, KeyboardInterrupt):
                raise
            except Exception:  # asked again below, now
                pass
        return self._fetch_page(ep, lo, hi, trusted, start, prev, None)

    def _fetch_page(self, ep: Any, lo: int, hi: int, trusted: Any, start: bytes,
                    prev: bytes | None, ahead: Future[Any] | None) -> _Page:
        flt = {"address": self.address, "fromBlock": hex(lo), "toBlock": hex(hi)}
        try:
            raw = ep.call("eth_getLogs", [flt]) if ahead is None else ahead.result()
        except ChainError as exc:
            if hi > lo and _is_range_error(exc):
                raise _RangeTooLarge(str(exc)) from exc
            raise
        cap = min(MAX_PAGE_LOGS, 2 * self.page_logs)
        if isinstance(raw, list) and len(raw) > cap and hi > lo:
            # too many logs to decode at once: the page ends before the block of the first
            # log past the cap (the logs before it are kept; the proof at the new end says
            # whether they are all of its blocks'), or, when the first block alone holds that
            # many, the range is halved (the reply dropped before its logs are parsed)
            raw, hi = _first_blocks(raw, cap, lo, hi)
        self.start_pool(raw)  # before the logs are parsed: the worker warms up meanwhile
        logs = _parse_logs(raw)
        for lg in logs:
            if not lo <= lg.block <= hi:
                raise VerificationError(
                    f"the endpoint returned a log of block {lg.block}, outside the requested"
                    f" blocks {lo}-{hi}")
            if lg.address != self.address:
                raise VerificationError(f"the endpoint returned a log of another contract"
                                        f" ({lg.address}) in block {lg.block}")
            if lg.removed:
                raise _ReorgInFlight(f"block {lg.block} changed during the page")
        wanted = {lg.block for lg in logs} | {hi} | ({lo - 1} if prev is not None else set())
        blocks = {trusted.number: trusted} if trusted.number in wanted else {}
        blocks.update(self.quorum.blocks(wanted - set(blocks)))
        if prev is not None and blocks[lo - 1].hash != prev:
            raise _ReorgInFlight(f"block {lo - 1} is no longer canonical")
        for lg in logs:
            if lg.block_hash != blocks[lg.block].hash:
                raise VerificationError(
                    f"its log of block {lg.block} names block hash 0x{lg.block_hash.hex()[:16]}…,"
                    f" the trusted block is 0x{blocks[lg.block].hash.hex()[:16]}… (a reorganisation"
                    " under way, or rewritten logs)")
        pool = self.pool if self.profile is not None else None
        guesses: list[Job] | None = [] if pool is not None else None
        try:
            return self._prove_page(ep, lo, hi, start, logs, blocks, guesses)
        except BaseException:
            if pool is not None:  # its guesses are not wanted: the next page's results follow
                pool.discard()
            raise

    def _prove_page(self, ep: Any, lo: int, hi: int, start: bytes, logs: list[_Log],
                    blocks: dict[int, Any], guesses: list[Job] | None) -> _Page:
        """:meth:`_fetch_page` from the decoding on: the logs decoded, hashed and folded, the
        digest proven; the page's verdict jobs guessed into ``guesses`` (when not None) and
        sent to the worker as they come."""
        digest = start
        decoded: list[tuple[str, dict[str, Any], _Log]] = []
        digests: dict[int, bytes] = {}
        named: dict[bytes, list[str | None]] = {}  # the page's own names: node -> [text, owner]
        sent = 0
        for lg in logs:
            item = self.dec.decode_hashed(lg)
            if item is None:
                raise VerificationError(f"block {lg.block}: a log of the registry with an unknown"
                                        " topic (not an event of this contract)")
            kind, data, ehash = item
            if kind == "KeyPublished" and commitment(int(data["key_type"]), bytes(
                    data["material"])) != bytes(data["commitment"]):
                raise VerificationError(f"KeyPublished in block {lg.block}: record {data['index']}"
                                        " material does not hash to its commitment")
            digest = layout.fold(digest, ehash)
            digests[lg.block] = digest
            decoded.append((kind, data, lg))
            if guesses is not None and kind in _GUESSED:
                self.guess(kind, data, named, guesses)
                if len(guesses) - sent >= VERDICT_CHUNK:
                    self.submit_guesses(guesses[sent:])
                    sent = len(guesses)
        if guesses is not None:
            self.submit_guesses(guesses[sent:])
        proven = self.state.prove_on(ep, [layout.EVENTS_SLOT], blocks[hi])[layout.EVENTS_SLOT]
        theirs = proven.to_bytes(32, "big")
        if theirs != digest:
            n_theirs, n_ours = (int.from_bytes(x, "big") >> 216 for x in (theirs, digest))
            raise VerificationError(
                f"its logs for blocks {lo}-{hi} ({len(logs)} logs) do not account for every"
                f" event: the contract's state at block {hi} proves event digest"
                f" 0x{theirs.hex()[:18]}… after {n_theirs} events, the logs give"
                f" 0x{digest.hex()[:18]}… after {n_ours} (a log was withheld, added, reordered"
                " or altered; nothing from this page was stored)")
        return _Page(lo, hi, ep.name, logs, decoded, blocks, digests, digest, guesses)

    def guess(self, kind: str, data: dict[str, Any], named: dict[bytes, list[str | None]],
              guesses: list[Job]) -> None:
        """Follow one decoded event of a page in ``named`` (the page's own names and owners);
        for a KeyPublished, append the job :meth:`event` will most likely give it: the name
        and owner as the index will hold them then, the grammar left to the worker, no
        squatting. Nothing here is checked or stored: a wrong guess only costs time."""
        node = bytes(data["node"])
        if kind == "KeyPublished":
            name, owner = named[node] if node in named else self.store.name_and_owner(node)
            guesses.append((int(data["key_type"]), bytes(data["material"]), name or "",
                            bytes(data["proof"]), owner, self.chain_id, self.address,
                            int(data["purposes"]), self.profile, None, False))
        elif kind == "NameRegistered":
            label, parent = str(data["label"]), bytes(data["parent"])
            text: str | None = label
            if parent != ZERO32:
                ptext = named[parent][0] if parent in named else self.store.name_of(parent)
                text = None if ptext is None else _child_text(label, data["person"], ptext)
            named[node] = [text, str(data["owner"])]
        else:  # OwnershipTransferred
            entry = named.get(node) or [self.store.name_of(node), None]
            entry[1] = str(data["owner"])
            named[node] = entry

    def submit_guesses(self, jobs: list[Job]) -> None:
        """Send guessed jobs to the verdict worker."""
        if jobs and self.pool is not None:
            self.pool.submit(jobs)

    def run_page(self, page: _Page) -> int:
        """Store a proven page in one transaction: its events, blocks and the proven head."""
        touched: set[bytes] = set()
        self.names, self.owners, self.reader = {}, {}, None
        self.deferred, self.guesses, self.key_no = None, [], 0
        if page.guesses is not None and self.pool is not None:  # the worker has the guesses
            self.deferred, self.guesses = [], page.guesses
        try:
            with self.store.transaction():
                count = self._store_page(page, touched)
        except BaseException:
            if self.deferred is not None and self.pool is not None:
                self.pool.discard()
            raise
        finally:
            self.deferred, self.guesses = None, []
        return count

    def _store_page(self, page: _Page, touched: set[bytes]) -> int:
        """:meth:`run_page` inside its transaction."""
        store = self.store
        count = 0
        for kind, data, lg in page.decoded:
            if kind in _REGISTRY_WIDE:
                continue  # folded into the digest; nothing about a name to store
            node = bytes(data["node"])
            ev = self.event(kind, data, node, lg.block, lg, page.blocks[lg.block].timestamp)
            try:
                store.apply(ev)
            except IndexUnavailable as exc:
                raise VerificationError(f"sync stopped at block {lg.block}: {exc}") from exc
            if kind in _NAME_CHANGES:  # what the page's memos hold about names is stale
                self.names.pop(node, None)
                self.owners.pop(node, None)
                self.reader = None
            count += 1
            if kind in ("KeyPublished", "KeyRevoked", "NameRegistered",
                        "OwnershipTransferred"):
                touched.add(node)
        if self.deferred is not None:  # the worker's verdicts, before anything reads them
            assert self.pool is not None
            verdicts = self.pool.collect()
            if len(verdicts) != len(self.guesses):
                raise WorkerFailed("the policy worker answered"
                                   f" {len(verdicts)} of {len(self.guesses)} keys")
            store.set_parsed([(node, idx, verdicts[k]) for node, idx, k in self.deferred])
        if self.dns is not None:
            tops = {self.store.top_level_of(n) for n in touched}
            for top in sorted(t for t in tops if t is not None):
                self.apply_dns(top, fresh=False)
        for number, block in page.blocks.items():
            if number >= page.lo:
                store.add_block(number, block.hash, block.timestamp, page.digests.get(number))
        end = page.blocks[page.hi]
        store.add_block(page.hi, end.hash, end.timestamp, page.digest)
        store.set_event_digest(page.digest)
        store.set_meta("synced_block", page.hi)
        store.set_proven_head(page.hi, end.hash, page.digest, end.timestamp)
        return count

    def start_pool(self, raw: Any = None) -> None:
        """Start the verdict worker, if not started (or failed) yet; given a page's
        ``eth_getLogs`` reply (not yet checked), only when it holds WORKER_MIN_KEYS logs whose
        first topic is KeyPublished's (called as soon as the reply comes, so that the worker
        warms up while the page is parsed, checked and proven; a reply that lies about it
        only starts a worker, or leaves the verdicts to this process)."""
        if self.profile is None or self.pool is not None or self.pool_failed:
            return
        if raw is not None:
            topic = "0x" + self.dec.key_topic.hex()
            try:
                keys = sum(1 for lg in raw if str(lg["topics"][0]).lower() == topic)
            except (TypeError, KeyError, IndexError):
                return
            if keys < WORKER_MIN_KEYS:
                return
        try:
            self.pool = VerdictPool()
        except WorkerFailed:  # no worker here: verdicts computed in this process
            self.pool_failed = True

    def drop_pool(self, *, failed: bool = False) -> None:
        """Stop the verdict worker (at once when ``failed``; then none is started again)."""
        if self.pool is not None:
            self.pool.close(kill=failed)
            self.pool = None
        self.pool_failed = self.pool_failed or failed

    def apply_dns(self, top: bytes, *, fresh: bool) -> None:
        """Check (or reuse this run's verdict for) a top-level name's DNS control and apply it."""
        from registry.dnscontrol import check_dns_control

        name, owner = self.store.name_of(top), self.store.owner_of(top)
        if name is None or owner is None:
            return
        key = (top, owner.lower())
        if fresh or key not in self.dns_cache:
            self.dns_cache[key] = check_dns_control(name, owner, settings=self.dns)
        self.store.set_dns_control(top, self.dns_cache[key], required=self.dns.required,
                                   now=int(time.time()))

    def refresh_dns(self) -> None:
        """Check every top-level name's DNS control again (DNS changes without an event)."""
        if self.dns is None:
            return
        with self.store.transaction():
            for top, _name, _owner in self.store.top_levels():
                self.apply_dns(top, fresh=(top, _owner.lower()) not in self.dns_cache)

    def event(self, kind: str, data: dict[str, Any], node: bytes, block: int,
              lg: _Log, ts: int) -> Event:
        parsed = None
        where = f"{kind} in block {block}"
        if kind == "NameRegistered":
            label, parent = str(data["label"]), bytes(data["parent"])
            if parent == ZERO32:
                text = label
            else:
                ptext = self.name_of(parent)
                if ptext is None:
                    raise VerificationError(f"{where}: parent 0x{parent.hex()} is not indexed")
                text = _child_text(label, data["person"], ptext)
            if bytes(_node_of_text(text, label, parent, bool(data["person"]))) != node:
                raise VerificationError(f"{where}: name {text!r} does not hash to its node")
            # a name the grammar refuses (an IP address literal, a numeric TLD, text not in
            # normal form) is indexed as the chain has it, and nothing ever serves it
            data["name"] = text
        elif kind == "KeyPublished":
            # the material was hashed against its commitment when the page was fetched
            kt, material = int(data["key_type"]), bytes(data["material"])
            name = self.name_of(node)
            if name is None:
                raise VerificationError(f"{where}: node 0x{node.hex()} is not indexed")
            job: Job = (kt, material, name, bytes(data["proof"]), self.owner_of(node),
                        self.chain_id, self.address, int(data["purposes"]), self.profile,
                        *self.name_standing(name, check_valid=self.deferred is None))
            if self.deferred is None:
                parsed = parsed_key(*job)
            else:  # the worker computed it from its guess, if the guess was right (run_page)
                k = self.key_no
                self.key_no += 1
                if k < len(self.guesses) and self.guesses[k] == job:
                    parsed = PENDING
                    self.deferred.append((node, int(data["index"]), k))
                else:
                    parsed = parsed_key(*job)
        return Event(kind, block, lg.log_index, lg.tx_hash, node, ts, data, parsed)

    def name_of(self, node: bytes) -> str | None:
        """The stored name of ``node`` (memo of the page: a node's text never changes)."""
        if node not in self.names:  # the owner comes with it (one query)
            self.names[node], owner = self.store.name_and_owner(node)
            self.owners.setdefault(node, owner)
        return self.names[node]

    def owner_of(self, node: bytes) -> str | None:
        """The stored owner of ``node`` (memo of the page, dropped by the name's own events)."""
        if node not in self.owners:
            self.owners[node] = self.store.owner_of(node)
        return self.owners[node]

    def name_standing(self, name: str, *,
                      check_valid: bool = True) -> tuple[bool | None, str | bool]:
        """(the name is valid, the domain it squats in or False), from the index as it stands.

        One reader (and its squatting cache) serves the page until an event changes the
        names table under it (:data:`_NAME_CHANGES`). ``check_valid=False`` leaves the
        name's grammar to the verdict's worker (None: not checked here; a name that does not
        parse at all is invalid either way).
        """
        if check_valid and not valid_name(name):
            return False, False
        if self.reader is None:
            self.reader = IndexReader(self.store.conn, self.store.path)
        if not check_valid and self.reader._squat_free is True:
            # the reader found that no name of the index squats (its own shortcut, taken
            # after parsing the name): the grammar is the worker's, squatting is False
            return None, False
        try:
            squat = self.reader.squatted_by(name) or False
        except InvalidName:
            return False, False
        return (True if check_valid else None), squat

    # -- runs

    def _head_is_newest(self, head: tuple[int, bytes, bytes | None, int] | None) -> bool:
        """Whether ``head`` is the newest block of the embedded chain in this process (its
        state file is the chain: no endpoint between that could lag or withhold blocks).
        Any other source: False, and staleness counts from the head's own timestamp."""
        module = sys.modules.get("registry.chain.embedded")
        if head is None or module is None or self.local_w3 is None:
            return False
        return bool(module.local_head_number(self.local_w3) == head[0])

    def run(self) -> SyncResult:
        t0 = time.monotonic()
        self.check_identity()
        result = SyncResult(0, 0)
        try:
            for _attempt in range(5):
                try:
                    self._run(result)
                    if self.audit_all:
                        from registry.index._audit import audit_index

                        result.audited = audit_index(self, result)
                    self.refresh_dns()
                    break
                except _ReorgInFlight:
                    continue
            else:
                raise ChainError("the chain keeps reorganising under the sync; try again later")
        except BaseException:
            self.drop_pool(failed=True)
            raise
        self.drop_pool()
        head = self.store.proven_head()
        with self.store.transaction():
            self.store.mark_synced(head=head, head_is_newest=self._head_is_newest(head))
        result.seconds = time.monotonic() - t0
        result.head = self.store.proven_head()
        result.report = [str(d) for d in self.quorum.report]
        return result

    def _run(self, result: SyncResult) -> None:
        trusted = self.quorum.head(confirmations=self.confirmations)
        self.check_head(trusted, result)
        synced = self.store.synced_block
        lo = self.start_block if synced is None else synced + 1
        target = trusted.number
        if self.max_blocks is not None:
            target = min(target, lo + self.max_blocks - 1)
        result.from_block, result.to_block = lo, max(target, lo - 1)
        result.trusted = trusted.to_dict()
        size = self.page
        # The next page's eth_getLogs, and the proof at its end, are asked on a thread while
        # a proven page is stored (the endpoint works meanwhile; ask_ahead); decoding, the
        # headers and the page's checks happen here, after the page before is committed.
        # Only requests (and one proof check) run beside the store: a thread decoding beside
        # it would take the GIL from it.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sync-getlogs") as pool:
            ahead: tuple[int, int, Any, Future[Any]] | None = None
            while lo <= target:
                with _collector_paused():
                    lo, size, ahead = self._page_step(result, pool, lo, size, target, trusted,
                                                      ahead)

    def _page_step(self, result: SyncResult, pool: ThreadPoolExecutor, lo: int, size: int,
                   target: int, trusted: Any, ahead: tuple[int, int, Any, Future[Any]] | None,
                   ) -> tuple[int, int, tuple[int, int, Any, Future[Any]] | None]:
        """Fetch, prove and store the page from ``lo`` (at most ``size`` blocks, up to ``target``);
        the next ``(lo, size, ahead)``."""
        hi = min(lo + size - 1, target)
        pre = ahead[2:] if ahead is not None and ahead[:2] == (lo, hi) else None
        ahead = None
        try:
            page = self.fetch(lo, hi, trusted, self.start_digest(lo),
                              self.stored_hash(lo - 1), pre)
        except _RangeTooLarge:
            return lo, max(1, (hi - lo + 1) // 2), None
        cut = page.hi < hi  # the reply held too many logs: the page ended early
        hi = page.hi
        lo = hi + 1
        if cut:
            size = hi - page.lo + 1  # the blocks that fitted
        elif len(page.logs) > self.page_logs:
            size = max(1, (hi - page.lo + 1) * self.page_logs // len(page.logs))
        elif size < self.max_page and len(page.logs) * 2 < self.page_logs:
            size = min(self.max_page, size * 2)
        if lo <= target:
            nxt = min(lo + size - 1, target)
            ep = self.quorum.data_endpoints()[0]
            ahead = (lo, nxt, ep, pool.submit(self.ask_ahead, ep, lo, nxt))
        try:
            n = self.run_page(page)
        except WorkerFailed:
            # nothing of the page was stored (its transaction rolled back): store it
            # again, the verdicts computed here, and the rest of the run likewise
            self.drop_pool(failed=True)
            n = self.run_page(page)
        result.events += n
        result.pages += 1
        result.page_sizes.append(hi - page.lo + 1)
        if self.progress is not None:
            self.progress(hi, target, result.events)
        return lo, size, ahead

    def ask_ahead(self, ep: Any, lo: int, hi: int) -> Any:
        """On the request thread, while a page is stored: the next page's ``eth_getLogs``
        reply; then the proof of the event digest at its last block, so that it is proven
        when the sync gets there (proven words are kept per state root; a node such as anvil
        takes long over a proof). It is checked here as on the sync's thread (against the
        quorum's header for that block); a failure is ignored here, and the page's own
        check, finding no word proven at that header's state root, asks again and decides."""
        flt = {"address": self.address, "fromBlock": hex(lo), "toBlock": hex(hi)}
        raw = ep.call("eth_getLogs", [flt])
        with contextlib.suppress(Exception):  # asked again, and decided, on the sync's thread
            self.state.prove_on(ep, [layout.EVENTS_SLOT], self.quorum.block(hi))
        return raw

    def fetch(self, lo: int, hi: int, trusted: Any, start: bytes, prev: bytes | None,
              ahead: tuple[Any, Future[Any]] | None = None) -> _Page:
        """The first endpoint's page for blocks ``lo``-``hi`` that verifies (:meth:`fetch_page`)."""
        return self.quorum.first_good(
            f"blocks {lo}-{hi}",
            lambda ep: self.fetch_page(ep, lo, hi, trusted, start, prev, ahead))


def sync_index(
    index: str | Path | Store,
    registry: Any,
    *,
    confirmations: int = 0,
    page_blocks: int = DEFAULT_PAGE_BLOCKS,
    max_page_blocks: int = MAX_PAGE_BLOCKS,
    page_logs: int = PAGE_LOGS,
    policy_profile: str | None = "default",
    start_block: int | None = None,
    progress: Progress | None = None,
    max_blocks: int | None = None,
    audit: bool = False,
    dns: Any = None,
) -> SyncResult:
    """Bring the index up to the trusted head of the registry's chain, proving every page.

    ``registry`` is a :class:`registry.chain.client.Registry` (its trust --
    endpoints, quorum, tag -- address and deployment block are used) or a
    ``(web3, address[, start_block])`` tuple (that endpoint trusted alone, at
    its latest block). The target is the block the quorum agrees on at its tag,
    less ``confirmations``. Each page's logs come from one endpoint and must
    fold into the event digest the contract's state proves at the page's last
    block (EIP-1186 against a quorum-agreed header); a page that does not
    verify stores nothing and the next endpoint is tried. Pages start at
    ``page_blocks`` blocks, grow (up to ``max_page_blocks``) while they hold
    fewer than ``page_logs`` logs and shrink when they hold more or the
    endpoint refuses the range. ``policy_profile=None`` skips the policy check
    (verdicts ``unknown``; the SSH gateways then serve nothing unless told to).
    ``max_blocks`` caps the blocks synced in this run (tests, resumable
    batches). ``audit=True`` then re-hashes every stored record's material and
    compares every indexed name, record, attestation, block, renunciation and
    operator with storage proofs at the synced block
    (:func:`registry.index._audit.audit_index`); a divergence rolls the index
    back to before it and syncs again. ``dns`` (a
    :class:`registry.dnscontrol.DnsSettings`) checks every top-level name's
    ``_keyanchor`` TXT record (each run) and stops the index serving keys under
    a domain whose DNS names another owner, or, when ``dns.required`` (implied
    by the ``strict`` profile), does not name the owner.

    Raises:
        VerificationError: the chain's data does not verify on any endpoint (nothing from
            that page is kept); QuorumError: the endpoints do not agree on a block;
            HeadRegressed: the trusted head is below the index's and no reorg is proven.
        ConfigError: the index belongs to another chain or registry, or
            ``policy_profile`` names no built-in profile.
        ChainUnavailable, ChainError: the endpoint failed. IndexUnavailable: the file.
    """
    if policy_profile is not None:  # a misspelt profile made every verdict "unknown": the
        from registry.policy.profiles import PROFILES  # SSH gateways then served nobody

        if policy_profile not in PROFILES:
            raise ConfigError(f"unknown policy profile {policy_profile!r} (one of"
                              f" {', '.join(PROFILES)}, or none to skip the check)")
    store = index if isinstance(index, Store) else Store.open(index)
    try:
        w3, address, start, trust = _target(registry)
        if policy_profile == "strict":
            from registry.dnscontrol import DnsSettings

            dns = (DnsSettings(dns.nameserver, dns.port, dns.timeout, True) if dns is not None
                   else DnsSettings(required=True))
        syncer = _Syncer(store, trust, address,
                         start_block=start if start_block is None else start_block,
                         confirmations=confirmations, page_blocks=page_blocks,
                         profile=policy_profile, progress=progress, max_blocks=max_blocks,
                         max_page_blocks=max_page_blocks, audit=audit, dns=dns,
                         page_logs=page_logs, local_w3=w3)
        return syncer.run()
    finally:
        if not isinstance(index, Store):
            store.close()


# --------------------------------------------------------------------------- watch

#: Event names -> the change words watch prints.
CHANGE_KINDS = {
    "NameRegistered": "registered",
    "OwnershipTransferred": "owner-changed",
    "ChildRenounced": "renounced",
    "OperatorSet": "operator-set",
    "KeyPublished": "published",
    "KeyRevoked": "revoked",
    "KeyRotated": "rotated",
    "Attested": "attested",
    "AttestationWithdrawn": "attestation-withdrawn",
    "AttesterBlocked": "attester-blocked",
}


@dataclass(frozen=True)
class WatchEvent:
    """One change to a watched name."""

    kind: str
    name: str
    block: int
    log_index: int
    tx_hash: str
    data: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"change": self.kind, "name": self.name, "block": self.block,
                "log_index": self.log_index, "tx_hash": self.tx_hash, **self.data}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def to_text(self) -> str:
        extra = " ".join(f"{k}={v}" for k, v in sorted(self.data.items()))
        return f"block {self.block} {self.name} {self.kind} {extra}".rstrip()


def _plain(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    return value


#: Blocks a watch poll proves at most (one event-digest proof each): a long ``--from-block``
#: range is walked in pages of this many.
WATCH_PAGE_BLOCKS = 2_000


def watch_events(
    registry: Any,
    names: Iterable[str],
    *,
    from_block: int | None = None,
    until_block: int | None = None,
    timeout: float | None = None,
    interval: float = 2.0,
    confirmations: int = 0,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[WatchEvent]:
    """Yield every change to ``names`` from ``from_block`` (default: the next block) on.

    Polls new blocks every ``interval`` seconds; stops after ``until_block`` is
    processed or after ``timeout`` seconds. Blocks are read as sync reads them:
    up to the head the registry's quorum trusts, every log of the registry in
    the polled blocks, which must account for the contract's event digest
    proven at the poll's last block (from the one proven before its first), so
    an endpoint can neither add, withhold, repeat nor alter a change (before,
    watch believed the first endpoint's ``eth_getLogs``). A log marked
    ``removed``, or whose block hash is not the trusted block's, means a reorg
    is under way, and the same blocks are polled again after ``interval``
    (ChainError when that keeps happening). KeyPublished material is checked
    against its commitment.

    Raises: InvalidName, VerificationError, QuorumError, ChainUnavailable, ChainError.
    """
    from registry.chain._proven import ProvenState

    _w3, address, start, trust = _target(registry)
    address = address.lower()
    dec = _Decoder()
    by_node = {bytes(namehash(n)): parse_name(n).text for n in names}
    if not by_node:
        return
    state = ProvenState(address, trust, from_block=start)
    deadline = None if timeout is None else time.monotonic() + timeout
    lo = trust.head(confirmations=confirmations).number + 1 if from_block is None \
        else from_block
    carried: tuple[int, bytes, bytes] | None = None  # (block, its hash, digest after it)
    reorgs = 0
    span = WATCH_PAGE_BLOCKS  # halved while the endpoint refuses the range
    while True:
        hi = trust.head(confirmations=confirmations).number
        if until_block is not None:
            hi = min(hi, until_block)
        hi = min(hi, lo + span - 1)
        if hi >= lo:
            try:
                logs, carried = trust.first_good(
                    f"watch of blocks {lo}-{hi}",
                    lambda ep, a=lo, b=hi, c=carried: _watch_page(ep, trust, state, dec, address,
                                                               a, b, c))
            except _RangeTooLarge:
                span = max(1, (hi - lo + 1) // 2)
                continue
            except _ReorgInFlight:
                carried = None
                reorgs += 1
                if reorgs >= 5:
                    raise ChainError(
                        f"the chain keeps reorganising around blocks {lo}-{hi}; try again later"
                    ) from None
            else:
                reorgs = 0
                changes = [c for c in (_watch_event(dec, lg, by_node) for lg in logs) if c]
                yield from changes
                lo = hi + 1
                if until_block is None or lo <= until_block:
                    ahead = trust.head(max_age=interval, confirmations=confirmations).number
                    if ahead >= lo:
                        continue  # more blocks are there already: no pause
        if until_block is not None and lo > until_block:
            return
        if deadline is not None and time.monotonic() >= deadline:
            return
        sleep(interval if deadline is None else max(0.0, min(interval, deadline - time.monotonic())))


def _watch_page(ep: Any, trust: Any, state: Any, dec: _Decoder, address: str, lo: int, hi: int,
                carried: tuple[int, bytes, bytes] | None
                ) -> tuple[list[_Log], tuple[int, bytes, bytes]]:
    """Every registry log of blocks ``lo``-``hi`` from ``ep``, proven complete: their blocks
    the quorum's, their events folded onto the digest before ``lo`` (``carried`` when it is
    that block's and the block is still canonical, else proven) equal to the digest proven at
    ``hi``. Returns (the logs, the carry for the next page). Raises VerificationError (this
    endpoint lies), _ReorgInFlight, ChainError."""
    flt = {"address": address, "fromBlock": hex(lo), "toBlock": hex(hi)}
    try:
        raw = ep.call("eth_getLogs", [flt])
    except ChainError as exc:
        if hi > lo and _is_range_error(exc):
            raise _RangeTooLarge(str(exc)) from exc
        raise
    logs = _parse_logs(raw)
    for lg in logs:
        if not lo <= lg.block <= hi:
            raise VerificationError(f"the endpoint returned a log of block {lg.block}, outside"
                                    f" the requested blocks {lo}-{hi}")
        if lg.address != address:
            raise VerificationError(f"the endpoint returned a log of another contract"
                                    f" ({lg.address}) in block {lg.block}")
        if lg.removed:
            raise _ReorgInFlight(f"block {lg.block} changed during the poll")
    wanted = {lg.block for lg in logs} | {hi} | ({lo - 1} if lo > 0 else set())
    blocks = trust.blocks(wanted)
    for lg in logs:
        if lg.block_hash != blocks[lg.block].hash:
            raise _ReorgInFlight(f"block {lg.block} changed during the poll")
    if lo == 0:
        digest = ZERO32
    elif carried is not None and carried[0] == lo - 1 and carried[1] == blocks[lo - 1].hash:
        digest = carried[2]
    else:
        digest = state.digest(blocks[lo - 1])
    for lg in logs:
        item = dec.decode_hashed(lg)
        if item is None:
            raise VerificationError(f"block {lg.block}: a log of the registry with an unknown"
                                    " topic (not an event of this contract)")
        digest = layout.fold(digest, item[2])
    proven = state.prove_on(ep, [layout.EVENTS_SLOT], blocks[hi])[layout.EVENTS_SLOT]
    if proven.to_bytes(32, "big") != digest:
        raise VerificationError(
            f"its logs for blocks {lo}-{hi} ({len(logs)} logs) do not account for every event:"
            " the contract's state proves another event digest (a log was withheld, added,"
            " repeated, reordered or altered; nothing from this poll was reported)")
    return logs, (hi, blocks[hi].hash, digest)


def _watch_event(dec: _Decoder, lg: _Log, by_node: dict[bytes, str]) -> WatchEvent | None:
    decoded = dec.decode(lg)
    if decoded is None:
        return None
    kind, data = decoded
    if "node" not in data:
        return None  # an event about the registry itself
    node = bytes(data.pop("node"))
    if node not in by_node:
        return None
    if kind == "KeyPublished":
        material = bytes(data.pop("material"))
        data.pop("proof", None)
        if commitment(int(data["key_type"]), material) != bytes(data["commitment"]):
            raise VerificationError(
                f"{by_node[node]}: published material does not hash to its commitment")
        try:
            data["key_type"] = KeyType(int(data["key_type"])).label
        except ValueError:
            raise VerificationError(f"{by_node[node]}: published key type {data['key_type']} is"
                                    " not one keyanchor knows") from None
    return WatchEvent(CHANGE_KINDS.get(kind, kind), by_node[node], lg.block, lg.log_index,
                      "0x" + lg.tx_hash.hex(), {k: _plain(v) for k, v in data.items()})
