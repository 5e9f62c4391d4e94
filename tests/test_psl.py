"""The suffix-list tree's on-disk cache (registry.psl.suffix_tree)."""

from __future__ import annotations

from pathlib import Path

import pytest


def test_suffix_tree_cache_is_written_whole_and_rebuilt_when_corrupt(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from registry import psl

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    psl.suffix_tree.cache_clear()
    try:
        tree = psl.suffix_tree()
        (cache,) = (tmp_path / "keyanchor").iterdir()  # the cache, no temporary file beside it
        assert cache.name.startswith("psl-") and cache.suffix == ".bin"
        assert psl.SuffixTree.from_bytes(cache.read_bytes()).root == tree.root
        cache.write_bytes(b"junk")
        psl.suffix_tree.cache_clear()
        assert psl.suffix_tree().root == tree.root  # rebuilt, not trusted
        assert psl.SuffixTree.from_bytes(cache.read_bytes()).root == tree.root
    finally:
        psl.suffix_tree.cache_clear()
