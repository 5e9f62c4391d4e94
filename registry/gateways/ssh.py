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
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from registry.errors import ConfigError, InvalidName
from registry.index._query import IndexedRecord, IndexReader

__all__ = [
    "DEFAULT_MAX_STALENESS",
    "SSHSettings",
    "authorized_keys",
    "authorized_keys_lines",
    "known_hosts",
    "known_hosts_lines",
    "load_ssh_settings",
    "registry_name_for_user",
]

#: Seconds after the last successful sync beyond which sshd gets nothing.
DEFAULT_MAX_STALENESS = 3600

_SSH, _SSH_USER, _SSH_HOST, _CA = 1, 1, 2, 64
_MAX_SECONDS = 253402300799  # 9999-12-31T23:59:59Z, the last second a datetime holds


@dataclass(frozen=True, slots=True)
class SSHSettings:
    """The ``[ssh]`` table of the config and the index location."""

    index_path: Path
    user_template: str | None = None
    users: dict[str, str] = field(default_factory=dict)
    max_staleness: float = DEFAULT_MAX_STALENESS
    allow_unchecked: bool = False  # serve records whose policy verdict is "unknown"


def _config_path() -> Path:
    env = os.environ.get("KEYANCHOR_CONFIG")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "keyanchor" / "config.toml"


def _default_index() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "keyanchor" / "index.sqlite"


def load_ssh_settings(path: str | os.PathLike[str] | None = None) -> SSHSettings:
    """Read the SSH settings the way :mod:`registry.config` does (same file, same env vars).

    Raises:
        ConfigError: unreadable file, invalid TOML, or bad ``[ssh]`` values.
    """
    p = Path(path) if path is not None else _config_path()
    try:
        data: dict[str, Any] = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        data = {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read configuration ({exc})") from exc
    ssh = data.get("ssh") or {}
    index = data.get("index") or {}
    env_index = os.environ.get("KEYANCHOR_INDEX")
    index_path = Path(env_index) if env_index else (
        Path(index["path"]) if isinstance(index.get("path"), str) else _default_index())
    template = ssh.get("user_template")
    users = ssh.get("users") or {}
    staleness = ssh.get("max_staleness", DEFAULT_MAX_STALENESS)
    if template is not None and (not isinstance(template, str) or "{user}" not in template):
        raise ConfigError(f"{p}: [ssh] user_template must be a string containing {{user}}")
    if not isinstance(users, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in users.items()):
        raise ConfigError(f"{p}: [ssh] users must map local user names to registry names")
    if isinstance(staleness, bool) or not isinstance(staleness, int | float) or staleness <= 0:
        raise ConfigError(f"{p}: [ssh] max_staleness must be a positive number of seconds")
    return SSHSettings(index_path, template, dict(users), float(staleness),
                       bool(ssh.get("allow_unchecked", False)))


def registry_name_for_user(user: str, settings: SSHSettings) -> str:
    """The registry name a local user logs in as (explicit map first, then the template).

    Raises:
        InvalidName: no mapping, or the mapped text is not a registry name.
    """
    from registry.names import parse_name

    if user in settings.users:
        return parse_name(settings.users[user]).text
    if settings.user_template is None:
        raise InvalidName(f"local user {user!r} is not mapped to a registry name")
    if not user or not all(ch.isalnum() or ch in "._-" for ch in user):
        raise InvalidName(f"local user {user!r} cannot be mapped through the template")
    return parse_name(settings.user_template.replace("{user}", user)).text


def _servable(rec: IndexedRecord, settings: SSHSettings) -> bool:
    return rec.status == "active" and (
        rec.policy == "pass" or (settings.allow_unchecked and rec.policy == "unknown"))


def _expiry(rec: IndexedRecord) -> Any:
    if not rec.valid_until:
        return None
    from datetime import UTC, datetime

    # sshd's expiry-time has a 4-digit year; the contract takes times up to 2**38
    # (year 10680): clamp rather than fail the whole login for that user.
    return datetime.fromtimestamp(min(rec.valid_until, _MAX_SECONDS), UTC)


def authorized_keys_lines(reader: IndexReader, user: str, name: str, settings: SSHSettings,
                          *, now: float | None = None) -> list[str]:
    """authorized_keys lines for local ``user`` from the records of registry ``name``.

    Active, unexpired, policy-passing SSH records with purpose ssh-user; plain
    keys as themselves (``expiry-time=`` when the record has a valid-until),
    keys that also carry the CA purpose as ``cert-authority,principals="user"``.
    Certificates are skipped (sshd trusts them through their CA).

    Raises: IndexUnavailable, KeyFormatError (material that no longer parses).
    """
    from registry.keys._ssh import load_ssh_blob, render_authorized_key

    t = time.time() if now is None else now
    out = []
    for rec in reader.records(name, at=t, key_type=_SSH, purposes=_SSH_USER):
        if not _servable(rec, settings):
            continue
        key = load_ssh_blob(rec.material)
        if key.certificate is not None:
            continue
        if rec.purposes & _CA:
            out.append(render_authorized_key(key, cert_authority=True, principals=[user],
                                              expiry=_expiry(rec), comment=name))
        else:
            out.append(render_authorized_key(key, expiry=_expiry(rec), comment=name))
    return out


def known_hosts_lines(reader: IndexReader, host: str, settings: SSHSettings,
                      *, now: float | None = None) -> list[str]:
    """known_hosts lines for ``host``: its own ssh-host records and its authorities' host CAs.

    The host's own records: active, policy-passing host keys as plain lines,
    host CA keys (purpose ca) as ``@cert-authority``. Host CAs (ssh-host + ca)
    of the registry names with authority over the host
    (:meth:`IndexReader.authorities`: web1.example.org -> example.org -> ...,
    following registry parent links, stopping at a renounced child or a
    top-level name) as ``@cert-authority HOST``, nearest first -- also for a
    host that is not registered itself; their plain host keys are never served
    for the host. Revoked keys of either kind as ``@revoked`` (whatever their
    policy verdict), listed first. Expired and pending keys are left out.

    Raises: InvalidName (``host`` is not a registry name), IndexUnavailable,
        KeyFormatError.
    """
    from registry.keys._ssh import load_ssh_blob, render_known_hosts_line

    t = time.time() if now is None else now
    revoked, trusted = [], []
    for rec in [*reader.host_keys(host, at=t), *reader.host_cas(host, at=t)]:
        key = load_ssh_blob(rec.material)
        if key.certificate is not None:
            continue
        if rec.status == "revoked":
            revoked.append(render_known_hosts_line(key, host, marker="@revoked", comment=rec.name))
        elif _servable(rec, settings):
            marker = "@cert-authority" if rec.purposes & _CA else None
            trusted.append(render_known_hosts_line(key, host, marker=marker, comment=rec.name))
    return revoked + trusted


def _open(settings: SSHSettings) -> IndexReader:
    return IndexReader.open(settings.index_path, max_staleness=settings.max_staleness)


def authorized_keys(user: str, settings: SSHSettings | None = None) -> str:
    """The whole AuthorizedKeysCommand output for ``user`` (may be empty: no keys).

    Raises:
        Error: anything at all went wrong (the caller prints nothing and exits 1):
            ConfigError, InvalidName (unmapped user), IndexUnavailable (missing,
            corrupt or stale index), KeyFormatError.
    """
    settings = settings or load_ssh_settings()
    name = registry_name_for_user(user, settings)
    with _open(settings) as reader:
        return "".join(line + "\n" for line in authorized_keys_lines(reader, user, name, settings))


def known_hosts(host: str, settings: SSHSettings | None = None) -> str:
    """The whole KnownHostsCommand output for ``host`` (empty when nothing in the index covers it).

    Raises: ConfigError, IndexUnavailable, KeyFormatError (as :func:`authorized_keys`).
    """
    settings = settings or load_ssh_settings()
    from registry.names import parse_name

    try:
        name = parse_name(host).text
    except InvalidName:
        return ""  # an address or [host]:port pattern: nothing registered under it
    with _open(settings) as reader:
        return "".join(line + "\n" for line in known_hosts_lines(reader, name, settings))

