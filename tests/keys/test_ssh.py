"""SSH keys and certificates against the real ssh-keygen (registry.keys._ssh)."""

from __future__ import annotations

import base64
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from registry.errors import InvalidName, KeyFormatError, PrivateKeyError, UnsupportedKeyType
from registry.keys._common import commitment
from registry.keys._ssh import (
    SSHPublicKey,
    load_ssh_blob,
    render_authorized_key,
    render_known_hosts_line,
    render_openssh,
)
from registry.keys._ssh_text import _encode, load_ssh_public_key, load_ssh_public_keys
from tests.conftest import clock_env

tools = pytest.mark.tools

# --------------------------------------------------------------------------- helpers


def run(*args: str | Path, env: dict[str, str] | None = None) -> str:
    return subprocess.run(
        [str(a) for a in args], check=True, capture_output=True, text=True,
        env={**os.environ, "TZ": "UTC", **(env or {})},
    ).stdout  # fmt: skip


def keygen_l(path: Path) -> list[tuple[int, str, str]]:
    """(bits, fingerprint, type label) per key, as `ssh-keygen -l -E sha256` prints."""
    out = run("ssh-keygen", "-l", "-E", "sha256", "-f", path)
    rows = []
    for line in out.splitlines():
        m = re.match(r"(\d+) (SHA256:\S+) .*\((\S+)\)$", line)
        assert m, line
        rows.append((int(m[1]), m[2], m[3]))
    return rows


def sshstr(b: bytes) -> bytes:
    return len(b).to_bytes(4, "big") + b


def line_of(blob: bytes, name: bytes | None = None, comment: str = "") -> str:
    text = f"{(name or blob[4 : 4 + int.from_bytes(blob[:4], 'big')]).decode()} "
    return text + base64.b64encode(blob).decode() + (f" {comment}" if comment else "")


@dataclass
class Generated:
    path: Path
    line: str
    bits: int


TYPES = {
    "ed25519": ("ed25519", None, 256),
    "ecdsa256": ("ecdsa", 256, 256),
    "ecdsa384": ("ecdsa", 384, 384),
    "ecdsa521": ("ecdsa", 521, 521),
    "rsa2048": ("rsa", 2048, 2048),
    "rsa3072": ("rsa", 3072, 3072),
    "rsa4096": ("rsa", 4096, 4096),
    "dsa": ("dsa", 1024, 1024),
}


@pytest.fixture(scope="session")
def keydir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sshkeys")


@pytest.fixture(scope="session")
def generated(keydir: Path) -> dict[str, Generated]:
    """One key of every type ssh-keygen makes, plus hand-built security-key (sk) keys."""
    out: dict[str, Generated] = {}
    for label, (kind, size, bits) in TYPES.items():
        path = keydir / label
        args = ["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", f"{label}@test", "-f", path]
        if size is not None:
            args[4:4] = ["-b", str(size)]
        run(*args)
        pub = path.with_suffix(".pub")
        out[label] = Generated(pub, pub.read_text().strip(), bits)
    # Security keys need a token to generate; build valid public blobs by hand
    # (PROTOCOL.u2f): sk-ssh-ed25519 = pk, application; sk-ecdsa = curve, Q, application.
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    sk = {
        "sk-ed25519": sshstr(b"sk-ssh-ed25519@openssh.com") + sshstr(os.urandom(32))
        + sshstr(b"ssh:"),
        "sk-ecdsa": sshstr(b"sk-ecdsa-sha2-nistp256@openssh.com") + sshstr(b"nistp256")
        + sshstr(point) + sshstr(b"ssh:keyanchor"),
    }  # fmt: skip
    for label, blob in sk.items():
        pub = keydir / f"{label}.pub"
        pub.write_text(line_of(blob, comment=f"{label}@test") + "\n")
        out[label] = Generated(pub, pub.read_text().strip(), 256)
    return out


@pytest.fixture(scope="session")
def ca(keydir: Path) -> dict[str, Path]:
    cas = {}
    for label, kind in (("ca-ed25519", "ed25519"), ("ca-rsa", "rsa"), ("ca-ecdsa", "ecdsa")):
        path = keydir / label
        run("ssh-keygen", "-q", "-t", kind, "-N", "", "-C", label, "-f", path)
        cas[label] = path
    return cas


def sign(ca_key: Path, pub: Path, *extra: str, name: str) -> Path:
    target = pub.parent / f"{name}.pub"
    target.write_text(pub.read_text())
    run("ssh-keygen", "-q", "-s", ca_key, *extra, target)
    return pub.parent / f"{name}-cert.pub"


def keygen_L(path: Path) -> dict[str, object]:
    """Parse `ssh-keygen -L` output into a dict of its fields and lists."""
    info: dict[str, object] = {}
    current: list[str] | None = None
    for line in run("ssh-keygen", "-L", "-f", path).splitlines()[1:]:
        if line.startswith("                "):
            assert current is not None
            current.append(line.strip())
            continue
        key, _, value = line.strip().partition(":")
        value = value.strip()
        if key in ("Principals", "Critical Options", "Extensions"):
            current = []
            info[key] = current
            if value == "(none)":
                info[key] = []
        else:
            info[key] = value
    return info


ALL = [*TYPES, "sk-ed25519", "sk-ecdsa"]

# --------------------------------------------------------------------------- plain keys


@tools
@pytest.mark.parametrize("label", ALL)
def test_key_matches_ssh_keygen(generated: dict[str, Generated], label: str) -> None:
    gen = generated[label]
    key = load_ssh_public_key(gen.path.read_bytes())
    [(bits, fp, _kind)] = keygen_l(gen.path)
    assert key.fingerprint == fp
    assert key.bits == bits == gen.bits
    name, b64, comment = gen.line.split(" ", 2)
    assert key.algorithm == name
    assert key.material == base64.b64decode(b64) == key.public_blob
    assert key.comment == comment
    assert key.certificate is None and key.identities == ()
    assert key.valid_from is None and key.valid_until is None
    # Re-encoding the parsed fields gives back the exact bytes.
    assert _encode(key) == key.material
    assert load_ssh_blob(key.material) == key
    assert render_openssh(key) == f"{name} {b64}"
    assert key.commitment == commitment(1, key.material)
    assert json.loads(json.dumps(key.to_dict()))["fingerprint"] == fp


@tools
@pytest.mark.parametrize("label", ALL)
def test_rendered_lines_are_read_by_ssh_keygen(
    generated: dict[str, Generated], label: str, tmp_path: Path
) -> None:
    key = load_ssh_public_key(generated[label].line)
    expiry = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    line = render_authorized_key(key, expiry=expiry, comment="alice@example.org")
    assert line == (f'expiry-time="20300102030405Z" {render_openssh(key)} alice@example.org')
    path = tmp_path / "authorized_keys"
    path.write_text(line + "\n")
    assert keygen_l(path)[0][:2] == (key.bits, key.fingerprint)
    host = render_known_hosts_line(key, ["web1.example.org", "[10.0.0.1]:2222"])
    kh = tmp_path / "known_hosts"
    kh.write_text(host + "\n")
    assert keygen_l(kh)[0][:2] == (key.bits, key.fingerprint)
    found = run("ssh-keygen", "-F", "[10.0.0.1]:2222", "-f", kh)
    assert render_openssh(key) in found


@pytest.mark.parametrize("label", ["sk-ed25519", "sk-ecdsa"])
def test_security_keys(generated: dict[str, Generated], label: str) -> None:
    key = load_ssh_public_key(generated[label].line)
    assert key.is_security_key
    assert key.application == ("ssh:" if label == "sk-ed25519" else "ssh:keyanchor")
    assert key.curve == (None if label == "sk-ed25519" else "nistp256")
    assert key.parameter("application") == key.application


def test_ecdsa_and_rsa_parameters(generated: dict[str, Generated]) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    rsa_key = load_ssh_public_key(generated["rsa3072"].line)
    ref = serialization.load_ssh_public_key(generated["rsa3072"].line.encode())
    assert isinstance(ref, rsa.RSAPublicKey)
    assert rsa_key.parameter("n") == ref.public_numbers().n
    assert rsa_key.parameter("e") == ref.public_numbers().e == 65537
    ec_key = load_ssh_public_key(generated["ecdsa384"].line)
    ref_ec = serialization.load_ssh_public_key(generated["ecdsa384"].line.encode())
    assert isinstance(ref_ec, ec.EllipticCurvePublicKey)
    assert ec_key.curve == "nistp384"
    assert ec_key.parameter("point") == ref_ec.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    with pytest.raises(KeyFormatError, match="no parameter"):
        ec_key.parameter("n")


# --------------------------------------------------------------------------- certificates


@tools
def test_user_certificate_matches_ssh_keygen(
    generated: dict[str, Generated], ca: dict[str, Path]
) -> None:
    cert_path = sign(
        ca["ca-ed25519"], generated["ed25519"].path,
        "-I", "alice key", "-n", "alice,alice@example.org", "-V", "+52w", "-z", "4242",
        "-O", "force-command=/usr/bin/env echo hi", "-O", "source-address=10.0.0.0/8,::1",
        "-O", "no-pty", name="user",
    )  # fmt: skip
    key = load_ssh_public_key(cert_path.read_text())
    info = keygen_L(cert_path)
    cert = key.certificate
    assert cert is not None
    assert key.algorithm == "ssh-ed25519-cert-v01@openssh.com"
    assert info["Type"] == f"{key.algorithm} user certificate" and cert.cert_type == "user"
    assert info["Key ID"] == f'"{cert.key_id}"' == '"alice key"'
    assert info["Serial"] == str(cert.serial) == "4242"
    assert list(key.identities) == info["Principals"] == ["alice", "alice@example.org"]
    start, end = re.fullmatch(r"from (\S+) to (\S+)", str(info["Valid"])).groups()  # type: ignore[union-attr]
    assert key.valid_from == datetime.fromisoformat(start).replace(tzinfo=UTC)
    assert key.valid_until == datetime.fromisoformat(end).replace(tzinfo=UTC)
    assert info["Critical Options"] == [f"{k} {v}" for k, v in cert.critical_options]
    assert dict(cert.critical_options) == {
        "force-command": "/usr/bin/env echo hi", "source-address": "10.0.0.0/8,::1",
    }  # fmt: skip
    # -O no-pty removes permit-pty from the default extensions.
    assert info["Extensions"] == [k for k, _ in cert.extensions]
    assert "permit-pty" not in dict(cert.extensions)
    assert dict(cert.extensions)["permit-agent-forwarding"] is None
    ca_fp = keygen_l(ca["ca-ed25519"].with_suffix(".pub"))[0][1]
    assert info["Signing CA"] == f"ED25519 {ca_fp} (using ssh-ed25519)"
    assert cert.signature_key.fingerprint == ca_fp
    assert cert.signature_algorithm == "ssh-ed25519"
    # Fingerprint and bits of a certificate are those of the certified key.
    [(bits, fp, kind)] = keygen_l(cert_path)
    assert (key.bits, key.fingerprint, kind) == (bits, fp, "ED25519-CERT")
    assert key.public_blob == load_ssh_public_key(generated["ed25519"].line).material
    assert cert.public_key == load_ssh_public_key(generated["ed25519"].line)
    assert _encode(key) == key.material
    json.dumps(key.to_dict())


@tools
def test_host_certificate_forever(generated: dict[str, Generated], ca: dict[str, Path]) -> None:
    cert_path = sign(ca["ca-ecdsa"], generated["rsa2048"].path, "-h", "-I", "web1",
                     "-n", "web1.example.org", name="host")  # fmt: skip
    key = load_ssh_public_key(cert_path.read_bytes())
    info = keygen_L(cert_path)
    assert key.certificate is not None and key.certificate.cert_type == "host"
    assert info["Type"] == "ssh-rsa-cert-v01@openssh.com host certificate"
    assert info["Valid"] == "forever"
    assert key.valid_from is None and key.valid_until is None
    assert key.certificate.extensions == () == tuple(info["Extensions"])  # type: ignore[arg-type]
    assert key.certificate.signature_algorithm == "ecdsa-sha2-nistp256"
    assert (key.bits, key.fingerprint) == keygen_l(cert_path)[0][:2]


@tools
@pytest.mark.parametrize("label", ALL)
@pytest.mark.parametrize(
    ("ca_label", "sig"),
    [("ca-ed25519", "ssh-ed25519"), ("ca-rsa", "rsa-sha2-512"), ("ca-rsa", "ssh-rsa")],
)
def test_certificates_of_every_type(
    generated: dict[str, Generated], ca: dict[str, Path], label: str, ca_label: str, sig: str
) -> None:
    extra = ("-t", sig) if ca_label == "ca-rsa" else ()
    cert_path = sign(ca[ca_label], generated[label].path, *extra, "-I", "x", "-n", "p1",
                     "-V", "20200101:20400101", name=f"{label}-{sig}")  # fmt: skip
    key = load_ssh_public_key(cert_path.read_text())
    assert key.certificate is not None
    assert (key.bits, key.fingerprint) == keygen_l(cert_path)[0][:2]
    assert key.certificate.signature_algorithm == sig
    assert key.valid_from == datetime(2020, 1, 1, tzinfo=UTC)
    assert key.valid_until == datetime(2040, 1, 1, tzinfo=UTC)
    assert _encode(key) == key.material
    assert load_ssh_blob(key.material) == key
    _verify_ca_signature(key)


def _verify_ca_signature(key: SSHPublicKey) -> None:
    """Check the CA signature over signed_data with cryptography (proves the split is right)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

    cert = key.certificate
    assert cert is not None
    sig = memoryview(cert.signature)
    n = int.from_bytes(sig[:4], "big")
    alg, rest = bytes(sig[4 : 4 + n]).decode(), sig[4 + n :]
    blob = bytes(rest[4 : 4 + int.from_bytes(rest[:4], "big")])
    ca_key = cert.signature_key
    if alg == "ssh-ed25519":
        pk = ca_key.parameter("pk")
        assert isinstance(pk, bytes)
        ed25519.Ed25519PublicKey.from_public_bytes(pk).verify(blob, cert.signed_data)
    else:
        e, n_ = ca_key.parameter("e"), ca_key.parameter("n")
        assert isinstance(e, int) and isinstance(n_, int)
        digest = {"ssh-rsa": hashes.SHA1(), "rsa-sha2-512": hashes.SHA512()}[alg]
        rsa.RSAPublicNumbers(e, n_).public_key().verify(
            blob, cert.signed_data, padding.PKCS1v15(), digest
        )


def test_tampered_certificate_fails_signature(
    generated: dict[str, Generated], ca: dict[str, Path]
) -> None:
    from cryptography.exceptions import InvalidSignature

    cert_path = sign(ca["ca-ed25519"], generated["ed25519"].path, "-I", "x", "-n", "p1",
                     name="tamper")  # fmt: skip
    blob = bytearray(load_ssh_public_key(cert_path.read_text()).material)
    # the principals field: string(string("p1")), found by its length prefixes (a bare
    # b"p1" can occur in the random nonce or key bytes before it)
    field = b"\x00\x00\x00\x06\x00\x00\x00\x02p1"
    assert bytes(blob).count(field) == 1
    idx = bytes(blob).index(field) + len(field) - 2
    blob[idx + 1] = ord("2")  # principal p1 -> p2: still parses, signature no longer holds
    key = load_ssh_blob(blob)
    assert key.identities == ("p2",)
    with pytest.raises(InvalidSignature):
        _verify_ca_signature(key)


# --------------------------------------------------------------------------- text formats


@tools
@pytest.mark.parametrize("label", ALL)
def test_rfc4716_export(generated: dict[str, Generated], label: str) -> None:
    exported = run("ssh-keygen", "-e", "-f", generated[label].path)
    assert exported.startswith("---- BEGIN SSH2 PUBLIC KEY ----")
    key = load_ssh_public_key(exported)
    assert key == load_ssh_public_key(generated[label].line)
    assert key.comment is not None and "converted by" in key.comment


def test_rfc4716_headers_continuation_and_several_blocks(generated: dict[str, Generated]) -> None:
    keys = [load_ssh_public_key(generated[k].line) for k in ("ed25519", "rsa2048")]
    b64 = [base64.b64encode(k.material).decode() for k in keys]
    text = (
        "---- BEGIN SSH2 PUBLIC KEY ----\r\n"
        "Subject: alice\r\n"
        'Comment: "a long comment that goes on \\\r\n'
        'and on"\r\n'
        "x-private: 1\r\n"
        + "\r\n".join(b64[0][i : i + 70] for i in range(0, len(b64[0]), 70))
        + "\r\n---- END SSH2 PUBLIC KEY ----\r\n"
        + f"{keys[1].algorithm} {b64[1]}\n"
    )
    parsed = load_ssh_public_keys(text)
    assert parsed == keys
    assert parsed[0].comment == "a long comment that goes on and on"
    with pytest.raises(KeyFormatError, match="no END line"):
        load_ssh_public_keys(text.split("---- END")[0])


@tools
def test_authorized_keys_options(generated: dict[str, Generated], tmp_path: Path) -> None:
    ed = generated["ed25519"].line.split(" ", 2)
    rsa = generated["rsa2048"].line.split(" ", 2)
    text = (
        "# a comment line\n\n"
        f'command="echo \\"hi, there\\" && ls",from="10.0.0.1,192.168.0.0/16",no-pty,'
        f'environment="A=b c" {ed[0]} {ed[1]} comment with  spaces\n'
        f"   \t{rsa[0]} {rsa[1]}\n"
        f'restrict,PTY,expiry-time="20991231" {rsa[0]} {rsa[1]} x\n'
    )
    path = tmp_path / "authorized_keys"
    path.write_text(text)
    keys = load_ssh_public_keys(path.read_bytes())
    assert [(k.bits, k.fingerprint) for k in keys] == [r[:2] for r in keygen_l(path)]
    assert keys[0].options == (
        ("command", 'echo "hi, there" && ls'),
        ("from", "10.0.0.1,192.168.0.0/16"),
        ("no-pty", None),
        ("environment", "A=b c"),
    )
    assert keys[0].comment == "comment with  spaces"
    assert keys[1].options == () and keys[1].comment is None
    assert keys[2].options == (("restrict", None), ("pty", None), ("expiry-time", "20991231"))
    # Comments and options are informational: equality is on the key.
    assert keys[1] == keys[2]
    # Rendering carries only keyanchor's options, never the input's.
    rendered = render_authorized_key(keys[0], cert_authority=True, principals=["alice", "bob"])
    assert rendered == f'cert-authority,principals="alice,bob" {ed[0]} {ed[1]}'
    again = load_ssh_public_key(rendered)
    assert again.options == (("cert-authority", None), ("principals", "alice,bob"))
    assert again.comment is None
    path.write_text(rendered + "\n")
    assert keygen_l(path)[0][1] == keys[0].fingerprint


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('command="unterminated ssh-ed25519 AAAA', "quote"),
        ("no-such-option ssh-ed25519 {b64}", "unknown authorized_keys option"),
        ("command=nq ssh-ed25519 {b64}", "double quotes"),
        ("no-pty,,no-pty ssh-ed25519 {b64}", "malformed"),
        ("ssh-rsa {b64}", "line says ssh-rsa but the key data is ssh-ed25519"),
        ("ssh-ed25519", "no key data"),
        ("ssh-ed25519 !!!!", "not valid base64"),
        ("hello world", "not an SSH public key line"),
    ],
)
def test_malformed_lines(generated: dict[str, Generated], line: str, message: str) -> None:
    b64 = generated["ed25519"].line.split()[1]
    with pytest.raises(KeyFormatError, match=message) as info:
        load_ssh_public_keys("\n\n" + line.format(b64=b64))
    assert str(info.value).startswith("line 3: ")


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ('command="a\\"b"', ("command", 'a"b')),  # backslash-quote: a quote in the value
        ('command="a\\\\b"', ("command", "a\\\\b")),  # other backslashes are kept
        ('command="\\""', ("command", '"')),
        ('command="x \\" y"', ("command", 'x " y')),  # a space inside quotes
        ('command=""', ("command", "")),
        ('from="a,b",no-pty', ("from", "a,b")),
    ],
)
def test_option_values_follow_sshd_quoting(options: str, expected: tuple[str, str]) -> None:
    """Values are read as sshd's opt_dequote reads them: a quote right after a backslash
    belongs to the value, wherever that backslash came from."""
    assert load_ssh_public_key(f"{options} {line_of(_ED_BLOB)}").options[0] == expected
    # the quote after two backslashes is escaped too, so this value never ends
    with pytest.raises(KeyFormatError, match="unterminated quote"):
        load_ssh_public_key(f'command="a\\\\" {line_of(_ED_BLOB)}')


def test_unsupported_key_type() -> None:
    blob = sshstr(b"ssh-ed448") + sshstr(b"\x01" * 57)
    b64 = base64.b64encode(blob).decode()
    for text in (f"ssh-ed448 {b64} c", f'from="x" ssh-ed448 {b64}'):
        with pytest.raises(UnsupportedKeyType, match="'ssh-ed448'"):
            load_ssh_public_keys(text)
    with pytest.raises(UnsupportedKeyType):
        load_ssh_blob(blob)


def test_exactly_one_key(generated: dict[str, Generated]) -> None:
    with pytest.raises(KeyFormatError, match="no SSH public key"):
        load_ssh_public_key("# nothing here\n\n")
    two = generated["ed25519"].line + "\n" + generated["rsa2048"].line
    with pytest.raises(KeyFormatError, match="found 2"):
        load_ssh_public_key(two)
    assert len(load_ssh_public_keys(two)) == 2


# --------------------------------------------------------------------------- renderers


def test_render_validation(generated: dict[str, Generated], ca: dict[str, Path]) -> None:
    key = load_ssh_public_key(generated["ed25519"].line)
    naive = datetime(2030, 1, 1)
    with pytest.raises(KeyFormatError, match="timezone-aware"):
        render_authorized_key(key, expiry=naive)
    tz = datetime(2030, 1, 1, 2, 0, tzinfo=UTC).astimezone(timezone(timedelta(hours=2)))
    assert 'expiry-time="20300101020000Z"' in render_authorized_key(key, expiry=tz)
    for bad in ['a"b', "a,b", "a b", "a\nb", "", "x\x00"]:
        with pytest.raises(InvalidName):
            render_authorized_key(key, principals=[bad])
    for comment in ["evil\ncommand", "has space", 'q"uote', "a,b"]:
        with pytest.raises(InvalidName):
            render_authorized_key(key, comment=comment)
    assert render_authorized_key(key, comment="Alice@Example.org").endswith(" alice@example.org")
    for hosts in (["a b"], ["x\ny"], [], ['"q"'], ["#c"]):
        with pytest.raises(InvalidName):
            render_known_hosts_line(key, hosts)
    with pytest.raises(KeyFormatError, match="marker"):
        render_known_hosts_line(key, "h", marker="@evil")
    line = render_known_hosts_line(key, "a.example.org,*.b.example.org", marker="@revoked",
                                   comment="web.example.org")  # fmt: skip
    assert line == f"@revoked a.example.org,*.b.example.org {render_openssh(key)} web.example.org"
    assert "\n" not in line


@tools
def test_known_hosts_cert_authority(generated: dict[str, Generated], tmp_path: Path) -> None:
    key = load_ssh_public_key(generated["ecdsa256"].line)
    kh = tmp_path / "known_hosts"
    kh.write_text(render_known_hosts_line(key, ["*.example.org"], marker="@cert-authority") + "\n")
    found = run("ssh-keygen", "-F", "web1.example.org", "-f", kh)
    assert "found: line 1 CA" in found and render_openssh(key) in found


def test_certificates_refused_where_plain_keys_belong(
    generated: dict[str, Generated], ca: dict[str, Path]
) -> None:
    cert_path = sign(ca["ca-ed25519"], generated["ed25519"].path, "-I", "x", name="plainonly")
    cert = load_ssh_public_key(cert_path.read_text())
    with pytest.raises(KeyFormatError, match="plain"):
        render_known_hosts_line(cert, "h")
    with pytest.raises(KeyFormatError, match="plain CA key"):
        render_authorized_key(cert, cert_authority=True)
    assert render_authorized_key(cert).startswith("ssh-ed25519-cert-v01@openssh.com ")


# --------------------------------------------------------------------------- bad input


def _all_blobs(generated: dict[str, Generated], ca: dict[str, Path]) -> list[bytes]:
    blobs = [load_ssh_public_key(g.line).material for g in generated.values()]
    cert = sign(ca["ca-rsa"], generated["ecdsa521"].path, "-I", "x", "-n", "a,b",
                "-O", "force-command=x", name="prefix")  # fmt: skip
    return [*blobs, load_ssh_public_key(cert.read_text()).material]


def test_every_truncated_blob_prefix_is_refused(
    generated: dict[str, Generated], ca: dict[str, Path]
) -> None:
    for blob in _all_blobs(generated, ca):
        for cut in range(len(blob)):
            for kind in (bytes, bytearray, memoryview):
                with pytest.raises(KeyFormatError):
                    load_ssh_blob(kind(blob[:cut]))  # type: ignore[operator]
        with pytest.raises(KeyFormatError, match="trailing"):
            load_ssh_blob(blob + b"\x00")


def test_every_truncated_line_prefix(generated: dict[str, Generated], ca: dict[str, Path]) -> None:
    for blob in _all_blobs(generated, ca):
        key = load_ssh_blob(blob)
        line = render_openssh(key) + " c@x"
        full = len(render_openssh(key))
        for cut in range(len(line)):
            text = line[:cut]
            for data in (text, text.encode(), bytearray(text.encode()),
                         memoryview(text.encode())):  # fmt: skip
                try:
                    got = load_ssh_public_keys(data)
                except KeyFormatError:
                    assert cut < full or cut == 0
                    continue
                # Only an empty input, or one cut inside the comment, parses.
                assert got == ([] if cut == 0 else [key]) and (cut == 0 or cut >= full)


def _with_field(name: bytes, *fields: bytes) -> bytes:
    return sshstr(name) + b"".join(fields)


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (_with_field(b"ssh-ed25519", sshstr(b"\x01" * 31)), "32 bytes"),
        (_with_field(b"ssh-rsa", sshstr(b"\x00\x01\x00\x01"), sshstr(b"\x00" + b"\xff" * 256)),
         "non-minimal"),
        (_with_field(b"ssh-rsa", sshstr(b"\x80"), sshstr(b"\x00" + b"\xff" * 256)), "negative"),
        (_with_field(b"ssh-rsa", sshstr(b"\x01\x00\x01"), sshstr(b"\x00" + b"\xff" * 255 + b"\xfe")),
         "even"),
        (_with_field(b"ssh-rsa", sshstr(b"\x02"), sshstr(b"\x00" + b"\xff" * 256)), "exponent"),
        (_with_field(b"ssh-rsa", sshstr(b"\x01\x00\x01"), sshstr(b"\x00\xff\xff")), "too small"),
        (_with_field(b"ecdsa-sha2-nistp256", sshstr(b"nistp384"), sshstr(b"\x04" + b"\x01" * 64)),
         "curve"),
        (_with_field(b"ecdsa-sha2-nistp256", sshstr(b"nistp256"), sshstr(b"\x04" + b"\x01" * 64)),
         "not on nistp256"),
        (_with_field(b"ecdsa-sha2-nistp256", sshstr(b"nistp256"), sshstr(b"\x00")),
         "uncompressed"),
        (_with_field(b"ssh-dss", *(sshstr(b"\x05") for _ in range(4))), "not a DSA"),
        (_with_field(b"sk-ssh-ed25519@openssh.com", sshstr(b"\x01" * 32), sshstr(b"\xff")),
         "not UTF-8"),
        (b"openssh-key-v1\x00rest", "private key"),
        (b"", "truncated"),
        (b"\xff\xff\xff\xff", "truncated"),
    ],
)  # fmt: skip
def test_invalid_blobs(blob: bytes, message: str) -> None:
    with pytest.raises(KeyFormatError, match=message):
        load_ssh_blob(blob)


def test_type_mismatch_and_wrong_input_types() -> None:
    with pytest.raises(KeyFormatError, match="must be bytes"):
        load_ssh_blob("ssh-ed25519 AAAA")  # type: ignore[arg-type]
    with pytest.raises(KeyFormatError, match="bytes or str"):
        load_ssh_public_keys(12)  # type: ignore[arg-type]
    with pytest.raises(KeyFormatError, match="exceeds"):
        load_ssh_blob(b"\x00" * 20000)


@pytest.mark.parametrize("kind", [str, bytes])
def test_ten_mib_input_is_refused_up_front(kind: type) -> None:
    data = "ssh-ed25519 " + "A" * (10 << 20)
    with pytest.raises(KeyFormatError, match="1 MiB"):
        load_ssh_public_keys(data if kind is str else data.encode())


def test_random_and_garbage_input() -> None:
    rng = random.Random(1)
    for _ in range(300):
        raw = rng.randbytes(rng.randrange(0, 200))
        with pytest.raises(KeyFormatError):
            load_ssh_blob(raw)
        try:
            load_ssh_public_keys(raw)
        except KeyFormatError:
            pass
    with pytest.raises(KeyFormatError, match="base64"):
        load_ssh_public_keys("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI====garbage")


@tools
@pytest.mark.parametrize(
    "make",
    [
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", "{path}"],
        ["ssh-keygen", "-q", "-t", "ecdsa", "-N", "secret", "-f", "{path}"],
        ["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "", "-f", "{path}"],
        ["openssl", "genpkey", "-algorithm", "ed25519", "-out", "{path}"],
        ["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-aes-128-cbc", "-pass", "pass:x", "-out", "{path}"],
    ],
)  # fmt: skip
def test_private_keys_are_refused_without_echo(tmp_path: Path, make: list[str]) -> None:
    path = tmp_path / "key"
    run(*(a.format(path=path) for a in make))
    content = path.read_text()
    pub = path.with_suffix(".pub")
    for data in (content, content.encode(), (pub.read_text() if pub.exists() else "") + content):
        with pytest.raises(PrivateKeyError) as info:
            load_ssh_public_keys(data)
        message = str(info.value)
        assert "\n" not in message
        for line in content.splitlines():
            assert line.strip() not in message


def test_pem_public_data_is_not_an_ssh_key() -> None:
    for label in ("PUBLIC KEY", "CERTIFICATE", "PGP PUBLIC KEY BLOCK"):
        with pytest.raises(KeyFormatError, match=f"line 2: {label} data is not an SSH public key"):
            load_ssh_public_keys(f"\n-----BEGIN {label}-----\nMIIB\n-----END {label}-----\n")
    with pytest.raises(PrivateKeyError, match="OpenPGP"):
        load_ssh_public_keys("-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQ\n")


def test_putty_and_bare_openssh_private_keys() -> None:
    putty = (
        "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: k\n"
        "Public-Lines: 2\nAAAAC3NzaC1lZDI1NTE5AAAAIG\nPrivate-Lines: 1\nAAAAIDSECRETSECRET\n"
    )
    with pytest.raises(PrivateKeyError, match="PuTTY") as info:
        load_ssh_public_keys(putty)
    assert "SECRET" not in str(info.value)
    bare = base64.b64encode(b"openssh-key-v1\x00" + b"\x00" * 40).decode()
    with pytest.raises(PrivateKeyError):
        load_ssh_public_keys(bare)


# --------------------------------------------------------------------------- fuzz


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_fuzz_blob(data: bytes) -> None:
    try:
        key = load_ssh_blob(data)
    except KeyFormatError:
        return
    assert _encode(key) == data


_ED_BLOB = _with_field(b"ssh-ed25519", sshstr(b"\x11" * 32))


def _mutated(data: st.DataObject) -> bytearray:
    """An ed25519 blob with one to four bytes changed."""
    blob = bytearray(_ED_BLOB)
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(blob) - 1))
        blob[pos] = data.draw(st.integers(0, 255))
    return blob


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_fuzz_mutated_blob(data: st.DataObject) -> None:
    blob = _mutated(data)
    try:
        key = load_ssh_blob(blob)
    except KeyFormatError:
        return
    assert key.material == bytes(blob) and _encode(key) == bytes(blob)


_PIECES = st.sampled_from(
    ["ssh-ed25519", "ssh-rsa", " ", "\t", '"', "\\", ",", "=", "command", "no-pty", "#", "\n",
     "\r", "AAAA", base64.b64encode(_ED_BLOB).decode(), "---- BEGIN SSH2 PUBLIC KEY ----",
     "---- END SSH2 PUBLIC KEY ----", "Comment:", "x", "é", "\x00"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=20).map("".join) | st.text(max_size=200))
@example("\x1f")  # str.split() whitespace that line stripping keeps (was an IndexError)
@example("\x1c\x1d\x1e")
@example("\u2028ssh-ed25519")
@example("\x85")
def test_fuzz_text(text: str) -> None:
    try:
        keys = load_ssh_public_keys(text)
    except KeyFormatError as exc:
        assert "\n" not in str(exc)
        return
    for key in keys:
        assert key.material == _ED_BLOB
        assert "\n" not in render_authorized_key(key)


# --------------------------------------------------------------------------- import cost


def test_text_parsers_keep_their_public_names() -> None:
    """The text half lives in registry.keys._ssh_text (sshd's path never compiles it); the
    names users import from registry.keys, and older imports from _ssh, are the same objects."""
    import registry.keys
    import registry.keys._ssh as ssh_module
    from registry.keys import _ssh_text

    for name in ("load_ssh_public_key", "load_ssh_public_keys"):
        assert getattr(registry.keys, name) is getattr(_ssh_text, name)
        assert getattr(ssh_module, name) is getattr(_ssh_text, name)
    assert ssh_module._encode is _encode
    with pytest.raises(AttributeError):
        _ = ssh_module.no_such_name
    key = load_ssh_public_key(line_of(_ED_BLOB, comment="c"))
    assert key.to_dict()["fingerprint"] == key.fingerprint and key.to_dict()["comment"] == "c"


def test_import_does_not_load_cryptography() -> None:
    code = (
        "import sys, registry.keys._ssh as s\n"
        "k = s.load_ssh_public_key('" + line_of(_ED_BLOB) + "')\n"
        "assert k.fingerprint.startswith('SHA256:')\n"
        "print(sorted(m for m in sys.modules if m.startswith(('cryptography', 'web3'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout  # fmt: skip
    assert out.strip() == "[]"


# --------------------------------------------------------------------------- real sshd


@pytest.fixture(scope="module")
def sshd_env(generated: dict[str, Generated], ca: dict[str, Path]) -> Iterator[dict[str, Path]]:
    """A directory sshd (run as `nobody`, no root needed beyond dropping to it) can read."""
    from tests.conftest import require_tool, skip_or_fail

    sshd = Path(require_tool("sshd", "/usr/sbin/sshd"))
    require_tool("ssh")
    require_tool("setpriv")
    if os.geteuid() != 0:
        skip_or_fail("the sshd test drops from root to nobody")
    base = Path(tempfile.mkdtemp(prefix="keyanchor-sshd-"))
    try:
        base.chmod(0o755)
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", base / "hostkey")
        shutil.chown(base / "hostkey", user="nobody")
        client = generated["ecdsa256"].path.with_suffix("")
        cert = sign(ca["ca-ed25519"], generated["ecdsa256"].path, "-I", "c", "-n", "alice",
                    name="sshd-client")  # fmt: skip
        yield {"base": base, "sshd": sshd, "client": client, "cert": cert,
               "ca": ca["ca-ed25519"].with_suffix(".pub")}  # fmt: skip
    finally:
        shutil.rmtree(base)


def _sshd_login(env: dict[str, Path], authorized: str, *, cert: bool = False) -> str:
    """Run sshd -d for one login with ``authorized`` as authorized_keys; return sshd's log."""
    base = env["base"]
    (base / "authorized_keys").write_text(authorized + "\n")
    (base / "authorized_keys").chmod(0o644)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = base / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {base}/hostkey\nPidFile none\n"
        f"AuthorizedKeysFile {base}/authorized_keys\nStrictModes no\nUsePAM yes\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
    )
    config.chmod(0o644)
    cmd = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
           str(env["sshd"]), "-d", "-e", "-f", str(config)]  # fmt: skip
    # JST-9: sshd logs expiry in local time, which shows the Z suffix was read as UTC.
    sshd = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True,
                            env={"TZ": "JST-9", **clock_env()})
    try:
        assert sshd.stderr is not None
        log = []
        for line in sshd.stderr:
            log.append(line)
            if "Server listening" in line:
                break
        else:
            pytest.fail("sshd did not start: " + "".join(log))
        client = ["ssh", "-F", "/dev/null", "-i", str(env["client"]), "-p", str(port),
                  "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
                  "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]  # fmt: skip
        if cert:
            client += ["-o", f"CertificateFile={env['cert']}"]
        subprocess.run([*client, "nobody@127.0.0.1", "true"], capture_output=True, timeout=30)
        _, rest = sshd.communicate(timeout=30)
        return "".join(log) + rest
    finally:
        if sshd.poll() is None:
            sshd.kill()
            sshd.wait()


@pytest.mark.sshd
def test_sshd_accepts_rendered_expiry_and_refuses_expired(sshd_env: dict[str, Path]) -> None:
    key = load_ssh_public_key(sshd_env["client"].with_suffix(".pub").read_text())
    future = datetime(2099, 1, 1, tzinfo=UTC)
    log = _sshd_login(sshd_env, render_authorized_key(key, expiry=future, comment="a@b.org"))
    assert "Accepted publickey for nobody from 127.0.0.1" in log
    assert "expires at 2099-01-01T09:00:00" in log  # 00:00Z shown in JST (UTC+9)
    past = datetime.now(UTC) - timedelta(minutes=5)
    log = _sshd_login(sshd_env, render_authorized_key(key, expiry=past))
    assert "Accepted publickey" not in log and "expired" in log


@pytest.mark.sshd
def test_sshd_cert_authority_principals(sshd_env: dict[str, Path]) -> None:
    ca_key = load_ssh_public_key(sshd_env["ca"].read_text())
    ok = render_authorized_key(ca_key, cert_authority=True, principals=["bob", "alice"])
    log = _sshd_login(sshd_env, ok, cert=True)
    assert "Accepted publickey for nobody" in log and "ECDSA-CERT" in log
    wrong = render_authorized_key(ca_key, cert_authority=True, principals=["bob"])
    log = _sshd_login(sshd_env, wrong, cert=True)
    assert "Accepted publickey" not in log


# --------------------------------------------------------------------------- sshd's slim reader


def _slim(blob: bytes) -> str | None:
    """What sshd's path makes of a blob: its key type, or None (the record is skipped)."""
    from registry.keys._ssh_wire import plain_key_algorithm

    try:
        return plain_key_algorithm(blob)
    except KeyFormatError:
        return None


def _full(blob: bytes) -> str | None:
    """The same decision through the full parser: a plain key that loads, else None."""
    try:
        key = load_ssh_blob(blob)
    except KeyFormatError:
        return None
    return None if key.certificate is not None else key.algorithm


def test_slim_reader_decides_as_the_full_parser(
    generated: dict[str, Generated], ca: dict[str, Path]
) -> None:
    """sshd checks material with registry.keys._ssh_wire alone; it must accept exactly the plain
    keys load_ssh_blob accepts (every type, every truncation, trailing bytes, certificates
    refused) and render the same lines."""
    from registry.keys._digest import MAX_MATERIAL
    from registry.keys._ssh_wire import MAX_BLOB, render_authorized_line

    assert MAX_BLOB == MAX_MATERIAL
    blobs = _all_blobs(generated, ca)
    assert [_slim(b) for b in blobs] == [_full(b) for b in blobs]
    assert _slim(blobs[-1]) is None and all(_slim(b) for b in blobs[:-1])  # the certificate
    for blob in blobs[:-1]:
        for cut in range(0, len(blob), 7):
            assert _slim(blob[:cut]) is None
        assert _slim(blob + b"\x00") is None
        key = load_ssh_blob(blob)
        when = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
        assert render_authorized_line(key.algorithm, blob, expiry=when, cert_authority=True,
                                      principals=["alice"], comment="alice@example.org") \
            == render_authorized_key(key, expiry=when, cert_authority=True,
                                     principals=["alice"], comment="alice@example.org")
    assert _slim(b"\x00" * 20000) is None  # larger than the contract allows


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_fuzz_slim_reader_agrees(data: st.DataObject) -> None:
    blob = bytes(_mutated(data))
    assert _slim(blob) == _full(blob)


# --------------------------------------------------------------------------- small-order Ed25519

_P25519 = 2**255 - 19
_ORDER8 = "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"
#: Every encoding of a point of order 1, 2, 4 or 8 (canonical or not, either sign bit).
SMALL_ORDER_ED25519 = [
    (1).to_bytes(32, "little"),                          # the identity
    (_P25519 - 1).to_bytes(32, "little"),                # order 2
    bytes(32),                                           # order 4 (y = 0)
    bytes(31) + b"\x80",                                 # order 4, the other sign
    bytes.fromhex(_ORDER8),                              # order 8
    (_P25519 - int.from_bytes(bytes.fromhex(_ORDER8), "little")).to_bytes(32, "little"),
    (1 | 1 << 255).to_bytes(32, "little"),               # the identity, sign bit set
    (_P25519 + 1).to_bytes(32, "little"),                # the identity, y not reduced
    _P25519.to_bytes(32, "little"),                      # y = 0, not reduced
]


def _ed25519_blob(pk: bytes, kind: str = "ssh-ed25519") -> bytes:
    def s(b: bytes) -> bytes:
        return len(b).to_bytes(4, "big") + b
    blob = s(kind.encode()) + s(pk)
    return blob + (s(b"ssh:") if kind.startswith("sk-") else b"")


@pytest.mark.parametrize("pk", SMALL_ORDER_ED25519, ids=range(len(SMALL_ORDER_ED25519)))
@pytest.mark.parametrize("kind", ["ssh-ed25519", "sk-ssh-ed25519@openssh.com"])
def test_a_small_order_ed25519_key_is_refused(pk: bytes, kind: str) -> None:
    """An Ed25519 public key of small order (the identity point, say) parsed, passed the
    default policy and was served to sshd: a signature verifies under it for every message
    without any private key (R = the identity, s = 0; OpenSSH and OpenSSL accept it), so
    anyone could log in with it, and 'prove possession' of it. Now it does not parse."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from registry.keys._ssh_wire import plain_key_algorithm

    if pk[:1] == b"\x01" and int.from_bytes(pk, "little") == 1:  # the forgery, shown once
        Ed25519PublicKey.from_public_bytes(pk).verify((1).to_bytes(32, "little") + bytes(32),
                                                      b"any message at all")
    blob = _ed25519_blob(pk, kind)
    with pytest.raises(KeyFormatError, match="small-order point"):
        load_ssh_blob(blob)
    with pytest.raises(KeyFormatError, match="small-order point"):
        plain_key_algorithm(blob)


def test_ordinary_ed25519_keys_still_parse() -> None:
    from registry.keys._ssh_wire import plain_key_algorithm

    pk = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
    assert load_ssh_blob(_ed25519_blob(pk)).algorithm == "ssh-ed25519"
    assert plain_key_algorithm(_ed25519_blob(pk)) == "ssh-ed25519"
