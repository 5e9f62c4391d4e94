"""``keyanchor account ...``: encrypted V3 keystores that sign transactions.

    $ keyanchor account new --name alice
    $ keyanchor account import --name ops < key.hex

Private keys are read from stdin or a hidden prompt, never from the command
line, and are never printed.
"""

from __future__ import annotations

import re
import sys
from typing import Annotated

import typer

from cli._context import JsonOpt, ask_new_password, load_cfg, say
from cli._output import emit_json

app = typer.Typer(
    help="Signing accounts (encrypted keystores).\n\n"
    "Example: keyanchor account new --name alice",
    no_args_is_help=True,
)

NameOpt = Annotated[
    str | None,
    typer.Option("--name", help="Keystore name (file <name>.json; default: the address)."),
]
_KS_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")


def _target(name: str | None) -> object:
    from pathlib import Path

    cfg = load_cfg()
    directory = Path(cfg.keystore_dir())
    if name is None:
        return cfg, directory
    if not _KS_NAME.match(name) or name.endswith(".json"):
        raise typer.BadParameter(f"invalid keystore name {name!r} (letters, digits, . _ -)",
                                 param_hint="--name")
    return cfg, directory / f"{name}.json"


def _finish(cfg: object, info: object, as_json: bool) -> None:
    from registry.config import Config, save_config

    assert isinstance(cfg, Config)
    default = cfg.keystore() is None
    if default:
        cfg.set_keystore(info.path)  # type: ignore[attr-defined]
        save_config(cfg)
    data = {"address": info.address, "keystore": str(info.path),  # type: ignore[attr-defined]
            "default": default or str(cfg.keystore()) == str(info.path)}  # type: ignore[attr-defined]
    if as_json:
        emit_json(data)
        return
    print(f"address   {data['address']}")
    print(f"keystore  {data['keystore']}")
    if default:
        print("this is now the default account")


@app.command("new")
def new(name: NameOpt = None, as_json: JsonOpt = False) -> None:
    """Create an account and save it as an encrypted keystore.

    The password is KEYANCHOR_PASSWORD, else asked twice (hidden). The first
    account becomes the default.

    Example: keyanchor account new --name alice
    """
    from registry.chain.accounts import new_keystore

    cfg, target = _target(name)
    password = ask_new_password()
    info = new_keystore(target, password)  # type: ignore[arg-type]
    _finish(cfg, info, as_json)


@app.command("import")
def import_(name: NameOpt = None, as_json: JsonOpt = False) -> None:
    """Import a private key (hex) from stdin or a hidden prompt into an encrypted keystore.

    The key is never taken from the command line and never printed.

    Example: keyanchor account import --name ops < ops-key.hex
    """
    from registry.chain.accounts import import_private_key
    from registry.errors import AccountError

    cfg, target = _target(name)
    if sys.stdin.isatty():
        secret = str(typer.prompt("Private key (hex)", hide_input=True))
    else:
        secret = sys.stdin.read(4096)
    secret = secret.strip()
    if not secret:
        raise AccountError("no private key given on stdin")
    password = ask_new_password()
    info = import_private_key(secret, target, password)  # type: ignore[arg-type]
    del secret
    _finish(cfg, info, as_json)


@app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """List the keystores in the keystore directory (the default one is marked).

    Example: keyanchor account list --json
    """
    from registry.chain.accounts import list_keystores

    cfg = load_cfg()
    default = cfg.keystore()
    found = list_keystores(cfg.keystore_dir())
    rows = [{"address": i.address, "keystore": str(i.path),
             "default": default is not None and str(i.path) == str(default)} for i in found]
    if default is not None and not any(r["default"] for r in rows):
        rows.append({"address": _address_of(default), "keystore": str(default), "default": True})
    if as_json:
        emit_json(rows)
        return
    if not rows:
        say(f"no accounts in {cfg.keystore_dir()} (create one with 'keyanchor account new')")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for col in ("", "address", "keystore"):
        table.add_column(col)
    for r in rows:
        table.add_row("*" if r["default"] else "", str(r["address"]), str(r["keystore"]))
    Console(soft_wrap=True).print(table)


@app.command("use")
def use(
    which: Annotated[str, typer.Argument(help="Keystore name, file path or address.")],
) -> None:
    """Make a keystore the default signing account (saved in the config file).

    Example: keyanchor account use alice
    """
    from pathlib import Path

    from registry.chain.accounts import list_keystores
    from registry.config import save_config
    from registry.errors import AccountError

    cfg = load_cfg()
    found = list_keystores(cfg.keystore_dir())
    wanted = which.strip()
    match = [i for i in found
             if i.path.stem == wanted or i.address.lower() == wanted.lower()
             or str(i.path) == wanted]
    if not match and Path(wanted).is_file():
        address = _address_of(wanted)
        if address is None:
            raise AccountError(f"{wanted} is not a V3 keystore file")
        cfg.set_keystore(Path(wanted).resolve())
        save_config(cfg)
        print(f"default account {address} ({Path(wanted).resolve()})")
        return
    if not match:
        known = ", ".join(i.path.stem for i in found) or "none"
        raise AccountError(f"no keystore {wanted!r} in {cfg.keystore_dir()} (known: {known})")
    info = match[0]
    cfg.set_keystore(info.path)
    save_config(cfg)
    print(f"default account {info.address} ({info.path})")


def _address_of(path: object) -> str | None:
    import json
    from pathlib import Path

    try:
        addr = json.loads(Path(str(path)).read_text(encoding="utf-8")).get("address")
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(addr, str):
        return None
    return addr if addr.startswith("0x") else "0x" + addr
