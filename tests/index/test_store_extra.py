"""A row's ``extra`` (the event fields its columns cannot give back) is the same by the store's
shortcut as by building and comparing the shown fields, for any event's fields."""

from __future__ import annotations

from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from registry.index._lookups import extra_of, published_fields, registered_fields
from registry.index._store import (
    Event,
    _extra,
    _h,
    _published_extra,
    _registered_extra,
    _shown_fields,
)

_VALUES = st.one_of(st.none(), st.booleans(), st.integers(min_value=-5, max_value=2**70),
                    st.binary(max_size=33), st.text(max_size=5), st.sampled_from(["0x", "0x00"]))
_KEYS = st.sampled_from(["index", "key_type", "commitment", "durable", "label", "owner",
                         "parent", "person", "name", "extra_field", "node", "material"])


def _published() -> dict[str, Any]:
    return {"node": b"\x01" * 32, "index": 3, "key_type": 1, "purposes": 2,
            "commitment": b"\x07" * 32, "valid_from": 0, "valid_until": 2**64 - 1,
            "durable": False, "material": b"m", "proof": b""}


def _rebuilt(d: dict[str, Any]) -> dict[str, object]:
    return published_fields(3, b"\x07" * 32, 1, 2, 0, 2**64 - 1, False)


def test_a_published_event_as_the_contract_emits_it_needs_no_extra() -> None:
    ev = Event("KeyPublished", 1, 0, b"", b"\x01" * 32, 0, _published())
    assert _extra(ev, _rebuilt(ev.data)) is None


def test_a_registered_event_as_the_contract_emits_it_needs_no_extra() -> None:
    data = {"node": b"\x02" * 32, "parent": b"\x00" * 32, "owner": "0x" + "ab" * 20,
            "label": "example.org", "person": False, "name": "example.org"}
    ev = Event("NameRegistered", 1, 0, b"", b"\x02" * 32, 0, data)
    rebuilt = registered_fields("example.org", None, b"\x00" * 32, False, "0x" + "ab" * 20)
    assert _extra(ev, rebuilt) is None


@given(st.dictionaries(_KEYS, _VALUES, max_size=4), st.lists(_KEYS, max_size=3))
def test_extra_equals_the_built_comparison(changes: dict[str, Any], dropped: list[str]) -> None:
    data = {**_published(), **changes}
    for key in dropped:
        data.pop(key, None)
    ev = Event("KeyPublished", 1, 0, b"", b"\x01" * 32, 0, data)
    try:
        want = extra_of(_shown_fields(ev), _rebuilt(data))
    except TypeError:
        return  # a value the store refuses either way
    assert _extra(ev, _rebuilt(data)) == want


def _registered() -> dict[str, Any]:
    return {"node": b"\x02" * 32, "parent": b"\x03" * 32, "owner": "0x" + "ab" * 20,
            "label": "u1", "person": True, "name": "u1@bench.org"}


def _event(kind: str, fields: dict[str, Any], changes: dict[str, Any], dropped: list[str],
           hashed: str) -> Event | None:
    """``fields`` with ``changes`` and without ``dropped`` as a ``kind`` event; None when the
    ``hashed`` field is no longer bytes or text (the decoder gives bytes; ``bytes(n)`` of an int
    n would be n zero bytes)."""
    data = {**fields, **changes}
    for key in dropped:
        data.pop(key, None)
    if not isinstance(data.get(hashed), bytes | str):
        return None
    return Event(kind, 1, 0, b"", bytes(fields["node"]), 0, data)


@given(st.dictionaries(_KEYS, _VALUES, max_size=4), st.lists(_KEYS, max_size=3))
@example({}, [])
@example({"durable": 0}, [])
@example({"index": True}, [])
@example({"commitment": "0x" + "07" * 32}, [])
@example({"extra_field": 1}, [])
@example({}, ["proof"])
def test_a_published_row_stores_what_building_and_comparing_would(
        changes: dict[str, Any], dropped: list[str]) -> None:
    """The store's shortcut for the events the contract emits gives the built comparison's
    ``extra`` (None for the event as emitted; else what makes history show the event's fields)."""
    ev = _event("KeyPublished", _published(), changes, dropped, "commitment")
    if ev is None:
        return
    data = ev.data
    try:  # the row as the store makes it from the event's fields
        idx = int(data["index"])
        row = (int(data["key_type"]), int(data["purposes"]), _h(data["commitment"]),
               int(data["valid_from"]), int(data["valid_until"]), int(bool(data["durable"])))
        rebuilt = published_fields(idx, row[2], row[0], row[1], row[3], row[4], row[5])
        want = extra_of(_shown_fields(ev), rebuilt)
    except (KeyError, TypeError, ValueError):
        return  # an event the store refuses either way
    assert _published_extra(ev, idx, row) == want
    if not changes and not dropped:
        assert want is None


@given(st.dictionaries(_KEYS, _VALUES, max_size=4), st.lists(_KEYS, max_size=3),
       st.sampled_from([None, "bench.org", "other.org"]))
@example({}, [], "bench.org")
@example({"label": "u2"}, [], "bench.org")
@example({"person": 1}, [], "bench.org")
@example({}, ["label"], "bench.org")
@example({"parent": "0x" + "03" * 32}, [], "bench.org")
def test_a_registered_row_stores_what_building_and_comparing_would(
        changes: dict[str, Any], dropped: list[str], parent_name: str | None) -> None:
    ev = _event("NameRegistered", _registered(), changes, dropped, "parent")
    if ev is None:
        return
    data = ev.data
    try:
        rebuilt = registered_fields(str(data["name"]), parent_name, _h(data["parent"]),
                                    bool(data["person"]), str(data["owner"]))
        want = extra_of(_shown_fields(ev), rebuilt)
    except (KeyError, TypeError, ValueError):
        return
    assert _registered_extra(ev, rebuilt) == want
    if not changes and not dropped and parent_name == "bench.org":
        assert want is None
