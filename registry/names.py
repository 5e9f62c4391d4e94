"""Registry names: grammar, normalisation and the ENS-style namehash.

    >>> parse_name("Alice@Example.org").text
    'alice@example.org'
    >>> namehash("example.org").hex()[:8]  # doctest: +SKIP

Two kinds of name:

* a DNS-like name (``example.org``, ``web1.example.org``): labels of
  ``[a-z0-9-]``, 1-63 characters, not starting or ending with ``-``; at most
  253 characters in all. Non-ASCII labels are converted to IDNA 2008 A-labels
  (``xn--``, UTS #46 non-transitional, as browsers do), and an ``xn--`` label
  must be a valid A-label that decodes and encodes back to itself (the
  contract checks only the characters: ``xn--zz.org`` is registrable on-chain,
  and never a name here). The last label must not be a number (the
  WHATWG URL standard's "ends in a number" rule: all ASCII digits, or ``0x``
  followed by hex digits), so no spelling of an IPv4 address that
  ``inet_aton`` accepts (``127.0.0.1``, ``127.1``, ``2130706433``,
  ``0x7f.1``, ``0177.0.0.1``) and no all-numeric top-level domain is a name;
  an IPv6 literal never is (``:`` and brackets are not label characters).
* a person name under a domain (``alice@example.org``): a local part of
  ``[a-z0-9._+-]``, 1-64 characters, not starting or ending with ``.`` and
  without ``..``, then ``@`` and a DNS-like name.

Nodes are ENS namehashes: ``node(".")`` is 32 zero bytes and
``node(label + "." + parent) = keccak256(node(parent) + keccak256(label))``.
A person's label is hashed with an ``@`` prefix (``keccak256("@alice")``), so a
person ``alice@example.org`` and a host ``alice.example.org`` never share a node.
The contract applies the same character rules to each label it receives.

:func:`squatted_by` is the rule every reader applies to names registered on
their own *inside* someone else's registered domain (``web1.corp.org``
registered top-level before ``corp.org`` was): such a name, and everything
under it, does not count.
"""

from __future__ import annotations

from functools import lru_cache

# The grammar and the squatting rule live in registry._grammar (what sshd's path
# imports), Name in registry._name; re-exported here.
from registry._grammar import MAX_LABEL, MAX_LOCAL, MAX_NAME, chain_root, squatted_by
from registry._name import Name, parse_name
from registry.keys._keccak import keccak256  # safe-pysha3's Keccak-256 (not NIST SHA3-256)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (sshd path)
if TYPE_CHECKING:
    from typing import Any, NewType

    Node = NewType("Node", bytes)
else:
    def Node(value: bytes) -> bytes:  # typing.NewType at run time: the identity
        return value

__all__ = [
    "MAX_LABEL",
    "MAX_LOCAL",
    "MAX_NAME",
    "Name",
    "Node",
    "chain_root",
    "is_public_suffix",
    "keccak256",
    "labelhash",
    "namehash",
    "parse_name",
    "raw_namehash",
    "registrable_domain",
    "squatted_by",
]

def labelhash(label: str, *, person: bool = False) -> bytes:
    """keccak256 of a label (with the ``@`` prefix for a person's local part)."""
    return keccak256((("@" + label) if person else label).encode("utf-8"))


@lru_cache(maxsize=4096)
def _domain_node(labels: tuple[str, ...]) -> Node:
    """The node of a domain's labels (memoised: a command hashes the same few names many times,
    and every person's node is hashed onto its domain's)."""
    node = b"\x00" * 32
    for label in reversed(labels):
        node = keccak256(node + labelhash(label))
    return Node(node)


def _node(labels: tuple[str, ...], local: str | None) -> Node:
    """The node of parsed labels; a person's is hashed onto its domain's memoised node and not
    memoised itself (the gateway's names differ from one request to the next)."""
    if local is None:
        return _domain_node(labels)
    return Node(keccak256(_domain_node(labels) + labelhash(local, person=True)))


def namehash(name: str | Name) -> Node:
    """Return the 32-byte node of a name (ENS namehash; persons hashed as ``@local``).

    Raises:
        InvalidName: the name breaks the grammar.
    """
    parsed = parse_name(name)
    return _node(parsed.labels, parsed.local)


def raw_namehash(text: str) -> Node:
    """The node the contract computes for name text, without the grammar or normalisation.

    For sync, which must index (and then never serve) names the contract took
    but the grammar refuses, such as ``127.0.0.1``.
    """
    local, at, domain = text.rpartition("@")
    return _node(tuple(domain.split(".")), local if at else None)


# --------------------------------------------------------------------------- squatting

_PSL: Any = None


def _psl() -> Any:
    global _PSL
    if _PSL is None:
        from publicsuffixlist import PublicSuffixList  # ~75 ms: loaded only when needed

        _PSL = PublicSuffixList()
    return _PSL


def is_public_suffix(domain: str) -> bool:
    """Whether ``domain`` is a public suffix (``org``, ``co.uk``, ``github.io``).

    By the Public Suffix List the ``publicsuffixlist`` package ships (ICANN and
    private sections; an unknown single label counts, by the list's ``*`` rule).
    """
    return bool(_psl().is_public(domain))


def registrable_domain(domain: str) -> str | None:
    """The registrable domain (public suffix + one label) of ``domain``; ``None`` for a suffix."""
    found = _psl().privatesuffix(domain)
    return None if found is None else str(found)



