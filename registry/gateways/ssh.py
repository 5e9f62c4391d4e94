"""sshd ``AuthorizedKeysCommand`` and ssh ``KnownHostsCommand`` output, from the index.

    settings = load_ssh_settings()
    print(authorized_keys("alice", settings), end="")

sshd runs this on every login, so it imports the standard library, the SQLite
read side of the index and the SSH renderers only -- no web3, eth-*, pydantic
or typer. Lines are re-rendered from the verified material stored in the
index; an option or newline hidden in user text can never reach sshd.

It fails closed: a missing, corrupt or stale index, or any other problem,
raises :class:`~registry.errors.Error` and the caller prints nothing.
"""

from __future__ import annotations

import os
import time

from registry._frozen import Frozen, init_fields
from registry.errors import ConfigError, IndexUnavailable, InvalidName

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from datetime import datetime
    from pathlib import Path
    from typing import Any, TypeVar

    from registry.gateways._ssh_hosts import known_hosts, known_hosts_lines, parse_known_host
    from registry.index._query import IndexReader
    from registry.index._snapshot import IndexedRecord, SnapshotReader

    _Reader = TypeVar("_Reader", bound=SnapshotReader)

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

#: Seconds after the last successful sync beyond which sshd gets nothing.
DEFAULT_MAX_STALENESS = 3600

#: What lives in :mod:`registry.gateways._ssh_hosts` (the known_hosts side, which
#: ``keyanchor-ssh authorized-keys`` never runs), handed out from here on first use.
_HOSTS_NAMES = frozenset({"known_hosts", "known_hosts_lines", "parse_known_host"})


def __getattr__(name: str) -> Any:
    if name not in _HOSTS_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from registry.gateways import _ssh_hosts

    return getattr(_ssh_hosts, name)


_SSH, _SSH_USER, _SSH_HOST, _CA = 1, 1, 2, 64
_MAX_SECONDS = 253402300799  # 9999-12-31T23:59:59Z, the last second a datetime holds


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


_SSH_KEYS = {"user_template", "users", "max_staleness", "allow_unchecked"}


def _config_path() -> str:
    env = os.environ.get("KEYANCHOR_CONFIG")
    if env:
        return env
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "keyanchor", "config.toml")


def _default_index() -> str:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "keyanchor", "index.sqlite")


def _read_config(p: str, strict_modes: bool) -> dict[str, Any]:
    if strict_modes:
        from registry.gateways._modes import check_secure_file

        try:
            check_secure_file(p, trusted={0, os.geteuid()}, what="the configuration",
                              error=ConfigError)
        except FileNotFoundError:
            return {}
    from registry.gateways._toml import loads

    try:
        with open(p, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read configuration ({exc})") from exc
    try:
        return loads(text)
    except ValueError as exc:  # tomllib.TOMLDecodeError
        raise ConfigError(f"{p}: cannot read configuration ({exc})") from exc


def _table(data: dict[str, Any], key: str, p: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{p}: [{key}] must be a table")
    return value


def _index_path(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where} must be a file path (a non-empty string), not {value!r}")
    path = os.path.expanduser(value)
    if not os.path.isabs(path):
        raise ConfigError(f"{where} must be an absolute path, not {value!r}")
    return path


def _template(value: object, p: str) -> str:
    from registry._grammar import parse_name

    if not isinstance(value, str) or value.count("{user}") != 1:
        raise ConfigError(f"{p}: [ssh] user_template must be a string containing {{user}} once")
    probe = value.replace("{user}", "u")
    try:
        normal = parse_name(probe).text == probe
    except InvalidName:
        normal = False
    if not normal:
        raise ConfigError(f"{p}: [ssh] user_template {value!r} does not give registry names in"
                          " normal form (lower-case ASCII, IDNA A-labels)")
    return value


def _users(value: object, p: str) -> dict[str, str]:
    from registry._grammar import parse_name

    if not isinstance(value, dict):
        raise ConfigError(f"{p}: [ssh] users must map local user names to registry names")
    out = {}
    for user, name in value.items():
        if not isinstance(user, str) or not user or not isinstance(name, str):
            raise ConfigError(f"{p}: [ssh] users must map local user names to registry names")
        try:
            out[user] = parse_name(name).text
        except InvalidName as exc:
            raise ConfigError(f"{p}: [ssh] users: {user} -> {exc}") from None
    return out


def _staleness(value: object, p: str) -> float:
    import math

    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or value <= 0:
        raise ConfigError(f"{p}: [ssh] max_staleness must be a positive, finite number of"
                          f" seconds, not {value!r}")
    return float(value)


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
    p = os.fspath(path) if path is not None else _config_path()
    data = _read_config(p, strict_modes)
    ssh = _table(data, "ssh", p)
    index = _table(data, "index", p)
    unknown = sorted(set(ssh) - _SSH_KEYS)
    if unknown:
        raise ConfigError(f"{p}: [ssh] has unknown setting(s) {', '.join(unknown)}"
                          f" (known: {', '.join(sorted(_SSH_KEYS))})")
    env_index = os.environ.get("KEYANCHOR_INDEX")
    if env_index:
        index_path = _index_path(env_index, "KEYANCHOR_INDEX")
    elif "path" in index:
        index_path = _index_path(index["path"], f"{p}: [index] path")
    else:
        index_path = _default_index()
    owner = None
    if "owner" in index:
        from registry.gateways._modes import owner_uid

        owner = owner_uid(index["owner"], where=f"{p}: [index] owner")
    template = _template(ssh["user_template"], p) if "user_template" in ssh else None
    users = _users(ssh.get("users", {}), p)
    staleness = _staleness(ssh.get("max_staleness", DEFAULT_MAX_STALENESS), p)
    unchecked = ssh.get("allow_unchecked", False)
    if not isinstance(unchecked, bool):
        raise ConfigError(f"{p}: [ssh] allow_unchecked must be true or false, not {unchecked!r}")
    return SSHSettings(index_path, template, users, staleness, unchecked, strict_modes, owner)


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
    from registry._grammar import parse_name

    if user in settings.users:
        return parse_name(settings.users[user]).text
    template = settings.user_template
    if template is None:
        raise InvalidName(f"local user {user!r} is not mapped to a registry name")
    in_local = "@" in template and template.index("{user}") < template.index("@")
    candidate = template.replace("{user}", user)
    try:
        normal = parse_name(candidate).text == candidate
    except InvalidName:
        normal = False
    if not user or not normal or "@" in user or (not in_local and "." in user):
        raise InvalidName(f"local user {user!r} is not a registry name label in normal form"
                          " (lower-case ASCII letters, digits and - . _ +): not mapped")
    return candidate


def _servable(rec: IndexedRecord, settings: SSHSettings) -> bool:
    return rec.status == "active" and (
        rec.policy == "pass" or (settings.allow_unchecked and rec.policy == "unknown"))


def _expiry(rec: IndexedRecord) -> datetime | None:
    if not rec.valid_until:
        return None
    from datetime import UTC, datetime

    # sshd's expiry-time has a 4-digit year; the contract takes times up to 2**38
    # (year 10680): clamp rather than fail the whole login for that user.
    return datetime.fromtimestamp(min(rec.valid_until, _MAX_SECONDS), UTC)


def _usable_algorithm(rec: IndexedRecord) -> str | None:
    """The key type of the record's plain SSH key, or ``None`` when it must be skipped.

    Skipped, one record at a time, never failing the whole answer: material
    that no longer hashes to the record's commitment (the index file was
    altered), material that does not parse (the contract accepts any bytes),
    and certificates (trusted through their CA, never listed themselves).
    """
    from registry.errors import Error
    from registry.keys._keccak import commitment_matches
    from registry.keys._ssh_wire import plain_key_algorithm

    if not commitment_matches(rec.key_type, rec.material, rec.commitment):
        return None
    try:
        return plain_key_algorithm(rec.material)
    except (Error, ValueError):
        return None


def authorized_keys_lines(reader: SnapshotReader, user: str, name: str, settings: SSHSettings,
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
    from registry.keys._ssh_wire import render_authorized_line

    problem = reader.name_problem(name)
    if problem is not None:
        raise InvalidName(problem)
    t = time.time() if now is None else now
    out = []
    for rec in reader.records(name, at=t, key_type=_SSH, purposes=_SSH_USER):
        if not _servable(rec, settings):
            continue
        algorithm = _usable_algorithm(rec)
        if algorithm is None:
            continue
        ca = bool(rec.purposes & _CA)
        out.append(render_authorized_line(algorithm, rec.material, cert_authority=ca,
                                          principals=[user] if ca else (),
                                          expiry=_expiry(rec), comment=name))
    return out


def _open_checked(settings: SSHSettings, reader: type[_Reader], now: float | None) -> _Reader:
    if settings.strict_modes:
        from registry.gateways._modes import check_secure_file

        trusted = {0, os.geteuid()} | ({settings.index_owner} if settings.index_owner is not None
                                       else set())
        try:
            check_secure_file(settings._index_path, trusted=trusted, what="the index",
                              error=IndexUnavailable)
        except FileNotFoundError:
            raise IndexUnavailable(f"no index at {settings._index_path} (run 'keyanchor sync')"
                                   ) from None
    return reader.open(settings._index_path, max_staleness=settings.max_staleness, now=now)


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

    return _open_checked(settings, IndexReader, now)


def authorized_keys(user: str, settings: SSHSettings | None = None) -> str:
    """The whole AuthorizedKeysCommand output for ``user`` (may be empty: no keys).

    Raises:
        Error: anything at all went wrong (the caller prints nothing and exits 1):
            ConfigError, InvalidName (unmapped user, a name that does not count),
            IndexUnavailable (missing, unsafe, corrupt or stale index).
    """
    from registry.index._snapshot import SnapshotReader  # open_index's checks, no more code

    settings = settings or load_ssh_settings()
    name = registry_name_for_user(user, settings)
    with _open_checked(settings, SnapshotReader, None) as reader:
        return "".join(line + "\n" for line in authorized_keys_lines(reader, user, name, settings))


