"""The HTTP gateway: HKP and WKD for gpg, a JSON API, plain-text feeds and a lookup page.

    app = create_app("index.sqlite")                  # a Starlette ASGI app
    serve("index.sqlite", "127.0.0.1", 11371)         # or run it under uvicorn

Read-only: everything comes from the verified local index, nothing is ever
written. By default only keys that are **active** (not revoked, not expired,
not pending) and **pass the policy** are served over HKP, WKD, ``.keys`` and
``certs.pem``; the JSON API and the page list every record with its status
and say which ones are served. With ``policy=None`` the verdict is the one
sync stored; with a profile name, a policy file or a
:class:`~registry.policy.profiles.Policy`, keys are re-checked at lookup
(cached per record). See docs/GATEWAY.md for the routes.

Every refusal is a short 4xx text (or JSON under ``/v1``): oversized query
strings (414) and bodies (413), non-UTF-8 percent escapes, ``..`` segments
and malformed searches (400). A missing, corrupt or stale index is 503 (the
reason is given for a stale one). :func:`serve` bounds idle and slow
connections (``registry.gateways._server``).
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import parse_qsl, quote, unquote_to_bytes

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from registry.errors import Error, GatewayRequestError, IndexUnavailable, InvalidName
from registry.gateways import web
from registry.gateways._queries import (
    Row,
    identities,
    name_view_rows,
    rows_by_fingerprint,
    rows_by_name,
)
from registry.gateways.hkp import (
    HKPQuery,
    IndexEntry,
    armor_certificates_bytes,
    parse_lookup,
    parse_plain_get,
    render_mr_index,
)
from registry.gateways.ssh import DEFAULT_MAX_STALENESS
from registry.gateways.wkd import HASH_RE, wkd_hash
from registry.index._query import (
    KEY_TYPES,
    IndexedRecord,
    IndexReader,
    _record,
    iso,
    purpose_names,
    reason_label,
    record_dict,
    record_status,
    validate_name,
)
from registry.index._query import valid_name as _valid_name  # (Gateway.valid_name remembers it)
from registry.index._schema import fingerprint_text
from registry.keys._keccak import commitment_matches
from registry.names import raw_namehash

try:  # a JSON encoder in C (a dependency; the stdlib encoder gives the same bytes, slower)
    import orjson as _orjson
except ImportError:  # pragma: no cover - orjson is a dependency
    _orjson = None  # type: ignore[assignment]

if TYPE_CHECKING:  # pragma: no cover
    from registry.gateways._server import ServerLimits

__all__ = ["MAX_BODY", "MAX_QUERY", "Gateway", "StaleIndex", "check_index", "create_app", "serve"]

#: Longest query string (and path) accepted, in octets; longer is 414.
MAX_QUERY = 2048
#: Largest request body accepted, in octets; larger is 413.
MAX_BODY = 64 * 1024
#: Parsed keys / rendered certificates kept in memory (LRU, per process).
CACHE_SIZE = 8192
#: Seconds a lookup-time policy verdict is reused.
POLICY_TTL = 300.0
#: Name checks remembered per snapshot and thread (the memo starts afresh when full).
NAME_MEMO_SIZE = 1 << 20

SSH, OPENPGP, X509 = 1, 2, 3
SSH_USER, CA = 1, 64
SERVED_RULE = "active (not revoked, not expired, not pending) and passing the policy"

_PUBLISH_HINT = (
    "This keyserver is read-only: keys are published on chain with"
    " `keyanchor key publish NAME KEYFILE`, then appear here after the index syncs.\n"
)


# --------------------------------------------------------------------------- caches


class _LRU:
    """A small thread-safe LRU mapping."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._data: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            hit = self._data.get(key)  # (no value is None)
            if hit is not None:
                self._data.move_to_end(key)
            return hit

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self._size:
                self._data.popitem(last=False)


class Verdict(NamedTuple):
    """A record's policy verdict as the gateway applies it (a named tuple: immutable, and
    cheap to build for every record a ``/v1/names`` answer shows)."""

    verdict: str  # pass | fail | unknown
    detail: str
    failing: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """The verdict as a record's JSON view shows it (``policy``)."""
        return {"verdict": self.verdict, "detail": self.detail, "failing_lints": list(self.failing)}


def _stored_verdict(policy: str, detail: str, problem: str | None) -> Verdict:
    """The verdict sync stored (``policy``, ``detail``), unless the record's name does not count
    (``problem``, :meth:`Gateway.name_problem`): then it fails, ``binding.domain_chain`` for a
    squatted name. (Remembered: a pure function of three texts, of which an index holds few.)"""
    key = (policy, detail, problem)
    hit = _VERDICTS.get(key)
    if hit is None:
        hit = _verdict_of(policy, detail, problem)
        if len(_VERDICTS) >= 4096:
            _VERDICTS.clear()
        _VERDICTS[key] = hit
    return hit


_VERDICTS: dict[tuple[str, str, str | None], Verdict] = {}


def _verdict_of(policy: str, detail: str, problem: str | None) -> Verdict:
    if problem is not None:
        return Verdict("fail", problem, ("binding.domain_chain",) if "squatting" in problem else ())
    failing: tuple[str, ...] = ()
    if policy == "fail" and ": " in detail:
        failing = tuple(x.strip() for x in detail.split(": ", 1)[1].split(","))
    return Verdict(policy, detail, failing)


# --------------------------------------------------------------------------- name texts

#: Texts that ``registry._grammar._normal_parts`` reads as a name already in normal form,
#: matched in C (a subset of them: a local part of 1-64 of ``a-z 0-9 . _ + -`` with no
#: ``.`` at an end nor two in a row, then ``@``; a domain of at most 63 characters of
#: labels of ``a-z 0-9 -`` with no ``-`` at a label's end, the last one starting with a
#: letter, so not a number). Any other text (``xn--``, upper case, a longer domain, ...)
#: takes the grammar's own path. tests/gateways/test_fast_path.py checks the subset.
_PLAIN_NORMAL = re.compile(
    r"(?:(?=[a-z0-9._+-]{1,64}@)[a-z0-9_+-]+(?:\.[a-z0-9_+-]+)*@)?"
    r"(?=[a-z0-9.-]{1,63}\Z)(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)*[a-z](?:[a-z0-9-]*[a-z0-9])?"
).fullmatch


def _node_hex(text: str) -> str:
    """``"0x" + raw_namehash(text).hex()`` (a person's node is hashed onto its domain's
    remembered node, see :func:`registry.names.raw_namehash`)."""
    return "0x" + bytes(raw_namehash(text)).hex()


def _newest_first(r: IndexedRecord | Row) -> tuple[int, str, int]:
    return -r.published_at, r.name, r.index


def _plainly_normal(text: str) -> bool:
    """Whether ``text`` is a registry name in normal form by :data:`_PLAIN_NORMAL` (``False``:
    not known so; the grammar decides)."""
    return "xn--" not in text and _PLAIN_NORMAL(text) is not None


def _normal(name: str) -> str:
    """``validate_name(name)``: the normal form of a registry name (the text itself when
    :func:`_plainly_normal`). Raises: InvalidName."""
    return name if _plainly_normal(name) else validate_name(name)


# --------------------------------------------------------------------------- the gateway


class StaleIndex(IndexUnavailable):
    """The index's last successful sync is older than the gateway's ``max_staleness``.

    Its message holds no path, so it is shown to HTTP clients as the 503 reason.
    """


def intact(rec: IndexedRecord | Row) -> bool:
    """Whether a record's stored material still hashes to its commitment (re-hashed at every
    serve: a bit flipped in the index file is never served)."""
    return commitment_matches(rec.key_type, rec.material, rec.commitment)


class Gateway:
    """Lookups over the index with the serving rule applied (one per app; thread-safe).

    Raises (from every lookup): IndexUnavailable (missing, corrupt or stale index).
    """

    def __init__(self, index_path: str | os.PathLike[str], *, policy: Any = None,
                 max_staleness: float | None = None, cache_size: int = CACHE_SIZE) -> None:
        self.index_path = Path(index_path)
        self.policy = policy
        self.max_staleness = max_staleness
        self._local = threading.local()
        self._parsed = _LRU(cache_size)
        self._verdicts = _LRU(cache_size)
        #: Requests begun (:meth:`begin_request`); ``None`` outside the app: every
        #: :meth:`reader` call then checks for a new snapshot.
        self._requests: int | None = None

    # -- index access

    def begin_request(self) -> None:
        """Called by the app as each request begins: lookups re-check the snapshot once per request."""
        self._requests = (self._requests or 0) + 1

    def reader(self) -> IndexReader:
        """This thread's reader (opened on first use; freshness checked at most once a second)."""
        loc = self._local
        rd: IndexReader | None = getattr(loc, "reader", None)
        seq = self._requests
        if rd is not None and seq is not None and getattr(loc, "ready", None) == seq:
            return rd  # this request already checked it (and the snapshot it reads)
        if rd is not None and (seq is None or getattr(loc, "seen", None) != seq):
            loc.seen = seq  # one stat per request: none began since this thread's last one
            if rd.replaced():  # a sync published a new snapshot: reopen
                self.reset()
                rd = None
        if rd is None:
            rd = IndexReader.open(self.index_path)
            rd.map_into_memory()  # a long-lived reader: page reads without a copy each
            loc.reader, loc.checked = rd, float("-inf")
            loc.problems, loc.valid = {}, {}  # name checks of this snapshot (name_problem)
        if self.max_staleness is not None and (now := time.monotonic()) - loc.checked > 1.0:
            self._check_fresh(rd)
            loc.checked = now
        loc.ready = seq
        return rd

    def _check_fresh(self, rd: IndexReader) -> None:
        assert self.max_staleness is not None
        fresh = rd.fresh_as_of()  # the proven head's time, not the time of the last contact
        if fresh is None:
            raise StaleIndex("the index has never been synced")
        age = time.time() - fresh
        if age > self.max_staleness:
            raise StaleIndex(f"the index is stale: the newest block it proved is {int(age)} s"
                             f" old (limit {int(self.max_staleness)} s)")

    def reset(self) -> None:
        """Drop this thread's reader (after an error; the next lookup reopens the file)."""
        rd = getattr(self._local, "reader", None)
        self._local.reader = self._local.ready = None
        if rd is not None:
            try:
                rd.close()
            except Exception:  # pragma: no cover - closing a broken connection
                pass

    # -- parsing, verdicts, the serving rule

    def parsed(self, rec: IndexedRecord) -> Any:
        """The parsed key of a record (cached by commitment), or ``None`` if it does not parse."""
        key = (rec.key_type, rec.commitment)
        hit = self._parsed.get(key)
        if hit is None:
            from registry.keys import load_material

            try:
                hit = (load_material(rec.key_type, rec.material),)
            except Error:
                hit = (None,)
            self._parsed.put(key, hit)
        return hit[0]

    def name_problem(self, name: str) -> str | None:
        """Why nothing under indexed name ``name`` is served (invalid, squatting), or ``None``.

        Remembered per snapshot (a sync's new snapshot starts afresh): the answer
        depends only on the names the snapshot holds.
        """
        rd = self.reader()
        if rd._squat_free is True:  # nothing squats in this snapshot (the reader's one scan)
            return None if self.valid_name(name) else rd.name_problem(name)
        memo: dict[str, str | None] = self._local.problems
        try:
            return memo[name]
        except KeyError:
            pass
        problem = rd.name_problem(name)
        if len(memo) >= NAME_MEMO_SIZE:
            memo.clear()
        memo[name] = problem
        return problem

    def _own_name_problem(self, rd: IndexReader, text: str) -> str | None:
        """:meth:`name_problem` of a request's name ``text`` as ``validate_name`` gave it: in
        normal form, so valid by construction; squatting is then all there is to check, and
        nothing squats in a snapshot the reader's one scan found free of it (``_squat_free``,
        as sync's own check reads it): no lookup. Else the full check (remembered)."""
        if rd._squat_free is True:
            return None
        return self.name_problem(text)

    def valid_name(self, name: str) -> bool:
        """Whether indexed name text is a valid registry name in normal form (remembered)."""
        if _plainly_normal(name):
            return True
        self.reader()
        memo: dict[str, bool] = self._local.valid
        ok = memo.get(name)
        if ok is None:
            ok = _valid_name(name)
            if len(memo) >= NAME_MEMO_SIZE:
                memo.clear()
            memo[name] = ok
        return ok

    def verdict(self, rec: IndexedRecord) -> Verdict:
        """The policy verdict for a record: stored at sync, or re-checked with ``policy``.

        A record under a name that does not count (:meth:`name_problem`) fails
        whatever was stored: ``binding.domain_chain`` for a squatted name.
        """
        problem = self.name_problem(rec.name)
        if problem is not None or self.policy is None:
            return _stored_verdict(rec.policy, rec.policy_detail, problem)
        ck = (rec.commitment, rec.name, rec.purposes)
        hit = self._verdicts.get(ck)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        key = self.parsed(rec)
        if key is None:
            v = Verdict("fail", "material does not parse", ("material",))
        else:
            v = self._check(rec, key)
        self._verdicts.put(ck, (time.monotonic() + POLICY_TTL, v))
        return v

    def _evidence(self, rec: IndexedRecord) -> dict[str, Any]:
        """What the publish-time check had, from the index: the proof and the statement it
        signs (chain, registry, name, owner, commitment), the publish time, the live
        attestations with their attesters' owners, the name's registry parent, and the
        DNS-control verdict sync stored for its domain."""
        from registry.policy import Attestation
        from registry.proofs import statement

        rd = self.reader()
        info = rd.name(rec.name) or {}
        owner = info.get("owner")
        meta = rd.meta()
        out: dict[str, Any] = {"parent": info.get("parent"), "registered_at": (
            datetime.fromtimestamp(rec.published_at, UTC) if rec.published_at else None)}
        proof = rd.proof(rec.node, rec.index)
        if proof and owner and meta.get("chain_id", "").isdigit() and meta.get("registry"):
            try:
                out["statement"] = statement(int(meta["chain_id"]), meta["registry"], rec.name,
                                             owner, rec.commitment)
                out["proof"] = proof
            except Error:
                pass  # binding.proof then says the proof is missing: fail closed
        atts = rd.attestations(rec.name, rec.index)
        out["attestations"] = [Attestation(a["attester"],
                                           expires=a["expires"] and datetime.fromisoformat(a["expires"]),
                                           attester_owner=a.get("attester_owner"))
                               for a in atts if not a["expired"]]
        owners = {a["attester"]: a["attester_owner"] for a in atts if a.get("attester_owner")}
        if owner:
            owners[rec.name] = owner
        out["owners"] = owners
        dns = rd.dns_control(rec.name)
        if dns is not None:  # name.dns_control judges it (strict requires a match)
            from registry.dnscontrol import DnsVerdict

            out["dns"] = DnsVerdict(dns["domain"], dns["owner"] or "", dns["status"],
                                    tuple(dns["owners"]), dns["detail"] or "")
        return out

    def _check(self, rec: IndexedRecord, key: Any) -> Verdict:
        from registry.policy import check

        pol = self.policy
        kwargs: dict[str, Any] = {"name": rec.name, "purposes": rec.purposes, "record": rec,
                                  "squatted_by": False,  # verdict() answered for squatters
                                  **self._evidence(rec)}
        if isinstance(pol, str) and "\n" not in pol and not os.path.exists(pol):
            kwargs["profile"] = pol
        else:
            kwargs["policy"] = Path(pol) if isinstance(pol, str) else pol
        try:
            report = check(key, **kwargs)
        except Error as exc:
            return Verdict("unknown", f"policy check unavailable: {exc}", ())
        failing = tuple(r.lint_id for r in report.failures())
        return Verdict("pass" if report.passed else "fail",
                       f"{report.profile} {report.policy_sha256[:16]}", failing)

    def served(self, rec: IndexedRecord | Row) -> bool:
        """The serving rule: the record is active at request time and passes the policy.

        Expiry is the record's ``valid_until`` (publishing clamps it to the key's
        own expiry); a certificate's own revocation or expiry is the policy's
        business (sync's verdict, or the lookup-time check with ``policy``).
        """
        return self._served(rec, None)

    def _served(self, rec: IndexedRecord | Row, is_intact: bool | None, normal: bool = False) -> bool:
        """:meth:`served`, with :func:`intact` already known (``None``: hash it now). ``normal``:
        the record's name is known to be a valid name in normal form (the rows of
        :meth:`rows_by_fingerprint` and :meth:`rows_by_email`), so squatting is all its
        :meth:`name_problem` can be (:meth:`_own_name_problem`)."""
        if rec.status != "active" or (self._own_name_problem(self.reader(), rec.name) if normal
                                      else self.name_problem(rec.name)) is not None:
            return False
        if not (intact(rec) if is_intact is None else is_intact):
            return False  # material altered at rest (the index file was tampered with)
        if self.policy is None:
            return rec.policy == "pass"
        assert isinstance(rec, IndexedRecord)  # rows are read only when policy is None
        return self.verdict(rec).verdict == "pass"

    # -- lookups

    def records(self, name: str) -> list[IndexedRecord]:
        return self.reader().records(name)

    def by_fingerprint(self, fingerprint: str) -> list[IndexedRecord]:
        """Records holding this fingerprint, under names the grammar accepts (any status)."""
        return [r for r in self.reader().records_by_fingerprint(fingerprint) if self.valid_name(r.name)]

    def rows_by_fingerprint(self, fingerprint: str) -> list[Row] | None:
        """:meth:`by_fingerprint` as :class:`Row` s (one narrow query), or ``None`` when the
        full records are needed (a lookup-time policy). Their names are valid, in normal form."""
        if self.policy is not None:
            return None
        return [r for r in rows_by_fingerprint(self.reader(), fingerprint) if self.valid_name(r.name)]

    def rows_by_email(self, email: str) -> list[Row] | None:
        """:meth:`by_email` as :class:`Row` s (one narrow query), or ``None`` (see above). Their
        name is the address in normal form (``validate_name``)."""
        if self.policy is not None:
            return None
        try:
            text = _normal(email)
        except InvalidName:
            return []
        return [r for r, identities in rows_by_name(self.reader(), text)
                if r.key_type == OPENPGP and email in identities]

    def by_key_id(self, key_id: str) -> list[IndexedRecord]:
        """OpenPGP records whose primary or subkey has this long key ID (v4: low 64 bits; v6: high)."""
        return self.reader().records_by_key_id(key_id)

    def by_email(self, email: str) -> list[IndexedRecord]:
        """OpenPGP records under the registry name ``email`` whose certificate claims ``email``.

        Only the name itself counts: a certificate published under another name
        that merely lists the address is never returned for it.
        """
        try:
            recs = self.records(email)
        except InvalidName:
            return []
        return [r for r in recs if r.key_type == OPENPGP and email in r.identities]

    def by_wkd(self, domain: str, digest: str, local: str | None) -> list[IndexedRecord]:
        """Records for a WKD request (``local`` from ``l=``, checked against the hash)."""
        if local is not None:
            if wkd_hash(local) != digest:
                return []
            return self.by_email(f"{local.lower()}@{domain}")
        for name in self.reader().person_names(domain):
            if wkd_hash(name.rpartition("@")[0]) == digest:
                return self.by_email(name)
        return []

    def attestations(self, rec: IndexedRecord) -> list[dict[str, Any]]:
        return self.reader().attestations(rec.name, rec.index)

    def revoked_certificate(self, rec: IndexedRecord) -> bytes | None:
        """A revoked OpenPGP record's certificate merged with its verified revocation, else ``None``.

        The revocation is the one the record's ``KeyRevoked`` event carried; it
        counts only if it verifies against the stored certificate
        (:func:`registry.keys.verify_openpgp_revocation`): junk or another
        key's revocation, which a hostile name owner can put in the event, is
        never served. Under a name that does not count (:meth:`name_problem`)
        nothing is served. Cached by commitment and revocation hash.
        """
        hit = self._revocation(rec)
        return None if hit is None else hit[0]

    def _revocation(self, rec: IndexedRecord) -> tuple[bytes, Any] | None:
        """(merged certificate, OpenPGPRevocation) of a revoked OpenPGP record, or ``None``."""
        if rec.key_type != OPENPGP or rec.status != "revoked" or self.name_problem(rec.name):
            return None
        raw = self.reader().revocation(rec.node, rec.index)
        if not raw:
            return None
        import hashlib

        key = ("revocation", rec.commitment, hashlib.sha256(raw).digest())
        hit = self._parsed.get(key)
        if hit is None:
            from registry.keys import merge_openpgp_revocation, verify_openpgp_revocation

            try:
                rev = verify_openpgp_revocation(rec.material, raw)
                hit = ((merge_openpgp_revocation(rec.material, rev).material, rev),)
            except Error:
                hit = (None,)
            self._parsed.put(key, hit)
        return hit[0]

    def openpgp_answer(self, recs: Iterable[IndexedRecord | Row],
                       normal: bool = False) -> list[tuple[Any, bytes]]:
        """What HKP and WKD hand out: (record, binary certificate), one per certificate, newest first.

        A served record's certificate as stored; a revoked record's certificate
        merged with its verified revocation (:meth:`revoked_certificate`), which
        wins over an active copy of the same certificate under another name (the
        key's holder revoked it). Other records are left out. ``normal``: every record's name
        is known to be valid and in normal form (:meth:`_served`).
        """
        out: dict[bytes, tuple[Any, bytes]] = {}
        if not isinstance(recs, list) or len(recs) > 1:  # (one record: nothing to order)
            recs = sorted(recs, key=_newest_first)
        for r in recs:
            if r.key_type != OPENPGP:
                continue
            if r.status == "revoked":
                assert isinstance(r, IndexedRecord)  # rows with a revoked record are not used
                merged = self.revoked_certificate(r)
                if merged is not None and (r.commitment not in out
                                           or out[r.commitment][0].status != "revoked"):
                    out[r.commitment] = (r, merged)
            elif r.commitment not in out and self._served(r, None, normal):
                out[r.commitment] = (r, r.material)
        return list(out.values())

    def served_openpgp(self, recs: Iterable[IndexedRecord]) -> list[IndexedRecord]:
        """The records of :meth:`openpgp_answer` (served, or revoked with a verified revocation)."""
        return [r for r, _ in self.openpgp_answer(recs)]

    def armor(self, certificates: list[bytes]) -> bytes:
        """One armored block over binary certificates (ASCII bytes).

        Not cached: Sequoia's writer takes a few microseconds a certificate, while a cache of
        armored texts that misses (most lookups are of another key) keeps ~3 KB more of the
        heap alive with every request, and the fresh memory costs a page fault (~10 us of
        system time here) nearly every request, more than the writer itself. The wheel's
        compiled writer (:mod:`registry.gateways._armor`) when built, else Sequoia's.
        """
        return armor_certificates_bytes(certificates)

    def index_entry(self, rec: IndexedRecord) -> IndexEntry | None:
        cert = self.parsed(rec)
        if cert is None:
            return None
        from registry.keys._pgp_packets import iter_packets

        first = next(iter(iter_packets(cert.material)))
        algo = first.body[5] if len(first.body) > 5 else 0
        now = datetime.now(UTC)
        flags = ("r" if cert.revoked or rec.status == "revoked" else "") + (
            "e" if rec.status == "expired" or (cert.expires is not None and cert.expires <= now) else "")
        uids = tuple((u.value, None, None, "r" if u.revoked else "")
                     for u in cert.user_ids if u.self_signed)
        return IndexEntry(cert.fingerprint, algo, cert.bits, cert.created, cert.expires, flags, uids)

    # -- views for the JSON API and the page

    def record_view(self, rec: IndexedRecord, *, subkeys: bool = False,
                    attested: bool = True) -> dict[str, Any]:
        """A record for the JSON API / page: status, verdict, attestations, whether it is served.

        ``subkeys`` adds OpenPGP subkey fingerprints (from the index, in certificate order).
        ``attested=False``: the index is known to hold no attestation of the record.
        """
        d = record_dict(rec)
        v = self.verdict(rec)
        d["policy"] = v.to_dict()
        d["attestations"] = self.attestations(rec) if attested else []
        ok = intact(rec)
        d["served"] = self._served(rec, ok)
        if rec.key_type == OPENPGP and rec.status == "revoked":
            assert isinstance(rec, IndexedRecord)
            d["revocation"] = self.revocation_view(rec)
        d["intact"] = ok
        if subkeys and rec.key_type == OPENPGP:
            assert isinstance(rec, IndexedRecord)
            d["subkeys"] = self.reader().subkey_fingerprints(rec.node, rec.index)
        return d

    def revocation_view(self, rec: IndexedRecord) -> dict[str, Any] | None:
        """A revoked OpenPGP record's verified revocation for the JSON API (``None``: none that verifies).

        When present, HKP and WKD serve the certificate with it merged in.
        """
        hit = self._revocation(rec)
        if hit is None:
            return None
        rev = hit[1].to_dict()
        return {k: rev[k] for k in ("created", "reason", "reason_name", "reason_text", "hard")}

    def name_view(self, name: str, *, subkeys: bool = False) -> dict[str, Any] | None:
        """Everything the JSON API and the page show for ``name`` (in any spelling the grammar
        accepts: normalised here; ``None``: not registered).

        One query gives the name, its records and whether it has operators and
        attestations (asked for only when it has): what :meth:`name_view_parts`
        builds from ``IndexReader.name``, ``.records`` and ``.attestations``.

        Raises: InvalidName, IndexUnavailable.
        """
        text = _normal(name)  # a bad name is 400 whether or not the index is readable
        rd = self.reader()
        found = name_view_rows(rd, text)
        if not found:
            return None
        text, parent, person, owner, renounced, block, operated = found[0][:7]
        info: dict[str, Any] = {
            "name": text, "node": _node_hex(text), "owner": owner,
            "parent": parent, "person": bool(person), "renounced": bool(renounced),
            "operators": [], "created_block": block}
        if operated:
            info["operators"] = (rd.name(text) or {}).get("operators", [])
        now, lean = time.time(), self.policy is None
        # the verdict sync stored: a record's view straight from its row, unless it is a revoked
        # OpenPGP record (its view verifies the revocation) or subkeys are asked (read by node)
        problem = self._own_name_problem(rd, text) if lean and not found[0][8] else None
        info["records"] = [
            self._row_view(row, now, problem)
            if lean and not (row[11] == OPENPGP and (row[18] or subkeys))
            else self.record_view(_record(row[9:], now), subkeys=subkeys, attested=bool(row[7]))
            for row in found if not row[8]]
        info["served_rule"] = SERVED_RULE
        return info

    def _row_view(self, row: tuple[Any, ...], now: float, problem: str | None) -> dict[str, Any]:
        """:meth:`record_view` of a record of :meth:`name_view`'s query (``row``: the name's
        columns, then the record's), built from the row without a record object: the same keys,
        order and values, for the verdict sync stored (``policy=None``), given the name's
        :meth:`name_problem`. Not for a revoked OpenPGP record nor with subkeys. The material
        is re-hashed against its commitment, as :func:`intact` does.
        """
        (name, idx, kt, purposes, cm, material, vf, vu, pub, rev, reason, alg, fp, idents, policy,
         block, tx, detail) = row[9:]
        status = record_status(vf, vu, rev, now)
        kt, vf, vu, rev, cm = int(kt), int(vf), int(vu), int(rev), bytes(cm)
        ok = commitment_matches(kt, bytes(material), cm)
        return {
            "name": name, "index": int(idx), "key_type": KEY_TYPES.get(kt, str(kt)),
            "purposes": purpose_names(int(purposes)), "status": status,
            "algorithm": str(alg), "fingerprint": fingerprint_text(fp),
            "identities": list(identities(idents)), "commitment": "0x" + cm.hex(),
            "valid_from": iso(vf) if vf else None, "valid_until": iso(vu) if vu else None,
            "published_at": iso(int(pub)), "revoked_at": iso(rev) if rev else None,
            "reason": None if reason is None else reason_label(int(reason)),
            "policy": _stored_verdict(policy, str(detail or ""), problem).to_dict(),
            "block": int(block), "tx_hash": "0x" + bytes(tx).hex(),
            "attestations": self.reader().attestations(name, int(idx)) if row[7] else [],
            "served": status == "active" and problem is None and ok and policy == "pass",
            "intact": ok}

    def name_view_parts(self, name: str, *, subkeys: bool = False) -> dict[str, Any] | None:
        """:meth:`name_view` built from the reader's lookups (the reference the tests compare with)."""
        rd = self.reader()
        info = rd.name(name)
        if info is None:
            return None
        info["records"] = [self.record_view(r, subkeys=subkeys) for r in rd.records(name)]
        info["served_rule"] = SERVED_RULE
        return info


# --------------------------------------------------------------------------- responses

_TEXT = "text/plain; charset=utf-8"
_COMMON_HEADERS = {"x-content-type-options": "nosniff", "access-control-allow-origin": "*"}
_HTML_HEADERS = {
    "x-content-type-options": "nosniff",
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:;"
                               " form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "referrer-policy": "no-referrer",
}


class _Answer(Response):
    """``Response(body, status, headers=headers, media_type=media_type)`` with its header list
    built at once: the same headers in the same order (the given ones, ``content-length``,
    ``content-type``), for a body given as bytes and a status that has a body."""

    def __init__(self, body: bytes, status: int, headers: tuple[tuple[bytes, bytes], ...],
                 media_type: bytes) -> None:
        self.status_code = status
        self.body = body
        self.background = None
        self.raw_headers = [*headers, (b"content-length", str(len(body)).encode()),
                            (b"content-type", media_type)]


def _raw(headers: dict[str, str]) -> tuple[tuple[bytes, bytes], ...]:
    return tuple((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items())


_COMMON_RAW, _HTML_RAW = _raw(_COMMON_HEADERS), _raw(_HTML_HEADERS)


def _text(body: str, status: int = 200) -> Response:
    text = body if body.endswith("\n") or not body else body + "\n"
    return _Answer(text.encode("utf-8"), status, _COMMON_RAW, _TEXT.encode())


def _dumps(data: Any) -> bytes:
    """Compact UTF-8 JSON, the bytes of ``json.dumps(data, separators=(",", ":"),
    ensure_ascii=False)`` (orjson where it can encode ``data``)."""
    if _orjson is not None:
        try:
            return bytes(_orjson.dumps(data))
        except TypeError:  # what orjson refuses (big ints, lone surrogates): the stdlib encoder
            pass
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _json(data: Any, status: int = 200) -> Response:
    return _Answer(_dumps(data), status, _COMMON_RAW, b"application/json")


def _html(body: str, status: int = 200) -> Response:
    return _Answer(body.encode("utf-8"), status, _HTML_RAW, b"text/html; charset=utf-8")


def _error(request: Request, message: str, status: int) -> Response:
    path = request.url.path
    if path.startswith("/v1/"):
        return _json({"error": message}, status)
    if path in ("/", "/search") or path.startswith("/names/"):
        return _html(web.render_error(message, status), status)
    return _text(message, status)


# --------------------------------------------------------------------------- guard middleware

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: Bytes of a raw path or query string the guard has nothing to refuse in (printable ASCII:
#: no escape, no control, no backslash), deleted by ``bytes.translate`` to check a text in C.
_PLAIN_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.~@:+=,&/"
_HEX_FINGERPRINT = re.compile(r"[0-9A-Fa-f:]{16,100}")  # what /v1/keys/{fingerprint} takes as hex


class _Guard:
    """Refuse oversized, non-UTF-8 and path-traversal requests before routing (pure ASGI)."""

    def __init__(self, app: ASGIApp, on_request: Callable[[], None] | None = None) -> None:
        self.app = app
        self.on_request = on_request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = self._problem(scope)
        if problem is not None:
            status, message = problem
            await _send_text(send, status, message)
            return
        if self.on_request is not None:
            self.on_request()
        await self.app(scope, receive, send)

    @staticmethod
    def _problem(scope: Scope) -> tuple[int, str] | None:
        qs: bytes = scope.get("query_string", b"")
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
        if len(qs) > MAX_QUERY:
            return 414, f"query string longer than {MAX_QUERY} bytes"
        if len(raw_path) > MAX_QUERY:
            return 414, f"path longer than {MAX_QUERY} bytes"
        if (raw_path.translate(None, _PLAIN_BYTES) or qs.translate(None, _PLAIN_BYTES)
                or b"/." in raw_path or raw_path[:1] == b"."):  # (else no "." or ".." segment either)
            try:
                path = (unquote_to_bytes(raw_path) if b"%" in raw_path else raw_path).decode("utf-8")
                if b"%" in qs:
                    nul = "\x00" in unquote_to_bytes(qs).decode("utf-8")
                else:  # in UTF-8, a NUL is the byte 0 alone (ASCII is valid UTF-8)
                    nul = "\x00" in qs.decode("utf-8") if not qs.isascii() else b"\x00" in qs
            except UnicodeDecodeError:
                return 400, "request is not valid UTF-8 after percent-decoding"
            # an ASCII text is printable exactly when it holds no control character
            if (not (path.isascii() and path.isprintable()) and _CONTROL.search(path)) or nul:
                return 400, "control characters in the request path or query"
            if "\\" in path or (("/." in path or path.startswith("."))
                                 and any(seg in (".", "..") for seg in path.split("/"))):
                return 400, "invalid path"
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    size = int(value)
                except ValueError:
                    return 400, "invalid Content-Length"
                if size > MAX_BODY:
                    return 413, f"request body larger than {MAX_BODY} bytes"
        return None


async def _send_text(send: Send, status: int, message: str) -> None:
    body = (message + "\n").encode("utf-8")
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", _TEXT.encode()), (b"content-length", str(len(body)).encode()),
        (b"x-content-type-options", b"nosniff"), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


# --------------------------------------------------------------------------- the app


def _query_params(scope: Scope) -> dict[str, str]:
    """The query parameters as Starlette's ``request.query_params`` gives them (last value wins)."""
    qs: bytes = scope.get("query_string", b"")
    if b"%" in qs or b"+" in qs:
        return dict(parse_qsl(qs.decode("latin-1"), keep_blank_values=True))
    out = {}
    for piece in qs.decode("latin-1").split("&"):  # nothing to unquote: parse_qsl's split
        if piece:
            name, _, value = piece.partition("=")
            out[name] = value
    return out


class _GatewayApp(Starlette):
    """Starlette, with the hot routes answered before its middleware stack and router.

    ``hot(scope)`` gives the response of a hot route, built by the same handler
    code the routed app runs, or ``None``. A request the guard refuses, any other
    method than GET, any error while answering it (the routed app then answers
    again, with its error handlers) takes the ordinary path.
    """

    hot: Callable[[Scope], Response | None] | None = None
    on_request: Callable[[], None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        hot = self.hot
        if (hot is not None and scope["type"] == "http" and scope["method"] == "GET"
                and not scope.get("root_path") and _Guard._problem(scope) is None):
            if self.on_request is not None:
                self.on_request()
            try:
                response = hot(scope)
            except Exception:  # the routed app answers (its handlers: 400, 503, 500)
                response = None
            if response is not None:  # what Response.__call__ sends (an _Answer: no background)
                await send({"type": "http.response.start", "status": response.status_code,
                            "headers": response.raw_headers})
                await send({"type": "http.response.body", "body": response.body})
                return
        await super().__call__(scope, receive, send)


def create_app(index_path: str | os.PathLike[str], *, policy: Any = None,
               max_staleness: float | None = None, fast_path: bool = True) -> Starlette:
    """The gateway as a Starlette ASGI app serving the index at ``index_path`` (read-only).

    ``policy``: ``None`` applies the verdict sync stored; a built-in profile
    name, a policy file path or a ``Policy`` re-checks keys at lookup.
    ``max_staleness`` (seconds): answer 503 while the index's last successful
    sync is older than that. The index is opened lazily, so the app can start
    before the first sync. ``fast_path=False`` sends every request through
    Starlette's routing (the hot routes give the same bytes either way; for tests).
    """
    gw = Gateway(index_path, policy=policy, max_staleness=max_staleness)

    # ---- HKP

    async def pks_lookup(request: Request) -> Response:
        return hkp_answer(parse_lookup(request.query_params))

    def hkp_answer(q: HKPQuery) -> Response:
        recs: list[Any] | None = None
        if q.op == "get":  # the narrow rows, unless a record is revoked (or policy is set)
            recs = gw.rows_by_fingerprint(q.value) if q.kind == "fingerprint" else (
                gw.rows_by_email(q.value) if q.kind == "email" else None)
            if recs is not None and any(r.status == "revoked" for r in recs):
                recs = None
        rows = recs is not None  # (rows: their names are valid, in normal form)
        if recs is None:
            recs = (gw.by_fingerprint(q.value) if q.kind == "fingerprint" else
                    gw.by_key_id(q.value) if q.kind == "keyid" else gw.by_email(q.value))
        answer = gw.openpgp_answer(recs, rows)
        if not answer:
            return _text("No key found", 404)
        if q.op == "get":
            return _Answer(gw.armor([cert for _, cert in answer]), 200, _COMMON_RAW,
                           b"application/pgp-keys")
        entries = [e for e in (gw.index_entry(r) for r, _ in answer) if e is not None]
        return _text(render_mr_index(entries))

    async def pks_add(request: Request) -> Response:
        size = 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_BODY:
                    return _text(f"request body larger than {MAX_BODY} bytes", 413)
        except ClientDisconnect:  # the body broke off: nobody to answer, nothing to log
            return _text("request body incomplete", 400)
        return _text(_PUBLISH_HINT, 403)

    # ---- WKD

    def _wkd(domain: str, digest: str, request: Request) -> Response:
        domain = domain.strip().rstrip(".").lower()
        if not domain or not HASH_RE.match(digest):
            return _text("No key found", 404)
        local = request.query_params.get("l")
        answer = gw.openpgp_answer(gw.by_wkd(domain, digest, local or None))
        if not answer:
            return _text("No key found", 404)
        return Response(b"".join(cert for _, cert in answer), headers=_COMMON_HEADERS,
                        media_type="application/octet-stream")

    def _host_domain(request: Request) -> str:
        host = request.headers.get("host", "")
        if host.startswith("["):  # an IPv6 literal has no mail domain
            return ""
        return host.rsplit(":", 1)[0] if ":" in host else host

    async def wkd_direct(request: Request) -> Response:
        return _wkd(_host_domain(request), request.path_params["digest"], request)

    async def wkd_advanced(request: Request) -> Response:
        return _wkd(request.path_params["domain"], request.path_params["digest"], request)

    async def wkd_policy(request: Request) -> Response:
        return _text("# keyanchor: keys come from the on-chain registry; this directory is read-only\n")

    # ---- JSON API and feeds

    def _name_param(request: Request) -> str:
        from registry.names import parse_name

        return parse_name(request.path_params["name"]).text

    async def api_name(request: Request) -> Response:
        return name_answer(request.path_params["name"], request.query_params)

    def name_answer(raw_name: str, params: Mapping[str, str]) -> Response:
        subkeys = params.get("subkeys", "") in ("1", "on", "true")
        view = gw.name_view(raw_name, subkeys=subkeys)  # normalised there (InvalidName: 400)
        if view is None:
            return _json({"error": "name not registered"}, 404)
        return _json(view)

    async def api_history(request: Request) -> Response:
        name = _name_param(request)
        if not gw.reader().exists(name):
            return _json({"error": "name not registered"}, 404)
        return _json({"name": name, "events": gw.reader().history(name)})

    async def api_key(request: Request) -> Response:
        return key_answer(request.path_params["fingerprint"])

    def key_answer(fp: str) -> Response:
        fp = fp.strip()
        if fp.lower().startswith("0x"):
            fp = fp[2:]
        if not fp.startswith("SHA256:") and not _HEX_FINGERPRINT.fullmatch(fp):
            return _json({"error": "not a fingerprint (hex, or SHA256:… for SSH keys)"}, 400)
        recs: list[Any] | None = gw.rows_by_fingerprint(fp)
        rows = recs is not None  # (rows: their names are valid, in normal form)
        if recs is None:
            recs = gw.by_fingerprint(fp)
        if not recs:
            return _json({"error": "no name holds this key"}, 404)
        return _json({"fingerprint": fp if fp.startswith("SHA256:") else fp.replace(":", "").upper(),
                      "names": [{"name": r.name, "index": r.index, "status": r.status,
                                 "key_type": KEY_TYPES.get(r.key_type, str(r.key_type)),
                                 "served": gw._served(r, None, rows)}
                                for r in recs]})

    async def api_status(request: Request) -> Response:
        from registry.index._json import iso_times

        st = iso_times(gw.reader().status())
        st.pop("path", None)
        return _json({**st, "served_rule": SERVED_RULE})

    async def keys_feed(request: Request) -> Response:
        from registry.keys._ssh import render_authorized_key

        name = _name_param(request)
        if not gw.reader().exists(name):
            return _text("name not registered", 404)
        lines = []
        for rec in gw.records(name):
            if rec.key_type != SSH or not rec.purposes & SSH_USER or rec.purposes & CA:
                continue
            key = gw.parsed(rec)
            if key is None or key.certificate is not None or not gw.served(rec):
                continue
            lines.append(render_authorized_key(key) + "\n")
        return Response("".join(lines), headers=_COMMON_HEADERS, media_type=_TEXT)

    async def certs_pem(request: Request) -> Response:
        from registry.keys._x509 import render_pem

        name = _name_param(request)
        if not gw.reader().exists(name):
            return _text("name not registered", 404)
        pems = []
        for rec in gw.records(name):
            if rec.key_type == X509 and gw.served(rec):
                cert = gw.parsed(rec)
                if cert is not None:
                    pems.append(render_pem(cert))
        return Response("".join(pems), headers=_COMMON_HEADERS, media_type="application/x-pem-file")

    # ---- web page

    async def home(request: Request) -> Response:
        return _html(web.render_home())

    async def search(request: Request) -> Response:
        q = request.query_params.get("q", "").strip()
        if not q:
            return _html(web.render_home())
        if len(q) > 320:
            return _html(web.render_error("search text too long", 400), 400)
        from registry.names import parse_name

        try:
            name = parse_name(q.removeprefix("<").removesuffix(">")).text
        except InvalidName:
            name = None
        if name is not None and gw.reader().exists(name):
            return RedirectResponse("/names/" + quote(name, safe="@"), 303)
        fp = q.removeprefix("0x").replace(" ", "").replace(":", "")
        if q.startswith("SHA256:") or re.fullmatch(r"[0-9A-Fa-f]{40}|[0-9A-Fa-f]{64}", fp):
            recs = gw.by_fingerprint(q if q.startswith("SHA256:") else fp)
            names = sorted({r.name for r in recs})
            if len(names) == 1:
                return RedirectResponse("/names/" + quote(names[0], safe="@"), 303)
            if names:
                return _html(web.render_matches(q, names))
        return _html(web.render_not_found(q), 404)

    async def name_page(request: Request) -> Response:
        name = _name_param(request)
        view = gw.name_view(name, subkeys=True)
        if view is None:
            return _html(web.render_not_found(name), 404)
        return _html(web.render_name(view, gw.reader().history(name)))

    # ---- errors

    async def on_request_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, GatewayRequestError)
        return _error(request, str(exc), exc.status)

    async def on_invalid_name(request: Request, exc: Exception) -> Response:
        return _error(request, f"invalid name: {exc}", 400)

    async def on_unavailable(request: Request, exc: Exception) -> Response:
        gw.reset()
        reason = str(exc) if isinstance(exc, StaleIndex) else "the index is missing or unreadable"
        resp = _error(request, f"the key index is unavailable right now ({reason});"
                      " try again later", 503)
        resp.headers["retry-after"] = "60"
        return resp

    async def on_error(request: Request, exc: Exception) -> Response:
        gw.reset()
        return _error(request, "the request could not be answered", 500)

    async def on_http(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 400)
        detail = {404: "not found", 405: "method not allowed"}.get(status, "bad request")
        return _error(request, detail, status)

    routes = [  # the busiest first (the router tries them in order; no two overlap)
        Route("/pks/lookup", pks_lookup),
        Route("/v1/names/{name}", api_name),
        Route("/v1/keys/{fingerprint:path}", api_key),  # SSH SHA256: fingerprints may hold "/"
        Route("/.well-known/openpgpkey/hu/{digest}", wkd_direct),
        Route("/.well-known/openpgpkey/{domain}/hu/{digest}", wkd_advanced),
        Route("/", home),
        Route("/search", search),
        Route("/names/{name}", name_page),
        Route("/pks/add", pks_add, methods=["POST"]),
        Route("/.well-known/openpgpkey/policy", wkd_policy),
        Route("/.well-known/openpgpkey/{domain}/policy", wkd_policy),
        Route("/v1/status", api_status),
        Route("/v1/names/{name}/history", api_history),
        Route("/v1/names/{name}/certs.pem", certs_pem),
        Route("/{name}.keys", keys_feed),
    ]
    handlers: dict[Any, Callable[..., Any]] = {
        GatewayRequestError: on_request_error,
        InvalidName: on_invalid_name,
        IndexUnavailable: on_unavailable,
        Error: on_error,
        404: on_http,
        405: on_http,
    }
    # ---- the busiest routes, answered before Starlette's middleware and routing

    def hot(scope: Scope) -> Response | None:
        """The answer of a hot route (HKP lookup, /v1/keys/…, /v1/names/{name}) the way the
        routed app gives it (the very same handler code), or ``None``: not a hot route."""
        path: str = scope["path"]
        if path == "/pks/lookup":
            q = parse_plain_get(scope.get("query_string", b""))  # (the usual op=get)
            return hkp_answer(q if q is not None else parse_lookup(_query_params(scope)))
        if path.startswith("/v1/keys/"):  # {fingerprint:path}
            return key_answer(path[9:])
        if path.startswith("/v1/names/") and len(path) > 10 and "/" not in path[10:]:
            return name_answer(path[10:], _query_params(scope))
        return None

    app = _GatewayApp(routes=routes, exception_handlers=handlers)
    app.add_middleware(_Guard, on_request=gw.begin_request)
    if fast_path:
        app.hot = hot
        app.on_request = gw.begin_request
    app.state.gateway = gw
    return app


def _app_from_env() -> Starlette:
    """uvicorn factory for several worker processes (settings passed through the environment).

    Runs in each worker before it starts listening: the worker then accepts one
    connection at a time from the shared socket, so connections spread over
    the workers (:func:`registry.gateways._server.accept_one_at_a_time`).
    """
    from registry.gateways._server import accept_one_at_a_time, freeze_startup_objects

    accept_one_at_a_time()
    staleness = os.environ.get("KEYANCHOR_GATEWAY_MAX_STALENESS")
    app = create_app(os.environ["KEYANCHOR_GATEWAY_INDEX"],
                     policy=os.environ.get("KEYANCHOR_GATEWAY_POLICY") or None,
                     max_staleness=float(staleness) if staleness else None)
    freeze_startup_objects()
    return app


def check_index(index_path: str | os.PathLike[str]) -> None:
    """Refuse to serve a path that is not a readable keyanchor index (before announcing anything).

    Raises:
        IndexUnavailable: no file, or not an index keyanchor can read.
    """
    if not Path(index_path).is_file():
        raise IndexUnavailable(f"no index at {index_path} (run 'keyanchor sync')")
    IndexReader.open(index_path).close()


def serve(index_path: str | os.PathLike[str], host: str = "127.0.0.1", port: int = 11371, *,
          policy: str | None = None, max_staleness: float | None = DEFAULT_MAX_STALENESS,
          workers: int = 1, limits: ServerLimits | None = None, log_level: str = "warning",
          announce: Callable[[str], None] | None = None) -> None:
    """Run the gateway under uvicorn until interrupted (blocks).

    The index is checked and the address bound before ``announce`` is called
    with a one-line description (URL, index, limits); a stale index is served
    as 503 with the reason until the next sync (``max_staleness=None`` turns
    the check off). ``limits`` bound idle and slow connections
    (:class:`~registry.gateways._server.ServerLimits`, docs/GATEWAY.md).
    ``workers`` > 1 starts that many processes (the policy must then be a
    profile name or a file path).

    Raises:
        IndexUnavailable: no index at ``index_path``, or not a readable index.
        ConfigError: the address cannot be bound, or bad limits.
    """
    import socket

    from registry.gateways._server import ServerLimits, run_server

    check_index(index_path)
    limits = limits or ServerLimits()
    if max_staleness is not None and not max_staleness > 0:
        from registry.errors import ConfigError

        raise ConfigError("max_staleness must be a positive number of seconds")
    app: Any
    if workers > 1:
        os.environ["KEYANCHOR_GATEWAY_INDEX"] = str(Path(index_path).resolve())
        os.environ["KEYANCHOR_GATEWAY_POLICY"] = "" if policy is None else str(policy)
        os.environ["KEYANCHOR_GATEWAY_MAX_STALENESS"] = "" if max_staleness is None else str(max_staleness)
        app = "registry.gateways.http:_app_from_env"
    else:
        app = create_app(index_path, policy=policy, max_staleness=max_staleness)

    def _announce(sock: socket.socket, max_connections: int) -> None:
        if announce is None:
            return
        addr = sock.getsockname()
        shown = f"[{addr[0]}]" if ":" in addr[0] else addr[0]
        stale = "off" if max_staleness is None else f"{max_staleness:g} s"
        per_peer = limits.per_peer or "off"
        announce(f"serving {index_path} on http://{shown}:{addr[1]}"
                 f" (workers {workers}; per process: {max_connections} connections,"
                 f" {per_peer} per client address, request timeout {limits.header_timeout:g} s;"
                 f" max staleness {stale})")

    run_server(app, host, port, limits=limits, workers=workers, log_level=log_level,
               announce=_announce)
