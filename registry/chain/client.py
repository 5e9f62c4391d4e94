"""The KeyRegistry client: publish and look up keys on any EVM chain.

    reg = Registry.connect("http://127.0.0.1:8545", account=account, registry_address=addr)
    reg.register("example.org"); reg.publish("example.org", key, purposes=Purpose.SSH_HOST)

Every record a lookup returns is verified against the chain: the material taken
from the ``KeyPublished`` event must hash to the commitment the contract holds
(``keccak256(uint8(type) || material)``) and must parse, or the lookup raises
:class:`~registry.errors.VerificationError` naming the record. An RPC endpoint
that lies about material is caught, not believed.

Transactions are signed locally with an eth-account ``LocalAccount``; the
nonce is tracked locally so many transactions can be in flight
(:meth:`Registry.publish_many`, or ``wait=False`` on any write). Only
``registry.errors`` exceptions leave this module.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import eth_abi
from eth_utils import to_checksum_address

from registry._text import printable
from registry.chain._verified import event_data, key_record, selected, with_revocations
from registry.chain._verified import key_types as key_types_of
from registry.chain.records import (
    STATUSES,
    Attestation,
    HistoryEvent,
    KeyRecord,
    RevocationReason,
    TxResult,
    event_kind,
    from_timestamp,
    to_timestamp,
)
from registry.errors import (
    AccountError,
    ChainError,
    ChainUnavailable,
    ConfigError,
    ContractRevert,
    Error,
    InsufficientFunds,
    InvalidName,
    KeyAlreadyActive,
    KeyFormatError,
    KeyRevoked,
    NameNotFound,
    NameTaken,
    NotOwner,
    ProofError,
    RegistryNotFound,
    TransactionTimeout,
    VerificationError,
    WrongChain,
)
from registry.keys._common import Key, KeyType, Purpose, commitment
from registry.names import Name, keccak256, namehash, parse_name

if TYPE_CHECKING:  # pragma: no cover
    from web3 import Web3

__all__ = [
    "GAS_MARGIN",
    "PendingTx",
    "PublishRequest",
    "Registry",
]

#: Gas limit = estimate x GAS_MARGIN + GAS_HEADROOM. The headroom covers a storage slot
#: the estimate did not see: a pipelined send is estimated before the transactions ahead
#: of it are mined (a record landing in a fresh packed slot costs ~17k more). Unused gas
#: is not paid for.
GAS_MARGIN = 1.2
GAS_HEADROOM = 30_000
#: Seconds a fee quote is reused (pipelined sends do not re-ask for every transaction).
FEE_TTL = 2.0
ZERO32 = b"\x00" * 32
ZERO_ADDRESS = "0x" + "00" * 20

#: Registry.lookup's keyword arguments and their defaults (lookup_many takes the same).
_LOOKUP_OPTIONS: dict[str, Any] = {
    "key_types": None, "include_revoked": False, "include_expired": False,
    "include_pending": True, "attestations": False, "policy": None, "profile": None, "dns": None}
MaterialLoader = Callable[[KeyType, bytes], Key]
KeyInput = Key | bytes | bytearray | memoryview | str
TimeInput = datetime | int | None


# --------------------------------------------------------------------------- errors

#: Contract revert reasons (after ``KeyRegistry: ``) that have their own error class.
_REVERTS: dict[str, type[ContractRevert]] = {
    "name taken": NameTaken,
    "parent registered": NameTaken,
    "not admin": NotOwner,
    "not registrar": NotOwner,
    "name not found": NameNotFound,
    "not owner": NotOwner,
    "not owner or operator": NotOwner,
    "not parent owner": NotOwner,
    "key already active": KeyAlreadyActive,
    "key revoked": KeyRevoked,
    "already revoked": KeyRevoked,
}
_REASON = re.compile(r"KeyRegistry: ([a-z][a-z -]*[a-z])")
_ERROR_STRING = re.compile(r"(?:0x)?08c379a0([0-9a-fA-F]+)")
_NONCE_LOW = ("nonce too low", "nonce is too low", "invalid transaction nonce", "already been used")
_NO_FUNDS = (
    "insufficient funds",
    "does not have enough balance",
    "insufficient balance",
    "cannot afford",
)


def _error_text(exc: BaseException) -> str:
    parts = [str(exc)]
    for attr in ("message", "data", "rpc_response"):
        value = getattr(exc, attr, None)
        if value:
            parts.append(str(value))
    cause = exc.__cause__ or exc.__context__
    if cause is not None and cause is not exc:
        parts.append(str(cause))
    return " | ".join(parts)


def _revert_reason(text: str) -> str | None:
    """Find ``KeyRegistry: <problem>`` in an error text or in ABI-encoded revert data."""
    match = _REASON.search(text)
    if match:
        return match.group(1)
    for hexdata in _ERROR_STRING.findall(text):
        try:
            (decoded,) = eth_abi.decode(["string"], bytes.fromhex(hexdata[: len(hexdata) // 2 * 2]))
        except Exception:
            continue
        match = _REASON.search(decoded)
        if match:
            return match.group(1)
    return None


#: What the contract's terser reasons mean, for the one error line a user reads.
_REVERT_HINTS: dict[str, str] = {
    "bad expiry": "the expiry must be later than the latest block's time",
    "bad validity": "valid-until must be later than valid-from, both within the contract's time range",
    "attester blocked": "the name's owner has blocked this attester",
    "renounced": "the parent renounced its right to take this name back",
    "not durable": "its material is not kept in contract state; publish with --durable for that",
}


def _revert_error(reason: str, what: str) -> ContractRevert:
    cls = _REVERTS.get(reason, ContractRevert)
    hint = _REVERT_HINTS.get(reason)
    text = f"{what}: {reason} ({hint})" if hint else f"{what}: {reason}"
    return cls(text, reason=f"KeyRegistry: {reason}")


def _is_connection_error(exc: BaseException) -> bool:
    from web3.exceptions import ProviderConnectionError, RequestTimedOut

    if isinstance(exc, ProviderConnectionError | RequestTimedOut | ConnectionError | TimeoutError):
        return True
    try:
        import requests

        if isinstance(exc, requests.ConnectionError | requests.Timeout):
            return True
    except ImportError:  # pragma: no cover
        pass
    return False


def _chain_error(exc: BaseException, what: str) -> Error:
    """Turn any failure of a chain call into one of ``registry.errors``."""
    if isinstance(exc, Error):
        return exc
    text = _error_text(exc)
    reason = _revert_reason(text)
    if reason is not None:
        return _revert_error(reason, what)
    low = text.lower()
    if any(marker in low for marker in _NO_FUNDS):
        return InsufficientFunds(f"{what}: the account cannot pay for the transaction")
    if _is_connection_error(exc):
        return ChainUnavailable(f"{what}: the RPC endpoint does not answer ({type(exc).__name__})")
    if "revert" in low or type(exc).__name__ in {"ContractLogicError", "TransactionFailed"}:
        return ContractRevert(f"{what}: the contract refused (no reason given)")
    refusal = _rpc_refusal(exc)
    if refusal is not None:
        return ChainError(f"{what}: the RPC endpoint refused: {refusal}")
    if isinstance(exc, TypeError | ValueError | AttributeError | KeyError | IndexError):
        # web3's result formatters choking on a reply of the wrong shape ({"result": null},
        # a non-hex string, an object where a number belongs): the endpoint's fault
        return ChainError(f"{what}: the RPC endpoint sent a malformed reply"
                          f" ({printable(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, 300)})")
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return ChainError(f"{what}: {printable(first, 300)}")


def _rpc_refusal(exc: BaseException) -> str | None:
    """The message of a JSON-RPC error reply web3 raised as ``Web3RPCError``, else ``None``."""
    response = getattr(exc, "rpc_response", None)
    error = response.get("error") if isinstance(response, dict) else None
    if not isinstance(error, dict):
        return None
    message, code = error.get("message"), error.get("code")
    text = str(message) if message is not None else "no message"
    return printable(f"{text} (code {code})" if isinstance(code, int) else text, 300)


@contextmanager
def _translated(what: str) -> Iterator[None]:
    try:
        yield
    except Error:
        raise
    except Exception as exc:
        raise _chain_error(exc, what) from exc


# --------------------------------------------------------------------------- ABI


def _abi_type(param: dict[str, Any]) -> str:
    kind = str(param["type"])
    if kind.startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in param["components"])
        return f"({inner}){kind[5:]}"
    return kind


def _named(param: dict[str, Any], value: Any) -> Any:
    """Turn decoded struct tuples into dicts keyed by component name."""
    kind = str(param["type"])
    if not kind.startswith("tuple"):
        return value
    element = (
        {**param, "type": "tuple" + kind[5:].rsplit("[", 1)[0]} if kind.endswith("]") else None
    )
    if element is not None:
        return [_named(element, v) for v in value]
    return {c["name"]: _named(c, v) for c, v in zip(param["components"], value, strict=True)}


@dataclass(frozen=True)
class _Function:
    name: str
    selector: bytes
    inputs: tuple[str, ...]
    outputs: tuple[dict[str, Any], ...]

    def encode(self, args: Sequence[Any]) -> bytes:
        return self.selector + eth_abi.encode(list(self.inputs), list(args))

    def decode(self, data: bytes) -> Any:
        values = eth_abi.decode([_abi_type(o) for o in self.outputs], bytes(data))
        named = [_named(o, v) for o, v in zip(self.outputs, values, strict=True)]
        return named[0] if len(named) == 1 else tuple(named)


@dataclass(frozen=True)
class _Event:
    name: str
    topic: bytes
    indexed: tuple[tuple[str, str], ...]
    data: tuple[tuple[str, str], ...]

    def decode(self, log: Any) -> dict[str, Any]:
        from registry.chain._abi import decode_event

        return decode_event(self.name, self.topic, self.indexed, self.data,
                            [_hexbytes(t) for t in log["topics"]], _hexbytes(log["data"]))


class _Contract:
    """ABI of KeyRegistry, reduced to what the client needs (selectors, topics, codecs)."""

    def __init__(self, abi: list[dict[str, Any]], bytecode: bytes) -> None:
        self.bytecode = bytecode
        self.functions: dict[str, _Function] = {}
        self.events: dict[str, _Event] = {}
        self.by_topic: dict[bytes, _Event] = {}
        for item in abi:
            if item.get("type") == "function":
                inputs = tuple(_abi_type(p) for p in item.get("inputs", []))
                signature = f"{item['name']}({','.join(inputs)})"
                self.functions[item["name"]] = _Function(
                    item["name"],
                    keccak256(signature.encode())[:4],
                    inputs,
                    tuple(item.get("outputs", [])),
                )
            elif item.get("type") == "event":
                params = item.get("inputs", [])
                signature = f"{item['name']}({','.join(_abi_type(p) for p in params)})"
                event = _Event(
                    item["name"],
                    keccak256(signature.encode()),
                    tuple((p["name"], _abi_type(p)) for p in params if p.get("indexed")),
                    tuple((p["name"], _abi_type(p)) for p in params if not p.get("indexed")),
                )
                self.events[event.name] = event
                self.by_topic[event.topic] = event

    def fn(self, name: str) -> _Function:
        try:
            return self.functions[name]
        except KeyError:
            raise ConfigError(f"the KeyRegistry artifact has no function {name!r}") from None

    def event(self, name: str) -> _Event:
        try:
            return self.events[name]
        except KeyError:
            raise ConfigError(f"the KeyRegistry artifact has no event {name!r}") from None


_CONTRACT: _Contract | None = None


def _hexbytes(value: Any) -> bytes:
    if isinstance(value, str):
        return bytes.fromhex(value.removeprefix("0x"))
    return bytes(value)


def load_contract() -> _Contract:
    """The packaged KeyRegistry artifact, parsed once.

    Raises:
        ConfigError: the artifact is missing or malformed.
    """
    global _CONTRACT
    if _CONTRACT is None:
        try:
            from registry.artifacts import load_artifact

            artifact = load_artifact("KeyRegistry")
        except Error:
            raise
        except Exception as exc:
            raise ConfigError(f"cannot load the KeyRegistry artifact: {exc}") from exc
        try:
            art = artifact if isinstance(artifact, dict) else vars(artifact)
            code = art.get("bytecode") or art.get("deploy_bytecode") or art.get("bin")
            if isinstance(code, dict):
                code = code.get("object")
            _CONTRACT = _Contract(list(art["abi"]), _hexbytes(code or b""))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"the KeyRegistry artifact is malformed: {exc}") from exc
    return _CONTRACT


# --------------------------------------------------------------------------- helpers


def _name(name: str | Name) -> Name:
    return parse_name(name)


def _default_loader(key_type: KeyType, material: bytes) -> Key:
    from registry.chain._verified import parsed_material

    return parsed_material(key_type, material)


def _purposes(value: Purpose | int | str | None, key_type: KeyType) -> Purpose:
    from registry.publish import default_purposes

    return default_purposes(key_type, value)


def _policy_hash(value: bytes | str | None) -> bytes:
    if value is None:
        return ZERO32
    raw = _hexbytes(value) if isinstance(value, str) else bytes(value)
    if len(raw) != 32:
        raise ValueError("a policy hash is 32 bytes")
    return raw


@dataclass(frozen=True, slots=True)
class PublishRequest:
    """One key to publish in :meth:`Registry.publish_many` (fields as :meth:`Registry.publish`)."""

    name: str
    key: KeyInput
    key_type: KeyType | str | int | None = None
    purposes: Purpose | int | str | None = None
    valid_from: TimeInput = None
    valid_until: TimeInput = None
    proof: bytes = b""
    durable: bool = False


class PendingTx:
    """A sent transaction; :meth:`wait` returns its :class:`TxResult` or raises."""

    def __init__(self, registry: Registry, tx_hash: bytes, what: str, tx: dict[str, Any]) -> None:
        self.registry = registry
        self.tx_hash = tx_hash
        self.what = what
        self._tx = tx

    def __repr__(self) -> str:
        return f"<PendingTx {self.what} 0x{self.tx_hash.hex()}>"

    def wait(self, timeout: float | None = None, confirmations: int | None = None) -> TxResult:
        """Wait for the receipt (and ``confirmations`` blocks on top of it).

        Raises:
            TransactionTimeout: no receipt in time. ContractRevert (or a subclass):
            the transaction reverted. ChainUnavailable, ChainError.
        """
        return self.registry.wait_for_receipt(
            self.tx_hash,
            timeout=timeout,
            confirmations=confirmations,
            what=self.what,
            tx=self._tx,
        )


def _devnet_registry(url: str) -> str | None:
    """Ask a keyanchor devnet for its registry address (``keyanchor_registryAddress``)."""
    import json
    import urllib.request

    from registry.chain._rpcjson import loads_bounded

    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "keyanchor_registryAddress",
                       "params": []}).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            reply = loads_bounded(resp.read(65537), max_bytes=65536)
    except (OSError, ValueError) as exc:
        raise ChainUnavailable(f"the devnet at {url} does not answer ({exc})") from exc
    result = reply.get("result") if isinstance(reply, dict) else None
    return result if isinstance(result, str) else None


def _lean(w3: Web3) -> None:
    """Drop web3's validation middleware from a Web3 we own.

    It asks ``eth_chainId`` again around every call (three round trips per
    lookup instead of one); the client checks the chain id once, at connect,
    and signs with it.
    """
    try:
        w3.middleware_onion.remove("validation")
    except (ValueError, KeyError):  # already removed or never present
        pass


class _RpcRefused(Exception):
    """A JSON-RPC error reply (its message and data, for the revert and nonce checks)."""


def _raw_call(w3: Any, method: str, params: list[Any]) -> Any:
    """``method`` through the provider as plain JSON-RPC (no web3 formatters or middleware).

    Raises: _RpcRefused (an error reply), or whatever the provider raises.
    """
    resp = w3.provider.make_request(method, params)
    if not isinstance(resp, dict):
        raise ChainError(f"{method}: malformed JSON-RPC response (not an object)")
    err = resp.get("error")
    if err:
        if isinstance(err, dict):
            message, data = str(err.get("message", "")), err.get("data")
            raise _RpcRefused(message + (f" | {data}" if data else ""))
        raise _RpcRefused(str(err))
    if "result" not in resp:
        raise ChainError(f"{method}: malformed JSON-RPC response (no result and no error)")
    return resp["result"]


def _receipt(reply: Any, what: str) -> dict[str, Any] | None:
    """A JSON receipt as the fields the client reads (ints, bytes); None when there is none."""
    from registry.chain._rpc import hash32, hex_data, quantity

    if reply is None:
        return None
    if not isinstance(reply, dict) or not isinstance(reply.get("logs"), list):
        raise ChainError(f"{what}: malformed transaction receipt")
    logs = []
    for log in reply["logs"]:
        if not isinstance(log, dict) or not isinstance(log.get("topics"), list):
            raise ChainError(f"{what}: malformed log in the receipt")
        logs.append({"address": str(log.get("address", "")),
                     "topics": [hex_data(t, "a log topic") for t in log["topics"]],
                     "data": hex_data(log.get("data", "0x"), "log data")})
    price = reply.get("effectiveGasPrice")
    return {
        "transactionHash": hash32(reply.get("transactionHash"), "transactionHash"),
        "blockNumber": quantity(reply.get("blockNumber"), "blockNumber"),
        "gasUsed": quantity(reply.get("gasUsed"), "gasUsed"),
        "status": quantity(reply.get("status"), "status"),
        "effectiveGasPrice": quantity(price, "effectiveGasPrice") if price is not None else None,
        "contractAddress": reply.get("contractAddress"),
        "logs": logs,
    }


def _tx_json(tx: dict[str, Any]) -> dict[str, Any]:
    """A call/estimate object as JSON-RPC wants it (hex quantities and data)."""
    out: dict[str, Any] = {}
    for key, value in tx.items():
        if isinstance(value, bytes | bytearray):
            out[key] = "0x" + bytes(value).hex()
        elif isinstance(value, int) and not isinstance(value, bool):
            out[key] = hex(value)
        else:
            out[key] = value
    return out


# --------------------------------------------------------------------------- the client


class Registry:
    """A KeyRegistry on one chain, seen through one RPC endpoint (and optionally one account).

    Make one with :meth:`connect`, :meth:`from_web3` or :meth:`embedded`.
    """

    def __init__(
        self,
        w3: Web3,
        *,
        account: Any = None,
        registry_address: str | None = None,
        chain_id: int | None = None,
        confirmations: int = 0,
        timeout: float = 120.0,
        from_block: int = 0,
        material_loader: MaterialLoader | None = None,
        check: bool = True,
        closer: Callable[[], None] | None = None,
        trust: Any = None,
        head_ttl: float = 0.0,
        max_head_age: float | None = None,
    ) -> None:
        self.w3 = w3
        self.account = account
        self.confirmations = confirmations
        self.timeout = timeout
        self.from_block = from_block
        self.contract = load_contract()
        self._load_material = material_loader or _default_loader
        self._closer = closer
        self._lock = threading.RLock()
        self._nonce: int | None = None
        self._signer: tuple[Any, Any] | None = None  # (account, its coincurve key or None)
        self._fees: tuple[float, dict[str, int]] | None = None
        self._names: dict[bytes, str] = {}
        self._stamps: dict[bytes, datetime | None] = {}
        self._address: str | None = None
        self._private: bool | None = None
        self._root_checked: bytes | None = None
        with _translated("connect"):
            actual = int(w3.eth.chain_id)
        if chain_id is not None and actual != chain_id:
            raise WrongChain(
                f"the endpoint serves chain {actual}, not the configured chain {chain_id}"
            )
        self.chain_id = actual
        from registry.chain.trust import Quorum

        #: Which block reads trust (:class:`registry.chain.trust.Quorum`): by default this
        #: endpoint alone, at its latest block.
        self.trust: Quorum = trust if trust is not None else Quorum.single(w3, chain_id=actual)
        self.head_ttl = head_ttl
        self.max_head_age = max_head_age
        self._proven: Any = None
        if registry_address is not None:
            self._set_address(registry_address, check=check)

    # ----------------------------------------------------------------- constructors

    @classmethod
    def connect(
        cls,
        rpc_url: str | Sequence[str],
        *,
        quorum: int | None = None,
        trust_tag: str | int = "latest",
        head_ttl: float = 0.0,
        max_head_age: float | None = None,
        account: Any = None,
        registry_address: str | None = None,
        chain_id: int | None = None,
        confirmations: int = 0,
        timeout: float = 120.0,
        request_timeout: float = 30.0,
        from_block: int = 0,
        material_loader: MaterialLoader | None = None,
    ) -> Registry:
        """Connect to one or more JSON-RPC endpoints (``http(s)://``) of one chain.

        Transactions go to the first that serves the chain; reads are proven against
        a block that ``quorum`` of them (default: one, trusted alone) agree on at ``trust_tag``
        (``finalized``, ``safe``, ``latest`` or a number of confirmations); see
        :mod:`registry.chain.trust`. ``head_ttl`` reuses a trusted head for that
        many seconds; ``max_head_age`` refuses to read from a trusted head whose
        timestamp is older than that (a lagging or frozen endpoint).

        Raises:
            ChainUnavailable: the endpoint does not answer. WrongChain: the chain id
            differs from ``chain_id`` (or fewer than ``quorum`` endpoints serve it).
            RegistryNotFound: no contract code at ``registry_address``. ConfigError:
            unsupported URL, impossible quorum, unknown trust tag or missing artifact.
        """
        from web3 import Web3

        from registry.chain._rpc import Rpc, display_url, http_provider
        from registry.chain.trust import Quorum, TrustTag

        urls = [rpc_url] if isinstance(rpc_url, str) else list(rpc_url)
        if not urls:
            raise ConfigError("no RPC URL given")
        tag = TrustTag.parse(trust_tag)
        w3 = Web3(http_provider(urls[0], timeout=request_timeout))
        _lean(w3)
        endpoints = [Rpc(w3, name=display_url(urls[0]))]
        endpoints += [Rpc.from_url(u, timeout=request_timeout) for u in urls[1:]]
        trust = Quorum(endpoints, k=quorum or 1, tag=tag, chain_id=chain_id)
        if trust.n > 1:
            agreed = trust.check_chain(chain_id)
            if chain_id is None:
                chain_id = agreed
            if endpoints[0] not in trust.endpoints:
                # the first endpoint is down (a node restarting) or on another chain: the
                # quorum still stands, so read and send through the first one that serves
                # the chain (with w3 on the dead one every sync failed with "connect")
                w3 = Web3(http_provider(urls[endpoints.index(trust.endpoints[0])],
                                        timeout=request_timeout))
                _lean(w3)
        return cls(
            w3,
            account=account,
            registry_address=registry_address,
            chain_id=chain_id,
            confirmations=confirmations,
            timeout=timeout,
            from_block=from_block,
            material_loader=material_loader,
            trust=trust,
            head_ttl=head_ttl,
            max_head_age=max_head_age,
        )

    @classmethod
    def from_web3(
        cls,
        w3: Web3,
        *,
        account: Any,
        registry_address: str | None,
        chain_id: int | None = None,
        confirmations: int = 0,
        timeout: float = 120.0,
        from_block: int = 0,
        material_loader: MaterialLoader | None = None,
    ) -> Registry:
        """Wrap an existing ``Web3`` (any provider). Raises as :meth:`connect`."""
        return cls(
            w3,
            account=account,
            registry_address=registry_address,
            chain_id=chain_id,
            confirmations=confirmations,
            timeout=timeout,
            from_block=from_block,
            material_loader=material_loader,
        )

    @classmethod
    def embedded(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        account_index: int = 0,
        account: Any = None,
        material_loader: MaterialLoader | None = None,
    ) -> Registry:
        """Open the embedded py-evm chain (state file at ``path``, default under the data dir).

        The registry is deployed there on first use; ``account`` signs, or else
        development account ``account_index``. When a devnet serves the state
        file, the chain is reached through it. Close with :meth:`close` (or ``with``).

        Raises:
            ChainError (or a subclass), ConfigError: the chain cannot be opened.
        """
        from registry.chain.embedded import EmbeddedChain, default_state_path, devnet_url_for

        url = devnet_url_for(path if path is not None else default_state_path())
        if url is not None:  # a devnet serves this state file: go through it, never beside it
            from registry.chain.embedded import dev_accounts

            served = cls.connect(url, account=account or dev_accounts()[account_index],
                                 material_loader=material_loader,
                                 registry_address=_devnet_registry(url))
            return served
        chain = EmbeddedChain.open(path)
        try:
            _lean(chain.web3)
            return cls(
                chain.web3,
                account=account or chain.dev_accounts[account_index],
                registry_address=chain.registry_address,
                material_loader=material_loader,
                closer=chain.close,
            )
        except BaseException:
            chain.close()
            raise

    def close(self) -> None:
        """Release what this client opened (the embedded chain's state file)."""
        closer, self._closer = self._closer, None
        if closer is not None:
            closer()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- basics

    @property
    def address(self) -> str:
        """The registry's checksum address. Raises RegistryNotFound when none is configured."""
        if self._address is None:
            raise RegistryNotFound(
                "no registry address configured (deploy one, or give --registry)"
            )
        return self._address

    @property
    def sender(self) -> str:
        """The signing account's address. Raises AccountError when there is none."""
        if self.account is None:
            raise AccountError("no account configured: this operation sends a transaction")
        return str(self.account.address)

    def _set_address(self, address: str, *, check: bool = True) -> None:
        try:
            checksum = str(to_checksum_address(address))
        except (ValueError, TypeError):
            raise ConfigError(f"{address!r} is not an address") from None
        if check:
            with _translated("check registry"):
                code = self.w3.eth.get_code(checksum)  # type: ignore[arg-type]
            if not code:
                raise RegistryNotFound(
                    f"no contract at {checksum} on chain {self.chain_id} (a wrong registry"
                    " address, or a node restarted without its state: 'keyanchor deploy'"
                    " makes a new registry)")
        self._address = checksum

    def _call_raw(self, fn: str, args: Sequence[Any], what: str, block: Any = "latest") -> Any:
        func = self.contract.fn(fn)
        tx: dict[str, Any] = {"to": self.address, "data": func.encode(args)}
        with _translated(what):
            raw = self.w3.eth.call(tx, block)  # type: ignore[arg-type]
        try:
            return func.decode(raw)
        except Exception as exc:
            raise VerificationError(
                f"{what}: the endpoint returned undecodable data for {fn}()"
            ) from exc

    # ----------------------------------------------------------------- reads (proven)

    def state(self) -> Any:
        """The proven view of this registry (:class:`registry.chain._proven.ProvenState`)."""
        from registry.chain._proven import ProvenState

        key = (self.address, self.from_block, self.head_ttl, self.max_head_age)
        with self._lock:  # one ProvenState for every thread: concurrent lookups share requests
            if self._proven is None or self._proven[0] != key:
                self._proven = (key, ProvenState(self.address, self.trust,
                                                 from_block=self.from_block,
                                                 head_ttl=self.head_ttl,
                                                 max_head_age=self.max_head_age))
            return self._proven[1]

    def head(self) -> Any:
        """The block reads are proven against (:class:`registry.chain.trust.TrustedBlock`):
        the one ``trust`` agrees on. Raises: QuorumError, ChainError."""
        with _translated("trusted head"):
            return self.state().head()

    def _name_words(self, nodes: Iterable[bytes], what: str, head: Any = None) -> dict[bytes, Any]:
        with _translated(what):
            return dict(self.state().names(nodes, head or self.state().head(), what))

    def owner(self, name: str | Name) -> str | None:
        """The owner's checksum address, or ``None`` when the name is not registered.

        Proven: the name word (docs/CONTRACT.md) at the trusted head.
        Raises: InvalidName, VerificationError, ChainError.
        """
        parsed = _name(name)
        node = bytes(parsed.node)
        word, _parent = self._name_words([node], f"owner of {parsed}")[node]
        return None if word.owner == ZERO_ADDRESS else str(to_checksum_address(word.owner))

    def parent(self, name: str | Name) -> str | None:
        """The name this one was assigned under (``None`` for a top-level registration).

        Raises: InvalidName, NameNotFound, VerificationError, ChainError.
        """
        parsed = _name(name)
        node = bytes(parsed.node)
        word, parent = self._name_words([node], f"parent of {parsed}")[node]
        if word.owner == ZERO_ADDRESS:
            raise NameNotFound(f"{parsed} is not registered", reason="KeyRegistry: name not found")
        if parent == ZERO32:
            return None
        return self._name_of(parent)

    def renounced(self, name: str | Name) -> bool:
        """Whether the parent's owner gave up reclaiming this name. Raises: ChainError."""
        parsed = _name(name)
        node = bytes(parsed.node)
        return bool(self._name_words([node], f"renounced {parsed}")[node][0].renounced)

    def is_operator(self, name: str | Name, operator: str) -> bool:
        """Whether ``operator`` is approved by the name's current owner (proven: the
        operator slot against the name word's approval epoch). Raises: ChainError."""
        parsed = _name(name)
        what = f"operator check on {parsed}"
        with _translated(what):
            state = self.state()
            return bool(state.is_operator(bytes(parsed.node), self._addr(operator), state.head(),
                                          what))

    def records(self, name: str | Name) -> list[dict[str, Any]]:
        """The contract's raw records of a name in index order (status at the trusted head).

        Proven: the name word (record count) and each record's word at the
        trusted head; the commitments come from the name's ``KeyPublished``
        events (or, for a durable record, from state), and a record the count
        includes but no event accounts for is an error. Material is not checked
        here (:meth:`lookup` does).

        Raises: InvalidName, VerificationError (a record the endpoint's events do
        not account for), ChainError.
        """
        parsed = _name(name)
        return [rec for rec, _log in self._raw_records(parsed)]

    def record_count(self, name: str | Name) -> int:
        """Records ever published under a name (revoked ones included). Raises: ChainError."""
        parsed = _name(name)
        node = bytes(parsed.node)
        return int(self._name_words([node], f"record count of {parsed}")[node][0].record_count)

    def record_state(self, name: str | Name, commitment_: bytes) -> dict[str, Any] | None:
        """The raw state of the record with this commitment, or None (the ``records`` view:
        a convenience for the checks before a write, not evidence). Raises: ChainError."""
        parsed = _name(name)
        (rec,) = self._call_raw("records", [parsed.node, [bytes(commitment_)]], f"lookup {parsed}")
        return rec if int(rec["key_type"]) else None

    def _raw_records(self, parsed: Name, head: Any = None) -> list[tuple[dict[str, Any], Any]]:
        """(raw record, its KeyPublished log or None) for every index of the name, proven."""
        what = f"lookup {parsed}"
        with _translated(what):
            state = self.state()
            head = head or state.head()
            _word, proven = state.records(bytes(parsed.node), head, what)
        return [(_record_dict(p.commitment, p.word, head.timestamp),
                 _log_dict(p.log) if p.log is not None else None) for p in proven]

    def _require_registered(self, parsed: Name) -> None:
        if self.owner(parsed) is None:
            raise NameNotFound(f"{parsed} is not registered", reason="KeyRegistry: name not found")

    def _get_logs(self, topics: list[Any], what: str, from_block: int | None = None) -> list[Any]:
        flt: dict[str, Any] = {
            "address": self.address,
            "fromBlock": self.from_block if from_block is None else from_block,
            "toBlock": "latest",
            "topics": [
                ("0x" + t.hex())
                if isinstance(t, bytes)
                else (["0x" + x.hex() for x in t] if isinstance(t, list) else t)
                for t in topics
            ],
        }
        with _translated(what):
            return list(self.w3.eth.get_logs(flt))  # type: ignore[arg-type]

    def lookup(
        self,
        name: str | Name,
        *,
        key_types: Iterable[KeyType | str | int] | KeyType | str | int | None = None,
        include_revoked: bool = False,
        include_expired: bool = False,
        include_pending: bool = True,
        attestations: bool = False,
        policy: Any = None,
        profile: str | None = None,
        dns: Any = None,
    ) -> list[KeyRecord]:
        """The verified key records of a name, in index order.

        Against the trusted head (:meth:`head`): one ``eth_getLogs`` (the name's
        KeyPublished events, which say where to look) and one ``eth_getProof``
        proving the name word and every record word (status, validity, index,
        reason); each record's material must hash to its proven commitment.
        Lookups from several threads at once share these requests (the names
        asked while one request is in flight are proven together by the next;
        see :meth:`registry.chain._proven.ProvenState.records_now`); a lookup
        alone never waits. For many names at once, :meth:`lookup_many`. With
        ``attestations=True`` per record one ``eth_getLogs`` and one proof of
        each attester's attestation, policy hash and blocked flag.
        With ``policy`` (a policy file path, TOML text or Policy) or ``profile``,
        only records whose key passes :meth:`check_record` are returned.

        Raises:
            InvalidName, NameNotFound: the name is not registered.
            VerificationError: a record's material is missing, does not hash to the
                on-chain commitment, or does not parse.
            ChainUnavailable, ChainError.
        """
        parsed = _name(name)
        what = f"lookup {parsed}"
        with _translated(what):
            head, word, proven = self.state().records_now(bytes(parsed.node), what)
        return self._looked_up(parsed, head, word, proven, {
            "key_types": key_types, "include_revoked": include_revoked,
            "include_expired": include_expired, "include_pending": include_pending,
            "attestations": attestations, "policy": policy, "profile": profile, "dns": dns})

    def lookup_many(self, names: Iterable[str | Name], **options: Any) -> dict[str, list[KeyRecord]]:
        """:meth:`lookup` of many names at one trusted head: ``{name: records}``.

        Per 125 names one ``eth_getLogs`` and one ``eth_getProof`` (instead of one
        of each per name); every record is verified as :meth:`lookup` verifies it.
        ``options`` are :meth:`lookup`'s keyword arguments.

        Raises: as :meth:`lookup` (NameNotFound for the first name not registered).
        """
        unknown = sorted(set(options) - set(_LOOKUP_OPTIONS))
        if unknown:
            raise TypeError(f"lookup_many() got unexpected keyword arguments: {unknown}")
        parsed = list({p.text: p for p in (_name(n) for n in names)}.values())
        what = f"lookup of {len(parsed)} names"
        with _translated(what):
            state = self.state()
            head = state.head()
            proven = state.records_many([bytes(p.node) for p in parsed], head, what,
                                        {bytes(p.node): f"lookup {p}" for p in parsed})
        out = {}
        for p in parsed:
            word, records = proven[bytes(p.node)]
            out[p.text] = self._looked_up(p, head, word, records, options)
        return out

    def _looked_up(self, parsed: Name, head: Any, word: Any, proven: list[Any],
                   options: dict[str, Any]) -> list[KeyRecord]:
        """A lookup's records from the name's proven word and records at ``head``
        (``options``: :meth:`lookup`'s keyword arguments, defaults for those left out)."""
        opts = {**_LOOKUP_OPTIONS, **options}
        key_types, policy, profile = opts["key_types"], opts["policy"], opts["profile"]
        node = bytes(parsed.node)
        what = f"lookup {parsed}"
        if word.owner == ZERO_ADDRESS:
            raise NameNotFound(f"{parsed} is not registered", reason="KeyRegistry: name not found")
        raw = [(_record_dict(p.commitment, p.word, head.timestamp),
                _log_dict(p.log) if p.log is not None else None) for p in proven]
        if not raw:
            return []
        out = [self._verified_record(parsed, node, index, rec, [log] if log else [])
               for index, rec, log in selected(
                   raw, what, key_types=key_types_of(key_types),
                   include_revoked=opts["include_revoked"], include_expired=opts["include_expired"],
                   include_pending=opts["include_pending"])]
        if any(r.status == "revoked" for r in out):
            out = self._with_revocations(parsed, out)
        if opts["attestations"] or policy is not None or profile is not None:
            out = [self._with_attestations(r) for r in out]
        if policy is not None or profile is not None:
            squat = self.squatted_by(parsed) or False
            verdict = self.dns_control(parsed, opts["dns"]) if opts["dns"] is not None else None
            out = [r for r in out if self.check_record(
                r, policy=policy, profile=profile, squatted_by=squat, dns=verdict).passed]
        return out

    def squatted_by(self, name: str | Name) -> str | None:
        """The registered domain that registered ``name`` squats in, or ``None``.

        The rule is :func:`registry.names.squatted_by` (the index's readers
        apply the same): owner and parent of the name and of each of its DNS
        suffixes, proven in one ``eth_getProof``.

        Raises: InvalidName, ChainError.
        """
        from registry.names import squatted_by

        parsed = _name(name)
        labels = parsed.labels
        suffixes = ([parsed.text] if parsed.is_person else []) + [
            ".".join(labels[i:]) for i in range(len(labels))]
        by_node = {bytes(namehash(s)): s for s in suffixes}
        words = self._name_words(list(by_node), f"names above {parsed}")
        parents: dict[str, str | None] = {}
        for node, text in by_node.items():
            word, pnode = words[node]
            if word.owner != ZERO_ADDRESS:
                parents[text] = by_node.get(pnode)
        return squatted_by(parsed.text, parents) if parsed.text in parents else None

    def dns_control(self, name: str | Name, settings: Any = None) -> Any:
        """The DNS-control verdict (:class:`registry.dnscontrol.DnsVerdict`) of a name's
        top-level registered ancestor against its on-chain owner.

        Raises: NameNotFound, ChainError (DNS trouble is the ``unavailable`` verdict).
        """
        from registry.dnscontrol import check_dns_control

        top = _name(name)
        for _ in range(256):
            parent = self.parent(top)
            if parent is None:
                break
            top = _name(parent)
        owner = self.owner(top)
        if owner is None:
            raise NameNotFound(f"{top} is not registered", reason="KeyRegistry: name not found")
        return check_dns_control(top.text, owner, settings=settings)

    def _with_revocations(self, parsed: Name, records: list[KeyRecord]) -> list[KeyRecord]:
        """Attach each revoked record's ``revocation`` bytes from its KeyRevoked event."""
        event = self.contract.event("KeyRevoked")
        found: dict[bytes, bytes] = {}
        for log in self._get_logs([event.topic, bytes(parsed.node)], f"revocations of {parsed}"):
            try:
                data = event.decode(log)
            except Exception:
                continue
            found.setdefault(bytes(data["commitment"]), bytes(data["revocation"]))
        return with_revocations(records, found)

    def check_record(
        self,
        record: KeyRecord,
        *,
        policy: Any = None,
        profile: str | None = None,
        at: datetime | None = None,
        squatted_by: str | bool | None = None,
        dns: Any = None,
    ) -> Any:
        """Run the policy checker over a looked-up record and return its Report.

        ``dns`` is the DNS-control verdict of the name's domain (:meth:`dns_control`),
        which ``name.dns_control`` judges (the ``strict`` profile requires a match).

        The proof is checked against the statement for this chain, registry,
        name, the name's current owner and the record's commitment; the
        squatting rule (``binding.domain_chain``) with :meth:`squatted_by`
        (computed unless given).

        Raises:
            ConfigError: bad policy file or unknown profile. ChainError.
        """
        from registry.chain._checking import check_looked_up

        return check_looked_up(self, record, policy=policy, profile=profile, at=at,
                               squatted_by=squatted_by, dns=dns)

    def _verified_record(
        self,
        parsed: Name,
        node: bytes,
        index: int,
        rec: dict[str, Any],
        logs: list[Any],
    ) -> KeyRecord:
        what = f"{parsed} record {index}"
        key_type = KeyType(rec["key_type"])
        expected = bytes(rec["commitment"])
        published = self.contract.event("KeyPublished")
        found: tuple[bytes, bytes, Any] | None = None
        problem = "the endpoint returned no KeyPublished event for it"
        for log in logs:
            if str(log.get("address", "")).lower() != self.address.lower() or log.get("removed"):
                problem = "the endpoint returned an event from elsewhere"
                continue
            try:
                event = published.decode(log)
            except Exception:
                problem = "the endpoint returned a malformed KeyPublished event"
                continue
            if bytes(event["node"]) != node or int(event["index"]) != index:
                problem = "the endpoint returned an event of another record"
                continue
            material = bytes(event["material"])
            if (
                commitment(key_type, material) != expected
                or bytes(event["commitment"]) != expected
                or int(event["key_type"]) != key_type
            ):
                problem = "the published material does not hash to the on-chain commitment"
                continue
            found = (material, bytes(event["proof"]), log)
            break
        if found is None and rec["durable"]:
            material = bytes(self._call_raw("material", [node, expected], f"material of {what}"))
            if commitment(key_type, material) == expected:
                found = (material, b"", None)
            else:
                problem = "the durable material does not hash to the on-chain commitment"
        if found is None:
            raise VerificationError(f"{what} does not verify: {problem}")
        material, proof, log = found
        try:
            key = self._load_material(key_type, material)
        except KeyFormatError as exc:
            raise VerificationError(
                f"{what} does not verify: its material does not parse ({exc})"
            ) from exc
        return key_record(parsed.text, node, index, rec, material, proof, key,
                          int(log["blockNumber"]) if log is not None else None,
                          bytes(log["transactionHash"]) if log is not None else None)

    def _block_time(self, log: Any) -> datetime | None:
        """Timestamp of the block holding ``log`` (cached by block hash)."""
        key = bytes(log["blockHash"])
        if key not in self._stamps:
            with _translated("block time"):
                block = self.w3.eth.get_block(key)  # type: ignore[arg-type]
            if bytes(block["hash"]) != key:
                raise VerificationError("the endpoint returned another block than asked for")
            self._stamps[key] = from_timestamp(int(block["timestamp"]))
        return self._stamps[key]

    def attestations(
        self, name: str | Name, record: int | bytes, *, include_blocked: bool = False
    ) -> list[Attestation]:
        """The live attestations of a record (by index or commitment), oldest attester first.

        Attesters come from the record's ``Attested`` events (where to look),
        their state from one ``eth_getProof`` at the trusted head (attestation,
        policy hash and blocked slots).
        Attestations by attesters the subject blocked do not count and are left
        out unless ``include_blocked``.

        Raises: InvalidName, ContractRevert (no such record), ChainError.
        """
        parsed = _name(name)
        node = bytes(parsed.node)
        c = self._commitment_of(parsed, record)
        what = f"attestations of {parsed}"
        with _translated(what):
            state = self.state()
            head = state.head()
            attesters = state.attesters(node, c, head, what)
            proven = state.attestations(node, c, attesters, head, what)
        out = []
        for item in proven:
            if not item.word.attested_at or (item.blocked and not include_blocked):
                continue
            try:
                attester_name: str | None = self._name_of(item.attester)
            except Error:
                attester_name = None
            out.append(
                Attestation(
                    attester=attester_name,
                    attester_node=item.attester,
                    policy_hash=item.policy_hash,
                    expires=from_timestamp(item.word.expires),
                    attested_at=from_timestamp(item.word.attested_at),
                    blocked=item.blocked,
                )
            )
        return out

    def _commitment_of(self, parsed: Name, record: int | bytes | bytearray, what: str = "") -> bytes:
        """A record reference (index, or 32-byte commitment) as the commitment.

        Raises: ContractRevert (no such record), VerificationError, ChainError.
        """
        if isinstance(record, bytes | bytearray | memoryview):
            c = bytes(record)
            if len(c) != 32:
                raise ValueError("a commitment is 32 bytes")
            return c
        index = int(record)
        raw = self._raw_records(parsed)
        if not 0 <= index < len(raw):
            if not raw:
                self._require_registered(parsed)
            raise ContractRevert(f"{what + ': ' if what else ''}{parsed} has no record {index}",
                                 reason="KeyRegistry: no such record")
        return bytes(raw[index][0]["commitment"])

    def event_digest(self, block: int | str = "latest") -> tuple[bytes, int]:
        """The contract's event digest word and event count at ``block`` (``"latest"``:
        the trusted head; a number: that block as the quorum agrees on it), proven
        from slot 0 (see :mod:`registry.chain.layout`). Raises: QuorumError, ChainError."""
        with _translated("event digest"):
            state = self.state()
            head = state.head() if block == "latest" else self.trust.block(int(block))
            word = state.digest(head)
        return word, int.from_bytes(word, "big") >> 216

    def _with_attestations(self, record: KeyRecord) -> KeyRecord:
        import dataclasses

        return dataclasses.replace(
            record, attestations=tuple(self.attestations(record.name, record.commitment))
        )

    def _name_of(self, node: bytes) -> str:
        """The text of a node, from its NameRegistered event (checked by namehash)."""
        if node in self._names:
            return self._names[node]
        event = self.contract.event("NameRegistered")
        logs = self._get_logs([event.topic, node], "resolve name")
        for log in logs:
            try:
                data = event.decode(log)
                label = str(data["label"])
                parent = bytes(data["parent"])
                if parent == ZERO32:
                    text = label
                else:
                    text = f"{label}{'@' if data['person'] else '.'}{self._name_of(parent)}"
                if bytes(namehash(text)) == node:
                    self._names[node] = text
                    return text
            except (Error, ValueError, KeyError):
                continue
        raise VerificationError(f"no verifiable NameRegistered event for node 0x{node.hex()}")

    def history(self, name: str | Name) -> list[HistoryEvent]:
        """Every contract event about a name, oldest first.

        Raises: InvalidName, NameNotFound, ChainError.
        """
        parsed = _name(name)
        node = bytes(parsed.node)
        topics = [[e.topic for e in self.contract.events.values()], node]
        logs = self._get_logs(topics, f"history of {parsed}")
        if not logs:
            self._require_registered(parsed)
        logs.sort(key=lambda lg: (int(lg["blockNumber"]), int(lg["logIndex"])))
        out = []
        for log in logs:
            event = self.contract.by_topic.get(bytes(log["topics"][0]))
            if event is None:
                continue
            try:
                data = event.decode(log)
            except Exception as exc:
                raise VerificationError(
                    f"history of {parsed}: malformed {event.name} event"
                ) from exc
            if bytes(data.get("node", b"")) != node:
                raise VerificationError(f"history of {parsed}: event of another name returned")
            out.append(
                HistoryEvent(
                    kind=event_kind(event.name, data),
                    name=parsed.text,
                    block_number=int(log["blockNumber"]),
                    log_index=int(log["logIndex"]),
                    tx_hash=bytes(log["transactionHash"]),
                    timestamp=self._block_time(log),
                    data=event_data(event.name, data, self._name_of),
                )
            )
        return out

    # ----------------------------------------------------------------- transactions

    def _addr(self, address: str) -> str:
        try:
            return str(to_checksum_address(address))
        except (ValueError, TypeError):
            raise ConfigError(f"{address!r} is not an address") from None

    def _fee_fields(self) -> dict[str, int]:
        now = time.monotonic()
        if self._fees is not None and now - self._fees[0] < FEE_TTL:
            return self._fees[1]
        with _translated("fee estimate"):
            block = self.w3.eth.get_block("latest")
            base = block.get("baseFeePerGas")
            if base is None:
                fields = {"gasPrice": int(self.w3.eth.gas_price)}
            else:
                try:
                    tip = int(self.w3.eth.max_priority_fee)
                except Exception:
                    tip = max(int(self.w3.eth.gas_price) - int(base), 1)
                fields = {"maxFeePerGas": int(base) * 2 + tip, "maxPriorityFeePerGas": tip}
        self._fees = (now, fields)
        return fields

    def _estimate(self, tx: dict[str, Any], what: str) -> int:
        from registry.chain._rpc import quantity

        with _translated(what):
            estimate = quantity(_raw_call(self.w3, "eth_estimateGas", [_tx_json(tx)]),
                                "eth_estimateGas")
        return int(estimate * GAS_MARGIN) + GAS_HEADROOM

    def _next_nonce(self) -> int:
        if self._nonce is None:
            with _translated("nonce"):
                self._nonce = int(self.w3.eth.get_transaction_count(self.sender, "pending"))  # type: ignore[arg-type]
        return self._nonce

    def send(
        self,
        fn: str | None,
        args: Sequence[Any],
        *,
        what: str,
        gas: int | None = None,
    ) -> PendingTx:
        """Sign and send one transaction without waiting.

        ``fn=None`` deploys the contract; ``args`` are then the constructor's
        ``(suffix_root, private_mode, admin)``.

        Raises: AccountError, ContractRevert (found at gas estimation), InsufficientFunds,
        ChainUnavailable, ChainError.
        """
        sender = self.sender
        if fn is None:
            data = self.contract.bytecode + (
                eth_abi.encode(["bytes32", "bool", "address"], list(args)) if args else b""
            )
            base: dict[str, Any] = {"from": sender, "data": data}
        else:
            data = self.contract.fn(fn).encode(args)
            base = {"from": sender, "to": self.address, "data": data}
        if gas is None:
            gas = self._estimate(base, what)
        fees = self._fee_fields()
        with self._lock:
            for attempt in range(3):
                nonce = self._next_nonce()
                tx = {
                    **base,
                    "value": 0,
                    "gas": gas,
                    "nonce": nonce,
                    "chainId": self.chain_id,
                    **fees,
                }
                tx.pop("from")
                if "maxFeePerGas" in fees:
                    tx["type"] = 2
                try:
                    raw = self._sign(tx)
                except Exception as exc:
                    raise AccountError(
                        f"{what}: the account cannot sign ({type(exc).__name__})"
                    ) from None
                try:
                    from registry.chain._rpc import hash32

                    tx_hash = hash32(_raw_call(self.w3, "eth_sendRawTransaction",
                                               ["0x" + raw.hex()]),
                                     "eth_sendRawTransaction")
                except Exception as exc:
                    low = _error_text(exc).lower()
                    if attempt < 2 and any(m in low for m in _NONCE_LOW):
                        self._nonce = None  # someone else used the account: resync
                        continue
                    if "underpriced" in low or "max fee per gas less than" in low:
                        self._fees = None
                        if attempt < 2:
                            fees = self._fee_fields()
                            continue
                    raise _chain_error(exc, what) from exc
                self._nonce = nonce + 1
                return PendingTx(self, tx_hash, what, {**base, "gas": gas})
        raise ChainError(f"{what}: could not find a usable nonce")  # pragma: no cover

    def _sign(self, tx: dict[str, Any]) -> bytes:
        """``tx`` signed by the account, raw: a local key's EIP-1559 transaction with
        coincurve directly (the same bytes, without eth-account's layers), else by
        eth-account."""
        from registry.chain._sign import sign_dynamic_fee

        account = self.account
        cached = self._signer
        if cached is None or cached[0] is not account:
            signer = None
            key = getattr(account, "key", None)
            if type(account).__name__ == "LocalAccount" and isinstance(key, bytes) \
                    and len(key) == 32:
                from coincurve import PrivateKey

                signer = PrivateKey(bytes(key))
            cached = self._signer = (account, signer)
        raw = sign_dynamic_fee(cached[1], tx) if cached[1] is not None else None
        if raw is None:
            raw = bytes(account.sign_transaction(tx).raw_transaction)
        return raw

    def wait_for_receipt(
        self,
        tx_hash: bytes,
        *,
        timeout: float | None = None,
        confirmations: int | None = None,
        what: str = "transaction",
        tx: dict[str, Any] | None = None,
    ) -> TxResult:
        """Wait for a transaction's receipt and ``confirmations`` blocks on top of it.

        Raises: TransactionTimeout, ContractRevert (receipt status 0, reason replayed
        when ``tx`` is given), ChainUnavailable, ChainError.
        """
        timeout = self.timeout if timeout is None else timeout
        confirmations = self.confirmations if confirmations is None else confirmations
        deadline = time.monotonic() + timeout
        delay = 0.002
        shown = "0x" + bytes(tx_hash).hex()
        while True:
            with _translated(what):
                receipt = _receipt(_raw_call(self.w3, "eth_getTransactionReceipt", [shown]),
                                   what)
            if receipt is not None and confirmations > 0:
                with _translated(what):
                    head = int(self.w3.eth.block_number)
                if head < int(receipt["blockNumber"]) + confirmations:
                    receipt = None
            if receipt is not None:
                break
            if time.monotonic() >= deadline:
                raise TransactionTimeout(
                    f"{what}: no receipt for {shown} within {timeout:g}s"
                    + (f" and {confirmations} confirmations" if confirmations else "")
                    + " (it may still be mined)"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
        if int(receipt["status"]) != 1:
            raise self._failed(receipt, what, tx)
        return self._result(receipt)

    def _failed(self, receipt: Any, what: str, tx: dict[str, Any] | None) -> Error:
        if tx is not None:
            block = max(int(receipt["blockNumber"]) - 1, 0)
            try:
                self.w3.eth.call(tx, block)  # type: ignore[arg-type]
            except Exception as exc:
                error = _chain_error(exc, what)
                if isinstance(error, ContractRevert):
                    return error
        if tx is not None and int(receipt["gasUsed"]) >= int(tx.get("gas", 1 << 256)):
            return ContractRevert(f"{what}: the transaction ran out of gas")
        return ContractRevert(
            f"{what}: the transaction reverted (0x{bytes(receipt['transactionHash']).hex()})"
        )

    def _result(self, receipt: Any) -> TxResult:
        node: bytes | None = None
        index: int | None = None
        for log in receipt["logs"]:
            if self._address is None or str(log["address"]).lower() != self._address.lower():
                continue
            topics = [bytes(t) for t in log["topics"]]
            if not topics:
                continue
            event = self.contract.by_topic.get(topics[0])
            if event is None:
                continue
            if event.name == "NameRegistered" and node is None:
                node = topics[1]
            elif event.name == "KeyPublished":
                node, index = topics[1], int.from_bytes(topics[2], "big")
        contract = receipt.get("contractAddress")
        return TxResult(
            tx_hash=bytes(receipt["transactionHash"]),
            block_number=int(receipt["blockNumber"]),
            gas_used=int(receipt["gasUsed"]),
            effective_gas_price=(
                int(receipt["effectiveGasPrice"])
                if receipt.get("effectiveGasPrice") is not None
                else None
            ),
            node=node,
            index=index,
            contract_address=str(to_checksum_address(contract)) if contract else None,
        )

    def _transact(self, fn: str, args: Sequence[Any], what: str, wait: bool) -> Any:
        pending = self.send(fn, args, what=what)
        return pending.wait() if wait else pending

    # ----------------------------------------------------------------- writes

    def deploy(
        self,
        *,
        private: bool = False,
        admin: str | None = None,
        suffix_list: bytes | None = None,
    ) -> str:
        """Deploy the packaged KeyRegistry; this client then uses it. Returns its address.

        Public mode (default) commits to the Merkle root of the Public Suffix List
        (``suffix_list`` text, default the one bundled with ``publicsuffixlist``):
        anyone registers registrable domains. ``private=True``: only ``admin``
        and the registrars it names register top-level names. ``admin``
        (default: the deploying account) may later commit a new suffix list
        (:meth:`set_suffix_root`), name registrars and hand its role on.

        Raises: AccountError, InsufficientFunds, ConfigError (unreadable suffix list), ChainError.
        """
        from registry.psl import build_suffix_tree, suffix_tree

        root = ZERO32
        if not private:
            tree = suffix_tree() if suffix_list is None else build_suffix_tree(suffix_list)
            root = tree.root
        admin_address = self._addr(admin) if admin is not None else self.sender
        pending = self.send(None, (root, bool(private), admin_address), what="deploy KeyRegistry")
        result = pending.wait()
        if result.contract_address is None:
            raise ChainError("deploy KeyRegistry: the receipt names no contract address")
        self._set_address(result.contract_address)
        self.from_block = result.block_number
        return result.contract_address

    def private_mode(self) -> bool:
        """Whether the registry is private (only the admin and registrars register). Raises: ChainError."""
        if self._private is None:
            self._private = bool(self._call_raw("PRIVATE_MODE", [], "registry mode"))
        return self._private

    def suffix_root(self) -> bytes:
        """The committed suffix-list root. Raises: ChainError."""
        return bytes(self._call_raw("suffix_root", [], "suffix root"))

    def admin(self) -> str:
        """The registry admin's address (zero when given up). Raises: ChainError."""
        return str(to_checksum_address(self._call_raw("admin", [], "registry admin")))

    def suffix_proof(self, name: str | Name) -> Any:
        """The suffix-list proof ``register`` needs for a DNS name (a :class:`registry.psl.SuffixProof`).

        Raises: InvalidName (a person name), ConfigError (this keyanchor's bundled
        list is not the one the registry committed to), ChainError.
        """
        from registry.psl import suffix_tree

        parsed = _name(name)
        if parsed.is_person:
            raise InvalidName(f"{parsed} is a person name: its domain's owner assigns it")
        tree = suffix_tree()
        if self._root_checked != tree.root:
            onchain = self.suffix_root()
            if onchain != tree.root:
                raise ConfigError(
                    f"the registry commits to suffix list 0x{onchain.hex()[:16]}…, this keyanchor"
                    f" bundles 0x{tree.root.hex()[:16]}… (publicsuffixlist): install the version"
                    " the registry was deployed with, or ask its admin to update the root"
                    " (keyanchor deploy --update-suffix-list)")
            self._root_checked = tree.root
        return tree.prove(parsed.text)

    def register(self, name: str | Name, *, wait: bool = True) -> Any:
        """Register a top-level name for the account.

        Public registry: a registrable domain (a public suffix plus one label,
        ``example.org``, ``example.co.uk``), first come, first served; the suffix
        proof is computed here. Private registry: any DNS name, by the admin or a
        registrar. Never a name whose last label is a number (an IP literal).

        Returns a :class:`TxResult` (``node`` set), or a :class:`PendingTx` with ``wait=False``.
        Raises: InvalidName (a person name, a public suffix, a subdomain, a numeric
        top-level label), NameTaken, NotOwner (private: not a registrar),
        ConfigError, AccountError, InsufficientFunds, ChainError.
        """
        from registry.psl import EMPTY_PROOF

        parsed = _name(name)
        if parsed.is_person:
            raise InvalidName(f"{parsed} is a person name: its domain's owner assigns it")
        if self.private_mode():
            proof: Any = EMPTY_PROOF
        else:
            suffix = self.suffix_proof(parsed)
            if not suffix.registrable:
                if len(parsed.labels) == 1 or suffix.suffix == parsed.text:
                    raise InvalidName(
                        f"{parsed} is a public suffix (a top-level domain or a registry like"
                        " co.uk or github.io): register a domain under it, e.g."
                        f" example.{parsed.text}")
                registrable = ".".join(parsed.labels[-(suffix.suffix.count(".") + 2):])
                raise InvalidName(
                    f"{parsed} is not a registrable domain (public suffix {suffix.suffix}):"
                    f" register {registrable} and assign {parsed} under it")
            proof = suffix.as_abi()
        return self._transact("register", [parsed.text, proof], f"register {parsed}", wait)

    def set_suffix_root(self, root: bytes | None = None, *, suffix_list: bytes | None = None,
                        wait: bool = True) -> Any:
        """Commit a new suffix-list snapshot (admin only): ``root``, or that of
        ``suffix_list`` text, or of the bundled list. Raises: NotOwner, ConfigError, ChainError."""
        from registry.psl import build_suffix_tree, suffix_tree

        if root is None:
            root = (suffix_tree() if suffix_list is None else build_suffix_tree(suffix_list)).root
        self._root_checked = None
        return self._transact("set_suffix_root", [bytes(root)], "set the suffix root", wait)

    def set_registrar(self, registrar: str, allowed: bool = True, *, wait: bool = True) -> Any:
        """Let ``registrar`` register top-level names in a private registry (admin only).
        Raises: NotOwner, ChainError."""
        return self._transact("set_registrar", [self._addr(registrar), bool(allowed)],
                              f"set registrar {registrar}", wait)

    def set_admin(self, new_admin: str, *, wait: bool = True) -> Any:
        """Hand the admin role to ``new_admin`` (admin only). Raises: NotOwner, ChainError."""
        return self._transact("set_admin", [self._addr(new_admin)], "set the admin", wait)

    def assign(self, child: str | Name, owner: str, *, wait: bool = True) -> Any:
        """Create ``child`` (one label under its parent, or ``person@parent``) for ``owner``.

        Raises: InvalidName, NameTaken, NotOwner (not the parent's owner), ChainError.
        """
        parsed = _name(child)
        parent = parsed.parent
        if parent is None:
            raise InvalidName(f"{parsed} has no parent: register it instead")
        return self._transact(
            "assign",
            [bytes(parent.node), parsed.leaf_label, parsed.is_person, self._addr(owner)],
            f"assign {parsed}",
            wait,
        )

    def reclaim(self, name: str | Name, *, wait: bool = True) -> Any:
        """The parent's owner takes a child name back. Raises: NotOwner, ContractRevert, ChainError."""
        parsed = _name(name)
        return self._transact("reclaim", [bytes(parsed.node)], f"reclaim {parsed}", wait)

    def renounce(self, name: str | Name, *, wait: bool = True) -> Any:
        """The parent's owner gives up reclaiming a child (one way). Raises: NotOwner, ChainError."""
        parsed = _name(name)
        return self._transact("renounce", [bytes(parsed.node)], f"renounce {parsed}", wait)

    def transfer(self, name: str | Name, new_owner: str, *, wait: bool = True) -> Any:
        """Give a name to ``new_owner``. Raises: NotOwner, NameNotFound, ChainError."""
        parsed = _name(name)
        return self._transact(
            "transfer", [bytes(parsed.node), self._addr(new_owner)], f"transfer {parsed}", wait
        )

    def set_operator(
        self,
        name: str | Name,
        operator: str,
        approved: bool = True,
        *,
        wait: bool = True,
    ) -> Any:
        """Approve (or remove) an operator that may manage the name's keys. Raises: NotOwner, ChainError."""
        parsed = _name(name)
        return self._transact(
            "set_operator",
            [bytes(parsed.node), self._addr(operator), bool(approved)],
            f"set operator on {parsed}",
            wait,
        )

    def _key(
        self, value: KeyInput, key_type: KeyType | str | int | None
    ) -> tuple[KeyType, bytes, Key | None]:
        if isinstance(value, bytes | bytearray | memoryview) and key_type is not None:
            kt = KeyType.parse(key_type)
            material = bytes(value)
            try:
                return kt, material, self._load_material(kt, material)
            except KeyFormatError:
                if self._load_material is not _default_loader:
                    raise
        elif not isinstance(value, bytes | bytearray | memoryview | str):
            return value.key_type, bytes(value.material), value
        from registry.keys import load_key

        key = load_key(value, key_type=KeyType.parse(key_type) if key_type is not None else None)
        return key.key_type, bytes(key.material), key

    def _publish_args(self, req: PublishRequest) -> tuple[Name, KeyType, bytes, list[Any]]:
        parsed = _name(req.name)
        kt, material, key = self._key(req.key, req.key_type)
        valid_from = req.valid_from
        valid_until = req.valid_until
        if valid_until is None and key is not None and key.valid_until is not None:
            valid_until = key.valid_until  # a record never outlives the key's own expiry
        args = [
            kt.value,
            int(_purposes(req.purposes, kt)),
            to_timestamp(valid_from),
            to_timestamp(valid_until),
            material,
            bytes(req.proof),
            bool(req.durable),
        ]
        return parsed, kt, material, args

    def _check_new(
        self, parsed: Name, kt: KeyType, material: bytes, raw: list[dict[str, Any]] | None = None,
        *, registered: bool = True,
    ) -> None:
        """Refuse, before sending anything, a key already recorded under the name (and, with
        ``registered``, a name that is not registered: proven)."""
        wanted = commitment(kt, material)
        if raw is None:
            rec = self._record_word(parsed, wanted)
            if rec is None:
                if registered:
                    self._require_registered(parsed)
                return
            found = [rec]
        else:
            found = [r for r in raw if bytes(r["commitment"]) == wanted]
        for rec in found:
            index = int(rec["index"])
            if int(rec["status"]) == STATUSES.index("revoked"):
                raise KeyRevoked(
                    f"publish to {parsed}: this key was revoked under the name (record {index})"
                    " and can never come back",
                    reason="KeyRegistry: key revoked",
                )
            raise KeyAlreadyActive(
                f"publish to {parsed}: this key is already published (record {index});"
                " nothing was sent",
                reason="KeyRegistry: key already active",
            )

    def _record_word(self, parsed: Name, c: bytes) -> dict[str, Any] | None:
        """The record's index and status from its storage word (one ``eth_getStorageAt``,
        cheaper than running the ``records`` view), or None when the name has no such record."""
        from registry.chain._rpc import hex_data
        from registry.chain.layout import decode_record, record_slot

        what = f"record of {parsed}"
        with _translated(what):  # plain JSON-RPC: web3's formatters cost more than the read
            raw = hex_data(_raw_call(self.w3, "eth_getStorageAt",
                                     [self.address, hex(record_slot(bytes(parsed.node), c)),
                                      "latest"]), "eth_getStorageAt")
        if len(raw) > 32:
            raise ChainError(f"{what}: malformed JSON-RPC response (a storage word of"
                             f" {len(raw)} bytes)")
        word = decode_record(int.from_bytes(raw, "big"))
        if not word.exists:
            return None
        return {"index": word.index,
                "status": STATUSES.index("revoked") if word.reason is not None else 0}

    def publish(
        self,
        name: str | Name,
        key: KeyInput,
        *,
        key_type: KeyType | str | int | None = None,
        purposes: Purpose | int | str | None = None,
        valid_from: TimeInput = None,
        valid_until: TimeInput = None,
        proof: bytes = b"",
        durable: bool = False,
        wait: bool = True,
    ) -> Any:
        """Publish a key under a name.

        ``key`` is a parsed key, canonical material (with ``key_type``), or key file
        contents (detected). Validity defaults to the key's own (certificate or
        OpenPGP expiry); purposes default by key type. The records are read first:
        a key already recorded under the name is refused without sending anything.

        Returns a :class:`TxResult` (``index`` = the new record) or a :class:`PendingTx`.

        Raises:
            KeyFormatError, InvalidName, ValueError (bad purposes or times),
            KeyAlreadyActive, KeyRevoked, NameNotFound, NotOwner, ContractRevert,
            AccountError, InsufficientFunds, TransactionTimeout, ChainError.
        """
        req = PublishRequest(
            str(name), key, key_type, purposes, valid_from, valid_until, proof, durable
        )
        parsed, kt, material, args = self._publish_args(req)
        # a name that is not registered is refused by the gas estimate (the contract's own
        # check, nothing sent): no separate proof of the name first
        self._check_new(parsed, kt, material, registered=False)
        try:
            return self._transact("publish", [bytes(parsed.node), *args], f"publish to {parsed}",
                                  wait)
        except NameNotFound:
            raise NameNotFound(f"{parsed} is not registered",
                               reason="KeyRegistry: name not found") from None

    def publish_many(
        self,
        requests: Iterable[PublishRequest],
        *,
        timeout: float | None = None,
    ) -> list[TxResult]:
        """Publish many keys pipelined: send every transaction, then wait for all receipts.

        Every request is checked first (parse, duplicate under its name), so a bad
        one stops the batch before anything is sent. If a send fails midway, the
        transactions already sent are waited for and the error is raised.

        Raises: as :meth:`publish`.
        """
        prepared = []
        seen: dict[str, list[dict[str, Any]]] = {}
        batch: set[tuple[str, bytes]] = set()
        for req in requests:
            parsed, kt, material, args = self._publish_args(req)
            if parsed.text not in seen:
                self._require_registered(parsed)
                seen[parsed.text] = []
            self._check_new(parsed, kt, material, registered=False)
            ident = (parsed.text, commitment(kt, material))
            if ident in batch:
                raise KeyAlreadyActive(
                    f"publish to {parsed}: the same key appears twice in the batch",
                    reason="KeyRegistry: key already active",
                )
            batch.add(ident)
            prepared.append((parsed, args))
        pending: list[PendingTx] = []
        error: Error | None = None
        for parsed, args in prepared:
            try:
                pending.append(
                    self.send("publish", [bytes(parsed.node), *args], what=f"publish to {parsed}")
                )
            except Error as exc:
                error = exc
                break
        results = [p.wait(timeout=timeout) for p in pending]
        if error is not None:
            raise error
        return results

    def revoke(
        self,
        name: str | Name,
        record: int | bytes,
        reason: RevocationReason | int | str = 0,
        *,
        revocation: bytes = b"",
        wait: bool = True,
    ) -> Any:
        """Revoke a record of a name (by index or commitment), permanently.

        ``revocation`` is carried in the ``KeyRevoked`` event. For an OpenPGP
        record it is the key's own revocation (``gpg --gen-revoke`` output,
        armored or binary, or gpg's ``openpgp-revocs.d`` file): it must verify
        against the record's published certificate, and what is sent is the
        re-encoded signature packet alone, which keyservers merge into the
        certificate (:func:`registry.keys.verify_openpgp_revocation`). For other
        key types the bytes are carried as given (nothing serves them). At most
        ``MAX_REVOCATION`` = 4096 bytes are sent.

        Raises: ValueError (unknown reason, revocation too long), KeyFormatError /
        PrivateKeyError (the revocation is not an OpenPGP revocation, or holds a
        secret key), ProofError (it does not revoke this record's certificate),
        KeyRevoked (already revoked), NotOwner, ContractRevert (no such record),
        VerificationError, ChainError. Nothing is sent when it raises.
        """
        parsed = _name(name)
        code = RevocationReason.parse(reason)
        c = self._commitment_of(parsed, record, f"revoke {parsed} record {record!r}")
        revocation = self._checked_revocation(parsed, c, revocation)
        shown = record if isinstance(record, int) else "0x" + c.hex()[:16]
        return self._transact(
            "revoke",
            [bytes(parsed.node), c, code.value, revocation],
            f"revoke {parsed} record {shown}",
            wait,
        )

    def _checked_revocation(self, parsed: Name, c: bytes,
                            revocation: bytes | bytearray | memoryview | None) -> bytes:
        """What :meth:`revoke` / :meth:`rotate` send for record ``c``'s revocation.

        An OpenPGP record's revocation is verified against its certificate
        (fetched and checked against the commitment like :meth:`lookup` does)
        and reduced to the signature packet; other types' bytes pass as given.

        Raises: ValueError (too long), KeyFormatError, PrivateKeyError, ProofError,
        ContractRevert (no such record), VerificationError, ChainError.
        """
        raw = bytes(revocation or b"")
        if not raw:
            return b""
        found = [(i, rec, log) for i, (rec, log) in enumerate(self._raw_records(parsed))
                 if bytes(rec["commitment"]) == c]
        if not found:
            self._require_registered(parsed)
            raise ContractRevert(f"revoke {parsed}: no record 0x{c.hex()[:16]}",
                                 reason="KeyRegistry: no such record")
        index, rec, log = found[0]
        if int(rec["key_type"]) != KeyType.OPENPGP:
            return _revocation(raw)
        from registry.keys import verify_openpgp_revocation

        record = self._verified_record(parsed, bytes(parsed.node), index, rec,
                                       [log] if log is not None else [])
        try:
            rev = verify_openpgp_revocation(record.material, raw)
        except ProofError as exc:
            raise ProofError(f"{parsed} record {index}: {exc}; nothing was sent") from exc
        return _revocation(rev.signature)

    def rotate(
        self,
        name: str | Name,
        old: int | bytes,
        key: KeyInput,
        *,
        key_type: KeyType | str | int | None = None,
        purposes: Purpose | int | str | None = None,
        valid_from: TimeInput = None,
        valid_until: TimeInput = None,
        proof: bytes = b"",
        durable: bool = False,
        reason: RevocationReason | int | str = RevocationReason.SUPERSEDED,
        revocation: bytes = b"",
        wait: bool = True,
    ) -> Any:
        """Revoke record ``old`` (index or commitment) and publish ``key`` in one transaction.

        Purposes default to the old record's. Returns a :class:`TxResult` whose
        ``index`` is the new record.

        Raises: as :meth:`publish` and :meth:`revoke`.
        """
        parsed = _name(name)
        c_old = self._commitment_of(parsed, old, f"rotate {parsed} record {old!r}")
        rec = self.record_state(parsed, c_old)
        if rec is None:
            self._require_registered(parsed)
            raise ContractRevert(
                f"rotate {parsed}: no record {old!r}", reason="KeyRegistry: no such record"
            )
        if purposes is None:
            purposes = Purpose(rec["purposes"])
        req = PublishRequest(
            parsed.text, key, key_type, purposes, valid_from, valid_until, proof, durable
        )
        parsed, kt, material, args = self._publish_args(req)
        if commitment(kt, material) != c_old:  # rotating to itself: the contract says why
            self._check_new(parsed, kt, material)
        code = RevocationReason.parse(reason)
        revocation = self._checked_revocation(parsed, c_old, revocation)
        return self._transact(
            "rotate",
            [bytes(parsed.node), c_old, code.value, revocation, *args],
            f"rotate {parsed} record {rec['index']}",
            wait,
        )

    def attest(
        self,
        attester: str | Name,
        name: str | Name,
        record: int | bytes,
        *,
        policy_hash: bytes | str | None = None,
        expires: TimeInput = None,
        wait: bool = True,
    ) -> Any:
        """As the owner (or operator) of ``attester``, vouch for a record (index or commitment).

        Raises: NotOwner, ContractRevert (no such record, attester blocked, bad
        expiry …), ChainError.
        """
        by, parsed = _name(attester), _name(name)
        c = self._commitment_of(parsed, record, f"attest {parsed} record {record!r}")
        return self._transact(
            "attest",
            [bytes(by.node), bytes(parsed.node), c, _policy_hash(policy_hash),
             to_timestamp(expires)],
            f"attest {parsed} record {record if isinstance(record, int) else '0x' + c.hex()[:16]}"
            f" as {by}",
            wait,
        )

    def withdraw(
        self, attester: str | Name, name: str | Name, record: int | bytes, *, wait: bool = True
    ) -> Any:
        """Withdraw ``attester``'s attestation of a record (index or commitment).

        The attester's owner or operator may, and so may the subject's.
        Raises: NotOwner, ContractRevert (no such attestation), ChainError.
        """
        by, parsed = _name(attester), _name(name)
        c = self._commitment_of(parsed, record, f"withdraw attestation of {parsed} record {record!r}")
        return self._transact(
            "withdraw",
            [bytes(by.node), bytes(parsed.node), c],
            f"withdraw attestation of {parsed} record"
            f" {record if isinstance(record, int) else '0x' + c.hex()[:16]} by {by}",
            wait,
        )

    def block_attester(
        self, name: str | Name, attester: str | Name, blocked: bool = True, *, wait: bool = True
    ) -> Any:
        """As the owner (or operator) of ``name``, block (or unblock) ``attester``.

        A blocked attester cannot attest the name's records and its attestations
        on them stop counting. Raises: NotOwner, NameNotFound, ChainError.
        """
        parsed, by = _name(name), _name(attester)
        return self._transact(
            "block_attester",
            [bytes(parsed.node), bytes(by.node), bool(blocked)],
            f"{'block' if blocked else 'unblock'} {by} on {parsed}",
            wait,
        )


#: The contract's MAX_REVOCATION.
MAX_REVOCATION = 4096


def _revocation(value: bytes | bytearray | memoryview | None) -> bytes:
    raw = bytes(value or b"")
    if len(raw) > MAX_REVOCATION:
        raise ValueError(f"a revocation is at most {MAX_REVOCATION} bytes ({len(raw)} given)")
    return raw


def _record_dict(c: bytes, word: Any, now: int) -> dict[str, Any]:
    """A proven record word in the shape of the contract's ``Record`` (status at ``now``)."""
    status = STATUSES.index(word.status(now))
    return {"commitment": c, "index": word.index, "key_type": word.key_type,
            "purposes": word.purposes, "status": status,
            "reason": word.reason if word.reason is not None else 0, "durable": word.durable,
            "valid_from": word.valid_from, "valid_until": word.valid_until,
            "published_at": word.published_at, "revoked_at": word.revoked_at}


def _log_dict(log: Any) -> dict[str, Any]:
    """A checked :class:`registry.chain._rpc.Log` in web3's log shape (what the decoders take)."""
    return {"address": log.address, "topics": list(log.topics), "data": log.data,
            "blockNumber": log.block, "blockHash": log.block_hash, "logIndex": log.log_index,
            "transactionHash": log.tx_hash, "removed": log.removed}
