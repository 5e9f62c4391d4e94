"""KeyRegistry v2 storage layout and event digest, as pure functions (no web3).

    slot = record_slot(node, commitment)           # where eth_getStorageAt / eth_getProof look
    rec = decode_record(word)                      # the packed word read there
    state = digest_events(events)                  # recompute event_digest() from logs alone

Vyper 0.4.3 gives each storage variable a slot in declaration order (the
numbers below, checked against the compiler's layout by the tests); a
``HashMap`` value at slot ``p`` for key ``k`` lives at ``keccak256(p ‖ k)``
(``p`` and ``k`` as 32-byte big-endian words; an address key left-padded),
nested maps apply this once per key. docs/CONTRACT.md tabulates the same.

The event digest: every state-changing call folds each event it emits into
one word ``S`` (slot 0). With ``E`` the event hash (below) and ``n`` the count
so far, ``S' = (n + 1) << 216 | (keccak256(S ‖ E) mod 2**216)``; ``S`` starts
at zero and the constructor's ``RegistryDeployed`` is event 1. The event hash
is ``keccak256(topic0 ‖ block_number ‖ w1 ‖ … ‖ wn)``: the event's topic (the
keccak of its signature), the number of the block it was emitted in, then
every field in declaration order (indexed or not) as its 32-byte ABI word,
``bytes`` / ``string`` fields replaced by the keccak256 of their contents.
A withheld, added, reordered, moved or altered log changes the digest.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from registry.names import keccak256

__all__ = [
    "EVENT_FIELDS",
    "SLOTS",
    "AttestationWord",
    "NameWord",
    "RecordWord",
    "attestation_slot",
    "blocked_slot",
    "decode_attestation",
    "decode_events",
    "decode_name",
    "decode_record",
    "digest_events",
    "durable_slot",
    "event_hash",
    "event_topic",
    "fold",
    "map_slot",
    "name_slot",
    "operator_slot",
    "parent_slot",
    "policy_slot",
    "record_slot",
    "registrar_slot",
    "store_slot",
]

#: Storage slot of each variable (``vyper -f layout contracts/KeyRegistry.vy``).
SLOTS: dict[str, int] = {
    "_events": 0,
    "_suffix_root": 1,
    "_admin": 2,
    "_registrars": 3,
    "_names": 4,
    "_parents": 5,
    "_operators": 6,
    "_records": 7,
    "_durable": 8,
    "_stores": 9,
    "_attestations": 10,
    "_policies": 11,
    "_blocked": 12,
}
EVENTS_SLOT = 0
SUFFIX_ROOT_SLOT = 1
ADMIN_SLOT = 2

_MASK40 = (1 << 40) - 1
_MASK32 = (1 << 32) - 1
EV_COUNT_SHIFT = 216
EV_HEAD_MASK = (1 << 216) - 1


def _word(value: int | bytes | str) -> bytes:
    if isinstance(value, str):  # an address
        raw = bytes.fromhex(value.removeprefix("0x"))
        if len(raw) != 20:
            raise ValueError(f"not an address: {value!r}")
        return raw.rjust(32, b"\x00")
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        if len(raw) != 32:
            raise ValueError("a key must be 32 bytes")
        return raw
    return int(value).to_bytes(32, "big")


def map_slot(slot: int, *keys: int | bytes | str) -> int:
    """The slot of ``map[k1][k2]…`` for a HashMap declared at ``slot`` (Vyper's derivation)."""
    s = int(slot)
    for key in keys:
        s = int.from_bytes(keccak256(s.to_bytes(32, "big") + _word(key)), "big")
    return s


def name_slot(node: bytes) -> int:
    """``_names[node]``: owner | record count | approval epoch | person | renounced | length."""
    return map_slot(SLOTS["_names"], node)


def parent_slot(node: bytes) -> int:
    return map_slot(SLOTS["_parents"], node)


def operator_slot(node: bytes, operator: str) -> int:
    """``_operators[node][operator]``: approval epoch + 1 (approved iff it equals the name's epoch + 1)."""
    return map_slot(SLOTS["_operators"], node, operator)


def record_slot(node: bytes, commitment: bytes) -> int:
    """``_records[node][commitment]``: the record's whole state in one word."""
    return map_slot(SLOTS["_records"], node, commitment)


def durable_slot(node: bytes, index: int) -> int:
    return map_slot(SLOTS["_durable"], node, index)


def store_slot(node: bytes, commitment: bytes) -> int:
    return map_slot(SLOTS["_stores"], node, commitment)


def attestation_slot(node: bytes, commitment: bytes, attester: bytes) -> int:
    """``_attestations[node][commitment][attester]``: expires | attested_at << 64."""
    return map_slot(SLOTS["_attestations"], node, commitment, attester)


def policy_slot(node: bytes, commitment: bytes, attester: bytes) -> int:
    return map_slot(SLOTS["_policies"], node, commitment, attester)


def blocked_slot(node: bytes, attester: bytes) -> int:
    return map_slot(SLOTS["_blocked"], node, attester)


def registrar_slot(address: str) -> int:
    return map_slot(SLOTS["_registrars"], address)


# --------------------------------------------------------------------------- words


@dataclass(frozen=True, slots=True)
class NameWord:
    owner: str  # lowercase 0x address; the zero address when unregistered
    record_count: int
    epoch: int
    person: bool
    renounced: bool
    length: int


def decode_name(word: int) -> NameWord:
    """Bits 0-159 owner, 160-191 record count, 192-223 approval epoch, 224 person,
    225 renounced, 226-233 the DNS name's length."""
    return NameWord(
        owner="0x" + (word & ((1 << 160) - 1)).to_bytes(20, "big").hex(),
        record_count=(word >> 160) & _MASK32,
        epoch=(word >> 192) & _MASK32,
        person=bool((word >> 224) & 1),
        renounced=bool((word >> 225) & 1),
        length=(word >> 226) & 255,
    )


@dataclass(frozen=True, slots=True)
class RecordWord:
    exists: bool
    key_type: int
    purposes: int
    durable: bool
    reason: int | None  # None: not revoked
    valid_from: int
    valid_until: int
    published_at: int
    revoked_at: int
    index: int

    def status(self, now: int) -> str:
        """``active``, ``expired``, ``revoked``, ``pending`` (as the views compute it) or ``none``."""
        if not self.exists:
            return "none"
        if self.reason is not None:
            return "revoked"
        if self.valid_from > now:
            return "pending"
        if self.valid_until and self.valid_until <= now:
            return "expired"
        return "active"


def decode_record(word: int) -> RecordWord:
    """Bits 0-1 key type, 2-8 purposes, 9 durable, 10-13 reason + 1, 16-55 valid_from,
    56-95 valid_until, 96-135 published_at, 136-175 revoked_at, 176-207 index."""
    reason1 = (word >> 10) & 15
    return RecordWord(
        exists=word != 0,
        key_type=word & 3,
        purposes=(word >> 2) & 127,
        durable=bool((word >> 9) & 1),
        reason=reason1 - 1 if reason1 else None,
        valid_from=(word >> 16) & _MASK40,
        valid_until=(word >> 56) & _MASK40,
        published_at=(word >> 96) & _MASK40,
        revoked_at=(word >> 136) & _MASK40,
        index=(word >> 176) & _MASK32,
    )


@dataclass(frozen=True, slots=True)
class AttestationWord:
    exists: bool
    expires: int
    attested_at: int


def decode_attestation(word: int) -> AttestationWord:
    """Bits 0-63 expires, 64-103 attested_at."""
    return AttestationWord(word != 0, word & ((1 << 64) - 1), (word >> 64) & _MASK40)


def decode_events(word: int) -> tuple[int, int]:
    """The digest word as (count, head): count in bits 216-255, head in 0-215."""
    return word >> EV_COUNT_SHIFT, word & EV_HEAD_MASK


# --------------------------------------------------------------------------- digest

#: Every event's fields in declaration order with their ABI types (the digest's word order).
EVENT_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "RegistryDeployed": (("admin", "address"), ("private_mode", "bool"), ("suffix_root", "bytes32")),
    "AdminChanged": (("previous", "address"), ("admin", "address")),
    "SuffixRootSet": (("root", "bytes32"), ("admin", "address")),
    "RegistrarSet": (("registrar", "address"), ("allowed", "bool")),
    "NameRegistered": (("node", "bytes32"), ("parent", "bytes32"), ("owner", "address"),
                       ("label", "string"), ("person", "bool")),
    "OwnershipTransferred": (("node", "bytes32"), ("previous", "address"), ("owner", "address")),
    "ChildRenounced": (("node", "bytes32"), ("parent", "bytes32")),
    "OperatorSet": (("node", "bytes32"), ("owner", "address"), ("operator", "address"),
                    ("approved", "bool")),
    "KeyPublished": (("node", "bytes32"), ("index", "uint256"), ("commitment", "bytes32"),
                     ("key_type", "uint8"), ("purposes", "uint16"), ("valid_from", "uint64"),
                     ("valid_until", "uint64"), ("durable", "bool"), ("material", "bytes"),
                     ("proof", "bytes")),
    "KeyRevoked": (("node", "bytes32"), ("index", "uint256"), ("commitment", "bytes32"),
                   ("reason", "uint8"), ("revocation", "bytes")),
    "KeyRotated": (("node", "bytes32"), ("old_index", "uint256"), ("new_index", "uint256")),
    "Attested": (("node", "bytes32"), ("commitment", "bytes32"), ("attester", "bytes32"),
                 ("index", "uint256"), ("policy_hash", "bytes32"), ("expires", "uint64")),
    "AttestationWithdrawn": (("node", "bytes32"), ("commitment", "bytes32"),
                             ("attester", "bytes32"), ("index", "uint256")),
    "AttesterBlocked": (("node", "bytes32"), ("attester", "bytes32"), ("blocked", "bool")),
}


@functools.cache
def event_topic(name: str) -> bytes:
    """topic0 of an event: keccak256 of ``Name(type,…)``."""
    types = ",".join(t for _, t in EVENT_FIELDS[name])
    return keccak256(f"{name}({types})".encode())


def _encode(kind: str, value: Any) -> bytes:
    if kind in ("bytes", "string"):
        raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        return keccak256(raw)
    if kind == "address":
        return _word(str(value))
    if kind == "bool":
        return _word(1 if value else 0)
    if kind == "bytes32":
        return _word(bytes(value))
    return _word(int(value))


def event_hash(name: str, fields: Mapping[str, Any], block_number: int) -> bytes:
    """The hash an event contributes to the digest (module docstring).

    Raises:
        KeyError: unknown event or a missing field. ValueError: a malformed value.
    """
    out = [event_topic(name), _word(int(block_number))]
    out += [_encode(kind, fields[field]) for field, kind in EVENT_FIELDS[name]]
    return keccak256(b"".join(out))


def fold(state: bytes, ehash: bytes) -> bytes:
    """One step of the running digest: the word after folding ``ehash`` into ``state``."""
    word = int.from_bytes(state, "big")
    head = int.from_bytes(keccak256(bytes(state) + bytes(ehash)), "big") & EV_HEAD_MASK
    return (((word >> EV_COUNT_SHIFT) + 1) << EV_COUNT_SHIFT | head).to_bytes(32, "big")


def digest_events(events: Iterable[tuple[str, Mapping[str, Any], int]],
                  state: bytes = b"\x00" * 32) -> bytes:
    """Fold ``(event name, fields, block number)`` in log order onto ``state`` (default: genesis).

    The result equals the contract's ``event_digest()`` after exactly those events.
    """
    for name, fields, block in events:
        state = fold(state, event_hash(name, fields, block))
    return state
