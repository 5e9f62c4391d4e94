"""The index's answers in keyanchor's one vocabulary (the CLI, the JSON API and the page).

    event = history_entry(block, log_index, tx_hash, "NameRegistered", data, timestamp)
    info = iso_times(reader.status())

Timestamps are ISO 8601 UTC (``2026-01-31T12:00:00Z``); key types, purposes and
revocation reasons are names, never codes; an assigned name's ``NameRegistered``
is ``assigned``, a top-level one ``registered`` -- as
:class:`registry.chain.records.HistoryEvent` says them. Standard library only
(the sshd path imports the index's read side).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Any

__all__ = ["EVENT_KINDS", "REASONS", "history_entry", "iso", "iso_times", "reason_label"]

_MAX_SECONDS = 253402300799  # 9999-12-31T23:59:59Z, the last second a datetime holds

#: Contract event -> history word (registry.chain.records.EVENT_KINDS, kept in step by a test).
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
#: Revocation reason codes -> names (registry.chain.records.RevocationReason labels).
REASONS = {0: "unspecified", 1: "key-compromise", 2: "ca-compromise", 3: "affiliation-changed",
           4: "superseded", 5: "cessation-of-operation", 9: "privilege-withdrawn",
           10: "aa-compromise"}
_KEY_TYPES = {1: "ssh", 2: "openpgp", 3: "x509"}
_PURPOSES = {1: "ssh-user", 2: "ssh-host", 4: "signing", 8: "encryption", 16: "tls-server",
             32: "tls-client", 64: "ca"}
_TIME_FIELDS = ("valid_from", "valid_until", "expires", "published_at", "revoked_at",
                "attested_at", "timestamp", "last_sync_time", "proven_head_time")


def iso(seconds: int | float | None) -> str | None:
    """Unix seconds -> ``2026-01-31T12:00:00Z`` (``0`` / ``None``: ``None``)."""
    if not seconds:
        return None
    s = min(int(seconds), _MAX_SECONDS)
    if s > 0:  # the same text as below, without a datetime; the day's text remembered (the
        day, rem = divmod(s, 86400)  # gateway's views show three times a record: ~12k
        date = _DAYS.get(day)        # instructions each through gmtime and strftime)
        if date is None:
            date = time.strftime("%Y-%m-%dT", time.gmtime(s))
            if len(_DAYS) >= 4096:
                _DAYS.clear()
            _DAYS[day] = date
        hour, rem = divmod(rem, 3600)
        return f"{date}{_TWO[hour]}:{_TWO[rem // 60]}:{_TWO[rem % 60]}Z"
    return datetime.fromtimestamp(s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_DAYS: dict[int, str] = {}  # days since 1970 -> "YYYY-MM-DDT" (a pure function's answers)
_TWO = tuple(f"{i:02d}" for i in range(60))


def iso_times(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with its time fields (Unix seconds) as ISO 8601 UTC."""
    return {k: iso(v) if k in _TIME_FIELDS and isinstance(v, int | float)
            and not isinstance(v, bool) else v for k, v in data.items()}


def reason_label(code: int | None) -> str | None:
    if code is None:
        return None
    return REASONS.get(int(code), f"reason-{int(code)}")


def _purposes(bits: int) -> list[str]:
    return [name for bit, name in _PURPOSES.items() if bits & bit]


def _event_data(data: dict[str, Any]) -> dict[str, Any]:
    out = dict(data)
    if isinstance(out.get("key_type"), int):
        out["key_type"] = _KEY_TYPES.get(out["key_type"], str(out["key_type"]))
    if isinstance(out.get("purposes"), int):
        out["purposes"] = _purposes(out["purposes"])
    if isinstance(out.get("reason"), int):
        out["reason"] = reason_label(out["reason"])
    return iso_times(out)


def history_entry(block: int, log_index: int, tx_hash: str, event: str, data: dict[str, Any],
                  timestamp: int | None) -> dict[str, Any]:
    """One history event as the CLI's ``history --json`` prints it."""
    kind = EVENT_KINDS.get(event, event)
    parent = str(data.get("parent") or "0x0").removeprefix("0x") or "0"
    if event == "NameRegistered" and int(parent, 16) != 0:
        kind = "assigned"
    return {"kind": kind, "block_number": int(block), "log_index": int(log_index),
            "tx_hash": tx_hash, "timestamp": iso(timestamp), "data": _event_data(data)}
