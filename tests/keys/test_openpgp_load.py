"""What an OpenPGP load checks at once and what it describes on first use.

The load runs :func:`scan_certificate` (every check of :func:`walk_certificate`,
a summary of the signatures) and describes key flags, subkeys, signatures and
packets from the material when they are first read. These tests hold the two
to the same verdicts, the record to the same values and behaviour, and show
which hostile packets Sequoia drops and which the scan refuses.
"""

from __future__ import annotations

import copy
import dataclasses
import pickle
import random
import warnings
from datetime import UTC, datetime
from functools import partial

import pytest

from registry.errors import KeyFormatError
from registry.keys._openpgp import _user_ids, load_openpgp_cert, load_openpgp_certs
from registry.keys._pgp_packets import (
    CertStructure,
    Signature,
    iter_packet_spans,
    parse_key_packet,
    scan_certificate,
    walk_certificate,
)
from registry.keys._pgp_scan import load_summary

SELF_CERTS = (0x10, 0x11, 0x12, 0x13)


def _generate(v6: bool = False, uid: str = "Tess <Tess@Example.org>", suite: str = "Cv25519"
              ) -> bytes:
    import pysequoia

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        profile = pysequoia.Profile.RFC9580 if v6 else pysequoia.Profile.RFC4880
        return bytes(pysequoia.Tsk.generate(
            uid, profile=profile, cipher_suite=getattr(pysequoia.CipherSuite, suite)
        ).extract_certificate())


@pytest.fixture(scope="module")
def certs() -> list[bytes]:
    return [_generate(), _generate(v6=True), _generate(uid="no email")]


def _packet(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 192:
        return bytes([0xC0 | tag, n]) + body
    n -= 192
    return bytes([0xC0 | tag, (n >> 8) + 192, n & 0xFF]) + body


def _sub(kind: int, data: bytes) -> bytes:
    return bytes([len(data) + 1, kind]) + data


def _v4_sig(sig_type: int, hashed: bytes, unhashed: bytes = b"", pk: int = 22,
            data: bytes = b"\x00\x08\xff\x00\x08\xff", version: int = 4) -> bytes:
    return (bytes([version, sig_type, pk, 10]) + len(hashed).to_bytes(2, "big") + hashed
            + len(unhashed).to_bytes(2, "big") + unhashed + b"\xab\xcd" + data)


def _outcome(fn: object, data: bytes) -> tuple[str, str]:
    try:
        fn(data)  # type: ignore[operator]
    except Exception as exc:  # the verdicts compared: class and one-line message
        return type(exc).__name__, str(exc)
    return "ok", ""


# --------------------------------------------------------------------------- same verdicts


def _mutations(material: bytes, rng: random.Random, count: int) -> list[bytes]:
    spans = list(iter_packet_spans(material))
    out = []
    for _ in range(count):
        data = bytearray(material)
        _tag, start, body, end, _new = rng.choice(spans)
        for _ in range(rng.randrange(1, 3)):
            where = rng.random()
            if where < 0.4 and end > body:  # the first octets: versions, types, lengths
                data[rng.randrange(body, min(end, body + 12))] = rng.choice(
                    [0, 1, 3, 4, 5, 6, 7, 9, 16, 32, 33, 0x80, 0x9F, 0xC0, 0xE0, 0xFF])
            elif where < 0.8 and end > body:
                data[rng.randrange(body, end)] = rng.randrange(256)
            else:
                data[start] = rng.randrange(256)  # the packet header
        if rng.random() < 0.1:
            del data[rng.randrange(body, end + 1):end]  # cut a body short
        out.append(bytes(data))
    return out


def test_scan_refuses_exactly_what_the_walk_refuses(certs: list[bytes]) -> None:
    """3,000 mutated certificates: the scan and the full walk give the same verdict
    (the same error class and message, or both accept)."""
    rng = random.Random(15)
    verdicts = set()
    for material in certs:
        for data in _mutations(material, rng, 1000):
            scan, walk = _outcome(scan_certificate, data), _outcome(walk_certificate, data)
            assert scan == walk
            verdicts.add(scan[1].split(":")[0][:40])
    assert len(verdicts) > 10  # the mutations reach many different checks


def _reframe(material: bytes, form: str) -> bytes:
    """``material`` with every packet header rewritten in one form: old format with 1-, 2-
    or 4-octet lengths (the shortest that fits for "old"), new format with 5-octet lengths."""
    out = b""
    for tag, _start, body, end, _new in iter_packet_spans(material):
        n = end - body
        if form == "new5":
            out += bytes([0xC0 | tag, 0xFF]) + n.to_bytes(4, "big")
        else:
            ltype = {"old2": 1, "old4": 2}.get(form, 0 if n < 256 else 1 if n < 65536 else 2)
            out += bytes([0x80 | tag << 2 | ltype]) + n.to_bytes(1 << ltype, "big")
        out += material[body:end]
    return out


def test_every_header_form_reads_the_same(certs: list[bytes]) -> None:
    """Old-format headers with 1-, 2- and 4-octet lengths and new-format 5-octet lengths:
    the same packets, the same scan summary and the same loaded certificate."""
    for material in certs:
        loaded = load_openpgp_cert(material)
        for form in ("old", "old2", "old4", "new5"):
            data = _reframe(material, form)
            assert data != material
            assert [(t, data[b:e]) for t, _s, b, e, _n in iter_packet_spans(data)] == [
                (t, material[b:e]) for t, _s, b, e, _n in iter_packet_spans(material)]
            assert scan_certificate(data) == scan_certificate(material)
            assert load_openpgp_cert(data).to_dict() == loaded.to_dict()


def test_times_after_2038_read_as_unsigned() -> None:
    """Key and signature creation times with the top bit set read as unsigned 32-bit
    values (a build that compiled the scan to C ints would read them negative)."""
    key = bytes([4, 0xFF, 0xFF, 0xFF, 0xFE, 27]) + bytes([9] * 32)  # any point not of small order
    assert parse_key_packet(6, key).created == datetime.fromtimestamp(0xFFFFFFFE, UTC)
    sig = _v4_sig(0x13, _sub(2, b"\xff\xff\xff\xf0"))
    summary = scan_certificate(_packet(6, key) + _packet(13, b"a@example.org") + _packet(2, sig))
    assert summary.primary.created == datetime.fromtimestamp(0xFFFFFFFE, UTC)
    assert summary.user_ids == (("a@example.org", False, ((0x13, 0xFFFFFFF0, True),)),)


def test_loads_emit_no_warnings_and_leave_the_filters_alone(certs: list[bytes]) -> None:
    """The load calls Sequoia without a warnings guard (``catch_warnings`` swaps the
    process's filters, which is not thread-safe): over valid, revoked, expired, keyring
    and refused inputs, Sequoia's calls emit no warning and the filters stay as they were."""
    import pysequoia

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tsk = pysequoia.Tsk.generate("Rex <rex@example.org>")
        cert = tsk.extract_certificate()
        revoked = bytes(cert) + bytes(cert.revoke(tsk.certifier()))
    rng = random.Random(17)
    inputs = [*certs, revoked, b"".join(certs), *(_mutations(certs[0], rng, 200))]
    expired_sig = _v4_sig(0x13, _sub(2, b"\x00\x00\x00\x10") + _sub(9, b"\x00\x00\x00\x01"))
    inputs.append(_packet(6, bytes([4, 0, 0, 0, 1, 27]) + bytes(32)) + _packet(13, b"a@b.example")
                  + _packet(2, expired_sig))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        filters = list(warnings.filters)
        verdicts = {_outcome(load_openpgp_certs, data)[0] for data in inputs}
        assert warnings.filters == filters
        assert load_openpgp_cert(revoked).revoked
    assert caught == [] and "ok" in verdicts and "KeyFormatError" in verdicts


def test_scan_of_the_split_spans_is_the_scan_of_the_bytes(certs: list[bytes]) -> None:
    """Given the packets a walk of the same bytes found (as the loader's split hands
    them over), the scan gives the same summary or the same error as walking itself."""
    rng = random.Random(16)
    compared = 0
    for material in certs:
        for data in [material, *_mutations(material, rng, 500)]:
            try:
                spans = list(iter_packet_spans(data))
            except KeyFormatError:
                continue  # no spans to hand over: the loader never does, either
            assert (_outcome(partial(scan_certificate, spans=spans), data)
                    == _outcome(scan_certificate, data))
            if _outcome(scan_certificate, data)[0] == "ok":
                assert scan_certificate(data, spans) == scan_certificate(data)
            compared += 1
    assert compared > 1000


def test_load_when_the_canonical_form_differs_from_the_input(certs: list[bytes]) -> None:
    """A marker packet in front, a keyring, a duplicated signature and a reordered
    certificate: Sequoia's form is not the input, so the material is walked again,
    and each record is the one its canonical form gives."""
    material = certs[0]
    spans = list(iter_packet_spans(material))
    marker = _packet(10, b"PGP")
    dup = material[: spans[2][1]] + material[spans[1][1] : spans[2][1]] + material[spans[1][1] :]
    # the user ID and its signature after the subkeys: Sequoia puts them back in front
    uid_end = spans[4][1]
    moved = material[: spans[2][1]] + material[uid_end:] + material[spans[2][1] : uid_end]
    reference = load_openpgp_cert(material)
    for data in (marker + material, dup, moved):
        cert = load_openpgp_cert(data)
        assert cert.material == material and cert == reference
        assert cert.to_dict() == reference.to_dict()
    both = load_openpgp_certs(certs[1] + marker + moved)
    assert [c.material for c in both] == [certs[1], material]
    assert both[1].to_dict() == reference.to_dict()
    # a packet the scan refuses is refused wherever the canonical form came from
    data = bytearray(marker + moved)
    sub = next(s for s in iter_packet_spans(bytes(data)) if s[0] == 14)
    data[sub[2] + 5] = 99
    with pytest.raises(KeyFormatError, match="unsupported OpenPGP public key algorithm 99"):
        load_openpgp_cert(bytes(data))


def _reference_user_ids(structure: CertStructure) -> list[tuple[str, bool, bool]]:
    """(text, revoked, self-signed) per user ID, from parsed signatures: the rule the
    loader applied to the full walk before it read a summary."""
    primary = structure.primary

    def by_primary(sig: Signature) -> bool:
        if sig.issuer_fingerprint is not None:
            return sig.issuer_fingerprint == primary.fingerprint
        return sig.issuer_key_id is None or sig.issuer_key_id == primary.key_id

    out = []
    for comp in structure.user_ids:
        if comp.attribute:
            continue
        own = [s for s in comp.signatures
               if (s.type in SELF_CERTS or s.type == 0x30) and by_primary(s)]
        epoch = datetime.fromtimestamp(0, UTC)
        newest = max(own, key=lambda s: s.created or epoch, default=None)
        out.append((comp.value, newest is not None and newest.type == 0x30,
                    any(s.type in SELF_CERTS for s in own)))
    return out


def test_signature_summaries_follow_the_issuer_and_creation_rules(certs: list[bytes]) -> None:
    """Random user ID signatures with awkward subpackets (issuer fingerprints of one
    octet or of another key, 7-octet key IDs, issuers only in the unhashed area,
    creation times of the wrong size, critical bits, equal times, v3): the user IDs
    the loader builds from the scan match the rule applied to the parsed signatures."""
    rng = random.Random(9580)
    material = certs[0]
    primary = walk_certificate(material).primary
    fpr, kid = bytes.fromhex(primary.fingerprint), bytes.fromhex(primary.key_id)
    head = material[: next(s for s in iter_packet_spans(material) if s[0] != 6)[1]]
    pool = [
        lambda: _sub(2, rng.choice([1_600_000_000, 1_700_000_000, 0]).to_bytes(4, "big")),
        lambda: _sub(0x82, (1_650_000_000).to_bytes(4, "big")),
        lambda: _sub(2, b"\x01\x02\x03"),
        lambda: _sub(33, b"\x04" + fpr),
        lambda: _sub(0xA1, b"\x04" + fpr),
        lambda: _sub(33, b"\x04" + bytes(20)),
        lambda: _sub(33, b"\x04"),
        lambda: _sub(16, kid),
        lambda: _sub(16, bytes(8)),
        lambda: _sub(16, kid[:7]),
        lambda: _sub(25, b"\x01"),
    ]
    checked = 0
    for _ in range(400):
        packets = [head]
        for u in range(rng.randrange(1, 4)):
            packets.append(_packet(13, f"U{u} <u{u}@example.org>".encode()))
            for _ in range(rng.randrange(0, 4)):
                if rng.random() < 0.1:  # v3: no subpackets, no issuer named
                    body = (bytes([3, 5, rng.choice([0x13, 0x30])])
                            + rng.randrange(1 << 31).to_bytes(4, "big") + kid
                            + bytes([22, 10]) + b"\xab\xcd\x00\x08\xff")
                else:
                    hashed = b"".join(rng.choice(pool)() for _ in range(rng.randrange(0, 4)))
                    unhashed = b"".join(rng.choice(pool)() for _ in range(rng.randrange(0, 3)))
                    body = _v4_sig(rng.choice([0x10, 0x13, 0x30, 0x18]), hashed, unhashed)
                packets.append(_packet(2, body))
        data = b"".join(packets)
        expected = _reference_user_ids(walk_certificate(data))
        got = [(u.value, u.revoked, u.self_signed) for u in _user_ids(scan_certificate(data))]
        assert got == expected
        checked += sum(1 for _, revoked, _ in expected if revoked)
    assert checked > 20  # revoked user IDs were among the cases


def test_self_signature_rule_and_user_ids_as_the_load_reads_them(certs: list[bytes]) -> None:
    """Random signatures on the key, on user IDs and on a user attribute (every type a
    self-signature could be mistaken for, by the primary key, by another key or naming
    no issuer): the load's summary (``load_summary``, compiled in the wheel) refuses
    exactly the certificates the rule applied to the parsed
    signatures refuses (a direct-key or key revocation signature, or a certification of a
    user ID or attribute, by the primary key), with the fingerprint in the message, and
    otherwise reads the user IDs that rule gives."""
    rng = random.Random(15)
    material = certs[0]
    structure = walk_certificate(material)
    primary = structure.primary
    fpr, kid = bytes.fromhex(primary.fingerprint), bytes.fromhex(primary.key_id)
    head = material[: next(s for s in iter_packet_spans(material) if s[0] != 6)[1]]
    issuers = [lambda: _sub(33, b"\x04" + fpr), lambda: _sub(16, kid),
               lambda: _sub(33, b"\x04" + bytes(20)), lambda: _sub(16, bytes(8)), lambda: b""]
    types = [0x10, 0x11, 0x12, 0x13, 0x18, 0x19, 0x1F, 0x20, 0x28, 0x30]

    def sigs(most: int) -> list[bytes]:
        return [_packet(2, _v4_sig(rng.choice(types),
                                   _sub(2, rng.randrange(1 << 31).to_bytes(4, "big")),
                                   rng.choice(issuers)()))
                for _ in range(rng.randrange(most + 1))]

    def by_primary(sig: Signature) -> bool:
        if sig.issuer_fingerprint is not None:
            return sig.issuer_fingerprint == primary.fingerprint
        return sig.issuer_key_id is None or sig.issuer_key_id == primary.key_id

    outcomes = set()
    for _ in range(300):
        packets = [head, *sigs(2)]
        for u in range(rng.randrange(0, 3)):
            if rng.random() < 0.2:
                packets.append(_packet(17, b"\x05\x01" + bytes(4)))
            else:
                packets.append(_packet(13, f"U{u} <u{u}@example.org>".encode()))
            packets += sigs(3)
        data = b"".join(packets)
        walked = walk_certificate(data)
        expected = (any(s.type in (0x1F, 0x20) and by_primary(s) for s in walked.key_signatures)
                    or any(s.type in SELF_CERTS and by_primary(s)
                           for comp in walked.user_ids for s in comp.signatures))
        outcome = _outcome(partial(load_summary, spans=None), data)
        assert (outcome[0] == "ok") == expected, outcome
        if expected:
            assert load_summary(data)[6] == _reference_user_ids(walked)
        else:
            assert outcome == ("KeyFormatError", f"OpenPGP certificate {primary.fingerprint} has"
                               " no self-signature (truncated or stripped export?)")
        outcomes.add(expected)
    assert outcomes == {True, False}


def _mpi(value: int) -> bytes:
    return value.bit_length().to_bytes(2, "big") + value.to_bytes((value.bit_length() + 7) // 8, "big")


def test_key_packets_of_every_algorithm() -> None:
    """Each algorithm's key fields: decoded with the right name and size, every cut
    short body and every body with a trailing octet refused with the module's message."""
    bodies: list[tuple[bytes, tuple[str, ...], int]] = []
    for v6, suite, names in ((False, "Cv25519", ("ed25519", "cv25519")),
                             (False, "P256", ("ecdsa-p256", "ecdh-p256")),
                             (False, "RSA2k", ("rsa", "rsa")),
                             (True, "Cv25519", ("ed25519", "x25519")),
                             (True, "Cv448", ("ed448", "x448"))):
        data = _generate(v6=v6, suite=suite)
        keys = [data[b:e] for tag, _, b, e, _n in iter_packet_spans(data) if tag in (6, 14)]
        assert len(keys) >= 2
        bits = 2048 if suite == "RSA2k" else (448 if suite == "Cv448" else 256)
        bodies += [(key, names, bits) for key in keys]
        assert {parse_key_packet(14, key).algorithm for key in keys} == set(names)
    created = (1_700_000_000).to_bytes(4, "big")
    p, q, g, y = (1 << 1023) | 5, (1 << 159) | 3, 7, 11
    bodies.append((b"\x04" + created + b"\x11" + b"".join(map(_mpi, (p, q, g, y))), ("dsa",), 1024))
    bodies.append((b"\x04" + created + b"\x10" + b"".join(map(_mpi, (p, g, y))), ("elgamal",), 1024))
    for body, algorithms, bits in bodies:
        key = parse_key_packet(14, body)
        assert key.algorithm in algorithms and key.bits == bits
        for cut in range(len(body)):
            with pytest.raises(KeyFormatError) as info:
                parse_key_packet(14, body[:cut])
            assert str(info.value) in (
                "malformed OpenPGP data: truncated key packet",
                "malformed OpenPGP data: key material length does not match the packet")
        with pytest.raises(KeyFormatError, match=r"trailing bytes|length does not match"):
            parse_key_packet(14, body + b"\x00")
    with pytest.raises(KeyFormatError, match="public key algorithm 100"):
        parse_key_packet(14, b"\x04" + created + b"\x64" + _mpi(5))
    with pytest.raises(KeyFormatError, match="reserved curve OID length"):
        parse_key_packet(14, b"\x04" + created + b"\x16\x00")


# --------------------------------------------------------------------------- hostile signatures


@pytest.mark.parametrize(
    "name, body",
    [
        ("eddsa without signature data", _v4_sig(0x10, b"", data=b"")),
        ("v5 signature", _v4_sig(0x10, b"", version=5)),
        ("version 7", _v4_sig(0x10, b"", version=7)),
        ("empty unhashed subpacket", _v4_sig(0x10, b"", b"\x00")),
        ("partial length in a subpacket area", _v4_sig(0x10, b"", b"\xe0\x10")),
        ("malformed embedded signature", _v4_sig(0x10, b"", _sub(32, b"\x04\x19"))),
    ],
)
def test_malformed_third_party_signatures_are_dropped_by_sequoia(name: str, body: bytes) -> None:
    """A certification by another key is kept unverified, so its packet reaches the scan
    only if Sequoia parsed it: these it does not, and drops."""
    material = _generate()
    at = list(iter_packet_spans(material))[3][1]  # after the user ID's self-signature
    issuer = _sub(33, b"\x04" + bytes(range(20)))
    body = body[:4] + (len(issuer)).to_bytes(2, "big") + issuer + body[6:]
    cert = load_openpgp_cert(material[:at] + _packet(2, body) + material[at:])
    assert cert.material == material
    assert len(cert.signatures) == len(walk_certificate(material).signatures)


def test_packets_sequoia_keeps_are_checked_by_the_scan() -> None:
    material = _generate()
    at = list(iter_packet_spans(material))[3][1]
    issuer = _sub(33, b"\x04" + bytes(range(20)))
    # an unknown public key algorithm: Sequoia keeps whatever follows as its data, even nothing
    empty = _v4_sig(0x10, issuer, pk=100, data=b"")
    with pytest.raises(KeyFormatError) as info:
        load_openpgp_cert(material[:at] + _packet(2, empty) + material[at:])
    assert str(info.value) == "malformed OpenPGP data: signature packet without signature data"
    # a subkey of an unknown algorithm, or with its fields cut short: Sequoia keeps it
    subkey = next(s for s in iter_packet_spans(material) if s[0] == 14)
    for octet, at_, message in ((99, 5, "unsupported OpenPGP public key algorithm 99"),
                                (0xFF, 6, "malformed OpenPGP data: reserved curve OID length")):
        data = bytearray(material)
        data[subkey[2] + at_] = octet
        with pytest.raises(KeyFormatError) as info:
            load_openpgp_cert(bytes(data))
        assert str(info.value) == message
    # an unknown critical subpacket is described, not refused: the policy layer's to judge
    critical = _v4_sig(0x10, issuer + bytes([3, 0x80 | 100, 1, 2]))
    cert = load_openpgp_cert(material[:at] + _packet(2, critical) + material[at:])
    assert [s.critical_subpackets for s in cert.signatures if s.type == 0x10] == [(100,)]
    assert cert.identities == ("tess@example.org",)


# --------------------------------------------------------------------------- the record


def test_described_fields_behave_as_fields(certs: list[bytes]) -> None:
    """Equality, hashing, repr, pickling and copies are the same whether or not the
    lazily described fields were read first."""
    for data in certs:
        fresh, read = load_openpgp_cert(data), load_openpgp_cert(data)
        text = repr(read)  # reads key_flags and subkeys
        assert read.to_dict() == load_openpgp_cert(data).to_dict()
        assert fresh == read and hash(fresh) == hash(read)
        for clone in (pickle.loads(pickle.dumps(fresh)), copy.deepcopy(fresh),
                      pickle.loads(pickle.dumps(read))):
            assert clone == read and repr(clone) == text
            assert clone.to_dict() == read.to_dict()
        assert repr(fresh) == text
        assert "material" not in text and data.hex()[:16] not in text
        changed = dataclasses.replace(fresh, revoked=True)
        assert changed.revoked and changed.subkeys == read.subkeys and changed == read
        with pytest.raises(dataclasses.FrozenInstanceError):
            fresh.user_ids = ()  # type: ignore[misc]
        with pytest.raises((AttributeError, TypeError)):  # a property (TypeError: Python 3.11)
            fresh.key_flags = 0  # type: ignore[misc]
        assert fresh.key_flags == read.key_flags


# --------------------------------------------------------------------------- refused at load


@pytest.fixture(scope="module")
def key_pair() -> tuple[bytes, bytes]:
    import pysequoia

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tsk = pysequoia.Tsk.generate("Hal <hal@example.org>", profile=pysequoia.Profile.RFC4880)
        return bytes(tsk.extract_certificate()), bytes(tsk)


_SECRET = ("PrivateKeyError", "this is an OpenPGP secret key; export the public key"
           " (`gpg --export --armor KEYID`) and give that instead")


@pytest.mark.parametrize("name, expected", [
    ("trailing junk", ("KeyFormatError", "malformed OpenPGP data: invalid packet header at offset {n}")),
    ("secret key", _SECRET),
    ("secret key after a certificate", _SECRET),
    ("truncated last packet", ("KeyFormatError", "malformed OpenPGP data: truncated signature packet")),
    ("v5 key", ("UnsupportedKeyType", "unsupported OpenPGP key version 5 (v4 and v6 are accepted;"
                " LibrePGP v5 keys are not)")),
    ("v3 subkey", ("UnsupportedKeyType", "unsupported OpenPGP key version 3 (v4 and v6 are accepted;"
                   " other versions are not)")),
    ("partial body length", ("KeyFormatError", "malformed OpenPGP data: partial body lengths are"
                             " not allowed in a certificate")),
    ("bad armor", ("KeyFormatError", "armored OpenPGP block has invalid base64")),
    ("literal data packet", ("KeyFormatError", "invalid OpenPGP certificate: Malformed Cert:"
                             " Additional packets found, is this a keyring?")),
])
def test_hostile_input_is_refused_at_load_with_one_line(
    key_pair: tuple[bytes, bytes], name: str, expected: tuple[str, str]
) -> None:
    """The messages main gave before the load was split into check and description."""
    import base64

    cert, secret = key_pair
    data = {
        "trailing junk": cert + b"\x00junk",
        "secret key": secret,
        "secret key after a certificate": cert + secret,
        "truncated last packet": cert[:-3],
        "v5 key": bytes([0xC6, 10, 5]) + bytes(9),
        "v3 subkey": cert + _packet(14, bytes([3]) + bytes(9)),
        "partial body length": cert + b"\xc2\xe1" + bytes(2),
        "bad armor": (b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n" + base64.b64encode(cert)[:-5]
                      + b"!!!\n-----END PGP PUBLIC KEY BLOCK-----\n"),
        "literal data packet": cert + b"\xcb\x03abc",
    }[name]
    got = _outcome(load_openpgp_cert, data)
    assert got == (expected[0], expected[1].format(n=len(cert)))
    assert secret.hex()[-64:] not in got[1] and "\n" not in got[1]
