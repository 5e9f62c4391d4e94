"""Registry.check_record counts attestations by owner, on an eth-tester chain (issue 10, item 12).

Alice owns ``alice@example.org`` (assigned by the RA, who owns ``example.org``)
and registers ``alice-sock.org`` herself: attesting her own record from that
second name must not meet a policy's attestation requirement.
"""

from __future__ import annotations

import json

from registry.keys import KeyType, Purpose
from registry.policy import LINTS, Status, load_lints
from registry.policy.profiles import parse_policy
from tests.chain.conftest import ALICE, RA, EthTesterChain


def _only_attestations(trusted: list[str]) -> object:
    load_lints()
    others = [i for i in LINTS if i != "key.attestations"]
    return parse_policy(f"exclude = {json.dumps(others)}\n[params]\n"
                        f'"key.attestations".min = 1\n'
                        f'"key.attestations".trusted = {json.dumps(trusted)}\n')


def test_owner_attesting_its_own_record_from_a_second_name_does_not_count(
        raw_chain: EthTesterChain) -> None:
    """Sybil through the chain client: the attestation is live on chain, but from the key's owner."""
    ra = raw_chain.registry(raw_chain.accounts[RA])
    alice = raw_chain.registry(raw_chain.accounts[ALICE])
    ra.register("example.org")
    ra.assign("alice@example.org", raw_chain.accounts[ALICE].address)
    alice.register("alice-sock.org")
    idx = alice.publish("alice@example.org", b"RAW ssh key", key_type=KeyType.SSH,
                        purposes=Purpose.SSH_USER).index
    alice.attest("alice-sock.org", "alice@example.org", idx)
    rec = alice.lookup("alice@example.org", attestations=True)[0]
    assert [a.attester for a in rec.attestations] == ["alice-sock.org"]

    report = alice.check_record(rec, policy=_only_attestations(["alice-sock.org"]))
    result = report.result("key.attestations")
    assert result.status == Status.ERROR and "same or unknown owner" in result.details

    ra.attest("example.org", "alice@example.org", idx)  # the RA: another owner, the parent
    rec = alice.lookup("alice@example.org", attestations=True)[0]
    for trusted in (["@parent"], ["example.org", "alice-sock.org"]):
        report = alice.check_record(rec, policy=_only_attestations(trusted))
        assert report.result("key.attestations").status == Status.PASS, trusted
