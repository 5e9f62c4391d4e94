"""What the verified client and the embedded chain's file reader both do with a record.

    for index, rec, log in selected(raw, what, key_types=..., include_revoked=...): ...
    key = parsed_material(KeyType.SSH, material)   # parsed once per distinct material
    record = key_record(name, node, index, rec, material, proof, key, block, tx_hash)

:class:`~registry.chain.client.Registry` (proven reads) and
:class:`~registry.chain.reader.EmbeddedReader` (the chain file) find a name's
records their own way, then select, parse and build them here, so both return
the same :class:`~registry.chain.records.KeyRecord` for the same record.

Parsing a record's material (an OpenPGP certificate, an X.509 chain) is the
largest part of a lookup once its state is proven. A parse is a pure function
of ``(key type, material)`` and the parsed keys are frozen, so the last
:data:`MAX_KEYS` distinct materials parsed are kept; a material that does not
parse is not kept (it fails again, with the same error). The material itself is
always checked against its on-chain commitment before it is parsed.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from registry.chain.records import STATUSES, KeyRecord, RevocationReason, from_timestamp
from registry.errors import Error, VerificationError
from registry.keys._common import Key, KeyType, Purpose

__all__ = ["MAX_KEYS", "event_data", "key_record", "key_types", "parsed_material", "selected",
           "with_revocations"]

L = TypeVar("L")

#: Parsed keys kept, by (key type, material).
MAX_KEYS = 2_048

_lock = threading.Lock()
_keys: OrderedDict[tuple[int, bytes], Key] = OrderedDict()


def parsed_material(key_type: KeyType, material: bytes) -> Key:
    """``registry.keys.load_material(key_type, material)``, parsed once per distinct material.

    Raises: as ``load_material`` (KeyFormatError, UnsupportedKeyType, PrivateKeyError).
    """
    ident = (int(key_type), bytes(material))
    with _lock:
        hit = _keys.get(ident)
        if hit is not None:
            _keys.move_to_end(ident)
            return hit
    from registry.keys import load_material

    key = load_material(key_type, ident[1])
    with _lock:
        _keys[ident] = key
        while len(_keys) > MAX_KEYS:
            _keys.popitem(last=False)
    return key


def key_types(
    value: Iterable[KeyType | str | int] | KeyType | str | int | None,
) -> set[KeyType] | None:
    """A ``key_types`` argument as a set of key types (None: every type)."""
    if value is None:
        return None
    if isinstance(value, KeyType | str | int):
        value = [value]
    return {KeyType.parse(v) for v in value}


def selected(raw: list[tuple[dict[str, Any], L]], what: str, *,
             key_types: set[KeyType] | None, include_revoked: bool, include_expired: bool,
             include_pending: bool) -> Iterator[tuple[int, dict[str, Any], L]]:
    """``(index, raw record, log)`` of the records a lookup returns, in index order.

    Raises: VerificationError (an unknown status or key type).
    """
    for index, (rec, log) in enumerate(raw):
        status = STATUSES[rec["status"]] if 0 <= rec["status"] < len(STATUSES) else "unknown"
        if status == "unknown":
            raise VerificationError(f"{what}: record {index} has unknown status {rec['status']}")
        if status == "revoked" and not include_revoked:
            continue
        if status == "expired" and not include_expired:
            continue
        if status == "pending" and not include_pending:
            continue
        try:
            key_type = KeyType(rec["key_type"])
        except ValueError:
            raise VerificationError(
                f"{what}: record {index} has unknown key type {rec['key_type']}") from None
        if key_types is not None and key_type not in key_types:
            continue
        yield index, rec, log


def key_record(name: str, node: bytes, index: int, rec: dict[str, Any], material: bytes,
               proof: bytes, key: Key, block_number: int | None,
               tx_hash: bytes | None) -> KeyRecord:
    """The KeyRecord of a raw record whose material was checked against its commitment."""
    status = STATUSES[rec["status"]]
    reason: RevocationReason | int | None = None
    if status == "revoked":
        try:
            reason = RevocationReason(rec["reason"])
        except ValueError:
            reason = int(rec["reason"])
    return KeyRecord(
        name=name,
        node=node,
        index=index,
        key_type=KeyType(rec["key_type"]),
        purposes=Purpose(rec["purposes"]),
        status=status,
        reason=reason,
        valid_from=from_timestamp(rec["valid_from"]),
        valid_until=from_timestamp(rec["valid_until"]),
        published_at=from_timestamp(rec["published_at"]),
        revoked_at=from_timestamp(rec["revoked_at"]),
        durable=bool(rec["durable"]),
        commitment=bytes(rec["commitment"]),
        material=material,
        proof=proof,
        key=key,
        block_number=block_number,
        tx_hash=tx_hash,
    )


def with_revocations(records: list[KeyRecord], revocations: dict[bytes, bytes]
                     ) -> list[KeyRecord]:
    """Each revoked record with its ``revocation`` bytes (by commitment; b"" when none)."""
    import dataclasses

    return [dataclasses.replace(r, revocation=revocations.get(r.commitment, b""))
            if r.status == "revoked" else r for r in records]


def event_data(
    event: str, data: dict[str, Any], name_of: Callable[[bytes], str] | None = None
) -> dict[str, Any]:
    """A decoded event's fields for a HistoryEvent: checksum addresses, enums, datetimes.

    With ``name_of`` (a node → name resolver that checks the name by namehash), an
    event naming an attester also carries ``attester_name`` (``None`` if it cannot
    be resolved), so a history reads "attester=example.org", not a 32-byte node.
    """
    from registry.chain._address import checksum_address

    data = {k: v for k, v in data.items() if k != "node"}
    attester = data.get("attester")
    if name_of is not None and isinstance(attester, bytes | bytearray):
        try:
            data["attester_name"] = name_of(bytes(attester))
        except Error:
            data["attester_name"] = None
    for key in ("owner", "previous", "operator"):
        if isinstance(data.get(key), str):
            data[key] = checksum_address(data[key])
    if "key_type" in data:
        data["key_type"] = KeyType(data["key_type"])
    if "purposes" in data:
        data["purposes"] = Purpose(data["purposes"])
    for key in ("valid_from", "valid_until", "expires"):
        if isinstance(data.get(key), int):
            data[key] = from_timestamp(data[key])
    if event == "KeyRevoked":
        try:
            data["reason"] = RevocationReason(data["reason"])
        except ValueError:
            pass
    return data
