"""OpenPGP certificate view for the lints: packets, keys, signatures, and signature verification.

    cert = walk(material)
    for uid in cert.uids: print(uid.value, [s.verify() for s in uid.sigs])

Packet framing and field decoding (key fields, signature parts) are
:mod:`registry.keys._pgp_packets`'s; this module keeps each packet's raw body
so that it can recompute the hashed data (RFC 9580 section 5.2.4) and verify
v4 / v6 signatures with
``cryptography`` (RSA, DSA, ECDSA, EdDSA legacy, Ed25519, Ed448). v3 signatures
are never verified (refused by policy anyway).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from registry.errors import KeyFormatError
from registry.keys._pgp_packets import (
    HASH_NAMES,
    SignatureParts,
    _Reader,
    iter_packets,
    parse_key_fields,
    parse_signature_parts,
)

__all__ = ["PGPCert", "PGPKey", "PGPSig", "PGPUid", "walk"]

_HASHLIB = {k: v.replace("-", "_") for k, v in HASH_NAMES.items()}  # hashlib's names

#: Signature subpackets an implementation must understand when critical (RFC 9580 5.2.3.7).
KNOWN_SUBPACKETS = frozenset({2, 3, 4, 5, 6, 7, 9, 11, 12, 16, 20, 21, 22, 23, 24, 25, 26, 27,
                              28, 29, 30, 31, 32, 33, 34, 35, 37, 38, 39})


@dataclass(eq=False)
class PGPKey:
    tag: int
    body: bytes
    info: Any  # registry.keys._pgp_packets.KeyPacket
    fields: dict[str, Any] = field(default_factory=dict)  # parse_key_fields' public fields
    rsa_n: int | None = None
    rsa_e: int | None = None
    point: bytes | None = None
    ecdh_kdf: tuple[int, int] | None = None  # (hash id, symmetric algorithm id)
    _pub: Any = None

    @property
    def version(self) -> int:
        return int(self.info.version)

    @property
    def algorithm_id(self) -> int:
        return int(self.info.algorithm_id)

    @property
    def algorithm(self) -> str:
        return str(self.info.algorithm)

    @property
    def bits(self) -> int:
        return int(self.info.bits)

    @property
    def curve(self) -> str | None:
        return self.info.curve

    @property
    def created(self) -> datetime:
        return self.info.created

    @property
    def fingerprint(self) -> str:
        return str(self.info.fingerprint)

    def hash_prefix(self) -> bytes:
        if self.version == 6:
            return b"\x9b" + len(self.body).to_bytes(4, "big") + self.body
        return b"\x99" + len(self.body).to_bytes(2, "big") + self.body

    def public_key(self) -> Any:
        """``cryptography`` public key for verification (``None`` for encryption-only algorithms)."""
        if self._pub is None:
            self._pub = _public_key(self)
        return self._pub


def _decode_key(tag: int, body: bytes) -> PGPKey:
    info, raw = parse_key_fields(tag, body)
    fields: dict[str, Any] = dict(raw)
    kdf = fields.get("kdf", b"")
    return PGPKey(tag, body, info, fields, rsa_n=fields.get("n"), rsa_e=fields.get("e"),
                  point=fields.get("point"),
                  ecdh_kdf=(kdf[1], kdf[2]) if len(kdf) >= 3 else None)


def _public_key(k: PGPKey) -> Any:
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

    algo = k.algorithm_id
    if algo in (1, 3) and k.rsa_n is not None and k.rsa_e is not None:
        return rsa.RSAPublicNumbers(k.rsa_e, k.rsa_n).public_key()
    if algo == 17:
        f = k.fields
        return dsa.DSAPublicNumbers(f["y"], dsa.DSAParameterNumbers(f["p"], f["q"], f["g"])
                                    ).public_key()
    if algo == 19 and k.point is not None:
        curves: dict[str | None, ec.EllipticCurve] = {
            "p256": ec.SECP256R1(), "p384": ec.SECP384R1(), "p521": ec.SECP521R1(),
            "brainpoolP256r1": ec.BrainpoolP256R1(), "brainpoolP384r1": ec.BrainpoolP384R1(),
            "brainpoolP512r1": ec.BrainpoolP512R1(),
        }
        curve = curves.get(k.curve)
        return ec.EllipticCurvePublicKey.from_encoded_point(curve, k.point) if curve else None
    if algo == 22 and k.point is not None and k.curve == "ed25519":
        return ed25519.Ed25519PublicKey.from_public_bytes(k.point[1:])
    if algo == 27 and k.point is not None:
        return ed25519.Ed25519PublicKey.from_public_bytes(k.point)
    if algo == 28 and k.point is not None:
        return ed448.Ed448PublicKey.from_public_bytes(k.point)
    return None


@dataclass(eq=False)
class PGPSig:
    body: bytes
    info: Any  # registry.keys._pgp_packets.Signature
    location: str
    parts: SignatureParts | None = None  # where the hashed bytes and signature lie (v4-v6)
    prefix: bytes = b""  # key/uid/subkey data hashed before the signature
    embedded_sigs: list[PGPSig] = field(default_factory=list)
    _verified: dict[str, bool] = field(default_factory=dict)

    # convenience
    @property
    def version(self) -> int:
        return int(self.info.version)

    @property
    def type(self) -> int:
        return int(self.info.type)

    @property
    def hash_algorithm(self) -> int:
        return int(self.info.hash_algorithm)

    @property
    def hash_name(self) -> str:
        return str(self.info.hash_name)

    @property
    def created(self) -> datetime | None:
        return self.info.created

    @property
    def issuer_fingerprint(self) -> str | None:
        return self.info.issuer_fingerprint

    def subpacket(self, kind: int) -> bytes | None:
        for sp in self.info.hashed:
            if sp.type == kind:
                return bytes(sp.data)
        return None

    @property
    def expires(self) -> datetime | None:
        data = self.subpacket(3)
        if data is None or len(data) != 4 or self.created is None:
            return None
        secs = int.from_bytes(data, "big")
        return self.created + timedelta(seconds=secs) if secs else None

    @property
    def key_flags(self) -> int | None:
        return self.info.key_flags

    @property
    def key_expiration_seconds(self) -> int | None:
        return self.info.key_expiration_seconds

    def unknown_critical(self) -> list[int]:
        out = [sp.type for sp in self.info.hashed if sp.critical and sp.type not in KNOWN_SUBPACKETS]
        for sp in self.info.hashed:
            if sp.critical and sp.type == 20 and len(sp.data) >= 8 and not (sp.data[0] & 0x80):
                out.append(20)  # a critical notation that is not human-readable: unknown to us
        return out

    def alive(self, at: datetime) -> bool:
        created = self.created
        if created is None or created > at + timedelta(seconds=60):
            return False
        exp = self.expires
        return exp is None or exp > at

    def verify(self, signer: PGPKey) -> bool:
        """Cryptographically verify this signature by ``signer`` (cached)."""
        cached = self._verified.get(signer.fingerprint)
        if cached is None:
            try:
                cached = _verify(self, signer)
            except Exception:
                cached = False
            self._verified[signer.fingerprint] = cached
        return cached


def _verify(sig: PGPSig, signer: PGPKey) -> bool:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import (
        Prehashed,
        encode_dss_signature,
    )

    parts = sig.parts
    if sig.version not in (4, 6) or parts is None or not parts.fields:
        return False
    hname = _HASHLIB.get(sig.hash_algorithm)
    if hname is None:
        return False
    h = hashlib.new(hname)
    h.update(parts.salt)
    h.update(sig.prefix)
    h.update(sig.body[:parts.hashed_length])
    h.update(bytes([sig.version, 0xFF]) + parts.hashed_length.to_bytes(4, "big"))
    digest = h.digest()
    if digest[:2] != parts.left16:
        return False
    pub = signer.public_key()
    if pub is None:
        return False
    chash = {"md5": hashes.MD5(), "sha1": hashes.SHA1(), "sha224": hashes.SHA224(),
             "sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512(),
             "sha3_256": hashes.SHA3_256(), "sha3_512": hashes.SHA3_512()}.get(hname)
    r = _Reader(parts.fields, "signature fields")
    algo = sig.info.pubkey_algorithm
    from cryptography.exceptions import InvalidSignature

    try:
        if isinstance(pub, rsa.RSAPublicKey) and algo in (1, 3) and chash is not None:
            s = r.mpi_bytes()
            size = (pub.key_size + 7) // 8
            pub.verify(s.rjust(size, b"\0"), digest, padding.PKCS1v15(), Prehashed(chash))
        elif isinstance(pub, dsa.DSAPublicKey) and algo == 17 and chash is not None:
            pub.verify(encode_dss_signature(r.mpi(), r.mpi()), digest, Prehashed(chash))
        elif isinstance(pub, ec.EllipticCurvePublicKey) and algo == 19 and chash is not None:
            pub.verify(encode_dss_signature(r.mpi(), r.mpi()), digest, ec.ECDSA(Prehashed(chash)))
        elif isinstance(pub, ed25519.Ed25519PublicKey) and algo == 22:
            pub.verify(r.mpi_bytes().rjust(32, b"\0") + r.mpi_bytes().rjust(32, b"\0"), digest)
        elif isinstance(pub, ed25519.Ed25519PublicKey) and algo == 27:
            pub.verify(r.take(64), digest)
        elif isinstance(pub, ed448.Ed448PublicKey) and algo == 28:
            pub.verify(r.take(114), digest)
        else:
            return False
    except InvalidSignature:
        return False
    return True


@dataclass(eq=False)
class PGPUid:
    value: str
    attribute: bool
    body: bytes
    sigs: list[PGPSig]
    index: int

    def hash_prefix(self, version: int) -> bytes:
        tag = 0xD1 if self.attribute else 0xB4
        return bytes([tag]) + len(self.body).to_bytes(4, "big") + self.body

    @property
    def email(self) -> str | None:
        text = self.value
        if "<" in text and text.endswith(">"):
            text = text[text.rindex("<") + 1:-1]
        text = text.strip()
        return text.lower() if "@" in text and " " not in text else None


@dataclass(eq=False)
class PGPSub:
    key: PGPKey
    sigs: list[PGPSig]
    index: int


@dataclass(eq=False)
class PGPCert:
    primary: PGPKey
    key_sigs: list[PGPSig]
    uids: list[PGPUid]
    subkeys: list[PGPSub]
    packets: list[tuple[int, int | None]]

    def all_sigs(self) -> list[PGPSig]:
        out = list(self.key_sigs)
        for u in self.uids:
            out.extend(u.sigs)
        for s in self.subkeys:
            out.extend(s.sigs)
        return out

    # ---- validity helpers (Sequoia-like, minus algorithm policy, which the lints judge)

    def _self_ok(self, sig: PGPSig, at: datetime) -> bool:
        return sig.alive(at) and not sig.unknown_critical() and sig.verify(self.primary)

    def revocation(self, at: datetime) -> PGPSig | None:
        for s in self.key_sigs:
            if s.type == 0x20 and s.verify(self.primary) and (s.created is None or s.created <= at):
                return s
        return None

    def uid_binding(self, uid: PGPUid, at: datetime) -> PGPSig | None:
        """Newest valid self-certification of ``uid`` at ``at``."""
        best: PGPSig | None = None
        for s in uid.sigs:
            if s.type in (0x10, 0x11, 0x12, 0x13) and self._self_ok(s, at) and (
                best is None or (s.created or at) > (best.created or at)
            ):
                best = s
        return best

    def uid_revocation(self, uid: PGPUid, at: datetime) -> PGPSig | None:
        for s in uid.sigs:
            if s.type == 0x30 and s.verify(self.primary) and (s.created is None or s.created <= at):
                return s
        return None

    def direct_key_sig(self, at: datetime) -> PGPSig | None:
        best: PGPSig | None = None
        for s in self.key_sigs:
            if s.type == 0x1F and self._self_ok(s, at) and (
                best is None or (s.created or at) > (best.created or at)
            ):
                best = s
        return best

    def primary_binding(self, at: datetime) -> PGPSig | None:
        """The self-signature that governs the primary key (primary UID's, else direct key)."""
        cands = []
        for u in self.uids:
            b = self.uid_binding(u, at)
            if b is not None and self.uid_revocation(u, at) is None:
                cands.append(b)
        if cands:
            primaries = [c for c in cands if c.info.is_primary_user_id] or cands
            return max(primaries, key=lambda s: s.created or at)
        return self.direct_key_sig(at)

    def expires(self, at: datetime) -> datetime | None:
        b = self.primary_binding(at)
        secs = b.key_expiration_seconds if b is not None else None
        dk = self.direct_key_sig(at)
        if secs is None and dk is not None:
            secs = dk.key_expiration_seconds
        return self.primary.created + timedelta(seconds=secs) if secs else None

    def subkey_binding(self, sub: PGPSub, at: datetime) -> PGPSig | None:
        best: PGPSig | None = None
        for s in sub.sigs:
            if s.type == 0x18 and self._self_ok(s, at) and (
                best is None or (s.created or at) > (best.created or at)
            ):
                best = s
        return best

    def subkey_revocation(self, sub: PGPSub, at: datetime) -> PGPSig | None:
        for s in sub.sigs:
            if s.type == 0x28 and s.verify(self.primary) and (s.created is None or s.created <= at):
                return s
        return None


def walk(material: bytes) -> PGPCert:
    """Split a binary certificate into keys, user IDs and signatures (raw bodies kept).

    Raises:
        KeyFormatError: malformed packets or not exactly one certificate.
    """
    primary: PGPKey | None = None
    key_sigs: list[PGPSig] = []
    uids: list[PGPUid] = []
    subs: list[PGPSub] = []
    packets: list[tuple[int, int | None]] = []
    cur: list[PGPSig] = key_sigs
    prefix_extra = b""
    loc = "openpgp.key"
    for pkt in iter_packets(bytes(material)):
        tag, body = pkt.tag, pkt.body
        if tag in (5, 7):
            from registry.errors import PrivateKeyError

            raise PrivateKeyError("this is an OpenPGP secret key; give the public key instead")
        if primary is None:
            if tag in (10, 21):
                packets.append((tag, None))
                continue
            if tag != 6:
                raise KeyFormatError("not an OpenPGP certificate: no public key packet first")
            primary = _decode_key(tag, body)
            packets.append((tag, primary.version))
            continue
        if tag == 2:
            info, parts = parse_signature_parts(body)
            sig = PGPSig(body, info, f"{loc}.sig[{len(cur)}]", parts)
            sig.prefix = primary.hash_prefix() + prefix_extra
            for sp in (*info.hashed, *info.unhashed):
                if sp.type == 32:
                    emb_info, emb_parts = parse_signature_parts(bytes(sp.data))
                    emb = PGPSig(bytes(sp.data), emb_info, f"{sig.location}.backsig", emb_parts)
                    emb.prefix = sig.prefix
                    sig.embedded_sigs.append(emb)
            packets.append((tag, info.version))
            cur.append(sig)
        elif tag in (13, 17):
            uid = PGPUid("" if tag == 17 else body.decode("utf-8", "replace"), tag == 17, body,
                         [], len(uids))
            uids.append(uid)
            cur = uid.sigs
            prefix_extra = uid.hash_prefix(primary.version)
            loc = f"openpgp.uid[{uid.index}]"
            packets.append((tag, None))
        elif tag == 14:
            sk = _decode_key(tag, body)
            sub = PGPSub(sk, [], len(subs))
            subs.append(sub)
            cur = sub.sigs
            prefix_extra = sk.hash_prefix()
            loc = f"openpgp.subkey[{sub.index}]"
            packets.append((tag, sk.version))
        elif tag in (12, 10, 21):
            packets.append((tag, None))
        elif tag == 6:
            raise KeyFormatError("more than one OpenPGP certificate where one was expected")
        else:
            packets.append((tag, None))
    if primary is None:
        raise KeyFormatError("no OpenPGP certificate found (no public key packet)")
    return PGPCert(primary, key_sigs, uids, subs, packets)


def now() -> datetime:
    return datetime.now(UTC)
