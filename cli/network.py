"""``keyanchor network ...``: the JSON-RPC endpoints keyanchor can talk to.

    $ keyanchor network add devnet http://127.0.0.1:8545 --chain-id 31337
    $ keyanchor network use devnet
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated

import typer

from cli._context import JsonOpt, load_cfg
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
    url: Annotated[str, typer.Argument(metavar="URL", show_default=False,
                                       help="JSON-RPC URL (http:// or https://).")],
    registry: Annotated[str | None, typer.Option("--registry", metavar="ADDRESS",
                                                 help="KeyRegistry address.")] = None,
    chain_id: Annotated[int | None, typer.Option("--chain-id", metavar="ID",
                                                 help="Expected chain id.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add (or replace) a network in the configuration file.

    Example: keyanchor network add devnet http://127.0.0.1:8545 --registry 0x5FbD...0aa3
    """
    from registry.config import save_config

    cfg = load_cfg()
    if registry is not None:
        registry = _address(registry)
    net = cfg.add_network(name, url, registry=registry, chain_id=chain_id)
    save_config(cfg)
    if as_json:
        emit_json(net.to_dict())
        return
    print(f"added network {net.name} ({net.url}) to {cfg.path}")
    if not net.registry:
        print(f"no registry yet: 'keyanchor deploy --network {net.name}' deploys one")


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
        table.append(["*" if r["current"] else "", r["name"], url, r.get("registry") or "-",
                      str(r.get("chain_id") or "-")])
    print_table(["", "NAME", "URL", "REGISTRY", "CHAIN ID"], table)


@app.command("use")
def use(
    name: Annotated[str, typer.Argument(metavar="NAME", show_default=False,
                                        help="Network name (or 'embedded').")],
) -> None:
    """Make a network the default for every command.

    Example: keyanchor network use devnet
    """
    from registry.config import save_config

    cfg = load_cfg()
    cfg.use_network(name)
    save_config(cfg)
    print(f"now using network {name}")
