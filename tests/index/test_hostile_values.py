"""Values the contract accepts that a stranger (or the name's owner) can put on chain.

A far-future ``valid_until`` (the contract allows up to 2**38, year 10680) or an
attestation that ``expires`` at 2**64 - 1 (any name owner may attest any
record) must not break sync, lookups, the SSH gateway or the page.
"""

from __future__ import annotations

from typing import Any

import pytest

from registry.index import IndexReader, sync_index
from registry.keys import KeyType
from tests.index.conftest import Chain, ed25519_blob

FAR = 2**38 - 1  # the contract's largest valid_until (MAX_TIME - 1): year 10680
NEVER = 2**64 - 1  # the largest attestation expiry the contract takes


@pytest.fixture(scope="module")
def hostile(embedded: Chain) -> Chain:
    reg = embedded.reg
    me = reg.account.address
    reg.register("example.org")
    reg.assign("alice@example.org", me)
    reg.publish("alice@example.org", ed25519_blob(1), key_type=KeyType.SSH, purposes="ssh-user",
                valid_until=FAR)
    reg.register("stranger.net")  # anyone can register a top-level name and attest any record
    reg.attest("stranger.net", "alice@example.org", 0, expires=NEVER)
    return embedded


def test_sync_survives_an_attestation_that_never_expires(hostile: Chain, tmp_path: Any) -> None:
    index = tmp_path / "i.sqlite"
    res = sync_index(index, hostile.reg, policy_profile=None)
    assert res.events >= 5
    with IndexReader.open(index, max_staleness=60) as ix:
        recs = ix.records("alice@example.org")
        assert [(r.status, r.valid_until) for r in recs] == [("active", FAR)]
        assert ix.conn.execute("SELECT count(*) FROM attestations").fetchone()[0] == 1


def test_client_lookup_with_far_future_times(hostile: Chain) -> None:
    (rec,) = hostile.reg.lookup("alice@example.org", attestations=True)
    assert rec.valid_until is not None and rec.valid_until.year == 9999
    (att,) = rec.attestations
    assert att.attester == "stranger.net"
    assert att.expires is not None and att.expires.year == 9999


def test_ssh_and_page_serve_a_far_future_record(hostile: Chain, safe_tmp: Any) -> None:
    from registry.gateways.http import Gateway
    from registry.gateways.ssh import SSHSettings, authorized_keys
    from registry.gateways.web import render_name

    index = safe_tmp / "s.sqlite"
    sync_index(index, hostile.reg, policy_profile=None)
    settings = SSHSettings(index, "{user}@example.org", allow_unchecked=True)
    lines = authorized_keys("alice", settings).splitlines()
    assert len(lines) == 1 and lines[0].startswith('expiry-time="99991231235959Z" ssh-ed25519 ')
    view = Gateway(index).name_view("alice@example.org")
    assert view is not None
    page = render_name(view, [])
    assert "9999-12-31" in page or "10680" in page


def test_logs_outside_the_requested_range_are_refused(hostile: Chain, tmp_path: Any) -> None:
    """A lying endpoint answering a page with every log it has (here: the attestation of a later
    block, an event the records()/owner() check does not cover) must not get it stored early."""
    import copy

    from registry.errors import VerificationError
    from registry.index import Store
    from tests.index.conftest import TamperingW3

    inner = hostile.reg.w3.provider
    everything = inner.make_request("eth_getLogs", [{"address": hostile.reg.address,
                                                     "fromBlock": "0x0", "toBlock": "latest"}])
    last = max(int(lg["blockNumber"], 16) for lg in everything["result"])

    def tamper(method: str, params: Any, resp: Any) -> Any:
        if method != "eth_getLogs":
            return None
        resp = copy.deepcopy(resp)
        have = {(lg["blockNumber"], lg["logIndex"]) for lg in resp["result"]}
        resp["result"] += [lg for lg in copy.deepcopy(everything["result"])
                           if int(lg["blockNumber"], 16) == last
                           and (lg["blockNumber"], lg["logIndex"]) not in have]
        return resp

    index = tmp_path / "r.sqlite"
    with pytest.raises(VerificationError, match="outside"):
        sync_index(index, (TamperingW3(hostile.reg.w3, tamper), hostile.reg.address),
                   page_blocks=1, max_page_blocks=1, policy_profile=None)
    with Store.open(index) as s:
        assert s.conn.execute("SELECT count(*) FROM attestations").fetchone()[0] == 0
