"""Key files: read with a size cap, and errors that name the file.

    key = load_key_file("~/.ssh/id_ed25519.pub")
    keys = load_key_files(["a.pem", "-"])         # "-" is stdin

A private key given by mistake is refused with the file's name and, for an SSH
private key with its ``.pub`` beside it, the file to give instead; nothing of
the private key is stored or echoed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from registry.errors import KeyFormatError, PrivateKeyError
from registry.keys._common import MAX_INPUT, Key, KeyType

__all__ = ["load_key_file", "load_key_files", "read_key_file"]


def read_key_file(path: str | os.PathLike[str], *, what: str = "key file") -> bytes:
    """The bytes of ``path`` (``-``: stdin), at most 1 MiB.

    Raises:
        KeyFormatError: missing, a directory, unreadable or too large (the message names it).
    """
    shown = str(path)
    limit = MAX_INPUT
    try:
        if shown == "-":
            data = sys.stdin.buffer.read(limit + 1)
        else:
            with open(Path(path).expanduser(), "rb") as fh:
                data = fh.read(limit + 1)
    except FileNotFoundError as exc:
        raise KeyFormatError(f"{shown}: no such file") from exc
    except IsADirectoryError as exc:
        raise KeyFormatError(f"{shown}: is a directory, not a {what}") from exc
    except OSError as exc:
        raise KeyFormatError(f"{shown}: cannot read ({exc.strerror or exc})") from exc
    if len(data) > limit:
        raise KeyFormatError(f"{shown}: larger than 1 MiB, not a {what}")
    return data


def _named(path: str | os.PathLike[str], exc: KeyFormatError) -> KeyFormatError:
    shown = "stdin" if str(path) == "-" else str(path)
    text = str(exc)
    for prefix in ("input is ", "this is ", "this input holds ", "input "):
        if text.startswith(prefix):
            text = text[len(prefix):]
            break
    if isinstance(exc, PrivateKeyError):
        public = Path(f"{path}.pub")
        hint = f"; give the public key {public} instead" if str(path) != "-" and \
            public.is_file() else ""
        return PrivateKeyError(f"{shown}: is {text.removeprefix('is ')}{hint}")
    return type(exc)(f"{shown}: {text}")


def load_key_file(path: str | os.PathLike[str], *,
                  key_type: KeyType | str | int | None = None) -> Key:
    """The one public key in ``path`` (``-``: stdin).

    Raises:
        KeyFormatError, PrivateKeyError, UnsupportedKeyType: the message starts with the file.
    """
    from registry.keys._load import load_key

    data = read_key_file(path)
    try:
        return load_key(data, key_type=key_type)
    except KeyFormatError as exc:
        raise _named(path, exc) from None


def load_key_files(paths: list[str | os.PathLike[str]]) -> list[tuple[str, Key]]:
    """Every public key in each file, as ``(file, key)``.

    Raises: as :func:`load_key_file`.
    """
    from registry.keys._load import load_keys

    out: list[tuple[str, Key]] = []
    for path in paths:
        data = read_key_file(path)
        try:
            out += [(str(path), key) for key in load_keys(data)]
        except KeyFormatError as exc:
            raise _named(path, exc) from None
    return out
