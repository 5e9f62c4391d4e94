"""Sync's one-pass event decoder and the shortcuts of its hot path give exactly what the
reference code gives: the ABI decoder's values and layout.event_hash's digest hash for every
event of the contract (random values, malformed data refused alike), decode_fields of
encode_fields, and the JSON-RPC hex check."""

from __future__ import annotations

import random
import re
from typing import Any

import eth_abi
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.chain import layout
from registry.chain._rpc import Log, hex_data
from registry.errors import ChainError, VerificationError
from registry.index._evdata import decode_fields, encode_fields, shown_fields
from registry.index._sync import _Decoder

_DEC = _Decoder()


def _value(kind: str, rnd: random.Random) -> Any:
    if kind.startswith("uint"):
        return rnd.choice([0, 1, (1 << int(kind[4:])) - 1, rnd.getrandbits(int(kind[4:]))])
    if kind == "bool":
        return rnd.random() < 0.5
    if kind == "address":
        return "0x" + rnd.randbytes(20).hex()
    if kind == "bytes32":
        return rnd.randbytes(32)
    if kind == "bytes":
        return rnd.randbytes(rnd.choice([0, 1, 31, 32, 33, 200]))
    if kind == "string":
        return rnd.choice(["", "alice", "ünïcødé", "x" * 70])
    raise AssertionError(kind)


def _topic(kind: str, value: Any) -> bytes:
    return eth_abi.encode([kind], [value])


def _log(event: Any, topic0: bytes, values: dict[str, Any], block: int,
         data: bytes | None = None, topics: tuple[bytes, ...] | None = None) -> Log:
    if topics is None:
        topics = (topic0, *(_topic(k, values[n]) for n, k in event.indexed))
    if data is None:
        data = eth_abi.encode([k for _, k in event.data], [values[n] for n, _ in event.data])
    return Log("0x" + "11" * 20, topics, data, block, b"\x22" * 32, 0, b"\x33" * 32, False)


def _reference(log: Log) -> tuple[str, dict[str, Any], bytes]:
    """The ABI decoder (eth_abi-checked) and layout.event_hash, as sync did before."""
    decoded = _DEC.decode(log)
    assert decoded is not None
    kind, data = decoded
    return kind, data, layout.event_hash(kind, data, log.block)


def test_every_event_has_the_one_pass_decoder() -> None:
    assert set(_DEC._fast) == set(_DEC.by_topic)


@pytest.mark.parametrize("seed", range(40))
def test_one_pass_decoder_equals_the_reference(seed: int) -> None:
    rnd = random.Random(seed)
    for topic0, event in _DEC.by_topic.items():
        values = {n: _value(k, rnd) for n, k in (*event.indexed, *event.data)}
        log = _log(event, topic0, values, rnd.getrandbits(40))
        got = _DEC.decode_hashed(log)
        assert got == _reference(log)
        assert [type(v) for v in got[1].values()] == [type(v) for v in _reference(log)[1].values()]
        assert list(got[1]) == list(_reference(log)[1])  # same field order


def _refused(log: Log) -> None:
    with pytest.raises(VerificationError, match="malformed"):
        _DEC.decode_hashed(log)
    with pytest.raises(VerificationError, match="malformed"):
        _reference(log)


def _alike(log: Log) -> None:
    """Both decode it to the same, or both refuse it."""
    try:
        want: Any = _reference(log)
    except VerificationError:
        want = None
    if want is None:
        _refused(log)
    else:
        assert _DEC.decode_hashed(log) == want


@pytest.mark.parametrize("seed", range(10))
def test_one_pass_decoder_refuses_what_the_reference_refuses(seed: int) -> None:
    rnd = random.Random(seed)
    for topic0, event in _DEC.by_topic.items():
        values = {n: _value(k, rnd) for n, k in (*event.indexed, *event.data)}
        good = _log(event, topic0, values, 7)
        data = good.data
        if data:
            for cut in {1, 31, 32, 33, rnd.randrange(1, len(data) + 1)}:
                _alike(_log(event, topic0, values, 7, data=data[:-cut]))
            _refused(_log(event, topic0, values, 7, data=data[:32 * len(event.data) - 1]))
        _refused(_log(event, topic0, values, 7, topics=good.topics[:-1]))
        _refused(_log(event, topic0, values, 7, topics=(*good.topics, b"\x00" * 32)))
        for i, (_name, kind) in enumerate(event.data):
            word = slice(32 * i, 32 * i + 32)
            if kind.startswith("uint") and kind != "uint256":
                bad = data[:word.start] + (1 << int(kind[4:])).to_bytes(32, "big") + data[word.stop:]
                _refused(_log(event, topic0, values, 7, data=bad))
            elif kind in ("bool", "address"):
                bad = data[:word.start] + b"\x01" + data[word.start + 1:]
                _refused(_log(event, topic0, values, 7, data=bad))
            elif kind in ("bytes", "string"):
                bad = data[:word.start] + (len(data) + 1).to_bytes(32, "big") + data[word.stop:]
                _refused(_log(event, topic0, values, 7, data=bad))
                if kind == "string":
                    odd = dict(values, **{_name: "é"})
                    raw = _log(event, topic0, odd, 7).data.replace("é".encode(), b"\xff\xfe")
                    _refused(_log(event, topic0, odd, 7, data=raw))


_FIELD = st.sampled_from(["index", "owner", "material", "label", "durable", "x-unknown"])
_VALUE = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(1 << 63), max_value=1 << 63),
                   st.binary(max_size=40), st.text(max_size=20),
                   st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex()),
                   st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex().upper()))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_FIELD, _VALUE, max_size=6))
def test_shown_fields_is_decode_of_encode(data: dict[str, Any]) -> None:
    want = decode_fields(encode_fields(data))
    got = shown_fields(data)
    assert got == want
    assert {k: type(v) for k, v in got.items()} == {k: type(v) for k, v in want.items()}


def test_shown_fields_refuses_what_encode_refuses() -> None:
    with pytest.raises(TypeError):
        encode_fields({"index": 1.5})
    with pytest.raises(TypeError):
        shown_fields({"index": 1.5})


_HEX_RE = re.compile(r"0x[0-9a-fA-F]*")


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(alphabet="0xX123abcdefABCDEFg \t\n\u0663", max_size=12),
                 st.binary(max_size=8).map(lambda b: "0x" + b.hex()), st.integers(), st.none()))
def test_hex_data_accepts_exactly_even_0x_hex(value: Any) -> None:
    ok = isinstance(value, str) and _HEX_RE.fullmatch(value) is not None and len(value) % 2 == 0
    if ok:
        assert hex_data(value) == bytes.fromhex(value[2:])
    else:
        with pytest.raises(ChainError):
            hex_data(value)


_HEXISH = st.one_of(st.sampled_from(["0x", "0x0", "0x00", "0x1_0", "0X10", "0x 1", "0x\u0663",
                                     "0xg0", "", "12", "0xAbC0"]),
                    st.binary(max_size=33).map(lambda b: "0x" + b.hex()),
                    st.integers(0, 1 << 70).map(hex), st.none(), st.integers(), st.booleans(),
                    st.lists(st.just("0x00"), max_size=2))
_H32 = st.binary(min_size=32, max_size=32).map(lambda b: "0x" + b.hex())
_VALID = st.fixed_dictionaries(
    {"address": st.just("0x" + "Ab" * 20), "topics": st.lists(_H32, max_size=4),
     "data": st.binary(max_size=70).map(lambda b: "0x" + b.hex()),
     "blockNumber": st.integers(0, 1 << 70).map(hex), "logIndex": st.integers(0, 99).map(hex),
     "blockHash": _H32, "transactionHash": _H32},
    optional={"removed": st.booleans()})
_FIELDS = ["address", "topics", "data", "blockNumber", "logIndex", "blockHash",
           "transactionHash", "removed"]


@st.composite
def _entry(draw: Any) -> Any:
    """A valid eth_getLogs entry, most often with one field broken, dropped or odd."""
    entry = dict(draw(_VALID))
    how = draw(st.sampled_from(["valid", "replace", "drop", "topic"]))
    key = draw(st.sampled_from(_FIELDS))
    if how == "replace":
        entry[key] = draw(_HEXISH)
    elif how == "drop":
        entry.pop(key, None)
    elif how == "topic":
        entry["topics"] = [*entry["topics"], draw(_HEXISH)]
    return entry


@settings(max_examples=600, deadline=None)
@given(st.one_of(_entry(), _HEXISH, st.dictionaries(st.text(max_size=3), _HEXISH, max_size=3)))
def test_parse_logs_fast_path_accepts_exactly_what_the_checked_parse_accepts(entry: Any) -> None:
    from registry.chain._rpc import _log_checked, parse_logs

    try:
        want: Any = _log_checked(0, entry)
    except ChainError as exc:
        with pytest.raises(ChainError, match=re.escape(str(exc))):
            parse_logs([entry])
    else:
        assert parse_logs([entry]) == [want]
