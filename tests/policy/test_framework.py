"""The lint framework: registry, statuses, dates, severities, policies, reports."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from registry.errors import ConfigError, KeyFormatError
from registry.keys import KeyType
from registry.policy import LintResult, Status, check, lints, load_lints
from registry.policy._framework import (
    LINTS,
    Context,
    Finding,
    Lint,
    Source,
    TimeBase,
    run_lint,
    utc,
)
from registry.policy.profiles import PROFILES, builtin_policy, parse_policy
from tests.policy.conftest import FIXED, StubKey, make_key, ssh_rsa_blob


def _all_cases() -> dict[str, object]:
    from tests.policy import (
        test_binding_lints,
        test_openpgp_lints,
        test_ssh_lints,
        test_x509_lints,
    )

    out: dict[str, object] = {}
    for mod in (test_ssh_lints, test_openpgp_lints, test_x509_lints, test_binding_lints):
        out.update(mod.CASES)
    return out


def test_every_lint_has_a_passing_and_a_failing_case() -> None:
    cases = _all_cases()
    ids = set(load_lints())
    assert len(ids) >= 40
    assert ids == set(cases), (ids ^ set(cases))
    assert all(len(c) == 2 for c in cases.values())  # type: ignore[arg-type]


def test_lint_metadata() -> None:
    for lt in lints():
        assert lt.id.count(".") == 1 and lt.id == lt.id.lower()
        assert lt.description and lt.citation and isinstance(lt.source, Source)
        assert lt.max_severity in (Status.INFO, Status.WARN, Status.ERROR)
        assert lt.key_types <= {"ssh", "openpgp", "x509"}


RSA = StubKey(KeyType.SSH, ssh_rsa_blob((1 << 2047) + 1 + 2 * 12345))


def _lint(func, **kw) -> Lint:  # type: ignore[no-untyped-def]
    base = dict(id="t.x", description="d", key_types=frozenset({"ssh"}), source=Source.REGISTRY,
                citation="c", max_severity=Status.WARN, func=func)
    base.update(kw)
    return Lint(**base)  # type: ignore[arg-type]


def test_crashing_lint_is_fatal_and_run_goes_on() -> None:
    def boom(ctx, p):  # type: ignore[no-untyped-def]
        raise RuntimeError("kaboom")

    ctx = Context(key=RSA, at=FIXED)
    res = run_lint(_lint(boom), ctx, {})
    assert res.status == Status.FATAL and "kaboom" in res.details


def test_na_ne_and_capping() -> None:
    ctx = Context(key=RSA, at=FIXED)
    err = _lint(lambda c, p: Finding(Status.ERROR, "bad", "here"))
    assert run_lint(err, ctx, {}).status == Status.WARN  # capped at max severity
    assert run_lint(err, ctx, {}, Status.INFO).status == Status.INFO
    raised = _lint(lambda c, p: Finding(Status.WARN, "w"))
    assert run_lint(raised, ctx, {}, Status.ERROR).status == Status.ERROR
    assert run_lint(_lint(lambda c, p: None, key_types=frozenset({"x509"})), ctx, {}).status \
        == Status.NA
    future = _lint(lambda c, p: None, effective=FIXED + timedelta(days=1))
    assert run_lint(future, ctx, {}).status == Status.NE
    past = _lint(lambda c, p: None, ineffective=FIXED - timedelta(days=1))
    assert run_lint(past, ctx, {}).status == Status.NE
    reg = _lint(lambda c, p: None, effective=utc(2020, 1, 1), time_base=TimeBase.REGISTRATION)
    assert run_lint(reg, Context(key=RSA, at=FIXED, registered_at=utc(2019, 1, 1)), {}).status \
        == Status.NE
    issuance = _lint(lambda c, p: None, effective=utc(2020, 1, 1), time_base=TimeBase.ISSUANCE)
    assert run_lint(issuance, ctx, {}).status == Status.NE  # plain SSH keys have no issuance


def test_multiple_findings_keep_all() -> None:
    lt = _lint(lambda c, p: [Finding(Status.INFO, "a", "x"), Finding(Status.WARN, "b", "y"),
                             Finding(Status.PASS)])
    res = run_lint(lt, Context(key=RSA, at=FIXED), {})
    assert res.status == Status.WARN and res.location == "y" and len(res.findings) == 3
    assert isinstance(res, LintResult) and res.to_dict()["findings"][0]["details"] == "a"


def test_report_rendering() -> None:
    report = check(RSA, name="alice@example.org", at=FIXED)
    data = json.loads(report.to_json())
    assert data["checker_version"] == __import__("registry").__version__
    assert data["policy_sha256"] == builtin_policy("default").sha256
    assert data["evaluated_at"].endswith("Z") and data["key"]["type"] == "ssh"
    assert {r["lint"] for r in data["results"]} == {r.lint_id for r in report.results}
    assert data["passed"] is True and report.worst == Status.WARN
    assert "ssh.rsa_bits" in report.to_text() and report.to_text().startswith("PASS")
    assert "NA" in report.to_text(verbose=True)


def test_policy_file(tmp_path: Path) -> None:
    text = (
        'profile = "default"\nfail_level = "warn"\nexclude = ["key.*"]\n'
        '[params]\n"ssh.rsa_bits".min_bits = 3072\n'
        '[severity]\n"ssh.type_allowlist" = "error"\n'
    )
    path = tmp_path / "policy.toml"
    path.write_text(text)
    report = check(RSA, policy=path, at=FIXED)
    assert report.policy_sha256 == hashlib.sha256(text.encode()).hexdigest()
    assert report.result("ssh.rsa_bits").status == Status.ERROR
    assert not any(r.lint_id.startswith("key.") for r in report.results)
    assert not report.passed
    assert check(RSA, policy=text, at=FIXED).policy_sha256 == report.policy_sha256


@pytest.mark.parametrize("text", [
    'profile = "nope"', '[params]\n"no.such".x = 1', '[params]\n"ssh.rsa_bits".nope = 1',
    '[params]\n"ssh.rsa_bits".min_bits = "big"', '[severity]\n"ssh.dsa" = "loud"',
    'exclude = ["zzz.*"]', 'fail_level = "pass"', "not toml [", 'unknown = 1',
])
def test_policy_errors(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_policy(text)


def test_builtin_profiles() -> None:
    hashes = {builtin_policy(p).sha256 for p in PROFILES}
    assert len(hashes) == len(PROFILES) == 3
    strict = builtin_policy("strict")
    assert strict.params["ssh.rsa_bits"]["min_bits"] == 3072
    assert builtin_policy("cabf-tls").enabled(LINTS["x509.pkilint_serverauth"])
    assert not builtin_policy("default").enabled(LINTS["x509.pkilint_serverauth"])
    with pytest.raises(ConfigError):
        builtin_policy("nope")


def test_strict_profile_refuses_rsa_2048() -> None:
    key = make_key(KeyType.SSH, ssh_rsa_blob((1 << 2047) + 1 + 2 * 12345))
    assert check(key, profile="strict", only=["ssh.rsa_bits"]).result("ssh.rsa_bits").status \
        == Status.ERROR


def test_not_a_key() -> None:
    with pytest.raises(KeyFormatError):
        check(object())


def test_import_is_cheap() -> None:
    code = ("import sys, registry.policy; bad = [m for m in ('cryptography', 'web3', 'pkilint', "
            "'pysequoia', 'registry.policy._x509_lints') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    code = ("import sys, registry.policy as p; p.load_lints(); "
            "print([m for m in ('web3', 'eth_utils', 'pkilint') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
