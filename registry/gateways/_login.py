"""What ``keyanchor-ssh authorized-keys USER`` runs on every sshd login, and nothing more.

    print(authorized_keys_for("alice"), end="")   # the settings read from the config file

:mod:`registry.gateways.ssh` (the public API: :class:`~registry.gateways.ssh.SSHSettings`,
``load_ssh_settings``, ``authorized_keys``, ...) is built on these functions,
which take the settings' values rather than the record: the login neither
builds settings or record objects nor compiles their classes when no bytecode
is cached (docs/BENCHMARKS.md). Every check is here: StrictModes on the
configuration and the index, every configuration value, the user mapping, the
snapshot's checks (:mod:`registry.index._open`), the name grammar and the
squatting rule, status and policy of each record, the Keccak re-hash against
the commitment and the strict parse of the material. Fails closed: any problem
raises :class:`~registry.errors.Error`, and a bad record is skipped.
"""

from __future__ import annotations

import os
import time

from registry._errors_core import ConfigError, Error, IndexUnavailable, InvalidName
from registry._grammar import normal_name

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from datetime import datetime
    from typing import Any, TypeVar

    from registry.index._open import OpenSnapshot

    _Reader = TypeVar("_Reader", bound=OpenSnapshot)
    #: index_path, user_template, users, max_staleness, allow_unchecked, strict_modes, index_owner
    Settings = tuple[str | os.PathLike[str], str | None, dict[str, str], float, bool, bool, int | None]

__all__ = ["DEFAULT_MAX_STALENESS", "authorized_keys_for", "authorized_lines", "open_checked",
           "read_settings", "registry_name", "servable", "usable_algorithm"]

#: Seconds after the last successful sync beyond which sshd gets nothing.
DEFAULT_MAX_STALENESS = 3600

_SSH, _SSH_USER, _CA = 1, 1, 64
_MAX_SECONDS = 253402300799  # 9999-12-31T23:59:59Z, the last second a datetime holds
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
            return loads(f.read())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:  # ValueError: UnicodeDecodeError, tomllib's error
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
    if not isinstance(value, str) or value.count("{user}") != 1:
        raise ConfigError(f"{p}: [ssh] user_template must be a string containing {{user}} once")
    probe = value.replace("{user}", "u")
    try:
        normal = normal_name(probe) == probe
    except InvalidName:
        normal = False
    if not normal:
        raise ConfigError(f"{p}: [ssh] user_template {value!r} does not give registry names in"
                          " normal form (lower-case ASCII, IDNA A-labels)")
    return value


def _users(value: object, p: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ConfigError(f"{p}: [ssh] users must map local user names to registry names")
    out = {}
    for user, name in value.items():
        if not isinstance(user, str) or not user or not isinstance(name, str):
            raise ConfigError(f"{p}: [ssh] users must map local user names to registry names")
        try:
            out[user] = normal_name(name)
        except InvalidName as exc:
            raise ConfigError(f"{p}: [ssh] users: {user} -> {exc}") from None
    return out


def _staleness(value: object, p: str) -> float:
    try:
        seconds = float(value) if isinstance(value, int | float) else -1.0
    except OverflowError:  # an integer beyond any float
        seconds = -1.0
    if isinstance(value, bool) or not 0 < seconds < float("inf"):  # not NaN, not infinite
        raise ConfigError(f"{p}: [ssh] max_staleness must be a positive, finite number of"
                          f" seconds, not {value!r}")
    return seconds


def read_settings(path: str | os.PathLike[str] | None = None, *,
                  strict_modes: bool = True) -> Settings:
    """The values of :class:`registry.gateways.ssh.SSHSettings`, read and checked as
    :func:`registry.gateways.ssh.load_ssh_settings` documents.

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
        from registry.gateways._refusals import owner_uid  # rarely set

        owner = owner_uid(index["owner"], where=f"{p}: [index] owner")
    template = _template(ssh["user_template"], p) if "user_template" in ssh else None
    users = _users(ssh.get("users", {}), p)
    staleness = _staleness(ssh.get("max_staleness", DEFAULT_MAX_STALENESS), p)
    unchecked = ssh.get("allow_unchecked", False)
    if not isinstance(unchecked, bool):
        raise ConfigError(f"{p}: [ssh] allow_unchecked must be true or false, not {unchecked!r}")
    return index_path, template, users, staleness, unchecked, strict_modes, owner


def registry_name(user: str, users: dict[str, str], template: str | None) -> str:
    """The registry name local ``user`` logs in as (:func:`registry.gateways.ssh.registry_name_for_user`).

    Raises:
        InvalidName: no mapping, or the user name is not in normal form.
    """
    if user in users:
        return normal_name(users[user])
    if template is None:
        raise InvalidName(f"local user {user!r} is not mapped to a registry name")
    in_local = "@" in template and template.index("{user}") < template.index("@")
    candidate = template.replace("{user}", user)
    try:
        normal = normal_name(candidate) == candidate
    except InvalidName:
        normal = False
    if not user or not normal or "@" in user or (not in_local and "." in user):
        raise InvalidName(f"local user {user!r} is not a registry name label in normal form"
                          " (lower-case ASCII letters, digits and - . _ +): not mapped")
    return candidate


def servable(status: str, policy: str, allow_unchecked: bool) -> bool:
    """Whether a record may be served: active, and policy-passing (or unchecked, if allowed)."""
    return status == "active" and (policy == "pass" or (allow_unchecked and policy == "unknown"))


def usable_algorithm(key_type: int, material: bytes, commitment: bytes) -> str | None:
    """The key type of a record's plain SSH key, or ``None`` when it must be skipped.

    Skipped, one record at a time, never failing the whole answer: material
    that no longer hashes to the record's commitment (the index file was
    altered), material that does not parse (the contract accepts any bytes),
    and certificates (trusted through their CA, never listed themselves).
    """
    from registry.keys._keccak import commitment_matches
    from registry.keys._ssh_wire import plain_key_algorithm

    if not commitment_matches(key_type, material, commitment):
        return None
    try:
        return plain_key_algorithm(material)
    except (Error, ValueError):
        return None


def expiry(valid_until: int) -> datetime | None:
    """A record's valid-until as sshd's ``expiry-time`` (``None``: no end)."""
    if not valid_until:
        return None
    from datetime import UTC, datetime

    # sshd's expiry-time has a 4-digit year; the contract takes times up to 2**38
    # (year 10680): clamp rather than fail the whole login for that user.
    return datetime.fromtimestamp(min(valid_until, _MAX_SECONDS), UTC)


#: What a login reads of each record.
_COLUMNS = ("r.key_type, r.purposes, r.commitment, r.material, r.valid_from, r.valid_until,"
            " r.revoked_at, r.policy")


def authorized_lines(reader: OpenSnapshot, user: str, name: str, allow_unchecked: bool,
                     *, now: float | None = None) -> list[str]:
    """authorized_keys lines for local ``user`` from the records of registry ``name``
    (:func:`registry.gateways.ssh.authorized_keys_lines`).

    Raises: IndexUnavailable, InvalidName (the name does not count).
    """
    from registry.index._open import record_status
    from registry.keys._ssh_wire import render_authorized_line

    problem = reader.name_problem(name)
    if problem is not None:
        raise InvalidName(problem)
    t = time.time() if now is None else now
    out = []
    for kt, purposes, commitment, material, vf, vu, revoked, policy in reader.rows(
            _COLUMNS, name, key_type=_SSH, purposes=_SSH_USER):
        if not servable(record_status(vf, vu, revoked, t), policy, allow_unchecked):
            continue
        algorithm = usable_algorithm(int(kt), bytes(material), bytes(commitment))
        if algorithm is None:
            continue
        ca = bool(purposes & _CA)
        out.append(render_authorized_line(algorithm, bytes(material), cert_authority=ca,
                                          principals=[user] if ca else (),
                                          expiry=expiry(int(vu)), comment=name))
    return out


def open_checked(reader: type[_Reader], path: str | os.PathLike[str], *, strict_modes: bool,
                 index_owner: int | None, max_staleness: float, now: float | None) -> _Reader:
    """Open the index for a trust decision (:func:`registry.gateways.ssh.open_index`).

    Raises:
        IndexUnavailable: missing, unsafe, corrupt, never synced or stale.
    """
    if strict_modes:
        from registry.gateways._modes import check_secure_file

        trusted = {0, os.geteuid()} | ({index_owner} if index_owner is not None else set())
        try:
            check_secure_file(path, trusted=trusted, what="the index", error=IndexUnavailable)
        except FileNotFoundError:
            raise IndexUnavailable(f"no index at {os.fspath(path)} (run 'keyanchor sync')"
                                   ) from None
    return reader.open(path, max_staleness=max_staleness, now=now)


def authorized_keys_for(user: str, settings: Settings | None = None) -> str:
    """The whole AuthorizedKeysCommand output for ``user`` (may be empty: no keys), with
    ``settings`` (default: :func:`read_settings`).

    Raises:
        Error: anything at all went wrong (the caller prints nothing and exits 1):
            ConfigError, InvalidName (unmapped user, a name that does not count),
            IndexUnavailable (missing, unsafe, corrupt or stale index).
    """
    from registry.index._open import OpenSnapshot

    path, template, users, staleness, unchecked, strict, owner = settings or read_settings()
    name = registry_name(user, users, template)
    with open_checked(OpenSnapshot, path, strict_modes=strict, index_owner=owner,
                      max_staleness=staleness, now=None) as reader:
        return "".join(line + "\n" for line in authorized_lines(reader, user, name, unchecked))
