"""The hot routes answered before Starlette's routing give the very bytes the routed app gives.

HKP ``/pks/lookup``, ``/v1/keys/{fingerprint}`` and ``/v1/names/{name}`` are
answered by ``_GatewayApp`` before the middleware stack and the router; every
answer (found, not found, refused, revoked, expired, policy-failed, bad input)
must equal the routed app's: status, every header in order, body. Also: the
Sequoia armor writer gives the text of the Python one, and orjson the bytes of
the stdlib encoder.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.gateways import hkp
from registry.gateways.http import _dumps, create_app
from tests.gateways.conftest import World


def _call(app: Any, path: str, query: str = "", method: str = "GET") -> tuple[int, list[Any], bytes]:
    """One request through the ASGI app: (status, headers, body)."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
             "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
             "query_string": query.encode(), "headers": [(b"host", b"127.0.0.1")],
             "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 11371)}
    asyncio.run(app(scope, receive, send))
    start = sent[0]
    assert start["type"] == "http.response.start"
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], list(start["headers"]), body


def _requests(world: World) -> list[tuple[str, str]]:
    f = world.fpr
    reqs = []
    for who in ("alice", "bob", "carol", "dave", "erin", "joe"):
        reqs += [("/pks/lookup", f"op=get&options=mr&search=0x{f[who]}"),
                 ("/pks/lookup", f"op=get&search=0x{f[who][-16:]}"),
                 ("/pks/lookup", f"op=index&options=mr&search=0x{f[who]}"),
                 ("/v1/keys/" + f[who], ""), ("/v1/keys/0x" + f[who].lower(), "")]
    for name in ("alice@example.org", "bob@example.org", "carol@example.org", "dave@example.org",
                 "joe.doe@example.org", "web1.example.org", "nobody@example.org"):
        reqs += [("/pks/lookup", f"op=get&options=mr&search={name}"),
                 ("/pks/lookup", f"op=vindex&search=%3C{name}%3E"),
                 ("/v1/names/" + name, ""), ("/v1/names/" + name, "subkeys=1")]
    reqs += [
        ("/pks/lookup", ""), ("/pks/lookup", "op=stats"), ("/pks/lookup", "op=get"),
        ("/pks/lookup", "op=get&search=0x12345678"), ("/pks/lookup", "op=get&search=free+text"),
        ("/pks/lookup", "op=get&search=a&search=alice@example.org"),
        ("/pks/lookup", "op=get&search=%ff"), ("/pks/lookup", "op=get&search=" + "a" * 3000),
        ("/v1/keys/", ""), ("/v1/keys/zz", ""), ("/v1/keys/SHA256:abc/def", ""),
        ("/v1/names/Alice@Example.ORG", ""), ("/v1/names/not a name", ""),
        ("/v1/names/..", ""), ("/v1/names/x@", ""),
    ]
    return reqs


def test_hot_routes_answer_like_the_router(world: World) -> None:
    fast, routed = create_app(world.index), create_app(world.index, fast_path=False)
    hot, answered = fast.hot, []

    def counting(scope: Any) -> Any:
        response = hot(scope)
        answered.append(response is not None)
        return response

    fast.hot = counting
    seen = set()
    for path, query in _requests(world):
        a, b = _call(fast, path, query), _call(routed, path, query)
        assert a == b, (path, query)
        seen.add(a[0])
    assert sum(answered) > 60  # the hot path itself answered (not the router behind it)
    assert {200, 400, 404, 414, 501} <= seen  # found, refused and missing answers were compared


def test_hot_name_answers_are_the_readers_views(world: World) -> None:
    """``/v1/names/{name}`` on the hot path (each record's view built from its query row) gives
    the bytes of the view built from the reader's own lookups and records (``name_view_parts``):
    active, revoked, expired, policy-failed, SSH and X.509 records, an unknown name."""
    app = create_app(world.index)
    gw = app.state.gateway
    statuses = set()
    for name in ("alice@example.org", "bob@example.org", "carol@example.org", "dave@example.org",
                 "joe.doe@example.org", "web1.example.org", "example.org", "nobody@example.org"):
        status, headers, body = _call(app, "/v1/names/" + name)
        want = gw.name_view_parts(name)
        assert (status, body) == ((200, _dumps(want)) if want is not None else
                                  (404, b'{"error":"name not registered"}')), name
        assert (b"content-type", b"application/json") in headers
        statuses |= {r["status"] for r in (want or {}).get("records", [])}
    assert {"active", "revoked", "expired"} <= statuses


def test_hot_routes_serve_only_what_the_router_serves(world: World) -> None:
    app = create_app(world.index)
    status, headers, body = _call(app, "/pks/lookup", f"op=get&options=mr&search=0x{world.fpr['alice']}")
    assert status == 200 and body.startswith(b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n")
    assert (b"content-type", b"application/pgp-keys") in headers
    for who in ("carol", "dave", "erin"):  # expired, policy-failed, never published
        assert _call(app, "/pks/lookup", f"op=get&search=0x{world.fpr[who]}")[0] == 404
    # HEAD and other methods take the router (405 for POST to a GET route)
    assert _call(app, "/pks/lookup", "op=get&search=alice@example.org", "POST")[0] == 405


def test_hot_route_reports_an_unavailable_index(world: World, tmp_path: Any) -> None:
    app = create_app(tmp_path / "missing.sqlite")
    for path, query in (("/pks/lookup", "op=get&search=alice@example.org"),
                        ("/v1/keys/" + world.fpr["alice"], ""), ("/v1/names/alice@example.org", "")):
        status, headers, _ = _call(app, path, query)
        assert status == 503 and (b"retry-after", b"60") in headers


@pytest.mark.parametrize("size", [1, 2, 3, 47, 48, 49, 1729, 4096, 70001])
def test_sequoia_armor_is_the_python_armor(size: int) -> None:
    data = os.urandom(size)
    assert hkp.armor_certificates([data[: size // 2], data[size // 2:]]) == hkp._armor_py(data)


def test_empty_armor_uses_the_python_writer() -> None:
    assert hkp.armor_certificates([]) == hkp._armor_py(b"")


@pytest.mark.parametrize("data", [
    {"name": "älice@example.org", "n": [1, -2, 2**63 - 1], "ok": True, "none": None},
    {"text": "tab\t nl\n cr\r bs\b ff\f ctl\x01\x1f del\x7f quote\" back\\ ls\u2028 ps\u2029 😀"},
    {"big": 2**70},                 # beyond orjson's integers: the stdlib encoder
    [], {}, "", 0,
])
def test_json_bytes_are_the_stdlib_bytes(data: Any) -> None:
    assert _dumps(data) == json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


@pytest.mark.parametrize("body,status,media_type", [
    (b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n", 200, "application/pgp-keys"),
    (b'{"error":"x"}', 404, "application/json"),
    (b"", 200, "text/plain; charset=utf-8"),
    ("<p>é</p>".encode(), 503, "text/html; charset=utf-8"),
])
def test_answer_headers_are_starlettes(body: bytes, status: int, media_type: str) -> None:
    from starlette.responses import Response

    from registry.gateways.http import _COMMON_HEADERS, _Answer, _raw

    ours = _Answer(body, status, _raw(_COMMON_HEADERS), media_type.encode())
    theirs = Response(body, status, headers=_COMMON_HEADERS, media_type=media_type)
    assert (ours.status_code, ours.raw_headers, ours.body) == (
        theirs.status_code, theirs.raw_headers, theirs.body)
    ours.headers["retry-after"] = "60"  # the 503 handler adds a header to the answer
    assert ours.raw_headers[-1] == (b"retry-after", b"60")


@pytest.mark.parametrize("query", [
    b"", b"op=get&search=0xAB", b"op=get&&search=a@b.org&", b"op&search=", b"a=1&a=2", b"=x",
    b"op=get&search=%3Ca%40b.org%3E", b"search=a+b", b"x=\xe9\xff", b"x=%ff%e9", b"a=b=c",
])
def test_query_params_are_starlettes(query: bytes) -> None:
    from starlette.requests import Request

    from registry.gateways.http import _query_params

    scope = {"type": "http", "query_string": query, "headers": []}
    assert _query_params(scope) == dict(Request(scope).query_params)


@pytest.mark.parametrize("seconds", [1, 59, 951782400, 2**31, 2**32, 253402300799, 253402300800,
                                     2**63 - 1, 1.5, 0.5, -1, -86400 * 365])
def test_iso_text_is_datetimes(seconds: float) -> None:
    """The views' times (``registry.index._json.iso``, now without a datetime for positive
    seconds) read as datetime wrote them."""
    from datetime import UTC, datetime

    from registry.index._json import _MAX_SECONDS, iso

    when = datetime.fromtimestamp(min(int(seconds), _MAX_SECONDS), UTC)
    assert iso(seconds) == when.strftime("%Y-%m-%dT%H:%M:%SZ")


@settings(max_examples=1000, deadline=None)
@given(st.one_of(st.integers(min_value=1, max_value=2**40), st.floats(min_value=0.5, max_value=2.6e11)))
def test_iso_text_is_datetimes_for_any_second(seconds: float) -> None:
    """``iso`` (remembered days, the time of day from a table) writes every second as datetime does."""
    from datetime import UTC, datetime

    from registry.index._json import _MAX_SECONDS, iso

    when = datetime.fromtimestamp(min(int(seconds), _MAX_SECONDS), UTC)
    assert iso(seconds) == iso(seconds) == when.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("text", [None, "[]", '["alice@example.org", "Bob <bob@example.org>"]',
                                  '["\\u00e9l\\u00e8ne@example.org"]', '["\\ud800 lone"]',
                                  '["caf\u00e9", "\U0001f600"]'])
def test_identities_read_as_the_index_reads_them(text: str | None) -> None:
    from registry.gateways._queries import identities
    from registry.index._snapshot import _identities

    assert identities(text) == _identities(text)


def test_the_commitment_check_hashes_what_the_contract_hashes() -> None:
    """``intact`` (the key type byte and the material fed to Keccak in two pieces) agrees
    with ``registry.keys.commitment``; one flipped bit or another key type fails it."""
    from registry.gateways._queries import Row
    from registry.gateways.http import intact
    from registry.keys import commitment

    material = bytes(range(256)) * 6
    flipped = material[:-1] + bytes([material[-1] ^ 1])
    for key_type in (1, 2, 3):
        good = commitment(key_type, material)
        assert intact(Row("a@example.org", 0, key_type, "active", good, material, 0, "pass"))
        assert not intact(Row("a@example.org", 0, key_type, "active", good, flipped, 0, "pass"))
        other = 1 + key_type % 3
        assert not intact(Row("a@example.org", 0, other, "active", good, material, 0, "pass"))


def _guard_reference(raw_path: bytes, qs: bytes) -> tuple[int, str] | None:
    """The guard's path and query checks as written before its ASCII shortcuts (the reference;
    its length and Content-Length checks, before and after these, did not change)."""
    import re
    from urllib.parse import unquote_to_bytes

    try:
        path = unquote_to_bytes(raw_path).decode("utf-8")
        query = unquote_to_bytes(qs).decode("utf-8")
    except UnicodeDecodeError:
        return 400, "request is not valid UTF-8 after percent-decoding"
    if re.search(r"[\x00-\x1f\x7f]", path) or "\x00" in query:
        return 400, "control characters in the request path or query"
    if "\\" in path or set(path.split("/")) & {".", ".."}:
        return 400, "invalid path"
    return None


_GUARD_PIECES = [b"", b"a", b"/", b".", b"..", b"%", b"%2e", b"%00", b"\x00", b"\x01", b"\x1f",
                 b"\x7f", b"%7f", b"%7F", b" ", b"\\", b"%5c", b"\xc3\xa9", b"\xc3", b"%c3%a9",
                 b"%ff", b"\xff", b"\xe2\x80\xa8", b"\xc2\xa0", b"\xc2\x85", b"=", b"&", b"+"]


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(_GUARD_PIECES), max_size=8),
       st.lists(st.sampled_from(_GUARD_PIECES), max_size=8))
def test_the_guard_refuses_what_it_refused(path: list[bytes], query: list[bytes]) -> None:
    """The guard (ASCII paths and queries checked without decoding or a regex) gives the
    answer of its reference for any mix of controls, escapes, non-UTF-8 and non-ASCII."""
    from registry.gateways.http import _Guard

    raw_path, qs = b"/" + b"".join(path), b"".join(query)
    scope = {"type": "http", "path": raw_path.decode("latin-1"), "raw_path": raw_path,
             "query_string": qs, "headers": [(b"host", b"a")]}
    assert _Guard._problem(scope) == _guard_reference(raw_path, qs)


def _search_reference(search: str) -> tuple[str, str] | tuple[str, int]:
    """``parse_search`` by its general path only (no shortcut for ``0x`` + a fingerprint)."""
    try:
        return hkp._parse_search(search.strip())
    except hkp.RequestError as exc:
        return str(exc), exc.status


def _search(search: str) -> tuple[str, str] | tuple[str, int]:
    try:
        return hkp.parse_search(search)
    except hkp.RequestError as exc:
        return str(exc), exc.status


@settings(max_examples=2000, deadline=None)
@given(st.sampled_from(["", "0x", "0X", "0x0x", " 0x", "="]),
       st.text("0123456789abcdefABCDEFgxX :@", min_size=0, max_size=70),
       st.sampled_from(["", " ", "\t", "\n"]))
def test_the_fingerprint_shortcut_is_the_general_parse(prefix: str, body: str, space: str) -> None:
    for search in (prefix + body + space, space + prefix + body, prefix + body[:40],
                   prefix + body[:64], prefix + (body * 3)[:64]):
        assert _search(search) == _search_reference(search), search


@pytest.mark.parametrize("options", [None, "", "mr", "MR", " mr", "mr,exact", "x, Mr ", "x", ",", "mrx"])
@pytest.mark.parametrize("exact", [None, "", "on", "ON", " on ", "off"])
@pytest.mark.parametrize("op", ["get", "GET", " get", "index"])
def test_lookup_options_read_as_before(options: str | None, exact: str | None, op: str) -> None:
    params = {"op": op, "search": "0x" + "AB" * 20}
    if options is not None:
        params["options"] = options
    if exact is not None:
        params["exact"] = exact
    q = hkp.parse_lookup(params)
    assert q.op == op.strip().lower()
    assert q.machine_readable == ("mr" in {o.strip().lower() for o in (options or "").split(",")})
    assert q.exact == ((exact or "").strip().lower() == "on")


def _lookup(parse: Any, *args: Any) -> Any:
    try:
        return parse(*args)
    except hkp.RequestError as exc:
        return str(exc), exc.status


_QUERY_PIECES = ["op=get", "&", "options=mr", "search=", "0x", "0X", "A1" * 20, "ff" * 32, "a" * 64,
                 "=", "%40", "%3C", "+", " ", "u42445", "@", "bench.example", "Joe.Doe", "-", "_",
                 ".", "x" * 60, "<", ">", "exact=on", "op=index", "options=MR", "\xe9", "9"]


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(_QUERY_PIECES), max_size=10))
def test_the_plain_get_shortcut_is_the_general_parse(pieces: list[str]) -> None:
    """Where the raw query string is read without decoding it (the usual op=get), the query is
    what the decoded parameters give to parse_lookup; other strings are left to it."""
    from registry.gateways.http import _query_params

    for qs in ("".join(pieces), "op=get&options=mr&search=" + "".join(pieces)):
        raw = qs.encode("utf-8")
        q = hkp.parse_plain_get(raw)
        if q is not None:
            assert q == _lookup(hkp.parse_lookup, _query_params({"query_string": raw})), qs


@pytest.mark.parametrize("qs", [
    "op=get&options=mr&search=0x" + "A1" * 20, "op=get&options=mr&search=0X" + "a1" * 32,
    "op=get&options=mr&search=u42445@bench.example", "op=get&options=mr&search=Joe.Doe@Example.ORG",
    "op=get&options=mr&search=a@b", "op=get&options=mr&search=.a-@b-c.d"])
def test_usual_gets_take_the_shortcut(qs: str) -> None:
    from registry.gateways.http import _query_params

    q = hkp.parse_plain_get(qs.encode())
    assert q is not None and q == hkp.parse_lookup(_query_params({"query_string": qs.encode()}))


@pytest.mark.parametrize("qs", [
    "op=get&search=0x" + "A1" * 20, "op=get&options=mr&search=0x" + "A1" * 19,
    "op=get&options=mr&search=a%40b.org", "op=get&options=mr&search=a+b@c.org",
    "op=get&options=mr&search=%3Ca@b.org%3E", "op=get&options=mr&search=a@b.org&exact=on",
    "op=get&options=mr&search=a@-b.org", "op=get&options=mr&search=0x" + "A1" * 8])
def test_other_queries_take_the_general_parse(qs: str) -> None:
    assert hkp.parse_plain_get(qs.encode()) is None


def _name_outcome(fn: Any, text: str) -> str:
    from registry.errors import InvalidName

    try:
        return str(fn(text))
    except InvalidName as exc:
        return f"InvalidName: {exc}"


def _check_plain_name(text: str) -> None:
    from registry._grammar import _normal_parts
    from registry.gateways.http import _normal, _plainly_normal
    from registry.index._query import valid_name, validate_name

    if _plainly_normal(text):  # a subset of what the grammar reads as in normal form
        assert _normal_parts(text) is not None and valid_name(text), text
    assert _name_outcome(_normal, text) == _name_outcome(validate_name, text), text


def test_plain_names_are_the_grammars_normal_names_for_every_short_text() -> None:
    """Every text of up to 5 characters over the characters that matter at a name's edges."""
    import itertools

    alphabet = "a0.-_+@"
    for size in range(6):
        for chars in itertools.product(alphabet, repeat=size):
            _check_plain_name("".join(chars))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(["a", "z", "0", "9", "x", "xn--", ".", "-", "_", "+", "@", "A",
                                 "é", " ", "..", "0x", "0x1f", "123", "b" * 20, "c" * 63]),
                max_size=12))
def test_plain_names_are_the_grammars_normal_names(pieces: list[str]) -> None:
    """Longer texts: lengths near the 64-character local part and 63-character domain,
    numeric last labels, ``xn--``, upper case and non-ASCII (the grammar's path)."""
    _check_plain_name("".join(pieces))
    _check_plain_name("u1@" + "".join(pieces))
    _check_plain_name("".join(pieces) + "@bench.example")


@pytest.mark.parametrize("text", ["u42445@bench.example", "bench.example", "example", "a@b",
                                  "a@b@c.example", "@example.org", "x@", "älice@exämple.org",
                                  "127.0.0.1", "a.b.c.d@e.f.g", "joe.doe@example.org"])
def test_a_views_node_is_the_names_node(text: str) -> None:
    """The JSON view's ``node`` (a person's hashed here onto its domain's) is ``raw_namehash``."""
    from registry.gateways.http import _node_hex
    from registry.names import raw_namehash

    assert _node_hex(text) == "0x" + bytes(raw_namehash(text)).hex()
    assert _node_hex(text) == "0x" + bytes(raw_namehash(text)).hex()  # (the domain's remembered)
