"""Proof of possession: statements, and proofs made with the real ssh-keygen, gpg and openssl."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from registry.errors import ProofError
from registry.keys import KeyType, load_key
from registry.proofs import parse_statement, proof_commands, statement, verify_proof
from tests.policy.conftest import GPG, SSHTools, run, ssh_key_from_file

REG = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
OWNER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
OTHER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def stmt(key: Any, *, chain: int = 31337, reg: str = REG, name: str = "alice@example.org",
         owner: str = OWNER) -> bytes:
    return statement(chain, reg, name, owner, key.commitment)


def variants(key: Any) -> list[bytes]:
    """Statements for another name, owner, chain and registry."""
    return [stmt(key, name="bob@example.org"), stmt(key, owner=OTHER), stmt(key, chain=1),
            stmt(key, reg=OTHER)]


def test_statement_format() -> None:
    text = statement(31337, REG, "Alice@Example.ORG", OWNER, b"\x11" * 32).decode()
    assert text == (
        "keyanchor proof of possession v1\n"
        "chain-id: 31337\n"
        "registry: 0x5fbdb2315678afecb367f032d93f642f64180aa3\n"
        "name: alice@example.org\n"
        "owner: 0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266\n"
        f"commitment: 0x{'11' * 32}\n"
    )
    parsed = parse_statement(text.encode())
    assert parsed.chain_id == 31337 and parsed.name == "alice@example.org"


@pytest.mark.parametrize("bad", [
    dict(chain_id=-1), dict(registry_address="0x1234"), dict(owner="nothex"),
    dict(commitment=b"short"), dict(name="not a name"),
])
def test_statement_refuses_bad_fields(bad: dict[str, Any]) -> None:
    args: dict[str, Any] = dict(chain_id=1, registry_address=REG, name="alice@example.org",
                                owner=OWNER, commitment=b"\0" * 32)
    args.update(bad)
    with pytest.raises(ProofError):
        statement(**args)


def test_parse_statement_refuses_non_canonical() -> None:
    good = statement(1, REG, "alice@example.org", OWNER, b"\0" * 32)
    for bad in (good.upper(), good.replace(b"\n", b"\r\n"), good + b"extra\n",
                good.replace(b"alice", b"Alice"), b"hello"):
        with pytest.raises(ProofError):
            parse_statement(bad)


def test_proof_commands() -> None:
    assert proof_commands("ssh", "s.txt", key="id_ed25519")[0].startswith(
        "ssh-keygen -Y sign -n keyanchor -f id_ed25519 s.txt")
    assert proof_commands(KeyType.OPENPGP, "s.txt", key="ABCD")[0].startswith(
        "gpg --detach-sign --local-user ABCD")
    cmds = proof_commands("x509", "s.txt", key="key.pem")
    assert any("pkeyutl -sign -rawin" in c for c in cmds)
    assert any("dgst -sha256 -sign" in c for c in cmds)


# ------------------------------------------------------------------- SSH (real ssh-keygen -Y sign)


@pytest.mark.tools
@pytest.mark.parametrize("spec", [("ed", "ed25519", ""), ("ec", "ecdsa", "384"),
                                  ("rsa3072", "rsa", "3072"), ("ec256", "ecdsa", "256")])
def test_ssh_proof(ssh_tools: SSHTools, spec: tuple[str, str, str]) -> None:
    name, typ, bits = spec
    args = ["-t", typ] + (["-b", bits] if bits else [])
    key = ssh_key_from_file(ssh_tools.keygen(name, *args).with_suffix(".pub"))
    good = stmt(key)
    proof = ssh_tools.sign(name, good)
    assert proof.startswith(b"-----BEGIN SSH SIGNATURE-----")
    res = verify_proof(key, proof, good)
    assert res.key_type == "ssh" and res.hash_algorithm == "sha512"
    # binary form too
    body = b"".join(proof.strip().splitlines()[1:-1])
    assert verify_proof(key, base64.b64decode(body), good).signer == res.signer
    for other in variants(key):
        with pytest.raises(ProofError):
            verify_proof(key, proof, other)


@pytest.mark.tools
def test_ssh_proof_refusals(ssh_tools: SSHTools) -> None:
    key = ssh_key_from_file(ssh_tools.keygen("ed", "-t", "ed25519").with_suffix(".pub"))
    other = ssh_key_from_file(ssh_tools.keygen("ed2", "-t", "ed25519").with_suffix(".pub"))
    good = stmt(key)
    with pytest.raises(ProofError, match="namespace"):
        verify_proof(key, ssh_tools.sign("ed", good, namespace="file"), good)
    with pytest.raises(ProofError, match="different key"):
        verify_proof(key, ssh_tools.sign("ed2", good), good)
    with pytest.raises(ProofError, match="commitment"):
        verify_proof(other, ssh_tools.sign("ed2", good), good)
    with pytest.raises(ProofError):
        verify_proof(key, b"garbage", good)
    with pytest.raises(ProofError):
        verify_proof(key, b"", good)


@pytest.mark.tools
def test_ssh_proof_refuses_sha1_rsa(ssh_tools: SSHTools) -> None:
    from registry.proofs import parse_sshsig
    from tests.policy.test_ssh_lints import sha1_proof

    key = ssh_key_from_file(ssh_tools.keygen("ed", "-t", "ed25519").with_suffix(".pub"))
    assert parse_sshsig(sha1_proof()).signature_algorithm == "ssh-rsa"
    with pytest.raises(ProofError, match="SHA-1"):
        verify_proof(key, sha1_proof(), stmt(key))


@pytest.mark.tools
def test_ssh_certificate_proof(ssh_tools: SSHTools) -> None:
    ssh_tools.keygen("ed", "-t", "ed25519")
    ssh_tools.keygen("ec", "-t", "ecdsa", "-b", "384")
    cert = ssh_key_from_file(ssh_tools.cert("proof-cert", "ed", "ec", "-n", "alice",
                                            "-V", "-1d:+1d"))
    good = stmt(cert)
    assert verify_proof(cert, ssh_tools.sign("ec", good), good).key_type == "ssh"
    with pytest.raises(ProofError):
        verify_proof(cert, ssh_tools.sign("ed", good), good)  # the CA key is not the key


# ------------------------------------------------------------------- OpenPGP (real gpg)


@pytest.mark.tools
def test_openpgp_proof(gpg: GPG) -> None:
    fpr = gpg.gen("Proof <proof@example.org>", "ed25519", "sign", "1y")
    key = load_key(gpg.export(fpr))
    good = stmt(key)
    proof = gpg.sign(fpr, good)
    res = verify_proof(key, proof, good)
    assert res.key_type == "openpgp" and res.signer == fpr
    armored = gpg.sign(fpr, good, "--armor")
    assert armored.startswith(b"-----BEGIN PGP SIGNATURE-----")
    verify_proof(key, armored, good)
    for other in variants(key):
        with pytest.raises(ProofError):
            verify_proof(key, proof, other)
    fpr2 = gpg.gen("Other <other@example.org>", "ed25519", "sign", "1y")
    with pytest.raises(ProofError, match="does not verify"):
        verify_proof(key, gpg.sign(fpr2, good), good)


@pytest.mark.tools
def test_openpgp_proof_by_signing_subkey(gpg: GPG) -> None:
    fpr = gpg.gen("Sub <sub@example.org>", "ed25519", "cert", "1y")
    gpg("--quick-add-key", fpr, "ed25519", "sign", "1y")
    key = load_key(gpg.export(fpr))
    good = stmt(key)
    res = verify_proof(key, gpg.sign(fpr, good), good)
    assert res.signer != fpr and res.details["certificate"] == fpr


# ------------------------------------------------------------------- X.509 (real openssl)


def _openssl_cert(d: Any, name: str, *keyargs: str) -> Any:
    key = d / f"{name}.key"
    crt = d / f"{name}.pem"
    if not crt.exists():
        run("openssl", "genpkey", *keyargs, "-out", str(key))
        run("openssl", "req", "-new", "-x509", "-key", str(key), "-out", str(crt), "-days", "30",
            "-subj", "/CN=web.example.org", "-addext", "subjectAltName=DNS:web.example.org")
    return load_key(crt.read_bytes()), key


@pytest.mark.tools
@pytest.mark.parametrize("kind", ["ed25519", "rsa", "rsa-pss", "ec"])
def test_x509_proof(openssl_dir: Any, kind: str) -> None:
    keyargs = {"ed25519": ["-algorithm", "ed25519"],
               "rsa": ["-algorithm", "rsa", "-pkeyopt", "rsa_keygen_bits:2048"],
               "rsa-pss": ["-algorithm", "rsa", "-pkeyopt", "rsa_keygen_bits:2048"],
               "ec": ["-algorithm", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]}[kind]
    key, keyfile = _openssl_cert(openssl_dir, kind, *keyargs)
    good = stmt(key)
    msg = openssl_dir / "statement.txt"
    msg.write_bytes(good)
    sig = openssl_dir / f"{kind}.sig"
    if kind == "ed25519":
        run("openssl", "pkeyutl", "-sign", "-rawin", "-inkey", str(keyfile), "-in", str(msg),
            "-out", str(sig))
    elif kind == "rsa-pss":
        run("openssl", "dgst", "-sha256", "-sign", str(keyfile), "-sigopt",
            "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest", "-out", str(sig),
            str(msg))
    else:
        run("openssl", "dgst", "-sha256", "-sign", str(keyfile), "-out", str(sig), str(msg))
    proof = sig.read_bytes()
    res = verify_proof(key, proof, good)
    assert res.key_type == "x509"
    assert verify_proof(key, base64.b64encode(proof), good).algorithm == res.algorithm
    for other in variants(key):
        with pytest.raises(ProofError):
            verify_proof(key, proof, other)
    other_key, _ = _openssl_cert(openssl_dir, "other-" + kind, *keyargs)
    with pytest.raises(ProofError):
        verify_proof(other_key, proof, stmt(other_key))


@pytest.mark.tools
def test_binary_sshsig_ending_in_whitespace_bytes(ssh_tools: SSHTools) -> None:
    """A binary SSHSIG whose last byte is 0x0a/0x20/0x09... must not be stripped (was ~2% flaky)."""
    key = ssh_key_from_file(ssh_tools.keygen("ed-ws", "-t", "ed25519").with_suffix(".pub"))
    for attempt in range(600):  # Ed25519 is deterministic: vary the statement instead
        good = stmt(key, name=f"u{attempt}@example.org")
        proof = ssh_tools.sign("ed-ws", good)
        binary = base64.b64decode(b"".join(proof.strip().splitlines()[1:-1]))
        if binary[-1:].isspace():
            assert verify_proof(key, binary, good).key_type == "ssh"
            return
    raise AssertionError("no signature ending in a whitespace byte in 600 tries")


@pytest.mark.tools
def test_armored_proof_read_as_text(ssh_tools: SSHTools) -> None:
    """`open("statement.txt.sig").read()` gives str: a proof, not a TypeError."""
    from registry.policy import Status, check

    key = ssh_key_from_file(ssh_tools.keygen("ed", "-t", "ed25519").with_suffix(".pub"))
    good = stmt(key)
    text = ssh_tools.sign("ed", good).decode("ascii")
    assert verify_proof(key, text, good.decode()).algorithm == "ssh-ed25519"
    report = check(key, name="alice@example.org", proof=text, statement=good.decode(),
                   only=["binding.proof"])
    assert report.result("binding.proof").status == Status.PASS
    with pytest.raises(ProofError, match="bytes or str"):
        verify_proof(key, 12, good)  # type: ignore[arg-type]
    with pytest.raises(ProofError, match="bytes or str"):
        check(key, proof=12, statement=good)  # type: ignore[arg-type]
