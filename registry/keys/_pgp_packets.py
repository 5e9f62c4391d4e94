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

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from registry.errors import KeyFormatError

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

# Packet tags (RFC 9580 section 5).
TAG_SIGNATURE = 2
TAG_SECRET_KEY = 5
TAG_PUBLIC_KEY = 6
TAG_SECRET_SUBKEY = 7
TAG_MARKER = 10
TAG_TRUST = 12
TAG_USER_ID = 13
TAG_PUBLIC_SUBKEY = 14
TAG_USER_ATTRIBUTE = 17
TAG_PADDING = 21

PACKET_NAMES = {
    1: "pkesk", 2: "signature", 3: "skesk", 4: "one-pass-signature", 5: "secret-key",
    6: "public-key", 7: "secret-subkey", 8: "compressed-data", 9: "sed", 10: "marker",
    11: "literal-data", 12: "trust", 13: "user-id", 14: "public-subkey", 17: "user-attribute",
    18: "seipd", 19: "mdc", 20: "aead", 21: "padding",
}

PUBKEY_NAMES = {
    1: "rsa", 2: "rsa-encrypt", 3: "rsa-sign", 16: "elgamal", 17: "dsa", 18: "ecdh",
    19: "ecdsa", 20: "elgamal-sign", 22: "eddsa", 25: "x25519", 26: "x448",
    27: "ed25519", 28: "ed448",
}

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

# Curve OIDs (DER contents, without tag and length) -> (name, bits).
_CURVES: dict[bytes, tuple[str, int]] = {
    bytes.fromhex("2a8648ce3d030107"): ("p256", 256),
    bytes.fromhex("2b81040022"): ("p384", 384),
    bytes.fromhex("2b81040023"): ("p521", 521),
    bytes.fromhex("2b2403030208010107"): ("brainpoolP256r1", 256),
    bytes.fromhex("2b240303020801010b"): ("brainpoolP384r1", 384),
    bytes.fromhex("2b240303020801010d"): ("brainpoolP512r1", 512),
    bytes.fromhex("2b06010401da470f01"): ("ed25519", 256),
    bytes.fromhex("2b060104019755010501"): ("cv25519", 256),
    bytes.fromhex("2b6571"): ("ed448", 448),
    bytes.fromhex("2b656f"): ("x448", 448),
}

_REVOCATIONS = (0x20, 0x28, 0x30)


def _fail(what: str) -> KeyFormatError:
    return KeyFormatError(f"malformed OpenPGP data: {what}")


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


def _packet_name(tag: int) -> str:
    return PACKET_NAMES.get(tag, f"tag-{tag}")


def _read_new_length(data: bytes, pos: int) -> tuple[int, int]:
    """Return (length, position after the length octets) of a new-format length."""
    if pos >= len(data):
        raise _fail("truncated packet header")
    first = data[pos]
    if first < 192:
        return first, pos + 1
    if first < 224:
        if pos + 2 > len(data):
            raise _fail("truncated packet header")
        return ((first - 192) << 8) + data[pos + 1] + 192, pos + 2
    if first == 255:
        if pos + 5 > len(data):
            raise _fail("truncated packet header")
        return int.from_bytes(data[pos + 1 : pos + 5], "big"), pos + 5
    raise _fail("partial body lengths are not allowed in a certificate")


#: ``(tag, offset, body_start, body_end, new_format)`` of a packet
_Span = tuple[int, int, int, int, bool]


def iter_packet_spans(data: bytes) -> Iterator[_Span]:
    """Yield ``(tag, offset, body_start, body_end, new_format)`` per packet, copying nothing.

    Raises:
        KeyFormatError: as :func:`iter_packets`.
    """
    pos = 0
    end = len(data)
    while pos < end:
        start = pos
        ctb = data[pos]
        if not ctb & 0x80:
            raise _fail(f"invalid packet header at offset {pos}")
        if ctb & 0x40:
            tag = ctb & 0x3F
            first = data[pos + 1] if pos + 1 < end else 0xFF
            if first < 192:  # one- and two-octet lengths read here, the rest (and errors) there
                length, pos = first, pos + 2
            elif first < 224 and pos + 2 < end:
                length, pos = ((first - 192) << 8) + data[pos + 2] + 192, pos + 3
            else:
                length, pos = _read_new_length(data, pos + 1)
            new = True
        else:
            tag = (ctb >> 2) & 0x0F
            ltype = ctb & 0x03
            if ltype == 3:
                raise _fail("indeterminate packet length is not allowed in a certificate")
            size = 1 << ltype
            if pos + 1 + size > end:
                raise _fail("truncated packet header")
            length = int.from_bytes(data[pos + 1 : pos + 1 + size], "big")
            pos += 1 + size
            new = False
        if pos + length > end:
            raise _fail(f"truncated {PACKET_NAMES.get(tag, f'tag-{tag}')} packet")
        yield tag, start, pos, pos + length, new
        pos += length


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
    if version == 4:
        digest = hashlib.sha1(b"\x99" + len(body).to_bytes(2, "big") + body).digest()
        key_id = digest[-8:]
    else:
        digest = hashlib.sha256(b"\x9b" + len(body).to_bytes(4, "big") + body).digest()
        key_id = digest[:8]
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
    ), fields, digest, key_id


_KEY_TRUNCATED = "truncated key packet"
#: native point sizes and key sizes of the RFC 9580 algorithms (X25519, X448, Ed25519, Ed448)
_NATIVE_KEYS = {25: (32, 256), 26: (56, 448), 27: (32, 256), 28: (57, 448)}


def _key_fields(body: bytes) -> tuple[int, int, int, str, int, str | None, dict[str, int | bytes]]:
    """Check and decode a key packet body: (version, creation time, algorithm id, name,
    bits, curve, fields). Offsets are checked inline (no reader object): this runs on
    every key of every certificate loaded.

    Raises:
        KeyFormatError: as :func:`parse_key_fields`.
    """
    end = len(body)
    if not end:
        raise _fail(_KEY_TRUNCATED)
    version = body[0]
    if version not in (4, 6):
        from registry.errors import UnsupportedKeyType

        raise UnsupportedKeyType(
            f"unsupported OpenPGP key version {version} (v4 and v6 are accepted)"
        )
    if end < 6:
        raise _fail(_KEY_TRUNCATED)
    created = int.from_bytes(body[1:5], "big")
    algo = body[5]
    pos = 6
    if version == 6:
        if end < 10:
            raise _fail(_KEY_TRUNCATED)
        if int.from_bytes(body[6:10], "big") != end - 10:
            raise _fail("key material length does not match the packet")
        pos = 10
    fields: dict[str, int | bytes] = {}
    curve: str | None = None
    if algo in (1, 2, 3, 17, 16, 20):
        names = "ne" if algo < 4 else ("pqgy" if algo == 17 else "pgy")
        for key in names:
            if pos + 2 > end:
                raise _fail(_KEY_TRUNCATED)
            start = pos + 2
            pos = start + (int.from_bytes(body[pos:start], "big") + 7) // 8
            if pos > end:
                raise _fail(_KEY_TRUNCATED)
            value = fields[key] = int.from_bytes(body[start:pos], "big")
            if key == names[0]:
                bits = value.bit_length()
        name = "rsa" if algo < 4 else ("dsa" if algo == 17 else "elgamal")
    elif algo in (18, 19, 22):
        if pos >= end:
            raise _fail(_KEY_TRUNCATED)
        oid_len = body[pos]
        if oid_len in (0, 0xFF):
            raise _fail("reserved curve OID length")
        oid_end = pos + 1 + oid_len
        if oid_end + 2 > end:
            raise _fail(_KEY_TRUNCATED)
        pos = oid_end + 2 + (int.from_bytes(body[oid_end : oid_end + 2], "big") + 7) // 8
        if pos > end:
            raise _fail(_KEY_TRUNCATED)
        oid = body[oid_end - oid_len : oid_end]
        fields["point"] = body[oid_end + 2 : pos]
        curve, bits = _CURVES.get(oid) or ("oid-" + oid.hex(), 0)
        if algo == 22:
            name = curve if curve in ("ed25519", "ed448") else f"eddsa-{curve}"
        elif algo == 19:
            name = f"ecdsa-{curve}"
        else:
            if pos >= end:
                raise _fail(_KEY_TRUNCATED)
            kdf_end = pos + 1 + body[pos]
            if kdf_end > end:
                raise _fail(_KEY_TRUNCATED)
            fields["kdf"], pos = body[pos + 1 : kdf_end], kdf_end
            name = "cv25519" if curve == "cv25519" else f"ecdh-{curve}"
    elif algo in _NATIVE_KEYS:
        size, bits = _NATIVE_KEYS[algo]
        if pos + size > end:
            raise _fail(_KEY_TRUNCATED)
        fields["point"], pos = body[pos : pos + size], pos + size
        name = PUBKEY_NAMES[algo]
    else:
        from registry.errors import UnsupportedKeyType

        raise UnsupportedKeyType(f"unsupported OpenPGP public key algorithm {algo}")
    if pos != end:
        raise _fail("trailing bytes in key packet")
    return version, created, algo, name, bits, curve, fields


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


#: Embedded signatures (subpacket 32) nest; real ones go one level deep.
MAX_EMBEDDED_DEPTH = 4


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


_Spans = list[tuple[int, int, int]]


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


#: :func:`_frame_signature`'s answer: end of the hashed part, offset of the left 16 bits,
#: of the v6 salt (or 0) and of the signature data; then what a summary reads: the first
#: hashed 4-octet creation time (0 if none), the data offsets of the first issuer
#: fingerprint and key ID subpackets (0, 0 if none), and the embedded signatures' data
#: offsets (start, end, start, end, ...; ``None`` if none)
_Frame = tuple[int, int, int, int, int, int, int, int, int, list[int] | None]


def _frame_signature(body: bytes, depth: int,
                     spans: tuple[_Spans, _Spans] | None = None) -> _Frame | None:
    """Check a signature body's framing and subpacket areas in one pass (RFC 9580 5.2,
    5.2.3.7); ``None`` for a (valid) v3 signature. ``spans``, when given, receives the
    hashed and the unhashed subpackets as :func:`_signature_frame` returns them.

    Every length is bounds-checked; the loop does constant work per subpacket (each
    at least two octets), so the cost is linear in the body.

    Raises:
        KeyFormatError: as :func:`parse_signature_parts`.
    """
    if depth > MAX_EMBEDDED_DEPTH:
        raise _fail("embedded signatures nested too deeply")
    end = len(body)
    if not end:
        raise _fail("truncated signature packet")
    version = body[0]
    if version == 3:
        if end < 2 or body[1] != 5:
            raise _fail("truncated signature packet" if end < 2 else "bad v3 signature hashed length")
        if end < 19:
            raise _fail("truncated signature packet")
        return None
    if version not in (4, 5, 6):
        raise _fail(f"unknown signature version {version}")
    width = 4 if version == 6 else 2
    pos = 4 + width
    if pos > end:
        raise _fail("truncated signature packet")
    area_end = hashed_end = pos + int.from_bytes(body[4:pos], "big")
    if hashed_end > end:
        raise _fail("truncated signature packet")
    created, seen_created = 0, False
    fpr_at = fpr_end = kid_at = kid_end = 0
    embedded: list[int] | None = None
    out = spans[0] if spans is not None else None
    hashed = True
    while True:
        while pos < area_end:
            length = body[pos]
            if length < 192:
                pos += 1
            elif length < 224:
                if pos + 2 > area_end:
                    raise _fail("truncated packet header")
                length, pos = ((length - 192) << 8) + body[pos + 1] + 192, pos + 2
            elif length == 255:
                if pos + 5 > area_end:
                    raise _fail("truncated packet header")
                length, pos = int.from_bytes(body[pos + 1 : pos + 5], "big"), pos + 5
            else:
                raise _fail("partial body lengths are not allowed in a certificate")
            if not length:
                raise _fail("empty signature subpacket")
            at = pos  # the type octet
            pos += length
            if pos > area_end:
                raise _fail("truncated signature subpackets")
            if out is not None:
                out.append((body[at], at + 1, pos))
            t = body[at] & 0x7F
            if t in _SUMMARISED:
                if t == 2:
                    if hashed and length == 5 and not seen_created:
                        created, seen_created = int.from_bytes(body[at + 1 : pos], "big"), True
                elif t == 33:
                    if not fpr_at:
                        fpr_at, fpr_end = at + 1, pos
                elif t == 16:
                    if not kid_at:
                        kid_at, kid_end = at + 1, pos
                elif embedded is None:
                    embedded = [at + 1, pos]
                else:
                    embedded += (at + 1, pos)
        if not hashed:
            break
        hashed = False
        out = spans[1] if spans is not None else None
        pos = hashed_end + width
        if pos > end:
            raise _fail("truncated signature packet")
        area_end = pos + int.from_bytes(body[hashed_end:pos], "big")
        if area_end > end:
            raise _fail("truncated signature packet")
    pos = area_end + 2  # left 16 bits of the digest
    if pos > end:
        raise _fail("truncated signature packet")
    salt_at = 0
    if version == 6:
        if pos >= end:
            raise _fail("truncated signature packet")
        salt_at = pos + 1
        pos = salt_at + body[pos]
        if pos > end:
            raise _fail("truncated signature packet")
    if pos >= end:
        raise _fail("signature packet without signature data")
    return (hashed_end, area_end, salt_at, pos, created, fpr_at, fpr_end, kid_at, kid_end,
            embedded)


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


_NO_PRIMARY = "no OpenPGP certificate found (no public key packet)"


def _out_of_place(tag: int, *, first: bool) -> KeyFormatError:
    """The error for a packet a certificate cannot hold where it stands (``first``: before
    the primary key, where only marker and padding packets may stand)."""
    if tag in (TAG_SECRET_KEY, TAG_SECRET_SUBKEY):
        from registry.errors import PrivateKeyError

        return PrivateKeyError("this is an OpenPGP secret key; give the public key instead")
    if first:
        return KeyFormatError(f"not an OpenPGP certificate: starts with a {_packet_name(tag)} packet")
    if tag == TAG_PUBLIC_KEY:
        return KeyFormatError("more than one OpenPGP certificate where one was expected")
    return KeyFormatError(f"unexpected {_packet_name(tag)} packet in an OpenPGP certificate")


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


#: What :func:`scan_certificate` keeps of a signature: (type, creation time as a
#: POSIX timestamp or 0, whether its issuer can be the primary key). The last is
#: :class:`Signature`'s rule: the first issuer fingerprint subpacket (hashed, then
#: unhashed) when it holds one, else the first issuer key ID when it holds 8 octets,
#: else true (no issuer named).
SignatureSummary = tuple[int, int, bool]


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
    primary: KeyPacket | None = None
    fpr = kid = b""
    key_sigs: list[SignatureSummary] = []
    uids: list[tuple[str, bool, tuple[SignatureSummary, ...]]] = []
    cur: list[SignatureSummary] | None = key_sigs  # where signatures attach (None: a subkey)
    uid: tuple[str, bool] | None = None

    for tag, _start, body_start, body_end, _new in spans or iter_packet_spans(data):
        if tag == TAG_SIGNATURE and primary is not None:
            sig = _scan_signature(data[body_start:body_end], fpr, kid, 0)
            if cur is not None:
                cur.append(sig)
            continue
        if primary is None:
            if tag in (TAG_MARKER, TAG_PADDING):
                continue
            if tag != TAG_PUBLIC_KEY:
                raise _out_of_place(tag, first=True)
            primary, _fields, fpr, kid = _key_packet(tag, data[body_start:body_end])
            continue
        if tag in (TAG_USER_ID, TAG_USER_ATTRIBUTE):
            if uid is not None and cur is not None:
                uids.append((*uid, tuple(cur)))
            is_attr = tag == TAG_USER_ATTRIBUTE
            uid = ("" if is_attr else data[body_start:body_end].decode("utf-8", "replace"),
                   is_attr)
            cur = []
        elif tag == TAG_PUBLIC_SUBKEY:
            if uid is not None and cur is not None:
                uids.append((*uid, tuple(cur)))
            _key_fields(data[body_start:body_end])  # checked as parse_key_packet would
            uid, cur = None, None
        elif tag not in (TAG_TRUST, TAG_MARKER, TAG_PADDING):
            raise _out_of_place(tag, first=False)
    if primary is None:
        raise KeyFormatError(_NO_PRIMARY)
    if uid is not None and cur is not None:
        uids.append((*uid, tuple(cur)))
    return CertSummary(primary, tuple(key_sigs), tuple(uids))


def _scan_signature(body: bytes, fpr: bytes, kid: bytes, depth: int) -> SignatureSummary:
    """:func:`parse_signature_parts`' checks, embedded signatures included; a summary.

    One pass of :func:`_frame_signature` reads the summary as it checks the framing
    (no span lists); embedded signatures are checked once the outer frame is, as the
    walk does (a test compares the two on mutated certificates).
    """
    frame = _frame_signature(body, depth)
    if frame is None:  # v3: no subpackets, so no issuer named
        return body[2], int.from_bytes(body[3:7], "big"), True
    _h, _l, _s, _d, created, fpr_at, fpr_end, kid_at, kid_end, embedded = frame
    if embedded is not None:
        for i in range(0, len(embedded), 2):
            _scan_signature(body[embedded[i] : embedded[i + 1]], fpr, kid, depth + 1)
    if fpr_end - fpr_at > 1:
        by_primary = body[fpr_at + 1 : fpr_end] == fpr
    else:
        by_primary = not kid_at or kid_end - kid_at != 8 or body[kid_at:kid_end] == kid
    return body[1], created, by_primary


#: subpackets a summary reads: creation time, issuer key ID, embedded signature, issuer fingerprint
_SUMMARISED = frozenset((2, 16, 32, 33))
