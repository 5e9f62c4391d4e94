"""Atomic file output: a reader sees the old file or the new one, never a mixture.

    write_atomic("~/.config/git/allowed_signers", text)   # git's trust files
    write_atomic(cache / "psl-….bin", data)                # the suffix-tree cache

Stdlib only, so any layer may use it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from registry.errors import ConfigError

__all__ = ["write_atomic"]


def write_atomic(path: str | os.PathLike[str], data: str | bytes, *, mode: int = 0o644) -> None:
    """Write ``data`` (text as UTF-8) to ``path``: a temporary file in the same directory,
    flushed to disk, given ``mode``, then renamed over ``path``.

    Raises:
        ConfigError: the directory does not exist or cannot be written.
    """
    target = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise ConfigError(f"cannot write {target}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else bytes(data))
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ConfigError(f"cannot write {target}: {exc.strerror or exc}") from exc
