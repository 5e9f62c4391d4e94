"""Proof of possession: the statement a key holder signs, and its verification.

    stmt = statement(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3",
                     "alice@example.org", owner, key.commitment)
    verify_proof(key, open("statement.txt.sig", "rb").read(), stmt)

The statement is a fixed, domain-separated UTF-8 text (``\\n`` line ends, one
trailing newline)::

    keyanchor proof of possession v1
    chain-id: 31337
    registry: 0x5fbdb2315678afecb367f032d93f642f64180aa3
    name: alice@example.org
    owner: 0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266
    commitment: 0x<64 lower-case hex>

The name is normalised with :func:`registry.names.parse_name`; addresses and
the commitment are lower-case hex with ``0x``. Users sign it with their own
tools (see :func:`proof_commands`), so private keys never enter keyanchor:

* SSH: an SSHSIG (``ssh-keygen -Y sign -n keyanchor``), armored or binary.
  Namespace ``keyanchor``, hash ``sha256`` or ``sha512``; signature
  algorithms ``ssh-ed25519``, ``ecdsa-sha2-nistp256/384/521``,
  ``rsa-sha2-256/512`` and the ``sk-`` security-key variants. ``ssh-rsa``
  (SHA-1) and DSA are refused. The signing public key must be the registered
  key (for a certificate: the certified key, or the certificate itself).
* OpenPGP: a detached signature (``gpg --detach-sign``, binary or armored),
  verified with pysequoia (Sequoia's standard policy) by a signing-capable
  key of the certificate.
* X.509: the raw signature by the certificate's key over the statement bytes,
  binary or base64 text. Ed25519/Ed448: the plain signature
  (``openssl pkeyutl -sign -rawin``); ECDSA: DER ``ECDSA-Sig-Value`` over
  SHA-256; RSA: PKCS#1 v1.5 or PSS (any salt length) over SHA-256
  (``openssl dgst -sha256 -sign``).

Proofs over :data:`MAX_PROOF_INPUT` bytes and statements over
:data:`MAX_STATEMENT` bytes are refused before any parsing (the contract keeps
at most 2,048 proof bytes; armor adds a third).

Pure layer: no network, no chain. Every failure raises :class:`ProofError`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from registry.errors import Error, InvalidName, ProofError
from registry.keys._ssh import (
    SSHPublicKey,
    _get_bytes,
    _get_mpint,
    _get_u32,
    _sshstr,
    load_ssh_blob,
)

__all__ = [
    "MAX_PROOF_INPUT",
    "MAX_STATEMENT",
    "NAMESPACE",
    "STATEMENT_HEADER",
    "ProofResult",
    "Statement",
    "parse_statement",
    "proof_commands",
    "ssh_proof_signature_algorithm",
    "statement",
    "verify_proof",
]

#: SSHSIG namespace every keyanchor proof must use.
NAMESPACE = "keyanchor"
#: First line of every statement (the domain separator; the version bumps on any format change).
STATEMENT_HEADER = "keyanchor proof of possession v1"

#: Largest proof (signature file) read, in bytes; larger ones are refused before parsing.
#: An armored SSHSIG by an RSA-16384 key is under 6 KiB; 1 MiB of empty OpenPGP packets cost
#: Sequoia 130 ms and 48 MB.
MAX_PROOF_INPUT = 16 * 1024
#: Largest statement read, in bytes (a canonical statement is under 400).
MAX_STATEMENT = 4096

_ADDRESS = re.compile(r"0x[0-9a-f]{40}\Z")
_HEX32 = re.compile(r"0x[0-9a-f]{64}\Z")


# --------------------------------------------------------------------------- statement


@dataclass(frozen=True, slots=True)
class Statement:
    """The fields of a parsed statement (all normalised)."""

    chain_id: int
    registry: str
    name: str
    owner: str
    commitment: bytes

    def to_bytes(self) -> bytes:
        return (
            f"{STATEMENT_HEADER}\n"
            f"chain-id: {self.chain_id}\n"
            f"registry: {self.registry}\n"
            f"name: {self.name}\n"
            f"owner: {self.owner}\n"
            f"commitment: 0x{self.commitment.hex()}\n"
        ).encode("ascii")


def _address(value: str | bytes, what: str) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        if len(raw) != 20:
            raise ProofError(f"{what} address must be 20 bytes, got {len(raw)}")
        return "0x" + raw.hex()
    text = str(value).strip().lower()
    if not text.startswith("0x"):
        text = "0x" + text
    if not _ADDRESS.match(text):
        raise ProofError(f"{what} address {value!r} is not 0x followed by 40 hex digits")
    return text


def _commitment(value: str | bytes) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
    else:
        text = str(value).strip().lower()
        if not text.startswith("0x"):
            text = "0x" + text
        if not _HEX32.match(text):
            raise ProofError(f"commitment {value!r} is not 0x followed by 64 hex digits")
        raw = bytes.fromhex(text[2:])
    if len(raw) != 32:
        raise ProofError(f"commitment must be 32 bytes, got {len(raw)}")
    return raw


def _name(value: Any) -> str:
    from registry.names import parse_name

    try:
        return parse_name(value).text
    except InvalidName as exc:
        raise ProofError(f"statement name: {exc}") from exc


def statement(
    chain_id: int,
    registry_address: str | bytes,
    name: Any,
    owner: str | bytes,
    commitment: str | bytes,
) -> bytes:
    """Return the statement bytes a key holder signs to prove possession.

    Raises:
        ProofError: a field is malformed (negative chain id, bad address,
            commitment not 32 bytes, name breaking the grammar).
    """
    if isinstance(chain_id, bool) or not isinstance(chain_id, int) or chain_id < 0:
        raise ProofError(f"chain id must be a non-negative integer, got {chain_id!r}")
    return Statement(
        chain_id, _address(registry_address, "registry"), _name(name),
        _address(owner, "owner"), _commitment(commitment),
    ).to_bytes()


def parse_statement(data: bytes | str) -> Statement:
    """Parse statement bytes back into fields; the text must be exactly canonical.

    Raises:
        ProofError: not a keyanchor v1 statement, or not in canonical form.
    """
    if len(data) > MAX_STATEMENT:
        raise ProofError(f"statement of {len(data)} bytes is not a keyanchor statement"
                         f" (they are under {MAX_STATEMENT} bytes)")
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as exc:
        raise ProofError("statement is not ASCII text") from exc
    lines = text.split("\n")
    if len(lines) != 7 or lines[-1] != "" or lines[0] != STATEMENT_HEADER:
        raise ProofError(f"not a keyanchor statement (expected {STATEMENT_HEADER!r} and 5 fields)")
    fields: dict[str, str] = {}
    for line, key in zip(lines[1:6], ("chain-id", "registry", "name", "owner", "commitment"),
                         strict=True):
        prefix = key + ": "
        if not line.startswith(prefix):
            raise ProofError(f"statement line {line!r} should start with {prefix!r}")
        fields[key] = line[len(prefix):]
    if not fields["chain-id"].isdigit():
        raise ProofError("statement chain-id is not a decimal number")
    parsed = Statement(
        int(fields["chain-id"]), _address(fields["registry"], "registry"), _name(fields["name"]),
        _address(fields["owner"], "owner"), _commitment(fields["commitment"]),
    )
    if parsed.to_bytes() != raw:
        raise ProofError("statement is not in canonical form (case, spacing or name normalisation)")
    return parsed


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class ProofResult:
    """A verified proof: who signed, with what."""

    key_type: str  # "ssh", "openpgp", "x509"
    signer: str  # fingerprint of the signing key
    algorithm: str  # signature algorithm
    hash_algorithm: str
    details: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- SSH
# Keys are registry.keys._ssh.SSHPublicKey objects; the SSHSIG envelope and the
# signature blobs are read with the same (value, rest) wire readers.

_SK_ED25519 = "sk-ssh-ed25519@openssh.com"


def _load_ssh(key: Any, material: bytes) -> SSHPublicKey:
    if isinstance(key, SSHPublicKey):
        return key
    try:
        return load_ssh_blob(material)
    except Error as exc:
        raise ProofError(f"malformed SSH key blob: {exc}") from exc


def ssh_public_key(key: SSHPublicKey) -> Any:
    """The ``cryptography`` public key of an SSH key (for a certificate, the certified key).

    DSA keys included.

    Raises:
        ProofError: the key parameters are invalid (e.g. a point not on the curve).
    """
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa

    p: dict[str, Any] = dict(key.parameters)
    alg = key.plain_algorithm
    try:
        if alg == "ssh-rsa":
            return rsa.RSAPublicNumbers(p["e"], p["n"]).public_key()
        if alg in ("ssh-ed25519", _SK_ED25519):
            return ed25519.Ed25519PublicKey.from_public_bytes(p["pk"])
        if "curve" in p:
            curve = {"nistp256": ec.SECP256R1(), "nistp384": ec.SECP384R1(),
                     "nistp521": ec.SECP521R1()}.get(p["curve"])
            if curve is None:
                raise ProofError(f"unsupported ECDSA curve {p['curve']!r}")
            return ec.EllipticCurvePublicKey.from_encoded_point(curve, p["point"])
        if alg == "ssh-dss":
            return dsa.DSAPublicNumbers(p["y"], dsa.DSAParameterNumbers(p["p"], p["q"], p["g"])
                                        ).public_key()
    except ProofError:
        raise
    except (ValueError, TypeError) as exc:
        raise ProofError(f"invalid {alg} public key: {exc}") from exc
    raise ProofError(f"unsupported SSH key type {alg}")


_SSH_SIG_HASH = {"rsa-sha2-256": "sha256", "rsa-sha2-512": "sha512", "ssh-rsa": "sha1"}
_CURVE_HASH = {"nistp256": "sha256", "nistp384": "sha384", "nistp521": "sha512"}


def _get_ascii(data: memoryview) -> tuple[str, memoryview]:
    value, rest = _get_bytes(data)
    return value.decode("ascii"), rest


def ssh_signature_algorithm(sig_blob: bytes) -> str:
    """The algorithm name that starts an SSH signature blob.

    Raises:
        ValueError: truncated blob or a name that is not ASCII.
    """
    return _get_ascii(memoryview(sig_blob))[0]


def ssh_verify_signature(key: SSHPublicKey, sig_blob: bytes, data: bytes) -> dict[str, Any]:
    """Verify an SSH signature blob (``string alg, string sig[, flags, counter]``) by ``key``.

    ``key`` is a plain key (for a certificate, its certified key signs).
    Returns details (algorithm, and for security keys flags and counter).

    Raises:
        ProofError: malformed, algorithm not matching the key, or a bad signature.
    """
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, utils

    hash_cls: dict[str, type[Any]] = {"sha1": hashes.SHA1, "sha256": hashes.SHA256,
                                      "sha384": hashes.SHA384, "sha512": hashes.SHA512}
    try:
        alg, rest = _get_ascii(memoryview(bytes(sig_blob)))
        raw, rest = _get_bytes(rest)
        details: dict[str, Any] = {"algorithm": alg}
        if alg.startswith("sk-"):
            if not rest:
                raise ValueError("truncated")
            flags = bytes(rest[:1])
            counter, rest = _get_u32(rest[1:])
            details["flags"] = flags[0]
            details["counter"] = counter
            app = (key.application or "").encode()
            data = hashlib.sha256(app).digest() + flags + counter.to_bytes(4, "big") + \
                hashlib.sha256(data).digest()
        if rest:
            raise ValueError("trailing bytes in signature")
    except ValueError as exc:
        raise ProofError(f"malformed SSH signature: {exc}") from exc
    pub = ssh_public_key(key)
    base = key.plain_algorithm
    curve = key.curve
    try:
        if base == "ssh-rsa":
            if alg not in _SSH_SIG_HASH:
                raise ProofError(f"signature algorithm {alg} does not match an RSA key")
            pub.verify(raw, data, padding.PKCS1v15(), hash_cls[_SSH_SIG_HASH[alg]]())
        elif base in ("ssh-ed25519", _SK_ED25519):
            if alg != base:
                raise ProofError(f"signature algorithm {alg} does not match a {base} key")
            pub.verify(raw, data)
        elif curve is not None:
            if alg != base:
                raise ProofError(f"signature algorithm {alg} does not match a {base} key")
            sr, rest = _get_mpint(memoryview(raw))
            ss, _ = _get_mpint(rest)
            h = hash_cls[_CURVE_HASH.get(curve, "sha256")]()
            pub.verify(utils.encode_dss_signature(sr, ss), data, ec.ECDSA(h))
        elif base == "ssh-dss":
            if alg != "ssh-dss" or len(raw) != 40:
                raise ProofError("malformed ssh-dss signature")
            pub.verify(utils.encode_dss_signature(int.from_bytes(raw[:20], "big"),
                                                  int.from_bytes(raw[20:], "big")),
                       data, hashes.SHA1())
        else:
            raise ProofError(f"unsupported key type {base}")
    except InvalidSignature as exc:
        raise ProofError(f"{alg} signature does not verify with the key") from exc
    except ValueError as exc:
        raise ProofError(f"malformed {alg} signature: {exc}") from exc
    return details


_SSHSIG_BEGIN = b"-----BEGIN SSH SIGNATURE-----"
_SSHSIG_END = b"-----END SSH SIGNATURE-----"


@dataclass(frozen=True, slots=True)
class SSHSig:
    publickey: bytes
    namespace: str
    hash_algorithm: str
    signature: bytes
    signature_algorithm: str


def parse_sshsig(proof: bytes) -> SSHSig:
    """Decode an SSHSIG (armored or binary).

    Raises:
        ProofError: not an SSHSIG, wrong version, malformed, or over MAX_PROOF_INPUT bytes.
    """
    data = _bounded_proof(proof)
    if data.strip().startswith(_SSHSIG_BEGIN):  # armored; a binary blob is never stripped:
        data = data.strip()                      # its last byte may be 0x0a or 0x20
        end = data.find(_SSHSIG_END)
        if end < 0:
            raise ProofError("armored SSH signature without an END line")
        try:
            data = base64.b64decode(b"".join(data[len(_SSHSIG_BEGIN):end].split()), validate=True)
        except binascii.Error as exc:
            raise ProofError("armored SSH signature is not valid base64") from exc
    if not data.startswith(b"SSHSIG"):
        raise ProofError("not an SSH signature (no SSHSIG magic)")
    try:
        version, rest = _get_u32(memoryview(data)[6:])
        if version != 1:
            raise ProofError(f"unsupported SSHSIG version {version} (expected 1)")
        pk, rest = _get_bytes(rest)
        ns, rest = _get_bytes(rest)
        _reserved, rest = _get_bytes(rest)
        h, rest = _get_ascii(rest)
        sig, rest = _get_bytes(rest)
        if rest:
            raise ValueError("trailing bytes")
        return SSHSig(pk, ns.decode("utf-8"), h, sig, ssh_signature_algorithm(sig))
    except ValueError as exc:
        raise ProofError(f"malformed SSH signature: {exc}") from exc


def _bounded_proof(proof: bytes | bytearray | memoryview) -> bytes:
    size = memoryview(proof).nbytes
    if size > MAX_PROOF_INPUT:
        raise ProofError(f"proof of {size} bytes is larger than any signature keyanchor takes"
                         f" ({MAX_PROOF_INPUT} bytes); refused")
    return bytes(proof)


def ssh_proof_signature_algorithm(proof: bytes) -> str:
    """The signature algorithm inside an SSHSIG proof (e.g. ``rsa-sha2-512``).

    Raises:
        ProofError: not a well-formed SSHSIG.
    """
    return parse_sshsig(proof).signature_algorithm


def _verify_ssh(key: Any, material: bytes, proof: bytes, message: bytes) -> ProofResult:
    ssh = _load_ssh(key, material)
    sig = parse_sshsig(proof)
    if sig.namespace != NAMESPACE:
        raise ProofError(f"SSH signature namespace is {sig.namespace!r}, expected {NAMESPACE!r}"
                         f" (sign with ssh-keygen -Y sign -n {NAMESPACE})")
    if sig.hash_algorithm not in ("sha256", "sha512"):
        raise ProofError(f"SSH signature hash {sig.hash_algorithm!r} refused (sha256 or sha512)")
    if sig.signature_algorithm == "ssh-rsa":
        raise ProofError("ssh-rsa (SHA-1) signatures are refused; use rsa-sha2-256 or rsa-sha2-512")
    if sig.signature_algorithm == "ssh-dss":
        raise ProofError("ssh-dss (DSA) signatures are refused")
    if sig.publickey not in (ssh.public_blob, ssh.material):
        raise ProofError("the SSH signature was made by a different key than the registered one")
    h = hashlib.new(sig.hash_algorithm, message).digest()
    signed = (b"SSHSIG" + _sshstr(NAMESPACE.encode()) + _sshstr(b"")
              + _sshstr(sig.hash_algorithm.encode()) + _sshstr(h))
    details = ssh_verify_signature(ssh, sig.signature, signed)
    from registry.keys import sha256_b64

    return ProofResult("ssh", sha256_b64(ssh.public_blob), details.pop("algorithm"),
                       sig.hash_algorithm, details)


# --------------------------------------------------------------------------- OpenPGP


def _verify_openpgp(material: bytes, proof: bytes, message: bytes) -> ProofResult:
    from registry.keys._common import sequoia

    pysequoia = sequoia()

    try:
        cert = pysequoia.Cert.from_bytes(material)
    except Exception as exc:
        raise ProofError(f"cannot read the OpenPGP certificate: {_first_line(exc)}") from exc
    try:
        sig = pysequoia.Sig.from_bytes(bytes(proof))
    except Exception as exc:
        raise ProofError(f"not an OpenPGP signature: {_first_line(exc)}") from exc
    try:
        result = pysequoia.verify(bytes=bytes(message), store=lambda _ids: [cert], signature=sig)
        valid = list(result.valid_sigs)
    except Exception as exc:
        raise ProofError(
            f"OpenPGP signature does not verify with this certificate: {_first_line(exc)}"
        ) from exc
    if not valid:
        raise ProofError("OpenPGP signature does not verify with this certificate")
    signing_key = str(getattr(valid[0], "signing_key", "")).upper()
    return ProofResult("openpgp", signing_key or str(cert.fingerprint).upper(),
                       str(sig.key_algorithm).rsplit(".", 1)[-1],
                       str(sig.hash_algorithm).rsplit(".", 1)[-1].lower(),
                       {"certificate": str(cert.fingerprint).upper()})


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# --------------------------------------------------------------------------- X.509


_B64 = re.compile(rb"[A-Za-z0-9+/=\s]+\Z")


def _x509_signature_bytes(proof: bytes) -> bytes:
    data = bytes(proof)
    stripped = data.strip()
    if stripped and _B64.match(stripped) and len(b"".join(stripped.split())) % 4 == 0:
        try:
            return base64.b64decode(b"".join(stripped.split()), validate=True)
        except binascii.Error:
            pass
    return data


def _verify_x509(material: bytes, proof: bytes, message: bytes) -> ProofResult:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa

    try:
        cert = x509.load_der_x509_certificate(material)
        pub = cert.public_key()
    except (ValueError, TypeError) as exc:
        raise ProofError(f"cannot read the certificate's public key: {exc}") from exc
    sig = _x509_signature_bytes(proof)
    fpr = hashlib.sha256(material).hexdigest().upper()
    try:
        if isinstance(pub, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            pub.verify(sig, message)
            alg = "ed25519" if isinstance(pub, ed25519.Ed25519PublicKey) else "ed448"
            return ProofResult("x509", fpr, alg, "", {})
        if isinstance(pub, ec.EllipticCurvePublicKey):
            pub.verify(sig, message, ec.ECDSA(hashes.SHA256()))
            return ProofResult("x509", fpr, f"ecdsa-{pub.curve.name}", "sha256", {})
        if isinstance(pub, rsa.RSAPublicKey):
            try:
                pub.verify(sig, message, padding.PKCS1v15(), hashes.SHA256())
                return ProofResult("x509", fpr, "rsa-pkcs1v15", "sha256", {})
            except InvalidSignature:
                pub.verify(sig, message,
                           padding.PSS(mgf=padding.MGF1(hashes.SHA256()),
                                       salt_length=padding.PSS.AUTO),
                           hashes.SHA256())
                return ProofResult("x509", fpr, "rsa-pss", "sha256", {})
    except InvalidSignature as exc:
        raise ProofError("X.509 proof signature does not verify with the certificate's key") from exc
    except ValueError as exc:
        raise ProofError(f"malformed X.509 proof signature: {exc}") from exc
    raise ProofError(f"unsupported certificate key type {type(pub).__name__}")


# --------------------------------------------------------------------------- dispatch


def verify_proof(key: Any, proof: bytes | str, statement: bytes | str) -> ProofResult:
    """Verify that ``proof`` is a signature over ``statement`` by ``key``.

    ``proof`` and ``statement`` may be bytes or text (armored signatures).

    ``key`` is a parsed key (``registry.keys``). The statement must be a
    canonical keyanchor statement naming this key's commitment; compare it
    with the one you expect (chain, registry, name, owner) before calling, or
    build it with :func:`statement` from the publish parameters.

    Raises:
        ProofError: malformed proof or statement, a statement for another key,
            a wrong namespace or hash, a refused algorithm, a bad signature, or a
            proof over MAX_PROOF_INPUT / statement over MAX_STATEMENT bytes.
    """
    from registry.keys import KeyType, commitment

    if isinstance(proof, str):  # armored SSHSIG / OpenPGP, or base64 X.509, read as text
        proof = proof.encode("utf-8")
    if proof is not None and not isinstance(proof, bytes | bytearray | memoryview):
        raise ProofError(f"proof must be bytes or str, not {type(proof).__name__}")
    if proof is None or len(proof) == 0:
        raise ProofError("no proof of possession given")
    proof = _bounded_proof(proof)
    try:
        key_type = KeyType.parse(key.key_type)
        material = bytes(key.material)
    except (AttributeError, ValueError) as exc:
        raise ProofError(f"not a parsed key: {exc}") from exc
    stmt = parse_statement(statement)
    own = commitment(key_type, material)
    if stmt.commitment != own:
        raise ProofError(
            f"the statement names commitment 0x{stmt.commitment.hex()}, but this key's is "
            f"0x{own.hex()}"
        )
    message = stmt.to_bytes()
    if key_type is KeyType.SSH:
        return _verify_ssh(key, material, bytes(proof), message)
    if key_type is KeyType.OPENPGP:
        return _verify_openpgp(material, bytes(proof), message)
    return _verify_x509(material, bytes(proof), message)


def proof_commands(key_type: Any, statement_path: str, *, key: str = "KEY",
                   out: str | None = None) -> list[str]:
    """The shell commands that sign ``statement_path`` with the user's own tools.

    ``key`` is the private key file (SSH, X.509) or the fingerprint (OpenPGP).

    Raises:
        UnsupportedKeyType: unknown key type.
    """
    from registry.keys import KeyType

    kt = KeyType.parse(key_type)
    if kt is KeyType.SSH:
        return [f"ssh-keygen -Y sign -n {NAMESPACE} -f {key} {statement_path}"
                f"   # writes {statement_path}.sig"]
    if kt is KeyType.OPENPGP:
        target = out or f"{statement_path}.sig"
        return [f"gpg --detach-sign --local-user {key} --output {target} {statement_path}"]
    target = out or f"{statement_path}.sig"
    return [
        f"openssl pkeyutl -sign -rawin -inkey {key} -in {statement_path} -out {target}"
        "   # Ed25519 / Ed448 keys",
        f"openssl dgst -sha256 -sign {key} -out {target} {statement_path}"
        "   # RSA and ECDSA keys",
    ]
