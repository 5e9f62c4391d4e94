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


@functools.cache
def _bounded_provider_class() -> type:
    """web3's HTTPProvider, reading replies up to MAX_RESPONSE_BYTES and parsing them bounded."""
    from web3 import HTTPProvider
    from web3._utils.http_session_manager import HTTPSessionManager

    from registry.errors import ChainError, ChainUnavailable

    class _Session(HTTPSessionManager):
        def make_post_request(self, endpoint_uri: Any, data: Any, **kwargs: Any) -> bytes:
            """The reply, whole within REPLY_DEADLINE_FACTOR x the read timeout: ``timeout``
            bounds each read only, so an endpoint trickling its headers or body a byte at
            a time held sync (and every caller) forever. Raises ChainUnavailable then."""
            kwargs.setdefault("timeout", 30)
            kwargs["stream"] = True
            per_read = kwargs["timeout"]  # seconds, or requests' (connect, read) pair
            per_read = max(per_read) if isinstance(per_read, tuple) else per_read
            budget = None if per_read is None else REPLY_DEADLINE_FACTOR * float(per_read)
            box: list[tuple[bool, Any]] = []

            def fetch() -> None:
                try:
                    box.append((True, self._read_reply(endpoint_uri, data, kwargs)))
                except BaseException as exc:  # re-raised in the caller's thread
                    box.append((False, exc))

            worker = threading.Thread(target=fetch, name="keyanchor-rpc-reply", daemon=True)
            worker.start()
            worker.join(budget)
            if not box:  # the worker is left blocked on the socket; it holds nothing else
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
