"""What sshd's login loads only to refuse: the messages of a failed StrictModes check, and
the index owner setting (rarely set).

``keyanchor-ssh authorized-keys`` compiles :mod:`registry.gateways._modes` on every
login when no bytecode is cached; the text of a refusal is built here, on a
refusal only (docs/BENCHMARKS.md). Same messages as before.
"""

from __future__ import annotations

import stat

from registry._errors_core import ConfigError, Error

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (sshd path)
if TYPE_CHECKING:
    import os
    from collections.abc import Collection

__all__ = ["bad_owner_or_mode", "owner_uid"]


def owner_uid(owner: object, *, where: str) -> int:
    """The uid of ``owner`` (a user name or a uid number) from the configuration.

    Raises: ConfigError (not a string or integer, or no such user).
    """
    if isinstance(owner, bool) or not isinstance(owner, str | int):
        raise ConfigError(f"{where}: owner must be a user name or a uid, not {owner!r}")
    if isinstance(owner, int):
        if owner < 0:
            raise ConfigError(f"{where}: owner uid must not be negative")
        return owner
    import pwd

    try:
        return int(pwd.getpwnam(owner).pw_uid)
    except KeyError:
        raise ConfigError(f"{where}: owner {owner!r}: no such user") from None


def _who(uid: int) -> str:
    try:
        import pwd

        return f"uid {uid} ({pwd.getpwuid(uid).pw_name})"
    except (KeyError, ImportError):
        return f"uid {uid}"


def bad_owner_or_mode(path: str, st: os.stat_result, trusted: Collection[int], what: str,
                      shown: str, error: type[Error]) -> Error:
    """The refusal of ``path`` (a component of ``shown``), whose owner is not trusted or
    whose mode lets group or others write."""
    if st.st_uid not in trusted:
        allowed = ", ".join(_who(u) for u in sorted(set(trusted)))
        return error(f"refusing {what} {shown}: {path} is owned by {_who(st.st_uid)},"
                     f" not by {allowed} (bad ownership)")
    return error(f"refusing {what} {shown}: {path} is group- or world-writable"
                 f" (mode {stat.S_IMODE(st.st_mode):04o}; bad modes)")
