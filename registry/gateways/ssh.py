"""sshd ``AuthorizedKeysCommand`` and ssh ``KnownHostsCommand`` output, from the index.

    settings = load_ssh_settings()
    print(authorized_keys("alice", settings), end="")

sshd runs this on every login, so it imports the standard library, the SQLite
read side of the index and the SSH renderers only -- no web3, eth-*, pydantic
or typer; ``keyanchor-ssh authorized-keys`` runs :mod:`registry.gateways._login`
alone, on which this module is built. Lines are re-rendered from the verified
material stored in the index; an option or newline hidden in user text can
never reach sshd.

It fails closed: a missing, corrupt or stale index, or any other problem,
raises :class:`~registry.errors.Error` and the caller prints nothing.
"""

from __future__ import annotations

import os

from registry._frozen import Frozen, init_fields
from registry.gateways._login import (  # noqa: F401 -- _CA: for _ssh_hosts
    _CA,
    DEFAULT_MAX_STALENESS,
    authorized_keys_for,
    authorized_lines,
    open_checked,
    read_settings,
    registry_name,
    servable,
    usable_algorithm,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    from registry.gateways._ssh_hosts import known_hosts, known_hosts_lines, parse_known_host
    from registry.index._open import OpenSnapshot
    from registry.index._query import IndexReader
    from registry.index._snapshot import IndexedRecord

__all__ = [
    "DEFAULT_MAX_STALENESS",
    "SSHSettings",
    "authorized_keys",
    "authorized_keys_lines",
    "known_hosts",
    "known_hosts_lines",
    "load_ssh_settings",
    "open_index",
    "parse_known_host",
    "registry_name_for_user",
]

#: What lives in :mod:`registry.gateways._ssh_hosts` (the known_hosts side, which
#: ``keyanchor-ssh authorized-keys`` never runs), handed out from here on first use.
_HOSTS_NAMES = frozenset({"known_hosts", "known_hosts_lines", "parse_known_host"})


def __getattr__(name: str) -> Any:
    if name not in _HOSTS_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from registry.gateways import _ssh_hosts

    return getattr(_ssh_hosts, name)


class SSHSettings(Frozen):
    """The ``[ssh]`` table of the config and the index location.

    ``SSHSettings(index_path, user_template=None, users={}, max_staleness=3600,
    allow_unchecked=False, strict_modes=True, index_owner=None)``: the local
    user -> registry name map and template, the staleness limit in seconds,
    whether to serve records whose policy verdict is ``unknown``, whether
    sshd's StrictModes rules apply to the index file and its directories
    (docs/SSH.md), and a uid besides root and the running user that may own
    them. Immutable; :meth:`replace` gives a changed copy.
    """

    _fields = ("index_path", "user_template", "users", "max_staleness", "allow_unchecked",
               "strict_modes", "index_owner")
    __slots__ = ("_index_path", *_fields[1:])
    _index_path: str | os.PathLike[str]
    user_template: str | None
    users: dict[str, str]
    max_staleness: float
    allow_unchecked: bool
    strict_modes: bool
    index_owner: int | None

    def __init__(self, index_path: str | os.PathLike[str], user_template: str | None = None,
                 users: dict[str, str] | None = None,
                 max_staleness: float = DEFAULT_MAX_STALENESS, allow_unchecked: bool = False,
                 strict_modes: bool = True, index_owner: int | None = None) -> None:
        init_fields(self, _index_path=index_path, user_template=user_template,
                    users={} if users is None else users, max_staleness=max_staleness,
                    allow_unchecked=allow_unchecked, strict_modes=strict_modes,
                    index_owner=index_owner)

    @property
    def index_path(self) -> Path:
        """The index file (kept as given: sshd's path never imports pathlib)."""
        from pathlib import Path

        return Path(self._index_path)

    def __setstate__(self, state: tuple[object, ...]) -> None:
        for f, value in zip(self._fields, state, strict=True):
            object.__setattr__(self, "_index_path" if f == "index_path" else f, value)

    __hash__ = None  # type: ignore[assignment]  # holds a dict, as the dataclass did


def load_ssh_settings(path: str | os.PathLike[str] | None = None, *,
                      strict_modes: bool = True) -> SSHSettings:
    """Read the SSH settings the way :mod:`registry.config` does (same file, same env vars).

    With ``strict_modes`` (always, from ``keyanchor-ssh``) the configuration
    file must pass sshd's StrictModes rules for root or the running user
    (:mod:`registry.gateways._modes`), and the index will too when opened.
    Every value is checked: ``[ssh]`` takes only ``user_template`` (a string
    with ``{user}`` once, giving names in normal form), ``users`` (local user ->
    registry name), ``max_staleness`` (positive, finite seconds) and
    ``allow_unchecked`` (a boolean); ``[index] path`` is an absolute path and
    ``[index] owner`` a user name or uid.

    Raises:
        ConfigError: an unsafe, unreadable or invalid file, or a bad value.
    """
    return SSHSettings(*read_settings(path, strict_modes=strict_modes))


def registry_name_for_user(user: str, settings: SSHSettings) -> str:
    """The registry name a local user logs in as (explicit map first, then the template).

    The map matches user names exactly. Through the template, a user name maps
    only if it is already in the name grammar's normal form, byte for byte,
    and fills exactly its place (the local part, or one DNS label): ``ALICE``,
    fullwidth ``ａ``, ``ß`` / ``ẞ`` (which IDNA would turn into another
    spelling) and ``a.b`` in a label are refused rather than folded onto
    someone else's name.

    Raises:
        InvalidName: no mapping, or the user name is not in normal form.
    """
    return registry_name(user, settings.users, settings.user_template)


def _servable(rec: IndexedRecord, settings: SSHSettings) -> bool:
    return servable(rec.status, rec.policy, settings.allow_unchecked)


def _usable_algorithm(rec: IndexedRecord) -> str | None:
    """The key type of the record's plain SSH key, or ``None`` when it must be skipped
    (:func:`registry.gateways._login.usable_algorithm`)."""
    return usable_algorithm(rec.key_type, rec.material, rec.commitment)


def authorized_keys_lines(reader: OpenSnapshot, user: str, name: str, settings: SSHSettings,
                          *, now: float | None = None) -> list[str]:
    """authorized_keys lines for local ``user`` from the records of registry ``name``.

    Active, unexpired, policy-passing SSH records with purpose ssh-user; plain
    keys as themselves (``expiry-time=`` when the record has a valid-until),
    keys that also carry the CA purpose as ``cert-authority,principals="user"``.
    Certificates are skipped (sshd trusts them through their CA), and so is
    any record whose material does not parse or does not hash to its
    commitment. A name that does not count (not a valid name, or squatting in
    someone else's domain: :meth:`IndexReader.name_problem`) has no keys.

    Raises: IndexUnavailable, InvalidName (the name does not count).
    """
    return authorized_lines(reader, user, name, settings.allow_unchecked, now=now)


def open_index(settings: SSHSettings, *, now: float | None = None) -> IndexReader:
    """Open the index read-only for a trust decision: the sshd path's rules, once.

    With ``settings.strict_modes`` the index file and every directory above it
    must pass sshd's StrictModes rules (owner root, the running user or
    ``[index] owner``; not group/world-writable; no symlink); an index older
    than ``settings.max_staleness`` (measured at ``now``, default the clock) is
    refused. The integrations (:mod:`registry.integrations`) open it here too.

    Raises:
        IndexUnavailable: missing, unsafe, corrupt, never synced or stale.
    """
    from registry.index._query import IndexReader

    return open_checked(IndexReader, settings._index_path, strict_modes=settings.strict_modes,
                        index_owner=settings.index_owner, max_staleness=settings.max_staleness,
                        now=now)


def authorized_keys(user: str, settings: SSHSettings | None = None) -> str:
    """The whole AuthorizedKeysCommand output for ``user`` (may be empty: no keys).

    Raises:
        Error: anything at all went wrong (the caller prints nothing and exits 1):
            ConfigError, InvalidName (unmapped user, a name that does not count),
            IndexUnavailable (missing, unsafe, corrupt or stale index).
    """
    if settings is None:
        return authorized_keys_for(user)
    return authorized_keys_for(user, (settings._index_path, settings.user_template, settings.users,
                                      settings.max_staleness, settings.allow_unchecked,
                                      settings.strict_modes, settings.index_owner))
