"""HKP (the keyserver protocol gpg's dirmngr speaks): query parsing and the machine-readable index.

    q = parse_lookup({"op": "get", "options": "mr", "search": "0x" + fpr})
    body = render_mr_index([IndexEntry.from_cert(cert, revoked=False)])

Pure (stdlib, :mod:`registry.keys` and pysequoia's armor writer). What the gateway
accepts, following GnuPG ``dirmngr/ks-engine-hkp.c`` and keys.openpgp.org:

* ``op=get``, ``op=index``, ``op=vindex`` (``op=stats`` and the rest: 501);
* ``search=0x`` + 40 hex (v4 fingerprint), 64 hex (v6 fingerprint) or 16 hex
  (long key ID); an e-mail address, bare or in angle brackets (``<a@b.org>``,
  ``Name <a@b.org>``). Short key IDs and free text are refused with 400: the
  registry answers exact queries only, like keys.openpgp.org;
* ``options=mr`` and ``exact=on`` are accepted (every answer is exact and
  machine-readable anyway); ``fingerprint=on`` likewise.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, NamedTuple

from registry.errors import GatewayRequestError
from registry.gateways._armor import COMPILED as _ARMOR_COMPILED
from registry.gateways._armor import armor_public_keys
from registry.keys._crc24 import crc24

try:
    from pysequoia import ArmorKind as _ArmorKind
    from pysequoia import armor as _sequoia_armor

    _PUBLIC_KEY = _ArmorKind.PublicKey
except ImportError:  # pragma: no cover - an older pysequoia: the Python writer
    _sequoia_armor = None  # type: ignore[assignment]

__all__ = [
    "HKPQuery",
    "IndexEntry",
    "RequestError",
    "armor_certificates",
    "armor_certificates_bytes",
    "escape_uid",
    "parse_lookup",
    "parse_plain_get",
    "render_mr_index",
]

#: Longest ``search`` value looked at (an address is at most 254 octets).
MAX_SEARCH = 320

SearchKind = Literal["fingerprint", "keyid", "email"]


#: The old name of :class:`registry.errors.GatewayRequestError` (kept for importers).
RequestError = GatewayRequestError


class HKPQuery(NamedTuple):
    """A parsed ``/pks/lookup`` request. ``value`` is upper-case hex or a lower-case address.

    (A named tuple: immutable, and built in a quarter of the time of a frozen dataclass,
    once per HKP request.)"""

    op: Literal["get", "index", "vindex"]
    kind: SearchKind
    value: str
    exact: bool = False
    machine_readable: bool = False


_HEX = re.compile(r"\A(?:0x|0X)?([0-9A-Fa-f]+)\Z")
_HEX_DIGITS = frozenset("0123456789ABCDEFabcdef")
_ANGLE = re.compile(r"<([^<>\s]+)>\s*\Z")
_EMAIL = re.compile(r"\A[^@\s<>()\[\],;:\"\\]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?\Z")
_OPS = ("get", "index", "vindex")
_KNOWN_OPS = ("stats", "x-get-bykey", "hget", "x-keystats")


def parse_search(search: str) -> tuple[SearchKind, str]:
    """Classify an HKP ``search`` value.

    Raises:
        GatewayRequestError: empty, too long, a short key ID, a hex string of another
            length, or text that is neither hex nor an e-mail address.
    """
    text = search.strip()
    if len(text) in (42, 66) and text[:2] in ("0x", "0X") and _HEX_DIGITS.issuperset(text[2:]):
        return "fingerprint", text[2:].upper()  # what _parse_search gives it
    return _parse_search(text)


def _parse_search(text: str) -> tuple[SearchKind, str]:
    """:func:`parse_search` of a stripped text."""
    if not text:
        raise GatewayRequestError("search is empty")
    if len(text) > MAX_SEARCH:
        raise GatewayRequestError(f"search is longer than {MAX_SEARCH} characters")
    m = _HEX.match(text.replace(" ", ""))
    if m and (text[:2] in ("0x", "0X") or len(m.group(1)) in (40, 64)):
        digits = m.group(1).upper()
        if len(digits) in (40, 64):
            return "fingerprint", digits
        if len(digits) == 16:
            return "keyid", digits
        if len(digits) == 8:
            raise GatewayRequestError("short key IDs are not supported: search by fingerprint")
        raise GatewayRequestError("a hex search must be a 40- or 64-digit fingerprint or a 16-digit key ID")
    if text.startswith("="):  # gpg's "exact match" prefix
        text = text[1:]
    am = _ANGLE.search(text)
    if am:
        text = am.group(1)
    if _EMAIL.match(text):
        return "email", text.lower()
    raise GatewayRequestError(
        "search must be 0x + a fingerprint, 0x + a 16-digit key ID, or an e-mail address"
    )


def parse_lookup(params: Mapping[str, str]) -> HKPQuery:
    """Parse the query parameters of ``/pks/lookup``.

    Raises:
        GatewayRequestError: no or an unsupported ``op`` (501 for ops HKP defines but
            the gateway does not serve, 400 otherwise), or a bad ``search``.
    """
    op = params.get("op", "")
    if op != "get":  # (the common case needs no normalising)
        op = op.strip().lower()
    if not op:
        raise GatewayRequestError("op is missing (op=get, op=index or op=vindex)")
    if op not in _OPS:
        if op in _KNOWN_OPS:
            raise GatewayRequestError(f"op={op} is not implemented by this keyserver", 501)
        raise GatewayRequestError("unknown op (op=get, op=index or op=vindex)")
    if "search" not in params:
        raise GatewayRequestError("search is missing")
    kind, value = parse_search(params["search"])
    options = params.get("options", "")
    mr = options == "mr" or (options != "" and "mr" in {o.strip().lower() for o in options.split(",")})
    exact = params.get("exact")
    return HKPQuery(op, kind, value,  # type: ignore[arg-type]
                    exact is not None and exact.strip().lower() == "on", mr)


#: The query string of the usual ``op=get`` (GnuPG's dirmngr sends ``op=get&options=mr&search=``)
#: by fingerprint or by an address of plain characters: nothing to percent-decode, no ``+``
#: (a space once decoded), nothing to strip. The address part is a subset of what
#: :data:`_EMAIL` accepts and holds no ``=``, ``<`` nor hex-only text.
_PLAIN_GET = re.compile(
    rb"op=get&options=mr&search=(?:0[xX]([0-9A-Fa-f]{40}|[0-9A-Fa-f]{64})"
    rb"|([A-Za-z0-9._-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?))"
).fullmatch


def parse_plain_get(query_string: bytes) -> HKPQuery | None:
    """``parse_lookup`` of the parameters of a raw query string of the usual ``op=get`` form
    (:data:`_PLAIN_GET`) without decoding them into a mapping; ``None``: another form, which
    the mapping and :func:`parse_lookup` decide."""
    m = _PLAIN_GET(query_string)
    if m is None:
        return None
    fingerprint, email = m.groups()
    if fingerprint is not None:
        return HKPQuery("get", "fingerprint", fingerprint.decode("ascii").upper(), False, True)
    return HKPQuery("get", "email", email.decode("ascii").lower(), False, True)


# --------------------------------------------------------------------------- index format


def escape_uid(text: str) -> str:
    """%-escape a user ID for an index line: ``%``, ``:``, controls and non-ASCII octets."""
    out = []
    for byte in text.encode("utf-8", "replace"):
        if byte < 0x20 or byte > 0x7E or byte in (0x25, 0x3A):
            out.append(f"%{byte:02X}")
        else:
            out.append(chr(byte))
    return "".join(out)


def _ts(when: datetime | None) -> str:
    return "" if when is None else str(int(when.timestamp()))


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """One key for an ``op=index`` answer."""

    fingerprint: str
    algorithm_id: int
    bits: int
    created: datetime
    expires: datetime | None
    flags: str  # subset of "rde"
    uids: tuple[tuple[str, datetime | None, datetime | None, str], ...]  # (uid, created, expires, flags)


def render_mr_index(entries: Iterable[IndexEntry]) -> str:
    """The machine-readable index (GnuPG ``doc/KEYSERVER``): ``info:1:N``, ``pub:``, ``uid:`` lines."""
    items = list(entries)
    lines = [f"info:1:{len(items)}"]
    for e in items:
        lines.append(
            f"pub:{e.fingerprint}:{e.algorithm_id}:{e.bits}:{_ts(e.created)}:{_ts(e.expires)}:{e.flags}"
        )
        for uid, created, expires, flags in e.uids:
            lines.append(f"uid:{escape_uid(uid)}:{_ts(created)}:{_ts(expires)}:{flags}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- armor


def armor_certificates(materials: Iterable[bytes]) -> str:
    """ASCII armor (one ``PUBLIC KEY BLOCK``, no headers) over canonical binary certificates.

    The materials are the verified canonical bytes the index stores (what
    :func:`registry.keys.render_openpgp_binary` gives for the parsed
    certificate), concatenated as a keyring; the CRC-24 line is included for
    GnuPG 2.2. Sequoia's armor writer (``pysequoia.armor``) makes the very same
    text several times faster; the Python writer is used when it is missing.
    """
    data = b"".join(materials)
    if data and _sequoia_armor is not None:
        return str(_sequoia_armor(data, _PUBLIC_KEY))
    return _armor_py(data)


def armor_certificates_bytes(materials: Iterable[bytes]) -> bytes:
    """``armor_certificates(materials).encode()`` (the HKP answer's body): from the compiled
    writer (:mod:`registry.gateways._armor`) when the install built it, else Sequoia's text."""
    data = b"".join(materials)
    if data and _ARMOR_COMPILED:
        return armor_public_keys(data)
    return armor_certificates((data,)).encode("ascii")


def _armor_py(data: bytes) -> str:
    """:func:`armor_certificates` in Python (and the reference the Sequoia writer is tested against)."""
    body = base64.b64encode(data).decode("ascii")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    crc = base64.b64encode(crc24(data).to_bytes(3, "big")).decode("ascii")
    return (
        "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n"
        + "\n".join(lines)
        + f"\n={crc}\n-----END PGP PUBLIC KEY BLOCK-----\n"
    )
