"""Sync and names that do not count: IP literals the contract took, squatters (issue 10, items 3, 4)."""

from __future__ import annotations

from typing import Any

from registry.index import IndexReader, sync_index
from registry.keys import KeyType
from tests.index.conftest import Chain, ed25519_blob


def _raw_register(reg: Any, text: str) -> None:
    reg.send("register", [text], what=f"register {text}").wait()


def _raw_assign(reg: Any, parent: str, label: str) -> None:
    from registry.names import raw_namehash

    reg.send("assign", [bytes(raw_namehash(parent)), label, False, reg.account.address],
             what=f"assign {label}.{parent}").wait()


def _raw_publish(reg: Any, text: str, material: bytes) -> None:
    from registry.chain.client import PublishRequest
    from registry.names import raw_namehash

    _, _, _, args = reg._publish_args(PublishRequest("placeholder.example.org", material,
                                                     key_type=KeyType.SSH, purposes="ssh-host"))
    reg.send("publish", [bytes(raw_namehash(text)), *args], what=f"publish to {text}").wait()


def test_names_the_grammar_refuses_are_indexed_never_served(embedded: Chain, tmp_path: Any) -> None:
    """The contract took 10.0.0.5 (and a child under it): sync used to stop on such a name
    forever once the grammar refused it; now it indexes it, verdict fail, and nothing serves it."""
    reg = embedded.reg
    _raw_register(reg, "10.0.0.5")
    _raw_assign(reg, "10.0.0.5", "www")
    _raw_publish(reg, "10.0.0.5", ed25519_blob(50))
    _raw_publish(reg, "www.10.0.0.5", ed25519_blob(51))
    reg.register("fine.example")
    reg.publish("fine.example", ed25519_blob(50), key_type=KeyType.SSH, purposes="ssh-host")
    index = tmp_path / "i.sqlite"
    sync_index(index, reg)
    with IndexReader.open(index) as ix:
        names = {n for (n,) in ix.conn.execute("SELECT name FROM names")}
        assert {"10.0.0.5", "www.10.0.0.5", "fine.example"} <= names
        rows = ix.conn.execute(
            "SELECT r.policy, r.policy_detail FROM records r JOIN names n ON n.node = r.node"
            " WHERE n.name IN ('10.0.0.5', 'www.10.0.0.5')").fetchall()
        assert len(rows) == 2
        assert all(p == "fail" and "not a valid registry name" in d for p, d in rows)
        assert "not a valid registry name" in (ix.name_problem("www.10.0.0.5") or "")
        assert ix.name_problem("fine.example") is None
        # the shared key's reverse lookup still names both; the gateways serve only fine.example
        (fp,) = {r.fingerprint for r in ix.records("fine.example")}
        assert sorted(n for n, _ in ix.names_by_fingerprint(fp)) == ["10.0.0.5", "fine.example"]


def test_squatting_is_flagged_at_sync_once_the_domain_is_registered(embedded: Chain,
                                                                    tmp_path: Any) -> None:
    from registry.chain.client import Registry
    from registry.chain.embedded import dev_accounts

    reg = embedded.reg
    mallory = Registry.from_web3(reg.w3, account=dev_accounts()[1], registry_address=reg.address)
    mallory.register("web1.corp.org")
    mallory.publish("web1.corp.org", ed25519_blob(60), key_type=KeyType.SSH, purposes="ssh-host")
    reg.register("corp.org")
    mallory.publish("web1.corp.org", ed25519_blob(61), key_type=KeyType.SSH, purposes="ssh-host")
    index = tmp_path / "s.sqlite"
    sync_index(index, reg)
    with IndexReader.open(index) as ix:
        before, after = ix.records("web1.corp.org")
        assert "binding.domain_chain" not in before.policy_detail  # judged when published
        assert after.policy == "fail" and "binding.domain_chain" in after.policy_detail
        assert ix.squatted_by("web1.corp.org") == "corp.org"  # the readers' rule, now
    assert mallory.squatted_by("web1.corp.org") == "corp.org"
    assert reg.squatted_by("corp.org") is None
