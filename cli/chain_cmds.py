"""Top-level chain commands: deploy, prove, lookup, history, attest, devnet.

    $ keyanchor lookup alice@example.org --format authorized-keys
    $ keyanchor prove alice@example.org ~/.ssh/id_ed25519.pub --out statement.txt

Registered on the root application by :mod:`cli.main`. Output formats render
keys from their parsed, verified material only (``registry.keys`` renderers)
and hand out what the gateways would serve (:func:`registry.workflows.servable_records`).
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli._context import (
    JsonOpt,
    NetworkOpt,
    check_policy_options,
    open_reader,
    open_registry,
    parse_time,
    save_cfg,
    say,
    signed_by,
)
from cli._output import emit_json, fmt_time

if TYPE_CHECKING:  # pragma: no cover
    from registry.chain.records import KeyRecord
    from registry.keys import KeyType
    from registry.workflows import Servable

__all__ = ["attest", "deploy", "devnet", "history", "lookup", "prove"]

NameArg = Annotated[str, typer.Argument(metavar="NAME", show_default=False,
                                        help="Registry name.")]
FORMATS = ("text", "json", "authorized-keys", "known-hosts", "armor", "pem")


# --------------------------------------------------------------------------- deploy


def deploy(
    private: Annotated[bool, typer.Option(
        "--private", help="An organisation's private registry: only the admin and the "
        "registrars it names register top-level names (no suffix list).")] = False,
    admin: Annotated[str | None, typer.Option(
        "--admin", metavar="ADDRESS", help="The admin address (default: your account). It may"
        " update the suffix list, name registrars and hand the role on.")] = None,
    suffix_list: Annotated[Path | None, typer.Option(
        "--suffix-list", metavar="FILE", help="A public_suffix_list.dat to commit to (default:"
        " the one the publicsuffixlist package ships).")] = None,
    update_suffix_list: Annotated[bool, typer.Option(
        "--update-suffix-list", help="Do not deploy: as the admin, commit the suffix list "
        "(--suffix-list or the bundled one) to the existing registry.")] = False,
    network: NetworkOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Deploy the KeyRegistry contract on a network and save its address in the config.

    A public registry commits to the Merkle root of the Public Suffix List, so
    anyone registers registrable domains and nobody can take a TLD or a public
    suffix; --private makes an organisation's registry instead. On the embedded
    chain the (public) registry is deployed on first use; this prints its address.

    Example: keyanchor deploy --network devnet
    """
    from cli._context import load_cfg

    if admin is not None:
        from cli.name import check_address

        admin = check_address(admin, "--admin")
    text = None
    if suffix_list is not None:
        from cli.key import read_input

        text = read_input(suffix_list)
    cfg = load_cfg()
    net = cfg.network(network)
    saved = False
    if update_suffix_list:
        with open_registry(network, cfg=cfg) as reg:
            result = reg.set_suffix_root(suffix_list=text)
            data = {"network": net.name, "registry": reg.address,
                    "suffix_root": "0x" + reg.suffix_root().hex(),
                    "tx_hash": "0x" + result.tx_hash.hex(), "block_number": result.block_number}
        if as_json:
            emit_json(data)
        else:
            print(data["suffix_root"])
            say(f"suffix list root updated on {data['registry']} (tx {data['tx_hash']})")
        return
    if net.embedded and (private or admin or text is not None):
        from registry.errors import ConfigError

        raise ConfigError("the embedded chain's registry is public, with the bundled"
                          " suffix list and its built-in account as admin; deploy a"
                          " private or custom one on a devnet (--network)")
    with open_registry(network, need_registry=False, cfg=cfg) as reg:
        if net.embedded:
            address = reg.address
        else:
            address = reg.deploy(private=private, admin=admin, suffix_list=text)
            if net.name != "env":
                cfg.set_registry(net.name, address)
                save_cfg(cfg)
                saved = True
        chain_id = reg.chain_id
        mode = "private" if reg.private_mode() else "public"
        root = reg.suffix_root()
        owner = reg.admin()
    data = {"network": net.name, "chain_id": chain_id, "registry": address, "saved": saved,
            "mode": mode, "admin": owner, "suffix_root": "0x" + root.hex()}
    if as_json:
        emit_json(data)
        return
    print(address)
    say(f"{mode} registry, admin {owner}"
        + (f", suffix list root 0x{root.hex()}" if mode == "public" else ""))
    if saved:
        say(f"KeyRegistry deployed on {net.name} (chain {chain_id}); address saved in {cfg.path}")
    elif net.name == "env":
        say("KeyRegistry deployed; set KEYANCHOR_REGISTRY to this address to use it")
    else:
        say(f"the embedded chain's KeyRegistry (chain {chain_id}, state {net.state})")


# --------------------------------------------------------------------------- prove


def prove(
    name: NameArg,
    file: Annotated[Path, typer.Argument(metavar="FILE", show_default=False,
                                         help="The public key file to publish.")],
    out: Annotated[Path | None, typer.Option(
        "--out", metavar="FILE",
        help="Write the statement to this file (default: print it on stdout).")] = None,
    owner: Annotated[str | None, typer.Option(
        "--owner", metavar="ADDRESS",
        help="Owner address in the statement (default: the name's owner).")] = None,
    network: NetworkOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Print the statement to sign for a proof of possession, and the command that signs it.

    The statement names the chain id, the registry, the name, its owner and the
    key's commitment. Sign it with your own tool; the signature goes to
    'keyanchor key publish --proof'. Without --out the statement alone goes to
    stdout (instructions to stderr), so '> statement.txt' works.

    Example: keyanchor prove alice@example.org ~/.ssh/id_ed25519.pub --out statement.txt
    """
    from cli.key import _load
    from cli.name import check_address
    from registry.names import parse_name
    from registry.workflows import prove_request

    text = parse_name(name).text
    if owner is not None:
        owner = check_address(owner, "--owner")
    key = _load(file)
    path = str(out) if out is not None else "statement.txt"
    with open_reader(network) as reader:
        request = prove_request(reader, text, key, owner=owner, key_file=str(file),
                                statement_file=path)
    stmt = request.statement
    if out is not None:
        try:
            out.write_bytes(stmt)
        except OSError as exc:
            from registry.errors import ConfigError

            raise ConfigError(f"cannot write {out}: {exc.strerror or exc}") from None
    publish = (f"keyanchor key publish {text} {shlex.quote(str(file))}"
               f" --proof {shlex.quote(path + '.sig')}")
    if as_json:
        emit_json({**request.to_dict(), "statement_file": str(out) if out else None,
                   "signature_file": f"{path}.sig", "publish": publish})
        return
    if out is None:
        sys.stdout.write(stmt.decode("ascii"))
        say("save the statement above as statement.txt (or use --out), then sign it:")
        for c in request.commands:
            say("  " + c)
        say(f"and publish with: {publish}")
        return
    print(f"wrote the statement to {out}:\n")
    sys.stdout.write("  " + stmt.decode("ascii").rstrip().replace("\n", "\n  ") + "\n\n")
    print("sign it with:")
    for c in request.commands:
        print("  " + c)
    print(f"then: {publish}")


# --------------------------------------------------------------------------- lookup


def _render(found: Servable) -> list[str]:
    """The format's text for the servable records, from parsed material only."""
    from registry.keys import Purpose

    name, fmt = found.name, found.format
    out: list[str] = []
    if fmt in ("authorized-keys", "known-hosts"):
        from registry.keys import SSHPublicKey, render_authorized_key, render_known_hosts_line

        if fmt == "known-hosts":
            for r in found.revoked:
                if isinstance(r.key, SSHPublicKey):
                    out.append(render_known_hosts_line(r.key, [name], marker="@revoked",
                                                       comment=name) + "\n")
        for r in found.records:
            if not isinstance(r.key, SSHPublicKey):
                continue
            ca = bool(r.purposes & Purpose.CA)
            if fmt == "authorized-keys":
                out.append(render_authorized_key(r.key, expiry=r.valid_until,
                                                 cert_authority=ca, comment=name) + "\n")
            else:
                out.append(render_known_hosts_line(
                    r.key, [f"*.{name}"] if ca else [name],
                    marker="@cert-authority" if ca else None, comment=name) + "\n")
    elif fmt == "armor":
        from registry.keys import OpenPGPCertificate, render_openpgp_armor

        out += [render_openpgp_armor(r.key) for r in found.records
                if isinstance(r.key, OpenPGPCertificate)]
    elif fmt == "pem":
        from registry.keys import X509Certificate, render_pem

        out += [render_pem(r.key) for r in found.records if isinstance(r.key, X509Certificate)]
    return out


def _key_types(value: str | None) -> KeyType | None:
    from registry.errors import Error
    from registry.keys import KeyType

    if value is None:
        return None
    try:
        return KeyType.parse(value)
    except Error:
        raise typer.BadParameter(f"unknown key type {value!r} (ssh, openpgp, x509)",
                                 param_hint="--type") from None


NamesArg = Annotated[list[str], typer.Argument(
    metavar="NAME…", show_default=False,
    help="Registry names (text and json prove several together).")]


def lookup(
    names: NamesArg,
    key_type: Annotated[str | None, typer.Option(
        "--type", metavar="TYPE", help="Only this key type: ssh, openpgp or x509.")] = None,
    show_all: Annotated[bool, typer.Option(
        "--all", help="Include revoked and expired records, and records the policy"
                      " refuses.")] = False,
    fmt: Annotated[str, typer.Option(
        "--format", "-f", metavar="FORMAT",
        help="text, json, authorized-keys, known-hosts, armor or pem.")] = "text",
    no_policy: Annotated[bool, typer.Option(
        "--no-policy", help="authorized-keys, known-hosts, armor, pem: also keys the policy"
                            " refuses.")] = False,
    policy: Annotated[Path | None, typer.Option(
        "--policy", metavar="FILE", help="Judge keys with this TOML policy file.")] = None,
    profile: Annotated[str | None, typer.Option(
        "--profile", metavar="PROFILE",
        help="Judge keys with this built-in profile (default, strict, cabf-tls).")] = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = None,
) -> None:
    """Look up names' verified key records and print them in a chosen format.

    Every record is checked against the chain (its material hashes to the
    on-chain commitment) and re-rendered from parsed material. The key formats
    (authorized-keys, known-hosts, armor, pem) hand out what the gateways
    serve: active keys that pass the default profile (--policy / --profile
    judge instead; --no-policy and --all lift it). text and json show every
    active and pending record (--all: all of them; with --policy or --profile
    only the passing ones).

    With text and json, several names are proven together at one trusted
    block (json: an object keyed by name); the key formats print each name's
    lines in turn. A name not registered or not verifying fails the command.

    Example: keyanchor lookup alice@example.org --format authorized-keys
    """
    from registry.names import parse_name
    from registry.workflows import servable_records

    fmt = "json" if as_json else fmt.strip().lower()
    if fmt not in FORMATS:
        raise typer.BadParameter(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})",
                                 param_hint="--format")
    types = _key_types(key_type)
    texts = list(dict.fromkeys(parse_name(name).text for name in names))
    check_policy_options(policy, profile)
    with open_reader(network) as reader:
        if fmt in ("json", "text"):
            looked_up = reader.lookup_many(texts, key_types=types, include_revoked=show_all,
                                           include_expired=show_all, attestations=True,
                                           policy=policy, profile=profile)
        else:
            founds = [servable_records(reader, text, fmt, include_all=show_all,
                                       no_policy=no_policy, policy=policy, profile=profile)
                      for text in texts]
    if fmt == "json":
        shown = {text: [_record_json(r) for r in looked_up[text]] for text in texts}
        emit_json(shown[texts[0]] if len(texts) == 1 else shown)
        return
    if fmt == "text":
        from cli._output import print_records

        for text in texts:
            records = looked_up[text]
            if not records:
                judged = " passing the policy" if policy is not None or profile is not None else ""
                say(f"{text} has no {'' if show_all else 'active or pending '}key records{judged}"
                    + ("" if show_all else " (--all shows revoked and expired ones)"))
                continue
            print_records(text, records)
        return
    rendered = [(found, _render(found)) for found in founds]
    for found, lines in rendered:
        if not lines:
            from registry.errors import NameNotFound

            raise NameNotFound(found.explain(), reason="")
    sys.stdout.write("".join(line for _found, lines in rendered for line in lines))


def _record_json(r: KeyRecord) -> dict[str, Any]:
    data = r.to_dict()
    if r.key is not None:
        data["fingerprint"] = r.key.fingerprint
        data["algorithm"] = r.key.algorithm
    return data


# --------------------------------------------------------------------------- history


def history(name: NameArg, as_json: JsonOpt = False, network: NetworkOpt = None) -> None:
    """Every event about a name, oldest first (registration, keys, attestations, transfers).

    Example: keyanchor history alice@example.org --json
    """
    from cli._output import bold, event_details
    from registry.names import parse_name

    text = parse_name(name).text
    with open_reader(network) as reader:
        events = reader.history(text)
    if as_json:
        emit_json([ev.to_dict() for ev in events])
        return
    if not events:
        say(f"no events for {text}")
        return
    print(bold(f"history of {text}"))
    width = max(len(ev.kind) for ev in events)
    for ev in events:
        line = (f"{ev.block_number:>8}  {fmt_time(ev.timestamp) or '-':<20}  "
                f"{bold(ev.kind.ljust(width))}  {event_details(ev)}")
        print(line.rstrip())


# --------------------------------------------------------------------------- attest


def attest(
    attester: Annotated[str, typer.Argument(metavar="ATTESTER", show_default=False,
                                            help="The name you attest as (you own it).")],
    name: NameArg,
    index: Annotated[int, typer.Argument(metavar="INDEX", min=0, show_default=False,
                                         help="Record index of NAME.")],
    policy_hash: Annotated[str | None, typer.Option(
        "--policy-hash", metavar="SHA256",
        help="SHA-256 (64 hex) of the policy you checked the key under.")] = None,
    expires: Annotated[str | None, typer.Option(
        "--expires", metavar="WHEN", help="When the attestation lapses (ISO 8601 or +1y).")
    ] = None,
    withdraw: Annotated[bool, typer.Option("--withdraw",
                                           help="Withdraw your attestation instead.")] = False,
    network: NetworkOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Attest (vouch for) a key record of another name, as a name you own; or --withdraw.

    Example: keyanchor attest example.org alice@example.org 0 --expires +1y
    """
    import re

    from registry.names import parse_name

    by, text = parse_name(attester).text, parse_name(name).text
    if policy_hash is not None:
        hexed = policy_hash.strip().lower().removeprefix("0x")
        if not re.fullmatch(r"[0-9a-f]{64}", hexed):
            raise typer.BadParameter("a policy hash is 64 hex digits (SHA-256)",
                                     param_hint="--policy-hash")
        policy_hash = hexed
    until = parse_time(expires, what="--expires")
    with open_registry(network) as reg:
        if withdraw:
            result = reg.withdraw(by, text, index)
        else:
            result = reg.attest(by, text, index, policy_hash=policy_hash, expires=until)
        signer, signed = reg.sender, signed_by()
    action = "withdrawn" if withdraw else "attested"
    data = {"action": action, "attester": by, "name": text, "index": index,
            "policy_hash": "0x" + policy_hash if policy_hash else None,
            "expires": fmt_time(until), "signer": signer,
            "tx_hash": "0x" + result.tx_hash.hex(), "block_number": result.block_number}
    if as_json:
        emit_json(data)
        return
    verb = "withdrew the attestation of" if withdraw else "attested"
    print(f"{by} {verb} record {index} of {text}; tx {data['tx_hash']},"
          f" block {data['block_number']}; {signed}")


# --------------------------------------------------------------------------- devnet


def devnet(
    port: Annotated[int, typer.Option("--port", metavar="PORT", min=0, max=65535,
                                      help="TCP port on 127.0.0.1 (0: any free).")] = 8545,
    state: Annotated[Path | None, typer.Option(
        "--state", metavar="FILE", help="Chain state file (default: the embedded chain's).")
    ] = None,
) -> None:
    """Serve the embedded chain as JSON-RPC on 127.0.0.1 until Ctrl-C (state is kept).

    Prints the URL, the KeyRegistry address and the development accounts. Other
    commands reach it with: keyanchor network add devnet http://127.0.0.1:8545

    Example: keyanchor devnet --port 8545
    """
    from cli._context import load_cfg
    from registry.chain.devnet import serve

    path = state if state is not None else load_cfg().network("embedded").state
    serve(path, port=port, out=lambda line: print(line, flush=True))
