"""The host-key decision the paramiko policy makes, on certificates made by ssh-keygen (no sshd)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from registry.errors import InvalidName, KeyNotTrusted
from registry.integrations._hostkeys import HostKeyEntries, check_host_key, host_name
from registry.keys import SSHPublicKey, load_ssh_public_key
from tests.integrations.conftest import host_keypair

pytestmark = pytest.mark.tools

HOST = "web1.example.org"


def pub(path: Path) -> SSHPublicKey:
    return load_ssh_public_key(Path(f"{path}.pub").read_text())


def cert(keygen: str, ca: Path, key: Path, *args: str) -> bytes:
    Path(f"{key}-cert.pub").unlink(missing_ok=True)
    subprocess.run([keygen, "-q", "-s", str(ca), "-I", "t", *args, f"{key}.pub"], check=True,
                   capture_output=True, timeout=30)
    return load_ssh_public_key(Path(f"{key}-cert.pub").read_text()).material


@pytest.fixture(scope="module")
def kit(keygen: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("hostkeys")
    out: dict[str, Any] = {n: host_keypair(keygen, d / n) for n in ("ca", "host", "other")}
    out["rsaca"] = host_keypair(keygen, d / "rsaca", kind="rsa")
    return out


def entries(kit: dict[str, Any], *, trusted: tuple[str, ...] = (), cas: tuple[str, ...] = ("ca",),
            revoked: tuple[str, ...] = ()) -> HostKeyEntries:
    return HostKeyEntries(HOST, tuple((pub(kit[n]), HOST) for n in trusted),
                          tuple((pub(kit[n]), "example.org") for n in cas),
                          tuple((pub(kit[n]), "example.org") for n in revoked))


def refused(e: HostKeyEntries, blob: bytes) -> str:
    with pytest.raises(KeyNotTrusted) as info:
        check_host_key(e, blob)
    return info.value.reason


def test_certificate_rules(kit: dict[str, Any], keygen: str) -> None:
    ca, host = kit["ca"], kit["host"]
    e = entries(kit)
    good = cert(keygen, ca, host, "-h", "-n", HOST)
    match = check_host_key(e, good)
    assert match.kind == "certificate" and match.name == "example.org"
    assert match.fingerprint == pub(host).fingerprint
    assert "a user certificate" in refused(e, cert(keygen, ca, host, "-n", HOST))
    assert "do not include web1.example.org" in refused(e, cert(keygen, ca, host, "-h", "-n",
                                                                "web2.example.org"))
    assert "not yet valid" in refused(e, cert(keygen, ca, host, "-h", "-n", HOST, "-V", "+1d:+2d"))
    assert "has expired" in refused(e, cert(keygen, ca, host, "-h", "-n", HOST, "-V",
                                            "20200101:20200102"))
    assert "critical options (foo)" in refused(e, cert(keygen, ca, host, "-h", "-n", HOST,
                                                       "-O", "critical:foo=bar"))
    sha1 = cert(keygen, kit["rsaca"], host, "-h", "-n", HOST, "-t", "ssh-rsa")
    assert "ssh-rsa (SHA-1)" in refused(entries(kit, cas=("rsaca",)), sha1)
    tampered = bytearray(good)
    tampered[-5] ^= 1
    assert "signature does not verify" in refused(e, bytes(tampered))
    # a certificate valid forever (no -V) stays valid whatever the clock says
    assert check_host_key(e, good, now=time.time() + 10 * 365 * 86400).kind == "certificate"


def test_revocation_wins(kit: dict[str, Any], keygen: str) -> None:
    good = cert(keygen, kit["ca"], kit["host"], "-h", "-n", HOST)
    assert "host CA" in refused(entries(kit, revoked=("ca",)), good)
    assert "is revoked" in refused(entries(kit, revoked=("host",)), good)
    plain = pub(kit["host"]).material
    assert check_host_key(entries(kit, trusted=("host",), cas=()), plain).kind == "key"
    assert "is revoked" in refused(entries(kit, trusted=("host",), cas=(), revoked=("host",)), plain)


def test_plain_keys_and_fallback(kit: dict[str, Any], keygen: str) -> None:
    plain = pub(kit["host"]).material
    assert "no active host key or host CA" in refused(HostKeyEntries(HOST), plain)
    assert "is not published" in refused(entries(kit, trusted=("other",), cas=()), plain)
    # a certificate from an unknown CA is judged by its plain key, as ssh does
    foreign = cert(keygen, kit["other"], kit["host"], "-h", "-n", HOST)
    assert check_host_key(entries(kit, trusted=("host",), cas=()), foreign).kind == "key"
    assert "does not parse" in refused(entries(kit), b"\x00\x00\x00\x0bssh-ed25519")


@pytest.mark.parametrize(("given", "expected"), [
    ("web1.example.org", "web1.example.org"), ("[WEB1.Example.org]:2222", "web1.example.org"),
    ("127.0.0.1", None), ("[::1]:22", None), ("::1", None), ("[web1.example.org]", None),
    ("[web1.example.org]:x", None), ("a b", None),
])
def test_host_name(given: str, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(InvalidName):
            host_name(given)
    else:
        assert host_name(given) == expected
