"""sshd's ``StrictModes`` rules for the files the sshd / ssh commands read (stdlib only).

    check_secure_file("/var/lib/keyanchor/index.sqlite", trusted={0, os.geteuid()},
                      what="the index", error=IndexUnavailable)

sshd refuses an ``authorized_keys`` file that someone other than root or the
user could have written (``auth2-pubkey.c``, ``auth_secure_path``). The index
and the configuration decide who logs in, so the sshd path holds them to the
same rule:

* the file is a regular file, **not a symbolic link**, owned by a trusted
  uid (root, the user the command runs as, or the index owner the
  configuration names) and not group- or world-writable;
* every directory the kernel walks through to reach it -- from ``/`` down,
  through the targets of symbolic links to directories -- is owned by a
  trusted uid and not group- or world-writable (so nothing under ``/tmp``,
  mode 1777, is ever accepted). A symbolic link to a directory is followed
  only out of a directory that already passed, and its target path is then
  checked the same way, so nobody untrusted can redirect the path.

Anything else raises the ``error`` class given (``ConfigError`` for the
configuration, ``IndexUnavailable`` for the index) with one line naming the
offending path, its owner and its mode.
"""

from __future__ import annotations

import os
import stat

from registry._errors_core import ConfigError, Error

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (sshd path)
if TYPE_CHECKING:
    from collections.abc import Collection

__all__ = ["check_secure_file"]

_MAX_LINKS = 40  # as the kernel's ELOOP limit


def _check(path: str, st: os.stat_result, trusted: Collection[int], what: str, shown: str,
           error: type[Error]) -> None:
    if st.st_uid not in trusted or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        from registry.gateways._refusals import bad_owner_or_mode  # the message: on refusal

        raise bad_owner_or_mode(path, st, trusted, what, shown, error)


def _refusal(error: type[Error], what: str, shown: str, reason: str) -> Error:
    return error(f"refusing {what} {shown}: {reason}")


def check_secure_file(path: str | os.PathLike[str], *, trusted: Collection[int], what: str,
                      error: type[Error] = ConfigError) -> None:
    """Apply the rules above to ``path``; return quietly when it passes.

    Raises:
        error: a symbolic link, not a regular file, a bad owner or mode on the
            file or on any directory leading to it, or a path that cannot be
            examined (``FileNotFoundError`` is raised as such for the caller).
    """
    shown = os.fspath(path)
    full = shown if os.path.isabs(shown) else os.path.join(os.getcwd(), shown)
    pending = [c for c in full.split("/") if c]
    cur = "/"
    try:
        _check("/", os.stat("/"), trusted, what, shown, error)
        links = 0
        while pending:
            comp = pending.pop(0)
            if comp == ".":
                continue
            if comp == "..":  # cur is fully resolved, so its parent is its dirname
                cur = os.path.dirname(cur)
                continue
            nxt = os.path.join(cur, comp)
            st = os.lstat(nxt)
            last = not pending
            if stat.S_ISLNK(st.st_mode):
                if last:
                    raise _refusal(error, what, shown, "it is a symbolic link (name the file itself)")
                links += 1
                if links > _MAX_LINKS:
                    raise _refusal(error, what, shown, "too many symbolic links")
                target = os.readlink(nxt)
                if target.startswith("/"):
                    cur = "/"
                pending = [c for c in target.split("/") if c] + pending
                continue
            if last:
                if not stat.S_ISREG(st.st_mode):
                    raise _refusal(error, what, shown, "not a regular file")
                _check(nxt, st, trusted, what, shown, error)
            else:
                if not stat.S_ISDIR(st.st_mode):
                    raise _refusal(error, what, shown, f"{nxt} is not a directory")
                _check(nxt, st, trusted, what, shown, error)
                cur = nxt
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise _refusal(error, what, shown, f"cannot examine {cur}: {exc.strerror or exc}") from exc
