"""X.509 lints: each with a passing and a failing certificate (built with cryptography)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID as EKU

from registry.policy import Status, check
from registry.policy._x509_lints import br_max_days
from tests.policy._cases import Case, Kit, run_case
from tests.policy.conftest import CA, FIXED, make_ca, make_leaf, x509_key

_rsa_cache: dict[int, Any] = {}


def rsa_key(bits: int = 2048) -> Any:
    if bits not in _rsa_cache:
        _rsa_cache[bits] = rsa.generate_private_key(65537, bits)
    return _rsa_cache[bits]


def leaf(k: Kit, **kw: Any) -> Any:
    return x509_key(make_leaf(k.ca, **kw))


def rsa_pub(n: int, e: int = 65537) -> Any:
    return rsa.RSAPublicNumbers(e, n).public_key()


def ca_nonc(k: Kit) -> Any:
    return leaf(k, bc=(True, False), eku=(), ku={"key_cert_sign": True})


def _p(key: Any, **kw: Any) -> tuple[Any, dict[str, Any]]:
    return key, kw


def _chain_ok(k: Kit) -> tuple[Any, dict[str, Any]]:
    return _p(leaf(k), trust_anchors=[k.ca.cert])


def _chain_bad(k: Kit) -> tuple[Any, dict[str, Any]]:
    other: CA = make_ca("Other CA")
    return _p(leaf(k), trust_anchors=[other.cert])


CASES: dict[str, tuple[Case, Case]] = {
    "x509.rsa_modulus": (lambda k: _p(leaf(k, key=rsa_key())),
                         lambda k: _p(leaf(k, public_key=rsa_pub((1 << 2046) + 3)))),
    "x509.rsa_exponent": (lambda k: _p(leaf(k, key=rsa_key())),
                          lambda k: _p(leaf(k, public_key=rsa_pub(
                              rsa_key().public_key().public_numbers().n, 3)))),
    "x509.rsa_small_factors": (lambda k: _p(leaf(k, key=rsa_key())),
                               lambda k: _p(leaf(k, public_key=rsa_pub(3 * ((1 << 2045) + 1))))),
    "x509.ec_curve": (lambda k: _p(leaf(k)),
                      lambda k: _p(leaf(k, key=ec.generate_private_key(ec.SECP256K1())))),
    "x509.signature_hash": (lambda k: _p(leaf(k)), lambda k: _p(sha1_cert(k))),
    "x509.signature_algorithm_encoding": (lambda k: _p(leaf(k)),
                                          lambda k: _p(leaf(k, hash_alg=hashes.SHA224()))),
    "x509.br_validity": (lambda k: _p(leaf(k, days=90)),
                         lambda k: _p(leaf(k, days=398))),
    "x509.validity_order": (lambda k: _p(leaf(k)),
                            lambda k: _p(inverted_validity(k))),
    "x509.version": (lambda k: _p(leaf(k)), lambda k: _p(v1_cert(k))),
    "x509.san_present": (lambda k: _p(leaf(k)), lambda k: _p(leaf(k, dns=()))),
    "x509.san_critical": (lambda k: _p(leaf(k)), lambda k: _p(leaf(k, cn="", san_critical=False))),
    "x509.basic_constraints": (lambda k: _p(leaf(k, bc=(False, True))),
                               lambda k: _p(ca_nonc(k))),
    "x509.key_usage": (lambda k: _p(leaf(k)), lambda k: _p(leaf(k, ku={"key_cert_sign": True}))),
    "x509.eku": (lambda k: _p(leaf(k)),
                 lambda k: _p(leaf(k, eku=(EKU.SERVER_AUTH, EKU.CODE_SIGNING)))),
    "x509.serial": (lambda k: _p(leaf(k)), lambda k: _p(leaf(k, serial=1))),
    "x509.chain": (_chain_ok, _chain_bad),
    "x509.pkilint_serverauth": (lambda k: _p(pkilint_clean(k)), lambda k: _p(leaf(k, dns=()))),
    "x509.validity_far": (lambda k: _p(leaf(k, eku=(EKU.CLIENT_AUTH,), days=365)),
                          lambda k: _p(leaf(k, eku=(EKU.CLIENT_AUTH,), days=1000))),
    "x509.expired": (lambda k: _p(leaf(k)), lambda k: _p(leaf(k), at=FIXED + timedelta(days=200))),
    "x509.not_yet_valid": (lambda k: _p(leaf(k)),
                           lambda k: _p(leaf(k), at=FIXED - timedelta(days=3))),
}


def _resign(k: Kit, edit: Any, alg: str = "300a06082a8648ce3d040302",
            hash_alg: Any = None) -> Any:
    """Re-encode a leaf's TBS through ``edit(list of elements)`` and re-sign it with the CA."""
    from cryptography.hazmat.primitives.serialization import Encoding

    from registry.keys import KeyType
    from registry.policy._x509_lints import _tlv
    from tests.policy.conftest import make_key

    der = make_leaf(k.ca).public_bytes(Encoding.DER)
    _, cs, _ = _tlv(der, 0)
    _, tcs, tce = _tlv(der, cs)
    parts = []
    pos = tcs
    while pos < tce:
        _, _, end = _tlv(der, pos)
        parts.append(der[pos:end])
        pos = end
    tbs = _seq(b"".join(edit(parts)))
    sig = k.ca.key.sign(tbs, ec.ECDSA(hash_alg or hashes.SHA256()))
    algo = bytes.fromhex(alg)
    return make_key(KeyType.X509, _seq(tbs + algo + b"\x03" + _len(len(sig) + 1) + b"\0" + sig))


def v1_cert(k: Kit) -> Any:
    """A version-1 certificate (no version field, no extensions)."""
    return _resign(k, lambda parts: [p for p in parts if p[0] not in (0xA0, 0xA3)])


def sha1_cert(k: Kit) -> Any:
    """ecdsa-with-SHA1, which cryptography no longer signs certificates with."""
    alg = "300906072a8648ce3d0401"

    def edit(parts: list[bytes]) -> list[bytes]:
        parts[2] = bytes.fromhex(alg)
        return parts

    return _resign(k, edit, alg, hashes.SHA1())


def inverted_validity(k: Kit) -> Any:
    def t(when: Any) -> bytes:
        return b"\x17\x0d" + when.strftime("%y%m%d%H%M%SZ").encode()

    def edit(parts: list[bytes]) -> list[bytes]:
        parts[4] = _seq(t(FIXED) + t(FIXED - timedelta(days=1)))
        return parts

    return _resign(k, edit)


def _len(n: int) -> bytes:
    if n < 128:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _seq(body: bytes) -> bytes:
    return b"\x30" + _len(len(body)) + body


def pkilint_clean(k: Kit) -> Any:
    """A DV TLS leaf with everything the BR profile requires (policies, AIA, CRL DP, SCTs aside)."""
    from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    issuer = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
                        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test"),
                        x509.NameAttribute(NameOID.COMMON_NAME, "Test Issuing CA")])
    b = (x509.CertificateBuilder().subject_name(x509.Name([]))
         .issuer_name(issuer).public_key(key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(FIXED - timedelta(days=1))
         .not_valid_after(FIXED + timedelta(days=89))
         .add_extension(x509.SubjectAlternativeName([x509.DNSName("web.example.org")]),
                        critical=True)
         .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False,
                                      False), critical=True)
         .add_extension(x509.ExtendedKeyUsage([EKU.SERVER_AUTH]), critical=False)
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
             k.ca.key.public_key()), critical=False)
         .add_extension(x509.CertificatePolicies([x509.PolicyInformation(
             x509.ObjectIdentifier("2.23.140.1.2.1"), None)]), critical=False)
         .add_extension(x509.AuthorityInformationAccess([x509.AccessDescription(
             AuthorityInformationAccessOID.CA_ISSUERS,
             x509.UniformResourceIdentifier("http://ca.example.org/ca.crt"))]), critical=False)
         .add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
             [x509.UniformResourceIdentifier("http://ca.example.org/ca.crl")], None, None,
             None)]), critical=False))
    return x509_key(b.sign(k.ca.key, hashes.SHA256()))


@pytest.mark.parametrize("outcome", ["pass", "fail"])
@pytest.mark.parametrize("lint_id", sorted(CASES))
def test_x509_lint(lint_id: str, outcome: str, request: pytest.FixtureRequest) -> None:
    case = CASES[lint_id][0 if outcome == "pass" else 1]
    run_case(lint_id, case, Kit(request), outcome == "pass", at=FIXED)


@pytest.mark.parametrize(("issued", "days"), [
    ("2026-03-14", 398), ("2026-03-15", 200), ("2027-03-14", 200), ("2027-03-15", 100),
    ("2029-03-14", 100), ("2029-03-15", 47),
])
def test_br_validity_schedule(issued: str, days: int) -> None:
    assert br_max_days(datetime.fromisoformat(issued + "T12:00:00+00:00")) == days


def test_br_validity_counts_a_remainder_as_a_day(ca: CA) -> None:
    nb = datetime(2029, 6, 1, 12, 0, tzinfo=UTC)
    exact = make_leaf(ca, not_before=nb, days=47)  # 47 days minus 1 s, inclusive = 47 days
    over = make_leaf(ca, not_before=nb, days=47, ku=None)
    over = x509_key(make_leaf(ca, not_before=nb, days=48))
    r1 = check(x509_key(exact), only=["x509.br_validity"], at=nb + timedelta(days=1))
    r2 = check(over, only=["x509.br_validity"], at=nb + timedelta(days=1))
    assert r1.result("x509.br_validity").status == Status.PASS
    assert r2.result("x509.br_validity").status == Status.ERROR


def test_cabf_tls_profile(ca: CA) -> None:
    report = check(x509_key(make_leaf(ca, eku=())), profile="cabf-tls", at=FIXED)
    assert not report.passed
    assert report.result("x509.eku").status == Status.ERROR
    assert "x509.pkilint_serverauth" in {r.lint_id for r in report.results}
