"""paramiko: verify SSH servers' host keys against the registry.

    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(RegistryHostKeyPolicy())
    client.connect("web1.example.org", username="alice", transport_factory=CertificateFirstTransport)

:class:`RegistryHostKeyPolicy` accepts the server only if its host key is an
active, policy-passing ssh-host record of the host name in the verified
index, or a host certificate for that name signed by a host CA published on
the name or a registry ancestor (``example.org`` for ``web1.example.org``);
revoked keys and CAs are refused. The rules are those of ``keyanchor-ssh
known-hosts`` (:func:`registry.gateways.ssh.known_hosts_lines`), applied the
way ``ssh`` applies them. It fails closed: a missing or stale index refuses
every server. It never writes a key into the client's host keys, so each
connection asks the registry again (and sees revocations).

paramiko consults the policy only for hosts absent from the host keys it
loaded (``load_system_host_keys``, ``load_host_keys``): leave those out when
the registry is to decide. paramiko prefers plain host keys over
certificates; pass ``transport_factory=CertificateFirstTransport`` to ask for
the certificate first, as OpenSSH does (a server without one still offers its
plain key).

Needs paramiko (``pip install keyanchor[paramiko]``), imported with this module.
"""

from __future__ import annotations

import time
from typing import Any

from registry.errors import ConfigError, Error, KeyNotTrusted

try:
    import paramiko
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ConfigError("registry.integrations.paramiko needs paramiko:"
                      " pip install 'keyanchor[paramiko]'") from exc

from registry.gateways.ssh import SSHSettings
from registry.integrations._hostkeys import HostKeyMatch, check_host_key, lookup_host_keys
from registry.integrations._index import index_settings

__all__ = ["CertificateFirstTransport", "HostKeyNotTrusted", "RegistryHostKeyPolicy"]

_CERT = "-cert-v01@openssh.com"


class HostKeyNotTrusted(KeyNotTrusted, paramiko.SSHException):
    """The server's host key is not published for the host (or cannot be checked).

    A :class:`paramiko.SSHException`, so ``SSHClient.connect`` callers catch it as
    they catch paramiko's own refusals, and a :class:`~registry.errors.KeyNotTrusted`.
    """


class RegistryHostKeyPolicy(paramiko.MissingHostKeyPolicy):
    """A ``MissingHostKeyPolicy`` that asks the registry's verified index.

    ``settings``: the index and staleness limit (default: the configuration
    ``keyanchor-ssh`` reads); ``index`` / ``max_staleness`` override them.
    ``now`` fixes the clock (tests). :attr:`last_match` says why the last
    server was accepted.
    """

    def __init__(self, settings: SSHSettings | None = None, *, index: Any = None,
                 max_staleness: float | None = None, now: float | None = None) -> None:
        self.settings = index_settings(settings, index=index, max_staleness=max_staleness)
        self.now = now
        self.last_match: HostKeyMatch | None = None

    def missing_host_key(self, client: Any, hostname: str, key: Any) -> None:
        """Return if ``key`` is the registry's for ``hostname``; raise :class:`HostKeyNotTrusted`."""
        self.last_match = None
        blob = key.public_blob.key_blob if getattr(key, "public_blob", None) else key.asbytes()
        now = time.time() if self.now is None else self.now
        try:
            entries = lookup_host_keys(hostname, self.settings, now=now)
            self.last_match = check_host_key(entries, bytes(blob), now=now)
        except KeyNotTrusted as exc:
            raise HostKeyNotTrusted(str(exc), exc.reason) from exc
        except Error as exc:  # index missing or stale, material that no longer parses
            reason = " ".join(str(exc).split())
            raise HostKeyNotTrusted(f"host key of {hostname} cannot be checked: {reason}",
                                    reason) from exc


class CertificateFirstTransport(paramiko.Transport):
    """A ``paramiko.Transport`` that asks servers for host certificates first (OpenSSH's order).

    Pass it as ``SSHClient.connect(..., transport_factory=CertificateFirstTransport)``.
    """

    @property
    def preferred_keys(self) -> tuple[str, ...]:
        plain = tuple(k for k in self._filter_algorithm("keys") if not k.endswith(_CERT))
        return tuple(k + _CERT for k in plain if k + _CERT in self._key_info) + plain
