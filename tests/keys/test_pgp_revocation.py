"""OpenPGP revocation signatures from real gpg: verified against the certificate, merged in,
and real gpg then sees the key revoked (``--import``, and ``--refresh-keys`` from a loopback HKP server)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from registry.errors import KeyFormatError, PrivateKeyError, ProofError
from registry.keys import (
    load_openpgp_cert,
    merge_openpgp_revocation,
    render_openpgp_armor,
    render_openpgp_binary,
    verify_openpgp_revocation,
)
from tests.conftest import require_tool

pytestmark = pytest.mark.tools

# gpg's --gen-revoke menu: 1 key compromised (RFC code 2), 2 superseded (1), 3 no longer used (3)
MENU = {"compromised": "1", "superseded": "2"}


@dataclass
class Keyring:
    home: Path
    exe: str

    def run(self, *args: str, input: bytes | None = None, check: bool = True,
            keyserver: str | None = None) -> subprocess.CompletedProcess[bytes]:
        extra = ["--keyserver", keyserver] if keyserver else []
        return subprocess.run(
            [self.exe, "--homedir", str(self.home), "--no-tty", "--pinentry-mode", "loopback",
             "--passphrase", "", *extra, *args], input=input, capture_output=True, timeout=60,
            check=check, env={**os.environ, "GNUPGHOME": str(self.home), "LC_ALL": "C"})

    def make(self, uid: str) -> str:
        self.run("--batch", "--quick-gen-key", uid, "ed25519", "sign,cert", "2y")
        fpr = self.fingerprint(uid)
        self.run("--batch", "--quick-add-key", fpr, "cv25519", "encr", "2y")
        return fpr

    def fingerprint(self, uid: str) -> str:
        listing = self.run("--batch", "--with-colons", "--list-keys", uid).stdout.decode()
        return next(ln.split(":")[9] for ln in listing.splitlines() if ln.startswith("fpr:"))

    def revocation(self, fpr: str, why: str, text: str) -> bytes:
        """What ``gpg --gen-revoke`` writes (armored), answering its questions on --command-fd."""
        answers = f"y\n{MENU[why]}\n{text}\n\ny\n".encode()
        return self.run("--command-fd", "0", "--yes", "--armor", "--gen-revoke", fpr,
                        input=answers).stdout

    def validity(self, fpr: str) -> str:
        """The validity field of the pub line (``r`` once revoked)."""
        listing = self.run("--batch", "--with-colons", "--list-keys", fpr).stdout.decode()
        return next(ln.split(":")[1] for ln in listing.splitlines() if ln.startswith("pub:"))

    def close(self) -> None:
        subprocess.run(["gpgconf", "--homedir", str(self.home), "--kill", "all"],
                       capture_output=True, timeout=30, check=False)


def keyring(path: Path) -> Keyring:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    (path / "dirmngr.conf").write_text("standard-resolver\nconnect-timeout 10\n")
    return Keyring(path, require_tool("gpg"))


@dataclass
class Keys:
    ring: Keyring
    alice: str
    bob: str
    cert: bytes  # alice, exported minimal
    bob_cert: bytes
    compromised: bytes  # armored gpg --gen-revoke output
    superseded: bytes
    stored: bytes  # gpg's own openpgp-revocs.d/<FPR>.rev (":-----BEGIN ...")
    bob_revocation: bytes


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keys]:
    # short path: gpg-agent's socket must fit in 108 bytes
    ring = keyring(Path(tmp_path_factory.mktemp("rv", numbered=True)) / "h")
    try:
        alice = ring.make("Alice <alice@example.org>")
        bob = ring.make("Bob <bob@example.org>")
        yield Keys(
            ring, alice, bob,
            ring.run("--batch", "--export-options", "export-minimal", "--export", alice).stdout,
            ring.run("--batch", "--export-options", "export-minimal", "--export", bob).stdout,
            ring.revocation(alice, "compromised", "laptop stolen"),
            ring.revocation(alice, "superseded", "new key 2027"),
            (ring.home / "openpgp-revocs.d" / f"{alice}.rev").read_bytes(),
            ring.revocation(bob, "compromised", "bob's"),
        )
    finally:
        ring.close()


def test_verify_gpg_gen_revoke_output(keys: Keys) -> None:
    rev = verify_openpgp_revocation(keys.cert, keys.compromised)
    assert rev.fingerprint == keys.alice
    assert rev.reason == 2 and rev.reason_name == "compromised" and rev.hard
    assert rev.reason_text == "laptop stolen"
    soft = verify_openpgp_revocation(load_openpgp_cert(keys.cert), keys.superseded)
    assert soft.reason == 1 and not soft.hard and soft.reason_text == "new key 2027"
    # the file gpg keeps itself, with the colon in front of the armor line
    assert keys.stored.count(b":-----BEGIN PGP PUBLIC KEY BLOCK-----") == 1
    stored = verify_openpgp_revocation(keys.cert, keys.stored)
    assert stored.hard and stored.fingerprint == keys.alice
    # binary (gpg --dearmor) is the same signature
    binary = keys.ring.run("--batch", "--dearmor", input=keys.compromised).stdout
    assert verify_openpgp_revocation(keys.cert, binary).signature == rev.signature
    assert rev.to_dict()["signature"] == rev.signature.hex()


def test_refuses_what_does_not_revoke_this_certificate(keys: Keys) -> None:
    with pytest.raises(ProofError, match=keys.alice):
        verify_openpgp_revocation(keys.cert, keys.bob_revocation)
    body = bytearray(verify_openpgp_revocation(keys.cert, keys.compromised).signature)
    body[-3] ^= 0x01  # inside the signature value
    with pytest.raises(ProofError):
        verify_openpgp_revocation(keys.cert, bytes(body))
    with pytest.raises(KeyFormatError, match="no key revocation signature"):
        verify_openpgp_revocation(keys.cert, keys.cert)  # a certificate, but not revoked
    with pytest.raises(KeyFormatError):
        verify_openpgp_revocation(keys.cert, b"hello")
    with pytest.raises(KeyFormatError):
        verify_openpgp_revocation(keys.cert, b"")
    secret = keys.ring.run("--batch", "--export-secret-keys", keys.alice).stdout
    with pytest.raises(PrivateKeyError) as info:
        verify_openpgp_revocation(keys.cert, secret)
    assert "secret" in str(info.value)


def test_truncated_input_gives_our_errors_only(keys: Keys) -> None:
    binary = verify_openpgp_revocation(keys.cert, keys.compromised).signature
    for cut in range(len(binary)):
        with pytest.raises((KeyFormatError, ProofError)):
            verify_openpgp_revocation(keys.cert, binary[:cut])


def test_merged_certificate_is_revoked_and_re_rendered(keys: Keys) -> None:
    rev = verify_openpgp_revocation(keys.cert, keys.compromised)
    original = load_openpgp_cert(keys.cert)
    merged = merge_openpgp_revocation(original, rev)
    assert merged.fingerprint == keys.alice and merged.revoked and not original.revoked
    assert rev.signature in merged.material
    assert load_openpgp_cert(render_openpgp_armor(merged)).material == merged.material
    # sq key revoke style: the revocation inside a whole certificate
    assert verify_openpgp_revocation(keys.cert, render_openpgp_armor(merged)).signature == \
        rev.signature
    with pytest.raises(ProofError):
        merge_openpgp_revocation(keys.bob_cert, rev)


def test_gpg_import_of_the_merged_certificate_marks_the_key_revoked(
        keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> None:
    ring = keyring(Path(tmp_path_factory.mktemp("ri", numbered=True)) / "h")
    try:
        ring.run("--batch", "--import", input=keys.cert)
        assert ring.validity(keys.alice) != "r"
        merged = merge_openpgp_revocation(keys.cert, keys.compromised)
        done = ring.run("--batch", "--import", input=render_openpgp_binary(merged))
        assert b"revocation certificate added" in done.stderr
        assert ring.validity(keys.alice) == "r"
    finally:
        ring.close()


def test_gpg_refresh_keys_from_a_keyserver_serving_the_revoked_certificate(
        keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> None:
    """What the HKP gateway will serve once the contract carries the revocation."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from tests.gateways.conftest import ServerThread

    merged = merge_openpgp_revocation(keys.cert, keys.compromised)
    asked: list[str] = []

    async def lookup(request: Request) -> Response:
        asked.append(str(request.url.query))
        if request.query_params.get("search", "").upper() != f"0X{keys.alice}":
            return Response("not found", status_code=404)
        return Response(render_openpgp_armor(merged), media_type="application/pgp-keys")

    ring = keyring(Path(tmp_path_factory.mktemp("rr", numbered=True)) / "h")
    try:
        ring.run("--batch", "--import", input=keys.cert)
        assert ring.validity(keys.alice) != "r"
        with ServerThread(Starlette(routes=[Route("/pks/lookup", lookup)])) as srv:
            done = ring.run("--batch", "--refresh-keys", keyserver=f"hkp://127.0.0.1:{srv.port}",
                            check=False)
        assert done.returncode == 0, done.stderr.decode()
        assert any(f"search=0x{keys.alice}".lower() in q.lower() for q in asked)
        assert ring.validity(keys.alice) == "r"
    finally:
        ring.close()


