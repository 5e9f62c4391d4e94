"""Policies: built-in profiles and TOML policy files.

    policy = load_policy("policy.toml")          # or parse_policy(text), builtin_policy("strict")
    report = check(key, policy=policy)

A policy file::

    profile = "strict"          # start from a built-in profile (default: "default")
    fail_level = "error"        # a result at or above this fails the report
    exclude = ["ssh.type_allowlist", "x509.pkilint_*"]   # lint ids or globs
    include = ["x509.pkilint_serverauth"]                # lints that are off by default

    [params]
    "ssh.rsa_bits".min_bits = 3072

    [severity]
    "openpgp.expiry_none" = "error"

Built-in profiles are plain data (:data:`PROFILES`); their hash is the SHA-256
of a canonical JSON rendering; a file's hash is the SHA-256 of its bytes.
"""

from __future__ import annotations

import copy
import fnmatch
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from registry.errors import ConfigError
from registry.policy._framework import LINTS, Lint, Status

__all__ = ["PROFILES", "Policy", "builtin_policy", "load_policy", "parse_policy", "policy_from_spec"]

_TLS_PARAMS = {"assume_tls": True}

#: The built-in profiles, as policy-file data.
PROFILES: dict[str, dict[str, Any]] = {
    "default": {
        "description": "Refuses what OpenSSH, Sequoia/GnuPG and the CA/B Forum BR refuse; warns "
                       "on what they deprecate.",
        "fail_level": "error",
    },
    "strict": {
        "description": "default + RSA >= 3072, an expiry required, a proof of possession "
                       "required, an attestation by the name's registration authority (its "
                       "registry parent, owned by someone else), DNS control of the name's "
                       "domain required.",
        "fail_level": "error",
        "params": {
            "ssh.rsa_bits": {"min_bits": 3072},
            "openpgp.rsa_bits": {"min_bits": 3072},
            "x509.rsa_modulus": {"min_bits": 3072},
            "binding.proof": {"required": True},
            "key.attestations": {"min": 1, "trusted": ["@parent"]},
            "name.dns_control": {"required": True},
        },
        "severity": {
            "openpgp.expiry_none": "error",
            "ssh.cert_forever": "error",
            "x509.validity_far": "error",
        },
    },
    "cabf-tls": {
        "description": "CA/B Forum Baseline Requirements for TLS server certificates: key, "
                       "validity, SAN, EKU rules as errors, plus pkilint's serverauth profile.",
        "fail_level": "error",
        "include": ["x509.pkilint_serverauth"],
        "params": {
            "x509.br_validity": _TLS_PARAMS,
            "x509.san_present": _TLS_PARAMS,
            "x509.eku": _TLS_PARAMS,
            "x509.ec_curve": {"eddsa": False},
        },
        "severity": {"x509.rsa_exponent": "error", "x509.san_critical": "error",
                     "x509.serial": "error"},
    },
}


@dataclass(frozen=True)
class Policy:
    """A resolved policy: which lints run, with what parameters and severities."""

    profile: str
    sha256: str
    fail_level: Status = Status.ERROR
    params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    severity: Mapping[str, Status] = field(default_factory=dict)
    exclude: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    source: str = "builtin"  # "builtin" or the file path / "<text>"

    def enabled(self, lt: Lint) -> bool:
        if any(fnmatch.fnmatchcase(lt.id, pat) for pat in self.exclude):
            return False
        return lt.default_enabled or any(fnmatch.fnmatchcase(lt.id, pat) for pat in self.include)

    def params_for(self, lt: Lint) -> dict[str, Any]:
        merged = dict(lt.params)
        merged.update(self.params.get(lt.id, {}))
        return merged

    def to_dict(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "sha256": self.sha256,
            "source": self.source,
            "fail_level": self.fail_level.label,
            "exclude": list(self.exclude),
            "include": list(self.include),
            "params": {k: dict(v) for k, v in sorted(self.params.items())},
            "severity": {k: v.label for k, v in sorted(self.severity.items())},
        }


def canonical(data: Mapping[str, Any]) -> bytes:
    """Canonical JSON rendering of policy data (sorted keys, no spaces)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _ensure_lints() -> None:
    from registry.policy import load_lints

    load_lints()


def _resolve(data: Mapping[str, Any], *, sha256: str, source: str) -> Policy:
    _ensure_lints()
    known_keys = {"profile", "fail_level", "exclude", "include", "params", "severity",
                  "description"}
    unknown = set(data) - known_keys
    if unknown:
        raise ConfigError(f"policy: unknown key(s) {', '.join(sorted(unknown))}")
    name = data.get("profile", "default")
    if source != "builtin":
        if name not in PROFILES:
            raise ConfigError(f"policy: unknown profile {name!r} ({', '.join(PROFILES)})")
        base = copy.deepcopy(PROFILES[name])
    else:
        base = {}
    params: dict[str, dict[str, Any]] = {k: dict(v) for k, v in base.get("params", {}).items()}
    severity: dict[str, Any] = dict(base.get("severity", {}))
    exclude = list(base.get("exclude", []))
    include = list(base.get("include", []))
    fail_level = base.get("fail_level", "error")

    raw_params = data.get("params", {})
    if not isinstance(raw_params, Mapping):
        raise ConfigError("policy: [params] must be a table of lint ids")
    for lint_id, values in raw_params.items():
        lt = LINTS.get(lint_id)
        if lt is None:
            raise ConfigError(f"policy: [params] names unknown lint {lint_id!r}")
        if not isinstance(values, Mapping):
            raise ConfigError(f"policy: params for {lint_id} must be a table")
        for pname, value in values.items():
            if pname not in lt.params:
                raise ConfigError(f"policy: lint {lint_id} has no parameter {pname!r} "
                                  f"(has: {', '.join(lt.params) or 'none'})")
            default = lt.params[pname]
            ok = (isinstance(value, bool) == isinstance(default, bool)) and (
                isinstance(value, type(default)) or
                (isinstance(default, int | float) and isinstance(value, int | float))
            )
            if not ok:
                raise ConfigError(f"policy: {lint_id}.{pname} must be "
                                  f"{type(default).__name__}, got {type(value).__name__}")
            params.setdefault(lint_id, {})[pname] = value
    raw_sev = data.get("severity", {})
    if not isinstance(raw_sev, Mapping):
        raise ConfigError("policy: [severity] must be a table")
    for lint_id, level in raw_sev.items():
        if lint_id not in LINTS:
            raise ConfigError(f"policy: [severity] names unknown lint {lint_id!r}")
        severity[lint_id] = level
    for key, target in (("exclude", exclude), ("include", include)):
        values = data.get(key, [])
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ConfigError(f"policy: {key} must be a list of lint ids or globs")
        for pat in values:
            if not any(fnmatch.fnmatchcase(i, pat) for i in LINTS):
                raise ConfigError(f"policy: {key} pattern {pat!r} matches no lint")
        target.extend(values)
    fail_level = data.get("fail_level", fail_level)
    try:
        levels = {k: Status.parse(v) for k, v in severity.items()}
        fail = Status.parse(fail_level)
    except ValueError as exc:
        raise ConfigError(f"policy: {exc}") from exc
    if fail < Status.INFO:
        raise ConfigError("policy: fail_level must be info, warn, error or fatal")
    policy = Policy(str(name), sha256, fail, params, levels, tuple(exclude), tuple(include),
                    source)
    _check_attestation_params(policy, source)
    return policy


def _check_attestation_params(policy: Policy, source: str) -> None:
    """A policy requiring attestations must say whose count: refuse an empty or short list.

    With no trusted names every attester counted, so the key's own owner met the
    requirement through a second name (a sybil).
    """
    lt = LINTS["key.attestations"]
    if not policy.enabled(lt):
        return
    p = policy.params_for(lt)
    need, trusted = p["min"], p["trusted"]
    if not isinstance(need, int) or isinstance(need, bool) or need < 0:
        raise ConfigError(f"policy {source}: key.attestations.min must be a whole number >= 0")
    if need == 0:
        return
    where = '[params] "key.attestations".trusted' if source != "builtin" else "its trusted list"
    if not trusted:
        raise ConfigError(
            f"policy {source} ({policy.profile}): key.attestations requires {need}"
            f" attestation(s) but names no trusted attesters; list them in {where}"
            f' (registry names, or "@parent" for the name\'s registration authority)')
    from registry.errors import InvalidName
    from registry.names import parse_name

    for t in trusted:
        if not isinstance(t, str):
            raise ConfigError(f"policy {source}: key.attestations.trusted holds {t!r}, not a name")
        if t != "@parent":
            try:
                parse_name(t)
            except InvalidName as exc:
                raise ConfigError(f"policy {source}: key.attestations.trusted: {exc}") from exc
    if need > len(set(trusted)):
        raise ConfigError(f"policy {source}: key.attestations requires {need} attestations but"
                          f" trusts only {len(set(trusted))} name(s)")


def builtin_policy(profile: str = "default") -> Policy:
    """The built-in profile ``profile`` as a :class:`Policy`.

    Raises:
        ConfigError: unknown profile name.
    """
    cached = _BUILTIN.get(profile)
    if cached is not None:
        return cached
    data = PROFILES.get(profile)
    if data is None:
        raise ConfigError(f"unknown profile {profile!r} (one of {', '.join(PROFILES)})")
    digest = hashlib.sha256(canonical({"profile": profile, **data})).hexdigest()
    policy = _resolve({"profile": profile, **data}, sha256=digest, source="builtin")
    _BUILTIN[profile] = policy
    return policy


_BUILTIN: dict[str, Policy] = {}


def parse_policy(text: str | bytes, *, source: str = "<text>") -> Policy:
    """Parse policy-file TOML text.

    Raises:
        ConfigError: invalid TOML, unknown profile, lint, parameter or status.
    """
    import tomllib

    raw = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"policy {source}: not valid TOML: {exc}") from exc
    return _resolve(data, sha256=hashlib.sha256(raw).hexdigest(), source=source)


def load_policy(path: str | os.PathLike[str]) -> Policy:
    """Read and parse a policy file.

    Raises:
        ConfigError: unreadable file, or see :func:`parse_policy`.
    """
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise ConfigError(f"cannot read policy file {os.fspath(path)}: {exc.strerror}") from exc
    return parse_policy(raw, source=os.fspath(path))


def policy_from_spec(spec: str) -> Policy:
    """The policy a ``--policy`` argument names: an existing file, else a built-in profile
    (the rule ``keyanchor serve`` applies at lookup), checked once up front.

    Raises:
        ConfigError: a path that is no file, an unknown profile, or see :func:`load_policy`.
    """
    if os.path.exists(spec):
        return load_policy(spec)
    if "/" in spec or spec.endswith(".toml"):
        raise ConfigError(f"{spec}: no such policy file")
    return builtin_policy(spec)
