"""``keyanchor account ...``: the accounts that sign transactions.

    $ keyanchor account list
    $ keyanchor account new --name alice
    $ keyanchor account use builtin

The embedded chain's built-in account (its development account 0, which owns
what was registered before any keystore existed) is listed as ``builtin``;
``account use builtin`` returns to it. Creating or importing a keystore does
not change which account signs (``--use`` does, or ``account use``), so names
the current account owns are never stranded. Private keys are read from stdin
or a hidden prompt, never from the command line, and are never printed.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli._context import (
    BUILTIN,
    JsonOpt,
    ask_new_password,
    builtin_address,
    current_signer,
    load_cfg,
    save_cfg,
)
from cli._help import App
from cli._output import emit_json, print_rows, print_table

if TYPE_CHECKING:  # pragma: no cover
    from registry.chain.accounts import KeystoreInfo
    from registry.config import Config

app = App(
    help="Signing accounts: the embedded chain's built-in one and encrypted keystores.\n\n"
    "Example: keyanchor account new --name alice",
)

NameOpt = Annotated[
    str | None,
    typer.Option("--name", metavar="NAME",
                 help="Keystore name (file NAME.json; default: the address)."),
]
UseOpt = Annotated[bool, typer.Option("--use", help="Sign with the new account from now on.")]
_KS_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")


def _target(cfg: Config, name: str | None) -> Path:
    directory = Path(cfg.keystore_dir())
    if name is None:
        return directory
    if not _KS_NAME.match(name) or name.endswith(".json") or name.lower() == BUILTIN:
        raise typer.BadParameter(f"invalid keystore name {name!r} (letters, digits, . _ -;"
                                 f" not {BUILTIN!r})", param_hint="--name")
    return directory / f"{name}.json"


def _finish(cfg: Config, info: KeystoreInfo, use: bool, as_json: bool) -> None:

    before = current_signer(cfg, cfg.network())
    if use or before is None:  # nothing signed before: nothing to strand
        cfg.set_keystore(info.path)
        save_cfg(cfg)
    signs = cfg.keystore() is not None and str(cfg.keystore()) == str(info.path)
    data = {"name": info.path.stem, "address": info.address, "keystore": str(info.path),
            "default": signs}
    if as_json:
        emit_json(data)
        return
    print_rows([("address", info.address), ("keystore", str(info.path))])
    if signs:
        print("this account signs from now on")
    elif before is not None:
        print(f"{before.address} still signs ({before.label});"
              f" 'keyanchor account use {info.path.stem}' switches to the new account")


@app.command("new")
def new(name: NameOpt = None, use: UseOpt = False, as_json: JsonOpt = False) -> None:
    """Create an account and save it as an encrypted keystore.

    The password is KEYANCHOR_PASSWORD, else asked twice (hidden). The account
    that signs does not change (unless --use, or none signed before).

    Example: keyanchor account new --name alice --use
    """
    from registry.chain.accounts import new_keystore

    cfg = load_cfg()
    target = _target(cfg, name)
    password = ask_new_password()
    _finish(cfg, new_keystore(target, password), use, as_json)


@app.command("import")
def import_(name: NameOpt = None, use: UseOpt = False, as_json: JsonOpt = False) -> None:
    """Import a private key (hex) from stdin or a hidden prompt into an encrypted keystore.

    The key is never taken from the command line and never printed.

    Example: keyanchor account import --name ops < ops-key.hex
    """
    from registry.chain.accounts import import_private_key
    from registry.errors import AccountError

    cfg = load_cfg()
    target = _target(cfg, name)
    if sys.stdin.isatty():
        secret = str(typer.prompt("Private key (hex)", hide_input=True))
    else:
        secret = sys.stdin.read(4096)
    secret = secret.strip()
    if not secret:
        raise AccountError("no private key given on stdin")
    password = ask_new_password()
    info = import_private_key(secret, target, password)
    del secret
    _finish(cfg, info, use, as_json)


def _accounts(cfg: Config) -> list[dict[str, Any]]:
    from registry.chain.accounts import address_from_env, keystore_address, list_keystores

    net = cfg.network()
    signer = current_signer(cfg, net)
    rows: list[dict[str, Any]] = []
    env = address_from_env()
    if env is not None:
        rows.append({"name": "KEYANCHOR_PRIVATE_KEY", "address": env, "keystore": None,
                     "builtin": False})
    rows.append({"name": BUILTIN, "address": builtin_address(), "keystore": None,
                 "builtin": True})
    found = list_keystores(cfg.keystore_dir())
    for info in found:
        rows.append({"name": info.path.stem, "address": info.address,
                     "keystore": str(info.path), "builtin": False})
    configured = cfg.keystore()
    if configured is not None and not any(r["keystore"] == str(configured) for r in rows):
        rows.append({"name": Path(configured).stem, "address": keystore_address(configured),
                     "keystore": str(configured), "builtin": False})
    for r in rows:
        if signer is None:
            r["default"] = False
        elif signer.source == "env":
            r["default"] = r["name"] == "KEYANCHOR_PRIVATE_KEY"
        elif signer.source == "keystore":
            r["default"] = r["keystore"] == str(signer.keystore)
        else:
            r["default"] = bool(r["builtin"])
    return rows


@app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """List the accounts: the built-in one, the keystores, KEYANCHOR_PRIVATE_KEY if set.

    The one marked * signs on the current network. Addresses are printed whole.

    Example: keyanchor account list --json
    """
    cfg = load_cfg()
    rows = _accounts(cfg)
    if as_json:
        emit_json(rows)
        return
    table = []
    for r in rows:
        where = r["keystore"] or ("the embedded chain's development account 0"
                                  if r["builtin"] else "environment")
        table.append(["*" if r["default"] else "", r["name"], r["address"], where])
    print_table(["", "NAME", "ADDRESS", "WHERE"], table)
    if not any(r["default"] for r in rows):
        print(f"no account signs on network {cfg.network().name}: 'keyanchor account new --use'"
              " creates one")


@app.command("use")
def use(
    which: Annotated[str, typer.Argument(
        metavar="ACCOUNT", show_default=False,
        help=f"{BUILTIN!r} (the embedded chain's built-in account), a keystore name, file"
             " or address.")],
) -> None:
    """Make an account the one that signs (saved in the config file).

    Example: keyanchor account use builtin
    """
    from registry.chain.accounts import keystore_address, list_keystores
    from registry.errors import AccountError

    cfg = load_cfg()
    wanted = which.strip()
    if wanted.lower() in (BUILTIN, "built-in") or wanted.lower() == builtin_address().lower():
        cfg.data.get("account", {}).pop("keystore", None)
        save_cfg(cfg)
        print(f"the built-in account {builtin_address()} signs (embedded chain)")
        if not cfg.network().embedded:
            print(f"note: network {cfg.network().name} is not the embedded chain: set"
                  " KEYANCHOR_PRIVATE_KEY or use a keystore to sign there")
        return
    found = list_keystores(cfg.keystore_dir())
    match = [i for i in found
             if i.path.stem == wanted or i.address.lower() == wanted.lower()
             or str(i.path) == wanted]
    if not match and Path(wanted).is_file():
        address = keystore_address(wanted)
        path = Path(wanted).resolve()
    elif match:
        address, path = match[0].address, match[0].path
    else:
        known = ", ".join([BUILTIN] + [i.path.stem for i in found])
        raise AccountError(f"no account {wanted!r} (known: {known}; keystores in"
                           f" {cfg.keystore_dir()})")
    cfg.set_keystore(path)
    save_cfg(cfg)
    print(f"{address} signs from now on (keystore {path})")
