"""Stateful property test: random sequences of registry operations by four
accounts, checked after every step against a plain Python model.

Examples: ``KEYANCHOR_STATEFUL_EXAMPLES`` (default 200), up to 8 steps each after a 3-transaction start.

Invariants checked: every outcome (success, or the exact revert reason) is the
model's; after every step every name's owner, parent, flags, records with
status (by block time) and live attestations equal the model's; a revoked
commitment never shows up active again; the commitment in KeyPublished is
keccak256(uint8(key_type) || material) of the logged material; the namehash the
contract returns from register/assign equals ``registry.names.namehash``.
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

from registry.keys._common import commitment
from registry.names import keccak256, labelhash, namehash

EXAMPLES = int(os.environ.get("KEYANCHOR_STATEFUL_EXAMPLES", "200"))
ZERO32 = b"\x00" * 32
ZERO_ADDR = "0x" + "00" * 20
GOOD_REASONS = {0, 1, 2, 3, 4, 5, 9, 10}

TOP = ["org", "example.org", "test", "web1.example.org"]
LABELS = [("alice", True), ("web1", False), ("example", False)]
MATERIALS = [b"key-one", b"key-two", b"key-three", b"\x00\x01\x02"]

KR = None  # the session's chain, set by the test below


@dataclass
class Rec:
    c: bytes
    key_type: int
    purposes: int
    valid_from: int
    valid_until: int
    durable: bool
    material: bytes
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
    records: list[Rec] = field(default_factory=list)


def _child_text(label: str, person: bool, parent_text: str) -> str:
    return f"{label}@{parent_text}" if person else f"{label}.{parent_text}"


class RegistryMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.kr = KR
        self.kr.snapshot()
        self.names: dict[bytes, NameState] = {}
        self.texts: dict[bytes, str] = {namehash(t): t for t in TOP}
        self.ops: dict[tuple[bytes, str, str], bool] = {}
        self.atts: dict[tuple[bytes, int], dict[bytes, tuple[bytes, int, int]]] = {}
        self.revoked: set[tuple[bytes, bytes]] = set()

    def teardown(self) -> None:
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
        """Accounts 0-3, or (who 4-5) the current owner of ``node``, so calls often succeed."""
        if who >= 4 and node in self.names:  # 60%
            return self.names[node].owner
        return self.acct(who % 4)

    def run(self, call, sender: str, error: str | None, want_value: bool = False):
        """Run ``call``: refused with ``error`` (checked by eth_call), or succeeds
        (returns (value, receipt); the value only with ``want_value``)."""
        if error is not None:
            from eth_tester.exceptions import TransactionFailed

            with pytest.raises(TransactionFailed) as info:
                call.call({"from": sender})
            assert str(info.value) == f"execution reverted: {error}"
            return None
        value = call.call({"from": sender}) if want_value else None
        return value, self.kr.tx(call, sender)

    def index_of(self, node: bytes, choice: int) -> int:
        """A record index of ``node``: mostly an existing one, sometimes one past the end."""
        n = len(self.names[node].records) if node in self.names else 0
        return choice % (n + 1) if choice < 4 else choice % max(n, 1)

    def auth_keys(self, node: bytes, sender: str) -> str | None:
        name = self.names.get(node)
        if name is None:
            return "KeyRegistry: name not found"
        if sender != name.owner and not self.ops.get((node, name.owner, sender), False):
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
        recs = self.names[node].records
        if len(recs) >= 32:
            return "KeyRegistry: too many records"
        c = commitment(kt, material)
        for r in recs:
            if r.c == c:
                return (
                    "KeyRegistry: key revoked"
                    if r.reason is not None
                    else "KeyRegistry: key already active"
                )
        return None

    def revoke_error(self, node: bytes, index: int, reason: int) -> str | None:
        recs = self.names[node].records
        if index >= len(recs):
            return "KeyRegistry: no such record"
        if reason not in GOOD_REASONS:
            return "KeyRegistry: bad reason"
        if recs[index].reason is not None:
            return "KeyRegistry: already revoked"
        return None

    def check_published(self, receipt, node: bytes, kt: int, material: bytes, durable: bool) -> Rec:
        ev = self.kr.event(receipt, "KeyPublished")
        assert ev["commitment"] == commitment(ev["key_type"], ev["material"])
        assert ev["material"] == material and ev["node"] == node
        assert ev["index"] == len(self.names[node].records)
        return Rec(ev["commitment"], kt, ev["purposes"], ev["valid_from"], ev["valid_until"],
                   durable, material)  # fmt: skip

    @initialize()
    def start(self) -> None:
        """A domain with one key and a person under it, so short runs reach every rule."""
        self.register("example.org", 0)
        self.publish(0, 1, MATERIALS[0], 0, 0, False, 4)
        self.assign(0, ("alice", True), 1, 4)

    # -- names

    @rule(text=st.sampled_from(TOP), who=st.integers(0, 3))
    def register(self, text: str, who: int) -> None:
        sender = self.acct(who)
        node = namehash(text)
        labels = text.split(".")
        error = None
        for k in range(len(labels) - 1, 0, -1):
            if namehash(".".join(labels[k:])) in self.names:
                error = "KeyRegistry: parent registered"
                break
        if error is None and node in self.names:
            error = "KeyRegistry: name taken"
        out = self.run(self.kr.fn.register(text), sender, error, want_value=True)
        if out is not None:
            assert out[0] == node
            self.names[node] = NameState(sender, ZERO32, False)

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
            self.kr.fn.assign(pnode, label[0], label[1], new_owner), sender, error, want_value=True
        )
        if out is not None:
            assert out[0] == node == namehash(text)  # on-chain namehash == the client's
            assert self.kr.fn.parent(node).call() == pnode
            assert self.kr.fn.is_person(node).call() is label[1]
            self.names[node] = NameState(new_owner, pnode, label[1])
            self.texts[node] = text

    @rule(choice=st.integers(0, 50), who=st.integers(0, 9))
    def reclaim(self, choice: int, who: int) -> None:
        node = self.node_of(choice)
        sender = self.sender(node, who)
        error = self.auth_parent(node, sender)
        if error is None and self.names[node].renounced:
            error = "KeyRegistry: renounced"
        out = self.run(self.kr.fn.reclaim(node), sender, error)
        if out is not None:
            ev = self.kr.event(out[1], "OwnershipTransferred")
            assert ev == {"node": node, "previous": self.names[node].owner, "owner": sender}
            self.names[node].owner = sender

    @rule(choice=st.integers(0, 50), who=st.integers(0, 9))
    def renounce(self, choice: int, who: int) -> None:
        node = self.node_of(choice)
        name = self.names.get(node)
        parent_owner = self.names[name.parent].owner if name and name.parent != ZERO32 else None
        sender = parent_owner if who >= 4 and parent_owner else self.acct(who % 4)
        out = self.run(self.kr.fn.renounce(node), sender, self.auth_parent(node, sender))
        if out is not None:
            self.names[node].renounced = True

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
        out = self.run(self.kr.fn.transfer(node, new_owner), sender, error)
        if out is not None:
            self.names[node].owner = new_owner

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
        out = self.run(self.kr.fn.set_operator(node, operator, approved), sender, error)
        if out is not None:
            self.ops[(node, sender, operator)] = approved
            assert self.kr.fn.is_operator(node, operator).call() is approved

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
        out = self.run(call, sender, error)
        if out is not None:
            self.names[node].records.append(
                self.check_published(out[1], node, kt, material, durable)
            )

    @rule(choice=st.integers(0, 50), index=st.integers(0, 7), reason=st.sampled_from([0, 1, 4, 6, 10]),
          who=st.integers(0, 9))  # fmt: skip
    def revoke(self, choice, index, reason, who) -> None:
        node = self.node_of(choice)
        sender = self.sender(node, who)
        index = self.index_of(node, index)
        error = self.auth_keys(node, sender) or self.revoke_error(node, index, reason)
        out = self.run(self.kr.fn.revoke(node, index, reason), sender, error)
        if out is not None:
            r = self.names[node].records[index]
            r.reason, r.revoked_at = reason, self.kr.block_time(out[1])
            self.revoked.add((node, r.c))

    @rule(choice=st.integers(0, 50), index=st.integers(0, 7), kt=st.sampled_from([1, 2]),
          material=st.sampled_from(MATERIALS), who=st.integers(0, 9))  # fmt: skip
    def rotate(self, choice, index, kt, material, who) -> None:
        node = self.node_of(choice)
        sender = self.sender(node, who)
        index = self.index_of(node, index)
        error = self.auth_keys(node, sender) or self.revoke_error(node, index, 4)
        if error is None:
            old = self.names[node].records[index]
            old.reason = 4  # tentatively, as the contract does before publishing
            error = self.publish_error(node, kt, 0, 0, material)
            old.reason = None
        call = self.kr.fn.rotate(node, index, 4, kt, 8, 0, 0, material, b"", False)
        out = self.run(call, sender, error)
        if out is not None:
            old = self.names[node].records[index]
            old.reason, old.revoked_at = 4, self.kr.block_time(out[1])
            self.revoked.add((node, old.c))
            new = self.check_published(out[1], node, kt, material, False)
            self.names[node].records.append(new)
            assert self.kr.event(out[1], "KeyRotated") == {
                "node": node, "old_index": index, "new_index": len(self.names[node].records) - 1,
            }  # fmt: skip

    # -- attestations

    @rule(attester=st.integers(0, 50), choice=st.integers(0, 50), index=st.integers(0, 7),
          policy=st.sampled_from([b"\x01" * 32, ZERO32]), expires=st.sampled_from([0, 1000, -10]),
          who=st.integers(0, 9))  # fmt: skip
    def attest(self, attester, choice, index, policy, expires, who) -> None:
        anode, node = self.node_of(attester), self.node_of(choice)
        sender = self.sender(anode, who)
        index = self.index_of(node, index)
        expires = self.kr.now() + expires if expires else 0
        error = self.auth_keys(anode, sender)
        if error is None:
            if node not in self.names:
                error = "KeyRegistry: name not found"
            elif index >= len(self.names[node].records):
                error = "KeyRegistry: no such record"
            elif self.names[node].records[index].reason is not None:
                error = "KeyRegistry: already revoked"
            elif expires != 0 and expires <= self.kr.now() + 1:
                error = "KeyRegistry: bad expiry"
        out = self.run(self.kr.fn.attest(anode, node, index, policy, expires), sender, error)
        if out is not None:
            at = self.kr.block_time(out[1])
            self.atts.setdefault((node, index), {})[anode] = (policy, expires, at)

    @rule(attester=st.integers(0, 50), choice=st.integers(0, 50), index=st.integers(0, 7),
          who=st.integers(0, 9))  # fmt: skip
    def withdraw(self, attester, choice, index, who) -> None:
        anode, node = self.node_of(attester), self.node_of(choice)
        live = sorted((k[0], k[1], a) for k, v in self.atts.items() for a in v)
        if live and choice % 4 != 3:  # mostly an existing attestation
            node, index, anode = live[choice % len(live)]
        sender = self.sender(anode, who)
        # the subject's owner/operator may clear any attestation on its records
        error = None if self.auth_keys(node, sender) is None else self.auth_keys(anode, sender)
        if error is None and anode not in self.atts.get((node, index), {}):
            error = "KeyRegistry: no such attestation"
        out = self.run(self.kr.fn.withdraw(anode, node, index), sender, error)
        if out is not None:
            del self.atts[(node, index)][anode]

    @rule(seconds=st.sampled_from([1, 40, 600]))
    def travel(self, seconds: int) -> None:
        self.kr.travel(seconds)

    # -- the model and the chain agree

    @invariant()
    def chain_matches_model(self) -> None:
        fn, now = self.kr.fn, self.kr.now()
        for node in self.texts:
            name = self.names.get(node)
            if name is None:
                assert fn.owner(node).call() == ZERO_ADDR
                continue
            assert fn.owner(node).call() == name.owner
            if name.parent != ZERO32:
                assert fn.renounced(node).call() is name.renounced
            if not name.records:
                assert fn.record_count(node).call() == 0
                continue
            got = fn.records(node).call()
            want = [
                (r.c, r.key_type, r.purposes, r.status(now), r.reason or 0, r.durable,
                 r.valid_from, r.valid_until, 0, r.revoked_at)
                for r in name.records
            ]  # fmt: skip
            assert [tuple(g) for g in got] == want
            for i, (g, r) in enumerate(zip(got, name.records, strict=True)):
                if (node, g[0]) in self.revoked:  # a revoked commitment never comes back
                    assert g[3] == 2
                if r.durable:
                    assert fn.material(node, i).call() == r.material
        for (node, index), live in self.atts.items():
            got = {a[0]: (a[1], a[2], a[3]) for a in fn.attestations(node, index).call()}
            assert got == live


@pytest.mark.slow
def test_registry_matches_model(kr):
    global KR
    KR = kr
    try:
        run_state_machine_as_test(
            RegistryMachine,
            settings=settings(
                max_examples=EXAMPLES,
                stateful_step_count=8,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            ),
        )
    finally:
        KR = None
