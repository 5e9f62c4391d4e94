"""The registry's state as storage proofs show it at a trusted block (what lookups rely on).

    state = ProvenState(address, quorum, from_block)
    head = state.head()
    word, records = state.records(node, head)         # proven name word + record words

Every value comes from an EIP-1186 proof (:mod:`registry.chain.stateproof`)
against the state root of a block k endpoints agree on
(:mod:`registry.chain.trust`), at the slots docs/CONTRACT.md documents
(:mod:`registry.chain.layout`). Logs only say *where to look* (which
commitments a name's records have): a log the proven state does not confirm
is ignored, and a record the name word counts but no log (or durable slot)
accounts for is a :class:`~registry.errors.VerificationError`. When an
endpoint's data does not verify, the next endpoint is asked and the failure
reported (:meth:`Quorum.first_good`).

Concurrent lookups share requests: :meth:`ProvenState.records_now` called from
several threads at once proves their names together — while one proof request
is in flight, the names asked for meanwhile wait and are then proven by the
next request, all of them in one ``eth_getLogs`` and one ``eth_getProof``
(at most :data:`MAX_NAMES` names). A caller alone never waits. A proof that
does not verify fails every caller of its batch: no caller gets a partial
answer.

Values already proven are re-used: a storage word proven against a state root
is that root's word whoever asks again, and a name's record set proven at a
block hash is that block's (bounded caches, :data:`MAX_WORDS` words and
:data:`MAX_RECORD_SETS` record sets). Nothing unproven is ever cached, and a
new head has a new state root: its values are proven again.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from registry.chain import layout
from registry.chain._rpc import Log, Rpc, parse_logs
from registry.chain.stateproof import slot_key, verify_proof
from registry.chain.trust import Quorum, TrustedBlock
from registry.errors import VerificationError

__all__ = ["MAX_SLOTS", "ProvenAttestation", "ProvenRecord", "ProvenState"]

#: Storage slots per eth_getProof request.
MAX_SLOTS = 500
#: Names per eth_getLogs / eth_getProof in :meth:`ProvenState.records_many`.
MAX_NAMES = 125
#: Logs per index of a name considered before refusing (a flood of forged logs).
MAX_CANDIDATES = 8
ZERO32 = b"\x00" * 32
#: Proven storage words kept, by (state root, slot).
MAX_WORDS = 16_384
#: Proven record sets kept, by (block hash, node).
MAX_RECORD_SETS = 1_024


class _Ask:
    """One caller's name waiting for a batched :meth:`ProvenState.records_now`."""

    __slots__ = ("error", "lead", "node", "ready", "result", "what")

    def __init__(self, node: bytes, what: str) -> None:
        self.node, self.what = node, what
        self.lead = False
        self.ready = threading.Event()
        self.result: tuple[TrustedBlock, layout.NameWord, list[ProvenRecord]] | None = None
        self.error: BaseException | None = None


@dataclass(frozen=True, slots=True)
class ProvenRecord:
    """One record of a name: its proven word, its commitment, the KeyPublished log if any."""

    commitment: bytes
    word: layout.RecordWord
    log: Log | None


@dataclass(frozen=True, slots=True)
class ProvenAttestation:
    attester: bytes
    word: layout.AttestationWord
    policy_hash: bytes
    blocked: bool


#: How long a failed proof at an endpoint's newest block waits for a successor block.
SUCCESSOR_WAIT = 0.5


def _has_successor(ep: Rpc, number: int) -> bool:
    """Whether block ``number`` has (or within :data:`SUCCESSOR_WAIT` s gets) a successor."""
    import time

    from registry.chain._rpc import quantity

    deadline = time.monotonic() + SUCCESSOR_WAIT
    while True:
        if quantity(ep.call("eth_blockNumber", []), "eth_blockNumber") > number:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.005)


class ProvenState:
    """Proven reads of one KeyRegistry through a :class:`Quorum`."""

    def __init__(self, address: str, quorum: Quorum, *, from_block: int = 0,
                 head_ttl: float = 0.0, max_head_age: float | None = None) -> None:
        self.address = address.lower()
        self.quorum = quorum
        self.from_block = int(from_block)
        self.head_ttl = head_ttl
        self.max_head_age = max_head_age
        from registry.chain.client import load_contract

        self.contract = load_contract()
        self._lock = threading.Lock()
        self._words: OrderedDict[tuple[bytes, int], int] = OrderedDict()
        self._record_sets: OrderedDict[tuple[bytes, bytes],
                                       tuple[layout.NameWord, list[ProvenRecord]]] = OrderedDict()
        self._asks: list[_Ask] = []  # names waiting for the next batched request
        self._asking = False  # a batched request is in flight (or about to be)
        self._asks_lock = threading.Lock()

    def head(self) -> TrustedBlock:
        """The trusted head (re-asked unless the last one is under ``head_ttl`` seconds old).

        Raises VerificationError when it is older than ``max_head_age`` seconds (by its own
        timestamp: a lagging or frozen endpoint, or a chain that stopped).
        """
        import time

        head = self.quorum.head(max_age=self.head_ttl)
        if self.max_head_age is not None:
            age = time.time() - head.timestamp
            if age > self.max_head_age:
                raise VerificationError(
                    f"the trusted head, block {head.number}, is {int(age)} s old (limit"
                    f" {int(self.max_head_age)} s): the endpoints lag or the chain stopped;"
                    " nothing read from it is shown")
        return head

    # ----------------------------------------------------------------- proofs

    def prove_on(self, ep: Rpc, slots: Sequence[int], head: TrustedBlock) -> dict[int, int]:
        """Storage values at ``slots`` from ``ep``'s proofs at ``head``. Raises VerificationError.

        Words already proven against ``head``'s state root are not asked again (the
        same values, whichever endpoint proved them); with nothing new to prove, the
        account proof alone is checked once (``slots`` empty).
        """
        root = bytes(head.state_root)
        out: dict[int, int] = {}
        wanted: list[int] = []
        with self._lock:
            for s in dict.fromkeys(int(s) for s in slots):
                hit = self._words.get((root, s))
                if hit is None:
                    wanted.append(s)
                else:
                    self._words.move_to_end((root, s))
                    out[s] = hit
        if out and not wanted:
            return out
        at = {"blockHash": "0x" + head.hash.hex()}
        for lo in range(0, max(len(wanted), 1), MAX_SLOTS):
            part = wanted[lo:lo + MAX_SLOTS]
            params = [self.address, [slot_key(s) for s in part], at]
            reply = ep.call("eth_getProof", params)
            try:
                _account, values = verify_proof(reply, state_root=root,
                                                address=self.address, slots=part)
            except VerificationError:
                # anvil answers a proof at its newest block from the state it is mining the
                # next block into, so such a proof can fail while blocks are mined; once the
                # block has a successor it is answered from the block's own stored state: ask
                # that once (and it must verify against the same trusted state root)
                if not _has_successor(ep, head.number):
                    raise
                reply = ep.call("eth_getProof", params)
                _account, values = verify_proof(reply, state_root=root,
                                                address=self.address, slots=part)
            out.update(values)
            self._keep_words(root, values)
        return out

    def _keep_words(self, root: bytes, values: dict[int, int]) -> None:
        with self._lock:
            for s, v in values.items():
                self._words[(root, s)] = v
            while len(self._words) > MAX_WORDS:
                self._words.popitem(last=False)

    def slots(self, slots: Iterable[int], head: TrustedBlock, what: str) -> dict[int, int]:
        """Proven values at ``slots`` (from the first endpoint whose proofs verify)."""
        wanted = list(slots)
        return self.quorum.first_good(what, lambda ep: self.prove_on(ep, wanted, head))

    def digest(self, head: TrustedBlock) -> bytes:
        """The event digest word (slot 0) at ``head``."""
        value = self.slots([layout.EVENTS_SLOT], head, f"event digest at block {head.number}")
        return value[layout.EVENTS_SLOT].to_bytes(32, "big")

    def names(self, nodes: Iterable[bytes], head: TrustedBlock,
              what: str = "names") -> dict[bytes, tuple[layout.NameWord, bytes]]:
        """``{node: (name word, parent node)}``, both proven, in one request."""
        nodes = list(dict.fromkeys(bytes(n) for n in nodes))
        slots = [s for n in nodes for s in (layout.name_slot(n), layout.parent_slot(n))]
        values = self.slots(slots, head, what)
        return {n: (layout.decode_name(values[layout.name_slot(n)]),
                    values[layout.parent_slot(n)].to_bytes(32, "big")) for n in nodes}

    # ----------------------------------------------------------------- records

    def _logs(self, ep: Rpc, topics: list[Any], head: TrustedBlock) -> list[Log]:
        flt = {"address": self.address, "fromBlock": hex(min(self.from_block, head.number)),
               "toBlock": hex(head.number), "topics": topics}
        logs = parse_logs(ep.call("eth_getLogs", [flt]))
        return [lg for lg in logs if lg.address == self.address and not lg.removed
                and lg.block <= head.number]

    def records(self, node: bytes, head: TrustedBlock, what: str
                ) -> tuple[layout.NameWord, list[ProvenRecord]]:
        """The proven name word and every record of ``node`` in index order.

        Raises: VerificationError (a record no log or durable slot accounts for, on
        every endpoint), QuorumError, ChainError.
        """
        return self.records_many([node], head, what, {bytes(node): what})[bytes(node)]

    def records_now(self, node: bytes, what: str
                    ) -> tuple[TrustedBlock, layout.NameWord, list[ProvenRecord]]:
        """:meth:`records` of ``node`` at the trusted head, asked now: ``(head, word, records)``.

        Callers in several threads share requests: while one caller's request is in
        flight, those arriving meanwhile are proven together by the next one (one
        trusted head, one ``eth_getLogs``, one ``eth_getProof`` for up to
        :data:`MAX_NAMES` names). A caller alone is asked for at once.

        Raises: as :meth:`records` and :meth:`head`; a batch that does not verify
        raises its error in every caller of the batch.
        """
        ask = _Ask(bytes(node), what)
        with self._asks_lock:
            self._asks.append(ask)
            if not self._asking:
                self._asking = ask.lead = True
        if not ask.lead:
            ask.ready.wait()  # answered, or handed the next batch to ask for
        if ask.result is None and ask.error is None:
            self._ask_batch()
        if ask.error is not None:
            raise ask.error
        assert ask.result is not None
        return ask.result

    def _ask_batch(self) -> None:
        """Prove the waiting names (this caller's first), then hand on to the next waiter."""
        with self._asks_lock:
            batch = self._asks[:MAX_NAMES]
            del self._asks[:MAX_NAMES]
        try:
            head = self.head()
            whats = {a.node: a.what for a in batch}
            what = batch[0].what if len(whats) == 1 else f"lookup of {len(whats)} names"
            found = self.records_many(list(whats), head, what, whats)
            for a in batch:
                word, records = found[a.node]
                a.result = (head, word, list(records))
        except BaseException as exc:  # every caller of the batch fails with it
            for a in batch:
                a.error = exc
        finally:
            with self._asks_lock:
                if self._asks:
                    nxt = self._asks[0]
                    nxt.lead = True
                    nxt.ready.set()
                else:
                    self._asking = False
            for a in batch:
                a.ready.set()

    def records_many(self, nodes: Iterable[bytes], head: TrustedBlock, what: str,
                     whats: Mapping[bytes, str] | None = None,
                     ) -> dict[bytes, tuple[layout.NameWord, list[ProvenRecord]]]:
        """:meth:`records` of many names: per :data:`MAX_NAMES` names one ``eth_getLogs``
        and one ``eth_getProof`` (record sets already proven at ``head`` are re-used).
        ``whats`` names each node in error messages (default: ``what``).

        Raises: as :meth:`records` (one name's records not verifying fails the batch).
        """
        wanted = list(dict.fromkeys(bytes(n) for n in nodes))
        out: dict[bytes, tuple[layout.NameWord, list[ProvenRecord]]] = {}
        todo = []
        with self._lock:
            for node in wanted:
                hit = self._record_sets.get((bytes(head.hash), node))
                if hit is None:
                    todo.append(node)
                else:
                    self._record_sets.move_to_end((bytes(head.hash), node))
                    out[node] = (hit[0], list(hit[1]))
        for lo in range(0, len(todo), MAX_NAMES):
            part = todo[lo:lo + MAX_NAMES]
            found = self.quorum.first_good(what, functools.partial(
                self._records_on, nodes=part, head=head, what=what, whats=whats or {}))
            with self._lock:
                for node, (word, records) in found.items():
                    self._record_sets[(bytes(head.hash), node)] = (word, list(records))
                while len(self._record_sets) > MAX_RECORD_SETS:
                    self._record_sets.popitem(last=False)
            out.update(found)
        return {node: out[node] for node in wanted}

    def _records_on(self, ep: Rpc, nodes: list[bytes], head: TrustedBlock, what: str,
                    whats: Mapping[bytes, str]
                    ) -> dict[bytes, tuple[layout.NameWord, list[ProvenRecord]]]:
        topic = "0x" + self.contract.event("KeyPublished").topic.hex()
        shown: str | list[str] = ["0x" + n.hex() for n in nodes] if len(nodes) > 1 \
            else "0x" + nodes[0].hex()
        by_node: dict[bytes, dict[int, list[tuple[bytes, Log]]]] = {n: {} for n in nodes}
        for lg in self._logs(ep, [topic, shown], head):
            if len(lg.topics) != 4 or lg.topics[1] not in by_node:
                continue
            index = int.from_bytes(lg.topics[2], "big")
            found = by_node[lg.topics[1]].setdefault(index, [])
            if len(found) >= MAX_CANDIDATES:
                raise VerificationError(f"{what}: the endpoint returned more than"
                                        f" {MAX_CANDIDATES} KeyPublished logs for record {index}")
            found.append((lg.topics[3], lg))
        slots = []
        for node, candidates in by_node.items():
            slots.append(layout.name_slot(node))
            slots += [layout.record_slot(node, c)
                      for c in dict.fromkeys(c for found in candidates.values() for c, _ in found)]
        values = self.prove_on(ep, slots, head)
        return {node: self._assemble(ep, node, candidates, values, head, whats.get(node, what))
                for node, candidates in by_node.items()}

    def _assemble(self, ep: Rpc, node: bytes, candidates: dict[int, list[tuple[bytes, Log]]],
                  values: dict[int, int], head: TrustedBlock, what: str
                  ) -> tuple[layout.NameWord, list[ProvenRecord]]:
        """One name's records from its proven words and its logs (durable slots for the rest)."""
        word = layout.decode_name(values[layout.name_slot(node)])
        out: list[ProvenRecord | None] = [None] * word.record_count
        altered: set[int] = set()
        for index in range(word.record_count):
            for c, lg in candidates.get(index, ()):
                rec = layout.decode_record(values[layout.record_slot(node, c)])
                if rec.exists and rec.index == index:
                    if not self._material_hashes(lg, c):
                        altered.add(index)  # another candidate (or endpoint) may carry it
                        continue
                    out[index] = ProvenRecord(c, rec, lg)
                    break
        missing = [i for i, r in enumerate(out) if r is None]
        if missing:  # durable records are enumerable from state alone
            dvals = self.prove_on(ep, [layout.durable_slot(node, i) for i in missing], head)
            found_c = {i: dvals[layout.durable_slot(node, i)].to_bytes(32, "big") for i in missing}
            known = [c for c in found_c.values() if c != ZERO32]
            rvals = self.prove_on(ep, [layout.record_slot(node, c) for c in known], head) \
                if known else {}
            for i, c in found_c.items():
                durable = layout.decode_record(rvals.get(layout.record_slot(node, c), 0)) \
                    if c != ZERO32 else None
                if durable is None or not durable.exists or durable.index != i:
                    if i in altered:
                        raise VerificationError(
                            f"{what}: record {i} does not verify: the material in its"
                            " KeyPublished log does not hash to the on-chain commitment")
                    raise VerificationError(
                        f"{what}: record {i} does not verify: the endpoint returned no"
                        f" KeyPublished event for it ({word.record_count} records proven at"
                        f" block {head.number}; a withheld or altered log)")
                out[i] = ProvenRecord(c, durable, None)
        return word, [r for r in out if r is not None]

    def _material_hashes(self, lg: Log, expected: bytes) -> bool:
        """Whether a KeyPublished log's material (and key type) hash to ``expected``."""
        from registry.keys._common import KeyType, commitment

        try:
            event = self.contract.event("KeyPublished").decode(
                {"topics": list(lg.topics), "data": lg.data})
            return commitment(KeyType(int(event["key_type"])), bytes(event["material"])) \
                == expected
        except Exception:  # malformed: not the record's log
            return False

    # ----------------------------------------------------------------- attestations, operators

    def attesters(self, node: bytes, commitment: bytes, head: TrustedBlock,
                  what: str) -> list[bytes]:
        """Attesters named by the record's ``Attested`` logs (where to look; not evidence)."""
        topic = "0x" + self.contract.event("Attested").topic.hex()

        def on(ep: Rpc) -> list[bytes]:
            logs = self._logs(ep, [topic, "0x" + node.hex(), "0x" + commitment.hex()], head)
            return list(dict.fromkeys(lg.topics[3] for lg in logs if len(lg.topics) == 4))
        return self.quorum.first_good(what, on)

    def attestations(self, node: bytes, commitment: bytes, attesters: Sequence[bytes],
                     head: TrustedBlock, what: str) -> list[ProvenAttestation]:
        """Each attester's proven attestation word, policy hash and blocked flag."""
        slots = []
        for a in attesters:
            slots += [layout.attestation_slot(node, commitment, a),
                      layout.policy_slot(node, commitment, a), layout.blocked_slot(node, a)]
        values = self.slots(slots, head, what) if slots else {}
        return [ProvenAttestation(
            a, layout.decode_attestation(values[layout.attestation_slot(node, commitment, a)]),
            values[layout.policy_slot(node, commitment, a)].to_bytes(32, "big"),
            bool(values[layout.blocked_slot(node, a)])) for a in attesters]

    def is_operator(self, node: bytes, operator: str, head: TrustedBlock, what: str) -> bool:
        """Approved iff the operator slot holds the name's current approval epoch + 1."""
        values = self.slots([layout.name_slot(node), layout.operator_slot(node, operator)], head,
                            what)
        word = layout.decode_name(values[layout.name_slot(node)])
        return word.owner != "0x" + "00" * 20 and \
            values[layout.operator_slot(node, operator)] == word.epoch + 1
