"""Cross-cutting lints: name binding, proof of possession, key reuse, known-weak keys, NIST
strength, lifecycle, attestations."""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from registry.policy._framework import (
    NOT_APPLICABLE,
    PASSED,
    Context,
    Finding,
    Source,
    Status,
    lint,
    utc,
)

P, INFO, W, E = Status.PASS, Status.INFO, Status.WARN, Status.ERROR
ALL = ("ssh", "openpgp", "x509")


def identities(ctx: Context) -> tuple[str, ...]:
    """Names the key itself claims, as the binding lint reads them (lower-case)."""
    kt = ctx.key_type
    if kt == "ssh":
        c = ctx.ssh.certificate
        return tuple(x.lower() for x in c.principals) if c is not None else ()
    if kt == "openpgp":
        pgp = ctx.pgp
        out = []
        for u in pgp.uids:
            if u.email and pgp.uid_binding(u, ctx.at) and not pgp.uid_revocation(u, ctx.at):
                out.append(u.email)
        return tuple(out)
    from cryptography import x509
    from cryptography.x509.oid import ExtensionOID

    try:
        san = ctx.x509.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    except x509.ExtensionNotFound:
        return ()
    v = san.value
    return tuple(
        [d.lower().rstrip(".") for d in v.get_values_for_type(x509.DNSName)]
        + [e.lower() for e in v.get_values_for_type(x509.RFC822Name)]
        + [str(ip) for ip in v.get_values_for_type(x509.IPAddress)]
    )


def _norm_name(name: str) -> str:
    from registry.names import parse_name

    return parse_name(name).text


#: Constant findings, made once (see _framework.PASSED)
_NO_NAME = Finding(Status.NE, "no registry name given")
_PLAIN_SSH = Finding(Status.NA, "a plain SSH key names no identity")
_NO_PROOF = Finding(Status.NE, "no proof given")
_NO_REVERSE = Finding(Status.NE, "no reverse-lookup data given")
_NO_CHAIN = Finding(Status.NE, "the name's registry parent chain was not given")
_NO_ATTESTATIONS = Finding(Status.NA, "no attestations required by the profile")
_NO_RECORD = Finding(Status.NE, "no registry record given (a key file, not a published key)")

@lint("binding.name", "Registry name matches a certificate SAN, a self-signed UID email, or an "
      "SSH certificate principal", ALL, Source.REGISTRY, "DESIGN.md (name binding)", E,
      params={"ssh_local_part": True})
def name_binding(ctx: Context, p: Mapping[str, Any]) -> Finding:
    if ctx.name is None:
        return _NO_NAME
    if ctx.key_type == "ssh" and ctx.ssh.certificate is None:
        return _PLAIN_SSH
    name = _norm_name(ctx.name)
    ids = identities(ctx)
    if name in ids:
        return Finding(P, f"{name} is bound")
    if ctx.key_type == "ssh" and p["ssh_local_part"] and "@" in name:
        if name.split("@", 1)[0] in ids and ctx.ssh.certificate.cert_type == "user":
            return Finding(P, f"user principal {name.split('@', 1)[0]} of {name}")
    if ctx.key_type == "x509" and "@" not in name:
        for ident in ids:
            # a wildcard stands for exactly one label: *.example.org never covers example.org
            if ident.startswith("*.") and "." in name and name.split(".", 1)[1] == ident[2:]:
                return Finding(P, f"{name} matches wildcard {ident}")
    where = {"ssh": "ssh.cert.principals", "openpgp": "openpgp.uid",
             "x509": "x509.extensions.subjectAltName"}[ctx.key_type]
    shown = ", ".join(ids) if ids else "none"
    return Finding(E, f"registry name {name} not among the key's identities ({shown})", where)


@lint("binding.proof", "Proof of possession verifies over the statement for this name and key",
      ALL, Source.REGISTRY, "DESIGN.md (proof of possession); sshsig.c; RFC 9580 5.2.4", E,
      params={"required": False})
def proof(ctx: Context, p: Mapping[str, Any]) -> Finding:
    if not ctx.proof or not ctx.statement:
        if p["required"]:
            return Finding(E, "a proof of possession is required", "proof")
        return _NO_PROOF
    from registry.errors import ProofError
    from registry.proofs import parse_statement, verify_proof

    try:
        stmt = parse_statement(ctx.statement)
        if ctx.name is not None and stmt.name != _norm_name(ctx.name):
            return Finding(E, f"statement is for {stmt.name}, not {_norm_name(ctx.name)}",
                           "proof.statement")
        res = verify_proof(ctx.key, ctx.proof, ctx.statement)
    except ProofError as exc:
        return Finding(E, str(exc), "proof")
    return Finding(P, f"{res.algorithm} by {res.signer}")


@lint("binding.other_names", "The same key is not bound under other names", ALL,
      Source.CABF_BR, "BR 6.1.1.3 / 6.1.2 (key reuse); registry index reverse lookup", W)
def other_names(ctx: Context, p: Mapping[str, Any]) -> Finding:
    if ctx.other_names is None:
        return _NO_REVERSE
    own = _norm_name(ctx.name) if ctx.name else None
    others = sorted({n for n in ctx.other_names if n != own})
    if others:
        return Finding(W, f"same key also bound to {', '.join(others)}", "key")
    return PASSED


@lint("binding.domain_chain", "A name inside a registered domain was created through that "
      "domain's registry chain, not registered on its own before the domain was (squatting)",
      ALL, Source.REGISTRY, "docs/SSH.md (squatting); registry.names.squatted_by", E)
def domain_chain(ctx: Context, p: Mapping[str, Any]) -> Finding:
    squat = ctx.squatted_by
    if squat is None:
        return _NO_CHAIN
    if not squat:
        return PASSED
    name = _norm_name(ctx.name) if ctx.name else "the name"
    return Finding(E, f"{name} was registered on its own inside {squat}, whose owner did not"
                      " create it: its keys are never served", "name")


def rsa_moduli(ctx: Context) -> Iterator[tuple[int, int, str]]:
    """(n, e, location) of every RSA key in the material."""
    kt = ctx.key_type
    if kt == "openpgp":
        c = ctx.pgp
        if c.primary.rsa_n is not None:
            yield c.primary.rsa_n, c.primary.rsa_e or 0, "openpgp.key"
        for sub in c.subkeys:
            if sub.key.rsa_n is not None:
                yield sub.key.rsa_n, sub.key.rsa_e or 0, f"openpgp.subkey[{sub.index}]"
        return
    pn = ctx.public_numbers
    if pn is not None and pn[0] == "rsa":
        n, e = pn[1]
        yield n, e, "ssh.key" if kt == "ssh" else "x509.spki"


def _no_rsa(ctx: Context) -> bool:
    """Whether :func:`rsa_moduli` yields nothing (read in the same order, so that a key
    whose parse fails fails the same way)."""
    if ctx.key_type == "openpgp":
        c = ctx.pgp
        return c.primary.rsa_n is None and all(sub.key.rsa_n is None for sub in c.subkeys)
    pn = ctx.public_numbers
    return pn is None or pn[0] != "rsa"


# ROCA (CVE-2017-15361): Infineon moduli are n = k*M + (65537^a mod M); n mod p then lies in the
# subgroup generated by 65537 mod p for every small prime p in M. Detection after Nemec et al.,
# "The Return of Coppersmith's Attack" (CCS 2017), as in the authors' roca-detect tool.
_ROCA_PRIMES = [3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79,
                83, 89, 97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167]


def _subgroup(p: int) -> frozenset[int]:
    out, x = set(), 1
    while x not in out:
        out.add(x)
        x = x * 65537 % p
    return frozenset(out)


_ROCA_SETS = [(p, _subgroup(p)) for p in _ROCA_PRIMES]


def roca_vulnerable(n: int) -> bool:
    """True if ``n`` carries the ROCA fingerprint (Infineon RSALib prime structure)."""
    return all(n % p in s for p, s in _ROCA_SETS)


@lint("key.roca", "RSA key does not carry the ROCA fingerprint (CVE-2017-15361)", ALL,
      Source.CABF_BR, "BR 6.1.1.3 (known weak keys); Nemec et al., CCS 2017", E)
def roca(ctx: Context, p: Mapping[str, Any]) -> Finding | Iterator[Finding]:
    if _no_rsa(ctx):  # most keys: no generator to run
        return NOT_APPLICABLE
    return _roca(ctx)


def _roca(ctx: Context) -> Iterator[Finding]:
    seen = False
    for n, _e, loc in rsa_moduli(ctx):
        seen = True
        if roca_vulnerable(n):
            yield Finding(E, "RSA modulus has the ROCA fingerprint (Infineon RSALib)", loc)
    yield PASSED if seen else NOT_APPLICABLE


def fermat_factor(n: int, rounds: int) -> tuple[int, int] | None:
    """Fermat's method for ``rounds`` steps: returns (p, q) when |p - q| is small."""
    if n % 2 == 0:
        return (2, n // 2)
    a = math.isqrt(n)
    if a * a < n:
        a += 1
    for _ in range(rounds):
        b2 = a * a - n
        b = math.isqrt(b2)
        if b * b == b2:
            return (a - b, a + b)
        a += 1
    return None


@lint("key.fermat", "RSA modulus not Fermat-factorable within 100 rounds", ALL,
      Source.CABF_BR, "BR 6.1.1.3; Böck, 'Fermat Factorization in the Wild' (2023)", E,
      params={"rounds": 100})
def fermat(ctx: Context, p: Mapping[str, Any]) -> Finding | Iterator[Finding]:
    if _no_rsa(ctx):
        return NOT_APPLICABLE
    return _fermat(ctx, p)


def _fermat(ctx: Context, p: Mapping[str, Any]) -> Iterator[Finding]:
    seen = False
    for n, _e, loc in rsa_moduli(ctx):
        seen = True
        if fermat_factor(n, p["rounds"]):
            yield Finding(E, "RSA modulus factors with Fermat's method (primes too close)", loc)
    yield PASSED if seen else NOT_APPLICABLE


def debian_fingerprint(n: int) -> str:
    """openssl-blacklist entry of a modulus: last 20 hex of SHA-1 of ``Modulus=HEX\\n``."""
    text = f"Modulus={n:X}\n".encode()
    return hashlib.sha1(text).hexdigest()[20:]


@lint("key.debian_weak", "RSA key not on the Debian weak-key blocklist (CVE-2008-0166)", ALL,
      Source.CABF_BR, "BR 6.1.1.3; Debian openssl-blacklist", E, params={"blocklist": []})
def debian_weak(ctx: Context, p: Mapping[str, Any]) -> Finding | Iterator[Finding]:
    if _no_rsa(ctx):
        return NOT_APPLICABLE
    return _debian_weak(ctx, p)


def _debian_weak(ctx: Context, p: Mapping[str, Any]) -> Iterator[Finding]:
    moduli = list(rsa_moduli(ctx))
    if not moduli:
        yield NOT_APPLICABLE
        return
    block = {str(x).lower() for x in p["blocklist"]}
    if not block:
        yield Finding(Status.NE, "no blocklist configured (the openssl-blacklist lists are not "
                                 "shipped; set params.blocklist)")
        return
    for n, _e, loc in moduli:
        if debian_fingerprint(n) in block:
            yield Finding(E, "RSA key is a known Debian weak key", loc)
    yield PASSED


_EC_STRENGTH = {"nistp256": 128, "secp256r1": 128, "p256": 128, "nistp384": 192,
                "secp384r1": 192, "p384": 192, "nistp521": 256, "secp521r1": 256, "p521": 256,
                "brainpoolP256r1": 128, "brainpoolP384r1": 192, "brainpoolP512r1": 256,
                "secp256k1": 128, "ed25519": 128, "cv25519": 128}


def ifc_strength(bits: int) -> int:
    """SP 800-57 Pt 1 r5 Table 2 security strength of an RSA/DSA/ElGamal modulus."""
    for limit, strength in ((15360, 256), (7680, 192), (3072, 128), (2048, 112), (1024, 80)):
        if bits >= limit:
            return strength
    return 0


def key_strengths(ctx: Context) -> Iterator[tuple[int, str, str]]:
    """(strength, label, location) for every key in the material."""
    kt = ctx.key_type
    if kt == "openpgp":
        c = ctx.pgp
        keys = [(c.primary, "openpgp.key")] + [(s.key, f"openpgp.subkey[{s.index}]")
                                               for s in c.subkeys]
        for k, loc in keys:
            if k.rsa_n is not None or k.algorithm_id in (16, 17, 20):
                yield ifc_strength(k.bits), f"{k.algorithm}-{k.bits}", loc
            elif k.curve is not None:
                yield _EC_STRENGTH.get(k.curve, k.bits // 2), k.curve, loc
            else:
                yield k.bits // 2, k.algorithm, loc
        return
    pn = ctx.public_numbers
    loc = "ssh.key" if kt == "ssh" else "x509.spki"
    if pn is None:
        return
    kind, v = pn
    if kind == "rsa":
        yield ifc_strength(v[0].bit_length()), f"rsa-{v[0].bit_length()}", loc
    elif kind in ("dsa", "elgamal"):
        yield ifc_strength(v), f"{kind}-{v}", loc
    elif kind == "ec":
        yield _EC_STRENGTH.get(v, 0), str(v), loc
    else:
        yield v // 2, f"eddsa-{v}", loc


@functools.lru_cache(maxsize=64)
def _date(text: str) -> datetime:
    """``YYYY-MM-DD`` (a policy parameter) as midnight UTC; parsed once per text."""
    y, m, d = (int(x) for x in text.split("-"))
    return utc(y, m, d)


@lint("key.nist_strength", "NIST security strength: >= 112 bits; 112 (RSA-2048) disallowed "
      "from 2031", ALL, Source.NIST, "SP 800-57 Pt 1 r5 Table 2; SP 800-131A r2", E,
      params={"min_strength": 112, "strength_112_until": "2031-01-01"})
def nist_strength(ctx: Context, p: Mapping[str, Any]) -> Finding | list[Finding]:
    until = _date(str(p["strength_112_until"]))
    out = []
    for strength, label, loc in key_strengths(ctx):
        if strength < p["min_strength"]:
            out.append(Finding(E, f"{label}: {strength}-bit security (< {p['min_strength']})",
                               loc))
        elif strength == 112:
            level = W if ctx.at < until else E
            out.append(Finding(level, f"{label}: 112-bit security, disallowed from"
                                      f" {until.date()}", loc))
    if not out:
        return PASSED
    out.append(PASSED)
    return out


@lint("x509.expired", "Certificate is not expired at evaluation time", "x509", Source.RFC5280,
      "RFC 5280 4.1.2.5, 6.1.3", E)
def x509_expired(ctx: Context, p: Mapping[str, Any]) -> Finding:
    na = ctx.x509.not_valid_after_utc
    if ctx.at > na:
        return Finding(E, f"expired at {na.isoformat()}", "x509.validity.notAfter")
    return PASSED


@lint("x509.not_yet_valid", "Certificate is valid (notBefore) at evaluation time", "x509",
      Source.RFC5280, "RFC 5280 4.1.2.5, 6.1.3", E)
def x509_not_yet_valid(ctx: Context, p: Mapping[str, Any]) -> Finding:
    nb = ctx.x509.not_valid_before_utc
    if ctx.at < nb:
        return Finding(E, f"not valid before {nb.isoformat()}", "x509.validity.notBefore")
    return PASSED


@lint("openpgp.revoked_key", "Certificate (primary key) is not revoked", "openpgp",
      Source.RFC9580, "RFC 9580 5.2.1 (0x20 key revocation)", E)
def openpgp_revoked(ctx: Context, p: Mapping[str, Any]) -> Finding:
    rev = ctx.pgp.revocation(ctx.at)
    if rev is not None:
        return Finding(E, "the primary key is revoked", rev.location)
    return PASSED


@lint("openpgp.not_yet_valid", "Primary key creation time is not in the future", "openpgp",
      Source.RFC9580, "RFC 9580 5.5.2 (creation time)", E)
def openpgp_not_yet_valid(ctx: Context, p: Mapping[str, Any]) -> Finding:
    created: datetime = ctx.pgp.primary.created
    if created > ctx.at:
        return Finding(E, f"key created {created.isoformat()}, after the evaluation time",
                       "openpgp.key")
    return PASSED


#: The ``trusted`` entry that stands for the subject name's registration authority: its
#: registry parent (``example.org`` for ``alice@example.org``), whoever owns it.
PARENT = "@parent"


def _owner_key(value: Any) -> str | None:
    return str(value).lower() if isinstance(value, str) and value else None


@lint("key.attestations", "k-of-n live attestations from trusted names whose owner is not the "
      "key's owner", ALL, Source.REGISTRY, "DESIGN.md (attestations)", E,
      params={"min": 0, "trusted": []})
def attestations(ctx: Context, p: Mapping[str, Any]) -> Finding:
    """Count attestations that are live, from a trusted name, and not from the subject's owner.

    A name's owner can register or be assigned any number of other names, so an
    attestation by a name with the same owner (a sybil) proves nothing: only
    attesters whose owner is known (``owners``) and differs from the subject
    name's owner count, and only those in ``trusted`` (``@parent``: the subject's
    registry parent). Profiles requiring attestations must name trusted
    attesters (an empty list is refused when the policy is loaded).
    """
    need = int(p["min"])
    if need <= 0:
        return _NO_ATTESTATIONS
    trusted: set[str] = set()
    for t in p["trusted"]:
        if t == PARENT:
            if ctx.parent:
                trusted.add(_norm_name(ctx.parent))
        else:
            trusted.add(_norm_name(t))
    own = _norm_name(ctx.name) if ctx.name else None
    owners = {str(k): v for k, v in (ctx.owners or {}).items()}
    subject_owner = _owner_key(owners.get(own or ""))
    good, same_owner = set(), set()
    for a in ctx.attestations or ():
        try:
            attester = _norm_name(getattr(a, "attester", "") or "")
        except Exception:  # an attester the index only knows by node: never counts
            continue
        if getattr(a, "withdrawn", False) or attester == own:
            continue
        expires = _when(getattr(a, "expires", None))
        if expires is not None and expires <= ctx.at:
            continue  # an attestation past its expiry no longer counts
        if attester not in trusted:
            continue
        attester_owner = _owner_key(owners.get(attester, getattr(a, "attester_owner", None)))
        if subject_owner is None or attester_owner is None or attester_owner == subject_owner:
            same_owner.add(attester)  # unknown owners fail closed, like the same owner
            continue
        good.add(attester)
    if len(good) < need:
        unknown_parent = PARENT in p["trusted"] and not ctx.parent
        # without attestations the caller need not look the parent up (nothing to count):
        # "no registry parent known" then read as if alice@example.org had none
        names = ", ".join(sorted(trusted) + (
            ["its registry parent" if not ctx.attestations else "its registry parent (none)"]
            if unknown_parent else [])) or "nobody"
        extra = (f"; not counted, same or unknown owner as the key's: {', '.join(sorted(same_owner))}"
                 if same_owner else "")
        return Finding(E, f"{len(good)} of {need} required attestations from {names}{extra}",
                       "attestations")
    return Finding(P, f"attested by {', '.join(sorted(good))}")


def _when(value: Any) -> datetime | None:
    """A record/attestation time as an aware datetime (datetime, Unix seconds, or 0/None)."""
    if value is None or value == 0:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return datetime.fromtimestamp(min(int(value), 253402300799), UTC)


@lint("record.lifecycle", "The registry record is not revoked, expired or not yet valid at "
      "evaluation time", ALL, Source.REGISTRY, "DESIGN.md (lifecycle: re-evaluated at every read)",
      E)
def record_lifecycle(ctx: Context, p: Mapping[str, Any]) -> Finding:
    rec = ctx.record
    if rec is None:
        return _NO_RECORD
    revoked = _when(getattr(rec, "revoked_at", None))
    if revoked is not None and revoked <= ctx.at:
        reason = getattr(rec, "reason", None)
        label = getattr(reason, "label", reason)
        why = f" ({label})" if label not in (None, "") else ""
        return Finding(E, f"the record was revoked on {revoked.isoformat()}{why}", "record")
    until = _when(getattr(rec, "valid_until", None))
    if until is not None and until <= ctx.at:
        return Finding(E, f"the record expired on {until.isoformat()}", "record.valid_until")
    start = _when(getattr(rec, "valid_from", None))
    if start is not None and start > ctx.at:
        return Finding(E, f"the record is valid only from {start.isoformat()}",
                       "record.valid_from")
    return PASSED
