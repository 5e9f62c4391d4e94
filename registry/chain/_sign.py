"""EIP-1559 transactions signed with coincurve directly: the bytes eth-account makes.

    signer = coincurve.PrivateKey(account.key)   # once per account
    raw = sign_dynamic_fee(signer, tx)   # tx: the dict eth-account's sign_transaction takes

eth-account builds, validates and serializes a transaction through several
layers of formatters (about 2 ms a publish on this machine); the signature
itself is one libsecp256k1 call. This encodes the EIP-1559 payload (chain id,
nonce, tip, fee cap, gas, to, value, data, empty access list) with the
``rlp`` package,
signs its keccak256 with RFC 6979 nonces as eth-keys' coincurve backend does,
and returns ``0x02 || rlp(payload + [y_parity, r, s])``. A transaction of any
other shape returns None and the caller signs with eth-account. A test
compares both signers' bytes on many transactions.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

__all__ = ["sign_dynamic_fee"]

_FIELDS = frozenset({"type", "chainId", "nonce", "maxPriorityFeePerGas", "maxFeePerGas",
                     "gas", "to", "value", "data"})
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def _uint(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**256:
        return value
    return None


@functools.lru_cache(maxsize=64)
def _checksum_to(to: str) -> bytes | None:
    """A ``to`` address eth-account accepts (checksum form only) as bytes, else None."""
    from eth_utils import is_checksum_address

    return bytes.fromhex(to[2:]) if is_checksum_address(to) else None


def sign_dynamic_fee(signer: Any, tx: Mapping[str, Any]) -> bytes | None:
    """The raw EIP-1559 transaction ``tx`` signed by ``signer`` (a ``coincurve.PrivateKey``),
    or None when ``tx`` is not a plain one (then eth-account signs it)."""
    import rlp  # py-evm's RLP codec (~50 us a transaction here)

    from registry.names import keccak256

    if set(tx) - _FIELDS or tx.get("type", 2) != 2:
        return None
    numbers = [_uint(tx.get(k)) for k in ("chainId", "nonce", "maxPriorityFeePerGas",
                                          "maxFeePerGas", "gas", "value")]
    if any(n is None for n in numbers):
        return None
    chain_id, nonce, tip, fee_cap, gas, value = (int(n or 0) for n in numbers)
    to, data = tx.get("to"), tx.get("data", b"")
    if isinstance(data, str):
        try:
            data = bytes.fromhex(data.removeprefix("0x"))
        except ValueError:
            return None
    if not isinstance(data, bytes | bytearray):
        return None
    if isinstance(to, str):
        to = _checksum_to(to)
    elif to is None:
        to = b""
    if not isinstance(to, bytes | bytearray) or len(to) not in (0, 20):
        return None
    fields: list[Any] = [chain_id, nonce, tip, fee_cap, gas, bytes(to), value, bytes(data), []]
    digest = keccak256(b"\x02" + rlp.encode(fields))
    signature = signer.sign_recoverable(digest, hasher=None)
    r, s, y_parity = (int.from_bytes(signature[:32], "big"),
                      int.from_bytes(signature[32:64], "big"), signature[64])
    if not (0 < r < _SECP256K1_N and 0 < s <= _SECP256K1_N // 2):  # pragma: no cover
        return None  # libsecp256k1 signs low-s; anything else: let eth-account do it
    return b"\x02" + rlp.encode([*fields, y_parity, r, s])
