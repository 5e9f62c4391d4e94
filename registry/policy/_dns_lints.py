"""The DNS-control lint: the domain's ``_keyanchor`` TXT record names the registry owner.

    check(key, name="alice@example.org", dns=check_dns_control("example.org", owner))

Pure: it judges a :class:`registry.dnscontrol.DnsVerdict` the caller obtained
(sync, ``keyanchor check``); it never resolves anything itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from registry.policy._framework import Context, Finding, Source, Status, lint

ALL = ("ssh", "openpgp", "x509")


#: Constant findings, made once (see _framework.PASSED)
_NOT_CHECKED = Finding(Status.NE, "DNS control not checked")

@lint("name.dns_control", "The domain's DNS (_keyanchor TXT) names the registry owner of the name",
      ALL, Source.REGISTRY, "DESIGN.md (names: DNS control); docs/CONTRACT.md threat model",
      Status.ERROR, params={"required": False})
def dns_control(ctx: Context, p: Mapping[str, Any]) -> Finding:
    verdict = ctx.dns
    required = bool(p["required"])
    if verdict is None:
        if required:
            return Finding(Status.ERROR, "DNS control is required but was not checked"
                           " (configure [dns] and sync)", "dns")
        return _NOT_CHECKED
    status, detail = verdict.status, verdict.detail
    if status == "match":
        return Finding(Status.PASS, detail)
    if status == "mismatch":  # DNS names someone else: never, whatever the profile
        return Finding(Status.ERROR, detail, "dns")
    if required:
        return Finding(Status.ERROR, f"DNS control is required: {detail}", "dns")
    return Finding(Status.WARN if status == "unavailable" else Status.NE, detail)
