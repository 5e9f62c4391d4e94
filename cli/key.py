"""``keyanchor key ...``: inspect key files; publish, revoke and rotate key records.

    $ keyanchor key inspect ~/.ssh/id_ed25519.pub
    $ keyanchor key publish alice@example.org ~/.ssh/id_ed25519.pub --proof statement.txt.sig

The work is in :mod:`registry.workflows` (publish_key, rotate_key, revoke_key):
these commands parse, call it once and render what it returns.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli._context import JsonOpt, NetworkOpt, open_registry, parse_time, say, signed_by
from cli._help import App
from cli._output import emit_json, fmt_time, print_rows

if TYPE_CHECKING:  # pragma: no cover
    from datetime import datetime

    from registry.chain.records import RevocationReason
    from registry.keys import Key, Purpose
    from registry.workflows import Publication, Revocation

app = App(
    help="Inspect keys; publish, revoke and rotate key records.\n\n"
    "Example: keyanchor key publish alice@example.org id_ed25519.pub --proof statement.txt.sig",
)

REASONS = {
    "unspecified": "unspecified",
    "key-compromise": "key_compromise",
    "affiliation-changed": "affiliation_changed",
    "superseded": "superseded",
    "cessation": "cessation_of_operation",
    "cessation-of-operation": "cessation_of_operation",
    "privilege-withdrawn": "privilege_withdrawn",
}
#: The contract's MAX_REVOCATION.
MAX_REVOCATION = 4096

NameArg = Annotated[str, typer.Argument(metavar="NAME", show_default=False,
                                        help="Registry name.")]
KeyFileArg = Annotated[Path, typer.Argument(
    metavar="FILE", show_default=False,
    help="Public key file: SSH key, OpenPGP certificate or X.509 certificate (- for stdin).")]
RecordArg = Annotated[str, typer.Argument(
    metavar="RECORD", show_default=False,
    help="Record index, key fingerprint or 0x commitment.")]
PurposeOpt = Annotated[str | None, typer.Option(
    "--purpose", metavar="PURPOSES",
    help="Comma-separated: ssh-user, ssh-host, signing, encryption, tls-server, tls-client, ca"
         " (default by key type: ssh-user; signing,encryption; tls-server).")]
ProofOpt = Annotated[Path | None, typer.Option(
    "--proof", metavar="FILE",
    help="Signature over the statement from 'keyanchor prove' (SSHSIG, gpg detached signature"
         " or openssl signature).")]
NoProofOpt = Annotated[bool, typer.Option(
    "--no-proof", help="Publish without a proof of possession (the README's promise is that"
                       " keys carry one).")]
FromOpt = Annotated[str | None, typer.Option("--valid-from", metavar="WHEN",
                                             help="ISO 8601 date/time or +90d.")]
UntilOpt = Annotated[str | None, typer.Option(
    "--valid-until", metavar="WHEN", help="ISO 8601 date/time or +1y (default: the key's own"
                                          " expiry).")]
DurableOpt = Annotated[bool, typer.Option(
    "--durable", help="Also keep the material in contract state (survives log expiry).")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Publish even if the policy fails.")]
PolicyOpt = Annotated[Path | None, typer.Option("--policy", metavar="FILE",
                                                help="TOML policy file.")]
ProfileOpt = Annotated[str, typer.Option("--profile", metavar="PROFILE",
                                         help="Built-in policy profile (default, strict,"
                                              " cabf-tls).")]
ReasonOpt = Annotated[str, typer.Option(
    "--reason", metavar="REASON", help="key-compromise, superseded, cessation,"
                                       " affiliation-changed, privilege-withdrawn or"
                                       " unspecified.")]
RevocationOpt = Annotated[Path | None, typer.Option(
    "--revocation", metavar="FILE",
    help="An OpenPGP key's own revocation ('gpg --gen-revoke' output), checked against the"
         " published certificate and carried in the event (keyservers hand it on).")]


def read_input(path: Path) -> bytes:
    """A file's bytes (``-``: stdin), at most 1 MiB; errors name the file."""
    from registry.keys import read_key_file

    return read_key_file(path, what="file")


def _load(path: Path) -> Key:
    from registry.keys import load_key_file

    return load_key_file(path)


@app.command("inspect")
def inspect(
    files: Annotated[list[Path], typer.Argument(metavar="FILE…", show_default=False,
                                                help="Key files (- for stdin).")],
    as_json: JsonOpt = False,
) -> None:
    """Show type, algorithm, size, fingerprints, identities, validity and commitment.

    Reads SSH public keys and certificates, OpenPGP certificates (armored or
    binary) and X.509 certificates (PEM, DER, bundles). Private keys are refused.

    Example: keyanchor key inspect ~/.ssh/id_ed25519.pub --json
    """
    from registry.keys import commitment, load_key_files

    results = []
    for path, key in load_key_files([str(f) for f in files]):
        summary: dict[str, Any] = {
            "file": path, "key_type": key.key_type.label, "algorithm": key.algorithm,
            "bits": key.bits, "fingerprint": key.fingerprint,
            "identities": list(key.identities), "valid_from": fmt_time(key.valid_from),
            "valid_until": fmt_time(key.valid_until),
            "commitment": "0x" + commitment(key.key_type, key.material).hex(),
        }
        results.append((summary, key.to_dict()))
    if as_json:
        out = [dict(s, details=d) for s, d in results]
        emit_json(out[0] if len(out) == 1 else out)
        return
    for n, (summary, _details) in enumerate(results):
        if n:
            print()
        print_rows([(k.replace("_", " "), v) for k, v in summary.items() if k != "file"],
                   title=str(summary["file"]))


# --------------------------------------------------------------------------- publish / revoke / rotate


def _purposes(value: str | None) -> Purpose | None:
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


def parse_reason(value: str) -> RevocationReason:
    from registry.chain.records import RevocationReason

    key = REASONS.get(value.strip().lower().replace("_", "-"))
    if key is None:
        raise typer.BadParameter(f"unknown reason {value!r} (one of {', '.join(REASONS)})",
                                 param_hint="--reason")
    return RevocationReason.parse(key)


def _validity(valid_from: str | None, valid_until: str | None
              ) -> tuple[datetime | None, datetime | None]:
    """Parse --valid-from / --valid-until; a window already over is a usage error."""
    from datetime import UTC, datetime

    start = parse_time(valid_from, what="--valid-from")
    until = parse_time(valid_until, what="--valid-until")
    if until is not None and until <= datetime.now(UTC):
        raise typer.BadParameter(f"{valid_until!r} is in the past", param_hint="--valid-until")
    if start is not None and until is not None and start >= until:
        raise typer.BadParameter("must be after --valid-from", param_hint="--valid-until")
    return start, until


def _read_revocation(path: Path | None) -> bytes:
    if path is None:
        return b""
    data = read_input(path)
    if len(data) > 64 * 1024:
        raise typer.BadParameter(f"{path} is {len(data)} bytes: not a revocation",
                                 param_hint="--revocation")
    return data


def _rendered(done: Publication, as_json: bool, by: str) -> None:
    for warning in done.warnings:
        say(f"keyanchor: warning: {warning}")
    if as_json:
        emit_json(done)
        return
    key = done.key
    if done.action == "unchanged":
        print(f"{key.fingerprint} is already published under {done.name} as record {done.index}"
              f" ({done.status}); nothing sent")
        return
    more = f", replacing record {done.replaces} ({done.reason.label})" \
        if done.replaces is not None and done.reason is not None else ""
    tx = done.tx
    assert tx is not None
    print(f"{done.action} {key.key_type.label} key {key.fingerprint} under {done.name} as record"
          f" {done.index} ({', '.join(done.purposes.names())}{more});"
          f" tx 0x{tx.tx_hash.hex()}, block {tx.block_number}; {by}")


@app.command("publish")
def publish(
    name: NameArg,
    file: KeyFileArg,
    purpose: PurposeOpt = None,
    proof: ProofOpt = None,
    no_proof: NoProofOpt = False,
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

    Make the proof with 'keyanchor prove NAME FILE' and the key's own tool. The
    policy then judges the record exactly as it will be stored (purposes and
    validity after their defaults): a failing key is refused with the failing
    lints (unless --force). A key already live under the name is reported and
    nothing is sent.

    Example: keyanchor key publish alice@example.org id_ed25519.pub --purpose ssh-user --proof statement.txt.sig
    """
    from registry.names import parse_name
    from registry.workflows import publish_key

    if proof is not None and no_proof:
        raise typer.BadParameter("give --proof or --no-proof, not both", param_hint="--no-proof")
    text = parse_name(name).text
    purposes = _purposes(purpose)
    start, until = _validity(valid_from, valid_until)
    key = _load(file)
    proof_bytes = read_input(proof) if proof is not None else b""
    with open_registry(network) as reg:
        done = _call(publish_key, reg, text, key, purposes=purposes, valid_from=start,
                     valid_until=until, proof=proof_bytes, no_proof=no_proof,
                     policy=policy, profile=profile, force=force, durable=durable,
                     source=str(file))
        by = signed_by()
    _rendered(done, as_json, by)


def _call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a workflow; its ValueErrors (bad purposes or validity) are usage errors."""
    from registry.errors import Error

    try:
        return fn(*args, **kwargs)
    except Error:
        raise
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


@app.command("revoke")
def revoke(
    name: NameArg,
    record: RecordArg,
    reason: ReasonOpt = "unspecified",
    revocation: RevocationOpt = None,
    network: NetworkOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Revoke a key record, permanently (the key can never come back under the name).

    Example: keyanchor key revoke alice@example.org 0 --reason key-compromise --revocation revoke.asc
    """
    from registry.names import parse_name
    from registry.workflows import revoke_key

    text = parse_name(name).text
    code = parse_reason(reason)
    revocation_bytes = _read_revocation(revocation)
    with open_registry(network) as reg:
        done = revoke_key(reg, text, record, reason=code, revocation=revocation_bytes)
        by = signed_by()
    if as_json:
        emit_json(done)
        return
    print(f"{revocation_line(done)}; {by}")


def revocation_line(done: Revocation) -> str:
    """``revoked record N of NAME (FINGERPRINT, REASON); tx 0x…, block B`` (key revoke, name reclaim)."""
    assert done.tx is not None
    carried = ", carrying its OpenPGP revocation" if done.revocation else ""
    return (f"revoked record {done.index} of {done.name} ({done.fingerprint},"
            f" {done.reason.label}{carried}); tx 0x{done.tx.tx_hash.hex()},"
            f" block {done.tx.block_number}")


@app.command("rotate")
def rotate(
    name: NameArg,
    old: RecordArg,
    new_file: Annotated[Path, typer.Argument(metavar="FILE", show_default=False,
                                             help="The new key file.")],
    proof: ProofOpt = None,
    no_proof: NoProofOpt = False,
    purpose: PurposeOpt = None,
    reason: ReasonOpt = "superseded",
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

    The new key needs a proof as for publish; purposes default to the old
    record's; the reason defaults to superseded.

    Example: keyanchor key rotate alice@example.org 0 id_ed25519_new.pub --proof statement.txt.sig
    """
    from registry.names import parse_name
    from registry.workflows import rotate_key

    if proof is not None and no_proof:
        raise typer.BadParameter("give --proof or --no-proof, not both", param_hint="--no-proof")
    text = parse_name(name).text
    purposes = _purposes(purpose)
    code = parse_reason(reason)
    start, until = _validity(valid_from, valid_until)
    key = _load(new_file)
    proof_bytes = read_input(proof) if proof is not None else b""
    revocation_bytes = _read_revocation(revocation)
    with open_registry(network) as reg:
        done = _call(rotate_key, reg, text, old, key, reason=code, revocation=revocation_bytes,
                     purposes=purposes, valid_from=start, valid_until=until, proof=proof_bytes,
                     no_proof=no_proof, policy=policy, profile=profile, force=force,
                     durable=durable, source=str(new_file))
        by = signed_by()
    _rendered(done, as_json, by)
