"""The gateway's long-lived reader: it checks once whether any name of the snapshot can squat
and then answers ``squatted_by`` without a query per name (the per-name rule's answers either
way), and it still sees a new snapshot on the first request after a sync."""

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


def test_the_request_after_a_sync_sees_the_new_snapshot(tmp_path: Path) -> None:
    """The gateway checks for a new snapshot once per request, and on every request."""
    import os

    import httpx

    from registry.gateways.http import create_app
    from tests.gateways.conftest import ServerThread

    index = tmp_path / "index.sqlite"
    b = IndexBuilder(index)
    b.name("example.org")
    b.finish()
    with ServerThread(create_app(index)) as srv, httpx.Client(base_url=srv.url, timeout=10) as c:
        for _ in range(3):
            assert c.get("/v1/names/alice@example.org").status_code == 404
        newer = tmp_path / "next.sqlite"
        b = IndexBuilder(newer)
        for n in ("example.org", "alice@example.org"):
            b.name(n)
        b.finish()
        os.replace(newer, index)  # what publishing a snapshot does
        assert c.get("/v1/names/alice@example.org").status_code == 200
        assert c.get("/v1/names/alice@example.org").json()["name"] == "alice@example.org"
