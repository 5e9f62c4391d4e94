"""EIP-1186 state proofs (``eth_getProof``) checked against a trusted state root.

    account, values = verify_proof(reply, state_root=header_state_root,
                                   address=registry, slots=[0, name_slot(node)])

An ``eth_getProof`` reply carries the Merkle-Patricia trie nodes on the path
from the block's ``stateRoot`` to the account, and from the account's
``storageHash`` to each storage slot. Each node is referenced by the keccak256
of its RLP encoding, so a node set is a content-addressed database: the
``trie`` package (py-evm's own Merkle-Patricia implementation) walks it from
the trusted root with ``HexaryTrie.get``, and a node that is missing, altered
or belongs to another path simply is not found (the walk fails). The values
used are always those the walk proves; the reply's own ``value``, ``nonce``,
``balance``, ``storageHash`` and ``codeHash`` fields are only compared with
them, and any difference is reported as the endpoint's lie.

All storage proofs of a reply share one node set (a node's hash is its
address, so sharing adds no trust and saves hashing the upper levels of the
trie once per slot), and each proof must still be its own path: every node it
carries must lie on the path walked for its slot, so a reply proving many
slots (a batch of lookups) fails when any one of its proofs carries an altered
or foreign node, even one another proof carries intact. Pure: ``rlp``, ``trie`` and pycryptodome's keccak; no web3.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from registry.errors import VerificationError

__all__ = ["EMPTY_CODE_HASH", "EMPTY_TRIE_ROOT", "ProvenAccount", "slot_key", "verify_proof"]

#: Root of an empty trie: keccak256(rlp(b"")).
EMPTY_TRIE_ROOT = bytes.fromhex("56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421")
#: keccak256(b""): the code hash of an account without code.
EMPTY_CODE_HASH = bytes.fromhex("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")
_HEX = re.compile(r"0x[0-9a-fA-F]*\Z")
#: Most proof nodes a reply may carry (a path is at most 65 nodes; 1,000 slots share most).
MAX_NODES = 200_000


@dataclass(frozen=True, slots=True)
class ProvenAccount:
    """An account's fields as the account proof shows them (absent: zeros, empty roots)."""

    address: bytes
    nonce: int
    balance: int
    storage_root: bytes
    code_hash: bytes

    @property
    def exists(self) -> bool:
        return bool(self.nonce or self.balance or self.code_hash != EMPTY_CODE_HASH
                    or self.storage_root != EMPTY_TRIE_ROOT)


def slot_key(slot: int) -> str:
    """A storage slot as the 32-byte hex word ``eth_getProof`` expects."""
    return "0x" + int(slot).to_bytes(32, "big").hex()


def _keccak(data: bytes) -> bytes:
    from registry.names import keccak256

    return keccak256(data)


def _data(value: Any, what: str) -> bytes:
    if not isinstance(value, str) or not _HEX.match(value) or len(value) % 2:
        raise VerificationError(f"eth_getProof: {what} is not hex data")
    return bytes.fromhex(value[2:])


def _quantity(value: Any, what: str) -> int:
    if not isinstance(value, str) or not _HEX.match(value) or len(value) < 3 or len(value) > 66:
        raise VerificationError(f"eth_getProof: {what} is not a hex quantity")
    return int(value, 16)


def _nodes(items: Any, what: str, db: dict[bytes, bytes], seen: dict[str, bytes]) -> set[bytes]:
    """Add a proof's nodes to the content-addressed node set ``db``; their hashes."""
    if not isinstance(items, list):
        raise VerificationError(f"eth_getProof: {what} is not a list of trie nodes")
    hashes = set()
    for item in items:
        known = seen.get(item) if isinstance(item, str) else None
        if known is not None:  # the upper nodes repeat in every proof of a reply
            hashes.add(known)
            continue
        raw = _data(item, f"a node of {what}")
        if len(seen) >= MAX_NODES:
            raise VerificationError(f"eth_getProof: more than {MAX_NODES} trie nodes")
        seen[item] = h = _keccak(raw)
        db[h] = raw
        hashes.add(h)
    return hashes


_TRIE: type | None = None


def _trie_class() -> type:
    """``trie.HexaryTrie`` decoding each node once per node set (the walk is the library's)."""
    global _TRIE
    if _TRIE is None:
        from trie import HexaryTrie

        class _ProofTrie(HexaryTrie):
            def __init__(self, db: dict[bytes, bytes], root_hash: bytes,
                         decoded: dict[bytes, Any], touched: set[bytes]) -> None:
                super().__init__(db, root_hash=root_hash)
                self._decoded = decoded
                self._touched = touched

            def get_node(self, node_hash: bytes) -> Any:
                if len(node_hash) == 32:  # a node referenced by hash (shorter ones are inline)
                    self._touched.add(node_hash)
                hit = self._decoded.get(node_hash)
                if hit is None:
                    hit = self._decoded[node_hash] = super().get_node(node_hash)
                return hit

        _TRIE = _ProofTrie
    return _TRIE


def _walk(db: dict[bytes, bytes], root: bytes, key: bytes, what: str,
          decoded: dict[bytes, Any] | None = None, own: set[bytes] | None = None) -> bytes:
    """The value at ``key`` in the trie with root ``root`` whose nodes are ``db`` (b"": absent).

    ``own``: the hashes of the nodes the proof of ``key`` itself carried; each must be on
    the walked path (a proof is its path, nothing else: an altered copy of a node that
    another proof of the reply carries intact fails here, not silently ignored).
    """
    if root == EMPTY_TRIE_ROOT:  # nothing can be in it, whatever nodes came with the proof
        return b""  # (anvil's genesis header names the empty state root over a funded state)
    touched: set[bytes] = set()
    value = _walk_trie(db, root, key, what, {} if decoded is None else decoded, touched)
    if own is not None and not own <= touched:
        raise VerificationError(
            f"{what} does not verify: it carries a trie node off its path (altered or foreign:"
            f" node 0x{min(own - touched).hex()[:16]}…)")
    return value


def _walk_trie(db: dict[bytes, bytes], root: bytes, key: bytes, what: str,
               decoded: dict[bytes, Any], touched: set[bytes]) -> bytes:
    from trie.exceptions import MissingTrieNode

    try:
        return bytes(_trie_class()(db, root, decoded, touched).get(key))
    except MissingTrieNode as exc:
        raise VerificationError(
            f"{what} does not verify: a trie node on its path is missing or altered"
            f" (node 0x{bytes(exc.missing_node_hash).hex()[:16]}…)") from None
    except Exception as exc:  # a malformed node (bad RLP, impossible shape)
        raise VerificationError(
            f"{what} does not verify: a malformed trie node ({type(exc).__name__})") from None


def _account(leaf: bytes, address: bytes) -> ProvenAccount:
    import rlp
    from rlp.sedes import Binary, List, big_endian_int

    if not leaf:
        return ProvenAccount(address, 0, 0, EMPTY_TRIE_ROOT, EMPTY_CODE_HASH)
    sedes = List([big_endian_int, big_endian_int, Binary.fixed_length(32),
                  Binary.fixed_length(32)])
    try:
        nonce, balance, root, code = rlp.decode(leaf, sedes=sedes)
    except Exception as exc:
        raise VerificationError(
            f"the account proof of 0x{address.hex()} ends in a malformed account ({exc})") from None
    return ProvenAccount(address, int(nonce), int(balance), bytes(root), bytes(code))


def _value(leaf: bytes, slot: int) -> int:
    import rlp
    from rlp.sedes import big_endian_int

    if not leaf:
        return 0
    try:
        value = int(rlp.decode(leaf, sedes=big_endian_int))
    except Exception:
        raise VerificationError(f"the storage proof of slot {slot:#x} ends in a malformed value"
                                ) from None
    # a leaf holding 0 is odd (geth deletes zeroed slots) but anvil keeps them: it proves 0
    if value >= 1 << 256:
        raise VerificationError(f"the storage proof of slot {slot:#x} ends in an impossible value")
    return value


def verify_proof(reply: Any, *, state_root: bytes, address: bytes | str,
                 slots: Sequence[int]) -> tuple[ProvenAccount, dict[int, int]]:
    """Check an ``eth_getProof(address, slots, block)`` reply against the block's state root.

    Returns the proven account and ``{slot: value}`` for every requested slot
    (0 for a slot proven empty). ``state_root`` must come from a header whose
    hash was recomputed and trusted (:mod:`registry.chain.trust`).

    Raises:
        VerificationError: the reply is malformed, a proof does not verify (a
            missing, altered or foreign node; a proof for another slot), or a
            claimed field differs from the proven one (the message names it).
    """
    addr = bytes.fromhex(address.removeprefix("0x")) if isinstance(address, str) else bytes(address)
    if not isinstance(reply, Mapping):
        raise VerificationError("eth_getProof: the reply is not an object")
    shown = f"0x{addr.hex()}"
    claimed = reply.get("address")
    if not isinstance(claimed, str) or claimed.lower() != shown:
        raise VerificationError(f"eth_getProof: asked for account {shown}, the reply is for"
                                f" {str(claimed)[:50]!r}")
    db: dict[bytes, bytes] = {}
    seen: dict[str, bytes] = {}
    own = _nodes(reply.get("accountProof"), "the account proof", db, seen)
    account = _account(_walk(db, bytes(state_root), _keccak(addr), f"the account proof of {shown}",
                             own=own), addr)
    for field, proven in (("nonce", account.nonce), ("balance", account.balance)):
        if _quantity(reply.get(field), field) != proven:
            raise VerificationError(f"eth_getProof: the reply's {field} of {shown} differs from"
                                    " the one its account proof shows")
    for field, proven_b in (("storageHash", account.storage_root), ("codeHash", account.code_hash)):
        if _data(reply.get(field), field) != proven_b:
            raise VerificationError(f"eth_getProof: the reply's {field} of {shown} differs from"
                                    " the one its account proof shows")
    items = reply.get("storageProof")
    if not isinstance(items, list) or len(items) != len(slots):
        raise VerificationError(f"eth_getProof: asked for {len(slots)} storage slots, the reply"
                                " has a different number of storage proofs")
    sdb: dict[bytes, bytes] = {}
    sseen: dict[str, bytes] = {}
    owns = []
    for item in items:
        if not isinstance(item, Mapping):
            raise VerificationError("eth_getProof: a storage proof is not an object")
        owns.append(_nodes(item.get("proof"), "a storage proof", sdb, sseen))
    values: dict[int, int] = {}
    decoded: dict[bytes, Any] = {}
    for slot, item, own in zip(slots, items, owns, strict=True):
        key = _quantity(item.get("key"), "a storage key") if isinstance(item.get("key"), str) \
            and len(item["key"]) <= 66 else None
        if key != int(slot):
            raise VerificationError(f"eth_getProof: asked for slot {int(slot):#x}, the reply"
                                    f" answers for {str(item.get('key'))[:70]}")
        leaf = _walk(sdb, account.storage_root, _keccak(int(slot).to_bytes(32, "big")),
                     f"the storage proof of slot {int(slot):#x}", decoded, own)
        value = _value(leaf, int(slot))
        if _quantity(item.get("value"), "a storage value") != value:
            raise VerificationError(
                f"eth_getProof: the reply says slot {int(slot):#x} holds"
                f" {str(item.get('value'))[:70]}, its proof shows {value:#x}")
        values[int(slot)] = value
    return account, values
