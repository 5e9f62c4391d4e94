"""Fixtures for the chain client tests, and the end-to-end flow shared by every chain.

``end_to_end(make_registry, accounts, keys)`` runs the registry's main path
(register, delegate, publish three key types, lookup, rotate, revoke, attest,
withdraw, history) against whatever chain ``make_registry`` talks to: the
embedded py-evm chain here (it answers ``eth_getProof``, which every proven read
needs; eth-tester does not), anvil in ``test_anvil.py``.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from registry.chain.client import Registry
from registry.chain.records import RevocationReason
from registry.errors import KeyAlreadyActive, KeyRevoked, NameTaken, NotOwner
from registry.keys import KeyType, Purpose, commitment
from tests.conftest import require_tool

FUND_WEI = 10**21
RA, ALICE, BOB = "ra", "alice", "bob"


# --------------------------------------------------------------------------- keys


@dataclass(frozen=True)
class FakeKey:
    """Stands in for a parsed key when a test runs on raw material (no parser needed)."""

    key_type: KeyType
    material: bytes
    algorithm: str = "raw"
    bits: int = 0
    identities: tuple[str, ...] = ()
    valid_from: Any = None
    valid_until: Any = None

    @property
    def fingerprint(self) -> str:
        return "RAW:" + commitment(self.key_type, self.material).hex()[:16]

    def to_dict(self) -> dict[str, Any]:
        return {"material": self.material.hex()}


def raw_loader(key_type: KeyType, material: bytes) -> FakeKey:
    from registry.errors import KeyFormatError

    if not material.startswith(b"RAW"):
        raise KeyFormatError("not raw test material")
    return FakeKey(key_type, material)


@dataclass(frozen=True)
class KeySet:
    """What the flow publishes: bytes in any form ``Registry.publish`` accepts."""

    ssh: Any
    ssh2: Any
    openpgp: Any
    x509: Any
    fingerprint: Callable[[Any], str]


def raw_keys() -> KeySet:
    def fp(value: Any) -> str:
        key_type, material = value
        return FakeKey(key_type, material).fingerprint

    return KeySet(
        ssh=(KeyType.SSH, b"RAW ssh one"),
        ssh2=(KeyType.SSH, b"RAW ssh two"),
        openpgp=(KeyType.OPENPGP, b"RAW openpgp"),
        x509=(KeyType.X509, b"RAW x509"),
        fingerprint=fp,
    )


def _run(cmd: list[str], **kw: Any) -> None:
    subprocess.run(cmd, check=True, capture_output=True, timeout=60, **kw)


@pytest.fixture(scope="session")
def real_keys(tmp_path_factory: pytest.TempPathFactory) -> KeySet:
    """Small real keys made by ssh-keygen, gpg and openssl."""
    ssh_keygen = require_tool("ssh-keygen")
    gpg = require_tool("gpg")
    openssl = require_tool("openssl")
    d = tmp_path_factory.mktemp("keys")
    for stem in ("id1", "id2"):
        _run([ssh_keygen, "-q", "-t", "ed25519", "-N", "", "-C", stem, "-f", str(d / stem)])
    _run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            str(d / "tls.key"),
            "-out",
            str(d / "tls.pem"),
            "-days",
            "30",
            "-subj",
            "/CN=web1.example.org",
            "-addext",
            "subjectAltName=DNS:web1.example.org",
        ]
    )
    home = d / "gnupg"
    home.mkdir(mode=0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    _run(
        [
            gpg,
            "--batch",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
            "--quick-gen-key",
            "Alice <alice@example.org>",
            "ed25519",
            "sign",
            "1y",
        ],
        env=env,
    )
    with open(d / "alice.pgp", "wb") as out:
        subprocess.run(
            [gpg, "--export", "alice@example.org"], check=True, stdout=out, env=env, timeout=60
        )
    subprocess.run(
        ["gpgconf", "--kill", "all"], capture_output=True, env=env, timeout=60, check=False
    )

    def fp(value: Any) -> str:
        from registry.keys import load_key

        return str(load_key(value).fingerprint)

    return KeySet(
        ssh=(d / "id1.pub").read_bytes(),
        ssh2=(d / "id2.pub").read_bytes(),
        openpgp=(d / "alice.pgp").read_bytes(),
        x509=(d / "tls.pem").read_bytes(),
        fingerprint=fp,
    )


def _publish_args(value: Any) -> tuple[Any, dict[str, Any]]:
    if isinstance(value, tuple):
        key_type, material = value
        return material, {"key_type": key_type}
    return value, {}


# --------------------------------------------------------------------------- the flow


def end_to_end(
    make_registry: Callable[[LocalAccount], Registry],
    accounts: dict[str, LocalAccount],
    keys: KeySet,
) -> None:
    """The registry's main path; asserts state read back, events, and refusals."""
    ra = make_registry(accounts[RA])
    alice = make_registry(accounts[ALICE])
    bob = make_registry(accounts[BOB])

    # names: an RA registers its domain and delegates a person and a host
    reg = ra.register("example.org")
    assert reg.node is not None
    assert ra.owner("example.org") == accounts[RA].address
    with pytest.raises(NameTaken):
        bob.register("example.org")
    ra.assign("alice@example.org", accounts[ALICE].address)
    ra.assign("web1.example.org", accounts[RA].address)
    assert alice.owner("alice@example.org") == accounts[ALICE].address
    assert alice.parent("alice@example.org") == "example.org"
    assert alice.parent("example.org") is None
    with pytest.raises(NotOwner):
        bob.assign("mallory@example.org", accounts[BOB].address)

    # publish all three key types
    material, kw = _publish_args(keys.ssh)
    r_ssh = alice.publish(
        "alice@example.org", material, purposes=Purpose.SSH_USER, proof=b"sshsig-proof", **kw
    )
    material, kw = _publish_args(keys.openpgp)
    r_pgp = alice.publish("alice@example.org", material, purposes="signing,encryption", **kw)
    material, kw = _publish_args(keys.x509)
    r_tls = ra.publish("web1.example.org", material, purposes=Purpose.TLS_SERVER, **kw)
    assert (r_ssh.index, r_pgp.index, r_tls.index) == (0, 1, 0)
    with pytest.raises(NotOwner):
        material, kw = _publish_args(keys.ssh2)
        bob.publish("alice@example.org", material, purposes="ssh-user", **kw)

    # lookup: verified, parsed, in index order
    recs = bob.lookup("alice@example.org")
    assert [r.index for r in recs] == [0, 1]
    assert [r.key_type for r in recs] == [KeyType.SSH, KeyType.OPENPGP]
    assert recs[0].status == "active" and recs[0].proof == b"sshsig-proof"
    assert recs[0].key is not None and recs[0].key.fingerprint == keys.fingerprint(keys.ssh)
    assert recs[1].key is not None and recs[1].key.fingerprint == keys.fingerprint(keys.openpgp)
    assert recs[0].commitment == commitment(KeyType.SSH, recs[0].material)
    assert recs[0].published_at is not None and recs[0].tx_hash == r_ssh.tx_hash
    assert [r.index for r in bob.lookup("alice@example.org", key_types=["openpgp"])] == [1]
    (tls,) = bob.lookup("web1.example.org", key_types=KeyType.X509)
    assert tls.purposes == Purpose.TLS_SERVER
    assert tls.key is not None and tls.key.fingerprint == keys.fingerprint(keys.x509)
    assert recs[0].to_dict()["key_type"] == "ssh"

    # the same key again is refused before anything is sent
    nonce = alice.w3.eth.get_transaction_count(accounts[ALICE].address)
    material, kw = _publish_args(keys.ssh)
    with pytest.raises(KeyAlreadyActive):
        alice.publish("alice@example.org", material, purposes="ssh-user", **kw)
    assert alice.w3.eth.get_transaction_count(accounts[ALICE].address) == nonce

    # rotate SSH, revoke OpenPGP
    material, kw = _publish_args(keys.ssh2)
    rot = alice.rotate("alice@example.org", 0, material, **kw)
    assert rot.index == 2
    alice.revoke("alice@example.org", 1, RevocationReason.KEY_COMPROMISE)
    with pytest.raises(KeyRevoked):
        alice.revoke("alice@example.org", 1, "key-compromise")
    material, kw = _publish_args(keys.ssh)
    with pytest.raises(KeyRevoked):
        alice.publish("alice@example.org", material, purposes="ssh-user", **kw)
    live = bob.lookup("alice@example.org")
    assert [(r.index, r.key_type) for r in live] == [(2, KeyType.SSH)]
    assert live[0].purposes == Purpose.SSH_USER  # rotation keeps the old purposes
    every = bob.lookup("alice@example.org", include_revoked=True)
    assert [(r.index, r.status, r.reason) for r in every] == [
        (0, "revoked", RevocationReason.SUPERSEDED),
        (1, "revoked", RevocationReason.KEY_COMPROMISE),
        (2, "active", None),
    ]
    assert every[0].revoked_at is not None

    # attest and withdraw
    policy = bytes(range(32))
    ra.attest("example.org", "alice@example.org", 2, policy_hash=policy)
    with pytest.raises(NotOwner):
        bob.attest("example.org", "alice@example.org", 2)
    (att,) = bob.lookup("alice@example.org", attestations=True)[0].attestations
    assert att.attester == "example.org" and att.policy_hash == policy
    ra.withdraw("example.org", "alice@example.org", 2)
    assert bob.lookup("alice@example.org", attestations=True)[0].attestations == ()

    # history: every event about the name, in chain order
    kinds = [e.kind for e in bob.history("alice@example.org")]
    assert kinds == [
        "assigned",  # a name under a parent is assigned; a top-level one registered
        "key-published",
        "key-published",
        "key-revoked",
        "key-published",
        "key-rotated",
        "key-revoked",
        "attested",
        "withdrawn",
    ]
    events = bob.history("example.org")
    assert events[0].kind == "registered" and events[0].data["label"] == "example.org"
    assert events[0].timestamp is not None
    assert events[0].to_dict()["kind"] == "registered"


# --------------------------------------------------------------------------- embedded chain


class _Tester:
    """eth-tester's snapshot / time helpers, as JSON-RPC calls to the embedded chain."""

    def __init__(self, chain: Any) -> None:
        self.chain = chain

    def take_snapshot(self) -> str:
        return str(self.chain.request("evm_snapshot", []))

    def revert_to_snapshot(self, snapshot: str) -> None:
        assert self.chain.request("evm_revert", [snapshot]) is True

    def time_travel(self, timestamp: int) -> None:
        self.chain.request("evm_mine", [int(timestamp)])

    def mine_blocks(self, n: int = 1) -> None:
        for _ in range(n):
            self.chain.request("evm_mine", [])


@dataclass
class EthTesterChain:
    """A registry on a fresh embedded chain (the name is historical: it was eth-tester)."""

    w3: Any
    tester: Any
    address: str
    accounts: dict[str, LocalAccount]
    loader: Any = None

    def registry(self, account: LocalAccount | None = None, **kw: Any) -> Registry:
        kw.setdefault("material_loader", self.loader)
        return Registry.from_web3(self.w3, account=account, registry_address=self.address, **kw)


@contextmanager
def lying(w3: Any, tamper: Callable[[str, Any, Any], Any]) -> Iterator[None]:
    """Route every JSON-RPC reply of ``w3``'s provider through ``tamper(method, params, reply)``
    (a new reply, or None to keep it): the endpoint lies to web3 and to proven reads alike."""
    provider = w3.provider
    inner, inner_batch = provider.make_request, provider.make_batch_request

    def request(method: Any, params: Any) -> Any:
        reply = inner(method, params)
        out = tamper(str(method), params, reply)
        return reply if out is None else out

    def batch(calls: Any) -> Any:
        replies = inner_batch(calls)
        outs = [tamper(str(m), p, r) for (m, p), r in zip(calls, replies, strict=True)]
        return [r if o is None else o for r, o in zip(replies, outs, strict=True)]

    provider.make_request, provider.make_batch_request = request, batch
    try:
        yield
    finally:
        del provider.make_request, provider.make_batch_request


@pytest.fixture(scope="module")
def _tester_chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EthTesterChain]:
    from registry.chain.embedded import EmbeddedChain

    chain = EmbeddedChain.open(tmp_path_factory.mktemp("client") / "chain.db")
    try:
        w3: Any = chain.web3
        funder = chain.dev_accounts[0]
        accounts = {who: Account.create() for who in (RA, ALICE, BOB)}
        for acct in accounts.values():
            tx = {"to": acct.address, "value": FUND_WEI, "gas": 21_000, "chainId": w3.eth.chain_id,
                  "nonce": w3.eth.get_transaction_count(funder.address),
                  "maxFeePerGas": 10**11, "maxPriorityFeePerGas": 10**9, "type": 2}
            w3.eth.send_raw_transaction(funder.sign_transaction(tx).raw_transaction)
        deployer = Registry.from_web3(w3, account=accounts[RA], registry_address=None)
        address = deployer.deploy()
        yield EthTesterChain(w3, _Tester(chain), address, accounts)
    finally:
        chain.close()
@pytest.fixture
def tester_chain(_tester_chain: EthTesterChain) -> Iterator[EthTesterChain]:
    """A freshly deployed registry on the embedded chain (snapshot reverted after each test)."""
    snapshot = _tester_chain.tester.take_snapshot()
    try:
        yield _tester_chain
    finally:
        _tester_chain.tester.revert_to_snapshot(snapshot)
        _tester_chain.loader = None


@pytest.fixture
def raw_chain(tester_chain: EthTesterChain) -> EthTesterChain:
    """As ``tester_chain``, with clients that accept raw test material (no key parsers)."""
    tester_chain.loader = raw_loader
    return tester_chain
