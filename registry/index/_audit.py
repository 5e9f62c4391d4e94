"""``keyanchor sync --audit``: the whole index against storage proofs at its proven head.

    result = sync_index("index.sqlite", registry, audit=True)
    result.audited, result.diverged      # names compared; divergences found and repaired

Three checks, at the block the index last proved (:meth:`Store.proven_head`):

1. every stored record's material is hashed again and must equal its
   commitment (a bit flipped in the file is found, not served);
2. the event digest the index holds must equal the one slot 0 proves;
3. every indexed name is compared with its proven storage words (docs/CONTRACT.md):
   the name word (owner, record count, person, renounced), the parent link,
   every record word (index, type, purposes, validity, durable, times,
   revocation and reason), the attestation and policy words of every attester
   that ever attested one of its records, the blocked flag of every attester
   it holds or blocked, and each operator approval of its current owner
   (against the name word's approval epoch). Proofs are fetched 500 slots at a
   time from the first endpoint whose proofs verify.

A difference means the index diverged from the chain (an older index synced
without proofs, a file altered on disk): the index rolls back to before the
earliest affected block (to the newest block whose digest is still proven,
for a digest difference) and syncs again, then the audit runs once more; a
second difference raises :class:`~registry.errors.VerificationError`. The index
never stays knowingly wrong.
"""

from __future__ import annotations

from typing import Any

from registry.chain import layout
from registry.errors import VerificationError
from registry.keys._common import commitment

__all__ = ["audit_index"]

#: Names compared per round of proofs.
CHUNK = 200
_ZERO_ADDRESS = "0x" + "00" * 20
_ZERO32 = b"\x00" * 32


def audit_index(syncer: Any, result: Any, *, again: bool = True) -> int:
    """Audit the index ``syncer`` (a ``registry.index._sync._Syncer``) keeps; repair by
    rolling back and syncing again. Returns the number of names compared.

    Raises: VerificationError (still diverged after the repair), QuorumError, ChainError.
    """
    store = syncer.store
    head = store.proven_head()
    if head is None:
        return 0
    number, block_hash, digest, _ts = head
    trusted = syncer.quorum.block(number)
    if trusted.hash != block_hash:
        from registry.index._sync import _ReorgInFlight

        raise _ReorgInFlight(f"block {number} changed before the audit")  # run() rolls back
    problems: list[tuple[int, str]] = []
    problems += _materials(store)
    if digest is not None and syncer.state.digest(trusted) != digest:
        if not again:
            raise VerificationError(f"the index's event digest at block {number} still differs"
                                    " from the proven one after a repair")
        syncer.repair(result, f"audit: the event digest the index holds at block {number} is not"
                              " the one the contract's state proves")
        syncer._run(result)
        return audit_index(syncer, result, again=False)
    ids = store.node_ids()
    nodes = sorted(ids)
    for lo in range(0, len(nodes), CHUNK):
        problems += _names(syncer, {n: ids[n] for n in nodes[lo:lo + CHUNK]}, trusted)
    if not problems:
        return len(nodes)
    first = min(b for b, _ in problems)
    what = "; ".join(sorted({w for _, w in problems})[:5])
    if not again:
        raise VerificationError(f"audit at block {number}: the index still differs from the"
                                f" proven state after a repair: {what}")
    result.diverged.append(f"audit at block {number}: {what}; rolled back to block {first - 1}"
                           " and synced again")
    syncer._rollback_to(result, first - 1)
    syncer._run(result)
    return audit_index(syncer, result, again=False)


def _materials(store: Any) -> list[tuple[int, str]]:
    out = []
    for nid, idx, kt, material, c, block, name in store.conn.execute(
            "SELECT r.name_id, r.idx, r.key_type, CAST(r.material AS BLOB), r.commitment, r.block,"
            " n.name"
            " FROM records r LEFT JOIN names n ON n.id = r.name_id"):
        if commitment(int(kt), bytes(material)) != bytes(c):
            who = name or "0x" + (store._node_of(int(nid)) or b"").hex()
            out.append((int(block), f"{who} record {idx}: stored material does not hash to its"
                                    " commitment"))
    return out


def _names(syncer: Any, ids: dict[bytes, int], trusted: Any) -> list[tuple[int, str]]:
    """Compare these names (node -> id) with their proven storage words; (first block, what)
    per difference."""
    conn = syncer.store.conn
    nodes = list(ids)
    node_of = {i: n for n, i in ids.items()}
    keys = list(node_of)
    marks = ",".join("?" * len(keys))
    parents = {int(i): syncer.store._node_of(int(p)) or _ZERO32 for i, p in conn.execute(
        f"SELECT id, parent FROM names WHERE id IN ({marks})", keys)}
    names = {node_of[int(i)]: (str(t), parents[int(i)], bool(per), str(o).lower(), bool(ren),
                               int(b))
             for i, t, per, o, ren, b in conn.execute(
                 "SELECT n.id, n.name, n.person, t.text, n.renounced, n.block FROM names n"
                 f" JOIN texts t ON t.id = n.owner WHERE n.id IN ({marks})", keys)}
    records: dict[bytes, list[tuple[Any, ...]]] = {n: [] for n in nodes}
    for row in conn.execute(
            "SELECT name_id, idx, commitment, key_type, purposes, valid_from, valid_until, durable,"
            f" published_at, revoked_at, reason, revoked_block, block FROM records"
            f" WHERE name_id IN ({marks}) ORDER BY name_id, idx", keys):
        records[node_of[int(row[0])]].append(row)
    atts: dict[tuple[bytes, int, bytes], tuple[bytes, int, int] | None] = {}
    for n, idx, attester in syncer.store.attested(nodes):  # the stored Attested events
        atts[(bytes(n), int(idx), bytes(attester))] = None
    for table in ("attestations", "held_attestations"):
        for n, idx, a, ph, exp, at in conn.execute(
                f"SELECT name_id, idx, attester, policy_hash, expires, attested_at FROM {table}"
                f" WHERE name_id IN ({marks})", keys):
            atts[(node_of[int(n)], int(idx), bytes(a))] = (bytes(ph), int(exp), int(at))
    blocked = {(node_of[int(n)], bytes(a)) for n, a in conn.execute(
        f"SELECT name_id, attester FROM blocked WHERE name_id IN ({marks})", keys)}
    attesters = blocked | {(n, a) for n, _i, a in atts}
    ops = [(node_of[int(n)], str(op), bool(ap)) for n, op, ap in conn.execute(
        "SELECT o.name_id, t.text, o.approved FROM operators o JOIN names n ON n.id = o.name_id"
        " AND n.owner = o.owner JOIN texts t ON t.id = o.operator"
        f" WHERE o.name_id IN ({marks})", keys)]
    commitments = {(n, int(r[1])): bytes(r[2]) for n, rs in records.items() for r in rs}

    slots: list[int] = []
    for n in nodes:
        slots += [layout.name_slot(n), layout.parent_slot(n)]
        slots += [layout.record_slot(n, bytes(r[2])) for r in records[n]]
    for (n, idx, a) in atts:
        c = commitments.get((n, idx), _ZERO32)
        slots += [layout.attestation_slot(n, c, a), layout.policy_slot(n, c, a)]
    slots += [layout.blocked_slot(n, a) for n, a in attesters]
    slots += [layout.operator_slot(n, op) for n, op, _ in ops]
    values = syncer.state.slots(slots, trusted, f"audit at block {trusted.number}")

    out: list[tuple[int, str]] = []

    def differ(node: bytes, what: str) -> None:
        text, _p, _per, _o, _r, block = names.get(node, ("0x" + node.hex(), b"", 0, "", 0, 1))
        first = min([block, *(int(r[12]) for r in records.get(node, ()))])
        out.append((first, f"{text}: {what}"))

    for n in nodes:
        _text, parent, person, owner, renounced, _block = names[n]
        word = layout.decode_name(values[layout.name_slot(n)])
        if word.owner != owner:
            differ(n, f"owner {owner} in the index, {word.owner} proven")
        if word.record_count != len(records[n]):
            differ(n, f"{len(records[n])} records in the index, {word.record_count} proven")
        if word.person != person or word.renounced != renounced:
            differ(n, "person / renounced flags differ from the proven name word")
        if values[layout.parent_slot(n)].to_bytes(32, "big") != parent:
            differ(n, "the parent link differs from the proven one")
        for (_n, idx, c, kt, purposes, vf, vu, durable, pub, rev_at, reason, rev_block,
             _b) in records[n]:
            rec = layout.decode_record(values[layout.record_slot(n, bytes(c))])
            revoked = rev_block is not None
            same = (rec.exists and rec.index == int(idx) and rec.key_type == int(kt)
                    and rec.purposes == int(purposes) and rec.valid_from == int(vf)
                    and rec.valid_until == int(vu) and rec.durable == bool(durable)
                    and rec.published_at == int(pub) and (rec.reason is not None) == revoked
                    and (not revoked or (rec.reason == reason and rec.revoked_at == int(rev_at))))
            if not same:
                differ(n, f"record {idx} differs from its proven record word")
    for (n, idx, a), mine in atts.items():
        c = commitments.get((n, idx), _ZERO32)
        w = layout.decode_attestation(values[layout.attestation_slot(n, c, a)])
        policy = values[layout.policy_slot(n, c, a)].to_bytes(32, "big")
        theirs = (policy, min(w.expires, 2**63 - 1), w.attested_at) if w.attested_at else None
        if theirs != mine:
            differ(n, f"record {idx}: the attestation by 0x{a.hex()[:16]}… differs from the"
                      " proven one")
    for n, a in attesters:
        if bool(values[layout.blocked_slot(n, a)]) != ((n, a) in blocked):
            differ(n, f"the blocked flag of attester 0x{a.hex()[:16]}… differs from the proven one")
    for n, op, approved in ops:
        word = layout.decode_name(values[layout.name_slot(n)])
        if (values[layout.operator_slot(n, op)] == word.epoch + 1) != approved:
            differ(n, f"operator {op}: approval differs from the proven one")
    return out
