"""The Public Suffix List as the KeyRegistry commits to it: a sorted Merkle tree with proofs.

    tree = suffix_tree()                          # the list bundled with `publicsuffixlist`
    proof = tree.prove("example.co.uk")           # what `register` takes next to the name
    tree.root.hex(), proof.registrable            # the root `keyanchor deploy` commits to

The contract cannot hold the ~10,000 PSL rules, so a deployment commits to a
Merkle root and a registrant proves, with two leaves, that the name is a
*registrable domain*: a public suffix plus one label (``example.org``,
``example.co.uk``, ``alice.github.io``), never ``org``, ``co.uk`` or
``github.io`` and never ``www.example.org`` (a subdomain: its owner assigns it).

The leaves are the nodes of the suffix trie: every rule body (``co.uk`` of
``co.uk``, ``kawasaki.jp`` of ``*.kawasaki.jp``, ``city.kawasaki.jp`` of
``!city.kawasaki.jp``), every suffix of one, and the root. Each leaf is
``keccak256(0x00 ‖ key ‖ next ‖ value)`` where ``key`` is the node's namehash
(the root's is zero), ``next`` the next key in ascending order (zero after the
last) and ``value = g | h << 8``: ``g`` is the number of labels of the public
suffix of the node itself, ``h`` that of any name below it whose next label
leaves the trie. Both are computed by the ``publicsuffixlist`` package (the
reference implementation, wildcard and exception rules included); the root's
``h`` is 1: the PSL default rule ``*`` (a top-level label the list does not
know is a public suffix), so ``foo.example`` is registrable and ``example`` is
not. Internal nodes are ``keccak256(left ‖ right)``, the tree is padded with
zero leaves to a power of two.

A name ``N`` of ``k`` labels is proven by (1) the leaf of the deepest trie node
``D`` on its path (``m`` labels) and, when ``m < k``, (2) the leaf whose key
and next key bracket the namehash of the suffix one label longer than ``D``,
showing that suffix is not in the trie. ``N`` is registrable iff the public
suffix length (``g`` if ``m = k``, else ``h``) is ``k - 1``. Pure module: no
chain access (keccak from ``registry.names``).
"""

from __future__ import annotations

import bisect
import functools
import hashlib
from dataclasses import dataclass
from typing import Any

from registry.errors import ConfigError, InvalidName
from registry.names import keccak256

__all__ = [
    "SuffixProof",
    "SuffixTree",
    "build_suffix_tree",
    "bundled_list_text",
    "suffix_tree",
]

_ZERO = b"\x00" * 32
_PROBE = "keyanchor-probe"
_MAGIC = b"keyanchor-psl/1\n"


def _leaf(key: bytes, nxt: bytes, value: int) -> bytes:
    return keccak256(b"\x00" + key + nxt + value.to_bytes(32, "big"))


@dataclass(frozen=True, slots=True)
class SuffixProof:
    """What ``register`` needs besides the name (fields as the contract's ``SuffixProof``)."""

    name: str
    labels: int
    next: bytes
    value: int
    index: int
    path: tuple[bytes, ...]
    gap_key: bytes
    gap_next: bytes
    gap_value: int
    gap_index: int
    gap_path: tuple[bytes, ...]
    suffix: str  # the public suffix of the name
    registrable: bool

    def as_abi(self) -> tuple[Any, ...]:
        """The ABI tuple ``(uint256,bytes32,uint256,uint256,bytes32[],bytes32,bytes32,uint256,uint256,bytes32[])``."""
        return (self.labels, self.next, self.value, self.index, list(self.path), self.gap_key,
                self.gap_next, self.gap_value, self.gap_index, list(self.gap_path))


#: The ABI type of :meth:`SuffixProof.as_abi` (for encoders).
SUFFIX_PROOF_ABI = "(uint256,bytes32,uint256,uint256,bytes32[],bytes32,bytes32,uint256,uint256,bytes32[])"
#: A proof for a private registry, where the contract ignores it.
EMPTY_PROOF: tuple[Any, ...] = (0, _ZERO, 0, 0, [], _ZERO, _ZERO, 0, 0, [])


class SuffixTree:
    """The committed form of one suffix list (build with :func:`build_suffix_tree`)."""

    def __init__(self, values: dict[bytes, int], source_sha256: str,
                 levels: list[list[bytes]] | None = None) -> None:
        # values: key -> leaf value; the root (key zero) is always present
        self.source_sha256 = source_sha256
        self.keys = sorted(values, key=lambda k: int.from_bytes(k, "big"))
        self._ints = [int.from_bytes(k, "big") for k in self.keys]
        self.values = values
        self._position = {k: i for i, k in enumerate(self.keys)}
        if levels is None:
            leaves = []
            for i, k in enumerate(self.keys):
                leaves.append(_leaf(k, self._next(i), values[k]))
            size = 1
            while size < len(leaves):
                size *= 2
            level = leaves + [_ZERO] * (size - len(leaves))
            levels = [level]
            while len(level) > 1:
                level = [keccak256(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
                levels.append(level)
        self.levels = levels
        self.root = levels[-1][0]

    def to_bytes(self) -> bytes:
        """A compact serialisation (the on-disk cache of :func:`suffix_tree`)."""
        head = _MAGIC + len(self.keys).to_bytes(4, "big") + bytes.fromhex(self.source_sha256)
        body = b"".join(k + self.values[k].to_bytes(4, "big") for k in self.keys)
        return head + body + b"".join(b"".join(level) for level in self.levels)

    @classmethod
    def from_bytes(cls, data: bytes) -> SuffixTree:
        """Inverse of :meth:`to_bytes`. Raises ValueError on anything else."""
        if data[:len(_MAGIC)] != _MAGIC:
            raise ValueError("not a suffix tree cache")
        pos = len(_MAGIC)
        n = int.from_bytes(data[pos:pos + 4], "big")
        sha = data[pos + 4:pos + 36].hex()
        pos += 36
        values = {}
        for _ in range(n):
            values[data[pos:pos + 32]] = int.from_bytes(data[pos + 32:pos + 36], "big")
            pos += 36
        size = 1
        while size < n:
            size *= 2
        levels = []
        while True:
            levels.append([data[pos + 32 * i:pos + 32 * i + 32] for i in range(size)])
            pos += 32 * size
            if size == 1:
                break
            size //= 2
        if pos != len(data) or len(values) != n:
            raise ValueError("truncated suffix tree cache")
        return cls(values, sha, levels)

    def __len__(self) -> int:
        return len(self.keys)

    def _path(self, index: int) -> tuple[bytes, ...]:
        out = []
        for level in self.levels[:-1]:
            out.append(level[index ^ 1])
            index >>= 1
        return tuple(out)

    def _next(self, index: int) -> bytes:
        return self.keys[index + 1] if index + 1 < len(self.keys) else _ZERO

    def prove(self, name: str) -> SuffixProof:
        """The suffix proof of a DNS name (lowercase A-labels, as ``registry.names`` gives).

        ``registrable`` says whether the contract will accept it; the proof is
        valid either way (it proves what the name is).

        Raises:
            InvalidName: not a DNS name (empty labels, a person name).
        """
        labels = name.split(".")
        if not name or "@" in name or any(not label for label in labels):
            raise InvalidName(f"{name!r} is not a DNS name")
        k = len(labels)
        suffixes = [_ZERO]  # suffixes[j] = node of the last j labels
        for j in range(1, k + 1):
            suffixes.append(keccak256(suffixes[-1] + keccak256(labels[k - j].encode("ascii"))))
        m = max(j for j in range(k + 1) if suffixes[j] in self._position)
        key = suffixes[m]
        index = self._position[key]
        value = self.values[key]
        gap: tuple[bytes, bytes, int, int, tuple[bytes, ...]] = (_ZERO, _ZERO, 0, 0, ())
        if m < k:
            public = (value >> 8) & 255
            beyond = int.from_bytes(suffixes[m + 1], "big")
            g = bisect.bisect_left(self._ints, beyond) - 1
            gap = (self.keys[g], self._next(g), self.values[self.keys[g]], g, self._path(g))
        else:
            public = value & 255
        return SuffixProof(
            name=name, labels=m, next=self._next(index), value=value, index=index,
            path=self._path(index), gap_key=gap[0], gap_next=gap[1], gap_value=gap[2],
            gap_index=gap[3], gap_path=gap[4],
            suffix=".".join(labels[k - public:]) if public else "", registrable=public + 1 == k,
        )


def bundled_list_text() -> bytes:
    """The Public Suffix List shipped inside the ``publicsuffixlist`` package.

    Raises:
        ConfigError: the package or its list is missing.
    """
    try:
        import publicsuffixlist

        with open(publicsuffixlist.PSLFILE, "rb") as fh:
            return fh.read()
    except (ImportError, OSError) as exc:
        raise ConfigError(f"the bundled Public Suffix List cannot be read: {exc}") from exc


def _ascii_rules(text: bytes) -> set[str]:
    from publicsuffixlist import encode_idn

    rules = set()
    for raw in text.decode("utf-8", "replace").splitlines():
        rule = raw.strip().lower().split(" ")[0]
        if not rule or rule.startswith("//"):
            continue
        bang = rule.startswith("!")
        body = rule.lstrip("!")
        if not body.isascii():
            try:
                body = encode_idn(body)
            except UnicodeError:
                continue  # not expressible as A-labels: no registry name can match it
        rules.add(("!" if bang else "") + body)
    return rules


def build_suffix_tree(text: bytes | None = None) -> SuffixTree:
    """Build the committed tree of a suffix list (``None``: the bundled one).

    Raises:
        ConfigError: the list cannot be read or parsed.
    """
    from publicsuffixlist import PublicSuffixList

    data = bundled_list_text() if text is None else bytes(text)
    try:
        psl = PublicSuffixList(data, accept_unknown=True)
    except Exception as exc:  # the package's parser on a malformed file
        raise ConfigError(f"not a Public Suffix List: {exc}") from exc
    rules = _ascii_rules(data)
    trie: set[tuple[str, ...]] = {()}
    for rule in rules:
        body = rule.lstrip("!")
        if body.startswith("*."):
            body = body[2:]
        labels = tuple(body.split("."))
        if any(not label or label == "*" for label in labels):
            continue
        for j in range(len(labels)):
            trie.add(labels[j:])

    def count(labels: tuple[str, ...]) -> int:
        found = psl.publicsuffix(".".join(labels))
        return 0 if not found else found.count(".") + 1

    hashes: dict[tuple[str, ...], bytes] = {(): _ZERO}

    def node_of(labels: tuple[str, ...]) -> bytes:
        if labels not in hashes:
            hashes[labels] = keccak256(node_of(labels[1:]) + keccak256(labels[0].encode("ascii")))
        return hashes[labels]

    nodes: dict[bytes, int] = {}
    for labels in sorted(trie, key=len):
        probe = _PROBE
        while (probe, *labels) in trie:
            probe += "-"
        if labels:
            g, h = count(labels), count((probe, *labels))
        else:
            g, h = 0, count((probe, probe + "-tld"))
        nodes[node_of(labels)] = g | (h << 8)
    return SuffixTree(nodes, hashlib.sha256(data).hexdigest())


@functools.cache
def suffix_tree() -> SuffixTree:
    """The tree of the bundled list, built once per process (and cached on disk).

    The cache (``<user cache dir>/keyanchor/psl-<sha256 of the list>.bin``) only
    saves the ~1 s of hashing; a missing or unreadable one is rebuilt.

    Raises:
        ConfigError: the bundled list cannot be read.
    """
    from pathlib import Path

    from platformdirs import user_cache_dir

    from registry._files import write_atomic

    text = bundled_list_text()
    sha = hashlib.sha256(text).hexdigest()
    path = Path(user_cache_dir("keyanchor")) / f"psl-{sha[:32]}.bin"
    try:
        tree = SuffixTree.from_bytes(path.read_bytes())
        if tree.source_sha256 == sha:
            return tree
    except (OSError, ValueError):
        pass
    tree = build_suffix_tree(text)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, tree.to_bytes())
    except (OSError, ConfigError):
        pass  # only a cache
    return tree
