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

import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from registry.chain import layout
from registry.chain._rpc import Log as _Log
from registry.chain._rpc import Rpc as _Rpc
from registry.chain._rpc import hex_data as _hx
from registry.chain._rpc import parse_header as _parse_header
from registry.chain._rpc import parse_logs as _parse_logs
from registry.chain._rpc import quantity as _q
from registry.errors import (
    ChainError,
    ConfigError,
    Error,
    IndexUnavailable,
    VerificationError,
)
from registry.index._store import _SQLITE_MAX_INT, Event, ParsedKey, Store
from registry.keys._common import KeyType, commitment
from registry.names import namehash, parse_name, raw_namehash

__all__ = ["SyncResult", "WatchEvent", "sync_index", "watch_events"]

ZERO32 = b"\x00" * 32
#: Blocks per eth_getLogs page to start with, and the most it grows to.
DEFAULT_PAGE_BLOCKS = 2_000
MAX_PAGE_BLOCKS = 50_000
#: JSON-RPC requests per batch (eth_call / eth_getBlockByNumber).
BATCH = 250
#: Stored block hashes compared per round when looking for the common ancestor.
REORG_PROBE = 64
_RANGE_ERRORS = ("range", "too many", "limit", "exceed", "too large", "response size", "10000",
                 "timeout", "timed out", "-32005", "-32602", "413")

Progress = Callable[[int, int, int], None]  # (page end block, target block, events so far)
#: Events about the registry itself (no node): folded into the digest, not stored.
_REGISTRY_WIDE = frozenset({"RegistryDeployed", "AdminChanged", "SuffixRootSet", "RegistrarSet"})


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

    def to_dict(self) -> dict[str, Any]:
        return {"from_block": self.from_block, "to_block": self.to_block, "events": self.events,
                "pages": self.pages, "rolled_back_to": self.rolled_back_to,
                "removed_events": self.removed_events, "seconds": round(self.seconds, 3),
                "audited": self.audited}


class _ReorgInFlight(Exception):
    """The chain changed under a page; start over from the reorg check."""


# --------------------------------------------------------------------------- JSON-RPC


def _check_logs(rpc: _Rpc, logs: list[_Log], address: str, lo: int, hi: int,
                extra: Iterable[int] = ()) -> dict[int, tuple[bytes, int]]:
    """Check a page of logs against the chain; the headers of their blocks (plus ``extra``).

    Logs outside ``lo``-``hi`` or of another contract raise VerificationError; a
    ``removed`` log, or one whose block hash is not the canonical header's, means
    the chain is reorganising under us (:class:`_ReorgInFlight`).
    """
    for lg in logs:
        if not lo <= lg.block <= hi:
            raise VerificationError(
                f"the endpoint returned a log of block {lg.block}, outside the requested"
                f" blocks {lo}-{hi}")
        if lg.address != address:
            raise VerificationError(
                f"the endpoint returned a log of another contract ({lg.address}) in block {lg.block}")
    nums = sorted({lg.block for lg in logs} | set(extra))
    blocks = rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n in nums])
    heads: dict[int, tuple[bytes, int]] = {}
    for n, blk in zip(nums, blocks, strict=True):
        head = _parse_header(blk, n)
        if head is None:
            raise _ReorgInFlight(f"block {n} disappeared")
        heads[n] = head
    for lg in logs:
        if lg.removed or heads[lg.block][0] != lg.block_hash:
            raise _ReorgInFlight(f"block {lg.block} changed during the page")
    return heads


# --------------------------------------------------------------------------- decoding


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


def _parsed_key(key_type: int, material: bytes, name: str, proof: bytes, owner: str | None,
                chain_id: int, registry: str, purposes: int, profile: str | None,
                valid_name: bool = True, squatted_by: str | bool = False) -> ParsedKey:
    """Parse the material and run the policy (verdict pass / fail / unknown).

    A record under a name the grammar refuses fails (nothing serves it);
    ``squatted_by`` (the domain the name squats in, or False) goes to the
    policy's ``binding.domain_chain`` lint.
    """
    from registry.keys import load_material

    try:
        key = load_material(key_type, material)
    except Error as exc:
        return ParsedKey("unparsable", (), (), "fail", f"material does not parse: {exc}")
    fps = [str(key.fingerprint)]
    spki = getattr(key, "spki_sha256", None)
    if isinstance(spki, str) and spki:
        fps.append(spki)
    for sub in getattr(key, "subkeys", ()) or ():
        fp = getattr(sub, "fingerprint", None)
        if isinstance(fp, str):
            fps.append(fp)
    idents = tuple(str(i) for i in (key.identities or ()))
    algorithm = str(key.algorithm)
    if not valid_name:
        return ParsedKey(algorithm, tuple(dict.fromkeys(fps)), idents, "fail",
                         f"name {name!r} is not a valid registry name: its keys are never served")
    if profile is None:
        return ParsedKey(algorithm, tuple(dict.fromkeys(fps)), idents, "unknown", "no policy check")
    try:
        from registry.policy import check

        kwargs: dict[str, Any] = {"profile": profile, "name": name, "purposes": purposes,
                                  "squatted_by": squatted_by}
        if proof and owner:
            from registry.proofs import statement

            kwargs["proof"] = proof
            kwargs["statement"] = statement(chain_id, registry, name, owner,
                                            commitment(key_type, material))
        report = check(key, **kwargs)
        verdict = "pass" if report.passed else "fail"
        detail = f"{report.profile} {report.policy_sha256[:16]}"
        if not report.passed:
            detail += ": " + ", ".join(r.lint_id for r in report.failures())
    except Exception as exc:  # the checker is optional: say so, serve nothing unchecked
        verdict, detail = "unknown", f"policy check unavailable: {type(exc).__name__}: {exc}"
    return ParsedKey(algorithm, tuple(dict.fromkeys(fps)), idents, verdict, detail)


# --------------------------------------------------------------------------- sync


def _target(reg: Any) -> tuple[Any, str, int]:
    """(web3, registry address, start block) from a Registry or a (w3, address) pair."""
    if isinstance(reg, tuple):
        w3, address = reg[0], reg[1]
        start = reg[2] if len(reg) > 2 else 0
        return w3, str(address), int(start)
    return reg.w3, str(reg.address), int(getattr(reg, "from_block", 0) or 0)


def _is_range_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return any(word in text for word in _RANGE_ERRORS)


class _Syncer:
    def __init__(self, store: Store, w3: Any, address: str, *, start_block: int,
                 confirmations: int, page_blocks: int, profile: str | None,
                 progress: Progress | None, max_blocks: int | None,
                 max_page_blocks: int = MAX_PAGE_BLOCKS, audit: bool = False,
                 dns: Any = None) -> None:
        self.store = store
        self.dns = dns
        self.dns_cache: dict[tuple[bytes, str], Any] = {}
        self.audit_all = audit
        self.rpc = _Rpc(w3)
        self.address = address.lower()
        self.start_block = start_block
        self.confirmations = max(0, int(confirmations))
        self.page = max(1, int(page_blocks))
        self.profile = profile
        self.progress = progress
        self.max_blocks = max_blocks
        self.max_page = max(self.page, int(max_page_blocks))
        self.dec = _Decoder()
        self.chain_id = 0

    # -- identity and reorgs

    def check_identity(self) -> None:
        self.chain_id = _q(self.rpc.call("eth_chainId", []), "eth_chainId")
        cid, reg = self.store.meta("chain_id"), self.store.meta("registry")
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

    def find_ancestor(self) -> int | None:
        """The newest stored block still canonical, or None when the newest one is."""
        offset = 0
        first = True
        while True:
            stored = self.store.conn.execute(
                "SELECT number, hash FROM blocks ORDER BY number DESC LIMIT ? OFFSET ?",
                (REORG_PROBE, offset)).fetchall()
            if not stored:
                return self.start_block - 1 if not first else None
            blocks = self.rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n, _ in stored])
            for i, ((number, h), blk) in enumerate(zip(stored, blocks, strict=True)):
                head = _parse_header(blk, int(number))
                if head is not None and head[0] == bytes(h):
                    return None if (first and i == 0) else int(number)
            first = False
            offset += REORG_PROBE

    # -- pages

    def get_logs(self, lo: int, hi: int) -> list[_Log]:
        flt = {"address": self.address, "fromBlock": hex(lo), "toBlock": hex(hi)}
        return _parse_logs(self.rpc.call("eth_getLogs", [flt]))

    def stored_hash(self, number: int) -> bytes | None:
        row = self.store.conn.execute("SELECT hash FROM blocks WHERE number = ?",
                                      (number,)).fetchone()
        return None if row is None else bytes(row[0])

    def run_page(self, lo: int, hi: int, logs: list[_Log]) -> int:
        # The page must continue the chain the index holds: the previous page's last block
        # (stored with its hash) must still be canonical, or a reorg happened between
        # pages and this page's events sit on another history (restart: roll back first).
        prev = self.stored_hash(lo - 1)
        heads: dict[int, tuple[Any, ...]] = dict(_check_logs(
            self.rpc, logs, self.address, lo, hi, extra=[hi] if prev is None else [hi, lo - 1]))
        if prev is not None and heads.pop(lo - 1)[0] != prev:
            raise _ReorgInFlight(f"block {lo - 1} is no longer canonical")
        store = self.store
        touched_records: set[bytes] = set()
        touched_owner: set[bytes] = set()
        touched_atts: set[tuple[bytes, int, bytes]] = set()
        touched_blocked: set[tuple[bytes, bytes]] = set()
        touched_renounced: set[bytes] = set()
        touched_ops: set[tuple[bytes, str, str]] = set()
        count = 0
        digest = self.page_start_digest(lo)
        with store.transaction():
            for pos, lg in enumerate(logs):
                decoded = self.dec.decode(lg)
                if decoded is None:
                    raise VerificationError(
                        f"block {lg.block}: a log of the registry with an unknown topic"
                        " (not an event of this contract)")
                kind, data = decoded
                block = lg.block
                digest = layout.fold(digest, layout.event_hash(kind, data, block))
                if pos + 1 == len(logs) or logs[pos + 1].block != block:
                    heads[block] = (*heads[block][:2], digest)
                if kind in _REGISTRY_WIDE:
                    continue  # folded into the digest; nothing about a name to store
                node = bytes(data["node"])
                ev = self.event(kind, data, node, block, lg, heads[block][1])
                try:
                    store.apply(ev)
                except IndexUnavailable as exc:
                    raise VerificationError(f"sync stopped at block {block}: {exc}") from exc
                count += 1
                if kind in ("KeyPublished", "KeyRevoked"):
                    touched_records.add(node)
                elif kind in ("NameRegistered", "OwnershipTransferred"):
                    touched_owner.add(node)
                elif kind in ("Attested", "AttestationWithdrawn"):
                    touched_atts.add((node, int(data["index"]), bytes(data["attester"])))
                elif kind == "AttesterBlocked":
                    touched_blocked.add((node, bytes(data["attester"])))
                elif kind == "OperatorSet":
                    touched_ops.add((node, str(data["owner"]), str(data["operator"])))
                elif kind == "ChildRenounced":
                    touched_renounced.add(node)
            self.verify(hi, heads[hi][0], touched_records, touched_owner, touched_atts,
                        touched_renounced, touched_ops, touched_blocked, digest=digest,
                        what=f"blocks {lo}-{hi} ({len(logs)} logs)")
            if self.dns is not None:
                tops = {self.store.top_level_of(n) for n in touched_records | touched_owner}
                for top in sorted(t for t in tops if t is not None):
                    self.apply_dns(top, fresh=False)
            for number, head in heads.items():
                store.add_block(number, head[0], head[1], head[2] if len(head) > 2 else None)
            store.add_block(hi, heads[hi][0], heads[hi][1], digest)
            store.set_event_digest(digest)
            store.set_meta("synced_block", hi)
        return count

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

    def page_start_digest(self, lo: int) -> bytes:
        """The event digest the page folds onto: the stored one, or at the first page the
        contract's at ``start_block - 1`` (zero before the deployment)."""
        stored = self.store.event_digest
        if stored is not None:
            return stored
        start = ZERO32
        if lo > 0:
            raw = self.rpc.call("eth_call", [{"to": self.address,
                                              "data": "0x" + self.dec.digest_fn.encode([]).hex()},
                                             hex(lo - 1)])
            data = _hx(raw, "event_digest")
            if data:  # no code yet at that block: no event yet
                start = bytes(self.dec.decode_output(self.dec.digest_fn, data))
        self.store.set_meta("start_digest", start.hex())
        return start

    def event(self, kind: str, data: dict[str, Any], node: bytes, block: int,
              lg: _Log, ts: int) -> Event:
        parsed = None
        where = f"{kind} in block {block}"
        if kind == "NameRegistered":
            label, parent = str(data["label"]), bytes(data["parent"])
            if parent == ZERO32:
                text = label
            else:
                ptext = self.store.name_of(parent)
                if ptext is None:
                    raise VerificationError(f"{where}: parent 0x{parent.hex()} is not indexed")
                text = f"{label}{'@' if data['person'] else '.'}{ptext}"
            if bytes(raw_namehash(text)) != node:
                raise VerificationError(f"{where}: name {text!r} does not hash to its node")
            # a name the grammar refuses (an IP address literal, a numeric TLD, text not in
            # normal form) is indexed as the chain has it, and nothing ever serves it
            data["name"] = text
        elif kind == "KeyPublished":
            kt, material = int(data["key_type"]), bytes(data["material"])
            if commitment(kt, material) != bytes(data["commitment"]):
                raise VerificationError(
                    f"{where}: record {data['index']} material does not hash to its commitment")
            name = self.store.name_of(node)
            if name is None:
                raise VerificationError(f"{where}: node 0x{node.hex()} is not indexed")
            parsed = _parsed_key(kt, material, name, bytes(data["proof"]), self.store.owner_of(node),
                                 self.chain_id, self.address, int(data["purposes"]), self.profile,
                                 *self.name_standing(name))
        return Event(kind, block, lg.log_index, lg.tx_hash, node, ts, data, parsed)

    def name_standing(self, name: str) -> tuple[bool, str | bool]:
        """(the name is valid, the domain it squats in or False), from the index as it stands."""
        from registry.index._query import IndexReader, valid_name

        if not valid_name(name):
            return False, False
        return True, IndexReader(self.store.conn, self.store.path).squatted_by(name) or False

    def verify(self, hi: int, block_hash: bytes, records: set[bytes], owners: set[bytes],
               atts: Iterable[tuple[bytes, int, bytes]] = (), renounced: Iterable[bytes] = (),
               operators: Iterable[tuple[bytes, str, str]] = (),
               blocked: Iterable[tuple[bytes, bytes]] = (), *, digest: bytes | None = None,
               what: str = "") -> None:
        """Compare the index with the contract's views at block ``hi`` (one batch of eth_calls).

        ``digest``: ``event_digest()`` must equal it (the page's logs are complete);
        ``records`` / ``owners``: ``record_count(node)`` + ``records(node, commitments)`` /
        ``owner(node)``; ``atts``: ``attestation(node, commitment, attester)``;
        ``blocked``: ``is_blocked(node, attester)``; ``renounced``: ``renounced(node)``;
        ``operators``: ``is_operator(node, operator)`` for the (node, owner, operator)
        whose owner is the node's owner in the index (the view answers for the current
        owner only). VerificationError on any difference.
        """
        at = {"blockHash": "0x" + block_hash.hex()}
        dec, store = self.dec, self.store
        nodes_r, nodes_o = sorted(records), sorted(owners)
        att_keys = sorted(set(atts))
        blk_keys = sorted(set(blocked))
        ren_nodes = sorted(set(renounced))
        ops = sorted(op for op in set(operators)
                     if op[1].lower() == (store.owner_of(op[0]) or "").lower())
        commitments = {n: [bytes(r["commitment"]) for r in store.records_raw(n)] for n in nodes_r}

        def call(fn: Any, args: list[Any]) -> tuple[str, list[Any]]:
            return ("eth_call", [{"to": self.address, "data": "0x" + fn.encode(args).hex()}, at])

        calls = [call(dec.digest_fn, [])] if digest is not None else []
        for n in nodes_r:
            calls.append(call(dec.count_fn, [n]))
            cs = commitments[n]
            calls += [call(dec.records_fn, [n, cs[i:i + 128]]) for i in range(0, len(cs), 128)]
        calls += [call(dec.owner_fn, [n]) for n in nodes_o]
        calls += [call(dec.attestation_fn, [n, store.commitment_of(n, i) or ZERO32, a])
                  for n, i, a in att_keys]
        calls += [call(dec.blocked_fn, [n, a]) for n, a in blk_keys]
        calls += [call(dec.renounced_fn, [n]) for n in ren_nodes]
        calls += [call(dec.is_operator_fn, [n, op]) for n, _, op in ops]
        if not calls:
            return
        results = iter(self.rpc.batch(calls))

        def view(fn: Any, what: str) -> Any:
            raw = next(results)
            try:
                return dec.decode_output(fn, _hx(raw))
            except Exception as exc:
                raise VerificationError(f"{what} at block {hi} is undecodable") from exc

        def label(node: bytes) -> str:
            return store.name_of(node) or "0x" + node.hex()

        if digest is not None:
            raw_digest = _hx(next(results), "event_digest()")
            # no code at that block (before the deployment): no event yet
            theirs = bytes(dec.decode_output(dec.digest_fn, raw_digest)) if raw_digest else ZERO32
            if theirs != digest:
                n_theirs, n_ours = (int.from_bytes(x, "big") >> 216 for x in (theirs, digest))
                raise VerificationError(
                    f"the endpoint's logs for {what or f'blocks up to {hi}'} do not account for"
                    f" every event: the contract's event digest at block {hi} is"
                    f" 0x{theirs.hex()[:18]}… after {n_theirs} events, the logs give"
                    f" 0x{digest.hex()[:18]}… after {n_ours} (a log was withheld, added,"
                    " reordered or altered; nothing from this page was stored)")
        for node in nodes_r:
            count = int(view(dec.count_fn, f"record_count(0x{node.hex()})"))
            chain: list[dict[str, Any]] = []
            for _ in range(0, len(commitments[node]), 128):
                chain += list(view(dec.records_fn, f"records(0x{node.hex()})"))
            self.compare(node, hi, chain, count)
        for node in nodes_o:
            owner = str(view(dec.owner_fn, f"owner(0x{node.hex()})")).lower()
            if owner != (store.owner_of(node) or "").lower():
                raise VerificationError(
                    f"{store.name_of(node)}: owner {owner} at block {hi} differs from the events")
        for node, idx, attester in att_keys:
            a = view(dec.attestation_fn, f"attestation(0x{node.hex()}, {idx})")
            theirs_a = ((bytes(a["attester"]), bytes(a["policy_hash"]),
                         min(int(a["expires"]), _SQLITE_MAX_INT), int(a["attested_at"]))
                        if int(a["attested_at"]) else None)
            mine = next((x for x in store.attestations_raw(node, idx) if x[0] == attester), None)
            if theirs_a != mine:
                raise VerificationError(
                    f"{label(node)} record {idx}: the contract's attestation by"
                    f" 0x{attester.hex()[:16]}… at block {hi} differs from the events'"
                    " (attester, policy hash, expiry or time)")
        for node, attester in blk_keys:
            flag = bool(view(dec.blocked_fn, f"is_blocked(0x{node.hex()})"))
            if flag != store.is_blocked(node, attester):
                raise VerificationError(
                    f"{label(node)}: is_blocked(0x{attester.hex()[:16]}…) is {str(flag).lower()}"
                    f" in the contract at block {hi}, the events say otherwise")
        for node in ren_nodes:
            flag = bool(view(dec.renounced_fn, f"renounced(0x{node.hex()})"))
            if flag != bool(store.renounced_of(node)):
                raise VerificationError(
                    f"{label(node)}: renounced is {str(flag).lower()} in the contract at block {hi},"
                    " the events say otherwise")
        for node, owner, op in ops:
            flag = bool(view(dec.is_operator_fn, f"is_operator(0x{node.hex()}, {op})"))
            if flag != store.operator_approved(node, owner, op):
                raise VerificationError(
                    f"{label(node)}: is_operator({op}) is {str(flag).lower()} in the contract at"
                    f" block {hi}, the events say otherwise")

    def compare(self, node: bytes, hi: int, chain: list[dict[str, Any]], count: int) -> None:
        mine = self.store.records_raw(node)
        name = self.store.name_of(node) or "0x" + node.hex()
        if len(mine) != count or len(chain) != len(mine):
            raise VerificationError(
                f"{name}: the contract holds {count} records at block {hi}, the events"
                f" give {len(mine)}")
        for m, c in zip(mine, chain, strict=True):
            revoked = int(c["status"]) == 2
            same = (
                bytes(m["commitment"]) == bytes(c["commitment"]) and int(c["index"]) == m["idx"]
                and m["key_type"] == c["key_type"] and m["purposes"] == c["purposes"]
                and m["valid_from"] == c["valid_from"] and m["valid_until"] == c["valid_until"]
                and bool(m["durable"]) == bool(c["durable"])
                and m["published_at"] == c["published_at"]
                and bool(m["revoked_at"]) == revoked
                and (not revoked or (m["revoked_at"] == c["revoked_at"] and m["reason"] == c["reason"]))
            )
            if not same:
                raise VerificationError(
                    f"{name} record {m['idx']}: the contract's view at block {hi} disagrees with"
                    " the events (nothing from this page was stored)")

    def audit(self, chunk: int = 1000) -> int:
        """Compare EVERY indexed name with the contract at the synced block.

        First the stored event digest against ``event_digest()``; then per name
        ``record_count`` + ``records(node, commitments)`` and ``owner(node)``;
        per record and attester ever seen ``attestation(node, commitment,
        attester)``; per block ``is_blocked``; per child name ``renounced(node)``;
        per operator row of the name's current owner ``is_operator(node, operator)``. On a mismatch the index
        is not marked synced, so the SSH gateways refuse it once it is older
        than ``max_staleness``.
        """
        synced = self.store.synced_block
        if synced is None:
            return 0
        head = _parse_header(self.rpc.call("eth_getBlockByNumber", [hex(synced), False]), synced)
        if head is None:
            raise VerificationError(f"the endpoint has no block {synced} to audit against")
        block_hash = head[0]
        stored = self.stored_hash(synced)
        if stored is not None and stored != block_hash:
            raise _ReorgInFlight(f"block {synced} changed before the audit")  # run() rolls back
        conn = self.store.conn
        self.verify(synced, block_hash, set(), set(), digest=self.store.event_digest,
                    what=f"every block up to {synced}")
        nodes = [bytes(n) for (n,) in conn.execute("SELECT node FROM names ORDER BY node")]
        for lo in range(0, len(nodes), chunk):
            part = nodes[lo:lo + chunk]
            first, last = part[0], part[-1]
            atts = [(bytes(n), int(i), a) for n, i in conn.execute(
                "SELECT node, idx FROM records WHERE node BETWEEN ? AND ?", (first, last))
                for a in self.store.attesters_of(bytes(n), int(i))]
            blocked = [(bytes(n), bytes(a)) for n, a in conn.execute(
                "SELECT node, attester FROM blocked WHERE node BETWEEN ? AND ?", (first, last))]
            blocked += [(n, a) for n, _i, a in atts]  # every attester of the name's records
            children = [bytes(n) for (n,) in conn.execute(
                "SELECT node FROM names WHERE node BETWEEN ? AND ? AND parent != ?",
                (first, last, ZERO32))]
            ops = [(bytes(n), str(o), str(op)) for n, o, op in conn.execute(
                "SELECT o.node, o.owner, o.operator FROM operators o JOIN names n"
                " ON n.node = o.node AND n.owner = o.owner WHERE o.node BETWEEN ? AND ?",
                (first, last))]
            self.verify(synced, block_hash, set(part), set(part), atts, children, ops, blocked)
        return len(nodes)

    def run(self) -> SyncResult:
        t0 = time.monotonic()
        self.check_identity()
        result = SyncResult(0, 0)
        for _attempt in range(5):
            try:
                self._run(result)
                if self.audit_all:
                    result.audited = self.audit()
                self.refresh_dns()
                break
            except _ReorgInFlight:
                continue
        else:
            raise ChainError("the chain keeps reorganising under the sync; try again later")
        with self.store.transaction():
            self.store.mark_synced()
        result.seconds = time.monotonic() - t0
        return result

    def _run(self, result: SyncResult) -> None:
        ancestor = self.find_ancestor()
        if ancestor is not None:
            with self.store.transaction():
                result.removed_events += self.store.rollback_to(ancestor)
            result.rolled_back_to = ancestor
        head = _q(self.rpc.call("eth_blockNumber", []), "eth_blockNumber")
        target = head - self.confirmations
        synced = self.store.synced_block
        lo = self.start_block if synced is None else synced + 1
        if self.max_blocks is not None:
            target = min(target, lo + self.max_blocks - 1)
        result.from_block, result.to_block = lo, max(target, lo - 1)
        size = self.page
        while lo <= target:
            hi = min(lo + size - 1, target)
            try:
                logs = self.get_logs(lo, hi)
            except ChainError as exc:
                if hi > lo and _is_range_error(exc):
                    size = max(1, (hi - lo + 1) // 2)
                    continue
                raise
            n = self.run_page(lo, hi, logs)
            result.events += n
            result.pages += 1
            result.page_sizes.append(hi - lo + 1)
            if self.progress is not None:
                self.progress(hi, target, result.events)
            lo = hi + 1
            if size < self.max_page and len(logs) < 2_000:
                size = min(self.max_page, size * 2)


def sync_index(
    index: str | Path | Store,
    registry: Any,
    *,
    confirmations: int = 0,
    page_blocks: int = DEFAULT_PAGE_BLOCKS,
    max_page_blocks: int = MAX_PAGE_BLOCKS,
    policy_profile: str | None = "default",
    start_block: int | None = None,
    progress: Progress | None = None,
    max_blocks: int | None = None,
    audit: bool = False,
    dns: Any = None,
) -> SyncResult:
    """Bring the index up to ``head - confirmations`` of the registry's chain.

    ``registry`` is a :class:`registry.chain.client.Registry` (its web3, address
    and deployment block are used) or a ``(web3, address[, start_block])``
    tuple. Pages start at ``page_blocks`` blocks, double after each page (up to
    ``max_page_blocks``) and halve when the endpoint refuses a range.
    ``policy_profile=None`` skips the policy check (verdicts ``unknown``;
    the SSH gateways then serve nothing unless told to). ``max_blocks`` caps
    the blocks synced in this run (tests, resumable batches). ``audit=True``
    then compares every indexed name, record attestations, child renunciation
    and current operator with the contract's views (batched ``eth_call`` requests):
    run it periodically, as it also catches an endpoint that left a
    log out of an earlier page. ``dns`` (a :class:`registry.dnscontrol.DnsSettings`)
    checks every top-level name's ``_keyanchor`` TXT record (each run) and stops
    the index serving keys under a domain whose DNS names another owner, or,
    when ``dns.required`` (implied by the ``strict`` profile), does not name
    the owner.

    Raises:
        VerificationError: the chain's data does not verify (nothing from that page is kept).
        ConfigError: the index belongs to another chain or registry.
        ChainUnavailable, ChainError: the endpoint failed. IndexUnavailable: the file.
    """
    store = index if isinstance(index, Store) else Store.open(index)
    try:
        w3, address, start = _target(registry)
        if policy_profile == "strict":
            from registry.dnscontrol import DnsSettings

            dns = (DnsSettings(dns.nameserver, dns.port, dns.timeout, True) if dns is not None
                   else DnsSettings(required=True))
        syncer = _Syncer(store, w3, address,
                         start_block=start if start_block is None else start_block,
                         confirmations=confirmations, page_blocks=page_blocks,
                         profile=policy_profile, progress=progress, max_blocks=max_blocks,
                         max_page_blocks=max_page_blocks, audit=audit, dns=dns)
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
    processed or after ``timeout`` seconds. Each poll's logs are checked as sync
    checks a page before any of them is reported: logs of another contract or
    outside the polled blocks raise VerificationError; a log marked ``removed``
    or whose block hash is not the canonical header's means a reorg is under
    way, and the same blocks are polled again after ``interval`` (ChainError
    when that keeps happening). KeyPublished material is checked against its
    commitment.

    Raises: InvalidName, VerificationError, ChainUnavailable, ChainError.
    """
    w3, address, _start = _target(registry)
    address = address.lower()
    rpc = _Rpc(w3)
    dec = _Decoder()
    by_node = {bytes(namehash(n)): parse_name(n).text for n in names}
    if not by_node:
        return
    deadline = None if timeout is None else time.monotonic() + timeout
    head = _q(rpc.call("eth_blockNumber", []), "eth_blockNumber")
    lo = head + 1 if from_block is None else from_block
    topics = [None, ["0x" + n.hex() for n in sorted(by_node)]]
    reorgs = 0
    while True:
        hi = _q(rpc.call("eth_blockNumber", []), "eth_blockNumber") - confirmations
        if until_block is not None:
            hi = min(hi, until_block)
        if hi >= lo:
            logs = _parse_logs(rpc.call("eth_getLogs", [{"address": address, "fromBlock": hex(lo),
                                                         "toBlock": hex(hi), "topics": topics}]))
            try:
                if logs:
                    _check_logs(rpc, logs, address, lo, hi)
            except _ReorgInFlight:
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
        if until_block is not None and lo > until_block:
            return
        if deadline is not None and time.monotonic() >= deadline:
            return
        sleep(interval if deadline is None else max(0.0, min(interval, deadline - time.monotonic())))


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
