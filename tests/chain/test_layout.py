"""The storage layout docs/CONTRACT.md documents, checked on real chains.

Every documented slot is computed from its formula (:mod:`registry.chain.layout`),
read with ``eth_getStorageAt`` and decoded with the documented bit layout, and
must equal what the views say: on the embedded chain and on anvil. Issue 12's
storage proofs rely on exactly these slots. Also: the slot numbers are the
compiler's, and the event digest recomputed from the logs alone equals the
contract's.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from registry.chain import layout
from registry.chain.client import Registry
from registry.keys import KeyType, commitment
from registry.names import namehash
from tests.chain.conftest import raw_loader
from tests.conftest import Anvil, skip_or_fail

ROOT = Path(__file__).resolve().parents[2]
ZERO32 = b"\x00" * 32


def _word(reg: Registry, slot: int) -> int:
    raw = reg.w3.eth.get_storage_at(reg.address, slot)  # type: ignore[arg-type]
    return int.from_bytes(bytes(raw), "big")


def _logs_digest(reg: Registry) -> bytes:
    """The event digest folded from eth_getLogs alone (nothing else is read)."""
    logs = reg.w3.eth.get_logs({"address": reg.address, "fromBlock": 0, "toBlock": "latest"})
    events = []
    for log in sorted(logs, key=lambda lg: (lg["blockNumber"], lg["logIndex"])):
        event = reg.contract.by_topic[bytes(log["topics"][0])]
        events.append((event.name, event.decode(log), int(log["blockNumber"])))
    return layout.digest_events(events)


def check_layout(owner: Registry, other: Registry, stranger: str) -> None:
    """Make state of every kind, then check each documented slot against the views."""
    owner.register("example.org")
    owner.assign("web1.example.org", other.sender)
    owner.renounce("web1.example.org")
    owner.assign("alice@example.org", other.sender)
    owner.set_operator("example.org", stranger)
    owner.register("ra.test")
    keys = [(KeyType.SSH, b"RAW ssh %d" % i) for i in range(3)]
    for i, (kt, material) in enumerate(keys):
        owner.publish("example.org", material, key_type=kt, purposes="ssh-user,ca",
                      valid_from=1_000 + i, valid_until=2**40 - 1 - i, durable=i == 2)
    cs = [commitment(kt, m) for kt, m in keys]
    owner.revoke("example.org", cs[1], "key-compromise", revocation=b"rev sig")
    owner.attest("ra.test", "example.org", cs[0], policy_hash=b"\x44" * 32, expires=2**50)
    owner.block_attester("example.org", "web1.example.org")

    node, child, person = (namehash(n) for n in ("example.org", "web1.example.org",
                                                  "alice@example.org"))
    view = owner._call_raw
    # names: owner, record count, approval epoch, person, renounced, length; parent link
    for n, text in ((node, "example.org"), (child, "web1.example.org"),
                    (person, "alice@example.org")):
        w = layout.decode_name(_word(owner, layout.name_slot(n)))
        assert w.owner == str(view("owner", [n], "owner")).lower()
        assert w.record_count == view("record_count", [n], "count")
        assert w.person is view("is_person", [n], "person")
        assert w.renounced is view("renounced", [n], "renounced")
        assert w.length == (0 if "@" in text else len(text))
        parent = _word(owner, layout.parent_slot(n)).to_bytes(32, "big")
        assert parent == bytes(view("parent", [n], "parent"))
    assert layout.decode_name(_word(owner, layout.name_slot(child))).renounced is True
    assert layout.decode_name(_word(owner, layout.name_slot(node))).record_count == 3
    # operators: approved iff the word equals the name's epoch + 1
    epoch = layout.decode_name(_word(owner, layout.name_slot(node))).epoch
    for who in (stranger, other.sender):
        approved = _word(owner, layout.operator_slot(node, who)) == epoch + 1
        assert approved is view("is_operator", [node, who], "operator")
    assert view("is_operator", [node, stranger], "operator") is True
    # records: one word each holds commitment-keyed state, index included
    views = view("records", [node, cs], "records")
    for c, v in zip(cs, views, strict=True):
        w = layout.decode_record(_word(owner, layout.record_slot(node, c)))
        assert (w.index, w.key_type, w.purposes, w.durable) == (
            v["index"], v["key_type"], v["purposes"], v["durable"])
        assert (w.valid_from, w.valid_until, w.published_at, w.revoked_at) == (
            v["valid_from"], v["valid_until"], v["published_at"], v["revoked_at"])
        assert (w.reason or 0, w.reason is not None) == (v["reason"], v["status"] == 2)
        assert w.status(int(owner.w3.eth.get_block("latest")["timestamp"])) == \
            ("active", "expired", "revoked", "pending")[v["status"]]
    assert layout.decode_record(_word(owner, layout.record_slot(node, cs[1]))).reason == 1
    # durable: index -> commitment, and the store address
    assert _word(owner, layout.durable_slot(node, 2)).to_bytes(32, "big") == cs[2]
    assert _word(owner, layout.durable_slot(node, 0)) == 0
    store = _word(owner, layout.store_slot(node, cs[2]))
    code = bytes(owner.w3.eth.get_code(owner.w3.to_checksum_address(store.to_bytes(20, "big"))))
    assert code[11:] == keys[2][1]
    # attestations: (expires | attested_at), the policy hash, the block flag
    ra = namehash("ra.test")
    (a,) = view("attestations", [node, cs[0], [ra]], "attestations")
    w = layout.decode_attestation(_word(owner, layout.attestation_slot(node, cs[0], ra)))
    assert (w.expires, w.attested_at) == (a["expires"], a["attested_at"]) == (2**50, w.attested_at)
    assert w.attested_at > 0
    assert _word(owner, layout.policy_slot(node, cs[0], ra)).to_bytes(32, "big") == \
        a["policy_hash"] == b"\x44" * 32
    assert _word(owner, layout.blocked_slot(node, child)) == 1
    assert view("is_blocked", [node, child], "blocked") is True
    assert _word(owner, layout.blocked_slot(node, ra)) == 0
    # registry-wide slots
    digest = _word(owner, layout.EVENTS_SLOT).to_bytes(32, "big")
    assert digest == bytes(view("event_digest", [], "digest"))
    count, _head = layout.decode_events(int.from_bytes(digest, "big"))
    assert count == view("event_count", [], "count")
    assert _word(owner, layout.SUFFIX_ROOT_SLOT).to_bytes(32, "big") == owner.suffix_root()
    assert _word(owner, layout.ADMIN_SLOT) == int(owner.admin(), 16)
    assert _word(owner, layout.registrar_slot(stranger)) == 0
    # the digest, recomputed from the logs alone
    assert _logs_digest(owner) == digest
    assert owner.event_digest() == (digest, count)


def test_layout_on_the_embedded_chain(tmp_path: Path) -> None:
    from registry.chain.embedded import dev_accounts

    accts = dev_accounts()
    state = tmp_path / "chain.db"
    with Registry.embedded(state, material_loader=raw_loader) as owner:
        other = Registry.from_web3(owner.w3, account=accts[1], registry_address=owner.address,
                                   material_loader=raw_loader)
        check_layout(owner, other, accts[2].address)


@pytest.mark.anvil
def test_layout_on_anvil() -> None:
    node = Anvil()
    try:
        deployer = Account.from_key(
            "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
        second = Account.from_key(
            "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7089d4ac6ae4f8a4dd5a")
        owner = Registry.connect(node.url, account=deployer, material_loader=raw_loader)
        owner.deploy()
        other = Registry.connect(node.url, account=second, registry_address=owner.address,
                                 material_loader=raw_loader)
        check_layout(owner, other, "0x" + "77" * 20)
    finally:
        node.close()


def test_slot_numbers_are_the_compilers() -> None:
    """registry.chain.layout.SLOTS equals ``vyper -f layout`` of the shipped source."""
    import importlib.util

    if importlib.util.find_spec("vyper") is None:
        skip_or_fail("vyper is not installed (pip install -e '.[dev]')")
    out = subprocess.run([sys.executable, "-m", "vyper", "-f", "layout",
                          str(ROOT / "contracts" / "KeyRegistry.vy")],
                         capture_output=True, text=True, check=True, timeout=300)
    storage: dict[str, Any] = json.loads(out.stdout)["storage_layout"]
    assert {k: v["slot"] for k, v in storage.items()} == layout.SLOTS
    assert all(v["n_slots"] == 1 for v in storage.values())


def test_event_topics_are_the_abis() -> None:
    from registry.chain.client import load_contract

    contract = load_contract()
    assert {e.name: e.topic for e in contract.events.values()} == {
        name: layout.event_topic(name) for name in layout.EVENT_FIELDS}
    for name, event in contract.events.items():
        assert tuple(n for n, _ in layout.EVENT_FIELDS[name]) == tuple(
            p["name"] for p in _abi_inputs(name))
        assert event.topic == layout.event_topic(name)


def _abi_inputs(name: str) -> list[dict[str, Any]]:
    from registry.artifacts import load_artifact

    return next(e["inputs"] for e in load_artifact("KeyRegistry")["abi"]
                if e.get("type") == "event" and e["name"] == name)


def test_digest_changes_with_any_withheld_added_reordered_or_altered_event() -> None:
    """Pure: each kind of tampering with a log sequence changes the folded digest."""
    events = [
        ("NameRegistered", {"node": b"\x01" * 32, "parent": ZERO32, "owner": "0x" + "11" * 20,
                            "label": "example.org", "person": False}, 5),
        ("KeyPublished", {"node": b"\x01" * 32, "index": 0, "commitment": b"\x02" * 32,
                          "key_type": 1, "purposes": 1, "valid_from": 0, "valid_until": 0,
                          "durable": False, "material": b"key", "proof": b"sig"}, 6),
        ("KeyRevoked", {"node": b"\x01" * 32, "index": 0, "commitment": b"\x02" * 32,
                        "reason": 1, "revocation": b""}, 7),
    ]  # fmt: skip
    base = layout.digest_events(events)
    assert layout.decode_events(int.from_bytes(base, "big"))[0] == 3
    variants = [events[:2], events[1:], [events[1], events[0], events[2]],
                [*events, events[2]], [(n, f, b + 1) for n, f, b in events]]
    for field in ("material", "proof", "valid_until", "commitment", "durable"):
        changed = dict(events[1][1])
        changed[field] = {"material": b"kez", "proof": b"sih", "valid_until": 1,
                          "commitment": b"\x03" * 32, "durable": True}[field]
        variants.append([events[0], ("KeyPublished", changed, 6), events[2]])
    for label in ("example.orh", "Example.org"):
        variants.append([("NameRegistered", {**events[0][1], "label": label}, 5), *events[1:]])
    variants.append([*events[:2], ("KeyRevoked", {**events[2][1], "revocation": b"x"}, 7)])
    digests = {layout.digest_events(v) for v in variants}
    assert base not in digests and len(digests) == len(variants)


@pytest.mark.anvil
def test_record_count_limit_via_the_documented_slot() -> None:
    """The 2**32 - 1 records limit cannot be reached by publishing; anvil writes the
    documented count bits straight into the name word, and publish then refuses."""
    from registry.errors import ContractRevert

    node_ = Anvil()
    try:
        acct = Account.from_key(
            "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
        reg = Registry.connect(node_.url, account=acct, material_loader=raw_loader)
        reg.deploy()
        reg.register("example.org")
        node = namehash("example.org")
        slot = layout.name_slot(node)
        word = _word(reg, slot) | (((1 << 32) - 1) << 160)
        node_.rpc("anvil_setStorageAt", [reg.address, hex(slot), "0x" + word.to_bytes(32, "big").hex()])
        node_.rpc("evm_mine")  # a state root covering the write: reads are proven against one
        assert layout.decode_name(_word(reg, slot)).record_count == (1 << 32) - 1
        assert reg.record_count("example.org") == (1 << 32) - 1
        with pytest.raises(ContractRevert, match="too many records"):
            reg.send("publish", [node, 1, 1, 0, 0, b"RAW k", b"", False], what="publish").wait()
    finally:
        node_.close()
