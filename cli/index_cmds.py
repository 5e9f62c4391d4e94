"""``keyanchor sync``, ``keyanchor watch``, ``keyanchor index …`` and ``keyanchor ssh …``.

    $ keyanchor sync --confirmations 2
    $ keyanchor watch alice@example.org --json --exec ./alert.sh
    $ keyanchor ssh authorized-keys alice

``ssh`` forwards to the light path (:mod:`cli.ssh_entry`); sshd should call the
``keyanchor-ssh`` console script directly, which skips typer altogether.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli._context import JsonOpt, NetworkOpt, finite_seconds, load_cfg, open_registry, say
from cli._help import App

if TYPE_CHECKING:
    from registry.config import Config

__all__ = ["index_app", "ssh_app", "sync", "watch"]

IndexOpt = Annotated[
    Path | None,
    typer.Option("--index", metavar="FILE",
                 help="Index file (default: [index] path in the config, or KEYANCHOR_INDEX)."),
]

#: ``keyanchor watch --exit-on-change`` exits with this code at the first change.
EXIT_CHANGED = 3


def _index_path(index: Path | None) -> Path:
    return index if index is not None else load_cfg().index_path()


def _refuse_missing_embedded_chain(cfg: Config, network: str | None) -> None:
    """Refuse to sync an embedded chain that does not exist yet.

    Opening it would create an empty chain and publish an empty, fresh-looking
    index: a service user whose config names no network (docs/SSH.md's
    deployment) then served no key to anyone, and sync exited 0.

    Raises: ConfigError.
    """
    from registry.errors import ConfigError

    net = cfg.network(network)
    if net.embedded and net.state is not None and not net.state.exists():
        where = str(cfg.path) if cfg.path.exists() else f"{cfg.path} (no such file)"
        raise ConfigError(
            f"no network is configured in {where} and there is no embedded chain at"
            f" {net.state}: nothing to sync (name the registry's network in the config:"
            " network = \"NAME\" and [networks.NAME], or pass --network NAME)")


def sync(
    network: NetworkOpt = None,
    confirmations: Annotated[int, typer.Option("--confirmations", "-c", metavar="N", min=0,
                                               help="Leave the newest N blocks out (reorg safety).")] = 0,
    index: IndexOpt = None,
    page_blocks: Annotated[int, typer.Option("--page-blocks", metavar="N", min=1,
                                             help="Blocks per eth_getLogs page to start with (it"
                                             " doubles while pages stay small).")] = 16,
    policy: Annotated[str, typer.Option("--policy", metavar="PROFILE",
                                        help="Policy profile for the per-record verdict"
                                        " ('none' skips the check).")] = "default",
    audit: Annotated[bool, typer.Option("--audit", help="Also re-hash every stored record and"
                                        " compare every indexed name with storage proofs; a"
                                        " divergence is rolled back and synced again (run it"
                                        " periodically).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Bring the local index up to the network's trusted head, proving every page.

    The head is the block the network's quorum of endpoints agrees on at its
    trust tag (docs/TRUST.md); every page's logs must fold into the event digest
    the contract's state proves at the page's last block. Endpoints that disagree
    or fail are named on stderr. With a [dns] table in the config (or the strict
    profile), each top-level name's _keyanchor TXT record is checked too: keys
    under a domain whose DNS names another owner are never served.

    Example: keyanchor sync --confirmations 12 --audit
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from cli._context import load_cfg
    from registry.dnscontrol import dns_settings
    from registry.index import sync_index

    path = _index_path(index)
    cfg = load_cfg()
    _refuse_missing_embedded_chain(cfg, network)
    raw_dns = cfg.data.get("dns")
    dns = dns_settings(raw_dns) if raw_dns is not None else None
    with open_registry(network, account=False, cfg=cfg) as reg:
        with Progress(TextColumn("sync"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("blocks, {task.fields[events]} events"),
                      transient=True, disable=as_json or not sys.stderr.isatty(),
                      console=None) as bar:
            task = bar.add_task("sync", total=None, events=0)
            start: list[int] = []

            def progress(hi: int, target: int, events: int) -> None:
                if not start:
                    start.append(hi)
                bar.update(task, completed=hi - start[0] + 1, total=target - start[0] + 1,
                           events=events)

            result = sync_index(path, reg, confirmations=confirmations, page_blocks=page_blocks,
                                policy_profile=None if policy == "none" else policy,
                                progress=progress, audit=audit, dns=dns)
    for line in result.report:  # never hidden, also with --json
        say(f"keyanchor: endpoint {line}")
    if as_json:
        typer.echo(json.dumps({"index": str(path), **result.to_dict()}))
        return
    for line in result.diverged:
        say(f"divergence: {line}")
    if result.rolled_back_to is not None:
        say(f"rolled back to block {result.rolled_back_to}"
            f" ({result.removed_events} events removed)")
    typer.echo(f"synced {path} to block {result.to_block}: {result.events} new events"
               f" in {result.pages} pages ({result.seconds:.1f} s)")
    if result.head is not None:
        number, block_hash, _digest, ts = result.head
        from datetime import UTC, datetime

        when = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        typer.echo(f"proven head: block {number} 0x{block_hash.hex()[:16]}… of {when}")
    if result.audited is not None:
        typer.echo(f"audit: all {result.audited} indexed names agree with the proven state")


def watch(
    names: Annotated[list[str], typer.Argument(metavar="NAME…", show_default=False,
                                               help="Names to follow.")],
    network: NetworkOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    exec_cmd: Annotated[str | None, typer.Option("--exec", metavar="COMMAND", help="Run CMD for each change, the"
                                                 " change as JSON on stdin (wrap in 'sh -c' for"
                                                 " shell syntax). A hook that exits non-zero or"
                                                 " times out stops the watch with exit 1.")] = None,
    keep_going: Annotated[bool, typer.Option("--keep-going", help="With --exec: report a failing"
                                             " hook on stderr and carry on.")] = False,
    exit_on_change: Annotated[bool, typer.Option("--exit-on-change",
                                                 help=f"Exit {EXIT_CHANGED} at the first change.")] = False,
    interval: Annotated[float, typer.Option("--interval", metavar="SECONDS", min=0.05, max=86400,
                                            callback=finite_seconds,
                                            help="Seconds between polls.")] = 2.0,
    from_block: Annotated[int | None, typer.Option("--from-block", metavar="BLOCK", min=0,
                                                   help="Report changes from this block on"
                                                   " (default: the next one).")] = None,
    until_block: Annotated[int | None, typer.Option("--until-block", metavar="BLOCK", min=0,
                                                    help="Stop after this block.")] = None,
    timeout: Annotated[float | None, typer.Option("--timeout", metavar="SECONDS", min=0,
                                                  callback=finite_seconds,
                                                  help="Stop after this many seconds.")] = None,
    confirmations: Annotated[int, typer.Option("--confirmations", "-c", metavar="N", min=0,
                                               help="Report a change once N blocks are on top"
                                                    " of it.")] = 0,
) -> None:
    """Follow new blocks and report every change to NAMES (like a CT monitor).

    Exit 0 when --until-block / --timeout is reached, 3 at the first change with
    --exit-on-change, 1 on error. A failing --exec hook (non-zero exit, or no
    exit within 300 s) is an error: the change is printed, then keyanchor exits 1
    naming the block to resume from (--from-block); --keep-going only reports it.

    Example: keyanchor watch alice@example.org --json --exec 'notify-send keyanchor'
    """
    from registry.index import watch_events
    from registry.names import parse_name

    for n in names:
        parse_name(n)
    argv = shlex.split(exec_cmd) if exec_cmd else None
    with open_registry(network, account=False) as reg:
        for change in watch_events(reg, names, from_block=from_block, until_block=until_block,
                                   timeout=timeout, interval=interval,
                                   confirmations=confirmations):
            typer.echo(change.to_json() if as_json else change.to_text())
            sys.stdout.flush()
            if argv:
                problem = _run_hook(argv, exec_cmd or "", change.to_json())
                if problem is not None:
                    where = f"for the change in block {change.block}"
                    if keep_going:
                        say(f"keyanchor: --exec hook {problem} {where}; going on (--keep-going)")
                    else:
                        say(f"keyanchor: error: --exec hook {problem} {where}; stopping"
                            f" (resume with --from-block {change.block}, or pass --keep-going)")
                        raise typer.Exit(1)
            if exit_on_change:
                raise typer.Exit(EXIT_CHANGED)


HOOK_TIMEOUT = 300.0


def _run_hook(argv: list[str], exec_cmd: str, change_json: str) -> str | None:
    """Run the --exec hook with the change on stdin; what went wrong, or None.

    A hook that cannot start at all (no such command) is a configuration error.
    """
    try:
        done = subprocess.run(argv, input=change_json + "\n", text=True, check=False,
                              timeout=HOOK_TIMEOUT)
    except subprocess.TimeoutExpired:
        return f"did not exit within {HOOK_TIMEOUT:.0f} s"
    except OSError as exc:
        from registry.errors import ConfigError

        raise ConfigError(f"--exec {exec_cmd!r} cannot run: {exc}") from exc
    if done.returncode != 0:
        return f"exited {done.returncode}"
    return None


index_app = App(help="Query the local index (read only, no chain access).\n\n"
                "Example: keyanchor index lookup alice@example.org")


@index_app.command("status")
def index_status(index: IndexOpt = None, as_json: JsonOpt = False) -> None:
    """Synced block, last sync time and counts of the index.

    Example: keyanchor index status --json
    """
    from cli._output import emit_json, print_rows
    from registry.index import IndexReader, iso_times

    with IndexReader.open(_index_path(index)) as ix:
        info = iso_times(ix.status())
    if as_json:
        emit_json(info)
        return
    print_rows([(k.replace("_", " "), v) for k, v in info.items()])


@index_app.command("lookup")
def index_lookup(
    query: Annotated[str, typer.Argument(metavar="NAME|FINGERPRINT", show_default=False,
                                         help="A name (an e-mail is a person name), or a key"
                                              " fingerprint.")],
    index: IndexOpt = None,
    as_json: JsonOpt = False,
    history: Annotated[bool, typer.Option("--history", help="Every event about the name.")] = False,
) -> None:
    """Records of a name (an e-mail is a person name), or names holding a fingerprint.

    An e-mail address finds the records of the registry name equal to it, and
    nothing else: a certificate published under another name that merely claims
    the address in a user ID is not the address's key (as HKP and WKD answer).

    Example: keyanchor index lookup alice@example.org
    """
    import re

    from cli._output import emit_json, print_rows
    from registry.index import IndexReader

    out: list[dict[str, Any]]
    with IndexReader.open(_index_path(index)) as ix:
        if history:
            out = ix.history(query)
        elif query.startswith("SHA256:") or re.fullmatch(r"(0x)?[0-9A-Fa-f:]{16,}", query.strip()):
            out = [{"name": n, "index": i} for n, i in ix.names_by_fingerprint(query)]
        else:
            out = [r.to_dict() for r in ix.records(query)]
            if not out and not ix.exists(query):
                say(f"keyanchor: {query} is not a registered name")
    if as_json:
        emit_json(out)
        return
    for n, item in enumerate(out):
        if n:
            typer.echo("")
        if history:
            typer.echo(f"{item['block_number']:>8}  {item['timestamp'] or '-':<20}  {item['kind']}"
                       f"  {' '.join(f'{k}={v}' for k, v in item['data'].items())}".rstrip())
            continue
        title = f"{item['name']} [{item['index']}]"
        print_rows([(k.replace("_", " "), v) for k, v in item.items()
                    if k not in ("name", "index")], title=title)


ssh_app = App(help="sshd / ssh integration (served from the index).\n\n"
              "Example: keyanchor ssh authorized-keys alice")


@ssh_app.command("authorized-keys")
def ssh_authorized_keys(user: Annotated[str, typer.Argument(
        metavar="USER", show_default=False, help="Local user (sshd's %u).")]) -> None:
    """authorized_keys lines for USER (for sshd's AuthorizedKeysCommand; fails closed).

    Example: keyanchor ssh authorized-keys alice
    """
    from cli.ssh_entry import main

    raise typer.Exit(main(["authorized-keys", user]))


@ssh_app.command("known-hosts")
def ssh_known_hosts(host: Annotated[str, typer.Argument(
        metavar="HOST", show_default=False, help="Host name (ssh's %H).")]) -> None:
    """known_hosts lines for HOST (for ssh's KnownHostsCommand).

    Example: keyanchor ssh known-hosts web1.example.org
    """
    from cli.ssh_entry import main

    raise typer.Exit(main(["known-hosts", host]))
