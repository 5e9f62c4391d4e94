"""registry.chain.client on the embedded chain (proven reads); registry.chain.accounts."""

from __future__ import annotations

import json
from typing import Any

import pytest
from eth_account import Account

from registry.chain import accounts as acc
from registry.chain.client import PublishRequest, Registry
from registry.chain.records import KeyRecord
from registry.errors import (
    AccountError,
    ChainUnavailable,
    ContractRevert,
    InsufficientFunds,
    InvalidName,
    KeyRevoked,
    NameNotFound,
    NameTaken,
    NotOwner,
    RegistryNotFound,
    TransactionTimeout,
    VerificationError,
    WrongChain,
)
from registry.keys import KeyType, Purpose
from tests.chain.conftest import (
    ALICE,
    BOB,
    RA,
    EthTesterChain,
    end_to_end,
    lying,
    raw_keys,
    raw_loader,
)


def _setup_alice(chain: EthTesterChain) -> tuple[Registry, Registry]:
    ra = chain.registry(chain.accounts[RA])
    alice = chain.registry(chain.accounts[ALICE])
    ra.register("example.org")
    ra.assign("alice@example.org", chain.accounts[ALICE].address)
    return ra, alice


# --------------------------------------------------------------------------- end to end


def test_end_to_end_raw_material(raw_chain: EthTesterChain) -> None:
    end_to_end(raw_chain.registry, raw_chain.accounts, raw_keys())


@pytest.mark.tools
def test_end_to_end_real_keys(tester_chain: EthTesterChain, real_keys: Any) -> None:
    end_to_end(tester_chain.registry, tester_chain.accounts, real_keys)


def test_publish_many_pipelined(raw_chain: EthTesterChain) -> None:
    _, alice = _setup_alice(raw_chain)
    reqs = [
        PublishRequest("alice@example.org", b"RAW %d" % i, key_type="ssh", purposes="ssh-user")
        for i in range(5)
    ]
    results = alice.publish_many(reqs)
    assert [r.index for r in results] == [0, 1, 2, 3, 4]
    assert len(alice.lookup("alice@example.org")) == 5


def test_publish_many_refuses_duplicates_before_sending(raw_chain: EthTesterChain) -> None:
    _, alice = _setup_alice(raw_chain)
    address = raw_chain.accounts[ALICE].address
    nonce = raw_chain.w3.eth.get_transaction_count(address)
    req = PublishRequest("alice@example.org", b"RAW x", key_type="ssh")
    from registry.errors import KeyAlreadyActive

    with pytest.raises(KeyAlreadyActive):
        alice.publish_many([req, req])
    assert raw_chain.w3.eth.get_transaction_count(address) == nonce


def test_pending_handles_and_wait(raw_chain: EthTesterChain) -> None:
    _, alice = _setup_alice(raw_chain)
    pending = [
        alice.publish("alice@example.org", b"RAW p%d" % i, key_type="ssh", wait=False)
        for i in range(3)
    ]
    assert [p.wait().index for p in pending] == [0, 1, 2]


def test_expiry_and_pending_status(raw_chain: EthTesterChain) -> None:
    _, alice = _setup_alice(raw_chain)
    now = raw_chain.w3.eth.get_block("latest")["timestamp"]
    alice.publish("alice@example.org", b"RAW soon", key_type="ssh", valid_until=now + 100)
    alice.publish("alice@example.org", b"RAW later", key_type="ssh", valid_from=now + 10_000)
    assert [r.status for r in alice.lookup("alice@example.org")] == ["active", "pending"]
    assert alice.lookup("alice@example.org", include_pending=False)[0].index == 0
    raw_chain.tester.time_travel(now + 200)
    assert [r.status for r in alice.lookup("alice@example.org")] == ["pending"]
    statuses = [r.status for r in alice.lookup("alice@example.org", include_expired=True)]
    assert statuses == ["expired", "pending"]


def test_durable_record_verifies_from_state(raw_chain: EthTesterChain) -> None:
    _, alice = _setup_alice(raw_chain)
    alice.publish("alice@example.org", b"RAW durable", key_type="ssh", durable=True)
    # an endpoint that pruned old logs: the durable copy in state is used (and verified)
    with lying(raw_chain.w3, drop_logs):
        (rec,) = alice.lookup("alice@example.org")
    assert rec.material == b"RAW durable" and rec.durable and rec.proof == b""


def test_name_ops_transfer_operator_reclaim_renounce(raw_chain: EthTesterChain) -> None:
    ra, alice = _setup_alice(raw_chain)
    bob = raw_chain.registry(raw_chain.accounts[BOB])
    bob_addr = raw_chain.accounts[BOB].address
    alice.set_operator("alice@example.org", bob_addr)
    assert alice.is_operator("alice@example.org", bob_addr)
    bob.publish("alice@example.org", b"RAW by operator", key_type="ssh")
    with pytest.raises(NotOwner):
        bob.transfer("alice@example.org", bob_addr)
    ra.reclaim("alice@example.org")
    assert ra.owner("alice@example.org") == raw_chain.accounts[RA].address
    ra.transfer("alice@example.org", raw_chain.accounts[ALICE].address)
    ra.renounce("alice@example.org")
    with pytest.raises(ContractRevert) as info:
        ra.reclaim("alice@example.org")
    assert info.value.reason == "KeyRegistry: renounced"
    kinds = [e.kind for e in ra.history("alice@example.org")]
    assert kinds == [
        "assigned",
        "operator-set",
        "key-published",
        "transferred",
        "transferred",
        "renounced",
    ]


# --------------------------------------------------------------------------- errors


def test_reverts_are_mapped(raw_chain: EthTesterChain) -> None:
    ra, alice = _setup_alice(raw_chain)
    with pytest.raises(NameTaken) as taken:
        ra.register("example.org")
    assert "name taken" in str(taken.value) and taken.value.reason == "KeyRegistry: name taken"
    with pytest.raises(InvalidName, match="not a registrable domain"):
        ra.register("sub.example.org")  # a subdomain: its parent's owner assigns it
    with pytest.raises(InvalidName, match="public suffix"):
        ra.register("co.uk")
    with pytest.raises(InvalidName, match="is a number"):
        ra.register("10.0.0.1")
    with pytest.raises(NotOwner):
        alice.assign("x.example.org", raw_chain.accounts[ALICE].address)
    with pytest.raises(ContractRevert) as info:
        alice.revoke("alice@example.org", 7)
    assert info.value.reason == "KeyRegistry: no such record"
    with pytest.raises(NameNotFound):
        alice.lookup("nobody@example.org")
    sent = raw_chain.w3.eth.get_transaction_count(raw_chain.accounts[ALICE].address)
    with pytest.raises(NameNotFound, match=r"^nobody@example.org is not registered$") as missing:
        alice.publish("nobody@example.org", b"RAW z", key_type="ssh")  # refused at the estimate
    assert missing.value.reason == "KeyRegistry: name not found"
    assert raw_chain.w3.eth.get_transaction_count(raw_chain.accounts[ALICE].address) == sent
    with pytest.raises(InvalidName):
        alice.register("alice@example.org")
    with pytest.raises(InvalidName):
        alice.lookup("bad..name")
    alice.publish("alice@example.org", b"RAW k", key_type="ssh")
    alice.revoke("alice@example.org", 0)
    with pytest.raises(KeyRevoked):
        alice.revoke("alice@example.org", 0)


def test_every_revert_reason_of_the_contract_is_read_whole() -> None:
    """Reasons with a hyphen ("numeric top-level label", "top-level name") were cut at it, so
    callers saw "KeyRegistry: numeric top": every reason in the source is read back whole,
    from a node's message and from ABI-encoded Error(string) data."""
    import re
    from pathlib import Path

    import eth_abi

    from registry.chain.client import _revert_reason

    source = (Path(__file__).resolve().parents[2] / "contracts" / "KeyRegistry.vy").read_text()
    reasons = set(re.findall(r'"KeyRegistry: ([^"]+)"', source))
    assert {"numeric top-level label", "top-level name", "name taken"} <= reasons
    for reason in reasons:
        assert _revert_reason(f"execution reverted: KeyRegistry: {reason}") == reason
        data = "0x08c379a0" + eth_abi.encode(["string"], [f"KeyRegistry: {reason}"]).hex()
        assert _revert_reason(f"reverted with data {data}") == reason


def test_revert_in_receipt_is_mapped(raw_chain: EthTesterChain) -> None:
    ra, _ = _setup_alice(raw_chain)
    # skip estimation with an explicit gas limit: the revert shows in the receipt
    proof = ra.suffix_proof("example.org").as_abi()
    pending = ra.send("register", ["example.org", proof], what="register example.org",
                      gas=300_000)
    with pytest.raises(NameTaken):
        pending.wait()


def test_no_account_and_no_funds(raw_chain: EthTesterChain) -> None:
    reader = raw_chain.registry(None)
    with pytest.raises(AccountError):
        reader.register("example.com")
    poor = raw_chain.registry(Account.create())
    with pytest.raises(InsufficientFunds):
        poor.register("example.com")


def test_wrong_chain_and_missing_registry(raw_chain: EthTesterChain) -> None:
    with pytest.raises(WrongChain):
        raw_chain.registry(None, chain_id=1)
    with pytest.raises(RegistryNotFound):
        Registry.from_web3(raw_chain.w3, account=None, registry_address="0x" + "11" * 20)


def test_unreachable_endpoint() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ChainUnavailable):
        Registry.connect(f"http://127.0.0.1:{port}", request_timeout=2)


def test_receipt_timeout(raw_chain: EthTesterChain) -> None:
    reader = raw_chain.registry(None)
    with pytest.raises(TransactionTimeout):
        reader.wait_for_receipt(b"\x12" * 32, timeout=0.05)


def test_nonce_resync_after_another_sender(raw_chain: EthTesterChain) -> None:
    ra, _ = _setup_alice(raw_chain)
    other = raw_chain.registry(raw_chain.accounts[RA])  # same account, its own nonce counter
    other.register("example.net")
    ra.register("example.com")  # ra's cached nonce is stale: resynced, not stuck
    assert ra.owner("example.com") == raw_chain.accounts[RA].address


# --------------------------------------------------------------------------- tampering


def _flip(value: Any, needle: bytes) -> Any:
    """Flip one byte of ``needle`` wherever it appears in hex text or bytes."""
    if isinstance(value, str) and needle.hex() in value:
        return value.replace(needle.hex(), bytes([needle[0] ^ 1]).hex() + needle[1:].hex())
    if isinstance(value, bytes | bytearray) and needle in value:
        return bytes(value).replace(needle, bytes([needle[0] ^ 1]) + needle[1:])
    return value


NEEDLE = b"RAW tamper-me"


def tamper_logs(method: str, params: Any, reply: Any) -> Any:
    """A lying endpoint: alters the key material in eth_getLogs answers."""
    if method == "eth_getLogs" and isinstance(reply.get("result"), list):
        logs = [{**log, "data": _flip(log["data"], NEEDLE)} for log in reply["result"]]
        return {**reply, "result": logs}
    return None


def drop_logs(method: str, params: Any, reply: Any) -> Any:
    """An endpoint that pruned history: eth_getLogs answers nothing."""
    return {**reply, "result": []} if method == "eth_getLogs" else None


def test_tampered_material_in_logs_is_caught(raw_chain: EthTesterChain) -> None:
    _, alice = _setup_alice(raw_chain)
    alice.publish("alice@example.org", b"RAW fine", key_type="ssh")
    alice.publish("alice@example.org", NEEDLE, key_type="ssh")
    with lying(raw_chain.w3, tamper_logs), pytest.raises(VerificationError) as info:
        alice.lookup("alice@example.org")
    assert "alice@example.org: record 1 does not verify" in str(info.value)
    assert len(alice.lookup("alice@example.org")) == 2  # honest again


def _unrevoke(method: str, params: Any, reply: Any) -> Any:
    """An endpoint that shows revoked records as live (clears the reason bits of record words)."""
    if method != "eth_getProof" or "result" not in reply:
        return None
    result = dict(reply["result"])
    items = []
    for item in result["storageProof"]:
        value = int(item["value"], 16)
        if (value >> 10) & 15:  # a revoked record word: clear the reason bits
            value &= ~(15 << 10)
            item = {**item, "value": hex(value)}
        items.append(item)
    return {**reply, "result": {**result, "storageProof": items}}


def _revoked_second(chain: EthTesterChain) -> tuple[Registry, KeyRecord]:
    _, alice = _setup_alice(chain)
    alice.publish("alice@example.org", b"RAW honest", key_type="ssh")
    alice.publish("alice@example.org", b"RAW revoked", key_type="ssh")
    alice.revoke("alice@example.org", 1, "key-compromise")
    return alice, alice.lookup("alice@example.org")[0]


def test_views_are_not_evidence_and_proofs_are_checked(raw_chain: EthTesterChain) -> None:
    """A lie in the records() view changes nothing (reads are proven); a lie in the proven
    record word (revoked -> active) is caught."""
    alice, rec = _revoked_second(raw_chain)

    def flip_view(method: str, params: Any, reply: Any) -> Any:
        if method == "eth_call":
            return {**reply, "result": _flip(reply["result"], rec.commitment)}
        return None

    with lying(raw_chain.w3, flip_view):
        assert [r.commitment for r in alice.lookup("alice@example.org")] == [rec.commitment]

    fresh = raw_chain.registry(None)  # nothing proven yet: every word is asked for
    with lying(raw_chain.w3, _unrevoke), pytest.raises(VerificationError, match="proof shows"):
        fresh.lookup("alice@example.org")


def test_proven_values_are_reused_at_a_block_and_proven_again_at_the_next(
        raw_chain: EthTesterChain) -> None:
    """At the block it was proven at, a record set is not asked again (a lie then changes
    nothing); at a block with another state root every word is proven again, and the lie
    is refused."""
    alice, rec = _revoked_second(raw_chain)
    assert alice.owner("alice@example.org") == raw_chain.accounts[ALICE].address
    asked: list[str] = []

    def counting(method: str, params: Any, reply: Any) -> Any:
        asked.append(method)
        return _unrevoke(method, params, reply)

    with lying(raw_chain.w3, counting):
        assert [r.commitment for r in alice.lookup("alice@example.org")] == [rec.commitment]
        assert alice.owner("alice@example.org") == raw_chain.accounts[ALICE].address
    assert "eth_getProof" not in asked and "eth_getLogs" not in asked
    assert "eth_getBlockByNumber" in asked  # the head is asked every time
    raw_chain.tester.mine_blocks(1)  # an empty block: the same state root, the same words
    with lying(raw_chain.w3, counting):
        assert [r.commitment for r in alice.lookup("alice@example.org")] == [rec.commitment]
    raw_chain.registry(raw_chain.accounts[RA]).register("example.net")  # a new state root
    with lying(raw_chain.w3, counting), pytest.raises(VerificationError, match="proof shows"):
        alice.lookup("alice@example.org")
    with lying(raw_chain.w3, counting), pytest.raises(VerificationError, match="proof shows"):
        alice.records("alice@example.org")
    # the refused values were not kept: honest again, the same answer
    assert [r.commitment for r in alice.lookup("alice@example.org")] == [rec.commitment]
    assert [r["status"] for r in alice.records("alice@example.org")] == [0, 2]


def test_missing_event_is_caught(raw_chain: EthTesterChain) -> None:
    _, alice = _setup_alice(raw_chain)
    alice.publish("alice@example.org", b"RAW gone", key_type="ssh")
    with lying(raw_chain.w3, drop_logs), pytest.raises(VerificationError, match="record 0"):
        alice.lookup("alice@example.org")


def test_unparseable_material_is_caught(raw_chain: EthTesterChain) -> None:
    _, alice = _setup_alice(raw_chain)
    alice.publish("alice@example.org", b"RAW ok", key_type="ssh")
    strict = raw_chain.registry(None, material_loader=_refuse_all)
    with pytest.raises(VerificationError, match="does not parse"):
        strict.lookup("alice@example.org")


def _refuse_all(key_type: KeyType, material: bytes) -> Any:
    from registry.errors import KeyFormatError

    raise KeyFormatError("nope")


# --------------------------------------------------------------------------- records / accounts


def test_key_record_to_dict_is_json(raw_chain: EthTesterChain) -> None:
    _, alice = _setup_alice(raw_chain)
    alice.publish("alice@example.org", b"RAW j", key_type="ssh", purposes=Purpose.SSH_HOST)
    (rec,) = alice.lookup("alice@example.org")
    assert isinstance(rec, KeyRecord)
    data = json.loads(json.dumps(rec.to_dict()))
    assert data["purposes"] == ["ssh-host"] and data["material"] == "0x" + b"RAW j".hex()
    assert data["published_at"].endswith("Z")


FAST = 2  # scrypt work factor for tests only


def test_keystore_round_trip(tmp_path: Any) -> None:
    info = acc.new_keystore(tmp_path / "ks" / "a.json", "correct horse", iterations=FAST)
    assert (info.path.stat().st_mode & 0o777) == 0o600
    account = acc.load_keystore(info.path, password="correct horse")
    assert account.address == info.address
    assert acc.list_keystores(tmp_path / "ks") == [info]
    with pytest.raises(AccountError, match="wrong password"):
        acc.load_keystore(info.path, password="wrong")
    with pytest.raises(AccountError, match="already exists"):
        acc.new_keystore(info.path, "x", iterations=FAST)
    env = {acc.ENV_PASSWORD: "correct horse"}
    assert acc.load_account(info.path, env=env).address == info.address
    asked: list[str] = []

    def prompt(path: str) -> str:
        asked.append(path)
        return "correct horse"

    assert acc.load_account(info.path, prompt=prompt, env={}).address == info.address
    assert asked == [str(info.path)]
    with pytest.raises(AccountError, match="needs a password"):
        acc.load_account(info.path, env={})


def test_import_key_and_env_never_echo_the_key(tmp_path: Any) -> None:
    secret = Account.create()
    hexkey = secret.key.hex()
    info = acc.import_private_key(hexkey, tmp_path, "pw", iterations=FAST)
    assert info.address == secret.address and info.path.parent == tmp_path
    assert hexkey not in info.path.read_text()
    assert acc.load_account(env={acc.ENV_PRIVATE_KEY: hexkey}).address == secret.address
    bad = hexkey[:-2] + "zz"
    for attempt in (
        lambda: acc.load_account(env={acc.ENV_PRIVATE_KEY: bad}),
        lambda: acc.import_private_key(bad, tmp_path / "b.json", "pw", iterations=FAST),
    ):
        with pytest.raises(AccountError) as info_err:
            attempt()
        assert bad not in str(info_err.value) and hexkey[:-2] not in str(info_err.value)
        assert info_err.value.__cause__ is None
    with pytest.raises(AccountError, match="no account"):
        acc.load_account(env={})
    with pytest.raises(AccountError, match="not a V3 keystore"):
        (tmp_path / "junk.json").write_text("[]")
        acc.load_keystore(tmp_path / "junk.json", password="pw")
    assert [k.address for k in acc.list_keystores(tmp_path)] == [secret.address]


@pytest.mark.parametrize("cut", [lambda k: k[:-1], lambda k: "0x" + k[:-1],
                                 lambda k: k[:-2], lambda k: k + "0"])
def test_a_truncated_private_key_is_refused_not_padded_into_another(
        tmp_path: Any, cut: Any) -> None:
    # eth-account left-pads 63 hex digits into a valid key: a paste that lost its last
    # digit used to become a different account, saved and used without a word.
    short = cut(Account.create().key.hex().removeprefix("0x"))
    env = {acc.ENV_PRIVATE_KEY: short}
    for attempt in (
        lambda: acc.import_private_key(short, tmp_path / "t.json", "pw", iterations=FAST),
        lambda: acc.load_account(env=env),
        lambda: acc.address_from_env(env),
    ):
        with pytest.raises(AccountError, match="64 hex digits") as err:
            attempt()
        assert short not in str(err.value)
    assert not (tmp_path / "t.json").exists()
    with pytest.raises(AccountError, match="64 hex digits"):
        acc.import_private_key(b"\x01" * 31, tmp_path / "t.json", "pw", iterations=FAST)


def test_embedded_chain_round_trip(tmp_path: Any) -> None:
    state = tmp_path / "chain.db"
    with Registry.embedded(state, material_loader=raw_loader) as reg:
        reg.register("example.org")
        reg.publish("example.org", b"RAW embedded", key_type="ssh", purposes="ssh-host")
    with Registry.embedded(state, material_loader=raw_loader) as again:  # state kept in the file
        (rec,) = again.lookup("example.org")
        assert rec.material == b"RAW embedded" and rec.purposes == Purpose.SSH_HOST


def test_confirmation_depth(raw_chain: EthTesterChain) -> None:
    ra = raw_chain.registry(raw_chain.accounts[RA])
    pending = ra.register("example.org", wait=False)
    with pytest.raises(TransactionTimeout, match="1 confirmations"):
        pending.wait(timeout=0.05, confirmations=1)
    raw_chain.tester.mine_blocks(1)
    assert pending.wait(timeout=5, confirmations=1).node is not None


def test_lookup_many_is_each_lookup_in_one_logs_and_one_proof_request(
        raw_chain: EthTesterChain) -> None:
    ra, alice = _setup_alice(raw_chain)
    ra.assign("bob@example.org", raw_chain.accounts[BOB].address)
    bob = raw_chain.registry(raw_chain.accounts[BOB])
    alice.publish("alice@example.org", b"RAW a0", key_type="ssh")
    alice.publish("alice@example.org", b"RAW a1", key_type="ssh")
    bob.publish("bob@example.org", NEEDLE, key_type="ssh")  # tamper_logs alters it
    names = ["alice@example.org", "bob@example.org", "example.org"]
    single = {n: raw_chain.registry(None).lookup(n) for n in names}
    asked: list[str] = []

    def counting(method: str, params: Any, reply: Any) -> Any:
        asked.append(method)
        return None

    fresh = raw_chain.registry(None)
    with lying(raw_chain.w3, counting):
        many = fresh.lookup_many(names)
    assert many == single and [len(v) for v in many.values()] == [2, 1, 0]
    assert asked.count("eth_getLogs") == 1 and asked.count("eth_getProof") == 1
    with pytest.raises(NameNotFound, match=r"nobody@example\.org is not registered"):
        fresh.lookup_many(["alice@example.org", "nobody@example.org"])
    with lying(raw_chain.w3, tamper_logs), pytest.raises(VerificationError,
                                                        match=r"bob@example\.org: record 0"):
        raw_chain.registry(None).lookup_many(names)
