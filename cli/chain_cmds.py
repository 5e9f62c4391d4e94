"""Top-level chain commands: deploy, prove, lookup, history, attest, devnet.

    $ keyanchor lookup alice@example.org --format authorized-keys
    $ keyanchor prove alice@example.org ~/.ssh/id_ed25519.pub --out statement.txt

Registered on the root application by :mod:`cli.main`. Output formats render
keys from their parsed, verified material only (``registry.keys`` renderers).
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from cli._context import JsonOpt, NetworkOpt, open_registry, parse_time, say, tx_summary
from cli._output import emit_json, fmt_time

__all__ = ["attest", "deploy", "devnet", "history", "lookup", "prove"]

NameArg = Annotated[str, typer.Argument(help="Registry name.", show_default=False)]
FORMATS = ("text", "json", "authorized-keys", "known-hosts", "armor", "pem")


# --------------------------------------------------------------------------- deploy


def deploy(
    private: Annotated[bool, typer.Option(
        "--private", help="An organisation's private registry: only the admin and the "
        "registrars it names register top-level names (no suffix list).")] = False,
    admin: Annotated[str | None, typer.Option(
        "--admin", help="The admin address (default: your account). It may update the "
        "suffix list, name registrars and hand the role on.")] = None,
    suffix_list: Annotated[Path | None, typer.Option(
        "--suffix-list", help="A public_suffix_list.dat to commit to (default: the one the "
        "publicsuffixlist package ships).")] = None,
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
    from registry.config import save_config

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
                    "suffix_root": "0x" + reg.suffix_root().hex(), **tx_summary(result)}
        if as_json:
            emit_json(data)
        else:
            print(data["suffix_root"])
            say(f"suffix list root updated on {data['registry']} (tx {data.get('tx_hash')})")
        return
    with open_registry(network, need_registry=False, cfg=cfg) as reg:
        if net.embedded:
            if private or admin or text is not None:
                from registry.errors import ConfigError

                raise ConfigError("the embedded chain's registry is public, with the bundled"
                                  " suffix list and development account 0 as admin; deploy a"
                                  " private or custom one on a devnet (--network)")
            address = reg.address
        else:
            address = reg.deploy(private=private, admin=admin, suffix_list=text)
            if net.name != "env":
                cfg.set_registry(net.name, address)
                save_config(cfg)
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
        + (f", suffix list root 0x{root.hex()[:16]}…" if mode == "public" else ""))
    if saved:
        say(f"KeyRegistry deployed on {net.name} (chain {chain_id}); address saved in {cfg.path}")
    elif net.name == "env":
        say("KeyRegistry deployed; set KEYANCHOR_REGISTRY to this address to use it")
    else:
        say(f"the embedded chain's KeyRegistry (chain {chain_id}, state {net.state})")


# --------------------------------------------------------------------------- prove


def _signing_commands(key: Any, file: Path, statement_path: str) -> list[str]:
    from registry.keys import KeyType
    from registry.proofs import proof_commands

    quoted = shlex.quote(statement_path)
    if key.key_type is KeyType.SSH:
        private = str(file)[:-4] if str(file).endswith(".pub") else "PRIVATE_KEY"
        return proof_commands(KeyType.SSH, quoted, key=shlex.quote(private))
    if key.key_type is KeyType.OPENPGP:
        return proof_commands(KeyType.OPENPGP, quoted, key=key.fingerprint)
    commands = proof_commands(KeyType.X509, quoted, key="PRIVATE_KEY.pem")
    edwards = str(key.algorithm).lower().startswith("ed")
    picked = [c for c in commands if ("pkeyutl" in c) == edwards]
    return [c.split("   #")[0].rstrip() for c in picked] or commands


def prove(
    name: NameArg,
    file: Annotated[Path, typer.Argument(help="The public key file to publish.",
                                         show_default=False)],
    out: Annotated[Path | None, typer.Option(
        "--out", help="Write the statement to this file (default: print it on stdout).")] = None,
    owner: Annotated[str | None, typer.Option(
        "--owner", help="Owner address in the statement (default: the name's owner).")] = None,
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
    from cli.key import read_input
    from cli.name import check_address
    from registry.errors import NameNotFound
    from registry.keys import load_key
    from registry.names import parse_name
    from registry.proofs import statement

    text = parse_name(name).text
    if owner is not None:
        owner = check_address(owner, "--owner")
    key = load_key(read_input(file))
    with open_registry(network, account=False) as reg:
        if owner is None:
            owner = reg.owner(text)
            if owner is None:
                raise NameNotFound(f"{text} is not registered (or give --owner)",
                                   reason="KeyRegistry: name not found")
        stmt = statement(reg.chain_id, reg.address, text, owner, key.commitment)
    path = str(out) if out is not None else "statement.txt"
    commands = _signing_commands(key, file, path)
    if out is not None:
        try:
            out.write_bytes(stmt)
        except OSError as exc:
            from registry.errors import ConfigError

            raise ConfigError(f"cannot write {out}: {exc.strerror or exc}") from None
    data = {"name": text, "owner": owner, "type": key.key_type.label,
            "fingerprint": key.fingerprint, "commitment": "0x" + key.commitment.hex(),
            "statement": stmt.decode("ascii"), "statement_file": str(out) if out else None,
            "signature_file": f"{path}.sig", "commands": commands}
    if as_json:
        emit_json(data)
        return
    if out is None:
        sys.stdout.write(stmt.decode("ascii"))
        say("save the statement above as statement.txt (or use --out), then sign it:")
        for c in commands:
            say("  " + c)
        say(f"and publish with: keyanchor key publish {text} {shlex.quote(str(file))} "
            "--proof statement.txt.sig")
        return
    print(f"wrote the statement to {out}:\n")
    sys.stdout.write("  " + stmt.decode("ascii").replace("\n", "\n  ").rstrip() + "\n\n")
    print("sign it with:")
    for c in commands:
        print("  " + c)
    print(f"then: keyanchor key publish {text} {shlex.quote(str(file))} "
          f"--proof {shlex.quote(path + '.sig')}")


# --------------------------------------------------------------------------- lookup


def _render(records: list[Any], fmt: str, name: str) -> list[str]:
    """Render records in an output format, from parsed material only."""
    from registry.keys import (
        KeyType,
        Purpose,
        render_authorized_key,
        render_known_hosts_line,
        render_openpgp_armor,
        render_pem,
    )

    out: list[str] = []
    for r in records:
        key = r.key
        if key is None:
            continue
        if fmt == "authorized-keys" and r.key_type is KeyType.SSH and r.status == "active":
            if not (r.purposes & (Purpose.SSH_USER | Purpose.CA)):
                continue
            ca = bool(r.purposes & Purpose.CA) and key.certificate is None
            out.append(render_authorized_key(key, expiry=r.valid_until, cert_authority=ca,
                                             comment=name) + "\n")
        elif fmt == "known-hosts" and r.key_type is KeyType.SSH and key.certificate is None:
            if not (r.purposes & (Purpose.SSH_HOST | Purpose.CA)):
                continue
            if r.status == "revoked":
                marker: str | None = "@revoked"
            elif r.status != "active":
                continue
            else:
                marker = "@cert-authority" if r.purposes & Purpose.CA else None
            hosts = [f"*.{name}"] if marker == "@cert-authority" else [name]
            out.append(render_known_hosts_line(key, hosts, marker=marker, comment=name) + "\n")
        elif fmt == "armor" and r.key_type is KeyType.OPENPGP:
            out.append(render_openpgp_armor(key))
        elif fmt == "pem" and r.key_type is KeyType.X509:
            out.append(render_pem(key))
    return out


_FORMAT_TYPES = {"authorized-keys": "ssh", "known-hosts": "ssh", "armor": "openpgp",
                 "pem": "x509"}


def lookup(
    name: NameArg,
    key_type: Annotated[str | None, typer.Option(
        "--type", help="Only this key type: ssh, openpgp or x509.")] = None,
    show_all: Annotated[bool, typer.Option(
        "--all", help="Include revoked and expired records.")] = False,
    fmt: Annotated[str, typer.Option(
        "--format", "-f", help="text, json, authorized-keys, known-hosts, armor or pem.")] = "text",
    policy: Annotated[Path | None, typer.Option(
        "--policy", help="Only records whose key passes this TOML policy file.")] = None,
    profile: Annotated[str | None, typer.Option(
        "--profile", help="Only records passing this built-in profile (default, strict, cabf-tls).")] = None,
    as_json: JsonOpt = False,
    network: NetworkOpt = None,
) -> None:
    """Look up a name's verified key records and print them in a chosen format.

    Every record is checked against the chain (its material hashes to the
    on-chain commitment) and re-rendered from parsed material. With --policy
    or --profile only keys that pass the policy checker are shown.

    Example: keyanchor lookup alice@example.org --format authorized-keys
    """
    from registry.errors import Error
    from registry.keys import KeyType
    from registry.names import parse_name

    fmt = "json" if as_json else fmt.strip().lower()
    if fmt not in FORMATS:
        raise typer.BadParameter(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})",
                                 param_hint="--format")
    types = None
    if key_type is not None:
        try:
            types = KeyType.parse(key_type)
        except Error:
            raise typer.BadParameter(f"unknown key type {key_type!r} (ssh, openpgp, x509)",
                                     param_hint="--type") from None
    text = parse_name(name).text
    with open_registry(network, account=False) as reg:
        if policy is not None and not policy.is_file():
            from registry.errors import ConfigError

            raise ConfigError(f"{policy}: no such policy file")
        records = reg.lookup(text, key_types=types, include_revoked=show_all,
                             include_expired=show_all, attestations=fmt in ("json", "text"),
                             policy=policy, profile=profile)
    if fmt == "json":
        emit_json([_record_json(r) for r in records])
        return
    if fmt == "text":
        _print_records(text, records)
        return
    lines = _render(records, fmt, text)
    if not lines:
        from registry.errors import NameNotFound

        wanted = _FORMAT_TYPES[fmt]
        raise NameNotFound(f"{text} has no {'' if show_all else 'active '}{wanted} keys to "
                           f"render as {fmt}", reason="")
    sys.stdout.write("".join(lines))


def _record_json(r: Any) -> dict[str, Any]:
    data = r.to_dict()
    if r.key is not None:
        data["fingerprint"] = r.key.fingerprint
        data["algorithm"] = r.key.algorithm
    return data


def _print_records(name: str, records: list[Any]) -> None:
    from cli._output import print_kv

    if not records:
        say(f"{name} has no key records to show (--all includes revoked and expired ones)")
        return
    for r in records:
        key = r.key
        rows: list[tuple[str, Any]] = [
            ("type", r.key_type.label), ("status", r.status),
            ("purposes", ", ".join(r.purposes.names())),
            ("algorithm", f"{key.algorithm} ({key.bits} bits)" if key else None),
            ("fingerprint", key.fingerprint if key else None),
            ("identities", list(key.identities) if key else None),
            ("valid from", fmt_time(r.valid_from)), ("valid until", fmt_time(r.valid_until)),
            ("published", fmt_time(r.published_at)),
        ]
        if r.status == "revoked":
            reason = r.reason.label if hasattr(r.reason, "label") else r.reason
            rows.append(("revoked", f"{fmt_time(r.revoked_at)} ({reason})"))
        if r.attestations:
            rows.append(("attested by", [str(a.attester) for a in r.attestations]))
        print_kv(rows, title=f"{name} [{r.index}]")


# --------------------------------------------------------------------------- history


def _event_summary(ev: Any) -> str:
    d = ev.data
    parts = []
    for key in ("owner", "previous", "operator", "approved", "index", "old_index", "new_index",
                "key_type", "purposes", "reason", "attester", "expires"):
        if key in d and d[key] is not None:
            value = d[key]
            if hasattr(value, "label"):
                value = value.label
            elif hasattr(value, "names"):
                value = ",".join(value.names())
            elif isinstance(value, bytes):
                value = "0x" + value.hex()
            elif hasattr(value, "strftime"):
                value = fmt_time(value)
            parts.append(f"{key}={value}")
    return " ".join(parts)


def history(name: NameArg, as_json: JsonOpt = False, network: NetworkOpt = None) -> None:
    """Every event about a name, oldest first (registration, keys, attestations, transfers).

    Example: keyanchor history alice@example.org --json
    """
    from registry.names import parse_name

    text = parse_name(name).text
    with open_registry(network, account=False) as reg:
        events = reg.history(text)
    if as_json:
        emit_json([ev.to_dict() for ev in events])
        return
    if not events:
        say(f"no events for {text}")
        return
    from rich.console import Console
    from rich.text import Text

    console = Console(soft_wrap=True, highlight=False)
    console.print(Text(f"history of {text}", style="bold"))
    for ev in events:
        line = Text(f"{ev.block_number:>8}  {fmt_time(ev.timestamp) or '-':<20}  ")
        line.append(f"{ev.kind:<14}", style="bold")
        line.append("  " + _event_summary(ev))
        console.print(line)


# --------------------------------------------------------------------------- attest


def attest(
    attester: Annotated[str, typer.Argument(help="The name you attest as (you own it).",
                                            show_default=False)],
    name: NameArg,
    index: Annotated[int, typer.Argument(help="Record index of NAME.", min=0,
                                         show_default=False)],
    policy_hash: Annotated[str | None, typer.Option(
        "--policy-hash", help="SHA-256 (64 hex) of the policy you checked the key under.")] = None,
    expires: Annotated[str | None, typer.Option(
        "--expires", help="When the attestation lapses (ISO 8601 or +1y).")] = None,
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
    action = "withdrawn" if withdraw else "attested"
    data = {"action": action, "attester": by, "name": text, "index": index,
            "policy_hash": policy_hash, "expires": fmt_time(until), **tx_summary(result)}
    if as_json:
        emit_json(data)
        return
    verb = "withdrew the attestation of" if withdraw else "attested"
    print(f"{by} {verb} record {index} of {text} "
          f"(tx {data.get('tx_hash')}, block {data.get('block_number')})")


# --------------------------------------------------------------------------- devnet


def devnet(
    port: Annotated[int, typer.Option("--port", help="TCP port on 127.0.0.1 (0: any free).",
                                      min=0, max=65535)] = 8545,
    state: Annotated[Path | None, typer.Option(
        "--state", help="Chain state file (default: the embedded chain's).")] = None,
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
