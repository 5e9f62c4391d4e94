"""The bounded JSON check finds the same structure outside strings by its fast path as by
splitting at every quote, and refuses deep documents whatever their strings hold."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.chain._rpcjson import (
    _NOT_STRUCTURE,
    JSONLimitError,
    _skeleton_unescaped,
    check_json,
)


def _split_skeleton(data: bytes) -> bytes:
    """Without escapes, the strings are every other quote-separated piece."""
    return b"".join(data.split(b'"')[::2]).translate(None, _NOT_STRUCTURE)


@given(st.binary(max_size=40).map(lambda b: bytes(b'"[]{},a:'[x % 8] for x in b)))
def test_skeleton_of_any_unescaped_text_is_the_split_one(data: bytes) -> None:
    assert _skeleton_unescaped(data) == _split_skeleton(data)


@pytest.mark.parametrize("inside", [b"", b"0xab", b"[", b"]]]", b"{,", b'":"'])
def test_a_deep_reply_is_refused_whatever_its_strings_hold(inside: bytes) -> None:
    deep = b'{"result":"' + inside + b'","x":' + b"[" * 70 + b"]" * 70 + b"}"
    with pytest.raises(JSONLimitError, match="nested deeper than 64"):
        check_json(deep, max_bytes=1 << 20)
    shallow = b'{"result":"' + inside + b'","x":' + b"[" * 60 + b"]" * 60 + b"}"
    check_json(shallow, max_bytes=1 << 20)


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    doc = b'{"result":["' + b"[" * 100 + b'","' + b"{" * 100 + b'"]}'
    check_json(doc, max_bytes=1 << 20)


# --------------------------------------------------------------------------- hostile endpoints


class _Endpoint:
    """A loopback HTTP endpoint answering every POST with ``reply(request)``; ``trickle``
    sends that reply's headers and then one space every 0.05 s until the endpoint closes
    (each within the client's read timeout, the whole never)."""

    def __init__(self, reply: Any = None, *, trickle: bool = False) -> None:
        endpoint = self
        self.closed = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if trickle:
                    self.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n"
                                     b"Content-Length: 100000\r\n\r\n")
                    try:
                        while not endpoint.closed.wait(0.05):
                            self.wfile.write(b" ")
                            self.wfile.flush()
                    except OSError:
                        pass  # the client hung up: what a stalled reply should end in
                    return
                out = json.dumps(reply(request)).encode()
                self.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n"
                                 b"Content-Length: %d\r\n\r\n" % len(out) + out)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.closed.set()
        self.server.shutdown()
        self.server.server_close()


def _reply_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "keyanchor-rpc-reply"]


@pytest.mark.parametrize("proxied", [False, True], ids=["direct", "through-HTTP_PROXY"])
def test_stalled_replies_release_their_threads(proxied: bool,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A stalled reply left its reader thread blocked on the socket until the endpoint hung up:
    a long `keyanchor watch` against a trickling endpoint piled up one thread (and socket)
    per request. Now the socket is shut down when the reply's deadline passes (also when
    an HTTP proxy stalls)."""
    from registry.chain._rpcjson import bounded_http_provider
    from registry.errors import ChainUnavailable

    before = set(_reply_threads())
    node = _Endpoint(trickle=True)
    url = node.url
    for var in ("NO_PROXY", "no_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    if proxied:  # the stalling server is the proxy; the endpoint behind it is never reached
        monkeypatch.setenv("HTTP_PROXY", node.url)
        url = "http://192.0.2.1:8545"
    try:
        provider = bounded_http_provider(url, request_kwargs={"timeout": 0.25})
        for _ in range(4):
            with pytest.raises(ChainUnavailable, match="did not send a whole reply"):
                provider.make_request("eth_blockNumber", [])
        left = [t for t in _reply_threads() if t not in before]
        for thread in left:
            thread.join(10)  # released at once; 10 s only bounds a failing run
        assert [t for t in left if t.is_alive()] == []
    finally:
        node.close()


@pytest.mark.parametrize("rid", [7, "1", None, True])
def test_a_single_reply_with_another_id_is_malformed(rid: Any) -> None:
    """A reply to one request carrying another request's id was taken as the answer (an
    endpoint replaying an old reply, or answering out of turn). Now it is refused."""
    from registry.chain._rpcjson import bounded_http_provider
    from registry.errors import ChainError

    node = _Endpoint(lambda req: {"jsonrpc": "2.0", "id": rid, "result": "0x10"})
    try:
        provider = bounded_http_provider(node.url, request_kwargs={"timeout": 10})
        with pytest.raises(ChainError, match="the RPC endpoint sent a malformed reply"):
            provider.make_request("eth_blockNumber", [])
    finally:
        node.close()


def test_a_single_reply_with_its_own_id_and_an_error_without_id_are_read() -> None:
    from registry.chain._rpcjson import bounded_http_provider

    node = _Endpoint(lambda req: {"jsonrpc": "2.0", "id": req["id"], "result": "0x10"})
    refusing = _Endpoint(lambda req: {"jsonrpc": "2.0", "id": None,
                                      "error": {"code": -32600, "message": "no"}})
    try:
        assert bounded_http_provider(node.url).make_request("eth_blockNumber", [])["result"] == "0x10"
        reply = bounded_http_provider(refusing.url).make_request("eth_blockNumber", [])
        assert reply["error"]["message"] == "no"  # JSON-RPC: an error may carry a null id
    finally:
        node.close()
        refusing.close()


class _Replying:
    """A provider answering every request with ``reply`` (a web3 stand-in for Rpc)."""

    def __init__(self, reply: dict[str, Any]) -> None:
        self.provider = self
        self.reply = reply

    def make_request(self, method: str, params: Any) -> Any:
        return {"jsonrpc": "2.0", "id": 1, **self.reply}


def test_an_endpoints_words_reach_no_terminal_raw() -> None:
    """An endpoint's error message went raw into sync's errors and its `keyanchor: endpoint
    URL: ...` report lines on stderr: ESC[2J cleared the operator's terminal, a newline
    forged a line of its own. Now control characters are escaped (as other chain errors)."""
    from registry.chain._rpc import Rpc
    from registry.chain.trust import Quorum
    from registry.errors import ChainError

    hostile = {"error": {"code": -32000, "message": "\x1b[2Jnode\nkeyanchor: all good"}}
    with pytest.raises(ChainError) as err:
        Rpc(_Replying(hostile), name="a").call("eth_chainId", [])
    assert "\x1b" not in str(err.value) and "\n" not in str(err.value)
    assert "\\x1b[2Jnode" in str(err.value)

    honest = {"result": "0x7a69"}
    quorum = Quorum([Rpc(_Replying(hostile), name="liar"), Rpc(_Replying(honest), name="b"),
                     Rpc(_Replying(honest), name="c")], k=2)
    assert quorum.check_chain() == 31337
    (line,) = [str(d) for d in quorum.report]
    assert line.startswith("liar: ") and "\x1b" not in line and "\n" not in line, line
