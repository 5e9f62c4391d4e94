"""``keyanchor name ...``: register names, assign names under them, hand them over.

    $ keyanchor name register example.org
    $ keyanchor name assign alice@example.org --owner 0x70997970C51812dc3A010C7d01b50e0d17dc79C8
    $ keyanchor name show alice@example.org
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli._context import JsonOpt, NetworkOpt, open_reader, open_registry, signed_by
from cli._help import App
from cli._output import emit_json, print_rows

if TYPE_CHECKING:  # pragma: no cover
    from registry.chain.records import TxResult

app = App(
    help="Names: register, assign, show, owner, transfer, operators, reclaim, renounce, block.\n\n"
    "Example: keyanchor name register example.org",
)

NameArg = Annotated[str, typer.Argument(
    metavar="NAME", show_default=False,
    help="A registry name (example.org, alice@example.org, web1.example.org).")]
AddressArg = Annotated[str, typer.Argument(metavar="ADDRESS", show_default=False,
                                           help="An address (0x and 40 hex digits).")]


def check_name(text: str) -> str:
    """Normalise a name; a malformed one is an error (exit 1) naming the problem."""
    from registry.names import parse_name

    return parse_name(text).text


def check_address(text: str, hint: str) -> str:
    from registry.chain._address import checksum_address, is_address

    if not is_address(text):
        raise typer.BadParameter(f"{text!r} is not an address (0x and 40 hex digits)",
                                 param_hint=hint)
    return checksum_address(text)


def report(action: str, result: TxResult, as_json: bool, by: str, **extra: Any) -> None:
    """One line (or a JSON object) for a name change that sent a transaction; ``by`` is
    :func:`cli._context.signed_by` (which account signed)."""
    from cli._output import jsonable

    data = {"action": action, **extra, "tx_hash": "0x" + result.tx_hash.hex(),
            "block_number": result.block_number, "gas_used": result.gas_used}
    if as_json:
        emit_json(data)
        return
    shown = ", ".join(f"{k} {jsonable(v)}" for k, v in extra.items()
                      if v is not None and k not in ("name", "signer"))
    print(f"{action} {extra.get('name', '')}".rstrip() + (f" ({shown})" if shown else "")
          + f"; tx {data['tx_hash']}, block {data['block_number']}; {by}")


@app.command("register")
def register(name: NameArg, network: NetworkOpt = None, as_json: JsonOpt = False) -> None:
    """Register a registrable domain for your account (first come, first served).

    A registrable domain is a public suffix plus one label (example.org,
    example.co.uk, alice.github.io): never a public suffix (org, co.uk) or a
    subdomain (web1.example.org: its domain's owner assigns it), never an IP
    address. A private registry lets only its admin and registrars register.

    Example: keyanchor name register example.org
    """
    from registry.workflows import register_name

    text = check_name(name)
    with open_registry(network) as reg:
        done = register_name(reg, text)
        by = signed_by()
    if as_json:
        emit_json(done)
        return
    assert done.tx is not None
    report("registered", done.tx, False, by, name=done.name, owner=done.owner)


@app.command("assign")
def assign(
    child: NameArg,
    owner: Annotated[str | None, typer.Option(
        "--owner", metavar="ADDRESS", help="Owner of the new name (default: your account).")
    ] = None,
    network: NetworkOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a name under one you own and give it to ADDRESS.

    Person names (alice@example.org) and host names (web1.example.org) are
    assigned by the owner of the name above them, never registered.

    Example: keyanchor name assign alice@example.org --owner 0x70997970C51812dc3A010C7d01b50e0d17dc79C8
    """
    from registry.workflows import assign_name

    text = check_name(child)
    if owner is not None:
        owner = check_address(owner, "--owner")
    with open_registry(network) as reg:
        done = assign_name(reg, text, owner)
        by = signed_by()
    if as_json:
        emit_json(done)
        return
    assert done.tx is not None
    report("assigned", done.tx, False, by, name=done.name, owner=done.owner,
           under=done.parent)


@app.command("reclaim")
def reclaim(
    name: NameArg,
    revoke_keys: Annotated[bool, typer.Option(
        "--revoke-keys", help="Also revoke every active or pending key record under the name"
                              " (a reclaim alone leaves them active: sshd still lets them in).")
    ] = False,
    reason: Annotated[str, typer.Option(
        "--reason", metavar="REASON", help="The revocations' reason with --revoke-keys"
                                           " (as for key revoke).")] = "affiliation-changed",
    network: NetworkOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Take a name under yours back (unless you renounced that right): when someone leaves
    or a host is retired.

    The keys its previous holder published stay active until revoked: --revoke-keys
    revokes them too.

    Example: keyanchor name reclaim alice@example.org --revoke-keys
    """
    from cli.key import parse_reason, revocation_line
    from registry.workflows import reclaim_name

    text = check_name(name)
    code = parse_reason(reason)
    with open_registry(network) as reg:
        done = reclaim_name(reg, text, revoke_keys=revoke_keys, reason=code)
        by = signed_by()
    if as_json:
        emit_json(done)
        return
    assert done.tx is not None
    report("reclaimed", done.tx, False, by, name=done.name, owner=done.owner)
    for revocation in done.revoked:
        print(revocation_line(revocation))
    if done.live:
        listed = ", ".join(str(i) for i in done.live)
        print(f"keyanchor: {done.name} still has live key records ({listed}), published by its"
              f" previous holder and still served: revoke them with 'keyanchor name reclaim"
              f" {done.name} --revoke-keys' or 'keyanchor key revoke {done.name} INDEX'",
              file=sys.stderr)


@app.command("renounce")
def renounce(name: NameArg, network: NetworkOpt = None, as_json: JsonOpt = False) -> None:
    """Give up, for good, the right to reclaim a name under yours.

    Example: keyanchor name renounce alice@example.org
    """
    text = check_name(name)
    with open_registry(network) as reg:
        report("renounced", reg.renounce(text), as_json, signed_by(), name=text, signer=reg.sender)


@app.command("transfer")
def transfer(name: NameArg, new_owner: AddressArg, network: NetworkOpt = None,
             as_json: JsonOpt = False) -> None:
    """Transfer a name to another address.

    Example: keyanchor name transfer example.org 0x70997970C51812dc3A010C7d01b50e0d17dc79C8
    """
    text = check_name(name)
    new_owner = check_address(new_owner, "ADDRESS")
    with open_registry(network) as reg:
        report("transferred", reg.transfer(text, new_owner), as_json, signed_by(), name=text,
               owner=new_owner, signer=reg.sender)


@app.command("operator")
def operator(
    name: NameArg,
    address: AddressArg,
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
               signed_by(), name=text, operator=address, signer=reg.sender)


@app.command("block")
def block(
    name: NameArg,
    attester: Annotated[str, typer.Argument(metavar="ATTESTER", show_default=False,
                                            help="The attesting name to block.")],
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
               signed_by(), name=text, attester=by, signer=reg.sender)


@app.command("show")
def show(name: NameArg, network: NetworkOpt = None, as_json: JsonOpt = False) -> None:
    """Show a name: owner, parent, renounced, operators and a summary of its key records.

    Example: keyanchor name show alice@example.org --json
    """
    from cli._output import bold
    from registry.workflows import describe_name

    text = check_name(name)
    with open_reader(network) as reader:
        info = describe_name(reader, text)
    if as_json:
        emit_json(info)
        return
    counts: dict[str, int] = {}
    for r in info.records:
        counts[r.status] = counts.get(r.status, 0) + 1
    print_rows([
        ("name", info.name), ("owner", info.owner), ("parent", info.parent),
        ("renounced", None if info.renounced is None else ("yes" if info.renounced else "no")),
        ("operators", list(info.operators)),
        ("records", ", ".join(f"{v} {k}" for k, v in counts.items()) or "none"),
    ])
    if info.records:
        print()
        print(bold("records"))
        for r in info.records:
            fpr = r.key.fingerprint if r.key is not None else "-"
            print(f"  [{r.index}] {r.key_type.label:<7} {r.status:<8} {fpr}  "
                  f"{','.join(r.purposes.names())}".rstrip())


@app.command("owner")
def owner(name: NameArg, network: NetworkOpt = None, as_json: JsonOpt = False) -> None:
    """Print the address that owns a name (exit 1 when it is not registered).

    Example: keyanchor name owner alice@example.org
    """
    from registry.errors import NameNotFound

    text = check_name(name)
    with open_reader(network) as reader:
        address = reader.owner(text)
    if address is None:
        raise NameNotFound(f"{text} is not registered", reason="KeyRegistry: name not found")
    if as_json:
        emit_json({"name": text, "owner": address})
        return
    print(address)
