"""keyanchor inside other tools: paramiko, asyncssh, git SSH signing, TLS clients, gpg.

    from registry.integrations.paramiko import RegistryHostKeyPolicy
    client.set_missing_host_key_policy(RegistryHostKeyPolicy())

Each submodule is a thin layer over the verified local index and the read
side the gateways already use (:func:`registry.gateways.ssh.known_hosts_lines`,
:func:`~registry.gateways.ssh.authorized_keys_lines`, :class:`~registry.index.IndexReader`):
the lookup rules live there, once. Every submodule imports its third-party
library (paramiko, asyncssh) only when it is imported itself, and this package
imports nothing: ``import registry.integrations`` costs nothing and the sshd
command path never loads any of them.

- :mod:`registry.integrations.paramiko` -- a host-key policy for ``paramiko.SSHClient``
- :mod:`registry.integrations.asyncssh` -- ``known_hosts`` for clients, authorized keys for servers
- :mod:`registry.integrations.git` -- ``gpg.ssh.allowedSignersFile`` / ``revocationFile`` for git
- :mod:`registry.integrations.tls` -- an ``ssl.SSLContext`` pinning servers to their published certificates

Every integration fails closed: a missing, corrupt or stale index refuses
the peer (:class:`~registry.errors.KeyNotTrusted`) rather than trusting it.
"""

from __future__ import annotations

__all__: list[str] = []
