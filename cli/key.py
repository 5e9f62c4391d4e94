"""``keyanchor key ...``: inspect key files; publish, revoke and rotate key records.

    $ keyanchor key inspect ~/.ssh/id_ed25519.pub
    $ keyanchor key publish alice@example.org ~/.ssh/id_ed25519.pub --proof statement.txt.sig
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli._context import JsonOpt, NetworkOpt, open_registry, parse_time, say, tx_summary
from cli._output import emit_json, fmt_time, print_kv

if TYPE_CHECKING:  # pragma: no cover
    from registry.publish import PublishTerms

app = typer.Typer(
    help="Inspect keys; publish, revoke and rotate key records.\n\n"
    "Example: keyanchor key publish alice@example.org id_ed25519.pub --proof statement.txt.sig",
    no_args_is_help=True,
)


def read_input(path: Path) -> bytes:
    """Read a key file (``-`` for stdin) with a size cap; errors become one line."""
    import sys

    from registry.errors import KeyFormatError

    limit = 1 << 20
    try:
        if str(path) == "-":
            data = sys.stdin.buffer.read(limit + 1)
        else:
            with open(path, "rb") as fh:
                data = fh.read(limit + 1)
    except FileNotFoundError as exc:
        raise KeyFormatError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise KeyFormatError(f"{path}: is a directory") from exc
    except OSError as exc:
        raise KeyFormatError(f"{path}: cannot read ({exc.strerror})") from exc
    if len(data) > limit:
        raise KeyFormatError(f"{path}: larger than 1 MiB, not a key file")
    return data


def key_summary(key: object) -> dict[str, object]:
    """The fields ``key inspect`` shows, as a JSON-ready dict."""
    from registry.keys import Key

    assert isinstance(key, Key)
    summary: dict[str, object] = {
        "type": key.key_type.label,
        "algorithm": key.algorithm,
        "bits": key.bits,
        "fingerprint": key.fingerprint,
        "identities": list(key.identities),
        "valid_from": fmt_time(key.valid_from),
        "valid_until": fmt_time(key.valid_until),
        "commitment": "0x" + key.commitment.hex(),  # type: ignore[attr-defined]
    }
    details = key.to_dict()
    summary["details"] = details
    return summary


@app.command("inspect")
def inspect(
    files: Annotated[list[Path], typer.Argument(help="Key files (- for stdin).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show type, algorithm, size, fingerprints, identities, validity and commitment.

    Reads SSH public keys and certificates, OpenPGP certificates (armored or
    binary) and X.509 certificates (PEM, DER, bundles). Private keys are refused.

    Example: keyanchor key inspect ~/.ssh/id_ed25519.pub --json
    """
    from registry.keys import load_keys

    results = []
    for path in files:
        for key in load_keys(read_input(path)):
            results.append((path, key_summary(key)))
    if as_json:
        emit_json([dict(file=str(p), **s) for p, s in results] if len(results) != 1
                  else dict(file=str(results[0][0]), **results[0][1]))
        return
    for path, s in results:
        rows = [(k, v) for k, v in s.items() if k != "details"]
        print_kv(rows, title=f"{path}")


# --------------------------------------------------------------------------- publish / revoke / rotate

#: Lints that cannot pass before a record exists (attestations come after publishing):
#: they gate lookups, not publishes.
PUBLISH_EXEMPT = frozenset({"key.attestations"})

REASONS = {
    "unspecified": "unspecified",
    "key-compromise": "key_compromise",
    "affiliation-changed": "affiliation_changed",
    "superseded": "superseded",
    "cessation": "cessation_of_operation",
    "cessation-of-operation": "cessation_of_operation",
    "privilege-withdrawn": "privilege_withdrawn",
}

NameArg = Annotated[str, typer.Argument(help="Registry name.", show_default=False)]
KeyFileArg = Annotated[Path, typer.Argument(help="Public key file: SSH key, OpenPGP "
                                            "certificate or X.509 certificate.",
                                            show_default=False)]
PurposeOpt = Annotated[str | None, typer.Option(
    "--purpose", help="Comma-separated: ssh-user, ssh-host, signing, encryption, tls-server, "
    "tls-client, ca (default by key type).")]
ProofOpt = Annotated[Path | None, typer.Option(
    "--proof", help="Signature over the statement from 'keyanchor prove' (SSHSIG, gpg "
    "detached signature or openssl signature).")]
FromOpt = Annotated[str | None, typer.Option("--valid-from", help="ISO 8601 date/time or +90d.")]
UntilOpt = Annotated[str | None, typer.Option(
    "--valid-until", help="ISO 8601 date/time or +1y (default: the key's own expiry).")]
DurableOpt = Annotated[bool, typer.Option(
    "--durable", help="Also keep the material in contract state (survives log expiry).")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Publish even if the policy fails.")]
PolicyOpt = Annotated[Path | None, typer.Option("--policy", help="TOML policy file.")]
ProfileOpt = Annotated[str, typer.Option("--profile",
                                         help="Built-in policy profile (default, strict, ...).")]


def _purposes(value: str | None) -> object:
    if value is None:
        return None
    from registry.keys import Purpose

    try:
        parsed = Purpose.parse(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--purpose") from None
    if not parsed:
        raise typer.BadParameter("give at least one purpose", param_hint="--purpose")
    return parsed


def _reason(value: str) -> object:
    from registry.chain.records import RevocationReason

    key = REASONS.get(value.strip().lower().replace("_", "-"))
    if key is None:
        raise typer.BadParameter(f"unknown reason {value!r} (one of {', '.join(REASONS)})",
                                 param_hint="--reason")
    return RevocationReason.parse(key)


def _terms(key: object, purposes: Any, start: Any, until: Any) -> PublishTerms:
    """The record the publish stores (purposes and validity defaulted once, in the library)."""
    from registry.publish import publish_terms

    return publish_terms(key, purposes=purposes, valid_from=start, valid_until=until)


def _check_policy(key: object, name: str, *, proof: bytes, statement: bytes,
                  terms: PublishTerms, policy: Path | None, profile: str, force: bool) -> None:
    """Run the policy checker on exactly the record to be stored; refuse a failing key
    (unless ``force``) with the failing lints."""
    from registry.errors import PolicyViolation
    from registry.policy import Status, check

    report = check(key, policy=policy, profile=profile, name=name, proof=proof or None,
                   statement=statement if proof else None,
                   purposes=int(terms.purposes), record=terms, at=terms.checked_at)
    blocking = [r for r in report.failures() if r.lint_id not in PUBLISH_EXEMPT]
    for r in report.results:
        if Status.WARN <= r.status and r not in blocking and r.lint_id not in PUBLISH_EXEMPT:
            say(f"warning: {r.lint_id}: {r.details}")
    if not blocking:
        return
    messages = "; ".join(f"{r.lint_id}: {r.details}" if r.details else r.lint_id
                         for r in blocking)
    if force:
        say(f"warning: policy {report.profile} fails ({messages}); publishing anyway (--force)")
        return
    raise PolicyViolation(
        f"policy {report.profile} refuses the key: {messages} (--force publishes anyway)", report
    )


def _statement_for(reg: object, name: str, key: object) -> bytes:
    from registry.errors import NameNotFound
    from registry.proofs import statement

    owner = reg.owner(name)  # type: ignore[attr-defined]
    if owner is None:
        raise NameNotFound(f"{name} is not registered", reason="KeyRegistry: name not found")
    return statement(reg.chain_id, reg.address, name, owner,  # type: ignore[attr-defined]
                     key.commitment)  # type: ignore[attr-defined]


def _active_index(reg: object, name: str, key: object) -> int | None:
    """Index of a record of ``name`` already holding ``key`` (active or pending), else None."""
    raw = reg.records(name)  # type: ignore[attr-defined]
    for index, rec in enumerate(raw):
        if bytes(rec["commitment"]) == key.commitment and int(rec["status"]) in (0, 3):  # type: ignore[attr-defined]
            return index
    return None


def resolve_record(reg: object, name: str, ref: str) -> int:
    """INDEX, a fingerprint (SSH ``SHA256:…``, OpenPGP hex, X.509 SHA-256) or a 0x commitment."""
    from registry.errors import ContractRevert

    ref = ref.strip()
    if ref.isdigit():
        return int(ref)
    records = reg.lookup(name, include_revoked=True, include_expired=True)  # type: ignore[attr-defined]
    want = ref.lower().removeprefix("sha256:").replace(":", "")
    hits = []
    for rec in records:
        fpr = (rec.key.fingerprint if rec.key is not None else "").lower()
        fpr = fpr.removeprefix("sha256:").replace(":", "")
        if want in (fpr, "0x" + rec.commitment.hex(), rec.commitment.hex()):
            hits.append(rec)
    live = [r for r in hits if r.status != "revoked"] or hits
    if not live:
        raise ContractRevert(f"{name} has no record with fingerprint {ref}",
                             reason="KeyRegistry: no such record")
    if len(live) > 1:
        raise ContractRevert(
            f"{ref} matches records {', '.join(str(r.index) for r in live)} of {name}: "
            "give the index", reason="")
    return int(live[0].index)


def _validity(valid_from: str | None, valid_until: str | None) -> tuple[object, object]:
    """Parse --valid-from / --valid-until; a window already over is a usage error."""
    from datetime import UTC, datetime

    start = parse_time(valid_from, what="--valid-from")
    until = parse_time(valid_until, what="--valid-until")
    if until is not None and until <= datetime.now(UTC):
        raise typer.BadParameter(f"{valid_until!r} is in the past", param_hint="--valid-until")
    if start is not None and until is not None and start >= until:
        raise typer.BadParameter("must be after --valid-from", param_hint="--valid-until")
    return start, until


def _read_proof(path: Path | None) -> bytes:
    return read_input(path) if path is not None else b""


#: The contract's MAX_REVOCATION.
MAX_REVOCATION = 4096

RevocationOpt = Annotated[Path | None, typer.Option(
    "--revocation", help="The key's own revocation to carry in the event, e.g. the output of "
    "'gpg --gen-revoke' (at most 4096 bytes; keyservers hand it on).")]


def _read_revocation(path: Path | None) -> bytes:
    if path is None:
        return b""
    data = read_input(path)
    if len(data) > MAX_REVOCATION:
        raise typer.BadParameter(f"{path} is {len(data)} bytes; a revocation is at most "
                                 f"{MAX_REVOCATION}", param_hint="--revocation")
    return data


def _published(action: str, name: str, key: object, result: object, as_json: bool,
               **extra: object) -> None:
    data = {"action": action, "name": name, "type": key.key_type.label,  # type: ignore[attr-defined]
            "fingerprint": key.fingerprint, **extra, **tx_summary(result)}  # type: ignore[attr-defined]
    if as_json:
        emit_json(data)
        return
    more = "".join(f", {k} {v}" for k, v in extra.items() if v is not None)
    print(f"{action} {data['type']} key {data['fingerprint']} under {name} as record "
          f"{data.get('index')}{more} (tx {data.get('tx_hash')}, block {data.get('block_number')})")


@app.command("publish")
def publish(
    name: NameArg,
    file: KeyFileArg,
    purpose: PurposeOpt = None,
    proof: ProofOpt = None,
    valid_from: FromOpt = None,
    valid_until: UntilOpt = None,
    durable: DurableOpt = False,
    force: ForceOpt = False,
    policy: PolicyOpt = None,
    profile: ProfileOpt = "default",
    network: NetworkOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Publish a key under a name, with a proof of possession.

    The policy check runs first: a failing key is refused with the failing
    lints (unless --force). A key already active under the name is reported
    and nothing is sent.

    Example: keyanchor key publish alice@example.org id_ed25519.pub --purpose ssh-user --proof statement.txt.sig
    """
    from registry.errors import KeyAlreadyActive
    from registry.keys import load_key
    from registry.names import parse_name

    text = parse_name(name).text
    purposes = _purposes(purpose)
    start, until = _validity(valid_from, valid_until)
    key = load_key(read_input(file))
    proof_bytes = _read_proof(proof)
    with open_registry(network) as reg:
        stmt = _statement_for(reg, text, key)
        existing = _active_index(reg, text, key)
        if existing is not None:
            _already(text, key, existing, as_json)
            return
        terms = _terms(key, purposes, start, until)
        _check_policy(key, text, proof=proof_bytes, statement=stmt, terms=terms,
                      policy=policy, profile=profile, force=force)
        try:
            result = reg.publish(text, key, purposes=terms.purposes, valid_from=terms.valid_from,
                                 valid_until=terms.valid_until, proof=proof_bytes,
                                 durable=durable)
        except KeyAlreadyActive:
            _already(text, key, _active_index(reg, text, key), as_json)
            return
    _published("published", text, key, result, as_json)


def _already(name: str, key: object, index: int | None, as_json: bool) -> None:
    if as_json:
        emit_json({"action": "none", "name": name, "index": index,
                   "fingerprint": key.fingerprint,  # type: ignore[attr-defined]
                   "message": "already published; nothing sent"})
        return
    print(f"{key.fingerprint} is already published under {name} as record {index};"  # type: ignore[attr-defined]
          " nothing sent")


@app.command("revoke")
def revoke(
    name: NameArg,
    record: Annotated[str, typer.Argument(help="Record index or key fingerprint.",
                                          show_default=False)],
    reason: Annotated[str, typer.Option(
        "--reason", help="key-compromise, superseded, cessation, affiliation-changed, "
        "privilege-withdrawn or unspecified.")] = "unspecified",
    revocation: RevocationOpt = None,
    network: NetworkOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Revoke a key record, permanently (the key can never come back under the name).

    Example: keyanchor key revoke alice@example.org 0 --reason key-compromise --revocation revoke.asc
    """
    from registry.names import parse_name

    text = parse_name(name).text
    code = _reason(reason)
    revocation_bytes = _read_revocation(revocation)
    with open_registry(network) as reg:
        index = resolve_record(reg, text, record)
        result = reg.revoke(text, index, code, revocation=revocation_bytes)
    data = {"action": "revoked", "name": text, "index": index,
            "reason": code.label, **tx_summary(result)}  # type: ignore[attr-defined]
    data["index"] = index
    if as_json:
        emit_json(data)
        return
    print(f"revoked record {index} of {text} ({data['reason']}) "
          f"(tx {data.get('tx_hash')}, block {data.get('block_number')})")


@app.command("rotate")
def rotate(
    name: NameArg,
    old: Annotated[str, typer.Argument(help="Record index or fingerprint of the old key.",
                                       show_default=False)],
    new_file: Annotated[Path, typer.Argument(help="The new key file.", show_default=False)],
    proof: ProofOpt = None,
    purpose: PurposeOpt = None,
    reason: Annotated[str, typer.Option("--reason", help="Why the old key goes.")] = "superseded",
    revocation: RevocationOpt = None,
    valid_from: FromOpt = None,
    valid_until: UntilOpt = None,
    durable: DurableOpt = False,
    force: ForceOpt = False,
    policy: PolicyOpt = None,
    profile: ProfileOpt = "default",
    network: NetworkOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Replace a key: revoke the old record and publish the new key in one transaction.

    Purposes default to the old record's; the reason defaults to superseded.

    Example: keyanchor key rotate alice@example.org 0 id_ed25519_new.pub --proof statement.txt.sig
    """
    from registry.keys import load_key
    from registry.names import parse_name

    text = parse_name(name).text
    purposes = _purposes(purpose)
    code = _reason(reason)
    start, until = _validity(valid_from, valid_until)
    key = load_key(read_input(new_file))
    proof_bytes = _read_proof(proof)
    revocation_bytes = _read_revocation(revocation)
    with open_registry(network) as reg:
        index = resolve_record(reg, text, old)
        stmt = _statement_for(reg, text, key)
        existing = _active_index(reg, text, key)
        if existing is not None:
            _already(text, key, existing, as_json)
            return
        if purposes is None:
            from registry.keys import Purpose

            raw = reg.records(text)
            if 0 <= index < len(raw):
                purposes = Purpose(raw[index]["purposes"])
        terms = _terms(key, purposes, start, until)
        _check_policy(key, text, proof=proof_bytes, statement=stmt, terms=terms,
                      policy=policy, profile=profile, force=force)
        result = reg.rotate(text, index, key, purposes=terms.purposes,
                            valid_from=terms.valid_from, valid_until=terms.valid_until,
                            proof=proof_bytes, durable=durable, reason=code,
                            revocation=revocation_bytes)
    _published("rotated", text, key, result, as_json, replaces=index,
               reason=code.label)  # type: ignore[attr-defined]
