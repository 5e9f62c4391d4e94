"""DNS control: does the domain's DNS name the registry owner? (``_keyanchor.<domain>`` TXT)

    verdict = check_dns_control("example.org", "0x70997970…", settings=DnsSettings("127.0.0.1", 5353))
    verdict.status        # "match", "mismatch", "absent" or "unavailable"

The chain cannot tell whether whoever registered ``example.org`` controls it in
DNS; the domain's holder says so by publishing a TXT record at
``_keyanchor.example.org`` whose text is ``keyanchor-owner=0x<40 hex>``, the
address that should own the name in the registry (several such records are
allowed, e.g. while a name moves). The verdict:

* ``match``: one of them names the on-chain owner;
* ``mismatch``: there are some, and none names the on-chain owner -- DNS says
  the name belongs to someone else (a squatter took it): never serve its keys;
* ``absent``: no such TXT record (NXDOMAIN, no answer, or no ``keyanchor-owner=``);
* ``unavailable``: the resolver failed or timed out.

The policy lint ``name.dns_control`` judges a verdict (an error on mismatch
always; on anything but a match when the profile requires DNS control, as
``strict`` does: fail closed). Sync computes verdicts for each top-level name
and the index stops serving the keys of names under a failing domain.
dnspython is imported only when a lookup runs (the sshd path never does one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from registry.errors import ConfigError

__all__ = ["PREFIX", "TXT_TAG", "DnsSettings", "DnsVerdict", "check_dns_control",
           "dns_settings", "owners_in_txt"]

PREFIX = "_keyanchor"
TXT_TAG = "keyanchor-owner="
_OWNER = re.compile(r"keyanchor-owner=(0x[0-9a-fA-F]{40})\Z")
STATUSES = ("match", "mismatch", "absent", "unavailable")


@dataclass(frozen=True, slots=True)
class DnsSettings:
    """Which resolver answers (``nameserver`` None: the system's), and what is required."""

    nameserver: str | None = None
    port: int = 53
    timeout: float = 3.0
    required: bool = False  # fail closed unless the DNS names the owner (the strict profile)


@dataclass(frozen=True, slots=True)
class DnsVerdict:
    domain: str
    owner: str  # the on-chain owner checked against
    status: str  # one of STATUSES
    owners: tuple[str, ...] = ()  # the addresses the TXT records name (lowercase)
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"domain": self.domain, "owner": self.owner, "status": self.status,
                "owners": list(self.owners), "detail": self.detail}


def owners_in_txt(texts: list[str]) -> tuple[str, ...]:
    """The owner addresses named by TXT strings (each record's strings already joined)."""
    out = []
    for text in texts:
        m = _OWNER.match(text.strip())
        if m:
            out.append(m.group(1).lower())
    return tuple(dict.fromkeys(out))


def dns_settings(raw: Any, *, required: bool = False) -> DnsSettings:
    """Settings from the config's ``[dns]`` table (``nameserver``, ``port``, ``timeout``,
    ``require``); ``required`` forces the requirement on (a profile that demands it).

    Raises:
        ConfigError: a value of the wrong type.
    """
    import ipaddress
    import math

    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise ConfigError("[dns] must be a table")
    unknown = sorted(set(raw) - {"nameserver", "port", "timeout", "require"})
    if unknown:  # a misspelt ``require`` must not quietly leave DNS control optional
        raise ConfigError(f"[dns] has no setting {unknown[0]!r} (nameserver, port, timeout,"
                          " require)")
    server, port = raw.get("nameserver"), raw.get("port", 53)
    timeout, require = raw.get("timeout", 3.0), raw.get("require", False)
    if server is not None:
        try:
            ipaddress.ip_address(server if isinstance(server, str) else "")
        except ValueError:
            raise ConfigError(f"[dns] nameserver must be an IP address string, not {server!r}"
                              ) from None
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ConfigError("[dns] port must be a port number")
    if (isinstance(timeout, bool) or not isinstance(timeout, int | float)
            or not math.isfinite(timeout) or not 0 < timeout <= 3600):
        raise ConfigError("[dns] timeout must be a positive number of seconds (at most 3600)")
    if not isinstance(require, bool):
        raise ConfigError("[dns] require must be true or false")
    return DnsSettings(server, port, float(timeout), require or required)


def check_dns_control(domain: str, owner: str, *, settings: DnsSettings | None = None) -> DnsVerdict:
    """Resolve ``_keyanchor.<domain>`` TXT and compare the owners it names with ``owner``.

    Never raises for DNS trouble (that is the ``unavailable`` verdict).
    """
    import dns.exception
    import dns.flags
    import dns.message
    import dns.name
    import dns.query
    import dns.rcode
    import dns.rdatatype
    import dns.resolver

    settings = settings or DnsSettings()
    owner = owner.lower()
    qname = f"{PREFIX}.{domain.rstrip('.')}."
    try:
        if settings.nameserver is not None:
            query = dns.message.make_query(dns.name.from_text(qname), dns.rdatatype.TXT)
            reply = dns.query.udp(query, settings.nameserver, port=settings.port,
                                  timeout=settings.timeout)
            if reply.flags & dns.flags.TC:
                reply = dns.query.tcp(query, settings.nameserver, port=settings.port,
                                      timeout=settings.timeout)
            rcode = reply.rcode()
            if rcode == dns.rcode.NXDOMAIN:
                return DnsVerdict(domain, owner, "absent", (), f"{qname} does not exist")
            if rcode != dns.rcode.NOERROR:
                return DnsVerdict(domain, owner, "unavailable", (),
                                  f"{qname}: the resolver answered {dns.rcode.to_text(rcode)}")
            texts = [b"".join(rd.strings).decode("utf-8", "replace")
                     for rrset in reply.answer if rrset.rdtype == dns.rdatatype.TXT
                     for rd in rrset]
        else:
            resolver = dns.resolver.Resolver()
            resolver.lifetime = settings.timeout
            answer = resolver.resolve(qname, "TXT", raise_on_no_answer=False)
            texts = [b"".join(rd.strings).decode("utf-8", "replace") for rd in answer]
    except dns.resolver.NXDOMAIN:
        return DnsVerdict(domain, owner, "absent", (), f"{qname} does not exist")
    except (dns.exception.DNSException, OSError, ValueError) as exc:
        return DnsVerdict(domain, owner, "unavailable", (),
                          f"{qname}: {type(exc).__name__}: {exc}"[:200])
    owners = owners_in_txt(texts)
    if not owners:
        return DnsVerdict(domain, owner, "absent", (), f"no {TXT_TAG} TXT record at {qname}")
    if owner in owners:
        return DnsVerdict(domain, owner, "match", owners, f"{qname} names the owner")
    return DnsVerdict(domain, owner, "mismatch", owners,
                      f"{qname} names {', '.join(owners)}, not the registry owner {owner}")
