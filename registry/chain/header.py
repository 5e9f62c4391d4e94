"""Recompute a block's hash from the header fields a JSON-RPC node returns.

A block hash is keccak256 of the RLP list of the header's fields, in a fixed
order that grew with each fork (London's ``baseFeePerGas``, Shanghai's
``withdrawalsRoot``, Cancun's blob fields and ``parentBeaconBlockRoot``,
Prague's ``requestsHash``). Recomputing it is how a reader ties a header's
``stateRoot`` (the root EIP-1186 proofs are checked against) to a block hash
it trusts, whatever endpoint sent the header.

    block = w3.provider.make_request("eth_getBlockByNumber", ["latest", False])["result"]
    assert verify_header_hash(block) == bytes.fromhex(block["hash"][2:])

Pure: ``rlp`` and pycryptodome's keccak, no web3. Fields may be JSON hex
strings (as sent on the wire) or the ints and bytes web3 formats them into.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from registry.errors import VerificationError

__all__ = ["HEADER_FIELDS", "encode_header", "header_hash", "verify_header_hash"]

_INT = 0
"""A field that is a quantity (RLP: big-endian bytes, no leading zeros)."""

HEADER_FIELDS: tuple[tuple[str, int | None, bool], ...] = (
    # (JSON key, size in bytes or _INT / None for variable bytes, optional)
    ("parentHash", 32, False),
    ("sha3Uncles", 32, False),
    ("miner", 20, False),
    ("stateRoot", 32, False),
    ("transactionsRoot", 32, False),
    ("receiptsRoot", 32, False),
    ("logsBloom", 256, False),
    ("difficulty", _INT, False),
    ("number", _INT, False),
    ("gasLimit", _INT, False),
    ("gasUsed", _INT, False),
    ("timestamp", _INT, False),
    ("extraData", None, False),
    ("mixHash", 32, False),
    ("nonce", 8, False),
    ("baseFeePerGas", _INT, True),  # London (EIP-1559)
    ("withdrawalsRoot", 32, True),  # Shanghai (EIP-4895)
    ("blobGasUsed", _INT, True),  # Cancun (EIP-4844)
    ("excessBlobGas", _INT, True),  # Cancun (EIP-4844)
    ("parentBeaconBlockRoot", 32, True),  # Cancun (EIP-4788)
    ("requestsHash", 32, True),  # Prague (EIP-7685)
)
"""The header's fields in RLP order. Optional fields come from later forks: a
header carries a prefix of them (a field is never present without every
optional field before it)."""


def _as_bytes(key: str, value: Any) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, str) and value[:2] in ("0x", "0X"):
        text = value[2:]
        try:
            return bytes.fromhex(text)
        except ValueError:
            pass
    raise VerificationError(f"block header: {key} is not hex data")


def _as_int(key: str, value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value[:2] in ("0x", "0X") and 2 < len(value) <= 66:
        try:
            return int(value[2:], 16)
        except ValueError:
            pass
    raise VerificationError(f"block header: {key} is not a hex quantity")


def _fields(header: Mapping[str, Any]) -> list[bytes]:
    if not isinstance(header, Mapping):
        raise VerificationError("block header: not an object")
    out: list[bytes] = []
    missing_optional: str | None = None
    for key, size, optional in HEADER_FIELDS:
        value = header.get(key)
        if value is None:
            if not optional:
                raise VerificationError(f"block header: {key} is missing")
            missing_optional = missing_optional or key
            continue
        if missing_optional is not None:
            raise VerificationError(
                f"block header: {key} is present but {missing_optional} (an earlier fork's) is not"
            )
        if size == _INT:
            number = _as_int(key, value)
            out.append(number.to_bytes((number.bit_length() + 7) // 8, "big"))
        else:
            data = _as_bytes(key, value)
            if size is not None and len(data) != size:
                raise VerificationError(f"block header: {key} must be {size} bytes")
            out.append(data)
    return out


def encode_header(header: Mapping[str, Any]) -> bytes:
    """The RLP encoding of a JSON (or web3-formatted) block header.

    Raises VerificationError when a field is missing, malformed, or an optional
    field appears without the earlier forks' ones.
    """
    import rlp

    return bytes(rlp.encode(_fields(header)))


def header_hash(header: Mapping[str, Any]) -> bytes:
    """keccak256 of :func:`encode_header`: the block hash the fields commit to.

    Raises VerificationError as :func:`encode_header`.
    """
    from registry.names import keccak256

    return keccak256(encode_header(header))


def verify_header_hash(header: Mapping[str, Any]) -> bytes:
    """Check that the header's fields hash to its ``hash`` field; return that hash.

    Raises VerificationError when they do not (or a field is malformed).
    """
    claimed = _as_bytes("hash", header.get("hash") if isinstance(header, Mapping) else None)
    computed = header_hash(header)
    if claimed != computed:
        number = header.get("number")
        raise VerificationError(
            f"block header {number}: its fields hash to 0x{computed.hex()}, "
            f"not to the claimed 0x{claimed.hex()}"
        )
    return computed
