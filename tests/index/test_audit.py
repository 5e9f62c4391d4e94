"""An endpoint that leaves a log out (or adds, reorders or alters one) is caught.

Every sync page folds its logs into the event digest and compares it with the
contract's ``event_digest()`` at the page's last block, so a withheld
revocation, attestation withdrawal, renunciation or operator removal fails the
page itself (nothing stored; an honest endpoint then syncs it). An endpoint that
also patches the digest view to match its logs is caught by ``--audit``, which
compares every indexed name, record, attestation, child and operator with the
views at the synced block.
"""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import pytest

from registry.chain import layout
from registry.errors import VerificationError
from registry.index import IndexReader, Store, sync_index
from registry.keys import KeyType
from tests.index.conftest import Chain, TamperingW3, ed25519_blob


def _topic(event: str) -> str:
    from registry.chain.client import load_contract

    return "0x" + load_contract().event(event).topic.hex()


def _drop(w3: Any, event: str = "KeyRevoked", *, patch_digest: bool = False,
          after: int = 0) -> TamperingW3:
    """Withhold every ``event`` log of a block above ``after``; with ``patch_digest`` also
    answer ``event_digest()`` with the digest of the logs this endpoint shows (a
    consistent liar)."""
    from registry.chain.client import load_contract

    contract = load_contract()
    topic = _topic(event)
    selector = "0x" + contract.fn("event_digest").selector.hex()

    def shown_digest(block_hash: str) -> str:
        number = w3.eth.get_block(block_hash)["number"]
        logs = w3.eth.get_logs({"fromBlock": 0, "toBlock": number})
        events = []
        for lg in logs:
            if "0x" + bytes(lg["topics"][0]).hex() == topic and lg["blockNumber"] > after:
                continue
            ev = contract.by_topic[bytes(lg["topics"][0])]
            events.append((ev.name, ev.decode(lg), int(lg["blockNumber"])))
        return "0x" + layout.digest_events(events).hex()

    def tamper(method: str, params: Any, resp: Any) -> Any:
        if method == "eth_getLogs":
            resp = copy.deepcopy(resp)
            resp["result"] = [lg for lg in resp["result"] if lg["topics"][0].lower() != topic
                              or int(lg["blockNumber"], 16) <= after]
            return resp
        if patch_digest and method == "eth_call" and params[0]["data"] == selector:
            block = params[1]["blockHash"] if isinstance(params[1], dict) else params[1]
            return {**resp, "result": "0x" + shown_digest(block)[2:].rjust(64, "0")}
        return None

    return TamperingW3(w3, tamper)


def test_withheld_revocation_fails_the_page(embedded: Chain, tmp_path: Any) -> None:
    reg = embedded.reg
    reg.register("audit.org")
    reg.assign("carol@audit.org", reg.account.address)
    reg.publish("carol@audit.org", ed25519_blob(41), key_type=KeyType.SSH, purposes="ssh-user")
    index = tmp_path / "a.sqlite"
    sync_index(index, reg, policy_profile=None)
    with Store.open(index) as st:
        synced = st.synced_block
    reg.revoke("carol@audit.org", 0, "key-compromise")

    lying = (_drop(reg.w3, after=synced), reg.address)
    with pytest.raises(VerificationError, match="do not account for every event"):
        sync_index(index, lying, policy_profile=None)
    with Store.open(index) as st:  # nothing from the page was stored
        assert st.synced_block == synced
    with IndexReader.open(index) as ix:
        assert [r.status for r in ix.records("carol@audit.org")] == ["active"]
    sync_index(index, reg, policy_profile=None)  # an honest endpoint carries on from there
    with IndexReader.open(index) as ix:
        assert [r.status for r in ix.records("carol@audit.org")] == ["revoked"]


def test_consistent_liar_is_caught_by_the_audit(embedded: Chain, tmp_path: Any) -> None:
    """Logs withheld AND the digest view patched to match them: pages pass, the audit
    (the records view still says revoked) does not."""
    reg = embedded.reg
    reg.register("liar.org")
    reg.assign("carol@liar.org", reg.account.address)
    reg.publish("carol@liar.org", ed25519_blob(42), key_type=KeyType.SSH, purposes="ssh-user")
    index = tmp_path / "a.sqlite"
    sync_index(index, reg, policy_profile=None)
    after = reg.w3.eth.block_number
    reg.revoke("carol@liar.org", 0, "key-compromise")

    lying = (_drop(reg.w3, patch_digest=True, after=after), reg.address)
    sync_index(index, lying, policy_profile=None)  # the page check alone cannot see it
    with IndexReader.open(index) as ix:
        assert [r.status for r in ix.records("carol@liar.org")] == ["active"]
        before = ix.status()
    time.sleep(1.1)  # last_sync_time has one-second resolution
    with pytest.raises(VerificationError, match=r"carol@liar\.org|event digest"):
        sync_index(index, lying, policy_profile=None, audit=True)
    with IndexReader.open(index) as ix:  # a failed audit does not refresh the sync time
        assert ix.status().get("last_sync_time") == before.get("last_sync_time")

    honest = sync_index(tmp_path / "b.sqlite", reg, policy_profile=None, audit=True)
    assert honest.audited is not None and honest.audited >= 2
    with IndexReader.open(tmp_path / "b.sqlite") as ix:
        assert [r.status for r in ix.records("carol@liar.org")] == ["revoked"]
    assert json.loads(json.dumps(honest.to_dict()))["audited"] == honest.audited


OTHER = "0x" + "33" * 20


def _attest(reg: Any, case: str) -> None:
    reg.assign(f"ra.{case}.org", reg.account.address)
    reg.attest(f"ra.{case}.org", f"dan@{case}.org", 0, policy_hash=b"\x05" * 32)


def _node(name: str) -> bytes:
    from registry.names import namehash

    return bytes(namehash(name))


SETUP = {  # case -> (before the first sync, the change whose log is withheld, its event,
    #                  the state the index keeps, the audit's error for a consistent liar)
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
    "blocking": (_attest, lambda reg, c: reg.block_attester(f"dan@{c}.org", f"ra.{c}.org"),
                 "AttesterBlocked",
                 lambda st, c: not st.is_blocked(_node(f"dan@{c}.org"), _node(f"ra.{c}.org")),
                 r"dan@blocking\.org: is_blocked"),
}


@pytest.mark.parametrize("case", SETUP)
def test_any_withheld_log_fails_the_page_and_a_consistent_liar_the_audit(
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
    after = reg.w3.eth.block_number
    change(reg, case)

    with pytest.raises(VerificationError, match="do not account for every event"):
        sync_index(index, (_drop(reg.w3, event, after=after), reg.address), policy_profile=None)
    liar = (_drop(reg.w3, event, patch_digest=True, after=after), reg.address)
    sync_index(index, liar, policy_profile=None)  # no other event touches it: the page passes
    with Store.open(index) as st:  # the index still holds the old state
        assert st.synced_block == reg.w3.eth.block_number and stale(st, case)
    with pytest.raises(VerificationError, match=match):
        sync_index(index, liar, policy_profile=None, audit=True)
    honest = sync_index(tmp_path / "b.sqlite", reg, policy_profile=None, audit=True)
    assert honest.audited is not None and honest.audited >= 3


def test_added_reordered_or_altered_logs_fail_the_page(embedded: Chain, tmp_path: Any) -> None:
    reg = embedded.reg
    first = reg.w3.eth.block_number + 1  # a sync from here starts from the digest at first - 1
    reg.register("order.org")
    reg.assign("erin@order.org", reg.account.address)
    reg.publish("erin@order.org", ed25519_blob(7), key_type=KeyType.SSH, purposes="ssh-user")
    reg.publish("erin@order.org", ed25519_blob(8), key_type=KeyType.SSH, purposes="ssh-user")
    reg.revoke("erin@order.org", 0, "superseded", revocation=b"why")

    def lie(kind: str) -> TamperingW3:
        def tamper(method: str, params: Any, resp: Any) -> Any:
            if method != "eth_getLogs" or not resp["result"]:
                return None
            resp = copy.deepcopy(resp)
            logs = resp["result"]
            if kind == "added":
                logs.append(copy.deepcopy(logs[-1]))
                logs[-1]["logIndex"] = hex(int(logs[-1]["logIndex"], 16) + 1)
            elif kind == "swapped":  # two logs of different blocks trade places
                a, b = logs[-1], logs[-2]
                for key in ("topics", "data"):
                    a[key], b[key] = b[key], a[key]
            elif kind == "altered":  # the revocation bytes of KeyRevoked: "why" -> "xhy"
                for lg in logs:
                    if lg["topics"][0].lower() == _topic("KeyRevoked"):
                        assert b"why".hex() in lg["data"]
                        lg["data"] = lg["data"].replace(b"why".hex(), b"xhy".hex())
            return resp
        return TamperingW3(reg.w3, tamper)

    for kind in ("added", "swapped", "altered"):
        with pytest.raises(VerificationError):
            sync_index(tmp_path / f"{kind}.sqlite", (lie(kind), reg.address, first),
                       policy_profile=None)
    assert sync_index(tmp_path / "ok.sqlite", (reg.w3, reg.address, first),
                      policy_profile=None).events >= 3
