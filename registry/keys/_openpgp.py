"""OpenPGP certificates: parse, canonicalise, fingerprint and render (RFC 9580, v4 and v6).

    cert = load_openpgp_cert(open("alice.asc", "rb").read())
    print(cert.fingerprint, cert.identities)      # as `gpg --with-colons --list-keys`

The canonical material is the binary transferable public key as Sequoia
serialises it: loading ``cert.material`` again gives the same bytes. Secret
keys are refused with :class:`~registry.errors.PrivateKeyError` before any
parser sees them, and no message ever quotes the input. Expiry and key
revocation come from Sequoia (self-signatures checked under its standard
policy, now); algorithms, sizes, subkeys, user ID revocations and the
per-signature summary come from :mod:`registry.keys._pgp_packets`, which
describes structure and verifies nothing (that is the policy layer's job).

A load does at once everything that can refuse the input -- Sequoia's parse,
the canonical size limit, every packet checked by ``scan_packets`` (the
same checks as the full walk), the self-signature rule -- and reads what
identities need. Key flags, subkeys, signatures and packets are described
from ``material`` when first read and cached on the record.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from registry.errors import KeyFormatError, PrivateKeyError
from registry.keys._common import MAX_MATERIAL, KeyType, commitment, input_bytes, sequoia
from registry.keys._crc24 import crc24
from registry.keys._pgp_packets import (
    CertStructure,
    CertSummary,
    Signature,
    _Span,
    walk_certificate,
)
from registry.keys._pgp_scan import _SELF_CERTS
from registry.keys._pgp_scan import MAX_CERT_INPUT as MAX_CERT_INPUT
from registry.keys._pgp_scan import MAX_CERT_PACKETS as MAX_CERT_PACKETS
from registry.keys._pgp_scan import SECRET_HINT as _SECRET_HINT
from registry.keys._pgp_scan import load_summary as _load_summary
from registry.keys._pgp_scan import split_binary as _split_binary
from registry.keys._pgp_scan import user_id_states as _user_id_states

_T = TypeVar("_T")

__all__ = [
    "OpenPGPCertificate",
    "Subkey",
    "UserID",
    "load_openpgp_cert",
    "load_openpgp_certs",
    "render_openpgp_armor",
    "render_openpgp_binary",
]



def _usage(flags: int) -> str:
    """Key flags as gpg's capability letters (e, s, c, a), in gpg's order."""
    out = ""
    if flags & 0x0C:
        out += "e"
    if flags & 0x02:
        out += "s"
    if flags & 0x01:
        out += "c"
    if flags & 0x20:
        out += "a"
    return out


def _iso(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None


@dataclass(frozen=True, slots=True)
class UserID:
    """A user ID: its text, its email (lower-cased, or ``None``) and whether it is revoked.

    ``self_signed`` is false for a user ID that carries no certification by the
    primary key (nothing binds it; it never counts as an identity).
    """

    value: str
    email: str | None
    revoked: bool
    self_signed: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "email": self.email, "revoked": self.revoked,
                "self_signed": self.self_signed}


@dataclass(frozen=True, slots=True)
class Subkey:
    """A subkey as its newest binding signature by the primary key describes it.

    ``bound`` is false when no subkey binding signature by the primary key is
    present (then ``key_flags`` is 0 and ``expires`` is ``None``).
    """

    fingerprint: str
    key_id: str
    algorithm: str
    bits: int
    key_flags: int
    created: datetime
    expires: datetime | None
    revoked: bool
    has_back_signature: bool
    bound: bool = True

    @property
    def usage(self) -> str:
        """Capabilities as gpg prints them (``e``, ``s``, ``c``, ``a``)."""
        return _usage(self.key_flags)

    def to_dict(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "key_id": self.key_id,
            "algorithm": self.algorithm,
            "bits": self.bits,
            "key_flags": self.key_flags,
            "usage": self.usage,
            "created": _iso(self.created),
            "expires": _iso(self.expires),
            "revoked": self.revoked,
            "has_back_signature": self.has_back_signature,
            "bound": self.bound,
        }


#: (key flags, subkeys, signatures, packets): the description read from ``material`` on
#: first use (see :meth:`OpenPGPCertificate._describe`)
_Details = tuple[int, tuple[Subkey, ...], tuple[Signature, ...], tuple[tuple[int, int | None], ...]]


@dataclass(frozen=True, slots=True)
class OpenPGPCertificate:
    """A parsed OpenPGP certificate (transferable public key).

    Build one with :func:`load_openpgp_cert`; two certificates are equal when
    their canonical material is.
    """

    material: bytes = field(repr=False)
    version: int = field(compare=False)
    fingerprint: str
    key_id: str = field(compare=False)
    algorithm: str = field(compare=False)
    bits: int = field(compare=False)
    created: datetime = field(compare=False)
    expires: datetime | None = field(compare=False)
    revoked: bool = field(compare=False)
    user_ids: tuple[UserID, ...] = field(compare=False)
    #: key flags, subkeys, signatures and packets, described from ``material`` on first
    #: use: the load checks every packet (:func:`~registry.keys._pgp_scan.load_summary`)
    #: but describes only what identities need; a cache that equality and hashing ignore
    _details: _Details | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def key_flags(self) -> int:
        """The primary key's flags: its newest direct-key signature's, else its primary
        (or first) user ID's newest self-certification's, else 0."""
        return (self._details or self._describe())[0]

    @property
    def subkeys(self) -> tuple[Subkey, ...]:
        return (self._details or self._describe())[1]

    @property
    def signatures(self) -> tuple[Signature, ...]:
        """Every signature in packet order (not verified), for the policy layer."""
        return (self._details or self._describe())[2]

    @property
    def packets(self) -> tuple[tuple[int, int | None], ...]:
        """``(tag, version or None)`` of every packet, in order."""
        return (self._details or self._describe())[3]

    def _describe(self) -> _Details:
        details = _details(walk_certificate(self.material), self.user_ids)
        object.__setattr__(self, "_details", details)
        return details

    def __repr__(self) -> str:
        body = ", ".join(f"{name}={getattr(self, name)!r}" for name in _REPR_FIELDS)
        return f"OpenPGPCertificate({body})"

    @property
    def key_type(self) -> KeyType:
        return KeyType.OPENPGP

    @property
    def identities(self) -> tuple[str, ...]:
        """Lower-cased emails of self-signed user IDs that are not revoked, without duplicates."""
        seen: dict[str, None] = {}
        for uid in self.user_ids:
            if uid.email and uid.self_signed and not uid.revoked:
                seen.setdefault(uid.email)
        return tuple(seen)

    @property
    def usage(self) -> str:
        """The primary key's capabilities as gpg prints them (``e``, ``s``, ``c``, ``a``)."""
        return _usage(self.key_flags)

    @property
    def valid_from(self) -> datetime:
        return self.created

    @property
    def valid_until(self) -> datetime | None:
        return self.expires

    @property
    def commitment(self) -> bytes:
        return commitment(KeyType.OPENPGP, self.material)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key_type": self.key_type.label,
            "version": self.version,
            "fingerprint": self.fingerprint,
            "key_id": self.key_id,
            "algorithm": self.algorithm,
            "bits": self.bits,
            "created": _iso(self.created),
            "expires": _iso(self.expires),
            "revoked": self.revoked,
            "key_flags": self.key_flags,
            "usage": self.usage,
            "identities": list(self.identities),
            "user_ids": [u.to_dict() for u in self.user_ids],
            "subkeys": [s.to_dict() for s in self.subkeys],
            "signatures": [_signature_dict(s) for s in self.signatures],
            "valid_from": _iso(self.valid_from),
            "valid_until": _iso(self.valid_until),
            "commitment": self.commitment.hex(),
            "material": self.material.hex(),
        }


#: the repr's fields, in the order they stood when all of them were dataclass fields
_REPR_FIELDS = ("version", "fingerprint", "key_id", "algorithm", "bits", "created", "expires",
                "revoked", "key_flags", "user_ids", "subkeys")


def _signature_dict(sig: Signature) -> dict[str, Any]:
    return {
        "component": sig.component,
        "target": sig.target,
        "version": sig.version,
        "type": sig.type,
        "type_name": sig.type_name,
        "pubkey_algorithm": sig.pubkey_algorithm,
        "hash": sig.hash_name,
        "created": _iso(sig.created),
        "issuer": sig.issuer_fingerprint or sig.issuer_key_id,
        "hashed_subpackets": [[sp.type, sp.critical] for sp in sig.hashed],
        "back_signature": sig.has_back_signature,
    }


# --------------------------------------------------------------------------- input


_BEGIN = re.compile(rb"-----BEGIN PGP ([A-Z0-9 ,/]+)-----")
_crc24 = crc24  # RFC 9580 6.1 armor checksum, one implementation (registry.keys._crc24)


def _dearmor(raw: bytes) -> list[tuple[bytes, int | None]]:
    """Decode every armored block in ``raw``: ``(data, CRC-24 from the armor or None)``.

    Text around the blocks is ignored. The checksum is compared later, by
    :func:`_check_crc`, once the data has parsed (see there).
    """
    blocks: list[tuple[bytes, int | None]] = []
    pos = 0
    while True:
        m = _BEGIN.search(raw, pos)
        if m is None:
            break
        kind = m.group(1).decode("ascii")
        if "PRIVATE KEY" in kind or "SECRET KEY" in kind:
            raise PrivateKeyError(f"this is an OpenPGP secret key (armored); {_SECRET_HINT}")
        end_marker = b"-----END PGP " + m.group(1) + b"-----"
        end = raw.find(end_marker, m.end())
        if end < 0:
            raise KeyFormatError(f"armored {kind} has no END line")
        if kind != "PUBLIC KEY BLOCK":
            raise KeyFormatError(
                f"armored {kind} is not an OpenPGP certificate (PUBLIC KEY BLOCK expected)"
            )
        blocks.append(_decode_armor_body(raw[m.end() : end]))
        pos = end + len(end_marker)
    return blocks


def _is_armor_text(raw: bytes) -> bool:
    """True unless ``raw`` is binary OpenPGP (first octet a packet header, not UTF-8 text).

    Armored input is text: it starts with ASCII (or a UTF-8 BOM / letter) and decodes
    as UTF-8. Binary certificates always start with a packet header (high bit set)
    and never decode as UTF-8 (a 0x98-0x9B old-format header is a continuation byte).
    """
    if not raw[0] & 0x80:
        return True
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


#: The rest of the BEGIN line, then armor headers ("Key: value" lines, RFC 9580 section 6.2).
_ARMOR_HEADERS = re.compile(rb"[ \t\r]*\n(?:[ \t]*[^\s:][^\r\n]*: [^\r\n]*\r?\n)*")
#: The checksum line "=XXXX" that ends the base64 payload.
_ARMOR_CRC = re.compile(rb"^[ \t\r]*=([A-Za-z0-9+/=]{4})[ \t\r]*$", re.MULTILINE)


def _decode_armor_body(body: bytes) -> tuple[bytes, int | None]:
    """Decode the text between the BEGIN and END lines: skip the headers, base64, the CRC line.

    Every step is a C-level scan (regex, split, base64), so the cost is linear
    in the block whatever its shape (a Python loop over a million blank lines
    took ~100 ms).
    """
    m = _ARMOR_HEADERS.match(body)
    rest = body[m.end():] if m else body
    crc_line = _ARMOR_CRC.search(rest)
    payload = rest[: crc_line.start()] if crc_line else rest
    try:
        data = base64.b64decode(b"".join(payload.split()), validate=True)
        expected = base64.b64decode(crc_line.group(1), validate=True) if crc_line else None
    except (binascii.Error, ValueError) as exc:
        raise KeyFormatError("armored OpenPGP block has invalid base64") from exc
    if not data:
        raise KeyFormatError("armored OpenPGP block is empty")
    return data, (int.from_bytes(expected, "big") if expected is not None else None)


#: Armored data up to this size has its checksum compared when it does not parse, so that
#: a damaged block is reported as such; larger junk is refused without the (pure-Python,
#: ~170 ns/byte) CRC-24 pass.
_CRC_ON_FAILURE = 64 * 1024


def _check_crc(data: bytes, expected: int | None) -> None:
    """Refuse armored data whose CRC-24 line does not match.

    Called after the certificates in ``data`` parsed: the checksum costs a
    Python loop over every byte, which only input that is otherwise a valid
    keyring gets to pay.
    """
    if expected is not None and expected != _crc24(data):
        raise KeyFormatError("armored OpenPGP block fails its CRC-24 checksum")


def _sequoia_message(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0].strip() if text else type(exc).__name__
    return first[:120]


_SEQUOIA_CERT: Any = None


def _sequoia_cert() -> Any:
    """``pysequoia.Cert``, looked up once (see :func:`registry.keys._common.sequoia`)."""
    global _SEQUOIA_CERT
    if _SEQUOIA_CERT is None:
        _SEQUOIA_CERT = sequoia().Cert
    return _SEQUOIA_CERT


def _canonicalise(chunk: bytes) -> tuple[bytes, datetime | None, bool, bool]:
    """Let Sequoia parse one certificate; return (material, expiry, revoked, expiry_known)."""
    cert_class = _sequoia_cert()
    expires: datetime | None = None
    known = True
    # No warnings guard: these calls emit no warning (a test records none over valid, revoked,
    # expired and refused inputs), and ``warnings.catch_warnings`` cost 10-30 us a load and swaps the
    # process's filters, which is not thread-safe (docs/BENCHMARKS.md, branch pgp7).
    try:
        cert = cert_class.from_bytes(chunk)
        material = bytes(cert)
    except Exception as exc:  # pysequoia raises bare RuntimeError/ValueError with Rust text
        raise KeyFormatError(
            f"invalid OpenPGP certificate: {_sequoia_message(exc)}"
        ) from exc
    try:
        expires = cert.expiration
    except Exception:  # no binding signature valid under Sequoia's policy
        known = False
    try:
        revoked = bool(cert.is_revoked)
    except Exception:
        revoked = False
    if expires is not None:
        expires = expires.astimezone(UTC) if expires.tzinfo else expires.replace(tzinfo=UTC)
    return material, expires, revoked, known


_EMAIL_IN_ANGLE = re.compile(r"<([^<>\s@]+@[^<>\s@]+)>\s*\Z")
_BARE_EMAIL = re.compile(r"\A\s*([^<>\s@]+@[^<>\s@]+)\s*\Z")


def _email(uid: str) -> str | None:
    m = _EMAIL_IN_ANGLE.search(uid) or _BARE_EMAIL.match(uid)
    return m.group(1).lower() if m else None


def _by_primary(sig: Signature, structure: CertStructure) -> bool:
    """The rule :data:`~registry.keys._pgp_packets.SignatureSummary` states, on a parsed signature."""
    fpr = sig.issuer_fingerprint
    if fpr is not None:
        return fpr == structure.primary.fingerprint
    kid = sig.issuer_key_id
    return kid is None or kid == structure.primary.key_id


def _newest(sigs: list[Signature]) -> Signature | None:
    epoch = datetime.fromtimestamp(0, UTC)
    return max(sigs, key=lambda s: s.created or epoch, default=None)


def _user_ids(summary: CertSummary) -> tuple[UserID, ...]:
    """User IDs (not attributes): revoked when the newest certification or revocation by
    the primary key is a revocation; self-signed when one certification by it exists."""
    return _user_id_records(_user_id_states(summary.user_ids))


def _user_id_records(states: list[tuple[str, bool, bool]]) -> tuple[UserID, ...]:
    return tuple([UserID(value, _email(value), revoked, certified)
                  for value, revoked, certified in states])


def _primary_binding(structure: CertStructure,
                     user_ids: tuple[UserID, ...]) -> tuple[Signature | None, Signature | None]:
    """(the newest direct-key signature, the binding that describes the primary key: the
    newest self-certification of the first user ID marked primary, else of the first user
    ID), among those by the primary key, on user IDs not revoked."""
    primary_uid_sig: Signature | None = None
    first_uid_sig: Signature | None = None
    uids = iter(user_ids)
    for comp in structure.user_ids:
        if comp.attribute:
            continue
        if next(uids).revoked:
            continue
        latest_cert = _newest([s for s in comp.signatures
                               if s.type in _SELF_CERTS and _by_primary(s, structure)])
        if latest_cert is not None:
            if first_uid_sig is None:
                first_uid_sig = latest_cert
            if latest_cert.is_primary_user_id and primary_uid_sig is None:
                primary_uid_sig = latest_cert
    direct = _newest([s for s in structure.key_signatures
                      if s.type == 0x1F and _by_primary(s, structure)])
    return direct, primary_uid_sig or first_uid_sig


def _fallback_expiry(structure: CertStructure, user_ids: tuple[UserID, ...]) -> datetime | None:
    """Expiry from the subpackets, when no binding is valid under Sequoia's policy."""
    for sig in _primary_binding(structure, user_ids):
        if sig is not None and sig.key_expiration_seconds is not None:
            seconds = sig.key_expiration_seconds
            return structure.primary.created + timedelta(seconds=seconds) if seconds else None
    return None


def _details(structure: CertStructure, user_ids: tuple[UserID, ...]) -> _Details:
    flags = 0
    for sig in _primary_binding(structure, user_ids):
        if sig is not None and sig.key_flags is not None:
            flags = sig.key_flags
            break
    subkeys: list[Subkey] = []
    for sub in structure.subkeys:
        own = [s for s in sub.signatures if _by_primary(s, structure)]
        bind = _newest([s for s in own if s.type == 0x18])
        secs = bind.key_expiration_seconds if bind is not None else None
        subkeys.append(Subkey(
            fingerprint=sub.key.fingerprint,
            key_id=sub.key.key_id,
            algorithm=sub.key.algorithm,
            bits=sub.key.bits,
            key_flags=(bind.key_flags or 0) if bind is not None else 0,
            created=sub.key.created,
            expires=sub.key.created + timedelta(seconds=secs) if secs else None,
            revoked=any(s.type == 0x28 for s in own),
            has_back_signature=bind is not None and bind.has_back_signature,
            bound=bind is not None,
        ))
    return flags, tuple(subkeys), structure.signatures, structure.packets


#: :func:`_summarise`'s answer: the primary key's version, creation time, algorithm name,
#: bits, fingerprint and key ID, and the user IDs
_Summary = tuple[int, datetime, str, int, str, str, tuple[UserID, ...]]


def _summarise(data: bytes, spans: list[_Span] | None) -> _Summary:
    """Scan one certificate's bytes (every packet checked), apply the self-signature rule
    and read its user IDs (:func:`~registry.keys._pgp_scan.load_summary`)."""
    version, created, algorithm, bits, fingerprint, key_id, states = _load_summary(data, spans)
    return (version, datetime.fromtimestamp(created, UTC), algorithm, bits, fingerprint, key_id,
            _user_id_records(states))


def _load_one(chunk: bytes, spans: list[_Span] | None) -> OpenPGPCertificate:
    """One certificate; ``spans`` as :func:`_split_binary` gives them with ``chunk``.

    Sequoia's canonical form is usually the chunk itself, so a chunk the split walked is
    scanned before Sequoia's calls, while its bytes and the interpreter are in the caches
    (after Sequoia's parse the same Python took twice as long); that verdict counts only
    when the material is the chunk, and only after Sequoia's verdict and the size check, as
    if the material had been scanned then (the scan depends on the bytes alone).
    """
    early: _Summary | Exception | None = None
    if spans:
        try:
            early = _summarise(chunk, spans)
        except Exception as exc:  # reported below, if the material is these bytes
            early = exc
    material, expires, revoked, known = _canonicalise(chunk)
    if len(material) > MAX_MATERIAL:
        raise KeyFormatError(
            f"OpenPGP certificate is {len(material)} bytes, more than the {MAX_MATERIAL}"
            " the registry accepts (export it minimal: `gpg --export-options export-minimal`)"
        )
    if early is None or material != chunk:
        early = _summarise(material, None)
    elif isinstance(early, Exception):
        raise early
    version, created, algorithm, bits, fingerprint, key_id, user_ids = early
    structure = None
    if not known:
        structure = walk_certificate(material)
        expires = _fallback_expiry(structure, user_ids)
    # positional: the dataclass's keyword call cost twice as much (docs/BENCHMARKS.md, pgp8)
    cert = OpenPGPCertificate(material, version, fingerprint, key_id, algorithm, bits, created,
                              expires, revoked, user_ids)
    if structure is not None:
        object.__setattr__(cert, "_details", _details(structure, user_ids))
    return cert


def load_openpgp_certs(data: bytes | bytearray | memoryview | str) -> list[OpenPGPCertificate]:
    """Parse every certificate in an armored or binary keyring.

    Armored input may hold several ``PUBLIC KEY BLOCK``\\ s and text around them.

    Raises:
        PrivateKeyError: the input holds secret key material (never echoed).
        KeyFormatError: input over 1 MiB, not OpenPGP, malformed or truncated,
            a key version other than 4 or 6, a certificate over ``MAX_MATERIAL``,
            or no certificate at all.
    """
    raw = input_bytes(data, "OpenPGP")
    if not raw.strip():
        raise KeyFormatError("empty OpenPGP input")
    if b"-----BEGIN PGP" in raw and _is_armor_text(raw):
        blobs = _dearmor(raw)
    elif raw[0] & 0x80:
        # binary: an armor header inside a packet (a user ID, a notation) is data, not armor
        blobs = [(raw, None)]
    else:
        raise KeyFormatError("not an OpenPGP certificate (neither armored nor binary OpenPGP)")
    # Each certificate is parsed as soon as the split has walked it (bounded and linear: a
    # secret key packet is refused where the walk meets it), so the first fault in the
    # input is the one reported and nothing after it is walked.
    certs: list[OpenPGPCertificate] = []
    for blob, crc in blobs:
        certs += _damaged_or(partial(_load_all, blob), blob, crc)
        _check_crc(blob, crc)
    return certs


def _load_all(blob: bytes) -> list[OpenPGPCertificate]:
    return [_load_one(chunk, spans) for chunk, spans in _split_binary(blob)]


def _damaged_or(action: Callable[[], _T], blob: bytes, crc: int | None) -> _T:
    """Run ``action``; when it fails on a small armored block, a checksum mismatch is the reason."""
    try:
        return action()
    except PrivateKeyError:
        raise
    except KeyFormatError:
        if len(blob) <= _CRC_ON_FAILURE:
            _check_crc(blob, crc)
        raise


def load_openpgp_cert(data: bytes | bytearray | memoryview | str) -> OpenPGPCertificate:
    """Parse exactly one OpenPGP certificate (armored or binary).

    Raises:
        PrivateKeyError: the input holds secret key material (never echoed).
        KeyFormatError: as :func:`load_openpgp_certs`, or more than one certificate.
    """
    certs = load_openpgp_certs(data)
    if len(certs) != 1:
        raise KeyFormatError(f"expected one OpenPGP certificate, found {len(certs)}")
    return certs[0]


# --------------------------------------------------------------------------- output


def render_openpgp_binary(cert: OpenPGPCertificate) -> bytes:
    """The canonical binary certificate (what ``gpg --export`` would give, in Sequoia's order)."""
    return bytes(cert.material)


def render_openpgp_armor(cert: OpenPGPCertificate) -> str:
    """ASCII armor of the canonical material, with no headers (nothing copied from user text).

    Includes the CRC-24 line, which RFC 9580 makes optional and GnuPG 2.2 expects.
    """
    body = base64.b64encode(cert.material).decode("ascii")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    crc = base64.b64encode(_crc24(cert.material).to_bytes(3, "big")).decode("ascii")
    return (
        "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n"
        + "\n".join(lines)
        + f"\n={crc}\n-----END PGP PUBLIC KEY BLOCK-----\n"
    )
