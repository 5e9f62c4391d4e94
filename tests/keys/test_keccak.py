"""The Keccak-256 keyanchor hashes with (safe-pysha3's) agrees with pycryptodome's."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from registry.keys._keccak import commitment_matches, keccak256


def reference(data: bytes) -> bytes:
    """pycryptodome's Keccak-256 (registry.names.keccak256 starts on the pure one)."""
    from Crypto.Hash import keccak

    return bytes(keccak.new(digest_bits=256, data=bytes(data)).digest())


def test_known_vectors() -> None:
    assert keccak256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    assert keccak256(b"abc").hex() == "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"


def test_every_length_around_the_block_size() -> None:
    for n in range(0, 3 * 136 + 2):
        data = bytes((i * 7 + n) & 0xFF for i in range(n))
        assert keccak256(data) == reference(data), n


@settings(max_examples=200)
@given(st.binary(max_size=2048))
def test_random_inputs(data: bytes) -> None:
    assert keccak256(data) == reference(data)
    assert keccak256(bytearray(data)) == keccak256(memoryview(data))


def test_the_name_layer_hashes_with_the_same_keccak() -> None:
    """registry.names.keccak256 (namehash, commitments, sync) is this one, not a second copy."""
    from registry import names

    assert names.keccak256 is keccak256
    inputs = [bytes((i * 13 + n) & 0xFF for i in range(n)) for n in range(0, 700, 7)]
    assert [names.keccak256(d) for d in inputs] == [reference(d) for d in inputs]


def test_commitment_matches_the_contract_rule() -> None:
    from registry.keys import commitment

    material = b"\x00\x00\x00\x0bssh-ed25519" + bytes(36)
    assert commitment_matches(1, material, commitment(1, material))
    assert not commitment_matches(2, material, commitment(1, material))
    assert not commitment_matches(1, material + b"x", commitment(1, material))


def test_without_safe_pysha3_it_falls_back_to_pycryptodome() -> None:
    """The same digests when safe-pysha3's C module cannot be imported (a fresh interpreter)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    probe = ("import sys; sys.modules['_pysha3'] = None\n"
             "from registry.keys._keccak import keccak256\n"
             "assert 'Crypto.Hash.keccak' in sys.modules\n"
             "print(keccak256(b'abc').hex())")
    repo = str(Path(__file__).resolve().parents[2])
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": repo})
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == reference(b"abc").hex()
