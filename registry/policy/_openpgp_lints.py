"""OpenPGP lints: self-signatures, hash and algorithm cut-offs (Sequoia StandardPolicy), expiry,
revocation, packet versions, critical subpackets, fingerprints."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from registry.policy._framework import (
    NOT_APPLICABLE,
    PASSED,
    Context,
    Finding,
    Source,
    Status,
    TimeBase,
    lint,
    utc,
)

P, INFO, W, E = Status.PASS, Status.INFO, Status.WARN, Status.ERROR
PGP = "openpgp"
_CERTIFICATIONS = (0x10, 0x11, 0x12, 0x13)
_BINDINGS = (*_CERTIFICATIONS, 0x18, 0x19, 0x1F)
_REVOCATIONS = (0x20, 0x28, 0x30)


def _date(text: str) -> datetime:
    year, month, day = (int(x) for x in str(text).split("-"))
    return utc(year, month, day)


def _self_sigs(ctx: Context) -> Iterator[Any]:
    """Signatures made by the primary key itself (issuer = primary, or no issuer given)."""
    c = ctx.pgp
    fpr = c.primary.fingerprint
    kid = fpr[-16:] if len(fpr) == 40 else fpr[:16]
    for s in c.all_sigs():
        issuer = s.issuer_fingerprint or s.info.issuer_key_id
        if issuer is None or issuer in (fpr, kid):
            yield s


@lint("openpgp.binding_selfsig", "A valid binding self-signature at evaluation time", PGP,
      Source.SEQUOIA, "RFC 9580 5.2.1, 10.1; Sequoia ValidCert", E)
def binding_selfsig(ctx: Context, p: Mapping[str, Any]) -> Iterator[Finding]:
    c = ctx.pgp
    if c.primary_binding(ctx.at) is None:
        yield Finding(E, "no valid self-signature binds the primary key (user ID or direct key)",
                      "openpgp.key")
    for u in c.uids:
        if c.uid_binding(u, ctx.at) is None:
            yield Finding(W, f"user ID {u.value!r} has no valid self-signature",
                          f"openpgp.uid[{u.index}].selfsig")
    for sub in c.subkeys:
        if c.subkey_binding(sub, ctx.at) is None:
            yield Finding(W, f"subkey {sub.key.fingerprint} has no valid binding signature",
                          f"openpgp.subkey[{sub.index}].binding")
    yield PASSED


@lint("openpgp.md5", "No MD5 in signatures", PGP, Source.SEQUOIA,
      "Sequoia StandardPolicy: MD5 rejected since 2004-02-01", E)
def md5(ctx: Context, p: Mapping[str, Any]) -> Iterator[Finding]:
    for s in ctx.pgp.all_sigs():
        if s.hash_algorithm == 1:
            yield Finding(E, "MD5 signature", s.location)
    yield PASSED


@lint("openpgp.sha1_selfsig", "No SHA-1 in self-signatures and bindings after the cut-off", PGP,
      Source.SEQUOIA,
      "Sequoia StandardPolicy: SHA-1 second pre-image resistance cut-off 2023-02-01", E,
      params={"cutoff": "2023-02-01"})
def sha1_selfsig(ctx: Context, p: Mapping[str, Any]) -> Iterator[Finding]:
    cutoff = _date(p["cutoff"])
    for s in ctx.pgp.all_sigs():
        if s.hash_algorithm == 2 and s.type in _BINDINGS:
            created = s.created or cutoff
            if created >= cutoff or ctx.at >= cutoff:
                yield Finding(E, f"SHA-1 {s.info.type_name} signature (cut-off {p['cutoff']})",
                              s.location)
    yield PASSED


@lint("openpgp.sha1_revocation", "Revocations made with SHA-1 are tolerated 7 years + 2 days",
      PGP, Source.SEQUOIA,
      "Sequoia StandardPolicy: revocations with weak hashes accepted for 7y+2d after cut-off", W,
      params={"cutoff": "2023-02-01", "grace_days": 7 * 365 + 2})
def sha1_revocation(ctx: Context, p: Mapping[str, Any]) -> Iterator[Finding]:
    cutoff = _date(p["cutoff"])
    for s in ctx.pgp.all_sigs():
        if s.hash_algorithm in (1, 2) and s.type in _REVOCATIONS and ctx.at >= cutoff:
            end = cutoff + timedelta(days=p["grace_days"])
            level = W if ctx.at < end else E
            yield Finding(level, f"{s.hash_name} revocation signature (tolerated until {end.date()})",
                          s.location)
    yield PASSED


def _keys(ctx: Context) -> Iterator[tuple[Any, str]]:
    c = ctx.pgp
    yield c.primary, "openpgp.key"
    for sub in c.subkeys:
        yield sub.key, f"openpgp.subkey[{sub.index}]"


@lint("openpgp.rsa_bits", "RSA keys of at least 2048 bits", PGP, Source.SEQUOIA,
      "Sequoia StandardPolicy: RSA < 2048 rejected since 2014-02-01", E,
      effective=utc(2014, 2, 1), params={"min_bits": 2048})
def rsa_bits(ctx: Context, p: Mapping[str, Any]) -> Iterator[Finding]:
    for k, loc in _keys(ctx):
        if k.rsa_n is not None and k.bits < p["min_bits"]:
            yield Finding(E, f"RSA key of {k.bits} bits (< {p['min_bits']})", loc)
    yield PASSED


@lint("openpgp.elgamal", "No ElGamal keys", PGP, Source.SEQUOIA,
      "Sequoia StandardPolicy: ElGamal rejected from 2025-02-01", E, effective=utc(2025, 2, 1))
def elgamal(ctx: Context, p: Mapping[str, Any]) -> Iterator[Finding]:
    for k, loc in _keys(ctx):
        if k.algorithm_id in (16, 20):
            yield Finding(E, "ElGamal key", loc)
    yield PASSED


@lint("openpgp.dsa", "No DSA keys", PGP, Source.SEQUOIA,
      "Sequoia StandardPolicy: DSA rejected from 2030-02-01", E, effective=utc(2030, 2, 1))
def dsa(ctx: Context, p: Mapping[str, Any]) -> Iterator[Finding]:
    for k, loc in _keys(ctx):
        if k.algorithm_id == 17:
            yield Finding(E, "DSA key", loc)
    yield PASSED


@lint("openpgp.v6_legacy_algorithms", "v6 keys never use DSA, ElGamal or legacy EdDSA/ECDH",
      PGP, Source.RFC9580, "RFC 9580 9.1 (algorithms MUST NOT be used with v6 keys)", E)
def v6_legacy(ctx: Context, p: Mapping[str, Any]) -> Iterator[Finding]:
    for k, loc in _keys(ctx):
        if k.version == 6 and (
            k.algorithm_id in (16, 17, 20) or (k.algorithm_id in (18, 22) and
                                               k.curve in ("ed25519", "cv25519"))
        ):
            yield Finding(E, f"{k.algorithm} is not valid with a v6 key", loc)
    yield PASSED


@lint("openpgp.ecdh_params", "ECDH: AES key wrap and a collision-resistant KDF hash", PGP,
      Source.RFC9580, "RFC 9580 11.5 (KDF parameters); Sequoia StandardPolicy", E,
      params={"kek": [7, 8, 9], "kdf_hash": [8, 9, 10, 12, 14]})
def ecdh_params(ctx: Context, p: Mapping[str, Any]) -> Iterator[Finding]:
    seen = False
    for k, loc in _keys(ctx):
        if k.algorithm_id != 18:
            continue
        seen = True
        if k.ecdh_kdf is None:
            yield Finding(E, "ECDH key without KDF parameters", loc)
            continue
        h, sym = k.ecdh_kdf
        if h not in p["kdf_hash"]:
            yield Finding(E, f"ECDH KDF hash id {h} is not collision-resistant", loc)
        if sym not in p["kek"]:
            yield Finding(E, f"ECDH key wrap algorithm id {sym} is not AES", loc)
    yield PASSED if seen else NOT_APPLICABLE


@lint("openpgp.backsig", "Signing-capable subkeys carry a valid primary key binding (0x19)",
      PGP, Source.RFC9580, "RFC 9580 5.2.1 (0x19), 11.1; GnuPG since 2.0.5", E)
def backsig(ctx: Context, p: Mapping[str, Any]) -> Iterator[Finding]:
    c = ctx.pgp
    seen = False
    for sub in c.subkeys:
        b = c.subkey_binding(sub, ctx.at)
        if b is None or b.key_flags is None or not (b.key_flags & 0x02):
            continue
        seen = True
        if not any(e.type == 0x19 and e.verify(sub.key) for e in b.embedded_sigs):
            yield Finding(E, f"signing subkey {sub.key.fingerprint} has no valid back-signature",
                          f"openpgp.subkey[{sub.index}].binding")
    yield PASSED if seen else NOT_APPLICABLE


@lint("openpgp.expired", "Certificate (primary key) is not expired", PGP, Source.RFC9580,
      "RFC 9580 5.2.3.13 (key expiration time)", E)
def expired(ctx: Context, p: Mapping[str, Any]) -> Finding:
    exp = ctx.pgp.expires(ctx.at)
    if exp is not None and exp <= ctx.at:
        return Finding(E, f"expired at {exp.isoformat()}", "openpgp.key")
    return PASSED


@lint("openpgp.expiry_none", "Certificate has an expiration time", PGP, Source.GNUPG,
      "GnuPG default expiry (3 years since 2.2.x); RFC 9580 5.2.3.13", W)
def expiry_none(ctx: Context, p: Mapping[str, Any]) -> Finding:
    if ctx.pgp.expires(ctx.at) is None:
        return Finding(W, "certificate never expires", "openpgp.key")
    return PASSED


@lint("openpgp.expiry_far", "Expiration no more than 3 years ahead", PGP, Source.GNUPG,
      "GnuPG default expiry 3 years", INFO, params={"max_days": 3 * 366})
def expiry_far(ctx: Context, p: Mapping[str, Any]) -> Finding:
    exp = ctx.pgp.expires(ctx.at)
    if exp is None:
        return NOT_APPLICABLE
    if exp - ctx.at > timedelta(days=p["max_days"]):
        return Finding(INFO, f"expires {exp.date()}, more than {p['max_days']} days ahead",
                       "openpgp.key")
    return PASSED


@lint("openpgp.revoked_subkey", "No subkey is revoked", PGP, Source.RFC9580,
      "RFC 9580 5.2.1 (0x28 subkey revocation)", E)
def revoked_subkey(ctx: Context, p: Mapping[str, Any]) -> Iterator[Finding]:
    c = ctx.pgp
    for sub in c.subkeys:
        if c.subkey_revocation(sub, ctx.at) is not None:
            yield Finding(E, f"subkey {sub.key.fingerprint} is revoked",
                          f"openpgp.subkey[{sub.index}].revocation")
    yield PASSED


@lint("openpgp.revoked_uid", "No user ID is revoked", PGP, Source.RFC9580,
      "RFC 9580 5.2.1 (0x30 certification revocation)", E)
def revoked_uid(ctx: Context, p: Mapping[str, Any]) -> Iterator[Finding]:
    c = ctx.pgp
    for u in c.uids:
        if c.uid_revocation(u, ctx.at) is not None:
            yield Finding(E, f"user ID {u.value!r} is revoked", f"openpgp.uid[{u.index}].revocation")
    yield PASSED


@lint("openpgp.sig_version", "No v3 or v5 signatures", PGP, Source.SEQUOIA,
      "Sequoia StandardPolicy: v3 signatures rejected from 2021-02-01; RFC 9580 (v5 unassigned)",
      E, effective=utc(2021, 2, 1))
def sig_version(ctx: Context, p: Mapping[str, Any]) -> Iterator[Finding]:
    for s in ctx.pgp.all_sigs():
        if s.version in (3, 5):
            yield Finding(E, f"v{s.version} signature", s.location)
    yield PASSED


@lint("openpgp.packets", "Only certificate packets, in known versions (no SED, no v5 keys)", PGP,
      Source.RFC9580, "RFC 9580 10.1 (transferable public keys); 5.7 (SED is obsolete)", E)
def packets(ctx: Context, p: Mapping[str, Any]) -> Iterator[Finding]:
    allowed = {2, 6, 10, 12, 13, 14, 17, 21}
    for i, (tag, ver) in enumerate(ctx.pgp.packets):
        if tag not in allowed:
            yield Finding(E, f"unexpected packet tag {tag} in a certificate", f"openpgp.packet[{i}]")
        elif tag in (6, 14) and ver not in (4, 6):
            yield Finding(E, f"v{ver} key packet", f"openpgp.packet[{i}]")
    yield PASSED


@lint("openpgp.critical_subpackets", "No unknown critical subpackets or notations", PGP,
      Source.RFC9580, "RFC 9580 5.2.3.7 (critical bit invalidates the signature)", E)
def critical_subpackets(ctx: Context, p: Mapping[str, Any]) -> Iterator[Finding]:
    for s in ctx.pgp.all_sigs():
        unknown = s.unknown_critical()
        if unknown:
            yield Finding(E, f"unknown critical subpacket(s) {sorted(set(unknown))}", s.location)
    yield PASSED


@lint("openpgp.fingerprint", "Full fingerprints: v4 (20 bytes) or v6 (32 bytes) keys; issuer "
      "fingerprints in self-signatures", PGP, Source.RFC9580,
      "RFC 9580 5.5.4; key IDs are not identifiers (collisions)", W)
def fingerprint(ctx: Context, p: Mapping[str, Any]) -> Iterator[Finding]:
    c = ctx.pgp
    expected = {4: 40, 6: 64}.get(c.primary.version)
    if expected is None or len(c.primary.fingerprint) != expected:
        yield Finding(E, f"v{c.primary.version} key has no full fingerprint", "openpgp.key")
    for s in _self_sigs(ctx):
        if s.version >= 4 and s.issuer_fingerprint is None:
            yield Finding(W, "self-signature names its issuer by key ID only", s.location)
    yield PASSED


@lint("openpgp.sig_future", "No self-signature is dated in the future", PGP, Source.SEQUOIA,
      "Sequoia: signatures created in the future are not yet valid", W,
      params={"tolerance_seconds": 300})
def sig_future(ctx: Context, p: Mapping[str, Any]) -> Iterator[Finding]:
    limit = ctx.at + timedelta(seconds=p["tolerance_seconds"])
    for s in _self_sigs(ctx):
        if s.created is not None and s.created > limit:
            yield Finding(W, f"signature created {s.created.isoformat()}", s.location)
    yield PASSED


@lint("openpgp.user_id", "At least one user ID with a valid self-signature", PGP,
      Source.GNUPG, "GnuPG refuses to import keys without a user ID; RFC 9580 10.1", W)
def user_id(ctx: Context, p: Mapping[str, Any]) -> Finding:
    c = ctx.pgp
    if not any(c.uid_binding(u, ctx.at) for u in c.uids if not u.attribute):
        return Finding(W, "no self-signed user ID", "openpgp.uid")
    return PASSED


@lint("openpgp.ecc_curve", "ECC keys on curves Sequoia accepts by default", PGP, Source.SEQUOIA,
      "Sequoia StandardPolicy (asymmetric algorithms)", E,
      params={"allowed": ["p256", "p384", "p521", "brainpoolP256r1", "brainpoolP384r1",
                          "brainpoolP512r1", "ed25519", "cv25519", "ed448", "x448"]},
      time_base=TimeBase.EVALUATION)
def ecc_curve(ctx: Context, p: Mapping[str, Any]) -> Iterator[Finding]:
    for k, loc in _keys(ctx):
        if k.algorithm_id in (18, 19, 22) and k.curve not in p["allowed"]:
            yield Finding(E, f"curve {k.curve} not accepted", loc)
    yield PASSED
