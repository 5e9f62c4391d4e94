"""What a user expects of the CLI (issue 13's list), one test per behaviour.

Each test runs ``cli.main.main`` in process on its own embedded chain (see
``tests/cli/conftest.py``), or the real console entry point in a subprocess
where a terminal or the process boundary matters.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import Result, Run
from tests.cli.test_commands import dev_address, ok, one_line_error, ssh_key, ssh_proof
from tests.conftest import require_tool

ROOT = Path(__file__).resolve().parents[2]


def x509_pair(env: Path, name: str, *, eku: str = "clientAuth", days: int = 90,
              san: str | None = None) -> tuple[Path, Path]:
    """A P-256 certificate made with openssl (key, cert)."""
    openssl = require_tool("openssl")
    key, cert = env / f"{name}.key", env / f"{name}.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", str(days), "-subj", f"/CN={name}",
                    "-addext", "basicConstraints=critical,CA:FALSE",
                    "-addext", f"subjectAltName={san or 'email:' + name}",
                    "-addext", "keyUsage=critical,digitalSignature",
                    "-addext", f"extendedKeyUsage={eku}"],
                   check=True, capture_output=True, timeout=60)
    return key, cert


def x509_proof(run: Run, env: Path, name: str, key: Path, cert: Path) -> Path:
    statement = env / f"{cert.stem}.statement"
    ok(run("prove", name, cert, "--out", statement))
    sig = Path(f"{statement}.sig")
    subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(key), "-out", str(sig),
                    str(statement)], check=True, capture_output=True, timeout=60)
    return sig


def rsa1024_ssh(env: Path) -> Path:
    """An SSH RSA key of 1,024 bits: the default profile refuses it (ssh.rsa_bits)."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    path = env / "weak.pub"
    path.write_bytes(key.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH)
                     + b" weak\n")
    return path


def no_trailing_spaces(text: str) -> None:
    bad = [line for line in text.splitlines() if line != line.rstrip()]
    assert not bad, bad


# --------------------------------------------------------------------------- publish


@pytest.mark.tools
def test_publish_time_policy_judges_the_purposes_stored(run: Run, env: Path) -> None:
    """An X.509 certificate published without --purpose is stored as tls-server: the check
    judges it as that (and refuses a client certificate), not as 'no purpose'."""
    ok(run("name", "register", "example.org"))
    key, cert = x509_pair(env, "example.org")
    sig = x509_proof(run, env, "example.org", key, cert)
    one_line_error(run("key", "publish", "example.org", cert, "--proof", sig),
                   "policy default refuses", "as tls-server", "x509.eku")
    assert json.loads(ok(run("lookup", "example.org", "--json")).out) == []
    done = json.loads(ok(run("key", "publish", "example.org", cert, "--proof", sig,
                             "--purpose", "tls-client", "--json")).out)
    assert done["purposes"] == ["tls-client"] and done["policy"]["passed"] is True
    (rec,) = json.loads(ok(run("lookup", "example.org", "--json")).out)
    assert rec["purposes"] == ["tls-client"]


@pytest.mark.tools
def test_publish_without_a_proof_is_refused_naming_the_prove_command(run: Run, env: Path) -> None:
    ok(run("name", "register", "example.org"))
    pub = ssh_key(env / "id_ed25519")
    refused = run("key", "publish", "example.org", pub)
    one_line_error(refused, "needs a proof of possession",
                   f"keyanchor prove example.org {pub} --out statement.txt", "--no-proof")
    assert json.loads(ok(run("lookup", "example.org", "--json")).out) == []
    # said explicitly: published, and a proof given is used
    done = json.loads(ok(run("key", "publish", "example.org", pub, "--no-proof", "--json")).out)
    assert done["action"] == "published"
    # a policy that leaves binding.proof out allows it too
    (env / "noproof.toml").write_text('exclude = ["binding.proof"]\n')
    other = ssh_key(env / "id_other")
    ok(run("key", "publish", "example.org", other, "--policy", env / "noproof.toml"))
    one_line_error(run("key", "publish", "example.org", other, "--proof", pub, "--no-proof"),
                   "not both", code=2)


@pytest.mark.tools
def test_a_key_already_live_is_left_alone_and_a_revoked_one_never_returns(run: Run,
                                                                          env: Path) -> None:
    ok(run("name", "register", "example.org"))
    pub = ssh_key(env / "id")
    sig = ssh_proof(run, "example.org", pub, env / "statement.txt")
    ok(run("key", "publish", "example.org", pub, "--proof", sig))
    again = ok(run("key", "publish", "example.org", pub, "--proof", sig))
    assert "already published under example.org as record 0 (active); nothing sent" in again.out
    ok(run("key", "revoke", "example.org", "0", "--reason", "key-compromise"))
    one_line_error(run("key", "publish", "example.org", pub, "--proof", sig),
                   "was revoked under example.org", "can never come back")
    one_line_error(run("key", "revoke", "example.org", "0"), "already revoked")


# --------------------------------------------------------------------------- lookup formats


@pytest.mark.tools
def test_key_formats_hand_out_what_the_gateways_serve(run: Run, env: Path) -> None:
    """authorized-keys / known-hosts / armor / pem: active keys passing the default profile;
    --no-policy or --all lift the policy; when the policy hides everything, say so."""
    ok(run("name", "register", "example.org"))
    weak = rsa1024_ssh(env)
    ok(run("key", "publish", "example.org", weak, "--no-proof", "--force"))
    hidden = run("lookup", "example.org", "--format", "authorized-keys")
    one_line_error(hidden, "1 active ssh key", "default policy refuses it", "ssh.rsa_bits",
                   "keyanchor check example.org", "--no-policy")
    assert "--all" not in hidden.err
    for flag in ("--no-policy", "--all"):
        lines = ok(run("lookup", "example.org", "--format", "authorized-keys", flag)).out
        assert lines.startswith("ssh-rsa ") and lines.count("\n") == 1

    good = ssh_key(env / "id")
    ok(run("key", "publish", "example.org", good, "--proof",
           ssh_proof(run, "example.org", good, env / "s.txt")))
    served = ok(run("lookup", "example.org", "--format", "authorized-keys")).out
    assert served.count("\n") == 1 and served.startswith("ssh-ed25519 ")
    # a revoked key is never an authorized key; the message points at --all
    ok(run("key", "revoke", "example.org", "1"))
    ok(run("key", "revoke", "example.org", "0"))
    gone = run("lookup", "example.org", "--format", "authorized-keys")
    one_line_error(gone, "no active ssh key", "2 revoked, expired or pending", "--all")
    assert run("lookup", "example.org", "--format", "authorized-keys", "--all").code == 1

    # known-hosts: revoked host keys are @revoked lines, live ones plain
    ok(run("name", "assign", "web1.example.org"))
    host = ssh_key(env / "host")
    ok(run("key", "publish", "web1.example.org", host, "--purpose", "ssh-host", "--proof",
           ssh_proof(run, "web1.example.org", host, env / "h.txt")))
    host2 = ssh_key(env / "host2")
    ok(run("key", "publish", "web1.example.org", host2, "--purpose", "ssh-host", "--proof",
           ssh_proof(run, "web1.example.org", host2, env / "h2.txt")))
    ok(run("key", "revoke", "web1.example.org", "0", "--reason", "key-compromise"))
    lines = ok(run("lookup", "web1.example.org", "--format", "known-hosts")).out.splitlines()
    assert lines[0].startswith("@revoked web1.example.org ssh-ed25519 ")
    assert lines[1].startswith("web1.example.org ssh-ed25519 ") and len(lines) == 2


# --------------------------------------------------------------------------- help


def _all_help_pages() -> list[list[str]]:
    import typer

    from cli.main import app

    pages: list[list[str]] = [[]]

    def walk(command: Any, path: list[str]) -> None:
        for name, sub in getattr(command, "commands", {}).items():
            pages.append([*path, name])
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return pages


def test_help_names_arguments_by_their_metavars(run: Run) -> None:
    usage = {
        ("key", "inspect"): "Usage: keyanchor key inspect [OPTIONS] FILE…",
        ("key", "publish"): "Usage: keyanchor key publish [OPTIONS] NAME FILE",
        ("attest",): "Usage: keyanchor attest [OPTIONS] ATTESTER NAME INDEX",
        ("lookup",): "Usage: keyanchor lookup [OPTIONS] NAME…",
        ("key", "revoke"): "Usage: keyanchor key revoke [OPTIONS] NAME RECORD",
    }
    for command, line in usage.items():
        assert line in ok(run(*command, "--help")).out
    for page in _all_help_pages():
        text = ok(run(*page, "--help")).out
        assert not re.search(r"\{[a-z_]+\}|<(str|int|float|bool|Path|path|text|int range"
                             r"|float range|list\[[^]]*\])>", text), (page, text)
        assert "Example" in text, page
        no_trailing_spaces(text)


# --------------------------------------------------------------------------- vocabulary


def _iso(value: Any) -> bool:
    return value is None or (isinstance(value, str)
                             and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", value) is not None)


def _times_are_iso(data: Any, where: str) -> None:
    if isinstance(data, dict):
        for key, value in data.items():
            if key in ("valid_from", "valid_until", "published_at", "revoked_at", "timestamp",
                       "expires", "attested_at", "evaluated_at") or key.endswith("_time"):
                assert value is None or _iso(value), (where, key, value)
            _times_are_iso(value, where)
    elif isinstance(data, list):
        for item in data:
            _times_are_iso(item, where)


@pytest.mark.tools
def test_one_vocabulary_across_cli_json_index_api_and_page(run: Run, env: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Assigned names are 'assigned'; every JSON timestamp is ISO 8601 UTC; key types,
    purposes and reasons by name -- in --json, the index, the JSON API and the web page."""
    import httpx

    from registry.gateways.http import create_app
    from tests.gateways.conftest import ServerThread

    monkeypatch.setenv("KEYANCHOR_INDEX", str(env / "index.sqlite"))
    ok(run("name", "register", "example.org"))
    ok(run("name", "assign", "alice@example.org"))
    pub = ssh_key(env / "id")
    ok(run("key", "publish", "alice@example.org", pub, "--valid-until", "+30d", "--proof",
           ssh_proof(run, "alice@example.org", pub, env / "s.txt")))
    ok(run("attest", "example.org", "alice@example.org", "0", "--expires", "+1y"))
    ok(run("key", "revoke", "alice@example.org", "0", "--reason", "key-compromise"))

    history = json.loads(ok(run("history", "alice@example.org", "--json")).out)
    assert history[0]["kind"] == "assigned"
    assert json.loads(ok(run("history", "example.org", "--json")).out)[0]["kind"] == "registered"
    published = next(e for e in history if e["kind"] == "key-published")
    assert published["data"]["key_type"] == "ssh" and published["data"]["purposes"] == ["ssh-user"]
    revoked = next(e for e in history if e["kind"] == "key-revoked")
    assert revoked["data"]["reason"] == "key-compromise"
    _times_are_iso(history, "history --json")
    _times_are_iso(json.loads(ok(run("lookup", "alice@example.org", "--all", "--json")).out),
                   "lookup --json")
    text = ok(run("history", "alice@example.org")).out
    assert " assigned " in text and "key_type=ssh" in text and "reason=key-compromise" in text
    assert "key_type=1" not in text and "purposes=1" not in text

    ok(run("sync"))
    status = json.loads(ok(run("index", "status", "--json")).out)
    _times_are_iso(status, "index status --json")
    assert _iso(status["last_sync_time"]) and status["last_sync_time"] is not None
    assert status["proven_head_time"] is not None and status["age_seconds"] < 3600
    records = json.loads(ok(run("index", "lookup", "alice@example.org", "--json")).out)
    _times_are_iso(records, "index lookup --json")
    assert records[0]["key_type"] == "ssh" and records[0]["purposes"] == ["ssh-user"]
    assert records[0]["reason"] == "key-compromise"
    indexed = json.loads(ok(run("index", "lookup", "alice@example.org", "--history",
                                "--json")).out)
    assert [e["kind"] for e in indexed] == [e["kind"] for e in history]
    assert indexed == [{k: e[k] for k in ("kind", "block_number", "log_index", "tx_hash",
                                          "timestamp")} | {"data": indexed[i]["data"]}
                       for i, e in enumerate(history)]
    _times_are_iso(indexed, "index lookup --history --json")

    with ServerThread(create_app(env / "index.sqlite")) as server, \
            httpx.Client(base_url=server.url, timeout=10) as client:
        _api_speaks_the_same(client, history)


def _api_speaks_the_same(client: Any, history: list[dict[str, Any]]) -> None:
    api = client.get("/v1/names/alice@example.org").json()
    _times_are_iso(api, "JSON API name")
    api_history = client.get("/v1/names/alice@example.org/history").json()["events"]
    assert [e["kind"] for e in api_history] == [e["kind"] for e in history]
    _times_are_iso(api_history, "JSON API history")
    _times_are_iso(client.get("/v1/status").json(), "JSON API status")
    page = client.get("/names/alice@example.org").text
    assert "key_type=ssh" in page and "purposes=ssh-user" in page and ">assigned<" in page
    assert "key_type=1" not in page and "purposes=1" not in page


@pytest.mark.tools
def test_records_are_separated_by_a_blank_line_with_no_trailing_spaces(run: Run,
                                                                       env: Path) -> None:
    ok(run("name", "register", "example.org"))
    for stem in ("a", "b"):
        pub = ssh_key(env / stem)
        ok(run("key", "publish", "example.org", pub, "--proof",
               ssh_proof(run, "example.org", pub, env / f"{stem}.txt")))
    text = ok(run("lookup", "example.org")).out
    blocks = text.split("\n\n")
    assert len(blocks) == 2 and blocks[0].startswith("example.org [0]\n")
    assert blocks[1].startswith("example.org [1]\n") and "\n\n\n" not in text
    for args in (["lookup", "example.org"], ["name", "show", "example.org"],
                 ["history", "example.org"], ["check", "example.org"], ["account", "list"],
                 ["network", "list"], ["key", "inspect", env / "a.pub", env / "b.pub"]):
        result = ok(run(*args))
        no_trailing_spaces(result.out)
        assert "\033[" not in result.out  # not a terminal: no colour, no bold
    checked = ok(run("check", "example.org")).out
    assert checked.count("\n\n== ") == 1


def test_bold_only_on_a_terminal(tmp_path: Path) -> None:
    import pty

    env = {**os.environ, "PYTHONPATH": str(ROOT), "KEYANCHOR_CONFIG": str(tmp_path / "c.toml"),
           "KEYANCHOR_STATE": str(tmp_path / "chain.db"), "XDG_DATA_HOME": str(tmp_path),
           "TERM": "xterm"}
    env.pop("NO_COLOR", None)
    argv = [sys.executable, "-m", "cli.main", "account", "list"]
    piped = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert piped.returncode == 0 and "\033[" not in piped.stdout
    leader, follower = pty.openpty()
    proc = subprocess.run(argv, env=env, stdout=follower, stderr=subprocess.PIPE, timeout=60)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert proc.returncode == 0
    assert b"\033[1m" in b"".join(chunks)
    quiet = subprocess.run(argv, env={**env, "NO_COLOR": "1"}, capture_output=True, text=True,
                           timeout=60)
    assert "\033[" not in quiet.stdout


# --------------------------------------------------------------------------- errors


@pytest.mark.tools
def test_errors_name_their_subject(run: Run, env: Path) -> None:
    ok(run("name", "register", "example.org"))
    pub = ssh_key(env / "id_ed25519")
    private = pub.with_suffix("")
    one_line_error(run("key", "publish", "example.org", private, "--no-proof"),
                   f"{private}: is a private key", f"give the public key {pub} instead")
    one_line_error(run("key", "inspect", private), f"{private}: is a private key")
    one_line_error(run("prove", "example.org", private), f"{private}: is a private key")
    one_line_error(run("name", "register", "web1.example.org"),
                   "web1.example.org is under example.org",
                   "its owner assigns it with 'keyanchor name assign web1.example.org'")
    one_line_error(run("name", "register", "alice@example.org"),
                   "alice@example.org is a person name", "keyanchor name assign")
    one_line_error(run("name", "register", "example.org"), "you already own it")
    ok(run("name", "assign", "web1.example.org"))
    one_line_error(run("name", "assign", "web1.example.org"), "you already own it")
    one_line_error(run("key", "publish", "bob@example.org", pub, "--no-proof"),
                   "bob@example.org is not registered",
                   "the owner of example.org assigns it with 'keyanchor name assign")
    one_line_error(run("key", "publish", "other.org", pub, "--no-proof"),
                   "other.org is not registered", "keyanchor name register other.org")
    (env / "notes.txt").write_text("hello\n")
    one_line_error(run("key", "publish", "example.org", env / "notes.txt", "--no-proof"),
                   f"{env / 'notes.txt'}:")


def test_serve_without_an_index_fails_before_announcing(run: Run, env: Path) -> None:
    result = run("serve", "--index", env / "missing.sqlite", "--port", "1")
    one_line_error(result, "no index at", "keyanchor sync")
    assert "serving" not in result.err and result.out == ""


@pytest.mark.parametrize(("policy", "message"), [
    ("stirct", "unknown profile 'stirct'"),
    ("/etc/keyanchor/missing-policy.toml", "no such policy file"),
    ("notes.txt", "not valid toml"),
])
def test_serve_with_a_bad_policy_fails_before_announcing(
        run: Run, env: Path, monkeypatch: pytest.MonkeyPatch, policy: str, message: str) -> None:
    # A misspelt profile or a missing policy file used to start the keyserver, which then
    # answered "No key found" for every key (each verdict "policy check unavailable").
    monkeypatch.chdir(env)
    (env / "notes.txt").write_text("hello, not a policy\n")
    result = run("serve", "--index", env / "missing.sqlite", "--port", "1", "--policy", policy)
    one_line_error(result, message)
    assert "serving" not in result.err and result.out == ""


def test_sync_with_a_misspelt_profile_fails_and_writes_nothing(run: Run, env: Path) -> None:
    # It used to sync, storing "unknown" as every record's verdict: keyanchor-ssh then
    # served no key to anyone, and nothing said why.
    index = env / "index.sqlite"
    run("deploy")  # the embedded chain exists
    result = run("sync", "--index", index, "--policy", "stirct")
    one_line_error(result, "unknown policy profile 'stirct'", "strict", "none")
    assert not index.exists() and result.out == ""
    ok = run("sync", "--index", index, "--policy", "none")
    assert ok.code == 0 and index.exists()


def test_sync_with_no_network_and_no_chain_says_so_and_writes_nothing(run: Run, env: Path) -> None:
    # docs/SSH.md's service config named no network: the sync user's sync made an empty
    # embedded chain in its home, published an empty fresh-looking index and exited 0,
    # so every login failed and the keyserver served nothing.
    index = env / "index.sqlite"
    (env / "config.toml").write_text(f'[index]\npath = "{index}"\n')
    result = run("sync")
    one_line_error(result, "no network is configured", str(env / "chain.db"), "[networks.")
    assert not index.exists() and not (env / "chain.db").exists() and result.out == ""
    (env / "config.toml").unlink()  # a misspelt KEYANCHOR_CONFIG names no file at all
    one_line_error(run("sync", "--index", index), f"{env / 'config.toml'} (no such file)")


# --------------------------------------------------------------------------- the same output


def _outputs(run: Run, commands: list[list[str]]) -> list[Result]:
    return [run(*c) for c in commands]


@pytest.mark.tools
def test_read_commands_print_what_the_verified_client_prints(
    run: Run, env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reads go to the file reader; forced through Registry (web3 + py-evm), every read
    command prints byte for byte the same, on a chain with every record state."""
    from registry.chain.reader import EmbeddedReader
    from tests.chain.varied import MISSING, NAMES, build_varied_chain

    build_varied_chain(env / "chain.db")
    commands: list[list[str]] = []
    for name in NAMES + MISSING[:1]:
        commands += [["lookup", name], ["lookup", name, "--all", "--json"],
                     ["lookup", name, "--all"], ["lookup", name, "--profile", "strict"],
                     ["history", name], ["history", name, "--json"], ["name", "show", name],
                     ["name", "show", name, "--json"], ["name", "owner", name],
                     ["check", name, "--all", "--json", "--at", "2030-01-01"]]
        for fmt in ("authorized-keys", "known-hosts", "armor", "pem"):
            commands += [["lookup", name, "--format", fmt],
                         ["lookup", name, "--format", fmt, "--all"]]
    opened: list[bool] = []
    real_open = EmbeddedReader.open

    def spy(path: Any = None) -> EmbeddedReader | None:
        reader = real_open(path)
        opened.append(reader is not None)
        return reader

    monkeypatch.setattr(EmbeddedReader, "open", staticmethod(spy))
    fast = _outputs(run, commands)
    assert opened and all(opened)
    monkeypatch.setattr(EmbeddedReader, "open", staticmethod(lambda path=None: None))
    full = _outputs(run, commands)
    for command, a, b in zip(commands, fast, full, strict=True):
        assert (a.code, a.out, a.err) == (b.code, b.out, b.err), command
    assert sum(r.code == 0 for r in fast) > len(commands) // 2


@pytest.mark.tools
def test_a_lookup_neither_decrypts_nor_imports_web3(run: Run, env: Path) -> None:
    """A read command on the embedded chain opens no keystore and loads no web3 / py-evm."""
    ok(run("name", "register", "example.org"))
    pub = ssh_key(env / "id")
    ok(run("key", "publish", "example.org", pub, "--proof",
           ssh_proof(run, "example.org", pub, env / "s.txt")))
    penv = {**os.environ, "PYTHONPATH": str(ROOT), "KEYANCHOR_STATE": str(env / "chain.db"),
            "KEYANCHOR_CONFIG": str(env / "config.toml"), "XDG_DATA_HOME": str(env / "data"),
            "KEYANCHOR_KEYSTORE": str(env / "no-such-keystore.json")}
    code = ("import sys, json\nfrom cli.main import main\n"
            "for argv in (['lookup', 'example.org'], ['history', 'example.org'],"
            " ['name', 'show', 'example.org'], ['check', 'example.org'],"
            " ['lookup', 'example.org', '--format', 'authorized-keys']):\n"
            "    assert main(argv) == 0, argv\n"
            "heavy = ('web3', 'eth', 'eth_account', 'eth_abi', 'eth_utils', 'pydantic',"
            " 'eth_keyfile', 'Crypto')\n"
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules"
            " if m.split('.')[0] in heavy})))\n")
    proc = subprocess.run([sys.executable, "-c", code], env=penv, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.tools
def test_signing_account_is_shown(run: Run, env: Path) -> None:
    text = ok(run("name", "register", "example.org")).out
    assert f"signed by {dev_address(0)} (the embedded chain's built-in account)" in text
    data = json.loads(ok(run("name", "assign", "alice@example.org", "--json")).out)
    assert data["signer"] == dev_address(0)


@pytest.mark.tools
def test_readme_openpgp_and_x509_recipes_work(tmp_path: Path) -> None:
    """The README's OpenPGP and X.509 block, run as written by bash (gpg kept
    non-interactive by a wrapper), publishes both keys and hands them back."""
    gpg, openssl = require_tool("gpg"), require_tool("openssl")
    readme = (ROOT / "README.md").read_text()
    marker = readme.index("<!-- recipes: tests/cli/test_behaviour.py runs this block -->")
    block = readme[marker:].split("```sh\n", 1)[1].split("```", 1)[0]
    assert "gpg --quick-generate-key" in block and "openssl req -x509" in block
    shims = tmp_path / "bin"
    shims.mkdir()
    (shims / "keyanchor").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m cli.main "$@"\n')
    (shims / "gpg").write_text(f'#!/bin/sh\nexec "{gpg}" --batch --pinentry-mode loopback'
                               " --passphrase '' \"$@\"\n")
    for shim in shims.iterdir():
        shim.chmod(0o755)
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("KEYANCHOR_")},
           "PATH": f"{shims}:{Path(openssl).parent}:{os.environ.get('PATH', '')}",
           "PYTHONPATH": str(ROOT), "GNUPGHOME": str(home),
           "KEYANCHOR_STATE": str(tmp_path / "chain.db"),
           "KEYANCHOR_CONFIG": str(tmp_path / "config.toml"),
           "XDG_DATA_HOME": str(tmp_path / "data")}
    script = ("set -euo pipefail\nkeyanchor name register example.org\n"
              "keyanchor name assign alice@example.org\n" + block)
    try:
        proc = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=600)
    finally:
        gpgconf = shutil.which("gpgconf")
        if gpgconf:
            subprocess.run([gpgconf, "--kill", "gpg-agent"], env=env, capture_output=True,
                           check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "-----BEGIN PGP PUBLIC KEY BLOCK-----" in proc.stdout
    assert "-----BEGIN CERTIFICATE-----" in proc.stdout
    assert re.search(r"published x509 key \S+ under web1\.example\.org as record 0"
                     r" \(tls-server\)", proc.stdout)
    assert "published openpgp key" in proc.stdout


def test_check_refuses_a_misspelt_profile_for_a_name_with_no_records(run: Run, env: Path) -> None:
    # The profile was only resolved while checking a record: for a name with none,
    # `check NAME --profile stirct` said "no key records to check" and exited 0.
    ok(run("name", "register", "example.org"))
    one_line_error(run("check", "example.org", "--profile", "stirct"), "unknown profile 'stirct'")
    (env / "policy.toml").write_text("not = [valid\n")
    one_line_error(run("check", "example.org", "--policy", env / "policy.toml"), "not valid TOML")
    # lookup judged with a profile the same way: "no ... records passing the policy", exit 0
    one_line_error(run("lookup", "example.org", "--profile", "stirct"), "unknown profile 'stirct'")
    one_line_error(run("lookup", "example.org", "--policy", env / "policy.toml"), "not valid TOML")


def test_network_add_again_keeps_the_registry_address(run: Run, env: Path) -> None:
    # Re-adding a network to change its quorum or endpoints dropped the saved registry
    # address and advised "deploy one": a second, empty registry beside the real one.
    registry = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    ok(run("network", "add", "corp", "http://127.0.0.1:9", "--registry", registry,
           "--chain-id", "31337"))
    again = ok(run("network", "add", "corp", "http://127.0.0.1:9", "http://127.0.0.1:10",
                   "--quorum", "2"))
    assert f"kept its registry {registry}" in again.out and "deploy" not in again.out
    shown = json.loads(ok(run("network", "show", "corp", "--json")).out)
    assert shown["registry"] == registry and shown["chain_id"] == 31337
    assert shown["quorum"] == 2
    other = "0x" + "12" * 20
    ok(run("network", "add", "corp", "http://127.0.0.1:9", "--registry", other))
    assert json.loads(ok(run("network", "show", "corp", "--json")).out)["registry"].lower() == other


@pytest.mark.parametrize("args", [
    ("key", "revoke", "alice@example.org", "-1"),
    ("key", "rotate", "alice@example.org", "-2", "new.pub"),
    ("attest", "example.org", "alice@example.org", "-1"),
])
def test_a_negative_record_index_is_a_usage_error_about_the_index(run: Run, args: tuple[str, ...]) -> None:
    """`keyanchor key revoke NAME -1` said "No such option: -1" (click reads -1 as an option).
    Now the error line says what is wrong: record indexes count from 0."""
    result = run(*args)
    assert result.code == 2
    errors = [line for line in result.err.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.err
    assert "No such option" not in result.err
    assert "is not a record index" in errors[0] and "from 0" in errors[0], errors[0]
    assert ("RECORD" if args[0] == "key" else "INDEX") in errors[0]


def test_a_dash_word_is_still_no_such_option(run: Run) -> None:
    result = run("key", "revoke", "alice@example.org", "-x")
    assert result.code == 2 and "No such option: -x" in result.err


@pytest.mark.parametrize("record", ["\u00b2", "\u0663", "\uff11"])  # superscript 2, Arabic-Indic 3, fullwidth 1
def test_a_non_ascii_digit_record_is_no_index(run: Run, record: str) -> None:
    """`key revoke NAME ²` ended in 'internal error: ValueError' (str.isdigit() takes '²',
    int() does not), and `key revoke NAME ٣` revoked record 3: a look-alike digit chose
    which key to revoke. Now only ASCII digits are an index; anything else is looked up as
    a fingerprint (and the name's absence is the one error line)."""
    run("name", "register", "example.org")
    result = run("key", "revoke", "example.org", record)
    assert result.code == 1
    assert "internal error" not in result.err
    assert "no record with fingerprint" in result.err, result.err
