"""Raw JSON-RPC over a web3 provider, with every reply checked for shape (no web3 formatters).

    rpc = Rpc.from_url("http://127.0.0.1:8545")
    head = quantity(rpc.call("eth_blockNumber", []), "eth_blockNumber")

Endpoint replies are untrusted input: anything not shaped as JSON-RPC and the
Ethereum API say (a reply that is not an object, no ``result``, batch replies
whose ids do not answer exactly the requests sent, hex that is not hex) raises
:class:`~registry.errors.ChainError`, never a ``KeyError``. Used by sync
(:mod:`registry.index._sync`) and the trust layer (:mod:`registry.chain.trust`).
"""

from __future__ import annotations

import binascii
import itertools
import re
from dataclasses import dataclass
from typing import Any

from registry._text import printable
from registry.errors import ChainError, ChainUnavailable, ConfigError, Error

__all__ = ["BATCH", "Log", "Rpc", "display_url", "hash32", "hex_data", "http_provider", "parse_logs",
           "quantity"]

#: JSON-RPC requests per batch.
BATCH = 250


class Rpc:
    """Raw JSON-RPC through a web3 provider (no formatters: fast, and hex in / hex out).

    Replies are untrusted: anything not shaped as JSON-RPC says (a reply that is
    not an object, no ``result``, batch replies whose ids do not answer exactly
    the requests sent) raises :class:`ChainError`, never a ``KeyError``.
    """

    def __init__(self, w3: Any, *, name: str | None = None) -> None:
        self.provider = w3.provider
        self.name = name or _provider_name(self.provider)

    @classmethod
    def from_url(cls, url: str, *, timeout: float = 30.0) -> Rpc:
        """An endpoint at ``url`` (http:// or https://) through web3's HTTP provider.

        Raises: ConfigError (another scheme).
        """
        return cls(_Web3Like(http_provider(url, timeout=timeout)), name=display_url(url))

    @staticmethod
    def _result(resp: Any, method: str) -> Any:
        if not isinstance(resp, dict):
            raise ChainError(f"{method}: malformed JSON-RPC response (not an object)")
        if resp.get("error"):
            err = resp["error"]
            msg = err.get("message", err) if isinstance(err, dict) else err
            code = err.get("code") if isinstance(err, dict) else None
            # the endpoint's words: no raw control characters (they reach stderr and logs)
            raise ChainError(f"{method}: the endpoint refused: {printable(str(msg), 300)}"
                             + (f" ({printable(str(code), 40)})" if code not in (None, "")
                                else ""))
        if "result" not in resp:
            raise ChainError(f"{method}: malformed JSON-RPC response (no result and no error)")
        return resp["result"]

    def call(self, method: str, params: list[Any]) -> Any:
        try:
            resp = self.provider.make_request(method, params)
        except Error:
            raise
        except Exception as exc:
            raise ChainUnavailable(f"{method}: {type(exc).__name__}: {exc}") from exc
        return self._result(resp, method)

    def _sent_ids(self, n: int) -> range | None:
        """The ids the provider will give the next ``n`` requests of a batch, when knowable.

        web3's JSON providers number requests from ``provider.request_counter``
        (an ``itertools.count``), one after the other within a batch: taking one
        number now tells the ids of the batch that follows.
        """
        counter = getattr(self.provider, "request_counter", None)
        if not isinstance(counter, itertools.count):
            return None
        base = next(counter) + 1
        return range(base, base + n)

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        out: list[Any] = []
        for i in range(0, len(calls), BATCH):
            chunk = calls[i:i + BATCH]
            what = f"{chunk[0][0]} batch of {len(chunk)}"
            expected = self._sent_ids(len(chunk))
            try:
                resps = self.provider.make_batch_request(chunk)
            except Error:
                raise
            except Exception as exc:
                raise ChainUnavailable(f"batch of {len(chunk)} requests: {exc}") from exc
            if isinstance(resps, dict):  # a single error for the whole batch
                self._result(resps, chunk[0][0])
                raise ChainError(f"{what}: the endpoint answered with one response")
            if not isinstance(resps, list | tuple):
                raise ChainError(f"{what}: malformed JSON-RPC batch response (not a list)")
            replies = self._match(resps, chunk, expected, what)
            out.extend(self._result(r, m) for r, (m, _) in zip(replies, chunk, strict=True))
        return out

    @staticmethod
    def _match(resps: list[Any] | tuple[Any, ...], chunk: list[tuple[str, list[Any]]],
               expected: range | None, what: str) -> list[Any]:
        """Pair each request with the reply carrying its id; any other reply set is refused."""
        by_id: dict[int, Any] = {}
        for r in resps:
            rid = r.get("id") if isinstance(r, dict) else None
            if not isinstance(rid, int) or isinstance(rid, bool):
                raise ChainError(f"{what}: a reply has no usable id ({rid!r})")
            if rid in by_id:
                raise ChainError(f"{what}: two replies with id {rid}")
            by_id[rid] = r
        if expected is None:
            # ids unknown (a provider without web3's request counter): the provider numbers
            # a batch consecutively, so the replies must carry n consecutive distinct ids
            lowest = min(by_id, default=0)
            expected = range(lowest, lowest + len(chunk))
        missing = [x for x in expected if x not in by_id]
        unexpected = sorted(set(by_id) - set(expected))
        if missing or unexpected:
            detail = []
            if missing:
                detail.append(f"no reply for id {', '.join(map(str, missing[:5]))}")
            if unexpected:
                detail.append(f"replies with unexpected id {', '.join(map(str, unexpected[:5]))}")
            raise ChainError(f"{what}: the replies do not answer the requests ({'; '.join(detail)})")
        return [by_id[x] for x in expected]


_HEX = re.compile(r"0x[0-9a-fA-F]*")


def hex_data(value: Any, what: str = "value") -> bytes:
    """Hex data of a reply (``0x``-prefixed, even length); ChainError when it is not."""
    # bytes.fromhex refuses anything but hex digits and whitespace (and an odd count of
    # digits); whitespace makes the bytes shorter than the text says: refused as well
    if isinstance(value, str) and value[:2] == "0x":
        try:
            out = bytes.fromhex(value[2:])
        except ValueError:
            pass
        else:
            if 2 * len(out) + 2 == len(value):
                return out
    raise ChainError(f"malformed JSON-RPC response: {what} is not hex data ({str(value)[:80]!r})")


def quantity(value: Any, what: str = "quantity") -> int:
    """A hex quantity of a reply; ChainError when it is not one."""
    if not isinstance(value, str) or not _HEX.fullmatch(value) or len(value) < 3:
        raise ChainError(f"malformed JSON-RPC response: {what} is not a hex quantity"
                         f" ({str(value)[:80]!r})")
    return int(value, 16)


def hash32(value: Any, what: str) -> bytes:
    out = hex_data(value, what)
    if len(out) != 32:
        raise ChainError(f"malformed JSON-RPC response: {what} is not a 32-byte hash")
    return out


@dataclass(frozen=True)
class Log:
    """One ``eth_getLogs`` entry, checked for shape (fields as the JSON-RPC spec types them)."""

    address: str
    topics: tuple[bytes, ...]
    data: bytes
    block: int
    block_hash: bytes
    log_index: int
    tx_hash: bytes
    removed: bool


def parse_logs(result: Any) -> list[Log]:
    """The ``eth_getLogs`` result as :class:`Log` objects; ChainError when it is malformed."""
    if result is None:
        return []
    if not isinstance(result, list):
        raise ChainError("eth_getLogs: malformed JSON-RPC response (the result is not a list)")
    out = []
    for i, lg in enumerate(result):
        try:
            out.append(_log_unchecked(lg))
        except Exception:  # the checked parse names what is wrong
            out.append(_log_checked(i, lg))
    out.sort(key=lambda lg: (lg.block, lg.log_index))
    return out


def _hex(value: Any) -> bytes:
    """:func:`hex_data` without the message (ValueError/TypeError/AttributeError when bad)."""
    if type(value) is not str or value[:2] != "0x":
        raise ValueError("not hex data")
    out = bytes.fromhex(value[2:])
    if 2 * len(out) + 2 != len(value):
        raise ValueError("not hex data")
    return out


def _quantity(value: str) -> int:
    """:func:`quantity` without the message (ValueError/TypeError/AttributeError when bad)."""
    digits = value[2:] if type(value) is str else ""
    if value[:2] != "0x" or not digits or not digits.isascii() or not digits.isalnum():
        raise ValueError("not a quantity")
    return int(digits, 16)


_fromhex = binascii.unhexlify
_new = object.__new__
_setattr = object.__setattr__


def _log_unchecked(lg: Any) -> Log:
    """One log as :func:`_log_checked` parses it, for the common case (a correct entry): any
    exception means 'ask :func:`_log_checked`', which accepts exactly the same entries.

    :func:`_hex` and :func:`_quantity` written out (a page parses ~10,000 logs), with
    ``unhexlify``, which refuses whitespace, odd lengths and anything but ASCII hex digits (after
    ``0x``, the text is then twice as long as the bytes plus two, as :func:`_hex` checks). The
    :class:`Log` is made with its fields set at once (a frozen dataclass's ``__init__`` sets them
    one by one through ``object.__setattr__``: a fifth of the parse)."""

    address, topics, removed = lg["address"], lg["topics"], lg.get("removed", False)
    data, bh, th = lg["data"], lg["blockHash"], lg["transactionHash"]
    number, index = lg["blockNumber"], lg["logIndex"]
    if type(topics) is not list or type(removed) is not bool or not isinstance(address, str) \
            or type(data) is not str or type(bh) is not str or type(th) is not str \
            or type(number) is not str or type(index) is not str or len(bh) != 66 \
            or len(th) != 66 or data[:2] != "0x" or bh[:2] != "0x" or th[:2] != "0x":
        raise ValueError("malformed")
    raw, block_hash, tx_hash = _fromhex(data[2:]), _fromhex(bh[2:]), _fromhex(th[2:])
    words = tuple([_fromhex(t[2:]) for t in topics if type(t) is str and t[:2] == "0x"])
    digits, idigits = number[2:], index[2:]
    if len(words) != len(topics) or number[:2] != "0x" or index[:2] != "0x" or not digits \
            or not idigits or not digits.isascii() or not idigits.isascii() \
            or not digits.isalnum() or not idigits.isalnum():
        raise ValueError("malformed")
    log = _new(Log)
    _setattr(log, "__dict__", {"address": address.lower(), "topics": words, "data": raw,
                               "block": int(digits, 16), "block_hash": block_hash,
                               "log_index": int(idigits, 16), "tx_hash": tx_hash,
                               "removed": removed})
    return log


def _log_checked(i: int, lg: Any) -> Log:
    """One ``eth_getLogs`` entry, every field checked; ChainError naming what is wrong."""
    where = f"eth_getLogs entry {i}"
    if not isinstance(lg, dict):
        raise ChainError(f"{where}: not an object")
    for key in ("address", "topics", "data", "blockNumber", "blockHash", "logIndex",
                "transactionHash"):
        if key not in lg:
            raise ChainError(f"{where}: no {key}")
    topics = lg["topics"]
    removed = lg.get("removed", False)
    if not isinstance(topics, list):
        raise ChainError(f"{where}: topics is not a list")
    if not isinstance(removed, bool):
        raise ChainError(f"{where}: removed is not a boolean")
    if not isinstance(lg["address"], str):
        raise ChainError(f"{where}: address is not a string")
    return Log(
        address=lg["address"].lower(),
        topics=tuple(hex_data(t, f"{where} topic") for t in topics),
        data=hex_data(lg["data"], f"{where} data"),
        block=quantity(lg["blockNumber"], f"{where} blockNumber"),
        block_hash=hash32(lg["blockHash"], f"{where} blockHash"),
        log_index=quantity(lg["logIndex"], f"{where} logIndex"),
        tx_hash=hash32(lg["transactionHash"], f"{where} transactionHash"),
        removed=removed,
    )


class _Web3Like:
    """Just a ``provider`` attribute, as :class:`Rpc` needs from a Web3."""

    def __init__(self, provider: Any) -> None:
        self.provider = provider


def display_url(url: str) -> str:
    """``url`` without user info or query (an API key in a URL never reaches a message)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    path = parts.path if len(parts.path) <= 1 else "/…"
    return f"{parts.scheme}://{host}{path}"


def _provider_name(provider: Any) -> str:
    uri = getattr(provider, "endpoint_uri", None)
    return display_url(str(uri)) if uri else type(provider).__name__


def http_provider(url: str, *, timeout: float = 30.0) -> Any:
    """web3's HTTP provider for ``url`` with a request timeout and two retries on
    connection errors. Raises ConfigError for anything but http:// or https://."""
    import requests
    from web3.providers.rpc.utils import ExceptionRetryConfiguration

    from registry.chain._rpcjson import bounded_http_provider

    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"unsupported RPC URL {display_url(url)!r} (http:// or https://)")
    return bounded_http_provider(  # replies bounded in size and nesting (ChainError)
        url,
        request_kwargs={"timeout": timeout},
        exception_retry_configuration=ExceptionRetryConfiguration(
            errors=(ConnectionError, requests.HTTPError, requests.Timeout),
            retries=2,
            backoff_factor=0.1,
        ),
    )
