"""The armor checksum (registry.keys._crc24) against the bit-at-a-time definition of RFC 9580 6.1."""

from __future__ import annotations

import random

import pytest

from registry.keys._crc24 import crc24


def reference_crc24(data: bytes) -> int:
    """RFC 9580 section 6.1.1's sample code, bit by bit."""
    crc = 0xB704CE
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF


def test_check_value_of_the_crc_catalogue() -> None:
    # CRC-24/OPENPGP: check = 0x21CF02 over "123456789"
    assert crc24(b"123456789") == 0x21CF02


def test_empty_input_is_the_initial_value() -> None:
    assert crc24(b"") == 0xB704CE == reference_crc24(b"")


@pytest.mark.parametrize("length", [*range(1, 40), 63, 64, 65, 127, 128, 1219, 4096, 4097, 20_000])
def test_matches_the_reference_at_every_length(length: int) -> None:
    rng = random.Random(length)
    for _ in range(3):
        data = rng.randbytes(length)
        assert crc24(data) == reference_crc24(data)


def test_all_ones_and_all_zeros() -> None:
    for length in (1, 2, 3, 100, 5000):
        for fill in (b"\x00", b"\xff"):
            assert crc24(fill * length) == reference_crc24(fill * length)


def test_bytes_bytearray_and_memoryview_agree() -> None:
    data = random.Random(1).randbytes(777)
    assert crc24(data) == crc24(bytearray(data)) == crc24(memoryview(data)) == reference_crc24(data)


def test_a_changed_bit_changes_the_checksum() -> None:
    data = bytearray(random.Random(2).randbytes(1000))
    before = crc24(data)
    for pos in (0, 1, 500, 999):
        data[pos] ^= 0x01
        assert crc24(data) != before
        data[pos] ^= 0x01
    assert crc24(data) == before
