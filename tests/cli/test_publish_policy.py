"""The publish-time policy check judges exactly the record that is stored (issue 10, item 11).

The certificate is the README demo's: an openssl-made EC P-256 certificate
with ``extendedKeyUsage=clientAuth,emailProtection``. Published without
``--purpose`` it would be stored as ``tls-server``, which the default profile
refuses (no serverAuth, emailProtection in a TLS certificate).
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from registry.keys import KeyType, Purpose, load_key
from registry.publish import DEFAULT_PURPOSES, default_purposes, publish_terms
from tests.cli.conftest import Run
from tests.cli.test_commands import dev_address, ok, one_line_error
from tests.conftest import require_tool

NAME = "alice@example.org"


def _client_cert(d: Path) -> tuple[Path, Path]:
    openssl = require_tool("openssl")
    key, pem = d / "alice.key", d / "alice.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key), "-out", str(pem),
                    "-days", "365", "-subj", f"/CN={NAME}",
                    "-addext", "basicConstraints=critical,CA:FALSE",
                    "-addext", f"subjectAltName=email:{NAME},DNS:example.org",
                    "-addext", "keyUsage=critical,digitalSignature",
                    "-addext", "extendedKeyUsage=clientAuth,emailProtection"],
                   check=True, capture_output=True, timeout=60)
    return key, pem


def _proof(run: Run, env: Path, key: Path, pem: Path) -> Path:
    stmt = env / "statement.txt"
    ok(run("prove", NAME, pem, "--out", stmt))
    subprocess.run([require_tool("openssl"), "dgst", "-sha256", "-sign", str(key), "-out",
                    f"{stmt}.sig", str(stmt)], check=True, capture_output=True, timeout=60)
    return Path(f"{stmt}.sig")


@pytest.mark.tools
def test_x509_without_purpose_is_checked_as_the_tls_server_record_it_becomes(
        run: Run, env: Path) -> None:
    """Unchecked default: a certificate published without --purpose skipped the purpose lints,
    then was stored as tls-server, which the default profile refuses."""
    ok(run("name", "register", "example.org"))
    ok(run("name", "assign", NAME, "--owner", dev_address(0)))
    key, pem = _client_cert(env)
    sig = _proof(run, env, key, pem)
    refused = run("key", "publish", NAME, pem, "--proof", sig)
    one_line_error(refused, "policy default refuses", "x509.")
    assert json.loads(ok(run("lookup", NAME, "--all", "--json")).out) == []  # nothing stored
    published = json.loads(ok(run("key", "publish", NAME, pem, "--purpose", "tls-client,signing",
                                  "--proof", sig, "--json")).out)
    assert published["index"] == 0
    records = json.loads(ok(run("lookup", NAME, "--all", "--json")).out)
    assert records[0]["purposes"] == ["signing", "tls-client"]


def test_publish_terms_apply_the_defaults_once() -> None:
    """The library computes what is stored: purposes by key type, validity from the key's expiry."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    k = ec.generate_private_key(ec.SECP256R1())
    start = datetime(2026, 1, 1, tzinfo=UTC)
    subject = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "a.example.org")])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(k.public_key()).serial_number(7).not_valid_before(start)
            .not_valid_after(start + timedelta(days=90)).sign(k, hashes.SHA256()))
    key = load_key(cert.public_bytes(serialization.Encoding.PEM))
    terms = publish_terms(key)
    assert terms.purposes == Purpose.TLS_SERVER == DEFAULT_PURPOSES[KeyType.X509]
    assert terms.valid_until == start + timedelta(days=90)
    assert terms.valid_from is None and terms.revoked_at is None
    later = publish_terms(key, purposes="tls-client", valid_from=int(start.timestamp()),
                          valid_until=start + timedelta(days=30))
    assert later.purposes == Purpose.TLS_CLIENT
    assert later.valid_from == start and later.valid_until == start + timedelta(days=30)
    assert default_purposes(KeyType.OPENPGP, None) == Purpose.SIGNING | Purpose.ENCRYPTION
    with pytest.raises(ValueError):
        default_purposes(KeyType.SSH, 0)
