"""The policy checker: zlint-style lints over SSH, OpenPGP and X.509 keys, profiles, reports.

    from registry.policy import check
    report = check(key, profile="strict", name="alice@example.org"); print(report.to_text())

Pure layer: no network, no chain. Lint modules and heavy dependencies
(cryptography, pkilint) load on first use, so ``import registry.policy`` is cheap.
See docs/POLICY.md for the policy file format and docs/LINTS.md for the lints.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from registry.policy._framework import (
    LINTS,
    Attestation,
    Context,
    Finding,
    Lint,
    LintResult,
    Source,
    Status,
    TimeBase,
    built,
    judge,
    run_lint,
)

if TYPE_CHECKING:  # pragma: no cover
    from registry.policy.profiles import Policy
    from registry.policy.report import Report

__all__ = [
    "Attestation",
    "Finding",
    "Lint",
    "LintResult",
    "Source",
    "Status",
    "TimeBase",
    "check",
    "failing",
    "lints",
    "lints_markdown",
    "load_lints",
]

_LINT_MODULES = ("_ssh_lints", "_openpgp_lints", "_x509_lints", "_binding_lints", "_dns_lints")
_loaded = False


def load_lints() -> dict[str, Lint]:
    """Import the lint modules (once) and return the registry of lints by id."""
    global _loaded
    if not _loaded:
        import importlib

        for mod in _LINT_MODULES:
            importlib.import_module(f"registry.policy.{mod}")
        _loaded = True
    return LINTS


def lints(key_type: str | None = None) -> list[Lint]:
    """Every lint, sorted by id (optionally only those for ``key_type``)."""
    return sorted(
        (lt for lt in load_lints().values() if key_type is None or key_type in lt.key_types),
        key=lambda lt: lt.id,
    )


def _policy(policy: Any, profile: str) -> Policy:
    from registry.policy.profiles import Policy, builtin_policy, load_policy, parse_policy

    if policy is None:
        return builtin_policy(profile)
    if isinstance(policy, Policy):
        return policy
    if isinstance(policy, os.PathLike):
        return load_policy(policy)
    if isinstance(policy, str | bytes):
        return parse_policy(policy)
    from registry.errors import ConfigError

    raise ConfigError(f"policy must be a Policy, a path or TOML text, not {type(policy).__name__}")


_PLANS: dict[tuple[str, str, str], tuple[tuple[Lint, Mapping[str, Any], Any, Any], ...]] = {}


def _plan(pol: Policy) -> tuple[tuple[Lint, Mapping[str, Any], Any, Any], ...]:
    """The policy's enabled lints in id order, with merged parameters, severity override
    and a ready NA result; cached per policy content (policies are immutable)."""
    key = (pol.profile, pol.sha256, pol.source)
    plan = _PLANS.get(key)
    if plan is None:
        plan = tuple(
            (lt, pol.params_for(lt), pol.severity.get(lt.id), LintResult(lt.id, Status.NA))
            for lt in sorted(LINTS.values(), key=lambda x: x.id)
            if pol.enabled(lt)
        )
        if len(_PLANS) > 64:
            _PLANS.clear()
        _PLANS[key] = plan
    return plan


_Active = tuple[tuple[int, Callable[..., LintResult], Lint, Mapping[str, Any], Any], ...]
_TYPED: dict[tuple[str, str, str, str], tuple[tuple[LintResult, ...], _Active]] = {}


def _typed_plan(pol: Policy, key_type: str) -> tuple[tuple[LintResult, ...], _Active]:
    """:func:`_plan` for one key type: every lint's NA result in id order (the report's
    template) and (position, runner, lint, parameters, severity) of the lints that apply,
    which alone are run. Same results as running the whole plan, without visiting the lints
    of the other key types for every key. The runner is :func:`run_lint`, or its
    :func:`judge` alone for a lint without effective dates (its gates would pass: the key's
    type is the lint's)."""
    key = (pol.profile, pol.sha256, pol.source, key_type)
    typed = _TYPED.get(key)
    if typed is None:
        plan = _plan(pol)
        typed = (tuple(na for _lt, _p, _s, na in plan),
                 tuple((i, run_lint if lt.effective is not None or lt.ineffective is not None
                        else judge, lt, params, severity)
                       for i, (lt, params, severity, _na) in enumerate(plan)
                       if key_type in lt.key_types))
        if len(_TYPED) > 64:
            _TYPED.clear()
        _TYPED[key] = typed
    return typed


def _utc(t: datetime | None) -> datetime | None:
    if t is None:
        return None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _as_bytes(data: bytes | str | None) -> bytes | None:
    """Proof or statement bytes; text (an armored signature read in text mode) as UTF-8."""
    if not data:
        return None
    if isinstance(data, str):
        return data.encode("utf-8")
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    from registry.errors import ProofError

    raise ProofError(f"proof and statement must be bytes or str, not {type(data).__name__}")


def _fingerprint(key: Any) -> str:
    try:
        return str(key.fingerprint)
    except Exception:
        import hashlib

        return hashlib.sha256(bytes(key.material)).hexdigest()


def check(
    key: Any,
    *,
    policy: Policy | str | bytes | os.PathLike[str] | None = None,
    profile: str = "default",
    at: datetime | None = None,
    name: str | None = None,
    proof: bytes | str | None = None,
    statement: bytes | str | None = None,
    registered_at: datetime | None = None,
    other_names: Iterable[str] | None = None,
    attestations: Iterable[Any] | None = None,
    trust_anchors: Sequence[Any] | None = None,
    intermediates: Sequence[Any] = (),
    purposes: int | None = None,
    record: Any = None,
    owners: Mapping[str, str] | None = None,
    parent: str | None = None,
    squatted_by: str | bool | None = None,
    only: Iterable[str] | None = None,
    dns: Any = None,
) -> Report:
    """Run the policy's lints over ``key`` and return a :class:`Report`.

    ``policy`` is a :class:`~registry.policy.profiles.Policy`, a path to a
    TOML policy file, or TOML text; without it the built-in ``profile`` is
    used. ``at`` defaults to now (UTC). ``trust_anchors``/``intermediates``
    are ``cryptography`` certificates. ``only`` restricts the run to some
    lint ids (tests, debugging). A lint that crashes yields FATAL; the run
    goes on. ``record`` is the registry record the key was published in (any
    object with ``valid_from``, ``valid_until`` and ``revoked_at`` as datetimes
    or Unix seconds, 0/None for unset): ``record.lifecycle`` judges it at ``at``.
    ``owners`` maps names (the key's and its attesters') to their owner
    addresses and ``parent`` is the name's registry parent: ``key.attestations``
    counts an attestation only from a trusted name (``@parent`` in a policy's
    ``trusted`` list means ``parent``) whose owner is known and differs from the
    key's owner.
    ``squatted_by`` is what :func:`registry.names.squatted_by` says of the
    name (the registered domain it squats in, or False when it does not;
    None: unknown): ``binding.domain_chain`` judges it.
    ``dns`` is the :class:`registry.dnscontrol.DnsVerdict` of the name's domain
    (``name.dns_control`` judges it).

    Raises:
        ConfigError: bad policy file or unknown profile.
        KeyFormatError: ``key`` is not a parsed key object.
        ProofError: ``proof`` or ``statement`` is neither bytes nor str.
    """
    from registry import __version__
    from registry.policy.report import Report

    pol, when, key_type, results = _run(
        key, policy, profile, at, name, proof, statement, registered_at, other_names,
        attestations, trust_anchors, intermediates, purposes, record, owners, parent,
        squatted_by, only, dns)
    return built(
        Report, results=tuple(results), profile=pol.profile, policy_sha256=pol.sha256,
        checker_version=__version__, evaluated_at=when, fail_level=pol.fail_level,
        key_type=key_type, fingerprint=_fingerprint(key), name=name,
    )


def failing(
    key: Any,
    *,
    profile: str = "default",
    at: datetime | None = None,
    name: str | None = None,
    proof: bytes | str | None = None,
    statement: bytes | str | None = None,
    purposes: int | None = None,
    squatted_by: str | bool | None = None,
) -> tuple[str, str, list[str]]:
    """What the sync keeps of :func:`check` (same arguments): the policy's profile, its
    sha256 and the ids of the lints at or above its fail level, in the report's order
    (none: passed) — without building the report.

    Raises: as :func:`check`.
    """
    pol, _when, _kt, results = _run(key, None, profile, at, name, proof, statement, None,
                                    None, None, None, (), purposes, None, None, None,
                                    squatted_by, None, None)
    floor = pol.fail_level
    return pol.profile, pol.sha256, [r.lint_id for r in results if r.status >= floor]


def _run(key: Any, policy: Any, profile: str, at: datetime | None, name: str | None,
         proof: Any, statement: Any, registered_at: datetime | None,
         other_names: Iterable[str] | None, attestations: Iterable[Any] | None,
         trust_anchors: Sequence[Any] | None, intermediates: Sequence[Any],
         purposes: int | None, record: Any, owners: Mapping[str, str] | None,
         parent: str | None, squatted_by: str | bool | None, only: Iterable[str] | None,
         dns: Any) -> tuple[Policy, datetime, str, list[LintResult]]:
    """:func:`check`'s work: (policy, evaluation time, key type, results in id order)."""
    from registry.errors import KeyFormatError

    pol = _policy(policy, profile)
    load_lints()
    when = _utc(at) or datetime.now(UTC)
    ctx = built(
        Context, key=key, at=when, name=name, registered_at=_utc(registered_at),
        proof=_as_bytes(proof), statement=_as_bytes(statement),
        other_names=tuple(other_names) if other_names is not None else None,
        attestations=tuple(attestations) if attestations is not None else None,
        trust_anchors=tuple(trust_anchors) if trust_anchors else None,
        intermediates=tuple(intermediates), purposes=purposes, record=record,
        owners=dict(owners) if owners is not None else None, parent=parent,
        squatted_by=squatted_by, dns=dns,
    )
    try:
        key_type = ctx.key_type
        ctx.material  # noqa: B018 -- fail early on an unusable key object
    except Exception as exc:
        raise KeyFormatError(f"not a parsed key: {exc}") from exc
    results: list[LintResult] = []
    if only is not None:  # every listed lint run and its result built afresh (the reference)
        wanted = set(only)
        for lt in sorted(LINTS.values(), key=lambda x: x.id):
            if lt.id in wanted:
                results.append(run_lint(lt, ctx, pol.params_for(lt), pol.severity.get(lt.id),
                                        shared=False))
    else:
        template, active = _typed_plan(pol, key_type)
        results = list(template)  # NA without calling the lint
        for i, run, lt, params, severity in active:
            results[i] = run(lt, ctx, params, severity)
    return pol, when, key_type, results


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def lints_markdown() -> str:
    """docs/LINTS.md, generated from the lint registry (scripts/gen_lints_doc.py writes it)."""
    from registry.policy.profiles import PROFILES

    all_lints = lints()
    out = [
        "# Lints",
        "",
        "<!-- generated by scripts/gen_lints_doc.py from registry/policy; do not edit -->",
        "",
        f"{len(all_lints)} lints. Statuses: NA (does not apply), NE (not effective, or input "
        "missing), pass, info, warn, error, fatal (the lint crashed). *Max* is the worst "
        "status a lint gives under the default profile; *Dates* are effective [from, until) "
        "compared with the named time. Lints marked *off* run only when a profile or policy "
        "includes them.",
        "",
        "| id | types | max | description | source | citation | dates | parameters |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for lt in all_lints:
        dates = ""
        if lt.effective or lt.ineffective:
            frm = lt.effective.date().isoformat() if lt.effective else ""
            until = lt.ineffective.date().isoformat() if lt.ineffective else ""
            dates = f"{frm} – {until} ({lt.time_base.value})"
        params = ", ".join(f"`{k}={v!r}`" for k, v in lt.params.items())
        flag = "" if lt.default_enabled else " (off)"
        out.append(
            f"| `{lt.id}`{flag} | {', '.join(sorted(lt.key_types))} | {lt.max_severity.label} | "
            f"{_md(lt.description)} | {lt.source.value} | {_md(lt.citation)} | {dates} | "
            f"{_md(params)} |"
        )
    out += ["", "## Profiles", ""]
    for name, data in PROFILES.items():
        out.append(f"- `{name}`: {data['description']}")
    return "\n".join(out) + "\n"


def __getattr__(name: str) -> Any:
    if name in ("Policy", "builtin_policy", "load_policy", "parse_policy", "PROFILES"):
        from registry.policy import profiles

        return getattr(profiles, name)
    if name == "Report":
        from registry.policy.report import Report

        return Report
    raise AttributeError(f"module 'registry.policy' has no attribute {name!r}")
