"""The lint framework: statuses, lint records, the registry of lints, the context, the runner.

    @lint("ssh.rsa_bits", "RSA modulus size", KeyTypes.SSH, Source.OPENSSH, "ssh-audit",
          Status.ERROR, params={"min_bits": 2048})
    def rsa_bits(ctx, p): ...

Modelled on zlint (``lint.Lint``, ``LintStatus``), pkilint (validators with
findings and node paths) and Sequoia's StandardPolicy (dated cut-offs).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum, StrEnum
from typing import Any

__all__ = [
    "LINTS",
    "NOT_APPLICABLE",
    "PASSED",
    "Attestation",
    "Context",
    "Finding",
    "Lint",
    "LintResult",
    "Source",
    "Status",
    "TimeBase",
    "built",
    "judge",
    "lint",
    "run_lint",
]


class Status(IntEnum):
    """Result statuses, ordered by how bad they are (zlint's LintStatus plus INFO/FATAL)."""

    NA = 0  # does not apply to this key
    NE = 1  # not effective (dates), or the input it needs was not given
    PASS = 2
    INFO = 3
    WARN = 4
    ERROR = 5
    FATAL = 6  # the lint itself crashed

    @property
    def label(self) -> str:
        return self.name if self in (Status.NA, Status.NE) else self.name.lower()

    @classmethod
    def parse(cls, text: str | Status) -> Status:
        if isinstance(text, Status):
            return text
        try:
            return cls[str(text).strip().upper()]
        except KeyError:
            raise ValueError(
                f"unknown status {text!r} (one of {', '.join(s.label for s in cls)})"
            ) from None


class Source(StrEnum):
    OPENSSH = "OpenSSH"
    RFC9580 = "RFC 9580"
    SEQUOIA = "Sequoia"
    GNUPG = "GnuPG"
    RFC5280 = "RFC 5280"
    CABF_BR = "CA/B Forum BR"
    NIST = "NIST"
    PKILINT = "pkilint"
    REGISTRY = "registry"


class TimeBase(StrEnum):
    """What a lint's effective dates are compared with."""

    ISSUANCE = "issuance"  # key creation / certificate notBefore / SSH cert valid-after
    EVALUATION = "evaluation"  # the time the check runs "at"
    REGISTRATION = "registration"  # when the key was published to the registry


@dataclass(frozen=True, slots=True)
class Finding:
    """One observation a lint makes."""

    status: Status
    details: str = ""
    location: str = ""


LintFunc = Callable[["Context", Mapping[str, Any]], "Finding | Iterable[Finding] | None"]


@dataclass(frozen=True, slots=True)
class Lint:
    """A lint: metadata plus the function that checks."""

    id: str
    description: str
    key_types: frozenset[str]  # "ssh", "openpgp", "x509"
    source: Source
    citation: str
    max_severity: Status
    func: LintFunc = field(repr=False, compare=False)
    effective: datetime | None = None
    ineffective: datetime | None = None
    time_base: TimeBase = TimeBase.EVALUATION
    params: Mapping[str, Any] = field(default_factory=dict)
    default_enabled: bool = True  # off unless a profile or policy enables it

    @property
    def category(self) -> str:
        return self.id.split(".", 1)[0]


#: The plain findings most lints return for most keys, made once (findings are immutable; a
#: frozen dataclass costs ~1-2 us to build, and a check runs ~30 lints a key)
PASSED = Finding(Status.PASS)
NOT_APPLICABLE = Finding(Status.NA)


@dataclass(frozen=True, slots=True)
class LintResult:
    """What one lint concluded: the worst finding, and all findings."""

    lint_id: str
    status: Status
    details: str = ""
    location: str = ""
    findings: tuple[Finding, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"lint": self.lint_id, "status": self.status.label}
        if self.details:
            out["details"] = self.details
        if self.location:
            out["location"] = self.location
        if len(self.findings) > 1:
            out["findings"] = [
                {"status": f.status.label, "details": f.details, "location": f.location}
                for f in self.findings
            ]
        return out


@dataclass(frozen=True, slots=True)
class Attestation:
    """An attestation of the key by another name (from the chain client or index)."""

    attester: str
    withdrawn: bool = False
    policy_hash: str | None = None
    created: datetime | None = None
    expires: datetime | None = None
    attester_owner: str | None = None  # the attesting name's owner address, when known


#: Every registered lint, by id, in registration order.
LINTS: dict[str, Lint] = {}

_KEY_TYPES = {"ssh", "openpgp", "x509"}


def lint(
    id: str,
    description: str,
    key_types: Iterable[str] | str,
    source: Source,
    citation: str,
    max_severity: Status,
    *,
    effective: datetime | None = None,
    ineffective: datetime | None = None,
    time_base: TimeBase = TimeBase.EVALUATION,
    params: Mapping[str, Any] | None = None,
    default_enabled: bool = True,
) -> Callable[[LintFunc], LintFunc]:
    """Register the decorated function as a lint."""
    kts = frozenset([key_types] if isinstance(key_types, str) else key_types)
    if not kts <= _KEY_TYPES:
        raise ValueError(f"lint {id}: unknown key types {sorted(kts - _KEY_TYPES)}")

    def deco(func: LintFunc) -> LintFunc:
        if id in LINTS:
            raise ValueError(f"duplicate lint id {id}")
        LINTS[id] = Lint(id, description, kts, source, citation, max_severity, func,
                         effective, ineffective, time_base, dict(params or {}), default_enabled)
        return func

    return deco


def utc(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


class _cached:
    """``functools.cached_property`` without its per-class lock (Python < 3.12 takes it on
    every first access; a Context lives in one thread, and a race only computes twice)."""

    def __init__(self, func: Callable[[Any], Any]) -> None:
        self.func = func
        self.name = func.__name__
        self.__doc__ = func.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        value = self.func(instance)
        instance.__dict__[self.name] = value  # shadows this (non-data) descriptor from now on
        return value


_FIELDS: dict[type, frozenset[str]] = {}


def built(cls: type, **fields: Any) -> Any:
    """``cls(**fields)`` for a frozen dataclass with a ``__dict__`` (no slots) and no
    ``__post_init__``: when every field is given, the same object is made by filling its
    ``__dict__`` at once, without the generated ``__init__``'s ``object.__setattr__`` per
    field (a policy check makes one Context and one Report per key)."""
    names = _FIELDS.get(cls)
    if names is None:
        import dataclasses

        names = _FIELDS[cls] = frozenset() if hasattr(cls, "__slots__") or hasattr(
            cls, "__post_init__") else frozenset(f.name for f in dataclasses.fields(cls))
    if not names or fields.keys() != names:
        return cls(**fields)
    obj: Any = object.__new__(cls)
    obj.__dict__.update(fields)
    return obj


#: (type, value) of a key object's ``key_type`` -> its label ("ssh", "openpgp", "x509"):
#: ``KeyType.parse(...).label``, remembered (the same few values, once a key)
_KEY_TYPE_LABELS: dict[tuple[type, Any], str] = {}


@dataclass(frozen=True)
class Context:
    """Everything a lint may look at. Parsed views of the key are computed once, lazily."""

    key: Any
    at: datetime
    name: str | None = None
    registered_at: datetime | None = None
    proof: bytes | None = None
    statement: bytes | None = None
    other_names: tuple[str, ...] | None = None
    attestations: tuple[Any, ...] | None = None
    trust_anchors: tuple[Any, ...] | None = None  # cryptography x509.Certificate objects
    intermediates: tuple[Any, ...] = ()
    purposes: int | None = None  # registry.keys.Purpose flags
    record: Any = None  # the registry record (valid_from / valid_until / revoked_at), if any
    owners: Mapping[str, str] | None = None  # name -> owner address (subject and attesters)
    parent: str | None = None  # the subject's registry parent name (its registration authority)
    #: the registered domain the name squats in (registry.names.squatted_by), False when
    #: the name's parent chain was checked and is fine, None when not known
    squatted_by: str | bool | None = None
    dns: Any = None  # registry.dnscontrol.DnsVerdict of the name's domain, if checked

    @_cached
    def key_type(self) -> str:
        kt = self.key.key_type
        memo = (type(kt), kt)
        try:
            return _KEY_TYPE_LABELS[memo]
        except (KeyError, TypeError):  # not seen yet, or unhashable
            pass
        from registry.keys import KeyType

        label: str = KeyType.parse(kt).label
        if len(_KEY_TYPE_LABELS) < 64:
            _KEY_TYPE_LABELS[memo] = label
        return label

    @_cached
    def material(self) -> bytes:
        return bytes(self.key.material)

    @_cached
    def ssh(self) -> Any:
        """The key as a :class:`registry.keys._ssh.SSHPublicKey` (SSH only)."""
        from registry.policy._ssh_lints import ssh_key

        return ssh_key(self.key, self.material)

    @_cached
    def pgp(self) -> Any:
        """:class:`registry.policy._pgp_walk.PGPCert` of the certificate (OpenPGP only)."""
        from registry.policy._pgp_walk import walk

        return walk(self.material)

    @_cached
    def x509(self) -> Any:
        """The ``cryptography`` certificate (X.509 only)."""
        to_c = getattr(self.key, "to_cryptography", None)
        if to_c is not None:
            return to_c()
        from cryptography import x509

        return x509.load_der_x509_certificate(self.material)

    @_cached
    def public_numbers(self) -> tuple[str, Any] | None:
        """``("rsa", (n, e))``, ``("ec", curve_name)``, ``("ed", bits)``, ``("dsa", p_bits)`` ...

        For OpenPGP, the primary key. Used by the cross-cutting lints.
        """
        kt = self.key_type
        if kt == "ssh":
            s = self.ssh
            params = dict(s.parameters)
            if "n" in params:
                return ("rsa", (params["n"], params["e"]))
            if s.plain_algorithm == "ssh-dss":
                return ("dsa", params["p"].bit_length())
            if s.curve is not None:
                return ("ec", s.curve)
            return ("ed", 256)
        if kt == "x509":
            from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa

            pub = self.x509.public_key()
            if isinstance(pub, rsa.RSAPublicKey):
                nums = pub.public_numbers()
                return ("rsa", (nums.n, nums.e))
            if isinstance(pub, ec.EllipticCurvePublicKey):
                return ("ec", pub.curve.name)
            if isinstance(pub, dsa.DSAPublicKey):
                return ("dsa", pub.key_size)
            return ("ed", 256 if "25519" in type(pub).__name__ else 448)
        prim = self.pgp.primary
        if prim.rsa_n is not None:
            return ("rsa", (prim.rsa_n, prim.rsa_e))
        if prim.algorithm in ("dsa", "elgamal"):
            return (prim.algorithm, prim.bits)
        if prim.algorithm.startswith(("ecdsa-", "ecdh-")):
            return ("ec", prim.curve)
        return ("ed", prim.bits)

    @_cached
    def issued_at(self) -> datetime | None:
        kt = self.key_type
        if kt == "x509":
            return self.x509.not_valid_before_utc
        if kt == "openpgp":
            return self.pgp.primary.created
        cert = self.ssh.certificate
        if cert is not None:
            return datetime.fromtimestamp(min(cert.valid_after, 2**37), UTC)
        return None


_PASS = PASSED


def _as_findings(value: Finding | Iterable[Finding] | None) -> tuple[Finding, ...]:
    if value is None:
        return (_PASS,)
    if isinstance(value, Finding):
        return (value,)
    out = tuple(value)
    return out or (_PASS,)


def _reference_time(lt: Lint, ctx: Context) -> datetime | None:
    if lt.time_base is TimeBase.EVALUATION:
        return ctx.at
    if lt.time_base is TimeBase.REGISTRATION:
        return ctx.registered_at or ctx.at
    return ctx.issued_at


#: One-finding results already built, by (lint id, status, details, location): results are immutable, and most
#: keys give most lints the same plain result, so one object serves them all (bounded).
_SHARED: dict[tuple[str, int, str, str], LintResult] = {}
#: (``Status.X`` is a lookup through the enum's metaclass on every use)
_INFO, _FATAL = Status.INFO, Status.FATAL
_SHARED_MAX = 4096


def run_lint(
    lt: Lint,
    ctx: Context,
    params: Mapping[str, Any],
    severity: Status | None = None,
    *,
    shared: bool = True,
) -> LintResult:
    """Run one lint: applicability, dates, the check, severity capping; a crash gives FATAL.

    ``shared=False`` builds the result afresh instead of re-using an equal one (tests
    compare the two)."""
    try:
        kt = ctx.key_type
    except Exception as exc:  # key without a usable key_type
        return LintResult(lt.id, Status.FATAL, f"unusable key object: {exc}")
    if kt not in lt.key_types:
        return LintResult(lt.id, Status.NA)
    if lt.effective is not None or lt.ineffective is not None:
        try:
            ref = _reference_time(lt, ctx)
        except Exception as exc:
            return LintResult(lt.id, Status.FATAL, f"{type(exc).__name__}: {exc}")
        if ref is None:
            return LintResult(lt.id, Status.NE, f"no {lt.time_base.value} time known")
        if lt.effective is not None and ref < lt.effective:
            return LintResult(lt.id, Status.NE,
                              f"effective from {lt.effective.date()} ({lt.time_base.value} time)")
        if lt.ineffective is not None and ref >= lt.ineffective:
            return LintResult(lt.id, Status.NE,
                              f"ineffective from {lt.ineffective.date()} ({lt.time_base.value} time)")
    return judge(lt, ctx, params, severity, shared=shared)


def judge(lt: Lint, ctx: Context, params: Mapping[str, Any], severity: Status | None = None,
          *, shared: bool = True) -> LintResult:
    """:func:`run_lint` after its gates: the check itself, severity capping; a crash gives
    FATAL. Called alone (policy.check's plan) only for a lint of the key's type without
    effective dates, for which run_lint's gates pass through."""
    try:
        value = lt.func(ctx, params)
        if value is None:
            findings: tuple[Finding, ...] = (_PASS,)
        elif type(value) is Finding:
            findings = (value,)
        else:
            findings = _as_findings(value)  # a generator runs here, inside the try
    except Exception as exc:
        return LintResult(lt.id, _FATAL, f"lint crashed: {type(exc).__name__}: {exc}")
    if len(findings) == 1:  # the usual case: one finding is the result
        f = findings[0]
        st = f.status
        if st >= _INFO and st != _FATAL:
            cap = severity if severity is not None else lt.max_severity
            st = severity if severity is not None and st == lt.max_severity else min(st, cap)
            if st != f.status:
                f = Finding(st, f.details, f.location)
        if not shared:
            return LintResult(lt.id, st, f.details, f.location, (f,))
        memo = (lt.id, int(st), f.details, f.location)
        try:
            result = _SHARED.get(memo)
        except TypeError:  # a finding with unhashable details: not shared
            return LintResult(lt.id, st, f.details, f.location, (f,))
        if result is None:
            if len(_SHARED) >= _SHARED_MAX:
                _SHARED.clear()
            result = _SHARED[memo] = LintResult(lt.id, st, f.details, f.location, (f,))
        return result
    cap = severity if severity is not None else lt.max_severity
    capped = []
    for f in findings:
        st = f.status
        if st >= _INFO and st != _FATAL:
            if severity is not None and st == lt.max_severity:
                st = severity
            else:
                st = min(st, cap)
        capped.append(Finding(st, f.details, f.location) if st != f.status else f)
    worst = max(capped, key=lambda f: f.status)
    same = [f for f in capped if f.status == worst.status and f.details]
    details = "; ".join(dict.fromkeys(f.details for f in same))
    return LintResult(lt.id, worst.status, details, worst.location, tuple(capped))
