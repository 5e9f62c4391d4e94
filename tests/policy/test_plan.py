"""check()'s fast path (the lints of the key's type only, shared results) gives exactly the
reports of the reference path (every enabled lint run, every result built afresh), on every
passing and failing case of the per-lint tables: SSH, OpenPGP, X.509 and binding lints; and
failing() (the sync's verdict) keeps exactly the report's failures."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from registry.policy import LINTS, Status, check, failing, load_lints
from registry.policy._framework import _SHARED
from tests.policy import test_binding_lints, test_openpgp_lints, test_ssh_lints, test_x509_lints
from tests.policy._cases import Kit

pytestmark = pytest.mark.tools

_TABLES = {"ssh": test_ssh_lints.CASES, "openpgp": test_openpgp_lints.CASES,
           "x509": test_x509_lints.CASES, "binding": test_binding_lints.CASES}
_ALL = sorted((table, lint_id, outcome) for table, cases in _TABLES.items()
              for lint_id in cases for outcome in ("pass", "fail"))


def _reference(key: Any, kwargs: dict[str, Any]) -> Any:
    from registry.policy import _policy

    pol = _policy(kwargs.get("policy"), kwargs.get("profile", "default"))
    load_lints()
    enabled = [lt.id for lt in LINTS.values() if pol.enabled(lt)]
    return check(key, only=enabled, **kwargs)


@pytest.mark.parametrize(("table", "lint_id", "outcome"), _ALL)
def test_fast_path_reports_equal_the_reference(table: str, lint_id: str, outcome: str,
                                               request: pytest.FixtureRequest) -> None:
    case = _TABLES[table][lint_id][0 if outcome == "pass" else 1]
    key, kwargs = case(Kit(request))
    kwargs = dict(kwargs)
    kwargs.setdefault("at", datetime.now(UTC))  # one instant for both runs
    want = _reference(key, kwargs)
    for _ in range(2):  # the second run takes the shared results the first one made
        got = check(key, **kwargs)
        assert got.results == want.results
        assert got.to_dict() == want.to_dict()
        assert got.passed == want.passed
        assert [r.lint_id for r in got.failures()] == [r.lint_id for r in want.failures()]
    # what the sync keeps of a report (failing()), where the case's arguments allow it
    if set(kwargs) <= {"profile", "at", "name", "proof", "statement", "purposes", "squatted_by"}:
        assert failing(key, **kwargs) == (want.profile, want.policy_sha256,
                                          [r.lint_id for r in want.failures()])
    # a failing case's own lint (when its profile runs it) finds something in both
    ran = {r.lint_id: r for r in got.results}
    if outcome == "fail" and lint_id in ran and ran[lint_id].status not in (Status.NA,
                                                                            Status.NE):
        assert ran[lint_id].status >= Status.INFO


def test_shared_results_are_bounded_and_equal() -> None:
    """Results are shared by (lint, status, details, location); the memo stays bounded."""
    from registry.policy._framework import _SHARED_MAX

    assert len(_SHARED) <= _SHARED_MAX
    for (lint_id, status, details, location), result in list(_SHARED.items())[:200]:
        assert (result.lint_id, int(result.status), result.details, result.location) == (
            lint_id, status, details, location)
        assert result.findings[0].status == result.status


def test_built_objects_equal_constructed_ones() -> None:
    """Context and Report made by filling their __dict__ are the objects __init__ makes."""
    import dataclasses

    from registry.policy._framework import Context, LintResult, built
    from registry.policy.report import Report

    at = datetime(2026, 6, 15, tzinfo=UTC)
    ctx = {f.name: getattr(Context(key="k", at=at, name="alice@example.org"), f.name)
           for f in dataclasses.fields(Context)}
    made = built(Context, **ctx)
    assert made == Context(**ctx) and repr(made) == repr(Context(**ctx))
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.name = "mallory@example.org"
    assert made.key == "k" and made.name == "alice@example.org"
    partial = built(Context, key="k", at=at)  # fields missing: the generated __init__
    assert partial == Context(key="k", at=at)
    rep = {"results": (), "profile": "default", "policy_sha256": "0" * 64,
           "checker_version": "1", "evaluated_at": at, "fail_level": Status.ERROR,
           "key_type": "ssh", "fingerprint": "SHA256:x", "name": None}
    assert built(Report, **rep) == Report(**rep) and built(Report, **rep).passed
    slotted = built(LintResult, lint_id="a", status=Status.PASS, details="", location="",
                    findings=())
    assert slotted == LintResult("a", Status.PASS) and not hasattr(slotted, "__dict__")
