"""git commit signing with SSH keys: ``gpg.ssh.allowedSignersFile`` and ``gpg.ssh.revocationFile``.

    result = write_allowed_signers("~/.config/git/allowed_signers", ["example.org"],
                                   revoked="~/.config/git/revoked_signers")
    # git config gpg.ssh.allowedSignersFile ~/.config/git/allowed_signers

Lines are rendered from the verified index (never copied from user text), in
the format ``ssh-keygen -Y verify`` reads (ssh-keygen(1), ALLOWED SIGNERS):
the principal is the registry name, ``namespaces="git"``, and the record's
validity as ``valid-after`` / ``valid-before`` (UTC, ``YYYYMMDDHHMMSSZ``), so
git judges each commit by the time it was signed. Which records:

- SSH records with the ``signing`` purpose (publish a key you also log in
  with as ``--purpose ssh-user,signing``); a ``signing,ca`` record becomes a
  ``cert-authority`` line (certificates it signs for that principal);
- policy-passing, and active, expired or not yet valid: an expired key still
  verifies what it signed before ``valid-before``;
- revoked for a reason that says the key was not compromised (superseded,
  cessation of operation, affiliation changed, privilege withdrawn): allowed
  up to the revocation time, as git's documentation suggests for rotated keys;
- revoked for key or CA compromise, or with no reason: written to the
  revocation file, so no signature by that key verifies, whenever it claims
  to have been made;
- a key listed under several of the selected names is left out for all of
  them (``conflicts``): git would report whichever name it met first.

Names: a person name selects itself; a domain selects itself and every person
name under it; no names select every name with an SSH signing record.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from registry.errors import InvalidName
from registry.gateways.ssh import SSHSettings
from registry.index._query import IndexedRecord, IndexReader
from registry.keys._ssh import SSHPublicKey, load_ssh_blob, render_openssh

__all__ = ["AllowedSigners", "allowed_signers", "write_allowed_signers"]

_SSH, _SIGNING, _CA = 1, 4, 64
#: RFC 5280 reasons that do not say the key was compromised: signatures made
#: before the revocation stay valid (superseded, cessation, affiliation, privilege withdrawn).
_BENIGN_REASONS = frozenset({3, 4, 5, 9})
_MAX_SECONDS = 253402300799  # 9999-12-31T23:59:59Z: ssh-keygen reads four-digit years
_PRINCIPAL = re.compile(r"[a-z0-9][a-z0-9._+@-]{0,252}\Z")
_NAMESPACE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}\Z")

ALLOWED_HEADER = ("# gpg.ssh.allowedSignersFile written by keyanchor from the verified index;"
                  " regenerated, do not edit\n")
REVOKED_HEADER = ("# gpg.ssh.revocationFile written by keyanchor from the verified index;"
                  " regenerated, do not edit\n")


@dataclass(frozen=True, slots=True)
class AllowedSigners:
    """The two files' lines (no newlines) and what was left out and why."""

    allowed: tuple[str, ...] = ()
    revoked: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()
    names: tuple[str, ...] = field(default=())

    @property
    def allowed_text(self) -> str:
        return ALLOWED_HEADER + "".join(line + "\n" for line in self.allowed)

    @property
    def revoked_text(self) -> str:
        return REVOKED_HEADER + "".join(line + "\n" for line in self.revoked)

    def to_dict(self) -> dict[str, Any]:
        return {"names": list(self.names), "allowed": list(self.allowed),
                "revoked": list(self.revoked), "conflicts": list(self.conflicts)}


@dataclass(frozen=True, slots=True)
class _Entry:
    name: str
    key: SSHPublicKey
    ca: bool
    after: int  # 0: none
    before: int  # exclusive end; 0: none


def _stamp(seconds: int) -> str:
    return datetime.fromtimestamp(min(max(seconds, 0), _MAX_SECONDS), UTC).strftime("%Y%m%d%H%M%SZ")


def _render(entry: _Entry, namespaces: Sequence[str]) -> str:
    if not _PRINCIPAL.match(entry.name):
        raise InvalidName(f"{entry.name!r} cannot be an allowed-signers principal")
    opts = ["cert-authority"] if entry.ca else []
    opts.append(f'namespaces="{",".join(namespaces)}"')
    if entry.after:
        opts.append(f'valid-after="{_stamp(entry.after)}"')
    if entry.before:
        opts.append(f'valid-before="{_stamp(entry.before - 1)}"')
    return f"{entry.name} {','.join(opts)} {render_openssh(entry.key)}"


def _select(reader: IndexReader, names: Iterable[str]) -> list[str]:
    from registry.names import parse_name

    wanted = [parse_name(n).text for n in names]
    if not wanted:
        return reader.names_with_records(key_type=_SSH, purposes=_SIGNING)
    out: list[str] = []
    for name in wanted:
        out.append(name)
        if "@" not in name:
            out += reader.person_names(name)
    return list(dict.fromkeys(out))


def _policy_ok(rec: IndexedRecord, settings: SSHSettings) -> bool:
    return rec.policy == "pass" or (settings.allow_unchecked and rec.policy == "unknown")


def allowed_signers(reader: IndexReader, names: Iterable[str] = (), settings: SSHSettings | None = None,
                    *, now: float | None = None,
                    namespaces: Sequence[str] = ("git",)) -> AllowedSigners:
    """Allowed-signers and revocation lines for ``names`` (see the module docstring for the rules).

    Raises:
        InvalidName: a name that is not a registry name, or a bad namespace.
        IndexUnavailable: the index cannot be read.
        KeyFormatError: indexed material that no longer parses.
    """
    if settings is None:
        from registry.integrations._index import index_settings

        settings = index_settings()
    ns = list(namespaces)
    if not ns or not all(isinstance(n, str) and _NAMESPACE.match(n) for n in ns):
        raise InvalidName(f"invalid signature namespaces {ns!r}")
    t = time.time() if now is None else now
    selected = _select(reader, names)
    entries: list[_Entry] = []
    revoked: dict[bytes, tuple[SSHPublicKey, str]] = {}
    for name in selected:
        for rec in reader.records(name, at=t, key_type=_SSH, purposes=_SIGNING):
            key = load_ssh_blob(rec.material)
            if key.certificate is not None:
                continue  # a certificate verifies through its CA's cert-authority line
            before = rec.valid_until
            if rec.status == "revoked":
                if rec.reason not in _BENIGN_REASONS:
                    revoked.setdefault(key.public_blob, (key, name))
                    continue
                before = min(before or rec.revoked_at, rec.revoked_at)
            if _policy_ok(rec, settings):
                entries.append(_Entry(name, key, bool(rec.purposes & _CA), rec.valid_from, before))
    owners: dict[bytes, set[str]] = {}
    for e in entries:
        owners.setdefault(e.key.public_blob, set()).add(e.name)
    conflicts = [f"{e.key.fingerprint} is published under {', '.join(sorted(owners[b]))}:"
                 " left out for all of them"
                 for b, e in {e.key.public_blob: e for e in entries}.items()
                 if len(owners[b]) > 1 and b not in revoked]
    allowed = [_render(e, ns) for e in entries
               if e.key.public_blob not in revoked and len(owners[e.key.public_blob]) == 1]
    revoked_lines = [f"{render_openssh(k)} {n}" for k, n in revoked.values()]
    return AllowedSigners(tuple(dict.fromkeys(allowed)), tuple(revoked_lines), tuple(conflicts),
                          tuple(selected))


def write_allowed_signers(out: str | os.PathLike[str] | None, names: Iterable[str] = (), *,
                          revoked: str | os.PathLike[str] | None = None,
                          settings: SSHSettings | None = None, now: float | None = None,
                          namespaces: Sequence[str] = ("git",)) -> AllowedSigners:
    """Compute :func:`allowed_signers` from the configured index and write the files atomically.

    ``out`` gets the allowed signers, ``revoked`` (if given) the revoked keys;
    ``None`` writes nothing (the caller prints). The index must be fresh
    (``settings.max_staleness``): a stale one raises and the files stay as they were.

    Raises:
        IndexUnavailable: missing, corrupt or stale index.
        ConfigError: a file cannot be written.
        InvalidName, KeyFormatError: as :func:`allowed_signers`.
    """
    from registry._files import write_atomic
    from registry.integrations._index import index_settings, open_index

    cfg = index_settings(settings)
    with open_index(cfg, now=now) as reader:
        result = allowed_signers(reader, names, cfg, now=now, namespaces=namespaces)
    if revoked is not None:
        write_atomic(os.path.expanduser(os.fspath(revoked)), result.revoked_text)
    if out is not None:
        write_atomic(os.path.expanduser(os.fspath(out)), result.allowed_text)
    return result
