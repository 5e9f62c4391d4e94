"""TLS servers pinned to the certificates published for their names (DANE-like, without DNSSEC).

    ctx = create_ssl_context()                      # WebPKI *and* the registry
    httpx.get("https://web1.example.org/", verify=ctx)
    urllib.request.urlopen("https://web1.example.org/", context=ctx)

A server is accepted when the leaf certificate it serves is an active,
policy-passing ``tls-server`` record of the host name in the verified index
-- the same certificate (DER), or one with the same public key (SPKI), like
DANE-EE ``3 0 1`` / ``3 1 1``: the registry binds the key to the name, so for
an SPKI match the served certificate's own names and dates are not what
decides. A revoked record with that certificate or key refuses the server
even if another record matches. :func:`create_ssl_context` does this after the
usual WebPKI check (``webpki=True``, the default) or instead of it
(``webpki=False``: self-signed certificates, private PKIs). Fails closed: a
missing or stale index refuses every server.

How the check is wired into the standard ``ssl`` module, and why this way:
the context's ``sslsocket_class`` / ``sslobject_class`` are subclasses whose
``do_handshake`` runs the registry check right after OpenSSL finishes the
handshake and before returning -- before the caller can send a byte.
``CERT_NONE`` plus a check "after connecting" would not be safe: nothing
stops a client (or a library like http.client, which sends its request right
after ``wrap_socket``) from writing data to an unverified peer first.
Because OpenSSL also handshakes implicitly inside ``SSL_read`` / ``SSL_write``
(``do_handshake_on_connect=False``), the subclasses' ``read`` / ``write`` /
``send`` first complete the handshake through the checked ``do_handshake``.
``wrap_socket`` (the standard library, httpx/httpcore in sync mode) and
``wrap_bio`` (asyncio, anyio, httpx in async mode) are both covered. A
trust store built per host (``cadata`` = the published certificates, with
``VERIFY_X509_PARTIAL_CHAIN``) was the alternative: it cannot pin an SPKI
across renewals, needs a context per host, and OpenSSL would still judge the
served certificate's dates and purposes, which DANE-EE semantics ignore.

A failed check raises :class:`CertificateNotPublished`, an
``ssl.SSLCertVerificationError`` (what ``ssl``, ``urllib`` and httpx users
already catch; httpx wraps it in ``httpx.ConnectError``) and a
:class:`~registry.errors.KeyNotTrusted`. The index lookup is a local SQLite
read (about 1.3 ms, docs/BENCHMARKS.md), done synchronously inside the handshake.

``keyanchor tls check HOST[:PORT]`` (:func:`check_server`) reports the same
decision for a live server without trusting it.
"""

from __future__ import annotations

import socket
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

from registry.errors import ChainUnavailable, Error, InvalidName, KeyNotTrusted
from registry.gateways.ssh import (
    SSHSettings,
    _servable,  # the gateways' rule: active and policy-passing
)
from registry.index._query import IndexedRecord, IndexReader

__all__ = [
    "CertificateNotPublished",
    "TLSCheck",
    "TLSMatch",
    "check_certificate",
    "check_server",
    "create_ssl_context",
    "fetch_certificate_chain",
    "verify_server_certificate",
]

_X509, _TLS_SERVER = 3, 16
#: OpenSSL's X509_V_ERR_APPLICATION_VERIFICATION ("application verification failure").
_APPLICATION_VERIFICATION = 50
_REASONS = {0: "unspecified", 1: "key-compromise", 2: "ca-compromise", 3: "affiliation-changed",
            4: "superseded", 5: "cessation-of-operation", 9: "privilege-withdrawn",
            10: "aa-compromise"}


class CertificateNotPublished(KeyNotTrusted, ssl.SSLCertVerificationError):
    """The server's certificate is not published for the host, is revoked, or cannot be checked."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message, reason)
        self.strerror = message
        self.verify_code = _APPLICATION_VERIFICATION
        self.verify_message = self.reason

    def __str__(self) -> str:
        return str(self.strerror)


@dataclass(frozen=True, slots=True)
class TLSMatch:
    """Why a certificate was accepted: the record that publishes it (or its key)."""

    host: str
    name: str
    index: int
    kind: str  # "certificate" (same DER) or "spki" (same public key)
    fingerprint: str  # SHA-256 of the served certificate's DER, hex
    spki_sha256: str  # SHA-256 of its SubjectPublicKeyInfo, hex

    def to_dict(self) -> dict[str, Any]:
        return {"host": self.host, "name": self.name, "index": self.index, "match": self.kind,
                "fingerprint": self.fingerprint, "spki_sha256": self.spki_sha256}

    def __str__(self) -> str:
        what = "certificate" if self.kind == "certificate" else "public key (SPKI)"
        return f"{what} published as tls-server record {self.index} of {self.name}"


def _refuse(host: str, reason: str) -> CertificateNotPublished:
    return CertificateNotPublished(f"certificate of {host} refused: {reason}", reason)


def check_certificate(reader: IndexReader, host: str, leaf_der: bytes, settings: SSHSettings,
                      *, now: float | None = None) -> TLSMatch:
    """Decide whether ``leaf_der`` (the served leaf, DER) is published for ``host``.

    Raises:
        CertificateNotPublished: not a registry name, not a certificate,
            revoked, only expired / pending / policy-failing records, or no
            record at all with that certificate or key.
        IndexUnavailable: the index cannot be read.
    """
    from registry.integrations._hostkeys import host_name
    from registry.keys._x509 import load_x509_der

    t = time.time() if now is None else now
    try:
        name = host_name(host)
    except InvalidName as exc:
        raise _refuse(host, f"{host!r} is not a registry name") from exc
    try:
        leaf = load_x509_der(leaf_der)
    except Error as exc:
        raise _refuse(name, f"the server's certificate does not parse ({exc})") from exc
    fpr, spki = leaf.fingerprint.upper(), leaf.spki_sha256.lower()
    records = reader.records(name, at=t, key_type=_X509, purposes=_TLS_SERVER)
    matches: list[tuple[IndexedRecord, str]] = []
    for rec in records:
        try:
            pub = load_x509_der(rec.material)
        except Error:
            continue
        if pub.fingerprint.upper() == fpr:
            matches.append((rec, "certificate"))
        elif pub.spki_sha256.lower() == spki:
            matches.append((rec, "spki"))
    for rec, kind in matches:
        if rec.status == "revoked":
            why = _REASONS.get(rec.reason or 0, str(rec.reason))
            what = "certificate" if kind == "certificate" else "public key"
            raise _refuse(name, f"its {what} is revoked (record {rec.index} of {name}, {why})")
    good = [(rec, kind) for rec, kind in matches if _servable(rec, settings)]
    if good:
        rec, kind = min(good, key=lambda m: (m[1] != "certificate", m[0].index))
        return TLSMatch(name, rec.name, rec.index, kind, fpr, spki)
    if matches:
        rec, _ = matches[0]
        state = rec.status if rec.status != "active" else f"policy {rec.policy}"
        raise _refuse(name, f"record {rec.index} of {name} has it, but is {state}")
    active = sum(1 for r in records if r.status == "active")
    if not records:
        raise _refuse(name, f"{name} has no tls-server records in the registry")
    raise _refuse(name, f"certificate SHA256:{fpr} (SPKI {spki}) is not published for {name}"
                        f" ({active} active tls-server record{'s' if active != 1 else ''})")


def verify_server_certificate(host: str, leaf_der: bytes | None, settings: SSHSettings,
                              *, now: float | None = None) -> TLSMatch:
    """:func:`check_certificate` against the configured index, opened fail-closed.

    Raises:
        CertificateNotPublished: as :func:`check_certificate`, and also when the
            index is missing, corrupt or stale, or no certificate was served.
    """
    from registry.integrations._index import open_index

    if not host:
        raise _refuse("the server", "no server name to check (pass server_hostname)")
    if not leaf_der:
        raise _refuse(host, "the server sent no certificate")
    try:
        with open_index(settings, now=now) as reader:
            return check_certificate(reader, host, leaf_der, settings, now=now)
    except CertificateNotPublished:
        raise
    except Error as exc:
        reason = " ".join(str(exc).split())
        raise CertificateNotPublished(f"certificate of {host} cannot be checked: {reason}",
                                      reason) from exc


# --------------------------------------------------------------------------- the SSLContext


def _check_peer(obj: Any) -> None:
    """Run the registry check once per connection; remember the outcome."""
    state = getattr(obj, "_keyanchor_state", None)
    if state is True:
        return
    if isinstance(state, BaseException):
        raise state
    ctx = obj.context
    try:
        verify_server_certificate(obj.server_hostname, obj.getpeercert(binary_form=True),
                                  ctx.keyanchor_settings, now=ctx.keyanchor_now)
    except CertificateNotPublished as exc:
        obj._keyanchor_state = exc
        raise
    obj._keyanchor_state = True


class _HandshakeFirst:
    """``read`` / ``write`` complete the (checked) handshake first: OpenSSL would otherwise
    handshake implicitly inside them, and the first write would go out unchecked."""

    def _keyanchor_ready(self) -> None:
        if getattr(self, "_keyanchor_state", None) is not True:
            self.do_handshake()  # type: ignore[attr-defined]

    def read(self, len: int = 1024, buffer: Any = None) -> Any:
        self._keyanchor_ready()
        return super().read(len, buffer)  # type: ignore[misc]

    def write(self, data: Any) -> int:
        self._keyanchor_ready()
        return int(super().write(data))  # type: ignore[misc]


class _PinnedSSLSocket(_HandshakeFirst, ssl.SSLSocket):
    """An SSLSocket that checks the registry as the last step of the handshake."""

    def do_handshake(self, block: bool = False) -> None:
        super().do_handshake(block)
        _check_peer(self)

    def _keyanchor_ready(self) -> None:
        if getattr(self, "_sslobj", None) is not None:  # else: not TLS (yet), or unwrapped
            super()._keyanchor_ready()

    def send(self, data: Any, flags: int = 0) -> int:  # send / sendall bypass write()
        self._keyanchor_ready()
        return super().send(data, flags)


class _PinnedSSLObject(_HandshakeFirst, ssl.SSLObject):
    """An SSLObject (asyncio, anyio) that checks the registry as the last step of the handshake."""

    def do_handshake(self) -> None:
        super().do_handshake()
        _check_peer(self)


class _RegistryContext(ssl.SSLContext):
    sslsocket_class = _PinnedSSLSocket
    sslobject_class = _PinnedSSLObject
    keyanchor_settings: SSHSettings
    keyanchor_now: float | None = None


def create_ssl_context(*, webpki: bool = True, settings: SSHSettings | None = None,
                       index: Any = None, max_staleness: float | None = None,
                       cafile: str | None = None, capath: str | None = None,
                       cadata: str | bytes | None = None,
                       now: float | None = None) -> ssl.SSLContext:
    """A client ``ssl.SSLContext`` that accepts a server only if the registry publishes its certificate.

    ``webpki=True``: also the usual checks of ``ssl.create_default_context()``
    (chain to a trusted CA -- the system's, or ``cafile`` / ``capath`` /
    ``cadata`` -- and the host name). ``webpki=False``: the registry alone
    decides. Connections must name the server (``server_hostname``, which
    httpx, urllib and asyncio pass from the URL); that name is looked up.
    ``settings`` / ``index`` / ``max_staleness``: which index and how fresh
    (default: the configuration ``keyanchor-ssh`` reads). ``now``: a fixed clock.

    Raises:
        ConfigError: unreadable configuration or bad ``max_staleness``.
    """
    from registry.integrations._index import index_settings

    cfg = index_settings(settings, index=index, max_staleness=max_staleness)
    ctx = _RegistryContext(ssl.PROTOCOL_TLS_CLIENT)
    if webpki:
        if cafile or capath or cadata:
            ctx.load_verify_locations(cafile=cafile, capath=capath, cadata=cadata)
        else:
            ctx.load_default_certs(ssl.Purpose.SERVER_AUTH)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    ctx.keyanchor_settings = cfg
    ctx.keyanchor_now = now
    return ctx


# --------------------------------------------------------------------------- keyanchor tls check


def _chain_der(tls: ssl.SSLSocket) -> list[bytes]:
    getter = getattr(tls, "get_unverified_chain", None)  # Python >= 3.13
    if getter is None:
        getter = getattr(getattr(tls, "_sslobj", None), "get_unverified_chain", None)  # 3.10-3.12
    chain = getter() if getter is not None else None
    if not chain:
        leaf = tls.getpeercert(binary_form=True)
        return [leaf] if leaf else []
    return [c if isinstance(c, bytes) else c.public_bytes(2) for c in chain]  # 2: ENCODING_DER


def fetch_certificate_chain(host: str, port: int = 443, *, address: str | None = None,
                            timeout: float = 10.0) -> list[bytes]:
    """Connect, handshake (SNI ``host``, no verification, no data sent) and return the served chain (DER).

    ``address``: where to connect instead of ``host`` (the name is still sent as SNI).

    Raises:
        ChainUnavailable: no connection or no TLS handshake within ``timeout``.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    target = address or host
    try:
        with socket.create_connection((target, port), timeout=timeout) as sock:
            with ctx.wrap_socket(sock, server_hostname=host) as tls:
                return _chain_der(tls)
    except (OSError, ValueError) as exc:
        text = " ".join(str(exc).split()) or type(exc).__name__
        raise ChainUnavailable(f"TLS connection to {target}:{port} failed: {text}") from exc


@dataclass(frozen=True, slots=True)
class TLSCheck:
    """What ``keyanchor tls check`` found: the served chain and the registry's verdict."""

    host: str
    port: int
    address: str
    chain: tuple[dict[str, Any], ...]
    published: bool
    reason: str
    match: TLSMatch | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        return {"host": self.host, "port": self.port, "address": self.address,
                "published": self.published, "reason": self.reason,
                "match": self.match.to_dict() if self.match else None, "chain": list(self.chain)}


def _describe(der: bytes) -> dict[str, Any]:
    import hashlib

    from registry.keys._x509 import load_x509_der

    try:
        cert = load_x509_der(der)
    except Error as exc:
        return {"fingerprint": hashlib.sha256(der).hexdigest().upper(), "error": str(exc)}
    return {"subject": cert.subject, "issuer": cert.issuer, "fingerprint": cert.fingerprint,
            "spki_sha256": cert.spki_sha256, "san_dns": list(cert.san_dns),
            "not_after": cert.not_after.strftime("%Y-%m-%dT%H:%M:%SZ")}


def check_server(host: str, port: int = 443, *, address: str | None = None,
                 settings: SSHSettings | None = None, timeout: float = 10.0,
                 now: float | None = None) -> TLSCheck:
    """Fetch the chain ``host:port`` serves and check its leaf against the registry.

    A negative answer is a result (``published`` false, with the reason), not an error.

    Raises:
        ChainUnavailable: the TLS connection failed.
        IndexUnavailable: missing, corrupt or stale index.
        ConfigError: unreadable configuration.
    """
    from registry.integrations._index import index_settings, open_index

    cfg = index_settings(settings)
    with open_index(cfg, now=now) as reader:  # fail before connecting if the index is unusable
        chain = fetch_certificate_chain(host, port, address=address, timeout=timeout)
        described = tuple(_describe(der) for der in chain)
        try:
            if not chain:
                raise _refuse(host, "the server sent no certificate")
            match = check_certificate(reader, host, chain[0], cfg, now=now)
        except CertificateNotPublished as exc:
            return TLSCheck(host, port, address or host, described, False, exc.reason)
    return TLSCheck(host, port, address or host, described, True, str(match), match)
