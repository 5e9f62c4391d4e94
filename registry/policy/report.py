"""The report a policy check returns: per-lint results, verdict, text and JSON renderings.

    report = check(key)
    print(report.to_text()); report.passed; json.loads(report.to_json())["results"]
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from typing import Any

from registry.policy._framework import LintResult, Status

__all__ = ["Report"]


#: Characters that could forge or hide report lines: C0/C1 controls (newlines, terminal
#: escapes), Unicode line/paragraph separators and bidirectional overrides.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _safe(text: str) -> str:
    """Escape what a key's own strings (principals, UIDs, SANs) could use to forge lines."""
    return _UNSAFE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


_status = attrgetter("status")


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Report:
    """Results of one policy check."""

    results: tuple[LintResult, ...]
    profile: str
    policy_sha256: str
    checker_version: str
    evaluated_at: datetime
    fail_level: Status
    key_type: str
    fingerprint: str
    name: str | None = None

    @property
    def worst(self) -> Status:
        return max((r.status for r in self.results), default=Status.PASS)

    @property
    def passed(self) -> bool:
        """True when no result reaches the policy's fail level."""
        return all(map(self.fail_level.__gt__, map(_status, self.results)))

    def failures(self, level: Status | None = None) -> list[LintResult]:
        """Results at or above ``level`` (the fail level by default)."""
        floor = self.fail_level if level is None else level
        return [r for r in self.results if r.status >= floor]

    def result(self, lint_id: str) -> LintResult:
        """The result of one lint. Raises ``KeyError`` if it did not run."""
        for r in self.results:
            if r.lint_id == lint_id:
                return r
        raise KeyError(lint_id)

    def counts(self) -> dict[str, int]:
        out = {s.label: 0 for s in Status}
        for r in self.results:
            out[r.status.label] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "checker_version": self.checker_version,
            "profile": self.profile,
            "policy_sha256": self.policy_sha256,
            "evaluated_at": _iso(self.evaluated_at),
            "key": {"type": self.key_type, "fingerprint": self.fingerprint, "name": self.name},
            "fail_level": self.fail_level.label,
            "passed": self.passed,
            "worst": self.worst.label,
            "counts": self.counts(),
            "results": [r.to_dict() for r in self.results],
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)

    def to_text(self, *, verbose: bool = False) -> str:
        """Human-readable report; without ``verbose`` only info and worse are listed."""
        verdict = "PASS" if self.passed else "FAIL"
        lines = [
            f"{verdict}  {self.key_type} {self.fingerprint}"
            + (f"  name {_safe(self.name)}" if self.name else ""),
            f"profile {self.profile}  policy sha256 {self.policy_sha256[:16]}…  "
            f"checker {self.checker_version}  at {_iso(self.evaluated_at)}  "
            f"fail level {self.fail_level.label}",
        ]
        shown = [r for r in self.results if verbose or r.status >= Status.INFO]
        shown.sort(key=lambda r: (-r.status, r.lint_id))
        for r in shown:
            loc = f" [{_safe(r.location)}]" if r.location else ""
            det = f": {_safe(r.details)}" if r.details else ""
            lines.append(f"  {r.status.label:<5} {r.lint_id}{loc}{det}")
        c = self.counts()
        lines.append("  " + ", ".join(f"{c[s.label]} {s.label}" for s in Status if c[s.label]))
        return "\n".join(lines) + "\n"
