"""JSON from the network with bounded size and nesting, checked before ``json.loads`` runs.

    data = loads_bounded(body, max_bytes=MAX_REQUEST_BYTES)   # ValueError subclass on excess
    provider = bounded_http_provider(url)                       # web3 provider, same checks

Python's JSON parser recurses once per nesting level. py-evm raises the
recursion limit to 12,288, so in a process that has imported it (the devnet,
any CLI run that touched the embedded chain) one request or reply of 99,000
nested arrays overflowed a thread's C stack: a segmentation fault, not an
exception. Every JSON document keyanchor reads from a socket goes through
:func:`loads_bounded` first:

* size: at most ``max_bytes``;
* nesting: at most :data:`MAX_DEPTH` levels (a JSON-RPC message needs 5);
* values: at most :data:`MAX_VALUES` commas (what a huge flat array costs in
  Python objects), so memory stays proportional to the bytes.

The checks are linear and run in C (bytes split/translate and one
possessive regex over the brackets left once strings are removed).
"""

from __future__ import annotations

import functools
import json
import re
import socket
import threading
from typing import Any

__all__ = [
    "MAX_DEPTH",
    "MAX_RESPONSE_BYTES",
    "MAX_VALUES",
    "REPLY_DEADLINE_FACTOR",
    "JSONLimitError",
    "bounded_http_provider",
    "check_json",
    "loads_bounded",
]

#: Deepest nesting accepted (a JSON-RPC batch of log objects with topic lists is 5 deep).
MAX_DEPTH = 64
#: Largest JSON-RPC reply read from a node (an eth_getLogs page over that is split by sync).
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
#: Most values (commas) in one document.
MAX_VALUES = 4_000_000
#: A JSON-RPC reply must arrive whole within this many read timeouts (120 s at the default 30).
REPLY_DEADLINE_FACTOR = 4


class JSONLimitError(ValueError):
    """A JSON document over the size, nesting or value-count limit (refused before parsing)."""


def _depth_regex(depth: int) -> re.Pattern[bytes]:
    # brackets only, balanced, at most ``depth`` deep: L0 = "", Lk = ([{] Lk-1 []}])*+ .
    # Possessive: no backtracking, so a fullmatch is linear; the bracket kinds are not paired
    # here (json.loads refuses "[}"), only the depth is bounded.
    inner = b""
    for _ in range(depth):
        inner = rb"(?:[\[{]" + inner + rb"[\]}])*+"
    return re.compile(inner)


_DEPTH = _depth_regex(MAX_DEPTH)
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_NOT_STRUCTURE = bytes(c for c in range(256) if c not in b"[]{},")
_NOT_STRUCTURE_OR_QUOTE = bytes(c for c in range(256) if c not in b'[]{},"')
_NOT_BRACKET = b","


def _skeleton_unescaped(data: bytes) -> bytes:
    """The structure characters outside strings of a document without backslashes.

    Without escapes every ``"`` opens or closes a string. Keeping only quotes and
    structure characters leaves each string as its quotes around the structure
    characters it holds; when no string holds any (a JSON-RPC reply: hex, names),
    removing ``""`` pairs left to right removes exactly the strings and leaves no
    quote (the first string holding one keeps its opening quote, as does an odd
    quote). Otherwise the strings are every other ``"``-separated piece.
    """
    marked = data.translate(None, _NOT_STRUCTURE_OR_QUOTE)
    outside = marked.replace(b'""', b"")
    if b'"' in outside:
        outside = b"".join(marked.split(b'"')[::2])
    return outside


def check_json(data: bytes, *, max_bytes: int, max_depth: int = MAX_DEPTH,
               max_values: int = MAX_VALUES) -> None:
    """Raise JSONLimitError when ``data`` is larger, deeper or has more values than allowed."""
    if len(data) > max_bytes:
        raise JSONLimitError(f"JSON document of {len(data)} bytes is larger than {max_bytes}")
    deep = data.count(b"[") + data.count(b"{") > max_depth
    many = data.count(b",") > max_values
    if not (deep or many):
        return  # too few brackets to nest deeper and too few commas (small messages)
    if b"\\" in data:
        skeleton = _STRING.sub(b"", data).translate(None, _NOT_STRUCTURE)
    else:
        skeleton = _skeleton_unescaped(data)
    if many and skeleton.count(b",") > max_values:
        raise JSONLimitError(f"JSON document has more than {max_values} values")
    if not deep:
        return
    brackets = skeleton.translate(None, _NOT_BRACKET)
    pattern = _DEPTH if max_depth == MAX_DEPTH else _depth_regex(max_depth)
    if pattern.fullmatch(brackets) is None:
        raise JSONLimitError(f"JSON nested deeper than {max_depth} levels (or unbalanced)")


def loads_bounded(data: bytes | str, *, max_bytes: int, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` after :func:`check_json`.

    Raises:
        JSONLimitError: over a limit (nothing was parsed).
        ValueError: not JSON (json.JSONDecodeError, UnicodeDecodeError).
    """
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    check_json(raw, max_bytes=max_bytes, max_depth=max_depth)
    return json.loads(raw)


class _Watch:
    """The sockets one reply is read on, so the caller can hang them up at the deadline.

    The reader thread registers each socket it sends on (:meth:`attach`); the caller,
    once the reply's deadline passes, calls :meth:`abandon`, which shuts them down: the
    reader's blocked ``recv`` returns at once and the thread ends, instead of waiting
    for a trickling endpoint to hang up (a long ``keyanchor watch`` piled up one blocked
    thread and socket per stalled reply). A socket attached after that is shut down at
    once.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._socks: list[socket.socket] = []
        self._abandoned = False

    def attach(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            self._socks.append(sock)
            if not self._abandoned:
                return
        self.abandon()

    def abandon(self) -> None:
        with self._lock:
            self._abandoned = True
            socks, self._socks = self._socks, []
        for sock in socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed


_reader = threading.local()  # .watch: the _Watch of the reply this thread reads


def _attach(sock: socket.socket | None) -> None:
    watch = getattr(_reader, "watch", None)
    if watch is not None:
        watch.attach(sock)


@functools.cache
def _tracking_adapter_class() -> type:
    """A requests adapter whose connections attach to the reading thread's :class:`_Watch`."""
    from requests.adapters import HTTPAdapter
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    def tracked(base: type) -> type:
        class Tracked(base):
            # http.client drops ``sock`` once a closing response holds it: the socket is
            # attached when connected and when reused, not looked up at the deadline
            def connect(self) -> None:
                super().connect()
                _attach(self.sock)

            def request(self, *args: Any, **kwargs: Any) -> None:
                _attach(self.sock)  # None when not yet connected: connect() attaches it
                super().request(*args, **kwargs)

        return Tracked

    class Pool(HTTPConnectionPool):
        ConnectionCls = tracked(HTTPConnection)

    class SPool(HTTPSConnectionPool):
        ConnectionCls = tracked(HTTPSConnection)

    pools = {"http": Pool, "https": SPool}

    class Adapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = pools

        def proxy_manager_for(self, *args: Any, **kwargs: Any) -> Any:
            manager = super().proxy_manager_for(*args, **kwargs)  # an HTTP(S)_PROXY's
            if hasattr(manager, "pool_classes_by_scheme"):
                manager.pool_classes_by_scheme = pools
            return manager

    return Adapter


@functools.cache
def _bounded_provider_class() -> type:
    """web3's HTTPProvider, reading replies up to MAX_RESPONSE_BYTES and parsing them bounded."""
    import requests
    from web3 import HTTPProvider
    from web3._utils.http_session_manager import HTTPSessionManager

    from registry._text import printable
    from registry.errors import ChainError, ChainUnavailable

    class _Session(HTTPSessionManager):
        def cache_and_return_session(self, endpoint_uri: Any, session: Any = None,
                                     request_timeout: Any = None) -> Any:
            if session is None and self._explicit_session is None:
                session = requests.Session()
                adapter = _tracking_adapter_class()()
                session.mount("http://", adapter)
                session.mount("https://", adapter)
            return super().cache_and_return_session(endpoint_uri, session, request_timeout)

        def make_post_request(self, endpoint_uri: Any, data: Any, **kwargs: Any) -> bytes:
            """The reply, whole within REPLY_DEADLINE_FACTOR x the read timeout: ``timeout``
            bounds each read only, so an endpoint trickling its headers or body a byte at
            a time held sync (and every caller) forever. Raises ChainUnavailable then, and
            hangs up the connection, so the reader thread ends too."""
            kwargs.setdefault("timeout", 30)
            kwargs["stream"] = True
            per_read = kwargs["timeout"]  # seconds, or requests' (connect, read) pair
            per_read = max(per_read) if isinstance(per_read, tuple) else per_read
            budget = None if per_read is None else REPLY_DEADLINE_FACTOR * float(per_read)
            box: list[tuple[bool, Any]] = []
            watch = _Watch()

            def fetch() -> None:
                _reader.watch = watch
                try:
                    box.append((True, self._read_reply(endpoint_uri, data, kwargs)))
                except BaseException as exc:  # re-raised in the caller's thread
                    box.append((False, exc))

            worker = threading.Thread(target=fetch, name="keyanchor-rpc-reply", daemon=True)
            worker.start()
            worker.join(budget)
            if not box:
                watch.abandon()  # the worker's recv returns; it ends without a reply
                raise ChainUnavailable(f"the RPC endpoint did not send a whole reply within"
                                       f" {budget or 0:g} s (a stalled or trickling endpoint)")
            done, value = box[0]
            if not done:
                raise value
            return bytes(value)

        def _read_reply(self, endpoint_uri: Any, data: Any, kwargs: dict[str, Any]) -> bytes:
            with self.get_response_from_post_request(endpoint_uri, data=data,
                                                     **kwargs) as response:
                response.raise_for_status()
                declared = response.headers.get("Content-Length")
                if declared and declared.isdigit() and int(declared) > MAX_RESPONSE_BYTES:
                    raise ChainError(_too_big(int(declared)))
                body = response.raw.read(MAX_RESPONSE_BYTES + 1, decode_content=True)
                if len(body) > MAX_RESPONSE_BYTES:
                    raise ChainError(_too_big(len(body)))
                return bytes(body)

    class BoundedHTTPProvider(HTTPProvider):
        """An HTTPProvider whose replies are size-, depth- and value-bounded (ChainError)."""

        def __init__(self, endpoint_uri: Any = None, request_kwargs: Any = None,
                     session: Any = None, **kwargs: Any) -> None:
            super().__init__(endpoint_uri, request_kwargs, session, **kwargs)
            self._request_session_manager = _Session(explicit_session=session)

        @staticmethod
        def decode_rpc_response(raw_response: bytes) -> Any:
            try:
                return loads_bounded(raw_response, max_bytes=MAX_RESPONSE_BYTES)
            except JSONLimitError as exc:
                raise ChainError(f"the RPC endpoint's reply was refused: {exc}") from exc
            except ValueError as exc:
                raise ChainError("the RPC endpoint's reply is not JSON") from exc

        def make_request(self, method: Any, params: Any) -> Any:
            """web3's ``make_request`` (no response cache), the reply's id checked: a reply
            carrying another request's id (a replayed or out-of-turn answer) was taken as
            this one's. Raises ChainError ("malformed reply") then; an error reply may carry
            a null id (JSON-RPC 2.0, when the server could not read the request's)."""
            request_data = self.encode_rpc_request(method, params)
            sent = json.loads(request_data)["id"]
            response = self.decode_rpc_response(self._make_request(method, request_data))
            rid = response.get("id") if isinstance(response, dict) else None
            same = rid == sent and type(rid) is type(sent)
            if not same and not (rid is None and isinstance(response, dict)
                                 and "error" in response and "result" not in response):
                raise ChainError(f"{printable(str(method), 80)}: the RPC endpoint sent a"
                                 f" malformed reply (id {printable(repr(rid), 40)} answers"
                                 f" request {sent})")
            return response

    return BoundedHTTPProvider


def _too_big(size: int) -> str:
    # "response size" lets sync halve an eth_getLogs page (registry.index._sync._RANGE_ERRORS)
    return (f"the RPC endpoint's reply is {size} bytes, over the response size limit of"
            f" {MAX_RESPONSE_BYTES}")


def bounded_http_provider(endpoint_uri: str, **kwargs: Any) -> Any:
    """A web3 ``HTTPProvider`` (same arguments) whose replies are read and parsed bounded.

    A reply over :data:`MAX_RESPONSE_BYTES`, nested deeper than :data:`MAX_DEPTH`,
    with more than :data:`MAX_VALUES` values, or not JSON raises ChainError.
    """
    return _bounded_provider_class()(endpoint_uri, **kwargs)
