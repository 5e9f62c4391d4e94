"""Sync and names that do not count: names the grammar refuses, squatters (issue 10, items 3, 4).

KeyRegistry v2 refuses IP literals and numeric top-level labels itself, and a public
registry registers only registrable domains, so neither ``10.0.0.5`` nor a top-level
``web1.corp.org`` reaches a public chain any more (tests/contract, tests/index/test_sshd.py).
What the contract still takes and the grammar refuses is a label of the right characters
that is no valid IDNA A-label (``xn--zz``); and a private registry's registrars may still
register ``web1.corp.org`` before its admin registers ``corp.org``. Sync indexes both, and
its readers never serve them.
"""

from __future__ import annotations

from typing import Any

import pytest

from registry.errors import InvalidName
from registry.index import IndexReader, sync_index
from registry.keys import KeyType
from tests.index.conftest import Chain, ed25519_blob, private_registry, raw_register

#: registrable on a public v2 registry (the contract checks characters only), refused by the grammar
BAD_A_LABEL = "xn--zz.org"


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
    """The contract takes xn--zz.org (a public registry checks characters and the suffix list,
    not Punycode), and a child under it: sync used to stop for good on a name the grammar
    refused; now it indexes it, verdict fail, and nothing serves it."""
    reg = embedded.reg
    with pytest.raises(InvalidName, match="A-label"):
        reg.register(BAD_A_LABEL)  # the client never sends it
    raw_register(reg, BAD_A_LABEL)
    _raw_assign(reg, BAD_A_LABEL, "www")
    _raw_publish(reg, BAD_A_LABEL, ed25519_blob(50))
    _raw_publish(reg, f"www.{BAD_A_LABEL}", ed25519_blob(51))
    reg.register("fine.example")
    reg.publish("fine.example", ed25519_blob(50), key_type=KeyType.SSH, purposes="ssh-host")
    index = tmp_path / "i.sqlite"
    sync_index(index, reg)
    refused = (BAD_A_LABEL, f"www.{BAD_A_LABEL}")
    with IndexReader.open(index) as ix:
        names = {n for (n,) in ix.conn.execute("SELECT name FROM names")}
        assert {*refused, "fine.example"} <= names
        rows = ix.conn.execute(
            "SELECT r.policy, t.text FROM records r JOIN names n ON n.id = r.name_id"
            " JOIN texts t ON t.id = r.policy_detail"
            " WHERE n.name IN (?, ?)", refused).fetchall()
        assert len(rows) == 2
        assert all(p == "fail" and "not a valid registry name" in d for p, d in rows)
        assert "not a valid registry name" in (ix.name_problem(f"www.{BAD_A_LABEL}") or "")
        assert ix.name_problem("fine.example") is None
        # the shared key's reverse lookup still names both; the gateways serve only fine.example
        (fp,) = {r.fingerprint for r in ix.records("fine.example")}
        assert sorted(n for n, _ in ix.names_by_fingerprint(fp)) == ["fine.example", BAD_A_LABEL]


def test_a_public_registry_refuses_a_top_level_subdomain(embedded: Chain) -> None:
    """Squatting as issue 10 found it (web1.corp.org registered top-level) is refused on-chain
    by a public v2 registry: only a public suffix plus one label is registered directly."""
    from registry.errors import ContractRevert

    reg = embedded.reg
    assert not reg.private_mode()
    with pytest.raises(InvalidName, match=r"not a registrable domain .*register corp\.org and"
                                          r" assign web1\.corp\.org under it"):
        reg.register("web1.corp.org")
    with pytest.raises(ContractRevert) as info:
        raw_register(reg, "web1.corp.org")
    assert info.value.reason == "KeyRegistry: not a registrable domain"
    assert reg.owner("web1.corp.org") is None


def test_squatting_is_flagged_at_sync_once_the_domain_is_registered(embedded: Chain,
                                                                    tmp_path: Any) -> None:
    """In a private registry a registrar (Mallory) may still register web1.corp.org before
    the admin registers corp.org; once corp.org exists, web1.corp.org's keys fail
    binding.domain_chain and the readers' rule names corp.org."""
    from registry.chain.embedded import dev_accounts

    admin, mallory = private_registry(embedded.reg, registrar=dev_accounts()[1])
    mallory.register("web1.corp.org")
    mallory.publish("web1.corp.org", ed25519_blob(60), key_type=KeyType.SSH, purposes="ssh-host")
    admin.register("corp.org")
    mallory.publish("web1.corp.org", ed25519_blob(61), key_type=KeyType.SSH, purposes="ssh-host")
    index = tmp_path / "s.sqlite"
    sync_index(index, admin)
    with IndexReader.open(index) as ix:
        before, after = ix.records("web1.corp.org")
        assert "binding.domain_chain" not in before.policy_detail  # judged when published
        assert after.policy == "fail" and "binding.domain_chain" in after.policy_detail
        assert ix.squatted_by("web1.corp.org") == "corp.org"  # the readers' rule, now
    assert mallory.squatted_by("web1.corp.org") == "corp.org"
    assert admin.squatted_by("corp.org") is None
