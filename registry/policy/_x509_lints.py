"""X.509 lints: key parameters, signature algorithms, BR validity, extensions, serial, chain,
and pkilint's serverauth profile (cabf-tls)."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from registry.policy._framework import (
    NOT_APPLICABLE,
    PASSED,
    Context,
    Finding,
    Source,
    Status,
    TimeBase,
    lint,
    utc,
)

P, INFO, W, E = Status.PASS, Status.INFO, Status.WARN, Status.ERROR
X = "x509"

# BR 7.1.3.2: the only permitted AlgorithmIdentifier encodings (hex DER).
_PSS = ("304106092a864886f70d01010a3034a00f300d0609608648016503040{h}0500a11c301a06092a864886f70d"
        "010108300d0609608648016503040{h}0500a2030201{s}")
ALLOWED_SIG_ALG_DER = {
    "300d06092a864886f70d01010b0500": "sha256WithRSAEncryption",
    "300d06092a864886f70d01010c0500": "sha384WithRSAEncryption",
    "300d06092a864886f70d01010d0500": "sha512WithRSAEncryption",
    _PSS.format(h="201", s="20"): "RSASSA-PSS SHA-256",
    _PSS.format(h="202", s="30"): "RSASSA-PSS SHA-384",
    _PSS.format(h="203", s="40"): "RSASSA-PSS SHA-512",
    "300a06082a8648ce3d040302": "ecdsa-with-SHA256",
    "300a06082a8648ce3d040303": "ecdsa-with-SHA384",
    "300a06082a8648ce3d040304": "ecdsa-with-SHA512",
    "300506032b6570": "Ed25519",
    "300506032b6571": "Ed448",
}
_WEAK_HASH_OIDS = {
    "1.2.840.113549.1.1.4": "md5WithRSAEncryption",
    "1.2.840.113549.1.1.5": "sha1WithRSAEncryption",
    "1.2.840.10045.4.1": "ecdsa-with-SHA1",
    "1.2.840.10040.4.3": "dsa-with-sha1",
    "1.2.840.113549.1.1.2": "md2WithRSAEncryption",
    "1.3.14.3.2.29": "sha1WithRSASignature",
}
_SMALL_PRIMES = [p for p in range(3, 752) if all(p % d for d in range(2, int(p**0.5) + 1))]


def _tlv(der: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the DER element at ``pos``."""
    tag = der[pos]
    first = der[pos + 1]
    if first < 0x80:
        return tag, pos + 2, pos + 2 + first
    n = first & 0x7F
    length = int.from_bytes(der[pos + 2:pos + 2 + n], "big")
    return tag, pos + 2 + n, pos + 2 + n + length


def _sig_alg_der(der: bytes) -> tuple[bytes, bytes]:
    """(outer signatureAlgorithm, tbsCertificate.signature) raw DER."""
    _, cs, _ = _tlv(der, 0)
    _, tcs, tce = _tlv(der, cs)  # tbsCertificate
    _, _, ae = _tlv(der, tce)
    outer = der[tce:ae]
    pos = tcs
    tag, _, e = _tlv(der, pos)
    if tag == 0xA0:  # [0] version
        pos = e
    _, _, e = _tlv(der, pos)  # serialNumber
    pos = e
    _, _, e = _tlv(der, pos)  # signature
    return outer, der[pos:e]


def _ext(cert: Any, oid: Any) -> Any:
    from cryptography import x509

    try:
        return cert.extensions.get_extension_for_oid(oid)
    except x509.ExtensionNotFound:
        return None


def _eku(cert: Any) -> list[Any]:
    from cryptography.x509.oid import ExtensionOID

    e = _ext(cert, ExtensionOID.EXTENDED_KEY_USAGE)
    return list(e.value) if e is not None else []


def _is_ca(cert: Any) -> bool:
    from cryptography.x509.oid import ExtensionOID

    e = _ext(cert, ExtensionOID.BASIC_CONSTRAINTS)
    return bool(e is not None and e.value.ca)


def _is_tls_leaf(ctx: Context, p: Mapping[str, Any]) -> bool:
    """A TLS server leaf: serverAuth EKU, TLS-server purpose, or the profile says so."""
    from cryptography.x509.oid import ExtendedKeyUsageOID

    cert = ctx.x509
    if _is_ca(cert):
        return False
    if p.get("assume_tls"):
        return True
    if ctx.purposes is not None and ctx.purposes & 16:
        return True
    return ExtendedKeyUsageOID.SERVER_AUTH in _eku(cert)


def _rsa(ctx: Context) -> tuple[int, int] | None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    pub = ctx.x509.public_key()
    if isinstance(pub, rsa.RSAPublicKey):
        n = pub.public_numbers()
        return n.n, n.e
    return None


@lint("x509.rsa_modulus", "RSA modulus at least 2048 bits and divisible by 8", X,
      Source.CABF_BR, "BR 6.1.5", E, params={"min_bits": 2048})
def rsa_modulus(ctx: Context, p: Mapping[str, Any]) -> Iterator[Finding]:
    r = _rsa(ctx)
    if r is None:
        yield NOT_APPLICABLE
        return
    bits = r[0].bit_length()
    if bits < p["min_bits"]:
        yield Finding(E, f"RSA modulus of {bits} bits (< {p['min_bits']})", "x509.spki")
    if bits % 8:
        yield Finding(E, f"RSA modulus of {bits} bits is not divisible by 8", "x509.spki")
    yield PASSED


@lint("x509.rsa_exponent", "RSA exponent odd, >= 3, ideally 2^16+1 .. 2^256-1", X,
      Source.CABF_BR, "BR 6.1.6; NIST SP 800-89 5.3.3", E)
def rsa_exponent(ctx: Context, p: Mapping[str, Any]) -> Finding:
    r = _rsa(ctx)
    if r is None:
        return NOT_APPLICABLE
    e = r[1]
    if e < 3 or e % 2 == 0:
        return Finding(E, f"exponent {e} is not odd and >= 3", "x509.spki")
    if not 65537 <= e <= 2**256 - 1:
        return Finding(W, f"exponent {e} outside 2^16+1 .. 2^256-1", "x509.spki")
    return PASSED


@lint("x509.rsa_small_factors", "RSA modulus has no factors smaller than 752", X,
      Source.CABF_BR, "BR 6.1.6; NIST SP 800-89 5.3.3", E)
def rsa_small_factors(ctx: Context, p: Mapping[str, Any]) -> Finding:
    r = _rsa(ctx)
    if r is None:
        return NOT_APPLICABLE
    n = r[0]
    for q in (2, *_SMALL_PRIMES):
        if n % q == 0:
            return Finding(E, f"modulus divisible by {q}", "x509.spki")
    return PASSED


@lint("x509.ec_curve", "EC keys on P-256, P-384 or P-521 (EdDSA allowed outside TLS)", X,
      Source.CABF_BR, "BR 6.1.5; S/MIME BR 6.1.5", E,
      params={"allowed": ["secp256r1", "secp384r1", "secp521r1"], "eddsa": True})
def ec_curve(ctx: Context, p: Mapping[str, Any]) -> Finding:
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519

    pub = ctx.x509.public_key()
    if isinstance(pub, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        if not p["eddsa"] or _is_tls_leaf(ctx, p):
            return Finding(E, "EdDSA keys are not permitted in TLS certificates", "x509.spki")
        return PASSED
    if not isinstance(pub, ec.EllipticCurvePublicKey):
        return NOT_APPLICABLE
    if pub.curve.name not in p["allowed"]:
        return Finding(E, f"curve {pub.curve.name} not allowed", "x509.spki")
    return PASSED


@lint("x509.signature_hash", "No SHA-1 or MD5 signature algorithms", X, Source.CABF_BR,
      "BR 7.1.3.2; RFC 9155", E)
def signature_hash(ctx: Context, p: Mapping[str, Any]) -> Finding:
    oid = ctx.x509.signature_algorithm_oid.dotted_string
    if oid in _WEAK_HASH_OIDS:
        return Finding(E, f"signed with {_WEAK_HASH_OIDS[oid]}", "x509.signatureAlgorithm")
    return PASSED


@lint("x509.signature_algorithm_encoding", "Signature AlgorithmIdentifier is one of the exact "
      "encodings BR 7.1.3.2 permits, and matches tbsCertificate.signature", X, Source.CABF_BR,
      "BR 7.1.3.2; RFC 5280 4.1.1.2", E)
def signature_algorithm_encoding(ctx: Context, p: Mapping[str, Any]) -> Iterator[Finding]:
    outer, inner = _sig_alg_der(ctx.material)
    if outer != inner:
        yield Finding(E, "signatureAlgorithm differs from tbsCertificate.signature",
                      "x509.signatureAlgorithm")
    if outer.hex() not in ALLOWED_SIG_ALG_DER:
        yield Finding(E, f"AlgorithmIdentifier {outer.hex()} is not a permitted encoding",
                      "x509.signatureAlgorithm")
    yield PASSED


def br_max_days(issued: datetime) -> int:
    """BR 6.3.2 maximum TLS validity (days) for a certificate issued at ``issued``."""
    if issued < utc(2026, 3, 15):
        return 398
    if issued < utc(2027, 3, 15):
        return 200
    if issued < utc(2029, 3, 15):
        return 100
    return 47


def validity_days(cert: Any) -> int:
    """Validity period in days, inclusive of both ends; a remainder counts as a day (BR 6.3.2)."""
    secs = int((cert.not_valid_after_utc - cert.not_valid_before_utc).total_seconds()) + 1
    return -(-secs // 86400)


@lint("x509.br_validity", "TLS validity within the BR limit for its issuance date "
      "(398 / 200 / 100 / 47 days)", X, Source.CABF_BR, "BR 6.3.2 (ballot SC-081)", E,
      time_base=TimeBase.ISSUANCE, params={"assume_tls": False})
def br_validity(ctx: Context, p: Mapping[str, Any]) -> Finding:
    if not _is_tls_leaf(ctx, p):
        return NOT_APPLICABLE
    cert = ctx.x509
    limit = br_max_days(cert.not_valid_before_utc)
    days = validity_days(cert)
    if days > limit:
        return Finding(E, f"valid for {days} days; BR limit for issuance on "
                          f"{cert.not_valid_before_utc.date()} is {limit}", "x509.validity")
    return Finding(P, f"{days} days")


@lint("x509.validity_order", "notAfter is after notBefore", X, Source.RFC5280,
      "RFC 5280 4.1.2.5", E)
def validity_order(ctx: Context, p: Mapping[str, Any]) -> Finding:
    c = ctx.x509
    if c.not_valid_after_utc <= c.not_valid_before_utc:
        return Finding(E, "notAfter is not after notBefore", "x509.validity")
    return PASSED


@lint("x509.version", "Certificate is X.509 version 3", X, Source.RFC5280, "RFC 5280 4.1.2.1",
      E)
def version(ctx: Context, p: Mapping[str, Any]) -> Finding:
    from cryptography import x509

    if ctx.x509.version != x509.Version.v3:
        return Finding(E, f"version {ctx.x509.version.name}", "x509.version")
    return PASSED


@lint("x509.san_present", "Subject alternative names present (DNS/IP for TLS, email for S/MIME)",
      X, Source.CABF_BR, "BR 7.1.2.7.12; S/MIME BR 7.1.2.3", E, params={"assume_tls": False})
def san_present(ctx: Context, p: Mapping[str, Any]) -> Finding:
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID

    cert = ctx.x509
    if _is_ca(cert):
        return NOT_APPLICABLE
    e = _ext(cert, ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    if e is None:
        return Finding(E, "no subjectAltName extension", "x509.extensions.subjectAltName")
    san = e.value
    if _is_tls_leaf(ctx, p) and not (san.get_values_for_type(x509.DNSName)
                                     or san.get_values_for_type(x509.IPAddress)):
        return Finding(E, "TLS certificate without DNS or IP SAN", "x509.extensions.subjectAltName")
    if ExtendedKeyUsageOID.EMAIL_PROTECTION in _eku(cert) and not san.get_values_for_type(
        x509.RFC822Name
    ):
        return Finding(E, "S/MIME certificate without an email SAN",
                       "x509.extensions.subjectAltName")
    return PASSED


@lint("x509.san_critical", "SAN is critical if and only if the subject is empty", X,
      Source.CABF_BR, "BR 7.1.2.7.12; RFC 5280 4.2.1.6", E)
def san_critical(ctx: Context, p: Mapping[str, Any]) -> Finding:
    from cryptography.x509.oid import ExtensionOID

    cert = ctx.x509
    e = _ext(cert, ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    if e is None:
        return NOT_APPLICABLE
    empty = len(cert.subject) == 0
    if empty and not e.critical:
        return Finding(E, "subject is empty but SAN is not critical",
                       "x509.extensions.subjectAltName")
    if not empty and e.critical:
        return Finding(W, "SAN is critical although the subject is not empty",
                       "x509.extensions.subjectAltName")
    return PASSED


@lint("x509.basic_constraints", "Basic constraints: leaf cA=false without pathLen; CA critical",
      X, Source.RFC5280, "RFC 5280 4.2.1.9; BR 7.1.2.7.8", E)
def basic_constraints(ctx: Context, p: Mapping[str, Any]) -> Finding:
    from cryptography.x509.oid import ExtensionOID

    e = _ext(ctx.x509, ExtensionOID.BASIC_CONSTRAINTS)
    if e is None:
        return Finding(P, "absent (leaf)")
    bc = e.value
    loc = "x509.extensions.basicConstraints"
    if bc.ca:
        if not e.critical:
            return Finding(E, "CA certificate with non-critical basicConstraints", loc)
        return PASSED
    if bc.path_length is not None:
        return Finding(E, "pathLenConstraint on a leaf (cA=false)", loc)
    return PASSED


@lint("x509.key_usage", "Key usage fits a leaf: no keyCertSign/cRLSign; ECC leaf has "
      "digitalSignature", X, Source.CABF_BR, "BR 7.1.2.7.11; RFC 5280 4.2.1.3", E)
def key_usage(ctx: Context, p: Mapping[str, Any]) -> Iterator[Finding]:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtensionOID

    cert = ctx.x509
    e = _ext(cert, ExtensionOID.KEY_USAGE)
    loc = "x509.extensions.keyUsage"
    ca = _is_ca(cert)
    if e is None:
        yield Finding(E if ca else P, "CA without keyUsage" if ca else "absent", loc)
        return
    ku = e.value
    if ca:
        if not ku.key_cert_sign:
            yield Finding(E, "CA keyUsage without keyCertSign", loc)
        yield PASSED
        return
    if ku.key_cert_sign or ku.crl_sign:
        yield Finding(E, "leaf with keyCertSign or cRLSign", loc)
    if isinstance(cert.public_key(), ec.EllipticCurvePublicKey) and not ku.digital_signature:
        yield Finding(E, "ECC leaf without digitalSignature", loc)
    yield PASSED


@lint("x509.eku", "TLS leaf EKU: serverAuth; no anyExtendedKeyUsage, codeSigning, "
      "emailProtection, OCSPSigning, timeStamping", X, Source.CABF_BR, "BR 7.1.2.7.10", E,
      params={"assume_tls": False})
def eku(ctx: Context, p: Mapping[str, Any]) -> Iterator[Finding]:
    from cryptography.x509.oid import ExtendedKeyUsageOID as O

    cert = ctx.x509
    if _is_ca(cert):
        yield NOT_APPLICABLE
        return
    usages = _eku(cert)
    loc = "x509.extensions.extKeyUsage"
    if O.ANY_EXTENDED_KEY_USAGE in usages:
        yield Finding(E, "anyExtendedKeyUsage in a leaf", loc)
    if not _is_tls_leaf(ctx, p):
        yield PASSED
        return
    if O.SERVER_AUTH not in usages:
        yield Finding(E, "TLS leaf without serverAuth EKU", loc)
    bad = {O.CODE_SIGNING: "codeSigning", O.EMAIL_PROTECTION: "emailProtection",
           O.OCSP_SIGNING: "OCSPSigning", O.TIME_STAMPING: "timeStamping"}
    for oid, label in bad.items():
        if oid in usages:
            yield Finding(E, f"TLS leaf with {label} EKU", loc)
    yield PASSED


@lint("x509.serial", "Serial number positive and at most 20 octets", X, Source.RFC5280,
      "RFC 5280 4.1.2.2; BR 7.1.2.7", E)
def serial(ctx: Context, p: Mapping[str, Any]) -> Finding:
    sn = ctx.x509.serial_number
    if sn <= 0:
        return Finding(E, "serial number is not positive", "x509.serialNumber")
    if (sn.bit_length() + 8) // 8 > 20:
        return Finding(E, "serial number longer than 20 octets", "x509.serialNumber")
    if sn.bit_length() < 64:
        return Finding(W, "serial number has fewer than 64 bits (BR 7.1: 64 bits of CSPRNG output)",
                       "x509.serialNumber")
    return PASSED


@lint("x509.chain", "Chains to a configured trust anchor (path validation)", X,
      Source.RFC5280, "RFC 5280 section 6; cryptography.x509.verification", E)
def chain(ctx: Context, p: Mapping[str, Any]) -> Finding:
    if not ctx.trust_anchors:
        return Finding(Status.NE, "no trust anchors configured")
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID
    from cryptography.x509.verification import (
        Criticality,
        ExtensionPolicy,
        PolicyBuilder,
        Store,
        VerificationError,
    )

    cert = ctx.x509
    ee = ExtensionPolicy.permit_all()
    dns = _first_dns(cert)
    server = ExtendedKeyUsageOID.SERVER_AUTH in _eku(cert) and dns
    if server:
        ee = ee.require_present(x509.SubjectAlternativeName, Criticality.AGNOSTIC, None)
    builder = (PolicyBuilder().store(Store(list(ctx.trust_anchors))).time(ctx.at)
               .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=ee))
    try:
        if server and dns:
            builder.build_server_verifier(x509.DNSName(dns)).verify(cert, list(ctx.intermediates))
        else:
            builder.build_client_verifier().verify(cert, list(ctx.intermediates))
    except VerificationError as exc:
        return Finding(E, f"path validation failed: {exc}", "x509.chain")
    return PASSED


def _first_dns(cert: Any) -> str | None:
    from cryptography import x509
    from cryptography.x509.oid import ExtensionOID

    e = _ext(cert, ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    if e is None:
        return None
    names = [n for n in e.value.get_values_for_type(x509.DNSName) if "*" not in n]
    return names[0] if names else None


@functools.cache
def _pkilint_validator(cert_type: Any) -> Any:
    from pkilint.cabf import serverauth
    from pkilint.pkix import certificate

    return certificate.create_pkix_certificate_validator_container(
        serverauth.create_decoding_validators(), serverauth.create_validators(cert_type)
    )


@lint("x509.pkilint_serverauth", "pkilint CA/B Forum serverauth profile (deep checks)", X,
      Source.PKILINT, "pkilint cabf.serverauth (BR 7.1 certificate profiles)", E,
      default_enabled=False)
def pkilint_serverauth(ctx: Context, p: Mapping[str, Any]) -> Iterator[Finding]:
    from pkilint import finding_filter, loader
    from pkilint.cabf import serverauth
    from pkilint.validation import ValidationFindingSeverity as S

    doc = loader.RFC5280CertificateDocumentLoader().load_der_document(ctx.material, "cert")
    cert_type = serverauth.determine_certificate_type(doc)
    results = _pkilint_validator(cert_type).validate(doc.root)
    results, _ = finding_filter.filter_results(
        serverauth.create_serverauth_finding_filters(cert_type), results
    )
    level = {S.FATAL: E, S.ERROR: E, S.WARNING: W, S.NOTICE: INFO, S.INFO: INFO}
    for res in results:
        for fd in res.finding_descriptions:
            msg = fd.finding.code + (f": {fd.message}" if fd.message else "")
            yield Finding(level.get(fd.finding.severity, INFO), msg, f"x509.{res.node.path}")
    yield Finding(P, f"pkilint type {cert_type.to_option_str}")


@lint("x509.validity_far", "Non-TLS certificate validity not excessively long", X,
      Source.REGISTRY, "registry guidance; S/MIME BR 6.3.2 (825 days)", W,
      params={"max_days": 825})
def validity_far(ctx: Context, p: Mapping[str, Any]) -> Finding:
    cert = ctx.x509
    if _is_ca(cert) or _is_tls_leaf(ctx, p):
        return NOT_APPLICABLE
    days = validity_days(cert)
    if days > p["max_days"]:
        return Finding(W, f"valid for {days} days (> {p['max_days']})", "x509.validity")
    return PASSED

