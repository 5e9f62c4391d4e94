"""SSH lints: each with a passing and a failing key, from the real ssh-keygen where it can."""

from __future__ import annotations

import base64
import hashlib
import struct
from datetime import timedelta
from typing import Any

import pytest

from registry.keys import KeyType, Purpose
from tests.policy._cases import Case, Kit, run_case
from tests.policy.conftest import (
    NOW,
    make_key,
    mpint,
    s,
    ssh_key_from_file,
    ssh_rsa_blob,
    ssh_sk_blob,
)

pytestmark = pytest.mark.tools


def _key(k: Kit, name: str, *args: str) -> Any:
    return ssh_key_from_file(k.ssh_tools.keygen(name, *args).with_suffix(".pub"))


def _cert(k: Kit, name: str, ca: str, key: str, *args: str) -> Any:
    return ssh_key_from_file(k.ssh_tools.cert(name, ca, key, *args))


def ed(k: Kit) -> Any:
    return _key(k, "ed", "-t", "ed25519")


def rsa3072(k: Kit) -> Any:
    return _key(k, "rsa3072", "-t", "rsa", "-b", "3072")


def good_cert(k: Kit) -> Any:
    ed(k)
    _key(k, "ec", "-t", "ecdsa", "-b", "384")
    return _cert(k, "good-cert", "ed", "ec", "-n", "alice,web.example.org", "-V", "-1d:+52w")


def ec_blob(k: Kit) -> bytes:
    key = _key(k, "ec", "-t", "ecdsa", "-b", "384")
    return bytes(key.material)


def _mangle_ec(k: Kit, *, curve: bytes | None = None, point_flip: bool = False) -> Any:
    from registry.keys._ssh import load_ssh_blob

    info = load_ssh_blob(ec_blob(k))
    raw = info.parameter("point")
    assert isinstance(raw, bytes)
    point = bytearray(raw)
    if point_flip:
        point[-1] ^= 1
    blob = s(info.algorithm.encode()) + s(curve or str(info.curve).encode()) + s(bytes(point))
    return make_key(KeyType.SSH, blob)


def sk_cert(k: Kit, *opts: str) -> Any:
    ed(k)
    p = k.ssh_tools.d / "sk.pub"
    if not p.exists():
        p.write_text("sk-ssh-ed25519@openssh.com "
                     + base64.b64encode(ssh_sk_blob("ssh:")).decode() + " x\n")
    return _cert(k, "sk-cert" + "".join(o.replace(":", "_").replace("=", "_") for o in opts),
                 "ed", "sk", "-n", "alice", "-V", "-1d:+1d", *opts)


def sha1_ca_cert(k: Kit) -> Any:
    _key(k, "carsa", "-t", "rsa", "-b", "3072")
    ed(k)
    return _cert(k, "sha1-cert", "carsa", "ed", "-t", "ssh-rsa", "-n", "alice", "-V", "-1d:+1d")


def rsa2048_ca_cert(k: Kit) -> Any:
    _key(k, "carsa", "-t", "rsa", "-b", "3072")
    ed(k)
    return _cert(k, "sha2-cert", "carsa", "ed", "-t", "rsa-sha2-512", "-n", "alice",
                 "-V", "-1d:+1d")


def weak_ca_cert(k: Kit) -> Any:
    _key(k, "ca1024", "-t", "rsa", "-b", "1024")
    ed(k)
    return _cert(k, "weakca-cert", "ca1024", "ed", "-n", "alice", "-V", "-1d:+1d")


def broken_sig_cert(k: Kit) -> Any:
    blob = bytearray(good_cert(k).material)
    blob[-5] ^= 0xFF
    return make_key(KeyType.SSH, bytes(blob))


def sha1_proof() -> bytes:
    """An SSHSIG made with ssh-rsa (SHA-1), which ssh-keygen no longer produces."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    priv = rsa.generate_private_key(65537, 2048)
    nums = priv.public_key().public_numbers()
    pub = ssh_rsa_blob(nums.n, nums.e)
    h = hashlib.sha512(b"msg").digest()
    signed = b"SSHSIG" + s(b"keyanchor") + s(b"") + s(b"sha512") + s(h)
    sig = s(b"ssh-rsa") + s(priv.sign(signed, padding.PKCS1v15(), hashes.SHA1()))
    blob = b"SSHSIG" + struct.pack(">I", 1) + s(pub) + s(b"keyanchor") + s(b"") + s(b"sha512") \
        + s(sig)
    return blob


def _p(key: Any, **kw: Any) -> tuple[Any, dict[str, Any]]:
    return key, kw


CASES: dict[str, tuple[Case, Case]] = {
    "ssh.dsa": (lambda k: _p(ed(k)), lambda k: _p(_key(k, "dsa", "-t", "dsa"))),
    "ssh.rsa_bits": (lambda k: _p(rsa3072(k)),
                     lambda k: _p(_key(k, "rsa1024", "-t", "rsa", "-b", "1024"))),
    "ssh.rsa_exponent": (lambda k: _p(rsa3072(k)),
                         lambda k: _p(make_key(KeyType.SSH, ssh_rsa_blob((1 << 3071) + 1, 4)))),
    "ssh.ecdsa_curve": (lambda k: _p(_key(k, "ec", "-t", "ecdsa", "-b", "384")),
                        lambda k: _p(_mangle_ec(k, curve=b"nistp256"))),
    "ssh.ecdsa_point": (lambda k: _p(_key(k, "ec", "-t", "ecdsa", "-b", "384")),
                        lambda k: _p(_mangle_ec(k, point_flip=True))),
    "ssh.type_allowlist": (lambda k: _p(ed(k)), lambda k: _p(_key(k, "dsa", "-t", "dsa"))),
    "ssh.sk_application": (lambda k: _p(make_key(KeyType.SSH, ssh_sk_blob("ssh:"))),
                           lambda k: _p(make_key(KeyType.SSH, ssh_sk_blob("https://evil")))),
    "ssh.sk_touch": (lambda k: _p(sk_cert(k)),
                     lambda k: _p(sk_cert(k, "-O", "no-touch-required"))),
    "ssh.cert_validity": (lambda k: _p(good_cert(k)),
                          lambda k: _p(good_cert(k), at=NOW + timedelta(days=400))),
    "ssh.cert_forever": (lambda k: _p(good_cert(k)),
                         lambda k: _p(_cert(k, "forever", "ed", "ed", "-n", "alice"))),
    "ssh.cert_principals": (lambda k: _p(good_cert(k)),
                            lambda k: _p(_cert(k, "noprinc", "ed", "ed", "-V", "-1d:+1d"))),
    "ssh.cert_type": (lambda k: _p(good_cert(k), purposes=Purpose.SSH_USER),
                      lambda k: _p(_cert(k, "host", "ed", "ed", "-h", "-n", "web.example.org",
                                         "-V", "-1d:+1d"), purposes=Purpose.SSH_USER)),
    "ssh.cert_critical_options": (
        lambda k: _p(_cert(k, "forcecmd", "ed", "ed", "-n", "a", "-O", "force-command=/bin/true")),
        lambda k: _p(sk_cert(k, "-O", "critical:foo=bar"))),
    "ssh.ca_key_strength": (lambda k: _p(good_cert(k)), lambda k: _p(weak_ca_cert(k))),
    "ssh.ca_signature_sha1": (lambda k: _p(rsa2048_ca_cert(k)), lambda k: _p(sha1_ca_cert(k))),
    "ssh.cert_signature": (lambda k: _p(good_cert(k)), lambda k: _p(broken_sig_cert(k))),
    "ssh.proof_sha1": (lambda k: _p(ed(k), proof=k.ssh_tools.sign("ed", b"msg")),
                       lambda k: _p(ed(k), proof=sha1_proof())),
    "ssh.cert_validity_length": (
        lambda k: _p(good_cert(k)),
        lambda k: _p(_cert(k, "long", "ed", "ed", "-n", "a", "-V", "-1d:+4000d"))),
}


@pytest.mark.parametrize("outcome", ["pass", "fail"])
@pytest.mark.parametrize("lint_id", sorted(CASES))
def test_ssh_lint(lint_id: str, outcome: str, request: pytest.FixtureRequest) -> None:
    case = CASES[lint_id][0 if outcome == "pass" else 1]
    run_case(lint_id, case, Kit(request), outcome == "pass")


def test_rsa_bits_bands(request: pytest.FixtureRequest) -> None:
    from registry.policy import Status, check

    k = Kit(request)
    r2048 = _key(k, "rsa2048", "-t", "rsa", "-b", "2048")
    assert check(r2048, only=["ssh.rsa_bits"]).result("ssh.rsa_bits").status == Status.WARN
    big = make_key(KeyType.SSH, ssh_rsa_blob((1 << 16400) + 1))
    assert check(big, only=["ssh.rsa_bits"]).result("ssh.rsa_bits").status == Status.ERROR


def test_default_profile_passes_modern_keys(request: pytest.FixtureRequest) -> None:
    from registry.policy import check

    k = Kit(request)
    for key in (ed(k), rsa3072(k), good_cert(k)):
        report = check(key, name="alice@example.org")
        assert report.passed, report.to_text()


def test_mpint_helper_roundtrip() -> None:
    assert mpint(0) == s(b"")
    assert mpint(0x80) == s(b"\x00\x80")
