"""Cross-cutting lints: name binding, proof, key reuse, weak keys, strength, attestations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from registry.keys import KeyType
from registry.names import squatted_by
from registry.policy import Attestation, Status, check
from registry.policy._binding_lints import debian_fingerprint, fermat_factor, roca_vulnerable
from registry.proofs import statement
from tests.policy._cases import Case, Kit, run_case
from tests.policy.conftest import (
    FIXED,
    NOW,
    close_primes_modulus,
    make_key,
    roca_like_modulus,
    ssh_key_from_file,
    ssh_rsa_blob,
)

pytestmark = pytest.mark.tools

REG = "0x5fbdb2315678afecb367f032d93f642f64180aa3"
OWNER = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"


def ed(k: Kit) -> Any:
    return ssh_key_from_file(k.ssh_tools.keygen("ed", "-t", "ed25519").with_suffix(".pub"))


def rsa3072(k: Kit) -> Any:
    return ssh_key_from_file(k.ssh_tools.keygen("rsa3072", "-t", "rsa", "-b", "3072")
                             .with_suffix(".pub"))


def cert(k: Kit) -> Any:
    k.ssh_tools.keygen("ed", "-t", "ed25519")
    return ssh_key_from_file(k.ssh_tools.cert("bind-cert", "ed", "ed", "-n",
                                              "web.example.org", "-h", "-V", "-1d:+1d"))


def proof_case(k: Kit, name: str) -> tuple[Any, dict[str, Any]]:
    key = ed(k)
    st = statement(31337, REG, name, OWNER, key.commitment)
    return key, {"name": "alice@example.org", "proof": k.ssh_tools.sign("ed", st),
                 "statement": st}


def _p(key: Any, **kw: Any) -> tuple[Any, dict[str, Any]]:
    return key, kw


def rsa_blob_key(n: int) -> Any:
    return make_key(KeyType.SSH, ssh_rsa_blob(n))


_ATT = '[params]\n"key.attestations".min = 1\n"key.attestations".trusted = ["example.org"]\n'
ALICE_OWNER, RA_OWNER = "0x" + "a1" * 20, "0x" + "ee" * 20
_OWNERS = {"alice@example.org": ALICE_OWNER, "example.org": RA_OWNER, "evil.org": "0x" + "66" * 20}


def _debian(k: Kit, hit: bool) -> tuple[Any, dict[str, Any]]:
    key = rsa3072(k)
    from registry.keys._ssh import load_ssh_blob

    n = load_ssh_blob(key.material).parameter("n")
    assert isinstance(n, int)
    entry = debian_fingerprint(n) if hit else "0" * 20
    return key, {"policy": f'[params]\n"key.debian_weak".blocklist = ["{entry}"]\n'}


@dataclass
class _Rec:
    valid_from: Any = None
    valid_until: Any = None
    revoked_at: Any = None
    reason: Any = None


def _dns(status: str, detail: str) -> object:
    from registry.dnscontrol import DnsVerdict

    return DnsVerdict("example.org", "0x" + "11" * 20, status, (), detail)


CASES: dict[str, tuple[Case, Case]] = {
    "record.lifecycle": (
        lambda k: _p(ed(k), record=_Rec(NOW - timedelta(days=1), NOW + timedelta(days=30))),
        lambda k: _p(ed(k), record=_Rec(revoked_at=NOW - timedelta(hours=1),
                                        reason="key-compromise"))),
    "binding.name": (lambda k: _p(cert(k), name="web.example.org"),
                     lambda k: _p(cert(k), name="mail.example.org")),
    "binding.proof": (lambda k: proof_case(k, "alice@example.org"),
                      lambda k: proof_case(k, "bob@example.org")),
    # the verdict of a real DNS lookup (tests/test_dnscontrol.py makes them against a server)
    "name.dns_control": (
        lambda k: _p(ed(k), name="alice@example.org", dns=_dns("match", "names the owner")),
        lambda k: _p(ed(k), name="alice@example.org", dns=_dns("mismatch", "names 0x42…"))),
    "binding.other_names": (lambda k: _p(ed(k), name="alice@example.org",
                                         other_names=["alice@example.org"]),
                            lambda k: _p(ed(k), name="alice@example.org",
                                         other_names=["alice@example.org", "bob@example.org"])),
    "key.roca": (lambda k: _p(rsa3072(k)), lambda k: _p(rsa_blob_key(roca_like_modulus()))),
    "key.fermat": (lambda k: _p(rsa3072(k)), lambda k: _p(rsa_blob_key(close_primes_modulus()))),
    "key.debian_weak": (lambda k: _debian(k, False), lambda k: _debian(k, True)),
    "key.nist_strength": (lambda k: _p(ed(k)),
                          lambda k: _p(ssh_key_from_file(k.ssh_tools.keygen(
                              "rsa1024", "-t", "rsa", "-b", "1024").with_suffix(".pub")))),
    "key.attestations": (
        lambda k: _p(ed(k), name="alice@example.org", policy=_ATT, owners=_OWNERS,
                     attestations=[Attestation("example.org")]),
        lambda k: _p(ed(k), name="alice@example.org", policy=_ATT, owners=_OWNERS,
                     attestations=[Attestation("example.org", withdrawn=True),
                                   Attestation("evil.org")])),
    # web1.corp.org registered top-level: fine alone, squatting once corp.org is registered
    "binding.domain_chain": (
        lambda k: _p(ed(k), name="web1.corp.org",
                     squatted_by=squatted_by("web1.corp.org", {"web1.corp.org": None}) or False),
        lambda k: _p(ed(k), name="web1.corp.org",
                     squatted_by=squatted_by("web1.corp.org", {"web1.corp.org": None,
                                                               "corp.org": None}))),
}


@pytest.mark.parametrize("outcome", ["pass", "fail"])
@pytest.mark.parametrize("lint_id", sorted(CASES))
def test_binding_lint(lint_id: str, outcome: str, request: pytest.FixtureRequest) -> None:
    case = CASES[lint_id][0 if outcome == "pass" else 1]
    run_case(lint_id, case, Kit(request), outcome == "pass")


def test_proof_for_other_owner_chain_registry_refused(request: pytest.FixtureRequest) -> None:
    k = Kit(request)
    key = ed(k)
    good = statement(31337, REG, "alice@example.org", OWNER, key.commitment)
    proof = k.ssh_tools.sign("ed", good)
    for other in (statement(1, REG, "alice@example.org", OWNER, key.commitment),
                  statement(31337, OWNER, "alice@example.org", OWNER, key.commitment),
                  statement(31337, REG, "alice@example.org", REG, key.commitment)):
        r = check(key, only=["binding.proof"], proof=proof, statement=other,
                  name="alice@example.org")
        assert r.result("binding.proof").status == Status.ERROR


def test_proof_required_in_strict(request: pytest.FixtureRequest) -> None:
    key = ed(Kit(request))
    r = check(key, profile="strict", only=["binding.proof"])
    assert r.result("binding.proof").status == Status.ERROR
    assert check(key, only=["binding.proof"]).result("binding.proof").status == Status.NE


def test_nist_112_becomes_error_in_2031(request: pytest.FixtureRequest) -> None:
    key = ssh_key_from_file(Kit(request).ssh_tools.keygen("rsa2048", "-t", "rsa", "-b", "2048")
                            .with_suffix(".pub"))
    # an SSH key carries no time: judge it on fixed dates either side of the 2031 cut-off
    now = check(key, only=["key.nist_strength"], at=FIXED).result("key.nist_strength")
    later = check(key, only=["key.nist_strength"], at=datetime(2031, 2, 1, tzinfo=UTC))
    assert now.status == Status.WARN
    assert later.result("key.nist_strength").status == Status.ERROR


def test_domain_chain_not_judged_without_registry_data(request: pytest.FixtureRequest) -> None:
    key = ed(Kit(request))
    r = check(key, only=["binding.domain_chain"], name="web1.corp.org")
    assert r.result("binding.domain_chain").status == Status.NE
    r = check(key, only=["binding.domain_chain"], name="web1.corp.org", squatted_by="corp.org")
    assert r.result("binding.domain_chain").status == Status.ERROR
    assert "inside corp.org" in r.result("binding.domain_chain").details


def test_weak_key_helpers() -> None:
    assert roca_vulnerable(roca_like_modulus())
    n = close_primes_modulus(1024)
    pq = fermat_factor(n, 100)
    assert pq is not None and pq[0] * pq[1] == n
    assert fermat_factor(65537 * ((1 << 600) + 1) * 0 + (2**127 - 1) * (2**89 - 1), 100) is None
    assert len(debian_fingerprint(12345)) == 20


def test_lifecycle_times(request: pytest.FixtureRequest) -> None:
    key = cert(Kit(request))
    late = check(key, only=["ssh.cert_validity"], at=NOW + timedelta(days=5))
    assert late.result("ssh.cert_validity").status == Status.ERROR


def test_wildcard_san_covers_one_label_only() -> None:
    from tests.policy.conftest import make_ca, make_leaf, x509_key

    ca = make_ca()
    key = x509_key(make_leaf(ca, cn="wild", dns=("*.example.org",)))
    result = {n: check(key, name=n, at=NOW, only=["binding.name"]).result("binding.name").status
              for n in ("web.example.org", "example.org", "a.b.example.org")}
    assert result == {"web.example.org": Status.PASS, "example.org": Status.ERROR,
                      "a.b.example.org": Status.ERROR}
    top = x509_key(make_leaf(ca, cn="wild", dns=("*.org",)))
    assert check(top, name="org", at=NOW, only=["binding.name"]).result(
        "binding.name").status == Status.ERROR


def test_report_text_cannot_be_forged_by_key_strings(request: pytest.FixtureRequest) -> None:
    """A certificate principal (or UID, SAN...) with a newline or terminal escape must not
    start a line of its own in the text report."""
    tools = request.getfixturevalue("ssh_tools")
    tools.keygen("ed", "-t", "ed25519")
    forged = "web.example.org\n  pass  binding.name: bound\x1b[0m"
    key = ssh_key_from_file(tools.cert("forge-cert", "ed", "ed", "-n", forged, "-V", "-1d:+1d"))
    report = check(key, name="alice@example.org", at=NOW, only=["binding.name"])
    assert report.result("binding.name").status == Status.ERROR
    text = report.to_text()
    assert len(text.splitlines()) == 4, text
    assert "\x1b" not in text and "\\n  pass  binding.name: bound\\x1b[0m" in text
    bad_name = check(key, name="alice@example.org\nPASS", at=NOW, only=["binding.name"])
    assert len(bad_name.to_text().splitlines()) == 4


@pytest.mark.parametrize(("rec", "expect"), [
    (None, Status.NE),
    (_Rec(), Status.PASS),
    (_Rec(valid_until=NOW - timedelta(seconds=1)), Status.ERROR),          # expired
    (_Rec(valid_from=NOW + timedelta(days=1)), Status.ERROR),              # not yet valid
    (_Rec(revoked_at=int((NOW - timedelta(days=2)).timestamp())), Status.ERROR),  # Unix seconds
    (_Rec(valid_from=0, valid_until=int((NOW + timedelta(days=1)).timestamp())), Status.PASS),
])
def test_record_lifecycle_at_evaluation_time(rec: Any, expect: Status,
                                             request: pytest.FixtureRequest) -> None:
    key = ed(Kit(request))
    report = check(key, only=["record.lifecycle"], record=rec, at=NOW)
    assert report.result("record.lifecycle").status == expect


def test_expired_attestations_do_not_count(request: pytest.FixtureRequest) -> None:
    key = ed(Kit(request))
    live = Attestation("example.org", expires=NOW + timedelta(days=1))
    stale = Attestation("example.org", expires=NOW - timedelta(days=1))
    ok = check(key, only=["key.attestations"], policy=_ATT, name="alice@example.org",
               attestations=[live], at=NOW, owners=_OWNERS)
    assert ok.result("key.attestations").status == Status.PASS
    bad = check(key, only=["key.attestations"], policy=_ATT, name="alice@example.org",
                attestations=[stale], at=NOW, owners=_OWNERS)
    assert bad.result("key.attestations").status == Status.ERROR


def test_sybil_attestation_by_the_keys_own_owner_does_not_count(
        request: pytest.FixtureRequest) -> None:
    """Sybil: the key's owner attested it from a second name it owns, and strict passed."""
    key = ed(Kit(request))
    sybil = {**_OWNERS, "example.org": ALICE_OWNER}  # alice also owns the attesting name
    for pol, extra in ((_ATT, {}), (None, {"profile": "strict", "parent": "example.org"})):
        kwargs: dict[str, Any] = {"policy": pol} if pol else {}
        kwargs.update(extra)
        r = check(key, only=["key.attestations"], name="alice@example.org", at=NOW,
                  attestations=[Attestation("example.org")], owners=sybil, **kwargs)
        res = r.result("key.attestations")
        assert res.status == Status.ERROR and "same or unknown owner" in res.details
        # an owner the caller could not establish never counts either
        r = check(key, only=["key.attestations"], name="alice@example.org", at=NOW,
                  attestations=[Attestation("example.org")], owners={}, **kwargs)
        assert r.result("key.attestations").status == Status.ERROR
        r = check(key, only=["key.attestations"], name="alice@example.org", at=NOW,
                  attestations=[Attestation("example.org")], owners=_OWNERS, **kwargs)
        assert r.result("key.attestations").status == Status.PASS


def test_strict_counts_only_the_registration_authority(request: pytest.FixtureRequest) -> None:
    """strict trusts "@parent": a third party with its own owner is not the name's RA."""
    key = ed(Kit(request))
    r = check(key, profile="strict", only=["key.attestations"], name="alice@example.org",
              parent="example.org", at=NOW, owners=_OWNERS,
              attestations=[Attestation("evil.org")])
    assert r.result("key.attestations").status == Status.ERROR
    r = check(key, profile="strict", only=["key.attestations"], name="alice@example.org",
              at=NOW, owners=_OWNERS, attestations=[Attestation("example.org")])
    assert r.result("key.attestations").status == Status.ERROR  # no parent known: fail closed


@pytest.mark.parametrize("params,match", [
    ('"key.attestations".min = 1', "names no trusted attesters"),
    ('"key.attestations".min = 1\n"key.attestations".trusted = []', "names no trusted attesters"),
    ('"key.attestations".min = 2\n"key.attestations".trusted = ["example.org"]', "trusts only 1"),
    ('"key.attestations".min = 1\n"key.attestations".trusted = ["not a name!"]', "trusted"),
])
def test_required_attestations_without_trusted_names_is_a_config_error(
        params: str, match: str) -> None:
    """A profile requiring attestations with an empty trusted list accepted any attester."""
    from registry.errors import ConfigError
    from registry.policy.profiles import parse_policy

    with pytest.raises(ConfigError, match=match):
        parse_policy("[params]\n" + params + "\n")
    with pytest.raises(ConfigError, match="names no trusted attesters"):
        parse_policy('profile = "strict"\n[params]\n"key.attestations".trusted = []\n')
    parse_policy('profile = "strict"\nexclude = ["key.attestations"]\n'
                 '[params]\n"key.attestations".trusted = []\n')  # off: nothing to trust


def test_missing_attestations_name_the_parent_role_not_nobody(
        request: pytest.FixtureRequest) -> None:
    """`keyanchor check alice@example.org --profile strict` said "0 of 1 required
    attestations from nobody (no registry parent known)": with no attestations the
    parent is not looked up, and the message read as if the name had none."""
    key = ed(Kit(request))
    r = check(key, profile="strict", only=["key.attestations"], name="alice@example.org",
              at=NOW, owners=_OWNERS)
    res = r.result("key.attestations")
    assert res.status == Status.ERROR
    assert "0 of 1 required attestations from its registry parent" in res.details
    assert "nobody" not in res.details
    r = check(key, profile="strict", only=["key.attestations"], name="alice@example.org",
              parent="example.org", at=NOW, owners=_OWNERS)
    assert "from example.org" in r.result("key.attestations").details
