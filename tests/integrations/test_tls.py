"""TLS pinned to the registry, against real `openssl s_server` instances on loopback.

Clients are httpx (sync and async) and urllib, with the SSLContext from
``registry.integrations.tls``; ``keyanchor tls check`` through the CLI. The
test host names resolve to 127.0.0.1 through a patched ``socket.getaddrinfo``
(the name still goes out as SNI and is what the registry is asked about).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from cli.main import main
from registry.errors import KeyNotTrusted
from registry.integrations.tls import CertificateNotPublished, create_ssl_context
from tests.conftest import free_port, require_tool, stop, wait_port
from tests.integrations.conftest import Chain, stale_copy

pytestmark = pytest.mark.tools


# --------------------------------------------------------------------------- certificates


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_cert(host: str, key: Any, *, issuer: tuple[Any, x509.Certificate] | None = None,
              days: int = 60, ca: bool = False) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    subject = _name(host)
    signer_key, issuer_name = (key, subject) if issuer is None else (issuer[0], issuer[1].subject)
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=days)))
    if ca:
        b = (b.add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
             .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False),
                            critical=True))
    else:
        b = (b.add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
             .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
             .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False),
                            critical=True)
             .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False))
    return b.sign(signer_key, hashes.SHA256())


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


class TLSServer:
    """``openssl s_server -www`` on 127.0.0.1:<free port> serving one certificate (and chain)."""

    def __init__(self, d: Path, label: str, cert: x509.Certificate, key: Any,
                 chain: x509.Certificate | None = None) -> None:
        openssl = require_tool("openssl")
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{label}.pem").write_text(pem(cert))
        (d / f"{label}.key").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        self.port = free_port()
        args = [openssl, "s_server", "-accept", f"127.0.0.1:{self.port}", "-cert",
                str(d / f"{label}.pem"), "-key", str(d / f"{label}.key"), "-www", "-quiet"]
        if chain is not None:
            (d / f"{label}-chain.pem").write_text(pem(chain))
            args += ["-cert_chain", str(d / f"{label}-chain.pem")]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        wait_port(self.port, self.proc, f"openssl s_server ({label})")

    def close(self) -> None:
        stop(self.proc)


@dataclass
class World:
    chain: Chain
    tmp: Path
    servers: dict[str, TLSServer]
    ca_file: Path
    certs: dict[str, x509.Certificate]

    def url(self, server: str, host: str) -> str:
        return f"https://{host}:{self.servers[server].port}/"


@pytest.fixture(scope="module")
def world(embedded: Chain, safe_module_dir: Path) -> Iterator[World]:
    d = safe_module_dir
    keys = {k: ec.generate_private_key(ec.SECP256R1()) for k in ("a", "b", "c", "ca", "d", "e")}
    ca = make_cert("Test Root CA", keys["ca"], ca=True, days=365)
    certs = {
        "web1": make_cert("web1.example.org", keys["a"]),             # published
        "web1-renewed": make_cert("web1.example.org", keys["a"]),     # same key, not published
        "web1-other": make_cert("web1.example.org", keys["b"]),       # another key, not published
        "web3": make_cert("web3.example.org", keys["c"]),             # published, then revoked
        "web2": make_cert("web2.example.org", keys["d"], issuer=(keys["ca"], ca)),   # CA-issued, published
        "web2-other": make_cert("web2.example.org", keys["e"], issuer=(keys["ca"], ca)),  # CA-issued only
    }
    key_of = {"web1": "a", "web1-renewed": "a", "web1-other": "b", "web3": "c", "web2": "d",
              "web2-other": "e"}
    reg = embedded.reg
    reg.register("example.org")
    for host in ("web1.example.org", "web2.example.org", "web3.example.org", "web4.example.org"):
        reg.assign(host, reg.account.address)
    for label, host in (("web1", "web1.example.org"), ("web3", "web3.example.org"),
                        ("web2", "web2.example.org")):
        reg.publish(host, pem(certs[label]), purposes="tls-server")
    embedded.sync()
    ca_file = d / "ca.pem"
    ca_file.write_text(pem(ca))
    servers: dict[str, TLSServer] = {}
    try:
        for label, cert in certs.items():
            servers[label] = TLSServer(d, label, cert, keys[key_of[label]],
                                       chain=ca if label.startswith("web2") else None)
        yield World(embedded, d, servers, ca_file, certs)
    finally:
        for srv in servers.values():
            srv.close()


@pytest.fixture(autouse=True)
def resolve_test_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """*.example.org -> 127.0.0.1 for this process (httpx, urllib and asyncio all resolve here)."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kw: Any) -> Any:
        text = host.decode() if isinstance(host, bytes) else str(host)
        return real("127.0.0.1" if text.endswith(".example.org") else host, *args, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def registry_only(world: World, **kw: Any) -> ssl.SSLContext:
    return create_ssl_context(webpki=False, index=world.chain.index, **kw)


def get(url: str, ctx: ssl.SSLContext) -> int:
    with httpx.Client(verify=ctx, timeout=10) as client:
        return client.get(url).status_code


def urlopen(url: str, ctx: ssl.SSLContext) -> int:
    with urllib.request.urlopen(url, context=ctx, timeout=10) as resp:
        return int(resp.status)


def refused_httpx(url: str, ctx: ssl.SSLContext) -> str:
    with pytest.raises(httpx.ConnectError) as info:
        get(url, ctx)
    return str(info.value)


def refused_urllib(url: str, ctx: ssl.SSLContext) -> str:
    with pytest.raises(urllib.error.URLError) as info:
        urlopen(url, ctx)
    assert isinstance(info.value.reason, ssl.SSLCertVerificationError)
    return str(info.value.reason)


# --------------------------------------------------------------------------- the SSLContext


def test_registry_only_accepts_the_published_certificate(world: World) -> None:
    ctx = registry_only(world)
    assert get(world.url("web1", "web1.example.org"), ctx) == 200
    assert urlopen(world.url("web1", "web1.example.org"), ctx) == 200
    # a renewed certificate with the published key: an SPKI match (DANE-EE 3 1 1)
    assert get(world.url("web1-renewed", "web1.example.org"), ctx) == 200


def test_registry_only_refuses_unpublished_certificates(world: World) -> None:
    ctx = registry_only(world)
    url = world.url("web1-other", "web1.example.org")
    message = refused_httpx(url, ctx)
    assert "certificate of web1.example.org refused" in message
    assert "is not published for web1.example.org (1 active tls-server record)" in message
    assert "is not published for web1.example.org" in refused_urllib(url, ctx)
    # a published certificate served under another name
    assert "web4.example.org has no tls-server records" in refused_httpx(
        world.url("web1", "web4.example.org"), ctx)
    # addresses are not registry names
    assert "not a registry name" in refused_httpx(f"https://127.0.0.1:{world.servers['web1'].port}/",
                                                  ctx)


def test_refuses_a_revoked_certificate(world: World) -> None:
    ctx = registry_only(world)
    url = world.url("web3", "web3.example.org")
    assert get(url, ctx) == 200
    reg = world.chain.reg
    (rec,) = [r for r in reg.lookup("web3.example.org") if r.status == "active"]
    reg.revoke("web3.example.org", rec.index, "key-compromise")
    world.chain.sync()
    message = refused_httpx(url, ctx)
    assert "its certificate is revoked (record 0 of web3.example.org, key-compromise)" in message
    assert "revoked" in refused_urllib(url, ctx)


def test_webpki_and_registry_together(world: World) -> None:
    both = create_ssl_context(index=world.chain.index, cafile=str(world.ca_file))
    assert get(world.url("web2", "web2.example.org"), both) == 200
    assert urlopen(world.url("web2", "web2.example.org"), both) == 200
    # the CA vouches for this one, the registry does not
    assert "is not published" in refused_httpx(world.url("web2-other", "web2.example.org"), both)
    # the registry vouches for web1's self-signed certificate, WebPKI does not
    message = refused_httpx(world.url("web1", "web1.example.org"), both)
    assert "CERTIFICATE_VERIFY_FAILED" in message and "refused" not in message
    # WebPKI's host name check still applies: web2's certificate served as web1
    assert "CERTIFICATE_VERIFY_FAILED" in refused_httpx(world.url("web2", "web1.example.org"), both)


def test_async_httpx(world: World) -> None:
    ctx = registry_only(world)

    async def go() -> tuple[int, str]:
        async with httpx.AsyncClient(verify=ctx, timeout=10) as client:
            ok = (await client.get(world.url("web1", "web1.example.org"))).status_code
            try:
                await client.get(world.url("web1-other", "web1.example.org"))
            except httpx.ConnectError as exc:
                return ok, str(exc)
            return ok, ""

    status, message = asyncio.run(go())
    assert status == 200 and "is not published for web1.example.org" in message


def test_stale_missing_or_unsafe_index_refuses(world: World, tmp_path: Path) -> None:
    stale = stale_copy(world.chain.index, world.tmp / "stale.sqlite")
    url = world.url("web1", "web1.example.org")
    message = refused_httpx(url, create_ssl_context(webpki=False, index=stale, max_staleness=3600))
    assert "cannot be checked" in message and "stale" in message
    message = refused_httpx(url, create_ssl_context(webpki=False, index=world.tmp / "none.sqlite"))
    assert "no index at" in message
    # a fresh copy where others could have written it (under /tmp): sshd's StrictModes refuse it
    unsafe = shutil.copy(world.chain.index, tmp_path / "index.sqlite")
    message = refused_httpx(url, create_ssl_context(webpki=False, index=unsafe))
    assert "refusing the index" in message and "bad modes" in message


class RecordingServer:
    """A TLS server (Python ssl) that records every application byte it receives."""

    def __init__(self, d: Path, cert: x509.Certificate, key: Any) -> None:
        (d / "rec.pem").write_text(pem(cert))
        (d / "rec.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                      serialization.PrivateFormat.PKCS8,
                                                      serialization.NoEncryption()))
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(d / "rec.pem", d / "rec.key")
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.received = bytearray()
        self.done = threading.Event()

        def serve() -> None:
            conn, _ = self.sock.accept()
            conn.settimeout(10)
            try:
                with ctx.wrap_socket(conn, server_side=True) as tls:
                    while chunk := tls.recv(4096):
                        self.received += chunk
            except OSError:
                pass
            finally:
                self.done.set()

        self.thread = threading.Thread(target=serve, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.done.wait(15)
        self.sock.close()
        self.thread.join(15)


@pytest.mark.parametrize("on_connect", [True, False])
def test_nothing_is_sent_to_a_refused_server(world: World, on_connect: bool) -> None:
    """Even with do_handshake_on_connect=False, the first write runs the check first."""
    key = ec.generate_private_key(ec.SECP256R1())
    srv = RecordingServer(world.tmp, make_cert("web1.example.org", key), key)
    ctx = registry_only(world)
    raw = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    tls: ssl.SSLSocket | None = None
    try:
        with pytest.raises(CertificateNotPublished) as info:
            tls = ctx.wrap_socket(raw, server_hostname="web1.example.org",
                                  do_handshake_on_connect=on_connect)
            tls.sendall(b"secret request\n")
        assert isinstance(info.value, KeyNotTrusted)
        assert isinstance(info.value, ssl.SSLCertVerificationError)
        if tls is not None:  # the check failed inside sendall: nothing may go out afterwards either
            with pytest.raises(CertificateNotPublished):
                tls.sendall(b"secret request\n")
            tls.close()
    finally:
        raw.close()
        srv.close()
    assert bytes(srv.received) == b""


# --------------------------------------------------------------------------- keyanchor tls check


def tls_check(world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
              *args: str) -> tuple[int, str, str]:
    monkeypatch.setenv("KEYANCHOR_INDEX", str(world.chain.index))
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    capsys.readouterr()
    code = main(["tls", "check", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_tls_check(world: World, monkeypatch: pytest.MonkeyPatch,
                       capsys: pytest.CaptureFixture[str]) -> None:
    port = world.servers["web1"].port
    code, out, _ = tls_check(world, monkeypatch, capsys, f"web1.example.org:{port}", "--json")
    data = json.loads(out)
    assert code == 0 and data["published"] is True
    leaf = world.certs["web1"].public_bytes(serialization.Encoding.DER)
    import hashlib

    assert data["match"]["match"] == "certificate" and data["match"]["name"] == "web1.example.org"
    assert data["chain"][0]["fingerprint"] == hashlib.sha256(leaf).hexdigest().upper()
    # the served chain, leaf first (web2 serves its CA too)
    code, out, _ = tls_check(world, monkeypatch, capsys, "web2.example.org", "--connect",
                             f"127.0.0.1:{world.servers['web2'].port}", "--json")
    data = json.loads(out)
    assert code == 0 and [c["subject"] for c in data["chain"]] == ["CN=web2.example.org",
                                                                  "CN=Test Root CA"]
    code, out, _ = tls_check(world, monkeypatch, capsys,
                             f"web1.example.org:{world.servers['web1-renewed'].port}")
    assert code == 0 and out.startswith(f"web1.example.org:{world.servers['web1-renewed'].port}:"
                                        " published: public key (SPKI) published as tls-server"
                                        " record 0 of web1.example.org")
    code, out, err = tls_check(world, monkeypatch, capsys,
                               f"web1.example.org:{world.servers['web1-other'].port}")
    assert code == 1 and "NOT published" in out and "is not published for web1.example.org" in out
    assert err == ""
    code, out, _ = tls_check(world, monkeypatch, capsys,
                             f"web1.example.org:{world.servers['web1-other'].port}", "--json")
    assert code == 1 and json.loads(out)["published"] is False


def test_cli_tls_check_errors(world: World, monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    closed = free_port()
    code, out, err = tls_check(world, monkeypatch, capsys, f"web1.example.org:{closed}")
    assert code == 1 and out == "" and err.count("\n") == 1 and "TLS connection to" in err
    code, out, err = tls_check(world, monkeypatch, capsys, "web1.example.org:99999")
    assert code == 1 and "invalid port" in err and "Traceback" not in err
    code, out, err = tls_check(world, monkeypatch, capsys, "web1.example.org", "--index",
                               str(world.tmp / "none.sqlite"))
    assert code == 1 and "no index at" in err
