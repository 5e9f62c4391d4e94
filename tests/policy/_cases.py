"""Shared machinery for the per-lint pass/fail tables of the lint test modules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from registry.policy import Status, check

Case = Callable[[Any], tuple[Any, dict[str, Any]]]


class Kit:
    """Lazy access to session fixtures from a case function."""

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self._request = request

    def __getattr__(self, name: str) -> Any:
        return self._request.getfixturevalue(name)


def run_case(lint_id: str, case: Case, kit: Kit, want_pass: bool, *, at: Any = None) -> None:
    """Run one lint over the case's key; ``at`` is the evaluation time unless the case sets one."""
    key, kwargs = case(kit)
    kwargs = dict(kwargs)
    if at is not None:
        kwargs.setdefault("at", at)
    policy = kwargs.pop("policy", None)
    report = check(key, only=[lint_id], policy=policy, **kwargs)
    result = report.result(lint_id)
    assert result.status != Status.FATAL, result.details
    if want_pass:
        assert result.status == Status.PASS, (result.status, result.details)
    else:
        assert result.status in (Status.INFO, Status.WARN, Status.ERROR), (
            result.status, result.details)
        assert result.details
