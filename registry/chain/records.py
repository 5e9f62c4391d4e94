"""What the chain client returns: key records, attestations, history events, receipts.

    records = registry.lookup("alice@example.org")
    print(records[0].key.fingerprint, records[0].status)

Plain frozen dataclasses with ``to_dict()`` for JSON output (bytes as ``0x`` hex,
datetimes as ISO 8601 with ``Z``). Nothing here talks to a chain.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from registry.keys._common import Key, KeyType, Purpose

__all__ = [
    "STATUSES",
    "Attestation",
    "HistoryEvent",
    "KeyRecord",
    "RevocationReason",
    "TxResult",
    "from_timestamp",
    "to_timestamp",
]

#: Record statuses, indexed by the contract's status code.
STATUSES = ("active", "expired", "revoked", "pending")


class RevocationReason(enum.IntEnum):
    """RFC 5280 revocation reasons the contract accepts (holds are refused: revocation is final)."""

    UNSPECIFIED = 0
    KEY_COMPROMISE = 1
    CA_COMPROMISE = 2
    AFFILIATION_CHANGED = 3
    SUPERSEDED = 4
    CESSATION_OF_OPERATION = 5
    PRIVILEGE_WITHDRAWN = 9
    AA_COMPROMISE = 10

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", "-")

    @classmethod
    def parse(cls, value: str | int | RevocationReason) -> RevocationReason:
        """Parse ``"key-compromise"``, ``"keyCompromise"``, ``1`` …

        Raises:
            ValueError: not a reason the contract accepts.
        """
        if isinstance(value, RevocationReason):
            return value
        if isinstance(value, int):
            try:
                return cls(value)
            except ValueError:
                raise ValueError(f"unknown revocation reason code {value}") from None
        key = "".join(ch for ch in value.lower() if ch.isalnum())
        for member in cls:
            if member.name.lower().replace("_", "") == key:
                return member
        choices = ", ".join(m.label for m in cls)
        raise ValueError(f"unknown revocation reason {value!r} (one of {choices})")


#: The last second a ``datetime`` can hold (9999-12-31T23:59:59Z).
_MAX_SECONDS = 253402300799


def from_timestamp(value: int) -> datetime | None:
    """Contract seconds → aware UTC datetime; ``0`` (unset) → ``None``.

    Times past year 9999 (the contract takes validities up to 2**38 and
    attestation expiries up to 2**64 - 1) are clamped to 9999-12-31T23:59:59Z.
    """
    if not value:
        return None
    return datetime.fromtimestamp(min(int(value), _MAX_SECONDS), UTC)


def to_timestamp(value: datetime | int | None) -> int:
    """Aware datetime / seconds / ``None`` → contract seconds (``0`` = unset).

    Raises:
        ValueError: a naive datetime or a negative value.
    """
    if value is None:
        return 0
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("datetimes must be timezone-aware (use datetime.now(UTC))")
        seconds = int(value.timestamp())
    else:
        seconds = int(value)
    if seconds < 0 or seconds >= 1 << 64:
        raise ValueError(f"time {value!r} is out of range")
    return seconds


def _json(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return "0x" + bytes(value).hex()
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, Purpose):
        return value.names()
    if isinstance(value, KeyType):
        return value.label
    if isinstance(value, RevocationReason):
        return value.label
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class Attestation:
    """A name vouching for a key record (``policy_hash`` is 32 zero bytes when none)."""

    attester: str | None
    attester_node: bytes
    policy_hash: bytes
    expires: datetime | None
    attested_at: datetime | None
    blocked: bool = False  # the subject blocked this attester: it does not count

    def to_dict(self) -> dict[str, Any]:
        return {
            "attester": self.attester,
            "attester_node": _json(self.attester_node),
            "policy_hash": _json(self.policy_hash),
            "expires": _json(self.expires),
            "attested_at": _json(self.attested_at),
            "blocked": self.blocked,
        }


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """One verified key record of a name.

    ``material`` came from the ``KeyPublished`` event (or durable state) and
    hashes to ``commitment`` as read from the contract; ``key`` is that
    material parsed.
    """

    name: str
    node: bytes
    index: int
    key_type: KeyType
    purposes: Purpose
    status: str
    reason: RevocationReason | int | None
    valid_from: datetime | None
    valid_until: datetime | None
    published_at: datetime | None
    revoked_at: datetime | None
    durable: bool
    commitment: bytes
    material: bytes
    proof: bytes
    key: Key | None = field(default=None, compare=False, repr=False)
    revocation: bytes = b""
    block_number: int | None = None
    tx_hash: bytes | None = None
    attestations: tuple[Attestation, ...] = ()

    @property
    def active(self) -> bool:
        return self.status == "active"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "node": _json(self.node),
            "index": self.index,
            "key_type": self.key_type.label,
            "purposes": self.purposes.names(),
            "status": self.status,
            "reason": _json(self.reason),
            "valid_from": _json(self.valid_from),
            "valid_until": _json(self.valid_until),
            "published_at": _json(self.published_at),
            "revoked_at": _json(self.revoked_at),
            "durable": self.durable,
            "commitment": _json(self.commitment),
            "material": _json(self.material),
            "proof": _json(self.proof),
            "revocation": _json(self.revocation),
            "key": self.key.to_dict() if self.key is not None else None,
            "block_number": self.block_number,
            "tx_hash": _json(self.tx_hash),
            "attestations": [a.to_dict() for a in self.attestations],
        }


#: History event kinds, keyed by contract event name.
EVENT_KINDS = {
    "NameRegistered": "registered",
    "OwnershipTransferred": "transferred",
    "ChildRenounced": "renounced",
    "OperatorSet": "operator-set",
    "KeyPublished": "key-published",
    "KeyRevoked": "key-revoked",
    "KeyRotated": "key-rotated",
    "Attested": "attested",
    "AttestationWithdrawn": "withdrawn",
    "AttesterBlocked": "attester-blocked",
}


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    """One contract event about a name, in chain order.

    ``data`` holds the event's decoded fields (bytes stay bytes; ``to_dict``
    renders them as hex).
    """

    kind: str
    name: str
    block_number: int
    log_index: int
    tx_hash: bytes
    timestamp: datetime | None
    data: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "block_number": self.block_number,
            "log_index": self.log_index,
            "tx_hash": _json(self.tx_hash),
            "timestamp": _json(self.timestamp),
            "data": _json(self.data),
        }


@dataclass(frozen=True, slots=True)
class TxResult:
    """A mined, successful transaction.

    ``node`` / ``index`` are what the transaction created, when it created
    something (a name; a key record); ``contract_address`` for a deployment.
    """

    tx_hash: bytes
    block_number: int
    gas_used: int
    effective_gas_price: int | None = None
    node: bytes | None = None
    index: int | None = None
    contract_address: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "tx_hash": _json(self.tx_hash),
            "block_number": self.block_number,
            "gas_used": self.gas_used,
            "effective_gas_price": self.effective_gas_price,
            "node": _json(self.node),
            "index": self.index,
            "contract_address": self.contract_address,
        }
