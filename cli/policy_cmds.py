"""``keyanchor check`` and ``keyanchor lints``: the policy checker on demand.

    $ keyanchor check ~/.ssh/id_ed25519.pub --name alice@example.org
    $ keyanchor check alice@example.org --profile strict --json
    $ keyanchor lints --markdown > docs/LINTS.md
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli._context import NetworkOpt, check_policy_options, parse_time

if TYPE_CHECKING:  # pragma: no cover
    from registry.policy.report import Report

__all__ = ["check", "lints"]


def _emit_reports(reports: list[tuple[str, Report]], as_json: bool, verbose: bool) -> bool:
    ok = all(r.passed for _, r in reports)
    if as_json:
        docs = [dict(subject=subject, **r.to_dict()) for subject, r in reports]
        sys.stdout.write(json.dumps(docs[0] if len(docs) == 1 else docs, indent=2) + "\n")
    else:
        for n, (subject, report) in enumerate(reports):
            text = "\n".join(line.rstrip() for line in report.to_text(verbose=verbose)
                             .rstrip("\n").split("\n"))
            sys.stdout.write(("\n" if n else "") + f"== {subject}\n{text}\n")
    return ok


def check(
    target: Annotated[str, typer.Argument(metavar="FILE|NAME", show_default=False,
                                          help="A key file, or a registry name to check its"
                                               " published keys.")],
    policy: Annotated[Path | None, typer.Option("--policy", metavar="FILE",
                                                help="TOML policy file.")] = None,
    profile: Annotated[str, typer.Option("--profile", metavar="PROFILE",
                                         help="Built-in profile: default, strict,"
                                              " cabf-tls.")] = "default",
    at: Annotated[str | None, typer.Option("--at", metavar="WHEN", help="Evaluation time"
                                           " (ISO 8601 or +90d); default now.")] = None,
    name: Annotated[str | None, typer.Option("--name", metavar="NAME", help="Registry name the"
                                             " key file is for (name-binding lints).")] = None,
    proof: Annotated[Path | None, typer.Option("--proof", metavar="FILE", help="Proof of"
                                               " possession file for a key file.")] = None,
    statement: Annotated[Path | None, typer.Option("--statement", metavar="FILE", help="The"
                                                   " statement the proof signs (from"
                                                   " 'keyanchor prove').")] = None,
    all_records: Annotated[bool, typer.Option("--all", help="For a name: also revoked and"
                                              " expired records.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="List passing and NA lints too.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON report.")] = False,
    network: NetworkOpt = None,
) -> None:
    """Check keys against the policy; exit 0 if all pass, 1 if any fails.

    A FILE is checked as given (add --name, --proof and --statement for the
    binding and proof lints); a NAME has each of its published records checked
    with its on-chain proof.

    Example: keyanchor check alice@example.org --profile strict
    """
    from cli.key import read_input

    when = parse_time(at, what="--at")
    check_policy_options(policy, profile)
    reports: list[tuple[str, Report]] = []
    path = Path(target)
    if path.exists() or target == "-":
        from registry import policy as pol
        from registry.keys import load_key_files

        proof_bytes = read_input(proof) if proof else None
        stmt = read_input(statement) if statement else None
        for _file, key in load_key_files([target]):
            report = pol.check(key, policy=policy, profile=profile, at=when, name=name,
                               proof=proof_bytes, statement=stmt)
            reports.append((f"{target} ({key.fingerprint})", report))
    elif "/" in target or target.startswith("~"):  # a path (no name holds "/"), not a name
        from registry.errors import ConfigError

        raise ConfigError(f"{target}: no such file")
    else:
        from cli._context import open_reader
        from registry.names import parse_name

        text = parse_name(target).text
        with open_reader(network) as reader:
            records = reader.lookup(text, include_revoked=all_records,
                                    include_expired=all_records, attestations=True)
            squat = reader.squatted_by(text) or False if records else False
            for rec in records:
                report = reader.check_record(rec, policy=policy, profile=profile, at=when,
                                             squatted_by=squat)
                reports.append((f"{rec.name} record {rec.index} ({rec.status})", report))
        if not reports:
            sys.stderr.write(f"keyanchor: {target}: no key records to check\n")
    if not _emit_reports(reports, as_json, verbose):
        raise typer.Exit(1)


def lints(
    key_type: Annotated[str | None, typer.Option("--type", metavar="TYPE", help="Only lints for"
                                                 " ssh, openpgp or x509.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print docs/LINTS.md.")] = False,
) -> None:
    """List every lint: id, key types, worst status, source, citation and dates.

    Example: keyanchor lints --type ssh
    """
    from registry import policy as pol

    if markdown:
        sys.stdout.write(pol.lints_markdown())
        return
    items = pol.lints(key_type)
    if as_json:
        out = [{
            "id": lt.id, "description": lt.description, "key_types": sorted(lt.key_types),
            "source": lt.source.value, "citation": lt.citation,
            "max_severity": lt.max_severity.label,
            "effective": lt.effective.isoformat() if lt.effective else None,
            "ineffective": lt.ineffective.isoformat() if lt.ineffective else None,
            "time_base": lt.time_base.value, "params": dict(lt.params),
            "default_enabled": lt.default_enabled,
        } for lt in items]
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        return
    width = max((len(lt.id) for lt in items), default=10)
    for lt in items:
        sys.stdout.write(f"{lt.id:<{width}}  {lt.max_severity.label:<5}  {lt.description}\n")
