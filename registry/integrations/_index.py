"""Where the integrations read the registry: the verified index, opened fail-closed.

    settings = index_settings(max_staleness=600)
    with open_index(settings) as reader: ...

The settings are the ``[ssh]`` / ``[index]`` configuration the sshd and ssh
commands read (:func:`registry.gateways.ssh.load_ssh_settings`: same file, same
``KEYANCHOR_CONFIG`` / ``KEYANCHOR_INDEX`` variables), so one ``keyanchor sync``
and one staleness limit serve sshd, ssh and every library integration. The
integrations make the same trust decisions as the sshd path, so they hold the
configuration and the index to the same StrictModes rules
(:func:`registry.gateways.ssh.open_index`): nothing under ``/tmp``, nothing
another user could have written. Settings built with ``strict_modes=False``
(:func:`~registry.gateways.ssh.load_ssh_settings`) opt out, knowingly.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from registry.gateways.ssh import SSHSettings, load_ssh_settings, open_index

__all__ = ["index_settings", "open_index"]


def index_settings(
    settings: SSHSettings | None = None,
    *,
    index: str | os.PathLike[str] | None = None,
    max_staleness: float | None = None,
    allow_unchecked: bool | None = None,
    users: Mapping[str, str] | None = None,
    user_template: str | None = None,
) -> SSHSettings:
    """The configured settings (or ``settings``), with the given fields replaced.

    Raises:
        ConfigError: the configuration file cannot be read, or ``max_staleness``
            is not a positive number.
    """
    from registry.errors import ConfigError

    base = settings if settings is not None else load_ssh_settings()
    changes: dict[str, object] = {}
    if index is not None:
        changes["index_path"] = Path(index)
    if max_staleness is not None:
        if isinstance(max_staleness, bool) or not isinstance(max_staleness, int | float) \
                or max_staleness <= 0:
            raise ConfigError("max_staleness must be a positive number of seconds")
        changes["max_staleness"] = float(max_staleness)
    if allow_unchecked is not None:
        changes["allow_unchecked"] = bool(allow_unchecked)
    if users is not None:
        changes["users"] = dict(users)
    if user_template is not None:
        changes["user_template"] = user_template
    return base.replace(**changes) if changes else base
