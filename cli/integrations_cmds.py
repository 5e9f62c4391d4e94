"""``keyanchor ssh allowed-signers`` (git SSH signing) and ``keyanchor tls check``.

    $ keyanchor ssh allowed-signers example.org --out ~/.config/git/allowed_signers \\
          --revoked ~/.config/git/revoked_signers
    $ keyanchor tls check web1.example.org --json

Both read the verified index only (``keyanchor sync`` fills it) and refuse a
stale one. The work is in :mod:`registry.integrations.git` and
:mod:`registry.integrations.tls`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli._context import JsonOpt, finite_seconds, say
from cli._help import App

if TYPE_CHECKING:  # pragma: no cover
    from registry.gateways.ssh import SSHSettings

__all__ = ["allowed_signers", "tls_app"]

IndexOpt = Annotated[
    Path | None,
    typer.Option("--index", metavar="FILE",
                 help="Index file (default: [index] path in the config, or KEYANCHOR_INDEX)."),
]


def _settings(index: Path | None) -> SSHSettings:
    from registry.integrations._index import index_settings

    return index_settings(index=index)


def allowed_signers(
    names: Annotated[list[str] | None, typer.Argument(
        metavar="NAME…", help="Person names, or domains (the domain and every person name under it);"
             " none: every name with an SSH signing key.", show_default=False)] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", metavar="FILE", help="Write git's gpg.ssh.allowedSignersFile here (atomically);"
                            " default: print it.")] = None,
    revoked: Annotated[Path | None, typer.Option(
        "--revoked", metavar="FILE", help="Write the revoked keys here, for git's gpg.ssh.revocationFile.")] = None,
    index: IndexOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write git's SSH allowed-signers file (and revoked keys) from the registry's signing keys.

    Principal = registry name, namespaces="git", valid-after / valid-before from
    the record. Keys need the 'signing' purpose. Keys revoked for compromise go
    to --revoked; keys retired otherwise stay valid for what they signed before.

    Example: keyanchor ssh allowed-signers example.org -o ~/.config/git/allowed_signers
    --revoked ~/.config/git/revoked_signers
    """
    from registry.integrations.git import write_allowed_signers

    result = write_allowed_signers(out, names or (), revoked=revoked, settings=_settings(index))
    for conflict in result.conflicts:
        say(f"keyanchor: warning: {conflict}")
    if as_json:
        typer.echo(json.dumps(result.to_dict()))
    elif out is None:
        typer.echo(result.allowed_text, nl=False)
    else:
        say(f"wrote {len(result.allowed)} allowed signers to {out}"
            + (f" and {len(result.revoked)} revoked keys to {revoked}" if revoked else ""))


tls_app = App(help="TLS servers checked against their published certificates.\n\n"
              "Example: keyanchor tls check web1.example.org")


def _host_port(text: str, default: int) -> tuple[str, int]:
    from registry.errors import InvalidName

    host, port = text, default
    if text.startswith("["):
        inner, sep, rest = text[1:].partition("]")
        host = inner
        if rest:
            if not rest.startswith(":"):
                raise InvalidName(f"invalid HOST[:PORT] {text!r}")
            port_text = rest[1:]
        else:
            port_text = ""
        if not sep:
            raise InvalidName(f"invalid HOST[:PORT] {text!r}")
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        port_text = ""
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise InvalidName(f"invalid port in {text!r}")
        port = int(port_text)
    if not host:
        raise InvalidName(f"no host in {text!r}")
    return host, port


@tls_app.command("check")
def tls_check(
    target: Annotated[str, typer.Argument(metavar="HOST[:PORT]", help="The server's registry name"
                                          " (port 443 unless given).")],
    connect: Annotated[str | None, typer.Option(
        "--connect", help="Connect to ADDRESS[:PORT] instead (HOST is still the name sent and"
                          " checked).", metavar="ADDRESS[:PORT]")] = None,
    timeout: Annotated[float, typer.Option("--timeout", metavar="SECONDS", min=0.1, max=3600,
                                           callback=finite_seconds,
                                           help="Seconds for the TLS connection.")] = 10.0,
    index: IndexOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Is the certificate HOST serves an active tls-server record of HOST? (exit 0 yes, 1 no)

    Connects, takes the served chain (no verification, no data sent), and looks
    the leaf up by certificate and by public key (SPKI).

    Example: keyanchor tls check web1.example.org:8443 --json
    """
    from registry.integrations.tls import check_server

    host, port = _host_port(target, 443)
    address = None
    if connect:
        address, port = _host_port(connect, port)
    result = check_server(host, port, address=address, timeout=timeout, settings=_settings(index))
    if as_json:
        typer.echo(json.dumps(result.to_dict()))
    else:
        verdict = "published" if result.published else "NOT published"
        typer.echo(f"{host}:{port}: {verdict}: {result.reason}")
        for i, cert in enumerate(result.chain):
            subject = cert.get("subject") or cert.get("error", "")
            typer.echo(f"  {i} {subject}  SHA256:{cert['fingerprint']}")
    raise typer.Exit(0 if result.published else 1)
