"""An endpoint that leaves a log out (or adds, reorders or alters one) is caught; so is an
index that diverged from the chain.

Every sync page folds its logs into the event digest and compares it with the
digest the contract's state proves (EIP-1186, slot 0) at the page's last block,
so a withheld revocation, attestation withdrawal, renunciation or operator
removal fails the page itself (nothing stored; an honest endpoint then syncs
it), also when the endpoint patches the ``event_digest()`` view and the value
in its proof to match its logs (the proof then does not verify). ``--audit``
re-hashes every stored record and compares every indexed name with storage
proofs: an index altered on disk is rolled back and synced again.
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
    answer ``event_digest()`` and the value of slot 0 in ``eth_getProof`` with the digest
    of the logs this endpoint shows (a consistent liar)."""
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
        if patch_digest and method == "eth_getProof" and "result" in resp:
            block = params[2]["blockHash"] if isinstance(params[2], dict) else params[2]
            items = [dict(it, value=hex(int(shown_digest(block), 16))) if int(it["key"], 16) == 0
                     else it for it in resp["result"]["storageProof"]]
            return {**resp, "result": {**resp["result"], "storageProof": items}}
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


def test_consistent_liar_fails_the_page(embedded: Chain, tmp_path: Any) -> None:
    """Logs withheld AND the digest (view and proof value) patched to match them: the proof
    of slot 0 does not verify against the trusted state root, so the page fails too."""
    reg = embedded.reg
    reg.register("liar.org")
    reg.assign("carol@liar.org", reg.account.address)
    reg.publish("carol@liar.org", ed25519_blob(42), key_type=KeyType.SSH, purposes="ssh-user")
    index = tmp_path / "a.sqlite"
    sync_index(index, reg, policy_profile=None)
    after = reg.w3.eth.block_number
    reg.revoke("carol@liar.org", 0, "key-compromise")
    with IndexReader.open(index) as ix:
        before = ix.status()
    time.sleep(1.1)  # last_sync_time has one-second resolution

    lying = (_drop(reg.w3, patch_digest=True, after=after), reg.address)
    with pytest.raises(VerificationError, match="proof shows"):
        sync_index(index, lying, policy_profile=None)
    with IndexReader.open(index) as ix:  # nothing stored, the sync time not refreshed
        after_status = ix.status()
    assert {k: v for k, v in after_status.items() if k != "age_seconds"} == \
        {k: v for k, v in before.items() if k != "age_seconds"}
    honest = sync_index(index, reg, policy_profile=None, audit=True)
    assert honest.audited is not None and honest.audited >= 2 and honest.diverged == []
    with IndexReader.open(index) as ix:
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
    #                  the state the index keeps)
    "withdrawal": (_attest, lambda reg, c: reg.withdraw(f"ra.{c}.org", f"dan@{c}.org", 0),
                   "AttestationWithdrawn",
                   lambda st, c: len(st.attestations_raw(_node(f"dan@{c}.org"), 0)) == 1),
    "renunciation": (lambda reg, c: reg.assign(f"kid.{c}.org", reg.account.address),
                     lambda reg, c: reg.renounce(f"kid.{c}.org"),
                     "ChildRenounced",
                     lambda st, c: st.renounced_of(_node(f"kid.{c}.org")) is False),
    "operator": (lambda reg, c: reg.set_operator(f"{c}.org", OTHER),
                 lambda reg, c: reg.set_operator(f"{c}.org", OTHER, approved=False),
                 "OperatorSet",
                 lambda st, c: st.operator_approved(_node(f"{c}.org"), st.owner_of(_node(f"{c}.org")),
                                                    OTHER)),
    "blocking": (_attest, lambda reg, c: reg.block_attester(f"dan@{c}.org", f"ra.{c}.org"),
                 "AttesterBlocked",
                 lambda st, c: not st.is_blocked(_node(f"dan@{c}.org"), _node(f"ra.{c}.org"))),
}


@pytest.mark.parametrize("case", SETUP)
def test_any_withheld_log_fails_the_page_even_with_a_patched_digest(
        embedded: Chain, tmp_path: Any, case: str) -> None:
    before_sync, change, event, stale = SETUP[case]
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

    for patch in (False, True):
        liar = (_drop(reg.w3, event, patch_digest=patch, after=after), reg.address)
        with pytest.raises(VerificationError, match="proof shows" if patch else "every event"):
            sync_index(index, liar, policy_profile=None)
        with Store.open(index) as st:  # the index still holds the old state, and says so
            assert st.synced_block == after and stale(st, case)
    honest = sync_index(index, reg, policy_profile=None, audit=True)
    assert honest.audited is not None and honest.audited >= 3 and honest.diverged == []
    with Store.open(index) as st:
        assert not stale(st, case)


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


def _altered(index: Any, sql: str, args: tuple[Any, ...] = ()) -> None:
    """Change the index's working file behind keyanchor's back (a bit flip, a hostile user)."""
    import sqlite3

    from registry.index._store import work_path

    with sqlite3.connect(work_path(index)) as conn:
        if sql.startswith("INSERT OR IGNORE INTO texts"):
            first, _, sql = sql.partition("; ")
            conn.execute(first)
        if sql == "flip":
            args = conn.execute("SELECT id FROM names WHERE name = 'fay@disk.org'").fetchone()
            (material,) = conn.execute("SELECT material FROM records WHERE name_id = ? AND idx = 0",
                                       args).fetchone()
            flipped = bytes(material[:40]) + bytes([material[40] ^ 1]) + bytes(material[41:])
            sql, args = "UPDATE records SET material = ? WHERE name_id = ? AND idx = 0", (flipped, *args)
        assert conn.execute(sql, args).rowcount >= 1


def test_audit_repairs_an_index_altered_on_disk(embedded: Chain, tmp_path: Any) -> None:
    """A flipped material byte, an undone revocation, a changed owner, a wrong stored digest:
    each is found against the proofs, rolled back and synced again (never served as is)."""
    reg = embedded.reg
    reg.register("disk.org")
    reg.assign("fay@disk.org", reg.account.address)
    reg.publish("fay@disk.org", ed25519_blob(61), key_type=KeyType.SSH, purposes="ssh-user")
    reg.publish("fay@disk.org", ed25519_blob(62), key_type=KeyType.SSH, purposes="ssh-user")
    reg.revoke("fay@disk.org", 1, "key-compromise")
    index = tmp_path / "d.sqlite"
    sync_index(index, reg, policy_profile=None)
    with Store.open(index) as st:
        reference = st.digest()
    fay = "(SELECT id FROM names WHERE name = 'fay@disk.org')"
    for what, sql, args in (
            ("material", "flip", ()),
            ("record 1", "UPDATE records SET revoked_at = 0, reason = NULL, revoked_block = NULL"
                         f" WHERE name_id = {fay} AND idx = 1", ()),
            ("owner", "INSERT OR IGNORE INTO texts (text) VALUES ('0x" + "44" * 20 + "');"
                      " UPDATE names SET owner = (SELECT id FROM texts WHERE text = '0x" + "44" * 20
                      + f"') WHERE id = {fay}", ())):
        _altered(index, sql, args)
        res = sync_index(index, reg, policy_profile=None, audit=True)
        assert res.diverged and what in res.diverged[0], (what, res.diverged)
        assert res.rolled_back_to is not None and res.removed_events > 0
        with Store.open(index) as st:
            assert st.digest() == reference, what
    _altered(index, "UPDATE meta SET value = ? WHERE key = 'head_digest'", ("00" * 32,))
    _altered(index, "UPDATE meta SET value = ? WHERE key = 'event_digest'", ("00" * 32,))
    res = sync_index(index, reg, policy_profile=None)  # a plain sync proves the stored digest
    assert res.diverged and "event digest" in res.diverged[0]
    with Store.open(index) as st:
        assert st.digest() == reference
