"""What a publish will store, decided once: purposes by key type and validity by the key's expiry.

    terms = publish_terms(key, purposes=None, valid_until=None)
    report = check(key, name=name, purposes=int(terms.purposes), record=terms, at=terms.checked_at)
    registry.publish(name, key, purposes=terms.purposes, valid_until=terms.valid_until, ...)

The publish-time policy check must judge exactly the record that goes on
chain. Defaults used to be applied in two places (the check saw "no
purposes", the client then stored ``tls-server`` for an X.509 certificate), so
a certificate the default profile refuses was published with exit 0. Every
publish path (CLI ``key publish`` / ``key rotate``, :class:`~registry.chain.Registry`)
takes its defaults from here.

Pure layer: imports ``registry.keys`` only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from registry.keys._common import KeyType, Purpose

__all__ = ["DEFAULT_PURPOSES", "PublishTerms", "default_purposes", "publish_terms"]

#: Purposes a record gets when the publisher names none.
DEFAULT_PURPOSES = {
    KeyType.SSH: Purpose.SSH_USER,
    KeyType.OPENPGP: Purpose.SIGNING | Purpose.ENCRYPTION,
    KeyType.X509: Purpose.TLS_SERVER,
}


def default_purposes(key_type: KeyType | int | str, purposes: Purpose | int | str | None) -> Purpose:
    """``purposes`` as given (parsed), or the key type's default when None.

    Raises:
        ValueError: unknown purpose names, or an empty set of purposes.
    """
    if purposes is None:
        return DEFAULT_PURPOSES[KeyType.parse(key_type)]
    parsed = Purpose.parse(purposes) if isinstance(purposes, str) else Purpose(int(purposes))
    if not parsed:
        raise ValueError("a key record needs at least one purpose")
    return parsed


def _utc(value: datetime | int | None) -> datetime | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return datetime.fromtimestamp(value, UTC) if value else None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class PublishTerms:
    """The record a publish will store, as the policy checker's ``record`` argument."""

    purposes: Purpose
    valid_from: datetime | None
    valid_until: datetime | None
    revoked_at: None = None

    @property
    def checked_at(self) -> datetime | None:
        """When to judge the record: its start if that is in the future (a pending record), else now."""
        now = datetime.now(UTC)
        return self.valid_from if self.valid_from is not None and self.valid_from > now else None


def publish_terms(key: Any, *, purposes: Purpose | int | str | None = None,
                  valid_from: datetime | int | None = None,
                  valid_until: datetime | int | None = None) -> PublishTerms:
    """The purposes and validity a publish of ``key`` stores (defaults applied here, once).

    Purposes default by key type (:data:`DEFAULT_PURPOSES`); ``valid_until``
    defaults to the key's own expiry (a certificate's notAfter, an OpenPGP
    expiry), so a record never outlives its key.

    Raises:
        ValueError: bad purposes.
    """
    until = _utc(valid_until)
    if until is None:
        until = _utc(getattr(key, "valid_until", None))
    return PublishTerms(default_purposes(key.key_type, purposes), _utc(valid_from), until)
