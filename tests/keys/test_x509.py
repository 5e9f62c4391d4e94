"""X.509 loading, fingerprints and rendering, checked against the real openssl."""

from __future__ import annotations

import base64
import dataclasses
import ipaddress
import json
import pickle
import random
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry.errors import KeyFormatError, PrivateKeyError
from registry.keys import KeyType, commitment
from registry.keys._x509 import (
    X509Certificate,
    load_x509_certificate,
    load_x509_chain,
    load_x509_der,
    render_der,
    render_pem,
)

pytestmark = pytest.mark.tools


def openssl(*args: str, stdin: bytes | None = None) -> bytes:
    proc = subprocess.run(
        ["openssl", *args], input=stdin, capture_output=True, check=False, timeout=60
    )
    if proc.returncode != 0:
        raise AssertionError(f"openssl {' '.join(args)} failed: {proc.stderr.decode()}")
    return proc.stdout


@dataclass
class Fixture:
    name: str
    pem_path: Path
    pem: bytes
    der: bytes
    key_path: Path


class Certs:
    """Everything generated once per session by openssl."""

    def __init__(self, root: Path) -> None:
        self.dir = root
        self.certs: dict[str, Fixture] = {}

    def path(self, name: str) -> Path:
        return self.dir / name

    def add(self, name: str, key: Path) -> Fixture:
        pem_path = self.path(f"{name}.pem")
        der = openssl("x509", "-in", str(pem_path), "-outform", "DER")
        fx = Fixture(name, pem_path, pem_path.read_bytes(), der, key)
        self.certs[name] = fx
        return fx


def _genkey(certs: Certs, name: str, *algo: str) -> Path:
    path = certs.path(f"{name}.key")
    openssl("genpkey", *algo, "-out", str(path))
    return path


def _self_signed(certs: Certs, name: str, key: Path, subject: str, *exts: str) -> Fixture:
    args = ["req", "-x509", "-new", "-key", str(key), "-subj", subject, "-days", "90",
            "-sha256", "-out", str(certs.path(f"{name}.pem"))]
    for ext in exts:
        args += ["-addext", ext]
    openssl(*args)
    return certs.add(name, key)


def _issued(certs: Certs, name: str, key: Path, subject: str, ca: str, extfile: str) -> Fixture:
    csr = certs.path(f"{name}.csr")
    openssl("req", "-new", "-key", str(key), "-subj", subject, "-out", str(csr))
    ext = certs.path(f"{name}.ext")
    ext.write_text(extfile)
    openssl("x509", "-req", "-in", str(csr), "-CA", str(certs.certs[ca].pem_path),
            "-CAkey", str(certs.certs[ca].key_path), "-set_serial", "0x1234567890ABCDEF01",
            "-days", "30", "-sha384", "-extfile", str(ext), "-out", str(certs.path(f"{name}.pem")))
    return certs.add(name, key)


LEAF_SAN = ("subjectAltName=DNS:www.Example.org,DNS:example.org,email:admin@example.org,"
            "IP:192.0.2.1,IP:2001:db8::1,URI:https://example.org/")


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    c = Certs(tmp_path_factory.mktemp("x509"))
    rsa = _genkey(c, "rsa", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048")
    p256 = _genkey(c, "p256", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256")
    p384 = _genkey(c, "p384", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384")
    ed = _genkey(c, "ed25519", "-algorithm", "ED25519")
    root_key = _genkey(c, "root", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384")
    inter_key = _genkey(c, "inter", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256")

    _self_signed(c, "rsa2048", rsa, "/C=NL/O=Example\\, Inc./CN=www.example.org", LEAF_SAN,
                 "keyUsage=critical,digitalSignature,keyEncipherment",
                 "extendedKeyUsage=serverAuth,clientAuth", "basicConstraints=critical,CA:FALSE")
    _self_signed(c, "p256", p256, "/O=Example/CN=p256.example.org",
                 "subjectAltName=DNS:p256.example.org,email:ops@example.org,IP:198.51.100.7",
                 "keyUsage=critical,digitalSignature", "extendedKeyUsage=serverAuth,1.2.3.4.5")
    _self_signed(c, "p384", p384, "/CN=p384.example.org",
                 "subjectAltName=DNS:p384.example.org,DNS:*.p384.example.org")
    _self_signed(c, "ed25519", ed, "/CN=alice@example.org",
                 "subjectAltName=email:alice@example.org",
                 "keyUsage=critical,digitalSignature,nonRepudiation",
                 "extendedKeyUsage=emailProtection")
    _self_signed(c, "root", root_key, "/O=Example CA/CN=Example Root",
                 "basicConstraints=critical,CA:TRUE",
                 "keyUsage=critical,keyCertSign,cRLSign")
    _issued(c, "inter", inter_key, "/O=Example CA/CN=Example Issuing CA", "root",
            "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n")
    _issued(c, "leaf", rsa, "/CN=leaf.example.org", "inter",
            "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
            "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:leaf.example.org,DNS:LEAF2.example.org\n")
    bundle = c.path("bundle.pem")
    bundle.write_bytes(c.certs["leaf"].pem + c.certs["inter"].pem + c.certs["root"].pem)
    # a CSR and key files for the refusal tests
    openssl("req", "-new", "-key", str(p256), "-subj", "/CN=csr.example.org",
            "-out", str(c.path("req.csr")))
    return c


ALL = ["rsa2048", "p256", "p384", "ed25519", "root", "inter", "leaf"]


# ------------------------------------------------------------------ openssl's view


def ossl_fingerprint(path: Path, *, der: bool = False) -> str:
    out = openssl("x509", "-noout", "-fingerprint", "-sha256", "-in", str(path),
                  *(["-inform", "DER"] if der else []))
    return out.decode().strip().split("=", 1)[1].replace(":", "")


def ossl_ext(path: Path, ext: str) -> str | None:
    """The value openssl prints for one extension (None when absent)."""
    out = openssl("x509", "-noout", "-ext", ext, "-in", str(path)).decode()
    lines = out.strip().splitlines()
    if not lines or lines[0].startswith("No extensions"):
        return None
    return " ".join(line.strip() for line in lines[1:])


def ossl_field(path: Path, flag: str) -> str:
    out = openssl("x509", "-noout", flag, "-nameopt", "RFC2253", "-in", str(path)).decode()
    return out.strip().split("=", 1)[1]


def ossl_date(path: Path, flag: str) -> datetime:
    text = ossl_field(path, flag)
    return datetime.strptime(" ".join(text.split()), "%b %d %H:%M:%S %Y GMT").replace(tzinfo=UTC)


OSSL_KU = {
    "Digital Signature": "digitalSignature", "Non Repudiation": "nonRepudiation",
    "Key Encipherment": "keyEncipherment", "Data Encipherment": "dataEncipherment",
    "Key Agreement": "keyAgreement", "Certificate Sign": "keyCertSign", "CRL Sign": "cRLSign",
    "Encipher Only": "encipherOnly", "Decipher Only": "decipherOnly",
}
OSSL_EKU = {
    "TLS Web Server Authentication": "serverAuth", "TLS Web Client Authentication": "clientAuth",
    "Code Signing": "codeSigning", "E-mail Protection": "emailProtection",
    "Time Stamping": "timeStamping", "OCSP Signing": "OCSPSigning",
}


# ------------------------------------------------------------------ fields vs openssl


@pytest.mark.parametrize("name", ALL)
def test_fingerprints_match_openssl(certs: Certs, name: str) -> None:
    fx = certs.certs[name]
    cert = load_x509_certificate(fx.pem)
    assert cert.material == fx.der
    assert cert.fingerprint == ossl_fingerprint(fx.pem_path)
    spki = openssl("pkey", "-pubin", "-outform", "DER",
                   stdin=openssl("x509", "-pubkey", "-noout", "-in", str(fx.pem_path)))
    digest = openssl("dgst", "-sha256", "-r", stdin=spki).decode().split()[0]
    assert cert.spki_sha256 == digest
    assert cert.key_type is KeyType.X509
    assert cert.commitment == commitment(KeyType.X509, fx.der)
    assert isinstance(cert, X509Certificate)


@pytest.mark.parametrize("name", ALL)
def test_names_serial_validity_match_openssl(certs: Certs, name: str) -> None:
    path = certs.certs[name].pem_path
    cert = load_x509_certificate(path.read_bytes())
    assert cert.subject == ossl_field(path, "-subject")
    assert cert.issuer == ossl_field(path, "-issuer")
    assert cert.serial == int(ossl_field(path, "-serial"), 16)
    assert cert.not_before == ossl_date(path, "-startdate") == cert.valid_from
    assert cert.not_after == ossl_date(path, "-enddate") == cert.valid_until
    assert cert.not_before.tzinfo is not None and cert.not_before.utcoffset().total_seconds() == 0


def test_lazy_names_keep_the_record_frozen_and_comparable(certs: Certs) -> None:
    """Subject and issuer are computed on first read; the record still compares,
    hashes, pickles and refuses assignment as before, and its repr names them."""
    path = certs.certs["leaf"].pem_path
    read, fresh = (load_x509_certificate(path.read_bytes()) for _ in range(2))
    assert read.subject == ossl_field(path, "-subject")  # only ``read`` has computed its names
    assert read == fresh and hash(read) == hash(fresh)
    assert pickle.loads(pickle.dumps(fresh)) == read
    assert pickle.loads(pickle.dumps(read)).issuer == fresh.issuer
    assert f"subject={read.subject!r}, issuer={read.issuer!r}, serial=" in repr(fresh)
    # (a frozen slots dataclass refuses names that are not fields with TypeError on 3.11)
    with pytest.raises((AttributeError, TypeError)):
        read.subject = "CN=other"  # type: ignore[misc]
    assert read.subject == fresh.subject
    with pytest.raises(dataclasses.FrozenInstanceError):
        read.fingerprint = "00"  # type: ignore[misc]


@pytest.mark.parametrize("name", ALL)
def test_extensions_match_openssl(certs: Certs, name: str) -> None:
    path = certs.certs[name].pem_path
    cert = load_x509_certificate(path.read_bytes())

    san = ossl_ext(path, "subjectAltName")
    dns, emails, ips, uris = [], [], [], []
    for item in (san.split(", ") if san else []):
        kind, _, value = item.partition(":")
        {"DNS": dns, "email": emails, "IP Address": ips, "URI": uris}[kind].append(value)
    assert list(cert.san_dns) == dns
    assert list(cert.san_emails) == emails
    assert [ipaddress.ip_address(i) for i in cert.san_ips] == [ipaddress.ip_address(i) for i in ips]
    assert list(cert.san_uris) == uris

    ku = ossl_ext(path, "keyUsage")
    assert list(cert.key_usage) == ([OSSL_KU[k] for k in ku.split(", ")] if ku else [])
    eku = ossl_ext(path, "extendedKeyUsage")
    assert list(cert.extended_key_usage) == (
        [OSSL_EKU.get(k, k) for k in eku.split(", ")] if eku else []
    )
    bc = ossl_ext(path, "basicConstraints")
    if bc is None:
        assert cert.is_ca is None and cert.path_length is None
    else:
        assert cert.is_ca is ("CA:TRUE" in bc)
        match = re.search(r"pathlen:(\d+)", bc)
        assert cert.path_length == (int(match.group(1)) if match else None)


@pytest.mark.parametrize(
    ("name", "algorithm", "bits", "exponent"),
    [("rsa2048", "rsa", 2048, 65537), ("p256", "ec-p256", 256, None),
     ("p384", "ec-p384", 384, None), ("ed25519", "ed25519", 256, None),
     ("root", "ec-p384", 384, None), ("leaf", "rsa", 2048, 65537)],
)
def test_key_and_signature_algorithms_match_openssl(
    certs: Certs, name: str, algorithm: str, bits: int, exponent: int | None
) -> None:
    path = certs.certs[name].pem_path
    cert = load_x509_certificate(path.read_bytes())
    text = openssl("x509", "-noout", "-text", "-in", str(path)).decode()
    assert cert.algorithm == algorithm
    assert cert.rsa_exponent == exponent
    if algorithm != "ed25519":  # openssl prints no size for Ed25519
        assert f"Public-Key: ({bits} bit)" in text
    assert cert.bits == bits
    if exponent:
        assert f"Exponent: {exponent} " in text
    sig = re.search(r"Signature Algorithm: (\S+)", text)
    assert sig is not None
    assert cert.signature_algorithm.lower() == sig.group(1).lower()
    expected_hash = {"ed25519": None}.get(name, "sha384" if name in ("inter", "leaf") else "sha256")
    assert cert.signature_hash == expected_hash


def test_identities_and_self_signed(certs: Certs) -> None:
    rsa = load_x509_certificate(certs.certs["rsa2048"].pem)
    assert rsa.identities == ("www.example.org", "example.org", "admin@example.org",
                              "192.0.2.1", "2001:db8::1")
    assert rsa.san_dns[0] == "www.Example.org"  # kept as issued; identities are lower-cased
    assert load_x509_certificate(certs.certs["ed25519"].pem).identities == ("alice@example.org",)
    flags = {n: load_x509_certificate(certs.certs[n].pem).self_signed for n in ALL}
    assert flags == {"rsa2048": True, "p256": True, "p384": True, "ed25519": True,
                     "root": True, "inter": False, "leaf": False}
    # openssl agrees: the root verifies against itself, the leaf does not
    openssl("verify", "-CAfile", str(certs.certs["root"].pem_path), str(certs.certs["root"].pem_path))
    proc = subprocess.run(["openssl", "verify", "-CAfile", str(certs.certs["leaf"].pem_path),
                           str(certs.certs["leaf"].pem_path)], capture_output=True, check=False)
    assert proc.returncode != 0


def test_to_dict_is_json(certs: Certs) -> None:
    cert = load_x509_certificate(certs.certs["rsa2048"].pem)
    data = json.loads(json.dumps(cert.to_dict()))
    assert data["key_type"] == "x509"
    assert bytes.fromhex(data["material"]) == cert.material
    assert data["fingerprint"] == cert.fingerprint
    assert data["not_after"].endswith("Z")
    assert datetime.fromisoformat(data["not_after"]) == cert.not_after
    assert data["commitment"] == cert.commitment.hex()


def test_to_cryptography(certs: Certs) -> None:
    cert = load_x509_certificate(certs.certs["leaf"].der)
    inter = load_x509_certificate(certs.certs["inter"].der)
    # the policy layer checks signatures with the cryptography object
    cert.to_cryptography().verify_directly_issued_by(inter.to_cryptography())
    assert cert.to_cryptography().serial_number == cert.serial == 0x1234567890ABCDEF01


# ------------------------------------------------------------------ input forms


@pytest.mark.parametrize("form", ["pem-bytes", "pem-str", "der", "bytearray", "memoryview"])
def test_input_forms(certs: Certs, form: str) -> None:
    fx = certs.certs["p256"]
    data = {"pem-bytes": fx.pem, "pem-str": fx.pem.decode(), "der": fx.der,
            "bytearray": bytearray(fx.der), "memoryview": memoryview(fx.pem)}[form]
    assert load_x509_certificate(data).material == fx.der


def test_pem_with_surrounding_text_and_crlf(certs: Certs) -> None:
    fx = certs.certs["p384"]
    text = openssl("x509", "-in", str(fx.pem_path), "-text")  # human text, then the PEM
    assert load_x509_certificate(text).material == fx.der
    assert load_x509_certificate(fx.pem.replace(b"\n", b"\r\n")).material == fx.der


def test_load_x509_der_takes_only_der(certs: Certs) -> None:
    fx = certs.certs["ed25519"]
    assert load_x509_der(fx.der).fingerprint == ossl_fingerprint(fx.pem_path)
    with pytest.raises(KeyFormatError, match="DER"):
        load_x509_der(fx.pem)
    with pytest.raises(KeyFormatError, match="trailing"):
        load_x509_der(fx.der + b"\x00")


# ------------------------------------------------------------------ chains


def test_chain_bundle(certs: Certs) -> None:
    bundle = certs.path("bundle.pem").read_bytes()
    chain = load_x509_chain(bundle)
    assert [c.material for c in chain] == [certs.certs[n].der for n in ("leaf", "inter", "root")]
    assert [c.fingerprint for c in chain] == [
        ossl_fingerprint(certs.certs[n].pem_path) for n in ("leaf", "inter", "root")
    ]
    assert chain[0].issuer == chain[1].subject and chain[1].issuer == chain[2].subject
    assert chain[1].is_ca is True and chain[1].path_length == 0
    # openssl validates the same chain
    openssl("verify", "-CAfile", str(certs.certs["root"].pem_path),
            "-untrusted", str(certs.certs["inter"].pem_path), str(certs.certs["leaf"].pem_path))
    with pytest.raises(KeyFormatError, match="load_x509_chain") as info:
        load_x509_certificate(bundle)
    assert "3" in str(info.value)
    assert [c.material for c in load_x509_chain(certs.certs["leaf"].der)] == [certs.certs["leaf"].der]


# ------------------------------------------------------------------ rendering


@pytest.mark.parametrize("name", ALL)
def test_rendered_pem_and_der_accepted_by_openssl(certs: Certs, name: str, tmp_path: Path) -> None:
    fx = certs.certs[name]
    cert = load_x509_certificate(fx.der)
    pem = render_pem(cert)
    assert pem == fx.pem.decode()  # openssl writes the same RFC 7468 layout
    (tmp_path / "out.pem").write_text(pem)
    (tmp_path / "out.der").write_bytes(render_der(cert))
    assert ossl_fingerprint(tmp_path / "out.pem") == cert.fingerprint
    assert ossl_fingerprint(tmp_path / "out.der", der=True) == cert.fingerprint
    assert load_x509_certificate(pem) == cert


def test_render_refuses_other_objects() -> None:
    with pytest.raises(KeyFormatError):
        render_pem("not a cert")  # type: ignore[arg-type]


# ------------------------------------------------------------------ bad input


def test_every_truncated_der_prefix_is_a_format_error(certs: Certs) -> None:
    for name in ("rsa2048", "ed25519"):
        der = certs.certs[name].der
        for cut in range(len(der)):  # every prefix: fast enough (~1 ms for the whole loop per 100)
            with pytest.raises(KeyFormatError) as info:
                load_x509_certificate(der[:cut])
            assert type(info.value) is KeyFormatError, (name, cut)


def test_truncated_pem_is_a_format_error(certs: Certs) -> None:
    pem = certs.certs["p256"].pem
    complete = pem.index(b"-----END CERTIFICATE-----") + len(b"-----END CERTIFICATE-----")
    for cut in [*range(0, complete, 7), complete - 1]:
        with pytest.raises(KeyFormatError):
            load_x509_certificate(pem[:cut])


def test_random_bytes_are_format_errors() -> None:
    rng = random.Random(1234)
    for _ in range(300):
        blob = rng.randbytes(rng.randrange(0, 3000))
        if rng.random() < 0.5:
            blob = b"\x30\x82" + blob
        with pytest.raises(KeyFormatError):
            load_x509_certificate(blob)


def test_pem_with_base64_garbage(certs: Certs) -> None:
    garbage = b"-----BEGIN CERTIFICATE-----\nMIIB!!notbase64$$\n-----END CERTIFICATE-----\n"
    with pytest.raises(KeyFormatError, match="base64"):
        load_x509_certificate(garbage)
    valid_b64_not_der = (b"-----BEGIN CERTIFICATE-----\n" + base64.b64encode(b"hello world" * 9)
                         + b"\n-----END CERTIFICATE-----\n")
    with pytest.raises(KeyFormatError, match="not a valid DER"):
        load_x509_certificate(valid_b64_not_der)
    pem = certs.certs["p256"].pem
    flipped = pem.replace(b"\n", b"\n=", 1)
    with pytest.raises(KeyFormatError):
        load_x509_certificate(flipped)
    with pytest.raises(KeyFormatError, match="END"):
        load_x509_certificate(pem.replace(b"-----END CERTIFICATE-----", b""))


@pytest.mark.parametrize("value", [b"", b"   \n", "", 42, None])
def test_empty_or_wrong_type(value: object) -> None:
    with pytest.raises(KeyFormatError):
        load_x509_certificate(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", [bytes, str])
def test_ten_mib_refused(kind: type) -> None:
    big = b"0" * (10 << 20)
    with pytest.raises(KeyFormatError, match="1 MiB"):
        load_x509_certificate(big if kind is bytes else big.decode())


def _private_keys(certs: Certs) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for name in ("rsa", "p256", "ed25519"):
        path = certs.path(f"{name}.key")
        out[f"{name}-pkcs8-pem"] = path.read_bytes()
        out[f"{name}-pkcs8-der"] = openssl("pkey", "-in", str(path), "-outform", "DER")
        out[f"{name}-pkcs8-encrypted-pem"] = openssl(
            "pkcs8", "-topk8", "-in", str(path), "-passout", "pass:secret")
        out[f"{name}-pkcs8-encrypted-der"] = openssl(
            "pkcs8", "-topk8", "-in", str(path), "-passout", "pass:secret", "-outform", "DER")
    rsa = str(certs.path("rsa.key"))
    out["rsa-pkcs1-pem"] = openssl("rsa", "-in", rsa, "-traditional")
    out["rsa-pkcs1-der"] = openssl("rsa", "-in", rsa, "-traditional", "-outform", "DER")
    out["ec-sec1-pem"] = openssl("ec", "-in", str(certs.path("p256.key")))
    out["ec-sec1-der"] = openssl("ec", "-in", str(certs.path("p256.key")), "-outform", "DER")
    out["pkcs12"] = openssl("pkcs12", "-export", "-in", str(certs.certs["p256"].pem_path),
                            "-inkey", str(certs.path("p256.key")), "-passout", "pass:x")
    out["cert-then-key"] = certs.certs["rsa2048"].pem + certs.path("rsa.key").read_bytes()
    out["key-inside-bundle"] = (certs.certs["leaf"].pem + certs.path("inter.key").read_bytes()
                                + certs.certs["root"].pem)
    return out


PRIVATE_KINDS = [
    *(f"{n}-{f}" for n in ("rsa", "p256", "ed25519")
      for f in ("pkcs8-pem", "pkcs8-der", "pkcs8-encrypted-pem", "pkcs8-encrypted-der")),
    "rsa-pkcs1-pem", "rsa-pkcs1-der", "ec-sec1-pem", "ec-sec1-der", "pkcs12",
    "cert-then-key", "key-inside-bundle",
]


@pytest.mark.parametrize("kind", PRIVATE_KINDS)
@pytest.mark.parametrize("loader", [load_x509_certificate, load_x509_chain])
def test_private_keys_refused_without_echo(certs: Certs, kind: str, loader: object) -> None:
    data = _private_keys(certs)[kind]
    with pytest.raises(PrivateKeyError) as info:
        loader(data)  # type: ignore[operator]
    message = str(info.value)
    assert "private key" in message.lower() or "PKCS#12" in message
    assert "\n" not in message and len(message) < 300
    for line in data.splitlines():  # no base64 line of the key, no raw bytes of it
        if len(line) >= 16:
            assert line.decode("latin-1") not in message
    assert data.hex()[:32] not in message
    # the first key byte chunks must not appear in any form in the exception chain text either
    assert "secret" not in message


def test_truncated_private_key_still_private(certs: Certs) -> None:
    der = _private_keys(certs)["rsa-pkcs8-der"]
    for cut in (8, 40, len(der) // 2, len(der) - 1):
        with pytest.raises(PrivateKeyError):
            load_x509_certificate(der[:cut])


@pytest.mark.parametrize("form", ["pem", "der"])
def test_csr_is_named(certs: Certs, form: str) -> None:
    csr = certs.path("req.csr")
    data = csr.read_bytes() if form == "pem" else openssl("req", "-in", str(csr), "-outform", "DER")
    with pytest.raises(KeyFormatError, match="certificate signing request") as info:
        load_x509_certificate(data)
    assert not isinstance(info.value, PrivateKeyError)


@pytest.mark.parametrize("form", ["pem", "der"])
def test_bare_public_key_is_named(certs: Certs, form: str) -> None:
    args = ["-outform", "DER"] if form == "der" else []
    data = openssl("pkey", "-in", str(certs.path("p256.key")), "-pubout", *args)
    with pytest.raises(KeyFormatError, match="bare public key"):
        load_x509_certificate(data)


def test_other_pem_blocks_are_named(certs: Certs) -> None:
    with pytest.raises(KeyFormatError, match="OpenPGP"):
        load_x509_certificate(b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nxjMEZ\n"
                              b"-----END PGP PUBLIC KEY BLOCK-----\n")
    with pytest.raises(KeyFormatError, match=r"not an X\.509 certificate"):
        load_x509_certificate("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG alice@example.org")


# ------------------------------------------------------------------ fuzz


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=2048))
def test_fuzz_random_bytes(data: bytes) -> None:
    try:
        cert = load_x509_certificate(data)
    except KeyFormatError:
        return
    raise AssertionError(f"random bytes parsed as {cert}")  # pragma: no cover


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_mutated_certificates(certs: Certs, data: st.DataObject) -> None:
    der = bytearray(certs.certs[data.draw(st.sampled_from(ALL))].der)
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(der) - 1))
        der[pos] = data.draw(st.integers(0, 255))
    try:
        cert = load_x509_certificate(bytes(der))
    except KeyFormatError:
        return
    # whatever parses is self-consistent and canonical
    assert cert.material == bytes(der)
    assert load_x509_der(cert.material) == cert
    assert render_der(cert) == bytes(der)


# ------------------------------------------------------------------ import cost


def test_module_import_does_not_load_cryptography() -> None:
    code = ("import sys, registry.keys._x509; "
            "print(any(m.startswith('cryptography') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("serial", ["-5", "0", "-0x0102030405060708090A"])
def test_non_positive_serial_loads_for_the_policy_to_judge(
    certs: Certs, serial: str, tmp_path: Path
) -> None:
    """RFC 5280 forbids it and cryptography warns; we load it quietly and report the value."""
    out = tmp_path / "neg.pem"
    openssl("x509", "-in", str(certs.certs["p256"].pem_path), "-signkey", str(certs.path("p256.key")),
            "-set_serial", serial, "-out", str(out))
    cert = load_x509_certificate(out.read_bytes())  # warnings are errors in this suite
    printed = ossl_field(out, "-serial")
    expected = -int(printed[1:], 16) if printed.startswith("-") else int(printed, 16)
    assert cert.serial == expected
    assert cert.serial <= 0
    assert cert.to_cryptography().tbs_certificate_bytes in cert.material
    assert cert.fingerprint == ossl_fingerprint(out)


@pytest.mark.parametrize("form", ["PEM", "DER"])
def test_pkcs7_bundle_is_named(certs: Certs, form: str) -> None:
    p7 = openssl("crl2pkcs7", "-nocrl", "-certfile", str(certs.path("bundle.pem")),
                 "-outform", form)
    with pytest.raises(KeyFormatError, match="PKCS#7") as info:
        load_x509_chain(p7)
    assert not isinstance(info.value, PrivateKeyError)


def test_certificate_larger_than_material_limit_refused() -> None:
    """The contract takes at most MAX_MATERIAL bytes; the loader says so up front."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519
    from cryptography.x509.oid import NameOID

    from registry.keys import MAX_MATERIAL

    key = ed25519.Ed25519PrivateKey.generate()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "big.example.org")])
    sans = [x509.DNSName(f"host{i:05d}.big.example.org") for i in range(600)]
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(7)
            .not_valid_before(datetime(2025, 1, 1, tzinfo=UTC))
            .not_valid_after(datetime(2026, 1, 1, tzinfo=UTC))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .sign(key, None))
    der = cert.public_bytes(serialization.Encoding.DER)
    assert len(der) > MAX_MATERIAL
    with pytest.raises(KeyFormatError, match=f"at most {MAX_MATERIAL}"):
        load_x509_certificate(der)


# ------------------------------------------------------------------ SPKI hash without re-encoding


def _tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes((tag, n)) + content
    size = (n.bit_length() + 7) // 8
    return bytes((tag, 0x80 | size)) + n.to_bytes(size, "big") + content


def _children(der: bytes) -> list[bytes]:
    """The TLVs inside one DER SEQUENCE (definite lengths only, as DER has)."""
    def header(pos: int) -> tuple[int, int]:
        first = der[pos + 1]
        if first < 0x80:
            return pos + 2, first
        count = first & 0x7F
        return pos + 2 + count, int.from_bytes(der[pos + 2 : pos + 2 + count], "big")

    start, length = header(0)
    out, pos = [], start
    while pos < start + length:
        body, size = header(pos)
        out.append(der[pos : body + size])
        pos = body + size
    return out


def _with_spki(der: bytes, spki: bytes) -> bytes:
    """``der`` with its SubjectPublicKeyInfo replaced (the signature no longer matches)."""
    tbs, sig_alg, sig = _children(der)
    fields = _children(tbs)
    index = 6 if fields[0][0] == 0xA0 else 5  # after version, serial, signature, issuer, ...
    fields[index] = spki
    return _tlv(0x30, _tlv(0x30, b"".join(fields)) + sig_alg + sig)


def test_spki_hash_of_non_canonical_encodings_is_the_reencoded_key(certs: Certs) -> None:
    """A compressed EC point or RSA parameters left out: the pin stays the hash of the key
    as cryptography encodes it (what it always was), not of the certificate's bytes."""
    import hashlib

    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        PublicFormat,
        load_der_public_key,
    )

    def reencoded(spki: bytes) -> str:
        key = load_der_public_key(spki)
        return hashlib.sha256(key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
                              ).hexdigest()

    p256 = load_x509_certificate(certs.certs["p256"].der)
    alg_id, bits = _children(_children(_children(certs.certs["p256"].der)[0])[6])
    point = bits[3:]  # BIT STRING: tag, length, unused-bits octet, then 04 || X || Y
    assert point[0] == 4 and len(point) == 65
    compressed = bytes((2 + (point[-1] & 1),)) + point[1:33]
    ec_spki = _tlv(0x30, alg_id + _tlv(0x03, b"\x00" + compressed))
    cert = load_x509_certificate(_with_spki(certs.certs["p256"].der, ec_spki))
    assert cert.spki_sha256 == reencoded(ec_spki) == p256.spki_sha256
    assert cert.spki_sha256 != hashlib.sha256(ec_spki).hexdigest()

    rsa_spki = _children(_children(certs.certs["leaf"].der)[0])[6]
    rsa_alg, rsa_bits = _children(rsa_spki)
    assert rsa_alg.endswith(b"\x05\x00")  # rsaEncryption with NULL parameters
    no_params = _tlv(0x30, _tlv(0x30, _children(rsa_alg)[0]) + rsa_bits)
    cert = load_x509_certificate(_with_spki(certs.certs["leaf"].der, no_params))
    assert cert.spki_sha256 == reencoded(no_params) == load_x509_certificate(
        certs.certs["leaf"].der).spki_sha256
    assert cert.spki_sha256 != hashlib.sha256(no_params).hexdigest()


def _cert_for(public: object) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ed25519
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509.oid import NameOID

    ca = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "web1.example.org")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(public).serial_number(7)  # type: ignore[arg-type]
            .not_valid_before(datetime(2026, 1, 1, tzinfo=UTC))
            .not_valid_after(datetime(2027, 1, 1, tzinfo=UTC))
            .sign(ca, None))
    return cert.public_bytes(Encoding.DER)


def test_a_certificate_for_a_small_order_ed25519_key_is_refused() -> None:
    """A certificate whose Ed25519 key is the identity point loaded and passed the policy:
    anyone can sign for it (TLS handshakes, possession proofs). Now it does not load."""
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from registry.keys._load import load_material

    identity = ed25519.Ed25519PublicKey.from_public_bytes((1).to_bytes(32, "little"))
    with pytest.raises(KeyFormatError, match="small-order point"):
        load_material(KeyType.X509, _cert_for(identity))
    ordinary = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(32)).public_key()
    assert load_material(KeyType.X509, _cert_for(ordinary)).algorithm == "ed25519"
