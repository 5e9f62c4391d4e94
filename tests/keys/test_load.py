"""Format detection and canonical material, with keys made by ssh-keygen, gpg and openssl."""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from registry.errors import KeyFormatError, PrivateKeyError, UnsupportedKeyType
from registry.keys import MAX_MATERIAL, KeyType
from registry.keys._load import detect_key_type, load_key, load_keys, load_material

pytestmark = pytest.mark.tools


def run(*args: str, stdin: bytes | None = None) -> bytes:
    proc = subprocess.run(list(args), input=stdin, capture_output=True, check=False, timeout=60)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed: {proc.stderr.decode(errors='replace')}")
    return proc.stdout


@dataclass
class Material:
    dir: Path
    ssh_pub: bytes
    ssh_pub2: bytes
    ssh_private: bytes
    ssh_rfc4716: bytes
    ssh_cert: bytes
    ssh_fp: str
    pgp_armor: bytes
    pgp_binary: bytes
    pgp_two: bytes
    pgp_secret_armor: bytes
    pgp_secret_binary: bytes
    pgp_fpr: str
    x509_pem: bytes
    x509_der: bytes
    x509_bundle: bytes
    x509_fp: str
    pkcs8_pem: bytes
    pkcs8_der: bytes


def _gpg_fpr(home: Path, uid: str) -> str:
    out = run("gpg", "--homedir", str(home), "--batch", "--with-colons", "--list-keys", uid).decode()
    return next(line.split(":")[9] for line in out.splitlines() if line.startswith("fpr:"))


@pytest.fixture(scope="session")
def mat(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Material]:
    d = tmp_path_factory.mktemp("load")
    # SSH
    run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "alice@example.org", "-f", str(d / "id"))
    run("ssh-keygen", "-q", "-t", "ecdsa", "-N", "", "-C", "bob", "-f", str(d / "id2"))
    run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "ca"))
    run("ssh-keygen", "-q", "-s", str(d / "ca"), "-I", "alice", "-n", "alice", str(d / "id.pub"))
    ssh_fp = run("ssh-keygen", "-l", "-E", "sha256", "-f", str(d / "id.pub")).decode().split()[1]
    # OpenPGP (a short homedir keeps the agent socket path short)
    home = d / "g"
    home.mkdir(mode=0o700)
    gpg = ("gpg", "--homedir", str(home), "--batch", "--pinentry-mode", "loopback", "--passphrase", "")
    run(*gpg, "--quick-gen-key", "Alice <alice@example.org>", "ed25519", "sign", "1y")
    run(*gpg, "--quick-gen-key", "Bob <bob@example.org>", "ed25519", "sign", "1y")
    # X.509
    key = d / "p256.key"
    run("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-out", str(key))
    run("openssl", "req", "-x509", "-new", "-key", str(key), "-subj", "/CN=www.example.org",
        "-addext", "subjectAltName=DNS:www.example.org", "-days", "30", "-out", str(d / "c.pem"))
    run("openssl", "req", "-x509", "-new", "-key", str(key), "-subj", "/CN=ca.example.org",
        "-days", "30", "-out", str(d / "c2.pem"))
    x509_pem = (d / "c.pem").read_bytes()
    try:
        yield Material(
            dir=d,
            ssh_pub=(d / "id.pub").read_bytes(),
            ssh_pub2=(d / "id2.pub").read_bytes(),
            ssh_private=(d / "id").read_bytes(),
            ssh_rfc4716=run("ssh-keygen", "-e", "-f", str(d / "id.pub")),
            ssh_cert=(d / "id-cert.pub").read_bytes(),
            ssh_fp=ssh_fp,
            pgp_armor=run(*gpg, "--armor", "--export", "alice@example.org"),
            pgp_binary=run(*gpg, "--export", "alice@example.org"),
            pgp_two=run(*gpg, "--export"),
            pgp_secret_armor=run(*gpg, "--armor", "--export-secret-keys", "alice@example.org"),
            pgp_secret_binary=run(*gpg, "--export-secret-keys", "alice@example.org"),
            pgp_fpr=_gpg_fpr(home, "alice@example.org"),
            x509_pem=x509_pem,
            x509_der=run("openssl", "x509", "-in", str(d / "c.pem"), "-outform", "DER"),
            x509_bundle=x509_pem + (d / "c2.pem").read_bytes(),
            x509_fp=run("openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in",
                        str(d / "c.pem")).decode().strip().split("=", 1)[1].replace(":", ""),
            pkcs8_pem=key.read_bytes(),
            pkcs8_der=run("openssl", "pkey", "-in", str(key), "-outform", "DER"),
        )
    finally:
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"],
                       capture_output=True, check=False)


# ------------------------------------------------------------------ detection


@pytest.mark.parametrize(
    ("field", "key_type"),
    [("ssh_pub", KeyType.SSH), ("ssh_rfc4716", KeyType.SSH), ("ssh_cert", KeyType.SSH),
     ("pgp_armor", KeyType.OPENPGP), ("pgp_binary", KeyType.OPENPGP),
     ("x509_pem", KeyType.X509), ("x509_der", KeyType.X509)],
)
def test_detects_each_format(mat: Material, field: str, key_type: KeyType) -> None:
    data = getattr(mat, field)
    assert detect_key_type(data) is key_type
    key = load_key(data)
    assert key.key_type is key_type
    expected = {KeyType.SSH: mat.ssh_fp, KeyType.OPENPGP: mat.pgp_fpr, KeyType.X509: mat.x509_fp}
    if field != "ssh_cert":  # a certificate's fingerprint is its certified key's
        assert key.fingerprint == expected[key_type]


@pytest.mark.parametrize("form", [bytes, bytearray, memoryview, "str"])
def test_input_types(mat: Material, form: object) -> None:
    for data, fp in ((mat.ssh_pub, mat.ssh_fp), (mat.x509_pem, mat.x509_fp),
                     (mat.pgp_armor, mat.pgp_fpr)):
        value = data.decode() if form == "str" else form(data)  # type: ignore[operator]
        assert load_key(value).fingerprint == fp


def test_ssh_certificate_identities(mat: Material) -> None:
    key = load_key(mat.ssh_cert)
    assert "alice" in key.identities


def test_authorized_keys_file_gives_all_keys(mat: Material) -> None:
    text = b"# team keys\n" + mat.ssh_pub + b"\n" + b'restrict,command="x" ' + mat.ssh_pub2
    keys = load_keys(text)
    assert [k.key_type for k in keys] == [KeyType.SSH, KeyType.SSH]
    assert keys[0].fingerprint == mat.ssh_fp
    with pytest.raises(KeyFormatError, match=r"exactly one key, found 2 .*give one key at a time"):
        load_key(text)


@pytest.mark.parametrize("eol", [b"\n", b"\r\n"])
def test_a_pub_file_with_a_byte_order_mark_loads(mat: Material, eol: bytes) -> None:
    # Windows Notepad saves UTF-8 with a BOM: the key was "unsupported SSH key type"
    key = load_key(b"\xef\xbb\xbf" + mat.ssh_pub.strip() + eol)
    assert key.fingerprint == mat.ssh_fp
    assert [k.fingerprint for k in load_keys(b"\xef\xbb\xbf# team\n" + mat.ssh_pub)] == \
        [mat.ssh_fp]


def test_keyring_and_bundle_give_all_keys(mat: Material) -> None:
    assert len(load_keys(mat.pgp_two)) == 2
    with pytest.raises(KeyFormatError, match="give one key at a time"):
        load_key(mat.pgp_two)
    certs = load_keys(mat.x509_bundle)
    assert len(certs) == 2 and certs[0].fingerprint == mat.x509_fp
    with pytest.raises(KeyFormatError, match="exactly one key, found 2 x509"):
        load_key(mat.x509_bundle)


def test_explicit_key_type(mat: Material) -> None:
    assert load_key(mat.x509_pem, key_type="x509").fingerprint == mat.x509_fp
    assert load_key(mat.ssh_pub, key_type=KeyType.SSH).fingerprint == mat.ssh_fp
    with pytest.raises(KeyFormatError):
        load_key(mat.ssh_pub, key_type="openpgp")
    with pytest.raises(KeyFormatError):
        load_key(mat.pgp_armor, key_type=3)
    with pytest.raises(UnsupportedKeyType):
        load_key(mat.ssh_pub, key_type="pkcs11")


# ------------------------------------------------------------------ refusals


def _private_inputs(mat: Material) -> dict[str, bytes]:
    return {
        "openssh": mat.ssh_private,
        "openssh-unarmoured": b"".join(mat.ssh_private.splitlines()[1:-1]),
        "pgp-armor": mat.pgp_secret_armor,
        "pgp-binary": mat.pgp_secret_binary,
        "pkcs8-pem": mat.pkcs8_pem,
        "pkcs8-der": mat.pkcs8_der,
        "pub-then-private": mat.ssh_pub + mat.ssh_private,
        "cert-then-key": mat.x509_pem + mat.pkcs8_pem,
        "putty": b"PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\n",
    }


@pytest.mark.parametrize(
    "kind", ["openssh", "openssh-unarmoured", "pgp-armor", "pgp-binary", "pkcs8-pem",
             "pkcs8-der", "pub-then-private", "cert-then-key", "putty"],
)
def test_private_keys_refused_without_echo(mat: Material, kind: str) -> None:
    data = _private_inputs(mat)[kind]
    for call in (load_key, load_keys, detect_key_type):
        with pytest.raises(PrivateKeyError) as info:
            call(data)
        message = str(info.value)
        assert "\n" not in message
        for line in data.splitlines():
            if len(line) >= 16:
                assert line.decode("latin-1") not in message
        assert base64.b64encode(data[:24]).decode()[:16] not in message


def test_unrecognised_and_mixed(mat: Material) -> None:
    with pytest.raises(KeyFormatError, match="unrecognised binary"):
        load_key(b"\x01\x02\xff\xfe" * 10)
    with pytest.raises(KeyFormatError, match="mixes"):
        load_key(mat.x509_pem + mat.pgp_armor)
    with pytest.raises(KeyFormatError):
        load_key("hello world")
    with pytest.raises(KeyFormatError, match="empty"):
        load_key(b"  \n")
    with pytest.raises(KeyFormatError, match="1 MiB"):
        load_key(b"ssh-ed25519 " + b"A" * (2 << 20))
    with pytest.raises(KeyFormatError):
        load_key(12345)  # type: ignore[arg-type]


# ------------------------------------------------------------------ canonical material


@pytest.mark.parametrize("field", ["ssh_pub", "ssh_cert", "pgp_armor", "x509_pem"])
def test_material_round_trip(mat: Material, field: str) -> None:
    key = load_key(getattr(mat, field))
    again = load_material(key.key_type, key.material)
    assert again.material == key.material
    assert again.fingerprint == key.fingerprint
    assert load_material(int(key.key_type), bytearray(key.material)).material == key.material
    assert load_material(key.key_type.label, memoryview(key.material)).fingerprint == key.fingerprint


def test_ssh_material_is_the_wire_blob(mat: Material) -> None:
    blob = base64.b64decode(mat.ssh_pub.split()[1])
    assert load_key(mat.ssh_pub).material == blob
    assert load_material(KeyType.SSH, blob).fingerprint == mat.ssh_fp


def test_non_canonical_material_refused(mat: Material) -> None:
    with pytest.raises(KeyFormatError):
        load_material(KeyType.X509, mat.x509_der + b"\x00")
    with pytest.raises(KeyFormatError, match="DER"):
        load_material(KeyType.X509, mat.x509_pem)
    with pytest.raises(KeyFormatError):
        load_material(KeyType.OPENPGP, mat.pgp_armor)  # armor is not canonical material
    with pytest.raises(KeyFormatError):
        load_material(KeyType.SSH, mat.ssh_pub)  # text line, not the blob
    blob = base64.b64decode(mat.ssh_pub.split()[1])
    with pytest.raises(KeyFormatError):
        load_material(KeyType.SSH, blob + b"\x00")
    with pytest.raises(PrivateKeyError):
        load_material(KeyType.OPENPGP, mat.pgp_secret_binary)
    with pytest.raises(PrivateKeyError):
        load_material(KeyType.X509, mat.pkcs8_der)


def test_gpg_export_vs_canonical(mat: Material) -> None:
    """gpg's binary export either is already canonical or is refused as 'not canonical'."""
    key = load_key(mat.pgp_binary)
    if key.material == mat.pgp_binary:
        assert load_material(KeyType.OPENPGP, mat.pgp_binary).fingerprint == mat.pgp_fpr
    else:
        with pytest.raises(KeyFormatError, match="not canonical"):
            load_material(KeyType.OPENPGP, mat.pgp_binary)


def test_material_argument_errors(mat: Material) -> None:
    with pytest.raises(UnsupportedKeyType):
        load_material(9, mat.x509_der)
    with pytest.raises(UnsupportedKeyType):
        load_material(None, mat.x509_der)  # type: ignore[arg-type]
    with pytest.raises(KeyFormatError, match="bytes"):
        load_material(KeyType.X509, mat.x509_pem.decode())  # type: ignore[arg-type]
    with pytest.raises(KeyFormatError, match="at most"):
        load_material(KeyType.SSH, b"\x00" * (MAX_MATERIAL + 1))
    with pytest.raises(KeyFormatError, match="empty"):
        load_material(KeyType.OPENPGP, b"")


# ------------------------------------------------------------------ import cost


def test_import_registry_keys_is_cheap() -> None:
    code = (
        "import sys, registry.keys, registry.keys._load; "
        "heavy = [m for m in sys.modules if m.split('.')[0] in "
        "('cryptography', 'pysequoia', 'web3', 'eth_utils')]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
