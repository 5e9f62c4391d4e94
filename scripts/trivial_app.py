"""The floor for the gateway benchmark: a trivial Starlette app answering every GET with 1 KB.

    python scripts/trivial_app.py --port 8080          # serve it alone under uvicorn
    curl http://127.0.0.1:8080/pks/lookup?op=get       # 1,024 bytes of text

``scripts/bench_gateway.py`` runs this app under the same server code as the
gateway (``registry.gateways.http.serve``, with the app swapped in) and drives
both with the same client and the same request paths, so the ratio of the two
figures is what the gateway's own work costs: routing one path, one
``Response`` of 1,024 bytes with the gateway's content type and headers, and
nothing else (no index, no middleware).
"""

from __future__ import annotations

import argparse

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

BODY = (b"0123456789abcdef" * 64)[:1023] + b"\n"
_HEADERS = {"x-content-type-options": "nosniff", "access-control-allow-origin": "*"}


async def _answer(request: Request) -> Response:
    return Response(BODY, headers=_HEADERS, media_type="application/pgp-keys")


def create_trivial_app() -> Starlette:
    """A Starlette app with one catch-all route returning :data:`BODY` (1,024 bytes)."""
    return Starlette(routes=[Route("/{path:path}", _answer)])


def create_trivial_worker_app() -> Starlette:
    """The app factory of each worker of a ``--workers N`` floor: like the gateway's own
    (``registry.gateways.http._app_from_env``), the worker first takes turns with the others
    at accepting connections, and freezes its start-up objects once the app is built."""
    from registry.gateways import _server

    _server.accept_one_at_a_time()
    app = create_trivial_app()
    freeze = getattr(_server, "freeze_startup_objects", None)  # (--checkout of an older keyanchor)
    if freeze is not None:
        freeze()
    return app


def main() -> None:
    import uvicorn

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, default=8080)
    args = ap.parse_args()
    uvicorn.run(create_trivial_app(), host="127.0.0.1", port=args.port, log_level="warning",
                access_log=False)


if __name__ == "__main__":
    main()
