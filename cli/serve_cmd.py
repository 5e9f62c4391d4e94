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

__all__ = ["serve"]


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535,
                                      help="TCP port (11371 is HKP's).")] = 11371,
    index: Annotated[Path | None, typer.Option(
        "--index", help="Index file (default: [index] path in the config, or KEYANCHOR_INDEX).",
        show_default=False)] = None,
    policy: Annotated[str | None, typer.Option(
        "--policy", help="Re-check keys at lookup with this built-in profile or policy file"
        " (default: the verdict stored at sync).", show_default=False)] = None,
    max_staleness: Annotated[float | None, typer.Option(
        "--max-staleness", min=1, help="Answer 503 while the last sync is older than this many"
        " seconds.", show_default=False)] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64,
                                         help="Server processes.")] = 1,
) -> None:
    """Serve the verified index over HTTP: HKP and WKD for gpg, a JSON API and a lookup page.

    Read-only. Only active, unexpired, policy-passing keys are served by
    default. Put a TLS reverse proxy in front for WKD (clients fetch it over
    https from the mail domain or openpgpkey.<domain>).

    Example: keyanchor serve --port 11371 --index /var/lib/keyanchor/index.sqlite
    """
    import sys

    from cli._context import load_cfg
    from registry.gateways.http import serve as run

    path = index if index is not None else load_cfg().index_path()
    _check_index(path)
    shown = f"[{host}]" if ":" in host else host
    sys.stderr.write(f"keyanchor: serving {path} on http://{shown}:{port} (Ctrl-C stops)\n")
    run(path, host, port, policy=policy, max_staleness=max_staleness, workers=workers,
        log_level="warning")


def _check_index(path: Path) -> None:
    """Fail, before announcing anything, when there is no usable index at ``path``."""
    from registry.errors import IndexUnavailable
    from registry.index import IndexReader

    if not path.exists():
        raise IndexUnavailable(f"no index at {path}: run 'keyanchor sync' first (or give --index)")
    with IndexReader.open(path):
        pass
