"""Which block to trust: k of n JSON-RPC endpoints agreeing on its hash (quorum heads).

    quorum = Quorum.from_urls(["https://a.example", "https://b.example", "https://c.example"],
                              k=2, tag="finalized")
    head = quorum.head()            # TrustedBlock: number, hash, timestamp, state_root
    print(quorum.describe())        # what this configuration trusts, in plain words

An endpoint's word is untrusted. A block is trusted when ``k`` endpoints
return the same hash for it at the configured tag: ``finalized``, ``safe``,
or ``latest`` less N confirmations. Every header an endpoint sends is hashed
again from its RLP fields (:mod:`registry.chain.header`) before its hash
counts, so the ``stateRoot`` that state proofs are checked against
(:mod:`registry.chain.stateproof`) and the ``timestamp`` freshness is measured
by are the trusted block's own. Endpoints that answer another hash, a header
that does not hash to what it claims, another chain id, or nothing, are
reported by name (:attr:`Quorum.report`), never hidden; with fewer than ``k``
in agreement nothing is trusted (:class:`~registry.errors.QuorumError`).

``k = n = 1`` is allowed: that one endpoint is then trusted alone, and
:meth:`Quorum.describe` says so. docs/TRUST.md explains what an attacker
controlling some of the endpoints can and cannot do.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from registry._text import printable
from registry.chain._rpc import Rpc, hash32, quantity
from registry.errors import ChainError, ConfigError, Error, QuorumError, VerificationError

__all__ = ["TAGS", "Dissent", "Quorum", "TrustTag", "TrustedBlock"]

TAGS = ("finalized", "safe", "latest")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class TrustTag:
    """The block tag heads are taken at: ``finalized``, ``safe``, or ``latest`` less
    ``confirmations`` blocks."""

    tag: str = "latest"
    confirmations: int = 0

    @classmethod
    def parse(cls, value: str | int | TrustTag | None) -> TrustTag:
        """``"finalized"``, ``"safe"``, ``"latest"``, or a number of confirmations (``12``,
        ``"12"``). Raises ConfigError for anything else."""
        if isinstance(value, TrustTag):
            return value
        if value is None:
            return cls()
        if isinstance(value, int) and not isinstance(value, bool):
            if value < 0:
                raise ConfigError(f"a trust tag's confirmations must be >= 0, not {value}")
            return cls("latest", value)
        text = str(value).strip().lower()
        if text in TAGS:
            return cls(text, 0)
        if text.isdigit() and len(text) <= 9:
            return cls("latest", int(text))
        raise ConfigError(f"unknown trust tag {str(value)[:40]!r}: finalized, safe, latest or a"
                          " number of confirmations")

    def with_confirmations(self, n: int) -> TrustTag:
        """This tag, or ``latest - n`` when that is deeper (``finalized``/``safe`` stay)."""
        if self.tag != "latest" or n <= self.confirmations:
            return self
        return TrustTag("latest", n)

    def to_config(self) -> str | int:
        return self.confirmations if self.tag == "latest" and self.confirmations else self.tag

    def __str__(self) -> str:
        if self.tag == "latest" and self.confirmations:
            return f"latest - {self.confirmations} confirmations"
        return self.tag


@dataclass(frozen=True, slots=True)
class Dissent:
    """An endpoint that did not agree with the trusted answer, and what it said."""

    endpoint: str
    reason: str

    def __str__(self) -> str:
        return f"{self.endpoint}: {self.reason}"


@dataclass(frozen=True, slots=True)
class TrustedBlock:
    """A block k endpoints agree on; its fields come from a header that hashes to ``hash``."""

    number: int
    hash: bytes
    timestamp: int
    state_root: bytes
    parent_hash: bytes
    agreed: tuple[str, ...]
    dissent: tuple[Dissent, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"number": self.number, "hash": "0x" + self.hash.hex(),
                "timestamp": self.timestamp, "agreed": list(self.agreed),
                "dissent": [str(d) for d in self.dissent]}


@dataclass(frozen=True, slots=True)
class _Header:
    number: int
    hash: bytes
    timestamp: int
    state_root: bytes
    parent_hash: bytes


def _header(blk: Any, number: int | None, what: str) -> _Header:
    """A header reply checked: its fields hash to its ``hash``, its number is the one asked for.

    Raises ChainError (malformed, missing) or VerificationError (does not hash, another block).
    """
    from registry.chain.header import verify_header_hash

    if blk is None:
        raise ChainError(f"{what}: the endpoint has no such block")
    if not isinstance(blk, dict):
        raise ChainError(f"{what}: malformed JSON-RPC response (the result is not a block)")
    got = quantity(blk.get("number"), f"{what} number")
    if number is not None and got != number:
        raise VerificationError(f"{what}: the endpoint answered with the header of block {got}")
    hash32(blk.get("hash"), f"{what} hash")
    try:
        computed = verify_header_hash(blk)
    except VerificationError as exc:  # the fields hash elsewhere, or a field is malformed
        raise VerificationError(f"{what}: {exc}") from None
    return _Header(got, computed,
                   quantity(blk.get("timestamp"), f"{what} timestamp"),
                   hash32(blk.get("stateRoot"), f"{what} stateRoot"),
                   hash32(blk.get("parentHash"), f"{what} parentHash"))


def _short(h: bytes) -> str:
    return "0x" + h.hex()[:12] + "…"


def _reason(exc: BaseException) -> str:
    """One line of ``exc`` for a report (an endpoint's words: control characters escaped)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return printable(text[:300])


@dataclass
class Quorum:
    """n endpoints of one chain, of which k must agree on a block's hash for it to be trusted.

    ``endpoints`` are :class:`~registry.chain._rpc.Rpc` objects (the first is the
    preferred source of data); ``tag`` a :class:`TrustTag` (or its text).
    """

    endpoints: list[Rpc]
    k: int = 1
    tag: TrustTag = field(default_factory=TrustTag)
    chain_id: int | None = None
    #: Every disagreement, failure and lag seen so far, oldest first (deduplicated).
    report: list[Dissent] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.tag = TrustTag.parse(self.tag)
        n = len(self.endpoints)
        if n == 0:
            raise ConfigError("a network needs at least one endpoint")
        if not 1 <= int(self.k) <= n:
            raise ConfigError(f"quorum {self.k} is impossible with {n} endpoint(s): 1 to {n}")
        self.k = int(self.k)
        names: dict[str, int] = {}
        for ep in self.endpoints:  # names identify endpoints in every message: make them unique
            base = ep.name
            names[base] = names.get(base, 0) + 1
            if names[base] > 1:
                ep.name = f"{base} (#{names[base]})"
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._cached: tuple[float, TrustedBlock] | None = None

    # ----------------------------------------------------------------- constructors

    @classmethod
    def from_urls(cls, urls: Sequence[str], *, k: int = 1, tag: str | int | TrustTag = "latest",
                  chain_id: int | None = None, timeout: float = 30.0) -> Quorum:
        """Endpoints at ``urls``. Raises ConfigError (bad URL, impossible quorum)."""
        return cls([Rpc.from_url(u, timeout=timeout) for u in urls], k=k,
                   tag=TrustTag.parse(tag), chain_id=chain_id)

    @classmethod
    def single(cls, w3: Any, *, tag: str | int | TrustTag = "latest",
               chain_id: int | None = None) -> Quorum:
        """One endpoint (a Web3 or anything with a ``provider``), trusted alone."""
        return cls([Rpc(w3)], k=1, tag=TrustTag.parse(tag), chain_id=chain_id)

    # ----------------------------------------------------------------- description

    @property
    def n(self) -> int:
        return len(self.endpoints)

    @property
    def alone(self) -> bool:
        """Whether one endpoint's word decides (k = 1): that endpoint is trusted alone."""
        return self.k == 1

    def describe(self) -> str:
        """What this configuration trusts, in one or two plain sentences."""
        tag = str(self.tag)
        if self.n == 1:
            return (f"one endpoint ({self.endpoints[0].name}), trusted alone: it decides which"
                    f" block is the {tag} one, so it can show any state it likes; everything"
                    " else is checked against that block (header hash, state proofs, event"
                    " digest)")
        if self.k == 1:
            return (f"{self.n} endpoints, any one of them trusted alone (quorum 1): whichever"
                    " answers decides the block; add --quorum to require agreement")
        minority = (f"; {self.k} is not a majority of {self.n}: any {self.k} together decide"
                    " when their chain is at least as long") if 2 * self.k <= self.n else ""
        return (f"{self.k} of {self.n} endpoints must return the same hash for the {tag} block;"
                f" an attacker controlling {self.k - 1} of them cannot make keyanchor trust a"
                f" false block (it can stop progress when fewer than {self.k} honest endpoints"
                f" remain){minority}")

    def note(self, endpoint: str, reason: str) -> None:
        """Record a disagreement or failure (kept in :attr:`report`)."""
        d = Dissent(endpoint, reason)
        with self._lock:
            if d not in self.report:
                self.report.append(d)

    # ----------------------------------------------------------------- fan-out

    def _each(self, fn: Callable[[Rpc], T], endpoints: Sequence[Rpc]) -> list[T | Exception]:
        """``fn(endpoint)`` for each endpoint, concurrently; an Error is returned, not raised."""
        def one(ep: Rpc) -> T | Exception:
            try:
                return fn(ep)
            except Error as exc:
                return exc
        if len(endpoints) == 1:
            return [one(endpoints[0])]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=min(16, self.n),
                                            thread_name_prefix="keyanchor-quorum")
        return list(self._pool.map(one, endpoints))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None

    # ----------------------------------------------------------------- chain id

    def check_chain(self, expected: int | None = None) -> int:
        """The chain id k endpoints agree on (``expected``, or :attr:`chain_id`, if set).

        Endpoints serving another chain (or not answering) are reported and left out
        from then on.

        Raises: WrongChain (fewer than k endpoints serve the expected chain), QuorumError
        (no chain id has k votes), ChainError (the only endpoint failed).
        """
        from registry.errors import WrongChain

        want = expected if expected is not None else self.chain_id
        answers = self._each(lambda ep: quantity(ep.call("eth_chainId", []), "eth_chainId"),
                             self.endpoints)
        votes: dict[int, list[str]] = {}
        for ep, ans in zip(self.endpoints, answers, strict=True):
            if isinstance(ans, Exception):
                if self.n == 1:
                    raise ans
                self.note(ep.name, f"eth_chainId failed: {_reason(ans)}")
            else:
                votes.setdefault(ans, []).append(ep.name)
        if want is None:
            best = max(votes.items(), key=lambda kv: len(kv[1]), default=None)
            if best is None or len(best[1]) < self.k:
                raise QuorumError(self._no_quorum("the chain id", votes, answers))
            want = best[0]
        for cid, names in votes.items():
            if cid != want:
                for name in names:
                    self.note(name, f"serves chain {cid}, not {want}")
        good = votes.get(want, [])
        if len(good) < self.k:
            if self.n == 1:
                raise WrongChain(f"the endpoint serves chain {next(iter(votes))}, not the"
                                 f" configured chain {want}")
            raise WrongChain(f"fewer than {self.k} of {self.n} endpoints serve chain {want}: "
                             + "; ".join(str(d) for d in self.report))
        self.endpoints = [ep for ep in self.endpoints if ep.name in good]
        self.chain_id = want
        return want

    def _no_quorum(self, what: str, votes: dict[Any, list[str]], answers: Sequence[Any]) -> str:
        parts = [f"{', '.join(names)} say {v if not isinstance(v, bytes) else _short(v)}"
                 for v, names in votes.items()]
        parts += [str(d) for d in self.report if not any(d.endpoint in n for n in votes.values())]
        return (f"no {self.k} of {self.n} endpoints agree on {what}: " + "; ".join(parts)
                + " (nothing is trusted)")

    # ----------------------------------------------------------------- heads

    def _tag_header(self, ep: Rpc, tag: TrustTag) -> _Header:
        if tag.tag != "latest" or tag.confirmations == 0:
            return _header(ep.call("eth_getBlockByNumber", [tag.tag, False]), None,
                           f"{ep.name}: the {tag.tag} block")
        head = quantity(ep.call("eth_blockNumber", []), "eth_blockNumber")
        number = max(0, head - tag.confirmations)
        return _header(ep.call("eth_getBlockByNumber", [hex(number), False]), number,
                       f"{ep.name}: block {number}")

    def head(self, *, confirmations: int = 0, max_age: float = 0.0) -> TrustedBlock:
        """The newest block k endpoints agree on at the tag (with at least ``confirmations``).

        Every endpoint is asked (so a liar is found even when the others suffice);
        the block is the k-th highest tag block reported, and counts when k
        endpoints whose tag block is at or above it return the same hash for it.
        ``max_age`` (seconds) reuses the previous answer while it is that recent.

        Raises:
            QuorumError: fewer than k endpoints agree (each one's answer is named).
            ChainError: when the only endpoint fails.
        """
        import time

        tag = self.tag.with_confirmations(confirmations)
        now = time.monotonic()
        cached = self._cached
        if max_age > 0 and cached is not None and now - cached[0] <= max_age:
            return cached[1]
        answers = self._each(lambda ep: self._tag_header(ep, tag), self.endpoints)
        good: list[tuple[Rpc, _Header]] = []
        for ep, ans in zip(self.endpoints, answers, strict=True):
            if isinstance(ans, Exception):
                if self.n == 1:
                    raise ans
                self.note(ep.name, f"no {tag} block: {_reason(ans)}")
            else:
                good.append((ep, ans))
        if len(good) < self.k:
            raise QuorumError(f"fewer than {self.k} of {self.n} endpoints answered with a valid"
                              f" {tag} block: " + "; ".join(str(d) for d in self.report))
        target = sorted((h.number for _, h in good), reverse=True)[self.k - 1]
        block = self._agree(target, good, f"the {tag} block")
        self._cached = (now, block)
        return block

    def _agree(self, number: int, answers: list[tuple[Rpc, _Header]], what: str) -> TrustedBlock:
        """Group the endpoints' hashes for block ``number``; k equal ones make it trusted."""
        behind = [(ep, h) for ep, h in answers if h.number < number]
        for ep, h in behind:
            self.note(ep.name, f"behind: at block {h.number} for {what}, the quorum's is"
                               f" block {number}")
        above = [(ep, h) for ep, h in answers if h.number > number]
        fetched = self._each(
            lambda ep: _header(ep.call("eth_getBlockByNumber", [hex(number), False]), number,
                               f"{ep.name}: block {number}"), [ep for ep, _ in above])
        at = [(ep, h) for ep, h in answers if h.number == number]
        for (ep, _), ans in zip(above, fetched, strict=True):
            if isinstance(ans, Exception):
                self.note(ep.name, f"block {number}: {_reason(ans)}")
            else:
                at.append((ep, ans))
        return self._decide(number, at, what)

    def _decide(self, number: int, at: list[tuple[Rpc, _Header]], what: str) -> TrustedBlock:
        groups: dict[bytes, list[tuple[Rpc, _Header]]] = {}
        for ep, h in at:
            groups.setdefault(h.hash, []).append((ep, h))
        best = max(groups.values(), key=len, default=[])
        if len(best) < self.k:
            votes = {h: [ep.name for ep, _ in g] for h, g in groups.items()}
            raise QuorumError(self._no_quorum(f"block {number} ({what})", votes, []))
        rivals = [g for g in groups.values() if len(g) >= self.k]
        if len(rivals) > 1:  # k <= n/2: two quorums on two chains -- neither is trusted
            votes = {g[0][1].hash: [ep.name for ep, _ in g] for g in rivals}
            for g in rivals:
                for ep, _ in g:
                    self.note(ep.name, f"one of two rival quorums on block {number}")
            raise QuorumError(self._no_quorum(f"block {number} ({what}): rival quorums", votes,
                                              []))
        trusted = best[0][1]
        dissent = []
        for other, group in groups.items():
            if other != trusted.hash:
                for ep, _ in group:
                    d = Dissent(ep.name, f"says block {number} is {_short(other)}, {len(best)} of"
                                         f" {self.n} endpoints say {_short(trusted.hash)}"
                                         " (outvoted)")
                    self.note(d.endpoint, d.reason)
                    dissent.append(d)
        order = {ep.name: i for i, ep in enumerate(self.endpoints)}
        agreed = tuple(sorted((ep.name for ep, _ in best), key=lambda n: order.get(n, 0)))
        return TrustedBlock(trusted.number, trusted.hash, trusted.timestamp, trusted.state_root,
                            trusted.parent_hash, agreed, tuple(dissent))

    def block(self, number: int) -> TrustedBlock:
        """Block ``number`` as k endpoints agree on it. Raises QuorumError, ChainError."""
        return self.blocks([number])[number]

    def blocks(self, numbers: Iterable[int]) -> dict[int, TrustedBlock]:
        """Blocks ``numbers`` as k endpoints agree on them (one batch request per endpoint).

        The preferred endpoints are asked first; the rest only for blocks the
        first k did not agree on.

        Raises:
            QuorumError: fewer than k endpoints agree on one of the blocks.
            ChainError: the only endpoint failed.
        """
        wanted = sorted(set(int(n) for n in numbers))
        if not wanted:
            return {}
        calls = [("eth_getBlockByNumber", [hex(n), False]) for n in wanted]
        answers: dict[int, list[tuple[Rpc, _Header]]] = {n: [] for n in wanted}

        def ask(ep: Rpc, nums: list[int]) -> list[_Header | Exception]:
            replies = ep.batch([c for c, n in zip(calls, wanted, strict=True) if n in nums]) \
                if len(nums) > 1 else [ep.call("eth_getBlockByNumber", [hex(nums[0]), False])]
            out: list[_Header | Exception] = []
            for n, blk in zip(nums, replies, strict=True):
                try:
                    out.append(_header(blk, n, f"{ep.name}: block {n}"))
                except Error as exc:
                    out.append(exc)
            return out

        first, rest = self.endpoints[:self.k], self.endpoints[self.k:]
        pending = wanted
        for group in (first, rest):
            if not group or not pending:
                continue
            results = self._each(lambda ep, p=pending: ask(ep, p), group)  # type: ignore[misc]
            for ep, res in zip(group, results, strict=True):
                if isinstance(res, Exception):
                    if self.n == 1:
                        raise res
                    self.note(ep.name, f"blocks {pending[0]}-{pending[-1]}: {_reason(res)}")
                    continue
                for n, h in zip(pending, res, strict=True):
                    if isinstance(h, Exception):
                        if self.n == 1:
                            raise h
                        self.note(ep.name, f"block {n}: {_reason(h)}")
                    else:
                        answers[n].append((ep, h))
            pending = [n for n in pending if not self._settled(answers[n])]
        return {n: self._decide(n, answers[n], f"block {n}") for n in wanted}

    def _settled(self, at: list[tuple[Rpc, _Header]]) -> bool:
        hashes = {h.hash for _, h in at}
        return len(at) >= self.k and len(hashes) == 1

    # ----------------------------------------------------------------- data sources

    def data_endpoints(self) -> list[Rpc]:
        """Endpoints to read data from, preferred first; those seen lying go last."""
        liars = {d.endpoint for d in self.report if "outvoted" in d.reason
                 or "does not verify" in d.reason or "hash to" in d.reason}
        return ([ep for ep in self.endpoints if ep.name not in liars]
                + [ep for ep in self.endpoints if ep.name in liars])

    def first_good(self, what: str, fn: Callable[[Rpc], T]) -> T:
        """``fn(endpoint)`` on each data endpoint until one verifies (the others are reported).

        Raises: VerificationError naming every endpoint's failure; ChainError when
        the only endpoint fails.
        """
        failures: list[str] = []
        last: Error | None = None
        for ep in self.data_endpoints():
            try:
                return fn(ep)
            except VerificationError as exc:
                self.note(ep.name, f"{what}: {_reason(exc)}")
                failures.append(f"{ep.name}: {_reason(exc)}")
                last = exc
            except ChainError as exc:
                if self.n == 1:
                    raise
                self.note(ep.name, f"{what}: {_reason(exc)}")
                failures.append(f"{ep.name}: {_reason(exc)}")
                last = exc
        if self.n == 1 and last is not None:
            raise last
        raise VerificationError(f"{what}: no endpoint gave data that verifies: "
                                + "; ".join(failures))
