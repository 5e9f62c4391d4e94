"""The JSON API and the plain-text feeds (.keys, certs.pem)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from registry.keys import load_ssh_public_keys, load_x509_chain
from tests.gateways.conftest import World

pytestmark = pytest.mark.tools


def test_name_lists_records_with_status_verdict_and_attestations(http: Any, world: World) -> None:
    r = http.get("/v1/names/Alice@Example.org")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert body["name"] == "alice@example.org" and body["parent"] == "example.org"
    assert "policy" in body["served_rule"]
    pgp, ssh = body["records"]
    assert pgp["key_type"] == "openpgp" and pgp["fingerprint"] == world.fpr["alice"]
    assert pgp["status"] == "active" and pgp["served"] is True
    assert pgp["purposes"] == ["signing", "encryption"]
    assert pgp["policy"]["verdict"] == "pass" and pgp["policy"]["failing_lints"] == []
    assert pgp["attestations"][0]["attester"] == "example.org"
    assert ssh["key_type"] == "ssh" and ssh["fingerprint"].startswith("SHA256:")
    assert "subkeys" not in pgp
    full = http.get("/v1/names/alice@example.org?subkeys=1").json()
    assert len(full["records"][0]["subkeys"]) == 1


@pytest.mark.parametrize("name,status,served,verdict", [
    ("bob@example.org", "revoked", False, "pass"),
    ("carol@example.org", "expired", False, "pass"),
    ("dave@example.org", "active", False, "fail"),
])
def test_unserved_records_are_listed_with_the_reason(http: Any, name: str, status: str,
                                                     served: bool, verdict: str) -> None:
    rec = http.get(f"/v1/names/{name}").json()["records"][0]
    assert (rec["status"], rec["served"], rec["policy"]["verdict"]) == (status, served, verdict)
    if verdict == "fail":
        assert rec["policy"]["failing_lints"] == ["binding.name"]
    if status == "revoked":
        assert rec["revoked_at"].endswith("Z") and rec["reason"] == "key-compromise"


def test_history(http: Any) -> None:
    r = http.get("/v1/names/bob@example.org/history")
    assert r.status_code == 200
    events = r.json()["events"]
    assert [e["kind"] for e in events] == ["assigned", "key-published", "key-revoked"]
    assert events[2]["data"]["reason"] == "key-compromise"  # names, never codes
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", e["timestamp"]) for e in events)


def test_key_to_names(http: Any, world: World) -> None:
    r = http.get(f"/v1/keys/{world.fpr['alice'].lower()}")
    assert r.status_code == 200
    assert r.json()["names"] == [{"name": "alice@example.org", "index": 0, "status": "active",
                                  "key_type": "openpgp", "served": True}]
    bob = http.get(f"/v1/keys/0x{world.fpr['bob']}").json()["names"]
    assert bob[0]["status"] == "revoked" and bob[0]["served"] is False
    assert http.get(f"/v1/keys/{world.fpr['erin']}").status_code == 404
    assert http.get("/v1/keys/not-a-fingerprint").status_code == 400


@pytest.mark.parametrize("encode", [False, True])
def test_ssh_key_to_names(http: Any, world: World, encode: bool) -> None:
    # SSH fingerprints are base64 and often hold "/" and "+": both raw and %-encoded work
    from urllib.parse import quote

    fp = http.get("/v1/names/alice@example.org").json()["records"][1]["fingerprint"]
    r = http.get(f"/v1/keys/{quote(fp, safe='') if encode else fp}")
    assert r.status_code == 200 and r.json()["names"][0]["name"] == "alice@example.org"
    assert r.json()["fingerprint"] == fp
    slashed = "SHA256:" + "ab/cd+" * 7 + "x"  # same shape, unknown key: a 404 from the handler
    r = http.get(f"/v1/keys/{slashed}")
    assert r.status_code == 404 and r.json()["error"] == "no name holds this key"


def test_dot_keys_feed(http: Any, world: World) -> None:
    r = http.get("/alice@example.org.keys")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.text == world.ssh_line + "\n"
    assert len(load_ssh_public_keys(r.text)) == 1
    assert http.get("/bob@example.org.keys").text == ""           # registered, no SSH keys
    assert http.get("/nobody@example.org.keys").status_code == 404


def test_certs_pem(http: Any, world: World) -> None:
    r = http.get("/v1/names/web1.example.org/certs.pem")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/x-pem-file"
    assert r.text == world.x509_pem
    assert len(load_x509_chain(r.text)) == 1
    assert http.get("/v1/names/alice@example.org/certs.pem").text == ""


@pytest.mark.parametrize("path,status", [
    ("/v1/names/nobody@example.org", 404),
    ("/v1/names/nobody@example.org/history", 404),
    ("/v1/names/Not A Name", 400),
    ("/v1/names/a..b", 400),
    ("/v1/nothing", 404),
])
def test_api_errors_are_short_json(http: Any, path: str, status: int) -> None:
    r = http.get(path)
    assert r.status_code == status
    assert r.headers["content-type"] == "application/json"
    assert 0 < len(r.json()["error"]) < 200


def test_status(http: Any) -> None:
    st = http.get("/v1/status").json()
    assert st["chain_id"] == 1337 and st["records"] == 7 and "path" not in st


def test_lookup_time_policy_recheck(world: World) -> None:
    """With ``policy=`` keys are re-checked at lookup (same verdicts as sync here)."""
    import httpx

    from registry.gateways.http import create_app
    from tests.gateways.conftest import ServerThread

    with ServerThread(create_app(world.index, policy="default")) as srv, \
            httpx.Client(base_url=srv.url, timeout=10) as c:
        assert c.get(f"/pks/lookup?op=get&search=0x{world.fpr['alice']}").status_code == 200
        assert c.get(f"/pks/lookup?op=get&search=0x{world.fpr['dave']}").status_code == 404
        rec = c.get("/v1/names/dave@example.org").json()["records"][0]
        assert rec["policy"]["verdict"] == "fail" and "binding.name" in rec["policy"]["failing_lints"]


def test_missing_or_stale_index_is_503(world: World, tmp_path: Any) -> None:
    import httpx

    from registry.gateways.http import create_app
    from tests.gateways.conftest import ServerThread

    with ServerThread(create_app(tmp_path / "none.sqlite")) as a, \
            ServerThread(create_app(world.index, max_staleness=1)) as b, \
            httpx.Client(timeout=10) as c:
        r = c.get(a.url + "/v1/names/alice@example.org")
        assert r.status_code == 503 and "unavailable" in r.json()["error"]
        assert c.get(a.url + "/pks/lookup?op=get&search=a@b.org").status_code == 503
        # the fixture's index was synced an hour of test time ago at most; 1 s is too little
        import time

        time.sleep(1.2)
        assert c.get(b.url + "/v1/names/alice@example.org").status_code == 503


def test_serve_runs_uvicorn_in_a_process(world: World) -> None:
    """``serve()`` (what ``keyanchor serve`` calls) answers on loopback and stops on SIGTERM."""
    import subprocess
    import sys
    import time

    import httpx

    from registry.errors import IndexUnavailable
    from registry.gateways.http import serve
    from tests.conftest import free_port

    with pytest.raises(IndexUnavailable):
        serve(world.tmp / "missing.sqlite", "127.0.0.1", free_port())
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from registry.gateways.http import serve;"
         " serve(sys.argv[1], '127.0.0.1', int(sys.argv[2]))", str(world.index), str(port)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/pks/lookup?op=get&search=0x{world.fpr['alice']}",
                              timeout=5)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        assert r.status_code == 200 and "server" not in r.headers
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_material_altered_at_rest_is_never_served(world: World, tmp_path: Any) -> None:
    """A bit flipped in a record's stored material (index.sqlite tampered with): the record
    no longer hashes to its commitment, so HKP, WKD and the API stop serving it."""
    import shutil
    import sqlite3

    import httpx

    from registry.gateways.http import create_app
    from tests.gateways.conftest import ServerThread

    index = tmp_path / "index.sqlite"
    shutil.copyfile(world.index, index)
    fpr = world.fpr["alice"]
    with ServerThread(create_app(index)) as srv, httpx.Client(base_url=srv.url, timeout=10) as c:
        assert c.get(f"/pks/lookup?op=get&search=0x{fpr}").status_code == 200  # the control
        with sqlite3.connect(index) as conn:
            (material,) = conn.execute(
                "SELECT r.material FROM records r JOIN names n ON n.id = r.name_id"
                " WHERE n.name = 'alice@example.org' AND r.idx = 0").fetchone()
            altered = bytearray(material)
            altered[len(altered) // 2] ^= 0x01
            conn.execute("UPDATE records SET material = ? WHERE idx = 0 AND name_id ="
                         " (SELECT id FROM names WHERE name = 'alice@example.org')",
                         (bytes(altered),))
    with ServerThread(create_app(index)) as srv, httpx.Client(base_url=srv.url, timeout=10) as c:
        assert c.get(f"/pks/lookup?op=get&search=0x{fpr}").status_code == 404
        assert c.get("/pks/lookup?op=get&search=alice@example.org").status_code == 404
        pgp, ssh = c.get("/v1/names/alice@example.org").json()["records"]
        assert (pgp["served"], pgp["intact"]) == (False, False)
        assert (ssh["intact"], ssh["served"]) == (True, True)  # the untouched record still is
