"""The registry's workflows, each one call with every check the CLI makes.

    from registry.chain import Registry
    from registry.workflows import publish_key

    with Registry.embedded() as reg:
        done = publish_key(reg, "alice@example.org", key, proof=signature)
        print(done.action, done.index, done.warnings)

The CLI parses arguments, calls one of these and renders the result; a Python
user gets exactly what a CLI user gets:

- :func:`publish_key` builds the proof statement, leaves a key already live
  under the name alone, refuses a publish without a proof of possession
  (unless told), runs the policy gate on exactly the record that will be
  stored (purposes and validity defaulted once), then publishes.
- :func:`rotate_key` does the same for the new key and revokes the old record
  in the same transaction; :func:`revoke_key` revokes, carrying an OpenPGP
  key's own revocation signature once it verifies against the certificate.
- :func:`register_name` and :func:`assign_name` explain a refusal before
  sending anything: whose name it is, what to run instead.
- :func:`reclaim_name` takes a name under yours back and, with
  ``revoke_keys=True``, revokes the keys its previous holder published (a
  reclaim alone leaves them active: sshd would still let them in).
- :func:`servable_records` picks what a gateway would hand out (active and
  passing the default profile) and says why nothing is left.
- :func:`describe_name` gathers what ``keyanchor name show`` prints.

``registry`` is a :class:`~registry.chain.client.Registry` (writes need its
account); read-only workflows also take an
:class:`~registry.chain.reader.EmbeddedReader`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from registry.errors import (
    ContractRevert,
    KeyAlreadyActive,
    KeyRevoked,
    NameNotFound,
    NameTaken,
    NotOwner,
    PolicyViolation,
    ProofError,
    VerificationError,
)
from registry.keys._common import Key, KeyType, Purpose
from registry.names import Name, parse_name
from registry.publish import PublishTerms
from registry.publish import publish_terms as stored_terms

if TYPE_CHECKING:  # pragma: no cover
    from registry.chain.client import Registry
    from registry.chain.reader import EmbeddedReader
    from registry.chain.records import KeyRecord, RevocationReason, TxResult
    from registry.policy.report import Report

    Reader = Registry | EmbeddedReader

__all__ = [
    "PUBLISH_EXEMPT",
    "NameChange",
    "NameInfo",
    "ProofRequest",
    "Publication",
    "Reclaim",
    "Revocation",
    "Servable",
    "assign_name",
    "describe_name",
    "find_record",
    "prove_request",
    "publish_key",
    "publish_terms",
    "reclaim_name",
    "register_name",
    "revoke_key",
    "rotate_key",
    "servable_records",
]

#: Lints that cannot pass before a record exists (attestations come after publishing):
#: they gate lookups, not publishes.
PUBLISH_EXEMPT = frozenset({"key.attestations"})


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None


def _hex(value: bytes | None) -> str | None:
    return "0x" + value.hex() if value is not None else None


# --------------------------------------------------------------------------- what is stored


def publish_terms(key: Key, *, purposes: Purpose | int | str | None = None,
                  valid_from: datetime | int | None = None,
                  valid_until: datetime | int | None = None) -> PublishTerms:
    """The purposes and validity a publish of ``key`` stores
    (:func:`registry.publish.publish_terms`), refused when the window is over or empty.

    Purposes default by key type (SSH: ssh-user; OpenPGP: signing, encryption;
    X.509: tls-server); ``valid_until`` defaults to the key's own expiry (a
    certificate's notAfter, an OpenPGP expiry), so a record never outlives its key.

    Raises:
        ValueError: unknown or no purposes; a validity window that is over or empty.
    """
    terms = stored_terms(key, purposes=purposes, valid_from=valid_from, valid_until=valid_until)
    start, until = terms.valid_from, terms.valid_until
    if until is not None and until <= datetime.now(UTC):
        raise ValueError(f"the record would end {_iso(until)}, which is past"
                         + ("" if valid_until is not None else " (the key itself has expired)"))
    if start is not None and until is not None and start >= until:
        raise ValueError(f"the record would start ({_iso(start)}) after it ends ({_iso(until)})")
    return terms


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Publication:
    """What :func:`publish_key` / :func:`rotate_key` did.

    ``action`` is ``published``, ``rotated`` or ``unchanged`` (the key was already
    live under the name: nothing sent). ``warnings`` are the policy's warnings.
    """

    action: str
    name: str
    key: Key
    index: int | None
    purposes: Purpose
    valid_from: datetime | None
    valid_until: datetime | None
    signer: str
    status: str | None = None
    tx: TxResult | None = None
    report: Report | None = None
    warnings: tuple[str, ...] = ()
    forced: bool = False
    replaces: int | None = None
    reason: RevocationReason | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "action": self.action,
            "name": self.name,
            "index": self.index,
            "key_type": self.key.key_type.label,
            "fingerprint": self.key.fingerprint,
            "purposes": self.purposes.names(),
            "valid_from": _iso(self.valid_from),
            "valid_until": _iso(self.valid_until),
            "signer": self.signer,
        }
        if self.status is not None:
            out["status"] = self.status
        if self.replaces is not None:
            out["replaces"] = self.replaces
        if self.reason is not None:
            out["reason"] = self.reason.label
        if self.report is not None:
            out["policy"] = {"profile": self.report.profile, "passed": self.report.passed,
                             "forced": self.forced}
        out["warnings"] = list(self.warnings)
        out.update(_tx_dict(self.tx))
        return out


@dataclass(frozen=True)
class Revocation:
    """What :func:`revoke_key` did."""

    name: str
    index: int
    key_type: KeyType
    fingerprint: str | None
    reason: RevocationReason
    signer: str
    revocation: bytes = b""
    tx: TxResult | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": "revoked",
            "name": self.name,
            "index": self.index,
            "key_type": self.key_type.label,
            "fingerprint": self.fingerprint,
            "reason": self.reason.label,
            "revocation": _hex(self.revocation) if self.revocation else None,
            "signer": self.signer,
            **_tx_dict(self.tx),
        }


@dataclass(frozen=True)
class NameChange:
    """What :func:`register_name` / :func:`assign_name` did."""

    action: str  # "registered" or "assigned"
    name: str
    owner: str
    signer: str
    parent: str | None = None
    tx: TxResult | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "name": self.name, "owner": self.owner,
                "parent": self.parent, "signer": self.signer, **_tx_dict(self.tx)}


@dataclass(frozen=True)
class Reclaim:
    """What :func:`reclaim_name` did: the reclaim, the revocations, the records left live."""

    name: str
    owner: str
    signer: str
    tx: TxResult | None = None
    revoked: tuple[Revocation, ...] = ()
    live: tuple[int, ...] = ()  # records still active or pending (their keys still served)

    def to_dict(self) -> dict[str, Any]:
        return {"action": "reclaimed", "name": self.name, "owner": self.owner,
                "signer": self.signer, "revoked": [r.to_dict() for r in self.revoked],
                "live_records": list(self.live), **_tx_dict(self.tx)}


def _tx_dict(tx: TxResult | None) -> dict[str, Any]:
    if tx is None:
        return {}
    return {"tx_hash": _hex(tx.tx_hash), "block_number": tx.block_number,
            "gas_used": tx.gas_used}


# --------------------------------------------------------------------------- records


def find_record(reader: Reader, name: str | Name, ref: str | int | bytes) -> int:
    """The index of a name's record named by ``ref``: an index, a key fingerprint (SSH
    ``SHA256:…``, OpenPGP hex, X.509 SHA-256 hex) or a ``0x`` commitment. A live
    record wins over revoked ones holding the same key.

    Raises:
        InvalidName, NameNotFound, ContractRevert (no such record, or several match), ChainError.
    """
    parsed = parse_name(name)
    if isinstance(ref, int):
        return ref
    if isinstance(ref, bytes):
        want = ref.hex()
    else:
        want = ref.strip()
        if want.isascii() and want.isdigit():  # not '²' (int() refuses it) nor '٣' (int() takes it)
            return int(want)
        want = want.lower().removeprefix("sha256:").replace(":", "").removeprefix("0x")
    records = reader.lookup(parsed, include_revoked=True, include_expired=True)
    hits = []
    for rec in records:
        fpr = (rec.key.fingerprint if rec.key is not None else "").lower()
        fpr = fpr.removeprefix("sha256:").replace(":", "")
        if want in (fpr, rec.commitment.hex()):
            hits.append(rec)
    live = [r for r in hits if r.status != "revoked"] or hits
    if not live:
        raise ContractRevert(f"{parsed} has no record with fingerprint {ref!s}",
                             reason="KeyRegistry: no such record")
    if len(live) > 1:
        raise ContractRevert(f"{ref!s} matches records {', '.join(str(r.index) for r in live)}"
                             f" of {parsed}: give the index", reason="")
    return int(live[0].index)


def _record_at(reader: Reader, parsed: Name, index: int) -> KeyRecord:
    for rec in reader.lookup(parsed, include_revoked=True, include_expired=True):
        if rec.index == index:
            return rec
    count = reader.record_count(parsed)
    raise ContractRevert(
        f"{parsed} has no record {index}"
        + (f" (it has {count}: 0 to {count - 1})" if count else " (it has no records)"),
        reason="KeyRegistry: no such record")


def _live_record(registry: Registry, parsed: Name, key: Key) -> tuple[int, str] | None:
    """(index, status) of a record of the name holding ``key`` that is not revoked."""
    from registry.chain.records import STATUSES

    for index, rec in enumerate(registry.records(parsed)):
        if bytes(rec["commitment"]) != _commitment(key):
            continue
        status = STATUSES[int(rec["status"])]
        if status == "revoked":
            raise KeyRevoked(
                f"{key.fingerprint} was revoked under {parsed} (record {index}) and can never"
                " come back under that name", reason="KeyRegistry: key revoked")
        return index, status
    return None


def _owner(reader: Reader, parsed: Name) -> str:
    owner = reader.owner(parsed)
    if owner is None:
        raise NameNotFound(f"{parsed} is not registered{_how_to_get(parsed)}",
                           reason="KeyRegistry: name not found")
    return owner


def _commitment(key: Key) -> bytes:
    from registry.keys._common import commitment

    return commitment(key.key_type, key.material)


def _how_to_get(parsed: Name) -> str:
    """How a missing name comes to be: registered (a registrable domain) or assigned."""
    from registry.names import registrable_domain

    parent = parsed.parent
    if parent is None or (not parsed.is_person and registrable_domain(parsed.text) == parsed.text):
        return f": register it with 'keyanchor name register {parsed}'"
    return f": the owner of {parent} assigns it with 'keyanchor name assign {parsed}'"


def _proof_needed(policy: Any, profile: str | None) -> bool:
    """Whether a publish needs a proof: yes, unless the policy leaves binding.proof out."""
    from registry.policy import _policy, load_lints

    lint = load_lints().get("binding.proof")
    return lint is None or _policy(policy, profile or "default").enabled(lint)


def _gate(key: Key, name: str, *, terms: PublishTerms, proof: bytes, statement: bytes,
          policy: Any, profile: str | None, force: bool) -> tuple[Report, tuple[str, ...], bool]:
    """The publish-time policy check on exactly the record to be stored.

    Returns (report, warnings, forced). Raises PolicyViolation naming the failing lints.
    """
    from registry.policy import Status, check

    report = check(key, policy=policy, profile=profile or "default", name=name,
                   proof=proof or None, statement=statement if proof else None,
                   purposes=int(terms.purposes), record=terms, at=terms.checked_at)
    blocking = [r for r in report.failures() if r.lint_id not in PUBLISH_EXEMPT]
    warnings = tuple(f"{r.lint_id}: {r.details}" for r in report.results
                     if Status.WARN <= r.status and r not in blocking
                     and r.lint_id not in PUBLISH_EXEMPT)
    if not blocking:
        return report, warnings, False
    messages = "; ".join(f"{r.lint_id}: {r.details}" if r.details else r.lint_id
                         for r in blocking)
    if force:
        return report, (f"policy {report.profile} fails ({messages}); published anyway"
                        " (force)", *warnings), True
    raise PolicyViolation(
        f"policy {report.profile} refuses {key.fingerprint} as {', '.join(terms.purposes.names())}"
        f" under {name}: {messages} (--force publishes anyway)", report)


def _prove_hint(name: str, source: str | None) -> str:
    import shlex

    shown = shlex.quote(source) if source else "KEYFILE"
    return (f"run 'keyanchor prove {name} {shown} --out statement.txt', sign statement.txt with"
            f" the key's own tool (it prints the command) and pass --proof statement.txt.sig")


def publish_key(
    registry: Registry,
    name: str | Name,
    key: Key,
    *,
    purposes: Purpose | int | str | None = None,
    valid_from: datetime | int | None = None,
    valid_until: datetime | int | None = None,
    proof: bytes = b"",
    no_proof: bool = False,
    policy: Any = None,
    profile: str | None = "default",
    force: bool = False,
    durable: bool = False,
    source: str | None = None,
) -> Publication:
    """Publish ``key`` under ``name`` with every check (module docstring).

    ``proof`` is the signature over the statement ``keyanchor prove`` prints
    (SSHSIG, an OpenPGP detached signature, or an X.509 key's signature); a
    publish without one is refused unless ``no_proof`` or the policy leaves
    ``binding.proof`` out. ``policy`` (a file path, TOML text or Policy) or
    ``profile`` judge the stored record; ``force`` publishes a failing key anyway
    (the result's ``warnings`` say so). ``source`` names the key file in messages.

    Returns a :class:`Publication`; ``action == "unchanged"`` when the key is
    already live (active or pending) under the name: nothing is sent.

    Raises:
        ValueError: bad purposes or validity. InvalidName, NameNotFound, KeyRevoked
        (the key was revoked under the name), ProofError (no proof), PolicyViolation,
        NotOwner, AccountError, InsufficientFunds, ChainError.
    """
    from registry.proofs import statement

    parsed = parse_name(name)
    terms = publish_terms(key, purposes=purposes, valid_from=valid_from, valid_until=valid_until)
    signer = registry.sender
    owner = _owner(registry, parsed)
    live = _live_record(registry, parsed, key)
    if live is not None:
        return Publication("unchanged", parsed.text, key, live[0], terms.purposes,
                           terms.valid_from, terms.valid_until, signer, status=live[1])
    if not proof and not no_proof and _proof_needed(policy, profile):
        raise ProofError(f"publishing {key.fingerprint} under {parsed} needs a proof of"
                         f" possession: {_prove_hint(parsed.text, source)} (or --no-proof)")
    stmt = statement(registry.chain_id, registry.address, parsed.text, owner, _commitment(key))
    report, warnings, forced = _gate(key, parsed.text, terms=terms, proof=proof,
                                     statement=stmt, policy=policy, profile=profile, force=force)
    try:
        tx = registry.publish(parsed, key, purposes=terms.purposes, valid_from=terms.valid_from,
                              valid_until=terms.valid_until, proof=proof, durable=durable)
    except KeyAlreadyActive:  # published meanwhile (another process)
        live = _live_record(registry, parsed, key)
        return Publication("unchanged", parsed.text, key, live[0] if live else None,
                           terms.purposes, terms.valid_from, terms.valid_until, signer,
                           status=live[1] if live else None)
    return Publication("published", parsed.text, key, tx.index, terms.purposes,
                       terms.valid_from, terms.valid_until, signer, tx=tx, report=report,
                       warnings=warnings, forced=forced)


def rotate_key(
    registry: Registry,
    name: str | Name,
    old: str | int | bytes,
    key: Key,
    *,
    reason: RevocationReason | int | str = "superseded",
    revocation: bytes = b"",
    purposes: Purpose | int | str | None = None,
    valid_from: datetime | int | None = None,
    valid_until: datetime | int | None = None,
    proof: bytes = b"",
    no_proof: bool = False,
    policy: Any = None,
    profile: str | None = "default",
    force: bool = False,
    durable: bool = False,
    source: str | None = None,
) -> Publication:
    """Replace record ``old`` (index, fingerprint or commitment) by ``key`` in one transaction.

    The new key gets every check of :func:`publish_key`; its purposes default to
    the old record's. The old record is revoked with ``reason`` (default
    superseded), carrying ``revocation`` as :func:`revoke_key` does.

    Raises: as :func:`publish_key` and :func:`revoke_key`.
    """
    from registry.chain.records import RevocationReason
    from registry.proofs import statement

    parsed = parse_name(name)
    code = RevocationReason.parse(reason)
    index = find_record(registry, parsed, old)
    old_record = _record_at(registry, parsed, index)
    if old_record.status == "revoked":
        raise KeyRevoked(f"record {index} of {parsed} is already revoked: publish the new key"
                         " with 'keyanchor key publish' instead", reason="KeyRegistry: key revoked")
    signed_revocation = _checked_revocation(old_record, revocation)
    terms = publish_terms(key, purposes=old_record.purposes if purposes is None else purposes,
                          valid_from=valid_from, valid_until=valid_until)
    signer = registry.sender
    owner = _owner(registry, parsed)
    if _commitment(key) == old_record.commitment:
        raise KeyAlreadyActive(f"record {index} of {parsed} already holds {key.fingerprint}:"
                               " rotate to another key", reason="KeyRegistry: key already active")
    live = _live_record(registry, parsed, key)
    if live is not None:
        raise KeyAlreadyActive(f"{key.fingerprint} is already published under {parsed} (record"
                               f" {live[0]}, {live[1]}): revoke record {index} with"
                               " 'keyanchor key revoke' instead",
                               reason="KeyRegistry: key already active")
    if not proof and not no_proof and _proof_needed(policy, profile):
        raise ProofError(f"rotating to {key.fingerprint} under {parsed} needs a proof of"
                         f" possession: {_prove_hint(parsed.text, source)} (or --no-proof)")
    stmt = statement(registry.chain_id, registry.address, parsed.text, owner, _commitment(key))
    report, warnings, forced = _gate(key, parsed.text, terms=terms, proof=proof,
                                     statement=stmt, policy=policy, profile=profile, force=force)
    tx = registry.rotate(parsed, index, key, purposes=terms.purposes,
                         valid_from=terms.valid_from, valid_until=terms.valid_until, proof=proof,
                         durable=durable, reason=code, revocation=signed_revocation)
    _confirm_revoked(registry, parsed, index, tx)
    return Publication("rotated", parsed.text, key, tx.index, terms.purposes, terms.valid_from,
                       terms.valid_until, signer, tx=tx, report=report, warnings=warnings,
                       forced=forced, replaces=index, reason=code)


def _checked_revocation(record: KeyRecord, revocation: bytes) -> bytes:
    """The revocation to carry for ``record``: an OpenPGP key revocation signature that
    verifies against the record's certificate, re-encoded from its parsed packet.

    Raises: ProofError (does not verify, or the record is no OpenPGP key), KeyFormatError.
    """
    if not revocation:
        return b""
    if record.key_type is not KeyType.OPENPGP:
        raise ProofError(
            f"a revocation is an OpenPGP key revocation signature ('gpg --gen-revoke');"
            f" record {record.index} of {record.name} is an {record.key_type.label} key")
    from registry.chain.client import MAX_REVOCATION
    from registry.keys import verify_openpgp_revocation

    rev = verify_openpgp_revocation(record.material, revocation)
    if len(rev.signature) > MAX_REVOCATION:
        raise ProofError(f"the revocation signature is {len(rev.signature)} bytes; the"
                         f" registry carries at most {MAX_REVOCATION}")
    return rev.signature


def revoke_key(
    registry: Registry,
    name: str | Name,
    record: str | int | bytes,
    *,
    reason: RevocationReason | int | str = "unspecified",
    revocation: bytes = b"",
) -> Revocation:
    """Revoke a record (index, fingerprint or commitment), permanently.

    ``revocation``, for an OpenPGP record, is the key's own revocation (what
    ``gpg --gen-revoke`` writes): it must verify against the published
    certificate, and its signature packet (re-encoded) is carried in the
    ``KeyRevoked`` event, so keyservers hand it on.

    Raises:
        ValueError (unknown reason), InvalidName, NameNotFound, ContractRevert (no
        such record), KeyRevoked (already revoked), ProofError, KeyFormatError
        (the revocation), NotOwner, AccountError, ChainError.
    """
    from registry.chain.records import RevocationReason

    parsed = parse_name(name)
    code = RevocationReason.parse(reason)
    signer = registry.sender
    index = find_record(registry, parsed, record)
    rec = _record_at(registry, parsed, index)
    if rec.status == "revoked":
        when = _iso(rec.revoked_at)
        raise KeyRevoked(f"record {index} of {parsed} is already revoked"
                         + (f" (since {when})" if when else ""),
                         reason="KeyRegistry: already revoked")
    carried = _checked_revocation(rec, revocation)
    tx = registry.revoke(parsed, index, code, revocation=carried)
    _confirm_revoked(registry, parsed, index, tx)
    return Revocation(parsed.text, index, rec.key_type,
                      rec.key.fingerprint if rec.key is not None else None, code, signer,
                      carried, tx)


def _confirm_revoked(registry: Registry, parsed: Name, index: int, tx: TxResult | None) -> None:
    """The revocation as the proven state shows it, not as the endpoint's receipt says: an
    endpoint that drops the transaction and answers a receipt of success made the CLI say
    "revoked" while the (compromised) key stayed active. Once the trusted head is at or past
    the receipt's block, the record must be proven revoked there (a head behind it, under
    ``finalized`` say, cannot tell yet, and nothing is claimed beyond the receipt).

    Raises: VerificationError (still active at a head that includes the receipt's block).
    """
    if tx is None:
        return
    after = _record_at(registry, parsed, index)
    if after.status == "revoked":
        return
    head = registry.head()
    if int(head.number) >= tx.block_number:
        raise VerificationError(
            f"the endpoint reported the revocation of record {index} of {parsed} mined in block"
            f" {tx.block_number} (tx 0x{tx.tx_hash.hex()}), but at trusted block {head.number}"
            f" the record is still {after.status}: the transaction was dropped or replaced;"
            " run the revocation again (through another endpoint)")


# --------------------------------------------------------------------------- names


def register_name(registry: Registry, name: str | Name) -> NameChange:
    """Register a top-level name for the registry's account, explaining refusals first.

    Raises:
        InvalidName (a person name, a subdomain, a public suffix; the message says
        what to run instead), NameTaken ("you already own it", or whose it is),
        NotOwner (a private registry), AccountError, ChainError.
    """
    parsed = parse_name(name)
    signer = registry.sender
    if parsed.is_person:
        from registry.errors import InvalidName

        raise InvalidName(f"{parsed} is a person name under {parsed.parent}: its owner"
                          f" assigns it with 'keyanchor name assign {parsed} --owner ADDRESS'")
    owner = registry.owner(parsed)
    if owner is not None:
        if owner.lower() == signer.lower():
            raise NameTaken(f"{parsed} is already registered, to you ({signer}): you already"
                            " own it", reason="KeyRegistry: name taken")
        raise NameTaken(f"{parsed} is already registered, to {owner}",
                        reason="KeyRegistry: name taken")
    parent = _registered_ancestor(registry, parsed)
    if parent is not None:
        from registry.errors import InvalidName

        raise InvalidName(f"{parsed} is under {parent}: its owner assigns it with"
                          f" 'keyanchor name assign {parsed}'")
    tx = registry.register(parsed)
    return NameChange("registered", parsed.text, signer, signer, tx=tx)


def _live_indices(reader: Reader, parsed: Name) -> list[int]:
    """Indices of the name's records that are active or pending (pending ones go live later)."""
    from registry.chain.records import STATUSES

    return [i for i, rec in enumerate(reader.records(parsed))
            if 0 <= rec["status"] < len(STATUSES) and STATUSES[rec["status"]] in ("active", "pending")]


def reclaim_name(
    registry: Registry,
    name: str | Name,
    *,
    revoke_keys: bool = False,
    reason: RevocationReason | int | str = "affiliation-changed",
) -> Reclaim:
    """As the owner of a name's parent, take the name back (someone left, a host was retired).

    A reclaim changes the name's owner and ends its operators' approvals, but the key
    records its previous holder published stay active: sshd keeps letting those keys in
    until they are revoked. With ``revoke_keys`` every active or pending record is then
    revoked (``reason``, by default ``affiliation-changed``), each revocation confirmed
    from the proven state; :attr:`Reclaim.live` lists the records still live either way.

    Raises:
        ValueError (unknown reason), InvalidName, NameNotFound, NotOwner (not the
        parent's owner), ContractRevert (renounced, a top-level name), KeyRevoked,
        VerificationError, AccountError, ChainError.
    """
    from registry.chain.records import RevocationReason

    parsed = parse_name(name)
    code = RevocationReason.parse(reason)  # a bad reason is refused before anything is sent
    signer = registry.sender
    if registry.owner(parsed) is None:
        raise NameNotFound(f"{parsed} is not registered", reason="KeyRegistry: name not found")
    tx = registry.reclaim(parsed)
    if tx is not None and int(registry.head().number) >= tx.block_number:
        owner = registry.owner(parsed)  # proven, not the endpoint's receipt
        if owner is None or owner.lower() != signer.lower():
            raise VerificationError(
                f"the endpoint reported the reclaim of {parsed} mined in block {tx.block_number}"
                f" (tx 0x{tx.tx_hash.hex()}), but at the trusted head its owner is still {owner}:"
                " the transaction was dropped or replaced; run the reclaim again (through"
                " another endpoint)")
    revoked: list[Revocation] = []
    if revoke_keys:
        for index in _live_indices(registry, parsed):
            revoked.append(revoke_key(registry, parsed, index, reason=code))
    return Reclaim(parsed.text, signer, signer, tx, tuple(revoked),
                   tuple(_live_indices(registry, parsed)))


def _registered_ancestor(reader: Reader, parsed: Name) -> str | None:
    labels = parsed.labels
    for i in range(1, len(labels)):
        text = ".".join(labels[i:])
        if reader.owner(text) is not None:
            return text
    return None


def assign_name(registry: Registry, child: str | Name, owner: str | None = None) -> NameChange:
    """Create ``child`` under a name the account owns, for ``owner`` (default: the account).

    Raises:
        InvalidName (no parent), NameNotFound (the parent is not registered: what to
        register), NotOwner (the parent is someone else's: whose), NameTaken ("you
        already own it", or whose it is), AccountError, ChainError.
    """
    from registry.chain._address import checksum_address

    parsed = parse_name(child)
    signer = registry.sender
    new_owner = checksum_address(owner) if owner is not None else signer
    parent = parsed.parent
    if parent is None:
        from registry.errors import InvalidName

        raise InvalidName(f"{parsed} has no parent to assign it under: register it with"
                          f" 'keyanchor name register {parsed}'")
    parent_owner = registry.owner(parent)
    if parent_owner is None:
        raise NameNotFound(f"{parent} is not registered{_how_to_get(parent)}",
                           reason="KeyRegistry: name not found")
    current = registry.owner(parsed)
    if current is not None:
        if current.lower() == signer.lower():
            raise NameTaken(f"{parsed} is already assigned, to you ({signer}): you already own"
                            " it", reason="KeyRegistry: name taken")
        raise NameTaken(f"{parsed} is already assigned, to {current}",
                        reason="KeyRegistry: name taken")
    if parent_owner.lower() != signer.lower():
        raise NotOwner(f"{parent} belongs to {parent_owner}, not to the signing account {signer}:"
                       f" only its owner assigns names under it", reason="KeyRegistry: not owner")
    tx = registry.assign(parsed, new_owner)
    return NameChange("assigned", parsed.text, new_owner, signer, parent=parent.text, tx=tx)


@dataclass(frozen=True)
class NameInfo:
    """What ``keyanchor name show`` prints about a name."""

    name: str
    owner: str
    parent: str | None
    renounced: bool | None
    operators: tuple[str, ...]
    records: tuple[KeyRecord, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "owner": self.owner, "parent": self.parent,
            "renounced": self.renounced, "operators": list(self.operators),
            "records": [{"index": r.index, "key_type": r.key_type.label, "status": r.status,
                         "purposes": r.purposes.names(),
                         "fingerprint": r.key.fingerprint if r.key is not None else None}
                        for r in self.records],
        }


def describe_name(reader: Reader, name: str | Name) -> NameInfo:
    """Owner, parent, renunciation, live operators and every record of a name.

    Operators are the ones approved in the name's history and still approved
    by its current owner.

    Raises: InvalidName, NameNotFound, VerificationError, ChainError.
    """
    parsed = parse_name(name)
    owner = _owner(reader, parsed)
    parent = reader.parent(parsed)
    renounced = reader.renounced(parsed) if parent is not None else None
    seen: dict[str, bool] = {}
    for ev in reader.history(parsed):
        if ev.kind == "transferred":  # a transfer ends every approval
            seen = {}
        elif ev.kind == "operator-set":
            seen[str(ev.data.get("operator"))] = bool(ev.data.get("approved"))
    operators = tuple(sorted(op for op, on in seen.items() if on and reader.is_operator(parsed, op)))
    records = tuple(reader.lookup(parsed, include_revoked=True, include_expired=True))
    return NameInfo(parsed.text, owner, parent, renounced, operators, records)


# --------------------------------------------------------------------------- lookups


#: What each output format can hold: key type, and the purposes that make a record fit.
FORMATS: dict[str, tuple[KeyType, Purpose | None]] = {
    "authorized-keys": (KeyType.SSH, Purpose.SSH_USER),
    "known-hosts": (KeyType.SSH, Purpose.SSH_HOST),
    "armor": (KeyType.OPENPGP, None),
    "pem": (KeyType.X509, None),
}


@dataclass(frozen=True)
class Servable:
    """The records a format hands out, and what was held back (and why)."""

    name: str
    format: str
    records: tuple[KeyRecord, ...]
    revoked: tuple[KeyRecord, ...] = ()  # shown as revocations (known_hosts @revoked)
    refused: tuple[KeyRecord, ...] = ()  # live, of the format's kind, but failing the policy
    inactive: int = 0  # of the format's kind but not active (left out)
    profile: str | None = "default"
    problems: dict[int, str] = field(default_factory=dict)  # refused index -> failing lints

    def explain(self) -> str:
        """Why nothing is handed out (empty when something is)."""
        kind = FORMATS[self.format][0].label
        if self.records or self.revoked:
            return ""
        if self.refused:
            n = len(self.refused)
            which = ", ".join(f"record {i}: {p}" for i, p in sorted(self.problems.items()))
            return (f"{self.name} has {n} active {kind} key{'s' if n > 1 else ''} for"
                    f" {self.format}, but the {self.profile} policy refuses"
                    f" {'them all' if n > 1 else 'it'} ({which}); 'keyanchor check {self.name}'"
                    " shows why, --no-policy prints them anyway")
        if self.inactive:
            return (f"{self.name} has no active {kind} key for {self.format}"
                    f" ({self.inactive} revoked, expired or pending: --all shows them)")
        return f"{self.name} has no {kind} key to render as {self.format}"


def _fits(rec: KeyRecord, fmt: str) -> bool:
    kind, purpose = FORMATS[fmt]
    if rec.key_type is not kind or rec.key is None:
        return False
    if kind is KeyType.SSH:
        if getattr(rec.key, "certificate", None) is not None:
            return False  # trusted through its CA, never listed itself
        return bool(rec.purposes & (purpose | Purpose.CA)) if purpose is not None else True
    return True


def servable_records(reader: Reader, name: str | Name, fmt: str, *, include_all: bool = False,
                     no_policy: bool = False, policy: Any = None,
                     profile: str | None = None) -> Servable:
    """The records of ``name`` that format ``fmt`` hands out, as the gateways would.

    By default: active records of the format's kind that pass the ``default``
    profile (or ``policy`` / ``profile``) -- what sshd, ssh, HKP and WKD get from
    the index -- plus, for ``known-hosts``, revoked host keys as ``@revoked``.
    ``no_policy`` skips the policy; ``include_all`` also lifts the status filter
    (revoked and expired keys for ``armor`` / ``pem``; never for
    ``authorized-keys``, which cannot mark a key revoked).

    Raises: ValueError (unknown format), InvalidName, NameNotFound,
    VerificationError, ChainError, ConfigError (bad policy).
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
    parsed = parse_name(name)
    kind = FORMATS[fmt][0]
    records = [r for r in reader.lookup(parsed, key_types=kind, include_revoked=True,
                                        include_expired=True, attestations=True)
               if _fits(r, fmt)]
    revoked = tuple(r for r in records if r.status == "revoked" and fmt == "known-hosts")
    if include_all:
        shown = [r for r in records if fmt != "authorized-keys" or r.status == "active"]
        if fmt == "known-hosts":
            shown = [r for r in shown if r.status not in ("revoked", "expired")]
        inactive = len([r for r in records if r not in shown and r not in revoked])
        return Servable(parsed.text, fmt, tuple(shown), revoked, (), inactive, None)
    active = [r for r in records if r.status == "active"]
    inactive = len(records) - len(active) - len(revoked)
    if no_policy:
        return Servable(parsed.text, fmt, tuple(active), revoked, (), inactive, None)
    passing, refused, problems = [], [], {}
    squat = reader.squatted_by(parsed) or False
    chosen = profile or ("default" if policy is None else None)
    for rec in active:
        report = reader.check_record(rec, policy=policy, profile=chosen, squatted_by=squat)
        if report.passed:
            passing.append(rec)
        else:
            refused.append(rec)
            problems[rec.index] = ", ".join(r.lint_id for r in report.failures())
    shown_profile = chosen or (policy if isinstance(policy, str) else "given")
    return Servable(parsed.text, fmt, tuple(passing), revoked, tuple(refused), inactive,
                    str(shown_profile), problems)



# --------------------------------------------------------------------------- proofs


@dataclass(frozen=True)
class ProofRequest:
    """What ``keyanchor prove`` prints: the statement to sign and the commands that sign it."""

    name: str
    owner: str
    key: Key
    statement: bytes
    commands: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "owner": self.owner, "key_type": self.key.key_type.label,
                "fingerprint": self.key.fingerprint,
                "commitment": "0x" + _commitment(self.key).hex(),
                "statement": self.statement.decode("ascii"), "commands": list(self.commands)}


def prove_request(reader: Reader, name: str | Name, key: Key, *, owner: str | None = None,
                  key_file: str | None = None,
                  statement_file: str = "statement.txt") -> ProofRequest:
    """The proof-of-possession statement for publishing ``key`` under ``name`` (owner: the
    name's current owner unless given) and the commands that sign it with the key's own
    tool (``key_file``: the public key file, to name its private key).

    Raises: InvalidName, NameNotFound (and no ``owner``), ConfigError (bad owner), ChainError.
    """
    import shlex

    from registry.chain._address import checksum_address
    from registry.proofs import proof_commands, statement

    parsed = parse_name(name)
    who = checksum_address(owner) if owner is not None else _owner(reader, parsed)
    stmt = statement(reader.chain_id, reader.address, parsed.text, who, _commitment(key))
    quoted = shlex.quote(statement_file)
    if key.key_type is KeyType.SSH:
        private = key_file[:-4] if key_file and key_file.endswith(".pub") else "PRIVATE_KEY"
        commands = proof_commands(KeyType.SSH, quoted, key=shlex.quote(private))
    elif key.key_type is KeyType.OPENPGP:
        commands = proof_commands(KeyType.OPENPGP, quoted, key=key.fingerprint)
    else:
        all_commands = proof_commands(KeyType.X509, quoted, key="PRIVATE_KEY.pem")
        edwards = str(key.algorithm).lower().startswith("ed")
        picked = [c for c in all_commands if ("pkeyutl" in c) == edwards]
        commands = [c.split("   #")[0].rstrip() for c in picked] or all_commands
    return ProofRequest(parsed.text, who, key, stmt, tuple(commands))
