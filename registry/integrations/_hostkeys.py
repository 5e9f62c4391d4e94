"""SSH host keys from the registry, for SSH libraries: what ``known_hosts_lines`` says, checked.

    entries = host_key_entries(reader, "web1.example.org", settings)
    match = check_host_key(entries, server_key_blob)   # raises KeyNotTrusted

:func:`host_key_entries` takes exactly the lines ssh's ``KnownHostsCommand``
gets (:func:`registry.gateways.ssh.known_hosts_lines`: the host's own
ssh-host records, the host CAs of the names with authority over it, revoked
keys of both) and parses them back into keys, so libraries apply the same
rules as OpenSSH without a second copy of the lookup. :func:`check_host_key`
then decides for one presented key the way ``ssh`` does (``sshconnect.c``):
revoked keys and revoked CAs are refused; a certificate must be a host
certificate for this host, valid now, without unknown critical options, and
signed (not with SHA-1) by a published host CA -- otherwise its plain key is
checked like any other host key.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from registry.errors import Error, InvalidName, KeyNotTrusted
from registry.gateways.ssh import SSHSettings, known_hosts_lines
from registry.index._query import IndexReader
from registry.keys._ssh import SSHPublicKey, load_ssh_blob
from registry.keys._ssh_text import load_ssh_public_key

__all__ = ["HostKeyEntries", "HostKeyMatch", "check_host_key", "host_key_entries",
           "host_name", "lookup_host_keys"]

#: CA signature algorithms OpenSSH accepts by default (``CASignatureAlgorithms``): no SHA-1.
_WEAK_CA_SIGNATURES = frozenset({"ssh-rsa", "ssh-dss"})


@dataclass(frozen=True, slots=True)
class HostKeyEntries:
    """The registry's view of one host: ``(key, registry name)`` pairs by role."""

    host: str
    trusted: tuple[tuple[SSHPublicKey, str], ...] = ()
    authorities: tuple[tuple[SSHPublicKey, str], ...] = ()
    revoked: tuple[tuple[SSHPublicKey, str], ...] = ()


@dataclass(frozen=True, slots=True)
class HostKeyMatch:
    """Why a host key was accepted."""

    host: str
    fingerprint: str  # the host key's (for a certificate, the certified key's)
    kind: str  # "key" or "certificate"
    name: str  # the registry name whose record vouches for it (the host, or the CA's name)

    def __str__(self) -> str:
        if self.kind == "certificate":
            return (f"{self.host}: host certificate for {self.fingerprint} signed by the host CA"
                    f" published on {self.name}")
        return f"{self.host}: host key {self.fingerprint} published on {self.name}"


def host_name(host: str) -> str:
    """The registry name of a host as an SSH library names it.

    ``[web1.example.org]:2222`` (paramiko's and known_hosts' form for a
    non-default port) becomes ``web1.example.org``; the name is normalised.
    IP addresses are refused even where they would parse as a name (``127.0.0.1``).

    Raises:
        InvalidName: an address or anything else that is not a registry name.
    """
    import ipaddress

    from registry.names import parse_name

    text = host.strip()
    if text.startswith("["):
        inner, sep, port = text[1:].partition("]:")
        if not sep or not port.isdigit():
            raise InvalidName(f"invalid host {host!r}")
        text = inner
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return parse_name(text).text
    raise InvalidName(f"{text!r} is an address, not a registry name")


def _parse_line(line: str) -> tuple[str | None, SSHPublicKey, str]:
    tokens = line.split()
    marker = tokens.pop(0) if tokens[0].startswith("@") else None
    key = load_ssh_public_key(" ".join(tokens[1:3]))
    return marker, key, tokens[3] if len(tokens) > 3 else ""


def host_key_entries(reader: IndexReader, host: str, settings: SSHSettings,
                     *, now: float | None = None) -> HostKeyEntries:
    """The host keys, host CAs and revoked keys the registry has for ``host`` (a registry name).

    Raises: InvalidName, IndexUnavailable, KeyFormatError (as ``known_hosts_lines``).
    """
    trusted: list[tuple[SSHPublicKey, str]] = []
    cas: list[tuple[SSHPublicKey, str]] = []
    revoked: list[tuple[SSHPublicKey, str]] = []
    for line in known_hosts_lines(reader, host, settings, now=now):
        marker, key, name = _parse_line(line)
        {"@revoked": revoked, "@cert-authority": cas}.get(marker or "", trusted).append((key, name))
    return HostKeyEntries(host, tuple(trusted), tuple(cas), tuple(revoked))


def lookup_host_keys(host: str, settings: SSHSettings, *, now: float | None = None) -> HostKeyEntries:
    """:func:`host_key_entries` from the configured index, opened fail-closed.

    ``host`` may be in ``[name]:port`` form. A host that is not a registry
    name (an address) has no entries.

    Raises:
        IndexUnavailable: missing, corrupt or stale index.
        KeyFormatError: indexed material that no longer parses.
    """
    from registry.integrations._index import open_index

    try:
        name = host_name(host)
    except InvalidName:
        return HostKeyEntries(host)
    with open_index(settings, now=now) as reader:
        return host_key_entries(reader, name, settings, now=now)


def _refuse(host: str, reason: str) -> KeyNotTrusted:
    return KeyNotTrusted(f"host key of {host} refused: {reason}", reason)


def _check_certificate(entries: HostKeyEntries, key: SSHPublicKey, now: float) -> str:
    """The CA's registry name if ``key`` (a certificate) is good for the host, else raise."""
    from registry.proofs import ssh_verify_signature

    cert = key.certificate
    assert cert is not None
    ca = next((name for k, name in entries.authorities
               if k.material == cert.signature_key.material), None)
    assert ca is not None
    host = entries.host
    if cert.cert_type != "host":
        raise _refuse(host, f"a {cert.cert_type} certificate, not a host certificate")
    if host not in cert.principals:
        raise _refuse(host, f"the certificate's principals ({', '.join(cert.principals) or 'none'})"
                            f" do not include {host}")
    if now < cert.valid_after:
        raise _refuse(host, "the host certificate is not yet valid")
    if now >= cert.valid_before:
        raise _refuse(host, "the host certificate has expired")
    if cert.critical_options:
        names = ", ".join(k for k, _ in cert.critical_options)
        raise _refuse(host, f"the host certificate has critical options ({names})")
    if cert.signature_algorithm in _WEAK_CA_SIGNATURES:
        raise _refuse(host, f"the host certificate is signed with {cert.signature_algorithm} (SHA-1)")
    try:
        ssh_verify_signature(cert.signature_key, cert.signature, cert.signed_data)
    except Error as exc:
        raise _refuse(host, f"the host CA's signature does not verify ({exc})") from exc
    return ca


def check_host_key(entries: HostKeyEntries, blob: bytes, *, now: float | None = None) -> HostKeyMatch:
    """Decide whether the server key ``blob`` (plain key or certificate wire blob) is the host's.

    Raises:
        KeyNotTrusted: malformed, revoked (the key or its CA), an unusable
            certificate from a published CA, or simply not published for the host.
    """
    t = time.time() if now is None else now
    host = entries.host
    try:
        key = load_ssh_blob(blob)
    except Error as exc:
        raise _refuse(host, f"the server sent a key that does not parse ({exc})") from exc
    revoked = {k.material: name for k, name in entries.revoked}
    cert = key.certificate
    if cert is not None:
        if cert.signature_key.material in revoked:
            raise _refuse(host, f"its host CA {cert.signature_key.fingerprint} is revoked"
                                f" (on {revoked[cert.signature_key.material]})")
        if key.public_blob in revoked:
            raise _refuse(host, f"host key {key.fingerprint} is revoked"
                                f" (on {revoked[key.public_blob]})")
        if any(k.material == cert.signature_key.material for k, _ in entries.authorities):
            ca = _check_certificate(entries, key, t)
            return HostKeyMatch(host, key.fingerprint, "certificate", ca)
        # no published CA signed it: judge the certified key as a plain key (as ssh does)
    if key.public_blob in revoked:
        raise _refuse(host, f"host key {key.fingerprint} is revoked (on {revoked[key.public_blob]})")
    for k, name in entries.trusted:
        if k.material == key.public_blob:
            return HostKeyMatch(host, key.fingerprint, "key", name)
    if not entries.trusted and not entries.authorities:
        raise _refuse(host, "the registry has no active host key or host CA for it")
    raise _refuse(host, f"host key {key.fingerprint} is not published for it")
