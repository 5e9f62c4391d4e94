"""asyncssh: server host keys and client keys from the registry.

    # a client: trust the servers' published host keys and host CAs
    conn = await asyncssh.connect("web1.example.org", known_hosts=registry_known_hosts())

    # a server: log users in with their published ssh-user keys
    await asyncssh.create_server(RegistrySSHServer, "", 8022, server_host_keys=["ssh_host_key"])

Client side, :func:`registry_known_hosts` gives the callable asyncssh accepts
as ``known_hosts``: for the host (or ``host_key_alias``) it returns the
host's published host keys, the host CAs of the names with authority over it,
and the revoked keys -- exactly what ``keyanchor-ssh known-hosts`` gives ssh
(:func:`registry.gateways.ssh.known_hosts_lines`); asyncssh then applies its
usual checks (certificate type, principal, validity, revocation).

Server side, :func:`registry_authorized_keys` gives a user's
``SSHAuthorizedKeys`` from the records of the registry name the user maps to
(``[ssh] users`` / ``user_template``, as for sshd), the same lines
``keyanchor-ssh authorized-keys`` gives sshd
(:func:`registry.gateways.ssh.authorized_keys_lines`); :class:`RegistrySSHServer`
sets them in ``begin_auth``, asyncssh's hook for per-user keys.

Both fail closed: with a missing or stale index a client trusts no host key
and a server accepts no client key; the reason goes to the
``registry.integrations.asyncssh`` logger.

Needs asyncssh (``pip install keyanchor[asyncssh]``), imported with this module.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from registry.errors import ConfigError, Error

try:
    import asyncssh
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ConfigError("registry.integrations.asyncssh needs asyncssh:"
                      " pip install 'keyanchor[asyncssh]'") from exc

from registry.gateways.ssh import SSHSettings, authorized_keys_lines, registry_name_for_user
from registry.integrations._hostkeys import lookup_host_keys
from registry.integrations._index import index_settings, open_index
from registry.keys._ssh import SSHPublicKey, render_openssh

__all__ = ["RegistrySSHServer", "registry_authorized_keys", "registry_known_hosts"]

log = logging.getLogger(__name__)

KnownHosts = tuple[list[Any], list[Any], list[Any]]


def _keys(entries: tuple[tuple[SSHPublicKey, str], ...]) -> list[Any]:
    return [asyncssh.import_public_key(render_openssh(key)) for key, _ in entries]


def registry_known_hosts(settings: SSHSettings | None = None, *, index: Any = None,
                         max_staleness: float | None = None,
                         now: float | None = None) -> Callable[[str, str, int | None], KnownHosts]:
    """A ``known_hosts`` callable for ``asyncssh.connect``: ``(host, addr, port) -> (keys, CAs, revoked)``.

    ``host`` is the name asyncssh connects to (or its ``host_key_alias``); one
    that is not a registry name (an address) gets nothing, so asyncssh refuses
    it. A missing or stale index gives nothing either (logged).

    Raises:
        ConfigError: unreadable configuration (at once, not per connection).
    """
    cfg = index_settings(settings, index=index, max_staleness=max_staleness)

    def known_hosts(host: str, addr: str, port: int | None) -> KnownHosts:
        try:
            entries = lookup_host_keys(host, cfg, now=now)
            return _keys(entries.trusted), _keys(entries.authorities), _keys(entries.revoked)
        except Error as exc:
            log.warning("keyanchor: trusting no host key for %s: %s", host, exc)
            return [], [], []

    return known_hosts


def registry_authorized_keys(username: str, settings: SSHSettings | None = None, *,
                             now: float | None = None) -> Any:
    """The ``asyncssh.SSHAuthorizedKeys`` for local ``username`` (empty: no published keys).

    Raises:
        InvalidName: the user maps to no registry name.
        IndexUnavailable: missing, corrupt or stale index.
        KeyFormatError: indexed material that no longer parses.
        ConfigError: the configuration cannot be read.
    """
    cfg = index_settings(settings)
    name = registry_name_for_user(username, cfg)
    with open_index(cfg, now=now) as reader:
        lines = authorized_keys_lines(reader, username, name, cfg, now=now)
    keys = asyncssh.SSHAuthorizedKeys()
    if lines:
        try:
            keys.load("".join(line + "\n" for line in lines))
        except (ValueError, asyncssh.KeyImportError) as exc:
            raise ConfigError(f"asyncssh cannot read the authorized keys of {name}: {exc}") from exc
    return keys


class RegistrySSHServer(asyncssh.SSHServer):
    """An ``asyncssh.SSHServer`` whose users log in with the keys published for their name.

    Pass the class (or ``functools.partial(RegistrySSHServer, settings=...)``)
    as ``create_server``'s server factory; subclass it for the rest of the
    server. Public-key authentication only, unless a subclass adds more.
    """

    def __init__(self, settings: SSHSettings | None = None) -> None:
        self._settings = index_settings(settings)
        self._conn: Any = None

    def connection_made(self, conn: Any) -> None:
        self._conn = conn

    def begin_auth(self, username: str) -> bool:
        try:
            keys = registry_authorized_keys(username, self._settings)
        except Error as exc:  # fail closed: this user gets in with no key
            log.warning("keyanchor: no authorized keys for %s: %s", username, exc)
            keys = asyncssh.SSHAuthorizedKeys()
        self._conn.set_authorized_keys(keys)
        return True

    def public_key_auth_supported(self) -> bool:
        return True
