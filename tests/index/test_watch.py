"""``watch``: changes to watched names, as text / JSON lines, hooks and exit codes."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from registry.errors import ChainError, VerificationError
from registry.index import watch_events
from registry.keys import KeyType
from tests.index.conftest import Anvil, Chain, TamperingW3, ed25519_blob, refuse_ranges
from tests.index.test_sync import MALFORMED


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


def _past(chain: Chain, reg: object, **kw: object) -> list[str]:
    head = chain.reg.w3.eth.block_number
    return [c.to_json() for c in watch_events(reg, ["alice@example.org"], from_block=0,
                                              until_block=head, interval=0.01,
                                              sleep=lambda _s: None, **kw)]


def _logs_tamper(change: Any, times: int | None = None) -> Any:
    calls = []

    def tamper(method: str, params: Any, resp: Any) -> Any:
        if method != "eth_getLogs" or (times is not None and len(calls) >= times):
            return None
        calls.append(1)
        resp = copy.deepcopy(resp)
        change(resp["result"])
        return resp

    return tamper


def test_logs_of_another_contract_are_not_reported(named: Chain) -> None:
    def other(logs: list[dict[str, Any]]) -> None:
        logs[0]["address"] = "0x" + "11" * 20

    lying = (TamperingW3(named.reg.w3, _logs_tamper(other)), named.reg.address)
    with pytest.raises(VerificationError, match="another contract"):
        _past(named, lying)


def _fake(mark: str) -> Any:
    def add(logs: list[dict[str, Any]]) -> None:
        fake = dict(logs[0], logIndex=hex(int(logs[0]["logIndex"], 16) + 77))
        if mark == "removed":
            fake["removed"] = True
        else:  # the log of a block that a reorg replaced
            fake["blockHash"] = "0x" + "ab" * 32
        logs.append(fake)
    return add


@pytest.mark.parametrize("mark", ["removed", "stale-block-hash"])
def test_removed_and_reorged_logs_are_not_reported(named: Chain, mark: str) -> None:
    honest = _past(named, named.reg)
    once = (TamperingW3(named.reg.w3, _logs_tamper(_fake(mark), times=1)), named.reg.address)
    assert _past(named, once) == honest  # the poll is retried, nothing from it reported twice
    always = (TamperingW3(named.reg.w3, _logs_tamper(_fake(mark))), named.reg.address)
    with pytest.raises(ChainError, match="reorganis"):
        _past(named, always)


WATCH_MALFORMED = {k: v for k, v in MALFORMED.items()  # watch asks no proof, no chain id
                   if not k.startswith(("proof-", "chainId", "reply-is-a-string", "header-field",
                                        "header-state"))}


@pytest.mark.parametrize("tamper", WATCH_MALFORMED.values(), ids=WATCH_MALFORMED.keys())
def test_malformed_replies_are_chain_errors(named: Chain, tamper: Any) -> None:
    with pytest.raises(ChainError):
        _past(named, (TamperingW3(named.reg.w3, tamper), named.reg.address))


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




@pytest.mark.anvil
def test_cli_watch_failing_hook_stops_with_exit_1(anvil: Anvil, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A CT monitor's alert hook failing is not ignored: the change is printed, then exit 1."""
    import typer
    from typer.testing import CliRunner

    from cli.index_cmds import watch

    reg = anvil.registry()
    reg.register("example.org")
    reg.assign("alice@example.org", reg.account.address)
    reg.publish("alice@example.org", ed25519_blob(6), key_type=KeyType.SSH)
    head = reg.w3.eth.block_number
    monkeypatch.setenv("KEYANCHOR_RPC_URL", anvil.url)
    monkeypatch.setenv("KEYANCHOR_REGISTRY", reg.address)
    monkeypatch.setenv("KEYANCHOR_CONFIG", str(tmp_path / "config.toml"))
    app = typer.Typer()
    app.command("watch")(watch)
    app.command("other")(lambda: None)  # keep "watch" a subcommand
    runner = CliRunner()
    calls = tmp_path / "calls"
    hook = (f"{sys.executable} -c \"import sys; open({str(calls)!r}, 'a').write('x');"
            " sys.exit(2)\"")
    args = ["watch", "alice@example.org", "--json", "--from-block", "0",
            "--until-block", str(head), "--exec", hook]
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    (line,) = result.stdout.splitlines()  # the change that triggered the hook is printed
    first = json.loads(line)
    assert first["change"] == "registered"
    assert calls.read_text() == "x"  # nothing after the failing hook
    assert "exited 2" in result.stderr and f"--from-block {first['block']}" in result.stderr
    assert "Traceback" not in result.output

    calls.unlink()
    result = runner.invoke(app, [*args, "--keep-going"])
    assert result.exit_code == 0, result.output
    assert [json.loads(x)["change"] for x in result.stdout.splitlines()] == [
        "registered", "published"]
    assert calls.read_text() == "xx" and result.stderr.count("exited 2") == 2


# --------------------------------------------------------------------------- a lying endpoint


def _copy_of_first(logs: list[dict[str, Any]]) -> None:
    """A log repeated under a new log index, in its own (canonical) block: a fabricated change."""
    logs.append(dict(logs[0], logIndex=hex(int(logs[0]["logIndex"], 16) + 77)))


def _drop_revocation(logs: list[dict[str, Any]]) -> None:
    from tests.lying_proxy import _topic

    logs[:] = [lg for lg in logs if lg["topics"][0] != _topic("KeyRevoked")]


@pytest.mark.parametrize("lie", [_copy_of_first, _drop_revocation], ids=["added", "withheld"])
def test_an_endpoint_cannot_add_or_withhold_watched_changes(embedded: Chain, lie: Any) -> None:
    """watch reported whatever eth_getLogs said, its block hashes checked against the same
    endpoint's headers: a hostile endpoint could fabricate a change (a repeated
    'published', run through every --exec hook) or hide one (a revocation). Now each poll's
    logs must account for the contract's event digest, proven at the poll's last block."""
    reg = embedded.reg
    name = f"dave-{lie.__name__.strip('_').replace('_', '-')}@example.org"
    if not reg.owner("example.org"):
        reg.register("example.org")
    reg.assign(name, reg.account.address)
    reg.publish(name, ed25519_blob(11), key_type=KeyType.SSH)
    reg.revoke(name, 0, "key-compromise")
    head = reg.w3.eth.block_number
    honest = [c.kind for c in watch_events(reg, [name], from_block=0,
                                           until_block=head)]
    assert honest == ["registered", "published", "revoked"]
    lying = (TamperingW3(reg.w3, _logs_tamper(lie)), reg.address)
    with pytest.raises(VerificationError, match="do not account for every event"):
        list(watch_events(lying, [name], from_block=0, until_block=head))


def test_watch_polls_fewer_blocks_when_the_endpoint_refuses_the_range(named: Chain) -> None:
    """watch now asks for every registry log of the polled blocks (the digest needs them
    all), which an endpoint may refuse for a long range: the range is halved, as sync's."""
    refusing = (TamperingW3(named.reg.w3, refuse_ranges(3)), named.reg.address)
    assert _past(named, refusing) == _past(named, named.reg)
