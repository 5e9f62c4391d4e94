"""OpenPGP lints: each with a passing and a failing certificate.

Passing certificates come from the real gpg; failing ones gpg will not make
(MD5 or SHA-1 self-signatures, missing back-signatures, unknown critical
subpackets...) are signed by our own small v4 writer in conftest.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from registry.policy import Status, check
from tests.policy._cases import Case, Kit, run_case
from tests.policy.conftest import (
    NOW,
    PGPKey,
    build_cert,
    dsa_body,
    ecdh_body,
    elgamal_body,
    pgp_key,
    pgp_packet,
    subpacket,
)

pytestmark = pytest.mark.tools

_cache: dict[str, Any] = {}


def gpg_cert(k: Kit, kind: str = "ed25519") -> Any:
    if kind not in _cache:
        uid = f"Alice {kind} <alice@example.org>"
        fpr = k.gpg.gen(uid, kind, "default", "2y")
        if kind == "ed25519":
            k.gpg("--quick-add-key", fpr, "cv25519", "encr", "2y")
            k.gpg("--quick-add-key", fpr, "ed25519", "sign", "2y")
        _cache[kind] = pgp_key(k.gpg.export(fpr))
    return _cache[kind]


def own(**kw: Any) -> Any:
    return pgp_key(build_cert(**kw))


def _p(key: Any, **kw: Any) -> tuple[Any, dict[str, Any]]:
    return key, kw


def signing_sub(backsig: bool) -> Any:
    return own(subkeys=[(PGPKey(), 0x02, backsig)])


def v6_legacy() -> Any:
    body = bytearray(PGPKey().body)
    material = bytes(body[6:])
    v6 = b"\x06" + bytes(body[1:6]) + len(material).to_bytes(4, "big") + material
    return pgp_key(pgp_packet(6, v6) + pgp_packet(13, b"x <x@example.org>"))


CASES: dict[str, tuple[Case, Case]] = {
    "openpgp.binding_selfsig": (lambda k: _p(gpg_cert(k)), lambda k: _p(own(with_uid_sig=False))),
    "openpgp.md5": (lambda k: _p(gpg_cert(k)), lambda k: _p(own(hash_algo=1))),
    "openpgp.sha1_selfsig": (lambda k: _p(gpg_cert(k)), lambda k: _p(own(hash_algo=2))),
    "openpgp.sha1_revocation": (
        lambda k: _p(own(revoke_subkey=True, subkeys=[(PGPKey(), 0x0C, False)])),
        lambda k: _p(own(revoke_subkey=True, rev_hash=2, subkeys=[(PGPKey(), 0x0C, False)]))),
    "openpgp.rsa_bits": (lambda k: _p(gpg_cert(k, "rsa2048")),
                         lambda k: _p(own(primary=PGPKey("rsa", bits=1024)))),
    "openpgp.elgamal": (lambda k: _p(gpg_cert(k)),
                        lambda k: _p(own(subkeys=[(PGPKey(body=elgamal_body()), 0x0C, False)]))),
    "openpgp.dsa": (lambda k: _p(gpg_cert(k), at=NOW.replace(day=1, month=3, year=2030)),
                    lambda k: _p(own(subkeys=[(PGPKey(body=dsa_body()), 0x0C, False)]),
                                 at=NOW.replace(day=1, month=3, year=2030))),
    "openpgp.v6_legacy_algorithms": (lambda k: _p(gpg_cert(k)), lambda k: _p(v6_legacy())),
    "openpgp.ecdh_params": (
        lambda k: _p(gpg_cert(k)),
        lambda k: _p(own(subkeys=[(PGPKey(body=ecdh_body(kdf_hash=2, kek=3)), 0x0C, False)]))),
    "openpgp.backsig": (lambda k: _p(gpg_cert(k)), lambda k: _p(signing_sub(False))),
    "openpgp.expired": (lambda k: _p(gpg_cert(k)),
                        lambda k: _p(gpg_cert(k), at=NOW + timedelta(days=800))),
    "openpgp.expiry_none": (lambda k: _p(gpg_cert(k)), lambda k: _p(own(expire_days=None))),
    "openpgp.expiry_far": (lambda k: _p(gpg_cert(k)), lambda k: _p(own(expire_days=3000))),
    "openpgp.revoked_key": (lambda k: _p(gpg_cert(k)), lambda k: _p(own(revoke_key=True))),
    "openpgp.revoked_subkey": (
        lambda k: _p(gpg_cert(k)),
        lambda k: _p(own(revoke_subkey=True, subkeys=[(PGPKey(), 0x0C, False)]))),
    "openpgp.revoked_uid": (lambda k: _p(gpg_cert(k)), lambda k: _p(own(revoke_uid=True))),
    "openpgp.sig_version": (
        lambda k: _p(gpg_cert(k)),
        lambda k: _p(own(extra_packets=pgp_packet(2, bytes([3, 5, 0x13]) + b"\0" * 12
                                                  + bytes([22, 8]) + b"\0\0" + b"\0\x08\xff")))),
    "openpgp.packets": (lambda k: _p(gpg_cert(k)),
                        lambda k: _p(own(extra_packets=pgp_packet(11, b"b\0\0\0\0\0hi")))),
    "openpgp.critical_subpackets": (
        lambda k: _p(gpg_cert(k)),
        lambda k: _p(own(uid_extra=[subpacket(99, b"x", critical=True)]))),
    "openpgp.fingerprint": (lambda k: _p(gpg_cert(k)), lambda k: _p(own(issuer_fpr=False))),
    "openpgp.sig_future": (lambda k: _p(gpg_cert(k)),
                           lambda k: _p(own(uid_sig_created=NOW + timedelta(hours=5)))),
    "openpgp.user_id": (lambda k: _p(gpg_cert(k)), lambda k: _p(own(with_uid_sig=False))),
    "openpgp.ecc_curve": (
        lambda k: _p(gpg_cert(k)),
        lambda k: _p(gpg_cert(k),
                     policy='[params]\n"openpgp.ecc_curve".allowed = ["p256"]\n')),
    "openpgp.not_yet_valid": (lambda k: _p(gpg_cert(k)),
                              lambda k: _p(gpg_cert(k), at=NOW - timedelta(days=30))),
}


@pytest.mark.parametrize("outcome", ["pass", "fail"])
@pytest.mark.parametrize("lint_id", sorted(CASES))
def test_openpgp_lint(lint_id: str, outcome: str, request: pytest.FixtureRequest) -> None:
    case = CASES[lint_id][0 if outcome == "pass" else 1]
    run_case(lint_id, case, Kit(request), outcome == "pass")


def test_gpg_certs_pass_default_profile(request: pytest.FixtureRequest) -> None:
    k = Kit(request)
    for kind in ("ed25519", "rsa3072"):
        report = check(gpg_cert(k, kind), name="alice@example.org")
        assert report.passed, report.to_text()
        assert report.result("binding.name").status == Status.PASS


def test_own_writer_matches_gpg_view(request: pytest.FixtureRequest) -> None:
    """Our hand-signed certificates verify with our verifier (sanity of the fixtures)."""
    report = check(own(subkeys=[(PGPKey(), 0x02, True)]), name="alice@example.org")
    assert report.result("openpgp.binding_selfsig").status == Status.PASS
    assert report.result("openpgp.backsig").status == Status.PASS


def test_sha1_selfsig_before_cutoff_is_not_an_error() -> None:
    old = NOW.replace(day=1, month=6, year=2022)
    key = own(hash_algo=2, primary=PGPKey(created=old - timedelta(days=10)),
              uid_sig_created=old)
    r = check(key, only=["openpgp.sha1_selfsig"], at=old + timedelta(days=1))
    assert r.result("openpgp.sha1_selfsig").status == Status.PASS
