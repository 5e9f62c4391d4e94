"""OpenPGP key revocation signatures: verify one against a certificate, merge it in.

    rev = verify_openpgp_revocation(cert, open("alice.rev", "rb").read())
    revoked = merge_openpgp_revocation(cert, rev)      # an OpenPGPCertificate, revoked
    print(rev.reason, render_openpgp_armor(revoked))

The input is what ``gpg --gen-revoke`` writes (armored, or binary with
``--no-armor``), the file gpg keeps in ``openpgp-revocs.d/`` (its armor line
behind a ``:``), or a whole certificate carrying the revocation (``sq key
revoke``, ``gpg --export`` after importing one): the key revocation
signatures (type 0x20) are taken from it and nothing else. A signature counts
only if Sequoia verifies it as a revocation of this certificate's primary key
under its standard policy. Output is re-rendered from the parsed packets (a
new-format header around the signature body, and Sequoia's serialisation of
the merged certificate), never copied from the input.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from registry.errors import KeyFormatError, PrivateKeyError, ProofError
from registry.keys._common import input_bytes
from registry.keys._openpgp import (
    OpenPGPCertificate,
    _check_crc,
    _dearmor,
    _is_armor_text,
    load_openpgp_cert,
)
from registry.keys._pgp_packets import (
    TAG_PUBLIC_KEY,
    TAG_SECRET_KEY,
    TAG_SECRET_SUBKEY,
    TAG_SIGNATURE,
    iter_packets,
    parse_signature,
)

__all__ = ["OpenPGPRevocation", "merge_openpgp_revocation", "verify_openpgp_revocation"]

_KEY_REVOCATION = 0x20
_REASON_SUBPACKET = 29
#: RFC 9580 5.2.3.31 reason codes; 0 (no reason) and 2 (compromised) are "hard":
#: they invalidate the key at all times, the others only from the signature's creation on.
REASON_NAMES = {0: "no-reason", 1: "superseded", 2: "compromised", 3: "retired",
                32: "user-id-invalid"}
_SOFT = frozenset({1, 3, 32})
_MAX_REASON_TEXT = 200


@dataclass(frozen=True, slots=True)
class OpenPGPRevocation:
    """A key revocation signature that verifies against a certificate's primary key.

    ``signature`` is the signature packet, re-encoded with a new-format header
    (what the registry stores and serves). ``reason_text`` is the signer's
    free text, with control characters removed and cut to 200 characters.
    """

    fingerprint: str
    signature: bytes
    created: datetime | None
    reason: int | None
    reason_text: str
    hash_algorithm: str

    @property
    def hard(self) -> bool:
        """True unless the reason says the key was merely superseded or retired."""
        return self.reason not in _SOFT

    @property
    def reason_name(self) -> str:
        if self.reason is None:
            return "none"
        return REASON_NAMES.get(self.reason, f"reason-{self.reason}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "created": self.created.strftime("%Y-%m-%dT%H:%M:%SZ") if self.created else None,
            "reason": self.reason,
            "reason_name": self.reason_name,
            "reason_text": self.reason_text,
            "hard": self.hard,
            "hash_algorithm": self.hash_algorithm,
            "signature": self.signature.hex(),
        }


def _packet(tag: int, body: bytes) -> bytes:
    """``body`` with a new-format packet header (RFC 9580 4.2.1)."""
    n = len(body)
    if n < 192:
        length = bytes([n])
    elif n < 8384:
        n -= 192
        length = bytes([(n >> 8) + 192, n & 0xFF])
    else:
        length = b"\xff" + n.to_bytes(4, "big")
    return bytes([0xC0 | tag]) + length + body


def _signature_bodies(data: object) -> list[bytes]:
    """Bodies of the key revocation signatures in the input (armored or binary)."""
    raw = input_bytes(data, "OpenPGP revocation")
    if not raw.strip():
        raise KeyFormatError("empty OpenPGP revocation")
    if b"-----BEGIN PGP" in raw and _is_armor_text(raw):
        blobs = _dearmor(raw)
    elif raw[0] & 0x80:
        blobs = [(raw, None)]
    else:
        raise KeyFormatError("not an OpenPGP revocation (neither armored nor binary OpenPGP)")
    bodies: list[bytes] = []
    for blob, crc in blobs:
        found = len(bodies)
        for pkt in iter_packets(blob):
            if pkt.tag in (TAG_SECRET_KEY, TAG_SECRET_SUBKEY):
                raise PrivateKeyError("this input holds an OpenPGP secret key; give the"
                                      " revocation certificate (gpg --gen-revoke) instead")
            if pkt.tag == TAG_SIGNATURE and parse_signature(pkt.body).type == _KEY_REVOCATION:
                bodies.append(pkt.body)
        if len(bodies) > found:  # the armor's CRC-24, once the packets parsed (as certificates)
            _check_crc(blob, crc)
    if not bodies:
        raise KeyFormatError("no key revocation signature (type 0x20) in the input;"
                             " make one with gpg --gen-revoke")
    return bodies


def _primary_packet(cert: OpenPGPCertificate) -> tuple[bytes, bytes]:
    """(the primary key packet as encoded in the material, the rest of the material)."""
    packets = iter(iter_packets(cert.material))
    first = next(packets)
    if first.tag != TAG_PUBLIC_KEY:
        raise KeyFormatError("certificate does not start with its primary key")
    second = next(packets, None)
    end = second.offset if second is not None else len(cert.material)
    return cert.material[:end], cert.material[end:]


def _revokes(primary: bytes, packet: bytes) -> bool:
    import pysequoia

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return bool(pysequoia.Cert.from_bytes(primary + packet).is_revoked)
    except Exception:  # pysequoia raises bare Rust errors: not a valid revocation
        return False


def _describe(fingerprint: str, body: bytes, packet: bytes) -> OpenPGPRevocation:
    sig = parse_signature(body)
    reason, text = None, ""
    for sp in sig.hashed:
        if sp.type == _REASON_SUBPACKET and sp.data:
            reason = sp.data[0]
            raw = sp.data[1:].decode("utf-8", "replace")
            text = "".join(ch for ch in raw if ch.isprintable())[:_MAX_REASON_TEXT]
            break
    return OpenPGPRevocation(fingerprint, packet, sig.created, reason, text, sig.hash_name)


def _as_cert(cert: OpenPGPCertificate | bytes | str) -> OpenPGPCertificate:
    return cert if isinstance(cert, OpenPGPCertificate) else load_openpgp_cert(cert)


def verify_openpgp_revocation(cert: OpenPGPCertificate | bytes | str,
                              revocation: bytes | bytearray | memoryview | str) -> OpenPGPRevocation:
    """The first key revocation signature in ``revocation`` that revokes ``cert``'s primary key.

    ``cert``: the published certificate (parsed, or its material / armor).

    Raises:
        KeyFormatError: ``revocation`` (or ``cert``) is malformed or holds no
            key revocation signature.
        PrivateKeyError: the input holds secret key material (never echoed).
        ProofError: no signature in it verifies as a revocation of this certificate
            (made by another key, tampered with, or refused by Sequoia's policy).
    """
    parsed = _as_cert(cert)
    primary, _ = _primary_packet(parsed)
    for body in _signature_bodies(revocation):
        packet = _packet(TAG_SIGNATURE, body)
        if _revokes(primary, packet):
            return _describe(parsed.fingerprint, body, packet)
    raise ProofError(f"the revocation does not verify against OpenPGP certificate"
                     f" {parsed.fingerprint} (another key's, altered, or a weak algorithm)")


def merge_openpgp_revocation(cert: OpenPGPCertificate | bytes | str,
                             revocation: OpenPGPRevocation | bytes | bytearray | memoryview | str
                             ) -> OpenPGPCertificate:
    """``cert`` with the revocation signature merged in: what a keyserver serves once it is revoked.

    Importing the result (``gpg --import``, ``gpg --refresh-keys`` from a
    keyserver serving it) marks the key revoked.

    Raises: KeyFormatError, PrivateKeyError, ProofError (as :func:`verify_openpgp_revocation`),
        KeyFormatError also when the merged certificate would exceed the size limit.
    """
    parsed = _as_cert(cert)
    if isinstance(revocation, OpenPGPRevocation):
        if revocation.fingerprint != parsed.fingerprint:
            raise ProofError(f"the revocation is for {revocation.fingerprint},"
                             f" not {parsed.fingerprint}")
        # re-verify: the object may have been built by hand
        rev = verify_openpgp_revocation(parsed, revocation.signature)
    else:
        rev = verify_openpgp_revocation(parsed, revocation)
    primary, rest = _primary_packet(parsed)
    merged = load_openpgp_cert(primary + rev.signature + rest)
    if merged.fingerprint != parsed.fingerprint or not merged.revoked:
        raise ProofError(f"merging the revocation into {parsed.fingerprint} did not revoke it")
    return merged
