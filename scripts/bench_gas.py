#!/usr/bin/env python3
"""Gas figures of KeyRegistry on the embedded py-evm chain (Prague rules).

    python scripts/bench_gas.py            # real keys from ssh-keygen / gpg / openssl
    python scripts/bench_gas.py --random   # random bytes of the same lengths instead

For each key kind it prints the gas of a plain and a durable publish, the floor
(intrinsic calldata cost of that transaction, the larger of the standard and
the EIP-7623 rule, + 22,100 for one new storage slot + the LOG cost of the
material, 375 + 8 x len), actual/floor, and what an ENS-style text record
(contracts/TextRecordBaseline.vy, compiled here) pays to store the same key as
text. Then an SSH ed25519 publish as the 1st, 2nd, 3rd, 100th and 1,000th
record of one name (the same gas, within 2%), register with its suffix-list
proof, assign, revoke, rotate, attest, block. Every figure includes the event
digest update. docs/GAS.md records a run.
"""

from __future__ import annotations

import argparse
import base64
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from registry.artifacts import load_artifact  # noqa: E402
from registry.keys._common import commitment  # noqa: E402
from registry.names import namehash  # noqa: E402
from registry.psl import suffix_tree  # noqa: E402

SSH, OPENPGP, X509 = 1, 2, 3
SSH_USER, SIGNING, TLS_SERVER = 1, 4, 16

TARGET_RATIO = 1.35
TARGET_REVOKE = 45_000
TARGET_REGISTER = 120_000
TARGET_VS_TEXT = 0.5
TARGET_FLAT = 0.02  # publish gas at every record index within 2% of each other
INDEXES = (0, 1, 2, 99, 999)


@dataclass
class Sample:
    label: str
    key_type: int
    purposes: int
    material: bytes
    proof: bytes
    text: str  # how a text record would hold it
    source: str  # "real" or "random"


# ---------------------------------------------------------------- key material


def _run(*cmd: str, cwd: str, stdin: bytes | None = None) -> bytes:
    return subprocess.run(
        cmd, cwd=cwd, input=stdin, check=True, capture_output=True, timeout=300
    ).stdout


def _pem_body(text: str) -> bytes:
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith("-----") and ":" not in ln]
    return base64.b64decode("".join(lines))


def _armor(kind: str, data: bytes) -> str:
    b64 = base64.b64encode(data).decode()
    body = "\n".join(b64[i : i + 64] for i in range(0, len(b64), 64))
    return f"-----BEGIN {kind}-----\n\n{body}\n-----END {kind}-----\n"


def _ssh_sample(tmp: str, label: str, keygen_args: list[str]) -> Sample:
    key = os.path.join(tmp, label)
    _run("ssh-keygen", "-q", "-N", "", "-C", "alice@example.org", "-f", key, *keygen_args, cwd=tmp)
    line = Path(key + ".pub").read_text().strip()
    blob = base64.b64decode(line.split()[1])
    sig = _run(
        "ssh-keygen", "-Y", "sign", "-n", "keyanchor", "-f", key, cwd=tmp, stdin=b"statement"
    )
    return Sample(label, SSH, SSH_USER, blob, _pem_body(sig.decode()), line, "real")


def _gpg_sample(tmp: str, label: str, algo: str) -> Sample:
    home = os.path.join(tmp, "gnupg-" + label)
    os.makedirs(home, mode=0o700)
    uid = f"Alice <alice-{label}@example.org>"
    base = ("gpg", "--homedir", home, "--batch", "--pinentry-mode", "loopback", "--passphrase", "")
    _run(*base, "--quick-gen-key", uid, algo, "sign,cert", "2y", cwd=tmp)
    if algo == "ed25519":
        fpr = _run(*base, "--with-colons", "--list-keys", uid, cwd=tmp).decode()
        fp = next(ln.split(":")[9] for ln in fpr.splitlines() if ln.startswith("fpr:"))
        _run(*base, "--quick-add-key", fp, "cv25519", "encr", "2y", cwd=tmp)
    else:
        fpr = _run(*base, "--with-colons", "--list-keys", uid, cwd=tmp).decode()
        fp = next(ln.split(":")[9] for ln in fpr.splitlines() if ln.startswith("fpr:"))
        _run(*base, "--quick-add-key", fp, "rsa4096", "encr", "2y", cwd=tmp)
    cert = _run(*base, "--export", uid, cwd=tmp)
    sig = _run(*base, "--detach-sign", "-u", uid, cwd=tmp, stdin=b"statement")
    return Sample(label, OPENPGP, SIGNING, cert, sig, _armor("PGP PUBLIC KEY BLOCK", cert), "real")


def _x509_sample(tmp: str) -> Sample:
    key, crt = os.path.join(tmp, "tls.key"), os.path.join(tmp, "tls.crt")
    _run(
        "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt,
        "-days", "90", "-subj", "/CN=web1.example.org/O=Example Org/C=NL",
        "-addext", "subjectAltName=DNS:web1.example.org,DNS:www.example.org",
        "-addext", "extendedKeyUsage=serverAuth", cwd=tmp,
    )  # fmt: skip
    pem = Path(crt).read_text()
    der = _pem_body(pem)
    sig = _run("openssl", "dgst", "-sha256", "-sign", key, cwd=tmp, stdin=b"statement")
    return Sample("X.509 RSA-2048 cert", X509, TLS_SERVER, der, sig, pem, "real")


def real_samples() -> list[Sample]:
    with tempfile.TemporaryDirectory() as tmp:
        return [
            _ssh_sample(tmp, "SSH ed25519", ["-t", "ed25519"]),
            _ssh_sample(tmp, "SSH RSA-4096", ["-t", "rsa", "-b", "4096"]),
            _gpg_sample(tmp, "OpenPGP ed25519 cert", "ed25519"),
            _gpg_sample(tmp, "OpenPGP RSA-4096 cert", "rsa4096"),
            _x509_sample(tmp),
        ]


def random_samples() -> list[Sample]:
    rnd = random.Random(7623)

    def rb(n: int) -> bytes:
        return bytes(rnd.getrandbits(8) for _ in range(n))

    shapes = [
        ("SSH ed25519", SSH, SSH_USER, 51, 180),
        ("SSH RSA-4096", SSH, SSH_USER, 535, 540),
        ("OpenPGP ed25519 cert", OPENPGP, SIGNING, 600, 119),
        ("OpenPGP RSA-4096 cert", OPENPGP, SIGNING, 3000, 566),
        ("X.509 RSA-2048 cert", X509, TLS_SERVER, 1300, 256),
    ]
    out = []
    for label, kt, purposes, n, p in shapes:
        material = rb(n)
        text = base64.b64encode(material).decode()
        algo = "ssh-ed25519" if n == 51 else "ssh-rsa"
        text = f"{algo} {text} alice@example.org" if kt == SSH else _armor("KEY", material)
        out.append(Sample(label, kt, purposes, material, rb(p), text, "random"))
    return out


# ---------------------------------------------------------------- chain


def intrinsic(data: bytes) -> int:
    zeros = data.count(0)
    nonzero = len(data) - zeros
    return max(21_000 + 4 * zeros + 16 * nonzero, 21_000 + 10 * (zeros + 4 * nonzero))


class Bench:
    def __init__(self) -> None:
        from eth_tester import EthereumTester, PyEVMBackend
        from web3 import Web3
        from web3.providers.eth_tester import EthereumTesterProvider

        self.tester = EthereumTester(PyEVMBackend())
        self.w3 = Web3(EthereumTesterProvider(self.tester))
        self.alice, self.bob = self.w3.eth.accounts[:2]
        self.w3.eth.default_account = self.alice
        art = load_artifact("KeyRegistry")
        self.tree = suffix_tree()
        self.reg = self.deploy(art["abi"], art["bytecode"], self.tree.root, False, self.alice)
        self.n = 0

    def deploy(self, abi: list, bytecode: str, *args: object):  # type: ignore[no-untyped-def]
        factory = self.w3.eth.contract(abi=abi, bytecode=bytecode)
        receipt = self.w3.eth.wait_for_transaction_receipt(factory.constructor(*args).transact())
        return self.w3.eth.contract(address=receipt.contractAddress, abi=abi)

    def register(self, name: str):  # type: ignore[no-untyped-def]
        return self.send(self.reg.functions.register(name, self.tree.prove(name).as_abi()))

    def send(self, fn, sender: str | None = None):  # type: ignore[no-untyped-def]
        tx = fn.transact({"from": sender or self.alice, "gas": 29_000_000})
        receipt = self.w3.eth.wait_for_transaction_receipt(tx)
        assert receipt.status == 1
        data = bytes(self.w3.eth.get_transaction(tx)["input"])
        return receipt.gasUsed, data

    def fresh_name(self) -> bytes:
        self.n += 1
        name = f"bench{self.n}.example"
        self.register(name)
        return namehash(name)

    def publish(self, node: bytes, s: Sample, durable: bool, valid_until: int = 0):  # type: ignore[no-untyped-def]
        now = self.w3.eth.get_block("latest")["timestamp"]
        fn = self.reg.functions.publish(
            node, s.key_type, s.purposes, now - 86400, valid_until or now + 2 * 365 * 86400,
            s.material, s.proof, durable,
        )  # fmt: skip
        return self.send(fn)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--random", action="store_true", help="random bytes, not real keys")
    args = parser.parse_args(argv)
    tools = all(shutil.which(t) for t in ("ssh-keygen", "gpg", "openssl"))
    samples = random_samples() if args.random or not tools else real_samples()

    import vyper

    b = Bench()
    src = (ROOT / "contracts" / "TextRecordBaseline.vy").read_text()
    out = vyper.compile_code(src, output_formats=["abi", "bytecode"])
    text_c = b.deploy(out["abi"], out["bytecode"])

    print(f"# keyanchor gas bench — {platform.python_implementation()} {platform.python_version()},"
          f" {platform.machine()}, py-evm fork {b.tester.backend.chain.get_vm().fork},"
          f" material: {samples[0].source}")  # fmt: skip
    print()
    hdr = f"{'key':24} {'mat B':>6} {'proof B':>7} {'plain':>8} {'floor':>8} {'ratio':>6}"
    hdr += f" {'durable':>9} {'text rec':>9} {'vs text':>7}"
    print(hdr)
    print("-" * len(hdr))
    failures: list[str] = []
    results: dict[str, int] = {}
    for i, s in enumerate(samples):
        node = b.fresh_name()
        plain, data = b.publish(node, s, False)
        floor = intrinsic(data) + 22_100 + 375 + 8 * len(s.material)
        durable, _ = b.publish(b.fresh_name(), s, True)
        tnode = bytes([i + 1]) * 32
        b.send(text_c.functions.claim(tnode))
        text_gas, _ = b.send(text_c.functions.setText(tnode, f"key.{s.key_type}", s.text))
        ratio = plain / floor
        print(f"{s.label:24} {len(s.material):6} {len(s.proof):7} {plain:8,} {floor:8,} {ratio:6.2f}"
              f" {durable:9,} {text_gas:9,} {plain / text_gas:7.2f}")  # fmt: skip
        results[s.label] = plain
        if ratio > TARGET_RATIO:
            failures.append(f"{s.label} publish {ratio:.2f}x floor > {TARGET_RATIO}")
        if s.label == "SSH ed25519" and plain / text_gas > TARGET_VS_TEXT:
            failures.append(f"SSH ed25519 {plain / text_gas:.2f}x text record > {TARGET_VS_TEXT}")

    ed = samples[0]
    print()
    print("SSH ed25519 publish by record index (one name; every earlier record stays):")
    node = b.fresh_name()
    by_index: dict[int, int] = {}
    for k in range(max(INDEXES) + 1):
        gas, data = b.publish(node, _variant(ed, k + 1), False)
        if k in INDEXES:
            floor = intrinsic(data) + 22_100 + 375 + 8 * len(ed.material)
            by_index[k] = gas
            ordinal = f"{k + 1:,}" + ("st" if k == 0 else "nd" if k == 1 else "rd" if k == 2 else "th")
            print(f"  publish as the {ordinal + ' record':16} {gas:9,}  {gas / floor:5.2f}x floor")
            if gas / floor > TARGET_RATIO:
                failures.append(f"ed25519 publish as record {k + 1} {gas / floor:.2f}x floor")
    spread = max(by_index.values()) / min(by_index.values()) - 1
    print(f"  spread (max / min - 1)              {spread:9.2%}  (target <= {TARGET_FLAT:.0%})")
    if spread > TARGET_FLAT:
        failures.append(f"publish gas varies {spread:.1%} across record indexes")

    print()
    print("other operations (SSH ed25519 where a key is involved):")
    reg = b.reg.functions
    ops: list[tuple[str, int]] = []
    registers = []
    for name, what in [("gas-probe.org", "register example.org-like (ICANN TLD)"),
                       ("gas-probe.co.uk", "register under a 2-label suffix (co.uk)"),
                       ("gas-probe.github.io", "register under a private suffix (github.io)"),
                       ("gas-probe.example", "register under an unknown TLD (rule *)")]:
        g, _ = b.register(name)
        ops.append((what, g))
        registers.append(g)
    g, _ = b.send(reg.assign(node, "alice", True, b.bob))
    ops.append(("assign a person child", g))
    g, _ = b.send(reg.assign(node, "web1", False, b.bob))
    ops.append(("assign a host child", g))
    c0 = commitment(ed.key_type, _variant(ed, 1).material)
    g, _ = b.send(reg.revoke(node, c0, 4, b""))
    ops.append(("revoke", g))
    revoke_gas = g
    c1 = commitment(ed.key_type, _variant(ed, 2).material)
    g, _ = b.send(reg.revoke(node, c1, 1, b"\x88" * 600))
    ops.append(("revoke with a 600-byte revocation signature", g))
    now = b.w3.eth.get_block("latest")["timestamp"]
    c2 = commitment(ed.key_type, _variant(ed, 3).material)
    g, _ = b.send(
        reg.rotate(node, c2, 4, b"", SSH, SSH_USER, now, 0, _variant(ed, 5000).material, ed.proof,
                   False)
    )
    ops.append(("rotate (revoke + publish ed25519)", g))
    g, _ = b.send(reg.set_operator(node, b.bob, True))
    ops.append(("set_operator", g))
    other = b.fresh_name()
    c4 = commitment(ed.key_type, _variant(ed, 4).material)
    g, _ = b.send(reg.attest(other, node, c4, b"\x11" * 32, 0))
    ops.append(("attest (first, with a policy hash)", g))
    g, _ = b.send(reg.attest(other, node, c4, b"\x22" * 32, now + 86400 * 365))
    ops.append(("attest again (update)", g))
    g, _ = b.send(reg.withdraw(other, node, c4))
    ops.append(("withdraw attestation", g))
    g, _ = b.send(reg.block_attester(node, other, True))
    ops.append(("block an attester", g))
    g, _ = b.send(reg.transfer(node, b.bob))
    ops.append(("transfer", g))
    for label, g in ops:
        print(f"  {label:52} {g:9,}")
    if revoke_gas > TARGET_REVOKE:
        failures.append(f"revoke {revoke_gas} > {TARGET_REVOKE}")
    if max(registers) > TARGET_REGISTER:
        failures.append(f"register {max(registers)} > {TARGET_REGISTER}")
    print()
    print(f"targets: publish <= {TARGET_RATIO}x floor at every index, spread <= {TARGET_FLAT:.0%},"
          f" ed25519 <= {TARGET_VS_TEXT}x text record, revoke <= {TARGET_REVOKE:,},"
          f" register <= {TARGET_REGISTER:,}")
    print("targets: " + ("all met" if not failures else "MISSED: " + "; ".join(failures)))
    return 0


def _variant(s: Sample, k: int) -> Sample:
    """The same shape of key with different bytes (a distinct commitment, same length and
    the same count of zero bytes, so every variant's calldata costs the same)."""
    mat = bytearray(s.material)
    mat[-2:] = (0x0101 + (k % 255) + ((k // 255) << 8)).to_bytes(2, "big")
    return Sample(s.label, s.key_type, s.purposes, bytes(mat), s.proof, s.text, s.source)


if __name__ == "__main__":
    sys.exit(main())
