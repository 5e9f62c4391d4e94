"""`sync --audit`: an endpoint that leaves a log out is caught.

Page verification compares the contract's views only for what has events in
that page; a revocation, attestation withdrawal, renunciation or operator
removal whose log is withheld touches nothing, so only the audit (every
indexed name, record, child and current owner's operator against the views at
the synced block) sees it.
"""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import pytest

from registry.errors import VerificationError
from registry.index import IndexReader, Store, sync_index
from registry.keys import KeyType
from tests.index.conftest import Chain, TamperingW3, ed25519_blob


def _drop_revocations(w3: Any, event: str = "KeyRevoked") -> TamperingW3:
    from registry.chain.client import load_contract

    topic = "0x" + load_contract().event(event).topic.hex()

    def tamper(method: str, params: Any, resp: Any) -> Any:
        if method != "eth_getLogs":
            return None
        resp = copy.deepcopy(resp)
        resp["result"] = [lg for lg in resp["result"] if lg["topics"][0].lower() != topic]
        return resp

    return TamperingW3(w3, tamper)


def test_withheld_revocation_is_caught_by_the_audit(embedded: Chain, tmp_path: Any) -> None:
    reg = embedded.reg
    reg.register("audit.org")
    reg.assign("carol@audit.org", reg.account.address)
    reg.publish("carol@audit.org", ed25519_blob(41), key_type=KeyType.SSH, purposes="ssh-user")
    index = tmp_path / "a.sqlite"
    sync_index(index, reg, policy_profile=None)
    reg.revoke("carol@audit.org", 0, "key-compromise")

    lying = (_drop_revocations(reg.w3), reg.address)
    sync_index(index, lying, policy_profile=None)  # the page check alone cannot see it
    with IndexReader.open(index) as ix:
        assert [r.status for r in ix.records("carol@audit.org")] == ["active"]
        before = ix.status()
    time.sleep(1.1)  # last_sync_time has one-second resolution
    with pytest.raises(VerificationError, match=r"carol@audit\.org"):
        sync_index(index, lying, policy_profile=None, audit=True)
    with IndexReader.open(index) as ix:  # a failed audit does not refresh the sync time
        assert ix.status().get("last_sync_time") == before.get("last_sync_time")

    honest = sync_index(tmp_path / "b.sqlite", reg, policy_profile=None, audit=True)
    assert honest.audited is not None and honest.audited >= 2
    with IndexReader.open(tmp_path / "b.sqlite") as ix:
        assert [r.status for r in ix.records("carol@audit.org")] == ["revoked"]
    assert json.loads(json.dumps(honest.to_dict()))["audited"] == honest.audited


OTHER = "0x" + "33" * 20


def _attest(reg: Any, case: str) -> None:
    reg.assign(f"ra.{case}.org", reg.account.address)
    reg.attest(f"ra.{case}.org", f"dan@{case}.org", 0, policy_hash=b"\x05" * 32)


def _node(name: str) -> bytes:
    from registry.names import namehash

    return bytes(namehash(name))


SETUP = {  # case -> (before the first sync, the change whose log is withheld, its event,
    #                  the stale state the lying sync leaves, the audit's error)
    "withdrawal": (_attest, lambda reg, c: reg.withdraw(f"ra.{c}.org", f"dan@{c}.org", 0),
                   "AttestationWithdrawn",
                   lambda st, c: len(st.attestations_raw(_node(f"dan@{c}.org"), 0)) == 1,
                   r"dan@withdrawal\.org record 0: .*attestation"),
    "renunciation": (lambda reg, c: reg.assign(f"kid.{c}.org", reg.account.address),
                     lambda reg, c: reg.renounce(f"kid.{c}.org"),
                     "ChildRenounced",
                     lambda st, c: st.renounced_of(_node(f"kid.{c}.org")) is False,
                     r"kid\.renunciation\.org: renounced"),
    "operator": (lambda reg, c: reg.set_operator(f"{c}.org", OTHER),
                 lambda reg, c: reg.set_operator(f"{c}.org", OTHER, approved=False),
                 "OperatorSet",
                 lambda st, c: st.operator_approved(_node(f"{c}.org"), st.owner_of(_node(f"{c}.org")),
                                                    OTHER),
                 r"operator\.org: is_operator"),
}


@pytest.mark.parametrize("case", SETUP)
def test_withheld_log_without_other_events_is_caught_by_the_audit(
        embedded: Chain, tmp_path: Any, case: str) -> None:
    before_sync, change, event, stale, match = SETUP[case]
    reg = embedded.reg
    reg.register(f"{case}.org")
    reg.assign(f"dan@{case}.org", reg.account.address)
    reg.publish(f"dan@{case}.org", ed25519_blob(100 + list(SETUP).index(case)), key_type=KeyType.SSH,
                purposes="ssh-user")
    before_sync(reg, case)
    index = tmp_path / "a.sqlite"
    sync_index(index, reg, policy_profile=None)
    change(reg, case)

    lying = (_drop_revocations(reg.w3, event), reg.address)
    sync_index(index, lying, policy_profile=None)  # no other event touches it: the page passes
    with Store.open(index) as st:  # the index still holds the old state
        assert st.synced_block == reg.w3.eth.block_number and stale(st, case)
    with pytest.raises(VerificationError, match=match):
        sync_index(index, lying, policy_profile=None, audit=True)
    honest = sync_index(tmp_path / "b.sqlite", reg, policy_profile=None, audit=True)
    assert honest.audited is not None and honest.audited >= 3
