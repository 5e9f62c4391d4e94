"""Stateful property test: random sequences of registry operations by four
accounts, checked after every step against a plain Python model.

Examples: ``KEYANCHOR_STATEFUL_EXAMPLES`` (default 200, CI), up to
``KEYANCHOR_STATEFUL_STEPS`` (default 10) steps each after a 4-transaction
start. The nightly-size run (docs/CONTRACT.md):

    KEYANCHOR_STATEFUL_EXAMPLES=2000 KEYANCHOR_STATEFUL_STEPS=20 \
        python -m pytest -q tests/contract/test_contract_stateful.py

Invariants checked: every outcome (success, or the exact revert reason) is the
model's; after every step, for the names it touched (and for every name at the
end of each run), both the raw storage words at the documented slots and the
views give the model's owner, parent, flags, approval epoch and operators,
record count, records with status (by block time), published/revoked times
and index, every attester's attestation and block flag; a revoked
commitment never shows up active again; the commitment in KeyPublished is
keccak256(uint8(key_type) || material) of the logged material; the namehash
the contract returns from register/assign equals ``registry.names.namehash``;
the event digest equals the model's (folded from the events the model
expects, :mod:`registry.chain.layout`) and the one recomputed from the logs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from registry.chain import layout
from registry.keys._common import commitment
from registry.names import keccak256, labelhash, namehash
from registry.psl import suffix_tree

EXAMPLES = int(os.environ.get("KEYANCHOR_STATEFUL_EXAMPLES", "200"))
STEPS = int(os.environ.get("KEYANCHOR_STATEFUL_STEPS", "10"))
ZERO32 = b"\x00" * 32
ZERO_ADDR = "0x" + "00" * 20
GOOD_REASONS = {0, 1, 2, 3, 4, 5, 9, 10}

TOP = ["example.org", "other.test", "org", "web1.example.org", "example.co.uk", "co.uk",
       "10.0.0.1"]
LABELS = [("alice", True), ("web1", False), ("example", False)]
MATERIALS = [b"key-one", b"key-two", b"key-three", b"\x00\x01\x02"]
REVOCATIONS = [b"", b"\x88\x01rev-sig"]

KR = None  # the session's chain, set by the test below


@dataclass
class Rec:
    c: bytes
    index: int
    key_type: int
    purposes: int
    valid_from: int
    valid_until: int
    durable: bool
    material: bytes
    published_at: int
    reason: int | None = None
    revoked_at: int = 0

    def status(self, now: int) -> int:
        if self.reason is not None:
            return 2
        if self.valid_from > now:
            return 3
        if self.valid_until != 0 and self.valid_until <= now:
            return 1
        return 0


@dataclass
class NameState:
    owner: str
    parent: bytes
    person: bool
    renounced: bool = False
    epoch: int = 0
    records: list[Rec] = field(default_factory=list)

    def by_c(self, c: bytes) -> Rec | None:
        return next((r for r in self.records if r.c == c), None)


def _child_text(label: str, person: bool, parent_text: str) -> str:
    return f"{label}@{parent_text}" if person else f"{label}.{parent_text}"


def _numeric(name: str) -> bool:
    last = name.rsplit(".", 1)[-1]
    return last.isdigit() or (last.startswith("0x") and all(c in "0123456789abcdef" for c in last[2:]))


class RegistryMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.kr = KR
        self.kr.snapshot()
        self.names: dict[bytes, NameState] = {}
        self.texts: dict[bytes, str] = {namehash(t): t for t in TOP if not _numeric(t)}
        self.ops: dict[tuple[bytes, str], int] = {}  # (node, operator) -> epoch + 1 (0: none)
        self.atts: dict[tuple[bytes, bytes], dict[bytes, tuple[bytes, int, int]]] = {}
        self.blocked: set[tuple[bytes, bytes]] = set()
        self.revoked: set[tuple[bytes, bytes]] = set()
        # the digest: the model folds the events it expects; the logs are folded separately
        self.digest = self.kr.fn.event_digest().call()
        self.log_digest = self.digest
        self.log_block = self.kr.w3.eth.block_number + 1
        self.touched: set[bytes] = set()

    def teardown(self) -> None:
        try:
            for node in self.texts:
                self.check_storage(node)
                self.check_views(node)
        finally:
            self.kr.revert()

    # -- helpers

    def acct(self, i: int) -> str:
        return self.kr.accounts[i]

    def node_of(self, choice: int) -> bytes:
        """Mostly a registered name; now and then any known one (maybe unregistered)."""
        registered = sorted(self.names, key=lambda n: self.texts[n])
        if registered and choice % 8 != 7:
            return registered[choice % len(registered)]
        known = sorted(self.texts, key=lambda n: self.texts[n])
        return known[choice % len(known)]

    def sender(self, node: bytes, who: int) -> str:
        """Accounts 0-3, or (who 4-9) the current owner of ``node``, so calls often succeed."""
        if who >= 4 and node in self.names:
            return self.names[node].owner
        return self.acct(who % 4)

    def commitment_of(self, node: bytes, choice: int) -> bytes:
        """Mostly a record of ``node``; sometimes a commitment it does not hold."""
        recs = self.names[node].records if node in self.names else []
        if recs and choice % 5 != 4:
            return recs[choice % len(recs)].c
        return commitment(1, b"never published %d" % choice)

    def approved(self, node: bytes, who: str) -> bool:
        name = self.names.get(node)
        return name is not None and self.ops.get((node, who), 0) == name.epoch + 1

    def expect(self, receipt, *events: tuple[str, dict]) -> None:
        """The model's events for a mined transaction: fold them into the model's digest."""
        got = [log for log in receipt.logs]
        assert len(got) == len(events), (events, got)
        for name, fields in events:
            assert bytes(got[events.index((name, fields))]["topics"][0]) == layout.event_topic(name)
            self.digest = layout.fold(self.digest, layout.event_hash(name, fields, receipt.blockNumber))

    def run(self, call, sender: str, error: str | None, want_value: bool = False,
            touched: tuple[bytes, ...] = ()):
        """Run ``call``: refused with ``error`` (checked by eth_call), or succeeds
        (returns (value, receipt); the value only with ``want_value``)."""
        if error is not None:
            from eth_tester.exceptions import TransactionFailed

            with pytest.raises(TransactionFailed) as info:
                call.call({"from": sender})
            assert str(info.value) == f"execution reverted: {error}"
            return None
        value = call.call({"from": sender}) if want_value else None
        self.touched.update(touched)
        return value, self.kr.tx(call, sender)

    def auth_keys(self, node: bytes, sender: str) -> str | None:
        name = self.names.get(node)
        if name is None:
            return "KeyRegistry: name not found"
        if sender != name.owner and not self.approved(node, sender):
            return "KeyRegistry: not owner or operator"
        return None

    def auth_parent(self, node: bytes, sender: str) -> str | None:
        name = self.names.get(node)
        if name is None:
            return "KeyRegistry: name not found"
        if name.parent == ZERO32:
            return "KeyRegistry: top-level name"
        if sender != self.names[name.parent].owner:
            return "KeyRegistry: not parent owner"
        return None

    def publish_error(self, node: bytes, kt: int, vf: int, vu: int, material: bytes) -> str | None:
        if not 1 <= kt <= 3:
            return "KeyRegistry: bad key type"
        if vu != 0 and vu <= vf:
            return "KeyRegistry: bad validity"
        r = self.names[node].by_c(commitment(kt, material))
        if r is not None:
            return "KeyRegistry: key revoked" if r.reason is not None else "KeyRegistry: key already active"
        return None

    def revoke_error(self, node: bytes, c: bytes, reason: int) -> str | None:
        r = self.names[node].by_c(c)
        if r is None:
            return "KeyRegistry: no such record"
        if reason not in GOOD_REASONS:
            return "KeyRegistry: bad reason"
        if r.reason is not None:
            return "KeyRegistry: already revoked"
        return None

    def published(self, receipt, node: bytes, kt: int, purposes: int, vf: int, vu: int,
                  material: bytes, proof: bytes, durable: bool) -> tuple[Rec, tuple[str, dict]]:
        ev = self.kr.events(receipt, "KeyPublished")[0]
        assert ev["commitment"] == commitment(ev["key_type"], ev["material"])
        assert ev["material"] == material and ev["node"] == node
        index = len(self.names[node].records)
        assert ev["index"] == index
        c = commitment(kt, material)
        rec = Rec(c, index, kt, purposes, vf, vu, durable, material, self.kr.block_time(receipt))
        fields = {"node": node, "index": index, "commitment": c, "key_type": kt,
                  "purposes": purposes, "valid_from": vf, "valid_until": vu, "durable": durable,
                  "material": material, "proof": proof}  # fmt: skip
        return rec, ("KeyPublished", fields)

    @initialize()
    def start(self) -> None:
        """A domain with one key, a person under it and an attester, so short runs reach every rule."""
        self.register(0, 0)
        self.publish(0, 1, MATERIALS[0], 0, 0, False, 4)
        self.assign(0, ("alice", True), 1, 4)
        self.register(1, 2)

    # -- names

    @rule(choice=st.integers(0, len(TOP) - 1), who=st.integers(0, 3))
    def register(self, choice: int, who: int) -> None:
        text = TOP[choice]
        sender = self.acct(who)
        node = namehash(text) if not _numeric(text) else None
        if _numeric(text):
            error = "KeyRegistry: numeric top-level label"
        elif not suffix_tree().prove(text).registrable:
            error = "KeyRegistry: not a registrable domain"
        elif node in self.names:
            error = "KeyRegistry: name taken"
        else:
            error = None
        out = self.run(self.kr.fn.register(text, self.kr.proof(text)), sender, error, want_value=True,
                       touched=(node,) if node else ())
        if out is not None:
            assert out[0] == node
            self.names[node] = NameState(sender, ZERO32, False)
            self.expect(out[1], ("NameRegistered", {"node": node, "parent": ZERO32, "owner": sender,
                                                    "label": text, "person": False}))

    @rule(parent=st.integers(0, 50), label=st.sampled_from(LABELS), owner=st.integers(0, 3),
          who=st.integers(0, 9))  # fmt: skip
    def assign(self, parent: int, label: tuple[str, bool], owner: int, who: int) -> None:
        pnode = self.node_of(parent)
        sender, new_owner = self.sender(pnode, who), self.acct(owner)
        text = _child_text(label[0], label[1], self.texts[pnode])
        node = keccak256(pnode + labelhash(label[0], person=label[1]))
        pname = self.names.get(pnode)
        if pname is None:
            error = "KeyRegistry: name not found"
        elif sender != pname.owner:
            error = "KeyRegistry: not parent owner"
        elif pname.person:
            error = "KeyRegistry: person names have no children"
        elif node in self.names:
            error = "KeyRegistry: name taken"
        else:
            error = None
        out = self.run(
            self.kr.fn.assign(pnode, label[0], label[1], new_owner), sender, error, want_value=True,
            touched=(node,))
        if out is not None:
            assert out[0] == node == namehash(text)  # on-chain namehash == the client's
            self.names[node] = NameState(new_owner, pnode, label[1])
            self.texts[node] = text
            self.expect(out[1], ("NameRegistered", {"node": node, "parent": pnode, "owner": new_owner,
                                                    "label": label[0], "person": label[1]}))

    def _new_owner(self, receipt, node: bytes, new_owner: str) -> None:
        name = self.names[node]
        self.expect(receipt, ("OwnershipTransferred",
                              {"node": node, "previous": name.owner, "owner": new_owner}))
        name.owner = new_owner
        name.epoch += 1  # every approval ends

    @rule(choice=st.integers(0, 50), who=st.integers(0, 9))
    def reclaim(self, choice: int, who: int) -> None:
        node = self.node_of(choice)
        sender = self.sender(node, who)
        error = self.auth_parent(node, sender)
        if error is None and self.names[node].renounced:
            error = "KeyRegistry: renounced"
        out = self.run(self.kr.fn.reclaim(node), sender, error, touched=(node,))
        if out is not None:
            self._new_owner(out[1], node, sender)

    @rule(choice=st.integers(0, 50), who=st.integers(0, 9))
    def renounce(self, choice: int, who: int) -> None:
        node = self.node_of(choice)
        name = self.names.get(node)
        parent_owner = self.names[name.parent].owner if name and name.parent != ZERO32 else None
        sender = parent_owner if who >= 4 and parent_owner else self.acct(who % 4)
        out = self.run(self.kr.fn.renounce(node), sender, self.auth_parent(node, sender),
                       touched=(node,))
        if out is not None:
            self.names[node].renounced = True
            self.expect(out[1], ("ChildRenounced", {"node": node, "parent": name.parent}))

    @rule(choice=st.integers(0, 50), to=st.integers(0, 3), who=st.integers(0, 9))
    def transfer(self, choice: int, to: int, who: int) -> None:
        node, new_owner = self.node_of(choice), self.acct(to)
        sender = self.sender(node, who)
        name = self.names.get(node)
        error = None
        if name is None:
            error = "KeyRegistry: name not found"
        elif sender != name.owner:
            error = "KeyRegistry: not owner"
        out = self.run(self.kr.fn.transfer(node, new_owner), sender, error, touched=(node,))
        if out is not None:
            self._new_owner(out[1], node, new_owner)

    @rule(choice=st.integers(0, 50), op=st.integers(0, 3), approved=st.booleans(),
          who=st.integers(0, 9))  # fmt: skip
    def set_operator(self, choice: int, op: int, approved: bool, who: int) -> None:
        node, operator = self.node_of(choice), self.acct(op)
        sender = self.sender(node, who)
        name = self.names.get(node)
        error = None
        if name is None:
            error = "KeyRegistry: name not found"
        elif sender != name.owner:
            error = "KeyRegistry: not owner"
        out = self.run(self.kr.fn.set_operator(node, operator, approved), sender, error,
                       touched=(node,))
        if out is not None:
            self.ops[(node, operator)] = name.epoch + 1 if approved else 0
            self.expect(out[1], ("OperatorSet", {"node": node, "owner": sender, "operator": operator,
                                                 "approved": approved}))

    # -- keys

    @rule(choice=st.integers(0, 50), kt=st.sampled_from([1, 2, 3, 0]),
          material=st.sampled_from(MATERIALS), vf=st.sampled_from([0, -100, 50]),
          vu=st.sampled_from([0, 30, 500, -50]), durable=st.booleans(), who=st.integers(0, 9))  # fmt: skip
    def publish(self, choice, kt, material, vf, vu, durable, who) -> None:
        node = self.node_of(choice)
        sender = self.sender(node, who)
        now = self.kr.now()
        vf, vu = max(0, now + vf) if vf else 0, now + vu if vu else 0
        error = self.auth_keys(node, sender) or self.publish_error(node, kt, vf, vu, material)
        call = self.kr.fn.publish(node, kt, 1 | 4, vf, vu, material, b"proof", durable)
        out = self.run(call, sender, error, touched=(node,))
        if out is not None:
            rec, event = self.published(out[1], node, kt, 1 | 4, vf, vu, material, b"proof", durable)
            self.names[node].records.append(rec)
            self.expect(out[1], event)

    @rule(choice=st.integers(0, 50), pick=st.integers(0, 9), reason=st.sampled_from([0, 1, 4, 6, 10]),
          revocation=st.sampled_from(REVOCATIONS), who=st.integers(0, 9))  # fmt: skip
    def revoke(self, choice, pick, reason, revocation, who) -> None:
        node = self.node_of(choice)
        sender = self.sender(node, who)
        c = self.commitment_of(node, pick)
        error = self.auth_keys(node, sender) or self.revoke_error(node, c, reason)
        out = self.run(self.kr.fn.revoke(node, c, reason, revocation), sender, error,
                       touched=(node,))
        if out is not None:
            r = self.names[node].by_c(c)
            r.reason, r.revoked_at = reason, self.kr.block_time(out[1])
            self.revoked.add((node, c))
            self.expect(out[1], ("KeyRevoked", {"node": node, "index": r.index, "commitment": c,
                                                "reason": reason, "revocation": revocation}))

    @rule(choice=st.integers(0, 50), pick=st.integers(0, 9), kt=st.sampled_from([1, 2]),
          material=st.sampled_from(MATERIALS), who=st.integers(0, 9))  # fmt: skip
    def rotate(self, choice, pick, kt, material, who) -> None:
        node = self.node_of(choice)
        sender = self.sender(node, who)
        c = self.commitment_of(node, pick)
        error = self.auth_keys(node, sender) or self.revoke_error(node, c, 4)
        if error is None:
            old = self.names[node].by_c(c)
            old.reason = 4  # tentatively, as the contract does before publishing
            error = self.publish_error(node, kt, 0, 0, material)
            old.reason = None
        call = self.kr.fn.rotate(node, c, 4, b"r", kt, 8, 0, 0, material, b"", False)
        out = self.run(call, sender, error, touched=(node,))
        if out is not None:
            old = self.names[node].by_c(c)
            old.reason, old.revoked_at = 4, self.kr.block_time(out[1])
            self.revoked.add((node, c))
            new, published = self.published(out[1], node, kt, 8, 0, 0, material, b"", False)
            self.names[node].records.append(new)
            assert self.kr.event(out[1], "KeyRotated") == {
                "node": node, "old_index": old.index, "new_index": new.index,
            }  # fmt: skip
            self.expect(out[1],
                        ("KeyRevoked", {"node": node, "index": old.index, "commitment": c,
                                        "reason": 4, "revocation": b"r"}),
                        published,
                        ("KeyRotated", {"node": node, "old_index": old.index,
                                        "new_index": new.index}))  # fmt: skip

    # -- attestations

    @rule(attester=st.integers(0, 50), choice=st.integers(0, 50), pick=st.integers(0, 9),
          policy=st.sampled_from([b"\x01" * 32, ZERO32]), expires=st.sampled_from([0, 1000, -10]),
          who=st.integers(0, 9))  # fmt: skip
    def attest(self, attester, choice, pick, policy, expires, who) -> None:
        anode, node = self.node_of(attester), self.node_of(choice)
        sender = self.sender(anode, who)
        c = self.commitment_of(node, pick)
        expires = self.kr.now() + expires if expires else 0
        error = self.auth_keys(anode, sender)
        if error is None:
            r = self.names[node].by_c(c) if node in self.names else None
            if node not in self.names:
                error = "KeyRegistry: name not found"
            elif r is None:
                error = "KeyRegistry: no such record"
            elif r.reason is not None:
                error = "KeyRegistry: already revoked"
            elif (node, anode) in self.blocked:
                error = "KeyRegistry: attester blocked"
            elif expires != 0 and expires <= self.kr.now() + 1:
                error = "KeyRegistry: bad expiry"
        out = self.run(self.kr.fn.attest(anode, node, c, policy, expires), sender, error,
                       touched=(node,))
        if out is not None:
            at = self.kr.block_time(out[1])
            self.atts.setdefault((node, c), {})[anode] = (policy, expires, at)
            index = self.names[node].by_c(c).index
            self.expect(out[1], ("Attested", {"node": node, "commitment": c, "attester": anode,
                                              "index": index, "policy_hash": policy,
                                              "expires": expires}))  # fmt: skip

    @rule(attester=st.integers(0, 50), choice=st.integers(0, 50), pick=st.integers(0, 9),
          who=st.integers(0, 9))  # fmt: skip
    def withdraw(self, attester, choice, pick, who) -> None:
        anode, node = self.node_of(attester), self.node_of(choice)
        c = self.commitment_of(node, pick)
        live = sorted((k[0], k[1], a) for k, v in self.atts.items() for a in v)
        if live and choice % 4 != 3:  # mostly an existing attestation
            node, c, anode = live[choice % len(live)]
        sender = self.sender(anode if who % 2 else node, who)
        # the subject's owner/operator may clear any attestation on its records
        error = None if self.auth_keys(node, sender) is None else self.auth_keys(anode, sender)
        if error is None and anode not in self.atts.get((node, c), {}):
            error = "KeyRegistry: no such attestation"
        out = self.run(self.kr.fn.withdraw(anode, node, c), sender, error, touched=(node,))
        if out is not None:
            del self.atts[(node, c)][anode]
            index = self.names[node].by_c(c).index
            self.expect(out[1], ("AttestationWithdrawn", {"node": node, "commitment": c,
                                                          "attester": anode, "index": index}))

    @rule(choice=st.integers(0, 50), attester=st.integers(0, 50), blocked=st.booleans(),
          who=st.integers(0, 9))  # fmt: skip
    def block_attester(self, choice, attester, blocked, who) -> None:
        node, anode = self.node_of(choice), self.node_of(attester)
        sender = self.sender(node, who)
        out = self.run(self.kr.fn.block_attester(node, anode, blocked), sender,
                       self.auth_keys(node, sender), touched=(node,))
        if out is not None:
            (self.blocked.add if blocked else self.blocked.discard)((node, anode))
            self.expect(out[1], ("AttesterBlocked", {"node": node, "attester": anode,
                                                     "blocked": blocked}))

    @rule(seconds=st.sampled_from([1, 40, 600]))
    def travel(self, seconds: int) -> None:
        self.kr.travel(seconds)
        self.touched.update(n for n, name in self.names.items() if name.records)

    # -- the model and the chain agree

    def word(self, slot: int) -> int:
        return self.kr.state(slot)

    def check_storage(self, node: bytes) -> None:
        """The raw storage words (docs/CONTRACT.md layout, registry.chain.layout) against the model."""
        name = self.names.get(node)
        w = layout.decode_name(self.word(layout.name_slot(node)))
        if name is None:
            assert w.owner == ZERO_ADDR
            return
        assert (w.owner, w.record_count, w.epoch, w.person, w.renounced) == (
            name.owner.lower(), len(name.records), name.epoch, name.person, name.renounced)
        assert self.word(layout.parent_slot(node)) == int.from_bytes(name.parent, "big")
        for acct in self.kr.accounts:
            assert self.word(layout.operator_slot(node, acct)) == self.ops.get((node, acct), 0)
        for r in name.records:
            got = layout.decode_record(self.word(layout.record_slot(node, r.c)))
            assert (got.index, got.key_type, got.purposes, got.durable, got.reason, got.valid_from,
                    got.valid_until, got.published_at, got.revoked_at) == (
                r.index, r.key_type, r.purposes, r.durable, r.reason, r.valid_from,
                r.valid_until, r.published_at, r.revoked_at)  # fmt: skip
        for (n, c), live in self.atts.items():
            if n != node:
                continue
            for a in self.texts:
                got_a = layout.decode_attestation(self.word(layout.attestation_slot(node, c, a)))
                want = live.get(a)
                assert got_a.exists is (want is not None)
                if want is not None:
                    assert (got_a.expires, got_a.attested_at) == (want[1], want[2])
                    assert self.word(layout.policy_slot(node, c, a)) == int.from_bytes(want[0], "big")
        for a in self.texts:
            assert self.word(layout.blocked_slot(node, a)) == int((node, a) in self.blocked)

    def check_views(self, node: bytes) -> None:
        """The views against the model."""
        view, now = self.kr.view, self.kr.now()
        name = self.names.get(node)
        if name is None:
            assert view("owner", node) == ZERO_ADDR
            return
        assert view("owner", node) == name.owner.lower()
        if name.parent != ZERO32:
            assert view("renounced", node) is name.renounced
        for acct in self.kr.accounts:
            assert view("is_operator", node, acct) is self.approved(node, acct)
        assert view("record_count", node) == len(name.records)
        if name.records:
            got = view("records", node, [r.c for r in name.records])
            want = [
                {"commitment": r.c, "index": r.index, "key_type": r.key_type,
                 "purposes": r.purposes, "status": r.status(now), "reason": r.reason or 0,
                 "durable": r.durable, "valid_from": r.valid_from, "valid_until": r.valid_until,
                 "published_at": r.published_at, "revoked_at": r.revoked_at}
                for r in name.records
            ]  # fmt: skip
            assert list(got) == want
            for g, r in zip(got, name.records, strict=True):
                if (node, g["commitment"]) in self.revoked:  # a revoked commitment never comes back
                    assert g["status"] == 2
                if r.durable:
                    assert view("material", node, r.c) == r.material
                    assert view("durable_at", node, r.index) == r.c
        attesters = sorted(self.texts)
        for (n, c), live in self.atts.items():
            if n != node:
                continue
            views = view("attestations", node, c, attesters)
            assert {a["attester"]: (a["policy_hash"], a["expires"], a["attested_at"])
                    for a in views if a["attested_at"]} == live  # fmt: skip
            for a in views:
                assert a["blocked"] is ((node, a["attester"]) in self.blocked)

    @invariant()
    def chain_matches_model(self) -> None:
        """After each step the names it touched (storage words and views); the whole
        state at the end of each run (teardown)."""
        for node in self.touched:
            self.check_storage(node)
            self.check_views(node)
        self.touched = set()

    @invariant()
    def digest_matches_model_and_logs(self) -> None:
        onchain = self.kr.view("event_digest")
        assert onchain == self.digest
        assert int.from_bytes(self.word(layout.EVENTS_SLOT).to_bytes(32, "big"), "big") == \
            int.from_bytes(onchain, "big")
        head = self.kr.w3.eth.block_number
        if head >= self.log_block:
            logs = self.kr.w3.eth.get_logs({"address": self.kr.reg.address,
                                            "fromBlock": self.log_block, "toBlock": head})
            self.log_digest = layout.digest_events(
                [_decoded(self.kr, lg) for lg in logs], self.log_digest)
            self.log_block = head + 1
        assert self.log_digest == onchain


def _decoded(kr, log) -> tuple[str, dict, int]:
    from web3.logs import DISCARD

    for item in kr.reg.abi:
        if item["type"] == "event" and layout.event_topic(item["name"]) == bytes(log["topics"][0]):
            event = getattr(kr.reg.events, item["name"])()
            (ev,) = event.process_receipt({"logs": [log]}, errors=DISCARD)
            return item["name"], dict(ev["args"]), log["blockNumber"]
    raise AssertionError(f"unknown log {log}")


@pytest.mark.slow
def test_registry_matches_model(kr):
    global KR
    KR = kr
    try:
        run_state_machine_as_test(
            RegistryMachine,
            settings=settings(
                max_examples=EXAMPLES,
                stateful_step_count=STEPS,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            ),
        )
    finally:
        KR = None
