"""ssh's ``KnownHostsCommand`` output from the index (``keyanchor-ssh known-hosts HOST``).

The known_hosts half of :mod:`registry.gateways.ssh`, which hands these names
out (``ssh.known_hosts``, ``ssh.known_hosts_lines``, ``ssh.parse_known_host``):
kept apart so that ``keyanchor-ssh authorized-keys``, on every login, does not
compile it. Same rules: lines re-rendered from verified material, fail closed.
"""

from __future__ import annotations

import re
import time

from registry.errors import InvalidName
from registry.gateways.ssh import (
    _CA,
    SSHSettings,
    _servable,
    _usable_algorithm,
    load_ssh_settings,
    open_index,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from registry.index._query import IndexReader
    from registry.index._snapshot import IndexedRecord
    from registry.keys._ssh import SSHPublicKey

__all__ = ["known_hosts", "known_hosts_lines", "parse_known_host"]


def _usable_key(rec: IndexedRecord) -> SSHPublicKey | None:
    """The record's parsed plain SSH key, or ``None`` when it must be skipped
    (:func:`registry.gateways.ssh._usable_algorithm` says which)."""
    from registry.keys._ssh import load_ssh_blob

    return None if _usable_algorithm(rec) is None else load_ssh_blob(rec.material)


def known_hosts_lines(reader: IndexReader, host: str, settings: SSHSettings,
                      *, now: float | None = None, pattern: str | None = None) -> list[str]:
    """known_hosts lines for ``host``: its own ssh-host records and its authorities' host CAs.

    The host's own records: active, policy-passing host keys as plain lines,
    host CA keys (purpose ca) as ``@cert-authority``. Host CAs (ssh-host + ca)
    of the registry names with authority over the host
    (:meth:`IndexReader.authorities`: web1.example.org -> example.org -> ...,
    following registry parent links, stopping at a renounced child or a
    top-level name) as ``@cert-authority HOST``, nearest first -- also for a
    host that is not registered itself; their plain host keys are never served
    for the host. Revoked keys of either kind as ``@revoked`` (whatever their
    policy verdict), listed first. Expired and pending keys are left out, and
    so is every record whose material does not parse or does not hash to its
    commitment. A host name that squats in someone else's domain serves none
    of its own records (the domain's host CAs cover it instead).

    ``pattern`` is the host pattern the lines carry (default ``host``; for a
    server on another port than 22, ``[host]:port``, as ssh looks it up).

    Raises: InvalidName (``host`` is not a registry name), IndexUnavailable.
    """
    from registry.keys._ssh import render_known_hosts_line

    t = time.time() if now is None else now
    pattern = pattern or host
    own = reader.host_keys(host, at=t) if reader.name_problem(host) is None else []
    revoked, trusted = [], []
    for rec in [*own, *reader.host_cas(host, at=t)]:
        key = _usable_key(rec)
        if key is None:
            continue
        if rec.status == "revoked":
            revoked.append(render_known_hosts_line(key, pattern, marker="@revoked", comment=rec.name))
        elif _servable(rec, settings):
            marker = "@cert-authority" if rec.purposes & _CA else None
            trusted.append(render_known_hosts_line(key, pattern, marker=marker, comment=rec.name))
    return revoked + trusted


_PLAIN_HOST = re.compile(r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.?").fullmatch


def parse_known_host(text: str) -> tuple[str, str] | None:
    """(registry name, known_hosts pattern) for ssh's ``%H``, or ``None`` when it names no host.

    ``host1.example.org`` -> the name itself; ``[host1.example.org]:2222`` (ssh's
    form for a server on another port) -> the name and that bracketed pattern
    (port 22 -> the plain name, as ssh writes it). Addresses (``127.0.0.1``,
    ``[::1]:2222``) and anything else the name grammar refuses -> ``None``.

    The pattern carries the host as ssh gave it (lower-cased, as ssh compares), so that
    ssh matches the lines: ``web1.example.org.`` (a fully qualified name with its root
    dot) -> the name ``web1.example.org``, pattern ``web1.example.org.``. Only plain
    ASCII letters, digits, hyphens and dots are taken from the text; any other form
    the grammar normalises (Unicode) carries the normal name.
    """
    from registry._grammar import normal_name

    m = re.match(r"\[([^\[\]]+)\]:([0-9]{1,5})\Z", text)
    host, port = (m.group(1), int(m.group(2))) if m else (text, 22)
    if not 0 < port < 65536:
        return None
    try:
        name = normal_name(host)
    except InvalidName:
        return None
    if "@" in name:
        return None
    shown = host.lower() if _PLAIN_HOST(host) else name
    return name, (shown if port == 22 else f"[{shown}]:{port}")


def known_hosts(host: str, settings: SSHSettings | None = None) -> str:
    """The whole KnownHostsCommand output for ``host`` (empty when nothing in the index covers it).

    ``host`` is ssh's ``%H``: a name, or ``[name]:port`` for another port than
    22 (lines then carry that pattern). An address prints nothing.

    Raises: ConfigError, IndexUnavailable (as :func:`authorized_keys`).
    """
    settings = settings or load_ssh_settings()
    parsed = parse_known_host(host)
    if parsed is None:
        return ""  # an address, or not a name at all: nothing registered under it
    name, pattern = parsed
    with open_index(settings) as reader:
        return "".join(line + "\n" for line in known_hosts_lines(reader, name, settings,
                                                                   pattern=pattern))
