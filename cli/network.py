"""``keyanchor network ...``: the JSON-RPC endpoints keyanchor can talk to, and whom it trusts.

    $ keyanchor network add devnet http://127.0.0.1:8545 --chain-id 31337
    $ keyanchor network add mainnet https://a.example https://b.example https://c.example \
          --quorum 2 --trust-tag finalized
    $ keyanchor network show mainnet
    $ keyanchor network use devnet
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated

import typer

from cli._context import JsonOpt, load_cfg, save_cfg
from cli._help import App
from cli._output import emit_json, print_table

if TYPE_CHECKING:  # pragma: no cover
    from registry.config import Config

app = App(
    help="Networks: the embedded chain and JSON-RPC endpoints.\n\n"
    "Example: keyanchor network add sepolia https://rpc.example --chain-id 11155111",
)


def _current(cfg: Config) -> str:
    from registry.config import EMBEDDED

    data = cfg.data
    if os.environ.get("KEYANCHOR_RPC_URL"):
        return "env"
    return os.environ.get("KEYANCHOR_NETWORK") or data.get("network") or EMBEDDED


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(metavar="NAME", show_default=False,
                                        help="A short name for the network.")],
    urls: Annotated[list[str], typer.Argument(
        metavar="URL...", show_default=False,
        help="JSON-RPC URLs (http:// or https://) of the same chain; transactions go to the"
        " first that answers.")],
    registry: Annotated[str | None, typer.Option("--registry", metavar="ADDRESS",
                                                 help="KeyRegistry address.")] = None,
    chain_id: Annotated[int | None, typer.Option("--chain-id", metavar="ID",
                                                 help="Expected chain id.")] = None,
    quorum: Annotated[int, typer.Option(
        "--quorum", min=1, metavar="K", help="How many endpoints must return the same hash for"
        " a block before it is trusted (1: any one endpoint is trusted alone).")] = 1,
    trust_tag: Annotated[str, typer.Option(
        "--trust-tag", metavar="TAG", help="The block trusted: finalized, safe, latest, or a"
        " number of confirmations below latest.")] = "latest",
    as_json: JsonOpt = False,
) -> None:
    """Add (or replace) a network in the configuration file.

    Replacing a network keeps its registry address and chain id unless
    --registry / --chain-id give new ones.

    Example: keyanchor network add mainnet https://a.example https://b.example
    https://c.example --quorum 2 --trust-tag finalized
    """

    cfg = load_cfg()
    nets = cfg.data.get("networks")
    old = nets.get(name) if registry is None and isinstance(nets, dict) else None
    kept = old.get("registry") if isinstance(old, dict) else None
    if registry is not None:
        registry = _address(registry)
    trust: str | int = int(trust_tag) if trust_tag.isdigit() else trust_tag.lower()
    net = cfg.add_network(name, urls, registry=registry, chain_id=chain_id, quorum=quorum,
                          trust=trust)
    save_cfg(cfg)
    if as_json:
        emit_json(dict(net.to_dict(), trusts=_trusts(net)))
        return
    shown = net.url if len(net.endpoints) == 1 else f"{len(net.endpoints)} endpoints"
    print(f"added network {net.name} ({shown}) to {cfg.path}")
    print(f"trust: {_trusts(net)}")
    if kept and kept == net.registry:
        print(f"kept its registry {net.registry} (--registry ADDRESS names another)")
    if not net.registry:
        print(f"no registry yet: 'keyanchor deploy --network {net.name}' deploys one")


def _trusts(net: object) -> str:
    """What a network's configuration trusts, in plain words (docs/TRUST.md)."""
    from registry.config import Network

    assert isinstance(net, Network)
    if net.embedded:
        return ("the embedded chain on this machine: keyanchor runs the node itself, and trusts"
                " this computer")
    tag = f"latest - {net.trust} confirmations" if isinstance(net.trust, int) and net.trust \
        else str(net.trust)
    n, k = len(net.endpoints), net.quorum
    if n == 1:
        return (f"ONE endpoint, trusted alone: it decides which block is the {tag} one and so"
                " can show any state it likes; every read is still proven against that block"
                " (header hash, storage proofs, event digest). Add endpoints and --quorum to"
                " trust no single one.")
    if k == 1:
        return (f"{n} endpoints, quorum 1: ANY ONE of them is trusted alone for the {tag} block"
                " (the first that answers); raise --quorum to require agreement.")
    if 2 * k <= n:
        return (f"{k} of {n} endpoints must return the same hash for the {tag} block; that is"
                f" not a majority: any {k} of them together (an attacker's) decide which block"
                f" is trusted whenever their chain is at least as long; two rival groups of {k}"
                " at one height are refused. Use --quorum above n/2 to trust no minority.")
    return (f"{k} of {n} endpoints must return the same hash for the {tag} block; an attacker"
            f" controlling up to {k - 1} of them cannot make keyanchor trust a false block or"
            " hide an event (it is outvoted and named); with fewer than"
            f" {k} honest endpoints answering, nothing is trusted.")


@app.command("show")
def show(
    name: Annotated[str | None, typer.Argument(help="Network (default: the one in use).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Show a network's endpoints, quorum, trust tag and what it trusts, in plain words.

    Example: keyanchor network show mainnet
    """
    cfg = load_cfg()
    net = cfg.network(name)
    info = dict(net.to_dict(), endpoints=list(net.endpoints), trusts=_trusts(net))
    if as_json:
        emit_json(info)
        return
    print(f"network   {net.name}")
    if net.embedded:
        print(f"chain     embedded ({net.state})")
    for i, url in enumerate(net.endpoints):
        print(f"{'endpoints' if i == 0 else '':9} {url}")
    if not net.embedded:
        print(f"quorum    {net.quorum} of {len(net.endpoints)}")
        print(f"trust tag {net.trust}")
    if net.registry:
        print(f"registry  {net.registry}")
    if net.chain_id is not None:
        print(f"chain id  {net.chain_id}")
    print(f"trusts    {info['trusts']}")


def _address(text: str) -> str:
    import re

    if not re.fullmatch(r"0x[0-9a-fA-F]{40}", text):
        raise typer.BadParameter(f"{text!r} is not an address (0x + 40 hex digits)",
                                 param_hint="--registry")
    return text


@app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """List the configured networks (the one in use is marked).

    Example: keyanchor network list --json
    """
    cfg = load_cfg()
    current = _current(cfg)
    nets = cfg.networks()
    rows = [dict(n.to_dict(), current=(n.name == current)) for n in nets.values()]
    if current == "env":
        rows.append(dict(cfg.network().to_dict(), current=True))
    if as_json:
        emit_json(rows)
        return
    table = []
    for r in rows:
        url = r["url"] if r["url"] != "embedded" else f"embedded ({r.get('state', '')})"
        if r.get("urls"):
            url += f" (+{len(r['urls']) - 1})"
        quorum = (f"{r['quorum']}/{len(r.get('urls') or [r['url']])} {r['trust']}"
                  if "quorum" in r else "-")
        table.append(["*" if r["current"] else "", r["name"], url, quorum,
                      r.get("registry") or "-", str(r.get("chain_id") or "-")])
    print_table(["", "NAME", "URL", "QUORUM", "REGISTRY", "CHAIN ID"], table)


@app.command("use")
def use(
    name: Annotated[str, typer.Argument(metavar="NAME", show_default=False,
                                        help="Network name (or 'embedded').")],
) -> None:
    """Make a network the default for every command.

    Example: keyanchor network use devnet
    """

    cfg = load_cfg()
    cfg.use_network(name)
    save_cfg(cfg)
    print(f"now using network {name}")
