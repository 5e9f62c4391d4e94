"""JSON-RPC bombs: the real devnet process under hostile requests, and clients under hostile nodes.

``keyanchor devnet`` runs as a child process. A hostile node is a loopback
HTTP server that forwards JSON-RPC to that devnet and replaces the reply to
one chosen method with a bomb (99,000 nested arrays, 70 MiB, 5 million
values). The client side runs in a fresh Python process that imports py-evm
first, as a CLI run touching the embedded chain does (py-evm raises the
recursion limit to 12,288, so an unbounded ``json.loads`` of deep nesting
overflowed the C stack: a segmentation fault). It must end with one of
keyanchor's errors instead.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port, stop, wait_port

ROOT = Path(__file__).resolve().parents[2]
DEEP = b"[" * 99_000 + b"]" * 99_000


class Devnet:
    def __init__(self, state: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "devnet", "--port", str(self.port), "--state",
             str(state)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        wait_port(self.port, self.proc, "keyanchor devnet")

    def post(self, body: bytes, timeout: float = 60) -> Any:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("POST", "/", body=body, headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            assert resp.status == 200
            return json.loads(resp.read())
        finally:
            conn.close()

    def call(self, method: str, params: list[Any] | None = None) -> Any:
        reply = self.post(json.dumps({"jsonrpc": "2.0", "id": 1, "method": method,
                                      "params": params or []}).encode())
        return reply["result"]


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    node = Devnet(tmp_path_factory.mktemp("devnet") / "chain.db")
    try:
        yield node
    finally:
        stop(node.proc)


def _alive(devnet: Devnet) -> None:
    assert devnet.proc.poll() is None, f"the devnet died (exit {devnet.proc.returncode})"
    assert devnet.call("eth_chainId") == "0x7a69"


@pytest.mark.parametrize("bomb", [
    DEEP,
    b'{"a":' * 99_000 + b"1" + b"}" * 99_000,
    b'[{"jsonrpc":"2.0","id":1,"method":"eth_call","params":' + DEEP + b"}]",
    b"[" * 99_000,  # unbalanced: never closed
], ids=["arrays", "objects", "in-params", "unbalanced"])
def test_devnet_survives_one_request_of_99000_nested_arrays(devnet: Devnet, bomb: bytes) -> None:
    """Devnet crash: one request of 99,000 nested arrays segfaulted `keyanchor devnet`."""
    reply = devnet.post(bomb)
    assert reply["error"]["code"] == -32600
    assert "nested deeper than 64" in reply["error"]["message"]
    _alive(devnet)


def test_devnet_refuses_a_batch_of_2000_eth_calls(devnet: Devnet) -> None:
    """Devnet stall: 2,000 eth_calls in one request took 12.5 s; batches are capped at 256."""
    registry = devnet.call("keyanchor_registryAddress")
    call = {"jsonrpc": "2.0", "method": "eth_call",
            "params": [{"to": registry, "data": "0x"}, "latest"]}
    reply = devnet.post(json.dumps([dict(call, id=i) for i in range(2000)]).encode())
    assert reply["error"]["code"] == -32600 and "at most 256" in reply["error"]["message"]
    replies = devnet.post(json.dumps([dict(call, id=i) for i in range(250)]).encode())
    assert sorted(r["id"] for r in replies) == list(range(250))  # what sync sends in one batch
    _alive(devnet)


# --------------------------------------------------------------------------- hostile node


Bomb = Callable[[], bytes]
BOMBS: dict[str, Bomb] = {
    "deep": lambda: DEEP,
    "huge": lambda: b'{"jsonrpc":"2.0","id":1,"result":"0x' + b"00" * (35 << 20) + b'"}',
    "values": lambda: b'{"jsonrpc":"2.0","id":1,"result":[' + b"0," * 5_000_000 + b"0]}",
}


class _Node:
    """A loopback JSON-RPC server in front of ``upstream``: requests asking for ``method`` (alone
    or in a batch) get :meth:`hostile`'s answer, every other one the upstream node's reply."""

    def __init__(self, upstream: str, method: str) -> None:
        node = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                items = json.loads(body)
                methods = {i.get("method") for i in (items if isinstance(items, list) else [items])}
                if node.method in methods:
                    node.hits += 1
                    node.hostile(self, body)
                    return
                out = node.forward(body)
                self.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n"
                                 b"Content-Length: %d\r\n\r\n" % len(out) + out)

        self.upstream = upstream
        self.method = method
        self.hits = 0
        self.closed = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def forward(self, body: bytes) -> bytes:
        conn = http.client.HTTPConnection(self.upstream.split("//")[1], timeout=60)
        conn.request("POST", "/", body=body, headers={"Content-Type": "application/json"})
        out = conn.getresponse().read()
        conn.close()
        return out

    def hostile(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.closed.set()
        self.server.shutdown()
        self.server.server_close()


class HostileNode(_Node):
    """Forwards JSON-RPC to ``upstream``; the reply to ``method`` (alone or in a batch) is a bomb."""

    def __init__(self, upstream: str, method: str, bomb: Bomb, *, length: bool = True) -> None:
        self.bomb, self.length = bomb, length
        super().__init__(upstream, method)

    def hostile(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        out = self.bomb()
        head = b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n"
        if self.length:
            head += b"Content-Length: %d\r\n" % len(out)
        try:
            handler.wfile.write(head + b"\r\n")
            handler.wfile.write(out)
        except OSError:
            pass  # the client stopped reading: that is the point


CLIENT = r"""
import sys
import eth  # noqa: F401  -- py-evm raises the recursion limit (12,288), as in a CLI run
from registry.chain.client import Registry
from registry.errors import Error
from registry.index import sync_index

url, address, index = sys.argv[1:4]
try:
    reg = Registry.connect(url, registry_address=address, timeout=30)
    sync_index(index, reg)
except Error as exc:
    print(type(exc).__name__, "|", str(exc)[:300])
    sys.exit(3)
print("synced")
"""


def _client(url: str, address: str, index: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", CLIENT, url, address, str(index)],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


@pytest.mark.parametrize("method,bomb,length", [
    ("eth_chainId", "deep", True),
    ("eth_getLogs", "deep", True),
    ("eth_getBlockByNumber", "deep", True),   # sync's batch path
    ("eth_getLogs", "huge", True),            # refused on its Content-Length
    ("eth_getLogs", "huge", False),           # no length: refused while reading
    ("eth_getLogs", "values", True),
])
def test_hostile_node_reply_bombs_are_chain_errors(devnet: Devnet, tmp_path: Path, method: str,
                                                   bomb: str, length: bool) -> None:
    """Hostile node: nested / huge / value-stuffed JSON-RPC replies end in a ChainError, not a crash."""
    address = devnet.call("keyanchor_registryAddress")
    node = HostileNode(devnet.url, method, BOMBS[bomb], length=length)
    try:
        started = time.monotonic()
        out = _client(node.url, address, tmp_path / "index.sqlite")
        elapsed = time.monotonic() - started
    finally:
        node.close()
    assert node.hits, f"the client never asked for {method}"
    assert out.returncode == 3, f"exit {out.returncode}: {out.stdout}{out.stderr[-1500:]}"
    kind, _, message = out.stdout.partition(" | ")
    assert kind.strip() in ("ChainError", "ChainUnavailable"), out.stdout
    expected = {"deep": "nested deeper than 64", "huge": "response size limit",
                "values": "more than 4000000 values"}[bomb]
    assert expected in message
    assert "Traceback" not in out.stderr
    assert elapsed < 300


def test_sync_through_an_honest_proxy_still_works(devnet: Devnet, tmp_path: Path) -> None:
    """The bounded provider changes nothing for honest replies (same proxy, no bomb)."""
    address = devnet.call("keyanchor_registryAddress")
    node = HostileNode(devnet.url, "no_such_method", BOMBS["deep"])
    try:
        out = _client(node.url, address, tmp_path / "index.sqlite")
    finally:
        node.close()
    assert out.returncode == 0 and out.stdout.strip() == "synced", out.stdout + out.stderr[-800:]


class TricklingNode(_Node):
    """Forwards JSON-RPC to ``upstream``; the reply to ``method`` is written one byte at a time,
    each byte well within the client's read timeout: from the status line on (``headers``) or
    after whole headers (``body``)."""

    def __init__(self, upstream: str, method: str, phase: str, pause: float) -> None:
        self.phase, self.pause = phase, pause
        super().__init__(upstream, method)

    def hostile(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        out = self.forward(body)
        head = (b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n" % len(out))
        slow = head + out if self.phase == "headers" else out
        try:
            if self.phase == "body":
                handler.wfile.write(head)
            for i in range(len(slow)):
                if self.closed.wait(self.pause):
                    return
                handler.wfile.write(slow[i:i + 1])
                handler.wfile.flush()
        except OSError:
            pass


@pytest.mark.parametrize("method", ["eth_chainId", "eth_getBlockByNumber"])
@pytest.mark.parametrize("phase", ["headers", "body"])
def test_a_trickling_node_cannot_hold_sync_forever(devnet: Devnet, tmp_path: Path, method: str,
                                                   phase: str) -> None:
    """A node that sends its reply a byte at a time, each within the read timeout, held sync
    (and so the index's freshness) forever: the read timeout bounds each read, not the reply.
    Now a reply must be whole within REPLY_DEADLINE_FACTOR read timeouts."""
    from registry.chain._rpcjson import REPLY_DEADLINE_FACTOR
    from registry.chain.client import Registry
    from registry.errors import ChainUnavailable
    from registry.index import sync_index

    address = devnet.call("keyanchor_registryAddress")
    node = TricklingNode(devnet.url, method, phase, pause=0.25)  # a read timeout of 1 s
    try:
        with pytest.raises(ChainUnavailable, match="did not send a whole reply within") as err:
            with Registry.connect(node.url, registry_address=address, request_timeout=1) as reg:
                sync_index(tmp_path / "index.sqlite", reg)
    finally:
        node.close()
    assert node.hits >= 1
    assert f"within {REPLY_DEADLINE_FACTOR:g} s" in str(err.value)


class WrongShapeNode(_Node):
    """Answers ``method`` with a reply of the right id and the wrong shape: ``result`` null, a
    non-hex string, an object, or a JSON-RPC error whose message holds terminal escapes."""

    def __init__(self, upstream: str, method: str, reply: dict[str, Any]) -> None:
        self.reply = reply
        super().__init__(upstream, method)

    def hostile(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        request = json.loads(body)
        one = lambda item: {"jsonrpc": "2.0", "id": item.get("id"), **self.reply}  # noqa: E731
        out = json.dumps([one(i) for i in request] if isinstance(request, list)
                         else one(request)).encode()
        handler.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n"
                            b"Content-Length: %d\r\n\r\n" % len(out) + out)


@pytest.mark.parametrize(("reply", "expected"), [
    ({"result": None}, "the RPC endpoint sent a malformed reply"),
    ({"result": "zz"}, "the RPC endpoint sent a malformed reply"),
    ({"result": {"a": 1}}, "the RPC endpoint sent a malformed reply"),
    ({"error": {"code": -32000, "message": "\x1b[2Jnode is syncing"}},
     "the RPC endpoint refused: \\x1b[2Jnode is syncing (code -32000)"),
])
def test_a_reply_of_the_wrong_shape_says_whose_fault_it_is(devnet: Devnet, tmp_path: Path,
                                                           reply: dict[str, Any],
                                                           expected: str) -> None:
    """Hostile or broken node: a reply web3 cannot read was shown as Python's own words
    ("connect: int() argument must be ... not 'NoneType'"), an error reply as a dict repr.
    Now the message says the endpoint is at fault, and its words carry no raw control bytes."""
    address = devnet.call("keyanchor_registryAddress")
    node = WrongShapeNode(devnet.url, "eth_chainId", reply)
    try:
        out = _client(node.url, address, tmp_path / "index.sqlite")
    finally:
        node.close()
    assert node.hits, "the client never asked for eth_chainId"
    assert out.returncode == 3, f"exit {out.returncode}: {out.stdout}{out.stderr[-1500:]}"
    kind, _, message = out.stdout.partition(" | ")
    assert kind.strip() == "ChainError", out.stdout
    assert expected in message, message
    assert "\x1b" not in out.stdout and "Traceback" not in out.stderr
