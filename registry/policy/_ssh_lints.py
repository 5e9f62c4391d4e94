"""SSH lints: key types and sizes, ECDSA curves and points, security keys, certificates.

    key = ssh_key(stub, stub.material)  # what Context.ssh holds
    print(key.plain_algorithm, dict(key.parameters))

Lints read :class:`registry.keys._ssh.SSHPublicKey` objects (the key layer's parse).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from registry.errors import KeyFormatError
from registry.keys._common import sha256_b64
from registry.keys._ssh import (
    _FORMATS,
    SSHCertificate,
    SSHPublicKey,
    _get_sshstr,
    _read_fields,
    load_ssh_blob,
)
from registry.policy._framework import (
    NOT_APPLICABLE,
    PASSED,
    Context,
    Finding,
    Source,
    Status,
    TimeBase,
    lint,
)

P, INFO, W, E = Status.PASS, Status.INFO, Status.WARN, Status.ERROR
SSH = "ssh"

#: OpenSSH 9.x default PubkeyAcceptedAlgorithms, as key types (ssh_config(5)).
OPENSSH_DEFAULT_TYPES = (
    "ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com", "ssh-rsa",
)
_CURVE_OF_TYPE = {
    "ecdsa-sha2-nistp256": "nistp256", "ecdsa-sha2-nistp384": "nistp384",
    "ecdsa-sha2-nistp521": "nistp521", "sk-ecdsa-sha2-nistp256@openssh.com": "nistp256",
}
_KNOWN_CRITICAL = {"force-command", "source-address", "verify-required"}
_FOREVER = 2**64 - 1
_CURVE_BITS = {"nistp256": 256, "nistp384": 384, "nistp521": 521}


def ssh_key(key: Any, material: bytes) -> SSHPublicKey:
    """``key`` as an :class:`SSHPublicKey`: the key itself, or ``material`` parsed.

    Plain-key material the key layer refuses (an even RSA exponent, a curve not
    matching the type, a point off the curve: stub keys in tests) is decoded
    with the key layer's field table but without its checks, so the lints can
    report what is wrong.

    Raises:
        KeyFormatError: not an SSH key blob, or a certificate the key layer refuses.
    """
    if isinstance(key, SSHPublicKey):
        return key
    try:
        return load_ssh_blob(material)
    except KeyFormatError:
        unchecked = _unchecked(material)
        if unchecked is None:
            raise
        return unchecked


def _unchecked(blob: bytes) -> SSHPublicKey | None:
    try:
        name_view, rest = _get_sshstr(memoryview(blob))
        name = bytes(name_view).decode("ascii")
        fmt = _FORMATS.get(name)
        if fmt is None and name.startswith("ecdsa-sha2-"):
            fmt = _FORMATS["ecdsa-sha2-nistp256"]  # same fields; the lints judge the curve
        if fmt is None:
            return None
        params, rest = _read_fields(fmt, rest)
    except (KeyFormatError, UnicodeDecodeError):
        return None
    if rest:
        return None
    p = dict(params)
    curve = p.get("curve")
    if "n" in p:
        bits = p["n"].bit_length()
    elif name == "ssh-dss":
        bits = p["p"].bit_length()
    else:
        bits = _CURVE_BITS.get(curve, 0) if curve is not None else 256
    return SSHPublicKey(blob, name, bits, sha256_b64(blob), blob, params, curve,
                        p.get("application"))


def _param(key: SSHPublicKey, name: str) -> Any:
    """A key parameter (``n``, ``e``, ``p``...), or ``None`` when the key type has none."""
    return next((v for k, v in key.parameters if k == name), None)


def _loc(ctx: Context) -> str:
    return "ssh.cert" if ctx.ssh.certificate is not None else "ssh.key"


#: Constant findings, made once (see _framework.PASSED)
_NO_PURPOSE = Finding(Status.NE, "no purpose given")
_NO_PROOF = Finding(Status.NE, "no proof given")

@lint("ssh.dsa", "DSA (ssh-dss) keys are refused", SSH, Source.OPENSSH,
      "OpenSSH 7.0 release notes (disabled); OpenSSH 10.0 (removed)", E)
def dsa(ctx: Context, p: Mapping[str, Any]) -> Finding:
    if ctx.ssh.plain_algorithm == "ssh-dss":
        return Finding(E, "ssh-dss keys are disabled since OpenSSH 7.0", _loc(ctx))
    return PASSED


@lint("ssh.rsa_bits", "RSA modulus size bands", SSH, Source.OPENSSH,
      "ssh-audit; OpenSSH RequiredRSASize (floor 1024); ssh-keygen default 3072", E,
      params={"min_bits": 2048, "warn_below": 3072, "max_bits": 16384})
def rsa_bits(ctx: Context, p: Mapping[str, Any]) -> Finding:
    n = _param(ctx.ssh, "n")
    if n is None:
        return NOT_APPLICABLE
    bits = n.bit_length()
    if bits < p["min_bits"]:
        return Finding(E, f"RSA key of {bits} bits is below {p['min_bits']}", _loc(ctx))
    if bits > p["max_bits"]:
        return Finding(E, f"RSA key of {bits} bits exceeds {p['max_bits']}", _loc(ctx))
    if bits < p["warn_below"]:
        return Finding(W, f"RSA key of {bits} bits; {p['warn_below']} or more recommended",
                       _loc(ctx))
    return Finding(P, f"{bits} bits")


@lint("ssh.rsa_exponent", "RSA public exponent is odd and at least 3", SSH, Source.OPENSSH,
      "sshkey.c; FIPS 186-5 A.1.1", E)
def rsa_exponent(ctx: Context, p: Mapping[str, Any]) -> Finding:
    e = _param(ctx.ssh, "e")
    if e is None:
        return NOT_APPLICABLE
    if e < 3 or e % 2 == 0:
        return Finding(E, f"RSA exponent {e} is not an odd number >= 3", _loc(ctx))
    return PASSED


@lint("ssh.ecdsa_curve", "ECDSA curve is nistp256/384/521 and matches the key type", SSH,
      Source.OPENSSH, "sshkey.c sshkey_ecdsa_nid_from_name; RFC 5656", E,
      params={"allowed": ["nistp256", "nistp384", "nistp521"]})
def ecdsa_curve(ctx: Context, p: Mapping[str, Any]) -> Finding:
    s = ctx.ssh
    if s.curve is None:
        return NOT_APPLICABLE
    if s.curve not in p["allowed"]:
        return Finding(E, f"curve {s.curve} not in {', '.join(p['allowed'])}", _loc(ctx))
    if _CURVE_OF_TYPE.get(s.plain_algorithm) != s.curve:
        return Finding(E, f"key type {s.plain_algorithm} carries curve {s.curve}", _loc(ctx))
    return PASSED


@lint("ssh.ecdsa_point", "ECDSA public point is on the curve, not infinity, of order n", SSH,
      Source.OPENSSH, "sshkey.c sshkey_ec_validate_public; SEC 1 3.2.2", E)
def ecdsa_point(ctx: Context, p: Mapping[str, Any]) -> Finding:
    s = ctx.ssh
    if s.curve is None:
        return NOT_APPLICABLE
    from registry.errors import ProofError
    from registry.proofs import ssh_public_key

    try:
        ssh_public_key(s)
    except ProofError as exc:
        return Finding(E, str(exc), _loc(ctx))
    return PASSED


@lint("ssh.type_allowlist", "Key type is among OpenSSH's default accepted algorithms", SSH,
      Source.OPENSSH, "ssh_config(5) PubkeyAcceptedAlgorithms (OpenSSH 9.x defaults)", W,
      params={"allowed": list(OPENSSH_DEFAULT_TYPES)})
def type_allowlist(ctx: Context, p: Mapping[str, Any]) -> Finding:
    t = ctx.ssh.plain_algorithm
    if t not in p["allowed"]:
        return Finding(W, f"key type {t} is not accepted by default", _loc(ctx))
    return PASSED


@lint("ssh.sk_application", "Security-key application string starts with 'ssh:'", SSH,
      Source.OPENSSH, "PROTOCOL.u2f (application strings)", E)
def sk_application(ctx: Context, p: Mapping[str, Any]) -> Finding:
    app = ctx.ssh.application
    if app is None:
        return NOT_APPLICABLE
    if not app.startswith("ssh:"):
        return Finding(E, f"application {app!r} does not start with 'ssh:'", _loc(ctx))
    return PASSED


@lint("ssh.sk_touch", "Security-key user presence: no-touch-required noted", SSH,
      Source.OPENSSH, "PROTOCOL.u2f; sshd(8) no-touch-required; PROTOCOL.certkeys", INFO)
def sk_touch(ctx: Context, p: Mapping[str, Any]) -> Finding | Iterator[Finding]:
    if ctx.ssh.application is None:  # not a security key: no generator to run
        return NOT_APPLICABLE
    return _sk_touch(ctx)


def _sk_touch(ctx: Context) -> Iterator[Finding]:
    c = ctx.ssh.certificate
    if c is not None and any(k == "no-touch-required" for k, _ in c.extensions):
        yield Finding(INFO, "certificate permits use without touching the key (no-touch-required)",
                      "ssh.cert.extensions")
    if ctx.proof:
        from registry.errors import ProofError
        from registry.proofs import parse_sshsig

        try:
            sig = parse_sshsig(ctx.proof)
            _alg, rest = _get_sshstr(memoryview(sig.signature))
            _raw, rest = _get_sshstr(rest)
            if rest and not rest[0] & 0x01:
                yield Finding(INFO, "proof was signed without user presence (touch)", "proof")
        except (ProofError, ValueError):
            pass
    yield PASSED


def _cert(ctx: Context) -> SSHCertificate | None:
    return ctx.ssh.certificate


def _ts(v: int) -> datetime:
    return datetime.fromtimestamp(min(v, 253402300799), UTC)


@lint("ssh.cert_validity", "Certificate is within its validity period at evaluation time", SSH,
      Source.OPENSSH, "PROTOCOL.certkeys (valid after / valid before)", E)
def cert_validity(ctx: Context, p: Mapping[str, Any]) -> Finding:
    c = _cert(ctx)
    if c is None:
        return NOT_APPLICABLE
    now = ctx.at.timestamp()
    if now < c.valid_after:
        return Finding(E, f"not valid before {_ts(c.valid_after).isoformat()}", "ssh.cert.valid_after")
    if now >= c.valid_before:
        return Finding(E, f"expired at {_ts(c.valid_before).isoformat()}", "ssh.cert.valid_before")
    return PASSED


@lint("ssh.cert_forever", "Certificate does not claim to be valid forever", SSH,
      Source.REGISTRY, "PROTOCOL.certkeys; ssh-keygen -V (prefer bounded validity)", W)
def cert_forever(ctx: Context, p: Mapping[str, Any]) -> Finding:
    c = _cert(ctx)
    if c is None:
        return NOT_APPLICABLE
    if c.valid_before == _FOREVER:
        return Finding(W, "certificate never expires", "ssh.cert.valid_before")
    return PASSED


@lint("ssh.cert_principals", "Certificate names at least one principal", SSH, Source.OPENSSH,
      "PROTOCOL.certkeys: an empty principals list is valid for any principal", E)
def cert_principals(ctx: Context, p: Mapping[str, Any]) -> Finding:
    c = _cert(ctx)
    if c is None:
        return NOT_APPLICABLE
    if not c.principals:
        return Finding(E, "no principals: the certificate is valid for ANY user or host",
                       "ssh.cert.principals")
    return PASSED


@lint("ssh.cert_type", "Certificate type (user/host) matches the record's purpose", SSH,
      Source.OPENSSH, "PROTOCOL.certkeys (SSH2_CERT_TYPE_USER / _HOST)", E)
def cert_type(ctx: Context, p: Mapping[str, Any]) -> Finding:
    c = _cert(ctx)
    if c is None:
        return NOT_APPLICABLE
    if ctx.purposes is None:
        return _NO_PURPOSE
    from registry.keys import Purpose

    purposes = Purpose(ctx.purposes)
    want_user = bool(purposes & Purpose.SSH_USER)
    want_host = bool(purposes & Purpose.SSH_HOST)
    kind = c.cert_type
    if (kind == "user" and want_host and not want_user) or (
        kind == "host" and want_user and not want_host
    ):
        return Finding(E, f"{kind} certificate published for purpose {','.join(purposes.names())}",
                       "ssh.cert.type")
    return PASSED


@lint("ssh.cert_critical_options", "Certificate has no critical options unknown to OpenSSH",
      SSH, Source.OPENSSH, "PROTOCOL.certkeys: unrecognised critical options refuse the cert", E)
def cert_critical(ctx: Context, p: Mapping[str, Any]) -> Finding:
    c = _cert(ctx)
    if c is None:
        return NOT_APPLICABLE
    unknown = [k for k, _ in c.critical_options if k not in _KNOWN_CRITICAL]
    if unknown:
        return Finding(E, f"unknown critical options: {', '.join(unknown)}",
                       "ssh.cert.critical_options")
    return PASSED


def _key_weakness(info: SSHPublicKey) -> str | None:
    if info.plain_algorithm == "ssh-dss":
        return "DSA"
    n = _param(info, "n")
    if n is not None and n.bit_length() < 2048:
        return f"RSA {n.bit_length()} bits"
    if info.curve is not None and info.curve not in ("nistp256", "nistp384", "nistp521"):
        return f"curve {info.curve}"
    return None


@lint("ssh.ca_key_strength", "The certificate authority key passes the key lints", SSH,
      Source.OPENSSH, "PROTOCOL.certkeys; ssh-audit key size bands", E)
def ca_key_strength(ctx: Context, p: Mapping[str, Any]) -> Finding:
    c = _cert(ctx)
    if c is None:
        return NOT_APPLICABLE
    weak = _key_weakness(c.signature_key)
    if weak:
        return Finding(E, f"CA key is weak: {weak}", "ssh.cert.signature_key")
    return PASSED


@lint("ssh.ca_signature_sha1", "CA signature does not use ssh-rsa (SHA-1)", SSH,
      Source.OPENSSH, "OpenSSH 8.2 / 8.8 release notes (ssh-rsa signatures disabled)", E)
def ca_signature_sha1(ctx: Context, p: Mapping[str, Any]) -> Finding:
    c = _cert(ctx)
    if c is None:
        return NOT_APPLICABLE
    alg = c.signature_algorithm
    if alg in ("ssh-rsa", "ssh-dss"):
        return Finding(E, f"certificate signed with {alg} (SHA-1)", "ssh.cert.signature")
    return Finding(P, alg)


@lint("ssh.cert_signature", "The CA signature on the certificate verifies", SSH,
      Source.OPENSSH, "PROTOCOL.certkeys; sshkey.c cert_parse", E)
def cert_signature(ctx: Context, p: Mapping[str, Any]) -> Finding:
    c = _cert(ctx)
    if c is None:
        return NOT_APPLICABLE
    from registry.errors import ProofError
    from registry.proofs import ssh_verify_signature

    try:
        ssh_verify_signature(c.signature_key, c.signature, c.signed_data)
    except ProofError as exc:
        return Finding(E, f"CA signature invalid: {exc}", "ssh.cert.signature")
    return PASSED


@lint("ssh.proof_sha1", "Proof of possession does not use ssh-rsa (SHA-1) or ssh-dss", SSH,
      Source.OPENSSH, "OpenSSH 8.8 release notes; sshsig.c", E)
def proof_sha1(ctx: Context, p: Mapping[str, Any]) -> Finding:
    if not ctx.proof:
        return _NO_PROOF
    from registry.errors import ProofError
    from registry.proofs import ssh_proof_signature_algorithm

    try:
        alg = ssh_proof_signature_algorithm(ctx.proof)
    except ProofError:
        return Finding(Status.NE, "proof is not an SSHSIG (see binding.proof)")
    if alg in ("ssh-rsa", "ssh-dss"):
        return Finding(E, f"proof signed with {alg} (SHA-1)", "proof")
    return Finding(P, alg)


@lint("ssh.cert_validity_length", "Certificate validity period is not excessively long", SSH,
      Source.REGISTRY, "ssh-keygen -V; registry guidance (short-lived certificates)", W,
      time_base=TimeBase.ISSUANCE, params={"max_days": 3660})
def cert_validity_length(ctx: Context, p: Mapping[str, Any]) -> Finding:
    c = _cert(ctx)
    if c is None or c.valid_before == _FOREVER:
        return NOT_APPLICABLE
    days = (c.valid_before - c.valid_after) / 86400
    if days > p["max_days"]:
        return Finding(W, f"valid for {days:.0f} days (> {p['max_days']})", "ssh.cert")
    return PASSED
