"""``keyanchor name ...``: register names, assign names under them, hand them over.

    $ keyanchor name register example.org
    $ keyanchor name assign alice@example.org --owner 0x70997970C51812dc3A010C7d01b50e0d17dc79C8
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import typer

from cli._context import JsonOpt, NetworkOpt, open_registry, tx_summary
from cli._output import emit_json, print_kv

app = typer.Typer(
    help="Names: register, assign, reclaim, renounce, transfer, operators, block, show.\n\n"
    "Example: keyanchor name register example.org",
    no_args_is_help=True,
)

NameArg = Annotated[str, typer.Argument(help="A registry name (example.org, alice@example.org).",
                                        show_default=False)]


def check_name(text: str) -> str:
    """Normalise a name; a malformed one is an error (exit 1) naming the problem."""
    from registry.names import parse_name

    return parse_name(text).text


def check_address(text: str, hint: str) -> str:
    if not re.fullmatch(r"0x[0-9a-fA-F]{40}", text.strip()):
        raise typer.BadParameter(f"{text!r} is not an address (0x + 40 hex digits)",
                                 param_hint=hint)
    return text.strip()


def report(action: str, result: Any, as_json: bool, **extra: Any) -> None:
    data = {"action": action, **extra, **tx_summary(result)}
    if as_json:
        emit_json(data)
        return
    shown = ", ".join(f"{k} {v}" for k, v in extra.items() if v is not None and k != "name")
    print(f"{action} {extra.get('name', '')}".rstrip() + (f" ({shown})" if shown else "")
          + f"  tx {data.get('tx_hash')} block {data.get('block_number')}")


@app.command("register")
def register(name: NameArg, network: NetworkOpt = None, as_json: JsonOpt = False) -> None:
    """Register a registrable domain for your account (first come, first served).

    A registrable domain is a public suffix plus one label (example.org,
    example.co.uk, alice.github.io): never a public suffix (org, co.uk) or a
    subdomain (web1.example.org: its domain's owner assigns it), never an IP
    address. A private registry lets only its admin and registrars register.

    Example: keyanchor name register example.org
    """
    text = check_name(name)
    with open_registry(network) as reg:
        result = reg.register(text)
        report("registered", result, as_json, name=text, owner=reg.sender)


@app.command("assign")
def assign(
    child: NameArg,
    owner: Annotated[str | None, typer.Option("--owner", help="Owner of the new name "
                                              "(default: your account).")] = None,
    network: NetworkOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a name under one you own and give it to OWNER.

    Example: keyanchor name assign alice@example.org --owner 0x70997970C51812dc3A010C7d01b50e0d17dc79C8
    """
    text = check_name(child)
    if owner is not None:
        owner = check_address(owner, "--owner")
    with open_registry(network) as reg:
        owner = owner or reg.sender
        result = reg.assign(text, owner)
        report("assigned", result, as_json, name=text, owner=owner)


@app.command("reclaim")
def reclaim(name: NameArg, network: NetworkOpt = None, as_json: JsonOpt = False) -> None:
    """Take a name under yours back (unless you renounced that right).

    Example: keyanchor name reclaim alice@example.org
    """
    text = check_name(name)
    with open_registry(network) as reg:
        report("reclaimed", reg.reclaim(text), as_json, name=text)


@app.command("renounce")
def renounce(name: NameArg, network: NetworkOpt = None, as_json: JsonOpt = False) -> None:
    """Give up, for good, the right to reclaim a name under yours.

    Example: keyanchor name renounce alice@example.org
    """
    text = check_name(name)
    with open_registry(network) as reg:
        report("renounced", reg.renounce(text), as_json, name=text)


@app.command("transfer")
def transfer(
    name: NameArg,
    new_owner: Annotated[str, typer.Argument(help="Address of the new owner.",
                                             show_default=False)],
    network: NetworkOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Transfer a name to another address.

    Example: keyanchor name transfer example.org 0x70997970C51812dc3A010C7d01b50e0d17dc79C8
    """
    text = check_name(name)
    new_owner = check_address(new_owner, "NEW_OWNER")
    with open_registry(network) as reg:
        report("transferred", reg.transfer(text, new_owner), as_json, name=text, owner=new_owner)


@app.command("operator")
def operator(
    name: NameArg,
    address: Annotated[str, typer.Argument(help="Operator address.", show_default=False)],
    remove: Annotated[bool, typer.Option("--remove", help="Remove the operator.")] = False,
    network: NetworkOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Approve (or --remove) an operator that may manage the name's keys, not its ownership.

    Example: keyanchor name operator alice@example.org 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC
    """
    text = check_name(name)
    address = check_address(address, "ADDRESS")
    with open_registry(network) as reg:
        result = reg.set_operator(text, address, not remove)
        report("operator removed" if remove else "operator approved", result, as_json,
               name=text, operator=address)


@app.command("block")
def block(
    name: NameArg,
    attester: Annotated[str, typer.Argument(help="The attesting name to block.",
                                            show_default=False)],
    unblock: Annotated[bool, typer.Option("--unblock", help="Lift the block.")] = False,
    network: NetworkOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Block (or --unblock) an attester on your name: it can no longer attest the name's
    records, and its attestations on them stop counting.

    Example: keyanchor name block alice@example.org spammer.example
    """
    text, by = check_name(name), check_name(attester)
    with open_registry(network) as reg:
        result = reg.block_attester(text, by, not unblock)
        report("attester unblocked" if unblock else "attester blocked", result, as_json,
               name=text, attester=by)


def _operators(reg: Any, text: str, owner: str | None, events: list[Any]) -> list[str]:
    seen: dict[str, bool] = {}
    for ev in events:
        if ev.kind == "transferred":  # a transfer ends every approval
            seen = {}
        elif ev.kind == "operator-set":
            op = str(ev.data.get("operator"))
            seen[op] = bool(ev.data.get("approved"))
    return sorted(op for op, on in seen.items() if on and owner and reg.is_operator(text, op))


@app.command("show")
def show(name: NameArg, network: NetworkOpt = None, as_json: JsonOpt = False) -> None:
    """Show a name: owner, parent, renounced, operators and a summary of its key records.

    Example: keyanchor name show alice@example.org --json
    """
    from registry.errors import NameNotFound

    text = check_name(name)
    with open_registry(network, account=False) as reg:
        owner = reg.owner(text)
        if owner is None:
            raise NameNotFound(f"{text} is not registered", reason="KeyRegistry: name not found")
        parent = reg.parent(text)
        renounced = None
        if parent is not None:
            renounced = reg.renounced(text)
        events = reg.history(text)
        operators = _operators(reg, text, owner, events)
        records = reg.lookup(text, include_revoked=True, include_expired=True)
    summary = [
        {"index": r.index, "type": r.key_type.label, "status": r.status,
         "purposes": r.purposes.names(),
         "fingerprint": r.key.fingerprint if r.key is not None else None}
        for r in records
    ]
    data = {"name": text, "owner": owner, "parent": parent, "renounced": renounced,
            "operators": operators, "records": summary}
    if as_json:
        emit_json(data)
        return
    counts: dict[str, int] = {}
    for r in records:
        counts[r.status] = counts.get(r.status, 0) + 1
    print_kv([
        ("name", text), ("owner", owner), ("parent", parent),
        ("renounced", None if renounced is None else ("yes" if renounced else "no")),
        ("operators", operators),
        ("records", ", ".join(f"{v} {k}" for k, v in counts.items()) or "none"),
    ])
    for r in summary:
        print(f"  [{r['index']}] {r['type']:<7} {r['status']:<8} {r['fingerprint']}  "
              f"{','.join(r['purposes'])}")


def reg_node(text: str) -> bytes:
    from registry.names import namehash

    return bytes(namehash(text))
