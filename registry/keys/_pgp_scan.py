"""The checks a certificate load runs on every packet, apart from the records that describe them.

    primary, fpr, kid, key_sigs, user_ids = scan_packets(material)
    for chunk, spans in split_binary(keyring): ...

:mod:`registry.keys._pgp_packets` describes packets as records (dataclasses);
this module holds what runs on every load -- the packet framing, the key packet
checks, the signature framing and its one-pass summary, the keyring split -- on
plain ints, bytes and tuples. The wheel compiles it with Cython, with the C types
declared in ``_pgp_scan.pxd`` beside it (setup.py's OPENPGP_MODULES; docs/BENCHMARKS.md,
branch pgp7); as Python it runs the same. The records module re-exports every name
here, and its messages and checks are these.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import Final

from registry.errors import KeyFormatError, PrivateKeyError, UnsupportedKeyType
from registry.keys._digest import MAX_MATERIAL

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


def _fail(what: str) -> KeyFormatError:
    return KeyFormatError(f"malformed OpenPGP data: {what}")



def _packet_name(tag: int) -> str:
    return PACKET_NAMES.get(tag, f"tag-{tag}")


def _u32(data: bytes, pos: int) -> int:
    """The big-endian unsigned 32-bit value at ``pos`` (the caller checked the bounds).

    Built in an accumulator, never as ``data[pos] << 24 | ...``: compiled to C (the
    ``.pxd`` beside this file types ``value`` as unsigned 64-bit), octets are C ints and
    ``0xFF << 24`` would come out negative.
    """
    value = data[pos]
    value = value << 8 | data[pos + 1]
    value = value << 8 | data[pos + 2]
    return value << 8 | data[pos + 3]


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
        return _u32(data, pos + 1), pos + 5
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
        span = _span_at(data, pos, end)
        yield span
        pos = span[3]


def _span_at(data: bytes, pos: int, end: int) -> _Span:
    """The packet whose header starts at ``pos`` (< ``end``), as :func:`iter_packet_spans`
    yields it. (A function of its own so that compiled, its locals are C types.)"""
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
        length = data[pos + 1]
        if size > 1:
            length = length << 8 | data[pos + 2]
            if size > 2:
                length = length << 16 | data[pos + 3] << 8 | data[pos + 4]
        pos += 1 + size
        new = False
    if pos + length > end:
        raise _fail(f"truncated {PACKET_NAMES.get(tag, f'tag-{tag}')} packet")
    return tag, start, pos, pos + length, new


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
    created = _u32(body, 1)
    algo = body[5]
    pos = 6
    if version == 6:
        if end < 10:
            raise _fail(_KEY_TRUNCATED)
        if _u32(body, 6) != end - 10:
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
            pos = start + ((body[pos] << 8 | body[pos + 1]) + 7) // 8
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
        pos = oid_end + 2 + ((body[oid_end] << 8 | body[oid_end + 1]) + 7) // 8
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
    if name == "ed25519":
        _check_ed25519_point(fields["point"], algo)
    return version, created, algo, name, bits, curve, fields


def _check_ed25519_point(point: bytes | int, algo: int) -> None:
    """Refuse an Ed25519 key of small order (anyone can sign for it: self-signatures,
    binding signatures, possession proofs). Legacy EdDSA (22) prefixes its point with 0x40."""
    from registry.keys._ssh_wire import small_order_ed25519

    raw = point[1:] if algo == 22 and isinstance(point, bytes) and point[:1] == b"\x40" else point
    if isinstance(raw, bytes) and len(raw) == 32 and small_order_ed25519(raw):
        raise _fail("the Ed25519 key is a small-order point: a signature verifies under it"
                    " without any private key")


#: Embedded signatures (subpacket 32) nest; real ones go one level deep.
MAX_EMBEDDED_DEPTH = 4


_Spans = list[tuple[int, int, int]]


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
    area_end = hashed_end = pos + (body[4] << 8 | body[5] if width == 2 else _u32(body, 4))
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
                length, pos = _u32(body, pos + 1), pos + 5
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
            if _SUMMARISED[t]:
                if t == 2:
                    if hashed and length == 5 and not seen_created:
                        created = _u32(body, at + 1)
                        seen_created = True
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
        area_end = pos + (body[hashed_end] << 8 | body[hashed_end + 1] if width == 2 else
                          _u32(body, hashed_end))
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


#: What :func:`scan_certificate` keeps of a signature: (type, creation time as a
#: POSIX timestamp or 0, whether its issuer can be the primary key). The last is
#: :class:`Signature`'s rule: the first issuer fingerprint subpacket (hashed, then
#: unhashed) when it holds one, else the first issuer key ID when it holds 8 octets,
#: else true (no issuer named).
SignatureSummary = tuple[int, int, bool]


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


#: subpackets a summary reads, by type (1) or not (0): creation time, issuer key ID, embedded
#: signature, issuer fingerprint
_SUMMARISED: Final = bytes(1 if t in (2, 16, 32, 33) else 0 for t in range(128))


def _key_digest(version: int, body: bytes) -> tuple[bytes, bytes]:
    """A v4 (SHA-1) or v6 (SHA-256) key packet body's fingerprint and key ID, as bytes."""
    if version == 4:
        digest = hashlib.sha1(b"\x99" + len(body).to_bytes(2, "big") + body).digest()
        return digest, digest[-8:]
    digest = hashlib.sha256(b"\x9b" + len(body).to_bytes(4, "big") + body).digest()
    return digest, digest[:8]


#: :func:`_key_fields`' answer: (version, creation time, algorithm id, name, bits, curve, fields)
KeyFields = tuple[int, int, int, str, int, "str | None", dict[str, "int | bytes"]]
#: ``(text, is_attribute, signatures)`` of a user ID or user attribute
UserIDSummary = tuple[str, bool, tuple[SignatureSummary, ...]]


def scan_packets(data: bytes, spans: Iterable[_Span] | None = None
                 ) -> tuple[int, KeyFields, bytes, bytes, list[SignatureSummary],
                            list[UserIDSummary]]:
    """What :func:`~registry.keys._pgp_packets.scan_certificate` returns, as plain values:
    (the primary key's tag, its :func:`_key_fields`, fingerprint and key ID as bytes, the
    key's signature summaries, the user IDs' summaries). The same checks in the same order.

    Raises:
        KeyFormatError: as :func:`~registry.keys._pgp_packets.walk_certificate`.
    """
    primary: KeyFields | None = None
    primary_tag = 0
    fpr = kid = b""
    key_sigs: list[SignatureSummary] = []
    uids: list[UserIDSummary] = []
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
            body = data[body_start:body_end]
            primary, primary_tag = _key_fields(body), tag
            fpr, kid = _key_digest(primary[0], body)
            continue
        if tag in (TAG_USER_ID, TAG_USER_ATTRIBUTE):
            if uid is not None and cur is not None:
                uids.append((uid[0], uid[1], tuple(cur)))
            is_attr = tag == TAG_USER_ATTRIBUTE
            uid = ("" if is_attr else data[body_start:body_end].decode("utf-8", "replace"),
                   is_attr)
            cur = []
        elif tag == TAG_PUBLIC_SUBKEY:
            if uid is not None and cur is not None:
                uids.append((uid[0], uid[1], tuple(cur)))
            _key_fields(data[body_start:body_end])  # checked as parse_key_packet would
            uid, cur = None, None
        elif tag not in (TAG_TRUST, TAG_MARKER, TAG_PADDING):
            raise _out_of_place(tag, first=False)
    if primary is None:
        raise KeyFormatError(_NO_PRIMARY)
    if uid is not None and cur is not None:
        uids.append((uid[0], uid[1], tuple(cur)))
    return primary_tag, primary, fpr, kid, key_sigs, uids


#: certification signature types (generic, persona, casual, positive)
_SELF_CERTS = (0x10, 0x11, 0x12, 0x13)


def has_self_signature(key_sigs: Iterable[SignatureSummary],
                       uids: Iterable[UserIDSummary]) -> bool:
    """The self-signature rule on :func:`scan_packets`' summaries: a direct-key or key
    revocation signature (0x1F, 0x20) on the primary key, or a certification (0x10-0x13)
    of a user ID, whose issuer can be the primary key."""
    for sig_type, _created, by_primary in key_sigs:
        if by_primary and (sig_type == 0x1F or sig_type == 0x20):
            return True
    for _value, _attribute, sigs in uids:
        for sig_type, _created, by_primary in sigs:
            if by_primary and 0x10 <= sig_type <= 0x13:
                return True
    return False


def user_id_states(uids: Iterable[UserIDSummary]) -> list[tuple[str, bool, bool]]:
    """``(text, revoked, self_signed)`` of each user ID (not attributes), in order: revoked
    when the newest certification or revocation (0x30) by the primary key is a revocation
    (the first of the newest, as ``max()``); self-signed when one certification by it exists."""
    out = []
    for value, attribute, sigs in uids:
        if attribute:
            continue
        newest_type = -1
        newest_created = 0
        certified = False
        for sig_type, created, by_primary in sigs:
            if by_primary and (0x10 <= sig_type <= 0x13 or sig_type == 0x30):
                if newest_type < 0 or created > newest_created:
                    newest_type, newest_created = sig_type, created
                if sig_type != 0x30:
                    certified = True
        out.append((value, newest_type == 0x30, certified))
    return out


#: :func:`load_summary`'s answer: the primary key's version, creation time (POSIX), algorithm
#: name, bits, fingerprint and key ID (upper-case hex), and :func:`user_id_states`
LoadSummary = tuple[int, int, str, int, str, str, list[tuple[str, bool, bool]]]


def load_summary(data: bytes, spans: Iterable[_Span] | None = None) -> LoadSummary:
    """What a load keeps of one certificate: :func:`scan_packets` (every packet checked),
    then the self-signature rule, then the user IDs, as plain values.

    Raises:
        KeyFormatError: as :func:`scan_packets`, or no self-signature.
    """
    _tag, key, fpr, kid, key_sigs, uids = scan_packets(data, spans)
    fingerprint = fpr.hex().upper()
    if not has_self_signature(key_sigs, uids):
        raise KeyFormatError(
            f"OpenPGP certificate {fingerprint} has no self-signature"
            " (truncated or stripped export?)"
        )
    return (key[0], key[1], key[3], key[4], fingerprint, kid.hex().upper(),
            user_id_states(uids))


#: Largest certificate (bytes, packets) handed to Sequoia. The canonical form must fit in
#: MAX_MATERIAL; the input may be somewhat larger (Sequoia drops duplicates and misplaced
#: packets), but 524,000 empty user IDs in 1 MiB cost Sequoia 634 MB and 4 s before the
#: canonical size could be checked, so the split refuses more before Sequoia sees it.
MAX_CERT_INPUT = 4 * MAX_MATERIAL
MAX_CERT_PACKETS = 1024
SECRET_HINT = "export the public key (`gpg --export --armor KEYID`) and give that instead"


def split_binary(blob: bytes) -> Iterator[tuple[bytes, list[_Span] | None]]:
    """Cut a binary keyring into one chunk per certificate, refusing secret keys early.

    Each chunk (with any marker / padding packets before it) is bounded by
    :data:`MAX_CERT_INPUT` bytes and :data:`MAX_CERT_PACKETS` packets while walking,
    so oversized or packet-stuffed input stops after a bounded amount of work. A
    generator: each chunk is handed out as soon as the next certificate starts, so
    the caller can refuse certificate 1 before the rest is walked (15,000 bare
    key / user ID pairs were all walked before the first was refused).

    Each chunk comes with its packets' spans when it starts the input (offsets are
    the chunk's own), so that a scan of the same bytes need not walk them again;
    ``None`` otherwise.
    """
    starts: list[int] = []
    spans: list[_Span] = []
    chunk_start, packets = 0, 0
    pos, total = 0, len(blob)
    while pos < total:  # iter_packet_spans(blob), without a generator in the generator
        span = _span_at(blob, pos, total)
        tag, offset, body, end, _new = span
        pos = end
        if tag in (TAG_SECRET_KEY, TAG_SECRET_SUBKEY):
            raise PrivateKeyError(f"this is an OpenPGP secret key; {SECRET_HINT}")
        if tag in (TAG_PUBLIC_KEY, TAG_PUBLIC_SUBKEY):
            version = blob[body] if end > body else 0
            if version not in (4, 6):
                kind = "LibrePGP v5 keys are" if version == 5 else "other versions are"
                raise UnsupportedKeyType(
                    f"unsupported OpenPGP key version {version} (v4 and v6 are accepted;"
                    f" {kind} not)"
                )
        if tag == TAG_PUBLIC_KEY:
            if starts:
                yield blob[starts[-1] : offset], spans if starts[-1] == 0 else None
                chunk_start, packets = offset, 0
            starts.append(offset)
            spans = []
        elif not starts and tag not in (TAG_MARKER, TAG_PADDING):
            raise KeyFormatError(
                f"not an OpenPGP certificate: starts with a {PACKET_NAMES.get(tag, f'tag-{tag}')}"
                " packet"
            )
        spans.append(span)
        packets += 1
        if packets > MAX_CERT_PACKETS:
            raise KeyFormatError(
                f"OpenPGP certificate {len(starts) or 1} has more than {MAX_CERT_PACKETS}"
                " packets; the registry accepts certificates of at most"
                f" {MAX_MATERIAL} bytes (export it minimal: `gpg --export-options export-minimal`)"
            )
        if end - chunk_start > MAX_CERT_INPUT:
            raise KeyFormatError(
                f"OpenPGP certificate {len(starts) or 1} is more than {MAX_CERT_INPUT} bytes;"
                f" the registry accepts certificates of at most {MAX_MATERIAL} bytes"
                " (export it minimal: `gpg --export-options export-minimal`)"
            )
    if not starts:
        raise KeyFormatError("no OpenPGP certificate found (no public key packet)")
    yield blob[starts[-1] :], spans if starts[-1] == 0 else None
