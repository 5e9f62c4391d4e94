"""docs/LINTS.md is generated from the code and must stay in sync."""

from __future__ import annotations

from pathlib import Path

from registry.policy import lints, lints_markdown

ROOT = Path(__file__).resolve().parents[2]


def test_lints_md_is_up_to_date() -> None:
    text = (ROOT / "docs" / "LINTS.md").read_text()
    assert text == lints_markdown(), "docs/LINTS.md is stale: run scripts/gen_lints_doc.py"


def test_every_lint_documented() -> None:
    text = (ROOT / "docs" / "LINTS.md").read_text()
    for lt in lints():
        assert f"`{lt.id}`" in text


def test_policy_md_mentions_profiles() -> None:
    text = (ROOT / "docs" / "POLICY.md").read_text()
    for word in ("default", "strict", "cabf-tls", "fail_level", "[params]", "[severity]"):
        assert word in text
