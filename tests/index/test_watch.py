"""``watch``: changes to watched names, as text / JSON lines, hooks and exit codes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from registry.index import watch_events
from registry.keys import KeyType
from tests.index.conftest import Anvil, Chain, ed25519_blob


@pytest.fixture(scope="module")
def named(embedded: Chain) -> Chain:
    reg = embedded.reg
    me = reg.account.address
    reg.register("example.org")
    reg.assign("alice@example.org", me)
    reg.assign("bob@example.org", me)
    reg.publish("alice@example.org", ed25519_blob(1), key_type=KeyType.SSH, purposes="ssh-user")
    reg.publish("bob@example.org", ed25519_blob(2), key_type=KeyType.SSH, purposes="ssh-user")
    reg.attest("example.org", "alice@example.org", 0)
    reg.withdraw("example.org", "alice@example.org", 0)
    reg.set_operator("alice@example.org", "0x" + "33" * 20)
    reg.transfer("alice@example.org", "0x" + "44" * 20)
    return embedded


def test_past_changes_of_watched_names_only(named: Chain) -> None:
    head = named.reg.w3.eth.block_number
    changes = list(watch_events(named.reg, ["alice@example.org"], from_block=0, until_block=head))
    assert [c.kind for c in changes] == ["registered", "published", "attested",
                                         "attestation-withdrawn", "operator-set", "owner-changed"]
    assert {c.name for c in changes} == {"alice@example.org"}
    assert changes[1].data["key_type"] == "ssh" and "material" not in changes[1].data
    assert json.loads(changes[5].to_json())["owner"] == "0x" + "44" * 20


def test_follows_new_blocks(embedded: Chain) -> None:
    reg = embedded.reg
    me = reg.account.address
    if not reg.owner("example.org"):
        reg.register("example.org")
    reg.assign("carol@example.org", me)
    actions = [
        lambda: reg.publish("carol@example.org", ed25519_blob(7), key_type=KeyType.SSH),
        lambda: reg.revoke("carol@example.org", 0, "key-compromise"),
        lambda: reg.publish("carol@example.org", ed25519_blob(8), key_type=KeyType.SSH),
        lambda: reg.rotate("carol@example.org", 1, ed25519_blob(9), key_type=KeyType.SSH),
    ]

    def sleep(_seconds: float) -> None:
        if actions:
            actions.pop(0)()

    seen = []
    for change in watch_events(reg, ["carol@example.org"], interval=0.01, timeout=30, sleep=sleep):
        seen.append(change.kind)
        if change.kind == "rotated":
            break
    assert seen == ["published", "revoked", "published", "revoked", "published", "rotated"]


@pytest.mark.anvil
def test_cli_watch_json_exec_and_exit_code(anvil: Anvil, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import typer
    from typer.testing import CliRunner

    from cli.index_cmds import EXIT_CHANGED, sync, watch

    reg = anvil.registry()
    me = reg.account.address
    reg.register("example.org")
    reg.assign("alice@example.org", me)
    reg.publish("alice@example.org", ed25519_blob(5), key_type=KeyType.SSH)
    reg.revoke("alice@example.org", 0, "superseded")
    head = reg.w3.eth.block_number
    monkeypatch.setenv("KEYANCHOR_RPC_URL", anvil.url)
    monkeypatch.setenv("KEYANCHOR_REGISTRY", reg.address)
    monkeypatch.setenv("KEYANCHOR_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("KEYANCHOR_INDEX", str(tmp_path / "index.sqlite"))
    app = typer.Typer()
    app.command("watch")(watch)
    app.command("sync")(sync)
    runner = CliRunner()
    hook_out = tmp_path / "hook.jsonl"
    hook = f"{sys.executable} -c \"import sys; open({str(hook_out)!r}, 'a').write(sys.stdin.read())\""
    result = runner.invoke(app, ["watch", "alice@example.org", "--json", "--from-block", "0",
                                 "--until-block", str(head), "--exec", hook])
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in result.stdout.splitlines()]
    assert [x["change"] for x in lines] == ["registered", "published", "revoked"]
    assert [json.loads(x)["change"] for x in hook_out.read_text().splitlines()] == [
        "registered", "published", "revoked"]
    result = runner.invoke(app, ["watch", "alice@example.org", "--from-block", "0",
                                 "--exit-on-change", "--timeout", "5"])
    assert result.exit_code == EXIT_CHANGED
    assert result.stdout.startswith("block ") and "registered" in result.stdout
    result = runner.invoke(app, ["watch", "alice@example.org", "--timeout", "0.3",
                                 "--interval", "0.1"])
    assert result.exit_code == 0 and result.stdout == ""
    result = runner.invoke(app, ["sync", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["events"] == 4


