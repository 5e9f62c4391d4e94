"""The chain commands end to end through ``cli.main.main``, on a temporary embedded chain.

Each test gets its own chain file (``KEYANCHOR_STATE``), config (``KEYANCHOR_CONFIG``)
and data directory (keystores), so nothing touches the user's own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.conftest import Result, Run
from tests.conftest import Anvil, free_port, require_tool, wait_port

ZERO_ADDR = "0x" + "00" * 19 + "01"


def ok(result: Result) -> Result:
    assert result.code == 0, result.err
    return result


def one_line_error(result: Result, *needles: str, code: int = 1) -> None:
    assert result.code == code, (result.out, result.err)
    assert "Traceback" not in result.err
    if code == 1:
        assert result.err.count("\n") == 1, result.err
    low = result.err.lower()
    for needle in needles:
        assert needle.lower() in low, result.err


def dev_key(index: int) -> str:
    from registry.chain.embedded import dev_accounts

    return "0x" + bytes(dev_accounts()[index].key).hex()


def dev_address(index: int) -> str:
    from registry.chain.embedded import dev_accounts

    return str(dev_accounts()[index].address)


def ssh_key(path: Path) -> Path:
    require_tool("ssh-keygen")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "test", "-f", str(path)],
                   check=True, timeout=30)
    return path.with_name(path.name + ".pub")


def ssh_proof(run: Run, name: str, pub: Path, statement: Path) -> Path:
    ok(run("prove", name, pub, "--out", statement))
    subprocess.run(["ssh-keygen", "-Y", "sign", "-n", "keyanchor", "-f", str(pub)[:-4],
                    str(statement)], check=True, capture_output=True, timeout=30)
    return statement.with_name(statement.name + ".sig")


# --------------------------------------------------------------------------- help


@pytest.mark.parametrize(("group", "commands"), [
    ("account", ["new", "list", "import", "use"]),
    ("network", ["add", "list", "show", "use"]),
    ("name", ["register", "assign", "reclaim", "renounce", "transfer", "operator", "block",
              "show"]),
    ("key", ["inspect", "publish", "revoke", "rotate"]),
    (None, ["deploy", "prove", "lookup", "history", "attest", "devnet", "account", "network",
            "name", "key", "check", "lints", "sync", "watch", "index", "ssh", "serve"]),
])
def test_help_lists_commands(run: Run, group: str | None, commands: list[str]) -> None:
    result = ok(run(*([group] if group else []), "--help"))
    assert "Example" in result.out
    listed = result.out.split("Commands:", 1)[1]
    for command in commands:
        assert f"  {command} " in listed, command


@pytest.mark.parametrize("command", [
    ["name", "register"], ["name", "assign"], ["key", "publish"], ["key", "revoke"],
    ["key", "rotate"], ["prove"], ["lookup"], ["history"], ["attest"], ["devnet"], ["deploy"],
    ["account", "new"], ["account", "use"], ["network", "add"], ["network", "show"], ["check"], ["lints"], ["sync"],
    ["serve"], ["watch"], ["index", "status"], ["index", "lookup"], ["ssh", "authorized-keys"],
    ["ssh", "known-hosts"], ["key", "inspect"], ["name", "show"],
])
def test_each_command_help_has_an_example(run: Run, command: list[str]) -> None:
    assert "Example: keyanchor" in ok(run(*command, "--help")).out


# --------------------------------------------------------------------------- happy path


@pytest.mark.tools
def test_main_path_with_ssh_proofs(run: Run, env: Path) -> None:
    main_path(run, env)


def main_path(run: Run, env: Path) -> None:
    """register -> assign -> publish with an SSHSIG proof -> lookup -> rotate -> revoke -> history."""
    me = dev_address(0)
    ok(run("name", "register", "example.org"))
    ok(run("name", "assign", "alice@example.org", "--owner", me))
    pub = ssh_key(env / "id_ed25519")
    sig = ssh_proof(run, "alice@example.org", pub, env / "statement.txt")
    published = json.loads(ok(run("key", "publish", "alice@example.org", pub, "--purpose",
                                  "ssh-user", "--proof", sig, "--valid-until", "+90d",
                                  "--json")).out)
    assert published["index"] == 0 and published["fingerprint"].startswith("SHA256:")

    again = ok(run("key", "publish", "alice@example.org", pub, "--proof", sig))
    assert "already published" in again.out and "nothing sent" in again.out
    assert again.out.count("\n") == 1

    lines = ok(run("lookup", "alice@example.org", "--format", "authorized-keys")).out
    assert lines.count("\n") == 1 and 'expiry-time="' in lines
    assert lines.rstrip().endswith(" alice@example.org")
    (env / "ak").write_text(lines)
    listed = subprocess.run(["ssh-keygen", "-l", "-f", str(env / "ak")], check=True,
                            capture_output=True, text=True, timeout=30).stdout
    assert published["fingerprint"] in listed

    pub2 = ssh_key(env / "id_new")
    sig2 = ssh_proof(run, "alice@example.org", pub2, env / "statement2.txt")
    rotated = json.loads(ok(run("key", "rotate", "alice@example.org", published["fingerprint"],
                                pub2, "--proof", sig2, "--json")).out)
    assert rotated["index"] == 1 and rotated["replaces"] == 0 and rotated["reason"] == "superseded"

    records = json.loads(ok(run("lookup", "alice@example.org", "--all", "--json")).out)
    assert [(r["index"], r["status"]) for r in records] == [(0, "revoked"), (1, "active")]
    assert records[1]["purposes"] == ["ssh-user"]

    ok(run("attest", "example.org", "alice@example.org", "1", "--expires", "+1y"))
    shown = json.loads(ok(run("name", "show", "alice@example.org", "--json")).out)
    assert shown["owner"] == me and shown["parent"] == "example.org"
    assert [r["status"] for r in shown["records"]] == ["revoked", "active"]

    ok(run("key", "revoke", "alice@example.org", "1", "--reason", "key-compromise"))
    one_line_error(run("lookup", "alice@example.org", "--format", "authorized-keys"), "no active")

    history = json.loads(ok(run("history", "alice@example.org", "--json")).out)
    kinds = [ev["kind"] for ev in history]
    assert kinds[0] == "assigned"  # alice@example.org was assigned, not registered
    for kind in ("key-published", "key-rotated", "key-revoked", "attested"):
        assert kind in kinds
    assert "key-compromise" in json.dumps(history)


def test_prove_prints_statement_and_command(run: Run, env: Path) -> None:
    pub = ssh_key(env / "id")
    ok(run("name", "register", "example.org"))
    result = ok(run("prove", "example.org", pub))
    assert result.out.startswith("keyanchor proof of possession v1\nchain-id: 31337\n")
    assert "name: example.org\n" in result.out
    assert f"ssh-keygen -Y sign -n keyanchor -f {env / 'id'} statement.txt" in result.err
    data = json.loads(ok(run("prove", "example.org", pub, "--json")).out)
    assert data["statement"] == result.out and data["owner"] == dev_address(0)


def test_name_operations(run: Run) -> None:
    ok(run("name", "register", "example.org"))
    ok(run("name", "assign", "web1.example.org"))
    ok(run("name", "operator", "web1.example.org", dev_address(3)))
    shown = json.loads(ok(run("name", "show", "web1.example.org", "--json")).out)
    assert shown["operators"] == [dev_address(3)] and shown["renounced"] is False
    ok(run("name", "operator", "web1.example.org", dev_address(3), "--remove"))
    ok(run("name", "renounce", "web1.example.org"))
    assert json.loads(ok(run("name", "show", "web1.example.org", "--json")).out)["renounced"]
    one_line_error(run("name", "reclaim", "web1.example.org"), "reclaim web1.example.org")
    ok(run("name", "transfer", "example.org", dev_address(1)))
    one_line_error(run("name", "assign", "db.example.org"), f"belongs to {dev_address(1)}",
                   "only its owner assigns")


def test_register_refuses_suffixes_subdomains_and_ip_literals(run: Run) -> None:
    """Nobody takes a TLD or a public suffix; a subdomain is assigned, not registered."""
    one_line_error(run("name", "register", "org"), "public suffix")
    one_line_error(run("name", "register", "co.uk"), "public suffix", "example.co.uk")
    one_line_error(run("name", "register", "github.io"), "public suffix")
    one_line_error(run("name", "register", "www.example.org"), "not a registrable domain",
                   "register example.org")
    one_line_error(run("name", "register", "127.0.0.1"), "is a number")
    one_line_error(run("name", "register", "example.0x7f"), "is a number")
    ok(run("name", "register", "example.co.uk"))
    ok(run("name", "register", "alice.github.io"))
    ok(run("name", "assign", "www.example.co.uk"))


@pytest.mark.tools
def test_revocation_bytes_and_blocked_attesters(run: Run, env: Path) -> None:
    pub = ssh_key(env / "id")
    ok(run("name", "register", "example.org"))
    ok(run("name", "register", "spam.example"))
    ok(run("key", "publish", "example.org", pub, "--no-proof"))
    # an expiry already past is the contract's "bad expiry", said in words a user can act on
    one_line_error(run("attest", "spam.example", "example.org", "0", "--expires", "2020-01-01"),
                   "bad expiry", "must be later than the latest block's time")
    ok(run("attest", "spam.example", "example.org", "0"))
    assert len(json.loads(ok(run("lookup", "example.org", "--json")).out)[0]["attestations"]) == 1
    assert "attested       index=0 attester=spam.example" in ok(run("history", "example.org")).out
    blocked = json.loads(ok(run("name", "block", "example.org", "spam.example", "--json")).out)
    assert blocked["action"] == "attester blocked"
    assert json.loads(ok(run("lookup", "example.org", "--json")).out)[0]["attestations"] == []
    one_line_error(run("attest", "spam.example", "example.org", "0"), "attester blocked",
                   "the name's owner has blocked this attester")
    ok(run("name", "block", "example.org", "spam.example", "--unblock"))
    assert len(json.loads(ok(run("lookup", "example.org", "--json")).out)[0]["attestations"]) == 1

    # a revocation is an OpenPGP key's own signature, checked before anything is sent
    (env / "key.rev").write_bytes(b"-----BEGIN PGP PUBLIC KEY BLOCK-----\nrevocation\n")
    one_line_error(run("key", "revoke", "example.org", "0", "--reason", "key-compromise",
                       "--revocation", env / "key.rev"), "openpgp key revocation",
                   "record 0 of example.org is an ssh key")
    (env / "big.rev").write_bytes(b"x" * 70000)
    one_line_error(run("key", "revoke", "example.org", "0", "--revocation", env / "big.rev"),
                   "not a revocation", code=2)
    ok(run("key", "revoke", "example.org", "0", "--reason", "key-compromise"))
    (rec,) = json.loads(ok(run("lookup", "example.org", "--all", "--json")).out)
    assert rec["status"] == "revoked" and rec["revocation"] == "0x"


# --------------------------------------------------------------------------- bad input


@pytest.mark.tools
def test_bad_input_is_one_line(run: Run, env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pub = ssh_key(env / "id")
    one_line_error(run("lookup", "nobody.org"), "nobody.org is not registered")
    one_line_error(run("key", "publish", "nobody.org", pub), "not registered")
    ok(run("name", "register", "example.org"))
    one_line_error(run("name", "register", "example.org"), "already registered",
                   "you already own it")
    one_line_error(run("name", "register", "Bad_Name.org"), "invalid name")
    one_line_error(run("name", "assign", "a..b@example.org"), "invalid name")

    (env / "notes.txt").write_text("hello, not a key\n")
    one_line_error(run("key", "publish", "example.org", env / "notes.txt"))
    one_line_error(run("key", "publish", "example.org", env / "id"), "private")
    one_line_error(run("key", "publish", "example.org", env / "missing.pub"), "no such file")

    one_line_error(run("key", "publish", "example.org", pub, "--profile", "strict"),
                   "needs a proof of possession", "keyanchor prove example.org")
    one_line_error(run("key", "publish", "example.org", pub, "--profile", "strict",
                       "--no-proof"), "binding.proof", "proof of possession is required")
    # a proof over another name's statement does not verify
    ok(run("name", "register", "other.org"))
    wrong = ssh_proof(run, "other.org", pub, env / "other.txt")
    one_line_error(run("key", "publish", "example.org", pub, "--proof", wrong), "binding.proof")
    assert json.loads(ok(run("lookup", "example.org", "--json")).out) == []
    ok(run("key", "publish", "example.org", pub, "--proof", wrong, "--force"))
    # the forced record is on chain, but a policy-filtered lookup does not serve it
    assert len(json.loads(ok(run("lookup", "example.org", "--json")).out)) == 1
    assert json.loads(ok(run("lookup", "example.org", "--json", "--profile", "default")).out) == []
    one_line_error(run("lookup", "example.org", "--policy", env / "nope.toml"), "no such policy")

    one_line_error(run("attest", "example.org", "other.org", "7"), "attest other.org record 7")
    one_line_error(run("key", "revoke", "example.org", "SHA256:nope"), "no record")

    # another account is not the owner (a fresh key is funded on the embedded chain)
    monkeypatch.setenv("KEYANCHOR_PRIVATE_KEY", "0x" + "42" * 32)
    assert "funded" in ok(run("name", "register", "bob.org")).err
    one_line_error(run("name", "assign", "bob@example.org"), "example.org belongs to",
                   "not to the signing account")
    monkeypatch.setenv("KEYANCHOR_PRIVATE_KEY", "0x1234")
    one_line_error(run("name", "register", "third.org"), "KEYANCHOR_PRIVATE_KEY")
    assert "1234" not in run("name", "register", "third.org").err.replace("KEYANCHOR", "")


@pytest.mark.parametrize(("text", "args", "message"), [
    ("networks = 5\n", ["network", "show"], "[networks] must be a table"),
    ("networks = 5\n", ["network", "add", "x", "http://127.0.0.1:1"],
     "[networks] must be a table"),
    ("[networks]\nembedded = 5\n", ["network", "show"], "'embedded' must be a table"),
    ("[networks.embedded]\nstate = 5\n", ["lookup", "example.org"], "state must be a file"),
    ("account = 5\n", ["account", "list"], "[account] must be a table"),
    ("[account]\nkeystore = 5\n", ["account", "list"], "keystore must be a file path"),
    ("index = 5\n", ["index", "lookup", "example.org"], "[index] must be a table"),
])
def test_config_mistakes_are_one_line_naming_the_file(
        run: Run, env: Path, monkeypatch: pytest.MonkeyPatch, text: str, args: list[str],
        message: str) -> None:
    monkeypatch.delenv("KEYANCHOR_STATE")  # so the file's [networks.embedded] state counts
    config = env / "config.toml"
    config.write_text(text)
    one_line_error(run(*args), str(config), message)
    assert config.read_text() == text  # nothing rewritten over the user's mistake


def test_network_add_says_where_the_commented_config_went(run: Run, env: Path) -> None:
    config = env / "config.toml"
    config.write_text("# hand-written: keep this note\n")
    result = ok(run("network", "add", "local", "http://127.0.0.1:8545"))
    assert f"kept as {config}.bak" in result.err
    assert (env / "config.toml.bak").read_text() == "# hand-written: keep this note\n"


@pytest.mark.parametrize("args", [
    ["key", "publish", "example.org", "x.pub", "--purpose", "ssh-usr"],
    ["key", "publish", "example.org", "x.pub", "--valid-until", "next tuesday"],
    ["key", "publish", "example.org", "x.pub", "--valid-until", "2020-06-01"],
    ["key", "publish", "example.org", "x.pub", "--valid-until", "+99999999999d"],  # overflowed
    ["key", "publish", "example.org", "x.pub", "--valid-until", "+3000000d"],
    ["key", "rotate", "example.org", "0", "x.pub", "--valid-from", "+2d", "--valid-until", "+1d"],
    ["key", "revoke", "example.org", "0", "--reason", "bored"],
    ["lookup", "example.org", "--format", "yaml"],
    ["lookup", "example.org", "--type", "pgp2"],
    ["attest", "a.org", "b.org", "0", "--policy-hash", "abc"],
    ["name", "assign", "x.example.org", "--owner", "0x123"],
    ["name", "nope"],
    # NaN and infinity passed click's ranges: internal errors, or a --timeout never reached
    ["watch", "example.org", "--interval", "nan"],
    ["watch", "example.org", "--interval", "inf"],
    ["watch", "example.org", "--timeout", "nan"],
    ["serve", "--max-staleness", "nan"],
    ["serve", "--max-staleness", "inf"],
    ["serve", "--request-timeout", "nan"],
    ["tls", "check", "example.org", "--timeout", "nan"],
])
def test_usage_errors_exit_2(run: Run, args: list[str]) -> None:
    result = run(*args)
    assert result.code == 2, result
    assert "Traceback" not in result.err


# --------------------------------------------------------------------------- accounts


def test_accounts(run: Run, env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The built-in account is a listed account; new keystores do not take over signing
    (names the built-in account owns are not stranded); 'account use' moves between them."""
    listed = json.loads(ok(run("account", "list", "--json")).out)
    assert listed == [{"name": "builtin", "address": dev_address(0), "keystore": None,
                       "builtin": True, "default": True}]
    ok(run("name", "register", "first.org"))  # owned by the built-in account

    monkeypatch.setenv("KEYANCHOR_PASSWORD", "correct horse")
    created = ok(run("account", "new", "--name", "alice", "--json"))
    alice = json.loads(created.out)
    assert alice["default"] is False and Path(alice["keystore"]).name == "alice.json"
    assert oct(Path(alice["keystore"]).stat().st_mode & 0o777) == "0o600"
    text = ok(run("account", "new", "--name", "carol"))
    assert f"{dev_address(0)} still signs" in text.out and "account use carol" in text.out

    secret = dev_key(2)
    imported = run("account", "import", "--name", "ops", "--json", stdin=secret + "\n")
    ok(imported)
    assert json.loads(imported.out)["address"] == dev_address(2)
    assert json.loads(imported.out)["default"] is False
    assert secret[2:] not in imported.out + imported.err

    listed = json.loads(ok(run("account", "list", "--json")).out)
    assert {a["name"]: a["default"] for a in listed} == {
        "builtin": True, "alice": False, "carol": False, "ops": False}
    # the built-in account still signs: what it owns is not stranded
    assigned = ok(run("name", "assign", "www.first.org"))
    assert f"signed by {dev_address(0)} (the embedded chain's built-in account)" in assigned.out
    one_line_error(run("account", "import", "--name", "bad", stdin="not-a-key\n"),
                   "not hold a valid private key")
    one_line_error(run("account", "new", "--name", "alice"), "already exists")
    one_line_error(run("account", "new", "--name", "builtin"), "invalid keystore name", code=2)

    # switch to alice's keystore: it signs (funded from the built-in account) and says so
    assert alice["address"] in ok(run("account", "use", "alice")).out
    registered = ok(run("name", "register", "example.org", "--json"))
    assert json.loads(registered.out)["owner"] == alice["address"]
    assert json.loads(registered.out)["signer"] == alice["address"]
    assert "funded" in registered.err
    monkeypatch.setenv("KEYANCHOR_PASSWORD", "wrong")
    one_line_error(run("name", "register", "example.net"), "wrong password")
    monkeypatch.setenv("KEYANCHOR_PASSWORD", "correct horse")
    # reads never decrypt a keystore
    monkeypatch.setenv("KEYANCHOR_PASSWORD", "wrong")
    assert json.loads(ok(run("name", "show", "example.org", "--json")).out)["owner"] == \
        alice["address"]
    monkeypatch.setenv("KEYANCHOR_PASSWORD", "correct horse")

    assert dev_address(2) in ok(run("account", "use", "ops")).out
    listed = json.loads(ok(run("account", "list", "--json")).out)
    assert [a["name"] for a in listed if a["default"]] == ["ops"]
    registered_text = ok(run("name", "register", "example.net")).out
    assert f"signed by {dev_address(2)} (keystore " in registered_text

    # back to the built-in account: first.org is still its to manage
    assert dev_address(0) in ok(run("account", "use", "builtin")).out
    ok(run("name", "assign", "mail.first.org"))
    listed = json.loads(ok(run("account", "list", "--json")).out)
    assert [a["name"] for a in listed if a["default"]] == ["builtin"]
    one_line_error(run("account", "use", "nobody"), "no account 'nobody'", "builtin")

    # KEYANCHOR_PRIVATE_KEY signs when set, and is listed
    monkeypatch.setenv("KEYANCHOR_PRIVATE_KEY", dev_key(3))
    listed = json.loads(ok(run("account", "list", "--json")).out)
    assert [a["address"] for a in listed if a["default"]] == [dev_address(3)]
    monkeypatch.delenv("KEYANCHOR_PRIVATE_KEY")
    made = json.loads(ok(run("account", "new", "--name", "dave", "--use", "--json")).out)
    assert made["default"] is True


def test_addresses_are_never_cut(run: Run, env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the terminal's width, every address is printed whole."""
    monkeypatch.setenv("COLUMNS", "20")
    monkeypatch.setenv("KEYANCHOR_PASSWORD", "pw")
    ok(run("account", "new", "--name", "a-long-keystore-name"))
    ok(run("name", "register", "example.org"))
    ok(run("name", "operator", "example.org", dev_address(3)))
    listing = ok(run("account", "list")).out
    assert dev_address(0) in listing
    shown = ok(run("name", "show", "example.org")).out
    assert dev_address(0) in shown and dev_address(3) in shown
    assert all(line == line.rstrip() for line in listing.splitlines() + shown.splitlines())


# --------------------------------------------------------------------------- networks


@pytest.fixture
def devnet(env: Path) -> Iterator[str]:
    from registry.chain.devnet import DevnetServer

    with DevnetServer(env / "served.db", port=0) as server:
        yield server.url


def test_networks_and_remote_errors(run: Run, env: Path, devnet: str,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    ok(run("network", "add", "down", "http://127.0.0.1:1", "--registry", ZERO_ADDR))
    one_line_error(run("lookup", "example.org", "--network", "down"), "does not answer")
    one_line_error(run("network", "add", "bad", "ftp://x"), "invalid rpc url")
    one_line_error(run("lookup", "example.org", "--network", "nowhere"), "unknown network")

    ok(run("network", "add", "dev", devnet))
    one_line_error(run("name", "register", "example.org", "--network", "dev"), "needs an account")
    monkeypatch.setenv("KEYANCHOR_PRIVATE_KEY", dev_key(1))
    one_line_error(run("name", "register", "example.org", "--network", "dev"), "no registry")
    deployed = json.loads(ok(run("deploy", "--network", "dev", "--json")).out)
    assert deployed["saved"] and deployed["chain_id"] == 31337
    assert deployed["mode"] == "public" and deployed["admin"] == dev_address(1)
    from registry.psl import suffix_tree

    assert deployed["suffix_root"] == "0x" + suffix_tree().root.hex()
    nets = {n["name"]: n for n in json.loads(ok(run("network", "list", "--json")).out)}
    assert nets["dev"]["registry"] == deployed["registry"]

    ok(run("network", "use", "dev"))
    ok(run("name", "register", "example.org"))
    assert json.loads(ok(run("name", "show", "example.org", "--json")).out)["owner"] == \
        dev_address(1)

    ok(run("network", "add", "wrongid", devnet, "--registry", deployed["registry"],
           "--chain-id", "1"))
    one_line_error(run("lookup", "example.org", "--network", "wrongid"), "not the configured chain 1")
    ok(run("network", "add", "noreg", devnet, "--registry", ZERO_ADDR))
    one_line_error(run("lookup", "example.org", "--network", "noreg"), "no contract at",
                   "keyanchor deploy")
    # a node restarted without its state: the saved address holds no contract, and deploy
    # (which used to open that address first and fail) makes a new registry and saves it
    again = json.loads(ok(run("deploy", "--network", "noreg", "--json")).out)
    assert again["saved"] and again["registry"] not in (ZERO_ADDR, deployed["registry"])
    ok(run("name", "register", "example.net", "--network", "noreg"))

    monkeypatch.setenv("KEYANCHOR_PRIVATE_KEY", "0x" + "43" * 32)  # no funds on the devnet
    one_line_error(run("name", "register", "poor.org"), "cannot pay")

    # while the devnet serves the embedded chain's file, commands go through the devnet
    monkeypatch.setenv("KEYANCHOR_STATE", str(env / "served.db"))
    monkeypatch.delenv("KEYANCHOR_PRIVATE_KEY")
    ok(run("name", "register", "served.org", "--network", "embedded"))
    shown = json.loads(ok(run("name", "show", "served.org", "--network", "embedded",
                              "--json")).out)
    assert shown["owner"] == dev_address(0)


def test_quorum_networks(run: Run, env: Path, devnet: str,
                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Several endpoints and a quorum: configured, shown in plain words, enforced by sync."""
    down = "http://127.0.0.1:9"  # nothing listens there
    monkeypatch.setenv("KEYANCHOR_PRIVATE_KEY", dev_key(1))
    ok(run("network", "add", "dev", devnet))
    registry = json.loads(ok(run("deploy", "--network", "dev", "--json")).out)["registry"]
    ok(run("name", "register", "example.org", "--network", "dev"))

    single = json.loads(ok(run("network", "show", "dev", "--json")).out)
    assert single["quorum"] == 1 and single["endpoints"] == [devnet]
    assert "ONE endpoint, trusted alone" in ok(run("network", "show", "dev")).out

    one_line_error(run("network", "add", "q", devnet, down, "--quorum", "3"),
                   "quorum 3 is impossible with 2")
    one_line_error(run("network", "add", "q", devnet, devnet), "same url")
    one_line_error(run("network", "add", "q", devnet, "--trust-tag", "soon"), "trust")

    added = ok(run("network", "add", "two", devnet, down, "--quorum", "2", "--registry", registry,
                   "--trust-tag", "2"))
    assert "2 of 2 endpoints must return the same hash" in added.out
    shown = ok(run("network", "show", "two")).out
    assert "quorum    2 of 2" in shown and down in shown and "trust tag 2" in shown
    listed = {n["name"]: n for n in json.loads(ok(run("network", "list", "--json")).out)}
    assert listed["two"]["urls"] == [devnet, down] and listed["two"]["quorum"] == 2
    # one of two endpoints down: no block has 2 agreeing endpoints, nothing is synced
    index = env / "two.sqlite"
    one_line_error(run("sync", "--network", "two", "--index", str(index)), "127.0.0.1:9")
    assert not index.exists() or json.loads(ok(run("index", "status", "--index", str(index),
                                                   "--json")).out)["synced_block"] is None

    ok(run("network", "add", "one", devnet, down, "--quorum", "1", "--registry", registry))
    assert "ANY ONE of them is trusted alone" in ok(run("network", "show", "one")).out
    synced = ok(run("sync", "--network", "one", "--index", str(index)))
    assert f"endpoint {down}" in synced.err  # the failing endpoint is named, never hidden
    assert "proven head: block" in synced.out
    status = json.loads(ok(run("index", "status", "--index", str(index), "--json")).out)
    assert status["proven_head"] == status["synced_block"] and status["proven_head_hash"]


def test_private_deploy_and_suffix_list_update(run: Run, env: Path, devnet: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    ok(run("network", "add", "dev", devnet))
    monkeypatch.setenv("KEYANCHOR_PRIVATE_KEY", dev_key(2))
    private = json.loads(ok(run("deploy", "--network", "dev", "--private", "--json")).out)
    assert private["mode"] == "private" and private["admin"] == dev_address(2)
    ok(run("name", "register", "corp", "--network", "dev"))  # the admin registers anything
    monkeypatch.setenv("KEYANCHOR_PRIVATE_KEY", dev_key(3))
    one_line_error(run("name", "register", "example.org", "--network", "dev"), "not registrar")

    # a public registry on a custom list; the admin commits a new one later
    (env / "small.dat").write_text("org\nexample.org\n")
    custom = json.loads(ok(run("deploy", "--network", "dev", "--suffix-list", env / "small.dat",
                               "--json")).out)
    one_line_error(run("name", "register", "example.org", "--network", "dev"),
                   "suffix list")  # this keyanchor bundles another list than the registry's
    monkeypatch.setenv("KEYANCHOR_PRIVATE_KEY", dev_key(4))
    one_line_error(run("deploy", "--network", "dev", "--update-suffix-list"), "not admin")
    monkeypatch.setenv("KEYANCHOR_PRIVATE_KEY", dev_key(3))
    updated = json.loads(ok(run("deploy", "--network", "dev", "--update-suffix-list",
                                "--json")).out)
    assert updated["registry"] == custom["registry"] and updated["suffix_root"] != custom["suffix_root"]
    ok(run("name", "register", "example.org", "--network", "dev"))


# --------------------------------------------------------------------------- devnet, anvil


def test_devnet_serves_and_stops_on_ctrl_c(env: Path) -> None:
    import signal

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "devnet", "--port", str(port), "--state",
         str(env / "devnet.db")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=Path(__file__).resolve().parents[2])
    try:
        wait_port(port, proc, "keyanchor devnet")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = out.decode()
    assert proc.returncode == 0, err.decode()
    assert f"listening on http://127.0.0.1:{port}" in text
    assert "KeyRegistry  0x" in text and dev_address(0) in text
    assert "shutting down" in text and "Traceback" not in err.decode()
    assert not (env / "devnet.db.devnet").exists()


@pytest.fixture
def anvil(env: Path) -> Iterator[str]:
    node = Anvil()
    try:
        yield node.url
    finally:
        node.close()


@pytest.mark.anvil
@pytest.mark.tools
def test_main_path_on_anvil(run: Run, env: Path, anvil: str,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    ok(run("network", "add", "anvil", anvil, "--chain-id", "31337"))
    ok(run("network", "use", "anvil"))
    monkeypatch.setenv("KEYANCHOR_PRIVATE_KEY", dev_key(0))  # anvil's account 0 too
    ok(run("deploy"))
    main_path(run, env)
    monkeypatch.setenv("KEYANCHOR_PRIVATE_KEY", "0x" + "44" * 32)
    one_line_error(run("name", "register", "poor.org"), "cannot pay")


# --------------------------------------------------------------------------- the demo


@pytest.mark.tools
@pytest.mark.slow
def test_demo_script_runs(env: Path) -> None:
    for tool in ("ssh-keygen", "gpg", "openssl"):
        require_tool(tool)
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(["bash", str(root / "scripts" / "demo.sh")], capture_output=True,
                          text=True, timeout=600, cwd=root,
                          env={**__import__("os").environ, "KEYANCHOR_DEMO_DIR": str(env / "demo")})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "-----BEGIN PGP PUBLIC KEY BLOCK-----" in proc.stdout
    assert "-----BEGIN CERTIFICATE-----" in proc.stdout
    assert "ssh-ed25519 " in proc.stdout


def test_demo_script_refuses_a_directory_holding_a_demo(env: Path) -> None:
    # KEYANCHOR_DEMO_DIR named twice: the second run stopped after its first command
    # ("example.org is already registered") with the directory half rewritten.
    root = Path(__file__).resolve().parents[2]
    demo = env / "demo"
    demo.mkdir()
    (demo / "chain.db").write_bytes(b"an earlier demo's chain")
    proc = subprocess.run(["bash", str(root / "scripts" / "demo.sh")], capture_output=True,
                          text=True, timeout=60, cwd=root,
                          env={**__import__("os").environ, "KEYANCHOR_DEMO_DIR": str(demo)})
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "already holds a demo" in proc.stderr
    assert sorted(p.name for p in demo.iterdir()) == ["chain.db"]
    assert (demo / "chain.db").read_bytes() == b"an earlier demo's chain"
