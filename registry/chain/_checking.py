"""The policy check of a looked-up record, shared by every reader of the chain.

    report = check_looked_up(reader, record, profile="strict")

:class:`~registry.chain.client.Registry` (web3) and
:class:`~registry.chain.reader.EmbeddedReader` (the chain file alone) answer
``owner``, ``parent``, ``squatted_by``, ``chain_id`` and ``address`` alike;
the evidence the checker is given (proof statement, attester owners, the
registry parent, the squatting rule, the DNS verdict) is gathered here once, so
both give the same verdict.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from registry.errors import VerificationError

__all__ = ["check_looked_up"]

ZERO_ADDRESS = "0x" + "00" * 20


def check_looked_up(src: Any, record: Any, *, policy: Any = None, profile: str | None = None,
                    at: datetime | None = None, squatted_by: str | bool | None = None,
                    dns: Any = None) -> Any:
    """Run the policy checker over ``record`` with the evidence ``src`` reads.

    The proof is checked against the statement for this chain, registry, name,
    the name's current owner and the record's commitment; ``key.attestations``
    counts an attester only when its owner differs from the key's (and, with
    "@parent" trusted, only the registry parent), so their owners are read when
    there are attestations; the squatting rule (``binding.domain_chain``) uses
    ``src.squatted_by`` unless given.

    Raises: VerificationError (no parsed key), ConfigError (bad policy or profile),
    ChainError.
    """
    from registry import policy as pol
    from registry.proofs import statement

    if record.key is None:
        raise VerificationError(f"{record.name} record {record.index}: no parsed key")
    owner = src.owner(record.name) or ZERO_ADDRESS
    stmt = statement(src.chain_id, src.address, record.name, owner, record.commitment)
    owners: dict[str, str | None] = {}
    parent = None
    if record.attestations:
        owners = {a.attester: src.owner(a.attester) for a in record.attestations if a.attester}
        owners[record.name] = owner
        parent = src.parent(record.name)
    if squatted_by is None:
        squatted_by = src.squatted_by(record.name) or False
    return pol.check(
        record.key,
        policy=policy,
        profile=profile or "default",
        at=at,
        name=record.name,
        proof=record.proof or None,
        statement=stmt,
        registered_at=record.published_at,
        attestations=record.attestations,
        purposes=int(record.purposes),
        record=record,
        owners={k: v for k, v in owners.items() if v},
        parent=parent,
        squatted_by=squatted_by,
        dns=dns,
    )
