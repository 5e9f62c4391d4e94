"""``keyanchor serve``: the read-only keyserver (HKP, WKD, JSON API, lookup page) over the index.

    $ keyanchor serve                                  # http://127.0.0.1:11371
    $ gpg --keyserver hkp://127.0.0.1:11371 --recv-keys FINGERPRINT

Registered on the root application by :mod:`cli.main`. uvicorn and starlette
are imported only when the command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli._context import finite_seconds

__all__ = ["serve"]


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535,
                                      help="TCP port (11371 is HKP's; 0 picks a free one).")] = 11371,
    index: Annotated[Path | None, typer.Option(
        "--index", help="Index file (default: [index] path in the config, or KEYANCHOR_INDEX).",
        show_default=False)] = None,
    policy: Annotated[str | None, typer.Option(
        "--policy", help="Re-check keys at lookup with this built-in profile or policy file"
        " (default: the verdict stored at sync).", show_default=False)] = None,
    max_staleness: Annotated[float, typer.Option(
        "--max-staleness", min=1, callback=finite_seconds, help="Answer 503 (with the reason) while the last sync is older"
        " than this many seconds; the sshd path's default.")] = 3600,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64,
                                         help="Server processes.")] = 1,
    request_timeout: Annotated[float, typer.Option(
        "--request-timeout", min=0.1, max=3600, callback=finite_seconds,
        help="Seconds a connection has to send a complete request before it is closed.")] = 10.0,
    max_connections: Annotated[int, typer.Option(
        "--max-connections", min=16, max=1_000_000,
        help="Open connections per process; when full, the oldest idle one is closed.")] = 10_000,
    per_peer: Annotated[int, typer.Option(
        "--max-connections-per-client", min=0, max=1_000_000,
        help="Open connections per client address (IPv6: per /64); 0 = no limit, for use"
        " behind a reverse proxy.")] = 64,
) -> None:
    """Serve the verified index over HTTP: HKP and WKD for gpg, a JSON API and a lookup page.

    Read-only. Only active, unexpired, policy-passing keys are served by
    default. Put a TLS reverse proxy in front for WKD (clients fetch it over
    https from the mail domain or openpgpkey.<domain>).

    Example: keyanchor serve --port 11371 --index /var/lib/keyanchor/index.sqlite
    """

    from cli._context import load_cfg
    from registry.gateways._server import ServerLimits
    from registry.gateways.http import serve as run

    if policy is not None:  # a misspelt profile or missing file would serve no key at all
        from registry.policy.profiles import policy_from_spec

        policy_from_spec(policy)
    path = index if index is not None else load_cfg().index_path()
    limits = ServerLimits(header_timeout=request_timeout, per_peer=per_peer,
                          max_connections=max_connections)
    run(path, host, port, policy=policy, max_staleness=max_staleness, workers=workers,
        limits=limits, log_level="warning",
        announce=_announce)


def _announce(line: str) -> None:
    import sys

    sys.stderr.write(f"keyanchor: {line} (Ctrl-C stops)\n")
