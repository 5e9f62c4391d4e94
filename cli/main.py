"""Entry point of the ``keyanchor`` console script.

    $ keyanchor --help
    $ keyanchor key inspect id_ed25519.pub --json

Heavy modules (web3, cryptography, pysequoia) are imported inside the
commands that need them, so ``keyanchor --help`` stays fast. :func:`main` is
the one place that turns a :class:`registry.errors.Error` into one line on
stderr: exit 0 ok, 1 error, 2 usage.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import typer

from cli import account as account_cmds
from cli import chain_cmds, index_cmds, integrations_cmds, policy_cmds, serve_cmd
from cli import key as key_cmds
from cli import name as name_cmds
from cli import network as network_cmds
from cli._help import App
from registry._text import printable

__all__ = ["app", "main"]

app = App(
    name="keyanchor",
    help=(
        "keyanchor: SSH, OpenPGP and X.509 keys bound to names on an EVM chain.\n\n"
        "\b\nExamples:\n"
        "  keyanchor name register example.org\n"
        "  keyanchor name assign alice@example.org --owner 0x70997970C51812dc3A010C7d01b50e0d17dc79C8\n"
        "  keyanchor prove alice@example.org ~/.ssh/id_ed25519.pub --out statement.txt\n"
        "  ssh-keygen -Y sign -n keyanchor -f ~/.ssh/id_ed25519 statement.txt\n"
        "  keyanchor key publish alice@example.org ~/.ssh/id_ed25519.pub --proof statement.txt.sig\n"
        "  keyanchor lookup alice@example.org --format authorized-keys\n"
        "  keyanchor key inspect cert.pem --json"
    ),
)


def _version(value: bool) -> None:
    if value:
        from registry import __version__

        typer.echo(f"keyanchor {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """keyanchor: SSH, OpenPGP and X.509 keys bound to names on an EVM chain."""


app.add_typer(account_cmds.app, name="account")
app.add_typer(network_cmds.app, name="network")
app.add_typer(name_cmds.app, name="name")
app.add_typer(key_cmds.app, name="key")
app.command("deploy")(chain_cmds.deploy)
app.command("prove")(chain_cmds.prove)
app.command("lookup")(chain_cmds.lookup)
app.command("history")(chain_cmds.history)
app.command("attest")(chain_cmds.attest)
app.command("devnet")(chain_cmds.devnet)
app.command("check")(policy_cmds.check)
app.command("lints")(policy_cmds.lints)
app.command("sync")(index_cmds.sync)
app.command("watch")(index_cmds.watch)
app.add_typer(index_cmds.index_app, name="index")
app.add_typer(index_cmds.ssh_app, name="ssh")
index_cmds.ssh_app.command("allowed-signers")(integrations_cmds.allowed_signers)
app.add_typer(integrations_cmds.tls_app, name="tls")
app.command("serve")(serve_cmd.serve)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit code (also used by the console script)."""
    from registry.errors import Error

    click_exc = _click_exceptions()

    command = typer.main.get_command(app)
    try:
        rv = command.main(args=argv, prog_name="keyanchor", standalone_mode=False)
        # typer returns the code of a `raise typer.Exit(n)` in non-standalone mode
        if isinstance(rv, int) and not isinstance(rv, bool):
            return rv
    except typer.Abort:
        sys.stderr.write("keyanchor: aborted\n")
        return 1
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except click_exc.ClickException as exc:
        _negative_index(exc, click_exc).show()
        return exc.exit_code
    except Error as exc:
        # every message may carry an endpoint's or a file's words: no raw control characters
        sys.stderr.write("keyanchor: error: " + printable(" ".join(str(exc).split())) + "\n")
        return 1
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        sys.stderr.write("keyanchor: interrupted\n")
        return 130
    except BrokenPipeError:
        return 1
    except Exception as exc:  # a bug: still one line, traceback only on request
        if os.environ.get("KEYANCHOR_DEBUG"):
            raise
        sys.stderr.write(
            f"keyanchor: internal error: {type(exc).__name__}: {printable(' '.join(str(exc).split()))}"
            " (set KEYANCHOR_DEBUG=1 for a traceback)\n"
        )
        return 1
    return 0


def _negative_index(exc: Any, click_exc: Any) -> Any:
    """``exc``, or for a negative number where a RECORD/INDEX argument goes (click reads
    ``-1`` as an unknown option: "No such option: -1") a usage error about the index."""
    option = getattr(exc, "option_name", "")
    ctx = getattr(exc, "ctx", None)
    if not isinstance(exc, click_exc.NoSuchOption) or not option[1:].isdigit() or ctx is None:
        return exc
    names = [p.metavar for p in ctx.command.params
             if getattr(p, "metavar", None) in ("RECORD", "INDEX")]
    if not names:
        return exc
    return click_exc.BadParameter(
        f"{option} is not a record index (records are numbered from 0)", ctx=ctx,
        param_hint=f"'{names[0]}'")


def _click_exceptions() -> Any:
    """click's exceptions module (typer >= 0.20 vendors click as typer._click)."""
    import importlib

    try:
        return importlib.import_module("typer._click.exceptions")
    except ImportError:  # pragma: no cover
        return importlib.import_module("click.exceptions")


def _console_main() -> None:
    raise SystemExit(main())


if __name__ == "__main__":  # pragma: no cover
    _console_main()
