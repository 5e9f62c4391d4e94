"""X.509 certificates: load (PEM or DER), canonicalise (DER), fingerprint and render.

    from registry.keys import load_x509_certificate
    cert = load_x509_certificate(open("server.pem", "rb").read()); print(cert.fingerprint)

The canonical material of a certificate is its DER encoding, exactly as the
issuer signed it (a certificate cannot be re-encoded without breaking its
signature, so "canonical" means: one certificate, strict DER, nothing before
or after it). The fingerprint is the upper-case hex SHA-256 of the DER, as
``openssl x509 -noout -fingerprint -sha256`` prints it without the colons;
``spki_sha256`` is the SHA-256 of the SubjectPublicKeyInfo (the key pin).

A certificate with a zero or negative serial number (RFC 5280 forbids it)
still loads, quietly, so that the policy layer can report it.

Private keys are refused wherever they appear (a PEM ``... PRIVATE KEY`` block,
alone or inside a bundle, a DER PKCS#8 / PKCS#1 / SEC1 key, a PKCS#12 file)
with :class:`~registry.errors.PrivateKeyError`, whose message never repeats
the input. ``cryptography`` is imported inside the functions, so importing this
module is cheap.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from registry.errors import KeyFormatError, PrivateKeyError, UnsupportedKeyType
from registry.keys._common import (
    MAX_MATERIAL,
    KeyType,
    commitment,
    has_private_key_text,
    input_bytes,
)

if TYPE_CHECKING:  # pragma: no cover
    from cryptography.x509 import Certificate

_T = TypeVar("_T")

__all__ = [
    "X509Certificate",
    "load_x509_certificate",
    "load_x509_chain",
    "load_x509_der",
    "render_der",
    "render_pem",
]

# --------------------------------------------------------------------------- tables

#: KeyUsage bits by RFC 5280 name (4.2.1.3), in bit order; cryptography attribute beside.
_KEY_USAGE = (
    ("digitalSignature", "digital_signature"),
    ("nonRepudiation", "content_commitment"),
    ("keyEncipherment", "key_encipherment"),
    ("dataEncipherment", "data_encipherment"),
    ("keyAgreement", "key_agreement"),
    ("keyCertSign", "key_cert_sign"),
    ("cRLSign", "crl_sign"),
)

#: Extended key usage names (RFC 5280 4.2.1.12 and common registrations, OpenSSL short names).
_EKU_NAMES = {
    "1.3.6.1.5.5.7.3.1": "serverAuth",
    "1.3.6.1.5.5.7.3.2": "clientAuth",
    "1.3.6.1.5.5.7.3.3": "codeSigning",
    "1.3.6.1.5.5.7.3.4": "emailProtection",
    "1.3.6.1.5.5.7.3.5": "ipsecEndSystem",
    "1.3.6.1.5.5.7.3.6": "ipsecTunnel",
    "1.3.6.1.5.5.7.3.7": "ipsecUser",
    "1.3.6.1.5.5.7.3.8": "timeStamping",
    "1.3.6.1.5.5.7.3.9": "OCSPSigning",
    "1.3.6.1.5.5.7.3.17": "ipsecIKE",
    "1.3.6.1.5.5.7.3.36": "documentSigning",
    "2.5.29.37.0": "anyExtendedKeyUsage",
    "1.3.6.1.5.2.3.4": "pkInitClientAuth",
    "1.3.6.1.5.2.3.5": "pkInitKDC",
    "1.3.6.1.4.1.311.20.2.2": "msSmartcardLogin",
    "1.3.6.1.4.1.11129.2.4.4": "certificateTransparency",
}

#: Named curves -> algorithm text. Other curves load as ``ec-<curve name>`` for the policy to judge.
_EC_CURVES = {"secp256r1": "ec-p256", "secp384r1": "ec-p384", "secp521r1": "ec-p521"}

#: PEM labels that are not certificates, and what to tell the user about each.
_PEM_OTHER = {
    "CERTIFICATE REQUEST": "a certificate signing request (CSR), not a certificate;"
    " publish the certificate the CA issued for it",
    "NEW CERTIFICATE REQUEST": "a certificate signing request (CSR), not a certificate;"
    " publish the certificate the CA issued for it",
    "PUBLIC KEY": "a bare public key, not a certificate; publish a certificate,"
    " or convert the key to SSH with `ssh-keygen -i -m PKCS8`",
    "RSA PUBLIC KEY": "a bare RSA public key, not a certificate",
    "X509 CRL": "a certificate revocation list (CRL), not a certificate",
    "PKCS7": "a PKCS#7 bundle; extract the certificates with `openssl pkcs7 -print_certs`",
    "CMS": "a CMS message; extract the certificates with `openssl pkcs7 -print_certs`",
    "PGP PUBLIC KEY BLOCK": "an OpenPGP key, not an X.509 certificate",
    "SSH2 PUBLIC KEY": "an SSH public key, not an X.509 certificate",
    "DH PARAMETERS": "Diffie-Hellman parameters, not a certificate",
    "EC PARAMETERS": "EC parameters, not a certificate",
    "TRUSTED CERTIFICATE": "an OpenSSL 'TRUSTED CERTIFICATE' (with trust settings);"
    " convert it with `openssl x509 -in FILE -out cert.pem`",
}

#: DER content of OID 1.2.840.113549.1.7.2 (PKCS#7 signedData, the usual ".p7b" bundle).
_OID_PKCS7_SIGNED = bytes.fromhex("2a864886f70d010702")

_CERT_LABELS = frozenset({"CERTIFICATE", "X509 CERTIFICATE"})

#: BEGIN and END lines, found in one linear pass (a BEGIN-to-END regex per BEGIN rescans the
#: rest of the input for every BEGIN line: 8,000 BEGIN lines without an END took 9 s).
_MARKER = re.compile(rb"-----(BEGIN|END) ([^\r\n-]{1,64})-----")
_PEM_BEGIN = re.compile(rb"-----BEGIN [^\r\n-]{1,64}-----")

_PRIVATE_MESSAGE = (
    "this is a private key; keyanchor only takes public certificates"
    " (the private key was not stored or shown)"
)


# --------------------------------------------------------------------------- the record


@dataclass(frozen=True, slots=True, kw_only=True)
class X509Certificate:
    """A parsed X.509 certificate (``material`` is its DER).

    Build one with :func:`load_x509_certificate`, :func:`load_x509_chain` or
    :func:`load_x509_der`; the policy layer gets the ``cryptography`` object
    from :meth:`to_cryptography`.
    """

    material: bytes
    serial: int
    version: int
    san_dns: tuple[str, ...]
    san_emails: tuple[str, ...]
    san_ips: tuple[str, ...]
    san_uris: tuple[str, ...]
    not_before: datetime
    not_after: datetime
    algorithm: str
    bits: int
    rsa_exponent: int | None
    public_key_oid: str
    signature_algorithm: str
    signature_algorithm_oid: str
    signature_hash: str | None
    is_ca: bool | None
    path_length: int | None
    key_usage: tuple[str, ...]
    extended_key_usage: tuple[str, ...]
    fingerprint: str
    spki_sha256: str
    self_signed: bool
    #: ``(subject, issuer)`` as RFC 4514 strings, computed from ``material`` on first use
    #: (a few per cent of the loader's time, for fields most callers never read); a cache
    #: that equality and hashing ignore
    _names: tuple[str, str] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def subject(self) -> str:
        """The subject as an RFC 4514 string (``CN=...,O=...``, most specific first)."""
        return (self._names or self._read_names())[0]

    @property
    def issuer(self) -> str:
        """The issuer as an RFC 4514 string."""
        return (self._names or self._read_names())[1]

    def _read_names(self) -> tuple[str, str]:
        cert = _load_cryptography(self.material)
        names = (cert.subject.rfc4514_string(), cert.issuer.rfc4514_string())
        object.__setattr__(self, "_names", names)
        return names

    def __repr__(self) -> str:
        body = ", ".join(f"{name}={getattr(self, name)!r}" for name in _REPR_FIELDS)
        return f"X509Certificate({body})"

    @property
    def key_type(self) -> KeyType:
        return KeyType.X509

    @property
    def valid_from(self) -> datetime:
        return self.not_before

    @property
    def valid_until(self) -> datetime:
        return self.not_after

    @property
    def identities(self) -> tuple[str, ...]:
        """SAN DNS names (lower-cased), then SAN emails, then SAN IP addresses."""
        return tuple(d.lower() for d in self.san_dns) + self.san_emails + self.san_ips

    @property
    def commitment(self) -> bytes:
        """``keccak256(0x03 || DER)``, what the contract stores."""
        return commitment(KeyType.X509, self.material)

    def to_cryptography(self) -> Certificate:
        """Return a ``cryptography.x509.Certificate`` parsed from ``material``.

        For a certificate with a non-positive serial (RFC 5280 forbids it, the
        policy reports it), reading ``serial_number`` on that object makes
        cryptography emit a ``CryptographyDeprecationWarning``; use ``serial``.
        """
        return _load_cryptography(self.material)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: bytes as hex, datetimes as ISO 8601 with ``Z``."""
        return {
            "key_type": self.key_type.label,
            "material": self.material.hex(),
            "commitment": self.commitment.hex(),
            "fingerprint": self.fingerprint,
            "spki_sha256": self.spki_sha256,
            "subject": self.subject,
            "issuer": self.issuer,
            "serial": str(self.serial),
            "version": self.version,
            "san_dns": list(self.san_dns),
            "san_emails": list(self.san_emails),
            "san_ips": list(self.san_ips),
            "san_uris": list(self.san_uris),
            "identities": list(self.identities),
            "not_before": _iso(self.not_before),
            "not_after": _iso(self.not_after),
            "algorithm": self.algorithm,
            "bits": self.bits,
            "rsa_exponent": self.rsa_exponent,
            "public_key_oid": self.public_key_oid,
            "signature_algorithm": self.signature_algorithm,
            "signature_algorithm_oid": self.signature_algorithm_oid,
            "signature_hash": self.signature_hash,
            "is_ca": self.is_ca,
            "path_length": self.path_length,
            "key_usage": list(self.key_usage),
            "extended_key_usage": list(self.extended_key_usage),
            "self_signed": self.self_signed,
        }

    def __str__(self) -> str:
        return f"X.509 {self.algorithm} {self.subject or '(empty subject)'} SHA256:{self.fingerprint}"


#: the repr's fields: the dataclass fields, with the lazy subject and issuer where they stood
_REPR_FIELDS = (
    "material", "subject", "issuer",
    *(f.name for f in fields(X509Certificate) if f.repr and f.name != "material"),
)


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- input handling


def _as_bytes(data: bytes | bytearray | memoryview | str) -> bytes:
    """Return the input as bytes, refusing types we do not take and input over 1 MiB."""
    out = input_bytes(data, "certificate")
    if not out or out.isspace():  # (no copy, unlike strip)
        raise KeyFormatError("empty input: no certificate found")
    return out


def _der_header(buf: bytes, pos: int) -> tuple[int, int, int] | None:
    """Read one DER tag + length at ``pos``: ``(tag, content_start, content_end)`` or None.

    ``content_end`` may lie past the end of ``buf`` (a truncated input); callers check.
    """
    if pos + 2 > len(buf):
        return None
    tag = buf[pos]
    first = buf[pos + 1]
    pos += 2
    if first < 0x80:
        return tag, pos, pos + first
    count = first & 0x7F
    if count == 0 or count > 4 or pos + count > len(buf):
        return None
    length = int.from_bytes(buf[pos : pos + count], "big")
    pos += count
    return tag, pos, pos + length


def _der_kind(der: bytes) -> str | None:
    """Classify DER that is not a certificate by its top-level shape (lenient with truncation).

    Returns ``"private"``, ``"pkcs12"`` or None (unknown). Only structure is read,
    never key values.
    """
    outer = _der_header(der, 0)
    if outer is None or outer[0] != 0x30:
        return None
    first = _der_header(der, outer[1])
    if first is None:
        return None
    tag, start, end = first
    if tag == 0x02 and end - start == 1 and start < len(der):
        version = der[start]
        if version in (0, 1):
            # PKCS#8 (0 / 1), PKCS#1 RSAPrivateKey (0), SEC1 ECPrivateKey (1), OpenSSL DSA (0)
            return "private"
        if version == 3:
            return "pkcs12"
        return None
    if tag == 0x30:
        second = _der_header(der, end)
        if second is not None and second[0] == 0x04:
            return "private"  # EncryptedPrivateKeyInfo: AlgorithmIdentifier, OCTET STRING
    return None


def _describe_der(der: bytes) -> str | None:
    """Say what a well-formed non-certificate DER object is (CSR or public key), if known."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    outer = _der_header(der, 0)
    first = _der_header(der, outer[1]) if outer else None
    if first is not None and first[0] == 0x06 and der[first[1] : first[2]] == _OID_PKCS7_SIGNED:
        return _PEM_OTHER["PKCS7"]
    try:
        x509.load_der_x509_csr(der)
        return _PEM_OTHER["CERTIFICATE REQUEST"]
    except Exception:  # any failure just means "not a CSR"
        pass
    try:
        serialization.load_der_public_key(der)
        return _PEM_OTHER["PUBLIC KEY"]
    except Exception:
        pass
    try:
        x509.load_der_x509_crl(der)
        return _PEM_OTHER["X509 CRL"]
    except Exception:
        pass
    return None


def _check_der_shape(der: bytes, where: str) -> None:
    """Refuse private keys and PKCS#12 by shape, and trailing data, before parsing."""
    kind = _der_kind(der)
    if kind == "private":
        raise PrivateKeyError(f"{where}: {_PRIVATE_MESSAGE}")
    if kind == "pkcs12":
        raise PrivateKeyError(
            f"{where}: this looks like a PKCS#12 file, which holds private keys; export the"
            " certificate alone with `openssl pkcs12 -nokeys -clcerts`"
        )


def _serial_not_positive(der: bytes) -> bool:
    """True when the TBS serial number is zero or negative (read from the DER, cheaply)."""
    outer = _der_header(der, 0)
    tbs = _der_header(der, outer[1]) if outer else None
    item = _der_header(der, tbs[1]) if tbs else None
    if item is not None and item[0] == 0xA0:  # [0] EXPLICIT version
        item = _der_header(der, item[2])
    if item is None or item[0] != 0x02 or item[1] >= len(der) or item[2] <= item[1]:
        return False
    content = der[item[1] : min(item[2], len(der))]
    return bool(content[0] & 0x80) or not any(content)


def _quiet(der: bytes, action: Callable[[], _T], *, non_positive: bool | None = None) -> _T:
    """Run ``action`` without the warning cryptography emits (at load and at
    ``serial_number``) for a non-positive serial. RFC 5280 forbids such serials;
    the certificate still loads so that the policy layer can report it.
    ``non_positive`` is :func:`_serial_not_positive` when the caller has it."""
    if not (_serial_not_positive(der) if non_positive is None else non_positive):
        return action()
    import warnings

    from cryptography.utils import CryptographyDeprecationWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        return action()


def _load_cryptography(der: bytes, *, non_positive: bool | None = None) -> Certificate:
    return _quiet(der, lambda: _crypto().load_der(der), non_positive=non_positive)


class _Crypto:
    """The ``cryptography`` names the loader uses, imported once on first use.

    (Importing inside each call cost a few microseconds per name per certificate.)
    """

    def __init__(self) -> None:
        from cryptography import x509
        from cryptography.exceptions import UnsupportedAlgorithm
        from cryptography.hazmat.primitives.asymmetric import (
            dsa,
            ec,
            ed448,
            ed25519,
            rsa,
            x448,
            x25519,
        )
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        self.load_der = x509.load_der_x509_certificate
        self.UnsupportedAlgorithm = UnsupportedAlgorithm
        self.spki_args = (Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        self.raw_args = (Encoding.Raw, PublicFormat.Raw)
        self.rsa = rsa.RSAPublicKey
        self.ec = ec.EllipticCurvePublicKey
        #: key classes whose algorithm text and size do not depend on the key
        self.fixed = (
            (ed25519.Ed25519PublicKey, ("ed25519", 256)),
            (ed448.Ed448PublicKey, ("ed448", 456)),
            (x25519.X25519PublicKey, ("x25519", 256)),
            (x448.X448PublicKey, ("x448", 448)),
        )
        self.dsa = dsa.DSAPublicKey
        #: extension value class -> what _extract reads from it
        self.extension_kind: dict[type, str] = {
            x509.SubjectAlternativeName: "san",
            x509.BasicConstraints: "bc",
            x509.KeyUsage: "ku",
            x509.ExtendedKeyUsage: "eku",
        }
        self.general_kind: dict[type, str] = {
            x509.DNSName: "dns",
            x509.RFC822Name: "email",
            x509.IPAddress: "ip",
            x509.UniformResourceIdentifier: "uri",
        }


_CRYPTO: _Crypto | None = None


def _crypto() -> _Crypto:
    global _CRYPTO
    if _CRYPTO is None:
        _CRYPTO = _Crypto()
    return _CRYPTO


def _parse_der(der: bytes, where: str) -> X509Certificate:
    facts = _certificate_facts(der)
    if facts is None:  # not a certificate's opening: refuse private keys and PKCS#12 by shape
        _check_der_shape(der, where)
    if len(der) > MAX_MATERIAL:
        raise KeyFormatError(
            f"{where}: certificate is {len(der)} bytes; the registry takes at most {MAX_MATERIAL}"
        )
    non_positive, spki = facts if facts is not None else (_serial_not_positive(der), None)
    try:
        cert = _load_cryptography(der, non_positive=non_positive)
    except Exception as exc:  # ValueError, and InvalidVersion which is not one
        outer = _der_header(der, 0)
        if outer is not None and outer[0] == 0x30 and outer[2] < len(der):
            raise KeyFormatError(
                f"{where}: {len(der) - outer[2]} bytes of trailing data after the DER object"
            ) from exc
        if outer is not None and outer[0] == 0x30 and outer[2] > len(der):
            raise KeyFormatError(
                f"{where}: truncated DER ({len(der)} of {outer[2]} bytes)"
            ) from exc
        what = _describe_der(der)
        if what is not None:
            raise KeyFormatError(f"{where}: this is {what}") from exc
        raise KeyFormatError(f"{where}: not a valid DER X.509 certificate ({_reason(exc)})") from exc
    return _from_cryptography(cert, der, where, non_positive, spki)


def _reason(exc: BaseException) -> str:
    """A short, secret-free reason from a cryptography parse error."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    match = re.search(r"kind: (\w+)", text)
    if match:
        return {"ShortData": "truncated", "ExtraData": "trailing data"}.get(
            match.group(1), f"ASN.1 error {match.group(1)}"
        )
    return text[:120]


def _from_cryptography(cert: Certificate, der: bytes, where: str,
                       non_positive: bool, spki: bytes | None) -> X509Certificate:
    """Extract every field; any lazy-parsing failure becomes KeyFormatError."""
    try:
        return _extract(cert, der, non_positive, spki)
    except (KeyFormatError, UnsupportedKeyType):
        raise
    except Exception as exc:  # cryptography parses extensions and keys lazily
        if isinstance(exc, _crypto().UnsupportedAlgorithm):
            raise UnsupportedKeyType(
                f"{where}: certificate uses an unsupported algorithm ({_reason(exc)})"
            ) from exc
        raise KeyFormatError(f"{where}: malformed certificate ({_reason(exc)})") from exc


def _public_key_info(cert: Certificate) -> tuple[Any, str, int, int | None]:
    """``(key, algorithm text, bits, RSA exponent)`` of the certificate's public key."""
    c = _crypto()
    try:
        key = cert.public_key()
    except c.UnsupportedAlgorithm as exc:
        raise UnsupportedKeyType(
            f"unsupported public key algorithm {cert.public_key_algorithm_oid.dotted_string}"
        ) from exc
    if isinstance(key, c.rsa):
        return key, "rsa", key.key_size, key.public_numbers().e
    if isinstance(key, c.ec):
        curve = key.curve
        return key, _EC_CURVES.get(curve.name, f"ec-{curve.name}"), curve.key_size, None
    for cls, (algorithm, bits) in c.fixed:
        if isinstance(key, cls):
            if algorithm == "ed25519":
                from registry.keys._ssh_wire import small_order_ed25519

                if small_order_ed25519(key.public_bytes(*c.raw_args)):
                    raise KeyFormatError("the certificate's Ed25519 key is a small-order point:"
                                         " a signature verifies under it without any private key")
            return key, algorithm, bits, None
    if isinstance(key, c.dsa):
        return key, "dsa", key.key_size, None
    raise UnsupportedKeyType(f"unsupported public key type {type(key).__name__}")


#: DER AlgorithmIdentifier of the SPKI -> (BIT STRING content length or None for any,
#: first key octet or None). For these, cryptography re-encodes the key it parsed
#: (strictly: minimal integers, a point on the curve with coordinates below p) into
#: exactly the bytes of the certificate, so the SPKI is hashed as it stands there.
_CANONICAL_SPKI: dict[bytes, tuple[int | None, int | None]] = {
    bytes.fromhex("300d06092a864886f70d0101010500"): (None, 0x30),  # rsaEncryption, NULL
    bytes.fromhex("301306072a8648ce3d020106082a8648ce3d030107"): (65, 0x04),  # P-256
    bytes.fromhex("301006072a8648ce3d020106052b81040022"): (97, 0x04),  # P-384
    bytes.fromhex("301006072a8648ce3d020106052b81040023"): (133, 0x04),  # P-521
    bytes.fromhex("300506032b6570"): (32, None),  # Ed25519
    bytes.fromhex("300506032b6571"): (57, None),  # Ed448
    bytes.fromhex("300506032b656e"): (32, None),  # X25519
    bytes.fromhex("300506032b656f"): (56, None),  # X448
}


def _certificate_facts(der: bytes) -> tuple[bool, bytes | None] | None:
    """What the loader reads from the DER itself, in one walk over the TBS fields.

    Returns None unless ``der`` opens like a certificate (a SEQUENCE holding a
    SEQUENCE then another SEQUENCE: never a private key's shape, which
    :func:`_der_kind` then looks for). Otherwise ``(serial not positive, SPKI)``:
    the SubjectPublicKeyInfo as the certificate holds it when re-encoding the
    parsed key gives the same bytes (see :data:`_CANONICAL_SPKI`), else None.
    The SPKI is only trusted once cryptography has parsed ``der`` (strict DER).
    """
    outer = _der_header(der, 0)
    if outer is None or outer[0] != 0x30:
        return None
    tbs = _der_header(der, outer[1])
    if tbs is None or tbs[0] != 0x30:
        return None
    after = _der_header(der, tbs[2])
    if after is None or after[0] != 0x30:
        return None
    pos = tbs[1]
    item = _der_header(der, pos)
    if item is not None and item[0] == 0xA0:  # [0] EXPLICIT version
        pos = item[2]
        item = _der_header(der, pos)
    non_positive = False
    if item is not None and item[0] == 0x02 and item[1] < len(der) and item[2] > item[1]:
        content = der[item[1] : min(item[2], len(der))]
        non_positive = bool(content[0] & 0x80) or not any(content)
    for _ in range(5):  # serial, signature, issuer, validity, subject
        if item is None:
            return non_positive, None
        pos = item[2]
        item = _der_header(der, pos)
    return non_positive, _spki_as_encoded(der, pos, item)


def _spki_as_encoded(der: bytes, pos: int, spki: tuple[int, int, int] | None) -> bytes | None:
    """The SPKI TLV at ``pos`` (header ``spki``) when its encoding is the canonical one."""
    alg = _der_header(der, spki[1]) if spki and spki[0] == 0x30 else None
    if spki is None or alg is None or alg[0] != 0x30 or spki[2] > len(der):
        return None
    shape = _CANONICAL_SPKI.get(der[spki[1] : alg[2]])
    bits = _der_header(der, alg[2])
    if shape is None or bits is None or bits[0] != 0x03 or bits[2] != spki[2]:
        return None
    length, first = shape
    content = der[bits[1] + 1 : bits[2]]  # after the unused-bits octet
    if der[bits[1]] != 0 or (length is not None and len(content) != length):
        return None
    if first is not None and content[:1] != bytes((first,)):
        return None  # a compressed EC point, which cryptography re-encodes uncompressed
    return der[pos : spki[2]]


def _extract(cert: Certificate, der: bytes, non_positive: bool,
             spki: bytes | None) -> X509Certificate:
    """Every field of the record; ``spki`` is the SPKI as encoded in ``der``, when canonical."""
    c = _crypto()
    key, algorithm, bits, exponent = _public_key_info(cert)
    if spki is None:
        spki = key.public_bytes(*c.spki_args)

    sig_oid = cert.signature_algorithm_oid
    sig_dotted = sig_oid.dotted_string
    sig_name = sig_oid._name
    if sig_name == "Unknown OID":
        sig_name = sig_dotted
    try:
        hash_alg = cert.signature_hash_algorithm
        sig_hash = hash_alg.name if hash_alg is not None else None
    except c.UnsupportedAlgorithm:
        sig_hash = None

    names: dict[str, list[str]] = {"dns": [], "email": [], "ip": [], "uri": []}
    is_ca: bool | None = None
    path_length: int | None = None
    key_usage: tuple[str, ...] = ()
    eku: tuple[str, ...] = ()
    extension_kind, general_kind = c.extension_kind, c.general_kind
    for ext in cert.extensions:
        value = ext.value
        kind = extension_kind.get(type(value))
        if kind == "san":
            for general in value:
                where = general_kind.get(type(general))
                if where == "ip":
                    names["ip"].append(str(general.value))
                elif where is not None:
                    names[where].append(general.value)
        elif kind == "bc":
            is_ca = value.ca
            path_length = value.path_length
        elif kind == "ku":
            usages = [name for name, attr in _KEY_USAGE if getattr(value, attr)]
            if value.key_agreement:
                if value.encipher_only:
                    usages.append("encipherOnly")
                if value.decipher_only:
                    usages.append("decipherOnly")
            key_usage = tuple(usages)
        elif kind == "eku":
            eku = tuple(_EKU_NAMES.get(oid.dotted_string, oid.dotted_string) for oid in value)

    subject_name, issuer_name = cert.subject, cert.issuer
    self_signed = False
    if subject_name == issuer_name:
        try:
            cert.verify_directly_issued_by(cert)
            self_signed = True
        except Exception:  # bad signature, unsupported algorithm: not self-signed
            self_signed = False

    return X509Certificate(
        material=der,
        serial=(_quiet(der, lambda: cert.serial_number, non_positive=True) if non_positive
                else cert.serial_number),
        version=cert.version.value + 1,
        san_dns=tuple(names["dns"]),
        san_emails=tuple(names["email"]),
        san_ips=tuple(names["ip"]),
        san_uris=tuple(names["uri"]),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        algorithm=algorithm,
        bits=bits,
        rsa_exponent=exponent,
        public_key_oid=cert.public_key_algorithm_oid.dotted_string,
        signature_algorithm=sig_name,
        signature_algorithm_oid=sig_dotted,
        signature_hash=sig_hash,
        is_ca=is_ca,
        path_length=path_length,
        key_usage=key_usage,
        extended_key_usage=eku,
        fingerprint=hashlib.sha256(der).hexdigest().upper(),
        spki_sha256=hashlib.sha256(spki).hexdigest(),
        self_signed=self_signed,
    )


# --------------------------------------------------------------------------- PEM


def _private(data: bytes) -> bool:
    return has_private_key_text(data, openssh_base64=False)


def _pem_pairs(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """``(label, body)`` of each BEGIN ... END block, in order, one marker at a time (linear).

    END lines outside a block are ignored; a BEGIN inside a block, an END with
    another label, or a missing END is a KeyFormatError naming the open block.
    It is a generator so that a bundle of junk blocks fails at its first block.
    """
    label: bytes | None = None
    start = 0
    for m in _MARKER.finditer(data):
        kind, what = m.group(1), m.group(2)
        if label is None:
            if kind == b"BEGIN":
                label, start = what, m.end()
        elif kind == b"BEGIN" or what != label:
            raise _no_end(label)
        else:
            yield label, data[start : m.start()]
            label = None
    if label is not None:
        raise _no_end(label)


def _no_end(label: bytes) -> KeyFormatError:
    return KeyFormatError(
        f"PEM block '{label.decode('ascii', 'replace')}' has no matching END line (truncated?)"
    )


def _pem_der(number: int, raw_label: bytes, body: bytes) -> bytes:
    """The DER of PEM block ``number``; a block that is not a certificate is refused."""
    label = raw_label.decode("ascii", "replace").strip()
    if label not in _CERT_LABELS:
        what = _PEM_OTHER.get(label, f"a PEM '{label}' block, not a certificate")
        raise KeyFormatError(f"PEM block {number} is {what}")
    if b":" in body:
        raise KeyFormatError(f"PEM block {number}: certificate blocks take no headers")
    compact = b"".join(body.split())
    try:
        der = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyFormatError(f"PEM block {number}: invalid base64") from exc
    if not der:
        raise KeyFormatError(f"PEM block {number}: empty")
    return der


def _is_der(data: bytes) -> bool:
    if data[:1] != b"\x30":
        return False
    outer = _der_header(data, 0)
    return (outer is not None and outer[2] == len(data)) or b"-----BEGIN" not in data


def _ders(data: bytes, *, screened: bool = False) -> Iterator[bytes]:
    """Every DER object of the input, one at a time: the DER itself, or each PEM block decoded.

    Raises (as it goes): PrivateKeyError for a private key anywhere in PEM text,
    KeyFormatError for a block that is not a certificate, or no certificate at all.
    ``screened``: the caller has found that ``data`` is not DER and holds no private key.
    """
    if not screened:
        if _is_der(data):
            yield data
            return
        private = _private(data)
        if b"-----BEGIN" not in data and not private:
            raise KeyFormatError(
                "not an X.509 certificate: expected PEM ('-----BEGIN CERTIFICATE-----') or DER"
            )
        if private:
            raise PrivateKeyError(f"input contains a private key; {_PRIVATE_MESSAGE}")
    number = 0
    for number, (label, body) in enumerate(_pem_pairs(data), 1):
        yield _pem_der(number, label, body)
    if number == 0:
        raise KeyFormatError(
            "no certificate found: expected PEM ('-----BEGIN CERTIFICATE-----') or DER"
        )


# --------------------------------------------------------------------------- public API


def load_x509_certificate(data: bytes | bytearray | memoryview | str) -> X509Certificate:
    """Load exactly one certificate from PEM or DER.

    Raises:
        PrivateKeyError: the input holds a private key (PEM, DER, PKCS#12), even beside a cert.
        UnsupportedKeyType: the certificate's public key algorithm is not supported.
        KeyFormatError: anything else: not a certificate (a CSR, a bare public key ...),
            malformed or truncated, larger than 1 MiB, or a PEM bundle with several
            certificates (use :func:`load_x509_chain`).
    """
    raw = _as_bytes(data)
    if _is_der(raw):
        return _parse_der(raw, "certificate")
    if _private(raw):
        raise PrivateKeyError(f"input contains a private key; {_PRIVATE_MESSAGE}")
    blocks = len(_PEM_BEGIN.findall(raw))  # counted in C, before anything is decoded
    if blocks > 1:
        raise KeyFormatError(
            f"expected one certificate, found {blocks}; use load_x509_chain for a bundle"
        )
    return _parse_der(next(_ders(raw, screened=blocks == 1)), "certificate")


def load_x509_chain(data: bytes | bytearray | memoryview | str) -> list[X509Certificate]:
    """Load every certificate of a PEM bundle (or one DER certificate), in the order given.

    The order is kept as is (leaf first by convention); no path is validated here.

    Raises:
        PrivateKeyError: the bundle holds a private key.
        UnsupportedKeyType: a certificate's public key algorithm is not supported.
        KeyFormatError: a block is not a certificate, or is malformed; input over 1 MiB.
    """
    raw = _as_bytes(data)
    single = _is_der(raw) or len(_PEM_BEGIN.findall(raw)) <= 1  # errors name a lone one plainly
    return [_parse_der(der, "certificate" if single else f"certificate {i}")
            for i, der in enumerate(_ders(raw), 1)]


def load_x509_der(material: bytes | bytearray | memoryview) -> X509Certificate:
    """Load canonical material: exactly one strict DER certificate, nothing around it.

    Raises:
        PrivateKeyError: the bytes are a DER private key.
        KeyFormatError: not a single DER certificate (PEM text included).
    """
    if not isinstance(material, bytes | bytearray | memoryview):
        raise KeyFormatError(f"expected DER bytes, got {type(material).__name__}")
    der = bytes(material)
    if not der:
        raise KeyFormatError("empty certificate material")
    if der[:1] != b"\x30":
        raise KeyFormatError("X.509 material must be a DER certificate (starts with 0x30)")
    return _parse_der(der, "certificate")


def render_der(cert: X509Certificate) -> bytes:
    """Return the DER certificate (the canonical material).

    Raises:
        KeyFormatError: ``cert`` is not an :class:`X509Certificate`.
    """
    if not isinstance(cert, X509Certificate):
        raise KeyFormatError(f"expected an X509Certificate, got {type(cert).__name__}")
    return cert.material


def render_pem(cert: X509Certificate) -> str:
    """Render a certificate as PEM (RFC 7468: 64-column base64, LF line ends).

    Raises:
        KeyFormatError: ``cert`` is not an :class:`X509Certificate`.
    """
    der = render_der(cert)
    text = base64.b64encode(der).decode("ascii")
    lines = [text[i : i + 64] for i in range(0, len(text), 64)]
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"
