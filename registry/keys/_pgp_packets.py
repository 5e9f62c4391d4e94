"""A small pure-Python walker over binary OpenPGP packets (RFC 9580 / RFC 4880).

    >>> for pkt in iter_packets(material):  # doctest: +SKIP
    ...     print(pkt.tag, len(pkt.body))
    >>> structure = walk_certificate(material)  # doctest: +SKIP

It reads what pysequoia does not expose: key algorithms and sizes, subkeys,
per-signature details (version, type, hash, creation time, subpackets with
their critical bits, embedded back-signatures) and where each signature sits
in the certificate. It never verifies a signature: it describes structure, and
the policy layer decides what to trust. Every malformed input raises
:class:`~registry.errors.KeyFormatError` (never ``IndexError`` or ``struct.error``),
and messages never quote packet contents.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from registry.errors import KeyFormatError
from registry.keys._pgp_scan import (
    _NO_PRIMARY,
    PACKET_NAMES,
    PUBKEY_NAMES,
    TAG_MARKER,
    TAG_PADDING,
    TAG_PUBLIC_KEY,
    TAG_PUBLIC_SUBKEY,
    TAG_SIGNATURE,
    TAG_TRUST,
    TAG_USER_ATTRIBUTE,
    TAG_USER_ID,
    SignatureSummary,
    _fail,
    _frame_signature,
    _key_digest,
    _key_fields,
    _out_of_place,
    _packet_name,
    _Span,
    _Spans,
    iter_packet_spans,
    scan_packets,
)
from registry.keys._pgp_scan import MAX_EMBEDDED_DEPTH as MAX_EMBEDDED_DEPTH
from registry.keys._pgp_scan import TAG_SECRET_KEY as TAG_SECRET_KEY
from registry.keys._pgp_scan import TAG_SECRET_SUBKEY as TAG_SECRET_SUBKEY

__all__ = [
    "HASH_NAMES",
    "PACKET_NAMES",
    "PUBKEY_NAMES",
    "SIGNATURE_TYPE_NAMES",
    "SUBPACKET_NAMES",
    "CertStructure",
    "CertSummary",
    "KeyPacket",
    "Packet",
    "Signature",
    "SignatureParts",
    "SubkeyComponent",
    "Subpacket",
    "UserIDComponent",
    "iter_packet_spans",
    "iter_packets",
    "parse_key_fields",
    "parse_key_packet",
    "parse_signature",
    "parse_signature_parts",
    "scan_certificate",
    "walk_certificate",
]


HASH_NAMES = {
    1: "md5", 2: "sha1", 3: "ripemd160", 8: "sha256", 9: "sha384", 10: "sha512",
    11: "sha224", 12: "sha3-256", 14: "sha3-512",
}

SIGNATURE_TYPE_NAMES = {
    0x00: "binary", 0x01: "text", 0x02: "standalone", 0x10: "generic-certification",
    0x11: "persona-certification", 0x12: "casual-certification",
    0x13: "positive-certification", 0x18: "subkey-binding", 0x19: "primary-key-binding",
    0x1F: "direct-key", 0x20: "key-revocation", 0x28: "subkey-revocation",
    0x30: "certification-revocation", 0x40: "timestamp", 0x50: "third-party-confirmation",
}

SUBPACKET_NAMES = {
    2: "signature-creation-time", 3: "signature-expiration-time", 4: "exportable",
    5: "trust-signature", 6: "regular-expression", 7: "revocable", 9: "key-expiration-time",
    11: "preferred-symmetric", 12: "revocation-key", 16: "issuer-key-id", 20: "notation",
    21: "preferred-hash", 22: "preferred-compression", 23: "keyserver-preferences",
    24: "preferred-keyserver", 25: "primary-user-id", 26: "policy-uri", 27: "key-flags",
    28: "signers-user-id", 29: "reason-for-revocation", 30: "features",
    31: "signature-target", 32: "embedded-signature", 33: "issuer-fingerprint",
    34: "preferred-aead", 35: "intended-recipient-fingerprint", 39: "preferred-aead-ciphersuites",
}


_REVOCATIONS = (0x20, 0x28, 0x30)



@dataclass(frozen=True, slots=True)
class Packet:
    """One packet: its tag, its body and where it starts in the input."""

    tag: int
    body: bytes
    offset: int
    new_format: bool

    @property
    def name(self) -> str:
        return _packet_name(self.tag)




def iter_packets(data: bytes) -> Iterator[Packet]:
    """Yield the packets of ``data`` in order.

    Raises:
        KeyFormatError: a bad packet header, a truncated packet, or an
            indeterminate/partial length (never used in certificates).
    """
    for tag, start, body, end, new in iter_packet_spans(data):
        yield Packet(tag, bytes(data[body:end]), start, new)


class _Reader:
    """Bounds-checked cursor over a packet body."""

    __slots__ = ("data", "pos", "what")

    def __init__(self, data: bytes, what: str) -> None:
        self.data = data
        self.pos = 0
        self.what = what

    def take(self, n: int) -> bytes:
        pos = self.pos
        end = pos + n
        if n < 0 or end > len(self.data):
            raise _fail(f"truncated {self.what}")
        self.pos = end
        return self.data[pos:end]

    def u8(self) -> int:
        pos = self.pos
        if pos >= len(self.data):
            raise _fail(f"truncated {self.what}")
        self.pos = pos + 1
        return self.data[pos]

    def uint(self, n: int) -> int:
        return int.from_bytes(self.take(n), "big")

    def mpi_bytes(self) -> bytes:
        bits = self.uint(2)
        return self.take((bits + 7) // 8)

    def mpi(self) -> int:
        return int.from_bytes(self.mpi_bytes(), "big")

    def rest(self) -> bytes:
        return self.take(len(self.data) - self.pos)

    @property
    def left(self) -> int:
        return len(self.data) - self.pos


@dataclass(frozen=True, slots=True)
class KeyPacket:
    """A public key or subkey packet, decoded far enough to name and size the key."""

    tag: int
    version: int
    created: datetime
    algorithm_id: int
    algorithm: str
    bits: int
    curve: str | None
    fingerprint: str  # upper-case hex
    key_id: str  # upper-case hex, 16 characters


def parse_key_packet(tag: int, body: bytes) -> KeyPacket:
    """Decode a public key (tag 6) or public subkey (tag 14) packet body.

    Raises:
        KeyFormatError: truncated or malformed packet, or a key version other than 4 or 6.
    """
    return parse_key_fields(tag, body)[0]


def parse_key_fields(tag: int, body: bytes) -> tuple[KeyPacket, dict[str, int | bytes]]:
    """:func:`parse_key_packet`, plus the public key fields by name.

    ``n``/``e`` (RSA), ``p``/``q``/``g``/``y`` (DSA), ``p``/``g``/``y`` (ElGamal),
    ``point`` (the MPI or native public point of EC keys) and ``kdf`` (ECDH
    KDF parameters, without their length octet).

    Raises:
        KeyFormatError: truncated or malformed packet, or a key version other than 4 or 6.
    """
    return _key_packet(tag, body)[:2]


def _key_packet(tag: int, body: bytes
                ) -> tuple[KeyPacket, dict[str, int | bytes], bytes, bytes]:
    """:func:`parse_key_fields`, plus the fingerprint and key ID as bytes."""
    version, created, algo, name, bits, curve, fields = _key_fields(body)
    digest, key_id = _key_digest(version, body)
    return (_key_record(tag, version, created, algo, name, bits, curve, digest, key_id), fields,
            digest, key_id)


def _key_record(tag: int, version: int, created: int, algo: int, name: str, bits: int,
                curve: str | None, digest: bytes, key_id: bytes) -> KeyPacket:
    return KeyPacket(
        tag=tag,
        version=version,
        created=datetime.fromtimestamp(created, UTC),
        algorithm_id=algo,
        algorithm=name,
        bits=bits,
        curve=curve,
        fingerprint=digest.hex().upper(),
        key_id=key_id.hex().upper(),
    )




@dataclass(frozen=True, slots=True)
class Subpacket:
    """One signature subpacket: its type, critical bit, whether it is hashed, and its data."""

    type: int
    critical: bool
    hashed: bool
    data: bytes

    @property
    def name(self) -> str:
        return SUBPACKET_NAMES.get(self.type, f"subpacket-{self.type}")


def _subpackets(data: bytes, spans: list[tuple[int, int, int]],
                hashed: bool) -> tuple[Subpacket, ...]:
    return tuple(Subpacket(kind & 0x7F, kind >= 0x80, hashed, data[start:end])
                 for kind, start, end in spans)


@dataclass(frozen=True, slots=True)
class Signature:
    """A signature packet, as it appears in a certificate (not verified).

    ``component`` says what it is attached to: ``"key"`` (direct-key and key
    revocation signatures), ``"uid"``, ``"uat"`` or ``"subkey"``; ``target``
    is the user ID text or the subkey fingerprint (``""`` for the key itself).
    """

    version: int
    type: int
    pubkey_algorithm: int
    hash_algorithm: int
    created: datetime | None
    hashed: tuple[Subpacket, ...]
    unhashed: tuple[Subpacket, ...]
    component: str = ""
    target: str = ""
    embedded: tuple[Signature, ...] = field(default=())

    @property
    def type_name(self) -> str:
        return SIGNATURE_TYPE_NAMES.get(self.type, f"type-0x{self.type:02x}")

    @property
    def hash_name(self) -> str:
        return HASH_NAMES.get(self.hash_algorithm, f"hash-{self.hash_algorithm}")

    def _first(self, kind: int, *, hashed_only: bool = True) -> bytes | None:
        for sp in self.hashed:
            if sp.type == kind:
                return sp.data
        if not hashed_only:
            for sp in self.unhashed:
                if sp.type == kind:
                    return sp.data
        return None

    @property
    def issuer_fingerprint(self) -> str | None:
        data = self._first(33, hashed_only=False)
        return data[1:].hex().upper() if data and len(data) > 1 else None

    @property
    def issuer_key_id(self) -> str | None:
        data = self._first(16, hashed_only=False)
        if data is not None and len(data) == 8:
            return data.hex().upper()
        fpr = self.issuer_fingerprint
        if fpr is None:
            return None
        return fpr[-16:] if len(fpr) == 40 else fpr[:16]

    @property
    def key_flags(self) -> int | None:
        data = self._first(27)
        return int.from_bytes(data, "little") if data is not None else None

    @property
    def key_expiration_seconds(self) -> int | None:
        """Key expiration time subpacket (seconds after key creation; 0 or absent = none)."""
        data = self._first(9)
        if data is None or len(data) != 4:
            return None
        return int.from_bytes(data, "big") or None

    @property
    def is_primary_user_id(self) -> bool:
        data = self._first(25)
        return bool(data and data[0])

    @property
    def critical_subpackets(self) -> tuple[int, ...]:
        return tuple(sp.type for sp in self.hashed if sp.critical)

    @property
    def has_back_signature(self) -> bool:
        """True if a primary key binding (0x19) signature is embedded (subkey bindings)."""
        return any(e.type == 0x19 for e in self.embedded)


@dataclass(frozen=True, slots=True)
class SignatureParts:
    """Where a v4-v6 signature body's parts lie, for a verifier (RFC 9580 5.2.4).

    The digest covers ``salt``, the signed data, ``body[:hashed_length]`` and
    the trailer; ``left16`` is its first two bytes and ``fields`` the
    algorithm-specific signature (MPIs or native bytes).
    """

    hashed_length: int
    left16: bytes
    salt: bytes
    fields: bytes


def parse_signature(body: bytes, *, component: str = "", target: str = "") -> Signature:
    """Decode a signature packet body (v3, v4 or v6).

    Raises:
        KeyFormatError: truncated or malformed packet, or an unknown signature version.
    """
    return parse_signature_parts(body, component=component, target=target)[0]




def parse_signature_parts(
    body: bytes, *, component: str = "", target: str = "", _depth: int = 0
) -> tuple[Signature, SignatureParts | None]:
    """:func:`parse_signature`, plus the :class:`SignatureParts` (``None`` for v3).

    Raises:
        KeyFormatError: truncated or malformed packet, an unknown signature version,
            or embedded signatures nested deeper than MAX_EMBEDDED_DEPTH.
    """
    frame = _signature_frame(body, _depth)
    if frame is None:  # v3
        created_ts = int.from_bytes(body[3:7], "big")
        return Signature(
            3, body[2], body[15], body[16],
            datetime.fromtimestamp(created_ts or 0, UTC), (), (), component, target,
        ), None
    hashed_spans, unhashed_spans, hashed_end, left16_at, salt_at, data_at = frame
    hashed = _subpackets(body, hashed_spans, True)
    unhashed = _subpackets(body, unhashed_spans, False)
    parts = SignatureParts(hashed_end, body[left16_at : left16_at + 2],
                           body[salt_at:data_at] if salt_at else b"", body[data_at:])
    created = None
    for sp in hashed:
        if sp.type == 2 and len(sp.data) == 4:
            created = datetime.fromtimestamp(int.from_bytes(sp.data, "big"), UTC)
            break
    embedded: tuple[Signature, ...] = ()
    for sp in (*hashed, *unhashed):
        if sp.type == 32:
            embedded += (parse_signature_parts(sp.data, component=component, target=target,
                                               _depth=_depth + 1)[0],)
    return Signature(
        body[0], body[1], body[2], body[3], created, hashed, unhashed, component, target,
        embedded,
    ), parts




def _signature_frame(body: bytes, depth: int) -> tuple[_Spans, _Spans, int, int, int, int] | None:
    """Check a signature body's framing (RFC 9580 5.2); ``None`` for a (valid) v3 signature.

    Otherwise ``(hashed subpacket spans, unhashed subpacket spans, end of the
    hashed part, offset of the left 16 bits, offset of the v6 salt or 0, offset
    of the signature data)``; a span is ``(type octet with its critical bit, data
    start, data end)``. Embedded signatures are the caller's to check.

    Raises:
        KeyFormatError: as :func:`parse_signature_parts`.
    """
    hashed: _Spans = []
    unhashed: _Spans = []
    frame = _frame_signature(body, depth, (hashed, unhashed))
    if frame is None:
        return None
    return hashed, unhashed, *frame[:4]




@dataclass(frozen=True, slots=True)
class UserIDComponent:
    """A user ID (or, with ``attribute=True``, a user attribute) and its signatures."""

    value: str
    attribute: bool
    signatures: tuple[Signature, ...]


@dataclass(frozen=True, slots=True)
class SubkeyComponent:
    key: KeyPacket
    signatures: tuple[Signature, ...]


@dataclass(frozen=True, slots=True)
class CertStructure:
    """A certificate split into its components, in packet order."""

    primary: KeyPacket
    key_signatures: tuple[Signature, ...]
    user_ids: tuple[UserIDComponent, ...]
    subkeys: tuple[SubkeyComponent, ...]
    packets: tuple[tuple[int, int | None], ...]  # (tag, version) of every packet

    @property
    def signatures(self) -> tuple[Signature, ...]:
        out = list(self.key_signatures)
        for uid in self.user_ids:
            out.extend(uid.signatures)
        for sub in self.subkeys:
            out.extend(sub.signatures)
        return tuple(out)




def walk_certificate(data: bytes) -> CertStructure:
    """Split one binary transferable public key into components.

    Raises:
        KeyFormatError: malformed packets, a packet out of place, secret key
            packets, or more than one certificate.
    """
    primary: KeyPacket | None = None
    key_sigs: list[Signature] = []
    uids: list[UserIDComponent] = []
    subkeys: list[SubkeyComponent] = []
    summary: list[tuple[int, int | None]] = []
    # the component signatures currently attach to
    cur_kind = "key"
    cur_target = ""
    cur_sigs: list[Signature] = key_sigs
    cur_uid: tuple[str, bool] | None = None
    cur_key: KeyPacket | None = None

    def close() -> None:
        if cur_kind in ("uid", "uat") and cur_uid is not None:
            uids.append(UserIDComponent(cur_uid[0], cur_uid[1], tuple(cur_sigs)))
        elif cur_kind == "subkey" and cur_key is not None:
            subkeys.append(SubkeyComponent(cur_key, tuple(cur_sigs)))

    for tag, _start, body_start, body_end, _new in iter_packet_spans(data):
        if primary is None:
            if tag in (TAG_MARKER, TAG_PADDING):
                summary.append((tag, None))
                continue
            if tag != TAG_PUBLIC_KEY:
                raise _out_of_place(tag, first=True)
            primary = parse_key_packet(tag, data[body_start:body_end])
            summary.append((tag, primary.version))
            cur_target = ""
            continue
        if tag == TAG_SIGNATURE:
            sig = parse_signature_parts(data[body_start:body_end], component=cur_kind,
                                        target=cur_target)[0]
            summary.append((tag, sig.version))
            cur_sigs.append(sig)
        elif tag in (TAG_USER_ID, TAG_USER_ATTRIBUTE):
            close()
            is_attr = tag == TAG_USER_ATTRIBUTE
            text = "" if is_attr else data[body_start:body_end].decode("utf-8", "replace")
            cur_kind, cur_target, cur_sigs = ("uat" if is_attr else "uid"), text, []
            cur_uid, cur_key = (text, is_attr), None
            summary.append((tag, None))
        elif tag == TAG_PUBLIC_SUBKEY:
            close()
            cur_key = parse_key_packet(tag, data[body_start:body_end])
            cur_kind, cur_target, cur_sigs, cur_uid = "subkey", cur_key.fingerprint, [], None
            summary.append((tag, cur_key.version))
        elif tag in (TAG_TRUST, TAG_MARKER, TAG_PADDING):
            summary.append((tag, None))
        else:
            raise _out_of_place(tag, first=False)
    if primary is None:
        raise KeyFormatError(_NO_PRIMARY)
    close()
    return CertStructure(primary, tuple(key_sigs), tuple(uids), tuple(subkeys), tuple(summary))




@dataclass(frozen=True, slots=True)
class CertSummary:
    """What a load needs at once from one certificate: :func:`scan_certificate`'s result.

    ``user_ids`` holds ``(text, is_attribute, signatures)`` per user ID or user
    attribute, in packet order; ``key_signatures`` the signatures before the first
    user ID or subkey. The rest of the description is :func:`walk_certificate`'s.
    """

    primary: KeyPacket
    key_signatures: tuple[SignatureSummary, ...]
    user_ids: tuple[tuple[str, bool, tuple[SignatureSummary, ...]], ...]


def scan_certificate(data: bytes, spans: Iterable[_Span] | None = None) -> CertSummary:
    """Check one binary transferable public key as :func:`walk_certificate` does, describe less.

    Every packet goes through the same checks, in the same order, with the same
    errors (framing, placement, key packets, signature framing and subpacket
    areas, embedded signatures); what is kept is the primary key and, per
    signature on the key and its user IDs, a :data:`SignatureSummary`. No
    per-subpacket objects are made, which is most of the walk's cost.

    ``spans`` are ``data``'s packets as :func:`iter_packet_spans` yields them, when the
    caller has walked the same bytes already (the loader's split did); by default the
    packets are walked here.

    Raises:
        KeyFormatError: as :func:`walk_certificate`.
    """
    tag, (version, created, algo, name, bits, curve, _fields), fpr, kid, key_sigs, uids = (
        scan_packets(data, spans))
    primary = _key_record(tag, version, created, algo, name, bits, curve, fpr, kid)
    return CertSummary(primary, tuple(key_sigs), tuple(uids))


