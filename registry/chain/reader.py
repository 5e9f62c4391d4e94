"""Read the embedded chain's KeyRegistry straight from its file: no py-evm, no web3.

    reader = EmbeddedReader.open()          # None: use Registry.embedded() instead
    if reader is not None:
        with reader:
            records = reader.lookup("alice@example.org")

Each block the embedded chain mines is committed in one SQLite transaction
together with its logs (table ``logs``) and the final value of every storage
slot it wrote (table ``storage``, keyed by ``keccak256(slot)`` like the state
trie; see :mod:`registry.chain.embedded`). This reader answers the read side of
:class:`~registry.chain.client.Registry` from those two tables: the contract's
state words at the documented slots (:mod:`registry.chain.layout`) instead of
``eth_call`` of its views, and the logs table instead of ``eth_getLogs``,
decoded with :mod:`registry.chain._abi`. It checks what the client checks —
one ``KeyPublished`` event per record index, every record's material hashing
to the commitment the state holds, the material parsing — and returns the same
:class:`~registry.chain.records.KeyRecord`, :class:`HistoryEvent` and
:class:`Attestation` values (tests compare the two over a varied chain).

The reader is used only when the file's storage mirror reflects py-evm's own
canonical head in the same file (checked in the same read transaction), the
chain is not served by a devnet, and a registry is deployed; otherwise
:meth:`EmbeddedReader.open` returns ``None`` and callers use
:meth:`Registry.embedded`. Everything is read in one SQLite read transaction,
so a reader sees one block's state even while another process mines.
"""

from __future__ import annotations

import functools
import os
import sqlite3
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from registry.chain import layout
from registry.chain._abi import decode_event
from registry.chain._address import checksum_address
from registry.chain._verified import event_data, key_record, selected, with_revocations
from registry.chain._verified import key_types as key_types_of
from registry.chain.records import (
    Attestation,
    HistoryEvent,
    KeyRecord,
    event_kind,
    from_timestamp,
)
from registry.errors import (
    ChainError,
    ConfigError,
    ContractRevert,
    Error,
    KeyFormatError,
    NameNotFound,
    VerificationError,
)
from registry.keys._common import Key, KeyType, commitment
from registry.names import Name, keccak256, namehash, parse_name

__all__ = ["EmbeddedReader", "checksum_address"]

ZERO32 = b"\x00" * 32
ZERO_ADDRESS = "0x" + "00" * 20
_BATCH = 128  # the contract's MAX_BATCH (the client reads records in batches of it)
_HEAD_KEY = b"v1:canonical_head_hash"  # py-evm's key of the canonical head's hash
_FORMAT = "keyanchor-chain/2"


# --------------------------------------------------------------------------- the ABI's events


class _Event:
    """One event of the KeyRegistry ABI: its topic and how to decode its logs."""

    def __init__(self, name: str, indexed: list[tuple[str, str]], data: list[tuple[str, str]],
                 signature: str) -> None:
        self.name = name
        self.topic = keccak256(signature.encode())
        self.indexed = tuple(indexed)
        self.data = tuple(data)

    def decode(self, topics: list[bytes], data: bytes) -> dict[str, Any]:
        """The log's fields, as the client's decoder returns them.

        Raises:
            ValueError: not this event, or malformed.
        """
        return decode_event(self.name, self.topic, self.indexed, self.data, topics, data)


def _abi_type(param: dict[str, Any]) -> str:
    kind = str(param["type"])
    if kind.startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in param["components"])
        return f"({inner}){kind[5:]}"
    return kind


@functools.cache
def _events() -> dict[str, _Event]:
    from registry.artifacts import load_artifact

    try:
        abi = load_artifact("KeyRegistry")["abi"]
        out: dict[str, _Event] = {}
        for item in abi:
            if item.get("type") != "event":
                continue
            params = item.get("inputs", [])
            signature = f"{item['name']}({','.join(_abi_type(p) for p in params)})"
            out[item["name"]] = _Event(
                item["name"],
                [(p["name"], _abi_type(p)) for p in params if p.get("indexed")],
                [(p["name"], _abi_type(p)) for p in params if not p.get("indexed")],
                signature,
            )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"the KeyRegistry artifact is malformed: {exc}") from exc
    return out


class _Log:
    """A row of the chain file's ``logs`` table."""

    __slots__ = ("block", "block_hash", "data", "index", "timestamp", "topics", "tx_hash")

    def __init__(self, row: tuple[Any, ...]) -> None:
        (self.block, self.index, block_hash, self.timestamp, tx_hash, _tx_index, _address,
         *topics, data) = row
        self.block_hash = bytes(block_hash)
        self.tx_hash = bytes(tx_hash)
        self.topics = [bytes(t) for t in topics if t is not None]
        self.data = bytes(data)


# --------------------------------------------------------------------------- the reader


class EmbeddedReader:
    """The read side of :class:`~registry.chain.client.Registry` on the embedded chain's file.

    Open with :meth:`open`; close with :meth:`close` (or ``with``). Methods and
    results are the client's: :meth:`owner`, :meth:`parent`, :meth:`renounced`,
    :meth:`is_operator`, :meth:`records`, :meth:`record_count`, :meth:`lookup`,
    :meth:`attestations`, :meth:`history`, :meth:`squatted_by`,
    :meth:`dns_control`, :meth:`check_record`, :meth:`event_digest`.
    """

    def __init__(self, conn: sqlite3.Connection, path: Path, meta: dict[str, str]) -> None:
        self._conn = conn
        self.path = path
        self.chain_id = int(meta["chain_id"])
        self.address = checksum_address(meta["registry"])
        self._address_raw = bytes.fromhex(self.address[2:])
        self.head_number = int(meta["head_number"])
        self.head_timestamp = int(meta["head_timestamp"])
        self._names: dict[bytes, str] = {}
        self.account = None

    # ----------------------------------------------------------------- opening

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None) -> EmbeddedReader | None:
        """The reader of the chain file at ``path`` (default: the embedded chain's), or
        ``None`` when it cannot answer: no file yet, a devnet serves it, no registry is
        deployed, or its storage mirror does not reflect its head (a file last written by
        an older keyanchor: any write brings it up to date).

        Raises:
            ConfigError: the file is not a keyanchor chain file.
        """
        from registry.chain.embedded import default_state_path, devnet_url_for

        state = Path(path) if path is not None else default_state_path()
        if not state.is_file() or devnet_url_for(state) is not None:
            return None
        try:
            conn = sqlite3.connect(f"file:{state}?mode=ro", uri=True, isolation_level=None,
                                   check_same_thread=False)
        except sqlite3.Error as exc:
            raise ConfigError(f"{state} is not a usable keyanchor chain file: {exc}") from exc
        try:
            conn.execute("BEGIN")  # one read transaction: one block's state throughout
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            row = conn.execute("SELECT v FROM kv WHERE k = ?", (_HEAD_KEY,)).fetchone()
            conn.execute("SELECT 1 FROM storage LIMIT 1").fetchall()
        except sqlite3.Error:
            conn.close()
            return None  # an older file layout: the full client reads (and upgrades) it
        head = bytes(row[0]).hex() if row is not None else None
        wanted = ("chain_id", "registry", "head_number", "head_timestamp")
        if (meta.get("format") != _FORMAT or head is None or meta.get("head_hash") != head
                or meta.get("storage_head") != head or not all(meta.get(k) for k in wanted)):
            conn.close()
            return None
        try:
            return cls(conn, state, meta)
        except (ValueError, KeyError, ConfigError):
            conn.close()
            return None

    def close(self) -> None:
        """End the read transaction and close the file. Idempotent."""
        try:
            self._conn.close()
        except sqlite3.Error:  # pragma: no cover
            pass

    def __enter__(self) -> EmbeddedReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- state and logs

    def _word(self, slot: int) -> int:
        key = keccak256(slot.to_bytes(32, "big"))
        try:
            row = self._conn.execute(
                "SELECT value FROM storage WHERE address = ? AND key = ?",
                (self._address_raw, key),
            ).fetchone()
        except sqlite3.Error as exc:
            raise ChainError(f"cannot read the chain file {self.path}: {exc}") from exc
        return int.from_bytes(bytes(row[0]), "big") if row is not None else 0

    def _logs(self, topic0: Iterable[bytes], topic1: bytes | None = None,
              topic2: bytes | None = None, topic3: bytes | None = None) -> list[_Log]:
        """The registry's logs with these topics, in chain order."""
        where = ["address = ?"]
        args: list[Any] = [self._address_raw]
        first = list(topic0)
        where.append(f"topic0 IN ({','.join('?' * len(first))})")
        args += first
        index = "logs_by_topic0"
        for position, value in ((1, topic1), (2, topic2), (3, topic3)):
            if value is not None:
                where.append(f"topic{position} = ?")
                args.append(value)
                index = f"logs_by_topic{position}"  # the most selective one given
        sql = (f"SELECT block, log_index, block_hash, timestamp, tx_hash, tx_index, address,"
               f" topic0, topic1, topic2, topic3, data FROM logs INDEXED BY {index}"
               f" WHERE {' AND '.join(where)} ORDER BY block, log_index")
        try:
            return [_Log(row) for row in self._conn.execute(sql, args).fetchall()]
        except sqlite3.Error as exc:
            raise ChainError(f"cannot read the chain file {self.path}: {exc}") from exc

    def _name_word(self, node: bytes) -> layout.NameWord:
        return layout.decode_name(self._word(layout.name_slot(node)))

    # ----------------------------------------------------------------- names

    def owner(self, name: str | Name) -> str | None:
        """The owner's checksum address, or ``None`` when the name is not registered.

        Raises: InvalidName, ChainError.
        """
        owner = self._name_word(bytes(parse_name(name).node)).owner
        return None if owner == ZERO_ADDRESS else checksum_address(owner)

    def parent(self, name: str | Name) -> str | None:
        """The name this one was assigned under (``None`` for a top-level registration).

        Raises: InvalidName, NameNotFound, ChainError.
        """
        parsed = parse_name(name)
        self._require_registered(parsed)
        node = self._word(layout.parent_slot(bytes(parsed.node))).to_bytes(32, "big")
        return None if node == ZERO32 else self._name_of(node)

    def renounced(self, name: str | Name) -> bool:
        """Whether the parent's owner gave up reclaiming this name."""
        return self._name_word(bytes(parse_name(name).node)).renounced

    def is_operator(self, name: str | Name, operator: str) -> bool:
        """Whether ``operator`` is approved by the name's current owner.

        Raises: InvalidName, ConfigError (not an address).
        """
        node = bytes(parse_name(name).node)
        packed = self._word(layout.name_slot(node))
        if not packed:
            return False
        approval = self._word(layout.operator_slot(node, checksum_address(operator)))
        return approval == layout.decode_name(packed).epoch + 1

    def _require_registered(self, parsed: Name) -> None:
        if self.owner(parsed) is None:
            raise NameNotFound(f"{parsed} is not registered", reason="KeyRegistry: name not found")

    def _name_of(self, node: bytes) -> str:
        """The text of a node, from its NameRegistered event (checked by namehash)."""
        if node in self._names:
            return self._names[node]
        event = _events()["NameRegistered"]
        for log in self._logs([event.topic], node):
            try:
                data = event.decode(log.topics, log.data)
                label = str(data["label"])
                parent = bytes(data["parent"])
                if parent == ZERO32:
                    text = label
                else:
                    text = f"{label}{'@' if data['person'] else '.'}{self._name_of(parent)}"
                if bytes(namehash(text)) == node:
                    self._names[node] = text
                    return text
            except (Error, ValueError, KeyError):
                continue
        raise VerificationError(f"no verifiable NameRegistered event for node 0x{node.hex()}")

    # ----------------------------------------------------------------- records

    def _record(self, node: bytes, c: bytes) -> dict[str, Any]:
        """What the contract's ``records`` view returns for one commitment."""
        rec = layout.decode_record(self._word(layout.record_slot(node, c)))
        status = rec.status(self.head_timestamp)
        return {
            "commitment": c,
            "index": rec.index,
            "key_type": rec.key_type,
            "purposes": rec.purposes,
            "status": {"none": 0, "active": 0, "expired": 1, "revoked": 2, "pending": 3}[status],
            "reason": rec.reason if rec.reason is not None else 0,
            "durable": rec.durable,
            "valid_from": rec.valid_from,
            "valid_until": rec.valid_until,
            "published_at": rec.published_at,
            "revoked_at": rec.revoked_at,
        }

    def records(self, name: str | Name) -> list[dict[str, Any]]:
        """The contract's raw records of a name in index order (as the client's).

        Raises: InvalidName, VerificationError, ChainError.
        """
        return [rec for rec, _log in self._raw_records(parse_name(name))]

    def record_count(self, name: str | Name) -> int:
        """Records ever published under a name (revoked ones included)."""
        return self._name_word(bytes(parse_name(name).node)).record_count

    def record_state(self, name: str | Name, commitment_: bytes) -> dict[str, Any] | None:
        """The raw state of the record with this commitment, or None."""
        rec = self._record(bytes(parse_name(name).node), bytes(commitment_))
        return rec if rec["key_type"] else None

    def _raw_records(self, parsed: Name) -> list[tuple[dict[str, Any], _Log | None]]:
        node = bytes(parsed.node)
        count = self._name_word(node).record_count
        if count == 0:
            return []
        published = _events()["KeyPublished"]
        logs: dict[int, tuple[bytes, _Log]] = {}
        for log in self._logs([published.topic], node):
            if len(log.topics) < 4:
                continue
            logs.setdefault(int.from_bytes(log.topics[2], "big"), (log.topics[3], log))
        commitments: list[bytes] = []
        for index in range(count):
            if index in logs:
                commitments.append(logs[index][0])
                continue
            durable = self._word(layout.durable_slot(node, index)).to_bytes(32, "big")
            if durable == ZERO32:
                raise VerificationError(
                    f"{parsed} record {index} does not verify: the endpoint returned no"
                    f" KeyPublished event for it ({count} records; a withheld log)")
            commitments.append(durable)
        out = []
        for index, c in enumerate(commitments):
            rec = self._record(node, c)
            if not rec["key_type"] or rec["index"] != index:
                raise VerificationError(
                    f"{parsed} record {index} does not verify: its KeyPublished event names"
                    f" commitment 0x{c.hex()}, which the contract does not hold at that index")
            out.append((rec, logs[index][1] if index in logs else None))
        return out

    def lookup(
        self,
        name: str | Name,
        *,
        key_types: Iterable[KeyType | str | int] | KeyType | str | int | None = None,
        include_revoked: bool = False,
        include_expired: bool = False,
        include_pending: bool = True,
        attestations: bool = False,
        policy: Any = None,
        profile: str | None = None,
        dns: Any = None,
    ) -> list[KeyRecord]:
        """The verified key records of a name, in index order (as :meth:`Registry.lookup`).

        Raises:
            InvalidName, NameNotFound, VerificationError, ChainError, ConfigError.
        """
        parsed = parse_name(name)
        node = bytes(parsed.node)
        what = f"lookup {parsed}"
        raw = self._raw_records(parsed)
        if not raw:
            self._require_registered(parsed)
            return []
        out = [self._verified_record(parsed, node, index, rec, log)
               for index, rec, log in selected(
                   raw, what, key_types=key_types_of(key_types), include_revoked=include_revoked,
                   include_expired=include_expired, include_pending=include_pending)]
        if any(r.status == "revoked" for r in out):
            out = self._with_revocations(parsed, out)
        if attestations or policy is not None or profile is not None:
            out = [self._with_attestations(r) for r in out]
        if policy is not None or profile is not None:
            squat = self.squatted_by(parsed) or False
            verdict = self.dns_control(parsed, dns) if dns is not None else None
            out = [r for r in out if self.check_record(
                r, policy=policy, profile=profile, squatted_by=squat, dns=verdict).passed]
        return out

    def lookup_many(self, names: Iterable[str | Name], **options: Any) -> dict[str, list[KeyRecord]]:
        """:meth:`lookup` of many names, ``{name: records}`` (as :meth:`Registry.lookup_many`;
        the file is read in one transaction, so every name is seen at one block).

        Raises: as :meth:`lookup` (NameNotFound for the first name not registered); TypeError
        for an option :meth:`lookup` does not take.
        """
        parsed = list({p.text: p for p in (parse_name(n) for n in names)}.values())
        return {p.text: self.lookup(p, **options) for p in parsed}

    def _verified_record(self, parsed: Name, node: bytes, index: int, rec: dict[str, Any],
                         log: _Log | None) -> KeyRecord:
        what = f"{parsed} record {index}"
        key_type = KeyType(rec["key_type"])
        expected = bytes(rec["commitment"])
        problem = "the endpoint returned no KeyPublished event for it"
        found: tuple[bytes, bytes, _Log] | None = None
        if log is not None:
            try:
                event = _events()["KeyPublished"].decode(log.topics, log.data)
            except ValueError:
                event = None
                problem = "the endpoint returned a malformed KeyPublished event"
            if event is not None:
                material = bytes(event["material"])
                if (bytes(event["node"]) != node or int(event["index"]) != index):
                    problem = "the endpoint returned an event of another record"
                elif (commitment(key_type, material) != expected
                      or bytes(event["commitment"]) != expected
                      or int(event["key_type"]) != key_type):
                    problem = "the published material does not hash to the on-chain commitment"
                else:
                    found = (material, bytes(event["proof"]), log)
        if found is None:
            raise VerificationError(f"{what} does not verify: {problem}")
        material, proof, log = found
        try:
            key = _load_material(key_type, material)
        except KeyFormatError as exc:
            raise VerificationError(
                f"{what} does not verify: its material does not parse ({exc})"
            ) from exc
        return key_record(parsed.text, node, index, rec, material, proof, key, int(log.block),
                          log.tx_hash)

    def _with_revocations(self, parsed: Name, records: list[KeyRecord]) -> list[KeyRecord]:
        event = _events()["KeyRevoked"]
        found: dict[bytes, bytes] = {}
        for log in self._logs([event.topic], bytes(parsed.node)):
            try:
                data = event.decode(log.topics, log.data)
            except ValueError:
                continue
            found.setdefault(bytes(data["commitment"]), bytes(data["revocation"]))
        return with_revocations(records, found)

    def _with_attestations(self, record: KeyRecord) -> KeyRecord:
        import dataclasses

        return dataclasses.replace(
            record, attestations=tuple(self.attestations(record.name, record.commitment)))

    def _commitment_of(self, parsed: Name, record: int | bytes | bytearray) -> bytes:
        if isinstance(record, bytes | bytearray | memoryview):
            c = bytes(record)
            if len(c) != 32:
                raise ValueError("a commitment is 32 bytes")
            return c
        index = int(record)
        raw = self._raw_records(parsed)
        if not 0 <= index < len(raw):
            if not raw:
                self._require_registered(parsed)
            raise ContractRevert(f"{parsed} has no record {index}",
                                 reason="KeyRegistry: no such record")
        return bytes(raw[index][0]["commitment"])

    def attestations(self, name: str | Name, record: int | bytes, *,
                     include_blocked: bool = False) -> list[Attestation]:
        """The live attestations of a record (by index or commitment), as the client's.

        Raises: InvalidName, ContractRevert (no such record), ChainError.
        """
        parsed = parse_name(name)
        node = bytes(parsed.node)
        c = self._commitment_of(parsed, record)
        event = _events()["Attested"]
        attesters: list[bytes] = []
        for log in self._logs([event.topic], node, c):
            if len(log.topics) < 4:
                continue
            if log.topics[3] not in attesters:
                attesters.append(log.topics[3])
        out = []
        for attester in attesters:
            word = layout.decode_attestation(
                self._word(layout.attestation_slot(node, c, attester)))
            blocked = bool(self._word(layout.blocked_slot(node, attester)))
            if not word.attested_at or (blocked and not include_blocked):
                continue
            policy_hash = self._word(layout.policy_slot(node, c, attester)).to_bytes(32, "big")
            try:
                attester_name: str | None = self._name_of(attester)
            except Error:
                attester_name = None
            out.append(Attestation(
                attester=attester_name,
                attester_node=attester,
                policy_hash=policy_hash,
                expires=from_timestamp(word.expires),
                attested_at=from_timestamp(word.attested_at),
                blocked=blocked,
            ))
        return out

    # ----------------------------------------------------------------- history

    def history(self, name: str | Name) -> list[HistoryEvent]:
        """Every contract event about a name, oldest first (as :meth:`Registry.history`).

        Raises: InvalidName, NameNotFound, VerificationError, ChainError.
        """
        parsed = parse_name(name)
        node = bytes(parsed.node)
        events = _events()
        by_topic = {e.topic: e for e in events.values()}
        logs = self._logs(list(by_topic), node)
        if not logs:
            self._require_registered(parsed)
        out = []
        for log in logs:
            event = by_topic[log.topics[0]]
            try:
                data = event.decode(log.topics, log.data)
            except ValueError as exc:
                raise VerificationError(
                    f"history of {parsed}: malformed {event.name} event") from exc
            if bytes(data.get("node", b"")) != node:
                raise VerificationError(f"history of {parsed}: event of another name returned")
            out.append(HistoryEvent(
                kind=event_kind(event.name, data),
                name=parsed.text,
                block_number=int(log.block),
                log_index=int(log.index),
                tx_hash=log.tx_hash,
                timestamp=from_timestamp(int(log.timestamp)),
                data=event_data(event.name, data, self._name_of),
            ))
        return out

    # ----------------------------------------------------------------- policy

    def squatted_by(self, name: str | Name) -> str | None:
        """The registered domain that registered ``name`` squats in, or ``None``
        (as :meth:`Registry.squatted_by`). Raises: InvalidName."""
        from registry.names import squatted_by

        parsed = parse_name(name)
        labels = parsed.labels
        suffixes = ([parsed.text] if parsed.is_person else []) + [
            ".".join(labels[i:]) for i in range(len(labels))]
        by_node = {bytes(namehash(s)): s for s in suffixes}
        parents: dict[str, str | None] = {}
        for text in suffixes:
            if self.owner(text) is None:
                continue
            pnode = self._word(layout.parent_slot(bytes(namehash(text)))).to_bytes(32, "big")
            parents[text] = by_node.get(pnode)
        return squatted_by(parsed.text, parents) if parsed.text in parents else None

    def dns_control(self, name: str | Name, settings: Any = None) -> Any:
        """The DNS-control verdict of a name's top-level registered ancestor
        (as :meth:`Registry.dns_control`). Raises: NameNotFound."""
        from registry.dnscontrol import check_dns_control

        top = parse_name(name)
        for _ in range(256):
            parent = self.parent(top)
            if parent is None:
                break
            top = parse_name(parent)
        owner = self.owner(top)
        if owner is None:
            raise NameNotFound(f"{top} is not registered", reason="KeyRegistry: name not found")
        return check_dns_control(top.text, owner, settings=settings)

    def check_record(
        self,
        record: KeyRecord,
        *,
        policy: Any = None,
        profile: str | None = None,
        at: datetime | None = None,
        squatted_by: str | bool | None = None,
        dns: Any = None,
    ) -> Any:
        """Run the policy checker over a looked-up record (as :meth:`Registry.check_record`).

        Raises: ConfigError (bad policy file or unknown profile), VerificationError.
        """
        from registry.chain._checking import check_looked_up

        return check_looked_up(self, record, policy=policy, profile=profile, at=at,
                               squatted_by=squatted_by, dns=dns)

    def event_digest(self) -> tuple[bytes, int]:
        """The contract's event digest word and event count at the head."""
        word = self._word(layout.EVENTS_SLOT)
        return word.to_bytes(32, "big"), word >> layout.EV_COUNT_SHIFT


def _load_material(key_type: KeyType, material: bytes) -> Key:
    from registry.chain._verified import parsed_material

    return parsed_material(key_type, material)
