"""A long-lived reader (the gateway's) checks once whether any name of the snapshot can squat,
and then answers ``squatted_by`` without a query per name; the answers are those of the
per-name rule either way."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry.index._query import IndexReader
from tests.gateways.conftest import IndexBuilder
from tests.gateways.test_squatting import MALLORY, _top_level

NAMES = ["example.org", "alice@example.org", "www.example.org", "bob@www.example.org"]


def _index(path: Path, *, squatter: bool) -> Path:
    b = IndexBuilder(path)
    if squatter:  # Mallory's top-level web1.example.org, before example.org was registered
        _top_level(b, "web1.example.org", MALLORY)
        b.name("carol@web1.example.org")
    for n in NAMES:
        b.name(n)
    b.finish()
    return path


def _answers(index: Path, scan_after: int) -> tuple[dict[str, str | None], bool | None]:
    names = [*NAMES, "web1.example.org", "carol@web1.example.org", "nobody.example.org"]
    with IndexReader.open(index) as ix:
        ix.SQUAT_SCAN_AFTER = scan_after
        out = {n: ix.squatted_by(n) for n in names}
        return out, ix._squat_free


@pytest.mark.parametrize("squatter", [False, True], ids=["clean", "with-squatter"])
def test_the_snapshot_scan_gives_the_per_name_answers(tmp_path: Path, squatter: bool) -> None:
    index = _index(tmp_path / "index.sqlite", squatter=squatter)
    per_name, never_scanned = _answers(index, 10_000)
    scanned, free = _answers(index, 0)
    assert never_scanned is None
    assert free is (not squatter)
    assert scanned == per_name
    expected = "example.org" if squatter else None
    assert per_name["web1.example.org"] == expected
    assert per_name["carol@web1.example.org"] == expected
    assert all(per_name[n] is None for n in NAMES)
