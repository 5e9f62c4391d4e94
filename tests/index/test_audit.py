"""`sync --audit`: an endpoint that leaves a KeyRevoked log out is caught.

Page verification compares the contract's view only for names with events in
that page; a revocation whose log is withheld touches no name, so only the
audit (every indexed name against records() at the synced block) sees it.
"""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import pytest

from registry.errors import VerificationError
from registry.index import IndexReader, sync_index
from registry.keys import KeyType
from tests.index.conftest import Chain, TamperingW3, ed25519_blob


def _drop_revocations(w3: Any) -> TamperingW3:
    from registry.chain.client import load_contract

    topic = "0x" + load_contract().event("KeyRevoked").topic.hex()

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
