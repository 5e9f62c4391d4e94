"""Fixtures for the policy and proof tests: keys from the real tools, and hand-built bad keys.

Real ssh-keygen / gpg / openssl make everything they can make (including
RSA-1024, DSA, ssh-rsa CA signatures, unknown critical options); what they
refuse to produce (MD5 self-signatures, a ROCA modulus, bad ECDH parameters...)
is built here with ``cryptography`` and small wire-format writers.
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from registry.keys import KeyType, commitment, sha256_b64
from tests.conftest import require_tool

#: The real clock (to the second). Material made by real tools (gpg, ssh-keygen) carries times
#: from the real clock, and so does what these tests build next to it (PGPKey, own SSH
#: certificates): every time is NOW plus or minus hours or days, far from the dates lints
#: change at, and checks of such material run at NOW.
NOW = datetime.now(UTC).replace(microsecond=0)
#: A fixed instant for material built here with ``cryptography`` alone (make_ca, make_leaf:
#: the X.509 tests) and for keys that carry no time (plain SSH keys): those checks pass
#: ``at=FIXED`` (or an explicit date), so no result depends on today's date -- the CA/B
#: Forum validity schedule (47 days from 2029-03-15) and the NIST 112-bit cut-off (2031)
#: would otherwise turn passing cases into failures on those dates.
FIXED = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


# ----------------------------------------------------------------------------- key objects


@dataclass(frozen=True)
class StubKey:
    """Minimal Key for material the real parsers (rightly) refuse."""

    key_type: KeyType
    material: bytes

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.material).hexdigest()

    @property
    def commitment(self) -> bytes:
        return commitment(self.key_type, self.material)


def make_key(kt: KeyType, material: bytes) -> Any:
    """Parse with the key layer when it accepts the material; otherwise a stub."""
    from registry.errors import Error
    from registry.keys import load_material

    try:
        return load_material(kt, material)
    except Error:
        return StubKey(kt, material)


def ssh_key_from_file(path: Path) -> Any:
    blob = base64.b64decode(path.read_text().split()[1])
    return make_key(KeyType.SSH, blob)


# ----------------------------------------------------------------------------- tools


def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
        input: bytes | None = None) -> bytes:
    out = subprocess.run(args, cwd=cwd, env=env, input=input, capture_output=True, check=False,
                         timeout=120)
    if out.returncode:
        raise AssertionError(f"{args[0]} failed: {out.stderr.decode(errors='replace')}")
    return out.stdout


class SSHTools:
    def __init__(self, d: Path) -> None:
        self.d = d

    def keygen(self, name: str, *args: str) -> Path:
        p = self.d / name
        if not p.exists():
            run("ssh-keygen", "-q", "-N", "", "-C", "test", "-f", str(p), *args)
        return p

    def cert(self, name: str, ca: str, key: str, *args: str) -> Path:
        src = self.d / f"{key}.pub"
        dst = self.d / f"{name}.pub"
        if not dst.exists():
            tmp = self.d / f"{name}-src.pub"
            tmp.write_bytes(src.read_bytes())
            run("ssh-keygen", "-q", "-s", str(self.d / ca), "-I", "test-id", *args, str(tmp))
            (self.d / f"{name}-src-cert.pub").rename(dst)
        return dst

    def sign(self, key: str, data: bytes, namespace: str = "keyanchor") -> bytes:
        msg = self.d / "statement.txt"
        msg.write_bytes(data)
        sig = self.d / "statement.txt.sig"
        sig.unlink(missing_ok=True)
        run("ssh-keygen", "-Y", "sign", "-n", namespace, "-f", str(self.d / key), str(msg))
        return sig.read_bytes()


@pytest.fixture(scope="session")
def ssh_tools(tmp_path_factory: pytest.TempPathFactory) -> SSHTools:
    require_tool("ssh-keygen")
    return SSHTools(tmp_path_factory.mktemp("ssh"))


class GPG:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.env = {**os.environ, "GNUPGHOME": str(home)}

    def __call__(self, *args: str, input: bytes | None = None) -> bytes:
        return run("gpg", "--batch", "--quiet", "--pinentry-mode", "loopback", "--passphrase",
                   "", *args, env=self.env, input=input)

    def gen(self, uid: str, algo: str = "ed25519", usage: str = "default",
            expire: str = "2y") -> str:
        self("--quick-gen-key", uid, algo, usage, expire)
        return self.fpr(uid)

    def fpr(self, uid: str) -> str:
        out = self("--with-colons", "--list-keys", uid).decode()
        return next(line.split(":")[9] for line in out.splitlines() if line.startswith("fpr"))

    def export(self, fpr: str) -> bytes:
        return self("--export", fpr)

    def sign(self, fpr: str, data: bytes, *extra: str) -> bytes:
        msg = self.home / "statement.txt"
        msg.write_bytes(data)
        out = self.home / "statement.txt.sig"
        out.unlink(missing_ok=True)
        self("--detach-sign", "--local-user", fpr, *extra, "--output", str(out), str(msg))
        return out.read_bytes()


@pytest.fixture(scope="session")
def gpg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GPG]:
    require_tool("gpg")
    home = tmp_path_factory.mktemp("gnupg")
    home.chmod(0o700)
    g = GPG(home)
    yield g
    subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=g.env, capture_output=True,
                   check=False)


@pytest.fixture(scope="session")
def openssl_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_tool("openssl")
    return tmp_path_factory.mktemp("openssl")


# ----------------------------------------------------------------------------- SSH wire


def s(b: bytes) -> bytes:
    return struct.pack(">I", len(b)) + b


def mpint(v: int) -> bytes:
    return s(v.to_bytes((v.bit_length() + 8) // 8, "big") if v else b"")


def ssh_rsa_blob(n: int, e: int = 65537) -> bytes:
    return s(b"ssh-rsa") + mpint(e) + mpint(n)


def ssh_sk_blob(app: str) -> bytes:
    return s(b"sk-ssh-ed25519@openssh.com") + s(os.urandom(32)) + s(app.encode())


# ----------------------------------------------------------------------------- RSA helpers


def is_probable_prime(n: int) -> bool:
    if n < 2:
        return False
    for p in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        if n % p == 0:
            return n == p
    d, r = n - 1, 0
    while d % 2 == 0:
        d //= 2
        r += 1
    for a in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def next_prime(n: int) -> int:
    n |= 1
    while not is_probable_prime(n):
        n += 2
    return n


def close_primes_modulus(bits: int = 2048) -> int:
    p = next_prime(int.from_bytes(os.urandom(bits // 16), "big") | (1 << (bits // 2 - 1)))
    q = next_prime(p + 2)
    return p * q


def roca_like_modulus(bits: int = 2048) -> int:
    """A number with the ROCA residue structure (n = 1 mod every ROCA prime)."""
    from registry.policy._binding_lints import _ROCA_PRIMES

    m = 1
    for p in _ROCA_PRIMES:
        m *= p
    k = (1 << (bits - 1)) // m + 2
    k += k % 2  # even k keeps n odd
    return k * m + 1


# ----------------------------------------------------------------------------- OpenPGP builder


def pgp_packet(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 192:
        hdr = bytes([n])
    elif n < 8384:
        n2 = n - 192
        hdr = bytes([(n2 >> 8) + 192, n2 & 0xFF])
    else:
        hdr = b"\xff" + n.to_bytes(4, "big")
    return bytes([0xC0 | tag]) + hdr + body


def pgp_mpi(v: int | bytes) -> bytes:
    raw = v if isinstance(v, bytes) else v.to_bytes((v.bit_length() + 7) // 8 or 1, "big")
    bits = int.from_bytes(raw, "big").bit_length()
    return bits.to_bytes(2, "big") + raw.lstrip(b"\0")


def subpacket(kind: int, data: bytes, critical: bool = False) -> bytes:
    body = bytes([kind | (0x80 if critical else 0)]) + data
    return bytes([len(body)]) + body if len(body) < 192 else b"\xff" + len(body).to_bytes(4, "big") + body


_ED_OID = bytes.fromhex("2b06010401da470f01")
_CV_OID = bytes.fromhex("2b060104019755010501")
_P256_OID = bytes.fromhex("2a8648ce3d030107")


class PGPKey:
    """A v4 key (Ed25519 legacy EdDSA, RSA, or an encryption-only body) that can sign."""

    def __init__(self, kind: str = "ed25519", created: datetime | None = None, bits: int = 2048,
                 body: bytes | None = None) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

        self.created = created or NOW - timedelta(days=1)
        ts = int(self.created.timestamp()).to_bytes(4, "big")
        self.priv: Any = None
        if body is not None:
            self.body = b"\x04" + ts + body
        elif kind == "ed25519":
            self.priv = ed25519.Ed25519PrivateKey.generate()
            pub = self.priv.public_key().public_bytes(serialization.Encoding.Raw,
                                                      serialization.PublicFormat.Raw)
            self.body = b"\x04" + ts + bytes([22, len(_ED_OID)]) + _ED_OID + pgp_mpi(b"\x40" + pub)
        elif kind == "rsa":
            self.priv = rsa.generate_private_key(65537, bits)
            nums = self.priv.public_key().public_numbers()
            self.body = b"\x04" + ts + b"\x01" + pgp_mpi(nums.n) + pgp_mpi(nums.e)
        else:
            raise ValueError(kind)
        self.fpr = hashlib.sha1(b"\x99" + len(self.body).to_bytes(2, "big") + self.body).digest()
        self.algo = self.body[5]

    def prefix(self) -> bytes:
        return b"\x99" + len(self.body).to_bytes(2, "big") + self.body

    def sign(self, sig_type: int, prefix: bytes, *, hash_algo: int = 8,
             hashed: list[bytes] | None = None, unhashed: list[bytes] | None = None,
             created: datetime | None = None, issuer_fpr: bool = True) -> bytes:
        """A v4 signature packet body."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding
        from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

        when = created or NOW - timedelta(hours=1)
        sub = [subpacket(2, int(when.timestamp()).to_bytes(4, "big"))]
        if issuer_fpr:
            sub.append(subpacket(33, b"\x04" + self.fpr))
        sub += hashed or []
        hashed_area = b"".join(sub)
        head = bytes([4, sig_type, self.algo, hash_algo]) + len(hashed_area).to_bytes(2, "big") \
            + hashed_area
        hname = {1: "md5", 2: "sha1", 8: "sha256", 10: "sha512"}[hash_algo]
        h = hashlib.new(hname, prefix + head + b"\x04\xff" + len(head).to_bytes(4, "big"))
        digest = h.digest()
        if self.algo == 22:
            sig = self.priv.sign(digest)
            fields = pgp_mpi(sig[:32]) + pgp_mpi(sig[32:])
        else:
            chash = {"md5": hashes.MD5(), "sha1": hashes.SHA1(), "sha256": hashes.SHA256(),
                     "sha512": hashes.SHA512()}[hname]
            fields = pgp_mpi(self.priv.sign(digest, padding.PKCS1v15(), Prehashed(chash)))
        if unhashed is None:
            unhashed = [] if issuer_fpr else [subpacket(16, self.fpr[-8:])]
        un = b"".join(unhashed)
        return head + len(un).to_bytes(2, "big") + un + digest[:2] + fields


def uid_prefix(key: PGPKey, uid: bytes) -> bytes:
    return key.prefix() + b"\xb4" + len(uid).to_bytes(4, "big") + uid


def build_cert(
    *,
    primary: PGPKey | None = None,
    uid: str = "Alice <alice@example.org>",
    hash_algo: int = 8,
    expire_days: int | None = 730,
    uid_extra: list[bytes] | None = None,
    subkeys: list[tuple[PGPKey, int, bool]] = (),  # type: ignore[assignment]
    revoke_key: bool = False,
    revoke_uid: bool = False,
    revoke_subkey: bool = False,
    rev_hash: int = 8,
    issuer_fpr: bool = True,
    uid_sig_created: datetime | None = None,
    extra_packets: bytes = b"",
    with_uid_sig: bool = True,
) -> bytes:
    """A v4 certificate signed with our own code; each knob makes one lint fail."""
    pk = primary or PGPKey()
    out = pgp_packet(6, pk.body)
    if revoke_key:
        out += pgp_packet(2, pk.sign(0x20, pk.prefix(), hash_algo=rev_hash))
    u = uid.encode()
    out += pgp_packet(13, u)
    hashed = [subpacket(27, b"\x03"), subpacket(25, b"\x01")]
    if expire_days is not None:
        hashed.append(subpacket(9, (expire_days * 86400).to_bytes(4, "big")))
    hashed += uid_extra or []
    if with_uid_sig:
        out += pgp_packet(2, pk.sign(0x13, uid_prefix(pk, u), hash_algo=hash_algo, hashed=hashed,
                                     issuer_fpr=issuer_fpr, created=uid_sig_created))
    if revoke_uid:
        out += pgp_packet(2, pk.sign(0x30, uid_prefix(pk, u), hash_algo=rev_hash))
    for sk, flags, backsig in subkeys:
        out += pgp_packet(14, sk.body)
        prefix = pk.prefix() + sk.prefix()
        sub_hashed = [subpacket(27, bytes([flags]))]
        if backsig:
            emb = sk.sign(0x19, prefix)
            sub_hashed.append(subpacket(32, emb))
        out += pgp_packet(2, pk.sign(0x18, prefix, hash_algo=hash_algo, hashed=sub_hashed))
        if revoke_subkey:
            out += pgp_packet(2, pk.sign(0x28, prefix, hash_algo=rev_hash))
    return out + extra_packets


def ecdh_body(kdf_hash: int = 8, kek: int = 9) -> bytes:
    point = b"\x40" + os.urandom(32)
    return bytes([18, len(_CV_OID)]) + _CV_OID + pgp_mpi(point) + bytes([3, 1, kdf_hash, kek])


def elgamal_body() -> bytes:
    return bytes([16]) + pgp_mpi((1 << 2047) + 1) + pgp_mpi(5) + pgp_mpi((1 << 2046) + 3)


def dsa_body() -> bytes:
    return bytes([17]) + pgp_mpi((1 << 2047) + 1) + pgp_mpi((1 << 223) + 1) + pgp_mpi(3) \
        + pgp_mpi(7)


def pgp_key(material: bytes) -> Any:
    return make_key(KeyType.OPENPGP, material)


# ----------------------------------------------------------------------------- X.509 builder


@dataclass
class CA:
    key: Any
    cert: Any


def _name(cn: str) -> Any:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]) if cn else x509.Name([])


def make_ca(cn: str = "Test CA") -> CA:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    b = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn))
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(FIXED - timedelta(days=30)).not_valid_after(FIXED + timedelta(days=3650))
         .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
         .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                        critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                        critical=False))
    return CA(key, b.sign(key, hashes.SHA256()))


def make_leaf(
    ca: CA,
    *,
    key: Any = None,
    public_key: Any = None,
    cn: str = "web.example.org",
    dns: tuple[str, ...] = ("web.example.org",),
    emails: tuple[str, ...] = (),
    san_critical: bool = False,
    eku: tuple[Any, ...] | None = None,
    ku: dict[str, bool] | None = None,
    days: int = 90,
    not_before: datetime | None = None,
    serial: int | None = None,
    hash_alg: Any = None,
    bc: tuple[bool, bool] | None = None,  # (ca, critical)
) -> Any:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID

    if public_key is None:
        key = key or ec.generate_private_key(ec.SECP256R1())
        public_key = key.public_key()
    nb = not_before or FIXED - timedelta(days=1)
    b = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(ca.cert.subject)
         .public_key(public_key)
         .serial_number(serial if serial is not None else x509.random_serial_number())
         .not_valid_before(nb).not_valid_after(nb + timedelta(days=days) - timedelta(seconds=1)))
    names = [x509.DNSName(d) for d in dns] + [x509.RFC822Name(e) for e in emails]
    if names:
        b = b.add_extension(x509.SubjectAlternativeName(names), critical=san_critical)
    if eku is None:
        eku = (ExtendedKeyUsageOID.SERVER_AUTH,)
    if eku:
        b = b.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    kus = {"digital_signature": True, "content_commitment": False, "key_encipherment": False,
           "data_encipherment": False, "key_agreement": False, "key_cert_sign": False,
           "crl_sign": False, "encipher_only": False, "decipher_only": False}
    kus.update(ku or {})
    b = b.add_extension(x509.KeyUsage(**kus), critical=True)
    if bc is not None:
        b = b.add_extension(x509.BasicConstraints(ca=bc[0], path_length=None), critical=bc[1])
    b = b.add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
    )
    return b.sign(ca.key, hash_alg or hashes.SHA256())


def x509_key(cert: Any) -> Any:
    from cryptography.hazmat.primitives.serialization import Encoding

    return make_key(KeyType.X509, cert.public_bytes(Encoding.DER))


@pytest.fixture(scope="session")
def ca() -> CA:
    return make_ca()


__all__ = ["FIXED", "NOW", "sha256_b64"]
