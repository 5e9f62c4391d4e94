"""``keyanchor devnet``: the embedded chain served as JSON-RPC over HTTP on loopback.

The devnet holds the state file's lock while it serves, so other keyanchor
processes reach the chain through it (``--network devnet``) and never open the
file beside it; ``<state>.devnet`` names its URL while it runs. Every mined
block is committed to the state file, so the chain survives restarts.

    with DevnetServer(state_path, port=0) as server:
        Web3(HTTPProvider(server.url)).eth.block_number

Beyond the standard ``eth_*`` methods it answers anvil's ``evm_snapshot``,
``evm_revert``, ``evm_increaseTime``, ``evm_setNextBlockTimestamp``,
``evm_mine``, and ``keyanchor_registryAddress`` (the KeyRegistry's address).

It answers loopback clients only: a ``Host`` that is not a loopback name is
refused (DNS rebinding), and so is any ``Origin`` that is not a loopback URL —
including ``Origin: null``, which sandboxed iframes and ``data:`` pages on any
website send — so a web page cannot drive the devnet (``evm_revert``, dev-account
transactions). Requests without an ``Origin`` (CLI tools, libraries) are served.

Request bodies are bounded before they are parsed: at most ``MAX_REQUEST_BYTES``,
nested at most 64 deep (``registry.chain._rpcjson``), batches of at most
``MAX_BATCH`` requests; anything over is a JSON-RPC error (-32600), never a crash.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import os
import signal
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from registry.chain._rpcjson import JSONLimitError, loads_bounded
from registry.errors import ConfigError, Error, RegistryNotFound

__all__ = ["MAX_BATCH", "MAX_REQUEST_BYTES", "DevnetServer", "main", "serve"]

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 4 * 1024 * 1024
"""Largest JSON-RPC request body accepted (a full KeyRegistry publish is ~30 KB of hex)."""

MAX_BATCH = 256
"""Most requests in one JSON-RPC batch (sync sends 250; 2,000 eth_calls took 12.5 s)."""

_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "keyanchor-devnet"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    timeout = 60
    disable_nagle_algorithm = True  # headers and body go out in separate writes

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def _reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _reply_json(self, payload: Any) -> None:
        self._reply(200, json.dumps(payload, separators=(",", ":")).encode())

    def _refuse(self, status: int, text: str) -> None:
        self.close_connection = True
        self._reply(status, text.encode() + b"\n", "text/plain; charset=utf-8")

    def _origin_allowed(self) -> bool:
        # DNS-rebinding and cross-site guard: only loopback hosts may address us.
        host = self.headers.get("Host", "")
        hostname = urllib.parse.urlsplit("//" + host).hostname or ""
        if host and not _is_loopback(hostname):
            return False
        # A browser sends an Origin; CLI tools and libraries do not. "Origin: null" comes
        # from sandboxed iframes, data: URLs and redirects on ANY website: refuse it too.
        origin = self.headers.get("Origin")
        if origin is None:
            return True
        return _is_loopback(urllib.parse.urlsplit(origin.strip()).hostname or "")

    def do_GET(self) -> None:
        self._refuse(405, "keyanchor devnet: send JSON-RPC requests with POST")

    def do_POST(self) -> None:
        if not self._origin_allowed():
            self._refuse(403, "forbidden: the devnet only answers loopback clients")
            return
        length_header = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding") or length_header is None:
            self._refuse(411, "a Content-Length is required")
            return
        try:
            length = int(length_header)
        except ValueError:
            self._refuse(400, "bad Content-Length")
            return
        if length < 0 or length > MAX_REQUEST_BYTES:
            self._refuse(413, f"request larger than {MAX_REQUEST_BYTES} bytes")
            return
        body = self.rfile.read(length)
        try:
            # nesting bounded BEFORE parsing: py-evm raised the recursion limit, and 99,000
            # nested arrays overflowed this thread's C stack inside json.loads (a segfault)
            payload = loads_bounded(body, max_bytes=MAX_REQUEST_BYTES)
        except JSONLimitError as exc:
            self._reply_json(
                {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": str(exc)}}
            )
            return
        except (ValueError, UnicodeDecodeError):
            self._reply_json(
                {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error"}}
            )
            return
        if isinstance(payload, list) and len(payload) > MAX_BATCH:
            self._reply_json({"jsonrpc": "2.0", "id": None, "error": {
                "code": -32600,
                "message": f"batch of {len(payload)} requests; the devnet takes at most {MAX_BATCH}"}})
            return
        try:
            response = self.server.chain.handle(payload)
        except Exception:  # never a traceback to a client
            log.exception("devnet request failed")
            response = {
                "jsonrpc": "2.0",
                "id": None,
                "error": {"code": -32603, "message": "internal error"},
            }
        if response is None:  # notifications only
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self._reply_json(response)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    chain: Any

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection error from %s", client_address, exc_info=True)


def _serve_forever(server: _Server) -> None:
    """The serving thread: SIGINT / SIGTERM stay blocked here (and in the request threads it
    starts), so the kernel delivers them to the main thread, whose wait they interrupt at once."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    server.serve_forever(poll_interval=0.2)


class DevnetServer:
    """The devnet as an object: :meth:`start` it, read :attr:`url`, :meth:`stop` it.

    ``port=0`` picks a free port. Raises ConfigError for a non-loopback host or
    a port in use, ChainUnavailable when the state file is in use.
    """

    def __init__(
        self,
        state_path: str | os.PathLike[str] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 8545,
        lock_timeout: float = 10.0,
    ) -> None:
        if not _is_loopback(host):
            raise ConfigError(f"the devnet only listens on loopback, not {host}")
        self.host = host
        self.port = port
        self.state_path = Path(state_path) if state_path is not None else None
        self.registry_address: str | None = None
        self.registry_problem: str | None = None
        self._lock_timeout = lock_timeout
        self._chain: Any = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def chain(self) -> Any:
        """The served :class:`~registry.chain.embedded.EmbeddedChain` (None when stopped)."""
        return self._chain

    def start(self) -> DevnetServer:
        from registry.chain.embedded import (
            EmbeddedChain,
            _write_devnet_marker,
            default_state_path,
        )

        if self._server is not None:
            return self
        state = self.state_path or default_state_path()
        self.state_path = state
        chain = EmbeddedChain.open(state, write=True, timeout=self._lock_timeout)
        try:
            try:
                self.registry_address = chain.registry_address
            except RegistryNotFound as exc:
                self.registry_problem = str(exc)
            try:
                server = _Server((self.host, self.port), _Handler)
            except OSError as exc:
                raise ConfigError(f"cannot listen on {self.host}:{self.port}: {exc}") from exc
            server.chain = chain
            self.port = int(server.server_address[1])
            _write_devnet_marker(state, self.url, self.registry_address)
        except BaseException:
            chain.close()
            raise
        self._chain = chain
        self._server = server
        self._thread = threading.Thread(
            target=_serve_forever,
            args=(server,),
            name="keyanchor-devnet",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, remove the marker, release the state file. Idempotent."""
        from registry.chain.embedded import _remove_devnet_marker

        server, self._server = self._server, None
        if server is not None:
            if self._thread is not None and self._thread.is_alive():
                server.shutdown()  # waits for serve_forever: only when it runs (or will)
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        chain, self._chain = self._chain, None
        if chain is not None:
            if self.state_path is not None:
                _remove_devnet_marker(self.state_path)
            chain.close()

    def __enter__(self) -> DevnetServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def serve(
    state_path: str | os.PathLike[str] | None = None,
    host: str = "127.0.0.1",
    port: int = 8545,
    *,
    out: Callable[[str], None] = print,
    ready: Callable[[DevnetServer], None] | None = None,
) -> None:
    """Serve until SIGINT or SIGTERM (Ctrl-C), then shut down cleanly.

    Prints the URL, the registry address and the development accounts through
    ``out``. Raises ConfigError or ChainUnavailable when it cannot start.
    """
    # The handler only appends to a list: it runs in the main thread between any two bytecodes,
    # also inside threading.Event.wait while the event's (non-reentrant) lock is held, where an
    # Event.set() deadlocked the devnet for good (a rare SIGINT that never stopped it).
    stopping: list[int] = []
    previous: dict[signal.Signals, Any] = {}
    in_main = threading.current_thread() is threading.main_thread()
    if in_main:  # before the port opens: a Ctrl-C as soon as it listens is a clean stop
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda signum, _frame: stopping.append(signum))
    try:
        server = DevnetServer(state_path, host=host, port=port).start()
    except BaseException:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        raise
    try:
        _announce(server, out)
        if ready is not None:
            ready(server)
        while not stopping:
            time.sleep(0.2)  # the handler runs during the sleep; the loop sees it within 0.2 s
        out("shutting down")
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _announce(server: DevnetServer, out: Callable[[str], None]) -> None:
    from registry.chain.embedded import CHAIN_ID, DEV_BALANCE_WEI, DEV_MNEMONIC, dev_accounts

    out(f"keyanchor devnet listening on {server.url}")
    out(f"chain id     {CHAIN_ID}")
    out(f"state file   {server.state_path}")
    if server.registry_address:
        out(f"KeyRegistry  {server.registry_address}")
    else:
        out(f"KeyRegistry  not deployed ({server.registry_problem})")
    out(f"dev accounts ({DEV_BALANCE_WEI // 10**18} ETH each; keys from the public test mnemonic")
    out(f'              "{DEV_MNEMONIC}": never send them real value)')
    for i, account in enumerate(dev_accounts()):
        out(f"  ({i}) {account.address}")
    out("Ctrl-C stops the devnet; its state is kept")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m registry.chain.devnet [--port N] [--state PATH]``; returns the exit code."""
    import argparse

    parser = argparse.ArgumentParser(prog="keyanchor devnet", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8545)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--state", default=None, help="state file (default: the user data dir)")
    args = parser.parse_args(argv)
    try:
        serve(args.state, args.host, args.port, out=lambda line: print(line, flush=True))
    except Error as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
