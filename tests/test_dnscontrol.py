"""DNS control against a real authoritative DNS server on 127.0.0.1 (dnslib, no network).

The server answers ``_keyanchor.<domain>`` TXT queries from a zone the test
edits; keyanchor resolves through it with dnspython (``[dns] nameserver``).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from registry.dnscontrol import DnsSettings, check_dns_control, dns_settings, owners_in_txt
from registry.errors import ConfigError
from tests.conftest import free_port

OWNER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
OTHER = "0x" + "42" * 20


class Zone:
    """A tiny authoritative server: ``records[qname] = [txt, …]``; unknown names NXDOMAIN."""

    def __init__(self) -> None:
        from dnslib import QTYPE, RCODE, RR, TXT
        from dnslib.server import BaseResolver, DNSServer

        self.records: dict[str, list[str]] = {}
        self.queries: list[str] = []
        zone = self

        class Resolver(BaseResolver):  # type: ignore[misc]
            def resolve(self, request: Any, handler: Any) -> Any:
                reply = request.reply()
                reply.header.aa = 1
                qname = str(request.q.qname).rstrip(".").lower()
                zone.queries.append(qname)
                if qname not in zone.records:
                    reply.header.rcode = RCODE.NXDOMAIN
                elif request.q.qtype == QTYPE.TXT:
                    for text in zone.records[qname]:
                        reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(text), ttl=60))
                return reply

        self.port = free_port()
        self.server = DNSServer(Resolver(), port=self.port, address="127.0.0.1")
        self.server.start_thread()
        self.settings = DnsSettings("127.0.0.1", self.port, timeout=2.0)

    def close(self) -> None:
        self.server.stop()
        self.server.server.server_close()


@pytest.fixture
def zone() -> Iterator[Zone]:
    z = Zone()
    try:
        yield z
    finally:
        z.close()


def test_verdicts_from_a_real_server(zone: Zone) -> None:
    zone.records["_keyanchor.example.org"] = [f"keyanchor-owner={OWNER.lower()}", "v=spf1 -all"]
    zone.records["_keyanchor.taken.org"] = [f"keyanchor-owner={OTHER}"]
    zone.records["_keyanchor.notag.org"] = ["something else"]
    got = check_dns_control("example.org", OWNER, settings=zone.settings)
    assert (got.status, got.owners) == ("match", (OWNER.lower(),))
    got = check_dns_control("taken.org", OWNER, settings=zone.settings)
    assert got.status == "mismatch" and OTHER in got.detail
    assert check_dns_control("notag.org", OWNER, settings=zone.settings).status == "absent"
    assert check_dns_control("nothing.org", OWNER, settings=zone.settings).status == "absent"
    assert zone.queries[-1] == "_keyanchor.nothing.org"
    # a moving name: two owners published, either matches
    zone.records["_keyanchor.moving.org"] = [f"keyanchor-owner={OTHER}", f"keyanchor-owner={OWNER}"]
    assert check_dns_control("moving.org", OTHER, settings=zone.settings).status == "match"


def test_unreachable_resolver_is_unavailable() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:  # a bound port nobody answers
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        got = check_dns_control("example.org", OWNER,
                                settings=DnsSettings("127.0.0.1", port, timeout=0.3))
    assert got.status == "unavailable"


def test_txt_parsing_and_settings() -> None:
    assert owners_in_txt([f"keyanchor-owner={OWNER}", f" keyanchor-owner={OWNER} ", "x"]) == (
        OWNER.lower(),)
    assert owners_in_txt(["keyanchor-owner=0x123", f"keyanchor-owner={OWNER}x"]) == ()
    s = dns_settings({"nameserver": "127.0.0.1", "port": 5353, "timeout": 1, "require": True})
    assert s == DnsSettings("127.0.0.1", 5353, 1.0, True)
    assert dns_settings({}, required=True).required
    for bad in ({"port": 0}, {"port": "53"}, {"timeout": -1}, {"require": "yes"},
                {"nameserver": 1}, []):
        with pytest.raises(ConfigError):
            dns_settings(bad)


@pytest.mark.parametrize(("table", "message"), [
    ({"requre": True}, "no setting 'requre'"),  # was ignored: DNS control stayed optional
    ({"nameserver": "dns.example.net"}, "must be an IP address"),
    ({"nameserver": "not-an-ip"}, "must be an IP address"),
    ({"timeout": float("nan")}, "positive number of seconds"),
    ({"timeout": float("inf")}, "positive number of seconds"),
    ({"timeout": 1e308}, "at most 3600"),
])
def test_dns_setting_mistakes_are_refused(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        dns_settings(table)
    assert dns_settings({"nameserver": "::1", "timeout": 0.5}).nameserver == "::1"


def test_lint_judges_the_verdict(zone: Zone) -> None:
    from registry.keys import KeyType, load_material
    from registry.policy import Status, check
    from tests.index.conftest import ed25519_blob

    key = load_material(KeyType.SSH, ed25519_blob(1))
    zone.records["_keyanchor.example.org"] = [f"keyanchor-owner={OWNER}"]
    zone.records["_keyanchor.taken.org"] = [f"keyanchor-owner={OTHER}"]
    match = check_dns_control("example.org", OWNER, settings=zone.settings)
    taken = check_dns_control("taken.org", OWNER, settings=zone.settings)
    absent = check_dns_control("absent.org", OWNER, settings=zone.settings)

    def status(profile: str, verdict: Any) -> Status:
        report = check(key, profile=profile, name="alice@example.org", dns=verdict,
                       only=["name.dns_control"])
        return report.result("name.dns_control").status

    assert status("default", match) is Status.PASS
    assert status("default", taken) is Status.ERROR  # another owner: never, in any profile
    assert status("default", absent) is Status.NE
    assert status("default", None) is Status.NE
    assert status("strict", match) is Status.PASS
    assert status("strict", absent) is Status.ERROR  # strict requires DNS control
    assert status("strict", None) is Status.ERROR


def test_sync_and_gateways_refuse_keys_under_a_domain_dns_gives_to_another(
        zone: Zone, tmp_path: Path) -> None:
    from registry.chain.client import Registry
    from registry.gateways.ssh import SSHSettings, authorized_keys_lines
    from registry.index import IndexReader, sync_index
    from tests.index.conftest import ed25519_blob

    index = tmp_path / "index.sqlite"
    with Registry.embedded(tmp_path / "chain.db") as reg:
        owner = reg.sender
        reg.register("example.org")
        reg.assign("alice@example.org", owner)
        reg.publish("alice@example.org", ed25519_blob(5), key_type="ssh", purposes="ssh-user")

        def served() -> list[str]:
            with IndexReader.open(index) as ix:
                settings = SSHSettings(index, users={"alice": "alice@example.org"})
                return authorized_keys_lines(ix, "alice", "alice@example.org", settings)

        def policy() -> tuple[str, str]:
            with IndexReader.open(index) as ix:
                (rec,) = ix.records("alice@example.org")
                return rec.policy, rec.policy_detail

        # no TXT record, DNS not required: served
        sync_index(index, reg, dns=zone.settings)
        assert len(served()) == 1
        # a squatter's domain: DNS names someone else -> never served (no chain event needed)
        zone.records["_keyanchor.example.org"] = [f"keyanchor-owner={OTHER}"]
        sync_index(index, reg, dns=zone.settings)
        assert served() == []
        assert policy() == ("fail", "DNS control mismatch for example.org: name.dns_control")
        # the DNS holder points it at the registry owner: served again, own verdict restored
        zone.records["_keyanchor.example.org"] = [f"keyanchor-owner={owner}"]
        sync_index(index, reg, dns=zone.settings)
        assert len(served()) == 1 and policy()[0] == "pass"
        # a key published while DNS names another owner is never served, from its first page
        zone.records["_keyanchor.example.org"] = [f"keyanchor-owner={OTHER}"]
        reg.publish("alice@example.org", ed25519_blob(6), key_type="ssh", purposes="ssh-user")
        sync_index(index, reg, dns=zone.settings)
        assert served() == []
        # required (strict): no record at all fails closed, a match serves
        del zone.records["_keyanchor.example.org"]
        sync_index(index, reg, dns=DnsSettings("127.0.0.1", zone.port, 2.0, required=True))
        assert served() == []
        zone.records["_keyanchor.example.org"] = [f"keyanchor-owner={owner}"]
        sync_index(index, reg, dns=DnsSettings("127.0.0.1", zone.port, 2.0, required=True))
        assert len(served()) == 2


def test_client_lookup_judges_dns_control(zone: Zone, tmp_path: Path) -> None:
    from registry.chain.client import Registry
    from tests.index.conftest import ed25519_blob

    required = 'profile = "default"\n[params]\n"name.dns_control".required = true\n'
    with Registry.embedded(tmp_path / "chain.db") as reg:
        reg.register("example.org")
        reg.assign("web1.example.org", reg.sender)
        reg.publish("web1.example.org", ed25519_blob(9), key_type="ssh", purposes="ssh-host")
        assert reg.dns_control("web1.example.org", zone.settings).domain == "example.org"
        assert zone.queries[-1] == "_keyanchor.example.org"  # the top-level ancestor's record
        zone.records["_keyanchor.example.org"] = [f"keyanchor-owner={OTHER}"]
        assert reg.lookup("web1.example.org", profile="default", dns=zone.settings) == []
        assert len(reg.lookup("web1.example.org", profile="default")) == 1  # DNS not asked
        assert reg.lookup("web1.example.org", policy=required) == []  # required, not checked
        zone.records["_keyanchor.example.org"] = [f"keyanchor-owner={reg.sender}"]
        assert len(reg.lookup("web1.example.org", policy=required, dns=zone.settings)) == 1
